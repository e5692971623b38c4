//! aarch64: `svc #0` with the number in `x8`, arguments in `x0..x5`, the result in `x0`.
//! See `wayos_abi::sys`.

use core::arch::{asm, naked_asm};

/// The process entry point the ELF header names.
///
/// The kernel enters with `sp` 16-byte aligned and `argc, argv, envc, envp` already in
/// `x0..x3` — the first four AAPCS64 argument registers — so the trampoline only clears
/// the frame pointer and link register (ending backtraces here) and branches to the
/// program's `__libway_entry` (defined by [`crate::entry!`]). It never returns.
///
/// # Safety
///
/// Never call this: only the kernel enters it, once, on a fresh initial stack.
#[unsafe(naked)]
#[no_mangle]
pub unsafe extern "C" fn _start() -> ! {
    naked_asm!(
        "mov x29, xzr",
        "mov x30, xzr",
        "bl __libway_entry",
        "brk #1"
    )
}

/// Where threads started by [`crate::thread`] begin.
///
/// `thread_create` enters with `sp` equal to the 16-byte aligned stack top and the start
/// block's address in `x0` (the first argument register), so, like `_start`, this clears
/// the frame pointer and link register and branches to `crate::thread::thread_main`. It
/// never returns.
///
/// # Safety
///
/// Never call this: only the kernel enters it, once per thread, on a fresh stack.
#[unsafe(naked)]
pub unsafe extern "C" fn thread_entry() -> ! {
    naked_asm!(
        "mov x29, xzr",
        "mov x30, xzr",
        "bl {main}",
        "brk #1",
        main = sym crate::thread::thread_main,
    )
}

/// Raw syscall with six arguments; returns the kernel's raw result word (a value, or a
/// negated errno in `-4095..=-1`).
///
/// # Safety
///
/// The kernel may read or write any memory the arguments name, and calls such as `munmap`,
/// `mprotect`, `execve` or `exit` change the address space itself: the caller must make
/// sure the call cannot invalidate memory that live Rust references point to.
#[inline(always)]
pub unsafe fn syscall6(
    n: usize,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> usize {
    let ret;
    // SAFETY: the caller vouches for the syscall's effects; the register assignment is
    // the ABI's and `svc` changes only x0 (the result), which is declared.
    unsafe {
        asm!(
            "svc #0",
            inlateout("x0") a0 => ret,
            in("x1") a1,
            in("x2") a2,
            in("x3") a3,
            in("x4") a4,
            in("x5") a5,
            in("x8") n,
            options(nostack),
        );
    }
    ret
}

/// Where signal handlers return: asks the kernel to resume the interrupted context
/// (`sigreturn`), which never comes back here.
///
/// # Safety
///
/// Never call this: the kernel makes it a handler's return address.
#[unsafe(naked)]
pub unsafe extern "C" fn signal_restorer() -> ! {
    core::arch::naked_asm!(
        "mov x8, #{n}",
        "svc #0",
        "brk #0",
        n = const wayos_abi::sys::SIGRETURN,
    )
}
