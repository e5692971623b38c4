//! The jump into the kernel: CPU state, GDT and the trampoline.
//!
//! After ExitBootServices the trampoline puts the CPU in the state the Limine protocol
//! (and Limine's own `limine_spinup`) leaves it in: PAT programmed as Limine does (entry
//! 5 = write-combining), CR0 = PG|WP|ET|PE, CR4 = PAE, EFER = LME|LMA|NXE, CR3 = the new
//! tables; the Limine GDT loaded (null, 16/32/64-bit code and data, 64-bit code 0x28 and
//! data 0x30), an empty IDT, no LDT; then it continues from the HHDM alias of itself,
//! removes the lower-half identity map (base revision 1 and later), pushes a 0 return
//! address on the kernel stack and `iretq`s to the entry with RFLAGS = 0x2 (IF, DF
//! clear) and every general-purpose register zero.

use core::arch::{asm, global_asm};
use uefi::Status;

use crate::mem::{self, Arena};
use crate::responses::virt;

/// The GDT Limine loads, in its order: selectors 0x08/0x10 are 16-bit, 0x18/0x20
/// 32-bit, 0x28/0x30 64-bit code/data.
const GDT: [u64; 7] = [
    0,
    0x0000_9b00_0000_ffff, // 16-bit code, base 0, limit 0xffff, readable
    0x0000_9300_0000_ffff, // 16-bit data, writable
    0x00cf_9b00_0000_ffff, // 32-bit code, 4 GiB, readable
    0x00cf_9300_0000_ffff, // 32-bit data, 4 GiB, writable
    0x0020_9b00_0000_0000, // 64-bit code (L)
    0x0000_9300_0000_0000, // 64-bit data
];

/// What the CPU can do, as the hand-off needs to know.
#[derive(Clone, Copy, Debug)]
pub struct Cpu {
    pub nx: bool,
    pub gib_pages: bool,
    /// 5-level paging is on (wayboot cannot hand over then).
    pub la57_active: bool,
}

/// Reads the CPU features the page tables depend on.
pub fn cpu() -> Cpu {
    let ext = core::arch::x86_64::__cpuid(0x8000_0001);
    let cr4: u64;
    // SAFETY: reading CR4 has no side effects; UEFI applications run at CPL 0.
    unsafe { asm!("mov {}, cr4", out(reg) cr4, options(nomem, nostack, preserves_flags)) };
    Cpu {
        nx: ext.edx & (1 << 20) != 0,
        gib_pages: ext.edx & (1 << 26) != 0,
        la57_active: cr4 & (1 << 12) != 0,
    }
}

/// Puts the GDT and its pseudo-descriptor in reclaimable memory; returns the physical
/// address of the pseudo-descriptor, whose base is the GDT's HHDM address.
pub fn build_gdt(arena: &mut Arena) -> Result<u64, Status> {
    let gdt = arena.put(GDT)?;
    let mut gdtr = [0u8; 10];
    gdtr[..2].copy_from_slice(&((core::mem::size_of_val(&GDT) - 1) as u16).to_le_bytes());
    gdtr[2..].copy_from_slice(&virt(gdt).to_le_bytes());
    arena.put(gdtr)
}

/// Allocates the kernel stack; returns the physical address of its top.
pub fn alloc_stack(size: u64) -> Result<u64, Status> {
    let base = mem::alloc_zeroed(mem::RECLAIMABLE, size, mem::PAGE)?;
    Ok(base + size)
}

/// Physical address of the trampoline (identity-mapped during the switch).
pub fn trampoline_addr() -> u64 {
    wayboot_handoff as *const () as u64
}

/// Masks the legacy PICs, as Limine does.
pub fn mask_pics() {
    // SAFETY: writing the interrupt mask registers of the 8259 pair only stops legacy
    // IRQs; interrupts are off and boot services are gone.
    unsafe {
        asm!("out 0xa1, al", "out 0x21, al", in("al") 0xffu8, options(nomem, nostack, preserves_flags));
    }
}

/// Everything the trampoline needs.
pub struct Jump {
    pub pml4: u64,
    /// Physical address of the GDT pseudo-descriptor.
    pub gdtr: u64,
    pub entry: u64,
    /// Physical address of the top of the kernel stack.
    pub stack_top: u64,
    /// Remove the lower-half identity map (base revision 1 and later).
    pub unmap_lower_half: bool,
}

/// Jumps to the kernel.
///
/// # Safety
///
/// Boot services must have been exited, `pml4` must map the trampoline's page at its
/// physical address, the HHDM, the GDT and the stack, and `entry` must be the kernel's
/// mapped entry point. Nothing of wayboot runs afterwards.
pub unsafe fn jump(j: &Jump) -> ! {
    // SAFETY: the caller guarantees the page tables and addresses; the trampoline never
    // returns and touches no Rust state.
    unsafe {
        wayboot_handoff(
            j.pml4,
            virt(j.gdtr),
            j.entry,
            virt(j.stack_top),
            virt(0),
            u64::from(j.unmap_lower_half),
        )
    }
}

unsafe extern "sysv64" {
    /// rdi = PML4 (physical), rsi = GDTR (virtual), rdx = entry, rcx = stack top
    /// (virtual), r8 = HHDM offset, r9 = non-zero to unmap the lower half.
    fn wayboot_handoff(pml4: u64, gdtr: u64, entry: u64, stack: u64, hhdm: u64, unmap: u64) -> !;
}

global_asm!(
    ".global wayboot_handoff",
    "wayboot_handoff:",
    "cli",
    "cld",
    "mov r10, rdx", // entry
    "mov r11, rcx", // stack top
    "mov r12, rdi", // pml4
    "mov r13, rsi", // gdtr
    "mov r14, r8",  // hhdm
    "mov r15, r9",  // unmap lower half
    // PAT as Limine programs it: WB, WT, UC-, UC, WP, WC, UC, UC.
    "mov eax, 1",
    "xor ecx, ecx",
    "cpuid",
    "test edx, 1 << 16",
    "jz 2f",
    "mov ecx, 0x277",
    "mov eax, 0x00070406",
    "mov edx, 0x00000105",
    "wrmsr",
    "2:",
    // EFER = LME | LMA | NXE (if the CPU has NX).
    "mov eax, 0x80000001",
    "xor ecx, ecx",
    "cpuid",
    "mov esi, edx",
    "mov ecx, 0xc0000080",
    "rdmsr",
    "and eax, 1 << 10",
    "or eax, 1 << 8",
    "test esi, 1 << 20",
    "jz 3f",
    "or eax, 1 << 11",
    "3:",
    "xor edx, edx",
    "wrmsr",
    // CR0 = PG | WP | ET | PE; CR4 = PAE (LA57 is never on here).
    "mov eax, 0x80010011",
    "mov cr0, rax",
    "mov rax, cr4",
    "and eax, 1 << 12",
    "or eax, 1 << 5",
    "mov cr4, rax",
    // New address space; this code stays reachable through the identity map.
    "mov cr3, r12",
    "lgdt [r13]",
    "mov rsp, r11",
    "push 0",
    "push 0",
    "lidt [rsp]",
    "add rsp, 16",
    // Reload CS = 0x28 and continue at the HHDM alias of the next instruction.
    "lea rax, [rip + 4f]",
    "add rax, r14",
    "push 0x28",
    "push rax",
    "retfq",
    "4:",
    "mov eax, 0x30",
    "mov ds, eax",
    "mov es, eax",
    "mov fs, eax",
    "mov gs, eax",
    "mov ss, eax",
    "xor eax, eax",
    "lldt ax",
    // Base revision >= 1: no lower-half mappings at entry.
    "test r15, r15",
    "jz 5f",
    "lea rdi, [r12 + r14]",
    "mov ecx, 256",
    "xor eax, eax",
    "rep stosq",
    "mov rax, cr3",
    "mov cr3, rax",
    "5:",
    // Return address 0 on the stack, then iretq to the entry with RFLAGS = 0x2.
    "lea rsi, [r11 - 8]",
    "mov qword ptr [rsi], 0",
    "mov rsp, rsi",
    "push 0x30",
    "push rsi",
    "push 0x2",
    "push 0x28",
    "push r10",
    "xor eax, eax",
    "xor ebx, ebx",
    "xor ecx, ecx",
    "xor edx, edx",
    "xor esi, esi",
    "xor edi, edi",
    "xor ebp, ebp",
    "xor r8d, r8d",
    "xor r9d, r9d",
    "xor r10d, r10d",
    "xor r11d, r11d",
    "xor r12d, r12d",
    "xor r13d, r13d",
    "xor r14d, r14d",
    "xor r15d, r15d",
    "iretq",
);
