//! The far-tier figures: a working set that fits the near tier but starts far, measured
//! at the start, after the migration daemon has moved it, and beside an all-near run;
//! and the daemon's own instructions per page it moved.
//!
//! The cost model (`docs/memory.md`, "The far tier's cost") charges a far page once per
//! daemon period in which it was touched, at the far tier's `access_cost_ns`. So that the
//! charge is exact here, one operation is one pass over the working set (one read of
//! every page) and the benchmark makes one pass per period, sleeping in between: every
//! access is its page's first of the period. A figure is the pass's own guest
//! instructions (one per virtual nanosecond under `-icount shift=0`) plus the charged
//! far nanoseconds, per pass. Needs two tiers and the `memtier` capability; otherwise it
//! says why and prints no figure.

use libway::abi::memtier::{
    DaemonInfo, TierInfo, INFO_DAEMON, INFO_TIERS, POLICY_AUTO, POLICY_FAR, POLICY_NEAR,
    SET_BUDGET_PAGES, SET_ENABLED, SET_PERIOD_MS, TIER_FAR,
};
use libway::abi::{mman, sys, Plain};
use libway::errno::Errno;
use libway::{println, time};

/// Pages in the working set (256 KiB: far less than any near tier).
const PAGES: usize = 64;
const PERIOD_MS: u64 = 10;
/// Passes per measured window.
const WINDOW: u64 = 20;
const PAGE: usize = mman::PAGE_SIZE;

fn info<T: Plain>(what: u32, out: &mut [T]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `size_of_val(out)` bytes of whole plain records
    // into `out`, which this function borrows mutably.
    unsafe {
        libway::sys::call(
            sys::MEMTIER_INFO,
            [
                what as usize,
                out.as_mut_ptr() as usize,
                core::mem::size_of_val(out),
                0,
                0,
                0,
            ],
        )
    }
}

fn set(param: u32, value: u64) -> Result<u64, Errno> {
    // SAFETY: only numbers; the kernel touches no memory of ours.
    unsafe {
        libway::sys::call(
            sys::MEMTIER_SET,
            [param as usize, value as usize, 0, 0, 0, 0],
        )
    }
    .map(|v| v as u64)
}

fn daemon() -> DaemonInfo {
    let mut d = [DaemonInfo::default()];
    let _ = info(INFO_DAEMON, &mut d);
    d[0]
}

/// A filled working set with tier policy `policy`.
fn working_set(policy: u32) -> Option<usize> {
    let flags = mman::MAP_PRIVATE | mman::MAP_ANONYMOUS | mman::map_policy(policy);
    let addr =
        libway::mem::mmap(0, PAGES * PAGE, mman::PROT_READ | mman::PROT_WRITE, flags).ok()?;
    for p in 0..PAGES {
        // SAFETY: inside the fresh mapping of PAGES pages.
        unsafe { ((addr + p * PAGE) as *mut u64).write_volatile(p as u64) };
    }
    Some(addr)
}

/// One pass: a read of every page.
fn pass(addr: usize) -> u64 {
    let mut sum = 0;
    for p in 0..PAGES {
        // SAFETY: inside the mapping `working_set` made.
        sum += unsafe { ((addr + p * PAGE) as *const u64).read_volatile() };
    }
    sum
}

/// `WINDOW` passes, one per period: (instructions of the passes, far accesses charged).
fn window(addr: usize) -> (u64, u64) {
    let far0 = daemon().far_accesses;
    let mut ticks = 0;
    for _ in 0..WINDOW {
        let t0 = super::now();
        core::hint::black_box(pass(addr));
        ticks += super::now() - t0;
        let _ = time::sleep_ms(PERIOD_MS);
    }
    (
        ticks * super::instructions_per_tick(),
        daemon().far_accesses - far0,
    )
}

/// Simulated nanoseconds per pass, in tenths.
fn per_pass(instr: u64, far: u64, cost_ns: u64) -> u64 {
    (instr + far * cost_ns) * 10 / WINDOW
}

fn figure(name: &str, tenths: u64, unit: &str) {
    println!(
        "{{\"system\":\"wayos\",\"bench\":\"{name}\",\"value\":{}.{},\"unit\":\"{unit}\"}}",
        tenths / 10,
        tenths % 10
    );
}

pub fn figures() {
    let mut tiers = [TierInfo::default(); 2];
    match info(INFO_TIERS, &mut tiers) {
        Ok(2) if tiers.iter().all(|t| t.total_pages > 0) => {}
        Ok(_) => {
            println!("bench: memtier figures skipped (one memory tier)");
            return;
        }
        Err(e) => {
            println!("bench: memtier figures skipped (memtier_info: {e})");
            return;
        }
    }
    let cost_ns = tiers
        .iter()
        .find(|t| t.tier == TIER_FAR)
        .map_or(0, |t| t.access_cost_ns as u64);
    let old = daemon();
    if set(SET_PERIOD_MS, PERIOD_MS).is_err() {
        println!("bench: memtier figures skipped (no memtier capability)");
        return;
    }
    let _ = set(SET_BUDGET_PAGES, 4096);
    let _ = set(SET_ENABLED, 1);

    if let Some(near) = working_set(POLICY_NEAR) {
        let (instr, far) = window(near);
        figure(
            "memtier_all_near_ns_per_pass",
            per_pass(instr, far, cost_ns),
            "ns/op",
        );
        // SAFETY: the mapping is ours and nothing refers to it any more.
        let _ = unsafe { libway::mem::munmap(near, PAGES * PAGE) };
    }
    if let Some(set_addr) = working_set(POLICY_FAR) {
        // SAFETY: only the policy of our own mapping changes.
        let _ = unsafe {
            libway::sys::call(
                sys::MEM_ADVISE,
                [set_addr, PAGES * PAGE, POLICY_AUTO as usize, 0, 0, 0],
            )
        };
        let d0 = daemon();
        // The first period: nothing can have moved (a page must be hot in two scans).
        let t0 = super::now();
        core::hint::black_box(pass(set_addr));
        let first = (super::now() - t0) * super::instructions_per_tick();
        let _ = time::sleep_ms(PERIOD_MS);
        let far = daemon().far_accesses - d0.far_accesses;
        figure(
            "memtier_far_start_ns_per_pass",
            (first + far * cost_ns) * 10,
            "ns/op",
        );
        // Let the daemon work, a pass per period, until the set is near (bounded).
        let mut periods = 0;
        while daemon().promoted < d0.promoted + PAGES as u64 && periods < 500 {
            core::hint::black_box(pass(set_addr));
            let _ = time::sleep_ms(PERIOD_MS);
            periods += 1;
        }
        let d1 = daemon();
        let (instr, far) = window(set_addr);
        figure(
            "memtier_after_daemon_ns_per_pass",
            per_pass(instr, far, cost_ns),
            "ns/op",
        );
        let moved = (d1.promoted + d1.demoted).saturating_sub(d0.promoted + d0.demoted);
        // busy_ns counts guest nanoseconds, one instruction each under icount.
        let busy = d1.busy_ns - d0.busy_ns;
        if let Some(per_page) = (busy * 10).checked_div(moved) {
            figure(
                "memtier_daemon_instr_per_moved_page",
                per_page,
                "instructions/page",
            );
        } else {
            println!("bench: the daemon moved nothing in {periods} periods");
        }
        // SAFETY: as above.
        let _ = unsafe { libway::mem::munmap(set_addr, PAGES * PAGE) };
    }
    let _ = set(SET_PERIOD_MS, old.period_ms as u64);
    let _ = set(SET_BUDGET_PAGES, old.budget_pages as u64);
    let _ = set(SET_ENABLED, old.enabled as u64);
}
