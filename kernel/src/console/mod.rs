//! The kernel console: serialized text output to the arch serial port, and typed input
//! ([`input`]).
//!
//! One lock orders whole writes so lines from different contexts (and CPUs) do not
//! interleave. It masks interrupts while held, so an interrupt handler that logs on a CPU
//! already writing cannot spin on the lock it interrupted. The panic path may take the console from a context that already holds it; it uses
//! [`write_unlocked`] rather than waiting forever.
//!
//! Everything written is also handed to the screen console ([`crate::display`]), which
//! only records the text here and draws it later on its own thread: the serial line stays
//! the primary console and is never slowed by drawing.
//!
//! No `unsafe` here: the serial port is the arch layer's, behind safe functions.
#![deny(unsafe_code)]

pub mod input;

use core::fmt::{self, Write};

use crate::arch;
use crate::sync::IrqMutex;

/// The serial port, and the screen. `panicking`: the unlocked panic path, where the
/// screen may only try its lock.
struct Serial {
    panicking: bool,
}

impl Write for Serial {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.panicking {
            crate::display::feed_panic(s.as_bytes());
        } else {
            crate::display::feed(s.as_bytes());
        }
        for chunk in s.as_bytes().split_inclusive(|&b| b == b'\n') {
            match chunk.split_last() {
                Some((b'\n', body)) => {
                    arch::serial_write(body);
                    arch::serial_write(b"\r\n");
                }
                _ => arch::serial_write(chunk),
            }
        }
        Ok(())
    }
}

static CONSOLE: IrqMutex<Serial> =
    IrqMutex::tracked(Serial { panicking: false }, &crate::sync::names::CONSOLE);

/// Writes formatted text under the console lock.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    let _ = CONSOLE.lock().write_fmt(args);
}

/// Writes raw bytes (a user program's output) under the console lock, with `\n` turned
/// into `\r\n` like every other console line.
pub fn write_bytes(bytes: &[u8]) {
    let _guard = CONSOLE.lock();
    crate::display::feed(bytes);
    for chunk in bytes.split_inclusive(|&b| b == b'\n') {
        match chunk.split_last() {
            Some((b'\n', body)) => {
                arch::serial_write(body);
                arch::serial_write(b"\r\n");
            }
            _ => arch::serial_write(chunk),
        }
    }
}

/// Writes `s` under the console lock if it comes free within a short, bounded spin,
/// else without it: for the magic-key report, which must print even while a stuck
/// holder keeps the lock.
pub fn write_str_trying(s: &str) {
    for _ in 0..100_000 {
        if let Some(mut c) = CONSOLE.try_lock() {
            let _ = c.write_str(s);
            return;
        }
        core::hint::spin_loop();
    }
    // Without the console lock the screen may only try its own (as on the panic path).
    let _ = Serial { panicking: true }.write_str(s);
}

/// Writes without taking the lock, for the panic and fatal-trap paths only: interleaving
/// is better than deadlocking on a lock held by the code that crashed.
pub fn write_unlocked(args: fmt::Arguments<'_>) {
    let _ = Serial { panicking: true }.write_fmt(args);
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}
