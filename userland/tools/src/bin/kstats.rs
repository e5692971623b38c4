//! `kstats [-a] [-h]`: the kernel's counters since boot (`stats` kinds `KIND_KERNEL`,
//! `KIND_SYSCALLS`, `KIND_IRQS`): uptime, syscalls, page faults, context switches, IPC
//! messages, interrupts, heap and physical memory; then the calls made of each syscall
//! number (`-a`: every number, also those never called) and the interrupts per source:
//!
//! ```text
//! syscalls by number:
//!     2 getpid                  118
//! interrupts by source:
//!   timer                32    5012
//! ```
//!
//! Exit status 0, 1 if the kernel refused, 2 on a usage error.
#![no_std]
#![no_main]

use libway::abi::sys;
use libway::stats::{self, text};
use libway::{eprintln, println, Args};

libway::entry!(main);

const USAGE: &str = "Usage: kstats [-a] [-h]\n\
Show the kernel's counters since boot, the calls made of each syscall and the\n\
interrupts taken per source.\n\n  \
-a           list every syscall number, also those never called\n  \
-h, --help   show this help";

fn main(args: Args) -> i32 {
    let mut all = false;
    for a in args.iter().skip(1) {
        match a {
            "-h" | "--help" => {
                println!("{USAGE}");
                return 0;
            }
            "-a" => all = true,
            other => {
                eprintln!("kstats: unexpected argument '{other}'");
                eprintln!("Try 'kstats -h' for more information.");
                return 2;
            }
        }
    }
    let (k, calls, irqs) = match (stats::kernel(), stats::syscalls(), stats::irqs()) {
        (Ok(k), Ok(c), Ok(i)) => (k, c, i),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("kstats: stats: {e}");
            return 1;
        }
    };
    println!(
        "uptime:           {}.{:03} s",
        k.uptime_ns / 1_000_000_000,
        k.uptime_ns / 1_000_000 % 1000
    );
    println!("cpus:             {}", k.cpus);
    println!("processes:        {}", k.processes);
    println!("threads:          {}", k.threads);
    println!("syscalls:         {}", k.syscalls);
    println!(
        "page faults:      {} ({} fatal)",
        k.page_faults, k.page_faults_fatal
    );
    println!("context switches: {}", k.context_switches);
    println!("ipc messages:     {}", k.ipc_messages);
    println!("interrupts:       {}", k.interrupts);
    println!(
        "heap:             {} KiB used of {} KiB",
        k.heap_used >> 10,
        k.heap_size >> 10
    );
    println!(
        "memory:           {} KiB free of {} KiB",
        k.mem_free >> 10,
        k.mem_total >> 10
    );
    println!("syscalls by number:");
    for (num, &count) in calls.iter().enumerate() {
        let name = sys::name(num);
        if count == 0 && !(all && name.is_some()) {
            continue;
        }
        println!("  {num:>4} {:<22} {count}", name.unwrap_or("?"));
    }
    println!("interrupts by source:");
    for i in &irqs {
        println!("  {:<16} {:>4} {:>10}", text(&i.name), i.irq, i.count);
    }
    0
}
