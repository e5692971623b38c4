//! The migration daemon: a kernel thread that, every period, samples which user pages
//! were accessed, keeps a hotness estimate per frame, promotes hot far pages and demotes
//! cold near ones (`wayos_kcore::memtier` decides; `mm::space::migrate` moves), within a
//! budget of pages per scan. Also the far tier's cost model: each far page found
//! accessed in a period is one charged far access (`DaemonInfo::far_accesses`).
//!
//! Owns the daemon's settings (`memtier_set`'s `SET_ENABLED`, `SET_PERIOD_MS`,
//! `SET_BUDGET_PAGES`) and counters ([`info`]). A scan locks one address space at a time
//! for sampling and private moves; frames mapped by several spaces (copy-on-write after
//! fork, MAP_SHARED) are moved with every space locked, in pid order, by this thread only
//! (nothing else holds two space locks, so the order cannot deadlock). It must never
//! move a pinned frame (see `mm::space::migrate`), allocate from the kernel's reserve,
//! or hold a space lock longer than one scan of that space.

pub mod selftest;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use wayos_abi::memtier::DaemonInfo;
use wayos_kcore::memtier::{self, Budget, SetError, DEFAULT_BUDGET, DEFAULT_PERIOD_MS};
use wayos_kcore::paging::{PhysAddr, PteFlags, VirtAddr};

use super::pmm::{self, Tier};
use super::space::{self, AddressSpace, Deferred, Scan, ScanCounts};
use crate::arch;
use crate::error::{Errno, KResult};
use crate::sync::Mutex;
use crate::task::process::{self, Process};
use crate::task::sched;

static ENABLED: AtomicBool = AtomicBool::new(true);
static PERIOD_MS: AtomicU32 = AtomicU32::new(DEFAULT_PERIOD_MS);
static BUDGET: AtomicU32 = AtomicU32::new(DEFAULT_BUDGET);
/// Bumped by every settings change, so a sleeping daemon picks a new period up at once.
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// Set by [`request_move`]: the daemon scans at once instead of finishing its sleep.
static PENDING: AtomicBool = AtomicBool::new(false);

/// Most outstanding `mem_advise` move requests; more are dropped (the pages then move
/// by hotness, if their policy lets them), which `request_move` reports.
pub const MAX_REQUESTS: usize = 64;

/// A request to move the present pages of `[start, end)` of the address space with
/// page-table root `root` to tier `to`.
#[derive(Clone, Copy, Debug)]
pub struct MoveRequest {
    pub root: PhysAddr,
    pub start: u64,
    pub end: u64,
    pub to: Tier,
}

static REQUESTS: Mutex<Vec<MoveRequest>> = Mutex::new(Vec::new());

static SCANS: AtomicU64 = AtomicU64::new(0);
static PROMOTED: AtomicU64 = AtomicU64::new(0);
static DEMOTED: AtomicU64 = AtomicU64::new(0);
static SKIPPED_PINNED: AtomicU64 = AtomicU64::new(0);
static FAR_ACCESSES: AtomicU64 = AtomicU64::new(0);
static BUSY_NS: AtomicU64 = AtomicU64::new(0);
static NO_ROOM: AtomicU64 = AtomicU64::new(0);

/// The daemon's settings and counters (`memtier_info(INFO_DAEMON)`).
pub fn info() -> DaemonInfo {
    DaemonInfo {
        enabled: ENABLED.load(Ordering::Relaxed) as u32,
        period_ms: PERIOD_MS.load(Ordering::Relaxed),
        budget_pages: BUDGET.load(Ordering::Relaxed),
        default_policy: super::placement::system_default(),
        scans: SCANS.load(Ordering::Relaxed),
        promoted: PROMOTED.load(Ordering::Relaxed),
        demoted: DEMOTED.load(Ordering::Relaxed),
        skipped_pinned: SKIPPED_PINNED.load(Ordering::Relaxed),
        far_accesses: FAR_ACCESSES.load(Ordering::Relaxed),
        busy_ns: BUSY_NS.load(Ordering::Relaxed),
    }
}

/// `memtier_set` for the daemon's settings (`SET_ENABLED`, `SET_PERIOD_MS`,
/// `SET_BUDGET_PAGES`): the old value, or `EINVAL` for an unknown parameter or a value
/// out of bounds (nothing changes). The caller has checked the capability.
pub fn set(param: u32, value: u64) -> KResult<u64> {
    use wayos_abi::memtier::{SET_BUDGET_PAGES, SET_ENABLED, SET_PERIOD_MS};
    let v = memtier::check_setting(param, value).map_err(|e| match e {
        SetError::UnknownParam | SetError::OutOfRange => Errno::EINVAL,
    })?;
    let old = match param {
        SET_ENABLED => ENABLED.swap(v != 0, Ordering::Relaxed) as u64,
        SET_PERIOD_MS => PERIOD_MS.swap(v, Ordering::Relaxed) as u64,
        SET_BUDGET_PAGES => BUDGET.swap(v, Ordering::Relaxed) as u64,
        _ => return Err(Errno::EINVAL),
    };
    GENERATION.fetch_add(1, Ordering::Relaxed);
    Ok(old)
}

/// `mem_advise` gave `pages` pages at `start` of the address space with root `root` a
/// policy naming tier `to`: the daemon moves the ones present at its next scan (started
/// at once), within its budget, whether or not hotness-driven migration is enabled.
/// May be called with that space's lock held (it only queues). False when the queue is
/// full or out of memory: nothing is queued.
pub fn request_move(root: PhysAddr, start: u64, pages: u64, to: Tier) -> bool {
    let Some(end) = pages
        .checked_mul(wayos_abi::mman::PAGE_SIZE as u64)
        .and_then(|len| start.checked_add(len))
    else {
        return false;
    };
    let mut q = REQUESTS.lock();
    if q.len() >= MAX_REQUESTS || q.try_reserve(1).is_err() {
        return false;
    }
    q.push(MoveRequest {
        root,
        start,
        end,
        to,
    });
    drop(q);
    PENDING.store(true, Ordering::Release);
    true
}

/// The simulated extra cost of one far access, in ns, from the tiers' firmware read
/// latencies (0 = not given): what `TierInfo::access_cost_ns` reports for the far tier.
pub fn far_access_cost_ns(near_read_ns: u32, far_read_ns: u32) -> u32 {
    memtier::far_access_cost_ns(near_read_ns, far_read_ns)
}

/// Starts the daemon thread (boot CPU, after the scheduler). Without memory for it the
/// system runs without migration, said once in the log.
pub fn start() {
    match crate::task::thread::Thread::kernel(wayos_abi::sched::NORMAL, daemon) {
        Ok(t) => sched::make_ready(t),
        Err(_) => log::error!("migrate: no memory for the daemon thread; pages stay put"),
    }
}

fn daemon() {
    crate::task::sched::current().set_kernel_wait(crate::task::thread::KernelWait::Migrate);
    loop {
        let generation = GENERATION.load(Ordering::Relaxed);
        let period_ns = u64::from(PERIOD_MS.load(Ordering::Relaxed)) * 1_000_000;
        let start = arch::uptime_ns();
        let deadline = start.saturating_add(period_ns);
        // Sleep in slices so a shorter period set meanwhile takes effect promptly.
        while arch::uptime_ns() < deadline
            && GENERATION.load(Ordering::Relaxed) == generation
            && !PENDING.load(Ordering::Acquire)
        {
            sched::sleep_until(deadline.min(arch::uptime_ns().saturating_add(10_000_000)));
        }
        let requested = PENDING.swap(false, Ordering::AcqRel);
        if GENERATION.load(Ordering::Relaxed) != generation && !requested {
            continue;
        }
        if ENABLED.load(Ordering::Relaxed) || requested {
            scan_once();
        }
    }
}

/// One scan of every process. Public for the boot tests, which run it directly.
pub fn scan_once() -> ScanCounts {
    let t0 = arch::uptime_ns();
    let number = SCANS.fetch_add(1, Ordering::Relaxed) + 1;
    let budget = Budget::new(BUDGET.load(Ordering::Relaxed));
    // With one tier nothing can move and nothing is far: sampling would only cost the
    // programs their accessed bits (and aarch64 an access-flag fault per page).
    if !(pmm::has_tier(Tier::Near) && pmm::has_tier(Tier::Far)) {
        return ScanCounts::default();
    }
    let Ok(procs) = process::all() else {
        return ScanCounts::default();
    };
    let requests = core::mem::take(&mut *REQUESTS.lock());
    let requested = |root: PhysAddr, va: u64| {
        requests
            .iter()
            .find(|r| r.root == root && (r.start..r.end).contains(&va))
            .map(|r| r.to)
    };
    let mut scan = Scan {
        number,
        by_heat: ENABLED.load(Ordering::Relaxed),
        requested: &requested,
        budget,
        deferred: Vec::new(),
        counts: ScanCounts::default(),
    };
    for p in &procs {
        if let Some(space) = p.space.lock().as_mut() {
            space.scan_for_migration(&mut scan, process_policy(p));
        }
    }
    let mut counts = scan.counts;
    if !scan.deferred.is_empty() {
        move_deferred(&procs, &mut scan.deferred, &mut counts);
    }
    PROMOTED.fetch_add(counts.promoted, Ordering::Relaxed);
    DEMOTED.fetch_add(counts.demoted, Ordering::Relaxed);
    SKIPPED_PINNED.fetch_add(counts.skipped_pinned, Ordering::Relaxed);
    FAR_ACCESSES.fetch_add(counts.far_accesses, Ordering::Relaxed);
    NO_ROOM.fetch_add(counts.no_room, Ordering::Relaxed);
    BUSY_NS.fetch_add(arch::uptime_ns().saturating_sub(t0), Ordering::Relaxed);
    counts
}

/// The default tier policy of process `p` (`mem_policy`, kept with the process).
fn process_policy(p: &Process) -> u32 {
    p.mem_policy.load(Ordering::Relaxed)
}

/// The second phase: frames mapped more than once, moved with every space locked.
fn move_deferred(procs: &[Arc<Process>], deferred: &mut [Deferred], counts: &mut ScanCounts) {
    // `process::all` lists by pid, so the locks are taken in pid order.
    let mut guards = Vec::new();
    if guards.try_reserve_exact(procs.len()).is_err() {
        return;
    }
    for p in procs {
        guards.push(p.space.lock());
    }
    let mut spaces: Vec<&mut AddressSpace> = Vec::new();
    if spaces.try_reserve_exact(guards.len()).is_err() {
        return;
    }
    for g in guards.iter_mut() {
        if let Some(s) = g.as_mut() {
            spaces.push(s);
        }
    }
    move_frames(&mut spaces, deferred, counts);
}

/// Moves each deferred frame, given every address space that may map one, all locked.
pub fn move_frames(
    spaces: &mut [&mut AddressSpace],
    deferred: &mut [Deferred],
    counts: &mut ScanCounts,
) {
    deferred.sort_unstable_by_key(|d| d.pa);
    let frames: Vec<PhysAddr> = match collect(deferred.iter().map(|d| d.pa)) {
        Some(f) => f,
        None => return,
    };
    let mut found: Vec<(usize, usize, VirtAddr, PteFlags)> = Vec::new();
    for (i, s) in spaces.iter().enumerate() {
        if !s.mappings_of(&frames, &mut found, i) {
            return;
        }
    }
    found.sort_unstable_by_key(|m| m.0);
    let mut maps: Vec<(usize, VirtAddr, PteFlags)> = Vec::new();
    for (i, d) in deferred.iter().enumerate() {
        maps.clear();
        for m in found.iter().filter(|m| m.0 == i) {
            if maps.try_reserve(1).is_err() {
                return;
            }
            maps.push((m.1, m.2, m.3));
        }
        match space::move_shared(spaces, d, &maps) {
            Ok(()) => match d.to {
                Tier::Near => counts.promoted += 1,
                Tier::Far => counts.demoted += 1,
            },
            Err(space::MoveError::Pinned) => counts.skipped_pinned += 1,
            Err(space::MoveError::NoRoom) => counts.no_room += 1,
            Err(space::MoveError::Gone) => {}
        }
    }
}

fn collect<T>(it: impl ExactSizeIterator<Item = T>) -> Option<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(it.len()).ok()?;
    v.extend(it);
    Some(v)
}
