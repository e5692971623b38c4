//! [`X86_64Format`]: the x86_64 4-level paging entry encoding (Intel SDM vol. 3A).
//!
//! Owns the entry bits (public in [`bits`], so the UEFI loader `tools/wayboot` builds its
//! tables with the same, tested, numbers) and the encode/decode pair. Must never touch
//! table memory or run an x86 instruction: it is data both hosts can test.

use super::{Decoded, PageSize, PhysAddr, PteFlags, PteFormat};

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

/// The entry bits of 4-level paging.
pub mod bits {
    pub const P: u64 = 1 << 0;
    pub const RW: u64 = 1 << 1;
    pub const US: u64 = 1 << 2;
    pub const PWT: u64 = 1 << 3;
    pub const PCD: u64 = 1 << 4;
    /// Accessed: the CPU sets it when a walk uses the entry (never cleared by it).
    pub const A: u64 = 1 << 5;
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
        bits::ADDR & !size.offset_mask()
    }
    fn pat_bit(size: PageSize) -> u64 {
        if size == PageSize::Size4K {
            bits::PAT_4K
        } else {
            bits::PAT_LARGE
        }
    }
    fn leaf_flags(raw: u64, size: PageSize) -> PteFlags {
        use bits::*;
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
        use bits::*;
        (pa.as_u64() & ADDR) | P | RW | US
    }

    fn leaf(pa: PhysAddr, flags: PteFlags, size: PageSize) -> u64 {
        use bits::*;
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
        use bits::*;
        if raw & P == 0 {
            return Decoded::Invalid;
        }
        let leaf = |size: PageSize| Decoded::Leaf {
            pa: PhysAddr::new(raw & Self::addr_mask(size)),
            flags: Self::leaf_flags(raw, size),
            size,
        };
        match level {
            // PS is reserved in a PML4 entry: the CPU faults on it, so it maps nothing.
            0 if raw & PS != 0 => Decoded::Invalid,
            0 => Decoded::Table(PhysAddr::new(raw & ADDR)),
            1 if raw & PS != 0 => leaf(PageSize::Size1G),
            2 if raw & PS != 0 => leaf(PageSize::Size2M),
            1 | 2 => Decoded::Table(PhysAddr::new(raw & ADDR)),
            3 => leaf(PageSize::Size4K),
            _ => Decoded::Invalid,
        }
    }

    // A (5), set by the CPU on a walk.
    fn accessed(raw: u64) -> bool {
        raw & bits::A != 0
    }

    fn with_accessed(raw: u64, on: bool) -> u64 {
        if on {
            raw | bits::A
        } else {
            raw & !bits::A
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::test_support::*;

    // ---- per-format tests: bits checked against the manuals ----

    fn x86(p: u64, flags: PteFlags, size: PageSize) -> u64 {
        X86_64Format::leaf(pa(p), flags, size)
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
            Decoded::Leaf { pa, .. } if pa == PhysAddr::new(0x20_0000)
        ));
    }
}
