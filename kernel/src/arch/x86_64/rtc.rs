//! The PC CMOS real-time clock (MC146818-compatible), behind index port 0x70 and data
//! port 0x71.
//!
//! [`rtc_epoch_seconds`] waits for status register A's update-in-progress bit to clear,
//! reads the date and time registers, and repeats until two reads agree (an update may
//! start between the wait and the reads). Status register B says whether the values are
//! BCD or binary and whether hours are 12- or 24-hour; `wayos_kcore::date` decodes them.
//! The century comes from the CMOS register the ACPI FADT names, else the year is 20xx.
//! Anything implausible is logged and gives `None`; the clock is only read, never set.

use spin::Once;
use wayos_kcore::boot_info::FirmwareTables;
use wayos_kcore::date::CmosRegs;

use super::acpi::{self, CmosRtcInfo};
use super::port::{inb, outb};
use crate::sync::IrqMutex;

const INDEX_PORT: u16 = 0x70;
const DATA_PORT: u16 = 0x71;

const REG_SECONDS: u8 = 0x00;
const REG_MINUTES: u8 = 0x02;
const REG_HOURS: u8 = 0x04;
const REG_DAY: u8 = 0x07;
const REG_MONTH: u8 = 0x08;
const REG_YEAR: u8 = 0x09;
const REG_STATUS_A: u8 = 0x0a;
const REG_STATUS_B: u8 = 0x0b;
/// Status register A: an update of the time registers is under way (up to ~2 ms).
const STATUS_A_UIP: u8 = 0x80;
/// Index bit 7 is the NMI mask on PCs; register indices stay below it.
const MAX_INDEX: u8 = 0x7f;
/// The first CMOS RAM byte after the clock's own registers (0x00-0x0d).
const FIRST_RAM: u8 = 0x0e;

/// How long to wait for an update to finish: it lasts under 2 ms, so 20 ms means the chip
/// is stuck (or absent and floating high).
const UIP_TIMEOUT_NS: u64 = 20_000_000;
/// Port reads to give up after, should the clock used for the timeout not advance.
const UIP_MAX_POLLS: u32 = 1_000_000;
/// Reads until two agree; two updates in a row would take two seconds.
const MAX_READS: usize = 5;

/// Serializes index/data pairs; interrupts are masked so no handler can slip a pair in.
static PORTS: IrqMutex<()> = IrqMutex::new(());
static FADT: Once<CmosRtcInfo> = Once::new();

/// One CMOS register. The caller holds [`PORTS`].
fn read_reg(index: u8) -> u8 {
    // SAFETY: ports 0x70/0x71 are the CMOS index/data pair, present on every PC (reads of
    // an absent device float high); selecting and reading a clock register changes no
    // memory and, with index bit 7 clear, leaves NMIs enabled as they were.
    unsafe {
        outb(INDEX_PORT, index & MAX_INDEX);
        inb(DATA_PORT)
    }
}

/// Waits until no update is in progress; false if it never clears.
fn wait_for_update_end() -> bool {
    let deadline = super::uptime_ns().saturating_add(UIP_TIMEOUT_NS);
    for _ in 0..UIP_MAX_POLLS {
        if read_reg(REG_STATUS_A) & STATUS_A_UIP == 0 {
            return true;
        }
        if super::uptime_ns() > deadline {
            break;
        }
        core::hint::spin_loop();
    }
    false
}

fn read_time(century: Option<u8>) -> CmosRegs {
    CmosRegs {
        second: read_reg(REG_SECONDS),
        minute: read_reg(REG_MINUTES),
        hour: read_reg(REG_HOURS),
        day: read_reg(REG_DAY),
        month: read_reg(REG_MONTH),
        year: read_reg(REG_YEAR),
        century: century.map(read_reg),
    }
}

/// The FADT's word on the clock, read once (default when there is no ACPI).
fn fadt_info() -> CmosRtcInfo {
    *FADT.call_once(|| {
        let info = read_fadt();
        match info.century_register {
            Some(r) => log::info!("rtc: CMOS clock, century in register {r:#x} (FADT)"),
            None => log::info!("rtc: CMOS clock, no century register; years are 20xx"),
        }
        info
    })
}

fn read_fadt() -> CmosRtcInfo {
    match crate::boot::info().map(|b| b.firmware) {
        Some(FirmwareTables::Acpi { rsdp_phys }) => {
            let info = acpi::cmos_rtc_info(rsdp_phys).unwrap_or_default();
            match info.century_register {
                Some(r) if !(FIRST_RAM..=MAX_INDEX).contains(&r) => {
                    log::warn!("rtc: FADT names CMOS register {r:#x} as the century; ignoring it");
                    CmosRtcInfo {
                        century_register: None,
                        ..info
                    }
                }
                _ => info,
            }
        }
        _ => CmosRtcInfo::default(),
    }
}

/// Seconds since the Unix epoch from the CMOS clock (kept in UTC under QEMU), or `None`
/// (logged) when the firmware says there is none or it answers with garbage.
pub fn rtc_epoch_seconds() -> Option<u64> {
    let fadt = fadt_info();
    if fadt.not_present {
        log::warn!("rtc: the FADT says there is no CMOS clock at ports 0x70/0x71");
        return None;
    }
    let guard = PORTS.lock();
    let status_b = read_reg(REG_STATUS_B);
    let mut last = None;
    let mut stable = None;
    for _ in 0..MAX_READS {
        if !wait_for_update_end() {
            break;
        }
        let regs = read_time(fadt.century_register);
        if last == Some(regs) {
            stable = Some(regs);
            break;
        }
        last = Some(regs);
    }
    drop(guard);
    let Some(regs) = stable else {
        log::warn!("rtc: CMOS clock never settled (status B {status_b:#04x})");
        return None;
    };
    match regs.decode(status_b).and_then(|dt| dt.epoch_seconds()) {
        Some(secs) => Some(secs),
        None => {
            log::warn!("rtc: CMOS clock reads garbage: {regs:x?}, status B {status_b:#04x}");
            None
        }
    }
}
