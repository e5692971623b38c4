//! The kernel heap: the `#[global_allocator]` behind `alloc`'s `Box`, `Vec`, `Arc`, ...
//!
//! It is a small array of `linked_list_allocator::Heap`s, each over one physically
//! contiguous chunk of PMM frames reached through the direct map. When no region can
//! satisfy a request, the heap grows: it takes another chunk from the PMM (2 MiB, or the
//! next power of two that fits the request, near memory first) and either extends the
//! region that ends right below the chunk or starts a new region. `dealloc` finds the
//! owning region by address range. Chunks are never given back to the PMM.
//!
//! Failure: when the PMM cannot provide a chunk, or all [`MAX_REGIONS`] regions are in use,
//! `alloc` returns null. Fallible APIs (`Vec::try_reserve`, `try_with_capacity`, ...) turn
//! that into an error, and every allocation whose size a user program can choose must use
//! them. An infallible allocation that fails ends in `handle_alloc_error`, which on stable
//! Rust (no `#[alloc_error_handler]`) panics: the kernel stops. So that a program can never
//! bring that about, every allocation made on a program's behalf asks
//! `mm::reserve::admit` first, which keeps the PMM's last frames for the kernel's own
//! growth (teardown, the fault path, kernel threads).
//!
//! What must never happen here: handing out memory twice, or taking the heap lock from an
//! interrupt handler (the lock does not mask interrupts, so an interrupt arriving while
//! this CPU holds it would spin forever). The PMM never allocates from the heap, so growing
//! under the heap lock cannot deadlock.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use crate::sync::IrqMutex as Mutex;
use linked_list_allocator::Heap;
use wayos_kcore::buddy::{MAX_ORDER, PAGE_SHIFT};

use super::pmm::{self, Tier};

/// Most regions the heap keeps; chunks that land right above a region extend it instead.
pub const MAX_REGIONS: usize = 64;
/// The order of a normal growth chunk: 2^9 frames = 2 MiB.
const CHUNK_ORDER: u8 = 9;
/// Room for the allocator's own alignment padding and hole headers in a fresh chunk.
const SLACK: usize = 64;

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    state: Mutex::new(HeapState {
        regions: [const { None }; MAX_REGIONS],
        grows: 0,
    }),
};

/// The global allocator; see the module docs.
struct KernelHeap {
    state: Mutex<HeapState>,
}

/// One contiguous stretch of heap memory, `[start, end)` in the direct map.
struct Region {
    start: usize,
    end: usize,
    heap: Heap,
}

struct HeapState {
    /// Filled from the front; `None` after the first unused slot.
    regions: [Option<Region>; MAX_REGIONS],
    /// Chunks taken from the PMM so far.
    grows: usize,
}

/// Counters for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapStats {
    /// Regions in use.
    pub regions: usize,
    /// Bytes the heap owns.
    pub size: usize,
    /// Bytes handed out (including the allocator's rounding).
    pub used: usize,
    /// Chunks taken from the PMM.
    pub grows: usize,
}

/// Gives the heap its first chunk. Called once by `mm::init`, after the PMM is up.
pub fn init() {
    let mut state = HEAP.state.lock();
    let grown = state.grow(Layout::new::<u64>());
    let stats = state.stats();
    drop(state);
    match grown {
        Ok(()) => log::info!(
            "{} KiB initial region, grows by {} KiB chunks from the PMM",
            stats.size >> 10,
            1usize << (CHUNK_ORDER as u32 + PAGE_SHIFT - 10)
        ),
        Err(()) => log::error!("no memory for the first chunk; every allocation will fail"),
    }
}

/// A snapshot of the heap's counters.
pub fn stats() -> HeapStats {
    HEAP.state.lock().stats()
}

/// [`stats`] if the heap's lock is free now.
pub fn try_stats() -> Option<HeapStats> {
    HEAP.state.try_lock().map(|s| s.stats())
}

impl HeapState {
    fn live(&mut self) -> impl Iterator<Item = &mut Region> {
        self.regions.iter_mut().map_while(Option::as_mut)
    }

    fn stats(&self) -> HeapStats {
        let live = || self.regions.iter().map_while(Option::as_ref);
        HeapStats {
            regions: live().count(),
            size: live().map(|r| r.end - r.start).sum(),
            used: live().map(|r| r.heap.used()).sum(),
            grows: self.grows,
        }
    }

    /// First fit, newest region first (it is the likeliest to have room).
    fn alloc_existing(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let n = self.live().count();
        self.regions[..n]
            .iter_mut()
            .rev()
            .filter_map(Option::as_mut)
            .find_map(|r| r.heap.allocate_first_fit(layout).ok())
    }

    /// Takes a chunk from the PMM big enough for `layout` and adds it to the heap.
    fn grow(&mut self, layout: Layout) -> Result<(), ()> {
        let need = layout
            .size()
            .checked_add(layout.align())
            .and_then(|n| n.checked_add(SLACK))
            .ok_or(())?;
        let pages = need.div_ceil(1 << PAGE_SHIFT);
        let need_order = pages.next_power_of_two().trailing_zeros();
        if need_order > u32::from(MAX_ORDER) {
            return Err(());
        }
        let need_order = need_order as u8;
        // A full chunk if there is one; under memory pressure, just enough.
        let (frame, order) = (need_order..=need_order.max(CHUNK_ORDER))
            .rev()
            .find_map(|order| {
                Tier::ALL
                    .iter()
                    .find_map(|&t| pmm::alloc_frames(t, order).ok())
                    .map(|f| (f, order))
            })
            .ok_or(())?;
        let start = frame.as_ptr() as usize;
        let len = pmm::block_bytes(order) as usize;
        if self.add_chunk(start, len) {
            self.grows += 1;
            Ok(())
        } else {
            if let Err(e) = pmm::free_frames(frame, order) {
                log::error!("returning an unused chunk failed: {e}");
            }
            Err(())
        }
    }

    /// Adds `[start, start+len)` (fresh PMM memory, ours for good) to the heap: extends
    /// the region ending at `start`, or fills a free slot. False if every slot is taken.
    fn add_chunk(&mut self, start: usize, len: usize) -> bool {
        if let Some(r) = self.live().find(|r| r.end == start) {
            // SAFETY: the chunk begins exactly at the region's end and, coming from the
            // PMM, is ours for the life of the kernel and used by nothing else.
            unsafe { r.heap.extend(len) };
            r.end += len;
            return true;
        }
        let Some(slot) = self.regions.iter_mut().find(|s| s.is_none()) else {
            return false;
        };
        // SAFETY: `[start, start+len)` is a block of RAM fresh from the PMM, mapped
        // read/write by the direct map and never freed, so valid for 'static and used by
        // nothing else; `len` (at least 4 KiB) exceeds the allocator's minimum.
        let heap = unsafe { Heap::new(start as *mut u8, len) };
        *slot = Some(Region {
            start,
            end: start + len,
            heap,
        });
        true
    }
}

// SAFETY: `alloc` returns memory from a region's `Heap`, which hands out each byte to one
// live allocation at a time with the requested layout; `dealloc` gives a block back to the
// region it came from (found by address) with the same layout. The lock serializes all of
// it. Null is returned when memory runs out, as `GlobalAlloc` requires.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        crate::traps::note_allocation();
        let mut state = self.state.lock();
        if let Some(p) = state.alloc_existing(layout) {
            return p.as_ptr();
        }
        if state.grow(layout).is_err() {
            return ptr::null_mut();
        }
        state
            .alloc_existing(layout)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let mut state = self.state.lock();
        let addr = ptr as usize;
        let owner = state.live().find(|r| r.start <= addr && addr < r.end);
        match (owner, NonNull::new(ptr)) {
            (Some(region), Some(nn)) => {
                // SAFETY: the caller passes a pointer `alloc` returned with this layout
                // (GlobalAlloc's contract); it lies in this region, so this region's
                // `Heap` handed it out.
                unsafe { region.heap.deallocate(nn, layout) }
            }
            _ => {
                drop(state);
                panic!("heap: dealloc of {ptr:p}, which no heap region holds");
            }
        }
    }
}
