//! Kernel context switch: callee-saved registers on the old stack, stack pointer swap.
//!
//! A thread's [`Context`] is just its saved kernel stack pointer; the registers the SysV
//! ABI makes callee-saved live on that stack, and so does RFLAGS: flags are per thread, so
//! an AC (SMAP off) or NT one thread's kernel code had set never carries over to the next
//! thread that runs on this CPU. FP/SIMD state is handled by the scheduler through
//! `cpu::FpuState`, not here.

use core::arch::global_asm;

/// A new thread's RFLAGS: interrupts off (`finish_switch` turns them on), nothing else
/// but the always-one bit 1.
const RFLAGS_START: usize = 0x2;

/// The saved stack pointer of a thread that is not running.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Context {
    rsp: usize,
}

global_asm!(
    r#"
.section .text.context, "ax"
.global context_switch
.type context_switch, @function
// rdi = &mut from.rsp, rsi = to.rsp
context_switch:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    pushfq
    mov [rdi], rsp
    mov rsp, rsi
    popfq
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret
.size context_switch, . - context_switch

.global thread_trampoline
.type thread_trampoline, @function
// First code a new thread runs: r12 = argument, r13 = entry function.
thread_trampoline:
    xor ebp, ebp
    mov rdi, r12
    call r13
    ud2
.size thread_trampoline, . - thread_trampoline
"#
);

extern "C" {
    fn context_switch(from: *mut usize, to: usize);
    fn thread_trampoline();
}

impl Context {
    /// A context that, when switched to, calls `entry(arg)` on the stack ending at
    /// `stack_top` (16-byte aligned). `entry` must never return.
    pub fn new(stack_top: usize, entry: extern "C" fn(usize) -> !, arg: usize) -> Self {
        let frame = [
            RFLAGS_START,                            // rflags
            0usize,                                  // r15
            0,                                       // r14
            entry as usize,                          // r13
            arg,                                     // r12
            0,                                       // rbx
            0,                                       // rbp
            thread_trampoline as *const () as usize, // return address
            0,                                       // padding: leaves rsp 16-byte aligned
            0,                                       //   at the trampoline's call
        ];
        let rsp = stack_top - core::mem::size_of_val(&frame);
        // SAFETY: the caller hands over a fresh stack; the frame's words at its top are written once.
        unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), rsp as *mut usize, frame.len()) };
        Self { rsp }
    }
}

/// Saves the current context into `from` and resumes `to`.
///
/// # Safety
/// `to` must hold a context made by [`Context::new`] or saved by a previous switch, whose
/// stack is still allocated; interrupts must be disabled.
pub unsafe fn switch(from: &mut Context, to: &Context) {
    // SAFETY: per the contract; context_switch preserves the SysV callee-saved registers.
    unsafe { context_switch(&mut from.rsp, to.rsp) }
}
