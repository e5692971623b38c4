//! The host side of the guest's network checks: what a suite gets when it prints
//! `<suite>: host <verb> [args...]` (`wayos_abi::harness::HOST_WORD` and the `HOST_*`
//! verbs, whose docs are the spec).
//!
//! Owns, for one test boot ([`HostNet`]): the HTTP server and UDP echo server on the
//! host's loopback (reached from the guest as 10.0.2.2), the host ports forwarded to the
//! guest's `GUEST_HTTP_PORT` (TCP) and `GUEST_UDP_PORT` (UDP), the relay between the
//! guest's NIC and QEMU's user network that lets it write raw Ethernet frames onto the
//! guest's wire only (see [`crate::qemu::Relay`]), and turning each request into one answer line,
//! `ok [words...]` or `err <message>`, that the harness types on the serial console.
//!
//! Never: bind anything but 127.0.0.1; let a hostile frame reach the user network (slirp
//! would act on it on the host); block the harness forever (every action has a
//! deadline); answer with more than one line.

pub mod bulk;
mod frames;
pub mod http;

use std::net::{TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wayos_abi::harness::{
    GUEST_HTTP_PORT, GUEST_UDP_PORT, HOST_CONNECT_FLOOD, HOST_HTTP_GET, HOST_HTTP_INFO,
    HOST_INJECT, HOST_UDP_ECHO_INFO, HOST_UDP_SEND, HOST_WORD, INJECT_KINDS,
};

use crate::qemu::{Forward, Net, Relay};
use crate::Result;

/// How long one host HTTP fetch through the forward may take (TCG guests are slow; eight
/// at once share one emulated CPU or two).
const HTTP_GET_TIMEOUT: Duration = Duration::from_secs(180);
/// How long `udp-send` waits for each datagram's echo.
const UDP_ECHO_WAIT: Duration = Duration::from_secs(3);
/// The whole `udp-send` or `tcp-connect-flood` run.
const ACTION_DEADLINE: Duration = Duration::from_secs(120);
/// Upper bounds on what a suite may ask for, so a typo cannot keep the harness busy.
const MAX_PARALLEL: usize = 64;
const MAX_COUNT: usize = 100_000;
/// The gap between two connects of `tcp-connect-flood`.
const FLOOD_PACE: Duration = Duration::from_millis(5);
/// Frames sent before a short pause, so a flood arrives faster than the guest takes it
/// but not all inside one QEMU main-loop turn.
const INJECT_BURST: usize = 32;

/// A suite's request: `<suite>: host <verb> [args...]`. Returns the suite, verb and args.
pub fn parse_request(line: &str) -> Option<(String, String, Vec<String>)> {
    let (suite, rest) = line.trim().split_once(": ")?;
    if suite.is_empty() || suite.contains(' ') {
        return None;
    }
    let mut words = rest.split_whitespace();
    if words.next()? != HOST_WORD {
        return None;
    }
    let verb = words.next()?.to_string();
    Some((suite.to_string(), verb, words.map(str::to_string).collect()))
}

/// Everything the host runs for one boot's network checks.
pub struct HostNet {
    http: http::Server,
    /// The host ports QEMU forwards to the guest's HTTP and UDP ports.
    http_fwd: u16,
    udp_fwd: u16,
    udp_echo_port: u16,
    /// The relay's socket on the NIC's side (hostile frames go out of it too) and the
    /// QEMU port it sends to; the same pair on the user network's side.
    wire: UdpSocket,
    wire_qemu: u16,
    uplink: UdpSocket,
    uplink_qemu: u16,
    /// Frames the relay carried from the guest to the user network.
    from_guest: Arc<AtomicUsize>,
    /// Host requests answered, any verb.
    requests: AtomicUsize,
    stop: Arc<AtomicBool>,
}

impl HostNet {
    /// Starts the servers and picks the ports; [`HostNet::net`] is what QEMU must get.
    pub fn start() -> Result<Self> {
        fn e(what: &'static str) -> impl Fn(std::io::Error) -> String {
            move |err| format!("network checks: {what}: {err}")
        }
        let http = http::Server::start().map_err(e("HTTP server on 127.0.0.1"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let echo = UdpSocket::bind("127.0.0.1:0").map_err(e("UDP echo socket"))?;
        let udp_echo_port = echo.local_addr().map_err(e("UDP echo socket"))?.port();
        echo.set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(e("UDP echo socket"))?;
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while !stop2.load(Ordering::Relaxed) {
                if let Ok((n, from)) = echo.recv_from(&mut buf) {
                    let _ = echo.send_to(&buf[..n], from);
                }
            }
        });
        let wire = UdpSocket::bind("127.0.0.1:0").map_err(e("relay socket"))?;
        let uplink = UdpSocket::bind("127.0.0.1:0").map_err(e("relay socket"))?;
        let (wire_qemu, uplink_qemu) = (free_udp_port()?, free_udp_port()?);
        let from_guest = Arc::new(AtomicUsize::new(0));
        relay(&wire, &uplink, uplink_qemu, Some(from_guest.clone()), &stop)
            .map_err(e("relay socket"))?;
        relay(&uplink, &wire, wire_qemu, None, &stop).map_err(e("relay socket"))?;
        Ok(Self {
            http,
            http_fwd: free_tcp_port()?,
            udp_fwd: free_udp_port()?,
            udp_echo_port,
            wire,
            wire_qemu,
            uplink,
            uplink_qemu,
            from_guest,
            requests: AtomicUsize::new(0),
            stop,
        })
    }

    /// The guest's network for a test boot: the forwards the checks use, `extra` (the
    /// user's `--forward`s), and the relay.
    pub fn net(&self, extra: &[Forward]) -> Result<Net> {
        let port = |s: &UdpSocket| {
            s.local_addr()
                .map(|a| a.port())
                .map_err(|e| format!("relay socket: {e}"))
        };
        let mut forward = vec![
            Forward::tcp(self.http_fwd, GUEST_HTTP_PORT),
            Forward::udp(self.udp_fwd, GUEST_UDP_PORT),
        ];
        forward.extend_from_slice(extra);
        Ok(Net {
            forward,
            relay: Some(Relay {
                nic: (port(&self.wire)?, self.wire_qemu),
                user: (port(&self.uplink)?, self.uplink_qemu),
            }),
        })
    }

    /// Frames the guest has sent so far.
    pub fn frames_from_guest(&self) -> usize {
        self.from_guest.load(Ordering::Relaxed)
    }

    /// Host requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// HTTP requests the host's server answered so far.
    pub fn http_served(&self) -> usize {
        self.http.served.load(Ordering::Relaxed)
    }

    /// Does what `verb args` asks and returns the answer line (without its newline).
    pub fn answer(&self, verb: &str, args: &[String]) -> String {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match self.act(verb, args) {
            Ok(words) if words.is_empty() => "ok".into(),
            Ok(words) => format!("ok {words}"),
            Err(why) => format!("err {}", one_line(&why)),
        }
    }

    fn act(&self, verb: &str, args: &[String]) -> Result<String> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match (verb, args.as_slice()) {
            (HOST_HTTP_INFO, []) => Ok(format!(
                "{} {} {}",
                self.http.port,
                http::BLOB_LEN,
                self.http.sha256
            )),
            (HOST_HTTP_GET, [path, parallel, sha]) => {
                let parallel = count(parallel, MAX_PARALLEL)?;
                self.http_get(path, parallel, sha)
            }
            (HOST_UDP_ECHO_INFO, []) => Ok(self.udp_echo_port.to_string()),
            (HOST_UDP_SEND, [n]) => self.udp_send(count(n, MAX_COUNT)?),
            (HOST_INJECT, [kind, n]) => self.inject(kind, count(n, MAX_COUNT)?),
            (HOST_CONNECT_FLOOD, [n]) => self.connect_flood(count(n, MAX_COUNT)?),
            (
                HOST_HTTP_INFO | HOST_HTTP_GET | HOST_UDP_ECHO_INFO | HOST_UDP_SEND | HOST_INJECT
                | HOST_CONNECT_FLOOD,
                _,
            ) => Err(format!("wrong arguments for {verb}: {}", args.join(" "))),
            _ => Err(format!("unknown verb {verb}")),
        }
    }

    /// `http-get <path> <parallel> <sha256>`: the host's client through the forward.
    fn http_get(&self, path: &str, parallel: usize, sha: &str) -> Result<String> {
        let path = path.strip_prefix('/').unwrap_or(path);
        let url = format!("http://127.0.0.1:{}/{path}", self.http_fwd);
        let results = http::get_parallel(&url, parallel, HTTP_GET_TIMEOUT);
        let want = sha.to_ascii_lowercase();
        let mut size = None;
        for (i, r) in results.into_iter().enumerate() {
            let (len, got) = r.map_err(|e| format!("request {}/{parallel}: {e}", i + 1))?;
            if got != want {
                return Err(format!(
                    "request {}/{parallel}: body of {len} bytes has SHA-256 {got}, not {want}",
                    i + 1
                ));
            }
            if size.is_some_and(|s| s != len) {
                return Err(format!("bodies of different sizes ({len} and {size:?})"));
            }
            size = Some(len);
        }
        Ok(format!("{parallel} {}", size.unwrap_or(0)))
    }

    /// `udp-send <count>`: one datagram at a time to the forwarded UDP port, each waited
    /// for; returns how many came back intact.
    fn udp_send(&self, n: usize) -> Result<String> {
        let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("UDP socket: {e}"))?;
        s.connect(("127.0.0.1", self.udp_fwd))
            .map_err(|e| format!("UDP connect: {e}"))?;
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| format!("UDP socket: {e}"))?;
        let started = Instant::now();
        let mut echoed = vec![false; n];
        let mut buf = [0u8; 2048];
        for i in 0..n {
            if started.elapsed() > ACTION_DEADLINE {
                break;
            }
            let msg = udp_payload(i);
            // A refused send (ICMP unreachable from an earlier datagram) is not fatal.
            let _ = s.send(&msg);
            let sent = Instant::now();
            while !echoed[i] && sent.elapsed() < UDP_ECHO_WAIT {
                if let Ok(len) = s.recv(&mut buf) {
                    if let Some(j) = echo_index(&buf[..len]) {
                        if j < n {
                            echoed[j] = true;
                        }
                    }
                }
            }
        }
        Ok(echoed.iter().filter(|e| **e).count().to_string())
    }

    /// `inject <kind> <count>`: hostile frames onto the guest's segment.
    fn inject(&self, kind: &str, n: usize) -> Result<String> {
        let frames = frames::build(kind, n)
            .ok_or_else(|| format!("unknown kind {kind} (one of {})", INJECT_KINDS.join(", ")))?;
        let to = ("127.0.0.1", self.wire_qemu);
        let mut sent = 0;
        for (i, f) in frames.iter().enumerate() {
            match self.wire.send_to(f, to) {
                Ok(_) => sent += 1,
                Err(e) => return Err(format!("sending frame {i}: {e}")),
            }
            if (i + 1) % INJECT_BURST == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Ok(sent.to_string())
    }

    /// `tcp-connect-flood <count>`: connections to the forwarded HTTP port, all opened,
    /// then all dropped without a byte sent. slirp listens on the forwarded port with a
    /// backlog of one and accepts once per turn of QEMU's main loop: back-to-back connects
    /// overflow it and the host's SYN is retried a second later (100 connects took 41 s
    /// that way), so they are paced [`FLOOD_PACE`] apart (30 in 0.2 s, none retried).
    fn connect_flood(&self, n: usize) -> Result<String> {
        let started = Instant::now();
        let mut open = Vec::with_capacity(n);
        for _ in 0..n {
            if started.elapsed() > ACTION_DEADLINE {
                break;
            }
            if let Ok(c) = TcpStream::connect_timeout(
                &([127, 0, 0, 1], self.http_fwd).into(),
                Duration::from_secs(5),
            ) {
                open.push(c);
            }
            std::thread::sleep(FLOOD_PACE);
        }
        let made = open.len();
        // Give slirp a moment to start the guest-side handshakes before the closes.
        std::thread::sleep(Duration::from_millis(200));
        drop(open);
        if made == 0 && n > 0 {
            return Err(format!(
                "no connection to 127.0.0.1:{} succeeded",
                self.http_fwd
            ));
        }
        Ok(made.to_string())
    }
}

impl Drop for HostNet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copies every frame arriving on `from` to QEMU's `to_port` through `out` (the other
/// side's socket), counting them in `count` if given, until `stop`.
fn relay(
    from: &UdpSocket,
    out: &UdpSocket,
    to_port: u16,
    count: Option<Arc<AtomicUsize>>,
    stop: &Arc<AtomicBool>,
) -> std::io::Result<()> {
    let (from, out, stop) = (from.try_clone()?, out.try_clone()?, stop.clone());
    from.set_read_timeout(Some(Duration::from_millis(200)))?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            if let Ok(n) = from.recv(&mut buf) {
                if let Some(c) = &count {
                    c.fetch_add(1, Ordering::Relaxed);
                }
                let _ = out.send_to(&buf[..n], ("127.0.0.1", to_port));
            }
        }
    });
    Ok(())
}

/// The answer to every request when the boot has no network (`--net none`).
pub fn answer_without_network(verb: &str) -> String {
    format!("err no network on this boot (--net none): cannot do {verb}")
}

fn count(s: &str, max: usize) -> Result<usize> {
    match s.parse::<usize>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!("'{s}' is not a count from 0 to {max}")),
    }
}

/// The `i`th datagram of `udp-send`, and back.
fn udp_payload(i: usize) -> Vec<u8> {
    format!("wayos-udp-send {i:06} {}", "x".repeat(i % 200)).into_bytes()
}

fn echo_index(d: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(d).ok()?;
    let rest = text.strip_prefix("wayos-udp-send ")?;
    let i: usize = rest.get(..6)?.parse().ok()?;
    (udp_payload(i) == d).then_some(i)
}

/// `why` made safe to type as one console line.
fn one_line(why: &str) -> String {
    let s: String = why
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = s.trim();
    // The console's line limit is far larger; keep answers readable in the log.
    s.chars().take(400).collect()
}

fn free_tcp_port() -> Result<u16> {
    crate::qemu::free_port()
}

fn free_udp_port() -> Result<u16> {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free UDP port: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(
            parse_request("nettest: host http-get /blob.bin 8 abcd"),
            Some((
                "nettest".into(),
                "http-get".into(),
                vec!["/blob.bin".into(), "8".into(), "abcd".into()]
            ))
        );
        assert_eq!(
            parse_request("nettest: host http-info"),
            Some(("nettest".into(), "http-info".into(), vec![]))
        );
        assert!(parse_request("nettest: host").is_none());
        assert!(parse_request("nettest: type 61").is_none());
        assert!(parse_request("  ok   host thing").is_none());
        assert!(parse_request("two words: host http-info").is_none());
        assert!(parse_request("nettest: hosting").is_none());
    }

    #[test]
    fn answers_are_one_line() {
        assert_eq!(one_line("a\nb\r\tc"), "a b  c");
        assert_eq!(one_line(&"x".repeat(1000)).len(), 400);
        assert!(answer_without_network("inject").starts_with("err "));
    }

    #[test]
    fn counts() {
        assert_eq!(count("8", 64), Ok(8));
        assert_eq!(count("0", 64), Ok(0));
        assert!(count("65", 64).is_err());
        assert!(count("-1", 64).is_err());
        assert!(count("x", 64).is_err());
    }

    #[test]
    fn udp_payloads_round_trip() {
        for i in [0, 1, 199, 200, 999_999] {
            assert_eq!(echo_index(&udp_payload(i)), Some(i));
        }
        let mut bad = udp_payload(5);
        bad.pop();
        assert_eq!(echo_index(&bad), None);
        assert_eq!(echo_index(b"wayos-udp-send"), None);
    }

    /// The verbs that talk to the guest, with stand-ins for it bound on the ports QEMU
    /// would forward: an HTTP server with the blob, a UDP echo.
    #[test]
    fn guest_facing_verbs_with_stand_ins() {
        let h = HostNet::start().unwrap();
        let l = std::net::TcpListener::bind(("127.0.0.1", h.http_fwd)).unwrap();
        std::thread::spawn(move || {
            let blob = http::blob();
            for s in l.incoming().flatten() {
                let blob = blob.clone();
                std::thread::spawn(move || http::serve(s, &blob));
            }
        });
        let sha = http::sha256_hex(&http::blob());
        if http::client() != http::Client::None {
            assert_eq!(
                h.answer(
                    HOST_HTTP_GET,
                    &["/blob.bin".into(), "8".into(), sha.clone()]
                ),
                format!("ok 8 {}", http::BLOB_LEN)
            );
            let wrong = "0".repeat(64);
            let a = h.answer(HOST_HTTP_GET, &["blob.bin".into(), "2".into(), wrong]);
            assert!(
                a.starts_with("err request 1/2: body of 307217 bytes"),
                "{a}"
            );
            let a = h.answer(HOST_HTTP_GET, &["/missing".into(), "1".into(), sha]);
            assert!(a.starts_with("err request 1/1: "), "{a}");
        }
        assert_eq!(h.answer(HOST_CONNECT_FLOOD, &["20".into()]), "ok 20");

        let echo = UdpSocket::bind(("127.0.0.1", h.udp_fwd)).unwrap();
        let echo2 = echo.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            // Echo all but the third datagram.
            let mut n = 0;
            while let Ok((len, from)) = echo2.recv_from(&mut buf) {
                n += 1;
                if n != 3 {
                    let _ = echo2.send_to(&buf[..len], from);
                }
            }
        });
        assert_eq!(h.answer(HOST_UDP_SEND, &["10".into()]), "ok 9");
        drop(echo);
    }

    /// The verbs that need no guest, against the real servers.
    #[test]
    fn host_side_answers() {
        let h = HostNet::start().unwrap();
        let info = h.answer(HOST_HTTP_INFO, &[]);
        let words: Vec<&str> = info.split(' ').collect();
        assert_eq!(words.len(), 4, "{info}");
        assert_eq!(words[0], "ok");
        assert_eq!(words[2], http::BLOB_LEN.to_string());
        assert_eq!(words[3], http::sha256_hex(&http::blob()));
        // The UDP echo server echoes.
        let port: u16 = h.answer(HOST_UDP_ECHO_INFO, &[])[3..].parse().unwrap();
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.send_to(b"ping", ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(s.recv(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"ping");
        // Injection sends every kind (nobody listens: UDP does not care).
        for kind in INJECT_KINDS {
            assert_eq!(
                h.answer(HOST_INJECT, &[kind.to_string(), "3".into()]),
                "ok 3"
            );
        }
        assert!(h
            .answer(HOST_INJECT, &["bogus".into(), "3".into()])
            .starts_with("err unknown kind"));
        assert!(h.answer("nonsense", &[]).starts_with("err unknown verb"));
        assert!(h
            .answer(HOST_HTTP_GET, &["/blob.bin".into()])
            .starts_with("err wrong arguments"));
        assert!(h
            .answer(HOST_UDP_SEND, &["lots".into()])
            .starts_with("err "));
        let net = h.net(&[Forward::tcp(2222, 22)]).unwrap();
        assert_eq!(net.forward.len(), 3);
        assert!(net.relay.is_some());
    }

    /// The relay with stand-ins for QEMU's two socket netdevs: frames cross both ways,
    /// and injected frames reach the NIC's side only.
    #[test]
    fn relay_carries_frames_and_keeps_injections_from_the_user_network() {
        let h = HostNet::start().unwrap();
        let r = h.net(&[]).unwrap().relay.unwrap();
        let nic = UdpSocket::bind(("127.0.0.1", r.nic.1)).unwrap();
        let user = UdpSocket::bind(("127.0.0.1", r.user.1)).unwrap();
        for s in [&nic, &user] {
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
        }
        let mut buf = [0u8; 2048];
        nic.send_to(b"from the guest", ("127.0.0.1", r.nic.0))
            .unwrap();
        let n = user.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"from the guest");
        user.send_to(b"from slirp", ("127.0.0.1", r.user.0))
            .unwrap();
        let n = nic.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"from slirp");
        assert_eq!(h.frames_from_guest(), 1);
        assert_eq!(
            h.answer(HOST_INJECT, &["syn-flood".into(), "4".into()]),
            "ok 4"
        );
        for _ in 0..4 {
            let n = nic.recv(&mut buf).unwrap();
            assert!(n > 14, "{n} bytes");
            assert_eq!(buf[..6], crate::qemu::GUEST_MAC);
        }
        assert!(
            user.recv(&mut buf).is_err(),
            "a hostile frame reached slirp"
        );
    }
}
