//! `tee [-ai] [FILE]...`: copies standard input to standard output and to each FILE
//! (`-a` appends instead of replacing, `-i` ignores SIGINT). A file that cannot be opened
//! or written is reported and dropped; the rest go on.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::vec::Vec;

    use coreutils::args::Spec;
    use coreutils::err;
    use coreutils::errmsg::quotef;
    use coreutils::sys::{self, Input};
    use libway::fs::{File, OpenOptions};
    use libway::Args;

    const HELP: &str = "[OPTION]... [FILE]...\nCopy standard input to each FILE, and also to standard output.\n\n  -a, --append              append to the given FILEs, do not overwrite\n  -i, --ignore-interrupts   ignore interrupt signals\n  -p                        (accepted, no effect)\n";
    const SPEC: Spec = Spec {
        short: "aip",
        long: &[("append", 'a', false), ("ignore-interrupts", 'i', false)],
        permute: true,
        numbers: false,
    };

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        if p.has('i') {
            sys::ignore_signal(libway::abi::signal::SIGINT);
        }
        let append = p.has('a');
        let mut status = 0;
        let mut files: Vec<(File, &str)> = Vec::new();
        for name in &p.operands {
            let mut o = OpenOptions::new();
            o.write(true).create(true);
            if append {
                o.append(true);
            } else {
                o.truncate(true);
            }
            match o.open(name) {
                Ok(f) => files.push((f, name)),
                Err(e) => {
                    err!("{}: {}", quotef(name), sys::errno(e));
                    status = 1;
                }
            }
        }
        let mut input = Input::stdin();
        loop {
            let data = match input.chunk() {
                Ok([]) => break,
                Ok(d) => d,
                Err(e) => {
                    err!("read error: {}", sys::errno(e));
                    return 1;
                }
            };
            // Unbuffered: what arrives goes on at once.
            sys::write(data);
            sys::flush();
            let mut failed = Vec::new();
            for (i, (f, name)) in files.iter().enumerate() {
                if let Err(e) = f.write_all(data) {
                    err!("{}: {}", quotef(name), sys::errno(e));
                    failed.push(i);
                }
            }
            for i in failed.into_iter().rev() {
                files.remove(i);
                status = 1;
            }
        }
        status
    }
}
