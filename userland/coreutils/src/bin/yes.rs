//! `yes [STRING]...`: prints the strings joined by spaces (or `y`) over and over until
//! killed. It writes 8 KiB at a time; when the reader goes away SIGPIPE (or `EPIPE`)
//! ends it quietly.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::vec::Vec;

    use coreutils::args::Spec;
    use coreutils::{err, sys};
    use libway::abi::errno::{EINTR, EPIPE};
    use libway::io;
    use libway::Args;

    const HELP: &str =
        "[STRING]...\nRepeatedly output a line with all specified STRING(s), or 'y'.\n";
    const SPEC: Spec = Spec {
        short: "",
        long: &[],
        permute: false,
        numbers: false,
    };
    /// Bytes per write.
    const BLOCK: usize = 8192;

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut line = Vec::new();
        if p.operands.is_empty() {
            line.extend_from_slice(b"y");
        }
        for (i, w) in p.operands.iter().enumerate() {
            if i > 0 {
                line.push(b' ');
            }
            line.extend_from_slice(w.as_bytes());
        }
        line.push(b'\n');
        let mut block = Vec::with_capacity(BLOCK + line.len());
        while block.len() + line.len() <= BLOCK || block.is_empty() {
            block.extend_from_slice(&line);
        }
        loop {
            let mut rest = &block[..];
            while !rest.is_empty() {
                match io::write(io::STDOUT, rest) {
                    Ok(n) if n > 0 => rest = &rest[n.min(rest.len())..],
                    Ok(_) => return 1,
                    Err(e) if e.code() == EINTR => {}
                    Err(e) if e.code() == EPIPE => return 1,
                    Err(e) => {
                        err!("standard output: {}", sys::errno(e));
                        return 1;
                    }
                }
            }
        }
    }
}
