//! The file system core: path syntax ([`path`]), the in-memory file system ([`tmpfs`])
//! and the mount table that walks paths across file systems ([`vfs`]).
//!
//! Everything here is plain data and logic, unit-tested on the host; the kernel keeps one
//! [`vfs::Vfs`] behind a lock and turns [`FsError`] into errno values. File contents live
//! in pages of a type the user of the crate chooses ([`Page`]): the kernel uses physical
//! frames, the tests heap boxes. Nothing here panics on anything a program can pass.

mod data;
pub mod path;
pub mod tmpfs;
pub mod vfs;

use wayos_abi::errno;
use wayos_abi::fs::{dirent_reclen, DIRENT_TYPE};
use wayos_abi::fs::{Stat, StatFs, DIRENT_INO, DIRENT_NAME, DIRENT_OFF, DIRENT_RECLEN};

pub use data::{HeapPage, Page, PAGE_SIZE};

/// Why a file system operation failed; each is one errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsError {
    /// `ENOENT`: a component does not exist (or the directory was removed).
    NotFound,
    /// `ENOTDIR`: a component used as a directory is not one.
    NotDir,
    /// `EISDIR`: a directory where a file is needed.
    IsDir,
    /// `ENOTEMPTY`: removing or replacing a directory that has entries.
    NotEmpty,
    /// `EEXIST`: the name is taken.
    Exists,
    /// `ENAMETOOLONG`: a component over `NAME_MAX` or a path over `PATH_MAX` bytes.
    NameTooLong,
    /// `EINVAL`: a bad flag or argument, or moving a directory into itself.
    Invalid,
    /// `EXDEV`: a rename between mounted file systems.
    CrossDevice,
    /// `ENOSPC`: the inode or memory budget is used up.
    NoSpace,
    /// `EFBIG`: past the largest file size.
    TooBig,
    /// `EBUSY`: a mount point, or the root.
    Busy,
    /// `EACCES`: not something the operation can use (executing a directory).
    Access,
}

impl FsError {
    /// The errno (`wayos_abi::errno`) a syscall returns.
    pub const fn errno(self) -> isize {
        match self {
            FsError::NotFound => errno::ENOENT,
            FsError::NotDir => errno::ENOTDIR,
            FsError::IsDir => errno::EISDIR,
            FsError::NotEmpty => errno::ENOTEMPTY,
            FsError::Exists => errno::EEXIST,
            FsError::NameTooLong => errno::ENAMETOOLONG,
            FsError::Invalid => errno::EINVAL,
            FsError::CrossDevice => errno::EXDEV,
            FsError::NoSpace => errno::ENOSPC,
            FsError::TooBig => errno::EFBIG,
            FsError::Busy => errno::EBUSY,
            FsError::Access => errno::EACCES,
        }
    }
}

pub type FsResult<T> = Result<T, FsError>;

/// `stat` as the bytes of its `repr(C)` layout (little endian, as both architectures are).
pub fn stat_bytes(s: &Stat) -> [u8; core::mem::size_of::<Stat>()] {
    let mut b = [0u8; core::mem::size_of::<Stat>()];
    let mut w = Writer { buf: &mut b, at: 0 };
    w.u64(s.dev);
    w.u64(s.ino);
    w.u32(s.mode);
    w.u32(s.nlink);
    w.u32(s.uid);
    w.u32(s.gid);
    w.u64(s.rdev);
    w.u64(s.size);
    w.u64(s.blksize);
    w.u64(s.blocks);
    for t in [s.atime, s.mtime, s.ctime] {
        w.u64(t.sec as u64);
        w.u64(t.nsec as u64);
    }
    b
}

/// `statfs` as the bytes of its `repr(C)` layout.
pub fn statfs_bytes(s: &StatFs) -> [u8; core::mem::size_of::<StatFs>()] {
    let mut b = [0u8; core::mem::size_of::<StatFs>()];
    let mut w = Writer { buf: &mut b, at: 0 };
    for v in [
        s.bsize,
        s.blocks,
        s.bfree,
        s.files,
        s.ffree,
        s.namelen,
        s.max_file_size,
    ] {
        w.u64(v);
    }
    b
}

struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn u64(&mut self, v: u64) {
        self.buf[self.at..self.at + 8].copy_from_slice(&v.to_le_bytes());
        self.at += 8;
    }
    fn u32(&mut self, v: u32) {
        self.buf[self.at..self.at + 4].copy_from_slice(&v.to_le_bytes());
        self.at += 4;
    }
}

/// Appends one `getdents` record to `buf` at `at`; `None` (nothing written) if it does not
/// fit. Returns the new end.
pub fn put_dirent(
    buf: &mut [u8],
    at: usize,
    ino: u64,
    next: u64,
    kind: u8,
    name: &str,
) -> Option<usize> {
    let len = dirent_reclen(name.len());
    let end = at.checked_add(len)?;
    let rec = buf.get_mut(at..end)?;
    rec.fill(0);
    rec[DIRENT_INO..DIRENT_INO + 8].copy_from_slice(&ino.to_le_bytes());
    rec[DIRENT_OFF..DIRENT_OFF + 8].copy_from_slice(&next.to_le_bytes());
    rec[DIRENT_RECLEN..DIRENT_RECLEN + 2].copy_from_slice(&(len as u16).to_le_bytes());
    rec[DIRENT_TYPE] = kind;
    rec[DIRENT_NAME..DIRENT_NAME + name.len()].copy_from_slice(name.as_bytes());
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;
    use wayos_abi::Timespec;

    #[test]
    fn stat_bytes_follow_the_struct_layout() {
        let s = Stat {
            dev: 1,
            ino: 2,
            mode: 3,
            nlink: 4,
            uid: 5,
            gid: 6,
            rdev: 7,
            size: 8,
            blksize: 9,
            blocks: 10,
            atime: Timespec { sec: 11, nsec: 12 },
            mtime: Timespec { sec: 13, nsec: 14 },
            ctime: Timespec { sec: 15, nsec: 16 },
        };
        let b = stat_bytes(&s);
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        assert_eq!(u64_at(offset_of!(Stat, ino)), 2);
        assert_eq!(u32_at(offset_of!(Stat, mode)), 3);
        assert_eq!(u32_at(offset_of!(Stat, gid)), 6);
        assert_eq!(u64_at(offset_of!(Stat, rdev)), 7);
        assert_eq!(u64_at(offset_of!(Stat, blocks)), 10);
        assert_eq!(u64_at(offset_of!(Stat, mtime)), 13);
        assert_eq!(u64_at(offset_of!(Stat, ctime) + 8), 16);
    }

    #[test]
    fn statfs_bytes_follow_the_struct_layout() {
        let s = StatFs {
            bsize: 4096,
            blocks: 2,
            bfree: 3,
            files: 4,
            ffree: 5,
            namelen: 255,
            max_file_size: 7,
        };
        let b = statfs_bytes(&s);
        let at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        assert_eq!(at(offset_of!(StatFs, ffree)), 5);
        assert_eq!(at(offset_of!(StatFs, max_file_size)), 7);
    }

    #[test]
    fn dirents_pack_and_refuse_what_does_not_fit() {
        let mut buf = [0xaau8; 48];
        let end = put_dirent(&mut buf, 0, 7, 3, 8, "hello").unwrap();
        assert_eq!(end, 32);
        assert_eq!(u64::from_le_bytes(buf[0..8].try_into().unwrap()), 7);
        assert_eq!(u64::from_le_bytes(buf[8..16].try_into().unwrap()), 3);
        assert_eq!(u16::from_le_bytes(buf[16..18].try_into().unwrap()), 32);
        assert_eq!(buf[18], 8);
        assert_eq!(&buf[19..25], b"hello\0");
        // 16 bytes left: a 24-byte record does not fit, and nothing is written.
        assert_eq!(put_dirent(&mut buf, end, 1, 1, 4, "."), None);
        assert_eq!(buf[32], 0xaa);
    }
}
