//! `wc [-clmwL] [FILE]...`: newline, word and byte counts (and characters, longest
//! line) per file and in total, laid out as GNU `wc` lays them out.
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
    use coreutils::errmsg::quotef;
    use coreutils::sys::{self, Input};
    use coreutils::wc::{format_line, number_width, Counter, Counts, InputInfo, Which};
    use libway::fs::StatExt;
    use libway::Args;

    const HELP: &str = "[OPTION]... [FILE]...\nPrint newline, word, and byte counts for each FILE, and a total line if\nmore than one FILE is specified.  With no FILE, or when FILE is -, read\nstandard input.\n\n  -c, --bytes            print the byte counts\n  -m, --chars            print the character counts\n  -l, --lines            print the newline counts\n  -L, --max-line-length  print the maximum display width\n  -w, --words            print the word counts\n";
    const SPEC: Spec = Spec {
        short: "cmlLw",
        long: &[
            ("bytes", 'c', false),
            ("chars", 'm', false),
            ("lines", 'l', false),
            ("max-line-length", 'L', false),
            ("words", 'w', false),
        ],
        permute: true,
        numbers: false,
    };

    fn info(name: Option<&str>) -> InputInfo {
        let st = match name {
            None | Some("-") => libway::fs::fstat(libway::io::STDIN),
            Some(n) => libway::fs::stat(n),
        };
        st.ok().map(|s| (s.is_file(), s.size))
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut which = Which::default();
        for (c, _) in &p.opts {
            match c {
                'c' => which.bytes = true,
                'm' => which.chars = true,
                'l' => which.lines = true,
                'L' => which.max_line = true,
                'w' => which.words = true,
                _ => {}
            }
        }
        let which = which.or_default();
        let names: Vec<Option<&str>> = if p.operands.is_empty() {
            alloc::vec![None]
        } else {
            p.operands.iter().map(|n| Some(*n)).collect()
        };
        let infos: Vec<InputInfo> = if names.len() == 1 && which.count() == 1 {
            alloc::vec![None]
        } else {
            names.iter().map(|n| info(*n)).collect()
        };
        let width = number_width(which, &infos);
        let mut total = Counts::default();
        let mut status = 0;
        for name in &names {
            let mut input = match Input::open(name.unwrap_or("-")) {
                Ok(i) => i,
                Err(e) => {
                    err!("{}: {}", quotef(name.unwrap_or("-")), sys::errno(e));
                    status = 1;
                    continue;
                }
            };
            let mut counter = Counter::new();
            loop {
                match input.chunk() {
                    Ok([]) => break,
                    Ok(data) => counter.feed(data),
                    Err(e) => {
                        err!("{}: {}", quotef(name.unwrap_or("-")), sys::errno(e));
                        status = 1;
                        break;
                    }
                }
            }
            let c = counter.finish();
            total.add(&c);
            sys::write_str(&format_line(&c, which, width, *name));
        }
        if names.len() > 1 {
            sys::write_str(&format_line(&total, which, width, Some("total")));
        }
        status
    }
}
