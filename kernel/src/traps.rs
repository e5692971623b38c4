//! Generic trap bookkeeping shared by both architectures' trap handlers.
//!
//! The arch layer decodes the hardware state; this module counts what was seen, so tests
//! can check that a trap really went through the handler and came back, and lists the
//! work each timer tick does.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use wayos_abi::smp::MAX_CPUS;

static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);

/// The periodic timer interrupt on each CPU (interrupts off): count it, collect typed
/// input (boot CPU), then let the scheduler count the tick.
pub fn timer_tick() {
    let _irq = InInterrupt::enter();
    let cpu = crate::arch::cpu_id();
    crate::counters::fixed_irq(crate::counters::Fixed::Timer);
    crate::smp::stats(cpu).ticks.fetch_add(1, Ordering::Relaxed);
    if cpu == 0 {
        // Also polled here: a byte whose interrupt was missed (or a UART without one)
        // still arrives within a tick. (Not counted as a serial interrupt.)
        crate::console::input::poll();
    }
    crate::task::sched::timer_tick();
}

/// Interrupt handlers running on each CPU (nesting depth), so the heap can count
/// allocations made from one: there must be none (`allocations_in_interrupts`).
static IRQ_DEPTH: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];
/// Heap allocations made while an interrupt handler ran.
static IRQ_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Marks this CPU as in an interrupt handler until dropped.
struct InInterrupt(usize);

impl InInterrupt {
    fn enter() -> Self {
        let cpu = crate::arch::cpu_id();
        IRQ_DEPTH[cpu].fetch_add(1, Ordering::Relaxed);
        Self(cpu)
    }
}

impl Drop for InInterrupt {
    fn drop(&mut self) {
        IRQ_DEPTH[self.0].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Called by the heap on every allocation: counts it if an interrupt handler runs here.
pub fn note_allocation() {
    if IRQ_DEPTH[crate::arch::cpu_id()].load(Ordering::Relaxed) != 0 {
        IRQ_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Heap allocations interrupt handlers made since boot (a broken invariant if not 0).
pub fn allocations_in_interrupts() -> u64 {
    IRQ_ALLOCATIONS.load(Ordering::Relaxed)
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
    let _irq = InInterrupt::enter();
    crate::counters::fixed_irq(crate::counters::Fixed::Ipi);
    crate::smp::stats(crate::arch::cpu_id())
        .ipis
        .fetch_add(1, Ordering::Relaxed);
    // A reschedule request needs nothing here: the sender set this CPU's resched flag,
    // which the return to user mode or the idle loop acts on.
    crate::mm::tlb::serve();
}

/// The serial port's receive interrupt (interrupts off, boot CPU): collect typed input.
pub fn serial_irq() {
    let _irq = InInterrupt::enter();
    crate::counters::fixed_irq(crate::counters::Fixed::Serial);
    crate::console::input::poll();
}

/// A device interrupt on `line` is about to run its driver's handler (interrupts off):
/// count it for `stats(KIND_IRQS)`.
pub fn device_irq(line: u32) {
    crate::counters::device_irq(line);
}
