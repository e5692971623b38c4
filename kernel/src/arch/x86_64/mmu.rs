//! Loading page tables and invalidating TLB entries.

use core::sync::atomic::{AtomicU64, Ordering};

use wayos_kcore::paging::{PhysAddr, VirtAddr};
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::PhysFrame;

/// The page-table entry encoding generic code uses on this architecture.
pub type PteFormat = wayos_kcore::paging::X86_64Format;

static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);

/// Remembers the loader's page table as the kernel's: it maps the kernel image (W^X per
/// segment) and the direct map, and every address space shares its upper half.
pub fn record_kernel_root() {
    KERNEL_ROOT.store(current_root().as_u64(), Ordering::Relaxed);
}

/// The table holding the kernel half.
pub fn kernel_root() -> PhysAddr {
    PhysAddr::new(KERNEL_ROOT.load(Ordering::Relaxed))
}

/// Root of the page table the CPU uses now.
pub fn current_root() -> PhysAddr {
    PhysAddr::new(Cr3::read().0.start_address().as_u64())
}

/// Switches to the address space rooted at `root`.
///
/// # Safety
/// The table must map the kernel half exactly as the current one does.
pub unsafe fn activate(root: PhysAddr) {
    let frame = PhysFrame::containing_address(x86_64::PhysAddr::new(root.as_u64()));
    // SAFETY: per the contract the kernel (code, stack, data) stays mapped across the switch.
    unsafe { Cr3::write(frame, Cr3Flags::empty()) };
}

/// Invalidates this CPU's translation of the page holding `va`.
pub fn flush_page(va: VirtAddr) {
    x86_64::instructions::tlb::flush(x86_64::VirtAddr::new_truncate(va.as_u64()));
}

/// Invalidates every non-global translation of this CPU.
pub fn flush_all() {
    x86_64::instructions::tlb::flush_all();
}
