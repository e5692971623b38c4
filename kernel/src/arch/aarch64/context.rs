//! Kernel context switch and the per-thread FP/SIMD state object.
//!
//! A thread's [`Context`] holds what AAPCS64 makes callee-saved: x19–x28, the frame pointer
//! (x29), the link register (x30), SP, and the low halves of v8–v15 (d8–d15, which the
//! kernel's own NEON code may keep live across the call to `switch`). Everything else is
//! caller-saved and therefore dead at the call.
//!
//! User FP/SIMD state does not need the scheduler at all on aarch64: the trap path saves
//! q0–q31, FPCR and FPSR into the `TrapFrame` on every entry from EL0 and restores them on
//! the way out (see `trap.rs`), because the NEON-compiled kernel would clobber them long
//! before the scheduler could save them. So [`FpuState`] is empty and its `save`/`restore`
//! do nothing: by the time they run, the registers hold only dead kernel values, and a
//! Rust `restore` could not legally change callee-saved d8–d15 anyway.

use core::arch::global_asm;

/// The saved registers of a thread that is not running.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Context {
    /// x19–x28, x29 (fp), x30 (lr), sp.
    regs: [u64; 13],
    /// d8–d15.
    fp: [u64; 8],
}

global_asm!(
    r#"
.section .text.context, "ax"
.global context_switch
.type context_switch, %function
/* x0 = &mut from, x1 = &to (both `Context`). */
context_switch:
    mov     x9, sp
    stp     x19, x20, [x0, #0]
    stp     x21, x22, [x0, #16]
    stp     x23, x24, [x0, #32]
    stp     x25, x26, [x0, #48]
    stp     x27, x28, [x0, #64]
    stp     x29, x30, [x0, #80]
    str     x9, [x0, #96]
    stp     d8, d9, [x0, #104]
    stp     d10, d11, [x0, #120]
    stp     d12, d13, [x0, #136]
    stp     d14, d15, [x0, #152]
    ldp     x19, x20, [x1, #0]
    ldp     x21, x22, [x1, #16]
    ldp     x23, x24, [x1, #32]
    ldp     x25, x26, [x1, #48]
    ldp     x27, x28, [x1, #64]
    ldp     x29, x30, [x1, #80]
    ldr     x9, [x1, #96]
    ldp     d8, d9, [x1, #104]
    ldp     d10, d11, [x1, #120]
    ldp     d12, d13, [x1, #136]
    ldp     d14, d15, [x1, #152]
    mov     sp, x9
    ret
.size context_switch, . - context_switch

.global thread_trampoline
.type thread_trampoline, %function
/* First code a new thread runs: x19 = entry function, x20 = argument. */
thread_trampoline:
    mov     x29, xzr
    mov     x30, xzr
    mov     x0, x20
    blr     x19
    brk     #1
.size thread_trampoline, . - thread_trampoline
"#
);

extern "C" {
    fn context_switch(from: *mut Context, to: *const Context);
    fn thread_trampoline();
}

impl Context {
    /// A context that, when switched to, calls `entry(arg)` on the stack ending at
    /// `stack_top` (16-byte aligned). `entry` must never return.
    pub fn new(stack_top: usize, entry: extern "C" fn(usize) -> !, arg: usize) -> Self {
        debug_assert!(stack_top.is_multiple_of(16));
        let mut regs = [0u64; 13];
        regs[0] = entry as usize as u64; // x19
        regs[1] = arg as u64; // x20
        regs[11] = thread_trampoline as *const () as u64; // x30: `ret` lands here
        regs[12] = stack_top as u64; // sp
        Self { regs, fp: [0; 8] }
    }
}

/// Saves the current context into `from` and resumes `to`.
///
/// # Safety
/// `to` must hold a context made by [`Context::new`] or saved by a previous switch, whose
/// stack is still allocated; interrupts must be disabled.
pub unsafe fn switch(from: &mut Context, to: &Context) {
    // SAFETY: per the contract; context_switch preserves every AAPCS64 callee-saved
    // register (x19-x30, sp, d8-d15) and clobbers only x9.
    unsafe { context_switch(from, to) }
}

/// A thread's FP/SIMD state outside the trap frame: nothing on aarch64 (see the module
/// docs: the trap path keeps the user's q0–q31, FPCR and FPSR in the `TrapFrame`).
#[derive(Debug, Default)]
pub struct FpuState;

impl FpuState {
    /// The empty state; never fails.
    pub fn new() -> Option<Self> {
        Some(Self)
    }

    /// Nothing to do: live user FP state is already in the thread's trap frame.
    pub fn save(&mut self) {}

    /// Nothing to do: the return to EL0 restores FP state from the trap frame.
    pub fn restore(&self) {}

    /// A copy (for fork; the child's FP registers come with its copy of the frame).
    pub fn duplicate(&self) -> Option<Self> {
        Some(Self)
    }
}
