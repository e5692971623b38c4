//! Page runs: physically contiguous, zeroed memory a kernel object owns (a tensor's
//! contents), reached as one byte slice through the direct map and mappable into user
//! space page by page.
//!
//! A run's frames are separate order-0 PMM blocks (`pmm::alloc_run_zeroed`), so every
//! page keeps its own reference count: a user page-table entry that maps one takes a
//! reference like for any shared page, and a frame goes back to the PMM only when the run
//! and every mapping of it have let go. The run is contiguous so kernel code (the tensor
//! math) sees one `&[u8]`/`&mut [u8]` without a kernel window.
//!
//! Access to the bytes from kernel code goes through [`PageRun::read`] (shared) and
//! [`PageRun::write`] (exclusive), a reader-writer spin lock on the run, so two kernel
//! users never alias a `&mut`. Hold it only for bounded work, never across a user copy,
//! and never take it twice on one thread (a writer waiting for its own reader would spin
//! forever). User mappings are outside that lock by nature: what a program stores into a
//! mapped page while the kernel reads it is just data.
//!
//! Must never: hand out a frame the reserve (`mm::reserve`) keeps, or free a frame while
//! a reference to it is left.

use core::sync::atomic::{AtomicU32, Ordering};

use wayos_kcore::buddy::PAGE_SIZE;
use wayos_kcore::paging::PhysAddr;

use super::pmm::{self, Tier};
use super::{direct, physmem, reserve};
use crate::error::{Errno, KResult};

/// The writer bit of [`PageRun::access`]; the low bits count readers.
const WRITER: u32 = 1 << 31;

/// A physically contiguous run of zeroed frames; see the module docs.
pub struct PageRun {
    base: PhysAddr,
    pages: usize,
    tier: Tier,
    access: AtomicU32,
}

impl PageRun {
    /// `pages` contiguous zeroed frames on `tier` (`1..=2^MAX_ORDER` of them). `ENOMEM`
    /// when that would reach into the kernel reserve or no free run is large enough.
    pub fn alloc_zeroed(tier: Tier, pages: usize) -> KResult<PageRun> {
        if pages == 0 || !reserve::pages_available(pages) {
            return Err(Errno::ENOMEM);
        }
        let frame = pmm::alloc_run_zeroed(tier, pages).map_err(|_| Errno::ENOMEM)?;
        Ok(PageRun {
            base: frame.start(),
            pages,
            tier,
            access: AtomicU32::new(0),
        })
    }

    pub fn pages(&self) -> usize {
        self.pages
    }

    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// Bytes in the run (whole pages).
    pub fn len(&self) -> usize {
        self.pages * PAGE_SIZE as usize
    }

    /// The frame of page `index`, or `None` past the end.
    pub fn frame(&self, index: u64) -> Option<PhysAddr> {
        (index < self.pages as u64).then(|| self.base + index * PAGE_SIZE)
    }

    /// Runs `f` over the run's bytes, shared with other readers.
    pub fn read<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        let _g = self.lock_shared();
        // SAFETY: the frames are ours until `drop` (contiguous, direct-mapped, `len`
        // bytes, page aligned); the shared lock keeps every kernel writer out while the
        // slice lives.
        let bytes =
            unsafe { core::slice::from_raw_parts(direct::ptr::<u8>(self.base), self.len()) };
        f(bytes)
    }

    /// Runs `f` over the run's bytes, exclusively among kernel users.
    pub fn write<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let _g = self.lock_exclusive();
        // SAFETY: as in `read`; the exclusive lock keeps every other kernel reader and
        // writer out while the slice lives, so this is the only kernel reference.
        let bytes =
            unsafe { core::slice::from_raw_parts_mut(direct::ptr::<u8>(self.base), self.len()) };
        f(bytes)
    }

    fn lock_shared(&self) -> Guard<'_> {
        loop {
            let s = self.access.load(Ordering::Relaxed);
            if s & WRITER == 0
                && s < WRITER - 1
                && self
                    .access
                    .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return Guard {
                    access: &self.access,
                    release: 1,
                };
            }
            <crate::sync::Relax as spin::RelaxStrategy>::relax();
        }
    }

    fn lock_exclusive(&self) -> Guard<'_> {
        while self
            .access
            .compare_exchange_weak(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            <crate::sync::Relax as spin::RelaxStrategy>::relax();
        }
        Guard {
            access: &self.access,
            release: WRITER,
        }
    }
}

/// Gives a lock back on drop.
struct Guard<'a> {
    access: &'a AtomicU32,
    release: u32,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.access.fetch_sub(self.release, Ordering::Release);
    }
}

impl Drop for PageRun {
    fn drop(&mut self) {
        // Each frame goes back when its last reference does: now, unless a page-table
        // entry still maps it (the mapping then holds the run's owner anyway, so this
        // runs only once nothing maps it; releasing per frame keeps that true even if a
        // teardown order changes).
        for i in 0..self.pages as u64 {
            physmem::release(self.base + i * PAGE_SIZE);
        }
    }
}
