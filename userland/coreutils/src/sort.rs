//! `sort`: GNU's comparison rules in the C locale (byte order).
//!
//! Ordering options `-b -d -f -i -n -r` apply to the whole line or, given with `-k`, to one
//! key; keys are `-k F[.C][OPTS][,F[.C][OPTS]]` with fields split at blank-to-nonblank
//! changes (leading blanks belong to the field) or at the `-t` character. Lines that
//! compare equal on every key are ordered by their bytes (the "last resort"), unless `-s`
//! or `-u`; `-r` reverses the last resort too. `-u` keeps the first line of each run of
//! equal lines. Numbers (`-n`) are an optional `-`, digits and an optional fraction,
//! after blanks; anything else counts as zero, and values are compared as digit strings,
//! so no number is too long.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

/// Ordering options of a key (or of the whole line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Order {
    /// `-b`: skip leading blanks (of the start field, and of the end field in POS2).
    pub blanks_start: bool,
    pub blanks_end: bool,
    /// `-d`: only blanks and alphanumerics count.
    pub dictionary: bool,
    /// `-f`: fold lower case to upper case.
    pub fold: bool,
    /// `-i`: only printable characters count.
    pub printable: bool,
    /// `-n`: numeric.
    pub numeric: bool,
    /// `-r`: reverse.
    pub reverse: bool,
}

impl Order {
    /// True if no option other than `-r` is set (GNU's `default_key_compare`).
    fn is_default(&self) -> bool {
        !(self.blanks_start
            || self.blanks_end
            || self.dictionary
            || self.fold
            || self.printable
            || self.numeric)
    }

    /// Applies one option letter; false if it is not one.
    pub fn set(&mut self, c: char, end: bool) -> bool {
        match c {
            'b' if end => self.blanks_end = true,
            'b' => self.blanks_start = true,
            'd' => self.dictionary = true,
            'f' => self.fold = true,
            'i' => self.printable = true,
            'n' => self.numeric = true,
            'r' => self.reverse = true,
            _ => return false,
        }
        true
    }
}

/// One `-k` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// Start field and character, from 0.
    pub sword: usize,
    pub schar: usize,
    /// End field (from 0) and character (from 1; 0 = the end of the field); no end field
    /// means the end of the line.
    pub eword: Option<usize>,
    pub echar: usize,
    pub order: Order,
}

impl Key {
    /// The whole line, with `order`.
    pub fn whole(order: Order) -> Key {
        Key {
            sword: 0,
            schar: 0,
            eword: None,
            echar: 0,
            order,
        }
    }
}

/// Everything that decides the order.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub keys: Vec<Key>,
    /// `-t`: the field separator (default: blank-to-nonblank changes).
    pub tab: Option<u8>,
    /// `-r` given globally: reverses the last-resort comparison.
    pub reverse: bool,
    pub unique: bool,
    pub stable: bool,
}

fn bad_spec(spec: &str, why: &str) -> String {
    format!("{why}: invalid field specification '{spec}'")
}

/// A decimal field or character number at the start of `s`: (value, rest).
fn field_number<'a>(s: &'a str, what: &str) -> Result<(usize, &'a str), String> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return Err(format!("{what}: invalid count at start of '{s}'"));
    }
    // Huge numbers mean "beyond every field", as GNU saturates.
    let v = s[..n].parse::<usize>().unwrap_or(usize::MAX);
    Ok((v, &s[n..]))
}

/// Parses a `-k` argument; `global` are the ordering options given outside keys, which a
/// key without options of its own inherits.
pub fn parse_key(spec: &str, global: Order) -> Result<Key, String> {
    let mut order = Order::default();
    let (sw, rest) = field_number(spec, "invalid number at field start")?;
    if sw == 0 {
        return Err(bad_spec(spec, "field number is zero"));
    }
    let mut schar = 0;
    let mut rest = rest;
    if let Some(r) = rest.strip_prefix('.') {
        let (c, r) = field_number(r, "invalid number after '.'")?;
        if c == 0 {
            return Err(bad_spec(spec, "character offset is zero"));
        }
        schar = c - 1;
        rest = r;
    }
    let mut chars = rest.char_indices();
    let mut end_at = rest.len();
    for (i, c) in chars.by_ref() {
        if c == ',' {
            end_at = i;
            break;
        }
        if !order.set(c, false) {
            return Err(format!(
                "stray character in field spec: invalid field specification '{spec}'"
            ));
        }
    }
    let mut key = Key {
        sword: sw - 1,
        schar,
        eword: None,
        echar: 0,
        order,
    };
    if end_at < rest.len() {
        let r = &rest[end_at + 1..];
        let (ew, r) = field_number(r, "invalid number after ','")?;
        if ew == 0 {
            return Err(bad_spec(spec, "field number is zero"));
        }
        key.eword = Some(ew - 1);
        let mut r = r;
        if let Some(x) = r.strip_prefix('.') {
            let (c, x) = field_number(x, "invalid number after '.'")?;
            key.echar = c;
            r = x;
        }
        for c in r.chars() {
            if !key.order.set(c, true) {
                return Err(format!(
                    "stray character in field spec: invalid field specification '{spec}'"
                ));
            }
        }
    }
    if key.order.is_default() && !key.order.reverse {
        key.order = global;
    }
    Ok(key)
}

fn blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

impl Config {
    /// Adds the whole-line key GNU makes when ordering options were given without `-k`.
    pub fn finish(&mut self, global: Order) {
        self.reverse = global.reverse;
        if self.keys.is_empty() && !global.is_default() {
            self.keys.push(Key::whole(global));
        }
    }

    fn begfield(&self, line: &[u8], key: &Key) -> usize {
        let lim = line.len();
        let mut p = 0;
        let mut sword = key.sword;
        match self.tab {
            Some(t) => {
                while p < lim && sword > 0 {
                    sword -= 1;
                    while p < lim && line[p] != t {
                        p += 1;
                    }
                    if p < lim {
                        p += 1;
                    }
                }
            }
            None => {
                while p < lim && sword > 0 {
                    sword -= 1;
                    while p < lim && blank(line[p]) {
                        p += 1;
                    }
                    while p < lim && !blank(line[p]) {
                        p += 1;
                    }
                }
            }
        }
        if key.order.blanks_start {
            while p < lim && blank(line[p]) {
                p += 1;
            }
        }
        p.saturating_add(key.schar).min(lim)
    }

    fn limfield(&self, line: &[u8], key: &Key) -> usize {
        let lim = line.len();
        let Some(eword) = key.eword else {
            return lim;
        };
        let mut eword = eword;
        let echar = key.echar;
        if echar == 0 {
            eword = eword.saturating_add(1);
        }
        let mut p = 0;
        match self.tab {
            Some(t) => {
                while p < lim && eword > 0 {
                    eword -= 1;
                    while p < lim && line[p] != t {
                        p += 1;
                    }
                    if p < lim && (eword > 0 || echar > 0) {
                        p += 1;
                    }
                }
            }
            None => {
                while p < lim && eword > 0 {
                    eword -= 1;
                    while p < lim && blank(line[p]) {
                        p += 1;
                    }
                    while p < lim && !blank(line[p]) {
                        p += 1;
                    }
                }
            }
        }
        if echar > 0 {
            if key.order.blanks_end {
                while p < lim && blank(line[p]) {
                    p += 1;
                }
            }
            p = p.saturating_add(echar).min(lim);
        }
        p
    }

    fn key_compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        for key in &self.keys {
            let (ab, al) = (self.begfield(a, key), self.limfield(a, key));
            let (bb, bl) = (self.begfield(b, key), self.limfield(b, key));
            let ka = &a[ab..al.max(ab)];
            let kb = &b[bb..bl.max(bb)];
            let o = &key.order;
            let d = if o.numeric {
                numeric_compare(ka, kb)
            } else if o.fold || o.dictionary || o.printable {
                filtered_compare(ka, kb, o)
            } else {
                ka.cmp(kb)
            };
            if d != Ordering::Equal {
                return if o.reverse { d.reverse() } else { d };
            }
        }
        Ordering::Equal
    }

    /// GNU's `compare`: the keys, then (unless `-u` or `-s`) the whole line's bytes.
    pub fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        if !self.keys.is_empty() {
            let d = self.key_compare(a, b);
            if d != Ordering::Equal || self.unique || self.stable {
                return d;
            }
        }
        let d = a.cmp(b);
        if self.reverse {
            d.reverse()
        } else {
            d
        }
    }

    /// Sorts `lines` (stably) and, with `-u`, drops all but the first of equal lines.
    pub fn sort(&self, lines: &mut Vec<&[u8]>) {
        lines.sort_by(|a, b| self.compare(a, b));
        if self.unique {
            lines.dedup_by(|later, first| self.compare(first, later) == Ordering::Equal);
        }
    }

    /// `-c`: the index of the first line out of order (with `-u`, also equal to the one
    /// before), if any.
    pub fn first_disorder(&self, lines: &[&[u8]]) -> Option<usize> {
        (1..lines.len()).find(|&i| {
            let d = self.compare(lines[i - 1], lines[i]);
            d == Ordering::Greater || (self.unique && d == Ordering::Equal)
        })
    }
}

/// Compares under `-d`, `-i`, `-f`: skipped bytes ignored, letters folded up.
fn filtered_compare(a: &[u8], b: &[u8], o: &Order) -> Ordering {
    let skip = |c: u8| {
        (o.dictionary && !(blank(c) || c.is_ascii_alphanumeric()))
            || (o.printable && !(0x20..0x7f).contains(&c))
    };
    let tr = |c: u8| if o.fold { c.to_ascii_uppercase() } else { c };
    let (mut i, mut j) = (0, 0);
    loop {
        while i < a.len() && skip(a[i]) {
            i += 1;
        }
        while j < b.len() && skip(b[j]) {
            j += 1;
        }
        if i >= a.len() || j >= b.len() {
            return (i < a.len()).cmp(&(j < b.len()));
        }
        let d = tr(a[i]).cmp(&tr(b[j]));
        if d != Ordering::Equal {
            return d;
        }
        i += 1;
        j += 1;
    }
}

/// A number as `-n` reads it: (negative, integer digits without leading zeros, fraction
/// digits without trailing zeros).
fn number(s: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut i = 0;
    while i < s.len() && blank(s[i]) {
        i += 1;
    }
    let neg = s.get(i) == Some(&b'-');
    if neg {
        i += 1;
    }
    while s.get(i) == Some(&b'0') {
        i += 1;
    }
    let is = i;
    while s.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int = &s[is..i];
    let mut frac: &[u8] = &[];
    if s.get(i) == Some(&b'.') {
        let fs = i + 1;
        let mut fe = fs;
        while s.get(fe).is_some_and(u8::is_ascii_digit) {
            fe += 1;
        }
        frac = &s[fs..fe];
        while let [rest @ .., b'0'] = frac {
            frac = rest;
        }
    }
    let zero = int.is_empty() && frac.is_empty();
    (neg && !zero, int, frac)
}

/// `-n` comparison of two keys.
pub fn numeric_compare(a: &[u8], b: &[u8]) -> Ordering {
    let (an, ai, af) = number(a);
    let (bn, bi, bf) = number(b);
    if an != bn {
        return if an {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let mag = ai
        .len()
        .cmp(&bi.len())
        .then_with(|| ai.cmp(bi))
        .then_with(|| af.cmp(bf));
    if an {
        mag.reverse()
    } else {
        mag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: &Config, input: &str) -> String {
        let mut lines: Vec<&[u8]> = input.lines().map(str::as_bytes).collect();
        cfg.sort(&mut lines);
        let mut out = String::new();
        for l in lines {
            out.push_str(core::str::from_utf8(l).unwrap());
            out.push('\n');
        }
        out
    }

    fn cfg(global: Order, keys: &[&str], tab: Option<u8>, unique: bool) -> Config {
        let mut c = Config {
            keys: keys.iter().map(|k| parse_key(k, global).unwrap()).collect(),
            tab,
            unique,
            ..Config::default()
        };
        c.finish(global);
        c
    }

    const R: Order = Order {
        reverse: true,
        blanks_start: false,
        blanks_end: false,
        dictionary: false,
        fold: false,
        printable: false,
        numeric: false,
    };
    const N: Order = Order {
        numeric: true,
        blanks_start: false,
        blanks_end: false,
        dictionary: false,
        fold: false,
        printable: false,
        reverse: false,
    };

    #[test]
    fn plain_and_reverse_bytes() {
        let c = cfg(Order::default(), &[], None, false);
        assert_eq!(run(&c, "b\na\nB\n_\n10\n9\n"), "10\n9\nB\n_\na\nb\n");
        let r = cfg(R, &[], None, false);
        assert_eq!(run(&r, "b\na\nc\n"), "c\nb\na\n");
    }

    #[test]
    fn numeric_with_ties_and_reverse() {
        let n = cfg(N, &[], None, false);
        assert_eq!(
            run(&n, "10\n9\n-1\n2.5\nx\n\n-0.5\n0010\n"),
            "-1\n-0.5\n\nx\n2.5\n9\n0010\n10\n"
        );
        let nr = cfg(Order { reverse: true, ..N }, &[], None, false);
        assert_eq!(run(&nr, "10\n9\n100\n"), "100\n10\n9\n");
        // Ties between equal numbers fall back to bytes, reversed with -r.
        assert_eq!(run(&nr, "01\n1\n"), "1\n01\n");
        assert_eq!(run(&n, "1\n01\n"), "01\n1\n");
        assert_eq!(numeric_compare(b"-0", b"0"), Ordering::Equal);
        assert_eq!(numeric_compare(b"  3", b"3.0"), Ordering::Equal);
        assert_eq!(numeric_compare(b".5", b"0.25"), Ordering::Greater);
        assert_eq!(numeric_compare(b"-2", b"-10"), Ordering::Greater);
        assert_eq!(
            numeric_compare(b"123456789012345678901234567890", b"99999999999999999999"),
            Ordering::Greater
        );
    }

    #[test]
    fn unique_keeps_the_first_of_equals() {
        let u = cfg(Order::default(), &[], None, true);
        assert_eq!(run(&u, "b\na\nb\na\n"), "a\nb\n");
        let nu = cfg(N, &[], None, true);
        assert_eq!(run(&nu, "01\n1\n2\n1.0\n"), "01\n2\n");
        let fu = cfg(
            Order {
                fold: true,
                ..Order::default()
            },
            &[],
            None,
            true,
        );
        assert_eq!(run(&fu, "a\nA\nb\n"), "a\nb\n");
    }

    #[test]
    fn keys_and_separators() {
        // Second field, numerically.
        let k = cfg(Order::default(), &["2n"], None, false);
        assert_eq!(run(&k, "x 10\ny 9\nz 100\n"), "y 9\nx 10\nz 100\n");
        // -t: and -k3,3 (only the third field; ties by whole line).
        let t = cfg(Order::default(), &["3,3"], Some(b':'), false);
        assert_eq!(
            run(&t, "a:1:zz:9\nb:2:aa:1\nc:3:mm\n"),
            "b:2:aa:1\nc:3:mm\na:1:zz:9\n"
        );
        // Leading blanks belong to the field unless -b: "  b" < " c" byte-wise.
        let nb = cfg(Order::default(), &["2"], None, false);
        assert_eq!(run(&nb, "1  b\n2 c\n"), "1  b\n2 c\n");
        let nb2 = cfg(Order::default(), &["2"], None, false);
        assert_eq!(run(&nb2, "1 c\n2   a\n"), "2   a\n1 c\n");
        let b = cfg(Order::default(), &["2b"], None, false);
        assert_eq!(run(&b, "1   c\n2 b\n"), "2 b\n1   c\n");
        // Character positions: sort by the second character of field 1.
        let c = cfg(Order::default(), &["1.2,1.2"], None, false);
        assert_eq!(run(&c, "ab\nba\ncc\n"), "ba\nab\ncc\n");
        // Per-key reverse, then a second key.
        let two = cfg(Order::default(), &["1,1r", "2n"], None, false);
        assert_eq!(run(&two, "a 2\nb 1\na 1\n"), "b 1\na 1\na 2\n");
    }

    #[test]
    fn key_errors_in_gnu_words() {
        assert_eq!(
            parse_key("0", Order::default()).unwrap_err(),
            "field number is zero: invalid field specification '0'"
        );
        assert_eq!(
            parse_key("1.0", Order::default()).unwrap_err(),
            "character offset is zero: invalid field specification '1.0'"
        );
        assert_eq!(
            parse_key("x", Order::default()).unwrap_err(),
            "invalid number at field start: invalid count at start of 'x'"
        );
        assert_eq!(
            parse_key("1,", Order::default()).unwrap_err(),
            "invalid number after ',': invalid count at start of ''"
        );
        assert!(parse_key("1q", Order::default()).is_err());
        let k = parse_key("2,3.4nb", Order::default()).unwrap();
        assert_eq!((k.sword, k.schar, k.eword, k.echar), (1, 0, Some(2), 4));
        assert!(k.order.numeric && k.order.blanks_end && !k.order.blanks_start);
    }

    #[test]
    fn dictionary_and_printable() {
        let d = cfg(
            Order {
                dictionary: true,
                ..Order::default()
            },
            &[],
            None,
            false,
        );
        assert_eq!(run(&d, "b-b\nb+a\n"), "b+a\nb-b\n");
        let i = Order {
            printable: true,
            ..Order::default()
        };
        assert_eq!(filtered_compare(b"a\x01b", b"ab", &i), Ordering::Equal);
    }

    #[test]
    fn check_mode() {
        let c = cfg(Order::default(), &[], None, false);
        assert_eq!(c.first_disorder(&[b"a", b"b", b"a"]), Some(2));
        assert_eq!(c.first_disorder(&[b"a", b"a"]), None);
        let u = cfg(Order::default(), &[], None, true);
        assert_eq!(u.first_disorder(&[b"a", b"a"]), Some(1));
    }
}
