//! The `log` backend: `[seconds.micros] LEVEL cpuN target: message` on the console.
//!
//! It must work from the first line the arch layer prints, before any memory allocator
//! exists, so it formats straight to the console and owns no buffers.

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::{arch, console};

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
        let target = target.strip_prefix("wayos_kernel::").unwrap_or(target);
        console::write_fmt(format_args!(
            "[{:5}.{:06}] {} cpu{} {}: {}\n",
            ns / 1_000_000_000,
            (ns / 1_000) % 1_000_000,
            level,
            arch::cpu_id(),
            target,
            record.args()
        ));
    }

    fn flush(&self) {}
}
