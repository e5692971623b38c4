//! TLB coherence across CPUs: which user page-table root each CPU has loaded, and
//! shootdowns when a mapping other CPUs may have cached changes.
//!
//! Owns the per-CPU "loaded root" record and the one shootdown in flight. A CPU records
//! a root *before* loading it, and an initiator reads the records *after* changing the
//! page table, both with sequentially consistent ordering: a CPU the initiator does not
//! see loads the root afterwards, so its page walks already find the new entries.
//!
//! Where the arch's TLB maintenance is broadcast (`arch::TLB_FLUSH_IS_BROADCAST`,
//! aarch64 `TLBI ...IS`), a flush needs nothing from here. Elsewhere (x86_64) the
//! initiator flushes itself, posts the request, interrupts every other CPU that has the
//! root loaded and waits for each to flush and acknowledge. A CPU answers from its IPI
//! handler or, when it spins on a lock with interrupts off, from the lock's relax loop
//! (`sync::Relax`), so an initiator holding a lock never waits on a CPU spinning for it.
//!
//! Every `Flush` token a page-table change returns is discharged here and nowhere else:
//! [`settle`] for one change of a user tree, a [`Batch`] for many, [`settle_kernel`] for
//! the kernel half. They decide, in one place, when a token costs nothing: the entry was
//! not present before (no TLB caches an invalid entry), or no CPU has the tree loaded
//! (a CPU that switched away flushed it; a tree being built was never loaded).
//!
//! Must never free memory: callers release frames only after the flush returns.

use core::sync::atomic::{fence, AtomicU64, Ordering};

use wayos_abi::smp::MAX_CPUS;
use wayos_kcore::paging::{Flush, PhysAddr, VirtAddr};

use crate::arch;
use crate::sync::Mutex;

/// Per CPU: the user page-table root it has loaded (0: none recorded yet).
static LOADED: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// CPUs that still have to serve the posted request (bit i = CPU i).
static PENDING: AtomicU64 = AtomicU64::new(0);
/// The posted request: the root whose entries changed, and the page (or [`ALL`]).
static REQ_ROOT: AtomicU64 = AtomicU64::new(0);
static REQ_VA: AtomicU64 = AtomicU64::new(0);
/// One shootdown at a time.
static INITIATOR: Mutex<()> = Mutex::new(());

/// [`REQ_VA`] value for "flush every user translation" (never a page address: not page
/// aligned).
const ALL: u64 = u64::MAX;
/// More pages than this in one batch are flushed as a whole.
pub const BATCH_LIMIT: usize = 32;

/// Shootdown requests this CPU served, per CPU (for `smp_info`).
static SERVED: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Records that this CPU is about to load `root` (call before loading it).
pub fn note_loaded(root: PhysAddr) {
    LOADED[arch::cpu_id() % MAX_CPUS].store(root.as_u64(), Ordering::SeqCst);
}

/// Shootdown requests CPU `cpu` has served.
pub fn served(cpu: usize) -> u64 {
    SERVED[cpu % MAX_CPUS].load(Ordering::Relaxed)
}

/// Discharges one change of the user tree `root`: when the old entry may be cached
/// (`flush.stale()`) and some CPU has the tree loaded, invalidates the page everywhere
/// before returning; otherwise there is nothing to invalidate.
///
/// Skipping for an unloaded tree is safe for the reason shootdown targets are safe: a
/// CPU records a root before loading it and the check reads the records after the
/// change, so a CPU it does not see loads the tree later and walks the new entries, and
/// a CPU that moved to another root flushed this one's entries when it switched.
pub fn settle(root: PhysAddr, flush: Flush) {
    if flush.stale() && loaded_anywhere(root) {
        flush_page(root, flush.va());
    }
}

/// Discharges a change of the kernel half (the MMIO window). The kernel half only ever
/// gains mappings, so a token here is never stale; a stale one would need a broadcast
/// shootdown of global entries that nothing implements, and means a broken invariant.
pub fn settle_kernel(flush: Flush) {
    assert!(
        !flush.stale(),
        "kernel-half mapping at {:?} changed in place",
        flush.va()
    );
}

/// Makes new kernel-half mappings at `va` safe for any CPU to use at once (a new kernel
/// stack, which a thread may start on elsewhere right away): on aarch64 the table writes
/// must complete before another CPU's walker looks, and the invalidation of `va` (never
/// cached: it was unmapped) carries those barriers; on x86_64 it is one local `invlpg`.
pub fn publish_kernel(va: VirtAddr) {
    arch::flush_tlb_page(va);
}

/// Stale pages of one user tree, invalidated together: page by page up to
/// [`BATCH_LIMIT`], else the whole address space, with one round of IPIs either way.
/// [`flush`](Self::flush) before releasing frames the pages mapped; dropping the batch
/// flushes whatever is left, so a collected page can never be forgotten.
pub struct Batch {
    root: PhysAddr,
    vas: [VirtAddr; BATCH_LIMIT],
    len: usize,
    /// More than [`BATCH_LIMIT`] pages: flush the whole space.
    all: bool,
}

impl Batch {
    pub fn new(root: PhysAddr) -> Self {
        Batch {
            root,
            vas: [VirtAddr::new(0); BATCH_LIMIT],
            len: 0,
            all: false,
        }
    }

    /// Takes over one change's token (skipped at once when it is not stale).
    pub fn add(&mut self, flush: Flush) {
        if !flush.stale() {
            return;
        }
        if self.len < BATCH_LIMIT {
            self.vas[self.len] = flush.va();
            self.len += 1;
        } else {
            self.all = true;
        }
    }

    /// Invalidates what was collected, where the tree is loaded; empties the batch.
    pub fn flush(&mut self) {
        if self.len > 0 && loaded_anywhere(self.root) {
            if self.all {
                flush_all(self.root);
            } else {
                flush_pages(self.root, &self.vas[..self.len]);
            }
        }
        self.len = 0;
        self.all = false;
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Whether any online CPU has `root` loaded (this one included), read after the change.
fn loaded_anywhere(root: PhysAddr) -> bool {
    fence(Ordering::SeqCst);
    let online = crate::smp::online().min(MAX_CPUS);
    (0..online).any(|c| LOADED[c].load(Ordering::SeqCst) == root.as_u64())
}

/// Flushes `va` of the address space with page-table root `root` on every CPU.
pub fn flush_page(root: PhysAddr, va: VirtAddr) {
    arch::flush_tlb_page(va);
    shoot(root, va.as_u64());
}

/// Flushes every user translation of the address space `root` on every CPU.
fn flush_all(root: PhysAddr) {
    arch::flush_tlb_all();
    shoot(root, ALL);
}

/// Flushes the pages `vas` of `root` everywhere: page by page up to [`BATCH_LIMIT`],
/// else as a whole, with one round of IPIs either way.
fn flush_pages(root: PhysAddr, vas: &[VirtAddr]) {
    match vas {
        [] => {}
        [va] => flush_page(root, *va),
        _ if vas.len() > BATCH_LIMIT => flush_all(root),
        _ => {
            for &va in vas {
                arch::flush_tlb_page(va);
            }
            shoot(root, ALL);
        }
    }
}

/// Asks every other CPU with `root` loaded to flush `va` (or everything), and waits.
fn shoot(root: PhysAddr, va: u64) {
    let root = root.as_u64();
    if arch::TLB_FLUSH_IS_BROADCAST || crate::smp::online() == 1 {
        return;
    }
    fence(Ordering::SeqCst);
    let me = arch::cpu_id();
    let targets = targets(root, me);
    if targets == 0 {
        return;
    }
    let _one = INITIATOR.lock();
    // Re-read under the lock: CPUs may have moved on while we waited for our turn.
    let targets = targets_after_fence(root, me);
    if targets == 0 {
        return;
    }
    REQ_ROOT.store(root, Ordering::Relaxed);
    REQ_VA.store(va, Ordering::Relaxed);
    PENDING.store(targets, Ordering::Release);
    for cpu in 0..MAX_CPUS {
        if targets & (1 << cpu) != 0 {
            arch::send_ipi(cpu);
        }
    }
    // No request can be posted for this CPU meanwhile: posting takes the initiator lock.
    while PENDING.load(Ordering::Acquire) != 0 {
        core::hint::spin_loop();
    }
}

fn targets_after_fence(root: u64, me: usize) -> u64 {
    fence(Ordering::SeqCst);
    targets(root, me)
}

fn targets(root: u64, me: usize) -> u64 {
    let online = crate::smp::online().min(MAX_CPUS);
    (0..online)
        .filter(|&c| c != me && LOADED[c].load(Ordering::SeqCst) == root)
        .fold(0, |m, c| m | (1 << c))
}

/// Serves a request posted for this CPU, if there is one (IPI handler, lock spinning).
#[inline(always)]
pub fn serve() {
    if PENDING.load(Ordering::Relaxed) == 0 {
        return;
    }
    serve_slow();
}

#[cold]
fn serve_slow() {
    let me = arch::cpu_id() % MAX_CPUS;
    let bit = 1u64 << me;
    if PENDING.load(Ordering::Acquire) & bit == 0 {
        return;
    }
    let root = REQ_ROOT.load(Ordering::Relaxed);
    // A CPU that moved to another root since flushed everything of this one on the load.
    if LOADED[me].load(Ordering::SeqCst) == root {
        match REQ_VA.load(Ordering::Relaxed) {
            ALL => arch::flush_tlb_all(),
            va => arch::flush_tlb_page(VirtAddr::new(va)),
        }
    }
    SERVED[me].fetch_add(1, Ordering::Relaxed);
    PENDING.fetch_and(!bit, Ordering::Release);
}
