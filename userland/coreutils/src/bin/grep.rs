//! `grep [OPTION]... PATTERNS [FILE]...`: prints the lines that match. Patterns are
//! POSIX basic regular expressions (`-G`, default), extended ones (`-E`) or fixed
//! strings (`-F`); see `coreutils::regex` for the syntax. Options: `-e PAT`, `-f FILE`,
//! `-i`/`-y`, `-v`, `-w`, `-x`, `-c`, `-l`, `-L`, `-m NUM`, `-n`, `-h`/`-H`, `-q`, `-s`.
//! Exit status 0 if a line was selected, 1 if none, 2 on an error (unless `-q` selected
//! one). A file with a NUL byte is binary: `grep: FILE: binary file matches` on standard
//! error instead of its lines.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::string::String;
    use alloc::vec::Vec;

    use coreutils::args::Spec;
    use coreutils::regex::{Flags, Regex, Syntax};
    use coreutils::sys::{self, Input};
    use coreutils::{err, out};
    use libway::Args;

    const HELP: &str = "[OPTION]... PATTERNS [FILE]...\nSearch for PATTERNS in each FILE.\n\n  -E, --extended-regexp     PATTERNS are extended regular expressions\n  -F, --fixed-strings       PATTERNS are strings\n  -G, --basic-regexp        PATTERNS are basic regular expressions\n  -e, --regexp=PATTERNS     use PATTERNS for matching\n  -f, --file=FILE           take PATTERNS from FILE\n  -i, --ignore-case         ignore case distinctions in patterns and data\n  -w, --word-regexp         match only whole words\n  -x, --line-regexp         match only whole lines\n  -v, --invert-match        select non-matching lines\n  -m, --max-count=NUM       stop after NUM selected lines\n  -n, --line-number         print line number with output lines\n  -H, --with-filename       print file name with output lines\n  -h, --no-filename         suppress the file name prefix on output\n  -q, --quiet, --silent     suppress all normal output\n  -s, --no-messages         suppress error messages\n  -L, --files-without-match print only names of FILEs with no selected lines\n  -l, --files-with-matches  print only names of FILEs with selected lines\n  -c, --count               print only a count of selected lines per FILE\n\nWhen FILE is '-', read standard input.  With no FILE, read standard input.\nExit status is 0 if any line is selected, 1 otherwise;\nif any error occurs and -q is not given, the exit status is 2.\n";
    const SPEC: Spec = Spec {
        short: "EFGe:f:iywxvm:nHhqsLlc",
        long: &[
            ("extended-regexp", 'E', false),
            ("fixed-strings", 'F', false),
            ("basic-regexp", 'G', false),
            ("regexp", 'e', true),
            ("file", 'f', true),
            ("ignore-case", 'i', false),
            ("word-regexp", 'w', false),
            ("line-regexp", 'x', false),
            ("invert-match", 'v', false),
            ("max-count", 'm', true),
            ("line-number", 'n', false),
            ("with-filename", 'H', false),
            ("no-filename", 'h', false),
            ("quiet", 'q', false),
            ("silent", 'q', false),
            ("no-messages", 's', false),
            ("files-without-match", 'L', false),
            ("files-with-matches", 'l', false),
            ("count", 'c', false),
        ],
        permute: true,
        numbers: false,
    };

    #[derive(Default)]
    struct Opts {
        invert: bool,
        count: bool,
        list: bool,
        list_without: bool,
        number: bool,
        names: bool,
        quiet: bool,
        silent: bool,
        max: Option<u64>,
    }

    /// What one file gave: lines selected, and whether reading it failed.
    fn search(re: &Regex, input: &mut Input, shown: &str, o: &Opts) -> (u64, bool) {
        let mut selected = 0u64;
        let mut lineno = 0u64;
        let mut binary = false;
        let mut line = Vec::new();
        let mut chars: Vec<char> = Vec::new();
        loop {
            if o.max.is_some_and(|m| selected >= m) {
                break;
            }
            line.clear();
            match input.read_line(&mut line) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    if !o.silent {
                        err!("{shown}: {}", sys::errno(e));
                    }
                    return (selected, true);
                }
            }
            lineno += 1;
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            if text.contains(&0) {
                binary = true;
            }
            chars.clear();
            chars.extend(String::from_utf8_lossy(text).chars());
            if re.is_match(&chars) == o.invert {
                continue;
            }
            selected += 1;
            if o.quiet {
                sys::finish(0);
                libway::process::exit(0);
            }
            if o.list || o.list_without {
                break;
            }
            if o.count {
                continue;
            }
            if binary {
                sys::flush();
                let msg = alloc::format!("{}: {shown}: binary file matches\n", sys::prog());
                let _ = libway::io::write_all(libway::io::STDERR, msg.as_bytes());
                return (selected, false);
            }
            if o.names {
                out!("{shown}:");
            }
            if o.number {
                out!("{lineno}:");
            }
            sys::write(text);
            sys::write(b"\n");
        }
        (selected, false)
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 2) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut syntax = Syntax::Basic;
        let mut flags = Flags::default();
        let mut o = Opts::default();
        let mut patterns: Vec<String> = Vec::new();
        let mut given = false;
        let mut names: Option<bool> = None;
        for (c, v) in &p.opts {
            match (c, v) {
                ('E', _) => syntax = Syntax::Extended,
                ('F', _) => syntax = Syntax::Fixed,
                ('G', _) => syntax = Syntax::Basic,
                ('e', Some(v)) => {
                    patterns.extend(v.split('\n').map(String::from));
                    given = true;
                }
                ('f', Some(v)) => {
                    let data = match Input::open(v).and_then(|mut i| i.read_all()) {
                        Ok(d) => d,
                        Err(e) => {
                            err!("{v}: {}", sys::errno(e));
                            return 2;
                        }
                    };
                    patterns.extend(sys::lines(&data).map(sys::lossy));
                    given = true;
                }
                ('i', _) | ('y', _) => flags.icase = true,
                ('w', _) => flags.word = true,
                ('x', _) => flags.line = true,
                ('v', _) => o.invert = true,
                ('m', Some(v)) => match coreutils::num::parse_u64(v) {
                    Some(n) => o.max = Some(n),
                    None => {
                        err!("invalid max count");
                        return 2;
                    }
                },
                ('n', _) => o.number = true,
                ('H', _) => names = Some(true),
                ('h', _) => names = Some(false),
                ('q', _) => o.quiet = true,
                ('s', _) => o.silent = true,
                ('L', _) => o.list_without = true,
                ('l', _) => o.list = true,
                ('c', _) => o.count = true,
                _ => {}
            }
        }
        let mut operands = p.operands.clone();
        if !given {
            if operands.is_empty() {
                sys::flush();
                let msg = alloc::format!(
                    "Usage: {} [OPTION]... PATTERNS [FILE]...\n{}\n",
                    sys::prog(),
                    coreutils::args::try_help(sys::prog())
                );
                let _ = libway::io::write_all(libway::io::STDERR, msg.as_bytes());
                return 2;
            }
            patterns.extend(operands.remove(0).split('\n').map(String::from));
        }
        let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
        let re = match Regex::new(&refs, syntax, flags) {
            Ok(r) => r,
            Err(e) => {
                err!("{}", e.0);
                return 2;
            }
        };
        if operands.is_empty() {
            operands.push("-");
        }
        o.names = names.unwrap_or(operands.len() > 1);
        let mut any = false;
        let mut trouble = false;
        for name in &operands {
            let shown = if *name == "-" {
                "(standard input)"
            } else {
                name
            };
            let mut input = match Input::open(name) {
                Ok(i) => i,
                Err(e) => {
                    if !o.silent {
                        err!("{shown}: {}", sys::errno(e));
                    }
                    trouble = true;
                    continue;
                }
            };
            let (n, failed) = search(&re, &mut input, shown, &o);
            trouble |= failed;
            any |= n > 0;
            if o.count {
                if o.names {
                    out!("{shown}:");
                }
                coreutils::outln!("{n}");
            }
            if (o.list && n > 0) || (o.list_without && n == 0 && !failed) {
                coreutils::outln!("{shown}");
            }
        }
        if trouble && !(o.quiet && any) {
            2
        } else if any {
            0
        } else {
            1
        }
    }
}
