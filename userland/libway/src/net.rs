//! Sockets: the client side of `netd`, the network server (`wayos_abi::netd`,
//! `docs/net.md`), plus the kernel's NIC and PCI queries.
//!
//! A socket is a file descriptor: [`TcpStream`], [`TcpListener`], [`UdpSocket`] and
//! [`IcmpSocket`] each own one (closed on drop) whose reads and writes are the stream
//! protocol to netd, so `read`, `write`, `dup2`, pipes and redirection work on it like on
//! any fd. The socket's own requests (bind, connect, accept, options, ...) go through
//! [`fd_call`]. netd frees a socket when its last fd (and every duplicate) closes.
//!
//! Waiting follows POSIX: calls block unless the socket is non-blocking (`EAGAIN`), a read
//! timeout makes a read give up with `EAGAIN`, a blocking connect gives up after the send
//! timeout (default `CONNECT_TIMEOUT_NS`) with `ETIMEDOUT`. Errors are the netd errnos
//! (`ECONNREFUSED`, `EADDRINUSE`, `ENOTCONN`, `EPIPE`, ...).
//!
//! Datagrams of up to [`DGRAM_MAX`] bytes: [`UdpSocket::send_to`] and `send` pass a big
//! one as parts (`DGRAM_PART`) and [`UdpSocket::recv_from`] gets the rest of one with
//! `RECV_MORE`; a plain `write` on a UDP fd sends each kernel chunk (128 bytes) as its
//! own datagram, a plain `read` gets one datagram truncated to the buffer.

use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use wayos_abi::errno::{EAGAIN, EINVAL, EIO, EMSGSIZE, ENOENT, EPIPE, ETIMEDOUT};
use wayos_abi::ipc::{Message, INLINE_BYTES, NO_HANDLE};
pub use wayos_abi::netd::{IfInfo, SockAddr as RawAddr, SockInfo, Stats};
use wayos_abi::netd::{
    Index, Names, PollReq, Resolved, SockOpt, SocketReq, ACCEPT, BIND, CONNECT, DGRAM_INLINE,
    DGRAM_MAX, DGRAM_PART, GETNAME, HOST_MAX, IFINFO, KIND_ICMP, KIND_TCP, KIND_UDP, LISTEN,
    MAX_BACKLOG, NAME, OPT_NODELAY, OPT_NONBLOCK, OPT_RCVTIMEO, OPT_SNDTIMEO, POLL, POLLIN,
    RECVFROM, RECV_MORE, RESOLVE, SENDTO, SETOPT, SHUTDOWN, SOCKET, SOCKLIST, STATS,
};
use wayos_abi::sys;
use wayos_abi::zerocopy::IntoBytes;
use wayos_abi::Plain;

use crate::errno::Errno;
use crate::ipc::{MessageExt, Port, Timeout};

/// An IPv4 address.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash, PartialOrd, Ord)]
pub struct Ipv4Addr(pub [u8; 4]);

impl Ipv4Addr {
    pub const UNSPECIFIED: Ipv4Addr = Ipv4Addr([0, 0, 0, 0]);
    pub const LOCALHOST: Ipv4Addr = Ipv4Addr([127, 0, 0, 1]);

    /// A dotted quad (`10.0.2.2`): four decimal numbers 0..=255, nothing else.
    pub fn parse(s: &str) -> Option<Ipv4Addr> {
        let mut out = [0u8; 4];
        let mut parts = s.split('.');
        for b in out.iter_mut() {
            let p = parts.next()?;
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            *b = p.parse().ok()?;
        }
        parts.next().is_none().then_some(Ipv4Addr(out))
    }
}

impl fmt::Display for Ipv4Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

/// An IPv4 address and port.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct SocketAddr {
    pub ip: Ipv4Addr,
    pub port: u16,
}

impl SocketAddr {
    pub const fn new(ip: Ipv4Addr, port: u16) -> Self {
        Self { ip, port }
    }

    /// `a.b.c.d:port`.
    pub fn parse(s: &str) -> Option<SocketAddr> {
        let (ip, port) = s.rsplit_once(':')?;
        if port.is_empty() || !port.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Some(SocketAddr {
            ip: Ipv4Addr::parse(ip)?,
            port: port.parse().ok()?,
        })
    }

    /// The ABI record.
    pub const fn raw(self) -> RawAddr {
        RawAddr {
            addr: self.ip.0,
            port: self.port,
            _pad: 0,
        }
    }

    pub const fn from_raw(r: RawAddr) -> Self {
        Self {
            ip: Ipv4Addr(r.addr),
            port: r.port,
        }
    }
}

impl From<RawAddr> for SocketAddr {
    fn from(r: RawAddr) -> Self {
        Self::from_raw(r)
    }
}

impl fmt::Display for SocketAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.ip, self.port)
    }
}

// ---------------------------------------------------------------------------------------
// The server port and raw calls.

/// The cached send handle to netd and the pid that looked it up (handles are not
/// inherited by `fork`, so a child must not use its parent's number).
static NETD: AtomicU32 = AtomicU32::new(NO_HANDLE);
static NETD_PID: AtomicUsize = AtomicUsize::new(0);

fn netd_handle() -> Result<u32, Errno> {
    let pid = crate::process::getpid()?;
    let h = NETD.load(Ordering::Acquire);
    if h != NO_HANDLE && NETD_PID.load(Ordering::Acquire) == pid {
        return Ok(h);
    }
    let port = crate::ipc::ns::lookup(NAME).map_err(|e| {
        if e.code() == ENOENT {
            Errno(wayos_abi::errno::ENETDOWN)
        } else {
            e
        }
    })?;
    let raw = port.into_raw();
    // Another thread may have looked it up meanwhile; one handle is enough.
    match NETD.compare_exchange(h, raw, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            NETD_PID.store(pid, Ordering::Release);
            Ok(raw)
        }
        Err(other) => {
            drop(Port::from_raw(raw));
            Ok(other)
        }
    }
}

/// Forgets a cached handle that stopped working (netd restarted).
fn netd_forget(h: u32) {
    if NETD
        .compare_exchange(h, NO_HANDLE, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        drop(Port::from_raw(h));
    }
}

/// One call to netd's server port; a non-zero reply label is the errno. Retried once
/// with a fresh lookup when the port is gone (netd was restarted).
fn server_call(req: &Message) -> Result<Message, Errno> {
    for attempt in 0..2 {
        let h = netd_handle()?;
        let port = Port::from_raw(h);
        let mut msg = *req;
        let r = port.call(&mut msg, Timeout::Forever);
        core::mem::forget(port);
        match r {
            Ok(()) => {
                return match msg.label {
                    0 => Ok(msg),
                    l => {
                        // A reply that is an error carries no handle we want.
                        close_handles(&mut msg);
                        Err(Errno(wayos_abi::errno::from_reply_label(l)))
                    }
                };
            }
            Err(e) if e.code() == EPIPE && attempt == 0 => netd_forget(h),
            Err(e) => return Err(e),
        }
    }
    Err(Errno(EPIPE))
}

fn close_handles(msg: &mut Message) {
    for i in 0..msg.handles.len() {
        drop(msg.take_handle(i));
    }
}

/// `fd_call(fd, req, reply)`: one server request on socket fd `fd` (a label at or above
/// `stream::CALL_BASE`). Returns the new fd a reply brought (0 if none) and the reply.
pub fn fd_call(fd: usize, req: &Message) -> Result<(usize, Message), Errno> {
    let mut reply = Message::new(0);
    let args = [
        fd,
        crate::sys::arg_in(req),
        crate::sys::arg_out(&mut reply),
        0,
        0,
        0,
    ];
    // SAFETY: the kernel reads one `Message` from `req` and writes one into `reply`, both
    // borrowed for the call; every bit pattern is a valid `Message`.
    let n = unsafe { crate::sys::call(sys::FD_CALL, args) }?;
    Ok((n, reply))
}

fn msg_with<T: Plain>(label: u64, v: &T) -> Message {
    let mut m = Message::new(label);
    let b = v.as_bytes();
    m.data[..b.len()].copy_from_slice(b);
    m.len = b.len() as u32;
    m
}

fn msg_u32(label: u64, v: u32) -> Message {
    msg_with(label, &v)
}

/// The record at the start of a reply's payload; `EIO` if it is short.
fn record<T: Plain>(m: &Message) -> Result<T, Errno> {
    T::read_from_prefix(m.bytes())
        .map(|(v, _)| v)
        .map_err(|_| Errno(EIO))
}

fn reply_u32(m: &Message) -> Result<u32, Errno> {
    record::<u32>(m)
}

/// A request on a socket fd that brings no fd back.
fn sock_call(fd: usize, req: &Message) -> Result<Message, Errno> {
    let (n, reply) = fd_call(fd, req)?;
    if n != 0 {
        // Not expected for these requests: do not leak it.
        let _ = crate::io::close(n);
    }
    Ok(reply)
}

/// A new socket of `kind` as an fd.
fn socket(kind: u32) -> Result<usize, Errno> {
    let req = SocketReq {
        kind,
        pid: crate::process::getpid().unwrap_or(0) as u32,
    };
    let mut reply = server_call(&msg_with(SOCKET, &req))?;
    let port = reply.take_handle(0).ok_or(Errno(EIO))?;
    close_handles(&mut reply);
    crate::io::port_fd(port)
}

/// An owned socket fd: the common half of the socket types.
#[derive(Debug)]
struct Sock {
    fd: usize,
}

impl Sock {
    fn new(kind: u32) -> Result<Sock, Errno> {
        socket(kind).map(|fd| Sock { fd })
    }

    fn setopt(&self, opt: u32, value: u64) -> Result<(), Errno> {
        let o = SockOpt {
            opt,
            _pad: 0,
            value,
        };
        sock_call(self.fd, &msg_with(SETOPT, &o)).map(drop)
    }

    fn bind(&self, addr: SocketAddr) -> Result<(), Errno> {
        sock_call(self.fd, &msg_with(BIND, &addr.raw())).map(drop)
    }

    fn connect(&self, addr: SocketAddr) -> Result<(), Errno> {
        sock_call(self.fd, &msg_with(CONNECT, &addr.raw())).map(drop)
    }

    fn names(&self) -> Result<Names, Errno> {
        record(&sock_call(self.fd, &Message::new(GETNAME))?)
    }

    fn poll(&self, events: u32, timeout_ns: u64) -> Result<u32, Errno> {
        let p = PollReq {
            events,
            _pad: 0,
            timeout_ns,
        };
        reply_u32(&sock_call(self.fd, &msg_with(POLL, &p))?)
    }

    fn set_nonblocking(&self, on: bool) -> Result<(), Errno> {
        self.setopt(OPT_NONBLOCK, on as u64)
    }

    fn set_read_timeout(&self, ns: Option<u64>) -> Result<(), Errno> {
        self.setopt(OPT_RCVTIMEO, ns.map_or(0, |n| n.max(1)))
    }

    fn set_write_timeout(&self, ns: Option<u64>) -> Result<(), Errno> {
        self.setopt(OPT_SNDTIMEO, ns.map_or(0, |n| n.max(1)))
    }

    fn into_fd(self) -> usize {
        let fd = self.fd;
        core::mem::forget(self);
        fd
    }

    /// `SENDTO` of a datagram of up to `DGRAM_MAX` bytes: parts first when it does not
    /// fit one request.
    fn send_to(&self, buf: &[u8], to: SocketAddr) -> Result<usize, Errno> {
        if buf.len() > DGRAM_MAX {
            return Err(Errno(EMSGSIZE));
        }
        let split = buf.len().saturating_sub(DGRAM_INLINE);
        for part in buf[..split].chunks(INLINE_BYTES) {
            let m = Message::with_bytes(DGRAM_PART, part)?;
            sock_call(self.fd, &m)?;
        }
        let tail = &buf[split..];
        let head = to.raw();
        let mut m = Message::new(SENDTO);
        m.data[..8].copy_from_slice(head.as_bytes());
        m.data[8..8 + tail.len()].copy_from_slice(tail);
        m.len = (8 + tail.len()) as u32;
        sock_call(self.fd, &m)?;
        Ok(buf.len())
    }

    /// `RECVFROM` into `buf` (then `RECV_MORE` while the datagram goes on and fits).
    fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), Errno> {
        let want = buf.len().min(DGRAM_MAX) as u32;
        let reply = sock_call(self.fd, &msg_u32(RECVFROM, want))?;
        let bytes = reply.bytes();
        let from: RawAddr = record(&reply)?;
        let data = &bytes[8..];
        let mut n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        if want as usize > DGRAM_INLINE && data.len() == DGRAM_INLINE {
            while n < buf.len() {
                let ask = (buf.len() - n).min(INLINE_BYTES);
                let more = sock_call(self.fd, &msg_u32(RECV_MORE, ask as u32))?;
                let got = more.bytes().len().min(ask);
                buf[n..n + got].copy_from_slice(&more.bytes()[..got]);
                n += got;
                if got < ask {
                    break;
                }
            }
        }
        Ok((n, SocketAddr::from_raw(from)))
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        let _ = crate::io::close(self.fd);
    }
}

// ---------------------------------------------------------------------------------------
// TCP.

/// A TCP connection.
#[derive(Debug)]
pub struct TcpStream {
    s: Sock,
}

impl TcpStream {
    /// Connects to `addr`, waiting up to `CONNECT_TIMEOUT_NS`.
    pub fn connect(addr: SocketAddr) -> Result<TcpStream, Errno> {
        let s = Sock::new(KIND_TCP)?;
        s.connect(addr)?;
        Ok(TcpStream { s })
    }

    /// Connects to `addr`, giving up after `timeout_ns` (`ETIMEDOUT`).
    pub fn connect_timeout(addr: SocketAddr, timeout_ns: u64) -> Result<TcpStream, Errno> {
        let s = Sock::new(KIND_TCP)?;
        s.set_write_timeout(Some(timeout_ns))?;
        s.connect(addr)?;
        // Later writes wait as long as they must, as after `connect`.
        s.set_write_timeout(None)?;
        Ok(TcpStream { s })
    }

    /// Bytes received, 0 when the peer closed its side.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        crate::io::read(self.s.fd, buf)
    }

    pub fn write(&self, buf: &[u8]) -> Result<usize, Errno> {
        crate::io::write(self.s.fd, buf)
    }

    pub fn write_all(&self, buf: &[u8]) -> Result<(), Errno> {
        crate::io::write_all(self.s.fd, buf)
    }

    /// `netd::SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
    pub fn shutdown(&self, how: u32) -> Result<(), Errno> {
        sock_call(self.s.fd, &msg_u32(SHUTDOWN, how)).map(drop)
    }

    pub fn set_nonblocking(&self, on: bool) -> Result<(), Errno> {
        self.s.set_nonblocking(on)
    }

    /// A read that waits longer than `ns` gives up with `EAGAIN`; `None` waits forever.
    pub fn set_read_timeout(&self, ns: Option<u64>) -> Result<(), Errno> {
        self.s.set_read_timeout(ns)
    }

    pub fn set_write_timeout(&self, ns: Option<u64>) -> Result<(), Errno> {
        self.s.set_write_timeout(ns)
    }

    pub fn set_nodelay(&self, on: bool) -> Result<(), Errno> {
        self.s.setopt(OPT_NODELAY, on as u64)
    }

    pub fn local_addr(&self) -> Result<SocketAddr, Errno> {
        self.s.names().map(|n| n.local.into())
    }

    pub fn peer_addr(&self) -> Result<SocketAddr, Errno> {
        self.s.names().map(|n| n.peer.into())
    }

    /// The `netd::POLL*` events of `events` that are ready, waiting up to `timeout_ns`
    /// (0: answer at once, `u64::MAX`: forever); 0 on timeout.
    pub fn poll(&self, events: u32, timeout_ns: u64) -> Result<u32, Errno> {
        self.s.poll(events, timeout_ns)
    }

    pub fn fd(&self) -> usize {
        self.s.fd
    }

    /// Gives up ownership of the fd (it stays open).
    pub fn into_fd(self) -> usize {
        self.s.into_fd()
    }

    /// Takes ownership of a socket fd.
    pub fn from_fd(fd: usize) -> TcpStream {
        TcpStream { s: Sock { fd } }
    }
}

/// A listening TCP socket.
#[derive(Debug)]
pub struct TcpListener {
    s: Sock,
}

impl TcpListener {
    /// Binds to `addr` (0.0.0.0: every interface; port 0: an ephemeral one) and listens
    /// with a backlog of `MAX_BACKLOG`.
    pub fn bind(addr: SocketAddr) -> Result<TcpListener, Errno> {
        Self::bind_backlog(addr, MAX_BACKLOG)
    }

    pub fn bind_backlog(addr: SocketAddr, backlog: u32) -> Result<TcpListener, Errno> {
        let s = Sock::new(KIND_TCP)?;
        s.bind(addr)?;
        sock_call(s.fd, &msg_u32(LISTEN, backlog))?;
        Ok(TcpListener { s })
    }

    /// The next connection and its peer; waits unless non-blocking (`EAGAIN`) or the
    /// read timeout passes (`EAGAIN`).
    pub fn accept(&self) -> Result<(TcpStream, SocketAddr), Errno> {
        // A successful ACCEPT always brings the connection, so the result is its fd (which
        // may be 0 when stdin is closed).
        let (fd, reply) = fd_call(self.s.fd, &Message::new(ACCEPT))?;
        let stream = TcpStream::from_fd(fd);
        let peer: RawAddr = record(&reply)?;
        Ok((stream, peer.into()))
    }

    pub fn local_addr(&self) -> Result<SocketAddr, Errno> {
        self.s.names().map(|n| n.local.into())
    }

    pub fn set_nonblocking(&self, on: bool) -> Result<(), Errno> {
        self.s.set_nonblocking(on)
    }

    /// How long `accept` waits (`None`: forever).
    pub fn set_read_timeout(&self, ns: Option<u64>) -> Result<(), Errno> {
        self.s.set_read_timeout(ns)
    }

    pub fn poll(&self, events: u32, timeout_ns: u64) -> Result<u32, Errno> {
        self.s.poll(events, timeout_ns)
    }

    pub fn fd(&self) -> usize {
        self.s.fd
    }
}

// ---------------------------------------------------------------------------------------
// UDP.

/// A UDP socket.
#[derive(Debug)]
pub struct UdpSocket {
    s: Sock,
}

impl UdpSocket {
    /// A socket bound to `addr` (port 0: an ephemeral one).
    pub fn bind(addr: SocketAddr) -> Result<UdpSocket, Errno> {
        let s = Sock::new(KIND_UDP)?;
        s.bind(addr)?;
        Ok(UdpSocket { s })
    }

    /// Sends one datagram of up to `DGRAM_MAX` bytes (`EMSGSIZE` beyond).
    pub fn send_to(&self, buf: &[u8], to: SocketAddr) -> Result<usize, Errno> {
        self.s.send_to(buf, to)
    }

    /// The next datagram (truncated to `buf`) and its sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), Errno> {
        self.s.recv_from(buf)
    }

    /// Sets the peer: `send` goes there, `recv` takes only its datagrams.
    pub fn connect(&self, to: SocketAddr) -> Result<(), Errno> {
        self.s.connect(to)
    }

    /// Sends one datagram to the connected peer (`EDESTADDRREQ` without one).
    pub fn send(&self, buf: &[u8]) -> Result<usize, Errno> {
        let peer = self.s.names()?.peer;
        if peer.port == 0 {
            return Err(Errno(wayos_abi::errno::EDESTADDRREQ));
        }
        self.s.send_to(buf, peer.into())
    }

    pub fn recv(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.s.recv_from(buf).map(|(n, _)| n)
    }

    pub fn set_nonblocking(&self, on: bool) -> Result<(), Errno> {
        self.s.set_nonblocking(on)
    }

    pub fn set_read_timeout(&self, ns: Option<u64>) -> Result<(), Errno> {
        self.s.set_read_timeout(ns)
    }

    pub fn local_addr(&self) -> Result<SocketAddr, Errno> {
        self.s.names().map(|n| n.local.into())
    }

    pub fn poll(&self, events: u32, timeout_ns: u64) -> Result<u32, Errno> {
        self.s.poll(events, timeout_ns)
    }

    pub fn fd(&self) -> usize {
        self.s.fd
    }
}

// ---------------------------------------------------------------------------------------
// ICMP echo.

/// An ICMP echo socket ("ping socket"): sends echo requests, receives the replies to its
/// identifier.
#[derive(Debug)]
pub struct IcmpSocket {
    s: Sock,
}

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_HEADER: usize = 8;

/// The Internet checksum of `bytes`.
fn inet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in bytes.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += w as u32;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl IcmpSocket {
    pub fn new() -> Result<IcmpSocket, Errno> {
        Ok(IcmpSocket {
            s: Sock::new(KIND_ICMP)?,
        })
    }

    /// Sends an echo request (`payload` up to `DGRAM_MAX - 8` bytes). The first one fixes
    /// the socket's identifier: replies to `ident` come to this socket.
    pub fn send_echo(
        &self,
        to: Ipv4Addr,
        ident: u16,
        seq: u16,
        payload: &[u8],
    ) -> Result<(), Errno> {
        if payload.len() + ICMP_HEADER > DGRAM_MAX {
            return Err(Errno(EMSGSIZE));
        }
        let mut pkt = Vec::new();
        pkt.try_reserve_exact(ICMP_HEADER + payload.len())
            .map_err(|_| Errno(wayos_abi::errno::ENOMEM))?;
        pkt.extend_from_slice(&[ICMP_ECHO_REQUEST, 0, 0, 0]);
        pkt.extend_from_slice(&ident.to_be_bytes());
        pkt.extend_from_slice(&seq.to_be_bytes());
        pkt.extend_from_slice(payload);
        let sum = inet_checksum(&pkt);
        pkt[2..4].copy_from_slice(&sum.to_be_bytes());
        self.s.send_to(&pkt, SocketAddr::new(to, 0)).map(drop)
    }

    /// The next echo reply: (from, ident, seq, payload length). `ETIMEDOUT` when none
    /// came within `timeout_ns` (`EAGAIN` for 0).
    pub fn recv_echo(&self, timeout_ns: u64) -> Result<(Ipv4Addr, u16, u16, usize), Errno> {
        let start = crate::time::monotonic_ns().unwrap_or(0);
        loop {
            let spent = crate::time::monotonic_ns()
                .unwrap_or(0)
                .saturating_sub(start);
            let left = timeout_ns.saturating_sub(spent);
            if self.s.poll(POLLIN, left)? & POLLIN == 0 {
                return Err(Errno(if timeout_ns == 0 { EAGAIN } else { ETIMEDOUT }));
            }
            let mut buf = [0u8; DGRAM_MAX];
            let (n, from) = match self.s.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if e.code() == EAGAIN => continue,
                Err(e) => return Err(e),
            };
            let pkt = &buf[..n];
            if n < ICMP_HEADER || pkt[0] != ICMP_ECHO_REPLY {
                // Not an echo reply (netd delivers only those to an echo socket).
                if left == 0 {
                    return Err(Errno(EAGAIN));
                }
                continue;
            }
            let ident = u16::from_be_bytes([pkt[4], pkt[5]]);
            let seq = u16::from_be_bytes([pkt[6], pkt[7]]);
            return Ok((from.ip, ident, seq, n - ICMP_HEADER));
        }
    }

    pub fn set_nonblocking(&self, on: bool) -> Result<(), Errno> {
        self.s.set_nonblocking(on)
    }

    pub fn fd(&self) -> usize {
        self.s.fd
    }
}

// ---------------------------------------------------------------------------------------
// Names, interfaces, sockets, counters.

/// The addresses of `host`: a dotted quad at once, else netd's resolver (DNS).
pub fn resolve(host: &str) -> Result<Vec<Ipv4Addr>, Errno> {
    if let Some(ip) = Ipv4Addr::parse(host) {
        return Ok(alloc::vec![ip]);
    }
    if host.is_empty() || host.len() > HOST_MAX {
        return Err(Errno(EINVAL));
    }
    let reply = server_call(&Message::with_bytes(RESOLVE, host.as_bytes())?)?;
    let r: Resolved = record(&reply)?;
    let n = (r.count as usize).min(r.addrs.len());
    if n == 0 {
        return Err(Errno(ENOENT));
    }
    Ok(r.addrs[..n].iter().map(|&a| Ipv4Addr(a)).collect())
}

/// Every record of a paged request (`IFINFO`, `SOCKLIST`), whose `total` is its first
/// `u32`.
fn paged<T: Plain>(label: u64, total: impl Fn(&T) -> u32) -> Result<Vec<T>, Errno> {
    let mut out = Vec::new();
    let mut i = 0u32;
    loop {
        let reply = server_call(&msg_with(label, &Index { index: i }))?;
        let rec: T = record(&reply)?;
        let all = total(&rec);
        if i >= all {
            return Ok(out);
        }
        out.push(rec);
        i += 1;
        // A server that keeps changing its total cannot make this loop forever.
        if i as usize > wayos_abi::netd::MAX_SOCKETS + 16 {
            return Ok(out);
        }
    }
}

/// netd's interfaces (`lo`, `eth0`).
pub fn interfaces() -> Result<Vec<IfInfo>, Errno> {
    paged::<IfInfo>(IFINFO, |r| r.total)
}

/// Every socket netd holds.
pub fn sockets() -> Result<Vec<SockInfo>, Errno> {
    paged::<SockInfo>(SOCKLIST, |r| r.total)
}

/// netd's counters (`netd::STAT_NAMES`).
pub fn stats() -> Result<Stats, Errno> {
    record(&server_call(&Message::new(STATS))?)
}

/// `net_info(nic)`: the kernel's view of NIC `nic` (`ENODEV` past the last).
pub fn nic_info(nic: usize) -> Result<wayos_abi::net::NicInfo, Errno> {
    let mut info = wayos_abi::net::NicInfo::default();
    // SAFETY: the kernel writes one `NicInfo` into `info`, borrowed mutably; every bit
    // pattern is valid.
    unsafe {
        crate::sys::call(
            sys::NET_INFO,
            [nic, crate::sys::arg_out(&mut info), 0, 0, 0, 0],
        )
    }?;
    Ok(info)
}

/// `net_attach(nic, notify)`: takes NIC `nic` for raw frames (needs the `netraw`
/// capability; one holder at a time, `EBUSY`). Returns the NIC handle — map its ring with
/// [`crate::grant::MemHandle::map`], kick it with [`nic_kick`], close it to let go — and
/// the NIC's description. `notify` receives `net::NOTIFY` messages from the kernel.
pub fn nic_attach(nic: usize, notify: &Port) -> Result<(u32, wayos_abi::net::NicInfo), Errno> {
    let mut info = wayos_abi::net::NicInfo::default();
    // SAFETY: the kernel writes one `NicInfo` into `info`, borrowed mutably; every bit
    // pattern is valid. The other arguments are numbers.
    let h = unsafe {
        crate::sys::call(
            sys::NET_ATTACH,
            [
                nic,
                notify.raw() as usize,
                crate::sys::arg_out(&mut info),
                0,
                0,
                0,
            ],
        )
    }?;
    Ok((crate::ipc::handle_from(h)?, info))
}

/// `net_kick(handle)`: the holder filled tx slots or freed rx slots.
pub fn nic_kick(handle: u32) -> Result<(), Errno> {
    crate::sys::call1(crate::sys::MemFree::NET_KICK, handle as usize).map(drop)
}

/// `pci_list`: every PCI function the kernel found (the same as [`crate::pci::pci_list`]).
pub fn pci_list() -> Result<Vec<wayos_abi::net::PciDevice>, Errno> {
    crate::pci::pci_list()
}
