//! `rm [-fdrRv] FILE...`: removes files; `-r` directories and everything in them, `-d`
//! empty directories; `-f` ignores missing files and never complains about a missing
//! operand; `-v` tells each removal. `.`, `..` and (with `-r`) `/` are refused.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::errmsg::quote;
    use coreutils::fsops::{absolute, remove_tree};
    use coreutils::path::basename;
    use coreutils::{err, outln, sys};
    use libway::abi::errno::ENOENT;
    use libway::fs::{self, StatExt};
    use libway::Args;

    const HELP: &str = "[OPTION]... [FILE]...\nRemove (unlink) the FILE(s).\n\n  -f, --force           ignore nonexistent files and arguments, never prompt\n  -r, -R, --recursive   remove directories and their contents recursively\n  -d, --dir             remove empty directories\n  -v, --verbose         explain what is being done\n      --no-preserve-root  do not treat '/' specially\n";
    const NO_PRESERVE_ROOT: char = '\u{10}';
    const SPEC: Spec = Spec {
        short: "fdrRv",
        long: &[
            ("force", 'f', false),
            ("dir", 'd', false),
            ("recursive", 'r', false),
            ("verbose", 'v', false),
            ("no-preserve-root", NO_PRESERVE_ROOT, false),
            ("preserve-root", 'P', false),
        ],
        permute: true,
        numbers: false,
    };

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let force = p.has('f');
        let recursive = p.has('r') || p.has('R');
        let dirs = p.has('d');
        let verbose = p.has('v');
        if p.operands.is_empty() {
            if force {
                return 0;
            }
            return sys::usage_error(format_args!("missing operand"), 1);
        }
        let mut status = 0;
        for name in &p.operands {
            if matches!(basename(name), "." | "..") {
                err!(
                    "refusing to remove '.' or '..' directory: skipping {}",
                    quote(name)
                );
                status = 1;
                continue;
            }
            if recursive && !p.has(NO_PRESERVE_ROOT) && absolute(name) == "/" {
                err!("it is dangerous to operate recursively on {}", quote(name));
                err!("use --no-preserve-root to override this failsafe");
                status = 1;
                continue;
            }
            let st = match fs::stat(name) {
                Ok(st) => st,
                Err(e) if e.code() == ENOENT && force => continue,
                Err(e) => {
                    err!("cannot remove {}: {}", quote(name), sys::errno(e));
                    status = 1;
                    continue;
                }
            };
            if st.is_dir() {
                if recursive {
                    if !remove_tree(name, verbose, &mut |m| err!("{m}")) {
                        status = 1;
                    }
                    continue;
                }
                if !dirs {
                    err!("cannot remove {}: Is a directory", quote(name));
                    status = 1;
                    continue;
                }
                match fs::remove_dir(name) {
                    Ok(()) => {
                        if verbose {
                            outln!("removed directory {}", quote(name));
                        }
                    }
                    Err(e) => {
                        err!("cannot remove {}: {}", quote(name), sys::errno(e));
                        status = 1;
                    }
                }
                continue;
            }
            match fs::remove_file(name) {
                Ok(()) => {
                    if verbose {
                        outln!("removed {}", quote(name));
                    }
                }
                Err(e) => {
                    err!("cannot remove {}: {}", quote(name), sys::errno(e));
                    status = 1;
                }
            }
        }
        status
    }
}
