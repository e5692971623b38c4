//! `head [-n [-]NUM] [-c [-]NUM] [-qv] [FILE]...`: the first 10 (or NUM) lines or NUM
//! bytes of each file; with a leading `-`, all but the last NUM. `-NUM` alone is `-n
//! NUM`. Several files get `==> NAME <==` headers. It stops reading as soon as it has
//! what it prints, so `yes | head` ends.
#![cfg_attr(target_os = "none", no_std, no_main)]

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
    use coreutils::num::{parse_count, NumError};
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

    /// `-5` as the first argument means `-n 5`.
    fn obsolete(words: &mut Vec<String>) {
        if let Some(first) = words.first() {
            let d = first.get(1..).unwrap_or("");
            if first.starts_with('-') && !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) {
                let n = String::from(d);
                words[0] = String::from("-n");
                words.insert(1, n);
            }
        }
    }

    fn parse_mode(v: &str, bytes: bool) -> Result<Mode, String> {
        let (all_but, num) = match v.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, v),
        };
        let what = if bytes { "bytes" } else { "lines" };
        match parse_count(num) {
            Ok(n) => Ok(Mode { bytes, all_but, n }),
            Err(NumError::Invalid) => Err(alloc::format!("invalid number of {what}: {}", quote(v))),
            Err(NumError::Overflow) => Err(alloc::format!(
                "invalid number of {what}: {}: Value too large for defined data type",
                quote(v)
            )),
        }
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
        obsolete(&mut words);
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
        let mut headers: Option<bool> = None;
        for (c, v) in &p.opts {
            match (c, v) {
                ('n', Some(v)) | ('c', Some(v)) => match parse_mode(v, *c == 'c') {
                    Ok(m) => mode = m,
                    Err(msg) => {
                        err!("{msg}");
                        return 1;
                    }
                },
                ('q', _) => headers = Some(false),
                ('v', _) => headers = Some(true),
                _ => {}
            }
        }
        let files: Vec<&str> = if p.operands.is_empty() {
            alloc::vec!["-"]
        } else {
            p.operands.clone()
        };
        let show = headers.unwrap_or(files.len() > 1);
        let mut status = 0;
        // GNU puts a blank line before every header but the first one printed.
        let mut first = true;
        for name in &files {
            let shown = if *name == "-" { "standard input" } else { name };
            let mut input = match Input::open(name) {
                Ok(inp) => inp,
                Err(e) => {
                    err!("cannot open {} for reading: {}", quote(name), sys::errno(e));
                    status = 1;
                    continue;
                }
            };
            if show {
                if !first {
                    sys::write(b"\n");
                }
                first = false;
                coreutils::outln!("==> {shown} <==");
            }
            if let Err(e) = head(&mut input, mode) {
                err!("error reading {}: {}", quote(shown), sys::errno(e));
                status = 1;
            }
        }
        status
    }
}
