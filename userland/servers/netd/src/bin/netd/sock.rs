//! The socket table: every socket netd serves, its requests (`wayos_abi::netd`, the
//! stream `READ`/`WRITE`) and the requests that wait.
//!
//! A socket is a slot here named by a badge (`port_badge` on netd's one port), which the
//! client holds as an fd; every message about it arrives with that badge, and its last
//! reference going brings `stream::CLOSE`, which frees it. A TCP socket is fresh, a
//! connection (one smoltcp socket on the interface its route uses) or a listener (listening
//! smoltcp sockets on each interface it is bound to, and the queue of connections not yet
//! accepted); a UDP or ICMP socket has a smoltcp socket on each interface it is bound to.
//!
//! **Waiting.** A request that cannot be answered now (a read with no data, an accept with
//! an empty queue, a connect in progress, a poll with nothing ready, a write into a full
//! buffer) keeps its reply handle in the socket's pending list with its deadline and is
//! answered by [`Table::service`] when it can be, when its timeout passes (`EAGAIN`, or
//! `ETIMEDOUT` for a connect), or when the socket goes. netd never blocks on a client: a
//! client that died only leaves a reply nobody takes, and its socket's `CLOSE` follows.
//!
//! **Bounds.** [`MAX_SOCKETS`] sockets (`ENOBUFS`), [`MAX_SOCKETS_PER_PID`] per claimed pid
//! (`EMFILE`), [`MAX_PENDING_PER_SOCKET`] waiting requests per socket and [`MAX_PENDING`]
//! in all (`EBUSY`), [`MAX_ZOMBIES`] closed connections finishing their FIN exchange; every
//! buffer a client's request makes netd allocate is `try_reserve`d (`ENOMEM`).

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::errno::*;
use libway::abi::ipc::{Message, INLINE_BYTES};
use libway::abi::netd::*;
use libway::abi::stream::{CHUNK, READ, WRITE};
use libway::abi::zerocopy::{FromBytes, IntoBytes};
use libway::ipc::{MessageExt, Port, ReplyHandle};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::{icmp, tcp, udp};
use smoltcp::storage::PacketMetadata;
use smoltcp::wire::{IpAddress, IpEndpoint, IpListenEndpoint, Ipv4Address};

use super::check;
use super::stack::{Stack, ETH, LO};

/// Listening smoltcp sockets kept ready per interface of a listener: a SYN takes one, and
/// it is replaced after every frame.
const SPARES: usize = 2;
/// A connection in the accept queue that has not finished its handshake after this long
/// is dropped (a SYN flood's half-open connections).
const SYN_TIMEOUT_NS: u64 = 5_000_000_000;
/// How long a closed connection may take to finish its FIN exchange before it is reset.
const LINGER_NS: u64 = 30_000_000_000;
/// Closed connections still finishing (beyond, the oldest is reset).
const MAX_ZOMBIES: usize = 128;
/// Requests that may wait per socket, and in all (each holds a reply handle).
const MAX_PENDING_PER_SOCKET: usize = 8;
const MAX_PENDING: usize = 512;
/// Payload bytes a UDP/ICMP socket's smoltcp buffer holds each way, per interface.
const DGRAM_BYTES: usize = 24 * 1024;

/// One socket's options.
#[derive(Clone, Copy, Default)]
struct Opts {
    nonblock: bool,
    /// 0: wait forever.
    rcvtimeo: u64,
    sndtimeo: u64,
    nodelay: bool,
}

/// A TCP connection's smoltcp socket and what netd remembers about it.
struct Conn {
    iface: usize,
    h: SocketHandle,
    /// The handshake completed once.
    connected: bool,
    /// A reset (or refusal) was already reported to the client.
    err_reported: bool,
    rd_shut: bool,
    wr_shut: bool,
}

struct Queued {
    iface: usize,
    h: SocketHandle,
    since_ns: u64,
}

struct Listener {
    addr: [u8; 4],
    port: u16,
    ifaces: Vec<usize>,
    backlog: usize,
    spares: Vec<(usize, SocketHandle)>,
    queue: VecDeque<Queued>,
}

enum Tcp {
    Fresh,
    Conn(Conn),
    Listen(Listener),
}

/// A UDP or ICMP socket.
struct Dgram {
    icmp: bool,
    /// The smoltcp socket on lo and on eth0, once bound.
    hs: [Option<SocketHandle>; 2],
    /// A datagram being built with `DGRAM_PART`.
    out_part: Vec<u8>,
    /// The rest of a received datagram (`RECV_MORE`), and how much of it was read.
    in_part: Option<(Vec<u8>, usize)>,
}

enum Body {
    Tcp(Tcp),
    Dgram(Dgram),
}

enum Op {
    Read(usize),
    Write(usize, [u8; CHUNK]),
    Accept,
    Connect,
    RecvFrom(usize),
    Poll(u32),
}

struct Pending {
    reply: ReplyHandle,
    op: Op,
    /// Monotonic ns; `None`: no limit.
    deadline: Option<u64>,
}

struct Sock {
    badge: u32,
    pid: u32,
    kind: u32,
    body: Body,
    /// The bound address and port.
    local: Option<([u8; 4], u16)>,
    /// A UDP socket's connected peer.
    peer: Option<([u8; 4], u16)>,
    opts: Opts,
    pending: VecDeque<Pending>,
}

/// A connection whose fds all closed, finishing its FIN exchange.
struct Zombie {
    iface: usize,
    h: SocketHandle,
    until_ns: u64,
}

/// The answer to a request: a reply now, or wait.
enum Step {
    Done(Message),
    Wait,
}

fn errno_msg(e: isize) -> Message {
    Message::new(e as u64)
}

fn ok_bytes(b: &[u8]) -> Message {
    Message::with_bytes(0, b).unwrap_or(Message::new(EIO as u64))
}

fn ok_u32(v: u32) -> Message {
    ok_bytes(&v.to_le_bytes())
}

fn done(e: isize) -> Step {
    Step::Done(errno_msg(e))
}

/// Answers a call; a caller that is gone is fine.
pub fn answer(reply: ReplyHandle, msg: &Message) {
    let _ = reply.reply(msg);
}

/// A zeroed buffer of `n` bytes, or `None` when memory ran out.
fn buffer(n: usize) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).ok()?;
    v.resize(n, 0);
    Some(v)
}

fn new_tcp() -> Option<tcp::Socket<'static>> {
    let rx = buffer(TCP_BUFFER)?;
    let tx = buffer(TCP_BUFFER)?;
    let mut s = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
    s.set_keep_alive(None);
    Some(s)
}

fn meta<H: Clone>(n: usize) -> Option<Vec<PacketMetadata<H>>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).ok()?;
    v.resize(n, PacketMetadata::EMPTY);
    Some(v)
}

fn new_udp() -> Option<udp::Socket<'static>> {
    let rx = udp::PacketBuffer::new(meta(DGRAM_QUEUE)?, buffer(DGRAM_BYTES)?);
    let tx = udp::PacketBuffer::new(meta(DGRAM_QUEUE)?, buffer(DGRAM_BYTES)?);
    Some(udp::Socket::new(rx, tx))
}

fn new_icmp() -> Option<icmp::Socket<'static>> {
    let rx = icmp::PacketBuffer::new(meta(DGRAM_QUEUE)?, buffer(DGRAM_BYTES)?);
    let tx = icmp::PacketBuffer::new(meta(DGRAM_QUEUE)?, buffer(DGRAM_BYTES)?);
    Some(icmp::Socket::new(rx, tx))
}

fn v4(a: [u8; 4]) -> Ipv4Address {
    Ipv4Address::new(a[0], a[1], a[2], a[3])
}

fn octets(a: IpAddress) -> [u8; 4] {
    match a {
        IpAddress::Ipv4(v) => v.octets(),
    }
}

fn raw_addr(a: [u8; 4], port: u16) -> SockAddr {
    SockAddr {
        addr: a,
        port,
        _pad: 0,
    }
}

fn listen_ep(addr: [u8; 4], port: u16) -> IpListenEndpoint {
    IpListenEndpoint {
        addr: (addr != [0; 4]).then(|| IpAddress::Ipv4(v4(addr))),
        port,
    }
}

/// The deadline `timeout` ns from `now` (0: none).
fn deadline(now: u64, timeout: u64) -> Option<u64> {
    (timeout != 0).then(|| now.saturating_add(timeout))
}

pub struct Table {
    slots: Vec<Option<Sock>>,
    gens: Vec<u32>,
    zombies: Vec<Zombie>,
    live: usize,
    pending: usize,
    /// One past the highest slot in use (slots are taken lowest first, so the loops that
    /// visit every socket on each turn stay short).
    high: usize,
}

impl Table {
    pub fn new() -> Table {
        let mut slots = Vec::new();
        slots.resize_with(MAX_SOCKETS, || None);
        Table {
            slots,
            gens: vec![0; MAX_SOCKETS],
            zombies: Vec::new(),
            live: 0,
            pending: 0,
            high: 0,
        }
    }

    pub fn live(&self) -> usize {
        self.live
    }

    fn index(&self, badge: u32) -> Option<usize> {
        let i = (badge & 0xff) as usize;
        match self.slots.get(i)? {
            Some(s) if s.badge == badge => Some(i),
            _ => None,
        }
    }

    fn pid_count(&self, pid: u32) -> usize {
        self.slots.iter().flatten().filter(|s| s.pid == pid).count()
    }

    /// A new socket of `kind` for `pid`, with its badged handle on `port`.
    fn create(
        &mut self,
        port: &Port,
        kind: u32,
        pid: u32,
        body: Body,
    ) -> Result<(u32, Port), isize> {
        if self.live >= MAX_SOCKETS {
            return Err(ENOBUFS);
        }
        if self.pid_count(pid) >= MAX_SOCKETS_PER_PID {
            return Err(EMFILE);
        }
        let i = self.slots.iter().position(Option::is_none).ok_or(ENOBUFS)?;
        self.high = self.high.max(i + 1);
        self.gens[i] = (self.gens[i] + 1) & 0x00ff_ffff;
        if self.gens[i] == 0 {
            self.gens[i] = 1;
        }
        let badge = self.gens[i] << 8 | i as u32;
        let handle = port.badge(badge).map_err(|e| e.code())?;
        let mut pending = VecDeque::new();
        if pending.try_reserve(2).is_err() {
            return Err(ENOMEM);
        }
        self.slots[i] = Some(Sock {
            badge,
            pid,
            kind,
            body,
            local: None,
            peer: None,
            opts: Opts::default(),
            pending,
        });
        self.live += 1;
        Ok((badge, handle))
    }

    /// `SOCKET`.
    pub fn socket(&mut self, stack: &mut Stack, port: &Port, msg: &Message) -> Message {
        let Ok((req, _)) = SocketReq::read_from_prefix(msg.bytes()) else {
            return errno_msg(EINVAL);
        };
        let body = match req.kind {
            KIND_TCP => Body::Tcp(Tcp::Fresh),
            KIND_UDP | KIND_ICMP => Body::Dgram(Dgram {
                icmp: req.kind == KIND_ICMP,
                hs: [None, None],
                out_part: Vec::new(),
                in_part: None,
            }),
            _ => return errno_msg(EPROTONOSUPPORT),
        };
        match self.create(port, req.kind, req.pid, body) {
            Ok((_, handle)) => {
                let mut m = Message::new(0);
                let _ = m.attach(handle);
                m
            }
            Err(e) => {
                stack.counters.bump(check::SOCKETS_REFUSED);
                errno_msg(e)
            }
        }
    }

    /// The last reference to socket `badge` went: free it (a TCP connection first
    /// finishes sending and closing, as a zombie).
    pub fn close(&mut self, stack: &mut Stack, badge: u32, now: u64) {
        let Some(i) = self.index(badge) else { return };
        let Some(s) = self.slots[i].take() else {
            return;
        };
        self.live -= 1;
        while self.high > 0 && self.slots[self.high - 1].is_none() {
            self.high -= 1;
        }
        self.pending -= s.pending.len();
        // Waiting replies are dropped: their callers are gone (or get EPIPE).
        drop(s.pending);
        match s.body {
            Body::Tcp(Tcp::Fresh) => {}
            Body::Tcp(Tcp::Conn(c)) => self.bury(stack, c.iface, c.h, now),
            Body::Tcp(Tcp::Listen(l)) => {
                for (iface, h) in l
                    .spares
                    .into_iter()
                    .chain(l.queue.into_iter().map(|q| (q.iface, q.h)))
                {
                    if let Some(set) = stack.sockets(iface) {
                        set.get_mut::<tcp::Socket>(h).abort();
                        self.zombies_push(stack, iface, h, now);
                    }
                }
            }
            Body::Dgram(d) => {
                for (iface, h) in d.hs.iter().enumerate() {
                    if let (Some(h), Some(set)) = (h, stack.sockets(iface)) {
                        set.remove(*h);
                    }
                }
            }
        }
    }

    /// Closes connection `h` gracefully and keeps it until its FIN exchange ends.
    ///
    /// What it had received and nobody read is dropped; data that arrives after the
    /// close resets it (`maintain`), as a closed socket's does on Linux, so the peer's
    /// writes fail instead of filling a buffer nobody reads.
    fn bury(&mut self, stack: &mut Stack, iface: usize, h: SocketHandle, now: u64) {
        let Some(set) = stack.sockets(iface) else {
            return;
        };
        let sock = set.get_mut::<tcp::Socket>(h);
        let mut sink = [0u8; 512];
        while matches!(sock.recv_slice(&mut sink), Ok(n) if n > 0) {}
        sock.close();
        self.zombies_push(stack, iface, h, now);
    }

    fn zombies_push(&mut self, stack: &mut Stack, iface: usize, h: SocketHandle, now: u64) {
        if self.zombies.len() >= MAX_ZOMBIES {
            let old = self.zombies.remove(0);
            if let Some(set) = stack.sockets(old.iface) {
                set.remove(old.h);
            }
        }
        // Cannot fail for long: the list is bounded and was allocated once grown.
        if self.zombies.try_reserve(1).is_err() {
            if let Some(set) = stack.sockets(iface) {
                set.remove(h);
            }
            return;
        }
        self.zombies.push(Zombie {
            iface,
            h,
            until_ns: now + LINGER_NS,
        });
    }

    /// A request on socket `badge`.
    pub fn request(
        &mut self,
        stack: &mut Stack,
        port: &Port,
        badge: u32,
        msg: &Message,
        reply: ReplyHandle,
        now: u64,
    ) {
        let Some(i) = self.index(badge) else {
            return answer(reply, &errno_msg(EBADF));
        };
        if msg.label == ACCEPT {
            return self.accept_request(stack, port, i, reply, now);
        }
        let Some(s) = self.slots[i].as_mut() else {
            return;
        };
        let (step, op) = match msg.label {
            READ => match read_want(msg) {
                Some(0) => (Step::Done(Message::new(0)), None),
                Some(n) => (s.read(stack, n), Some(Op::Read(n))),
                None => (done(EINVAL), None),
            },
            WRITE => {
                let data = msg.bytes();
                let mut copy = [0u8; CHUNK];
                copy[..data.len()].copy_from_slice(data);
                (s.write(stack, data), Some(Op::Write(data.len(), copy)))
            }
            RECVFROM => match read_want(msg) {
                Some(n) => (s.recvfrom(stack, n), Some(Op::RecvFrom(n))),
                None => (done(EINVAL), None),
            },
            CONNECT => match SockAddr::read_from_prefix(msg.bytes()) {
                Ok((a, _)) => match s.connect(stack, a, now) {
                    Ok(step) => (step, Some(Op::Connect)),
                    Err(e) => (done(e), None),
                },
                Err(_) => (done(EINVAL), None),
            },
            POLL => match PollReq::read_from_prefix(msg.bytes()) {
                Ok((p, _)) => {
                    let ready = s.readiness(stack) & (p.events | POLLERR | POLLHUP);
                    if ready != 0 || p.timeout_ns == 0 {
                        (Step::Done(ok_u32(ready)), None)
                    } else {
                        let dl =
                            (p.timeout_ns != u64::MAX).then(|| now.saturating_add(p.timeout_ns));
                        return self.wait(i, reply, Op::Poll(p.events), dl);
                    }
                }
                Err(_) => (done(EINVAL), None),
            },
            BIND => (Step::Done(s.bind(stack, msg)), None),
            LISTEN => (Step::Done(s.listen(stack, msg, now)), None),
            SENDTO => (Step::Done(s.sendto(stack, msg)), None),
            DGRAM_PART => (Step::Done(s.dgram_part(msg)), None),
            RECV_MORE => (Step::Done(s.recv_more(msg)), None),
            SHUTDOWN => (Step::Done(s.shutdown(stack, msg)), None),
            SETOPT => (Step::Done(s.setopt(stack, msg)), None),
            GETNAME => (Step::Done(s.getname(stack)), None),
            _ => (done(EINVAL), None),
        };
        match (step, op) {
            (Step::Done(m), _) => answer(reply, &m),
            (Step::Wait, Some(op)) => {
                let (nonblock, timeo) = match op {
                    Op::Write(..) => (s.opts.nonblock, s.opts.sndtimeo),
                    Op::Connect => {
                        let t = if s.opts.sndtimeo != 0 {
                            s.opts.sndtimeo
                        } else {
                            CONNECT_TIMEOUT_NS
                        };
                        (false, t)
                    }
                    _ => (s.opts.nonblock, s.opts.rcvtimeo),
                };
                if nonblock {
                    return answer(reply, &errno_msg(EAGAIN));
                }
                self.wait(i, reply, op, deadline(now, timeo));
            }
            (Step::Wait, None) => answer(reply, &errno_msg(EIO)),
        }
    }

    /// Keeps `reply` until `op` can be answered.
    fn wait(&mut self, i: usize, reply: ReplyHandle, op: Op, deadline: Option<u64>) {
        let Some(s) = self.slots[i].as_mut() else {
            return;
        };
        if self.pending >= MAX_PENDING || s.pending.len() >= MAX_PENDING_PER_SOCKET {
            return answer(reply, &errno_msg(EBUSY));
        }
        if s.pending.try_reserve(1).is_err() {
            return answer(reply, &errno_msg(ENOMEM));
        }
        s.pending.push_back(Pending {
            reply,
            op,
            deadline,
        });
        self.pending += 1;
    }

    fn accept_request(
        &mut self,
        stack: &mut Stack,
        port: &Port,
        i: usize,
        reply: ReplyHandle,
        now: u64,
    ) {
        match self.try_accept(stack, port, i) {
            Step::Done(m) => answer(reply, &m),
            Step::Wait => {
                let Some(s) = self.slots[i].as_ref() else {
                    return;
                };
                if s.opts.nonblock {
                    return answer(reply, &errno_msg(EAGAIN));
                }
                let dl = deadline(now, s.opts.rcvtimeo);
                self.wait(i, reply, Op::Accept, dl);
            }
        }
    }

    /// The oldest connection of listener `i` that finished its handshake, as a new socket.
    fn try_accept(&mut self, stack: &mut Stack, port: &Port, i: usize) -> Step {
        let Some(s) = self.slots[i].as_mut() else {
            return done(EBADF);
        };
        let pid = s.pid;
        let Body::Tcp(Tcp::Listen(l)) = &mut s.body else {
            return done(EINVAL);
        };
        let mut found = None;
        for (qi, q) in l.queue.iter().enumerate() {
            let Some(set) = stack.sockets(q.iface) else {
                continue;
            };
            let st = set.get::<tcp::Socket>(q.h).state();
            if matches!(st, tcp::State::Established | tcp::State::CloseWait) {
                found = Some(qi);
                break;
            }
        }
        let Some(qi) = found else { return Step::Wait };
        let (iface, h) = (l.queue[qi].iface, l.queue[qi].h);
        let Some(set) = stack.sockets(iface) else {
            return done(EIO);
        };
        let sock = set.get::<tcp::Socket>(h);
        let local = sock.local_endpoint().map(|e| (octets(e.addr), e.port));
        let peer = sock
            .remote_endpoint()
            .map_or(SockAddr::default(), |e| raw_addr(octets(e.addr), e.port));
        let body = Body::Tcp(Tcp::Conn(Conn {
            iface,
            h,
            connected: true,
            err_reported: false,
            rd_shut: false,
            wr_shut: false,
        }));
        match self.create(port, KIND_TCP, pid, body) {
            Ok((badge, handle)) => {
                if let Some(Some(Sock {
                    body: Body::Tcp(Tcp::Listen(l)),
                    ..
                })) = self.slots.get_mut(i)
                {
                    l.queue.remove(qi);
                }
                if let Some(j) = self.index(badge) {
                    if let Some(ns) = self.slots[j].as_mut() {
                        ns.local = local;
                    }
                }
                let mut m = ok_bytes(peer.as_bytes());
                let _ = m.attach(handle);
                Step::Done(m)
            }
            // The connection stays queued for a later accept.
            Err(e) => done(e),
        }
    }

    /// Answers what waits and can be answered now, times out what waited too long, keeps
    /// listeners stocked and buries finished zombies. Returns the earliest deadline left.
    pub fn service(&mut self, stack: &mut Stack, port: &Port, now: u64) -> Option<u64> {
        self.maintain(stack, now);
        let mut next: Option<u64> = None;
        for i in 0..self.high {
            let Some(s) = self.slots[i].as_mut() else {
                continue;
            };
            if s.pending.is_empty() {
                continue;
            }
            let mut keep = VecDeque::new();
            let mut waiting = core::mem::take(&mut s.pending);
            // Answers are computed with the socket borrowed; accepts need the table.
            let mut accepts = Vec::new();
            while let Some(p) = waiting.pop_front() {
                let Some(s) = self.slots[i].as_mut() else {
                    break;
                };
                let step = match &p.op {
                    Op::Read(n) => s.read(stack, *n),
                    Op::Write(len, data) => s.write(stack, &data[..*len]),
                    Op::RecvFrom(n) => s.recvfrom(stack, *n),
                    Op::Connect => s.connect_progress(stack),
                    Op::Poll(ev) => {
                        let r = s.readiness(stack) & (ev | POLLERR | POLLHUP);
                        if r != 0 {
                            Step::Done(ok_u32(r))
                        } else {
                            Step::Wait
                        }
                    }
                    Op::Accept => {
                        accepts.push(p);
                        continue;
                    }
                };
                match step {
                    Step::Done(m) => {
                        self.pending -= 1;
                        answer(p.reply, &m);
                    }
                    Step::Wait if p.deadline.is_some_and(|d| now >= d) => {
                        self.pending -= 1;
                        let m = match p.op {
                            Op::Connect => {
                                s.abort_conn(stack);
                                errno_msg(ETIMEDOUT)
                            }
                            Op::Poll(_) => ok_u32(0),
                            _ => errno_msg(EAGAIN),
                        };
                        answer(p.reply, &m);
                    }
                    Step::Wait => {
                        if let Some(d) = p.deadline {
                            next = Some(next.map_or(d, |n| n.min(d)));
                        }
                        keep.push_back(p);
                    }
                }
            }
            for p in accepts {
                match self.try_accept(stack, port, i) {
                    Step::Done(m) => {
                        self.pending -= 1;
                        answer(p.reply, &m);
                    }
                    Step::Wait if p.deadline.is_some_and(|d| now >= d) => {
                        self.pending -= 1;
                        answer(p.reply, &errno_msg(EAGAIN));
                    }
                    Step::Wait => {
                        if let Some(d) = p.deadline {
                            next = Some(next.map_or(d, |n| n.min(d)));
                        }
                        keep.push_back(p);
                    }
                }
            }
            if let Some(s) = self.slots[i].as_mut() {
                s.pending = keep;
            }
        }
        next
    }

    /// Listeners: connections that left LISTEN join the accept queue, dead or half-open
    /// ones leave it, spares are topped up while the backlog has room, and the ring drops
    /// SYNs to listeners that are full. Zombies that finished are freed.
    pub fn maintain(&mut self, stack: &mut Stack, now: u64) {
        let mut blocked = Vec::new();
        for s in self.slots[..self.high].iter_mut().flatten() {
            let Body::Tcp(Tcp::Listen(l)) = &mut s.body else {
                continue;
            };
            let mut k = 0;
            while k < l.spares.len() {
                let (iface, h) = l.spares[k];
                let st = stack
                    .sockets(iface)
                    .map(|set| set.get::<tcp::Socket>(h).state());
                if st == Some(tcp::State::Listen) {
                    k += 1;
                    continue;
                }
                l.spares.swap_remove(k);
                if l.queue.try_reserve(1).is_ok() {
                    l.queue.push_back(Queued {
                        iface,
                        h,
                        since_ns: now,
                    });
                } else if let Some(set) = stack.sockets(iface) {
                    set.remove(h);
                }
            }
            l.queue.retain(|q| {
                let Some(set) = stack.sockets(q.iface) else {
                    return false;
                };
                let sock = set.get_mut::<tcp::Socket>(q.h);
                let dead = match sock.state() {
                    tcp::State::Closed | tcp::State::TimeWait => true,
                    tcp::State::SynReceived => now.saturating_sub(q.since_ns) > SYN_TIMEOUT_NS,
                    _ => false,
                };
                if dead {
                    set.remove(q.h);
                }
                !dead
            });
            for &iface in &l.ifaces {
                while l.spares.iter().filter(|(i, _)| *i == iface).count() < SPARES
                    && l.queue.len() + l.spares.len() < l.backlog + SPARES * l.ifaces.len()
                {
                    let Some(mut sock) = new_tcp() else { break };
                    if sock.listen(listen_ep(l.addr, l.port)).is_err() {
                        break;
                    }
                    let Some(set) = stack.sockets(iface) else {
                        break;
                    };
                    if l.spares.try_reserve(1).is_err() {
                        break;
                    }
                    let h = set.add(sock);
                    l.spares.push((iface, h));
                }
            }
            if l.queue.len() >= l.backlog && blocked.try_reserve(1).is_ok() {
                blocked.push(l.port);
            }
        }
        if let Some(e) = stack.eth.as_mut() {
            *e.dev.syn_blocked.borrow_mut() = blocked;
        }
        let mut k = 0;
        while k < self.zombies.len() {
            let z = &self.zombies[k];
            let Some(set) = stack.sockets(z.iface) else {
                self.zombies.swap_remove(k);
                continue;
            };
            let sock = set.get_mut::<tcp::Socket>(z.h);
            if matches!(sock.state(), tcp::State::Closed | tcp::State::TimeWait) {
                set.remove(z.h);
                self.zombies.swap_remove(k);
                continue;
            }
            if now >= z.until_ns || sock.can_recv() {
                // Reset now; freed on the next pass, after the RST went out.
                sock.abort();
            }
            k += 1;
        }
    }

    /// `SOCKLIST` record `index`: live sockets in slot order, then closing connections.
    pub fn info(&mut self, stack: &mut Stack, index: usize) -> SockInfo {
        let total = (self.live + self.zombies.len()) as u32;
        let mut r = SockInfo {
            total,
            ..SockInfo::default()
        };
        if let Some(s) = self.slots.iter().flatten().nth(index) {
            s.describe(stack, &mut r);
        } else if let Some(z) = self.zombies.get(index.wrapping_sub(self.live)) {
            r.kind = KIND_TCP;
            if let Some(set) = stack.sockets(z.iface) {
                let sock = set.get::<tcp::Socket>(z.h);
                describe_tcp(sock, &mut r);
            }
        }
        r
    }
}

/// `data[..4]` as the most bytes a read wants.
fn read_want(msg: &Message) -> Option<usize> {
    let (n, _) = u32::read_from_prefix(msg.bytes()).ok()?;
    Some(n as usize)
}

fn state_index(st: tcp::State) -> u32 {
    use tcp::State::*;
    match st {
        Closed => 0,
        Listen => 1,
        SynSent => 2,
        SynReceived => 3,
        Established => 4,
        FinWait1 => 5,
        FinWait2 => 6,
        CloseWait => 7,
        Closing => 8,
        LastAck => 9,
        TimeWait => 10,
    }
}

fn describe_tcp(sock: &tcp::Socket, r: &mut SockInfo) {
    r.state = state_index(sock.state());
    if let Some(e) = sock.local_endpoint() {
        r.local = raw_addr(octets(e.addr), e.port);
    }
    if let Some(e) = sock.remote_endpoint() {
        r.peer = raw_addr(octets(e.addr), e.port);
    }
    r.rx_queued = sock.recv_queue() as u32;
    r.tx_queued = sock.send_queue() as u32;
}

impl Sock {
    fn conn_mut<'a>(
        &'a mut self,
        stack: &'a mut Stack,
    ) -> Option<(&'a mut Conn, &'a mut tcp::Socket<'static>)> {
        let Body::Tcp(Tcp::Conn(c)) = &mut self.body else {
            return None;
        };
        let set = stack.sockets(c.iface)?;
        let sock = set.get_mut::<tcp::Socket>(c.h);
        Some((c, sock))
    }

    fn describe(&self, stack: &mut Stack, r: &mut SockInfo) {
        r.kind = self.kind;
        r.pid = self.pid;
        if let Some((a, p)) = self.local {
            r.local = raw_addr(a, p);
        }
        if let Some((a, p)) = self.peer {
            r.peer = raw_addr(a, p);
        }
        match &self.body {
            Body::Tcp(Tcp::Fresh) => {}
            Body::Tcp(Tcp::Listen(l)) => {
                r.state = 1;
                r.local = raw_addr(l.addr, l.port);
                r.rx_queued = l.queue.len() as u32;
            }
            Body::Tcp(Tcp::Conn(c)) => {
                if let Some(set) = stack.sockets(c.iface) {
                    describe_tcp(set.get::<tcp::Socket>(c.h), r);
                }
            }
            Body::Dgram(d) => {
                r.state = d.hs.iter().any(Option::is_some) as u32;
                for (iface, h) in d.hs.iter().enumerate() {
                    let (Some(h), Some(set)) = (h, stack.sockets(iface)) else {
                        continue;
                    };
                    if d.icmp {
                        let s = set.get::<icmp::Socket>(*h);
                        r.rx_queued += s.recv_queue() as u32;
                        r.tx_queued += s.send_queue() as u32;
                    } else {
                        let s = set.get::<udp::Socket>(*h);
                        r.rx_queued += s.recv_queue() as u32;
                        r.tx_queued += s.send_queue() as u32;
                    }
                }
            }
        }
    }

    /// The `POLL*` events ready now.
    fn readiness(&mut self, stack: &mut Stack) -> u32 {
        match &mut self.body {
            Body::Tcp(Tcp::Fresh) => POLLHUP,
            Body::Tcp(Tcp::Listen(l)) => {
                let ready = l.queue.iter().any(|q| {
                    stack.sockets(q.iface).is_some_and(|set| {
                        matches!(
                            set.get::<tcp::Socket>(q.h).state(),
                            tcp::State::Established | tcp::State::CloseWait
                        )
                    })
                });
                if ready {
                    POLLIN
                } else {
                    0
                }
            }
            Body::Tcp(Tcp::Conn(_)) => {
                let Some((c, s)) = self.conn_mut(stack) else {
                    return POLLERR;
                };
                let st = s.state();
                let mut r = 0;
                if st == tcp::State::SynSent || st == tcp::State::SynReceived {
                    return 0;
                }
                if s.can_recv() || !s.may_recv() || c.rd_shut {
                    r |= POLLIN;
                }
                if s.may_send() && s.send_queue() < s.send_capacity() && !c.wr_shut {
                    r |= POLLOUT;
                }
                if st == tcp::State::Closed {
                    r |= POLLHUP;
                    if !c.connected {
                        r |= POLLERR;
                    }
                } else if !s.may_recv() && !s.may_send() {
                    r |= POLLHUP;
                }
                r
            }
            Body::Dgram(d) => {
                let mut r = 0;
                if d.in_part.is_some() {
                    r |= POLLIN;
                }
                let mut any = false;
                for (iface, h) in d.hs.iter().enumerate() {
                    let (Some(h), Some(set)) = (h, stack.sockets(iface)) else {
                        continue;
                    };
                    any = true;
                    let (rx, tx) = if d.icmp {
                        let s = set.get::<icmp::Socket>(*h);
                        (s.can_recv(), s.can_send())
                    } else {
                        let s = set.get::<udp::Socket>(*h);
                        (s.can_recv(), s.can_send())
                    };
                    if rx {
                        r |= POLLIN;
                    }
                    if tx {
                        r |= POLLOUT;
                    }
                }
                if !any {
                    r |= POLLOUT;
                }
                r
            }
        }
    }

    /// The port this socket holds (bound, listening, or its connection's local one).
    fn held_port(&self, stack: &mut Stack) -> Option<u16> {
        if let Some((_, p)) = self.local {
            return Some(p);
        }
        match &self.body {
            Body::Tcp(Tcp::Listen(l)) => Some(l.port),
            Body::Tcp(Tcp::Conn(c)) => stack
                .sockets(c.iface)
                .and_then(|set| set.get::<tcp::Socket>(c.h).local_endpoint())
                .map(|e| e.port),
            _ => None,
        }
    }

    // ---- TCP -----------------------------------------------------------------------

    fn read(&mut self, stack: &mut Stack, want: usize) -> Step {
        let want = want.min(CHUNK);
        match &mut self.body {
            Body::Dgram(_) => return self.dgram_recv(stack, want, false),
            Body::Tcp(Tcp::Fresh) | Body::Tcp(Tcp::Listen(_)) => return done(ENOTCONN),
            Body::Tcp(Tcp::Conn(_)) => {}
        }
        let Some((c, s)) = self.conn_mut(stack) else {
            return done(EIO);
        };
        if c.rd_shut {
            return Step::Done(Message::new(0));
        }
        let mut buf = [0u8; CHUNK];
        match s.recv_slice(&mut buf[..want]) {
            Ok(0) => {
                if matches!(s.state(), tcp::State::SynSent | tcp::State::SynReceived)
                    || s.may_recv()
                {
                    Step::Wait
                } else {
                    Step::Done(Message::new(0))
                }
            }
            Ok(n) => Step::Done(ok_bytes(&buf[..n])),
            Err(tcp::RecvError::Finished) => Step::Done(Message::new(0)),
            Err(tcp::RecvError::InvalidState) => {
                if s.state() == tcp::State::SynSent {
                    Step::Wait
                } else if c.connected && !c.err_reported {
                    c.err_reported = true;
                    done(ECONNRESET)
                } else if c.connected {
                    Step::Done(Message::new(0))
                } else {
                    done(ENOTCONN)
                }
            }
        }
    }

    fn write(&mut self, stack: &mut Stack, data: &[u8]) -> Step {
        match &mut self.body {
            Body::Dgram(_) => {
                let Some((a, p)) = self.peer else {
                    return done(EDESTADDRREQ);
                };
                return match self.dgram_send(stack, raw_addr(a, p), data) {
                    Ok(n) => Step::Done(ok_u32(n as u32)),
                    Err(e) => done(e),
                };
            }
            Body::Tcp(Tcp::Fresh) | Body::Tcp(Tcp::Listen(_)) => return done(ENOTCONN),
            Body::Tcp(Tcp::Conn(_)) => {}
        }
        if data.is_empty() {
            return Step::Done(ok_u32(0));
        }
        let Some((c, s)) = self.conn_mut(stack) else {
            return done(EIO);
        };
        if c.wr_shut {
            return done(EPIPE);
        }
        if matches!(s.state(), tcp::State::SynSent | tcp::State::SynReceived) {
            return Step::Wait;
        }
        if !s.may_send() {
            if s.state() == tcp::State::Closed && c.connected && !c.err_reported {
                c.err_reported = true;
                return done(ECONNRESET);
            }
            return done(if c.connected { EPIPE } else { ENOTCONN });
        }
        match s.send_slice(data) {
            Ok(0) => Step::Wait,
            Ok(n) => Step::Done(ok_u32(n as u32)),
            Err(_) => done(EPIPE),
        }
    }

    fn connect(&mut self, stack: &mut Stack, a: SockAddr, _now: u64) -> Result<Step, isize> {
        if let Body::Dgram(_) = self.body {
            if a.addr == [0; 4] && a.port == 0 {
                self.peer = None;
                return Ok(Step::Done(Message::new(0)));
            }
            self.dgram_ensure_bound(stack)?;
            self.peer = Some((a.addr, a.port));
            return Ok(Step::Done(Message::new(0)));
        }
        match &self.body {
            Body::Tcp(Tcp::Listen(_)) => return Err(EINVAL),
            Body::Tcp(Tcp::Conn(_)) => {
                let (_, s) = self.conn_mut(stack).ok_or(EIO)?;
                return Err(match s.state() {
                    tcp::State::SynSent => EALREADY,
                    _ => EISCONN,
                });
            }
            _ => {}
        }
        if a.port == 0 {
            return Err(EINVAL);
        }
        let dst = if a.addr == [0; 4] {
            [127, 0, 0, 1]
        } else {
            a.addr
        };
        let iface = stack.route(dst).ok_or(ENETUNREACH)?;
        let (bind_addr, lport) = self.local.unwrap_or_default();
        let lport = if lport == 0 {
            // Callers check the table for ports in use; the allocator only rotates.
            stack.ephemeral(|_| false).ok_or(EADDRINUSE)?
        } else {
            lport
        };
        let mut sock = new_tcp().ok_or(ENOMEM)?;
        sock.set_nagle_enabled(!self.opts.nodelay);
        let (cx, set) = stack.parts(iface).ok_or(ENETUNREACH)?;
        let remote = IpEndpoint::new(IpAddress::Ipv4(v4(dst)), a.port);
        sock.connect(cx.context(), remote, listen_ep(bind_addr, lport))
            .map_err(|_| EADDRNOTAVAIL)?;
        let h = set.add(sock);
        self.local = Some((bind_addr, lport));
        self.body = Body::Tcp(Tcp::Conn(Conn {
            iface,
            h,
            connected: false,
            err_reported: false,
            rd_shut: false,
            wr_shut: false,
        }));
        if self.opts.nonblock {
            return Ok(done(EINPROGRESS));
        }
        Ok(Step::Wait)
    }

    fn connect_progress(&mut self, stack: &mut Stack) -> Step {
        let Some((c, s)) = self.conn_mut(stack) else {
            return done(ECONNABORTED);
        };
        match s.state() {
            tcp::State::SynSent | tcp::State::SynReceived => Step::Wait,
            tcp::State::Closed => {
                c.err_reported = true;
                done(ECONNREFUSED)
            }
            _ => {
                c.connected = true;
                Step::Done(Message::new(0))
            }
        }
    }

    fn abort_conn(&mut self, stack: &mut Stack) {
        if let Some((c, s)) = self.conn_mut(stack) {
            s.abort();
            c.err_reported = true;
        }
    }

    fn bind(&mut self, stack: &mut Stack, msg: &Message) -> Message {
        let Ok((a, _)) = SockAddr::read_from_prefix(msg.bytes()) else {
            return errno_msg(EINVAL);
        };
        if self.local.is_some() {
            return errno_msg(EINVAL);
        }
        if let Body::Dgram(d) = &self.body {
            if d.icmp {
                return errno_msg(EOPNOTSUPP);
            }
            if d.hs.iter().any(Option::is_some) {
                return errno_msg(EINVAL);
            }
        }
        if !matches!(self.body, Body::Tcp(Tcp::Fresh) | Body::Dgram(_)) {
            return errno_msg(EINVAL);
        }
        if stack.bind_ifaces(a.addr).is_none() {
            return errno_msg(EADDRNOTAVAIL);
        }
        // The port is checked against the other sockets by the caller (`Table::bind`).
        self.local = Some((a.addr, a.port));
        Message::new(0)
    }

    fn listen(&mut self, stack: &mut Stack, msg: &Message, _now: u64) -> Message {
        let backlog = read_want(msg)
            .unwrap_or(MAX_BACKLOG as usize)
            .clamp(1, MAX_BACKLOG as usize);
        match &mut self.body {
            Body::Dgram(_) => return errno_msg(EOPNOTSUPP),
            Body::Tcp(Tcp::Conn(_)) => return errno_msg(EINVAL),
            Body::Tcp(Tcp::Listen(l)) => {
                l.backlog = backlog;
                return Message::new(0);
            }
            Body::Tcp(Tcp::Fresh) => {}
        }
        let Some((addr, port)) = self.local else {
            // `Table::listen` binds an ephemeral port first.
            return errno_msg(EINVAL);
        };
        let Some(ifaces) = stack.bind_ifaces(addr) else {
            return errno_msg(EADDRNOTAVAIL);
        };
        self.body = Body::Tcp(Tcp::Listen(Listener {
            addr,
            port,
            ifaces,
            backlog,
            spares: Vec::new(),
            queue: VecDeque::new(),
        }));
        Message::new(0)
    }

    fn shutdown(&mut self, stack: &mut Stack, msg: &Message) -> Message {
        let Some(how) = read_want(msg).map(|h| h as u32) else {
            return errno_msg(EINVAL);
        };
        if how > SHUT_RDWR {
            return errno_msg(EINVAL);
        }
        match &self.body {
            Body::Tcp(Tcp::Conn(_)) => {}
            Body::Dgram(_) if self.peer.is_some() => return Message::new(0),
            _ => return errno_msg(ENOTCONN),
        }
        let Some((c, s)) = self.conn_mut(stack) else {
            return errno_msg(EIO);
        };
        if how == SHUT_RD || how == SHUT_RDWR {
            c.rd_shut = true;
        }
        if how == SHUT_WR || how == SHUT_RDWR {
            c.wr_shut = true;
            s.close();
        }
        Message::new(0)
    }

    fn setopt(&mut self, stack: &mut Stack, msg: &Message) -> Message {
        let Ok((o, _)) = SockOpt::read_from_prefix(msg.bytes()) else {
            return errno_msg(EINVAL);
        };
        match o.opt {
            OPT_NONBLOCK => self.opts.nonblock = o.value != 0,
            OPT_RCVTIMEO => self.opts.rcvtimeo = o.value,
            OPT_SNDTIMEO => self.opts.sndtimeo = o.value,
            OPT_NODELAY => {
                self.opts.nodelay = o.value != 0;
                if let Some((_, s)) = self.conn_mut(stack) {
                    s.set_nagle_enabled(o.value == 0);
                }
            }
            _ => return errno_msg(EINVAL),
        }
        Message::new(0)
    }

    fn getname(&mut self, stack: &mut Stack) -> Message {
        let mut n = Names::default();
        if let Some((a, p)) = self.local {
            n.local = raw_addr(a, p);
        }
        if let Some((a, p)) = self.peer {
            n.peer = raw_addr(a, p);
        }
        match &self.body {
            Body::Tcp(Tcp::Listen(l)) => n.local = raw_addr(l.addr, l.port),
            Body::Tcp(Tcp::Conn(_)) => {
                if let Some((_, s)) = self.conn_mut(stack) {
                    if let Some(e) = s.local_endpoint() {
                        n.local = raw_addr(octets(e.addr), e.port);
                    }
                    if let Some(e) = s.remote_endpoint() {
                        n.peer = raw_addr(octets(e.addr), e.port);
                    }
                }
            }
            _ => {}
        }
        ok_bytes(n.as_bytes())
    }

    // ---- UDP and ICMP ----------------------------------------------------------------

    /// Binds an unbound datagram socket to an ephemeral port on every interface.
    fn dgram_ensure_bound(&mut self, stack: &mut Stack) -> Result<(), isize> {
        let Body::Dgram(d) = &self.body else {
            return Err(EINVAL);
        };
        if d.hs.iter().any(Option::is_some) {
            return Ok(());
        }
        if d.icmp {
            // An echo socket binds to its identifier at its first send.
            return Ok(());
        }
        let (addr, port) = self.local.unwrap_or(([0; 4], 0));
        if port == 0 {
            return Err(EADDRINUSE);
        }
        self.dgram_open(stack, addr, port)
    }

    /// Makes the smoltcp sockets of a UDP socket bound to `addr:port`.
    fn dgram_open(&mut self, stack: &mut Stack, addr: [u8; 4], port: u16) -> Result<(), isize> {
        let ifaces = stack.bind_ifaces(addr).ok_or(EADDRNOTAVAIL)?;
        let Body::Dgram(d) = &mut self.body else {
            return Err(EINVAL);
        };
        for iface in ifaces {
            let mut s = new_udp().ok_or(ENOMEM)?;
            s.bind(listen_ep(addr, port)).map_err(|_| EINVAL)?;
            let Some(set) = stack.sockets(iface) else {
                continue;
            };
            d.hs[iface] = Some(set.add(s));
        }
        self.local = Some((addr, port));
        Ok(())
    }

    /// Binds an echo socket to identifier `ident` on every interface.
    fn icmp_open(&mut self, stack: &mut Stack, ident: u16) -> Result<(), isize> {
        let ifaces = stack.bind_ifaces([0; 4]).ok_or(EADDRNOTAVAIL)?;
        let Body::Dgram(d) = &mut self.body else {
            return Err(EINVAL);
        };
        for iface in ifaces {
            let mut s = new_icmp().ok_or(ENOMEM)?;
            s.bind(icmp::Endpoint::Ident(ident)).map_err(|_| EINVAL)?;
            let Some(set) = stack.sockets(iface) else {
                continue;
            };
            d.hs[iface] = Some(set.add(s));
        }
        self.local = Some(([0; 4], ident));
        Ok(())
    }

    /// Sends one datagram (with a part built before) to `to`; the bytes sent.
    fn dgram_send(&mut self, stack: &mut Stack, to: SockAddr, data: &[u8]) -> Result<usize, isize> {
        let Body::Dgram(d) = &mut self.body else {
            return Err(EOPNOTSUPP);
        };
        let mut whole = core::mem::take(&mut d.out_part);
        if whole.len() + data.len() > DGRAM_MAX {
            return Err(EMSGSIZE);
        }
        if whole.try_reserve_exact(data.len()).is_err() {
            return Err(ENOMEM);
        }
        whole.extend_from_slice(data);
        let icmp = d.icmp;
        let dst = if to.addr == [0; 4] {
            [127, 0, 0, 1]
        } else {
            to.addr
        };
        let iface = stack.route(dst).ok_or(ENETUNREACH)?;
        if icmp {
            if whole.len() < 8 || whole[0] != 8 {
                return Err(EINVAL);
            }
            let unbound = matches!(&self.body, Body::Dgram(d) if d.hs.iter().all(Option::is_none));
            if unbound {
                self.icmp_open(stack, u16::from_be_bytes([whole[4], whole[5]]))?;
            }
        } else {
            if to.port == 0 {
                return Err(EINVAL);
            }
            if self.local.is_none() {
                return Err(EADDRINUSE);
            }
            self.dgram_ensure_bound(stack)?;
        }
        let Body::Dgram(d) = &mut self.body else {
            return Err(EINVAL);
        };
        let h = d.hs[iface].ok_or(ENETUNREACH)?;
        let set = stack.sockets(iface).ok_or(ENETUNREACH)?;
        let ip = IpAddress::Ipv4(v4(dst));
        let r = if icmp {
            set.get_mut::<icmp::Socket>(h)
                .send_slice(&whole, ip)
                .map_err(|_| ENOBUFS)
        } else {
            set.get_mut::<udp::Socket>(h)
                .send_slice(&whole, IpEndpoint::new(ip, to.port))
                .map_err(|e| match e {
                    udp::SendError::BufferFull => ENOBUFS,
                    udp::SendError::Unaddressable => EINVAL,
                })
        };
        r.map(|()| whole.len())
    }

    fn sendto(&mut self, stack: &mut Stack, msg: &Message) -> Message {
        let Ok((to, payload)) = SockAddr::read_from_prefix(msg.bytes()) else {
            return errno_msg(EINVAL);
        };
        let to = if to == SockAddr::default() {
            match self.peer {
                Some((a, p)) => raw_addr(a, p),
                None => return errno_msg(EDESTADDRREQ),
            }
        } else {
            to
        };
        match self.dgram_send(stack, to, payload) {
            Ok(n) => ok_u32(n as u32),
            Err(e) => errno_msg(e),
        }
    }

    fn dgram_part(&mut self, msg: &Message) -> Message {
        let Body::Dgram(d) = &mut self.body else {
            return errno_msg(EOPNOTSUPP);
        };
        let part = msg.bytes();
        if d.out_part.len() + part.len() > DGRAM_MAX {
            d.out_part = Vec::new();
            return errno_msg(EMSGSIZE);
        }
        if d.out_part.try_reserve(part.len()).is_err() {
            return errno_msg(ENOMEM);
        }
        d.out_part.extend_from_slice(part);
        Message::new(0)
    }

    fn recv_more(&mut self, msg: &Message) -> Message {
        let Body::Dgram(d) = &mut self.body else {
            return errno_msg(EOPNOTSUPP);
        };
        let want = read_want(msg).unwrap_or(0).min(INLINE_BYTES);
        let Some((data, off)) = d.in_part.as_mut() else {
            return Message::new(0);
        };
        let n = want.min(data.len() - *off);
        let m = ok_bytes(&data[*off..*off + n]);
        *off += n;
        if *off >= data.len() {
            d.in_part = None;
        }
        m
    }

    fn recvfrom(&mut self, stack: &mut Stack, want: usize) -> Step {
        match &self.body {
            Body::Dgram(_) => self.dgram_recv(stack, want, true),
            _ => done(EOPNOTSUPP),
        }
    }

    /// The next datagram (from the connected peer, if any): with the sender's address
    /// for `RECVFROM`, its bytes alone for a stream read.
    fn dgram_recv(&mut self, stack: &mut Stack, want: usize, with_addr: bool) -> Step {
        let peer = self.peer;
        let Body::Dgram(d) = &mut self.body else {
            return done(EINVAL);
        };
        d.in_part = None;
        for iface in [LO, ETH] {
            let Some(h) = d.hs[iface] else { continue };
            let Some(set) = stack.sockets(iface) else {
                continue;
            };
            loop {
                let got = if d.icmp {
                    set.get_mut::<icmp::Socket>(h)
                        .recv()
                        .map(|(b, a)| (b, octets(a), 0u16))
                        .ok()
                } else {
                    set.get_mut::<udp::Socket>(h)
                        .recv()
                        .map(|(b, m)| (b, octets(m.endpoint.addr), m.endpoint.port))
                        .ok()
                };
                let Some((bytes, from, port)) = got else {
                    break;
                };
                if !d.icmp && peer.is_some_and(|p| p != (from, port)) {
                    continue;
                }
                if !with_addr {
                    let n = bytes.len().min(want).min(CHUNK);
                    return Step::Done(ok_bytes(&bytes[..n]));
                }
                let head = raw_addr(from, port);
                let n = bytes.len().min(want).min(DGRAM_INLINE);
                let mut m = Message::new(0);
                m.data[..8].copy_from_slice(head.as_bytes());
                m.data[8..8 + n].copy_from_slice(&bytes[..n]);
                m.len = (8 + n) as u32;
                let rest_end = bytes.len().min(want).min(DGRAM_MAX);
                if want > DGRAM_INLINE && rest_end > n {
                    let mut rest = Vec::new();
                    if rest.try_reserve_exact(rest_end - n).is_ok() {
                        rest.extend_from_slice(&bytes[n..rest_end]);
                        d.in_part = Some((rest, 0));
                    }
                }
                return Step::Done(m);
            }
        }
        Step::Wait
    }
}

impl Table {
    /// `BIND` and `LISTEN` need the other sockets (ports in use), so they go through here.
    pub fn bind_or_listen(
        &mut self,
        stack: &mut Stack,
        badge: u32,
        msg: &Message,
        now: u64,
    ) -> Option<Message> {
        let i = self.index(badge)?;
        let kind = self.slots[i].as_ref()?.kind;
        if kind == KIND_ICMP {
            return None;
        }
        match msg.label {
            BIND => {
                let Ok((a, _)) = SockAddr::read_from_prefix(msg.bytes()) else {
                    return Some(errno_msg(EINVAL));
                };
                let port = if a.port == 0 {
                    match self.free_port(stack, kind) {
                        Some(p) => p,
                        None => return Some(errno_msg(EADDRINUSE)),
                    }
                } else if self.port_taken(stack, kind, a.port, i) {
                    return Some(errno_msg(EADDRINUSE));
                } else {
                    a.port
                };
                let mut m = *msg;
                let b = raw_addr(a.addr, port);
                m.data[..8].copy_from_slice(b.as_bytes());
                let s = self.slots[i].as_mut()?;
                let r = s.bind(stack, &m);
                if r.label == 0 && kind == KIND_UDP {
                    if let Err(e) = s.dgram_open(stack, a.addr, port) {
                        s.local = None;
                        return Some(errno_msg(e));
                    }
                }
                Some(r)
            }
            LISTEN => {
                let unbound = self.slots[i].as_ref()?.local.is_none();
                if unbound && kind == KIND_TCP {
                    let port = match self.free_port(stack, kind) {
                        Some(p) => p,
                        None => return Some(errno_msg(EADDRINUSE)),
                    };
                    self.slots[i].as_mut()?.local = Some(([0; 4], port));
                }
                let r = self.slots[i].as_mut()?.listen(stack, msg, now);
                self.maintain(stack, now);
                Some(r)
            }
            CONNECT | SENDTO | WRITE => {
                // Sockets that need a port and have none get an ephemeral one first.
                let s = self.slots[i].as_ref()?;
                let needs = s.local.is_none()
                    && (kind == KIND_UDP
                        || (kind == KIND_TCP
                            && msg.label == CONNECT
                            && matches!(s.body, Body::Tcp(Tcp::Fresh))));
                if needs {
                    let port = self.free_port(stack, kind)?;
                    let s = self.slots[i].as_mut()?;
                    if kind == KIND_UDP {
                        if let Err(e) = s.dgram_open(stack, [0; 4], port) {
                            return Some(errno_msg(e));
                        }
                    } else {
                        s.local = Some(([0; 4], port));
                    }
                }
                None
            }
            _ => None,
        }
    }

    /// Whether a socket of `kind` other than slot `except` holds `port`. An accepted
    /// connection shares its listener's port, so only listeners and bound sockets count
    /// for `BIND` (as `SO_REUSEADDR` would have it for connections still closing).
    fn port_taken(&self, stack: &mut Stack, kind: u32, port: u16, except: usize) -> bool {
        self.slots.iter().enumerate().any(|(j, s)| {
            j != except
                && s.as_ref().is_some_and(|s| {
                    s.kind == kind
                        && !matches!(
                            s.body,
                            Body::Tcp(Tcp::Conn(Conn {
                                connected: true,
                                ..
                            }))
                        )
                        && s.held_port(stack) == Some(port)
                })
        })
    }

    /// A free ephemeral port for a socket of `kind`: none of this kind's sockets (or, for
    /// TCP, closing connections) holds it.
    fn free_port(&self, stack: &mut Stack, kind: u32) -> Option<u16> {
        let mut used = Vec::new();
        used.try_reserve(self.live + self.zombies.len()).ok()?;
        for s in self.slots.iter().flatten().filter(|s| s.kind == kind) {
            if let Some(p) = s.held_port(stack) {
                used.push(p);
            }
        }
        if kind == KIND_TCP {
            for z in &self.zombies {
                if let Some(e) = stack
                    .sockets(z.iface)
                    .and_then(|set| set.get::<tcp::Socket>(z.h).local_endpoint())
                {
                    used.push(e.port);
                }
            }
        }
        stack.ephemeral(|p| used.contains(&p))
    }
}
