//! Copies between kernel and user memory that survive bad user addresses.
//!
//! The copy is one `rep movsb` listed in an exception table: if it faults on an address the
//! VM cannot resolve, the page-fault handler resumes at the fixup, which reports the fault
//! as an error instead of crashing. With SMAP on, the copy runs between `stac` and `clac`.
//! Range checks (the user window, overflow) happen in generic code before these run.

use core::arch::global_asm;

use super::cpu;

global_asm!(
    r#"
.section .text.uaccess, "ax"
// rdi = dst, rsi = src, rdx = len; rax = 0 on success, 1 after a fault.
.global uaccess_copy_smap
.type uaccess_copy_smap, @function
uaccess_copy_smap:
    stac
    mov rcx, rdx
uaccess_insn_smap:
    rep movsb
    clac
    xor eax, eax
    ret
uaccess_fix_smap:
    clac
    mov eax, 1
    ret
.size uaccess_copy_smap, . - uaccess_copy_smap

.global uaccess_copy_plain
.type uaccess_copy_plain, @function
uaccess_copy_plain:
    mov rcx, rdx
uaccess_insn_plain:
    rep movsb
    xor eax, eax
    ret
uaccess_fix_plain:
    mov eax, 1
    ret
.size uaccess_copy_plain, . - uaccess_copy_plain

.section .rodata.uaccess, "a"
.p2align 3
.global uaccess_extable
uaccess_extable:
    .quad uaccess_insn_smap, uaccess_fix_smap
    .quad uaccess_insn_plain, uaccess_fix_plain
"#
);

extern "C" {
    fn uaccess_copy_smap(dst: *mut u8, src: *const u8, len: usize) -> usize;
    fn uaccess_copy_plain(dst: *mut u8, src: *const u8, len: usize) -> usize;
    static uaccess_extable: [[usize; 2]; 2];
}

/// The fixup address for a faulting instruction, if it is a user-copy instruction.
pub fn fixup_for(pc: usize) -> Option<usize> {
    // SAFETY: a read-only table emitted above.
    let table = unsafe { &*core::ptr::addr_of!(uaccess_extable) };
    table.iter().find(|e| e[0] == pc).map(|e| e[1])
}

/// Copies `len` bytes from `src` to `dst`, one of which is a user address already checked
/// to lie in the user window. Returns false if a fault could not be resolved.
///
/// # Safety
/// The kernel-side range must be valid for the access; the user-side range must lie
/// entirely below the user/kernel boundary.
pub unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) -> bool {
    // SAFETY: per the contract; faults on the user side are fixed up, not fatal.
    let r = unsafe {
        if cpu::smap_enabled() {
            uaccess_copy_smap(dst, src, len)
        } else {
            uaccess_copy_plain(dst, src, len)
        }
    };
    r == 0
}
