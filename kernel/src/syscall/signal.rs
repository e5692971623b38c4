//! Signal and process-group syscalls: kill, sigaction, sigprocmask, setpgid, getpgid
//! (`sigreturn` is dispatched directly: it replaces the whole frame).

use wayos_abi::layout::{USER_BASE, USER_END};
use wayos_abi::signal::{SigAction, SIG_DFL, SIG_IGN};

use crate::error::{Errno, KResult};
use crate::task::{self, process, signal};
use crate::umem::{ReadOnly, UserPtr, WriteOnly};

fn sig_arg(s: usize) -> KResult<i32> {
    i32::try_from(s).map_err(|_| Errno::EINVAL)
}

pub fn sys_kill(pid: usize, sig: usize) -> KResult<usize> {
    // The ABI passes pid as a machine word; negative values name groups.
    signal::kill(pid as isize, sig_arg(sig)?).map(|()| 0)
}

fn user_code(addr: usize) -> bool {
    (USER_BASE..USER_END).contains(&addr)
}

/// Reads a `SigAction`, refusing (`EINVAL`) a handler outside user code.
fn read_action(act: UserPtr<SigAction, ReadOnly>) -> KResult<SigAction> {
    let a = act.read()?;
    // A handler must be user code and return somewhere in user code; checking here keeps
    // a bad address from ever reaching a trap return.
    if a.handler != SIG_DFL
        && a.handler != SIG_IGN
        && !(user_code(a.handler) && user_code(a.restorer))
    {
        return Err(Errno::EINVAL);
    }
    Ok(a)
}

pub fn sys_sigaction(sig: usize, act: usize, old: usize) -> KResult<usize> {
    let sig = sig_arg(sig)?;
    let new = match UserPtr::<SigAction, ReadOnly>::nullable(act)? {
        Some(act) => Some(read_action(act)?),
        None => None,
    };
    let old = UserPtr::<SigAction, WriteOnly>::nullable(old)?;
    if let Some(old) = &old {
        // Fail on a bad `old` before changing anything.
        old.write(&SigAction::default())?;
    }
    let before = signal::sigaction(sig, new)?;
    if let Some(old) = &old {
        old.write(&before)?;
    }
    Ok(0)
}

pub fn sys_sigprocmask(how: usize, set: usize, old: usize) -> KResult<usize> {
    let new = match UserPtr::<u64, ReadOnly>::nullable(set)? {
        Some(set) => Some(set.read()?),
        None => None,
    };
    let old = UserPtr::<u64, WriteOnly>::nullable(old)?;
    if let Some(old) = &old {
        old.write(&0)?;
    }
    let before = signal::sigprocmask(how, new)?;
    if let Some(old) = &old {
        old.write(&before)?;
    }
    Ok(0)
}

/// `setpgid(pid, pgid)`: the caller may move itself or a child into a new group named
/// after it, or into an existing group.
pub fn sys_setpgid(pid: usize, pgid: usize) -> KResult<usize> {
    let me = task::current_process().ok_or(Errno::ESRCH)?;
    if isize::try_from(pid).is_err() || isize::try_from(pgid).is_err() {
        return Err(Errno::EINVAL);
    }
    let target = if pid == 0 || pid as u64 == me.pid {
        me.clone()
    } else {
        let t = process::lookup(pid as u64).ok_or(Errno::ESRCH)?;
        if t.ppid() != me.pid || t.is_zombie() {
            return Err(Errno::ESRCH);
        }
        t
    };
    let pgid = if pgid == 0 { target.pid } else { pgid as u64 };
    if pgid != target.pid
        && !process::all()?
            .iter()
            .any(|p| p.pgid() == pgid && !p.is_zombie())
    {
        return Err(Errno::EPERM);
    }
    target.set_pgid(pgid);
    Ok(0)
}

pub fn sys_getpgid(pid: usize) -> KResult<usize> {
    let p = if pid == 0 {
        task::current_process().ok_or(Errno::ESRCH)?
    } else {
        process::lookup(pid as u64).ok_or(Errno::ESRCH)?
    };
    Ok(p.pgid() as usize)
}
