//! The arithmetic of typed user memory: a [`UserRange`] is a byte range a syscall named
//! that has been checked to lie in the user window, and every way of narrowing it
//! (`split_at`, `advance`, `prefix`, an array element) is checked again, so no sum of a user
//! address and a length is ever done by hand in a syscall.
//!
//! This is the pure half of `kernel/src/umem.rs` (which adds the access modes, the element
//! types and the fault-tolerant copies), here so the host runs its tests. It owns the rule
//! "`[start, start + len)` ends at or below `USER_END` without overflow"; it must never
//! touch memory. Whether the pages are mapped is not its business: the copy routine finds
//! that out, page by page.

use wayos_abi::layout::USER_END;

/// Why a range was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// It leaves the user window or wraps around (`EFAULT`).
    OutOfWindow,
    /// Its start is not a multiple of the alignment the element needs (`EINVAL`).
    Misaligned,
}

/// `[start, start + len)`, inside the user window (`start + len <= USER_END`, no overflow).
/// The only ways to make one check that; the only ways to derive another from it keep it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserRange {
    start: usize,
    len: usize,
}

impl UserRange {
    /// The range of `len` bytes at `start`, if it lies in the user window.
    pub const fn new(start: usize, len: usize) -> Result<Self, RangeError> {
        match start.checked_add(len) {
            Some(end) if end <= USER_END => Ok(Self { start, len }),
            _ => Err(RangeError::OutOfWindow),
        }
    }

    /// As [`UserRange::new`], and `start` must be a multiple of `align` (a power of two).
    /// Alignment is checked first: a misaligned address is `EINVAL` wherever it points.
    pub const fn aligned(start: usize, len: usize, align: usize) -> Result<Self, RangeError> {
        if start & (align - 1) != 0 {
            return Err(RangeError::Misaligned);
        }
        Self::new(start, len)
    }

    /// `count` elements of `size` bytes at `start` (the product must not overflow).
    pub const fn array(start: usize, size: usize, count: usize) -> Result<Self, RangeError> {
        match size.checked_mul(count) {
            Some(len) => Self::new(start, len),
            None => Err(RangeError::OutOfWindow),
        }
    }

    pub const fn start(&self) -> usize {
        self.start
    }

    pub const fn len(&self) -> usize {
        self.len
    }

    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first `mid` bytes and the rest; `None` if `mid > len`.
    pub const fn split_at(self, mid: usize) -> Option<(Self, Self)> {
        if mid > self.len {
            return None;
        }
        let head = Self {
            start: self.start,
            len: mid,
        };
        let tail = Self {
            start: self.start + mid,
            len: self.len - mid,
        };
        Some((head, tail))
    }

    /// The range without its first `n` bytes; `None` if `n > len`.
    pub const fn advance(self, n: usize) -> Option<Self> {
        match self.split_at(n) {
            Some((_, tail)) => Some(tail),
            None => None,
        }
    }

    /// The first `min(n, len)` bytes: what a call that copies at most `n` may touch.
    pub const fn prefix(self, n: usize) -> Self {
        Self {
            start: self.start,
            len: if n < self.len { n } else { self.len },
        }
    }

    /// Bytes `[from, to)` of the range; `None` unless `from <= to <= len`.
    pub const fn sub(self, from: usize, to: usize) -> Option<Self> {
        if from > to || to > self.len {
            return None;
        }
        Some(Self {
            start: self.start + from,
            len: to - from,
        })
    }

    /// Element `i` of an array of `size`-byte elements laid over the range; `None` unless
    /// it lies wholly inside.
    pub const fn element(self, i: usize, size: usize) -> Option<Self> {
        match i.checked_mul(size) {
            Some(from) if from <= self.len && size <= self.len - from => Some(Self {
                start: self.start + from,
                len: size,
            }),
            _ => None,
        }
    }

    /// One address in each `page`-byte page the range touches (its start, then each later
    /// page's first byte), in order: where to probe so that every page is tried once.
    pub fn page_probes(self, page: usize) -> impl Iterator<Item = usize> {
        let last = if self.len == 0 {
            None
        } else {
            Some(self.start + (self.len - 1))
        };
        let mut next = last.map(|_| self.start);
        core::iter::from_fn(move || {
            let at = next?;
            let following = (at | (page - 1)).checked_add(1);
            next = following.filter(|&n| Some(n) <= last);
            Some(at)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    const PAGE: usize = 4096;

    #[test]
    fn accepts_exactly_the_user_window() {
        assert!(UserRange::new(0, 0).is_ok());
        assert!(UserRange::new(USER_END, 0).is_ok());
        assert!(UserRange::new(USER_END - 16, 16).is_ok());
        assert_eq!(
            UserRange::new(USER_END - 15, 16),
            Err(RangeError::OutOfWindow)
        );
        assert_eq!(
            UserRange::new(USER_END + 1, 0),
            Err(RangeError::OutOfWindow)
        );
        assert_eq!(
            UserRange::new(0, USER_END + 1),
            Err(RangeError::OutOfWindow)
        );
    }

    #[test]
    fn refuses_ranges_that_wrap() {
        assert_eq!(
            UserRange::new(usize::MAX - 7, 16),
            Err(RangeError::OutOfWindow)
        );
        assert_eq!(UserRange::new(16, usize::MAX), Err(RangeError::OutOfWindow));
        assert_eq!(
            UserRange::array(0x1000, 16, usize::MAX / 8),
            Err(RangeError::OutOfWindow)
        );
    }

    #[test]
    fn alignment_is_checked_before_the_window() {
        assert!(UserRange::aligned(0x1004, 4, 4).is_ok());
        assert_eq!(
            UserRange::aligned(0x1002, 4, 4),
            Err(RangeError::Misaligned)
        );
        // Misaligned and outside: EINVAL wins, as futex_wait has always answered.
        assert_eq!(
            UserRange::aligned(usize::MAX - 2, 4, 4),
            Err(RangeError::Misaligned)
        );
        assert_eq!(
            UserRange::aligned(USER_END, 4, 4),
            Err(RangeError::OutOfWindow)
        );
    }

    #[test]
    fn arrays_multiply_without_overflow() {
        let r = UserRange::array(0x2000, 16, 3).unwrap();
        assert_eq!((r.start(), r.len()), (0x2000, 48));
        assert_eq!(r.element(2, 16).map(|e| e.start()), Some(0x2020));
        assert_eq!(r.element(3, 16), None);
        assert_eq!(r.element(usize::MAX, 16), None);
        assert!(UserRange::array(0x2000, 16, 0).unwrap().is_empty());
    }

    #[test]
    fn split_advance_prefix_stay_inside() {
        let r = UserRange::new(0x1000, 100).unwrap();
        let (a, b) = r.split_at(40).unwrap();
        assert_eq!(
            (a.start(), a.len(), b.start(), b.len()),
            (0x1000, 40, 0x1028, 60)
        );
        assert_eq!(r.split_at(101), None);
        assert_eq!(r.split_at(100).map(|(_, t)| t.is_empty()), Some(true));
        assert_eq!(r.advance(100).map(|t| t.start()), Some(0x1064));
        assert_eq!(r.advance(101), None);
        assert_eq!(r.prefix(10).len(), 10);
        assert_eq!(r.prefix(usize::MAX), r);
        assert_eq!(
            r.sub(10, 30).map(|s| (s.start(), s.len())),
            Some((0x100a, 20))
        );
        assert_eq!(r.sub(30, 10), None);
        assert_eq!(r.sub(0, 101), None);
    }

    #[test]
    fn ranges_at_the_window_end_narrow_without_overflow() {
        let r = UserRange::new(USER_END - 8, 8).unwrap();
        assert_eq!(r.advance(8).map(|t| t.start()), Some(USER_END));
        assert_eq!(r.element(1, 8), None);
    }

    #[test]
    fn one_probe_per_page() {
        let probes = |start, len| -> Vec<usize> {
            UserRange::new(start, len)
                .unwrap()
                .page_probes(PAGE)
                .collect()
        };
        assert_eq!(probes(0x1000, 0), Vec::<usize>::new());
        assert_eq!(probes(0x1000, 1), [0x1000]);
        assert_eq!(probes(0x1ff0, 16), [0x1ff0]);
        assert_eq!(probes(0x1ff0, 17), [0x1ff0, 0x2000]);
        assert_eq!(probes(0x1010, 2 * PAGE), [0x1010, 0x2000, 0x3000]);
        assert_eq!(
            probes(USER_END - PAGE - 1, PAGE + 1),
            [USER_END - PAGE - 1, USER_END - PAGE]
        );
    }
}
