//! `date [-uR] [-I[FMT]] [-d STRING | -r FILE] [+FORMAT]`: the date and time in UTC
//! (`CLOCK_REALTIME`: the RTC read at boot plus the time since), in GNU's default format
//! or `+FORMAT` (see `coreutils::date::strftime`). `-d` takes `@SECONDS`, `now`,
//! `YYYY-MM-DD [HH:MM[:SS]]`. Setting the date is not possible.
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
    use coreutils::date::{parse_date, strftime, DEFAULT_FORMAT};
    use coreutils::errmsg::quote;
    use coreutils::{err, outln, sys};
    use libway::Args;

    const HELP: &str = "[OPTION]... [+FORMAT]\nDisplay the date and time (UTC) in the given FORMAT.\n\n  -d, --date=STRING          display time described by STRING, not 'now'\n  -I[FMT], --iso-8601[=FMT]  output date/time in ISO 8601 format.\n                               FMT='date' for date only (the default),\n                               'hours', 'minutes', 'seconds', or 'ns'\n  -r, --reference=FILE       display the last modification time of FILE\n  -R, --rfc-email            output date and time in RFC 5322 format\n  -u, --utc, --universal     print Coordinated Universal Time (always)\n\nFORMAT controls the output: %Y year, %m month, %d day, %H hour, %M minute,\n%S second, %s seconds since the epoch, %a %b names, %F %T %D %R %c ...\n";
    const SPEC: Spec = Spec {
        short: "d:r:Ru",
        long: &[
            ("date", 'd', true),
            ("reference", 'r', true),
            ("rfc-email", 'R', false),
            ("utc", 'u', false),
            ("universal", 'u', false),
        ],
        permute: true,
        numbers: false,
    };

    /// The format `-I` / `--iso-8601` stands for.
    fn iso(fmt: &str) -> Option<&'static str> {
        Some(match fmt {
            "" | "date" => "%Y-%m-%d",
            "hours" => "%Y-%m-%dT%H%:z",
            "minutes" => "%Y-%m-%dT%H:%M%:z",
            "seconds" => "%Y-%m-%dT%H:%M:%S%:z",
            "ns" => "%Y-%m-%dT%H:%M:%S,%N%:z",
            _ => return None,
        })
    }

    pub fn main(args: Args) -> i32 {
        // -I takes an optional attached argument, which the common parser cannot express.
        let mut words: Vec<&str> = Vec::new();
        let mut format: Option<String> = None;
        for w in sys::operands(&args) {
            let iso_arg = w
                .strip_prefix("--iso-8601")
                .map(|r| r.strip_prefix('=').unwrap_or(r))
                .or_else(|| w.strip_prefix("-I"));
            match iso_arg {
                Some(a) => match iso(a) {
                    Some(f) => format = Some(String::from(f)),
                    None => {
                        err!("invalid argument {} for '--iso-8601'", quote(a));
                        sys::try_help();
                        return 1;
                    }
                },
                None => words.push(w),
            }
        }
        let p = match coreutils::args::parse(&words, &SPEC) {
            Ok(p) => p,
            Err(e) => return sys::usage_error(format_args!("{e}"), 1),
        };
        if p.has(coreutils::args::HELP) || p.has(coreutils::args::VERSION) {
            return match sys::parse_args(&args, &SPEC, HELP, 1) {
                Ok(_) => 0,
                Err(s) => s,
            };
        }
        if p.has('R') {
            format = Some(String::from("%a, %d %b %Y %H:%M:%S %z"));
        }
        let mut time = sys::now();
        if let Some(d) = p.last('d') {
            match parse_date(d, time) {
                Some(t) => time = t,
                None => {
                    err!("invalid date {}", quote(d));
                    return 1;
                }
            }
        }
        if let Some(r) = p.last('r') {
            match libway::fs::stat(r) {
                Ok(st) => time = sys::time_of(st.mtime),
                Err(e) => {
                    err!("{r}: {}", sys::errno(e));
                    return 1;
                }
            }
        }
        for op in &p.operands {
            match op.strip_prefix('+') {
                Some(f) if format.is_none() => format = Some(String::from(f)),
                Some(_) => {
                    return sys::usage_error(format_args!("multiple output formats specified"), 1);
                }
                None if p.operands.len() == 1 => {
                    err!("cannot set date: Operation not permitted");
                    return 1;
                }
                None => return sys::usage_error(format_args!("extra operand {}", quote(op)), 1),
            }
        }
        let fmt = format.unwrap_or_else(|| String::from(DEFAULT_FORMAT));
        outln!("{}", strftime(&fmt, time));
        0
    }
}
