//! Clocks and sleeping: `clock_gettime`, `nanosleep` and conveniences over them.

use wayos_abi::{clock, sys, Timespec};

use crate::errno::Errno;

const NS_PER_SEC: u64 = 1_000_000_000;

/// `clock_gettime(clock)`.
pub fn clock_gettime(clock: usize) -> Result<Timespec, Errno> {
    let mut ts = Timespec::default();
    // SAFETY: the kernel writes one `Timespec` into `ts`, which we own.
    unsafe {
        crate::sys::call(
            sys::CLOCK_GETTIME,
            [clock, crate::sys::arg_out(&mut ts), 0, 0, 0, 0],
        )
    }?;
    Ok(ts)
}

/// Nanoseconds on the monotonic clock (time since boot).
pub fn monotonic_ns() -> Result<u64, Errno> {
    let ts = clock_gettime(clock::MONOTONIC)?;
    Ok((ts.sec as u64)
        .saturating_mul(NS_PER_SEC)
        .saturating_add(ts.nsec as u64))
}

/// Nanoseconds on the real-time clock: since 1970-01-01 00:00:00 UTC (time since boot when
/// the kernel found no RTC).
pub fn realtime_ns() -> Result<u64, Errno> {
    let ts = clock_gettime(clock::REALTIME)?;
    Ok((ts.sec as u64)
        .saturating_mul(NS_PER_SEC)
        .saturating_add(ts.nsec as u64))
}

/// `nanosleep(req, NULL)`.
pub fn nanosleep(req: &Timespec) -> Result<(), Errno> {
    // SAFETY: the kernel only reads `req`; the remainder pointer is null.
    unsafe { crate::sys::call(sys::NANOSLEEP, [crate::sys::arg_in(req), 0, 0, 0, 0, 0]) }.map(drop)
}

/// Sleeps for `ms` milliseconds.
pub fn sleep_ms(ms: u64) -> Result<(), Errno> {
    nanosleep(&Timespec {
        sec: (ms / 1000) as i64,
        nsec: ((ms % 1000) * 1_000_000) as i64,
    })
}
