//! `version [-h]`: what kernel runs (`stats(KIND_VERSION)`):
//!
//! ```text
//! kernel:   WayOS 0.1.0
//! arch:     x86_64
//! commit:   4b18bcd-dirty
//! build id: 3f0c2a9e81d4b7c2
//! build:    debug rustc 1.89.0
//! loader:   Limine 8.2.0
//! ```
//!
//! Exit status 0, 1 if the kernel refused, 2 on a usage error.
#![no_std]
#![no_main]

use libway::stats::{self, text};
use libway::{eprintln, println, Args};

libway::entry!(main);

fn main(args: Args) -> i32 {
    if let Some(a) = args.iter().nth(1) {
        if a == "-h" || a == "--help" {
            println!("Usage: version [-h]\nShow the kernel's version, build and loader.");
            return 0;
        }
        eprintln!("version: unexpected argument '{a}'");
        return 2;
    }
    let v = match stats::version() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("version: stats: {e}");
            return 1;
        }
    };
    println!("kernel:   WayOS {}", text(&v.version));
    println!("arch:     {}", text(&v.arch));
    println!("commit:   {}", text(&v.commit));
    println!("build id: {}", text(&v.build_id));
    println!("build:    {}", text(&v.build));
    println!("loader:   {}", text(&v.loader));
    0
}
