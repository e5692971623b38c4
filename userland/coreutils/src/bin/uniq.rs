//! `uniq [OPTION]... [INPUT [OUTPUT]]`: drops adjacent repeated lines. `-c` counts, `-d`
//! prints only repeated lines, `-u` only unrepeated ones, `-i` ignores case, `-f N` /
//! `-s N` skip fields / characters, `-w N` compares at most N characters.
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
    use coreutils::errmsg::{quote, quotef};
    use coreutils::num::{parse_count, NumError};
    use coreutils::sys::{self, Input};
    use coreutils::uniq::{Opts, Uniq};
    use libway::fs::File;
    use libway::Args;

    const HELP: &str = "[OPTION]... [INPUT [OUTPUT]]\nFilter adjacent matching lines from INPUT (or standard input),\nwriting to OUTPUT (or standard output).\n\n  -c, --count           prefix lines by the number of occurrences\n  -d, --repeated        only print duplicate lines, one for each group\n  -f, --skip-fields=N   avoid comparing the first N fields\n  -i, --ignore-case     ignore differences in case when comparing\n  -s, --skip-chars=N    avoid comparing the first N characters\n  -u, --unique          only print unique lines\n  -w, --check-chars=N   compare no more than N characters in lines\n";
    const SPEC: Spec = Spec {
        short: "cdf:is:uw:",
        long: &[
            ("count", 'c', false),
            ("repeated", 'd', false),
            ("skip-fields", 'f', true),
            ("ignore-case", 'i', false),
            ("skip-chars", 's', true),
            ("unique", 'u', false),
            ("check-chars", 'w', true),
        ],
        permute: true,
        numbers: false,
    };

    fn number(v: &str, what: &str) -> Result<u64, i32> {
        match parse_count(v) {
            Ok(n) => Ok(n),
            Err(NumError::Overflow) => Ok(u64::MAX),
            Err(NumError::Invalid) => {
                err!("{}: invalid number of {what}", quote(v));
                Err(1)
            }
        }
    }

    /// Where the output goes.
    enum Sink {
        Stdout,
        File(File, &'static str),
    }

    impl Sink {
        fn put(&self, data: &mut Vec<u8>) -> Result<(), i32> {
            match self {
                Sink::Stdout => sys::write(data),
                Sink::File(f, name) => {
                    if let Err(e) = f.write_all(data) {
                        err!("{}: {}", quotef(name), sys::errno(e));
                        return Err(1);
                    }
                }
            }
            data.clear();
            Ok(())
        }
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut o = Opts {
            count: p.has('c'),
            repeated: p.has('d'),
            unique: p.has('u'),
            icase: p.has('i'),
            ..Opts::default()
        };
        for (c, v) in &p.opts {
            let r = match (c, v) {
                ('f', Some(v)) => number(v, "fields to skip").map(|n| o.skip_fields = n),
                ('s', Some(v)) => number(v, "bytes to skip").map(|n| o.skip_chars = n),
                ('w', Some(v)) => number(v, "bytes to compare").map(|n| o.check_chars = Some(n)),
                _ => Ok(()),
            };
            if let Err(s) = r {
                return s;
            }
        }
        if let Some(extra) = p.operands.get(2) {
            return sys::usage_error(format_args!("extra operand {}", quote(extra)), 1);
        }
        let name = p.operands.first().copied().unwrap_or("-");
        let mut input = match Input::open(name) {
            Ok(i) => i,
            Err(e) => {
                err!("{}: {}", quotef(name), sys::errno(e));
                return 1;
            }
        };
        let sink = match p.operands.get(1) {
            None => Sink::Stdout,
            Some(out) => match File::create(out) {
                Ok(f) => Sink::File(f, out),
                Err(e) => {
                    err!("{}: {}", quotef(out), sys::errno(e));
                    return 1;
                }
            },
        };
        let mut u = Uniq::new(o);
        let mut line = Vec::new();
        let mut out = Vec::new();
        loop {
            line.clear();
            match input.read_line(&mut line) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    err!("{}: {}", quotef(name), sys::errno(e));
                    return 1;
                }
            }
            u.line(line.strip_suffix(b"\n").unwrap_or(&line), &mut out);
            if out.len() >= 16 * 1024 {
                if let Err(s) = sink.put(&mut out) {
                    return s;
                }
            }
        }
        u.finish(&mut out);
        match sink.put(&mut out) {
            Ok(()) => 0,
            Err(s) => s,
        }
    }
}
