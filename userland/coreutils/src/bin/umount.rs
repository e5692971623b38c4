//! `umount DIR...`: unmounts the file systems mounted on each DIR (everything dirty is
//! written back first); `EBUSY` while a file or working directory is open on one.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::err;
    use coreutils::errmsg::quote;
    use coreutils::sys;
    use libway::fs;
    use libway::Args;

    const HELP: &str = "DIR...\nUnmount the file system mounted on each DIR.\n";
    const SPEC: Spec = Spec {
        short: "",
        long: &[],
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
        let mut status = 0;
        for dir in &p.operands {
            if let Err(e) = fs::umount(dir) {
                err!("{}: {}", quote(dir), sys::errno(e));
                status = 32;
            }
        }
        status
    }
}
