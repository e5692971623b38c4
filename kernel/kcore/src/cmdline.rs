//! Kernel command line: whitespace-separated `key` or `key=value` words.
//!
//! Unknown words are kept for whoever asks; a malformed line can never fail parsing, it only
//! yields fewer matches.

/// Iterates the words of a command line as `(key, value)`; a bare word has value `""`.
pub fn words(line: &str) -> impl Iterator<Item = (&str, &str)> {
    line.split_ascii_whitespace()
        .map(|w| w.split_once('=').unwrap_or((w, "")))
}

/// The value of the last `key=value` (or bare `key`) on the line.
pub fn get<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    words(line)
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .last()
}

/// True when `key` appears, bare or with any value other than `0`/`off`/`no`.
pub fn flag(line: &str, key: &str) -> bool {
    matches!(get(line, key), Some(v) if !matches!(v, "0" | "off" | "no"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_values() {
        let l = "  wayos.test  log=debug log=trace quiet=0 ";
        assert_eq!(get(l, "log"), Some("trace"));
        assert_eq!(get(l, "wayos.test"), Some(""));
        assert_eq!(get(l, "missing"), None);
        assert!(flag(l, "wayos.test"));
        assert!(!flag(l, "quiet"));
        assert!(!flag(l, "missing"));
    }

    #[test]
    fn odd_input_is_harmless() {
        assert_eq!(get("===", ""), Some("=="));
        assert_eq!(words("").count(), 0);
        assert_eq!(get("a=b=c", "a"), Some("b=c"));
    }
}
