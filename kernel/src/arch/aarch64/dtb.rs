//! The device tree the loader passed in x0, turned into the arch-neutral `BootInfo` and the
//! aarch64-private [`Platform`] (the devices later work needs: UART and its interrupt, GIC,
//! timer interrupts, PSCI, PCI ECAM, the PL031 real-time clock, the CPUs and their MPIDRs).
//!
//! Parsing uses the `fdt` crate on the DTB read through the direct map. Memory nodes become
//! usable regions; the kernel image, the DTB, the initrd, `/memreserve/` entries and
//! `/reserved-memory` children are carved out of them. Device addresses are taken from
//! `reg` as they are: QEMU `virt` puts every device this file reads at the root, so no
//! `ranges` translation is done.
//!
//! This module reads the device tree only; it must never write to it or to any device. A
//! missing or corrupt device tree is a broken boot contract and panics with a clear message;
//! a device property the kernel can do without (such as the UART's `interrupts`) is logged
//! and left out instead.

use fdt::node::FdtNode;
use fdt::Fdt;
use spin::Once;
use wayos_kcore::boot_info::{
    BootInfo, FirmwareTables, LoaderName, MemoryKind, MemoryMap, MemoryRegion,
};

use wayos_abi::smp::MAX_CPUS;
use wayos_kcore::memtopo;
use wayos_kcore::paging::PhysAddr;
use wayos_kcore::pci::{self as kpci, HostBridge, ParentCells};

use super::{mmu, percpu, timer};

const FDT_MAGIC: u32 = 0xd00d_feed;
/// Larger device trees are taken for garbage (QEMU's is about 1 MiB with padding).
const FDT_MAX_SIZE: usize = 16 << 20;
const PAGE: u64 = 4096;

/// A physical address range from a `reg` property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysRange {
    pub base: u64,
    pub size: u64,
}

/// How PSCI calls reach the firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciConduit {
    Hvc,
    Smc,
}

/// The PSCI firmware interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Psci {
    pub conduit: PsciConduit,
    /// PSCI 0.2 or later, which defines the standard function IDs (SYSTEM_OFF, CPU_ON, ...).
    pub system_off: bool,
}

/// The interrupt controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gic {
    /// 2 or 3.
    pub version: u8,
    pub distributor: PhysRange,
    /// GICv3: the first redistributor region.
    pub redistributor: Option<PhysRange>,
    /// GICv2: the CPU interface.
    pub cpu_interface: Option<PhysRange>,
}

/// A device's shared peripheral interrupt, from its `interrupts` property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spi {
    /// The GIC INTID: SPI number + 32.
    pub intid: u32,
    /// Edge-triggered (flags 1 or 2); otherwise level-sensitive (4 or 8, or 0 = unspecified).
    pub edge: bool,
}

/// Generic timer interrupts, as GIC INTIDs (PPI number + 16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerIrqs {
    pub secure_phys: u32,
    pub nonsecure_phys: u32,
    pub virt: u32,
    pub hyp_phys: u32,
}

/// A CPU node under `/cpus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// `reg`: the MPIDR_EL1 affinity bits.
    pub mpidr: u64,
    /// `enable-method = "psci"`: PSCI CPU_ON can start it.
    pub psci: bool,
}

/// What the aarch64 layer knows about the machine beyond `BootInfo`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Platform {
    /// Physical base of the console PL011.
    pub uart: Option<u64>,
    /// That PL011's interrupt (`None`, logged, when the device tree gives no usable one:
    /// serial input is then only polled).
    pub uart_irq: Option<Spi>,
    pub gic: Option<Gic>,
    pub timer: Option<TimerIrqs>,
    pub psci: Option<Psci>,
    /// The PCIe host bridge (`pci-host-ecam-generic`): ECAM, bus range, memory windows
    /// from `ranges`, INTx routing from `interrupt-map`. BARs are the kernel's to assign.
    pub pci: Option<HostBridge>,
    /// The PL031 real-time clock's registers.
    pub rtc: Option<PhysRange>,
    /// The CPUs, in device-tree order (at most `MAX_CPUS`; the rest are ignored, logged).
    pub cpus: [Option<Cpu>; MAX_CPUS],
}

static PLATFORM: Once<Platform> = Once::new();

/// The platform description, once the device tree has been parsed.
pub fn platform() -> Option<&'static Platform> {
    PLATFORM.get()
}

extern "C" {
    static __kernel_start: u8;
    static __kernel_end: u8;
}

/// Reads the device tree at physical `dtb_phys`; `image_phys` is where `_start` was loaded.
pub fn parse(dtb_phys: u64, image_phys: u64) -> (BootInfo, &'static Platform) {
    let fdt = open(dtb_phys);
    let model = fdt
        .find_node("/")
        .and_then(|n| n.property("model"))
        .and_then(|p| p.as_str());
    let compatible = fdt
        .find_node("/")
        .and_then(|n| n.compatible())
        .map(|c| c.first())
        .unwrap_or("");
    let loader = if compatible == "linux,dummy-virt" {
        LoaderName::new("qemu -kernel", "(virt)")
    } else {
        LoaderName::new("arm64 Image loader,", model.unwrap_or(compatible))
    };
    log::info!(
        "device tree: {} bytes, model \"{}\"",
        fdt.total_size(),
        model.unwrap_or("?")
    );

    let mut info = BootInfo::new(loader);
    info.hhdm_offset = mmu::DIRECT_MAP_BASE;
    info.firmware = FirmwareTables::DeviceTree { dtb_phys };
    info.kernel_phys_base = image_phys;
    // Only the addresses of the linker symbols are taken, never their contents.
    let (virt_start, virt_end) = (
        core::ptr::addr_of!(__kernel_start) as u64,
        core::ptr::addr_of!(__kernel_end) as u64,
    );
    info.kernel_virt_base = virt_start;
    let image_len = virt_end - virt_start;

    memory_nodes(&fdt, &mut info.memory_map);
    info.topology = topology(&fdt);
    carve(
        &mut info.memory_map,
        image_phys,
        image_len,
        MemoryKind::KernelAndModules,
    );
    carve(
        &mut info.memory_map,
        dtb_phys,
        fdt.total_size() as u64,
        MemoryKind::BootloaderReclaimable,
    );

    let chosen = fdt.find_node("/chosen");
    if let Some(args) = chosen.and_then(|c| c.property("bootargs")) {
        info.set_cmdline(args.value);
    }
    match chosen.and_then(initrd_range) {
        Some((start, end)) => {
            let overlaps_image = start < image_phys + image_len && end > image_phys;
            if overlaps_image {
                log::error!(
                    "initrd {start:#x}-{end:#x} overlaps the kernel image (cleared as .bss); ignoring it"
                );
            } else if !in_ram(&fdt, start, end) {
                log::error!("initrd {start:#x}-{end:#x} is not inside a memory node; ignoring it");
            } else {
                carve(
                    &mut info.memory_map,
                    start,
                    end - start,
                    MemoryKind::KernelAndModules,
                );
                // SAFETY: `start..end` lies in RAM described by a memory node, below the
                // direct map's end (in_ram checks), and is carved out of usable memory so
                // nothing will reuse it; the direct map is never torn down, so the bytes stay
                // valid and unchanged for the life of the kernel.
                info.initramfs = unsafe {
                    core::slice::from_raw_parts(
                        crate::mm::direct::ptr::<u8>(PhysAddr::new(start)),
                        (end - start) as usize,
                    )
                };
            }
        }
        None => log::warn!("device tree: no initrd in /chosen (boot with -initrd)"),
    }

    for r in fdt.memory_reservations() {
        carve(
            &mut info.memory_map,
            r.address() as u64,
            r.size() as u64,
            MemoryKind::Reserved,
        );
    }
    if let Some(reserved) = fdt.find_node("/reserved-memory") {
        for child in reserved.children().filter(|n| enabled(*n)) {
            for r in child.reg().into_iter().flatten() {
                let size = r.size.unwrap_or(0) as u64;
                carve(
                    &mut info.memory_map,
                    r.starting_address as u64,
                    size,
                    MemoryKind::Reserved,
                );
            }
        }
    }

    info.cpu_count = cpu_count(&fdt);
    let platform = PLATFORM.call_once(|| platform_devices(&fdt));
    (info, platform)
}

/// Validates the header at `dtb_phys` and opens the tree through the direct map.
fn open(dtb_phys: u64) -> Fdt<'static> {
    if dtb_phys == 0 || !dtb_phys.is_multiple_of(8) || dtb_phys + 40 > mmu::DIRECT_MAP_SIZE {
        panic!("no usable device tree: the loader passed x0 = {dtb_phys:#x}");
    }
    let header = crate::mm::direct::ptr::<u32>(PhysAddr::new(dtb_phys));
    // SAFETY: `dtb_phys` is 8-aligned and inside the direct map (checked above), which maps
    // every physical address below 512 GiB; reading the 8-byte header cannot fault.
    let (magic, size) = unsafe { (header.read_volatile(), header.add(1).read_volatile()) };
    let (magic, size) = (u32::from_be(magic), u32::from_be(size) as usize);
    if magic != FDT_MAGIC {
        panic!(
            "no device tree at {dtb_phys:#x} (x0 at entry): magic {magic:#x}, want {FDT_MAGIC:#x}"
        );
    }
    if !(40..=FDT_MAX_SIZE).contains(&size) || dtb_phys + size as u64 > mmu::DIRECT_MAP_SIZE {
        panic!("device tree at {dtb_phys:#x}: implausible size {size}");
    }
    // SAFETY: the loader put `size` bytes of device tree here (header checked); the range
    // is in the direct map and is carved out of usable memory before anything can allocate,
    // so it stays unchanged while the kernel runs.
    let bytes = unsafe { core::slice::from_raw_parts(header.cast::<u8>(), size) };
    match Fdt::new(bytes) {
        Ok(fdt) => fdt,
        Err(e) => panic!("device tree at {dtb_phys:#x} is malformed: {e:?}"),
    }
}

fn enabled(node: FdtNode<'_, '_>) -> bool {
    match node.property("status").and_then(|p| p.as_str()) {
        None | Some("okay") | Some("ok") => true,
        Some(_) => false,
    }
}

fn is_memory_node(node: FdtNode<'_, '_>) -> bool {
    node.property("device_type").and_then(|p| p.as_str()) == Some("memory") && enabled(node)
}

/// Every RAM range the memory nodes describe, as `(base, end)`.
fn ram_ranges<'a>(fdt: &'a Fdt<'a>) -> impl Iterator<Item = (u64, u64, u8)> + 'a {
    fdt.all_nodes()
        .filter(|n| is_memory_node(*n))
        .flat_map(|node| {
            // Memory tiers follow NUMA nodes where the device tree has them: node 0 is near
            // memory (tier 0), any other node far memory (tier 1).
            let tier = node
                .property("numa-node-id")
                .and_then(|p| p.as_usize())
                .map_or(0, |id| if id == 0 { 0 } else { 1 });
            node.reg().into_iter().flatten().filter_map(move |r| {
                let base = r.starting_address as u64;
                let end = base.checked_add(r.size? as u64)?;
                Some((base, end, tier))
            })
        })
}

/// The tiers the memory nodes' `numa-node-id`s describe (node 0 near, the first other
/// node far), with nominal latencies from `/distance-map` when it is there. No node ids:
/// one tier, and the boot log says so.
fn topology(fdt: &Fdt<'_>) -> memtopo::Topology {
    let ids = || {
        fdt.all_nodes()
            .filter(|n| is_memory_node(*n))
            .filter_map(|n| n.property("numa-node-id")?.as_usize())
            .filter_map(|id| u32::try_from(id).ok())
    };
    if ids().next().is_none() {
        log::info!("device tree: no numa-node-id on memory nodes: one memory tier");
        return memtopo::Topology::flat();
    }
    let far = ids().find(|&id| id != 0);
    let matrix = fdt
        .find_node("/distance-map")
        .and_then(|n| n.property("distance-matrix"))
        .map(|p| p.value);
    memtopo::Topology::from_device_tree(0, far, matrix)
}

fn memory_nodes(fdt: &Fdt<'_>, map: &mut MemoryMap) {
    for (base, end, tier) in ram_ranges(fdt) {
        let (base, end) = (base.next_multiple_of(PAGE), end & !(PAGE - 1));
        if end > base {
            map.push(MemoryRegion {
                base,
                len: end - base,
                kind: MemoryKind::Usable,
                tier,
            });
        }
    }
}

fn in_ram(fdt: &Fdt<'_>, start: u64, end: u64) -> bool {
    end <= mmu::DIRECT_MAP_SIZE && ram_ranges(fdt).any(|(b, e, _)| b <= start && end <= e)
}

/// Marks the page-rounded `[base, base+len)` as `kind` where it overlaps usable memory,
/// leaving alone what lies outside RAM or is already carved, so carve-outs never overlap.
fn carve(map: &mut MemoryMap, base: u64, len: u64, kind: MemoryKind) {
    if len == 0 {
        return;
    }
    let start = base & !(PAGE - 1);
    let end = base.saturating_add(len).next_multiple_of(PAGE);
    while let Some(r) = map
        .regions()
        .iter()
        .find(|r| r.kind == MemoryKind::Usable && r.base < end && r.end() > start)
        .copied()
    {
        let (lo, hi) = (r.base.max(start), r.end().min(end));
        map.carve_out(lo, hi - lo, kind);
    }
}

/// `linux,initrd-start` / `linux,initrd-end` from /chosen (32- or 64-bit cells).
fn initrd_range(chosen: FdtNode<'_, '_>) -> Option<(u64, u64)> {
    let start = chosen.property("linux,initrd-start")?.as_usize()? as u64;
    let end = chosen.property("linux,initrd-end")?.as_usize()? as u64;
    (end > start).then_some((start, end))
}

/// CPUs under /cpus, counting all but those marked failed; at least 1.
fn cpu_count(fdt: &Fdt<'_>) -> usize {
    let Some(cpus) = fdt.find_node("/cpus") else {
        log::warn!("device tree: no /cpus node; assuming one CPU");
        return 1;
    };
    cpus.children()
        .filter(|n| n.property("device_type").and_then(|p| p.as_str()) == Some("cpu"))
        .filter(|n| n.property("status").and_then(|p| p.as_str()) != Some("fail"))
        .count()
        .max(1)
}

fn first_reg(node: FdtNode<'_, '_>) -> Option<PhysRange> {
    nth_reg(node, 0)
}

fn nth_reg(node: FdtNode<'_, '_>, n: usize) -> Option<PhysRange> {
    let r = node.reg()?.nth(n)?;
    Some(PhysRange {
        base: r.starting_address as u64,
        size: r.size.unwrap_or(0) as u64,
    })
}

/// Big-endian 32-bit cells of a property.
fn cells<'a>(node: FdtNode<'_, 'a>, name: &str) -> impl Iterator<Item = u32> + 'a {
    node.property(name)
        .map(|p| p.value)
        .unwrap_or(&[])
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
}

fn find_enabled<'b, 'a>(fdt: &'b Fdt<'a>, compatible: &[&str]) -> Option<FdtNode<'b, 'a>> {
    fdt.all_nodes().find(|n| {
        enabled(*n)
            && n.compatible()
                .is_some_and(|c| c.all().any(|s| compatible.contains(&s)))
    })
}

fn platform_devices(fdt: &Fdt<'_>) -> Platform {
    let uart = uart(fdt);
    Platform {
        uart: uart.and_then(first_reg).map(|r| r.base),
        uart_irq: uart.and_then(|node| uart_irq(fdt, node)),
        gic: gic(fdt),
        timer: timer_irqs(fdt),
        psci: psci(fdt),
        pci: pci(fdt),
        rtc: find_enabled(fdt, &["arm,pl031"]).and_then(first_reg),
        cpus: cpus(fdt),
    }
}

/// The `/cpus/cpu@*` nodes not marked failed, with their MPIDR (`reg`) and whether PSCI
/// starts them.
fn cpus(fdt: &Fdt<'_>) -> [Option<Cpu>; MAX_CPUS] {
    let mut out = [None; MAX_CPUS];
    let Some(node) = fdt.find_node("/cpus") else {
        return out;
    };
    let mut n = 0;
    let mut ignored = 0;
    for cpu in node
        .children()
        .filter(|n| n.property("device_type").and_then(|p| p.as_str()) == Some("cpu"))
        .filter(|n| n.property("status").and_then(|p| p.as_str()) != Some("fail"))
    {
        let Some(reg) = cpu.reg().and_then(|mut r| r.next()) else {
            log::warn!("device tree: {} has no usable reg; ignoring it", cpu.name);
            continue;
        };
        if n == MAX_CPUS {
            ignored += 1;
            continue;
        }
        let psci = cpu
            .property("enable-method")
            .and_then(|p| p.as_str())
            .is_some_and(|m| m == "psci");
        out[n] = Some(Cpu {
            mpidr: reg.starting_address as u64 & percpu::MPIDR_AFFINITY,
            psci,
        });
        n += 1;
    }
    if ignored > 0 {
        log::warn!("device tree: {ignored} CPUs beyond the kernel's {MAX_CPUS} ignored");
    }
    out
}

/// The PL011 named by /chosen `stdout-path`, else the first enabled PL011.
fn uart<'b, 'a>(fdt: &'b Fdt<'a>) -> Option<FdtNode<'b, 'a>> {
    let is_pl011 = |n: &FdtNode<'_, '_>| {
        n.compatible()
            .is_some_and(|c| c.all().any(|s| s == "arm,pl011"))
    };
    let stdout = fdt
        .find_node("/chosen")
        .and_then(|c| c.property("stdout-path"))
        .and_then(|p| p.as_str())
        .and_then(|path| fdt.find_node(path.split(':').next().unwrap_or(path)))
        .filter(is_pl011);
    stdout.or_else(|| find_enabled(fdt, &["arm,pl011"]))
}

/// The GIC compatible strings [`gic`] recognises.
const GIC_COMPATIBLE: [&str; 5] = [
    "arm,gic-v3",
    "arm,gic-400",
    "arm,cortex-a15-gic",
    "arm,cortex-a9-gic",
    "arm,cortex-a7-gic",
];

/// The first interrupt of `node` when it is a GIC SPI (`<0 number flags>`, GIC 3-cell
/// form; a 4-cell parent's extra cell is skipped). Anything else (no `interrupts`, a parent
/// that is not the GIC, a PPI, truncated cells, a number past the SPI range) is logged and
/// gives `None`: the caller then polls. Never panics on what the device tree holds.
fn uart_irq(fdt: &Fdt<'_>, node: FdtNode<'_, '_>) -> Option<Spi> {
    let name = node.name;
    if node.property("interrupts").is_none() {
        log::warn!("device tree: {name} has no interrupts property; serial input is polled");
        return None;
    }
    // `interrupt-parent` is inherited; QEMU `virt` sets it on the root node only.
    let parent = node
        .interrupt_parent()
        .or_else(|| fdt.find_node("/").and_then(|root| root.interrupt_parent()));
    let cell_count = match parent {
        Some(p)
            if p.compatible()
                .is_some_and(|c| c.all().any(|s| GIC_COMPATIBLE.contains(&s))) =>
        {
            p.interrupt_cells().unwrap_or(3)
        }
        Some(p) => {
            log::warn!(
                "device tree: {name}'s interrupt parent {} is not a GIC; serial input is polled",
                p.name
            );
            return None;
        }
        // No (findable) parent: assume the GIC's usual 3-cell form and check the cells.
        None => 3,
    };
    let mut raw = cells(node, "interrupts");
    let (kind, number, flags) = match (raw.next(), raw.next(), raw.next()) {
        (Some(kind), Some(number), Some(flags)) if cell_count >= 3 => (kind, number, flags),
        _ => {
            log::warn!(
                "device tree: {name}'s interrupts property is malformed ({cell_count} cells per interrupt); serial input is polled"
            );
            return None;
        }
    };
    // SPIs are INTIDs 32..1020.
    if kind != 0 || number >= 1020 - 32 {
        log::warn!(
            "device tree: {name}'s interrupt <{kind} {number} {flags:#x}> is not a GIC SPI; serial input is polled"
        );
        return None;
    }
    Some(Spi {
        intid: number + 32,
        edge: flags & 0x3 != 0,
    })
}

fn gic(fdt: &Fdt<'_>) -> Option<Gic> {
    if let Some(node) = find_enabled(fdt, &["arm,gic-v3"]) {
        return Some(Gic {
            version: 3,
            distributor: first_reg(node)?,
            redistributor: nth_reg(node, 1),
            cpu_interface: None,
        });
    }
    let node = find_enabled(fdt, &GIC_COMPATIBLE[1..])?;
    Some(Gic {
        version: 2,
        distributor: first_reg(node)?,
        redistributor: None,
        cpu_interface: nth_reg(node, 1),
    })
}

/// The architected timer's four interrupts, in binding order: secure physical, non-secure
/// physical, virtual, hypervisor physical. Each is `<type number flags>` (GIC 3-cell form).
fn timer_irqs(fdt: &Fdt<'_>) -> Option<TimerIrqs> {
    let node = find_enabled(fdt, &["arm,armv8-timer", "arm,armv7-timer"])?;
    let mut raw = cells(node, "interrupts");
    let mut ids = [0u32; 4];
    for id in &mut ids {
        let (kind, number, _flags) = (raw.next()?, raw.next()?, raw.next()?);
        *id = match kind {
            1 => number + 16, // PPI
            0 => number + 32, // SPI
            _ => return None,
        };
    }
    Some(TimerIrqs {
        secure_phys: ids[0],
        nonsecure_phys: ids[1],
        virt: ids[2],
        hyp_phys: ids[3],
    })
}

fn psci(fdt: &Fdt<'_>) -> Option<Psci> {
    let node = find_enabled(fdt, &["arm,psci-1.0", "arm,psci-0.2", "arm,psci"])?;
    let conduit = match node.property("method").and_then(|p| p.as_str())? {
        "hvc" => PsciConduit::Hvc,
        "smc" => PsciConduit::Smc,
        other => {
            log::warn!("psci: unknown method \"{other}\"");
            return None;
        }
    };
    let system_off = node
        .compatible()
        .is_some_and(|c| c.all().any(|s| s == "arm,psci-0.2" || s == "arm,psci-1.0"));
    Some(Psci {
        conduit,
        system_off,
    })
}

/// The first enabled `pci-host-ecam-generic` node as a [`HostBridge`]: `reg` (whose
/// start is bus `bus-range[0]`'s configuration space), `bus-range` (clamped to what `reg`
/// covers), the memory windows of `ranges` (I/O space skipped) and `interrupt-map` decoded
/// against GIC parents. A property that does not decode is logged and left out (no
/// windows: no BARs assigned; no map: no INTx, drivers poll).
fn pci(fdt: &Fdt<'_>) -> Option<HostBridge> {
    let node = find_enabled(fdt, &["pci-host-ecam-generic"])?;
    let ecam = first_reg(node)?;
    let mut bus = cells(node, "bus-range");
    let (bus_start, mut bus_end) = match (bus.next(), bus.next()) {
        (Some(a), Some(b)) if a <= b => (a.min(255) as u8, b.min(255) as u8),
        _ => (0, 255),
    };
    let covered = (ecam.size >> 20).min(256);
    if covered == 0 || ecam.base & 0xf_ffff != 0 {
        log::warn!(
            "device tree: PCI ECAM {:#x} (+{:#x}) is unusable",
            ecam.base,
            ecam.size
        );
        return None;
    }
    bus_end = bus_end.min((u64::from(bus_start) + covered - 1).min(255) as u8);
    let mut host = HostBridge::new(
        ecam.base.checked_sub(u64::from(bus_start) << 20)?,
        bus_start,
        bus_end,
    );
    host.assign_bars = true;
    // `ranges`: child 3 cells, parent (the root's) address cells, the node's size cells.
    let parent_cells = fdt.root().cell_sizes().address_cells;
    let size_cells = node.cell_sizes().size_cells;
    let raw = alloc_free::Cells::of(node, "ranges");
    let raw = raw.as_ref().map_or(&[][..], |c| c.as_slice());
    match kpci::decode_ranges(raw, parent_cells, size_cells) {
        Ok((windows, dropped)) => {
            host.windows = windows;
            if dropped > 0 {
                log::warn!(
                    "device tree: {dropped} PCI memory windows beyond the first {} ignored",
                    kpci::MAX_WINDOWS
                );
            }
        }
        Err(e) => log::warn!("device tree: PCI ranges undecodable ({e:?}); no BARs assigned"),
    }
    for w in host.windows.iter().flatten() {
        if w.cpu_base != w.pci_base {
            log::warn!(
                "device tree: PCI window {:#x} is at CPU address {:#x}: drivers assume identity",
                w.pci_base,
                w.cpu_base
            );
        }
    }
    let map = alloc_free::Cells::of(node, "interrupt-map");
    let mask = alloc_free::Cells::of(node, "interrupt-map-mask");
    if let (Some(map), Some(mask)) = (&map, &mask) {
        let parent = |phandle: u32| {
            let p = fdt.find_phandle(phandle)?;
            if !p
                .compatible()
                .is_some_and(|c| c.all().any(|s| GIC_COMPATIBLE.contains(&s)))
            {
                return None;
            }
            Some(ParentCells {
                address: p
                    .property("#address-cells")
                    .and_then(|v| v.as_usize())
                    .unwrap_or(0),
                interrupt: p.interrupt_cells().unwrap_or(3),
            })
        };
        match kpci::decode_interrupt_map(map.as_slice(), mask.as_slice(), parent, gic_spi) {
            Ok((intx, dropped)) => {
                if dropped > 0 {
                    log::warn!(
                        "device tree: {dropped} PCI interrupt-map entries beyond {} ignored",
                        kpci::MAX_INTX
                    );
                }
                host.intx = Some(intx);
            }
            Err(e) => {
                log::warn!("device tree: PCI interrupt-map undecodable ({e:?}); INTx not routed")
            }
        }
    } else {
        log::warn!("device tree: PCI interrupt-map too large; INTx not routed");
    }
    Some(host)
}

/// A GIC interrupt specifier `<type number flags ...>` as an SPI's `(INTID, level)`;
/// `None` for anything but an SPI in range.
fn gic_spi(spec: &[u32]) -> Option<(u32, bool)> {
    match spec {
        [0, number, flags, ..] if *number < 1020 - 32 => Some((number + 32, flags & 0x3 == 0)),
        _ => None,
    }
}

/// Property cells copied into a fixed buffer (the device tree is parsed before the heap
/// exists, and `kcore::pci` decodes slices of `u32`).
mod alloc_free {
    use fdt::node::FdtNode;

    /// Enough for QEMU `virt`'s `interrupt-map` (16 entries of 10 cells) twice over.
    const MAX_CELLS: usize = 384;

    pub struct Cells {
        buf: [u32; MAX_CELLS],
        len: usize,
    }

    impl Cells {
        /// The cells of `node`'s property `name` (empty when absent); `None` when it has
        /// more than `MAX_CELLS`.
        pub fn of(node: FdtNode<'_, '_>, name: &str) -> Option<Self> {
            let mut c = Self {
                buf: [0; MAX_CELLS],
                len: 0,
            };
            for v in super::cells(node, name) {
                *c.buf.get_mut(c.len)? = v;
                c.len += 1;
            }
            Some(c)
        }

        pub fn as_slice(&self) -> &[u32] {
            &self.buf[..self.len]
        }
    }
}

/// Logs what [`parse`] found beyond `BootInfo`.
pub fn log_platform(p: &Platform) {
    match p.uart {
        Some(base) => match p.uart_irq {
            Some(irq) => log::info!(
                "platform: PL011 UART at {base:#x}, INTID {} ({})",
                irq.intid,
                if irq.edge { "edge" } else { "level" }
            ),
            None => log::info!("platform: PL011 UART at {base:#x}, no interrupt (polled)"),
        },
        None => log::warn!(
            "platform: no PL011 in the device tree; using {:#x}",
            super::serial::EARLY_UART_PHYS
        ),
    }
    match p.gic {
        Some(g) if g.version == 3 => log::info!(
            "platform: GICv3, distributor {:#x}, redistributors {:#x} (+{:#x})",
            g.distributor.base,
            g.redistributor.map_or(0, |r| r.base),
            g.redistributor.map_or(0, |r| r.size)
        ),
        Some(g) => log::info!(
            "platform: GICv{}, distributor {:#x}, CPU interface {:#x}",
            g.version,
            g.distributor.base,
            g.cpu_interface.map_or(0, |r| r.base)
        ),
        None => log::warn!("platform: no supported GIC in the device tree"),
    }
    match p.timer {
        Some(t) => log::info!(
            "platform: timer INTIDs phys {} virt {} hyp {} secure {}, counter {} Hz",
            t.nonsecure_phys,
            t.virt,
            t.hyp_phys,
            t.secure_phys,
            timer::frequency_hz()
        ),
        None => log::warn!(
            "platform: no architected timer node; counter {} Hz",
            timer::frequency_hz()
        ),
    }
    match p.psci {
        Some(psci) => log::info!(
            "platform: PSCI via {}{}",
            match psci.conduit {
                PsciConduit::Hvc => "hvc",
                PsciConduit::Smc => "smc",
            },
            if psci.system_off {
                ""
            } else {
                " (0.1 only: no SYSTEM_OFF)"
            }
        ),
        None => log::warn!("platform: no PSCI; power-off will only halt"),
    }
    match p.pci {
        Some(pci) => log::info!(
            "platform: PCI ECAM at {:#x}, buses {}-{}, {} memory window{}, {} INTx route{}",
            pci.ecam_phys + (u64::from(pci.bus_start) << 20),
            pci.bus_start,
            pci.bus_end,
            pci.windows.iter().flatten().count(),
            if pci.windows.iter().flatten().count() == 1 {
                ""
            } else {
                "s"
            },
            pci.intx.map_or(0, |m| m.entries().len()),
            if pci.intx.map_or(0, |m| m.entries().len()) == 1 {
                ""
            } else {
                "s"
            },
        ),
        None => log::info!("platform: no PCI host bridge"),
    }
    match p.rtc {
        Some(rtc) => log::info!("platform: PL031 RTC at {:#x}", rtc.base),
        None => log::warn!("platform: no PL031 RTC in the device tree"),
    }
}
