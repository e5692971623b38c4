//! `fstest`: the file system as programs see it — the VFS, the writable tmpfs, `/dev`
//! and the descriptor calls.
//!
//! Creates, writes and reads back; appends; truncates; seeks past the end (holes); keeps
//! an unlinked file readable while open; makes and removes directories; renames files and
//! directories under POSIX rules (over an existing file, into itself, across mounts);
//! lists directories; checks `stat` types, sizes and timestamps; resolves `.`, `..`,
//! `//` and over-long names; gets the errors right (`EISDIR`, `ENOTDIR`, `ENOENT`,
//! `EBADF`, `EEXIST`); uses `/dev/null`, `/dev/zero` and `/dev/console`; writes a file
//! over 1 MiB; fills the inode table to `ENOSPC` and recovers; shares a position through
//! `dup` and `fork`; closes `O_CLOEXEC` descriptors in `execve`; finds the programs in
//! `/bin` and runs a copy of one from `/tmp`.
//!
//! On `/disk` (the FAT volume init mounts, [`Disk`]): the same operations on FAT's
//! terms (long and case-insensitive names, no inodes: an open file cannot be removed or
//! renamed), a 3 MiB file checked by SHA-256, `fsync`, `EXDEV` to and from the tree,
//! running a program from the disk, `umount` refused (`EBUSY`) with a file or working
//! directory open, a read-only remount refusing every change (`EROFS`), and the data still
//! there after `umount` and `mount` again. Filling the volume to `ENOSPC` is left to the
//! host tests (`wayos_kcore::fs::fat`), which do it on a small image: here it would mean
//! writing 64 MiB. Without a FAT volume on `/disk` these checks are skipped (the harness
//! always attaches one).
//!
//! Expected values are computed here: file contents from [`byte`], sizes and counts from
//! the test's own arithmetic, free inodes and pages from `statfs` before the test. All
//! work happens in `/tmp/fstest.<pid>`, removed at the end.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::blk::DISK_MOUNT;
use libway::abi::errno::{
    self, EBADF, EEXIST, EINVAL, EISDIR, ENAMETOOLONG, ENOENT, ENOSPC, ENOTDIR, ENOTEMPTY, ESPIPE,
    EXDEV,
};
use libway::abi::fcntl::{O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_WRONLY};
use libway::abi::fs::{DEV_CONSOLE, DEV_NULL, DT_DIR, DT_REG, MS_RDONLY};
use libway::abi::limits::{NAME_MAX, PATH_MAX};
use libway::abi::Timespec;
use libway::fs::{self, File, OpenOptions, SeekFrom, StatExt};
use libway::suite::{
    expect_bytes, expect_eq, expect_errno, expect_exit, in_child, wait_for, Check, Context, Suite,
    CHILD_TIMEOUT_MS,
};
use libway::{io, process, Args};

libway::entry!(main);

const SELF: &str = "/bin/fstest";
/// `fstest exit N`: exits with status N (the program run from a copy in `/tmp`).
const EXIT_MODE: &str = "exit";
/// `fstest probe A B`: exits 0 if descriptor A is closed and B is open (after execve).
const PROBE_MODE: &str = "probe";

/// The byte at offset `i` of test file `seed`: varies with the offset inside a page and
/// with the page, so a misplaced page or offset shows.
fn byte(seed: u8, i: usize) -> u8 {
    (i as u8).wrapping_mul(31) ^ ((i / 4096) as u8).wrapping_mul(7) ^ seed
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| byte(seed, i)).collect()
}

fn read_exact(f: &File, len: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match f.read(&mut buf[got..]).context("read")? {
            0 => break,
            n => got += n,
        }
    }
    buf.truncate(got);
    Ok(buf)
}

fn rw(path: &str) -> Result<File, String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o640)
        .open(path)
        .context(path)
}

/// The names in directory `path`, sorted.
fn names(path: &str) -> Result<Vec<(String, u8)>, String> {
    let mut out = Vec::new();
    for e in fs::read_dir(path).context(path)? {
        let e = e.context("readdir")?;
        out.push((e.name, e.kind));
    }
    out.sort();
    Ok(out)
}

struct T {
    dir: String,
}

impl T {
    fn p(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    fn create_write_read(&self) -> Check {
        let path = self.p("basic");
        let data = pattern(1, 1000);
        let f = rw(&path)?;
        expect_eq(f.write(&data).context("write")?, 1000).context("write")?;
        expect_eq(f.seek(SeekFrom::Current(0)).context("seek")?, 1000)
            .context("position after write")?;
        f.seek(SeekFrom::Start(0)).context("seek")?;
        expect_bytes(&read_exact(&f, 2000)?, &data).context("read back")?;
        let st = fs::stat(&path).context("stat")?;
        expect_eq(st.size, 1000).context("size")?;
        expect_eq(st.is_file(), true).context("is a file")?;
        expect_eq(st.perm(), 0o640).context("permissions")?;
        expect_eq(st.nlink, 1).context("links")?;
        expect_eq(st.blocks, 8).context("blocks")?;
        let fst = f.stat().context("fstat")?;
        expect_eq(fst.ino, st.ino).context("fstat ino")?;
        fs::remove_file(&path).context("unlink")
    }

    fn append(&self) -> Check {
        let path = self.p("append");
        fs::write(&path, b"xyz").context("write")?;
        let f = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .context("open")?;
        f.write_all(b"abc").context("write")?;
        // O_APPEND ignores the position for writes.
        f.seek(SeekFrom::Start(0)).context("seek")?;
        f.write_all(b"def").context("write")?;
        expect_eq(f.seek(SeekFrom::Current(0)).context("seek")?, 9).context("position")?;
        expect_bytes(&fs::read(&path).context("read")?, b"xyzabcdef").context("contents")?;
        fs::remove_file(&path).context("unlink")
    }

    fn truncate(&self) -> Check {
        let path = self.p("trunc");
        let f = rw(&path)?;
        f.write_all(&[0xab; 5000]).context("write")?;
        f.set_len(100).context("ftruncate 100")?;
        expect_eq(f.stat().context("fstat")?.size, 100).context("size")?;
        f.set_len(3000).context("ftruncate 3000")?;
        let mut want = vec![0xab; 100];
        want.resize(3000, 0);
        expect_bytes(&fs::read(&path).context("read")?, &want).context("after shrink and grow")?;
        fs::truncate(&path, 0).context("truncate")?;
        expect_eq(fs::stat(&path).context("stat")?.size, 0).context("size")?;
        // O_TRUNC empties on open.
        fs::write(&path, b"1234").context("write")?;
        drop(File::create(&path).context("create")?);
        expect_eq(fs::stat(&path).context("stat")?.size, 0).context("size after O_TRUNC")?;
        let ro = File::open(&path).context("open")?;
        expect_errno(ro.set_len(1), EINVAL).context("ftruncate read-only")?;
        fs::remove_file(&path).context("unlink")
    }

    fn seek_and_holes(&self) -> Check {
        let path = self.p("holes");
        let f = rw(&path)?;
        f.write_all(b"head").context("write")?;
        expect_eq(f.seek(SeekFrom::End(0)).context("seek")?, 4).context("SEEK_END")?;
        expect_eq(f.seek(SeekFrom::Start(10_000)).context("seek")?, 10_000)
            .context("seek past end")?;
        f.write_all(b"Z").context("write")?;
        expect_eq(f.stat().context("fstat")?.size, 10_001).context("size")?;
        let mut want = vec![0u8; 10_001];
        want[..4].copy_from_slice(b"head");
        want[10_000] = b'Z';
        expect_bytes(&fs::read(&path).context("read")?, &want).context("hole reads zeros")?;
        expect_eq(f.seek(SeekFrom::End(-1)).context("seek")?, 10_000).context("SEEK_END -1")?;
        expect_bytes(&read_exact(&f, 5)?, b"Z").context("last byte")?;
        expect_errno(f.seek(SeekFrom::Current(-20_000)), EINVAL).context("negative position")?;
        expect_errno(fs::lseek(f.fd(), 0, 7), EINVAL).context("bad whence")?;
        expect_errno(fs::lseek(io::STDOUT, 0, 0), ESPIPE).context("lseek on a stream")?;
        fs::remove_file(&path).context("unlink")
    }

    fn unlink_while_open(&self) -> Check {
        let before = fs::statfs(&self.dir).context("statfs")?;
        let path = self.p("ghost");
        fs::write(&path, b"still here").context("write")?;
        let f = File::open(&path).context("open")?;
        fs::remove_file(&path).context("unlink")?;
        expect_errno(fs::stat(&path), ENOENT).context("stat after unlink")?;
        expect_errno(fs::remove_file(&path), ENOENT).context("unlink again")?;
        expect_eq(f.stat().context("fstat")?.nlink, 0).context("nlink of open file")?;
        expect_bytes(&read_exact(&f, 100)?, b"still here").context("read after unlink")?;
        drop(f);
        let after = fs::statfs(&self.dir).context("statfs")?;
        expect_eq(after.ffree, before.ffree).context("free inodes after close")?;
        expect_eq(after.bfree, before.bfree).context("free blocks after close")
    }

    fn mkdir_rmdir(&self) -> Check {
        let d = self.p("d");
        let links = fs::stat(&self.dir).context("stat")?.nlink;
        fs::mkdir(&d, 0o750).context("mkdir")?;
        expect_errno(fs::mkdir(&d, 0o750), EEXIST).context("mkdir again")?;
        let st = fs::stat(&d).context("stat")?;
        expect_eq(st.is_dir(), true).context("is a directory")?;
        expect_eq(st.perm(), 0o750).context("permissions")?;
        expect_eq(st.nlink, 2).context("new dir links")?;
        expect_eq(fs::stat(&self.dir).context("stat")?.nlink, links + 1).context("parent links")?;
        let f = format!("{d}/f");
        fs::write(&f, b"x").context("write")?;
        expect_errno(fs::remove_dir(&d), ENOTEMPTY).context("rmdir non-empty")?;
        expect_errno(fs::remove_dir(&f), ENOTDIR).context("rmdir a file")?;
        expect_errno(fs::remove_file(&d), EISDIR).context("unlink a directory")?;
        expect_errno(fs::remove_dir(&format!("{d}/.")), EINVAL).context("rmdir .")?;
        fs::remove_file(&f).context("unlink")?;
        fs::remove_dir(&d).context("rmdir")?;
        expect_errno(fs::stat(&d), ENOENT).context("stat removed dir")?;
        expect_eq(fs::stat(&self.dir).context("stat")?.nlink, links).context("parent links after")
    }

    fn rename(&self) -> Check {
        let (a, b, c) = (self.p("ra"), self.p("rb"), self.p("rc"));
        fs::write(&a, b"AAA").context("write a")?;
        fs::write(&c, b"C").context("write c")?;
        let ino = fs::stat(&a).context("stat")?.ino;
        fs::rename(&a, &b).context("rename a b")?;
        expect_errno(fs::stat(&a), ENOENT).context("old name")?;
        expect_eq(fs::stat(&b).context("stat")?.ino, ino).context("same inode")?;
        fs::rename(&b, &c).context("rename b over c")?;
        expect_bytes(&fs::read(&c).context("read")?, b"AAA").context("replaced contents")?;
        expect_errno(fs::stat(&b), ENOENT).context("b is gone")?;
        fs::rename(&c, &c).context("rename onto itself")?;
        // Directories.
        let (d, e) = (self.p("rd"), self.p("re"));
        fs::mkdir(&d, 0o755).context("mkdir")?;
        fs::mkdir(&format!("{d}/sub"), 0o755).context("mkdir")?;
        expect_errno(fs::rename(&d, &format!("{d}/sub/x")), EINVAL).context("into itself")?;
        expect_errno(fs::rename(&c, &d), EISDIR).context("file over dir")?;
        expect_errno(fs::rename(&d, &c), ENOTDIR).context("dir over file")?;
        fs::mkdir(&e, 0o755).context("mkdir")?;
        expect_errno(fs::rename(&e, &d), ENOTEMPTY).context("dir over non-empty dir")?;
        fs::rename(&d, &e).context("dir over empty dir")?;
        expect_eq(
            fs::stat(&format!("{e}/sub")).context("stat")?.is_dir(),
            true,
        )
        .context("moved tree")?;
        expect_errno(fs::rename(&c, "/dev/fstest"), EXDEV).context("across mounts")?;
        expect_errno(fs::rename("/dev", &self.p("dev")), errno::EBUSY).context("a mount point")?;
        fs::remove_dir(&format!("{e}/sub")).context("rmdir")?;
        fs::remove_dir(&e).context("rmdir")?;
        fs::remove_file(&c).context("unlink")
    }

    fn readdir(&self) -> Check {
        let d = self.p("list");
        fs::mkdir(&d, 0o755).context("mkdir")?;
        expect_eq(names(&d)?, Vec::new()).context("empty")?;
        for n in ["one", "two", "three"] {
            fs::write(&format!("{d}/{n}"), n.as_bytes()).context("write")?;
        }
        fs::mkdir(&format!("{d}/sub"), 0o755).context("mkdir")?;
        let s = |n: &str, k| (String::from(n), k);
        let want = vec![
            s("one", DT_REG),
            s("sub", DT_DIR),
            s("three", DT_REG),
            s("two", DT_REG),
        ];
        expect_eq(names(&d)?, want).context("listing")?;
        fs::remove_file(&format!("{d}/two")).context("unlink")?;
        let want = vec![s("one", DT_REG), s("sub", DT_DIR), s("three", DT_REG)];
        expect_eq(names(&d)?, want).context("after unlink")?;
        // The raw records include `.` and `..` with the right inodes.
        let dir = OpenOptions::new()
            .directory(true)
            .read(true)
            .open(&d)
            .context("open")?;
        let mut buf = [0u8; 512];
        let n = fs::getdents(dir.fd(), &mut buf).context("getdents")?;
        let recs: Vec<(u64, String)> = fs::dirents(&buf[..n])
            .map(|(ino, _, name)| (ino, String::from(name)))
            .collect();
        let dot = fs::stat(&d).context("stat")?.ino;
        let dotdot = fs::stat(&self.dir).context("stat")?.ino;
        expect_eq(&recs[..2], &[(dot, s(".", 0).0), (dotdot, s("..", 0).0)])
            .context("first records")?;
        expect_eq(recs.len(), 5).context("records")?;
        expect_eq(fs::getdents(dir.fd(), &mut buf).context("getdents")?, 0)
            .context("at the end")?;
        let f = File::open(&format!("{d}/one")).context("open")?;
        expect_errno(fs::getdents(f.fd(), &mut buf), ENOTDIR).context("getdents on a file")?;
        drop(dir);
        // Rewind works on a fresh directory handle with a tiny buffer: one record fits.
        let dir = OpenOptions::new()
            .directory(true)
            .read(true)
            .open(&d)
            .context("open")?;
        let mut small = [0u8; 24];
        expect_eq(fs::getdents(dir.fd(), &mut small).context("getdents")?, 24)
            .context("one record")?;
        expect_errno(fs::getdents(dir.fd(), &mut [0u8; 16]), EINVAL)
            .context("too small for one")?;
        for n in ["one", "three"] {
            fs::remove_file(&format!("{d}/{n}")).context("unlink")?;
        }
        fs::remove_dir(&format!("{d}/sub")).context("rmdir")?;
        fs::remove_dir(&d).context("rmdir")
    }

    fn stat_and_times(&self) -> Check {
        expect_eq(fs::stat("/").context("stat /")?.is_dir(), true).context("/ is a directory")?;
        let null = fs::stat("/dev/null").context("stat")?;
        expect_eq(null.is_char_device(), true).context("/dev/null type")?;
        expect_eq(null.rdev, DEV_NULL).context("/dev/null rdev")?;
        let path = self.p("times");
        fs::write(&path, b"x").context("write")?;
        let t0 = fs::stat(&path).context("stat")?;
        libway::time::sleep_ms(20).context("sleep")?;
        let f = OpenOptions::new().write(true).open(&path).context("open")?;
        f.write_all(b"yz").context("write")?;
        let t1 = fs::stat(&path).context("stat")?;
        if t1.mtime_ns() <= t0.mtime_ns()
            || t1.ctime.sec * 1_000_000_000 + t1.ctime.nsec
                <= t0.ctime.sec * 1_000_000_000 + t0.ctime.nsec
        {
            return Err(format!("mtime/ctime did not advance: {t0:?} -> {t1:?}"));
        }
        expect_eq(t1.atime, t0.atime).context("atime unchanged by a write")?;
        libway::time::sleep_ms(20).context("sleep")?;
        fs::read(&path).context("read")?;
        let t2 = fs::stat(&path).context("stat")?;
        if (t2.atime.sec, t2.atime.nsec) <= (t1.atime.sec, t1.atime.nsec) {
            return Err(format!("atime did not advance on read: {t1:?} -> {t2:?}"));
        }
        expect_eq(t2.mtime, t1.mtime).context("mtime unchanged by a read")?;
        let set = [
            Timespec { sec: 1000, nsec: 5 },
            Timespec {
                sec: 2000,
                nsec: 500_000_000,
            },
        ];
        fs::utimens(&path, Some(&set)).context("utimens")?;
        let t3 = fs::stat(&path).context("stat")?;
        expect_eq(t3.atime, set[0]).context("atime set")?;
        expect_eq(t3.mtime, set[1]).context("mtime set")?;
        let omit = [
            Timespec {
                sec: 0,
                nsec: libway::abi::fs::UTIME_OMIT,
            },
            Timespec { sec: 7, nsec: 0 },
        ];
        fs::utimens(&path, Some(&omit)).context("utimens omit")?;
        expect_eq(fs::stat(&path).context("stat")?.atime, set[0]).context("atime kept")?;
        let bad = [
            Timespec {
                sec: 1,
                nsec: 1_000_000_000,
            },
            set[1],
        ];
        expect_errno(fs::utimens(&path, Some(&bad)), EINVAL).context("utimens bad nsec")?;
        fs::utimens(&path, None).context("utimens now")?;
        let t4 = fs::stat(&path).context("stat")?;
        if t4.mtime_ns() < t2.mtime_ns() {
            return Err(format!("utimens(now) went back in time: {t4:?}"));
        }
        expect_errno(fs::utimens(&self.p("nope"), None), ENOENT).context("utimens missing")?;
        fs::remove_file(&path).context("unlink")
    }

    fn paths(&self) -> Check {
        let d = self.p("pd");
        fs::mkdir(&d, 0o755).context("mkdir")?;
        let f = format!("{d}/f");
        fs::write(&f, b"f").context("write")?;
        let ino = fs::stat(&f).context("stat")?.ino;
        let odd = format!(
            "/tmp//{}/./pd/../pd///f",
            self.dir.trim_start_matches("/tmp/")
        );
        expect_eq(fs::stat(&odd).context(&odd)?.ino, ino).context("dots and slashes")?;
        expect_eq(
            fs::stat("/..").context("stat")?.ino,
            fs::stat("/").context("stat")?.ino,
        )
        .context("/..")?;
        expect_eq(
            fs::stat("/dev/..").context("stat")?.ino,
            fs::stat("/").context("stat")?.ino,
        )
        .context("/dev/..")?;
        expect_errno(fs::stat(&format!("{f}/..")), ENOTDIR).context("file/..")?;
        expect_errno(fs::stat(&format!("{f}/")), ENOTDIR).context("file/")?;
        expect_errno(fs::stat(&format!("{d}/missing/../f")), ENOENT).context("missing/..")?;
        expect_errno(fs::stat(""), ENOENT).context("empty path")?;
        let max = format!("{d}/{}", "n".repeat(NAME_MAX));
        fs::write(&max, b"ok").context("NAME_MAX name")?;
        fs::remove_file(&max).context("unlink")?;
        let over = format!("{d}/{}", "n".repeat(NAME_MAX + 1));
        expect_errno(fs::write(&over, b"no"), ENAMETOOLONG).context("NAME_MAX + 1")?;
        expect_errno(fs::stat(&format!("{over}/x")), ENAMETOOLONG)
            .context("long component mid-path")?;
        let mut long = String::from("/");
        while long.len() <= PATH_MAX {
            long.push_str("./");
        }
        expect_errno(fs::stat(&long), ENAMETOOLONG).context("PATH_MAX + 1")?;
        long.truncate(PATH_MAX);
        expect_eq(fs::stat(&long).context("stat")?.is_dir(), true).context("PATH_MAX of ./")?;
        fs::remove_file(&f).context("unlink")?;
        fs::remove_dir(&d).context("rmdir")
    }

    fn errors(&self) -> Check {
        let f = self.p("err");
        fs::write(&f, b"e").context("write")?;
        expect_errno(fs::open_raw(&self.dir, O_WRONLY, 0), EISDIR)
            .context("open dir for writing")?;
        expect_errno(fs::open_raw(&self.p("missing"), O_RDONLY, 0), ENOENT)
            .context("open missing")?;
        expect_errno(fs::open_raw(&format!("{f}/x"), O_RDONLY, 0), ENOTDIR)
            .context("file as directory")?;
        expect_errno(fs::open_raw(&f, O_CREAT | O_EXCL | O_RDWR, 0o644), EEXIST)
            .context("O_CREAT|O_EXCL on existing")?;
        expect_errno(fs::open_raw(&f, O_DIRECTORY, 0), ENOTDIR).context("O_DIRECTORY on a file")?;
        expect_errno(fs::open_raw(&f, 0o40_000_000, 0), EINVAL).context("unknown flag")?;
        let dir = File::open(&self.dir).context("open dir")?;
        expect_errno(dir.read(&mut [0u8; 8]), EISDIR).context("read a directory")?;
        let wo = OpenOptions::new().write(true).open(&f).context("open")?;
        expect_errno(wo.read(&mut [0u8; 8]), EBADF).context("read write-only")?;
        let ro = File::open(&f).context("open")?;
        expect_errno(ro.write(b"x"), EBADF).context("write read-only")?;
        expect_errno(fs::chdir(&f), ENOTDIR).context("chdir to a file")?;
        expect_errno(fs::mkdir(&format!("{f}/d"), 0o755), ENOTDIR).context("mkdir in a file")?;
        expect_errno(fs::remove_dir("/"), errno::EBUSY).context("rmdir /")?;
        fs::remove_file(&f).context("unlink")
    }

    fn devices(&self) -> Check {
        let null = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .context("open /dev/null")?;
        expect_eq(null.write(&[1u8; 3000]).context("write")?, 3000).context("write /dev/null")?;
        expect_eq(null.read(&mut [0u8; 16]).context("read")?, 0).context("read /dev/null")?;
        expect_errno(null.seek(SeekFrom::Start(0)), ESPIPE).context("seek /dev/null")?;
        let zero = File::open("/dev/zero").context("open /dev/zero")?;
        let mut buf = vec![0xffu8; 10_000];
        expect_eq(zero.read(&mut buf).context("read")?, 10_000).context("read /dev/zero")?;
        if buf.iter().any(|&b| b != 0) {
            return Err(String::from("/dev/zero gave a non-zero byte"));
        }
        expect_errno(zero.write(b"x"), EBADF).context("write read-only /dev/zero")?;
        let st = fs::stat("/dev/console").context("stat")?;
        expect_eq((st.is_char_device(), st.rdev), (true, DEV_CONSOLE))
            .context("/dev/console rdev")?;
        let con = OpenOptions::new()
            .write(true)
            .open("/dev/console")
            .context("open /dev/console")?;
        expect_eq(
            con.write(b"fstest: via /dev/console\n").context("write")?,
            25,
        )
        .context("write /dev/console")?;
        expect_eq(con.stat().context("fstat")?.rdev, DEV_CONSOLE).context("fstat /dev/console")?;
        let mut dev = names("/dev")?;
        dev.retain(|(n, _)| ["console", "null", "zero"].contains(&n.as_str()));
        expect_eq(dev.len(), 3).context("/dev lists its devices")?;
        expect_errno(fs::stat("/dev/nonexistent"), ENOENT).context("missing device")
    }

    fn big_file(&self) -> Check {
        const LEN: usize = 1536 * 1024;
        let before = fs::statfs(&self.dir).context("statfs")?;
        if before.max_file_size < LEN as u64 {
            return Err(format!("largest file {} bytes", before.max_file_size));
        }
        let path = self.p("big");
        let f = rw(&path)?;
        let data = pattern(3, LEN);
        for chunk in data.chunks(4096) {
            f.write_all(chunk).context("write")?;
        }
        let st = f.stat().context("fstat")?;
        expect_eq(st.size, LEN as u64).context("size")?;
        expect_eq(st.blocks, (LEN / 512) as u64).context("blocks")?;
        let mid = fs::statfs(&self.dir).context("statfs")?;
        expect_eq(before.bfree - mid.bfree, (LEN / 4096) as u64).context("pages used")?;
        f.seek(SeekFrom::Start(0)).context("seek")?;
        // Read back in odd-sized pieces so reads straddle pages.
        let mut back = Vec::with_capacity(LEN);
        let mut buf = vec![0u8; 3000];
        loop {
            match f.read(&mut buf).context("read")? {
                0 => break,
                n => back.extend_from_slice(&buf[..n]),
            }
        }
        expect_bytes(&back, &data).context("1.5 MiB read back")?;
        drop(f);
        fs::remove_file(&path).context("unlink")?;
        let after = fs::statfs(&self.dir).context("statfs")?;
        expect_eq(after.bfree, before.bfree).context("pages freed")
    }

    fn inode_limit(&self) -> Check {
        let d = self.p("many");
        fs::mkdir(&d, 0o755).context("mkdir")?;
        let st = fs::statfs(&d).context("statfs")?;
        if st.files < 512 {
            return Err(format!("only {} inodes", st.files));
        }
        let free = st.ffree as usize;
        let name = |i: usize| format!("{d}/{i}");
        let mut made = 0;
        let mut result = Ok(());
        while made < free {
            match fs::open_raw(&name(made), O_CREAT | O_EXCL | O_WRONLY, 0o644) {
                Ok(fd) => {
                    let _ = io::close(fd);
                    made += 1;
                }
                Err(e) => {
                    result = Err(format!("create {made} of {free}: {e}"));
                    break;
                }
            }
        }
        if result.is_ok() {
            result = expect_errno(fs::open_raw(&name(made), O_CREAT | O_WRONLY, 0o644), ENOSPC)
                .context("one more file")
                .and_then(|()| {
                    expect_errno(fs::mkdir(&name(made), 0o755), ENOSPC).context("one more dir")
                })
                .and_then(|()| {
                    expect_errno(fs::stat(&name(made)), ENOENT).context("no name left behind")
                })
                .and_then(|()| {
                    expect_eq(fs::statfs(&d).context("statfs")?.ffree, 0).context("free inodes")
                })
                .and_then(|()| fs::remove_file(&name(0)).context("unlink one"))
                .and_then(|()| fs::write(&name(0), b"ok").context("create after freeing"));
        }
        for i in 0..made {
            if let Err(e) = fs::remove_file(&name(i)) {
                result = result.and(Err(format!("cleanup {i}: {e}")));
            }
        }
        fs::remove_dir(&d).context("rmdir")?;
        result?;
        let after = fs::statfs(&self.dir).context("statfs")?;
        expect_eq(after.ffree, st.ffree + 1).context("free inodes after cleanup")
    }

    fn dup_shares_position(&self) -> Check {
        let path = self.p("dup");
        fs::write(&path, b"abcdef").context("write")?;
        let f = File::open(&path).context("open")?;
        let g = File::from_raw_fd(io::dup(f.fd()).context("dup")?);
        if g.fd() == f.fd() {
            return Err(format!("dup returned the same fd {}", f.fd()));
        }
        expect_bytes(&read_exact(&f, 2)?, b"ab").context("first")?;
        expect_bytes(&read_exact(&g, 2)?, b"cd").context("through the dup")?;
        expect_eq(f.seek(SeekFrom::Current(0)).context("seek")?, 4).context("shared position")?;
        let fd = f.fd();
        let status = in_child(|| {
            let mut b = [0u8; 1];
            match io::read(fd, &mut b) {
                Ok(1) if b[0] == b'e' => 0,
                _ => 1,
            }
        })?;
        expect_exit(status, 0)?;
        expect_bytes(&read_exact(&g, 5)?, b"f").context("after the child read")?;
        expect_errno(io::dup(200), EBADF).context("dup of a closed fd")?;
        fs::remove_file(&path).context("unlink")
    }

    fn cloexec(&self) -> Check {
        let path = self.p("cloexec");
        fs::write(&path, b"c").context("write")?;
        let closing = OpenOptions::new()
            .read(true)
            .cloexec(true)
            .open(&path)
            .context("open")?;
        let staying = File::open(&path).context("open")?;
        let (a, b) = (format!("{}", closing.fd()), format!("{}", staying.fd()));
        let pid = match process::fork() {
            Ok(0) => {
                let e = process::execve(SELF, &[SELF, PROBE_MODE, &a, &b], &[]);
                libway::eprintln!("fstest: execve: {e}");
                process::exit(100)
            }
            Ok(pid) => pid,
            Err(e) => return Err(format!("fork: {e}")),
        };
        expect_exit(wait_for(pid, CHILD_TIMEOUT_MS)?, 0)?;
        // The parent's descriptors are untouched.
        closing.stat().context("fstat")?;
        fs::remove_file(&path).context("unlink")
    }

    fn bin_and_exec(&self) -> Check {
        let bin = names("/bin")?;
        for want in ["init", "fstest", "hello", "badsys", "console"] {
            if !bin.iter().any(|(n, k)| n == want && *k == DT_REG) {
                return Err(format!("/bin has no {want}: {bin:?}"));
            }
        }
        let image = fs::read(SELF).context("read")?;
        expect_eq(&image[..4], b"\x7fELF".as_slice()).context("ELF magic")?;
        expect_eq(fs::stat(SELF).context("stat")?.size, image.len() as u64).context("size")?;
        let release = fs::read("/etc/wayos-release").context("read")?;
        if !release.starts_with(b"WayOS ") {
            return Err(format!("/etc/wayos-release: {release:?}"));
        }
        // A program copied into tmpfs runs from there.
        let copy = self.p("fstest-copy");
        fs::write(&copy, &image).context("write copy")?;
        let pid = process::spawn(&copy, &[&copy, EXIT_MODE, "7"], &[]).context("spawn copy")?;
        expect_exit(wait_for(pid, CHILD_TIMEOUT_MS)?, 7)?;
        // A relative path resolves against the working directory.
        let pid = {
            let cwd = fs::getcwd().context("getcwd")?;
            fs::chdir("/").context("chdir /")?;
            let r = process::spawn("bin/fstest", &["fstest", EXIT_MODE, "9"], &[]);
            fs::chdir(&cwd).context("chdir back")?;
            r
        }
        .context("spawn bin/fstest from /")?;
        expect_exit(wait_for(pid, CHILD_TIMEOUT_MS)?, 9)?;
        expect_errno(process::spawn("/bin", &["/bin"], &[]), errno::EACCES)
            .context("spawn a directory")?;
        fs::remove_file(&copy).context("unlink")
    }

    fn cwd(&self) -> Check {
        let orig = fs::getcwd().context("getcwd")?;
        fs::chdir(&self.dir).context("chdir")?;
        expect_eq(fs::getcwd().context("getcwd")?, self.dir.clone()).context("getcwd")?;
        fs::write("rel", b"r").context("relative create")?;
        expect_eq(fs::stat(&self.p("rel")).context("stat")?.size, 1).context("made here")?;
        fs::mkdir("sub", 0o755).context("mkdir")?;
        fs::chdir("sub").context("chdir sub")?;
        expect_eq(fs::getcwd().context("getcwd")?, self.p("sub")).context("getcwd")?;
        fs::chdir("..").context("chdir ..")?;
        expect_eq(fs::getcwd().context("getcwd")?, self.dir.clone()).context("back up")?;
        // The working directory survives a rename of itself and follows it.
        fs::chdir("sub").context("chdir sub")?;
        fs::rename(&self.p("sub"), &self.p("sub2")).context("rename")?;
        expect_eq(fs::getcwd().context("getcwd")?, self.p("sub2")).context("renamed")?;
        // ... and its removal makes getcwd and relative lookups fail.
        fs::remove_dir(&self.p("sub2")).context("rmdir")?;
        expect_errno(fs::getcwd(), ENOENT).context("getcwd of removed dir")?;
        expect_errno(fs::stat("x"), ENOENT).context("relative in removed dir")?;
        let child = in_child(|| match fs::getcwd() {
            Err(e) if e.code() == ENOENT => 0,
            _ => 1,
        })?;
        expect_exit(child, 0)?;
        fs::chdir(&orig).context("chdir back")?;
        fs::remove_file(&self.p("rel")).context("unlink")
    }
}

/// The checks on the FAT volume on `/disk`, in `/disk/fstest.<pid>`.
struct Disk {
    dir: String,
    /// The block device it is mounted from.
    dev: usize,
}

/// The mount on `/disk`, if it is a FAT volume: its device number.
fn disk_device() -> Option<usize> {
    let list = fs::mounts().ok()?;
    let m = list.iter().find(|m| fs::field_str(&m.path) == DISK_MOUNT)?;
    if fs::field_str(&m.fstype) != "vfat" {
        return None;
    }
    fs::field_str(&m.source).strip_prefix("blk")?.parse().ok()
}

fn sha256(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    coreutils::sum::hex(&Sha256::digest(data))
}

/// Writes `data` to `path` in 64 KiB pieces (as `cp` does), then `fsync`s it.
fn write_synced(path: &str, data: &[u8]) -> Check {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .context(path)?;
    for chunk in data.chunks(64 * 1024) {
        expect_eq(f.write(chunk).context("write")?, chunk.len()).context("write")?;
    }
    f.sync_all().context("fsync")
}

const BIG: usize = 3 << 20;

fn disk_checks(s: &mut Suite) {
    let Some(dev) = disk_device() else {
        s.skip("disk", "no FAT volume mounted on /disk");
        return;
    };
    let dir = format!("{DISK_MOUNT}/fstest.{}", process::getpid().unwrap_or(0));
    if let Err(e) = fs::mkdir(&dir, 0o755) {
        s.check("disk_setup", Err(format!("mkdir {dir}: {e}")));
        return;
    }
    let d = Disk { dir, dev };
    s.check("disk_files", d.files());
    s.check("disk_directories", d.directories());
    s.check("disk_names", d.names());
    s.check("disk_open_files_stay", d.open_files_stay());
    s.check("disk_big_file_sha256", d.big_file());
    s.check("disk_cross_mount", d.cross_mount());
    s.check("disk_exec", d.exec());
    s.check("disk_umount_busy", d.umount_busy());
    s.check("disk_remount", d.remount());
    let r = match names(&d.dir) {
        Ok(left) if left.is_empty() => fs::remove_dir(&d.dir).context("rmdir"),
        Ok(left) => Err(format!("left behind: {left:?}")),
        Err(e) => Err(e),
    };
    s.check("disk_cleanup", r);
}

impl Disk {
    fn p(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    /// Create, write, read, seek, holes, append, truncate, stat, fsync, unlink.
    fn files(&self) -> Check {
        let path = self.p("file");
        let data = pattern(3, 5000);
        let f = rw(&path)?;
        expect_eq(f.write(&data).context("write")?, 5000).context("write")?;
        f.seek(SeekFrom::Start(0)).context("seek")?;
        expect_bytes(&read_exact(&f, 6000)?, &data).context("read back")?;
        // Overwrite in the middle, then write past the end: the gap reads as zeros.
        f.seek(SeekFrom::Start(100)).context("seek")?;
        f.write(b"MIDDLE").context("write")?;
        expect_eq(f.seek(SeekFrom::End(3000)).context("seek end")?, 8000).context("seek end")?;
        f.write(b"END").context("write")?;
        let mut want = data.clone();
        want[100..106].copy_from_slice(b"MIDDLE");
        want.resize(8000, 0);
        want.extend_from_slice(b"END");
        f.seek(SeekFrom::Start(0)).context("seek")?;
        expect_bytes(&read_exact(&f, 9000)?, &want).context("after overwrite and hole")?;
        let st = f.stat().context("fstat")?;
        expect_eq(st.size, 8003).context("fstat size")?;
        expect_eq(st.is_file(), true).context("regular")?;
        f.sync_all().context("fsync")?;
        drop(f);
        // Append goes to the end whatever the position.
        let a = OpenOptions::new()
            .append(true)
            .open(&path)
            .context("open append")?;
        a.write(b"++").context("append")?;
        drop(a);
        expect_eq(fs::stat(&path).context("stat")?.size, 8005).context("appended")?;
        // Truncate down and up (zeros), by path and by descriptor.
        fs::truncate(&path, 10).context("truncate")?;
        expect_bytes(&fs::read(&path).context("read")?, &want[..10]).context("cut")?;
        let f = rw(&path)?;
        f.set_len(20).context("ftruncate")?;
        let mut grown = want[..10].to_vec();
        grown.resize(20, 0);
        expect_bytes(&read_exact(&f, 100)?, &grown).context("grown with zeros")?;
        drop(f);
        // A modification time the test sets comes back (FAT keeps 2-second steps).
        let t = Timespec {
            sec: 1_600_000_000,
            nsec: 0,
        };
        fs::utimens(&path, Some(&[t, t])).context("utimens")?;
        expect_eq(fs::stat(&path).context("stat")?.mtime.sec, t.sec).context("mtime")?;
        fs::remove_file(&path).context("unlink")?;
        expect_errno(fs::stat(&path), ENOENT).context("gone")
    }

    /// mkdir, rmdir, getdents, rename of files and directories.
    fn directories(&self) -> Check {
        let a = self.p("a");
        fs::mkdir(&a, 0o755).context("mkdir")?;
        expect_errno(fs::mkdir(&a, 0o755), EEXIST).context("mkdir again")?;
        expect_eq(fs::stat(&a).context("stat")?.is_dir(), true).context("is a directory")?;
        for i in 0..40 {
            fs::write(&format!("{a}/entry {i:02}.dat"), &[i as u8; 10]).context("create")?;
        }
        fs::mkdir(&format!("{a}/inner"), 0o755).context("mkdir inner")?;
        let list = names(&a)?;
        expect_eq(list.len(), 41).context("entries")?;
        expect_eq(list.iter().filter(|(_, k)| *k == DT_DIR).count(), 1).context("dirs")?;
        if !list
            .iter()
            .any(|(n, k)| n == "entry 07.dat" && *k == DT_REG)
        {
            return Err(format!("no 'entry 07.dat' in {list:?}"));
        }
        expect_errno(fs::remove_dir(&a), ENOTEMPTY).context("rmdir non-empty")?;
        expect_errno(fs::remove_file(&a), EISDIR).context("unlink a directory")?;
        expect_errno(fs::remove_dir(&format!("{a}/entry 01.dat")), ENOTDIR)
            .context("rmdir file")?;
        // Rename: a file over a file, a file to a new name, a directory in place.
        fs::rename(&format!("{a}/entry 01.dat"), &format!("{a}/entry 02.dat")).context("over")?;
        expect_bytes(
            &fs::read(&format!("{a}/entry 02.dat")).context("read")?,
            &[1; 10],
        )
        .context("replaced")?;
        fs::rename(&format!("{a}/entry 03.dat"), &format!("{a}/inner/moved")).context("move")?;
        expect_bytes(
            &fs::read(&format!("{a}/inner/moved")).context("read")?,
            &[3; 10],
        )
        .context("moved")?;
        expect_errno(fs::rename(&a, &format!("{a}/inner/x")), EINVAL).context("into itself")?;
        let b = self.p("b");
        fs::rename(&a, &b).context("rename dir")?;
        expect_errno(fs::stat(&a), ENOENT).context("old name")?;
        // 40 files less the one replaced and the one moved, and `inner`.
        expect_eq(names(&b)?.len(), 39).context("entries after")?;
        for (n, _) in names(&b)? {
            if n.starts_with("entry") {
                fs::remove_file(&format!("{b}/{n}")).context("unlink")?;
            }
        }
        fs::remove_file(&format!("{b}/inner/moved")).context("unlink")?;
        fs::remove_dir(&format!("{b}/inner")).context("rmdir")?;
        fs::remove_dir(&b).context("rmdir")
    }

    /// Long names (up to 255 bytes), case-insensitive lookups keeping the stored case,
    /// names FAT cannot hold.
    fn names(&self) -> Check {
        let long = "A Long File Name With Spaces And Mixed Case.text";
        fs::write(&self.p(long), b"long").context("create long name")?;
        let lower = self.p(&long.to_lowercase());
        expect_bytes(&fs::read(&lower).context("read by other case")?, b"long")
            .context("case-insensitive")?;
        let list = names(&self.dir)?;
        if !list.iter().any(|(n, _)| n == long) {
            return Err(format!("stored case lost: {list:?}"));
        }
        let max = "x".repeat(NAME_MAX);
        fs::write(&self.p(&max), b"1").context("255-byte name")?;
        expect_errno(
            fs::write(&self.p(&"y".repeat(NAME_MAX + 1)), b"1"),
            ENAMETOOLONG,
        )
        .context("256-byte name")?;
        expect_errno(fs::write(&self.p("a:b"), b"1"), EINVAL).context("':' in a name")?;
        expect_errno(fs::write(&self.p("q?"), b"1"), EINVAL).context("'?' in a name")?;
        fs::remove_file(&self.p(&max)).context("unlink")?;
        fs::remove_file(&lower).context("unlink by other case")
    }

    /// FAT has no inodes: an open file (or a directory with one open below it) cannot be
    /// removed or renamed, and every open of one file sees the same data.
    fn open_files_stay(&self) -> Check {
        let d = self.p("keep");
        fs::mkdir(&d, 0o755).context("mkdir")?;
        let path = format!("{d}/open");
        let f = rw(&path)?;
        f.write(b"one").context("write")?;
        let g = fs::File::open(&path).context("second open")?;
        expect_bytes(&read_exact(&g, 10)?, b"one").context("second open sees the write")?;
        expect_errno(fs::remove_file(&path), errno::EBUSY).context("unlink open")?;
        expect_errno(fs::rename(&path, &format!("{d}/x")), errno::EBUSY).context("rename open")?;
        expect_errno(fs::rename(&d, &self.p("keep2")), errno::EBUSY).context("rename parent")?;
        drop(f);
        drop(g);
        fs::remove_file(&path).context("unlink after close")?;
        fs::remove_dir(&d).context("rmdir")
    }

    /// A 3 MiB file written in 64 KiB pieces and `fsync`ed reads back with the same
    /// SHA-256 as what was written; `statfs` counts its clusters.
    fn big_file(&self) -> Check {
        let path = self.p("big");
        let data = pattern(9, BIG);
        let want = sha256(&data);
        let before = fs::statfs(DISK_MOUNT).context("statfs")?;
        write_synced(&path, &data)?;
        let after = fs::statfs(DISK_MOUNT).context("statfs")?;
        let used = (before.bfree - after.bfree) * after.bsize;
        if used < BIG as u64 || used > BIG as u64 + 64 * after.bsize {
            return Err(format!("{BIG} bytes took {used} bytes of clusters"));
        }
        let back = fs::read(&path).context("read")?;
        expect_eq(back.len(), BIG).context("size")?;
        expect_eq(sha256(&back), want).context("sha256")?;
        // A read in the middle, across cluster boundaries.
        let f = fs::File::open(&path).context("open")?;
        f.seek(SeekFrom::Start(1_000_000)).context("seek")?;
        expect_bytes(&read_exact(&f, 10_000)?, &data[1_000_000..1_010_000]).context("middle")?;
        drop(f);
        fs::remove_file(&path).context("unlink")?;
        expect_eq(
            fs::statfs(DISK_MOUNT).context("statfs")?.bfree,
            before.bfree,
        )
        .context("clusters freed")
    }

    /// Renames between the disk and the tree are `EXDEV`; `stat` tells the mounts apart.
    fn cross_mount(&self) -> Check {
        let here = self.p("here");
        fs::write(&here, b"x").context("create")?;
        let tmp = format!("/tmp/fstest-disk.{}", process::getpid().unwrap_or(0));
        expect_errno(fs::rename(&here, &tmp), EXDEV).context("disk to tmp")?;
        fs::write(&tmp, b"y").context("create in tmp")?;
        expect_errno(fs::rename(&tmp, &self.p("there")), EXDEV).context("tmp to disk")?;
        let (a, b) = (
            fs::stat(&here).context("stat")?,
            fs::stat(&tmp).context("stat")?,
        );
        if a.dev == b.dev {
            return Err(format!("/disk and /tmp share device {}", a.dev));
        }
        fs::remove_file(&tmp).context("unlink")?;
        fs::remove_file(&here).context("unlink")
    }

    /// A program copied to the disk runs from there, by absolute and relative path.
    fn exec(&self) -> Check {
        let copy = self.p("fstest.elf");
        write_synced(&copy, &fs::read(SELF).context("read")?)?;
        let pid = process::spawn(&copy, &[&copy, EXIT_MODE, "5"], &[]).context("spawn")?;
        expect_exit(wait_for(pid, CHILD_TIMEOUT_MS)?, 5)?;
        let orig = fs::getcwd().context("getcwd")?;
        fs::chdir(&self.dir).context("chdir")?;
        expect_eq(fs::getcwd().context("getcwd")?, self.dir.clone()).context("getcwd")?;
        let r = process::spawn("./fstest.elf", &["fstest", EXIT_MODE, "6"], &[]);
        fs::chdir(&orig).context("chdir back")?;
        expect_exit(wait_for(r.context("spawn relative")?, CHILD_TIMEOUT_MS)?, 6)?;
        fs::remove_file(&copy).context("unlink")
    }

    /// `umount` is `EBUSY` while a file or a working directory is open on the disk.
    fn umount_busy(&self) -> Check {
        let path = self.p("busy");
        let f = rw(&path)?;
        expect_errno(fs::umount(DISK_MOUNT), errno::EBUSY).context("with a file open")?;
        drop(f);
        let orig = fs::getcwd().context("getcwd")?;
        fs::chdir(&self.dir).context("chdir")?;
        let r = fs::umount(DISK_MOUNT);
        fs::chdir(&orig).context("chdir back")?;
        expect_errno(r, errno::EBUSY).context("with a working directory there")?;
        expect_errno(fs::umount("/tmp"), EINVAL).context("not a FAT mount")?;
        fs::remove_file(&path).context("unlink")
    }

    /// `umount`, then the volume read-only (every change `EROFS`), then read-write again:
    /// the data written before is still there.
    fn remount(&self) -> Check {
        let path = self.p("kept");
        let data = pattern(4, 100_000);
        write_synced(&path, &data)?;
        fs::umount(DISK_MOUNT).context("umount")?;
        let back = |what: &str| -> Check {
            let r = fs::mount(self.dev, DISK_MOUNT, 0).context("mount again");
            r.context(what)
        };
        // Gone from the tree while unmounted.
        if let Err(e) = expect_errno(fs::stat(&path), ENOENT) {
            back("after the unmounted check")?;
            return Err(format!("while unmounted: {e}"));
        }
        expect_errno(fs::mount(99, DISK_MOUNT, 0), errno::ENODEV).context("no such device")?;
        if let Err(e) = fs::mount(self.dev, DISK_MOUNT, MS_RDONLY) {
            back("after a failed read-only mount")?;
            return Err(format!("mount -r: {e}"));
        }
        let ro = (|| -> Check {
            expect_bytes(&fs::read(&path).context("read")?, &data).context("read-only read")?;
            let rdonly = OpenOptions::new().write(true).open(&path);
            expect_errno(rdonly, errno::EROFS).context("open for writing")?;
            expect_errno(fs::write(&self.p("new"), b"x"), errno::EROFS).context("create")?;
            expect_errno(fs::mkdir(&self.p("d"), 0o755), errno::EROFS).context("mkdir")?;
            expect_errno(fs::remove_file(&path), errno::EROFS).context("unlink")?;
            expect_errno(fs::rename(&path, &self.p("r")), errno::EROFS).context("rename")?;
            expect_errno(fs::truncate(&path, 0), errno::EROFS).context("truncate")?;
            expect_errno(fs::mount(self.dev, "/tmp", 0), errno::EBUSY).context("mounted twice")
        })();
        fs::umount(DISK_MOUNT).context("umount read-only")?;
        fs::mount(self.dev, DISK_MOUNT, 0).context("mount read-write")?;
        ro?;
        expect_eq(sha256(&fs::read(&path).context("read")?), sha256(&data))
            .context("data after remount")?;
        fs::remove_file(&path).context("unlink")
    }
}

fn probe(args: &Args) -> i32 {
    let fd = |i| args.get(i).and_then(|s| s.parse::<usize>().ok());
    let (Some(closing), Some(staying)) = (fd(2), fd(3)) else {
        return 2;
    };
    let closed = matches!(fs::fstat(closing), Err(e) if e.code() == EBADF);
    let open = fs::fstat(staying).is_ok();
    if closed && open {
        0
    } else {
        libway::eprintln!("fstest probe: fd {closing} closed {closed}, fd {staying} open {open}");
        1
    }
}

fn main(args: Args) -> i32 {
    match args.get(1) {
        Some(EXIT_MODE) => return args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1),
        Some(PROBE_MODE) => return probe(&args),
        _ => {}
    }
    let mut s = Suite::new("fstest");
    let dir = format!("/tmp/fstest.{}", process::getpid().unwrap_or(0));
    if let Err(e) = fs::mkdir(&dir, 0o755) {
        s.check("setup", Err(format!("mkdir {dir}: {e}")));
        return s.finish();
    }
    let t = T { dir };
    disk_checks(&mut s);
    s.check("create_write_read", t.create_write_read());
    s.check("append", t.append());
    s.check("truncate", t.truncate());
    s.check("seek_end_and_holes", t.seek_and_holes());
    s.check("unlink_while_open", t.unlink_while_open());
    s.check("mkdir_rmdir", t.mkdir_rmdir());
    s.check("rename", t.rename());
    s.check("readdir", t.readdir());
    s.check("stat_and_timestamps", t.stat_and_times());
    s.check("path_resolution", t.paths());
    s.check("errors", t.errors());
    s.check("devices", t.devices());
    s.check("big_file", t.big_file());
    s.check("inode_limit", t.inode_limit());
    s.check("dup_shares_position", t.dup_shares_position());
    s.check("cloexec_on_execve", t.cloexec());
    s.check("bin_and_exec", t.bin_and_exec());
    s.check("working_directory", t.cwd());
    // Everything above removed what it made: the directory must be empty now.
    let r = match names(&t.dir) {
        Ok(left) if left.is_empty() => fs::remove_dir(&t.dir).context("rmdir"),
        Ok(left) => Err(format!("left behind: {left:?}")),
        Err(e) => Err(e),
    };
    s.check("cleanup", r);
    s.finish()
}
