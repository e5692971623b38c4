//! `sort [OPTION]... [FILE]...`: sorts lines in byte order (the C locale), or by the
//! options `-b -d -f -i -n -r` and keys `-k POS1[,POS2]` with separator `-t C`; `-u`
//! keeps one of equal lines, `-s` is stable, `-c`/`-C` check, `-o FILE` writes the result
//! to FILE (which may be an input). See `coreutils::sort` for the rules. Errors exit 2.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::vec::Vec;

    use coreutils::args::Spec;
    use coreutils::err;
    use coreutils::errmsg::quote;
    use coreutils::sort::{parse_key, Config, Order};
    use coreutils::sys::{self, Input};
    use libway::Args;

    const HELP: &str = "[OPTION]... [FILE]...\nWrite sorted concatenation of all FILE(s) to standard output.\n\nWith no FILE, or when FILE is -, read standard input.\n\n  -b, --ignore-leading-blanks  ignore leading blanks\n  -d, --dictionary-order      consider only blanks and alphanumeric characters\n  -f, --ignore-case           fold lower case to upper case characters\n  -i, --ignore-nonprinting    consider only printable characters\n  -n, --numeric-sort          compare according to string numerical value\n  -r, --reverse               reverse the result of comparisons\n  -c, --check                 check for sorted input; do not sort\n  -C                          like -c, but do not report first bad line\n  -k, --key=KEYDEF            sort via a key; KEYDEF gives location and type\n  -o, --output=FILE           write result to FILE instead of standard output\n  -s, --stable                stabilize sort by disabling last-resort comparison\n  -t, --field-separator=SEP   use SEP instead of non-blank to blank transition\n  -u, --unique                output only the first of lines that compare equal\n\nKEYDEF is F[.C][OPTS][,F[.C][OPTS]] for start and stop position, where F is a\nfield number and C a character position in the field; both are origin 1, and\nthe stop position defaults to the line's end.  OPTS is one or more of bdfinr.\n";
    const SPEC: Spec = Spec {
        short: "bdfinrcCk:o:st:u",
        long: &[
            ("ignore-leading-blanks", 'b', false),
            ("dictionary-order", 'd', false),
            ("ignore-case", 'f', false),
            ("ignore-nonprinting", 'i', false),
            ("numeric-sort", 'n', false),
            ("reverse", 'r', false),
            ("check", 'c', false),
            ("key", 'k', true),
            ("output", 'o', true),
            ("stable", 's', false),
            ("field-separator", 't', true),
            ("unique", 'u', false),
        ],
        permute: true,
        numbers: false,
    };

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 2) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut global = Order::default();
        let mut cfg = Config::default();
        let mut key_specs = Vec::new();
        let mut check: Option<bool> = None;
        let mut output: Option<&str> = None;
        for (c, v) in &p.opts {
            match (c, v) {
                ('k', Some(v)) => key_specs.push(*v),
                ('o', Some(v)) => output = Some(v),
                ('t', Some(v)) => {
                    if v.is_empty() {
                        err!("empty tab");
                        return 2;
                    }
                    if v.len() > 1 {
                        err!("multi-character tab {}", quote(v));
                        return 2;
                    }
                    cfg.tab = Some(v.as_bytes()[0]);
                }
                ('c', _) => check = Some(true),
                ('C', _) => check = Some(false),
                ('s', _) => cfg.stable = true,
                ('u', _) => cfg.unique = true,
                (c, _) => {
                    global.set(*c, false);
                }
            }
        }
        // A key without options of its own takes the global ones, wherever they appear.
        for spec in key_specs {
            match parse_key(spec, global) {
                Ok(k) => cfg.keys.push(k),
                Err(msg) => {
                    err!("{msg}");
                    return 2;
                }
            }
        }
        cfg.finish(global);
        let files: Vec<&str> = if p.operands.is_empty() {
            alloc::vec!["-"]
        } else {
            p.operands.clone()
        };
        if check.is_some() && files.len() > 1 {
            return sys::usage_error(
                format_args!("extra operand {} not allowed with -c", quote(files[1])),
                2,
            );
        }
        let mut data = Vec::new();
        for name in &files {
            let read = Input::open(name).and_then(|mut i| i.read_all());
            match read {
                Ok(d) => {
                    data.extend_from_slice(&d);
                    if !data.is_empty() && data.last() != Some(&b'\n') {
                        data.push(b'\n');
                    }
                }
                Err(e) => {
                    err!("cannot read: {name}: {}", sys::errno(e));
                    return 2;
                }
            }
        }
        let mut lines: Vec<&[u8]> = sys::lines(&data).collect();
        if let Some(report) = check {
            return match cfg.first_disorder(&lines) {
                None => 0,
                Some(i) => {
                    if report {
                        sys::flush();
                        let mut msg =
                            alloc::format!("{}: {}:{}: disorder: ", sys::prog(), files[0], i + 1)
                                .into_bytes();
                        msg.extend_from_slice(lines[i]);
                        msg.push(b'\n');
                        let _ = libway::io::write_all(libway::io::STDERR, &msg);
                    }
                    1
                }
            };
        }
        cfg.sort(&mut lines);
        let mut out = Vec::with_capacity(data.len());
        for l in &lines {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        match output {
            None => sys::write(&out),
            Some(path) => {
                if let Err(e) = libway::fs::write(path, &out) {
                    err!("open failed: {path}: {}", sys::errno(e));
                    return 2;
                }
            }
        }
        0
    }
}
