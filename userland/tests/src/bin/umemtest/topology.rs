//! The tiers the kernel found, against what the harness told QEMU (`TIERS_KEY` on the
//! kernel command line) or, typed at the shell without the key, against themselves.

use alloc::format;

use libway::abi::harness::{
    parse_tiers, FAR_BANDWIDTH_MBPS, FAR_DISTANCE, FAR_LATENCY_NS, NEAR_BANDWIDTH_MBPS,
    NEAR_DISTANCE, NEAR_LATENCY_NS, TIERS_KEY,
};
use libway::abi::memtier::{
    TierInfo, NS_PER_DISTANCE, SOURCE_ACPI, SOURCE_DEVICE_TREE, SOURCE_NONE, TIER_FAR, TIER_NEAR,
};
use libway::memtier;
use libway::process;
use libway::suite::{expect_eq, Check, Context, Suite};

use super::Machine;

/// Pages per MiB.
const PER_MIB: u64 = 256;

pub fn run(s: &mut Suite, m: &Machine) {
    s.check("tiers_consistent", consistent(m));
    s.check("procs_list_has_this_process", procs_list(m));
    match given() {
        Some((near, far)) => {
            s.check("tier_count_matches_qemu", tier_count(m, far));
            s.check("tier_sizes_match_qemu", sizes(m, near, far));
            s.check("tier_figures_match_firmware", figures(m, far));
        }
        None => s.skip(
            "the tier sizes and figures compared with QEMU's",
            "no wayos.tiers key: not booted by cargo xtask test",
        ),
    }
}

/// `(near MiB, far MiB)` from the kernel command line, if the harness put it there.
fn given() -> Option<(u64, u64)> {
    let line = process::cmdline().ok()?;
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(TIERS_KEY)?.strip_prefix('='))
        .and_then(parse_tiers)
}

/// What holds on any machine: one or two tiers, near first, free within total, one
/// source for both, distinct nodes, far never cheaper than near when both are given.
fn consistent(m: &Machine) -> Check {
    let t = &m.tiers;
    if t.is_empty() || t.len() > 2 {
        return Err(format!("{} tiers reported", t.len()));
    }
    expect_eq(t[0].tier, TIER_NEAR).context("first tier")?;
    for x in t {
        if x.free_pages > x.total_pages || x.total_pages == 0 {
            return Err(format!(
                "tier {}: {} free of {} pages",
                x.tier, x.free_pages, x.total_pages
            ));
        }
    }
    // Asking again with room for exactly one record still says how many there are.
    let again = memtier::tiers().context("memtier_info")?;
    expect_eq(again.len(), t.len()).context("tier count stable")?;
    if let [near, far] = &t[..] {
        expect_eq(far.tier, TIER_FAR).context("second tier")?;
        expect_eq(far.source, near.source).context("one source")?;
        if near.source == SOURCE_NONE {
            return Err("two tiers with no firmware source".into());
        }
        if near.node == far.node {
            return Err(format!("both tiers on node {}", near.node));
        }
        if near.read_latency_ns != 0 && far.read_latency_ns < near.read_latency_ns {
            return Err(format!(
                "far latency {} ns below near {} ns",
                far.read_latency_ns, near.read_latency_ns
            ));
        }
    }
    Ok(())
}

/// This process has pages, so it is in the list, near (its default policy is near).
fn procs_list(m: &Machine) -> Check {
    let all = memtier::procs().context("memtier_info(INFO_PROCS)")?;
    let me = all.iter().find(|p| p.pid == m.pid).ok_or(format!(
        "pid {} not among {} records",
        m.pid,
        all.len()
    ))?;
    if me.near_pages == 0 {
        return Err("no near pages for a running process".into());
    }
    if all.windows(2).any(|w| w[0].pid >= w[1].pid) {
        return Err("records not in pid order".into());
    }
    expect_eq(me.policy, libway::abi::memtier::POLICY_NEAR).context("default policy")
}

fn tier_count(m: &Machine, far_mib: u64) -> Check {
    let want = if far_mib > 0 { 2 } else { 1 };
    expect_eq(m.tiers.len(), want).context("tiers for the NUMA nodes QEMU was given")
}

/// Each tier holds at most its node's pages. Firmware, loader, kernel and frame
/// descriptors take some: near keeps at least 3/4 of its node; far at least 3/8, since
/// OVMF puts its own data, the loader, the kernel and the initramfs at the top of memory
/// below 4 GiB, which on a 512 MiB machine is the far node (about 50 MiB of 128, and
/// some 66 MiB since test boots attach two virtio-blk disks, which OVMF's drivers probe
/// for boot files); both together keep at least 3/4 of all memory.
fn sizes(m: &Machine, near_mib: u64, far_mib: u64) -> Check {
    let within = |t: &TierInfo, mib: u64, num: u64, den: u64| {
        let most = mib * PER_MIB;
        if t.total_pages > most || t.total_pages * den < most * num {
            Err(format!(
                "tier {}: {} pages for a {mib} MiB node",
                t.tier, t.total_pages
            ))
        } else {
            Ok(())
        }
    };
    let near = m.tiers.first().ok_or("no tiers")?;
    within(near, near_mib, 3, 4)?;
    let mut total = near.total_pages;
    if far_mib > 0 {
        let far = m.tiers.get(1).ok_or("no far tier")?;
        within(far, far_mib, 3, 8)?;
        total += far.total_pages;
    }
    let all = (near_mib + far_mib) * PER_MIB;
    if total * 4 < all * 3 {
        return Err(format!(
            "{total} pages in all for {} MiB",
            near_mib + far_mib
        ));
    }
    Ok(())
}

/// The latency and bandwidth xtask gave the firmware, as the kernel read them back: HMAT
/// figures on x86_64, distances (times 10 ns) on aarch64.
fn figures(m: &Machine, far_mib: u64) -> Check {
    let Some(far) = m.tiers.get(1) else {
        return expect_eq(far_mib, 0).context("a far tier");
    };
    let near = &m.tiers[0];
    expect_eq((near.node, far.node), (0, 1)).context("nodes")?;
    if cfg!(target_arch = "x86_64") {
        expect_eq(near.source, SOURCE_ACPI).context("source")?;
        expect_eq(
            [
                near.read_latency_ns,
                far.read_latency_ns,
                near.bandwidth_mbps,
                far.bandwidth_mbps,
            ],
            [
                NEAR_LATENCY_NS,
                FAR_LATENCY_NS,
                NEAR_BANDWIDTH_MBPS,
                FAR_BANDWIDTH_MBPS,
            ],
        )
        .context("HMAT latency and bandwidth")
    } else {
        expect_eq(near.source, SOURCE_DEVICE_TREE).context("source")?;
        expect_eq(
            [near.read_latency_ns, far.read_latency_ns],
            [
                NEAR_DISTANCE * NS_PER_DISTANCE,
                FAR_DISTANCE * NS_PER_DISTANCE,
            ],
        )
        .context("distance-map latencies")
    }
}
