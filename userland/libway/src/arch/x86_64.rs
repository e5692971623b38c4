//! x86_64: `syscall` with the number in `rax`, arguments in `rdi, rsi, rdx, r10, r8, r9`,
//! the result in `rax`; the instruction itself clobbers `rcx` (return address) and `r11`
//! (saved flags). See `wayos_abi::sys`.

use core::arch::{asm, naked_asm};

/// The process entry point the ELF header names.
///
/// The kernel enters with `rsp` 16-byte aligned and `argc, argv, envc, envp` already in
/// `rdi, rsi, rdx, rcx` — the first four System V argument registers — so the trampoline
/// only clears the frame pointer (ending backtraces here) and `call`s the program's
/// `__libway_entry` (defined by [`crate::entry!`]); the pushed return address gives the
/// callee the stack alignment the ABI promises at function entry. It never returns.
///
/// # Safety
///
/// Never call this: only the kernel enters it, once, on a fresh initial stack.
#[unsafe(naked)]
#[no_mangle]
pub unsafe extern "C" fn _start() -> ! {
    naked_asm!("xor ebp, ebp", "call __libway_entry", "ud2")
}

/// Where threads started by [`crate::thread`] begin.
///
/// `thread_create` enters with `rsp` equal to the 16-byte aligned stack top and the
/// start block's address in `rdi` (the first argument register), so, like `_start`, this
/// clears the frame pointer and `call`s `crate::thread::thread_main` (the pushed return
/// address gives the callee the alignment the ABI promises). It never returns.
///
/// # Safety
///
/// Never call this: only the kernel enters it, once per thread, on a fresh stack.
#[unsafe(naked)]
pub unsafe extern "C" fn thread_entry() -> ! {
    naked_asm!(
        "xor ebp, ebp",
        "call {main}",
        "ud2",
        main = sym crate::thread::thread_main,
    )
}

/// Raw syscall with no arguments; returns the kernel's raw result word.
///
/// # Safety
///
/// The call must not break memory the program relies on (see [`syscall6`]).
#[inline(always)]
pub unsafe fn syscall0(n: usize) -> usize {
    let ret;
    // SAFETY: the caller vouches for the syscall's effects; `syscall` clobbers only rax
    // (result), rcx, r11 and the flags, all declared; it does not touch the user stack.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, lateout("rcx") _, lateout("r11") _,
             options(nostack));
    }
    ret
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
    // the ABI's and every register the instruction changes is declared.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") n => ret,
            in("rdi") a0,
            in("rsi") a1,
            in("rdx") a2,
            in("r10") a3,
            in("r8") a4,
            in("r9") a5,
            lateout("rcx") _,
            lateout("r11") _,
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
    naked_asm!(
        "mov eax, {n}",
        "syscall",
        "ud2",
        n = const wayos_abi::sys::SIGRETURN,
    )
}
