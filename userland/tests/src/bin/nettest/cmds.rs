//! The network commands as a person runs them, over loopback: `httpd` serving a scratch
//! tree to `fetch` (to a file, to a pipe, 404, redirect, listing), raw requests httpd
//! must refuse, clients leaving mid-request, parallel clients; `nc` as TCP and UDP echo
//! servers and client; `ping 127.0.0.1`; `netstat`, `ifinfo`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::netd::DGRAM_MAX;
use libway::io;
use libway::net::{TcpStream, UdpSocket};
use libway::suite::{expect_eq, expect_exit, wait_for, Check, Context, Suite, CHILD_TIMEOUT_MS};

use crate::util::{
    capture, http_raw, lo, pattern, read_to_end, sh, sha256_hex, spawn, status_of, stop,
    wait_listening, Stdio, IO_TIMEOUT_NS, SCRATCH,
};

/// The port the suite's `httpd` listens on over loopback (not the harness's 8080, which
/// the `host` group uses).
const HTTPD_PORT: u16 = 18080;
const NC_PORT: u16 = 18081;
const NC_UDP_PORT: u16 = 18082;
/// The served file: size and pattern seed.
const BLOB_LEN: usize = 200_003;
const BLOB_SEED: u64 = 0xb10b;

fn www() -> String {
    format!("{SCRATCH}/www")
}

fn url(path: &str) -> String {
    format!("http://127.0.0.1:{HTTPD_PORT}{path}")
}

/// Writes the served tree: `blob.bin`, `hello.txt`, `sub/inner.txt`.
fn prepare() -> Result<(), String> {
    let root = www();
    let _ = libway::fs::create_dir(&root);
    let _ = libway::fs::create_dir(&format!("{root}/sub"));
    libway::fs::write(&format!("{root}/blob.bin"), &pattern(BLOB_LEN, BLOB_SEED))
        .context("write blob")?;
    libway::fs::write(&format!("{root}/hello.txt"), b"hello, network\n").context("write hello")?;
    libway::fs::write(&format!("{root}/sub/inner.txt"), b"inner\n").context("write inner")
}

pub fn run(s: &mut Suite) {
    let log = format!("{SCRATCH}/httpd.log");
    match start_httpd(&log) {
        Ok(httpd) => {
            s.check("fetch_file_to_disk", fetch_to_file());
            s.check("fetch_stdout_pipe_wc", fetch_pipe_wc());
            s.check("fetch_404_fails", fetch_404());
            s.check("fetch_follows_dir_redirect", fetch_redirect());
            s.check("fetch_refused_names_errno", fetch_refused());
            s.check("httpd_head", httpd_head());
            s.check("httpd_rejects_traversal", httpd_traversal());
            s.check("httpd_405_and_400", httpd_bad_requests());
            s.check("httpd_survives_client_leaving", httpd_client_leaves());
            s.check("httpd_8_parallel_clients", httpd_parallel());
            s.check("netstat_shows_listener", netstat_listener());
            stop(httpd);
            s.check("httpd_logs_requests", httpd_log(&log));
        }
        Err(e) => s.check("httpd_starts", Err(e)),
    }
    s.check("nc_tcp_echo", nc_tcp_echo());
    s.check("nc_udp_echo", nc_udp_echo());
    s.check("nc_client_sends_stdin", nc_client());
    s.check("ping_loopback", ping_lo());
    s.check("ifinfo_lo", ifinfo_lo());
    s.check("netstat_counters", netstat_counters());
}

/// Writes the tree and starts `httpd` on it, its log in `log`; returns its pid once it
/// accepts connections.
fn start_httpd(log: &str) -> Result<usize, String> {
    prepare()?;
    let log_file = libway::fs::File::create(log).context(log)?;
    let port = format!("{HTTPD_PORT}");
    let root = www();
    let httpd = spawn(
        "/bin/httpd",
        &["httpd", "-p", &port, "-c", "8", &root],
        Stdio::Inherit,
        Stdio::Fd(log_file.fd()),
    )?;
    drop(log_file);
    wait_listening(lo(HTTPD_PORT), 20_000, httpd)?;
    Ok(httpd)
}

fn fetch_to_file() -> Check {
    let out = format!("{SCRATCH}/fetched.bin");
    let _ = libway::fs::remove_file(&out);
    let (_, st) = capture("/bin/fetch", &["fetch", "-o", &out, &url("/blob.bin")])?;
    expect_exit(st, 0).context("fetch")?;
    let got = libway::fs::read(&out).context("read the file")?;
    expect_eq(got.len(), BLOB_LEN).context("size")?;
    expect_eq(sha256_hex(&got), sha256_hex(&pattern(BLOB_LEN, BLOB_SEED))).context("sha256")
}

fn fetch_pipe_wc() -> Check {
    let r = sh(&format!("fetch {} | wc -c", url("/blob.bin")))?;
    expect_eq(r.out.trim(), format!("{BLOB_LEN}").as_str()).context("wc -c")?;
    if !r.status.exited_with(0) {
        return Err(format!("{}; stderr {:?}", r.status, r.err));
    }
    // And the body straight to standard output, byte for byte.
    let (body, st) = capture("/bin/fetch", &["fetch", &url("/hello.txt")])?;
    expect_exit(st, 0)?;
    expect_eq(body.as_slice(), &b"hello, network\n"[..])
}

fn fetch_404() -> Check {
    let out = format!("{SCRATCH}/missing.out");
    let r = sh(&format!("fetch -o {out} {}", url("/no/such/file")))?;
    expect_exit(r.status, 1)?;
    if !r.err.contains("404") {
        return Err(format!("stderr {:?} does not name the 404", r.err));
    }
    if libway::fs::stat(&out).is_ok() {
        return Err("a failed fetch left its output file".into());
    }
    Ok(())
}

fn fetch_redirect() -> Check {
    let r = sh(&format!("fetch -v {}", url("/sub")))?;
    expect_exit(r.status, 0).map_err(|w| format!("{w}; stderr {:?}", r.err))?;
    if !r.err.contains("301") {
        return Err(format!("no 301 in the verbose log {:?}", r.err));
    }
    if !r.out.contains("inner.txt") || !r.out.contains("Index of /sub/") {
        return Err(format!("the listing {:?} lacks inner.txt", r.out));
    }
    Ok(())
}

fn fetch_refused() -> Check {
    // Nothing listens on port 1 of loopback.
    let r = sh("fetch http://127.0.0.1:1/")?;
    expect_exit(r.status, 1)?;
    if !r.err.contains("ECONNREFUSED") {
        return Err(format!("stderr {:?} does not name ECONNREFUSED", r.err));
    }
    Ok(())
}

fn httpd_head() -> Check {
    let resp = http_raw(
        lo(HTTPD_PORT),
        b"HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    )?;
    let text = String::from_utf8_lossy(&resp);
    expect_eq(status_of(&resp), Some(200)).context("status")?;
    if !text.contains("Content-Length: 15\r\n") || !text.contains("Content-Type: text/plain") {
        return Err(format!("head {text:?}"));
    }
    if !text.ends_with("\r\n\r\n") {
        return Err(format!("HEAD response has a body: {text:?}"));
    }
    Ok(())
}

fn httpd_traversal() -> Check {
    for target in [
        "/../../etc/wayos-release",
        "/sub/../../bin/init",
        "/%2e%2e/bin/init",
    ] {
        let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        let resp = http_raw(lo(HTTPD_PORT), req.as_bytes())?;
        expect_eq(status_of(&resp), Some(400)).context(target)?;
    }
    // Inside the tree, `..` that stays inside is fine.
    let resp = http_raw(lo(HTTPD_PORT), b"GET /sub/../hello.txt HTTP/1.1\r\n\r\n")?;
    expect_eq(status_of(&resp), Some(200)).context("/sub/../hello.txt")
}

fn httpd_bad_requests() -> Check {
    let resp = http_raw(
        lo(HTTPD_PORT),
        b"POST /hello.txt HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    )?;
    expect_eq(status_of(&resp), Some(405)).context("POST")?;
    if !String::from_utf8_lossy(&resp).contains("Allow: GET, HEAD") {
        return Err("405 without Allow".into());
    }
    let resp = http_raw(lo(HTTPD_PORT), b"this is not http\r\n\r\n")?;
    expect_eq(status_of(&resp), Some(400)).context("garbage")?;
    let resp = http_raw(lo(HTTPD_PORT), b"GET /nope HTTP/1.1\r\n\r\n")?;
    expect_eq(status_of(&resp), Some(404)).context("missing")
}

/// Clients that connect and leave (before a request, and halfway through one) cost the
/// server nothing: it still answers the next request.
fn httpd_client_leaves() -> Check {
    for partial in [&b""[..], b"GET /hello", b"GET /hello.txt HTTP/1.1\r\nHost:"] {
        let c = TcpStream::connect(lo(HTTPD_PORT)).context("connect")?;
        if !partial.is_empty() {
            c.write_all(partial).context("partial request")?;
        }
        drop(c);
    }
    let resp = http_raw(lo(HTTPD_PORT), b"GET /hello.txt HTTP/1.1\r\n\r\n")?;
    expect_eq(status_of(&resp), Some(200)).context("after")?;
    if !resp.ends_with(b"hello, network\n") {
        return Err("body missing".into());
    }
    Ok(())
}

fn httpd_parallel() -> Check {
    let want = sha256_hex(&pattern(BLOB_LEN, BLOB_SEED));
    let mut threads = Vec::new();
    for i in 0..8 {
        let t = libway::thread::spawn(move || -> Result<(), String> {
            let resp = http_raw(lo(HTTPD_PORT), b"GET /blob.bin HTTP/1.1\r\n\r\n")
                .context(&format!("client {i}"))?;
            let end = resp
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .ok_or_else(|| format!("client {i}: no head"))?;
            let body = &resp[end + 4..];
            if body.len() != BLOB_LEN {
                return Err(format!("client {i}: {} body bytes", body.len()));
            }
            Ok(())
        })
        .context("thread")?;
        threads.push(t);
    }
    let mut errors = Vec::new();
    for t in threads {
        match t.join() {
            Some(Ok(())) => {}
            Some(Err(e)) => errors.push(e),
            None => errors.push("a client thread died".into()),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    // One more through fetch, checked by digest.
    let (body, st) = capture("/bin/fetch", &["fetch", &url("/blob.bin")])?;
    expect_exit(st, 0)?;
    expect_eq(sha256_hex(&body), want)
}

fn netstat_listener() -> Check {
    let r = sh("netstat -a")?;
    expect_exit(r.status, 0)?;
    let row = r
        .out
        .lines()
        .find(|l| l.contains(&format!(":{HTTPD_PORT} ")) && l.contains("LISTEN"))
        .ok_or_else(|| format!("no LISTEN row for {HTTPD_PORT} in {:?}", r.out))?;
    if !row.starts_with("tcp") {
        return Err(format!("row {row:?}"));
    }
    // Without -a the listener is not shown.
    let r = sh("netstat")?;
    if r.out
        .lines()
        .any(|l| l.contains(&format!(":{HTTPD_PORT} ")) && l.contains("LISTEN"))
    {
        return Err("plain netstat shows the listener".into());
    }
    Ok(())
}

fn httpd_log(path: &str) -> Check {
    let text = String::from_utf8(libway::fs::read(path).context("read log")?)
        .map_err(|_| "log is not UTF-8".to_string())?;
    let line = "\"GET /hello.txt HTTP/1.1\" 200 15";
    if !text
        .lines()
        .any(|l| l.starts_with("127.0.0.1:") && l.ends_with(line))
    {
        return Err(format!("no line ending {line:?} in {text:?}"));
    }
    if !text.contains("\"POST /hello.txt HTTP/1.1\" 405") {
        return Err("the 405 is not logged".into());
    }
    Ok(())
}

use alloc::string::ToString;

fn nc_tcp_echo() -> Check {
    let port = format!("{NC_PORT}");
    let pid = spawn(
        "/bin/nc",
        &["nc", "-l", "-p", &port, "--echo"],
        Stdio::Inherit,
        Stdio::Inherit,
    )?;
    let result = (|| -> Check {
        wait_for_nc_listener()?;
        let c = TcpStream::connect(lo(NC_PORT)).context("connect")?;
        c.set_read_timeout(Some(IO_TIMEOUT_NS)).context("timeout")?;
        let msg = pattern(30_000, 77);
        let wfd = io::dup(c.fd()).context("dup")?;
        let m2 = msg.clone();
        let w = libway::thread::spawn(move || {
            let w = TcpStream::from_fd(wfd);
            let r = w
                .write_all(&m2)
                .and_then(|_| w.shutdown(libway::abi::netd::SHUT_WR));
            r.is_ok()
        })
        .context("thread")?;
        let back = read_to_end(c.fd(), 1 << 20)?;
        if w.join() != Some(true) {
            return Err("writing failed".into());
        }
        expect_eq(back.len(), msg.len()).context("bytes back")?;
        expect_eq(sha256_hex(&back), sha256_hex(&msg)).context("sha256")
    })();
    let st = wait_for(pid, CHILD_TIMEOUT_MS);
    if result.is_err() {
        stop(pid);
    }
    result?;
    expect_exit(st?, 0).context("nc exits after the peer closes")
}

/// `nc -l` has no ready signal: probing its port with a connect would be its one
/// connection, so wait until netstat lists the listener.
fn wait_for_nc_listener() -> Check {
    let start = crate::util::now_ns();
    loop {
        let socks = libway::net::sockets().context("sockets")?;
        if socks
            .iter()
            .any(|s| s.local.port == NC_PORT && s.state == 1)
        {
            return Ok(());
        }
        if crate::util::now_ns() - start > 20_000_000_000 {
            return Err(format!("nc never listened on {NC_PORT}"));
        }
        let _ = libway::time::sleep_ms(20);
    }
}

fn nc_udp_echo() -> Check {
    let port = format!("{NC_UDP_PORT}");
    let pid = spawn(
        "/bin/nc",
        &["nc", "-u", "-l", "-p", &port, "--echo"],
        Stdio::Inherit,
        Stdio::Inherit,
    )?;
    let result = (|| -> Check {
        let u = UdpSocket::bind(lo(0)).context("bind")?;
        u.set_read_timeout(Some(300_000_000)).context("timeout")?;
        let mut buf = alloc::vec![0u8; DGRAM_MAX];
        let mut echoed = 0;
        // The server may not be bound yet: retry each datagram a few times.
        for i in 0..10u64 {
            let d = pattern(100 + i as usize * 50, i);
            for _ in 0..30 {
                u.send_to(&d, lo(NC_UDP_PORT)).context("send")?;
                match u.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        expect_eq(from, lo(NC_UDP_PORT)).context("echo source")?;
                        expect_eq(&buf[..n], d.as_slice()).context(&format!("datagram {i}"))?;
                        echoed += 1;
                        break;
                    }
                    Err(_) => continue,
                }
            }
        }
        expect_eq(echoed, 10).context("echoed")
    })();
    stop(pid);
    result
}

/// `nc HOST PORT` sends its standard input: a server here reads it all.
fn nc_client() -> Check {
    let (l, port) = crate::util::listener()?;
    let _ = l.set_read_timeout(Some(IO_TIMEOUT_NS));
    let msg = b"through nc\n".repeat(100);
    let file = format!("{SCRATCH}/nc-in.txt");
    libway::fs::write(&file, &msg).context("write input")?;
    let input = libway::fs::File::open(&file).context("open input")?;
    let p = port.to_string();
    let pid = spawn(
        "/bin/nc",
        &["nc", "127.0.0.1", &p],
        Stdio::Fd(input.fd()),
        Stdio::Inherit,
    )?;
    drop(input);
    let result = (|| -> Check {
        let (s, _) = l.accept().context("accept")?;
        s.set_read_timeout(Some(IO_TIMEOUT_NS)).context("timeout")?;
        let got = read_to_end(s.fd(), 1 << 20)?;
        expect_eq(got.len(), msg.len()).context("bytes")?;
        expect_eq(got, msg).context("data")
    })();
    let st = wait_for(pid, CHILD_TIMEOUT_MS);
    if result.is_err() {
        stop(pid);
    }
    result?;
    expect_exit(st?, 0).context("nc")
}

fn ping_lo() -> Check {
    let r = sh("ping -c 3 -i 0.2 127.0.0.1")?;
    expect_exit(r.status, 0).map_err(|w| format!("{w}; {:?} {:?}", r.out, r.err))?;
    if !r
        .out
        .contains("3 packets transmitted, 3 received, 0% packet loss")
    {
        return Err(format!("summary missing in {:?}", r.out));
    }
    let replies = r
        .out
        .lines()
        .filter(|l| l.contains("bytes from 127.0.0.1: icmp_seq="))
        .count();
    expect_eq(replies, 3).context("reply lines")?;
    if !r.out.contains("rtt min/avg/max/mdev = ") {
        return Err("no rtt line".into());
    }
    Ok(())
}

fn ifinfo_lo() -> Check {
    let r = sh("ifinfo lo")?;
    expect_exit(r.status, 0)?;
    if !r.out.contains("lo: <LOOPBACK,UP") || !r.out.contains("inet 127.0.0.1/8") {
        return Err(format!("ifinfo lo printed {:?}", r.out));
    }
    let r = sh("ifinfo nosuch0")?;
    expect_exit(r.status, 1).context("unknown interface")
}

fn netstat_counters() -> Check {
    let r = sh("netstat -s")?;
    expect_exit(r.status, 0)?;
    for name in libway::abi::netd::STAT_NAMES {
        if !r.out.contains(&format!("    {name}: ")) {
            return Err(format!("netstat -s lacks {name}"));
        }
    }
    let r = sh("netstat -i")?;
    expect_exit(r.status, 0)?;
    if !r.out.lines().any(|l| l.starts_with("lo ")) {
        return Err(format!("netstat -i lacks lo: {:?}", r.out));
    }
    Ok(())
}
