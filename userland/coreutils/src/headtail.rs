//! What `head` and `tail` share (WayOS only): the old `-NUM` / `+NUM` first word, the
//! `-n`/`-c` count with its GNU error wording, the `-q`/`-v` header rule and the loop
//! over the files with their `==> NAME <==` headers.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::args::Parsed;
use crate::errmsg::quote;
use crate::num::{parse_count, NumError};
use crate::sys::{self, Input};

/// Rewrites an old-style first word (`-5`, and `+5` when `plus` is allowed) as `-n 5`
/// (`-n +5`).
pub fn obsolete(words: &mut Vec<String>, plus: bool) {
    let Some(first) = words.first() else {
        return;
    };
    let sign = first.chars().next();
    let digits = first.get(1..).unwrap_or("");
    let signed = sign == Some('-') || (plus && sign == Some('+'));
    if signed && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let n = if sign == Some('+') {
            format!("+{digits}")
        } else {
            String::from(digits)
        };
        words[0] = String::from("-n");
        words.insert(1, n);
    }
}

/// The count of `-n`/`-c` (`num`, sign already removed; `v` is the word as given).
pub fn count(v: &str, num: &str, bytes: bool) -> Result<u64, String> {
    let what = if bytes { "bytes" } else { "lines" };
    match parse_count(num) {
        Ok(n) => Ok(n),
        Err(NumError::Invalid) => Err(format!("invalid number of {what}: {}", quote(v))),
        Err(NumError::Overflow) => Err(format!(
            "invalid number of {what}: {}: Value too large for defined data type",
            quote(v)
        )),
    }
}

/// Applies `-n`/`-c` (through `parse(value, bytes)`, last one wins) to `mode`; returns
/// whether headers are forced on or off (`-v`/`-q`). `Err` is the exit status after the
/// message.
pub fn options<M>(
    p: &Parsed<'_>,
    mode: &mut M,
    parse: impl Fn(&str, bool) -> Result<M, String>,
) -> Result<Option<bool>, i32> {
    let mut headers = None;
    for (c, v) in &p.opts {
        match (c, v) {
            ('n', Some(v)) | ('c', Some(v)) => match parse(v, *c == 'c') {
                Ok(m) => *mode = m,
                Err(msg) => {
                    sys::error(format_args!("{msg}"));
                    return Err(1);
                }
            },
            ('q', _) => headers = Some(false),
            ('v', _) => headers = Some(true),
            _ => {}
        }
    }
    Ok(headers)
}

/// Opens each operand (standard input when there is none, or for `-`), prints its header
/// when `headers` (default: more than one file) asks for it, and hands it to `each` with
/// the name to show in messages. Returns 1 if a file could not be opened or `each`
/// reported a failure, else 0.
pub fn each_file(
    operands: &[&str],
    headers: Option<bool>,
    mut each: impl FnMut(&str, Input) -> bool,
) -> i32 {
    let files: Vec<&str> = if operands.is_empty() {
        alloc::vec!["-"]
    } else {
        operands.to_vec()
    };
    let show = headers.unwrap_or(files.len() > 1);
    let mut status = 0;
    // GNU puts a blank line before every header but the first one printed.
    let mut first = true;
    for name in &files {
        let shown = if *name == "-" { "standard input" } else { name };
        let input = match Input::open(name) {
            Ok(inp) => inp,
            Err(e) => {
                sys::error(format_args!(
                    "cannot open {} for reading: {}",
                    quote(name),
                    sys::errno(e)
                ));
                status = 1;
                continue;
            }
        };
        if show {
            if !first {
                sys::write(b"\n");
            }
            first = false;
            crate::outln!("==> {shown} <==");
        }
        if !each(shown, input) {
            status = 1;
        }
    }
    status
}
