//! Links the kernel with its per-architecture linker script from `targets/`, and records
//! what `version` reports (`stats(KIND_VERSION)`): the tree's `git describe`, a build id
//! hashed from the build's inputs, the rustc version and the profile.

include!("../targets/link.rs");

use std::process::Command;

/// A command's trimmed standard output, `None` if it failed.
fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// 64-bit FNV-1a, continued from `h`.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn main() {
    link_wayos("../targets", "kernel", false);

    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let git = |args: &[&str]| {
        let mut all = vec!["-C", dir.as_str()];
        all.extend_from_slice(args);
        output("git", &all)
    };
    let commit = git(&["describe", "--always", "--dirty"]).unwrap_or_else(|| "unknown".into());
    let head = git(&["rev-parse", "HEAD"]).unwrap_or_default();
    // What is changed against HEAD (the dirty part of the inputs), kernel sources only.
    let diff = git(&["diff", "HEAD", "--", "."]).unwrap_or_default();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = output(&rustc, &["--version"]).unwrap_or_else(|| "rustc ?".into());
    // "rustc 1.xx.y (hash date)" -> "rustc 1.xx.y".
    let rustc_short = rustc_version
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".into());
    let target = std::env::var("TARGET").unwrap_or_default();

    let mut h = 0xcbf2_9ce4_8422_2325;
    for part in [&head, &diff, &rustc_version, &profile, &target, &commit] {
        h = fnv(h, part.as_bytes());
        h = fnv(h, &[0]);
    }
    println!("cargo:rustc-env=WAYOS_COMMIT={commit}");
    println!("cargo:rustc-env=WAYOS_BUILD_ID={h:016x}");
    println!("cargo:rustc-env=WAYOS_BUILD={profile} {rustc_short}");

    // Run again when the sources or the checked-out commit change (a `rerun-if-changed`
    // line turns off cargo's default of "any file in the package").
    for d in ["src", "abi/src", "kcore/src", "build.rs"] {
        println!("cargo:rerun-if-changed={dir}/{d}");
    }
    for p in ["HEAD", "index", "refs", "packed-refs"] {
        if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", p]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-env-changed=RUSTC");
}
