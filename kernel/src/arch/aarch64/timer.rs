//! The clock and the tick: uptime from the ARM generic timer's virtual counter
//! (CNTVCT_EL0) and its frequency (CNTFRQ_EL0, 62.5 MHz on QEMU 7.2 `virt`; always read,
//! never assumed), and the periodic scheduler tick from the EL1 virtual timer (CNTV).
//!
//! The tick is programmed through the absolute compare value (CNTV_CVAL_EL0), each rearm
//! adding one period to the previous deadline so ticks do not drift with interrupt latency
//! (a late tick skips ahead rather than firing a burst). The GIC side (routing the PPI,
//! acknowledging) is `gic.rs`'s. Every CPU has its own timer; all tick at the one period
//! [`start_tick`] set on the boot CPU.

use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::{
    Readable, Writeable, CNTFRQ_EL0, CNTVCT_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0,
};

/// Counter value at [`init`]; uptime counts from here.
static BOOT_TICKS: AtomicU64 = AtomicU64::new(0);
/// CNTFRQ_EL0 as read at [`init`] (0 until then).
static FREQUENCY_HZ: AtomicU64 = AtomicU64::new(0);
/// Counter ticks per scheduler tick (0: the tick is not running).
static PERIOD: AtomicU64 = AtomicU64::new(0);
/// CNTV_CTL_EL0.ENABLE (IMASK and ISTATUS clear).
const CNTV_CTL_ENABLE: u64 = 1;
/// CNTV_CTL_EL0.ISTATUS: the deadline has passed.
const CNTV_CTL_ISTATUS: u64 = 1 << 2;

/// Records the counter's value and frequency; called once, first thing on the boot CPU.
pub fn init() {
    FREQUENCY_HZ.store(CNTFRQ_EL0.get(), Ordering::Relaxed);
    BOOT_TICKS.store(ticks(), Ordering::Relaxed);
}

/// The counter frequency in Hz.
pub fn frequency_hz() -> u64 {
    match FREQUENCY_HZ.load(Ordering::Relaxed) {
        0 => CNTFRQ_EL0.get(),
        hz => hz,
    }
}

/// The virtual counter, read after an ISB so the read is not hoisted above earlier code.
fn ticks() -> u64 {
    // SAFETY: an instruction barrier has no memory or register effects.
    unsafe { core::arch::asm!("isb", options(nomem, nostack, preserves_flags)) };
    CNTVCT_EL0.get()
}

/// Monotonic nanoseconds since [`init`].
pub fn uptime_ns() -> u64 {
    let hz = frequency_hz();
    if hz == 0 {
        return 0;
    }
    let elapsed = ticks().wrapping_sub(BOOT_TICKS.load(Ordering::Relaxed));
    (u128::from(elapsed) * 1_000_000_000 / u128::from(hz)) as u64
}

/// Starts this (the boot) CPU's virtual timer firing every `1 / hz` seconds (its PPI must
/// be routed), and sets the period [`start_tick_here`] gives the other CPUs.
pub fn start_tick(hz: u32) {
    let period = (frequency_hz() / u64::from(hz.max(1))).max(1);
    PERIOD.store(period, Ordering::Relaxed);
    start_tick_here();
}

/// Starts the running CPU's virtual timer at the period [`start_tick`] chose (each CPU has
/// its own CNTV; the PPI must be routed on this CPU). Does nothing before `start_tick`.
pub fn start_tick_here() {
    let period = PERIOD.load(Ordering::Relaxed);
    if period == 0 {
        return;
    }
    CNTV_CVAL_EL0.set(ticks() + period);
    CNTV_CTL_EL0.set(CNTV_CTL_ENABLE);
}

/// Called from the timer interrupt: if the deadline has really passed (CNTV_CTL_EL0.ISTATUS;
/// a level interrupt may be seen once more after it was cleared), sets the next one a
/// period after it, which deasserts the line, and returns true: a tick happened.
pub fn rearm_tick() -> bool {
    let period = PERIOD.load(Ordering::Relaxed);
    if period == 0 {
        CNTV_CTL_EL0.set(0);
        return false;
    }
    if CNTV_CTL_EL0.get() & CNTV_CTL_ISTATUS == 0 {
        return false;
    }
    let now = ticks();
    let mut next = CNTV_CVAL_EL0.get().wrapping_add(period);
    if next <= now {
        next = now + period;
    }
    CNTV_CVAL_EL0.set(next);
    // SAFETY: an instruction barrier: the new deadline (and so the deasserted line) takes
    // effect before the interrupt is ended.
    unsafe { core::arch::asm!("isb", options(nomem, nostack, preserves_flags)) };
    true
}
