//! `sync`: writes every dirty block of every disk's buffer cache back and flushes the
//! disks' write caches (the `sync` syscall). Exit status 1 if a disk reported an error.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::errmsg::quote;
    use coreutils::sys;
    use libway::Args;

    const HELP: &str =
        "\nWrite every disk's cached changes to the disk and flush its write cache.\n";
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
        if let Some(op) = p.operands.first() {
            return sys::usage_error(format_args!("extra operand {}", quote(op)), 1);
        }
        match libway::blk::sync() {
            Ok(()) => 0,
            Err(e) => {
                sys::error(format_args!("error syncing: {e}"));
                1
            }
        }
    }
}
