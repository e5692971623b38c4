//! `socktest`: netd's sockets over the loopback interface, as programs see them through
//! `libway::net` and plain fds (`docs/net.md`). Needs no NIC and no host, so it runs the
//! same on every boot: TCP connect/accept/read/write both ways with addresses, EOF on close,
//! `ECONNREFUSED`, `EADDRINUSE`, non-blocking and timed-out waits, a connect that is
//! refused and one that is in progress, poll, UDP datagrams with and without a peer up to
//! `DGRAM_MAX` bytes, ICMP echo, many connections at once, a server killed with a request
//! in flight, fds (`dup2`, `read`/`write`), the per-process socket limit, and that closing
//! frees every socket. Expected bytes are patterns computed here.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::errno::{EADDRINUSE, EAGAIN, ECONNREFUSED, EINPROGRESS, EMFILE, ENOTCONN};
use libway::abi::netd::{KIND_TCP, MAX_SOCKETS_PER_PID, POLLIN, POLLOUT, SHUT_WR};
use libway::abi::signal::SIGKILL;
use libway::io;
use libway::net::{self, IcmpSocket, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use libway::process;
use libway::suite::{expect_eq, expect_errno, wait_for, Check, Context, Suite, CHILD_TIMEOUT_MS};
use libway::thread;
use libway::time::{monotonic_ns, sleep_ms};
use libway::Args;

libway::entry!(main);

const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn main(_args: Args) -> i32 {
    let mut s = Suite::new("socktest");
    if let Err(e) = wait_netd() {
        s.check("netd_up", Err(e));
        return s.finish();
    }
    let before = net::sockets().map(|v| v.len()).unwrap_or(0);
    s.check("tcp_echo_both_ways", tcp_echo());
    s.check("tcp_eof_after_close", tcp_eof());
    s.check("tcp_write_after_peer_close", write_after_peer_close());
    s.check("tcp_refused", tcp_refused());
    s.check("tcp_addr_in_use", addr_in_use());
    s.check("tcp_nonblocking_and_timeouts", nonblocking());
    s.check("tcp_poll", poll());
    s.check("tcp_big_transfer", big_transfer());
    s.check("tcp_many_connections", many_connections());
    s.check("tcp_server_killed_mid_request", server_killed());
    s.check("socket_fd_dup2_and_io", fd_io());
    s.check("udp_datagrams", udp());
    s.check("icmp_echo_lo", icmp());
    s.check("interfaces_and_stats", info());
    s.check("per_process_limit", per_process_limit());
    s.check("closing_frees_sockets", frees(before));
    s.finish()
}

/// netd starts with the other servers; give it a moment at boot.
fn wait_netd() -> Check {
    for _ in 0..100 {
        if net::interfaces().is_ok() {
            return Ok(());
        }
        let _ = sleep_ms(50);
    }
    net::interfaces().map(drop).context("netd")
}

fn pattern(seed: u32, i: usize) -> u8 {
    (seed.wrapping_mul(2654435761).wrapping_add(i as u32 * 31) >> 7) as u8
}

fn listener() -> Result<(TcpListener, SocketAddr), String> {
    let l = TcpListener::bind(SocketAddr::new(LO, 0)).context("bind")?;
    let a = l.local_addr().context("local_addr")?;
    if a.port == 0 || a.ip != LO {
        return Err(format!("listener bound to {a}"));
    }
    Ok((l, a))
}

fn read_exact(s: &TcpStream, n: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while out.len() < n {
        let want = (n - out.len()).min(buf.len());
        let got = s.read(&mut buf[..want]).context("read")?;
        if got == 0 {
            return Err(format!("EOF after {} of {n} bytes", out.len()));
        }
        out.extend_from_slice(&buf[..got]);
    }
    Ok(out)
}

fn tcp_echo() -> Check {
    let (l, a) = listener()?;
    let client = thread::spawn(move || -> Check {
        let c = TcpStream::connect(a).context("connect")?;
        let msg: Vec<u8> = (0..300).map(|i| pattern(1, i)).collect();
        c.write_all(&msg).context("write")?;
        let back = read_exact(&c, 300)?;
        let want: Vec<u8> = msg.iter().map(|b| b ^ 0xff).collect();
        expect_eq(back, want).context("echoed bytes")?;
        expect_eq(c.peer_addr().context("peer")?, a).context("peer address")
    })
    .map_err(|e| format!("thread: {e}"))?;
    let (srv, peer) = l.accept().context("accept")?;
    let got = read_exact(&srv, 300)?;
    let reply: Vec<u8> = got.iter().map(|b| b ^ 0xff).collect();
    srv.write_all(&reply).context("server write")?;
    let local = srv.local_addr().context("local")?;
    expect_eq(local, a).context("accepted socket's local address")?;
    expect_eq(peer.ip, LO).context("peer ip")?;
    client.join().unwrap_or(Err("client thread died".into()))
}

fn tcp_eof() -> Check {
    let (l, a) = listener()?;
    let c = TcpStream::connect(a).context("connect")?;
    let (srv, _) = l.accept().context("accept")?;
    c.write_all(b"last words").context("write")?;
    drop(c);
    let got = read_exact(&srv, 10)?;
    expect_eq(&got[..], &b"last words"[..]).context("data before the FIN")?;
    let mut b = [0u8; 8];
    expect_eq(srv.read(&mut b).context("read at EOF")?, 0).context("EOF")
}

/// The peer closed its socket without reading: the writer's data resets the closed end,
/// so writes fail (`ECONNRESET`, then `EPIPE`) instead of filling a buffer nobody reads.
fn write_after_peer_close() -> Check {
    let (l, a) = listener()?;
    let c = TcpStream::connect(a).context("connect")?;
    let (srv, _) = l.accept().context("accept")?;
    drop(srv);
    c.set_write_timeout(Some(5_000_000_000))
        .context("timeout")?;
    let chunk = [0x42u8; 1024];
    for _ in 0..256 {
        match c.write(&chunk) {
            Ok(_) => {
                let _ = sleep_ms(5);
            }
            Err(e) if e.code() == libway::abi::errno::EPIPE => return Ok(()),
            Err(e) if e.code() == libway::abi::errno::ECONNRESET => {
                // Reported once; the next write is EPIPE.
                return expect_errno(c.write(&chunk), libway::abi::errno::EPIPE)
                    .context("the write after ECONNRESET");
            }
            Err(e) => return Err(format!("write: {e}, expected EPIPE or ECONNRESET")),
        }
    }
    Err("256 KiB written to a closed peer without an error".into())
}

fn tcp_refused() -> Check {
    // A port nobody listens on: bind one and drop it, then connect there.
    let port = {
        let (_, a) = listener()?;
        a.port
    };
    expect_errno(TcpStream::connect(SocketAddr::new(LO, port)), ECONNREFUSED).context("connect")
}

fn addr_in_use() -> Check {
    let (_l, a) = listener()?;
    expect_errno(TcpListener::bind(a), EADDRINUSE).context("second bind")?;
    let u = UdpSocket::bind(SocketAddr::new(LO, 0)).context("udp bind")?;
    let ua = u.local_addr().context("udp local")?;
    expect_errno(UdpSocket::bind(ua), EADDRINUSE).context("second udp bind")
}

fn elapsed_ms(t0: u64) -> u64 {
    monotonic_ns().unwrap_or(0).saturating_sub(t0) / 1_000_000
}

fn nonblocking() -> Check {
    let (l, a) = listener()?;
    l.set_nonblocking(true).context("nonblock")?;
    expect_errno(l.accept(), EAGAIN).context("accept with nothing queued")?;
    l.set_nonblocking(false).context("blocking")?;
    l.set_read_timeout(Some(200_000_000)).context("timeout")?;
    let t0 = monotonic_ns().unwrap_or(0);
    expect_errno(l.accept(), EAGAIN).context("accept timeout")?;
    let ms = elapsed_ms(t0);
    if !(150..5000).contains(&ms) {
        return Err(format!("accept timed out after {ms} ms, want about 200"));
    }
    let c = TcpStream::connect(a).context("connect")?;
    c.set_read_timeout(Some(150_000_000))
        .context("read timeout")?;
    let mut b = [0u8; 4];
    expect_errno(c.read(&mut b), EAGAIN).context("read timeout")?;
    c.set_nonblocking(true).context("nonblock")?;
    expect_errno(c.read(&mut b), EAGAIN).context("non-blocking read")?;
    // A non-blocking connect is in progress, then done.
    let fresh = TcpStream::from_fd(raw_socket()?);
    fresh.set_nonblocking(true).context("nonblock fresh")?;
    let mut req = libway::abi::ipc::Message::new(libway::abi::netd::CONNECT);
    let sa = a.raw();
    req.data[..8].copy_from_slice(libway::abi::zerocopy::IntoBytes::as_bytes(&sa));
    req.len = 8;
    expect_errno(net::fd_call(fresh.fd(), &req), EINPROGRESS).context("non-blocking connect")?;
    let ev = fresh.poll(POLLOUT, 5_000_000_000).context("poll")?;
    expect_eq(ev & POLLOUT, POLLOUT).context("connected")?;
    let unconnected = TcpStream::from_fd(raw_socket()?);
    expect_errno(unconnected.read(&mut b), ENOTCONN).context("read before connect")
}

/// A bare TCP socket fd (no connect), through the protocol.
fn raw_socket() -> Result<usize, String> {
    let port = libway::ipc::ns::lookup(libway::abi::netd::NAME).context("lookup")?;
    let req = libway::abi::netd::SocketReq {
        kind: KIND_TCP,
        pid: process::getpid().unwrap_or(0) as u32,
    };
    let mut m = libway::abi::ipc::Message::new(libway::abi::netd::SOCKET);
    m.data[..8].copy_from_slice(libway::abi::zerocopy::IntoBytes::as_bytes(&req));
    m.len = 8;
    port.call(&mut m, libway::ipc::Timeout::Forever)
        .context("SOCKET")?;
    use libway::ipc::MessageExt;
    let h = m.take_handle(0).ok_or("no handle")?;
    io::port_fd(h).context("port_fd")
}

fn poll() -> Check {
    let (l, a) = listener()?;
    expect_eq(l.poll(POLLIN, 0).context("poll")?, 0).context("nothing to accept")?;
    let c = TcpStream::connect(a).context("connect")?;
    let ev = l.poll(POLLIN, 2_000_000_000).context("poll listener")?;
    expect_eq(ev, POLLIN).context("listener readable")?;
    let (srv, _) = l.accept().context("accept")?;
    expect_eq(srv.poll(POLLIN, 0).context("poll")?, 0).context("no data yet")?;
    let t0 = monotonic_ns().unwrap_or(0);
    expect_eq(srv.poll(POLLIN, 100_000_000).context("poll")?, 0).context("timed out")?;
    if elapsed_ms(t0) < 80 {
        return Err("poll returned before its timeout".into());
    }
    c.write_all(b"x").context("write")?;
    expect_eq(
        srv.poll(POLLIN, 2_000_000_000).context("poll")? & POLLIN,
        POLLIN,
    )
    .context("readable")?;
    expect_eq(c.poll(POLLOUT, 0).context("poll")? & POLLOUT, POLLOUT).context("writable")
}

fn big_transfer() -> Check {
    const N: usize = 200 * 1024;
    let (l, a) = listener()?;
    let sender = thread::spawn(move || -> Check {
        let c = TcpStream::connect(a).context("connect")?;
        let data: Vec<u8> = (0..N).map(|i| pattern(7, i)).collect();
        c.write_all(&data).context("write")?;
        c.shutdown(SHUT_WR).context("shutdown")
    })
    .map_err(|e| format!("thread: {e}"))?;
    let (srv, _) = l.accept().context("accept")?;
    let got = read_exact(&srv, N)?;
    let mut b = [0u8; 4];
    expect_eq(srv.read(&mut b).context("read at end")?, 0).context("EOF after shutdown")?;
    sender.join().unwrap_or(Err("sender died".into()))?;
    let bad = got
        .iter()
        .enumerate()
        .position(|(i, &b)| b != pattern(7, i));
    expect_eq(bad, None).context("first wrong byte")
}

fn many_connections() -> Check {
    const N: usize = 24;
    let (l, a) = listener()?;
    let server = thread::spawn(move || -> Check {
        let mut conns = Vec::new();
        for _ in 0..N {
            let (s, _) = l.accept().context("accept")?;
            conns.push(s);
        }
        for s in &conns {
            let mut b = [0u8; 1];
            let n = s.read(&mut b).context("read")?;
            expect_eq(n, 1).context("one byte")?;
            s.write_all(&[b[0].wrapping_add(1)]).context("write")?;
        }
        Ok(())
    })
    .map_err(|e| format!("thread: {e}"))?;
    let mut clients = Vec::new();
    for i in 0..N {
        clients.push(TcpStream::connect(a).map_err(|e| format!("connect {i}: {e}"))?);
    }
    for (i, c) in clients.iter().enumerate() {
        c.write_all(&[i as u8]).context("write")?;
    }
    for (i, c) in clients.iter().enumerate() {
        let got = read_exact(c, 1)?;
        expect_eq(got[0], i as u8 + 1).map_err(|e| format!("client {i}: {e}"))?;
    }
    server.join().unwrap_or(Err("server died".into()))
}

fn server_killed() -> Check {
    let (l, a) = listener()?;
    let pid = match process::fork() {
        Ok(0) => {
            // The child accepts and never answers; it is killed with the request unread.
            let code = match l.accept() {
                Ok((_s, _)) => {
                    let _ = sleep_ms(60_000);
                    0
                }
                Err(_) => 2,
            };
            process::exit(code)
        }
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    drop(l);
    let c = TcpStream::connect(a).context("connect")?;
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").context("request")?;
    let _ = sleep_ms(200);
    process::kill(pid, SIGKILL).context("kill")?;
    let _ = wait_for(pid, CHILD_TIMEOUT_MS);
    c.set_read_timeout(Some(10_000_000_000))
        .context("timeout")?;
    let mut b = [0u8; 16];
    match c.read(&mut b) {
        Ok(0) => Ok(()),
        Err(e) if e.code() == libway::abi::errno::ECONNRESET => Ok(()),
        other => Err(format!("read after the server died: {other:?}")),
    }
}

fn fd_io() -> Check {
    let (l, a) = listener()?;
    let c = TcpStream::connect(a).context("connect")?;
    let (srv, _) = l.accept().context("accept")?;
    // The socket is a plain fd: duplicate it and write through the copy.
    let copy = io::dup(c.fd()).context("dup")?;
    let n = io::write(copy, b"via dup").context("write")?;
    expect_eq(n, 7).context("written")?;
    io::close(copy).context("close copy")?;
    let got = read_exact(&srv, 7)?;
    expect_eq(&got[..], &b"via dup"[..]).context("bytes")?;
    // Closing the copy left the socket open: it still works.
    c.write_all(b"!").context("write after closing the copy")?;
    expect_eq(read_exact(&srv, 1)?, alloc::vec![b'!']).context("byte")?;
    libway::fs::fstat(c.fd()).context("fstat")?;
    Ok(())
}

fn udp() -> Check {
    let a = UdpSocket::bind(SocketAddr::new(LO, 0)).context("bind a")?;
    let b = UdpSocket::bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED, 0)).context("bind b")?;
    let aa = a.local_addr().context("a addr")?;
    let ba = SocketAddr::new(LO, b.local_addr().context("b addr")?.port);
    for len in [1usize, 100, 120, 121, 700, 1472] {
        let data: Vec<u8> = (0..len).map(|i| pattern(len as u32, i)).collect();
        expect_eq(a.send_to(&data, ba).context("send_to")?, len).context("sent")?;
        let mut buf = [0u8; 1500];
        b.set_read_timeout(Some(2_000_000_000)).context("timeout")?;
        let (n, from) = b
            .recv_from(&mut buf)
            .map_err(|e| format!("recv {len}: {e}"))?;
        expect_eq(n, len).map_err(|e| format!("length of {len}: {e}"))?;
        expect_eq(&buf[..n], &data[..]).map_err(|e| format!("bytes of {len}: {e}"))?;
        expect_eq(from, aa).context("sender")?;
    }
    // Truncation: a short buffer gets the head of the datagram, the rest is gone.
    a.send_to(&[9u8; 300], ba).context("send")?;
    let mut small = [0u8; 50];
    let (n, _) = b.recv_from(&mut small).context("recv small")?;
    expect_eq(n, 50).context("truncated")?;
    b.set_nonblocking(true).context("nonblock")?;
    expect_errno(b.recv_from(&mut small), EAGAIN).context("nothing left")?;
    // Connected: send/recv and plain fd reads and writes.
    b.set_nonblocking(false).context("blocking")?;
    b.connect(aa).context("connect")?;
    a.connect(ba).context("connect")?;
    b.send(b"hello").context("send")?;
    let mut buf = [0u8; 16];
    expect_eq(a.recv(&mut buf).context("recv")?, 5).context("len")?;
    expect_eq(io::write(a.fd(), b"fd!").context("fd write")?, 3).context("fd write")?;
    let n = io::read(b.fd(), &mut buf).context("fd read")?;
    expect_eq(&buf[..n], &b"fd!"[..]).context("fd datagram")
}

fn icmp() -> Check {
    let s = IcmpSocket::new().context("socket")?;
    let ident = (process::getpid().unwrap_or(7) as u16) ^ 0x5a5a;
    for seq in 1..=3u16 {
        s.send_echo(LO, ident, seq, b"wayos ping").context("send")?;
        let (from, id, sq, len) = s.recv_echo(2_000_000_000).context("reply")?;
        expect_eq((from, id, sq, len), (LO, ident, seq, 10))
            .map_err(|e| format!("seq {seq}: {e}"))?;
    }
    Ok(())
}

fn info() -> Check {
    let ifs = net::interfaces().context("interfaces")?;
    let lo = ifs.first().ok_or("no interfaces")?;
    expect_eq(&lo.name[..3], &b"lo\0"[..]).context("first is lo")?;
    expect_eq(lo.addr, [127, 0, 0, 1]).context("lo address")?;
    let (_l, a) = listener()?;
    let st = net::stats().context("stats")?;
    if st.counters[13] == 0 {
        return Err("sockets_open is 0 while this suite holds a listener".into());
    }
    let socks = net::sockets().context("sockets")?;
    let me = process::getpid().unwrap_or(0) as u32;
    let found = socks
        .iter()
        .any(|s| s.pid == me && s.state == 1 && s.local.port == a.port);
    if !found {
        return Err(format!("the listener on {a} is not in the socket list"));
    }
    Ok(())
}

fn per_process_limit() -> Check {
    // In a child, so its sockets all go when it exits.
    let pid = match process::fork() {
        Ok(0) => {
            let mut held = Vec::new();
            let code = loop {
                match UdpSocket::bind(SocketAddr::new(LO, 0)) {
                    Ok(s) => held.push(s),
                    Err(e) if e.code() == EMFILE => {
                        break if held.len() <= MAX_SOCKETS_PER_PID {
                            0
                        } else {
                            3
                        };
                    }
                    Err(_) => break 2,
                }
                if held.len() > MAX_SOCKETS_PER_PID + 1 {
                    break 4;
                }
            };
            process::exit(code)
        }
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    let st = wait_for(pid, CHILD_TIMEOUT_MS)?;
    libway::suite::expect_exit(st, 0).context("child: 2 other error, 3/4 no EMFILE")
}

fn frees(before: usize) -> Check {
    // Closed connections may linger in TIME_WAIT; sockets of this process must be gone.
    let me = process::getpid().unwrap_or(0) as u32;
    for _ in 0..50 {
        let socks = net::sockets().context("sockets")?;
        let mine = socks.iter().filter(|s| s.pid == me).count();
        if mine == 0 {
            return Ok(());
        }
        let _ = sleep_ms(100);
    }
    let socks = net::sockets().context("sockets")?;
    Err(format!(
        "{} sockets of this process still open ({} before the checks)",
        socks.iter().filter(|s| s.pid == me).count(),
        before
    ))
}
