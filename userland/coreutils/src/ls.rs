//! `ls`: the mode string, `-l` rows with GNU's column alignment, the `total` line,
//! sorting, `-F` indicators, and `-C` columns laid out (with tab stops) exactly as GNU
//! does.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::date::{ls_time, Time};
use crate::num::human_size;

pub use wayos_abi::fs::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK};

/// What `ls` shows of one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub rdev: u64,
    /// 512-byte blocks.
    pub blocks: u64,
    pub mtime: Time,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
}

/// `drwxr-xr-x`, with setuid/setgid/sticky as `s S t T`.
pub fn mode_string(mode: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push(match mode & S_IFMT {
        S_IFDIR => 'd',
        S_IFCHR => 'c',
        S_IFBLK => 'b',
        S_IFIFO => 'p',
        S_IFLNK => 'l',
        S_IFSOCK => 's',
        S_IFREG => '-',
        _ => '?',
    });
    let bit = |m: u32, c: char| if mode & m != 0 { c } else { '-' };
    let special = |x: bool, set: bool, on: char, off: char| match (x, set) {
        (true, true) => on,
        (false, true) => off,
        (true, false) => 'x',
        (false, false) => '-',
    };
    s.push(bit(0o400, 'r'));
    s.push(bit(0o200, 'w'));
    s.push(special(mode & 0o100 != 0, mode & 0o4000 != 0, 's', 'S'));
    s.push(bit(0o040, 'r'));
    s.push(bit(0o020, 'w'));
    s.push(special(mode & 0o010 != 0, mode & 0o2000 != 0, 's', 'S'));
    s.push(bit(0o004, 'r'));
    s.push(bit(0o002, 'w'));
    s.push(special(mode & 0o001 != 0, mode & 0o1000 != 0, 't', 'T'));
    s
}

/// The name of user or group `id`: WayOS has one user, `root` (0); others print as
/// numbers, as GNU does for ids without a name.
pub fn id_name(id: u32) -> String {
    if id == 0 {
        String::from("root")
    } else {
        format!("{id}")
    }
}

/// `-F` / `-p` suffixes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Indicator {
    #[default]
    None,
    /// `-p`: `/` after directories.
    Slash,
    /// `-F`: `/` directories, `*` executables, `|` FIFOs, `=` sockets.
    Classify,
}

/// The suffix of `e` under `ind`.
pub fn indicator(e: &Entry, ind: Indicator) -> &'static str {
    match (ind, e.mode & S_IFMT) {
        (Indicator::None, _) => "",
        (_, S_IFDIR) => "/",
        (Indicator::Slash, _) => "",
        (_, S_IFIFO) => "|",
        (_, S_IFSOCK) => "=",
        (_, S_IFREG) if e.mode & 0o111 != 0 => "*",
        _ => "",
    }
}

/// How entries are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortBy {
    #[default]
    Name,
    /// `-t`: newest first.
    Time,
    /// `-S`: largest first.
    Size,
    /// `-U`: as the directory lists them.
    None,
}

/// Sorts as GNU `ls` in the C locale; `reverse` is `-r`.
pub fn sort(entries: &mut [Entry], by: SortBy, reverse: bool) {
    let cmp = |a: &Entry, b: &Entry| -> Ordering {
        let name = a.name.as_bytes().cmp(b.name.as_bytes());
        match by {
            SortBy::Name | SortBy::None => name,
            SortBy::Time => (b.mtime.sec, b.mtime.nsec)
                .cmp(&(a.mtime.sec, a.mtime.nsec))
                .then(name),
            SortBy::Size => b.size.cmp(&a.size).then(name),
        }
    };
    if by == SortBy::None {
        if reverse {
            entries.reverse();
        }
        return;
    }
    entries.sort_by(|a, b| if reverse { cmp(b, a) } else { cmp(a, b) });
}

/// The `total` of `ls -l`: the entries' blocks in KiB, rounded up.
pub fn total_kib(entries: &[Entry]) -> u64 {
    entries.iter().map(|e| e.blocks).sum::<u64>().div_ceil(2)
}

/// What `-l` shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct LongOpts {
    /// `-h`
    pub human: bool,
    /// `-i`
    pub inode: bool,
    /// `-n`: numeric user and group.
    pub numeric: bool,
    pub indicator: Indicator,
}

fn major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

fn minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

/// The `-l` lines (without newlines), columns aligned over all of `entries`.
pub fn long_lines(entries: &[Entry], now: Time, o: &LongOpts) -> Vec<String> {
    let is_dev = |e: &Entry| matches!(e.mode & S_IFMT, S_IFCHR | S_IFBLK);
    let owner = |id: u32| {
        if o.numeric {
            format!("{id}")
        } else {
            id_name(id)
        }
    };
    let size = |e: &Entry| {
        if o.human {
            human_size(e.size)
        } else {
            format!("{}", e.size)
        }
    };
    let w_ino = entries
        .iter()
        .map(|e| format!("{}", e.ino).len())
        .max()
        .unwrap_or(0);
    let w_link = entries
        .iter()
        .map(|e| format!("{}", e.nlink).len())
        .max()
        .unwrap_or(0);
    let w_user = entries
        .iter()
        .map(|e| owner(e.uid).len())
        .max()
        .unwrap_or(0);
    let w_group = entries
        .iter()
        .map(|e| owner(e.gid).len())
        .max()
        .unwrap_or(0);
    let w_major = entries
        .iter()
        .filter(|e| is_dev(e))
        .map(|e| format!("{}", major(e.rdev)).len())
        .max()
        .unwrap_or(0);
    let w_minor = entries
        .iter()
        .filter(|e| is_dev(e))
        .map(|e| format!("{}", minor(e.rdev)).len())
        .max()
        .unwrap_or(0);
    let w_size = entries
        .iter()
        .filter(|e| !is_dev(e))
        .map(|e| size(e).len())
        .max()
        .unwrap_or(0)
        .max(if w_major > 0 {
            w_major + 2 + w_minor
        } else {
            0
        });
    entries
        .iter()
        .map(|e| {
            let mut l = String::new();
            if o.inode {
                l.push_str(&format!("{:>w$} ", e.ino, w = w_ino));
            }
            let size_col = if is_dev(e) {
                format!(
                    "{:>wm$}, {:>wn$}",
                    major(e.rdev),
                    minor(e.rdev),
                    wm = w_size - 2 - w_minor,
                    wn = w_minor
                )
            } else {
                format!("{:>w$}", size(e), w = w_size)
            };
            l.push_str(&format!(
                "{} {:>wl$} {:<wu$} {:<wg$} {} {} {}{}",
                mode_string(e.mode),
                e.nlink,
                owner(e.uid),
                owner(e.gid),
                size_col,
                ls_time(e.mtime, now),
                e.name,
                indicator(e, o.indicator),
                wl = w_link,
                wu = w_user,
                wg = w_group,
            ));
            l
        })
        .collect()
}

/// GNU's narrowest column.
const MIN_COLUMN_WIDTH: usize = 2 + 1;

/// Moves from column `from` to `to` with tabs (every 8) and spaces, as GNU `ls` does.
fn indent(out: &mut String, mut from: usize, to: usize) {
    const TAB: usize = 8;
    while from < to {
        if to / TAB > (from + 1) / TAB {
            out.push('\t');
            from += TAB - from % TAB;
        } else {
            out.push(' ');
            from += 1;
        }
    }
}

/// `ls -C`: `items` in columns, filled top to bottom, in at most `width` columns of
/// text. Returns the lines, each ending in a newline.
pub fn columns(items: &[String], width: usize) -> String {
    let n = items.len();
    let mut out = String::new();
    if n == 0 {
        return out;
    }
    let lens: Vec<usize> = items.iter().map(|s| s.chars().count()).collect();
    let max_cols = (width / MIN_COLUMN_WIDTH).max(1).min(n);
    // For each candidate count of columns: its column widths, total, and whether it fits.
    let mut infos: Vec<(bool, usize, Vec<usize>)> = (0..max_cols)
        .map(|i| {
            (
                true,
                (i + 1) * MIN_COLUMN_WIDTH,
                alloc::vec![MIN_COLUMN_WIDTH; i + 1],
            )
        })
        .collect();
    for (f, &len) in lens.iter().enumerate() {
        for (i, info) in infos.iter_mut().enumerate() {
            if !info.0 {
                continue;
            }
            let idx = f / n.div_ceil(i + 1);
            let real = len + if idx == i { 0 } else { 2 };
            if info.2[idx] < real {
                info.1 += real - info.2[idx];
                info.2[idx] = real;
                info.0 = info.1 < width;
            }
        }
    }
    let mut cols = max_cols;
    while cols > 1 && !infos[cols - 1].0 {
        cols -= 1;
    }
    let widths = &infos[cols - 1].2;
    let rows = n.div_ceil(cols);
    for row in 0..rows {
        let mut col = 0;
        let mut f = row;
        let mut pos = 0;
        loop {
            out.push_str(&items[f]);
            let w = widths[col];
            col += 1;
            f += rows;
            if f >= n {
                break;
            }
            indent(&mut out, pos + lens[f - rows], pos + w);
            pos += w;
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, mode: u32, size: u64, mtime: i64) -> Entry {
        Entry {
            name: name.into(),
            ino: 1,
            mode,
            nlink: 1,
            size,
            mtime: Time {
                sec: mtime,
                nsec: 0,
            },
            ..Entry::default()
        }
    }

    #[test]
    fn mode_strings() {
        assert_eq!(mode_string(S_IFREG | 0o644), "-rw-r--r--");
        assert_eq!(mode_string(S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(S_IFDIR | 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(S_IFDIR | 0o1776), "drwxrwxrwT");
        assert_eq!(mode_string(S_IFCHR | 0o666), "crw-rw-rw-");
        assert_eq!(mode_string(S_IFREG | 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(S_IFREG | 0o2644), "-rw-r-Sr--");
        assert_eq!(mode_string(S_IFIFO | 0o600), "prw-------");
    }

    #[test]
    fn long_rows_align_like_gnu() {
        let now = Time { sec: 3600, nsec: 0 };
        let mut d = entry("d", S_IFDIR | 0o755, 4096, 300);
        d.nlink = 2;
        d.blocks = 8;
        let mut a = entry("a", S_IFREG | 0o644, 6, 300);
        a.blocks = 8;
        let rows = long_lines(&[a.clone(), d.clone()], now, &LongOpts::default());
        assert_eq!(rows[0], "-rw-r--r-- 1 root root    6 Jan  1 00:05 a");
        assert_eq!(rows[1], "drwxr-xr-x 2 root root 4096 Jan  1 00:05 d");
        assert_eq!(total_kib(&[a.clone(), d.clone()]), 8);
        let mut null = entry("null", S_IFCHR | 0o666, 0, 300);
        null.rdev = (1 << 8) | 3;
        let mut zero = entry("zero", S_IFCHR | 0o666, 0, 300);
        zero.rdev = (1 << 8) | 5;
        let mut console = entry("console", S_IFCHR | 0o600, 0, 300);
        console.rdev = (5 << 8) | 1;
        let rows = long_lines(&[console, null, zero], now, &LongOpts::default());
        assert_eq!(rows[0], "crw------- 1 root root 5, 1 Jan  1 00:05 console");
        assert_eq!(rows[1], "crw-rw-rw- 1 root root 1, 3 Jan  1 00:05 null");
        let mut big = entry("big", S_IFREG | 0o755, 123_456, 7200);
        big.ino = 1234;
        let o = LongOpts {
            human: true,
            inode: true,
            indicator: Indicator::Classify,
            ..LongOpts::default()
        };
        let rows = long_lines(&[big, a], now, &o);
        assert_eq!(
            rows[0],
            "1234 -rwxr-xr-x 1 root root 121K Jan  1  1970 big*"
        );
        assert_eq!(rows[1], "   1 -rw-r--r-- 1 root root    6 Jan  1 00:05 a");
    }

    #[test]
    fn sorting() {
        let mut v = [
            entry("b", S_IFREG, 1, 10),
            entry("B", S_IFREG, 3, 30),
            entry("a", S_IFREG, 3, 20),
            entry("_x", S_IFREG, 2, 20),
        ];
        let names = |v: &[Entry]| v.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
        sort(&mut v, SortBy::Name, false);
        assert_eq!(names(&v), ["B", "_x", "a", "b"]);
        sort(&mut v, SortBy::Name, true);
        assert_eq!(names(&v), ["b", "a", "_x", "B"]);
        sort(&mut v, SortBy::Time, false);
        assert_eq!(names(&v), ["B", "_x", "a", "b"]);
        sort(&mut v, SortBy::Size, false);
        assert_eq!(names(&v), ["B", "a", "_x", "b"]);
        sort(&mut v, SortBy::Size, true);
        assert_eq!(names(&v), ["b", "_x", "a", "B"]);
    }

    #[test]
    fn indicators() {
        assert_eq!(
            indicator(&entry("d", S_IFDIR | 0o755, 0, 0), Indicator::Classify),
            "/"
        );
        assert_eq!(
            indicator(&entry("x", S_IFREG | 0o755, 0, 0), Indicator::Classify),
            "*"
        );
        assert_eq!(
            indicator(&entry("x", S_IFREG | 0o755, 0, 0), Indicator::Slash),
            ""
        );
        assert_eq!(indicator(&entry("d", S_IFDIR, 0, 0), Indicator::Slash), "/");
        assert_eq!(
            indicator(&entry("f", S_IFREG | 0o644, 0, 0), Indicator::Classify),
            ""
        );
    }

    #[test]
    fn columns_like_gnu() {
        let items: Vec<String> = [
            "PackageKit",
            "X11",
            "adduser.conf",
            "glvnd",
            "gprofng.rc",
            "groff",
        ]
        .iter()
        .map(|s| String::from(*s))
        .collect();
        // Worked out with GNU's algorithm (and checked against GNU ls -C --width=N).
        assert_eq!(
            columns(&items, 40),
            "PackageKit  adduser.conf  gprofng.rc\nX11\t    glvnd\t  groff\n"
        );
        assert_eq!(
            columns(&items, 30),
            "PackageKit    glvnd\nX11\t      gprofng.rc\nadduser.conf  groff\n"
        );
        assert_eq!(
            columns(&items, 80),
            "PackageKit  X11  adduser.conf  glvnd  gprofng.rc  groff\n"
        );
        assert_eq!(
            columns(&items, 10),
            "PackageKit\nX11\nadduser.conf\nglvnd\ngprofng.rc\ngroff\n"
        );
        assert_eq!(
            columns(&[String::from("a"), String::from("b")], 80),
            "a  b\n"
        );
        assert_eq!(columns(&[], 80), "");
    }
}
