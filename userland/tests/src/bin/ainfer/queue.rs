//! `ainfer queue`: the inference queue — submit, poll, wait with and without a deadline,
//! cancel, priority classes (a higher class overtakes long lower-class jobs at node
//! boundaries), who may use the RT and high classes, the per-process job bound, and a
//! killed submitter leaving nothing behind.

use alloc::format;
use alloc::vec::Vec;

use libway::abi::ai::MAX_JOBS;
use libway::abi::ai::{JobStats, JOB_CANCELLED, JOB_DONE, JOB_PENDING};
use libway::abi::caps::{AI_ACCEL, SET_RT_PRIORITY};
use libway::abi::errno::{EAGAIN, EBADF, ECANCELED, EFAULT, EINVAL, EPERM, ETIMEDOUT};
use libway::abi::signal::SIGKILL;
use libway::ai::{self, Tensor};
use libway::infer::{
    self, bound, node, op, Graph, Job, CLASS_BACKGROUND, CLASS_HIGH, CLASS_NORMAL, CLASS_RT,
    MODE_FAST,
};
use libway::suite::{
    expect_eq, expect_errno, expect_exit, expect_signal, in_child, wait_for, Check, Context, Suite,
};
use libway::{caps, process};

use super::graphs::{
    expect_close, f32_tensor, fork_holder, long_graph, me, totals_return_to, Long, LONG_DIM,
};

pub fn group(s: &mut Suite) {
    s.check("queue_poll_then_wait", poll_then_wait());
    s.check("queue_timeout_and_cancel", timeout_and_cancel());
    s.check("queue_higher_class_overtakes", higher_class_overtakes());
    s.check("queue_class_needs_capability", class_needs_capability());
    s.check("queue_job_limit", job_limit());
    s.check("queue_kill_leaves_nothing", kill_leaves_nothing());
    s.check("queue_stats_done", stats_done());
    s.check("queue_stats_cancelled", stats_cancelled());
    s.check("queue_stats_preempted", stats_preempted());
    s.check("queue_stats_bad_arguments", stats_bad_arguments());
}

/// Nodes in the long graphs: enough that a run takes many scheduler ticks.
const LONG: usize = 400;

fn poll_then_wait() -> Check {
    let l = long_graph(LONG)?;
    let job = l.graph.submit(CLASS_NORMAL).context("submit")?;
    expect_errno(job.poll(), EAGAIN).context("poll while running")?;
    job.wait(u64::MAX).context("wait")?;
    job.poll().context("poll when done")?;
    job.wait(1).context("wait when done")?;
    // x times the identity, LONG times: x exactly.
    let d = (LONG_DIM * LONG_DIM) as usize;
    let want: Vec<f64> = (0..d).map(|i| ((i % 17) as f64) - 8.0).collect();
    expect_close(&l.out.to_vec_f32().context("read")?, &want, 0.0).context("result")
}

fn timeout_and_cancel() -> Check {
    let l = long_graph(LONG)?;
    let job = l.graph.submit(CLASS_BACKGROUND).context("submit")?;
    expect_errno(job.wait(1_000_000), ETIMEDOUT).context("1 ms deadline")?;
    job.cancel().context("cancel")?;
    expect_errno(job.wait(u64::MAX), ECANCELED).context("cancelled")?;
    expect_errno(job.poll(), ECANCELED).context("stays cancelled")?;
    job.cancel().context("cancel again")?;
    // The outputs are copied after the last node: a cancelled run never writes them.
    let zeros = alloc::vec![0f64; (LONG_DIM * LONG_DIM) as usize];
    expect_close(&l.out.to_vec_f32().context("read")?, &zeros, 0.0).context("output")?;
    // The graph runs again after a cancelled run.
    let small = f32_tensor(&[2], &[-1.0, 2.0])?;
    let out = f32_tensor(&[2], &[])?;
    let g = Graph::create(
        &[node(op::RELU, &[bound(0)], &[])],
        &[small.raw(), out.raw()],
        &[libway::abi::ai::Output { node: 0, tensor: 1 }],
        MODE_FAST,
    )
    .context("graph")?;
    g.run(CLASS_BACKGROUND).context("run")?;
    expect_close(&out.to_vec_f32().context("read")?, &[0.0, 2.0], 0.0).context("relu")
}

/// The number of accelerators; an error when there are none (the preemption checks
/// need at least one to keep busy).
fn accel_count() -> Result<usize, alloc::string::String> {
    let n = infer::accels().context("accels")?.len();
    if n == 0 {
        return Err("no accelerators".into());
    }
    Ok(n)
}

/// The class that should overtake background work: RT when this process may use it
/// (`aiaccel` or `rtprio`), else normal.
fn high_class() -> u32 {
    if caps::has(AI_ACCEL) || caps::has(SET_RT_PRIORITY) {
        CLASS_RT
    } else {
        CLASS_NORMAL
    }
}

/// `count` background jobs of `l`'s graph, submitted in turn.
fn background_jobs(l: &Long, count: usize) -> Result<Vec<Job>, alloc::string::String> {
    let mut bg: Vec<Job> = Vec::new();
    for _ in 0..count {
        bg.push(
            l.graph
                .submit(CLASS_BACKGROUND)
                .context("submit background")?,
        );
    }
    Ok(bg)
}

/// The short job of the preemption checks: `relu` of `x = [-3, 0.5, 4]` into `out [3]`
/// (one node, so `[0, 0.5, 4]` after one step). Returns `x`, `out` and the graph.
fn short_relu() -> Result<(Tensor, Tensor, Graph), alloc::string::String> {
    let x = f32_tensor(&[3], &[-3.0, 0.5, 4.0])?;
    let out = f32_tensor(&[3], &[])?;
    let g = Graph::create(
        &[node(op::RELU, &[bound(0)], &[])],
        &[x.raw(), out.raw()],
        &[libway::abi::ai::Output { node: 0, tensor: 1 }],
        MODE_FAST,
    )
    .context("graph")?;
    Ok((x, out, g))
}

/// One more long background job than there are accelerators, then a short job of a
/// higher class (RT when this process may use it, else normal): the short job finishes
/// while every background job is still pending, because running jobs give way at their
/// next node and queued ones wait.
fn higher_class_overtakes() -> Check {
    let n = accel_count()?;
    let high = high_class();
    let l = long_graph(LONG)?;
    let bg = background_jobs(&l, n + 1)?;
    let (_x, out, g) = short_relu()?;
    let r = g.run(high).context("high-class run");
    let pending: Vec<bool> = bg
        .iter()
        .map(|j| j.poll() == Err(libway::Errno(EAGAIN)))
        .collect();
    for j in &bg {
        let _ = j.cancel();
    }
    for j in &bg {
        let e = j.wait(u64::MAX);
        if e.is_ok() || e == Err(libway::Errno(ECANCELED)) {
            continue;
        }
        return Err(format!("a background job ended with {e:?}"));
    }
    r?;
    expect_close(&out.to_vec_f32().context("read")?, &[0.0, 0.5, 4.0], 0.0).context("result")?;
    expect_eq(pending, alloc::vec![true; n + 1]).context("background jobs still pending")
}

/// RT and high need `aiaccel` or `rtprio`; normal and background are open; an unknown
/// class is `EINVAL`.
fn class_needs_capability() -> Check {
    let st = in_child(|| {
        let _ = caps::drop(AI_ACCEL | SET_RT_PRIORITY);
        let g = match Graph::create(&[], &[], &[], MODE_FAST) {
            Ok(g) => g,
            Err(_) => return 10,
        };
        if g.submit(CLASS_RT).map(drop) != Err(libway::Errno(EPERM)) {
            return 11;
        }
        if g.submit(CLASS_HIGH).map(drop) != Err(libway::Errno(EPERM)) {
            return 12;
        }
        if g.run(CLASS_NORMAL).is_err() || g.run(CLASS_BACKGROUND).is_err() {
            return 13;
        }
        if g.submit(99).map(drop) != Err(libway::Errno(EINVAL)) {
            return 14;
        }
        0
    })?;
    expect_exit(st, 0).context("without the capabilities")?;
    let st = in_child(|| {
        let _ = caps::drop(SET_RT_PRIORITY);
        if !caps::has(AI_ACCEL) {
            return 0;
        }
        let g = match Graph::create(&[], &[], &[], MODE_FAST) {
            Ok(g) => g,
            Err(_) => return 10,
        };
        match g.run(CLASS_RT) {
            Ok(()) => 0,
            Err(_) => 11,
        }
    })?;
    expect_exit(st, 0).context("with aiaccel")
}

/// `ai::MAX_JOBS` queued or running jobs, then `EAGAIN`; after they are cancelled the
/// count and the bytes of their arenas are back where they were.
fn job_limit() -> Check {
    let l = long_graph(LONG)?;
    let before = ai::usage_of(me()).context("usage")?;
    let mut jobs = Vec::new();
    let err = loop {
        match l.graph.submit(CLASS_BACKGROUND) {
            Ok(j) => jobs.push(j),
            Err(e) => break e,
        }
        if jobs.len() > MAX_JOBS {
            break libway::Errno(0);
        }
    };
    let during = ai::usage_of(me()).context("usage")?;
    for j in &jobs {
        let _ = j.cancel();
    }
    for j in &jobs {
        let _ = j.wait(u64::MAX);
    }
    expect_eq((jobs.len(), err.0), (MAX_JOBS, EAGAIN)).context("limit")?;
    expect_eq(during.jobs as usize, MAX_JOBS).context("charged while queued")?;
    drop(jobs);
    let after = ai::usage_of(me()).context("usage")?;
    expect_eq(
        (after.jobs, after.tensor_bytes),
        (before.jobs, before.tensor_bytes),
    )
    .context("released")
}

/// A child with a graph, its tensors and queued and running jobs is killed: its usage
/// goes to zero and the system's totals come back.
fn kill_leaves_nothing() -> Check {
    let before = ai::totals().context("totals")?;
    let (pid, report) = fork_holder(|| {
        (|| {
            let l = long_graph(LONG).ok()?;
            let mut jobs = Vec::new();
            for _ in 0..3 {
                jobs.push(l.graph.submit(CLASS_BACKGROUND).ok()?);
            }
            core::mem::forget(jobs);
            core::mem::forget(l);
            Some(())
        })()
        .is_some()
    })?;
    let during = ai::usage_of(pid as u64).context("usage")?;
    process::kill(pid, SIGKILL).context("kill")?;
    let st = wait_for(pid, 60_000)?;
    expect_eq(report, (Some(1), b'y')).context("child set up")?;
    expect_eq((during.graphs, during.jobs, during.tensors), (1, 3, 3))
        .context("child charged while alive")?;
    expect_signal(st, SIGKILL).context("child")?;
    let after = ai::usage_of(pid as u64).context("usage")?;
    expect_eq(
        (after.tensors, after.tensor_bytes, after.graphs, after.jobs),
        (0, 0, 0, 0),
    )
    .context("child usage")?;
    // The running job stops at its next node; give the workers a moment to drop it.
    totals_return_to(&before)
}

/// A finished job: state done, one node counted per graph node (not the output copy),
/// some time on a worker, and the queue time set; final (a second read is the same).
fn stats_done() -> Check {
    const NODES: usize = 7;
    let l = long_graph(NODES)?;
    let job = l.graph.submit(CLASS_NORMAL).context("submit")?;
    job.wait(u64::MAX).context("wait")?;
    let st = job.stats().context("stats")?;
    expect_eq((st.state, st.nodes_run as usize), (JOB_DONE, NODES)).context("state and nodes")?;
    if st.run_ns == 0 || st.queued_ns == 0 {
        return Err(format!(
            "run_ns {} queued_ns {}: both must be > 0",
            st.run_ns, st.queued_ns
        ));
    }
    expect_eq(job.stats().context("stats again")?, st).context("final")
}

/// A cancelled long job says so, having run fewer nodes than the graph has.
fn stats_cancelled() -> Check {
    let l = long_graph(LONG)?;
    let job = l.graph.submit(CLASS_BACKGROUND).context("submit")?;
    let st = job.stats().context("stats while pending")?;
    expect_eq(st.state, JOB_PENDING).context("pending")?;
    job.cancel().context("cancel")?;
    expect_errno(job.wait(u64::MAX), ECANCELED).context("cancelled")?;
    let st = job.stats().context("stats")?;
    expect_eq(st.state, JOB_CANCELLED).context("state")?;
    if st.nodes_run as usize >= LONG {
        return Err(format!("{} nodes run of {LONG}", st.nodes_run));
    }
    Ok(())
}

/// Waits until every job in `jobs` has started a node (`queued_ns` set), up to 60 s.
fn all_started(jobs: &[Job]) -> Result<Vec<JobStats>, alloc::string::String> {
    let t0 = libway::time::monotonic_ns().context("clock")?;
    loop {
        let sts: Vec<JobStats> = jobs
            .iter()
            .map(|j| j.stats())
            .collect::<Result<_, _>>()
            .context("stats")?;
        if sts.iter().all(|s| s.queued_ns > 0) {
            return Ok(sts);
        }
        if libway::time::monotonic_ns().context("clock")? - t0 > 60_000_000_000 {
            return Err(format!("jobs never all started: {sts:?}"));
        }
        let _ = process::sleep_or_yield(1);
    }
}

/// Deterministic preemption: one long background job per accelerator, all seen running
/// (so no worker is idle), then a short job of a higher class (RT when allowed, else
/// normal) waits in the queue; the first worker to finish a node must put its background
/// job back, so the background jobs show at least one preemption between them. The
/// short job's own stats show it done with one node and no preemption.
fn stats_preempted() -> Check {
    let n = accel_count()?;
    let high = high_class();
    let l = long_graph(LONG)?;
    let bg = background_jobs(&l, n)?;
    let started = all_started(&bg);
    let (_x, out, g) = short_relu()?;
    let short = g.submit(high).context("submit short")?;
    let r = short.wait(u64::MAX).context("short run");
    // The short job ran, so a worker put its background job back for it (none of them
    // can have finished LONG nodes yet).
    let during: Vec<JobStats> = bg.iter().filter_map(|j| j.stats().ok()).collect();
    for j in &bg {
        let _ = j.cancel();
    }
    for j in &bg {
        let _ = j.wait(u64::MAX);
    }
    started?;
    r?;
    let sst = short.stats().context("short stats")?;
    expect_eq(
        (sst.state, sst.nodes_run, sst.preemptions),
        (JOB_DONE, 1, 0),
    )
    .context("short job")?;
    let after: Vec<JobStats> = bg
        .iter()
        .map(|j| j.stats())
        .collect::<Result<_, _>>()
        .context("stats")?;
    let total: u32 = after.iter().map(|s| s.preemptions).sum();
    if total == 0 {
        return Err(format!("no background job was preempted: {during:?}"));
    }
    expect_close(&out.to_vec_f32().context("read")?, &[0.0, 0.5, 4.0], 0.0).context("result")
}

/// `infer_stats` on a closed handle (`EBADF`), a graph handle (`EINVAL`), and into a bad
/// pointer (`EFAULT`), the job unaffected.
fn stats_bad_arguments() -> Check {
    let l = long_graph(2)?;
    let job = l.graph.submit(CLASS_NORMAL).context("submit")?;
    job.wait(u64::MAX).context("wait")?;
    let call = |h: u32, p: usize| {
        // SAFETY: the kernel writes at most one `JobStats` at `p`; every `p` given here is
        // either a live local or an address no Rust object occupies.
        unsafe { libway::sys::call(libway::abi::sys::INFER_STATS, [h as usize, p, 0, 0, 0, 0]) }
    };
    let mut st = JobStats::default();
    let p = &mut st as *mut JobStats as usize;
    expect_errno(call(0xFFF0, p).map(drop), EBADF).context("no such handle")?;
    expect_errno(call(l.graph.raw(), p).map(drop), EINVAL).context("a graph handle")?;
    for bad in [0usize, 8, usize::MAX - 7, 0xFFFF_8000_0000_0000] {
        expect_errno(call(job.raw(), bad).map(drop), EFAULT).context("bad pointer")?;
    }
    call(job.raw(), p).context("good call")?;
    expect_eq((st.state, st.nodes_run), (JOB_DONE, 2)).context("after the bad calls")
}
