//! Device memory (MMIO) mappings in the kernel half: uncached, never executable.
//!
//! The direct map is ordinary cacheable memory, which device registers must not be, so
//! devices get their own window above it. Mappings are never torn down; drivers keep them
//! for the life of the kernel. Every entry written here was invalid before, so the
//! `Flush` tokens owe no invalidation (`tlb::settle_kernel` checks that); [`map`] ends
//! with `tlb::publish_kernel`, whose barriers (aarch64) order the new entries before
//! first use, so callers may touch the registers at once.

use core::sync::atomic::{AtomicU64, Ordering};

use wayos_kcore::paging::{PageSize, PageTable, PhysAddr, PteFlags, VirtAddr};

use super::physmem::KernelPhysMem;
use super::tlb;
use crate::arch::{self, PteFormat};
use crate::sync::Mutex;

/// Start of the MMIO window (a 512 GiB slot of the kernel half, far from everything else).
const MMIO_BASE: u64 = 0xffff_f000_0000_0000;
const MMIO_LIMIT: u64 = MMIO_BASE + (1 << 39);

static NEXT: AtomicU64 = AtomicU64::new(MMIO_BASE);
static LOCK: Mutex<()> = Mutex::new(());

/// Maps `len` bytes of device registers at physical `phys`; returns the virtual address of
/// `phys`. A range of 2 MiB or more that starts and ends on 2 MiB boundaries (a PCI ECAM
/// window, up to 256 MiB) is mapped with 2 MiB pages, at a 2 MiB-aligned address.
/// Panics only if the kernel runs out of memory for page tables at boot, which leaves
/// nothing to run anyway.
pub fn map(phys: PhysAddr, len: usize) -> VirtAddr {
    let _guard = LOCK.lock();
    let big = PageSize::Size2M.bytes();
    let page = if phys.as_u64().is_multiple_of(big)
        && len as u64 >= big
        && (len as u64).is_multiple_of(big)
    {
        PageSize::Size2M
    } else {
        PageSize::Size4K
    };
    let start = phys.align_down(page);
    let end = (phys + len as u64).as_u64().next_multiple_of(page.bytes());
    let span = end - start.as_u64();
    // Only this function moves NEXT, under LOCK: aligning it here cannot race.
    let base = NEXT.load(Ordering::Relaxed).next_multiple_of(page.bytes());
    NEXT.store(base + span, Ordering::Relaxed);
    let va = VirtAddr::new(base);
    assert!(va.as_u64() + span <= MMIO_LIMIT, "MMIO window exhausted");
    let mut table = PageTable::<PteFormat>::from_root(arch::kernel_root());
    let flags = PteFlags::WRITE | PteFlags::DEVICE | PteFlags::GLOBAL;
    let mut off = 0;
    while off < span {
        let flush = table
            .map(&mut KernelPhysMem, va + off, start + off, page, flags)
            .expect("MMIO mapping");
        tlb::settle_kernel(flush);
        off += page.bytes();
    }
    tlb::publish_kernel(va);
    va + (phys.as_u64() - start.as_u64())
}
