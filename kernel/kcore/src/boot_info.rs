//! The arch-neutral hand-off record built at the arch boundary.
//!
//! x86_64 fills it from Limine responses, aarch64 from the device tree. Generic kernel code
//! sees only this: it must never learn which loader or firmware ran. The record owns no heap
//! memory (it is built before there is a heap), so the memory map is a fixed-size array.

use core::fmt;

/// Most memory map entries kept. Firmware maps on QEMU have a few dozen at most; extra
/// entries are counted in [`MemoryMap::dropped`] rather than silently lost.
pub const MAX_MEMORY_REGIONS: usize = 128;

/// What a range of physical memory holds, in loader-neutral terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    /// Free RAM the kernel may allocate.
    Usable,
    /// RAM holding loader data (page tables, responses, the boot stack) that the kernel may
    /// reclaim once it no longer needs the hand-off.
    BootloaderReclaimable,
    /// The kernel image and the initramfs.
    KernelAndModules,
    /// ACPI tables the kernel may reclaim after parsing them.
    AcpiReclaimable,
    /// ACPI non-volatile storage: never touch.
    AcpiNvs,
    /// Memory the firmware reported as faulty.
    BadMemory,
    /// The framebuffer.
    Framebuffer,
    /// Anything else: never touch.
    Reserved,
}

impl MemoryKind {
    /// A short lower-case name for logs.
    pub fn name(self) -> &'static str {
        match self {
            MemoryKind::Usable => "usable",
            MemoryKind::BootloaderReclaimable => "loader-reclaimable",
            MemoryKind::KernelAndModules => "kernel+modules",
            MemoryKind::AcpiReclaimable => "acpi-reclaimable",
            MemoryKind::AcpiNvs => "acpi-nvs",
            MemoryKind::BadMemory => "bad",
            MemoryKind::Framebuffer => "framebuffer",
            MemoryKind::Reserved => "reserved",
        }
    }
}

/// One physically contiguous range of the memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    /// Physical start address.
    pub base: u64,
    /// Length in bytes.
    pub len: u64,
    pub kind: MemoryKind,
    /// Memory tier: 0 = near (DDR), 1 = far. Filled from firmware topology where known.
    pub tier: u8,
}

impl MemoryRegion {
    /// One past the last byte, saturating so a bogus firmware entry cannot wrap.
    pub fn end(&self) -> u64 {
        self.base.saturating_add(self.len)
    }
}

/// The physical memory map, sorted by base address.
#[derive(Clone, Debug)]
pub struct MemoryMap {
    regions: [MemoryRegion; MAX_MEMORY_REGIONS],
    len: usize,
    /// Entries that did not fit.
    pub dropped: usize,
}

impl Default for MemoryMap {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryMap {
    pub const fn new() -> Self {
        const EMPTY: MemoryRegion = MemoryRegion {
            base: 0,
            len: 0,
            kind: MemoryKind::Reserved,
            tier: 0,
        };
        Self {
            regions: [EMPTY; MAX_MEMORY_REGIONS],
            len: 0,
            dropped: 0,
        }
    }

    /// Adds a region, keeping the map sorted by base. Zero-length regions are ignored;
    /// regions beyond capacity are counted in `dropped`.
    pub fn push(&mut self, region: MemoryRegion) {
        if region.len == 0 {
            return;
        }
        if self.len == MAX_MEMORY_REGIONS {
            self.dropped += 1;
            return;
        }
        let at = self.regions[..self.len].partition_point(|r| r.base <= region.base);
        self.regions.copy_within(at..self.len, at + 1);
        self.regions[at] = region;
        self.len += 1;
    }

    /// Removes `[base, base+len)` from every usable region (splitting where needed), for
    /// ranges that firmware lists as RAM but the kernel must not hand out (the DTB, the
    /// kernel image on aarch64, the initrd).
    pub fn carve_out(&mut self, base: u64, len: u64, kind: MemoryKind) {
        let end = base.saturating_add(len);
        let mut tier = 0;
        let mut i = 0;
        while i < self.len {
            let r = self.regions[i];
            if r.kind != MemoryKind::Usable || r.end() <= base || r.base >= end {
                i += 1;
                continue;
            }
            tier = r.tier;
            self.remove(i);
            if r.base < base {
                self.push(MemoryRegion {
                    len: base - r.base,
                    ..r
                });
            }
            if r.end() > end {
                self.push(MemoryRegion {
                    base: end,
                    len: r.end() - end,
                    ..r
                });
            }
            // Restart: pushes may have reordered entries before `i`.
            i = 0;
        }
        self.push(MemoryRegion {
            base,
            len,
            kind,
            tier,
        });
    }

    /// Puts every byte of `[base, end)` that the map lists into `tier`, splitting regions
    /// that straddle either end. Regions that would not fit are counted in `dropped` and
    /// keep their old tier for the part that did not fit.
    pub fn set_tier(&mut self, base: u64, end: u64, tier: u8) {
        let mut i = 0;
        while i < self.len {
            let r = self.regions[i];
            if r.tier == tier || r.end() <= base || r.base >= end {
                i += 1;
                continue;
            }
            let (lo, hi) = (r.base.max(base), r.end().min(end));
            self.regions[i] = MemoryRegion {
                base: lo,
                len: hi - lo,
                tier,
                ..r
            };
            if r.base < lo {
                self.push(MemoryRegion {
                    len: lo - r.base,
                    ..r
                });
            }
            if r.end() > hi {
                self.push(MemoryRegion {
                    base: hi,
                    len: r.end() - hi,
                    ..r
                });
            }
            // Pushes keep the map sorted and may move entries: start over (regions
            // already in `tier` are skipped, so this ends).
            i = 0;
        }
    }

    fn remove(&mut self, i: usize) {
        self.regions.copy_within(i + 1..self.len, i);
        self.len -= 1;
    }

    pub fn regions(&self) -> &[MemoryRegion] {
        &self.regions[..self.len]
    }

    /// Total bytes of a given kind.
    pub fn total(&self, kind: MemoryKind) -> u64 {
        self.regions()
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.len)
            .sum()
    }
}

/// Where the firmware's hardware description lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirmwareTables {
    /// Physical address of the ACPI RSDP.
    Acpi {
        rsdp_phys: u64,
    },
    /// Physical address of the flattened device tree.
    DeviceTree {
        dtb_phys: u64,
    },
    None,
}

/// A linear framebuffer, if the loader set one up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framebuffer {
    pub phys: u64,
    pub width: u32,
    pub height: u32,
    /// Bytes per scan line.
    pub pitch: u32,
    pub bpp: u16,
}

/// Longest kernel command line kept, in bytes.
pub const MAX_CMDLINE: usize = 256;

/// Everything generic kernel code learns from the boot path.
#[derive(Clone, Debug)]
pub struct BootInfo {
    /// Who loaded us, e.g. "Limine 8.7.0", "wayboot 0.1.0", "qemu -kernel".
    pub loader: LoaderName,
    pub memory_map: MemoryMap,
    /// Virtual address at which all physical memory is mapped.
    pub hhdm_offset: u64,
    pub kernel_phys_base: u64,
    pub kernel_virt_base: u64,
    /// The initramfs bytes, reached through the direct map.
    pub initramfs: &'static [u8],
    pub firmware: FirmwareTables,
    pub framebuffer: Option<Framebuffer>,
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
    /// CPUs the firmware describes (enabled or startable), at least 1.
    pub cpu_count: usize,
    /// The memory tiers the firmware described (SRAT/HMAT, device-tree NUMA nodes); the
    /// memory map's `tier` fields agree with it.
    pub topology: crate::memtopo::Topology,
}

/// A loader name and version, kept inline because there is no heap at hand-off.
#[derive(Clone, Copy)]
pub struct LoaderName {
    buf: [u8; 48],
    len: usize,
}

impl LoaderName {
    /// Joins `name` and `version` with a space, truncated to fit.
    pub fn new(name: &str, version: &str) -> Self {
        let mut s = Self {
            buf: [0; 48],
            len: 0,
        };
        s.append(name.as_bytes());
        if !version.is_empty() {
            s.append(b" ");
            s.append(version.as_bytes());
        }
        s
    }

    fn append(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    pub fn as_str(&self) -> &str {
        str_prefix(&self.buf[..self.len])
    }
}

impl fmt::Debug for LoaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The longest valid UTF-8 prefix of `bytes` (truncation can split a character).
fn str_prefix(bytes: &[u8]) -> &str {
    match core::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
    }
}

impl BootInfo {
    pub fn new(loader: LoaderName) -> Self {
        Self {
            loader,
            memory_map: MemoryMap::new(),
            hhdm_offset: 0,
            kernel_phys_base: 0,
            kernel_virt_base: 0,
            initramfs: &[],
            firmware: FirmwareTables::None,
            framebuffer: None,
            cmdline: [0; MAX_CMDLINE],
            cmdline_len: 0,
            cpu_count: 1,
            topology: crate::memtopo::Topology::flat(),
        }
    }

    /// Stores the command line, stopping at a NUL and truncating to [`MAX_CMDLINE`].
    pub fn set_cmdline(&mut self, raw: &[u8]) {
        let raw = raw.split(|&b| b == 0).next().unwrap_or(&[]);
        let n = raw.len().min(MAX_CMDLINE);
        self.cmdline[..n].copy_from_slice(&raw[..n]);
        self.cmdline_len = n;
    }

    pub fn cmdline(&self) -> &str {
        str_prefix(&self.cmdline[..self.cmdline_len]).trim()
    }

    /// Bytes of RAM the kernel can allocate.
    pub fn usable_memory(&self) -> u64 {
        self.memory_map.total(MemoryKind::Usable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(base: u64, len: u64, kind: MemoryKind) -> MemoryRegion {
        MemoryRegion {
            base,
            len,
            kind,
            tier: 0,
        }
    }

    #[test]
    fn push_keeps_sorted_and_skips_empty() {
        let mut m = MemoryMap::new();
        m.push(region(0x5000, 0x1000, MemoryKind::Usable));
        m.push(region(0x1000, 0x1000, MemoryKind::Reserved));
        m.push(region(0x9000, 0, MemoryKind::Usable));
        m.push(region(0x3000, 0x1000, MemoryKind::Usable));
        let bases: std::vec::Vec<u64> = m.regions().iter().map(|r| r.base).collect();
        assert_eq!(bases, [0x1000, 0x3000, 0x5000]);
        assert_eq!(m.total(MemoryKind::Usable), 0x2000);
    }

    #[test]
    fn set_tier_splits_straddling_regions() {
        let mut m = MemoryMap::new();
        m.push(region(0, 0x9000, MemoryKind::Usable));
        m.push(region(0x9000, 0x1000, MemoryKind::Reserved));
        m.push(region(0xa000, 0x6000, MemoryKind::Usable));
        m.set_tier(0x4000, 0xc000, 1);
        let got: std::vec::Vec<(u64, u64, u8)> = m
            .regions()
            .iter()
            .map(|r| (r.base, r.len, r.tier))
            .collect();
        assert_eq!(
            got,
            [
                (0, 0x4000, 0),
                (0x4000, 0x5000, 1),
                (0x9000, 0x1000, 1),
                (0xa000, 0x2000, 1),
                (0xc000, 0x4000, 0)
            ]
        );
        assert_eq!(m.total(MemoryKind::Usable), 0xf000, "no byte lost or added");
        assert_eq!(m.regions()[1].kind, MemoryKind::Usable);
        assert_eq!(m.regions()[2].kind, MemoryKind::Reserved);
        // Again: nothing changes; and a range outside the map changes nothing.
        let before: std::vec::Vec<MemoryRegion> = m.regions().to_vec();
        m.set_tier(0x4000, 0xc000, 1);
        m.set_tier(0x100000, 0x200000, 1);
        assert_eq!(m.regions(), &before[..]);
    }

    #[test]
    fn overflow_is_counted() {
        let mut m = MemoryMap::new();
        for i in 0..(MAX_MEMORY_REGIONS as u64 + 3) {
            m.push(region(i * 0x1000, 0x1000, MemoryKind::Usable));
        }
        assert_eq!(m.regions().len(), MAX_MEMORY_REGIONS);
        assert_eq!(m.dropped, 3);
    }

    #[test]
    fn carve_out_splits_usable_region() {
        let mut m = MemoryMap::new();
        m.push(region(0x4000_0000, 0x1000_0000, MemoryKind::Usable));
        m.carve_out(0x4100_0000, 0x20_0000, MemoryKind::KernelAndModules);
        let r = m.regions();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], region(0x4000_0000, 0x100_0000, MemoryKind::Usable));
        assert_eq!(
            r[1],
            region(0x4100_0000, 0x20_0000, MemoryKind::KernelAndModules)
        );
        assert_eq!(r[2], region(0x4120_0000, 0xee0_0000, MemoryKind::Usable));
        assert_eq!(m.total(MemoryKind::Usable), 0x1000_0000 - 0x20_0000);
    }

    #[test]
    fn carve_out_at_edges_and_across_regions() {
        let mut m = MemoryMap::new();
        m.push(region(0x1000, 0x3000, MemoryKind::Usable));
        m.push(region(0x4000, 0x4000, MemoryKind::Usable));
        m.carve_out(0x3000, 0x2000, MemoryKind::Reserved);
        let r = m.regions();
        assert_eq!(r[0], region(0x1000, 0x2000, MemoryKind::Usable));
        assert_eq!(r[1], region(0x3000, 0x2000, MemoryKind::Reserved));
        assert_eq!(r[2], region(0x5000, 0x3000, MemoryKind::Usable));
    }

    #[test]
    fn cmdline_stops_at_nul_and_truncates() {
        let mut b = BootInfo::new(LoaderName::new("x", "1"));
        b.set_cmdline(b" test=1 \0garbage");
        assert_eq!(b.cmdline(), "test=1");
        b.set_cmdline(&[b'a'; 400]);
        assert_eq!(b.cmdline().len(), MAX_CMDLINE);
    }

    #[test]
    fn loader_name_truncates_on_char_boundary() {
        let n = LoaderName::new("wayboot", "0.1.0");
        assert_eq!(n.as_str(), "wayboot 0.1.0");
        let long = "é".repeat(40);
        let n = LoaderName::new(&long, "");
        assert_eq!(n.as_str().len(), 48);
        let n = LoaderName::new("a", &long);
        assert!(n.as_str().starts_with("a é"));
    }
}
