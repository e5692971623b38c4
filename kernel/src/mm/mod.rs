//! Memory management: physical page frames ([`pmm`]) and the kernel heap ([`heap`]).
//!
//! Physical memory is reached only through the direct map: physical address `pa` is at
//! virtual `pa + hhdm_offset()` (0xFFFF_8000_0000_0000 on both architectures). Nothing
//! here knows which loader ran or which instruction set this is.
//!
//! Order of bring-up, from `kernel_main` right after the boot record is installed:
//! [`init`] builds one buddy allocator per memory tier, then gives the heap its first
//! chunk. Before that, any heap allocation fails (and an infallible one panics).
//!
//! Lock order: the heap lock is taken before a tier lock (the heap grows by asking the
//! PMM for frames); the PMM never allocates from the heap, so it never takes the heap
//! lock. Neither lock masks interrupts: interrupt handlers must not allocate.

use core::sync::atomic::{AtomicU64, Ordering};

use wayos_kcore::boot_info::BootInfo;

pub mod heap;
pub mod pmm;

/// The direct map's offset, set once by [`init`].
static HHDM_OFFSET: AtomicU64 = AtomicU64::new(0);

/// Brings up the physical memory manager and the heap. Called once, on the boot CPU,
/// before anything allocates.
pub fn init(info: &BootInfo) {
    HHDM_OFFSET.store(info.hhdm_offset, Ordering::Relaxed);
    pmm::init(info);
    heap::init();
}

/// Where all physical memory is mapped: physical `pa` is at virtual `pa + hhdm_offset()`.
pub fn hhdm_offset() -> u64 {
    HHDM_OFFSET.load(Ordering::Relaxed)
}

pub mod fault;
pub mod mmio;
pub mod physmem;
pub mod space;
pub mod tlb;

/// Maps device registers; see [`mmio::map`].
pub fn mmio(phys: u64, len: usize) -> usize {
    mmio::map(phys, len)
}
