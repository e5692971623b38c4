//! `boottest`: in-kernel checks of the boot path, run when the command line has `wayos.test`.
//!
//! Each check compares what the kernel sees against something known independently (the
//! initramfs the host packed, the symbol table the host extracted, a trap taken on purpose).
//! The suite ends with the harness's line format, `boottest: N passed, M failed`.
//! `wayos.crash=fault|panic` then kills the kernel on purpose so the harness can check the
//! fatal-error reports.

use wayos_kcore::boot_info::{BootInfo, MemoryKind};
use wayos_kcore::{cmdline, cpio};

use crate::{arch, backtrace, println, symbols, traps};

type Check = fn(&BootInfo) -> Result<(), &'static str>;

const CHECKS: &[(&str, Check)] = &[
    (
        "memory_map_sorted_and_disjoint",
        memory_map_sorted_and_disjoint,
    ),
    ("usable_memory_present", usable_memory_present),
    ("initramfs_is_valid_cpio", initramfs_is_valid_cpio),
    ("release_file_matches_host", release_file_matches_host),
    ("symbols_name_kernel_main", symbols_name_kernel_main),
    ("backtrace_walks_callers", backtrace_walks_callers),
    ("breakpoint_trap_returns", breakpoint_trap_returns),
    ("clock_is_monotonic", clock_is_monotonic),
    ("cmdline_has_test_flag", cmdline_has_test_flag),
];

/// Runs every check, prints one line per check and the summary; returns the failure count.
pub fn run(info: &BootInfo) -> usize {
    println!("running boottest");
    let mut failed = 0;
    for (name, check) in CHECKS {
        match check(info) {
            Ok(()) => println!("  ok   {name}"),
            Err(why) => {
                failed += 1;
                println!("  FAIL {name}: {why}");
            }
        }
    }
    println!(
        "boottest: {} passed, {} failed",
        CHECKS.len() - failed,
        failed
    );
    failed
}

fn memory_map_sorted_and_disjoint(info: &BootInfo) -> Result<(), &'static str> {
    let regions = info.memory_map.regions();
    if regions.windows(2).all(|w| w[0].end() <= w[1].base) {
        Ok(())
    } else {
        Err("regions overlap or are out of order")
    }
}

fn usable_memory_present(info: &BootInfo) -> Result<(), &'static str> {
    let usable = info
        .memory_map
        .regions()
        .iter()
        .filter(|r| r.kind == MemoryKind::Usable);
    if usable
        .clone()
        .any(|r| r.base % 4096 != 0 || r.len % 4096 != 0)
    {
        return Err("a usable region is not page aligned");
    }
    if info.usable_memory() < 16 << 20 {
        return Err("less than 16 MiB usable");
    }
    Ok(())
}

fn initramfs_is_valid_cpio(info: &BootInfo) -> Result<(), &'static str> {
    let mut count = 0;
    for entry in cpio::entries(info.initramfs) {
        entry.map_err(|_| "malformed cpio entry")?;
        count += 1;
    }
    if count == 0 {
        return Err("initramfs is empty");
    }
    Ok(())
}

/// xtask packs `etc/wayos-release` containing `WayOS <version>`; the kernel's own version
/// must match, proving the initramfs bytes arrived intact from the host.
fn release_file_matches_host(info: &BootInfo) -> Result<(), &'static str> {
    let entry = cpio::find(info.initramfs, wayos_abi::harness::RELEASE_FILE)
        .map_err(|_| "initramfs unreadable")?
        .ok_or("etc/wayos-release missing")?;
    let text = core::str::from_utf8(entry.data).map_err(|_| "not UTF-8")?;
    let version = text
        .trim()
        .strip_prefix("WayOS ")
        .ok_or("no 'WayOS ' prefix")?;
    if version == crate::VERSION {
        Ok(())
    } else {
        Err("version differs from the kernel's")
    }
}

fn symbols_name_kernel_main(_: &BootInfo) -> Result<(), &'static str> {
    let addr = crate::kernel_main as *const () as usize;
    let sym = symbols::lookup(addr).ok_or("no symbol covers kernel_main")?;
    if sym.name != "kernel_main" || sym.addr as usize != addr {
        return Err("kernel_main resolves to another symbol");
    }
    if symbols::address_of("kernel_main") != Some(addr) {
        return Err("name lookup disagrees with address lookup");
    }
    Ok(())
}

#[inline(never)]
fn backtrace_walks_callers(_: &BootInfo) -> Result<(), &'static str> {
    // black_box keeps these calls from becoming tail calls, which would drop the caller's
    // frame from the chain in release builds.
    core::hint::black_box(backtrace_level_one())
}

#[inline(never)]
fn backtrace_level_one() -> Result<(), &'static str> {
    core::hint::black_box(backtrace_level_two())
}

#[inline(never)]
fn backtrace_level_two() -> Result<(), &'static str> {
    let mut frames = [0usize; 8];
    let n = backtrace::collect(arch::frame_pointer(), &mut frames);
    let want = ["backtrace_level_one", "backtrace_walks_callers"];
    let mut found = 0;
    for &ret in &frames[..n] {
        let Some(sym) = symbols::lookup(ret - 1) else {
            continue;
        };
        let name = rustc_demangle::demangle(sym.name);
        let mut buf = NameBuf::default();
        let _ = core::fmt::write(&mut buf, format_args!("{name:#}"));
        if found < want.len() && buf.as_str().ends_with(want[found]) {
            found += 1;
        }
    }
    if found == want.len() {
        Ok(())
    } else {
        Err("callers missing from the frame chain")
    }
}

/// A small stack buffer for formatting a demangled name.
struct NameBuf {
    buf: [u8; 160],
    len: usize,
}

impl Default for NameBuf {
    fn default() -> Self {
        Self {
            buf: [0; 160],
            len: 0,
        }
    }
}

impl NameBuf {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl core::fmt::Write for NameBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

fn breakpoint_trap_returns(_: &BootInfo) -> Result<(), &'static str> {
    let before = traps::breakpoints_seen();
    arch::breakpoint();
    arch::breakpoint();
    if traps::breakpoints_seen() == before + 2 {
        Ok(())
    } else {
        Err("breakpoint handler did not run exactly twice")
    }
}

fn clock_is_monotonic(_: &BootInfo) -> Result<(), &'static str> {
    let mut last = arch::uptime_ns();
    let first = last;
    for _ in 0..10_000 {
        let now = arch::uptime_ns();
        if now < last {
            return Err("uptime went backwards");
        }
        last = now;
    }
    if last > first {
        Ok(())
    } else {
        Err("uptime did not advance")
    }
}

fn cmdline_has_test_flag(info: &BootInfo) -> Result<(), &'static str> {
    if cmdline::flag(info.cmdline(), wayos_abi::harness::TEST_FLAG) {
        Ok(())
    } else {
        Err("wayos.test missing from the parsed command line")
    }
}

/// Kills the kernel on purpose: `fault` reads an unmapped address, `panic` panics.
pub fn crash(what: &str) {
    match what {
        "fault" => {
            println!(
                "boottest: reading unmapped address {:#x} on purpose",
                CRASH_ADDR
            );
            crash_by_fault();
        }
        "panic" => crash_by_panic(),
        other => println!("wayos.crash={other}: unknown (want fault or panic)"),
    }
}

/// Below the user/kernel split and never mapped by any loader.
const CRASH_ADDR: usize = 0xdead_0000;

#[inline(never)]
fn crash_by_fault() {
    // SAFETY: deliberately unsound: the address is unmapped and the read must trap, so the
    // harness can check the fault report. Nothing runs after it.
    let v = unsafe { (CRASH_ADDR as *const u64).read_volatile() };
    core::hint::black_box(v);
}

#[inline(never)]
fn crash_by_panic() {
    panic!("deliberate panic requested by wayos.crash=panic");
}
