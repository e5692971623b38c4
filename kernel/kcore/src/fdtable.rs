//! A process's file-descriptor table: small integers naming shared open files, each with
//! its close-on-exec flag.
//!
//! Generic over the file type so the numbering rules (lowest free number, `dup2` onto a
//! taken number, bounds, close-on-exec) are tested on the host; the kernel instantiates it with its
//! reference-counted files. Dropping an entry is the caller's business: every method that
//! removes one hands it back, so the kernel can drop it outside its locks.

use alloc::vec::Vec;

/// Why a table operation failed; the kernel maps these to errno values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdError {
    /// Not an open descriptor, or a number past the table's limit (`EBADF`).
    BadFd,
    /// Every number below the limit is taken (`EMFILE`).
    Full,
}

#[derive(Clone)]
struct Entry<T> {
    file: T,
    cloexec: bool,
}

/// Descriptors `0..limit`, each empty or holding a `T`.
#[derive(Clone)]
pub struct FdTable<T> {
    slots: Vec<Option<Entry<T>>>,
    limit: usize,
}

impl<T: Clone> FdTable<T> {
    /// An empty table whose numbers stay below `limit`.
    pub const fn new(limit: usize) -> Self {
        Self {
            slots: Vec::new(),
            limit,
        }
    }

    /// The file open at `fd`.
    pub fn get(&self, fd: usize) -> Result<&T, FdError> {
        self.entry(fd).map(|e| &e.file)
    }

    fn entry(&self, fd: usize) -> Result<&Entry<T>, FdError> {
        self.slots
            .get(fd)
            .and_then(Option::as_ref)
            .ok_or(FdError::BadFd)
    }

    /// Opens `file` at the lowest free number.
    pub fn insert(&mut self, file: T) -> Result<usize, FdError> {
        self.insert_from(0, file, false)
    }

    /// Opens `file` at the lowest free number that is at least `min` (`dup`, `F_DUPFD`),
    /// with its close-on-exec flag.
    pub fn insert_from(&mut self, min: usize, file: T, cloexec: bool) -> Result<usize, FdError> {
        if min >= self.limit {
            return Err(FdError::BadFd);
        }
        let free = (min..self.slots.len()).find(|&fd| self.slots[fd].is_none());
        let fd = match free {
            Some(fd) => fd,
            None if self.slots.len().max(min) < self.limit => {
                let fd = self.slots.len().max(min);
                self.slots.resize_with(fd + 1, || None);
                fd
            }
            None => return Err(FdError::Full),
        };
        self.slots[fd] = Some(Entry { file, cloexec });
        Ok(fd)
    }

    /// Makes `new` refer to `old`'s file, with close-on-exec clear (as POSIX `dup2`).
    /// Returns what `new` held before (for the caller to drop), or `BadFd` if `old` is not
    /// open or `new` is past the limit.
    pub fn dup2(&mut self, old: usize, new: usize) -> Result<Option<T>, FdError> {
        let file = self.get(old)?.clone();
        if new >= self.limit {
            return Err(FdError::BadFd);
        }
        if old == new {
            return Ok(None);
        }
        if self.slots.len() <= new {
            self.slots.resize_with(new + 1, || None);
        }
        let old_entry = self.slots[new].replace(Entry {
            file,
            cloexec: false,
        });
        Ok(old_entry.map(|e| e.file))
    }

    /// The close-on-exec flag of `fd`.
    pub fn cloexec(&self, fd: usize) -> Result<bool, FdError> {
        self.entry(fd).map(|e| e.cloexec)
    }

    /// Sets or clears the close-on-exec flag of `fd`.
    pub fn set_cloexec(&mut self, fd: usize, on: bool) -> Result<(), FdError> {
        let e = self
            .slots
            .get_mut(fd)
            .and_then(Option::as_mut)
            .ok_or(FdError::BadFd)?;
        e.cloexec = on;
        Ok(())
    }

    /// Closes `fd`, returning its file.
    pub fn close(&mut self, fd: usize) -> Result<T, FdError> {
        let e = self
            .slots
            .get_mut(fd)
            .and_then(Option::take)
            .ok_or(FdError::BadFd)?;
        self.trim();
        Ok(e.file)
    }

    /// Closes every close-on-exec descriptor (`execve`), returning their files.
    pub fn close_on_exec(&mut self) -> Vec<T> {
        let mut closed = Vec::new();
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|e| e.cloexec) {
                closed.extend(slot.take().map(|e| e.file));
            }
        }
        self.trim();
        closed
    }

    /// The table a new program started by `spawn` inherits: every descriptor without
    /// close-on-exec.
    pub fn inherited(&self) -> Self {
        let mut t = self.clone();
        let _closed = t.close_on_exec();
        t
    }

    fn trim(&mut self) {
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
    }

    /// Empties the table (process exit), returning every open file.
    pub fn drain(&mut self) -> Vec<T> {
        core::mem::take(&mut self.slots)
            .into_iter()
            .flatten()
            .map(|e| e.file)
            .collect()
    }

    /// Number of open descriptors.
    pub fn open_count(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> FdTable<char> {
        let mut t = FdTable::new(8);
        for c in ['a', 'b', 'c'] {
            t.insert(c).unwrap();
        }
        t
    }

    #[test]
    fn insert_takes_lowest_free_number() {
        let mut t = table();
        assert_eq!(t.close(1), Ok('b'));
        assert_eq!(t.insert('x'), Ok(1));
        assert_eq!(t.insert('y'), Ok(3));
        assert_eq!(t.get(1), Ok(&'x'));
    }

    #[test]
    fn full_table_refuses() {
        let mut t = FdTable::new(2);
        t.insert(1).unwrap();
        t.insert(2).unwrap();
        assert_eq!(t.insert(3), Err(FdError::Full));
        assert_eq!(t.open_count(), 2);
    }

    #[test]
    fn dup2_replaces_and_returns_old() {
        let mut t = table();
        assert_eq!(t.dup2(0, 2), Ok(Some('c')));
        assert_eq!(t.get(2), Ok(&'a'));
        assert_eq!(t.get(0), Ok(&'a'));
        // Onto a number past the current end but under the limit.
        assert_eq!(t.dup2(1, 6), Ok(None));
        assert_eq!(t.get(6), Ok(&'b'));
        assert_eq!(t.get(5), Err(FdError::BadFd));
        assert_eq!(t.insert('z'), Ok(3));
    }

    #[test]
    fn dup2_bad_arguments_change_nothing() {
        let mut t = table();
        assert_eq!(t.dup2(5, 1), Err(FdError::BadFd));
        assert_eq!(t.dup2(0, 8), Err(FdError::BadFd));
        assert_eq!(t.dup2(0, usize::MAX), Err(FdError::BadFd));
        assert_eq!(t.dup2(1, 1), Ok(None));
        assert_eq!(
            [t.get(0), t.get(1), t.get(2)],
            [Ok(&'a'), Ok(&'b'), Ok(&'c')]
        );
    }

    #[test]
    fn close_twice_is_bad_fd() {
        let mut t = table();
        assert_eq!(t.close(2), Ok('c'));
        assert_eq!(t.close(2), Err(FdError::BadFd));
        assert_eq!(t.close(usize::MAX), Err(FdError::BadFd));
        assert_eq!(t.open_count(), 2);
    }

    #[test]
    fn insert_from_skips_low_numbers() {
        let mut t = table();
        assert_eq!(t.insert_from(1, 'x', false), Ok(3));
        assert_eq!(t.insert_from(6, 'y', true), Ok(6));
        assert_eq!(t.get(5), Err(FdError::BadFd));
        assert_eq!(t.insert_from(8, 'z', false), Err(FdError::BadFd));
        assert_eq!(t.insert('w'), Ok(4));
        assert_eq!(t.cloexec(6), Ok(true));
    }

    #[test]
    fn cloexec_is_per_descriptor_and_dup2_clears_it() {
        let mut t = table();
        t.set_cloexec(1, true).unwrap();
        assert_eq!(t.dup2(1, 4), Ok(None));
        assert_eq!(t.cloexec(1), Ok(true));
        assert_eq!(t.cloexec(4), Ok(false));
        assert_eq!(t.set_cloexec(7, true), Err(FdError::BadFd));
        let child = t.inherited();
        assert_eq!(child.get(1), Err(FdError::BadFd));
        assert_eq!(child.get(4), Ok(&'b'));
        // The parent keeps its own.
        assert_eq!(t.get(1), Ok(&'b'));
        let mut closed = t.close_on_exec();
        closed.sort();
        assert_eq!(closed, ['b']);
        assert_eq!(t.open_count(), 3);
    }

    #[test]
    fn drain_returns_every_open_file() {
        let mut t = table();
        t.dup2(0, 5).unwrap();
        let mut all = t.drain();
        all.sort();
        assert_eq!(all, ['a', 'a', 'b', 'c']);
        assert_eq!(t.open_count(), 0);
        assert_eq!(t.get(0), Err(FdError::BadFd));
    }
}
