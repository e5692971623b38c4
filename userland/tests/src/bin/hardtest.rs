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

#[path = "hardtest/arch.rs"]
mod arch;
#[path = "hardtest/corpus.rs"]
mod corpus;
#[path = "hardtest/devfs.rs"]
mod devfs;
#[path = "hardtest/ipc.rs"]
mod ipc;
#[path = "hardtest/limits.rs"]
mod limits;
#[path = "hardtest/memory.rs"]
mod memory;
#[path = "hardtest/vm.rs"]
mod vm;
#[path = "hardtest/wx.rs"]
mod wx;

use libway::suite::Suite;
use libway::Args;

libway::entry!(main);

/// One module's checks.
type Module = fn(&mut Suite);

/// The modules, by name: `hardtest ipc vm` runs only those (all when none is named).
const MODULES: &[(&str, Module)] = &[
    ("memory", memory::run),
    ("arch", arch::run),
    ("wx", wx::run),
    ("vm", vm::run),
    ("ipc", ipc::run),
    ("limits", limits::run),
    ("corpus", corpus::run),
    ("devfs", devfs::run),
];

fn main(args: Args) -> i32 {
    let wanted: alloc::vec::Vec<&str> = args.iter().skip(1).collect();
    if let Some(bad) = wanted
        .iter()
        .find(|w| !MODULES.iter().any(|(n, _)| n == *w))
    {
        libway::eprint!("hardtest: no module {bad}; modules:");
        for (name, _) in MODULES {
            libway::eprint!(" {name}");
        }
        libway::eprintln!();
        return 2;
    }
    let mut suite = Suite::new("hardtest");
    for (name, run) in MODULES {
        if wanted.is_empty() || wanted.contains(name) {
            run(&mut suite);
        }
    }
    suite.finish()
}
