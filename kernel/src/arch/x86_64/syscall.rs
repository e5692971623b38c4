//! SYSCALL entry: builds the same `TrapFrame` an interrupt does and calls the generic
//! dispatcher; returns through the common trap exit (`iretq`).
//!
//! On entry the CPU has user GS and stack: `swapgs` reaches the per-CPU block (layout in
//! `gdt::PerCpu`), whose slot 8 keeps the user rsp and slot 16 holds the running thread's
//! kernel stack top. Interrupts are masked by SFMASK until the frame is saved.

use core::arch::global_asm;

use x86_64::registers::model_specific::{Efer, EferFlags, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;
use x86_64::structures::gdt::SegmentSelector;
use x86_64::VirtAddr;

use super::gdt::{KERNEL_CS, KERNEL_SS, USER_CS, USER_SS};
use super::trap::TrapFrame;

global_asm!(
    r#"
.section .text.syscall, "ax"
.global syscall_entry
.type syscall_entry, @function
syscall_entry:
    swapgs
    mov gs:[8], rsp
    mov rsp, gs:[16]
    push {user_ss}
    push qword ptr gs:[8]
    push r11
    push {user_cs}
    push rcx
    push 0
    push 0x100
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
    jmp trap_return
.size syscall_entry, . - syscall_entry
"#,
    user_ss = const USER_SS,
    user_cs = const USER_CS,
    handler = sym x86_syscall,
);

extern "C" {
    fn syscall_entry();
}

pub fn init() {
    // SAFETY: the selectors match the GDT layout in gdt.rs; LSTAR points at the entry
    // stub above; SCE only enables the SYSCALL instruction.
    unsafe {
        Star::write(
            SegmentSelector(USER_CS),
            SegmentSelector(USER_SS),
            SegmentSelector(KERNEL_CS),
            SegmentSelector(KERNEL_SS),
        )
        .expect("GDT layout fits SYSCALL/SYSRET");
        LStar::write(VirtAddr::new(syscall_entry as *const () as u64));
        SFMask::write(
            RFlags::INTERRUPT_FLAG
                | RFlags::DIRECTION_FLAG
                | RFlags::TRAP_FLAG
                | RFlags::ALIGNMENT_CHECK,
        );
        Efer::update(|f| f.insert(EferFlags::SYSTEM_CALL_EXTENSIONS));
    }
}

extern "C" fn x86_syscall(frame: &mut TrapFrame) {
    x86_64::instructions::interrupts::enable();
    crate::syscall::dispatch(frame);
    x86_64::instructions::interrupts::disable();
    crate::task::user_return();
}
