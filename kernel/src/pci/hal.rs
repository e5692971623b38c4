//! The `virtio-drivers` HAL: how the crate gets DMA memory, reaches device registers and
//! turns buffers into bus addresses on this kernel.
//!
//! - DMA memory (the virtqueues) is physically contiguous, zeroed PMM frames from near
//!   memory, reached through the direct map; freed back to the PMM.
//! - Device registers (BARs) go through the kernel's uncached MMIO window (`mm::mmio`),
//!   mapped once and kept for the life of the kernel.
//! - `share`/`unshare`: every buffer the drivers here hand a device is kernel memory in
//!   the direct map (heap or PMM frames, each physically contiguous), so its bus address
//!   is its physical address; no bounce buffers. There is no IOMMU.
//!
//! Must never: hand a device a buffer outside the direct map (checked: that is a kernel
//! bug, not something a program can cause), or free DMA memory the device still uses
//! (the crate's queues free theirs only when the driver is dropped, after the reset).

use core::ptr::NonNull;

use virtio_drivers::{BufferDirection, Hal, PhysAddr as BusAddr};
use wayos_kcore::paging::{PhysAddr, VirtAddr};

use crate::mm::pmm::{self, Frame, Tier};
use crate::mm::{direct, mmio};

/// The HAL type the virtio drivers are instantiated with.
pub struct KernelHal;

/// The buddy order that holds `pages` pages.
fn order_for(pages: usize) -> u8 {
    pages.max(1).next_power_of_two().trailing_zeros() as u8
}

// SAFETY: `dma_alloc` returns zeroed, page-aligned, physically contiguous frames that
// nothing else owns until `dma_dealloc` frees them; `mmio_phys_to_virt` returns a fresh
// uncached mapping of exactly the device range; `share` returns the physical address of
// direct-map memory, which is where a device without an IOMMU must write.
unsafe impl Hal for KernelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (BusAddr, NonNull<u8>) {
        match pmm::alloc_frames_zeroed(Tier::Near, order_for(pages)) {
            Ok(frame) => match NonNull::new(frame.as_ptr()) {
                Some(p) => (frame.start().as_u64(), p),
                None => (0, NonNull::dangling()),
            },
            // Physical address 0 is the crate's failure value (frame 0 is never handed out).
            Err(_) => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(paddr: BusAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        match pmm::free_frames(Frame::containing(PhysAddr::new(paddr)), order_for(pages)) {
            Ok(()) => 0,
            Err(e) => {
                log::error!("virtio: DMA free of {paddr:#x} ({pages} pages) failed: {e:?}");
                -1
            }
        }
    }

    unsafe fn mmio_phys_to_virt(paddr: BusAddr, size: usize) -> NonNull<u8> {
        let va = mmio::map(PhysAddr::new(paddr), size);
        NonNull::new(va.as_u64() as usize as *mut u8).expect("the MMIO window is never at 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> BusAddr {
        let va = buffer.as_ptr() as *mut u8 as usize as u64;
        bus_address(va, buffer.len())
    }

    unsafe fn unshare(_paddr: BusAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {
        // Nothing to copy back: the device wrote the buffer itself.
    }
}

/// The bus (physical) address of `len` bytes at direct-map address `va`. Panics when the
/// range is not direct-map memory: only kernel code chooses these buffers.
fn bus_address(va: u64, len: usize) -> BusAddr {
    let pa = direct::to_phys(VirtAddr::new(va)).expect("virtio buffer below the direct map");
    // The direct map covers physical memory only: a kernel-image or MMIO address would
    // give a "physical" address far beyond any RAM the PMM knows.
    assert!(
        pmm::tier_of(pa).is_some() && pmm::tier_of(pa + len.saturating_sub(1) as u64).is_some(),
        "virtio buffer {va:#x}+{len} is not direct-mapped RAM"
    );
    pa.as_u64()
}
