//! The host end of `cargo xtask bench`'s network figures (`wayos_abi::harness::
//! BENCH_NET_KEY`): a bulk TCP source, a bulk TCP sink and a UDP echo server on the
//! host's loopback, which the guest reaches at 10.0.2.2. The same servers serve the Linux
//! reference guest, so both systems move the same bytes through the same QEMU network.
//!
//! Owns: the three listeners and their threads, until dropped.
//! Never: bind anything but 127.0.0.1; hold a connection forever (every socket has a
//! timeout).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wayos_abi::harness::{BENCH_NET_BYTES, BENCH_NET_KEY};

const IO_TIMEOUT: Duration = Duration::from_secs(300);

/// The running servers.
pub struct Bulk {
    pub source: u16,
    pub sink: u16,
    pub echo: u16,
    stop: Arc<AtomicBool>,
}

impl Bulk {
    pub fn start() -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let source = listen(stop.clone(), |mut s| {
            let chunk = pattern(64 * 1024);
            let mut left = BENCH_NET_BYTES as usize;
            while left > 0 {
                let n = left.min(chunk.len());
                s.write_all(&chunk[..n])?;
                left -= n;
            }
            s.flush()
        })?;
        let sink = listen(stop.clone(), |mut s| {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total: u64 = 0;
            loop {
                match s.read(&mut buf)? {
                    0 => break,
                    n => total += n as u64,
                }
            }
            s.write_all(&total.to_le_bytes())?;
            s.flush()
        })?;
        let udp = UdpSocket::bind("127.0.0.1:0")?;
        udp.set_read_timeout(Some(Duration::from_millis(200)))?;
        let echo = udp.local_addr()?.port();
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while !stop2.load(Ordering::Relaxed) {
                if let Ok((n, from)) = udp.recv_from(&mut buf) {
                    let _ = udp.send_to(&buf[..n], from);
                }
            }
        });
        Ok(Self {
            source,
            sink,
            echo,
            stop,
        })
    }

    /// The kernel command-line word that tells the guest where they are.
    pub fn cmdline_word(&self) -> String {
        format!(
            "{BENCH_NET_KEY}={},{},{}",
            self.source, self.sink, self.echo
        )
    }
}

impl Drop for Bulk {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Bytes the source sends: a counting pattern, so a reordering bug would show in a dump.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A TCP listener on 127.0.0.1 that runs `serve` for each connection on its own thread.
fn listen(
    stop: Arc<AtomicBool>,
    serve: fn(TcpStream) -> std::io::Result<()>,
) -> std::io::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let port = l.local_addr()?.port();
    l.set_nonblocking(true)?;
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match l.accept() {
                Ok((s, _)) => {
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_read_timeout(Some(IO_TIMEOUT));
                    let _ = s.set_write_timeout(Some(IO_TIMEOUT));
                    let _ = s.set_nodelay(true);
                    std::thread::spawn(move || {
                        let _ = serve(s);
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_sink_and_echo() {
        let b = Bulk::start().unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", b.source)).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert_eq!(got.len() as u64, BENCH_NET_BYTES);
        assert_eq!(got[..300], pattern(300)[..]);

        let mut s = TcpStream::connect(("127.0.0.1", b.sink)).unwrap();
        s.write_all(&vec![7u8; 100_000]).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut ack = Vec::new();
        s.read_to_end(&mut ack).unwrap();
        assert_eq!(ack, 100_000u64.to_le_bytes());

        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        u.send_to(b"rtt", ("127.0.0.1", b.echo)).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(u.recv(&mut buf).unwrap(), 3);
        let word = b.cmdline_word();
        let value = word.split_once('=').unwrap().1;
        assert_eq!(
            wayos_abi::harness::parse_bench_net(value),
            Some((b.source, b.sink, b.echo))
        );
    }
}
