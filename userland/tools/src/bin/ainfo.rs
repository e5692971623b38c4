//! `ainfo [-h]`: the AI subsystem's state from `ai_info` — the system's totals, then one
//! line per process with AI objects charged to it:
//!
//! ```text
//! tensors 3 (12288 bytes; 3 pages near, 0 far; 17 created)  graphs 0  jobs 0  accelerators 0
//!   PID  TENSORS       BYTES  GRAPHS  JOBS
//!    12        3       12288       0     0
//! ```
//!
//! Exit status 0, 1 if the kernel refused, 2 on a usage error.
#![no_std]
#![no_main]

extern crate alloc;

use libway::ai;
use libway::{eprintln, println, Args};

libway::entry!(main);

const USAGE: &str = "Usage: ainfo [-h]\n\
Show the AI subsystem: tensors alive in the system (their bytes, pages per memory tier,\n\
how many were ever created), graphs, jobs and accelerators, then per process the tensors,\n\
tensor bytes (whole pages), graphs and jobs charged to it.\n\n  \
-h, --help   show this help";

fn main(args: Args) -> i32 {
    if let Some(a) = args.get(1) {
        match a {
            "-h" | "--help" => {
                println!("{USAGE}");
                return 0;
            }
            other => {
                eprintln!("ainfo: unexpected argument '{other}'");
                eprintln!("Try 'ainfo -h' for more information.");
                return 2;
            }
        }
    }
    let t = match ai::totals() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ainfo: ai_info: {e}");
            return 1;
        }
    };
    let usage = match ai::usage() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("ainfo: ai_info: {e}");
            return 1;
        }
    };
    println!(
        "tensors {} ({} bytes; {} pages near, {} far; {} created)  graphs {}  jobs {}  accelerators {}",
        t.tensors,
        t.tensor_bytes,
        t.near_pages,
        t.far_pages,
        t.tensors_created,
        t.graphs,
        t.jobs,
        t.accels
    );
    println!(
        "{:>5} {:>8} {:>11} {:>7} {:>5}",
        "PID", "TENSORS", "BYTES", "GRAPHS", "JOBS"
    );
    for u in &usage {
        println!(
            "{:>5} {:>8} {:>11} {:>7} {:>5}",
            u.pid, u.tensors, u.tensor_bytes, u.graphs, u.jobs
        );
    }
    0
}
