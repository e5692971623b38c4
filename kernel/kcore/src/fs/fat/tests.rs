//! Host tests: a volume in a vector, the POSIX rules, mount validation, and corrupted
//! images under `catch_unwind` (no panic, no hang).

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use lamfat::{format_volume, FatType, FormatVolumeOptions};
use wayos_abi::errno;
use wayos_abi::fcntl::{O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
use wayos_abi::fs::S_IFDIR;

use super::check::{check, geometry, CheckError, FatKind};
use super::disk::{Clock, Disk, Io};
use super::vol::{mount, Fs, Volume};
use crate::fs::FsError;

/// A disk in memory. `clone` copies the bytes; [`Mem::share`] is a second handle on the
/// same bytes (to look at an image after `lamfat` has been dropped with its handle).
struct Mem(Rc<RefCell<Vec<u8>>>);

impl Clone for Mem {
    fn clone(&self) -> Self {
        Mem(Rc::new(RefCell::new(self.0.borrow().clone())))
    }
}

impl Mem {
    fn new(bytes: Vec<u8>) -> Self {
        Mem(Rc::new(RefCell::new(bytes)))
    }
    fn share(&self) -> Self {
        Mem(self.0.clone())
    }
    fn bytes(&self) -> Vec<u8> {
        self.0.borrow().clone()
    }
    fn get(&self, at: usize) -> u8 {
        self.0.borrow()[at]
    }
    fn set(&self, at: usize, bytes: &[u8]) {
        self.0.borrow_mut()[at..at + bytes.len()].copy_from_slice(bytes);
    }
    fn len(&self) -> usize {
        self.0.borrow().len()
    }
}

impl Disk for Mem {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), isize> {
        let o = offset as usize;
        buf.copy_from_slice(self.0.borrow().get(o..o + buf.len()).ok_or(errno::EIO)?);
        Ok(())
    }
    fn write(&mut self, offset: u64, buf: &[u8]) -> Result<(), isize> {
        let o = offset as usize;
        self.0
            .borrow_mut()
            .get_mut(o..o + buf.len())
            .ok_or(errno::EIO)?
            .copy_from_slice(buf);
        Ok(())
    }
    fn size(&self) -> u64 {
        self.0.borrow().len() as u64
    }
}

fn now() -> u64 {
    1_700_000_000 * 1_000_000_000
}

fn image(bytes: usize, fat: FatType) -> Mem {
    let disk = Mem::new(vec![0; bytes]);
    let mut io = Io::new(disk.share(), true);
    let opts = FormatVolumeOptions::new()
        .fat_type(fat)
        .bytes_per_cluster(512);
    format_volume(&mut io, opts).unwrap();
    disk
}

fn small() -> Mem {
    image(4 << 20, FatType::Fat16)
}

fn with_vol<T>(disk: Mem, writable: bool, f: impl FnOnce(&mut Volume<'_, Mem>) -> T) -> T {
    let (fs, _, io) = mount(disk, writable, Clock(now)).unwrap();
    let mut v = Volume::new(&fs, io, writable);
    f(&mut v)
}

/// Runs `f` on a mounted volume and gives back the disk after a clean unmount.
fn session(disk: Mem, f: impl FnOnce(&mut Volume<'_, Mem>)) -> Mem {
    let handle = disk.share();
    let (fs, _, io): (Fs<Mem>, _, _) = mount(disk, true, Clock(now)).unwrap();
    {
        let mut v = Volume::new(&fs, io, true);
        f(&mut v);
        v.close_all().unwrap();
    }
    fs.unmount().unwrap();
    handle
}

fn put(v: &mut Volume<'_, Mem>, path: &str, data: &[u8]) {
    let o = v.open(path, O_CREAT | O_WRONLY | O_TRUNC).unwrap();
    assert_eq!(v.write(o.id, Some(0), data).unwrap().0, data.len());
    v.close(o.id).unwrap();
}

fn get(v: &mut Volume<'_, Mem>, path: &str) -> Vec<u8> {
    let o = v.open(path, O_RDONLY).unwrap();
    let n = v.size(o.id).unwrap() as usize;
    let mut buf = vec![0; n + 10];
    let got = v.read(o.id, 0, &mut buf).unwrap();
    buf.truncate(got);
    v.close(o.id).unwrap();
    buf
}

fn names(v: &mut Volume<'_, Mem>, dir: &str) -> Vec<String> {
    let o = v.open(dir, O_RDONLY | O_DIRECTORY).unwrap();
    let mut out = Vec::new();
    v.readdir(o.id, 0, |r, _| {
        out.push(r.name.clone());
        true
    })
    .unwrap();
    v.close(o.id).unwrap();
    out
}

#[test]
fn files_and_directories_persist_across_mounts() {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let disk = session(small(), |v| {
        v.mkdir("docs").unwrap();
        v.mkdir("docs/deep").unwrap();
        put(v, "docs/deep/A Long File Name.txt", b"hello fat");
        put(v, "big.bin", &big);
        assert_eq!(v.mkdir("docs"), Err(FsError::Exists));
        assert_eq!(v.mkdir("nope/x"), Err(FsError::NotFound));
    });
    // The file system checks clean with the independent checker.
    let g = check(&mut disk.clone()).unwrap();
    assert_eq!(g.kind, FatKind::Fat16);
    with_vol(disk, true, |v| {
        assert_eq!(get(v, "DOCS/deep/a long file name.TXT"), b"hello fat");
        assert_eq!(get(v, "big.bin"), big);
        assert_eq!(names(v, "docs"), [".", "..", "deep"]);
        assert_eq!(names(v, ""), [".", "..", "docs", "big.bin"]);
        let st = v.stat("big.bin", 3).unwrap();
        assert_eq!((st.size, st.dev, st.mode & 0o777), (300_000, 3, 0o644));
        assert_eq!(st.mtime.sec, 1_700_000_000);
        assert_eq!(v.stat("docs", 3).unwrap().mode, S_IFDIR | 0o755);
        assert_eq!(v.stat("missing", 3), Err(FsError::NotFound));
        assert_eq!(v.stat("big.bin/x", 3), Err(FsError::NotDir));
    });
}

#[test]
fn seek_write_truncate_and_holes() {
    with_vol(small(), true, |v| {
        let o = v.open("f", O_CREAT | O_RDWR).unwrap();
        assert!(o.created);
        assert_eq!(v.write(o.id, Some(0), b"abcdef").unwrap(), (6, 6));
        assert_eq!(v.write(o.id, Some(2), b"XY").unwrap(), (2, 4));
        // A write past the end leaves zeros between.
        assert_eq!(v.write(o.id, Some(10), b"Z").unwrap(), (1, 11));
        let mut buf = [0xffu8; 20];
        assert_eq!(v.read(o.id, 0, &mut buf).unwrap(), 11);
        assert_eq!(&buf[..11], b"abXYef\0\0\0\0Z");
        assert_eq!(v.read(o.id, 11, &mut buf).unwrap(), 0);
        assert_eq!(v.read(o.id, 1000, &mut buf).unwrap(), 0);
        // Appends go to the end.
        assert_eq!(v.write(o.id, None, b"!").unwrap(), (1, 12));
        v.truncate(o.id, 3).unwrap();
        assert_eq!(v.size(o.id).unwrap(), 3);
        v.truncate(o.id, 5000).unwrap();
        assert_eq!(v.size(o.id).unwrap(), 5000);
        assert_eq!(v.read(o.id, 4990, &mut buf).unwrap(), 10);
        assert_eq!(&buf[..10], &[0; 10]);
        assert_eq!(
            v.write(o.id, Some(u32::MAX as u64), b"x"),
            Err(FsError::TooBig)
        );
        // A second open shares the file: the size it sees is the same.
        let o2 = v.open("F", O_RDONLY).unwrap();
        assert_eq!(o2.id, o.id);
        assert_eq!(v.size(o2.id).unwrap(), 5000);
        v.close(o2.id).unwrap();
        v.close(o.id).unwrap();
        assert_eq!(v.stat("f", 0).unwrap().size, 5000);
    });
}

#[test]
fn open_flags_follow_posix() {
    with_vol(small(), true, |v| {
        put(v, "f", b"data");
        v.mkdir("d").unwrap();
        assert_eq!(v.open("g", O_RDONLY), Err(FsError::NotFound));
        assert_eq!(
            v.open("f", O_CREAT | O_EXCL | O_WRONLY),
            Err(FsError::Exists)
        );
        assert_eq!(v.open("d", O_WRONLY), Err(FsError::IsDir));
        assert_eq!(v.open("f", O_DIRECTORY), Err(FsError::NotDir));
        assert_eq!(v.open("x/y", O_CREAT | O_WRONLY), Err(FsError::NotFound));
        assert_eq!(v.open("a*b", O_CREAT | O_WRONLY), Err(FsError::Invalid));
        let long = "n".repeat(256);
        assert_eq!(v.open(&long, O_CREAT | O_WRONLY), Err(FsError::NameTooLong));
        let ok = "n".repeat(255);
        put(v, &ok, b"1");
        assert_eq!(get(v, &ok), b"1");
        let o = v.open("f", O_WRONLY | O_TRUNC).unwrap();
        assert_eq!(v.size(o.id).unwrap(), 0);
        v.close(o.id).unwrap();
    });
}

#[test]
fn remove_and_rename_rules() {
    with_vol(small(), true, |v| {
        v.mkdir("d").unwrap();
        v.mkdir("d/e").unwrap();
        v.mkdir("other").unwrap();
        put(v, "d/f", b"1");
        put(v, "g", b"2");
        assert_eq!(v.remove("d", true), Err(FsError::NotEmpty));
        assert_eq!(v.remove("d/f", true), Err(FsError::NotDir));
        assert_eq!(v.remove("d", false), Err(FsError::IsDir));
        assert_eq!(v.remove("", true), Err(FsError::Busy));
        // Open: cannot go, nor can its directory be renamed.
        let o = v.open("d/f", O_RDONLY).unwrap();
        assert_eq!(v.remove("d/f", false), Err(FsError::Busy));
        assert_eq!(v.rename("d", "d2"), Err(FsError::Busy));
        assert_eq!(v.rename("d/f", "h"), Err(FsError::Busy));
        v.close(o.id).unwrap();
        // A file replaces a file; a directory does not replace a file.
        v.rename("d/f", "g").unwrap();
        assert_eq!(get(v, "g"), b"1");
        assert_eq!(v.stat("d/f", 0), Err(FsError::NotFound));
        assert_eq!(v.rename("d/e", "g"), Err(FsError::NotDir));
        assert_eq!(v.rename("g", "d/e"), Err(FsError::IsDir));
        assert_eq!(v.rename("d", "d/e/x"), Err(FsError::Invalid));
        assert_eq!(v.rename("d/e", "other/e"), Err(FsError::CrossDevice));
        v.rename("d", "renamed dir").unwrap();
        assert_eq!(names(v, "renamed dir"), [".", "..", "e"]);
        v.rename("g", "renamed dir/g").unwrap();
        v.remove("renamed dir/g", false).unwrap();
        v.remove("renamed dir/e", true).unwrap();
        v.remove("renamed dir", true).unwrap();
        assert_eq!(names(v, ""), [".", "..", "other"]);
    });
}

#[test]
fn read_only_volumes_refuse_changes() {
    let disk = session(small(), |v| put(v, "f", b"keep"));
    let before = disk.bytes();
    let handle = disk.share();
    {
        let (fs, _, io) = mount(disk, false, Clock(now)).unwrap();
        let mut v = Volume::new(&fs, io, false);
        assert_eq!(get(&mut v, "f"), b"keep");
        assert_eq!(v.open("f", O_WRONLY), Err(FsError::ReadOnly));
        assert_eq!(v.open("n", O_CREAT | O_WRONLY), Err(FsError::ReadOnly));
        assert_eq!(v.mkdir("d"), Err(FsError::ReadOnly));
        assert_eq!(v.remove("f", false), Err(FsError::ReadOnly));
        assert_eq!(v.rename("f", "g"), Err(FsError::ReadOnly));
        assert_eq!(v.stat("f", 0).unwrap().mode & 0o777, 0o444);
    }
    assert!(
        before == handle.bytes(),
        "a read-only mount changed the image"
    );
}

#[test]
fn a_full_volume_says_enospc() {
    with_vol(small(), true, |v| {
        let free = v.statfs().unwrap();
        assert!(free.bfree > 0 && free.bfree <= free.blocks);
        let o = v.open("fill", O_CREAT | O_WRONLY).unwrap();
        let chunk = vec![0x5a; 64 * 1024];
        let mut total = 0u64;
        loop {
            match v.write(o.id, None, &chunk) {
                Ok((n, _)) if n > 0 => total += n as u64,
                Ok(_) => break,
                Err(e) => {
                    assert_eq!(e, FsError::NoSpace);
                    break;
                }
            }
        }
        assert_eq!(v.statfs().unwrap().bfree, 0);
        assert!(total >= (free.bfree - 1) * free.bsize);
        v.close(o.id).unwrap();
        assert_eq!(v.stat("fill", 0).unwrap().size, total);
        v.remove("fill", false).unwrap();
        assert_eq!(v.statfs().unwrap().bfree, free.bfree);
    });
}

#[test]
fn fat32_volumes_mount() {
    let disk = session(image(34 << 20, FatType::Fat32), |v| {
        v.mkdir("a").unwrap();
        put(v, "a/b", &[7; 10_000]);
    });
    let g = check(&mut disk.clone()).unwrap();
    assert_eq!(g.kind, FatKind::Fat32);
    assert!(g.used_clusters > 20);
    with_vol(disk, true, |v| assert_eq!(get(v, "a/b"), [7; 10_000]));
}

/// The byte offset of FAT entry `c` (FAT16) in the first FAT of `d`.
fn fat16_entry(d: &mut Mem, c: usize) -> usize {
    let g = geometry(d).unwrap();
    g.fat_offset as usize + 2 * c
}

fn set16(d: &mut Mem, at: usize, v: u16) {
    d.set(at, &v.to_le_bytes());
}

fn get16(d: &Mem, at: usize) -> u16 {
    u16::from_le_bytes([d.get(at), d.get(at + 1)])
}

fn bad(d: &mut Mem) -> &'static str {
    match check(d) {
        Err(CheckError::Bad(why)) => why,
        other => panic!("accepted a bad image: {other:?}"),
    }
}

#[test]
fn corrupt_structures_are_refused() {
    let disk = session(small(), |v| put(v, "f", &[1; 5000]));
    // The file's chain: the first data clusters after the root directory.
    let mut d = disk.clone();
    d.set(510, &[0]);
    assert_eq!(bad(&mut d), "no boot sector signature");
    let mut d = disk.clone();
    d.set(0x0d, &[3]);
    assert_eq!(bad(&mut d), "bad cluster size");
    let mut d = disk.clone();
    d.set(0x13, &0xffffu16.to_le_bytes());
    d.set(0x20, &0u32.to_le_bytes());
    assert_eq!(bad(&mut d), "the volume is larger than the device");
    // Find an allocated chain of at least three clusters.
    let first = (2..2000)
        .find(|&c| {
            let mut d = disk.clone();
            let at = fat16_entry(&mut d, c);
            (2..0xfff0).contains(&get16(&d, at))
        })
        .unwrap();
    let mut d = disk.clone();
    let at = fat16_entry(&mut d, first);
    let next = get16(&d, at) as usize;
    // A loop: the second cluster links back to the first.
    let at2 = fat16_entry(&mut d, next);
    set16(&mut d, at2, first as u16);
    assert_eq!(bad(&mut d), "a loop in the FAT");
    // Out of range.
    let mut d = disk.clone();
    set16(&mut d, at, 0xfff0);
    assert_eq!(bad(&mut d), "a FAT entry points outside the volume");
    // Cross-linked: a free cluster made to link into the chain's second cluster.
    let mut d = disk.clone();
    let free = first + 1000;
    let at3 = fat16_entry(&mut d, free);
    set16(&mut d, at3, next as u16);
    assert_eq!(bad(&mut d), "cross-linked cluster chains");
    // Into a free cluster.
    let mut d = disk.clone();
    set16(&mut d, at, free as u16);
    assert_eq!(
        bad(&mut d),
        "a cluster chain runs into a free or bad cluster"
    );
    // A pure loop nothing points into (lost clusters that cycle).
    let mut d = disk.clone();
    let (x, y) = (free, free + 1);
    let ax = fat16_entry(&mut d, x);
    let ay = fat16_entry(&mut d, y);
    set16(&mut d, ax, y as u16);
    set16(&mut d, ay, x as u16);
    assert_eq!(bad(&mut d), "a loop in the FAT");
    // And the untouched image passes.
    assert!(check(&mut disk.clone()).is_ok());
    assert!(mount(disk, true, Clock(now)).is_ok());
}

/// Everything a program could do with a volume: list every directory, read every file,
/// create, write, rename and remove.
fn exercise(v: &mut Volume<'_, Mem>) {
    let mut dirs = vec![String::new()];
    let mut seen = 0;
    while let Some(d) = dirs.pop() {
        let Ok(o) = v.open(&d, O_RDONLY | O_DIRECTORY) else {
            continue;
        };
        let mut list = Vec::new();
        let _ = v.readdir(o.id, 0, |r, _| {
            list.push((r.name.clone(), r.dir));
            list.len() < 200
        });
        let _ = v.close(o.id);
        for (name, dir) in list {
            seen += 1;
            if seen > 500 || name == "." || name == ".." {
                continue;
            }
            let path = if d.is_empty() {
                name
            } else {
                alloc::format!("{d}/{name}")
            };
            if dir {
                dirs.push(path);
            } else if let Ok(o) = v.open(&path, O_RDWR) {
                let mut buf = vec![0; 8192];
                let _ = v.read(o.id, 0, &mut buf);
                let _ = v.write(o.id, Some(100), b"scribble");
                let _ = v.stat_open(o.id, 0);
                let _ = v.close(o.id);
            }
        }
    }
    let _ = v.mkdir("newdir");
    if let Ok(o) = v.open("newdir/new file", O_CREAT | O_RDWR) {
        let _ = v.write(o.id, None, &[3; 3000]);
        let _ = v.close(o.id);
    }
    let _ = v.rename("newdir/new file", "newdir/moved");
    let _ = v.remove("newdir/moved", false);
    let _ = v.statfs();
}

/// A small xorshift generator: the corruptions are the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn populated(fat: FatType, bytes: usize) -> Mem {
    session(image(bytes, fat), |v| {
        v.mkdir("a").unwrap();
        v.mkdir("a/b").unwrap();
        for i in 0..12 {
            put(
                v,
                &alloc::format!("a/file number {i}.txt"),
                &vec![i as u8; 700 * i],
            );
        }
        put(v, "a/b/x", &[9; 9000]);
        put(v, "top", b"top");
    })
}

/// Flips bytes of the structures (boot sector, FATs, directories) and runs everything
/// on each image under `catch_unwind`: refusal and errors are fine, a panic is not.
fn fuzz(base: &Mem, rounds: u64, seed: u64) {
    let g = geometry(&mut base.clone()).unwrap();
    // Boot sector, FATs, the root directory and the first data clusters (directories).
    let meta = (g.fat_offset + 2 * g.fat_bytes) as usize + 64 * 1024;
    let mut rng = Rng(seed);
    let mut mounted = 0;
    for round in 0..rounds {
        let d = base.clone();
        let flips = 1 + rng.below(8);
        for _ in 0..flips {
            let at = if rng.below(4) == 0 {
                rng.below(512)
            } else {
                rng.below(meta.min(d.len()))
            };
            let b = match rng.below(3) {
                0 => rng.next() as u8,
                1 => 0xff,
                _ => d.get(at) ^ (1 << rng.below(8)),
            };
            d.set(at, &[b]);
        }
        let r = catch_unwind(AssertUnwindSafe(|| {
            if let Ok((fs, _, io)) = mount(d, true, Clock(now)) {
                let mut v = Volume::new(&fs, io, true);
                exercise(&mut v);
                let _ = v.close_all();
                true
            } else {
                false
            }
        }));
        match r {
            Ok(true) => mounted += 1,
            Ok(false) => {}
            Err(_) => panic!("round {round} (seed {seed}) panicked"),
        }
    }
    // Most small corruptions leave a mountable volume: the test exercised lamfat, not
    // just the refusal.
    assert!(mounted > rounds / 5, "only {mounted} of {rounds} mounted");
}

#[test]
fn corrupted_fat16_images_never_panic() {
    fuzz(&populated(FatType::Fat16, 4 << 20), 1500, 0x1234_5678);
}

#[test]
fn corrupted_fat32_images_never_panic() {
    fuzz(&populated(FatType::Fat32, 34 << 20), 300, 0x9e37_79b9);
}

#[test]
#[ignore]
fn count_disk_calls_for_a_big_write() {
    use core::sync::atomic::{AtomicUsize, Ordering};
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static SMALL_READS: AtomicUsize = AtomicUsize::new(0);
    struct Counting(Mem);
    impl Disk for Counting {
        fn read(&mut self, o: u64, b: &mut [u8]) -> Result<(), isize> {
            CALLS.fetch_add(1, Ordering::Relaxed);
            if b.len() < 512 {
                SMALL_READS.fetch_add(1, Ordering::Relaxed);
            }
            self.0.read(o, b)
        }
        fn write(&mut self, o: u64, b: &[u8]) -> Result<(), isize> {
            CALLS.fetch_add(1, Ordering::Relaxed);
            self.0.write(o, b)
        }
        fn size(&self) -> u64 {
            self.0.size()
        }
    }
    let disk = image(64 << 20, FatType::Fat32);
    let (fs, _, io) = mount(Counting(disk), true, Clock(now)).unwrap();
    let mut v = Volume::new(&fs, io, true);
    let o = v.open("big", O_CREAT | O_WRONLY).unwrap();
    let chunk = vec![1u8; 64 * 1024];
    let t = std::time::Instant::now();
    let before = CALLS.load(Ordering::Relaxed);
    for _ in 0..80 {
        v.write(o.id, None, &chunk).unwrap();
    }
    std::println!(
        "5 MiB: {} disk calls, {} small reads, {:?}",
        CALLS.load(Ordering::Relaxed) - before,
        SMALL_READS.load(Ordering::Relaxed),
        t.elapsed()
    );
}
