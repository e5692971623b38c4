//! `netd`: the network server. TCP/IP in user space on smoltcp — ARP, IPv4, ICMP (echo
//! replies and echo sockets), UDP, TCP, DHCPv4 with a static fallback, a DNS resolver —
//! over the kernel's NIC ring (`eth0`) and a loopback interface (`lo`), serving sockets that
//! programs hold as file descriptors (`docs/net.md`; protocol `wayos_abi::netd`, client
//! `libway::net`).
//!
//! **One port, one loop.** netd registers one port as `netd`. Every socket is a badge on
//! it (`port_badge`): the client gets a send handle with the badge and makes it an fd, so
//! its reads, writes and `fd_call`s all arrive here tagged with the socket; the kernel's
//! NIC notifications and the sockets' `CLOSE` notices arrive here too. A single thread
//! receives with a timeout from smoltcp's next deadline and the earliest waiting request,
//! handles the message, then polls the interfaces and answers what became answerable.
//! Nothing waits for a client: a request that must wait keeps its reply handle
//! (`sock::Table`).
//!
//! **Never trusts a client.** Every length, address and option is checked; a bad request
//! gets an errno and changes nothing; handles a request brings are closed; sockets,
//! waiting requests and buffers are bounded (`wayos_abi::netd` limits) and allocated with
//! `try_reserve` where a client asks for them. A client dying at any point only closes its
//! sockets.
//!
//! Privileges: init starts it with `netraw` (to take the NIC) and `nssys` (its name);
//! once both are used it keeps none and filters out the calls it never makes.
#![no_std]
#![no_main]

extern crate alloc;

#[path = "netd/check.rs"]
mod check;
#[path = "netd/ring.rs"]
mod ring;
#[path = "netd/sock.rs"]
mod sock;
#[path = "netd/stack.rs"]
mod stack;

use alloc::vec::Vec;

use libway::abi::errno::{EAGAIN, EINVAL, ENETDOWN, ENOENT, ETIMEDOUT};
use libway::abi::ipc::{Message, FROM_KERNEL, MAX_CAPACITY};
use libway::abi::net::NOTIFY;
use libway::abi::netd::{
    Index, Resolved, Stats, HOST_MAX, IFINFO, NAME, RESOLVE, RESOLVE_MAX, SOCKET, SOCKLIST, STATS,
};
use libway::abi::stream::CLOSE;
use libway::abi::zerocopy::{FromBytes, IntoBytes};
use libway::caps;
use libway::grant::MemHandle;
use libway::ipc::{ns, MessageExt, Port, ReplyHandle, Timeout};
use libway::{eprintln, println, Args};
use smoltcp::socket::dns::{GetQueryResultError, QueryHandle, StartQueryError};
use smoltcp::wire::{DnsQueryType, IpAddress};

use sock::{answer, Table};
use stack::{instant, Stack};

libway::entry!(main);

/// How long a name lookup may take.
const RESOLVE_TIMEOUT_NS: u64 = 10_000_000_000;
/// Messages handled between two polls of the interfaces.
const BATCH: usize = 16;
/// Frames taken from one interface in one turn of the loop.
const FRAME_BUDGET: usize = 128;

fn now_ns() -> u64 {
    libway::time::monotonic_ns().unwrap_or(0)
}

/// A name lookup waiting for the DNS server.
struct Lookup {
    reply: ReplyHandle,
    query: QueryHandle,
    deadline: u64,
}

struct Netd {
    port: Port,
    stack: Stack,
    table: Table,
    lookups: Vec<Lookup>,
}

fn main(_args: Args) -> i32 {
    let port = match Port::create(MAX_CAPACITY) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("netd: cannot create its port: {e}");
            return 1;
        }
    };
    let ring = attach_nic(&port);
    let seed = now_ns() ^ (libway::process::getpid().unwrap_or(1) as u64).rotate_left(40);
    let stack = Stack::new(ring, seed, now_ns());
    if let Err(e) = ns::register(NAME, &port) {
        eprintln!("netd: cannot register '{NAME}': {e}");
        return 1;
    }
    caps::narrow_server("netd", 0);
    println!(
        "netd: serving (pid {}): lo 127.0.0.1{}",
        libway::process::getpid().unwrap_or(0),
        if stack.has_eth() {
            ", eth0 (DHCP)"
        } else {
            "; no NIC"
        }
    );
    let mut netd = Netd {
        port,
        stack,
        table: Table::new(),
        lookups: Vec::new(),
    };
    netd.run()
}

/// Takes NIC 0 and maps its ring; `None` (lo only) when there is none or it cannot.
fn attach_nic(port: &Port) -> Option<ring::RingDev> {
    let notify = match port.dup(libway::ipc::RIGHT_SEND) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("netd: no notify handle: {e}");
            return None;
        }
    };
    let (nic, info) = match libway::net::nic_attach(0, &notify) {
        Ok(r) => r,
        Err(e) if e.code() == libway::abi::errno::ENODEV => return None,
        Err(e) => {
            eprintln!("netd: cannot attach the NIC: {e}");
            return None;
        }
    };
    drop(notify);
    let mem = MemHandle::from_raw(nic);
    if info.mac[0] & 1 != 0 || info.mac == [0; 6] {
        // smoltcp refuses (panics on) an interface without a unicast address.
        eprintln!(
            "netd: the NIC's MAC {:02x?} is not unicast; lo only",
            info.mac
        );
        return None;
    }
    let map = mem.map(true);
    // The handle is the claim on the NIC: keep it open for netd's life.
    let nic = mem.into_raw();
    let map = match map {
        Ok(m) => m,
        Err(e) => {
            eprintln!("netd: cannot map the NIC ring: {e}");
            return None;
        }
    };
    match ring::RingDev::new(map, nic, info.mac) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("netd: bad NIC ring: {e}");
            None
        }
    }
}

impl Netd {
    fn run(&mut self) -> ! {
        loop {
            let now = now_ns();
            let next = self.poll(now);
            let mut timeout = match next {
                Some(t) => Timeout::ns(t.saturating_sub(now_ns()).max(1)),
                None => Timeout::Forever,
            };
            if self.stack.rx_pending() {
                timeout = Timeout::NonBlocking;
            }
            for n in 0..BATCH {
                let mut msg = Message::new(0);
                let t = if n == 0 {
                    timeout
                } else {
                    Timeout::NonBlocking
                };
                match self.port.recv_badged(&mut msg, t) {
                    Ok(badge) => self.handle(msg, badge),
                    Err(e) if e.code() == EAGAIN || e.code() == ETIMEDOUT => break,
                    Err(e) => {
                        eprintln!("netd: receive failed: {e}");
                        let _ = libway::time::sleep_ms(10);
                        break;
                    }
                }
            }
        }
    }

    /// Moves frames in and out, answers what became answerable; returns when it wants to
    /// run again (ns), if ever.
    fn poll(&mut self, now: u64) -> Option<u64> {
        let t = instant(now);
        for i in [stack::LO, stack::ETH] {
            let mut budget = FRAME_BUDGET;
            while budget > 0 && self.stack.ingress_one(i, t) {
                // A SYN took a listening socket: put a new one in its place before the
                // next frame.
                self.table.maintain(&mut self.stack, now);
                budget -= 1;
            }
        }
        let fallback = self.stack.configure(now);
        let waiting = self.table.service(&mut self.stack, &self.port, now);
        let lookups = self.service_lookups(now);
        self.stack.egress(t);
        let smoltcp = self.stack.poll_delay_ns(t).map(|d| now.saturating_add(d));
        [fallback, waiting, lookups, smoltcp]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle(&mut self, mut msg: Message, badge: u32) {
        let now = now_ns();
        if msg.reply == FROM_KERNEL {
            match msg.label {
                // The ring has news: the next poll takes it, and kicks to re-arm.
                NOTIFY => {
                    if let Some(e) = &self.stack.eth {
                        e.dev.notified();
                    }
                }
                CLOSE if badge != 0 => self.table.close(&mut self.stack, badge, now),
                _ => {}
            }
            return;
        }
        // No request takes handles from a client.
        for i in 0..msg.handles.len() {
            drop(msg.take_handle(i));
        }
        let Some(reply) = msg.take_reply() else {
            // Only calls are served.
            return;
        };
        if badge == 0 {
            return self.server_request(&msg, reply, now);
        }
        if let Some(m) = self.table.bind_or_listen(&mut self.stack, badge, &msg, now) {
            return answer(reply, &m);
        }
        self.table
            .request(&mut self.stack, &self.port, badge, &msg, reply, now);
    }

    /// A request on the server port itself.
    fn server_request(&mut self, msg: &Message, reply: ReplyHandle, now: u64) {
        let m = match msg.label {
            SOCKET => self.table.socket(&mut self.stack, &self.port, msg),
            RESOLVE => return self.resolve(msg, reply, now),
            IFINFO => match Index::read_from_prefix(msg.bytes()) {
                Ok((i, _)) => {
                    let r = self.stack.ifinfo(i.index as usize);
                    Message::with_bytes(0, r.as_bytes()).unwrap_or(Message::new(EINVAL as u64))
                }
                Err(_) => Message::new(EINVAL as u64),
            },
            SOCKLIST => match Index::read_from_prefix(msg.bytes()) {
                Ok((i, _)) => {
                    let r = self.table.info(&mut self.stack, i.index as usize);
                    Message::with_bytes(0, r.as_bytes()).unwrap_or(Message::new(EINVAL as u64))
                }
                Err(_) => Message::new(EINVAL as u64),
            },
            STATS => {
                self.stack
                    .counters
                    .set(check::SOCKETS_OPEN, self.table.live() as u64);
                let s = Stats {
                    counters: self.stack.stats(),
                };
                Message::with_bytes(0, s.as_bytes()).unwrap_or(Message::new(EINVAL as u64))
            }
            _ => Message::new(EINVAL as u64),
        };
        answer(reply, &m);
    }

    /// `RESOLVE`: a dotted quad or `localhost` at once, else a DNS query that waits.
    fn resolve(&mut self, msg: &Message, reply: ReplyHandle, now: u64) {
        let name = match core::str::from_utf8(msg.bytes()) {
            Ok(n) if !n.is_empty() && n.len() <= HOST_MAX => n,
            _ => return answer(reply, &Message::new(EINVAL as u64)),
        };
        let direct = if name.eq_ignore_ascii_case("localhost") {
            Some([127, 0, 0, 1])
        } else {
            libway::net::Ipv4Addr::parse(name).map(|a| a.0)
        };
        if let Some(a) = direct {
            let mut r = Resolved {
                count: 1,
                ..Resolved::default()
            };
            r.addrs[0] = a;
            return answer(reply, &resolved(&r));
        }
        if self.lookups.try_reserve(1).is_err() {
            return answer(reply, &Message::new(libway::abi::errno::ENOMEM as u64));
        }
        let Some((cx, dns)) = self.stack.dns() else {
            return answer(reply, &Message::new(ENETDOWN as u64));
        };
        match dns.start_query(cx.context(), name, DnsQueryType::A) {
            Ok(query) => {
                self.stack.counters.bump(check::DNS_QUERIES);
                self.lookups.push(Lookup {
                    reply,
                    query,
                    deadline: now + RESOLVE_TIMEOUT_NS,
                });
            }
            Err(StartQueryError::NoFreeSlot) => answer(reply, &Message::new(EAGAIN as u64)),
            Err(_) => answer(reply, &Message::new(EINVAL as u64)),
        }
    }

    /// Answers finished lookups; returns the earliest deadline left.
    fn service_lookups(&mut self, now: u64) -> Option<u64> {
        let mut next = None;
        let mut k = 0;
        while k < self.lookups.len() {
            let q = self.lookups[k].query;
            let Some((_, dns)) = self.stack.dns() else {
                break;
            };
            let outcome = match dns.get_query_result(q) {
                Err(GetQueryResultError::Pending) if now >= self.lookups[k].deadline => {
                    dns.cancel_query(q);
                    Some(Message::new(ETIMEDOUT as u64))
                }
                Err(GetQueryResultError::Pending) => None,
                Err(GetQueryResultError::Failed) => Some(Message::new(ENOENT as u64)),
                Ok(addrs) => {
                    let mut r = Resolved::default();
                    for a in addrs.iter().take(RESOLVE_MAX) {
                        let IpAddress::Ipv4(v) = a;
                        r.addrs[r.count as usize] = v.octets();
                        r.count += 1;
                    }
                    Some(if r.count == 0 {
                        Message::new(ENOENT as u64)
                    } else {
                        resolved(&r)
                    })
                }
            };
            match outcome {
                Some(m) => {
                    let l = self.lookups.swap_remove(k);
                    answer(l.reply, &m);
                }
                None => {
                    let d = self.lookups[k].deadline;
                    next = Some(next.map_or(d, |n: u64| n.min(d)));
                    k += 1;
                }
            }
        }
        next
    }
}

fn resolved(r: &Resolved) -> Message {
    Message::with_bytes(0, r.as_bytes()).unwrap_or(Message::new(EINVAL as u64))
}
