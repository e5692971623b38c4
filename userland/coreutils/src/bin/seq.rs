//! `seq [-s SEP] [-w] [FIRST [INCREMENT]] LAST`: numbers from FIRST (1) by INCREMENT (1)
//! up to LAST, one per line (or separated by SEP); `-w` pads them to equal width with
//! zeros. Decimal fractions work in exact fixed point (see `coreutils::seq`).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::errmsg::quote;
    use coreutils::seq::{Plan, PlanError};
    use coreutils::sys;
    use libway::Args;

    const HELP: &str = "[OPTION]... LAST\n  or:  seq [OPTION]... FIRST LAST\n  or:  seq [OPTION]... FIRST INCREMENT LAST\nPrint numbers from FIRST to LAST, in steps of INCREMENT.\n\n  -s, --separator=STRING   use STRING to separate numbers (default: \\n)\n  -w, --equal-width        equalize width by padding with leading zeroes\n";
    const SPEC: Spec = Spec {
        short: "s:w",
        long: &[("separator", 's', true), ("equal-width", 'w', false)],
        permute: true,
        numbers: true,
    };

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let ops = &p.operands;
        if ops.is_empty() {
            return sys::usage_error(format_args!("missing operand"), 1);
        }
        if let Some(extra) = ops.get(3) {
            return sys::usage_error(format_args!("extra operand {}", quote(extra)), 1);
        }
        let plan = match Plan::new(ops, p.has('w')) {
            Ok(plan) => plan,
            Err(PlanError::Invalid(i)) => {
                let bad = ops.get(i).copied().unwrap_or("");
                return sys::usage_error(
                    format_args!("invalid floating point argument: {}", quote(bad)),
                    1,
                );
            }
            Err(PlanError::ZeroIncrement) => {
                let inc = ops.get(1).copied().unwrap_or("0");
                return sys::usage_error(
                    format_args!("invalid Zero increment value: {}", quote(inc)),
                    1,
                );
            }
        };
        let sep = p.last('s').unwrap_or("\n");
        let mut any = false;
        for n in plan.iter() {
            if any {
                sys::write_str(sep);
            }
            sys::write_str(&n);
            any = true;
        }
        if any {
            sys::write(b"\n");
        }
        0
    }
}
