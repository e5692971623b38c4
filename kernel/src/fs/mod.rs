//! The VFS: one tree of names over mounted file systems, and the open files on it.
//!
//! The tree logic (tmpfs, mounts, path walking, POSIX rules) is `wayos_kcore::fs`, tested
//! on the host; this module holds the kernel's single instance behind one lock, fills it
//! at boot, and turns what `open` finds into [`crate::descriptor::File`]s:
//!
//! - `/` is a tmpfs sized from free memory (half of it for data, an inode per 16 KiB,
//!   never under 512 inodes or 1 MiB per file). The initramfs is unpacked into it at
//!   boot: every directory and file of the archive (`/bin`, `/etc`, `/boot`) becomes a
//!   tmpfs inode whose data starts out as the archive's bytes (the archive stays mapped
//!   for the kernel's life) and is copied into pages of its own on the first write.
//!   `/tmp` is created empty (mode 1777).
//! - `/dev` is a second, small tmpfs holding the device nodes `console`, `null` and
//!   `zero` ([`dev`]), sealed once they exist: creating, removing or renaming a name in it
//!   is `EROFS`.
//!
//! Locking: the VFS lock is taken after a file's position lock and a process's `fds`
//! lock, never the other way round, and nothing blocks or touches user memory under it.
//! Dropping the last reference to an open file takes it (to end its open reference), so
//! open files are never dropped under it either.

mod dev;
mod open;
pub mod page;

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Deref;

use spin::Once;
use wayos_abi::fcntl::{O_ACCMODE, O_APPEND, O_RDONLY, O_WRONLY};
use wayos_abi::fs::DEV_CONSOLE;
use wayos_abi::fs::{DEV_NULL, DEV_ZERO};
use wayos_kcore::cpio;
use wayos_kcore::fs::tmpfs::{Kind, Limits, NewNode, Tmpfs, ROOT};
use wayos_kcore::fs::vfs::{Loc, Vfs};
use wayos_kcore::fs::FsError;

use self::open::{DevFile, Node, VfsFile};
use self::page::FramePage;
use crate::descriptor::FileRef;
use crate::error::{Errno, KResult};
use crate::sync::{Tracked, TrackedGuard};
use crate::task;
use crate::time::realtime_ns;

/// A process's working directory.
pub type Cwd = Loc;

/// The kernel's tree: tmpfs data in physical frames.
pub type KernelVfs = Vfs<FramePage>;

static VFS: Once<Tracked<KernelVfs>> = Once::new();

/// The errno for a file system error.
pub fn errno(e: FsError) -> Errno {
    Errno(e.errno())
}

/// The tree, locked. `EIO` before [`init`] (nothing runs that early).
fn vfs() -> KResult<TrackedGuard<'static, KernelVfs>> {
    VFS.get().map(Tracked::lock).ok_or(Errno::EIO)
}

/// The root directory: the working directory of the first process.
pub const fn root() -> Cwd {
    Loc {
        mount: 0,
        ino: ROOT,
    }
}

/// The calling process's working directory (the root for the kernel itself).
fn cwd() -> Cwd {
    task::current_process().map_or(root(), |p| *p.cwd.lock())
}

/// Builds the tree: tmpfs at `/` holding the initramfs, `/tmp`, devfs at `/dev`.
pub fn init(initramfs: &'static [u8]) {
    let now = realtime_ns();
    let free = crate::mm::pmm::free_pages() as u64 * wayos_kcore::fs::PAGE_SIZE as u64;
    let limits = Limits::for_memory(free / 2);
    let mut v = Vfs::new(Tmpfs::new(limits, 0o755, now));
    let files = unpack(&mut v, initramfs, now);
    let r = root();
    for (path, perm) in [("/tmp", 0o1777), ("/dev", 0o755)] {
        match v.mkdir(r, path, perm, now) {
            Ok(_) | Err(FsError::Exists) => {}
            Err(e) => log::warn!("vfs: cannot make {path}: {}", errno(e)),
        }
    }
    let devfs = Tmpfs::new(Limits::for_memory(0), 0o755, now);
    match v.mount(r, "/dev", devfs) {
        Ok(mount) => {
            for (name, rdev) in [
                ("/dev/console", DEV_CONSOLE),
                ("/dev/null", DEV_NULL),
                ("/dev/zero", DEV_ZERO),
            ] {
                if let Err(e) = v.make_node(r, name, NewNode::CharDev(rdev), 0o666, now) {
                    log::warn!("vfs: cannot make {name}: {}", errno(e));
                }
            }
            // Device names are the kernel's: no program may remove, rename or add one
            // (there are no users to own them, so nothing finer would hold).
            if let Err(e) = v.seal(mount) {
                log::warn!("vfs: cannot seal /dev: {}", errno(e));
            }
        }
        Err(e) => log::warn!("vfs: cannot mount the devfs on /dev: {}", errno(e)),
    }
    log::info!(
        "vfs: tmpfs on / ({} MiB, {} inodes, files up to {} MiB) holding {} initramfs files; devfs on /dev",
        limits.max_bytes >> 20,
        limits.max_inodes,
        limits.max_file_size >> 20,
        files
    );
    VFS.call_once(|| Tracked::new(v, &crate::sync::names::VFS));
}

/// Unpacks the archive into the tree; returns how many files it held.
fn unpack(v: &mut KernelVfs, archive: &'static [u8], now: u64) -> usize {
    let mut files = 0;
    for entry in cpio::entries(archive) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                log::warn!("vfs: initramfs: {e}; unpacked what came before");
                break;
            }
        };
        let name = entry.name.trim_start_matches("./").trim_start_matches('/');
        if name.is_empty() || name == "." {
            continue;
        }
        let path = format!("/{name}");
        let perm = entry.mode & wayos_abi::fs::S_IPERM;
        let made = if entry.is_dir() {
            mkdir_all(v, &path, perm, now)
        } else if entry.is_file() {
            let parent = path.rsplit_once('/').map_or("/", |(d, _)| d);
            mkdir_all(v, parent, 0o755, now).and_then(|()| {
                v.make_node(root(), &path, NewNode::StaticFile(entry.data), perm, now)
                    .map(|_| files += 1)
            })
        } else {
            log::debug!("vfs: initramfs: skipping {path} (mode {:o})", entry.mode);
            Ok(())
        };
        if let Err(e) = made {
            log::warn!("vfs: initramfs: {path}: {}", errno(e));
        }
    }
    files
}

/// `mkdir -p`.
fn mkdir_all(v: &mut KernelVfs, path: &str, perm: u32, now: u64) -> Result<(), FsError> {
    let mut prefix = alloc::string::String::new();
    for c in path.split('/').filter(|c| !c.is_empty()) {
        prefix.push('/');
        prefix.push_str(c);
        match v.mkdir(root(), &prefix, perm, now) {
            Ok(_) | Err(FsError::Exists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A whole file's contents, for loading a program: the archive's bytes while the file is
/// unchanged since boot, else a copy.
pub enum FileBytes {
    Static(&'static [u8]),
    Owned(Vec<u8>),
}

impl Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Static(b) => b,
            FileBytes::Owned(v) => v,
        }
    }
}

/// The contents of the regular file at `path` (relative to the caller's working
/// directory). `EACCES` for directories and devices.
pub fn read_file(path: &str) -> KResult<FileBytes> {
    let cwd = cwd();
    let mut v = vfs()?;
    let loc = v.resolve(cwd, path).map_err(errno)?;
    let attr = v.attr(loc).map_err(errno)?;
    if attr.kind != Kind::File {
        return Err(Errno::EACCES);
    }
    let fs = v.fs_mut(loc.mount).map_err(errno)?;
    if let Some(bytes) = fs.static_data(loc.ino) {
        return Ok(FileBytes::Static(bytes));
    }
    let size = usize::try_from(attr.size).map_err(|_| Errno::ENOMEM)?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(size).map_err(|_| Errno::ENOMEM)?;
    buf.resize(size, 0);
    let n = fs
        .read(loc.ino, 0, &mut buf, realtime_ns())
        .map_err(errno)?;
    buf.truncate(n);
    Ok(FileBytes::Owned(buf))
}

/// `open`: the file `path` names, as an open file for a descriptor.
pub fn open(path: &str, flags: usize, perm: u32) -> KResult<FileRef> {
    let cwd = cwd();
    let opened = vfs()?
        .open(cwd, path, flags, perm, realtime_ns())
        .map_err(errno)?;
    // Outside the lock: dropping the node (on an error below) takes it.
    let node = Node::new(opened.loc);
    let readable = flags & O_ACCMODE != O_WRONLY;
    let writable = flags & O_ACCMODE != O_RDONLY;
    Ok(match opened.kind {
        Kind::File | Kind::Dir => Arc::new(VfsFile::new(
            node,
            opened.kind,
            readable,
            writable,
            flags & O_APPEND != 0,
        )),
        Kind::CharDev => Arc::new(DevFile::new(
            node,
            dev::open(opened.rdev)?,
            readable,
            writable,
        )),
    })
}

/// Runs `f` on the tree with the caller's working directory and the time.
pub fn with<T>(f: impl FnOnce(&mut KernelVfs, Cwd, u64) -> Result<T, FsError>) -> KResult<T> {
    let cwd = cwd();
    let mut v = vfs()?;
    f(&mut v, cwd, realtime_ns()).map_err(errno)
}
