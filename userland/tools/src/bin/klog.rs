//! `klog`: prints the kernel log ring (every kernel log line still held, oldest first) to
//! standard output. `dmesg` is the same program under its Linux name. Exits 0, or 1 with
//! a message on standard error if the read fails.
#![no_std]
#![no_main]

use libway::Args;

libway::entry!(main);

fn main(_args: Args) -> i32 {
    libway::klog::print_all("klog")
}
