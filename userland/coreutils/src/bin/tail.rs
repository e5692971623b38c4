//! `tail [-n [+]NUM] [-c [+]NUM] [-f] [-qv] [FILE]...`: the last 10 (or NUM) lines or NUM
//! bytes of each file; with `+NUM`, everything from line or byte NUM on. `-NUM` and
//! `+NUM` alone are the old forms of `-n`. `-f` keeps printing what is appended to the
//! (last) regular file, checking once a second, until killed.
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
    use coreutils::err;
    use coreutils::errmsg::quote;
    use coreutils::headtail;
    use coreutils::sys::{self, Input};
    use coreutils::text::{last_lines_start, line_start};
    use libway::fs::StatExt;
    use libway::Args;

    const HELP: &str = "[OPTION]... [FILE]...\nPrint the last 10 lines of each FILE to standard output.\nWith more than one FILE, precede each with a header giving the file name.\n\nWith no FILE, or when FILE is -, read standard input.\n\n  -c, --bytes=[+]NUM       output the last NUM bytes; or use -c +NUM to\n                             output starting with byte NUM of each file\n  -f, --follow             output appended data as the file grows\n  -n, --lines=[+]NUM       output the last NUM lines, instead of the last 10;\n                             or use -n +NUM to skip NUM-1 lines at the start\n  -q, --quiet, --silent    never output headers giving file names\n  -v, --verbose            always output headers giving file names\n";
    const SPEC: Spec = Spec {
        short: "c:fn:qv",
        long: &[
            ("bytes", 'c', true),
            ("follow", 'f', false),
            ("lines", 'n', true),
            ("quiet", 'q', false),
            ("silent", 'q', false),
            ("verbose", 'v', false),
        ],
        permute: true,
        numbers: false,
    };

    #[derive(Clone, Copy)]
    struct Mode {
        bytes: bool,
        /// `+NUM`: from NUM on.
        from: bool,
        n: u64,
    }

    fn parse_mode(v: &str, bytes: bool) -> Result<Mode, String> {
        let (from, num) = match v.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, v.strip_prefix('-').unwrap_or(v)),
        };
        headtail::count(v, num, bytes).map(|n| Mode { bytes, from, n })
    }

    fn start(data: &[u8], m: Mode) -> usize {
        let n = usize::try_from(m.n).unwrap_or(usize::MAX);
        match (m.bytes, m.from) {
            (true, true) => n.saturating_sub(1).min(data.len()),
            (true, false) => data.len().saturating_sub(n),
            (false, true) => line_start(data, m.n),
            (false, false) => last_lines_start(data, m.n),
        }
    }

    /// `-f`: prints what is appended to `input` (a regular file) forever.
    fn follow(input: &mut Input) -> i32 {
        loop {
            match input.chunk() {
                Ok([]) => {
                    sys::flush();
                    let _ = libway::time::sleep_ms(1000);
                    input.clear_eof();
                }
                Ok(data) => sys::write(data),
                Err(_) => return 1,
            }
        }
    }

    pub fn main(args: Args) -> i32 {
        let mut words: Vec<String> = sys::operands(&args).into_iter().map(String::from).collect();
        headtail::obsolete(&mut words, true);
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let p = match coreutils::args::parse(&refs, &SPEC) {
            Ok(p) => p,
            Err(e) => return sys::usage_error(format_args!("{e}"), 1),
        };
        if p.has(coreutils::args::HELP) || p.has(coreutils::args::VERSION) {
            return match sys::parse_args(&args, &SPEC, HELP, 1) {
                Ok(_) => 0,
                Err(s) => s,
            };
        }
        let mut mode = Mode {
            bytes: false,
            from: false,
            n: 10,
        };
        let headers = match headtail::options(&p, &mut mode, parse_mode) {
            Ok(h) => h,
            Err(status) => return status,
        };
        let mut last: Option<Input> = None;
        let status = headtail::each_file(&p.operands, headers, |shown, mut input| {
            match input.read_all() {
                Ok(data) => sys::write(&data[start(&data, mode)..]),
                Err(e) => {
                    err!("error reading {}: {}", quote(shown), sys::errno(e));
                    return false;
                }
            }
            last = Some(input);
            true
        });
        if p.has('f') {
            if let Some(mut input) = last {
                if input.stat().is_ok_and(|s| s.is_file()) {
                    return follow(&mut input);
                }
            }
        }
        status
    }
}
