//! Wait queues: threads blocked until a condition another thread makes true.

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use super::sched;
use super::thread::Thread;
use crate::arch::{self, IrqGuard};
use crate::sync::IrqMutex;

pub struct WaitQueue {
    waiters: IrqMutex<VecDeque<Arc<Thread>>>,
}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitQueue {
    pub const fn new() -> Self {
        Self {
            waiters: IrqMutex::new(VecDeque::new()),
        }
    }

    /// Blocks until `ready()` returns `Some`, re-checking after every wake-up.
    ///
    /// The thread goes on the queue *before* it checks: a waker on another CPU that makes
    /// the condition true and then calls [`WaitQueue::wake_all`] either runs before the
    /// enqueue (and the check sees the condition) or finds the thread on the queue (and
    /// the wake-up, if it comes before the block, makes the block return at once).
    pub fn wait_until<T>(&self, mut ready: impl FnMut() -> Option<T>) -> T {
        // Fast path: already true, no queue traffic.
        if let Some(v) = ready() {
            return v;
        }
        let me = sched::current();
        loop {
            let irq = IrqGuard::new();
            self.waiters.lock().push_back(me.clone());
            let result = ready();
            if result.is_none() {
                sched::block_current();
            }
            self.leave(&me);
            drop(irq);
            if let Some(v) = result {
                return v;
            }
        }
    }

    /// Like [`WaitQueue::wait_until`], but gives up when the monotonic clock reaches
    /// `deadline_ns`: `None` then. The thread sleeps on the scheduler's sleeper list while
    /// it is on this queue, so either a wake-up or the timer tick releases it.
    pub fn wait_until_deadline<T>(
        &self,
        deadline_ns: u64,
        mut ready: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        if let Some(v) = ready() {
            return Some(v);
        }
        let me = sched::current();
        loop {
            let irq = IrqGuard::new();
            self.waiters.lock().push_back(me.clone());
            let result = ready();
            let done = result.is_some() || arch::uptime_ns() >= deadline_ns;
            if !done {
                sched::sleep_until(deadline_ns);
            }
            self.leave(&me);
            drop(irq);
            if done {
                return result;
            }
        }
    }

    /// Takes `me` off the queue if a wake-up did not already.
    fn leave(&self, me: &Arc<Thread>) {
        self.waiters.lock().retain(|t| !Arc::ptr_eq(t, me));
    }

    /// Wakes every waiter; each re-checks its condition.
    ///
    /// Wakes under the queue lock (wait-queue locks come before the run-queue lock), so
    /// the queue keeps its buffer and a blocking hot path (IPC) does not allocate.
    pub fn wake_all(&self) {
        let mut waiters = self.waiters.lock();
        while let Some(t) = waiters.pop_front() {
            sched::wake(&t);
        }
    }
}
