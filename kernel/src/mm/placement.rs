//! Memory-tier placement: the one place a user page's frame is chosen.
//!
//! Owns the firmware's tier description (set once at boot from `BootInfo::topology`), the
//! system default policy, the per-tier fallback counters and the daemon settings that
//! `memtier_set` changes. Every user page the kernel makes — a demand-zero fault, a
//! copy-on-write copy, a shared page's first touch, a tensor's run — comes from
//! [`alloc_page`] / [`alloc_run`] with the policy in force: the mapping's, else the
//! process's, else the system's (`wayos_kcore::placement::effective`). When the tier a
//! policy asks for is full, the other tier is used and the wanted tier's fallback counter
//! goes up; a machine with one tier never counts fallbacks.
//!
//! Must never: hand out a user page below the kernel's reserve (`mm::reserve`), take a
//! lock while a tier lock is held, or allocate from the heap.
//!
//! The migration daemon (issue 16's second part) moves pages that are already present;
//! [`request_move`] is where `mem_advise` asks it to.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use spin::Once;
use wayos_abi::memtier::{self, DaemonInfo, TierInfo, POLICY_NEAR, TIER_FAR, TIER_NEAR};
use wayos_kcore::memtopo::Topology;
use wayos_kcore::paging::PhysAddr;
use wayos_kcore::placement;

use super::pmm::{self, Tier};
use super::{direct, reserve};

static TOPOLOGY: Once<Topology> = Once::new();

/// The system default policy (`memtier_set(SET_DEFAULT_POLICY)`), never `POLICY_DEFAULT`.
static SYSTEM_DEFAULT: AtomicU32 = AtomicU32::new(POLICY_NEAR);

/// Allocations that wanted tier `i` and got the other because `i` was full.
static FALLBACKS: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

/// Simulated cost of one access to a page of each tier, in ns (`mm::migrate`'s cost
/// model; 0 near, and 0 far until `init` finds two tiers).
pub static ACCESS_COST_NS: [AtomicU32; 2] = [const { AtomicU32::new(0) }; 2];

fn tier(index: u32) -> Tier {
    if index == TIER_FAR {
        Tier::Far
    } else {
        Tier::Near
    }
}

/// Records the firmware's tiers and says in the boot log what the machine has.
pub fn init(topology: &Topology) {
    let t = TOPOLOGY.call_once(|| *topology);
    let source = match t.source {
        memtier::SOURCE_ACPI => "ACPI SRAT/HMAT",
        memtier::SOURCE_DEVICE_TREE => "device-tree NUMA nodes",
        _ => "no firmware tables",
    };
    if t.two_tiers() && pmm::has_tier(Tier::Far) {
        ACCESS_COST_NS[Tier::Far.index()].store(
            super::migrate::far_access_cost_ns(
                t.tiers[0].read_latency_ns,
                t.tiers[1].read_latency_ns,
            ),
            Ordering::Relaxed,
        );
        log::info!(
            "memtier: two tiers from {source}: near node {} ({} ns, {} MB/s), far node {} ({} ns, {} MB/s)",
            t.tiers[0].node,
            t.tiers[0].read_latency_ns,
            t.tiers[0].bandwidth_mbps,
            t.tiers[1].node,
            t.tiers[1].read_latency_ns,
            t.tiers[1].bandwidth_mbps
        );
    } else {
        log::info!("memtier: one tier ({source}: no far memory)");
    }
}

/// The tiers as firmware described them (flat before [`init`]).
pub fn topology() -> Topology {
    TOPOLOGY.get().copied().unwrap_or_default()
}

/// The system default policy.
pub fn system_default() -> u32 {
    SYSTEM_DEFAULT.load(Ordering::Relaxed)
}

/// Sets the system default policy; `None` (and no change) unless it names a real one.
pub fn set_system_default(policy: u32) -> Option<u32> {
    placement::valid_system_policy(policy).then(|| SYSTEM_DEFAULT.swap(policy, Ordering::Relaxed))
}

/// The policy in force for a page of a mapping with `mapping` policy in a process whose
/// default is `process`.
pub fn effective(mapping: u32, process: u32) -> u32 {
    placement::effective(mapping, process, system_default())
}

/// One frame from `want`, else from the other tier (counting a fallback when `want`
/// exists but is full). Reference count 1, contents undefined.
fn alloc_frame(want: Tier) -> Option<PhysAddr> {
    if let Ok(f) = pmm::alloc_frames(want, 0) {
        return Some(f.start());
    }
    let other = tier(placement::other_tier(want.index() as u32));
    let f = pmm::alloc_frames(other, 0).ok()?;
    if pmm::has_tier(want) {
        FALLBACKS[want.index()].fetch_add(1, Ordering::Relaxed);
    }
    Some(f.start())
}

/// A user page for the page at `index` of a mapping under `policy` (already resolved with
/// [`effective`]), zero-filled, or a copy of `copy_from`. `None` when only the kernel's
/// reserve is left or both tiers are empty.
pub fn alloc_page(policy: u32, index: u64, copy_from: Option<PhysAddr>) -> Option<PhysAddr> {
    if !reserve::user_page_available() {
        return None;
    }
    let pa = alloc_frame(tier(placement::preferred_tier(policy, index)))?;
    let to = direct::ptr::<u8>(pa);
    match copy_from {
        // SAFETY: `from` is a live frame the caller holds a reference to, `pa` a fresh
        // one only we know; both are whole pages in the direct map.
        Some(from) => unsafe { core::ptr::copy_nonoverlapping(direct::ptr::<u8>(from), to, 4096) },
        // SAFETY: a fresh frame from the PMM, owned by us, mapped by the direct map.
        None => unsafe { core::ptr::write_bytes(to, 0, 4096) },
    }
    Some(pa)
}

/// The tier a run of contiguous frames should come from, then the one to try when that
/// has no such run (a fallback: [`count_fallback`]). For tensors, whose run must sit in
/// one tier.
pub fn run_tiers(want_far: bool) -> [Tier; 2] {
    let want = if want_far && pmm::has_tier(Tier::Far) {
        Tier::Far
    } else {
        Tier::Near
    };
    [want, tier(placement::other_tier(want.index() as u32))]
}

/// Counts a fallback from `wanted` (a run taken from the other tier).
pub fn count_fallback(wanted: Tier) {
    if pmm::has_tier(wanted) {
        FALLBACKS[wanted.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// One record per tier with memory, near first, into `out`; returns how many.
pub fn tier_infos(out: &mut [TierInfo; 2]) -> usize {
    let topo = topology();
    let mut n = 0;
    for t in Tier::ALL {
        let Some(s) = pmm::stats(t) else { continue };
        let desc = topo.tiers[t.index()];
        out[n] = TierInfo {
            tier: t.index() as u32,
            node: desc.node,
            total_pages: (s.free_pages() + s.used_pages()) as u64,
            free_pages: s.free_pages() as u64,
            read_latency_ns: desc.read_latency_ns,
            bandwidth_mbps: desc.bandwidth_mbps,
            fallbacks: FALLBACKS[t.index()].load(Ordering::Relaxed),
            source: topo.source,
            access_cost_ns: ACCESS_COST_NS[t.index()].load(Ordering::Relaxed),
        };
        n += 1;
    }
    n
}

/// The daemon's record (`mm::migrate`, which reports the system default policy too).
pub fn daemon_info() -> DaemonInfo {
    super::migrate::info()
}

/// Whether the frame at `pa` is near (`TIER_NEAR`) or far memory, for placement counts.
pub fn tier_index_of(pa: PhysAddr) -> u32 {
    match pmm::tier_of(pa) {
        Some(Tier::Far) => TIER_FAR,
        _ => TIER_NEAR,
    }
}

/// `mem_advise` gave `pages` pages at `start` of the calling address space (whose root
/// is `root`) a new policy: pages already present should move to its tier. Pages faulted
/// in from now on follow the policy by themselves; moving present ones is the migration
/// daemon's job (`mm::migrate::request_move`): near and far name a tier; interleave and
/// auto name none, and default follows another policy, so those queue nothing.
pub fn request_move(root: PhysAddr, start: u64, pages: u64, policy: u32) {
    let to = match policy {
        memtier::POLICY_NEAR => Tier::Near,
        memtier::POLICY_FAR => Tier::Far,
        _ => return,
    };
    if !super::migrate::request_move(root, start, pages, to) {
        log::debug!("memtier: move request queue full; pages stay until the daemon sees them");
    }
}
