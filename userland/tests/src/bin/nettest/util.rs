//! What the groups share: test data and its digest, loopback addresses and connected
//! pairs, running programs with their standard streams on sockets, pipes or files, and
//! time.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::errno::EINTR;
use libway::io;
use libway::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use libway::process::{self, WaitStatus};
use libway::suite::{wait_for, Context, CHILD_TIMEOUT_MS};
use sha2::{Digest, Sha256};

/// Scratch directory.
pub const SCRATCH: &str = "/tmp/nt";
/// The environment programs run with.
pub const ENV: [&str; 2] = ["PATH=/bin", "HOME=/"];
/// How long a socket read in a check may wait before the check calls it a hang.
pub const IO_TIMEOUT_NS: u64 = 20_000_000_000;

pub const LOCALHOST: Ipv4Addr = Ipv4Addr([127, 0, 0, 1]);
pub const ANY: Ipv4Addr = Ipv4Addr([0, 0, 0, 0]);

/// `127.0.0.1:port`.
pub fn lo(port: u16) -> SocketAddr {
    SocketAddr {
        ip: LOCALHOST,
        port,
    }
}

/// `len` bytes of a fixed xorshift pattern chosen by `seed`.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        for b in x.to_le_bytes() {
            if out.len() < len {
                out.push(b);
            }
        }
    }
    out
}

/// SHA-256 of `data`, as lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub use coreutils::sum::hex;

/// Nanoseconds since boot.
pub fn now_ns() -> u64 {
    libway::time::monotonic_ns().unwrap_or(0)
}

/// A listener on `127.0.0.1` at an ephemeral port, and that port.
pub fn listener() -> Result<(TcpListener, u16), String> {
    let l = TcpListener::bind(lo(0)).context("bind 127.0.0.1:0")?;
    let port = l.local_addr().context("local_addr")?.port;
    if port == 0 {
        return Err("bound to port 0".into());
    }
    Ok((l, port))
}

/// A connected TCP pair over loopback: (client, server side), both with
/// [`IO_TIMEOUT_NS`] read timeouts.
pub fn pair() -> Result<(TcpStream, TcpStream), String> {
    let (l, port) = listener()?;
    let _ = l.set_read_timeout(Some(IO_TIMEOUT_NS));
    let c = TcpStream::connect(lo(port)).context("connect")?;
    let (s, _) = l.accept().context("accept")?;
    c.set_read_timeout(Some(IO_TIMEOUT_NS))
        .context("client read timeout")?;
    s.set_read_timeout(Some(IO_TIMEOUT_NS))
        .context("server read timeout")?;
    Ok((c, s))
}

/// Reads `fd` until its end (or `max` bytes), retrying `EINTR`.
pub fn read_to_end(fd: usize, max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match io::read(fd, &mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > max {
                    return Err(format!("more than {max} bytes"));
                }
            }
            Err(e) if e.code() == EINTR => {}
            Err(e) => return Err(format!("read after {} bytes: {e}", out.len())),
        }
    }
}

/// Where a child's standard stream comes from or goes.
#[derive(Clone, Copy)]
pub enum Stdio {
    /// As the suite's.
    Inherit,
    /// This descriptor.
    Fd(usize),
}

/// Starts `path` with `argv`, its standard input and output as given (standard error
/// stays the suite's).
pub fn spawn(path: &str, argv: &[&str], stdin: Stdio, stdout: Stdio) -> Result<usize, String> {
    match process::fork() {
        Ok(0) => {
            if let Stdio::Fd(fd) = stdin {
                let _ = io::dup2(fd, io::STDIN);
            }
            if let Stdio::Fd(fd) = stdout {
                let _ = io::dup2(fd, io::STDOUT);
            }
            let e = process::execve(path, argv, &ENV);
            libway::eprintln!("nettest: execve {path}: {e}");
            process::exit(126);
        }
        Ok(pid) => Ok(pid),
        Err(e) => Err(format!("fork: {e}")),
    }
}

/// Runs `path` with standard output on a pipe; returns the bytes and the status.
pub fn capture(path: &str, argv: &[&str]) -> Result<(Vec<u8>, WaitStatus), String> {
    let (r, w) = io::pipe(true).context("pipe")?;
    let pid = spawn(path, argv, Stdio::Inherit, Stdio::Fd(w));
    let _ = io::close(w);
    let pid = match pid {
        Ok(p) => p,
        Err(e) => {
            let _ = io::close(r);
            return Err(e);
        }
    };
    let out = read_to_end(r, 64 << 20);
    let _ = io::close(r);
    let status = wait_for(pid, CHILD_TIMEOUT_MS)?;
    Ok((out?, status))
}

/// Runs `waysh -c script`, standard output and error captured as text.
pub fn sh(script: &str) -> Result<libway::suite::Captured, String> {
    libway::suite::run_captured("/bin/waysh", &["waysh", "-c", script], &ENV, "nettest")
}

/// Kills and reaps a helper process.
pub fn stop(pid: usize) {
    let _ = process::kill(pid, libway::abi::signal::SIGKILL);
    let _ = wait_for(pid, CHILD_TIMEOUT_MS);
}

/// Waits until something accepts TCP connections at `addr` (a server just started as
/// process `pid`), for up to `timeout_ms`; gives up at once if `pid` ended. On failure
/// `pid` is stopped and reaped.
pub fn wait_listening(addr: SocketAddr, timeout_ms: u64, pid: usize) -> Result<(), String> {
    let start = now_ns();
    loop {
        match TcpStream::connect_timeout(addr, 1_000_000_000) {
            Ok(_) => return Ok(()),
            Err(e) => {
                if let Ok((got, st)) = process::waitpid(pid as isize, libway::abi::wait::WNOHANG) {
                    if got == pid {
                        return Err(format!("the server {st} before listening at {addr} ({e})"));
                    }
                }
                if now_ns() - start > timeout_ms * 1_000_000 {
                    stop(pid);
                    return Err(format!(
                        "nothing listens at {addr} after {timeout_ms} ms: {e}"
                    ));
                }
                let _ = libway::time::sleep_ms(50);
            }
        }
    }
}

/// Sends a whole HTTP request over a new connection and returns the whole response.
pub fn http_raw(addr: SocketAddr, request: &[u8]) -> Result<Vec<u8>, String> {
    let s = TcpStream::connect(addr).context("connect")?;
    s.set_read_timeout(Some(IO_TIMEOUT_NS)).context("timeout")?;
    s.write_all(request).context("send")?;
    read_to_end(s.fd(), 16 << 20)
}

/// The status code of a raw HTTP response.
pub fn status_of(resp: &[u8]) -> Option<u16> {
    let line = resp.split(|&b| b == b'\n').next()?;
    let code = line.get(9..12)?;
    core::str::from_utf8(code).ok()?.parse().ok()
}
