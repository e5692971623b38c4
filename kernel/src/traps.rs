//! Generic trap bookkeeping shared by both architectures' trap handlers.
//!
//! The arch layer decodes the hardware state; this module counts what was seen, so tests
//! can check that a trap really went through the handler and came back, and lists the
//! work each timer tick does.

use core::sync::atomic::{AtomicU64, Ordering};

static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);

/// The periodic timer interrupt (interrupts off): collect typed input, then let the
/// scheduler count the tick.
pub fn timer_tick() {
    crate::smp::stats(crate::arch::cpu_id())
        .ticks
        .fetch_add(1, Ordering::Relaxed);
    if crate::arch::cpu_id() != 0 {
        return;
    }
    crate::console::input::poll();
    crate::task::sched::timer_tick();
}

/// Called by the arch trap handler for a software breakpoint it is about to return from.
pub fn record_breakpoint(pc: usize) {
    BREAKPOINTS.fetch_add(1, Ordering::Relaxed);
    log::debug!("breakpoint trap at {pc:#x}");
}

pub fn breakpoints_seen() -> u64 {
    BREAKPOINTS.load(Ordering::Relaxed)
}

/// The kernel's inter-processor interrupt (interrupts off): whatever other CPUs asked
/// this one to do (reschedule, flush its TLB).
pub fn ipi() {
    crate::smp::stats(crate::arch::cpu_id())
        .ipis
        .fetch_add(1, Ordering::Relaxed);
}

/// The serial port's receive interrupt (interrupts off, boot CPU): collect typed input.
pub fn serial_irq() {
    crate::console::input::poll();
}
