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

    /// Wakes every waiter; each re-checks its condition.
    pub fn wake_all(&self) {
        let waiters = core::mem::take(&mut *self.waiters.lock());
        for t in waiters {
            sched::wake(&t);
        }
    }
}
