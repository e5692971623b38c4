//! The only ISA-specific code in libway: the `_start` trampoline and the raw syscall
//! instructions, one file per architecture behind the same names.
//!
//! Both files export `_start` and `syscall0..=syscall6` with identical signatures; nothing
//! else in libway (or in programs) names an architecture.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "aarch64")]
pub use self::aarch64::{
    _start, syscall0, syscall1, syscall2, syscall3, syscall4, syscall5, syscall6,
};
#[cfg(target_arch = "x86_64")]
pub use self::x86_64::{
    _start, syscall0, syscall1, syscall2, syscall3, syscall4, syscall5, syscall6,
};

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("libway supports x86_64 and aarch64 only");
