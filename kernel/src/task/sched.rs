//! The scheduler: six priority classes, round robin within a class, timer preemption of
//! user mode, sleeping and blocking.
//!
//! The kernel is not preemptible: a timer tick only marks that a switch is due, and the
//! switch happens when the interrupted thread returns to user mode, yields, blocks, or is
//! the idle thread. One run-queue lock ([`IrqMutex`]) guards all queues; it is taken with
//! interrupts off and never held across a context switch. Per-CPU queues and load
//! balancing arrive with SMP (issue 6); the structure already keeps one queue set per CPU.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use wayos_abi::sched::CLASSES;

use super::thread::{State, Thread};
use crate::arch;
use crate::sync::IrqMutex;

/// Scheduler tick rate.
pub const TICK_HZ: u32 = 100;

struct RunQueue {
    ready: [VecDeque<Arc<Thread>>; CLASSES],
    sleepers: Vec<Arc<Thread>>,
    current: Option<Arc<Thread>>,
    idle: Option<Arc<Thread>>,
    /// Threads that died; freed by the next thread to run (never on their own stack).
    dead: Vec<Arc<Thread>>,
}

impl RunQueue {
    const fn new() -> Self {
        Self {
            ready: [const { VecDeque::new() }; CLASSES],
            sleepers: Vec::new(),
            current: None,
            idle: None,
            dead: Vec::new(),
        }
    }

    fn pick(&mut self) -> Option<Arc<Thread>> {
        self.ready.iter_mut().find_map(VecDeque::pop_front)
    }

    fn has_ready_at_or_above(&self, class: usize) -> bool {
        self.ready[..=class.min(CLASSES - 1)]
            .iter()
            .any(|q| !q.is_empty())
    }
}

static RQ: IrqMutex<RunQueue> = IrqMutex::new(RunQueue::new());
static NEED_RESCHED: AtomicBool = AtomicBool::new(false);
static TICKS: AtomicU64 = AtomicU64::new(0);
static SWITCHES: AtomicU64 = AtomicU64::new(0);

/// Makes the running boot context the idle thread; called once before anything else.
pub fn init() {
    let idle = Thread::adopt_boot_context();
    let mut rq = RQ.lock();
    rq.current = Some(idle.clone());
    rq.idle = Some(idle);
}

/// The running thread.
pub fn current() -> Arc<Thread> {
    RQ.lock().current.clone().expect("scheduler initialised")
}

/// Makes a new or woken thread runnable.
pub fn make_ready(t: Arc<Thread>) {
    t.set_state(State::Ready);
    let class = t.class();
    let mut rq = RQ.lock();
    let preempt = rq.current.as_ref().is_none_or(|c| class < c.class());
    rq.ready[class].push_back(t);
    if preempt {
        NEED_RESCHED.store(true, Ordering::Relaxed);
    }
}

/// Wakes a blocked or sleeping thread; harmless on one that is already runnable.
pub fn wake(t: &Arc<Thread>) {
    let mut rq = RQ.lock();
    match t.state() {
        State::Blocked => {}
        State::Sleeping => rq.sleepers.retain(|s| !Arc::ptr_eq(s, t)),
        _ => return,
    }
    t.set_state(State::Ready);
    let class = t.class();
    if rq.current.as_ref().is_none_or(|c| class < c.class()) {
        NEED_RESCHED.store(true, Ordering::Relaxed);
    }
    rq.ready[class].push_back(t.clone());
}

/// Gives up the CPU to another ready thread of the same or a higher class.
pub fn yield_now() {
    schedule();
}

/// Blocks the current thread until someone calls [`wake`] on it. The caller must already
/// have made itself findable (e.g. on a wait queue) with interrupts off, so no wake-up can
/// be lost between that and this call.
pub fn block_current() {
    current_set_state(State::Blocked);
    schedule();
}

fn current_set_state(s: State) {
    let rq = RQ.lock();
    if let Some(c) = &rq.current {
        c.set_state(s);
    }
}

/// Sleeps until the monotonic clock reaches `deadline_ns`.
pub fn sleep_until(deadline_ns: u64) {
    {
        let mut rq = RQ.lock();
        let cur = rq.current.clone().expect("scheduler initialised");
        if arch::uptime_ns() >= deadline_ns {
            return;
        }
        cur.wake_at.store(deadline_ns, Ordering::Relaxed);
        cur.set_state(State::Sleeping);
        rq.sleepers.push(cur);
    }
    schedule();
}

/// Ends the current thread; its stack is freed by whoever runs next.
pub fn exit_current() -> ! {
    current_set_state(State::Dead);
    schedule();
    unreachable!("a dead thread was scheduled again");
}

/// Timer interrupt: counts the tick, wakes sleepers whose time came, asks for a switch
/// when a thread of the current class or higher is waiting.
pub fn timer_tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
    let now = arch::uptime_ns();
    let mut rq = RQ.lock();
    let mut i = 0;
    while i < rq.sleepers.len() {
        if rq.sleepers[i].wake_at.load(Ordering::Relaxed) <= now {
            let t = rq.sleepers.swap_remove(i);
            t.set_state(State::Ready);
            let class = t.class();
            rq.ready[class].push_back(t);
        } else {
            i += 1;
        }
    }
    if let Some(c) = &rq.current {
        c.ticks.fetch_add(1, Ordering::Relaxed);
        if rq.has_ready_at_or_above(c.class()) {
            NEED_RESCHED.store(true, Ordering::Relaxed);
        }
    }
}

/// True when a tick or a wake-up asked for a switch.
pub fn need_resched() -> bool {
    NEED_RESCHED.load(Ordering::Relaxed)
}

pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

pub fn switches() -> u64 {
    SWITCHES.load(Ordering::Relaxed)
}

/// Picks the next thread and switches to it. The current thread, if still running, goes
/// to the back of its class's queue; blocked, sleeping and dead ones are not requeued.
pub fn schedule() {
    let were_enabled = arch::interrupts_enabled();
    arch::disable_interrupts();
    NEED_RESCHED.store(false, Ordering::Relaxed);
    let switch = {
        let mut rq = RQ.lock();
        let prev = rq.current.take().expect("scheduler initialised");
        let still_running = prev.state() == State::Running;
        let idle = rq.idle.clone().expect("idle thread");
        let prev_is_idle = Arc::ptr_eq(&prev, &idle);
        // Requeue a preempted or yielding thread before picking, so a thread of a higher
        // class than everything else that is ready keeps the CPU.
        if still_running && !prev_is_idle {
            prev.set_state(State::Ready);
            let class = prev.class();
            rq.ready[class].push_back(prev.clone());
        }
        let next = match rq.pick() {
            Some(n) => n,
            None => idle.clone(),
        };
        if Arc::ptr_eq(&prev, &next) {
            prev.set_state(State::Running);
            rq.current = Some(prev);
            None
        } else {
            if prev_is_idle && still_running {
                prev.set_state(State::Ready);
            } else if prev.state() == State::Dead {
                rq.dead.push(prev.clone());
            }
            next.set_state(State::Running);
            rq.current = Some(next.clone());
            // SAFETY: interrupts are off and both threads are held by the run queue (prev
            // in a queue, the dead list or a wait list; next as current) across the switch.
            Some(unsafe { (prev.context_ptr(), prev.fpu_ptr(), next.clone()) })
        }
    };
    if let Some((prev_ctx, prev_fpu, next)) = switch {
        SWITCHES.fetch_add(1, Ordering::Relaxed);
        // SAFETY: see above; the FP areas belong to the threads being switched.
        unsafe {
            if let Some(f) = (*prev_fpu).as_mut() {
                f.save();
            }
            if let Some(f) = (*next.fpu_ptr()).as_ref() {
                f.restore();
            }
        }
        if let Some((lo, top)) = next.stack_bounds() {
            arch::set_kernel_stack(top);
            crate::backtrace::set_stack_bounds(lo, top);
        }
        if let Some(p) = &next.process {
            p.activate();
        }
        let next_ctx = {
            // SAFETY: as above.
            unsafe { next.context_ptr() }
        };
        drop(next);
        // SAFETY: interrupts are off; both contexts stay allocated (see above).
        unsafe { arch::switch(&mut *prev_ctx, &*next_ctx) };
        finish_switch_inner();
    }
    if were_enabled {
        arch::enable_interrupts();
    }
}

/// Called by a thread right after it is switched to for the first time.
pub fn finish_switch() {
    finish_switch_inner();
    arch::enable_interrupts();
}

fn finish_switch_inner() {
    let dead = core::mem::take(&mut RQ.lock().dead);
    drop(dead);
}

/// The idle loop: wait for an interrupt, switch when something became ready.
pub fn idle_loop() -> ! {
    loop {
        if need_resched() || !RQ.lock().ready.iter().all(VecDeque::is_empty) {
            schedule();
        }
        arch::wait_for_interrupt();
    }
}
