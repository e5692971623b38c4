//! The panic handler and the common "the kernel cannot go on" path.
//!
//! Prints the message, its location and a symbolized backtrace, then stops this CPU. In test
//! mode (`wayos.test` on the command line) it powers QEMU off with a failure verdict so the
//! harness does not wait for a timeout.

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::{arch, backtrace, boot, console};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    if PANICKING.swap(true, Ordering::SeqCst) {
        console::write_unlocked(format_args!(
            "\nKERNEL PANIC while panicking: {}\n",
            info.message()
        ));
        arch::halt_forever();
    }
    console::write_unlocked(format_args!(
        "\nKERNEL PANIC on cpu{}: {}\n",
        arch::cpu_id(),
        info.message()
    ));
    if let Some(loc) = info.location() {
        console::write_unlocked(format_args!(
            "  at {}:{}:{}\n",
            loc.file(),
            loc.line(),
            loc.column()
        ));
    }
    backtrace::print(arch::frame_pointer());
    stop()
}

/// Ends the kernel after a fatal report.
fn stop() -> ! {
    let testing = boot::info()
        .is_some_and(|b| wayos_kcore::cmdline::flag(b.cmdline(), wayos_abi::harness::TEST_FLAG));
    console::write_unlocked(format_args!("kernel stopped.\n"));
    // The display thread will not run again: show the report on the screen now.
    crate::display::panic_flush();
    if testing {
        arch::power_off(false);
    }
    arch::halt_forever()
}
