//! `sha256sum [-bct] [--quiet] [--status] [FILE]...`: prints or checks SHA-256 digests as
//! GNU `sha256sum` does (`HEX  NAME`; `-c` reads such lines and says `NAME: OK` or
//! `NAME: FAILED`). The digest is the `sha2` crate's.
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
    use coreutils::errmsg::quotef;
    use coreutils::sum;
    use coreutils::sys::{self, Input};
    use coreutils::{err, out};
    use libway::{Args, Errno};
    use sha2::{Digest, Sha256};

    const HELP: &str = "[OPTION]... [FILE]...\nPrint or check SHA256 (256-bit) checksums.\n\nWith no FILE, or when FILE is -, read standard input.\n\n  -b, --binary         read in binary mode (marks names with *)\n  -c, --check          read checksums from the FILEs and check them\n  -t, --text           read in text mode (default)\n\nThe following options are useful only when verifying checksums:\n      --quiet          don't print OK for each successfully verified file\n      --status         don't output anything, status code shows success\n";
    const SPEC: Spec = Spec {
        short: "bct",
        long: &[
            ("binary", 'b', false),
            ("check", 'c', false),
            ("text", 't', false),
            ("quiet", 'q', false),
            ("status", 's', false),
        ],
        permute: true,
        numbers: false,
    };

    /// The digest of everything `name` holds, as hex.
    fn digest(name: &str) -> Result<String, Errno> {
        let mut input = Input::open(name)?;
        let mut h = Sha256::new();
        loop {
            let chunk = input.chunk()?;
            if chunk.is_empty() {
                break;
            }
            h.update(chunk);
        }
        Ok(sum::hex(&h.finalize()))
    }

    /// `-c`: checks every line of `list`; returns the exit status.
    fn check(list: &str, quiet: bool, status_only: bool) -> i32 {
        let mut input = match Input::open(list) {
            Ok(i) => i,
            Err(e) => {
                err!("{}: {}", quotef(list), sys::errno(e));
                return 1;
            }
        };
        let (mut bad_lines, mut failed, mut unreadable, mut good) = (0u64, 0u64, 0u64, 0u64);
        let mut line = Vec::new();
        loop {
            line.clear();
            match input.read_line(&mut line) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    err!("{}: {}", quotef(list), sys::errno(e));
                    return 1;
                }
            }
            let text = sys::lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            let Some((want, name)) = sum::parse_check_line(text) else {
                bad_lines += 1;
                continue;
            };
            match digest(&name) {
                Ok(got) if got == want => {
                    good += 1;
                    if !quiet && !status_only {
                        out!("{name}: OK\n");
                    }
                }
                Ok(_) => {
                    failed += 1;
                    if !status_only {
                        out!("{name}: FAILED\n");
                    }
                }
                Err(e) => {
                    unreadable += 1;
                    if !status_only {
                        err!("{}: {}", quotef(&name), sys::errno(e));
                        out!("{name}: FAILED open or read\n");
                    }
                }
            }
        }
        if !status_only {
            let plural = |n: u64| if n == 1 { "" } else { "s" };
            if bad_lines > 0 {
                err!(
                    "WARNING: {bad_lines} line{} improperly formatted",
                    if bad_lines == 1 { " is" } else { "s are" }
                );
            }
            if unreadable > 0 {
                err!(
                    "WARNING: {unreadable} listed file{} could not be read",
                    plural(unreadable)
                );
            }
            if failed > 0 {
                err!(
                    "WARNING: {failed} computed checksum{} did NOT match",
                    plural(failed)
                );
            }
            if good + failed + unreadable == 0 {
                err!(
                    "{}: no properly formatted checksum lines found",
                    quotef(list)
                );
            }
        }
        i32::from(failed > 0 || unreadable > 0 || good == 0)
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let (mut binary, mut checking, mut quiet, mut status_only) = (false, false, false, false);
        for (c, _) in &p.opts {
            match c {
                'b' => binary = true,
                't' => binary = false,
                'c' => checking = true,
                'q' => quiet = true,
                's' => status_only = true,
                _ => {}
            }
        }
        let files = if p.operands.is_empty() {
            alloc::vec!["-"]
        } else {
            p.operands
        };
        let mut status = 0;
        for name in files {
            if checking {
                status |= check(name, quiet, status_only);
                continue;
            }
            match digest(name) {
                Ok(hex) => sys::write_str(&sum::line(&hex, name, binary)),
                Err(e) => {
                    err!("{}: {}", quotef(name), sys::errno(e));
                    status = 1;
                }
            }
        }
        status
    }
}
