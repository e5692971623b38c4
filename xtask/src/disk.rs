//! Disk images for the guest's virtio-blk devices: the persistent `/disk` image `run`
//! attaches (`target/wayos/<arch>/disk.img`, made on first use), and the fresh images a
//! test, fuzz or bench boot attaches (a formatted disk as blk0, a raw scratch disk as
//! blk1, named on the kernel command line by `wayos.disk=1`).
//!
//! Images are FAT32 made by the host's `mkfs.fat` (dosfstools), so the host's `fsck.fat`
//! and mtools read what the guest wrote. This module never deletes an image it did not
//! make for one boot: `--disk PATH` is the user's file, used as it is.

use std::path::{Path, PathBuf};
use std::process::Command;

use wayos_abi::harness::{DISK_IMAGE_BYTES, SCRATCH_DISK_BYTES, SCRATCH_DISK_KEY};

use crate::artifacts::target_root;
use crate::prereq::{self, Need};
use crate::{Arch, Result};

/// `--disk`, for every command that boots a guest for a person (`run`, `debug`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct DiskOptions {
    /// The disk image attached as the guest's first virtio-blk device (mounted at /disk):
    /// a path, or `none` for no disk. Default: target/wayos/<arch>/disk.img, a 64 MiB FAT32
    /// image made with mkfs.fat on first use and kept across boots.
    #[arg(long, value_name = "PATH|none")]
    pub disk: Option<String>,
}

impl DiskOptions {
    /// The images to attach, in device order (blk0 first).
    pub fn images(&self, arch: Arch) -> Result<Vec<PathBuf>> {
        match self.disk.as_deref() {
            Some("none") => Ok(Vec::new()),
            Some(path) => {
                let p = PathBuf::from(path);
                if !p.is_file() {
                    return Err(format!(
                        "--disk {path}: no such file (make one with `truncate -s 64M {path} && \
                         mkfs.fat -F 32 {path}`, or use --disk none)"
                    ));
                }
                Ok(vec![p])
            }
            None => {
                let p = default_image(arch);
                if !p.is_file() {
                    make_fat_image(&p, DISK_IMAGE_BYTES, "WAYOS")?;
                    eprintln!("==> made the disk image {} (FAT32)", p.display());
                }
                Ok(vec![p])
            }
        }
    }
}

/// `target/wayos/<arch>/disk.img`.
pub fn default_image(arch: Arch) -> PathBuf {
    target_root()
        .join("wayos")
        .join(arch.name())
        .join("disk.img")
}

/// The disks of a harness boot called `tag` (`test`, `fuzz`, `bench`, ...): a freshly
/// formatted FAT32 image (blk0) and a zeroed scratch disk (blk1), remade every time so
/// no boot sees what an earlier one wrote. Returns the images and the kernel
/// command-line word naming the scratch device.
pub fn harness_disks(arch: Arch, tag: &str) -> Result<(Vec<PathBuf>, String)> {
    let dir = target_root().join("wayos").join(arch.name());
    let fat = dir.join(format!("{tag}-disk.img"));
    let scratch = dir.join(format!("{tag}-scratch.img"));
    make_fat_image(&fat, DISK_IMAGE_BYTES, "WAYOSTEST")?;
    make_zero_image(&scratch, SCRATCH_DISK_BYTES)?;
    Ok((vec![fat, scratch], format!("{SCRATCH_DISK_KEY}=1")))
}

/// A sparse file of `bytes` zero bytes (replacing any old one).
pub fn make_zero_image(path: &Path, bytes: u64) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let _ = std::fs::remove_file(path);
    let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.set_len(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A FAT32 image of `bytes` with volume label `label`, made by the host's mkfs.fat.
pub fn make_fat_image(path: &Path, bytes: u64, label: &str) -> Result<()> {
    prereq::ensure(&[Need::Dosfstools])?;
    make_zero_image(path, bytes)?;
    let out = Command::new("mkfs.fat")
        .args(["-F", "32", "-n", label])
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run mkfs.fat: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "mkfs.fat {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// QEMU arguments attaching `images` as virtio-blk-pci devices, in order (the kernel
/// numbers them blk0, blk1, ... by PCI slot, which follows this order).
pub fn qemu_args(images: &[PathBuf]) -> Vec<String> {
    let mut args = Vec::new();
    for (i, img) in images.iter().enumerate() {
        args.push("-drive".into());
        args.push(format!(
            "if=none,id=blk{i},format=raw,file={}",
            img.display()
        ));
        args.push("-device".into());
        args.push(format!("virtio-blk-pci,drive=blk{i}"));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drives_in_order() {
        let a = qemu_args(&[PathBuf::from("/x/a.img"), PathBuf::from("/x/b.img")]);
        assert_eq!(
            a,
            [
                "-drive",
                "if=none,id=blk0,format=raw,file=/x/a.img",
                "-device",
                "virtio-blk-pci,drive=blk0",
                "-drive",
                "if=none,id=blk1,format=raw,file=/x/b.img",
                "-device",
                "virtio-blk-pci,drive=blk1",
            ]
        );
    }

    #[test]
    fn none_attaches_nothing() {
        let o = DiskOptions {
            disk: Some("none".into()),
        };
        assert!(o.images(Arch::X86_64).unwrap().is_empty());
    }

    #[test]
    fn missing_path_is_an_error() {
        let o = DiskOptions {
            disk: Some("/nonexistent/wayos-disk.img".into()),
        };
        assert!(o.images(Arch::X86_64).is_err());
    }
}
