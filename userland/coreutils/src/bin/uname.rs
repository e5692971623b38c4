//! `uname [-asnrvmpio]`: the system's name (the default), node name, release, version,
//! machine, processor and hardware platform (`unknown`), and operating system (`WayOS`).
//! `-a` prints all but the unknown ones, as GNU does.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::vec::Vec;

    use coreutils::args::Spec;
    use coreutils::errmsg::quote;
    use coreutils::{err, outln, sys};
    use libway::process::{field_str, uname};
    use libway::Args;

    const HELP: &str = "[OPTION]...\nPrint certain system information.  With no OPTION, same as -s.\n\n  -a, --all                print all information, in the following order,\n                             except omit -p and -i if unknown:\n  -s, --kernel-name        print the kernel name\n  -n, --nodename           print the network node hostname\n  -r, --kernel-release     print the kernel release\n  -v, --kernel-version     print the kernel version\n  -m, --machine            print the machine hardware name\n  -p, --processor          print the processor type (non-portable)\n  -i, --hardware-platform  print the hardware platform (non-portable)\n  -o, --operating-system   print the operating system\n";
    const SPEC: Spec = Spec {
        short: "asnrvmpio",
        long: &[
            ("all", 'a', false),
            ("kernel-name", 's', false),
            ("nodename", 'n', false),
            ("kernel-release", 'r', false),
            ("kernel-version", 'v', false),
            ("machine", 'm', false),
            ("processor", 'p', false),
            ("hardware-platform", 'i', false),
            ("operating-system", 'o', false),
        ],
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
        let u = match uname() {
            Ok(u) => u,
            Err(e) => {
                err!("cannot get system name: {}", sys::errno(e));
                return 1;
            }
        };
        let all = p.has('a');
        let want = |c: char| all || p.has(c);
        let mut parts: Vec<&str> = Vec::new();
        let none = !p.opts.iter().any(|(c, _)| "asnrvmpio".contains(*c));
        if want('s') || none {
            parts.push(field_str(&u.sysname));
        }
        if want('n') {
            parts.push(field_str(&u.nodename));
        }
        if want('r') {
            parts.push(field_str(&u.release));
        }
        if want('v') {
            parts.push(field_str(&u.version));
        }
        if want('m') {
            parts.push(field_str(&u.machine));
        }
        if p.has('p') {
            parts.push("unknown");
        }
        if p.has('i') {
            parts.push("unknown");
        }
        if want('o') {
            parts.push("WayOS");
        }
        outln!("{}", parts.join(" "));
        0
    }
}
