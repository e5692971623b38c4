//! The monotonic clock: the TSC, calibrated once against the PIT.
//!
//! Before calibration `uptime_ns` reads 0, so the earliest log lines show time zero rather
//! than garbage.

use core::sync::atomic::{AtomicU64, Ordering};

use super::port::{inb, outb};

static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);

const PIT_HZ: u64 = 1_193_182;
/// 10 ms of PIT ticks.
const PIT_COUNT: u16 = (PIT_HZ / 100) as u16;

fn rdtsc() -> u64 {
    // SAFETY: RDTSC is unprivileged-safe and touches no memory.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Measures the TSC rate against 10 ms of PIT channel 2.
pub fn calibrate() {
    // SAFETY: ports 0x42/0x43/0x61 are the PIT and the keyboard controller's speaker gate;
    // channel 2 is not used by anything else in the kernel.
    let ticks = unsafe {
        let gate = inb(0x61);
        outb(0x61, (gate & !0x02) | 0x01);
        outb(0x43, 0b1011_0000); // channel 2, lo/hi byte, mode 0, binary
        outb(0x42, (PIT_COUNT & 0xff) as u8);
        outb(0x42, (PIT_COUNT >> 8) as u8);
        let start = rdtsc();
        while inb(0x61) & 0x20 == 0 {
            core::hint::spin_loop();
        }
        rdtsc() - start
    };
    let hz = ticks * (PIT_HZ / PIT_COUNT as u64);
    TSC_AT_BOOT.store(rdtsc(), Ordering::Relaxed);
    TSC_HZ.store(hz.max(1), Ordering::Relaxed);
    log::info!("tsc: {} MHz (calibrated against the PIT)", hz / 1_000_000);
}

pub fn uptime_ns() -> u64 {
    let hz = TSC_HZ.load(Ordering::Relaxed);
    if hz == 0 {
        return 0;
    }
    let ticks = rdtsc().saturating_sub(TSC_AT_BOOT.load(Ordering::Relaxed));
    (u128::from(ticks) * 1_000_000_000 / u128::from(hz)) as u64
}
