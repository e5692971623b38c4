//! The model registry: `.waymodel` files loaded into tensors and a graph (`model_load`),
//! weights shared between loads by content, and the list `ai_info(INFO_MODELS)` reports.
//!
//! Loading checks the whole file first (`wayos_kcore::waymodel::parse`: format, limits,
//! both SHA-256 sums; then the graph validator), and only then creates tensors, so a bad
//! file creates nothing. A model is its graph: the registry keeps a weak reference per
//! load, and an entry whose graphs are all gone (handles closed, owners dead) is dropped
//! when next seen.
//!
//! Sharing: a load whose weights are byte-identical to a live copy's — the same weights
//! SHA-256 *and* the same weight table (each weight's dtype, shape, tier, quantization,
//! offset and length; [`Key`]) — binds that copy's weight tensors instead of making new
//! ones; its inputs, outputs, graph and arena are its own. Weights are only ever read
//! (reachable only through graphs, never a graph output), so sharing them is invisible
//! to the loads. A copy lives while any graph binding it does: the first loader's exit
//! changes nothing for the others.
//!
//! Charging (`docs/ai.md`, "Model registry"): the copy's memory is charged to the process
//! whose load made it (inside the tensors, as for any tensor), and every *other* load that
//! shares it is charged the same count and bytes again, held by its graph. So a process
//! pays for every model it has loaded as if it had its own copy — sharing saves memory,
//! never quota, and a copy outliving its maker is always paid for by each live holder.
//!
//! Must never: read more than `waymodel::MAX_FILE_BYTES` from a file, allocate for a file
//! before that bound and the kernel reserve admit it, share tensors whose bytes could
//! differ, or hold the registry lock across a tensor's creation.

use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use wayos_abi::ai::{Output, TensorInfo};
use wayos_abi::waymodel::MAX_FILE_BYTES;
use wayos_kcore::waymodel::{self, ModelError, ModelErrorKind};

use super::graph::{BuildError, Graph};
use super::tensor::Tensor;
use crate::error::{Errno, KResult};
use crate::sync::Mutex;
use crate::task::process::Process;
use crate::task::usage::{Charge, Kind};

/// What identifies one weight of a model for sharing: its metadata and where its bytes
/// lie in the weights section.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Slot {
    info: TensorInfo,
    span: (u64, u64),
}

/// A copy's identity: the weights section's SHA-256 and every weight, in table order.
/// Equal keys mean byte-identical weight tensors.
#[derive(PartialEq, Eq)]
struct Key {
    sha: [u8; 32],
    weights: Vec<Slot>,
}

/// One copy of a model's weights and the loads binding it.
pub struct Entry {
    /// The name of the model whose load made the copy.
    pub name: String,
    /// The process whose load made the copy (and is charged for its memory).
    pub owner: u64,
    /// Bytes of the weight tensors, held once.
    pub bytes: u64,
    key: Key,
    /// The weight tensors, in key order.
    weights: Vec<Weak<Tensor>>,
    /// The loads' graphs, oldest first.
    loads: Vec<Weak<Graph>>,
}

impl Entry {
    /// The first 8 bytes of the weights' SHA-256, big-endian (`ModelInfo::weights_id`).
    pub fn weights_id(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.key.sha[..8]);
        u64::from_be_bytes(b)
    }

    fn live(&mut self) -> bool {
        self.loads.retain(|g| g.strong_count() > 0);
        !self.loads.is_empty()
    }
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

/// The key of `model`'s weights (every non-input tensor of its table, in order).
fn key_of(model: &waymodel::Model<'_>) -> KResult<Key> {
    let nt = model.n_tensors();
    let mut weights = Vec::new();
    weights.try_reserve_exact(nt).map_err(|_| Errno::ENOMEM)?;
    for i in 0..nt {
        let t = model.tensor(i).ok_or(Errno::ENOEXEC)?;
        if t.is_input {
            continue;
        }
        weights.push(Slot {
            info: t.info,
            span: model.weight_span(i).ok_or(Errno::ENOEXEC)?,
        });
    }
    Ok(Key {
        sha: model.weights_sha256(),
        weights,
    })
}

/// The weight tensors of a live copy with key `key`, if there is one.
fn find_shared(key: &Key) -> KResult<Option<Vec<Arc<Tensor>>>> {
    let mut got = Vec::new();
    got.try_reserve_exact(key.weights.len())
        .map_err(|_| Errno::ENOMEM)?;
    let mut models = MODELS.lock();
    models.retain_mut(Entry::live);
    for e in models.iter() {
        if e.key != *key {
            continue;
        }
        got.clear();
        for w in &e.weights {
            match w.upgrade() {
                Some(t) => got.push(t),
                None => break,
            }
        }
        if got.len() == e.weights.len() {
            drop(models);
            return Ok(Some(got));
        }
    }
    drop(models);
    // Any tensor upgraded above is dropped here, outside the lock.
    drop(got);
    Ok(None)
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
    let key = key_of(&model)?;
    let shared = find_shared(&key)?;
    // A sharer pays for the weights as if they were its own (module docs).
    let mut share_charges: Vec<Charge> = Vec::new();
    if let Some(ws) = &shared {
        share_charges
            .try_reserve_exact(2)
            .map_err(|_| Errno::ENOMEM)?;
        let pages: usize = ws.iter().map(|t| t.bytes().div_ceil(4096) * 4096).sum();
        share_charges.push(owner.usage.charge(Kind::Tensors, ws.len())?);
        share_charges.push(owner.usage.charge(Kind::TensorBytes, pages)?);
    }
    let mut shared_iter = shared.iter().flatten();
    let mut tensors: Vec<Arc<Tensor>> = Vec::new();
    tensors
        .try_reserve_exact(mg.bound.len())
        .map_err(|_| Errno::ENOMEM)?;
    let mut weights: Vec<Weak<Tensor>> = Vec::new();
    weights
        .try_reserve_exact(key.weights.len())
        .map_err(|_| Errno::ENOMEM)?;
    let mut weight_bytes = 0u64;
    for (i, info) in mg.bound.iter().enumerate() {
        let src = if i < nt {
            model.tensor(i).ok_or(Errno::ENOEXEC)?
        } else {
            waymodel::Tensor {
                name: "",
                info: *info,
                is_input: true,
                data: &[],
            }
        };
        if i < nt && !src.is_input {
            if let Some(t) = shared_iter.next() {
                // Equal keys: same metadata, same bytes.
                weights.push(Arc::downgrade(t));
                weight_bytes = weight_bytes.saturating_add(t.bytes() as u64);
                tensors.push(t.clone());
                continue;
            }
        }
        let t = Tensor::create(owner, info)?;
        if !src.data.is_empty() {
            t.with_bytes_mut(|dst| {
                if dst.len() != src.data.len() {
                    return Err(Errno::ENOEXEC);
                }
                dst.copy_from_slice(src.data);
                Ok(())
            })??;
        }
        if i < nt && !src.is_input {
            weights.push(Arc::downgrade(&t));
            weight_bytes = weight_bytes.saturating_add(t.bytes() as u64);
        }
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
    let graph = match Graph::build(owner, tensors, mg.nodes, outs, model.mode(), share_charges) {
        Ok(g) => g,
        Err(BuildError::Errno(e)) => return Err(e),
        Err(BuildError::Invalid(e)) => {
            log::warn!("model_load: pid {}: graph: {}", owner.pid, e);
            return Err(Errno::ENOEXEC);
        }
    };
    register(model.name(), owner.pid, weight_bytes, key, weights, &graph)?;
    Ok(Loaded {
        graph,
        inputs,
        outputs,
    })
}

/// Records the load of `graph`: with the live copy whose weights it bound (the same
/// tensors), or as a new copy.
fn register(
    name: &str,
    owner: u64,
    bytes: u64,
    key: Key,
    weights: Vec<Weak<Tensor>>,
    graph: &Arc<Graph>,
) -> KResult<()> {
    let mut n = String::new();
    n.try_reserve_exact(name.len()).map_err(|_| Errno::ENOMEM)?;
    n.push_str(name);
    let mut loads = Vec::new();
    loads.try_reserve_exact(1).map_err(|_| Errno::ENOMEM)?;
    loads.push(Arc::downgrade(graph));
    let mut models = MODELS.lock();
    models.retain_mut(Entry::live);
    let same = |e: &Entry| {
        e.weights.len() == weights.len() && e.weights.iter().zip(&weights).all(|(a, b)| a.ptr_eq(b))
    };
    if let Some(e) = models.iter_mut().find(|e| same(e)) {
        e.loads.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        e.loads.push(Arc::downgrade(graph));
        return Ok(());
    }
    models.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
    models.push(Entry {
        name: n,
        owner,
        bytes,
        key,
        weights,
        loads,
    });
    Ok(())
}

/// Calls `f` for every copy of weights some live load binds, with its live loads' count
/// and the newest load's graph. (A graph whose last other reference goes meanwhile is
/// dropped here, under the registry lock: dropping a graph never takes it.)
pub fn for_each(mut f: impl FnMut(&Entry, usize, &Graph)) {
    let mut models = MODELS.lock();
    models.retain_mut(Entry::live);
    for e in models.iter() {
        let holders = e.loads.iter().filter(|g| g.strong_count() > 0).count();
        if let Some(g) = e.loads.iter().rev().find_map(Weak::upgrade) {
            f(e, holders, &g);
        }
    }
}
