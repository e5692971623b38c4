//! Error wording: errno numbers as glibc's `strerror` words them, and file names quoted
//! the way GNU coreutils quote them in messages (C locale).

use alloc::format;
use alloc::string::String;
use core::fmt;

/// `strerror(errno)` in glibc's English wording; `Unknown error N` otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrError(pub isize);

/// The text glibc gives for `e`, if it is one of the numbers WayOS uses.
pub const fn describe(e: isize) -> Option<&'static str> {
    Some(match e {
        1 => "Operation not permitted",
        2 => "No such file or directory",
        3 => "No such process",
        4 => "Interrupted system call",
        5 => "Input/output error",
        6 => "No such device or address",
        7 => "Argument list too long",
        8 => "Exec format error",
        9 => "Bad file descriptor",
        10 => "No child processes",
        11 => "Resource temporarily unavailable",
        12 => "Cannot allocate memory",
        13 => "Permission denied",
        14 => "Bad address",
        16 => "Device or resource busy",
        17 => "File exists",
        18 => "Invalid cross-device link",
        19 => "No such device",
        20 => "Not a directory",
        21 => "Is a directory",
        22 => "Invalid argument",
        24 => "Too many open files",
        25 => "Inappropriate ioctl for device",
        27 => "File too large",
        28 => "No space left on device",
        29 => "Illegal seek",
        30 => "Read-only file system",
        32 => "Broken pipe",
        34 => "Numerical result out of range",
        36 => "File name too long",
        38 => "Function not implemented",
        39 => "Directory not empty",
        74 => "Bad message",
        88 => "Socket operation on non-socket",
        89 => "Destination address required",
        90 => "Message too long",
        93 => "Protocol not supported",
        95 => "Operation not supported",
        98 => "Address already in use",
        99 => "Cannot assign requested address",
        100 => "Network is down",
        101 => "Network is unreachable",
        103 => "Software caused connection abort",
        104 => "Connection reset by peer",
        105 => "No buffer space available",
        106 => "Transport endpoint is already connected",
        107 => "Transport endpoint is not connected",
        110 => "Connection timed out",
        111 => "Connection refused",
        113 => "No route to host",
        114 => "Operation already in progress",
        115 => "Operation now in progress",
        122 => "Disk quota exceeded",
        125 => "Operation canceled",
        _ => return None,
    })
}

impl fmt::Display for StrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match describe(self.0) {
            Some(s) => f.write_str(s),
            None => write!(f, "Unknown error {}", self.0),
        }
    }
}

/// Characters that make the shell treat a word specially anywhere in it.
fn shell_special(c: char) -> bool {
    matches!(
        c,
        ' ' | '!'
            | '"'
            | '$'
            | '&'
            | '\''
            | '('
            | ')'
            | '*'
            | ';'
            | '<'
            | '='
            | '>'
            | '?'
            | '['
            | '\\'
            | '^'
            | '`'
            | '|'
    ) || c.is_control()
}

/// Quotes `name` for a message, always (GNU `quote`/`quoteaf` in the C locale, shell
/// escape style): `'a b'`, `"it's"`, `'a'\''b"c'`, `'new'$'\n''line'`.
pub fn quote(name: &str) -> String {
    if name.chars().any(|c| c.is_control()) {
        return quote_with_controls(name);
    }
    if !name.contains('\'') {
        return format!("'{name}'");
    }
    if !name.contains(['"', '$', '`', '\\', '!']) {
        return format!("\"{name}\"");
    }
    let mut s = String::from("'");
    for c in name.chars() {
        if c == '\'' {
            s.push_str("'\\''");
        } else {
            s.push(c);
        }
    }
    s.push('\'');
    s
}

/// `$'...'` pieces for control characters, the rest in single quotes.
fn quote_with_controls(name: &str) -> String {
    let mut s = String::new();
    let mut open = false;
    for c in name.chars() {
        if c.is_control() {
            if open {
                s.push('\'');
                open = false;
            }
            let esc = match c {
                '\n' => String::from("\\n"),
                '\t' => String::from("\\t"),
                '\r' => String::from("\\r"),
                '\x07' => String::from("\\a"),
                '\x08' => String::from("\\b"),
                '\x0b' => String::from("\\v"),
                '\x0c' => String::from("\\f"),
                c if (c as u32) < 0x100 => format!("\\{:03o}", c as u32),
                c => format!("\\u{:04x}", c as u32),
            };
            s.push_str("$'");
            s.push_str(&esc);
            s.push('\'');
        } else {
            if !open {
                s.push('\'');
                open = true;
            }
            if c == '\'' {
                s.push_str("'\\''");
            } else {
                s.push(c);
            }
        }
    }
    if open {
        s.push('\'');
    }
    if s.is_empty() {
        s.push_str("''");
    }
    s
}

/// Quotes `name` only if the shell would need it (GNU `quotef`): `cat: a b: ...` becomes
/// `cat: 'a b': ...`, `cat: x: ...` stays.
pub fn quotef(name: &str) -> String {
    let first_special = name.starts_with(['#', '~']);
    if name.is_empty() || first_special || name.chars().any(shell_special) {
        quote(name)
    } else {
        String::from(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn glibc_wording() {
        assert_eq!(StrError(2).to_string(), "No such file or directory");
        assert_eq!(StrError(21).to_string(), "Is a directory");
        assert_eq!(StrError(39).to_string(), "Directory not empty");
        assert_eq!(StrError(3).to_string(), "No such process");
        assert_eq!(StrError(999).to_string(), "Unknown error 999");
    }

    #[test]
    fn quoting_like_gnu() {
        assert_eq!(quote("nosuch"), "'nosuch'");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "\"it's\"");
        assert_eq!(quote("a'b$"), "'a'\\''b$'");
        assert_eq!(quote("a\nb"), "'a'$'\\n''b'");
        assert_eq!(quote(""), "''");
        assert_eq!(quotef("nosuch"), "nosuch");
        assert_eq!(quotef("/tmp/x.txt"), "/tmp/x.txt");
        assert_eq!(quotef("a b"), "'a b'");
        assert_eq!(quotef("~x"), "'~x'");
        assert_eq!(quotef("x~"), "x~");
    }
}
