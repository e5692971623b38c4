//! The mount table and path walking: the one tree of names programs see.
//!
//! Each mount is a [`Tmpfs`] instance; mount 0 is the root file system, every other one
//! covers a directory of an earlier mount (`/dev` is the devfs). A place in the tree is a
//! [`Loc`] (mount, inode). The walk goes one component at a time from the root or the
//! working directory: a name that is a mount point leads to the root of the mount on it,
//! `..` at a mount's root leads to the parent of the directory it covers, and `..` at the
//! root stays there. With no symbolic links this is all of POSIX path resolution;
//! `a/missing/..` fails with `ENOENT` as it must, because `..` is never rewritten away.
//!
//! The operations here take paths and apply the rules that need the whole tree: `EXDEV`
//! for renames across mounts, `EBUSY` for mount points, and the `open` flag semantics.
//!
//! A mount may also be *external* ([`Vfs::mount_external`]): a file system the tree does
//! not hold (a FAT volume on a disk, whose operations sleep on block I/O). The tree only
//! knows where it sits. [`Vfs::locate`] tells the caller whether a path stays in the tree
//! or ends inside an external mount, and at which path relative to its root; the caller
//! then runs the operation on that file system itself, without this tree's lock. The
//! tree's own operations refuse to walk into an external mount (`EXDEV`).

use alloc::string::String;
use alloc::vec::Vec;

use wayos_abi::fcntl::{O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_TRUNC, O_VALID};
use wayos_abi::fs::{Stat, StatFs};
use wayos_abi::limits::NAME_MAX;
use wayos_abi::Timespec;

use super::path::{self, Last, Path};
use super::tmpfs::{Attr, Ino, Kind, NewNode, Tmpfs, ROOT};
use super::{FsError, FsResult, Page, PAGE_SIZE};

/// A place in the tree: a mount and an inode of its file system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    pub mount: usize,
    pub ino: Ino,
}

/// What a mount holds.
enum Body<P> {
    Tmp(Tmpfs<P>),
    /// A file system kept outside the tree ([`Vfs::mount_external`]).
    External,
    /// Unmounted: the slot may be reused by a later external mount.
    Gone,
}

struct Mount<P> {
    body: Body<P>,
    /// The directory this mount sits on (`None` for the root file system).
    covers: Option<Loc>,
    /// Its names are fixed ([`Vfs::seal`]): nothing is created, removed or renamed in it.
    sealed: bool,
}

/// Where a path ends ([`Vfs::locate`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// In the tree.
    Tree,
    /// Inside external mount `mount`, at `rel` (components joined by `/`; empty for its
    /// root). `must_be_dir`: the path ended with a slash.
    External {
        mount: usize,
        rel: String,
        must_be_dir: bool,
    },
}

/// What [`Vfs::open`] found or made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    pub loc: Loc,
    pub kind: Kind,
    /// The device number of a device node.
    pub rdev: u64,
    /// `O_CREAT` made the file.
    pub created: bool,
}

/// The mounted file systems.
pub struct Vfs<P> {
    mounts: Vec<Mount<P>>,
}

fn timespec(ns: u64) -> Timespec {
    Timespec {
        sec: (ns / 1_000_000_000) as i64,
        nsec: (ns % 1_000_000_000) as i64,
    }
}

impl<P: Page> Vfs<P> {
    /// A tree whose root is `root`.
    pub fn new(root: Tmpfs<P>) -> Self {
        Self {
            mounts: alloc::vec![Mount {
                body: Body::Tmp(root),
                covers: None,
                sealed: false,
            }],
        }
    }

    /// The root directory.
    pub const fn root(&self) -> Loc {
        Loc {
            mount: 0,
            ino: ROOT,
        }
    }

    /// The file system of mount `mount`.
    pub fn fs(&self, mount: usize) -> FsResult<&Tmpfs<P>> {
        match self.mounts.get(mount).map(|m| &m.body) {
            Some(Body::Tmp(fs)) => Ok(fs),
            Some(Body::External) => Err(FsError::CrossDevice),
            _ => Err(FsError::NotFound),
        }
    }

    pub fn fs_mut(&mut self, mount: usize) -> FsResult<&mut Tmpfs<P>> {
        match self.mounts.get_mut(mount).map(|m| &mut m.body) {
            Some(Body::Tmp(fs)) => Ok(fs),
            Some(Body::External) => Err(FsError::CrossDevice),
            _ => Err(FsError::NotFound),
        }
    }

    /// Records an external file system on the directory `path` names; returns its mount
    /// number. `EBUSY` if the directory is a mount point (or the root), `ENOTDIR` if it is
    /// not a directory, `EXDEV` if it lies inside another external mount.
    pub fn mount_external(&mut self, cwd: Loc, path: &str) -> FsResult<usize> {
        let at = self.resolve(cwd, path)?;
        if matches!(self.mounts[at.mount].body, Body::External) {
            return Err(FsError::Busy);
        }
        if self.attr(at)?.kind != Kind::Dir {
            return Err(FsError::NotDir);
        }
        if at.ino == ROOT || self.is_mount_point(at) {
            return Err(FsError::Busy);
        }
        let m = Mount {
            body: Body::External,
            covers: Some(at),
            sealed: false,
        };
        match self
            .mounts
            .iter()
            .position(|m| matches!(m.body, Body::Gone))
        {
            Some(i) => {
                self.mounts[i] = m;
                Ok(i)
            }
            None => {
                self.mounts.try_reserve(1).map_err(|_| FsError::NoSpace)?;
                self.mounts.push(m);
                Ok(self.mounts.len() - 1)
            }
        }
    }

    /// Removes the external mount `mount`: its directory shows the tree's again.
    pub fn unmount_external(&mut self, mount: usize) -> FsResult<()> {
        match self.mounts.get_mut(mount) {
            Some(m) if matches!(m.body, Body::External) => {
                m.body = Body::Gone;
                m.covers = None;
                Ok(())
            }
            _ => Err(FsError::Invalid),
        }
    }

    /// Every mount: its number, what it holds (`tmpfs`, `devfs` for a sealed one, `ext`
    /// for an external one) and where it sits.
    pub fn mount_list(&self) -> Vec<(usize, &'static str, String)> {
        let mut out = Vec::new();
        for (i, m) in self.mounts.iter().enumerate() {
            let kind = match m.body {
                Body::Tmp(_) if m.sealed => "devfs",
                Body::Tmp(_) => "tmpfs",
                Body::External => "ext",
                Body::Gone => continue,
            };
            let at = m.covers.unwrap_or(self.root());
            let path = self
                .path_of(at, wayos_abi::limits::PATH_MAX)
                .unwrap_or_default();
            if out.try_reserve(1).is_ok() {
                out.push((i, kind, path));
            }
        }
        out
    }

    /// Where `path` (relative ones from `cwd`) ends: in the tree ([`Place::Tree`]: use
    /// the tree's operations with the same `cwd` and `path`), or inside an external mount
    /// at a relative path. Inside an external mount `.` and `..` are resolved by name
    /// (`..` at its root leaves it); whether the names exist is for its file system to say.
    /// A walk that fails in the tree gives [`Place::Tree`]: the operation reports it.
    pub fn locate(&self, cwd: Loc, path: &str) -> FsResult<Place> {
        let p = path::parse(path)?;
        let mut at = if p.is_absolute() { self.root() } else { cwd };
        let mut ext: Option<(usize, Vec<&str>)> = None;
        for c in p.components() {
            if let Some((mount, rel)) = &mut ext {
                match c {
                    "." => {}
                    ".." if rel.is_empty() => {
                        let covers = self.mounts[*mount].covers.ok_or(FsError::NotFound)?;
                        at = self.up(covers)?;
                        ext = None;
                    }
                    ".." => {
                        rel.pop();
                    }
                    name => {
                        rel.try_reserve(1).map_err(|_| FsError::NoSpace)?;
                        rel.push(name);
                    }
                }
                continue;
            }
            at = match self.step(at, c) {
                Ok(next) => next,
                Err(_) => return Ok(Place::Tree),
            };
            if matches!(self.mounts[at.mount].body, Body::External) {
                ext = Some((at.mount, Vec::new()));
            }
        }
        Ok(match ext {
            None => Place::Tree,
            Some((mount, rel)) => {
                let mut s = String::new();
                s.try_reserve(path.len()).map_err(|_| FsError::NoSpace)?;
                for (i, c) in rel.iter().enumerate() {
                    if i > 0 {
                        s.push('/');
                    }
                    s.push_str(c);
                }
                Place::External {
                    mount,
                    rel: s,
                    must_be_dir: p.must_be_dir(),
                }
            }
        })
    }

    /// Mounts `fs` on the directory `path` names; returns the mount number.
    pub fn mount(&mut self, cwd: Loc, path: &str, fs: Tmpfs<P>) -> FsResult<usize> {
        let at = self.resolve(cwd, path)?;
        if self.attr(at)?.kind != Kind::Dir {
            return Err(FsError::NotDir);
        }
        // `at` is already the root of whatever is mounted there: mount points stack no
        // further than one deep.
        if at.ino == ROOT {
            return Err(FsError::Busy);
        }
        self.mounts.push(Mount {
            body: Body::Tmp(fs),
            covers: Some(at),
            sealed: false,
        });
        Ok(self.mounts.len() - 1)
    }

    /// Fixes the names of mount `mount` (the kernel's `/dev` once its nodes exist): from
    /// now on creating, removing or renaming anything in it is `EROFS`. The files
    /// themselves stay usable (a device node is read and written as before).
    pub fn seal(&mut self, mount: usize) -> FsResult<()> {
        let m = self.mounts.get_mut(mount).ok_or(FsError::NotFound)?;
        m.sealed = true;
        Ok(())
    }

    /// `EROFS` if the names of mount `mount` may not change.
    fn names_may_change(&self, mount: usize) -> FsResult<()> {
        match self.mounts.get(mount) {
            Some(m) if m.sealed => Err(FsError::ReadOnly),
            Some(_) => Ok(()),
            None => Err(FsError::NotFound),
        }
    }

    pub fn attr(&self, loc: Loc) -> FsResult<Attr> {
        self.fs(loc.mount)?.attr(loc.ino)
    }

    /// `stat` for the inode at `loc`; `dev` is the mount number.
    pub fn stat(&self, loc: Loc) -> FsResult<Stat> {
        let a = self.attr(loc)?;
        Ok(Stat {
            dev: loc.mount as u64,
            ino: a.ino,
            mode: a.kind.type_bits() | a.perm,
            nlink: a.nlink,
            uid: 0,
            gid: 0,
            rdev: a.rdev,
            size: a.size,
            blksize: PAGE_SIZE as u64,
            blocks: a.blocks,
            atime: timespec(a.atime),
            mtime: timespec(a.mtime),
            ctime: timespec(a.ctime),
        })
    }

    /// `statfs` for the file system `loc` lies in.
    pub fn statfs(&self, loc: Loc) -> FsResult<StatFs> {
        let fs = self.fs(loc.mount)?;
        let (limits, usage) = (fs.limits(), fs.usage());
        Ok(StatFs {
            bsize: PAGE_SIZE as u64,
            blocks: limits.max_pages(),
            bfree: limits.max_pages().saturating_sub(usage.pages),
            files: limits.max_inodes,
            ffree: limits.max_inodes.saturating_sub(usage.inodes),
            namelen: NAME_MAX as u64,
            max_file_size: limits.max_file_size,
        })
    }

    /// The root of the mount sitting on `loc`, or `loc` itself.
    fn enter_mounts(&self, loc: Loc) -> Loc {
        match self.mounts.iter().position(|m| m.covers == Some(loc)) {
            Some(i) => Loc {
                mount: i,
                ino: ROOT,
            },
            None => loc,
        }
    }

    fn is_mount_point(&self, loc: Loc) -> bool {
        self.mounts.iter().any(|m| m.covers == Some(loc))
    }

    /// `..` from the directory `at`.
    fn up(&self, at: Loc) -> FsResult<Loc> {
        let fs = self.fs(at.mount)?;
        if at.ino == ROOT {
            // Check `at` is a live directory before leaving it.
            fs.parent(at.ino)?;
            return match self.mounts[at.mount].covers {
                Some(c) => self.up(c),
                None => Ok(at),
            };
        }
        Ok(Loc {
            mount: at.mount,
            ino: fs.parent(at.ino)?,
        })
    }

    /// One step of the walk from the directory `at`.
    fn step(&self, at: Loc, name: &str) -> FsResult<Loc> {
        match name {
            ".." => self.up(at),
            _ => {
                let ino = self.fs(at.mount)?.lookup(at.ino, name)?;
                Ok(self.enter_mounts(Loc {
                    mount: at.mount,
                    ino,
                }))
            }
        }
    }

    fn walk(&self, cwd: Loc, p: &Path<'_>) -> FsResult<Loc> {
        let mut at = if p.is_absolute() { self.root() } else { cwd };
        for c in p.components() {
            at = self.step(at, c)?;
        }
        Ok(at)
    }

    /// What `path` names, relative paths starting at `cwd`.
    pub fn resolve(&self, cwd: Loc, path: &str) -> FsResult<Loc> {
        let p = path::parse(path)?;
        let at = self.walk(cwd, &p)?;
        // `.` as the whole path must still be a live directory; a trailing slash needs one.
        if p.must_be_dir() || p.components().next().is_none() {
            match self.attr(at)?.kind {
                Kind::Dir => self.fs(at.mount)?.parent(at.ino).map(|_| ())?,
                _ => return Err(FsError::NotDir),
            }
        }
        Ok(at)
    }

    /// The directory holding the last component of `path`, and that component. The
    /// directory is checked to be one. Also says whether the path ends with a slash.
    pub fn resolve_parent<'p>(&self, cwd: Loc, path: &'p str) -> FsResult<(Loc, Last<'p>, bool)> {
        let p = path::parse(path)?;
        let (dir, last) = p.split_last();
        let at = self.walk(cwd, &dir)?;
        self.fs(at.mount)?.parent(at.ino)?;
        Ok((at, last, p.must_be_dir()))
    }

    /// `open`: finds (or with `O_CREAT` makes) the file, applies `O_TRUNC`, and records
    /// an open reference the caller must end with [`Vfs::close`]. `flags` are
    /// `wayos_abi::fcntl` `O_*` bits; unknown bits or access mode 3 are `EINVAL`.
    pub fn open(
        &mut self,
        cwd: Loc,
        path: &str,
        flags: usize,
        perm: u32,
        now: u64,
    ) -> FsResult<Opened> {
        if flags & !O_VALID != 0 || flags & O_ACCMODE == O_ACCMODE {
            return Err(FsError::Invalid);
        }
        let mut created = false;
        let loc = if flags & O_CREAT != 0 {
            if flags & O_DIRECTORY != 0 {
                return Err(FsError::Invalid);
            }
            let (dir, last, must_be_dir) = self.resolve_parent(cwd, path)?;
            match last {
                // Creating can only make a file, which a trailing slash rules out.
                Last::Name(_) if must_be_dir => return Err(FsError::IsDir),
                Last::Name(name) => match self.fs(dir.mount)?.lookup(dir.ino, name) {
                    Ok(_) if flags & O_EXCL != 0 => return Err(FsError::Exists),
                    Ok(ino) => self.enter_mounts(Loc {
                        mount: dir.mount,
                        ino,
                    }),
                    Err(FsError::NotFound) => {
                        self.names_may_change(dir.mount)?;
                        let fs = self.fs_mut(dir.mount)?;
                        let ino = fs.create(dir.ino, name, NewNode::File, perm, now)?;
                        created = true;
                        Loc {
                            mount: dir.mount,
                            ino,
                        }
                    }
                    Err(e) => return Err(e),
                },
                // `/`, `.` or `..`: a directory that exists.
                _ if flags & O_EXCL != 0 => return Err(FsError::Exists),
                _ => return Err(FsError::IsDir),
            }
        } else {
            self.resolve(cwd, path)?
        };
        let attr = self.attr(loc)?;
        match attr.kind {
            Kind::Dir if flags & O_ACCMODE != O_RDONLY || flags & (O_CREAT | O_TRUNC) != 0 => {
                return Err(FsError::IsDir);
            }
            Kind::Dir => {}
            _ if flags & O_DIRECTORY != 0 => return Err(FsError::NotDir),
            Kind::File if flags & O_TRUNC != 0 && !created => {
                self.fs_mut(loc.mount)?.truncate(loc.ino, 0, now)?;
            }
            _ => {}
        }
        self.fs_mut(loc.mount)?.open(loc.ino)?;
        Ok(Opened {
            loc,
            kind: attr.kind,
            rdev: attr.rdev,
            created,
        })
    }

    /// Ends an open reference taken by [`Vfs::open`] (or [`Vfs::reopen`]).
    pub fn close(&mut self, loc: Loc) {
        if let Ok(fs) = self.fs_mut(loc.mount) {
            fs.close(loc.ino);
        }
    }

    /// Takes another open reference on an inode (a directory opened by location).
    pub fn reopen(&mut self, loc: Loc) -> FsResult<()> {
        self.fs_mut(loc.mount)?.open(loc.ino)
    }

    /// `mkdir`.
    pub fn mkdir(&mut self, cwd: Loc, path: &str, perm: u32, now: u64) -> FsResult<Loc> {
        let (dir, last, _) = self.resolve_parent(cwd, path)?;
        let Last::Name(name) = last else {
            return Err(FsError::Exists);
        };
        self.names_may_change(dir.mount)?;
        let ino = self
            .fs_mut(dir.mount)?
            .create(dir.ino, name, NewNode::Dir, perm, now)?;
        Ok(Loc {
            mount: dir.mount,
            ino,
        })
    }

    /// Makes a node of any kind (the kernel populating the tree at boot).
    pub fn make_node(
        &mut self,
        cwd: Loc,
        path: &str,
        new: NewNode,
        perm: u32,
        now: u64,
    ) -> FsResult<Loc> {
        let (dir, last, _) = self.resolve_parent(cwd, path)?;
        let Last::Name(name) = last else {
            return Err(FsError::Exists);
        };
        let ino = self
            .fs_mut(dir.mount)?
            .create(dir.ino, name, new, perm, now)?;
        Ok(Loc {
            mount: dir.mount,
            ino,
        })
    }

    /// `rmdir`.
    pub fn rmdir(&mut self, cwd: Loc, path: &str, now: u64) -> FsResult<()> {
        let (dir, last, _) = self.resolve_parent(cwd, path)?;
        let name = match last {
            Last::Name(n) => n,
            Last::Dot => return Err(FsError::Invalid),
            Last::DotDot => return Err(FsError::NotEmpty),
            Last::Root => return Err(FsError::Busy),
        };
        let fs = self.fs(dir.mount)?;
        let child = fs.lookup(dir.ino, name)?;
        self.names_may_change(dir.mount)?;
        if self.is_mount_point(Loc {
            mount: dir.mount,
            ino: child,
        }) {
            return Err(FsError::Busy);
        }
        self.fs_mut(dir.mount)?.rmdir(dir.ino, name, now)
    }

    /// `unlink`.
    pub fn unlink(&mut self, cwd: Loc, path: &str, now: u64) -> FsResult<()> {
        let (dir, last, must_be_dir) = self.resolve_parent(cwd, path)?;
        let Last::Name(name) = last else {
            return Err(FsError::IsDir);
        };
        // A missing name is ENOENT even in a sealed mount, as on Linux.
        self.fs(dir.mount)?.lookup(dir.ino, name)?;
        self.names_may_change(dir.mount)?;
        let fs = self.fs_mut(dir.mount)?;
        if must_be_dir {
            let child = fs.lookup(dir.ino, name)?;
            return Err(match fs.kind(child)? {
                Kind::Dir => FsError::IsDir,
                _ => FsError::NotDir,
            });
        }
        fs.unlink(dir.ino, name, now)
    }

    /// `rename`: `EXDEV` between mounts, `EBUSY` for `/`, `.`, `..` and mount points.
    pub fn rename(&mut self, cwd: Loc, old: &str, new: &str, now: u64) -> FsResult<()> {
        let (sdir, slast, s_slash) = self.resolve_parent(cwd, old)?;
        let (ddir, dlast, d_slash) = self.resolve_parent(cwd, new)?;
        let (Last::Name(sname), Last::Name(dname)) = (slast, dlast) else {
            return Err(FsError::Busy);
        };
        if sdir.mount != ddir.mount {
            return Err(FsError::CrossDevice);
        }
        self.names_may_change(sdir.mount)?;
        let fs = self.fs(sdir.mount)?;
        let src = fs.lookup(sdir.ino, sname)?;
        let at = |ino| Loc {
            mount: sdir.mount,
            ino,
        };
        if self.is_mount_point(at(src)) {
            return Err(FsError::Busy);
        }
        if let Ok(dst) = fs.lookup(ddir.ino, dname) {
            if self.is_mount_point(at(dst)) {
                return Err(FsError::Busy);
            }
        }
        if (s_slash || d_slash) && fs.kind(src)? != Kind::Dir {
            return Err(FsError::NotDir);
        }
        self.fs_mut(sdir.mount)?
            .rename(sdir.ino, sname, ddir.ino, dname, now)
    }

    /// The absolute path of the directory `dir` (`getcwd`): `ENOENT` once it is removed,
    /// [`FsError::NameTooLong`] if it is longer than `max` bytes (then nothing is built:
    /// the walk stops as soon as the length passes `max`, so the work is bounded by `max`,
    /// not by the depth of the tree), [`FsError::NoSpace`] if the kernel heap cannot hold
    /// it (allocation is fallible).
    pub fn path_of(&self, dir: Loc, max: usize) -> FsResult<String> {
        // First the length, then the bytes, back to front: no list of names is kept.
        let mut len = 0usize;
        self.walk_up(dir, |name| {
            len += name.len() + 1;
            if len > max {
                Err(FsError::NameTooLong)
            } else {
                Ok(())
            }
        })?;
        let total = len.max(1);
        if total > max {
            return Err(FsError::NameTooLong);
        }
        let mut buf: Vec<u8> = Vec::new();
        buf.try_reserve_exact(total).map_err(|_| FsError::NoSpace)?;
        buf.resize(total, b'/');
        let mut end = total;
        self.walk_up(dir, |name| {
            // The tree cannot change meanwhile (the caller holds the VFS), so the names
            // are the ones measured; `checked_sub` only guards a broken invariant.
            let start = end.checked_sub(name.len() + 1).ok_or(FsError::Invalid)?;
            buf[start + 1..end].copy_from_slice(name.as_bytes());
            end = start;
            Ok(())
        })?;
        String::from_utf8(buf).map_err(|_| FsError::Invalid)
    }

    /// Calls `f` with each name on the way from `dir` up to the root (none for the root
    /// itself), innermost first; stops at `f`'s first error.
    fn walk_up(&self, dir: Loc, mut f: impl FnMut(&str) -> FsResult<()>) -> FsResult<()> {
        let mut at = dir;
        // Each step goes one level up; the bound only guards against a broken tree.
        let bound: u64 = self
            .mounts
            .iter()
            .map(|m| match &m.body {
                Body::Tmp(fs) => fs.usage().inodes + 1,
                _ => 1,
            })
            .sum();
        for _ in 0..bound {
            let fs = self.fs(at.mount)?;
            let parent = fs.parent(at.ino)?;
            if at.ino == ROOT {
                match self.mounts[at.mount].covers {
                    Some(c) => {
                        at = c;
                        continue;
                    }
                    None => return Ok(()),
                }
            }
            f(fs.name_of(parent, at.ino)?)?;
            at = Loc {
                mount: at.mount,
                ino: parent,
            };
        }
        Err(FsError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::tmpfs::{Limits, WriteAt};
    use crate::fs::HeapPage;
    use wayos_abi::fcntl::{O_APPEND, O_CLOEXEC, O_RDWR, O_WRONLY};
    use wayos_abi::fs::{S_IFCHR, S_IFDIR, S_IFREG};

    type V = Vfs<HeapPage>;

    fn tmpfs() -> Tmpfs<HeapPage> {
        Tmpfs::new(Limits::for_memory(16 << 20), 0o755, 0)
    }

    /// `/` with `/a/b`, a file `/a/f` holding "data", and a second file system on `/dev`
    /// holding a device node.
    fn tree() -> V {
        let mut v = V::new(tmpfs());
        let root = v.root();
        v.mkdir(root, "/a", 0o755, 1).unwrap();
        v.mkdir(root, "/a/b", 0o755, 1).unwrap();
        v.mkdir(root, "/dev", 0o755, 1).unwrap();
        let f = v.make_node(root, "/a/f", NewNode::File, 0o644, 1).unwrap();
        v.fs_mut(0)
            .unwrap()
            .write(f.ino, WriteAt::Offset(0), b"data", 1)
            .unwrap();
        v.mount(root, "/dev", tmpfs()).unwrap();
        v.make_node(root, "/dev/null", NewNode::CharDev(0x103), 0o666, 1)
            .unwrap();
        v
    }

    fn ino(v: &V, path: &str) -> Loc {
        v.resolve(v.root(), path).unwrap()
    }

    #[test]
    fn dots_and_slashes_resolve_through_the_tree() {
        let v = tree();
        let b = ino(&v, "/a/b");
        assert_eq!(v.resolve(v.root(), "//a/./b/../b//"), Ok(b));
        assert_eq!(v.resolve(v.root(), "/.."), Ok(v.root()));
        assert_eq!(v.resolve(v.root(), "/../../a/b"), Ok(b));
        let a = ino(&v, "/a");
        assert_eq!(v.resolve(a, "b"), Ok(b));
        assert_eq!(v.resolve(b, ".."), Ok(a));
        assert_eq!(v.resolve(b, "../.."), Ok(v.root()));
        assert_eq!(v.resolve(b, "."), Ok(b));
        // `..` is not a string operation: the directory before it must exist.
        assert_eq!(
            v.resolve(v.root(), "/a/missing/../b"),
            Err(FsError::NotFound)
        );
        assert_eq!(v.resolve(v.root(), "/a/f/../b"), Err(FsError::NotDir));
        assert_eq!(v.resolve(v.root(), "/a/f/"), Err(FsError::NotDir));
        assert_eq!(v.resolve(v.root(), "/a/f/."), Err(FsError::NotDir));
        assert_eq!(v.resolve(v.root(), ""), Err(FsError::NotFound));
        let long = alloc::format!("/a/{}", "x".repeat(256));
        assert_eq!(v.resolve(v.root(), &long), Err(FsError::NameTooLong));
    }

    #[test]
    fn a_sealed_mount_keeps_its_names() {
        let mut v = tree();
        let root = v.root();
        let dev = ino(&v, "/dev").mount;
        v.seal(dev).unwrap();
        assert_eq!(v.unlink(root, "/dev/null", 2), Err(FsError::ReadOnly));
        assert_eq!(
            v.rename(root, "/dev/null", "/dev/n", 2),
            Err(FsError::ReadOnly)
        );
        assert_eq!(
            v.mkdir(root, "/dev/d", 0o755, 2).map(|_| ()),
            Err(FsError::ReadOnly)
        );
        assert_eq!(
            v.open(root, "/dev/new", O_CREAT | O_WRONLY, 0o644, 2)
                .map(|_| ()),
            Err(FsError::ReadOnly)
        );
        // What exists still opens (no create needed), and the rest of the tree is untouched.
        assert!(v
            .open(root, "/dev/null", O_CREAT | O_WRONLY, 0o644, 2)
            .is_ok());
        assert_eq!(v.unlink(root, "/dev/missing", 2), Err(FsError::NotFound));
        assert!(v.resolve(root, "/dev/null").is_ok());
        assert!(v.mkdir(root, "/a/new", 0o755, 2).is_ok());
        assert!(v.unlink(root, "/a/f", 2).is_ok());
    }

    #[test]
    fn mounts_are_entered_and_left() {
        let mut v = tree();
        let dev = ino(&v, "/dev");
        assert_eq!(
            dev,
            Loc {
                mount: 1,
                ino: ROOT
            }
        );
        assert_eq!(v.resolve(dev, ".."), Ok(v.root()));
        assert_eq!(v.resolve(v.root(), "/dev/../a/b"), Ok(ino(&v, "/a/b")));
        assert_eq!(v.stat(ino(&v, "/dev/null")).unwrap().dev, 1);
        assert_eq!(v.path_of(dev, 4096).unwrap(), "/dev");
        let root = v.root();
        assert_eq!(
            v.rename(root, "/a/f", "/dev/f", 2),
            Err(FsError::CrossDevice)
        );
        assert_eq!(
            v.rename(root, "/dev/null", "/a/n", 2),
            Err(FsError::CrossDevice)
        );
        assert_eq!(v.rmdir(root, "/dev", 2), Err(FsError::Busy));
        assert_eq!(v.rename(root, "/dev", "/dev2", 2), Err(FsError::Busy));
        assert_eq!(v.rename(root, "/a/b", "/dev", 2), Err(FsError::Busy));
        assert_eq!(
            v.mount(root, "/dev", tmpfs()).map(|_| ()),
            Err(FsError::Busy)
        );
        assert_eq!(
            v.mount(root, "/a/f", tmpfs()).map(|_| ()),
            Err(FsError::NotDir)
        );
        // Renames inside one mount still work.
        v.rename(root, "/dev/null", "/dev/nothing", 3).unwrap();
        assert!(v.resolve(root, "/dev/nothing").is_ok());
    }

    #[test]
    fn open_flags() {
        let mut v = tree();
        let root = v.root();
        let o = |v: &mut V, p: &str, f: usize| v.open(root, p, f, 0o600, 5);
        assert_eq!(
            o(&mut v, "/a/new", O_RDONLY).map(|_| ()),
            Err(FsError::NotFound)
        );
        let made = o(&mut v, "/a/new", O_CREAT | O_WRONLY).unwrap();
        assert!(made.created);
        assert_eq!(v.attr(made.loc).unwrap().perm, 0o600);
        let again = o(&mut v, "/a/new", O_CREAT | O_RDWR).unwrap();
        assert!(!again.created);
        assert_eq!(again.loc, made.loc);
        assert_eq!(
            o(&mut v, "/a/new", O_CREAT | O_EXCL | O_RDWR).map(|_| ()),
            Err(FsError::Exists)
        );
        assert_eq!(
            o(&mut v, "/a/f", O_DIRECTORY).map(|_| ()),
            Err(FsError::NotDir)
        );
        assert_eq!(o(&mut v, "/a", O_WRONLY).map(|_| ()), Err(FsError::IsDir));
        assert_eq!(
            o(&mut v, "/a", O_RDONLY | O_TRUNC).map(|_| ()),
            Err(FsError::IsDir)
        );
        assert_eq!(o(&mut v, "/a", O_CREAT).map(|_| ()), Err(FsError::IsDir));
        assert_eq!(
            o(&mut v, "/", O_CREAT | O_EXCL).map(|_| ()),
            Err(FsError::Exists)
        );
        assert_eq!(o(&mut v, "/a/x/", O_CREAT).map(|_| ()), Err(FsError::IsDir));
        assert_eq!(
            o(&mut v, "/a/f", 0o10_000_000).map(|_| ()),
            Err(FsError::Invalid)
        );
        assert_eq!(
            o(&mut v, "/a/f", O_ACCMODE).map(|_| ()),
            Err(FsError::Invalid)
        );
        assert_eq!(
            o(&mut v, "/a/d", O_CREAT | O_DIRECTORY).map(|_| ()),
            Err(FsError::Invalid)
        );
        assert_eq!(
            o(&mut v, "/nodir/x", O_CREAT).map(|_| ()),
            Err(FsError::NotFound)
        );
        let dir = o(&mut v, "/a/", O_DIRECTORY | O_CLOEXEC).unwrap();
        assert_eq!(dir.kind, Kind::Dir);
        let dev = o(&mut v, "/dev/null", O_RDWR | O_APPEND).unwrap();
        assert_eq!((dev.kind, dev.rdev), (Kind::CharDev, 0x103));
        // O_TRUNC empties an existing file and stamps it.
        let f = o(&mut v, "/a/f", O_WRONLY | O_TRUNC).unwrap();
        let a = v.attr(f.loc).unwrap();
        assert_eq!((a.size, a.mtime), (0, 5));
        // Open references keep an unlinked file until closed.
        v.unlink(root, "/a/f", 6).unwrap();
        assert!(v.attr(f.loc).is_ok());
        v.close(f.loc);
        assert_eq!(v.attr(f.loc), Err(FsError::NotFound));
    }

    #[test]
    fn stat_reports_type_and_permissions() {
        let v = tree();
        let s = v.stat(ino(&v, "/a/f")).unwrap();
        assert_eq!(
            (s.mode, s.size, s.nlink, s.blksize),
            (S_IFREG | 0o644, 4, 1, 4096)
        );
        assert_eq!(v.stat(ino(&v, "/a")).unwrap().mode, S_IFDIR | 0o755);
        let n = v.stat(ino(&v, "/dev/null")).unwrap();
        assert_eq!((n.mode, n.rdev), (S_IFCHR | 0o666, 0x103));
        assert_ne!(n.ino, 0);
    }

    #[test]
    fn removal_rules_for_special_names() {
        let mut v = tree();
        let root = v.root();
        assert_eq!(v.rmdir(root, "/a/b/.", 2), Err(FsError::Invalid));
        assert_eq!(v.rmdir(root, "/a/b/..", 2), Err(FsError::NotEmpty));
        assert_eq!(v.rmdir(root, "/", 2), Err(FsError::Busy));
        assert_eq!(v.rmdir(root, "/a/f", 2), Err(FsError::NotDir));
        assert_eq!(v.unlink(root, "/a", 2), Err(FsError::IsDir));
        assert_eq!(v.unlink(root, "/", 2), Err(FsError::IsDir));
        assert_eq!(v.unlink(root, "/a/f/", 2), Err(FsError::NotDir));
        assert_eq!(
            v.mkdir(root, "/", 0o755, 2).map(|_| ()),
            Err(FsError::Exists)
        );
        assert_eq!(
            v.mkdir(root, "/a/.", 0o755, 2).map(|_| ()),
            Err(FsError::Exists)
        );
        assert_eq!(
            v.mkdir(root, "/a/b", 0o755, 2).map(|_| ()),
            Err(FsError::Exists)
        );
        assert_eq!(v.rename(root, "/", "/x", 2), Err(FsError::Busy));
        assert_eq!(v.rename(root, "/a/f", "/a/b/.", 2), Err(FsError::Busy));
        assert_eq!(v.rename(root, "/a/f/", "/a/g", 2), Err(FsError::NotDir));
        assert_eq!(v.rename(root, "/a", "/a/b/c", 2), Err(FsError::Invalid));
        assert!(v.mkdir(root, "/a/new/", 0o755, 2).is_ok());
    }

    #[test]
    fn working_directory_paths() {
        let mut v = tree();
        let root = v.root();
        let b = ino(&v, "/a/b");
        assert_eq!(v.path_of(root, 4096).unwrap(), "/");
        assert_eq!(v.path_of(b, 4096).unwrap(), "/a/b");
        // Renaming an ancestor changes the path.
        v.rename(root, "/a", "/z", 2).unwrap();
        assert_eq!(v.path_of(b, 4096).unwrap(), "/z/b");
        assert_eq!(v.resolve(b, "../f"), Ok(ino(&v, "/z/f")));
        // A removed working directory: no path, nothing resolves from it.
        v.rmdir(root, "/z/b", 3).unwrap();
        assert_eq!(v.path_of(b, 4096), Err(FsError::NotFound));
        assert_eq!(v.resolve(b, "."), Err(FsError::NotFound));
        assert_eq!(v.resolve(b, "x"), Err(FsError::NotFound));
        assert_eq!(
            v.mkdir(b, "x", 0o755, 4).map(|_| ()),
            Err(FsError::NotFound)
        );
        // Inode numbers are not reused, so the stale location never names a new file.
        let c = v.mkdir(root, "/c", 0o755, 5).unwrap();
        assert_ne!(c, b);
    }

    #[test]
    fn working_directory_path_is_bounded() {
        let mut v = tree();
        let root = v.root();
        let b = ino(&v, "/a/b");
        // "/a/b" is 4 bytes: it fits in 4, not in 3.
        assert_eq!(v.path_of(b, 4).unwrap(), "/a/b");
        assert_eq!(v.path_of(b, 3), Err(FsError::NameTooLong));
        assert_eq!(v.path_of(root, 1).unwrap(), "/");
        // A deep tree: the walk gives up once the length passes the bound.
        let name = "d".repeat(200);
        let mut at = root;
        for _ in 0..40 {
            at = v.mkdir(at, &name, 0o755, 1).unwrap();
        }
        assert_eq!(v.path_of(at, 4096), Err(FsError::NameTooLong));
        let full = v.path_of(at, 1 << 20).unwrap();
        assert_eq!(full.len(), 40 * 201);
        assert!(full.split('/').skip(1).all(|c| c == name));
    }

    #[test]
    fn external_mounts_are_located_not_walked() {
        let mut v = tree();
        let root = v.root();
        v.mkdir(root, "/disk", 0o755, 1).unwrap();
        let m = v.mount_external(root, "/disk").unwrap();
        assert_eq!(v.mount_external(root, "/disk"), Err(FsError::Busy));
        assert_eq!(v.mount_external(root, "/a/f"), Err(FsError::NotDir));
        let ext = |rel: &str, dir| Place::External {
            mount: m,
            rel: String::from(rel),
            must_be_dir: dir,
        };
        assert_eq!(v.locate(root, "/disk"), Ok(ext("", false)));
        assert_eq!(v.locate(root, "/disk/x/./y/../z/"), Ok(ext("x/z", true)));
        assert_eq!(v.locate(root, "/a/../disk/x"), Ok(ext("x", false)));
        assert_eq!(v.locate(root, "/disk/x/../../a/f"), Ok(Place::Tree));
        assert_eq!(v.locate(root, "/disk/.."), Ok(Place::Tree));
        assert_eq!(v.locate(ino(&v, "/a"), "../disk/q"), Ok(ext("q", false)));
        assert_eq!(v.locate(root, "/a/missing"), Ok(Place::Tree));
        // The tree's own operations never reach into it.
        assert_eq!(
            v.mkdir(root, "/disk/x", 0o755, 2).map(|_| ()),
            Err(FsError::CrossDevice)
        );
        assert_eq!(
            v.open(root, "/disk/f", O_CREAT | O_WRONLY, 0o644, 2)
                .map(|_| ()),
            Err(FsError::CrossDevice)
        );
        assert_eq!(v.rmdir(root, "/disk", 2), Err(FsError::Busy));
        assert_eq!(v.rename(root, "/disk", "/d2", 2), Err(FsError::Busy));
        let list = v.mount_list();
        assert_eq!(list.len(), 3);
        assert_eq!(list[2], (m, "ext", String::from("/disk")));
        assert_eq!(list[0], (0, "tmpfs", String::from("/")));
        assert_eq!(list[1], (1, "tmpfs", String::from("/dev")));
        v.unmount_external(m).unwrap();
        assert_eq!(v.unmount_external(m), Err(FsError::Invalid));
        assert_eq!(v.locate(root, "/disk/x"), Ok(Place::Tree));
        assert!(v.mkdir(root, "/disk/x", 0o755, 3).is_ok());
        assert_eq!(v.mount_list().len(), 2);
    }

    #[test]
    fn statfs_counts_use() {
        let mut v = tree();
        let root = v.root();
        let before = v.statfs(root).unwrap();
        assert_eq!(before.namelen, 255);
        let f = v.open(root, "/big", O_CREAT | O_WRONLY, 0o644, 1).unwrap();
        v.fs_mut(0)
            .unwrap()
            .write(f.loc.ino, WriteAt::Offset(0), &[1; 8192], 1)
            .unwrap();
        let after = v.statfs(root).unwrap();
        assert_eq!(after.ffree, before.ffree - 1);
        assert_eq!(after.bfree, before.bfree - 2);
        assert_eq!(v.statfs(ino(&v, "/dev")).unwrap().ffree, before.files - 2);
    }
}
