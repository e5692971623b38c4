//! The physical memory manager: one buddy allocator per memory tier.
//!
//! Tier 0 is near memory (DDR), tier 1 far memory (the seed's "VRAM-sim"); the boot memory
//! map says which usable region belongs to which. For each tier, [`init`] takes the span
//! from the tier's lowest to its highest usable frame, carves the span's frame
//! descriptors (16 bytes per 4 KiB frame) out of the tier's own largest usable region, and
//! hands every other usable frame to that tier's [`BuddyAllocator`]. Holes inside a span
//! (firmware, MMIO, the kernel image) keep a descriptor but stay reserved forever.
//!
//! The algorithm lives in `wayos_kcore::buddy` and is unit-tested on the host; this module
//! adds the locks, the direct map and typed addresses. Each tier sits behind its own
//! `crate::sync::Mutex`, which also guards the frames' reference counts.
//!
//! What must never happen here: handing out a frame twice, or a bad free corrupting the
//! free lists. Bad frees come back as [`FreeError`]s; the page-sized helpers for the VMM
//! log them (they are kernel bugs) and leave the frame alone. Physical frame 0 is never
//! handed out, so a zero physical address can never name an allocated frame.

use core::mem::size_of;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::direct;
use crate::sync::Mutex;
use wayos_kcore::boot_info::{BootInfo, MemoryKind};
use wayos_kcore::buddy::{
    BuddyAllocator, FrameDesc, FreeError, OutOfMemory, Pfn, RefError, Stats, MAX_ORDER, PAGE_SIZE,
};
use wayos_kcore::paging::PhysAddr;

/// Number of memory tiers.
pub const TIERS: usize = 2;

/// A memory tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// Tier 0: near memory (DDR).
    Near,
    /// Tier 1: far memory.
    Far,
}

impl Tier {
    pub const ALL: [Tier; TIERS] = [Tier::Near, Tier::Far];

    pub const fn index(self) -> usize {
        match self {
            Tier::Near => 0,
            Tier::Far => 1,
        }
    }

    /// The tier of a memory-map region: 0 is near, anything else far.
    pub const fn from_map(tier: u8) -> Tier {
        if tier == 0 {
            Tier::Near
        } else {
            Tier::Far
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Tier::Near => "tier0 (near)",
            Tier::Far => "tier1 (far)",
        }
    }
}

/// A 4 KiB page frame: the first frame of a block the PMM handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Frame(Pfn);

impl Frame {
    /// The frame holding physical address `pa`.
    pub const fn containing(pa: PhysAddr) -> Frame {
        Frame(Pfn::containing(pa.as_u64()))
    }

    /// The physical address of the frame's first byte.
    pub const fn start(self) -> PhysAddr {
        PhysAddr::new(self.0.addr())
    }

    /// The frame's first byte through the direct map.
    pub fn as_ptr(self) -> *mut u8 {
        direct::ptr(self.start())
    }
}

/// Bytes in a block of `order`.
pub const fn block_bytes(order: u8) -> u64 {
    PAGE_SIZE << order
}

static ALLOCATORS: [Mutex<Option<BuddyAllocator<'static>>>; TIERS] =
    [const { Mutex::new(None) }; TIERS];

/// Each tier's span as `(first, end)` frame numbers, readable without a tier lock so
/// placement statistics can classify a frame cheaply ([`tier_of`]).
static SPANS: [[AtomicU64; 2]; TIERS] = [const { [const { AtomicU64::new(0) }; 2] }; TIERS];

/// Free frames across all tiers, kept beside the allocators so the page-fault path can
/// check the kernel reserve without walking every tier's statistics.
static FREE_PAGES: AtomicUsize = AtomicUsize::new(0);

/// Builds each tier's allocator from the memory map. Called once by `mm::init`.
pub fn init(info: &BootInfo) {
    for tier in Tier::ALL {
        let Some(alloc) = build_tier(info, tier) else {
            continue;
        };
        let s = alloc.stats();
        let usable_pages = usable_ranges(info, tier)
            .map(|(lo, hi)| hi - lo)
            .sum::<u64>();
        let desc_pages = desc_pages(alloc.span_len());
        log::info!(
            "{}: {} MiB total, {} MiB free; {} frames in span {:#x}-{:#x}, descriptors {} KiB",
            tier.name(),
            usable_pages >> 8,
            s.free_pages() >> 8,
            s.span_pages,
            alloc.base().addr(),
            alloc.base().addr() + block_bytes(0) * s.span_pages as u64,
            (desc_pages * PAGE_SIZE) >> 10
        );
        FREE_PAGES.fetch_add(s.free_pages(), Ordering::Relaxed);
        SPANS[tier.index()][0].store(alloc.base().0, Ordering::Relaxed);
        SPANS[tier.index()][1].store(alloc.base().0 + s.span_pages as u64, Ordering::Relaxed);
        *ALLOCATORS[tier.index()].lock() = Some(alloc);
    }
    if Tier::ALL
        .iter()
        .all(|t| ALLOCATORS[t.index()].lock().is_none())
    {
        log::error!("no usable memory in any tier; every allocation will fail");
    }
}

/// The usable frames of `tier` as page-rounded `(first, end)` frame numbers, without
/// frame 0.
fn usable_ranges(info: &BootInfo, tier: Tier) -> impl Iterator<Item = (u64, u64)> + '_ {
    info.memory_map
        .regions()
        .iter()
        .filter(move |r| r.kind == MemoryKind::Usable && Tier::from_map(r.tier) == tier)
        .filter_map(|r| {
            let lo = r.base.div_ceil(PAGE_SIZE).max(1);
            let hi = r.end() / PAGE_SIZE;
            (hi > lo).then_some((lo, hi))
        })
}

/// Pages holding `frames` descriptors.
fn desc_pages(frames: usize) -> u64 {
    (frames as u64 * size_of::<FrameDesc>() as u64).div_ceil(PAGE_SIZE)
}

fn build_tier(info: &BootInfo, tier: Tier) -> Option<BuddyAllocator<'static>> {
    let lo = usable_ranges(info, tier).map(|(lo, _)| lo).min()?;
    let hi = usable_ranges(info, tier).map(|(_, hi)| hi).max()?;
    let Ok(span) = usize::try_from(hi - lo) else {
        log::error!("{}: span too large; tier unused", tier.name());
        return None;
    };
    let need = desc_pages(span);
    // The descriptors live at the start of the tier's largest usable region.
    let home = usable_ranges(info, tier).max_by_key(|&(lo, hi)| hi - lo)?;
    if home.1 - home.0 < need {
        log::error!(
            "{}: no usable region holds {} KiB of frame descriptors; tier unused",
            tier.name(),
            (need * PAGE_SIZE) >> 10
        );
        return None;
    }
    let ptr = direct::ptr::<FrameDesc>(PhysAddr::new(Pfn(home.0).addr()));
    // SAFETY: the `need` pages at `home.0` are usable RAM of this tier (memory map), mapped
    // read/write by the direct map, page aligned (so aligned for FrameDesc), and nothing
    // else uses them: they are never added to any allocator below, and this runs once.
    let descs = unsafe { descriptor_array(ptr, span) };
    let mut alloc = BuddyAllocator::new(descs, lo);
    for (first, end) in usable_ranges(info, tier) {
        let first = if first == home.0 { first + need } else { first };
        if let Err(e) = alloc.add_free_range(Pfn(first), end.saturating_sub(first)) {
            // Overlapping map entries: keep the first claim, skip the rest.
            log::warn!("{}: {e}; range skipped", tier.name());
        }
    }
    Some(alloc)
}

/// Initialises `count` descriptors at `ptr` and lends them out for the kernel's lifetime.
///
/// # Safety
///
/// `ptr` must be aligned for [`FrameDesc`] and point to `count * size_of::<FrameDesc>()`
/// bytes of writable memory that nothing else uses, now or later.
unsafe fn descriptor_array(ptr: *mut FrameDesc, count: usize) -> &'static mut [FrameDesc] {
    for i in 0..count {
        // SAFETY: `i < count`, inside the caller's exclusive, aligned range.
        unsafe { ptr.add(i).write(FrameDesc::RESERVED) };
    }
    // SAFETY: all `count` elements were just initialised; the caller gives up the range.
    unsafe { core::slice::from_raw_parts_mut(ptr, count) }
}

/// Allocates `2^order` physically contiguous frames from `tier`, aligned to their size.
/// The block's reference count starts at 1. The memory holds whatever it held before.
pub fn alloc_frames(tier: Tier, order: u8) -> Result<Frame, OutOfMemory> {
    if order > MAX_ORDER {
        return Err(OutOfMemory { order });
    }
    let frame = match ALLOCATORS[tier.index()].lock().as_mut() {
        Some(alloc) => alloc.alloc(order).map(Frame),
        None => Err(OutOfMemory { order }),
    }?;
    FREE_PAGES.fetch_sub(1 << order, Ordering::Relaxed);
    Ok(frame)
}

/// As [`alloc_frames`], with the block zero-filled.
pub fn alloc_frames_zeroed(tier: Tier, order: u8) -> Result<Frame, OutOfMemory> {
    let frame = alloc_frames(tier, order)?;
    // SAFETY: the block is fresh from the PMM, so ours alone, and the direct map covers
    // all `block_bytes(order)` bytes of it.
    unsafe { core::ptr::write_bytes(frame.as_ptr(), 0, block_bytes(order) as usize) };
    Ok(frame)
}

/// Allocates `count` physically contiguous frames from `tier`, each its own order-0
/// block with reference count 1 (see `BuddyAllocator::alloc_run`), zero-filled. Each
/// frame is given back on its own (`physmem::release`, [`free_page`]).
pub fn alloc_run_zeroed(tier: Tier, count: usize) -> Result<Frame, OutOfMemory> {
    let frame = match ALLOCATORS[tier.index()].lock().as_mut() {
        Some(alloc) => alloc.alloc_run(count as u64).map(Frame),
        None => Err(OutOfMemory { order: 0 }),
    }?;
    FREE_PAGES.fetch_sub(count, Ordering::Relaxed);
    // SAFETY: the run is fresh from the PMM, so ours alone, and the direct map covers
    // all `count` frames of it.
    unsafe { core::ptr::write_bytes(frame.as_ptr(), 0, count * PAGE_SIZE as usize) };
    Ok(frame)
}

/// Whether `tier` has any memory on this machine.
pub fn has_tier(tier: Tier) -> bool {
    ALLOCATORS[tier.index()].lock().is_some()
}

/// The tier whose span holds the frame at `pa` (`None`: no tier's). Spans of the two
/// tiers do not overlap on the machines we boot; were they to, the allocators decide.
pub fn tier_of(pa: PhysAddr) -> Option<Tier> {
    let pfn = pa.as_u64() / PAGE_SIZE;
    let inside = |t: Tier| {
        let [lo, hi] = &SPANS[t.index()];
        lo.load(Ordering::Relaxed) <= pfn && pfn < hi.load(Ordering::Relaxed)
    };
    match (inside(Tier::Near), inside(Tier::Far)) {
        (true, false) => Some(Tier::Near),
        (false, true) => Some(Tier::Far),
        (false, false) => None,
        (true, true) => Tier::ALL.into_iter().find(|t| {
            ALLOCATORS[t.index()]
                .lock()
                .as_ref()
                .is_some_and(|a| a.owns(Pfn(pfn)))
        }),
    }
}

/// Returns the block of `2^order` frames at `frame` to the tier that owns it.
pub fn free_frames(frame: Frame, order: u8) -> Result<(), FreeError> {
    with_owner(frame.0, |alloc| alloc.free(frame.0, order))
        .unwrap_or(Err(FreeError::Foreign { pfn: frame.0 }))?;
    FREE_PAGES.fetch_add(1 << order, Ordering::Relaxed);
    Ok(())
}

/// The counters of `tier`, or `None` when the tier has no memory.
pub fn stats(tier: Tier) -> Option<Stats> {
    ALLOCATORS[tier.index()].lock().as_ref().map(|a| a.stats())
}

/// [`stats`] if the tier's lock is free now (`None` too when it is not).
pub fn try_stats(tier: Tier) -> Option<Stats> {
    ALLOCATORS[tier.index()]
        .try_lock()?
        .as_ref()
        .map(|a| a.stats())
}

/// Runs `f` on the allocator of the tier that manages `pfn`, under its lock.
fn with_owner<T>(pfn: Pfn, f: impl FnOnce(&mut BuddyAllocator<'static>) -> T) -> Option<T> {
    for tier in Tier::ALL {
        let mut guard = ALLOCATORS[tier.index()].lock();
        if let Some(alloc) = guard.as_mut().filter(|a| a.owns(pfn)) {
            return Some(f(alloc));
        }
    }
    None
}

// Single-frame helpers in the shape the VMM (`mm::physmem`) uses: one 4 KiB frame named
// by its physical address, near memory first, errors logged rather than returned (a bad free or refcount
// change there is a kernel bug, and the frame is left as it was).

/// One 4 KiB frame (reference count 1) from near memory, else far memory.
pub fn alloc_page() -> Option<PhysAddr> {
    Tier::ALL
        .iter()
        .find_map(|&t| alloc_frames(t, 0).ok())
        .map(Frame::start)
}

/// Free 4 KiB frames across all tiers.
pub fn free_pages() -> usize {
    FREE_PAGES.load(Ordering::Relaxed)
}

/// Frees one 4 KiB frame from [`alloc_page`].
pub fn free_page(pa: PhysAddr) {
    if let Err(e) = free_frames(Frame::containing(pa), 0) {
        log::error!("{e}");
    }
}

/// Adds a reference to the frame at `pa`; returns the new count (0 on error).
pub fn ref_inc(pa: PhysAddr) -> u32 {
    ref_op(pa, 0, |a, p| a.inc_ref(p))
}

/// Drops a reference to the frame at `pa`; returns the new count. The frame stays
/// allocated at 0: the caller frees it. On error nothing changes and 1 is returned, so a
/// caller never frees a frame it got wrong.
pub fn ref_dec(pa: PhysAddr) -> u32 {
    ref_op(pa, 1, |a, p| a.dec_ref(p))
}

/// The reference count of the frame at `pa` (0 if it is not allocated).
pub fn ref_count(pa: PhysAddr) -> u32 {
    ref_op(pa, 0, |a, p| a.refcount(p))
}

fn ref_op(
    pa: PhysAddr,
    on_error: u32,
    op: impl FnOnce(&mut BuddyAllocator<'static>, Pfn) -> Result<u32, RefError>,
) -> u32 {
    let pfn = Pfn::containing(pa.as_u64());
    match with_owner(pfn, |a| op(a, pfn)).unwrap_or(Err(RefError::Foreign { pfn })) {
        Ok(n) => n,
        Err(e) => {
            log::error!("{e}");
            on_error
        }
    }
}

/// The migration daemon's hotness byte of the allocated frame at `pa` (0 on error).
pub fn heat(pa: PhysAddr) -> u8 {
    let pfn = Pfn::containing(pa.as_u64());
    with_owner(pfn, |a| a.heat(pfn).unwrap_or(0)).unwrap_or(0)
}

/// Sets the hotness byte of the allocated frame at `pa`; ignored when it is not one.
pub fn set_heat(pa: PhysAddr, heat: u8) {
    let pfn = Pfn::containing(pa.as_u64());
    let _ = with_owner(pfn, |a| a.set_heat(pfn, heat));
}
