//! The clock: uptime from the ARM generic timer's virtual counter (CNTVCT_EL0) and its
//! frequency (CNTFRQ_EL0, 62.5 MHz on QEMU 7.2 `virt`; always read, never assumed).
//!
//! This module owns only reading the counter. It must never program the timer's compare
//! registers or interrupts; that belongs to the interrupt work that comes later.

use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::{Readable, CNTFRQ_EL0, CNTVCT_EL0};

/// Counter value at [`init`]; uptime counts from here.
static BOOT_TICKS: AtomicU64 = AtomicU64::new(0);
/// CNTFRQ_EL0 as read at [`init`] (0 until then).
static FREQUENCY_HZ: AtomicU64 = AtomicU64::new(0);

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
