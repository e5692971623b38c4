//! Syscalls: safe calls for those that take only numbers, and the raw stubs for the rest.
//!
//! [`MemFree`] lists the syscalls whose arguments are all plain numbers (descriptors,
//! handles, pids, flags, counts) and that neither read nor write the caller's memory nor
//! change its mappings, so no choice of arguments can break a Rust reference. Only those
//! go through the safe [`call0`]..[`call3`]; a `MemFree` value cannot be made for any other
//! number, so the list is the one place that claim is made.
//!
//! Everything else is `unsafe` ([`call`], `syscall0..=syscall6`): the kernel may read or
//! write any memory the arguments name. libway's modules wrap those in safe functions
//! that pass only memory they own or borrow; callers that must pass arguments no safe
//! wrapper would (the `badsys` suite) use them directly. The info syscalls that return
//! arrays of records (`memtier_info`, `ai_info`) share one such wrapper here
//! (`info_one`, `info_records`, for the calls `InfoCall` names). Numbers come from
//! `wayos_abi::sys`.

pub use crate::arch::{syscall0, syscall1, syscall2, syscall3, syscall4, syscall5, syscall6};
use crate::errno::Errno;
use wayos_abi::sys;
use wayos_abi::Plain;

/// `v`'s address as a syscall argument the kernel reads (its `UserPtr<T, ReadOnly>`).
/// Only [`Plain`] data crosses the line, so the kernel sees every byte initialised.
#[inline(always)]
pub fn arg_in<T: Plain>(v: &T) -> usize {
    v as *const T as usize
}

/// `v`'s address as a syscall argument the kernel writes (its `UserPtr<T, WriteOnly>` or
/// `ReadWrite`). Only [`Plain`] data may be written by the kernel: whatever bytes it
/// stores are a valid `T`.
#[inline(always)]
pub fn arg_out<T: Plain>(v: &mut T) -> usize {
    v as *mut T as usize
}

/// `v`'s start as an array argument the kernel writes (`UserArray<T, WriteOnly>`), to be
/// passed with `v.len()`.
#[inline(always)]
pub fn arg_out_slice<T: Plain>(v: &mut [T]) -> usize {
    v.as_mut_ptr() as usize
}

/// A syscall that takes only numbers and touches no memory of the caller's (see the
/// module doc); the only values are the constants below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemFree(usize);

impl MemFree {
    /// `exit(status)`: ends the whole process (no Rust frame runs again, so none can see
    /// memory in a broken state).
    pub const EXIT: Self = Self(sys::EXIT);
    pub const GETPID: Self = Self(sys::GETPID);
    pub const GETPPID: Self = Self(sys::GETPPID);
    pub const SCHED_YIELD: Self = Self(sys::SCHED_YIELD);
    pub const SET_PRIORITY: Self = Self(sys::SET_PRIORITY);
    /// `shutdown(success)`: needs the `shutdown` capability (only init holds it), and the
    /// machine stops.
    pub const SHUTDOWN: Self = Self(sys::SHUTDOWN);
    pub const PORT_CREATE: Self = Self(sys::PORT_CREATE);
    pub const HANDLE_CLOSE: Self = Self(sys::HANDLE_CLOSE);
    pub const HANDLE_DUP: Self = Self(sys::HANDLE_DUP);
    /// `kill(pid, signal)`: a handler it runs was installed through the `unsafe`
    /// `sigaction` path, which is where its soundness is argued.
    pub const KILL: Self = Self(sys::KILL);
    pub const DUP2: Self = Self(sys::DUP2);
    pub const CLOSE: Self = Self(sys::CLOSE);
    pub const PORT_FD: Self = Self(sys::PORT_FD);
    /// `port_badge(handle, badge)`: a new handle, numbers only.
    pub const PORT_BADGE: Self = Self(sys::PORT_BADGE);
    /// `net_kick(handle)`: the kernel reads the ring the holder mapped, never the caller's
    /// other memory.
    pub const NET_KICK: Self = Self(sys::NET_KICK);
    pub const CONSOLE_BIND: Self = Self(sys::CONSOLE_BIND);
    pub const LSEEK: Self = Self(sys::LSEEK);
    pub const FTRUNCATE: Self = Self(sys::FTRUNCATE);
    /// `fsync(fd)`: writes back; touches no memory of the caller's.
    pub const FSYNC: Self = Self(sys::FSYNC);
    pub const DUP: Self = Self(sys::DUP);
    /// `fcntl(fd, cmd, arg)`: every command the kernel knows takes a number.
    pub const FCNTL: Self = Self(sys::FCNTL);
    pub const SETPGID: Self = Self(sys::SETPGID);
    pub const GETPGID: Self = Self(sys::GETPGID);
    pub const GETTID: Self = Self(sys::GETTID);
    /// `futex_wake(addr, count)`: the address only names the wait queue; the kernel does
    /// not read it.
    pub const FUTEX_WAKE: Self = Self(sys::FUTEX_WAKE);
    pub const SCHED_GETCPU: Self = Self(sys::SCHED_GETCPU);
    pub const SCHED_SETAFFINITY: Self = Self(sys::SCHED_SETAFFINITY);
    pub const SCHED_GETAFFINITY: Self = Self(sys::SCHED_GETAFFINITY);
    pub const CAP_GET: Self = Self(sys::CAP_GET);
    /// `cap_drop(mask)`: only ever removes privileges.
    pub const CAP_DROP: Self = Self(sys::CAP_DROP);
    /// `infer_submit(graph, class)`, `infer_wait(job, timeout_ns)`, `infer_cancel(job)`:
    /// handles and numbers only (a run writes kernel tensors, never this process's
    /// memory; a mapped output tensor's pages are shared memory by design).
    pub const INFER_SUBMIT: Self = Self(sys::INFER_SUBMIT);
    pub const INFER_WAIT: Self = Self(sys::INFER_WAIT);
    pub const INFER_CANCEL: Self = Self(sys::INFER_CANCEL);

    /// The syscall number.
    pub const fn number(self) -> usize {
        self.0
    }
}

/// A [`MemFree`] syscall without arguments, result decoded.
#[inline(always)]
pub fn call0(n: MemFree) -> Result<usize, Errno> {
    call3(n, 0, 0, 0)
}

/// A [`MemFree`] syscall with one argument, result decoded.
#[inline(always)]
pub fn call1(n: MemFree, a0: usize) -> Result<usize, Errno> {
    call3(n, a0, 0, 0)
}

/// A [`MemFree`] syscall with two arguments, result decoded.
#[inline(always)]
pub fn call2(n: MemFree, a0: usize, a1: usize) -> Result<usize, Errno> {
    call3(n, a0, a1, 0)
}

/// A [`MemFree`] syscall with three arguments, result decoded.
#[inline(always)]
pub fn call3(n: MemFree, a0: usize, a1: usize, a2: usize) -> Result<usize, Errno> {
    // SAFETY: `MemFree` holds only syscalls that take numbers and touch no memory of the
    // caller's (the list above), so no argument value can affect a Rust object.
    Errno::decode(unsafe { syscall3(n.0, a0, a1, a2) })
}

/// Any syscall with up to six arguments, result decoded.
///
/// # Safety
///
/// As [`syscall6`]: the call must not invalidate memory that live Rust references point
/// to (unmapping, protecting or overwriting it), and any buffer it writes must be one the
/// caller is prepared to see changed.
#[inline(always)]
pub unsafe fn call(n: usize, args: [usize; 6]) -> Result<usize, Errno> {
    // SAFETY: forwarded to the caller.
    Errno::decode(unsafe { syscall6(n, args[0], args[1], args[2], args[3], args[4], args[5]) })
}

/// The info syscalls that take `(what, buffer, bytes)`, write whole records of kind `what`
/// into at most `bytes` of `buffer` and return how many such records there are in all
/// (`memtier_info`, `ai_info`). Only these go through [`info_one`] and [`info_records`],
/// whose safety rests on that contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InfoCall {
    MemtierInfo,
    AiInfo,
}

impl InfoCall {
    fn number(self) -> usize {
        match self {
            InfoCall::MemtierInfo => sys::MEMTIER_INFO,
            InfoCall::AiInfo => sys::AI_INFO,
        }
    }
}

/// The one record of kind `what` that `call` returns.
pub(crate) fn info_one<T: Plain>(call: InfoCall, what: u32) -> Result<T, Errno> {
    let mut r = T::new_zeroed();
    // SAFETY: an `InfoCall` writes at most `size_of::<T>()` bytes of whole records into
    // `r`, borrowed for the call.
    unsafe {
        self::call(
            call.number(),
            [
                what as usize,
                arg_out(&mut r),
                core::mem::size_of::<T>(),
                0,
                0,
                0,
            ],
        )
    }?;
    Ok(r)
}

/// Every record of kind `what` that `call` returns: asks with room for `room` records,
/// and while the kernel reports more than fitted, grows the buffer to that count and asks
/// again.
pub(crate) fn info_records<T: Plain>(
    call: InfoCall,
    what: u32,
    mut room: usize,
) -> Result<alloc::vec::Vec<T>, Errno> {
    loop {
        let mut v = alloc::vec![T::new_zeroed(); room];
        // SAFETY: an `InfoCall` writes at most `room` whole records into `v`, borrowed for
        // the call.
        let n = unsafe {
            self::call(
                call.number(),
                [
                    what as usize,
                    arg_out_slice(&mut v),
                    room * core::mem::size_of::<T>(),
                    0,
                    0,
                    0,
                ],
            )
        }?;
        if n <= room {
            v.truncate(n);
            return Ok(v);
        }
        room = n;
    }
}
