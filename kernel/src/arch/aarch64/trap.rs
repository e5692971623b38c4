//! The EL1 exception vector table, the trap entry/exit path, and exception dispatch.
//!
//! All sixteen vectors enter one stub that saves a full [`TrapFrame`] on the current stack
//! (x0–x30, the interrupted SP, ELR, SPSR, ESR, FAR, FPCR/FPSR, q0–q31 and, from EL0,
//! TPIDR_EL0) and calls [`aarch64_trap`]; `trap_return` restores the frame and `eret`s.
//! The stub also builds a frame record `[interrupted x29, ELR]` and points x29 at it, so a
//! backtrace taken in a handler continues into the code that trapped (for a trap from EL0
//! the record is `[0, 0]`: the chain ends there instead of reading user memory).
//!
//! Stacks: the kernel always runs on SP_EL1 (SPSel = 1), so a trap from EL1 pushes its
//! frame below the interrupted kernel SP, and a trap from EL0 pushes it below whatever
//! SP_EL1 held at the `eret` to EL0. That value is always the top of the running thread's
//! kernel stack: a thread first enters user mode through [`enter_user`] with SP at a frame
//! placed right below its stack top, and every later return to EL0 pops the frame its own
//! entry pushed there. So nothing has to reload SP_EL1 on a thread switch
//! (`set_kernel_stack` only records the top for a debug check).
//!
//! FP/SIMD: the kernel is compiled with NEON, so any kernel code may clobber v0–v31,
//! FPCR and FPSR. The stub therefore saves all of them in the frame on every trap and
//! restores them on the way out. For a trap from EL0 the frame is the only copy of the
//! user's FP state: a context switch while in the kernel cannot lose it, fork copies it with
//! the frame, exec resets it with the new frame. For a trap from EL1 (an IRQ during a
//! syscall's NEON memcpy, say) it keeps the interrupted kernel code's registers intact.
//!
//! Dispatch: SVC from EL0 runs `crate::syscall::dispatch` with IRQs unmasked; data and
//! instruction aborts go to `crate::mm::fault::handle_page_fault`, and if it cannot resolve
//! them a user process is killed with SIGSEGV (other user exceptions: SIGILL, SIGBUS,
//! SIGFPE, SIGTRAP), while a kernel fault on a user address gets the user-copy fixup from
//! `uaccess`, or else is reported and panics. IRQs go to the GIC (`gic::handle_irq`).
//! `crate::task::user_return()` runs before every return to EL0.

use core::arch::global_asm;
use core::mem::{offset_of, size_of};
use core::sync::atomic::Ordering;

use wayos_abi::layout::USER_END;
use wayos_abi::signal;

use super::{gic, uaccess};
use crate::mm::fault::Access;
use crate::{backtrace, console, symbols};

/// Registers as the entry stub leaves them on the stack, lowest address first.
#[repr(C, align(16))]
#[derive(Debug, Clone)]
pub struct TrapFrame {
    /// x0–x30 (x29 is the frame pointer, x30 the link register).
    pub x: [u64; 31],
    /// The stack pointer at the time of the exception: SP_EL0 for a trap from EL0, the
    /// kernel SP before the frame was pushed for a trap from EL1. Restored to SP_EL0 when
    /// returning to EL0; ignored when returning to EL1.
    pub sp: u64,
    /// Exception link register: the address to resume at.
    pub elr: u64,
    pub spsr: u64,
    /// Exception syndrome: the class of exception and its details.
    pub esr: u64,
    /// Fault address register (meaningful for aborts and alignment faults).
    pub far: u64,
    /// `[interrupted x29, elr]` (`[0, 0]` from EL0): the frame record the handler's frame
    /// chain passes through.
    pub record: [u64; 2],
    pub fpcr: u64,
    pub fpsr: u64,
    /// The user thread pointer (TPIDR_EL0); saved and restored only for EL0 frames.
    pub tpidr: u64,
    _pad: u64,
    /// q0–q31.
    pub q: [u128; 32],
}

const FRAME_SIZE: usize = size_of::<TrapFrame>();
const _: () = assert!(FRAME_SIZE.is_multiple_of(16));
const _: () = assert!(FRAME_SIZE == 848);
const _: () = assert!(offset_of!(TrapFrame, sp) == 248);
const _: () = assert!(offset_of!(TrapFrame, elr) == 256);
const _: () = assert!(offset_of!(TrapFrame, spsr) == 264);
const _: () = assert!(offset_of!(TrapFrame, esr) == 272);
const _: () = assert!(offset_of!(TrapFrame, far) == 280);
const _: () = assert!(offset_of!(TrapFrame, record) == 288);
const _: () = assert!(offset_of!(TrapFrame, fpcr) == 304);
const _: () = assert!(offset_of!(TrapFrame, fpsr) == 312);
const _: () = assert!(offset_of!(TrapFrame, tpidr) == 320);
const _: () = assert!(offset_of!(TrapFrame, q) == 336);

/// SPSR.M[3:0] for EL0t; the whole of SPSR for a fresh user frame (all of DAIF clear, so
/// interrupts are unmasked in user mode).
const SPSR_EL0T: u64 = 0;
const SPSR_MODE_MASK: u64 = 0xf;

impl TrapFrame {
    /// A frame that enters user mode at `pc` with stack `sp` and x0–x3 set (the process
    /// entry convention in `wayos_abi::layout`); every other register, FP/SIMD included,
    /// is zero.
    pub fn new_user(pc: usize, sp: usize, args: [usize; 4]) -> Self {
        let mut x = [0u64; 31];
        for (r, a) in x.iter_mut().zip(args) {
            *r = a as u64;
        }
        Self {
            x,
            sp: sp as u64,
            elr: pc as u64,
            spsr: SPSR_EL0T,
            esr: 0,
            far: 0,
            record: [0, 0],
            fpcr: 0,
            fpsr: 0,
            tpidr: 0,
            _pad: 0,
            q: [0; 32],
        }
    }

    /// True when the frame returns to EL0 (SPSR.M = EL0t).
    #[allow(clippy::wrong_self_convention)] // The contract's name (arch/mod.rs).
    pub fn came_from_user(&self) -> bool {
        self.spsr & SPSR_MODE_MASK == SPSR_EL0T
    }
    pub fn pc(&self) -> usize {
        self.elr as usize
    }
    pub fn sp(&self) -> usize {
        self.sp as usize
    }
    /// The syscall number: x8, as on Linux/arm64.
    pub fn syscall_number(&self) -> usize {
        self.x[8] as usize
    }
    /// Syscall arguments: x0–x5.
    pub fn syscall_args(&self) -> [usize; 6] {
        [
            self.x[0], self.x[1], self.x[2], self.x[3], self.x[4], self.x[5],
        ]
        .map(|r| r as usize)
    }
    /// The syscall result goes to x0.
    pub fn set_syscall_return(&mut self, value: usize) {
        self.x[0] = value as u64;
    }
}

/// Vector kinds (the entry's index in the table): group * 4 + type.
const GROUP_EL1H: usize = 1;
const GROUP_EL0_64: usize = 2;
const GROUPS: [&str; 4] = [
    "from EL1 on SP_EL0 (EL1t)",
    "from EL1 (EL1h)",
    "from EL0 (AArch64)",
    "from EL0 (AArch32)",
];
const TYPE_SYNC: u64 = 0;
const TYPE_IRQ: u64 = 1;
const TYPE_SERROR: u64 = 3;
const TYPES: [&str; 4] = ["synchronous", "IRQ", "FIQ", "SError"];

/// ESR_EL1 exception classes this file acts on.
const EC_UNKNOWN: u64 = 0x00;
const EC_FP_ACCESS: u64 = 0x07;
const EC_ILLEGAL_STATE: u64 = 0x0e;
const EC_SVC64: u64 = 0x15;
const EC_SYSREG: u64 = 0x18;
const EC_SVE: u64 = 0x19;
const EC_IABT_LOWER: u64 = 0x20;
const EC_IABT_SAME: u64 = 0x21;
const EC_PC_ALIGN: u64 = 0x22;
const EC_DABT_LOWER: u64 = 0x24;
const EC_DABT_SAME: u64 = 0x25;
const EC_SP_ALIGN: u64 = 0x26;
const EC_FP_EXC64: u64 = 0x2c;
const EC_SERROR: u64 = 0x2f;
const EC_BREAKPOINT_LOWER: u64 = 0x30;
const EC_STEP_LOWER: u64 = 0x32;
const EC_WATCHPOINT_LOWER: u64 = 0x34;
const EC_BRK64: u64 = 0x3c;
/// `brk #1` is what LLVM emits for a trap (Rust's `abort`, `unreachable` in some lowering):
/// a dead end, never a breakpoint to resume from.
const BRK_IMM_LLVM_TRAP: u64 = 1;

/// Abort ISS bits.
const ISS_WNR: u64 = 1 << 6;
const ISS_CM: u64 = 1 << 8;
const ISS_FNV: u64 = 1 << 10;

global_asm!(
    r#"
.macro VENTRY kind
    .balign 0x80
    sub     sp, sp, #{frame_size}
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       trap_common
.endm

/* From EL1 on SP_EL1: first make sure the frame will not land in a kernel stack's guard
 * (an overflow: pushing the frame would fault again, forever). SP_EL0 is free scratch here:
 * in EL1 it is dead until trap_return reloads it from an EL0 frame. A stack in the
 * kstack window (sp >> 39 == the window's) whose frame would start below its slot's
 * upper half (bit 16 clear) overflowed: switch to this CPU's emergency stack and tell the
 * handler (kind + OVERFLOW). */
.macro VENTRY_EL1 kind
    .balign 0x80
    msr     sp_el0, x0
    mov     x0, sp
    sub     x0, x0, #{frame_size}
    asr     x0, x0, #39
    cmn     x0, #{window_neg}
    b.ne    1f
    mov     x0, sp
    sub     x0, x0, #{frame_size}
    tbz     x0, #16, 2f
1:  mrs     x0, sp_el0
    sub     sp, sp, #{frame_size}
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       trap_common
2:  mrs     x0, tpidr_el1
    ldr     x0, [x0, #{off_emergency}]
    mov     sp, x0
    mrs     x0, sp_el0
    sub     sp, sp, #{frame_size}
    stp     x0, x1, [sp, #0]
    mov     x0, #(\kind + {overflow})
    b       trap_common
.endm

.section .text.vectors, "ax"
.balign 2048
.global exception_vectors
.type exception_vectors, %function
exception_vectors:
.irp k, 0,1,2,3
    VENTRY \k
.endr
.irp k, 4,5,6,7
    VENTRY_EL1 \k
.endr
.irp k, 8,9,10,11,12,13,14,15
    VENTRY \k
.endr
.size exception_vectors, . - exception_vectors

/* x0 = vector kind; x0/x1 already saved at [sp]. Kinds 8-15 come from EL0. */
.type trap_common, %function
trap_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    str     x30, [sp, #240]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    mrs     x4, esr_el1
    mrs     x5, far_el1
    tbz     x0, #3, 1f
    /* From EL0: the user SP and thread pointer; the frame chain ends here. */
    mrs     x1, sp_el0
    mrs     x6, tpidr_el0
    str     x6, [sp, #{off_tpidr}]
    mov     x7, xzr
    mov     x6, xzr
    b       2f
1:  /* From EL1: the SP before this frame; chain to the interrupted frame. */
    add     x1, sp, #{frame_size}
    mov     x7, x29
    mov     x6, x2
2:  stp     x1, x2, [sp, #248]
    stp     x3, x4, [sp, #264]
    str     x5, [sp, #280]
    stp     x7, x6, [sp, #288]
    add     x29, sp, #288
    mrs     x6, fpcr
    mrs     x7, fpsr
    stp     x6, x7, [sp, #{off_fpcr}]
    add     x8, sp, #{off_q}
    stp     q0, q1, [x8, #0]
    stp     q2, q3, [x8, #32]
    stp     q4, q5, [x8, #64]
    stp     q6, q7, [x8, #96]
    stp     q8, q9, [x8, #128]
    stp     q10, q11, [x8, #160]
    stp     q12, q13, [x8, #192]
    stp     q14, q15, [x8, #224]
    stp     q16, q17, [x8, #256]
    stp     q18, q19, [x8, #288]
    stp     q20, q21, [x8, #320]
    stp     q22, q23, [x8, #352]
    stp     q24, q25, [x8, #384]
    stp     q26, q27, [x8, #416]
    stp     q28, q29, [x8, #448]
    stp     q30, q31, [x8, #480]
    mov     x1, x0
    mov     x0, sp
    bl      {handler}
    /* fall through */

/* Restores the frame at sp and returns from the exception. IRQs are masked here (they
 * must not interrupt between the writes to ELR/SPSR and the eret). */
.global trap_return
trap_return:
    msr     daifset, #2
    add     x8, sp, #{off_q}
    ldp     q0, q1, [x8, #0]
    ldp     q2, q3, [x8, #32]
    ldp     q4, q5, [x8, #64]
    ldp     q6, q7, [x8, #96]
    ldp     q8, q9, [x8, #128]
    ldp     q10, q11, [x8, #160]
    ldp     q12, q13, [x8, #192]
    ldp     q14, q15, [x8, #224]
    ldp     q16, q17, [x8, #256]
    ldp     q18, q19, [x8, #288]
    ldp     q20, q21, [x8, #320]
    ldp     q22, q23, [x8, #352]
    ldp     q24, q25, [x8, #384]
    ldp     q26, q27, [x8, #416]
    ldp     q28, q29, [x8, #448]
    ldp     q30, q31, [x8, #480]
    ldp     x6, x7, [sp, #{off_fpcr}]
    msr     fpcr, x6
    msr     fpsr, x7
    ldp     x1, x2, [sp, #248]
    ldr     x3, [sp, #264]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    tst     x3, #{mode_mask}
    b.ne    3f
    /* Back to EL0: its SP and thread pointer. */
    msr     sp_el0, x1
    ldr     x4, [sp, #{off_tpidr}]
    msr     tpidr_el0, x4
3:  ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #240]
    add     sp, sp, #{frame_size}
    eret
.size trap_common, . - trap_common
"#,
    frame_size = const FRAME_SIZE,
    off_fpcr = const offset_of!(TrapFrame, fpcr),
    off_tpidr = const offset_of!(TrapFrame, tpidr),
    off_q = const offset_of!(TrapFrame, q),
    mode_mask = const SPSR_MODE_MASK,
    handler = sym aarch64_trap,
    window_neg = const (0u64.wrapping_sub(crate::mm::kstack::WINDOW_BASE) >> 39),
    off_emergency = const offset_of!(super::percpu::PerCpu, emergency_stack_top),
    overflow = const KIND_OVERFLOW,
);

/// Added to the vector kind by the EL1 entry when the interrupted kernel stack overflowed
/// into its guard (the frame is then on the CPU's emergency stack).
const KIND_OVERFLOW: u64 = 16;

extern "C" {
    fn trap_return();
}

/// Makes `frame` call `handler(sig)` as a function on the interrupted stack (AAPCS64 has
/// no red zone), 16-byte aligned, returning to `restorer` through the link register.
pub fn enter_signal_handler(
    frame: &mut TrapFrame,
    handler: usize,
    sig: usize,
    restorer: usize,
) -> bool {
    frame.sp &= !15;
    frame.elr = handler as u64;
    frame.x[0] = sig as u64;
    frame.x[30] = restorer as u64;
    true
}

/// Makes `frame` resume `saved` exactly (`sigreturn`); the FP/SIMD registers travel in it.
/// The saved context is the kernel's own copy, but its SPSR is sanitized all the same: no
/// context may return to EL1 or with interrupts masked.
pub fn resume_signal_frame(frame: &mut TrapFrame, saved: TrapFrame) {
    *frame = saved;
    sanitize_user_spsr(frame);
}

/// SPSR bits an EL0 program owns: the condition flags N, Z, C, V, and DIT and SSBS,
/// which EL0 may set itself.
const SPSR_USER: u64 = (0xf << 28) | (1 << 24) | (1 << 12);

/// Makes a frame that returns to EL0 safe to leave with: EL0t (AArch64), DAIF clear
/// (interrupts unmasked), no PAN, UAO, single-step or illegal-state bits; only
/// [`SPSR_USER`] survives.
pub fn sanitize_user_spsr(frame: &mut TrapFrame) {
    frame.spsr = (frame.spsr & SPSR_USER) | SPSR_EL0T;
}

/// Records the stack traps from EL0 enter on. Nothing needs loading: SP_EL1 is the live
/// kernel SP and is back at this thread's stack top whenever it returns to EL0 (see the
/// module docs); the value only serves [`enter_user`]'s debug check.
/// Per CPU (`percpu.rs`): each CPU runs its own thread.
pub fn set_kernel_stack(top: usize) {
    super::percpu::this()
        .kernel_stack_top
        .store(top, Ordering::Relaxed);
}

/// Starts executing `frame` (which must sit at the top of the current thread's kernel
/// stack) by restoring it, as a trap return would.
///
/// # Safety
/// `frame` must be a valid frame for user mode (from [`TrapFrame::new_user`] or a copy of
/// a real one) placed so that the stack above it is the thread's kernel stack, ending
/// right after the frame; IRQs must be masked.
pub unsafe fn enter_user(frame: *const TrapFrame) -> ! {
    let top = super::percpu::this()
        .kernel_stack_top
        .load(Ordering::Relaxed);
    debug_assert!(
        top == 0 || frame as usize + FRAME_SIZE == top,
        "user frame at {frame:p} is not at the kernel stack top {top:#x}"
    );
    // SAFETY: per the contract, sp = frame makes trap_return pop exactly this frame and
    // leaves SP_EL1 at the thread's stack top while it runs in EL0.
    unsafe {
        core::arch::asm!(
            "mov sp, {frame}",
            "b {ret}",
            frame = in(reg) frame,
            ret = sym trap_return,
            options(noreturn)
        )
    }
}

/// Called by the stub for every exception, IRQs masked.
extern "C" fn aarch64_trap(frame: &mut TrapFrame, kind: u64) {
    if kind & KIND_OVERFLOW != 0 {
        stack_overflow(frame, kind & !KIND_OVERFLOW);
    }
    match (vector_group(kind), vector_type(kind)) {
        (GROUP_EL0_64, TYPE_SYNC) => el0_sync(frame),
        (GROUP_EL1H, TYPE_SYNC) => el1_sync(frame, kind),
        (GROUP_EL0_64 | GROUP_EL1H, TYPE_IRQ) => gic::handle_irq(),
        (GROUP_EL0_64, TYPE_SERROR) => crate::task::signal::user_fault(
            signal::SIGBUS,
            format_args!(
                "SError (asynchronous external abort), ESR {:#x}, pc {:#x}",
                frame.esr, frame.elr
            ),
        ),
        _ => fatal(kind, frame),
    }
    if frame.came_from_user() {
        crate::task::user_return(frame);
        sanitize_user_spsr(frame);
    }
}

fn el0_sync(frame: &mut TrapFrame) {
    let ec = exception_class_of(frame.esr);
    let pc = frame.pc();
    let (sig, what) = match ec {
        EC_SVC64 => {
            debug_assert_eq!(
                super::pan_active(),
                super::pan_enabled(),
                "PAN after EL0 entry"
            );
            super::enable_interrupts();
            crate::syscall::dispatch(frame);
            super::disable_interrupts();
            return;
        }
        EC_DABT_LOWER | EC_IABT_LOWER => return user_abort(frame, ec),
        EC_BRK64 | EC_BREAKPOINT_LOWER | EC_STEP_LOWER | EC_WATCHPOINT_LOWER => {
            (signal::SIGTRAP, exception_class(ec))
        }
        EC_PC_ALIGN | EC_SP_ALIGN => (signal::SIGBUS, exception_class(ec)),
        EC_FP_EXC64 => (signal::SIGFPE, exception_class(ec)),
        // Undefined instructions, illegal state, trapped system registers, SVE, ...
        _ => (signal::SIGILL, exception_class(ec)),
    };
    crate::task::signal::user_fault(
        sig,
        format_args!("{what} at pc {pc:#x} (ESR {:#x})", frame.esr),
    );
}

/// What an abort's fault status code says.
enum FaultKind {
    /// Translation fault: nothing mapped.
    Unmapped,
    /// Permission or access-flag fault: mapped, access not allowed.
    Protection,
    /// Alignment fault.
    Alignment,
    /// External abort, address size fault, TLB conflict, ...: not a paging matter.
    Other,
}

fn fault_kind(iss: u64) -> FaultKind {
    let fsc = iss & 0x3f;
    match fsc >> 2 {
        0b0001 => FaultKind::Unmapped,
        0b0010 | 0b0011 => FaultKind::Protection,
        _ if fsc == 0b10_0001 => FaultKind::Alignment,
        _ => FaultKind::Other,
    }
}

/// The access an instruction or data abort describes.
fn access_of(ec: u64, iss: u64, user: bool, present: bool) -> Access {
    let exec = matches!(ec, EC_IABT_LOWER | EC_IABT_SAME);
    // Cache maintenance reports WnR = 1; it needs only read access.
    let write = !exec && iss & ISS_WNR != 0 && iss & ISS_CM == 0;
    Access {
        write,
        exec,
        user,
        present,
    }
}

/// Makes page-table writes done by the fault handler visible to the table walker before
/// the faulting access is retried.
fn publish_page_tables() {
    // SAFETY: barriers only.
    unsafe { core::arch::asm!("dsb ishst", "isb", options(nostack, preserves_flags)) };
}

/// An instruction or data abort from EL0.
fn user_abort(frame: &mut TrapFrame, ec: u64) {
    let iss = frame.esr & 0x1ff_ffff;
    let far_valid = iss & ISS_FNV == 0;
    let addr = frame.far as usize;
    let kind = fault_kind(iss);
    let present = matches!(kind, FaultKind::Protection);
    let access = access_of(ec, iss, true, present);
    if far_valid && matches!(kind, FaultKind::Unmapped | FaultKind::Protection) {
        if crate::mm::fault::handle_page_fault(addr, access) {
            publish_page_tables();
            return;
        }
        crate::task::signal::user_fault(
            signal::SIGSEGV,
            format_args!(
                "page fault at {addr:#x} ({}{} {}) pc {:#x}",
                if present {
                    "protection violation on "
                } else {
                    "unmapped, "
                },
                access_name(access),
                if addr >= USER_END {
                    "kernel address"
                } else {
                    "user address"
                },
                frame.elr
            ),
        );
        return;
    }
    let (sig, what) = match kind {
        FaultKind::Alignment => (signal::SIGBUS, "alignment fault"),
        _ if !far_valid => (signal::SIGSEGV, "abort with no valid fault address"),
        _ => (signal::SIGBUS, fault_status(iss).0),
    };
    crate::task::signal::user_fault(
        sig,
        format_args!(
            "{what} on {} at {addr:#x} pc {:#x} (ESR {:#x})",
            access_name(access),
            frame.elr,
            frame.esr
        ),
    );
}

fn access_name(a: Access) -> &'static str {
    if a.exec {
        "exec"
    } else if a.write {
        "write"
    } else {
        "read"
    }
}

fn el1_sync(frame: &mut TrapFrame, kind: u64) {
    let ec = exception_class_of(frame.esr);
    match ec {
        EC_BRK64 if frame.esr & 0xffff != BRK_IMM_LLVM_TRAP => {
            crate::traps::record_breakpoint(frame.elr as usize);
            frame.elr += 4;
        }
        EC_DABT_SAME | EC_IABT_SAME => kernel_abort(frame, kind, ec),
        _ => fatal(kind, frame),
    }
}

/// An abort from EL1. Only the user-copy routines may fault on user memory: there a fault
/// the VM resolves (demand paging, copy-on-write) is retried, any other takes the routine's
/// fixup (the copy fails with EFAULT). Anything else is a kernel bug, reported, then panics
/// (with PAN on, that includes kernel code touching user memory directly, which would
/// otherwise fault again forever).
fn kernel_abort(frame: &mut TrapFrame, kind: u64, ec: u64) {
    let iss = frame.esr & 0x1ff_ffff;
    let addr = frame.far as usize;
    let fault = fault_kind(iss);
    if ec == EC_DABT_SAME {
        if let Some(fixup) = uaccess::fixup_for(frame.elr as usize) {
            let paging = matches!(fault, FaultKind::Unmapped | FaultKind::Protection);
            if iss & ISS_FNV == 0 && paging && addr < USER_END {
                let access = access_of(ec, iss, false, matches!(fault, FaultKind::Protection));
                if crate::mm::fault::handle_page_fault(addr, access) {
                    publish_page_tables();
                    return;
                }
            }
            frame.elr = fixup as u64;
            return;
        }
        if iss & ISS_FNV == 0 && crate::mm::kstack::is_guard(addr as u64) {
            stack_overflow(frame, kind);
        }
        if addr < USER_END && iss & ISS_FNV == 0 {
            console::write_unlocked(format_args!(
                "\nkernel access to user address {addr:#x} outside the user-copy routines\n"
            ));
        }
    }
    fatal(kind, frame);
}

/// A trap from EL1 whose stack had run into its guard: reported from the emergency stack.
/// The frame's `sp` is not the interrupted one (the entry computed it from the emergency
/// stack); the fault address says where the stack ended.
fn stack_overflow(frame: &TrapFrame, kind: u64) -> ! {
    report(kind, "kernel stack overflow", frame);
    let addr = if is_abort(kind, exception_class_of(frame.esr)) {
        frame.far
    } else {
        0
    };
    crate::mm::kstack::overflow(addr)
}

fn fatal(kind: u64, frame: &TrapFrame) -> ! {
    let ec = exception_class_of(frame.esr);
    let what = if vector_type(kind) == TYPE_SYNC {
        exception_class(ec)
    } else {
        TYPES[vector_type(kind) as usize]
    };
    report(kind, what, frame);
    let group = GROUPS[vector_group(kind)];
    if is_abort(kind, ec) {
        panic!(
            "unhandled kernel exception: {what} {group} at address {:#x}, pc {:#x}",
            frame.far, frame.elr
        );
    }
    panic!(
        "unhandled kernel exception: {what} {group} at pc {:#x}",
        frame.elr
    );
}

fn exception_class_of(esr: u64) -> u64 {
    (esr >> 26) & 0x3f
}

/// Synchronous, IRQ, FIQ or SError: the entry's position within its group of four.
fn vector_type(kind: u64) -> u64 {
    kind & 3
}

/// Where the exception came from: the entry's group (see [`GROUPS`]).
fn vector_group(kind: u64) -> usize {
    ((kind >> 2) & 3) as usize
}

/// An instruction or data abort, whose FAR holds the faulting address.
fn is_abort(kind: u64, ec: u64) -> bool {
    vector_type(kind) == TYPE_SYNC
        && matches!(
            ec,
            EC_IABT_LOWER | EC_IABT_SAME | EC_DABT_LOWER | EC_DABT_SAME
        )
}

/// A name for ESR_EL1.EC.
fn exception_class(ec: u64) -> &'static str {
    match ec {
        EC_UNKNOWN => "unknown reason (undefined instruction)",
        0x01 => "trapped WFI/WFE",
        EC_FP_ACCESS => "trapped FP/SIMD access",
        EC_ILLEGAL_STATE => "illegal execution state",
        0x11 | EC_SVC64 => "SVC",
        0x12 | 0x16 => "HVC",
        0x13 | 0x17 => "SMC",
        EC_SYSREG => "trapped MSR/MRS or system instruction",
        EC_SVE => "trapped SVE access",
        0x1c => "pointer authentication failure",
        EC_IABT_LOWER | EC_IABT_SAME => "instruction abort",
        EC_PC_ALIGN => "PC alignment fault",
        EC_DABT_LOWER | EC_DABT_SAME => "data abort",
        EC_SP_ALIGN => "SP alignment fault",
        0x28 | EC_FP_EXC64 => "floating-point exception",
        EC_SERROR => "SError",
        EC_BREAKPOINT_LOWER | 0x31 => "hardware breakpoint",
        EC_STEP_LOWER | 0x33 => "software step",
        EC_WATCHPOINT_LOWER | 0x35 => "watchpoint",
        0x38 | EC_BRK64 => "BRK instruction (trap)",
        _ => "reserved exception class",
    }
}

/// The fault status code of an instruction or data abort (ISS bits 5:0), in words.
fn fault_status(iss: u64) -> (&'static str, Option<u64>) {
    let fsc = iss & 0x3f;
    let level = Some(fsc & 3);
    match fsc >> 2 {
        0b0000 => ("address size fault", level),
        0b0001 => ("translation fault", level),
        0b0010 => ("access flag fault", level),
        0b0011 => ("permission fault", level),
        _ => (
            match fsc {
                0b01_0000 => "synchronous external abort",
                0b01_1000 => "synchronous parity/ECC error",
                0b10_0001 => "alignment fault",
                0b11_0000 => "TLB conflict abort",
                0b11_0001 => "unsupported atomic hardware update fault",
                _ => "other fault status",
            },
            None,
        ),
    }
}

fn report(kind: u64, what: &str, f: &TrapFrame) {
    let w = console::write_unlocked;
    let group = GROUPS[vector_group(kind)];
    let ty = TYPES[vector_type(kind) as usize];
    let ec = exception_class_of(f.esr);
    let iss = f.esr & 0x1ff_ffff;
    w(format_args!(
        "\nCPU EXCEPTION on cpu{}: {ty} {group}: {what}\n",
        super::cpu_id()
    ));
    if is_abort(kind, ec) {
        let (status, level) = fault_status(iss);
        let access = if matches!(ec, EC_IABT_LOWER | EC_IABT_SAME) {
            "on instruction fetch"
        } else if iss & ISS_WNR != 0 {
            "on write"
        } else {
            "on read"
        };
        let far_valid = iss & ISS_FNV == 0;
        match level {
            Some(l) => w(format_args!("  {status}, level {l}, {access}")),
            None => w(format_args!("  {status} {access}")),
        }
        if far_valid {
            w(format_args!(" at address {:#018x}\n", f.far));
        } else {
            w(format_args!(" (fault address not valid)\n"));
        }
    }
    w(format_args!(
        "  ESR {:#010x} (EC {ec:#04x}, ISS {iss:#x})  FAR {:#018x}\n",
        f.esr, f.far
    ));
    w(format_args!(
        "  ELR {:#018x} {}\n",
        f.elr,
        symbols::Describe(f.elr as usize)
    ));
    w(format_args!(
        "  SPSR {:#010x}  SP {:#018x}\n",
        f.spsr,
        f.sp()
    ));
    for row in f.x.chunks(3).enumerate() {
        let (i, regs) = row;
        w(format_args!(" "));
        for (j, r) in regs.iter().enumerate() {
            let n = i * 3 + j;
            w(format_args!(" x{n:<2} {r:#018x}"));
        }
        w(format_args!("\n"));
    }
    // Starts at the stub's frame record: the trapping instruction, then its callers.
    backtrace::print(core::ptr::addr_of!(f.record) as usize);
}
