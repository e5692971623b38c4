//! File and directory syscalls: open, lseek, stat, fstat, getdents, mkdir, rmdir, unlink,
//! rename, ftruncate, truncate, getcwd, chdir, utimens, dup, statfs, fsync, mount, umount.
//!
//! A path may lead into the tree or into a FAT mount (`crate::fs::at_path`): each call
//! says what it does in both.
//!
//! Paths arrive as (pointer, length) and are copied in by `read_path` (`ENAMETOOLONG`
//! over `PATH_MAX`, `ENOENT` when empty, `EINVAL` when not UTF-8); relative ones start at
//! the caller's working directory. Results go out through `umem` only, and an output
//! buffer is checked before anything changes where that matters (`getdents` would lose
//! entries). The rules themselves (`ENOTDIR`, `EISDIR`, `ENOTEMPTY`, `EXDEV`, ...) are
//! `wayos_kcore::fs`, tested on the host; see `docs/fs.md`.

use alloc::vec::Vec;

use wayos_abi::fcntl::{O_CLOEXEC, O_WRONLY};
use wayos_abi::fs::{Stat, StatFs};
use wayos_abi::fs::{S_IPERM, UTIME_NOW, UTIME_OMIT};
use wayos_abi::limits::PATH_MAX;
use wayos_abi::Timespec;
use wayos_kcore::fs::fat::Clock;
use wayos_kcore::fs::tmpfs::Kind;
use wayos_kcore::fs::FsError;

use super::read_path;
use crate::descriptor::{fd_errno, FileRef, MAX_FDS};
use crate::error::{Errno, KResult};
use crate::task;
use crate::umem::{ReadOnly, UserPtr, UserSlice, WriteOnly};

/// Most bytes one `getdents` call fills (bounds the kernel buffer).
const GETDENTS_MAX: usize = 16 * 1024;

fn file(fd: usize) -> KResult<FileRef> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let f = p.fds.lock().get(fd).map_err(fd_errno)?.clone();
    Ok(f)
}

/// Puts `file` at the lowest free descriptor.
fn install(file: FileRef, cloexec: bool) -> KResult<usize> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let mut fds = p.fds.lock();
    if fds.open_count() >= MAX_FDS {
        drop(fds);
        // Outside the lock: closing a file takes the VFS lock.
        drop(file);
        return Err(Errno::EMFILE);
    }
    fds.insert_from(0, file, cloexec).map_err(fd_errno)
}

pub fn sys_open(path: usize, len: usize, flags: usize, mode: usize) -> KResult<usize> {
    let path = read_path(path, len)?;
    let file = crate::fs::open(&path, flags, mode as u32 & S_IPERM)?;
    install(file, flags & O_CLOEXEC != 0)
}

pub fn sys_lseek(fd: usize, offset: usize, whence: usize) -> KResult<usize> {
    file(fd)?.seek(offset as i64, whence).map(|p| p as usize)
}

pub fn sys_stat(path: usize, len: usize, buf: usize) -> KResult<usize> {
    let path = read_path(path, len)?;
    let st = crate::fs::at_path(
        &path,
        |v, cwd, p, _| v.resolve(cwd, p).and_then(|l| v.stat(l)),
        |m, vol, rel, _| vol.stat(rel, m.id as u64),
    )?;
    UserPtr::<Stat, WriteOnly>::new(buf)?.write(&st)?;
    Ok(0)
}

pub fn sys_fstat(fd: usize, buf: usize) -> KResult<usize> {
    let st = file(fd)?.stat()?;
    UserPtr::<Stat, WriteOnly>::new(buf)?.write(&st)?;
    Ok(0)
}

pub fn sys_statfs(path: usize, len: usize, buf: usize) -> KResult<usize> {
    let path = read_path(path, len)?;
    let st = crate::fs::at_path(
        &path,
        |v, cwd, p, _| v.resolve(cwd, p).and_then(|l| v.statfs(l)),
        |_, vol, rel, _| vol.stat(rel, 0).and_then(|_| vol.statfs()),
    )?;
    UserPtr::<StatFs, WriteOnly>::new(buf)?.write(&st)?;
    Ok(0)
}

pub fn sys_getdents(fd: usize, buf: usize, len: usize) -> KResult<usize> {
    let f = file(fd)?;
    let buf = UserSlice::<WriteOnly>::new(buf, len)?.prefix(GETDENTS_MAX);
    let mut kbuf = Vec::new();
    kbuf.try_reserve_exact(buf.len())
        .map_err(|_| Errno::ENOMEM)?;
    kbuf.resize(buf.len(), 0u8);
    // Make sure the records can be delivered before the directory offset moves past them.
    buf.write_from(&kbuf)?;
    let got = f.getdents(&mut kbuf)?;
    buf.write_from(&kbuf[..got])?;
    Ok(got)
}

pub fn sys_mkdir(path: usize, len: usize, mode: usize) -> KResult<usize> {
    let path = read_path(path, len)?;
    let perm = mode as u32 & S_IPERM;
    crate::fs::at_path(
        &path,
        |v, cwd, p, now| v.mkdir(cwd, p, perm, now).map(|_| ()),
        |_, vol, rel, _| vol.mkdir(rel),
    )?;
    Ok(0)
}

pub fn sys_rmdir(path: usize, len: usize) -> KResult<usize> {
    let path = read_path(path, len)?;
    crate::fs::at_path(
        &path,
        |v, cwd, p, now| v.rmdir(cwd, p, now),
        |_, vol, rel, _| vol.remove(rel, true),
    )?;
    Ok(0)
}

pub fn sys_unlink(path: usize, len: usize) -> KResult<usize> {
    let path = read_path(path, len)?;
    crate::fs::at_path(
        &path,
        |v, cwd, p, now| v.unlink(cwd, p, now),
        |_, vol, rel, slash| match vol.is_dir(rel)? {
            true => Err(FsError::IsDir),
            false if slash => Err(FsError::NotDir),
            false => vol.remove(rel, false),
        },
    )?;
    Ok(0)
}

pub fn sys_rename(old: usize, old_len: usize, new: usize, new_len: usize) -> KResult<usize> {
    let old = read_path(old, old_len)?;
    let new = read_path(new, new_len)?;
    crate::fs::rename(&old, &new)?;
    Ok(0)
}

/// A length argument: negative (as `off_t`) is `EINVAL`.
fn length(len: usize) -> KResult<u64> {
    if (len as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(len as u64)
}

pub fn sys_ftruncate(fd: usize, len: usize) -> KResult<usize> {
    let len = length(len)?;
    file(fd)?.truncate(len)?;
    Ok(0)
}

pub fn sys_truncate(path: usize, path_len: usize, len: usize) -> KResult<usize> {
    let path = read_path(path, path_len)?;
    let len = length(len)?;
    crate::fs::at_path(
        &path,
        |v, cwd, p, now| {
            let loc = v.resolve(cwd, p)?;
            match v.attr(loc)?.kind {
                Kind::File => v.fs_mut(loc.mount)?.truncate(loc.ino, len, now),
                Kind::Dir => Err(FsError::IsDir),
                Kind::CharDev => Err(FsError::Invalid),
            }
        },
        |_, vol, rel, _| {
            if vol.is_dir(rel)? {
                return Err(FsError::IsDir);
            }
            let o = vol.open(rel, O_WRONLY)?;
            let r = vol.truncate(o.id, len);
            vol.close(o.id).and(r)
        },
    )?;
    Ok(0)
}

/// `getcwd(buf, len)`: the path's length in bytes (no NUL); `ERANGE` if it does not fit
/// in `len` bytes, `ENAMETOOLONG` if it is longer than `PATH_MAX` (so no buffer could be
/// used with it), `ENOENT` if the directory was removed. The path is built only up to
/// `min(len, PATH_MAX)` bytes, with fallible allocation.
pub fn sys_getcwd(buf: usize, len: usize) -> KResult<usize> {
    let max = len.min(PATH_MAX);
    let path = crate::fs::getcwd(max).map_err(|e| {
        if e == Errno::ENAMETOOLONG && len < PATH_MAX {
            Errno::ERANGE
        } else {
            e
        }
    })?;
    // Only the bytes written must lie in the window: `len` may be larger.
    UserSlice::<WriteOnly>::new(buf, path.len())?.write_from(path.as_bytes())?;
    Ok(path.len())
}

pub fn sys_chdir(path: usize, len: usize) -> KResult<usize> {
    let path = read_path(path, len)?;
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let new = crate::fs::chdir(&path)?;
    // The old one is dropped outside the lock.
    let old = core::mem::replace(&mut *p.cwd.lock(), new);
    drop(old);
    Ok(0)
}

/// One `utimens` time: `None` to leave alone, else nanoseconds.
fn utime(t: Timespec, now: u64) -> KResult<Option<u64>> {
    match t.nsec {
        UTIME_NOW => Ok(Some(now)),
        UTIME_OMIT => Ok(None),
        n if (0..1_000_000_000).contains(&n) && t.sec >= 0 => Ok(Some(
            (t.sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(n as u64),
        )),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sys_utimens(path: usize, len: usize, times: usize) -> KResult<usize> {
    let path = read_path(path, len)?;
    let now = crate::time::realtime_ns();
    let (atime, mtime) = match UserPtr::<[Timespec; 2], ReadOnly>::nullable(times)? {
        None => (Some(now), Some(now)),
        Some(times) => {
            let [a, m] = times.read()?;
            (utime(a, now)?, utime(m, now)?)
        }
    };
    crate::fs::at_path(
        &path,
        |v, cwd, p, _| {
            let loc = v.resolve(cwd, p)?;
            v.fs_mut(loc.mount)?.set_times(loc.ino, atime, mtime, now)
        },
        |_, vol, rel, _| {
            if vol.is_dir(rel)? {
                return Ok(());
            }
            vol.set_mtime(rel, mtime, Clock(crate::time::realtime_ns))
        },
    )?;
    Ok(0)
}

/// `dup(fd)`: the lowest free descriptor, sharing `fd`'s open file (and its position);
/// close-on-exec clear.
pub fn sys_dup(fd: usize) -> KResult<usize> {
    let f = file(fd)?;
    install(f, false)
}

/// `fsync(fd)`: the file's data and directory entry reach the disk.
pub fn sys_fsync(fd: usize) -> KResult<usize> {
    file(fd)?.fsync()?;
    Ok(0)
}

/// `mount(dev, path, path_len, flags)` (needs `caps::MOUNT`, checked by the gate).
pub fn sys_mount(dev: usize, path: usize, len: usize, flags: usize) -> KResult<usize> {
    let path = read_path(path, len)?;
    let flags = u32::try_from(flags).map_err(|_| Errno::EINVAL)?;
    crate::fs::mount(dev, &path, flags)?;
    Ok(0)
}

/// `umount(path, path_len, flags)` (needs `caps::MOUNT`); `flags` must be 0.
pub fn sys_umount(path: usize, len: usize, flags: usize) -> KResult<usize> {
    let path = read_path(path, len)?;
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    crate::fs::umount(&path)?;
    Ok(0)
}

/// TEMPORARY (helper B, issue 18): `stats(KIND_MOUNTS, buf, len)` only, so `mount`, `df`
/// and fstest can list mounts before helper D's stats syscall lands; the lead drops this
/// and its dispatch arm at merge (D's `KIND_MOUNTS` arm calls `crate::fs::mounts()`).
pub fn sys_stats_mounts(what: usize, buf: usize, len: usize) -> KResult<usize> {
    use wayos_abi::stats::{MountInfo, KIND_MOUNTS};
    use wayos_abi::zerocopy::IntoBytes;
    if what != KIND_MOUNTS as usize {
        return Err(Errno::EINVAL);
    }
    let list = crate::fs::mounts();
    let fit = (len / core::mem::size_of::<MountInfo>()).min(list.len());
    let bytes = list[..fit].as_bytes();
    UserSlice::<WriteOnly>::new(buf, bytes.len())?.write_from(bytes)?;
    Ok(list.len())
}
