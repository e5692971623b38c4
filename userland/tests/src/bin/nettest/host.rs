//! Real programs on the host, through the harness (`Suite::host`): the harness's HTTP
//! server fetched from here (plain, chunked, redirected; size and SHA-256 from the
//! harness's own answer), the host's HTTP client against `httpd` through the forwarded
//! `GUEST_HTTP_PORT` (8 at once), UDP echo both ways, hostile frames of every
//! `INJECT_KINDS` kind (netd's and the NIC's counters move, the network still works),
//! and a connection flood (httpd still serves). By hand: skipped with the reason.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use libway::abi::harness::{
    GUEST_HTTP_PORT, GUEST_UDP_PORT, HOST_CONNECT_FLOOD, HOST_HTTP_GET, HOST_HTTP_INFO,
    HOST_INJECT, HOST_UDP_ECHO_INFO, HOST_UDP_SEND, HTTP_BLOB_PATH, HTTP_CHUNKED_PATH,
    HTTP_REDIRECT_PATH, INJECT_KINDS,
};
use libway::abi::netd::{Stats, STAT_NAMES};
use libway::net::{self, Ipv4Addr, SocketAddr, UdpSocket};
use libway::suite::{expect_eq, expect_exit, Check, Context, Suite};

use crate::util::{
    capture, lo, pattern, sh, sha256_hex, spawn, stop, wait_listening, Stdio, ANY, SCRATCH,
};

const HOST: Ipv4Addr = Ipv4Addr(libway::abi::usernet::GATEWAY);
/// Frames per injected kind.
const INJECT_COUNT: u32 = 20;
/// The file `httpd` serves to the host's client.
const SERVED_LEN: usize = 150_001;
const SERVED_SEED: u64 = 0x4057;

/// What `http-info` said.
struct HttpInfo {
    port: u16,
    size: usize,
    sha: String,
}

fn ask(s: &Suite, verb: &str, args: &str) -> Result<Vec<String>, String> {
    match s.host(verb, args) {
        None => Err("no harness".into()),
        Some(Ok(words)) => Ok(words.split_whitespace().map(String::from).collect()),
        Some(Err(why)) => Err(format!("host {verb}: {why}")),
    }
}

fn number<T: core::str::FromStr>(words: &[String], i: usize, what: &str) -> Result<T, String> {
    words
        .get(i)
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("{what}: bad answer {words:?}"))
}

pub fn run(s: &mut Suite) {
    if !s.under_harness() {
        s.skip(
            "host checks",
            "no harness: run under cargo xtask test, which runs the host's programs",
        );
        return;
    }
    let info = ask(s, HOST_HTTP_INFO, "").and_then(|w| {
        Ok(HttpInfo {
            port: number(&w, 0, "port")?,
            size: number(&w, 1, "size")?,
            sha: w.get(2).cloned().ok_or("no digest")?,
        })
    });
    match &info {
        Ok(info) => {
            s.check("fetch_host_blob", fetch_blob(info, HTTP_BLOB_PATH));
            s.check("fetch_host_chunked", fetch_blob(info, HTTP_CHUNKED_PATH));
            s.check("fetch_host_redirect", fetch_blob(info, HTTP_REDIRECT_PATH));
            s.check("fetch_host_pipe_wc", fetch_wc(info));
        }
        Err(e) => s.check("host_http_info", Err(e.clone())),
    }
    s.check("udp_echo_to_host", udp_to_host(s));
    s.check("udp_echo_from_host", udp_from_host(s));

    // httpd on the forwarded port for the host's client, the flood and the injections.
    let served = pattern(SERVED_LEN, SERVED_SEED);
    let dir = format!("{SCRATCH}/hostwww");
    let _ = libway::fs::create_dir(&dir);
    if let Err(e) = libway::fs::write(&format!("{dir}/served.bin"), &served) {
        s.check("httpd_tree", Err(format!("{e}")));
        return;
    }
    let port = GUEST_HTTP_PORT.to_string();
    let log = libway::fs::File::create(&format!("{SCRATCH}/host-httpd.log"));
    let out = match &log {
        Ok(f) => Stdio::Fd(f.fd()),
        Err(_) => Stdio::Inherit,
    };
    let httpd = spawn(
        "/bin/httpd",
        &["httpd", "-p", &port, &dir],
        Stdio::Inherit,
        out,
    );
    drop(log);
    let httpd = match httpd.and_then(|p| wait_listening(lo(GUEST_HTTP_PORT), 20_000, p).map(|_| p))
    {
        Ok(p) => p,
        Err(e) => {
            s.check("httpd_starts", Err(e));
            return;
        }
    };
    let sha = sha256_hex(&served);
    s.check("host_curl_8_parallel", host_get(s, 8, &sha));
    s.check("connect_flood_then_serves", flood(s, &sha));
    s.check("hostile_frames_counted", inject(s));
    s.check("host_curl_after_injection", host_get(s, 2, &sha));
    if let Ok(info) = &info {
        s.check("fetch_after_injection", fetch_blob(info, HTTP_BLOB_PATH));
    }
    stop(httpd);
}

/// `fetch -o` of `path` from the host's server; the size and digest the harness gave.
fn fetch_blob(info: &HttpInfo, path: &str) -> Check {
    let out = format!("{SCRATCH}/host.bin");
    let _ = libway::fs::remove_file(&out);
    let url = format!("http://10.0.2.2:{}{path}", info.port);
    let (_, st) = capture("/bin/fetch", &["fetch", "-o", &out, &url])?;
    expect_exit(st, 0).context(&url)?;
    let got = libway::fs::read(&out).context("read")?;
    let _ = libway::fs::remove_file(&out);
    expect_eq(got.len(), info.size).context("size")?;
    expect_eq(sha256_hex(&got), info.sha.clone()).context("sha256")
}

fn fetch_wc(info: &HttpInfo) -> Check {
    let r = sh(&format!(
        "fetch http://10.0.2.2:{}{HTTP_CHUNKED_PATH} | wc -c",
        info.port
    ))?;
    expect_eq(r.out.trim(), info.size.to_string().as_str()).context("wc -c")?;
    expect_exit(r.status, 0)
}

fn udp_to_host(s: &Suite) -> Check {
    let w = ask(s, HOST_UDP_ECHO_INFO, "")?;
    let port: u16 = number(&w, 0, "port")?;
    let to = SocketAddr { ip: HOST, port };
    let u = UdpSocket::bind(SocketAddr { ip: ANY, port: 0 }).context("bind")?;
    u.set_read_timeout(Some(2_000_000_000)).context("timeout")?;
    let mut buf = alloc::vec![0u8; 2048];
    let mut echoed = 0;
    for i in 0..10u64 {
        let d = pattern(64 + i as usize * 100, 100 + i);
        // UDP may lose a datagram: up to 3 tries each.
        for _ in 0..3 {
            u.send_to(&d, to).context("send")?;
            if let Ok((n, from)) = u.recv_from(&mut buf) {
                expect_eq(from, to).context("echo source")?;
                expect_eq(&buf[..n], d.as_slice()).context(&format!("echo {i}"))?;
                echoed += 1;
                break;
            }
        }
    }
    expect_eq(echoed, 10).context("echoed")
}

fn udp_from_host(s: &Suite) -> Check {
    let port = GUEST_UDP_PORT.to_string();
    let pid = spawn(
        "/bin/nc",
        &["nc", "-u", "-l", "-p", &port, "--echo"],
        Stdio::Inherit,
        Stdio::Inherit,
    )?;
    // Let nc bind before the host sends.
    let start = crate::util::now_ns();
    while !net::sockets()
        .map(|l| l.iter().any(|x| x.local.port == GUEST_UDP_PORT))
        .unwrap_or(false)
    {
        if crate::util::now_ns() - start > 10_000_000_000 {
            stop(pid);
            return Err("nc did not bind".into());
        }
        let _ = libway::time::sleep_ms(20);
    }
    let r = ask(s, HOST_UDP_SEND, "10");
    stop(pid);
    let echoed: u32 = number(&r?, 0, "echoed")?;
    expect_eq(echoed, 10)
}

fn host_get(s: &Suite, parallel: u32, sha: &str) -> Check {
    let w = ask(s, HOST_HTTP_GET, &format!("/served.bin {parallel} {sha}"))?;
    let requests: u32 = number(&w, 0, "requests")?;
    let bytes: usize = number(&w, 1, "bytes")?;
    expect_eq(requests, parallel).context("requests")?;
    expect_eq(bytes, SERVED_LEN).context("bytes each")
}

fn flood(s: &Suite, sha: &str) -> Check {
    let w = ask(s, HOST_CONNECT_FLOOD, "40")?;
    let n: u32 = number(&w, 0, "connections")?;
    if n == 0 {
        return Err("the flood made no connection".into());
    }
    host_get(s, 1, sha).context("after the flood")
}

fn counters() -> Result<(Stats, libway::abi::net::NicInfo), String> {
    Ok((
        net::stats().context("stats")?,
        net::nic_info(0).context("nic_info")?,
    ))
}

fn stat(s: &Stats, name: &str) -> u64 {
    STAT_NAMES
        .iter()
        .position(|n| *n == name)
        .map_or(0, |i| s.counters[i])
}

/// Each kind of hostile frame shows in the counters where it must be dropped; netd and
/// the kernel stay up (the checks after this one use them).
fn inject(s: &Suite) -> Check {
    let mut errors = Vec::new();
    for kind in INJECT_KINDS {
        let (before, nic_before) = counters()?;
        let sent: u32 = match ask(s, HOST_INJECT, &format!("{kind} {INJECT_COUNT}"))
            .and_then(|w| number(&w, 0, "frames"))
        {
            Ok(n) => n,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        // netd counts as it reads the ring: give it a moment.
        let _ = libway::time::sleep_ms(300);
        let (after, nic_after) = counters()?;
        let d = |name: &str| stat(&after, name) - stat(&before, name);
        let nic_seen = (nic_after.rx_frames + nic_after.rx_dropped)
            - (nic_before.rx_frames + nic_before.rx_dropped);
        let where_counted = match *kind {
            "runt" | "badlen" | "trunc-ip" | "garbage" => {
                d("malformed_dropped")
                    + d("not_for_us_dropped")
                    + (nic_after.rx_dropped - nic_before.rx_dropped)
            }
            "bad-ipcsum" | "bad-tcpcsum" | "bad-udpcsum" => d("bad_checksum_dropped"),
            "frag-flood" => d("fragments_dropped"),
            "syn-flood" => d("syn_dropped") + d("tcp_segments_in"),
            _ => d("frames_in"),
        };
        if sent == 0 {
            errors.push(format!("{kind}: the harness sent nothing"));
        } else if nic_seen == 0 {
            errors.push(format!("{kind}: {sent} frames sent, the NIC saw none"));
        } else if where_counted == 0 {
            errors.push(format!("{kind}: {sent} frames, no drop counted"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}
