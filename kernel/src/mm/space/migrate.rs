//! The address-space half of page migration: sampling accessed bits, moving a private
//! page, and finding and rewriting every mapping of a shared or copy-on-write frame.
//! The daemon (`mm::migrate`) decides what to move and holds the locks; this file only
//! changes page tables of spaces whose lock its caller holds.
//!
//! A move is break-before-make: every mapping of the old frame is removed and flushed
//! from every TLB (shootdown) before the copy is taken, and the new frame is mapped only
//! after it. Anything that touches the page meanwhile (a user thread on another CPU, a
//! kernel user copy in `umem`) faults, waits for the space lock the mover holds, and then
//! finds the new frame: no write can land in the old frame after the copy. What must
//! never happen here: moving a frame with a reference the page tables and the shared
//! page map do not explain (a tensor run, a DMA buffer, any kernel holder), or a page of
//! a granted object; those are reported as pinned and left alone.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use wayos_abi::layout::{USER_BASE, USER_END};
use wayos_abi::memtier::{TIER_FAR, TIER_NEAR};
use wayos_kcore::memtier::{decide, Budget, Decision, HeatByte};
use wayos_kcore::paging::{PageSize, PhysAddr, PteFlags, VirtAddr};
use wayos_kcore::vma::{Vma, VmaKind};

use super::physmem::{self, KernelPhysMem};
use super::{tlb, AddressSpace, Backing, SharedPages, PAGE};
use crate::mm::pmm::{self, Tier};

/// Most shared or copy-on-write frames one scan defers to the all-spaces phase.
pub const MAX_DEFERRED: usize = 256;

/// One scan's counts, added to the daemon's totals by the caller.
#[derive(Default, Clone, Copy, Debug)]
pub struct ScanCounts {
    pub promoted: u64,
    pub demoted: u64,
    pub skipped_pinned: u64,
    pub far_accesses: u64,
    /// Moves refused for want of memory on the target tier.
    pub no_room: u64,
}

impl ScanCounts {
    fn count_move(&mut self, to: Tier) {
        match to {
            Tier::Near => self.promoted += 1,
            Tier::Far => self.demoted += 1,
        }
    }
}

/// What one scan carries from address space to address space.
pub struct Scan<'a> {
    /// The scan's number (hotness is updated once per frame per number).
    pub number: u64,
    /// Whether hotness moves pages (`SET_ENABLED`); `mem_advise` requests move anyway.
    pub by_heat: bool,
    /// The tier a `mem_advise` request names for the page at an address of the space
    /// with the given root, if any.
    pub requested: &'a dyn Fn(PhysAddr, u64) -> Option<Tier>,
    pub budget: Budget,
    pub deferred: Vec<Deferred>,
    pub counts: ScanCounts,
}

/// A frame mapped more than once (copy-on-write after fork, MAP_SHARED): moved in the
/// second phase, with every address space locked.
pub struct Deferred {
    pub pa: PhysAddr,
    pub to: Tier,
    /// The shared page map holding it, and its index there (MAP_SHARED pages).
    shared: Option<(Arc<SharedPages>, u64)>,
}

/// Why a page was not moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoveError {
    /// A reference the page tables do not explain, or a granted object.
    Pinned,
    /// No frame on the target tier (or only the kernel's reserve left).
    NoRoom,
    /// The page changed under us (unmapped, remapped): nothing was done.
    Gone,
}

fn tier_index(t: Tier) -> u32 {
    match t {
        Tier::Near => TIER_NEAR,
        Tier::Far => TIER_FAR,
    }
}

fn other(t: Tier) -> Tier {
    match t {
        Tier::Near => Tier::Far,
        Tier::Far => Tier::Near,
    }
}

impl AddressSpace {
    /// The tier policy in force for pages of `vma` in a process whose default is
    /// `process_policy`: the mapping's, else the process's, else the system's
    /// (`mm::placement`, which owns placement).
    fn page_policy(&self, vma: &Vma, process_policy: u32) -> u32 {
        crate::mm::placement::effective(vma.policy, process_policy)
    }

    /// Whether the frames of `vma` may never move, and the shared page map (with the
    /// page's index) a movable MAP_SHARED page lives in.
    fn pin_state(&self, vma: &Vma, va: u64) -> Result<Option<(Arc<SharedPages>, u64)>, ()> {
        let VmaKind::Shared { object, offset } = vma.kind else {
            return Ok(None);
        };
        let obj = self.objects.get(&object).ok_or(())?;
        match &obj.pages {
            // A tensor's frames belong to the tensor (and the inference workers reading
            // them through the direct map): never moved.
            Backing::Run(_) => Err(()),
            // A granted object's pages may be mapped or read by another process through
            // a handle the page tables do not show.
            Backing::Anon(pages) if pages.granted.load(Ordering::Acquire) > 0 => Err(()),
            Backing::Anon(pages) => {
                let index = (va - vma.start + offset) / PAGE;
                Ok(Some((pages.clone(), index)))
            }
        }
    }

    /// One scan of this space (its process's default policy `process_policy`): reads and
    /// clears the accessed bit of every user page, updates each frame's hotness, counts
    /// far accesses, moves private pages that a `mem_advise` request or, when hotness
    /// migration is on, the policy says should move (within the budget), and defers
    /// frames mapped more than once (bounded by [`MAX_DEFERRED`]; each takes budget too).
    pub fn scan_for_migration(&mut self, scan: &mut Scan<'_>, process_policy: u32) {
        let root = self.root();
        let mut batch = tlb::Batch::new(root);
        let mut moves: Vec<(VirtAddr, PhysAddr, PteFlags, Tier)> = Vec::new();
        let mut from = VirtAddr::new(USER_BASE as u64);
        let end = VirtAddr::new(USER_END as u64);
        while let Some(leaf) = self.table.next_leaf(&KernelPhysMem, from, end) {
            from = leaf.end();
            if leaf.size != PageSize::Size4K || !leaf.flags.contains(PteFlags::USER) {
                continue;
            }
            let Some((accessed, flush)) = self.table.take_accessed(&mut KernelPhysMem, leaf.va)
            else {
                continue;
            };
            if let Some(f) = flush {
                batch.add(f);
            }
            let Some(tier) = pmm::tier_of(leaf.pa) else {
                continue;
            };
            let (byte, acc) = HeatByte(pmm::heat(leaf.pa)).observe(scan.number, accessed);
            pmm::set_heat(leaf.pa, byte.0);
            if tier == Tier::Far && accessed {
                scan.counts.far_accesses += 1;
            }
            let Some(vma) = self.vmas.lookup(leaf.va.as_u64()).copied() else {
                continue;
            };
            // A `mem_advise` request names the tier outright; otherwise hotness decides.
            let request = (scan.requested)(root, leaf.va.as_u64());
            let to = match request {
                Some(t) if t == tier => continue,
                Some(t) => t,
                None if !scan.by_heat => continue,
                None => match decide(
                    self.page_policy(&vma, process_policy),
                    tier_index(tier),
                    byte.heat(),
                    acc,
                ) {
                    Decision::Stay => continue,
                    Decision::Promote | Decision::Demote => other(tier),
                },
            };
            if !pmm::has_tier(to) {
                continue;
            }
            let shared = match self.pin_state(&vma, leaf.va.as_u64()) {
                Ok(s) => s,
                Err(()) => {
                    scan.counts.skipped_pinned += 1;
                    continue;
                }
            };
            let sole = shared.is_none() && physmem::refs(leaf.pa) == 1;
            if request.is_some() && !sole && shared.is_none() {
                // A copy-on-write frame is also another space's page, under that
                // mapping's policy: this space's request does not move it for both.
                // This space's next write makes its own copy, placed by the new policy.
                continue;
            }
            if sole {
                if moves.try_reserve(1).is_err() || !scan.budget.take() {
                    continue;
                }
                moves.push((leaf.va, leaf.pa, leaf.flags, to));
            } else if scan.deferred.len() < MAX_DEFERRED
                && !scan.deferred.iter().any(|d| d.pa == leaf.pa)
                && scan.deferred.try_reserve(1).is_ok()
                && scan.budget.take()
            {
                scan.deferred.push(Deferred {
                    pa: leaf.pa,
                    to,
                    shared,
                });
            }
        }
        // The cleared accessed bits must reach every TLB before the next period counts.
        batch.flush();
        for (va, pa, flags, to) in moves {
            match self.move_private(va, pa, flags, to) {
                Ok(()) => scan.counts.count_move(to),
                Err(MoveError::NoRoom) => scan.counts.no_room += 1,
                Err(_) => {}
            }
        }
    }

    /// Moves the private page at `va` (its only mapping, frame `pa`) to tier `to`.
    pub fn move_private(
        &mut self,
        va: VirtAddr,
        pa: PhysAddr,
        flags: PteFlags,
        to: Tier,
    ) -> Result<(), MoveError> {
        match self.table.translate(&KernelPhysMem, va) {
            Some((now, f, PageSize::Size4K)) if now == pa && f == flags => {}
            _ => return Err(MoveError::Gone),
        }
        if physmem::refs(pa) != 1 {
            return Err(MoveError::Pinned);
        }
        let new = physmem::alloc_on(to).ok_or(MoveError::NoRoom)?;
        let root = self.root();
        let Ok((_, _, _, flush)) = self.table.unmap(&mut KernelPhysMem, va) else {
            physmem::release(new);
            return Err(MoveError::Gone);
        };
        tlb::settle(root, flush);
        physmem::copy_frame(pa, new);
        pmm::set_heat(new, pmm::heat(pa));
        // The slot was just emptied and its tables stay: mapping cannot fail.
        match self
            .table
            .map(&mut KernelPhysMem, va, new, PageSize::Size4K, flags)
        {
            Ok(flush) => tlb::settle(root, flush),
            Err(_) => {
                log::error!("migrate: remapping {va:?} failed; the page is lost");
                physmem::release(new);
                physmem::release(pa);
                return Err(MoveError::Gone);
            }
        }
        physmem::release(pa);
        Ok(())
    }

    /// Every 4 KiB user mapping of a frame in `frames` (sorted): `(index into frames,
    /// va, flags)` appended to `out`. Returns false when `out` could not grow.
    pub fn mappings_of(
        &self,
        frames: &[PhysAddr],
        out: &mut Vec<(usize, usize, VirtAddr, PteFlags)>,
        space: usize,
    ) -> bool {
        let mut from = VirtAddr::new(USER_BASE as u64);
        let end = VirtAddr::new(USER_END as u64);
        while let Some(leaf) = self.table.next_leaf(&KernelPhysMem, from, end) {
            from = leaf.end();
            if leaf.size != PageSize::Size4K {
                continue;
            }
            if let Ok(i) = frames.binary_search(&leaf.pa) {
                if out.try_reserve(1).is_err() {
                    return false;
                }
                out.push((i, space, leaf.va, leaf.flags));
            }
        }
        true
    }

    /// The frame and flags of the 4 KiB page mapped at `va`.
    pub fn frame_at(&self, va: usize) -> Option<(PhysAddr, PteFlags)> {
        match self
            .table
            .translate(&KernelPhysMem, VirtAddr::new(va as u64 & !(PAGE - 1)))
        {
            Some((pa, flags, PageSize::Size4K)) => Some((pa, flags)),
            _ => None,
        }
    }

    /// A request to move the frame mapped at `va` to `to` in the all-spaces phase
    /// ([`move_shared`]), as a scan would make it; `Pinned` for a frame that may never
    /// move (a tensor's, a granted object's), `Gone` when nothing is mapped there.
    pub fn deferred_for(&self, va: usize, to: Tier) -> Result<Deferred, MoveError> {
        let (pa, _) = self.frame_at(va).ok_or(MoveError::Gone)?;
        let vma = self
            .vmas
            .lookup(va as u64)
            .copied()
            .ok_or(MoveError::Gone)?;
        let shared = self
            .pin_state(&vma, va as u64 & !(PAGE - 1))
            .map_err(|()| MoveError::Pinned)?;
        Ok(Deferred { pa, to, shared })
    }

    /// Removes the mapping at `va` for a move, flushed everywhere when this returns.
    fn break_for_move(&mut self, va: VirtAddr) -> bool {
        let root = self.root();
        match self.table.unmap(&mut KernelPhysMem, va) {
            Ok((_, _, _, flush)) => {
                tlb::settle(root, flush);
                true
            }
            Err(_) => false,
        }
    }

    /// Maps `new` where a move broke a mapping.
    fn make_after_move(&mut self, va: VirtAddr, new: PhysAddr, flags: PteFlags) -> bool {
        let root = self.root();
        match self
            .table
            .map(&mut KernelPhysMem, va, new, PageSize::Size4K, flags)
        {
            Ok(flush) => {
                tlb::settle(root, flush);
                true
            }
            Err(_) => false,
        }
    }
}

/// Moves a frame mapped more than once to its target tier. `spaces` must be every
/// address space that may map it, all locked by the caller (so no fault can map the old
/// frame meanwhile); `maps` its mappings as [`AddressSpace::mappings_of`] found them.
/// The reference count must equal the mappings found plus the shared page map's own
/// reference: anything else holds the frame in a way the move cannot fix, so it is
/// pinned.
pub fn move_shared(
    spaces: &mut [&mut AddressSpace],
    d: &Deferred,
    maps: &[(usize, VirtAddr, PteFlags)],
) -> Result<(), MoveError> {
    if maps.is_empty() {
        return Err(MoveError::Gone);
    }
    // The map's lock is held across the move so a fault in a space that maps the object
    // but not yet this page waits instead of mapping the old frame.
    let mut shared_guard = match &d.shared {
        Some((pages, index)) => {
            if pages.granted.load(Ordering::Acquire) > 0 {
                return Err(MoveError::Pinned);
            }
            let g = pages.lock();
            if g.get(index) != Some(&d.pa) {
                return Err(MoveError::Gone);
            }
            Some((g, *index))
        }
        None => None,
    };
    let expected = maps.len() as u64 + u64::from(shared_guard.is_some());
    if u64::from(physmem::refs(d.pa)) != expected {
        return Err(MoveError::Pinned);
    }
    let new = physmem::alloc_on(d.to).ok_or(MoveError::NoRoom)?;
    for &(s, va, _) in maps {
        if !spaces[s].break_for_move(va) {
            log::error!("migrate: a mapping of {:?} vanished under the locks", d.pa);
        }
    }
    physmem::copy_frame(d.pa, new);
    pmm::set_heat(new, pmm::heat(d.pa));
    // `new` starts with one reference: the shared map's, else the first mapping's.
    let mut first = shared_guard.is_none();
    for &(s, va, flags) in maps {
        if !first {
            physmem::retain(new);
        }
        first = false;
        if !spaces[s].make_after_move(va, new, flags) {
            log::error!("migrate: remapping {va:?} failed");
            physmem::release(new);
        }
    }
    if let Some((g, index)) = shared_guard.as_mut() {
        if let Some(slot) = g.get_mut(index) {
            *slot = new;
        }
    }
    drop(shared_guard);
    for _ in 0..expected {
        physmem::release(d.pa);
    }
    Ok(())
}
