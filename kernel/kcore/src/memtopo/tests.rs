extern crate std;

use std::vec::Vec;

use super::*;

/// A table with `sig`, `pre` bytes after the header, then `body`, checksum fixed.
fn table(sig: &[u8; 4], pre: usize, body: &[u8]) -> Vec<u8> {
    let mut t = std::vec![0u8; SDT_HEADER_LEN + pre];
    t[..4].copy_from_slice(sig);
    t.extend_from_slice(body);
    let len = t.len() as u32;
    t[4..8].copy_from_slice(&len.to_le_bytes());
    let sum = t.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    t[9] = 0u8.wrapping_sub(sum);
    t
}

fn mem_affinity(domain: u32, base: u64, len: u64, enabled: bool) -> Vec<u8> {
    let mut e = std::vec![0u8; 40];
    e[0] = 1;
    e[1] = 40;
    e[2..6].copy_from_slice(&domain.to_le_bytes());
    e[8..16].copy_from_slice(&base.to_le_bytes());
    e[16..24].copy_from_slice(&len.to_le_bytes());
    e[28..32].copy_from_slice(&u32::from(enabled).to_le_bytes());
    e
}

fn lapic_affinity(domain: u32, apic: u8) -> Vec<u8> {
    let mut e = std::vec![0u8; 16];
    e[0] = 0;
    e[1] = 16;
    e[2] = domain as u8;
    e[3] = apic;
    e[4] = 1;
    e[9..12].copy_from_slice(&domain.to_le_bytes()[1..4]);
    e
}

fn srat(entries: &[Vec<u8>]) -> Vec<u8> {
    table(b"SRAT", 12, &entries.concat())
}

/// A memory-level latency/bandwidth structure, as QEMU's `build_hmat_lb` lays it out.
fn lb(data_type: u8, base: u64, inits: &[u32], targets: &[u32], entries: &[u16]) -> Vec<u8> {
    let mut e = std::vec![0u8; 32];
    e[0..2].copy_from_slice(&1u16.to_le_bytes());
    e[9] = data_type;
    e[12..16].copy_from_slice(&(inits.len() as u32).to_le_bytes());
    e[16..20].copy_from_slice(&(targets.len() as u32).to_le_bytes());
    e[24..32].copy_from_slice(&base.to_le_bytes());
    for d in inits.iter().chain(targets) {
        e.extend_from_slice(&d.to_le_bytes());
    }
    for v in entries {
        e.extend_from_slice(&v.to_le_bytes());
    }
    let len = e.len() as u32;
    e[4..8].copy_from_slice(&len.to_le_bytes());
    e
}

const MIB: u64 = 1 << 20;

fn qemu_like_srat() -> Vec<u8> {
    srat(&[
        lapic_affinity(0, 0),
        lapic_affinity(0, 1),
        mem_affinity(0, 0, 640 << 10, true),
        mem_affinity(0, MIB, 383 * MIB, true),
        mem_affinity(1, 384 * MIB, 128 * MIB, true),
        mem_affinity(0, 0, 0, false), // hot-plug placeholder
    ])
}

#[test]
fn srat_ranges_domains_and_cpu() {
    let s = parse_srat(&qemu_like_srat()).expect("valid");
    assert_eq!(s.ranges().len(), 3, "disabled entry skipped");
    assert_eq!(
        s.ranges()[2],
        MemAffinity {
            domain: 1,
            base: 384 * MIB,
            end: 512 * MIB
        }
    );
    assert_eq!(s.cpu_domain, Some(0));
    assert_eq!(s.domain_bytes(1), 128 * MIB);
    assert_eq!(s.domain_bytes(0), 383 * MIB + (640 << 10));
    assert_eq!(s.near_domain(), Some(0), "the processors' domain");
    // Processors in a domain without memory: the largest domain.
    let t = srat(&[
        lapic_affinity(7, 0),
        mem_affinity(0, 0, 64 * MIB, true),
        mem_affinity(1, 64 * MIB, 128 * MIB, true),
    ]);
    assert_eq!(parse_srat(&t).expect("valid").near_domain(), Some(1));
    // Processors with the smaller domain: still near.
    let t = srat(&[
        lapic_affinity(0, 0),
        mem_affinity(0, 0, 64 * MIB, true),
        mem_affinity(1, 64 * MIB, 128 * MIB, true),
    ]);
    assert_eq!(parse_srat(&t).expect("valid").near_domain(), Some(0));
    assert_eq!(parse_srat(&srat(&[])).expect("valid").near_domain(), None);
}

#[test]
fn srat_rejects_bad_tables() {
    let mut t = qemu_like_srat();
    t[20] ^= 1;
    assert_eq!(parse_srat(&t).unwrap_err(), TableError::Checksum);
    let t = qemu_like_srat();
    assert_eq!(
        parse_srat(&t[..t.len() - 1]).unwrap_err(),
        TableError::Truncated
    );
    assert_eq!(parse_srat(&t[..10]).unwrap_err(), TableError::Truncated);
    let mut w = t.clone();
    w[0] = b'X';
    assert_eq!(parse_srat(&w).unwrap_err(), TableError::Signature);
    // A memory entry claiming to be shorter than it must be.
    let mut short = mem_affinity(1, 0, MIB, true);
    short[1] = 8;
    short.truncate(8);
    assert_eq!(
        parse_srat(&srat(&[short])).unwrap_err(),
        TableError::BadEntry
    );
    // Zero length would loop forever.
    let zero = std::vec![1u8, 0];
    assert_eq!(
        parse_srat(&srat(&[zero])).unwrap_err(),
        TableError::BadEntry
    );
    // Running past the end.
    let mut long = mem_affinity(1, 0, MIB, true);
    long[1] = 200;
    assert_eq!(
        parse_srat(&srat(&[long])).unwrap_err(),
        TableError::BadEntry
    );
    // Unknown entry types are skipped.
    let odd = std::vec![9u8, 4, 0, 0];
    let s = parse_srat(&srat(&[odd, mem_affinity(3, 0, MIB, true)])).expect("valid");
    assert_eq!(s.ranges().len(), 1);
}

#[test]
fn srat_overflowing_range_saturates_and_extra_ranges_are_counted() {
    let s = parse_srat(&srat(&[mem_affinity(1, u64::MAX - 5, 100, true)])).expect("valid");
    assert_eq!(s.ranges()[0].end, u64::MAX);
    let many: Vec<Vec<u8>> = (0..MAX_RANGES as u64 + 3)
        .map(|i| mem_affinity(0, i * MIB, MIB, true))
        .collect();
    let s = parse_srat(&srat(&many)).expect("valid");
    assert_eq!(s.ranges().len(), MAX_RANGES);
    assert_eq!(s.dropped, 3);
}

fn qemu_like_hmat() -> Vec<u8> {
    // QEMU: latency in units of 1000 ps (from ns), bandwidth in units of 1 MB/s... any
    // base works: the figure is entry * base.
    let body = [
        lb(ACCESS_LATENCY, 1000, &[0], &[0, 1], &[100, 300]),
        lb(ACCESS_BANDWIDTH, 10, &[0], &[0, 1], &[2000, 500]),
    ]
    .concat();
    table(b"HMAT", 4, &body)
}

#[test]
fn hmat_pairs() {
    let h = qemu_like_hmat();
    let near = hmat_performance(&h, 0, 0).expect("valid");
    assert_eq!(
        near,
        Performance {
            read_latency_ns: Some(100),
            bandwidth_mbps: Some(20000)
        }
    );
    let far = hmat_performance(&h, 0, 1).expect("valid");
    assert_eq!(
        far,
        Performance {
            read_latency_ns: Some(300),
            bandwidth_mbps: Some(5000)
        }
    );
    let none = hmat_performance(&h, 1, 1).expect("valid");
    assert_eq!(none, Performance::default(), "initiator not listed");
}

#[test]
fn hmat_prefers_read_figures_and_skips_unusable_entries() {
    let body = [
        lb(ACCESS_LATENCY, 1000, &[0], &[1], &[300]),
        lb(READ_LATENCY, 1, &[0], &[1], &[2500]), // 2.5 ns -> 3
        lb(ACCESS_BANDWIDTH, 1, &[0], &[1], &[0xffff]),
    ]
    .concat();
    let p = hmat_performance(&table(b"HMAT", 4, &body), 0, 1).expect("valid");
    assert_eq!(
        p,
        Performance {
            read_latency_ns: Some(3),
            bandwidth_mbps: None
        }
    );
    // A cache-level structure (flags 1) says nothing about memory.
    let mut cache = lb(ACCESS_LATENCY, 1000, &[0], &[1], &[5]);
    cache[8] = 1;
    let p = hmat_performance(&table(b"HMAT", 4, &cache), 0, 1).expect("valid");
    assert_eq!(p, Performance::default());
}

#[test]
fn hmat_rejects_bad_structures() {
    // Counts that claim more entries than the structure holds.
    let mut e = lb(ACCESS_LATENCY, 1000, &[0], &[1], &[5]);
    e[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    let t = table(b"HMAT", 4, &e);
    assert_eq!(
        hmat_performance(&t, 0, 1).unwrap_err(),
        TableError::BadEntry
    );
    // A structure length of 0.
    let mut e = lb(ACCESS_LATENCY, 1000, &[0], &[1], &[5]);
    e[4..8].copy_from_slice(&0u32.to_le_bytes());
    let t = table(b"HMAT", 4, &e);
    assert_eq!(
        hmat_performance(&t, 0, 1).unwrap_err(),
        TableError::BadEntry
    );
    let t = qemu_like_hmat();
    assert_eq!(
        hmat_performance(&t[..40], 0, 1).unwrap_err(),
        TableError::Truncated
    );
}

#[test]
fn device_tree_distances() {
    let m: Vec<u8> = [[0u32, 0, 10], [0, 1, 30], [1, 0, 30], [1, 1, 10]]
        .iter()
        .flatten()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    assert_eq!(dt_distance(&m, 0, 1), Some(30));
    assert_eq!(dt_distance(&m, 1, 1), Some(10));
    assert_eq!(dt_distance(&m, 2, 1), None);
    assert_eq!(
        dt_distance(&m[..11], 0, 0),
        None,
        "a cut triplet is not read"
    );
    let t = Topology::from_device_tree(0, Some(1), Some(&m));
    assert_eq!(t.source, SOURCE_DEVICE_TREE);
    assert_eq!(t.tiers[0].read_latency_ns, 100);
    assert_eq!(t.tiers[1].read_latency_ns, 300);
    assert_eq!(t.tiers[1].node, 1);
    assert!(t.two_tiers());
    let flat = Topology::from_device_tree(0, None, None);
    assert!(!flat.two_tiers());
    assert_eq!(flat.tiers[0].read_latency_ns, 0);
}

#[test]
fn acpi_topology() {
    let s = parse_srat(&qemu_like_srat()).expect("valid");
    let h = qemu_like_hmat();
    let t = Topology::from_acpi(&s, 0, Some(&h));
    assert_eq!(t.source, SOURCE_ACPI);
    assert_eq!(
        t.tiers[0],
        TierDesc {
            present: true,
            node: 0,
            read_latency_ns: 100,
            bandwidth_mbps: 20000
        }
    );
    assert_eq!(
        t.tiers[1],
        TierDesc {
            present: true,
            node: 1,
            read_latency_ns: 300,
            bandwidth_mbps: 5000
        }
    );
    let no_hmat = Topology::from_acpi(&s, 0, None);
    assert_eq!(no_hmat.tiers[1].read_latency_ns, 0);
    let one = parse_srat(&srat(&[mem_affinity(0, 0, MIB, true)])).expect("valid");
    assert!(!Topology::from_acpi(&one, 0, Some(&h)).two_tiers());
}
