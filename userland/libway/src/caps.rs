//! The privilege model from a program's side: its capability set (`cap_get`, `cap_drop`),
//! spawning with a narrower set, and the syscall filter. See `docs/security.md`.
//!
//! Everything here only narrows: nothing in the ABI gives a process a capability or a
//! syscall back once dropped.

use alloc::string::String;
use alloc::vec::Vec;

use wayos_abi::caps::{SpawnArgs, NAMES};
use wayos_abi::filter::SysFilter;
use wayos_abi::{sys, StrRef};

use crate::errno::Errno;
use crate::sys::MemFree;

pub use wayos_abi::caps::{
    by_name, is_system_name, AI_ACCEL, ALL, CONSOLE_BIND, DISK, KILL, KLOG_READ, MEMTIER, MOUNT,
    NET_RAW, NS_SYSTEM, SET_RT_PRIORITY, SHUTDOWN, SPAWN, USER,
};
pub use wayos_abi::filter::{MODE_ERRNO, MODE_KILL};

/// `cap_get()`: the caller's capability set.
pub fn get() -> Result<u32, Errno> {
    crate::sys::call0(MemFree::CAP_GET).map(|c| c as u32)
}

/// `cap_drop(mask)`: gives up the capabilities in `mask` for good; returns what is left.
pub fn drop(mask: u32) -> Result<u32, Errno> {
    crate::sys::call1(MemFree::CAP_DROP, mask as usize).map(|c| c as u32)
}

/// Keeps only the capabilities in `keep` (drops all others); returns what is left.
pub fn keep_only(keep: u32) -> Result<u32, Errno> {
    drop(ALL & !keep)
}

/// Whether the caller holds every capability in `mask` (false if `cap_get` fails).
pub fn has(mask: u32) -> bool {
    get().is_ok_and(|c| c & mask == mask)
}

/// The names of the capabilities in `set`, in bit order, separated by `sep` (`-` for
/// none).
pub fn names(set: u32, sep: &str) -> String {
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| set & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        String::from("-")
    } else {
        names.join(sep)
    }
}

/// `spawn_caps`: [`crate::process::spawn`] with the child's capability set `caps` (a
/// subset of the caller's, else `EPERM`).
pub fn spawn(path: &str, argv: &[&str], envp: &[&str], caps: u32) -> Result<usize, Errno> {
    let refs = |strs: &[&str]| -> Vec<StrRef> {
        strs.iter()
            .map(|s| StrRef {
                ptr: s.as_ptr() as usize,
                len: s.len(),
            })
            .collect()
    };
    let (argv, envp) = (refs(argv), refs(envp));
    let args = SpawnArgs {
        path: path.as_ptr() as u64,
        path_len: path.len() as u64,
        argv: argv.as_ptr() as u64,
        argc: argv.len() as u64,
        envp: envp.as_ptr() as u64,
        envc: envp.len() as u64,
        caps,
        _pad: 0,
    };
    // SAFETY: the kernel only reads `args`, the path, the two arrays and the strings
    // they name, all borrowed for the call.
    unsafe { crate::sys::call(sys::SPAWN_CAPS, [crate::sys::arg_in(&args), 0, 0, 0, 0, 0]) }
}

/// `filter_get()`: the caller's syscall filter.
pub fn filter() -> Result<SysFilter, Errno> {
    let mut f = SysFilter::allow_all();
    // SAFETY: the kernel writes one SysFilter into `f`, which we own for the call.
    unsafe {
        crate::sys::call(
            sys::FILTER_GET,
            [crate::sys::arg_out(&mut f), 0, 0, 0, 0, 0],
        )
    }?;
    Ok(f)
}

/// `filter_set(f)`: narrows the caller's filter to its intersection with `f` (and the
/// stricter mode). Inherited by every process it creates afterwards.
pub fn narrow_filter(f: &SysFilter) -> Result<(), Errno> {
    // SAFETY: the kernel only reads `f`, borrowed for the call.
    unsafe { crate::sys::call(sys::FILTER_SET, [crate::sys::arg_in(f), 0, 0, 0, 0, 0]) }.map(|_| ())
}

/// The syscalls a server started by init has no further use for once its port is
/// registered: making processes, taking the console, registering names.
pub const SERVER_NEVER: [usize; 6] = [
    sys::FORK,
    sys::SPAWN,
    sys::SPAWN_CAPS,
    sys::EXECVE,
    sys::CONSOLE_BIND,
    sys::NS_REGISTER,
];

/// A server's narrowing once started: keeps only the capabilities in `keep` and denies
/// [`SERVER_NEVER`] ([`MODE_ERRNO`]). A failure of either step is reported on stderr as
/// `<who>: ...` and is not fatal (the server is more use running than not); the other
/// step is still tried.
pub fn narrow_server(who: &str, keep: u32) {
    if let Err(e) = keep_only(keep) {
        crate::eprintln!("{who}: cap_drop failed: {e}");
    }
    if let Err(e) = deny_syscalls(&SERVER_NEVER, MODE_ERRNO) {
        crate::eprintln!("{who}: filter_set failed: {e}");
    }
}

/// Denies the syscalls `deny` from now on, with `mode` ([`MODE_ERRNO`]: `EPERM`,
/// [`MODE_KILL`]: `SIGSYS`).
pub fn deny_syscalls(deny: &[usize], mode: u32) -> Result<(), Errno> {
    let mut f = SysFilter::allow_all();
    f.mode = mode;
    for &n in deny {
        f.deny(n);
    }
    narrow_filter(&f)
}
