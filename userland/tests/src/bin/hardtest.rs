//! `hardtest`: one unprivileged program attacking the kernel, which must stay up and
//! answer every attack with an error or by killing only the attacker.
//!
//! Each check is a regression test for a way a user program could crash, hang or wedge the
//! kernel (see `docs/security.md` once it exists, and the hardening issue): it does the
//! attack, usually in a forked child so a kill or a hang is contained and timed, and checks
//! both the answer (errno, signal, exit status) and that the system still works afterwards.
//! Checks are grouped by what they attack, one module each under `hardtest/`.
#![no_std]
#![no_main]

extern crate alloc;

#[path = "hardtest/corpus.rs"]
mod corpus;
#[path = "hardtest/memory.rs"]
mod memory;

use libway::suite::Suite;
use libway::Args;

libway::entry!(main);

fn main(_args: Args) -> i32 {
    let mut suite = Suite::new("hardtest");
    memory::run(&mut suite);
    corpus::run(&mut suite);
    suite.finish()
}
