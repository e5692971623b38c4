//! [`PteFlags`]: the arch-neutral attributes of a mapping.
//!
//! Owns the flag set and its validity rule (at most one memory type). Must never know
//! how an ISA stores a flag: the encodings in `x86_64.rs` and `aarch64.rs` do.

use core::fmt;
use core::ops;

/// The arch-neutral attributes of a mapping. Presence implies read access; there is no
/// READ bit. At most one of [`DEVICE`](Self::DEVICE) and [`NOCACHE`](Self::NOCACHE) may
/// be set ([`PteFlags::is_valid`]); neither means normal write-back memory.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PteFlags(u16);

impl PteFlags {
    /// Writable.
    pub const WRITE: PteFlags = PteFlags(1 << 0);
    /// Executable (at the mapping's privilege: user pages by EL0/CPL3 only on aarch64).
    pub const EXEC: PteFlags = PteFlags(1 << 1);
    /// Accessible from user mode.
    pub const USER: PteFlags = PteFlags(1 << 2);
    /// Not tagged with an address space (kernel mappings): survives a CR3/ASID switch.
    pub const GLOBAL: PteFlags = PteFlags(1 << 3);
    /// Uncached device memory (MMIO): x86_64 UC, aarch64 Device-nGnRE.
    pub const DEVICE: PteFlags = PteFlags(1 << 4);
    /// Normal non-cacheable memory (framebuffers, DMA buffers): x86_64 WC, aarch64
    /// Normal-NC.
    pub const NOCACHE: PteFlags = PteFlags(1 << 5);
    /// Software: copy-on-write (the VMM's mark on pages fork made read-only).
    pub const COW: PteFlags = PteFlags(1 << 6);
    /// Software: shared mapping (MAP_SHARED), never copied on write.
    pub const SHARED: PteFlags = PteFlags(1 << 7);

    pub(super) const ALL_BITS: u16 = 0xff;
    const NAMES: [(PteFlags, &'static str); 8] = [
        (Self::WRITE, "WRITE"),
        (Self::EXEC, "EXEC"),
        (Self::USER, "USER"),
        (Self::GLOBAL, "GLOBAL"),
        (Self::DEVICE, "DEVICE"),
        (Self::NOCACHE, "NOCACHE"),
        (Self::COW, "COW"),
        (Self::SHARED, "SHARED"),
    ];

    pub const fn empty() -> Self {
        PteFlags(0)
    }
    pub const fn all_bits() -> Self {
        PteFlags(Self::ALL_BITS)
    }
    pub const fn bits(self) -> u16 {
        self.0
    }
    /// The flags with these bits, if every bit names a flag.
    pub const fn from_bits(bits: u16) -> Option<Self> {
        if bits & !Self::ALL_BITS == 0 {
            Some(PteFlags(bits))
        } else {
            None
        }
    }
    pub const fn from_bits_truncate(bits: u16) -> Self {
        PteFlags(bits & Self::ALL_BITS)
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub const fn contains(self, other: PteFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn intersects(self, other: PteFlags) -> bool {
        self.0 & other.0 != 0
    }
    pub const fn union(self, other: PteFlags) -> Self {
        PteFlags(self.0 | other.0)
    }
    pub const fn intersection(self, other: PteFlags) -> Self {
        PteFlags(self.0 & other.0)
    }
    pub const fn difference(self, other: PteFlags) -> Self {
        PteFlags(self.0 & !other.0)
    }
    pub fn insert(&mut self, other: PteFlags) {
        self.0 |= other.0;
    }
    pub fn remove(&mut self, other: PteFlags) {
        self.0 &= !other.0;
    }
    pub fn set(&mut self, other: PteFlags, on: bool) {
        if on {
            self.insert(other)
        } else {
            self.remove(other)
        }
    }
    /// Whether the set can be encoded: at most one memory type.
    pub const fn is_valid(self) -> bool {
        !self.contains(Self::DEVICE.union(Self::NOCACHE))
    }
    /// The memory-type part of the set (DEVICE, NOCACHE or neither).
    pub const fn memory_type(self) -> Self {
        self.intersection(Self::DEVICE.union(Self::NOCACHE))
    }
}

impl ops::BitOr for PteFlags {
    type Output = PteFlags;
    fn bitor(self, rhs: PteFlags) -> PteFlags {
        self.union(rhs)
    }
}

impl ops::BitOrAssign for PteFlags {
    fn bitor_assign(&mut self, rhs: PteFlags) {
        self.insert(rhs)
    }
}

impl ops::BitAnd for PteFlags {
    type Output = PteFlags;
    fn bitand(self, rhs: PteFlags) -> PteFlags {
        self.intersection(rhs)
    }
}

impl ops::Sub for PteFlags {
    type Output = PteFlags;
    fn sub(self, rhs: PteFlags) -> PteFlags {
        self.difference(rhs)
    }
}

impl fmt::Debug for PteFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("PteFlags(READ)");
        }
        f.write_str("PteFlags(")?;
        let mut first = true;
        for (flag, name) in Self::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_set_operations() {
        let mut f = PteFlags::USER | PteFlags::WRITE;
        assert!(f.contains(PteFlags::USER));
        assert!(!f.contains(PteFlags::USER | PteFlags::EXEC));
        assert!(f.intersects(PteFlags::USER | PteFlags::EXEC));
        f.set(PteFlags::WRITE, false);
        f.insert(PteFlags::COW);
        assert_eq!(f, PteFlags::USER | PteFlags::COW);
        assert_eq!(f - PteFlags::USER, PteFlags::COW);
        assert_eq!(PteFlags::from_bits(0x100), None);
        assert_eq!(
            PteFlags::from_bits(0x44),
            Some(PteFlags::USER | PteFlags::COW)
        );
        assert_eq!(std::format!("{f:?}"), "PteFlags(USER | COW)");
        assert_eq!(std::format!("{:?}", PteFlags::empty()), "PteFlags(READ)");
    }
}
