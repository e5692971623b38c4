//! [`Flush`]: the TLB invalidation a page-table change leaves owing.
//!
//! Owns the token and what it says (`va`, `size`, `stale`). Must never flush anything
//! itself (that is the kernel's TLB code) and must never offer a way to make the
//! obligation vanish: the type is `#[must_use]` and has no discarding method, so outside
//! the host tests a token ends only in the function that consumes it, the kernel's
//! `mm::tlb::settle` (or its batch and kernel-half variants), which is the one place that
//! decides whether to invalidate or why it need not.

use super::{PageSize, VirtAddr};

/// A TLB invalidation the caller owes after a page-table change.
///
/// `stale()` says whether a TLB may hold the old translation of [`va`](Self::va):
///
/// - `false` (from [`PageTable::map`](super::PageTable::map)): the entry was invalid, and neither ISA caches
///   invalid entries. Only ordering is needed before the mapping is used (aarch64
///   `dsb ishst; isb`; nothing on x86_64).
/// - `true` (from unmap and protect): invalidate `va` on every CPU where the tree is live
///   (x86_64 `invlpg` plus shootdown; aarch64 `tlbi vale1is` / `vaale1is`, then
///   `dsb ish; isb`). A last-level invalidation is enough: nothing here frees or replaces
///   an intermediate table of a live tree.
///
/// A tree no CPU has loaded owes nothing even when `stale()`; the consumer decides that,
/// not the caller.
#[must_use = "the TLB may still hold the old translation: hand this to the kernel's TLB code (`mm::tlb::settle`)"]
#[derive(Debug, PartialEq, Eq)]
pub struct Flush {
    va: VirtAddr,
    size: PageSize,
    stale: bool,
}

impl Flush {
    pub(super) fn new(va: VirtAddr, size: PageSize, stale: bool) -> Self {
        Flush { va, size, stale }
    }
    /// The first address of the changed leaf.
    pub fn va(&self) -> VirtAddr {
        self.va
    }
    /// The size of the changed leaf (one invalidation by any address inside it suffices on
    /// both ISAs).
    pub fn size(&self) -> PageSize {
        self.size
    }
    /// Whether a TLB may hold the old translation (see the type's documentation).
    pub fn stale(&self) -> bool {
        self.stale
    }
    /// Discards the obligation. Host tests only: their trees are never loaded by a CPU.
    #[cfg(test)]
    pub(crate) fn ignore(self) {}
}
