//! Builds the user programs for one architecture and hands their ELF images to the
//! initramfs, each as `bin/<name>`.
//!
//! The programs are the `[[bin]]` targets of the packages in [`PACKAGES`] (init, the
//! servers, the tools, the suites, the shell and the coreutils), read from their manifests
//! so a new program in one of them needs no change here; a new package is one line in
//! [`PACKAGES`]. They build for the same `*-unknown-none` target as the kernel. The packed
//! copies are stripped of debug info with the toolchain's `llvm-strip` (the pinned
//! llvm-tools component) when it is there; the unstripped ELFs stay under `target/` for GDB.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{artifacts, Arch, Result};

/// Every package whose `[[bin]]`s go into `/bin`: (package name, manifest relative to the
/// workspace root).
pub const PACKAGES: &[(&str, &str)] = &[
    ("wayos-init", "userland/init/Cargo.toml"),
    ("console-server", "userland/servers/console/Cargo.toml"),
    ("aid-server", "userland/servers/aid/Cargo.toml"),
    ("netd-server", "userland/servers/netd/Cargo.toml"),
    ("wayos-tools", "userland/tools/Cargo.toml"),
    ("wayos-tests", "userland/tests/Cargo.toml"),
    ("waysh", "userland/waysh/Cargo.toml"),
    ("coreutils", "userland/coreutils/Cargo.toml"),
    ("netcmds", "userland/netcmds/Cargo.toml"),
];

/// Builds every program for `arch` and returns `("bin/<name>", ELF bytes)` pairs.
pub fn build(arch: Arch, release: bool) -> Result<Vec<(String, Vec<u8>)>> {
    let root = artifacts::root();
    let target = arch.kernel_target();
    eprintln!("==> building the {} user programs", arch.name());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root).arg("build");
    for (package, _) in PACKAGES {
        cmd.args(["--package", package]);
    }
    cmd.args(["--target", target]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the user programs for {target} failed"));
    }

    let names = all_bin_names(&root)?;
    let dir = artifacts::target_root()
        .join(target)
        .join(if release { "release" } else { "debug" });
    let strip = llvm_strip(&root);
    if strip.is_none() {
        eprintln!("    (llvm-strip not found: packing the programs with their debug info)");
    }
    let stripped_dir = dir.join("stripped");
    fs::create_dir_all(&stripped_dir).map_err(|e| format!("{}: {e}", stripped_dir.display()))?;
    let mut programs = Vec::new();
    for name in names {
        let elf = dir.join(&name);
        let bytes = match &strip {
            Some(tool) => stripped(tool, &elf, &stripped_dir.join(&name))?,
            None => fs::read(&elf).map_err(|e| format!("{}: {e}", elf.display()))?,
        };
        programs.push((format!("bin/{name}"), bytes));
    }
    Ok(programs)
}

/// The unstripped ELF of every program, for debuggers (`add-symbol-file`).
pub fn elf_paths(arch: Arch, release: bool) -> Result<Vec<std::path::PathBuf>> {
    let root = artifacts::root();
    let dir = artifacts::target_root()
        .join(arch.kernel_target())
        .join(if release { "release" } else { "debug" });
    Ok(all_bin_names(&root)?
        .into_iter()
        .map(|n| dir.join(n))
        .collect())
}

/// The `[[bin]]` names of every package in [`PACKAGES`]; a name twice is an error (one
/// would overwrite the other in `/bin`).
pub(crate) fn all_bin_names(root: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for (_, rel) in PACKAGES {
        let manifest = root.join(rel);
        let text =
            fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
        let found = bin_names(&text)?;
        if found.is_empty() {
            return Err(format!("{}: no [[bin]] targets", manifest.display()));
        }
        for name in found {
            if names.contains(&name) {
                return Err(format!(
                    "{}: program {name} is built twice",
                    manifest.display()
                ));
            }
            names.push(name);
        }
    }
    Ok(names)
}

/// The `name` of every `[[bin]]` table in a Cargo manifest, in order.
fn bin_names(manifest: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
            continue;
        }
        let Some(value) = line
            .strip_prefix("name")
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix('='))
        else {
            continue;
        };
        if in_bin {
            let name = value.trim().trim_matches('"');
            if name.is_empty() || name.contains(['/', '\\', '"']) {
                return Err(format!("bad bin name {value:?}"));
            }
            names.push(name.to_string());
            in_bin = false;
        }
    }
    Ok(names)
}

/// The toolchain's `llvm-strip`, from the llvm-tools component.
fn llvm_strip(root: &Path) -> Option<PathBuf> {
    let rustc = |args: &[&str]| -> Option<String> {
        let out = Command::new("rustc")
            .current_dir(root)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let sysroot = rustc(&["--print", "sysroot"])?;
    let version = rustc(&["-vV"])?;
    let host = version.lines().find_map(|l| l.strip_prefix("host: "))?;
    let tool = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(host.trim())
        .join("bin/llvm-strip");
    tool.is_file().then_some(tool)
}

/// Writes `elf` without debug sections to `out` and returns the result.
fn stripped(tool: &Path, elf: &Path, out: &Path) -> Result<Vec<u8>> {
    let status = Command::new(tool)
        .arg("--strip-debug")
        .arg("-o")
        .arg(out)
        .arg(elf)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", tool.display()))?;
    if !status.success() {
        return Err(format!("{} failed on {}", tool.display(), elf.display()));
    }
    fs::read(out).map_err(|e| format!("{}: {e}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bin_names_only_in_bin_tables() {
        let manifest = "[package]\nname = \"wayos-programs\"\n\n[[bin]]\nname = \"init\"\n\
                        path = \"src/bin/init.rs\"\n\n[[bin]]\npath = \"x.rs\"\nname=\"hello\"\n\
                        [dependencies]\nname = \"not-a-bin\"\n";
        assert_eq!(bin_names(manifest).unwrap(), ["init", "hello"]);
    }

    #[test]
    fn rejects_a_bin_name_with_a_path() {
        assert!(bin_names("[[bin]]\nname = \"../evil\"\n").is_err());
    }

    #[test]
    fn the_shell_is_packed_too() {
        let names = all_bin_names(&artifacts::root()).unwrap();
        assert!(names.iter().any(|n| n == "waysh"), "{names:?}");
        assert!(names.iter().any(|n| n == "init"), "{names:?}");
        for util in ["ls", "cat", "wc", "yes", "head", "utiltest"] {
            assert!(
                names.iter().any(|n| n == util),
                "{util} missing from {names:?}"
            );
        }
    }

    #[test]
    fn init_the_console_server_the_tools_and_the_suites_are_packed() {
        let names = all_bin_names(&artifacts::root()).unwrap();
        for want in [
            "init",
            "console",
            "aid",
            "vmtest",
            "badsys",
            "shelltest",
            "hello",
            "klog",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
    }
}
