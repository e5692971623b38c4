//! The scheduler: six priority classes, round robin within a class, one run queue per
//! CPU, load balancing and migration between them, timer preemption of user mode,
//! sleeping and blocking, and direct hand-off switches for IPC.
//!
//! The kernel is not preemptible: a timer tick or a reschedule IPI only marks that a
//! switch is due, and the switch happens when the interrupted thread returns to user
//! mode, yields, blocks, or is the idle thread. Every CPU has its own queues, idle thread
//! and running thread; one scheduler lock ([`SCHED`]) guards all of them, taken with
//! interrupts off and never held across a context switch. (Per-CPU locks would cut
//! contention at more CPUs; with one lock, waking a thread onto another CPU, stealing and
//! migrating need no lock ordering between queues.)
//!
//! Where a thread runs: a new thread starts on an idle CPU (searched from a rotating
//! start, so new work spreads), else the least loaded; a woken thread goes to an idle CPU
//! it may run on (its last CPU first), else back to its last CPU; a CPU with nothing to run steals from the busiest
//! queue; every tick a CPU whose queue is two threads shorter than the busiest pulls
//! one. A CPU told about new work by another CPU gets a reschedule IPI.
//!
//! Switching safely across CPUs: a thread's `on_cpu` stays true until the CPU that ran it
//! has saved its context (cleared in [`finish_switch`] on that CPU). A CPU about to
//! switch to a thread that is still `on_cpu` elsewhere waits for it under the scheduler
//! lock; the CPU finishing that switch needs no lock, so the wait always ends. A wake-up
//! that finds its thread still running (it made itself findable, then was woken before
//! it blocked) sets `wake_pending`, and the block returns at once: every blocking caller
//! loops on its condition.
//!
//! Queues never allocate: ready queues, the sleeper list and the dead list are
//! [`ThreadQueue`]s linked through the threads themselves, because the timer interrupt
//! (waking sleepers, balancing) and wake-ups from interrupt handlers change them, and an
//! interrupt handler must never allocate (the heap's lock, and the PMM lock behind its
//! growth, may be held by the very code it interrupted).
//!
//! [`block_and_switch`] is the IPC fast path's switch: a thread that blocks right after
//! waking another (a caller that handed its message to a waiting server, a server that
//! replied) runs that thread next on this CPU without a trip through a ready queue, unless
//! a thread of a higher class is ready here or the woken thread may not run here.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

use wayos_abi::sched::CLASSES;
use wayos_abi::smp::MAX_CPUS;

use super::thread::{State, Thread};
use crate::arch::{self, IrqGuard};
use crate::sync::{Tracked, TrackedGuard};

/// Scheduler tick rate.
pub const TICK_HZ: u32 = 100;

/// A FIFO of threads linked through the threads themselves (`Thread::run_link`), so
/// queueing never allocates. A thread is on at most one queue at a time (ready on one CPU,
/// sleeping, or dead), and every queue lives under the scheduler lock.
struct ThreadQueue {
    head: Option<Arc<Thread>>,
    tail: Option<Arc<Thread>>,
    len: usize,
}

impl ThreadQueue {
    const fn new() -> Self {
        Self {
            head: None,
            tail: None,
            len: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push_back(&mut self, t: Arc<Thread>) {
        debug_assert!(t.run_link.lock().is_none(), "thread already queued");
        match self.tail.replace(t.clone()) {
            Some(last) => *last.run_link.lock() = Some(t),
            None => self.head = Some(t),
        }
        self.len += 1;
    }

    fn pop_front(&mut self) -> Option<Arc<Thread>> {
        let first = self.head.take()?;
        self.head = first.run_link.lock().take();
        if self.head.is_none() {
            self.tail = None;
        }
        self.len -= 1;
        Some(first)
    }

    /// Moves the threads `take` selects to `out`, in order; the rest stay, in order.
    fn extract(
        &mut self,
        mut take: impl FnMut(&Arc<Thread>) -> bool,
        mut out: impl FnMut(Arc<Thread>),
    ) {
        let mut keep = ThreadQueue::new();
        while let Some(t) = self.pop_front() {
            if take(&t) {
                out(t);
            } else {
                keep.push_back(t);
            }
        }
        *self = keep;
    }

    /// Takes `t` out of the queue; false if it was not on it.
    fn remove(&mut self, t: &Arc<Thread>) -> bool {
        let mut found = false;
        self.extract(|x| Arc::ptr_eq(x, t), |_| found = true);
        found
    }

    /// Takes out the last thread `pred` accepts.
    fn remove_last(&mut self, mut pred: impl FnMut(&Thread) -> bool) -> Option<Arc<Thread>> {
        let mut last = None;
        let mut cur = self.head.clone();
        while let Some(t) = cur {
            if pred(&t) {
                last = Some(t.clone());
            }
            cur = t.run_link.lock().clone();
        }
        let last = last?;
        self.remove(&last).then_some(last)
    }
}

impl Drop for ThreadQueue {
    /// Unlinks one thread at a time: dropping the chain as it is would recurse once per
    /// thread.
    fn drop(&mut self) {
        while self.pop_front().is_some() {}
    }
}

/// One CPU's share of the scheduler state (under [`SCHED`]).
struct CpuRq {
    ready: [ThreadQueue; CLASSES],
    nr_ready: usize,
    current: Option<Arc<Thread>>,
    idle: Option<Arc<Thread>>,
    /// Threads that died here; freed by the next thread to run here (never on their own
    /// stack).
    dead: ThreadQueue,
}

impl CpuRq {
    const fn new() -> Self {
        Self {
            ready: [const { ThreadQueue::new() }; CLASSES],
            nr_ready: 0,
            current: None,
            idle: None,
            dead: ThreadQueue::new(),
        }
    }

    fn pop(&mut self) -> Option<Arc<Thread>> {
        let t = self.ready.iter_mut().find_map(ThreadQueue::pop_front)?;
        self.nr_ready -= 1;
        Some(t)
    }

    fn push(&mut self, t: Arc<Thread>) {
        let class = t.class();
        self.ready[class].push_back(t);
        self.nr_ready += 1;
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

    fn running_idle(&self) -> bool {
        match (&self.current, &self.idle) {
            (Some(c), Some(i)) => Arc::ptr_eq(c, i),
            _ => false,
        }
    }

    fn is_idle_thread(&self, t: &Arc<Thread>) -> bool {
        self.idle.as_ref().is_some_and(|i| Arc::ptr_eq(i, t))
    }

    fn is_idle(&self) -> bool {
        self.nr_ready == 0 && self.running_idle()
    }

    /// Takes one thread that may run on `cpu` and is not on a CPU, lowest class last
    /// queued first (the one that waited least has the least to lose by moving).
    fn steal_for(&mut self, cpu: usize) -> Option<Arc<Thread>> {
        for q in self.ready.iter_mut() {
            let found = q.remove_last(|t| {
                t.affinity.load(Ordering::Relaxed) & (1 << cpu) != 0
                    && !t.on_cpu.load(Ordering::Acquire)
            });
            if found.is_some() {
                self.nr_ready -= 1;
                return found;
            }
        }
        None
    }
}

struct Sched {
    cpus: [CpuRq; MAX_CPUS],
    /// CPUs with an idle thread, i.e. able to run threads.
    online: u64,
    sleepers: ThreadQueue,
    /// No sleeper is due before this (a lower bound: a sleeper woken early leaves it
    /// as is), so most ticks do not walk the sleeper list.
    next_wake: u64,
}

impl Sched {
    const fn new() -> Self {
        Self {
            cpus: [const { CpuRq::new() }; MAX_CPUS],
            online: 0,
            sleepers: ThreadQueue::new(),
            next_wake: u64::MAX,
        }
    }

    /// The online CPUs `t` may run on (the boot CPU if its mask names none of them).
    fn allowed(&self, t: &Thread) -> u64 {
        match t.affinity.load(Ordering::Relaxed) & self.online {
            0 => self.online & 1,
            m => m,
        }
    }

    /// Where a thread that becomes ready should run.
    fn select_cpu(&self, t: &Thread) -> usize {
        let allowed = self.allowed(t);
        let last = t.cpu.load(Ordering::Relaxed) % MAX_CPUS;
        let may = |c: usize| allowed & (1 << c) != 0;
        if may(last) && self.cpus[last].is_idle() {
            return last;
        }
        if let Some(c) = (0..MAX_CPUS).find(|&c| may(c) && self.cpus[c].is_idle()) {
            return c;
        }
        if may(last) {
            return last;
        }
        allowed.trailing_zeros() as usize
    }

    /// Where a new thread should start: an idle CPU it may run on, looked for from a
    /// rotating start so new work spreads over the CPUs, else the least loaded one.
    fn select_cpu_new(&self, t: &Thread) -> usize {
        let allowed = self.allowed(t);
        let may = |c: usize| allowed & (1 << c) != 0;
        let start = NEXT_START.fetch_add(1, Ordering::Relaxed);
        let order = (0..MAX_CPUS).map(|k| (start + k) % MAX_CPUS);
        if let Some(c) = order.clone().find(|&c| may(c) && self.cpus[c].is_idle()) {
            return c;
        }
        order
            .filter(|&c| may(c))
            .min_by_key(|&c| self.cpus[c].nr_ready + usize::from(!self.cpus[c].running_idle()))
            .unwrap_or(0)
    }

    /// Queues `t` (ready now) on the CPU it should run on; marks that CPU for a
    /// reschedule if `t` outranks what runs there, and adds it to `kick` if that is
    /// another CPU.
    fn enqueue(&mut self, t: Arc<Thread>, kick: &mut u64) {
        let cpu = self.select_cpu(&t);
        self.enqueue_on(cpu, t, kick);
    }

    fn enqueue_on(&mut self, cpu: usize, t: Arc<Thread>, kick: &mut u64) {
        t.set_state(State::Ready);
        if t.cpu.swap(cpu, Ordering::Relaxed) != cpu {
            CPU[cpu].migrations.fetch_add(1, Ordering::Relaxed);
        }
        let rq = &mut self.cpus[cpu];
        let outranks =
            rq.running_idle() || rq.current.as_ref().is_none_or(|c| t.class() < c.class());
        rq.push(t);
        if outranks {
            CPU[cpu].need_resched.store(true, Ordering::Relaxed);
            if cpu != arch::cpu_id() {
                *kick |= 1 << cpu;
            }
        }
    }

    /// Wakes a blocked or sleeping `t`; a running one gets `wake_pending` instead.
    fn wake(&mut self, t: &Arc<Thread>, kick: &mut u64) {
        match t.state() {
            State::Blocked => {}
            State::Sleeping => {
                self.sleepers.remove(t);
            }
            State::Running => {
                t.wake_pending.store(true, Ordering::Release);
                return;
            }
            State::Ready | State::Dead => return,
        }
        self.enqueue(t.clone(), kick);
    }

    /// The next thread for `cpu`: its own queue, else one stolen from the busiest CPU,
    /// else its idle thread.
    fn pick(&mut self, cpu: usize) -> Arc<Thread> {
        if let Some(t) = self.cpus[cpu].pop() {
            return t;
        }
        if let Some(t) = self.steal(cpu) {
            return t;
        }
        self.cpus[cpu].idle.clone().expect("idle thread")
    }

    fn busiest_other(&self, cpu: usize) -> Option<usize> {
        (0..MAX_CPUS)
            .filter(|&c| c != cpu && self.online & (1 << c) != 0)
            .max_by_key(|&c| self.cpus[c].nr_ready)
            .filter(|&c| self.cpus[c].nr_ready > 0)
    }

    fn steal(&mut self, cpu: usize) -> Option<Arc<Thread>> {
        let from = self.busiest_other(cpu)?;
        let t = self.cpus[from].steal_for(cpu)?;
        t.cpu.store(cpu, Ordering::Relaxed);
        CPU[cpu].migrations.fetch_add(1, Ordering::Relaxed);
        Some(t)
    }

    /// Tick-time balancing: pull one thread from a CPU whose queue is at least two
    /// longer than ours.
    fn balance(&mut self, cpu: usize) {
        let Some(from) = self.busiest_other(cpu) else {
            return;
        };
        let mine = self.cpus[cpu].nr_ready + usize::from(!self.cpus[cpu].running_idle());
        let theirs = self.cpus[from].nr_ready + 1;
        if theirs < mine + 2 {
            return;
        }
        if let Some(t) = self.cpus[from].steal_for(cpu) {
            t.cpu.store(cpu, Ordering::Relaxed);
            CPU[cpu].migrations.fetch_add(1, Ordering::Relaxed);
            self.cpus[cpu].push(t);
            CPU[cpu].need_resched.store(true, Ordering::Relaxed);
        }
    }
}

static SCHED: Tracked<Sched> = Tracked::new(Sched::new(), &crate::sync::names::SCHED);

/// Per-CPU scheduler state read without the lock.
struct CpuLocal {
    /// The running thread: the pointer of the `Arc` in `CpuRq::current`, changed only
    /// together with it, under the lock, by this CPU.
    current: AtomicPtr<Thread>,
    need_resched: AtomicBool,
    /// Set when the dead list has threads to free, so a switch does not take the lock.
    dead_pending: AtomicBool,
    /// The thread this CPU just switched away from (a leaked `Arc`), whose `on_cpu` the
    /// next thread to run here clears.
    prev: AtomicPtr<Thread>,
    switches: AtomicU64,
    migrations: AtomicU64,
    /// The running thread's id, for other CPUs to read (`running_tid`).
    current_tid: AtomicU64,
}

impl CpuLocal {
    const fn new() -> Self {
        Self {
            current: AtomicPtr::new(core::ptr::null_mut()),
            need_resched: AtomicBool::new(false),
            dead_pending: AtomicBool::new(false),
            prev: AtomicPtr::new(core::ptr::null_mut()),
            switches: AtomicU64::new(0),
            migrations: AtomicU64::new(0),
            current_tid: AtomicU64::new(0),
        }
    }
}

static CPU: [CpuLocal; MAX_CPUS] = [const { CpuLocal::new() }; MAX_CPUS];

fn here() -> &'static CpuLocal {
    &CPU[arch::cpu_id()]
}

/// Ticks of the boot CPU: the system's tick count.
static TICKS: AtomicU64 = AtomicU64::new(0);

/// The scheduler lock with interrupts off. Fields drop in order: the lock is released
/// before interrupts are restored.
struct Locked {
    guard: TrackedGuard<'static, Sched>,
    _irq: IrqGuard,
}

fn lock() -> Locked {
    let irq = IrqGuard::new();
    Locked {
        guard: SCHED.lock(),
        _irq: irq,
    }
}

impl core::ops::Deref for Locked {
    type Target = Sched;
    fn deref(&self) -> &Sched {
        &self.guard
    }
}

impl core::ops::DerefMut for Locked {
    fn deref_mut(&mut self) -> &mut Sched {
        &mut self.guard
    }
}

/// Sends reschedule IPIs to the CPUs in `kick` (after the lock is released).
fn kick_cpus(kick: u64) {
    let mut m = kick;
    while m != 0 {
        let cpu = m.trailing_zeros() as usize;
        m &= m - 1;
        arch::send_ipi(cpu);
    }
}

/// Makes the running boot context this CPU's idle thread; called once per CPU before
/// anything else is scheduled there (the boot CPU from `task::init`, the others from
/// `smp`'s entry).
pub fn init_cpu() {
    let cpu = arch::cpu_id();
    let idle = Thread::adopt_boot_context();
    let mut s = lock();
    CPU[cpu]
        .current
        .store(Arc::as_ptr(&idle).cast_mut(), Ordering::Release);
    s.cpus[cpu].current = Some(idle.clone());
    s.cpus[cpu].idle = Some(idle);
    s.online |= 1 << cpu;
}

/// The running thread.
pub fn current() -> Arc<Thread> {
    let t = here().current.load(Ordering::Acquire);
    assert!(!t.is_null(), "scheduler not initialised");
    // SAFETY: `current` is the pointer of the `Arc` in this CPU's `CpuRq::current`, which
    // keeps the thread alive while it runs. Only a switch on this CPU changes it, and the
    // kernel is not preemptible, so no switch (and no migration of the reader) happens
    // during this read; the count this adds is to a live `Arc`.
    unsafe {
        Arc::increment_strong_count(t);
        Arc::from_raw(t)
    }
}

/// The running thread's id (0 before the scheduler runs), without touching its reference
/// count: for reports on the way to a panic.
pub fn current_tid() -> u64 {
    let t = here().current.load(Ordering::Acquire);
    if t.is_null() {
        return 0;
    }
    // SAFETY: as in `current`: the running thread is alive while it runs.
    unsafe { (*t).tid }
}

/// Records that the running thread entered syscall `num` (what it waits for, should it
/// block: `stats(KIND_THREADS)`). One store; no reference count is touched.
/// `cpu` is the running CPU.
#[inline(always)]
pub fn note_syscall(cpu: usize, num: usize) {
    let t = CPU[cpu % MAX_CPUS].current.load(Ordering::Relaxed);
    if !t.is_null() {
        // SAFETY: as in `current`: the running thread is alive while it runs.
        unsafe { (*t).wait.store(num as u32, Ordering::Relaxed) };
    }
}

/// The id of the thread running on `cpu` now (0: its idle thread, or none yet): who
/// holds a lock that CPU holds (`sync::LockStats`). Reads one word, no lock.
pub fn running_tid(cpu: usize) -> u64 {
    CPU[cpu % MAX_CPUS].current_tid.load(Ordering::Relaxed)
}

/// What the return to user mode must do first: (a switch is due here, the running
/// thread must end), read together.
#[inline]
pub fn user_return_work() -> (bool, bool) {
    let me = here();
    let t = me.current.load(Ordering::Acquire);
    // SAFETY: as in `current`: the running thread is alive while it runs.
    let exit = !t.is_null() && unsafe { (*t).exit_requested.load(Ordering::Relaxed) };
    (me.need_resched.load(Ordering::Relaxed), exit)
}

/// True when the running thread has been told to end (its process exits or execs).
pub fn current_exit_requested() -> bool {
    let t = here().current.load(Ordering::Acquire);
    // SAFETY: as in `current`: the running thread is alive while it runs.
    !t.is_null() && unsafe { (*t).exit_requested.load(Ordering::Relaxed) }
}

/// Where [`Sched::select_cpu_new`] starts looking next.
static NEXT_START: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Makes a new thread runnable, on an idle CPU if there is one.
pub fn make_ready(t: Arc<Thread>) {
    let mut kick = 0;
    let mut s = lock();
    let cpu = s.select_cpu_new(&t);
    // Starting somewhere is not a migration.
    t.cpu.store(cpu, Ordering::Relaxed);
    s.enqueue_on(cpu, t, &mut kick);
    drop(s);
    kick_cpus(kick);
}

/// Wakes a blocked or sleeping thread; harmless on one that is already runnable.
pub fn wake(t: &Arc<Thread>) {
    let mut kick = 0;
    lock().wake(t, &mut kick);
    kick_cpus(kick);
}

/// Gives up the CPU to another ready thread of the same or a higher class.
pub fn yield_now() {
    schedule();
}

/// Blocks the current thread until someone calls [`wake`] on it (or returns at once if
/// a wake-up already came: callers loop on their condition). The caller must already
/// have made itself findable (e.g. on a wait queue) with interrupts off.
pub fn block_current() {
    // Held across the switch: restored on whichever CPU this thread resumes on.
    let _irq = IrqGuard::new();
    block_and_switch(None, None);
}

/// Blocks the current thread — until [`wake`], or with `wake_at` also until the tick
/// finds the monotonic clock past it — and runs `next` in its place if it is blocked or
/// sleeping, may run on this CPU and no thread of a higher class is ready here (else
/// `next` is woken normally). Returns at once (waking `next`) if a wake-up for the
/// current thread came since it made itself findable.
///
/// Interrupts must be off (and stay off): the caller has made itself findable with
/// them off, as for [`block_current`]. `next` is a thread the caller just handed
/// something to (IPC): running it at once skips the ready queue and the pick.
pub fn block_and_switch(next: Option<Arc<Thread>>, wake_at: Option<u64>) {
    debug_assert!(!arch::interrupts_enabled());
    let cpu = arch::cpu_id();
    let mut kick = 0;
    let mut s = SCHED.lock();
    let prev = s.cpus[cpu].current.take().expect("scheduler initialised");
    // The idle thread never blocks (it must always be runnable); nor does a thread whose
    // wake-up already came. Callers loop on their condition.
    if prev.wake_pending.swap(false, Ordering::AcqRel) || s.cpus[cpu].is_idle_thread(&prev) {
        s.cpus[cpu].current = Some(prev);
        if let Some(n) = next {
            s.wake(&n, &mut kick);
        }
        drop(s);
        kick_cpus(kick);
        return;
    }
    match wake_at {
        Some(t) => {
            prev.wake_at.store(t, Ordering::Relaxed);
            prev.set_state(State::Sleeping);
            s.sleepers.push_back(prev.clone());
            s.next_wake = s.next_wake.min(t);
        }
        None => prev.set_state(State::Blocked),
    }
    let next = match next {
        Some(n) => match n.state() {
            State::Blocked | State::Sleeping
                if n.affinity.load(Ordering::Relaxed) & (1 << cpu) != 0 =>
            {
                if n.state() == State::Sleeping {
                    s.sleepers.remove(&n);
                }
                if n.cpu.swap(cpu, Ordering::Relaxed) != cpu {
                    CPU[cpu].migrations.fetch_add(1, Ordering::Relaxed);
                }
                if s.cpus[cpu].has_ready_above(n.class()) {
                    n.set_state(State::Ready);
                    s.cpus[cpu].push(n);
                    s.pick(cpu)
                } else {
                    n
                }
            }
            _ => {
                s.wake(&n, &mut kick);
                s.pick(cpu)
            }
        },
        None => s.pick(cpu),
    };
    switch_to(s, cpu, prev, next, kick);
}

fn current_set_state(st: State) {
    let cpu = arch::cpu_id();
    let s = lock();
    if let Some(c) = &s.cpus[cpu].current {
        c.set_state(st);
    }
}

/// Sleeps until the monotonic clock reaches `deadline_ns` (or returns early when a
/// pending wake-up is consumed).
pub fn sleep_until(deadline_ns: u64) {
    let _irq = IrqGuard::new();
    if arch::uptime_ns() < deadline_ns {
        block_and_switch(None, Some(deadline_ns));
    }
}

/// Moves the deadline of sleeping thread `t` to `at` (the in-kernel checks use it to make
/// many sleepers due at the same tick).
pub fn set_deadline(t: &Thread, at: u64) {
    let mut s = lock();
    t.wake_at.store(at, Ordering::Relaxed);
    s.next_wake = s.next_wake.min(at);
}

/// Ends the current thread; its stack is freed by whoever runs next on this CPU.
pub fn exit_current() -> ! {
    current_set_state(State::Dead);
    schedule();
    unreachable!("a dead thread was scheduled again");
}

/// Timer interrupt on this CPU: counts the tick, wakes sleepers whose time came,
/// balances the queues, and asks for a switch when a thread of the current class or
/// higher is waiting.
pub fn timer_tick() {
    let cpu = arch::cpu_id();
    if cpu == 0 {
        TICKS.fetch_add(1, Ordering::Relaxed);
    }
    let now = arch::uptime_ns();
    let mut kick = 0;
    let mut s = lock();
    let mut due = ThreadQueue::new();
    if now >= s.next_wake {
        let mut next = u64::MAX;
        s.sleepers.extract(
            |t| {
                let at = t.wake_at.load(Ordering::Relaxed);
                if at > now {
                    next = next.min(at);
                }
                at <= now
            },
            |t| due.push_back(t),
        );
        s.next_wake = next;
    }
    while let Some(t) = due.pop_front() {
        s.enqueue(t, &mut kick);
    }
    s.balance(cpu);
    let rq = &s.cpus[cpu];
    let busy = !rq.running_idle();
    if let Some(c) = &rq.current {
        if busy {
            c.ticks.fetch_add(1, Ordering::Relaxed);
        }
        if rq.has_ready_at_or_above(c.class()) {
            CPU[cpu].need_resched.store(true, Ordering::Relaxed);
        }
    }
    drop(s);
    if busy {
        crate::smp::stats(cpu)
            .busy_ticks
            .fetch_add(1, Ordering::Relaxed);
    }
    kick_cpus(kick);
}

pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Context switches on all CPUs.
pub fn switches() -> u64 {
    CPU.iter().map(|c| c.switches.load(Ordering::Relaxed)).sum()
}

/// What `smp_info` reports about one CPU's scheduling.
pub struct CpuSched {
    pub busy: bool,
    pub ready: usize,
    pub current_tid: u64,
    pub switches: u64,
    pub migrations: u64,
}

pub fn cpu_sched(cpu: usize) -> CpuSched {
    cpu_sched_with(cpu, lock())
}

/// [`cpu_sched`] if the scheduler lock is free now (the magic-key dump waits for
/// nothing).
pub fn try_cpu_sched(cpu: usize) -> Option<CpuSched> {
    let irq = IrqGuard::new();
    let guard = SCHED.try_lock()?;
    Some(cpu_sched_with(cpu, Locked { guard, _irq: irq }))
}

fn cpu_sched_with(cpu: usize, s: Locked) -> CpuSched {
    let rq = &s.cpus[cpu % MAX_CPUS];
    CpuSched {
        busy: !rq.running_idle(),
        ready: rq.nr_ready,
        current_tid: rq.current.as_ref().map_or(0, |t| t.tid),
        switches: CPU[cpu % MAX_CPUS].switches.load(Ordering::Relaxed),
        migrations: CPU[cpu % MAX_CPUS].migrations.load(Ordering::Relaxed),
    }
}

/// Restricts `t` to the CPUs in `mask`; moves it if it is queued or running elsewhere.
/// `false` (nothing changed) if `mask` has no CPU that can run threads.
pub fn set_affinity(t: &Arc<Thread>, mask: u64) -> bool {
    let mut kick = 0;
    let mut s = lock();
    if mask & s.online == 0 {
        return false;
    }
    t.affinity.store(mask, Ordering::Relaxed);
    let cpu = t.cpu.load(Ordering::Relaxed) % MAX_CPUS;
    if mask & (1 << cpu) == 0 {
        match t.state() {
            State::Ready => {
                let q = &mut s.cpus[cpu].ready[t.class()];
                if q.remove(t) {
                    s.cpus[cpu].nr_ready -= 1;
                    s.enqueue(t.clone(), &mut kick);
                }
            }
            State::Running => {
                // Its CPU moves it at the next switch (see `schedule`); the caller moves
                // itself right after this returns.
                CPU[cpu].need_resched.store(true, Ordering::Relaxed);
                if cpu != arch::cpu_id() {
                    kick |= 1 << cpu;
                }
            }
            _ => {}
        }
    }
    drop(s);
    kick_cpus(kick);
    true
}

/// Picks the next thread and switches to it. The current thread, if still running, goes
/// to the back of its class's queue (on another CPU if its affinity no longer allows
/// this one); blocked, sleeping and dead ones are not requeued.
pub fn schedule() {
    // Held across the switch: the thread gets back the interrupt state it came with, on
    // whichever CPU it resumes (see `IrqGuard`).
    let _irq = IrqGuard::new();
    let cpu = arch::cpu_id();
    CPU[cpu].need_resched.store(false, Ordering::Relaxed);
    let mut kick = 0;
    let mut s = SCHED.lock();
    let prev = s.cpus[cpu].current.take().expect("scheduler initialised");
    let prev_is_idle = s.cpus[cpu]
        .idle
        .as_ref()
        .is_some_and(|i| Arc::ptr_eq(i, &prev));
    // Requeue a preempted or yielding thread before picking, so a thread of a higher
    // class than everything else that is ready keeps the CPU.
    if prev.state() == State::Running && !prev_is_idle {
        if prev.affinity.load(Ordering::Relaxed) & (1 << cpu) != 0 {
            prev.set_state(State::Ready);
            s.cpus[cpu].push(prev.clone());
        } else {
            s.enqueue(prev.clone(), &mut kick);
        }
    }
    let next = s.pick(cpu);
    switch_to(s, cpu, prev, next, kick);
}

/// Makes `next` the running thread of `cpu` and switches to it from `prev` (the thread
/// running until now, already taken out of `current` and put wherever its state says: a
/// ready queue, the sleeper list, a wait list, or nowhere if dead). Interrupts are off;
/// the lock is released before the switch, then the CPUs in `kick` get an IPI.
#[inline(always)]
fn switch_to(
    mut s: TrackedGuard<'static, Sched>,
    cpu: usize,
    prev: Arc<Thread>,
    next: Arc<Thread>,
    kick: u64,
) {
    if Arc::ptr_eq(&prev, &next) {
        next.set_state(State::Running);
        s.cpus[cpu].current = Some(prev);
        drop(s);
        kick_cpus(kick);
        return;
    }
    // The thread may still be switching out on another CPU (it blocked or was preempted
    // there a moment ago): that CPU needs no lock to finish, so this wait ends.
    while next.on_cpu.load(Ordering::Acquire) {
        crate::mm::tlb::serve();
        core::hint::spin_loop();
    }
    next.set_state(State::Running);
    next.on_cpu.store(true, Ordering::Relaxed);
    match prev.state() {
        // The idle thread is never queued; it waits in `CpuRq::idle`.
        State::Running => prev.set_state(State::Ready),
        State::Dead => {
            s.cpus[cpu].dead.push_back(prev.clone());
            CPU[cpu].dead_pending.store(true, Ordering::Relaxed);
        }
        _ => {}
    }
    CPU[cpu].switches.fetch_add(1, Ordering::Relaxed);
    // SAFETY: interrupts are off and both threads stay allocated across the switch: prev
    // is held by a queue, a list or `CPU[cpu].prev` (below), next by `current`. Only this
    // CPU touches their contexts and FP areas now: prev is `on_cpu` here until the next
    // thread clears it, and next was off every other CPU (waited for above).
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
    // Kernel threads get the empty user root, so no CPU keeps a process's tables loaded
    // once none of its threads runs there (they may be freed).
    match &next.process {
        Some(p) => p.activate(),
        None => crate::mm::space::activate_kernel_root(),
    }
    CPU[cpu]
        .current
        .store(Arc::as_ptr(&next).cast_mut(), Ordering::Release);
    CPU[cpu].current_tid.store(next.tid, Ordering::Relaxed);
    s.cpus[cpu].current = Some(next);
    CPU[cpu]
        .prev
        .store(Arc::into_raw(prev).cast_mut(), Ordering::Relaxed);
    drop(s);
    kick_cpus(kick);
    // SAFETY: interrupts are off; both contexts stay allocated (see above).
    unsafe { arch::switch(&mut *prev_ctx, &*next_ctx) };
    finish_switch_inner();
}

/// Called by a thread right after it is switched to for the first time.
pub fn finish_switch() {
    finish_switch_inner();
    arch::enable_interrupts();
}

/// On the thread just switched to: the previous thread's context is saved, so it may run
/// elsewhere now; then free threads that died here.
#[inline(always)]
fn finish_switch_inner() {
    let me = here();
    let p = me.prev.swap(core::ptr::null_mut(), Ordering::Relaxed);
    if !p.is_null() {
        // SAFETY: `p` came from `Arc::into_raw` in `switch_to` on this CPU and is taken
        // exactly once (swapped out above).
        let prev = unsafe { Arc::from_raw(p) };
        prev.on_cpu.store(false, Ordering::Release);
        drop(prev);
    }
    if me.dead_pending.load(Ordering::Relaxed) {
        free_dead();
    }
}

#[cold]
fn free_dead() {
    let cpu = arch::cpu_id();
    let dead = {
        let mut s = lock();
        CPU[cpu].dead_pending.store(false, Ordering::Relaxed);
        core::mem::replace(&mut s.cpus[cpu].dead, ThreadQueue::new())
    };
    drop(dead);
}

/// This CPU's idle loop: look for work (its queue, else other CPUs' via stealing), wait
/// for an interrupt when there is none.
pub fn idle_loop() -> ! {
    loop {
        arch::disable_interrupts();
        schedule();
        arch::wait_for_interrupt();
    }
}
