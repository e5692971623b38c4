//! `cargo xtask lint`: rustfmt and clippy (`-D warnings`) for every crate on every target
//! it builds for: host crates with their tests, the kernel for both architectures, wayboot
//! for UEFI.

use std::process::{Command, ExitCode};

use crate::{artifacts, Result};

fn cargo(args: &[&str]) -> Result<bool> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("==> cargo {}", args.join(" "));
    Command::new(cargo)
        .current_dir(artifacts::root())
        .args(args)
        .status()
        .map(|s| s.success())
        .map_err(|e| format!("cannot run cargo: {e}"))
}

pub fn run() -> Result<ExitCode> {
    let runs: [&[&str]; 5] = [
        &["fmt", "--all", "--", "--check"],
        &[
            "clippy",
            "--workspace",
            "--exclude",
            "wayos-kernel",
            "--exclude",
            "wayboot",
            "--all-targets",
            "--features",
            "wayos-kcore/alloc",
            "--",
            "-D",
            "warnings",
        ],
        &[
            "clippy",
            "-p",
            "wayos-kernel",
            "--target",
            "x86_64-unknown-none",
            "--",
            "-D",
            "warnings",
        ],
        &[
            "clippy",
            "-p",
            "wayos-kernel",
            "--target",
            "aarch64-unknown-none",
            "--",
            "-D",
            "warnings",
        ],
        &[
            "clippy",
            "-p",
            "wayboot",
            "--target",
            "x86_64-unknown-uefi",
            "--",
            "-D",
            "warnings",
        ],
    ];
    let mut failed = 0;
    for args in runs {
        if !cargo(args)? {
            failed += 1;
        }
    }
    if failed == 0 {
        eprintln!("lint: clean");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("lint: {failed} of {} checks failed", runs.len());
        Ok(ExitCode::FAILURE)
    }
}
