//! `write FILE TEXT...`: replaces FILE's contents with the TEXT words joined by spaces and
//! a newline (creating it, mode 0644).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::string::String;

    use coreutils::args::Spec;
    use coreutils::errmsg::quotef;
    use coreutils::{err, sys};
    use libway::Args;

    const HELP: &str = "FILE [TEXT]...\nWrite the TEXT words, joined by spaces, and a newline into FILE (replacing it).\n";

    const SPEC: Spec = Spec {
        short: "",
        long: &[],
        permute: false,
        numbers: false,
    };

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let Some((file, words)) = p.operands.split_first() else {
            return sys::usage_error(format_args!("missing file operand"), 1);
        };
        let mut text = String::new();
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(w);
        }
        text.push('\n');
        match libway::fs::write(file, text.as_bytes()) {
            Ok(()) => 0,
            Err(e) => {
                err!("{}: {}", quotef(file), sys::errno(e));
                1
            }
        }
    }
}
