//! `hexdump [-Cv] [-n LENGTH] [-s OFFSET] [FILE]...`: the files (or standard input),
//! concatenated, in `hexdump -C`'s canonical hex+ASCII format; `-C` is accepted and is
//! the only format. `-s` skips bytes (by reading, so it works on pipes too), `-n` stops
//! after LENGTH bytes, `-v` shows repeated lines instead of `*`. Numbers may be `0x` hex
//! and take `b` (512), `k` (1024), `m` (1024²) suffixes.
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
    use coreutils::hexdump::Hexdump;
    use coreutils::sys::{self, Input};
    use libway::Args;

    const HELP: &str = "[options] <file>...\nDisplay file contents in hexadecimal (canonical hex+ASCII).\n\n -C, --canonical           canonical hex+ASCII display (the default)\n -n, --length <length>     interpret only length bytes of input\n -s, --skip <offset>       skip offset bytes from the beginning\n -v, --no-squeezing        output identical lines\n";
    const SPEC: Spec = Spec {
        short: "Cn:s:v",
        long: &[
            ("canonical", 'C', false),
            ("length", 'n', true),
            ("skip", 's', true),
            ("no-squeezing", 'v', false),
        ],
        permute: true,
        numbers: false,
    };

    fn number(s: &str) -> Option<u64> {
        let (body, mult) = match s.as_bytes().last() {
            Some(b'b') if !s.starts_with("0x") => (&s[..s.len() - 1], 512),
            Some(b'k') => (&s[..s.len() - 1], 1024),
            Some(b'm') => (&s[..s.len() - 1], 1024 * 1024),
            _ => (s, 1),
        };
        let v = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).ok()?,
            None => coreutils::num::parse_u64(body)?,
        };
        v.checked_mul(mult)
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut skip = 0u64;
        let mut length: Option<u64> = None;
        for (c, v) in &p.opts {
            match (c, v) {
                ('s', Some(v)) => match number(v) {
                    Some(n) => skip = n,
                    None => {
                        err!("invalid offset argument: '{v}'");
                        return 1;
                    }
                },
                ('n', Some(v)) => match number(v) {
                    Some(n) => length = Some(n),
                    None => {
                        err!("invalid length argument: '{v}'");
                        return 1;
                    }
                },
                _ => {}
            }
        }
        let verbose = p.has('v');
        let files: Vec<&str> = if p.operands.is_empty() {
            alloc::vec!["-"]
        } else {
            p.operands.clone()
        };
        let mut skipped = 0u64;
        let mut dump: Option<Hexdump> = None;
        let mut out = Vec::new();
        let mut status = 0;
        let mut opened = 0;
        'files: for name in &files {
            let mut input = match Input::open(name) {
                Ok(i) => i,
                Err(e) => {
                    err!("{}: {}", quotef(name), sys::errno(e));
                    status = 1;
                    continue;
                }
            };
            opened += 1;
            loop {
                if length == Some(0) {
                    break 'files;
                }
                let chunk = match input.chunk() {
                    Ok([]) => break,
                    Ok(c) => c,
                    Err(e) => {
                        err!("{}: {}", quotef(name), sys::errno(e));
                        status = 1;
                        break;
                    }
                };
                let mut data = chunk;
                if skipped < skip {
                    let n = (skip - skipped).min(data.len() as u64) as usize;
                    skipped += n as u64;
                    data = &data[n..];
                }
                if let Some(left) = length.as_mut() {
                    let n = (*left).min(data.len() as u64) as usize;
                    *left -= n as u64;
                    data = &data[..n];
                }
                if data.is_empty() {
                    continue;
                }
                let d = dump.get_or_insert_with(|| Hexdump::new(skipped, verbose));
                out.clear();
                d.feed(data, &mut out);
                sys::write(&out);
            }
        }
        if opened == 0 && !files.is_empty() {
            err!("all input file arguments failed");
            return 1;
        }
        out.clear();
        dump.get_or_insert_with(|| Hexdump::new(skipped, verbose))
            .finish(&mut out);
        sys::write(&out);
        status
    }
}
