//! The local APIC (xAPIC, MMIO) and its timer, the scheduler's tick on x86_64.
//!
//! TCG has no x2APIC and no TSC-deadline mode, so the timer runs in periodic mode,
//! calibrated once against the already calibrated TSC.

use core::sync::atomic::{AtomicUsize, Ordering};

use super::trap::{VEC_SPURIOUS, VEC_TIMER};
use super::tsc;

const LAPIC_PHYS: usize = 0xfee0_0000;
const REG_ID: usize = 0x20;
const REG_EOI: usize = 0xb0;
const REG_SVR: usize = 0xf0;
const REG_LVT_TIMER: usize = 0x320;
const REG_TIMER_INIT: usize = 0x380;
const REG_TIMER_CURRENT: usize = 0x390;
const REG_TIMER_DIVIDE: usize = 0x3e0;
const TIMER_PERIODIC: u32 = 1 << 17;
const DIVIDE_BY_16: u32 = 0b0011;

static BASE: AtomicUsize = AtomicUsize::new(0);

fn reg(offset: usize) -> *mut u32 {
    (BASE.load(Ordering::Relaxed) + offset) as *mut u32
}

fn read(offset: usize) -> u32 {
    // SAFETY: BASE maps the LAPIC's 4 KiB register page; offsets are register offsets.
    unsafe { reg(offset).read_volatile() }
}

fn write(offset: usize, value: u32) {
    // SAFETY: as for `read`.
    unsafe { reg(offset).write_volatile(value) }
}

/// Enables the LAPIC and starts its timer at `hz` interrupts per second.
pub fn init(hz: u32) {
    BASE.store(crate::mm::mmio(LAPIC_PHYS as u64, 4096), Ordering::Relaxed);
    write(REG_SVR, (1 << 8) | VEC_SPURIOUS as u32);
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    // Count down from the maximum for 10 ms of TSC time.
    write(REG_LVT_TIMER, 1 << 16); // masked, one-shot
    write(REG_TIMER_INIT, u32::MAX);
    let start = tsc::uptime_ns();
    while tsc::uptime_ns() - start < 10_000_000 {
        core::hint::spin_loop();
    }
    let per_10ms = u32::MAX - read(REG_TIMER_CURRENT);
    let initial = (u64::from(per_10ms) * 100 / u64::from(hz)).max(1) as u32;
    write(REG_LVT_TIMER, TIMER_PERIODIC | VEC_TIMER as u32);
    write(REG_TIMER_INIT, initial);
    log::info!(
        "lapic: id {}, timer {} kHz bus/16, {} Hz tick",
        read(REG_ID) >> 24,
        u64::from(per_10ms) / 10,
        hz
    );
}

pub fn eoi() {
    write(REG_EOI, 0);
}
