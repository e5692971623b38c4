//! The only ISA-specific code in libway: the `_start` trampoline and the raw syscall
//! instructions, one file per architecture behind the same names.
//!
//! Both files export `_start`, `syscall6`, `signal_restorer` and `thread_entry` (x86_64 also a
//! register-light `syscall0`);
//! the narrower `syscallN` wrappers below are shared. Nothing else in libway (or in
//! programs) names an architecture.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "aarch64")]
pub use self::aarch64::{_start, signal_restorer, syscall6, thread_entry};
#[cfg(target_arch = "x86_64")]
pub use self::x86_64::{_start, signal_restorer, syscall0, syscall6, thread_entry};

/// Raw syscall with no arguments.
///
/// # Safety
///
/// As [`syscall6`].
#[cfg(target_arch = "aarch64")]
#[inline(always)]
pub unsafe fn syscall0(n: usize) -> usize {
    // SAFETY: forwarded contract; unused argument registers are zero.
    unsafe { syscall6(n, 0, 0, 0, 0, 0, 0) }
}

/// Raw syscall with one argument.
///
/// # Safety
///
/// As [`syscall6`].
#[inline(always)]
pub unsafe fn syscall1(n: usize, a0: usize) -> usize {
    // SAFETY: forwarded contract.
    unsafe { syscall6(n, a0, 0, 0, 0, 0, 0) }
}

/// Raw syscall with two arguments.
///
/// # Safety
///
/// As [`syscall6`].
#[inline(always)]
pub unsafe fn syscall2(n: usize, a0: usize, a1: usize) -> usize {
    // SAFETY: forwarded contract.
    unsafe { syscall6(n, a0, a1, 0, 0, 0, 0) }
}

/// Raw syscall with three arguments.
///
/// # Safety
///
/// As [`syscall6`].
#[inline(always)]
pub unsafe fn syscall3(n: usize, a0: usize, a1: usize, a2: usize) -> usize {
    // SAFETY: forwarded contract.
    unsafe { syscall6(n, a0, a1, a2, 0, 0, 0) }
}

/// Raw syscall with four arguments.
///
/// # Safety
///
/// As [`syscall6`].
#[inline(always)]
pub unsafe fn syscall4(n: usize, a0: usize, a1: usize, a2: usize, a3: usize) -> usize {
    // SAFETY: forwarded contract.
    unsafe { syscall6(n, a0, a1, a2, a3, 0, 0) }
}

/// Raw syscall with five arguments.
///
/// # Safety
///
/// As [`syscall6`].
#[inline(always)]
pub unsafe fn syscall5(n: usize, a0: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> usize {
    // SAFETY: forwarded contract.
    unsafe { syscall6(n, a0, a1, a2, a3, a4, 0) }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("libway supports x86_64 and aarch64 only");
