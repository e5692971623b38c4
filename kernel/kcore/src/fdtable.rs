//! A process's file-descriptor table: small integers naming shared open files.
//!
//! Generic over the file type so the numbering rules (lowest free number, `dup2` onto a
//! taken number, bounds) are tested on the host; the kernel instantiates it with its
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

/// Descriptors `0..limit`, each empty or holding a `T`.
#[derive(Clone)]
pub struct FdTable<T> {
    slots: Vec<Option<T>>,
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
        self.slots
            .get(fd)
            .and_then(Option::as_ref)
            .ok_or(FdError::BadFd)
    }

    /// Opens `file` at the lowest free number.
    pub fn insert(&mut self, file: T) -> Result<usize, FdError> {
        if let Some(fd) = self.slots.iter().position(Option::is_none) {
            self.slots[fd] = Some(file);
            return Ok(fd);
        }
        if self.slots.len() >= self.limit {
            return Err(FdError::Full);
        }
        self.slots.push(Some(file));
        Ok(self.slots.len() - 1)
    }

    /// Makes `new` refer to `old`'s file. Returns what `new` held before (for the caller
    /// to drop), or `BadFd` if `old` is not open or `new` is past the limit.
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
        Ok(self.slots[new].replace(file))
    }

    /// Closes `fd`, returning its file.
    pub fn close(&mut self, fd: usize) -> Result<T, FdError> {
        let file = self
            .slots
            .get_mut(fd)
            .and_then(Option::take)
            .ok_or(FdError::BadFd)?;
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        Ok(file)
    }

    /// Empties the table (process exit), returning every open file.
    pub fn drain(&mut self) -> Vec<T> {
        core::mem::take(&mut self.slots)
            .into_iter()
            .flatten()
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
