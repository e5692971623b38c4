//! netd's two interfaces and what configures them: `lo` (127.0.0.1/8, smoltcp's loopback
//! device) and `eth0` (the kernel's NIC ring, [`RingDev`]), each a smoltcp `Interface`
//! with its own `SocketSet`; DHCPv4 on eth0 with the static fallback; the DNS resolver;
//! ephemeral ports; routing a destination to an interface.
//!
//! **Routing.** 127/8, 0.0.0.0 and eth0's own address go over `lo` (which also carries
//! eth0's address, so a program can reach a local server by the machine's address);
//! everything else over eth0 (`ENETUNREACH` without a NIC). A socket lives in the set of the
//! interface its traffic uses; a listener or a UDP socket bound to 0.0.0.0 has a smoltcp
//! socket in both.
//!
//! **Addresses.** eth0 asks DHCP at start; without a lease after [`FALLBACK_NS`] it takes
//! QEMU's user-network values (10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3) and keeps
//! asking: a lease that comes later replaces them (`IF_DHCP`).

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::netd::{IfInfo, IF_DHCP, IF_LOOPBACK, IF_RUNNING, IF_UP};
use libway::abi::usernet;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{ChecksumCapabilities, Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::{dhcpv4, dns};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address, Ipv4Cidr};

use super::check::{self, Counters};
use super::ring::RingDev;

pub const LO: usize = 0;
pub const ETH: usize = 1;

/// How long eth0 waits for a DHCP lease before it takes the static fallback.
pub const FALLBACK_NS: u64 = 3_000_000_000;
const FALLBACK_ADDR: [u8; 4] = usernet::GUEST;
const FALLBACK_PREFIX: u8 = usernet::PREFIX_LEN;
const FALLBACK_GATEWAY: [u8; 4] = usernet::GATEWAY;
const FALLBACK_DNS: [u8; 4] = usernet::DNS;
/// DNS queries in flight at once.
pub const DNS_SLOTS: usize = 8;
/// Ephemeral ports (IANA's dynamic range).
const EPHEMERAL: core::ops::RangeInclusive<u16> = 49152..=65535;

/// One interface: smoltcp's state, its device, its sockets.
pub struct Iface<D> {
    pub iface: Interface,
    pub dev: D,
    pub sockets: SocketSet<'static>,
}

pub struct Stack {
    pub lo: Iface<LoopDev>,
    pub eth: Option<Iface<RingDev>>,
    dhcp: Option<SocketHandle>,
    dns: Option<SocketHandle>,
    /// eth0's address and prefix, once it has one.
    pub addr: Option<([u8; 4], u8)>,
    pub gateway: [u8; 4],
    pub dns_servers: [[u8; 4]; 2],
    /// The address came from a lease.
    pub leased: bool,
    started_ns: u64,
    /// Counters of things above the wire (leases, queries, sockets); the frame counters
    /// are the ring's.
    pub counters: Counters,
    next_port: u16,
}

pub fn instant(now_ns: u64) -> Instant {
    Instant::from_micros((now_ns / 1000) as i64)
}

fn v4(a: [u8; 4]) -> Ipv4Address {
    Ipv4Address::new(a[0], a[1], a[2], a[3])
}

impl Stack {
    /// `lo`, and eth0 over `ring` when there is a NIC. `seed` seeds smoltcp's ISNs.
    pub fn new(ring: Option<RingDev>, seed: u64, now_ns: u64) -> Stack {
        let now = instant(now_ns);
        let mut lo_dev = LoopDev::new();
        let mut cfg = Config::new(HardwareAddress::Ip);
        cfg.random_seed = seed;
        let mut lo_iface = Interface::new(cfg, &mut lo_dev, now);
        lo_iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8));
        });
        let lo = Iface {
            iface: lo_iface,
            dev: lo_dev,
            sockets: SocketSet::new(vec![]),
        };
        let mut stack = Stack {
            lo,
            eth: None,
            dhcp: None,
            dns: None,
            addr: None,
            gateway: [0; 4],
            dns_servers: [[0; 4]; 2],
            leased: false,
            started_ns: now_ns,
            counters: Counters::default(),
            next_port: *EPHEMERAL.start() + (seed % 4096) as u16,
        };
        if let Some(mut dev) = ring {
            let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(dev.mac)));
            cfg.random_seed = seed.rotate_left(17) ^ 0x5eed;
            let iface = Interface::new(cfg, &mut dev, now);
            let mut sockets = SocketSet::new(vec![]);
            stack.dhcp = Some(sockets.add(dhcpv4::Socket::new()));
            let servers = [IpAddress::Ipv4(v4(FALLBACK_DNS))];
            let slots: Vec<Option<dns::DnsQuery>> = (0..DNS_SLOTS).map(|_| None).collect();
            stack.dns = Some(sockets.add(dns::Socket::new(&servers, slots)));
            stack.dns_servers[0] = FALLBACK_DNS;
            stack.eth = Some(Iface {
                iface,
                dev,
                sockets,
            });
        }
        stack
    }

    /// The interface `i`'s smoltcp state and sockets (`None`: eth0 without a NIC).
    pub fn parts(&mut self, i: usize) -> Option<(&mut Interface, &mut SocketSet<'static>)> {
        match i {
            LO => Some((&mut self.lo.iface, &mut self.lo.sockets)),
            _ => self.eth.as_mut().map(|e| (&mut e.iface, &mut e.sockets)),
        }
    }

    pub fn sockets(&mut self, i: usize) -> Option<&mut SocketSet<'static>> {
        self.parts(i).map(|(_, s)| s)
    }

    pub fn has_eth(&self) -> bool {
        self.eth.is_some()
    }

    /// Whether `a` is one of this machine's addresses (any of lo's, or eth0's).
    pub fn is_local(&self, a: [u8; 4]) -> bool {
        a[0] == 127 || a == [0; 4] || self.addr.is_some_and(|(mine, _)| mine == a)
    }

    /// The interface traffic to `dst` takes; `None` when it needs eth0 and there is none.
    pub fn route(&self, dst: [u8; 4]) -> Option<usize> {
        if self.is_local(dst) {
            Some(LO)
        } else if self.eth.is_some() {
            Some(ETH)
        } else {
            None
        }
    }

    /// The interfaces a socket bound to `addr` receives on: both for 0.0.0.0 (eth0 only
    /// when present), lo for 127/8, lo and eth0 for eth0's own address; `None` for an
    /// address that is not this machine's (`EADDRNOTAVAIL`).
    pub fn bind_ifaces(&self, addr: [u8; 4]) -> Option<Vec<usize>> {
        if addr == [0; 4] || self.addr.is_some_and(|(mine, _)| mine == addr) {
            let mut v = vec![LO];
            if self.eth.is_some() {
                v.push(ETH);
            }
            Some(v)
        } else if addr[0] == 127 {
            Some(vec![LO])
        } else {
            None
        }
    }

    /// A free ephemeral port (`in_use` says which are taken); `None` if all are.
    pub fn ephemeral(&mut self, in_use: impl Fn(u16) -> bool) -> Option<u16> {
        let span = (*EPHEMERAL.end() - *EPHEMERAL.start()) as u32 + 1;
        for _ in 0..span {
            let p = self.next_port;
            self.next_port = if p >= *EPHEMERAL.end() {
                *EPHEMERAL.start()
            } else {
                p + 1
            };
            if !in_use(p) {
                return Some(p);
            }
        }
        None
    }

    /// Processes one frame of interface `i`; false when none was waiting.
    pub fn ingress_one(&mut self, i: usize, now: Instant) -> bool {
        use smoltcp::iface::PollIngressSingleResult as R;
        let r = match i {
            LO => {
                let l = &mut self.lo;
                l.iface.poll_ingress_single(now, &mut l.dev, &mut l.sockets)
            }
            _ => match self.eth.as_mut() {
                Some(e) => e.iface.poll_ingress_single(now, &mut e.dev, &mut e.sockets),
                None => R::None,
            },
        };
        !matches!(r, R::None)
    }

    /// Sends what the sockets have to send, on both interfaces, and tells the kernel.
    pub fn egress(&mut self, now: Instant) {
        use smoltcp::iface::PollResult;
        let l = &mut self.lo;
        l.iface.poll_maintenance(now);
        for _ in 0..64 {
            if l.iface.poll_egress(now, &mut l.dev, &mut l.sockets) == PollResult::None {
                break;
            }
        }
        if let Some(e) = self.eth.as_mut() {
            e.iface.poll_maintenance(now);
            for _ in 0..64 {
                if e.iface.poll_egress(now, &mut e.dev, &mut e.sockets) == PollResult::None {
                    break;
                }
            }
            e.dev.kick();
        }
    }

    /// Whether a frame waits on either interface (after a kick the kernel notifies only
    /// for new ones).
    pub fn rx_pending(&self) -> bool {
        !self.lo.dev.is_empty() || self.eth.as_ref().is_some_and(|e| e.dev.rx_pending())
    }

    /// How long until smoltcp wants to be polled again (ns), if it does.
    pub fn poll_delay_ns(&mut self, now: Instant) -> Option<u64> {
        let l = &mut self.lo;
        let a = l.iface.poll_delay(now, &l.sockets);
        let b = self
            .eth
            .as_mut()
            .and_then(|e| e.iface.poll_delay(now, &e.sockets));
        [a, b]
            .into_iter()
            .flatten()
            .map(|d| d.total_micros().saturating_mul(1000))
            .min()
    }

    /// DHCP events and the fallback; call after polling. Returns the next time it needs
    /// to look (the fallback deadline), if any.
    pub fn configure(&mut self, now_ns: u64) -> Option<u64> {
        let (Some(h), Some(eth)) = (self.dhcp, self.eth.as_mut()) else {
            return None;
        };
        let event = match eth.sockets.get_mut::<dhcpv4::Socket>(h).poll() {
            Some(dhcpv4::Event::Configured(c)) => Some(Some((
                c.address,
                c.router,
                [
                    c.dns_servers.first().copied(),
                    c.dns_servers.get(1).copied(),
                ],
            ))),
            Some(dhcpv4::Event::Deconfigured) => Some(None),
            None => None,
        };
        match event {
            Some(Some((cidr, router, dns))) => {
                let gw = router.map_or([0; 4], |r| r.octets());
                let dns = dns.map(|d| d.map_or([0; 4], |a| a.octets()));
                self.apply(cidr.address().octets(), cidr.prefix_len(), gw, dns);
                self.leased = true;
                self.counters.bump(check::DHCP_LEASES);
            }
            Some(None) => {
                // Lease lost: back to the fallback (QEMU's network does not move).
                self.leased = false;
                self.apply(
                    FALLBACK_ADDR,
                    FALLBACK_PREFIX,
                    FALLBACK_GATEWAY,
                    [FALLBACK_DNS, [0; 4]],
                );
            }
            None => {}
        }
        if self.addr.is_none() {
            let at = self.started_ns + FALLBACK_NS;
            if now_ns >= at {
                self.apply(
                    FALLBACK_ADDR,
                    FALLBACK_PREFIX,
                    FALLBACK_GATEWAY,
                    [FALLBACK_DNS, [0; 4]],
                );
                libway::println!("netd: no DHCP lease after 3 s: static 10.0.2.15/24 gw 10.0.2.2");
            } else {
                return Some(at);
            }
        }
        None
    }

    /// Gives eth0 (and lo, as a second address) `addr/prefix`, the default route and DNS.
    fn apply(&mut self, addr: [u8; 4], prefix: u8, gw: [u8; 4], dns: [[u8; 4]; 2]) {
        let Some(eth) = self.eth.as_mut() else { return };
        let cidr = IpCidr::Ipv4(Ipv4Cidr::new(v4(addr), prefix));
        eth.iface.update_ip_addrs(|a| {
            a.clear();
            let _ = a.push(cidr);
        });
        if gw != [0; 4] {
            let _ = eth.iface.routes_mut().add_default_ipv4_route(v4(gw));
        } else {
            eth.iface.routes_mut().remove_default_ipv4_route();
        }
        let servers: Vec<IpAddress> = dns
            .iter()
            .filter(|d| **d != [0; 4])
            .map(|&d| IpAddress::Ipv4(v4(d)))
            .collect();
        if let Some(h) = self.dns {
            eth.sockets
                .get_mut::<dns::Socket>(h)
                .update_servers(&servers);
        }
        self.lo.iface.update_ip_addrs(|a| {
            a.clear();
            let _ = a.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8));
            let _ = a.push(IpCidr::Ipv4(Ipv4Cidr::new(v4(addr), 32)));
        });
        if self.addr != Some((addr, prefix)) {
            let [a, b, c, d] = addr;
            let [g0, g1, g2, g3] = gw;
            libway::println!("netd: eth0 {a}.{b}.{c}.{d}/{prefix} gw {g0}.{g1}.{g2}.{g3}");
        }
        self.addr = Some((addr, prefix));
        self.gateway = gw;
        self.dns_servers = dns;
    }

    /// The DNS socket and eth0's context, to start or read a query.
    pub fn dns(&mut self) -> Option<(&mut Interface, &mut dns::Socket<'static>)> {
        let h = self.dns?;
        let eth = self.eth.as_mut()?;
        Some((&mut eth.iface, eth.sockets.get_mut::<dns::Socket>(h)))
    }

    /// The frame counters (the ring's) and this stack's, as `STATS` reports them.
    pub fn stats(&self) -> [u64; 16] {
        let mut out = self.counters.all();
        if let Some(e) = &self.eth {
            let ring = e.dev.counters.all();
            for (o, r) in out.iter_mut().zip(ring) {
                *o += r;
            }
        }
        out
    }

    /// Interface `index` (0 lo, 1 eth0) as `IFINFO` reports it.
    pub fn ifinfo(&self, index: usize) -> IfInfo {
        let total = if self.eth.is_some() { 2 } else { 1 };
        let mut r = IfInfo {
            total,
            ..IfInfo::default()
        };
        match index {
            LO => {
                r.name[..2].copy_from_slice(b"lo");
                r.mtu = 65535;
                r.flags = IF_UP | IF_LOOPBACK | IF_RUNNING;
                r.addr = [127, 0, 0, 1];
                r.prefix_len = 8;
                r.rx_packets = self.lo.dev.packets;
                r.rx_bytes = self.lo.dev.bytes;
                r.tx_packets = self.lo.dev.packets;
                r.tx_bytes = self.lo.dev.bytes;
            }
            ETH if self.eth.is_some() => {
                let Some(e) = &self.eth else { return r };
                r.name[..4].copy_from_slice(b"eth0");
                r.mtu = 1500;
                r.mac = e.dev.mac;
                r.flags = IF_UP;
                if let Some((a, p)) = self.addr {
                    r.addr = a;
                    r.prefix_len = p;
                    r.flags |= IF_RUNNING;
                }
                if self.leased {
                    r.flags |= IF_DHCP;
                }
                r.gateway = self.gateway;
                r.dns = self.dns_servers;
                r.rx_packets = e.dev.rx_packets.get();
                r.rx_bytes = e.dev.rx_bytes.get();
                r.tx_packets = e.dev.tx_packets.get();
                r.tx_bytes = e.dev.tx_bytes.get();
                r.rx_dropped = e.dev.rx_dropped.get();
            }
            _ => {}
        }
        r
    }
}

/// `lo`'s device: what it transmits it receives, in order. smoltcp's own loopback keeps
/// its queue private; netd needs to know when packets wait (so the loop does not sleep on
/// them) and counts them for `IFINFO`. Bounded: past [`LO_QUEUE`] packets a transmit is
/// dropped (TCP resends), so a loop of local traffic cannot eat netd's memory.
pub struct LoopDev {
    queue: VecDeque<Vec<u8>>,
    /// Where a dropped packet is built (the largest one smoltcp makes).
    scratch: Vec<u8>,
    pub packets: u64,
    pub bytes: u64,
}

const LO_QUEUE: usize = 256;

impl LoopDev {
    fn new() -> LoopDev {
        LoopDev {
            queue: VecDeque::new(),
            scratch: vec![0; 65535],
            packets: 0,
            bytes: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

impl Device for LoopDev {
    type RxToken<'a> = LoRx;
    type TxToken<'a> = LoTx<'a>;

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.max_transmission_unit = 65535;
        caps.medium = Medium::Ip;
        caps.checksum = ChecksumCapabilities::ignored();
        caps
    }

    fn receive(&mut self, _now: Instant) -> Option<(LoRx, LoTx<'_>)> {
        let buffer = self.queue.pop_front()?;
        Some((LoRx { buffer }, LoTx { dev: self }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<LoTx<'_>> {
        Some(LoTx { dev: self })
    }
}

pub struct LoRx {
    buffer: Vec<u8>,
}

impl RxToken for LoRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.buffer)
    }
}

pub struct LoTx<'a> {
    dev: &'a mut LoopDev,
}

impl TxToken for LoTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buffer = Vec::new();
        let len = len.min(self.dev.scratch.len());
        if self.dev.queue.len() >= LO_QUEUE || buffer.try_reserve_exact(len).is_err() {
            // Dropped, like a full queue (TCP resends); smoltcp builds it all the same.
            return f(&mut self.dev.scratch[..len]);
        }
        buffer.resize(len, 0);
        let r = f(&mut buffer);
        self.dev.packets += 1;
        self.dev.bytes += len as u64;
        self.dev.queue.push_back(buffer);
        r
    }
}
