//! `ping [-q] [-c COUNT] [-i INTERVAL] [-W TIMEOUT] [-s SIZE] HOST`: ICMP echo through
//! netd, printed as iputils' ping prints it: a line per reply (`icmp_seq`, `time`), and
//! on the end (the count reached, or Ctrl-C) the transmitted/received/loss line and
//! rtt min/avg/max/mdev. Each request waits up to TIMEOUT for its reply (a reply that
//! comes later still counts while it is among the last [`WINDOW`] sent), then the rest
//! of INTERVAL. Exit status 0 if any reply came, 1 if none, 2 for an error.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::collections::VecDeque;
    use alloc::vec::Vec;

    use coreutils::args::Spec;
    use coreutils::sys::{self, write_str};
    use coreutils::{err, out};
    use libway::abi::errno::{EAGAIN, EINTR, ETIMEDOUT};
    use libway::abi::netd::DGRAM_MAX;
    use libway::net::IcmpSocket;
    use libway::Args;
    use netcmds::num::parse_secs;
    use netcmds::report::{ms3, ping_summary, Rtt};
    use netcmds::sys::{catch_sigint, errtext, interrupted, now_ns, resolve_errtext, resolve_host};

    const HELP: &str = "[-q] [-c COUNT] [-i INTERVAL] [-W TIMEOUT] [-s SIZE] HOST\nSend ICMP ECHO_REQUEST to HOST and print the replies.\n\n  -c COUNT     stop after COUNT requests (default: until Ctrl-C)\n  -i INTERVAL  seconds between requests (default 1)\n  -W TIMEOUT   seconds to wait for each reply (default 2)\n  -s SIZE      payload bytes (default 56)\n  -q           print only the summary\n";
    const SPEC: Spec = Spec::short("c:i:W:s:q");
    /// ICMP echo header bytes (type, code, checksum, ident, seq).
    const ICMP_HEADER: usize = 8;
    /// IPv4 header bytes (as iputils counts `56(84)`).
    const IP_HEADER: usize = 20;
    /// Requests remembered for late replies.
    const WINDOW: usize = 128;
    /// How long one wait for a reply lasts before Ctrl-C is looked at again.
    const SLICE_NS: u64 = 100_000_000;

    struct Sent {
        seq: u16,
        at: u64,
        answered: bool,
    }

    struct Pinger {
        sock: IcmpSocket,
        ident: u16,
        quiet: bool,
        received: u64,
        rtt: Rtt,
        window: VecDeque<Sent>,
    }

    impl Pinger {
        /// Waits until `deadline`, or until `seq` (if given) is answered, or Ctrl-C;
        /// counts and prints every reply of ours that arrives meanwhile.
        fn wait(&mut self, seq: Option<u16>, deadline: u64) -> Result<(), libway::Errno> {
            loop {
                if interrupted() {
                    return Ok(());
                }
                let now = now_ns();
                if now >= deadline {
                    return Ok(());
                }
                let slice = (deadline - now).min(SLICE_NS);
                match self.sock.recv_echo(slice) {
                    Ok((from, ident, got_seq, len)) => {
                        let at = now_ns();
                        if ident != self.ident {
                            continue;
                        }
                        let Some(s) = self
                            .window
                            .iter_mut()
                            .find(|s| s.seq == got_seq && !s.answered)
                        else {
                            continue;
                        };
                        s.answered = true;
                        let rtt = at.saturating_sub(s.at);
                        self.rtt.add(rtt);
                        self.received += 1;
                        if !self.quiet {
                            sys::write_str(&alloc::format!(
                                "{} bytes from {from}: icmp_seq={got_seq} time={} ms\n",
                                len + ICMP_HEADER,
                                ms3(rtt)
                            ));
                            sys::flush();
                        }
                        if Some(got_seq) == seq {
                            return Ok(());
                        }
                    }
                    Err(e) if [EAGAIN, ETIMEDOUT, EINTR].contains(&e.code()) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 2) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let (mut count, mut interval, mut timeout, mut size, mut quiet) =
            (None, 1_000_000_000u64, 2_000_000_000u64, 56usize, false);
        for (c, v) in &p.opts {
            let v = v.unwrap_or("");
            match c {
                'c' => match v.parse::<u64>() {
                    Ok(n) if n > 0 => count = Some(n),
                    _ => {
                        err!("invalid argument: '{v}'");
                        return 2;
                    }
                },
                'i' | 'W' => match parse_secs(v) {
                    Some(ns) if *c == 'i' => interval = ns,
                    Some(ns) => timeout = ns.max(1_000_000),
                    None => {
                        err!("invalid argument: '{v}'");
                        return 2;
                    }
                },
                's' => match v.parse::<usize>() {
                    Ok(n) if n + ICMP_HEADER <= DGRAM_MAX => size = n,
                    _ => {
                        err!(
                            "invalid argument: '{v}': out of range: 0 <= value <= {}",
                            DGRAM_MAX - ICMP_HEADER
                        );
                        return 2;
                    }
                },
                'q' => quiet = true,
                _ => {}
            }
        }
        let [host] = p.operands.as_slice() else {
            err!("usage error: Destination address required");
            return 2;
        };
        let addr = match resolve_host(host) {
            Ok(a) => a,
            Err(e) => {
                err!("{host}: {}", resolve_errtext(e));
                return 2;
            }
        };
        let sock = match IcmpSocket::new() {
            Ok(s) => s,
            Err(e) => {
                err!("socket: {}", errtext(e));
                return 2;
            }
        };
        catch_sigint();
        out!(
            "PING {host} ({addr}) {size}({}) bytes of data.\n",
            size + ICMP_HEADER + IP_HEADER
        );
        sys::flush();
        let payload: Vec<u8> = (0..size).map(|i| (i & 0xff) as u8).collect();
        let mut pinger = Pinger {
            sock,
            ident: (libway::process::getpid().unwrap_or(1) & 0xffff) as u16,
            quiet,
            received: 0,
            rtt: Rtt::default(),
            window: VecDeque::new(),
        };
        let start = now_ns();
        let mut sent = 0u64;
        let mut status = 0;
        let mut seq: u16 = 0;
        while count.is_none_or(|c| sent < c) && !interrupted() {
            seq = seq.wrapping_add(1);
            let t0 = now_ns();
            if let Err(e) = pinger.sock.send_echo(addr, pinger.ident, seq, &payload) {
                err!("sendmsg: {}", errtext(e));
                status = 2;
                break;
            }
            sent += 1;
            if pinger.window.len() == WINDOW {
                pinger.window.pop_front();
            }
            pinger.window.push_back(Sent {
                seq,
                at: t0,
                answered: false,
            });
            if let Err(e) = pinger.wait(Some(seq), t0 + timeout) {
                err!("recvmsg: {}", errtext(e));
                status = 2;
                break;
            }
            let last = count.is_some_and(|c| sent >= c);
            if !last {
                // The rest of the interval; replies that come meanwhile still count.
                let _ = pinger.wait(None, t0 + interval);
            }
        }
        let elapsed = now_ns().saturating_sub(start);
        write_str(&ping_summary(
            host,
            sent,
            pinger.received,
            elapsed,
            &pinger.rtt,
        ));
        if status != 0 {
            status
        } else if pinger.received > 0 {
            0
        } else {
            1
        }
    }
}
