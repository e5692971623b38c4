//! `cat [-AbeEnstTuv] [FILE]...`: concatenates the files (standard input for none or
//! `-`) to standard output, optionally numbering lines, squeezing empty ones and showing
//! ends, tabs and non-printing bytes as GNU `cat` does.
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
    use coreutils::text::{Cat, CatOpts};
    use libway::Args;

    const HELP: &str = "[OPTION]... [FILE]...\nConcatenate FILE(s) to standard output.\n\nWith no FILE, or when FILE is -, read standard input.\n\n  -A, --show-all           equivalent to -vET\n  -b, --number-nonblank    number nonempty output lines, overrides -n\n  -e                       equivalent to -vE\n  -E, --show-ends          display $ at end of each line\n  -n, --number             number all output lines\n  -s, --squeeze-blank      suppress repeated empty output lines\n  -t                       equivalent to -vT\n  -T, --show-tabs          display TAB characters as ^I\n  -u                       (ignored)\n  -v, --show-nonprinting   use ^ and M- notation, except for LFD and TAB\n";
    const SPEC: Spec = Spec {
        short: "AbeEnstTuv",
        long: &[
            ("show-all", 'A', false),
            ("number-nonblank", 'b', false),
            ("show-ends", 'E', false),
            ("number", 'n', false),
            ("squeeze-blank", 's', false),
            ("show-tabs", 'T', false),
            ("show-nonprinting", 'v', false),
        ],
        permute: true,
        numbers: false,
    };

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut o = CatOpts::default();
        for (c, _) in &p.opts {
            match c {
                'A' => {
                    o.show_nonprinting = true;
                    o.show_ends = true;
                    o.show_tabs = true;
                }
                'b' => o.number_nonblank = true,
                'e' => {
                    o.show_nonprinting = true;
                    o.show_ends = true;
                }
                'E' => o.show_ends = true,
                'n' => o.number = true,
                's' => o.squeeze = true,
                't' => {
                    o.show_nonprinting = true;
                    o.show_tabs = true;
                }
                'T' => o.show_tabs = true,
                'v' => o.show_nonprinting = true,
                _ => {}
            }
        }
        let files = if p.operands.is_empty() {
            alloc::vec!["-"]
        } else {
            p.operands
        };
        let mut cat = Cat::new(o);
        let mut status = 0;
        let mut buf = Vec::new();
        for name in files {
            let mut input = match Input::open(name) {
                Ok(i) => i,
                Err(e) => {
                    err!("{}: {}", quotef(name), sys::errno(e));
                    status = 1;
                    continue;
                }
            };
            loop {
                match input.chunk() {
                    Ok([]) => break,
                    Ok(data) => {
                        if o.plain() {
                            sys::write(data);
                        } else {
                            buf.clear();
                            cat.feed(data, &mut buf);
                            sys::write(&buf);
                        }
                    }
                    Err(e) => {
                        err!("{}: {}", quotef(name), sys::errno(e));
                        status = 1;
                        break;
                    }
                }
            }
        }
        status
    }
}
