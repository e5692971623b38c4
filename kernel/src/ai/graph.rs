//! Graph objects: a validated `wayos_kcore::aigraph::Plan` over bound tensors, an arena
//! for the intermediate results, the math mode, and the work one run of it is
//! (`queue::Work`: one step per node, then one that copies the outputs out).
//!
//! A graph holds `Arc`s of its bound tensors (so they live as long as it does) and is
//! charged to its creator (`usage::Kind::Graphs`, and its arena's pages as
//! `Kind::TensorBytes`). A run needs an arena of its own for the intermediates: the first
//! run in flight borrows the graph's (made at `graph_create`, so the common case
//! allocates nothing per run); a run submitted while another is queued or running gets a
//! fresh one, charged to the submitter like the first and freed when it ends. Runs of one
//! graph read the same input tensors and write the same output tensors — each run's
//! last step copies its whole results in, under the tensor's lock — so overlapping runs
//! are the caller's choice, like two writers of one file. Must never: let two runs share
//! an arena, or keep the graph's arena borrowed after its run ended (the queue calls
//! [`Work::finish`] exactly once per run, on every path).

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use wayos_abi::ai::{self, Node, Output, TensorInfo, MAX_NODE_INPUTS};
use wayos_aimath::{Ctx, Mode};
use wayos_kcore::aigraph::{self, Plan, Source};

use super::exec;
use super::queue::Work;
use super::tensor::Tensor;
use crate::error::{Errno, KResult};
use crate::mm::pmm::Tier;
use crate::mm::run::PageRun;
use crate::sync::Mutex;
use crate::task::process::{Pid, Process};
use crate::task::usage::{Charge, Kind, Usage};

/// A compute graph; see the module docs.
pub struct Graph {
    pub id: u64,
    pub owner: Pid,
    nodes: Vec<Node>,
    bound: Vec<Arc<Tensor>>,
    outputs: Vec<Output>,
    plan: Plan,
    ctx: Ctx,
    mode: u32,
    arena: Option<PageRun>,
    busy: AtomicBool,
    /// Runs finished (any result).
    pub runs: AtomicU64,
    _count: Charge,
    _arena_bytes: Option<Charge>,
    /// What a model load that shares another load's weights pays for them (`registry`).
    _shared: Vec<Charge>,
}

static NEXT_GRAPH: AtomicU64 = AtomicU64::new(1);

/// Every graph alive, for `ai_info(INFO_GRAPHS)`; dead entries go when a graph is made
/// or the list is read.
static ALL: Mutex<Vec<Weak<Graph>>> = Mutex::new(Vec::new());

/// Calls `f` for every graph alive, oldest first. (A graph whose last other reference
/// goes meanwhile is dropped here, under the list's lock: dropping a graph never takes
/// it.)
pub fn for_each(mut f: impl FnMut(&Graph)) {
    let mut all = ALL.lock();
    all.retain(|w| w.strong_count() > 0);
    for w in all.iter() {
        if let Some(g) = w.upgrade() {
            f(&g);
        }
    }
}

/// Why [`Graph::build`] refused.
pub enum BuildError {
    /// The graph is malformed: the validator's verdict, naming the node.
    Invalid(aigraph::GraphError),
    /// A limit, the quota or memory: the errno.
    Errno(Errno),
}

impl From<Errno> for BuildError {
    fn from(e: Errno) -> Self {
        BuildError::Errno(e)
    }
}

impl Graph {
    /// Validates `nodes`/`outputs` over `bound` and builds the graph for `owner`:
    /// charges it (`EMFILE` past `ai::MAX_GRAPHS`, `EDQUOT` when the arena does not fit
    /// the tensor-bytes quota) and allocates the arena (`ENOMEM`). `mode` is checked by
    /// the caller. `shared` are further charges the graph holds for as long as it lives
    /// (a model load's share of weights it did not create).
    pub fn build(
        owner: &Process,
        bound: Vec<Arc<Tensor>>,
        nodes: Vec<Node>,
        outputs: Vec<Output>,
        mode: u32,
        shared: Vec<Charge>,
    ) -> Result<Arc<Graph>, BuildError> {
        let mut infos: Vec<TensorInfo> = Vec::new();
        infos
            .try_reserve_exact(bound.len())
            .map_err(|_| Errno::ENOMEM)?;
        infos.extend(bound.iter().map(|t| t.info()));
        let plan = aigraph::validate(&infos, &nodes, &outputs).map_err(BuildError::Invalid)?;
        let count = owner.usage.charge(Kind::Graphs, 1)?;
        let arena_bytes = usize::try_from(plan.arena_bytes()).map_err(|_| Errno::ENOMEM)?;
        let pages = arena_bytes.div_ceil(4096);
        let (arena, charge) = if pages == 0 {
            (None, None)
        } else {
            let charge = owner.usage.charge(Kind::TensorBytes, pages * 4096)?;
            (
                Some(PageRun::alloc_zeroed(Tier::Near, pages)?),
                Some(charge),
            )
        };
        crate::mm::reserve::admit(core::mem::size_of::<Graph>() + 64)?;
        let mut all = ALL.lock();
        all.retain(|w| w.strong_count() > 0);
        all.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        drop(all);
        let mode_math = if mode == ai::MODE_BITEXACT {
            Mode::BitExact
        } else {
            Mode::Fast
        };
        let g = Arc::new(Graph {
            id: NEXT_GRAPH.fetch_add(1, Ordering::Relaxed),
            owner: owner.pid,
            nodes,
            bound,
            outputs,
            plan,
            ctx: Ctx {
                mode: mode_math,
                isa: super::math_isa(),
            },
            mode,
            arena,
            busy: AtomicBool::new(false),
            runs: AtomicU64::new(0),
            _count: count,
            _arena_bytes: charge,
            _shared: shared,
        });
        super::stats::GRAPHS.fetch_add(1, Ordering::Relaxed);
        let mut all = ALL.lock();
        if all.try_reserve(1).is_ok() {
            all.push(Arc::downgrade(&g));
        }
        drop(all);
        Ok(g)
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn arena_bytes(&self) -> u64 {
        self.plan.arena_bytes()
    }

    pub fn mode(&self) -> u32 {
        self.mode
    }

    /// The work of one run, with its arena: the graph's own when no other run holds it,
    /// else a new one charged to `usage` (`EDQUOT`, `ENOMEM`).
    pub fn begin_run(self: &Arc<Self>, usage: &Arc<Usage>) -> KResult<Arc<dyn Work>> {
        crate::mm::reserve::admit(core::mem::size_of::<GraphRun>() + 64)?;
        let shared = self.arena.is_none()
            || self
                .busy
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
        let own = if shared {
            None
        } else {
            let r = (|| {
                let pages = self.arena.as_ref().map_or(0, PageRun::pages);
                let charge = usage.charge(Kind::TensorBytes, pages * 4096)?;
                Ok((PageRun::alloc_zeroed(Tier::Near, pages)?, charge))
            })();
            Some(r?)
        };
        Ok(Arc::new(GraphRun {
            graph: self.clone(),
            shared: shared && self.arena.is_some(),
            own,
        }))
    }

    /// Runs node `i`: inputs from bound tensors and the arena, result into its slot.
    fn run_node(&self, arena: Option<&PageRun>, i: usize) -> KResult<()> {
        let node = self.nodes.get(i).ok_or(Errno::EINVAL)?;
        let np = *self.plan.nodes().get(i).ok_or(Errno::EINVAL)?;
        let srcs = self.plan.inputs(i);
        if srcs.len() > MAX_NODE_INPUTS {
            return Err(Errno::EINVAL);
        }
        // The distinct bound tensors this node reads, each locked once.
        let mut tensors: [Option<&Arc<Tensor>>; MAX_NODE_INPUTS] = [None; MAX_NODE_INPUTS];
        let mut which = [usize::MAX; MAX_NODE_INPUTS];
        let mut n_t = 0;
        for (k, s) in srcs.iter().enumerate() {
            if let Source::Bound(b) = *s {
                let t = self.bound.get(b).ok_or(Errno::EINVAL)?;
                which[k] = match tensors[..n_t]
                    .iter()
                    .position(|x| x.is_some_and(|x| Arc::ptr_eq(x, t)))
                {
                    Some(p) => p,
                    None => {
                        tensors[n_t] = Some(t);
                        n_t += 1;
                        n_t - 1
                    }
                };
            }
        }
        let arena = arena.ok_or(Errno::EINVAL)?;
        arena.write(|mem| {
            let (out, split) = exec::Split::new(mem, np.offset as usize, np.info.bytes as usize)?;
            exec::with_tensors(&tensors[..n_t], &mut |bytes| {
                let mut ins: [(&[u8], TensorInfo); MAX_NODE_INPUTS] =
                    [(&[], TensorInfo::default()); MAX_NODE_INPUTS];
                for (k, s) in srcs.iter().enumerate() {
                    ins[k] = match *s {
                        Source::Bound(b) => (
                            *bytes.get(which[k]).ok_or(Errno::EINVAL)?,
                            self.bound[b].info(),
                        ),
                        Source::Node(j) => {
                            let p = self.plan.nodes().get(j).ok_or(Errno::EINVAL)?;
                            let part = split.input(p.offset as usize, p.info.bytes as usize)?;
                            (part, p.info)
                        }
                    };
                }
                exec::compute(&self.ctx, node, &np, &ins[..srcs.len()], out)
            })
        })
    }

    /// The last step: each output node's result into its output tensor.
    fn copy_outputs(&self, arena: Option<&PageRun>) -> KResult<()> {
        let Some(arena) = arena else {
            return Ok(());
        };
        for o in &self.outputs {
            let np = self
                .plan
                .nodes()
                .get(o.node as usize)
                .ok_or(Errno::EINVAL)?;
            let t = self.bound.get(o.tensor as usize).ok_or(Errno::EINVAL)?;
            let (off, len) = (np.offset as usize, np.info.bytes as usize);
            arena.read(|mem| {
                let src = mem.get(off..off + len).ok_or(Errno::EINVAL)?;
                t.with_bytes_mut(|dst| {
                    if dst.len() != src.len() {
                        return Err(Errno::EINVAL);
                    }
                    dst.copy_from_slice(src);
                    Ok(())
                })?
            })?;
        }
        Ok(())
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        super::stats::GRAPHS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One run of a graph (the queue's [`Work`]).
struct GraphRun {
    graph: Arc<Graph>,
    /// It borrowed the graph's arena (given back in `finish`).
    shared: bool,
    /// Its own arena and that arena's charge, when the graph's was taken.
    own: Option<(PageRun, Charge)>,
}

impl GraphRun {
    fn arena(&self) -> Option<&PageRun> {
        match &self.own {
            Some((a, _)) => Some(a),
            None => self.graph.arena.as_ref(),
        }
    }
}

impl Work for GraphRun {
    fn steps(&self) -> usize {
        self.graph.nodes.len() + 1
    }

    fn nodes(&self) -> usize {
        self.graph.nodes.len()
    }

    fn run_step(&self, i: usize) -> KResult<()> {
        if i < self.graph.nodes.len() {
            self.graph.run_node(self.arena(), i)
        } else {
            self.graph.copy_outputs(self.arena())
        }
    }

    fn finish(&self) {
        self.graph.runs.fetch_add(1, Ordering::Relaxed);
        if self.shared {
            self.graph.busy.store(false, Ordering::Release);
        }
    }

    fn describe(&self, i: usize, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        match self.graph.nodes.get(i) {
            Some(n) => write!(
                out,
                "graph {} node {} ({})",
                self.graph.id,
                i,
                aigraph::op_name(n.op).unwrap_or("?")
            ),
            None => write!(out, "graph {} output copy", self.graph.id),
        }
    }
}
