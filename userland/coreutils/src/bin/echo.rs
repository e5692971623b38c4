//! `echo [-neE] [STRING]...`: the strings joined by spaces, and a newline (GNU
//! `/bin/echo`). `-n` leaves out the newline, `-e` interprets backslash escapes (`\n`,
//! `\t`, `\\`, `\c` stops all output, `\0NNN`, `\xHH`, ...), `-E` does not (the default).
//! An argument is an option only if it is `-` followed by nothing but `n`, `e`, `E`;
//! `--help`/`--version` only when alone.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::sys;
    use coreutils::text::echo_escapes;
    use libway::Args;

    const HELP: &str = "[SHORT-OPTION]... [STRING]...\nEcho the STRING(s) to standard output.\n\n  -n  do not output the trailing newline\n  -e  enable interpretation of backslash escapes\n  -E  disable interpretation of backslash escapes (default)\n";

    pub fn main(args: Args) -> i32 {
        let words = sys::operands(&args);
        if words.len() == 1 && matches!(words[0], "--help" | "--version") {
            return match sys::parse_args(&args, &coreutils::args::Spec::short(""), HELP, 1) {
                Ok(_) => 0,
                Err(status) => status,
            };
        }
        let mut newline = true;
        let mut escapes = false;
        let mut i = 0;
        while let Some(w) = words.get(i) {
            let flags = match w.strip_prefix('-') {
                Some(f) if !f.is_empty() && f.chars().all(|c| matches!(c, 'n' | 'e' | 'E')) => f,
                _ => break,
            };
            for c in flags.chars() {
                match c {
                    'n' => newline = false,
                    'e' => escapes = true,
                    _ => escapes = false,
                }
            }
            i += 1;
        }
        for (k, w) in words[i..].iter().enumerate() {
            if k > 0 {
                sys::write(b" ");
            }
            if escapes {
                let (bytes, stop) = echo_escapes(w);
                sys::write(&bytes);
                if stop {
                    return 0;
                }
            } else {
                sys::write_str(w);
            }
        }
        if newline {
            sys::write(b"\n");
        }
        0
    }
}
