//! Copies between kernel and user memory that survive bad user addresses.
//!
//! The user side is accessed only with the unprivileged load/store instructions LDTR/STTR
//! (and their byte forms), which the MMU checks with EL0's permissions: they work with
//! PAN on (PAN restricts privileged accesses only), and they fault on kernel memory even
//! if a bad pointer slipped past the range check. Every such instruction is listed in an
//! exception table: if it faults on an address the VM cannot resolve, the abort handler
//! resumes at the routine's fixup, which reports the fault as an error instead of crashing.
//! The kernel side uses ordinary loads and stores; no FP/SIMD register is touched.
//!
//! Which side is the user one follows from the addresses: kernel addresses have the top
//! bit set (TTBR1), user addresses do not. Range checks (the user window, overflow) happen
//! in generic code before these run.

use core::arch::global_asm;

global_asm!(
    r#"
.section .text.uaccess, "ax"
/* x0 = dst (kernel), x1 = src (user), x2 = len; x0 = 0 on success, 1 after a fault. */
.global uaccess_copy_from_user
.type uaccess_copy_from_user, %function
uaccess_copy_from_user:
    cmp     x2, #32
    b.lo    2f
1:
uaccess_from_0: ldtr    x3, [x1]
uaccess_from_1: ldtr    x4, [x1, #8]
uaccess_from_2: ldtr    x5, [x1, #16]
uaccess_from_3: ldtr    x6, [x1, #24]
    stp     x3, x4, [x0], #16
    stp     x5, x6, [x0], #16
    add     x1, x1, #32
    sub     x2, x2, #32
    cmp     x2, #32
    b.hs    1b
2:  cmp     x2, #8
    b.lo    4f
3:
uaccess_from_4: ldtr    x3, [x1]
    str     x3, [x0], #8
    add     x1, x1, #8
    sub     x2, x2, #8
    cmp     x2, #8
    b.hs    3b
4:  cbz     x2, 6f
5:
uaccess_from_5: ldtrb   w3, [x1]
    strb    w3, [x0], #1
    add     x1, x1, #1
    subs    x2, x2, #1
    b.ne    5b
6:  mov     x0, #0
    ret
uaccess_from_fix:
    mov     x0, #1
    ret
.size uaccess_copy_from_user, . - uaccess_copy_from_user

/* x0 = dst (user), x1 = src (kernel), x2 = len; x0 = 0 on success, 1 after a fault. */
.global uaccess_copy_to_user
.type uaccess_copy_to_user, %function
uaccess_copy_to_user:
    cmp     x2, #32
    b.lo    2f
1:  ldp     x3, x4, [x1], #16
    ldp     x5, x6, [x1], #16
uaccess_to_0: sttr    x3, [x0]
uaccess_to_1: sttr    x4, [x0, #8]
uaccess_to_2: sttr    x5, [x0, #16]
uaccess_to_3: sttr    x6, [x0, #24]
    add     x0, x0, #32
    sub     x2, x2, #32
    cmp     x2, #32
    b.hs    1b
2:  cmp     x2, #8
    b.lo    4f
3:  ldr     x3, [x1], #8
uaccess_to_4: sttr    x3, [x0]
    add     x0, x0, #8
    sub     x2, x2, #8
    cmp     x2, #8
    b.hs    3b
4:  cbz     x2, 6f
5:  ldrb    w3, [x1], #1
uaccess_to_5: sttrb   w3, [x0]
    add     x0, x0, #1
    subs    x2, x2, #1
    b.ne    5b
6:  mov     x0, #0
    ret
uaccess_to_fix:
    mov     x0, #1
    ret
.size uaccess_copy_to_user, . - uaccess_copy_to_user

.section .rodata.uaccess, "a"
.balign 8
.global uaccess_extable
uaccess_extable:
.irp n, 0,1,2,3,4,5
    .quad uaccess_from_\n, uaccess_from_fix
.endr
.irp n, 0,1,2,3,4,5
    .quad uaccess_to_\n, uaccess_to_fix
.endr
"#
);

extern "C" {
    fn uaccess_copy_from_user(dst: *mut u8, src: *const u8, len: usize) -> usize;
    fn uaccess_copy_to_user(dst: *mut u8, src: *const u8, len: usize) -> usize;
    static uaccess_extable: [[usize; 2]; 12];
}

/// The fixup address for a faulting instruction, if it is a user-copy instruction.
pub fn fixup_for(pc: usize) -> Option<usize> {
    // SAFETY: a read-only table emitted above.
    let table = unsafe { &*core::ptr::addr_of!(uaccess_extable) };
    table.iter().find(|e| e[0] == pc).map(|e| e[1])
}

/// True for a TTBR1 (kernel-half) address.
fn is_kernel_address(addr: usize) -> bool {
    addr >> 63 != 0
}

/// Copies `len` bytes from `src` to `dst`, one of which is a user address already checked
/// to lie in the user window. Returns false if a fault could not be resolved.
///
/// # Safety
/// The kernel-side range must be valid for the access; the user-side range must lie
/// entirely below the user/kernel boundary.
pub unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) -> bool {
    // SAFETY: per the contract; user-side accesses are unprivileged and faults there are
    // fixed up, not fatal.
    let r = unsafe {
        if is_kernel_address(dst as usize) {
            debug_assert!(!is_kernel_address(src as usize));
            uaccess_copy_from_user(dst, src, len)
        } else {
            debug_assert!(is_kernel_address(src as usize));
            uaccess_copy_to_user(dst, src, len)
        }
    };
    r == 0
}
