//! Helpers for in-guest test suites: check lines, the summary line the harness parses,
//! and running a check in a forked child.
//!
//! Output format (what `cargo xtask test` reads): one line per check, `  ok   <name>` or
//! `  FAIL <name>: <why>`, then exactly `<suite>: N passed, M failed`.

use alloc::format;
use alloc::string::String;

use wayos_abi::wait::WNOHANG;

use crate::println;
use crate::process::{self, WaitStatus};

/// The outcome of one check: `Err` carries the reason it failed.
pub type Check = Result<(), String>;

/// Pass/fail counts of one suite.
pub struct Suite {
    name: &'static str,
    passed: u32,
    failed: u32,
}

impl Suite {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            passed: 0,
            failed: 0,
        }
    }

    /// Records and prints one check.
    pub fn check(&mut self, name: &str, result: Check) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("  ok   {name}");
            }
            Err(why) => {
                self.failed += 1;
                println!("  FAIL {name}: {why}");
            }
        }
    }

    /// Asks `cargo xtask test` to type `input` on the serial console, and to check that the
    /// console shows `echo` in answer (see `wayos_abi::harness::TYPE_WORD`).
    pub fn request_typing(&self, input: &[u8], echo: Option<&[u8]>) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        match echo {
            Some(e) => println!(
                "{}: {} {} {} {}",
                self.name,
                wayos_abi::harness::TYPE_WORD,
                hex(input),
                wayos_abi::harness::ECHO_WORD,
                hex(e)
            ),
            None => println!(
                "{}: {} {}",
                self.name,
                wayos_abi::harness::TYPE_WORD,
                hex(input)
            ),
        }
    }

    /// Prints the summary line and returns the exit status: the number of failed checks
    /// (capped at 255 so it never wraps to "success").
    pub fn finish(self) -> i32 {
        println!(
            "{}: {} passed, {} failed",
            self.name, self.passed, self.failed
        );
        self.failed.min(255) as i32
    }
}

/// How long [`wait_for`] waits for a child before calling it hung.
pub const CHILD_TIMEOUT_MS: u64 = 60_000;
/// Poll interval of [`wait_for`].
const POLL_MS: u64 = 5;

/// Waits up to `timeout_ms` for child `pid` to end and returns its status.
///
/// Polls with `WNOHANG` so a child that never ends is reported instead of hanging the
/// suite. If sleeping fails the poll still counts intervals, so it still gives up.
pub fn wait_for(pid: usize, timeout_ms: u64) -> Result<WaitStatus, String> {
    let mut waited = 0;
    loop {
        match process::waitpid(pid as isize, WNOHANG) {
            Ok((0, _)) => {}
            Ok((got, status)) if got == pid => return Ok(status),
            Ok((got, _)) => return Err(format!("wait({pid}) returned pid {got}")),
            Err(e) => return Err(format!("wait({pid}): {e}")),
        }
        if waited >= timeout_ms {
            return Err(format!("child {pid} still running after {timeout_ms} ms"));
        }
        // If neither sleep nor yield works the interval is still counted.
        let _ = process::sleep_or_yield(POLL_MS);
        waited += POLL_MS;
    }
}

/// Runs `f` in a forked child, which exits with `f`'s result; returns the child's status.
pub fn in_child(f: impl FnOnce() -> i32) -> Result<WaitStatus, String> {
    match process::fork() {
        Ok(0) => process::exit(f()),
        Ok(pid) => wait_for(pid, CHILD_TIMEOUT_MS),
        Err(e) => Err(format!("fork: {e}")),
    }
}

/// `Ok` if `status` is a kill by `signal`.
pub fn expect_signal(status: WaitStatus, signal: i32) -> Check {
    if status.killed_by(signal) {
        Ok(())
    } else {
        Err(format!(
            "child {status}, expected killed by signal {signal}"
        ))
    }
}

/// `Ok` if `status` is `exit(code)`.
pub fn expect_exit(status: WaitStatus, code: i32) -> Check {
    if status.exited_with(code) {
        Ok(())
    } else {
        Err(format!("child {status}, expected exit status {code}"))
    }
}
