//! Device memory (MMIO) mappings in the kernel half: uncached, never executable.
//!
//! The direct map is ordinary cacheable memory, which device registers must not be, so
//! devices get their own window above it. Mappings are never torn down; drivers keep them
//! for the life of the kernel.

use core::sync::atomic::{AtomicU64, Ordering};

use wayos_kcore::paging::{PageSize, PageTable, PhysAddr, PteFlags, VirtAddr};

use super::physmem::KernelPhysMem;
use crate::arch::{self, PteFormat};
use crate::sync::Mutex;

/// Start of the MMIO window (a 512 GiB slot of the kernel half, far from everything else).
const MMIO_BASE: u64 = 0xffff_f000_0000_0000;
const MMIO_LIMIT: u64 = MMIO_BASE + (1 << 39);

static NEXT: AtomicU64 = AtomicU64::new(MMIO_BASE);
static LOCK: Mutex<()> = Mutex::new(());

/// Maps `len` bytes of device registers at physical `phys`; returns the virtual address of
/// `phys`. Panics only if the kernel runs out of memory for page tables at boot, which
/// leaves nothing to run anyway.
pub fn map(phys: u64, len: usize) -> usize {
    let _guard = LOCK.lock();
    let page = 4096u64;
    let start = phys & !(page - 1);
    let end = (phys + len as u64).next_multiple_of(page);
    let va = NEXT.fetch_add(end - start, Ordering::Relaxed);
    assert!(va + (end - start) <= MMIO_LIMIT, "MMIO window exhausted");
    let mut table = PageTable::<PteFormat>::from_root(PhysAddr::new(arch::kernel_root()));
    let flags = PteFlags::WRITE | PteFlags::DEVICE | PteFlags::GLOBAL;
    let mut off = 0;
    while start + off < end {
        table
            .map(
                &mut KernelPhysMem,
                VirtAddr::new(va + off),
                PhysAddr::new(start + off),
                PageSize::Size4K,
                flags,
            )
            .expect("MMIO mapping")
            .ignore();
        off += page;
    }
    (va + (phys - start)) as usize
}
