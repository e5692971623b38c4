//! The cpio "newc" archive format (what `cpio -H newc` writes and `cpio -t` lists).
//!
//! The reader validates every header field and bound and yields borrowed entries; a
//! malformed archive ends iteration with an error and never panics. The writer (feature
//! `alloc`) is what `tools/mkramfs` uses, so both sides share one definition of the format.

use core::fmt;

const MAGIC: &[u8; 6] = b"070701";
const HEADER_LEN: usize = 110;
/// Name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";

/// File type bits of `mode`.
pub const S_IFMT: u32 = 0o170000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFDIR: u32 = 0o040000;

/// One member of the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub mode: u32,
    pub data: &'a [u8],
}

impl Entry<'_> {
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
}

/// Why an archive could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The archive ends inside a header, name or file body (byte offset).
    Truncated { offset: usize },
    /// A header does not start with `070701` (byte offset).
    BadMagic { offset: usize },
    /// A header field is not 8 hex digits (byte offset of the header).
    BadField { offset: usize },
    /// A name is empty, lacks its NUL, or is not UTF-8 (byte offset of the header).
    BadName { offset: usize },
    /// No `TRAILER!!!` entry before the end.
    NoTrailer,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { offset } => write!(f, "cpio: truncated at byte {offset}"),
            Error::BadMagic { offset } => {
                write!(f, "cpio: bad magic at byte {offset} (want newc 070701)")
            }
            Error::BadField { offset } => write!(f, "cpio: non-hex header field at byte {offset}"),
            Error::BadName { offset } => write!(f, "cpio: bad file name at byte {offset}"),
            Error::NoTrailer => write!(f, "cpio: archive has no TRAILER!!! entry"),
        }
    }
}

/// Iterates the entries of a newc archive, stopping after the trailer.
pub fn entries(archive: &[u8]) -> Entries<'_> {
    Entries {
        data: archive,
        pos: 0,
        done: false,
    }
}

/// Finds a regular file by path (leading `/` or `./` ignored).
pub fn find<'a>(archive: &'a [u8], path: &str) -> Result<Option<Entry<'a>>, Error> {
    let want = normalize(path);
    for e in entries(archive) {
        let e = e?;
        if normalize(e.name) == want && e.is_file() {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

fn normalize(p: &str) -> &str {
    let p = p.strip_prefix("./").unwrap_or(p);
    p.trim_start_matches('/')
}

pub struct Entries<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

fn hex_field(header: &[u8], index: usize) -> Option<u32> {
    let field = header.get(6 + index * 8..6 + index * 8 + 8)?;
    let mut v: u32 = 0;
    for &c in field {
        let d = (c as char).to_digit(16)?;
        v = (v << 4) | d;
    }
    Some(v)
}

impl<'a> Entries<'a> {
    fn parse_one(&mut self) -> Result<Option<Entry<'a>>, Error> {
        let offset = self.pos;
        if offset >= self.data.len() {
            return Err(Error::NoTrailer);
        }
        let header = self
            .data
            .get(offset..offset + HEADER_LEN)
            .ok_or(Error::Truncated { offset })?;
        if &header[..6] != MAGIC {
            return Err(Error::BadMagic { offset });
        }
        let field = |i| hex_field(header, i).ok_or(Error::BadField { offset });
        let mode = field(1)?;
        let filesize = field(6)? as usize;
        let namesize = field(11)? as usize;
        if namesize == 0 {
            return Err(Error::BadName { offset });
        }
        let name_start = offset + HEADER_LEN;
        let name_end = name_start + namesize;
        let raw_name = self
            .data
            .get(name_start..name_end)
            .ok_or(Error::Truncated { offset: name_start })?;
        let (nul, raw_name) = raw_name.split_last().ok_or(Error::BadName { offset })?;
        if *nul != 0 || raw_name.contains(&0) {
            return Err(Error::BadName { offset });
        }
        let name = core::str::from_utf8(raw_name).map_err(|_| Error::BadName { offset })?;
        let data_start = align4(name_end).ok_or(Error::Truncated { offset })?;
        let data_end = data_start
            .checked_add(filesize)
            .ok_or(Error::Truncated { offset })?;
        let data = self
            .data
            .get(data_start..data_end)
            .ok_or(Error::Truncated { offset: data_start })?;
        self.pos = align4(data_end).ok_or(Error::Truncated { offset })?;
        if name == TRAILER {
            return Ok(None);
        }
        Ok(Some(Entry { name, mode, data }))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.parse_one() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Builds newc archives; used by host tools.
#[cfg(feature = "alloc")]
pub struct Writer {
    out: alloc::vec::Vec<u8>,
    ino: u32,
}

#[cfg(feature = "alloc")]
impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "alloc")]
impl Writer {
    pub fn new() -> Self {
        Self {
            out: alloc::vec::Vec::new(),
            ino: 1,
        }
    }

    /// Appends a directory entry.
    pub fn dir(&mut self, name: &str, perm: u32) {
        self.entry(name, S_IFDIR | (perm & 0o7777), &[]);
    }

    /// Appends a regular file.
    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.entry(name, S_IFREG | (perm & 0o7777), data);
    }

    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        use core::fmt::Write;
        let mut header = alloc::string::String::new();
        let nlink = if mode & S_IFMT == S_IFDIR { 2 } else { 1 };
        // Fields: ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor
        // rdevminor namesize check.
        let fields = [
            self.ino,
            mode,
            0,
            0,
            nlink,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        header.push_str("070701");
        for f in fields {
            let _ = write!(header, "{f:08X}");
        }
        self.ino += 1;
        self.out.extend_from_slice(header.as_bytes());
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    /// Appends the trailer and returns the archive.
    pub fn finish(mut self) -> alloc::vec::Vec<u8> {
        self.entry(TRAILER, 0, &[]);
        self.out
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn sample() -> Vec<u8> {
        let mut w = Writer::new();
        w.dir("etc", 0o755);
        w.file("etc/motd", 0o644, b"hello\n");
        w.file("bin/x", 0o755, &[1, 2, 3, 4, 5]);
        w.finish()
    }

    #[test]
    fn round_trip() {
        let a = sample();
        let all: Vec<_> = entries(&a).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 3);
        assert!(all[0].is_dir());
        assert_eq!(all[1].name, "etc/motd");
        assert_eq!(all[1].data, b"hello\n");
        assert_eq!(find(&a, "/bin/x").unwrap().unwrap().data, &[1, 2, 3, 4, 5]);
        assert_eq!(find(&a, "./etc/motd").unwrap().unwrap().data, b"hello\n");
        assert!(
            find(&a, "etc").unwrap().is_none(),
            "directories are not files"
        );
        assert!(find(&a, "nope").unwrap().is_none());
    }

    #[test]
    fn matches_gnu_cpio_layout() {
        // Header of a one-byte file "a" as GNU cpio writes it (ino 1, mode 0100644).
        let mut w = Writer::new();
        w.file("a", 0o644, b"x");
        let a = w.finish();
        let expect = b"07070100000001000081A40000000000000000000000010000000000000001000000000000000000000000000000000000000200000000a\0x";
        assert_eq!(&a[..expect.len()], &expect[..]);
        assert_eq!(a.len() % 4, 0);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let a = sample();
        for cut in 0..a.len() {
            let r: Result<Vec<_>, _> = entries(&a[..cut]).collect();
            assert!(r.is_err(), "cut at {cut} accepted");
        }
    }

    #[test]
    fn corrupt_fields_are_reported() {
        let mut a = sample();
        a[0] = b'1';
        assert_eq!(entries(&a).next(), Some(Err(Error::BadMagic { offset: 0 })));
        let mut a = sample();
        a[6 + 8 + 2] = b'z'; // inside the mode field
        assert_eq!(entries(&a).next(), Some(Err(Error::BadField { offset: 0 })));
        // Huge file size must not overflow or panic.
        let mut a = sample();
        a[6 + 6 * 8..6 + 7 * 8].copy_from_slice(b"FFFFFFFF");
        assert!(matches!(
            entries(&a).next(),
            Some(Err(Error::Truncated { .. }))
        ));
        // Name without its NUL.
        let mut a = sample();
        a[6 + 11 * 8..6 + 12 * 8].copy_from_slice(b"00000003");
        assert!(matches!(
            entries(&a).next(),
            Some(Err(Error::BadName { .. }))
        ));
    }
}
