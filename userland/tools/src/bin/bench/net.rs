//! The network figures: `tcp_rx_instr_per_kib` (the guest reads a bulk stream from the
//! host), `tcp_tx_instr_per_kib` (the guest writes one), and `udp_rtt_instr` (a datagram
//! to the host's echo server and back), all through netd, the NIC ring and QEMU's user
//! network to servers `cargo xtask bench` runs on the host's loopback (their ports come in
//! `wayos_abi::harness::BENCH_NET_KEY` on the kernel command line).
//!
//! What is counted: every guest instruction the transfer costs, in the bench program, netd
//! and the kernel, and none spent waiting for the host. Under `-icount ... sleep=off` an
//! idle guest's clock jumps to its next timer, so the plain elapsed counter would mostly
//! measure the host's latency and the tick rate. Instead a soaker thread in the idle
//! class spins while the benchmark runs (the classic cycle-soak method of netperf's CPU
//! figures): whenever nothing else can run, the soaker does, counting its loops; its
//! instructions per loop are calibrated first on an otherwise quiet system, and the
//! figure is the elapsed instructions less the soaker's. The Linux reference does exactly
//! the same with a `SCHED_IDLE` soaker (`tools/linuxbench/netbench.c`).
//!
//! Without the key (no network, or `bench` typed at the shell) it says so and prints no
//! figure.

use libway::abi::harness::{
    parse_bench_net, BENCH_NET_BYTES, BENCH_NET_KEY, BENCH_UDP_PAYLOAD, BENCH_UDP_ROUNDS,
};
use libway::abi::netd::SHUT_WR;
use libway::net::{self, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use libway::{println, process, time};

use super::soak::{mark, Rate, Soaker};

/// The host's loopback as QEMU's user network shows it.
const HOST: Ipv4Addr = Ipv4Addr(libway::abi::usernet::GATEWAY);
/// How long netd may take to get an address (DHCP, or its static fallback).
const ADDRESS_WAIT_MS: u64 = 15_000;
const IO_TIMEOUT_NS: u64 = 30_000_000_000;

fn cmdline_ports() -> Result<(u16, u16, u16), &'static str> {
    let line = process::cmdline().map_err(|_| "cannot read the kernel command line")?;
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(BENCH_NET_KEY)?.strip_prefix('='))
        .ok_or("no network servers on the host (boot with cargo xtask bench and a network)")
        .and_then(|v| parse_bench_net(v).ok_or("bad wayos.benchnet value"))
}

/// Waits until an interface other than `lo` has an address.
fn wait_for_address() -> bool {
    let mut waited = 0;
    loop {
        if let Ok(ifs) = net::interfaces() {
            if ifs
                .iter()
                .any(|i| !i.name.starts_with(b"lo\0") && i.addr != [0; 4])
            {
                return true;
            }
        }
        if waited >= ADDRESS_WAIT_MS {
            return false;
        }
        let _ = time::sleep_ms(100);
        waited += 100;
    }
}

pub fn figures() {
    let (source, sink, echo) = match cmdline_ports() {
        Ok(p) => p,
        Err(why) => {
            println!("bench: network figures skipped ({why})");
            return;
        }
    };
    if !wait_for_address() {
        println!("bench: network figures skipped (no address on eth0 after {ADDRESS_WAIT_MS} ms)");
        return;
    }
    let soaker = match Soaker::start() {
        Ok(s) => s,
        Err(e) => {
            println!("bench: network figures skipped ({e})");
            return;
        }
    };
    let rate = &soaker.rate;
    let kib = BENCH_NET_BYTES / 1024;
    match tcp_rx(source, rate) {
        Ok(ticks) => super::report("tcp_rx_instr_per_kib", ticks, kib, "instructions/KiB"),
        Err(e) => println!("bench: tcp_rx failed: {e}"),
    }
    match tcp_tx(sink, rate) {
        Ok(ticks) => super::report("tcp_tx_instr_per_kib", ticks, kib, "instructions/KiB"),
        Err(e) => println!("bench: tcp_tx failed: {e}"),
    }
    match udp_rtt(echo, rate) {
        Ok(ticks) => super::report(
            "udp_rtt_instr",
            ticks,
            u64::from(BENCH_UDP_ROUNDS),
            "instructions/round trip",
        ),
        Err(e) => println!("bench: udp_rtt failed: {e}"),
    }
    soaker.stop();
}

fn connect(port: u16) -> Result<TcpStream, alloc::string::String> {
    let s = TcpStream::connect_timeout(SocketAddr { ip: HOST, port }, IO_TIMEOUT_NS)
        .map_err(|e| alloc::format!("connect 10.0.2.2:{port}: {e}"))?;
    let _ = s.set_read_timeout(Some(IO_TIMEOUT_NS));
    let _ = s.set_write_timeout(Some(IO_TIMEOUT_NS));
    Ok(s)
}

/// Connect, read the whole stream, see it end: busy ticks.
fn tcp_rx(port: u16, rate: &Rate) -> Result<u64, alloc::string::String> {
    let mut buf = alloc::vec![0u8; 16 * 1024];
    let a = mark();
    let s = connect(port)?;
    let mut total = 0u64;
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) => return Err(alloc::format!("read after {total} bytes: {e}")),
        }
    }
    drop(s);
    let b = mark();
    if total != BENCH_NET_BYTES {
        return Err(alloc::format!("{total} bytes, not {BENCH_NET_BYTES}"));
    }
    Ok(rate.busy(a, b))
}

/// Connect, write the whole stream, shut down, read the host's count: busy ticks.
fn tcp_tx(port: u16, rate: &Rate) -> Result<u64, alloc::string::String> {
    let chunk: alloc::vec::Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8).collect();
    let a = mark();
    let s = connect(port)?;
    let mut left = BENCH_NET_BYTES as usize;
    while left > 0 {
        let n = left.min(chunk.len());
        s.write_all(&chunk[..n])
            .map_err(|e| alloc::format!("write with {left} bytes left: {e}"))?;
        left -= n;
    }
    s.shutdown(SHUT_WR)
        .map_err(|e| alloc::format!("shutdown: {e}"))?;
    let mut ack = [0u8; 8];
    let mut got = 0;
    while got < ack.len() {
        match s.read(&mut ack[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(alloc::format!("reading the host's count: {e}")),
        }
    }
    drop(s);
    let b = mark();
    let counted = u64::from_le_bytes(ack);
    if got != 8 || counted != BENCH_NET_BYTES {
        return Err(alloc::format!(
            "the host counted {counted} bytes ({got}-byte answer), not {BENCH_NET_BYTES}"
        ));
    }
    Ok(rate.busy(a, b))
}

/// `BENCH_UDP_ROUNDS` datagrams to the echo server, each waited for: busy ticks.
fn udp_rtt(port: u16, rate: &Rate) -> Result<u64, alloc::string::String> {
    let any = SocketAddr {
        ip: Ipv4Addr([0; 4]),
        port: 0,
    };
    let s = UdpSocket::bind(any).map_err(|e| alloc::format!("bind: {e}"))?;
    s.connect(SocketAddr { ip: HOST, port })
        .map_err(|e| alloc::format!("connect: {e}"))?;
    let _ = s.set_read_timeout(Some(IO_TIMEOUT_NS));
    let mut msg = [0u8; BENCH_UDP_PAYLOAD];
    let mut back = [0u8; BENCH_UDP_PAYLOAD + 16];
    // One round first: ARP and the first route lookups are not what is measured.
    round(&s, &mut msg, &mut back, u32::MAX)?;
    let a = mark();
    for i in 0..BENCH_UDP_ROUNDS {
        round(&s, &mut msg, &mut back, i)?;
    }
    let b = mark();
    Ok(rate.busy(a, b))
}

fn round(
    s: &UdpSocket,
    msg: &mut [u8; BENCH_UDP_PAYLOAD],
    back: &mut [u8],
    i: u32,
) -> Result<(), alloc::string::String> {
    msg[..4].copy_from_slice(&i.to_le_bytes());
    s.send(msg).map_err(|e| alloc::format!("send {i}: {e}"))?;
    loop {
        let n = s.recv(back).map_err(|e| alloc::format!("echo {i}: {e}"))?;
        // A late echo of an earlier round is skipped, not counted.
        if n == msg.len() && back[..n] == msg[..] {
            return Ok(());
        }
    }
}
