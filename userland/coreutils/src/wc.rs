//! `wc`: counting lines, words, characters, bytes and the longest line, fed in chunks,
//! and GNU's output layout.
//!
//! As GNU `wc` 9 in a UTF-8 locale: a word is a run of printable characters between white
//! space (non-printable characters neither start nor end a word); characters are UTF-8
//! characters (a byte that does not form one is not counted); the line length counts
//! tabs to the next multiple of 8, a carriage return or form feed goes back to column 0,
//! and control characters take no columns. Every other character is one column wide
//! (GNU would give East Asian wide characters two).

use alloc::format;
use alloc::string::String;

/// The five counts, in GNU's output order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub lines: u64,
    pub words: u64,
    pub chars: u64,
    pub bytes: u64,
    pub max_line: u64,
}

impl Counts {
    /// Adds `o` into a total (the longest line is the longest of either).
    pub fn add(&mut self, o: &Counts) {
        self.lines += o.lines;
        self.words += o.words;
        self.chars += o.chars;
        self.bytes += o.bytes;
        self.max_line = self.max_line.max(o.max_line);
    }
}

/// Which counts to print (`-l -w -m -c -L`; none given means `-l -w -c`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Which {
    pub lines: bool,
    pub words: bool,
    pub chars: bool,
    pub bytes: bool,
    pub max_line: bool,
}

impl Which {
    /// The default when no count was asked for.
    pub fn or_default(self) -> Which {
        if self == Which::default() {
            Which {
                lines: true,
                words: true,
                bytes: true,
                ..Which::default()
            }
        } else {
            self
        }
    }

    /// How many counts are printed.
    pub fn count(&self) -> usize {
        [
            self.lines,
            self.words,
            self.chars,
            self.bytes,
            self.max_line,
        ]
        .iter()
        .filter(|&&b| b)
        .count()
    }
}

/// Counts a stream fed in chunks of any size.
#[derive(Default)]
pub struct Counter {
    c: Counts,
    in_word: bool,
    col: u64,
    /// Bytes of a UTF-8 sequence cut by the end of the last chunk.
    pending: [u8; 4],
    npending: usize,
}

fn is_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// Length of the UTF-8 sequence a lead byte starts, 0 for a byte that cannot start one.
fn seq_len(b: u8) -> usize {
    match b {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    }
}

impl Counter {
    pub fn new() -> Counter {
        Counter::default()
    }

    fn char(&mut self, c: char) {
        self.c.chars += 1;
        match c {
            '\n' => {
                self.c.lines += 1;
                self.c.max_line = self.c.max_line.max(self.col);
                self.col = 0;
            }
            '\t' => self.col = (self.col / 8 + 1) * 8,
            '\r' | '\x0c' => self.col = 0,
            _ if !c.is_control() => self.col += 1,
            _ => {}
        }
        if is_space(c) {
            self.in_word = false;
        } else if !c.is_control() && !self.in_word {
            self.in_word = true;
            self.c.words += 1;
        }
    }

    /// A byte that is not part of a valid character: counted as a byte only.
    fn invalid(&mut self) {}

    pub fn feed(&mut self, data: &[u8]) {
        self.c.bytes += data.len() as u64;
        let mut i = 0;
        // Finish a sequence the last chunk cut.
        while self.npending > 0 && i < data.len() {
            let need = seq_len(self.pending[0]);
            let b = data[i];
            if b & 0xc0 != 0x80 {
                // Broken: the pending bytes were invalid; reprocess `b` normally.
                self.npending = 0;
                self.invalid();
                break;
            }
            self.pending[self.npending] = b;
            self.npending += 1;
            i += 1;
            if self.npending == need {
                let n = self.npending;
                self.npending = 0;
                match core::str::from_utf8(&self.pending[..n]) {
                    Ok(s) => {
                        if let Some(c) = s.chars().next() {
                            self.char(c);
                        }
                    }
                    Err(_) => self.invalid(),
                }
            }
        }
        while i < data.len() {
            let b = data[i];
            if b < 0x80 {
                self.char(b as char);
                i += 1;
                continue;
            }
            let n = seq_len(b);
            if n == 0 {
                self.invalid();
                i += 1;
                continue;
            }
            if i + n > data.len() {
                // Keep the start of the sequence for the next chunk if it is valid so far.
                if data[i + 1..].iter().all(|&x| x & 0xc0 == 0x80) {
                    self.pending[..data.len() - i].copy_from_slice(&data[i..]);
                    self.npending = data.len() - i;
                    return;
                }
                self.invalid();
                i += 1;
                continue;
            }
            match core::str::from_utf8(&data[i..i + n]) {
                Ok(s) => {
                    if let Some(c) = s.chars().next() {
                        self.char(c);
                    }
                    i += n;
                }
                Err(_) => {
                    self.invalid();
                    i += 1;
                }
            }
        }
    }

    /// The counts so far (a line without its newline still counts for the longest line).
    pub fn finish(&self) -> Counts {
        let mut c = self.c;
        c.max_line = c.max_line.max(self.col);
        c
    }
}

/// Counts of a whole buffer.
pub fn count(data: &[u8]) -> Counts {
    let mut c = Counter::new();
    c.feed(data);
    c.finish()
}

/// What GNU knows of an input before reading it, for the column width: `None` if it could
/// not be `stat`ed, else whether it is a regular file and its size.
pub type InputInfo = Option<(bool, u64)>;

/// GNU's column width: 1 when only one count of one input is printed; otherwise enough
/// digits for the total size of the regular files, at least 7 if any input is not a
/// regular file; 1 if the first input cannot be `stat`ed.
pub fn number_width(which: Which, inputs: &[InputInfo]) -> usize {
    if inputs.len() == 1 && which.count() == 1 {
        return 1;
    }
    let Some(Some(_)) = inputs.first() else {
        return 1;
    };
    let mut minimum = 1;
    let mut total: u64 = 0;
    for (regular, size) in inputs.iter().flatten() {
        if *regular {
            total = total.saturating_add(*size);
        } else {
            minimum = 7;
        }
    }
    let mut width = 1;
    while total >= 10 {
        width += 1;
        total /= 10;
    }
    width.max(minimum)
}

/// One output line: the selected counts right-aligned in `width`, separated by spaces,
/// then the name if there is one.
pub fn format_line(c: &Counts, which: Which, width: usize, name: Option<&str>) -> String {
    let mut out = String::new();
    for (on, v) in [
        (which.lines, c.lines),
        (which.words, c.words),
        (which.chars, c.chars),
        (which.bytes, c.bytes),
        (which.max_line, c.max_line),
    ] {
        if on {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&format!("{v:>width$}"));
        }
    }
    if let Some(n) = name {
        out.push(' ');
        out.push_str(n);
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_gnu() {
        assert_eq!(
            count(b"hello\n"),
            Counts {
                lines: 1,
                words: 1,
                chars: 6,
                bytes: 6,
                max_line: 5
            }
        );
        assert_eq!(count(b"a\nb").lines, 1);
        assert_eq!(count(b"").words, 0);
        // Non-printables neither start nor end words.
        assert_eq!(count(b"a\x01b \x01 c\n").words, 2);
        assert_eq!(count(b"\x01 \x02\n").words, 0);
        assert_eq!(count(b"a\tb\x0bc\x0cd\re\n").words, 5);
        // No-break space separates words.
        assert_eq!(count("x\u{a0}y\n".as_bytes()).words, 2);
        // Characters are UTF-8 characters; an invalid byte is not one.
        assert_eq!(count("h\u{e9}llo\n".as_bytes()).chars, 6);
        assert_eq!(count(b"h\xffllo\n").chars, 5);
        assert_eq!(count(b"h\xffllo\n").bytes, 6);
        // Longest line: tabs to multiples of 8, CR back to 0, controls zero-width.
        assert_eq!(count(b"ab\tc\n12345678901\n").max_line, 11);
        assert_eq!(count(b"ab\tc\n").max_line, 9);
        assert_eq!(count(b"\r\rab\n").max_line, 2);
        assert_eq!(count(b"ab\x01c\n").max_line, 3);
        assert_eq!(count(b"no newline").max_line, 10);
    }

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let text = "w\u{e9}rd \u{2028}x\u{10348} end\n\ttab\n".as_bytes();
        let whole = count(text);
        for cut in 0..text.len() {
            let mut c = Counter::new();
            c.feed(&text[..cut]);
            c.feed(&text[cut..]);
            assert_eq!(c.finish(), whole, "cut at {cut}");
        }
        // One byte at a time.
        let mut c = Counter::new();
        for b in text {
            c.feed(core::slice::from_ref(b));
        }
        assert_eq!(c.finish(), whole);
        // wérd, x𐍈, end, tab (U+2028 is white space); 18 characters.
        assert_eq!(whole.words, 4);
        assert_eq!(whole.chars, 18);
    }

    #[test]
    fn widths_like_gnu() {
        let all = Which::default().or_default();
        let c_only = Which {
            bytes: true,
            ..Which::default()
        };
        // `echo hello | wc -c`: one count, one input.
        assert_eq!(number_width(c_only, &[Some((false, 0))]), 1);
        // `echo hello | wc`: stdin is a pipe.
        assert_eq!(number_width(all, &[Some((false, 0))]), 7);
        // `wc f` with a 6-byte regular file: one digit.
        assert_eq!(number_width(all, &[Some((true, 6))]), 1);
        // Two files of 60 and 50 bytes: total 110, three digits.
        assert_eq!(
            number_width(c_only, &[Some((true, 60)), Some((true, 50))]),
            3
        );
        // A missing first file: width 1; a missing later one is skipped.
        assert_eq!(number_width(all, &[None, Some((false, 0))]), 1);
        assert_eq!(number_width(all, &[Some((true, 5)), None]), 1);
        let c = count(b"hello\n");
        assert_eq!(format_line(&c, c_only, 1, None), "6\n");
        assert_eq!(format_line(&c, all, 7, None), "      1       1       6\n");
        assert_eq!(format_line(&c, all, 1, Some("a")), "1 1 6 a\n");
        let every = Which {
            lines: true,
            words: true,
            chars: true,
            bytes: true,
            max_line: true,
        };
        assert_eq!(format_line(&c, every, 2, Some("t")), " 1  1  6  6  5 t\n");
    }
}
