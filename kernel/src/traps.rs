//! Generic trap bookkeeping shared by both architectures' trap handlers.
//!
//! The arch layer decodes the hardware state; this module counts what was seen, so tests
//! can check that a trap really went through the handler and came back, and lists the
//! work each timer tick does.

use core::sync::atomic::{AtomicU64, Ordering};

static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);

/// The periodic timer interrupt on each CPU (interrupts off): count it, collect typed
/// input (boot CPU), then let the scheduler count the tick.
pub fn timer_tick() {
    let cpu = crate::arch::cpu_id();
    crate::smp::stats(cpu).ticks.fetch_add(1, Ordering::Relaxed);
    if cpu == 0 {
        // Also polled here: a byte whose interrupt was missed (or a UART without one)
        // still arrives within a tick.
        serial_irq();
    }
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
    // A reschedule request needs nothing here: the sender set this CPU's resched flag,
    // which the return to user mode or the idle loop acts on.
    crate::mm::tlb::serve();
}

/// The serial port's receive interrupt (interrupts off, boot CPU): collect typed input.
pub fn serial_irq() {
    crate::console::input::poll();
}
