//! The text `ifinfo`, `netstat` and `ping` print, from the ABI's records
//! (`wayos_abi::netd::{IfInfo, SockInfo, Stats}`, `wayos_abi::net::NicInfo`) and from
//! measured times. Pure formatting: the programs fetch the records and print these lines.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use wayos_abi::net::{NicInfo, IRQ_INTX, IRQ_MSIX};
use wayos_abi::netd::{
    IfInfo, SockAddr, SockInfo, Stats, IF_DHCP, IF_LOOPBACK, IF_RUNNING, IF_UP, KIND_ICMP,
    KIND_TCP, KIND_UDP, STATE_NAMES, STAT_NAMES,
};

/// `a.b.c.d`.
pub fn ip(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac(m: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// A NUL-padded name.
pub fn name(field: &[u8]) -> &str {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    core::str::from_utf8(&field[..end]).unwrap_or("?")
}

/// `a.b.c.d:port`, `*` for the any address or port 0, as netstat prints them.
pub fn sockaddr(a: &SockAddr) -> String {
    let host = if a.addr == [0; 4] {
        "*".to_string()
    } else {
        ip(a.addr)
    };
    if a.port == 0 {
        format!("{host}:*")
    } else {
        format!("{host}:{}", a.port)
    }
}

/// An interface's flags as `ip addr` shows them: `<LOOPBACK,UP,RUNNING,DHCP>`.
pub fn if_flags(flags: u16) -> String {
    let mut names = Vec::new();
    for (bit, n) in [
        (IF_LOOPBACK, "LOOPBACK"),
        (IF_UP, "UP"),
        (IF_RUNNING, "RUNNING"),
        (IF_DHCP, "DHCP"),
    ] {
        if flags & bit != 0 {
            names.push(n);
        }
    }
    format!("<{}>", names.join(","))
}

/// `ifinfo`'s block for interface number `index` (from 1), like `ip addr`.
pub fn ifinfo_block(index: usize, i: &IfInfo) -> String {
    let lo = i.flags & IF_LOOPBACK != 0;
    let mut s = format!(
        "{index}: {}: {} mtu {}\n",
        name(&i.name),
        if_flags(i.flags),
        i.mtu
    );
    s.push_str(&format!(
        "    link/{} {}\n",
        if lo { "loopback" } else { "ether" },
        mac(i.mac)
    ));
    if i.addr != [0; 4] {
        s.push_str(&format!(
            "    inet {}/{}{}\n",
            ip(i.addr),
            i.prefix_len,
            if i.flags & IF_DHCP != 0 {
                " dynamic"
            } else {
                ""
            }
        ));
    } else {
        s.push_str("    inet (none)\n");
    }
    if i.gateway != [0; 4] {
        s.push_str(&format!("    gateway {}\n", ip(i.gateway)));
    }
    let dns: Vec<String> = i
        .dns
        .iter()
        .filter(|d| **d != [0; 4])
        .map(|d| ip(*d))
        .collect();
    if !dns.is_empty() {
        s.push_str(&format!("    dns {}\n", dns.join(" ")));
    }
    s.push_str(&format!(
        "    RX: packets {} bytes {} dropped {}\n    TX: packets {} bytes {}\n",
        i.rx_packets, i.rx_bytes, i.rx_dropped, i.tx_packets, i.tx_bytes
    ));
    s
}

/// Left-aligns `cells` in columns of the given widths (the last cell unpadded).
fn row(cells: &[&str], widths: &[usize]) -> String {
    let mut s = String::new();
    for (i, c) in cells.iter().enumerate() {
        if i + 1 == cells.len() {
            s.push_str(c);
        } else {
            let w = widths.get(i).copied().unwrap_or(0);
            s.push_str(&format!("{c:<w$} "));
        }
    }
    s.trim_end().to_string()
}

/// A socket's protocol name.
pub fn proto(kind: u32) -> &'static str {
    match kind {
        KIND_TCP => "tcp",
        KIND_UDP => "udp",
        KIND_ICMP => "icmp",
        _ => "?",
    }
}

/// A socket's state as netstat names it.
pub fn sock_state(s: &SockInfo) -> &'static str {
    if s.kind == KIND_TCP {
        STATE_NAMES.get(s.state as usize).copied().unwrap_or("?")
    } else if s.state == 0 {
        ""
    } else {
        "BOUND"
    }
}

/// Whether `s` is a listener (or an unconnected datagram socket), which `netstat`
/// shows only with `-a`.
pub fn is_listening(s: &SockInfo) -> bool {
    if s.kind == KIND_TCP {
        STATE_NAMES.get(s.state as usize) == Some(&"LISTEN")
    } else {
        s.peer.port == 0 && s.peer.addr == [0; 4]
    }
}

const SOCK_WIDTHS: [usize; 7] = [5, 6, 6, 21, 21, 11, 5];

/// `netstat`'s socket table header.
pub fn sockets_header() -> String {
    row(
        &[
            "Proto",
            "Recv-Q",
            "Send-Q",
            "Local Address",
            "Foreign Address",
            "State",
            "PID",
        ],
        &SOCK_WIDTHS,
    )
}

/// One socket's row.
pub fn socket_row(s: &SockInfo) -> String {
    let rq = s.rx_queued.to_string();
    let tq = s.tx_queued.to_string();
    let local = sockaddr(&s.local);
    let peer = sockaddr(&s.peer);
    let pid = s.pid.to_string();
    row(
        &[proto(s.kind), &rq, &tq, &local, &peer, sock_state(s), &pid],
        &SOCK_WIDTHS,
    )
}

const IF_WIDTHS: [usize; 7] = [6, 5, 10, 8, 10, 12, 12];

/// `netstat -i`'s header.
pub fn interfaces_header() -> String {
    row(
        &[
            "Iface", "MTU", "RX-OK", "RX-DRP", "TX-OK", "RX-BYTES", "TX-BYTES", "Flg",
        ],
        &IF_WIDTHS,
    )
}

/// One interface's `netstat -i` row; flags as netstat's letters (L loopback, U up,
/// R running, D DHCP).
pub fn interface_row(i: &IfInfo) -> String {
    let mut flg = String::new();
    for (bit, c) in [
        (IF_LOOPBACK, 'L'),
        (IF_UP, 'U'),
        (IF_RUNNING, 'R'),
        (IF_DHCP, 'D'),
    ] {
        if i.flags & bit != 0 {
            flg.push(c);
        }
    }
    let cells = [
        name(&i.name).to_string(),
        i.mtu.to_string(),
        i.rx_packets.to_string(),
        i.rx_dropped.to_string(),
        i.tx_packets.to_string(),
        i.rx_bytes.to_string(),
        i.tx_bytes.to_string(),
        flg,
    ];
    let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
    row(&refs, &IF_WIDTHS)
}

/// `netstat -s`: netd's counters, one `name: value` line each under a heading.
pub fn stats_lines(s: &Stats) -> String {
    let mut out = String::from("netd:\n");
    for (n, v) in STAT_NAMES.iter().zip(s.counters.iter()) {
        out.push_str(&format!("    {n}: {v}\n"));
    }
    out
}

/// `netstat -s`: one NIC's counters.
pub fn nic_lines(index: usize, n: &NicInfo) -> String {
    let irq = match n.irq_mode {
        IRQ_INTX => format!("intx {}", n.irq),
        IRQ_MSIX => format!("msi-x {}", n.irq),
        _ => "polled".to_string(),
    };
    let pci = n.pci;
    let mut out = format!(
        "nic{index}: {} pci {:02x}:{:02x}.{} link {} irq {irq} holder {}\n",
        mac(n.mac),
        (pci >> 8) & 0xff,
        (pci >> 3) & 0x1f,
        pci & 7,
        if n.link_up != 0 { "up" } else { "down" },
        n.holder
    );
    for (k, v) in [
        ("rx_frames", n.rx_frames),
        ("rx_bytes", n.rx_bytes),
        ("tx_frames", n.tx_frames),
        ("tx_bytes", n.tx_bytes),
        ("rx_dropped", n.rx_dropped),
        ("tx_dropped", n.tx_dropped),
        ("irqs", n.irqs),
        ("kicks", n.kicks),
    ] {
        out.push_str(&format!("    {k}: {v}\n"));
    }
    out
}

/// `ns` as milliseconds with three decimals (`0.421`).
pub fn ms3(ns: u64) -> String {
    let us = ns / 1000;
    format!("{}.{:03}", us / 1000, us % 1000)
}

/// Round-trip times, as ping sums them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rtt {
    pub count: u64,
    pub min_ns: u64,
    pub max_ns: u64,
    pub sum_ns: u128,
    pub sum_sq: u128,
}

impl Rtt {
    pub fn add(&mut self, ns: u64) {
        if self.count == 0 || ns < self.min_ns {
            self.min_ns = ns;
        }
        self.max_ns = self.max_ns.max(ns);
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.sum_sq += u128::from(ns) * u128::from(ns);
    }

    pub fn avg_ns(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            (self.sum_ns / u128::from(self.count)) as u64
        }
    }

    /// The mean deviation as iputils computes it: sqrt(E[x²] - E[x]²).
    pub fn mdev_ns(&self) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let n = u128::from(self.count);
        let mean = self.sum_ns / n;
        let var = (self.sum_sq / n).saturating_sub(mean * mean);
        isqrt(var) as u64
    }
}

/// The integer square root.
fn isqrt(v: u128) -> u128 {
    if v < 2 {
        return v;
    }
    let mut x = v;
    let mut y = x.div_ceil(2);
    while y < x {
        x = y;
        y = (x + v / x) / 2;
    }
    x
}

/// The loss as iputils prints it (`%g` of the percentage): `0`, `100`, `33.3333`.
pub fn loss_percent(sent: u64, received: u64) -> String {
    if sent == 0 {
        return "0".into();
    }
    let lost = sent.saturating_sub(received);
    let scaled = u128::from(lost) * 100 * 10_000 / u128::from(sent);
    let (int, frac) = (scaled / 10_000, scaled % 10_000);
    if frac == 0 {
        format!("{int}")
    } else {
        let f = format!("{frac:04}");
        format!("{int}.{}", f.trim_end_matches('0'))
    }
}

/// ping's closing lines.
pub fn ping_summary(host: &str, sent: u64, received: u64, elapsed_ns: u64, rtt: &Rtt) -> String {
    let mut s = format!(
        "\n--- {host} ping statistics ---\n{sent} packets transmitted, {received} received, {}% packet loss, time {}ms\n",
        loss_percent(sent, received),
        elapsed_ns / 1_000_000
    );
    if rtt.count > 0 {
        s.push_str(&format!(
            "rtt min/avg/max/mdev = {}/{}/{}/{} ms\n",
            ms3(rtt.min_ns),
            ms3(rtt.avg_ns()),
            ms3(rtt.max_ns),
            ms3(rtt.mdev_ns())
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth0() -> IfInfo {
        IfInfo {
            total: 2,
            mtu: 1500,
            name: *b"eth0\0\0\0\0",
            mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
            flags: IF_UP | IF_RUNNING | IF_DHCP,
            addr: [10, 0, 2, 15],
            prefix_len: 24,
            gateway: [10, 0, 2, 2],
            dns: [[10, 0, 2, 3], [0; 4]],
            rx_packets: 7,
            rx_bytes: 900,
            tx_packets: 5,
            tx_bytes: 600,
            rx_dropped: 1,
            ..Default::default()
        }
    }

    #[test]
    fn ifinfo_reads_like_ip_addr() {
        let b = ifinfo_block(2, &eth0());
        assert_eq!(
            b,
            "2: eth0: <UP,RUNNING,DHCP> mtu 1500\n    link/ether 52:54:00:12:34:56\n    inet 10.0.2.15/24 dynamic\n    gateway 10.0.2.2\n    dns 10.0.2.3\n    RX: packets 7 bytes 900 dropped 1\n    TX: packets 5 bytes 600\n"
        );
        let lo = IfInfo {
            name: *b"lo\0\0\0\0\0\0",
            flags: IF_UP | IF_LOOPBACK | IF_RUNNING,
            addr: [127, 0, 0, 1],
            prefix_len: 8,
            mtu: 65535,
            ..Default::default()
        };
        let b = ifinfo_block(1, &lo);
        assert!(b.starts_with("1: lo: <LOOPBACK,UP,RUNNING> mtu 65535\n    link/loopback 00:00:00:00:00:00\n    inet 127.0.0.1/8\n"));
        assert!(!b.contains("gateway"));
        assert!(interface_row(&eth0()).starts_with("eth0   1500  7"));
        assert!(interface_row(&eth0()).ends_with("URD"));
    }

    #[test]
    fn socket_rows() {
        let s = SockInfo {
            total: 1,
            kind: KIND_TCP,
            state: 4,
            pid: 12,
            local: SockAddr {
                addr: [10, 0, 2, 15],
                port: 8080,
                _pad: 0,
            },
            peer: SockAddr {
                addr: [10, 0, 2, 2],
                port: 40000,
                _pad: 0,
            },
            rx_queued: 3,
            tx_queued: 0,
        };
        assert_eq!(
            socket_row(&s),
            "tcp   3      0      10.0.2.15:8080        10.0.2.2:40000        ESTABLISHED 12"
        );
        assert!(!is_listening(&s));
        let l = SockInfo {
            state: 1,
            peer: SockAddr::default(),
            local: SockAddr {
                addr: [0; 4],
                port: 80,
                _pad: 0,
            },
            ..s
        };
        assert!(is_listening(&l));
        assert!(socket_row(&l).contains("*:80 "));
        assert!(socket_row(&l).contains("*:* "));
        assert!(socket_row(&l).contains("LISTEN"));
        let u = SockInfo {
            kind: KIND_UDP,
            state: 1,
            ..l
        };
        assert_eq!(sock_state(&u), "BOUND");
        assert!(is_listening(&u));
        let bad = SockInfo { state: 99, ..s };
        assert_eq!(sock_state(&bad), "?");
        assert!(sockets_header().starts_with("Proto Recv-Q Send-Q Local Address"));
    }

    #[test]
    fn counters() {
        let mut st = Stats::default();
        st.counters[2] = 9;
        let text = stats_lines(&st);
        assert!(text.contains("    malformed_dropped: 9\n"));
        assert_eq!(text.lines().count(), 1 + STAT_NAMES.len());
        let nic = NicInfo {
            mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
            link_up: 1,
            irq_mode: IRQ_INTX,
            irq: 11,
            pci: 3 << 3,
            rx_frames: 4,
            ..Default::default()
        };
        let text = nic_lines(0, &nic);
        assert!(
            text.starts_with("nic0: 52:54:00:12:34:56 pci 00:03.0 link up irq intx 11 holder 0\n")
        );
        assert!(text.contains("    rx_frames: 4\n"));
    }

    #[test]
    fn ping_figures() {
        assert_eq!(ms3(421_999), "0.421");
        assert_eq!(ms3(12_345_678), "12.345");
        assert_eq!(loss_percent(4, 4), "0");
        assert_eq!(loss_percent(4, 0), "100");
        assert_eq!(loss_percent(3, 2), "33.3333");
        assert_eq!(loss_percent(8, 7), "12.5");
        assert_eq!(loss_percent(0, 0), "0");
        let mut r = Rtt::default();
        for ns in [1_000_000, 3_000_000] {
            r.add(ns);
        }
        assert_eq!(
            (r.min_ns, r.max_ns, r.avg_ns(), r.mdev_ns()),
            (1_000_000, 3_000_000, 2_000_000, 1_000_000)
        );
        let s = ping_summary("10.0.2.2", 2, 2, 1_001_000_000, &r);
        assert_eq!(
            s,
            "\n--- 10.0.2.2 ping statistics ---\n2 packets transmitted, 2 received, 0% packet loss, time 1001ms\nrtt min/avg/max/mdev = 1.000/2.000/3.000/1.000 ms\n"
        );
        assert!(!ping_summary("h", 1, 0, 0, &Rtt::default()).contains("rtt"));
        assert_eq!(isqrt(99), 9);
        assert_eq!(isqrt(100), 10);
    }
}
