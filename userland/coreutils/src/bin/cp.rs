//! `cp [-rRafnpv] SOURCE DEST` / `cp [OPTION]... SOURCE... DIRECTORY`: copies files, and
//! with `-r` directories. `-n` never overwrites, `-p` keeps modes and times, `-a` is
//! `-rp`, `-v` tells each copy, `-f` is accepted (files are always replaced).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {

    use coreutils::args::Spec;
    use coreutils::errmsg::quote;
    use coreutils::fsops::{copy_tree, is_within, source_targets, CopyOpts};
    use coreutils::{err, sys};
    use libway::fs::{self, StatExt};
    use libway::Args;

    const HELP: &str = "[OPTION]... SOURCE DEST\n  or:  cp [OPTION]... SOURCE... DIRECTORY\nCopy SOURCE to DEST, or multiple SOURCE(s) to DIRECTORY.\n\n  -a, --archive        same as -rp\n  -f, --force          (accepted; existing files are always replaced)\n  -n, --no-clobber     do not overwrite an existing file\n  -p, --preserve       preserve mode and timestamps\n  -R, -r, --recursive  copy directories recursively\n  -v, --verbose        explain what is being done\n";
    const SPEC: Spec = Spec {
        short: "afnpRrv",
        long: &[
            ("archive", 'a', false),
            ("force", 'f', false),
            ("no-clobber", 'n', false),
            ("preserve", 'p', false),
            ("recursive", 'r', false),
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
        let o = CopyOpts {
            recursive: p.has('r') || p.has('R') || p.has('a'),
            no_clobber: p.has('n'),
            preserve: p.has('p') || p.has('a'),
            verbose: p.has('v'),
        };
        let pairs = match source_targets(&p.operands) {
            Ok(pairs) => pairs,
            Err(status) => return status,
        };
        let mut status = 0;
        for (src, target) in pairs {
            let st = match fs::stat(src) {
                Ok(st) => st,
                Err(e) => {
                    err!("cannot stat {}: {}", quote(src), sys::errno(e));
                    status = 1;
                    continue;
                }
            };
            if let Ok(t) = fs::stat(&target) {
                if t.dev == st.dev && t.ino == st.ino {
                    err!("{} and {} are the same file", quote(src), quote(&target));
                    status = 1;
                    continue;
                }
            }
            if st.is_dir() && o.recursive && is_within(&target, src) {
                err!(
                    "cannot copy a directory, {}, into itself, {}",
                    quote(src),
                    quote(&target)
                );
                status = 1;
                continue;
            }
            if !copy_tree(src, &target, &o, &mut |m| err!("{m}")) {
                status = 1;
            }
        }
        status
    }
}
