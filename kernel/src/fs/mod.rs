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
//! - `/disk` (and whatever `mount` adds) is a FAT volume on a block device ([`fat`]).
//!   The tree records only where it sits; a path that ends inside it is found with
//!   `Vfs::locate` under the VFS lock, and the operation then runs on the volume under
//!   the volume's own sleeping lock, with the VFS lock released (block I/O sleeps).
//!
//! Locking: the VFS lock is taken after a file's position lock and a process's `fds`
//! lock, never the other way round, and nothing blocks or touches user memory under it.
//! Dropping the last reference to an open file takes it (to end its open reference), so
//! open files are never dropped under it either.

mod dev;
pub mod fat;
mod open;
pub mod page;

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Deref;

use spin::{MutexGuard, Once};
use wayos_abi::fcntl::{O_ACCMODE, O_APPEND, O_RDONLY, O_WRONLY};
use wayos_abi::fs::DEV_CONSOLE;
use wayos_abi::fs::{DEV_NULL, DEV_ZERO};
use wayos_kcore::cpio;
use wayos_kcore::fs::fat::Volume;
use wayos_kcore::fs::tmpfs::{Kind, Limits, NewNode, Tmpfs, ROOT};
use wayos_kcore::fs::vfs::{Loc, Place, Vfs};
use wayos_kcore::fs::FsError;

use self::fat::{BlkDisk, FatFile, FatMount};
use self::open::{DevFile, Node, VfsFile};
use self::page::FramePage;
use crate::descriptor::FileRef;
use crate::error::{Errno, KResult};
use crate::sync::Mutex;
use crate::task;
use crate::time::realtime_ns;

/// A process's working directory: a directory of the tree, or one inside a FAT mount
/// (by path: FAT has no inodes). The latter keeps the mount busy (`umount` is `EBUSY`).
#[derive(Clone)]
pub enum Cwd {
    Tree(Loc),
    Fat { mount: Arc<FatMount>, rel: String },
}

/// The kernel's tree: tmpfs data in physical frames.
pub type KernelVfs = Vfs<FramePage>;

static VFS: Once<Mutex<KernelVfs>> = Once::new();

/// The errno for a file system error.
pub fn errno(e: FsError) -> Errno {
    Errno(e.errno())
}

/// The tree, locked. `EIO` before [`init`] (nothing runs that early).
fn vfs() -> KResult<MutexGuard<'static, KernelVfs>> {
    VFS.get().map(Mutex::lock).ok_or(Errno::EIO)
}

const ROOT_LOC: Loc = Loc {
    mount: 0,
    ino: ROOT,
};

/// The root directory: the working directory of the first process.
pub const fn root() -> Cwd {
    Cwd::Tree(ROOT_LOC)
}

/// The calling process's working directory (the root for the kernel itself).
fn cwd() -> Cwd {
    task::current_process().map_or(root(), |p| p.cwd.lock().clone())
}

/// Where a path leads.
enum Route<'p> {
    /// Into the tree: walk `path` from `cwd`.
    Tree { cwd: Loc, path: Cow<'p, str> },
    /// Into a FAT mount, at `rel`.
    Fat {
        mount: Arc<FatMount>,
        rel: String,
        must_be_dir: bool,
    },
}

/// Finds where `path` (relative ones from the caller's working directory) leads.
fn route(path: &str) -> KResult<Route<'_>> {
    let (cwd, path) = match cwd() {
        Cwd::Tree(loc) => (loc, Cow::Borrowed(path)),
        Cwd::Fat { .. } if path.starts_with('/') => (ROOT_LOC, Cow::Borrowed(path)),
        // Relative to a directory inside a FAT mount: the same walk from the root.
        Cwd::Fat { mount, rel } => {
            let mut full = String::new();
            full.try_reserve(mount.path.len() + rel.len() + path.len() + 2)
                .map_err(|_| Errno::ENOMEM)?;
            full.push_str(&mount.path);
            full.push('/');
            full.push_str(&rel);
            full.push('/');
            full.push_str(path);
            (ROOT_LOC, Cow::Owned(full))
        }
    };
    let place = vfs()?.locate(cwd, &path).map_err(errno)?;
    Ok(match place {
        Place::Tree => Route::Tree { cwd, path },
        Place::External {
            mount,
            rel,
            must_be_dir,
        } => Route::Fat {
            mount: fat::get(mount)?,
            rel,
            must_be_dir,
        },
    })
}

/// Runs a path operation where `path` leads: `tree` on the tree (with the walk's start,
/// the path and the time), or `on_fat` on a FAT volume (with the mount, the relative
/// path and whether the path ended with a slash).
pub fn at_path<T>(
    path: &str,
    tree: impl FnOnce(&mut KernelVfs, Loc, &str, u64) -> Result<T, FsError>,
    on_fat: impl FnOnce(&FatMount, &mut Volume<'static, BlkDisk>, &str, bool) -> Result<T, FsError>,
) -> KResult<T> {
    match route(path)? {
        Route::Tree { cwd, path } => {
            let mut v = vfs()?;
            tree(&mut v, cwd, &path, realtime_ns()).map_err(errno)
        }
        Route::Fat {
            mount,
            rel,
            must_be_dir,
        } => mount.with(|vol| on_fat(&mount, vol, &rel, must_be_dir)),
    }
}

/// `rename`: both paths in the tree, or both in one FAT mount; else `EXDEV`.
pub fn rename(old: &str, new: &str) -> KResult<()> {
    match (route(old)?, route(new)?) {
        // Both walks start at the same place: the caller's directory, or the root when
        // that is inside a FAT mount (relative paths were made absolute then).
        (Route::Tree { cwd, path: o }, Route::Tree { path: n, .. }) => {
            vfs()?.rename(cwd, &o, &n, realtime_ns()).map_err(errno)
        }
        (
            Route::Fat { mount, rel: o, .. },
            Route::Fat {
                mount: m2, rel: n, ..
            },
        ) if Arc::ptr_eq(&mount, &m2) => {
            drop(m2);
            mount.with(|vol| vol.rename(&o, &n))
        }
        _ => Err(Errno(wayos_abi::errno::EXDEV)),
    }
}

/// `chdir`.
pub fn chdir(path: &str) -> KResult<Cwd> {
    match route(path)? {
        Route::Tree { cwd, path } => {
            let v = vfs()?;
            let loc = v.resolve(cwd, &path).map_err(errno)?;
            match v.attr(loc).map_err(errno)?.kind {
                Kind::Dir => Ok(Cwd::Tree(loc)),
                _ => Err(Errno::ENOTDIR),
            }
        }
        Route::Fat { mount, rel, .. } => {
            if !mount.with(|vol| vol.is_dir(&rel))? {
                return Err(Errno::ENOTDIR);
            }
            Ok(Cwd::Fat { mount, rel })
        }
    }
}

/// `getcwd`'s path, at most `max` bytes (`ENAMETOOLONG` past that).
pub fn getcwd(max: usize) -> KResult<String> {
    match cwd() {
        Cwd::Tree(loc) => vfs()?.path_of(loc, max).map_err(errno),
        Cwd::Fat { mount, rel } => {
            let len = mount.path.len() + if rel.is_empty() { 0 } else { rel.len() + 1 };
            if len > max {
                return Err(Errno::ENAMETOOLONG);
            }
            let mut s = String::new();
            s.try_reserve(len).map_err(|_| Errno::ENOMEM)?;
            s.push_str(&mount.path);
            if !rel.is_empty() {
                s.push('/');
                s.push_str(&rel);
            }
            Ok(s)
        }
    }
}

/// `mount`: the FAT volume on block device `dev` on the directory `path` (a directory
/// of the tree). `flags`: `MS_RDONLY`.
pub fn mount(dev: usize, path: &str, flags: u32) -> KResult<()> {
    if flags & !wayos_abi::fs::MS_RDONLY != 0 {
        return Err(Errno::EINVAL);
    }
    let (cwd, path) = match route(path)? {
        Route::Tree { cwd, path } => (cwd, path),
        // Inside a FAT volume: it would have to be a directory of the tree.
        Route::Fat { rel, .. } if rel.is_empty() => return Err(Errno::EBUSY),
        Route::Fat { .. } => return Err(Errno::EINVAL),
    };
    let m = fat::mount(dev, flags & wayos_abi::fs::MS_RDONLY != 0, || {
        let mut v = vfs()?;
        let at = v.resolve(cwd, &path).map_err(errno)?;
        let abs = v.path_of(at, wayos_abi::limits::PATH_MAX).map_err(errno)?;
        let id = v.mount_external(cwd, &path).map_err(errno)?;
        Ok((id, abs))
    })?;
    log::info!(
        "vfs: vfat on {} from blk{} ({})",
        m.path,
        m.dev,
        if m.rdonly { "ro" } else { "rw" }
    );
    Ok(())
}

/// `umount`: `EINVAL` unless `path` is a FAT mount's root, `EBUSY` while a file or a
/// working directory is open on it.
pub fn umount(path: &str) -> KResult<()> {
    let Route::Fat { mount, rel, .. } = route(path)? else {
        return Err(Errno::EINVAL);
    };
    if !rel.is_empty() {
        return Err(Errno::EINVAL);
    }
    let id = mount.id;
    fat::unmount(mount, false, || vfs()?.unmount_external(id).map_err(errno))?;
    log::info!("vfs: unmounted mount {id}");
    Ok(())
}

/// Writes back every FAT mount (open files' directory entries, then the device's dirty
/// blocks): `sync`.
pub fn sync_mounts() -> KResult<()> {
    let mut r = Ok(());
    for m in fat::all() {
        if let Err(e) = m.sync() {
            r = Err(e);
        }
    }
    r
}

/// Unmounts every FAT mount, open files or not (shutdown): their volumes are marked
/// clean and written back.
pub fn unmount_all() {
    for m in fat::all() {
        let id = m.id;
        if let Err(e) = fat::unmount(m, true, || vfs()?.unmount_external(id).map_err(errno)) {
            log::warn!("vfs: unmounting mount {id} at shutdown: {e:?}");
        }
    }
}

/// Every mounted file system, for `stats(KIND_MOUNTS)`.
pub fn mounts() -> Vec<wayos_abi::stats::MountInfo> {
    use wayos_abi::zerocopy::FromZeros;
    let list = vfs().map(|v| v.mount_list()).unwrap_or_default();
    let fats = fat::all();
    let mut out = Vec::new();
    if out.try_reserve(list.len()).is_err() {
        return out;
    }
    for (id, kind, path) in list {
        let mut mi = wayos_abi::stats::MountInfo::new_zeroed();
        mi.id = id as u32;
        let (fstype, source) = match kind {
            "ext" => match fats.iter().find(|m| m.id == id) {
                Some(m) => {
                    if m.rdonly {
                        mi.flags = wayos_abi::fs::MS_RDONLY;
                    }
                    ("vfat", format!("blk{}", m.dev))
                }
                None => continue,
            },
            "devfs" => ("devfs", String::from("devfs")),
            _ => ("tmpfs", String::from("tmpfs")),
        };
        copy_cut(&mut mi.fstype, fstype);
        copy_cut(&mut mi.source, &source);
        copy_cut(&mut mi.path, &path);
        out.push(mi);
    }
    out
}

/// `s` into a NUL-padded field, cut to leave at least one NUL.
fn copy_cut(field: &mut [u8], s: &str) {
    let n = s.len().min(field.len() - 1);
    field[..n].copy_from_slice(&s.as_bytes()[..n]);
}

/// Builds the tree: tmpfs at `/` holding the initramfs, `/tmp`, devfs at `/dev`.
pub fn init(initramfs: &'static [u8]) {
    let now = realtime_ns();
    let free = crate::mm::pmm::free_pages() as u64 * wayos_kcore::fs::PAGE_SIZE as u64;
    let limits = Limits::for_memory(free / 2);
    let mut v = Vfs::new(Tmpfs::new(limits, 0o755, now));
    let files = unpack(&mut v, initramfs, now);
    let r = ROOT_LOC;
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
    VFS.call_once(|| Mutex::new(v));
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
                v.make_node(ROOT_LOC, &path, NewNode::StaticFile(entry.data), perm, now)
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
        match v.mkdir(ROOT_LOC, &prefix, perm, now) {
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
    let (cwd, path) = match route(path)? {
        Route::Tree { cwd, path } => (cwd, path),
        Route::Fat { mount, rel, .. } => {
            return mount
                .with(|vol| {
                    let o = vol.open(&rel, wayos_abi::fcntl::O_RDONLY)?;
                    let r = read_all(vol, o);
                    vol.close(o.id)?;
                    r
                })
                .map(FileBytes::Owned);
        }
    };
    let mut v = vfs()?;
    let loc = v.resolve(cwd, &path).map_err(errno)?;
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

/// A whole open FAT file.
fn read_all(
    vol: &mut Volume<'static, BlkDisk>,
    o: wayos_kcore::fs::fat::Opened,
) -> Result<Vec<u8>, FsError> {
    if o.dir {
        return Err(FsError::Access);
    }
    let size = usize::try_from(vol.size(o.id)?).map_err(|_| FsError::NoSpace)?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(size).map_err(|_| FsError::NoSpace)?;
    buf.resize(size, 0);
    let n = vol.read(o.id, 0, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// `open`: the file `path` names, as an open file for a descriptor.
pub fn open(path: &str, flags: usize, perm: u32) -> KResult<FileRef> {
    let readable = flags & O_ACCMODE != O_WRONLY;
    let writable = flags & O_ACCMODE != O_RDONLY;
    let (cwd, path) = match route(path)? {
        Route::Tree { cwd, path } => (cwd, path),
        Route::Fat {
            mount,
            rel,
            must_be_dir,
        } => {
            let o = mount.with(|vol| {
                let o = vol.open(&rel, flags)?;
                if must_be_dir && !o.dir {
                    let _ = vol.close(o.id);
                    return Err(if o.created {
                        FsError::IsDir
                    } else {
                        FsError::NotDir
                    });
                }
                Ok(o)
            })?;
            return Ok(Arc::new(FatFile::new(
                mount,
                o.id,
                o.dir,
                readable,
                writable,
                flags & O_APPEND != 0,
            )));
        }
    };
    let opened = vfs()?
        .open(cwd, &path, flags, perm, realtime_ns())
        .map_err(errno)?;
    // Outside the lock: dropping the node (on an error below) takes it.
    let node = Node::new(opened.loc);
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
