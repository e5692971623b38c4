//! `diagdump [-h]`: what a person needs when something hangs, from the `stats` kinds
//! `KIND_PROCS`, `KIND_THREADS`, `KIND_HANDLES`, `KIND_LOCKS` and `KIND_CPUS`: processes
//! (state, threads, handles, ports and messages queued in them, descriptors, memory),
//! every thread with its state and what a blocked one waits for, every open handle, the
//! named kernel locks (holder, acquisitions, contention) and each CPU's run queue:
//!
//! ```text
//! == processes
//!   PID  PPID S THR HND PORTS QUEUED FDS   RSS_KB   VSZ_KB CAPS     NAME
//!     1     0 S   1   3     1      0   3      412     9220 00000fff init
//! == threads
//!   TID   PID CPU CL S WAIT
//!     7     1   0  2 S wait
//! == handles
//!   PID HANDLE KIND       OBJECT RIGHTS
//! == locks
//!   NAME            HOLDER          ACQUIRED  CONTENDED
//! == run queues
//!   CPU CURRENT READY  SWITCHES INTERRUPTS BUSY_TICKS IDLE_TICKS
//! ```
//!
//! The same report (from the kernel itself, without taking locks) comes from the serial
//! line's magic key: Ctrl-] then `d`. Exit status 0, 1 if the kernel refused, 2 on a
//! usage error.
#![no_std]
#![no_main]

extern crate alloc;

use libway::stats::{self, text};
use libway::{eprintln, println, Args};

libway::entry!(main);

fn main(args: Args) -> i32 {
    if let Some(a) = args.iter().nth(1) {
        if a == "-h" || a == "--help" {
            println!(
                "Usage: diagdump [-h]\nShow processes, threads (and what blocked ones wait for),\n\
                 handles, kernel locks and run queues."
            );
            return 0;
        }
        eprintln!("diagdump: unexpected argument '{a}'");
        return 2;
    }
    let (procs, threads, handles, locks, cpus) = match (
        stats::procs(),
        stats::threads(),
        stats::handles(),
        stats::locks(),
        stats::cpus(),
    ) {
        (Ok(p), Ok(t), Ok(h), Ok(l), Ok(c)) => (p, t, h, l, c),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), ..) | (.., Err(e), _) | (.., Err(e)) => {
            eprintln!("diagdump: stats: {e}");
            return 1;
        }
    };
    println!("== processes");
    println!("  PID  PPID S THR HND PORTS QUEUED FDS   RSS_KB   VSZ_KB CAPS     NAME");
    for p in &procs {
        println!(
            "{:>5} {:>5} {} {:>3} {:>3} {:>5} {:>6} {:>3} {:>8} {:>8} {:08x} {}",
            p.pid,
            p.ppid,
            p.state as char,
            p.threads,
            p.handles,
            p.ports,
            p.queued,
            p.fds,
            p.rss >> 10,
            p.vsize >> 10,
            p.caps,
            text(&p.name)
        );
    }
    println!("== threads");
    println!("  TID   PID CPU CL S WAIT");
    for t in &threads {
        println!(
            "{:>5} {:>5} {:>3} {:>2} {} {}",
            t.tid,
            t.pid,
            t.cpu,
            t.class,
            t.state as char,
            text(&t.wait)
        );
    }
    println!("== handles");
    println!("  PID HANDLE KIND       OBJECT RIGHTS");
    for h in &handles {
        println!(
            "{:>5} {:>6x} {:<10} {:>6} {:x}",
            h.pid,
            h.handle,
            text(&h.kind),
            h.object,
            h.rights
        );
    }
    println!("== locks");
    println!("  NAME            HOLDER            ACQUIRED  CONTENDED");
    for l in &locks {
        let holder = if l.holder_cpu == u32::MAX {
            alloc::string::String::from("free")
        } else {
            alloc::format!("cpu{} tid {}", l.holder_cpu, l.holder_tid)
        };
        println!(
            "  {:<15} {:<15} {:>10} {:>10}",
            text(&l.name),
            holder,
            l.acquired,
            l.contended
        );
    }
    println!("== run queues");
    println!("  CPU CURRENT READY  SWITCHES INTERRUPTS BUSY_TICKS IDLE_TICKS");
    for c in &cpus {
        println!(
            "{:>5} {:>7} {:>5} {:>9} {:>10} {:>10} {:>10}",
            c.cpu, c.current, c.ready, c.switches, c.interrupts, c.busy_ticks, c.idle_ticks
        );
    }
    0
}
