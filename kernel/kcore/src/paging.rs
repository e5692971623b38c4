//! Four-level page tables for x86_64 and aarch64, as one walker over two encodings.
//!
//! Both ISAs translate 48-bit virtual addresses through four levels of 512 eight-byte
//! entries with a 4 KiB granule (x86_64 4-level paging; aarch64 stage 1 with
//! T0SZ = T1SZ = 16, levels 0-3). The walk is identical; only the descriptor bits differ.
//! So this module owns:
//!
//! - the typed addresses [`PhysAddr`] and [`VirtAddr`], and [`PageSize`];
//! - [`PteFlags`], the arch-neutral attributes of a mapping;
//! - [`PteFormat`], the per-ISA encoding ([`X86_64Format`], [`Aarch64Format`]);
//! - [`PageTable`], the walker: map, unmap, protect, translate, leaf iteration, teardown.
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

use core::fmt;
use core::marker::PhantomData;
use core::ops;

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

// ---------------------------------------------------------------------------------------
// Typed addresses and sizes
// ---------------------------------------------------------------------------------------

/// A physical address. Any value can be held; [`PageTable::map`] checks that it fits the
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
    const fn lin(self) -> u64 {
        self.0 & LIN_MASK
    }
    const fn from_lin(lin: u64) -> Self {
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
    const fn offset_mask(self) -> u64 {
        self.bytes() - 1
    }
}

/// Bytes one entry at `level` covers: 512 GiB at the root down to 4 KiB at level 3.
const fn entry_span_shift(level: usize) -> u32 {
    12 + 9 * (PAGE_LEVEL - level) as u32
}

/// The index of `lin` in a table at `level`.
const fn index_of(lin: u64, level: usize) -> usize {
    ((lin >> entry_span_shift(level)) & (ENTRIES_PER_TABLE as u64 - 1)) as usize
}

// ---------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------

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

    const ALL_BITS: u16 = 0xff;
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

// ---------------------------------------------------------------------------------------
// Table memory
// ---------------------------------------------------------------------------------------

/// Access to page-table memory by physical address.
///
/// The kernel implements this over the direct map (volatile 8-byte accesses, so the
/// hardware walker sees each write whole) and the PMM; host tests over fake pages.
pub trait PhysMem {
    /// Entry `index` (< 512) of the table at `table`.
    fn read_entry(&self, table: PhysAddr, index: usize) -> u64;
    /// Stores entry `index` (< 512) of the table at `table`.
    fn write_entry(&mut self, table: PhysAddr, index: usize, value: u64);
    /// A zeroed, 4 KiB-aligned page for a new table, or `None` when memory is exhausted.
    fn alloc_table(&mut self) -> Option<PhysAddr>;
    /// Returns a table page from [`alloc_table`](Self::alloc_table).
    fn free_table(&mut self, table: PhysAddr);
}

// ---------------------------------------------------------------------------------------
// Encodings
// ---------------------------------------------------------------------------------------

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
}

/// x86_64 4-level paging.
///
/// | flag    | bits                                                             |
/// |---------|------------------------------------------------------------------|
/// | present | P (0)                                                            |
/// | WRITE   | RW (1)                                                           |
/// | USER    | US (2)                                                           |
/// | GLOBAL  | G (8); needs CR4.PGE                                             |
/// | !EXEC   | XD/NX (63); needs EFER.NXE                                       |
/// | DEVICE  | PCD+PWT (4, 3): PAT entry 3, UC                                  |
/// | NOCACHE | PAT+PWT (7 or 12, 3): PAT entry 5, WC                            |
/// | COW     | bit 9 (ignored by hardware)                                      |
/// | SHARED  | bit 10 (ignored by hardware)                                     |
/// | 2M / 1G | PS (7) at levels 2 / 1; the PAT bit moves to 12                  |
///
/// PAT assumption: IA32_PAT holds WB, WT, UC-, UC, WP, WC, UC, UC — what Limine and
/// `tools/wayboot` program (entries 0-3 are also the power-on default). If entry 5 were
/// left at its reset value (WT), NOCACHE would degrade to write-through, never to
/// something less ordered. Table entries are P|RW|US. A and D are left clear (the CPU sets
/// them) and are not reported.
#[derive(Clone, Copy, Debug)]
pub struct X86_64Format;

mod x86_bits {
    pub const P: u64 = 1 << 0;
    pub const RW: u64 = 1 << 1;
    pub const US: u64 = 1 << 2;
    pub const PWT: u64 = 1 << 3;
    pub const PCD: u64 = 1 << 4;
    /// Page size, in level 1 and 2 entries.
    pub const PS: u64 = 1 << 7;
    /// The PAT bit of a 4 KiB entry (same position as PS one level up).
    pub const PAT_4K: u64 = 1 << 7;
    pub const G: u64 = 1 << 8;
    pub const SW_COW: u64 = 1 << 9;
    pub const SW_SHARED: u64 = 1 << 10;
    /// The PAT bit of a 2 MiB / 1 GiB entry.
    pub const PAT_LARGE: u64 = 1 << 12;
    pub const NX: u64 = 1 << 63;
    /// Physical address bits 51:12.
    pub const ADDR: u64 = 0x000f_ffff_ffff_f000;
}

impl X86_64Format {
    fn addr_mask(size: PageSize) -> u64 {
        x86_bits::ADDR & !size.offset_mask()
    }
    fn pat_bit(size: PageSize) -> u64 {
        if size == PageSize::Size4K {
            x86_bits::PAT_4K
        } else {
            x86_bits::PAT_LARGE
        }
    }
    fn leaf_flags(raw: u64, size: PageSize) -> PteFlags {
        use x86_bits::*;
        let mut f = PteFlags::empty();
        f.set(PteFlags::WRITE, raw & RW != 0);
        f.set(PteFlags::USER, raw & US != 0);
        f.set(PteFlags::GLOBAL, raw & G != 0);
        f.set(PteFlags::EXEC, raw & NX == 0);
        f.set(PteFlags::COW, raw & SW_COW != 0);
        f.set(PteFlags::SHARED, raw & SW_SHARED != 0);
        let pat = (raw & Self::pat_bit(size) != 0) as u8;
        let index = pat << 2 | ((raw & PCD != 0) as u8) << 1 | (raw & PWT != 0) as u8;
        match index {
            // WC.
            5 => f.insert(PteFlags::NOCACHE),
            // UC-, UC (and the two unused entries, which Limine also sets to UC).
            2 | 3 | 6 | 7 => f.insert(PteFlags::DEVICE),
            // WB, WT, WP: cached.
            _ => {}
        }
        f
    }
}

impl PteFormat for X86_64Format {
    const NAME: &'static str = "x86_64";
    const PHYS_ADDR_BITS: u32 = 52;
    const SHARES_KERNEL_HALF_IN_ROOT: bool = true;

    fn table(pa: PhysAddr) -> u64 {
        use x86_bits::*;
        (pa.as_u64() & ADDR) | P | RW | US
    }

    fn leaf(pa: PhysAddr, flags: PteFlags, size: PageSize) -> u64 {
        use x86_bits::*;
        debug_assert!(flags.is_valid() && pa.is_aligned(size));
        let mut e = (pa.as_u64() & Self::addr_mask(size)) | P;
        if flags.contains(PteFlags::WRITE) {
            e |= RW;
        }
        if flags.contains(PteFlags::USER) {
            e |= US;
        }
        if flags.contains(PteFlags::GLOBAL) {
            e |= G;
        }
        if !flags.contains(PteFlags::EXEC) {
            e |= NX;
        }
        if flags.contains(PteFlags::DEVICE) {
            e |= PCD | PWT; // PAT entry 3: UC
        } else if flags.contains(PteFlags::NOCACHE) {
            e |= Self::pat_bit(size) | PWT; // PAT entry 5: WC
        }
        if size != PageSize::Size4K {
            e |= PS;
        }
        if flags.contains(PteFlags::COW) {
            e |= SW_COW;
        }
        if flags.contains(PteFlags::SHARED) {
            e |= SW_SHARED;
        }
        e
    }

    fn decode(raw: u64, level: usize) -> Decoded {
        use x86_bits::*;
        if raw & P == 0 {
            return Decoded::Invalid;
        }
        let leaf = |size: PageSize| Decoded::Leaf {
            pa: PhysAddr(raw & Self::addr_mask(size)),
            flags: Self::leaf_flags(raw, size),
            size,
        };
        match level {
            // PS is reserved in a PML4 entry: the CPU faults on it, so it maps nothing.
            0 if raw & PS != 0 => Decoded::Invalid,
            0 => Decoded::Table(PhysAddr(raw & ADDR)),
            1 if raw & PS != 0 => leaf(PageSize::Size1G),
            2 if raw & PS != 0 => leaf(PageSize::Size2M),
            1 | 2 => Decoded::Table(PhysAddr(raw & ADDR)),
            3 => leaf(PageSize::Size4K),
            _ => Decoded::Invalid,
        }
    }
}

/// aarch64 VMSAv8-64 stage 1, 4 KiB granule, for TTBR0_EL1 (user) and TTBR1_EL1 (kernel).
///
/// | flag    | bits                                                                 |
/// |---------|----------------------------------------------------------------------|
/// | present | valid (0); bit 1 set for tables (levels 0-2) and pages (level 3),    |
/// |         | clear for blocks (levels 1-2)                                        |
/// | always  | AF (10)                                                              |
/// | !WRITE  | `AP[2]` (7): read-only                                               |
/// | USER    | `AP[1]` (6): EL0 access; and PXN (53) always                         |
/// | !USER   | UXN (54) always                                                      |
/// | !EXEC   | UXN for user pages, PXN for kernel pages                             |
/// | !GLOBAL | nG (11)                                                              |
/// | memory  | AttrIndx (4:2) = 0 Normal WB, SH (9:8) = inner shareable             |
/// | DEVICE  | AttrIndx = 1 Device-nGnRE, SH = 0 (ignored for Device)               |
/// | NOCACHE | AttrIndx = 2 Normal-NC, SH = inner shareable                         |
/// | COW     | bit 55 (reserved for software)                                       |
/// | SHARED  | bit 56 (reserved for software)                                       |
///
/// AttrIndx refers to the MAIR_EL1 layout of `kernel/src/arch/aarch64/mmu.rs`: 0 Normal
/// write-back, 1 Device-nGnRE, 2 Normal non-cacheable, 3 Device-nGnRnE (decoded as
/// DEVICE, never produced). Table descriptors carry no hierarchical restrictions
/// (PXNTable, UXNTable, APTable, NSTable all 0). Kernel mappings are never
/// user-executable and user pages never privileged-executable, as PAN/PXN expects.
#[derive(Clone, Copy, Debug)]
pub struct Aarch64Format;

mod arm_bits {
    pub const VALID: u64 = 1 << 0;
    /// Table (levels 0-2) or page (level 3); clear for a block.
    pub const TABLE_OR_PAGE: u64 = 1 << 1;
    pub const ATTR_SHIFT: u32 = 2;
    pub const ATTR_MASK: u64 = 0b111 << ATTR_SHIFT;
    pub const ATTR_NORMAL: u64 = 0;
    pub const ATTR_DEVICE_NGNRE: u64 = 1;
    pub const ATTR_NORMAL_NC: u64 = 2;
    pub const ATTR_DEVICE_NGNRNE: u64 = 3;
    /// AP[1]: EL0 may access.
    pub const AP_EL0: u64 = 1 << 6;
    /// AP[2]: read-only.
    pub const AP_RO: u64 = 1 << 7;
    pub const SH_INNER: u64 = 0b11 << 8;
    pub const AF: u64 = 1 << 10;
    pub const NG: u64 = 1 << 11;
    pub const PXN: u64 = 1 << 53;
    pub const UXN: u64 = 1 << 54;
    pub const SW_COW: u64 = 1 << 55;
    pub const SW_SHARED: u64 = 1 << 56;
    /// Output address bits 47:12.
    pub const ADDR: u64 = 0x0000_ffff_ffff_f000;
}

impl Aarch64Format {
    fn addr_mask(size: PageSize) -> u64 {
        arm_bits::ADDR & !size.offset_mask()
    }
    fn leaf_flags(raw: u64) -> PteFlags {
        use arm_bits::*;
        let mut f = PteFlags::empty();
        let user = raw & AP_EL0 != 0;
        f.set(PteFlags::USER, user);
        f.set(PteFlags::WRITE, raw & AP_RO == 0);
        f.set(PteFlags::GLOBAL, raw & NG == 0);
        let xn = if user { UXN } else { PXN };
        f.set(PteFlags::EXEC, raw & xn == 0);
        match (raw & ATTR_MASK) >> ATTR_SHIFT {
            ATTR_DEVICE_NGNRE | ATTR_DEVICE_NGNRNE => f.insert(PteFlags::DEVICE),
            ATTR_NORMAL_NC => f.insert(PteFlags::NOCACHE),
            _ => {}
        }
        f.set(PteFlags::COW, raw & SW_COW != 0);
        f.set(PteFlags::SHARED, raw & SW_SHARED != 0);
        f
    }
}

impl PteFormat for Aarch64Format {
    const NAME: &'static str = "aarch64";
    const PHYS_ADDR_BITS: u32 = 48;
    const SHARES_KERNEL_HALF_IN_ROOT: bool = false;

    fn table(pa: PhysAddr) -> u64 {
        use arm_bits::*;
        (pa.as_u64() & ADDR) | TABLE_OR_PAGE | VALID
    }

    fn leaf(pa: PhysAddr, flags: PteFlags, size: PageSize) -> u64 {
        use arm_bits::*;
        debug_assert!(flags.is_valid() && pa.is_aligned(size));
        let mut e = (pa.as_u64() & Self::addr_mask(size)) | VALID | AF;
        if size == PageSize::Size4K {
            e |= TABLE_OR_PAGE;
        }
        if flags.contains(PteFlags::DEVICE) {
            e |= ATTR_DEVICE_NGNRE << ATTR_SHIFT;
        } else if flags.contains(PteFlags::NOCACHE) {
            e |= ATTR_NORMAL_NC << ATTR_SHIFT | SH_INNER;
        } else {
            e |= ATTR_NORMAL << ATTR_SHIFT | SH_INNER;
        }
        if !flags.contains(PteFlags::WRITE) {
            e |= AP_RO;
        }
        if !flags.contains(PteFlags::GLOBAL) {
            e |= NG;
        }
        let exec = flags.contains(PteFlags::EXEC);
        if flags.contains(PteFlags::USER) {
            e |= AP_EL0 | PXN;
            if !exec {
                e |= UXN;
            }
        } else {
            e |= UXN;
            if !exec {
                e |= PXN;
            }
        }
        if flags.contains(PteFlags::COW) {
            e |= SW_COW;
        }
        if flags.contains(PteFlags::SHARED) {
            e |= SW_SHARED;
        }
        e
    }

    fn decode(raw: u64, level: usize) -> Decoded {
        use arm_bits::*;
        if raw & VALID == 0 {
            return Decoded::Invalid;
        }
        let table_or_page = raw & TABLE_OR_PAGE != 0;
        let leaf = |size: PageSize| Decoded::Leaf {
            pa: PhysAddr(raw & Self::addr_mask(size)),
            flags: Self::leaf_flags(raw),
            size,
        };
        match level {
            0..=2 if table_or_page => Decoded::Table(PhysAddr(raw & ADDR)),
            // A level 0 block needs FEAT_LPA2 with 4 KiB granules: a translation fault here.
            0 => Decoded::Invalid,
            1 => leaf(PageSize::Size1G),
            2 => leaf(PageSize::Size2M),
            3 if table_or_page => leaf(PageSize::Size4K),
            // Level 3 with bit 1 clear is reserved: a translation fault.
            _ => Decoded::Invalid,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------

/// A TLB invalidation the caller owes after a page-table change.
///
/// `stale()` says whether a TLB may hold the old translation of [`va`](Self::va):
///
/// - `false` (from [`PageTable::map`]): the entry was invalid, and neither ISA caches
///   invalid entries. Only ordering is needed before the mapping is used (aarch64
///   `dsb ishst; isb`; nothing on x86_64).
/// - `true` (from unmap and protect): invalidate `va` on every CPU where the tree is live
///   (x86_64 `invlpg` plus shootdown; aarch64 `tlbi vale1is` / `vaale1is`, then
///   `dsb ish; isb`). A last-level invalidation is enough: nothing here frees or replaces
///   an intermediate table of a live tree.
///
/// Call [`ignore`](Self::ignore) for trees that were never loaded.
#[must_use = "the TLB may still hold the old translation: hand this to the arch TLB flush, or call `ignore()` for a tree that was never loaded"]
#[derive(Debug, PartialEq, Eq)]
pub struct Flush {
    va: VirtAddr,
    size: PageSize,
    stale: bool,
}

impl Flush {
    fn new(va: VirtAddr, size: PageSize, stale: bool) -> Self {
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
    /// Discards the obligation: for tables not loaded on any CPU.
    pub fn ignore(self) {}
}

/// One leaf found by iteration or teardown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub va: VirtAddr,
    pub pa: PhysAddr,
    pub size: PageSize,
    pub flags: PteFlags,
}

impl Leaf {
    /// One past the last byte; `VirtAddr::new(0)` for the last page of the address space.
    pub fn end(&self) -> VirtAddr {
        self.va.wrapping_add(self.size.bytes())
    }
}

/// Why [`PageTable::map`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The virtual address is not canonical.
    NonCanonical,
    /// The virtual or physical address is not aligned to the page size.
    Misaligned,
    /// The physical address does not fit the format's descriptors.
    PhysOutOfRange,
    /// DEVICE and NOCACHE together.
    InvalidFlags,
    /// The slot already holds a leaf of this size, or a table (possibly empty: tables are
    /// reclaimed only at teardown) where a 2 MiB / 1 GiB leaf was asked for.
    AlreadyMapped,
    /// A larger leaf already maps this address; it is left untouched.
    InsideLargePage { base: VirtAddr, size: PageSize },
    /// [`PhysMem::alloc_table`] failed. Tables allocated on the way stay linked (empty);
    /// teardown reclaims them.
    OutOfMemory,
}

/// Why [`PageTable::unmap`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnmapError {
    NonCanonical,
    /// The address is not 4 KiB-aligned.
    Misaligned,
    /// Nothing maps this address.
    NotMapped,
    /// A larger leaf maps this address but does not start here; it is left untouched.
    InsideLargePage {
        base: VirtAddr,
        size: PageSize,
    },
}

/// Why [`PageTable::protect`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtectError {
    NonCanonical,
    /// The address is not 4 KiB-aligned.
    Misaligned,
    /// DEVICE and NOCACHE together.
    InvalidFlags,
    /// Nothing maps this address.
    NotMapped,
    /// A larger leaf maps this address but does not start here; it is left untouched.
    InsideLargePage {
        base: VirtAddr,
        size: PageSize,
    },
    /// The new flags change DEVICE/NOCACHE. aarch64 needs break-before-make for a memory
    /// type change of a live mapping: unmap, flush, then map.
    MemoryTypeChange,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::NonCanonical => f.write_str("map: non-canonical virtual address"),
            MapError::Misaligned => f.write_str("map: address not aligned to the page size"),
            MapError::PhysOutOfRange => f.write_str("map: physical address out of range"),
            MapError::InvalidFlags => f.write_str("map: DEVICE and NOCACHE together"),
            MapError::AlreadyMapped => f.write_str("map: address already mapped"),
            MapError::InsideLargePage { base, size } => {
                write!(f, "map: inside the {size:?} page at {base:#x}")
            }
            MapError::OutOfMemory => f.write_str("map: out of memory for page tables"),
        }
    }
}

impl fmt::Display for UnmapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnmapError::NonCanonical => f.write_str("unmap: non-canonical virtual address"),
            UnmapError::Misaligned => f.write_str("unmap: address not page-aligned"),
            UnmapError::NotMapped => f.write_str("unmap: address not mapped"),
            UnmapError::InsideLargePage { base, size } => {
                write!(f, "unmap: inside the {size:?} page at {base:#x}")
            }
        }
    }
}

impl fmt::Display for ProtectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtectError::NonCanonical => f.write_str("protect: non-canonical virtual address"),
            ProtectError::Misaligned => f.write_str("protect: address not page-aligned"),
            ProtectError::InvalidFlags => f.write_str("protect: DEVICE and NOCACHE together"),
            ProtectError::NotMapped => f.write_str("protect: address not mapped"),
            ProtectError::InsideLargePage { base, size } => {
                write!(f, "protect: inside the {size:?} page at {base:#x}")
            }
            ProtectError::MemoryTypeChange => {
                f.write_str("protect: memory type changes need unmap + map")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The walker
// ---------------------------------------------------------------------------------------

/// A leaf located by a walk: where its entry lives and what it maps.
struct Found {
    table: PhysAddr,
    index: usize,
    base: VirtAddr,
    pa: PhysAddr,
    flags: PteFlags,
    size: PageSize,
}

/// One tree of page tables, identified by its root.
///
/// The value does not own the memory in the Rust sense (it is a physical address); the
/// caller serializes all changes to one tree (the address-space lock) and passes the same
/// [`PhysMem`] to every call. Mappings in either half may be made through any root; on
/// aarch64 the hardware walks only the lower half of a TTBR0 root and the upper half of
/// the TTBR1 root, with the same indices (VA bits 47:39) as here.
pub struct PageTable<F: PteFormat> {
    root: PhysAddr,
    _format: PhantomData<fn() -> F>,
}

impl<F: PteFormat> fmt::Debug for PageTable<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageTable<{}>({:#x})", F::NAME, self.root.0)
    }
}

impl<F: PteFormat> PageTable<F> {
    /// An empty tree: one zeroed root.
    pub fn new<M: PhysMem + ?Sized>(mem: &mut M) -> Option<Self> {
        Some(Self::from_root(mem.alloc_table()?))
    }

    /// A tree for a new address space. When the format keeps both halves in one root
    /// ([`PteFormat::SHARES_KERNEL_HALF_IN_ROOT`], x86_64), root entries 256..512 are
    /// copied from `kernel_root`, so the new space shares the kernel's level 1 tables
    /// (call [`populate_kernel_half`](Self::populate_kernel_half) on the kernel root
    /// first, so no upper root entry is added later). Otherwise (aarch64, where the kernel
    /// half is TTBR1's) the root starts empty and `kernel_root` is not read.
    pub fn new_with_kernel_half<M: PhysMem + ?Sized>(
        mem: &mut M,
        kernel_root: PhysAddr,
    ) -> Option<Self> {
        let pt = Self::new(mem)?;
        if F::SHARES_KERNEL_HALF_IN_ROOT {
            for i in KERNEL_HALF_FIRST_INDEX..ENTRIES_PER_TABLE {
                let e = mem.read_entry(kernel_root, i);
                mem.write_entry(pt.root, i, e);
            }
        }
        Some(pt)
    }

    /// Adopts an existing tree (the boot tables, the kernel root).
    pub const fn from_root(root: PhysAddr) -> Self {
        PageTable {
            root,
            _format: PhantomData,
        }
    }

    /// The root's physical address: what CR3 / TTBRn_EL1 receive.
    pub const fn root(&self) -> PhysAddr {
        self.root
    }

    /// Gives every empty upper-half root entry a level 1 table, so that copies made by
    /// [`new_with_kernel_half`](Self::new_with_kernel_half) see every later kernel
    /// mapping (x86_64: 256 tables, 1 MiB, once at boot). A no-op when the format keeps the
    /// kernel half in a root of its own.
    pub fn populate_kernel_half<M: PhysMem + ?Sized>(
        &mut self,
        mem: &mut M,
    ) -> Result<(), MapError> {
        if !F::SHARES_KERNEL_HALF_IN_ROOT {
            return Ok(());
        }
        for i in KERNEL_HALF_FIRST_INDEX..ENTRIES_PER_TABLE {
            if F::decode(mem.read_entry(self.root, i), 0) == Decoded::Invalid {
                let t = mem.alloc_table().ok_or(MapError::OutOfMemory)?;
                mem.write_entry(self.root, i, F::table(t));
            }
        }
        Ok(())
    }

    /// Maps `va` to `pa` as one leaf of `size`, allocating intermediate tables.
    /// Never overwrites: see [`MapError`].
    pub fn map<M: PhysMem + ?Sized>(
        &mut self,
        mem: &mut M,
        va: VirtAddr,
        pa: PhysAddr,
        size: PageSize,
        flags: PteFlags,
    ) -> Result<Flush, MapError> {
        if !va.is_canonical() {
            return Err(MapError::NonCanonical);
        }
        if !va.is_aligned(size) || !pa.is_aligned(size) {
            return Err(MapError::Misaligned);
        }
        if pa.0 >> F::PHYS_ADDR_BITS != 0 {
            return Err(MapError::PhysOutOfRange);
        }
        if !flags.is_valid() {
            return Err(MapError::InvalidFlags);
        }
        let lin = va.lin();
        let target = size.leaf_level();
        let mut table = self.root;
        for level in 0..target {
            let i = index_of(lin, level);
            table = match F::decode(mem.read_entry(table, i), level) {
                Decoded::Table(next) => next,
                Decoded::Invalid => {
                    let next = mem.alloc_table().ok_or(MapError::OutOfMemory)?;
                    mem.write_entry(table, i, F::table(next));
                    next
                }
                Decoded::Leaf { size: big, .. } => {
                    return Err(MapError::InsideLargePage {
                        base: va.align_down(big),
                        size: big,
                    })
                }
            };
        }
        let i = index_of(lin, target);
        if F::decode(mem.read_entry(table, i), target) != Decoded::Invalid {
            return Err(MapError::AlreadyMapped);
        }
        mem.write_entry(table, i, F::leaf(pa, flags, size));
        Ok(Flush::new(va, size, false))
    }

    /// Removes the leaf that starts at `va`, returning what it mapped.
    pub fn unmap<M: PhysMem + ?Sized>(
        &mut self,
        mem: &mut M,
        va: VirtAddr,
    ) -> Result<(PhysAddr, PageSize, PteFlags, Flush), UnmapError> {
        if !va.is_canonical() {
            return Err(UnmapError::NonCanonical);
        }
        if !va.is_aligned(PageSize::Size4K) {
            return Err(UnmapError::Misaligned);
        }
        let found = self.find(mem, va).ok_or(UnmapError::NotMapped)?;
        if found.base != va {
            return Err(UnmapError::InsideLargePage {
                base: found.base,
                size: found.size,
            });
        }
        mem.write_entry(found.table, found.index, 0);
        Ok((
            found.pa,
            found.size,
            found.flags,
            Flush::new(va, found.size, true),
        ))
    }

    /// Replaces the flags of the leaf that starts at `va`, keeping its address and size.
    /// The memory type (DEVICE / NOCACHE) cannot change here.
    pub fn protect<M: PhysMem + ?Sized>(
        &mut self,
        mem: &mut M,
        va: VirtAddr,
        flags: PteFlags,
    ) -> Result<Flush, ProtectError> {
        if !va.is_canonical() {
            return Err(ProtectError::NonCanonical);
        }
        if !va.is_aligned(PageSize::Size4K) {
            return Err(ProtectError::Misaligned);
        }
        if !flags.is_valid() {
            return Err(ProtectError::InvalidFlags);
        }
        let found = self.find(mem, va).ok_or(ProtectError::NotMapped)?;
        if found.base != va {
            return Err(ProtectError::InsideLargePage {
                base: found.base,
                size: found.size,
            });
        }
        if found.flags.memory_type() != flags.memory_type() {
            return Err(ProtectError::MemoryTypeChange);
        }
        mem.write_entry(
            found.table,
            found.index,
            F::leaf(found.pa, flags, found.size),
        );
        Ok(Flush::new(va, found.size, true))
    }

    /// What `va` (any address inside a leaf) translates to: the physical address with the
    /// offset applied, the leaf's flags and size. `None` if unmapped or non-canonical.
    pub fn translate<M: PhysMem + ?Sized>(
        &self,
        mem: &M,
        va: VirtAddr,
    ) -> Option<(PhysAddr, PteFlags, PageSize)> {
        if !va.is_canonical() {
            return None;
        }
        let found = self.find(mem, va)?;
        let offset = va.as_u64() & found.size.offset_mask();
        Some((found.pa + offset, found.flags, found.size))
    }

    /// The first leaf, in address order, that intersects `[from, end)` (a large leaf may
    /// start before `from`). Ranges never cross between halves: `end` is clipped to the
    /// end of `from`'s half, and `end == VirtAddr::new(0)` means that end (the top of the
    /// address space for kernel addresses). An `end` at or below `from`, or a
    /// non-canonical `from`, is an empty range.
    ///
    /// Meant for loops that change tables between steps (fork copying the parent's user
    /// half): continue from `leaf.end()`.
    pub fn next_leaf<M: PhysMem + ?Sized>(
        &self,
        mem: &M,
        from: VirtAddr,
        end: VirtAddr,
    ) -> Option<Leaf> {
        let (start, stop) = lin_range(from, end);
        self.next_leaf_lin(mem, start, stop)
    }

    /// Iterates the leaves intersecting `[from, end)` in address order, with the range
    /// rules of [`next_leaf`](Self::next_leaf).
    pub fn leaves<'a, M: PhysMem + ?Sized>(
        &'a self,
        mem: &'a M,
        from: VirtAddr,
        end: VirtAddr,
    ) -> Leaves<'a, F, M> {
        let (next, stop) = lin_range(from, end);
        Leaves {
            table: self,
            mem,
            next,
            stop,
        }
    }

    /// Tears down the lower (user) half: reports every leaf to `visit` (so the caller can
    /// drop frame references), returns every user-half table to `mem` and clears root
    /// entries 0..256. The root and the kernel half stay; the tree can be reused (exec).
    ///
    /// The caller guarantees no CPU walks this tree's user half any more and that its
    /// TLB/ASID entries are invalidated before the freed tables are reused.
    pub fn free_user_half<M: PhysMem + ?Sized>(
        &mut self,
        mem: &mut M,
        mut visit: impl FnMut(Leaf),
    ) {
        for i in 0..KERNEL_HALF_FIRST_INDEX {
            let raw = mem.read_entry(self.root, i);
            if raw == 0 {
                continue;
            }
            let base = (i as u64) << entry_span_shift(0);
            match F::decode(raw, 0) {
                Decoded::Table(t) => free_subtree::<F, M, _>(mem, t, 1, base, &mut visit),
                Decoded::Leaf { pa, flags, size } => visit(Leaf {
                    va: VirtAddr::from_lin(base),
                    pa,
                    size,
                    flags,
                }),
                Decoded::Invalid => {}
            }
            mem.write_entry(self.root, i, 0);
        }
    }

    /// [`free_user_half`](Self::free_user_half), then frees the root. The kernel half's
    /// tables are shared (x86_64) or absent (aarch64), so they are never freed here.
    pub fn destroy<M: PhysMem + ?Sized>(mut self, mem: &mut M, visit: impl FnMut(Leaf)) {
        self.free_user_half(mem, visit);
        mem.free_table(self.root);
    }

    /// Walks to the leaf covering `va` (canonical).
    fn find<M: PhysMem + ?Sized>(&self, mem: &M, va: VirtAddr) -> Option<Found> {
        let lin = va.lin();
        let mut table = self.root;
        for level in 0..LEVELS {
            let index = index_of(lin, level);
            match F::decode(mem.read_entry(table, index), level) {
                Decoded::Invalid => return None,
                Decoded::Table(next) if level < PAGE_LEVEL => table = next,
                Decoded::Table(_) => return None,
                Decoded::Leaf { pa, flags, size } => {
                    return Some(Found {
                        table,
                        index,
                        base: va.align_down(size),
                        pa,
                        flags,
                        size,
                    })
                }
            }
        }
        None
    }

    fn next_leaf_lin<M: PhysMem + ?Sized>(&self, mem: &M, from: u64, stop: u64) -> Option<Leaf> {
        if from >= stop {
            return None;
        }
        find_from::<F, M>(mem, self.root, 0, 0, from, stop)
    }
}

/// `[from, end)` as linear offsets, clipped to `from`'s half (see [`PageTable::next_leaf`]).
fn lin_range(from: VirtAddr, end: VirtAddr) -> (u64, u64) {
    if !from.is_canonical() {
        return (0, 0);
    }
    let start = from.lin();
    let half_end = if start < HALF { HALF } else { LIN_TOP };
    let stop = if end.0 == 0 {
        half_end
    } else if end.0 <= from.0 {
        start
    } else if start < HALF {
        end.0.min(HALF)
    } else {
        // end > from >= KERNEL_START: canonical and in the same half.
        end.lin()
    };
    (start, stop)
}

/// The first leaf intersecting `[from, stop)` under the table at `level` covering linear
/// addresses from `base`.
fn find_from<F: PteFormat, M: PhysMem + ?Sized>(
    mem: &M,
    table: PhysAddr,
    level: usize,
    base: u64,
    from: u64,
    stop: u64,
) -> Option<Leaf> {
    let shift = entry_span_shift(level);
    let first = if from > base {
        ((from - base) >> shift) as usize
    } else {
        0
    };
    for i in first..ENTRIES_PER_TABLE {
        let slot = base + ((i as u64) << shift);
        if slot >= stop {
            break;
        }
        match F::decode(mem.read_entry(table, i), level) {
            Decoded::Invalid => {}
            Decoded::Table(next) => {
                if level < PAGE_LEVEL {
                    if let Some(leaf) = find_from::<F, M>(mem, next, level + 1, slot, from, stop) {
                        return Some(leaf);
                    }
                }
            }
            Decoded::Leaf { pa, flags, size } => {
                return Some(Leaf {
                    va: VirtAddr::from_lin(slot),
                    pa,
                    size,
                    flags,
                })
            }
        }
    }
    None
}

/// Reports the leaves under the table at `level` (covering linear addresses from `base`),
/// then frees it and every table below it.
fn free_subtree<F: PteFormat, M: PhysMem + ?Sized, V: FnMut(Leaf)>(
    mem: &mut M,
    table: PhysAddr,
    level: usize,
    base: u64,
    visit: &mut V,
) {
    let shift = entry_span_shift(level);
    for i in 0..ENTRIES_PER_TABLE {
        let raw = mem.read_entry(table, i);
        if raw == 0 {
            continue;
        }
        let slot = base + ((i as u64) << shift);
        match F::decode(raw, level) {
            Decoded::Table(next) if level < PAGE_LEVEL => {
                free_subtree::<F, M, V>(mem, next, level + 1, slot, visit)
            }
            Decoded::Leaf { pa, flags, size } => visit(Leaf {
                va: VirtAddr::from_lin(slot),
                pa,
                size,
                flags,
            }),
            _ => {}
        }
    }
    mem.free_table(table);
}

/// Iterator over the leaves of a range: see [`PageTable::leaves`].
pub struct Leaves<'a, F: PteFormat, M: PhysMem + ?Sized> {
    table: &'a PageTable<F>,
    mem: &'a M,
    next: u64,
    stop: u64,
}

impl<F: PteFormat, M: PhysMem + ?Sized> Iterator for Leaves<'_, F, M> {
    type Item = Leaf;

    fn next(&mut self) -> Option<Leaf> {
        let leaf = self.table.next_leaf_lin(self.mem, self.next, self.stop)?;
        // Continue after the leaf; `stop` is at most LIN_TOP, so this cannot wrap past it.
        self.next = leaf.va.lin() + leaf.size.bytes();
        Some(leaf)
    }
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::boxed::Box;
    use std::collections::{BTreeMap, BTreeSet, HashMap};
    use std::vec::Vec;

    /// Fake physical memory: table pages in a map, addresses never reused, so a walk
    /// through a freed table panics instead of reading stale data.
    struct FakeMem {
        pages: HashMap<u64, Box<[u64; ENTRIES_PER_TABLE]>>,
        next: u64,
        budget: usize,
    }

    impl FakeMem {
        fn new() -> Self {
            Self::with_budget(usize::MAX)
        }
        fn with_budget(budget: usize) -> Self {
            FakeMem {
                pages: HashMap::new(),
                next: 0x10_0000_0000,
                budget,
            }
        }
        /// Live (allocated, not freed) tables.
        fn live(&self) -> usize {
            self.pages.len()
        }
        fn page(&self, table: PhysAddr) -> &[u64; ENTRIES_PER_TABLE] {
            self.pages
                .get(&table.as_u64())
                .unwrap_or_else(|| panic!("{table:?} is not a live table"))
        }
    }

    impl PhysMem for FakeMem {
        fn read_entry(&self, table: PhysAddr, index: usize) -> u64 {
            self.page(table)[index]
        }
        fn write_entry(&mut self, table: PhysAddr, index: usize, value: u64) {
            self.pages
                .get_mut(&table.as_u64())
                .unwrap_or_else(|| panic!("write to {table:?}, not a live table"))[index] = value;
        }
        fn alloc_table(&mut self) -> Option<PhysAddr> {
            if self.budget == 0 {
                return None;
            }
            self.budget -= 1;
            let pa = self.next;
            self.next += TABLE_BYTES;
            self.pages.insert(pa, Box::new([0; ENTRIES_PER_TABLE]));
            Some(PhysAddr::new(pa))
        }
        fn free_table(&mut self, table: PhysAddr) {
            assert!(
                self.pages.remove(&table.as_u64()).is_some(),
                "double free of {table:?}"
            );
        }
    }

    const K: PageSize = PageSize::Size4K;
    const M2: PageSize = PageSize::Size2M;
    const G1: PageSize = PageSize::Size1G;

    fn va(raw: u64) -> VirtAddr {
        VirtAddr::new(raw)
    }
    fn pa(raw: u64) -> PhysAddr {
        PhysAddr::new(raw)
    }
    fn uflags() -> PteFlags {
        PteFlags::USER | PteFlags::WRITE
    }
    fn kflags() -> PteFlags {
        PteFlags::WRITE | PteFlags::GLOBAL
    }

    /// Every valid combination of the eight flags (192 of 256).
    fn all_valid_flags() -> impl Iterator<Item = PteFlags> {
        (0..=PteFlags::ALL_BITS)
            .map(PteFlags::from_bits_truncate)
            .filter(|f| f.is_valid())
    }

    fn new_table<F: PteFormat>(mem: &mut FakeMem) -> PageTable<F> {
        PageTable::new(mem).expect("fake memory")
    }

    // ---- generic tests, instantiated for both formats at the bottom ----

    fn round_trip_all_sizes<F: PteFormat>() {
        let mut mem = FakeMem::new();
        let mut pt = new_table::<F>(&mut mem);
        let cases = [
            (0x0000_0000_0040_0000, 0x0000_0012_3456_7000, K, uflags()),
            (0x0000_7fff_ffff_f000, 0x0000_0000_0000_1000, K, uflags()),
            (0x0000_0040_0020_0000, 0x0000_0000_8060_0000, M2, uflags()),
            (0x0000_0080_0000_0000, 0x0000_00c0_4000_0000, G1, uflags()),
            (0xffff_8000_0000_0000, 0x0000_0000_0000_0000, G1, kflags()),
            (
                0xffff_ffff_8020_0000,
                0x0000_0000_4020_0000,
                M2,
                PteFlags::EXEC | PteFlags::GLOBAL,
            ),
            (0xffff_ffff_ffff_f000, 0x0000_0000_0fff_f000, K, kflags()),
        ];
        for (v, p, size, flags) in cases {
            let flush = pt.map(&mut mem, va(v), pa(p), size, flags).unwrap();
            assert_eq!(flush.va(), va(v));
            assert_eq!(flush.size(), size);
            assert!(!flush.stale(), "a fresh mapping has nothing to invalidate");
            flush.ignore();
        }
        for (v, p, size, flags) in cases {
            assert_eq!(pt.translate(&mem, va(v)), Some((pa(p), flags, size)));
            for off in [8, 0xabc, size.bytes() / 2 + 0x18, size.bytes() - 1] {
                assert_eq!(
                    pt.translate(&mem, va(v + off)),
                    Some((pa(p + off), flags, size)),
                    "{v:#x} + {off:#x}"
                );
            }
        }
        // Just outside each mapping: nothing.
        assert_eq!(pt.translate(&mem, va(0x0000_0000_003f_f000)), None);
        assert_eq!(pt.translate(&mem, va(0x0000_0000_0040_1000)), None);
        assert_eq!(pt.translate(&mem, va(0x0000_0040_0040_0000)), None);
        assert_eq!(pt.translate(&mem, va(0x0000_0080_4000_0000)), None);
        for (v, p, size, flags) in cases {
            let (got_pa, got_size, got_flags, flush) = pt.unmap(&mut mem, va(v)).unwrap();
            assert_eq!((got_pa, got_size, got_flags), (pa(p), size, flags));
            assert!(flush.stale());
            assert_eq!(flush.va(), va(v));
            assert_eq!(flush.size(), size);
            flush.ignore();
            assert_eq!(pt.translate(&mem, va(v)), None);
            assert_eq!(pt.translate(&mem, va(v + (size.bytes() - 1))), None);
        }
        // The slots are reusable, at another size where the tables allow it.
        pt.map(&mut mem, va(0x0000_0000_0040_0000), pa(0x5000), K, uflags())
            .unwrap()
            .ignore();
        assert_eq!(
            pt.translate(&mem, va(0x0000_0000_0040_0123)),
            Some((pa(0x5123), uflags(), K))
        );
    }

    fn flags_round_trip<F: PteFormat>() {
        let mut count = 0;
        for flags in all_valid_flags() {
            count += 1;
            for size in PageSize::ALL {
                // The highest aligned address the format can hold, so flag bits that
                // collided with address bits would show.
                let top = ((1u64 << F::PHYS_ADDR_BITS) - 1) & !(size.bytes() - 1);
                for p in [top, size.bytes(), 0] {
                    let raw = F::leaf(pa(p), flags, size);
                    assert_eq!(
                        F::decode(raw, size.leaf_level()),
                        Decoded::Leaf {
                            pa: pa(p),
                            flags,
                            size
                        },
                        "{} {flags:?} {size:?} {p:#x}: {raw:#018x}",
                        F::NAME
                    );
                }
            }
        }
        assert_eq!(count, 192);
        // Table entries decode as tables at levels 0-2.
        let top = ((1u64 << F::PHYS_ADDR_BITS) - 1) & !0xfff;
        for level in 0..PAGE_LEVEL {
            for p in [top, 0x1000, 0] {
                assert_eq!(F::decode(F::table(pa(p)), level), Decoded::Table(pa(p)));
            }
        }
        assert_eq!(F::decode(0, 0), Decoded::Invalid);
        assert_eq!(F::decode(0, 3), Decoded::Invalid);
        // And through the walker: every combination maps and reads back.
        let mut mem = FakeMem::new();
        let mut pt = new_table::<F>(&mut mem);
        for (i, flags) in all_valid_flags().enumerate() {
            let v = va(0x1000_0000 + (i as u64) * 0x1000);
            let p = pa(0x2_0000_0000 + (i as u64) * 0x1000);
            pt.map(&mut mem, v, p, K, flags).unwrap().ignore();
            assert_eq!(pt.translate(&mem, v), Some((p, flags, K)));
        }
    }

    fn invalid_flags_refused<F: PteFormat>() {
        let mut mem = FakeMem::new();
        let mut pt = new_table::<F>(&mut mem);
        let bad = PteFlags::DEVICE | PteFlags::NOCACHE;
        assert!(!bad.is_valid());
        assert_eq!(
            pt.map(&mut mem, va(0x1000), pa(0x1000), K, bad),
            Err(MapError::InvalidFlags)
        );
        assert_eq!(mem.live(), 1, "a refused map allocates nothing");
        pt.map(&mut mem, va(0x1000), pa(0x1000), K, PteFlags::DEVICE)
            .unwrap()
            .ignore();
        assert_eq!(
            pt.protect(&mut mem, va(0x1000), bad | PteFlags::WRITE),
            Err(ProtectError::InvalidFlags)
        );
    }

    fn w_x_combinations<F: PteFormat>() {
        // The walker is mechanism: every permission combination maps and reads back, and
        // read-only, write-only-data and execute-only-text kernel sections keep their
        // meaning (the per-format tests check the hardware bits behind them).
        let mut mem = FakeMem::new();
        let mut pt = new_table::<F>(&mut mem);
        let sections = [
            (0xffff_ffff_8000_0000, PteFlags::EXEC | PteFlags::GLOBAL), // text: RX
            (0xffff_ffff_8020_0000, PteFlags::GLOBAL),                  // rodata: R
            (0xffff_ffff_8040_0000, PteFlags::WRITE | PteFlags::GLOBAL), // data: RW NX
            (0x0000_0000_0040_0000, PteFlags::USER | PteFlags::EXEC),   // user text
            (0x0000_0000_0060_0000, PteFlags::USER | PteFlags::WRITE),  // user data
            (
                0x0000_0000_0080_0000,
                PteFlags::USER | PteFlags::WRITE | PteFlags::EXEC,
            ), // JIT
        ];
        for (i, (v, flags)) in sections.into_iter().enumerate() {
            let p = pa(0x4000_0000 + i as u64 * 0x20_0000);
            pt.map(&mut mem, va(v), p, M2, flags).unwrap().ignore();
            let (_, got, _) = pt.translate(&mem, va(v + 0x1234)).unwrap();
            assert_eq!(got, flags);
            assert_eq!(
                got.contains(PteFlags::WRITE) && got.contains(PteFlags::EXEC),
                i == 5,
                "only the JIT mapping is both writable and executable"
            );
        }
        // mprotect-style transitions: RW -> RX -> R keep W^X.
        let v = va(0x0000_0000_0060_0000);
        for flags in [
            PteFlags::USER | PteFlags::EXEC,
            PteFlags::USER,
            PteFlags::USER | PteFlags::WRITE,
        ] {
            pt.protect(&mut mem, v, flags).unwrap().ignore();
            assert_eq!(pt.translate(&mem, v).unwrap().1, flags);
        }
    }

    fn misaligned_and_non_canonical<F: PteFormat>() {
        let mut mem = FakeMem::new();
        let mut pt = new_table::<F>(&mut mem);
        let f = uflags();
        let non_canonical = [
            0x0000_8000_0000_0000,
            0x0001_0000_0000_0000,
            0x1234_0000_0000_0000,
            0xffff_0000_0000_0000,
            0xffff_7fff_ffff_f000,
            0x8000_0000_0000_0000,
        ];
        for v in non_canonical {
            assert!(!va(v).is_canonical());
            assert_eq!(
                pt.map(&mut mem, va(v), pa(0), K, f),
                Err(MapError::NonCanonical)
            );
            assert_eq!(pt.unmap(&mut mem, va(v)), Err(UnmapError::NonCanonical));
            assert_eq!(
                pt.protect(&mut mem, va(v), f),
                Err(ProtectError::NonCanonical)
            );
            assert_eq!(pt.translate(&mem, va(v)), None);
        }
        let misaligned = [
            (0x1001, 0x1000, K),
            (0x1000, 0x1008, K),
            (0x1000, 0x20_0000, M2),
            (0x20_0000, 0x1000, M2),
            (0x20_0000, 0x4000_0000, G1),
            (0x4000_0000, 0x20_0000, G1),
            (0x4000_1000, 0x8000_0000, G1),
        ];
        for (v, p, size) in misaligned {
            assert_eq!(
                pt.map(&mut mem, va(v), pa(p), size, f),
                Err(MapError::Misaligned),
                "{v:#x} -> {p:#x} {size:?}"
            );
        }
        assert_eq!(pt.unmap(&mut mem, va(0x1001)), Err(UnmapError::Misaligned));
        assert_eq!(
            pt.protect(&mut mem, va(0x1ff), f),
            Err(ProtectError::Misaligned)
        );
        // Physical addresses beyond the descriptors' reach.
        let beyond = 1u64 << F::PHYS_ADDR_BITS;
        assert_eq!(
            pt.map(&mut mem, va(0x1000), pa(beyond), K, f),
            Err(MapError::PhysOutOfRange)
        );
        assert_eq!(
            pt.map(&mut mem, va(0x1000), pa(!0xfff), K, f),
            Err(MapError::PhysOutOfRange)
        );
        assert_eq!(mem.live(), 1, "refused calls allocate nothing");
        // The canonical extremes work.
        pt.map(&mut mem, va(0), pa(beyond - 0x1000), K, f)
            .unwrap()
            .ignore();
        pt.map(&mut mem, va(0xffff_ffff_ffff_f000), pa(0), K, kflags())
            .unwrap()
            .ignore();
        assert_eq!(pt.translate(&mem, va(0xfff)), Some((pa(beyond - 1), f, K)));
    }

    fn already_mapped<F: PteFormat>() {
        let mut mem = FakeMem::new();
        let mut pt = new_table::<F>(&mut mem);
        let f = uflags();
        for (v, size) in [(0x1000, K), (0x40_0000, M2), (0x80_0000_0000, G1)] {
            pt.map(&mut mem, va(v), pa(0), size, f).unwrap().ignore();
            let live = mem.live();
            for p in [0, size.bytes()] {
                assert_eq!(
                    pt.map(&mut mem, va(v), pa(p), size, f),
                    Err(MapError::AlreadyMapped)
                );
            }
            assert_eq!(mem.live(), live);
            assert_eq!(pt.translate(&mem, va(v)), Some((pa(0), f, size)));
        }
        // A large leaf over a table of smaller pages: refused, the pages untouched.
        assert_eq!(
            pt.map(&mut mem, va(0), pa(0), M2, f),
            Err(MapError::AlreadyMapped)
        );
        assert_eq!(
            pt.map(&mut mem, va(0), pa(0), G1, f),
            Err(MapError::AlreadyMapped)
        );
        assert_eq!(pt.translate(&mem, va(0x1000)), Some((pa(0), f, K)));
        assert_eq!(pt.translate(&mem, va(0x40_0000)), Some((pa(0), f, M2)));
        // Also once the small page is gone: its (empty) table stays until teardown.
        pt.unmap(&mut mem, va(0x1000)).unwrap().3.ignore();
        assert_eq!(
            pt.map(&mut mem, va(0), pa(0), M2, f),
            Err(MapError::AlreadyMapped)
        );
    }

    fn refuses_small_inside_large<F: PteFormat>() {
        let mut mem = FakeMem::new();
        let mut pt = new_table::<F>(&mut mem);
        let f = uflags();
        let base2m = va(0x0000_0012_3460_0000);
        let base1g = va(0x0000_0040_4000_0000);
        pt.map(&mut mem, base2m, pa(0x8000_0000), M2, f)
            .unwrap()
            .ignore();
        pt.map(&mut mem, base1g, pa(0x1_0000_0000), G1, f)
            .unwrap()
            .ignore();
        let live = mem.live();
        let raw2m = pt
            .find(&mem, base2m)
            .map(|x| mem.read_entry(x.table, x.index));
        let inside2m = MapError::InsideLargePage {
            base: base2m,
            size: M2,
        };
        let inside1g = MapError::InsideLargePage {
            base: base1g,
            size: G1,
        };
        for off in [0, 0x1000, 0x1f_f000] {
            assert_eq!(pt.map(&mut mem, base2m + off, pa(0), K, f), Err(inside2m));
        }
        for (off, size) in [
            (0, K),
            (0x3fff_f000, K),
            (0, M2),
            (0x20_0000, M2),
            (0x3fe0_0000, M2),
        ] {
            assert_eq!(
                pt.map(&mut mem, base1g + off, pa(0), size, f),
                Err(inside1g)
            );
        }
        assert_eq!(mem.live(), live, "no table was spliced in");
        assert_eq!(
            pt.find(&mem, base2m)
                .map(|x| mem.read_entry(x.table, x.index)),
            raw2m
        );
        assert_eq!(
            pt.translate(&mem, base2m + 0x1234),
            Some((pa(0x8000_1234), f, M2))
        );
        // Unmap and protect of a page inside a large leaf are refused too.
        assert_eq!(
            pt.unmap(&mut mem, base2m + 0x1000),
            Err(UnmapError::InsideLargePage {
                base: base2m,
                size: M2
            })
        );
        assert_eq!(
            pt.protect(&mut mem, base1g + 0x20_0000, f),
            Err(ProtectError::InsideLargePage {
                base: base1g,
                size: G1
            })
        );
        assert_eq!(
            pt.translate(&mem, base1g + 0x3fff_ffff),
            Some((pa(0x1_3fff_ffff), f, G1))
        );
    }

    fn protect_changes_flags<F: PteFormat>() {
        let mut mem = FakeMem::new();
        let mut pt = new_table::<F>(&mut mem);
        let v = va(0x7000_0000_0000);
        pt.map(&mut mem, v, pa(0x9000), K, uflags())
            .unwrap()
            .ignore();
        let cow = PteFlags::USER | PteFlags::COW;
        let flush = pt.protect(&mut mem, v, cow).unwrap();
        assert_eq!(flush, Flush::new(v, K, true));
        flush.ignore();
        assert_eq!(pt.translate(&mem, v), Some((pa(0x9000), cow, K)));
        let flush = pt
            .protect(&mut mem, v, PteFlags::USER | PteFlags::EXEC)
            .unwrap();
        assert!(flush.stale());
        flush.ignore();
        assert_eq!(
            pt.translate(&mem, v + 0x10),
            Some((pa(0x9010), PteFlags::USER | PteFlags::EXEC, K))
        );
        assert_eq!(
            pt.protect(&mut mem, v, PteFlags::USER | PteFlags::DEVICE),
            Err(ProtectError::MemoryTypeChange)
        );
        assert_eq!(
            pt.protect(&mut mem, v + 0x1000, uflags()),
            Err(ProtectError::NotMapped)
        );
        assert_eq!(
            pt.protect(&mut mem, va(0x1000), uflags()),
            Err(ProtectError::NotMapped)
        );
        // Large leaves keep their size and address.
        let big = va(0xffff_9000_0000_0000);
        let dev = PteFlags::DEVICE | PteFlags::WRITE | PteFlags::GLOBAL;
        pt.map(&mut mem, big, pa(0xc000_0000), G1, dev)
            .unwrap()
            .ignore();
        let flush = pt
            .protect(&mut mem, big, PteFlags::DEVICE | PteFlags::GLOBAL)
            .unwrap();
        assert_eq!(flush, Flush::new(big, G1, true));
        flush.ignore();
        assert_eq!(
            pt.translate(&mem, big + 0x1000),
            Some((pa(0xc000_1000), PteFlags::DEVICE | PteFlags::GLOBAL, G1))
        );
        assert_eq!(
            pt.protect(&mut mem, big, PteFlags::GLOBAL),
            Err(ProtectError::MemoryTypeChange)
        );
    }

    fn unmap_unmapped<F: PteFormat>() {
        let mut mem = FakeMem::new();
        let mut pt = new_table::<F>(&mut mem);
        assert_eq!(pt.unmap(&mut mem, va(0x1000)), Err(UnmapError::NotMapped));
        assert_eq!(
            pt.unmap(&mut mem, va(0xffff_8000_0000_0000)),
            Err(UnmapError::NotMapped)
        );
        pt.map(&mut mem, va(0x1000), pa(0x1000), K, uflags())
            .unwrap()
            .ignore();
        assert_eq!(pt.unmap(&mut mem, va(0x2000)), Err(UnmapError::NotMapped));
        pt.unmap(&mut mem, va(0x1000)).unwrap().3.ignore();
        assert_eq!(pt.unmap(&mut mem, va(0x1000)), Err(UnmapError::NotMapped));
        assert_eq!(pt.translate(&mem, va(0x1000)), None);
    }

    fn free_user_half_frees_every_table<F: PteFormat>() {
        let mut mem = FakeMem::new();
        let mut pt = new_table::<F>(&mut mem);
        // Kernel-half mappings first, to know how many tables they hold.
        let kernel = [
            (0xffff_8000_0000_0000, G1),
            (0xffff_ffff_8000_0000, M2),
            (0xffff_ffff_ffff_f000, K),
        ];
        for (v, size) in kernel {
            pt.map(&mut mem, va(v), pa(0), size, kflags())
                .unwrap()
                .ignore();
        }
        let kernel_tables = mem.live();
        // User mappings over several root slots and every size.
        let mut user = BTreeMap::new();
        for i in 0..300u64 {
            let v = (i % 7) << 39 | (i % 5) << 30 | (i % 3) << 21 | i << 12;
            user.insert(v, (0x10_0000 + i * 0x1000, K));
        }
        user.insert(0x0000_0400_0000_0000, (0x4000_0000, G1));
        user.insert(0x0000_0400_4020_0000, (0x20_0000, M2));
        user.insert(0x0000_7fff_ffe0_0000, (0x40_0000, M2));
        for (&v, &(p, size)) in &user {
            let flags = if v & 0x1000 != 0 {
                uflags()
            } else {
                PteFlags::USER | PteFlags::COW
            };
            pt.map(&mut mem, va(v), pa(p), size, flags)
                .unwrap()
                .ignore();
        }
        assert!(mem.live() > kernel_tables + 20);
        let mut seen = BTreeMap::new();
        pt.free_user_half(&mut mem, |leaf| {
            assert!(seen
                .insert(leaf.va.as_u64(), (leaf.pa.as_u64(), leaf.size))
                .is_none());
            let want = if leaf.va.as_u64() & 0x1000 != 0 {
                uflags()
            } else {
                PteFlags::USER | PteFlags::COW
            };
            assert_eq!(leaf.flags, want);
        });
        assert_eq!(seen, user, "every user leaf reported once");
        assert_eq!(mem.live(), kernel_tables, "every user-half table freed");
        for i in 0..KERNEL_HALF_FIRST_INDEX {
            assert_eq!(mem.read_entry(pt.root(), i), 0);
        }
        for (v, size) in kernel {
            assert_eq!(pt.translate(&mem, va(v)), Some((pa(0), kflags(), size)));
        }
        // The root is reusable (exec), and a second teardown of an empty half is a no-op.
        pt.map(&mut mem, va(0x40_0000), pa(0x1000), K, uflags())
            .unwrap()
            .ignore();
        pt.free_user_half(&mut mem, |_| {});
        pt.free_user_half(&mut mem, |_| panic!("nothing left"));
        assert_eq!(mem.live(), kernel_tables);
        // A user-only tree destroys down to nothing.
        let mut mem = FakeMem::new();
        let mut pt = new_table::<F>(&mut mem);
        for i in 0..64u64 {
            pt.map(&mut mem, va(i << 30 | i << 12), pa(i << 12), K, uflags())
                .unwrap()
                .ignore();
        }
        let mut n = 0;
        pt.destroy(&mut mem, |_| n += 1);
        assert_eq!(n, 64);
        assert_eq!(mem.live(), 0);
    }

    fn kernel_half_sharing<F: PteFormat>() {
        let mut mem = FakeMem::new();
        let mut kernel = new_table::<F>(&mut mem);
        let dmap = va(0xffff_8000_0000_0000);
        let image = va(0xffff_ffff_8000_0000);
        kernel
            .map(&mut mem, dmap, pa(0), G1, kflags())
            .unwrap()
            .ignore();
        kernel
            .map(
                &mut mem,
                image,
                pa(0x20_0000),
                M2,
                PteFlags::EXEC | PteFlags::GLOBAL,
            )
            .unwrap()
            .ignore();
        let before = mem.live();
        kernel.populate_kernel_half(&mut mem).unwrap();
        if F::SHARES_KERNEL_HALF_IN_ROOT {
            // 256 upper root slots, two of them already in use.
            assert_eq!(mem.live(), before + 254);
        } else {
            assert_eq!(
                mem.live(),
                before,
                "no-op when the kernel half has its own root"
            );
        }
        let kernel_tables = mem.live();
        let mut user = PageTable::<F>::new_with_kernel_half(&mut mem, kernel.root()).unwrap();
        assert_eq!(mem.live(), kernel_tables + 1, "just the new root");
        for i in 0..KERNEL_HALF_FIRST_INDEX {
            assert_eq!(mem.read_entry(user.root(), i), 0);
        }
        for i in KERNEL_HALF_FIRST_INDEX..ENTRIES_PER_TABLE {
            let want = if F::SHARES_KERNEL_HALF_IN_ROOT {
                mem.read_entry(kernel.root(), i)
            } else {
                0
            };
            assert_eq!(mem.read_entry(user.root(), i), want);
        }
        // A kernel mapping made after the copy, in a root slot that was empty before
        // populate_kernel_half, and one under an existing slot.
        let heap = va(0xffff_c000_0000_0000);
        let later = va(0xffff_8000_4000_0000);
        kernel
            .map(&mut mem, heap, pa(0x7000), K, kflags())
            .unwrap()
            .ignore();
        kernel
            .map(&mut mem, later, pa(0x4000_0000), G1, kflags())
            .unwrap()
            .ignore();
        for v in [dmap, image, heap, later] {
            let got = user.translate(&mem, v + 8);
            if F::SHARES_KERNEL_HALF_IN_ROOT {
                assert_eq!(got, kernel.translate(&mem, v + 8));
                assert!(got.is_some());
            } else {
                assert_eq!(got, None, "the user root's upper half is empty");
            }
        }
        // The user half is private and its teardown never touches kernel tables.
        user.map(&mut mem, va(0x40_0000), pa(0x3000), K, uflags())
            .unwrap()
            .ignore();
        assert_eq!(kernel.translate(&mem, va(0x40_0000)), None);
        let kernel_tables = mem.live() - 4; // user root + its three user tables
        let mut leaves = 0;
        user.destroy(&mut mem, |leaf| {
            assert!(leaf.va.is_user());
            leaves += 1;
        });
        assert_eq!(leaves, 1);
        assert_eq!(mem.live(), kernel_tables);
        for v in [dmap, image, heap, later] {
            assert!(kernel.translate(&mem, v).is_some());
        }
    }

    fn out_of_memory<F: PteFormat>() {
        let mut mem = FakeMem::with_budget(0);
        assert!(PageTable::<F>::new(&mut mem).is_none());
        // Root + two of the three tables a 4 KiB page needs.
        let mut mem = FakeMem::with_budget(3);
        let mut pt = new_table::<F>(&mut mem);
        assert_eq!(
            pt.map(&mut mem, va(0x1000), pa(0x1000), K, uflags()),
            Err(MapError::OutOfMemory)
        );
        assert_eq!(pt.translate(&mem, va(0x1000)), None);
        assert_eq!(mem.live(), 3, "partial tables stay linked");
        // A 1 GiB page fits in what is there.
        pt.map(&mut mem, va(0x4000_0000), pa(0x4000_0000), G1, uflags())
            .unwrap()
            .ignore();
        let mut n = 0;
        pt.free_user_half(&mut mem, |_| n += 1);
        assert_eq!(n, 1);
        assert_eq!(mem.live(), 1, "teardown reclaims the partial tables");
        // populate_kernel_half reports exhaustion instead of half-sharing silently.
        if F::SHARES_KERNEL_HALF_IN_ROOT {
            assert_eq!(
                pt.populate_kernel_half(&mut mem),
                Err(MapError::OutOfMemory)
            );
        } else {
            assert_eq!(pt.populate_kernel_half(&mut mem), Ok(()));
        }
    }

    fn leaf_iteration<F: PteFormat>() {
        let mut mem = FakeMem::new();
        let mut pt = new_table::<F>(&mut mem);
        let user = [
            (0x0000_0000_0000_1000, K),
            (0x0000_0000_0020_0000, M2),
            (0x0000_0000_4000_0000, G1),
            (0x0000_0000_8000_3000, K),
            (0x0000_7fff_ffff_f000, K),
        ];
        let kernel = [(0xffff_8000_0000_0000, K), (0xffff_ffff_ffff_f000, K)];
        for (v, size) in user {
            pt.map(&mut mem, va(v), pa(v & 0xffff_f000_0000), size, uflags())
                .unwrap()
                .ignore();
        }
        for (v, size) in kernel {
            pt.map(&mut mem, va(v), pa(0), size, kflags())
                .unwrap()
                .ignore();
        }
        let list = |from: u64, end: u64| -> Vec<(u64, PageSize)> {
            pt.leaves(&mem, va(from), va(end))
                .map(|l| (l.va.as_u64(), l.size))
                .collect()
        };
        assert_eq!(list(0, VirtAddr::USER_END.as_u64()), user.to_vec());
        assert_eq!(list(0, 0), user.to_vec(), "end 0: to the end of the half");
        assert_eq!(list(0, u64::MAX), user.to_vec(), "clipped to the user half");
        assert_eq!(list(0xffff_8000_0000_0000, 0), kernel.to_vec());
        assert_eq!(list(0xffff_8000_0000_1000, 0), kernel[1..].to_vec());
        // Intersection: a large leaf starting before `from` is included.
        assert_eq!(list(0x20_1000, 0x4000_0000), [(0x20_0000, M2)]);
        assert_eq!(list(0x40_0000, 0x4000_0001), [(0x4000_0000, G1)]);
        assert_eq!(list(0x40_0000, 0x4000_0000), []);
        assert_eq!(list(0x2000, 0x20_0000), []);
        assert_eq!(list(0x1000, 0x1001), [(0x1000, K)]);
        assert_eq!(list(0x5000, 0x5000), []);
        assert_eq!(list(0x5000, 0x4000), [], "reversed range is empty");
        assert_eq!(list(0x0000_8000_0000_0000, 0), [], "non-canonical start");
        // next_leaf drives the same walk one step at a time.
        let mut from = va(0);
        let mut seen = Vec::new();
        while let Some(leaf) = pt.next_leaf(&mem, from, VirtAddr::USER_END) {
            seen.push((leaf.va.as_u64(), leaf.size));
            from = leaf.end();
        }
        assert_eq!(seen, user.to_vec());
        let last = pt
            .next_leaf(&mem, va(0xffff_ffff_ffff_f000), va(0))
            .unwrap();
        assert_eq!(last.end(), va(0), "the end of the last page wraps to 0");
    }

    use crate::testutil::XorShift;

    /// What the randomized test expects: leaves by VA, and which intermediate tables exist
    /// as (level, linear address >> span of that table).
    #[derive(Default)]
    struct Model {
        leaves: BTreeMap<u64, (u64, PageSize, PteFlags)>,
        tables: BTreeSet<(usize, u64)>,
    }

    fn table_key(level: usize, v: u64) -> (usize, u64) {
        // A table at `level` covers what one entry at `level - 1` does.
        (level, (v & LIN_MASK) >> entry_span_shift(level - 1))
    }

    impl Model {
        /// The leaf covering `v`, if any: (base, pa, size, flags).
        fn covering(&self, v: u64) -> Option<(u64, u64, PageSize, PteFlags)> {
            PageSize::ALL.iter().find_map(|&size| {
                let base = v & !(size.bytes() - 1);
                match self.leaves.get(&base) {
                    Some(&(p, s, f)) if s == size => Some((base, p, s, f)),
                    _ => None,
                }
            })
        }

        fn map(&mut self, v: u64, p: u64, size: PageSize, flags: PteFlags) -> Result<(), MapError> {
            let target = size.leaf_level();
            // Walking down: a larger leaf on the way refuses.
            for level in 1..target {
                let big = PageSize::at_level(level).unwrap();
                let base = v & !(big.bytes() - 1);
                if matches!(self.leaves.get(&base), Some(&(_, s, _)) if s == big) {
                    return Err(MapError::InsideLargePage {
                        base: va(base),
                        size: big,
                    });
                }
            }
            // The target slot holds this size's leaf, or a table below it.
            let occupied = matches!(self.leaves.get(&v), Some(&(_, s, _)) if s == size)
                || (target < PAGE_LEVEL && self.tables.contains(&table_key(target + 1, v)));
            if occupied {
                return Err(MapError::AlreadyMapped);
            }
            self.leaves.insert(v, (p, size, flags));
            for level in 1..=target {
                self.tables.insert(table_key(level, v));
            }
            Ok(())
        }
    }

    fn randomized_against_model<F: PteFormat>() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut mem = FakeMem::new();
        let mut pt = new_table::<F>(&mut mem);
        let mut model = Model::default();
        let flag_choices: Vec<PteFlags> = all_valid_flags().collect();
        let (mut maps, mut unmaps, mut refusals) = (0, 0, 0);
        let user_model = |model: &Model| -> BTreeMap<u64, (u64, PageSize, PteFlags)> {
            model
                .leaves
                .iter()
                .filter(|(v, _)| **v < HALF)
                .map(|(&v, &x)| (v, x))
                .collect()
        };
        for step in 0..20_000 {
            // Every 4000 steps, tear the user half down (as exec does) and check it against
            // the model, so large pages get fresh, table-free ground again.
            if step % 4000 == 3999 {
                let mut freed = BTreeMap::new();
                pt.free_user_half(&mut mem, |l| {
                    freed.insert(l.va.as_u64(), (l.pa.as_u64(), l.size, l.flags));
                });
                assert_eq!(freed, user_model(&model), "step {step}: teardown");
                model.leaves.retain(|&v, _| v >= HALF);
                model
                    .tables
                    .retain(|&(level, key)| key << entry_span_shift(level - 1) >= HALF);
                assert_eq!(mem.live(), 1 + model.tables.len());
            }
            let half = if rng.below(4) == 0 {
                0xffff_a000_0000_0000
            } else {
                0x0000_1000_0000_0000
            };
            // 4 KiB pages live in GiB 0-1 (with some 2 MiB ones), 2 MiB in GiB 0-2, 1 GiB
            // in GiB 2-3: every kind of collision happens, and large pages still succeed.
            let size = match rng.below(100) {
                0..=69 => K,
                70..=89 => M2,
                _ => G1,
            };
            let gib = match size {
                PageSize::Size4K => rng.below(2),
                PageSize::Size2M => rng.below(3),
                PageSize::Size1G => 2 + rng.below(2),
            };
            let mut v = half + (gib << 30) + (rng.below(8) << 21) + (rng.below(32) << 12);
            v &= !(size.bytes() - 1);
            match rng.below(100) {
                0..=44 => {
                    let p = rng.next() & ((1 << 40) - 1) & !(size.bytes() - 1);
                    let flags = flag_choices[rng.below(flag_choices.len() as u64) as usize];
                    let want = model.map(v, p, size, flags);
                    let got = pt.map(&mut mem, va(v), pa(p), size, flags).map(|f| {
                        assert!(!f.stale());
                        f.ignore()
                    });
                    assert_eq!(got, want, "step {step}: map {v:#x} {size:?}");
                    if got.is_ok() {
                        maps += 1;
                    } else {
                        refusals += 1;
                    }
                }
                45..=74 => {
                    // Mostly existing leaves, sometimes anything.
                    if rng.below(3) != 0 && !model.leaves.is_empty() {
                        let n = rng.below(model.leaves.len() as u64) as usize;
                        v = *model.leaves.keys().nth(n).unwrap();
                        if rng.below(8) == 0 {
                            v += 0x1000; // inside a large leaf, or next to a small one
                        }
                    }
                    let want = match model.covering(v) {
                        Some((base, p, s, f)) if base == v => {
                            model.leaves.remove(&v);
                            Ok((pa(p), s, f))
                        }
                        Some((base, _, s, _)) => Err(UnmapError::InsideLargePage {
                            base: va(base),
                            size: s,
                        }),
                        None => Err(UnmapError::NotMapped),
                    };
                    let got = pt.unmap(&mut mem, va(v)).map(|(p, s, f, flush)| {
                        assert_eq!(flush, Flush::new(va(v), s, true));
                        flush.ignore();
                        (p, s, f)
                    });
                    assert_eq!(got, want, "step {step}: unmap {v:#x}");
                    unmaps += got.is_ok() as usize;
                }
                75..=84 => {
                    let mut flags = flag_choices[rng.below(flag_choices.len() as u64) as usize];
                    let want = match model.covering(v) {
                        Some((base, p, s, old)) if base == v => {
                            if rng.below(8) != 0 {
                                flags = flags.difference(PteFlags::DEVICE | PteFlags::NOCACHE)
                                    | old.memory_type();
                            }
                            if old.memory_type() != flags.memory_type() {
                                Err(ProtectError::MemoryTypeChange)
                            } else {
                                model.leaves.insert(v, (p, s, flags));
                                Ok(s)
                            }
                        }
                        Some((base, _, s, _)) => Err(ProtectError::InsideLargePage {
                            base: va(base),
                            size: s,
                        }),
                        None => Err(ProtectError::NotMapped),
                    };
                    let got = pt.protect(&mut mem, va(v), flags).map(|flush| {
                        let s = flush.size();
                        assert!(flush.stale());
                        flush.ignore();
                        s
                    });
                    assert_eq!(got, want, "step {step}: protect {v:#x} {flags:?}");
                }
                _ => {
                    let probe = v + rng.below(size.bytes());
                    let want = model
                        .covering(probe)
                        .map(|(base, p, s, f)| (pa(p + (probe - base)), f, s));
                    assert_eq!(
                        pt.translate(&mem, va(probe)),
                        want,
                        "step {step}: {probe:#x}"
                    );
                }
            }
        }
        assert!(
            maps > 3000 && unmaps > 1000 && refusals > 500,
            "{maps} {unmaps} {refusals}"
        );
        // Every model leaf translates, and iteration lists exactly the model.
        for (&v, &(p, s, f)) in &model.leaves {
            assert_eq!(
                pt.translate(&mem, va(v + s.bytes() - 1)),
                Some((pa(p + s.bytes() - 1), f, s))
            );
        }
        let as_model = |leaves: Vec<Leaf>| -> BTreeMap<u64, (u64, PageSize, PteFlags)> {
            leaves
                .into_iter()
                .map(|l| (l.va.as_u64(), (l.pa.as_u64(), l.size, l.flags)))
                .collect()
        };
        let user_model = user_model(&model);
        let kernel_model: BTreeMap<_, _> = model
            .leaves
            .iter()
            .filter(|(v, _)| **v >= HALF)
            .map(|(&v, &x)| (v, x))
            .collect();
        assert_eq!(
            as_model(pt.leaves(&mem, va(0), VirtAddr::USER_END).collect()),
            user_model
        );
        assert_eq!(
            as_model(pt.leaves(&mem, VirtAddr::KERNEL_START, va(0)).collect()),
            kernel_model
        );
        assert_eq!(mem.live(), 1 + model.tables.len(), "tables match the model");
        // Teardown reports the user model and leaves only root + kernel-half tables.
        let mut freed = Vec::new();
        pt.free_user_half(&mut mem, |l| freed.push(l));
        assert_eq!(as_model(freed), user_model);
        let kernel_tables = model
            .tables
            .iter()
            .filter(|&&(level, key)| key << entry_span_shift(level - 1) >= HALF)
            .count();
        assert_eq!(mem.live(), 1 + kernel_tables);
    }

    macro_rules! for_both_formats {
        ($($name:ident),* $(,)?) => {
            mod on_x86_64 {
                $( #[test] fn $name() { super::$name::<super::X86_64Format>() } )*
            }
            mod on_aarch64 {
                $( #[test] fn $name() { super::$name::<super::Aarch64Format>() } )*
            }
        };
    }

    for_both_formats!(
        round_trip_all_sizes,
        flags_round_trip,
        invalid_flags_refused,
        w_x_combinations,
        misaligned_and_non_canonical,
        already_mapped,
        refuses_small_inside_large,
        protect_changes_flags,
        unmap_unmapped,
        free_user_half_frees_every_table,
        kernel_half_sharing,
        out_of_memory,
        leaf_iteration,
        randomized_against_model,
    );

    // ---- per-format tests: bits checked against the manuals ----

    fn x86(p: u64, flags: PteFlags, size: PageSize) -> u64 {
        X86_64Format::leaf(pa(p), flags, size)
    }
    fn arm(p: u64, flags: PteFlags, size: PageSize) -> u64 {
        Aarch64Format::leaf(pa(p), flags, size)
    }

    /// Intel SDM vol. 3A, tables 4-15 to 4-20 (4-level paging entry formats).
    #[test]
    fn x86_64_golden_encodings() {
        use PteFlags as P;
        // User RW NX 4K at 0x1234000: P(0) | RW(1) | US(2) | XD(63).
        assert_eq!(
            x86(0x123_4000, P::USER | P::WRITE, K),
            0x8000_0000_0123_4007
        );
        // User read-only CoW NX 4K at 0x5000: P | US | bit 9 | XD.
        assert_eq!(x86(0x5000, P::USER | P::COW, K), 0x8000_0000_0000_5205);
        // User RW shared NX 4K: P | RW | US | bit 10 | XD.
        assert_eq!(
            x86(0x6000, P::USER | P::WRITE | P::SHARED, K),
            0x8000_0000_0000_6407
        );
        // User RX 4K (text): P | US, no XD.
        assert_eq!(x86(0x40_0000, P::USER | P::EXEC, K), 0x0000_0000_0040_0005);
        // Kernel text RX global 2M at 0x200000: P | PS(7) | G(8).
        assert_eq!(
            x86(0x20_0000, P::EXEC | P::GLOBAL, M2),
            0x0000_0000_0020_0181
        );
        // Kernel direct map RW NX global 1G at 1 GiB: P | RW | PS | G | XD.
        assert_eq!(
            x86(0x4000_0000, P::WRITE | P::GLOBAL, G1),
            0x8000_0000_4000_0183
        );
        // Local APIC, device RW NX global 4K: P | RW | PWT(3) | PCD(4) | G | XD = PAT 3, UC.
        assert_eq!(
            x86(0xfee0_0000, P::DEVICE | P::WRITE | P::GLOBAL, K),
            0x8000_0000_fee0_011b
        );
        // Framebuffer WC RW NX 4K: P | RW | PWT | PAT(7) | XD = PAT 5.
        assert_eq!(
            x86(0xc000_0000, P::NOCACHE | P::WRITE, K),
            0x8000_0000_c000_008b
        );
        // Same as a 2M page: P | RW | PWT | PS(7) | PAT(12) | XD; PAT moves to bit 12.
        assert_eq!(
            x86(0xc000_0000, P::NOCACHE | P::WRITE, M2),
            0x8000_0000_c000_108b
        );
        // Table entries: P | RW | US, nothing else.
        assert_eq!(X86_64Format::table(pa(0x3000)), 0x0000_0000_0000_3007);
        assert_eq!(
            X86_64Format::table(pa(0x000f_ffff_ffff_f000)),
            0x000f_ffff_ffff_f007
        );
        // Decoding what hardware sets: A(5) and D(6) are not flags.
        assert_eq!(
            X86_64Format::decode(0x8000_0000_0123_4067, 3),
            Decoded::Leaf {
                pa: pa(0x123_4000),
                flags: P::USER | P::WRITE,
                size: K
            }
        );
    }

    #[test]
    fn x86_64_permission_bits() {
        for flags in all_valid_flags() {
            for size in PageSize::ALL {
                let e = x86(0, flags, size);
                assert_eq!(e & 1, 1);
                assert_eq!(e & (1 << 1) != 0, flags.contains(PteFlags::WRITE), "RW");
                assert_eq!(e & (1 << 2) != 0, flags.contains(PteFlags::USER), "US");
                assert_eq!(e & (1 << 8) != 0, flags.contains(PteFlags::GLOBAL), "G");
                assert_eq!(e & (1 << 63) != 0, !flags.contains(PteFlags::EXEC), "XD");
                assert_eq!(
                    e & (1 << 7) != 0,
                    size != K || flags.contains(PteFlags::NOCACHE)
                );
                assert_eq!(e & (0b11 << 5), 0, "A and D left to the CPU");
                assert_eq!(e & (0xf << 59), 0, "no protection keys");
            }
        }
    }

    #[test]
    fn x86_64_decode_edge_cases() {
        // Not present, whatever else is set.
        assert_eq!(
            X86_64Format::decode(0x8000_0000_0000_0ffe, 3),
            Decoded::Invalid
        );
        // PS in a PML4 entry is reserved.
        assert_eq!(X86_64Format::decode(0x1000 | 0x81, 0), Decoded::Invalid);
        // At level 3 bit 7 is PAT, not PS.
        assert!(matches!(
            X86_64Format::decode(0x1000 | 0x81, 3),
            Decoded::Leaf {
                size: PageSize::Size4K,
                ..
            }
        ));
        // PWT alone (write-through) is cached: no flag; PCD alone (UC-) is DEVICE.
        let Decoded::Leaf { flags, .. } = X86_64Format::decode(0x1000 | 0x9, 3) else {
            panic!()
        };
        assert_eq!(flags, PteFlags::EXEC);
        let Decoded::Leaf { flags, .. } = X86_64Format::decode(0x1000 | 0x11, 3) else {
            panic!()
        };
        assert_eq!(flags, PteFlags::EXEC | PteFlags::DEVICE);
        // A 2M leaf's PAT bit (12) is not part of its address.
        assert!(matches!(
            X86_64Format::decode(0x20_0000 | 0x1000 | 0x89, 2),
            Decoded::Leaf {
                pa: PhysAddr(0x20_0000),
                ..
            }
        ));
    }

    /// Arm ARM (DDI 0487) D8.3: VMSAv8-64 descriptor formats, stage 1, 4 KiB granule.
    #[test]
    fn aarch64_golden_encodings() {
        use PteFlags as P;
        // User RW NX 4K page at 0x1234000:
        //   bits 1:0   = 0b11 page                  0x0000_0000_0000_0003
        //   AttrIndx   = 0 (Normal WB)              0
        //   AP[1] (6)  = 1 EL0 access               0x0000_0000_0000_0040
        //   AP[2] (7)  = 0 writable                 0
        //   SH (9:8)   = 0b11 inner shareable       0x0000_0000_0000_0300
        //   AF (10)    = 1                          0x0000_0000_0000_0400
        //   nG (11)    = 1 (not GLOBAL)             0x0000_0000_0000_0800
        //   OA 47:12   = 0x1234000                  0x0000_0000_0123_4000
        //   PXN (53)   = 1 (user page)              0x0020_0000_0000_0000
        //   UXN (54)   = 1 (not EXEC)               0x0040_0000_0000_0000
        assert_eq!(
            arm(0x123_4000, P::USER | P::WRITE, K),
            0x0060_0000_0123_4f43
        );
        // User RX 4K page at 0x400000: 0b11 | AP[1] 0x40 | AP[2] 0x80 | SH 0x300 | AF 0x400
        //   | nG 0x800 | PXN; UXN clear.
        assert_eq!(arm(0x40_0000, P::USER | P::EXEC, K), 0x0020_0000_0040_0fc3);
        // User read-only CoW 4K at 0x5000: as above with UXN and bit 55 (software).
        assert_eq!(arm(0x5000, P::USER | P::COW, K), 0x00e0_0000_0000_5fc3);
        // User RW shared 4K at 0x6000: the first example's bits plus bit 56.
        assert_eq!(
            arm(0x6000, P::USER | P::WRITE | P::SHARED, K),
            0x0160_0000_0000_6f43
        );
        // Kernel text RX global, 2M block at 0x40200000 (level 2):
        //   bits 1:0 = 0b01 block | AP[2] 0x80 read-only | SH 0x300 | AF 0x400
        //   | UXN (kernel pages are never user-executable); PXN clear, nG clear.
        assert_eq!(
            arm(0x4020_0000, P::EXEC | P::GLOBAL, M2),
            0x0040_0000_4020_0781
        );
        // Kernel direct map RW global, 1G block at 1 GiB (level 1):
        //   0b01 | SH 0x300 | AF 0x400 | PXN | UXN.
        assert_eq!(
            arm(0x4000_0000, P::WRITE | P::GLOBAL, G1),
            0x0060_0000_4000_0701
        );
        // PL011 on virt, device RW global 4K at 0x9000000:
        //   0b11 | AttrIndx 1 << 2 = 0x4 | SH 0 (Device) | AF 0x400 | PXN | UXN.
        assert_eq!(
            arm(0x900_0000, P::DEVICE | P::WRITE | P::GLOBAL, K),
            0x0060_0000_0900_0407
        );
        // Framebuffer Normal-NC RW global 4K: 0b11 | AttrIndx 2 << 2 = 0x8 | SH 0x300
        //   | AF 0x400 | PXN | UXN.
        assert_eq!(
            arm(0xc000_0000, P::NOCACHE | P::WRITE | P::GLOBAL, K),
            0x0060_0000_c000_070b
        );
        // Table descriptor: 0b11 | next-level address, no hierarchical bits.
        assert_eq!(Aarch64Format::table(pa(0x3000)), 0x0000_0000_0000_3003);
        assert_eq!(
            Aarch64Format::table(pa(0x0000_ffff_ffff_f000)),
            0x0000_ffff_ffff_f003
        );
    }

    /// The boot assembly's descriptors (kernel/src/arch/aarch64/mmu.rs) are what this
    /// encoding produces for the same mappings, so the kernel can take the boot tables over.
    #[test]
    fn aarch64_matches_boot_descriptors() {
        use PteFlags as P;
        const PXN: u64 = 1 << 53;
        const UXN: u64 = 1 << 54;
        let block_device = 0b01 | (1 << 2) | (1 << 10) | PXN | UXN;
        let block_direct_map = 0b01 | (0b11 << 8) | (1 << 10) | PXN | UXN;
        let block_kernel = 0b01 | (0b11 << 8) | (1 << 10) | UXN;
        assert_eq!(arm(0, P::DEVICE | P::WRITE | P::GLOBAL, G1), block_device);
        assert_eq!(
            arm(1 << 30, P::WRITE | P::GLOBAL, G1),
            block_direct_map | 1 << 30
        );
        assert_eq!(
            arm(0x4020_0000, P::WRITE | P::EXEC | P::GLOBAL, M2),
            block_kernel | 0x4020_0000
        );
        // The boot table descriptors are `address | 3`.
        assert_eq!(Aarch64Format::table(pa(0x4008_0000)), 0x4008_0003);
    }

    #[test]
    fn aarch64_permission_bits() {
        const AP_EL0: u64 = 1 << 6;
        const AP_RO: u64 = 1 << 7;
        const PXN: u64 = 1 << 53;
        const UXN: u64 = 1 << 54;
        for flags in all_valid_flags() {
            for size in PageSize::ALL {
                let e = arm(0, flags, size);
                let user = flags.contains(PteFlags::USER);
                let exec = flags.contains(PteFlags::EXEC);
                assert_eq!(e & 0b11, if size == K { 0b11 } else { 0b01 });
                assert_ne!(e & (1 << 10), 0, "AF always set");
                assert_eq!(e & AP_EL0 != 0, user);
                assert_eq!(e & AP_RO != 0, !flags.contains(PteFlags::WRITE));
                assert_eq!(e & (1 << 11) != 0, !flags.contains(PteFlags::GLOBAL), "nG");
                // Kernel pages never user-executable, user pages never privileged-executable.
                if user {
                    assert_ne!(e & PXN, 0);
                    assert_eq!(e & UXN != 0, !exec);
                } else {
                    assert_ne!(e & UXN, 0);
                    assert_eq!(e & PXN != 0, !exec);
                }
                let attr = (e >> 2) & 0b111;
                let sh = (e >> 8) & 0b11;
                if flags.contains(PteFlags::DEVICE) {
                    assert_eq!((attr, sh), (1, 0));
                } else if flags.contains(PteFlags::NOCACHE) {
                    assert_eq!((attr, sh), (2, 0b11));
                } else {
                    assert_eq!((attr, sh), (0, 0b11));
                }
                assert_eq!(e & (1 << 5), 0, "NS clear");
                assert_eq!(e & (0b111 << 50), 0, "no GP, DBM, Contiguous");
            }
        }
    }

    #[test]
    fn aarch64_decode_edge_cases() {
        // Invalid whatever else is set.
        assert_eq!(
            Aarch64Format::decode(0x0060_0000_0000_0f42, 3),
            Decoded::Invalid
        );
        // A level 0 block does not exist with 4 KiB granules (no FEAT_LPA2).
        assert_eq!(Aarch64Format::decode(0x401, 0), Decoded::Invalid);
        // Level 3 with bit 1 clear is reserved.
        assert_eq!(Aarch64Format::decode(0x1000 | 0x401, 3), Decoded::Invalid);
        // Blocks at levels 1 and 2; AttrIndx 3 (Device-nGnRnE) reads as DEVICE.
        assert_eq!(
            Aarch64Format::decode(0x4000_0000 | (3 << 2) | 0x401 | (3 << 53), 1),
            Decoded::Leaf {
                pa: pa(0x4000_0000),
                flags: PteFlags::DEVICE | PteFlags::WRITE | PteFlags::GLOBAL,
                size: G1
            }
        );
    }

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
