//! The IDT, the trap entry/exit path, and exception dispatch.
//!
//! Every vector enters through a small stub that pushes a uniform [`TrapFrame`] and calls
//! [`x86_trap`]; the syscall entry (`syscall.rs`) builds the same frame. Traps from user
//! mode swap to the kernel GS base on entry and back on exit. The stub also pushes a frame
//! record `[interrupted rbp, rip]` so a backtrace taken in a handler continues into the
//! code that trapped. What happens next is decided here: breakpoints return, page faults go
//! to the VM, faults in user mode kill the process, faults in kernel mode are reported and
//! panic (unless a user-copy fixup applies), IRQs go to their handlers: the LAPIC timer
//! ([`VEC_TIMER`], every CPU), COM1's receive interrupt ([`VEC_SERIAL`], boot CPU), the
//! kernel IPI ([`VEC_IPI`]), device vectors handed out by `irq` (MSI-X, I/O APIC lines
//! of PCI devices) to `irq::dispatch`; spurious LAPIC and remapped-8259 vectors are ignored. One IDT
//! serves every CPU.

use core::arch::global_asm;
use spin::Once;

use super::gdt::{DOUBLE_FAULT_IST, USER_CS, USER_SS};
use super::{irq, lapic, uaccess};
use crate::console;
use crate::mm::fault::Access;
use wayos_abi::signal;

const EXCEPTIONS: usize = 32;
const VEC_BREAKPOINT: u64 = 3;
const VEC_DOUBLE_FAULT: usize = 8;
const VEC_PAGE_FAULT: u64 = 14;
/// The LAPIC timer's vector.
pub const VEC_TIMER: u64 = 32;
/// COM1's receive interrupt, routed through the I/O APIC to the boot CPU.
pub const VEC_SERIAL: u64 = 36;
/// The kernel's inter-processor interrupt (`send_ipi`).
pub const VEC_IPI: u64 = 0xf0;
/// Where the (masked) 8259 pair is remapped, 16 vectors: only spurious IRQs arrive here.
pub const VEC_PIC_BASE: u64 = 0xe0;
/// The LAPIC spurious-interrupt vector.
pub const VEC_SPURIOUS: u64 = 0xff;
/// Marks frames built by the syscall entry (they may leave with SYSRET).
pub const VEC_SYSCALL: u64 = 0x100;
/// Marks frames that start a program: they must leave with IRETQ, which restores rcx
/// (the fourth entry argument) where SYSRET would overwrite it with rip.
pub const VEC_ENTRY: u64 = 0x101;

const RFLAGS_IF: u64 = 1 << 9;
const RFLAGS_DF: u64 = 1 << 10;
/// Bit 1 of RFLAGS is reserved and always reads 1.
const RFLAGS_FIXED: u64 = 1 << 1;
/// The RFLAGS bits a user program may own: the condition flags (CF, PF, AF, ZF, SF,
/// OF), TF, DF, AC and ID. Never IOPL, NT, RF, VM, VIF or VIP; IF is always set.
const RFLAGS_USER: u64 = (1 << 0)
    | (1 << 2)
    | (1 << 4)
    | (1 << 6)
    | (1 << 7)
    | (1 << 8)
    | RFLAGS_DF
    | (1 << 11)
    | (1 << 18)
    | (1 << 21);
/// RFLAGS.AC, for the in-kernel checks (`hardening.rs`).
pub(super) const RFLAGS_AC: u64 = 1 << 18;

/// Makes a frame that returns to user mode safe to leave with: user code and stack
/// segments, and only the flags a user may own ([`RFLAGS_USER`]) plus IF. In particular
/// NT never survives into an `iretq` frame (nor into SYSRET's r11).
pub fn sanitize_user_frame(frame: &mut TrapFrame) {
    frame.cs = u64::from(USER_CS);
    frame.ss = u64::from(USER_SS);
    frame.rflags = (frame.rflags & RFLAGS_USER) | RFLAGS_IF | RFLAGS_FIXED;
}

/// Whether the last kernel-mode breakpoint trap ran its handler with RFLAGS.AC set (read
/// by `hardening.rs`'s check that trap entry clears it).
pub(super) static AC_IN_LAST_BREAKPOINT: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);
/// Bytes below the stack pointer that System V leaf code may use without moving it.
const RED_ZONE: u64 = 128;

/// Makes `frame` call `handler(sig)` as a function: below the interrupted stack's red
/// zone, 16-byte aligned before the call, with `restorer` as the return address on the
/// stack and the direction flag clear. False (frame untouched) if the stack cannot take
/// the return address.
pub fn enter_signal_handler(
    frame: &mut TrapFrame,
    handler: usize,
    sig: usize,
    restorer: usize,
) -> bool {
    let sp = (frame.rsp.wrapping_sub(RED_ZONE) & !15).wrapping_sub(8);
    let ret = crate::umem::UserPtr::<u64, crate::umem::WriteOnly>::new(sp as usize);
    if ret.and_then(|p| p.write(&(restorer as u64))).is_err() {
        return false;
    }
    frame.rip = handler as u64;
    frame.rdi = sig as u64;
    frame.rsp = sp;
    frame.rflags &= !RFLAGS_DF;
    // Leave through iretq, which restores every register (SYSRET would clobber rcx/r11).
    frame.vector = VEC_ENTRY;
    true
}

/// Makes `frame` resume `saved` exactly (`sigreturn`), through iretq.
pub fn resume_signal_frame(frame: &mut TrapFrame, saved: TrapFrame) {
    *frame = saved;
    frame.vector = VEC_ENTRY;
    sanitize_user_frame(frame);
}

/// Registers as the entry stubs leave them on the stack, lowest address first.
#[repr(C)]
#[derive(Debug, Clone)]
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

impl TrapFrame {
    /// A frame that enters user mode at `pc` with stack `sp` and the first four argument
    /// registers set (the process entry convention in `wayos_abi::layout`).
    pub fn new_user(pc: usize, sp: usize, args: [usize; 4]) -> Self {
        Self {
            rax: 0,
            rbx: 0,
            rcx: args[3] as u64,
            rdx: args[2] as u64,
            rsi: args[1] as u64,
            rdi: args[0] as u64,
            rbp: 0,
            r8: 0,
            r9: 0,
            r10: 0,
            r11: 0,
            r12: 0,
            r13: 0,
            r14: 0,
            r15: 0,
            vector: VEC_ENTRY,
            error: 0,
            rip: pc as u64,
            cs: u64::from(USER_CS),
            rflags: RFLAGS_IF,
            rsp: sp as u64,
            ss: u64::from(USER_SS),
        }
    }

    pub fn came_from_user(&self) -> bool {
        self.cs & 3 == 3
    }
    pub fn syscall_number(&self) -> usize {
        self.rax as usize
    }
    pub fn syscall_args(&self) -> [usize; 6] {
        [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9].map(|r| r as usize)
    }
    pub fn set_syscall_return(&mut self, value: usize) {
        self.rax = value as u64;
    }
}

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
.irp n, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,124,125,126,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159,160,161,162,163,164,165,166,167,168,169,170,171,172,173,174,175,176,177,178,179,180,181,182,183,184,185,186,187,188,189,190,191,192,193,194,195,196,197,198,199,200,201,202,203,204,205,206,207,208,209,210,211,212,213,214,215,216,217,218,219,220,221,222,223,224,225,226,227,228,229,230,231,232,233,234,235,236,237,238,239,240,241,242,243,244,245,246,247,248,249,250,251,252,253,254,255
    TRAP_NOERR \n
.endr

.type trap_common, @function
trap_common:
    // Interrupt gates clear IF, TF and NT but not AC: a user (or a kernel `stac` window)
    // with AC set would run this handler with SMAP off. `clac` exists only with SMAP.
    cmp byte ptr [rip + {smap}], 0
    je 3f
    clac
3:
    // Came from user mode (CS RPL 3)? Then switch to the kernel GS base.
    test qword ptr [rsp + 24], 3
    jz 1f
    swapgs
1:
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
.global trap_return
trap_return:
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
    test qword ptr [rsp + 8], 3
    jz 2f
    swapgs
2:
    iretq
.size trap_common, . - trap_common

.section .rodata.trap, "a"
.p2align 3
.global trap_stub_table
trap_stub_table:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,124,125,126,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159,160,161,162,163,164,165,166,167,168,169,170,171,172,173,174,175,176,177,178,179,180,181,182,183,184,185,186,187,188,189,190,191,192,193,194,195,196,197,198,199,200,201,202,203,204,205,206,207,208,209,210,211,212,213,214,215,216,217,218,219,220,221,222,223,224,225,226,227,228,229,230,231,232,233,234,235,236,237,238,239,240,241,242,243,244,245,246,247,248,249,250,251,252,253,254,255
    .quad trap_stub_\n
.endr
"#,
    handler = sym x86_trap,
    smap = sym super::cpu::SMAP,
);

extern "C" {
    static trap_stub_table: [u64; 256];
    fn trap_return();
}

/// Starts executing `frame` (which must sit at the top of the current thread's kernel
/// stack) by restoring it, as a trap return would.
///
/// # Safety
/// `frame` must be a valid frame for user mode (from [`TrapFrame::new_user`] or a copy of
/// a real one) placed so that the stack above it is the thread's kernel stack.
pub unsafe fn enter_user(frame: *const TrapFrame) -> ! {
    // SAFETY: per the contract the frame is this thread's own, at its stack top; nothing
    // else refers to it. A forked child's frame is a copy of its parent's syscall frame.
    sanitize_user_frame(unsafe { &mut *frame.cast_mut() });
    // SAFETY: per the contract, rsp = frame makes trap_return pop exactly this frame.
    unsafe {
        core::arch::asm!(
            "mov rsp, {frame}",
            "jmp {ret}",
            frame = in(reg) frame,
            ret = sym trap_return,
            options(noreturn)
        )
    }
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
    fn interrupt(handler: u64, selector: u16, ist: u16, dpl: u8) -> Self {
        Self {
            offset_low: handler as u16,
            selector,
            ist: ist as u8,
            type_attr: 0x8e | (dpl << 5), // present, 64-bit interrupt gate
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt([Gate; 256]);

static IDT: Once<Idt> = Once::new();

/// Builds the shared IDT (first call) and loads it on the running CPU.
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
            // int3 may be used from user mode (debuggers); everything else is kernel-only.
            let dpl = if vector as u64 == VEC_BREAKPOINT {
                3
            } else {
                0
            };
            gates[vector] = Gate::interrupt(stub, cs, ist, dpl);
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

/// The signal a user-mode exception turns into.
fn user_signal(vector: u64) -> i32 {
    match vector {
        0 | 16 | 19 => signal::SIGFPE,
        3 | 1 => signal::SIGTRAP,
        6 => signal::SIGILL,
        17 => signal::SIGBUS,
        _ => signal::SIGSEGV,
    }
}

extern "C" fn x86_trap(frame: &mut TrapFrame) {
    match frame.vector {
        VEC_TIMER => {
            lapic::eoi();
            crate::traps::timer_tick();
        }
        VEC_SERIAL => {
            lapic::eoi();
            crate::traps::serial_irq();
        }
        VEC_IPI => {
            lapic::eoi();
            crate::traps::ipi();
        }
        // Spurious: no EOI (the LAPIC did not set an in-service bit; a masked 8259 line
        // raised nothing either).
        VEC_SPURIOUS => {}
        v if (VEC_PIC_BASE..VEC_PIC_BASE + 16).contains(&v) => {}
        VEC_BREAKPOINT if !frame.came_from_user() => {
            let ac = x86_64::registers::rflags::read_raw() & RFLAGS_AC != 0;
            AC_IN_LAST_BREAKPOINT.store(ac, core::sync::atomic::Ordering::Relaxed);
            crate::traps::record_breakpoint(frame.rip as usize);
        }
        VEC_PAGE_FAULT => page_fault(frame),
        v if v < EXCEPTIONS as u64 && frame.came_from_user() => {
            let name = NAMES[v as usize];
            crate::task::signal::user_fault(
                user_signal(v),
                format_args!("{name} at pc {:#x}", frame.rip),
            );
        }
        v if v < EXCEPTIONS as u64 => fatal(frame),
        v if irq::is_device_vector(v) => irq::dispatch(v),
        v => log::warn!("unexpected interrupt vector {v}"),
    }
    if frame.came_from_user() {
        crate::task::user_return(frame);
        sanitize_user_frame(frame);
    }
}

fn page_fault(frame: &mut TrapFrame) {
    let addr = x86_64::registers::control::Cr2::read_raw() as usize;
    let e = frame.error;
    let access = Access {
        write: e & 2 != 0,
        exec: e & 0x10 != 0,
        user: e & 4 != 0,
        present: e & 1 != 0,
    };
    if crate::mm::fault::handle_page_fault(addr, access) {
        return;
    }
    if frame.came_from_user() {
        crate::task::signal::user_fault(
            signal::SIGSEGV,
            format_args!(
                "page fault at {addr:#x} ({}{} {}) pc {:#x}",
                if access.present {
                    "protection violation on "
                } else {
                    "unmapped, "
                },
                if access.exec {
                    "exec"
                } else if access.write {
                    "write"
                } else {
                    "read"
                },
                if addr >= wayos_abi::layout::USER_END {
                    "kernel address"
                } else {
                    "user address"
                },
                frame.rip
            ),
        );
        return;
    }
    if let Some(fixup) = uaccess::fixup_for(frame.rip as usize) {
        frame.rip = fixup as u64;
        return;
    }
    fatal(frame);
}

fn fatal(frame: &TrapFrame) -> ! {
    let name = NAMES
        .get(frame.vector as usize)
        .copied()
        .unwrap_or("unknown vector");
    report(name, frame);
    // A kernel stack overflow: the push into the guard page faults, and delivering that
    // #PF on the same stack faults again, so it arrives as a #DF on its own IST stack.
    if frame.vector == VEC_DOUBLE_FAULT as u64 || frame.vector == VEC_PAGE_FAULT {
        let cr2 = x86_64::registers::control::Cr2::read_raw();
        if crate::mm::kstack::is_guard(cr2) {
            crate::mm::kstack::overflow(cr2);
        }
    }
    panic!("unhandled kernel exception: {name} at rip {:#x}", frame.rip);
}

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
