//! The global allocator: `linked_list_allocator` heaps over memory from `mmap`.
//!
//! Small allocations come from arenas — anonymous mappings of at least [`MIN_CHUNK`],
//! each a `linked_list_allocator::Heap`. When none has room, the newest arena is extended
//! in place (a `MAP_FIXED_NOREPLACE` mapping right after it) or, if that address is
//! taken, a new arena is mapped; arenas grow geometrically up to [`MAX_CHUNK`]. Large
//! allocations (at least [`DIRECT_MIN`]) get their own mapping and are unmapped on free,
//! so big buffers return their memory at once. Nothing is ever unmapped from an arena.
//!
//! The lock serializes the threads of a process (`thread`); [`fork`](crate::process::fork)
//! holds it across the call, so the child never starts with it taken by a thread that
//! does not exist there. Out of memory is reported as a null pointer, which `alloc`
//! turns into a panic.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use linked_list_allocator::Heap;
use spin::Mutex;
use wayos_abi::mman::{
    MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE,
};

use crate::mem;

/// Smallest arena mapping.
const MIN_CHUNK: usize = 64 * 1024;
/// Largest arena mapping the geometric growth asks for (a bigger request still gets
/// what it needs).
const MAX_CHUNK: usize = 4 * 1024 * 1024;
/// Allocations this large get a mapping of their own.
const DIRECT_MIN: usize = 256 * 1024;
/// Most arenas; with geometric growth this covers far more memory than a process has.
const MAX_ARENAS: usize = 64;

struct Arena {
    heap: Heap,
    /// One past the arena's last mapped byte.
    end: usize,
}

struct Arenas {
    list: [Arena; MAX_ARENAS],
    count: usize,
    /// Size of the next arena to map.
    next_chunk: usize,
}

const fn round_up(n: usize, to: usize) -> Option<usize> {
    match n.checked_add(to - 1) {
        Some(v) => Some(v / to * to),
        None => None,
    }
}

impl Arenas {
    fn alloc_in_arenas(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        // Newest first: it is the biggest and the most likely to have room.
        self.list[..self.count]
            .iter_mut()
            .rev()
            .find_map(|a| a.heap.allocate_first_fit(layout).ok())
    }

    /// Adds at least `need` bytes of arena space.
    fn grow(&mut self, need: usize) -> Option<()> {
        let len = round_up(need.max(self.next_chunk), PAGE_SIZE)?;
        if self.count > 0 {
            let last = &mut self.list[self.count - 1];
            let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
            match mem::mmap(last.end, len, PROT_READ | PROT_WRITE, flags) {
                Ok(addr) if addr == last.end => {
                    // SAFETY: `[end, end + len)` was just mapped for the heap alone and
                    // directly follows the arena's current range.
                    unsafe { last.heap.extend(len) };
                    last.end += len;
                    self.next_chunk = (self.next_chunk * 2).min(MAX_CHUNK);
                    return Some(());
                }
                Ok(addr) => {
                    // The kernel ignored the placement: use what it gave as a new arena.
                    return self.add_arena(addr, len);
                }
                Err(_) => {}
            }
        }
        let addr = mem::map_anonymous(len, false).ok()?;
        self.add_arena(addr, len)
    }

    fn add_arena(&mut self, addr: usize, len: usize) -> Option<()> {
        if self.count == MAX_ARENAS {
            // SAFETY: the mapping was made just now and nothing uses it.
            let _ = unsafe { mem::munmap(addr, len) };
            return None;
        }
        let arena = &mut self.list[self.count];
        // SAFETY: `[addr, addr + len)` is a fresh read-write mapping used by nothing else,
        // never unmapped while the arena exists (for the process's life), and this slot's
        // heap is empty.
        unsafe { arena.heap.init(addr as *mut u8, len) };
        arena.end = addr + len;
        self.count += 1;
        self.next_chunk = (self.next_chunk * 2).min(MAX_CHUNK);
        Some(())
    }

    fn dealloc(&mut self, ptr: *mut u8, layout: Layout) {
        let addr = ptr as usize;
        let Some(arena) = self.list[..self.count]
            .iter_mut()
            .find(|a| (a.heap.bottom() as usize) <= addr && addr < a.end)
        else {
            // Not ours: a caller bug. Leaking is the only safe answer inside the allocator.
            return;
        };
        if let Some(nn) = NonNull::new(ptr) {
            // SAFETY: `ptr` came from this arena's `allocate_first_fit` with `layout`
            // (GlobalAlloc's contract) and is freed once.
            unsafe { arena.heap.deallocate(nn, layout) };
        }
    }
}

/// The allocator `#[global_allocator]` names.
pub struct MmapHeap {
    arenas: Mutex<Arenas>,
}

impl MmapHeap {
    pub const fn new() -> Self {
        Self {
            arenas: Mutex::new(Arenas {
                list: [const {
                    Arena {
                        heap: Heap::empty(),
                        end: 0,
                    }
                }; MAX_ARENAS],
                count: 0,
                next_chunk: MIN_CHUNK,
            }),
        }
    }
}

impl Default for MmapHeap {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `layout` gets a mapping of its own (decided the same way on alloc and free).
fn is_direct(layout: Layout) -> bool {
    layout.size() >= DIRECT_MIN && layout.align() <= PAGE_SIZE
}

// SAFETY: arena blocks come from `linked_list_allocator`, which honours size and
// alignment; direct blocks are whole page-aligned mappings of at least `size` bytes. Every
// block is handed out once until freed.
unsafe impl GlobalAlloc for MmapHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_direct(layout) {
            return match round_up(layout.size(), PAGE_SIZE)
                .map(|len| mem::map_anonymous(len, false))
            {
                Some(Ok(addr)) => addr as *mut u8,
                _ => ptr::null_mut(),
            };
        }
        let mut arenas = self.arenas.lock();
        if let Some(p) = arenas.alloc_in_arenas(layout) {
            return p.as_ptr();
        }
        // Room for the block at any alignment plus the allocator's hole bookkeeping.
        let need = layout
            .size()
            .checked_add(layout.align())
            .and_then(|n| n.checked_add(4 * core::mem::size_of::<usize>()));
        match need.and_then(|n| arenas.grow(n)) {
            Some(()) => arenas
                .alloc_in_arenas(layout)
                .map_or(ptr::null_mut(), NonNull::as_ptr),
            None => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_direct(layout) {
            if let Some(len) = round_up(layout.size(), PAGE_SIZE) {
                // SAFETY: the block is a whole mapping of `len` bytes made by `alloc`, and
                // the caller no longer uses it.
                let _ = unsafe { mem::munmap(ptr as usize, len) };
            }
            return;
        }
        self.arenas.lock().dealloc(ptr, layout);
    }
}

#[global_allocator]
static HEAP: MmapHeap = MmapHeap::new();

/// Runs `f` with the heap locked (no other thread can be inside the allocator); `f`
/// must not allocate.
pub(crate) fn with_heap_locked<T>(f: impl FnOnce() -> T) -> T {
    let _held = HEAP.arenas.lock();
    f()
}
