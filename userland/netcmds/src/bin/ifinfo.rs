//! `ifinfo [IFACE]`: netd's interfaces as `ip addr` shows them — name, flags, MTU, MAC,
//! address/prefix (`dynamic` when DHCP gave it), gateway, DNS servers and counters.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::err;
    use coreutils::sys;
    use libway::Args;
    use netcmds::report::{ifinfo_block, name};
    use netcmds::sys::errtext;

    const HELP: &str =
        "[IFACE]\nShow the network interfaces (or IFACE): addresses, flags, counters.\n";
    const SPEC: Spec = Spec::short("");

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        if p.operands.len() > 1 {
            return sys::usage_error(format_args!("extra operand '{}'", p.operands[1]), 1);
        }
        let list = match libway::net::interfaces() {
            Ok(l) => l,
            Err(e) => {
                err!("cannot ask netd: {}", errtext(e));
                return 1;
            }
        };
        let want = p.operands.first().copied();
        let mut shown = 0;
        for (i, info) in list.iter().enumerate() {
            if want.is_some_and(|w| w != name(&info.name)) {
                continue;
            }
            sys::write_str(&ifinfo_block(i + 1, info));
            shown += 1;
        }
        match want {
            Some(w) if shown == 0 => {
                err!("{w}: no such interface");
                1
            }
            _ => 0,
        }
    }
}
