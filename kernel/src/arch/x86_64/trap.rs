//! The IDT, the exception entry stubs and the fatal-exception report.
//!
//! Every vector enters through a small stub that pushes a uniform frame ([`TrapFrame`]) and
//! calls [`x86_trap`]. The stub also pushes a frame record `[interrupted rbp, rip]` so a
//! backtrace taken in the handler continues into the code that trapped. Breakpoints return;
//! every other exception in kernel mode is reported with the registers and then panics.

use core::arch::global_asm;
use spin::Once;

use super::gdt::DOUBLE_FAULT_IST;
use crate::console;

const EXCEPTIONS: usize = 32;
const VEC_BREAKPOINT: u64 = 3;
const VEC_DOUBLE_FAULT: usize = 8;
const VEC_PAGE_FAULT: u64 = 14;

/// Registers as the entry stub leaves them on the stack, lowest address first.
#[repr(C)]
#[derive(Debug)]
pub struct TrapFrame {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub vector: u64,
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

// Vectors that push an error code: 8, 10-14, 17, 21, 29, 30.
global_asm!(
    r#"
.macro TRAP_NOERR num
    .p2align 4
trap_stub_\num:
    push 0
    push \num
    jmp trap_common
.endm
.macro TRAP_ERR num
    .p2align 4
trap_stub_\num:
    push \num
    jmp trap_common
.endm

.section .text.trap, "ax"
.irp n, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
    TRAP_NOERR \n
.endr
.irp n, 8,10,11,12,13,14,17,21,29,30
    TRAP_ERR \n
.endr

.type trap_common, @function
trap_common:
    push r15
    push r14
    push r13
    push r12
    push r11
    push r10
    push r9
    push r8
    push rbp
    push rdi
    push rsi
    push rdx
    push rcx
    push rbx
    push rax
    mov rdi, rsp
    push qword ptr [rdi + 17*8]
    push rbp
    mov rbp, rsp
    cld
    call {handler}
    add rsp, 16
    pop rax
    pop rbx
    pop rcx
    pop rdx
    pop rsi
    pop rdi
    pop rbp
    pop r8
    pop r9
    pop r10
    pop r11
    pop r12
    pop r13
    pop r14
    pop r15
    add rsp, 16
    iretq
.size trap_common, . - trap_common

.section .rodata.trap, "a"
.p2align 3
.global trap_stub_table
trap_stub_table:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad trap_stub_\n
.endr
"#,
    handler = sym x86_trap,
);

extern "C" {
    static trap_stub_table: [u64; EXCEPTIONS];
}

/// One 16-byte interrupt gate.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    fn interrupt(handler: u64, selector: u16, ist: u16) -> Self {
        Self {
            offset_low: handler as u16,
            selector,
            ist: ist as u8,
            type_attr: 0x8e, // present, DPL 0, 64-bit interrupt gate
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt([Gate; 256]);

static IDT: Once<Idt> = Once::new();

pub fn init() {
    let cs = x86_64::instructions::segmentation::CS::get_reg().0;
    let idt = IDT.call_once(|| {
        let mut gates = [Gate::default(); 256];
        // SAFETY: `trap_stub_table` is a read-only table of stub addresses emitted above.
        let stubs = unsafe { &*core::ptr::addr_of!(trap_stub_table) };
        for (vector, &stub) in stubs.iter().enumerate() {
            let ist = if vector == VEC_DOUBLE_FAULT {
                DOUBLE_FAULT_IST
            } else {
                0
            };
            gates[vector] = Gate::interrupt(stub, cs, ist);
        }
        Idt(gates)
    });
    let ptr = x86_64::structures::DescriptorTablePointer {
        limit: (core::mem::size_of::<Idt>() - 1) as u16,
        base: x86_64::VirtAddr::new(idt as *const Idt as u64),
    };
    // SAFETY: the IDT is in a static that lives forever and every present gate points at a
    // stub that saves state and calls `x86_trap`.
    unsafe { x86_64::instructions::tables::lidt(&ptr) };
}

use x86_64::instructions::segmentation::Segment;

const NAMES: [&str; EXCEPTIONS] = [
    "divide error (#DE)",
    "debug (#DB)",
    "non-maskable interrupt",
    "breakpoint (#BP)",
    "overflow (#OF)",
    "bound range exceeded (#BR)",
    "invalid opcode (#UD)",
    "device not available (#NM)",
    "double fault (#DF)",
    "coprocessor segment overrun",
    "invalid TSS (#TS)",
    "segment not present (#NP)",
    "stack-segment fault (#SS)",
    "general protection fault (#GP)",
    "page fault (#PF)",
    "reserved",
    "x87 floating-point error (#MF)",
    "alignment check (#AC)",
    "machine check (#MC)",
    "SIMD floating-point error (#XM)",
    "virtualization exception (#VE)",
    "control protection (#CP)",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection (#HV)",
    "VMM communication (#VC)",
    "security exception (#SX)",
    "reserved",
];

extern "C" fn x86_trap(frame: &mut TrapFrame) {
    if frame.vector == VEC_BREAKPOINT {
        crate::traps::record_breakpoint(frame.rip as usize);
        return;
    }
    let name = NAMES
        .get(frame.vector as usize)
        .copied()
        .unwrap_or("unknown vector");
    report(name, frame);
    panic!("unhandled kernel exception: {name} at rip {:#x}", frame.rip);
}

fn report(name: &str, f: &TrapFrame) {
    let w = console::write_unlocked;
    w(format_args!(
        "\nCPU EXCEPTION on cpu{}: {name}, vector {} error {:#x}\n",
        super::cpu_id(),
        f.vector,
        f.error
    ));
    w(format_args!(
        "  rip {:#018x} {}\n",
        f.rip,
        crate::symbols::Describe(f.rip as usize)
    ));
    if f.vector == VEC_PAGE_FAULT {
        let cr2 = x86_64::registers::control::Cr2::read_raw();
        let e = f.error;
        w(format_args!(
            "  fault address (cr2) {cr2:#018x}: {} {} in {} mode{}\n",
            if e & 1 != 0 {
                "protection violation"
            } else {
                "page not present"
            },
            if e & 0x10 != 0 {
                "on instruction fetch"
            } else if e & 2 != 0 {
                "on write"
            } else {
                "on read"
            },
            if e & 4 != 0 { "user" } else { "kernel" },
            if e & 8 != 0 {
                " (reserved bit set)"
            } else {
                ""
            },
        ));
    }
    w(format_args!(
        "  rax {:#018x} rbx {:#018x} rcx {:#018x}\n",
        f.rax, f.rbx, f.rcx
    ));
    w(format_args!(
        "  rdx {:#018x} rsi {:#018x} rdi {:#018x}\n",
        f.rdx, f.rsi, f.rdi
    ));
    w(format_args!(
        "  rbp {:#018x} rsp {:#018x} r8  {:#018x}\n",
        f.rbp, f.rsp, f.r8
    ));
    w(format_args!(
        "  r9  {:#018x} r10 {:#018x} r11 {:#018x}\n",
        f.r9, f.r10, f.r11
    ));
    w(format_args!(
        "  r12 {:#018x} r13 {:#018x} r14 {:#018x}\n",
        f.r12, f.r13, f.r14
    ));
    w(format_args!(
        "  r15 {:#018x} rflags {:#010x} cs {:#x} ss {:#x}\n",
        f.r15, f.rflags, f.cs, f.ss
    ));
}
