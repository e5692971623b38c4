//! Raw syscalls: the arch stubs plus result decoding, for callers that need to pass
//! arguments no safe wrapper would (the `badsys` suite) or that build their own wrappers.
//!
//! Everything here is `unsafe`: the kernel may read or write any memory the arguments
//! name. Numbers come from `wayos_abi::sys`.

pub use crate::arch::{syscall0, syscall1, syscall2, syscall3, syscall4, syscall5, syscall6};
use crate::errno::Errno;
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
