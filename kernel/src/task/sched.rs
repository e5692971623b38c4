//! The scheduler: six priority classes, round robin within a class, timer preemption of
//! user mode, sleeping and blocking, and direct hand-off switches for IPC.
//!
//! The kernel is not preemptible: a timer tick only marks that a switch is due, and the
//! switch happens when the interrupted thread returns to user mode, yields, blocks, or is
//! the idle thread. One run-queue lock guards all queues; it is taken with interrupts off
//! ([`lock_rq`], like an `IrqMutex`) and never held across a context switch. Per-CPU queues and load
//! balancing arrive with SMP (issue 6); the structure already keeps one queue set per CPU.
//!
//! [`block_and_switch`] is the IPC fast path's switch: a thread that blocks right after
//! waking another (a caller that handed its message to a waiting server, a server that
//! replied) runs that thread next without a trip through the ready queue, unless a thread
//! of a higher class is ready. The woken thread takes over the rest of the blocked
//! thread's turn; the tick still preempts it for ready threads of its own class.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

use wayos_abi::sched::CLASSES;

use super::thread::{State, Thread};
use crate::arch;
use spin::{Mutex, MutexGuard};

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

    /// The next thread to run: the first of the highest non-empty class, else idle.
    fn pick(&mut self) -> Arc<Thread> {
        match self.ready.iter_mut().find_map(VecDeque::pop_front) {
            Some(t) => t,
            None => self.idle.clone().expect("idle thread"),
        }
    }

    fn has_ready_at_or_above(&self, class: usize) -> bool {
        self.ready[..=class.min(CLASSES - 1)]
            .iter()
            .any(|q| !q.is_empty())
    }

    /// True when a thread of a class strictly higher than `class` is ready.
    fn has_ready_above(&self, class: usize) -> bool {
        self.ready[..class.min(CLASSES)]
            .iter()
            .any(|q| !q.is_empty())
    }

    /// Takes a blocked or sleeping `t` off the sleeper list so it can run; false if it is
    /// already ready, running or dead.
    fn unblock(&mut self, t: &Arc<Thread>) -> bool {
        match t.state() {
            State::Blocked => true,
            State::Sleeping => {
                self.sleepers.retain(|s| !Arc::ptr_eq(s, t));
                true
            }
            _ => false,
        }
    }

    /// Queues an unblocked thread as ready; asks for a switch if it outranks the running one.
    fn enqueue_woken(&mut self, t: Arc<Thread>) {
        t.set_state(State::Ready);
        let class = t.class();
        if self.current.as_ref().is_none_or(|c| class < c.class()) {
            NEED_RESCHED.store(true, Ordering::Relaxed);
        }
        self.ready[class].push_back(t);
    }
}

static RQ: Mutex<RunQueue> = Mutex::new(RunQueue::new());

/// The run queue, locked with interrupts off (restored when the guard drops). The switch
/// paths, which keep interrupts off across the switch, lock `RQ` directly.
fn lock_rq() -> RqGuard {
    let were_enabled = arch::interrupts_enabled();
    arch::disable_interrupts();
    RqGuard {
        guard: Some(RQ.lock()),
        were_enabled,
    }
}

struct RqGuard {
    guard: Option<MutexGuard<'static, RunQueue>>,
    were_enabled: bool,
}

impl core::ops::Deref for RqGuard {
    type Target = RunQueue;
    fn deref(&self) -> &RunQueue {
        self.guard.as_ref().expect("guard present until drop")
    }
}

impl core::ops::DerefMut for RqGuard {
    fn deref_mut(&mut self) -> &mut RunQueue {
        self.guard.as_mut().expect("guard present until drop")
    }
}

impl Drop for RqGuard {
    fn drop(&mut self) {
        self.guard.take();
        if self.were_enabled {
            arch::enable_interrupts();
        }
    }
}

/// The running thread: the thread `RunQueue::current` holds, readable without the lock.
/// Changed only together with `current`, under the run-queue lock.
static CURRENT: AtomicPtr<Thread> = AtomicPtr::new(core::ptr::null_mut());
static NEED_RESCHED: AtomicBool = AtomicBool::new(false);
/// Set when the dead list has threads to free, so a switch does not take the lock for it.
static DEAD_PENDING: AtomicBool = AtomicBool::new(false);
static TICKS: AtomicU64 = AtomicU64::new(0);
static SWITCHES: AtomicU64 = AtomicU64::new(0);

/// Makes the running boot context the idle thread; called once before anything else.
pub fn init() {
    let idle = Thread::adopt_boot_context();
    let mut rq = lock_rq();
    CURRENT.store(Arc::as_ptr(&idle).cast_mut(), Ordering::Relaxed);
    rq.current = Some(idle.clone());
    rq.idle = Some(idle);
}

/// The running thread.
pub fn current() -> Arc<Thread> {
    let t = CURRENT.load(Ordering::Relaxed);
    assert!(!t.is_null(), "scheduler not initialised");
    // SAFETY: `CURRENT` is the pointer of the `Arc` in `RunQueue::current`, which keeps the
    // thread alive while it runs. Only a switch on this CPU changes it, and a switch away
    // from the thread reading it cannot happen during this read, so the count this adds
    // is to a live `Arc`.
    unsafe {
        Arc::increment_strong_count(t);
        Arc::from_raw(t)
    }
}

/// Makes a new or woken thread runnable.
pub fn make_ready(t: Arc<Thread>) {
    lock_rq().enqueue_woken(t);
}

/// Wakes a blocked or sleeping thread; harmless on one that is already runnable.
pub fn wake(t: &Arc<Thread>) {
    let mut rq = lock_rq();
    if rq.unblock(t) {
        rq.enqueue_woken(t.clone());
    }
}

/// Gives up the CPU to another ready thread of the same or a higher class.
pub fn yield_now() {
    schedule();
}

/// Blocks the current thread until someone calls [`wake`] on it. The caller must already
/// have made itself findable (e.g. on a wait queue) with interrupts off, so no wake-up can
/// be lost between that and this call.
pub fn block_current() {
    let were_enabled = arch::interrupts_enabled();
    arch::disable_interrupts();
    block_and_switch(None, None);
    if were_enabled {
        arch::enable_interrupts();
    }
}

/// Blocks the current thread — until [`wake`], or with `wake_at` also until the tick
/// finds the monotonic clock past it — and runs `next` in its place if it is blocked or
/// sleeping and no thread of a higher class is ready (else `next` is woken normally).
///
/// Interrupts must be off (and stay off): the caller has made itself findable with
/// them off, as for [`block_current`]. `next` is a thread the caller just handed
/// something to (IPC): running it at once skips the ready queue and the pick.
pub fn block_and_switch(next: Option<Arc<Thread>>, wake_at: Option<u64>) {
    debug_assert!(!arch::interrupts_enabled());
    let mut rq = RQ.lock();
    let prev = rq.current.take().expect("scheduler initialised");
    match wake_at {
        Some(t) => {
            prev.wake_at.store(t, Ordering::Relaxed);
            prev.set_state(State::Sleeping);
            rq.sleepers.push(prev.clone());
        }
        None => prev.set_state(State::Blocked),
    }
    let next = match next {
        Some(n) if rq.unblock(&n) => {
            let class = n.class();
            if rq.has_ready_above(class) {
                n.set_state(State::Ready);
                rq.ready[class].push_back(n);
                rq.pick()
            } else {
                n
            }
        }
        _ => rq.pick(),
    };
    switch_to(rq, prev, next);
}

fn current_set_state(s: State) {
    let rq = lock_rq();
    if let Some(c) = &rq.current {
        c.set_state(s);
    }
}

/// Sleeps until the monotonic clock reaches `deadline_ns`.
pub fn sleep_until(deadline_ns: u64) {
    let were_enabled = arch::interrupts_enabled();
    arch::disable_interrupts();
    if arch::uptime_ns() < deadline_ns {
        block_and_switch(None, Some(deadline_ns));
    }
    if were_enabled {
        arch::enable_interrupts();
    }
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
    let mut rq = lock_rq();
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
    let mut rq = RQ.lock();
    let prev = rq.current.take().expect("scheduler initialised");
    let prev_is_idle = rq.idle.as_ref().is_some_and(|i| Arc::ptr_eq(i, &prev));
    // Requeue a preempted or yielding thread before picking, so a thread of a higher
    // class than everything else that is ready keeps the CPU.
    if prev.state() == State::Running && !prev_is_idle {
        prev.set_state(State::Ready);
        let class = prev.class();
        rq.ready[class].push_back(prev.clone());
    }
    let next = rq.pick();
    switch_to(rq, prev, next);
    if were_enabled {
        arch::enable_interrupts();
    }
}

/// Makes `next` the running thread and switches to it from `prev` (the thread running
/// until now, already taken out of `rq.current` and put wherever its state says: a ready
/// queue, the sleeper list, a wait list, or nowhere if dead). Interrupts are off; the
/// lock is released before the switch.
#[inline(always)]
fn switch_to(mut rq: MutexGuard<'_, RunQueue>, prev: Arc<Thread>, next: Arc<Thread>) {
    next.set_state(State::Running);
    if Arc::ptr_eq(&prev, &next) {
        rq.current = Some(prev);
        return;
    }
    match prev.state() {
        // The idle thread is never queued; it waits in `RunQueue::idle`.
        State::Running => prev.set_state(State::Ready),
        State::Dead => {
            rq.dead.push(prev.clone());
            DEAD_PENDING.store(true, Ordering::Relaxed);
        }
        _ => {}
    }
    SWITCHES.fetch_add(1, Ordering::Relaxed);
    // SAFETY: interrupts are off and both threads stay allocated across the switch: prev
    // is held by a ready queue, the sleeper list, a wait list or the dead list, next by
    // `rq.current`. Only this CPU touches their contexts and FP areas now.
    let (prev_ctx, next_ctx) = unsafe {
        if let Some(f) = (*prev.fpu_ptr()).as_mut() {
            f.save();
        }
        if let Some(f) = (*next.fpu_ptr()).as_ref() {
            f.restore();
        }
        (prev.context_ptr(), next.context_ptr())
    };
    if let Some((lo, top)) = next.stack_bounds() {
        arch::set_kernel_stack(top);
        crate::backtrace::set_stack_bounds(lo, top);
    }
    if let Some(p) = &next.process {
        p.activate();
    }
    CURRENT.store(Arc::as_ptr(&next).cast_mut(), Ordering::Relaxed);
    rq.current = Some(next);
    drop(rq);
    drop(prev);
    // SAFETY: interrupts are off; both contexts stay allocated (see above).
    unsafe { arch::switch(&mut *prev_ctx, &*next_ctx) };
    finish_switch_inner();
}

/// Called by a thread right after it is switched to for the first time.
pub fn finish_switch() {
    finish_switch_inner();
    arch::enable_interrupts();
}

#[inline(always)]
fn finish_switch_inner() {
    if DEAD_PENDING.load(Ordering::Relaxed) {
        free_dead();
    }
}

#[cold]
fn free_dead() {
    let dead = {
        let mut rq = lock_rq();
        DEAD_PENDING.store(false, Ordering::Relaxed);
        core::mem::take(&mut rq.dead)
    };
    drop(dead);
}

/// The idle loop: wait for an interrupt, switch when something became ready.
pub fn idle_loop() -> ! {
    loop {
        if need_resched() || !lock_rq().ready.iter().all(VecDeque::is_empty) {
            schedule();
        }
        arch::wait_for_interrupt();
    }
}
