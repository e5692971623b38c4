//! Thread and futex syscalls: `thread_create`, `gettid`, `futex_wait`, `futex_wake`.
//!
//! Owns argument checking for these calls; the work is in `task` (threads) and
//! `task::futex`.

use crate::arch;
use crate::error::{Errno, KResult};
use crate::task::{self, futex, sched};
use crate::umem::{ReadOnly, UserPtr};

pub fn sys_thread_create(
    entry: usize,
    stack: usize,
    arg: usize,
    tid_addr: usize,
) -> KResult<usize> {
    task::create_thread(entry, stack, arg, tid_addr).map(|t| t as usize)
}

pub fn sys_gettid() -> KResult<usize> {
    Ok(sched::current().tid as usize)
}

pub fn sys_futex_wait(addr: usize, expected: usize, timeout_ns: usize) -> KResult<usize> {
    let pid = task::current_process().ok_or(Errno::EPERM)?.pid;
    let deadline = (timeout_ns as u64 != u64::MAX)
        .then(|| arch::uptime_ns().saturating_add(timeout_ns as u64));
    let word = UserPtr::<u32, ReadOnly>::aligned(addr)?;
    futex::wait(pid, word, expected as u32, deadline).map(|()| 0)
}

/// The word is only a key here (nothing is copied), but it is checked like one that is:
/// `EINVAL` unaligned, `EFAULT` outside the window.
pub fn sys_futex_wake(addr: usize, count: usize) -> KResult<usize> {
    let word = UserPtr::<u32, ReadOnly>::aligned(addr)?;
    let pid = task::current_process().ok_or(Errno::EPERM)?.pid;
    Ok(futex::wake(pid, &word, count))
}
