//! File data pages backed by physical frames.
//!
//! tmpfs data does not live on the kernel heap: each page is a PMM frame (reference count
//! 1, owned by the file, reached through the direct map) that goes back to the PMM when
//! the file shrinks or goes. Frames come from the user-memory allocator, which refuses
//! the kernel's reserve, so a file system filling memory gets `ENOSPC` while the kernel
//! keeps room to run.

use core::num::NonZeroU64;

use wayos_kcore::fs::{Page, PAGE_SIZE};
use wayos_kcore::paging::PhysAddr;

use crate::mm::{direct, physmem, placement};

/// One frame of file data. The physical address is stored with bit 0 set so that `None`
/// costs no space in the page table (frames are page aligned, so the bit is free).
pub struct FramePage(NonZeroU64);

impl FramePage {
    fn phys(&self) -> PhysAddr {
        PhysAddr::new(self.0.get() & !1)
    }
}

impl Page for FramePage {
    fn new_zeroed() -> Option<Self> {
        // File data has no mapping or process to ask: the system default policy places it.
        let policy = placement::effective(0, 0);
        let pa = placement::alloc_page(policy, 0, None)?;
        NonZeroU64::new(pa.as_u64() | 1).map(FramePage)
    }

    fn bytes(&self) -> &[u8; PAGE_SIZE] {
        // SAFETY: the frame is owned by this `FramePage` alone (allocated here, mapped
        // nowhere else, freed only in `drop`); the direct map covers it, 4 KiB aligned.
        // The shared borrow is tied to `&self`.
        unsafe { &*direct::ptr::<[u8; PAGE_SIZE]>(self.phys()) }
    }

    fn bytes_mut(&mut self) -> &mut [u8; PAGE_SIZE] {
        // SAFETY: as in `bytes`; `&mut self` makes this the only borrow of the frame.
        unsafe { &mut *direct::ptr::<[u8; PAGE_SIZE]>(self.phys()) }
    }
}

impl Drop for FramePage {
    fn drop(&mut self) {
        physmem::release(self.phys());
    }
}
