//! `mv [-fnv] SOURCE DEST` / `mv [OPTION]... SOURCE... DIRECTORY`: renames, or moves into
//! a directory. Between file systems (`/tmp` to `/dev`) it copies and removes. `-n` never
//! overwrites, `-v` tells each move, `-f` is accepted.
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
    use coreutils::fsops::{copy_tree, is_within, remove_tree, source_targets, CopyOpts};
    use coreutils::{err, outln, sys};
    use libway::abi::errno::{EEXIST, EINVAL, EISDIR, ENOTDIR, ENOTEMPTY, EXDEV};
    use libway::fs::{self, StatExt};
    use libway::Args;

    const HELP: &str = "[OPTION]... SOURCE DEST\n  or:  mv [OPTION]... SOURCE... DIRECTORY\nRename SOURCE to DEST, or move SOURCE(s) to DIRECTORY.\n\n  -f, --force          (accepted; existing files are always replaced)\n  -n, --no-clobber     do not overwrite an existing file\n  -v, --verbose        explain what is being done\n";
    const SPEC: Spec = Spec {
        short: "fnv",
        long: &[
            ("force", 'f', false),
            ("no-clobber", 'n', false),
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
            let existing = fs::stat(&target).ok();
            if let Some(t) = &existing {
                if t.dev == st.dev && t.ino == st.ino {
                    err!("{} and {} are the same file", quote(src), quote(&target));
                    status = 1;
                    continue;
                }
                if p.has('n') {
                    continue;
                }
            }
            match fs::rename(src, &target) {
                Ok(()) => {
                    if p.has('v') {
                        outln!("renamed {} -> {}", quote(src), quote(&target));
                    }
                }
                Err(e) if e.code() == EXDEV => {
                    // Another file system: copy, then remove the original.
                    let o = CopyOpts {
                        recursive: true,
                        preserve: true,
                        ..CopyOpts::default()
                    };
                    if existing.as_ref().is_some_and(|t| t.is_dir()) != st.is_dir()
                        && existing.is_some()
                    {
                        err!("cannot overwrite {} with {}", quote(&target), quote(src));
                        status = 1;
                        continue;
                    }
                    let mut report = |m: String| err!("{m}");
                    if copy_tree(src, &target, &o, &mut report)
                        && remove_tree(src, false, &mut report)
                    {
                        if p.has('v') {
                            outln!("copied {} -> {}", quote(src), quote(&target));
                            outln!("removed {}", quote(src));
                        }
                    } else {
                        status = 1;
                    }
                }
                Err(e) => {
                    match e.code() {
                        EINVAL if st.is_dir() && is_within(&target, src) => err!(
                            "cannot move {} to a subdirectory of itself, {}",
                            quote(src),
                            quote(&target)
                        ),
                        EISDIR => err!(
                            "cannot overwrite directory {} with non-directory",
                            quote(&target)
                        ),
                        ENOTDIR if st.is_dir() => err!(
                            "cannot overwrite non-directory {} with directory {}",
                            quote(&target),
                            quote(src)
                        ),
                        ENOTEMPTY | EEXIST => err!(
                            "cannot move {} to {}: Directory not empty",
                            quote(src),
                            quote(&target)
                        ),
                        _ => err!(
                            "cannot move {} to {}: {}",
                            quote(src),
                            quote(&target),
                            sys::errno(e)
                        ),
                    }
                    status = 1;
                }
            }
        }
        status
    }
}
