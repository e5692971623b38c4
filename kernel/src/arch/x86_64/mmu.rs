//! Loading page tables and invalidating TLB entries.

use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::PhysFrame;
use x86_64::{PhysAddr, VirtAddr};

/// The page-table entry encoding generic code uses on this architecture.
pub type PteFormat = wayos_kcore::paging::X86_64Format;

use core::sync::atomic::{AtomicU64, Ordering};

static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);

/// Remembers the loader's page table as the kernel's: it maps the kernel image (W^X per
/// segment) and the direct map, and every address space shares its upper half.
pub fn record_kernel_root() {
    KERNEL_ROOT.store(current_root(), Ordering::Relaxed);
}

/// The table holding the kernel half.
pub fn kernel_root() -> u64 {
    KERNEL_ROOT.load(Ordering::Relaxed)
}

/// Root of the page table the CPU uses now.
pub fn current_root() -> u64 {
    Cr3::read().0.start_address().as_u64()
}

/// Switches to the address space rooted at `root` (a physical address).
///
/// # Safety
/// The table must map the kernel half exactly as the current one does.
pub unsafe fn activate(root: u64) {
    let frame = PhysFrame::containing_address(PhysAddr::new(root));
    // SAFETY: per the contract the kernel (code, stack, data) stays mapped across the switch.
    unsafe { Cr3::write(frame, Cr3Flags::empty()) };
}

pub fn flush_page(va: usize) {
    x86_64::instructions::tlb::flush(VirtAddr::new(va as u64));
}

pub fn flush_all() {
    x86_64::instructions::tlb::flush_all();
}
