//! `touch [-acm] [-d DATE] [-r FILE] FILE...`: sets the access and modification times
//! of each FILE to now (or DATE, or FILE's times), creating it if it does not exist
//! (unless `-c`). `-a` / `-m` change only the access / modification time. DATE is
//! `@SECONDS`, `YYYY-MM-DD` or `YYYY-MM-DD HH:MM[:SS]` (UTC).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::err;
    use coreutils::errmsg::quote;
    use coreutils::sys;
    use libway::abi::fs::{UTIME_NOW, UTIME_OMIT};
    use libway::abi::Timespec;
    use libway::fs::{self, OpenOptions};
    use libway::Args;

    const HELP: &str = "[OPTION]... FILE...\nUpdate the access and modification times of each FILE to the current time.\nA FILE argument that does not exist is created empty, unless -c is supplied.\n\n  -a                     change only the access time\n  -c, --no-create        do not create any files\n  -d, --date=STRING      parse STRING and use it instead of current time\n  -m                     change only the modification time\n  -r, --reference=FILE   use this file's times instead of current time\n";
    const SPEC: Spec = Spec {
        short: "acd:mr:",
        long: &[
            ("no-create", 'c', false),
            ("date", 'd', true),
            ("reference", 'r', true),
        ],
        permute: true,
        numbers: false,
    };

    fn ts(t: coreutils::date::Time) -> Timespec {
        Timespec {
            sec: t.sec,
            nsec: t.nsec as i64,
        }
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let now = Timespec {
            sec: 0,
            nsec: UTIME_NOW,
        };
        let mut times = [now, now];
        if let Some(d) = p.last('d') {
            match coreutils::date::parse_date(d, sys::now()) {
                Some(t) => times = [ts(t), ts(t)],
                None => {
                    err!("invalid date format {}", quote(d));
                    return 1;
                }
            }
        }
        if let Some(r) = p.last('r') {
            match fs::stat(r) {
                Ok(st) => times = [st.atime, st.mtime],
                Err(e) => {
                    err!(
                        "failed to get attributes of {}: {}",
                        quote(r),
                        sys::errno(e)
                    );
                    return 1;
                }
            }
        }
        let (a, m) = (p.has('a'), p.has('m'));
        if a && !m {
            times[1].nsec = UTIME_OMIT;
        }
        if m && !a {
            times[0].nsec = UTIME_OMIT;
        }
        if p.operands.is_empty() {
            return sys::usage_error(format_args!("missing file operand"), 1);
        }
        let mut status = 0;
        for name in &p.operands {
            if fs::stat(name).is_err() {
                if p.has('c') {
                    continue;
                }
                if let Err(e) = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .mode(0o644)
                    .open(name)
                {
                    err!("cannot touch {}: {}", quote(name), sys::errno(e));
                    status = 1;
                    continue;
                }
            }
            if let Err(e) = fs::utimens(name, Some(&times)) {
                err!("setting times of {}: {}", quote(name), sys::errno(e));
                status = 1;
            }
        }
        status
    }
}
