//! `kill [-s SIGNAL | -SIGNAL] PID...`, `kill -l [SIGNAL]...`: sends a signal (TERM by
//! default; a name with or without `SIG`, or a number) to processes, or to the process
//! group `-PGID`; lists signal names, or translates names and numbers (an exit status
//! 128+N names signal N). As GNU coreutils `kill`.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::errmsg::quote;
    use coreutils::signals;
    use coreutils::{err, outln, sys};
    use libway::Args;

    const HELP: &str = "[-s SIGNAL | -SIGNAL] PID...\n  or:  kill -l [SIGNAL]...\nSend signals to processes, or list signals.\n\n  -s, --signal=SIGNAL, -SIGNAL\n                   specify the name or number of the signal to be sent\n  -l, --list       list signal names, or convert signal names to/from numbers\n\nSIGNAL may be a signal name like 'HUP', or a signal number like '1',\nor the exit status of a process terminated by a signal.\nPID is an integer; if negative it identifies a process group.\n";

    fn bad_signal(s: &str) -> i32 {
        err!("{}: invalid signal", quote(s));
        1
    }

    pub fn main(args: Args) -> i32 {
        let words = sys::operands(&args);
        if words.len() == 1 && matches!(words[0], "--help" | "--version") {
            return match sys::parse_args(&args, &Spec::short(""), HELP, 1) {
                Ok(_) => 0,
                Err(s) => s,
            };
        }
        let mut sig = libway::abi::signal::SIGTERM;
        let mut list = false;
        let mut i = 0;
        while let Some(w) = words.get(i) {
            let w = *w;
            if w == "--" {
                i += 1;
                break;
            }
            if w == "-l" || w == "--list" {
                list = true;
                i += 1;
                continue;
            }
            let spec = if w == "-s" || w == "--signal" {
                i += 1;
                match words.get(i) {
                    Some(s) => *s,
                    None => {
                        return sys::usage_error(
                            format_args!("option requires an argument -- 's'"),
                            1,
                        );
                    }
                }
            } else if let Some(s) = w.strip_prefix("--signal=") {
                s
            } else if let Some(s) = w
                .strip_prefix("-s")
                .filter(|s| !s.is_empty() && w.len() > 2)
            {
                s
            } else if let Some(s) = w.strip_prefix('-').filter(|s| !s.is_empty()) {
                let first = s.chars().next().unwrap_or('?');
                if !(first.is_ascii_digit() || first.is_ascii_uppercase()) {
                    return sys::usage_error(format_args!("invalid option -- '{first}'"), 1);
                }
                s
            } else {
                break;
            };
            match signals::parse(spec) {
                Some(n) => sig = n,
                None => return bad_signal(spec),
            }
            i += 1;
        }
        let rest = &words[i..];
        if list {
            if rest.is_empty() {
                for n in 1..=signals::MAX {
                    if let Some(name) = signals::name(n) {
                        outln!("{name}");
                    }
                }
                return 0;
            }
            let mut status = 0;
            for s in rest {
                if s.bytes().all(|b| b.is_ascii_digit()) {
                    match signals::from_number_or_status(s).and_then(signals::name) {
                        Some(name) => outln!("{name}"),
                        None => status = bad_signal(s),
                    }
                } else {
                    match signals::parse(s).filter(|&n| n > 0) {
                        Some(n) => outln!("{n}"),
                        None => status = bad_signal(s),
                    }
                }
            }
            return status;
        }
        if rest.is_empty() {
            return sys::usage_error(format_args!("no process ID specified"), 1);
        }
        let mut status = 0;
        for pid in rest {
            let Ok(n) = pid.parse::<isize>() else {
                err!("{}: invalid process id", quote(pid));
                status = 1;
                continue;
            };
            if let Err(e) = libway::process::kill(n as usize, sig) {
                err!("{pid}: {}", sys::errno(e));
                status = 1;
            }
        }
        status
    }
}
