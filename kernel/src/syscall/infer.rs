//! The inference syscalls: `infer_submit`, `infer_wait`, `infer_cancel` (`docs/ai.md`,
//! "The queue and classes"). Jobs live in `ai::queue`; this module only turns handles
//! and arguments into calls on it.
//!
//! Classes: `CLASS_NORMAL` and `CLASS_BACKGROUND` are open to every process; `CLASS_RT`
//! and `CLASS_HIGH` outrank normal user work (the worker runs at the job's class), so they
//! need `caps::AI_ACCEL` or `caps::SET_RT_PRIORITY` — the same rule `set_priority` applies
//! to threads, with the accelerator capability as the narrower grant for `aid`.
//!
//! Must never: hold the handle-table lock while waiting, or wait past a SIGKILL.
#![deny(unsafe_code)]

use alloc::sync::Arc;

use wayos_abi::{ai, caps};

use super::gate;
use crate::ai::queue::{self, Job};
use crate::error::{Errno, KResult};
use crate::ipc::{handle_errno, KObject};
use crate::task;

/// The rights a new job handle carries.
pub const JOB_RIGHTS: u32 = ai::RIGHT_READ | ai::RIGHT_WRITE;

/// The class rank `class` asks for, after the capability check: `EINVAL` for an unknown
/// class, `EPERM` for RT or high without `AI_ACCEL` or `SET_RT_PRIORITY`.
pub fn class_rank(class: usize) -> KResult<usize> {
    let class = u32::try_from(class).map_err(|_| Errno::EINVAL)?;
    let rank = queue::rank(class).ok_or(Errno::EINVAL)?;
    if class < ai::CLASS_NORMAL && gate::require(caps::AI_ACCEL).is_err() {
        gate::require(caps::SET_RT_PRIORITY)?;
    }
    Ok(rank)
}

/// The job behind handle `h` if it carries `needed`: `EBADF`, `EACCES`, `EINVAL` (not a
/// job).
fn job(h: usize, needed: u32) -> KResult<Arc<Job>> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let h = u32::try_from(h).map_err(|_| Errno::EBADF)?;
    let table = p.handles.lock();
    match table.get(h, needed).map_err(handle_errno)? {
        KObject::Job(j) => Ok(j.clone()),
        _ => Err(Errno::EINVAL),
    }
}

/// Installs `job` in the caller's handle table; if that fails the job is cancelled, so a
/// refused submit leaves nothing queued.
pub fn install_job(job: Arc<Job>) -> KResult<usize> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let r = p
        .handles
        .lock()
        .insert(KObject::Job(job.clone()), JOB_RIGHTS)
        .map_err(handle_errno);
    match r {
        Ok(h) => Ok(h as usize),
        Err(e) => {
            queue::cancel(&job);
            Err(e)
        }
    }
}

/// `infer_wait(job, timeout_ns)`: 0 when the run succeeded, its errno when it failed
/// (`ECANCELED` once cancelled); `EAGAIN` while pending when `timeout_ns` is 0,
/// `ETIMEDOUT` when the time passes, `EINTR` on a signal (and when the process is being
/// killed). `u64::MAX` waits without a deadline.
pub fn sys_infer_wait(h: usize, timeout_ns: usize) -> KResult<usize> {
    let job = job(h, ai::RIGHT_READ)?;
    if let Some(r) = job.result() {
        return r.map(|()| 0);
    }
    let timeout_ns = timeout_ns as u64;
    if timeout_ns == 0 {
        return Err(Errno::EAGAIN);
    }
    let ready = || match job.result() {
        Some(r) => Some(r.map(|()| 0)),
        None if task::signal::interrupted() => Some(Err(Errno::EINTR)),
        None => None,
    };
    if timeout_ns == u64::MAX {
        return job.done.wait_until(ready);
    }
    let deadline = crate::arch::uptime_ns().saturating_add(timeout_ns);
    job.done
        .wait_until_deadline(deadline, ready)
        .unwrap_or(Err(Errno::ETIMEDOUT))
}

/// `infer_cancel(job)`: a queued job ends now with `ECANCELED`, a running one at its
/// next node boundary; a finished job keeps its result. Needs `RIGHT_WRITE`.
pub fn sys_infer_cancel(h: usize) -> KResult<usize> {
    let job = job(h, ai::RIGHT_WRITE)?;
    queue::cancel(&job);
    Ok(0)
}
