//! Signal and process-group syscalls: kill, sigaction, sigprocmask, setpgid, getpgid
//! (`sigreturn` is dispatched directly: it replaces the whole frame).

use wayos_abi::layout::{USER_BASE, USER_END};
use wayos_abi::signal::{SigAction, SIG_DFL, SIG_IGN};

use crate::error::{Errno, KResult};
use crate::task::{self, process, signal};
use crate::usercopy::{copy_from_user, copy_to_user};

const ACTION_SIZE: usize = core::mem::size_of::<SigAction>();
const _: () = assert!(ACTION_SIZE == 32);

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

fn read_action(ptr: usize) -> KResult<SigAction> {
    let mut b = [0u8; ACTION_SIZE];
    copy_from_user(&mut b, ptr)?;
    let word = |i: usize| u64::from_ne_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let a = SigAction {
        handler: word(0) as usize,
        flags: word(1),
        restorer: word(2) as usize,
        mask: word(3),
    };
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

fn write_action(ptr: usize, a: &SigAction) -> KResult<()> {
    let mut b = [0u8; ACTION_SIZE];
    for (i, w) in [a.handler as u64, a.flags, a.restorer as u64, a.mask]
        .iter()
        .enumerate()
    {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.to_ne_bytes());
    }
    copy_to_user(ptr, &b)
}

pub fn sys_sigaction(sig: usize, act: usize, old: usize) -> KResult<usize> {
    let sig = sig_arg(sig)?;
    let new = if act != 0 {
        Some(read_action(act)?)
    } else {
        None
    };
    if old != 0 {
        // Fail on a bad `old` before changing anything.
        write_action(old, &SigAction::default())?;
    }
    let before = signal::sigaction(sig, new)?;
    if old != 0 {
        write_action(old, &before)?;
    }
    Ok(0)
}

pub fn sys_sigprocmask(how: usize, set: usize, old: usize) -> KResult<usize> {
    let new = if set != 0 {
        let mut b = [0u8; 8];
        copy_from_user(&mut b, set)?;
        Some(u64::from_ne_bytes(b))
    } else {
        None
    };
    if old != 0 {
        copy_to_user(old, &[0u8; 8])?;
    }
    let before = signal::sigprocmask(how, new)?;
    if old != 0 {
        copy_to_user(old, &before.to_ne_bytes())?;
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
        && !process::all()
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
