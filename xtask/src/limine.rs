//! Genuine Limine: finds a binary release and builds a hybrid BIOS/UEFI ISO with it.
//!
//! A Limine 8.x binary release holds `limine-bios.sys`, `limine-bios-cd.bin`,
//! `limine-uefi-cd.bin`, `BOOTX64.EFI` and the `limine` host tool (or its `limine.c`, which
//! is compiled here when no prebuilt tool is found). The config uses the Limine 8 key
//! names (`path`, `cmdline`, `module_path`, `module_string`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;

const NEEDED: [&str; 4] = [
    "limine-bios.sys",
    "limine-bios-cd.bin",
    "limine-uefi-cd.bin",
    "BOOTX64.EFI",
];

fn is_release(dir: &Path) -> bool {
    NEEDED.iter().all(|f| dir.join(f).is_file())
}

/// `LIMINE_DIR`, else the usual install prefixes.
pub fn find() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LIMINE_DIR") {
        let dir = PathBuf::from(dir);
        if is_release(&dir) {
            return Some(dir);
        }
        eprintln!(
            "xtask: LIMINE_DIR={} lacks {}; falling back",
            dir.display(),
            NEEDED.join(", ")
        );
    }
    [
        "/usr/share/limine",
        "/usr/local/share/limine",
        "/usr/lib/limine",
        "/opt/limine",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|d| is_release(d))
}

/// The config Limine reads from `/boot/limine/limine.conf` on the ISO.
pub fn config(cmdline: &str) -> String {
    format!(
        "timeout: 0\n\n/WayOS\n    protocol: limine\n    path: boot():/boot/wayos-kernel\n    \
         cmdline: {cmdline}\n    module_path: boot():/boot/initramfs.cpio\n    \
         module_string: initramfs\n"
    )
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("copy {} -> {}: {e}", from.display(), to.display()))
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{:?} failed ({status})", cmd.get_program()))
    }
}

/// The `limine` host tool: prebuilt in the release, on PATH, or compiled from `limine.c`.
fn host_tool(release: &Path, scratch: &Path) -> Result<PathBuf> {
    let prebuilt = release.join("limine");
    if prebuilt.is_file() {
        return Ok(prebuilt);
    }
    let source = release.join("limine.c");
    if source.is_file() {
        let out = scratch.join("limine-tool");
        run(Command::new("cc")
            .args(["-O2", "-std=c99", "-o"])
            .arg(&out)
            .arg(&source))?;
        return Ok(out);
    }
    Ok(PathBuf::from("limine"))
}

/// Builds a hybrid ISO at `iso` from the release in `release`.
pub fn build_iso(
    release: &Path,
    scratch: &Path,
    kernel: &[u8],
    initramfs: &[u8],
    cmdline: &str,
    iso: &Path,
) -> Result<()> {
    let root = scratch.join("root");
    let _ = fs::remove_dir_all(&root);
    let limine_dir = root.join("boot/limine");
    let efi_dir = root.join("EFI/BOOT");
    for d in [&limine_dir, &efi_dir] {
        fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let write =
        |p: PathBuf, b: &[u8]| fs::write(&p, b).map_err(|e| format!("{}: {e}", p.display()));
    write(root.join("boot/wayos-kernel"), kernel)?;
    write(root.join("boot/initramfs.cpio"), initramfs)?;
    write(limine_dir.join("limine.conf"), config(cmdline).as_bytes())?;
    for f in [
        "limine-bios.sys",
        "limine-bios-cd.bin",
        "limine-uefi-cd.bin",
    ] {
        copy(&release.join(f), &limine_dir.join(f))?;
    }
    copy(&release.join("BOOTX64.EFI"), &efi_dir.join("BOOTX64.EFI"))?;
    run(Command::new("xorriso")
        .args([
            "-as",
            "mkisofs",
            "-R",
            "-r",
            "-J",
            "-b",
            "boot/limine/limine-bios-cd.bin",
        ])
        .args([
            "-no-emul-boot",
            "-boot-load-size",
            "4",
            "-boot-info-table",
            "-hfsplus",
        ])
        .args([
            "-apm-block-size",
            "2048",
            "--efi-boot",
            "boot/limine/limine-uefi-cd.bin",
        ])
        .args([
            "-efi-boot-part",
            "--efi-boot-image",
            "--protective-msdos-label",
            "-quiet",
        ])
        .arg(&root)
        .arg("-o")
        .arg(iso))?;
    let tool = host_tool(release, scratch)?;
    run(Command::new(tool).arg("bios-install").arg(iso))
}

#[cfg(test)]
mod tests {
    #[test]
    fn config_uses_limine8_keys() {
        let c = super::config("wayos.test log=debug");
        assert!(c.starts_with("timeout: 0\n"));
        assert!(c.contains("\n/WayOS\n    protocol: limine\n"));
        assert!(c.contains("    path: boot():/boot/wayos-kernel\n"));
        assert!(c.contains("    cmdline: wayos.test log=debug\n"));
        assert!(c.contains("    module_path: boot():/boot/initramfs.cpio\n"));
    }
}
