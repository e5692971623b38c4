//! System-wide counters of the AI subsystem, for `ai_info(INFO_TOTALS)`: tensors and
//! their bytes and pages per tier, kept by the objects themselves as they are made and
//! freed. Plain atomics: nothing here locks or allocates.

use core::sync::atomic::{AtomicU64, Ordering};

use wayos_abi::ai::AiTotals;

use crate::mm::pmm::Tier;

pub(super) static TENSORS: AtomicU64 = AtomicU64::new(0);
pub(super) static TENSOR_BYTES: AtomicU64 = AtomicU64::new(0);
pub(super) static TIER_PAGES: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
pub(super) static TENSORS_CREATED: AtomicU64 = AtomicU64::new(0);

/// Graphs alive and jobs queued or running, kept by the graph and queue objects.
pub static GRAPHS: AtomicU64 = AtomicU64::new(0);
pub static JOBS: AtomicU64 = AtomicU64::new(0);
/// Accelerator workers started.
pub static ACCELS: AtomicU64 = AtomicU64::new(0);

/// Counts a tensor of `bytes` on `pages` pages of `tier` in.
pub(super) fn tensor_made(bytes: u64, pages: u64, tier: Tier) {
    TENSORS.fetch_add(1, Ordering::Relaxed);
    TENSORS_CREATED.fetch_add(1, Ordering::Relaxed);
    TENSOR_BYTES.fetch_add(bytes, Ordering::Relaxed);
    TIER_PAGES[tier.index()].fetch_add(pages, Ordering::Relaxed);
}

/// Counts it out again.
pub(super) fn tensor_freed(bytes: u64, pages: u64, tier: Tier) {
    TENSORS.fetch_sub(1, Ordering::Relaxed);
    TENSOR_BYTES.fetch_sub(bytes, Ordering::Relaxed);
    TIER_PAGES[tier.index()].fetch_sub(pages, Ordering::Relaxed);
}

/// The totals now.
pub fn totals() -> AiTotals {
    AiTotals {
        tensors: TENSORS.load(Ordering::Relaxed),
        tensor_bytes: TENSOR_BYTES.load(Ordering::Relaxed),
        near_pages: TIER_PAGES[Tier::Near.index()].load(Ordering::Relaxed),
        far_pages: TIER_PAGES[Tier::Far.index()].load(Ordering::Relaxed),
        tensors_created: TENSORS_CREATED.load(Ordering::Relaxed),
        graphs: GRAPHS.load(Ordering::Relaxed),
        jobs: JOBS.load(Ordering::Relaxed),
        accels: ACCELS.load(Ordering::Relaxed),
    }
}
