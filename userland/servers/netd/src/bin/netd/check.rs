//! What netd checks in every frame from the wire before smoltcp sees it, and the counters
//! it keeps (`wayos_abi::netd::STAT_NAMES`).
//!
//! smoltcp drops malformed input without telling anyone; netd must show the drops (`netstat
//! -s`), so it looks first: Ethernet destination, IPv4 header (version, lengths, header
//! checksum, fragments — smoltcp is built without reassembly), TCP/UDP/ICMP lengths and
//! checksums. A frame that fails is dropped and counted under one reason; one that passes
//! is counted by kind and handed on unchanged. Also drops a SYN to a listener whose
//! backlog is full (`syn_dropped`), as Linux does, so the client retries instead of
//! being reset. Pure functions of the bytes: nothing here trusts a length it has not
//! checked against the frame, and nothing can panic on any input.

use core::cell::Cell;

/// Indices into [`Counters`], in `STAT_NAMES` order.
pub const FRAMES_IN: usize = 0;
pub const FRAMES_OUT: usize = 1;
pub const MALFORMED: usize = 2;
pub const BAD_CHECKSUM: usize = 3;
pub const FRAGMENTS: usize = 4;
pub const NOT_FOR_US: usize = 5;
pub const ARP_IN: usize = 6;
pub const ICMP_ECHO_IN: usize = 7;
pub const TCP_IN: usize = 8;
pub const UDP_IN: usize = 9;
pub const SYN_DROPPED: usize = 10;
pub const DHCP_LEASES: usize = 11;
pub const DNS_QUERIES: usize = 12;
pub const SOCKETS_OPEN: usize = 13;
pub const SOCKETS_REFUSED: usize = 14;
pub const TX_RING_FULL: usize = 15;

const _: () = assert!(libway::abi::netd::STAT_NAMES.len() == 16);

/// The counters (cells, so that the device's tokens can count through a shared borrow).
#[derive(Default)]
pub struct Counters([Cell<u64>; 16]);

impl Counters {
    pub fn bump(&self, i: usize) {
        self.add(i, 1);
    }

    pub fn add(&self, i: usize, n: u64) {
        self.0[i].set(self.0[i].get().wrapping_add(n));
    }

    pub fn set(&self, i: usize, v: u64) {
        self.0[i].set(v);
    }

    pub fn all(&self) -> [u64; 16] {
        core::array::from_fn(|i| self.0[i].get())
    }
}

const ETH_HEADER: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The ones'-complement sum of `bytes` (odd length padded with a zero), folded, added to
/// `start`.
fn sum(start: u32, bytes: &[u8]) -> u32 {
    let mut s = start;
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        s = s.wrapping_add(u16::from_be_bytes([c[0], c[1]]) as u32);
    }
    if let [last] = chunks.remainder() {
        s = s.wrapping_add((*last as u32) << 8);
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s
}

/// True when `bytes` (with `start` folded in) sum to all ones: the checksum is right.
fn checks_out(start: u32, bytes: &[u8]) -> bool {
    sum(start, bytes) == 0xffff
}

/// The IPv4 pseudo-header sum for a transport checksum.
fn pseudo(ip: &[u8], proto: u8, len: usize) -> u32 {
    let mut s = sum(0, &ip[12..20]);
    s += proto as u32;
    s += len as u32;
    s
}

/// Checks one frame from the wire, counts it, and says whether smoltcp should see it.
/// `mac` is ours; `syn_blocked` the ports whose listeners' backlogs are full.
pub fn frame(f: &[u8], mac: &[u8; 6], syn_blocked: &[u16], c: &Counters) -> bool {
    c.bump(FRAMES_IN);
    let verdict = classify(f, mac, syn_blocked);
    match verdict {
        Ok(kind) => {
            if let Some(k) = kind {
                c.bump(k);
            }
            true
        }
        Err(reason) => {
            if reason == SYN_DROPPED {
                c.bump(TCP_IN);
            }
            c.bump(reason);
            false
        }
    }
}

/// `Ok(counter of its kind)` or `Err(counter of the drop reason)`.
fn classify(f: &[u8], mac: &[u8; 6], syn_blocked: &[u16]) -> Result<Option<usize>, usize> {
    if f.len() < ETH_HEADER {
        return Err(MALFORMED);
    }
    let dst = &f[..6];
    let group = dst[0] & 1 != 0; // broadcast and multicast
    if !group && dst != mac {
        return Err(NOT_FOR_US);
    }
    match be16(f, 12) {
        ETHERTYPE_ARP => {
            if f.len() < ETH_HEADER + 28 {
                return Err(MALFORMED);
            }
            Ok(Some(ARP_IN))
        }
        ETHERTYPE_IPV4 => ipv4(&f[ETH_HEADER..], syn_blocked),
        // IPv6 and the rest: this stack does not speak them.
        _ => Err(NOT_FOR_US),
    }
}

fn ipv4(p: &[u8], syn_blocked: &[u16]) -> Result<Option<usize>, usize> {
    if p.len() < 20 || p[0] >> 4 != 4 {
        return Err(MALFORMED);
    }
    let ihl = (p[0] & 0xf) as usize * 4;
    if ihl < 20 || ihl > p.len() {
        return Err(MALFORMED);
    }
    let total = be16(p, 2) as usize;
    if total < ihl || total > p.len() {
        return Err(MALFORMED);
    }
    if !checks_out(0, &p[..ihl]) {
        return Err(BAD_CHECKSUM);
    }
    let frag = be16(p, 6);
    // More fragments, or an offset: smoltcp has no reassembly here.
    if frag & 0x2000 != 0 || frag & 0x1fff != 0 {
        return Err(FRAGMENTS);
    }
    let proto = p[9];
    let body = &p[ihl..total];
    match proto {
        PROTO_ICMP => {
            if body.len() < 8 {
                return Err(MALFORMED);
            }
            if !checks_out(0, body) {
                return Err(BAD_CHECKSUM);
            }
            Ok((body[0] == 8).then_some(ICMP_ECHO_IN))
        }
        PROTO_TCP => {
            if body.len() < 20 {
                return Err(MALFORMED);
            }
            let off = (body[12] >> 4) as usize * 4;
            if off < 20 || off > body.len() {
                return Err(MALFORMED);
            }
            if !checks_out(pseudo(p, PROTO_TCP, body.len()), body) {
                return Err(BAD_CHECKSUM);
            }
            let flags = body[13];
            let (syn, ack) = (flags & 0x02 != 0, flags & 0x10 != 0);
            if syn && !ack && syn_blocked.contains(&be16(body, 2)) {
                return Err(SYN_DROPPED);
            }
            Ok(Some(TCP_IN))
        }
        PROTO_UDP => {
            if body.len() < 8 {
                return Err(MALFORMED);
            }
            let len = be16(body, 4) as usize;
            if len < 8 || len > body.len() {
                return Err(MALFORMED);
            }
            let csum = be16(body, 6);
            if csum != 0 && !checks_out(pseudo(p, PROTO_UDP, len), &body[..len]) {
                return Err(BAD_CHECKSUM);
            }
            Ok(Some(UDP_IN))
        }
        _ => Ok(None),
    }
}
