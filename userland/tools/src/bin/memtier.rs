//! `memtier [tiers|procs|daemon|set <param> <value>|-h]`: memory tiers (`docs/memory.md`).
//!
//! Without operands (or `tiers`), one line per tier from `memtier_info(INFO_TIERS)`:
//!
//! ```text
//! TIER NODE   TOTAL    FREE    USED  LAT(ns)  BW(MB/s) COST(ns) FALLBACKS SOURCE
//! near    0   383M    350M     33M      100     20000        0         0 acpi
//! ```
//!
//! then the daemon's state. `procs`: per-process placement (`PID NEAR FAR POLICY`, pages).
//! `daemon`: the migration daemon's settings and counters. `set <param> <value>` changes
//! one setting (`enabled 0|1`, `period <ms>`, `budget <pages>`, `policy
//! near|far|interleave|auto`) and prints the old value; it needs the `memtier`
//! capability (`docs/security.md`). Exit status 0, 1 if the kernel refused, 2 on a usage
//! error.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use libway::abi::memtier::{
    policy_by_name, policy_name, DaemonInfo, TierInfo, SET_BUDGET_PAGES, SET_DEFAULT_POLICY,
    SET_ENABLED, SET_PERIOD_MS, SOURCE_ACPI, SOURCE_DEVICE_TREE, TIER_FAR,
};
use libway::errno::Errno;
use libway::{eprintln, memtier, println, Args};

libway::entry!(main);

const USAGE: &str = "Usage: memtier [tiers|procs|daemon|set PARAM VALUE|-h]\n\
Show the memory tiers (total, free, used, firmware latency and bandwidth, simulated\n\
access cost, fallbacks, where the description came from) and the migration daemon;\n\
`procs` shows each process's resident pages per tier and its default policy.\n\n  \
set enabled 0|1        stop or start the migration daemon\n  \
set period MS          milliseconds between daemon scans (10..60000)\n  \
set budget PAGES       pages moved per scan at most (1..65536)\n  \
set policy POLICY      system default policy: near, far, interleave or auto\n\
`set` needs the memtier capability.\n  \
-h, --help             show this help";

fn main(args: Args) -> i32 {
    let words: alloc::vec::Vec<&str> = args.iter().skip(1).collect();
    match words.as_slice() {
        [] | ["tiers"] => tiers().and_then(|_| daemon()),
        ["procs"] => procs(),
        ["daemon"] => daemon(),
        ["set", param, value] => return set(param, value),
        ["-h" | "--help"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("memtier: bad arguments");
            eprintln!("Try 'memtier -h' for more information.");
            return 2;
        }
    }
    .map_or_else(
        |(what, e)| {
            eprintln!("memtier: {what}: {e}");
            1
        },
        |_| 0,
    )
}

type Fallible = Result<(), (&'static str, Errno)>;

/// Pages as a size: `383M`, `512K`.
fn size(pages: u64) -> String {
    let kib = pages.saturating_mul(4);
    if kib >= 10 * 1024 {
        format!("{}M", kib / 1024)
    } else {
        format!("{kib}K")
    }
}

fn source(s: u32) -> &'static str {
    match s {
        SOURCE_ACPI => "acpi",
        SOURCE_DEVICE_TREE => "device-tree",
        _ => "none",
    }
}

fn tier_row(t: &TierInfo) -> String {
    format!(
        "{:<4} {:>4} {:>7} {:>7} {:>7} {:>8} {:>9} {:>8} {:>9} {}",
        if t.tier == TIER_FAR { "far" } else { "near" },
        t.node,
        size(t.total_pages),
        size(t.free_pages),
        size(t.total_pages.saturating_sub(t.free_pages)),
        t.read_latency_ns,
        t.bandwidth_mbps,
        t.access_cost_ns,
        t.fallbacks,
        source(t.source)
    )
}

fn tiers() -> Fallible {
    let tiers = memtier::tiers().map_err(|e| ("memtier_info", e))?;
    println!("TIER NODE   TOTAL    FREE    USED  LAT(ns)  BW(MB/s) COST(ns) FALLBACKS SOURCE");
    for t in &tiers {
        println!("{}", tier_row(t));
    }
    if tiers.len() < 2 {
        println!("one tier: the firmware describes no far memory");
    }
    Ok(())
}

fn procs() -> Fallible {
    let procs = memtier::procs().map_err(|e| ("memtier_info", e))?;
    println!("  PID     NEAR      FAR POLICY");
    for p in &procs {
        println!(
            "{:>5} {:>8} {:>8} {}",
            p.pid,
            p.near_pages,
            p.far_pages,
            policy_name(p.policy)
        );
    }
    Ok(())
}

fn daemon_line(d: &DaemonInfo) -> String {
    format!(
        "daemon: {}, period {} ms, budget {} pages, default policy {}; scans {}, promoted {}, \
         demoted {}, pinned skipped {}, far accesses {}, busy {} us",
        if d.enabled != 0 { "on" } else { "off" },
        d.period_ms,
        d.budget_pages,
        policy_name(d.default_policy),
        d.scans,
        d.promoted,
        d.demoted,
        d.skipped_pinned,
        d.far_accesses,
        d.busy_ns / 1000
    )
}

fn daemon() -> Fallible {
    let d = memtier::daemon().map_err(|e| ("memtier_info", e))?;
    println!("{}", daemon_line(&d));
    Ok(())
}

fn set(param: &str, value: &str) -> i32 {
    let (id, v) = match param {
        "enabled" => (SET_ENABLED, value.parse().ok()),
        "period" => (SET_PERIOD_MS, value.parse().ok()),
        "budget" => (SET_BUDGET_PAGES, value.parse().ok()),
        "policy" => (SET_DEFAULT_POLICY, policy_by_name(value)),
        _ => {
            eprintln!("memtier: unknown setting '{param}' (enabled, period, budget, policy)");
            return 2;
        }
    };
    let Some(v) = v else {
        eprintln!("memtier: bad value '{value}' for {param}");
        return 2;
    };
    match memtier::set(id, v) {
        Ok(old) if id == SET_DEFAULT_POLICY => {
            println!("policy: {} -> {value}", policy_name(old));
            0
        }
        Ok(old) => {
            println!("{param}: {old} -> {v}");
            0
        }
        Err(e) if e == Errno(libway::abi::errno::EPERM) => {
            eprintln!("memtier: set {param}: permission denied (needs the memtier capability)");
            1
        }
        Err(e) => {
            eprintln!("memtier: set {param} {value}: {e}");
            1
        }
    }
}
