//! Wall-clock time for timestamps (file times, and later `CLOCK_REALTIME`).
//!
//! There is no real-time clock driver yet, so "now" is the time since boot: every
//! timestamp the kernel records comes from [`realtime_ns`], and when the RTC (or a network
//! time source) is read, that one function adds the boot time and every user of it
//! follows. Keep its signature.

/// Nanoseconds of real time. Until the RTC is read this is the time since boot (the
/// monotonic clock), so file times start near zero at every boot.
pub fn realtime_ns() -> u64 {
    crate::arch::uptime_ns()
}
