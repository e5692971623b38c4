//! `caps [PID]...`: prints capability sets by name (`docs/security.md`).
//!
//! Without operands, the caller's own set (`cap_get`), one line:
//! `spawn klog mount disk` (the shell's user set), or `-` for none. With PIDs, one line per process
//! from `proc_list`: `<pid> <names>`. Exits 0, or 1 with a message on standard error
//! (a PID that is not a number or names no process).
#![no_std]
#![no_main]

extern crate alloc;

use libway::process::proc_list;
use libway::{caps, eprintln, println, Args};

libway::entry!(main);

fn main(args: Args) -> i32 {
    let pids: alloc::vec::Vec<&str> = args.iter().skip(1).collect();
    if pids.is_empty() {
        return match caps::get() {
            Ok(set) => {
                println!("{}", caps::names(set, " "));
                0
            }
            Err(e) => {
                eprintln!("caps: cap_get: {e}");
                1
            }
        };
    }
    let list = match proc_list() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("caps: cannot list processes: {e}");
            return 1;
        }
    };
    let mut status = 0;
    for arg in pids {
        match arg
            .parse::<u64>()
            .ok()
            .and_then(|pid| list.iter().find(|p| p.pid == pid))
        {
            Some(p) => println!("{} {}", p.pid, caps::names(p.caps, " ")),
            None => {
                eprintln!("caps: {arg}: no such process");
                status = 1;
            }
        }
    }
    status
}
