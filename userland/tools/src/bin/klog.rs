//! `klog`: prints the kernel log ring (every kernel log line still held, oldest first) to
//! standard output. Exits 0, or 1 with a message on standard error if the read fails.
#![no_std]
#![no_main]

use libway::io::{write_all, STDOUT};
use libway::{eprintln, klog, Args};

libway::entry!(main);

fn main(_args: Args) -> i32 {
    let log = match klog::read_all() {
        Ok(log) => log,
        Err(e) => {
            eprintln!("klog: klog_read: {e}");
            return 1;
        }
    };
    match write_all(STDOUT, &log) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("klog: write: {e}");
            1
        }
    }
}
