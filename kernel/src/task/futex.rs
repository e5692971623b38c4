//! Futexes: threads of one process waiting on a user `u32` until another wakes them.
//!
//! Owns the table of waiters, keyed by (pid, user address): futexes are private to a
//! process (a MAP_SHARED word shared between processes is not one futex). A waiter is
//! queued under the table lock *before* it reads the word, and wakers take waiters off
//! under the same lock, so a wake that follows a store to the word can never be missed:
//! either it finds the waiter queued, or it came first and the waiter's read sees the
//! store. The word is read without the lock held, because a user copy may fault and the
//! fault handler takes the address-space lock. Must never block or copy user memory
//! while holding the table lock.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

use super::process::Pid;
use super::thread::Thread;
use super::{sched, signal};
use crate::arch;
use crate::error::{Errno, KResult};
use crate::sync::Mutex;
use crate::umem::{Access, ReadOnly, UserPtr};

struct Waiter {
    thread: Arc<Thread>,
    /// Set by the waker when it takes this waiter off the table.
    woken: AtomicBool,
}

type Key = (Pid, usize);

static TABLE: Mutex<BTreeMap<Key, VecDeque<Arc<Waiter>>>> = Mutex::new(BTreeMap::new());

/// `futex_wait`: sleeps while the `u32` at `word` is `expected`, until a wake, the
/// monotonic `deadline` (`ETIMEDOUT`) or a signal (`EINTR`).
pub fn wait(
    pid: Pid,
    word: UserPtr<u32, ReadOnly>,
    expected: u32,
    deadline: Option<u64>,
) -> KResult<()> {
    let addr = word.addr();
    let me = Arc::new(Waiter {
        thread: sched::current(),
        woken: AtomicBool::new(false),
    });
    TABLE
        .lock()
        .entry((pid, addr))
        .or_default()
        .push_back(me.clone());
    let value = word.read();
    if value != Ok(expected) {
        // Not waiting after all (EAGAIN, or the fault), unless a waker took us off
        // meanwhile: then the wake counts.
        return if remove(pid, addr, &me) {
            value.and(Err(Errno::EAGAIN))
        } else {
            Ok(())
        };
    }
    loop {
        if me.woken.load(Ordering::Acquire) {
            return Ok(());
        }
        let timed_out = deadline.is_some_and(|d| arch::uptime_ns() >= d);
        if timed_out || signal::interrupted() {
            return if remove(pid, addr, &me) {
                Err(if timed_out {
                    Errno::ETIMEDOUT
                } else {
                    Errno::EINTR
                })
            } else {
                // A waker took us off first: the wake counts.
                Ok(())
            };
        }
        // A wake between the check above and blocking leaves `wake_pending` set, so the
        // block returns at once.
        match deadline {
            Some(d) => sched::sleep_until(d),
            None => sched::block_current(),
        }
    }
}

/// Takes `w` off the table; false if a waker already did.
fn remove(pid: Pid, addr: usize, w: &Arc<Waiter>) -> bool {
    let mut table = TABLE.lock();
    if w.woken.load(Ordering::Acquire) {
        return false;
    }
    if let Some(q) = table.get_mut(&(pid, addr)) {
        q.retain(|x| !Arc::ptr_eq(x, w));
        if q.is_empty() {
            table.remove(&(pid, addr));
        }
    }
    true
}

/// `futex_wake`: wakes up to `count` waiters on `word`, oldest first; returns how many.
pub fn wake<A: Access>(pid: Pid, word: &UserPtr<u32, A>, count: usize) -> usize {
    let addr = word.addr();
    let mut woken = alloc::vec::Vec::new();
    {
        let mut table = TABLE.lock();
        let Some(q) = table.get_mut(&(pid, addr)) else {
            return 0;
        };
        while woken.len() < count {
            let Some(w) = q.pop_front() else { break };
            w.woken.store(true, Ordering::Release);
            woken.push(w);
        }
        if q.is_empty() {
            table.remove(&(pid, addr));
        }
    }
    for w in &woken {
        sched::wake(&w.thread);
    }
    woken.len()
}
