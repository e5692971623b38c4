//! Physical memory wayboot takes from the firmware for the kernel's benefit.
//!
//! Every allocation is tagged with one of two OS-loader memory types so that, after
//! ExitBootServices, the firmware's memory map itself says which ranges are the kernel
//! and modules ([`KERNEL_AND_MODULES`]) and which are bootloader data the kernel may
//! reclaim ([`RECLAIMABLE`]: page tables, stack, GDT, responses, the kernel file).
//! Boot services identity-map memory, so a physical address is also a usable pointer
//! until wayboot switches page tables.

use core::ptr::NonNull;
use uefi::boot::{self, AllocateType, MemoryType};
use uefi::Status;

/// Size of a page.
pub const PAGE: u64 = 4096;

/// UEFI memory type for memory the Limine map reports as bootloader reclaimable.
pub const RECLAIMABLE: MemoryType = MemoryType::custom(0x8000_5742);
/// UEFI memory type for memory the Limine map reports as executable and modules.
pub const KERNEL_AND_MODULES: MemoryType = MemoryType::custom(0x8000_5743);

/// Rounds `v` up to a multiple of `align` (a power of two), or `None` on overflow.
pub fn align_up(v: u64, align: u64) -> Option<u64> {
    Some(v.checked_add(align - 1)? & !(align - 1))
}

/// Rounds `v` down to a multiple of `align` (a power of two).
pub fn align_down(v: u64, align: u64) -> u64 {
    v & !(align - 1)
}

/// Allocates `len` bytes (rounded up to pages) of zeroed memory of type `ty`, aligned to
/// `align` (a power of two, at least a page). Returns the physical address.
pub fn alloc_zeroed(ty: MemoryType, len: u64, align: u64) -> Result<u64, Status> {
    let align = align.max(PAGE);
    let pages = align_up(len.max(1), PAGE).ok_or(Status::OUT_OF_RESOURCES)? / PAGE;
    let extra = align / PAGE - 1;
    let total = usize::try_from(pages + extra).map_err(|_| Status::OUT_OF_RESOURCES)?;
    let ptr = boot::allocate_pages(AllocateType::AnyPages, ty, total).map_err(|e| e.status())?;
    let raw = ptr.as_ptr() as u64;
    let start = align_up(raw, align).ok_or(Status::OUT_OF_RESOURCES)?;
    let head = (start - raw) / PAGE;
    let tail = extra - head;
    if head > 0 {
        free(raw, head);
    }
    if tail > 0 {
        free(start + pages * PAGE, tail);
    }
    let bytes = usize::try_from(pages * PAGE).map_err(|_| Status::OUT_OF_RESOURCES)?;
    // SAFETY: `start..start + bytes` lies inside the allocation just made (the freed head
    // and tail are outside it); boot services identity-map it and nothing else uses it.
    unsafe { core::ptr::write_bytes(start as *mut u8, 0, bytes) };
    Ok(start)
}

/// Returns unused over-allocation to the firmware.
fn free(addr: u64, pages: u64) {
    if let Some(ptr) = NonNull::new(addr as *mut u8) {
        // SAFETY: the pages were allocated by `allocate_pages` above and nothing refers
        // to them. A failure only leaks the pages, so it is ignored.
        let _ = unsafe { boot::free_pages(ptr, pages as usize) };
    }
}

/// The bytes at a physical address wayboot allocated.
///
/// # Safety
///
/// `addr..addr + len` must be memory wayboot allocated (or firmware memory it may
/// access), identity-mapped, and not aliased by another live reference.
pub unsafe fn bytes_mut(addr: u64, len: usize) -> &'static mut [u8] {
    // SAFETY: the caller guarantees the range is valid, mapped and unaliased.
    unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, len) }
}

/// A bump allocator over reclaimable pages for the response structures.
///
/// Objects are placed at 8-byte-aligned physical addresses; the arena grows by whole
/// chunks taken from the firmware. Memory is zeroed.
pub struct Arena {
    next: u64,
    end: u64,
}

const CHUNK: u64 = 64 * 1024;

impl Arena {
    pub const fn new() -> Self {
        Arena { next: 0, end: 0 }
    }

    /// Reserves `len` zeroed bytes, 8-byte aligned; returns their physical address.
    pub fn alloc(&mut self, len: u64) -> Result<u64, Status> {
        let len = align_up(len.max(8), 8).ok_or(Status::OUT_OF_RESOURCES)?;
        if self.end - self.next < len {
            let size = align_up(len.max(CHUNK), PAGE).ok_or(Status::OUT_OF_RESOURCES)?;
            let base = alloc_zeroed(RECLAIMABLE, size, PAGE)?;
            self.next = base;
            self.end = base + size;
        }
        let addr = self.next;
        self.next += len;
        Ok(addr)
    }

    /// Places `value` in the arena and returns its physical address.
    pub fn put<T: Copy>(&mut self, value: T) -> Result<u64, Status> {
        let addr = self.alloc(core::mem::size_of::<T>() as u64)?;
        // SAFETY: `addr` is fresh, 8-byte aligned (enough for every response type), large
        // enough for a `T` and identity-mapped.
        unsafe { (addr as *mut T).write(value) };
        Ok(addr)
    }

    /// Copies `s` into the arena with a NUL terminator and returns its physical address.
    pub fn put_cstr(&mut self, s: &[u8]) -> Result<u64, Status> {
        let addr = self.alloc(s.len() as u64 + 1)?;
        // SAFETY: `addr` is a fresh allocation of `s.len() + 1` zeroed bytes.
        let dst = unsafe { bytes_mut(addr, s.len() + 1) };
        dst[..s.len()].copy_from_slice(s);
        Ok(addr)
    }
}
