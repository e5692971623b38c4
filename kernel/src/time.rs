//! Wall-clock time for timestamps (file times) and `CLOCK_REALTIME`.
//!
//! [`init`] reads the real-time clock once at boot (`arch::rtc_epoch_seconds`) and keeps
//! the epoch time the machine booted at; [`realtime_ns`] adds the monotonic uptime to it,
//! so wall-clock time never jumps or goes backwards while the kernel runs. If no RTC
//! answers, the boot epoch stays 0 and "now" is the time since boot, with a warning. Every
//! timestamp the kernel records comes from [`realtime_ns`]; keep its signature.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use wayos_kcore::date::DateTime;

use crate::arch;

const NS_PER_SEC: u64 = 1_000_000_000;

/// Nanoseconds since the epoch at uptime 0; 0 when no RTC answered.
static BOOT_EPOCH_NS: AtomicU64 = AtomicU64::new(0);
/// Whether [`init`] got a time from the RTC.
static FROM_RTC: AtomicBool = AtomicBool::new(false);

/// Reads the RTC and fixes the boot epoch. Called once from `kernel_main` after `mm::init`
/// (the RTC may need an MMIO mapping) and before anything records a timestamp.
pub fn init() {
    let Some(secs) = arch::rtc_epoch_seconds() else {
        log::warn!("no real-time clock answered; wall-clock time is time since boot");
        return;
    };
    let uptime = arch::uptime_ns();
    // Seconds up to year ~2554 fit in u64 nanoseconds; a later RTC value is garbage.
    let Some(now_ns) = secs.checked_mul(NS_PER_SEC) else {
        log::warn!("RTC reads {secs} s since the epoch, beyond the year 2554; ignoring it");
        return;
    };
    BOOT_EPOCH_NS.store(now_ns.saturating_sub(uptime), Ordering::Relaxed);
    FROM_RTC.store(true, Ordering::Relaxed);
    log::info!(
        "RTC reads {} UTC ({secs} s since the epoch)",
        DateTime::from_epoch_seconds(secs)
    );
}

/// Whether wall-clock time comes from the RTC (false: time since boot).
pub fn from_rtc() -> bool {
    FROM_RTC.load(Ordering::Relaxed)
}

/// Nanoseconds since 1970-01-01 00:00:00 UTC: the RTC's time at boot plus the uptime. If no
/// RTC answered at boot, the time since boot.
pub fn realtime_ns() -> u64 {
    BOOT_EPOCH_NS
        .load(Ordering::Relaxed)
        .saturating_add(arch::uptime_ns())
}
