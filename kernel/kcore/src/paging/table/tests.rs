//! Host tests of the walker: every operation on both encodings, over fake table memory,
//! and a randomized run against a page-granular model.

use super::*;
use crate::paging::test_support::*;
use crate::paging::{Aarch64Format, X86_64Format, ENTRIES_PER_TABLE, HALF, LIN_MASK, TABLE_BYTES};
use std::boxed::Box;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::vec::Vec;

/// Fake physical memory: table pages in a map, addresses never reused, so a walk
/// through a freed table panics instead of reading stale data.
struct FakeMem {
    pages: HashMap<u64, Box<[u64; ENTRIES_PER_TABLE]>>,
    next: u64,
    budget: usize,
    /// Entries read so far: what a walk costs.
    reads: std::cell::Cell<usize>,
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
            reads: std::cell::Cell::new(0),
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
        self.reads.set(self.reads.get() + 1);
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

fn uflags() -> PteFlags {
    PteFlags::USER | PteFlags::WRITE
}
fn kflags() -> PteFlags {
    PteFlags::WRITE | PteFlags::GLOBAL
}

fn new_table<F: PteFormat>(mem: &mut FakeMem) -> PageTable<F> {
    PageTable::new(mem).expect("fake memory")
}

// ---- generic tests, instantiated for both formats at the bottom ----

/// The accessed bit: set by a (simulated) access, read and cleared once with a stale
/// flush, then reads clear without one; flags and address survive; no leaf, no answer.
fn accessed_bit_round_trip<F: PteFormat>() {
    let mut mem = FakeMem::new();
    let mut pt = new_table::<F>(&mut mem);
    let v = va(0x0000_0000_0040_0000);
    let p = pa(0x0000_0012_3456_7000);
    pt.map(&mut mem, v, p, K, uflags()).unwrap().ignore();
    assert_eq!(pt.take_accessed(&mut mem, va(0x0000_0000_0050_0000)), None);
    // Whatever `leaf` produced, clear it first so both encodings start alike.
    let _ = pt.take_accessed(&mut mem, v).unwrap().1.map(|f| f.ignore());
    let (was, flush) = pt.take_accessed(&mut mem, v).unwrap();
    assert!(!was);
    assert!(
        flush.is_none(),
        "nothing to invalidate when nothing changed"
    );
    assert!(pt.mark_accessed(&mut mem, v), "was clear");
    assert!(!pt.mark_accessed(&mut mem, v + 0x10), "already set");
    let (was, flush) = pt.take_accessed(&mut mem, v).unwrap();
    assert!(was);
    let flush = flush.expect("a cleared bit owes a flush");
    assert!(flush.stale());
    assert_eq!(flush.va(), v);
    flush.ignore();
    assert!(!pt.take_accessed(&mut mem, v).unwrap().0);
    assert_eq!(pt.translate(&mem, v), Some((p, uflags(), K)));
    assert!(!pt.mark_accessed(&mut mem, va(0x0000_0000_0050_0000)));
}

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

use wayos_testutil::XorShift;

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

/// The range of the `munmap`/`mprotect` attack: 112 TiB, nearly all of the user half.
const HUGE: u64 = 0x7000_0000_0000;

/// A few pages spread over a huge range, one page just outside it on each side.
fn sparse_pages<F: PteFormat>(mem: &mut FakeMem) -> (PageTable<F>, u64, Vec<u64>, [u64; 2]) {
    let mut pt = new_table::<F>(mem);
    let base = 0x40_0000;
    let inside = std::vec![base, base + 0x1000, base + HUGE / 2, base + HUGE - 0x1000];
    let outside = [base - 0x1000, base + HUGE];
    for &v in inside.iter().chain(outside.iter()) {
        pt.map(mem, va(v), pa(0x1000), K, uflags())
            .unwrap()
            .ignore();
    }
    (pt, base, inside, outside)
}

/// Unmapping a huge, nearly empty range reads only the tables that exist: its cost does
/// not grow with its length (a page-by-page walk would read 2^35 entries).
fn unmap_range_is_sparse<F: PteFormat>() {
    let mut mem = FakeMem::new();
    let (mut pt, base, inside, outside) = sparse_pages::<F>(&mut mem);
    mem.reads.set(0);
    let mut gone = Vec::new();
    pt.unmap_range(&mut mem, va(base), va(base + HUGE), |leaf, flush| {
        assert_eq!(flush, Flush::new(leaf.va, K, true));
        gone.push(leaf.va.as_u64());
    });
    assert_eq!(gone, inside, "every leaf in the range, in order, once");
    assert!(mem.reads.get() < 20_000, "{} entries read", mem.reads.get());
    for v in inside {
        assert_eq!(pt.translate(&mem, va(v)), None);
    }
    for v in outside {
        assert!(pt.translate(&mem, va(v)).is_some(), "{v:#x} outside stays");
    }
    // An empty range of the same length costs a handful of reads.
    mem.reads.set(0);
    pt.unmap_range(&mut mem, va(base), va(base + HUGE), |_, _| {
        panic!("nothing left")
    });
    assert!(mem.reads.get() < 20_000, "{} entries read", mem.reads.get());
}

/// `protect_range` changes exactly the leaves in the range, just as cheaply.
fn protect_range_is_sparse<F: PteFormat>() {
    let mut mem = FakeMem::new();
    let (mut pt, base, inside, outside) = sparse_pages::<F>(&mut mem);
    mem.reads.set(0);
    let mut seen = Vec::new();
    let ro = PteFlags::USER;
    pt.protect_range(
        &mut mem,
        va(base),
        va(base + HUGE),
        |leaf| {
            seen.push(leaf.va.as_u64());
            // Leave the second page alone.
            (leaf.va.as_u64() != base + 0x1000).then_some(ro)
        },
        |flush| assert!(flush.stale()),
    );
    assert_eq!(seen, inside);
    assert!(mem.reads.get() < 20_000, "{} entries read", mem.reads.get());
    for v in inside {
        let want = if v == base + 0x1000 { uflags() } else { ro };
        assert_eq!(pt.translate(&mem, va(v)).map(|t| t.1), Some(want), "{v:#x}");
    }
    for v in outside {
        assert_eq!(
            pt.translate(&mem, va(v)).map(|t| t.1),
            Some(uflags()),
            "{v:#x}"
        );
    }
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
    accessed_bit_round_trip,
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
    unmap_range_is_sparse,
    protect_range_is_sparse,
);
