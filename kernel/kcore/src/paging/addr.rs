//! Typed addresses and page sizes: [`PhysAddr`], [`VirtAddr`], [`PageSize`].
//!
//! Owns the address arithmetic every other paging file and the kernel's memory code
//! share: canonical form (bits 63..47 all equal), alignment, the user/kernel halves.
//! Must never reject a value at construction (a user-supplied number must not panic);
//! the operations that need a canonical or aligned address check and refuse instead.

use core::fmt;
use core::ops;

use super::{HALF, LIN_MASK};

/// A physical address. Any value can be held; [`PageTable::map`](super::PageTable::map) checks that it fits the
/// format's physical address width and the page alignment.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhysAddr(u64);

impl PhysAddr {
    pub const fn new(raw: u64) -> Self {
        PhysAddr(raw)
    }
    pub const fn as_u64(self) -> u64 {
        self.0
    }
    pub const fn is_aligned(self, size: PageSize) -> bool {
        self.0 & size.offset_mask() == 0
    }
    pub const fn align_down(self, size: PageSize) -> Self {
        PhysAddr(self.0 & !size.offset_mask())
    }
}

impl ops::Add<u64> for PhysAddr {
    type Output = PhysAddr;
    fn add(self, rhs: u64) -> PhysAddr {
        PhysAddr(self.0 + rhs)
    }
}

impl fmt::Debug for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhysAddr({:#x})", self.0)
    }
}

impl fmt::LowerHex for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// A virtual address. Any value can be held (a user-supplied number must not panic on
/// construction); the page-table operations check [`VirtAddr::is_canonical`] — bits 63..47
/// all equal, as both ISAs require with 48-bit addresses — and refuse other values.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct VirtAddr(u64);

impl VirtAddr {
    /// The exclusive end of the user (lower) half. Not itself canonical: use it only as
    /// the end of a range.
    pub const USER_END: VirtAddr = VirtAddr(HALF);
    /// The first address of the kernel (upper) half.
    pub const KERNEL_START: VirtAddr = VirtAddr(0xffff_8000_0000_0000);

    /// Wraps `raw` unchecked.
    pub const fn new(raw: u64) -> Self {
        VirtAddr(raw)
    }
    /// `raw` if it is canonical.
    pub const fn try_new(raw: u64) -> Option<Self> {
        let va = VirtAddr(raw);
        if va.is_canonical() {
            Some(va)
        } else {
            None
        }
    }
    /// The canonical address with the same low 48 bits (bit 47 sign-extended).
    pub const fn new_truncate(raw: u64) -> Self {
        VirtAddr((((raw << 16) as i64) >> 16) as u64)
    }
    pub const fn as_u64(self) -> u64 {
        self.0
    }
    pub const fn is_canonical(self) -> bool {
        Self::new_truncate(self.0).0 == self.0
    }
    /// Canonical and in the lower half (user space on both ISAs).
    pub const fn is_user(self) -> bool {
        self.0 < HALF
    }
    pub const fn is_aligned(self, size: PageSize) -> bool {
        self.0 & size.offset_mask() == 0
    }
    pub const fn align_down(self, size: PageSize) -> Self {
        VirtAddr(self.0 & !size.offset_mask())
    }
    pub const fn wrapping_add(self, n: u64) -> Self {
        VirtAddr(self.0.wrapping_add(n))
    }
    /// The 48 translated bits, which the walk indexes with.
    pub(super) const fn lin(self) -> u64 {
        self.0 & LIN_MASK
    }
    pub(super) const fn from_lin(lin: u64) -> Self {
        Self::new_truncate(lin)
    }
}

impl ops::Add<u64> for VirtAddr {
    type Output = VirtAddr;
    fn add(self, rhs: u64) -> VirtAddr {
        VirtAddr(self.0 + rhs)
    }
}

impl fmt::Debug for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VirtAddr({:#x})", self.0)
    }
}

impl fmt::LowerHex for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// The three leaf sizes both ISAs offer with a 4 KiB granule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageSize {
    /// A page at level 3.
    Size4K,
    /// A block (aarch64) / PS page (x86_64) at level 2.
    Size2M,
    /// A block / PS page at level 1.
    Size1G,
}

impl PageSize {
    pub const ALL: [PageSize; 3] = [PageSize::Size4K, PageSize::Size2M, PageSize::Size1G];

    pub const fn shift(self) -> u32 {
        match self {
            PageSize::Size4K => 12,
            PageSize::Size2M => 21,
            PageSize::Size1G => 30,
        }
    }
    pub const fn bytes(self) -> u64 {
        1 << self.shift()
    }
    /// The level whose entries map this size.
    pub const fn leaf_level(self) -> usize {
        match self {
            PageSize::Size4K => 3,
            PageSize::Size2M => 2,
            PageSize::Size1G => 1,
        }
    }
    /// The size a leaf at `level` maps, if that level can hold leaves.
    pub const fn at_level(level: usize) -> Option<PageSize> {
        match level {
            1 => Some(PageSize::Size1G),
            2 => Some(PageSize::Size2M),
            3 => Some(PageSize::Size4K),
            _ => None,
        }
    }
    pub(super) const fn offset_mask(self) -> u64 {
        self.bytes() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::test_support::*;

    #[test]
    fn virt_addr_canonical_forms() {
        assert!(va(0).is_canonical());
        assert!(va(0x0000_7fff_ffff_ffff).is_canonical());
        assert!(!va(0x0000_8000_0000_0000).is_canonical());
        assert!(!va(0xffff_7fff_ffff_ffff).is_canonical());
        assert!(va(0xffff_8000_0000_0000).is_canonical());
        assert!(va(u64::MAX).is_canonical());
        assert_eq!(VirtAddr::try_new(0x0000_8000_0000_0000), None);
        assert_eq!(
            VirtAddr::new_truncate(0x0000_8000_0000_0000),
            VirtAddr::KERNEL_START
        );
        assert_eq!(
            VirtAddr::new_truncate(0x1234_5678_9abc_def0),
            va(0x5678_9abc_def0)
        );
        assert!(va(0x7fff_ffff_f000).is_user());
        assert!(!VirtAddr::KERNEL_START.is_user());
        assert_eq!(va(0x20_1234).align_down(M2), va(0x20_0000));
    }
}
