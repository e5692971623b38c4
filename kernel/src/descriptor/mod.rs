//! Descriptor tables and what a descriptor refers to (console, stream, pipe, VFS file).
//!
//! A [`File`] is anything `read` and `write` reach through a descriptor: the console
//! device, stream fds whose reads and writes are calls to a server's port, pipes, and
//! files, directories and devices opened through the VFS (`crate::fs`).
//! Files are shared (`Arc`): `dup2`, `fork` and `spawn` copy references, and a file closes
//! when its last descriptor does. This module owns the file types and the table; the
//! syscalls that use them are in `syscall/fd.rs`.
//!
//! No `unsafe` here: descriptors reach memory only through safe types (`umem` for user
//! buffers, the VFS for file data).
#![deny(unsafe_code)]

mod console;
mod pipe;
mod stream;

use alloc::sync::Arc;
use alloc::vec::Vec;

use wayos_kcore::fdtable::{FdError, FdTable};

use crate::error::{Errno, KResult};

pub use self::console::ConsoleDevice;
pub use self::pipe::pipe;
pub use self::stream::PortStream;

/// Descriptors one process may have open.
pub const MAX_FDS: usize = wayos_abi::limits::MAX_FDS;

/// What a descriptor refers to. Both calls may block; neither holds a lock while it does.
pub trait File: Send + Sync {
    /// Reads into `buf` (not empty): how many bytes arrived, 0 at end of file.
    fn read(&self, buf: &mut [u8]) -> KResult<usize>;
    /// Writes from `buf` (not empty): how many bytes were taken.
    fn write(&self, buf: &[u8]) -> KResult<usize>;
    /// This file as a stream fd (for `fd_call`), if it is one.
    fn as_port_stream(&self) -> Option<&PortStream> {
        None
    }
    /// The console device itself (for `console_bind`).
    fn is_console_device(&self) -> bool {
        false
    }
    /// True for files whose reads may block or return less than asked before the end
    /// (streams, pipes, devices): `read` makes one call for them. Regular files answer
    /// false, and `read` keeps calling until the buffer is full or a call comes up short.
    fn is_stream(&self) -> bool {
        true
    }
    /// Moves the file position (`lseek`, `whence` one of `fcntl::SEEK_*`) and returns
    /// it. Streams and devices have no position: `ESPIPE`.
    fn seek(&self, _offset: i64, _whence: usize) -> KResult<u64> {
        Err(Errno::ESPIPE)
    }
    /// The file's status (`fstat`). A file with no node of its own (the console device,
    /// a stream) reports an anonymous character device.
    fn stat(&self) -> KResult<wayos_abi::fs::Stat> {
        Ok(wayos_abi::fs::Stat {
            mode: wayos_abi::fs::S_IFCHR | 0o600,
            nlink: 1,
            blksize: 4096,
            ..Default::default()
        })
    }
    /// Fills `buf` with directory records (`getdents`); `ENOTDIR` unless a directory.
    fn getdents(&self, _buf: &mut [u8]) -> KResult<usize> {
        Err(Errno::ENOTDIR)
    }
    /// Sets the size (`ftruncate`); `EINVAL` unless a regular file open for writing.
    fn truncate(&self, _len: u64) -> KResult<()> {
        Err(Errno::EINVAL)
    }
    /// Makes the file's data and directory entry durable (`fsync`). Files of memory file
    /// systems and devices have nothing to write: `Ok`. `EINVAL` for pipes and streams.
    fn fsync(&self) -> KResult<()> {
        Err(Errno::EINVAL)
    }
}

pub type FileRef = Arc<dyn File>;
pub type Fds = FdTable<FileRef>;

pub fn fd_errno(e: FdError) -> Errno {
    match e {
        FdError::BadFd => Errno::EBADF,
        FdError::Full => Errno::EMFILE,
    }
}

/// An empty table.
pub const fn empty_table() -> Fds {
    FdTable::new(MAX_FDS)
}

/// The table of a process the kernel starts itself (init): 0, 1 and 2 on the console.
pub fn console_table() -> Fds {
    let mut t = empty_table();
    let console: FileRef = Arc::new(ConsoleDevice);
    for _ in 0..3 {
        if t.insert(console.clone()).is_err() {
            unreachable!("a new table has room for three descriptors");
        }
    }
    t
}

/// Drops files outside any lock (closing a stream may wake its server).
pub fn drop_files(files: Vec<FileRef>) {
    drop(files);
}
