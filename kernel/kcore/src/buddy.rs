//! A buddy allocator of physical page frames: the algorithm behind the kernel's PMM.
//!
//! One [`BuddyAllocator`] manages one contiguous *span* of page frame numbers (one memory
//! tier in the kernel). The caller hands it a slice of [`FrameDesc`], one per 4 KiB frame
//! of the span; the allocator keeps everything it knows inside those descriptors, so it
//! never reads or writes the pages themselves and runs unchanged on the host against a
//! `Vec` (the tests at the bottom do exactly that).
//!
//! # Blocks and states
//!
//! Memory is handed out in *blocks* of `2^order` frames, `order <= MAX_ORDER`, whose first
//! frame number is a multiple of `2^order` (aligned in absolute frame numbers, not relative
//! to the span, so an order-9 block is a 2 MiB-aligned physical range a huge page can
//! map). Every frame of the span is in exactly one of these states ([`FrameState`]):
//!
//! - `Reserved`: not managed (a hole in the span, firmware memory, the descriptors
//!   themselves); never handed out.
//! - `Free`: the first frame (head) of a free block; `order` says its size.
//! - `Allocated`: the head of an allocated block; `order` and `refcount` are meaningful.
//! - `Tail`: any other frame of a free or allocated block.
//!
//! Only heads change state on a split or a merge, so every operation is O(`MAX_ORDER`);
//! the block containing any frame can still be found by looking at the at most
//! `MAX_ORDER + 1` aligned candidates below it ([`BuddyAllocator::block_containing`]).
//!
//! Free blocks of each order sit on an intrusive doubly-linked list threaded through the
//! descriptors by `u32` index (so a span holds at most `u32::MAX - 1` frames, 16 TiB).
//! The allocator keeps the buddy invariant at all times: two free buddies of the same
//! order are always merged, so a given set of free frames has exactly one block layout.
//!
//! # What must never happen here
//!
//! A bad request (double free, wrong order, a frame from elsewhere, a refcount underflow)
//! is answered with an error and leaves the state untouched; it must never corrupt the
//! free lists or panic. There is no interior locking: the kernel wraps each instance in a
//! lock, and the reference counts are plain `u32`s protected by that same lock.

use core::fmt;

/// Bytes per page frame.
pub const PAGE_SIZE: u64 = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;
/// The largest block order: `2^18` frames = 1 GiB, the largest page both architectures map
/// with one entry.
pub const MAX_ORDER: u8 = 18;
/// Number of distinct orders (`0..=MAX_ORDER`).
pub const ORDERS: usize = MAX_ORDER as usize + 1;

/// The end-of-list marker for the intrusive links.
const NIL: u32 = u32::MAX;
/// Most frames one allocator manages (indices must stay below [`NIL`]).
const MAX_FRAMES: usize = (NIL - 1) as usize;

/// A physical page frame number: physical address / [`PAGE_SIZE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pfn(pub u64);

impl Pfn {
    /// The frame holding physical address `addr` (rounded down).
    pub const fn containing(addr: u64) -> Self {
        Pfn(addr >> PAGE_SHIFT)
    }

    /// The physical address of the frame's first byte.
    pub const fn addr(self) -> u64 {
        self.0 << PAGE_SHIFT
    }

    /// Whether this frame may head a block of `order` (its number is a multiple of
    /// `2^order`).
    pub const fn is_aligned(self, order: u8) -> bool {
        order < 64 && self.0 & ((1u64 << order) - 1) == 0
    }
}

impl fmt::Display for Pfn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pfn {:#x}", self.0)
    }
}

/// What one frame of the span currently is; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameState {
    /// Not managed: never handed out.
    Reserved,
    /// Inside a free or allocated block, but not its first frame.
    Tail,
    /// Heads a free block (on a free list).
    Free,
    /// Heads an allocated block.
    Allocated,
}

/// Per-frame bookkeeping, 16 bytes per 4 KiB frame (0.4 % of the memory it describes).
///
/// The fields are private so only the allocator changes them; read them through the
/// accessors. `refcount` and `order` mean something only on block heads.
#[derive(Clone, Copy, Debug)]
pub struct FrameDesc {
    next: u32,
    prev: u32,
    refcount: u32,
    state: FrameState,
    order: u8,
    /// The migration daemon's hotness estimate (`memtier::Heat`), in the descriptor's
    /// padding so it costs no memory; 0 for a fresh block.
    heat: u8,
}

impl FrameDesc {
    /// A reserved, unlinked descriptor: the state [`BuddyAllocator::new`] starts from.
    pub const RESERVED: FrameDesc = FrameDesc {
        next: NIL,
        prev: NIL,
        refcount: 0,
        state: FrameState::Reserved,
        order: 0,
        heat: 0,
    };

    pub fn state(&self) -> FrameState {
        self.state
    }

    /// The order of the block this frame heads (meaningless for `Tail` and `Reserved`).
    pub fn order(&self) -> u8 {
        self.order
    }

    /// References to an allocated block (0 for anything else).
    pub fn refcount(&self) -> u32 {
        self.refcount
    }

    fn is_head(&self) -> bool {
        matches!(self.state, FrameState::Free | FrameState::Allocated)
    }
}

impl Default for FrameDesc {
    fn default() -> Self {
        Self::RESERVED
    }
}

/// No free block of the requested order (or the order exceeds [`MAX_ORDER`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory {
    pub order: u8,
}

impl fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.order > MAX_ORDER {
            write!(
                f,
                "order {} exceeds the largest block (order {MAX_ORDER})",
                self.order
            )
        } else {
            write!(f, "out of memory: no free block of order {}", self.order)
        }
    }
}

/// Why [`BuddyAllocator::free`] refused a block. The allocator's state is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// `order` exceeds [`MAX_ORDER`].
    BadOrder { order: u8 },
    /// The frame is outside this allocator's span.
    Foreign { pfn: Pfn },
    /// The frame number is not a multiple of `2^order`.
    Unaligned { pfn: Pfn, order: u8 },
    /// The frame is reserved: it was never handed out.
    NotAllocated { pfn: Pfn },
    /// The frame is already free (it heads or lies inside a free block).
    DoubleFree { pfn: Pfn },
    /// The frame lies inside an allocated block but does not start it.
    NotBlockStart { pfn: Pfn },
    /// The block was allocated with another order.
    WrongOrder { pfn: Pfn, order: u8, actual: u8 },
    /// The block still has more than one reference.
    Shared { pfn: Pfn, refcount: u32 },
}

impl fmt::Display for FreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FreeError::BadOrder { order } => {
                write!(f, "free: order {order} exceeds {MAX_ORDER}")
            }
            FreeError::Foreign { pfn } => write!(f, "free: {pfn} is not managed here"),
            FreeError::Unaligned { pfn, order } => {
                write!(f, "free: {pfn} is not aligned to order {order}")
            }
            FreeError::NotAllocated { pfn } => write!(f, "free: {pfn} is reserved"),
            FreeError::DoubleFree { pfn } => write!(f, "free: {pfn} is already free"),
            FreeError::NotBlockStart { pfn } => {
                write!(f, "free: {pfn} is inside an allocated block")
            }
            FreeError::WrongOrder { pfn, order, actual } => write!(
                f,
                "free: {pfn} was allocated with order {actual}, freed with {order}"
            ),
            FreeError::Shared { pfn, refcount } => {
                write!(f, "free: {pfn} still has {refcount} references")
            }
        }
    }
}

/// Why a reference-count operation was refused. The state is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefError {
    /// The frame is outside this allocator's span.
    Foreign { pfn: Pfn },
    /// The frame does not head an allocated block.
    NotAllocated { pfn: Pfn },
    /// The count would exceed `u32::MAX`.
    Overflow { pfn: Pfn },
    /// The count is already zero.
    Underflow { pfn: Pfn },
}

impl fmt::Display for RefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RefError::Foreign { pfn } => write!(f, "refcount: {pfn} is not managed here"),
            RefError::NotAllocated { pfn } => {
                write!(f, "refcount: {pfn} does not head an allocated block")
            }
            RefError::Overflow { pfn } => write!(f, "refcount: {pfn} would overflow"),
            RefError::Underflow { pfn } => write!(f, "refcount: {pfn} is already zero"),
        }
    }
}

/// Why [`BuddyAllocator::add_free_range`] refused a range. The state is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// Part of the range lies outside the span (or the range wraps).
    OutOfSpan { pfn: Pfn, count: u64 },
    /// This frame of the range is already managed (added before).
    NotReserved { pfn: Pfn },
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RangeError::OutOfSpan { pfn, count } => {
                write!(f, "add range: {count} frames at {pfn} leave the span")
            }
            RangeError::NotReserved { pfn } => write!(f, "add range: {pfn} is already managed"),
        }
    }
}

/// A snapshot of the allocator's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Free blocks of each order.
    pub free_blocks: [usize; ORDERS],
    /// Allocated blocks of each order.
    pub used_blocks: [usize; ORDERS],
    /// Frames in the span, managed or not.
    pub span_pages: usize,
}

impl Stats {
    /// Free frames in blocks of `order`.
    pub fn free_pages_at(&self, order: u8) -> usize {
        self.free_blocks.get(order as usize).copied().unwrap_or(0) << order
    }

    /// Allocated frames in blocks of `order`.
    pub fn used_pages_at(&self, order: u8) -> usize {
        self.used_blocks.get(order as usize).copied().unwrap_or(0) << order
    }

    pub fn free_pages(&self) -> usize {
        (0..=MAX_ORDER).map(|o| self.free_pages_at(o)).sum()
    }

    pub fn used_pages(&self) -> usize {
        (0..=MAX_ORDER).map(|o| self.used_pages_at(o)).sum()
    }

    /// Frames the allocator manages (free + used).
    pub fn managed_pages(&self) -> usize {
        self.free_pages() + self.used_pages()
    }

    /// The largest order with a free block, if any.
    pub fn largest_free_order(&self) -> Option<u8> {
        (0..=MAX_ORDER)
            .rev()
            .find(|&o| self.free_blocks[o as usize] > 0)
    }
}

/// A buddy allocator over the frames `base_pfn .. base_pfn + descs.len()`.
pub struct BuddyAllocator<'a> {
    descs: &'a mut [FrameDesc],
    base: u64,
    heads: [u32; ORDERS],
    free_blocks: [usize; ORDERS],
    used_blocks: [usize; ORDERS],
}

impl<'a> BuddyAllocator<'a> {
    /// An allocator for the span starting at `base_pfn`, one frame per descriptor, with
    /// every frame reserved. Descriptors beyond `u32::MAX - 1` (or beyond the end of the
    /// frame-number space) are ignored. Whatever the descriptors held is overwritten.
    pub fn new(descs: &'a mut [FrameDesc], base_pfn: u64) -> Self {
        let room = usize::try_from(u64::MAX - base_pfn).unwrap_or(usize::MAX);
        let len = descs.len().min(MAX_FRAMES).min(room);
        let descs = &mut descs[..len];
        descs.fill(FrameDesc::RESERVED);
        Self {
            descs,
            base: base_pfn,
            heads: [NIL; ORDERS],
            free_blocks: [0; ORDERS],
            used_blocks: [0; ORDERS],
        }
    }

    /// The first frame of the span.
    pub fn base(&self) -> Pfn {
        Pfn(self.base)
    }

    /// Frames in the span.
    pub fn span_len(&self) -> usize {
        self.descs.len()
    }

    /// Whether `pfn` lies in the span (managed or reserved).
    pub fn contains(&self, pfn: Pfn) -> bool {
        self.index(pfn).is_some()
    }

    /// Whether `pfn` lies in the span and is managed (free or allocated, not reserved).
    pub fn owns(&self, pfn: Pfn) -> bool {
        self.index(pfn)
            .is_some_and(|i| self.descs[i].state != FrameState::Reserved)
    }

    /// The descriptor of `pfn`, if it is in the span.
    pub fn desc(&self, pfn: Pfn) -> Option<&FrameDesc> {
        self.index(pfn).map(|i| &self.descs[i])
    }

    /// Makes `count` frames starting at `pfn` available, as the largest aligned blocks that
    /// fit, merged with free neighbours. Every frame must be in the span and reserved.
    pub fn add_free_range(&mut self, pfn: Pfn, count: u64) -> Result<(), RangeError> {
        if count == 0 {
            return Ok(());
        }
        let out = RangeError::OutOfSpan { pfn, count };
        let first = self.index(pfn).ok_or(out)?;
        let last = pfn
            .0
            .checked_add(count - 1)
            .and_then(|p| self.index(Pfn(p)))
            .ok_or(out)?;
        if let Some(i) = (first..=last).find(|&i| self.descs[i].state != FrameState::Reserved) {
            return Err(RangeError::NotReserved {
                pfn: self.pfn_of(i),
            });
        }
        for d in &mut self.descs[first..=last] {
            d.state = FrameState::Tail;
        }
        let (mut p, end) = (pfn.0, pfn.0 + count);
        while p < end {
            let fits = 63 - (end - p).leading_zeros();
            let order = (p.trailing_zeros().min(fits) as u8).min(MAX_ORDER);
            self.insert_free(p, order);
            p += 1 << order;
        }
        Ok(())
    }

    /// Allocates a block of `2^order` frames; its reference count starts at 1.
    pub fn alloc(&mut self, order: u8) -> Result<Pfn, OutOfMemory> {
        if order > MAX_ORDER {
            return Err(OutOfMemory { order });
        }
        let mut k = (order..=MAX_ORDER)
            .find(|&k| self.heads[k as usize] != NIL)
            .ok_or(OutOfMemory { order })?;
        let idx = self.heads[k as usize] as usize;
        self.unlink(idx, k);
        // Split: keep the lower half, put the upper half on the next list down.
        while k > order {
            k -= 1;
            self.push(idx + (1usize << k), k);
        }
        let d = &mut self.descs[idx];
        d.state = FrameState::Allocated;
        d.order = order;
        d.refcount = 1;
        d.heat = 0;
        self.used_blocks[order as usize] += 1;
        Ok(self.pfn_of(idx))
    }

    /// Allocates a run of `count` physically contiguous frames (`1..=2^MAX_ORDER`) as
    /// `count` separate order-0 blocks, each with reference count 1, so that each frame
    /// can be shared, mapped and freed on its own (`free(pfn, 0)`) while the run stays
    /// contiguous for whoever needs one slice of it (a tensor's memory). The run starts
    /// at a multiple of the next power of two above `count`; the rest of that block goes
    /// back to the free lists at once, so nothing beyond `count` frames is held.
    pub fn alloc_run(&mut self, count: u64) -> Result<Pfn, OutOfMemory> {
        if count == 0 || count > 1u64 << MAX_ORDER {
            return Err(OutOfMemory {
                order: MAX_ORDER.saturating_add(1),
            });
        }
        let order = (64 - (count - 1).leading_zeros()) as u8;
        let head = self.alloc(order)?;
        let idx = self.index(head).ok_or(OutOfMemory { order })?;
        self.used_blocks[order as usize] -= 1;
        for d in &mut self.descs[idx..idx + count as usize] {
            d.state = FrameState::Allocated;
            d.order = 0;
            d.refcount = 1;
            d.heat = 0;
        }
        self.used_blocks[0] += count as usize;
        // The unused end of the block: its frames are `Tail`, off every list.
        let (mut p, end) = (head.0 + count, head.0 + (1u64 << order));
        while p < end {
            let fits = 63 - (end - p).leading_zeros();
            let o = (p.trailing_zeros().min(fits) as u8).min(MAX_ORDER);
            self.insert_free(p, o);
            p += 1 << o;
        }
        Ok(head)
    }

    /// Frees the block of `2^order` frames at `pfn`, merging it with free buddies. The
    /// block must have been allocated with this order and hold at most one reference.
    pub fn free(&mut self, pfn: Pfn, order: u8) -> Result<(), FreeError> {
        if order > MAX_ORDER {
            return Err(FreeError::BadOrder { order });
        }
        let idx = self.index(pfn).ok_or(FreeError::Foreign { pfn })?;
        if !pfn.is_aligned(order) {
            return Err(FreeError::Unaligned { pfn, order });
        }
        let d = self.descs[idx];
        match d.state {
            FrameState::Reserved => return Err(FreeError::NotAllocated { pfn }),
            FrameState::Free => return Err(FreeError::DoubleFree { pfn }),
            FrameState::Tail => {
                return Err(match self.block_containing(pfn) {
                    Some((_, _, FrameState::Free)) => FreeError::DoubleFree { pfn },
                    Some(_) => FreeError::NotBlockStart { pfn },
                    None => FreeError::NotAllocated { pfn },
                });
            }
            FrameState::Allocated => {}
        }
        if d.order != order {
            return Err(FreeError::WrongOrder {
                pfn,
                order,
                actual: d.order,
            });
        }
        if d.refcount > 1 {
            return Err(FreeError::Shared {
                pfn,
                refcount: d.refcount,
            });
        }
        self.used_blocks[order as usize] -= 1;
        self.descs[idx].refcount = 0;
        self.descs[idx].state = FrameState::Tail;
        self.insert_free(pfn.0, order);
        Ok(())
    }

    /// The reference count of the allocated block headed by `pfn`.
    pub fn refcount(&self, pfn: Pfn) -> Result<u32, RefError> {
        let idx = self.allocated_head(pfn)?;
        Ok(self.descs[idx].refcount)
    }

    /// Adds a reference to the allocated block headed by `pfn`; returns the new count.
    pub fn inc_ref(&mut self, pfn: Pfn) -> Result<u32, RefError> {
        let idx = self.allocated_head(pfn)?;
        let d = &mut self.descs[idx];
        d.refcount = d
            .refcount
            .checked_add(1)
            .ok_or(RefError::Overflow { pfn })?;
        Ok(d.refcount)
    }

    /// Drops a reference to the allocated block headed by `pfn`; returns the new count.
    /// The block stays allocated at zero: the caller that sees 0 frees it.
    pub fn dec_ref(&mut self, pfn: Pfn) -> Result<u32, RefError> {
        let idx = self.allocated_head(pfn)?;
        let d = &mut self.descs[idx];
        d.refcount = d
            .refcount
            .checked_sub(1)
            .ok_or(RefError::Underflow { pfn })?;
        Ok(d.refcount)
    }

    /// The block holding `pfn`: its head, order and state (`Free` or `Allocated`); `None`
    /// for reserved frames and frames outside the span.
    pub fn block_containing(&self, pfn: Pfn) -> Option<(Pfn, u8, FrameState)> {
        self.index(pfn)?;
        (0..=MAX_ORDER).find_map(|k| {
            let head = Pfn(pfn.0 & !((1u64 << k) - 1));
            let d = self.descs[self.index(head)?];
            (d.is_head() && pfn.0 - head.0 < 1u64 << d.order).then_some((head, d.order, d.state))
        })
    }

    /// The heads of the free blocks of `order`, most recently freed first.
    pub fn free_blocks(&self, order: u8) -> FreeBlocks<'_> {
        FreeBlocks {
            descs: self.descs,
            base: self.base,
            next: self.heads.get(order as usize).copied().unwrap_or(NIL),
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            free_blocks: self.free_blocks,
            used_blocks: self.used_blocks,
            span_pages: self.descs.len(),
        }
    }

    /// Walks every list and descriptor and checks the invariants in the module docs (list
    /// links, states, alignment, counters, full coalescing). O(span); for tests and
    /// debugging.
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        for order in 0..=MAX_ORDER {
            let mut prev = NIL;
            let mut cur = self.heads[order as usize];
            let mut n = 0;
            while cur != NIL {
                let d = self
                    .descs
                    .get(cur as usize)
                    .ok_or("list link out of range")?;
                if d.prev != prev {
                    return Err("broken prev link");
                }
                if d.state != FrameState::Free || d.order != order {
                    return Err("a listed block is not a free head of that order");
                }
                n += 1;
                if n > self.descs.len() {
                    return Err("free list has a cycle");
                }
                prev = cur;
                cur = d.next;
            }
            if n != self.free_blocks[order as usize] {
                return Err("free block counter disagrees with the list");
            }
        }
        let mut used = [0usize; ORDERS];
        let mut i = 0;
        while i < self.descs.len() {
            let d = self.descs[i];
            match d.state {
                FrameState::Reserved => {
                    i += 1;
                    continue;
                }
                FrameState::Tail => return Err("a tail frame outside any block"),
                FrameState::Free | FrameState::Allocated => {}
            }
            let pfn = self.pfn_of(i);
            if d.order > MAX_ORDER || !pfn.is_aligned(d.order) {
                return Err("a block head is misaligned");
            }
            let size = 1usize << d.order;
            let tails = self
                .descs
                .get(i + 1..i + size)
                .ok_or("a block leaves the span")?;
            if tails.iter().any(|t| t.state != FrameState::Tail) {
                return Err("a block's frames are not all tails");
            }
            if d.state == FrameState::Allocated {
                used[d.order as usize] += 1;
            } else if d.order < MAX_ORDER {
                let buddy = self.index(Pfn(pfn.0 ^ (1u64 << d.order)));
                if buddy.is_some_and(|b| {
                    self.descs[b].state == FrameState::Free && self.descs[b].order == d.order
                }) {
                    return Err("two free buddies were not merged");
                }
            }
            i += size;
        }
        if used != self.used_blocks {
            return Err("used block counters disagree with the descriptors");
        }
        Ok(())
    }

    fn index(&self, pfn: Pfn) -> Option<usize> {
        let off = pfn.0.checked_sub(self.base)?;
        let off = usize::try_from(off).ok()?;
        (off < self.descs.len()).then_some(off)
    }

    fn pfn_of(&self, idx: usize) -> Pfn {
        Pfn(self.base + idx as u64)
    }

    /// The hotness byte of the allocated block headed by `pfn`.
    pub fn heat(&self, pfn: Pfn) -> Result<u8, RefError> {
        let idx = self.allocated_head(pfn)?;
        Ok(self.descs[idx].heat)
    }

    /// Sets the hotness byte of the allocated block headed by `pfn`.
    pub fn set_heat(&mut self, pfn: Pfn, heat: u8) -> Result<(), RefError> {
        let idx = self.allocated_head(pfn)?;
        self.descs[idx].heat = heat;
        Ok(())
    }

    fn allocated_head(&self, pfn: Pfn) -> Result<usize, RefError> {
        let idx = self.index(pfn).ok_or(RefError::Foreign { pfn })?;
        if self.descs[idx].state == FrameState::Allocated {
            Ok(idx)
        } else {
            Err(RefError::NotAllocated { pfn })
        }
    }

    /// Puts the block at `pfn` (whose frames are all `Tail` and off every list) on the free
    /// lists, merging it with its buddy as long as the buddy is a free block of the same
    /// order.
    fn insert_free(&mut self, mut pfn: u64, mut order: u8) {
        while order < MAX_ORDER {
            let buddy = pfn ^ (1u64 << order);
            let Some(b) = self.index(Pfn(buddy)) else {
                break;
            };
            let bd = self.descs[b];
            if bd.state != FrameState::Free || bd.order != order {
                break;
            }
            self.unlink(b, order);
            // The upper half stops being a head.
            self.descs[b].state = FrameState::Tail;
            pfn = pfn.min(buddy);
            order += 1;
        }
        let idx = self
            .index(Pfn(pfn))
            .expect("merged block stays in the span");
        self.push(idx, order);
    }

    /// Links the head `idx` onto the free list of `order` and marks it a free head.
    fn push(&mut self, idx: usize, order: u8) {
        let old = self.heads[order as usize];
        if old != NIL {
            self.descs[old as usize].prev = idx as u32;
        }
        let d = &mut self.descs[idx];
        d.next = old;
        d.prev = NIL;
        d.state = FrameState::Free;
        d.order = order;
        d.refcount = 0;
        self.heads[order as usize] = idx as u32;
        self.free_blocks[order as usize] += 1;
    }

    /// Takes the free head `idx` off the list of `order` (its state is left to the caller).
    fn unlink(&mut self, idx: usize, order: u8) {
        let FrameDesc { next, prev, .. } = self.descs[idx];
        if prev == NIL {
            self.heads[order as usize] = next;
        } else {
            self.descs[prev as usize].next = next;
        }
        if next != NIL {
            self.descs[next as usize].prev = prev;
        }
        let d = &mut self.descs[idx];
        d.next = NIL;
        d.prev = NIL;
        self.free_blocks[order as usize] -= 1;
    }
}

/// Iterator over the free blocks of one order; see [`BuddyAllocator::free_blocks`].
pub struct FreeBlocks<'b> {
    descs: &'b [FrameDesc],
    base: u64,
    next: u32,
}

impl Iterator for FreeBlocks<'_> {
    type Item = Pfn;

    fn next(&mut self) -> Option<Pfn> {
        let d = self.descs.get(self.next as usize)?;
        let pfn = Pfn(self.base + u64::from(self.next));
        self.next = d.next;
        Some(pfn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::vec;
    use std::vec::Vec;
    use wayos_testutil::XorShift;

    /// Every free block as `(pfn, order)`, sorted.
    fn free_set(b: &BuddyAllocator<'_>) -> BTreeSet<(u64, u8)> {
        (0..=MAX_ORDER)
            .flat_map(|o| b.free_blocks(o).map(move |p| (p.0, o)))
            .collect()
    }

    #[test]
    fn descriptor_is_16_bytes() {
        assert_eq!(core::mem::size_of::<FrameDesc>(), 16);
    }

    #[test]
    fn new_reserves_everything() {
        let mut descs = vec![FrameDesc::default(); 64];
        let b = BuddyAllocator::new(&mut descs, 100);
        let s = b.stats();
        assert_eq!((s.free_pages(), s.used_pages(), s.span_pages), (0, 0, 64));
        assert!(b.contains(Pfn(100)) && b.contains(Pfn(163)));
        assert!(!b.contains(Pfn(99)) && !b.contains(Pfn(164)));
        assert!(!b.owns(Pfn(100)));
        b.check_invariants().unwrap();
    }

    #[test]
    fn add_free_range_uses_maximal_aligned_blocks() {
        let mut descs = vec![FrameDesc::default(); 64];
        let mut b = BuddyAllocator::new(&mut descs, 0);
        // 3..45: 3(0) 4(2) 8(3) 16(4) 32(3) 40(2) 44(0)
        b.add_free_range(Pfn(3), 42).unwrap();
        let want: BTreeSet<(u64, u8)> =
            [(3, 0), (4, 2), (8, 3), (16, 4), (32, 3), (40, 2), (44, 0)]
                .into_iter()
                .collect();
        assert_eq!(free_set(&b), want);
        assert_eq!(b.stats().free_pages(), 42);
        b.check_invariants().unwrap();
        // Adding the neighbours merges everything into one order-6 block.
        b.add_free_range(Pfn(0), 3).unwrap();
        b.add_free_range(Pfn(45), 19).unwrap();
        assert_eq!(free_set(&b), [(0, 6)].into_iter().collect());
        b.check_invariants().unwrap();
    }

    #[test]
    fn add_free_range_rejects_overlap_and_out_of_span() {
        let mut descs = vec![FrameDesc::default(); 32];
        let mut b = BuddyAllocator::new(&mut descs, 32);
        b.add_free_range(Pfn(40), 8).unwrap();
        let before = free_set(&b);
        assert_eq!(
            b.add_free_range(Pfn(44), 8),
            Err(RangeError::NotReserved { pfn: Pfn(44) })
        );
        assert_eq!(
            b.add_free_range(Pfn(30), 4),
            Err(RangeError::OutOfSpan {
                pfn: Pfn(30),
                count: 4
            })
        );
        assert!(matches!(
            b.add_free_range(Pfn(60), 5),
            Err(RangeError::OutOfSpan { .. })
        ));
        assert!(matches!(
            b.add_free_range(Pfn(60), u64::MAX),
            Err(RangeError::OutOfSpan { .. })
        ));
        assert_eq!(free_set(&b), before);
        b.check_invariants().unwrap();
    }

    #[test]
    fn split_and_coalesce() {
        let mut descs = vec![FrameDesc::default(); 16];
        let mut b = BuddyAllocator::new(&mut descs, 16);
        b.add_free_range(Pfn(16), 16).unwrap();
        assert_eq!(free_set(&b), [(16, 4)].into_iter().collect());

        let a = b.alloc(0).unwrap();
        assert_eq!(a, Pfn(16));
        // One order-4 block split into 17(0) 18(1) 20(2) 24(3).
        assert_eq!(
            free_set(&b),
            [(17, 0), (18, 1), (20, 2), (24, 3)].into_iter().collect()
        );
        let s = b.stats();
        assert_eq!((s.free_pages(), s.used_pages()), (15, 1));
        assert_eq!(s.used_blocks[0], 1);
        b.check_invariants().unwrap();

        let c = b.alloc(2).unwrap();
        assert_eq!(c, Pfn(20));
        assert_eq!(b.stats().used_pages_at(2), 4);
        b.free(a, 0).unwrap();
        b.check_invariants().unwrap();
        // 16 merged with 17 and then 18..20 into an order-2 block at 16.
        assert_eq!(free_set(&b), [(16, 2), (24, 3)].into_iter().collect());
        b.free(c, 2).unwrap();
        assert_eq!(free_set(&b), [(16, 4)].into_iter().collect());
        let s = b.stats();
        assert_eq!((s.free_pages(), s.used_pages()), (16, 0));
        b.check_invariants().unwrap();
    }

    #[test]
    fn blocks_are_aligned_in_absolute_frame_numbers() {
        // A span starting at an odd frame: no block may straddle an alignment boundary.
        let mut descs = vec![FrameDesc::default(); 100];
        let mut b = BuddyAllocator::new(&mut descs, 1001);
        b.add_free_range(Pfn(1001), 100).unwrap();
        let p = b.alloc(5).unwrap();
        assert!(p.is_aligned(5));
        assert!(p.0 >= 1001 && p.0 + 32 <= 1101);
        b.check_invariants().unwrap();
    }

    #[test]
    fn exhaustion_is_an_error_and_recovers() {
        let mut descs = vec![FrameDesc::default(); 300];
        let mut b = BuddyAllocator::new(&mut descs, 0);
        b.add_free_range(Pfn(1), 150).unwrap();
        b.add_free_range(Pfn(200), 77).unwrap();
        let start = free_set(&b);
        let free = b.stats().free_pages();
        assert_eq!(free, 227);
        let mut got = Vec::new();
        while let Ok(p) = b.alloc(0) {
            got.push(p);
        }
        assert_eq!(got.len(), free);
        assert_eq!(b.alloc(0), Err(OutOfMemory { order: 0 }));
        assert_eq!(b.alloc(3), Err(OutOfMemory { order: 3 }));
        assert_eq!(b.stats().free_pages(), 0);
        let distinct: BTreeSet<u64> = got.iter().map(|p| p.0).collect();
        assert_eq!(distinct.len(), got.len());
        for p in got {
            b.free(p, 0).unwrap();
        }
        assert_eq!(free_set(&b), start);
        b.check_invariants().unwrap();
    }

    #[test]
    fn orders_beyond_max_are_refused() {
        let mut descs = vec![FrameDesc::default(); 8];
        let mut b = BuddyAllocator::new(&mut descs, 0);
        b.add_free_range(Pfn(0), 8).unwrap();
        assert_eq!(
            b.alloc(MAX_ORDER + 1),
            Err(OutOfMemory {
                order: MAX_ORDER + 1
            })
        );
        assert_eq!(b.alloc(200), Err(OutOfMemory { order: 200 }));
        assert_eq!(b.alloc(4), Err(OutOfMemory { order: 4 }));
        assert_eq!(
            b.free(Pfn(0), MAX_ORDER + 1),
            Err(FreeError::BadOrder {
                order: MAX_ORDER + 1
            })
        );
        b.check_invariants().unwrap();
    }

    #[test]
    fn bad_frees_are_errors_and_change_nothing() {
        let mut descs = vec![FrameDesc::default(); 64];
        let mut b = BuddyAllocator::new(&mut descs, 64);
        b.add_free_range(Pfn(64), 32).unwrap(); // 96..128 stays reserved
        let a = b.alloc(2).unwrap();
        let c = b.alloc(0).unwrap();
        let before_set = free_set(&b);
        let before = b.stats();

        let errs = [
            (b.free(Pfn(10), 0), FreeError::Foreign { pfn: Pfn(10) }),
            (b.free(Pfn(128), 0), FreeError::Foreign { pfn: Pfn(128) }),
            (
                b.free(Pfn(100), 0),
                FreeError::NotAllocated { pfn: Pfn(100) },
            ),
            (
                b.free(Pfn(a.0 + 1), 0),
                FreeError::NotBlockStart { pfn: Pfn(a.0 + 1) },
            ),
            (
                b.free(a, 1),
                FreeError::WrongOrder {
                    pfn: a,
                    order: 1,
                    actual: 2,
                },
            ),
            (
                b.free(a, 3),
                FreeError::WrongOrder {
                    pfn: a,
                    order: 3,
                    actual: 2,
                },
            ),
            (
                b.free(Pfn(a.0 + 2), 2),
                FreeError::Unaligned {
                    pfn: Pfn(a.0 + 2),
                    order: 2,
                },
            ),
        ];
        for (got, want) in errs {
            assert_eq!(got, Err(want));
        }
        // A free block's head and a frame inside a free block.
        let free_head = *before_set.iter().find(|(_, o)| *o >= 2).unwrap();
        assert_eq!(
            b.free(Pfn(free_head.0), free_head.1),
            Err(FreeError::DoubleFree {
                pfn: Pfn(free_head.0)
            })
        );
        assert_eq!(
            b.free(Pfn(free_head.0 + 1), 0),
            Err(FreeError::DoubleFree {
                pfn: Pfn(free_head.0 + 1)
            })
        );
        assert_eq!(free_set(&b), before_set);
        assert_eq!(b.stats(), before);
        b.check_invariants().unwrap();

        // A genuine double free: the second one is refused.
        b.free(c, 0).unwrap();
        assert_eq!(b.free(c, 0), Err(FreeError::DoubleFree { pfn: c }));
        b.free(a, 2).unwrap();
        assert_eq!(b.free(a, 2), Err(FreeError::DoubleFree { pfn: a }));
        assert_eq!(free_set(&b), [(64, 5)].into_iter().collect());
        b.check_invariants().unwrap();
    }

    #[test]
    fn refcounts_guard_shared_blocks() {
        let mut descs = vec![FrameDesc::default(); 16];
        let mut b = BuddyAllocator::new(&mut descs, 0);
        b.add_free_range(Pfn(0), 16).unwrap();
        let p = b.alloc(1).unwrap();
        assert_eq!(b.refcount(p), Ok(1));
        assert_eq!(b.inc_ref(p), Ok(2));
        assert_eq!(
            b.free(p, 1),
            Err(FreeError::Shared {
                pfn: p,
                refcount: 2
            })
        );
        assert_eq!(b.dec_ref(p), Ok(1));
        assert_eq!(b.dec_ref(p), Ok(0));
        assert_eq!(b.dec_ref(p), Err(RefError::Underflow { pfn: p }));
        b.free(p, 1).unwrap();
        assert_eq!(b.refcount(p), Err(RefError::NotAllocated { pfn: p }));
        assert_eq!(b.inc_ref(p), Err(RefError::NotAllocated { pfn: p }));
        assert_eq!(b.refcount(Pfn(99)), Err(RefError::Foreign { pfn: Pfn(99) }));
        let q = b.alloc(3).unwrap();
        assert_eq!(
            b.inc_ref(Pfn(q.0 + 1)),
            Err(RefError::NotAllocated { pfn: Pfn(q.0 + 1) })
        );
        b.check_invariants().unwrap();
    }

    #[test]
    fn block_containing_finds_heads() {
        let mut descs = vec![FrameDesc::default(); 32];
        let mut b = BuddyAllocator::new(&mut descs, 0);
        b.add_free_range(Pfn(0), 24).unwrap(); // 0(4) 16(3), 24.. reserved
        let p = b.alloc(2).unwrap();
        assert_eq!(p, Pfn(16));
        assert_eq!(
            b.block_containing(Pfn(19)),
            Some((Pfn(16), 2, FrameState::Allocated))
        );
        assert_eq!(
            b.block_containing(Pfn(13)),
            Some((Pfn(0), 4, FrameState::Free))
        );
        assert_eq!(
            b.block_containing(Pfn(21)),
            Some((Pfn(20), 2, FrameState::Free))
        );
        assert_eq!(b.block_containing(Pfn(25)), None);
        assert_eq!(b.block_containing(Pfn(40)), None);
    }

    /// The model: which frames are managed and which are handed out.
    struct Model {
        base: u64,
        managed: Vec<bool>,
        out: Vec<bool>,
    }

    impl Model {
        fn available(&self, i: usize) -> bool {
            self.managed[i] && !self.out[i]
        }

        /// Whether some `2^order`-aligned run of available frames exists in the span: with
        /// full coalescing, exactly when the allocator can satisfy `alloc(order)`.
        fn has_free_block(&self, order: u8) -> bool {
            let size = 1u64 << order;
            let first = self.base.next_multiple_of(size);
            let end = self.base + self.managed.len() as u64;
            (0..)
                .map(|k| first + k * size)
                .take_while(|&p| p + size <= end)
                .any(|p| {
                    let i = (p - self.base) as usize;
                    (i..i + size as usize).all(|j| self.available(j))
                })
        }
    }

    /// Mostly small blocks, now and then a large one.
    fn small_orders(rng: &mut XorShift) -> u8 {
        match rng.below(100) {
            0..=49 => 0,
            50..=69 => 1,
            70..=79 => 2,
            80..=89 => rng.below(5) as u8 + 3,
            90..=97 => rng.below(4) as u8 + 7,
            _ => rng.below(3) as u8 + 11,
        }
    }

    /// Large blocks up to `MAX_ORDER`, mixed with single frames that fragment them.
    fn large_orders(rng: &mut XorShift) -> u8 {
        match rng.below(100) {
            0..=39 => rng.below(3) as u8,
            _ => MAX_ORDER - rng.below(8) as u8,
        }
    }

    /// Runs `ops` random allocations (orders from `orders`) and frees against the model,
    /// then frees everything and checks the original block layout is back.
    fn randomized_run(
        seed: u64,
        base: u64,
        span: usize,
        ranges: &[(u64, u64)],
        ops: usize,
        orders: fn(&mut XorShift) -> u8,
    ) {
        let mut descs = vec![FrameDesc::default(); span];
        let mut b = BuddyAllocator::new(&mut descs, base);
        let mut model = Model {
            base,
            managed: vec![false; span],
            out: vec![false; span],
        };
        for &(p, n) in ranges {
            b.add_free_range(Pfn(p), n).unwrap();
            for i in p..p + n {
                model.managed[(i - base) as usize] = true;
            }
        }
        b.check_invariants().unwrap();
        let total = model.managed.iter().filter(|&&m| m).count();
        let start = free_set(&b);
        assert_eq!(b.stats().free_pages(), total);

        let mut rng = XorShift(seed);
        let mut live: Vec<(Pfn, u8)> = Vec::new();
        let (mut allocs, mut failures, mut frees) = (0, 0, 0);
        // Frames handed out, per the model (`out` recounted at the end).
        let mut used = 0usize;
        for step in 0..ops {
            if live.is_empty() || rng.below(100) < 55 {
                let order = orders(&mut rng);
                match b.alloc(order) {
                    Ok(p) => {
                        allocs += 1;
                        assert!(p.is_aligned(order), "{p} not aligned to order {order}");
                        let i = (p.0 - base) as usize;
                        for j in i..i + (1 << order) {
                            assert!(model.managed[j], "handed out an unmanaged frame");
                            assert!(!model.out[j], "handed out a frame twice");
                            model.out[j] = true;
                        }
                        used += 1 << order;
                        live.push((p, order));
                    }
                    Err(e) => {
                        failures += 1;
                        assert_eq!(e, OutOfMemory { order });
                        assert!(
                            !model.has_free_block(order),
                            "alloc({order}) failed with a free aligned block available"
                        );
                    }
                }
            } else {
                let (p, order) = live.swap_remove(rng.below(live.len() as u64) as usize);
                b.free(p, order).unwrap();
                frees += 1;
                let i = (p.0 - base) as usize;
                model.out[i..i + (1 << order)].fill(false);
                used -= 1 << order;
                // Freeing the same block again is refused.
                assert_eq!(b.free(p, order), Err(FreeError::DoubleFree { pfn: p }));
            }
            let s = b.stats();
            assert_eq!(s.used_pages(), used);
            assert_eq!(s.free_pages(), total - used);
            if step % 256 == 0 {
                b.check_invariants().unwrap();
            }
        }
        // The run must have exercised both success and exhaustion.
        assert!(
            allocs > ops / 4 && frees > ops / 4,
            "{allocs} allocs, {frees} frees"
        );
        assert!(failures > 0, "the run never hit an allocation failure");

        assert_eq!(used, model.out.iter().filter(|&&o| o).count());
        while let Some((p, order)) = live.pop() {
            b.free(p, order).unwrap();
        }
        b.check_invariants().unwrap();
        assert_eq!(b.stats().used_pages(), 0);
        assert_eq!(free_set(&b), start, "memory did not coalesce back");
    }

    #[test]
    fn randomized_against_model() {
        // An unaligned span with holes and odd-sized ranges.
        randomized_run(
            0x9e37_79b9_7f4a_7c15,
            0x1234,
            6000,
            &[(0x1234, 1000), (0x1700, 2048), (0x2000, 5), (0x2100, 1400)],
            20_000,
            small_orders,
        );
    }

    #[test]
    fn randomized_small_span_many_seeds() {
        for seed in 1..=8u64 {
            randomized_run(
                seed * 0x1000_0001,
                64,
                1024,
                &[(64, 512), (600, 488)],
                4000,
                small_orders,
            );
        }
    }

    #[test]
    fn randomized_large_blocks() {
        // Room for max-order blocks, so merges go all the way up.
        let span = 3usize << MAX_ORDER;
        let base = 1u64 << MAX_ORDER;
        randomized_run(
            7,
            base,
            span,
            &[(base + 1, span as u64 - 1)],
            2000,
            large_orders,
        );
    }

    #[test]
    fn alloc_run_is_contiguous_single_frames_and_frees_back() {
        let mut descs = vec![FrameDesc::default(); 1 << 12];
        let mut b = BuddyAllocator::new(&mut descs, 0);
        b.add_free_range(Pfn(0), 1 << 12).unwrap();
        let before = free_set(&b);
        for count in [1u64, 2, 3, 5, 100, 513, 1024] {
            let head = b.alloc_run(count).unwrap();
            b.check_invariants().unwrap();
            // Exactly `count` frames held, each its own order-0 block with one reference.
            assert_eq!(b.stats().used_pages(), count as usize);
            assert_eq!(b.stats().free_pages(), (1 << 12) - count as usize);
            for i in 0..count {
                assert_eq!(b.refcount(Pfn(head.0 + i)), Ok(1));
            }
            // A reference is per frame: the middle one can be shared without the others.
            if count > 2 {
                assert_eq!(b.inc_ref(Pfn(head.0 + 1)), Ok(2));
                assert_eq!(b.dec_ref(Pfn(head.0 + 1)), Ok(1));
            }
            for i in (0..count).rev() {
                b.free(Pfn(head.0 + i), 0).unwrap();
            }
            b.check_invariants().unwrap();
            // Everything merged back into the layout it had.
            assert_eq!(free_set(&b), before);
        }
    }

    #[test]
    fn alloc_run_refuses_bad_counts_and_changes_nothing() {
        let mut descs = vec![FrameDesc::default(); 64];
        let mut b = BuddyAllocator::new(&mut descs, 0);
        b.add_free_range(Pfn(0), 64).unwrap();
        let before = free_set(&b);
        assert!(b.alloc_run(0).is_err());
        assert!(b.alloc_run((1 << MAX_ORDER) + 1).is_err());
        assert!(b.alloc_run(65).is_err());
        assert_eq!(free_set(&b), before);
        b.check_invariants().unwrap();
    }
}
