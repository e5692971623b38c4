//! Signals: handlers, the blocked mask, process groups.
//!
//! A handler is a plain `extern "C" fn(i32)`; libway passes the kernel its own restorer
//! (which calls `sigreturn`), so returning from the handler resumes the interrupted code.
//! Keep handlers short: set a flag, write with `io::write`, or exit.

use wayos_abi::signal::{SigAction, SIG_BLOCK, SIG_DFL, SIG_IGN, SIG_SETMASK, SIG_UNBLOCK};
use wayos_abi::sys;

use crate::errno::Errno;
use crate::sys::MemFree;

pub use wayos_abi::signal::bit;

/// What a signal does.
#[derive(Clone, Copy, Debug)]
pub enum Handler {
    /// The default action (most signals end the process).
    Default,
    /// Thrown away.
    Ignore,
    /// Calls the function with the signal number.
    Catch(extern "C" fn(i32)),
}

/// Sets what `signal` does; returns the previous action's raw form.
pub fn set_handler(signal: i32, handler: Handler) -> Result<SigAction, Errno> {
    let act = SigAction {
        handler: match handler {
            Handler::Default => SIG_DFL,
            Handler::Ignore => SIG_IGN,
            Handler::Catch(f) => f as *const () as usize,
        },
        flags: 0,
        restorer: crate::arch::signal_restorer as *const () as usize,
        mask: 0,
    };
    sigaction(signal, Some(&act))
}

/// `sigaction(signal, act, old)`: sets `act` if given; returns the action before.
pub fn sigaction(signal: i32, act: Option<&SigAction>) -> Result<SigAction, Errno> {
    let mut old = SigAction::default();
    let act_ptr = act.map_or(0, crate::sys::arg_in);
    // SAFETY: the kernel reads one SigAction from `act` and writes one into `old`, both
    // valid for the call.
    unsafe {
        crate::sys::call(
            sys::SIGACTION,
            [
                signal as usize,
                act_ptr,
                crate::sys::arg_out(&mut old),
                0,
                0,
                0,
            ],
        )
    }?;
    Ok(old)
}

fn procmask(how: usize, set: Option<u64>) -> Result<u64, Errno> {
    let mut old = 0u64;
    let set_ptr = set.as_ref().map_or(0, crate::sys::arg_in);
    // SAFETY: the kernel reads one u64 at `set_ptr` (if not 0) and writes one into `old`.
    unsafe {
        crate::sys::call(
            sys::SIGPROCMASK,
            [how, set_ptr, crate::sys::arg_out(&mut old), 0, 0, 0],
        )
    }?;
    Ok(old)
}

/// Blocks the signals in `mask` (see [`bit`]); returns the mask before.
pub fn block(mask: u64) -> Result<u64, Errno> {
    procmask(SIG_BLOCK, Some(mask))
}

/// Unblocks the signals in `mask`; returns the mask before.
pub fn unblock(mask: u64) -> Result<u64, Errno> {
    procmask(SIG_UNBLOCK, Some(mask))
}

/// Replaces the blocked mask; returns the mask before.
pub fn set_mask(mask: u64) -> Result<u64, Errno> {
    procmask(SIG_SETMASK, Some(mask))
}

/// The blocked mask.
pub fn mask() -> Result<u64, Errno> {
    procmask(SIG_BLOCK, None)
}

/// Sends `signal` to the calling process.
pub fn raise(signal: i32) -> Result<(), Errno> {
    crate::process::kill(crate::process::getpid()?, signal)
}

/// `kill(-pgid, signal)`: every process in group `pgid` (> 1).
pub fn kill_group(pgid: usize, signal: i32) -> Result<(), Errno> {
    if pgid <= 1 {
        // -1 would mean "every process"; group 1 is init's.
        return Err(Errno(wayos_abi::errno::EINVAL));
    }
    crate::process::kill(pgid.wrapping_neg(), signal)
}

/// `setpgid(pid, pgid)`: 0 for the caller / a new group named after `pid`.
pub fn setpgid(pid: usize, pgid: usize) -> Result<(), Errno> {
    crate::sys::call2(MemFree::SETPGID, pid, pgid).map(|_| ())
}

/// `getpgid(pid)`: 0 for the caller.
pub fn getpgid(pid: usize) -> Result<usize, Errno> {
    crate::sys::call1(MemFree::GETPGID, pid)
}
