//! [`Aarch64Format`]: the aarch64 VMSAv8-64 stage 1 descriptor encoding, 4 KiB granule
//! (Arm ARM D8.3).
//!
//! Owns the descriptor bits and the encode/decode pair, including the MAIR_EL1 attribute
//! indices the boot code programs. Must never touch table memory or run an Arm
//! instruction: it is data both hosts can test.

use super::{Decoded, PageSize, PhysAddr, PteFlags, PteFormat};

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
            pa: PhysAddr::new(raw & Self::addr_mask(size)),
            flags: Self::leaf_flags(raw),
            size,
        };
        match level {
            0..=2 if table_or_page => Decoded::Table(PhysAddr::new(raw & ADDR)),
            // A level 0 block needs FEAT_LPA2 with 4 KiB granules: a translation fault here.
            0 => Decoded::Invalid,
            1 => leaf(PageSize::Size1G),
            2 => leaf(PageSize::Size2M),
            3 if table_or_page => leaf(PageSize::Size4K),
            // Level 3 with bit 1 clear is reserved: a translation fault.
            _ => Decoded::Invalid,
        }
    }

    // AF (10); `leaf` always sets it.
    fn accessed(raw: u64) -> bool {
        raw & arm_bits::AF != 0
    }

    fn with_accessed(raw: u64, on: bool) -> u64 {
        if on {
            raw | arm_bits::AF
        } else {
            raw & !arm_bits::AF
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::test_support::*;

    fn arm(p: u64, flags: PteFlags, size: PageSize) -> u64 {
        Aarch64Format::leaf(pa(p), flags, size)
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
}
