//! `sha256sum`'s line formats, as GNU coreutils writes and reads them: `HEX  NAME` (two
//! spaces; `HEX *NAME` in binary mode), and a name holding `\` or a newline escaped with a
//! leading `\` on the line. The hashing itself is the `sha2` crate's.

use alloc::format;
use alloc::string::String;

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// One output line (with its newline) for a digest of `name`.
pub fn line(digest_hex: &str, name: &str, binary: bool) -> String {
    let escaped = name.contains(['\\', '\n', '\r']);
    let name = if escaped {
        name.replace('\\', "\\\\")
            .replace('\n', "\\n")
            .replace('\r', "\\r")
    } else {
        String::from(name)
    };
    format!(
        "{}{digest_hex} {}{name}\n",
        if escaped { "\\" } else { "" },
        if binary { '*' } else { ' ' }
    )
}

/// A `--check` line: the expected hex digest and the (unescaped) name; `None` for a line
/// that is not one (GNU counts those as improperly formatted).
pub fn parse_check_line(text: &str) -> Option<(String, String)> {
    let (escaped, text) = match text.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (digest, rest) = text.split_at_checked(64)?;
    if !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let name = rest
        .strip_prefix("  ")
        .or_else(|| rest.strip_prefix(" *"))?;
    if name.is_empty() {
        return None;
    }
    let name = if escaped {
        unescape(name)?
    } else {
        String::from(name)
    };
    Some((digest.to_ascii_lowercase(), name))
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next()? {
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn lines_like_gnu() {
        assert_eq!(line(EMPTY, "-", false), format!("{EMPTY}  -\n"));
        assert_eq!(line(EMPTY, "a b", true), format!("{EMPTY} *a b\n"));
        assert_eq!(
            line(EMPTY, "a\nb\\c", false),
            format!("\\{EMPTY}  a\\nb\\\\c\n")
        );
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }

    #[test]
    fn check_lines_round_trip() {
        for (name, bin) in [("x", false), ("a\nb\\c", false), ("sp ace", true)] {
            let l = line(EMPTY, name, bin);
            let got = parse_check_line(l.trim_end_matches('\n'));
            assert_eq!(got, Some((EMPTY.into(), name.into())), "{l:?}");
        }
        assert_eq!(parse_check_line("abc  x"), None);
        assert_eq!(parse_check_line(&format!("{EMPTY} x")), None);
        assert_eq!(parse_check_line(&format!("{EMPTY}  ")), None);
        assert_eq!(parse_check_line(&format!("{}  x", "g".repeat(64))), None);
        assert_eq!(parse_check_line(&format!("\\{EMPTY}  a\\q")), None);
        assert_eq!(parse_check_line(""), None);
        assert_eq!(
            parse_check_line(&format!("{}  x", EMPTY.to_uppercase())),
            Some((EMPTY.into(), "x".into()))
        );
    }
}
