//! `uniq`: which adjacent lines count as equal, and what to print for each group.

use alloc::format;
use alloc::vec::Vec;

/// `uniq`'s options.
#[derive(Clone, Copy, Debug, Default)]
pub struct Opts {
    /// `-c`: prefix each line with its count (`%7d `).
    pub count: bool,
    /// `-d`: only lines that repeat (one per group).
    pub repeated: bool,
    /// `-u`: only lines that do not repeat.
    pub unique: bool,
    /// `-i`: ignore case (ASCII).
    pub icase: bool,
    /// `-f N`: skip N fields (blanks then non-blanks) before comparing.
    pub skip_fields: u64,
    /// `-s N`: then skip N characters.
    pub skip_chars: u64,
    /// `-w N`: compare at most N characters.
    pub check_chars: Option<u64>,
}

/// The part of `line` (without its newline) that is compared.
pub fn key<'a>(line: &'a [u8], o: &Opts) -> &'a [u8] {
    let blank = |b: u8| b == b' ' || b == b'\t';
    let mut i = 0;
    for _ in 0..o.skip_fields {
        if i >= line.len() {
            break;
        }
        while i < line.len() && blank(line[i]) {
            i += 1;
        }
        while i < line.len() && !blank(line[i]) {
            i += 1;
        }
    }
    i = i
        .saturating_add(usize::try_from(o.skip_chars).unwrap_or(usize::MAX))
        .min(line.len());
    let rest = &line[i..];
    match o.check_chars {
        Some(n) => &rest[..rest.len().min(usize::try_from(n).unwrap_or(usize::MAX))],
        None => rest,
    }
}

/// Do two lines belong to one group?
pub fn same(a: &[u8], b: &[u8], o: &Opts) -> bool {
    let (ka, kb) = (key(a, o), key(b, o));
    if o.icase {
        ka.eq_ignore_ascii_case(kb)
    } else {
        ka == kb
    }
}

/// Appends what a group of `n` equal lines (the first being `line`) prints.
pub fn emit(line: &[u8], n: u64, o: &Opts, out: &mut Vec<u8>) {
    if (o.repeated && n < 2) || (o.unique && n > 1) {
        return;
    }
    if o.count {
        out.extend_from_slice(format!("{n:>7} ").as_bytes());
    }
    out.extend_from_slice(line);
    out.push(b'\n');
}

/// Streams lines through grouping.
pub struct Uniq {
    opts: Opts,
    first: Vec<u8>,
    n: u64,
}

impl Uniq {
    pub fn new(opts: Opts) -> Uniq {
        Uniq {
            opts,
            first: Vec::new(),
            n: 0,
        }
    }

    /// One input line (without its newline).
    pub fn line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        if self.n > 0 && same(&self.first, line, &self.opts) {
            self.n += 1;
            return;
        }
        if self.n > 0 {
            emit(&self.first, self.n, &self.opts, out);
        }
        self.first.clear();
        self.first.extend_from_slice(line);
        self.n = 1;
    }

    /// The last group.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.n > 0 {
            emit(&self.first, self.n, &self.opts, out);
            self.n = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(o: Opts, input: &str) -> alloc::string::String {
        let mut u = Uniq::new(o);
        let mut out = Vec::new();
        for l in input.lines() {
            u.line(l.as_bytes(), &mut out);
        }
        u.finish(&mut out);
        alloc::string::String::from_utf8(out).unwrap()
    }

    #[test]
    fn groups_adjacent_lines() {
        let o = Opts::default();
        assert_eq!(run(o, "a\na\nb\na\n"), "a\nb\na\n");
        assert_eq!(run(o, ""), "");
        let c = Opts { count: true, ..o };
        assert_eq!(run(c, "a\na\nb\n"), "      2 a\n      1 b\n");
        let d = Opts {
            repeated: true,
            ..o
        };
        assert_eq!(run(d, "a\na\nb\nc\nc\nc\n"), "a\nc\n");
        let u = Opts { unique: true, ..o };
        assert_eq!(run(u, "a\na\nb\nc\nc\n"), "b\n");
        let du = Opts {
            unique: true,
            repeated: true,
            ..o
        };
        assert_eq!(run(du, "a\na\nb\n"), "");
    }

    #[test]
    fn skipping_and_case() {
        let i = Opts {
            icase: true,
            count: true,
            ..Opts::default()
        };
        assert_eq!(run(i, "Hello\nhello\nHELLO\n"), "      3 Hello\n");
        let f = Opts {
            skip_fields: 1,
            ..Opts::default()
        };
        assert_eq!(run(f, "1 apple\n2 apple\n3 pear\n"), "1 apple\n3 pear\n");
        let s = Opts {
            skip_chars: 2,
            ..Opts::default()
        };
        assert_eq!(run(s, "xxab\nyyab\nzzac\n"), "xxab\nzzac\n");
        let w = Opts {
            check_chars: Some(2),
            ..Opts::default()
        };
        assert_eq!(run(w, "abX\nabY\nacZ\n"), "abX\nacZ\n");
        assert_eq!(
            key(
                b"  a  b c",
                &Opts {
                    skip_fields: 2,
                    ..Opts::default()
                }
            ),
            b" c"
        );
    }
}
