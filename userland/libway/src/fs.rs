//! Files and directories: [`File`] with [`OpenOptions`], [`read_dir`], [`stat`],
//! [`mkdir`], [`remove_file`], [`rename`], the working directory, and the raw calls under
//! them. Paths are `&str`, relative ones starting at the working directory; every error
//! is the kernel's [`Errno`] (see `docs/fs.md` for which one means what).
//!
//! A [`File`] closes its descriptor when dropped. Descriptors copied with `dup`, `fork`
//! or `spawn` share one open file and its position, as in POSIX.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use wayos_abi::fcntl::{
    O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
    SEEK_CUR, SEEK_END, SEEK_SET,
};
use wayos_abi::fs::{DirentHeader, DIRENT_NAME, S_IFMT};
use wayos_abi::zerocopy::FromBytes;
use wayos_abi::{sys, Timespec};

pub use wayos_abi::fs::{Stat, StatFs, DT_CHR, DT_DIR, DT_REG, S_IFCHR, S_IFDIR, S_IFREG};

use crate::errno::Errno;
use crate::sys::MemFree;

/// A syscall whose first two arguments are a path.
fn path_call(n: usize, path: &str, rest: [usize; 4]) -> Result<usize, Errno> {
    let args = [
        path.as_ptr() as usize,
        path.len(),
        rest[0],
        rest[1],
        rest[2],
        rest[3],
    ];
    // SAFETY: the kernel reads `path` (borrowed for the call); every caller passes in
    // `rest` only plain values or pointers to buffers it owns and lets the kernel fill.
    unsafe { crate::sys::call(n, args) }
}

/// `open(path, flags, mode)`: a raw descriptor (`wayos_abi::fcntl` `O_*` flags).
pub fn open_raw(path: &str, flags: usize, mode: u32) -> Result<usize, Errno> {
    path_call(sys::OPEN, path, [flags, mode as usize, 0, 0])
}

/// `lseek(fd, offset, whence)`: the new position.
pub fn lseek(fd: usize, offset: i64, whence: usize) -> Result<u64, Errno> {
    crate::sys::call3(MemFree::LSEEK, fd, offset as usize, whence).map(|p| p as u64)
}

/// `stat(path)`.
pub fn stat(path: &str) -> Result<Stat, Errno> {
    let mut st = Stat::default();
    path_call(sys::STAT, path, [crate::sys::arg_out(&mut st), 0, 0, 0])?;
    Ok(st)
}

/// `fstat(fd)`.
pub fn fstat(fd: usize) -> Result<Stat, Errno> {
    let mut st = Stat::default();
    // SAFETY: the kernel writes one `Stat` into `st`, which we own.
    unsafe { crate::sys::call(sys::FSTAT, [fd, crate::sys::arg_out(&mut st), 0, 0, 0, 0]) }?;
    Ok(st)
}

/// `statfs(path)`: size and use of the file system holding `path`.
pub fn statfs(path: &str) -> Result<StatFs, Errno> {
    let mut st = StatFs::default();
    path_call(sys::STATFS, path, [crate::sys::arg_out(&mut st), 0, 0, 0])?;
    Ok(st)
}

/// `getdents(fd, buf)`: raw directory records (see [`dirents`]); 0 at the end.
pub fn getdents(fd: usize, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we borrow
    // mutably.
    unsafe {
        crate::sys::call(
            sys::GETDENTS,
            [fd, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
        )
    }
}

/// `mkdir(path, mode)`.
pub fn mkdir(path: &str, mode: u32) -> Result<(), Errno> {
    path_call(sys::MKDIR, path, [mode as usize, 0, 0, 0]).map(|_| ())
}

/// `mkdir(path, 0o755)`.
pub fn create_dir(path: &str) -> Result<(), Errno> {
    mkdir(path, 0o755)
}

/// `rmdir(path)`: removes an empty directory.
pub fn remove_dir(path: &str) -> Result<(), Errno> {
    path_call(sys::RMDIR, path, [0; 4]).map(|_| ())
}

/// `unlink(path)`: removes a name of a file (the file goes when it is closed too).
pub fn remove_file(path: &str) -> Result<(), Errno> {
    path_call(sys::UNLINK, path, [0; 4]).map(|_| ())
}

/// `rename(old, new)`.
pub fn rename(old: &str, new: &str) -> Result<(), Errno> {
    path_call(sys::RENAME, old, [new.as_ptr() as usize, new.len(), 0, 0]).map(|_| ())
}

/// `truncate(path, len)`.
pub fn truncate(path: &str, len: u64) -> Result<(), Errno> {
    path_call(sys::TRUNCATE, path, [len as usize, 0, 0, 0]).map(|_| ())
}

/// `utimens(path, times)`: access and modification times; `None` sets both to now.
/// A `nsec` of `wayos_abi::fs::UTIME_NOW` or `UTIME_OMIT` means now / unchanged.
pub fn utimens(path: &str, times: Option<&[Timespec; 2]>) -> Result<(), Errno> {
    let ptr = times.map_or(0, |t| t.as_ptr() as usize);
    path_call(sys::UTIMENS, path, [ptr, 0, 0, 0]).map(|_| ())
}

/// `chdir(path)`.
pub fn chdir(path: &str) -> Result<(), Errno> {
    path_call(sys::CHDIR, path, [0; 4]).map(|_| ())
}

/// `getcwd()`: the working directory's absolute path.
pub fn getcwd() -> Result<String, Errno> {
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we own.
        let r = unsafe {
            crate::sys::call(
                sys::GETCWD,
                [buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0, 0],
            )
        };
        match r {
            Ok(n) => {
                buf.truncate(n);
                return String::from_utf8(buf).map_err(|_| Errno(wayos_abi::errno::EIO));
            }
            Err(e) if e.code() == wayos_abi::errno::ERANGE && buf.len() < 1 << 16 => {
                let len = buf.len() * 2;
                buf.resize(len, 0);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The whole contents of the file at `path`.
pub fn read(path: &str) -> Result<Vec<u8>, Errno> {
    File::open(path)?.read_to_end()
}

/// Replaces the contents of `path` (creating it, mode 0644) with `data`.
pub fn write(path: &str, data: &[u8]) -> Result<(), Errno> {
    File::create(path)?.write_all(data)
}

/// Type and permission queries on a [`Stat`].
pub trait StatExt {
    fn is_dir(&self) -> bool;
    fn is_file(&self) -> bool;
    fn is_char_device(&self) -> bool;
    /// Permission bits.
    fn perm(&self) -> u32;
    /// Modification time in nanoseconds.
    fn mtime_ns(&self) -> u64;
}

fn ns(t: Timespec) -> u64 {
    (t.sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.nsec as u64)
}

impl StatExt for Stat {
    fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
    fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
    fn is_char_device(&self) -> bool {
        self.mode & S_IFMT == S_IFCHR
    }
    fn perm(&self) -> u32 {
        self.mode & wayos_abi::fs::S_IPERM
    }
    fn mtime_ns(&self) -> u64 {
        ns(self.mtime)
    }
}

/// Where [`File::seek`] moves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekFrom {
    Start(u64),
    Current(i64),
    End(i64),
}

/// An open file, closed on drop.
#[derive(Debug)]
pub struct File {
    fd: usize,
}

impl File {
    /// Opens `path` for reading.
    pub fn open(path: &str) -> Result<File, Errno> {
        OpenOptions::new().read(true).open(path)
    }

    /// Opens `path` for writing, creating it (mode 0644) or emptying it.
    pub fn create(path: &str) -> Result<File, Errno> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Takes ownership of descriptor `fd`.
    pub fn from_raw_fd(fd: usize) -> File {
        File { fd }
    }

    /// The descriptor, still owned by the `File`.
    pub fn fd(&self) -> usize {
        self.fd
    }

    /// Gives up ownership of the descriptor without closing it.
    pub fn into_raw_fd(self) -> usize {
        let fd = self.fd;
        core::mem::forget(self);
        fd
    }

    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        crate::io::read(self.fd, buf)
    }

    pub fn write(&self, buf: &[u8]) -> Result<usize, Errno> {
        crate::io::write(self.fd, buf)
    }

    pub fn write_all(&self, buf: &[u8]) -> Result<(), Errno> {
        crate::io::write_all(self.fd, buf)
    }

    /// Reads until the end of the file.
    pub fn read_to_end(&self) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut chunk = vec![0u8; 4096];
        loop {
            match self.read(&mut chunk)? {
                0 => return Ok(out),
                n => out.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Moves the position; returns the new one.
    pub fn seek(&self, to: SeekFrom) -> Result<u64, Errno> {
        let (off, whence) = match to {
            SeekFrom::Start(o) => (o as i64, SEEK_SET),
            SeekFrom::Current(o) => (o, SEEK_CUR),
            SeekFrom::End(o) => (o, SEEK_END),
        };
        lseek(self.fd, off, whence)
    }

    pub fn stat(&self) -> Result<Stat, Errno> {
        fstat(self.fd)
    }

    /// `ftruncate`.
    pub fn set_len(&self, len: u64) -> Result<(), Errno> {
        crate::sys::call2(MemFree::FTRUNCATE, self.fd, len as usize).map(|_| ())
    }

    /// `fsync`: the file's data and directory entry reach the disk.
    pub fn sync_all(&self) -> Result<(), Errno> {
        fsync(self.fd)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = crate::io::close(self.fd);
    }
}

/// How to open a file, as `std::fs::OpenOptions`.
#[derive(Clone, Copy, Debug)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    directory: bool,
    cloexec: bool,
    mode: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// Nothing set; a file created gets mode 0644.
    pub const fn new() -> Self {
        Self {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            directory: false,
            cloexec: false,
            mode: 0o644,
        }
    }
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.read = on;
        self
    }
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.write = on;
        self
    }
    /// Every write goes to the end (implies write).
    pub fn append(&mut self, on: bool) -> &mut Self {
        self.append = on;
        self
    }
    pub fn truncate(&mut self, on: bool) -> &mut Self {
        self.truncate = on;
        self
    }
    pub fn create(&mut self, on: bool) -> &mut Self {
        self.create = on;
        self
    }
    /// Create, failing with `EEXIST` if the file exists.
    pub fn create_new(&mut self, on: bool) -> &mut Self {
        self.create_new = on;
        self
    }
    /// Fail with `ENOTDIR` unless the path is a directory.
    pub fn directory(&mut self, on: bool) -> &mut Self {
        self.directory = on;
        self
    }
    /// Close the descriptor on `execve`.
    pub fn cloexec(&mut self, on: bool) -> &mut Self {
        self.cloexec = on;
        self
    }
    /// Permissions of a file this open creates.
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// The `open` flags these options stand for.
    pub fn flags(&self) -> usize {
        let write = self.write || self.append;
        let mut f = match (self.read, write) {
            (true, true) => O_RDWR,
            (false, true) => O_WRONLY,
            _ => O_RDONLY,
        };
        for (on, bit) in [
            (self.append, O_APPEND),
            (self.truncate, O_TRUNC),
            (self.create || self.create_new, O_CREAT),
            (self.create_new, O_EXCL),
            (self.directory, O_DIRECTORY),
            (self.cloexec, O_CLOEXEC),
        ] {
            if on {
                f |= bit;
            }
        }
        f
    }

    pub fn open(&self, path: &str) -> Result<File, Errno> {
        open_raw(path, self.flags(), self.mode).map(File::from_raw_fd)
    }
}

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    /// `DT_REG`, `DT_DIR`, `DT_CHR`, ...
    pub kind: u8,
    pub name: String,
}

impl DirEntry {
    pub fn is_dir(&self) -> bool {
        self.kind == DT_DIR
    }
}

/// The records one `getdents` call returned, as `(ino, type, name)`; a malformed record
/// ends the iteration.
pub fn dirents(buf: &[u8]) -> impl Iterator<Item = (u64, u8, &str)> {
    let mut rest = buf;
    core::iter::from_fn(move || {
        let (ino, kind, name, reclen) = record(rest)?;
        rest = &rest[reclen..];
        Some((ino, kind, name))
    })
}

/// The entries of a directory, `.` and `..` left out; see [`read_dir`].
pub struct ReadDir {
    dir: File,
    buf: Vec<u8>,
    at: usize,
    len: usize,
    done: bool,
}

/// Lists the directory `path` (without `.` and `..`), in the order entries were made.
pub fn read_dir(path: &str) -> Result<ReadDir, Errno> {
    let dir = OpenOptions::new().read(true).directory(true).open(path)?;
    Ok(ReadDir {
        dir,
        buf: vec![0u8; 4096],
        at: 0,
        len: 0,
        done: false,
    })
}

/// Decodes the record at the start of `b`: `(ino, type, name, record length)`.
fn record(b: &[u8]) -> Option<(u64, u8, &str, usize)> {
    let (h, _) = DirentHeader::read_from_prefix(b).ok()?;
    let reclen = h.reclen as usize;
    if reclen <= DIRENT_NAME {
        return None;
    }
    let name = b.get(DIRENT_NAME..reclen)?;
    let name = &name[..name.iter().position(|&c| c == 0)?];
    Some((h.ino, h.kind, core::str::from_utf8(name).ok()?, reclen))
}

impl Iterator for ReadDir {
    type Item = Result<DirEntry, Errno>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.at >= self.len {
                if self.done {
                    return None;
                }
                match getdents(self.dir.fd(), &mut self.buf) {
                    Ok(0) => {
                        self.done = true;
                        return None;
                    }
                    Ok(n) => {
                        self.at = 0;
                        self.len = n;
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
            let Some((ino, kind, name, reclen)) = record(&self.buf[self.at..self.len]) else {
                self.done = true;
                return Some(Err(Errno(wayos_abi::errno::EIO)));
            };
            self.at += reclen;
            if name == "." || name == ".." {
                continue;
            }
            return Some(Ok(DirEntry {
                ino,
                kind,
                name: String::from(name),
            }));
        }
    }
}

/// `fsync(fd)`: the file's data and its directory entry reach the disk (nothing to do
/// for memory file systems).
pub fn fsync(fd: usize) -> Result<(), Errno> {
    crate::sys::call1(MemFree::FSYNC, fd).map(|_| ())
}

/// `mount(dev, path, flags)`: the FAT volume on block device `dev` on the directory
/// `path` (`flags`: [`wayos_abi::fs::MS_RDONLY`]). Needs `caps::MOUNT`.
pub fn mount(dev: usize, path: &str, flags: u32) -> Result<(), Errno> {
    let args = [
        dev,
        path.as_ptr() as usize,
        path.len(),
        flags as usize,
        0,
        0,
    ];
    // SAFETY: the kernel only reads `path`, borrowed for the call.
    unsafe { crate::sys::call(sys::MOUNT, args) }.map(|_| ())
}

/// `umount(path)`: `EBUSY` while something is open on it. Needs `caps::MOUNT`.
pub fn umount(path: &str) -> Result<(), Errno> {
    path_call(sys::UMOUNT, path, [0, 0, 0, 0]).map(|_| ())
}

pub use wayos_abi::stats::MountInfo;

/// The mounted file systems (`stats(KIND_MOUNTS)`), in mount order.
pub use crate::stats::mounts;

/// A NUL-padded name field as text.
pub use crate::process::field_str;
