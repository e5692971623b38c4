//! A mounted FAT volume: POSIX-shaped operations on paths inside it, and its open files.
//!
//! Paths here are relative to the volume's root, already normalised by the VFS
//! (components joined by `/`, no `.` or `..`; `""` is the root). FAT names are
//! case-insensitive: every path is first looked up on disk and turned into its
//! *canonical* spelling (the names as stored), whose lower-case form is the key open files
//! are found by.
//!
//! FAT has no inodes, so a file exists only through its directory entry. Consequences,
//! all documented in `docs/storage.md`:
//! - one `lamfat` [`File`] per open on-disk file, shared by every open of it (two would
//!   each keep their own idea of the size and overwrite each other's directory entry);
//! - a file or directory that is open, or a directory with something open below it,
//!   cannot be removed or renamed: `EBUSY` (the open `File` remembers where its entry is);
//! - a directory cannot move to another directory (`EXDEV`: its `..` entry would point
//!   at the old parent, which `lamfat` does not rewrite);
//! - no permission bits or owners: files are 0644 (0444 when read-only), directories
//!   0755, and `stat`'s inode numbers are hashes of the canonical path.

use alloc::string::String;
use alloc::vec::Vec;

use lamfat::{Dir, DirEntry, Error, File, FileSystem, FsOptions, LossyOemCpConverter};
use lamfat::{Read, Seek, SeekFrom, Write};
use wayos_abi::errno;
use wayos_abi::fcntl::{O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_TRUNC, O_VALID};
use wayos_abi::fs::{Stat, StatFs, S_IFDIR, S_IFREG};

use super::check::{self, CheckError, Geometry};
use super::disk::{unix_ns, Clock, Disk, Io, IoErr, IoHandle};
use crate::fs::{FsError, FsResult};

/// The `lamfat` file system over a [`Disk`].
pub type Fs<D> = FileSystem<Io<D>, Clock, LossyOemCpConverter>;
type FatFile<'a, D> = File<'a, Io<D>, Clock, LossyOemCpConverter>;
type FatDir<'a, D> = Dir<'a, Io<D>, Clock, LossyOemCpConverter>;
type Entry<'a, D> = DirEntry<'a, Io<D>, Clock, LossyOemCpConverter>;

/// The largest FAT file: 4 GiB - 1.
pub const MAX_FILE_SIZE: u64 = u32::MAX as u64;
/// Most files and directories open at once on one volume.
pub const MAX_OPEN: usize = 4096;
/// FAT's longest name (UTF-16 units; also bytes, the VFS's own limit).
pub const NAME_MAX: u64 = 255;

/// The error for a `lamfat` one.
pub fn fs_error(e: Error<IoErr>) -> FsError {
    match e {
        Error::Io(IoErr(errno::EROFS)) => FsError::ReadOnly,
        Error::Io(IoErr(errno::ENOSPC)) | Error::NotEnoughSpace => FsError::NoSpace,
        Error::NotFound => FsError::NotFound,
        Error::AlreadyExists => FsError::Exists,
        Error::DirectoryIsNotEmpty => FsError::NotEmpty,
        Error::InvalidFileNameLength => FsError::NameTooLong,
        Error::InvalidInput | Error::UnsupportedFileNameCharacter => FsError::Invalid,
        _ => FsError::Io,
    }
}

/// Checks the volume on `disk` ([`check::check`]) and opens it with `lamfat`.
/// Also returns the handle [`Volume::new`] takes.
pub fn mount<D: Disk>(
    mut disk: D,
    writable: bool,
    clock: Clock,
) -> Result<(Fs<D>, Geometry, IoHandle<D>), CheckError> {
    let g = check::check(&mut disk)?;
    let options = FsOptions::new().time_provider(clock);
    let io = Io::new(disk, writable);
    let handle = io.handle();
    let fs = FileSystem::new(io, options).map_err(|e| match e {
        Error::Io(IoErr(n)) => CheckError::Io(n),
        _ => CheckError::Bad("the boot sector is not one lamfat accepts"),
    })?;
    Ok((fs, g, handle))
}

/// The components of a relative path (`""` has none).
fn components(rel: &str) -> impl Iterator<Item = &str> {
    rel.split('/').filter(|c| !c.is_empty())
}

/// `rel` split into its parent and last name; `None` for the root.
fn split(rel: &str) -> Option<(&str, &str)> {
    let rel = rel.trim_end_matches('/');
    if rel.is_empty() {
        return None;
    }
    Some(rel.rsplit_once('/').unwrap_or(("", rel)))
}

fn key(canon: &str) -> String {
    canon.to_lowercase()
}

/// The inode number `stat` reports: a hash of the lower-case canonical path (1 for the
/// root), stable while the name is.
pub fn ino_of(canon: &str) -> u64 {
    if canon.is_empty() {
        return 1;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key(canon).bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h | 2
}

/// What a path names.
struct Found<'a, D: Disk> {
    canon: String,
    /// `None` for the root directory.
    entry: Option<Entry<'a, D>>,
}

impl<D: Disk> Found<'_, D> {
    fn is_dir(&self) -> bool {
        self.entry.as_ref().is_none_or(|e| e.is_dir())
    }
}

/// An open file or directory.
struct Node<'a, D: Disk> {
    canon: String,
    key: String,
    /// `None` for a directory.
    file: Option<FatFile<'a, D>>,
    refs: u32,
}

/// An open file's handle in [`Volume`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeId(usize);

/// What [`Volume::open`] found or made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    pub id: NodeId,
    pub dir: bool,
    pub created: bool,
}

/// One directory entry for `getdents`.
pub struct DirRecord {
    pub name: String,
    pub ino: u64,
    pub dir: bool,
}

/// A volume and its open files.
pub struct Volume<'a, D: Disk> {
    fs: &'a Fs<D>,
    io: IoHandle<D>,
    writable: bool,
    nodes: Vec<Option<Node<'a, D>>>,
}

impl<'a, D: Disk> Volume<'a, D> {
    pub fn new(fs: &'a Fs<D>, io: IoHandle<D>, writable: bool) -> Self {
        Self {
            fs,
            io,
            writable,
            nodes: Vec::new(),
        }
    }

    pub fn writable(&self) -> bool {
        self.writable
    }

    fn check_writable(&self) -> FsResult<()> {
        if self.writable {
            Ok(())
        } else {
            Err(FsError::ReadOnly)
        }
    }

    /// The entry called `name` in `dir` (case-insensitively, long or short name).
    fn find_in(dir: &FatDir<'a, D>, name: &str) -> FsResult<Entry<'a, D>> {
        let want = key(name);
        for e in dir.iter() {
            let e = e.map_err(fs_error)?;
            let n = e.file_name();
            if n == "." || n == ".." {
                continue;
            }
            if key(&n) == want || key(&e.short_file_name()) == want {
                return Ok(e);
            }
        }
        Err(FsError::NotFound)
    }

    fn lookup(&self, rel: &str) -> FsResult<Found<'a, D>> {
        let mut dir = self.fs.root_dir();
        let mut canon = String::new();
        let mut entry: Option<Entry<'a, D>> = None;
        for c in components(rel) {
            if let Some(e) = &entry {
                if !e.is_dir() {
                    return Err(FsError::NotDir);
                }
                dir = e.to_dir();
            }
            if c.len() > NAME_MAX as usize {
                return Err(FsError::NameTooLong);
            }
            let e = Self::find_in(&dir, c)?;
            if !canon.is_empty() {
                canon.push('/');
            }
            canon.push_str(&e.file_name());
            entry = Some(e);
        }
        Ok(Found { canon, entry })
    }

    /// The directory `rel` names.
    fn dir(&self, rel: &str) -> FsResult<(FatDir<'a, D>, String)> {
        let f = self.lookup(rel)?;
        match f.entry {
            None => Ok((self.fs.root_dir(), f.canon)),
            Some(e) if e.is_dir() => Ok((e.to_dir(), f.canon)),
            Some(_) => Err(FsError::NotDir),
        }
    }

    fn stat_found(&self, f: &Found<'a, D>, dev: u64) -> Stat {
        let perm = if self.writable { 0o644 } else { 0o444 };
        let cluster = u64::from(self.fs.cluster_size());
        let (mode, size, atime, mtime, ctime) = match &f.entry {
            None => (S_IFDIR | 0o755, 0, 0, 0, 0),
            Some(e) => {
                let mode = if e.is_dir() {
                    S_IFDIR | 0o755
                } else {
                    S_IFREG | perm
                };
                let accessed = lamfat::DateTime::new(e.accessed(), lamfat::Time::new(0, 0, 0, 0));
                (
                    mode,
                    e.len(),
                    unix_ns(accessed),
                    unix_ns(e.modified()),
                    unix_ns(e.created()),
                )
            }
        };
        let ts = |ns: u64| wayos_abi::Timespec {
            sec: (ns / 1_000_000_000) as i64,
            nsec: (ns % 1_000_000_000) as i64,
        };
        Stat {
            dev,
            ino: ino_of(&f.canon),
            mode,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            size,
            blksize: cluster,
            blocks: size.div_ceil(cluster) * cluster / 512,
            atime: ts(atime),
            mtime: ts(mtime),
            ctime: ts(ctime),
        }
    }

    /// `stat` for `rel`; `dev` is the mount number.
    pub fn stat(&self, rel: &str, dev: u64) -> FsResult<Stat> {
        let f = self.lookup(rel)?;
        Ok(self.stat_found(&f, dev))
    }

    /// Whether `rel` is a directory.
    pub fn is_dir(&self, rel: &str) -> FsResult<bool> {
        Ok(self.lookup(rel)?.is_dir())
    }

    /// `statfs`.
    pub fn statfs(&self) -> FsResult<StatFs> {
        let s = self.fs.stats().map_err(fs_error)?;
        Ok(StatFs {
            bsize: u64::from(s.cluster_size()),
            blocks: u64::from(s.total_clusters()),
            bfree: u64::from(s.free_clusters()),
            // No inode table: every free cluster could hold a directory entry's file.
            files: u64::from(s.total_clusters()),
            ffree: u64::from(s.free_clusters()),
            namelen: NAME_MAX,
            max_file_size: MAX_FILE_SIZE,
        })
    }

    /// Whether `key` or anything below it is open.
    fn busy(&self, k: &str) -> bool {
        self.nodes.iter().flatten().any(|n| {
            n.key == k
                || (k.is_empty()
                    || n.key.starts_with(k) && n.key.as_bytes().get(k.len()) == Some(&b'/'))
        })
    }

    /// Anything open at all (`umount`'s `EBUSY`).
    pub fn has_open(&self) -> bool {
        self.nodes.iter().any(Option::is_some)
    }

    /// `mkdir`.
    pub fn mkdir(&mut self, rel: &str) -> FsResult<()> {
        let Some((parent, name)) = split(rel) else {
            return Err(FsError::Exists);
        };
        let (dir, _) = self.dir(parent)?;
        if Self::find_in(&dir, name).is_ok() {
            return Err(FsError::Exists);
        }
        self.check_writable()?;
        dir.create_dir(name).map(|_| ()).map_err(fs_error)
    }

    /// `unlink` (files) or `rmdir` (directories), as `dir` says.
    pub fn remove(&mut self, rel: &str, dir: bool) -> FsResult<()> {
        let Some((parent, name)) = split(rel) else {
            return Err(if dir { FsError::Busy } else { FsError::IsDir });
        };
        let (pdir, pcanon) = self.dir(parent)?;
        let e = Self::find_in(&pdir, name)?;
        match (dir, e.is_dir()) {
            (true, false) => return Err(FsError::NotDir),
            (false, true) => return Err(FsError::IsDir),
            _ => {}
        }
        self.check_writable()?;
        let canon = join(&pcanon, &e.file_name());
        if self.busy(&key(&canon)) {
            return Err(FsError::Busy);
        }
        pdir.remove(&e.file_name()).map_err(fs_error)
    }

    /// `rename` inside the volume, replacing a target as POSIX says (a file over a file,
    /// a directory over an empty directory).
    pub fn rename(&mut self, old: &str, new: &str) -> FsResult<()> {
        let (Some((sp, sname)), Some((dp, dname))) = (split(old), split(new)) else {
            return Err(FsError::Busy);
        };
        let (sdir, sparent) = self.dir(sp)?;
        let src = Self::find_in(&sdir, sname)?;
        let scanon = join(&sparent, &src.file_name());
        let (ddir, dcanon) = self.dir(dp)?;
        let skey = key(&scanon);
        let dkey = key(&join(&dcanon, dname));
        if skey == dkey {
            return Ok(());
        }
        if src.is_dir() && dkey.starts_with(&skey) && dkey.as_bytes().get(skey.len()) == Some(&b'/')
        {
            return Err(FsError::Invalid);
        }
        let dst = Self::find_in(&ddir, dname).ok();
        match (src.is_dir(), dst.as_ref().map(|d| d.is_dir())) {
            (false, Some(true)) => return Err(FsError::IsDir),
            (true, Some(false)) => return Err(FsError::NotDir),
            _ => {}
        }
        if src.is_dir() && key(&dcanon) != key(&sparent) {
            // Its `..` entry would still name the old parent.
            return Err(FsError::CrossDevice);
        }
        self.check_writable()?;
        if self.busy(&skey) {
            return Err(FsError::Busy);
        }
        if let Some(dst) = dst {
            if self.busy(&dkey) {
                return Err(FsError::Busy);
            }
            ddir.remove(&dst.file_name()).map_err(fs_error)?;
        }
        sdir.rename(&src.file_name(), &ddir, dname)
            .map_err(fs_error)
    }

    /// `open`: finds (or with `O_CREAT` makes) `rel`, applies `O_TRUNC`, and records an
    /// open reference the caller ends with [`Volume::close`]. Opening for writing on a
    /// read-only volume is `EROFS`.
    pub fn open(&mut self, rel: &str, flags: usize) -> FsResult<Opened> {
        if flags & !O_VALID != 0 || flags & O_ACCMODE == O_ACCMODE {
            return Err(FsError::Invalid);
        }
        let mut created = false;
        let found = match self.lookup(rel) {
            Ok(_) if flags & O_CREAT != 0 && flags & O_EXCL != 0 => {
                return Err(FsError::Exists);
            }
            Ok(f) => f,
            Err(FsError::NotFound) if flags & O_CREAT != 0 => {
                if flags & O_DIRECTORY != 0 {
                    return Err(FsError::Invalid);
                }
                let Some((parent, name)) = split(rel) else {
                    return Err(FsError::IsDir);
                };
                let (dir, _) = self.dir(parent)?;
                self.check_writable()?;
                dir.create_file(name).map_err(fs_error)?;
                created = true;
                self.lookup(rel)?
            }
            Err(e) => return Err(e),
        };
        let dir = found.is_dir();
        if dir {
            if flags & O_ACCMODE != O_RDONLY || flags & (O_CREAT | O_TRUNC) != 0 {
                return Err(FsError::IsDir);
            }
        } else {
            if flags & O_DIRECTORY != 0 {
                return Err(FsError::NotDir);
            }
            if flags & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0 {
                self.check_writable()?;
            }
        }
        let k = key(&found.canon);
        let id = match self
            .nodes
            .iter()
            .position(|n| n.as_ref().is_some_and(|n| n.key == k))
        {
            Some(i) => {
                let n = self.nodes[i].as_mut().ok_or(FsError::Io)?;
                n.refs = n.refs.checked_add(1).ok_or(FsError::NoSpace)?;
                i
            }
            None => {
                let node = Node {
                    file: found
                        .entry
                        .as_ref()
                        .filter(|e| !e.is_dir())
                        .map(|e| e.to_file()),
                    canon: found.canon,
                    key: k,
                    refs: 1,
                };
                match self.nodes.iter().position(Option::is_none) {
                    Some(i) => {
                        self.nodes[i] = Some(node);
                        i
                    }
                    None if self.nodes.len() >= MAX_OPEN => return Err(FsError::NoSpace),
                    None => {
                        self.nodes.try_reserve(1).map_err(|_| FsError::NoSpace)?;
                        self.nodes.push(Some(node));
                        self.nodes.len() - 1
                    }
                }
            }
        };
        let id = NodeId(id);
        if !dir && !created && flags & O_TRUNC != 0 {
            if let Err(e) = self.truncate(id, 0) {
                let _ = self.close(id);
                return Err(e);
            }
        }
        Ok(Opened { id, dir, created })
    }

    fn node(&mut self, id: NodeId) -> FsResult<&mut Node<'a, D>> {
        self.nodes
            .get_mut(id.0)
            .and_then(Option::as_mut)
            .ok_or(FsError::NotFound)
    }

    fn file(&mut self, id: NodeId) -> FsResult<&mut FatFile<'a, D>> {
        self.node(id)?.file.as_mut().ok_or(FsError::IsDir)
    }

    /// Ends an open reference; the last one writes the directory entry back.
    pub fn close(&mut self, id: NodeId) -> FsResult<()> {
        let Ok(n) = self.node(id) else {
            return Ok(());
        };
        n.refs -= 1;
        if n.refs > 0 {
            return Ok(());
        }
        let node = self.nodes[id.0].take();
        match node.and_then(|n| n.file) {
            Some(mut f) if self.writable => f.flush().map_err(fs_error),
            _ => Ok(()),
        }
    }

    /// The size of an open file.
    pub fn size(&mut self, id: NodeId) -> FsResult<u64> {
        self.file(id)?.seek(SeekFrom::End(0)).map_err(fs_error)
    }

    /// Reads at `pos`; 0 at or past the end.
    pub fn read(&mut self, id: NodeId, pos: u64, buf: &mut [u8]) -> FsResult<usize> {
        let f = self.file(id)?;
        if pos >= MAX_FILE_SIZE || f.seek(SeekFrom::Start(pos)).map_err(fs_error)? != pos {
            return Ok(0);
        }
        let mut done = 0;
        while done < buf.len() {
            match f.read(&mut buf[done..]).map_err(fs_error)? {
                0 => break,
                n => done += n,
            }
        }
        Ok(done)
    }

    /// Writes at `pos` (`None`: at the end); the bytes written and where the write ended.
    /// A gap before `pos` reads as zeros. `EFBIG` past 4 GiB - 1; `ENOSPC` if nothing
    /// could be written for want of space (a short count if some could).
    pub fn write(&mut self, id: NodeId, pos: Option<u64>, buf: &[u8]) -> FsResult<(usize, u64)> {
        self.check_writable()?;
        let f = self.file(id)?;
        let end = f.seek(SeekFrom::End(0)).map_err(fs_error)?;
        let pos = pos.unwrap_or(end);
        if pos >= MAX_FILE_SIZE {
            return Err(FsError::TooBig);
        }
        let buf = &buf[..buf.len().min((MAX_FILE_SIZE - pos) as usize)];
        if pos > end {
            zero_fill(f, pos - end)?;
        } else {
            f.seek(SeekFrom::Start(pos)).map_err(fs_error)?;
        }
        let mut done = 0;
        while done < buf.len() {
            match f.write(&buf[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if done == 0 => return Err(fs_error(e)),
                Err(_) => break,
            }
        }
        Ok((done, pos + done as u64))
    }

    /// Sets an open file's size: cut, or extended with zeros.
    pub fn truncate(&mut self, id: NodeId, len: u64) -> FsResult<()> {
        self.check_writable()?;
        if len > MAX_FILE_SIZE {
            return Err(FsError::TooBig);
        }
        let f = self.file(id)?;
        let end = f.seek(SeekFrom::End(0)).map_err(fs_error)?;
        if len > end {
            return zero_fill(f, len - end);
        }
        f.seek(SeekFrom::Start(len)).map_err(fs_error)?;
        f.truncate().map_err(fs_error)
    }

    /// Sets the modification time of the file `rel` (`utimens`). FAT keeps no
    /// modification time for directories (nor an access time of day): those are left.
    pub fn set_mtime(&mut self, rel: &str, mtime: Option<u64>, clock: Clock) -> FsResult<()> {
        self.check_writable()?;
        let o = self.open(rel, O_RDONLY)?;
        let r = match (self.node(o.id)?.file.as_mut(), mtime) {
            (Some(f), Some(ns)) => {
                let _ = clock;
                f.set_modified(super::disk::fat_time(ns));
                f.flush().map_err(fs_error)
            }
            _ => Ok(()),
        };
        let closed = self.close(o.id);
        r.and(closed)
    }

    /// Writes an open file's directory entry (size, first cluster, time) and every
    /// cached block back to the disk (`fsync`).
    pub fn flush(&mut self, id: NodeId) -> FsResult<()> {
        if !self.writable {
            return Ok(());
        }
        if let Some(f) = self.node(id)?.file.as_mut() {
            f.flush().map_err(fs_error)?;
        }
        self.io.flush().map_err(|e| fs_error(Error::Io(IoErr(e))))
    }

    /// Writes every open file's directory entry and every cached block back (`sync`).
    pub fn flush_all(&mut self) -> FsResult<()> {
        if !self.writable {
            return Ok(());
        }
        let mut result = Ok(());
        for f in self
            .nodes
            .iter_mut()
            .flatten()
            .filter_map(|n| n.file.as_mut())
        {
            if let Err(e) = f.flush() {
                result = Err(fs_error(e));
            }
        }
        if let Err(e) = self.io.flush() {
            result = Err(fs_error(Error::Io(IoErr(e))));
        }
        result
    }

    /// `fstat` on an open file or directory.
    pub fn stat_open(&mut self, id: NodeId, dev: u64) -> FsResult<Stat> {
        self.flush(id)?;
        let canon = self.node(id)?.canon.clone();
        self.stat(&canon, dev)
    }

    /// The canonical path of an open node.
    pub fn path_of(&mut self, id: NodeId) -> FsResult<String> {
        Ok(self.node(id)?.canon.clone())
    }

    /// Directory records of the open directory `id` from `cookie` on, each with the
    /// cookie of the next, while `put` takes them (returns false when full). `.` and
    /// `..` come first (cookies 0 and 1), then the entries in disk order.
    pub fn readdir(
        &mut self,
        id: NodeId,
        cookie: u64,
        mut put: impl FnMut(&DirRecord, u64) -> bool,
    ) -> FsResult<u64> {
        let canon = self.node(id)?.canon.clone();
        let (dir, canon) = self.dir(&canon)?;
        let parent = split(&canon).map_or("", |(p, _)| p);
        let mut at = 0u64;
        for (name, c) in [(".", canon.as_str()), ("..", parent)] {
            if at >= cookie {
                let r = DirRecord {
                    name: String::from(name),
                    ino: ino_of(c),
                    dir: true,
                };
                if !put(&r, at + 1) {
                    return Ok(at);
                }
            }
            at += 1;
        }
        for e in dir.iter() {
            let e = e.map_err(fs_error)?;
            let name = e.file_name();
            if name == "." || name == ".." {
                continue;
            }
            if at >= cookie {
                let r = DirRecord {
                    ino: ino_of(&join(&canon, &name)),
                    dir: e.is_dir(),
                    name,
                };
                if !put(&r, at + 1) {
                    return Ok(at);
                }
            }
            at += 1;
        }
        Ok(at)
    }

    /// Ends every open reference (a forced unmount at shutdown), writing entries back.
    pub fn close_all(&mut self) -> FsResult<()> {
        let r = self.flush_all();
        self.nodes.clear();
        r
    }
}

fn join(dir: &str, name: &str) -> String {
    let mut s = String::from(dir);
    if !s.is_empty() {
        s.push('/');
    }
    s.push_str(name);
    s
}

/// Appends `n` zero bytes at the file's end (where it is positioned).
fn zero_fill<D: Disk>(f: &mut FatFile<'_, D>, mut n: u64) -> FsResult<()> {
    f.seek(SeekFrom::End(0)).map_err(fs_error)?;
    let zeros = [0u8; 512];
    while n > 0 {
        let k = n.min(zeros.len() as u64) as usize;
        f.write_all(&zeros[..k]).map_err(fs_error)?;
        n -= k as u64;
    }
    Ok(())
}
