//! Four-level page tables for x86_64 and aarch64, as one walker over two encodings.
//!
//! Both ISAs translate 48-bit virtual addresses through four levels of 512 eight-byte
//! entries with a 4 KiB granule (x86_64 4-level paging; aarch64 stage 1 with
//! T0SZ = T1SZ = 16, levels 0-3). The walk is identical; only the descriptor bits differ.
//! One file per job:
//!
//! - `addr.rs`: the typed addresses [`PhysAddr`] and [`VirtAddr`], and [`PageSize`];
//! - `flags.rs`: [`PteFlags`], the arch-neutral attributes of a mapping;
//! - `format.rs`: [`PteFormat`], what a per-ISA encoding provides, and [`Decoded`];
//! - `x86_64.rs`, `aarch64.rs`: the two encodings, [`X86_64Format`] and [`Aarch64Format`];
//! - `table.rs`: [`PageTable`], the walker (map, unmap, protect, translate, leaf
//!   iteration, teardown), the [`PhysMem`] it works on, [`Leaf`] and the errors;
//! - `flush.rs`: [`Flush`], the TLB invalidation every change leaves owing.
//!
//! Everything is re-exported here, so users name `wayos_kcore::paging::X` whatever file
//! holds `X`.
//!
//! Table memory is reached only through the [`PhysMem`] trait: the kernel implements it
//! over the direct map and the PMM (with its `unsafe` there), host tests over a map of
//! fake pages. Levels are numbered as on aarch64: 0 is the root (PML4 / L0), 3 holds
//! 4 KiB pages (PT / L3).
//!
//! The two encodings are named here because they are data (bit layouts both hosts can
//! test), not code for an ISA; the kernel's arch module picks one with a type alias, and
//! generic code asks [`PteFormat`] constants such as
//! [`SHARES_KERNEL_HALF_IN_ROOT`](PteFormat::SHARES_KERNEL_HALF_IN_ROOT) instead of
//! naming the ISA. The layout this serves is in `docs/memory.md`.
//!
//! Invariants, and what must never happen here:
//!
//! - No `unsafe`, no allocation, no ISA-specific instruction: TLB maintenance is the
//!   kernel's, requested by the `#[must_use]` [`Flush`] token every change returns.
//! - An existing leaf or table is never overwritten by `map`: a 4 KiB page inside a 2 MiB
//!   or 1 GiB leaf is refused ([`MapError::InsideLargePage`]), never spliced in.
//! - No operation on a live tree frees or replaces an intermediate table, so invalidating
//!   the leaf's address is always enough. Intermediate tables are returned to [`PhysMem`]
//!   only by [`PageTable::free_user_half`] / [`PageTable::destroy`], whose callers
//!   guarantee the tree is no longer loaded on any CPU.
//! - User input never panics this code: bad addresses and flags come back as errors.

pub mod aarch64;
mod addr;
mod flags;
mod flush;
mod format;
mod table;
pub mod x86_64;

pub use self::aarch64::Aarch64Format;
pub use self::addr::{PageSize, PhysAddr, VirtAddr};
pub use self::flags::PteFlags;
pub use self::flush::Flush;
pub use self::format::{Decoded, PteFormat};
pub use self::table::{Leaf, Leaves, MapError, PageTable, PhysMem, ProtectError, UnmapError};
pub use self::x86_64::X86_64Format;

/// Entries in one table at every level.
pub const ENTRIES_PER_TABLE: usize = 512;
/// Levels of the walk: 0 (root) to 3 (4 KiB pages).
pub const LEVELS: usize = 4;
/// The level that holds 4 KiB pages.
pub const PAGE_LEVEL: usize = 3;
/// Bytes in one table (and in the smallest page).
pub const TABLE_BYTES: u64 = 4096;
/// The first root index of the upper (kernel) half: VA bit 47 set.
pub const KERNEL_HALF_FIRST_INDEX: usize = 256;

/// Mask of the 48 translated VA bits: the "linear" offset the walk indexes with.
const LIN_MASK: u64 = (1 << 48) - 1;
/// Size of one half (user or kernel) of the address space.
const HALF: u64 = 1 << 47;
/// One past the top of the 48-bit linear space.
const LIN_TOP: u64 = 1 << 48;

/// Shorthands the host tests of every file share.
#[cfg(test)]
mod test_support {
    use super::{PageSize, PhysAddr, PteFlags, VirtAddr};

    pub const K: PageSize = PageSize::Size4K;
    pub const M2: PageSize = PageSize::Size2M;
    pub const G1: PageSize = PageSize::Size1G;

    pub fn va(raw: u64) -> VirtAddr {
        VirtAddr::new(raw)
    }
    pub fn pa(raw: u64) -> PhysAddr {
        PhysAddr::new(raw)
    }
    /// Every valid combination of the eight flags (192 of 256).
    pub fn all_valid_flags() -> impl Iterator<Item = PteFlags> {
        (0..=PteFlags::ALL_BITS)
            .map(PteFlags::from_bits_truncate)
            .filter(|f| f.is_valid())
    }
}
