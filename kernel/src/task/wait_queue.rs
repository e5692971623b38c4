//! Wait queues: threads blocked until a condition another thread makes true.

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use super::sched;
use super::thread::Thread;
use crate::arch;
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

    /// Blocks until `ready()` returns `Some`, re-checking after every wake-up. The check
    /// and the enqueue happen with interrupts off, so a wake-up cannot slip between them.
    pub fn wait_until<T>(&self, mut ready: impl FnMut() -> Option<T>) -> T {
        loop {
            let were_enabled = arch::interrupts_enabled();
            arch::disable_interrupts();
            if let Some(v) = ready() {
                if were_enabled {
                    arch::enable_interrupts();
                }
                return v;
            }
            self.waiters.lock().push_back(sched::current());
            sched::block_current();
            if were_enabled {
                arch::enable_interrupts();
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
        let me = sched::current();
        loop {
            let were_enabled = arch::interrupts_enabled();
            arch::disable_interrupts();
            let result = ready();
            if result.is_some() || arch::uptime_ns() >= deadline_ns {
                if were_enabled {
                    arch::enable_interrupts();
                }
                return result;
            }
            self.waiters.lock().push_back(me.clone());
            sched::sleep_until(deadline_ns);
            // Woken or timed out: leave the queue either way (a wake-up already took us
            // off it; a timeout did not).
            self.waiters.lock().retain(|t| !Arc::ptr_eq(t, &me));
            if were_enabled {
                arch::enable_interrupts();
            }
        }
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
