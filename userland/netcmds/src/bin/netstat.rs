//! `netstat [-a] [-i] [-s]`: netd's sockets (protocol, queues, local and foreign
//! address, TCP state, owner pid; listeners and unconnected datagram sockets only with
//! `-a`), its interfaces with counters (`-i`), or its counters and every NIC's (`-s`).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::sys;
    use coreutils::{err, outln};
    use libway::abi::errno::ENODEV;
    use libway::Args;
    use netcmds::report::{
        interface_row, interfaces_header, is_listening, nic_lines, socket_row, sockets_header,
        stats_lines,
    };
    use netcmds::sys::errtext;

    const HELP: &str = "[-a] [-i] [-s]\nShow network sockets, interfaces or counters.\n\n  -a, --all         also show listening and unconnected sockets\n  -i, --interfaces  show the interfaces and their counters\n  -s, --statistics  show netd's counters and the NICs'\n";
    const SPEC: Spec = Spec {
        short: "ais",
        long: &[
            ("all", 'a', false),
            ("interfaces", 'i', false),
            ("statistics", 's', false),
        ],
        permute: true,
        numbers: false,
    };

    fn sockets(all: bool) -> i32 {
        let list = match libway::net::sockets() {
            Ok(l) => l,
            Err(e) => {
                err!("cannot ask netd: {}", errtext(e));
                return 1;
            }
        };
        outln!(
            "Active Internet connections ({})",
            if all {
                "servers and established"
            } else {
                "w/o servers"
            }
        );
        outln!("{}", sockets_header());
        for s in list.iter().filter(|s| all || !is_listening(s)) {
            outln!("{}", socket_row(s));
        }
        0
    }

    fn interfaces() -> i32 {
        match libway::net::interfaces() {
            Ok(list) => {
                outln!("Kernel Interface table");
                outln!("{}", interfaces_header());
                for i in &list {
                    outln!("{}", interface_row(i));
                }
                0
            }
            Err(e) => {
                err!("cannot ask netd: {}", errtext(e));
                1
            }
        }
    }

    fn statistics() -> i32 {
        let mut status = 0;
        match libway::net::stats() {
            Ok(s) => sys::write_str(&stats_lines(&s)),
            Err(e) => {
                err!("cannot ask netd: {}", errtext(e));
                status = 1;
            }
        }
        for nic in 0.. {
            match libway::net::nic_info(nic) {
                Ok(info) => sys::write_str(&nic_lines(nic, &info)),
                Err(e) if e.code() == ENODEV => break,
                Err(e) => {
                    err!("nic{nic}: {}", errtext(e));
                    status = 1;
                    break;
                }
            }
        }
        status
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        if let Some(extra) = p.operands.first() {
            return sys::usage_error(format_args!("extra operand '{extra}'"), 1);
        }
        if p.has('s') {
            statistics()
        } else if p.has('i') {
            interfaces()
        } else {
            sockets(p.has('a'))
        }
    }
}
