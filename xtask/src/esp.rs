//! The EFI system partition image: a plain FAT volume (no partition table) holding the
//! loader and the files it reads, which OVMF boots when attached as a raw drive.
//!
//! [`build_esp`] sizes the volume to fit the files with slack, formats it with `fatfs`
//! (which picks FAT16 or FAT32 for the size) and writes each file at its path, creating
//! directories as needed.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

const MIB: u64 = 1024 * 1024;
/// Smallest image built: large enough that fatfs formats FAT16 rather than FAT12.
const MIN_SIZE: u64 = 16 * MIB;
/// Space per file for directory entries and cluster rounding (generous: clusters are
/// at most 32 KiB on the sizes built here).
const PER_FILE_SLACK: u64 = 64 * 1024;

/// Writes a FAT image to `out` containing `files`, each given as (path, contents) with
/// `/`-separated paths such as `EFI/BOOT/BOOTX64.EFI` or `wayos/kernel.elf`.
pub fn build_esp(out: &Path, files: &[(&str, &[u8])]) -> io::Result<()> {
    for (path, _) in files {
        if components(path).next().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("esp: empty file path {path:?}"),
            ));
        }
    }
    let size = image_size(files);
    let mut img = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)?;
    img.set_len(size)?;
    fatfs::format_volume(
        &mut img,
        fatfs::FormatVolumeOptions::new().volume_label(*b"WAYOS ESP  "),
    )?;
    {
        let fs = fatfs::FileSystem::new(&mut img, fatfs::FsOptions::new())?;
        for (path, data) in files {
            write_file(&fs, path, data)?;
        }
        fs.unmount()?;
    }
    img.sync_all()
}

/// Total image size: the files, per-file slack, 25% extra for FAT tables and growth,
/// rounded up to a MiB and at least [`MIN_SIZE`].
fn image_size(files: &[(&str, &[u8])]) -> u64 {
    let payload: u64 = files
        .iter()
        .map(|(_, data)| data.len() as u64 + PER_FILE_SLACK)
        .sum();
    let want = payload + payload / 4 + 2 * MIB;
    want.div_ceil(MIB).max(MIN_SIZE / MIB) * MIB
}

fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split(['/', '\\']).filter(|c| !c.is_empty())
}

fn write_file<T: fatfs::ReadWriteSeek>(
    fs: &fatfs::FileSystem<T>,
    path: &str,
    data: &[u8],
) -> io::Result<()> {
    let parts: Vec<&str> = components(path).collect();
    let (name, dirs) = parts.split_last().expect("checked non-empty");
    let mut dir = fs.root_dir();
    for d in dirs {
        // create_dir opens the directory if it already exists.
        dir = dir.create_dir(d)?;
    }
    let mut file = dir.create_file(name)?;
    file.truncate()?;
    file.write_all(data)?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn temp_image() -> PathBuf {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!("wayos-esp-test-{}-{n}.img", std::process::id()))
    }

    fn read_back(img: &Path, path: &str) -> Vec<u8> {
        let file = std::fs::File::open(img).unwrap();
        let fs = fatfs::FileSystem::new(file, fatfs::FsOptions::new()).unwrap();
        let mut f = fs.root_dir().open_file(path).unwrap();
        let mut out = Vec::new();
        f.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn files_read_back() {
        let img = temp_image();
        let loader = vec![0x4du8; 100_000];
        let kernel: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7) as u8).collect();
        let files: [(&str, &[u8]); 4] = [
            ("EFI/BOOT/BOOTX64.EFI", &loader),
            ("wayos/kernel.elf", &kernel),
            ("wayos/initramfs.cpio", b"070701"),
            ("wayos/cmdline.txt", b""),
        ];
        build_esp(&img, &files).unwrap();
        for (path, data) in files {
            assert_eq!(read_back(&img, path), data, "{path}");
        }
        let len = std::fs::metadata(&img).unwrap().len();
        assert!(len >= MIN_SIZE && len.is_multiple_of(MIB));
        let fs =
            fatfs::FileSystem::new(std::fs::File::open(&img).unwrap(), fatfs::FsOptions::new())
                .unwrap();
        assert_ne!(fs.fat_type(), fatfs::FatType::Fat12);
        std::fs::remove_file(&img).unwrap();
    }

    #[test]
    fn large_files_fit() {
        let img = temp_image();
        let big = vec![0xa5u8; 40 * MIB as usize];
        build_esp(
            &img,
            &[("wayos/initramfs.cpio", &big), ("a/b/c/d.txt", b"x")],
        )
        .unwrap();
        assert_eq!(read_back(&img, "wayos/initramfs.cpio").len(), big.len());
        assert_eq!(read_back(&img, "a/b/c/d.txt"), b"x");
        std::fs::remove_file(&img).unwrap();
    }

    #[test]
    fn rewriting_an_image_replaces_it() {
        let img = temp_image();
        build_esp(&img, &[("x.txt", b"first version, longer")]).unwrap();
        build_esp(&img, &[("x.txt", b"second")]).unwrap();
        assert_eq!(read_back(&img, "x.txt"), b"second");
        std::fs::remove_file(&img).unwrap();
    }

    #[test]
    fn empty_path_is_rejected() {
        let img = temp_image();
        let e = build_esp(&img, &[("/", b"x")]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let _ = std::fs::remove_file(&img);
    }
}
