//! The file system core: path syntax ([`path`]), the in-memory file system ([`tmpfs`]),
//! FAT volumes on a disk ([`fat`]) and the mount table that walks paths across file
//! systems ([`vfs`]).
//!
//! Everything here is plain data and logic, unit-tested on the host; the kernel keeps one
//! [`vfs::Vfs`] behind a lock and turns [`FsError`] into errno values. File contents live
//! in pages of a type the user of the crate chooses ([`Page`]): the kernel uses physical
//! frames, the tests heap boxes. Nothing here panics on anything a program can pass.

mod data;
pub mod fat;
pub mod path;
pub mod tmpfs;
pub mod vfs;

use wayos_abi::errno;
use wayos_abi::fs::{dirent_reclen, DirentHeader, DIRENT_NAME};
use wayos_abi::zerocopy::IntoBytes;

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
    /// `EROFS`: the names of a sealed file system (`/dev`) cannot change, or the mount is
    /// read-only.
    ReadOnly,
    /// `EIO`: the device failed, or the on-disk structures are corrupt.
    Io,
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
            FsError::ReadOnly => errno::EROFS,
            FsError::Io => errno::EIO,
        }
    }
}

pub type FsResult<T> = Result<T, FsError>;

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
    let header = DirentHeader {
        ino,
        off: next,
        reclen: len as u16,
        kind,
    };
    rec[..DIRENT_NAME].copy_from_slice(header.as_bytes());
    rec[DIRENT_NAME..DIRENT_NAME + name.len()].copy_from_slice(name.as_bytes());
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

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
