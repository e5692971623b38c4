//! Open files on the VFS: regular files and directories ([`VfsFile`]) and device nodes
//! ([`DevFile`]).
//!
//! An open file holds an open reference on its inode ([`Node`]), so an unlinked file
//! stays readable until its last descriptor closes. The position and the access mode are
//! per open file, shared by every descriptor `dup`, `fork` or `spawn` copied from the
//! same `open` (POSIX). Reads and writes check the access mode (`EBADF`), an `O_APPEND`
//! write moves to the end and writes in one step under the VFS lock.

use wayos_abi::fcntl::{SEEK_CUR, SEEK_END, SEEK_SET};
use wayos_abi::fs::Stat;
use wayos_kcore::fs::put_dirent;
use wayos_kcore::fs::tmpfs::{Kind, WriteAt};
use wayos_kcore::fs::vfs::Loc;

use super::{errno, vfs};
use crate::descriptor::{File, FileRef};
use crate::error::{Errno, KResult};
use crate::sync::Mutex;
use crate::time::realtime_ns;

/// An open reference on an inode, ended on drop.
pub struct Node {
    loc: Loc,
}

impl Node {
    /// Wraps the reference `Vfs::open` took. Must not be dropped under the VFS lock.
    pub fn new(loc: Loc) -> Self {
        Self { loc }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(mut v) = vfs() {
            v.close(self.loc);
        }
    }
}

/// A regular file or a directory, open.
pub struct VfsFile {
    node: Node,
    kind: Kind,
    readable: bool,
    writable: bool,
    append: bool,
    /// The file position; for a directory, the `getdents` offset of the next entry.
    pos: Mutex<u64>,
}

impl VfsFile {
    pub fn new(node: Node, kind: Kind, readable: bool, writable: bool, append: bool) -> Self {
        Self {
            node,
            kind,
            readable,
            writable,
            append,
            pos: Mutex::new(0),
        }
    }
}

impl File for VfsFile {
    fn read(&self, buf: &mut [u8]) -> KResult<usize> {
        if !self.readable {
            return Err(Errno::EBADF);
        }
        let loc = self.node.loc;
        let mut pos = self.pos.lock();
        let n = vfs()?
            .fs_mut(loc.mount)
            .and_then(|fs| fs.read(loc.ino, *pos, buf, realtime_ns()))
            .map_err(errno)?;
        *pos += n as u64;
        Ok(n)
    }

    fn write(&self, buf: &[u8]) -> KResult<usize> {
        if !self.writable {
            return Err(Errno::EBADF);
        }
        let loc = self.node.loc;
        let mut pos = self.pos.lock();
        let at = if self.append {
            WriteAt::End
        } else {
            WriteAt::Offset(*pos)
        };
        let (n, end) = vfs()?
            .fs_mut(loc.mount)
            .and_then(|fs| fs.write(loc.ino, at, buf, realtime_ns()))
            .map_err(errno)?;
        *pos = end;
        Ok(n)
    }

    fn is_stream(&self) -> bool {
        false
    }

    fn seek(&self, offset: i64, whence: usize) -> KResult<u64> {
        let mut pos = self.pos.lock();
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CUR => *pos,
            // A directory's offsets are positions in its entry list: no end to seek from.
            SEEK_END if self.kind == Kind::Dir => return Err(Errno::EINVAL),
            SEEK_END => vfs()?.attr(self.node.loc).map_err(errno)?.size,
            _ => return Err(Errno::EINVAL),
        };
        let new = i128::from(base) + i128::from(offset);
        if new < 0 || new > i128::from(i64::MAX) {
            return Err(Errno::EINVAL);
        }
        *pos = new as u64;
        Ok(*pos)
    }

    fn stat(&self) -> KResult<Stat> {
        vfs()?.stat(self.node.loc).map_err(errno)
    }

    fn getdents(&self, buf: &mut [u8]) -> KResult<usize> {
        if self.kind != Kind::Dir {
            return Err(Errno::ENOTDIR);
        }
        let loc = self.node.loc;
        let mut pos = self.pos.lock();
        let v = vfs()?;
        let fs = v.fs(loc.mount).map_err(errno)?;
        let mut end = 0;
        while let Some((e, next)) = fs.readdir(loc.ino, *pos).map_err(errno)? {
            match put_dirent(buf, end, e.ino, next, e.kind.dirent_type(), e.name) {
                Some(at) => {
                    end = at;
                    *pos = next;
                }
                // Not even one record fits: the buffer is too small.
                None if end == 0 => return Err(Errno::EINVAL),
                None => break,
            }
        }
        Ok(end)
    }

    fn fsync(&self) -> KResult<()> {
        Ok(())
    }

    fn truncate(&self, len: u64) -> KResult<()> {
        if !self.writable || self.kind != Kind::File {
            return Err(Errno::EINVAL);
        }
        let loc = self.node.loc;
        vfs()?
            .fs_mut(loc.mount)
            .and_then(|fs| fs.truncate(loc.ino, len, realtime_ns()))
            .map_err(errno)
    }
}

/// A device node, open: reads and writes go to the device, with the access mode checked;
/// `fstat` describes the node.
pub struct DevFile {
    node: Node,
    dev: FileRef,
    readable: bool,
    writable: bool,
}

impl DevFile {
    pub fn new(node: Node, dev: FileRef, readable: bool, writable: bool) -> Self {
        Self {
            node,
            dev,
            readable,
            writable,
        }
    }
}

impl File for DevFile {
    fn read(&self, buf: &mut [u8]) -> KResult<usize> {
        if !self.readable {
            return Err(Errno::EBADF);
        }
        self.dev.read(buf)
    }

    fn write(&self, buf: &[u8]) -> KResult<usize> {
        if !self.writable {
            return Err(Errno::EBADF);
        }
        self.dev.write(buf)
    }

    fn fsync(&self) -> KResult<()> {
        Ok(())
    }

    fn is_console_device(&self) -> bool {
        self.dev.is_console_device()
    }

    fn is_stream(&self) -> bool {
        self.dev.is_stream()
    }

    fn stat(&self) -> KResult<Stat> {
        vfs()?.stat(self.node.loc).map_err(errno)
    }
}
