//! The EL1 exception vector table, the entry stub and the fatal-exception report.
//!
//! All sixteen vectors enter one stub that saves x0–x30, the interrupted SP, ELR, SPSR,
//! ESR and FAR into a [`TrapFrame`] on the current stack and calls [`aarch64_trap`]. The
//! stub also builds a frame record `[interrupted x29, ELR]` and points x29 at it, so a
//! backtrace taken in the handler continues into the code that trapped, starting with the
//! trapping instruction itself.
//!
//! A BRK from EL1 is a breakpoint: it is counted and execution resumes after it. Every other
//! exception (faults, SError, IRQ/FIQ — interrupts are masked for now — and anything from
//! EL0, which does not exist yet) is reported with its decoded cause, the registers and a
//! backtrace, then panics. The stub saves no FP/SIMD registers: code that expects to resume
//! after a trap must declare them clobbered (as `arch::breakpoint` does).

use core::arch::global_asm;
use core::mem::{offset_of, size_of};

use crate::{backtrace, console, symbols};

/// Registers as the entry stub leaves them on the stack, lowest address first.
#[repr(C)]
#[derive(Debug)]
pub struct TrapFrame {
    /// x0–x30 (x29 is the frame pointer, x30 the link register).
    pub x: [u64; 31],
    /// The stack pointer at the time of the exception.
    pub sp: u64,
    /// Exception link register: the address to resume at.
    pub elr: u64,
    pub spsr: u64,
    /// Exception syndrome: the class of exception and its details.
    pub esr: u64,
    /// Fault address register (meaningful for aborts and alignment faults).
    pub far: u64,
    /// `[interrupted x29, elr]`: the frame record the handler's frame chain passes through.
    pub record: [u64; 2],
}

const FRAME_SIZE: usize = size_of::<TrapFrame>();
const _: () = assert!(FRAME_SIZE.is_multiple_of(16));
const _: () = assert!(offset_of!(TrapFrame, sp) == 248);
const _: () = assert!(offset_of!(TrapFrame, elr) == 256);
const _: () = assert!(offset_of!(TrapFrame, spsr) == 264);
const _: () = assert!(offset_of!(TrapFrame, esr) == 272);
const _: () = assert!(offset_of!(TrapFrame, far) == 280);
const _: () = assert!(offset_of!(TrapFrame, record) == 288);

/// Vector kinds (the entry's index in the table): group * 4 + type.
const KIND_EL1H_SYNC: u64 = 4;
/// The type part of a kind that means a synchronous exception.
const TYPE_SYNC: u64 = 0;
const GROUPS: [&str; 4] = [
    "from EL1 on SP_EL0 (EL1t)",
    "from EL1 (EL1h)",
    "from EL0 (AArch64)",
    "from EL0 (AArch32)",
];
const TYPES: [&str; 4] = ["synchronous", "IRQ", "FIQ", "SError"];

/// ESR_EL1 exception classes this file acts on.
const EC_BRK64: u64 = 0x3c;
const EC_IABT_LOWER: u64 = 0x20;
const EC_IABT_SAME: u64 = 0x21;
const EC_DABT_LOWER: u64 = 0x24;
const EC_DABT_SAME: u64 = 0x25;
/// `brk #1` is what LLVM emits for a trap (Rust's `abort`, `unreachable` in some lowering):
/// a dead end, never a breakpoint to resume from.
const BRK_IMM_LLVM_TRAP: u64 = 1;

global_asm!(
    r#"
.macro VENTRY kind
    .balign 0x80
    sub     sp, sp, #{frame_size}
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       trap_common
.endm

.section .text.vectors, "ax"
.balign 2048
.global exception_vectors
.type exception_vectors, %function
exception_vectors:
.irp k, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    VENTRY \k
.endr
.size exception_vectors, . - exception_vectors

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
    add     x1, sp, #{frame_size}
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x1, x2, [sp, #248]
    mrs     x4, esr_el1
    mrs     x5, far_el1
    stp     x3, x4, [sp, #264]
    str     x5, [sp, #280]
    /* Frame record so the handler's backtrace continues at the trapping instruction. */
    stp     x29, x2, [sp, #288]
    add     x29, sp, #288
    mov     x1, x0
    mov     x0, sp
    bl      {handler}
    ldp     x2, x3, [sp, #256]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x0, x1, [sp, #0]
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
    handler = sym aarch64_trap,
);

/// Called by the stub for every exception; returns only for breakpoints.
extern "C" fn aarch64_trap(frame: &mut TrapFrame, kind: u64) {
    let ec = (frame.esr >> 26) & 0x3f;
    if kind == KIND_EL1H_SYNC && ec == EC_BRK64 && frame.esr & 0xffff != BRK_IMM_LLVM_TRAP {
        crate::traps::record_breakpoint(frame.elr as usize);
        frame.elr += 4;
        return;
    }
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
        0x00 => "unknown reason (undefined instruction)",
        0x01 => "trapped WFI/WFE",
        0x07 => "trapped FP/SIMD access",
        0x0e => "illegal execution state",
        0x11 | 0x15 => "SVC",
        0x12 | 0x16 => "HVC",
        0x13 | 0x17 => "SMC",
        0x18 => "trapped MSR/MRS or system instruction",
        0x19 => "trapped SVE access",
        0x1c => "pointer authentication failure",
        EC_IABT_LOWER | EC_IABT_SAME => "instruction abort",
        0x22 => "PC alignment fault",
        EC_DABT_LOWER | EC_DABT_SAME => "data abort",
        0x26 => "SP alignment fault",
        0x28 | 0x2c => "floating-point exception",
        0x2f => "SError",
        0x30 | 0x31 => "hardware breakpoint",
        0x32 | 0x33 => "software step",
        0x34 | 0x35 => "watchpoint",
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
    let ec = (f.esr >> 26) & 0x3f;
    let iss = f.esr & 0x1ff_ffff;
    w(format_args!(
        "\nCPU EXCEPTION on cpu{}: {ty} {group}: {what}\n",
        super::cpu_id()
    ));
    if is_abort(kind, ec) {
        let (status, level) = fault_status(iss);
        let access = if matches!(ec, EC_IABT_LOWER | EC_IABT_SAME) {
            "on instruction fetch"
        } else if iss & (1 << 6) != 0 {
            "on write"
        } else {
            "on read"
        };
        let far_valid = iss & (1 << 10) == 0;
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
    w(format_args!("  SPSR {:#010x}  SP {:#018x}\n", f.spsr, f.sp));
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
