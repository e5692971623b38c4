//! The inference queue: jobs (one run of a piece of [`Work`], normally a graph) waiting
//! in four priority classes, taken by the accelerator workers (`accel`).
//!
//! Owns: the queued jobs, each job's state (queued, running, done with a result), and
//! cancellation (by the submitter, or of every job of a process that exits). A job holds
//! its owner's `usage::Kind::Jobs` charge (`ai::MAX_JOBS`, `EAGAIN` beyond) from submit
//! until it ends, not until its handle goes: the bound is on queued and running work.
//!
//! Ordering: a worker always takes the oldest job of the highest class queued (class 0 =
//! RT-inference is highest). A running job is preempted only at a step (node) boundary:
//! after each step, once it has let other ready threads run (so a higher job their
//! submitters queued meanwhile is seen), the worker asks [`should_yield`], and if a job
//! of a strictly higher
//! class is waiting it puts the running job back at the *front* of its class (its next
//! step is remembered in the job) and takes the higher one. So an RT job waits at most one
//! node of a lower job per worker, and the lower job resumes where it stopped.
//!
//! Must never: hold the queue lock while a step runs or while it wakes a waiter's wait
//! queue is fine (wait-queue locks come after it), allocate while holding it (room is
//! reserved before), or block in a worker on anything a user controls.
#![deny(unsafe_code)]

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use wayos_abi::{ai, errno};
use wayos_kcore::jobqueue::{ClassQueue, QueueError};

use crate::error::{Errno, KResult};
use crate::sync::Mutex;
use crate::task::process::Pid;
use crate::task::usage::{Charge, Kind, Usage};
use crate::task::wait_queue::WaitQueue;

/// The job classes, highest first; a job's rank is its class's index here.
pub const CLASSES: [u32; 4] = [
    ai::CLASS_RT,
    ai::CLASS_HIGH,
    ai::CLASS_NORMAL,
    ai::CLASS_BACKGROUND,
];

/// The rank of `class` in [`CLASSES`] (0 = highest), or `None` for an unknown class.
pub fn rank(class: u32) -> Option<usize> {
    CLASSES.iter().position(|&c| c == class)
}

/// What a job runs: a fixed number of steps, one at a time, on a worker thread. Graphs
/// implement it (a step is a node, plus a last step that copies the outputs).
pub trait Work: Send + Sync {
    /// How many steps one run has.
    fn steps(&self) -> usize;
    /// How many of the steps (the first ones) are nodes, for [`Job::stats`]'s
    /// `nodes_run`; a graph's last step copies its outputs and is not one.
    fn nodes(&self) -> usize {
        self.steps()
    }
    /// Runs step `i` (called with `i` = 0, 1, ... in order, on a worker thread, with no
    /// lock of this module held). An error ends the job with that errno.
    fn run_step(&self, i: usize) -> KResult<()>;
    /// Called exactly once when the run ends, however it ends (done, failed, cancelled
    /// while queued or running), with no lock of this module held.
    fn finish(&self);
    /// What to call the work and its step `i` in a log line.
    fn describe(&self, i: usize, out: &mut dyn core::fmt::Write) -> core::fmt::Result;
}

/// The result of a job that has not finished.
const PENDING: isize = isize::MIN;

/// One queued run of some [`Work`].
pub struct Job {
    pub id: u64,
    pub owner: Pid,
    /// Rank of the class in [`CLASSES`].
    pub rank: usize,
    /// Until the job ends: then taken, finished and dropped, so a finished job's handle
    /// keeps no graph or tensor alive.
    work: Mutex<Option<Arc<dyn Work>>>,
    /// The next step to run; touched only by the worker holding the job.
    next: AtomicUsize,
    /// Set by `infer_cancel` or the owner's exit; the worker stops at the next boundary.
    cancelled: AtomicBool,
    /// Set by the first `end`: later ones change nothing.
    ended: AtomicBool,
    /// [`PENDING`], or 0 / a negated errno once done (stored last by `end`).
    result: AtomicU64,
    /// Woken once when the job finishes.
    pub done: WaitQueue,
    /// The owner's job charge, given back when the job ends.
    charge: Mutex<Option<Charge>>,
    /// Monotonic time it finished (0 until then).
    pub finished_ns: AtomicU64,
    /// Its place in the order jobs finished in (0 until then).
    done_seq: AtomicU64,
    /// What `infer_stats` reports: monotonic time of submit and of its first step
    /// starting (0 until then), time inside its steps summed over every stretch it ran,
    /// nodes run, times it was preempted. Written only by the worker holding the job
    /// (and `submit`), read by anyone: plain atomics, no lock.
    submitted_ns: u64,
    started_ns: AtomicU64,
    run_ns: AtomicU64,
    nodes_run: AtomicU64,
    preemptions: AtomicU64,
}

impl Job {
    /// `None` while queued or running; then `Ok(())` or the run's errno.
    pub fn result(&self) -> Option<KResult<()>> {
        match self.result.load(Ordering::Acquire) as i64 as isize {
            PENDING => None,
            0 => Some(Ok(())),
            e => Some(Err(Errno(-e))),
        }
    }

    /// Its place in the order jobs finished in (0 until it finished).
    pub fn done_seq(&self) -> u64 {
        self.done_seq.load(Ordering::Acquire)
    }

    /// The class the job was submitted with.
    pub fn class(&self) -> u32 {
        CLASSES[self.rank]
    }

    /// Asks the worker holding the job to stop at its next step boundary.
    pub fn cancel_flag(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// What the job has used so far (`infer_stats`); final once it ended.
    pub fn stats(&self) -> ai::JobStats {
        let started = self.started_ns.load(Ordering::Acquire);
        let state = match self.result() {
            None => ai::JOB_PENDING,
            Some(Ok(())) => ai::JOB_DONE,
            Some(Err(e)) if e.0 == errno::ECANCELED => ai::JOB_CANCELLED,
            Some(Err(_)) => ai::JOB_FAILED,
        };
        let sat = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        ai::JobStats {
            queued_ns: if started == 0 {
                0
            } else {
                started.saturating_sub(self.submitted_ns).max(1)
            },
            run_ns: self.run_ns.load(Ordering::Relaxed),
            nodes_run: sat(self.nodes_run.load(Ordering::Relaxed)),
            preemptions: sat(self.preemptions.load(Ordering::Relaxed)),
            state,
            _pad: 0,
        }
    }
}

/// Where the jobs wait: the order is `wayos_kcore::jobqueue`'s (host-tested).
static QUEUE: Mutex<ClassQueue<Arc<Job>, 4>> = Mutex::new(ClassQueue::new());

/// Workers sleep here while the queue is empty.
pub static WORK_ARRIVED: WaitQueue = WaitQueue::new();

static NEXT_JOB: AtomicU64 = AtomicU64::new(1);
static DONE_SEQ: AtomicU64 = AtomicU64::new(0);

/// Queues one run of `work` for process `owner` in class rank `rank`, charging one job
/// to `usage` (the owner's): `EAGAIN` when it already has `ai::MAX_JOBS` live jobs,
/// `ENOMEM` when the queue cannot grow. Nothing changes on error (the work is finished
/// unrun, so a graph's busy flag goes back).
pub fn submit(
    owner: Pid,
    usage: &Arc<Usage>,
    rank: usize,
    work: Arc<dyn Work>,
) -> KResult<Arc<Job>> {
    let r = (|| {
        if rank >= CLASSES.len() {
            return Err(Errno::EINVAL);
        }
        let charge = usage.charge(Kind::Jobs, 1)?;
        crate::mm::reserve::admit(core::mem::size_of::<Job>() + 64)?;
        let job = Arc::new(Job {
            id: NEXT_JOB.fetch_add(1, Ordering::Relaxed),
            owner,
            rank,
            work: Mutex::new(Some(work.clone())),
            next: AtomicUsize::new(0),
            cancelled: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            result: AtomicU64::new(PENDING as u64),
            done: WaitQueue::new(),
            charge: Mutex::new(Some(charge)),
            finished_ns: AtomicU64::new(0),
            done_seq: AtomicU64::new(0),
            submitted_ns: crate::arch::uptime_ns(),
            started_ns: AtomicU64::new(0),
            run_ns: AtomicU64::new(0),
            nodes_run: AtomicU64::new(0),
            preemptions: AtomicU64::new(0),
        });
        QUEUE
            .lock()
            .push(rank, job.clone())
            .map_err(|_| Errno::ENOMEM)?;
        Ok(job)
    })();
    match r {
        Ok(job) => {
            super::stats::JOBS.fetch_add(1, Ordering::Relaxed);
            WORK_ARRIVED.wake_all();
            Ok(job)
        }
        Err(e) => {
            work.finish();
            Err(e)
        }
    }
}

/// The next job for a worker: the oldest of the highest class, or `None`.
pub fn take() -> Option<Arc<Job>> {
    QUEUE.lock().take().map(|(_, j)| j)
}

/// True when a job of a higher class than `job`'s waits: the worker should put `job`
/// back ([`requeue_front`]) at this step boundary and take that one.
pub fn should_yield(job: &Job) -> bool {
    QUEUE.lock().has_above(job.rank)
}

/// Puts a preempted job back at the front of its class. Cannot fail: the job's own slot
/// was reserved when it was submitted and it has been out of the queue since.
pub fn requeue_front(job: Arc<Job>) {
    let r = QUEUE.lock().push_front(job.rank, job);
    if let Err(QueueError::NoMemory(job) | QueueError::BadRank(job)) = r {
        // Unreachable in practice (see above); finish it rather than lose it.
        end(&job, Err(Errno::ENOMEM));
    }
}

/// Ends `job` with `r` (the first end wins; later ones change nothing): releases its
/// owner's count and the work (with whatever the run holds: an arena of its own and its
/// charge), then publishes the result and wakes the waiters, so a waiter that sees the
/// result also sees everything the job held given back.
fn end(job: &Job, r: KResult<()>) {
    let v = match r {
        Ok(()) => 0,
        Err(e) => -e.0,
    };
    if job.ended.swap(true, Ordering::AcqRel) {
        return;
    }
    let charge = job.charge.lock().take();
    drop(charge);
    super::stats::JOBS.fetch_sub(1, Ordering::Relaxed);
    let work = job.work.lock().take();
    if let Some(w) = work {
        w.finish();
    }
    job.done_seq.store(
        DONE_SEQ.fetch_add(1, Ordering::Relaxed) + 1,
        Ordering::Release,
    );
    job.finished_ns
        .store(crate::arch::uptime_ns(), Ordering::Relaxed);
    job.result.store(v as u64, Ordering::Release);
    job.done.wake_all();
}

/// Runs `job`'s remaining steps until it finishes, is cancelled or is preempted.
/// Returns true when the job is done (and false when it went back to the queue).
pub fn run(job: Arc<Job>) -> bool {
    let work = job.work.lock().clone();
    let Some(work) = work else {
        // Already ended (cancelled as it was taken).
        return true;
    };
    let steps = work.steps();
    let nodes = work.nodes();
    let r = loop {
        if job.is_cancelled() {
            break Err(Errno(errno::ECANCELED));
        }
        let i = job.next.load(Ordering::Relaxed);
        if i >= steps {
            break Ok(());
        }
        // At a boundary (not before the first step: the job was the highest waiting when
        // taken), and after the yield below, so a higher job submitted by a thread that
        // ran during that yield is seen before another node starts: on one CPU the
        // submitter runs exactly then.
        if i > 0 && should_yield(&job) {
            job.preemptions.fetch_add(1, Ordering::Relaxed);
            drop(work);
            requeue_front(job);
            return false;
        }
        let t0 = crate::arch::uptime_ns();
        // Never 0 once started, so `stats` can tell "not yet" from "at time 0".
        let _ = job
            .started_ns
            .compare_exchange(0, t0.max(1), Ordering::AcqRel, Ordering::Relaxed);
        let r = work.run_step(i);
        job.run_ns.fetch_add(
            crate::arch::uptime_ns().saturating_sub(t0),
            Ordering::Relaxed,
        );
        if let Err(e) = r {
            log_failure(&job, &*work, i, e);
            break Err(e);
        }
        if i < nodes {
            job.nodes_run.fetch_add(1, Ordering::Relaxed);
        }
        job.next.store(i + 1, Ordering::Relaxed);
        // The kernel is not preemptible: between steps, let ready threads of the job's
        // class or higher (the worker runs at the job's class) have the CPU.
        crate::task::sched::yield_now();
    };
    // This worker's reference to the work goes before the job ends, so `end` drops the
    // last one and whatever the run holds (an arena of its own and that arena's quota
    // charge) is released before a waiter can see the result.
    drop(work);
    end(&job, r);
    true
}

fn log_failure(job: &Job, work: &dyn Work, step: usize, e: Errno) {
    struct Line([u8; 96], usize);
    impl core::fmt::Write for Line {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let n = s.len().min(self.0.len() - self.1);
            self.0[self.1..self.1 + n].copy_from_slice(&s.as_bytes()[..n]);
            self.1 += n;
            Ok(())
        }
    }
    let mut what = Line([0; 96], 0);
    let _ = work.describe(step, &mut what);
    let what = core::str::from_utf8(&what.0[..what.1]).unwrap_or("?");
    log::warn!(
        "ai: job {} of pid {} failed at {}: {}",
        job.id,
        job.owner,
        what,
        e
    );
}

/// Cancels `job`: a queued job ends now with `ECANCELED`; a running one at its next step
/// boundary; a finished one keeps its result.
pub fn cancel(job: &Arc<Job>) {
    job.cancelled.store(true, Ordering::Release);
    let removed = QUEUE.lock().remove(job.rank, |j| Arc::ptr_eq(j, job));
    if let Some(j) = removed {
        end(&j, Err(Errno(errno::ECANCELED)));
    }
}

/// Cancels every job of `pid` (its process is exiting): queued ones end now, running
/// ones stop at their next step boundary (`accel` is told). If the list of removed jobs
/// cannot be allocated, they stay queued marked cancelled and the workers end them.
pub fn cancel_owner(pid: Pid) {
    let mut gone: Vec<Arc<Job>> = Vec::new();
    {
        let mut q = QUEUE.lock();
        q.for_each(|j| {
            if j.owner == pid {
                j.cancelled.store(true, Ordering::Release);
            }
        });
        let mine = q.count_where(|j| j.owner == pid);
        if gone.try_reserve_exact(mine).is_ok() {
            q.drain_where(|j| j.owner == pid, &mut gone);
        }
    }
    // Ended (and dropped) outside the lock: a job may hold the last reference to a graph
    // and its tensors.
    for j in gone {
        end(&j, Err(Errno(errno::ECANCELED)));
    }
    crate::ai::accel::cancel_running(pid);
}

/// Queued jobs (all classes) and queued jobs per class rank.
pub fn depth() -> (usize, [usize; 4]) {
    let q = QUEUE.lock();
    let mut per = [0; 4];
    for (r, p) in per.iter_mut().enumerate() {
        *p = q.len_of(r);
    }
    (q.len(), per)
}
