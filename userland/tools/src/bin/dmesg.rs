//! `dmesg`: the `klog` program under its Linux name (both are `libway::klog::print_all`):
//! the kernel log ring, oldest line first, on standard output.
#![no_std]
#![no_main]

use libway::Args;

libway::entry!(main);

fn main(_args: Args) -> i32 {
    libway::klog::print_all("dmesg")
}
