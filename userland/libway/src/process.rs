//! Processes: exit, pids, fork, execve, spawn, wait, scheduling, and the few calls that
//! ask the kernel about the system (command line, shutdown).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use wayos_abi::{sys, wait, StrRef};

use crate::errno::Errno;
use crate::sys::MemFree;

/// `exit(status)`: ends the process. Never returns.
pub fn exit(status: i32) -> ! {
    let _ = crate::sys::call1(MemFree::EXIT, status as usize);
    // Only a broken kernel returns from exit; there is nothing sane left to do but stop.
    loop {
        core::hint::spin_loop();
    }
}

/// `kill(pid, signal)`: signal 0 only checks that `pid` exists.
pub fn kill(pid: usize, signal: i32) -> Result<(), Errno> {
    crate::sys::call2(MemFree::KILL, pid, signal as usize).map(|_| ())
}

/// `uname()`: the system's name, release and machine.
pub fn uname() -> Result<wayos_abi::Utsname, Errno> {
    let mut u = wayos_abi::Utsname {
        sysname: [0; 65],
        nodename: [0; 65],
        release: [0; 65],
        version: [0; 65],
        machine: [0; 65],
    };
    // SAFETY: the kernel writes one Utsname into `u`, which we own for the call.
    unsafe { crate::sys::call(sys::UNAME, [crate::sys::arg_out(&mut u), 0, 0, 0, 0, 0]) }?;
    Ok(u)
}

/// Every process in the system, lowest pid first.
pub fn proc_list() -> Result<Vec<wayos_abi::ProcInfo>, Errno> {
    let mut list = Vec::new();
    loop {
        let cap = list.capacity().max(16);
        list.resize(cap, wayos_abi::ProcInfo::zeroed());
        // SAFETY: the kernel writes at most `cap` ProcInfo entries into `list`.
        let total = unsafe {
            crate::sys::call(
                sys::PROC_LIST,
                [crate::sys::arg_out_slice(&mut list), cap, 0, 0, 0, 0],
            )
        }?;
        if total <= cap {
            list.truncate(total);
            return Ok(list);
        }
        list.reserve(total - cap + 8);
    }
}

/// A NUL-padded ABI string field as text (up to the first NUL).
pub fn field_str(f: &[u8]) -> &str {
    let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    core::str::from_utf8(&f[..end]).unwrap_or("?")
}

/// `getpid()`.
pub fn getpid() -> Result<usize, Errno> {
    crate::sys::call0(MemFree::GETPID)
}

/// `getppid()`.
pub fn getppid() -> Result<usize, Errno> {
    crate::sys::call0(MemFree::GETPPID)
}

/// `fork()`: the child's pid in the parent, 0 in the child.
pub fn fork() -> Result<usize, Errno> {
    // SAFETY: the child gets a copy of the whole address space with only this thread.
    // The heap lock is held across the call, so the child's copy of it is not held by a
    // thread that does not exist there (both sides release their own copy on return).
    crate::heap::with_heap_locked(|| unsafe { crate::sys::call(sys::FORK, [0; 6]) })
}

/// `(pointer, length)` references to `strs`, as execve and spawn take them.
fn str_refs(strs: &[&str]) -> Vec<StrRef> {
    strs.iter()
        .map(|s| StrRef {
            ptr: s.as_ptr() as usize,
            len: s.len(),
        })
        .collect()
}

/// Arguments of execve/spawn: path, argv and envp as the six syscall words.
fn exec_call(n: usize, path: &str, argv: &[&str], envp: &[&str]) -> Result<usize, Errno> {
    let argv = str_refs(argv);
    let envp = str_refs(envp);
    let args = [
        path.as_ptr() as usize,
        path.len(),
        argv.as_ptr() as usize,
        argv.len(),
        envp.as_ptr() as usize,
        envp.len(),
    ];
    // SAFETY: the kernel only reads the path, the two arrays and the strings they name,
    // all borrowed for the duration of the call. A successful execve replaces the whole
    // program, so nothing of this one is used afterwards.
    unsafe { crate::sys::call(n, args) }
}

/// `execve(path, argv, envp)`: replaces this program. Returns only on failure.
pub fn execve(path: &str, argv: &[&str], envp: &[&str]) -> Errno {
    match exec_call(sys::EXECVE, path, argv, envp) {
        Err(e) => e,
        // The ABI says execve returns only on error; treat anything else as a kernel bug.
        Ok(_) => Errno(wayos_abi::errno::EIO),
    }
}

/// `spawn(path, argv, envp)`: a new child running the program; returns its pid.
pub fn spawn(path: &str, argv: &[&str], envp: &[&str]) -> Result<usize, Errno> {
    exec_call(sys::SPAWN, path, argv, envp)
}

/// A wait status as `wait` reports it (`wayos_abi::wait` encoding).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct WaitStatus(pub i32);

impl WaitStatus {
    /// The exit code, if the process called `exit`.
    pub const fn exit_code(self) -> Option<i32> {
        if wait::if_exited(self.0) {
            Some(wait::exit_status(self.0))
        } else {
            None
        }
    }

    /// The signal, if the kernel killed the process.
    pub const fn signal(self) -> Option<i32> {
        if wait::if_exited(self.0) {
            None
        } else {
            Some(wait::term_signal(self.0))
        }
    }

    /// True for `exit(code)`.
    pub const fn exited_with(self, code: i32) -> bool {
        matches!(self.exit_code(), Some(c) if c == code)
    }

    /// True for a kill by `signal`.
    pub const fn killed_by(self, signal: i32) -> bool {
        matches!(self.signal(), Some(s) if s == signal)
    }
}

impl fmt::Display for WaitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.exit_code(), self.signal()) {
            (Some(code), _) => write!(f, "exited with status {code}"),
            (_, Some(sig)) => write!(f, "killed by signal {sig}"),
            _ => write!(f, "status {:#x}", self.0),
        }
    }
}

impl fmt::Debug for WaitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} ({:#x})", self.0)
    }
}

/// `wait(pid, &status, options)`: `pid` -1 waits for any child. Returns the child's pid
/// and status; under `WNOHANG` the pid is 0 when no child has exited yet.
pub fn waitpid(pid: isize, options: usize) -> Result<(usize, WaitStatus), Errno> {
    let mut status: i32 = 0;
    // SAFETY: the kernel writes one i32 into `status`, which we own.
    let child = unsafe {
        crate::sys::call(
            sys::WAIT,
            [
                pid as usize,
                crate::sys::arg_out(&mut status),
                options,
                0,
                0,
                0,
            ],
        )
    }?;
    Ok((child, WaitStatus(status)))
}

/// Blocks until any child exits.
pub fn wait() -> Result<(usize, WaitStatus), Errno> {
    waitpid(-1, 0)
}

/// `sched_yield()`.
pub fn sched_yield() -> Result<(), Errno> {
    crate::sys::call0(MemFree::SCHED_YIELD).map(drop)
}

/// Sleeps `ms` milliseconds, or yields once if sleeping fails.
pub fn sleep_or_yield(ms: u64) -> Result<(), Errno> {
    crate::time::sleep_ms(ms).or_else(|_| sched_yield())
}

/// `set_priority(class)` (`wayos_abi::sched`): returns the previous class.
pub fn set_priority(class: usize) -> Result<usize, Errno> {
    crate::sys::call1(MemFree::SET_PRIORITY, class)
}

/// `get_cmdline(buf)`: copies as much of the kernel command line as fits and returns its
/// full length.
pub fn get_cmdline(buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, borrowed mutably.
    unsafe {
        crate::sys::call(
            sys::GET_CMDLINE,
            [buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0, 0],
        )
    }
}

/// The whole kernel command line (invalid UTF-8 replaced).
pub fn cmdline() -> Result<String, Errno> {
    let mut buf = alloc::vec![0u8; 256];
    let mut len = get_cmdline(&mut buf)?;
    if len > buf.len() {
        // Too long for the first guess: once more with the size the kernel reported.
        buf.resize(len, 0);
        len = get_cmdline(&mut buf)?;
    }
    buf.truncate(len.min(buf.len()));
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `shutdown(success)`: powers the machine off (needs the `shutdown` capability, which
/// only init holds). Returns only on failure.
pub fn shutdown(success: bool) -> Errno {
    match crate::sys::call1(MemFree::SHUTDOWN, success as usize) {
        Err(e) => e,
        Ok(_) => Errno(wayos_abi::errno::EIO),
    }
}
