//! [`PteFormat`]: what an ISA's page-table entry encoding must provide, and [`Decoded`],
//! what an entry says.
//!
//! Owns the boundary between the walker (`table.rs`) and the two encodings
//! (`x86_64.rs`, `aarch64.rs`). Implementations must stay pure functions of their
//! arguments: no table memory, no state, no ISA instruction.

use super::{PageSize, PhysAddr, PteFlags};

/// One entry, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Not present: the hardware faults on it and no TLB caches it.
    Invalid,
    /// A pointer to the next-level table.
    Table(PhysAddr),
    /// A page or block.
    Leaf {
        pa: PhysAddr,
        flags: PteFlags,
        size: PageSize,
    },
}

/// An ISA's page-table entry encoding.
///
/// Implementations are pure functions of their arguments. The walker guarantees `pa` is
/// aligned to `size` and below `2^PHYS_ADDR_BITS`, and `flags` [`is_valid`](PteFlags::is_valid).
pub trait PteFormat {
    /// For messages.
    const NAME: &'static str;
    /// Physical address bits the descriptors can hold.
    const PHYS_ADDR_BITS: u32;
    /// Whether one root holds both halves, so every address space must carry the kernel's
    /// upper-half root entries (x86_64: one CR3). When false the kernel half lives in a
    /// root of its own (aarch64: TTBR1) and a user root starts empty.
    const SHARES_KERNEL_HALF_IN_ROOT: bool;

    /// An entry at levels 0-2 pointing to the table at `pa`. Permissions are decided at
    /// the leaf, so table entries never restrict.
    fn table(pa: PhysAddr) -> u64;
    /// A leaf mapping `pa` with `flags`, at `size.leaf_level()`.
    fn leaf(pa: PhysAddr, flags: PteFlags, size: PageSize) -> u64;
    /// Decodes an entry found at `level` (0 = root).
    fn decode(raw: u64, level: usize) -> Decoded;
    /// Whether the leaf `raw` has its accessed bit (x86_64 A, aarch64 AF) set. The
    /// migration daemon samples it; `Decoded` leaves it out because the hardware (or,
    /// on aarch64, the access-flag fault) changes it behind the kernel's back.
    fn accessed(raw: u64) -> bool;
    /// The leaf `raw` with its accessed bit set (`on`) or cleared. On aarch64 a cleared
    /// AF makes the next access take an access-flag fault, which the fault path answers
    /// by setting it again ([`PageTable::mark_accessed`](super::PageTable::mark_accessed)).
    fn with_accessed(raw: u64, on: bool) -> u64;
}
