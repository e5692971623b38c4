//! The boot translation regime: constants the boot assembly uses to build its page tables,
//! and the one change Rust makes to them (direct-map memory types from the device tree).
//!
//! 4 KiB granule, 48-bit virtual addresses, four levels. The boot tables, all in `.bss`:
//!
//! - TTBR1 level 0, slot 256 → `boot_pt_dmap_l1`: the direct map, physical 0..512 GiB at
//!   [`DIRECT_MAP_BASE`] in 1 GiB blocks, never executable.
//! - TTBR1 level 0, slot 511 → level 1, slot 510 → level 2 → level 3: the kernel image,
//!   virtual [`KERNEL_VIRT_BASE`] + `TEXT_OFFSET` onto the physical address the loader put
//!   `_start` at, in 4 KiB pages, Normal memory, W^X per section: text RX, rodata R,
//!   data/.bss RW, never executable (`PAGE_KERNEL_*`).
//! - TTBR0: an identity map of the GiB holding the image, used only between turning the MMU
//!   on and jumping to the link address; then TCR_EL1.EPD0 turns TTBR0 walks off and
//!   [`clear_identity_map`] empties the table, which stays TTBR0's root (the "kernel root"
//!   generic code loads when no process runs) until a process's table replaces it.
//!   [`init_late`] turns TTBR0 walks back on.
//!
//! Secondary CPUs (`smp.rs`) load the same MAIR, TCR and TTBR1 as the boot CPU, turn their
//! MMU on through a small identity map of their entry code of their own
//! ([`secondary_identity_root`]), then switch TTBR0 to the empty boot root
//! ([`empty_user_root`]).
//!
//! After boot the kernel half is never switched: user address spaces are TTBR0 roots of
//! their own ([`activate`]), without ASIDs for now, so every switch flushes the local TLB.
//! Generic code maps kernel-half pages (the MMIO window) through [`kernel_root`], TTBR1's
//! root. This module must never unmap or retype memory the kernel is running from; it only
//! retypes direct-map blocks that hold no RAM.

use wayos_kcore::boot_info::BootInfo;
use wayos_kcore::paging::{PhysAddr, VirtAddr};

/// Where all physical memory is mapped (both architectures agree on this address), and
/// where `mm::direct` looks for it from the first instruction on.
pub const DIRECT_MAP_BASE: u64 = 0xffff_8000_0000_0000;
const _: () = assert!(DIRECT_MAP_BASE == crate::mm::direct::BOOT_OFFSET);
/// Physical memory covered by the boot direct map: one level 1 table of 1 GiB blocks.
pub const DIRECT_MAP_SIZE: u64 = 512 << 30;
/// The kernel's link base (the Image's 2 MiB-aligned base; `_start` is `TEXT_OFFSET` above).
pub const KERNEL_VIRT_BASE: u64 = 0xffff_ffff_8000_0000;

/// MAIR_EL1 attribute indices.
pub const ATTR_NORMAL: u64 = 0;
pub const ATTR_DEVICE_NGNRE: u64 = 1;
#[allow(dead_code)] // For later mappings (framebuffers, DMA buffers).
pub const ATTR_NORMAL_NC: u64 = 2;
#[allow(dead_code)] // For later mappings (strictly ordered MMIO).
pub const ATTR_DEVICE_NGNRNE: u64 = 3;

/// MAIR_EL1: 0 = Normal write-back read/write-allocate (inner and outer), 1 = Device-nGnRE,
/// 2 = Normal non-cacheable, 3 = Device-nGnRnE.
pub const MAIR: u64 = 0xff | (0x04 << 8) | (0x44 << 16);

/// TCR_EL1 without IPS (the boot code ORs in the CPU's physical range): T0SZ = T1SZ = 16
/// (48-bit halves), 4 KiB granules, inner-shareable write-back walks for both halves.
pub const TCR_BOOT: u64 = 16 // T0SZ
    | (0b01 << 8) // IRGN0 write-back write-allocate
    | (0b01 << 10) // ORGN0
    | (0b11 << 12) // SH0 inner shareable; TG0 (bits 15:14) = 0b00, 4 KiB
    | (16 << 16) // T1SZ
    | (0b01 << 24) // IRGN1
    | (0b01 << 26) // ORGN1
    | (0b11 << 28) // SH1
    | (0b10 << 30); // TG1 4 KiB

/// Descriptor bits (VMSAv8-64, stage 1).
const DESC_BLOCK: u64 = 0b01;
const SH_INNER: u64 = 0b11 << 8;
const AF: u64 = 1 << 10;
const PXN: u64 = 1 << 53;
const UXN: u64 = 1 << 54;
/// Output address bits of a level 1 block descriptor.
const L1_BLOCK_ADDR: u64 = 0x0000_ffff_c000_0000;

/// A direct-map block of MMIO: Device-nGnRE, never executable, kernel read/write.
pub const BLOCK_DEVICE: u64 = DESC_BLOCK | (ATTR_DEVICE_NGNRE << 2) | AF | PXN | UXN;
/// A direct-map block of RAM: Normal write-back, never executable, kernel read/write.
pub const BLOCK_DIRECT_MAP: u64 = DESC_BLOCK | (ATTR_NORMAL << 2) | SH_INNER | AF | PXN | UXN;
/// Level 3 tables for the kernel image, one per 2 MiB: the image (with `.bss`) may reach
/// 16 MiB above the 2 MiB-aligned link base.
pub const KERNEL_L3_TABLES: usize = 8;
/// A level 3 page descriptor of Normal write-back memory, global, accessed.
const PAGE_NORMAL: u64 = 0b11 | (ATTR_NORMAL << 2) | SH_INNER | AF;
/// AP[2]: read-only (AP[1] = 0: EL1 only).
const AP_RO: u64 = 1 << 7;
/// Kernel text: read-only, executable at EL1 only.
pub const PAGE_KERNEL_TEXT: u64 = PAGE_NORMAL | AP_RO | UXN;
/// Kernel read-only data: never executable.
pub const PAGE_KERNEL_RODATA: u64 = PAGE_NORMAL | AP_RO | PXN | UXN;
/// Kernel data and `.bss`: read/write, never executable.
pub const PAGE_KERNEL_DATA: u64 = PAGE_NORMAL | PXN | UXN;
/// The temporary identity block: Normal, executable.
pub const BLOCK_IDENTITY: u64 = DESC_BLOCK | (ATTR_NORMAL << 2) | SH_INNER | AF;

extern "C" {
    /// The direct map's level 1 table, built by the boot assembly in `.bss`.
    static mut boot_pt_dmap_l1: [u64; 512];
    /// TTBR0's boot root (the identity map until [`clear_identity_map`]).
    static mut boot_pt_ttbr0_l0: [u64; 512];
}

/// A page-aligned translation table.
#[repr(C, align(4096))]
struct Table([u64; 512]);

/// The identity map secondary CPUs turn their MMU on with ([`secondary_identity_root`]):
/// level 0 and level 1, 1 GiB blocks.
static mut SMP_IDENTITY_L0: Table = Table([0; 512]);
static mut SMP_IDENTITY_L1: Table = Table([0; 512]);

/// The page-table entry encoding generic code uses on this architecture.
pub type PteFormat = wayos_kcore::paging::Aarch64Format;

/// TCR_EL1.EPD0: no walks through TTBR0.
const TCR_EPD0: u64 = 1 << 7;
/// BADDR of a TTBRn_EL1 value (the ASID is in bits 63:48, CnP in bit 0).
const TTBR_BADDR: u64 = 0x0000_ffff_ffff_fffe;

/// Empties TTBR0's boot root once the kernel runs at its link address (the boot assembly
/// has already turned TTBR0 walks off and flushed the TLB), so the table can serve as the
/// empty user half when no process runs.
pub fn clear_identity_map() {
    // SAFETY: the table is a static the boot code filled; nothing walks it (EPD0 is set)
    // and nothing else refers to it; raw pointers avoid a reference to a `static mut`.
    unsafe {
        let table = core::ptr::addr_of_mut!(boot_pt_ttbr0_l0).cast::<u64>();
        for i in 0..512 {
            table.add(i).write_volatile(0);
        }
        core::arch::asm!(
            "dsb ishst",
            "tlbi vmalle1",
            "dsb nsh",
            "isb",
            options(nostack, preserves_flags)
        );
    }
}

/// Physical address of TTBR0's boot root, empty since [`clear_identity_map`]: what a
/// secondary CPU loads into TTBR0 until generic code activates a user root there.
pub fn empty_user_root() -> PhysAddr {
    PhysAddr::new(super::boot::image_virt_to_phys(
        core::ptr::addr_of!(boot_pt_ttbr0_l0) as usize,
    ))
}

/// Fills and returns (physical address) a TTBR0 root that identity-maps, executable, the
/// 1 GiB blocks holding physical `start..end` (code secondary CPUs run while turning their
/// MMU on); `None` if the range crosses a 512 GiB boundary. Called on the boot CPU before
/// any secondary starts; the tables are never used for anything else.
pub fn secondary_identity_root(start: PhysAddr, end: PhysAddr) -> Option<PhysAddr> {
    let (start, end) = (start.as_u64(), end.as_u64());
    if start >> 39 != end >> 39 || end >> 39 >= 512 {
        return None;
    }
    let l0 = core::ptr::addr_of_mut!(SMP_IDENTITY_L0).cast::<u64>();
    let l1 = core::ptr::addr_of_mut!(SMP_IDENTITY_L1).cast::<u64>();
    let l1_phys = super::boot::image_virt_to_phys(l1 as usize);
    // SAFETY: both tables are statics only this function writes, while no CPU walks them
    // (no secondary runs yet); indices are < 512; raw pointers avoid references to a
    // `static mut`. The DSB makes the entries visible to the secondaries' table walks,
    // which are cacheable and inner shareable (TCR_EL1), before they start.
    unsafe {
        l0.add((start >> 39) as usize)
            .write_volatile(l1_phys | 0b11);
        for gib in (start >> 30)..=(end >> 30) {
            l1.add((gib & 511) as usize)
                .write_volatile((gib << 30) | BLOCK_IDENTITY);
        }
        core::arch::asm!("dsb ish", options(nostack, preserves_flags));
    }
    Some(PhysAddr::new(super::boot::image_virt_to_phys(l0 as usize)))
}

/// Turns TTBR0 walks back on (user address spaces), with the empty boot root loaded.
pub fn init_late() {
    // SAFETY: TTBR0 holds the emptied boot root (or a user root generic code loaded), so
    // enabling walks maps nothing new into the kernel's view; the TLB holds no TTBR0
    // entries (walks were off), and is flushed anyway.
    unsafe {
        core::arch::asm!(
            "mrs {t}, tcr_el1",
            "bic {t}, {t}, #{epd0}",
            "msr tcr_el1, {t}",
            "isb",
            "tlbi vmalle1",
            "dsb nsh",
            "isb",
            t = out(reg) _,
            epd0 = const TCR_EPD0,
            options(nostack, preserves_flags)
        );
    }
}

/// Root of the user page table the CPU uses now (TTBR0_EL1).
pub fn current_root() -> PhysAddr {
    let ttbr: u64;
    // SAFETY: reads a system register.
    unsafe {
        core::arch::asm!("mrs {}, ttbr0_el1", out(reg) ttbr, options(nomem, nostack, preserves_flags))
    };
    PhysAddr::new(ttbr & TTBR_BADDR)
}

/// Root of the kernel half's page table (TTBR1_EL1), through which kernel-half mappings are
/// made.
pub fn kernel_root() -> PhysAddr {
    let ttbr: u64;
    // SAFETY: reads a system register.
    unsafe {
        core::arch::asm!("mrs {}, ttbr1_el1", out(reg) ttbr, options(nomem, nostack, preserves_flags))
    };
    PhysAddr::new(ttbr & TTBR_BADDR)
}

/// Switches to the user address space rooted at `root`: TTBR0_EL1,
/// then a flush of this CPU's TLB (no ASIDs yet, so the old space's entries must go).
///
/// # Safety
/// `root` must be a valid level 0 table; the kernel half (TTBR1) is unaffected.
pub unsafe fn activate(root: PhysAddr) {
    // SAFETY: per the contract; only the lower half changes, and no kernel code runs from
    // or uses lower-half addresses except through the user-copy routines.
    unsafe {
        core::arch::asm!(
            "dsb ishst",
            "msr ttbr0_el1, {root}",
            "isb",
            "tlbi vmalle1",
            "dsb nsh",
            "isb",
            root = in(reg) root.as_u64() & TTBR_BADDR,
            options(nostack, preserves_flags)
        );
    }
}

/// Invalidates the translation of the page holding `va`, for every ASID, on every CPU.
pub fn flush_page(va: VirtAddr) {
    // SAFETY: TLB maintenance and barriers only.
    unsafe {
        core::arch::asm!(
            "dsb ishst",
            "tlbi vaae1is, {page}",
            "dsb ish",
            "isb",
            page = in(reg) (va.as_u64() >> 12) & ((1 << 44) - 1),
            options(nostack, preserves_flags)
        );
    }
}

/// Invalidates every stage 1 EL1&0 translation on every CPU.
pub fn flush_all() {
    // SAFETY: TLB maintenance and barriers only.
    unsafe {
        core::arch::asm!(
            "dsb ishst",
            "tlbi vmalle1is",
            "dsb ish",
            "isb",
            options(nostack, preserves_flags)
        );
    }
}

/// Gives each 1 GiB direct-map block the memory type the device tree implies: Normal where
/// the block holds RAM (any memory-map region), Device everywhere else. The boot assembly
/// could only guess (Device for the first GiB, Normal above); this keeps, say, PCI windows
/// above 4 GiB from being mapped cacheable. A block that holds both RAM and MMIO stays
/// Normal: such MMIO must be mapped separately with Device attributes when it is used.
pub fn refine_direct_map(info: &BootInfo) {
    let regions = info.memory_map.regions();
    let mut changed = 0;
    let mut normal = 0;
    for slot in 0..512u64 {
        let start = slot << 30;
        let end = start + (1 << 30);
        let has_ram = regions.iter().any(|r| r.base < end && r.end() > start);
        normal += u32::from(has_ram);
        let want = start
            | if has_ram {
                BLOCK_DIRECT_MAP
            } else {
                BLOCK_DEVICE
            };
        // SAFETY: the table is a static the boot code filled; slot < 512 is in bounds, and
        // a raw pointer avoids creating a reference to a `static mut`.
        let entry = unsafe {
            core::ptr::addr_of_mut!(boot_pt_dmap_l1)
                .cast::<u64>()
                .add(slot as usize)
        };
        // SAFETY: `entry` is a valid, aligned table slot (above); volatile because the
        // table walker reads it.
        let old = unsafe { entry.read_volatile() };
        if old == want {
            continue;
        }
        debug_assert_eq!(old & L1_BLOCK_ADDR, start);
        // SAFETY: break-before-make on a block no code is using (it holds no RAM, or the
        // boot code guessed it to be MMIO, and nothing but the early UART in the first GiB
        // has been touched through the direct map; a GiB with RAM stays Normal): invalidate
        // the entry, flush its TLB entries, then write the new descriptor.
        unsafe {
            entry.write_volatile(0);
            let va = DIRECT_MAP_BASE + start;
            core::arch::asm!(
                "dsb ishst",
                "tlbi vaae1is, {page}",
                "dsb ish",
                page = in(reg) (va >> 12) & ((1 << 44) - 1),
                options(nostack, preserves_flags)
            );
            entry.write_volatile(want);
            core::arch::asm!("dsb ishst", "isb", options(nostack, preserves_flags));
        }
        changed += 1;
    }
    if let Some(r) = regions.last() {
        if r.end() > DIRECT_MAP_SIZE {
            log::warn!(
                "physical memory above {} GiB is not in the boot direct map",
                DIRECT_MAP_SIZE >> 30
            );
        }
    }
    log::info!(
        "direct map: {normal} GiB Normal (RAM), {} GiB Device; {changed} blocks retyped from the device tree",
        512 - normal
    );
}
