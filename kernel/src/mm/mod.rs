//! Memory management: physical page frames ([`pmm`]) and the kernel heap ([`heap`]).
//!
//! Physical memory is reached only through the direct map ([`direct`]: physical `pa` is
//! at virtual `direct::offset() + pa`, 0xFFFF_8000_0000_0000 on both architectures).
//! Addresses are typed (`PhysAddr`, `VirtAddr` from `wayos_kcore::paging`) throughout;
//! nothing here knows which loader ran or which instruction set this is.
//!
//! The kernel keeps the last free frames for itself ([`reserve`]): every allocation a
//! program causes, of user pages or of kernel heap, asks there first.
//!
//! Order of bring-up, from `kernel_main` right after the boot record is installed:
//! [`init`] builds one buddy allocator per memory tier, then gives the heap its first
//! chunk. Before that, any heap allocation fails (and an infallible one panics).
//!
//! Lock order: the heap lock is taken before a tier lock (the heap grows by asking the
//! PMM for frames); the PMM never allocates from the heap, so it never takes the heap
//! lock. The heap lock masks interrupts (a lock interrupt handlers could share must); the tier locks
//! do not.

use wayos_kcore::boot_info::BootInfo;
use wayos_kcore::paging::{PhysAddr, VirtAddr};

pub mod direct;
pub mod heap;
pub mod kstack;
pub mod pmm;

/// Brings up the physical memory manager and the heap. Called once, on the boot CPU,
/// before anything allocates.
pub fn init(info: &BootInfo) {
    direct::set_offset(info.hhdm_offset);
    pmm::init(info);
    placement::init(&info.topology);
    heap::init();
}

pub mod fault;
pub mod migrate;
pub mod mmio;
pub mod physmem;
pub mod placement;
pub mod reserve;
pub mod run;
pub mod space;
pub mod tlb;

/// Maps device registers; see [`mmio::map`].
pub fn mmio(phys: PhysAddr, len: usize) -> VirtAddr {
    mmio::map(phys, len)
}
