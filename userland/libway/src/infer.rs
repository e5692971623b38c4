//! The AI subsystem's client for graphs, the inference queue and models (see
//! `docs/ai.md`); tensors are [`crate::ai`].
//!
//! - [`Graph::create`] builds a graph from [`Node`]s over bound tensors ([`node`],
//!   [`bound`] and [`from_node`] make the input references); [`Graph::submit`] queues one
//!   run as a [`Job`] in a class ([`CLASS_RT`] .. [`CLASS_BACKGROUND`]), which
//!   [`Job::wait`] (or [`Job::poll`]) and [`Job::cancel`] act on; [`Graph::run`] does
//!   submit and wait in one.
//! - [`load_model`] turns a `.waymodel` file into a [`Model`]: its graph and its input and
//!   output tensors.
//! - [`accels`], [`graphs`], [`models`] read `ai_info`'s records for `ainfo`.
//!
//! Every handle type closes its handle when dropped.

use alloc::vec::Vec;

pub use wayos_abi::ai::JobStats;
pub use wayos_abi::ai::{
    op, Node, CLASS_BACKGROUND, CLASS_HIGH, CLASS_NORMAL, CLASS_RT, MODE_BITEXACT, MODE_FAST,
    NODE_ATTRS, REF_NODE,
};
use wayos_abi::ai::{
    AccelInfo, GraphDesc, GraphInfo, ModelHandles, ModelInfo, Output, INFO_ACCELS, INFO_GRAPHS,
    INFO_MODELS,
};
use wayos_abi::sys;
use wayos_abi::zerocopy::FromZeros;
use wayos_abi::Plain;

use crate::ai::Tensor;
use crate::errno::Errno;
use crate::ipc::{close_raw, handle_from};
use crate::sys::{arg_in, arg_out, call1, call2, info_records, InfoCall, MemFree};

/// Input reference to bound tensor `i`.
pub const fn bound(i: u32) -> u32 {
    i
}

/// Input reference to the result of node `i`.
pub const fn from_node(i: u32) -> u32 {
    i | REF_NODE
}

/// A node: `op` over `inputs` (references made with [`bound`] and [`from_node`]) with
/// `attrs` (the rest zero).
pub fn node(op: u32, inputs: &[u32], attrs: &[u32]) -> Node {
    let mut n = Node {
        op,
        n_inputs: inputs.len() as u32,
        ..Default::default()
    };
    for (d, s) in n.inputs.iter_mut().zip(inputs) {
        *d = *s;
    }
    for (d, s) in n.attrs.iter_mut().zip(attrs) {
        *d = *s;
    }
    n
}

/// One graph handle, closed when dropped.
#[derive(Debug, PartialEq, Eq)]
pub struct Graph {
    handle: u32,
}

impl Graph {
    /// `graph_create`: `nodes` over the tensors behind `bound` (raw tensor handles), with
    /// `outputs` copied into bound tensors after each run, in `mode`.
    pub fn create(
        nodes: &[Node],
        bound: &[u32],
        outputs: &[Output],
        mode: u32,
    ) -> Result<Graph, Errno> {
        let desc = GraphDesc {
            nodes: nodes.as_ptr() as u64,
            n_nodes: nodes.len() as u32,
            n_bound: bound.len() as u32,
            bound: bound.as_ptr() as u64,
            outputs: outputs.as_ptr() as u64,
            n_outputs: outputs.len() as u32,
            mode,
        };
        Graph::create_desc(&desc)
    }

    /// `graph_create(desc)` with the descriptor as given (for tests of bad requests).
    pub fn create_desc(desc: &GraphDesc) -> Result<Graph, Errno> {
        // SAFETY: the kernel only reads `desc` and the arrays it points to, all borrowed
        // by the caller for the call.
        let raw = unsafe { crate::sys::call(sys::GRAPH_CREATE, [arg_in(desc), 0, 0, 0, 0, 0]) }?;
        Ok(Graph {
            handle: handle_from(raw)?,
        })
    }

    /// Takes ownership of a raw handle.
    pub const fn from_raw(handle: u32) -> Graph {
        Graph { handle }
    }

    pub const fn raw(&self) -> u32 {
        self.handle
    }

    /// `infer_submit`: queues one run in `class`.
    pub fn submit(&self, class: u32) -> Result<Job, Errno> {
        let raw = call2(MemFree::INFER_SUBMIT, self.handle as usize, class as usize)?;
        Ok(Job {
            handle: handle_from(raw)?,
        })
    }

    /// Submits a run in `class` and waits for it without a deadline.
    pub fn run(&self, class: u32) -> Result<(), Errno> {
        self.submit(class)?.wait(u64::MAX)
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        let _ = close_raw(self.handle);
    }
}

/// One job handle (a queued run), closed when dropped (which does not cancel it).
#[derive(Debug, PartialEq, Eq)]
pub struct Job {
    handle: u32,
}

impl Job {
    pub const fn from_raw(handle: u32) -> Job {
        Job { handle }
    }

    pub const fn raw(&self) -> u32 {
        self.handle
    }

    /// `infer_wait`: `Ok` when the run succeeded, its errno when it failed
    /// (`ECANCELED` once cancelled); `ETIMEDOUT` after `timeout_ns` (`u64::MAX`: no
    /// deadline), `EINTR` on a signal.
    pub fn wait(&self, timeout_ns: u64) -> Result<(), Errno> {
        call2(
            MemFree::INFER_WAIT,
            self.handle as usize,
            timeout_ns as usize,
        )
        .map(drop)
    }

    /// `infer_wait` with timeout 0: `Err(EAGAIN)` while queued or running, else the
    /// result as [`Job::wait`].
    pub fn poll(&self) -> Result<(), Errno> {
        self.wait(0)
    }

    /// `infer_cancel`.
    pub fn cancel(&self) -> Result<(), Errno> {
        call1(MemFree::INFER_CANCEL, self.handle as usize).map(drop)
    }

    /// `infer_stats`: what the job has used so far (final once it ended).
    pub fn stats(&self) -> Result<JobStats, Errno> {
        let mut st = JobStats::default();
        // SAFETY: the kernel writes one `JobStats` (plain data) into `st`, which lives
        // across the call.
        unsafe {
            crate::sys::call(
                sys::INFER_STATS,
                [self.handle as usize, arg_out(&mut st), 0, 0, 0, 0],
            )
        }?;
        Ok(st)
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = close_raw(self.handle);
    }
}

/// A loaded model: its graph and its input and output tensors, in the file's order.
pub struct Model {
    pub graph: Graph,
    pub inputs: Vec<Tensor>,
    pub outputs: Vec<Tensor>,
}

/// `model_load(fd)`: the `.waymodel` file behind `fd`.
pub fn load_model(fd: usize) -> Result<Model, Errno> {
    let mut h = ModelHandles::new_zeroed();
    // SAFETY: the kernel writes one `ModelHandles` into `h`, borrowed for the call.
    unsafe { crate::sys::call(sys::MODEL_LOAD, [fd, arg_out(&mut h), 0, 0, 0, 0]) }?;
    let n_in = (h.n_inputs as usize).min(h.inputs.len());
    let n_out = (h.n_outputs as usize).min(h.outputs.len());
    Ok(Model {
        graph: Graph::from_raw(h.graph),
        inputs: h.inputs[..n_in]
            .iter()
            .map(|&t| Tensor::from_raw(t))
            .collect(),
        outputs: h.outputs[..n_out]
            .iter()
            .map(|&t| Tensor::from_raw(t))
            .collect(),
    })
}

/// Opens `path` and loads it as a model.
pub fn load_model_path(path: &str) -> Result<Model, Errno> {
    let fd = crate::fs::open_raw(path, wayos_abi::fcntl::O_RDONLY, 0)?;
    let r = load_model(fd);
    let _ = crate::io::close(fd);
    r
}

fn records<T: Plain>(what: u32) -> Result<Vec<T>, Errno> {
    info_records(InfoCall::AiInfo, what, 16)
}

/// `ai_info(INFO_ACCELS)`: the accelerators.
pub fn accels() -> Result<Vec<AccelInfo>, Errno> {
    records(INFO_ACCELS)
}

/// `ai_info(INFO_GRAPHS)`: every graph alive.
pub fn graphs() -> Result<Vec<GraphInfo>, Errno> {
    records(INFO_GRAPHS)
}

/// `ai_info(INFO_MODELS)`: the loaded models.
pub fn models() -> Result<Vec<ModelInfo>, Errno> {
    records(INFO_MODELS)
}

/// A NUL-padded name field as text.
pub fn name_of(field: &[u8]) -> &str {
    let n = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    core::str::from_utf8(&field[..n]).unwrap_or("?")
}
