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

use libway::abi::errno::{
    self, EBADF, EEXIST, EINVAL, EISDIR, ENAMETOOLONG, ENOENT, ENOSPC, ENOTDIR, ENOTEMPTY, ESPIPE,
    EXDEV,
};
use libway::abi::fcntl::{O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_WRONLY};
use libway::abi::fs::{DEV_CONSOLE, DEV_NULL, DT_DIR, DT_REG};
use libway::abi::limits::{NAME_MAX, PATH_MAX};
use libway::abi::Timespec;
use libway::fs::{self, File, OpenOptions, SeekFrom, StatExt};
use libway::suite::{expect_exit, in_child, wait_for, Check, Suite, CHILD_TIMEOUT_MS};
use libway::{io, process, Args, Errno};

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

/// `r`, or a message naming `what`.
fn ctx<T>(what: &str, r: Result<T, Errno>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// `Ok` if `r` failed with `want`.
fn fails<T: core::fmt::Debug>(what: &str, r: Result<T, Errno>, want: isize) -> Check {
    match r {
        Err(e) if e.code() == want => Ok(()),
        Err(e) => Err(format!("{what}: got {e}, expected {}", errno::name(want))),
        Ok(v) => Err(format!(
            "{what}: succeeded ({v:?}), expected {}",
            errno::name(want)
        )),
    }
}

fn equal<T: PartialEq + core::fmt::Debug>(what: &str, got: T, want: T) -> Check {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, expected {want:?}"))
    }
}

/// Compares file contents, naming the first difference.
fn same_bytes(what: &str, got: &[u8], want: &[u8]) -> Check {
    if got.len() != want.len() {
        return Err(format!(
            "{what}: {} bytes, expected {}",
            got.len(),
            want.len()
        ));
    }
    match got.iter().zip(want).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!(
            "{what}: byte {i} is {:#x}, expected {:#x}",
            got[i], want[i]
        )),
    }
}

fn read_exact(f: &File, len: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match ctx("read", f.read(&mut buf[got..]))? {
            0 => break,
            n => got += n,
        }
    }
    buf.truncate(got);
    Ok(buf)
}

fn rw(path: &str) -> Result<File, String> {
    ctx(
        path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o640)
            .open(path),
    )
}

/// The names in directory `path`, sorted.
fn names(path: &str) -> Result<Vec<(String, u8)>, String> {
    let mut out = Vec::new();
    for e in ctx(path, fs::read_dir(path))? {
        let e = ctx("readdir", e)?;
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
        equal("write", ctx("write", f.write(&data))?, 1000)?;
        equal(
            "position after write",
            ctx("seek", f.seek(SeekFrom::Current(0)))?,
            1000,
        )?;
        ctx("seek", f.seek(SeekFrom::Start(0)))?;
        same_bytes("read back", &read_exact(&f, 2000)?, &data)?;
        let st = ctx("stat", fs::stat(&path))?;
        equal("size", st.size, 1000)?;
        equal("is a file", st.is_file(), true)?;
        equal("permissions", st.perm(), 0o640)?;
        equal("links", st.nlink, 1)?;
        equal("blocks", st.blocks, 8)?;
        let fst = ctx("fstat", f.stat())?;
        equal("fstat ino", fst.ino, st.ino)?;
        ctx("unlink", fs::remove_file(&path))
    }

    fn append(&self) -> Check {
        let path = self.p("append");
        ctx("write", fs::write(&path, b"xyz"))?;
        let f = ctx(
            "open",
            OpenOptions::new().read(true).append(true).open(&path),
        )?;
        ctx("write", f.write_all(b"abc"))?;
        // O_APPEND ignores the position for writes.
        ctx("seek", f.seek(SeekFrom::Start(0)))?;
        ctx("write", f.write_all(b"def"))?;
        equal("position", ctx("seek", f.seek(SeekFrom::Current(0)))?, 9)?;
        same_bytes("contents", &ctx("read", fs::read(&path))?, b"xyzabcdef")?;
        ctx("unlink", fs::remove_file(&path))
    }

    fn truncate(&self) -> Check {
        let path = self.p("trunc");
        let f = rw(&path)?;
        ctx("write", f.write_all(&[0xab; 5000]))?;
        ctx("ftruncate 100", f.set_len(100))?;
        equal("size", ctx("fstat", f.stat())?.size, 100)?;
        ctx("ftruncate 3000", f.set_len(3000))?;
        let mut want = vec![0xab; 100];
        want.resize(3000, 0);
        same_bytes(
            "after shrink and grow",
            &ctx("read", fs::read(&path))?,
            &want,
        )?;
        ctx("truncate", fs::truncate(&path, 0))?;
        equal("size", ctx("stat", fs::stat(&path))?.size, 0)?;
        // O_TRUNC empties on open.
        ctx("write", fs::write(&path, b"1234"))?;
        drop(ctx("create", File::create(&path))?);
        equal("size after O_TRUNC", ctx("stat", fs::stat(&path))?.size, 0)?;
        let ro = ctx("open", File::open(&path))?;
        fails("ftruncate read-only", ro.set_len(1), EINVAL)?;
        ctx("unlink", fs::remove_file(&path))
    }

    fn seek_and_holes(&self) -> Check {
        let path = self.p("holes");
        let f = rw(&path)?;
        ctx("write", f.write_all(b"head"))?;
        equal("SEEK_END", ctx("seek", f.seek(SeekFrom::End(0)))?, 4)?;
        equal(
            "seek past end",
            ctx("seek", f.seek(SeekFrom::Start(10_000)))?,
            10_000,
        )?;
        ctx("write", f.write_all(b"Z"))?;
        equal("size", ctx("fstat", f.stat())?.size, 10_001)?;
        let mut want = vec![0u8; 10_001];
        want[..4].copy_from_slice(b"head");
        want[10_000] = b'Z';
        same_bytes("hole reads zeros", &ctx("read", fs::read(&path))?, &want)?;
        equal(
            "SEEK_END -1",
            ctx("seek", f.seek(SeekFrom::End(-1)))?,
            10_000,
        )?;
        same_bytes("last byte", &read_exact(&f, 5)?, b"Z")?;
        fails(
            "negative position",
            f.seek(SeekFrom::Current(-20_000)),
            EINVAL,
        )?;
        fails("bad whence", fs::lseek(f.fd(), 0, 7), EINVAL)?;
        fails("lseek on a stream", fs::lseek(io::STDOUT, 0, 0), ESPIPE)?;
        ctx("unlink", fs::remove_file(&path))
    }

    fn unlink_while_open(&self) -> Check {
        let before = ctx("statfs", fs::statfs(&self.dir))?;
        let path = self.p("ghost");
        ctx("write", fs::write(&path, b"still here"))?;
        let f = ctx("open", File::open(&path))?;
        ctx("unlink", fs::remove_file(&path))?;
        fails("stat after unlink", fs::stat(&path), ENOENT)?;
        fails("unlink again", fs::remove_file(&path), ENOENT)?;
        equal("nlink of open file", ctx("fstat", f.stat())?.nlink, 0)?;
        same_bytes("read after unlink", &read_exact(&f, 100)?, b"still here")?;
        drop(f);
        let after = ctx("statfs", fs::statfs(&self.dir))?;
        equal("free inodes after close", after.ffree, before.ffree)?;
        equal("free blocks after close", after.bfree, before.bfree)
    }

    fn mkdir_rmdir(&self) -> Check {
        let d = self.p("d");
        let links = ctx("stat", fs::stat(&self.dir))?.nlink;
        ctx("mkdir", fs::mkdir(&d, 0o750))?;
        fails("mkdir again", fs::mkdir(&d, 0o750), EEXIST)?;
        let st = ctx("stat", fs::stat(&d))?;
        equal("is a directory", st.is_dir(), true)?;
        equal("permissions", st.perm(), 0o750)?;
        equal("new dir links", st.nlink, 2)?;
        equal(
            "parent links",
            ctx("stat", fs::stat(&self.dir))?.nlink,
            links + 1,
        )?;
        let f = format!("{d}/f");
        ctx("write", fs::write(&f, b"x"))?;
        fails("rmdir non-empty", fs::remove_dir(&d), ENOTEMPTY)?;
        fails("rmdir a file", fs::remove_dir(&f), ENOTDIR)?;
        fails("unlink a directory", fs::remove_file(&d), EISDIR)?;
        fails("rmdir .", fs::remove_dir(&format!("{d}/.")), EINVAL)?;
        ctx("unlink", fs::remove_file(&f))?;
        ctx("rmdir", fs::remove_dir(&d))?;
        fails("stat removed dir", fs::stat(&d), ENOENT)?;
        equal(
            "parent links after",
            ctx("stat", fs::stat(&self.dir))?.nlink,
            links,
        )
    }

    fn rename(&self) -> Check {
        let (a, b, c) = (self.p("ra"), self.p("rb"), self.p("rc"));
        ctx("write a", fs::write(&a, b"AAA"))?;
        ctx("write c", fs::write(&c, b"C"))?;
        let ino = ctx("stat", fs::stat(&a))?.ino;
        ctx("rename a b", fs::rename(&a, &b))?;
        fails("old name", fs::stat(&a), ENOENT)?;
        equal("same inode", ctx("stat", fs::stat(&b))?.ino, ino)?;
        ctx("rename b over c", fs::rename(&b, &c))?;
        same_bytes("replaced contents", &ctx("read", fs::read(&c))?, b"AAA")?;
        fails("b is gone", fs::stat(&b), ENOENT)?;
        ctx("rename onto itself", fs::rename(&c, &c))?;
        // Directories.
        let (d, e) = (self.p("rd"), self.p("re"));
        ctx("mkdir", fs::mkdir(&d, 0o755))?;
        ctx("mkdir", fs::mkdir(&format!("{d}/sub"), 0o755))?;
        fails("into itself", fs::rename(&d, &format!("{d}/sub/x")), EINVAL)?;
        fails("file over dir", fs::rename(&c, &d), EISDIR)?;
        fails("dir over file", fs::rename(&d, &c), ENOTDIR)?;
        ctx("mkdir", fs::mkdir(&e, 0o755))?;
        fails("dir over non-empty dir", fs::rename(&e, &d), ENOTEMPTY)?;
        ctx("dir over empty dir", fs::rename(&d, &e))?;
        equal(
            "moved tree",
            ctx("stat", fs::stat(&format!("{e}/sub")))?.is_dir(),
            true,
        )?;
        fails("across mounts", fs::rename(&c, "/dev/fstest"), EXDEV)?;
        fails(
            "a mount point",
            fs::rename("/dev", &self.p("dev")),
            errno::EBUSY,
        )?;
        ctx("rmdir", fs::remove_dir(&format!("{e}/sub")))?;
        ctx("rmdir", fs::remove_dir(&e))?;
        ctx("unlink", fs::remove_file(&c))
    }

    fn readdir(&self) -> Check {
        let d = self.p("list");
        ctx("mkdir", fs::mkdir(&d, 0o755))?;
        equal("empty", names(&d)?, Vec::new())?;
        for n in ["one", "two", "three"] {
            ctx("write", fs::write(&format!("{d}/{n}"), n.as_bytes()))?;
        }
        ctx("mkdir", fs::mkdir(&format!("{d}/sub"), 0o755))?;
        let s = |n: &str, k| (String::from(n), k);
        let want = vec![
            s("one", DT_REG),
            s("sub", DT_DIR),
            s("three", DT_REG),
            s("two", DT_REG),
        ];
        equal("listing", names(&d)?, want)?;
        ctx("unlink", fs::remove_file(&format!("{d}/two")))?;
        let want = vec![s("one", DT_REG), s("sub", DT_DIR), s("three", DT_REG)];
        equal("after unlink", names(&d)?, want)?;
        // The raw records include `.` and `..` with the right inodes.
        let dir = ctx(
            "open",
            OpenOptions::new().directory(true).read(true).open(&d),
        )?;
        let mut buf = [0u8; 512];
        let n = ctx("getdents", fs::getdents(dir.fd(), &mut buf))?;
        let recs: Vec<(u64, String)> = fs::dirents(&buf[..n])
            .map(|(ino, _, name)| (ino, String::from(name)))
            .collect();
        let dot = ctx("stat", fs::stat(&d))?.ino;
        let dotdot = ctx("stat", fs::stat(&self.dir))?.ino;
        equal(
            "first records",
            &recs[..2],
            &[(dot, s(".", 0).0), (dotdot, s("..", 0).0)],
        )?;
        equal("records", recs.len(), 5)?;
        equal(
            "at the end",
            ctx("getdents", fs::getdents(dir.fd(), &mut buf))?,
            0,
        )?;
        let f = ctx("open", File::open(&format!("{d}/one")))?;
        fails(
            "getdents on a file",
            fs::getdents(f.fd(), &mut buf),
            ENOTDIR,
        )?;
        drop(dir);
        // Rewind works on a fresh directory handle with a tiny buffer: one record fits.
        let dir = ctx(
            "open",
            OpenOptions::new().directory(true).read(true).open(&d),
        )?;
        let mut small = [0u8; 24];
        equal(
            "one record",
            ctx("getdents", fs::getdents(dir.fd(), &mut small))?,
            24,
        )?;
        fails(
            "too small for one",
            fs::getdents(dir.fd(), &mut [0u8; 16]),
            EINVAL,
        )?;
        for n in ["one", "three"] {
            ctx("unlink", fs::remove_file(&format!("{d}/{n}")))?;
        }
        ctx("rmdir", fs::remove_dir(&format!("{d}/sub")))?;
        ctx("rmdir", fs::remove_dir(&d))
    }

    fn stat_and_times(&self) -> Check {
        equal(
            "/ is a directory",
            ctx("stat /", fs::stat("/"))?.is_dir(),
            true,
        )?;
        let null = ctx("stat", fs::stat("/dev/null"))?;
        equal("/dev/null type", null.is_char_device(), true)?;
        equal("/dev/null rdev", null.rdev, DEV_NULL)?;
        let path = self.p("times");
        ctx("write", fs::write(&path, b"x"))?;
        let t0 = ctx("stat", fs::stat(&path))?;
        ctx("sleep", libway::time::sleep_ms(20))?;
        let f = ctx("open", OpenOptions::new().write(true).open(&path))?;
        ctx("write", f.write_all(b"yz"))?;
        let t1 = ctx("stat", fs::stat(&path))?;
        if t1.mtime_ns() <= t0.mtime_ns()
            || t1.ctime.sec * 1_000_000_000 + t1.ctime.nsec
                <= t0.ctime.sec * 1_000_000_000 + t0.ctime.nsec
        {
            return Err(format!("mtime/ctime did not advance: {t0:?} -> {t1:?}"));
        }
        equal("atime unchanged by a write", t1.atime, t0.atime)?;
        ctx("sleep", libway::time::sleep_ms(20))?;
        ctx("read", fs::read(&path))?;
        let t2 = ctx("stat", fs::stat(&path))?;
        if (t2.atime.sec, t2.atime.nsec) <= (t1.atime.sec, t1.atime.nsec) {
            return Err(format!("atime did not advance on read: {t1:?} -> {t2:?}"));
        }
        equal("mtime unchanged by a read", t2.mtime, t1.mtime)?;
        let set = [
            Timespec { sec: 1000, nsec: 5 },
            Timespec {
                sec: 2000,
                nsec: 500_000_000,
            },
        ];
        ctx("utimens", fs::utimens(&path, Some(&set)))?;
        let t3 = ctx("stat", fs::stat(&path))?;
        equal("atime set", t3.atime, set[0])?;
        equal("mtime set", t3.mtime, set[1])?;
        let omit = [
            Timespec {
                sec: 0,
                nsec: libway::abi::fs::UTIME_OMIT,
            },
            Timespec { sec: 7, nsec: 0 },
        ];
        ctx("utimens omit", fs::utimens(&path, Some(&omit)))?;
        equal("atime kept", ctx("stat", fs::stat(&path))?.atime, set[0])?;
        let bad = [
            Timespec {
                sec: 1,
                nsec: 1_000_000_000,
            },
            set[1],
        ];
        fails("utimens bad nsec", fs::utimens(&path, Some(&bad)), EINVAL)?;
        ctx("utimens now", fs::utimens(&path, None))?;
        let t4 = ctx("stat", fs::stat(&path))?;
        if t4.mtime_ns() < t2.mtime_ns() {
            return Err(format!("utimens(now) went back in time: {t4:?}"));
        }
        fails(
            "utimens missing",
            fs::utimens(&self.p("nope"), None),
            ENOENT,
        )?;
        ctx("unlink", fs::remove_file(&path))
    }

    fn paths(&self) -> Check {
        let d = self.p("pd");
        ctx("mkdir", fs::mkdir(&d, 0o755))?;
        let f = format!("{d}/f");
        ctx("write", fs::write(&f, b"f"))?;
        let ino = ctx("stat", fs::stat(&f))?.ino;
        let odd = format!(
            "/tmp//{}/./pd/../pd///f",
            self.dir.trim_start_matches("/tmp/")
        );
        equal("dots and slashes", ctx(&odd, fs::stat(&odd))?.ino, ino)?;
        equal(
            "/..",
            ctx("stat", fs::stat("/.."))?.ino,
            ctx("stat", fs::stat("/"))?.ino,
        )?;
        equal(
            "/dev/..",
            ctx("stat", fs::stat("/dev/.."))?.ino,
            ctx("stat", fs::stat("/"))?.ino,
        )?;
        fails("file/..", fs::stat(&format!("{f}/..")), ENOTDIR)?;
        fails("file/", fs::stat(&format!("{f}/")), ENOTDIR)?;
        fails("missing/..", fs::stat(&format!("{d}/missing/../f")), ENOENT)?;
        fails("empty path", fs::stat(""), ENOENT)?;
        let max = format!("{d}/{}", "n".repeat(NAME_MAX));
        ctx("NAME_MAX name", fs::write(&max, b"ok"))?;
        ctx("unlink", fs::remove_file(&max))?;
        let over = format!("{d}/{}", "n".repeat(NAME_MAX + 1));
        fails("NAME_MAX + 1", fs::write(&over, b"no"), ENAMETOOLONG)?;
        fails(
            "long component mid-path",
            fs::stat(&format!("{over}/x")),
            ENAMETOOLONG,
        )?;
        let mut long = String::from("/");
        while long.len() <= PATH_MAX {
            long.push_str("./");
        }
        fails("PATH_MAX + 1", fs::stat(&long), ENAMETOOLONG)?;
        long.truncate(PATH_MAX);
        equal(
            "PATH_MAX of ./",
            ctx("stat", fs::stat(&long))?.is_dir(),
            true,
        )?;
        ctx("unlink", fs::remove_file(&f))?;
        ctx("rmdir", fs::remove_dir(&d))
    }

    fn errors(&self) -> Check {
        let f = self.p("err");
        ctx("write", fs::write(&f, b"e"))?;
        fails(
            "open dir for writing",
            fs::open_raw(&self.dir, O_WRONLY, 0),
            EISDIR,
        )?;
        fails(
            "open missing",
            fs::open_raw(&self.p("missing"), O_RDONLY, 0),
            ENOENT,
        )?;
        fails(
            "file as directory",
            fs::open_raw(&format!("{f}/x"), O_RDONLY, 0),
            ENOTDIR,
        )?;
        fails(
            "O_CREAT|O_EXCL on existing",
            fs::open_raw(&f, O_CREAT | O_EXCL | O_RDWR, 0o644),
            EEXIST,
        )?;
        fails(
            "O_DIRECTORY on a file",
            fs::open_raw(&f, O_DIRECTORY, 0),
            ENOTDIR,
        )?;
        fails("unknown flag", fs::open_raw(&f, 0o40_000_000, 0), EINVAL)?;
        let dir = ctx("open dir", File::open(&self.dir))?;
        fails("read a directory", dir.read(&mut [0u8; 8]), EISDIR)?;
        let wo = ctx("open", OpenOptions::new().write(true).open(&f))?;
        fails("read write-only", wo.read(&mut [0u8; 8]), EBADF)?;
        let ro = ctx("open", File::open(&f))?;
        fails("write read-only", ro.write(b"x"), EBADF)?;
        fails("chdir to a file", fs::chdir(&f), ENOTDIR)?;
        fails(
            "mkdir in a file",
            fs::mkdir(&format!("{f}/d"), 0o755),
            ENOTDIR,
        )?;
        fails("rmdir /", fs::remove_dir("/"), errno::EBUSY)?;
        ctx("unlink", fs::remove_file(&f))
    }

    fn devices(&self) -> Check {
        let null = ctx(
            "open /dev/null",
            OpenOptions::new().read(true).write(true).open("/dev/null"),
        )?;
        equal(
            "write /dev/null",
            ctx("write", null.write(&[1u8; 3000]))?,
            3000,
        )?;
        equal("read /dev/null", ctx("read", null.read(&mut [0u8; 16]))?, 0)?;
        fails("seek /dev/null", null.seek(SeekFrom::Start(0)), ESPIPE)?;
        let zero = ctx("open /dev/zero", File::open("/dev/zero"))?;
        let mut buf = vec![0xffu8; 10_000];
        equal("read /dev/zero", ctx("read", zero.read(&mut buf))?, 10_000)?;
        if buf.iter().any(|&b| b != 0) {
            return Err(String::from("/dev/zero gave a non-zero byte"));
        }
        fails("write read-only /dev/zero", zero.write(b"x"), EBADF)?;
        let st = ctx("stat", fs::stat("/dev/console"))?;
        equal(
            "/dev/console rdev",
            (st.is_char_device(), st.rdev),
            (true, DEV_CONSOLE),
        )?;
        let con = ctx(
            "open /dev/console",
            OpenOptions::new().write(true).open("/dev/console"),
        )?;
        equal(
            "write /dev/console",
            ctx("write", con.write(b"fstest: via /dev/console\n"))?,
            25,
        )?;
        equal(
            "fstat /dev/console",
            ctx("fstat", con.stat())?.rdev,
            DEV_CONSOLE,
        )?;
        let mut dev = names("/dev")?;
        dev.retain(|(n, _)| ["console", "null", "zero"].contains(&n.as_str()));
        equal("/dev lists its devices", dev.len(), 3)?;
        fails("missing device", fs::stat("/dev/nonexistent"), ENOENT)
    }

    fn big_file(&self) -> Check {
        const LEN: usize = 1536 * 1024;
        let before = ctx("statfs", fs::statfs(&self.dir))?;
        if before.max_file_size < LEN as u64 {
            return Err(format!("largest file {} bytes", before.max_file_size));
        }
        let path = self.p("big");
        let f = rw(&path)?;
        let data = pattern(3, LEN);
        for chunk in data.chunks(4096) {
            ctx("write", f.write_all(chunk))?;
        }
        let st = ctx("fstat", f.stat())?;
        equal("size", st.size, LEN as u64)?;
        equal("blocks", st.blocks, (LEN / 512) as u64)?;
        let mid = ctx("statfs", fs::statfs(&self.dir))?;
        equal("pages used", before.bfree - mid.bfree, (LEN / 4096) as u64)?;
        ctx("seek", f.seek(SeekFrom::Start(0)))?;
        // Read back in odd-sized pieces so reads straddle pages.
        let mut back = Vec::with_capacity(LEN);
        let mut buf = vec![0u8; 3000];
        loop {
            match ctx("read", f.read(&mut buf))? {
                0 => break,
                n => back.extend_from_slice(&buf[..n]),
            }
        }
        same_bytes("1.5 MiB read back", &back, &data)?;
        drop(f);
        ctx("unlink", fs::remove_file(&path))?;
        let after = ctx("statfs", fs::statfs(&self.dir))?;
        equal("pages freed", after.bfree, before.bfree)
    }

    fn inode_limit(&self) -> Check {
        let d = self.p("many");
        ctx("mkdir", fs::mkdir(&d, 0o755))?;
        let st = ctx("statfs", fs::statfs(&d))?;
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
            result = fails(
                "one more file",
                fs::open_raw(&name(made), O_CREAT | O_WRONLY, 0o644),
                ENOSPC,
            )
            .and_then(|()| fails("one more dir", fs::mkdir(&name(made), 0o755), ENOSPC))
            .and_then(|()| fails("no name left behind", fs::stat(&name(made)), ENOENT))
            .and_then(|()| equal("free inodes", ctx("statfs", fs::statfs(&d))?.ffree, 0))
            .and_then(|()| ctx("unlink one", fs::remove_file(&name(0))))
            .and_then(|()| ctx("create after freeing", fs::write(&name(0), b"ok")));
        }
        for i in 0..made {
            if let Err(e) = fs::remove_file(&name(i)) {
                result = result.and(Err(format!("cleanup {i}: {e}")));
            }
        }
        ctx("rmdir", fs::remove_dir(&d))?;
        result?;
        let after = ctx("statfs", fs::statfs(&self.dir))?;
        equal("free inodes after cleanup", after.ffree, st.ffree + 1)
    }

    fn dup_shares_position(&self) -> Check {
        let path = self.p("dup");
        ctx("write", fs::write(&path, b"abcdef"))?;
        let f = ctx("open", File::open(&path))?;
        let g = File::from_raw_fd(ctx("dup", io::dup(f.fd()))?);
        if g.fd() == f.fd() {
            return Err(format!("dup returned the same fd {}", f.fd()));
        }
        same_bytes("first", &read_exact(&f, 2)?, b"ab")?;
        same_bytes("through the dup", &read_exact(&g, 2)?, b"cd")?;
        equal(
            "shared position",
            ctx("seek", f.seek(SeekFrom::Current(0)))?,
            4,
        )?;
        let fd = f.fd();
        let status = in_child(|| {
            let mut b = [0u8; 1];
            match io::read(fd, &mut b) {
                Ok(1) if b[0] == b'e' => 0,
                _ => 1,
            }
        })?;
        expect_exit(status, 0)?;
        same_bytes("after the child read", &read_exact(&g, 5)?, b"f")?;
        fails("dup of a closed fd", io::dup(200), EBADF)?;
        ctx("unlink", fs::remove_file(&path))
    }

    fn cloexec(&self) -> Check {
        let path = self.p("cloexec");
        ctx("write", fs::write(&path, b"c"))?;
        let closing = ctx(
            "open",
            OpenOptions::new().read(true).cloexec(true).open(&path),
        )?;
        let staying = ctx("open", File::open(&path))?;
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
        ctx("fstat", closing.stat())?;
        ctx("unlink", fs::remove_file(&path))
    }

    fn bin_and_exec(&self) -> Check {
        let bin = names("/bin")?;
        for want in ["init", "fstest", "hello", "badsys", "console"] {
            if !bin.iter().any(|(n, k)| n == want && *k == DT_REG) {
                return Err(format!("/bin has no {want}: {bin:?}"));
            }
        }
        let image = ctx("read", fs::read(SELF))?;
        equal("ELF magic", &image[..4], b"\x7fELF".as_slice())?;
        equal(
            "size",
            ctx("stat", fs::stat(SELF))?.size,
            image.len() as u64,
        )?;
        let release = ctx("read", fs::read("/etc/wayos-release"))?;
        if !release.starts_with(b"WayOS ") {
            return Err(format!("/etc/wayos-release: {release:?}"));
        }
        // A program copied into tmpfs runs from there.
        let copy = self.p("fstest-copy");
        ctx("write copy", fs::write(&copy, &image))?;
        let pid = ctx(
            "spawn copy",
            process::spawn(&copy, &[&copy, EXIT_MODE, "7"], &[]),
        )?;
        expect_exit(wait_for(pid, CHILD_TIMEOUT_MS)?, 7)?;
        // A relative path resolves against the working directory.
        let pid = ctx("spawn bin/fstest from /", {
            let cwd = ctx("getcwd", fs::getcwd())?;
            ctx("chdir /", fs::chdir("/"))?;
            let r = process::spawn("bin/fstest", &["fstest", EXIT_MODE, "9"], &[]);
            ctx("chdir back", fs::chdir(&cwd))?;
            r
        })?;
        expect_exit(wait_for(pid, CHILD_TIMEOUT_MS)?, 9)?;
        fails(
            "spawn a directory",
            process::spawn("/bin", &["/bin"], &[]),
            errno::EACCES,
        )?;
        ctx("unlink", fs::remove_file(&copy))
    }

    fn cwd(&self) -> Check {
        let orig = ctx("getcwd", fs::getcwd())?;
        ctx("chdir", fs::chdir(&self.dir))?;
        equal("getcwd", ctx("getcwd", fs::getcwd())?, self.dir.clone())?;
        ctx("relative create", fs::write("rel", b"r"))?;
        equal("made here", ctx("stat", fs::stat(&self.p("rel")))?.size, 1)?;
        ctx("mkdir", fs::mkdir("sub", 0o755))?;
        ctx("chdir sub", fs::chdir("sub"))?;
        equal("getcwd", ctx("getcwd", fs::getcwd())?, self.p("sub"))?;
        ctx("chdir ..", fs::chdir(".."))?;
        equal("back up", ctx("getcwd", fs::getcwd())?, self.dir.clone())?;
        // The working directory survives a rename of itself and follows it.
        ctx("chdir sub", fs::chdir("sub"))?;
        ctx("rename", fs::rename(&self.p("sub"), &self.p("sub2")))?;
        equal("renamed", ctx("getcwd", fs::getcwd())?, self.p("sub2"))?;
        // ... and its removal makes getcwd and relative lookups fail.
        ctx("rmdir", fs::remove_dir(&self.p("sub2")))?;
        fails("getcwd of removed dir", fs::getcwd(), ENOENT)?;
        fails("relative in removed dir", fs::stat("x"), ENOENT)?;
        let child = in_child(|| match fs::getcwd() {
            Err(e) if e.code() == ENOENT => 0,
            _ => 1,
        })?;
        expect_exit(child, 0)?;
        ctx("chdir back", fs::chdir(&orig))?;
        ctx("unlink", fs::remove_file(&self.p("rel")))
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
        Ok(left) if left.is_empty() => ctx("rmdir", fs::remove_dir(&t.dir)),
        Ok(left) => Err(format!("left behind: {left:?}")),
        Err(e) => Err(e),
    };
    s.check("cleanup", r);
    s.finish()
}
