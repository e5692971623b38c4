//! `sleep NUMBER[SUFFIX]...`: pauses for the sum of the times given; a number may have a
//! fraction (`0.5`) and a unit `s` (default), `m`, `h` or `d`.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::errmsg::quote;
    use coreutils::num::parse_duration_ns;
    use coreutils::sys;
    use libway::abi::Timespec;
    use libway::Args;

    const HELP: &str = "NUMBER[SUFFIX]...\nPause for NUMBER seconds (SUFFIX m: minutes, h: hours, d: days).\nNUMBER may have a fraction. Given several, pause for their sum.\n";
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
        let mut total: u128 = 0;
        let mut bad = false;
        for op in &p.operands {
            match parse_duration_ns(op) {
                Some(ns) => total = total.saturating_add(ns),
                None => {
                    sys::error(format_args!("invalid time interval {}", quote(op)));
                    bad = true;
                }
            }
        }
        if bad {
            sys::try_help();
            return 1;
        }
        let sec = (total / 1_000_000_000).min(i64::MAX as u128) as i64;
        let req = Timespec {
            sec,
            nsec: (total % 1_000_000_000) as i64,
        };
        match libway::time::nanosleep(&req) {
            Ok(()) => 0,
            Err(e) => {
                sys::error(format_args!("cannot sleep: {}", sys::errno(e)));
                1
            }
        }
    }
}
