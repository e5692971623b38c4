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

/// The user-space crates (runtime, programs, shell, coreutils).
const USERLAND: &[&str] = &["libway", "wayos-programs", "waysh", "coreutils"];

/// Bare-metal crates and the targets each is linted for.
const CROSS: [(&[&str], &str); 5] = [
    (&["wayos-kernel"], "x86_64-unknown-none"),
    (&["wayos-kernel"], "aarch64-unknown-none"),
    (&["wayboot"], "x86_64-unknown-uefi"),
    (USERLAND, "x86_64-unknown-none"),
    (USERLAND, "aarch64-unknown-none"),
];

pub fn run() -> Result<ExitCode> {
    let mut runs: Vec<Vec<&str>> = vec![
        vec!["fmt", "--all", "--", "--check"],
        vec![
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
    ];
    for (packages, target) in CROSS {
        let mut args = vec!["clippy"];
        for p in packages {
            args.extend(["-p", p]);
        }
        args.extend(["--target", target, "--", "-D", "warnings"]);
        runs.push(args);
    }
    let mut failed = 0;
    for args in &runs {
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
