//! `rmdir [-pv] [--ignore-fail-on-non-empty] DIRECTORY...`: removes empty directories;
//! `-p` then removes each parent named in the path as it becomes empty.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::errmsg::quote;
    use coreutils::path::dirname;
    use coreutils::sys;
    use coreutils::{err, outln};
    use libway::abi::errno::{EEXIST, ENOTEMPTY};
    use libway::fs;
    use libway::Args;

    const HELP: &str = "[OPTION]... DIRECTORY...\nRemove the DIRECTORY(ies), if they are empty.\n\n      --ignore-fail-on-non-empty\n                    ignore each failure to remove a non-empty directory\n  -p, --parents     remove DIRECTORY and its ancestors\n  -v, --verbose     output a diagnostic for every directory processed\n";
    const IGNORE: char = '\u{10}';
    const SPEC: Spec = Spec {
        short: "pv",
        long: &[
            ("ignore-fail-on-non-empty", IGNORE, false),
            ("parents", 'p', false),
            ("verbose", 'v', false),
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
        let (parents, verbose, ignore) = (p.has('p'), p.has('v'), p.has(IGNORE));
        let mut status = 0;
        for dir in &p.operands {
            let mut path: &str = dir;
            loop {
                if verbose {
                    outln!("{}: removing directory, {}", sys::prog(), quote(path));
                }
                if let Err(e) = fs::remove_dir(path) {
                    let nonempty = matches!(e.code(), ENOTEMPTY | EEXIST);
                    if !(ignore && nonempty) {
                        err!("failed to remove {}: {}", quote(path), sys::errno(e));
                        status = 1;
                    }
                    break;
                }
                if !parents {
                    break;
                }
                let up = dirname(path);
                if up == "." || up == "/" || up == path {
                    break;
                }
                path = up;
            }
        }
        status
    }
}
