//! The test kit every in-guest suite is written with: the [`Suite`] that counts checks and
//! prints their lines, the `expect_*` functions that turn an observation into a [`Check`],
//! [`Context`] to say which step failed, and helpers to run a child or a program.
//!
//! Output format (what `cargo xtask test` reads, see `wayos_abi::harness`): one line per
//! check, `  ok   <name>` or `  FAIL <name>: <why>`, a line `<suite>: skipped <what>
//! (<why>)` per group of checks left out, then exactly `<suite>: N passed, M failed`.
//!
//! A suite is a program whose `main` makes a [`Suite`], calls [`Suite::check`] once per
//! named check with a function returning [`Check`], and returns [`Suite::finish`]:
//!
//! ```ignore
//! fn write_then_close() -> Check {
//!     let (r, w) = io::pipe(true).context("pipe")?;
//!     expect_eq(io::write(w, b"abc"), Ok(3)).context("write")?;
//!     io::close(w).context("close")?;
//!     expect_errno(io::close(w), EBADF).context("second close")?;
//!     io::close(r).context("close the read end")
//! }
//! ```
//!
//! Every `expect_*` takes what was observed first and what was expected second, and its
//! failure says both; `.context(what)` prefixes the step. Checks that need the harness to
//! type on the serial console go inside [`Suite::typed_checks`], which runs them only
//! under `cargo xtask test` and otherwise prints why they were skipped, so every suite
//! also passes when a person types its name at the shell.
//!
//! Checks that need a program on the host (an HTTP server, a UDP echo, frame injection)
//! ask the harness through [`Suite::host`], which answers one line on standard input;
//! by hand it returns `None` and the suite skips those checks.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{Debug, Display};

use wayos_abi::harness::{ECHO_WORD, HARNESS_ENV, HOST_WORD, SKIP_WORD, TYPE_WORD};
use wayos_abi::wait::WNOHANG;

use crate::errno::Errno;
use crate::println;
use crate::process::{self, WaitStatus};

/// The outcome of one check: `Err` carries the reason it failed.
pub type Check = Result<(), String>;

/// Why typed-input checks are skipped when no harness runs the suite.
const NO_HARNESS: &str = "no harness: run under cargo xtask test";

/// Pass/fail counts of one suite.
pub struct Suite {
    name: &'static str,
    passed: u32,
    failed: u32,
    harness: bool,
}

impl Suite {
    /// A suite called `name` (its result line's first word). It runs under the harness
    /// when init set `wayos_abi::harness::HARNESS_ENV`.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            passed: 0,
            failed: 0,
            harness: crate::env::var(HARNESS_ENV).is_some_and(|v| v == "1"),
        }
    }

    /// Whether `cargo xtask test` runs this suite (so it reads the suite's lines and types
    /// when asked), rather than a person at the shell.
    pub fn under_harness(&self) -> bool {
        self.harness
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

    /// Says that the group of checks `what` does not run, and why: one line
    /// `<suite>: skipped <what> (<why>)`. The harness fails a suite that skips anything.
    pub fn skip(&self, what: &str, why: &str) {
        println!("{}: {SKIP_WORD} {what} ({why})", self.name);
    }

    /// Runs `checks`, the group `what` of checks that ask the harness to type
    /// ([`Suite::request_typing`]), when the harness runs the suite; otherwise skips the
    /// group with one line saying so, since nobody would type and the checks would wait
    /// forever.
    pub fn typed_checks(&mut self, what: &str, checks: impl FnOnce(&mut Suite)) {
        if self.harness {
            checks(self);
        } else {
            self.skip(what, NO_HARNESS);
        }
    }

    /// Asks `cargo xtask test` to type `input` on the serial console, and to check that
    /// the console shows `echo` in answer (see `wayos_abi::harness::TYPE_WORD`). Fails
    /// at once, instead of waiting for keys that never come, when no harness runs the
    /// suite.
    pub fn request_typing(&self, input: &[u8], echo: Option<&[u8]>) -> Check {
        if !self.harness {
            return Err(format!("cannot type {input:?}: {NO_HARNESS}"));
        }
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        match echo {
            Some(e) => println!(
                "{}: {TYPE_WORD} {} {ECHO_WORD} {}",
                self.name,
                hex(input),
                hex(e)
            ),
            None => println!("{}: {TYPE_WORD} {}", self.name, hex(input)),
        }
        Ok(())
    }

    /// Asks the harness to do `verb` on the host (one of `wayos_abi::harness`'s `HOST_*`
    /// verbs) with `args`: prints `<suite>: host <verb> <args>` and reads the harness's
    /// answer line from standard input. `Some(Ok(words))` for `ok <words>`,
    /// `Some(Err(message))` for `err <message>` (or an answer that is neither, or no
    /// answer at all); `None` when no harness runs the suite (nobody would answer).
    pub fn host(&self, verb: &str, args: &str) -> Option<Result<String, String>> {
        if !self.harness {
            return None;
        }
        self.ask(verb, args);
        Some(match read_line(crate::io::STDIN, HOST_ANSWER_MAX) {
            Err(e) => Err(format!("reading the answer to {verb}: {e}")),
            Ok(line) => parse_host_answer(line.trim()),
        })
    }

    /// Prints the request line `<suite>: host <verb> [<args>]`.
    fn ask(&self, verb: &str, args: &str) {
        if args.is_empty() {
            println!("{}: {HOST_WORD} {verb}", self.name);
        } else {
            println!("{}: {HOST_WORD} {verb} {args}", self.name);
        }
    }

    /// As [`Suite::host`], for a verb whose answer is preceded by lines starting with
    /// `word` (`screen` for `HOST_SCREENDUMP`): returns those lines and the answer. At
    /// most `max_lines` of them are read; more is an error.
    pub fn host_lines(
        &self,
        verb: &str,
        args: &str,
        word: &str,
        max_lines: usize,
    ) -> Option<Result<(Vec<String>, String), String>> {
        if !self.harness {
            return None;
        }
        self.ask(verb, args);
        let mut lines = Vec::new();
        Some(loop {
            let line = match read_line(crate::io::STDIN, HOST_ANSWER_MAX) {
                Err(e) => break Err(format!("reading the answer to {verb}: {e}")),
                Ok(line) => line,
            };
            let line = line.trim();
            if line.split(' ').next() == Some(word) {
                if lines.len() == max_lines {
                    break Err(format!("more than {max_lines} {word} lines"));
                }
                lines.push(String::from(line));
                continue;
            }
            break parse_host_answer(line).map(|answer| (lines, answer));
        })
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

/// Names the step that failed: `r.context("open /tmp/x")?` turns an error `e` into the
/// failure `open /tmp/x: e`. Works on any `Result` whose error displays (an [`Errno`], or
/// a [`Check`]'s reason).
pub trait Context<T> {
    /// `self`, its error (if any) prefixed with `what: `.
    fn context(self, what: &str) -> Result<T, String>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// `Ok` if `got` is the error `want` (a `wayos_abi::errno` value); a success or another
/// error fails, naming both.
pub fn expect_errno<T: Debug>(got: Result<T, Errno>, want: isize) -> Check {
    match got {
        Err(e) if e.code() == want => Ok(()),
        Err(e) => Err(format!("got {e}, expected {}", Errno(want))),
        Ok(v) => Err(format!("succeeded ({v:?}), expected {}", Errno(want))),
    }
}

/// `Ok` if `got == want`.
pub fn expect_eq<T: PartialEq + Debug>(got: T, want: T) -> Check {
    if got == want {
        Ok(())
    } else {
        Err(format!("got {got:?}, expected {want:?}"))
    }
}

/// `Ok` if the bytes are equal; a failure names the length or the first byte that
/// differs (not two whole buffers).
pub fn expect_bytes(got: &[u8], want: &[u8]) -> Check {
    if got.len() != want.len() {
        return Err(format!("{} bytes, expected {}", got.len(), want.len()));
    }
    match got.iter().zip(want).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!(
            "byte {i} is {:#x}, expected {:#x}",
            got[i], want[i]
        )),
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

/// For a child that reports what went wrong in its exit status: adds to a failed check
/// on `status` what the code it exited with means, from `legend` (code, meaning), as in
/// `expect_exit(st, 0).map_err(explain_exit(st, &[(2, "never refused")]))`.
pub fn explain_exit<'a>(
    status: WaitStatus,
    legend: &'a [(i32, &'a str)],
) -> impl FnOnce(String) -> String + 'a {
    move |why| match legend.iter().find(|(k, _)| Some(*k) == status.exit_code()) {
        Some((_, meaning)) => format!("{why} ({meaning})"),
        None => why,
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

/// `Ok` if a program run by [`run_captured`] printed exactly `out` and `err` and exited
/// with `status`; a failure lists every part that differed.
pub fn expect_output(got: &Captured, out: &str, err: &str, status: i32) -> Check {
    let mut why = Vec::new();
    if got.out != out {
        why.push(format!("stdout {:?}, expected {out:?}", got.out));
    }
    if got.err != err {
        why.push(format!("stderr {:?}, expected {err:?}", got.err));
    }
    if !got.status.exited_with(status) {
        why.push(format!("{}, expected exit status {status}", got.status));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("; "))
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

/// What a program run by [`run_captured`] printed and how it ended.
pub struct Captured {
    pub out: String,
    pub err: String,
    pub status: WaitStatus,
}

/// Longest answer line [`Suite::host`] reads.
const HOST_ANSWER_MAX: usize = 1024;

/// An answer line `ok <words>` / `err <message>` as a result.
fn parse_host_answer(line: &str) -> Result<String, String> {
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    match word {
        "ok" => Ok(String::from(rest.trim())),
        "err" => Err(String::from(rest.trim())),
        _ => Err(format!("the harness answered {line:?}")),
    }
}

/// Reads one non-empty line (up to `max` bytes, without its line end) from `fd`, a byte
/// at a time so nothing after it is consumed. A line ends at `\n` or `\r` (the console
/// may pass either for the Enter key), and empty lines before it are skipped, so a CR LF
/// pair never reads as an extra empty line. The end of input ends a line too (the end at
/// once is `EIO`: nobody will answer).
pub fn read_line(fd: usize, max: usize) -> Result<String, Errno> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match crate::io::read(fd, &mut b) {
            Ok(0) if line.is_empty() => return Err(Errno(wayos_abi::errno::EIO)),
            Ok(0) => break,
            Ok(_) if (b[0] == b'\n' || b[0] == b'\r') && line.is_empty() => {}
            Ok(_) if b[0] == b'\n' || b[0] == b'\r' => break,
            Ok(_) if line.len() < max => line.push(b[0]),
            Ok(_) => {}
            Err(e) if e.code() == wayos_abi::errno::EINTR => {}
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
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
