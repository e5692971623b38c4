//! In-kernel checks of page migration (`boottest`): moves of private, copy-on-write and
//! MAP_SHARED frames fix every mapping and keep the data and the sharing semantics;
//! pinned frames stay; the settings keep their bounds. They drive the mover directly on
//! address spaces built here, so they need no second tier (with one, frames move within
//! it: the mechanism is the same) and no user program; the daemon's sampling and
//! choices are checked from user space by `umemtest`'s migration checks.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use wayos_abi::ipc::MEM_RIGHTS_ALL;
use wayos_abi::memtier::{SET_BUDGET_PAGES, SET_ENABLED, SET_PERIOD_MS};
use wayos_kcore::paging::{PhysAddr, PteFlags, VirtAddr};

use crate::mm::physmem;
use crate::mm::pmm::{self, Tier};
use crate::mm::run::PageRun;
use crate::mm::space::{AddressSpace, FrameRun, MapRequest, MoveError, Prot, ScanCounts};

type Check = (&'static str, fn() -> Result<(), &'static str>);

pub const CHECKS: &[Check] = &[
    (
        "migrate_moves_cow_and_shared_frames_everywhere",
        moves_cow_and_shared_frames_everywhere,
    ),
    ("migrate_moves_a_private_page", moves_a_private_page),
    ("migrate_leaves_pinned_frames", leaves_pinned_frames),
    ("migrate_settings_have_bounds", settings_have_bounds),
];

const P: usize = 4096;

/// Where a move of `pa` goes: the other tier when there are two, else its own.
fn target_for(pa: PhysAddr) -> Tier {
    match pmm::tier_of(pa) {
        Some(Tier::Near) if pmm::has_tier(Tier::Far) => Tier::Far,
        Some(Tier::Far) if pmm::has_tier(Tier::Near) => Tier::Near,
        Some(t) => t,
        None => Tier::Near,
    }
}

/// A page of bytes that differ per page and per position.
fn pattern(tag: u8) -> Vec<u8> {
    (0..P)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(tag))
        .collect()
}

/// The bytes of the page mapped at `va` in `space`, through the direct map.
fn page_bytes(space: &AddressSpace, va: usize) -> Option<Vec<u8>> {
    let (pa, _) = space.frame_at(va)?;
    let p = crate::mm::direct::ptr::<u8>(pa);
    // SAFETY: `pa` is a live frame mapped by `space`, which the caller owns; the direct
    // map covers all of it; nothing writes it while this reads (no CPU runs `space`).
    Some(unsafe { core::slice::from_raw_parts(p, P) }.to_vec())
}

fn anon(space: &mut AddressSpace, pages: usize, shared: bool) -> Result<usize, &'static str> {
    space
        .mmap(MapRequest {
            addr: None,
            len: pages * P,
            prot: Prot::READ | Prot::WRITE,
            shared,
            fixed: false,
            no_replace: false,
            policy: 0,
        })
        .map_err(|_| "mmap failed")
}

fn new_space() -> Result<AddressSpace, &'static str> {
    AddressSpace::new().map_err(|_| "no memory for an address space")
}

/// After fork, a copy-on-write frame (parent and child) and a MAP_SHARED frame (parent,
/// child and the shared page map) move in one go: every mapping names the same new
/// frame, on the target tier, with the old flags and the same bytes; the old frames are
/// freed; afterwards a write to the CoW page stays private and one to the shared page
/// is seen by both.
fn moves_cow_and_shared_frames_everywhere() -> Result<(), &'static str> {
    let mut a = new_space()?;
    let priv_va = anon(&mut a, 1, false)?;
    let shared_va = anon(&mut a, 1, true)?;
    a.write_bytes(priv_va, &pattern(1))
        .map_err(|_| "write failed")?;
    a.write_bytes(shared_va, &pattern(2))
        .map_err(|_| "write failed")?;
    let mut b = a.fork().map_err(|_| "fork failed")?;
    let (old_priv, _) = a.frame_at(priv_va).ok_or("private page not mapped")?;
    let (old_shared, _) = a.frame_at(shared_va).ok_or("shared page not mapped")?;
    if physmem::refs(old_priv) != 2 || physmem::refs(old_shared) != 3 {
        return Err("unexpected reference counts before the move");
    }
    let (to_priv, to_shared) = (target_for(old_priv), target_for(old_shared));
    let mut deferred = vec![
        a.deferred_for(priv_va, to_priv)
            .map_err(|_| "CoW page refused")?,
        a.deferred_for(shared_va, to_shared)
            .map_err(|_| "shared page refused")?,
    ];
    let free_before = pmm::free_pages();
    let mut counts = ScanCounts::default();
    super::move_frames(&mut [&mut a, &mut b], &mut deferred, &mut counts);
    if counts.promoted + counts.demoted != 2 || counts.skipped_pinned != 0 {
        return Err("not both frames were moved");
    }
    if pmm::free_pages() != free_before {
        return Err("a move did not free the old frame (or leaked the new one)");
    }
    for (va, old, to, refs, tag) in [
        (priv_va, old_priv, to_priv, 2, 1),
        (shared_va, old_shared, to_shared, 3, 2),
    ] {
        let (na, fa) = a.frame_at(va).ok_or("parent mapping lost")?;
        let (nb, fb) = b.frame_at(va).ok_or("child mapping lost")?;
        if na != nb || na == old {
            return Err("parent and child do not both name the new frame");
        }
        if pmm::tier_of(na) != Some(to) {
            return Err("the new frame is not on the target tier");
        }
        if physmem::refs(na) != refs {
            return Err("the new frame's reference count is not the old one's");
        }
        let cow = va == priv_va;
        if fa.contains(PteFlags::COW) != cow || fb.contains(PteFlags::COW) != cow {
            return Err("the mappings' flags changed");
        }
        if page_bytes(&a, va) != Some(pattern(tag)) || page_bytes(&b, va) != Some(pattern(tag)) {
            return Err("the data changed in the move");
        }
    }
    // Copy-on-write still copies: the parent's write is not the child's.
    a.write_bytes(priv_va, b"parent")
        .map_err(|_| "write failed")?;
    if b.frame_at(priv_va).map(|f| f.0) == a.frame_at(priv_va).map(|f| f.0) {
        return Err("a write to a moved CoW page did not copy it");
    }
    if page_bytes(&b, priv_va) != Some(pattern(1)) {
        return Err("the parent's write reached the child's moved CoW page");
    }
    // Shared still shares: the parent's write is the child's.
    a.write_bytes(shared_va, b"both")
        .map_err(|_| "write failed")?;
    if page_bytes(&b, shared_va).map(|v| v[..4].to_vec()) != Some(b"both".to_vec()) {
        return Err("a write to a moved shared page was not seen by the other space");
    }
    Ok(())
}

/// A private page (the only mapping of its frame) moves with its data and flags; the
/// old frame goes back to the allocator.
fn moves_a_private_page() -> Result<(), &'static str> {
    let mut a = new_space()?;
    let va = anon(&mut a, 2, false)?;
    a.write_bytes(va + P, &pattern(7))
        .map_err(|_| "write failed")?;
    let (old, flags) = a.frame_at(va + P).ok_or("page not mapped")?;
    let to = target_for(old);
    let free_before = pmm::free_pages();
    a.move_private(VirtAddr::new((va + P) as u64), old, flags, to)
        .map_err(|_| "the move was refused")?;
    let (new, nflags) = a.frame_at(va + P).ok_or("mapping lost")?;
    if new == old || nflags != flags || pmm::tier_of(new) != Some(to) {
        return Err("the page was not remapped to a new frame on the target tier");
    }
    if pmm::free_pages() != free_before || physmem::refs(new) != 1 {
        return Err("reference counts or free pages are off after the move");
    }
    if page_bytes(&a, va + P) != Some(pattern(7)) {
        return Err("the data changed in the move");
    }
    // A stale request (the page moved meanwhile) changes nothing.
    if a.move_private(VirtAddr::new((va + P) as u64), old, flags, to) != Err(MoveError::Gone) {
        return Err("a stale move was not refused");
    }
    Ok(())
}

/// A tensor-like run of frames, as `map_run` shows them.
struct Run(PageRun);

impl FrameRun for Run {
    fn pages(&self) -> u64 {
        self.0.pages() as u64
    }
    fn frame(&self, index: u64) -> Option<PhysAddr> {
        self.0.frame(index)
    }
}

/// A page of a granted object, a tensor run's page, and a frame with a reference the
/// page tables do not explain (a kernel holder such as DMA) are never moved; once the
/// grant is gone its page is movable again.
fn leaves_pinned_frames() -> Result<(), &'static str> {
    let mut a = new_space()?;
    let shared_va = anon(&mut a, 1, true)?;
    a.write_bytes(shared_va, &pattern(3))
        .map_err(|_| "write failed")?;
    let (pa, _) = a.frame_at(shared_va).ok_or("page not mapped")?;
    let obj = a
        .grant(shared_va, P, MEM_RIGHTS_ALL)
        .map_err(|_| "grant failed")?;
    if a.deferred_for(shared_va, target_for(pa)).err() != Some(MoveError::Pinned) {
        return Err("a granted page was offered for a move");
    }
    drop(obj);
    if a.deferred_for(shared_va, target_for(pa)).is_err() {
        return Err("a page whose grant is gone stays pinned");
    }

    let run = PageRun::alloc_zeroed(Tier::Near, 1).map_err(|_| "no memory for a run")?;
    let run_va = a
        .map_run(
            Arc::new(Run(run)),
            Prot::READ | Prot::WRITE,
            Prot::READ | Prot::WRITE,
            "tensor",
        )
        .map_err(|_| "map_run failed")?;
    a.write_bytes(run_va, b"tensor")
        .map_err(|_| "write failed")?;
    if a.deferred_for(run_va, Tier::Near).err() != Some(MoveError::Pinned) {
        return Err("a tensor page was offered for a move");
    }

    let va = anon(&mut a, 1, false)?;
    a.write_bytes(va, &pattern(4)).map_err(|_| "write failed")?;
    let (held, flags) = a.frame_at(va).ok_or("page not mapped")?;
    physmem::retain(held);
    let private = a.move_private(VirtAddr::new(va as u64), held, flags, target_for(held));
    let mut deferred = vec![a
        .deferred_for(va, target_for(held))
        .map_err(|_| "plain page refused")?];
    let mut counts = ScanCounts::default();
    super::move_frames(&mut [&mut a], &mut deferred, &mut counts);
    let still = a.frame_at(va).map(|f| f.0);
    physmem::release(held);
    if private != Err(MoveError::Pinned) || counts.skipped_pinned != 1 {
        return Err("a frame with an unexplained reference was not reported pinned");
    }
    if still != Some(held) {
        return Err("a frame with an unexplained reference was moved");
    }
    Ok(())
}

/// Out-of-range and unknown settings are refused and change nothing; a good one returns
/// the old value.
fn settings_have_bounds() -> Result<(), &'static str> {
    let before = super::info();
    for (param, value) in [
        (SET_ENABLED, 2),
        (SET_PERIOD_MS, 9),
        (SET_PERIOD_MS, 60_001),
        (SET_BUDGET_PAGES, 0),
        (SET_BUDGET_PAGES, u64::MAX),
        (99, 1),
    ] {
        if super::set(param, value).is_ok() {
            return Err("an out-of-range setting was accepted");
        }
    }
    let settings = |i: wayos_abi::memtier::DaemonInfo| (i.enabled, i.period_ms, i.budget_pages);
    if settings(super::info()) != settings(before) {
        return Err("a refused setting changed something");
    }
    let old = super::set(SET_BUDGET_PAGES, 77).map_err(|_| "a good setting was refused")?;
    let now = super::info().budget_pages;
    super::set(SET_BUDGET_PAGES, old).map_err(|_| "restoring failed")?;
    if old != u64::from(before.budget_pages) || now != 77 {
        return Err("set did not return the old value or store the new one");
    }
    Ok(())
}
