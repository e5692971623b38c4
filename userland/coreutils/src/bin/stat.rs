//! `stat [-t] [-c FORMAT | --printf=FORMAT] FILE...`: file status in GNU's default
//! layout, the terse one (`-t`), or a format of `%` directives (see
//! `coreutils::statfmt`). `-` is standard input. `-L` is accepted (there are no links).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::string::String;

    use coreutils::args::Spec;
    use coreutils::errmsg::quote;
    use coreutils::statfmt::{default_format, format, Info, TERSE};
    use coreutils::text::echo_escapes;
    use coreutils::{err, sys};
    use libway::Args;

    const HELP: &str = "[OPTION]... FILE...\nDisplay file status.\n\n  -L, --dereference     (accepted; there are no links)\n  -c  --format=FORMAT   use the specified FORMAT instead of the default;\n                          output a newline after each use of FORMAT\n      --printf=FORMAT   like --format, but interpret backslash escapes,\n                          and do not output a mandatory trailing newline\n  -t, --terse           print the information in terse form\n";
    const PRINTF: char = '\u{10}';
    const SPEC: Spec = Spec {
        short: "Lc:t",
        long: &[
            ("dereference", 'L', false),
            ("format", 'c', true),
            ("printf", PRINTF, true),
            ("terse", 't', false),
        ],
        permute: true,
        numbers: false,
    };

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        if p.operands.is_empty() {
            return sys::usage_error(format_args!("missing operand"), 1);
        }
        // (format, add a newline, interpret escapes)
        let mut fmt: Option<(String, bool)> = None;
        for (c, v) in &p.opts {
            match (c, v) {
                ('c', Some(f)) => fmt = Some((alloc::format!("{f}\n"), false)),
                (&PRINTF, Some(f)) => fmt = Some((String::from(*f), true)),
                ('t', _) => fmt = Some((String::from(TERSE), false)),
                _ => {}
            }
        }
        let mut status = 0;
        for name in &p.operands {
            let st = if *name == "-" {
                libway::fs::fstat(libway::io::STDIN)
            } else {
                libway::fs::stat(name)
            };
            let st = match st {
                Ok(st) => st,
                Err(e) => {
                    err!("cannot statx {}: {}", quote(name), sys::errno(e));
                    status = 1;
                    continue;
                }
            };
            let info = Info {
                name: String::from(*name),
                dev: st.dev,
                ino: st.ino,
                mode: st.mode,
                nlink: st.nlink as u64,
                uid: st.uid,
                gid: st.gid,
                rdev: st.rdev,
                size: st.size,
                blksize: st.blksize,
                blocks: st.blocks,
                atime: sys::time_of(st.atime),
                mtime: sys::time_of(st.mtime),
                ctime: sys::time_of(st.ctime),
            };
            match &fmt {
                None => sys::write_str(&format(default_format(&info), &info)),
                Some((f, false)) => sys::write_str(&format(f, &info)),
                Some((f, true)) => {
                    let text = format(f, &info);
                    let (bytes, _) = echo_escapes(&text);
                    sys::write(&bytes);
                }
            }
        }
        status
    }
}
