//! Entry from a raw arm64 `Image` loader (QEMU `-kernel`, U-Boot `booti`, ...): the Image
//! header, the assembly that runs with the MMU off, and the first Rust code.
//!
//! The loader puts the Image at a 2 MiB-aligned physical base + `text_offset` and jumps to
//! its first byte at EL2 or EL1 with the MMU and D-cache off, x0 = physical address of the
//! device tree. The assembly below drops to EL1, enables FP/SIMD, zeroes `.bss`, builds the
//! boot page tables (see `mmu`), turns the MMU on, jumps to the kernel's link address, drops
//! the identity map, installs the vector table (VBAR_EL1) and calls [`aarch64_entry`] on the
//! boot stack. That function brings up the serial port, the logger and the clock before
//! anything that can hang, then turns the device tree into a `BootInfo` and calls
//! `crate::kernel_main`.
//!
//! The EL2-to-EL1 drop (`el2_drop_to_el1`) is a subroutine the secondary CPUs' entry
//! (`smp.rs`) reuses; [`image_virt_to_phys`] gives other modules the physical address of
//! anything in the image. The boot CPU's per-CPU block (`percpu.rs`) is installed before
//! any other Rust code runs.
//!
//! This module must never be entered twice and must not run with the MMU off once it has
//! left the assembly: everything after `high_entry` assumes the boot page tables.

use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

use super::{dtb, mmu, percpu, serial, timer};

/// Bytes of the boot stack (in `.bss`, so inside the kernel image where the backtrace
/// walker may read).
const BOOT_STACK_SIZE: usize = 256 * 1024;

/// Where the loader puts the Image relative to a 2 MiB-aligned base (Linux's value).
pub const TEXT_OFFSET: u64 = 0x8_0000;

/// Physical address of `_start` (0 until [`aarch64_entry`] records it).
static IMAGE_PHYS: AtomicU64 = AtomicU64::new(0);

/// The physical address of `va`, a link-time address inside the kernel image (text, data
/// or `.bss`): the image is mapped as one block at [`mmu::KERNEL_VIRT_BASE`] +
/// `TEXT_OFFSET` onto where the loader put `_start`.
pub fn image_virt_to_phys(va: usize) -> u64 {
    let image_phys = IMAGE_PHYS.load(Ordering::Relaxed);
    debug_assert!(image_phys != 0 && va as u64 >= mmu::KERNEL_VIRT_BASE + TEXT_OFFSET);
    va as u64 - (mmu::KERNEL_VIRT_BASE + TEXT_OFFSET) + image_phys
}

/// Image header flags: bit 0 = 0 little endian, bits 2:1 = 1 4 KiB pages, bit 3 = 1 the
/// 2 MiB-aligned base may be anywhere in physical memory.
const IMAGE_FLAGS: u64 = 0b1010;

/// SCTLR_EL1 with the MMU and caches off: only the RES1 bits of ARMv8.0 (bits 29, 28, 23,
/// 22, 20, 11), little endian at EL1 and EL0.
pub(super) const SCTLR_EL1_MMU_OFF: u64 =
    (1 << 29) | (1 << 28) | (1 << 23) | (1 << 22) | (1 << 20) | (1 << 11);
/// SCTLR_EL1 once the boot page tables are live: M (MMU), C (data cache), SA (SP alignment
/// check), I (instruction cache). No alignment checking of ordinary accesses (A = 0).
pub(super) const SCTLR_EL1_MMU_ON: u64 =
    SCTLR_EL1_MMU_OFF | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 12);

/// HCR_EL2 for a kernel that runs at EL1 with no hypervisor: RW (EL1 is AArch64), nothing
/// trapped to EL2.
const HCR_EL2_RW: u64 = 1 << 31;
/// CPTR_EL2 with no traps: RES1 bits 13:12 and 9:0, TFP (bit 10) clear.
const CPTR_EL2_NO_TRAPS: u64 = 0x33ff;
/// SPSR_EL2 for the return to EL1: EL1h (SP_EL1), D, A, I and F masked.
const SPSR_EL1H_MASKED: u64 = 0x3c5;
/// CPACR_EL1.FPEN = 0b11: FP/SIMD does not trap at EL1 or EL0 (NEON is on in codegen).
pub(super) const CPACR_EL1_FPEN: u64 = 0b11 << 20;

global_asm!(
    r#"
.macro MOV64 reg, val
    movz \reg, #((\val) & 0xffff)
    movk \reg, #(((\val) >> 16) & 0xffff), lsl #16
    movk \reg, #(((\val) >> 32) & 0xffff), lsl #32
    movk \reg, #(((\val) >> 48) & 0xffff), lsl #48
.endm

.section .text.head, "ax"
.global _start
.type _start, %function
_start:
    /* arm64 Image header (Documentation/arch/arm64/booting.rst). */
    b       primary_entry           /* code0 */
    .long   0                       /* code1 */
    .quad   {text_offset}           /* text_offset */
    .quad   __kernel_size           /* image_size, covering .bss */
    .quad   {flags}                 /* flags */
    .quad   0                       /* res2 */
    .quad   0                       /* res3 */
    .quad   0                       /* res4 */
    .ascii  "ARM"                   /* magic "ARM\x64" */
    .byte   0x64
    .long   0                       /* res5 (PE/COFF offset: none) */

primary_entry:
    /* x19 = DTB physical address, x20 = physical address of _start, x21 = physical
     * address the kernel's 2 MiB-aligned link base maps to, x22 = EL at entry. */
    mov     x19, x0
    adr     x20, _start
    sub     x21, x20, #{text_offset}
    tst     x21, #0x1fffff
    b.ne    bad_placement

    mrs     x22, CurrentEL
    ubfx    x22, x22, #2, #2
    cmp     x22, #2
    b.eq    from_el2
    cmp     x22, #1
    b.eq    el1_entry
    adr     x0, msg_bad_el
    b       early_fail

from_el2:
    adr     x9, el1_entry
    b       el2_drop_to_el1

el1_entry:
    msr     daifset, #0xf
    msr     spsel, #1
    /* No per-CPU block yet (percpu.rs reads this as CPU 0). */
    msr     tpidr_el1, xzr
    MOV64   x0, {sctlr_off}
    msr     sctlr_el1, x0
    MOV64   x0, {cpacr_fpen}
    msr     cpacr_el1, x0
    isb

    /* The DTB must not lie inside the image's .bss, which is about to be zeroed. */
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __kernel_end
    cmp     x19, x0
    b.lo    2f
    cmp     x19, x1
    b.hs    2f
    adr     x0, msg_dtb_in_bss
    b       early_fail
2:
    /* Zero .bss (page tables and boot stack included). The MMU is off, so these are
     * Device accesses: 16-byte aligned pairs only. */
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
3:  cmp     x0, x1
    b.hs    4f
    stp     xzr, xzr, [x0], #16
    b       3b
4:
    bl      build_boot_page_tables

    /* Discard any cache lines over .bss, whose memory was just written with the caches
     * off, so cacheable reads after the MMU is on see the tables and zeroes. */
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
    mrs     x2, ctr_el0
    ubfx    x2, x2, #16, #4
    mov     x3, #4
    lsl     x2, x3, x2              /* D-cache line size in bytes */
    sub     x3, x2, #1
    bic     x0, x0, x3
5:  dc      ivac, x0
    add     x0, x0, x2
    cmp     x0, x1
    b.lo    5b
    dsb     sy

    /* Translation regime: MAIR, TCR (IPS from the CPU's physical address range, capped at
     * 48 bits), both table bases; then the MMU. */
    MOV64   x0, {mair}
    msr     mair_el1, x0
    MOV64   x0, {tcr}
    mrs     x1, id_aa64mmfr0_el1
    and     x1, x1, #0xf
    cmp     x1, #5
    mov     x2, #5
    csel    x1, x1, x2, ls
    orr     x0, x0, x1, lsl #32
    msr     tcr_el1, x0
    adrp    x0, boot_pt_ttbr0_l0
    msr     ttbr0_el1, x0
    adrp    x0, boot_pt_ttbr1_l0
    msr     ttbr1_el1, x0
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    MOV64   x0, {sctlr_on}
    msr     sctlr_el1, x0
    isb
    ic      iallu
    dsb     nsh
    isb

    /* Now at the physical address through the identity map: jump to the link address. */
    ldr     x0, =high_entry
    br      x0
.size _start, . - _start

.type high_entry, %function
high_entry:
    /* Drop the identity map: TCR_EL1.EPD0 stops walks through TTBR0 until user address
     * spaces exist, so low addresses fault. */
    mrs     x0, tcr_el1
    orr     x0, x0, #(1 << 7)
    msr     tcr_el1, x0
    isb
    tlbi    vmalle1
    dsb     nsh
    isb

    ldr     x0, =boot_stack_top
    mov     sp, x0
    ldr     x0, =exception_vectors
    msr     vbar_el1, x0
    isb
    /* End of the frame chain for backtraces. */
    mov     x29, xzr
    mov     x30, xzr
    mov     x0, x19
    mov     x1, x20
    mov     x2, x22
    bl      {entry}
6:  wfe
    b       6b
.size high_entry, . - high_entry

/* Fills the boot page tables (layout in mmu.rs). In: x20 = physical _start, x21 = physical
 * base of the kernel's 2 MiB-aligned link base. Clobbers x0-x12. MMU off. */
.type build_boot_page_tables, %function
build_boot_page_tables:
    /* TTBR1 level 0: slot 256 = direct map (0xffff800000000000), slot 511 = kernel. */
    adrp    x0, boot_pt_ttbr1_l0
    adrp    x1, boot_pt_dmap_l1
    orr     x2, x1, #3
    str     x2, [x0, #(256 * 8)]
    adrp    x3, boot_pt_kernel_l1
    orr     x2, x3, #3
    str     x2, [x0, #(511 * 8)]

    /* Direct map: 512 x 1 GiB blocks. The first GiB (MMIO on virt) is Device, the rest
     * Normal write-back; mmu::refine_direct_map corrects this from the DTB. x1 walks the
     * table, x4 holds the Normal attributes after the first entry. */
    MOV64   x4, {dmap_device}
    str     x4, [x1], #8
    MOV64   x4, {dmap_normal}
    mov     x5, #(1 << 30)
    mov     x8, x5
    mov     x6, #511
7:  orr     x2, x5, x4
    str     x2, [x1], #8
    add     x5, x5, x8
    subs    x6, x6, #1
    b.ne    7b
    /* The GiB holding the image is RAM: Normal even if it is the first (RAM at 0). */
    lsr     x2, x20, #30
    cmp     x2, #512
    b.hs    12f
    lsl     x5, x2, #30
    orr     x5, x5, x4
    sub     x1, x1, #(512 * 8)
    str     x5, [x1, x2, lsl #3]
12:

    /* Kernel: level 1 slot 510 (0xffffffff80000000) -> level 2 -> one level 3 table per
     * 2 MiB up to __kernel_end (consecutive in boot_pt_kernel_l3), 4 KiB pages from _start
     * with W^X per section: text RX, rodata R, data and .bss RW, all never user-accessible.
     * The 512 KiB below _start stay unmapped. */
    adrp    x4, boot_pt_kernel_l2
    orr     x2, x4, #3
    str     x2, [x3, #(510 * 8)]
    adrp    x5, __kernel_end
    sub     x5, x5, x21
    sub     x5, x5, #1
    lsr     x5, x5, #21
    add     x5, x5, #1              /* number of 2 MiB regions */
    cmp     x5, #{kernel_l3_tables}
    b.hi    image_too_big
    adrp    x6, boot_pt_kernel_l3
8:  orr     x2, x6, #3
    str     x2, [x4], #8
    add     x6, x6, #4096
    subs    x5, x5, #1
    b.ne    8b
    adrp    x6, boot_pt_kernel_l3
    adrp    x9, __rodata_start
    adrp    x10, __data_start
    adrp    x11, __kernel_end
    mov     x7, x20                 /* physical page cursor, from _start */
13: cmp     x7, x11
    b.hs    15f
    MOV64   x2, {page_text}
    cmp     x7, x9
    b.lo    14f
    MOV64   x2, {page_rodata}
    cmp     x7, x10
    b.lo    14f
    MOV64   x2, {page_data}
14: orr     x2, x2, x7
    sub     x12, x7, x21
    lsr     x12, x12, #12
    str     x2, [x6, x12, lsl #3]
    add     x7, x7, #4096
    b       13b
15:

    /* Identity map of the GiB holding _start, for the few instructions that turn the MMU
     * on and jump high. */
    adrp    x0, boot_pt_ttbr0_l0
    adrp    x1, boot_pt_ttbr0_l1
    ubfx    x2, x20, #39, #9
    orr     x3, x1, #3
    str     x3, [x0, x2, lsl #3]
    ubfx    x2, x20, #30, #9
    lsr     x3, x20, #30
    lsl     x3, x3, #30
    MOV64   x6, {identity_block}
    orr     x3, x3, x6
    str     x3, [x1, x2, lsl #3]
    ret
.size build_boot_page_tables, . - build_boot_page_tables

/* Leaves EL2 for EL1h at x9 (a physical address; MMU off) with D, A, I and F masked, after
 * setting up EL2 so it stays out of the way: EL1 is AArch64, nothing traps to EL2, EL1 owns
 * the physical timer and counter, and (GICv3) EL1 may use the ICC_* system registers.
 * Clobbers x0. Shared by the boot CPU and the secondary CPU entry (smp.rs). */
.global el2_drop_to_el1
.type el2_drop_to_el1, %function
el2_drop_to_el1:
    MOV64   x0, {hcr_el2}
    msr     hcr_el2, x0
    /* EL1 may read the physical counter and use the physical timer; no virtual offset. */
    mrs     x0, cnthctl_el2
    orr     x0, x0, #3
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr
    MOV64   x0, {cptr_el2}
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    /* EL1 reads of MIDR/MPIDR return the virtual copies: make them the real values. */
    mrs     x0, midr_el1
    msr     vpidr_el2, x0
    mrs     x0, mpidr_el1
    msr     vmpidr_el2, x0
    /* With a GICv3 CPU interface, let EL1 use its system registers (ICC_SRE_EL2.SRE and
     * .Enable) and keep the virtual interface off (ICH_HCR_EL2 = 0). */
    mrs     x0, id_aa64pfr0_el1
    ubfx    x0, x0, #24, #4
    cbz     x0, 1f
    mrs     x0, S3_4_C12_C9_5
    orr     x0, x0, #0x1
    orr     x0, x0, #0x8
    msr     S3_4_C12_C9_5, x0
    isb
    msr     S3_4_C12_C11_0, xzr
1:
    MOV64   x0, {sctlr_off}
    msr     sctlr_el1, x0
    mov     x0, #{spsr_el1h}
    msr     spsr_el2, x0
    msr     elr_el2, x9
    isb
    eret
.size el2_drop_to_el1, . - el2_drop_to_el1

.type early_fail, %function
image_too_big:
    adr     x0, msg_too_big
    b       early_fail
bad_placement:
    adr     x0, msg_placement
    /* fall through */

/* Prints the NUL-terminated string at x0 on the PL011 at its QEMU virt physical address
 * (MMU off), then waits forever. Only for failures before the page tables exist. */
early_fail:
    MOV64   x1, {early_uart}
9:  ldrb    w2, [x0], #1
    cbz     w2, 11f
10: ldr     w3, [x1, #0x18]
    tbnz    w3, #5, 10b
    str     w2, [x1]
    b       9b
11: wfe
    b       11b
.size early_fail, . - early_fail

msg_placement:
    .asciz  "\r\nWayOS: Image not at a 2 MiB-aligned base + 0x80000; halting\r\n"
msg_bad_el:
    .asciz  "\r\nWayOS: entered at EL3 or EL0 (need EL2 or EL1); halting\r\n"
msg_too_big:
    .asciz  "\r\nWayOS: kernel image larger than the boot page tables cover; halting\r\n"
msg_dtb_in_bss:
    .asciz  "\r\nWayOS: device tree inside the kernel's .bss; halting\r\n"
    .balign 8
.ltorg

.section .bss.boot, "aw", %nobits
.balign 4096
.global boot_pt_ttbr1_l0
boot_pt_ttbr1_l0:   .space 4096
.global boot_pt_dmap_l1
boot_pt_dmap_l1:    .space 4096
boot_pt_kernel_l1:  .space 4096
boot_pt_kernel_l2:  .space 4096
boot_pt_kernel_l3:  .space 4096 * {kernel_l3_tables}
.global boot_pt_ttbr0_l0
boot_pt_ttbr0_l0:   .space 4096
boot_pt_ttbr0_l1:   .space 4096
.balign 16
.global boot_stack_bottom
boot_stack_bottom:  .space {stack_size}
.global boot_stack_top
boot_stack_top:
"#,
    text_offset = const TEXT_OFFSET,
    flags = const IMAGE_FLAGS,
    hcr_el2 = const HCR_EL2_RW,
    cptr_el2 = const CPTR_EL2_NO_TRAPS,
    spsr_el1h = const SPSR_EL1H_MASKED,
    sctlr_off = const SCTLR_EL1_MMU_OFF,
    sctlr_on = const SCTLR_EL1_MMU_ON,
    cpacr_fpen = const CPACR_EL1_FPEN,
    mair = const mmu::MAIR,
    tcr = const mmu::TCR_BOOT,
    dmap_device = const mmu::BLOCK_DEVICE,
    dmap_normal = const mmu::BLOCK_DIRECT_MAP,
    kernel_l3_tables = const mmu::KERNEL_L3_TABLES,
    page_text = const mmu::PAGE_KERNEL_TEXT,
    page_rodata = const mmu::PAGE_KERNEL_RODATA,
    page_data = const mmu::PAGE_KERNEL_DATA,
    identity_block = const mmu::BLOCK_IDENTITY,
    early_uart = const serial::EARLY_UART_PHYS,
    stack_size = const BOOT_STACK_SIZE,
    entry = sym aarch64_entry,
);

/// The first Rust code, on the boot stack with the MMU on and interrupts masked.
///
/// `dtb_phys` is what the loader passed in x0, `image_phys` the physical address of
/// `_start`, `entry_el` the exception level the loader entered the kernel at.
extern "C" fn aarch64_entry(dtb_phys: u64, image_phys: u64, entry_el: u64) -> ! {
    percpu::init_boot();
    IMAGE_PHYS.store(image_phys, Ordering::Relaxed);
    serial::init_early();
    crate::klog::init();
    timer::init();
    debug_assert_eq!(
        aarch64_entry as *const () as u64 >> 30,
        (mmu::KERNEL_VIRT_BASE + TEXT_OFFSET) >> 30,
        "kernel not running at its link address"
    );
    log::info!(
        "aarch64: entered at EL{entry_el}{}, image at phys {image_phys:#x}, device tree at {dtb_phys:#x}",
        if entry_el == 2 { " (dropped to EL1)" } else { "" }
    );
    mmu::clear_identity_map();
    let (info, platform) = dtb::parse(dtb_phys, image_phys);
    mmu::refine_direct_map(&info);
    if let Some(base) = platform.uart {
        serial::switch_to(base);
    }
    dtb::log_platform(platform);
    crate::kernel_main(info)
}

extern "C" {
    /// The boot stack's lowest byte (`.space` in the assembly above).
    static boot_stack_bottom: u8;
}

/// The boot stack's lowest address and size: `boottest` checks how deep it has been used
/// (it has no guard page, and an overflow would silently corrupt what lies below it).
pub fn boot_stack() -> (usize, usize) {
    // Only the symbol's address is taken; nothing is read through it here.
    let bottom = core::ptr::addr_of!(boot_stack_bottom) as usize;
    (bottom, BOOT_STACK_SIZE)
}
