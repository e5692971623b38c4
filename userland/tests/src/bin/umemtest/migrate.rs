//! `umemtest`'s migration checks: the daemon moves a hot far working set up and a cold
//! near one down, keeps data intact while threads on several CPUs read and write it,
//! migrates copy-on-write and MAP_SHARED pages with their sharing intact, and leaves a
//! granted page alone.
//!
//! Each check sets a short period and a large budget with `memtier_set` when it holds the
//! `memtier` capability (under the harness), else uses the daemon as it runs (typed at
//! the shell: on by default, a scan a second), waits for the daemon's counters and this
//! process's placement with a bounded timeout, and restores the settings. Placement comes from the mapping's policy bits
//! (`mman::map_policy`): a working set starts far by asking for FAR, then `mem_advise`
//! makes it AUTO, so only the daemon can bring it near. Page tiers are observed through
//! `memtier_info(INFO_PROCS)` (this process's near and far page counts), expected values
//! are computed from the number of pages the check made.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use libway::abi::memtier::{
    DaemonInfo, ProcPlacement, POLICY_AUTO, POLICY_FAR, SET_BUDGET_PAGES, SET_ENABLED,
    SET_PERIOD_MS,
};
use libway::abi::mman::{
    map_policy, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE,
};
use libway::abi::{errno, ipc, sys};
use libway::errno::Errno;
use libway::suite::{expect_exit, in_child, wait_for, Check, Suite};
use libway::{io, mem, memtier, process, thread, time};

const PAGE: usize = 4096;
/// How long a check waits for the daemon (TCG on a busy host; the period is 20 ms under
/// the harness, 1 s by default).
const WAIT_MS: u64 = 30_000;

fn daemon() -> Result<DaemonInfo, String> {
    memtier::daemon().map_err(|e| format!("memtier_info(daemon): {e}"))
}

fn my_placement() -> Result<ProcPlacement, String> {
    let me = process::getpid().map_err(|e| format!("getpid: {e}"))? as u64;
    memtier::placement_of(me).map_err(|e| format!("memtier_info(procs): {e}"))
}

/// Why the checks cannot run here, if they cannot: one tier, or a daemon that is off
/// when this process may not turn it on.
fn cannot_run() -> Option<String> {
    match memtier::tiers() {
        Ok(t) if t.len() >= 2 && t.iter().all(|t| t.total_pages > 0) => {}
        Ok(_) => return Some(String::from("one memory tier on this machine")),
        Err(e) => return Some(format!("memtier_info: {e}")),
    }
    let on = match memtier::daemon() {
        Ok(d) => d.enabled != 0,
        Err(e) => return Some(format!("memtier_info(daemon): {e}")),
    };
    match memtier::set(SET_BUDGET_PAGES, 0) {
        Err(Errno(errno::EPERM)) if !on => Some(String::from(
            "the daemon is off and this process lacks the memtier capability to start it",
        )),
        _ => None,
    }
}

/// The daemon's settings, set fast for a check and put back when dropped. Without the
/// `memtier` capability (typed at the shell) the daemon keeps its own settings (on by
/// default: a scan a second, 256 pages) and the checks wait for it within `WAIT_MS`.
struct FastDaemon(Option<DaemonInfo>);

impl FastDaemon {
    fn new() -> Result<FastDaemon, String> {
        let old = daemon()?;
        match memtier::set(SET_PERIOD_MS, 20) {
            Ok(_) => {}
            Err(Errno(errno::EPERM)) => return Ok(FastDaemon(None)),
            Err(e) => return Err(format!("memtier_set(period): {e}")),
        }
        let fast = FastDaemon(Some(old));
        memtier::set(SET_BUDGET_PAGES, 4096).map_err(|e| format!("memtier_set(budget): {e}"))?;
        memtier::set(SET_ENABLED, 1).map_err(|e| format!("memtier_set(enabled): {e}"))?;
        Ok(fast)
    }
}

impl Drop for FastDaemon {
    fn drop(&mut self) {
        if let Some(old) = self.0 {
            let _ = memtier::set(SET_PERIOD_MS, old.period_ms);
            let _ = memtier::set(SET_BUDGET_PAGES, old.budget_pages);
            let _ = memtier::set(SET_ENABLED, old.enabled);
        }
    }
}

/// `pages` anonymous pages with tier policy `policy`, each page filled with
/// [`word`]s of `seed` (so touching them places them).
fn map_filled(pages: usize, shared: bool, policy: u32, seed: u64) -> Result<usize, String> {
    let kind = if shared { MAP_SHARED } else { MAP_PRIVATE };
    let addr = mem::mmap(
        0,
        pages * PAGE,
        PROT_READ | PROT_WRITE,
        kind | MAP_ANONYMOUS | map_policy(policy),
    )
    .map_err(|e| format!("mmap: {e}"))?;
    for i in 0..pages * PAGE / 8 {
        write(addr, i, word(seed, i));
    }
    Ok(addr)
}

/// The value word `i` of a region filled from `seed` holds.
fn word(seed: u64, i: usize) -> u64 {
    (seed ^ i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

fn read(addr: usize, i: usize) -> u64 {
    // SAFETY: callers pass mappings this module made and still holds, `i` inside them.
    unsafe { core::ptr::read_volatile((addr as *const u64).add(i)) }
}

fn write(addr: usize, i: usize, v: u64) {
    // SAFETY: as for `read`; the mapping is writable.
    unsafe { core::ptr::write_volatile((addr as *mut u64).add(i), v) }
}

/// The first word of `pages` pages at `addr` that does not hold what `seed` filled in.
fn verify(addr: usize, pages: usize, seed: u64) -> Result<(), String> {
    for i in 0..pages * PAGE / 8 {
        let got = read(addr, i);
        if got != word(seed, i) {
            return Err(format!(
                "word {i} (page {}) is {got:#x}, filled as {:#x}",
                i * 8 / PAGE,
                word(seed, i)
            ));
        }
    }
    Ok(())
}

/// Reads one word of every page.
fn touch(addr: usize, pages: usize) -> u64 {
    (0..pages).fold(0, |acc, p| acc ^ read(addr, p * PAGE / 8))
}

fn now_ms() -> u64 {
    time::monotonic_ns().unwrap_or(0) / 1_000_000
}

/// Touches `pages` pages at `addr` until `done` says so, or fails after [`WAIT_MS`].
fn touch_until(
    addr: usize,
    pages: usize,
    what: &str,
    mut done: impl FnMut() -> Result<bool, String>,
) -> Check {
    let start = now_ms();
    let mut sink = 0;
    loop {
        for _ in 0..8 {
            sink ^= touch(addr, pages);
        }
        if done()? {
            core::hint::black_box(sink);
            return Ok(());
        }
        if now_ms().saturating_sub(start) > WAIT_MS {
            return Err(format!("{what} not seen within {WAIT_MS} ms"));
        }
        let _ = process::sched_yield();
    }
}

fn unmap(addr: usize, pages: usize) {
    // SAFETY: the mapping was made by this module and nothing refers to it any more.
    let _ = unsafe { mem::munmap(addr, pages * PAGE) };
}

/// A hot AUTO working set that starts far is promoted: the daemon counts the moves and
/// this process's far pages go down by (at least) the set's size; the data survives.
fn hot_far_set_moves_up() -> Check {
    const N: usize = 32;
    let _fast = FastDaemon::new()?;
    let addr = map_filled(N, false, POLICY_FAR, 1)?;
    let before = my_placement()?;
    if before.far_pages < N as u64 {
        return Err(format!("{N} FAR pages made, {} far", before.far_pages));
    }
    memtier::advise(addr, N * PAGE, POLICY_AUTO).map_err(|e| format!("mem_advise: {e}"))?;
    let d0 = daemon()?;
    touch_until(addr, N, "promotion", || {
        let d = daemon()?;
        let p = my_placement()?;
        Ok(d.promoted >= d0.promoted + N as u64 && p.far_pages + N as u64 <= before.far_pages)
    })?;
    let d = daemon()?;
    if d.far_accesses <= d0.far_accesses {
        return Err(String::from(
            "far accesses were not counted while the set was far",
        ));
    }
    verify(addr, N, 1)?;
    unmap(addr, N);
    Ok(())
}

/// A cold AUTO working set in the near tier is demoted: near pages go down by its size.
fn cold_near_set_moves_down() -> Check {
    const N: usize = 32;
    let _fast = FastDaemon::new()?;
    let before = my_placement()?;
    let addr = map_filled(N, false, POLICY_AUTO, 2)?;
    let placed = my_placement()?;
    if placed.near_pages < before.near_pages + N as u64 {
        return Err(format!(
            "{N} AUTO pages made with near room, near went {} -> {}",
            before.near_pages, placed.near_pages
        ));
    }
    let d0 = daemon()?;
    let start = now_ms();
    loop {
        let d = daemon()?;
        let p = my_placement()?;
        if d.demoted >= d0.demoted + N as u64 && p.far_pages >= placed.far_pages + N as u64 {
            break;
        }
        if now_ms().saturating_sub(start) > WAIT_MS {
            return Err(format!(
                "demotion not seen within {WAIT_MS} ms (demoted +{}, far {} -> {})",
                d.demoted - d0.demoted,
                placed.far_pages,
                p.far_pages
            ));
        }
        let _ = time::sleep_ms(10);
    }
    verify(addr, N, 2)?;
    unmap(addr, N);
    Ok(())
}

static STOP: AtomicBool = AtomicBool::new(false);
static ROUNDS: AtomicU64 = AtomicU64::new(0);

/// Threads (on every CPU the scheduler spreads them to) write and read back their own
/// words of a far AUTO working set while the daemon promotes it: no write is lost, no
/// read sees another value than the last one written.
fn data_intact_under_threads() -> Check {
    const N: usize = 64;
    const THREADS: usize = 4;
    let _fast = FastDaemon::new()?;
    let addr = map_filled(N, false, POLICY_FAR, 3)?;
    memtier::advise(addr, N * PAGE, POLICY_AUTO).map_err(|e| format!("mem_advise: {e}"))?;
    let d0 = daemon()?;
    STOP.store(false, Ordering::Relaxed);
    let mut workers = Vec::new();
    for t in 0..THREADS {
        let w = thread::spawn(move || -> Result<(), String> {
            let mut round = 0u64;
            while !STOP.load(Ordering::Relaxed) {
                round += 1;
                // Word t of every 8-word group of every page is this thread's.
                for i in (t..N * PAGE / 8).step_by(THREADS * 2) {
                    let v = word(round << 8 | t as u64, i);
                    write(addr, i, v);
                    let got = read(addr, i);
                    if got != v {
                        return Err(format!(
                            "thread {t}: word {i} read {got:#x} after writing {v:#x}"
                        ));
                    }
                }
                ROUNDS.fetch_add(1, Ordering::Relaxed);
            }
            // Its final values, checked by the main thread.
            for i in (t..N * PAGE / 8).step_by(THREADS * 2) {
                write(addr, i, word(u64::MAX - t as u64, i));
            }
            Ok(())
        })
        .map_err(|e| format!("thread spawn: {e}"))?;
        workers.push(w);
    }
    let start = now_ms();
    let waited = loop {
        let d = daemon()?;
        if d.promoted >= d0.promoted + N as u64 {
            break Ok(());
        }
        if now_ms().saturating_sub(start) > WAIT_MS {
            break Err(format!("promotion under load not seen within {WAIT_MS} ms"));
        }
        let _ = time::sleep_ms(10);
    };
    STOP.store(true, Ordering::Relaxed);
    for w in workers {
        match w.join() {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e),
            None => return Err(String::from("a worker thread died")),
        }
    }
    waited?;
    for i in 0..N * PAGE / 8 {
        let lane = i % (THREADS * 2);
        let want = if lane < THREADS {
            word(u64::MAX - lane as u64, i)
        } else {
            word(3, i)
        };
        if read(addr, i) != want {
            return Err(format!("word {i} lost its last write across migration"));
        }
    }
    unmap(addr, N);
    Ok(())
}

/// Parent and child of a fork share `N` copy-on-write pages that start far; the parent
/// keeps them hot until they are promoted (the frames are mapped twice, so every mapping
/// must be rewritten). Then the child reads the original data and writes its own mark,
/// and the parent still sees the original data: CoW stayed private.
fn cow_pages_migrate() -> Check {
    shared_or_cow(false)
}

/// As [`cow_pages_migrate`] with MAP_SHARED pages: after the move, the child's write is
/// the parent's.
fn shared_pages_migrate() -> Check {
    shared_or_cow(true)
}

fn shared_or_cow(shared: bool) -> Check {
    const N: usize = 16;
    let seed = if shared { 5 } else { 4 };
    let _fast = FastDaemon::new()?;
    let addr = map_filled(N, shared, POLICY_FAR, seed)?;
    memtier::advise(addr, N * PAGE, POLICY_AUTO).map_err(|e| format!("mem_advise: {e}"))?;
    let (go_r, go_w) = io::pipe(true).map_err(|e| format!("pipe: {e}"))?;
    let pid = match process::fork() {
        Ok(0) => {
            let _ = io::close(go_w);
            let mut b = [0u8; 1];
            if io::read(go_r, &mut b) != Ok(1) {
                process::exit(10);
            }
            if verify(addr, N, seed).is_err() {
                process::exit(11);
            }
            write(addr, 0, 0xc0ffee);
            process::exit(if read(addr, 0) == 0xc0ffee { 0 } else { 12 });
        }
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    let _ = io::close(go_r);
    let d0 = daemon()?;
    let before = my_placement()?;
    let moved = touch_until(addr, N, "promotion of pages mapped twice", || {
        let d = daemon()?;
        let p = my_placement()?;
        Ok(d.promoted >= d0.promoted + N as u64 && p.far_pages + N as u64 <= before.far_pages)
    });
    let _ = io::write(go_w, b"g");
    let _ = io::close(go_w);
    let status = wait_for(pid, WAIT_MS)?;
    moved?;
    expect_exit(status, 0).map_err(|e| format!("child: {e}"))?;
    if shared {
        if read(addr, 0) != 0xc0ffee {
            return Err(String::from(
                "the child's write to a moved shared page is not the parent's",
            ));
        }
    } else {
        verify(addr, N, seed).map_err(|e| format!("parent after the child wrote: {e}"))?;
    }
    unmap(addr, N);
    Ok(())
}

/// A granted shared page (a memory object another process could map) is never moved,
/// however hot: the daemon counts it as pinned and the pages stay far.
fn granted_page_stays() -> Check {
    const N: usize = 8;
    let _fast = FastDaemon::new()?;
    let addr = map_filled(N, true, POLICY_FAR, 6)?;
    // SAFETY: numbers and our own mapping; the kernel reads no memory of ours.
    let handle = unsafe {
        libway::sys::call(
            sys::MEM_GRANT,
            [addr, N * PAGE, ipc::MEM_RIGHTS_ALL as usize, 0, 0, 0],
        )
    }
    .map_err(|e| format!("mem_grant: {e}"))?;
    memtier::advise(addr, N * PAGE, POLICY_AUTO).map_err(|e| format!("mem_advise: {e}"))?;
    let d0 = daemon()?;
    let before = my_placement()?;
    let r = touch_until(addr, N, "pinned pages counted", || {
        let d = daemon()?;
        Ok(d.skipped_pinned >= d0.skipped_pinned + 2 * N as u64 && d.scans >= d0.scans + 4)
    });
    let after = my_placement()?;
    let _ = libway::sys::call1(libway::sys::MemFree::HANDLE_CLOSE, handle);
    r?;
    if after.far_pages < before.far_pages {
        return Err(format!(
            "far pages went {} -> {} while the only far AUTO pages were granted",
            before.far_pages, after.far_pages
        ));
    }
    verify(addr, N, 6)?;
    unmap(addr, N);
    Ok(())
}

/// A named check of this module.
type CheckFn = fn() -> Check;

/// Runs the migration checks (or says why they are skipped).
pub fn run(suite: &mut Suite) {
    if let Some(why) = cannot_run() {
        suite.skip("migration checks", &why);
        return;
    }
    let checks: [(&str, CheckFn); 6] = [
        ("migrate_hot_far_set_moves_up", hot_far_set_moves_up),
        ("migrate_cold_near_set_moves_down", cold_near_set_moves_down),
        (
            "migrate_data_intact_under_threads",
            data_intact_under_threads,
        ),
        ("migrate_cow_pages", cow_pages_migrate),
        ("migrate_shared_pages", shared_pages_migrate),
        ("migrate_granted_page_stays", granted_page_stays),
    ];
    for (name, f) in checks {
        // In a child, so a check's mappings and a fault it may cause stay there.
        let r = in_child(|| match f() {
            Ok(()) => 0,
            Err(e) => {
                libway::eprintln!("{name}: {e}");
                1
            }
        });
        suite.check(
            name,
            r.and_then(|s| expect_exit(s, 0))
                .map_err(|e| format!("{e} (reason above)")),
        );
    }
}
