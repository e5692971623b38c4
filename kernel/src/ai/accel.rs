//! Accelerators: the simulated inference devices. Each is a kernel worker thread pinned
//! to one CPU (one per online CPU) that takes jobs from the inference queue (`queue`) and
//! runs them step by step, counting jobs done and busy time for `ai_info`.
//!
//! FP/SIMD: the math runs only on these threads (never in a syscall or an interrupt), and
//! a worker's vector registers survive everything that can happen to it (`docs/ai.md`,
//! "FP/SIMD handling"): the kernel is not preemptible, so a worker leaves the CPU only by
//! a call (yield or block between steps), where x86_64 saves its whole XSAVE area and
//! aarch64 keeps d8-d15 in the switch context (the other vector registers are dead across
//! a call by the ABI); interrupts taken in the middle of a kernel kernel touch no vector
//! register on x86_64 (the kernel target is soft-float; only `#[target_feature]` math
//! functions use them) and save q0-q31/FPCR/FPSR in the trap frame on aarch64.
//!
//! A worker runs at the class of the job it holds, so a background job gives way to
//! normal user threads and an RT job outranks them; idle, it blocks on
//! `queue::WORK_ARRIVED`. Must never: run a step with a lock held, or end (a worker loops
//! for the life of the kernel).
#![deny(unsafe_code)]

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use wayos_abi::smp::MAX_CPUS;

use super::queue::{self, Job};
use crate::sync::Mutex;
use crate::task::process::Pid;
use crate::task::sched;
use crate::task::thread::Thread;

/// One accelerator's counters.
pub struct Accel {
    /// Jobs this worker finished (done, failed or cancelled while it held them).
    pub jobs_done: AtomicU64,
    /// Nanoseconds spent running steps.
    pub busy_ns: AtomicU64,
    /// The worker thread's id (0: not started).
    pub tid: AtomicU64,
    /// The job it holds now.
    current: Mutex<Option<Arc<Job>>>,
}

impl Accel {
    const fn new() -> Self {
        Self {
            jobs_done: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            tid: AtomicU64::new(0),
            current: Mutex::new(None),
        }
    }

    /// The id and owner of the job it runs now.
    pub fn current(&self) -> Option<(u64, Pid)> {
        self.current.lock().as_ref().map(|j| (j.id, j.owner))
    }
}

static ACCELS: [Accel; MAX_CPUS] = [const { Accel::new() }; MAX_CPUS];

/// How many accelerators run (one per CPU online at [`start`]).
static COUNT: AtomicU64 = AtomicU64::new(0);

/// The accelerators started.
pub fn accels() -> &'static [Accel] {
    &ACCELS[..COUNT.load(Ordering::Acquire) as usize]
}

/// Starts one worker per online CPU, each pinned to its CPU. Boot CPU, after `smp::start`.
/// A worker that cannot be created (no memory at boot) is logged and skipped.
pub fn start() {
    let cpus = crate::smp::online().min(MAX_CPUS);
    let mut started = 0;
    for (cpu, accel) in ACCELS.iter().enumerate().take(cpus) {
        let t = match Thread::kernel(wayos_abi::sched::NORMAL, move || worker(cpu)) {
            Ok(t) => t,
            Err(_) => {
                log::error!("ai: no memory for accelerator {cpu}");
                break;
            }
        };
        t.affinity.store(1 << cpu, Ordering::Relaxed);
        accel.tid.store(t.tid, Ordering::Relaxed);
        sched::make_ready(t);
        started += 1;
    }
    COUNT.store(started, Ordering::Release);
    super::stats::ACCELS.store(started, Ordering::Relaxed);
    log::info!(
        "ai: {} accelerator{} (worker threads), math on {}",
        started,
        if started == 1 { "" } else { "s" },
        super::isa_name()
    );
}

fn worker(idx: usize) {
    let me = &ACCELS[idx];
    let thread = sched::current();
    thread.set_kernel_wait(crate::task::thread::KernelWait::Accel);
    loop {
        let job = queue::WORK_ARRIVED.wait_until(queue::take);
        thread.set_class(job.class() as usize);
        // The kernel is not preemptible: a thread the last job's end woke (its waiter)
        // would otherwise wait for this job's first node. At the job's class, this lets
        // exactly the threads that outrank or equal it go first.
        sched::yield_now();
        *me.current.lock() = Some(job.clone());
        let t0 = crate::arch::uptime_ns();
        let finished = queue::run(job);
        me.busy_ns.fetch_add(
            crate::arch::uptime_ns().saturating_sub(t0),
            Ordering::Relaxed,
        );
        // The last reference to a finished job's graph may go here, outside every lock.
        let job = me.current.lock().take();
        drop(job);
        if finished {
            me.jobs_done.fetch_add(1, Ordering::Relaxed);
        }
        thread.set_class(wayos_abi::sched::NORMAL);
    }
}

/// Marks the jobs of `pid` the workers hold as cancelled: each stops at its next step
/// boundary.
pub fn cancel_running(pid: Pid) {
    for a in accels() {
        if let Some(j) = a.current.lock().as_ref() {
            if j.owner == pid {
                j.cancel_flag();
            }
        }
    }
}
