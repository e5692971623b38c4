//! Numbers on command lines: counts with GNU's size suffixes (`head -n 2K`), durations
//! (`sleep 1.5m`), and human-readable sizes (`ls -h`).

use alloc::format;
use alloc::string::String;

/// Why a number was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumError {
    /// Not a number.
    Invalid,
    /// A number, but beyond what fits (GNU adds `: Value too large for defined data type`).
    Overflow,
}

/// The multiplier of a GNU size suffix (`b`, `K`, `KB`, `KiB`, `M`, ...); `None` for an
/// unknown one.
fn suffix_multiplier(s: &str) -> Option<Result<u64, NumError>> {
    if s.is_empty() {
        return Some(Ok(1));
    }
    if s == "b" {
        return Some(Ok(512));
    }
    let mut chars = s.chars();
    let unit = chars.next()?;
    let power: u32 = match unit {
        'k' | 'K' => 1,
        'm' | 'M' => 2,
        'G' => 3,
        'T' => 4,
        'P' => 5,
        'E' => 6,
        'Z' => 7,
        'Y' => 8,
        'R' => 9,
        'Q' => 10,
        _ => return None,
    };
    let base: u64 = match chars.as_str() {
        "" | "iB" => 1024,
        "B" => 1000,
        _ => return None,
    };
    Some(base.checked_pow(power).ok_or(NumError::Overflow))
}

/// A count as `head`/`tail` take it: optional blanks and `+`, decimal digits, an optional
/// size suffix.
pub fn parse_count(s: &str) -> Result<u64, NumError> {
    let t = s.trim_start_matches([' ', '\t', '\n']);
    let t = t.strip_prefix('+').unwrap_or(t);
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(NumError::Invalid);
    }
    let mult = suffix_multiplier(&t[digits..]).ok_or(NumError::Invalid);
    let mut v: u64 = 0;
    let mut overflow = false;
    for b in t[..digits].bytes() {
        match v
            .checked_mul(10)
            .and_then(|x| x.checked_add((b - b'0') as u64))
        {
            Some(n) => v = n,
            None => overflow = true,
        }
    }
    let mult = mult??;
    if overflow {
        return Err(NumError::Overflow);
    }
    v.checked_mul(mult).ok_or(NumError::Overflow)
}

/// A plain non-negative decimal integer (no sign, no suffix).
pub fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A `sleep` operand in nanoseconds: a decimal number (`2`, `1.5`, `.25`) with an optional
/// unit `s`, `m`, `h` or `d`. Saturates instead of overflowing.
pub fn parse_duration_ns(s: &str) -> Option<u128> {
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if matches!(c, 's' | 'm' | 'h' | 'd') => (&s[..i], c),
        _ => (s, 's'),
    };
    let num = num.strip_prefix('+').unwrap_or(num);
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut ns: u128 = 0;
    for b in int.bytes() {
        ns = ns.saturating_mul(10).saturating_add((b - b'0') as u128);
    }
    ns = ns.saturating_mul(1_000_000_000);
    let mut scale = 100_000_000u128;
    for b in frac.bytes() {
        ns = ns.saturating_add((b - b'0') as u128 * scale);
        scale /= 10;
    }
    let mult: u128 = match unit {
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => 1,
    };
    Some(ns.saturating_mul(mult))
}

/// `ls -h`: a size in powers of 1024 with one decimal below 10, rounded up, as GNU does
/// (`1023`, `1.0K`, `1.5K`, `10K`, `1.0M`).
pub fn human_size(n: u64) -> String {
    if n < 1024 {
        return format!("{n}");
    }
    const UNITS: [char; 8] = ['K', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
    // Work in tenths, rounding up at each step as GNU's human_ceiling does at the end.
    let mut unit = 0;
    let mut div: u128 = 1024;
    while (n as u128) >= div * 1024 && unit + 1 < UNITS.len() {
        div *= 1024;
        unit += 1;
    }
    let tenths = (n as u128 * 10).div_ceil(div);
    if tenths < 100 {
        return format!("{}.{}{}", tenths / 10, tenths % 10, UNITS[unit]);
    }
    let whole = (n as u128).div_ceil(div);
    if whole >= 1024 && unit + 1 < UNITS.len() {
        return format!("1.0{}", UNITS[unit + 1]);
    }
    format!("{whole}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_with_suffixes() {
        assert_eq!(parse_count("3"), Ok(3));
        assert_eq!(parse_count(" +3"), Ok(3));
        assert_eq!(parse_count("0"), Ok(0));
        assert_eq!(parse_count("2b"), Ok(1024));
        assert_eq!(parse_count("1k"), Ok(1024));
        assert_eq!(parse_count("1K"), Ok(1024));
        assert_eq!(parse_count("1KB"), Ok(1000));
        assert_eq!(parse_count("1KiB"), Ok(1024));
        assert_eq!(parse_count("2M"), Ok(2 << 20));
        assert_eq!(parse_count("1MB"), Ok(1_000_000));
        assert_eq!(parse_count("1x"), Err(NumError::Invalid));
        assert_eq!(parse_count("x"), Err(NumError::Invalid));
        assert_eq!(parse_count(""), Err(NumError::Invalid));
        assert_eq!(parse_count("-1"), Err(NumError::Invalid));
        assert_eq!(
            parse_count("99999999999999999999999"),
            Err(NumError::Overflow)
        );
        assert_eq!(parse_count("1Z"), Err(NumError::Overflow));
        assert_eq!(parse_count("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("2"), Some(2_000_000_000));
        assert_eq!(parse_duration_ns("1.5"), Some(1_500_000_000));
        assert_eq!(parse_duration_ns(".25s"), Some(250_000_000));
        assert_eq!(parse_duration_ns("0.1m"), Some(6_000_000_000));
        assert_eq!(parse_duration_ns("1h"), Some(3_600_000_000_000));
        assert_eq!(parse_duration_ns("1d"), Some(86_400_000_000_000));
        assert_eq!(parse_duration_ns("0"), Some(0));
        assert_eq!(parse_duration_ns("x"), None);
        assert_eq!(parse_duration_ns("."), None);
        assert_eq!(parse_duration_ns("1.2.3"), None);
        assert_eq!(parse_duration_ns("-1"), None);
        assert_eq!(parse_duration_ns(""), None);
        assert!(parse_duration_ns("99999999999999999999999999999999999999999d").is_some());
    }

    #[test]
    fn human_sizes_like_ls_h() {
        assert_eq!(human_size(0), "0");
        assert_eq!(human_size(1023), "1023");
        assert_eq!(human_size(1024), "1.0K");
        assert_eq!(human_size(1025), "1.1K");
        assert_eq!(human_size(1536), "1.5K");
        assert_eq!(human_size(10 * 1024), "10K");
        assert_eq!(human_size(10 * 1024 + 1), "11K");
        assert_eq!(human_size(1024 * 1024 - 1), "1.0M");
        assert_eq!(human_size(1024 * 1024), "1.0M");
        assert_eq!(human_size(5 << 30), "5.0G");
        assert_eq!(human_size(u64::MAX), "16E");
    }
}
