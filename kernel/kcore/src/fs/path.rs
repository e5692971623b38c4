//! Path syntax: components, the last component, the length limits.
//!
//! A path is bytes separated by `/`; repeated slashes count as one, a leading one makes it
//! absolute, a trailing one means the result must be a directory. `.` and `..` are kept
//! as components: what `..` means depends on the tree (and on mounts), so the walk in
//! [`super::vfs`] resolves it, never a string rewrite. Limits: a path over
//! [`PATH_MAX`] bytes or a component over [`NAME_MAX`] is `ENAMETOOLONG`; an empty path is
//! `ENOENT`; a NUL byte is `EINVAL`.

use wayos_abi::limits::{NAME_MAX, PATH_MAX};

use super::{FsError, FsResult};

/// A checked path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path<'a> {
    text: &'a str,
}

/// What the last component of a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Last<'a> {
    /// The path is `/` (or only slashes).
    Root,
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// A name.
    Name(&'a str),
}

/// Checks `text` against the limits.
pub fn parse(text: &str) -> FsResult<Path<'_>> {
    if text.is_empty() {
        return Err(FsError::NotFound);
    }
    if text.len() > PATH_MAX {
        return Err(FsError::NameTooLong);
    }
    if text.as_bytes().contains(&0) {
        return Err(FsError::Invalid);
    }
    let p = Path { text };
    if p.components().any(|c| c.len() > NAME_MAX) {
        return Err(FsError::NameTooLong);
    }
    Ok(p)
}

impl<'a> Path<'a> {
    /// Starts at the root rather than the working directory.
    pub fn is_absolute(&self) -> bool {
        self.text.starts_with('/')
    }

    /// Ends with a slash: the result must be a directory.
    pub fn must_be_dir(&self) -> bool {
        self.text.ends_with('/')
    }

    /// The components in order, `.` and `..` included, empty ones (from `//`) skipped.
    pub fn components(&self) -> impl Iterator<Item = &'a str> {
        self.text.split('/').filter(|c| !c.is_empty())
    }

    /// Splits off the last component: the path of its directory (empty components when
    /// the directory is the starting point) and what the last one is.
    pub fn split_last(&self) -> (Path<'a>, Last<'a>) {
        let trimmed = self.text.trim_end_matches('/');
        if trimmed.is_empty() {
            // Only slashes: the root, whose "directory" is the root too.
            return (Path { text: "/" }, Last::Root);
        }
        let (dir, name) = match trimmed.rfind('/') {
            Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
            None => ("", trimmed),
        };
        let last = match name {
            "." => Last::Dot,
            ".." => Last::DotDot,
            n => Last::Name(n),
        };
        (Path { text: dir }, last)
    }
}

/// Checks one name for a new directory entry: not empty, no `/` or NUL, at most
/// [`NAME_MAX`] bytes. `.` and `..` always exist.
pub fn check_name(name: &str) -> FsResult<()> {
    if name.is_empty() || name.contains('/') || name.as_bytes().contains(&0) {
        return Err(FsError::Invalid);
    }
    if name.len() > NAME_MAX {
        return Err(FsError::NameTooLong);
    }
    if name == "." || name == ".." {
        return Err(FsError::Exists);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;

    fn comps(p: &str) -> Vec<&str> {
        parse(p).unwrap().components().collect()
    }

    #[test]
    fn repeated_slashes_count_once() {
        assert_eq!(comps("//a///b/"), ["a", "b"]);
        assert_eq!(comps("a/./../b"), ["a", ".", "..", "b"]);
        assert!(parse("//a").unwrap().is_absolute());
        assert!(!parse("a//").unwrap().is_absolute());
        assert!(parse("a//").unwrap().must_be_dir());
        assert_eq!(comps("/"), Vec::<&str>::new());
    }

    #[test]
    fn limits_and_bad_bytes() {
        assert_eq!(parse(""), Err(FsError::NotFound));
        assert_eq!(parse("a\0b"), Err(FsError::Invalid));
        let name = "n".repeat(NAME_MAX);
        assert!(parse(&name).is_ok());
        let long = "n".repeat(NAME_MAX + 1);
        assert_eq!(parse(&long), Err(FsError::NameTooLong));
        assert_eq!(
            parse(&alloc::format!("/ok/{long}/x")),
            Err(FsError::NameTooLong)
        );
        // PATH_MAX bytes are accepted, one more is not.
        let mut path = String::new();
        while path.len() < PATH_MAX {
            path.push_str("/d");
        }
        path.truncate(PATH_MAX);
        assert!(parse(&path).is_ok());
        path.push('x');
        assert_eq!(parse(&path), Err(FsError::NameTooLong));
    }

    #[test]
    fn split_last_component() {
        let split = |p: &'static str| {
            let (dir, last) = parse(p).unwrap().split_last();
            (
                dir.components().collect::<Vec<_>>(),
                dir.is_absolute(),
                last,
            )
        };
        assert_eq!(split("/a/b"), (["a"].to_vec(), true, Last::Name("b")));
        assert_eq!(split("b"), ([].to_vec(), false, Last::Name("b")));
        assert_eq!(split("a/b//"), (["a"].to_vec(), false, Last::Name("b")));
        assert_eq!(split("/"), ([].to_vec(), true, Last::Root));
        assert_eq!(split("///"), ([].to_vec(), true, Last::Root));
        assert_eq!(split("a/."), (["a"].to_vec(), false, Last::Dot));
        assert_eq!(split(".."), ([].to_vec(), false, Last::DotDot));
        assert_eq!(split("/x"), ([].to_vec(), true, Last::Name("x")));
    }

    #[test]
    fn names_for_new_entries() {
        assert_eq!(check_name("ok.txt"), Ok(()));
        assert_eq!(check_name(""), Err(FsError::Invalid));
        assert_eq!(check_name("a/b"), Err(FsError::Invalid));
        assert_eq!(check_name("."), Err(FsError::Exists));
        assert_eq!(check_name(".."), Err(FsError::Exists));
        assert_eq!(
            check_name(&"x".repeat(NAME_MAX + 1)),
            Err(FsError::NameTooLong)
        );
    }
}
