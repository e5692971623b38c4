//! `ps [-Aefl]`: every process (WayOS has no terminals or sessions to narrow the list),
//! as `PID PPID PGID STAT TIME CAPS CMD`; `-l` adds the scheduler class. `-A`, `-e`, `-f` and
//! the BSD words `aux`/`ax` are accepted and change nothing. See `coreutils::ps`.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::vec::Vec;
    use coreutils::args::Spec;
    use coreutils::ps::{header, id_width, row, Proc};
    use coreutils::{err, outln, sys};
    use libway::process::{field_str, proc_list};
    use libway::Args;

    const HELP: &str = "[-Aefl]\nReport a snapshot of the current processes.\n\n  -A, -e   all processes (always)\n  -f       (accepted)\n  -l       add the scheduler class (CLS)\n";
    const SPEC: Spec = Spec::short("Aeflax");

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        for op in &p.operands {
            if op.is_empty()
                || !op
                    .chars()
                    .all(|c| matches!(c, 'a' | 'u' | 'x' | 'e' | 'f' | 'l' | 'w'))
            {
                err!("error: garbage option");
                return 1;
            }
        }
        let long = p.has('l') || p.operands.iter().any(|o| o.contains('l'));
        let list = match proc_list() {
            Ok(l) => l,
            Err(e) => {
                err!("cannot list processes: {}", sys::errno(e));
                return 1;
            }
        };
        let procs: Vec<Proc> = list
            .iter()
            .map(|info| Proc {
                pid: info.pid,
                ppid: info.ppid,
                pgid: info.pgid,
                state: info.state as char,
                class: info.class,
                ticks: info.ticks,
                caps: info.caps,
                cmd: field_str(&info.name).into(),
            })
            .collect();
        let w = id_width(&procs);
        outln!("{}", header(long, w));
        for proc in &procs {
            outln!("{}", row(proc, long, w));
        }
        0
    }
}
