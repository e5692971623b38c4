//! File contents: pages of [`PAGE_SIZE`] bytes in a two-level table, so a large file never
//! needs one large contiguous allocation and holes (never-written ranges) take no memory.
//!
//! The table has leaves of [`LEAF_PAGES`] page slots (2 MiB of file each) under a growable
//! top level; every allocation in it is fallible, so running out of memory is an error the
//! caller turns into `ENOSPC`, never a panic.

use alloc::boxed::Box;
use alloc::vec::Vec;

pub const PAGE_SIZE: usize = 4096;
/// Page slots per leaf of the table.
const LEAF_PAGES: usize = 512;

/// One page of file data. The kernel backs it with a physical frame, the host tests with
/// a heap box; dropping it frees the memory.
pub trait Page: Sized {
    /// A zero-filled page, or `None` when memory is short.
    fn new_zeroed() -> Option<Self>;
    fn bytes(&self) -> &[u8; PAGE_SIZE];
    fn bytes_mut(&mut self) -> &mut [u8; PAGE_SIZE];
}

/// A page on the heap (host tests, and any user without frames of its own).
pub struct HeapPage(Box<[u8; PAGE_SIZE]>);

impl Page for HeapPage {
    fn new_zeroed() -> Option<Self> {
        let mut v = Vec::new();
        v.try_reserve_exact(PAGE_SIZE).ok()?;
        v.resize(PAGE_SIZE, 0u8);
        v.into_boxed_slice().try_into().ok().map(HeapPage)
    }
    fn bytes(&self) -> &[u8; PAGE_SIZE] {
        &self.0
    }
    fn bytes_mut(&mut self) -> &mut [u8; PAGE_SIZE] {
        &mut self.0
    }
}

type Leaf<P> = Vec<Option<P>>;

/// The pages of one file, by page index.
pub(crate) struct PageMap<P> {
    leaves: Vec<Option<Leaf<P>>>,
    /// Pages present.
    count: u64,
}

fn split(index: u64) -> (usize, usize) {
    let i = index as usize;
    (i / LEAF_PAGES, i % LEAF_PAGES)
}

impl<P: Page> PageMap<P> {
    pub(crate) const fn new() -> Self {
        Self {
            leaves: Vec::new(),
            count: 0,
        }
    }

    /// Pages present.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The page at `index`, if it was ever written.
    pub(crate) fn get(&self, index: u64) -> Option<&P> {
        let (l, s) = split(index);
        self.leaves.get(l)?.as_ref()?.get(s)?.as_ref()
    }

    /// The page at `index`, if present.
    pub(crate) fn get_mut(&mut self, index: u64) -> Option<&mut P> {
        let (l, s) = split(index);
        self.leaves.get_mut(l)?.as_mut()?.get_mut(s)?.as_mut()
    }

    /// The page at `index`, allocating a zeroed one (and its leaf) when absent. `None`
    /// when memory runs out; nothing changes then.
    pub(crate) fn get_or_alloc(&mut self, index: u64) -> Option<&mut P> {
        let (l, s) = split(index);
        if self.leaves.len() <= l {
            self.leaves.try_reserve(l + 1 - self.leaves.len()).ok()?;
            self.leaves.resize_with(l + 1, || None);
        }
        let slot = &mut self.leaves[l];
        if slot.is_none() {
            let mut leaf = Vec::new();
            leaf.try_reserve_exact(LEAF_PAGES).ok()?;
            leaf.resize_with(LEAF_PAGES, || None);
            *slot = Some(leaf);
        }
        let page = slot.as_mut()?.get_mut(s)?;
        if page.is_none() {
            *page = Some(P::new_zeroed()?);
            self.count += 1;
        }
        page.as_mut()
    }

    /// Frees every page at `first` or beyond; returns how many went.
    pub(crate) fn truncate(&mut self, first: u64) -> u64 {
        let before = self.count;
        let (l0, s0) = split(first);
        for (l, leaf) in self.leaves.iter_mut().enumerate().skip(l0) {
            let Some(pages) = leaf else { continue };
            let from = if l == l0 { s0 } else { 0 };
            for p in pages.iter_mut().skip(from) {
                if p.take().is_some() {
                    self.count -= 1;
                }
            }
            if from == 0 {
                *leaf = None;
            }
        }
        while matches!(self.leaves.last(), Some(None)) {
            self.leaves.pop();
        }
        before - self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_pages_across_leaves() {
        let mut m = PageMap::<HeapPage>::new();
        assert!(m.get(0).is_none());
        m.get_or_alloc(3).unwrap().bytes_mut()[0] = 7;
        m.get_or_alloc(LEAF_PAGES as u64 * 2 + 1)
            .unwrap()
            .bytes_mut()[1] = 9;
        assert_eq!(m.count(), 2);
        assert_eq!(m.get(3).unwrap().bytes()[0], 7);
        assert!(m.get(4).is_none());
        assert!(m.get(LEAF_PAGES as u64).is_none());
        assert_eq!(m.get(LEAF_PAGES as u64 * 2 + 1).unwrap().bytes()[1], 9);
        // Fresh pages are zero; an existing one is returned as it is.
        assert!(m.get_or_alloc(5).unwrap().bytes().iter().all(|&b| b == 0));
        assert_eq!(m.get_or_alloc(3).unwrap().bytes()[0], 7);
        assert_eq!(m.count(), 3);
    }

    #[test]
    fn truncate_frees_from_a_page_on() {
        let mut m = PageMap::<HeapPage>::new();
        for i in [0, 1, 2, 600, 1100] {
            m.get_or_alloc(i).unwrap();
        }
        assert_eq!(m.truncate(2), 3);
        assert_eq!(m.count(), 2);
        assert!(m.get(1).is_some() && m.get(2).is_none() && m.get(600).is_none());
        assert_eq!(m.leaves.len(), 1);
        assert_eq!(m.truncate(0), 2);
        assert!(m.leaves.is_empty());
    }
}
