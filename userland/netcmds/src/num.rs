//! Numbers the commands take on their command lines.

/// Parses a non-negative decimal number of seconds with an optional fraction (`0.2`,
/// `5`, `.5`) into nanoseconds; at most 999,999,999 whole seconds.
pub fn parse_secs(s: &str) -> Option<u64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || int.len() > 9
    {
        return None;
    }
    let whole: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut ns = whole * 1_000_000_000;
    let mut scale = 100_000_000;
    for d in frac.bytes().take(9) {
        ns += u64::from(d - b'0') * scale;
        scale /= 10;
    }
    Some(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds() {
        assert_eq!(parse_secs("1"), Some(1_000_000_000));
        assert_eq!(parse_secs("0.2"), Some(200_000_000));
        assert_eq!(parse_secs(".5"), Some(500_000_000));
        assert_eq!(parse_secs("2."), Some(2_000_000_000));
        assert_eq!(parse_secs("0.0000000019"), Some(1));
        assert_eq!(parse_secs(""), None);
        assert_eq!(parse_secs("."), None);
        assert_eq!(parse_secs("-1"), None);
        assert_eq!(parse_secs("1e3"), None);
        assert_eq!(parse_secs("1000000000"), None);
    }
}
