//! The real-mode start-up trampoline for secondary CPUs and the low memory it runs in.
//!
//! A CPU woken by a start-up IPI begins in 16-bit real mode at `CS = page << 8, IP = 0`,
//! so its first code must sit in a 4 KiB page below 1 MiB. [`reserve`] takes four such
//! pages from a usable region of the loader's memory map (marking them reserved, before
//! the physical allocator sees the map): the trampoline code itself, then a temporary
//! PML4, PDPT and page directory. The temporary tables identity-map the first 2 MiB (so
//! the trampoline keeps running when paging comes on) and carry the kernel-half PML4
//! entries (256..511) of the kernel root, so the higher half is reachable too. They must
//! be below 4 GiB because CR3 is loaded while still in 32-bit mode.
//!
//! The code (`ap_tramp_start`..`ap_tramp_end`, assembled once into the kernel image and
//! copied into the low page by [`prepare`]) goes 16-bit real mode → 32-bit protected mode
//! (its own tiny GDT) → long mode (PAE, EFER.LME|NXE, paging with the temporary tables),
//! loads the new CPU's boot stack and jumps to [`ap_entry64`] in the kernel's higher half,
//! which switches to the real kernel page table and calls the Rust entry. [`prepare`]
//! patches the data block at the end: the GDT pointer and far-jump targets (they depend on
//! where the page is), the temporary PML4, the kernel root, the stack top, the entry and
//! its argument. CPUs are started one at a time, so one page serves them all.

use core::arch::global_asm;
use core::ptr::addr_of;
use core::sync::atomic::{AtomicU64, Ordering};

use wayos_kcore::boot_info::{MemoryKind, MemoryMap};
use wayos_kcore::paging::x86_64::bits::{P as PTE_PRESENT, PS as PTE_HUGE, RW as PTE_WRITE};
use wayos_kcore::paging::PhysAddr;

const PAGE: u64 = 4096;
/// Code page, PML4, PDPT, page directory.
const PAGES: u64 = 4;
/// Start-up IPIs can only name pages below 1 MiB.
const LOW_LIMIT: u64 = 0x10_0000;

/// Physical base of the reserved pages (0 = none found).
static LOW_BASE: AtomicU64 = AtomicU64::new(0);

global_asm!(
    r#"
.section .rodata.ap_trampoline, "a"
.p2align 4
.global ap_tramp_start
ap_tramp_start:
.code16
    cli
    cld
    xorl %ebx, %ebx
    movw %cs, %bx
    movw %bx, %ds
    shll $4, %ebx
    lgdtl (ap_tramp_gdtr - ap_tramp_start)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl *(ap_tramp_jmp32 - ap_tramp_start)

.code32
.global ap_tramp_32
ap_tramp_32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl (ap_tramp_pml4 - ap_tramp_start)(%ebx), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $0x900, %eax
    wrmsr
    movl $0x80010033, %eax
    movl %eax, %cr0
    ljmpl *(ap_tramp_jmp64 - ap_tramp_start)(%ebx)

.code64
.global ap_tramp_64
ap_tramp_64:
    movl %ebx, %ebx
    movq (ap_tramp_stack - ap_tramp_start)(%rbx), %rsp
    movq (ap_tramp_arg - ap_tramp_start)(%rbx), %rdi
    movq (ap_tramp_kcr3 - ap_tramp_start)(%rbx), %rsi
    jmpq *(ap_tramp_entry - ap_tramp_start)(%rbx)

.p2align 3
.global ap_tramp_gdt
ap_tramp_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00af9a000000ffff
ap_tramp_gdt_end:
.global ap_tramp_gdtr
ap_tramp_gdtr:
    .word ap_tramp_gdt_end - ap_tramp_gdt - 1
    .long 0
.global ap_tramp_jmp32
ap_tramp_jmp32:
    .long 0
    .word 0x08
.global ap_tramp_jmp64
ap_tramp_jmp64:
    .long 0
    .word 0x18
.p2align 3
.global ap_tramp_pml4
ap_tramp_pml4:
    .quad 0
.global ap_tramp_kcr3
ap_tramp_kcr3:
    .quad 0
.global ap_tramp_stack
ap_tramp_stack:
    .quad 0
.global ap_tramp_entry
ap_tramp_entry:
    .quad 0
.global ap_tramp_arg
ap_tramp_arg:
    .quad 0
.global ap_tramp_end
ap_tramp_end:

.code64
.text
"#,
    options(att_syntax)
);

// The higher-half landing: still on the temporary tables (which map the kernel half), with
// rsp = the new CPU's boot stack, rdi = the Rust entry's argument, rsi = the kernel root.
global_asm!(
    r#"
.section .text.ap_entry64, "ax"
.global ap_entry64
.type ap_entry64, @function
ap_entry64:
    mov cr3, rsi
    xor ebp, ebp
    call {entry}
    ud2
.size ap_entry64, . - ap_entry64
"#,
    entry = sym super::smp::secondary_main,
);

extern "C" {
    static ap_tramp_start: u8;
    static ap_tramp_end: u8;
    static ap_tramp_32: u8;
    static ap_tramp_64: u8;
    static ap_tramp_gdt: u8;
    static ap_tramp_gdtr: u8;
    static ap_tramp_jmp32: u8;
    static ap_tramp_jmp64: u8;
    static ap_tramp_pml4: u8;
    static ap_tramp_kcr3: u8;
    static ap_tramp_stack: u8;
    static ap_tramp_entry: u8;
    static ap_tramp_arg: u8;
    fn ap_entry64();
}

/// Takes `PAGES` page-aligned pages below 1 MiB (and not page 0) from a usable region of
/// `map`, marking them reserved so the physical allocator never hands them out. Without
/// them only the boot CPU runs (logged later by `start_cpus`).
pub fn reserve(map: &mut MemoryMap) {
    let want = PAGES * PAGE;
    let found = map.regions().iter().find_map(|r| {
        if r.kind != MemoryKind::Usable {
            return None;
        }
        let start = r.base.max(PAGE).next_multiple_of(PAGE);
        let end = r.end().min(LOW_LIMIT);
        (start.checked_add(want)? <= end).then_some(start)
    });
    if let Some(base) = found {
        map.carve_out(base, want, MemoryKind::Reserved);
        LOW_BASE.store(base, Ordering::Relaxed);
    }
}

/// Physical base of the reserved low pages, if [`reserve`] found some.
pub fn low_base() -> Option<u64> {
    Some(LOW_BASE.load(Ordering::Relaxed)).filter(|&b| b != 0)
}

/// What the next CPU to start needs.
pub struct Launch {
    /// Top of its boot stack (16-byte aligned, kernel half).
    pub stack_top: u64,
    /// Passed to `secondary_main`.
    pub arg: u64,
    /// The kernel page-table root to switch to.
    pub kernel_root: PhysAddr,
}

fn offset_of(sym: *const u8) -> usize {
    sym as usize - addr_of!(ap_tramp_start) as usize
}

/// Writes the trampoline, its data block and the temporary page tables into the low
/// pages; returns the start-up IPI's page number. `None` if no low pages were reserved.
pub fn prepare(launch: &Launch) -> Option<u8> {
    let base = low_base()?;
    let virt = |phys: u64| crate::mm::direct::ptr::<u8>(PhysAddr::new(phys));
    let (code, pml4, pdpt, pd) = (base, base + PAGE, base + 2 * PAGE, base + 3 * PAGE);
    // The symbols delimit the trampoline blob emitted above in .rodata.
    let start = addr_of!(ap_tramp_start);
    let len = addr_of!(ap_tramp_end) as usize - start as usize;
    debug_assert!(len as u64 <= PAGE);
    let code32 = code + offset_of(addr_of!(ap_tramp_32)) as u64;
    let code64 = code + offset_of(addr_of!(ap_tramp_64)) as u64;
    let gdt = code + offset_of(addr_of!(ap_tramp_gdt)) as u64;
    // SAFETY: the four pages were taken out of the allocator's map by `reserve` and are
    // reached through the direct map; only the boot CPU writes them, while no other CPU
    // runs the trampoline (CPUs start one at a time). All patch offsets lie inside the
    // copied blob, and every field is naturally aligned or written unaligned.
    unsafe {
        core::ptr::copy_nonoverlapping(start, virt(code), len);
        let patch32 = |sym: *const u8, v: u32| {
            virt(code)
                .add(offset_of(sym))
                .cast::<u32>()
                .write_unaligned(v)
        };
        let patch64 = |sym: *const u8, v: u64| {
            virt(code)
                .add(offset_of(sym))
                .cast::<u64>()
                .write_unaligned(v)
        };
        // The GDT pointer's base follows its 16-bit limit.
        patch32(addr_of!(ap_tramp_gdtr).wrapping_add(2), gdt as u32);
        patch32(addr_of!(ap_tramp_jmp32), code32 as u32);
        patch32(addr_of!(ap_tramp_jmp64), code64 as u32);
        patch64(addr_of!(ap_tramp_pml4), pml4);
        patch64(addr_of!(ap_tramp_kcr3), launch.kernel_root.as_u64());
        patch64(addr_of!(ap_tramp_stack), launch.stack_top);
        patch64(addr_of!(ap_tramp_entry), ap_entry64 as *const () as u64);
        patch64(addr_of!(ap_tramp_arg), launch.arg);

        let table = |phys: u64| core::slice::from_raw_parts_mut(virt(phys).cast::<u64>(), 512);
        let (t4, t3, t2) = (table(pml4), table(pdpt), table(pd));
        let kernel =
            core::slice::from_raw_parts(virt(launch.kernel_root.as_u64()).cast::<u64>(), 512);
        t4.fill(0);
        t4[256..].copy_from_slice(&kernel[256..]);
        t4[0] = pdpt | PTE_PRESENT | PTE_WRITE;
        t3.fill(0);
        t3[0] = pd | PTE_PRESENT | PTE_WRITE;
        t2.fill(0);
        t2[0] = PTE_PRESENT | PTE_WRITE | PTE_HUGE; // 0..2 MiB, identity
    }
    Some((code >> 12) as u8)
}
