//! Byte and line arithmetic shared by `head`, `tail`, `cat` and `echo`.
//!
//! A "line" ends with `\n`; a last line without one still counts as a line, as in GNU.

use alloc::vec::Vec;

/// Where the last `n` lines of `data` start.
pub fn last_lines_start(data: &[u8], n: u64) -> usize {
    if n == 0 {
        return data.len();
    }
    let mut end = data.len();
    if data.last() == Some(&b'\n') {
        end -= 1;
    }
    let mut seen = 0;
    for i in (0..end).rev() {
        if data[i] == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    0
}

/// Where line `n` (counting from 1; 0 means 1) starts: `tail -n +N`.
pub fn line_start(data: &[u8], n: u64) -> usize {
    let mut skip = n.saturating_sub(1);
    if skip == 0 {
        return 0;
    }
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' {
            skip -= 1;
            if skip == 0 {
                return i + 1;
            }
        }
    }
    data.len()
}

/// How much of `chunk` holds the first `*left` lines; counts them off `*left`.
pub fn take_lines(chunk: &[u8], left: &mut u64) -> usize {
    if *left == 0 {
        return 0;
    }
    for (i, &b) in chunk.iter().enumerate() {
        if b == b'\n' {
            *left -= 1;
            if *left == 0 {
                return i + 1;
            }
        }
    }
    chunk.len()
}

/// `echo -e`: the bytes `s` stands for with backslash escapes interpreted, and whether a
/// `\c` asked to stop all further output.
pub fn echo_escapes(s: &str) -> (Vec<u8>, bool) {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let octal = |b: &[u8], i: &mut usize, mut v: u32, max: usize| {
        for _ in 0..max {
            match b.get(*i) {
                Some(&d @ b'0'..=b'7') => {
                    v = v * 8 + (d - b'0') as u32;
                    *i += 1;
                }
                _ => break,
            }
        }
        v as u8
    };
    while i < b.len() {
        let c = b[i];
        i += 1;
        if c != b'\\' || i >= b.len() {
            out.push(c);
            continue;
        }
        let e = b[i];
        i += 1;
        match e {
            b'\\' => out.push(b'\\'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'c' => return (out, true),
            b'e' => out.push(0x1b),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0' => out.push(octal(b, &mut i, 0, 3)),
            b'1'..=b'7' => out.push(octal(b, &mut i, (e - b'0') as u32, 2)),
            b'x' if b.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut v = 0u8;
                for _ in 0..2 {
                    match b.get(i).and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d as u8;
                            i += 1;
                        }
                        None => break,
                    }
                }
                out.push(v);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    (out, false)
}

/// `cat`'s line options.
#[derive(Clone, Copy, Debug, Default)]
pub struct CatOpts {
    /// `-n`: number every line.
    pub number: bool,
    /// `-b`: number non-empty lines (overrides `-n`).
    pub number_nonblank: bool,
    /// `-s`: squeeze runs of empty lines into one.
    pub squeeze: bool,
    /// `-E`: `$` at the end of each line.
    pub show_ends: bool,
    /// `-T`: tabs as `^I`.
    pub show_tabs: bool,
    /// `-v`: other control and non-ASCII bytes in `^X` / `M-X` notation.
    pub show_nonprinting: bool,
}

impl CatOpts {
    /// True if the bytes can be copied unchanged.
    pub fn plain(&self) -> bool {
        !(self.number
            || self.number_nonblank
            || self.squeeze
            || self.show_ends
            || self.show_tabs
            || self.show_nonprinting)
    }
}

/// `cat` with options, over a stream fed in chunks (state carries across files, as GNU's
/// line numbers do).
pub struct Cat {
    opts: CatOpts,
    line: u64,
    at_start: bool,
    /// Empty lines in a row just written.
    empties: u32,
}

impl Cat {
    pub fn new(opts: CatOpts) -> Cat {
        Cat {
            opts,
            line: 0,
            at_start: true,
            empties: 0,
        }
    }

    fn number(&mut self, out: &mut Vec<u8>) {
        self.line += 1;
        let s = alloc::format!("{:>6}\t", self.line);
        out.extend_from_slice(s.as_bytes());
    }

    /// Appends the output for `data` to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let o = self.opts;
        for &b in data {
            if self.at_start {
                if b == b'\n' {
                    self.empties += 1;
                    if o.squeeze && self.empties > 1 {
                        continue;
                    }
                    if o.number && !o.number_nonblank {
                        self.number(out);
                    }
                } else {
                    self.empties = 0;
                    if o.number || o.number_nonblank {
                        self.number(out);
                    }
                }
            }
            self.at_start = b == b'\n';
            match b {
                b'\n' => {
                    if o.show_ends {
                        out.push(b'$');
                    }
                    out.push(b'\n');
                }
                b'\t' => {
                    if o.show_tabs {
                        out.extend_from_slice(b"^I");
                    } else {
                        out.push(b'\t');
                    }
                }
                _ if o.show_nonprinting => push_nonprinting(b, out),
                _ => out.push(b),
            }
        }
    }
}

/// `cat -v` notation of one byte (not newline or tab).
pub fn push_nonprinting(b: u8, out: &mut Vec<u8>) {
    let mut c = b;
    if c >= 128 {
        out.extend_from_slice(b"M-");
        c -= 128;
    }
    if c < 32 {
        out.push(b'^');
        out.push(c + 64);
    } else if c == 127 {
        out.extend_from_slice(b"^?");
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines() {
        let d = b"1\n2\n3\n4\n5\n";
        assert_eq!(&d[last_lines_start(d, 2)..], b"4\n5\n");
        assert_eq!(&d[last_lines_start(d, 0)..], b"");
        assert_eq!(&d[last_lines_start(d, 9)..], d);
        let d = b"1\n2\n3";
        assert_eq!(&d[last_lines_start(d, 1)..], b"3");
        assert_eq!(&d[last_lines_start(d, 2)..], b"2\n3");
        // head -n -2: everything before the last two lines.
        let d = b"1\n2\n3\n4\n5\n";
        assert_eq!(&d[..last_lines_start(d, 2)], b"1\n2\n3\n");
        assert_eq!(last_lines_start(b"", 3), 0);
        assert_eq!(last_lines_start(b"\n\n", 1), 1);
    }

    #[test]
    fn from_line() {
        let d = b"1\n2\n3\n4\n5\n";
        assert_eq!(&d[line_start(d, 4)..], b"4\n5\n");
        assert_eq!(&d[line_start(d, 1)..], d);
        assert_eq!(&d[line_start(d, 0)..], d);
        assert_eq!(&d[line_start(d, 6)..], b"");
        assert_eq!(&d[line_start(d, 60)..], b"");
    }

    #[test]
    fn taking_lines_across_chunks() {
        let mut left = 3;
        assert_eq!(take_lines(b"y\ny", &mut left), 3);
        assert_eq!(left, 2);
        assert_eq!(take_lines(b"\ny\ny\ny\n", &mut left), 3);
        assert_eq!(left, 0);
        assert_eq!(take_lines(b"more", &mut left), 0);
    }

    #[test]
    fn echo_escapes_like_gnu() {
        assert_eq!(echo_escapes("a\\tb\\n"), (b"a\tb\n".to_vec(), false));
        assert_eq!(echo_escapes("x\\cy"), (b"x".to_vec(), true));
        assert_eq!(
            echo_escapes("\\0101\\101\\x41\\x4a2"),
            (b"AAAJ2".to_vec(), false)
        );
        assert_eq!(echo_escapes("\\0"), (b"\0".to_vec(), false));
        assert_eq!(echo_escapes("\\q\\x\\"), (b"\\q\\x\\".to_vec(), false));
        assert_eq!(echo_escapes("\\\\\\e"), (b"\\\x1b".to_vec(), false));
        assert_eq!(echo_escapes("\\777"), (alloc::vec![0xff], false));
    }

    fn cat(opts: CatOpts, input: &[u8]) -> Vec<u8> {
        let mut c = Cat::new(opts);
        let mut out = Vec::new();
        // Feed in two pieces to cross a boundary.
        let mid = input.len() / 2;
        c.feed(&input[..mid], &mut out);
        c.feed(&input[mid..], &mut out);
        out
    }

    #[test]
    fn cat_options_like_gnu() {
        let n = CatOpts {
            number: true,
            ..CatOpts::default()
        };
        assert_eq!(cat(n, b"a\n\nb"), b"     1\ta\n     2\t\n     3\tb");
        let b = CatOpts {
            number_nonblank: true,
            number: true,
            ..CatOpts::default()
        };
        assert_eq!(cat(b, b"a\n\nb\n"), b"     1\ta\n\n     2\tb\n");
        let s = CatOpts {
            squeeze: true,
            number: true,
            ..CatOpts::default()
        };
        assert_eq!(cat(s, b"a\n\n\n\nb\n"), b"     1\ta\n     2\t\n     3\tb\n");
        let a = CatOpts {
            show_ends: true,
            show_tabs: true,
            show_nonprinting: true,
            ..CatOpts::default()
        };
        assert_eq!(cat(a, b"\t\x01\x7f\x80\xff x\n"), b"^I^A^?M-^@M-^? x$\n");
        assert!(CatOpts::default().plain());
    }
}
