//! `smpinfo [-h]`: one line per online CPU with the kernel's counters (`smp_info`,
//! `wayos_abi::smp::CpuInfo`), under a header:
//!
//! ```text
//! CPU        HWID STATE      TICKS       BUSY  BUSY%   SWITCHES     IPIS SHOOTDOWNS MIGRATIONS READY
//!   0         0x0 busy       12345       2345  19.0%      40210       12          3         17     0
//! ```
//!
//! BUSY% is busy ticks over ticks, to a tenth of a percent. Exit status 0, 1 if the
//! kernel refused, 2 on a usage error.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use libway::abi::smp::{CpuInfo, CPU_BUSY, CPU_IDLE};
use libway::smp;
use libway::{eprintln, println, Args};

libway::entry!(main);

const USAGE: &str = "Usage: smpinfo [-h]\n\
Show every online CPU: kernel index, hardware id (APIC id / MPIDR affinity), whether it\n\
runs a thread, timer ticks, ticks spent busy and their share, context switches, IPIs\n\
received, TLB shootdowns served, threads migrated to it and threads in its run queue.\n\n  \
-h, --help   show this help";

fn main(args: Args) -> i32 {
    if let Some(a) = args.get(1) {
        match a {
            "-h" | "--help" => {
                println!("{USAGE}");
                return 0;
            }
            other => {
                eprintln!("smpinfo: unexpected argument '{other}'");
                eprintln!("Try 'smpinfo -h' for more information.");
                return 2;
            }
        }
    }
    let cpus = match smp::smp_info() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smpinfo: smp_info: {e}");
            return 1;
        }
    };
    println!("{}", header());
    for c in &cpus {
        println!("{}", row(c));
    }
    0
}

fn header() -> String {
    format!(
        "{:>3} {:>11} {:<5} {:>10} {:>10} {:>6} {:>10} {:>8} {:>10} {:>10} {:>5}",
        "CPU",
        "HWID",
        "STATE",
        "TICKS",
        "BUSY",
        "BUSY%",
        "SWITCHES",
        "IPIS",
        "SHOOTDOWNS",
        "MIGRATIONS",
        "READY"
    )
}

fn row(c: &CpuInfo) -> String {
    let state = match c.state {
        CPU_BUSY => "busy",
        CPU_IDLE => "idle",
        _ => "?",
    };
    // Tenths of a percent, without floating point.
    let permille = (c.busy_ticks.min(c.ticks) * 1000)
        .checked_div(c.ticks)
        .unwrap_or(0);
    let pct = format!("{}.{}%", permille / 10, permille % 10);
    format!(
        "{:>3} {:>11} {:<5} {:>10} {:>10} {:>6} {:>10} {:>8} {:>10} {:>10} {:>5}",
        c.id,
        format!("{:#x}", c.hw_id),
        state,
        c.ticks,
        c.busy_ticks,
        pct,
        c.switches,
        c.ipis,
        c.shootdowns,
        c.migrations,
        c.ready
    )
}
