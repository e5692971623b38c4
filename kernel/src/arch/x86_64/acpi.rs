//! ACPI tables through the `acpi` crate, read via the direct map.
//!
//! Owns what the x86_64 layer learns from firmware tables, parsed once at boot (before the
//! heap exists, so everything lands in fixed-size arrays): from the MADT the local APIC
//! address, the enabled or online-capable processors (their APIC ids), the I/O APICs and
//! the ISA interrupt source overrides; from the FADT the ACPI PM timer (used to calibrate
//! the LAPIC timer) and the CMOS clock fields for `rtc`; from the MCFG the PCI ECAM
//! window of segment 0 ([`pci_host`], for the generic `pci` module; the firmware has
//! assigned BARs, and INTx routing would need the AML `_PRT`, which is not read, so PCI
//! devices use MSI-X); from the SRAT and HMAT the memory
//! tiers ([`memory_topology`], parsed by `wayos_kcore::memtopo`). A missing or malformed table is
//! logged and the kernel carries on with one CPU and legacy defaults; nothing here panics
//! on firmware data.

use core::ptr::NonNull;

use acpi::address::AddressSpace;
use acpi::fadt::Fadt;
use acpi::madt::{Madt, MadtEntry};
use acpi::mcfg::Mcfg;
use acpi::{AcpiHandler, AcpiTable, AcpiTables, PhysicalMapping};
use spin::Once;
use wayos_kcore::boot_info::{BootInfo, MemoryMap};
use wayos_kcore::memtopo;
use wayos_kcore::paging::PhysAddr;
use wayos_kcore::pci::HostBridge;

/// Maps physical ranges through the direct map (`mm::direct`), which covers all ACPI
/// memory.
#[derive(Clone, Copy)]
struct DirectMap;

impl AcpiHandler for DirectMap {
    unsafe fn map_physical_region<T>(&self, phys: usize, size: usize) -> PhysicalMapping<Self, T> {
        let virt = crate::mm::direct::ptr::<T>(PhysAddr::new(phys as u64));
        // SAFETY: the direct map covers every ACPI region the loader reported, so the range
        // is mapped for the kernel's life; `virt` is non-null because the offset is not 0.
        unsafe { PhysicalMapping::new(phys, NonNull::new_unchecked(virt), size, size, *self) }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// Processors remembered from the MADT (more are counted but cannot be started).
pub const MAX_LISTED_CPUS: usize = 64;
const MAX_IOAPICS: usize = 8;
const ISA_IRQS: usize = 16;
/// The architectural default local APIC address.
const DEFAULT_LAPIC_PHYS: u64 = 0xfee0_0000;
/// Size of the fixed MADT header (SDT header, LAPIC address, flags).
const MADT_HEADER_LEN: usize = 44;
/// Size of the fixed MCFG header (SDT header, 8 reserved bytes).
const MCFG_HEADER_LEN: usize = 44;

/// One I/O APIC from the MADT.
#[derive(Clone, Copy, Debug, Default)]
pub struct IoApicInfo {
    pub id: u8,
    pub phys: u64,
    pub gsi_base: u32,
}

/// Where an ISA IRQ really arrives (MADT interrupt source override, or the identity
/// default: same GSI, active high, edge triggered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsaRoute {
    pub gsi: u32,
    pub active_low: bool,
    pub level: bool,
}

/// How the ACPI PM timer (3.579545 MHz) is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PmTimer {
    Port { port: u16, bits32: bool },
    Mmio { phys: u64, bits32: bool },
}

/// What the MADT, FADT and MCFG say, as the rest of the arch layer needs it.
#[derive(Debug)]
pub struct Platform {
    pub lapic_phys: u64,
    cpus: [u32; MAX_LISTED_CPUS],
    cpu_count: usize,
    ioapics: [IoApicInfo; MAX_IOAPICS],
    ioapic_count: usize,
    overrides: [Option<IsaRoute>; ISA_IRQS],
    pub pm_timer: Option<PmTimer>,
    /// The MADT's PCAT_COMPAT flag: a legacy 8259 pair is present.
    pub has_8259: bool,
}

impl Platform {
    const fn empty() -> Self {
        Self {
            lapic_phys: DEFAULT_LAPIC_PHYS,
            cpus: [0; MAX_LISTED_CPUS],
            cpu_count: 0,
            ioapics: [IoApicInfo {
                id: 0,
                phys: 0,
                gsi_base: 0,
            }; MAX_IOAPICS],
            ioapic_count: 0,
            overrides: [None; ISA_IRQS],
            pm_timer: None,
            has_8259: true,
        }
    }

    /// APIC ids of the usable processors, in MADT order (the boot CPU among them).
    pub fn cpu_apic_ids(&self) -> &[u32] {
        &self.cpus[..self.cpu_count]
    }

    pub fn ioapics(&self) -> &[IoApicInfo] {
        &self.ioapics[..self.ioapic_count]
    }

    /// Where ISA IRQ `irq` arrives.
    pub fn isa_route(&self, irq: u8) -> IsaRoute {
        self.overrides
            .get(usize::from(irq))
            .copied()
            .flatten()
            .unwrap_or(IsaRoute {
                gsi: u32::from(irq),
                active_low: false,
                level: false,
            })
    }
}

static PLATFORM: Once<Platform> = Once::new();

/// The parsed tables, once [`init`] found a MADT.
pub fn platform() -> Option<&'static Platform> {
    PLATFORM.get()
}

fn tables(rsdp_phys: u64) -> Option<AcpiTables<DirectMap>> {
    // SAFETY: `rsdp_phys` is the RSDP address the loader found in the firmware tables.
    match unsafe { AcpiTables::from_rsdp(DirectMap, rsdp_phys as usize) } {
        Ok(t) => Some(t),
        Err(e) => {
            log::warn!("acpi: cannot read tables ({e:?})");
            None
        }
    }
}

/// Parses the MADT, FADT and MCFG (before the heap exists). Returns how many processors
/// the MADT lists as enabled or online-capable, at least 1.
pub fn init(rsdp_phys: u64) -> usize {
    let Some(tables) = tables(rsdp_phys) else {
        log::warn!("acpi: assuming one CPU and legacy interrupt routing");
        return 1;
    };
    let mut p = Platform::empty();
    let listed = parse_madt(&tables, &mut p);
    parse_fadt(&tables, &mut p);
    parse_mcfg(&tables);
    if listed > 0 {
        PLATFORM.call_once(|| p);
    }
    listed.max(1)
}

/// True when the entries after the MADT header form a well-formed chain (every entry at
/// least a header long and inside the table), which the crate's iterator assumes.
fn madt_entries_well_formed(madt: &PhysicalMapping<DirectMap, Madt>) -> bool {
    let len = { madt.get().header.length } as usize;
    if len < MADT_HEADER_LEN || len > madt.region_length() {
        return false;
    }
    let base = madt.virtual_start().as_ptr().cast::<u8>();
    let mut off = MADT_HEADER_LEN;
    while off < len {
        if len - off < 2 {
            return false;
        }
        // SAFETY: `off + 1 < len`, and the whole table (`len` bytes, checksum verified by
        // the crate) is mapped through the direct map.
        let (kind, entry_len) =
            unsafe { (base.add(off).read(), usize::from(base.add(off + 1).read())) };
        // The entry types read here must be at least as long as their structures.
        let min = match kind {
            0 => 8,      // local APIC
            1 | 5 => 12, // I/O APIC, local APIC address override
            2 => 10,     // interrupt source override
            9 => 16,     // local x2APIC
            _ => 2,
        };
        if entry_len < min || entry_len > len - off {
            return false;
        }
        off += entry_len;
    }
    true
}

fn parse_madt(tables: &AcpiTables<DirectMap>, p: &mut Platform) -> usize {
    let madt = match tables.find_table::<Madt>() {
        Ok(m) => m,
        Err(e) => {
            log::warn!("acpi: no MADT ({e:?}); assuming one CPU");
            return 0;
        }
    };
    if !madt_entries_well_formed(&madt) {
        log::warn!("acpi: malformed MADT entry list; assuming one CPU");
        return 0;
    }
    let table = madt.get();
    p.lapic_phys = u64::from(table.local_apic_address);
    p.has_8259 = { table.flags } & 1 != 0;
    let usable = |flags: u32| flags & 0b11 != 0; // enabled or online-capable
    let mut listed = 0;
    let mut add_cpu = |p: &mut Platform, id: u32| {
        listed += 1;
        if p.cpu_apic_ids().contains(&id) {
            log::warn!("acpi: MADT lists APIC id {id} twice; ignoring the second");
            listed -= 1;
        } else if id >= 0xff {
            log::warn!("acpi: processor with x2APIC id {id} cannot be started in xAPIC mode");
        } else if p.cpu_count == MAX_LISTED_CPUS {
            log::warn!("acpi: processor with APIC id {id} beyond the {MAX_LISTED_CPUS} kept");
        } else {
            p.cpus[p.cpu_count] = id;
            p.cpu_count += 1;
        }
    };
    for entry in madt.get().entries() {
        match entry {
            MadtEntry::LocalApic(l) if usable(l.flags) => add_cpu(p, u32::from(l.apic_id)),
            MadtEntry::LocalX2Apic(l) if usable(l.flags) => add_cpu(p, l.x2apic_id),
            MadtEntry::IoApic(io) => {
                if p.ioapic_count == MAX_IOAPICS {
                    log::warn!("acpi: more than {MAX_IOAPICS} I/O APICs; extra ones ignored");
                    continue;
                }
                p.ioapics[p.ioapic_count] = IoApicInfo {
                    id: io.io_apic_id,
                    phys: u64::from(io.io_apic_address),
                    gsi_base: io.global_system_interrupt_base,
                };
                p.ioapic_count += 1;
            }
            MadtEntry::InterruptSourceOverride(o) => {
                let (bus, irq, gsi, flags) = (o.bus, o.irq, o.global_system_interrupt, o.flags);
                if bus != 0 || usize::from(irq) >= ISA_IRQS {
                    log::warn!("acpi: ignoring override for bus {bus} irq {irq}");
                    continue;
                }
                // MPS INTI flags: polarity bits 0-1 (3 = active low), trigger bits 2-3
                // (3 = level); 0 means "conforms to the bus", which for ISA is high/edge.
                p.overrides[usize::from(irq)] = Some(IsaRoute {
                    gsi,
                    active_low: flags & 0b11 == 0b11,
                    level: (flags >> 2) & 0b11 == 0b11,
                });
            }
            MadtEntry::LocalApicAddressOverride(o) => p.lapic_phys = o.local_apic_address,
            _ => {}
        }
    }
    if p.lapic_phys == 0 || p.lapic_phys & 0xfff != 0 {
        log::warn!(
            "acpi: implausible local APIC address {:#x}; using {DEFAULT_LAPIC_PHYS:#x}",
            p.lapic_phys
        );
        p.lapic_phys = DEFAULT_LAPIC_PHYS;
    }
    log::info!(
        "acpi: MADT: {listed} CPU{}, {} I/O APIC{}, local APIC at {:#x}{}",
        if listed == 1 { "" } else { "s" },
        p.ioapic_count,
        if p.ioapic_count == 1 { "" } else { "s" },
        p.lapic_phys,
        if p.has_8259 { ", 8259 present" } else { "" }
    );
    listed
}

fn parse_fadt(tables: &AcpiTables<DirectMap>, p: &mut Platform) {
    let fadt = match tables.find_table::<Fadt>() {
        Ok(f) => f,
        Err(e) => {
            log::warn!("acpi: no FADT ({e:?}); no PM timer");
            return;
        }
    };
    let bits32 = { fadt.flags }.pm_timer_is_32_bit();
    p.pm_timer = match fadt.pm_timer_block() {
        Ok(Some(gas)) => match gas.address_space {
            AddressSpace::SystemIo if gas.address > 0 && gas.address <= 0xfffc => {
                Some(PmTimer::Port {
                    port: gas.address as u16,
                    bits32,
                })
            }
            AddressSpace::SystemMemory if gas.address != 0 && gas.address & 3 == 0 => {
                Some(PmTimer::Mmio {
                    phys: gas.address,
                    bits32,
                })
            }
            other => {
                log::warn!(
                    "acpi: PM timer in unsupported space {other:?} at {:#x}",
                    gas.address
                );
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            log::warn!("acpi: unreadable PM timer block ({e:?})");
            None
        }
    };
    let width = |bits32: bool| if bits32 { 32 } else { 24 };
    match p.pm_timer {
        Some(PmTimer::Port { port, bits32 }) => {
            log::info!(
                "acpi: PM timer at I/O port {port:#x} ({}-bit)",
                width(bits32)
            )
        }
        Some(PmTimer::Mmio { phys, bits32 }) => {
            log::info!("acpi: PM timer at {phys:#x} ({}-bit)", width(bits32))
        }
        None => log::info!("acpi: no PM timer"),
    }
}

static PCI_HOST: Once<HostBridge> = Once::new();

/// The PCI host bridge of segment 0 from the MCFG, if there is one.
pub fn pci_host() -> Option<HostBridge> {
    PCI_HOST.get().copied()
}

fn parse_mcfg(tables: &AcpiTables<DirectMap>) {
    let mcfg = match tables.find_table::<Mcfg>() {
        Ok(m) => m,
        Err(e) => {
            log::info!("acpi: no MCFG ({e:?}): no PCI ECAM");
            return;
        }
    };
    let len = { mcfg.header().length } as usize;
    if len < MCFG_HEADER_LEN || len > mcfg.region_length() {
        log::warn!("acpi: malformed MCFG (length {len})");
        return;
    }
    let entries = mcfg.entries();
    if entries.is_empty() {
        log::info!("acpi: MCFG lists no ECAM window");
    }
    for e in entries {
        let (base, seg, start, end) = (
            e.base_address,
            e.pci_segment_group,
            e.bus_number_start,
            e.bus_number_end,
        );
        log::info!("acpi: PCI ECAM at {base:#x}, segment {seg}, buses {start}..={end}");
        // One segment is all the kernel drives; the first window of segment 0 it is.
        let plausible = base != 0 && base & 0xf_ffff == 0 && start <= end;
        if seg == 0 && plausible && PCI_HOST.get().is_none() {
            let mut host = HostBridge::new(base, start, end);
            host.segment = seg;
            PCI_HOST.call_once(|| host);
        } else if seg == 0 && !plausible {
            log::warn!("acpi: ignoring implausible ECAM window {base:#x} buses {start}..={end}");
        }
    }
}

/// What the FADT says about the CMOS real-time clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CmosRtcInfo {
    /// CMOS RAM index of the century register (FADT `CENTURY`; 0 there means none).
    pub century_register: Option<u8>,
    /// IAPC_BOOT_ARCH "CMOS RTC not present": the clock is not at ports 0x70/0x71.
    pub not_present: bool,
}

/// The FADT's CMOS clock fields; `None` (logged) if the tables or the FADT are unreadable.
pub fn cmos_rtc_info(rsdp_phys: u64) -> Option<CmosRtcInfo> {
    let tables = tables(rsdp_phys)?;
    let fadt = match tables.find_table::<Fadt>() {
        Ok(f) => f,
        Err(e) => {
            log::warn!("acpi: no FADT ({e:?}); RTC century assumed 20xx");
            return None;
        }
    };
    // Copies out of the packed table (no references into it).
    let century = fadt.century;
    let boot_arch = fadt.iapc_boot_arch;
    Some(CmosRtcInfo {
        century_register: (century != 0).then_some(century),
        not_present: boot_arch.use_time_and_alarm_namespace_for_rtc(),
    })
}

/// Largest ACPI table read for the topology (QEMU's SRAT/HMAT are a few hundred bytes).
const MAX_TOPOLOGY_TABLE: usize = 1 << 20;

/// `len` bytes of physical memory at `pa` through the direct map, when the whole range
/// lies inside one region of the loader's memory map (so the direct map covers it):
/// a bad pointer in a firmware table is refused instead of dereferenced.
fn phys_bytes(map: &MemoryMap, pa: u64, len: usize) -> Option<&'static [u8]> {
    let end = pa.checked_add(u64::try_from(len).ok()?)?;
    if len > MAX_TOPOLOGY_TABLE || !map.regions().iter().any(|r| r.base <= pa && end <= r.end()) {
        return None;
    }
    let ptr = crate::mm::direct::ptr::<u8>(PhysAddr::new(pa));
    // SAFETY: the range lies in a memory-map region, which the direct map covers for the
    // kernel's life; firmware tables there are never written by the kernel, so a shared
    // borrow of them stays valid.
    Some(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// The table with `sig` that the RSDP's XSDT (or RSDT) lists, whole (length from its
/// header; the checksum is `memtopo`'s to check).
fn find_raw_table(map: &MemoryMap, rsdp_phys: u64, sig: &[u8; 4]) -> Option<&'static [u8]> {
    let rsdp = phys_bytes(map, rsdp_phys, 36).or_else(|| phys_bytes(map, rsdp_phys, 20))?;
    let xsdt = rsdp
        .get(24..32)
        .filter(|_| rsdp[15] >= 2)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .filter(|&a| a != 0);
    let (root, entry) = match xsdt {
        Some(a) => (a, 8),
        None => (
            u64::from(u32::from_le_bytes(rsdp[16..20].try_into().ok()?)),
            4,
        ),
    };
    let header = phys_bytes(map, root, memtopo::SDT_HEADER_LEN)?;
    let root = phys_bytes(map, root, memtopo::sdt_len(header)?)?;
    root.get(memtopo::SDT_HEADER_LEN..)?
        .chunks_exact(entry)
        .filter_map(|c| {
            let mut b = [0u8; 8];
            b[..entry].copy_from_slice(c);
            let at = u64::from_le_bytes(b);
            let header = phys_bytes(map, at, memtopo::SDT_HEADER_LEN)?;
            (&header[..4] == sig)
                .then(|| phys_bytes(map, at, memtopo::sdt_len(header)?))
                .flatten()
        })
        .next()
}

/// Reads the SRAT (and HMAT) and puts the far domain's memory into tier 1 of
/// `info.memory_map`, recording what firmware said in `info.topology`. Without an SRAT,
/// or with one domain, everything stays one tier (and the boot log says so later).
pub fn memory_topology(rsdp_phys: u64, info: &mut BootInfo) {
    let Some(srat) = find_raw_table(&info.memory_map, rsdp_phys, b"SRAT") else {
        log::info!("acpi: no SRAT: one memory tier");
        return;
    };
    let srat = match memtopo::parse_srat(srat) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("acpi: SRAT unreadable ({e:?}): one memory tier");
            return;
        }
    };
    if srat.dropped > 0 {
        log::warn!(
            "acpi: SRAT lists more than {} memory ranges; the rest stay near",
            memtopo::MAX_RANGES
        );
    }
    let Some(near) = srat.near_domain() else {
        log::info!("acpi: SRAT has no memory ranges: one memory tier");
        return;
    };
    let hmat = find_raw_table(&info.memory_map, rsdp_phys, b"HMAT");
    if let Some(Err(e)) = hmat.map(memtopo::check_sdt_hmat) {
        log::warn!("acpi: HMAT unreadable ({e:?}): tiers without latency figures");
    }
    for r in srat.ranges().iter().filter(|r| r.domain != near) {
        info.memory_map.set_tier(r.base, r.end, 1);
    }
    info.topology = memtopo::Topology::from_acpi(&srat, near, hmat);
}
