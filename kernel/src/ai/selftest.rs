//! In-kernel checks of the inference queue and the accelerators, run by `boottest`.
//!
//! They drive the queue with a test [`Work`] whose first step can be held at a gate (the
//! worker sleeps there, so the boot CPU's idle thread — the one running these checks —
//! gets the CPU back) and which records how often each step ran. The owners are pids no
//! process has, each with a usage record of its own, so nothing here touches a real
//! process's counts.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use wayos_abi::{ai, errno};

use super::accel;
use super::queue::{self, Job, Work};
use crate::error::{Errno, KResult};
use crate::task::process::Pid;
use crate::task::sched;
use crate::task::usage::{Kind, Usage};

pub type Check = fn() -> Result<(), &'static str>;

pub const CHECKS: &[(&str, Check)] = &[
    ("ai_accelerator_per_cpu", accelerator_per_cpu),
    (
        "ai_rt_job_preempts_background_at_node_boundary",
        rt_job_preempts_background_at_node_boundary,
    ),
    (
        "ai_job_limit_and_owner_cancel_leave_nothing",
        job_limit_and_owner_cancel_leave_nothing,
    ),
    (
        "ai_simd_math_survives_interrupts_and_switches",
        simd_math_survives_interrupts_and_switches,
    ),
];

/// Owners that are no process (pids are never this large).
const FAKE_PID_A: Pid = u64::MAX - 1;
const FAKE_PID_B: Pid = u64::MAX - 2;
const FAKE_PID_C: Pid = u64::MAX - 3;

struct TestWork {
    steps: usize,
    /// Step 0 waits (sleeping) until this is set.
    gate: Arc<AtomicBool>,
    /// Times each step ran.
    ran: Vec<AtomicUsize>,
}

impl TestWork {
    fn new(steps: usize, gate: &Arc<AtomicBool>) -> Arc<Self> {
        Arc::new(Self {
            steps,
            gate: gate.clone(),
            ran: (0..steps).map(|_| AtomicUsize::new(0)).collect(),
        })
    }

    fn each_step_ran_once(&self) -> bool {
        self.ran.iter().all(|r| r.load(Ordering::SeqCst) == 1)
    }
}

impl Work for TestWork {
    fn steps(&self) -> usize {
        self.steps
    }

    fn run_step(&self, i: usize) -> KResult<()> {
        if i == 0 {
            let give_up = crate::arch::uptime_ns() + 20_000_000_000;
            while !self.gate.load(Ordering::SeqCst) {
                if crate::arch::uptime_ns() > give_up {
                    return Err(Errno::ETIMEDOUT);
                }
                sched::sleep_until(crate::arch::uptime_ns() + 1_000_000);
            }
        }
        self.ran[i].fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn finish(&self) {}

    fn describe(&self, i: usize, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        write!(out, "test work step {i}")
    }
}

/// Yields (the boot CPU's idle thread lets the workers run) until `cond` holds or about
/// twenty seconds of guest time passed. The boot thread runs with interrupts off; on one
/// CPU nothing else would take the tick that wakes a worker sleeping at a gate.
fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let was_enabled = crate::arch::interrupts_enabled();
    crate::arch::enable_interrupts();
    let give_up = crate::arch::uptime_ns() + 20_000_000_000;
    let mut ok = true;
    while !cond() {
        if crate::arch::uptime_ns() > give_up {
            ok = false;
            break;
        }
        sched::yield_now();
    }
    if !was_enabled {
        crate::arch::disable_interrupts();
    }
    ok
}

fn all_done(jobs: &[Arc<Job>]) -> bool {
    jobs.iter().all(|j| j.result().is_some())
}

/// One worker thread per online CPU, each running.
fn accelerator_per_cpu() -> Result<(), &'static str> {
    if accel::accels().len() != crate::smp::online() {
        return Err("not one accelerator per online CPU");
    }
    if accel::accels()
        .iter()
        .any(|a| a.tid.load(Ordering::Relaxed) == 0)
    {
        return Err("an accelerator has no worker thread");
    }
    Ok(())
}

/// One worker holds a background job stopped in its first node (any other workers are
/// parked in jobs held at a second gate, so the order below is deterministic); then more
/// background jobs and one RT job are queued and the first gate opens. The RT job must
/// finish before the held job and the queued background jobs (the held job gives way at
/// its next node boundary), and the held job must then resume where it stopped: each
/// step of every job runs exactly once.
fn rt_job_preempts_background_at_node_boundary() -> Result<(), &'static str> {
    let n = accel::accels().len();
    let usage_a = Usage::new();
    let first = Arc::new(AtomicBool::new(false));
    let parked = Arc::new(AtomicBool::new(false));
    let open = Arc::new(AtomicBool::new(true));
    let bg = queue::rank(ai::CLASS_BACKGROUND).ok_or("no background class")?;
    let rt = queue::rank(ai::CLASS_RT).ok_or("no RT class")?;
    let release = || {
        first.store(true, Ordering::SeqCst);
        parked.store(true, Ordering::SeqCst);
    };
    let held_work = TestWork::new(4, &first);
    let held =
        queue::submit(FAKE_PID_A, &usage_a, bg, held_work.clone()).map_err(|_| "submit failed")?;
    let mut others = Vec::new();
    for _ in 1..n {
        match queue::submit(FAKE_PID_A, &usage_a, bg, TestWork::new(1, &parked)) {
            Ok(j) => others.push(j),
            Err(_) => {
                release();
                return Err("submit failed");
            }
        }
    }
    if !wait_for(|| accel::accels().iter().all(|a| a.current().is_some())) {
        release();
        return Err("the workers did not all take a job");
    }
    let mut later = Vec::new();
    let mut later_works = Vec::new();
    for _ in 0..2 {
        let w = TestWork::new(2, &open);
        match queue::submit(FAKE_PID_A, &usage_a, bg, w.clone()) {
            Ok(j) => later.push(j),
            Err(_) => {
                release();
                return Err("submit failed");
            }
        }
        later_works.push(w);
    }
    let rt_work = TestWork::new(3, &open);
    let rt_job = match queue::submit(FAKE_PID_A, &usage_a, rt, rt_work.clone()) {
        Ok(j) => j,
        Err(_) => {
            release();
            return Err("submit failed");
        }
    };
    first.store(true, Ordering::SeqCst);
    let ordered =
        wait_for(|| held.result().is_some() && all_done(&later) && rt_job.result().is_some());
    parked.store(true, Ordering::SeqCst);
    if !ordered || !wait_for(|| all_done(&others)) {
        return Err("the jobs did not finish");
    }
    let every = || {
        core::iter::once(&held)
            .chain(others.iter())
            .chain(later.iter())
            .chain(core::iter::once(&rt_job))
    };
    if every().any(|j| j.result() != Some(Ok(()))) {
        return Err("a job failed");
    }
    let rt_seq = rt_job.done_seq();
    if core::iter::once(&held)
        .chain(later.iter())
        .any(|j| j.done_seq() < rt_seq)
    {
        return Err("a background job finished before the RT job");
    }
    if !held_work.each_step_ran_once()
        || !rt_work.each_step_ran_once()
        || !later_works.iter().all(|w| w.each_step_ran_once())
    {
        return Err("a preempted job lost or repeated a node");
    }
    if usage_a.count(Kind::Jobs) != 0 {
        return Err("the owner's job count did not return to zero");
    }
    Ok(())
}

/// An owner reaches `ai::MAX_JOBS` (the next submit is `EAGAIN` and queues nothing); its
/// exit cancels them all, running ones at their node boundary, and its count returns to
/// zero.
fn job_limit_and_owner_cancel_leave_nothing() -> Result<(), &'static str> {
    let usage_b = Usage::new();
    let gate = Arc::new(AtomicBool::new(false));
    let normal = queue::rank(ai::CLASS_NORMAL).ok_or("no normal class")?;
    let mut jobs = Vec::new();
    for _ in 0..ai::MAX_JOBS {
        match queue::submit(FAKE_PID_B, &usage_b, normal, TestWork::new(3, &gate)) {
            Ok(j) => jobs.push(j),
            Err(_) => {
                queue::cancel_owner(FAKE_PID_B);
                gate.store(true, Ordering::SeqCst);
                return Err("a submit under the limit failed");
            }
        }
    }
    // Live jobs (queued or running), not queue depth: a worker may take one of B's jobs
    // off the queue at any moment, but none of them can end while the gate is shut.
    let live_before = super::stats::JOBS.load(Ordering::SeqCst);
    let count_before = usage_b.count(Kind::Jobs);
    let over = queue::submit(FAKE_PID_B, &usage_b, normal, TestWork::new(1, &gate));
    let live_after = super::stats::JOBS.load(Ordering::SeqCst);
    let count_after = usage_b.count(Kind::Jobs);
    queue::cancel_owner(FAKE_PID_B);
    gate.store(true, Ordering::SeqCst);
    if !matches!(over, Err(Errno::EAGAIN)) {
        return Err("the job over the limit was not refused with EAGAIN");
    }
    if live_after != live_before || count_after != count_before {
        return Err("the refused job changed the queue or its owner's count");
    }
    if !wait_for(|| all_done(&jobs)) {
        return Err("cancelled jobs did not end");
    }
    if jobs
        .iter()
        .any(|j| j.result() != Some(Err(Errno(errno::ECANCELED))))
    {
        return Err("a cancelled job did not end with ECANCELED");
    }
    if usage_b.count(Kind::Jobs) != 0 {
        return Err("the owner's job count did not return to zero");
    }
    Ok(())
}

/// Matrix size of the FP-state check.
const FP_N: usize = 24;

/// A job whose every step runs a bit-exact matmul with the ISA the workers use
/// (`ai::math_isa`) and compares the bits with a reference the boot thread computed with
/// the scalar kernels. Bit-exact results are the same on every ISA, so any difference is
/// vector state lost while the step ran (an interrupt, a switch) or in between.
struct FpWork {
    steps: usize,
    a: Vec<f32>,
    b: Vec<f32>,
    want: Vec<u32>,
    bad: AtomicUsize,
}

impl Work for FpWork {
    fn steps(&self) -> usize {
        self.steps
    }

    fn run_step(&self, _i: usize) -> KResult<()> {
        let ctx = wayos_aimath::Ctx {
            mode: wayos_aimath::Mode::BitExact,
            isa: super::math_isa(),
        };
        let mut out = alloc::vec![0f32; FP_N * FP_N];
        wayos_aimath::matmul(
            &ctx, &self.a, &self.b, &mut out, 1, FP_N, FP_N, FP_N, false, false,
        )
        .map_err(|_| Errno::EINVAL)?;
        if let Some(i) = out
            .iter()
            .zip(&self.want)
            .position(|(g, &w)| g.to_bits() != w)
        {
            let mut sc = alloc::vec![0f32; FP_N * FP_N];
            let _ = wayos_aimath::matmul(
                &wayos_aimath::Ctx::SCALAR_EXACT,
                &self.a,
                &self.b,
                &mut sc,
                1,
                FP_N,
                FP_N,
                FP_N,
                false,
                false,
            );
            let n = out
                .iter()
                .zip(&self.want)
                .filter(|(g, &w)| g.to_bits() != w)
                .count();
            if self.bad.fetch_add(1, Ordering::SeqCst) == 0 {
                log::warn!(
                    "fp check: {n} of {} differ, first {i}: simd {:#x} boot scalar {:#x} worker scalar {:#x}",
                    out.len(),
                    out[i].to_bits(),
                    self.want[i],
                    sc[i].to_bits()
                );
            }
        }
        Ok(())
    }

    fn finish(&self) {}

    fn describe(&self, i: usize, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        write!(out, "fp check step {i}")
    }
}

/// Two jobs per accelerator, each many steps of SIMD math checked bit for bit, all
/// running at once with a job of a higher class arriving in the middle (so workers switch
/// between jobs at node boundaries) while the timer interrupts them.
fn simd_math_survives_interrupts_and_switches() -> Result<(), &'static str> {
    let n = accel::accels().len();
    let usage = Usage::new();
    let mut jobs = Vec::new();
    let mut works = Vec::new();
    for k in 0..2 * n + 1 {
        let a: Vec<f32> = (0..FP_N * FP_N)
            .map(|i| ((i * 7 + k * 3) % 23) as f32 * 0.37 - 3.1)
            .collect();
        let b: Vec<f32> = (0..FP_N * FP_N)
            .map(|i| ((i * 5 + k) % 19) as f32 * -0.21 + 1.7)
            .collect();
        let mut want = alloc::vec![0f32; FP_N * FP_N];
        wayos_aimath::matmul(
            &wayos_aimath::Ctx::SCALAR_EXACT,
            &a,
            &b,
            &mut want,
            1,
            FP_N,
            FP_N,
            FP_N,
            false,
            false,
        )
        .map_err(|_| "the scalar reference failed")?;
        let w = Arc::new(FpWork {
            steps: 12,
            a,
            b,
            want: want.iter().map(|v| v.to_bits()).collect(),
            bad: AtomicUsize::new(0),
        });
        let class = if k == 2 * n {
            ai::CLASS_RT
        } else {
            ai::CLASS_BACKGROUND
        };
        let rank = queue::rank(class).ok_or("no class")?;
        jobs.push(queue::submit(FAKE_PID_C, &usage, rank, w.clone()).map_err(|_| "submit failed")?);
        works.push(w);
    }
    if !wait_for(|| all_done(&jobs)) {
        return Err("the jobs did not finish");
    }
    if jobs.iter().any(|j| j.result() != Some(Ok(()))) {
        return Err("a job failed");
    }
    if works.iter().any(|w| w.bad.load(Ordering::SeqCst) != 0) {
        return Err("a worker's SIMD result differed from the scalar bits");
    }
    Ok(())
}
