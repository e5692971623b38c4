//! `uptime [-ps]`: the time, and how long the system has been up (` 00:05:12 up 5 min`).
//! WayOS counts no users and no load average, so those parts of procps's line are left
//! out. `-p` says it in words (`up 5 minutes`), `-s` gives the boot time.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::date::{strftime, uptime_pretty, uptime_short, Time};
    use coreutils::errmsg::quote;
    use coreutils::{outln, sys};
    use libway::Args;

    const HELP: &str = "[OPTION]...\nTell how long the system has been running.\n\n  -p, --pretty   show uptime in pretty format\n  -s, --since    system up since, in yyyy-mm-dd HH:MM:SS format\n";
    const SPEC: Spec = Spec {
        short: "ps",
        long: &[("pretty", 'p', false), ("since", 's', false)],
        permute: true,
        numbers: false,
    };

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        if let Some(extra) = p.operands.first() {
            return sys::usage_error(format_args!("extra operand {}", quote(extra)), 1);
        }
        let up = sys::uptime();
        let now = sys::now();
        let secs = up.sec.max(0) as u64;
        if p.has('s') {
            let boot = Time {
                sec: now.sec - up.sec,
                nsec: 0,
            };
            outln!("{}", strftime("%Y-%m-%d %H:%M:%S", boot));
        } else if p.has('p') {
            outln!("{}", uptime_pretty(secs));
        } else {
            outln!(" {} up {}", strftime("%H:%M:%S", now), uptime_short(secs));
        }
        0
    }
}
