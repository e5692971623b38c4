//! `nettest`: the in-guest suite of networking — sockets through netd, the network
//! commands, the NIC, and (under the harness) real programs on the host.
//!
//! Groups, one module each under `nettest/`; `nettest all` (or no argument, as init runs
//! it) runs every group, `nettest loopback cmds` only those:
//! - `loopback`: the socket API over `lo` (127.0.0.1): a 1 MiB TCP echo compared by
//!   SHA-256, UDP datagrams, 32 connections at once, the accept backlog, a server killed
//!   mid-request, non-blocking and timeout behaviour, the POSIX errnos, a socket as a file
//!   descriptor (`cat` and `wc` with a socket as standard input/output, `dup2`), `fd_call`
//!   on a non-socket, the per-process socket quota.
//! - `cmds`: `httpd`, `fetch`, `nc`, `ping`, `netstat`, `ifinfo` run as programs over
//!   loopback (a file served and fetched byte for byte, `fetch URL | wc -c`, 404s,
//!   redirects, bad requests, parallel clients, echo servers).
//! - `eth0`: the NIC and DHCP (10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3 from QEMU's
//!   user network), `ping 10.0.2.2`, name resolution failing cleanly; skipped (with the
//!   reason) when the machine has no NIC.
//! - `host`: needs the harness (`Suite::host`): fetches from the harness's HTTP server
//!   (plain, chunked, redirected) checked by size and SHA-256, the host's HTTP client
//!   against `httpd` through a port forward (8 in parallel), UDP echo both ways, hostile
//!   frames injected on the wire (counters move, the network still works), a connection
//!   flood. By hand it is skipped with the reason.
//!
//! Every expected value is known independently of the code under test: data is a
//! deterministic pattern whose digest is computed separately, addresses are QEMU's,
//! errnos are POSIX's. Every wait is bounded (socket timeouts, `wait_for`), so a broken
//! network fails checks instead of hanging the suite. Scratch files go to `/tmp/nt`.
#![no_std]
#![no_main]

extern crate alloc;

#[path = "nettest/cmds.rs"]
mod cmds;
#[path = "nettest/eth0.rs"]
mod eth0;
#[path = "nettest/host.rs"]
mod host;
#[path = "nettest/loopback.rs"]
mod loopback;
#[path = "nettest/util.rs"]
mod util;

use libway::suite::Suite;
use libway::Args;

libway::entry!(main);

/// One group's checks.
type Group = fn(&mut Suite);

/// The groups, by name, in the order `all` runs them.
const GROUPS: &[(&str, Group)] = &[
    ("loopback", loopback::run),
    ("cmds", cmds::run),
    ("eth0", eth0::run),
    ("host", host::run),
];

fn main(args: Args) -> i32 {
    let wanted: alloc::vec::Vec<&str> = args.iter().skip(1).filter(|w| *w != "all").collect();
    if let Some(bad) = wanted.iter().find(|w| !GROUPS.iter().any(|(n, _)| n == *w)) {
        libway::eprint!("nettest: no group {bad}; groups: all");
        for (name, _) in GROUPS {
            libway::eprint!(" {name}");
        }
        libway::eprintln!();
        return 2;
    }
    let _ = libway::fs::create_dir("/tmp");
    let _ = libway::fs::create_dir(util::SCRATCH);
    let mut s = Suite::new("nettest");
    for (name, group) in GROUPS {
        if wanted.is_empty() || wanted.contains(name) {
            group(&mut s);
        }
    }
    s.finish()
}
