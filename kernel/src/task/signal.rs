//! Signals, as far as they go today: `kill` with each signal's default action.
//!
//! A fatal signal is recorded on the target process and its threads are woken; each
//! thread ends the process on its way back to user mode ([`deliver_pending`]), and
//! interruptible kernel waits (stream fds) give up early when [`fatal_pending`]. Handlers
//! and masks arrive with the userland issue; until then every signal whose default action
//! is to terminate does so, and the ones ignored by default are ignored.

use core::sync::atomic::{AtomicUsize, Ordering};

use wayos_abi::{signal, wait};

use super::process::{self, Pid, INIT_PID};
use super::sched;
use crate::error::{Errno, KResult};

/// Processes with a fatal signal pending, so the return-to-user path costs one load when
/// there are none.
static PENDING: AtomicUsize = AtomicUsize::new(0);

/// Signals whose default action is to do nothing.
fn ignored_by_default(sig: i32) -> bool {
    matches!(sig, signal::SIGCHLD)
}

/// `kill(pid, sig)`: `sig` 0 only checks that `pid` exists. init cannot be killed
/// (`EPERM`); a zombie accepts and ignores signals.
pub fn kill(pid: Pid, sig: i32) -> KResult<()> {
    if !(0..=signal::MAX).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let target = process::lookup(pid).ok_or(Errno::ESRCH)?;
    if sig == 0 {
        return Ok(());
    }
    if pid == INIT_PID {
        return Err(Errno::EPERM);
    }
    if ignored_by_default(sig) || target.is_zombie() {
        return Ok(());
    }
    // The first fatal signal decides the exit status.
    if target
        .pending_signal
        .compare_exchange(0, sig, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        PENDING.fetch_add(1, Ordering::AcqRel);
    }
    for t in target.threads() {
        sched::wake(&t);
    }
    Ok(())
}

/// Called when `p` exits: its pending signal, if any, is settled.
pub fn forget(p: &process::Process) {
    if p.pending_signal.swap(0, Ordering::AcqRel) != 0 {
        PENDING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// True when the current process has a fatal signal waiting.
pub fn fatal_pending() -> bool {
    if PENDING.load(Ordering::Acquire) == 0 {
        return false;
    }
    sched::current()
        .process
        .as_ref()
        .is_some_and(|p| p.pending_signal.load(Ordering::Acquire) != 0)
}

/// On the way back to user mode: ends the process if a fatal signal is waiting.
pub fn deliver_pending() {
    if PENDING.load(Ordering::Relaxed) == 0 {
        return;
    }
    let Some(p) = sched::current().process.clone() else {
        return;
    };
    let sig = p.pending_signal.load(Ordering::Acquire);
    if sig != 0 {
        drop(p);
        super::exit_current(wait::killed(sig));
    }
}
