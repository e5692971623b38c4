//! The boot-time bus walk: every function on the host bridge's first bus and, through
//! PCI-to-PCI bridges, on the buses below, with BARs sized (and, where no firmware did,
//! assigned), interrupt pins routed through the firmware's map, and MSI-X found.
//!
//! Where firmware ran (x86_64), bus numbers and BARs are taken as they are. Where none did
//! (aarch64 `-kernel`), bridges get bus numbers depth first and a 1 MiB-aligned memory
//! window around their children's BARs, which all come from the host bridge's
//! non-prefetchable window below 4 GiB; functions on the root bus may use the 64-bit
//! window for 64-bit BARs. I/O BARs are never assigned (reported as found).
//!
//! Runs once, on the boot CPU, before any driver touches a device. Hardware that makes
//! no sense (a bridge pointing back up, a bus past the window, more functions than the
//! table holds) is logged and skipped.

use alloc::vec::Vec;

use virtio_drivers::transport::pci::bus::{
    BarInfo, Command, ConfigurationAccess, DeviceFunction, MemoryBarType, PciRoot,
};
use wayos_abi::net::PCI_BAR_IO;
use wayos_kcore::pci::{BarAllocator, HostBridge, MsixCap};

use super::{Ecam, Function, CAP_MSIX, MAX_FUNCTIONS};

/// Deepest bridge nesting followed.
const MAX_DEPTH: usize = 8;
/// Granularity of a bridge's memory window.
const BRIDGE_WINDOW_ALIGN: u64 = 1 << 20;

const REG_HEADER: u8 = 0x0c;
const REG_BUSES: u8 = 0x18;
const REG_IO_WINDOW: u8 = 0x1c;
const REG_MEM_WINDOW: u8 = 0x20;
const REG_PREF_WINDOW: u8 = 0x24;
const REG_PREF_BASE_HI: u8 = 0x28;
const REG_PREF_LIMIT_HI: u8 = 0x2c;
const REG_INTERRUPT: u8 = 0x3c;
/// A window register with base above limit: forwards nothing.
const WINDOW_CLOSED: u32 = 0x0000_fff0;

struct Walk<'a> {
    root: &'a mut PciRoot<Ecam>,
    /// The same window as `root`'s (a `Copy` address), for the registers `PciRoot` has
    /// no method for.
    cam: Ecam,
    host: &'a HostBridge,
    out: Vec<Function>,
    /// `Some` when the kernel assigns BARs.
    alloc: Option<BarAllocator>,
    /// Highest bus number given to a bridge so far.
    last_bus: u8,
    visited: [u64; 4],
    dropped: usize,
}

/// Walks the host bridge's buses through the mapped window `ecam`; the functions found,
/// in walk order.
pub fn scan(ecam: Ecam, host: &HostBridge) -> Vec<Function> {
    let mut root = PciRoot::new(ecam);
    let mut w = Walk {
        root: &mut root,
        cam: ecam,
        host,
        out: Vec::new(),
        alloc: host.assign_bars.then(|| BarAllocator::new(&host.windows)),
        last_bus: host.bus_start,
        visited: [0; 4],
        dropped: 0,
    };
    let mut path = [0u8; MAX_DEPTH];
    w.bus(host.bus_start, &mut path, 0);
    if w.dropped > 0 {
        log::warn!(
            "pci: {} functions beyond the {MAX_FUNCTIONS} kept were ignored",
            w.dropped
        );
    }
    w.out
}

impl Walk<'_> {
    fn seen(&mut self, bus: u8) -> bool {
        let (word, bit) = (usize::from(bus) / 64, bus % 64);
        let was = self.visited[word] & (1 << bit) != 0;
        self.visited[word] |= 1 << bit;
        was
    }

    fn bus(&mut self, bus: u8, path: &mut [u8; MAX_DEPTH], depth: usize) {
        if self.seen(bus) {
            log::warn!("pci: bus {bus} reached twice; not walked again");
            return;
        }
        let mut multi = false;
        for (df, _) in self.root.enumerate_bus(bus) {
            if df.function == 0 {
                multi = self.cam.read_word(df, REG_HEADER) & (0x80 << 16) != 0;
            } else if !multi {
                continue;
            }
            if self.out.len() == MAX_FUNCTIONS {
                self.dropped += 1;
                continue;
            }
            path[depth] = df.device;
            let f = self.function(df, &path[..=depth], depth > 0);
            self.out.push(f);
            if f.header_type == 1 {
                if depth + 1 < MAX_DEPTH {
                    self.bridge(df, path, depth);
                } else {
                    log::warn!("pci: bridge {df} nested deeper than {MAX_DEPTH}; not followed");
                }
            }
        }
    }

    fn function(&mut self, df: DeviceFunction, path: &[u8], bridged: bool) -> Function {
        let id = self.cam.read_word(df, 0);
        let class = self.cam.read_word(df, 8);
        let header_type = (self.cam.read_word(df, REG_HEADER) >> 16) as u8 & 0x7f;
        let mut f = Function {
            bus: df.bus,
            dev: df.device,
            func: df.function,
            vendor: id as u16,
            device: (id >> 16) as u16,
            class: (class >> 24) as u8,
            subclass: (class >> 16) as u8,
            prog_if: (class >> 8) as u8,
            revision: class as u8,
            header_type,
            bars: [0; 6],
            bar_sizes: [0; 6],
            io_bars: 0,
            irq: None,
            irq_level: true,
            pin: 0,
            msix: None,
            bus_offset: 0,
        };
        let bar_count = match header_type {
            0 => 6,
            1 => 2,
            _ => 0,
        };
        self.bars(df, bar_count, bridged, &mut f);
        let pin = (self.cam.read_word(df, REG_INTERRUPT) >> 8) as u8;
        if (1..=4).contains(&pin) {
            f.pin = pin;
            if let Some((line, level)) = self
                .host
                .intx
                .and_then(|m| m.route(self.host.bus_start, path, df.function, pin))
            {
                f.irq = Some(line);
                f.irq_level = level;
            }
        }
        f.msix = self
            .root
            .capabilities(df)
            .find(|c| c.id == CAP_MSIX)
            .and_then(|c| {
                let dword0 = u32::from(c.private_header) << 16;
                let table = self.cam.read_word(df, c.offset.checked_add(4)?);
                let pba = self.cam.read_word(df, c.offset.checked_add(8)?);
                Some((c.offset, MsixCap::decode(dword0, table, pba)?))
            });
        f
    }

    /// Sizes BARs `0..count` of `df` (assigning them when the kernel must) into `f`.
    fn bars(&mut self, df: DeviceFunction, count: u8, bridged: bool, f: &mut Function) {
        let mut i = 0u8;
        while i < count {
            let info = match self.root.bar_info(df, i) {
                Ok(info) => info,
                Err(e) => {
                    log::warn!("pci: {df} BAR {i}: {e}; later BARs skipped");
                    return;
                }
            };
            let slot = usize::from(i);
            match info {
                None => i += 1,
                Some(BarInfo::IO { address, size }) => {
                    f.bar_sizes[slot] = u64::from(size);
                    f.io_bars |= 1 << i;
                    if address != 0 {
                        f.bars[slot] = u64::from(address) | PCI_BAR_IO;
                    }
                    i += 1;
                }
                Some(BarInfo::Memory {
                    address_type,
                    prefetchable,
                    address,
                    size,
                }) => {
                    let wide = address_type == MemoryBarType::Width64;
                    f.bar_sizes[slot] = size;
                    let pci = match self.alloc.as_mut() {
                        Some(a) => {
                            let at = if bridged {
                                a.alloc_low(size)
                            } else {
                                a.alloc(size, wide, prefetchable)
                            };
                            match at {
                                Some(at) if wide => self.root.set_bar_64(df, i, at),
                                Some(at) => self.root.set_bar_32(df, i, at as u32),
                                None => log::warn!(
                                    "pci: {df} BAR {i} ({size:#x} bytes) does not fit the bridge windows; left unassigned"
                                ),
                            }
                            at.unwrap_or(0)
                        }
                        None => address,
                    };
                    f.bars[slot] = self.to_cpu(pci, size, f);
                    i += if wide { 2 } else { 1 };
                }
            }
        }
    }

    /// The CPU address of PCI bus address `pci` (identity without windows).
    fn to_cpu(&self, pci: u64, size: u64, f: &mut Function) -> u64 {
        if pci == 0 {
            return 0;
        }
        match self.host.window_of(pci, size) {
            Some(w) => {
                f.bus_offset = w.pci_base.wrapping_sub(w.cpu_base);
                w.to_cpu(pci).unwrap_or(0)
            }
            None => pci,
        }
    }

    fn bridge(&mut self, df: DeviceFunction, path: &mut [u8; MAX_DEPTH], depth: usize) {
        let buses = self.cam.read_word(df, REG_BUSES);
        if self.alloc.is_none() {
            // Firmware numbered the buses: follow the secondary one if it is sane.
            let secondary = (buses >> 8) as u8;
            if secondary > df.bus && secondary <= self.host.bus_end {
                self.bus(secondary, path, depth + 1);
            } else {
                log::warn!("pci: bridge {df} has secondary bus {secondary}; not followed");
            }
            return;
        }
        if self.last_bus >= self.host.bus_end {
            log::warn!("pci: no bus number left for bridge {df}");
            return;
        }
        self.last_bus += 1;
        let secondary = self.last_bus;
        let keep = buses & 0xff00_0000; // secondary latency timer
        let numbers =
            |sub: u8| keep | u32::from(sub) << 16 | u32::from(secondary) << 8 | u32::from(df.bus);
        self.cam
            .write_word(df, REG_BUSES, numbers(self.host.bus_end));
        // Only the plain memory window forwards; I/O and prefetchable stay closed.
        let io = self.cam.read_word(df, REG_IO_WINDOW);
        self.cam
            .write_word(df, REG_IO_WINDOW, (io & 0xffff_0000) | 0x00f0);
        self.cam.write_word(df, REG_PREF_WINDOW, WINDOW_CLOSED);
        self.cam.write_word(df, REG_PREF_BASE_HI, u32::MAX);
        self.cam.write_word(df, REG_PREF_LIMIT_HI, 0);
        let start = self
            .alloc
            .as_mut()
            .and_then(|a| a.align_low(BRIDGE_WINDOW_ALIGN));
        self.bus(secondary, path, depth + 1);
        let end = self
            .alloc
            .as_mut()
            .and_then(|a| a.align_low(BRIDGE_WINDOW_ALIGN));
        self.cam.write_word(df, REG_BUSES, numbers(self.last_bus));
        let window = match (start, end) {
            (Some(s), Some(e)) if e > s => {
                ((s >> 16) as u32 & 0xfff0) | (((e - 1) >> 16) as u32 & 0xfff0) << 16
            }
            _ => WINDOW_CLOSED,
        };
        self.cam.write_word(df, REG_MEM_WINDOW, window);
        let (_, cmd) = self.root.get_status_command(df);
        self.root
            .set_command(df, cmd | Command::MEMORY_SPACE | Command::BUS_MASTER);
        log::info!(
            "pci: bridge {df}: buses {secondary}-{}, memory window {window:#010x}",
            self.last_bus
        );
    }
}
