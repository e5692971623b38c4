//! The interrupt controller (GICv3, or GICv2), the scheduler tick it delivers and the
//! inter-processor interrupt.
//!
//! The device tree gives the controller's registers (`dtb::Platform::gic`) and the generic
//! timer's interrupts. [`init`] (boot CPU) maps the registers with `crate::mm::mmio`,
//! enables the distributor, sets up the boot CPU's side ([`init_cpu`]) and starts the timer
//! at the tick rate. [`init_cpu`] is each CPU's own half, run again by every secondary CPU
//! (`smp.rs`): its redistributor (GICv3) or banked distributor registers (GICv2), with the
//! EL1 virtual timer's PPI (INTID 27 on QEMU `virt`) and the IPI's SGI ([`IPI_INTID`])
//! enabled as Group 1, then its CPU interface. [`handle_irq`] acknowledges, dispatches
//! (timer: rearm, then `traps::timer_tick()`; IPI: `traps::ipi()`; the PL011's receive
//! interrupt: `traps::serial_irq()`) and signals end of interrupt, all with IRQs masked.
//! [`send_ipi`] raises the SGI on one CPU. [`enable_uart_irq`] (boot CPU, after [`init`])
//! enables the UART's SPI, routed to the boot CPU (CPU 0). [`enable_device_spi`] does the
//! same for a driver's SPI (a PCI INTx line) with the driver's handler, kept in a fixed
//! table ([`DEVICE_SPIS`]); a level-sensitive one is masked before its handler runs and
//! stays masked until the driver calls [`unmask_spi`].
//!
//! GICv3 uses the ICC_* system registers for the CPU interface (the boot code enabled them
//! at EL2 when the kernel entered there) and the redistributor whose GICR_TYPER affinity
//! matches MPIDR_EL1, found in the first redistributor region; GICv2 uses the memory-mapped
//! CPU interface (banked per CPU at one address). Which redistributor and which GICv2
//! target bit belong to a CPU is per-CPU state (`percpu.rs`).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};

use super::{dtb, percpu, serial, timer};
use wayos_kcore::paging::PhysAddr;

/// INTID of the EL1 virtual timer when the device tree has no timer node (PPI 11).
const DEFAULT_VTIMER_INTID: u32 = 27;
/// INTIDs at or above this are special (1020-1023: spurious and friends).
const INTID_SPECIAL: u32 = 1020;
/// Priority given to the timer (lower is more urgent; all pass the 0xff mask).
const TIMER_PRIORITY: u8 = 0xa0;
/// The SGI used as the inter-processor interrupt.
pub const IPI_INTID: u32 = 1;
/// Priority of the IPI (handlers never nest, so only the order of pending ones matters).
const IPI_PRIORITY: u8 = 0x90;
/// Priority of the UART's receive interrupt (after the timer and the IPI).
const UART_PRIORITY: u8 = 0xb0;
/// Priority of driver SPIs (PCI INTx), below the UART's.
const DEVICE_PRIORITY: u8 = 0xc0;
/// Driver SPIs the table holds.
const MAX_DEVICE_SPIS: usize = 16;
/// [`UART_INTID`] when the UART's interrupt is not in use.
const NO_INTID: u32 = u32::MAX;

// Distributor registers (both versions).
const GICD_CTLR: usize = 0x0000;
const GICD_TYPER: usize = 0x0004;
const GICD_IGROUPR: usize = 0x0080;
const GICD_ISENABLER: usize = 0x0100;
const GICD_ICENABLER: usize = 0x0180;
const GICD_IPRIORITYR: usize = 0x0400;
const GICD_ITARGETSR: usize = 0x0800;
/// Two configuration bits per INTID; the upper one set = edge-triggered.
const GICD_ICFGR: usize = 0x0c00;
/// GICv3: one 64-bit routing register per SPI (affinity of the target CPU, IRM = 0).
const GICD_IROUTER: usize = 0x6000;
/// GICv2 software generated interrupt register.
const GICD_SGIR: usize = 0x0f00;
const GICD_CTLR_RWP: u32 = 1 << 31;
/// GICv3 GICD_CTLR: EnableGrp0/EnableGrp1 (single security state) or EnableGrp1NS /
/// EnableGrp1A (non-secure view), and affinity routing.
const GICD_CTLR_V3: u32 = (1 << 0) | (1 << 1) | (1 << 4);
const GICD_CTLR_ARE: u32 = 1 << 4;

// GICv3 redistributor: RD_base frame, then SGI_base frame 64 KiB above.
const GICR_TYPER: usize = 0x0008;
const GICR_WAKER: usize = 0x0014;
const GICR_SGI_BASE: usize = 0x1_0000;
const GICR_IGROUPR0: usize = GICR_SGI_BASE + 0x0080;
const GICR_ISENABLER0: usize = GICR_SGI_BASE + 0x0100;
const GICR_ICENABLER0: usize = GICR_SGI_BASE + 0x0180;
const GICR_IPRIORITYR: usize = GICR_SGI_BASE + 0x0400;
const GICR_TYPER_LAST: u64 = 1 << 4;
const GICR_TYPER_VLPIS: u64 = 1 << 1;
const GICR_WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const GICR_WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// One redistributor: RD_base + SGI_base (GICv3), plus VLPI frames (GICv4).
const GICR_STRIDE_V3: usize = 0x2_0000;
const GICR_STRIDE_V4: usize = 0x4_0000;

// GICv2 CPU interface.
const GICC_CTLR: usize = 0x0000;
const GICC_PMR: usize = 0x0004;
const GICC_BPR: usize = 0x0008;
const GICC_IAR: usize = 0x000c;
const GICC_EOIR: usize = 0x0010;

/// 2 or 3 once [`init`] has run; 0 before (an IRQ then is unexpected).
static VERSION: AtomicU8 = AtomicU8::new(0);
/// Virtual addresses of the distributor, the (first) redistributor region (v3: start and
/// end; each CPU's own redistributor is in its per-CPU block) and the CPU interface (v2;
/// banked, so one address serves every CPU).
static GICD: AtomicUsize = AtomicUsize::new(0);
static GICR_REGION: AtomicUsize = AtomicUsize::new(0);
static GICR_REGION_END: AtomicUsize = AtomicUsize::new(0);
static GICC: AtomicUsize = AtomicUsize::new(0);
static TIMER_INTID: AtomicU32 = AtomicU32::new(DEFAULT_VTIMER_INTID);
static SPURIOUS: AtomicU32 = AtomicU32::new(0);
/// The console PL011's SPI once [`enable_uart_irq`] enabled it, else [`NO_INTID`].
static UART_INTID: AtomicU32 = AtomicU32::new(NO_INTID);
/// Receive interrupts taken (the first is logged).
static UART_IRQS: AtomicU64 = AtomicU64::new(0);

/// A driver's SPI: the INTID ([`NO_INTID`] while the slot is free), its handler and
/// whether it is level-sensitive. Filled in that order, `intid` last
/// (release), so [`handle_irq`] never sees an INTID without its handler.
struct DeviceSpi {
    intid: AtomicU32,
    level: AtomicBool,
    handler: spin::Once<fn()>,
}

#[allow(clippy::declare_interior_mutable_const)] // Only used to initialise the table.
const FREE_SPI: DeviceSpi = DeviceSpi {
    intid: AtomicU32::new(NO_INTID),
    level: AtomicBool::new(false),
    handler: spin::Once::new(),
};
static DEVICE_SPIS: [DeviceSpi; MAX_DEVICE_SPIS] = [FREE_SPI; MAX_DEVICE_SPIS];
static NEXT_DEVICE_SPI: AtomicUsize = AtomicUsize::new(0);
/// Serializes driver SPI registration (slot, duplicate check and the distributor's
/// read-modify-write configuration in `enable_spi`). Taken with interrupts off.
static SPI_CONFIG: spin::Mutex<()> = spin::Mutex::new(());

fn read32(addr: usize) -> u32 {
    // SAFETY: callers pass a register address inside a mapping made by `init` (Device
    // memory, kept for the life of the kernel).
    unsafe { (addr as *const u32).read_volatile() }
}

fn write32(addr: usize, value: u32) {
    // SAFETY: as for `read32`.
    unsafe { (addr as *mut u32).write_volatile(value) }
}

fn read64(addr: usize) -> u64 {
    // SAFETY: as for `read32`; 64-bit GICR registers allow 64-bit accesses.
    unsafe { (addr as *const u64).read_volatile() }
}

fn write64(addr: usize, value: u64) {
    // SAFETY: as for `read32`; GICD_IROUTER<n> allows 64-bit accesses.
    unsafe { (addr as *mut u64).write_volatile(value) }
}

fn read8(addr: usize) -> u8 {
    // SAFETY: as for `read32`; GICD_ITARGETSR is byte-accessible.
    unsafe { (addr as *const u8).read_volatile() }
}

fn write8(addr: usize, value: u8) {
    // SAFETY: as for `read32`; priority registers are byte-accessible.
    unsafe { (addr as *mut u8).write_volatile(value) }
}

/// Maps device registers and orders the new page-table entries before their first use.
fn map(range: dtb::PhysRange) -> usize {
    let va = crate::mm::mmio(PhysAddr::new(range.base), range.size as usize);
    // SAFETY: barriers only.
    unsafe { core::arch::asm!("dsb ishst", "isb", options(nostack, preserves_flags)) };
    va.as_u64() as usize
}

macro_rules! sysreg_write {
    ($reg:literal, $val:expr) => {
        // SAFETY: a GICv3 CPU-interface system register that only affects how this CPU
        // takes interrupts; the ISB makes the write take effect before what follows.
        unsafe {
            core::arch::asm!(
                concat!("msr ", $reg, ", {}"),
                "isb",
                in(reg) $val as u64,
                options(nostack, preserves_flags)
            )
        }
    };
}

macro_rules! sysreg_read {
    ($reg:literal) => {{
        let v: u64;
        // SAFETY: reads a GICv3 CPU-interface system register (acknowledging an interrupt
        // for ICC_IAR1_EL1, which is what the caller wants).
        unsafe {
            core::arch::asm!(
                concat!("mrs {}, ", $reg),
                out(reg) v,
                options(nostack, preserves_flags)
            )
        };
        v
    }};
}

// GICv3 CPU interface registers by encoding (assemblers differ on the names).
// ICC_PMR_EL1 = S3_0_C4_C6_0, ICC_IAR1_EL1 = S3_0_C12_C12_0, ICC_EOIR1_EL1 = S3_0_C12_C12_1,
// ICC_BPR1_EL1 = S3_0_C12_C12_3, ICC_CTLR_EL1 = S3_0_C12_C12_4, ICC_SRE_EL1 = S3_0_C12_C12_5,
// ICC_IGRPEN1_EL1 = S3_0_C12_C12_7.

/// Brings up the interrupt controller and the boot CPU's side of it, and starts the tick at
/// `tick_hz`. Boot CPU only, once.
pub fn init(tick_hz: u32) {
    let platform = dtb::platform().copied().unwrap_or_default();
    let Some(gic) = platform.gic else {
        panic!("no GIC in the device tree: no timer interrupt, the scheduler cannot run");
    };
    let intid = platform.timer.map_or(DEFAULT_VTIMER_INTID, |t| t.virt);
    if !(16..32).contains(&intid) {
        panic!("virtual timer interrupt {intid} is not a PPI");
    }
    TIMER_INTID.store(intid, Ordering::Relaxed);
    match gic.version {
        3 => init_distributor_v3(&gic),
        2 => init_distributor_v2(&gic),
        v => panic!("GICv{v} is not supported"),
    }
    VERSION.store(gic.version, Ordering::Release);
    if let Err(e) = init_cpu() {
        panic!("{e}");
    }
    timer::start_tick(tick_hz);
    let typer = read32(GICD.load(Ordering::Relaxed) + GICD_TYPER);
    log::info!(
        "gic: v{}, {} interrupt lines; tick {} Hz on the virtual timer (INTID {intid}, counter {} Hz); IPI is SGI {IPI_INTID}",
        gic.version,
        ((typer & 0x1f) + 1) * 32,
        tick_hz,
        timer::frequency_hz()
    );
}

/// The running CPU's half of the GIC: its redistributor or banked registers with the
/// timer PPI and the IPI enabled, and its CPU interface. Run by [`init`] on the boot CPU and
/// by every secondary CPU before it takes interrupts (IRQs masked). An error names what is
/// missing (then this CPU cannot take interrupts).
pub fn init_cpu() -> Result<(), &'static str> {
    let intid = TIMER_INTID.load(Ordering::Relaxed);
    match VERSION.load(Ordering::Acquire) {
        3 => init_cpu_v3(intid),
        2 => {
            init_cpu_v2(intid);
            Ok(())
        }
        _ => Err("gic: the distributor is not set up"),
    }
}

fn wait_rwp(gicd: usize) {
    while read32(gicd + GICD_CTLR) & GICD_CTLR_RWP != 0 {
        core::hint::spin_loop();
    }
}

fn init_distributor_v3(gic: &dtb::Gic) {
    let Some(rd_range) = gic.redistributor else {
        panic!("GICv3 without a redistributor region in the device tree");
    };
    let gicd = map(gic.distributor);
    GICD.store(gicd, Ordering::Relaxed);

    // Distributor: affinity routing first, then the groups (the ARM ARM asks for this
    // order). SPIs stay disabled until a driver claims one.
    write32(gicd + GICD_CTLR, 0);
    wait_rwp(gicd);
    write32(gicd + GICD_CTLR, GICD_CTLR_ARE);
    wait_rwp(gicd);
    write32(gicd + GICD_CTLR, GICD_CTLR_V3);
    wait_rwp(gicd);

    // Every CPU's redistributor is in this region; each finds its own in `init_cpu_v3`.
    let rd_base = map(rd_range);
    GICR_REGION.store(rd_base, Ordering::Relaxed);
    GICR_REGION_END.store(rd_base + rd_range.size as usize, Ordering::Relaxed);
}

/// The redistributor whose GICR_TYPER affinity is `mpidr`'s.
fn find_redistributor(mpidr: u64) -> Option<usize> {
    let affinity = (mpidr & 0xff_ffff) | ((mpidr >> 32 & 0xff) << 24);
    let rd_end = GICR_REGION_END.load(Ordering::Relaxed);
    let mut rd = GICR_REGION.load(Ordering::Relaxed);
    loop {
        if rd == 0 || rd + GICR_STRIDE_V3 > rd_end {
            return None;
        }
        let typer = read64(rd + GICR_TYPER);
        if typer >> 32 == affinity {
            return Some(rd);
        }
        if typer & GICR_TYPER_LAST != 0 {
            return None;
        }
        rd += if typer & GICR_TYPER_VLPIS != 0 {
            GICR_STRIDE_V4
        } else {
            GICR_STRIDE_V3
        };
    }
}

fn init_cpu_v3(intid: u32) -> Result<(), &'static str> {
    let Some(gicr) = find_redistributor(percpu::read_mpidr()) else {
        return Err("GICv3: no redistributor matches this CPU's MPIDR");
    };
    percpu::this().gicr.store(gicr, Ordering::Relaxed);

    // Wake it up.
    let waker = read32(gicr + GICR_WAKER);
    write32(gicr + GICR_WAKER, waker & !GICR_WAKER_PROCESSOR_SLEEP);
    while read32(gicr + GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP != 0 {
        core::hint::spin_loop();
    }

    // SGIs and PPIs: all Group 1 (IRQ at EL1), all disabled but the timer and the IPI.
    write32(gicr + GICR_ICENABLER0, u32::MAX);
    write32(gicr + GICR_IGROUPR0, u32::MAX);
    write8(gicr + GICR_IPRIORITYR + intid as usize, TIMER_PRIORITY);
    write8(gicr + GICR_IPRIORITYR + IPI_INTID as usize, IPI_PRIORITY);
    write32(gicr + GICR_ISENABLER0, (1 << intid) | (1 << IPI_INTID));

    // CPU interface: system registers on, every priority unmasked, no preemption groups,
    // EOI both drops priority and deactivates (ICC_CTLR_EL1.EOImode = 0), Group 1 on.
    let sre: u64 = sysreg_read!("S3_0_C12_C12_5");
    sysreg_write!("S3_0_C12_C12_5", sre | 1);
    sysreg_write!("S3_0_C4_C6_0", 0xffu64);
    sysreg_write!("S3_0_C12_C12_3", 0u64);
    let ctlr: u64 = sysreg_read!("S3_0_C12_C12_4");
    sysreg_write!("S3_0_C12_C12_4", ctlr & !(1 << 1));
    sysreg_write!("S3_0_C12_C12_7", 1u64);
    Ok(())
}

fn init_distributor_v2(gic: &dtb::Gic) {
    let Some(cpu_range) = gic.cpu_interface else {
        panic!("GICv2 without a CPU interface region in the device tree");
    };
    let gicd = map(gic.distributor);
    GICD.store(gicd, Ordering::Relaxed);
    let gicc = map(cpu_range);
    GICC.store(gicc, Ordering::Relaxed);
    write32(gicd + GICD_CTLR, 0);
}

fn init_cpu_v2(intid: u32) {
    let gicd = GICD.load(Ordering::Relaxed);
    let gicc = GICC.load(Ordering::Relaxed);
    // This CPU's bit in target lists: GICD_ITARGETSR0..7 are banked and read as it.
    let target = u32::from(read8(gicd + GICD_ITARGETSR));
    percpu::this().gicv2_target.store(target, Ordering::Relaxed);
    // Banked SGI/PPI registers of this CPU: Group 0 (signalled as IRQ while GICC_CTLR.FIQEn
    // is 0), all disabled but the timer and the IPI.
    write32(gicd + GICD_ICENABLER, u32::MAX);
    write32(gicd + GICD_IGROUPR, 0);
    write8(gicd + GICD_IPRIORITYR + intid as usize, TIMER_PRIORITY);
    write8(gicd + GICD_IPRIORITYR + IPI_INTID as usize, IPI_PRIORITY);
    write32(gicd + GICD_ISENABLER, (1 << intid) | (1 << IPI_INTID));
    write32(gicd + GICD_CTLR, 1);

    write32(gicc + GICC_PMR, 0xff);
    write32(gicc + GICC_BPR, 0);
    write32(gicc + GICC_CTLR, 1);
}

/// Enables the console UART's interrupt `spi`, routed to the boot CPU, whose handler calls
/// `crate::traps::serial_irq()`. Boot CPU, after [`init`], IRQs masked. False (logged) when
/// the distributor cannot take it; serial input is then only polled.
pub fn enable_uart_irq(spi: dtb::Spi) -> bool {
    UART_INTID.store(spi.intid, Ordering::Relaxed);
    match enable_spi(spi, UART_PRIORITY) {
        Ok(()) => {
            log::info!(
                "gic: PL011 receive interrupt INTID {} ({}-triggered) routed to CPU 0",
                spi.intid,
                if spi.edge { "edge" } else { "level" }
            );
            true
        }
        Err(e) => {
            UART_INTID.store(NO_INTID, Ordering::Relaxed);
            log::warn!(
                "gic: UART interrupt INTID {}: {e}; serial input is polled",
                spi.intid
            );
            false
        }
    }
}

/// Enables driver SPI `intid` (level- or edge-triggered) routed to the boot CPU, to run
/// `handler` in interrupt context, after the EOI. A level-sensitive SPI is masked before
/// `handler` runs and stays masked until [`unmask_spi`]. One handler per INTID; Err names
/// why not (taken, table full, not an SPI).
pub fn enable_device_spi(intid: u32, level: bool, handler: fn()) -> Result<(), &'static str> {
    // One registration at a time: the duplicate check, the slot and the distributor's
    // read-modify-write configuration all happen under the lock.
    let _irq = crate::arch::IrqGuard::new();
    let _g = SPI_CONFIG.lock();
    if intid == UART_INTID.load(Ordering::Relaxed)
        || DEVICE_SPIS
            .iter()
            .any(|d| d.intid.load(Ordering::Acquire) == intid)
    {
        return Err("the interrupt already has a handler");
    }
    let i = NEXT_DEVICE_SPI.load(Ordering::Relaxed);
    let slot = DEVICE_SPIS.get(i).ok_or("no free driver interrupt slot")?;
    NEXT_DEVICE_SPI.store(i + 1, Ordering::Relaxed);
    slot.handler.call_once(|| handler);
    slot.level.store(level, Ordering::Relaxed);
    slot.intid.store(intid, Ordering::Release);
    enable_spi(
        dtb::Spi {
            intid,
            edge: !level,
        },
        DEVICE_PRIORITY,
    )
    .inspect_err(|_| {
        slot.intid.store(NO_INTID, Ordering::Release);
    })
}

/// Re-enables driver SPI `intid` (a write-one-to-set register: any context, no lock).
pub fn unmask_spi(intid: u32) {
    let gicd = GICD.load(Ordering::Relaxed);
    if gicd == 0 || !(32..INTID_SPECIAL).contains(&intid) {
        return;
    }
    write32(
        gicd + GICD_ISENABLER + 4 * (intid / 32) as usize,
        1 << (intid % 32),
    );
}

/// Disables SPI `intid` and waits until the distributor has (GICv3 RWP).
fn mask_spi(intid: u32) {
    let gicd = GICD.load(Ordering::Relaxed);
    write32(
        gicd + GICD_ICENABLER + 4 * (intid / 32) as usize,
        1 << (intid % 32),
    );
    if VERSION.load(Ordering::Relaxed) == 3 {
        wait_rwp(gicd);
    }
}

/// Configures SPI `spi` (group, priority, trigger, routed to the boot CPU) and enables it.
/// Configured while disabled, as the architecture asks for GICD_ICFGR.
fn enable_spi(spi: dtb::Spi, priority: u8) -> Result<(), &'static str> {
    let version = VERSION.load(Ordering::Acquire);
    let gicd = GICD.load(Ordering::Relaxed);
    if version == 0 || gicd == 0 {
        return Err("the distributor is not set up");
    }
    let intid = spi.intid;
    let lines = ((read32(gicd + GICD_TYPER) & 0x1f) + 1) * 32;
    if !(32..lines.min(INTID_SPECIAL)).contains(&intid) {
        return Err("not an SPI this distributor implements");
    }
    let word = 4 * (intid / 32) as usize;
    let bit = 1u32 << (intid % 32);
    write32(gicd + GICD_ICENABLER + word, bit);
    if version == 3 {
        wait_rwp(gicd);
    }
    // Group 1 on GICv3 (IRQ at EL1, like the PPIs and SGIs), Group 0 on GICv2 (signalled as
    // IRQ while GICC_CTLR.FIQEn is 0).
    let groups = read32(gicd + GICD_IGROUPR + word);
    let groups = if version == 3 {
        groups | bit
    } else {
        groups & !bit
    };
    write32(gicd + GICD_IGROUPR + word, groups);
    write8(gicd + GICD_IPRIORITYR + intid as usize, priority);
    let cfg_addr = gicd + GICD_ICFGR + 4 * (intid / 16) as usize;
    let edge = 2u32 << (2 * (intid % 16));
    let cfg = read32(cfg_addr);
    write32(cfg_addr, if spi.edge { cfg | edge } else { cfg & !edge });
    let boot_cpu = percpu::of(0);
    if version == 3 {
        // Aff3 in bits 39:32 and Aff2..Aff0 in 23:0, as in MPIDR; IRM (bit 31) = 0.
        let affinity = boot_cpu.mpidr.load(Ordering::Relaxed) & percpu::MPIDR_AFFINITY;
        write64(gicd + GICD_IROUTER + 8 * intid as usize, affinity);
    } else {
        let target = boot_cpu.gicv2_target.load(Ordering::Relaxed) as u8;
        write8(gicd + GICD_ITARGETSR + intid as usize, target);
    }
    write32(gicd + GICD_ISENABLER + word, bit);
    Ok(())
}

/// Raises the IPI on CPU `cpu` (an index whose per-CPU block holds its MPIDR / GICv2
/// target bit; may be the caller's). Any context, IRQs on or off. Earlier memory writes
/// are visible to the target's handler (DSB before the SGI is generated).
pub fn send_ipi(cpu: usize) {
    let block = percpu::of(cpu);
    match VERSION.load(Ordering::Acquire) {
        3 => {
            let mpidr = block.mpidr.load(Ordering::Relaxed);
            let aff0 = mpidr & 0xff;
            let aff1 = (mpidr >> 8) & 0xff;
            let aff2 = (mpidr >> 16) & 0xff;
            let aff3 = (mpidr >> 32) & 0xff;
            // ICC_SGI1R_EL1: TargetList (bit Aff0 % 16), Aff1, INTID, Aff2, RS (Aff0 / 16),
            // Aff3; IRM = 0 (only the listed CPU).
            let sgi = (1u64 << (aff0 & 0xf))
                | (aff1 << 16)
                | (u64::from(IPI_INTID) << 24)
                | (aff2 << 32)
                | ((aff0 >> 4) << 44)
                | (aff3 << 48);
            // SAFETY: a barrier, then a write to ICC_SGI1R_EL1, which only raises an SGI
            // (the CPU interface's system registers are enabled on every online CPU).
            unsafe {
                core::arch::asm!(
                    "dsb ishst",
                    "msr S3_0_C12_C11_5, {}",
                    "isb",
                    in(reg) sgi,
                    options(nostack, preserves_flags)
                )
            };
        }
        2 => {
            let target = block.gicv2_target.load(Ordering::Relaxed) & 0xff;
            // SAFETY: a barrier only: the writes before it reach the target first.
            unsafe { core::arch::asm!("dsb ishst", options(nostack, preserves_flags)) };
            // TargetListFilter = 0 (the list), CPUTargetList, NSATT = 0, SGIINTID.
            write32(
                GICD.load(Ordering::Relaxed) + GICD_SGIR,
                (target << 16) | IPI_INTID,
            );
        }
        _ => {}
    }
}

/// Acknowledges the highest-priority pending interrupt: `(INTID, value for EOI)`.
fn acknowledge() -> (u32, u64) {
    match VERSION.load(Ordering::Relaxed) {
        3 => {
            let iar: u64 = sysreg_read!("S3_0_C12_C12_0");
            ((iar & 0xff_ffff) as u32, iar)
        }
        2 => {
            let iar = read32(GICC.load(Ordering::Relaxed) + GICC_IAR);
            (iar & 0x3ff, u64::from(iar))
        }
        _ => (INTID_SPECIAL + 3, 0),
    }
}

fn end_of_interrupt(eoi: u64) {
    match VERSION.load(Ordering::Relaxed) {
        3 => sysreg_write!("S3_0_C12_C12_1", eoi),
        2 => write32(GICC.load(Ordering::Relaxed) + GICC_EOIR, eoi as u32),
        _ => {}
    }
}

/// The interrupt lines of the timer, the PL011's receive interrupt and the kernel IPI
/// (`arch::irq_line_numbers`).
pub fn fixed_lines() -> [u32; 3] {
    [
        TIMER_INTID.load(Ordering::Relaxed),
        UART_INTID.load(Ordering::Relaxed),
        IPI_INTID,
    ]
}

/// The IRQ vector's handler, from EL0 or EL1, with IRQs masked.
pub fn handle_irq() {
    let (intid, eoi) = acknowledge();
    if intid >= INTID_SPECIAL {
        // Spurious: withdrawn before it was acknowledged; no EOI.
        if SPURIOUS.fetch_add(1, Ordering::Relaxed) == 0 {
            log::debug!("gic: spurious interrupt {intid}");
        }
        return;
    }
    if intid == TIMER_INTID.load(Ordering::Relaxed) {
        let ticked = timer::rearm_tick();
        // EOI before anything that might switch threads, so the next tick is not held
        // back by this one's active state.
        end_of_interrupt(eoi);
        if ticked {
            crate::traps::timer_tick();
        }
        return;
    }
    if intid == UART_INTID.load(Ordering::Relaxed) {
        if UART_IRQS.fetch_add(1, Ordering::Relaxed) == 0 {
            log::debug!("gic: first PL011 receive interrupt (INTID {intid})");
        }
        // Level-sensitive: clear the UART's interrupt status, drain the FIFO (which drops
        // the line), and only then EOI, so the EOI does not find the line still high and
        // make it pending again. Draining only wakes threads, never switches.
        serial::rx_interrupt_ack();
        crate::traps::serial_irq();
        serial::rx_interrupt_done();
        end_of_interrupt(eoi);
        return;
    }
    if let Some(d) = DEVICE_SPIS
        .iter()
        .find(|d| d.intid.load(Ordering::Acquire) == intid)
    {
        // Level: keep the line from firing again until the driver quietened the device.
        if d.level.load(Ordering::Relaxed) {
            mask_spi(intid);
        }
        end_of_interrupt(eoi);
        crate::traps::device_irq(intid);
        if let Some(handler) = d.handler.get() {
            handler();
        }
        return;
    }
    end_of_interrupt(eoi);
    if intid == IPI_INTID {
        crate::traps::ipi();
        return;
    }
    log::warn!("gic: unexpected interrupt {intid}");
}
