//! The inference syscalls: `infer_submit`, `infer_wait`, `infer_cancel`, `infer_stats`
//! (`docs/ai.md`, "The queue and classes"). Jobs live in `ai::queue`; this module only
//! turns handles and arguments into calls on it.
//!
//! Classes: `CLASS_NORMAL` and `CLASS_BACKGROUND` are open to every process; `CLASS_RT`
//! and `CLASS_HIGH` outrank normal user work (the worker runs at the job's class), so they
//! need `caps::AI_ACCEL` or `caps::SET_RT_PRIORITY` — the same rule `set_priority` applies
//! to threads, with the accelerator capability as the narrower grant for `aid`.
//!
//! Must never: hold the handle-table lock while waiting, or wait past a SIGKILL.
#![deny(unsafe_code)]

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use wayos_abi::ai::{GraphDesc, ModelHandles, Node, Output};
use wayos_abi::zerocopy::IntoBytes;
use wayos_abi::{ai, caps};

use super::gate;
use crate::ai::graph::{BuildError, Graph};
use crate::ai::queue::{self, Job};
use crate::ai::{registry, tensor};
use crate::descriptor::fd_errno;
use crate::error::{Errno, KResult};
use crate::ipc::{handle_errno, KObject};
use crate::task;
use crate::umem::{ReadOnly, UserPtr, UserSlice, WriteOnly};

/// The rights a new job handle carries.
pub const JOB_RIGHTS: u32 = ai::RIGHT_READ | ai::RIGHT_WRITE;

/// The class rank `class` asks for, after the capability check: `EINVAL` for an unknown
/// class, `EPERM` for RT or high without `AI_ACCEL` or `SET_RT_PRIORITY`.
pub fn class_rank(class: usize) -> KResult<usize> {
    let class = u32::try_from(class).map_err(|_| Errno::EINVAL)?;
    let rank = queue::rank(class).ok_or(Errno::EINVAL)?;
    if class < ai::CLASS_NORMAL && gate::require(caps::AI_ACCEL).is_err() {
        gate::require(caps::SET_RT_PRIORITY)?;
    }
    Ok(rank)
}

/// The job behind handle `h` if it carries `needed`: `EBADF`, `EACCES`, `EINVAL` (not a
/// job).
fn job(h: usize, needed: u32) -> KResult<Arc<Job>> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let h = u32::try_from(h).map_err(|_| Errno::EBADF)?;
    let table = p.handles.lock();
    match table.get(h, needed).map_err(handle_errno)? {
        KObject::Job(j) => Ok(j.clone()),
        _ => Err(Errno::EINVAL),
    }
}

/// Installs `job` in the caller's handle table; if that fails the job is cancelled, so a
/// refused submit leaves nothing queued.
pub fn install_job(job: Arc<Job>) -> KResult<usize> {
    match install(KObject::Job(job.clone()), JOB_RIGHTS) {
        Ok(h) => Ok(h as usize),
        Err(e) => {
            queue::cancel(&job);
            Err(e)
        }
    }
}

/// `infer_wait(job, timeout_ns)`: 0 when the run succeeded, its errno when it failed
/// (`ECANCELED` once cancelled); `EAGAIN` while pending when `timeout_ns` is 0,
/// `ETIMEDOUT` when the time passes, `EINTR` on a signal (and when the process is being
/// killed). `u64::MAX` waits without a deadline.
pub fn sys_infer_wait(h: usize, timeout_ns: usize) -> KResult<usize> {
    let job = job(h, ai::RIGHT_READ)?;
    if let Some(r) = job.result() {
        return r.map(|()| 0);
    }
    let timeout_ns = timeout_ns as u64;
    if timeout_ns == 0 {
        return Err(Errno::EAGAIN);
    }
    let ready = || match job.result() {
        Some(r) => Some(r.map(|()| 0)),
        None if task::signal::interrupted() => Some(Err(Errno::EINTR)),
        None => None,
    };
    if timeout_ns == u64::MAX {
        return job.done.wait_until(ready);
    }
    let deadline = crate::arch::uptime_ns().saturating_add(timeout_ns);
    job.done
        .wait_until_deadline(deadline, ready)
        .unwrap_or(Err(Errno::ETIMEDOUT))
}

/// `infer_cancel(job)`: a queued job ends now with `ECANCELED`, a running one at its
/// next node boundary; a finished job keeps its result. Needs `RIGHT_WRITE`.
pub fn sys_infer_cancel(h: usize) -> KResult<usize> {
    let job = job(h, ai::RIGHT_WRITE)?;
    queue::cancel(&job);
    Ok(0)
}

/// `infer_stats(job, out)`: what the job has used so far (`ai::JobStats`; final once it
/// ended). Needs `RIGHT_READ`. `EBADF`, `EACCES`, `EINVAL` (not a job) as for the other
/// job calls; `EFAULT` for a bad `out` (nothing changes: the call only reads).
pub fn sys_infer_stats(h: usize, out: usize) -> KResult<usize> {
    let job = job(h, ai::RIGHT_READ)?;
    let out = UserPtr::<ai::JobStats, WriteOnly>::new(out)?;
    let st = job.stats();
    drop(job);
    out.write(&st)?;
    Ok(0)
}

/// The rights a new graph handle carries: `RIGHT_WRITE` lets its holder run it (a run
/// writes its output tensors), `RIGHT_READ` lets it ask about it. No grant: a graph is
/// bound to its creator's tensors and quota.
pub const GRAPH_RIGHTS: u32 = ai::RIGHT_READ | ai::RIGHT_WRITE;

fn graph(h: usize, needed: u32) -> KResult<Arc<Graph>> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let h = u32::try_from(h).map_err(|_| Errno::EBADF)?;
    let table = p.handles.lock();
    match table.get(h, needed).map_err(handle_errno)? {
        KObject::Graph(g) => Ok(g.clone()),
        _ => Err(Errno::EINVAL),
    }
}

/// Installs `obj` in the caller's table (`ENOMEM` when full; the object is then dropped
/// after the table's lock, so a graph's tensors are never freed under it).
fn install(obj: KObject, rights: u32) -> KResult<u32> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let mut table = p.handles.lock();
    if table.room() == 0 {
        drop(table);
        drop(obj);
        return Err(Errno::ENOMEM);
    }
    table.insert(obj, rights).map_err(handle_errno)
}

/// Reads `count` plain records at `addr` into a vector (fallible; the caller bounded
/// `count`).
fn read_array<T>(addr: usize, count: usize) -> KResult<Vec<T>>
where
    T: wayos_abi::zerocopy::FromBytes + IntoBytes + Default + Clone,
{
    let bytes = count
        .checked_mul(core::mem::size_of::<T>())
        .ok_or(Errno::EINVAL)?;
    let src = UserSlice::<ReadOnly>::new(addr, bytes)?;
    crate::mm::reserve::admit(bytes)?;
    let mut v: Vec<T> = Vec::new();
    v.try_reserve_exact(count).map_err(|_| Errno::ENOMEM)?;
    v.resize(count, T::default());
    src.read_into(v.as_mut_slice().as_mut_bytes())?;
    Ok(v)
}

/// `graph_create(desc)`: copies the nodes, bound handles and outputs, looks the tensors
/// up (an input needs `RIGHT_READ`, an output `RIGHT_WRITE`), validates, allocates the
/// arena. `EINVAL` for counts past the `ai::MAX_*` limits, an unknown mode, or a graph
/// the validator refuses (logged with the node it names); `EBADF`/`EACCES` for a handle;
/// `EMFILE` past `ai::MAX_GRAPHS`; `EDQUOT` when the arena exceeds the quota.
pub fn sys_graph_create(desc: usize) -> KResult<usize> {
    let d = UserPtr::<GraphDesc, ReadOnly>::new(desc)?.read()?;
    let (n_nodes, n_bound, n_outputs) =
        (d.n_nodes as usize, d.n_bound as usize, d.n_outputs as usize);
    if n_nodes > ai::MAX_NODES || n_bound > ai::MAX_BOUND || n_outputs > ai::MAX_OUTPUTS {
        return Err(Errno::EINVAL);
    }
    if d.mode != ai::MODE_FAST && d.mode != ai::MODE_BITEXACT {
        return Err(Errno::EINVAL);
    }
    let addr = |a: u64| usize::try_from(a).map_err(|_| Errno::EFAULT);
    let nodes: Vec<Node> = read_array(addr(d.nodes)?, n_nodes)?;
    let handles: Vec<u32> = read_array(addr(d.bound)?, n_bound)?;
    let outputs: Vec<Output> = read_array(addr(d.outputs)?, n_outputs)?;
    // What each bound tensor is used for decides the right its handle needs.
    let mut need = [0u32; ai::MAX_BOUND];
    for n in &nodes {
        for &r in n
            .inputs
            .iter()
            .take((n.n_inputs as usize).min(ai::MAX_NODE_INPUTS))
        {
            if r & ai::REF_NODE == 0 {
                if let Some(x) = need.get_mut(r as usize) {
                    *x |= ai::RIGHT_READ;
                }
            }
        }
    }
    for o in &outputs {
        if let Some(x) = need.get_mut(o.tensor as usize) {
            *x |= ai::RIGHT_WRITE;
        }
    }
    let mut bound = Vec::new();
    bound
        .try_reserve_exact(n_bound)
        .map_err(|_| Errno::ENOMEM)?;
    for (i, &h) in handles.iter().enumerate() {
        bound.push(tensor::lookup(h, need[i])?);
    }
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let g = match Graph::build(&p, bound, nodes, outputs, d.mode, Vec::new()) {
        Ok(g) => g,
        Err(BuildError::Errno(e)) => return Err(e),
        Err(BuildError::Invalid(e)) => {
            log::warn!("graph_create: pid {}: {}", p.pid, e);
            return Err(Errno::EINVAL);
        }
    };
    drop(p);
    Ok(install(KObject::Graph(g), GRAPH_RIGHTS)? as usize)
}

/// `infer_submit(graph, class)`: queues one run (`RIGHT_WRITE` on the graph). `EAGAIN`
/// past `ai::MAX_JOBS`, `EPERM` for a class the caller may not use, `EDQUOT`/`ENOMEM`
/// when a run overlapping another of the same graph cannot get its own arena.
pub fn sys_infer_submit(h: usize, class: usize) -> KResult<usize> {
    let g = graph(h, ai::RIGHT_WRITE)?;
    let rank = class_rank(class)?;
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let work = g.begin_run(&p.usage)?;
    let job = queue::submit(p.pid, &p.usage, rank, work)?;
    drop(p);
    install_job(job)
}

/// `model_load(fd, out)`: the `.waymodel` file behind `fd` (read from its start) into
/// tensors and a graph; the handles go to `out`. `ENOEXEC` for a malformed file,
/// `EBADMSG` when a SHA-256 does not match, `EFBIG` for a file past the size limit
/// (each logged with what is wrong); quota and limit errors as for tensors and graphs.
/// Nothing is left behind on any error.
pub fn sys_model_load(fd: usize, out: usize) -> KResult<usize> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let f = p.fds.lock().get(fd).map_err(fd_errno)?.clone();
    let out = UserPtr::<ModelHandles, WriteOnly>::new(out)?;
    out.probe_writable()?;
    let bytes = registry::read_file(&f)?;
    drop(f);
    let loaded = registry::load(&p, &bytes)?;
    drop(bytes);
    if loaded.inputs.len() > ai::MAX_OUTPUTS || loaded.outputs.len() > ai::MAX_OUTPUTS {
        return Err(Errno::EINVAL);
    }
    // Every handle or none: room for all of them first.
    let need = 1 + loaded.inputs.len() + loaded.outputs.len();
    let mut hs = ModelHandles::default();
    {
        let mut table = p.handles.lock();
        if table.room() < need {
            return Err(Errno::ENOMEM);
        }
        let ins = ai::RIGHT_READ | ai::RIGHT_WRITE | ai::RIGHT_GRANT;
        let outs = ai::RIGHT_READ | ai::RIGHT_GRANT;
        hs.graph = table
            .insert(KObject::Graph(loaded.graph.clone()), GRAPH_RIGHTS)
            .map_err(handle_errno)?;
        for (i, t) in loaded.inputs.iter().enumerate() {
            hs.inputs[i] = table
                .insert(KObject::Tensor(t.clone()), ins)
                .map_err(handle_errno)?;
        }
        hs.n_inputs = loaded.inputs.len() as u32;
        for (i, t) in loaded.outputs.iter().enumerate() {
            hs.outputs[i] = table
                .insert(KObject::Tensor(t.clone()), outs)
                .map_err(handle_errno)?;
        }
        hs.n_outputs = loaded.outputs.len() as u32;
    }
    if let Err(e) = out.write(&hs) {
        // The page went away after the probe: take the handles back.
        let mut table = p.handles.lock();
        let mut gone = Vec::new();
        let all = core::iter::once(hs.graph)
            .chain(hs.inputs[..hs.n_inputs as usize].iter().copied())
            .chain(hs.outputs[..hs.n_outputs as usize].iter().copied());
        if gone.try_reserve_exact(need).is_ok() {
            for h in all {
                if let Ok(o) = table.remove(h) {
                    gone.push(o);
                }
            }
        }
        drop(table);
        drop(gone);
        return Err(e);
    }
    Ok(0)
}

/// `ai_info` for the records this module's objects own: `INFO_ACCELS` ([`ai::AccelInfo`]
/// per accelerator), `INFO_GRAPHS` ([`ai::GraphInfo`] per graph alive, anyone's),
/// `INFO_MODELS` ([`ai::ModelInfo`] per copy of a model's weights, with its holders). Fills as many whole records as
/// fit in `len` bytes at `buf`, returns how many there are. Records are gathered into a
/// bounded kernel buffer first: no lock is held across the user copy.
pub fn ai_info_records(what: u32, buf: usize, len: usize) -> KResult<usize> {
    match what {
        ai::INFO_ACCELS => {
            let (depth, _) = queue::depth();
            let isa = crate::ai::isa_name().as_bytes();
            let mut recs: Vec<ai::AccelInfo> = Vec::new();
            let accels = crate::ai::accel::accels();
            recs.try_reserve_exact(accels.len())
                .map_err(|_| Errno::ENOMEM)?;
            for (i, a) in accels.iter().enumerate() {
                let (job, pid) = a.current().unwrap_or((0, 0));
                let mut r = ai::AccelInfo {
                    index: i as u32,
                    queue_depth: depth as u32,
                    tid: a.tid.load(Ordering::Relaxed),
                    jobs_done: a.jobs_done.load(Ordering::Relaxed),
                    busy_ns: a.busy_ns.load(Ordering::Relaxed),
                    current_job: job,
                    current_pid: pid,
                    ..Default::default()
                };
                let n = isa.len().min(r.isa.len());
                r.isa[..n].copy_from_slice(&isa[..n]);
                recs.push(r);
            }
            put_records(&recs, buf, len)
        }
        ai::INFO_GRAPHS => {
            let mut recs: Vec<ai::GraphInfo> = Vec::new();
            let mut short = false;
            crate::ai::graph::for_each(|g| {
                if recs.len() >= MAX_RECORDS || recs.try_reserve(1).is_err() {
                    short = true;
                    return;
                }
                recs.push(ai::GraphInfo {
                    id: g.id,
                    owner: g.owner,
                    nodes: g.node_count() as u32,
                    mode: g.mode(),
                    arena_bytes: g.arena_bytes(),
                    runs: g.runs.load(Ordering::Relaxed),
                });
            });
            if short && recs.is_empty() {
                return Err(Errno::ENOMEM);
            }
            put_records(&recs, buf, len)
        }
        ai::INFO_MODELS => {
            let mut recs: Vec<ai::ModelInfo> = Vec::new();
            crate::ai::registry::for_each(|e, holders, g| {
                if recs.len() >= MAX_RECORDS || recs.try_reserve(1).is_err() {
                    return;
                }
                let mut r = ai::ModelInfo {
                    owner: e.owner,
                    bytes: e.bytes,
                    graph: g.id,
                    weights_id: e.weights_id(),
                    holders: u32::try_from(holders).unwrap_or(u32::MAX),
                    ..Default::default()
                };
                let name = e.name.as_bytes();
                let n = name.len().min(r.name.len());
                r.name[..n].copy_from_slice(&name[..n]);
                recs.push(r);
            });
            put_records(&recs, buf, len)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// Most records one `ai_info` call gathers (graphs: `MAX_GRAPHS` for each of many
/// processes; the rest are fewer).
const MAX_RECORDS: usize = 4096;

fn put_records<T>(recs: &[T], buf: usize, len: usize) -> KResult<usize>
where
    T: wayos_abi::zerocopy::FromBytes + IntoBytes + wayos_abi::zerocopy::Immutable,
{
    let room = len / core::mem::size_of::<T>().max(1);
    let n = room.min(recs.len());
    let bytes = recs[..n].as_bytes();
    UserSlice::<WriteOnly>::new(buf, bytes.len())?.write_from(bytes)?;
    Ok(recs.len())
}
