//! The `log` backend: `[seconds.micros] LEVEL cpuN target: message` on the console, and
//! the same line in the kernel log ring that `klog_read` (and the `klog` program) reads.
//!
//! It must work from the first line the arch layer prints, before any memory allocator
//! exists, and from interrupt context, so everything it uses is static or on the stack: a
//! record is formatted into a [`LineBuf`] on the stack with no lock held, printed, then
//! appended to the static [`LogRing`] under [`RING`]'s lock. That lock is held only for the
//! plain copy into or out of the ring (never while formatting, printing or copying to user
//! memory) and is never nested with the console lock; the panic and fatal-trap paths write
//! with `console::write_unlocked` and never take it. A line longer than [`LINE_MAX`] still
//! reaches the console whole; the ring keeps its first [`LINE_MAX`] bytes.

use core::fmt::{self, Write};

use log::{Level, LevelFilter, Log, Metadata, Record};
use wayos_abi::limits::KLOG_BYTES;
use wayos_kcore::logring::{LineBuf, LogRing};

use crate::sync::IrqMutex;
use crate::{arch, console};

/// Longest line kept in the ring, in bytes before its `\n`; longer ones are cut there.
pub const LINE_MAX: usize = 512;

/// Every formatted log line, newest last; the oldest whole lines go when it is full.
static RING: IrqMutex<LogRing<KLOG_BYTES>> = IrqMutex::new(LogRing::new());

/// Copies the newest ring contents that fit in `out`, starting at a whole line, oldest
/// line first; returns the byte count.
pub fn copy_newest(out: &mut [u8]) -> usize {
    RING.lock().copy_newest(out)
}

struct KernelLogger;

static LOGGER: KernelLogger = KernelLogger;

/// Installs the logger at `Info`; safe to call more than once.
pub fn init() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

/// Applies `log=error|warn|info|debug|trace` from the command line.
pub fn set_level_from_cmdline(cmdline: &str) {
    let Some(level) = wayos_kcore::cmdline::get(cmdline, "log") else {
        return;
    };
    match level.parse::<LevelFilter>() {
        Ok(filter) => log::set_max_level(filter),
        Err(_) => log::warn!("log={level}: unknown level, keeping {}", log::max_level()),
    }
}

impl Log for KernelLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let ns = arch::uptime_ns();
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        let target = record.target();
        let line = Line {
            ns,
            level,
            cpu: arch::cpu_id() as u32,
            target: target.strip_prefix("wayos_kernel::").unwrap_or(target),
            args: record.args(),
        };
        let mut buf = LineBuf::<LINE_MAX>::new();
        let _ = write!(buf, "{line}");
        if buf.is_truncated() {
            console::write_fmt(format_args!("{line}"));
        } else {
            console::write_bytes(buf.as_bytes());
        }
        RING.lock().push_line(buf.as_bytes());
    }

    fn flush(&self) {}
}

/// One log line as printed, `\n` included.
struct Line<'a> {
    ns: u64,
    level: &'static str,
    cpu: u32,
    target: &'a str,
    args: &'a fmt::Arguments<'a>,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "[{:5}.{:06}] {} cpu{} {}: {}",
            self.ns / 1_000_000_000,
            (self.ns / 1_000) % 1_000_000,
            self.level,
            self.cpu,
            self.target,
            self.args
        )
    }
}
