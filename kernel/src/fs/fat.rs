//! FAT volumes mounted from block devices (`/disk`), and their open files.
//!
//! The volume logic (validation, `lamfat`, the POSIX rules, the open-file table) is
//! `wayos_kcore::fs::fat`, tested on the host; this module runs each mounted volume
//! under its own *sleeping* lock ([`FatMount::lock`]): its block I/O waits for device
//! interrupts, so it must never run under the VFS spin lock. The VFS only records where
//! the mount sits (`Vfs::mount_external`); `crate::fs` finds which mount a path ends in
//! and at which relative path, drops the VFS lock, then calls in here.
//!
//! What it must never do: hold a spin lock across block I/O, or sleep when dropping an
//! open file (drops happen in places that hold spin locks): a close that finds the volume
//! busy is queued and done by the next holder of its lock.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use wayos_abi::fcntl::{SEEK_CUR, SEEK_END, SEEK_SET};
use wayos_abi::fs::Stat;
use wayos_kcore::fs::fat::{self, CheckError, Clock, Disk, Fs, IoHandle, NodeId, Volume};
use wayos_kcore::fs::put_dirent;
use wayos_kcore::fs::tmpfs::Kind;
use wayos_kcore::fs::FsError;

use super::errno;
use crate::descriptor::File;
use crate::error::{Errno, KResult};
use crate::sync::Mutex;
use crate::task::wait_queue::WaitQueue;
use crate::time::realtime_ns;

/// A block device as `lamfat`'s disk (through the buffer cache).
pub struct BlkDisk {
    dev: usize,
    size: u64,
}

impl Disk for BlkDisk {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), isize> {
        crate::blk::read(self.dev, offset, buf).map_err(|e| e.0)
    }
    fn write(&mut self, offset: u64, buf: &[u8]) -> Result<(), isize> {
        crate::blk::write(self.dev, offset, buf).map_err(|e| e.0)
    }
    fn size(&self) -> u64 {
        self.size
    }
}

/// A mounted volume: `lamfat`'s file system and the open-file table borrowing it.
struct State {
    /// Borrows `*fs`; dropped before it (see `Drop`).
    vol: Option<Volume<'static, BlkDisk>>,
    /// From `Box::into_raw`; freed in `Drop`.
    fs: *mut Fs<BlkDisk>,
}

// SAFETY: `vol` holds references only into `*fs`, which `State` owns; a `State` is used
// by one thread at a time (it is taken out of its mount's slot while in use), so moving
// the whole of it to another thread moves every reference with what it refers to.
unsafe impl Send for State {}

impl State {
    fn new(fs: Fs<BlkDisk>, io: IoHandle<BlkDisk>, writable: bool) -> Box<Self> {
        let fs = Box::into_raw(Box::new(fs));
        // SAFETY: `fs` is a live heap allocation that nothing else references and that
        // stays put until `Drop` frees it, after `vol` (the only user of this reference)
        // is gone.
        let fs_ref: &'static Fs<BlkDisk> = unsafe { &*fs };
        Box::new(State {
            vol: Some(Volume::new(fs_ref, io, writable)),
            fs,
        })
    }

    fn vol(&mut self) -> KResult<&mut Volume<'static, BlkDisk>> {
        self.vol.as_mut().ok_or(Errno::EIO)
    }
}

impl Drop for State {
    /// Closes what is open, then unmounts (`lamfat` writes the FS information sector
    /// and clears the volume's dirty flag). Sleeps on block I/O.
    fn drop(&mut self) {
        if let Some(mut v) = self.vol.take() {
            if let Err(e) = v.close_all() {
                log::warn!("fat: writing entries back at unmount: {}", errno(e));
            }
        }
        // SAFETY: `fs` came from `Box::into_raw` in `new` and is freed only here; `vol`,
        // the one holder of a reference into it, was dropped just above.
        let fs = unsafe { Box::from_raw(self.fs) };
        if let Err(e) = fs.unmount() {
            log::warn!("fat: unmount: {e:?}");
        }
    }
}

enum Slot {
    Free(Box<State>),
    Busy,
    Gone,
}

/// One mounted FAT volume.
pub struct FatMount {
    /// Its VFS mount number (`Stat::dev`).
    pub id: usize,
    pub dev: usize,
    pub rdonly: bool,
    /// Where it is mounted.
    pub path: String,
    slot: Mutex<Slot>,
    waiters: WaitQueue,
    /// Closes that found the volume busy (done by the next lock holder).
    pending_close: Mutex<Vec<NodeId>>,
}

/// The volume, held ([`FatMount::lock`]); given back on drop.
pub struct Guard<'a> {
    m: &'a FatMount,
    state: Option<Box<State>>,
}

impl Guard<'_> {
    pub fn vol(&mut self) -> KResult<&mut Volume<'static, BlkDisk>> {
        self.state.as_mut().ok_or(Errno::EIO)?.vol()
    }

    fn close_pending(&mut self) {
        let pending = core::mem::take(&mut *self.m.pending_close.lock());
        if let Ok(v) = self.vol() {
            for id in pending {
                if let Err(e) = v.close(id) {
                    log::warn!("fat: close: {}", errno(e));
                }
            }
        }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.state.take() {
            *self.m.slot.lock() = Slot::Free(s);
        }
        self.m.waiters.wake_all();
    }
}

impl FatMount {
    /// Takes the volume, sleeping while another thread has it. The holder's operation is
    /// bounded (block I/O has its own timeout), but a queue of waiters can be long, so a
    /// fatal signal ends the wait with `EINTR`, as the block layer's own lock does.
    /// `EIO` once unmounted.
    pub fn lock(&self) -> KResult<Guard<'_>> {
        let state = self.waiters.wait_until(|| {
            self.try_take()
                .or_else(|| crate::task::signal::fatal_pending().then_some(Err(Errno::EINTR)))
        })?;
        let mut g = Guard {
            m: self,
            state: Some(state),
        };
        g.close_pending();
        Ok(g)
    }

    /// `None` while busy.
    fn try_take(&self) -> Option<KResult<Box<State>>> {
        let mut slot = self.slot.lock();
        match core::mem::replace(&mut *slot, Slot::Busy) {
            Slot::Free(s) => Some(Ok(s)),
            Slot::Busy => None,
            Slot::Gone => {
                *slot = Slot::Gone;
                Some(Err(Errno::EIO))
            }
        }
    }

    /// Runs `f` on the volume.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut Volume<'static, BlkDisk>) -> Result<T, FsError>,
    ) -> KResult<T> {
        let mut g = self.lock()?;
        f(g.vol()?).map_err(errno)
    }

    /// Ends an open reference without sleeping or I/O (a drop may happen under a spin
    /// lock): queued for the next holder of the volume, which every operation, `sync` and
    /// `umount` are.
    fn close(&self, id: NodeId) {
        let mut pending = self.pending_close.lock();
        if pending.try_reserve(1).is_ok() {
            pending.push(id);
        } else {
            log::warn!("fat: no memory to queue a close; the file stays open until unmount");
        }
    }

    /// Writes back open files' entries and then the device's dirty blocks (`fsync`,
    /// `sync`).
    pub fn sync(&self) -> KResult<()> {
        let r = self.with(|v| v.flush_all());
        crate::blk::sync(self.dev)?;
        r
    }

    /// Unmounts: `EBUSY` if anything is open; then the volume is written back and
    /// closed, and the device synced. `others` is how many references to this mount
    /// besides the registry's and the caller's exist (working directories, open files).
    fn unmount(&self, others: usize, force: bool) -> KResult<()> {
        let mut g = self.lock()?;
        if !force && (others > 0 || g.vol()?.has_open()) {
            return Err(Errno::EBUSY);
        }
        let state = g.state.take();
        *self.slot.lock() = Slot::Gone;
        drop(g);
        // Outside every lock: unmounting writes.
        drop(state);
        let r = crate::blk::sync(self.dev);
        let _ = crate::blk::set_mounted(self.dev, false);
        r
    }
}

static MOUNTS: Mutex<Vec<Arc<FatMount>>> = Mutex::new(Vec::new());

/// The mount with VFS number `id`.
pub fn get(id: usize) -> KResult<Arc<FatMount>> {
    MOUNTS
        .lock()
        .iter()
        .find(|m| m.id == id)
        .cloned()
        .ok_or(Errno::EIO)
}

/// Every FAT mount.
pub fn all() -> Vec<Arc<FatMount>> {
    MOUNTS.lock().clone()
}

/// Mounts the FAT volume on `dev` (checked first) and records it in the VFS through
/// `attach` (which returns the mount number and the path it sits on).
pub fn mount(
    dev: usize,
    rdonly: bool,
    attach: impl FnOnce() -> KResult<(usize, String)>,
) -> KResult<Arc<FatMount>> {
    let info = crate::blk::info(dev)?;
    let rdonly = rdonly || info.flags & wayos_abi::blk::FLAG_READONLY != 0;
    crate::blk::set_mounted(dev, true)?;
    let disk = BlkDisk {
        dev,
        size: info
            .sectors
            .saturating_mul(wayos_abi::blk::SECTOR_SIZE as u64),
    };
    let state = match fat::mount(disk, !rdonly, Clock(realtime_ns)) {
        Ok((fs, g, io)) => {
            log::info!(
                "fat: blk{dev}: {:?}, {} clusters of {} bytes, {} in use",
                g.kind,
                g.clusters,
                g.cluster_bytes,
                g.used_clusters
            );
            State::new(fs, io, !rdonly)
        }
        Err(e) => {
            let _ = crate::blk::set_mounted(dev, false);
            return Err(match e {
                CheckError::Io(n) => {
                    log::warn!("fat: blk{dev}: I/O error {n} while checking");
                    Errno::EIO
                }
                CheckError::Bad(why) => {
                    log::warn!("fat: blk{dev}: refused: {why}");
                    Errno::EINVAL
                }
            });
        }
    };
    let (id, path) = match attach() {
        Ok(a) => a,
        Err(e) => {
            drop(state);
            let _ = crate::blk::set_mounted(dev, false);
            return Err(e);
        }
    };
    let m = Arc::new(FatMount {
        id,
        dev,
        rdonly,
        path,
        slot: Mutex::new(Slot::Free(state)),
        waiters: WaitQueue::new(),
        pending_close: Mutex::new(Vec::new()),
    });
    let mut list = MOUNTS.lock();
    list.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
    list.push(m.clone());
    Ok(m)
}

/// Unmounts `m` (`EBUSY` while a file or working directory is open on it unless
/// `force`) and takes it out of the registry; `detach` removes it from the VFS first.
pub fn unmount(m: Arc<FatMount>, force: bool, detach: impl FnOnce() -> KResult<()>) -> KResult<()> {
    // References: the registry's and `m` itself; any other is an open file or a working
    // directory (or an operation in progress).
    let others = Arc::strong_count(&m).saturating_sub(2);
    m.unmount(others, force)?;
    MOUNTS.lock().retain(|x| !Arc::ptr_eq(x, &m));
    detach()
}

/// An open file or directory on a FAT mount.
pub struct FatFile {
    m: Arc<FatMount>,
    id: NodeId,
    dir: bool,
    readable: bool,
    writable: bool,
    append: bool,
    /// The position; for a directory, the cookie of the next entry. Read and written
    /// while holding the volume (never across it: it is a spin lock).
    pos: Mutex<u64>,
}

impl FatFile {
    pub fn new(
        m: Arc<FatMount>,
        id: NodeId,
        dir: bool,
        readable: bool,
        writable: bool,
        append: bool,
    ) -> Self {
        Self {
            m,
            id,
            dir,
            readable,
            writable,
            append,
            pos: Mutex::new(0),
        }
    }
}

impl Drop for FatFile {
    fn drop(&mut self) {
        self.m.close(self.id);
    }
}

impl File for FatFile {
    fn read(&self, buf: &mut [u8]) -> KResult<usize> {
        if !self.readable {
            return Err(Errno::EBADF);
        }
        if self.dir {
            return Err(Errno(wayos_abi::errno::EISDIR));
        }
        let mut g = self.m.lock()?;
        let pos = *self.pos.lock();
        let n = g.vol()?.read(self.id, pos, buf).map_err(errno)?;
        *self.pos.lock() = pos + n as u64;
        Ok(n)
    }

    fn write(&self, buf: &[u8]) -> KResult<usize> {
        if !self.writable {
            return Err(Errno::EBADF);
        }
        let mut g = self.m.lock()?;
        let pos = *self.pos.lock();
        let at = (!self.append).then_some(pos);
        let (n, end) = g.vol()?.write(self.id, at, buf).map_err(errno)?;
        *self.pos.lock() = end;
        Ok(n)
    }

    fn is_stream(&self) -> bool {
        false
    }

    fn seek(&self, offset: i64, whence: usize) -> KResult<u64> {
        let mut g = self.m.lock()?;
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CUR => *self.pos.lock(),
            SEEK_END if self.dir => return Err(Errno::EINVAL),
            SEEK_END => g.vol()?.size(self.id).map_err(errno)?,
            _ => return Err(Errno::EINVAL),
        };
        let new = i128::from(base) + i128::from(offset);
        if new < 0 || new > i128::from(i64::MAX) {
            return Err(Errno::EINVAL);
        }
        *self.pos.lock() = new as u64;
        Ok(new as u64)
    }

    fn stat(&self) -> KResult<Stat> {
        let id = self.m.id as u64;
        self.m.with(|v| v.stat_open(self.id, id))
    }

    fn getdents(&self, buf: &mut [u8]) -> KResult<usize> {
        if !self.dir {
            return Err(Errno::ENOTDIR);
        }
        let mut g = self.m.lock()?;
        let cookie = *self.pos.lock();
        let mut end = 0;
        let mut full = false;
        let next = g
            .vol()?
            .readdir(self.id, cookie, |r, next| {
                let kind = if r.dir { Kind::Dir } else { Kind::File };
                match put_dirent(buf, end, r.ino, next, kind.dirent_type(), &r.name) {
                    Some(at) => {
                        end = at;
                        true
                    }
                    None => {
                        full = true;
                        false
                    }
                }
            })
            .map_err(errno)?;
        if end == 0 && full {
            // Not even one record fit.
            return Err(Errno::EINVAL);
        }
        *self.pos.lock() = next;
        Ok(end)
    }

    fn truncate(&self, len: u64) -> KResult<()> {
        if !self.writable || self.dir {
            return Err(Errno::EINVAL);
        }
        self.m.with(|v| v.truncate(self.id, len))
    }

    fn fsync(&self) -> KResult<()> {
        self.m.with(|v| v.flush(self.id))?;
        crate::blk::sync(self.m.dev)
    }
}
