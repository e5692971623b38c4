//! `stat`: GNU's default layout and the `-c`/`--printf` directives.

use alloc::format;
use alloc::string::String;

use crate::date::{stat_time, Time};
use crate::errmsg::quote;
use crate::ls::{
    id_name, mode_string, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
};

/// What `stat` knows of a file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Info {
    pub name: String,
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u64,
    pub blocks: u64,
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
}

/// GNU's words for a file type (`%F`).
pub fn file_type(mode: u32, size: u64) -> &'static str {
    match mode & S_IFMT {
        S_IFREG if size == 0 => "regular empty file",
        S_IFREG => "regular file",
        S_IFDIR => "directory",
        S_IFCHR => "character special file",
        S_IFBLK => "block special file",
        S_IFIFO => "fifo",
        S_IFLNK => "symbolic link",
        S_IFSOCK => "socket",
        _ => "weird file",
    }
}

/// The default format (GNU coreutils 9), for devices and for everything else.
pub const DEFAULT: &str = "  File: %n\n  Size: %-10s\tBlocks: %-10b IO Block: %-6o %F\n\
Device: %Hd,%Ld\tInode: %-11i Links: %h\n\
Access: (%04a/%10.10A)  Uid: (%5u/%8U)   Gid: (%5g/%8G)\n\
Access: %x\nModify: %y\nChange: %z\n Birth: %w\n";
pub const DEFAULT_DEVICE: &str = "  File: %n\n  Size: %-10s\tBlocks: %-10b IO Block: %-6o %F\n\
Device: %Hd,%Ld\tInode: %-11i Links: %-5h Device type: %Hr,%Lr\n\
Access: (%04a/%10.10A)  Uid: (%5u/%8U)   Gid: (%5g/%8G)\n\
Access: %x\nModify: %y\nChange: %z\n Birth: %w\n";
/// `-t`.
pub const TERSE: &str = "%n %s %b %f %u %g %D %i %h %t %T %X %Y %Z %W %o\n";

fn major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

fn minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

/// The default format for `info`.
pub fn default_format(info: &Info) -> &'static str {
    match info.mode & S_IFMT {
        S_IFCHR | S_IFBLK => DEFAULT_DEVICE,
        _ => DEFAULT,
    }
}

fn epoch(t: Time, prec: Option<usize>) -> String {
    match prec {
        None | Some(0) => format!("{}", t.sec),
        Some(p) => {
            let frac = format!("{:09}", t.nsec);
            let p = p.min(9);
            format!("{}.{}", t.sec, &frac[..p])
        }
    }
}

/// Expands `fmt` for `info`. Directives: `%a %A %b %B %d %D %f %F %g %G %h %i %n %N %o %s
/// %t %T %u %U %w %W %x %X %y %Y %z %Z %%`, `%Hd %Ld %Hr %Lr`, with flags `-` and `0`, a
/// width and a precision; an unknown directive prints `?`.
pub fn format(fmt: &str, info: &Info) -> String {
    let mut out = String::new();
    let chars: alloc::vec::Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '#' | '+' | ' ' | '\'' => {}
                _ => break,
            }
            i += 1;
        }
        let mut width = 0usize;
        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
            width = width
                .saturating_mul(10)
                .saturating_add(d as usize)
                .min(4096);
            i += 1;
        }
        let mut prec: Option<usize> = None;
        if chars.get(i) == Some(&'.') {
            i += 1;
            let mut p = 0usize;
            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                p = p.saturating_mul(10).saturating_add(d as usize).min(4096);
                i += 1;
            }
            prec = Some(p);
        }
        let Some(&conv) = chars.get(i) else {
            out.push('%');
            break;
        };
        i += 1;
        // (text, is a number)
        let (text, numeric): (String, bool) = match conv {
            '%' => {
                out.push('%');
                continue;
            }
            'a' => (format!("{:o}", info.mode & 0o7777), true),
            'A' => (mode_string(info.mode), false),
            'b' => (format!("{}", info.blocks), true),
            'B' => (String::from("512"), true),
            'd' => (format!("{}", info.dev), true),
            'D' => (format!("{:x}", info.dev), false),
            'f' => (format!("{:x}", info.mode), false),
            'F' => (String::from(file_type(info.mode, info.size)), false),
            'g' => (format!("{}", info.gid), true),
            'G' => (id_name(info.gid), false),
            'h' => (format!("{}", info.nlink), true),
            'i' => (format!("{}", info.ino), true),
            'n' => (info.name.clone(), false),
            'N' => (quote(&info.name), false),
            'o' => (format!("{}", info.blksize), true),
            's' => (format!("{}", info.size), true),
            't' => (format!("{:x}", major(info.rdev)), false),
            'T' => (format!("{:x}", minor(info.rdev)), false),
            'u' => (format!("{}", info.uid), true),
            'U' => (id_name(info.uid), false),
            'w' => (String::from("-"), false),
            'W' => (String::from("0"), true),
            'x' => (stat_time(info.atime), false),
            'y' => (stat_time(info.mtime), false),
            'z' => (stat_time(info.ctime), false),
            'X' | 'Y' | 'Z' => {
                let t = match conv {
                    'X' => info.atime,
                    'Y' => info.mtime,
                    _ => info.ctime,
                };
                let s = epoch(t, prec);
                prec = None;
                (s, true)
            }
            'H' | 'L' => {
                let which = chars.get(i).copied();
                let v = match which {
                    Some('d') => info.dev,
                    Some('r') => info.rdev,
                    _ => {
                        out.push('?');
                        continue;
                    }
                };
                i += 1;
                (
                    format!("{}", if conv == 'H' { major(v) } else { minor(v) }),
                    true,
                )
            }
            _ => (String::from("?"), false),
        };
        let mut text = text;
        if let Some(p) = prec {
            if numeric {
                while text.len() < p {
                    text.insert(0, '0');
                }
            } else {
                text = text.chars().take(p).collect();
            }
        }
        let len = text.chars().count();
        if len < width {
            let fill = width - len;
            if left {
                out.push_str(&text);
                out.extend(core::iter::repeat_n(' ', fill));
                continue;
            }
            let pad = if zero && numeric { '0' } else { ' ' };
            out.extend(core::iter::repeat_n(pad, fill));
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Info {
        Info {
            name: "a".into(),
            dev: 0,
            ino: 12,
            mode: S_IFREG | 0o644,
            nlink: 1,
            size: 6,
            blksize: 4096,
            blocks: 8,
            atime: Time { sec: 300, nsec: 0 },
            mtime: Time { sec: 300, nsec: 0 },
            ctime: Time { sec: 301, nsec: 5 },
            ..Info::default()
        }
    }

    #[test]
    fn default_layout() {
        let f = file();
        assert_eq!(
            format(default_format(&f), &f),
            "  File: a\n  Size: 6         \tBlocks: 8          IO Block: 4096   regular file\n\
             Device: 0,0\tInode: 12          Links: 1\n\
             Access: (0644/-rw-r--r--)  Uid: (    0/    root)   Gid: (    0/    root)\n\
             Access: 1970-01-01 00:05:00.000000000 +0000\n\
             Modify: 1970-01-01 00:05:00.000000000 +0000\n\
             Change: 1970-01-01 00:05:01.000000005 +0000\n Birth: -\n"
        );
        let dev = Info {
            name: "/dev/null".into(),
            dev: 1,
            ino: 3,
            mode: S_IFCHR | 0o666,
            rdev: (1 << 8) | 3,
            size: 0,
            blocks: 0,
            ..file()
        };
        let out = format(default_format(&dev), &dev);
        assert!(
            out.contains("\nDevice: 0,1\tInode: 3           Links: 1     Device type: 1,3\n"),
            "{out}"
        );
        assert!(
            out.contains("IO Block: 4096   character special file\n"),
            "{out}"
        );
        assert!(out.contains("Access: (0666/crw-rw-rw-)"), "{out}");
    }

    #[test]
    fn directives() {
        let f = file();
        assert_eq!(
            format("%n|%s|%04a|%a|%A|%F|%h|%u|%U|%-5s|%5s|%.2n|%Hd,%Ld|%Q|%%|%w|%W|%X|%.3Y|%t,%T|%f|%B|%o|%N|%10.4A|%05s", &f),
            "a|6|0644|644|-rw-r--r--|regular file|1|0|root|6    |    6|a|0,0|?|%|-|0|300|300.000|0,0|81a4|512|4096|'a'|      -rw-|00006"
        );
        assert_eq!(
            format(TERSE, &f),
            "a 6 8 81a4 0 0 0 12 1 0 0 300 300 301 0 4096\n"
        );
        let empty = Info { size: 0, ..file() };
        assert_eq!(format("%F", &empty), "regular empty file");
        let dir = Info {
            mode: S_IFDIR | 0o755,
            ..file()
        };
        assert_eq!(format("%F %A", &dir), "directory drwxr-xr-x");
        assert_eq!(format("%", &f), "%");
        assert_eq!(format("%H", &f), "?");
        assert_eq!(format("%99999999999999s", &f).len(), 4096);
    }
}
