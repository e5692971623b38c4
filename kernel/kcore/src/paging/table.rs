//! [`PageTable`], the walker over one tree of tables: map, unmap, protect, translate,
//! leaf iteration and teardown; [`PhysMem`], the table memory it works on; [`Leaf`] and
//! the errors it returns.
//!
//! Generic over [`PteFormat`], so one walk serves both ISAs. Must never allocate, use
//! `unsafe`, or free or replace an intermediate table of a live tree (see the module
//! docs of `paging`); user input never panics here.

use core::fmt;
use core::marker::PhantomData;

use super::{
    Decoded, Flush, PageSize, PhysAddr, PteFlags, PteFormat, VirtAddr, ENTRIES_PER_TABLE, HALF,
    KERNEL_HALF_FIRST_INDEX, LEVELS, LIN_TOP, PAGE_LEVEL,
};

/// Bytes one entry at `level` covers: 512 GiB at the root down to 4 KiB at level 3.
const fn entry_span_shift(level: usize) -> u32 {
    12 + 9 * (PAGE_LEVEL - level) as u32
}

/// The index of `lin` in a table at `level`.
const fn index_of(lin: u64, level: usize) -> usize {
    ((lin >> entry_span_shift(level)) & (ENTRIES_PER_TABLE as u64 - 1)) as usize
}

/// Access to page-table memory by physical address.
///
/// The kernel implements this over the direct map (volatile 8-byte accesses, so the
/// hardware walker sees each write whole) and the PMM; host tests over fake pages.
pub trait PhysMem {
    /// Entry `index` (< 512) of the table at `table`.
    fn read_entry(&self, table: PhysAddr, index: usize) -> u64;
    /// Stores entry `index` (< 512) of the table at `table`.
    fn write_entry(&mut self, table: PhysAddr, index: usize, value: u64);
    /// A zeroed, 4 KiB-aligned page for a new table, or `None` when memory is exhausted.
    fn alloc_table(&mut self) -> Option<PhysAddr>;
    /// Returns a table page from [`alloc_table`](Self::alloc_table).
    fn free_table(&mut self, table: PhysAddr);
}

/// One leaf found by iteration or teardown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub va: VirtAddr,
    pub pa: PhysAddr,
    pub size: PageSize,
    pub flags: PteFlags,
}

impl Leaf {
    /// One past the last byte; `VirtAddr::new(0)` for the last page of the address space.
    pub fn end(&self) -> VirtAddr {
        self.va.wrapping_add(self.size.bytes())
    }
}

/// Why [`PageTable::map`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The virtual address is not canonical.
    NonCanonical,
    /// The virtual or physical address is not aligned to the page size.
    Misaligned,
    /// The physical address does not fit the format's descriptors.
    PhysOutOfRange,
    /// DEVICE and NOCACHE together.
    InvalidFlags,
    /// The slot already holds a leaf of this size, or a table (possibly empty: tables are
    /// reclaimed only at teardown) where a 2 MiB / 1 GiB leaf was asked for.
    AlreadyMapped,
    /// A larger leaf already maps this address; it is left untouched.
    InsideLargePage { base: VirtAddr, size: PageSize },
    /// [`PhysMem::alloc_table`] failed. Tables allocated on the way stay linked (empty);
    /// teardown reclaims them.
    OutOfMemory,
}

/// Why [`PageTable::unmap`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnmapError {
    NonCanonical,
    /// The address is not 4 KiB-aligned.
    Misaligned,
    /// Nothing maps this address.
    NotMapped,
    /// A larger leaf maps this address but does not start here; it is left untouched.
    InsideLargePage {
        base: VirtAddr,
        size: PageSize,
    },
}

/// Why [`PageTable::protect`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtectError {
    NonCanonical,
    /// The address is not 4 KiB-aligned.
    Misaligned,
    /// DEVICE and NOCACHE together.
    InvalidFlags,
    /// Nothing maps this address.
    NotMapped,
    /// A larger leaf maps this address but does not start here; it is left untouched.
    InsideLargePage {
        base: VirtAddr,
        size: PageSize,
    },
    /// The new flags change DEVICE/NOCACHE. aarch64 needs break-before-make for a memory
    /// type change of a live mapping: unmap, flush, then map.
    MemoryTypeChange,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::NonCanonical => f.write_str("map: non-canonical virtual address"),
            MapError::Misaligned => f.write_str("map: address not aligned to the page size"),
            MapError::PhysOutOfRange => f.write_str("map: physical address out of range"),
            MapError::InvalidFlags => f.write_str("map: DEVICE and NOCACHE together"),
            MapError::AlreadyMapped => f.write_str("map: address already mapped"),
            MapError::InsideLargePage { base, size } => {
                write!(f, "map: inside the {size:?} page at {base:#x}")
            }
            MapError::OutOfMemory => f.write_str("map: out of memory for page tables"),
        }
    }
}

impl fmt::Display for UnmapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnmapError::NonCanonical => f.write_str("unmap: non-canonical virtual address"),
            UnmapError::Misaligned => f.write_str("unmap: address not page-aligned"),
            UnmapError::NotMapped => f.write_str("unmap: address not mapped"),
            UnmapError::InsideLargePage { base, size } => {
                write!(f, "unmap: inside the {size:?} page at {base:#x}")
            }
        }
    }
}

impl fmt::Display for ProtectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtectError::NonCanonical => f.write_str("protect: non-canonical virtual address"),
            ProtectError::Misaligned => f.write_str("protect: address not page-aligned"),
            ProtectError::InvalidFlags => f.write_str("protect: DEVICE and NOCACHE together"),
            ProtectError::NotMapped => f.write_str("protect: address not mapped"),
            ProtectError::InsideLargePage { base, size } => {
                write!(f, "protect: inside the {size:?} page at {base:#x}")
            }
            ProtectError::MemoryTypeChange => {
                f.write_str("protect: memory type changes need unmap + map")
            }
        }
    }
}

/// A leaf located by a walk: where its entry lives and what it maps.
struct Found {
    table: PhysAddr,
    index: usize,
    base: VirtAddr,
    pa: PhysAddr,
    flags: PteFlags,
    size: PageSize,
}

/// One tree of page tables, identified by its root.
///
/// The value does not own the memory in the Rust sense (it is a physical address); the
/// caller serializes all changes to one tree (the address-space lock) and passes the same
/// [`PhysMem`] to every call. Mappings in either half may be made through any root; on
/// aarch64 the hardware walks only the lower half of a TTBR0 root and the upper half of
/// the TTBR1 root, with the same indices (VA bits 47:39) as here.
pub struct PageTable<F: PteFormat> {
    root: PhysAddr,
    _format: PhantomData<fn() -> F>,
}

impl<F: PteFormat> fmt::Debug for PageTable<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageTable<{}>({:#x})", F::NAME, self.root.as_u64())
    }
}

impl<F: PteFormat> PageTable<F> {
    /// An empty tree: one zeroed root.
    pub fn new<M: PhysMem + ?Sized>(mem: &mut M) -> Option<Self> {
        Some(Self::from_root(mem.alloc_table()?))
    }

    /// A tree for a new address space. When the format keeps both halves in one root
    /// ([`PteFormat::SHARES_KERNEL_HALF_IN_ROOT`], x86_64), root entries 256..512 are
    /// copied from `kernel_root`, so the new space shares the kernel's level 1 tables
    /// (call [`populate_kernel_half`](Self::populate_kernel_half) on the kernel root
    /// first, so no upper root entry is added later). Otherwise (aarch64, where the kernel
    /// half is TTBR1's) the root starts empty and `kernel_root` is not read.
    pub fn new_with_kernel_half<M: PhysMem + ?Sized>(
        mem: &mut M,
        kernel_root: PhysAddr,
    ) -> Option<Self> {
        let pt = Self::new(mem)?;
        if F::SHARES_KERNEL_HALF_IN_ROOT {
            for i in KERNEL_HALF_FIRST_INDEX..ENTRIES_PER_TABLE {
                let e = mem.read_entry(kernel_root, i);
                mem.write_entry(pt.root, i, e);
            }
        }
        Some(pt)
    }

    /// Adopts an existing tree (the boot tables, the kernel root).
    pub const fn from_root(root: PhysAddr) -> Self {
        PageTable {
            root,
            _format: PhantomData,
        }
    }

    /// The root's physical address: what CR3 / TTBRn_EL1 receive.
    pub const fn root(&self) -> PhysAddr {
        self.root
    }

    /// Gives every empty upper-half root entry a level 1 table, so that copies made by
    /// [`new_with_kernel_half`](Self::new_with_kernel_half) see every later kernel
    /// mapping (x86_64: 256 tables, 1 MiB, once at boot). A no-op when the format keeps the
    /// kernel half in a root of its own.
    pub fn populate_kernel_half<M: PhysMem + ?Sized>(
        &mut self,
        mem: &mut M,
    ) -> Result<(), MapError> {
        if !F::SHARES_KERNEL_HALF_IN_ROOT {
            return Ok(());
        }
        for i in KERNEL_HALF_FIRST_INDEX..ENTRIES_PER_TABLE {
            if F::decode(mem.read_entry(self.root, i), 0) == Decoded::Invalid {
                let t = mem.alloc_table().ok_or(MapError::OutOfMemory)?;
                mem.write_entry(self.root, i, F::table(t));
            }
        }
        Ok(())
    }

    /// Maps `va` to `pa` as one leaf of `size`, allocating intermediate tables.
    /// Never overwrites: see [`MapError`].
    pub fn map<M: PhysMem + ?Sized>(
        &mut self,
        mem: &mut M,
        va: VirtAddr,
        pa: PhysAddr,
        size: PageSize,
        flags: PteFlags,
    ) -> Result<Flush, MapError> {
        if !va.is_canonical() {
            return Err(MapError::NonCanonical);
        }
        if !va.is_aligned(size) || !pa.is_aligned(size) {
            return Err(MapError::Misaligned);
        }
        if pa.as_u64() >> F::PHYS_ADDR_BITS != 0 {
            return Err(MapError::PhysOutOfRange);
        }
        if !flags.is_valid() {
            return Err(MapError::InvalidFlags);
        }
        let lin = va.lin();
        let target = size.leaf_level();
        let mut table = self.root;
        for level in 0..target {
            let i = index_of(lin, level);
            table = match F::decode(mem.read_entry(table, i), level) {
                Decoded::Table(next) => next,
                Decoded::Invalid => {
                    let next = mem.alloc_table().ok_or(MapError::OutOfMemory)?;
                    mem.write_entry(table, i, F::table(next));
                    next
                }
                Decoded::Leaf { size: big, .. } => {
                    return Err(MapError::InsideLargePage {
                        base: va.align_down(big),
                        size: big,
                    })
                }
            };
        }
        let i = index_of(lin, target);
        if F::decode(mem.read_entry(table, i), target) != Decoded::Invalid {
            return Err(MapError::AlreadyMapped);
        }
        mem.write_entry(table, i, F::leaf(pa, flags, size));
        Ok(Flush::new(va, size, false))
    }

    /// Removes the leaf that starts at `va`, returning what it mapped.
    pub fn unmap<M: PhysMem + ?Sized>(
        &mut self,
        mem: &mut M,
        va: VirtAddr,
    ) -> Result<(PhysAddr, PageSize, PteFlags, Flush), UnmapError> {
        if !va.is_canonical() {
            return Err(UnmapError::NonCanonical);
        }
        if !va.is_aligned(PageSize::Size4K) {
            return Err(UnmapError::Misaligned);
        }
        let found = self.find(mem, va).ok_or(UnmapError::NotMapped)?;
        if found.base != va {
            return Err(UnmapError::InsideLargePage {
                base: found.base,
                size: found.size,
            });
        }
        mem.write_entry(found.table, found.index, 0);
        Ok((
            found.pa,
            found.size,
            found.flags,
            Flush::new(va, found.size, true),
        ))
    }

    /// Replaces the flags of the leaf that starts at `va`, keeping its address and size.
    /// The memory type (DEVICE / NOCACHE) cannot change here.
    pub fn protect<M: PhysMem + ?Sized>(
        &mut self,
        mem: &mut M,
        va: VirtAddr,
        flags: PteFlags,
    ) -> Result<Flush, ProtectError> {
        if !va.is_canonical() {
            return Err(ProtectError::NonCanonical);
        }
        if !va.is_aligned(PageSize::Size4K) {
            return Err(ProtectError::Misaligned);
        }
        if !flags.is_valid() {
            return Err(ProtectError::InvalidFlags);
        }
        let found = self.find(mem, va).ok_or(ProtectError::NotMapped)?;
        if found.base != va {
            return Err(ProtectError::InsideLargePage {
                base: found.base,
                size: found.size,
            });
        }
        if found.flags.memory_type() != flags.memory_type() {
            return Err(ProtectError::MemoryTypeChange);
        }
        mem.write_entry(
            found.table,
            found.index,
            F::leaf(found.pa, flags, found.size),
        );
        Ok(Flush::new(va, found.size, true))
    }

    /// Reads and clears the accessed bit of the 4 KiB leaf at `va`: `None` when no such
    /// leaf is there, else whether it was set and, when it was, the flush that makes the
    /// CPUs notice the next access (x86_64 sets A only on a walk, so a cached translation
    /// would hide the access; aarch64 faults on a cleared AF only once the old entry is
    /// gone from the TLB).
    pub fn take_accessed<M: PhysMem + ?Sized>(
        &mut self,
        mem: &mut M,
        va: VirtAddr,
    ) -> Option<(bool, Option<Flush>)> {
        if !va.is_canonical() {
            return None;
        }
        let found = self.find(mem, va)?;
        if found.size != PageSize::Size4K {
            return None;
        }
        let raw = mem.read_entry(found.table, found.index);
        if !F::accessed(raw) {
            return Some((false, None));
        }
        mem.write_entry(found.table, found.index, F::with_accessed(raw, false));
        Some((true, Some(Flush::new(found.base, found.size, true))))
    }

    /// Sets the accessed bit of the leaf covering `va`; true when it was clear (the
    /// access-flag fault that a cleared AF causes on aarch64). Setting a bit the
    /// hardware may cache as clear needs no flush: the old entry only faults again.
    pub fn mark_accessed<M: PhysMem + ?Sized>(&mut self, mem: &mut M, va: VirtAddr) -> bool {
        if !va.is_canonical() {
            return false;
        }
        let Some(found) = self.find(mem, va) else {
            return false;
        };
        let raw = mem.read_entry(found.table, found.index);
        if F::accessed(raw) {
            return false;
        }
        mem.write_entry(found.table, found.index, F::with_accessed(raw, true));
        true
    }

    /// Removes every leaf that starts in `[from, end)` (the range rules of
    /// [`next_leaf`](Self::next_leaf)) and hands each to `visit` with its flush. Only
    /// tables that exist are walked, so the cost is what is mapped in the range, not its
    /// length: `munmap` of a huge, mostly empty range is cheap. A large leaf that starts
    /// before `from` stays.
    pub fn unmap_range<M: PhysMem + ?Sized>(
        &mut self,
        mem: &mut M,
        from: VirtAddr,
        end: VirtAddr,
        mut visit: impl FnMut(Leaf, Flush),
    ) {
        let (start, stop) = lin_range(from, end);
        let mut next = start;
        while let Some(leaf) = self.next_leaf_lin(mem, next, stop) {
            let lin = leaf.va.lin();
            next = lin + leaf.size.bytes();
            if lin < start {
                continue;
            }
            if let Ok((_, _, _, flush)) = self.unmap(mem, leaf.va) {
                visit(leaf, flush);
            }
        }
    }

    /// Gives every leaf that starts in `[from, end)` the flags `flags` returns for it
    /// (`None`: leave it), handing each change's flush to `visit`. Walks only tables
    /// that exist, like [`unmap_range`](Self::unmap_range). A change `protect` refuses
    /// (invalid flags, a memory-type change) leaves that leaf as it was.
    pub fn protect_range<M: PhysMem + ?Sized>(
        &mut self,
        mem: &mut M,
        from: VirtAddr,
        end: VirtAddr,
        mut flags: impl FnMut(&Leaf) -> Option<PteFlags>,
        mut visit: impl FnMut(Flush),
    ) {
        let (start, stop) = lin_range(from, end);
        let mut next = start;
        while let Some(leaf) = self.next_leaf_lin(mem, next, stop) {
            let lin = leaf.va.lin();
            next = lin + leaf.size.bytes();
            if lin < start {
                continue;
            }
            if let Some(f) = flags(&leaf) {
                if let Ok(flush) = self.protect(mem, leaf.va, f) {
                    visit(flush);
                }
            }
        }
    }

    /// What `va` (any address inside a leaf) translates to: the physical address with the
    /// offset applied, the leaf's flags and size. `None` if unmapped or non-canonical.
    pub fn translate<M: PhysMem + ?Sized>(
        &self,
        mem: &M,
        va: VirtAddr,
    ) -> Option<(PhysAddr, PteFlags, PageSize)> {
        if !va.is_canonical() {
            return None;
        }
        let found = self.find(mem, va)?;
        let offset = va.as_u64() & found.size.offset_mask();
        Some((found.pa + offset, found.flags, found.size))
    }

    /// The first leaf, in address order, that intersects `[from, end)` (a large leaf may
    /// start before `from`). Ranges never cross between halves: `end` is clipped to the
    /// end of `from`'s half, and `end == VirtAddr::new(0)` means that end (the top of the
    /// address space for kernel addresses). An `end` at or below `from`, or a
    /// non-canonical `from`, is an empty range.
    ///
    /// Meant for loops that change tables between steps (fork copying the parent's user
    /// half): continue from `leaf.end()`.
    pub fn next_leaf<M: PhysMem + ?Sized>(
        &self,
        mem: &M,
        from: VirtAddr,
        end: VirtAddr,
    ) -> Option<Leaf> {
        let (start, stop) = lin_range(from, end);
        self.next_leaf_lin(mem, start, stop)
    }

    /// Iterates the leaves intersecting `[from, end)` in address order, with the range
    /// rules of [`next_leaf`](Self::next_leaf).
    pub fn leaves<'a, M: PhysMem + ?Sized>(
        &'a self,
        mem: &'a M,
        from: VirtAddr,
        end: VirtAddr,
    ) -> Leaves<'a, F, M> {
        let (next, stop) = lin_range(from, end);
        Leaves {
            table: self,
            mem,
            next,
            stop,
        }
    }

    /// Tears down the lower (user) half: reports every leaf to `visit` (so the caller can
    /// drop frame references), returns every user-half table to `mem` and clears root
    /// entries 0..256. The root and the kernel half stay; the tree can be reused (exec).
    ///
    /// The caller guarantees no CPU walks this tree's user half any more and that its
    /// TLB/ASID entries are invalidated before the freed tables are reused.
    pub fn free_user_half<M: PhysMem + ?Sized>(
        &mut self,
        mem: &mut M,
        mut visit: impl FnMut(Leaf),
    ) {
        for i in 0..KERNEL_HALF_FIRST_INDEX {
            let raw = mem.read_entry(self.root, i);
            if raw == 0 {
                continue;
            }
            let base = (i as u64) << entry_span_shift(0);
            match F::decode(raw, 0) {
                Decoded::Table(t) => free_subtree::<F, M, _>(mem, t, 1, base, &mut visit),
                Decoded::Leaf { pa, flags, size } => visit(Leaf {
                    va: VirtAddr::from_lin(base),
                    pa,
                    size,
                    flags,
                }),
                Decoded::Invalid => {}
            }
            mem.write_entry(self.root, i, 0);
        }
    }

    /// [`free_user_half`](Self::free_user_half), then frees the root. The kernel half's
    /// tables are shared (x86_64) or absent (aarch64), so they are never freed here.
    pub fn destroy<M: PhysMem + ?Sized>(mut self, mem: &mut M, visit: impl FnMut(Leaf)) {
        self.free_user_half(mem, visit);
        mem.free_table(self.root);
    }

    /// Walks to the leaf covering `va` (canonical).
    fn find<M: PhysMem + ?Sized>(&self, mem: &M, va: VirtAddr) -> Option<Found> {
        let lin = va.lin();
        let mut table = self.root;
        for level in 0..LEVELS {
            let index = index_of(lin, level);
            match F::decode(mem.read_entry(table, index), level) {
                Decoded::Invalid => return None,
                Decoded::Table(next) if level < PAGE_LEVEL => table = next,
                Decoded::Table(_) => return None,
                Decoded::Leaf { pa, flags, size } => {
                    return Some(Found {
                        table,
                        index,
                        base: va.align_down(size),
                        pa,
                        flags,
                        size,
                    })
                }
            }
        }
        None
    }

    fn next_leaf_lin<M: PhysMem + ?Sized>(&self, mem: &M, from: u64, stop: u64) -> Option<Leaf> {
        if from >= stop {
            return None;
        }
        find_from::<F, M>(mem, self.root, 0, 0, from, stop)
    }
}

/// `[from, end)` as linear offsets, clipped to `from`'s half (see [`PageTable::next_leaf`]).
fn lin_range(from: VirtAddr, end: VirtAddr) -> (u64, u64) {
    if !from.is_canonical() {
        return (0, 0);
    }
    let start = from.lin();
    let half_end = if start < HALF { HALF } else { LIN_TOP };
    let stop = if end.as_u64() == 0 {
        half_end
    } else if end.as_u64() <= from.as_u64() {
        start
    } else if start < HALF {
        end.as_u64().min(HALF)
    } else {
        // end > from >= KERNEL_START: canonical and in the same half.
        end.lin()
    };
    (start, stop)
}

/// The first leaf intersecting `[from, stop)` under the table at `level` covering linear
/// addresses from `base`.
fn find_from<F: PteFormat, M: PhysMem + ?Sized>(
    mem: &M,
    table: PhysAddr,
    level: usize,
    base: u64,
    from: u64,
    stop: u64,
) -> Option<Leaf> {
    let shift = entry_span_shift(level);
    let first = if from > base {
        ((from - base) >> shift) as usize
    } else {
        0
    };
    for i in first..ENTRIES_PER_TABLE {
        let slot = base + ((i as u64) << shift);
        if slot >= stop {
            break;
        }
        match F::decode(mem.read_entry(table, i), level) {
            Decoded::Invalid => {}
            Decoded::Table(next) => {
                if level < PAGE_LEVEL {
                    if let Some(leaf) = find_from::<F, M>(mem, next, level + 1, slot, from, stop) {
                        return Some(leaf);
                    }
                }
            }
            Decoded::Leaf { pa, flags, size } => {
                return Some(Leaf {
                    va: VirtAddr::from_lin(slot),
                    pa,
                    size,
                    flags,
                })
            }
        }
    }
    None
}

/// Reports the leaves under the table at `level` (covering linear addresses from `base`),
/// then frees it and every table below it.
fn free_subtree<F: PteFormat, M: PhysMem + ?Sized, V: FnMut(Leaf)>(
    mem: &mut M,
    table: PhysAddr,
    level: usize,
    base: u64,
    visit: &mut V,
) {
    let shift = entry_span_shift(level);
    for i in 0..ENTRIES_PER_TABLE {
        let raw = mem.read_entry(table, i);
        if raw == 0 {
            continue;
        }
        let slot = base + ((i as u64) << shift);
        match F::decode(raw, level) {
            Decoded::Table(next) if level < PAGE_LEVEL => {
                free_subtree::<F, M, V>(mem, next, level + 1, slot, visit)
            }
            Decoded::Leaf { pa, flags, size } => visit(Leaf {
                va: VirtAddr::from_lin(slot),
                pa,
                size,
                flags,
            }),
            _ => {}
        }
    }
    mem.free_table(table);
}

/// Iterator over the leaves of a range: see [`PageTable::leaves`].
pub struct Leaves<'a, F: PteFormat, M: PhysMem + ?Sized> {
    table: &'a PageTable<F>,
    mem: &'a M,
    next: u64,
    stop: u64,
}

impl<F: PteFormat, M: PhysMem + ?Sized> Iterator for Leaves<'_, F, M> {
    type Item = Leaf;

    fn next(&mut self) -> Option<Leaf> {
        let leaf = self.table.next_leaf_lin(self.mem, self.next, self.stop)?;
        // Continue after the leaf; `stop` is at most LIN_TOP, so this cannot wrap past it.
        self.next = leaf.va.lin() + leaf.size.bytes();
        Some(leaf)
    }
}

#[cfg(test)]
mod tests;
