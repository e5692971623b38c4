//! The privilege gate: capabilities and the syscall filter (see `docs/security.md`).
//!
//! Every syscall passes [`admit`] before its handler runs, and that is the one place
//! most privileges are checked:
//!
//! 1. the caller's syscall filter (`wayos_abi::filter`): a denied number returns `EPERM`,
//!    or kills the process with `SIGSYS` in `MODE_KILL`;
//! 2. [`required_cap`], the table from syscall number to the capability it always needs
//!    (`fork`/`spawn` need `SPAWN`, `shutdown` `SHUTDOWN`, ...): `EPERM` without it.
//!
//! A few calls need a capability only for some arguments (`set_priority` above normal,
//! `kill` of a process holding more, `ns_register` of a system name); each checks with
//! [`require`] at the one point where its handler has decided the argument, and nowhere
//! else. Those are listed in [`required_cap`]'s doc so the table stays the index.
//!
//! This module owns the privilege syscalls too (`cap_get`, `cap_drop`, `filter_get`,
//! `filter_set`). It must never widen a capability set or a filter: the process only
//! offers `drop_caps` and `narrow_filter`.
#![deny(unsafe_code)]

use wayos_abi::filter::{SysFilter, MODE_KILL};
use wayos_abi::{caps, signal, sys, wait};

use crate::error::{Errno, KResult};
use crate::task;
use crate::umem::{ReadOnly, UserPtr, WriteOnly};

/// The capability syscall `num` always needs (0: none).
///
/// Checked elsewhere, each in one place: `set_priority` to a class above normal needs
/// `SET_RT_PRIORITY` (`sys_set_priority`); `kill` of a process holding a capability the
/// caller lacks needs `KILL` (`task::signal::kill`); `ns_register` of a system name needs
/// `NS_SYSTEM` (`sys_ns_register`); `spawn_caps` refuses a set wider than the caller's.
pub fn required_cap(num: usize) -> u32 {
    match num {
        sys::FORK | sys::SPAWN | sys::SPAWN_CAPS => caps::SPAWN,
        sys::SHUTDOWN => caps::SHUTDOWN,
        sys::CONSOLE_BIND => caps::CONSOLE_BIND,
        sys::KLOG_READ => caps::KLOG_READ,
        sys::MEMTIER_SET => caps::MEMTIER,
        sys::NET_ATTACH => caps::NET_RAW,
        sys::BLK_READ | sys::BLK_WRITE => caps::DISK,
        sys::MOUNT | sys::UMOUNT => caps::MOUNT,
        _ => 0,
    }
}

/// Whether the calling process may make syscall `num`: `Err(EPERM)` if its filter or a
/// missing capability refuses it. A filter in kill mode ends the process here.
pub fn admit(num: usize) -> KResult<()> {
    // Kernel threads make no syscalls; a thread without a process has nothing to check.
    let Some(p) = task::current_process() else {
        return Ok(());
    };
    let filter = p.filter();
    if !filter.allows(num) {
        if filter.mode == MODE_KILL {
            drop(p);
            task::exit_current(wait::killed(signal::SIGSYS));
        }
        return Err(Errno::EPERM);
    }
    if !p.has_caps(required_cap(num)) {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// `EPERM` unless the calling process holds every capability in `mask`.
pub fn require(mask: u32) -> KResult<()> {
    match task::current_process() {
        Some(p) if p.has_caps(mask) => Ok(()),
        _ => Err(Errno::EPERM),
    }
}

/// The calling process's capability set (0 for a thread without one).
pub fn current_caps() -> u32 {
    task::current_process().map_or(0, |p| p.caps())
}

pub fn sys_cap_get() -> KResult<usize> {
    Ok(current_caps() as usize)
}

pub fn sys_cap_drop(mask: usize) -> KResult<usize> {
    let mask = u32::try_from(mask).map_err(|_| Errno::EINVAL)?;
    if mask & !caps::ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    Ok(p.drop_caps(mask) as usize)
}

pub fn sys_filter_get(out: usize) -> KResult<usize> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    UserPtr::<SysFilter, WriteOnly>::new(out)?.write(&p.filter())?;
    Ok(0)
}

pub fn sys_filter_set(f: usize) -> KResult<usize> {
    let f = UserPtr::<SysFilter, ReadOnly>::new(f)?.read()?;
    if f.mode > MODE_KILL || f._pad != 0 {
        return Err(Errno::EINVAL);
    }
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    p.narrow_filter(&f);
    Ok(0)
}
