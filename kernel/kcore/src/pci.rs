//! PCI host-bridge facts and the arithmetic on them, free of hardware access.
//!
//! The arch layer reads firmware (ACPI MCFG on x86_64, the device tree's
//! `pci-host-ecam-generic` node on aarch64) into a [`HostBridge`]; the kernel's `pci`
//! module enumerates through it. What lives here is the part that can be wrong in
//! interesting ways and is therefore unit-tested on the host:
//!
//! - [`decode_ranges`]: a host bridge's `ranges` property into MMIO [`Window`]s;
//! - [`decode_interrupt_map`]: its `interrupt-map` / `interrupt-map-mask` into an
//!   [`IntxMap`], the parent's interrupt specifier decoded by a caller-given function (the
//!   GIC's three cells are the aarch64 layer's business, not this module's);
//! - [`IntxMap::route`], with the PCI-to-PCI bridge swizzle for functions behind bridges;
//! - [`BarAllocator`]: naturally aligned BAR addresses out of the windows, for machines
//!   where no firmware assigned them.
//!
//! Nothing here allocates: every table is a fixed array, and a firmware description that
//! does not fit is cut short (the caller logs it), never a panic.

/// Most MMIO windows a host bridge description keeps.
pub const MAX_WINDOWS: usize = 4;
/// Most `interrupt-map` entries kept (QEMU `virt` has 4 slots x 4 pins = 16).
pub const MAX_INTX: usize = 64;

/// One window of CPU physical addresses that the bridge forwards to PCI memory space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Where the window starts in CPU physical memory.
    pub cpu_base: u64,
    /// The PCI bus address the CPU base corresponds to (what a BAR is programmed with).
    pub pci_base: u64,
    pub size: u64,
    /// Prefetchable memory (`ranges` flag bit 30).
    pub prefetchable: bool,
    /// A 64-bit memory window (space code 3): only 64-bit BARs may be placed in it when it
    /// lies above 4 GiB on the PCI side.
    pub bits64: bool,
}

impl Window {
    /// The CPU physical address of PCI bus address `pci`, if the window covers it.
    pub fn to_cpu(&self, pci: u64) -> Option<u64> {
        let off = pci.checked_sub(self.pci_base)?;
        (off < self.size).then(|| self.cpu_base + off)
    }

    fn pci_end(&self) -> u64 {
        self.pci_base.saturating_add(self.size)
    }
}

/// One decoded `interrupt-map` entry: a child (unit address high cell, pin) matching the
/// mask goes to `line` on the parent controller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntxEntry {
    /// The child unit address's high cell (`bus << 16 | dev << 11 | func << 8`), masked.
    pub child_hi: u32,
    /// The child interrupt pin (1 = INTA .. 4 = INTD), masked.
    pub pin: u32,
    /// The parent's interrupt line (GIC INTID, I/O APIC GSI).
    pub line: u32,
    /// Level-sensitive (PCI INTx always is; the device tree may say otherwise).
    pub level: bool,
}

/// A host bridge's legacy interrupt routing: `interrupt-map` with its mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntxMap {
    pub mask_hi: u32,
    pub mask_pin: u32,
    entries: [IntxEntry; MAX_INTX],
    count: usize,
}

impl Default for IntxMap {
    fn default() -> Self {
        Self::new()
    }
}

impl IntxMap {
    pub const fn new() -> Self {
        Self {
            mask_hi: 0,
            mask_pin: 0,
            entries: [IntxEntry {
                child_hi: 0,
                pin: 0,
                line: 0,
                level: false,
            }; MAX_INTX],
            count: 0,
        }
    }

    pub fn entries(&self) -> &[IntxEntry] {
        &self.entries[..self.count]
    }

    /// Adds an entry; false when the table is full.
    pub fn push(&mut self, e: IntxEntry) -> bool {
        if self.count == MAX_INTX {
            return false;
        }
        self.entries[self.count] = e;
        self.count += 1;
        true
    }

    /// The line of a root-bus function's `pin` (1..=4) at `bus:dev.func`, or `None` if
    /// the map has no matching entry.
    pub fn lookup(&self, bus: u8, dev: u8, func: u8, pin: u8) -> Option<(u32, bool)> {
        let hi = unit_hi(bus, dev, func) & self.mask_hi;
        let pin = u32::from(pin) & self.mask_pin;
        self.entries()
            .iter()
            .find(|e| e.child_hi == hi && e.pin == pin)
            .map(|e| (e.line, e.level))
    }

    /// Where `pin` of a function arrives. `path` lists the device numbers from the root
    /// bus down: `path[0]` is the slot on the root bus (a bridge, or the function itself),
    /// the last one the function's own device number; `root_bus` is the host bridge's
    /// first bus. Each PCI-to-PCI bridge on the way rotates the pin by the device number
    /// below it (the standard swizzle, PCI-to-PCI Bridge spec 9.1).
    pub fn route(&self, root_bus: u8, path: &[u8], func: u8, pin: u8) -> Option<(u32, bool)> {
        if !(1..=4).contains(&pin) || path.is_empty() {
            return None;
        }
        let mut pin = pin;
        // Swizzle through every bridge between the root slot and the function.
        for &dev in path[1..].iter().rev() {
            pin = swizzle(dev, pin);
        }
        // On the root bus the function number of the bridge is what the map sees; for a
        // bridged device the bridge itself is function 0 of its slot in practice, but the
        // mask on every known host bridge ignores the function anyway.
        let func = if path.len() == 1 { func } else { 0 };
        self.lookup(root_bus, path[0], func, pin)
    }
}

/// A PCI unit address's high cell for `bus:dev.func` (the device tree's `phys.hi`).
pub const fn unit_hi(bus: u8, dev: u8, func: u8) -> u32 {
    (bus as u32) << 16 | ((dev as u32) & 0x1f) << 11 | ((func as u32) & 7) << 8
}

/// The pin (1..=4) a bridge at the upstream side sees for `pin` of device `dev` below it.
pub const fn swizzle(dev: u8, pin: u8) -> u8 {
    ((pin - 1 + (dev % 4)) % 4) + 1
}

/// What the kernel needs to know about a PCI host bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostBridge {
    /// Physical address of the ECAM window's bus 0 (whatever `bus_start` is).
    pub ecam_phys: u64,
    /// PCI segment group (ACPI); 0 on device-tree machines.
    pub segment: u16,
    pub bus_start: u8,
    pub bus_end: u8,
    /// Memory windows for BAR assignment.
    pub windows: [Option<Window>; MAX_WINDOWS],
    /// True when no firmware ran that assigned BARs (aarch64 `-kernel` boots): the kernel
    /// must place them in [`Self::windows`].
    pub assign_bars: bool,
    /// The legacy interrupt routing, when firmware describes it in a form the kernel reads
    /// (the device tree's `interrupt-map`; ACPI `_PRT` is AML and is not read).
    pub intx: Option<IntxMap>,
}

impl HostBridge {
    /// A bridge with ECAM at `ecam_phys` for `bus_start..=bus_end`, nothing else known.
    pub const fn new(ecam_phys: u64, bus_start: u8, bus_end: u8) -> Self {
        Self {
            ecam_phys,
            segment: 0,
            bus_start,
            bus_end,
            windows: [None; MAX_WINDOWS],
            assign_bars: false,
            intx: None,
        }
    }

    /// The window holding PCI bus address range `pci..pci+len`, if any.
    pub fn window_of(&self, pci: u64, len: u64) -> Option<&Window> {
        self.windows.iter().flatten().find(|w| {
            pci >= w.pci_base && pci.checked_add(len).is_some_and(|end| end <= w.pci_end())
        })
    }

    /// ECAM bytes from bus 0 to the end of `bus_end` (each bus has 1 MiB).
    pub const fn ecam_span(&self) -> u64 {
        (self.bus_end as u64 + 1) << 20
    }
}

/// Why a device-tree property could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The property's length is not a whole number of entries.
    Truncated,
    /// A cell count is out of the range this decoder handles.
    BadCells,
    /// An entry names an interrupt parent the caller could not resolve or decode.
    UnknownParent,
}

/// Decodes a PCI host bridge's `ranges` (big-endian cells already split into `u32`s):
/// each entry is the 3-cell PCI address (`phys.hi` space code in bits 24-25, prefetchable
/// bit 30, then the 64-bit address), `parent_addr_cells` cells of CPU address and
/// `size_cells` cells of size. I/O space entries are skipped (the kernel does not assign
/// port I/O). At most [`MAX_WINDOWS`] memory windows are kept; more are dropped (count
/// returned with them).
pub fn decode_ranges(
    cells: &[u32],
    parent_addr_cells: usize,
    size_cells: usize,
) -> Result<([Option<Window>; MAX_WINDOWS], usize), DecodeError> {
    if !(1..=2).contains(&parent_addr_cells) || !(1..=2).contains(&size_cells) {
        return Err(DecodeError::BadCells);
    }
    let entry = 3 + parent_addr_cells + size_cells;
    if !cells.len().is_multiple_of(entry) {
        return Err(DecodeError::Truncated);
    }
    let mut out = [None; MAX_WINDOWS];
    let (mut n, mut dropped) = (0, 0);
    for e in cells.chunks_exact(entry) {
        let space = (e[0] >> 24) & 3;
        if space != 2 && space != 3 {
            continue; // configuration or I/O space
        }
        let w = Window {
            pci_base: join(&e[1..3]),
            cpu_base: join(&e[3..3 + parent_addr_cells]),
            size: join(&e[3 + parent_addr_cells..]),
            prefetchable: e[0] & (1 << 30) != 0,
            bits64: space == 3,
        };
        if w.size == 0 {
            continue;
        }
        if n == MAX_WINDOWS {
            dropped += 1;
        } else {
            out[n] = Some(w);
            n += 1;
        }
    }
    Ok((out, dropped))
}

/// A number from 1 or 2 big-endian cells.
fn join(cells: &[u32]) -> u64 {
    cells.iter().fold(0u64, |acc, &c| acc << 32 | u64::from(c))
}

/// How an interrupt parent's specifier is laid out, for [`decode_interrupt_map`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentCells {
    /// `#address-cells` of the parent (0 when it has none).
    pub address: usize,
    /// `#interrupt-cells` of the parent.
    pub interrupt: usize,
}

/// Decodes `interrupt-map` (cells) with `interrupt-map-mask` (`mask`: 3 address cells and
/// 1 interrupt cell) for a PCI host bridge, whose children have 3 address cells and 1
/// interrupt cell. `parent(phandle)` gives a parent's cell counts (`None`: unknown parent);
/// `decode(specifier)` turns the parent's interrupt specifier into `(line, level)`
/// (`None`: not an interrupt the kernel can route, and the entry is skipped). Entries past
/// [`MAX_INTX`] are dropped (counted in the result).
pub fn decode_interrupt_map(
    cells: &[u32],
    mask: &[u32],
    parent: impl Fn(u32) -> Option<ParentCells>,
    decode: impl Fn(&[u32]) -> Option<(u32, bool)>,
) -> Result<(IntxMap, usize), DecodeError> {
    let mut map = IntxMap::new();
    (map.mask_hi, map.mask_pin) = match mask {
        [hi, _, _, pin] => (*hi, *pin),
        [] => (u32::MAX, u32::MAX),
        _ => return Err(DecodeError::BadCells),
    };
    let mut dropped = 0;
    let mut rest = cells;
    while !rest.is_empty() {
        // Child unit address (3), child pin (1), parent phandle (1).
        if rest.len() < 5 {
            return Err(DecodeError::Truncated);
        }
        let (child_hi, pin, phandle) = (rest[0], rest[3], rest[4]);
        let p = parent(phandle).ok_or(DecodeError::UnknownParent)?;
        if p.address > 3 || !(1..=4).contains(&p.interrupt) {
            return Err(DecodeError::BadCells);
        }
        let len = 5 + p.address + p.interrupt;
        if rest.len() < len {
            return Err(DecodeError::Truncated);
        }
        let spec = &rest[5 + p.address..len];
        if let Some((line, level)) = decode(spec) {
            let e = IntxEntry {
                child_hi: child_hi & map.mask_hi,
                pin: pin & map.mask_pin,
                line,
                level,
            };
            if !map.push(e) {
                dropped += 1;
            }
        }
        rest = &rest[len..];
    }
    Ok((map, dropped))
}

/// Places BARs in a host bridge's windows: each request gets the lowest naturally aligned
/// address after the previous one in the first window that suits it. Non-prefetchable
/// BARs avoid prefetchable windows; a 32-bit BAR only goes below 4 GiB (PCI side).
#[derive(Clone, Copy, Debug)]
pub struct BarAllocator {
    windows: [Option<Window>; MAX_WINDOWS],
    next: [u64; MAX_WINDOWS],
}

impl BarAllocator {
    pub fn new(windows: &[Option<Window>; MAX_WINDOWS]) -> Self {
        let mut next = [0; MAX_WINDOWS];
        for (n, w) in next.iter_mut().zip(windows) {
            *n = w.map_or(0, |w| w.pci_base);
        }
        Self {
            windows: *windows,
            next,
        }
    }

    /// A PCI bus address for a memory BAR of `size` bytes (a power of two, at least 16),
    /// or `None` when no window has room. Prefers a 64-bit window for a 64-bit BAR, so the
    /// scarce space below 4 GiB is kept for BARs that need it.
    pub fn alloc(&mut self, size: u64, bits64: bool, prefetchable: bool) -> Option<u64> {
        if !size.is_power_of_two() {
            return None;
        }
        let size = size.max(16);
        let order: [bool; 2] = if bits64 {
            [true, false]
        } else {
            [false, false]
        };
        for want64 in order {
            for i in 0..MAX_WINDOWS {
                let Some(w) = self.windows[i] else { continue };
                if w.bits64 != want64 || (w.prefetchable && !prefetchable) {
                    continue;
                }
                let at = self.next[i].checked_next_multiple_of(size)?;
                let end = at.checked_add(size)?;
                if end > w.pci_end() || (!bits64 && end > 1 << 32) {
                    continue;
                }
                self.next[i] = end;
                return Some(at);
            }
        }
        None
    }
}

impl BarAllocator {
    /// The first non-prefetchable window below 4 GiB (PCI side), where BARs of functions
    /// behind a bridge go (a bridge's plain memory window is 32-bit).
    fn low_window(&self) -> Option<usize> {
        (0..MAX_WINDOWS)
            .find(|&i| self.windows[i].is_some_and(|w| !w.prefetchable && w.pci_base < 1 << 32))
    }

    /// Aligns the low window's cursor up to `align` (a power of two) and returns it: the
    /// start of a bridge's memory window. `None` without a low window or room.
    pub fn align_low(&mut self, align: u64) -> Option<u64> {
        let i = self.low_window()?;
        let w = self.windows[i]?;
        let at = self.next[i].checked_next_multiple_of(align)?;
        if at > w.pci_end() {
            return None;
        }
        self.next[i] = at;
        Some(at)
    }

    /// A BAR of `size` bytes in the low window only (for functions behind a bridge).
    pub fn alloc_low(&mut self, size: u64) -> Option<u64> {
        let i = self.low_window()?;
        let w = self.windows[i]?;
        if !size.is_power_of_two() {
            return None;
        }
        let at = self.next[i].checked_next_multiple_of(size.max(16))?;
        let end = at.checked_add(size.max(16))?;
        if end > w.pci_end() || end > 1 << 32 {
            return None;
        }
        self.next[i] = end;
        Some(at)
    }
}

/// The MSI-X capability's fields, from its message control word and the two offset
/// registers (PCI Local Bus 3.0, 6.8.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsixCap {
    /// Table entries (N - 1 is encoded).
    pub table_size: u16,
    /// BAR index and byte offset of the vector table.
    pub table_bar: u8,
    pub table_offset: u32,
    /// BAR index and byte offset of the pending-bit array.
    pub pba_bar: u8,
    pub pba_offset: u32,
}

impl MsixCap {
    /// Bytes of one table entry: address low, address high, data, vector control.
    pub const ENTRY_BYTES: u32 = 16;
    /// Message control: MSI-X enable.
    pub const ENABLE: u16 = 1 << 15;
    /// Message control: function mask (every vector masked).
    pub const FUNCTION_MASK: u16 = 1 << 14;
    /// Vector control: this entry masked.
    pub const ENTRY_MASKED: u32 = 1;

    /// Decodes the capability's dword 0 (header with message control in the upper half)
    /// and dwords 1 and 2; `None` for a BAR indicator past BAR 5.
    pub fn decode(dword0: u32, table: u32, pba: u32) -> Option<Self> {
        let control = (dword0 >> 16) as u16;
        let cap = Self {
            table_size: (control & 0x7ff) + 1,
            table_bar: (table & 7) as u8,
            table_offset: table & !7,
            pba_bar: (pba & 7) as u8,
            pba_offset: pba & !7,
        };
        (cap.table_bar < 6 && cap.pba_bar < 6).then_some(cap)
    }

    /// Bytes of the vector table.
    pub fn table_bytes(&self) -> u32 {
        u32::from(self.table_size) * Self::ENTRY_BYTES
    }
}

/// How an interrupt line signals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trigger {
    /// Level-sensitive (else edge).
    pub level: bool,
    /// Asserted low (else high).
    pub active_low: bool,
}

/// An MSI message: what the device writes where to raise an interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsiMessage {
    pub address: u64,
    pub data: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QEMU 7.2 `virt` (gic-version=3, highmem): `ranges` of pcie@10000000, with
    /// `#address-cells = 2`, `#size-cells = 2` at the root.
    const VIRT_RANGES: [u32; 21] = [
        0x0100_0000,
        0,
        0,
        0,
        0x3eff_0000,
        0,
        0x0001_0000, // I/O
        0x0200_0000,
        0,
        0x1000_0000,
        0,
        0x1000_0000,
        0,
        0x2eff_0000, // 32-bit MMIO
        0x0300_0000,
        0x80,
        0,
        0x80,
        0,
        0x80,
        0, // 64-bit MMIO, 512 GiB at 512 GiB
    ];

    #[test]
    fn ranges_of_qemu_virt() {
        let (w, dropped) = decode_ranges(&VIRT_RANGES, 2, 2).unwrap();
        assert_eq!(dropped, 0);
        assert_eq!(
            w[0],
            Some(Window {
                cpu_base: 0x1000_0000,
                pci_base: 0x1000_0000,
                size: 0x2eff_0000,
                prefetchable: false,
                bits64: false,
            })
        );
        let hi = w[1].unwrap();
        assert_eq!(
            (hi.cpu_base, hi.pci_base, hi.size),
            (0x80 << 32, 0x80 << 32, 0x80 << 32)
        );
        assert!(hi.bits64);
        assert_eq!(w[2], None);
        assert_eq!(hi.to_cpu(0x80_0000_1000), Some(0x80_0000_1000));
        assert_eq!(w[0].unwrap().to_cpu(0x0fff_ffff), None);
    }

    #[test]
    fn ranges_rejects_garbage() {
        assert_eq!(
            decode_ranges(&VIRT_RANGES[..20], 2, 2).unwrap_err(),
            DecodeError::Truncated
        );
        assert_eq!(
            decode_ranges(&VIRT_RANGES, 3, 2).unwrap_err(),
            DecodeError::BadCells
        );
        assert!(decode_ranges(&[], 2, 2)
            .unwrap()
            .0
            .iter()
            .all(Option::is_none));
    }

    /// QEMU `virt`: `interrupt-map-mask = <0x1800 0 0 7>`, entries for slots 0-3 x pins
    /// 1-4, GIC parent (phandle 0x8002, #address-cells 2, #interrupt-cells 3), SPI
    /// `3 + (slot + pin - 1) % 4`, level high (flags 4).
    fn virt_map() -> std::vec::Vec<u32> {
        let mut v = std::vec::Vec::new();
        for slot in 0..4u32 {
            for pin in 1..=4u32 {
                v.extend_from_slice(&[slot << 11, 0, 0, pin, 0x8002, 0, 0]);
                v.extend_from_slice(&[0, 3 + (slot + pin - 1) % 4, 4]);
            }
        }
        v
    }

    fn gic_parent(ph: u32) -> Option<ParentCells> {
        (ph == 0x8002).then_some(ParentCells {
            address: 2,
            interrupt: 3,
        })
    }

    fn gic_spec(s: &[u32]) -> Option<(u32, bool)> {
        (s[0] == 0).then(|| (s[1] + 32, s[2] & 3 == 0))
    }

    #[test]
    fn interrupt_map_of_qemu_virt() {
        let (map, dropped) =
            decode_interrupt_map(&virt_map(), &[0x1800, 0, 0, 7], gic_parent, gic_spec).unwrap();
        assert_eq!((map.entries().len(), dropped), (16, 0));
        // Slot 0 INTA -> SPI 3 (INTID 35); slot 1 INTA -> SPI 4; slot 2 INTA -> 37.
        assert_eq!(map.lookup(0, 0, 0, 1), Some((35, true)));
        assert_eq!(map.lookup(0, 1, 0, 1), Some((36, true)));
        assert_eq!(map.lookup(0, 2, 0, 1), Some((37, true)));
        assert_eq!(map.lookup(0, 1, 0, 4), Some((35, true)));
        // Slots repeat every 4 (mask 0x1800 keeps two device bits); function ignored.
        assert_eq!(map.lookup(0, 5, 3, 2), Some((37, true)));
        // Behind a bridge in slot 1: device 2's INTA swizzles to INTC at the bridge.
        assert_eq!(map.route(0, &[1, 2], 0, 1), map.lookup(0, 1, 0, 3));
        assert_eq!(map.route(0, &[2], 0, 0), None);
        assert_eq!(map.route(0, &[], 0, 1), None);
    }

    #[test]
    fn interrupt_map_errors() {
        let m = virt_map();
        let mask = [0x1800, 0, 0, 7];
        assert_eq!(
            decode_interrupt_map(&m[..m.len() - 1], &mask, gic_parent, gic_spec).unwrap_err(),
            DecodeError::Truncated
        );
        assert_eq!(
            decode_interrupt_map(&m, &mask, |_| None, gic_spec).unwrap_err(),
            DecodeError::UnknownParent
        );
        assert_eq!(
            decode_interrupt_map(&m, &[1, 2], gic_parent, gic_spec).unwrap_err(),
            DecodeError::BadCells
        );
        // A specifier the caller cannot route is skipped, not an error.
        let (map, _) = decode_interrupt_map(&m, &mask, gic_parent, |_| None).unwrap();
        assert!(map.entries().is_empty());
    }

    #[test]
    fn swizzle_rotates_by_device() {
        assert_eq!(swizzle(0, 1), 1);
        assert_eq!(swizzle(1, 1), 2);
        assert_eq!(swizzle(3, 2), 1);
        assert_eq!(swizzle(4, 4), 4);
        assert_eq!(unit_hi(1, 2, 3), 0x0001_1300);
    }

    #[test]
    fn bars_are_aligned_disjoint_and_in_windows() {
        let (w, _) = decode_ranges(&VIRT_RANGES, 2, 2).unwrap();
        let mut a = BarAllocator::new(&w);
        let x = a.alloc(0x1000, false, false).unwrap();
        let y = a.alloc(0x4000, false, false).unwrap();
        let z = a.alloc(0x4000, true, true).unwrap();
        assert_eq!(x, 0x1000_0000);
        assert_eq!(y, 0x1000_4000);
        assert!(y >= x + 0x1000);
        // A 64-bit BAR goes to the 64-bit window.
        assert_eq!(z, 0x80 << 32);
        assert_eq!(a.alloc(3, false, false), None);
        // Exhaustion is an error, not a wrap.
        assert_eq!(a.alloc(1 << 31, false, false), None);
        let mut small = BarAllocator::new(&[
            Some(Window {
                cpu_base: 0,
                pci_base: 0xffff_0000,
                size: 0x1_0000,
                prefetchable: false,
                bits64: false,
            }),
            None,
            None,
            None,
        ]);
        assert_eq!(small.alloc(0x8000, true, false), Some(0xffff_0000));
        assert_eq!(small.alloc(0x8000, false, false), Some(0xffff_8000));
        assert_eq!(small.alloc(0x10, false, false), None);
    }

    #[test]
    fn bridge_windows_come_from_the_low_window() {
        let (w, _) = decode_ranges(&VIRT_RANGES, 2, 2).unwrap();
        let mut a = BarAllocator::new(&w);
        a.alloc(0x1000, false, false).unwrap();
        let start = a.align_low(1 << 20).unwrap();
        assert_eq!(start, 0x1010_0000);
        assert_eq!(a.alloc_low(0x4000), Some(0x1010_0000));
        assert_eq!(a.alloc_low(0x1000), Some(0x1010_4000));
        assert_eq!(a.align_low(1 << 20), Some(0x1020_0000));
        assert_eq!(a.alloc_low(3), None);
        assert_eq!(BarAllocator::new(&[None; MAX_WINDOWS]).align_low(16), None);
    }

    #[test]
    fn prefetchable_windows_take_only_prefetchable_bars() {
        let win = |pf| Window {
            cpu_base: 0x1000,
            pci_base: 0x1000,
            size: 0x1000,
            prefetchable: pf,
            bits64: false,
        };
        let mut a = BarAllocator::new(&[Some(win(true)), None, None, None]);
        assert_eq!(a.alloc(0x100, false, false), None);
        assert_eq!(a.alloc(0x100, false, true), Some(0x1000));
    }

    #[test]
    fn msix_capability_fields() {
        // virtio-net-pci on QEMU: 3 vectors, table in BAR 1 at 0, PBA in BAR 1 at 0x800.
        let cap = MsixCap::decode(0x0002_8411, 0x0000_0001, 0x0000_0801).unwrap();
        assert_eq!(cap.table_size, 3);
        assert_eq!((cap.table_bar, cap.table_offset), (1, 0));
        assert_eq!((cap.pba_bar, cap.pba_offset), (1, 0x800));
        assert_eq!(cap.table_bytes(), 48);
        assert_eq!(MsixCap::decode(0, 6, 0), None);
    }

    #[test]
    fn host_bridge_windows() {
        let (w, _) = decode_ranges(&VIRT_RANGES, 2, 2).unwrap();
        let mut h = HostBridge::new(0x40_1000_0000, 0, 255);
        h.windows = w;
        assert_eq!(h.ecam_span(), 256 << 20);
        assert!(h.window_of(0x1000_0000, 0x1000).is_some());
        assert!(h.window_of(0x0fff_f000, 0x2000).is_none());
        assert!(h.window_of(u64::MAX, 2).is_none());
    }
}
