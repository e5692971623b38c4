//! The Arm PL031 real-time clock (`arm,pl031` in the device tree; QEMU `virt` has one at
//! 0x0901_0000), whose data register counts seconds since the Unix epoch.
//!
//! The first [`rtc_epoch_seconds`] maps the registers with `crate::mm::mmio` (so it runs
//! after `mm::init`) and checks the PrimeCell and part identification registers before
//! trusting the device; the clock is only read, never set or started.

use spin::Once;

use super::dtb;
use wayos_kcore::paging::PhysAddr;

/// Data register: the current count, seconds since the epoch.
const RTCDR: usize = 0x000;
/// Control register: bit 0 set once the counter runs.
const RTCCR: usize = 0x00c;
const RTCCR_START: u32 = 1 << 0;
/// Peripheral ID registers 0-1 (part number in ID0 and the low nibble of ID1).
const PERIPH_ID0: usize = 0xfe0;
const PERIPH_ID1: usize = 0xfe4;
/// PrimeCell ID registers 0-3 and the values every PrimeCell holds there.
const PCELL_ID: usize = 0xff0;
const PCELL_ID_VALUE: [u32; 4] = [0x0d, 0xf0, 0x05, 0xb1];
const PART_PL031: u32 = 0x031;
/// The register block is one 4 KiB page.
const REGS_LEN: usize = 0x1000;

/// Virtual address of the registers once probed; `None` when there is no usable PL031.
static BASE: Once<Option<usize>> = Once::new();

fn read32(base: usize, offset: usize) -> u32 {
    // SAFETY: `base` is a Device-memory mapping of a PL031's 4 KiB register block made by
    // `probe` and kept for the life of the kernel; `offset` is a register inside it, and
    // reads of these registers have no side effects.
    unsafe { ((base + offset) as *const u32).read_volatile() }
}

/// Maps the device tree's PL031 and checks it is one.
fn probe() -> Option<usize> {
    let Some(regs) = dtb::platform().and_then(|p| p.rtc) else {
        log::warn!("rtc: no PL031 in the device tree");
        return None;
    };
    if regs.size != 0 && regs.size < REGS_LEN as u64 {
        log::warn!(
            "rtc: PL031 at {:#x} has a {}-byte register block; ignoring it",
            regs.base,
            regs.size
        );
        return None;
    }
    let base = crate::mm::mmio(PhysAddr::new(regs.base), REGS_LEN).as_u64() as usize;
    let cell = core::array::from_fn::<u32, 4, _>(|i| read32(base, PCELL_ID + 4 * i) & 0xff);
    let part = (read32(base, PERIPH_ID0) & 0xff) | (read32(base, PERIPH_ID1) & 0x0f) << 8;
    if cell != PCELL_ID_VALUE || part != PART_PL031 {
        log::warn!(
            "rtc: device at {:#x} is not a PL031 (PrimeCell ID {cell:02x?}, part {part:#x})",
            regs.base
        );
        return None;
    }
    if read32(base, RTCCR) & RTCCR_START == 0 {
        log::warn!("rtc: PL031 at {:#x} is stopped", regs.base);
        return None;
    }
    Some(base)
}

/// Seconds since the Unix epoch from the PL031, or `None` (logged once) when the device
/// tree names none or the device is not a running PL031.
pub fn rtc_epoch_seconds() -> Option<u64> {
    let base = (*BASE.call_once(probe))?;
    Some(u64::from(read32(base, RTCDR)))
}
