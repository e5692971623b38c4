//! Memory topology from firmware: which physical ranges are near and which far memory, and
//! what the firmware says each tier costs. Pure parsing over byte slices, host-tested with
//! tables built in the tests.
//!
//! This module owns the decoding of ACPI SRAT (memory affinity: proximity domain per
//! physical range), ACPI HMAT (latency and bandwidth per initiator/target pair) and the
//! device tree's `distance-matrix`, and the rule that turns them into two tiers
//! ([`Topology`]). It never trusts a length: every read is bounds-checked, and a malformed
//! table is an error, never a panic. It never touches memory itself; the arch layer hands
//! it the bytes.
//!
//! The tier rule: the processors' domain (else the one with the most memory) is near
//! (tier 0); every other domain is far (tier 1). One domain, or no table, is one tier.

use wayos_abi::memtier::{SOURCE_ACPI, SOURCE_DEVICE_TREE, SOURCE_NONE};

/// SRAT memory ranges kept; QEMU gives one or two per node.
pub const MAX_RANGES: usize = 32;

/// A table that cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// Shorter than its header, or its length field runs past the bytes given.
    Truncated,
    /// The bytes do not sum to 0 mod 256.
    Checksum,
    /// The signature is not the one expected.
    Signature,
    /// A sub-structure's length is too small or runs past the table.
    BadEntry,
}

/// Length of an ACPI system description table header.
pub const SDT_HEADER_LEN: usize = 36;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The table's own length from its header (bytes 4..8), checked against the bytes given.
pub fn sdt_len(header: &[u8]) -> Option<usize> {
    usize::try_from(u32_at(header, 4)?).ok()
}

/// Checks signature, length and checksum; returns the table cut to its length.
pub fn check_sdt<'a>(bytes: &'a [u8], signature: &[u8; 4]) -> Result<&'a [u8], TableError> {
    if bytes.len() < SDT_HEADER_LEN {
        return Err(TableError::Truncated);
    }
    if &bytes[..4] != signature {
        return Err(TableError::Signature);
    }
    let len = sdt_len(bytes).ok_or(TableError::Truncated)?;
    if len < SDT_HEADER_LEN || len > bytes.len() {
        return Err(TableError::Truncated);
    }
    let table = &bytes[..len];
    if table.iter().fold(0u8, |s, &b| s.wrapping_add(b)) != 0 {
        return Err(TableError::Checksum);
    }
    Ok(table)
}

/// Checks an HMAT's header and checksum (as [`check_sdt`]), for a log line.
pub fn check_sdt_hmat(bytes: &[u8]) -> Result<&[u8], TableError> {
    check_sdt(bytes, b"HMAT")
}

/// One enabled SRAT memory affinity entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemAffinity {
    pub domain: u32,
    pub base: u64,
    /// One past the last byte (saturating).
    pub end: u64,
}

/// What the SRAT says: memory ranges by domain, and the first enabled processor's domain.
#[derive(Clone, Copy, Debug)]
pub struct Srat {
    ranges: [MemAffinity; MAX_RANGES],
    len: usize,
    /// Ranges beyond [`MAX_RANGES`], counted so a log can say so.
    pub dropped: usize,
    /// Domain of the first enabled processor entry (the HMAT initiator to read).
    pub cpu_domain: Option<u32>,
}

impl Srat {
    pub fn ranges(&self) -> &[MemAffinity] {
        &self.ranges[..self.len]
    }

    /// Bytes of memory in `domain`.
    pub fn domain_bytes(&self, domain: u32) -> u64 {
        self.ranges()
            .iter()
            .filter(|r| r.domain == domain)
            .fold(0u64, |s, r| s.saturating_add(r.end - r.base))
    }

    /// The distinct domains with memory, at most `N`, in table order.
    pub fn domains<const N: usize>(&self) -> ([u32; N], usize) {
        let mut out = [0u32; N];
        let mut n = 0;
        for r in self.ranges() {
            if !out[..n].contains(&r.domain) && n < N {
                out[n] = r.domain;
                n += 1;
            }
        }
        (out, n)
    }

    /// The near domain: the processors' (the first enabled processor entry's) when it has
    /// memory, else the one with the most memory (the lowest such domain on a tie).
    /// Not the kernel image's: firmware loads it wherever it likes (OVMF: top of memory,
    /// which on QEMU's two-node machine is the far node). `None` without memory entries.
    pub fn near_domain(&self) -> Option<u32> {
        if let Some(d) = self.cpu_domain.filter(|&d| self.domain_bytes(d) > 0) {
            return Some(d);
        }
        let (doms, n) = self.domains::<MAX_RANGES>();
        doms[..n]
            .iter()
            .copied()
            .max_by_key(|&d| (self.domain_bytes(d), core::cmp::Reverse(d)))
    }
}

/// Parses an SRAT (`bytes` from its header on; checked as [`check_sdt`] does).
pub fn parse_srat(bytes: &[u8]) -> Result<Srat, TableError> {
    let t = check_sdt(bytes, b"SRAT")?;
    // Header, then 4 bytes "table revision" and 8 reserved.
    let mut at = SDT_HEADER_LEN + 12;
    if t.len() < at {
        return Err(TableError::Truncated);
    }
    let mut srat = Srat {
        ranges: [MemAffinity::default(); MAX_RANGES],
        len: 0,
        dropped: 0,
        cpu_domain: None,
    };
    while at < t.len() {
        let kind = t[at];
        let len = usize::from(*t.get(at + 1).ok_or(TableError::BadEntry)?);
        if len < 2 || at + len > t.len() {
            return Err(TableError::BadEntry);
        }
        let e = &t[at..at + len];
        match kind {
            // Processor local APIC/SAPIC affinity: domain bits 7:0 at 2, 31:8 at 9..12.
            0 if len >= 16 => {
                let enabled = u32_at(e, 4).is_some_and(|f| f & 1 != 0);
                if enabled && srat.cpu_domain.is_none() {
                    let d = u32::from(e[2])
                        | u32::from(e[9]) << 8
                        | u32::from(e[10]) << 16
                        | u32::from(e[11]) << 24;
                    srat.cpu_domain = Some(d);
                }
            }
            // Memory affinity.
            1 if len >= 40 => {
                let domain = u32_at(e, 2).ok_or(TableError::BadEntry)?;
                let base = u64_at(e, 8).ok_or(TableError::BadEntry)?;
                let size = u64_at(e, 16).ok_or(TableError::BadEntry)?;
                let flags = u32_at(e, 28).ok_or(TableError::BadEntry)?;
                if flags & 1 != 0 && size > 0 {
                    if srat.len == MAX_RANGES {
                        srat.dropped += 1;
                    } else {
                        srat.ranges[srat.len] = MemAffinity {
                            domain,
                            base,
                            end: base.saturating_add(size),
                        };
                        srat.len += 1;
                    }
                }
            }
            // Processor local x2APIC affinity: domain at 4, flags at 12.
            2 if len >= 24 => {
                let enabled = u32_at(e, 12).is_some_and(|f| f & 1 != 0);
                if enabled && srat.cpu_domain.is_none() {
                    srat.cpu_domain = u32_at(e, 4);
                }
            }
            0..=2 => return Err(TableError::BadEntry),
            _ => {}
        }
        at += len;
    }
    Ok(srat)
}

/// What HMAT says about one initiator/target pair; `None` where it says nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Performance {
    pub read_latency_ns: Option<u32>,
    pub bandwidth_mbps: Option<u32>,
}

/// HMAT data types (System Locality Latency and Bandwidth Information, ACPI 6.3 5.2.27.4).
const ACCESS_LATENCY: u8 = 0;
const READ_LATENCY: u8 = 1;
const ACCESS_BANDWIDTH: u8 = 3;
const READ_BANDWIDTH: u8 = 4;

/// Reads the memory-level latency and bandwidth from `initiator` to `target` out of an
/// HMAT. Read figures are preferred to access figures. Latency entries are in units of
/// `base` picoseconds (rounded to whole nanoseconds, at least 1), bandwidth in units of
/// `base` MB/s; entry 0 (not given) and 0xFFFF (unreachable) count as absent.
pub fn hmat_performance(
    bytes: &[u8],
    initiator: u32,
    target: u32,
) -> Result<Performance, TableError> {
    let t = check_sdt(bytes, b"HMAT")?;
    let mut at = SDT_HEADER_LEN + 4;
    if t.len() < at {
        return Err(TableError::Truncated);
    }
    let (mut lat, mut bw) = ((None, None), (None, None));
    while at < t.len() {
        let kind = u16_at(t, at).ok_or(TableError::BadEntry)?;
        let len = u32_at(t, at + 4)
            .and_then(|l| usize::try_from(l).ok())
            .ok_or(TableError::BadEntry)?;
        if len < 8 || len > t.len() - at {
            return Err(TableError::BadEntry);
        }
        let e = &t[at..at + len];
        if kind == 1 {
            if let Some((data_type, value)) = lb_entry(e, initiator, target)? {
                match data_type {
                    READ_LATENCY => lat.0 = Some(value),
                    ACCESS_LATENCY => lat.1 = Some(value),
                    READ_BANDWIDTH => bw.0 = Some(value),
                    ACCESS_BANDWIDTH => bw.1 = Some(value),
                    _ => {}
                }
            }
        }
        at += len;
    }
    let latency = lat.0.or(lat.1).map(|ps| {
        let ns = ps.div_ceil(1000).max(1);
        u32::try_from(ns).unwrap_or(u32::MAX)
    });
    let bandwidth =
        bw.0.or(bw.1)
            .map(|mbps| u32::try_from(mbps).unwrap_or(u32::MAX));
    Ok(Performance {
        read_latency_ns: latency,
        bandwidth_mbps: bandwidth,
    })
}

/// One latency/bandwidth structure's `(data type, entry * base)` for the pair, if it is a
/// memory-level structure that names both domains with a usable entry.
fn lb_entry(e: &[u8], initiator: u32, target: u32) -> Result<Option<(u8, u64)>, TableError> {
    let bad = TableError::BadEntry;
    let flags = *e.get(8).ok_or(bad)?;
    let data_type = *e.get(9).ok_or(bad)?;
    let s = u32_at(e, 12).ok_or(bad)? as usize;
    let n = u32_at(e, 16).ok_or(bad)? as usize;
    let base = u64_at(e, 24).ok_or(bad)?;
    // 32 + 4s + 4t + 2st bytes, computed without overflow.
    let lists = s.checked_add(n).and_then(|x| x.checked_mul(4)).ok_or(bad)?;
    let entries = s.checked_mul(n).and_then(|x| x.checked_mul(2)).ok_or(bad)?;
    let need = 32usize
        .checked_add(lists)
        .and_then(|x| x.checked_add(entries))
        .ok_or(bad)?;
    if need > e.len() {
        return Err(bad);
    }
    // Memory hierarchy only (0); caches describe something else.
    if flags & 0x0f != 0 {
        return Ok(None);
    }
    let find = |from: usize, count: usize, want: u32| {
        (0..count).find(|&i| u32_at(e, from + 4 * i) == Some(want))
    };
    let (Some(i), Some(j)) = (find(32, s, initiator), find(32 + 4 * s, n, target)) else {
        return Ok(None);
    };
    let entry = u16_at(e, 32 + lists + 2 * (i * n + j)).ok_or(bad)?;
    if entry == 0 || entry == 0xffff {
        return Ok(None);
    }
    Ok(Some((data_type, u64::from(entry).saturating_mul(base))))
}

/// The distance from node `from` to node `to` in a device-tree `distance-matrix`
/// property (big-endian `<from to distance>` triplets), if listed.
pub fn dt_distance(matrix: &[u8], from: u32, to: u32) -> Option<u32> {
    matrix.chunks_exact(12).find_map(|c| {
        let f = u32::from_be_bytes(c[0..4].try_into().ok()?);
        let t = u32::from_be_bytes(c[4..8].try_into().ok()?);
        let d = u32::from_be_bytes(c[8..12].try_into().ok()?);
        (f == from && t == to).then_some(d)
    })
}

/// A device-tree distance has no unit: 10 is local by convention. A tier's nominal read
/// latency is the distance times this (10 -> 100 ns), so ratios survive and the cost
/// model has nanoseconds to work with (`docs/memory.md`).
pub use wayos_abi::memtier::NS_PER_DISTANCE;

/// What the firmware says about one tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TierDesc {
    /// The tier has memory.
    pub present: bool,
    /// Firmware node (ACPI proximity domain, device-tree `numa-node-id`).
    pub node: u32,
    /// 0: not given.
    pub read_latency_ns: u32,
    /// 0: not given.
    pub bandwidth_mbps: u32,
}

/// The machine's tiers as firmware described them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Topology {
    /// `memtier::SOURCE_*`.
    pub source: u32,
    pub tiers: [TierDesc; 2],
}

impl Default for Topology {
    fn default() -> Self {
        Self::flat()
    }
}

impl Topology {
    /// One tier, nothing known about it.
    pub const fn flat() -> Self {
        Self {
            source: SOURCE_NONE,
            tiers: [
                TierDesc {
                    present: true,
                    node: 0,
                    read_latency_ns: 0,
                    bandwidth_mbps: 0,
                },
                TierDesc {
                    present: false,
                    node: 0,
                    read_latency_ns: 0,
                    bandwidth_mbps: 0,
                },
            ],
        }
    }

    /// Tiers from an SRAT (`near` its near domain, `far` the other domain, if any) and an
    /// optional HMAT read from the SRAT's CPU domain (else the near domain).
    pub fn from_acpi(srat: &Srat, near: u32, hmat: Option<&[u8]>) -> Self {
        let far = srat.ranges().iter().map(|r| r.domain).find(|&d| d != near);
        let initiator = srat.cpu_domain.unwrap_or(near);
        let perf = |target: u32| {
            hmat.and_then(|h| hmat_performance(h, initiator, target).ok())
                .unwrap_or_default()
        };
        let desc = |domain: u32| {
            let p = perf(domain);
            TierDesc {
                present: true,
                node: domain,
                read_latency_ns: p.read_latency_ns.unwrap_or(0),
                bandwidth_mbps: p.bandwidth_mbps.unwrap_or(0),
            }
        };
        Self {
            source: SOURCE_ACPI,
            tiers: [desc(near), far.map(desc).unwrap_or_default()],
        }
    }

    /// Tiers from device-tree nodes: `near` and optionally `far`, with the distance
    /// matrix (if any) giving nominal latencies.
    pub fn from_device_tree(near: u32, far: Option<u32>, matrix: Option<&[u8]>) -> Self {
        let latency = |to: u32| {
            matrix
                .and_then(|m| dt_distance(m, near, to))
                .map_or(0, |d| d.saturating_mul(NS_PER_DISTANCE))
        };
        let desc = |node: u32| TierDesc {
            present: true,
            node,
            read_latency_ns: latency(node),
            bandwidth_mbps: 0,
        };
        Self {
            source: SOURCE_DEVICE_TREE,
            tiers: [desc(near), far.map(desc).unwrap_or_default()],
        }
    }

    /// True with a far tier.
    pub fn two_tiers(&self) -> bool {
        self.tiers[1].present
    }
}

#[cfg(test)]
mod tests;
