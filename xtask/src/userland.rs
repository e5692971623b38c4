//! Builds the user programs for one architecture and hands their ELF images to the
//! initramfs, each as `bin/<name>`.
//!
//! The programs are the `[[bin]]` targets of `userland/programs/Cargo.toml`, of the
//! shell's package (`userland/waysh`) and of the coreutils (`userland/coreutils`), read
//! from the manifests so a new program needs no change here; they build for the same `*-unknown-none` target as the kernel. The packed
//! copies are stripped of debug info with the toolchain's `llvm-strip` (the pinned
//! llvm-tools component) when it is there; the unstripped ELFs stay under `target/` for GDB.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{artifacts, Arch, Result};

/// The package holding every program.
const PACKAGE: &str = "wayos-programs";
/// Its manifest, relative to the workspace root.
const MANIFEST: &str = "userland/programs/Cargo.toml";
/// The shell's package and manifest: its `[[bin]]` is packed as `bin/waysh`.
const SHELL: (&str, &str) = ("waysh", "userland/waysh/Cargo.toml");
/// The coreutils' package and manifest: each `[[bin]]` (`ls`, `cat`, ...) is packed too.
const COREUTILS: (&str, &str) = ("coreutils", "userland/coreutils/Cargo.toml");

/// Builds every program for `arch` and returns `("bin/<name>", ELF bytes)` pairs.
pub fn build(arch: Arch, release: bool) -> Result<Vec<(String, Vec<u8>)>> {
    let root = artifacts::root();
    let target = arch.kernel_target();
    eprintln!("==> building the {} user programs", arch.name());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root).args([
        "build",
        "--package",
        PACKAGE,
        "--package",
        SHELL.0,
        "--package",
        COREUTILS.0,
        "--target",
        target,
    ]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building {PACKAGE} for {target} failed"));
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

/// The `[[bin]]` names of the programs' manifest, the shell's and the coreutils'.
fn all_bin_names(root: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for rel in [MANIFEST, SHELL.1, COREUTILS.1] {
        let manifest = root.join(rel);
        let text =
            fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
        let found = bin_names(&text)?;
        if found.is_empty() {
            return Err(format!("{}: no [[bin]] targets", manifest.display()));
        }
        names.extend(found);
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
                return Err(format!("{MANIFEST}: bad bin name {value:?}"));
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
    fn the_programs_manifest_lists_init_and_the_suites() {
        let text = fs::read_to_string(artifacts::root().join(MANIFEST)).unwrap();
        let names = bin_names(&text).unwrap();
        for want in ["init", "vmtest", "badsys", "faulttest", "hello"] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
    }
}
