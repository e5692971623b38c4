//! `nc [-u] [-l] [-p PORT] [-w SECS] [--echo] [HOST] PORT`: netcat over netd.
//!
//! - TCP client (`nc HOST PORT`): standard input goes to the socket (its end shuts the
//!   sending half), the socket to standard output; ends when the peer closes.
//! - TCP listener (`nc -l [-p] PORT`): accepts one connection, then the same; with
//!   `--echo` it sends back what it receives instead (until the peer closes).
//! - UDP (`-u`): each read of standard input is one datagram to the peer, each datagram
//!   received is written out. A listener's first sender becomes its peer; with `--echo`
//!   a UDP listener answers every datagram to its sender and runs until killed (or idle
//!   for SECS). A UDP client ends SECS (default 2) after standard input ends.
//!
//! `-w SECS` bounds the connect and any idle wait for data. A thread copies standard
//! input; the main thread copies the socket. Exit status 0, or 1 with the errno named.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::sync::Arc;
    use alloc::vec;
    use core::sync::atomic::{AtomicBool, Ordering};

    use coreutils::args::Spec;
    use coreutils::err;
    use coreutils::sys;
    use libway::abi::errno::{EAGAIN, EINTR, ETIMEDOUT};
    use libway::abi::netd::{DGRAM_MAX, SHUT_WR};
    use libway::abi::signal::SIGPIPE;
    use libway::io::{self, STDIN, STDOUT};
    use libway::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
    use libway::{Args, Errno};
    use netcmds::num::parse_secs;
    use netcmds::sys::{errtext, resolve_errtext, resolve_host};
    use netcmds::url::parse_port;

    const HELP: &str = "[-u] [-l] [-p PORT] [-w SECS] [--echo] [HOST] PORT\nConnect to (or with -l listen on) a TCP or UDP port; copy standard input to it and it to standard output.\n\n  -l        listen for one connection (UDP: take the first sender as the peer)\n  -p PORT   the local port (for -l)\n  -u        UDP instead of TCP\n  -w SECS   give up a connect or an idle wait after SECS\n  --echo    with -l: send back what arrives instead of printing it\n";
    const SPEC: Spec = Spec {
        short: "ulp:w:",
        long: &[("echo", 'e', false)],
        permute: true,
        numbers: false,
    };
    const BUF: usize = 16 * 1024;

    fn is_retry(e: Errno) -> bool {
        e.code() == EINTR
    }

    fn is_idle(e: Errno) -> bool {
        e.code() == EAGAIN || e.code() == ETIMEDOUT
    }

    /// Copies standard input to the TCP socket `fd` on a thread; shuts the sending half
    /// at its end.
    fn stdin_to_tcp(fd: usize) {
        let work = move || {
            let s = TcpStream::from_fd(fd);
            let mut buf = vec![0u8; BUF];
            loop {
                match io::read(STDIN, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if is_retry(e) => {}
                    Err(_) => break,
                }
            }
            let _ = s.shutdown(SHUT_WR);
            // The fd belongs to the main thread's stream.
            let _ = s.into_fd();
        };
        if let Err(e) = libway::thread::spawn(work) {
            err!("thread: {}", errtext(e));
        }
    }

    /// Copies the TCP socket to standard output (or back to itself with `echo`) until
    /// the peer closes.
    fn tcp_pump(s: TcpStream, echo: bool, idle: Option<u64>) -> i32 {
        let _ = s.set_read_timeout(idle);
        if !echo {
            stdin_to_tcp(s.fd());
        }
        let mut buf = vec![0u8; BUF];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return 0,
                Ok(n) => {
                    let r = if echo {
                        s.write_all(&buf[..n])
                    } else {
                        io::write_all(STDOUT, &buf[..n])
                    };
                    if let Err(e) = r {
                        err!("write: {}", errtext(e));
                        return 1;
                    }
                }
                Err(e) if is_retry(e) => {}
                Err(e) if is_idle(e) => return 0,
                Err(e) => {
                    err!("read: {}", errtext(e));
                    return 1;
                }
            }
        }
    }

    /// Copies standard input to the connected UDP socket on a thread, a datagram per
    /// read (through `send`, which carries a datagram of any size up to `DGRAM_MAX`
    /// whole); records when it ended in `done`.
    fn stdin_to_udp(sock: Arc<UdpSocket>, done: Arc<AtomicBool>) {
        let work = move || {
            let mut buf = vec![0u8; DGRAM_MAX];
            loop {
                match io::read(STDIN, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if sock.send(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if is_retry(e) => {}
                    Err(_) => break,
                }
            }
            done.store(true, Ordering::SeqCst);
        };
        if let Err(e) = libway::thread::spawn(work) {
            err!("thread: {}", errtext(e));
        }
    }

    fn udp(local: SocketAddr, peer: Option<SocketAddr>, echo: bool, idle: Option<u64>) -> i32 {
        let sock = match UdpSocket::bind(local) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                err!("bind {local}: {}", errtext(e));
                return 1;
            }
        };
        let done = Arc::new(AtomicBool::new(false));
        let mut connected = false;
        if let Some(p) = peer {
            if let Err(e) = sock.connect(p) {
                err!("connect {p}: {}", errtext(e));
                return 1;
            }
            connected = true;
            stdin_to_udp(sock.clone(), done.clone());
        }
        // A client lingers for answers after its input ends.
        let slice = 200_000_000u64;
        let linger = idle.unwrap_or(2_000_000_000);
        let _ = sock.set_read_timeout(Some(slice));
        let mut quiet_ns = 0u64;
        let mut buf = vec![0u8; DGRAM_MAX];
        loop {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    quiet_ns = 0;
                    if echo {
                        if let Err(e) = sock.send_to(&buf[..n], from) {
                            err!("send to {from}: {}", errtext(e));
                        }
                        continue;
                    }
                    if !connected {
                        if let Err(e) = sock.connect(from) {
                            err!("connect {from}: {}", errtext(e));
                            return 1;
                        }
                        connected = true;
                        stdin_to_udp(sock.clone(), done.clone());
                    }
                    if let Err(e) = io::write_all(STDOUT, &buf[..n]) {
                        err!("write: {}", errtext(e));
                        return 1;
                    }
                }
                Err(e) if is_retry(e) => {}
                Err(e) if is_idle(e) => {
                    quiet_ns += slice;
                    let input_over = done.load(Ordering::SeqCst);
                    if (input_over && quiet_ns >= linger) || idle.is_some_and(|w| quiet_ns >= w) {
                        return 0;
                    }
                }
                Err(e) => {
                    err!("receive: {}", errtext(e));
                    return 1;
                }
            }
        }
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let (is_udp, listen, echo) = (p.has('u'), p.has('l'), p.has('e'));
        let idle = match p.last('w').map(parse_secs) {
            None => None,
            Some(Some(ns)) if ns > 0 => Some(ns),
            Some(_) => return sys::usage_error(format_args!("invalid -w value"), 1),
        };
        let mut local_port = match p.last('p').map(parse_port) {
            None => 0,
            Some(Some(n)) => n,
            Some(None) => return sys::usage_error(format_args!("invalid port"), 1),
        };
        if echo && !listen {
            return sys::usage_error(format_args!("--echo needs -l"), 1);
        }
        sys::ignore_signal(SIGPIPE);
        let any = |port| SocketAddr {
            ip: Ipv4Addr([0; 4]),
            port,
        };
        if listen {
            match p.operands.as_slice() {
                [] => {}
                [port] => match parse_port(port) {
                    Some(n) => local_port = n,
                    None => return sys::usage_error(format_args!("invalid port '{port}'"), 1),
                },
                _ => return sys::usage_error(format_args!("-l takes only a port"), 1),
            }
            if local_port == 0 {
                return sys::usage_error(format_args!("-l needs a port"), 1);
            }
            if is_udp {
                return udp(any(local_port), None, echo, idle);
            }
            let l = match TcpListener::bind_backlog(any(local_port), 1) {
                Ok(l) => l,
                Err(e) => {
                    err!("port {local_port}: {}", errtext(e));
                    return 1;
                }
            };
            let _ = l.set_read_timeout(idle);
            return match l.accept() {
                Ok((s, _peer)) => {
                    drop(l);
                    tcp_pump(s, echo, idle)
                }
                Err(e) => {
                    err!("accept: {}", errtext(e));
                    1
                }
            };
        }
        let [host, port] = p.operands.as_slice() else {
            return sys::usage_error(format_args!("HOST and PORT expected"), 1);
        };
        let Some(port) = parse_port(port) else {
            return sys::usage_error(format_args!("invalid port '{port}'"), 1);
        };
        let ip = match resolve_host(host) {
            Ok(ip) => ip,
            Err(e) => {
                err!("{host}: {}", resolve_errtext(e));
                return 1;
            }
        };
        let peer = SocketAddr { ip, port };
        if is_udp {
            return udp(any(local_port), Some(peer), false, idle);
        }
        let conn = match idle {
            Some(ns) => TcpStream::connect_timeout(peer, ns),
            None => TcpStream::connect(peer),
        };
        match conn {
            Ok(s) => tcp_pump(s, false, idle),
            Err(e) => {
                err!("connect to {peer}: {}", errtext(e));
                1
            }
        }
    }
}
