//! The direct map: every physical address `pa` at virtual `offset() + pa`, kernel
//! read/write, never executable. The one place that converts between the two; nothing
//! else adds or subtracts the offset.
//!
//! The offset is the design's fixed `0xffff_8000_0000_0000` ([`BOOT_OFFSET`]) from the
//! first instruction on, which the aarch64 boot code maps itself (so the early UART and
//! the device tree are reachable before `mm::init`); the x86_64 boot code stores the
//! loader's HHDM offset ([`set_offset`]) as soon as it reads it, and `mm::init` stores
//! `BootInfo::hhdm_offset` again, so after boot nothing can tell which loader ran.
//!
//! Owns only the arithmetic: it must never map anything, and never dereference. Callers
//! that turn [`ptr`] into a reference carry the `unsafe` and its reason.

use core::sync::atomic::{AtomicU64, Ordering};

use wayos_kcore::paging::{PhysAddr, VirtAddr};

/// Where both architectures' boot code puts the direct map (`docs/memory.md`).
pub const BOOT_OFFSET: u64 = VirtAddr::KERNEL_START.as_u64();

static OFFSET: AtomicU64 = AtomicU64::new(BOOT_OFFSET);

/// Records where the loader put the direct map (boot CPU, before anything else runs).
pub fn set_offset(offset: u64) {
    OFFSET.store(offset, Ordering::Relaxed);
}

/// Where all physical memory is mapped: physical `pa` is at virtual `offset() + pa`.
pub fn offset() -> u64 {
    OFFSET.load(Ordering::Relaxed)
}

/// The direct map's address of physical `pa`.
pub fn to_virt(pa: PhysAddr) -> VirtAddr {
    VirtAddr::new(offset() + pa.as_u64())
}

/// The physical address the direct-map address `va` maps, or `None` when `va` lies
/// below the direct map. Only boot code whose loader hands over direct-map pointers
/// (Limine's RSDP and framebuffer) needs it, so some builds never call it.
#[allow(dead_code)]
pub fn to_phys(va: VirtAddr) -> Option<PhysAddr> {
    va.as_u64().checked_sub(offset()).map(PhysAddr::new)
}

/// [`to_virt`] as a raw pointer, for the unsafe code that reads or writes the frame.
pub fn ptr<T>(pa: PhysAddr) -> *mut T {
    to_virt(pa).as_u64() as usize as *mut T
}
