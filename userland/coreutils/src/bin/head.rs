//! `head [-n [-]NUM] [-c [-]NUM] [-qv] [FILE]...`: the first 10 (or NUM) lines or NUM
//! bytes of each file; with a leading `-`, all but the last NUM. `-NUM` alone is `-n
//! NUM`. Several files get `==> NAME <==` headers. It stops reading as soon as it has
//! what it prints, so `yes | head` ends.
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
    use coreutils::text::{last_lines_start, take_lines};
    use libway::Args;

    const HELP: &str = "[OPTION]... [FILE]...\nPrint the first 10 lines of each FILE to standard output.\nWith more than one FILE, precede each with a header giving the file name.\n\nWith no FILE, or when FILE is -, read standard input.\n\n  -c, --bytes=[-]NUM       print the first NUM bytes of each file;\n                             with the leading '-', print all but the last\n                             NUM bytes of each file\n  -n, --lines=[-]NUM       print the first NUM lines instead of the first 10;\n                             with the leading '-', print all but the last\n                             NUM lines of each file\n  -q, --quiet, --silent    never print headers giving file names\n  -v, --verbose            always print headers giving file names\n\nNUM may have a multiplier suffix: b 512, kB 1000, K 1024, MB 1000*1000,\nM 1024*1024, GB, G, T, P, E.\n";
    const SPEC: Spec = Spec {
        short: "c:n:qv",
        long: &[
            ("bytes", 'c', true),
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
        /// All but the last `n`.
        all_but: bool,
        n: u64,
    }

    fn parse_mode(v: &str, bytes: bool) -> Result<Mode, String> {
        let (all_but, num) = match v.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, v),
        };
        headtail::count(v, num, bytes).map(|n| Mode { bytes, all_but, n })
    }

    /// Copies what `mode` selects of `input`; the error of a failed read.
    fn head(input: &mut Input, mode: Mode) -> Result<(), libway::Errno> {
        if mode.all_but {
            let data = input.read_all()?;
            let end = if mode.bytes {
                data.len()
                    .saturating_sub(usize::try_from(mode.n).unwrap_or(usize::MAX))
            } else {
                last_lines_start(&data, mode.n)
            };
            sys::write(&data[..end]);
            return Ok(());
        }
        let mut left = mode.n;
        while left > 0 {
            let chunk = input.chunk()?;
            if chunk.is_empty() {
                break;
            }
            let take = if mode.bytes {
                let t = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                left -= t as u64;
                t
            } else {
                take_lines(chunk, &mut left)
            };
            sys::write(&chunk[..take]);
        }
        Ok(())
    }

    pub fn main(args: Args) -> i32 {
        let mut words: Vec<String> = sys::operands(&args).into_iter().map(String::from).collect();
        headtail::obsolete(&mut words, false);
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
            all_but: false,
            n: 10,
        };
        let headers = match headtail::options(&p, &mut mode, parse_mode) {
            Ok(h) => h,
            Err(status) => return status,
        };
        headtail::each_file(&p.operands, headers, |shown, mut input| {
            match head(&mut input, mode) {
                Ok(()) => true,
                Err(e) => {
                    err!("error reading {}: {}", quote(shown), sys::errno(e));
                    false
                }
            }
        })
    }
}
