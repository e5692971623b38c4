//! `free [-b|-k|-m|-h]`: memory in use and free, as procps `free` shows it, from
//! `stats(KIND_MEM)`:
//!
//! ```text
//!                total        used        free      shared  buff/cache   available
//! Mem:          506880       60412      431248        2048       15220      443744
//! Swap:              0           0           0
//! ```
//!
//! `total` is every tier's physical memory, `free` what the frame allocator has free,
//! `shared` the tmpfs file data, `buff/cache` the buffer cache plus tmpfs data, `used`
//! the rest, `available` free plus the clean part of the buffer cache. Units: KiB (`-k`,
//! the default), bytes (`-b`), MiB (`-m`), or scaled with a suffix (`-h`). Exit status 0,
//! 1 if the kernel refused, 2 on a usage error.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use libway::stats;
use libway::{eprintln, println, Args};

libway::entry!(main);

#[derive(Clone, Copy)]
enum Unit {
    Bytes,
    Kib,
    Mib,
    Human,
}

fn show(v: u64, unit: Unit) -> String {
    match unit {
        Unit::Bytes => format!("{v}"),
        Unit::Kib => format!("{}", v >> 10),
        Unit::Mib => format!("{}", v >> 20),
        Unit::Human => {
            // procps style: one decimal below 10 of a unit, whole numbers above.
            let units = ["B", "Ki", "Mi", "Gi", "Ti"];
            let mut i = 0;
            while i + 1 < units.len() && v >> (10 * (i + 1)) > 0 {
                i += 1;
            }
            let tenths = ((u128::from(v) * 10) >> (10 * i)) as u64;
            if i == 0 {
                format!("{v}B")
            } else if tenths < 100 {
                format!("{}.{}{}", tenths / 10, tenths % 10, units[i])
            } else {
                format!("{}{}", tenths / 10, units[i])
            }
        }
    }
}

fn main(args: Args) -> i32 {
    let mut unit = Unit::Kib;
    for a in args.iter().skip(1) {
        unit = match a {
            "-b" | "--bytes" => Unit::Bytes,
            "-k" | "--kibi" => Unit::Kib,
            "-m" | "--mebi" => Unit::Mib,
            "-h" | "--human" => Unit::Human,
            "--help" => {
                println!("Usage: free [-b|-k|-m|-h]\nShow free and used memory (KiB by default; -b bytes, -m MiB, -h scaled).");
                return 0;
            }
            other => {
                eprintln!("free: unexpected argument '{other}'");
                eprintln!("Try 'free --help' for more information.");
                return 2;
            }
        };
    }
    let m = match stats::mem() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("free: stats: {e}");
            return 1;
        }
    };
    let cache = m.cache + m.tmpfs;
    let used = m.total.saturating_sub(m.free).saturating_sub(cache);
    let available = m.free + m.cache.saturating_sub(m.cache_dirty);
    println!(
        "{:>8}{:>12}{:>12}{:>12}{:>12}{:>12}{:>12}",
        "", "total", "used", "free", "shared", "buff/cache", "available"
    );
    let s = |v| show(v, unit);
    println!(
        "{:<8}{:>12}{:>12}{:>12}{:>12}{:>12}{:>12}",
        "Mem:",
        s(m.total),
        s(used),
        s(m.free),
        s(m.tmpfs),
        s(cache),
        s(available)
    );
    println!("{:<8}{:>12}{:>12}{:>12}", "Swap:", s(0), s(0), s(0));
    0
}
