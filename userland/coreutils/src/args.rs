//! GNU `getopt_long`-style argument parsing.
//!
//! - Short options cluster (`-ln`); an option's argument is the rest of the word or the
//!   next word (`-n3`, `-n 3`), even if that starts with `-` (`head -n -3`).
//! - Long options take `--name=value` or `--name value`, and any unambiguous prefix of a
//!   name (`--lin` for `--lines`).
//! - `--` ends the options; `-` alone is an operand (standard input).
//! - With [`Spec::permute`] (GNU's default) options may follow operands (`ls /tmp -l`);
//!   without it the first operand ends the options (`env`, `yes`).
//! - With [`Spec::numbers`] a word like `-5` or `-1.5` that is not a defined option is an
//!   operand (`seq -5 5`).
//!
//! `--help` and `--version` are always known and come back as [`HELP`] and [`VERSION`].
//! Errors print as GNU's (`invalid option -- 'x'`, ...); [`OptError::try_help`] is the
//! `Try 'prog --help' ...` line that follows.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// What `--help` comes back as.
pub const HELP: char = '\u{1}';
/// What `--version` comes back as.
pub const VERSION: char = '\u{2}';

/// A long option: its name, the key it comes back as (usually the short option it
/// stands for), and whether it takes an argument.
pub type Long = (&'static str, char, bool);

/// The options a program knows.
#[derive(Clone, Copy)]
pub struct Spec {
    /// getopt-style: each option letter, followed by `:` if it takes an argument.
    pub short: &'static str,
    pub long: &'static [Long],
    /// Options may follow operands (GNU's default).
    pub permute: bool,
    /// `-5`, `-1.5` are operands unless `5`/`1` are options.
    pub numbers: bool,
}

impl Spec {
    /// Short options only, permuting.
    pub const fn short(short: &'static str) -> Self {
        Spec {
            short,
            long: &[],
            permute: true,
            numbers: false,
        }
    }

    /// Does short option `c` exist, and does it take an argument?
    fn short_kind(&self, c: char) -> Option<bool> {
        let mut it = self.short.chars().peekable();
        while let Some(o) = it.next() {
            let takes = it.peek() == Some(&':');
            if takes {
                it.next();
            }
            if o == c && o != ':' {
                return Some(takes);
            }
        }
        None
    }
}

/// The standard long options every program knows.
const STANDARD: [Long; 2] = [("help", HELP, false), ("version", VERSION, false)];

/// Options (in the order given) and operands.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub opts: Vec<(char, Option<&'a str>)>,
    pub operands: Vec<&'a str>,
}

impl<'a> Parsed<'a> {
    /// Was option `c` given?
    pub fn has(&self, c: char) -> bool {
        self.opts.iter().any(|(o, _)| *o == c)
    }

    /// The argument of the last `c` given.
    pub fn last(&self, c: char) -> Option<&'a str> {
        self.opts
            .iter()
            .rev()
            .find(|(o, _)| *o == c)
            .and_then(|(_, v)| *v)
    }
}

/// A command line getopt refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptError {
    Invalid(char),
    NeedsArg(char),
    UnknownLong(String),
    LongNeedsArg(String),
    LongTakesNoArg(String),
    Ambiguous(String, Vec<&'static str>),
}

impl fmt::Display for OptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptError::Invalid(c) => write!(f, "invalid option -- '{c}'"),
            OptError::NeedsArg(c) => write!(f, "option requires an argument -- '{c}'"),
            OptError::UnknownLong(s) => write!(f, "unrecognized option '{s}'"),
            OptError::LongNeedsArg(s) => write!(f, "option '--{s}' requires an argument"),
            OptError::LongTakesNoArg(s) => write!(f, "option '--{s}' doesn't allow an argument"),
            OptError::Ambiguous(s, all) => {
                write!(f, "option '{s}' is ambiguous; possibilities:")?;
                for name in all {
                    write!(f, " '--{name}'")?;
                }
                Ok(())
            }
        }
    }
}

/// `Try 'PROG --help' for more information.`
pub fn try_help(prog: &str) -> String {
    format!("Try '{prog} --help' for more information.")
}

/// Is `s` a negative number (`-5`, `-.5`, `-1e3` is not)?
fn looks_negative_number(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('-') else {
        return false;
    };
    let mut digits = 0;
    let mut dots = 0;
    for c in rest.chars() {
        match c {
            '0'..='9' => digits += 1,
            '.' => dots += 1,
            _ => return false,
        }
    }
    digits > 0 && dots <= 1
}

/// Parses `args` (without the program name) against `spec`.
pub fn parse<'a>(args: &[&'a str], spec: &Spec) -> Result<Parsed<'a>, OptError> {
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        i += 1;
        if arg == "--" {
            out.operands.extend_from_slice(&args[i..]);
            break;
        }
        let is_number = spec.numbers
            && looks_negative_number(arg)
            && arg
                .chars()
                .nth(1)
                .is_some_and(|c| spec.short_kind(c).is_none());
        if arg.len() < 2 || !arg.starts_with('-') || is_number {
            if spec.permute {
                out.operands.push(arg);
                continue;
            }
            out.operands.extend_from_slice(&args[i - 1..]);
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let (lname, key, takes) = find_long(spec, name, arg)?;
            let value = match (takes, value) {
                (true, Some(v)) => Some(v),
                (true, None) => {
                    let v = args
                        .get(i)
                        .copied()
                        .ok_or_else(|| OptError::LongNeedsArg(lname.into()))?;
                    i += 1;
                    Some(v)
                }
                (false, Some(_)) => return Err(OptError::LongTakesNoArg(lname.into())),
                (false, None) => None,
            };
            out.opts.push((key, value));
            continue;
        }
        // A cluster of short options.
        let body = &arg[1..];
        for (at, c) in body.char_indices() {
            match spec.short_kind(c) {
                None => return Err(OptError::Invalid(c)),
                Some(false) => out.opts.push((c, None)),
                Some(true) => {
                    let rest = &body[at + c.len_utf8()..];
                    let value = if !rest.is_empty() {
                        rest
                    } else {
                        let v = args.get(i).copied().ok_or(OptError::NeedsArg(c))?;
                        i += 1;
                        v
                    };
                    out.opts.push((c, Some(value)));
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// The long option `name` stands for: exact match, else a unique prefix.
fn find_long(spec: &Spec, name: &str, arg: &str) -> Result<(&'static str, char, bool), OptError> {
    let all = || spec.long.iter().chain(STANDARD.iter());
    if let Some(l) = all().find(|l| l.0 == name) {
        return Ok(*l);
    }
    let matches: Vec<&Long> = all()
        .filter(|l| !name.is_empty() && l.0.starts_with(name))
        .collect();
    match matches.as_slice() {
        [] => Err(OptError::UnknownLong(
            arg.split('=').next().unwrap_or(arg).into(),
        )),
        [one] => Ok(**one),
        many => {
            // Several names for the same option are not ambiguous.
            if many.iter().all(|l| l.1 == many[0].1 && l.2 == many[0].2) {
                Ok(*many[0])
            } else {
                Err(OptError::Ambiguous(
                    arg.split('=').next().unwrap_or(arg).into(),
                    many.iter().map(|l| l.0).collect(),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LS: Spec = Spec::short("alh1");
    const HEAD: Spec = Spec {
        short: "n:c:qv",
        long: &[
            ("lines", 'n', true),
            ("bytes", 'c', true),
            ("quiet", 'q', false),
            ("silent", 'q', false),
        ],
        permute: true,
        numbers: false,
    };

    #[test]
    fn clusters_and_operands_permute() {
        let p = parse(&["/tmp", "-la", "x", "-h"], &LS).unwrap();
        assert_eq!(p.opts, [('l', None), ('a', None), ('h', None)]);
        assert_eq!(p.operands, ["/tmp", "x"]);
    }

    #[test]
    fn arguments_attached_or_next_even_negative() {
        let p = parse(&["-n3", "-c", "-5", "f"], &HEAD).unwrap();
        assert_eq!(p.opts, [('n', Some("3")), ('c', Some("-5"))]);
        assert_eq!(p.operands, ["f"]);
        let p = parse(&["-qn", "7"], &HEAD).unwrap();
        assert_eq!(p.opts, [('q', None), ('n', Some("7"))]);
    }

    #[test]
    fn double_dash_and_single_dash() {
        let p = parse(&["-a", "--", "-l", "-"], &LS).unwrap();
        assert_eq!(p.opts, [('a', None)]);
        assert_eq!(p.operands, ["-l", "-"]);
        let p = parse(&["-"], &LS).unwrap();
        assert_eq!(p.operands, ["-"]);
    }

    #[test]
    fn long_options_with_values_and_prefixes() {
        let p = parse(&["--lines=4", "--bytes", "9", "--lin", "2"], &HEAD).unwrap();
        assert_eq!(
            p.opts,
            [('n', Some("4")), ('c', Some("9")), ('n', Some("2"))]
        );
        // quiet and silent are one option: a common prefix is not ambiguous.
        assert_eq!(parse(&["--qu"], &HEAD).unwrap().opts, [('q', None)]);
        assert_eq!(parse(&["--help"], &HEAD).unwrap().opts, [(HELP, None)]);
        assert_eq!(parse(&["--vers"], &HEAD).unwrap().opts, [(VERSION, None)]);
    }

    #[test]
    fn gnu_error_wording() {
        let e = |a: &[&str], s: &Spec| parse(a, s).unwrap_err().to_string();
        assert_eq!(e(&["-y"], &LS), "invalid option -- 'y'");
        assert_eq!(e(&["-n"], &HEAD), "option requires an argument -- 'n'");
        assert_eq!(e(&["--foo=1"], &HEAD), "unrecognized option '--foo'");
        assert_eq!(
            e(&["--lines"], &HEAD),
            "option '--lines' requires an argument"
        );
        assert_eq!(
            e(&["--quiet=1"], &HEAD),
            "option '--quiet' doesn't allow an argument"
        );
        const AMB: Spec = Spec {
            short: "",
            long: &[("lines", 'n', true), ("line-length", 'L', false)],
            permute: true,
            numbers: false,
        };
        assert_eq!(
            e(&["--line"], &AMB),
            "option '--line' is ambiguous; possibilities: '--lines' '--line-length'"
        );
        assert_eq!(try_help("ls"), "Try 'ls --help' for more information.");
    }

    #[test]
    fn without_permutation_the_first_operand_ends_options() {
        const ENV: Spec = Spec {
            short: "iu:",
            long: &[],
            permute: false,
            numbers: false,
        };
        let p = parse(&["-i", "A=1", "prog", "-x"], &ENV).unwrap();
        assert_eq!(p.opts, [('i', None)]);
        assert_eq!(p.operands, ["A=1", "prog", "-x"]);
    }

    #[test]
    fn negative_numbers_as_operands() {
        const SEQ: Spec = Spec {
            short: "s:w",
            long: &[],
            permute: true,
            numbers: true,
        };
        let p = parse(&["-5", "-w", "-1.5", "3"], &SEQ).unwrap();
        assert_eq!(p.opts, [('w', None)]);
        assert_eq!(p.operands, ["-5", "-1.5", "3"]);
        assert!(parse(&["-x"], &SEQ).is_err());
    }

    #[test]
    fn never_panics_on_odd_words() {
        for w in [
            "-", "--", "---", "-\u{e9}", "--=", "--=x", "-n\u{e9}", "\u{e9}",
        ] {
            let _ = parse(&[w, w], &HEAD);
            let _ = parse(&[w], &LS);
        }
    }
}
