//! `lsaccel [-h]`: the inference accelerators (`ai_info(INFO_ACCELS)`,
//! `wayos_abi::ai::AccelInfo`), one line each under a header — the same table as
//! `ainfo accel`:
//!
//! ```text
//! ACCEL  TID  ISA       QUEUE       JOBS     BUSY_MS  RUNNING
//!     0    5  avx2+fma      0         12          40  -
//!     1    6  avx2+fma      0          9          31  job 14 (pid 23)
//! ```
//!
//! QUEUE is the shared queue's depth (every accelerator takes from it). Exit status 0, 1
//! if the kernel refused, 2 on a usage error.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;

use libway::infer;
use libway::{eprintln, println, Args};

libway::entry!(main);

const USAGE: &str = "Usage: lsaccel [-h]\n\
Show the inference accelerators (one worker thread per CPU): worker thread id, the vector\n\
extension its math uses, jobs waiting in the shared queue, jobs done, time spent running\n\
nodes and the job it runs now.\n\n  \
-h, --help   show this help";

fn main(args: Args) -> i32 {
    match args.get(1) {
        None => {}
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return 0;
        }
        Some(other) => {
            eprintln!("lsaccel: unknown argument '{other}'\n{USAGE}");
            return 2;
        }
    }
    match print_accels() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lsaccel: ai_info: {e}");
            1
        }
    }
}

/// Prints the accelerator table (shared with `ainfo accel`).
pub fn print_accels() -> Result<(), libway::Errno> {
    let accels = infer::accels()?;
    println!("ACCEL  TID  ISA       QUEUE       JOBS     BUSY_MS  RUNNING");
    for a in &accels {
        let running = if a.current_job == 0 {
            alloc::string::String::from("-")
        } else {
            format!("job {} (pid {})", a.current_job, a.current_pid)
        };
        println!(
            "{:5} {:4}  {:<8} {:6} {:10} {:11}  {}",
            a.index,
            a.tid,
            infer::name_of(&a.isa),
            a.queue_depth,
            a.jobs_done,
            a.busy_ns / 1_000_000,
            running
        );
    }
    Ok(())
}
