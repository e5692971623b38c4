//! Page tables reached through the direct map: the kernel's `PhysMem` for
//! `wayos_kcore::paging`, plus frame helpers with reference counts.
//!
//! Every user page is a PMM frame whose reference count says how many page-table entries
//! (and shared objects) point at it; [`release`] frees it when the last one goes.

use wayos_kcore::paging::{PhysAddr, PhysMem};

use super::{direct, pmm};

/// Page-table memory: entries read and written through the direct map, tables from the PMM.
pub struct KernelPhysMem;

impl PhysMem for KernelPhysMem {
    fn read_entry(&self, table: PhysAddr, index: usize) -> u64 {
        let p = direct::ptr::<u64>(table);
        // SAFETY: `table` is a page-table page (from the PMM or the boot tables), mapped
        // by the direct map; index < 512 keeps the read inside it.
        unsafe { p.add(index).read_volatile() }
    }

    fn write_entry(&mut self, table: PhysAddr, index: usize, value: u64) {
        let p = direct::ptr::<u64>(table);
        // SAFETY: as for `read_entry`; page-table updates happen under the owning address
        // space's lock (or at boot, single-threaded).
        unsafe { p.add(index).write_volatile(value) }
    }

    fn alloc_table(&mut self) -> Option<PhysAddr> {
        alloc_zeroed()
    }

    fn free_table(&mut self, table: PhysAddr) {
        release(table);
    }
}

/// A frame for user memory or user page tables, refused when only the kernel's reserve
/// is left (`mm::reserve`).
fn alloc_user_page() -> Option<PhysAddr> {
    if !super::reserve::user_page_available() {
        return None;
    }
    pmm::alloc_page()
}

/// A zeroed 4 KiB frame with reference count 1.
pub fn alloc_zeroed() -> Option<PhysAddr> {
    let pa = alloc_user_page()?;
    // SAFETY: a fresh frame from the PMM, owned by us, mapped by the direct map.
    unsafe { core::ptr::write_bytes(direct::ptr::<u8>(pa), 0, 4096) };
    Some(pa)
}

/// Adds a reference to a frame (another PTE or object points at it).
pub fn retain(pa: PhysAddr) {
    pmm::ref_inc(pa);
}

/// Drops a reference; frees the frame when it was the last.
pub fn release(pa: PhysAddr) {
    if pmm::ref_dec(pa) == 0 {
        pmm::free_page(pa);
    }
}

/// Current reference count of a frame.
pub fn refs(pa: PhysAddr) -> u32 {
    pmm::ref_count(pa)
}

/// An uninitialised 4 KiB frame (reference count 1) on `tier`, for the migration
/// daemon's copies; refused at the kernel's reserve like any user page.
pub fn alloc_on(tier: pmm::Tier) -> Option<PhysAddr> {
    if !super::reserve::user_page_available() {
        return None;
    }
    pmm::alloc_frames(tier, 0).ok().map(pmm::Frame::start)
}

/// Copies the 4 KiB frame `from` into `to`.
pub fn copy_frame(from: PhysAddr, to: PhysAddr) {
    // SAFETY: both are live, distinct, direct-mapped frames; `to` is the caller's
    // alone (fresh from `alloc_on`, mapped nowhere yet).
    unsafe { core::ptr::copy_nonoverlapping(direct::ptr::<u8>(from), direct::ptr::<u8>(to), 4096) };
}
