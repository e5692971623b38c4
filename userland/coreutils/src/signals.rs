//! Signal names and numbers as Linux (and so WayOS) numbers them, for `kill`.

use alloc::format;
use alloc::string::String;

/// Highest signal number.
pub const MAX: i32 = 64;
/// The first real-time signal (glibc keeps 32 and 33 for itself).
const RTMIN: i32 = 34;

const NAMES: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "POLL", "PWR", "SYS",
];

/// The name of signal `n` without `SIG` (`KILL`, `RTMIN+2`), if it has one.
pub fn name(n: i32) -> Option<String> {
    match n {
        1..=31 => Some(String::from(NAMES[(n - 1) as usize])),
        RTMIN => Some(String::from("RTMIN")),
        MAX => Some(String::from("RTMAX")),
        35..=49 => Some(format!("RTMIN+{}", n - RTMIN)),
        50..=63 => Some(format!("RTMAX-{}", MAX - n)),
        _ => None,
    }
}

/// A signal given by name (`TERM`, `SIGTERM`, `term`, `RTMIN+1`) or number (0..=64).
pub fn parse(s: &str) -> Option<i32> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i32 = s.parse().ok()?;
        return (0..=MAX).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let bare = up.strip_prefix("SIG").unwrap_or(&up);
    if bare.is_empty() {
        return None;
    }
    (1..=MAX).find(|&n| name(n).as_deref() == Some(bare))
}

/// `kill -l N`: a signal number or an exit status of a process it killed (128 + N).
pub fn from_number_or_status(s: &str) -> Option<i32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = s.parse().ok()?;
    let n = if n > 128 { n - 128 } else { n };
    (1..=MAX as i64)
        .contains(&n)
        .then_some(n as i32)
        .filter(|&n| name(n).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(name(9).as_deref(), Some("KILL"));
        assert_eq!(name(15).as_deref(), Some("TERM"));
        assert_eq!(name(31).as_deref(), Some("SYS"));
        assert_eq!(name(32), None);
        assert_eq!(name(34).as_deref(), Some("RTMIN"));
        assert_eq!(name(35).as_deref(), Some("RTMIN+1"));
        assert_eq!(name(63).as_deref(), Some("RTMAX-1"));
        assert_eq!(name(64).as_deref(), Some("RTMAX"));
        assert_eq!(parse("TERM"), Some(15));
        assert_eq!(parse("SIGKILL"), Some(9));
        assert_eq!(parse("int"), Some(2));
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("64"), Some(64));
        assert_eq!(parse("65"), None);
        assert_eq!(parse("RTMIN+2"), Some(36));
        assert_eq!(parse("FOO"), None);
        assert_eq!(parse("SIG"), None);
        assert_eq!(parse(""), None);
        assert_eq!(from_number_or_status("9"), Some(9));
        assert_eq!(from_number_or_status("137"), Some(9));
        assert_eq!(from_number_or_status("32"), None);
        assert_eq!(from_number_or_status("x"), None);
    }
}
