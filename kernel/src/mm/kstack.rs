//! Kernel stacks with guard pages: every thread's kernel stack lives in its own slot of a
//! dedicated window of the kernel half, with the lower half of the slot left unmapped, so
//! a stack overflow faults on the guard instead of silently overwriting whatever lies
//! below (it was the kernel heap). The arch trap code recognizes such a fault
//! ([`is_guard`]) and the panic names the thread ([`overflow`]).
//!
//! Slots are never unmapped: a freed stack keeps its pages and goes on a free list, linked
//! through the stack's own lowest word, for the next thread. So the kernel half only ever
//! gains mappings (no TLB shootdown, as `tlb::settle_kernel` requires), and freeing never
//! allocates. The pages stay with the stacks, as they stayed with the heap before.
//!
//! Must never: map anything in the guard half of a slot, or hand out a slot twice.

use core::sync::atomic::{AtomicU64, Ordering};

use wayos_kcore::paging::{PageSize, PageTable, PhysAddr, PteFlags, VirtAddr};

use super::physmem::KernelPhysMem;
use super::{pmm, tlb};
use crate::arch::{self, PteFormat};
use crate::sync::Mutex;

/// The window: one 512 GiB slot of the kernel half (PML4 / level-0 index 448). The
/// aarch64 exception entry recognizes it by `sp >> 39` (`arch/aarch64/trap.rs`).
pub const WINDOW_BASE: u64 = 0xffff_e000_0000_0000;
const WINDOW_END: u64 = WINDOW_BASE + (1 << 39);
/// Bytes of stack per thread.
pub const STACK_SIZE: usize = 64 * 1024;
/// One slot: an unmapped guard as large as the stack, then the stack. A slot is aligned
/// to its size, so an address's offset bit 16 tells guard (clear) from stack (set).
pub const SLOT_SIZE: u64 = 2 * STACK_SIZE as u64;
const _: () = assert!(SLOT_SIZE == 1 << 17);

static NEXT_SLOT: AtomicU64 = AtomicU64::new(WINDOW_BASE);
/// Base of the most recently freed stack (0: none); each free stack's first word holds
/// the base of the next.
static FREE: Mutex<u64> = Mutex::new(0);

/// A stack's lowest address; `base + STACK_SIZE` is its top.
pub fn alloc() -> Option<usize> {
    {
        let mut free = FREE.lock();
        if *free != 0 {
            let base = *free;
            // SAFETY: `base` is a freed stack's mapped, unused lowest word, written by
            // `release`.
            *free = unsafe { (base as *const u64).read() };
            return Some(base as usize);
        }
    }
    let slot = NEXT_SLOT.fetch_add(SLOT_SIZE, Ordering::Relaxed);
    if slot + SLOT_SIZE > WINDOW_END {
        return None;
    }
    let base = slot + STACK_SIZE as u64;
    let pages = STACK_SIZE / 4096;
    let mut frames = [PhysAddr::new(0); STACK_SIZE / 4096];
    for i in 0..pages {
        match pmm::alloc_page() {
            Some(pa) => frames[i] = pa,
            None => {
                for &pa in &frames[..i] {
                    pmm::free_page(pa);
                }
                // The slot's address space is given up; there are millions.
                return None;
            }
        }
    }
    let mut table = PageTable::<PteFormat>::from_root(arch::kernel_root());
    let flags = PteFlags::WRITE | PteFlags::GLOBAL;
    for (i, &pa) in frames.iter().enumerate() {
        let va = VirtAddr::new(base + (i * 4096) as u64);
        match table.map(&mut KernelPhysMem, va, pa, PageSize::Size4K, flags) {
            Ok(flush) => tlb::settle_kernel(flush),
            Err(_) => {
                // No memory for a page table. The pages mapped so far stay mapped (the
                // kernel half never loses mappings) and the slot is given up.
                for &pa in &frames[i..] {
                    pmm::free_page(pa);
                }
                return None;
            }
        }
    }
    tlb::publish_kernel(VirtAddr::new(base));
    Some(base as usize)
}

/// Returns a stack from [`alloc`] that no thread runs on any more.
pub fn release(base: usize) {
    let mut free = FREE.lock();
    // SAFETY: the stack is mapped and nobody uses it; its lowest word holds the link.
    unsafe { (base as *mut u64).write(*free) };
    *free = base as u64;
}

/// True when `addr` lies in the guard half of a stack slot.
pub fn is_guard(addr: u64) -> bool {
    (WINDOW_BASE..WINDOW_END).contains(&addr)
        && (addr - WINDOW_BASE) % SLOT_SIZE < STACK_SIZE as u64
}

/// Called by the arch trap code when a kernel fault hit a stack guard: panics with the
/// running thread's id.
pub fn overflow(addr: u64) -> ! {
    let tid = crate::task::sched::current_tid();
    panic!("kernel stack overflow in thread {tid} (fault at {addr:#x}, below its stack)");
}
