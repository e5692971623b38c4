//! The virtual memory areas of one user address space: an ordered map with POSIX
//! `mmap`/`munmap`/`mprotect` semantics, as pure bookkeeping.
//!
//! This module owns *which* address ranges are mapped and with what attributes. It never
//! touches page tables, frames or hardware: every operation returns what changed (the ranges
//! a `MAP_FIXED` replaced, the ranges `munmap` removed, the ranges `mprotect` changed) and
//! the kernel applies that to the page table and frame refcounts. An operation that fails
//! leaves the map exactly as it was; a failure is never half applied.
//!
//! # Invariants
//!
//! [`VmaMap::check_invariants`] asserts all of them; the tests call it after every step.
//!
//! 1. VMAs are keyed by their start and sorted; they never overlap.
//! 2. Every VMA is non-empty and page aligned at both ends.
//! 3. Every VMA lies inside the user window `[base, end)` given at construction.
//! 4. A [`VmaKind::Guard`] VMA is always [`Prot::NONE`]; a [`VmaKind::Shared`] offset is page
//!    aligned and `offset + len` does not overflow.
//! 5. No two adjacent VMAs could be merged (see [`Vma::can_merge`]): every operation merges
//!    what it made adjacent, so the map stays as small as the layout allows.
//!
//! # Design choices
//!
//! - **Search direction**: top-down, as Linux does. The allocator takes the highest gap that
//!   ends at or below the mmap base ([`VmaMap::set_mmap_base`], default: the window end),
//!   and only when nothing fits there the highest gap anywhere in the window.
//! - **Guard pages** are VMAs of their own, [`VmaKind::Guard`], always `PROT_NONE` and never
//!   backed. A guard reserves address space (the allocator skips it), a fault in it can be
//!   reported as a stack overflow because [`VmaMap::lookup`] names it, and `mprotect` treats
//!   it as unmapped (`ENOMEM`), as Linux treats its stack guard gap. `munmap` and `MAP_FIXED`
//!   remove a guard like any other VMA. [`VmaMap::mmap_stack`] maps a stack and its guard in
//!   one step.
//! - **Merging**: adjacent VMAs with the same protection, tag and a compatible kind (private
//!   anonymous with private anonymous, stack with stack, guard with guard, the same shared
//!   object at contiguous offsets) are merged after every operation. Shared anonymous VMAs
//!   are never merged: each `mmap` call gets its own backing object in the kernel.
//! - **Cost**: placement walks the gaps linearly. Address spaces hold tens of VMAs, not
//!   thousands; a gap-augmented tree can replace the walk without changing this interface.
//!
//! # Errors
//!
//! [`VmError`] names the reason; [`VmError::errno`] gives the POSIX error (`EINVAL`,
//! `ENOMEM`, `EEXIST`) from `wayos-abi`, which is the single source of the numbers.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;
use core::ops::{BitOr, BitOrAssign, Bound};

use wayos_abi::{errno, mman};

/// The page size every address and length here is measured in.
pub const PAGE_SIZE: u64 = mman::PAGE_SIZE as u64;
const PAGE_MASK: u64 = PAGE_SIZE - 1;

const fn is_aligned(x: u64) -> bool {
    x & PAGE_MASK == 0
}

/// `len` rounded up to whole pages, or `None` when that overflows.
const fn round_up(len: u64) -> Option<u64> {
    match len.checked_add(PAGE_MASK) {
        Some(v) => Some(v & !PAGE_MASK),
        None => None,
    }
}

/// Memory protection: a set of `READ`, `WRITE`, `EXEC`; empty is `PROT_NONE`.
///
/// The bits are the `PROT_*` values of `wayos_abi::mman`, so a syscall argument converts
/// with [`Prot::from_bits`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Prot(u8);

impl Prot {
    pub const NONE: Prot = Prot(mman::PROT_NONE as u8);
    pub const READ: Prot = Prot(mman::PROT_READ as u8);
    pub const WRITE: Prot = Prot(mman::PROT_WRITE as u8);
    pub const EXEC: Prot = Prot(mman::PROT_EXEC as u8);
    const ALL: usize = mman::PROT_READ | mman::PROT_WRITE | mman::PROT_EXEC;

    /// The protection for a `prot` syscall argument; `None` if it has unknown bits.
    pub const fn from_bits(bits: usize) -> Option<Prot> {
        if bits & !Self::ALL != 0 {
            None
        } else {
            Some(Prot(bits as u8))
        }
    }

    pub const fn bits(self) -> usize {
        self.0 as usize
    }

    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: Prot) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: Prot) -> Prot {
        Prot(self.0 | other.0)
    }

    pub const fn is_none(self) -> bool {
        self.0 == 0
    }

    /// True for a protection W^X forbids: writable and executable at once. The address
    /// space refuses it everywhere (mmap, mprotect, program segments) with `EACCES`.
    pub const fn is_write_exec(self) -> bool {
        self.contains(Prot::WRITE.union(Prot::EXEC))
    }
}

impl BitOr for Prot {
    type Output = Prot;
    fn bitor(self, rhs: Prot) -> Prot {
        self.union(rhs)
    }
}

impl BitOrAssign for Prot {
    fn bitor_assign(&mut self, rhs: Prot) {
        *self = self.union(rhs);
    }
}

/// `rwx` style, `-` for a missing bit, as in `/proc/self/maps`.
impl fmt::Display for Prot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bit = |p: Prot, c: char| if self.contains(p) { c } else { '-' };
        write!(
            f,
            "{}{}{}",
            bit(Prot::READ, 'r'),
            bit(Prot::WRITE, 'w'),
            bit(Prot::EXEC, 'x')
        )
    }
}

impl fmt::Debug for Prot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prot({self})")
    }
}

/// A half-open, page-aligned address range `[start, end)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

impl Range {
    pub const fn new(start: u64, end: u64) -> Range {
        Range { start, end }
    }

    /// Length in bytes.
    pub const fn len(&self) -> u64 {
        self.end - self.start
    }

    pub const fn is_empty(&self) -> bool {
        self.start >= self.end
    }

    /// Length in pages.
    pub const fn pages(&self) -> u64 {
        self.len() / PAGE_SIZE
    }

    pub const fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }
}

impl fmt::Debug for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}..{:#x}", self.start, self.end)
    }
}

/// What backs a VMA, which decides how the kernel faults it in and what fork does with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaKind {
    /// Demand-zero memory. Private (`shared: false`) is copy-on-write across fork; shared
    /// (`MAP_SHARED | MAP_ANONYMOUS`) stays shared with the child.
    Anonymous { shared: bool },
    /// A window onto shared memory object `object` (a kernel id) from byte `offset` of it;
    /// shared across fork. Splitting a VMA advances the right piece's offset.
    Shared { object: u64, offset: u64 },
    /// A user stack: private demand-zero memory, named so fault messages can say "stack".
    Stack,
    /// Reserved, never backed, always `PROT_NONE`; a fault here is a stack overflow.
    Guard,
}

impl VmaKind {
    /// True when fork shares the pages instead of copying them on write.
    pub const fn is_shared(&self) -> bool {
        matches!(
            self,
            VmaKind::Anonymous { shared: true } | VmaKind::Shared { .. }
        )
    }

    /// This kind `by` bytes further into the mapping (the right piece of a split).
    const fn advanced(self, by: u64) -> VmaKind {
        match self {
            VmaKind::Shared { object, offset } => VmaKind::Shared {
                object,
                offset: offset + by,
            },
            other => other,
        }
    }
}

/// One virtual memory area: a page-aligned range with uniform attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub prot: Prot,
    pub kind: VmaKind,
    /// A name for debugging (`"heap"`, `"stack"`, `"mmap"`); only equal tags merge.
    pub tag: &'static str,
    /// The mapping's memory-tier policy (`memtier::POLICY_*`; 0 follows the process
    /// default). Only equal policies merge.
    pub policy: u32,
}

impl Vma {
    pub const fn range(&self) -> Range {
        Range::new(self.start, self.end)
    }

    pub const fn len(&self) -> u64 {
        self.end - self.start
    }

    pub const fn is_empty(&self) -> bool {
        self.start >= self.end
    }

    pub const fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    /// True when `next` starts where `self` ends and the two can be one VMA without
    /// changing the meaning of any page.
    pub fn can_merge(&self, next: &Vma) -> bool {
        if self.end != next.start
            || self.prot != next.prot
            || self.tag != next.tag
            || self.policy != next.policy
        {
            return false;
        }
        match (self.kind, next.kind) {
            (VmaKind::Anonymous { shared: false }, VmaKind::Anonymous { shared: false })
            | (VmaKind::Stack, VmaKind::Stack)
            | (VmaKind::Guard, VmaKind::Guard) => true,
            (
                VmaKind::Shared { object: a, offset },
                VmaKind::Shared {
                    object: b,
                    offset: next_offset,
                },
            ) => a == b && offset.checked_add(self.len()) == Some(next_offset),
            _ => false,
        }
    }

    /// Cuts `self` at `at` (strictly inside it): `self` keeps the left part and the right
    /// part is returned with the same attributes.
    fn split_off(&mut self, at: u64) -> Vma {
        debug_assert!(self.start < at && at < self.end && is_aligned(at));
        let right = Vma {
            start: at,
            end: self.end,
            prot: self.prot,
            kind: self.kind.advanced(at - self.start),
            tag: self.tag,
            policy: self.policy,
        };
        self.end = at;
        right
    }
}

/// `start-end prot kind tag`, one line of a `/proc/self/maps` style listing.
impl fmt::Display for Vma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#014x}-{:#014x} {} ", self.start, self.end, self.prot)?;
        match self.kind {
            VmaKind::Anonymous { shared: false } => f.write_str("anon")?,
            VmaKind::Anonymous { shared: true } => f.write_str("anon-shared")?,
            VmaKind::Shared { object, offset } => write!(f, "shm:{object}+{offset:#x}")?,
            VmaKind::Stack => f.write_str("stack")?,
            VmaKind::Guard => f.write_str("guard")?,
        }
        write!(f, " {}", self.tag)
    }
}

/// Where `mmap` puts a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Wherever the allocator finds room.
    Anywhere,
    /// At this address (rounded up to a page) if the range is free and inside the window,
    /// else wherever the allocator finds room.
    Hint(u64),
    /// `MAP_FIXED`: exactly here (page aligned), replacing whatever overlaps.
    Fixed(u64),
    /// `MAP_FIXED_NOREPLACE`: exactly here, failing with [`VmError::Exists`] on overlap.
    FixedNoReplace(u64),
}

impl Placement {
    /// The placement an `mmap(addr, .., flags, ..)` call asks for: `MAP_FIXED_NOREPLACE`
    /// wins over `MAP_FIXED` (as on Linux), and address 0 without either means anywhere.
    pub const fn from_mmap(addr: u64, flags: usize) -> Placement {
        if flags & mman::MAP_FIXED_NOREPLACE != 0 {
            Placement::FixedNoReplace(addr)
        } else if flags & mman::MAP_FIXED != 0 {
            Placement::Fixed(addr)
        } else if addr == 0 {
            Placement::Anywhere
        } else {
            Placement::Hint(addr)
        }
    }
}

/// What a successful `mmap` did; the kernel must drop the pages of `unmapped`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "the kernel must unmap the pages of the replaced ranges"]
pub struct MapOutcome {
    /// The new mapping (for [`VmaMap::mmap_stack`], the stack without its guard).
    pub range: Range,
    /// Ranges a `MAP_FIXED` mapping replaced, sorted, adjacent pieces joined.
    pub unmapped: Vec<Range>,
}

/// Why an operation failed. Nothing changed in the map when one is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmError {
    /// A zero length for `mmap` or `munmap`. `EINVAL`.
    ZeroLength,
    /// An address (or a shared object offset) that is not page aligned where one must be.
    /// `EINVAL`.
    Unaligned,
    /// A `munmap` range that overflows or passes the end of the user window, or a shared
    /// object offset plus length that overflows. `EINVAL`.
    BadRange,
    /// A guard mapping asked for with a protection other than `PROT_NONE`. `EINVAL`.
    GuardNotNone,
    /// No room: no gap fits the length, or a fixed range leaves the user window. `ENOMEM`.
    NoSpace,
    /// `mprotect` over a range with an unmapped (or guard) page. `ENOMEM`.
    NotMapped,
    /// `MAP_FIXED_NOREPLACE` over an existing mapping. `EEXIST`.
    Exists,
}

impl VmError {
    /// The POSIX error number (`wayos_abi::errno`) a syscall returns for this error.
    pub const fn errno(self) -> isize {
        match self {
            VmError::ZeroLength
            | VmError::Unaligned
            | VmError::BadRange
            | VmError::GuardNotNone => errno::EINVAL,
            VmError::NoSpace | VmError::NotMapped => errno::ENOMEM,
            VmError::Exists => errno::EEXIST,
        }
    }
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VmError::ZeroLength => "vm: zero length",
            VmError::Unaligned => "vm: address or offset not page aligned",
            VmError::BadRange => "vm: range overflows or leaves the user window",
            VmError::GuardNotNone => "vm: a guard mapping must be PROT_NONE",
            VmError::NoSpace => "vm: no room for the mapping in the user window",
            VmError::NotMapped => "vm: range not fully mapped",
            VmError::Exists => "vm: range overlaps an existing mapping",
        })
    }
}

/// Appends `r` to a sorted list of ranges, joining it to the last one when they touch.
fn push_joined(list: &mut Vec<Range>, r: Range) {
    match list.last_mut() {
        Some(last) if last.end == r.start => last.end = r.end,
        _ => list.push(r),
    }
}

/// The VMAs of one address space. Cloning it is the bookkeeping half of fork; the kernel
/// decides per [`VmaKind`] whether the child's pages are shared or copy-on-write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmaMap {
    /// Keyed by `Vma::start`.
    vmas: BTreeMap<u64, Vma>,
    base: u64,
    end: u64,
    mmap_base: u64,
}

impl VmaMap {
    /// An empty map for the user window `[base, end)`.
    ///
    /// # Panics
    ///
    /// If the window is empty or not page aligned: it is a kernel constant, not user input.
    pub fn new(base: u64, end: u64) -> VmaMap {
        assert!(
            is_aligned(base) && is_aligned(end) && base < end,
            "vma: bad user window {base:#x}..{end:#x}"
        );
        VmaMap {
            vmas: BTreeMap::new(),
            base,
            end,
            mmap_base: end,
        }
    }

    /// The user window `[base, end)`.
    pub const fn window(&self) -> Range {
        Range::new(self.base, self.end)
    }

    pub const fn mmap_base(&self) -> u64 {
        self.mmap_base
    }

    /// Sets the address below which the allocator looks first (clamped into the window and
    /// rounded down to a page); typically just under the stack.
    pub fn set_mmap_base(&mut self, top: u64) {
        self.mmap_base = (top & !PAGE_MASK).clamp(self.base, self.end);
    }

    /// Number of VMAs.
    pub fn len(&self) -> usize {
        self.vmas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vmas.is_empty()
    }

    /// The VMAs in address order.
    pub fn iter(&self) -> impl Iterator<Item = &Vma> + '_ {
        self.vmas.values()
    }

    /// The VMA containing `addr`.
    pub fn lookup(&self, addr: u64) -> Option<&Vma> {
        self.vmas
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| v.contains(addr))
    }

    /// The VMAs that overlap `[start, end)`, in address order.
    pub fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = &Vma> + '_ {
        // The VMA just before `start` may reach into the range.
        let first = match self.vmas.range(..start).next_back() {
            Some((&k, v)) if v.end > start => k,
            _ => start,
        };
        self.vmas
            .range(first..)
            .map(|(_, v)| v)
            .take_while(move |v| v.start < end)
    }

    /// The bookkeeping half of fork: the child gets the same VMAs.
    pub fn clone_for_fork(&self) -> VmaMap {
        self.clone()
    }

    /// Maps `len` bytes (rounded up to pages) of `kind` with `prot` where `placement` says.
    ///
    /// With [`Placement::Fixed`] the outcome lists the ranges that were replaced, whose
    /// pages the kernel must drop.
    pub fn mmap(
        &mut self,
        placement: Placement,
        len: u64,
        prot: Prot,
        kind: VmaKind,
        tag: &'static str,
    ) -> Result<MapOutcome, VmError> {
        self.mmap_with_policy(placement, len, prot, kind, tag, 0)
    }

    /// As [`VmaMap::mmap`], the new VMA carrying tier policy `policy`.
    pub fn mmap_with_policy(
        &mut self,
        placement: Placement,
        len: u64,
        prot: Prot,
        kind: VmaKind,
        tag: &'static str,
        policy: u32,
    ) -> Result<MapOutcome, VmError> {
        let len = Self::map_len(len)?;
        if kind == VmaKind::Guard && !prot.is_none() {
            return Err(VmError::GuardNotNone);
        }
        if let VmaKind::Shared { offset, .. } = kind {
            if !is_aligned(offset) {
                return Err(VmError::Unaligned);
            }
            if offset.checked_add(len).is_none() {
                return Err(VmError::BadRange);
            }
        }
        let (start, unmapped) = self.place(placement, len)?;
        let end = start + len;
        self.vmas.insert(
            start,
            Vma {
                start,
                end,
                prot,
                kind,
                tag,
                policy,
            },
        );
        self.merge_between(start, end);
        Ok(MapOutcome {
            range: Range::new(start, end),
            unmapped,
        })
    }

    /// Maps a stack of `len` bytes with `guard_pages` [`VmaKind::Guard`] pages directly
    /// below it. The placement address is the lowest address of the stack itself (for the
    /// initial stack: `STACK_TOP - STACK_SIZE`); the outcome's range is the stack, and the
    /// guard is the `guard_pages` pages below `range.start`.
    pub fn mmap_stack(
        &mut self,
        placement: Placement,
        len: u64,
        guard_pages: u64,
        prot: Prot,
        tag: &'static str,
    ) -> Result<MapOutcome, VmError> {
        let len = Self::map_len(len)?;
        let guard = guard_pages.checked_mul(PAGE_SIZE).ok_or(VmError::NoSpace)?;
        let total = len.checked_add(guard).ok_or(VmError::NoSpace)?;
        // Move the placement from the stack to the start of the whole reservation.
        let placement = match placement {
            Placement::Anywhere => Placement::Anywhere,
            Placement::Hint(a) => a
                .checked_sub(guard)
                .map_or(Placement::Anywhere, Placement::Hint),
            Placement::Fixed(a) | Placement::FixedNoReplace(a) => {
                if !is_aligned(a) {
                    return Err(VmError::Unaligned);
                }
                let a = a.checked_sub(guard).ok_or(VmError::NoSpace)?;
                match placement {
                    Placement::Fixed(_) => Placement::Fixed(a),
                    _ => Placement::FixedNoReplace(a),
                }
            }
        };
        let (start, unmapped) = self.place(placement, total)?;
        let stack = start + guard;
        if guard > 0 {
            self.vmas.insert(
                start,
                Vma {
                    start,
                    end: stack,
                    prot: Prot::NONE,
                    kind: VmaKind::Guard,
                    tag,
                    policy: 0,
                },
            );
        }
        self.vmas.insert(
            stack,
            Vma {
                start: stack,
                end: start + total,
                prot,
                kind: VmaKind::Stack,
                tag,
                policy: 0,
            },
        );
        self.merge_between(start, start + total);
        Ok(MapOutcome {
            range: Range::new(stack, start + total),
            unmapped,
        })
    }

    /// Unmaps `[addr, addr + len)` (`len` rounded up to pages) and returns the ranges that
    /// were mapped there, sorted, adjacent pieces joined; the kernel drops their pages.
    ///
    /// As POSIX says: holes, or nothing mapped at all, are fine; a VMA that sticks out of
    /// the range is split and the part outside survives unchanged.
    #[must_use = "the kernel must unmap the pages of the removed ranges"]
    pub fn munmap(&mut self, addr: u64, len: u64) -> Result<Vec<Range>, VmError> {
        if !is_aligned(addr) {
            return Err(VmError::Unaligned);
        }
        if len == 0 {
            return Err(VmError::ZeroLength);
        }
        let len = round_up(len).ok_or(VmError::BadRange)?;
        let end = addr.checked_add(len).ok_or(VmError::BadRange)?;
        if end > self.end {
            return Err(VmError::BadRange);
        }
        // Below the window nothing is ever mapped.
        let start = addr.max(self.base);
        if start >= end {
            return Ok(Vec::new());
        }
        Ok(self.remove_range(start, end))
    }

    /// Sets the protection of `[addr, addr + len)` (`len` rounded up to pages) and returns
    /// the ranges whose protection changed, with the new protection.
    ///
    /// Every page of the range must be mapped and none may be a guard; otherwise nothing
    /// changes and [`VmError::NotMapped`] is returned. A zero length succeeds and does
    /// nothing (as on Linux).
    #[must_use = "the kernel must update the page tables of the changed ranges"]
    pub fn mprotect(
        &mut self,
        addr: u64,
        len: u64,
        prot: Prot,
    ) -> Result<Vec<(Range, Prot)>, VmError> {
        if !is_aligned(addr) {
            return Err(VmError::Unaligned);
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        let changed = self.change_range(addr, len, |vma| {
            let differs = vma.prot != prot;
            vma.prot = prot;
            differs
        })?;
        Ok(changed.into_iter().map(|r| (r, prot)).collect())
    }

    /// Sets the tier policy of `[addr, addr + len)` (`len` rounded up to pages) and returns
    /// the ranges whose policy changed. As [`VmaMap::mprotect`]: every page must be mapped
    /// and none a guard, else [`VmError::NotMapped`] and nothing changes; the range splits
    /// VMAs at its edges (at most two more VMAs) and merges what became alike.
    #[must_use = "pages already present may need to move to the new policy's tier"]
    pub fn set_policy(&mut self, addr: u64, len: u64, policy: u32) -> Result<Vec<Range>, VmError> {
        if !is_aligned(addr) {
            return Err(VmError::Unaligned);
        }
        if len == 0 {
            return Err(VmError::ZeroLength);
        }
        self.change_range(addr, len, |vma| {
            let differs = vma.policy != policy;
            vma.policy = policy;
            differs
        })
    }

    /// What `mprotect` and `set_policy` share: `[addr, addr + len)` (`addr` aligned, `len`
    /// not 0, rounded up to pages) must be wholly mapped, else [`VmError::NotMapped`] and
    /// nothing changes; the VMAs are split at its edges, `change` is applied to each VMA
    /// inside (returning whether it changed it), what became alike is merged, and the
    /// changed ranges are returned, adjacent ones joined.
    fn change_range(
        &mut self,
        addr: u64,
        len: u64,
        mut change: impl FnMut(&mut Vma) -> bool,
    ) -> Result<Vec<Range>, VmError> {
        let len = round_up(len).ok_or(VmError::NotMapped)?;
        let end = addr.checked_add(len).ok_or(VmError::NotMapped)?;
        if !self.fully_mapped(addr, end) {
            return Err(VmError::NotMapped);
        }
        // Checked: from here on nothing can fail.
        self.split_at(addr);
        self.split_at(end);
        let mut changed = Vec::new();
        for vma in self.vmas.range_mut(addr..end).map(|(_, v)| v) {
            if change(vma) {
                push_joined(&mut changed, vma.range());
            }
        }
        self.merge_between(addr, end);
        Ok(changed)
    }

    /// Asserts the invariants listed in the module documentation.
    ///
    /// # Panics
    ///
    /// On the first broken invariant, naming it and the VMA.
    pub fn check_invariants(&self) {
        assert!(
            is_aligned(self.mmap_base) && self.base <= self.mmap_base && self.mmap_base <= self.end,
            "vma: mmap base {:#x} outside the window",
            self.mmap_base
        );
        let mut prev: Option<&Vma> = None;
        for (&key, vma) in &self.vmas {
            assert_eq!(key, vma.start, "vma: key differs from start of {vma}");
            assert!(vma.start < vma.end, "vma: empty {vma}");
            assert!(
                is_aligned(vma.start) && is_aligned(vma.end),
                "vma: unaligned {vma}"
            );
            assert!(
                self.base <= vma.start && vma.end <= self.end,
                "vma: outside the window {vma}"
            );
            match vma.kind {
                VmaKind::Guard => assert!(vma.prot.is_none(), "vma: guard not PROT_NONE {vma}"),
                VmaKind::Shared { offset, .. } => assert!(
                    is_aligned(offset) && offset.checked_add(vma.len()).is_some(),
                    "vma: bad shared offset {vma}"
                ),
                _ => {}
            }
            if let Some(p) = prev {
                assert!(p.end <= vma.start, "vma: {p} overlaps {vma}");
                assert!(!p.can_merge(vma), "vma: unmerged neighbours {p} and {vma}");
            }
            prev = Some(vma);
        }
    }

    /// Validates an `mmap` length and rounds it up to pages.
    fn map_len(len: u64) -> Result<u64, VmError> {
        if len == 0 {
            return Err(VmError::ZeroLength);
        }
        round_up(len).ok_or(VmError::NoSpace)
    }

    /// Chooses where `len` bytes go and clears the way; returns the start and, for
    /// `MAP_FIXED`, what was removed. Fails without changing anything.
    fn place(&mut self, placement: Placement, len: u64) -> Result<(u64, Vec<Range>), VmError> {
        match placement {
            Placement::Fixed(addr) | Placement::FixedNoReplace(addr) => {
                if !is_aligned(addr) {
                    return Err(VmError::Unaligned);
                }
                let end = addr.checked_add(len).ok_or(VmError::NoSpace)?;
                if addr < self.base || end > self.end {
                    return Err(VmError::NoSpace);
                }
                if matches!(placement, Placement::FixedNoReplace(_)) {
                    if !self.is_free(addr, end) {
                        return Err(VmError::Exists);
                    }
                    return Ok((addr, Vec::new()));
                }
                Ok((addr, self.remove_range(addr, end)))
            }
            Placement::Hint(hint) => {
                let fits = round_up(hint)
                    .and_then(|a| Some((a, a.checked_add(len)?)))
                    .filter(|&(a, e)| a >= self.base && e <= self.end && self.is_free(a, e));
                match fits {
                    Some((a, _)) => Ok((a, Vec::new())),
                    None => self.search(len).map(|a| (a, Vec::new())),
                }
            }
            Placement::Anywhere => self.search(len).map(|a| (a, Vec::new())),
        }
    }

    /// Top-down search: the highest gap below the mmap base, else the highest anywhere.
    fn search(&self, len: u64) -> Result<u64, VmError> {
        self.search_below(self.mmap_base, len)
            .or_else(|| {
                if self.mmap_base < self.end {
                    self.search_below(self.end, len)
                } else {
                    None
                }
            })
            .ok_or(VmError::NoSpace)
    }

    /// The highest start `a` with `[a, a + len)` free, `a >= base` and `a + len <= top`.
    fn search_below(&self, top: u64, len: u64) -> Option<u64> {
        let mut gap_end = top;
        for vma in self.vmas.range(..top).rev().map(|(_, v)| v) {
            if vma.end < gap_end && gap_end - vma.end >= len {
                return Some(gap_end - len);
            }
            gap_end = gap_end.min(vma.start);
        }
        gap_end.checked_sub(len).filter(|&a| a >= self.base)
    }

    /// True when no VMA overlaps `[start, end)`.
    fn is_free(&self, start: u64, end: u64) -> bool {
        self.overlapping(start, end).next().is_none()
    }

    /// True when `[start, end)` lies in the window and every page of it is in a VMA that is
    /// not a guard.
    fn fully_mapped(&self, start: u64, end: u64) -> bool {
        if start < self.base || end > self.end {
            return false;
        }
        let mut pos = start;
        for vma in self.overlapping(start, end) {
            if vma.start > pos || vma.kind == VmaKind::Guard {
                return false;
            }
            pos = vma.end;
        }
        pos >= end
    }

    /// Splits the VMA that strictly contains `addr`, if any, so a VMA boundary sits there.
    fn split_at(&mut self, addr: u64) {
        let right = match self.vmas.range_mut(..addr).next_back() {
            Some((_, vma)) if vma.end > addr => vma.split_off(addr),
            _ => return,
        };
        self.vmas.insert(addr, right);
    }

    /// Removes everything in `[start, end)`, splitting VMAs that stick out, and returns the
    /// removed ranges joined.
    fn remove_range(&mut self, start: u64, end: u64) -> Vec<Range> {
        self.split_at(start);
        self.split_at(end);
        let mut removed = Vec::new();
        while let Some((&key, _)) = self.vmas.range(start..end).next() {
            if let Some(vma) = self.vmas.remove(&key) {
                push_joined(&mut removed, vma.range());
            }
        }
        removed
    }

    /// Merges every mergeable pair of neighbours from the VMA before `from` up to the VMA
    /// starting at `to`.
    fn merge_between(&mut self, from: u64, to: u64) {
        let first = self
            .vmas
            .range(..from)
            .next_back()
            .or_else(|| self.vmas.range(from..).next())
            .map(|(&k, _)| k);
        let Some(mut cur) = first else { return };
        loop {
            let next = match self
                .vmas
                .range((Bound::Excluded(cur), Bound::Unbounded))
                .next()
            {
                Some((&k, &v)) if k <= to => v,
                _ => return,
            };
            let Some(vma) = self.vmas.get_mut(&cur) else {
                return;
            };
            if vma.can_merge(&next) {
                vma.end = next.end;
                self.vmas.remove(&next.start);
            } else {
                cur = next.start;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn write_exec_is_exactly_write_and_exec() {
        for bits in 0..8 {
            let p = Prot::from_bits(bits).expect("known bits");
            let both = bits & mman::PROT_WRITE != 0 && bits & mman::PROT_EXEC != 0;
            assert_eq!(p.is_write_exec(), both, "prot {bits:#x}");
        }
    }

    use super::*;
    use std::collections::BTreeMap as Model;
    use std::vec;

    const P: u64 = PAGE_SIZE;
    const BASE: u64 = 0x40_0000;
    const END: u64 = 0x7fff_ffff_f000;
    const RW: Prot = Prot(3);
    const R: Prot = Prot::READ;
    const ANON: VmaKind = VmaKind::Anonymous { shared: false };

    fn map() -> VmaMap {
        VmaMap::new(BASE, END)
    }

    fn r(start: u64, end: u64) -> Range {
        Range::new(start, end)
    }

    /// `MAP_FIXED` of private anonymous memory, checking the invariants after.
    fn fixed(m: &mut VmaMap, addr: u64, len: u64, prot: Prot, tag: &'static str) {
        let _ = m
            .mmap(Placement::Fixed(addr), len, prot, ANON, tag)
            .unwrap();
        m.check_invariants();
    }

    /// `MAP_FIXED` into free space: nothing may be replaced.
    fn map_free(m: &mut VmaMap, addr: u64, len: u64, prot: Prot, kind: VmaKind, tag: &'static str) {
        let out = m
            .mmap(Placement::Fixed(addr), len, prot, kind, tag)
            .unwrap();
        assert_eq!(out.range, r(addr, addr + len));
        assert_eq!(out.unmapped, vec![]);
        m.check_invariants();
    }

    /// `(start, end, prot, tag)` of every VMA, for whole-map comparisons.
    fn layout(m: &VmaMap) -> Vec<(u64, u64, Prot, &'static str)> {
        m.iter().map(|v| (v.start, v.end, v.prot, v.tag)).collect()
    }

    #[test]
    fn prot_bits_and_display() {
        assert_eq!(Prot::from_bits(0), Some(Prot::NONE));
        assert_eq!(
            Prot::from_bits(7),
            Some(Prot::READ | Prot::WRITE | Prot::EXEC)
        );
        assert_eq!(Prot::from_bits(8), None);
        assert_eq!(std::format!("{}", Prot::READ | Prot::EXEC), "r-x");
        assert_eq!(std::format!("{}", Prot::NONE), "---");
        assert!(RW.contains(Prot::WRITE) && !RW.contains(Prot::EXEC));
        let mut p = Prot::NONE;
        p |= Prot::WRITE;
        assert_eq!(p.bits(), 2);
    }

    #[test]
    fn placement_from_flags() {
        use wayos_abi::mman::*;
        assert_eq!(Placement::from_mmap(0, MAP_PRIVATE), Placement::Anywhere);
        assert_eq!(Placement::from_mmap(0x5000, 0), Placement::Hint(0x5000));
        assert_eq!(
            Placement::from_mmap(0x5000, MAP_FIXED),
            Placement::Fixed(0x5000)
        );
        assert_eq!(
            Placement::from_mmap(0x5000, MAP_FIXED | MAP_FIXED_NOREPLACE),
            Placement::FixedNoReplace(0x5000)
        );
        assert_eq!(
            Placement::from_mmap(0x5000, MAP_FIXED_NOREPLACE),
            Placement::FixedNoReplace(0x5000)
        );
    }

    #[test]
    fn errors_map_to_posix_errnos() {
        assert_eq!(VmError::ZeroLength.errno(), errno::EINVAL);
        assert_eq!(VmError::Unaligned.errno(), errno::EINVAL);
        assert_eq!(VmError::BadRange.errno(), errno::EINVAL);
        assert_eq!(VmError::GuardNotNone.errno(), errno::EINVAL);
        assert_eq!(VmError::NoSpace.errno(), errno::ENOMEM);
        assert_eq!(VmError::NotMapped.errno(), errno::ENOMEM);
        assert_eq!(VmError::Exists.errno(), errno::EEXIST);
        assert_eq!(
            std::format!("{}", VmError::Exists),
            "vm: range overlaps an existing mapping"
        );
    }

    #[test]
    fn search_is_top_down_and_rounds_length() {
        let mut m = map();
        let a = m.mmap(Placement::Anywhere, 1, RW, ANON, "a").unwrap();
        assert_eq!(a.range, r(END - P, END));
        assert!(a.unmapped.is_empty());
        // Different tags so they stay separate VMAs.
        let b = m.mmap(Placement::Anywhere, 3 * P, RW, ANON, "b").unwrap();
        assert_eq!(b.range, r(END - 4 * P, END - P));
        m.check_invariants();
        assert_eq!(m.len(), 2);
        // Freeing the first leaves a one-page gap at the top that a one-page request takes.
        assert_eq!(m.munmap(END - P, P).unwrap(), vec![r(END - P, END)]);
        let c = m.mmap(Placement::Anywhere, P, R, ANON, "c").unwrap();
        assert_eq!(c.range, r(END - P, END));
        // A two-page request does not fit there and goes below `b`.
        let d = m.mmap(Placement::Anywhere, 2 * P, R, ANON, "d").unwrap();
        assert_eq!(d.range, r(END - 6 * P, END - 4 * P));
        m.check_invariants();
    }

    #[test]
    fn search_prefers_below_mmap_base_then_falls_back() {
        let mut m = VmaMap::new(BASE, BASE + 16 * P);
        m.set_mmap_base(BASE + 4 * P + 123);
        assert_eq!(m.mmap_base(), BASE + 4 * P);
        let a = m.mmap(Placement::Anywhere, 3 * P, RW, ANON, "a").unwrap();
        assert_eq!(a.range, r(BASE + P, BASE + 4 * P));
        // Only one page left below the base: a two-page mapping goes to the top.
        let b = m.mmap(Placement::Anywhere, 2 * P, RW, ANON, "b").unwrap();
        assert_eq!(b.range, r(BASE + 14 * P, BASE + 16 * P));
        let c = m.mmap(Placement::Anywhere, P, RW, ANON, "c").unwrap();
        assert_eq!(c.range, r(BASE, BASE + P));
        m.check_invariants();
        m.set_mmap_base(0);
        assert_eq!(m.mmap_base(), BASE);
        m.set_mmap_base(u64::MAX);
        assert_eq!(m.mmap_base(), BASE + 16 * P);
    }

    #[test]
    fn hint_is_used_when_free_and_rounded_up() {
        let mut m = map();
        let a = m
            .mmap(Placement::Hint(0x1000_0123), 2 * P, RW, ANON, "a")
            .unwrap();
        assert_eq!(a.range, r(0x1000_1000, 0x1000_3000));
        // Right after it is free too.
        let b = m
            .mmap(Placement::Hint(0x1000_3000), P, R, ANON, "b")
            .unwrap();
        assert_eq!(b.range, r(0x1000_3000, 0x1000_4000));
        m.check_invariants();
    }

    #[test]
    fn hint_overlapping_or_outside_falls_back_to_search() {
        let mut m = map();
        fixed(&mut m, 0x1000_0000, 4 * P, RW, "x");
        // Overlaps the tail of x.
        let a = m
            .mmap(Placement::Hint(0x1000_0000 + 3 * P), 2 * P, RW, ANON, "a")
            .unwrap();
        assert_eq!(a.range, r(END - 2 * P, END));
        // Below the window, and one that would run past its end.
        let b = m.mmap(Placement::Hint(0x1000), P, RW, ANON, "b").unwrap();
        assert_eq!(b.range, r(END - 3 * P, END - 2 * P));
        let c = m
            .mmap(Placement::Hint(END - P), 2 * P, RW, ANON, "c")
            .unwrap();
        assert_eq!(c.range, r(END - 5 * P, END - 3 * P));
        // A hint so high that rounding it overflows.
        let d = m.mmap(Placement::Hint(u64::MAX), P, RW, ANON, "d").unwrap();
        assert_eq!(d.range, r(END - 6 * P, END - 5 * P));
        m.check_invariants();
        assert_eq!(m.lookup(0x1000_0000).unwrap().tag, "x");
    }

    #[test]
    fn fixed_in_the_middle_leaves_three_pieces() {
        let mut m = map();
        let base = 0x2000_0000;
        fixed(&mut m, base, 10 * P, RW, "old");
        let out = m
            .mmap(Placement::Fixed(base + 3 * P), 2 * P, R, ANON, "new")
            .unwrap();
        m.check_invariants();
        assert_eq!(out.range, r(base + 3 * P, base + 5 * P));
        assert_eq!(out.unmapped, vec![r(base + 3 * P, base + 5 * P)]);
        assert_eq!(
            layout(&m),
            vec![
                (base, base + 3 * P, RW, "old"),
                (base + 3 * P, base + 5 * P, R, "new"),
                (base + 5 * P, base + 10 * P, RW, "old"),
            ]
        );
    }

    #[test]
    fn fixed_spanning_several_vmas_and_holes() {
        let mut m = map();
        let base = 0x2000_0000;
        fixed(&mut m, base, 2 * P, RW, "a");
        fixed(&mut m, base + 3 * P, 2 * P, R, "b");
        fixed(&mut m, base + 5 * P, 2 * P, RW, "c");
        fixed(&mut m, base + 8 * P, 2 * P, RW, "d");
        let out = m
            .mmap(Placement::Fixed(base + P), 8 * P, Prot::EXEC, ANON, "new")
            .unwrap();
        m.check_invariants();
        // b and c touch, so their removal comes back as one range.
        assert_eq!(
            out.unmapped,
            vec![
                r(base + P, base + 2 * P),
                r(base + 3 * P, base + 7 * P),
                r(base + 8 * P, base + 9 * P)
            ]
        );
        assert_eq!(
            layout(&m),
            vec![
                (base, base + P, RW, "a"),
                (base + P, base + 9 * P, Prot::EXEC, "new"),
                (base + 9 * P, base + 10 * P, RW, "d"),
            ]
        );
    }

    #[test]
    fn fixed_exactly_over_a_vma_replaces_it() {
        let mut m = map();
        fixed(&mut m, 0x3000_0000, 2 * P, RW, "a");
        let out = m
            .mmap(Placement::Fixed(0x3000_0000), 2 * P, R, ANON, "b")
            .unwrap();
        assert_eq!(out.unmapped, vec![r(0x3000_0000, 0x3000_2000)]);
        assert_eq!(layout(&m), vec![(0x3000_0000, 0x3000_2000, R, "b")]);
    }

    #[test]
    fn fixed_validation() {
        let mut m = map();
        let mm = |m: &mut VmaMap, a, l| m.mmap(Placement::Fixed(a), l, RW, ANON, "x");
        assert_eq!(mm(&mut m, 0x1000_0001, P), Err(VmError::Unaligned));
        assert_eq!(mm(&mut m, BASE - P, 2 * P), Err(VmError::NoSpace));
        assert_eq!(mm(&mut m, END - P, 2 * P), Err(VmError::NoSpace));
        assert_eq!(mm(&mut m, END, P), Err(VmError::NoSpace));
        assert_eq!(mm(&mut m, 0x1000_0000, 0), Err(VmError::ZeroLength));
        assert!(m.is_empty());
        // The very first and very last pages of the window are fine.
        fixed(&mut m, BASE, P, RW, "first");
        fixed(&mut m, END - P, P, RW, "last");
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn noreplace_fails_on_overlap_and_changes_nothing() {
        let mut m = map();
        fixed(&mut m, 0x1000_0000, 4 * P, RW, "a");
        fixed(&mut m, 0x1000_8000, 4 * P, R, "b");
        let before = m.clone();
        for (addr, len) in [
            (0x1000_0000, P),
            (0x1000_0000 + 3 * P, 2 * P),
            (0x1000_0000 - P, 2 * P),
            (0x1000_4000, 5 * P),
            (0x0fff_0000, 0x10_0000),
        ] {
            assert_eq!(
                m.mmap(Placement::FixedNoReplace(addr), len, RW, ANON, "n"),
                Err(VmError::Exists),
                "{addr:#x}+{len:#x}"
            );
            assert_eq!(m, before);
        }
        // The hole between them is free.
        let out = m
            .mmap(Placement::FixedNoReplace(0x1000_4000), 4 * P, RW, ANON, "n")
            .unwrap();
        assert_eq!(out.range, r(0x1000_4000, 0x1000_8000));
        assert!(out.unmapped.is_empty());
        m.check_invariants();
    }

    #[test]
    fn munmap_middle_splits() {
        let mut m = map();
        let base = 0x2000_0000;
        let shared = VmaKind::Shared {
            object: 7,
            offset: 0x10_0000,
        };
        map_free(&mut m, base, 8 * P, RW, shared, "shm");
        assert_eq!(
            m.munmap(base + 2 * P, 3 * P).unwrap(),
            vec![r(base + 2 * P, base + 5 * P)]
        );
        m.check_invariants();
        let left = *m.lookup(base).unwrap();
        let right = *m.lookup(base + 5 * P).unwrap();
        assert_eq!(left.range(), r(base, base + 2 * P));
        assert_eq!(right.range(), r(base + 5 * P, base + 8 * P));
        // The survivors keep their attributes; the right one still maps the same object
        // pages it mapped before.
        assert_eq!(left.kind, shared);
        assert_eq!(
            right.kind,
            VmaKind::Shared {
                object: 7,
                offset: 0x10_0000 + 5 * P
            }
        );
        assert_eq!((right.prot, right.tag), (RW, "shm"));
        assert!(m.lookup(base + 2 * P).is_none());
        assert!(m.lookup(base + 5 * P - 1).is_none());
    }

    #[test]
    fn munmap_edges() {
        let mut m = map();
        let base = 0x2000_0000;
        fixed(&mut m, base, 8 * P, RW, "a");
        assert_eq!(m.munmap(base, P).unwrap(), vec![r(base, base + P)]);
        assert_eq!(
            m.munmap(base + 7 * P, P).unwrap(),
            vec![r(base + 7 * P, base + 8 * P)]
        );
        // Overhanging both sides of what is left.
        assert_eq!(
            m.munmap(base + 6 * P, 10 * P).unwrap(),
            vec![r(base + 6 * P, base + 7 * P)]
        );
        assert_eq!(
            m.munmap(base - 4 * P, 6 * P).unwrap(),
            vec![r(base + P, base + 2 * P)]
        );
        m.check_invariants();
        assert_eq!(layout(&m), vec![(base + 2 * P, base + 6 * P, RW, "a")]);
        // A length that is not a page multiple covers the partial page.
        assert_eq!(
            m.munmap(base + 2 * P, 1).unwrap(),
            vec![r(base + 2 * P, base + 3 * P)]
        );
        assert_eq!(layout(&m), vec![(base + 3 * P, base + 6 * P, RW, "a")]);
    }

    #[test]
    fn munmap_with_holes_and_nothing_mapped() {
        let mut m = map();
        let base = 0x2000_0000;
        fixed(&mut m, base, 2 * P, RW, "a");
        fixed(&mut m, base + 4 * P, 2 * P, RW, "b");
        fixed(&mut m, base + 8 * P, 2 * P, RW, "c");
        assert_eq!(
            m.munmap(base + P, 8 * P).unwrap(),
            vec![
                r(base + P, base + 2 * P),
                r(base + 4 * P, base + 6 * P),
                r(base + 8 * P, base + 9 * P)
            ]
        );
        m.check_invariants();
        assert_eq!(m.len(), 2);
        let before = m.clone();
        assert_eq!(m.munmap(0x5000_0000, 100 * P).unwrap(), vec![]);
        // Below the window nothing is mapped, which is not an error.
        assert_eq!(m.munmap(0, BASE).unwrap(), vec![]);
        assert_eq!(m, before);
        // Unmapping everything at once.
        assert_eq!(
            m.munmap(0, END).unwrap(),
            vec![r(base, base + P), r(base + 9 * P, base + 10 * P)]
        );
        assert!(m.is_empty());
    }

    #[test]
    fn munmap_errors() {
        let mut m = map();
        fixed(&mut m, 0x2000_0000, 2 * P, RW, "a");
        let before = m.clone();
        assert_eq!(m.munmap(0x2000_0001, P), Err(VmError::Unaligned));
        assert_eq!(m.munmap(0x2000_0000, 0), Err(VmError::ZeroLength));
        assert_eq!(m.munmap(END - P, 2 * P), Err(VmError::BadRange));
        assert_eq!(m.munmap(0x2000_0000, u64::MAX), Err(VmError::BadRange));
        assert_eq!(m.munmap(0x2000_0000, u64::MAX - P), Err(VmError::BadRange));
        assert_eq!(m.munmap(!PAGE_MASK, P), Err(VmError::BadRange));
        assert_eq!(m, before);
    }

    #[test]
    fn set_policy_splits_keeps_and_remerges() {
        let mut m = VmaMap::new(BASE, END);
        let a = m
            .mmap_with_policy(
                Placement::Fixed(BASE),
                8 * PAGE_SIZE,
                Prot::READ,
                VmaKind::Anonymous { shared: false },
                "mmap",
                2,
            )
            .expect("map")
            .range
            .start;
        assert_eq!(m.lookup(a).map(|v| v.policy), Some(2));
        let mid = a + 2 * PAGE_SIZE;
        let changed = m.set_policy(mid, 3 * PAGE_SIZE, 1).expect("mapped");
        assert_eq!(changed, [Range::new(mid, mid + 3 * PAGE_SIZE)]);
        m.check_invariants();
        assert_eq!(m.len(), 3);
        assert_eq!(m.lookup(mid).map(|v| v.policy), Some(1));
        assert_eq!(m.lookup(a).map(|v| v.policy), Some(2));
        assert_eq!(m.lookup(mid + 3 * PAGE_SIZE).map(|v| v.policy), Some(2));
        // Policy survives an mprotect split, and setting it back merges all.
        let _ = m.mprotect(mid, PAGE_SIZE, Prot::READ).expect("mapped");
        let changed = m.set_policy(a, 8 * PAGE_SIZE, 2).expect("mapped");
        assert_eq!(changed, [Range::new(mid, mid + 3 * PAGE_SIZE)]);
        m.check_invariants();
        assert_eq!(m.len(), 1);
        // Holes, guards, misalignment and zero length change nothing.
        let before: Vec<Vma> = m.iter().copied().collect();
        assert_eq!(m.set_policy(a, 9 * PAGE_SIZE, 1), Err(VmError::NotMapped));
        assert_eq!(m.set_policy(a + 1, PAGE_SIZE, 1), Err(VmError::Unaligned));
        assert_eq!(m.set_policy(a, 0, 1), Err(VmError::ZeroLength));
        assert_eq!(
            m.set_policy(!PAGE_MASK, PAGE_SIZE * 2, 1),
            Err(VmError::NotMapped)
        );
        let after: Vec<Vma> = m.iter().copied().collect();
        assert_eq!(before, after);
        // Fork keeps policies.
        assert_eq!(m.clone_for_fork().lookup(a).map(|v| v.policy), Some(2));
    }

    #[test]
    fn mprotect_partial_splits_and_remerges() {
        let mut m = map();
        let base = 0x2000_0000;
        fixed(&mut m, base, 8 * P, RW, "a");
        assert_eq!(
            m.mprotect(base + 2 * P, 3 * P, R).unwrap(),
            vec![(r(base + 2 * P, base + 5 * P), R)]
        );
        m.check_invariants();
        assert_eq!(
            layout(&m),
            vec![
                (base, base + 2 * P, RW, "a"),
                (base + 2 * P, base + 5 * P, R, "a"),
                (base + 5 * P, base + 8 * P, RW, "a"),
            ]
        );
        // Across the split edges: only the pages whose protection differs come back.
        assert_eq!(
            m.mprotect(base + P, 6 * P, RW).unwrap(),
            vec![(r(base + 2 * P, base + 5 * P), RW)]
        );
        m.check_invariants();
        assert_eq!(layout(&m), vec![(base, base + 8 * P, RW, "a")]);
        // Same protection again: nothing to do.
        assert_eq!(m.mprotect(base, 8 * P, RW).unwrap(), vec![]);
        // Zero length succeeds and does nothing.
        assert_eq!(m.mprotect(base, 0, R).unwrap(), vec![]);
        assert_eq!(layout(&m), vec![(base, base + 8 * P, RW, "a")]);
    }

    #[test]
    fn mprotect_across_touching_vmas() {
        let mut m = map();
        let base = 0x2000_0000;
        fixed(&mut m, base, 2 * P, RW, "a");
        fixed(&mut m, base + 2 * P, 2 * P, R, "b");
        assert_eq!(
            m.mprotect(base + P, 2 * P, Prot::EXEC).unwrap(),
            vec![(r(base + P, base + 3 * P), Prot::EXEC)]
        );
        m.check_invariants();
        assert_eq!(
            layout(&m),
            vec![
                (base, base + P, RW, "a"),
                (base + P, base + 2 * P, Prot::EXEC, "a"),
                (base + 2 * P, base + 3 * P, Prot::EXEC, "b"),
                (base + 3 * P, base + 4 * P, R, "b"),
            ]
        );
    }

    #[test]
    fn mprotect_over_a_hole_fails_and_changes_nothing() {
        let mut m = map();
        let base = 0x2000_0000;
        fixed(&mut m, base, 2 * P, RW, "a");
        fixed(&mut m, base + 3 * P, 2 * P, RW, "b");
        let before = m.clone();
        for (addr, len) in [
            (base, 5 * P),
            (base + P, 3 * P),
            (base + 2 * P, P),
            (base - P, 2 * P),
            (base + 4 * P, 2 * P),
            (0x5000_0000, P),
            (END - P, 2 * P),
            (base, u64::MAX),
            (base, u64::MAX - 2 * P),
        ] {
            assert_eq!(
                m.mprotect(addr, len, R),
                Err(VmError::NotMapped),
                "{addr:#x}+{len:#x}"
            );
            assert_eq!(m, before);
        }
        assert_eq!(m.mprotect(base + 1, P, R), Err(VmError::Unaligned));
        assert_eq!(m, before);
    }

    #[test]
    fn prot_none_mappings() {
        let mut m = map();
        let out = m
            .mmap(Placement::Anywhere, 4 * P, Prot::NONE, ANON, "res")
            .unwrap();
        let a = out.range.start;
        assert_eq!(m.lookup(a).unwrap().prot, Prot::NONE);
        // A PROT_NONE mapping is mapped: mprotect may open it up, piece by piece.
        assert_eq!(m.mprotect(a, P, RW).unwrap(), vec![(r(a, a + P), RW)]);
        assert_eq!(
            m.mprotect(a + P, P, Prot::NONE).unwrap(),
            vec![],
            "already PROT_NONE"
        );
        m.check_invariants();
        assert_eq!(m.len(), 2);
        // And the allocator does not hand it out again.
        let b = m.mmap(Placement::Anywhere, P, RW, ANON, "b").unwrap();
        assert_eq!(b.range, r(a - P, a));
    }

    #[test]
    fn exhaustion_of_the_window() {
        let mut m = VmaMap::new(BASE, BASE + 8 * P);
        assert_eq!(
            m.mmap(Placement::Anywhere, 9 * P, RW, ANON, "big"),
            Err(VmError::NoSpace)
        );
        for i in 0..8 {
            let out = m.mmap(Placement::Anywhere, P, RW, ANON, "p").unwrap();
            assert_eq!(out.range.start, BASE + (7 - i) * P);
        }
        // All merged into one VMA.
        assert_eq!(m.len(), 1);
        m.check_invariants();
        let full = m.clone();
        assert_eq!(
            m.mmap(Placement::Anywhere, P, RW, ANON, "p"),
            Err(VmError::NoSpace)
        );
        assert_eq!(
            m.mmap(Placement::Hint(BASE), P, RW, ANON, "p"),
            Err(VmError::NoSpace)
        );
        assert_eq!(m, full);
        // Two separate free pages do not make room for two pages.
        let _ = m.munmap(BASE + 2 * P, P).unwrap();
        let _ = m.munmap(BASE + 5 * P, P).unwrap();
        assert_eq!(
            m.mmap(Placement::Anywhere, 2 * P, RW, ANON, "p"),
            Err(VmError::NoSpace)
        );
        assert_eq!(
            m.mmap(Placement::Anywhere, P, R, ANON, "q").unwrap().range,
            r(BASE + 5 * P, BASE + 6 * P)
        );
        m.check_invariants();
    }

    #[test]
    fn overflowing_lengths() {
        let mut m = map();
        for len in [u64::MAX, u64::MAX - P + 2, 1 << 63, END - BASE + P] {
            for placement in [
                Placement::Anywhere,
                Placement::Hint(0x1000_0000),
                Placement::Fixed(0x1000_0000),
                Placement::FixedNoReplace(0x1000_0000),
                Placement::Fixed(!PAGE_MASK),
            ] {
                assert_eq!(
                    m.mmap(placement, len, RW, ANON, "x"),
                    Err(VmError::NoSpace),
                    "{placement:?} {len:#x}"
                );
            }
            assert_eq!(
                m.mmap_stack(Placement::Anywhere, len, 1, RW, "s"),
                Err(VmError::NoSpace)
            );
        }
        assert_eq!(
            m.mmap_stack(Placement::Anywhere, P, u64::MAX, RW, "s"),
            Err(VmError::NoSpace)
        );
        // The whole window in one mapping is fine.
        let out = m
            .mmap(Placement::Anywhere, END - BASE, RW, ANON, "all")
            .unwrap();
        assert_eq!(out.range, r(BASE, END));
        m.check_invariants();
        assert!(!m.is_empty() && m.len() == 1);
    }

    #[test]
    fn shared_object_offsets() {
        let mut m = map();
        let shm = |offset| VmaKind::Shared { object: 1, offset };
        assert_eq!(
            m.mmap(Placement::Anywhere, P, RW, shm(5), "s"),
            Err(VmError::Unaligned)
        );
        assert_eq!(
            m.mmap(Placement::Anywhere, 2 * P, RW, shm(!PAGE_MASK), "s"),
            Err(VmError::BadRange)
        );
        let base = 0x2000_0000;
        map_free(&mut m, base, 2 * P, RW, shm(0), "s");
        // Contiguous offsets of the same object merge; a jump in offset does not.
        map_free(&mut m, base + 2 * P, 2 * P, RW, shm(2 * P), "s");
        map_free(&mut m, base + 4 * P, P, RW, shm(0), "s");
        let other = VmaKind::Shared {
            object: 2,
            offset: 5 * P,
        };
        map_free(&mut m, base + 5 * P, P, RW, other, "s");
        m.check_invariants();
        assert_eq!(
            m.iter().map(|v| (v.range(), v.kind)).collect::<Vec<_>>(),
            vec![
                (r(base, base + 4 * P), shm(0)),
                (r(base + 4 * P, base + 5 * P), shm(0)),
                (r(base + 5 * P, base + 6 * P), other),
            ]
        );
        // Splitting and putting back the protection restores one VMA with offset 0.
        let _ = m.mprotect(base + P, P, R).unwrap();
        assert_eq!(m.lookup(base + 2 * P).unwrap().kind, shm(2 * P));
        let _ = m.mprotect(base + P, P, RW).unwrap();
        m.check_invariants();
        assert_eq!(
            m.lookup(base + 3 * P).unwrap().range(),
            r(base, base + 4 * P)
        );
    }

    #[test]
    fn merging_rules() {
        let mut m = map();
        let base = 0x2000_0000;
        let shared_anon = VmaKind::Anonymous { shared: true };
        map_free(&mut m, base, P, RW, ANON, "a");
        map_free(&mut m, base + P, P, RW, ANON, "a");
        assert_eq!(m.len(), 1, "same attributes merge");
        map_free(&mut m, base + 2 * P, P, R, ANON, "a");
        map_free(&mut m, base + 3 * P, P, R, ANON, "b");
        map_free(&mut m, base + 4 * P, P, R, shared_anon, "b");
        map_free(&mut m, base + 5 * P, P, R, shared_anon, "b");
        map_free(&mut m, base + 6 * P, P, R, VmaKind::Stack, "b");
        m.check_invariants();
        // Different prot, tag, kind, and two shared anonymous mappings: none merge.
        assert_eq!(m.len(), 6);
        // Filling a hole between two compatible VMAs merges all three.
        map_free(&mut m, base + 10 * P, P, RW, ANON, "z");
        map_free(&mut m, base + 12 * P, P, RW, ANON, "z");
        assert_eq!(m.len(), 8);
        map_free(&mut m, base + 11 * P, P, RW, ANON, "z");
        assert_eq!(m.len(), 7);
        assert_eq!(
            m.lookup(base + 11 * P).unwrap().range(),
            r(base + 10 * P, base + 13 * P)
        );
        m.check_invariants();
    }

    #[test]
    fn stack_with_guard() {
        let mut m = map();
        let top = 0x7fff_ffff_0000;
        let size = 64 * P;
        let out = m
            .mmap_stack(Placement::Fixed(top - size), size, 1, RW, "stack")
            .unwrap();
        m.check_invariants();
        assert_eq!(out.range, r(top - size, top));
        let guard = *m.lookup(top - size - 1).unwrap();
        assert_eq!(guard.range(), r(top - size - P, top - size));
        assert_eq!((guard.kind, guard.prot), (VmaKind::Guard, Prot::NONE));
        let stack = *m.lookup(top - 8).unwrap();
        assert_eq!((stack.kind, stack.prot), (VmaKind::Stack, RW));
        // mprotect treats the guard as unmapped, and nothing changes.
        let before = m.clone();
        assert_eq!(
            m.mprotect(top - size - P, 2 * P, RW),
            Err(VmError::NotMapped)
        );
        assert_eq!(m.mprotect(top - size - P, P, R), Err(VmError::NotMapped));
        assert_eq!(m, before);
        // The stack itself can be protected.
        assert_eq!(
            m.mprotect(top - size, P, Prot::NONE).unwrap(),
            vec![(r(top - size, top - size + P), Prot::NONE)]
        );
        // The allocator skips the guard: the next search lands below it.
        let a = m.mmap(Placement::Anywhere, P, RW, ANON, "a").unwrap();
        assert!(a.range.end <= top - size - P || a.range.start >= top);
        // A second stack, found by search, also gets its guard.
        let s2 = m
            .mmap_stack(Placement::Anywhere, 4 * P, 2, RW, "t1")
            .unwrap();
        let g2 = *m.lookup(s2.range.start - 1).unwrap();
        assert_eq!(g2.range(), r(s2.range.start - 2 * P, s2.range.start));
        assert_eq!(g2.kind, VmaKind::Guard);
        // No-replace over the existing stack fails; without a guard it is a plain stack.
        assert_eq!(
            m.mmap_stack(Placement::FixedNoReplace(top - size), size, 1, RW, "stack"),
            Err(VmError::Exists)
        );
        assert_eq!(
            m.mmap_stack(Placement::Fixed(top - size + 1), size, 1, RW, "s"),
            Err(VmError::Unaligned)
        );
        assert_eq!(
            m.mmap_stack(Placement::Fixed(BASE), P, 1, RW, "s"),
            Err(VmError::NoSpace)
        );
        let s3 = m
            .mmap_stack(Placement::Hint(0x1000_0000), P, 0, RW, "t3")
            .unwrap();
        assert_eq!(s3.range, r(0x1000_0000, 0x1000_1000));
        assert_eq!(m.lookup(0x1000_0000 - 1), None);
        m.check_invariants();
        // munmap removes guards like anything else.
        let _ = m.munmap(top - size - P, P).unwrap();
        assert!(m.lookup(top - size - 1).is_none());
        // A guard mapped directly must be PROT_NONE.
        assert_eq!(
            m.mmap(Placement::Anywhere, P, R, VmaKind::Guard, "g"),
            Err(VmError::GuardNotNone)
        );
        m.check_invariants();
    }

    #[test]
    fn lookup_overlapping_and_display() {
        let mut m = map();
        fixed(&mut m, 0x2000_0000, 2 * P, RW, "a");
        fixed(&mut m, 0x2000_4000, P, R, "b");
        assert_eq!(m.lookup(0x2000_0000).unwrap().tag, "a");
        assert_eq!(m.lookup(0x2000_1fff).unwrap().tag, "a");
        assert!(m.lookup(0x2000_2000).is_none());
        assert!(m.lookup(0).is_none());
        assert!(m.lookup(u64::MAX).is_none());
        let tags: Vec<_> = m
            .overlapping(0x2000_1000, 0x2000_4001)
            .map(|v| v.tag)
            .collect();
        assert_eq!(tags, vec!["a", "b"]);
        assert_eq!(m.overlapping(0x2000_2000, 0x2000_4000).count(), 0);
        let line = std::format!("{}", m.iter().next().unwrap());
        assert_eq!(line, "0x000020000000-0x000020002000 rw- anon a");
    }

    #[test]
    fn fork_clone_is_independent() {
        let mut parent = map();
        fixed(&mut parent, 0x2000_0000, 4 * P, RW, "heap");
        map_free(
            &mut parent,
            0x3000_0000,
            P,
            RW,
            VmaKind::Anonymous { shared: true },
            "shared",
        );
        let mut child = parent.clone_for_fork();
        assert_eq!(child, parent);
        assert!(child.lookup(0x3000_0000).unwrap().kind.is_shared());
        assert!(!child.lookup(0x2000_0000).unwrap().kind.is_shared());
        let _ = child.munmap(0x2000_0000, P).unwrap();
        assert_eq!(
            parent.lookup(0x2000_0000).unwrap().range().start,
            0x2000_0000
        );
        assert_ne!(child, parent);
    }

    #[test]
    #[should_panic(expected = "bad user window")]
    fn empty_window_is_refused() {
        let _ = VmaMap::new(BASE, BASE);
    }

    // ---- Randomized comparison against a page-granular model ------------------------------

    use wayos_testutil::XorShift;

    /// What the model knows of one page: protection, kind (with this page's object offset
    /// for shared objects) and tag.
    type PageInfo = (Prot, VmaKind, &'static str);

    const WIN_PAGES: u64 = 64;
    const WBASE: u64 = 0x10_0000;
    const WEND: u64 = WBASE + WIN_PAGES * P;

    fn pages_of(m: &VmaMap) -> Model<u64, PageInfo> {
        let mut out = Model::new();
        for v in m.iter() {
            for i in 0..v.len() / P {
                out.insert(v.start + i * P, (v.prot, v.kind.advanced(i * P), v.tag));
            }
        }
        out
    }

    fn model_free(model: &Model<u64, PageInfo>, start: u64, end: u64) -> bool {
        model.range(start..end).next().is_none()
    }

    /// The highest `a` with `[a, a + len)` free inside `[WBASE, top)`.
    fn model_search_below(model: &Model<u64, PageInfo>, top: u64, len: u64) -> Option<u64> {
        let mut end = top;
        while let Some(a) = end.checked_sub(len).filter(|&a| a >= WBASE) {
            if model_free(model, a, end) {
                return Some(a);
            }
            end -= P;
        }
        None
    }

    fn model_place(
        model: &Model<u64, PageInfo>,
        mmap_base: u64,
        placement: Placement,
        len: u64,
    ) -> Result<u64, VmError> {
        let search = || {
            model_search_below(model, mmap_base, len)
                .or_else(|| model_search_below(model, WEND, len))
                .ok_or(VmError::NoSpace)
        };
        match placement {
            Placement::Anywhere => search(),
            Placement::Hint(h) => match round_up(h) {
                Some(a) if (WBASE..=WEND).contains(&a) && len <= WEND - a => {
                    if model_free(model, a, a + len) {
                        Ok(a)
                    } else {
                        search()
                    }
                }
                _ => search(),
            },
            Placement::Fixed(a) | Placement::FixedNoReplace(a) => {
                if !a.is_multiple_of(P) {
                    Err(VmError::Unaligned)
                } else if !(WBASE..=WEND).contains(&a) || len > WEND - a {
                    Err(VmError::NoSpace)
                } else if matches!(placement, Placement::FixedNoReplace(_))
                    && !model_free(model, a, a + len)
                {
                    Err(VmError::Exists)
                } else {
                    Ok(a)
                }
            }
        }
    }

    /// Removes the pages of `[start, end)` from the model and returns them as joined ranges.
    fn model_remove(model: &mut Model<u64, PageInfo>, start: u64, end: u64) -> Vec<Range> {
        let pages: Vec<u64> = model.range(start..end).map(|(&p, _)| p).collect();
        let mut out = Vec::new();
        for p in pages {
            model.remove(&p);
            push_joined(&mut out, r(p, p + P));
        }
        out
    }

    fn random_addr(rng: &mut XorShift) -> u64 {
        match rng.below(20) {
            0 => rng.next(),
            1 => WBASE + rng.below(WIN_PAGES * P),
            2 => WBASE - P * rng.below(3),
            _ => WBASE + P * rng.below(WIN_PAGES + 2),
        }
    }

    fn random_len(rng: &mut XorShift) -> u64 {
        match rng.below(30) {
            0 => 0,
            1 => u64::MAX - rng.below(2 * P),
            2 => rng.below(3 * P),
            _ => P * (1 + rng.below(12)),
        }
    }

    fn random_prot(rng: &mut XorShift) -> Prot {
        Prot::from_bits(rng.below(8) as usize).unwrap()
    }

    fn random_kind(rng: &mut XorShift) -> VmaKind {
        match rng.below(8) {
            0 => VmaKind::Anonymous { shared: true },
            1 | 2 => VmaKind::Shared {
                object: rng.below(2),
                offset: P * rng.below(8),
            },
            3 => VmaKind::Stack,
            _ => ANON,
        }
    }

    fn random_placement(rng: &mut XorShift) -> Placement {
        let a = random_addr(rng);
        match rng.below(4) {
            0 => Placement::Anywhere,
            1 => Placement::Hint(a),
            2 => Placement::Fixed(a),
            _ => Placement::FixedNoReplace(a),
        }
    }

    fn insert_model(model: &mut Model<u64, PageInfo>, start: u64, end: u64, info: PageInfo) {
        let mut p = start;
        while p < end {
            model.insert(p, (info.0, info.1.advanced(p - start), info.2));
            p += P;
        }
    }

    /// Runs one random operation on both the map and the model, compares the results, and
    /// names the outcome so the test can check that every path was taken.
    fn random_op(
        rng: &mut XorShift,
        m: &mut VmaMap,
        model: &mut Model<u64, PageInfo>,
    ) -> std::string::String {
        const TAGS: [&str; 2] = ["x", "y"];
        match rng.below(10) {
            // mmap
            0..=3 => {
                let placement = random_placement(rng);
                let len = random_len(rng);
                let prot = random_prot(rng);
                let kind = random_kind(rng);
                let tag = TAGS[rng.below(2) as usize];
                let got = m.mmap(placement, len, prot, kind, tag);
                let expect = match (len, round_up(len)) {
                    (0, _) => Err(VmError::ZeroLength),
                    (_, None) => Err(VmError::NoSpace),
                    (_, Some(len)) => match kind {
                        VmaKind::Shared { offset, .. } if offset.checked_add(len).is_none() => {
                            Err(VmError::BadRange)
                        }
                        _ => model_place(model, m.mmap_base(), placement, len)
                            .map(|a| (r(a, a + len), model_remove(model, a, a + len))),
                    },
                };
                match (got, expect) {
                    (Ok(out), Ok((range, removed))) => {
                        assert_eq!(out.range, range, "{placement:?}");
                        assert_eq!(out.unmapped, removed);
                        insert_model(model, range.start, range.end, (prot, kind, tag));
                        let how = match placement {
                            Placement::Hint(h) if round_up(h) == Some(range.start) => "hint",
                            Placement::Hint(_) => "hint-missed",
                            Placement::Anywhere => "anywhere",
                            _ if !out.unmapped.is_empty() => "fixed-replace",
                            _ => "fixed",
                        };
                        std::format!("mmap {how}")
                    }
                    (Err(e), Err(x)) => {
                        assert_eq!(e, x, "{placement:?} len {len:#x}");
                        std::format!("mmap {e:?}")
                    }
                    (got, expect) => {
                        panic!("mmap {placement:?} {len:#x}: got {got:?}, model {expect:?}")
                    }
                }
            }
            // A stack with a guard.
            4 => {
                let len = P * (1 + rng.below(6));
                let guard = rng.below(3);
                let placement = match rng.below(3) {
                    0 => Placement::Anywhere,
                    1 => Placement::Fixed(WBASE + P * rng.below(WIN_PAGES)),
                    _ => Placement::Hint(WBASE + P * rng.below(WIN_PAGES)),
                };
                let got = m.mmap_stack(placement, len, guard, RW, "st");
                let g = guard * P;
                let shifted = match placement {
                    Placement::Fixed(a) if a < WBASE + g => None,
                    Placement::Fixed(a) => Some(Placement::Fixed(a - g)),
                    Placement::Hint(a) => Some(Placement::Hint(a - g)),
                    other => Some(other),
                };
                let expect = match shifted {
                    None => Err(VmError::NoSpace),
                    Some(pl) => model_place(model, m.mmap_base(), pl, len + g),
                };
                match (got, expect) {
                    (Ok(out), Ok(a)) => {
                        assert_eq!(out.range, r(a + g, a + g + len));
                        assert_eq!(out.unmapped, model_remove(model, a, a + g + len));
                        insert_model(model, a, a + g, (Prot::NONE, VmaKind::Guard, "st"));
                        insert_model(model, a + g, a + g + len, (RW, VmaKind::Stack, "st"));
                        "stack".into()
                    }
                    (Err(e), Err(x)) => {
                        assert_eq!(e, x);
                        std::format!("stack {e:?}")
                    }
                    (got, expect) => panic!("stack {placement:?}: got {got:?}, model {expect:?}"),
                }
            }
            // munmap
            5..=6 => {
                let addr = random_addr(rng);
                let len = random_len(rng);
                let got = m.munmap(addr, len);
                let expect = if !addr.is_multiple_of(P) {
                    Err(VmError::Unaligned)
                } else if len == 0 {
                    Err(VmError::ZeroLength)
                } else {
                    match round_up(len).and_then(|l| addr.checked_add(l)) {
                        Some(e) if e <= WEND => Ok(model_remove(model, addr, e)),
                        _ => Err(VmError::BadRange),
                    }
                };
                assert_eq!(got, expect, "munmap {addr:#x} {len:#x}");
                match got {
                    Ok(v) if v.is_empty() => "munmap nothing".into(),
                    Ok(v) if v.len() > 1 => "munmap holes".into(),
                    Ok(_) => "munmap".into(),
                    Err(e) => std::format!("munmap {e:?}"),
                }
            }
            // mprotect
            _ => {
                let addr = random_addr(rng);
                let len = random_len(rng);
                let prot = random_prot(rng);
                let before = m.clone();
                let got = m.mprotect(addr, len, prot);
                let expect = if !addr.is_multiple_of(P) {
                    Err(VmError::Unaligned)
                } else if len == 0 {
                    Ok(Vec::new())
                } else {
                    match round_up(len).and_then(|l| addr.checked_add(l)) {
                        None => Err(VmError::NotMapped),
                        Some(e) => {
                            let mut ok = addr >= WBASE && e <= WEND;
                            let mut p = addr;
                            while ok && p < e {
                                ok = matches!(model.get(&p), Some(i) if i.1 != VmaKind::Guard);
                                p += P;
                            }
                            if ok {
                                let mut changed = Vec::new();
                                let mut p = addr;
                                while p < e {
                                    let info = model.get_mut(&p).unwrap();
                                    if info.0 != prot {
                                        info.0 = prot;
                                        push_joined(&mut changed, r(p, p + P));
                                    }
                                    p += P;
                                }
                                Ok(changed.into_iter().map(|c| (c, prot)).collect())
                            } else {
                                Err(VmError::NotMapped)
                            }
                        }
                    }
                };
                if got.is_err() {
                    assert_eq!(*m, before, "a failed mprotect changed the map");
                }
                assert_eq!(got, expect, "mprotect {addr:#x} {len:#x} {prot}");
                match got {
                    Ok(v) if v.is_empty() => "mprotect nothing".into(),
                    Ok(_) => "mprotect".into(),
                    Err(e) => std::format!("mprotect {e:?}"),
                }
            }
        }
    }

    #[test]
    fn randomized_against_page_model() {
        let mut seen: Model<std::string::String, u32> = Model::new();
        let mut most_vmas = 0;
        for seed in 1..=8u64 {
            let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let mut m = VmaMap::new(WBASE, WEND);
            m.set_mmap_base(WBASE + P * (WIN_PAGES / 2 + rng.below(WIN_PAGES / 2)));
            let mut model: Model<u64, PageInfo> = Model::new();
            for step in 0..2500 {
                let before = m.clone();
                *seen
                    .entry(random_op(&mut rng, &mut m, &mut model))
                    .or_default() += 1;
                most_vmas = most_vmas.max(m.len());
                m.check_invariants();
                assert_eq!(
                    pages_of(&m),
                    model,
                    "seed {seed} step {step}\nbefore: {before:#?}\nafter: {m:#?}"
                );
            }
        }
        // Every interesting path was taken many times, and the maps got busy.
        std::eprintln!("outcomes: {seen:?}, most VMAs: {most_vmas}");
        for key in [
            "mmap anywhere",
            "mmap hint",
            "mmap hint-missed",
            "mmap fixed",
            "mmap fixed-replace",
            "mmap Exists",
            "mmap NoSpace",
            "mmap Unaligned",
            "mmap ZeroLength",
            "stack",
            "munmap",
            "munmap holes",
            "munmap nothing",
            "munmap Unaligned",
            "munmap BadRange",
            "mprotect",
            "mprotect nothing",
            "mprotect NotMapped",
            "mprotect Unaligned",
        ] {
            assert!(seen.get(key).copied().unwrap_or(0) >= 20, "{key}: {seen:?}");
        }
        assert!(most_vmas >= 10, "{most_vmas}");
    }
}
