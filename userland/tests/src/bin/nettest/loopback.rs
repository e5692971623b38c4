//! The socket API over `lo` (127.0.0.1): data integrity, datagrams, many connections,
//! the backlog, dying peers, non-blocking and timeout behaviour, the errnos, sockets as
//! file descriptors, and the per-process quota.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::errno::{
    EADDRINUSE, EAGAIN, EBADF, ECONNREFUSED, ECONNRESET, EINPROGRESS, EMFILE, EMSGSIZE, ENOTSOCK,
    EPIPE, ETIMEDOUT,
};
use libway::abi::ipc::Message;
use libway::abi::netd::{
    self, SockOpt, SocketReq, DGRAM_MAX, IF_LOOPBACK, KIND_TCP, MAX_SOCKETS_PER_PID, OPT_NONBLOCK,
    POLLIN, POLLOUT, SHUT_WR,
};
use libway::abi::zerocopy::IntoBytes;
use libway::io;
use libway::ipc::{ns, Port, Timeout};
use libway::net::{self, SocketAddr, TcpListener, TcpStream, UdpSocket};
use libway::process;
use libway::suite::{expect_eq, expect_errno, wait_for, Check, Context, Suite, CHILD_TIMEOUT_MS};
use libway::Errno;
use sha2::{Digest, Sha256};

use crate::util::{
    hex, listener, lo, now_ns, pair, pattern, read_to_end, sha256_hex, spawn, Stdio, IO_TIMEOUT_NS,
    LOCALHOST,
};

pub fn run(s: &mut Suite) {
    s.check("lo_has_127_0_0_1", lo_interface());
    s.check("tcp_echo_1mib_sha256", tcp_echo_1mib());
    s.check("tcp_names_match", names_match());
    s.check("udp_datagrams", udp_datagrams());
    s.check("udp_connected_read_write", udp_connected());
    s.check("udp_too_big_emsgsize", udp_too_big());
    s.check("tcp_32_connections_at_once", many_connections());
    s.check("accept_backlog_full", backlog());
    s.check("server_killed_mid_request", server_killed());
    s.check("nonblocking_accept_eagain", nonblocking_accept());
    s.check("nonblocking_connect_einprogress", nonblocking_connect());
    s.check("nonblocking_read_eagain", nonblocking_read());
    s.check("read_timeout_eagain", read_timeout());
    s.check("poll_readable", poll_readable());
    s.check("connect_closed_port_econnrefused", refused());
    s.check("bind_in_use_eaddrinuse", in_use());
    s.check("write_after_close_ebadf", write_after_close());
    s.check("write_after_peer_close_epipe", write_after_peer_close());
    s.check("socket_as_cat_stdin_stdout", cat_on_socket());
    s.check("socket_to_pipe_through_wc", socket_to_pipe());
    s.check("socket_dup2", socket_dup2());
    s.check("fd_call_non_socket_enotsock", not_a_socket());
    s.check("socket_quota_emfile", quota());
    s.check("close_frees_socket", close_frees());
}

fn lo_interface() -> Check {
    let list = net::interfaces().context("interfaces")?;
    let lo = list
        .iter()
        .find(|i| i.flags & IF_LOOPBACK != 0)
        .ok_or_else(|| format!("no loopback among {} interfaces", list.len()))?;
    expect_eq(lo.addr, [127, 0, 0, 1]).context("lo address")?;
    expect_eq(lo.prefix_len, 8).context("lo prefix")?;
    expect_eq(crate_name(&lo.name), "lo").context("lo name")
}

fn crate_name(field: &[u8]) -> &str {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    core::str::from_utf8(&field[..end]).unwrap_or("?")
}

/// 1 MiB through an echo server thread and back; the digest of what came back must be
/// the digest of the pattern (computed separately).
fn tcp_echo_1mib() -> Check {
    const LEN: usize = 1 << 20;
    let want = sha256_hex(&pattern(LEN, 0x5eed));
    let (l, port) = listener()?;
    let server = libway::thread::spawn(move || -> Result<u64, String> {
        let _ = l.set_read_timeout(Some(IO_TIMEOUT_NS));
        let (s, _) = l.accept().context("accept")?;
        let _ = s.set_read_timeout(Some(IO_TIMEOUT_NS));
        let mut buf = vec![0u8; 8192];
        let mut total = 0u64;
        loop {
            let n = s.read(&mut buf).context("echo read")?;
            if n == 0 {
                return Ok(total);
            }
            s.write_all(&buf[..n]).context("echo write")?;
            total += n as u64;
        }
    })
    .context("server thread")?;
    let c = TcpStream::connect(lo(port)).context("connect")?;
    c.set_read_timeout(Some(IO_TIMEOUT_NS)).context("timeout")?;
    let wfd = io::dup(c.fd()).context("dup")?;
    let writer = libway::thread::spawn(move || -> Result<(), String> {
        let w = TcpStream::from_fd(wfd);
        let data = pattern(LEN, 0x5eed);
        for chunk in data.chunks(3000) {
            w.write_all(chunk).context("client write")?;
        }
        w.shutdown(SHUT_WR).context("shutdown")
    })
    .context("writer thread")?;
    let mut h = Sha256::new();
    let mut got = 0usize;
    let mut buf = vec![0u8; 16384];
    loop {
        let n = c
            .read(&mut buf)
            .context(&format!("read after {got} bytes"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        got += n;
    }
    writer.join().ok_or("writer died")??;
    let echoed = server.join().ok_or("server died")??;
    expect_eq(got, LEN).context("bytes back")?;
    expect_eq(echoed, LEN as u64).context("bytes echoed")?;
    expect_eq(hex(&h.finalize()), want).context("sha256")
}

fn names_match() -> Check {
    let (c, s) = pair()?;
    let (cl, cp) = (
        c.local_addr().context("c local")?,
        c.peer_addr().context("c peer")?,
    );
    let (sl, sp) = (
        s.local_addr().context("s local")?,
        s.peer_addr().context("s peer")?,
    );
    expect_eq(cl, sp).context("client local = server's peer")?;
    expect_eq(sl, cp).context("server local = client's peer")?;
    expect_eq(cl.ip, LOCALHOST).context("client address")?;
    if cl.port == 0 || cl.port == sl.port {
        return Err(format!(
            "client port {} beside server port {}",
            cl.port, sl.port
        ));
    }
    Ok(())
}

fn udp_pair() -> Result<(UdpSocket, SocketAddr, UdpSocket, SocketAddr), String> {
    let a = UdpSocket::bind(lo(0)).context("bind a")?;
    let b = UdpSocket::bind(lo(0)).context("bind b")?;
    let aa = a.local_addr().context("a name")?;
    let ba = b.local_addr().context("b name")?;
    a.set_read_timeout(Some(IO_TIMEOUT_NS))
        .context("a timeout")?;
    b.set_read_timeout(Some(IO_TIMEOUT_NS))
        .context("b timeout")?;
    Ok((a, aa, b, ba))
}

fn udp_datagrams() -> Check {
    let (a, aa, b, ba) = udp_pair()?;
    let sizes = [1usize, 7, 100, 120, 512, 1000, DGRAM_MAX];
    for (i, &n) in sizes.iter().enumerate() {
        let d = pattern(n, i as u64 + 1);
        expect_eq(a.send_to(&d, ba), Ok(n)).context(&format!("send {n}"))?;
    }
    let mut buf = vec![0u8; DGRAM_MAX + 100];
    for (i, &n) in sizes.iter().enumerate() {
        let (got, from) = b.recv_from(&mut buf).context(&format!("recv {i}"))?;
        expect_eq(from, aa).context("sender")?;
        // Datagram boundaries are kept: each arrives whole and alone, in order here.
        expect_eq(got, n).context(&format!("datagram {i} length"))?;
        if buf[..got] != pattern(n, i as u64 + 1)[..] {
            return Err(format!("datagram {i} ({n} bytes) differs"));
        }
    }
    // And back the other way.
    expect_eq(b.send_to(b"pong", aa), Ok(4)).context("reply")?;
    let (n, from) = a.recv_from(&mut buf).context("recv reply")?;
    expect_eq((&buf[..n], from), (&b"pong"[..], ba)).context("reply")
}

fn udp_connected() -> Check {
    let (a, aa, b, ba) = udp_pair()?;
    a.connect(ba).context("connect a")?;
    b.connect(aa).context("connect b")?;
    // A connected UDP socket is a descriptor: one datagram per write and per read.
    expect_eq(io::write(a.fd(), b"one"), Ok(3)).context("write 1")?;
    expect_eq(a.send(b"two!"), Ok(4)).context("send 2")?;
    let mut buf = [0u8; 64];
    let n = io::read(b.fd(), &mut buf).context("read 1")?;
    expect_eq(&buf[..n], &b"one"[..]).context("datagram 1")?;
    let n = b.recv(&mut buf).context("recv 2")?;
    expect_eq(&buf[..n], &b"two!"[..]).context("datagram 2")
}

fn udp_too_big() -> Check {
    let (a, _, _, ba) = udp_pair()?;
    expect_errno(a.send_to(&vec![0u8; DGRAM_MAX + 1], ba), EMSGSIZE)
}

/// 32 clients (in a child, so the 65 sockets are not one process's: the quota is
/// `MAX_SOCKETS_PER_PID`) connect before any is accepted (the backlog holds them); then
/// each is accepted and sent its client's port, which every client checks.
fn many_connections() -> Check {
    const N: usize = 32;
    let l = TcpListener::bind_backlog(lo(0), N as u32).context("bind")?;
    let port = l.local_addr().context("name")?.port;
    let _ = l.set_read_timeout(Some(IO_TIMEOUT_NS));
    let (r, w) = io::pipe(true).context("pipe")?;
    let pid = match process::fork() {
        Ok(0) => {
            let _ = io::close(r);
            drop(l);
            // Exit codes: 0 all good, 1 + i client i failed to connect, 100 + i wrong
            // or missing message.
            let mut clients = Vec::new();
            for i in 0..N {
                match TcpStream::connect(lo(port)) {
                    Ok(c) => {
                        let _ = c.set_read_timeout(Some(IO_TIMEOUT_NS));
                        clients.push(c);
                    }
                    Err(_) => process::exit(1 + i as i32),
                }
            }
            let _ = io::write(w, b"c");
            for (i, c) in clients.iter().enumerate() {
                let mut b = [0u8; 2];
                let mut got = 0;
                while got < 2 {
                    match c.read(&mut b[got..]) {
                        Ok(n) if n > 0 => got += n,
                        _ => process::exit(100 + i as i32),
                    }
                }
                let me = c.local_addr().map(|a| a.port).unwrap_or(0);
                if u16::from_le_bytes(b) != me {
                    process::exit(100 + i as i32);
                }
            }
            process::exit(0)
        }
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    let _ = io::close(w);
    let result = (|| -> Check {
        let mut b = [0u8; 1];
        expect_eq(io::read(r, &mut b), Ok(1)).context("all 32 connected")?;
        let mut servers = Vec::new();
        for i in 0..N {
            servers.push(l.accept().context(&format!("accept {i}"))?);
        }
        for (s, peer) in &servers {
            s.write_all(&peer.port.to_le_bytes()).context("write")?;
        }
        Ok(())
    })();
    let _ = io::close(r);
    let st = wait_for(pid, CHILD_TIMEOUT_MS);
    result?;
    libway::suite::expect_exit(st?, 0).map_err(|why| {
        format!("{why} (1+i: client i could not connect; 100+i: client i got a wrong message)")
    })
}

/// With a backlog of 2 and nobody accepting, connects complete until the backlog is
/// full and then are refused or time out. netd keeps two spare listening sockets per
/// interface besides the queue, so up to 2 more may complete on `lo`; more than that
/// means the backlog is not enforced. Accepting them makes room again.
fn backlog() -> Check {
    const BACKLOG: usize = 2;
    const SPARES: usize = 2;
    let l = TcpListener::bind_backlog(lo(0), BACKLOG as u32).context("bind")?;
    let port = l.local_addr().context("name")?.port;
    let _ = l.set_read_timeout(Some(IO_TIMEOUT_NS));
    let mut made = Vec::new();
    let refusal = loop {
        match TcpStream::connect_timeout(lo(port), 1_500_000_000) {
            Ok(c) => made.push(c),
            Err(e) => break e,
        }
        if made.len() > BACKLOG + SPARES {
            return Err(format!(
                "{} connects completed with a backlog of {BACKLOG}",
                made.len()
            ));
        }
    };
    if made.len() < BACKLOG {
        return Err(format!(
            "connect {} failed ({refusal}) below the backlog of {BACKLOG}",
            made.len() + 1
        ));
    }
    if refusal.code() != ETIMEDOUT && refusal.code() != ECONNREFUSED {
        return Err(format!(
            "the refused connect got {refusal}, expected ETIMEDOUT or ECONNREFUSED"
        ));
    }
    for i in 0..made.len() {
        l.accept().context(&format!("accept {i}"))?;
    }
    let c =
        TcpStream::connect_timeout(lo(port), 5_000_000_000).context("connect after accepting")?;
    let (_z, peer) = l.accept().context("accept the last")?;
    expect_eq(peer, c.local_addr().context("name")?).context("its peer")
}

/// A forked server accepts, reads the request and is killed before answering: the
/// client's read ends (EOF or ECONNRESET) instead of waiting forever.
fn server_killed() -> Check {
    let (l, port) = listener()?;
    let (r, w) = io::pipe(true).context("pipe")?;
    let pid = match process::fork() {
        Ok(0) => {
            let _ = io::close(r);
            let _ = l.set_read_timeout(Some(IO_TIMEOUT_NS));
            let Ok((s, _)) = l.accept() else {
                process::exit(2)
            };
            let mut b = [0u8; 16];
            let _ = s.read(&mut b);
            let _ = io::write(w, b"r");
            loop {
                let _ = libway::time::sleep_ms(1000);
            }
        }
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    let _ = io::close(w);
    drop(l);
    let result = (|| -> Check {
        let c = TcpStream::connect(lo(port)).context("connect")?;
        c.set_read_timeout(Some(IO_TIMEOUT_NS)).context("timeout")?;
        c.write_all(b"GET / HTTP/1.0\r\n\r\n").context("send")?;
        let mut b = [0u8; 1];
        expect_eq(io::read(r, &mut b), Ok(1)).context("server got the request")?;
        let _ = process::kill(pid, libway::abi::signal::SIGKILL);
        let start = now_ns();
        let got = c.read(&mut b);
        let ms = (now_ns() - start) / 1_000_000;
        match got {
            Ok(0) => Ok(()),
            Err(e) if e.code() == ECONNRESET => Ok(()),
            other => Err(format!(
                "read after the kill: {other:?} after {ms} ms, expected EOF or ECONNRESET"
            )),
        }
    })();
    let _ = io::close(r);
    let _ = process::kill(pid, libway::abi::signal::SIGKILL);
    let _ = wait_for(pid, CHILD_TIMEOUT_MS);
    result
}

fn nonblocking_accept() -> Check {
    let (l, _) = listener()?;
    l.set_nonblocking(true).context("nonblocking")?;
    expect_errno(l.accept().map(|(_, a)| a), EAGAIN)
}

/// A raw TCP socket from netd: what `TcpStream::connect` does in steps, so a
/// non-blocking connect can be asked for.
fn raw_tcp_socket() -> Result<usize, String> {
    let server = ns::lookup(netd::NAME).context("lookup netd")?;
    let mut m = Message::new(netd::SOCKET);
    let req = SocketReq {
        kind: KIND_TCP,
        pid: process::getpid().unwrap_or(0) as u32,
    };
    m.data[..8].copy_from_slice(req.as_bytes());
    m.len = 8;
    server
        .call(&mut m, Timeout::ms(10_000))
        .context("SOCKET call")?;
    if m.label != 0 {
        return Err(format!("SOCKET: {}", Errno(m.label as isize)));
    }
    io::port_fd(Port::from_raw(m.handles[0])).context("port_fd")
}

fn nonblocking_connect() -> Check {
    let (l, port) = listener()?;
    let fd = raw_tcp_socket()?;
    let c = TcpStream::from_fd(fd);
    let mut m = Message::new(netd::SETOPT);
    let opt = SockOpt {
        opt: OPT_NONBLOCK,
        _pad: 0,
        value: 1,
    };
    m.data[..16].copy_from_slice(opt.as_bytes());
    m.len = 16;
    net::fd_call(fd, &m).context("SETOPT nonblock")?;
    let mut m = Message::new(netd::CONNECT);
    let to = libway::net::RawAddr {
        addr: [127, 0, 0, 1],
        port,
        _pad: 0,
    };
    m.data[..8].copy_from_slice(to.as_bytes());
    m.len = 8;
    expect_errno(net::fd_call(fd, &m).map(|(r, _)| r), EINPROGRESS).context("connect")?;
    let ev = c.poll(POLLOUT, 10_000_000_000).context("poll")?;
    if ev & POLLOUT == 0 {
        return Err(format!("poll gave {ev:#x}, expected POLLOUT"));
    }
    let _ = l.set_read_timeout(Some(IO_TIMEOUT_NS));
    let (_s, peer) = l.accept().context("accept")?;
    expect_eq(peer, c.local_addr().context("name")?).context("peer")
}

fn nonblocking_read() -> Check {
    let (c, s) = pair()?;
    c.set_nonblocking(true).context("nonblocking")?;
    let mut b = [0u8; 8];
    expect_errno(c.read(&mut b), EAGAIN).context("empty")?;
    s.write_all(b"x").context("write")?;
    let start = now_ns();
    loop {
        match c.read(&mut b) {
            Ok(1) if b[0] == b'x' => return Ok(()),
            Err(e) if e.code() == EAGAIN && now_ns() - start < IO_TIMEOUT_NS => {
                let _ = libway::time::sleep_ms(5);
            }
            other => return Err(format!("read: {other:?}")),
        }
    }
}

fn read_timeout() -> Check {
    let (c, _s) = pair()?;
    c.set_read_timeout(Some(300_000_000)).context("timeout")?;
    let start = now_ns();
    let mut b = [0u8; 8];
    let r = c.read(&mut b);
    let ms = (now_ns() - start) / 1_000_000;
    expect_errno(r, EAGAIN)?;
    if !(250..=5000).contains(&ms) {
        return Err(format!("a 300 ms timeout took {ms} ms"));
    }
    Ok(())
}

fn poll_readable() -> Check {
    let (c, s) = pair()?;
    expect_eq(c.poll(POLLIN, 0), Ok(0)).context("nothing yet")?;
    s.write_all(b"ping").context("write")?;
    let ev = c.poll(POLLIN, 10_000_000_000).context("poll")?;
    if ev & POLLIN == 0 {
        return Err(format!("poll gave {ev:#x}, expected POLLIN"));
    }
    Ok(())
}

fn refused() -> Check {
    // A port that was just in use and is not now.
    let (l, port) = listener()?;
    drop(l);
    expect_errno(TcpStream::connect(lo(port)).map(|s| s.fd()), ECONNREFUSED)
}

fn in_use() -> Check {
    let (_l, port) = listener()?;
    expect_errno(TcpListener::bind(lo(port)).map(|l| l.fd()), EADDRINUSE).context("tcp")?;
    let u = UdpSocket::bind(lo(0)).context("udp bind")?;
    let up = u.local_addr().context("udp name")?.port;
    expect_errno(UdpSocket::bind(lo(up)).map(|u| u.fd()), EADDRINUSE).context("udp")
}

fn write_after_close() -> Check {
    let (c, _s) = pair()?;
    let fd = c.into_fd();
    io::close(fd).context("close")?;
    expect_errno(io::write(fd, b"x"), EBADF)
}

/// The peer closed: writes fail with EPIPE (or ECONNRESET once the peer's RST came)
/// within a bounded number of tries, never hang.
fn write_after_peer_close() -> Check {
    let (c, s) = pair()?;
    drop(s);
    c.set_write_timeout(Some(IO_TIMEOUT_NS))
        .context("write timeout")?;
    let chunk = vec![0u8; 4096];
    for _ in 0..200 {
        match c.write(&chunk) {
            Ok(_) => {
                let _ = libway::time::sleep_ms(10);
            }
            Err(e) if e.code() == EPIPE || e.code() == ECONNRESET => return Ok(()),
            Err(e) => return Err(format!("write: {e}, expected EPIPE or ECONNRESET")),
        }
    }
    Err("200 writes to a closed peer all succeeded".into())
}

/// `cat` with the server side of a connection as its standard input and output: it
/// echoes what the client sends until the client's half-close, then exits, which the
/// client sees as the end.
fn cat_on_socket() -> Check {
    let (c, s) = pair()?;
    let pid = spawn("/bin/cat", &["cat"], Stdio::Fd(s.fd()), Stdio::Fd(s.fd()))?;
    drop(s);
    let msg = pattern(5000, 9);
    let result = (|| -> Check {
        c.write_all(&msg).context("send")?;
        c.shutdown(SHUT_WR).context("shutdown")?;
        let back = read_to_end(c.fd(), 1 << 20)?;
        if back != msg {
            return Err(format!(
                "{} bytes back, expected the same {}",
                back.len(),
                msg.len()
            ));
        }
        Ok(())
    })();
    let st = wait_for(pid, CHILD_TIMEOUT_MS);
    result?;
    libway::suite::expect_exit(st?, 0).context("cat")
}

/// `wc -c` reading a socket and writing a pipe.
fn socket_to_pipe() -> Check {
    let (c, s) = pair()?;
    let (r, w) = io::pipe(true).context("pipe")?;
    let pid = spawn("/bin/wc", &["wc", "-c"], Stdio::Fd(s.fd()), Stdio::Fd(w));
    let _ = io::close(w);
    drop(s);
    let pid = pid?;
    let result = (|| -> Check {
        c.write_all(&pattern(12345, 3)).context("send")?;
        c.shutdown(SHUT_WR).context("shutdown")?;
        let out = read_to_end(r, 1024)?;
        expect_eq(String::from_utf8_lossy(&out).trim(), "12345").context("wc -c")
    })();
    let _ = io::close(r);
    let st = wait_for(pid, CHILD_TIMEOUT_MS);
    result?;
    libway::suite::expect_exit(st?, 0).context("wc")
}

fn socket_dup2() -> Check {
    let (c, s) = pair()?;
    // A spare descriptor number well above the standard ones.
    let target = io::dup_at_least(c.fd(), 40, true).context("dup")?;
    io::dup2(s.fd(), target).context("dup2")?;
    // `target` is now the server side; the first copy of the client is still the client.
    expect_eq(io::write(target, b"hi"), Ok(2)).context("write through dup2")?;
    let mut b = [0u8; 2];
    let n = c.read(&mut b).context("read")?;
    expect_eq(&b[..n], &b"hi"[..]).context("data")?;
    io::close(target).context("close the copy")?;
    // The original server fd still works after its copy closed.
    expect_eq(s.write(b"!"), Ok(1)).context("original after the copy closed")?;
    Ok(())
}

fn not_a_socket() -> Check {
    let (r, w) = io::pipe(true).context("pipe")?;
    let m = Message::new(netd::GETNAME);
    let res = expect_errno(net::fd_call(r, &m).map(|(f, _)| f), ENOTSOCK).context("pipe");
    let _ = io::close(r);
    let _ = io::close(w);
    res?;
    let f = libway::fs::File::open("/bin/nettest").context("open")?;
    expect_errno(net::fd_call(f.fd(), &m).map(|(f, _)| f), ENOTSOCK).context("file")
}

/// A child opens UDP sockets until refused: the refusal is EMFILE at exactly
/// MAX_SOCKETS_PER_PID (the fd table, 256, is far from full). Exit code: sockets opened,
/// or 255 for another errno.
fn quota() -> Check {
    let st = libway::suite::in_child(|| {
        let mut open = Vec::new();
        loop {
            match UdpSocket::bind(lo(0)) {
                Ok(u) => open.push(u),
                Err(e) if e.code() == EMFILE => return open.len() as i32,
                Err(_) => return 255,
            }
            if open.len() > 250 {
                return 254;
            }
        }
    })?;
    libway::suite::expect_exit(st, MAX_SOCKETS_PER_PID as i32).map_err(|why| {
        format!("{why} (exit = sockets opened before EMFILE; 255 another errno, 254 no limit)")
    })
}

/// netd frees a socket when its last descriptor closes: the socket list shrinks back.
fn close_frees() -> Check {
    let before = net::sockets().context("sockets")?.len();
    let mut us = Vec::new();
    for _ in 0..5 {
        us.push(UdpSocket::bind(lo(0)).context("bind")?);
    }
    let during = net::sockets().context("sockets")?.len();
    drop(us);
    // CLOSE is one-way: give netd a moment to see it.
    let start = now_ns();
    loop {
        let after = net::sockets().context("sockets")?.len();
        if after <= before && during >= before + 5 {
            return Ok(());
        }
        if now_ns() - start > 5_000_000_000 {
            return Err(format!(
                "sockets: {before} before, {during} with 5 more, {after} after closing them"
            ));
        }
        let _ = libway::time::sleep_ms(20);
    }
}
