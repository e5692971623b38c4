//! SYSCALL entry: builds the same `TrapFrame` an interrupt does and calls the generic
//! dispatcher; returns with SYSRET, or through the common trap exit (`iretq`) when the
//! frame is no longer a plain syscall frame (execve replaced it) or SYSRET would be unsafe.
//!
//! On entry the CPU has user GS and stack: `swapgs` reaches the per-CPU block (layout in
//! `gdt::PerCpu`), whose slot 8 keeps the user rsp and slot 16 holds the running thread's
//! kernel stack top. Interrupts are masked by SFMASK until the frame is saved; SFMASK also
//! clears AC, DF, TF and NT, so no user flag reaches the kernel through SYSCALL. The user
//! RFLAGS a frame leaves with are sanitized (`trap::sanitize_user_frame`) on every exit.

use core::arch::global_asm;

use x86_64::registers::model_specific::{Efer, EferFlags, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;
use x86_64::structures::gdt::SegmentSelector;
use x86_64::VirtAddr;

use super::gdt::{KERNEL_CS, KERNEL_SS, USER_CS, USER_SS};
use super::trap::{TrapFrame, VEC_SYSCALL};

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
    push {vec_syscall}
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
    // Fast path: a frame still marked as this syscall's, returning to a user-half rip,
    // leaves with sysretq (rcx = rip, r11 = rflags, as the ABI clobbers them anyway).
    // Anything else (a frame execve replaced, a non-canonical rip that would make
    // sysretq fault in kernel mode) takes the general iretq exit.
    cmp qword ptr [rsp + 15*8], {vec_syscall}
    jne trap_return
    mov rcx, [rsp + 17*8]
    mov r11, 0x00007fffffffffff
    cmp rcx, r11
    ja trap_return
    pop rax
    pop rbx
    add rsp, 8
    pop rdx
    pop rsi
    pop rdi
    pop rbp
    pop r8
    pop r9
    pop r10
    add rsp, 8
    pop r12
    pop r13
    pop r14
    pop r15
    // rsp -> vector, error, rip, cs, rflags, rsp, ss
    mov r11, [rsp + 4*8]
    mov rsp, [rsp + 5*8]
    swapgs
    sysretq
.size syscall_entry, . - syscall_entry
"#,
    user_ss = const USER_SS,
    user_cs = const USER_CS,
    handler = sym x86_syscall,
    vec_syscall = const VEC_SYSCALL,
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
        // The kernel must never run with the user's IF, DF (the ABI wants it clear), TF
        // (single-stepping kernel code), AC (would switch SMAP off) or NT (an `iretq`
        // with NT set raises #GP in 64-bit mode: a user setting NT before a syscall
        // that leaves through `iretq` would take the kernel down).
        SFMask::write(
            RFlags::INTERRUPT_FLAG
                | RFlags::DIRECTION_FLAG
                | RFlags::TRAP_FLAG
                | RFlags::ALIGNMENT_CHECK
                | RFlags::NESTED_TASK,
        );
        Efer::update(|f| f.insert(EferFlags::SYSTEM_CALL_EXTENSIONS));
    }
}

extern "C" fn x86_syscall(frame: &mut TrapFrame) {
    x86_64::instructions::interrupts::enable();
    crate::syscall::dispatch(frame);
    x86_64::instructions::interrupts::disable();
    crate::task::user_return(frame);
    super::trap::sanitize_user_frame(frame);
}
