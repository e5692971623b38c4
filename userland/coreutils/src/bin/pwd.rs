//! `pwd [-LP]`: the working directory. `-P` (the default, as GNU `/bin/pwd`) resolves it
//! from the file system; `-L` prints `$PWD` if that names the same directory and has no
//! `.` or `..` components.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::{err, outln, sys};
    use libway::fs;
    use libway::Args;

    const HELP: &str = "[OPTION]...\nPrint the full filename of the current working directory.\n\n  -L, --logical   use PWD from environment, even if it contains symlinks\n  -P, --physical  resolve all symlinks (the default)\n";
    const SPEC: Spec = Spec {
        short: "LP",
        long: &[("logical", 'L', false), ("physical", 'P', false)],
        permute: true,
        numbers: false,
    };

    /// `$PWD`, if it is usable for `-L`.
    fn logical() -> Option<&'static str> {
        let pwd = libway::env::var("PWD")?;
        if !pwd.starts_with('/') || pwd.split('/').any(|c| c == "." || c == "..") {
            return None;
        }
        let (a, b) = (fs::stat(pwd).ok()?, fs::stat(".").ok()?);
        (a.dev == b.dev && a.ino == b.ino).then_some(pwd)
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        if !p.operands.is_empty() {
            err!("ignoring non-option arguments");
        }
        let physical = p
            .opts
            .iter()
            .rev()
            .find(|(c, _)| matches!(c, 'L' | 'P'))
            .is_none_or(|(c, _)| *c == 'P');
        if !physical {
            if let Some(pwd) = logical() {
                outln!("{pwd}");
                return 0;
            }
        }
        match fs::getcwd() {
            Ok(dir) => {
                outln!("{dir}");
                0
            }
            Err(e) => {
                err!(
                    "error retrieving current directory: getcwd: {}",
                    sys::errno(e)
                );
                1
            }
        }
    }
}
