//! `mkdir [-pv] [-m MODE] DIRECTORY...`: makes directories (mode 0755, or the octal
//! MODE); `-p` makes missing parents too and does not mind existing directories; `-v`
//! tells each one made.
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
    use coreutils::sys;
    use coreutils::{err, outln};
    use libway::abi::errno::EEXIST;
    use libway::fs::{self, StatExt};
    use libway::{Args, Errno};

    const HELP: &str = "[OPTION]... DIRECTORY...\nCreate the DIRECTORY(ies), if they do not already exist.\n\n  -m, --mode=MODE   set file mode (octal, as in chmod), not a=rwx - umask\n  -p, --parents     no error if existing, make parent directories as needed\n  -v, --verbose     print a message for each created directory\n";
    const SPEC: Spec = Spec {
        short: "m:pv",
        long: &[
            ("mode", 'm', true),
            ("parents", 'p', false),
            ("verbose", 'v', false),
        ],
        permute: true,
        numbers: false,
    };

    fn make(path: &str, mode: u32, verbose: bool) -> Result<(), Errno> {
        fs::mkdir(path, mode)?;
        if verbose {
            outln!("{}: created directory {}", sys::prog(), quote(path));
        }
        Ok(())
    }

    /// `mkdir -p`: each missing component in turn.
    fn make_parents(path: &str, mode: u32, verbose: bool) -> Result<(), Errno> {
        let mut prefix = String::new();
        if path.starts_with('/') {
            prefix.push('/');
        }
        let parts: alloc::vec::Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        for (i, part) in parts.iter().enumerate() {
            if !prefix.is_empty() && !prefix.ends_with('/') {
                prefix.push('/');
            }
            prefix.push_str(part);
            let last = i + 1 == parts.len();
            let m = if last { mode } else { 0o755 };
            match make(&prefix, m, verbose) {
                Ok(()) => {}
                Err(e) if e.code() == EEXIST && fs::stat(&prefix).is_ok_and(|s| s.is_dir()) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut mode = 0o755;
        if let Some(m) = p.last('m') {
            match u32::from_str_radix(m, 8) {
                Ok(v) if v <= 0o7777 && !m.is_empty() && !m.starts_with('+') => mode = v,
                _ => {
                    err!("invalid mode {}", quote(m));
                    return 1;
                }
            }
        }
        if p.operands.is_empty() {
            return sys::usage_error(format_args!("missing operand"), 1);
        }
        let (parents, verbose) = (p.has('p'), p.has('v'));
        let mut status = 0;
        for dir in &p.operands {
            let r = if parents {
                make_parents(dir, mode, verbose)
            } else {
                make(dir, mode, verbose)
            };
            if let Err(e) = r {
                err!("cannot create directory {}: {}", quote(dir), sys::errno(e));
                status = 1;
            }
        }
        status
    }
}
