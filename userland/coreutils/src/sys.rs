//! The runtime every utility shares on WayOS (libway).
//!
//! - Standard output is buffered ([`write`], [`out!`](crate::out), [`outln!`](crate::outln))
//!   and flushed when the buffer fills, before a read that may block (so a pipeline or a
//!   person typing sees each answer), before an error message (so the two streams stay
//!   in order) and at exit ([`program!`](crate::program) wraps `main`). `yes | head` thus
//!   moves 16 KiB per write.
//! - A write to a pipe nobody reads raises SIGPIPE, whose default action ends the program
//!   quietly (the shell does not report it); if SIGPIPE is ignored the `EPIPE` error ends
//!   it quietly too, with status 1. Any other write error prints `PROG: write error: ...`
//!   and exits 1.
//! - [`Input`] reads a file or standard input (`-`) in chunks or lines.
//! - [`error`] / [`err!`](crate::err) print `PROG: message` on standard error; [`errno`]
//!   words an `Errno` as glibc does. PROG is `argv[0]` as given, as GNU prints it.
//! - [`parse_args`] runs [`crate::args::parse`] and handles `--help`, `--version` and
//!   usage errors (`PROG: invalid option -- 'x'` and the `Try 'PROG --help'` line).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use libway::abi::errno::{EINTR, EPIPE};
use libway::fs::{Stat, StatExt};
use libway::io::{self, STDERR, STDIN, STDOUT};
use libway::{Args, Errno};
use spin::Mutex;

use crate::args::{self, Parsed, Spec};
use crate::errmsg::StrError;

/// Bytes of standard output gathered before a write.
const OUT_CAP: usize = 16 * 1024;
/// Bytes asked for per read.
const READ_CHUNK: usize = 32 * 1024;

static OUT: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// The program's name for messages: `argv[0]` as given.
pub fn prog() -> &'static str {
    match libway::env::args().get(0) {
        Some(a) if !a.is_empty() => a,
        _ => "?",
    }
}

/// glibc's wording of `e`.
pub fn errno(e: Errno) -> StrError {
    StrError(e.code())
}

fn write_fd_all(fd: usize, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        match io::write(fd, buf) {
            Ok(0) => return Err(Errno(libway::abi::errno::EIO)),
            Ok(n) => buf = &buf[n.min(buf.len())..],
            Err(e) if e.code() == EINTR => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Ends the program after a failed write to standard output.
fn write_failed(e: Errno) -> ! {
    if e.code() != EPIPE {
        let msg = alloc::format!("{}: write error: {}\n", prog(), errno(e));
        let _ = write_fd_all(STDERR, msg.as_bytes());
    }
    libway::process::exit(1)
}

/// Writes out what standard output has buffered.
pub fn flush() {
    let mut out = OUT.lock();
    if out.is_empty() {
        return;
    }
    let r = write_fd_all(STDOUT, &out);
    out.clear();
    drop(out);
    if let Err(e) = r {
        write_failed(e);
    }
}

/// Appends to standard output.
pub fn write(bytes: &[u8]) {
    let mut out = OUT.lock();
    if out.len() + bytes.len() > OUT_CAP && !out.is_empty() {
        let r = write_fd_all(STDOUT, &out);
        out.clear();
        if let Err(e) = r {
            drop(out);
            write_failed(e);
        }
    }
    if bytes.len() >= OUT_CAP {
        drop(out);
        if let Err(e) = write_fd_all(STDOUT, bytes) {
            write_failed(e);
        }
        return;
    }
    out.extend_from_slice(bytes);
}

/// Appends a string to standard output.
pub fn write_str(s: &str) {
    write(s.as_bytes());
}

struct OutFmt;

impl fmt::Write for OutFmt {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write(s.as_bytes());
        Ok(())
    }
}

/// What [`out!`](crate::out) expands to.
#[doc(hidden)]
pub fn _out(args: fmt::Arguments<'_>) {
    let _ = fmt::Write::write_fmt(&mut OutFmt, args);
}

/// Formatted output to the buffered standard output.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::sys::_out(format_args!($($arg)*)) };
}

/// Formatted output and a newline to the buffered standard output.
#[macro_export]
macro_rules! outln {
    () => { $crate::sys::write(b"\n") };
    ($($arg:tt)*) => { $crate::sys::_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints `PROG: message` on standard error (standard output is flushed first).
pub fn error(args: fmt::Arguments<'_>) {
    flush();
    let msg = alloc::format!("{}: {}\n", prog(), args);
    let _ = write_fd_all(STDERR, msg.as_bytes());
}

/// `PROG: ...` on standard error.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => { $crate::sys::error(format_args!($($arg)*)) };
}

/// Prints the `Try 'PROG --help' for more information.` line on standard error.
pub fn try_help() {
    let msg = alloc::format!("{}\n", args::try_help(prog()));
    let _ = write_fd_all(STDERR, msg.as_bytes());
}

/// Prints a usage error and the `Try 'PROG --help'` line; returns `status`.
pub fn usage_error(args: fmt::Arguments<'_>, status: i32) -> i32 {
    error(args);
    try_help();
    status
}

/// Flushes standard output and hands back the exit status.
pub fn finish(status: i32) -> i32 {
    flush();
    status
}

/// The arguments after the program name.
pub fn operands(a: &Args) -> Vec<&'static str> {
    a.iter().skip(1).collect()
}

/// Parses the command line. `Err(status)` means the program should exit with it: after
/// `--help` (0, `help` printed with `Usage: PROG` in front), `--version` (0) or a usage
/// error (`usage_status`, the message and the `Try` line printed).
pub fn parse_args(
    a: &Args,
    spec: &Spec,
    help: &str,
    usage_status: i32,
) -> Result<Parsed<'static>, i32> {
    let words = operands(a);
    let p = match args::parse(&words, spec) {
        Ok(p) => p,
        Err(e) => return Err(usage_error(format_args!("{e}"), usage_status)),
    };
    if p.has(args::HELP) {
        out!("Usage: {} {}", prog(), help);
        return Err(0);
    }
    if p.has(args::VERSION) {
        outln!(
            "{} (WayOS coreutils) {}",
            crate::path::basename(prog()),
            crate::VERSION
        );
        return Err(0);
    }
    Ok(p)
}

/// A file or standard input, read in chunks or lines.
pub struct Input {
    fd: usize,
    owned: bool,
    /// Reads may block (not a regular file): flush standard output first.
    blocking: bool,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl Input {
    fn from_fd(fd: usize, owned: bool) -> Input {
        let blocking = !libway::fs::fstat(fd).is_ok_and(|s| s.is_file());
        Input {
            fd,
            owned,
            blocking,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// Standard input.
    pub fn stdin() -> Input {
        Input::from_fd(STDIN, false)
    }

    /// Opens `name` for reading; `-` is standard input.
    pub fn open(name: &str) -> Result<Input, Errno> {
        if name == "-" {
            return Ok(Input::stdin());
        }
        let f = libway::fs::File::open(name)?;
        Ok(Input::from_fd(f.into_raw_fd(), true))
    }

    /// The descriptor's status.
    pub fn stat(&self) -> Result<Stat, Errno> {
        libway::fs::fstat(self.fd)
    }

    fn fill(&mut self) -> Result<(), Errno> {
        if self.eof {
            return Ok(());
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            // A line longer than the buffer: make room.
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let n = self.buf.len() * 2;
                self.buf.resize(n, 0);
            }
        }
        if self.blocking {
            flush();
        }
        loop {
            match io::read(self.fd, &mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n.min(self.buf.len() - self.end);
                    return Ok(());
                }
                Err(e) if e.code() == EINTR => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next bytes (at most one read's worth); empty at the end.
    pub fn chunk(&mut self) -> Result<&[u8], Errno> {
        if self.start == self.end {
            self.fill()?;
        }
        let (s, e) = (self.start, self.end);
        self.start = e;
        Ok(&self.buf[s..e])
    }

    /// Appends the next line, with its newline if it has one, to `line`; false at the end.
    pub fn read_line(&mut self, line: &mut Vec<u8>) -> Result<bool, Errno> {
        let mut any = false;
        loop {
            if let Some(i) = self.buf[self.start..self.end]
                .iter()
                .position(|&b| b == b'\n')
            {
                line.extend_from_slice(&self.buf[self.start..self.start + i + 1]);
                self.start += i + 1;
                return Ok(true);
            }
            if self.start < self.end {
                line.extend_from_slice(&self.buf[self.start..self.end]);
                self.start = self.end;
                any = true;
            }
            if self.eof {
                return Ok(any);
            }
            self.fill()?;
            if self.eof && self.start == self.end {
                return Ok(any);
            }
        }
    }

    /// Lets reads go on after the end was seen (for `tail -f`: the file may grow).
    pub fn clear_eof(&mut self) {
        self.eof = false;
    }

    /// Everything up to the end.
    pub fn read_all(&mut self) -> Result<Vec<u8>, Errno> {
        let mut all = Vec::new();
        loop {
            let c = self.chunk()?;
            if c.is_empty() {
                return Ok(all);
            }
            all.extend_from_slice(c);
        }
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        if self.owned {
            let _ = io::close(self.fd);
        }
    }
}

/// Splits a buffer into lines without their newlines (a last line without one counts).
pub fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let empty = data.is_empty();
    body.split(|&b| b == b'\n').filter(move |_| !empty)
}

/// Sets how `signal` is handled, ignoring failure (the default stays).
pub fn ignore_signal(signal: i32) {
    let _ = libway::signal::set_handler(signal, libway::signal::Handler::Ignore);
}

/// Standard output's status (to tell a regular file from a pipe or the console).
pub fn stdout_stat() -> Option<Stat> {
    libway::fs::fstat(STDOUT).ok()
}

/// A `String` of `bytes`, invalid UTF-8 replaced.
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A kernel `Timespec` as a [`crate::date::Time`].
pub fn time_of(ts: libway::abi::Timespec) -> crate::date::Time {
    let extra = ts.nsec.div_euclid(1_000_000_000);
    crate::date::Time {
        sec: ts.sec.saturating_add(extra),
        nsec: ts.nsec.rem_euclid(1_000_000_000) as u32,
    }
}

/// The current time: `CLOCK_REALTIME` (the RTC read at boot plus the time since; the
/// kernel falls back to the time since boot when there is no RTC).
pub fn now() -> crate::date::Time {
    libway::time::clock_gettime(libway::abi::clock::REALTIME)
        .or_else(|_| libway::time::clock_gettime(libway::abi::clock::MONOTONIC))
        .map(time_of)
        .unwrap_or_default()
}

/// The time since boot.
pub fn uptime() -> crate::date::Time {
    libway::time::clock_gettime(libway::abi::clock::MONOTONIC)
        .map(time_of)
        .unwrap_or_default()
}
