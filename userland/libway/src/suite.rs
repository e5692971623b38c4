//! Helpers for in-guest test suites: check lines, the summary line the harness parses,
//! running a check in a forked child, and running a program with its output captured.
//!
//! Output format (what `cargo xtask test` reads): one line per check, `  ok   <name>` or
//! `  FAIL <name>: <why>`, then exactly `<suite>: N passed, M failed`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

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

/// What a program run by [`run_captured`] printed and how it ended.
pub struct Captured {
    pub out: String,
    pub err: String,
    pub status: WaitStatus,
}

/// Reads `fd` to its end (retrying `EINTR`) as UTF-8.
pub fn read_all(fd: usize) -> Result<String, String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match crate::io::read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&buf[..n.min(buf.len())]),
            Err(e) if e.code() == wayos_abi::errno::EINTR => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    String::from_utf8(data).map_err(|_| "output is not UTF-8".into())
}

/// Runs `path` with `argv` and `envp`, standard output and error on pipes, and waits (up
/// to [`CHILD_TIMEOUT_MS`]) for it; `who` names the suite in an exec failure message.
pub fn run_captured(
    path: &str,
    argv: &[&str],
    envp: &[&str],
    who: &str,
) -> Result<Captured, String> {
    use crate::io;
    let (out_r, out_w) = io::pipe(true).map_err(|e| format!("pipe: {e}"))?;
    let (err_r, err_w) = match io::pipe(true) {
        Ok(p) => p,
        Err(e) => {
            let _ = io::close(out_r);
            let _ = io::close(out_w);
            return Err(format!("pipe: {e}"));
        }
    };
    let pid = match process::fork() {
        Ok(0) => {
            // dup2 clears close-on-exec on the copies; the originals close in execve.
            let _ = io::dup2(out_w, io::STDOUT);
            let _ = io::dup2(err_w, io::STDERR);
            let e = process::execve(path, argv, envp);
            crate::eprintln!("{who}: execve {path}: {e}");
            process::exit(126);
        }
        Ok(pid) => pid,
        Err(e) => {
            for fd in [out_r, out_w, err_r, err_w] {
                let _ = io::close(fd);
            }
            return Err(format!("fork: {e}"));
        }
    };
    let _ = io::close(out_w);
    let _ = io::close(err_w);
    // Standard error is small; read standard output first, then it.
    let out = read_all(out_r);
    let err = read_all(err_r);
    let _ = io::close(out_r);
    let _ = io::close(err_r);
    let status = wait_for(pid, CHILD_TIMEOUT_MS)?;
    Ok(Captured {
        out: out?,
        err: err?,
        status,
    })
}
