//! `cargo xtask lint`: rustfmt and clippy (`-D warnings`) for every crate on every target
//! it builds for: host crates with their tests, the kernel and the tensor math for both
//! architectures, wayboot for UEFI.

use std::process::{Command, ExitCode};

use crate::{artifacts, userland, Result};

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

/// Bare-metal crates and the targets each is linted for; the user-space crates (the runtime
/// and every package of programs) come from `userland::PACKAGES`.
fn cross() -> Vec<(Vec<&'static str>, &'static str)> {
    let userland: Vec<&str> = std::iter::once("libway")
        .chain(userland::PACKAGES.iter().map(|(package, _)| *package))
        .collect();
    vec![
        (vec!["wayos-kernel"], "x86_64-unknown-none"),
        (vec!["wayos-kernel"], "aarch64-unknown-none"),
        // The tensor math's SIMD modules build only for their own architecture.
        (vec!["wayos-aimath"], "x86_64-unknown-none"),
        (vec!["wayos-aimath"], "aarch64-unknown-none"),
        (vec!["wayboot"], "x86_64-unknown-uefi"),
        (userland.clone(), "x86_64-unknown-none"),
        (userland, "aarch64-unknown-none"),
    ]
}

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
            // The suites are no_std programs; built for the host beside the host tools
            // they would get `wayos-aimath/std` (feature unification with aivectors) and
            // a second panic handler. They are linted on both bare-metal targets below.
            "--exclude",
            "wayos-tests",
            // netd likewise: beside the host tools smoltcp's `byteorder` gets `std`.
            "--exclude",
            "netd-server",
            "--all-targets",
            "--features",
            "wayos-kcore/alloc",
            "--",
            "-D",
            "warnings",
        ],
    ];
    for (packages, target) in cross() {
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
