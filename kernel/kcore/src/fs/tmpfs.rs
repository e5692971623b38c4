//! tmpfs: a writable file system in memory.
//!
//! Inodes live in a map keyed by number; numbers count up and are never reused, so a
//! stale number (a working directory that was removed) can only fail with `ENOENT`, never
//! name another file. Directories keep their entries twice: by name for lookups, and by
//! an insertion sequence number that is the `getdents` offset, so a directory being
//! changed while it is read never repeats or skips the entries that stay. File data is
//! pages ([`super::Page`]) in a sparse table; a file unpacked from the initramfs starts
//! out sharing the archive's bytes and gets pages of its own on its first write.
//!
//! Limits ([`Limits`]): an inode count and a page budget for the whole file system, and a
//! largest file size. Reaching one is `ENOSPC` (`EFBIG` for the size) and changes nothing
//! that was there; freeing files makes room again. An inode goes when its last name and
//! its last open file do (a file unlinked while open stays readable until closed).
//!
//! Every operation takes `now` (nanoseconds of real time) for the timestamps it updates,
//! as POSIX says: reads set `atime`; writes and truncation set `mtime` and `ctime`;
//! creating or removing an entry sets the directory's `mtime` and `ctime`; renaming sets
//! the moved inode's `ctime`.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;

use wayos_abi::fs::{DT_CHR, DT_DIR, DT_REG, S_IFCHR, S_IFDIR, S_IFREG, S_IPERM};

use super::data::{Page, PageMap, PAGE_SIZE};
use super::path::check_name;
use super::{FsError, FsResult};

/// An inode number.
pub type Ino = u64;
/// The root directory's inode number.
pub const ROOT: Ino = 1;

const PAGE: u64 = PAGE_SIZE as u64;

/// What an inode is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// A character device node: its `rdev` names the device the kernel opens.
    CharDev,
}

impl Kind {
    /// The `S_IF*` bits of `st_mode`.
    pub const fn type_bits(self) -> u32 {
        match self {
            Kind::File => S_IFREG,
            Kind::Dir => S_IFDIR,
            Kind::CharDev => S_IFCHR,
        }
    }

    /// The `d_type` of a `getdents` record.
    pub const fn dirent_type(self) -> u8 {
        match self {
            Kind::File => DT_REG,
            Kind::Dir => DT_DIR,
            Kind::CharDev => DT_CHR,
        }
    }
}

/// How much one file system may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Inodes in all (the root included).
    pub max_inodes: u64,
    /// Bytes of file data in all (whole pages).
    pub max_bytes: u64,
    /// Largest size of one file.
    pub max_file_size: u64,
}

impl Limits {
    /// Never fewer inodes than this (the C predecessor's tmpfs had 512)...
    pub const MIN_INODES: u64 = 512;
    /// ... and never a smaller largest file (the predecessor's 1 MiB).
    pub const MIN_FILE_SIZE: u64 = 1 << 20;
    /// One inode per this many bytes of budget.
    pub const BYTES_PER_INODE: u64 = 16 * 1024;

    /// Limits for a file system that may use `bytes` of memory for data: a file may grow
    /// to the whole budget, and there is an inode per 16 KiB of it; never less than the
    /// minimums.
    pub const fn for_memory(bytes: u64) -> Self {
        let max_bytes = if bytes > Self::MIN_FILE_SIZE {
            bytes
        } else {
            Self::MIN_FILE_SIZE
        };
        let inodes = bytes / Self::BYTES_PER_INODE;
        Self {
            max_inodes: if inodes > Self::MIN_INODES {
                inodes
            } else {
                Self::MIN_INODES
            },
            max_bytes,
            max_file_size: max_bytes,
        }
    }

    /// Pages of data in all.
    pub const fn max_pages(&self) -> u64 {
        self.max_bytes / PAGE
    }
}

/// An inode's status, as `stat` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr {
    pub ino: Ino,
    pub kind: Kind,
    /// Permission bits (`S_IPERM`).
    pub perm: u32,
    pub nlink: u32,
    /// Bytes for files, entries (without `.` and `..`) for directories.
    pub size: u64,
    /// 512-byte units of memory the data takes.
    pub blocks: u64,
    /// The device of a [`Kind::CharDev`] node.
    pub rdev: u64,
    pub atime: u64,
    pub mtime: u64,
    pub ctime: u64,
}

/// What [`Tmpfs::create`] makes.
#[derive(Clone, Copy, Debug)]
pub enum NewNode {
    /// An empty regular file.
    File,
    /// A regular file whose data starts out as these bytes (an initramfs member).
    StaticFile(&'static [u8]),
    Dir,
    /// A character device node for device number `rdev`.
    CharDev(u64),
}

/// Where [`Tmpfs::write`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteAt {
    Offset(u64),
    /// At the end of the file, as one step (`O_APPEND`).
    End,
}

/// What a file system holds now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub inodes: u64,
    pub pages: u64,
}

/// One directory entry, as `getdents` returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry<'a> {
    pub ino: Ino,
    pub kind: Kind,
    pub name: &'a str,
}

enum Contents<P> {
    /// Bytes shared with the boot archive; the file's size may be larger (zeros follow).
    Static(&'static [u8]),
    Pages(PageMap<P>),
}

/// Sequence number of a directory's first entry (offsets 0 and 1 are `.` and `..`).
const FIRST_SEQ: u64 = 2;

struct Dir {
    parent: Ino,
    by_name: BTreeMap<Box<str>, u64>,
    by_seq: BTreeMap<u64, (Box<str>, Ino)>,
    next_seq: u64,
}

impl Dir {
    fn new(parent: Ino) -> Self {
        Self {
            parent,
            by_name: BTreeMap::new(),
            by_seq: BTreeMap::new(),
            next_seq: FIRST_SEQ,
        }
    }

    fn get(&self, name: &str) -> Option<Ino> {
        let seq = self.by_name.get(name)?;
        self.by_seq.get(seq).map(|e| e.1)
    }

    fn insert(&mut self, name: &str, ino: Ino) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_name.insert(name.into(), seq);
        self.by_seq.insert(seq, (name.into(), ino));
    }

    fn remove(&mut self, name: &str) -> Option<Ino> {
        let seq = self.by_name.remove(name)?;
        self.by_seq.remove(&seq).map(|e| e.1)
    }

    fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }
}

enum Body<P> {
    File { data: Contents<P>, size: u64 },
    Dir(Dir),
    CharDev(u64),
}

struct Inode<P> {
    body: Body<P>,
    perm: u32,
    nlink: u32,
    /// Open files referring to the inode.
    opens: u32,
    atime: u64,
    mtime: u64,
    ctime: u64,
}

impl<P> Inode<P> {
    fn kind(&self) -> Kind {
        match self.body {
            Body::File { .. } => Kind::File,
            Body::Dir(_) => Kind::Dir,
            Body::CharDev(_) => Kind::CharDev,
        }
    }

    fn touch_modified(&mut self, now: u64) {
        self.mtime = now;
        self.ctime = now;
    }
}

/// One tmpfs instance.
pub struct Tmpfs<P> {
    inodes: BTreeMap<Ino, Inode<P>>,
    next_ino: Ino,
    limits: Limits,
    /// Data pages held by all files.
    pages: u64,
}

impl<P: Page> Tmpfs<P> {
    /// An empty file system: the root directory with permissions `perm`.
    pub fn new(limits: Limits, perm: u32, now: u64) -> Self {
        let mut inodes = BTreeMap::new();
        inodes.insert(
            ROOT,
            Inode {
                body: Body::Dir(Dir::new(ROOT)),
                perm: perm & S_IPERM,
                nlink: 2,
                opens: 0,
                atime: now,
                mtime: now,
                ctime: now,
            },
        );
        Self {
            inodes,
            next_ino: ROOT + 1,
            limits,
            pages: 0,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn usage(&self) -> Usage {
        Usage {
            inodes: self.inodes.len() as u64,
            pages: self.pages,
        }
    }

    fn node(&self, ino: Ino) -> FsResult<&Inode<P>> {
        self.inodes.get(&ino).ok_or(FsError::NotFound)
    }

    fn node_mut(&mut self, ino: Ino) -> FsResult<&mut Inode<P>> {
        self.inodes.get_mut(&ino).ok_or(FsError::NotFound)
    }

    /// A live directory (a removed one has no entries, not even `.`).
    fn dir(&self, ino: Ino) -> FsResult<&Dir> {
        let n = self.node(ino)?;
        match &n.body {
            Body::Dir(_) if n.nlink == 0 => Err(FsError::NotFound),
            Body::Dir(d) => Ok(d),
            _ => Err(FsError::NotDir),
        }
    }

    fn dir_mut(&mut self, ino: Ino) -> FsResult<&mut Dir> {
        let n = self.node_mut(ino)?;
        match &mut n.body {
            Body::Dir(_) if n.nlink == 0 => Err(FsError::NotFound),
            Body::Dir(d) => Ok(d),
            _ => Err(FsError::NotDir),
        }
    }

    pub fn kind(&self, ino: Ino) -> FsResult<Kind> {
        self.node(ino).map(Inode::kind)
    }

    pub fn attr(&self, ino: Ino) -> FsResult<Attr> {
        let n = self.node(ino)?;
        let (size, blocks, rdev) = match &n.body {
            Body::File { data, size } => {
                let blocks = match data {
                    Contents::Static(b) => (b.len() as u64).div_ceil(512),
                    Contents::Pages(m) => m.count() * (PAGE / 512),
                };
                (*size, blocks, 0)
            }
            Body::Dir(d) => (d.by_seq.len() as u64, 0, 0),
            Body::CharDev(r) => (0, 0, *r),
        };
        Ok(Attr {
            ino,
            kind: n.kind(),
            perm: n.perm,
            nlink: n.nlink,
            size,
            blocks,
            rdev,
            atime: n.atime,
            mtime: n.mtime,
            ctime: n.ctime,
        })
    }

    /// The inode `name` names in directory `dir`; `.` and `..` included.
    pub fn lookup(&self, dir: Ino, name: &str) -> FsResult<Ino> {
        let d = self.dir(dir)?;
        match name {
            "." => Ok(dir),
            ".." => Ok(d.parent),
            n => d.get(n).ok_or(FsError::NotFound),
        }
    }

    /// The directory holding directory `dir` (the root is its own parent).
    pub fn parent(&self, dir: Ino) -> FsResult<Ino> {
        Ok(self.dir(dir)?.parent)
    }

    /// The name of `child` in `dir`.
    pub fn name_of(&self, dir: Ino, child: Ino) -> FsResult<&str> {
        self.dir(dir)?
            .by_seq
            .values()
            .find(|e| e.1 == child)
            .map(|e| &*e.0)
            .ok_or(FsError::NotFound)
    }

    /// Makes a new entry `name` in `dir`.
    pub fn create(
        &mut self,
        dir: Ino,
        name: &str,
        new: NewNode,
        perm: u32,
        now: u64,
    ) -> FsResult<Ino> {
        check_name(name)?;
        if self.dir(dir)?.get(name).is_some() {
            return Err(FsError::Exists);
        }
        if self.inodes.len() as u64 >= self.limits.max_inodes {
            return Err(FsError::NoSpace);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let (body, nlink) = match new {
            NewNode::File => (
                Body::File {
                    data: Contents::Pages(PageMap::new()),
                    size: 0,
                },
                1,
            ),
            NewNode::StaticFile(bytes) => (
                Body::File {
                    data: Contents::Static(bytes),
                    size: bytes.len() as u64,
                },
                1,
            ),
            NewNode::Dir => (Body::Dir(Dir::new(dir)), 2),
            NewNode::CharDev(rdev) => (Body::CharDev(rdev), 1),
        };
        let is_dir = matches!(new, NewNode::Dir);
        self.inodes.insert(
            ino,
            Inode {
                body,
                perm: perm & S_IPERM,
                nlink,
                opens: 0,
                atime: now,
                mtime: now,
                ctime: now,
            },
        );
        self.dir_mut(dir)?.insert(name, ino);
        let parent = self.node_mut(dir)?;
        if is_dir {
            parent.nlink += 1;
        }
        parent.touch_modified(now);
        Ok(ino)
    }

    /// Removes the name of a non-directory.
    pub fn unlink(&mut self, dir: Ino, name: &str, now: u64) -> FsResult<()> {
        let child = self.lookup(dir, name)?;
        if matches!(name, "." | "..") || self.kind(child)? == Kind::Dir {
            return Err(FsError::IsDir);
        }
        self.dir_mut(dir)?.remove(name);
        self.node_mut(dir)?.touch_modified(now);
        let c = self.node_mut(child)?;
        c.nlink = c.nlink.saturating_sub(1);
        c.ctime = now;
        self.maybe_free(child);
        Ok(())
    }

    /// Removes an empty directory.
    pub fn rmdir(&mut self, dir: Ino, name: &str, now: u64) -> FsResult<()> {
        match name {
            "." => return Err(FsError::Invalid),
            ".." => return Err(FsError::NotEmpty),
            _ => {}
        }
        let child = self.lookup(dir, name)?;
        if !self.dir(child)?.is_empty() {
            return Err(FsError::NotEmpty);
        }
        self.dir_mut(dir)?.remove(name);
        let p = self.node_mut(dir)?;
        p.nlink = p.nlink.saturating_sub(1);
        p.touch_modified(now);
        let c = self.node_mut(child)?;
        c.nlink = 0;
        c.ctime = now;
        self.maybe_free(child);
        Ok(())
    }

    /// True if `dir` is `anc` or lies below it.
    fn within(&self, anc: Ino, mut dir: Ino) -> bool {
        // Bounded by the tree's height; the bound only guards against a broken tree.
        for _ in 0..=self.inodes.len() {
            if dir == anc {
                return true;
            }
            match self.parent(dir) {
                Ok(p) if p != dir => dir = p,
                _ => return false,
            }
        }
        false
    }

    /// Moves `sname` in `sdir` to `dname` in `ddir`, replacing what `dname` named (POSIX
    /// `rename`): a directory only replaces an empty directory, a file only a file; a
    /// directory cannot move below itself (`EINVAL`); renaming a file onto itself does
    /// nothing.
    pub fn rename(
        &mut self,
        sdir: Ino,
        sname: &str,
        ddir: Ino,
        dname: &str,
        now: u64,
    ) -> FsResult<()> {
        if [sname, dname].iter().any(|n| matches!(*n, "." | "..")) {
            return Err(FsError::Busy);
        }
        let src = self.lookup(sdir, sname)?;
        let dst = self.dir(ddir)?.get(dname);
        check_name(dname)?;
        let src_dir = self.kind(src)? == Kind::Dir;
        if src_dir && self.within(src, ddir) {
            return Err(FsError::Invalid);
        }
        if let Some(dst) = dst {
            if dst == src {
                return Ok(());
            }
            match (src_dir, self.kind(dst)? == Kind::Dir) {
                (true, false) => return Err(FsError::NotDir),
                (false, true) => return Err(FsError::IsDir),
                (true, true) if !self.dir(dst)?.is_empty() => return Err(FsError::NotEmpty),
                _ => {}
            }
        }
        // Every check passed: commit.
        self.dir_mut(sdir)?.remove(sname);
        if let Some(dst) = dst {
            self.dir_mut(ddir)?.remove(dname);
            let d = self.node_mut(dst)?;
            d.nlink = if src_dir {
                0
            } else {
                d.nlink.saturating_sub(1)
            };
            d.ctime = now;
            if src_dir {
                let p = self.node_mut(ddir)?;
                p.nlink = p.nlink.saturating_sub(1);
            }
        }
        self.dir_mut(ddir)?.insert(dname, src);
        if src_dir {
            if let Body::Dir(d) = &mut self.node_mut(src)?.body {
                d.parent = ddir;
            }
            let s = self.node_mut(sdir)?;
            s.nlink = s.nlink.saturating_sub(1);
            self.node_mut(ddir)?.nlink += 1;
        }
        self.node_mut(src)?.ctime = now;
        self.node_mut(sdir)?.touch_modified(now);
        self.node_mut(ddir)?.touch_modified(now);
        if let Some(dst) = dst {
            self.maybe_free(dst);
        }
        Ok(())
    }

    /// Reads from a regular file at `off`: the bytes copied, 0 at or past the end.
    /// Holes read as zeros.
    pub fn read(&mut self, ino: Ino, off: u64, buf: &mut [u8], now: u64) -> FsResult<usize> {
        let n = self.node_mut(ino)?;
        let len = {
            let (data, size) = match &n.body {
                Body::File { data, size } => (data, *size),
                Body::Dir(_) => return Err(FsError::IsDir),
                Body::CharDev(_) => return Err(FsError::Invalid),
            };
            if off >= size || buf.is_empty() {
                0
            } else {
                let len = (buf.len() as u64).min(size - off) as usize;
                copy_out(data, off, &mut buf[..len]);
                len
            }
        };
        n.atime = now;
        Ok(len)
    }

    /// Writes to a regular file: `(bytes written, offset after them)`. Writes as much as
    /// fits: a write crossing the largest file size or running out of budget stops there
    /// (`EFBIG` / `ENOSPC` only when nothing could be written).
    pub fn write(&mut self, ino: Ino, at: WriteAt, buf: &[u8], now: u64) -> FsResult<(usize, u64)> {
        let limits = self.limits;
        let Self { inodes, pages, .. } = self;
        let node = inodes.get_mut(&ino).ok_or(FsError::NotFound)?;
        let (data, size) = match &mut node.body {
            Body::File { data, size } => (data, size),
            Body::Dir(_) => return Err(FsError::IsDir),
            Body::CharDev(_) => return Err(FsError::Invalid),
        };
        let off = match at {
            WriteAt::Offset(o) => o,
            WriteAt::End => *size,
        };
        if buf.is_empty() {
            return Ok((0, off));
        }
        if off >= limits.max_file_size {
            return Err(FsError::TooBig);
        }
        let len = (buf.len() as u64).min(limits.max_file_size - off) as usize;
        let map = own_pages(data, *size, pages, limits.max_pages())?;
        let mut done = 0;
        while done < len {
            let pos = off + done as u64;
            let (index, in_page) = (pos / PAGE, (pos % PAGE) as usize);
            let k = (PAGE_SIZE - in_page).min(len - done);
            let before = map.count();
            let page = if map.get(index).is_some() || *pages < limits.max_pages() {
                map.get_or_alloc(index)
            } else {
                None
            };
            let Some(page) = page else { break };
            page.bytes_mut()[in_page..in_page + k].copy_from_slice(&buf[done..done + k]);
            *pages += map.count() - before;
            done += k;
        }
        if done == 0 {
            return Err(FsError::NoSpace);
        }
        let end = off + done as u64;
        *size = (*size).max(end);
        node.touch_modified(now);
        Ok((done, end))
    }

    /// Sets a regular file's size: bytes past a shorter size are dropped, a longer size
    /// reads as zeros.
    pub fn truncate(&mut self, ino: Ino, len: u64, now: u64) -> FsResult<()> {
        if len > self.limits.max_file_size {
            return Err(FsError::TooBig);
        }
        let Self { inodes, pages, .. } = self;
        let node = inodes.get_mut(&ino).ok_or(FsError::NotFound)?;
        let (data, size) = match &mut node.body {
            Body::File { data, size } => (data, size),
            Body::Dir(_) => return Err(FsError::IsDir),
            Body::CharDev(_) => return Err(FsError::Invalid),
        };
        if len < *size {
            match data {
                Contents::Static(bytes) => {
                    if (len as usize) < bytes.len() {
                        *bytes = &bytes[..len as usize];
                    }
                }
                Contents::Pages(map) => {
                    *pages -= map.truncate(len.div_ceil(PAGE));
                    // Bytes past the end stay zero, so a later extension reads zeros.
                    let in_page = (len % PAGE) as usize;
                    if in_page != 0 {
                        if let Some(p) = map.get_mut(len / PAGE) {
                            p.bytes_mut()[in_page..].fill(0);
                        }
                    }
                }
            }
        }
        *size = len;
        node.touch_modified(now);
        Ok(())
    }

    /// Sets the access and/or modification time; the change time becomes `now`.
    pub fn set_times(
        &mut self,
        ino: Ino,
        atime: Option<u64>,
        mtime: Option<u64>,
        now: u64,
    ) -> FsResult<()> {
        let n = self.node_mut(ino)?;
        if let Some(t) = atime {
            n.atime = t;
        }
        if let Some(t) = mtime {
            n.mtime = t;
        }
        n.ctime = now;
        Ok(())
    }

    /// The entry at directory offset `cookie` and the offset after it; `None` at the end.
    /// Offsets 0 and 1 are `.` and `..`; a removed directory has no entries.
    pub fn readdir(&self, dir: Ino, cookie: u64) -> FsResult<Option<(DirEntry<'_>, u64)>> {
        let d = match self.dir(dir) {
            Ok(d) => d,
            Err(FsError::NotFound) if self.inodes.contains_key(&dir) => return Ok(None),
            Err(e) => return Err(e),
        };
        let dot = |ino, name| DirEntry {
            ino,
            kind: Kind::Dir,
            name,
        };
        Ok(match cookie {
            0 => Some((dot(dir, "."), 1)),
            1 => Some((dot(d.parent, ".."), FIRST_SEQ)),
            c => d.by_seq.range(c..).next().map(|(&seq, (name, ino))| {
                let kind = self.kind(*ino).unwrap_or(Kind::File);
                let e = DirEntry {
                    ino: *ino,
                    kind,
                    name,
                };
                (e, seq + 1)
            }),
        })
    }

    /// Records an open file on `ino` (it outlives its names until [`Tmpfs::close`]).
    pub fn open(&mut self, ino: Ino) -> FsResult<()> {
        let n = self.node_mut(ino)?;
        n.opens = n.opens.checked_add(1).ok_or(FsError::NoSpace)?;
        Ok(())
    }

    /// Ends an open file on `ino`; the inode goes if it has no names left.
    pub fn close(&mut self, ino: Ino) {
        if let Some(n) = self.inodes.get_mut(&ino) {
            n.opens = n.opens.saturating_sub(1);
        }
        self.maybe_free(ino);
    }

    fn maybe_free(&mut self, ino: Ino) {
        let dead = self
            .inodes
            .get(&ino)
            .is_some_and(|n| n.nlink == 0 && n.opens == 0);
        if !dead || ino == ROOT {
            return;
        }
        if let Some(n) = self.inodes.remove(&ino) {
            if let Body::File {
                data: Contents::Pages(m),
                ..
            } = &n.body
            {
                self.pages -= m.count();
            }
        }
    }

    /// The whole data of a file still exactly as the boot archive had it (no copy needed).
    pub fn static_data(&self, ino: Ino) -> Option<&'static [u8]> {
        match self.node(ino).ok()?.body {
            Body::File {
                data: Contents::Static(b),
                size,
            } if b.len() as u64 == size => Some(b),
            _ => None,
        }
    }
}

/// Copies file bytes at `off` into `buf` (all within the file's size).
fn copy_out<P: Page>(data: &Contents<P>, off: u64, buf: &mut [u8]) {
    match data {
        Contents::Static(bytes) => {
            let from = (off as usize).min(bytes.len());
            let k = (bytes.len() - from).min(buf.len());
            buf[..k].copy_from_slice(&bytes[from..from + k]);
            buf[k..].fill(0);
        }
        Contents::Pages(map) => {
            let mut done = 0;
            while done < buf.len() {
                let pos = off + done as u64;
                let (index, in_page) = (pos / PAGE, (pos % PAGE) as usize);
                let k = (PAGE_SIZE - in_page).min(buf.len() - done);
                let out = &mut buf[done..done + k];
                match map.get(index) {
                    Some(p) => out.copy_from_slice(&p.bytes()[in_page..in_page + k]),
                    None => out.fill(0),
                }
                done += k;
            }
        }
    }
}

/// The file's page table, first copying archive bytes into pages of its own.
fn own_pages<'a, P: Page>(
    data: &'a mut Contents<P>,
    size: u64,
    pages: &mut u64,
    max_pages: u64,
) -> FsResult<&'a mut PageMap<P>> {
    if let Contents::Static(bytes) = *data {
        let keep = &bytes[..(size as usize).min(bytes.len())];
        let need = (keep.len() as u64).div_ceil(PAGE);
        if *pages + need > max_pages {
            return Err(FsError::NoSpace);
        }
        let mut map: PageMap<P> = PageMap::new();
        for (i, chunk) in keep.chunks(PAGE_SIZE).enumerate() {
            // On failure the partial map drops here, freeing its pages.
            let p = map.get_or_alloc(i as u64).ok_or(FsError::NoSpace)?;
            p.bytes_mut()[..chunk.len()].copy_from_slice(chunk);
        }
        *pages += map.count();
        *data = Contents::Pages(map);
    }
    match data {
        Contents::Pages(m) => Ok(m),
        Contents::Static(_) => Err(FsError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::HeapPage;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    type Fs = Tmpfs<HeapPage>;

    fn fs() -> Fs {
        Fs::new(Limits::for_memory(64 << 20), 0o755, 0)
    }

    fn small(max_inodes: u64, max_pages: u64, max_file_size: u64) -> Fs {
        let limits = Limits {
            max_inodes,
            max_bytes: max_pages * PAGE,
            max_file_size,
        };
        Fs::new(limits, 0o755, 0)
    }

    fn file(fs: &mut Fs, name: &str) -> Ino {
        fs.create(ROOT, name, NewNode::File, 0o644, 1).unwrap()
    }

    fn read_all(fs: &mut Fs, ino: Ino) -> Vec<u8> {
        let size = fs.attr(ino).unwrap().size as usize;
        let mut buf = vec![0xeeu8; size + 10];
        let n = fs.read(ino, 0, &mut buf, 2).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn minimum_limits_and_scaling() {
        let l = Limits::for_memory(0);
        assert_eq!((l.max_inodes, l.max_file_size), (512, 1 << 20));
        let l = Limits::for_memory(256 << 20);
        assert_eq!(l.max_inodes, (256 << 20) / (16 << 10));
        assert_eq!(l.max_file_size, 256 << 20);
        assert_eq!(l.max_pages(), (256 << 20) / 4096);
    }

    #[test]
    fn write_then_read_back() {
        let mut fs = fs();
        let f = file(&mut fs, "a");
        assert_eq!(
            fs.write(f, WriteAt::Offset(0), b"hello world", 3),
            Ok((11, 11))
        );
        assert_eq!(read_all(&mut fs, f), b"hello world");
        let mut four = [0u8; 4];
        assert_eq!(fs.read(f, 6, &mut four, 4), Ok(4));
        assert_eq!(&four, b"worl");
        assert_eq!(fs.read(f, 11, &mut four, 4), Ok(0));
        assert_eq!(fs.read(f, 99, &mut four, 4), Ok(0));
        let a = fs.attr(f).unwrap();
        assert_eq!((a.size, a.blocks, a.nlink, a.perm), (11, 8, 1, 0o644));
        assert_eq!(fs.usage().pages, 1);
    }

    #[test]
    fn holes_read_as_zeros_and_take_no_pages() {
        let mut fs = fs();
        let f = file(&mut fs, "sparse");
        assert_eq!(
            fs.write(f, WriteAt::Offset(10_000), b"abc", 3),
            Ok((3, 10_003))
        );
        let data = read_all(&mut fs, f);
        let mut want = vec![0u8; 10_003];
        want[10_000..].copy_from_slice(b"abc");
        assert_eq!(data, want);
        // Only the page holding 10000..10003 (page 2) exists.
        assert_eq!(fs.attr(f).unwrap().blocks, 8);
        assert_eq!(fs.usage().pages, 1);
    }

    #[test]
    fn append_writes_at_the_end() {
        let mut fs = fs();
        let f = file(&mut fs, "log");
        fs.write(f, WriteAt::Offset(0), b"one ", 1).unwrap();
        assert_eq!(fs.write(f, WriteAt::End, b"two", 2), Ok((3, 7)));
        assert_eq!(read_all(&mut fs, f), b"one two");
    }

    #[test]
    fn a_file_spanning_pages_and_leaves() {
        let mut fs = fs();
        let f = file(&mut fs, "big");
        // 2.5 MiB: crosses the 2 MiB boundary of the page table's first leaf.
        let len = 5 << 19;
        let pattern = |i: usize| (i % 251) as u8 ^ (i / 4096) as u8;
        let data: Vec<u8> = (0..len).map(pattern).collect();
        for (i, chunk) in data.chunks(4096).enumerate() {
            let off = (i * 4096) as u64;
            assert_eq!(
                fs.write(f, WriteAt::Offset(off), chunk, 1),
                Ok((4096, off + 4096))
            );
        }
        assert_eq!(fs.attr(f).unwrap().size, len as u64);
        assert_eq!(fs.usage().pages, (len / 4096) as u64);
        let back = read_all(&mut fs, f);
        assert!(back == data, "2.5 MiB read back differs");
        // An unaligned read across a page boundary.
        let mut buf = [0u8; 100];
        fs.read(f, 4096 * 3 - 50, &mut buf, 1).unwrap();
        assert!(buf
            .iter()
            .enumerate()
            .all(|(i, &b)| b == pattern(4096 * 3 - 50 + i)));
    }

    #[test]
    fn truncate_shrinks_extends_and_frees() {
        let mut fs = fs();
        let f = file(&mut fs, "t");
        fs.write(f, WriteAt::Offset(0), &[0xff; 5000], 1).unwrap();
        assert_eq!(fs.usage().pages, 2);
        fs.truncate(f, 100, 2).unwrap();
        assert_eq!(fs.usage().pages, 1);
        fs.truncate(f, 5000, 3).unwrap();
        let data = read_all(&mut fs, f);
        assert_eq!(data.len(), 5000);
        assert!(data[..100].iter().all(|&b| b == 0xff));
        assert!(data[100..].iter().all(|&b| b == 0), "old bytes came back");
        fs.truncate(f, 0, 4).unwrap();
        assert_eq!(fs.usage().pages, 0);
        assert_eq!(fs.attr(f).unwrap().mtime, 4);
        assert_eq!(fs.truncate(ROOT, 0, 5), Err(FsError::IsDir));
    }

    #[test]
    fn unlinked_file_lives_while_open() {
        let mut fs = fs();
        let before = fs.usage();
        let f = file(&mut fs, "gone");
        fs.write(f, WriteAt::Offset(0), b"still here", 1).unwrap();
        fs.open(f).unwrap();
        fs.unlink(ROOT, "gone", 2).unwrap();
        assert_eq!(fs.lookup(ROOT, "gone"), Err(FsError::NotFound));
        assert_eq!(fs.attr(f).unwrap().nlink, 0);
        assert_eq!(read_all(&mut fs, f), b"still here");
        fs.close(f);
        assert_eq!(fs.attr(f), Err(FsError::NotFound));
        assert_eq!(fs.usage(), before);
    }

    #[test]
    fn directories_count_links_and_must_be_empty_to_go() {
        let mut fs = fs();
        let d = fs.create(ROOT, "d", NewNode::Dir, 0o755, 1).unwrap();
        let e = fs.create(d, "e", NewNode::Dir, 0o755, 1).unwrap();
        fs.create(d, "f", NewNode::File, 0o644, 1).unwrap();
        assert_eq!(fs.attr(ROOT).unwrap().nlink, 3);
        assert_eq!(fs.attr(d).unwrap().nlink, 3);
        assert_eq!(fs.attr(d).unwrap().size, 2);
        assert_eq!(fs.lookup(e, ".."), Ok(d));
        assert_eq!(fs.rmdir(ROOT, "d", 2), Err(FsError::NotEmpty));
        assert_eq!(fs.rmdir(d, "f", 2), Err(FsError::NotDir));
        assert_eq!(fs.unlink(d, "e", 2), Err(FsError::IsDir));
        assert_eq!(fs.rmdir(d, ".", 2), Err(FsError::Invalid));
        assert_eq!(fs.rmdir(d, "..", 2), Err(FsError::NotEmpty));
        fs.unlink(d, "f", 2).unwrap();
        fs.rmdir(d, "e", 2).unwrap();
        assert_eq!(fs.attr(e), Err(FsError::NotFound));
        assert_eq!(fs.attr(d).unwrap().nlink, 2);
        fs.rmdir(ROOT, "d", 3).unwrap();
        assert_eq!(fs.attr(ROOT).unwrap().nlink, 2);
        assert_eq!(fs.usage().inodes, 1);
    }

    #[test]
    fn create_refuses_taken_and_bad_names() {
        let mut fs = fs();
        file(&mut fs, "x");
        let f = |fs: &mut Fs, n: &str| fs.create(ROOT, n, NewNode::File, 0o644, 1).map(|_| ());
        assert_eq!(f(&mut fs, "x"), Err(FsError::Exists));
        assert_eq!(f(&mut fs, "."), Err(FsError::Exists));
        assert_eq!(f(&mut fs, "a/b"), Err(FsError::Invalid));
        assert_eq!(f(&mut fs, &"n".repeat(256)), Err(FsError::NameTooLong));
        assert_eq!(f(&mut fs, &"n".repeat(255)), Ok(()));
        let x = fs.lookup(ROOT, "x").unwrap();
        assert_eq!(fs.create(x, "y", NewNode::File, 0, 1), Err(FsError::NotDir));
    }

    #[test]
    fn rename_follows_posix() {
        let mut fs = fs();
        let a = file(&mut fs, "a");
        let b = file(&mut fs, "b");
        fs.write(a, WriteAt::Offset(0), b"A", 1).unwrap();
        let d = fs.create(ROOT, "d", NewNode::Dir, 0o755, 1).unwrap();
        let sub = fs.create(d, "sub", NewNode::Dir, 0o755, 1).unwrap();
        let full = fs.create(ROOT, "full", NewNode::Dir, 0o755, 1).unwrap();
        fs.create(full, "x", NewNode::File, 0o644, 1).unwrap();
        // A file over a file: the old target goes.
        fs.rename(ROOT, "a", ROOT, "b", 5).unwrap();
        assert_eq!(fs.lookup(ROOT, "b"), Ok(a));
        assert_eq!(fs.lookup(ROOT, "a"), Err(FsError::NotFound));
        assert_eq!(fs.attr(b), Err(FsError::NotFound));
        assert_eq!(fs.attr(a).unwrap().ctime, 5);
        // Onto itself: nothing happens.
        assert_eq!(fs.rename(ROOT, "b", ROOT, "b", 6), Ok(()));
        // A directory into itself or below it.
        assert_eq!(fs.rename(ROOT, "d", d, "in", 6), Err(FsError::Invalid));
        assert_eq!(fs.rename(ROOT, "d", sub, "in", 6), Err(FsError::Invalid));
        // Kinds must agree; a directory replaces only an empty one.
        assert_eq!(fs.rename(ROOT, "d", ROOT, "b", 6), Err(FsError::NotDir));
        assert_eq!(fs.rename(ROOT, "b", ROOT, "d", 6), Err(FsError::IsDir));
        assert_eq!(
            fs.rename(ROOT, "d", ROOT, "full", 6),
            Err(FsError::NotEmpty)
        );
        assert_eq!(
            fs.rename(ROOT, "nope", ROOT, "x", 6),
            Err(FsError::NotFound)
        );
        assert_eq!(fs.rename(ROOT, ".", ROOT, "x", 6), Err(FsError::Busy));
        // A directory moves: its `..` and both parents' link counts follow.
        fs.rename(d, "sub", full, "moved", 7).unwrap();
        assert_eq!(fs.lookup(sub, ".."), Ok(full));
        assert_eq!(fs.attr(d).unwrap().nlink, 2);
        assert_eq!(fs.attr(full).unwrap().nlink, 3);
        assert_eq!(fs.attr(d).unwrap().mtime, 7);
        // Over an empty directory.
        fs.rename(full, "moved", ROOT, "d", 8).unwrap();
        assert_eq!(fs.lookup(ROOT, "d"), Ok(sub));
        assert_eq!(fs.attr(d), Err(FsError::NotFound));
        assert_eq!(fs.attr(ROOT).unwrap().nlink, 4); // . + full + d(=sub) + ..
    }

    #[test]
    fn readdir_lists_in_order_and_tolerates_changes() {
        let mut fs = fs();
        for n in ["c", "a", "b"] {
            file(&mut fs, n);
        }
        let list = |fs: &Fs| {
            let mut out = Vec::new();
            let mut cookie = 0;
            while let Some((e, next)) = fs.readdir(ROOT, cookie).unwrap() {
                out.push(String::from(e.name));
                cookie = next;
            }
            out
        };
        assert_eq!(list(&fs), [".", "..", "c", "a", "b"]);
        // Half way through, remove what was read and what is ahead; add one.
        let (_, c1) = fs.readdir(ROOT, 0).unwrap().unwrap();
        let (_, c2) = fs.readdir(ROOT, c1).unwrap().unwrap();
        let (e, c3) = fs.readdir(ROOT, c2).unwrap().unwrap();
        assert_eq!(e.name, "c");
        fs.unlink(ROOT, "c", 2).unwrap();
        fs.unlink(ROOT, "a", 2).unwrap();
        file(&mut fs, "d");
        let mut rest = Vec::new();
        let mut cookie = c3;
        while let Some((e, next)) = fs.readdir(ROOT, cookie).unwrap() {
            rest.push(String::from(e.name));
            cookie = next;
        }
        assert_eq!(rest, ["b", "d"]);
        let f = fs.lookup(ROOT, "b").unwrap();
        assert_eq!(fs.readdir(f, 0).map(|_| ()), Err(FsError::NotDir));
    }

    #[test]
    fn inode_limit_is_enospc_and_recovers() {
        let mut fs = small(4, 16, 1 << 20);
        for n in ["a", "b", "c"] {
            file(&mut fs, n);
        }
        assert_eq!(
            fs.create(ROOT, "d", NewNode::File, 0o644, 1),
            Err(FsError::NoSpace)
        );
        assert_eq!(
            fs.create(ROOT, "d", NewNode::Dir, 0o755, 1),
            Err(FsError::NoSpace)
        );
        assert_eq!(fs.lookup(ROOT, "d"), Err(FsError::NotFound));
        fs.unlink(ROOT, "b", 2).unwrap();
        assert!(fs.create(ROOT, "d", NewNode::File, 0o644, 1).is_ok());
    }

    #[test]
    fn page_budget_and_size_limit() {
        let mut fs = small(16, 3, 8 * PAGE);
        let f = file(&mut fs, "f");
        // 5 pages asked, 3 fit: a short write, then ENOSPC.
        let five = vec![7u8; 5 * PAGE_SIZE];
        assert_eq!(
            fs.write(f, WriteAt::Offset(0), &five, 1),
            Ok((3 * PAGE_SIZE, 3 * PAGE))
        );
        assert_eq!(fs.write(f, WriteAt::End, b"x", 1), Err(FsError::NoSpace));
        // Rewriting existing pages needs no budget.
        assert_eq!(fs.write(f, WriteAt::Offset(5), b"x", 1), Ok((1, 6)));
        fs.truncate(f, 0, 2).unwrap();
        assert_eq!(fs.usage().pages, 0);
        // The size limit: EFBIG at it, a short write across it.
        let g = file(&mut fs, "g");
        assert_eq!(
            fs.write(g, WriteAt::Offset(8 * PAGE), b"x", 1),
            Err(FsError::TooBig)
        );
        assert_eq!(
            fs.write(g, WriteAt::Offset(8 * PAGE - 2), b"xyz", 1),
            Ok((2, 8 * PAGE))
        );
        assert_eq!(fs.truncate(g, 8 * PAGE + 1, 1), Err(FsError::TooBig));
    }

    #[test]
    fn timestamps_follow_the_operations() {
        let mut fs = fs();
        let f = fs.create(ROOT, "f", NewNode::File, 0o644, 10).unwrap();
        let a = fs.attr(f).unwrap();
        assert_eq!((a.atime, a.mtime, a.ctime), (10, 10, 10));
        assert_eq!(fs.attr(ROOT).unwrap().mtime, 10);
        fs.write(f, WriteAt::Offset(0), b"x", 20).unwrap();
        let mut b = [0u8; 1];
        fs.read(f, 0, &mut b, 30).unwrap();
        let a = fs.attr(f).unwrap();
        assert_eq!((a.atime, a.mtime, a.ctime), (30, 20, 20));
        fs.set_times(f, Some(5), None, 40).unwrap();
        let a = fs.attr(f).unwrap();
        assert_eq!((a.atime, a.mtime, a.ctime), (5, 20, 40));
        fs.unlink(ROOT, "f", 50).unwrap();
        assert_eq!(fs.attr(ROOT).unwrap().ctime, 50);
    }

    #[test]
    fn archive_files_share_bytes_until_written() {
        static BYTES: [u8; 6] = *b"abcdef";
        let mut fs = small(16, 1, 1 << 20);
        let f = fs
            .create(ROOT, "s", NewNode::StaticFile(&BYTES), 0o755, 1)
            .unwrap();
        assert_eq!(fs.static_data(f), Some(&BYTES[..]));
        assert_eq!(fs.usage().pages, 0);
        assert_eq!(read_all(&mut fs, f), b"abcdef");
        // Shrinking and growing keeps it shared; the grown part reads as zeros.
        fs.truncate(f, 4, 2).unwrap();
        fs.truncate(f, 6, 2).unwrap();
        assert_eq!(read_all(&mut fs, f), b"abcd\0\0");
        assert_eq!(fs.static_data(f), None);
        fs.write(f, WriteAt::Offset(1), b"XY", 3).unwrap();
        assert_eq!(read_all(&mut fs, f), b"aXYd\0\0");
        assert_eq!(fs.usage().pages, 1);
        // No budget left for a second archive file's copy.
        let g = fs
            .create(ROOT, "t", NewNode::StaticFile(&BYTES), 0o644, 1)
            .unwrap();
        assert_eq!(
            fs.write(g, WriteAt::Offset(0), b"z", 1),
            Err(FsError::NoSpace)
        );
        assert_eq!(read_all(&mut fs, g), b"abcdef");
    }

    #[test]
    fn device_nodes_have_no_data() {
        let mut fs = fs();
        let d = fs
            .create(ROOT, "null", NewNode::CharDev(0x103), 0o666, 1)
            .unwrap();
        let a = fs.attr(d).unwrap();
        assert_eq!((a.kind, a.rdev, a.size), (Kind::CharDev, 0x103, 0));
        assert_eq!(fs.read(d, 0, &mut [0u8; 4], 1), Err(FsError::Invalid));
        assert_eq!(fs.read(ROOT, 0, &mut [0u8; 4], 1), Err(FsError::IsDir));
    }
}
