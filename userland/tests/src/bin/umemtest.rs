//! `umemtest [MODULE|all]...`: memory tiers from a program's side (`docs/memory.md`).
//!
//! Modules: `topology` (the tiers the kernel found match what QEMU was given, from
//! `wayos_abi::harness::TIERS_KEY`; without the key, typed at the shell, only their
//! internal consistency), `placement` (mmap policy bits, `mem_advise`, `mem_policy`,
//! interleave, fork and spawn inherit the default), `fallback` (a far-policy mapping
//! larger than the far tier spills into near and is counted, without exhausting the
//! machine), `args` (every bad argument of the four syscalls gets its errno and changes
//! nothing; `memtier_set` needs the capability), `migrate` (the migration daemon moves
//! hot far pages up and cold near ones down, with data, CoW and sharing intact, and
//! leaves granted pages alone). No argument or `all` runs every module.
//!
//! Page counts come from `memtier_info(INFO_PROCS)` for this process, read before and after
//! touching a mapping: the process sets its own default policy to near first, so pages
//! it makes by the way (heap, stack) never land in the far tier, and far counts are exact.
#![no_std]
#![no_main]

extern crate alloc;

#[path = "umemtest/args.rs"]
mod args;
#[path = "umemtest/fallback.rs"]
mod fallback;
#[path = "umemtest/migrate.rs"]
mod migrate;
#[path = "umemtest/placement.rs"]
mod placement;
#[path = "umemtest/topology.rs"]
mod topology;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::memtier::{TierInfo, POLICY_NEAR};
use libway::abi::mman::PAGE_SIZE;
use libway::suite::{Check, Suite};
use libway::{memtier, process, Args};

libway::entry!(main);

type Module = fn(&mut Suite, &Machine);

const MODULES: &[(&str, Module)] = &[
    ("topology", topology::run),
    ("placement", placement::run),
    ("fallback", fallback::run),
    ("args", args::run),
    ("migrate", migrate_module),
];

/// The migration checks (`umemtest/migrate.rs`), which need nothing from [`Machine`].
fn migrate_module(suite: &mut Suite, _: &Machine) {
    migrate::run(suite);
}

/// What the modules know about the machine.
pub struct Machine {
    /// `memtier_info(INFO_TIERS)` at the start (empty if it failed).
    pub tiers: Vec<TierInfo>,
    /// This process's pid.
    pub pid: u64,
}

impl Machine {
    /// Two tiers: far memory exists.
    pub fn two_tiers(&self) -> bool {
        self.tiers.len() == 2
    }
}

fn main(args: Args) -> i32 {
    // `spawn_inherits_default_policy` runs this program to learn the default it starts with.
    if args.get(1) == Some("--policy-exit") {
        return memtier::policy().map_or(-1, |p| p as i32);
    }
    let wanted: Vec<&str> = args.iter().skip(1).filter(|w| *w != "all").collect();
    if let Some(bad) = wanted
        .iter()
        .find(|w| !MODULES.iter().any(|(n, _)| n == *w))
    {
        libway::eprint!("umemtest: no module {bad}; modules: all");
        for (name, _) in MODULES {
            libway::eprint!(" {name}");
        }
        libway::eprintln!();
        return 2;
    }
    let mut suite = Suite::new("umemtest");
    // Pages this process makes by the way go near, so far counts are this test's alone.
    if let Err(e) = memtier::set_policy(POLICY_NEAR) {
        libway::println!("  note mem_policy(near) failed: {e}");
    }
    let machine = Machine {
        tiers: memtier::tiers().unwrap_or_default(),
        pid: process::getpid().unwrap_or(0) as u64,
    };
    for (name, run) in MODULES {
        if wanted.is_empty() || wanted.contains(name) {
            run(&mut suite, &machine);
        }
    }
    suite.finish()
}

/// Writes one byte into each of `pages` pages at `addr` (faulting each in).
pub fn touch(addr: usize, pages: usize) {
    for i in 0..pages {
        let p = (addr + i * PAGE_SIZE) as *mut u8;
        // SAFETY: the caller mapped `pages` writable pages at `addr` and nothing else
        // refers to them.
        unsafe { p.write_volatile(i as u8 | 1) };
    }
}

/// This process's resident `[near, far]` pages.
pub fn resident(pid: u64) -> Result<[u64; 2], String> {
    memtier::placement_of(pid)
        .map(|p| [p.near_pages, p.far_pages])
        .map_err(|e| format!("memtier_info(INFO_PROCS): {e}"))
}

/// `[near, far]` growth of this process's resident pages while `f` runs.
pub fn growth(pid: u64, f: impl FnOnce() -> Check) -> Result<[u64; 2], String> {
    let before = resident(pid)?;
    f()?;
    let after = resident(pid)?;
    Ok([
        after[0].wrapping_sub(before[0]),
        after[1].wrapping_sub(before[1]),
    ])
}
