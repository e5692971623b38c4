//! The WayOS kernel.
//!
//! Boot order: the arch layer (`arch::*::boot`) runs first, brings up its serial port and
//! trap table, turns the loader's hand-off into a [`BootInfo`] and calls [`kernel_main`].
//! From there on everything is generic and never names an instruction set.
#![no_std]
#![no_main]

extern crate alloc;

mod ai;
mod arch;
mod backtrace;
mod blk;
mod boot;
mod boottest;
mod console;
mod counters;
mod descriptor;
mod diag;
mod display;
mod error;
mod fs;
mod ipc;
mod klog;
mod mm;
mod net;
mod panic;
mod pci;
mod smp;
mod symbols;
mod sync;
mod syscall;
mod task;
mod time;
mod traps;
mod umem;

use core::sync::atomic::{AtomicUsize, Ordering};

use wayos_abi::harness;
use wayos_kcore::boot_info::BootInfo;
use wayos_kcore::cmdline;

/// Kernel version, shown in the banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The generic kernel entry, called once by the arch boot code on the boot CPU.
///
/// `#[no_mangle]` keeps the name stable for `hbreak kernel_main` in GDB, and
/// `#[inline(never)]` keeps release builds from inlining it into the arch entry, where a
/// breakpoint on the symbol would never be hit.
#[no_mangle]
#[inline(never)]
pub extern "Rust" fn kernel_main(info: BootInfo) -> ! {
    let info = boot::install(info);
    klog::set_level_from_cmdline(info.cmdline());
    mm::init(info);
    boot::log_summary(info);
    time::init();
    symbols::load(info.initramfs);
    fs::init(info.initramfs);
    mm::space::init();
    // FP state sizes (XSAVE) are known only after init_late, and threads need them.
    arch::init_late(task::sched::TICK_HZ);
    // PCI after the interrupt controller (devices get routes) and before any driver.
    pci::init();
    task::init();
    smp::start();
    ai::init();
    mm::migrate::start();
    // Drivers need kernel threads (after `task::init`) and PCI's routes.
    net::init();
    blk::init();
    diag::dump::start();
    display::init();

    log::info!(
        "WayOS {} ({}) ready: usable memory {} MiB, {} CPU{}",
        VERSION,
        arch::NAME,
        info.usable_memory() >> 20,
        info.cpu_count,
        if info.cpu_count == 1 { "" } else { "s" }
    );

    if testing() {
        BOOTTEST_FAILED.store(boottest::run(info), Ordering::Relaxed);
    }
    match task::start_init(info.cmdline()) {
        Ok(pid) => log::info!("started /bin/init as pid {pid}"),
        Err(e) => {
            log::error!("cannot start /bin/init: {e}");
            if testing() {
                shutdown(false);
            }
        }
    }
    task::sched::idle_loop()
}

/// Failures of the in-kernel boot tests, folded into the final verdict.
static BOOTTEST_FAILED: AtomicUsize = AtomicUsize::new(0);

fn testing() -> bool {
    boot::info().is_some_and(|b| cmdline::flag(b.cmdline(), harness::TEST_FLAG))
}

/// Ends the system (init's `shutdown`). Under test, the requested deliberate crash runs
/// first, then QEMU gets the verdict: `success` and no boot-test failures.
pub fn shutdown(success: bool) -> ! {
    log::info!(
        "shutdown requested ({}): {} ticks, {} context switches, {} processes in the table",
        if success { "success" } else { "failure" },
        task::sched::ticks(),
        task::sched::switches(),
        task::process::count()
    );
    if testing() {
        if let Some(what) = boot::info().and_then(|b| cmdline::get(b.cmdline(), harness::CRASH_KEY))
        {
            boottest::crash(what);
        }
    }
    arch::power_off(success && BOOTTEST_FAILED.load(Ordering::Relaxed) == 0)
}
