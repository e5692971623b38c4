//! The WayOS kernel.
//!
//! Boot order: the arch layer (`arch::*::boot`) runs first, brings up its serial port and
//! trap table, turns the loader's hand-off into a [`BootInfo`] and calls [`kernel_main`].
//! From there on everything is generic and never names an instruction set.
#![no_std]
#![no_main]

mod arch;
mod backtrace;
mod boot;
mod console;
mod klog;
mod panic;
mod selftest;
mod symbols;
mod traps;

use wayos_abi::harness;
use wayos_kcore::boot_info::BootInfo;
use wayos_kcore::cmdline;

/// Kernel version, shown in the banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The generic kernel entry, called once by the arch boot code on the boot CPU.
///
/// `#[no_mangle]` keeps the name stable for `hbreak kernel_main` in GDB.
#[no_mangle]
pub extern "Rust" fn kernel_main(info: BootInfo) -> ! {
    let info = boot::install(info);
    klog::set_level_from_cmdline(info.cmdline());
    boot::log_summary(info);
    symbols::load(info.initramfs);

    log::info!(
        "WayOS {} ({}) ready: usable memory {} MiB, {} CPU{}",
        VERSION,
        arch::NAME,
        info.usable_memory() >> 20,
        info.cpu_count,
        if info.cpu_count == 1 { "" } else { "s" }
    );

    let testing = cmdline::flag(info.cmdline(), harness::TEST_FLAG);
    if testing {
        let failed = selftest::run(info);
        if let Some(what) = cmdline::get(info.cmdline(), harness::CRASH_KEY) {
            selftest::crash(what);
        }
        arch::power_off(failed == 0);
    }
    log::info!("nothing more to run yet; the kernel idles (Ctrl-A X quits QEMU)");
    arch::halt_forever()
}
