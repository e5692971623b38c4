//! The local APIC (xAPIC, MMIO): each CPU's timer (the scheduler's tick), end of
//! interrupt, and inter-processor interrupts (INIT/SIPI for start-up, fixed-vector IPIs).
//!
//! TCG has no x2APIC and no TSC-deadline mode, so the timer runs in periodic mode. It is
//! calibrated once, on the boot CPU, against the ACPI PM timer when the FADT names one,
//! else against the already calibrated TSC; secondary CPUs reuse that count. The register
//! page sits at the same physical address on every CPU and each CPU reaches its own LAPIC
//! through it, so one mapping serves all.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use super::acpi::{self, PmTimer};
use super::port::inl;
use super::trap::{VEC_SPURIOUS, VEC_TIMER};
use super::tsc;
use wayos_kcore::paging::PhysAddr;

const DEFAULT_LAPIC_PHYS: u64 = 0xfee0_0000;
const REG_ID: usize = 0x20;
const REG_TPR: usize = 0x80;
const REG_EOI: usize = 0xb0;
const REG_SVR: usize = 0xf0;
const REG_ICR_LOW: usize = 0x300;
const REG_ICR_HIGH: usize = 0x310;
const REG_LVT_TIMER: usize = 0x320;
const REG_TIMER_INIT: usize = 0x380;
const REG_TIMER_CURRENT: usize = 0x390;
const REG_TIMER_DIVIDE: usize = 0x3e0;
const TIMER_PERIODIC: u32 = 1 << 17;
const LVT_MASKED: u32 = 1 << 16;
const DIVIDE_BY_16: u32 = 0b0011;
const SVR_ENABLE: u32 = 1 << 8;

const ICR_DELIVERY_PENDING: u32 = 1 << 12;
const ICR_FIXED: u32 = 0b000 << 8;
const ICR_INIT: u32 = 0b101 << 8;
const ICR_STARTUP: u32 = 0b110 << 8;
const ICR_ASSERT: u32 = 1 << 14;
const ICR_LEVEL: u32 = 1 << 15;

/// The ACPI PM timer's rate.
const PM_TIMER_HZ: u64 = 3_579_545;
/// Calibration window.
const CALIBRATION_NS: u64 = 10_000_000;

static BASE: AtomicUsize = AtomicUsize::new(0);
/// Timer initial count giving the tick rate, measured once on the boot CPU.
static INITIAL_COUNT: AtomicU32 = AtomicU32::new(0);

fn reg(offset: usize) -> *mut u32 {
    (BASE.load(Ordering::Relaxed) + offset) as *mut u32
}

fn read(offset: usize) -> u32 {
    // SAFETY: BASE maps the LAPIC's 4 KiB register page; offsets are register offsets.
    unsafe { reg(offset).read_volatile() }
}

fn write(offset: usize, value: u32) {
    // SAFETY: as for `read`.
    unsafe { reg(offset).write_volatile(value) }
}

/// A reader of the ACPI PM timer counter and its width in bits.
struct PmCounter {
    read: fn(usize) -> u32,
    arg: usize,
    mask: u32,
}

fn pm_read_port(port: usize) -> u32 {
    // SAFETY: the FADT names this port as the PM timer's; reading it has no side effect.
    unsafe { inl(port as u16) }
}

fn pm_read_mmio(va: usize) -> u32 {
    // SAFETY: `va` maps the PM timer register (mapped in `pm_counter`); reads are harmless.
    unsafe { (va as *const u32).read_volatile() }
}

fn pm_counter() -> Option<PmCounter> {
    let timer = acpi::platform()?.pm_timer?;
    let (read, arg, bits32): (fn(usize) -> u32, usize, bool) = match timer {
        PmTimer::Port { port, bits32 } => (pm_read_port, usize::from(port), bits32),
        PmTimer::Mmio { phys, bits32 } => (
            pm_read_mmio,
            crate::mm::mmio(PhysAddr::new(phys), 4).as_u64() as usize,
            bits32,
        ),
    };
    let mask = if bits32 { u32::MAX } else { 0x00ff_ffff };
    Some(PmCounter { read, arg, mask })
}

/// Timer counts (at divide-by-16) in `CALIBRATION_NS`, measured against the PM timer,
/// or `None` if there is none or it does not run.
fn measure_with_pm_timer() -> Option<u32> {
    let pm = pm_counter()?;
    let want = PM_TIMER_HZ * CALIBRATION_NS / 1_000_000_000;
    let elapsed = |from: u32| ((pm.read)(pm.arg).wrapping_sub(from) & pm.mask) as u64;
    // Start on a counter edge so the window is not short by part of a tick.
    let first = (pm.read)(pm.arg);
    let mut start = first;
    let deadline = tsc::uptime_ns() + 4 * CALIBRATION_NS;
    while start == first {
        start = (pm.read)(pm.arg);
        if tsc::uptime_ns() > deadline {
            log::warn!("lapic: the ACPI PM timer does not advance; calibrating with the TSC");
            return None;
        }
    }
    write(REG_TIMER_INIT, u32::MAX);
    while elapsed(start) < want {
        if tsc::uptime_ns() > deadline + 4 * CALIBRATION_NS {
            log::warn!("lapic: the ACPI PM timer stalled; calibrating with the TSC");
            return None;
        }
        core::hint::spin_loop();
    }
    Some(u32::MAX - read(REG_TIMER_CURRENT))
}

fn measure_with_tsc() -> u32 {
    write(REG_TIMER_INIT, u32::MAX);
    let start = tsc::uptime_ns();
    while tsc::uptime_ns() - start < CALIBRATION_NS {
        core::hint::spin_loop();
    }
    u32::MAX - read(REG_TIMER_CURRENT)
}

/// Maps the LAPIC, enables it on the boot CPU, calibrates its timer and starts it at `hz`
/// interrupts per second.
pub fn init(hz: u32) {
    let phys = acpi::platform().map_or(DEFAULT_LAPIC_PHYS, |p| p.lapic_phys);
    let base = crate::mm::mmio(PhysAddr::new(phys), 4096);
    BASE.store(base.as_u64() as usize, Ordering::Relaxed);
    enable();
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, LVT_MASKED); // masked, one-shot
    let (per_10ms, source) = match measure_with_pm_timer() {
        Some(n) => (n, "ACPI PM timer"),
        None => (measure_with_tsc(), "TSC"),
    };
    let initial = (u64::from(per_10ms) * 100 / u64::from(hz.max(1))).clamp(1, u64::from(u32::MAX));
    INITIAL_COUNT.store(initial as u32, Ordering::Relaxed);
    start_timer();
    log::info!(
        "lapic: id {}, timer {} kHz bus/16 (calibrated against the {source}), {} Hz tick",
        id(),
        u64::from(per_10ms) / 10,
        hz
    );
}

/// Software-enables the running CPU's LAPIC and lets every interrupt priority through.
fn enable() {
    write(REG_SVR, SVR_ENABLE | VEC_SPURIOUS as u32);
    write(REG_TPR, 0);
}

fn start_timer() {
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, TIMER_PERIODIC | VEC_TIMER as u32);
    write(REG_TIMER_INIT, INITIAL_COUNT.load(Ordering::Relaxed));
}

/// Enables a secondary CPU's LAPIC and starts its timer at the boot CPU's rate.
pub fn init_secondary() {
    enable();
    start_timer();
}

/// The running CPU's APIC id.
pub fn id() -> u32 {
    read(REG_ID) >> 24
}

pub fn eoi() {
    write(REG_EOI, 0);
}

/// Sends an ICR command to APIC id `dest` with interrupts masked (the two register writes
/// must not be split by a handler that sends its own IPI), waiting for the previous and
/// this command to leave the LAPIC. False if the LAPIC stays busy (logged).
fn send_icr(dest: u32, low: u32) -> bool {
    let irq = crate::arch::IrqGuard::new();
    let ok = wait_idle() && {
        write(REG_ICR_HIGH, dest << 24);
        write(REG_ICR_LOW, low);
        wait_idle()
    };
    drop(irq);
    if !ok {
        log::warn!("lapic: IPI {low:#x} to APIC id {dest} stuck pending");
    }
    ok
}

fn wait_idle() -> bool {
    // Delivery takes a bus message at most; a million reads is far beyond that.
    for _ in 0..1_000_000 {
        if read(REG_ICR_LOW) & ICR_DELIVERY_PENDING == 0 {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}

/// A fixed-vector interrupt to APIC id `dest` (which may be the running CPU).
pub fn send_fixed(dest: u32, vector: u8) -> bool {
    send_icr(dest, ICR_FIXED | ICR_ASSERT | u32::from(vector))
}

/// INIT (level, assert) to APIC id `dest`: resets it into wait-for-SIPI.
pub fn send_init(dest: u32) -> bool {
    send_icr(dest, ICR_INIT | ICR_LEVEL | ICR_ASSERT)
}

/// Start-up IPI to APIC id `dest`: it begins in real mode at physical `page << 12`.
pub fn send_startup(dest: u32, page: u8) -> bool {
    send_icr(dest, ICR_STARTUP | ICR_ASSERT | u32::from(page))
}
