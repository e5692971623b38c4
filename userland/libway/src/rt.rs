//! The runtime around `main`: what runs between `_start` and the program, and the panic
//! handler.
//!
//! `_start` (in [`crate::arch`]) calls the program's `__libway_entry`, which
//! [`crate::entry!`] defines to call [`start`] with the program's `main`. A panic prints
//! `panic in <program>: <message> at <file>:<line>` to standard error and exits with
//! status [`PANIC_STATUS`]; it never allocates, so it works when the heap is exhausted.

use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use wayos_abi::StrRef;

use crate::env::{self, Args};
use crate::io::{FdWriter, STDERR};
use crate::process::exit;

/// Exit status of a process that panicked.
pub const PANIC_STATUS: i32 = 101;

/// Records the arguments, runs `main`, exits with its result.
///
/// # Safety
///
/// The four values must be the ones the kernel passed at process entry
/// (`wayos_abi::layout`), and this must be called once.
pub unsafe fn start(
    argc: usize,
    argv: *const StrRef,
    envc: usize,
    envp: *const StrRef,
    main: fn(Args) -> i32,
) -> ! {
    // SAFETY: forwarded to the caller: these are the kernel's entry tables.
    unsafe { env::init(argc, argv, envc, envp) };
    exit(main(env::args()))
}

/// Defines the program's entry point: `libway::entry!(main)` with `fn main(args: Args) -> i32`;
/// `main`'s result becomes the exit status.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[no_mangle]
        extern "C" fn __libway_entry(
            argc: usize,
            argv: *const $crate::abi::StrRef,
            envc: usize,
            envp: *const $crate::abi::StrRef,
        ) -> ! {
            // SAFETY: only `_start` calls this, once, with the kernel's entry registers.
            unsafe { $crate::rt::start(argc, argv, envc, envp, $main) }
        }
    };
}

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    if PANICKING.swap(true, Ordering::Relaxed) {
        // Panicked while reporting a panic: just stop.
        exit(PANIC_STATUS);
    }
    let mut w = FdWriter::new(STDERR);
    let _ = write!(w, "panic in {}: {}", env::program_name(), info.message());
    if let Some(loc) = info.location() {
        let _ = write!(w, " at {}:{}", loc.file(), loc.line());
    }
    let _ = w.write_str("\n");
    w.flush();
    exit(PANIC_STATUS)
}
