//! The kernel log ring: the newest kernel log lines in a fixed byte buffer, and the
//! fixed-size line buffer a log record is formatted into before it reaches the ring.
//!
//! [`LogRing`] holds whole lines, each ending in `\n`, oldest first. Appending a line that
//! does not fit drops the oldest *whole* lines until it does, so the ring never starts in
//! the middle of a line; reading copies the newest part that fits a buffer, again starting
//! at a line boundary. It owns no memory beyond its array, never allocates and never
//! panics, so the kernel can keep one in a `static` behind an interrupt-safe lock and
//! append to it before the heap exists and from interrupt context. The kernel takes that
//! lock around [`LogRing::push_line`] and [`LogRing::copy_newest`] only (plain copies),
//! never around formatting or a user copy.
//!
//! [`LineBuf`] is a `fmt::Write` into a fixed array that truncates at a character boundary
//! instead of failing, so formatting a record needs neither a lock nor an allocator.

use core::fmt;

/// A ring of text lines in `N` bytes; see the module documentation.
pub struct LogRing<const N: usize> {
    buf: [u8; N],
    /// Index in `buf` of the oldest byte held.
    head: usize,
    /// Bytes held: `0..=N`. The held bytes are empty or end in `\n`.
    len: usize,
}

impl<const N: usize> Default for LogRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LogRing<N> {
    /// An empty ring.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            head: 0,
            len: 0,
        }
    }

    /// Bytes the ring can hold.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Bytes held now.
    pub const fn len(&self) -> usize {
        self.len
    }

    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The held bytes, oldest first, as the two pieces they occupy in the array (the
    /// second is empty unless the contents wrap around its end).
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        let first = self.len.min(N - self.head.min(N));
        let head = &self.buf[self.head.min(N)..];
        (&head[..first], &self.buf[..self.len - first])
    }

    /// The byte at logical position `i` (0 = oldest); `i < len`.
    fn at(&self, i: usize) -> u8 {
        let (a, b) = self.as_slices();
        match a.get(i) {
            Some(&c) => c,
            None => b.get(i - a.len()).copied().unwrap_or(b'\n'),
        }
    }

    /// Appends one line. A missing final `\n` is added; a line longer than the ring is cut
    /// to `N - 1` bytes plus `\n`. Oldest whole lines are dropped until the line fits. A
    /// `\n` inside `line` simply ends a line there.
    pub fn push_line(&mut self, line: &[u8]) {
        if N == 0 {
            return;
        }
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = &body[..body.len().min(N - 1)];
        while self.len + body.len() + 1 > N && self.len > 0 {
            self.drop_oldest_line();
        }
        self.put(body);
        self.put(b"\n");
    }

    /// Drops the oldest line (through its `\n`); everything, if no `\n` is held.
    fn drop_oldest_line(&mut self) {
        let end = (0..self.len)
            .find(|&i| self.at(i) == b'\n')
            .map_or(self.len, |i| i + 1);
        self.head = (self.head + end) % N;
        self.len -= end;
    }

    /// Appends raw bytes; the caller made room (`len + bytes.len() <= N`).
    fn put(&mut self, bytes: &[u8]) {
        let tail = (self.head + self.len) % N;
        let first = bytes.len().min(N - tail);
        self.buf[tail..tail + first].copy_from_slice(&bytes[..first]);
        let rest = &bytes[first..];
        self.buf[..rest.len()].copy_from_slice(rest);
        self.len += bytes.len();
    }

    /// Copies the newest held bytes that fit in `out`, starting at a line boundary, oldest
    /// first; returns how many. 0 when not even the newest line fits.
    pub fn copy_newest(&self, out: &mut [u8]) -> usize {
        let start = if self.len <= out.len() {
            0
        } else {
            // The first line boundary at or after `len - out.len()`: just past the first
            // `\n` at or after the byte before it.
            let from = self.len - out.len();
            (from - 1..self.len)
                .find(|&i| self.at(i) == b'\n')
                .map_or(self.len, |i| i + 1)
        };
        let n = self.len - start;
        let (a, b) = self.as_slices();
        let from_a = a.get(start..).unwrap_or(&[]);
        let from_b = &b[start.saturating_sub(a.len())..];
        out[..from_a.len()].copy_from_slice(from_a);
        out[from_a.len()..n].copy_from_slice(from_b);
        n
    }
}

/// A `fmt::Write` into `N` bytes that keeps what fits (cut at a character boundary) and
/// remembers it had to cut.
pub struct LineBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> Default for LineBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LineBuf<N> {
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            truncated: false,
        }
    }

    /// The text written so far (possibly cut).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// True if something written did not fit.
    pub const fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl<const N: usize> fmt::Write for LineBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        if take < s.len() {
            self.truncated = true;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        // Never an error: formatting goes on so the caller sees the whole record's effect
        // (and can tell it was cut).
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;
    use std::collections::VecDeque;
    use std::format;
    use std::string::String;
    use std::vec;
    use std::vec::Vec;
    use wayos_testutil::XorShift;

    fn contents<const N: usize>(r: &LogRing<N>) -> Vec<u8> {
        let (a, b) = r.as_slices();
        [a, b].concat()
    }

    fn newest<const N: usize>(r: &LogRing<N>, n: usize) -> Vec<u8> {
        let mut out = vec![0xaa; n];
        let got = r.copy_newest(&mut out);
        assert!(
            out[got..].iter().all(|&b| b == 0xaa),
            "wrote past the count"
        );
        out.truncate(got);
        out
    }

    #[test]
    fn empty_ring_reads_nothing() {
        let r = LogRing::<32>::new();
        assert!(r.is_empty());
        assert_eq!(r.capacity(), 32);
        assert_eq!(newest(&r, 100), b"");
        assert_eq!(newest(&r, 0), b"");
    }

    #[test]
    fn lines_are_kept_in_order_with_newlines() {
        let mut r = LogRing::<32>::new();
        r.push_line(b"one\n");
        r.push_line(b"two"); // newline added
        assert_eq!(contents(&r), b"one\ntwo\n");
        assert_eq!(r.len(), 8);
        assert_eq!(newest(&r, 8), b"one\ntwo\n");
        assert_eq!(newest(&r, 100), b"one\ntwo\n");
    }

    #[test]
    fn full_ring_drops_oldest_whole_lines() {
        let mut r = LogRing::<16>::new();
        r.push_line(b"aaaa"); // 5 bytes
        r.push_line(b"bbbbb"); // 6 -> 11
        r.push_line(b"ccc"); // 4 -> 15
        assert_eq!(contents(&r), b"aaaa\nbbbbb\nccc\n");
        // 3 more bytes: 18 > 16, so "aaaa\n" goes (not just 2 of its bytes).
        r.push_line(b"dd");
        assert_eq!(contents(&r), b"bbbbb\nccc\ndd\n");
        // 12 bytes: needs 13 + 12 - 16 = 9 bytes freed: "bbbbb\n" (6) and "ccc\n" (4).
        r.push_line(b"eeeeeeeeeee");
        assert_eq!(contents(&r), b"dd\neeeeeeeeeee\n");
        assert_eq!(r.len(), 15);
    }

    #[test]
    fn contents_wrap_around_the_array_end() {
        let mut r = LogRing::<10>::new();
        r.push_line(b"12345"); // [0,6)
        r.push_line(b"ab"); // [6,9)
        r.push_line(b"xyz"); // drops "12345\n"; written at 9..10 and 0..3
        let (a, b) = r.as_slices();
        assert_eq!((a, b), (&b"ab\nx"[..], &b"yz\n"[..]));
        assert_eq!(contents(&r), b"ab\nxyz\n");
        assert_eq!(newest(&r, 7), b"ab\nxyz\n");
        assert_eq!(newest(&r, 6), b"xyz\n");
        assert_eq!(newest(&r, 4), b"xyz\n");
        assert_eq!(newest(&r, 3), b"");
    }

    #[test]
    fn reads_start_at_a_line_boundary() {
        let mut r = LogRing::<64>::new();
        for l in ["first line", "2nd", "third one"] {
            r.push_line(l.as_bytes());
        }
        // Total 11 + 4 + 10 = 25 bytes.
        assert_eq!(newest(&r, 25), b"first line\n2nd\nthird one\n");
        assert_eq!(newest(&r, 24), b"2nd\nthird one\n");
        assert_eq!(newest(&r, 14), b"2nd\nthird one\n");
        assert_eq!(newest(&r, 13), b"third one\n");
        assert_eq!(newest(&r, 10), b"third one\n");
        assert_eq!(newest(&r, 9), b"");
        assert_eq!(newest(&r, 1), b"");
    }

    #[test]
    fn an_overlong_line_is_cut_to_the_ring() {
        let mut r = LogRing::<8>::new();
        r.push_line(b"ab");
        r.push_line(b"0123456789abc\n");
        assert_eq!(contents(&r), b"0123456\n");
        r.push_line(b"");
        assert_eq!(contents(&r), b"\n");
    }

    #[test]
    fn embedded_newlines_split_lines() {
        let mut r = LogRing::<12>::new();
        r.push_line(b"ab\ncd");
        r.push_line(b"efghij");
        // "ab\ncd\n" (6) + "efghij\n" (7) = 13 > 12: only "ab\n" needs to go.
        assert_eq!(contents(&r), b"cd\nefghij\n");
    }

    #[test]
    fn zero_capacity_is_harmless() {
        let mut r = LogRing::<0>::new();
        r.push_line(b"anything");
        assert_eq!(r.len(), 0);
        assert_eq!(newest(&r, 10), b"");
    }

    /// The model: a queue of whole lines, evicted from the front while over capacity.
    struct Model {
        cap: usize,
        lines: VecDeque<Vec<u8>>,
    }

    impl Model {
        fn push(&mut self, line: &[u8]) {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            let mut pieces: Vec<Vec<u8>> = Vec::new();
            let mut body = body[..body.len().min(self.cap - 1)].to_vec();
            body.push(b'\n');
            for piece in body.split_inclusive(|&b| b == b'\n') {
                pieces.push(piece.to_vec());
            }
            let incoming: usize = pieces.iter().map(Vec::len).sum();
            while self.total() + incoming > self.cap {
                self.lines.pop_front();
            }
            self.lines.extend(pieces);
        }

        fn total(&self) -> usize {
            self.lines.iter().map(Vec::len).sum()
        }

        fn newest(&self, n: usize) -> Vec<u8> {
            let mut taken: Vec<&Vec<u8>> = Vec::new();
            let mut size = 0;
            for l in self.lines.iter().rev() {
                if size + l.len() > n {
                    break;
                }
                size += l.len();
                taken.push(l);
            }
            taken.into_iter().rev().flatten().copied().collect()
        }
    }

    #[test]
    fn random_lines_match_a_queue_of_lines() {
        const CAP: usize = 97;
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        let mut r = LogRing::<CAP>::new();
        let mut m = Model {
            cap: CAP,
            lines: VecDeque::new(),
        };
        for step in 0..5000 {
            let len = rng.below(40) as usize;
            let mut line: Vec<u8> = (0..len).map(|_| b'a' + rng.below(26) as u8).collect();
            if rng.below(10) == 0 && len > 2 {
                line[len / 2] = b'\n';
            }
            if rng.below(2) == 0 {
                line.push(b'\n');
            }
            r.push_line(&line);
            m.push(&line);
            let want: Vec<u8> = m.lines.iter().flatten().copied().collect();
            assert_eq!(contents(&r), want, "step {step}");
            assert_eq!(r.len(), want.len());
            let n = rng.below(CAP as u64 + 10) as usize;
            assert_eq!(newest(&r, n), m.newest(n), "step {step}, read {n}");
        }
    }

    #[test]
    fn line_buf_keeps_what_fits_at_char_boundaries() {
        let mut b = LineBuf::<8>::new();
        let (n, t) = (12, "ab");
        write!(b, "{n}-{t}").unwrap();
        assert_eq!(b.as_bytes(), b"12-ab");
        assert!(!b.is_truncated());
        // "é" is two bytes: 5 + 2 = 7 fits, the next "é" would end at 9 and is dropped
        // whole, then "x" fits in the last byte.
        write!(b, "é").unwrap();
        write!(b, "é").unwrap();
        assert!(b.is_truncated());
        write!(b, "x").unwrap();
        assert_eq!(b.as_bytes(), "12-abéx".as_bytes());
        write!(b, "more").unwrap();
        assert_eq!(b.as_bytes().len(), 8);
    }

    #[test]
    fn line_buf_matches_format() {
        let mut b = LineBuf::<128>::new();
        let (secs, micros, cpu, target, msg) = (12u64, 34u64, 1, "task", "x");
        writeln!(b, "[{secs:5}.{micros:06}] WARN  cpu{cpu} {target}: {msg}").unwrap();
        let want: String = format!("[{:>5}.{:0>6}] WARN  cpu1 task: x\n", "12", "34");
        assert_eq!(b.as_bytes(), want.as_bytes());
        assert!(!b.is_truncated());
    }
}
