//! The model registry: `.waymodel` files loaded into tensors and a graph (`model_load`),
//! and the list of loaded models `ai_info(INFO_MODELS)` reports.
//!
//! Loading checks the whole file first (`wayos_kcore::waymodel::parse`: format, limits,
//! both SHA-256 sums; then the graph validator), and only then creates tensors, so a bad
//! file creates nothing. A model is its graph: the registry keeps a weak reference per
//! load, and an entry whose graph is gone (its handles closed, its owner dead) is dropped
//! when next seen. Must never: read more than `waymodel::MAX_FILE_BYTES` from a file, or
//! allocate for a file before that bound and the kernel reserve admit it.

use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use wayos_abi::ai::Output;
use wayos_abi::waymodel::MAX_FILE_BYTES;
use wayos_kcore::waymodel::{self, ModelError, ModelErrorKind};

use super::graph::{BuildError, Graph};
use super::tensor::Tensor;
use crate::error::{Errno, KResult};
use crate::sync::Mutex;
use crate::task::process::Process;

/// One loaded model.
pub struct Entry {
    pub name: String,
    pub owner: u64,
    /// Bytes of its tensors (weights, inputs, outputs).
    pub bytes: u64,
    pub graph: Weak<Graph>,
}

static MODELS: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The errno a refused file gets: `EBADMSG` when a SHA-256 does not match (the file was
/// changed after it was written), `EFBIG` past the size limit, `ENOMEM` when memory ran
/// out, `ENOEXEC` for anything else (not a valid `.waymodel`, graph included).
pub fn model_errno(e: &ModelError) -> Errno {
    match e.kind {
        ModelErrorKind::Hash(_) => Errno(wayos_abi::errno::EBADMSG),
        ModelErrorKind::TooLarge { .. } => Errno(wayos_abi::errno::EFBIG),
        ModelErrorKind::NoMemory => Errno::ENOMEM,
        _ => Errno::ENOEXEC,
    }
}

/// Reads the whole file behind `f` from its start: `EFBIG` past `MAX_FILE_BYTES`,
/// `EINVAL` unless a regular file.
pub fn read_file(f: &crate::descriptor::FileRef) -> KResult<Vec<u8>> {
    let st = f.stat()?;
    if st.mode & wayos_abi::fs::S_IFMT != wayos_abi::fs::S_IFREG {
        return Err(Errno::EINVAL);
    }
    let size = usize::try_from(st.size).map_err(|_| Errno(wayos_abi::errno::EFBIG))?;
    if st.size > MAX_FILE_BYTES {
        return Err(Errno(wayos_abi::errno::EFBIG));
    }
    crate::mm::reserve::admit(size)?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(size).map_err(|_| Errno::ENOMEM)?;
    buf.resize(size, 0);
    f.seek(0, wayos_abi::fcntl::SEEK_SET)?;
    let mut got = 0;
    while got < size {
        let n = f.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    // A file that shrank meanwhile is judged by what was read.
    buf.truncate(got);
    Ok(buf)
}

/// What a load made: the graph, and the model's input and output tensors (the weights
/// are reachable only through the graph).
pub struct Loaded {
    pub graph: Arc<Graph>,
    pub inputs: Vec<Arc<Tensor>>,
    pub outputs: Vec<Arc<Tensor>>,
}

/// Loads `bytes` as a `.waymodel` for `owner`. Every refusal is logged with where the
/// file is wrong.
pub fn load(owner: &Process, bytes: &[u8]) -> KResult<Loaded> {
    let refuse = |e: ModelError| {
        log::warn!("model_load: pid {}: {}", owner.pid, e);
        model_errno(&e)
    };
    let model = waymodel::parse(bytes).map_err(refuse)?;
    let mg = model.graph().map_err(refuse)?;
    let nt = model.n_tensors();
    let mut tensors: Vec<Arc<Tensor>> = Vec::new();
    tensors
        .try_reserve_exact(mg.bound.len())
        .map_err(|_| Errno::ENOMEM)?;
    let mut total = 0u64;
    for (i, info) in mg.bound.iter().enumerate() {
        let t = Tensor::create(owner, info)?;
        if i < nt {
            let data = model.tensor(i).ok_or(Errno::ENOEXEC)?.data;
            if !data.is_empty() {
                t.with_bytes_mut(|dst| {
                    if dst.len() != data.len() {
                        return Err(Errno::ENOEXEC);
                    }
                    dst.copy_from_slice(data);
                    Ok(())
                })??;
            }
        }
        total = total.saturating_add(t.bytes() as u64);
        tensors.push(t);
    }
    let mut inputs = Vec::new();
    inputs
        .try_reserve_exact(model.n_inputs())
        .map_err(|_| Errno::ENOMEM)?;
    for k in 0..model.n_inputs() {
        let i = model.input(k).ok_or(Errno::ENOEXEC)?;
        inputs.push(tensors.get(i).ok_or(Errno::ENOEXEC)?.clone());
    }
    let mut outputs = Vec::new();
    outputs
        .try_reserve_exact(mg.outputs.len())
        .map_err(|_| Errno::ENOMEM)?;
    for o in &mg.outputs {
        outputs.push(
            tensors
                .get(o.tensor as usize)
                .ok_or(Errno::ENOEXEC)?
                .clone(),
        );
    }
    let outs: Vec<Output> = mg.outputs;
    let graph = match Graph::build(owner, tensors, mg.nodes, outs, model.mode()) {
        Ok(g) => g,
        Err(BuildError::Errno(e)) => return Err(e),
        Err(BuildError::Invalid(e)) => {
            log::warn!("model_load: pid {}: graph: {}", owner.pid, e);
            return Err(Errno::ENOEXEC);
        }
    };
    register(model.name(), owner.pid, total, &graph)?;
    Ok(Loaded {
        graph,
        inputs,
        outputs,
    })
}

fn register(name: &str, owner: u64, bytes: u64, graph: &Arc<Graph>) -> KResult<()> {
    let mut n = String::new();
    n.try_reserve_exact(name.len()).map_err(|_| Errno::ENOMEM)?;
    n.push_str(name);
    let mut models = MODELS.lock();
    models.retain(|e| e.graph.strong_count() > 0);
    models.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
    models.push(Entry {
        name: n,
        owner,
        bytes,
        graph: Arc::downgrade(graph),
    });
    Ok(())
}

/// Calls `f` for every loaded model whose graph still exists. (A graph whose last other
/// reference goes meanwhile is dropped here, under the registry lock: dropping a graph
/// never takes it.)
pub fn for_each(mut f: impl FnMut(&Entry, &Graph)) {
    let mut models = MODELS.lock();
    models.retain(|e| e.graph.strong_count() > 0);
    for e in models.iter() {
        if let Some(g) = e.graph.upgrade() {
            f(e, &g);
        }
    }
}
