//! Compute-graph validation and memory planning, shared by the kernel's `graph_create` and
//! `model_load` (and `mkmodel check`), so a graph is accepted or refused by one definition.
//!
//! [`validate`] takes the bound tensors' metadata, the nodes and the outputs exactly as
//! `wayos_abi::ai` defines them and either returns a [`Plan`] or a [`GraphError`] naming
//! the bad node, its operation and what is wrong ("node 3 (matmul): inner dimensions 5 and
//! 7 differ"). It infers every node's output dtype and shape from the operation semantics
//! written on `wayos_abi::ai::op`, rejects references to the node itself or later nodes
//! (so the node order is an execution order and cycles cannot exist), checks counts
//! against the ABI limits and sizes against `ai::MAX_TENSOR_BYTES` with overflow-safe
//! arithmetic, and requires unused input slots and attribute words to be zero (so a
//! later ABI can give them meaning without old binaries passing junk through).
//!
//! The plan places every node's result in one arena: 64-byte aligned offsets, and a
//! buffer is reused once no later node reads it (a graph output lives to the end, since it
//! is copied out after the run). Two results whose lifetimes overlap never overlap in the
//! arena; the host tests check that on random graphs.
//!
//! It never panics on any input and allocates only fallibly, after the counts have been
//! checked against the ABI limits (so at most `ai::MAX_NODES` entries). It does no math:
//! the executor runs the plan.

use alloc::vec::Vec;
use core::fmt;

use wayos_abi::ai::{
    self, op, Node, Output, TensorInfo, DTYPE_F32, DTYPE_I32, DTYPE_I8, MAX_NODE_INPUTS, MAX_RANK,
    REF_NODE,
};

/// Alignment of every buffer in the arena (a cache line; what SIMD kernels want).
pub const ARENA_ALIGN: u64 = 64;

/// The name of operation `code` (`mkmodel`'s and `ainfo`'s spelling), if it is one.
pub const fn op_name(code: u32) -> Option<&'static str> {
    Some(match code {
        op::MATMUL => "matmul",
        op::ADD => "add",
        op::MUL => "mul",
        op::RELU => "relu",
        op::GELU => "gelu",
        op::SIGMOID => "sigmoid",
        op::TANH => "tanh",
        op::SOFTMAX => "softmax",
        op::LAYERNORM => "layernorm",
        op::ARGMAX => "argmax",
        op::RESHAPE => "reshape",
        op::TRANSPOSE => "transpose",
        op::EMBEDDING => "embedding",
        op::CONV2D => "conv2d",
        op::MATMUL_I8 => "matmul_i8",
        op::QUANTIZE => "quantize",
        op::DEQUANTIZE => "dequantize",
        _ => return None,
    })
}

/// The operation called `name` (the inverse of [`op_name`]).
pub fn op_by_name(name: &str) -> Option<u32> {
    (1..op::COUNT).find(|&c| op_name(c) == Some(name))
}

/// Where a node input comes from, resolved from its reference word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Bound tensor number `n`.
    Bound(usize),
    /// The result of node `n` (an earlier node).
    Node(usize),
}

/// What the plan says about one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodePlan {
    /// The node's result: dtype, rank, dims, `bytes`; i8 results keep their input's
    /// scale and zero point. `tier` and `rights` are 0.
    pub info: TensorInfo,
    /// Where the result lives in the arena (a multiple of [`ARENA_ALIGN`]).
    pub offset: u64,
    /// The last node that reads the result (itself if none does); `usize::MAX` for a
    /// graph output, which must survive the run.
    pub last_use: usize,
    inputs: [Source; MAX_NODE_INPUTS],
    n_inputs: usize,
}

impl NodePlan {
    /// The node's inputs, in order.
    pub fn inputs(&self) -> &[Source] {
        &self.inputs[..self.n_inputs]
    }
}

/// A validated graph's execution plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    nodes: Vec<NodePlan>,
    arena_bytes: u64,
}

impl Plan {
    /// One entry per node, in execution order.
    pub fn nodes(&self) -> &[NodePlan] {
        &self.nodes
    }
    /// Node `i`'s plan. Panics if `i` is out of range (a kernel bug: the executor walks
    /// `0..nodes().len()`).
    pub fn node(&self, i: usize) -> &NodePlan {
        &self.nodes[i]
    }
    /// Bytes the arena needs (a multiple of [`ARENA_ALIGN`]; 0 for an empty graph).
    pub fn arena_bytes(&self) -> u64 {
        self.arena_bytes
    }
    /// Node `i`'s resolved inputs.
    pub fn inputs(&self, i: usize) -> &[Source] {
        self.nodes[i].inputs()
    }
}

/// A refused graph: which node (if the fault is in one) and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphError {
    pub node: Option<usize>,
    /// The node's operation code when `node` is set (for the message).
    pub op: u32,
    pub kind: GraphErrorKind,
}

/// A shape as printed in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub rank: u32,
    pub dims: [u32; MAX_RANK],
}

impl Shape {
    fn of(t: &TensorInfo) -> Self {
        Shape {
            rank: t.rank,
            dims: t.dims,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        let rank = (self.rank as usize).min(MAX_RANK);
        for (i, d) in self.dims[..rank].iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// What is wrong. Input slots are the positions in [`Node::inputs`] (`in0`, `in1`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphErrorKind {
    /// More nodes than `ai::MAX_NODES`.
    TooManyNodes { n: usize },
    /// More bound tensors than `ai::MAX_BOUND`.
    TooManyBound { n: usize },
    /// More outputs than `ai::MAX_OUTPUTS`.
    TooManyOutputs { n: usize },
    /// Bound tensor `index` has bad metadata.
    BadBound { index: usize, why: &'static str },
    /// `op` is not an operation.
    UnknownOp,
    /// `n_inputs` is not what the operation takes.
    InputCount { got: u32, want: &'static str },
    /// An input slot beyond `n_inputs` is not 0.
    UnusedInput { slot: usize },
    /// An attribute word the operation does not use is not 0.
    UnusedAttr { index: usize },
    /// Input `slot` names bound tensor `index`, but only `n_bound` are bound.
    NoSuchBound {
        slot: usize,
        index: u32,
        n_bound: usize,
    },
    /// Input `slot` names node `target`, which is this node or a later one.
    ForwardReference { slot: usize, target: u32 },
    /// Input `slot` has dtype `got`; the operation needs `want`.
    Dtype { slot: usize, got: u32, want: u32 },
    /// Input `slot` has rank `got`; the operation needs `want`.
    Rank {
        slot: usize,
        got: u32,
        want: &'static str,
    },
    /// matmul's inner dimensions differ.
    InnerDims { left: u32, right: u32 },
    /// in1's shape is not a suffix of in0's (add, mul).
    Broadcast { left: Shape, right: Shape },
    /// Input `slot`'s dimension `dim` is `got`, but must be `want` (what).
    Dim {
        slot: usize,
        dim: usize,
        got: u32,
        want: u32,
    },
    /// Attribute `index` holds `value`, which is not allowed (why).
    BadAttr {
        index: usize,
        value: u32,
        why: &'static str,
    },
    /// reshape to a shape of a different element count.
    ReshapeCount { from: u64, to: u64 },
    /// conv2d input smaller than its 3x3 window (with padding).
    ConvTooSmall { h: u32, w: u32 },
    /// The result is larger than `ai::MAX_TENSOR_BYTES` (or its rank exceeds the limit).
    TooLarge,
    /// Output `index` names node `node`, which does not exist.
    OutputNode { index: usize, node: u32 },
    /// Output `index` names bound tensor `tensor`, which does not exist.
    OutputTensor { index: usize, tensor: u32 },
    /// Output `index`: the node's result and the tensor it goes to differ in dtype or shape.
    OutputMismatch {
        index: usize,
        node_dtype: u32,
        node_shape: Shape,
        tensor_dtype: u32,
        tensor_shape: Shape,
    },
    /// Output `index`: an i8 result and its tensor differ in scale or zero point (the
    /// copied values would mean something else there).
    OutputQuant { index: usize },
    /// Outputs `first` and `index` write the same tensor.
    DuplicateOutput { first: usize, index: usize },
    /// Kernel memory ran out while planning.
    NoMemory,
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use GraphErrorKind::*;
        if let Some(n) = self.node {
            write!(f, "node {n} ({}): ", op_name(self.op).unwrap_or("?"))?;
        }
        let dn = ai::dtype_name;
        match self.kind {
            TooManyNodes { n } => write!(f, "{n} nodes, more than {}", ai::MAX_NODES),
            TooManyBound { n } => write!(f, "{n} bound tensors, more than {}", ai::MAX_BOUND),
            TooManyOutputs { n } => write!(f, "{n} outputs, more than {}", ai::MAX_OUTPUTS),
            BadBound { index, why } => write!(f, "bound tensor {index}: {why}"),
            UnknownOp => write!(f, "unknown operation {}", self.op),
            InputCount { got, want } => write!(f, "{got} inputs, but it takes {want}"),
            UnusedInput { slot } => write!(f, "unused input slot {slot} is not 0"),
            UnusedAttr { index } => write!(f, "unused attribute {index} is not 0"),
            NoSuchBound {
                slot,
                index,
                n_bound,
            } => write!(
                f,
                "in{slot} names bound tensor {index}, but only {n_bound} are bound"
            ),
            ForwardReference { slot, target } => write!(
                f,
                "in{slot} names node {target}: inputs may name only earlier nodes"
            ),
            Dtype { slot, got, want } => {
                write!(f, "in{slot} is {}, it must be {}", dn(got), dn(want))
            }
            Rank { slot, got, want } => write!(f, "in{slot} has rank {got}, it must be {want}"),
            InnerDims { left, right } => {
                write!(f, "inner dimensions {left} and {right} differ")
            }
            Broadcast { left, right } => write!(
                f,
                "in1 {right} does not broadcast over in0 {left} (it must be a suffix of it)"
            ),
            Dim {
                slot,
                dim,
                got,
                want,
            } => write!(f, "in{slot} dimension {dim} is {got}, it must be {want}"),
            BadAttr { index, value, why } => {
                write!(f, "attribute {index} = {value}: {why}")
            }
            ReshapeCount { from, to } => {
                write!(f, "reshape of {from} elements to a shape of {to}")
            }
            ConvTooSmall { h, w } => {
                write!(f, "input {h}x{w} is smaller than the 3x3 window")
            }
            TooLarge => write!(
                f,
                "result larger than {} bytes",
                ai::MAX_TENSOR_BYTES
            ),
            OutputNode { index, node } => write!(f, "output {index}: no node {node}"),
            OutputTensor { index, tensor } => {
                write!(f, "output {index}: no bound tensor {tensor}")
            }
            OutputMismatch {
                index,
                node_dtype,
                node_shape,
                tensor_dtype,
                tensor_shape,
            } => write!(
                f,
                "output {index}: the node gives {} {node_shape} but the tensor is {} {tensor_shape}",
                dn(node_dtype),
                dn(tensor_dtype)
            ),
            OutputQuant { index } => write!(
                f,
                "output {index}: the result's scale or zero point differs from the tensor's"
            ),
            DuplicateOutput { first, index } => {
                write!(f, "outputs {first} and {index} write the same tensor")
            }
            NoMemory => write!(f, "out of memory while planning"),
        }
    }
}

fn graph_err(kind: GraphErrorKind) -> GraphError {
    GraphError {
        node: None,
        op: 0,
        kind,
    }
}

/// Checks one tensor's metadata (a bound tensor's, or one a `.waymodel` file declares):
/// known dtype, rank 1..=MAX_RANK, every dim 1..=MAX_DIM, dims past the rank 0, size within
/// `ai::MAX_TENSOR_BYTES`. Returns its size in bytes.
pub fn check_info(t: &TensorInfo) -> Result<u64, &'static str> {
    let Some(esize) = ai::dtype_size(t.dtype) else {
        return Err("unknown dtype");
    };
    if t.rank == 0 || t.rank as usize > MAX_RANK {
        return Err("rank must be 1 to 4");
    }
    let rank = t.rank as usize;
    if t.dims[..rank].iter().any(|&d| d == 0 || d > ai::MAX_DIM) {
        return Err("a dimension is 0 or above the largest allowed");
    }
    if t.dims[rank..].iter().any(|&d| d != 0) {
        return Err("dimensions past the rank are not 0");
    }
    let bytes = elements(&t.dims[..rank])
        .and_then(|n| n.checked_mul(esize as u64))
        .filter(|&b| b <= ai::MAX_TENSOR_BYTES)
        .ok_or("larger than the largest tensor")?;
    Ok(bytes)
}

/// Product of `dims`, or `None` on overflow.
fn elements(dims: &[u32]) -> Option<u64> {
    dims.iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)))
}

/// A tensor of `dtype` and `dims` (with size checked), or `TooLarge`.
fn result(
    dtype: u32,
    dims: &[u32],
    like: Option<&TensorInfo>,
) -> Result<TensorInfo, GraphErrorKind> {
    if dims.is_empty() || dims.len() > MAX_RANK {
        return Err(GraphErrorKind::TooLarge);
    }
    let mut t = TensorInfo {
        dtype,
        rank: dims.len() as u32,
        ..TensorInfo::default()
    };
    t.dims[..dims.len()].copy_from_slice(dims);
    if dtype == DTYPE_I8 {
        if let Some(l) = like {
            t.scale_bits = l.scale_bits;
            t.zero_point = l.zero_point;
        }
    }
    if dims.iter().any(|&d| d == 0 || d > ai::MAX_DIM) {
        return Err(GraphErrorKind::TooLarge);
    }
    t.bytes = elements(dims)
        .and_then(|n| n.checked_mul(ai::dtype_size(dtype).unwrap_or(4) as u64))
        .filter(|&b| b <= ai::MAX_TENSOR_BYTES)
        .ok_or(GraphErrorKind::TooLarge)?;
    Ok(t)
}

fn dims(t: &TensorInfo) -> &[u32] {
    &t.dims[..(t.rank as usize).min(MAX_RANK)]
}

fn want_dtype(ins: &[TensorInfo], slot: usize, want: u32) -> Result<(), GraphErrorKind> {
    if ins[slot].dtype != want {
        return Err(GraphErrorKind::Dtype {
            slot,
            got: ins[slot].dtype,
            want,
        });
    }
    Ok(())
}

fn want_rank(
    ins: &[TensorInfo],
    slot: usize,
    ok: impl Fn(u32) -> bool,
    want: &'static str,
) -> Result<(), GraphErrorKind> {
    if !ok(ins[slot].rank) {
        return Err(GraphErrorKind::Rank {
            slot,
            got: ins[slot].rank,
            want,
        });
    }
    Ok(())
}

fn want_dim(ins: &[TensorInfo], slot: usize, dim: usize, want: u32) -> Result<(), GraphErrorKind> {
    let got = ins[slot].dims[dim];
    if got != want {
        return Err(GraphErrorKind::Dim {
            slot,
            dim,
            got,
            want,
        });
    }
    Ok(())
}

fn unused_attrs(node: &Node, from: usize) -> Result<(), GraphErrorKind> {
    match node.attrs[from..].iter().position(|&a| a != 0) {
        Some(i) => Err(GraphErrorKind::UnusedAttr { index: from + i }),
        None => Ok(()),
    }
}

/// How many inputs each operation takes: (least, most, how the message says it).
fn arity(code: u32) -> Option<(u32, u32, &'static str)> {
    Some(match code {
        op::MATMUL | op::ADD | op::MUL | op::EMBEDDING | op::MATMUL_I8 => (2, 2, "2"),
        op::RELU | op::GELU | op::SIGMOID | op::TANH | op::SOFTMAX => (1, 1, "1"),
        op::ARGMAX | op::RESHAPE | op::TRANSPOSE => (1, 1, "1"),
        op::QUANTIZE | op::DEQUANTIZE => (1, 1, "1"),
        op::LAYERNORM => (3, 3, "3"),
        op::CONV2D => (2, 3, "2 or 3"),
        _ => return None,
    })
}

/// The result of `node` applied to inputs `ins` (already resolved and counted).
fn infer(node: &Node, ins: &[TensorInfo]) -> Result<TensorInfo, GraphErrorKind> {
    use GraphErrorKind::*;
    let a = &ins[0];
    match node.op {
        op::MATMUL => {
            want_dtype(ins, 0, DTYPE_F32)?;
            want_dtype(ins, 1, DTYPE_F32)?;
            want_rank(ins, 0, |r| r >= 2, "2 to 4")?;
            want_rank(ins, 1, |r| r == 2, "2")?;
            for (i, &v) in node.attrs[..2].iter().enumerate() {
                if v > 1 {
                    return Err(BadAttr {
                        index: i,
                        value: v,
                        why: "a transpose flag is 0 or 1",
                    });
                }
            }
            unused_attrs(node, 2)?;
            let ra = a.rank as usize;
            let (m, k) = if node.attrs[0] != 0 {
                (a.dims[ra - 1], a.dims[ra - 2])
            } else {
                (a.dims[ra - 2], a.dims[ra - 1])
            };
            let b = &ins[1];
            let (k2, n) = if node.attrs[1] != 0 {
                (b.dims[1], b.dims[0])
            } else {
                (b.dims[0], b.dims[1])
            };
            if k != k2 {
                return Err(InnerDims { left: k, right: k2 });
            }
            let mut out = [0u32; MAX_RANK];
            out[..ra - 2].copy_from_slice(&a.dims[..ra - 2]);
            out[ra - 2] = m;
            out[ra - 1] = n;
            result(DTYPE_F32, &out[..ra], None)
        }
        op::ADD | op::MUL => {
            want_dtype(ins, 0, DTYPE_F32)?;
            want_dtype(ins, 1, DTYPE_F32)?;
            unused_attrs(node, 0)?;
            let (l, r) = (dims(a), dims(&ins[1]));
            if r.len() > l.len() || l[l.len() - r.len()..] != *r {
                return Err(Broadcast {
                    left: Shape::of(a),
                    right: Shape::of(&ins[1]),
                });
            }
            result(DTYPE_F32, l, None)
        }
        op::RELU | op::GELU | op::SIGMOID | op::TANH | op::SOFTMAX => {
            want_dtype(ins, 0, DTYPE_F32)?;
            unused_attrs(node, 0)?;
            result(DTYPE_F32, dims(a), None)
        }
        op::LAYERNORM => {
            for slot in 0..3 {
                want_dtype(ins, slot, DTYPE_F32)?;
            }
            want_rank(ins, 1, |r| r == 1, "1")?;
            want_rank(ins, 2, |r| r == 1, "1")?;
            let d = a.dims[a.rank as usize - 1];
            want_dim(ins, 1, 0, d)?;
            want_dim(ins, 2, 0, d)?;
            let eps = f32::from_bits(node.attrs[0]);
            if node.attrs[0] != 0 && !(eps.is_finite() && eps > 0.0) {
                return Err(BadAttr {
                    index: 0,
                    value: node.attrs[0],
                    why: "epsilon must be a positive finite f32",
                });
            }
            unused_attrs(node, 1)?;
            result(DTYPE_F32, dims(a), None)
        }
        op::ARGMAX => {
            want_dtype(ins, 0, DTYPE_F32)?;
            unused_attrs(node, 0)?;
            let d = dims(a);
            if d.len() == 1 {
                result(DTYPE_I32, &[1], None)
            } else {
                result(DTYPE_I32, &d[..d.len() - 1], None)
            }
        }
        op::RESHAPE => {
            let rank = node.attrs[0];
            if rank == 0 || rank as usize > MAX_RANK {
                return Err(BadAttr {
                    index: 0,
                    value: rank,
                    why: "the rank must be 1 to 4",
                });
            }
            let rank = rank as usize;
            let new = &node.attrs[1..=rank];
            if let Some(i) = new.iter().position(|&d| d == 0 || d > ai::MAX_DIM) {
                return Err(BadAttr {
                    index: i + 1,
                    value: new[i],
                    why: "a dimension is 0 or above the largest allowed",
                });
            }
            unused_attrs(node, rank + 1)?;
            let from = elements(dims(a)).unwrap_or(u64::MAX);
            let to = elements(new).unwrap_or(u64::MAX);
            if from != to {
                return Err(ReshapeCount { from, to });
            }
            result(a.dtype, new, Some(a))
        }
        op::TRANSPOSE => {
            let rank = a.rank as usize;
            let perm = &node.attrs[..rank];
            let mut seen = [false; MAX_RANK];
            for (i, &p) in perm.iter().enumerate() {
                if p as usize >= rank || seen[p as usize] {
                    return Err(BadAttr {
                        index: i,
                        value: p,
                        why: "not a permutation of the input's dimensions",
                    });
                }
                seen[p as usize] = true;
            }
            unused_attrs(node, rank)?;
            let mut out = [0u32; MAX_RANK];
            for (i, &p) in perm.iter().enumerate() {
                out[i] = a.dims[p as usize];
            }
            result(a.dtype, &out[..rank], Some(a))
        }
        op::EMBEDDING => {
            want_dtype(ins, 0, DTYPE_F32)?;
            want_rank(ins, 0, |r| r == 2, "2")?;
            want_dtype(ins, 1, DTYPE_I32)?;
            want_rank(ins, 1, |r| r < MAX_RANK as u32, "1 to 3")?;
            unused_attrs(node, 0)?;
            let idx = dims(&ins[1]);
            let mut out = [0u32; MAX_RANK];
            out[..idx.len()].copy_from_slice(idx);
            out[idx.len()] = a.dims[1];
            result(DTYPE_F32, &out[..=idx.len()], None)
        }
        op::CONV2D => {
            for slot in 0..ins.len() {
                want_dtype(ins, slot, DTYPE_F32)?;
            }
            want_rank(ins, 0, |r| r == 4, "4 ([N, C, H, W])")?;
            want_rank(ins, 1, |r| r == 4, "4 ([O, C, 3, 3])")?;
            let w = &ins[1];
            want_dim(ins, 1, 1, a.dims[1])?;
            want_dim(ins, 1, 2, 3)?;
            want_dim(ins, 1, 3, 3)?;
            if ins.len() == 3 {
                want_rank(ins, 2, |r| r == 1, "1 ([O])")?;
                want_dim(ins, 2, 0, w.dims[0])?;
            }
            let (stride, pad) = (node.attrs[0], node.attrs[1]);
            if stride != 1 && stride != 2 {
                return Err(BadAttr {
                    index: 0,
                    value: stride,
                    why: "the stride must be 1 or 2",
                });
            }
            if pad > 1 {
                return Err(BadAttr {
                    index: 1,
                    value: pad,
                    why: "the padding must be 0 or 1",
                });
            }
            unused_attrs(node, 2)?;
            let (h, wd) = (a.dims[2], a.dims[3]);
            let span = |x: u32| (u64::from(x) + 2 * u64::from(pad)).checked_sub(3);
            let (Some(sh), Some(sw)) = (span(h), span(wd)) else {
                return Err(ConvTooSmall { h, w: wd });
            };
            let oh = (sh / u64::from(stride) + 1) as u32;
            let ow = (sw / u64::from(stride) + 1) as u32;
            result(DTYPE_F32, &[a.dims[0], w.dims[0], oh, ow], None)
        }
        op::MATMUL_I8 => {
            want_dtype(ins, 0, DTYPE_I8)?;
            want_dtype(ins, 1, DTYPE_I8)?;
            want_rank(ins, 0, |r| r == 2, "2")?;
            want_rank(ins, 1, |r| r == 2, "2")?;
            unused_attrs(node, 0)?;
            let (k, k2) = (a.dims[1], ins[1].dims[0]);
            if k != k2 {
                return Err(InnerDims { left: k, right: k2 });
            }
            result(DTYPE_I32, &[a.dims[0], ins[1].dims[1]], None)
        }
        op::QUANTIZE => {
            want_dtype(ins, 0, DTYPE_F32)?;
            let scale = quant_scale(node)?;
            let zp = node.attrs[1] as i32;
            if !(-128..=127).contains(&zp) {
                return Err(BadAttr {
                    index: 1,
                    value: node.attrs[1],
                    why: "the zero point must be -128 to 127",
                });
            }
            unused_attrs(node, 2)?;
            // The result carries the scale and zero point, so MATMUL_I8 (and a graph
            // output) sees what the values mean.
            let q = TensorInfo {
                scale_bits: scale.to_bits(),
                zero_point: zp,
                ..TensorInfo::default()
            };
            result(DTYPE_I8, dims(a), Some(&q))
        }
        op::DEQUANTIZE => {
            if a.dtype != DTYPE_I8 && a.dtype != DTYPE_I32 {
                return Err(Dtype {
                    slot: 0,
                    got: a.dtype,
                    want: DTYPE_I32,
                });
            }
            quant_scale(node)?;
            unused_attrs(node, 2)?;
            result(DTYPE_F32, dims(a), None)
        }
        _ => Err(UnknownOp),
    }
}

/// QUANTIZE's and DEQUANTIZE's `attrs[0]`: a finite, positive f32.
fn quant_scale(node: &Node) -> Result<f32, GraphErrorKind> {
    let scale = f32::from_bits(node.attrs[0]);
    if scale.is_finite() && scale > 0.0 {
        Ok(scale)
    } else {
        Err(GraphErrorKind::BadAttr {
            index: 0,
            value: node.attrs[0],
            why: "the scale must be a positive finite f32",
        })
    }
}

/// Validates a graph and plans its arena. See the module docs for what is checked.
pub fn validate(
    bound: &[TensorInfo],
    nodes: &[Node],
    outputs: &[Output],
) -> Result<Plan, GraphError> {
    use GraphErrorKind::*;
    if nodes.len() > ai::MAX_NODES {
        return Err(graph_err(TooManyNodes { n: nodes.len() }));
    }
    if bound.len() > ai::MAX_BOUND {
        return Err(graph_err(TooManyBound { n: bound.len() }));
    }
    if outputs.len() > ai::MAX_OUTPUTS {
        return Err(graph_err(TooManyOutputs { n: outputs.len() }));
    }
    for (index, t) in bound.iter().enumerate() {
        check_info(t).map_err(|why| graph_err(BadBound { index, why }))?;
    }
    let mut plan: Vec<NodePlan> = Vec::new();
    plan.try_reserve_exact(nodes.len())
        .map_err(|_| graph_err(NoMemory))?;
    for (i, node) in nodes.iter().enumerate() {
        let at = |kind| GraphError {
            node: Some(i),
            op: node.op,
            kind,
        };
        let Some((least, most, want)) = arity(node.op) else {
            return Err(at(UnknownOp));
        };
        if node.n_inputs < least || node.n_inputs > most {
            return Err(at(InputCount {
                got: node.n_inputs,
                want,
            }));
        }
        let n = node.n_inputs as usize;
        if let Some(slot) = node.inputs[n..].iter().position(|&r| r != 0) {
            return Err(at(UnusedInput { slot: n + slot }));
        }
        let mut sources = [Source::Bound(0); MAX_NODE_INPUTS];
        let mut infos = [TensorInfo::default(); MAX_NODE_INPUTS];
        for slot in 0..n {
            let r = node.inputs[slot];
            if r & REF_NODE != 0 {
                let target = r & !REF_NODE;
                if target as usize >= i {
                    return Err(at(ForwardReference { slot, target }));
                }
                sources[slot] = Source::Node(target as usize);
                infos[slot] = plan[target as usize].info;
                plan[target as usize].last_use = i;
            } else {
                if r as usize >= bound.len() {
                    return Err(at(NoSuchBound {
                        slot,
                        index: r,
                        n_bound: bound.len(),
                    }));
                }
                sources[slot] = Source::Bound(r as usize);
                infos[slot] = bound[r as usize];
            }
        }
        let info = infer(node, &infos[..n]).map_err(at)?;
        plan.push(NodePlan {
            info,
            offset: 0,
            last_use: i,
            inputs: sources,
            n_inputs: n,
        });
    }
    for (index, o) in outputs.iter().enumerate() {
        let Some(np) = plan.get_mut(o.node as usize) else {
            return Err(graph_err(OutputNode {
                index,
                node: o.node,
            }));
        };
        let Some(t) = bound.get(o.tensor as usize) else {
            return Err(graph_err(OutputTensor {
                index,
                tensor: o.tensor,
            }));
        };
        if t.dtype != np.info.dtype || t.rank != np.info.rank || t.dims != np.info.dims {
            return Err(GraphError {
                node: Some(o.node as usize),
                op: nodes[o.node as usize].op,
                kind: OutputMismatch {
                    index,
                    node_dtype: np.info.dtype,
                    node_shape: Shape::of(&np.info),
                    tensor_dtype: t.dtype,
                    tensor_shape: Shape::of(t),
                },
            });
        }
        if t.dtype == DTYPE_I8
            && (t.scale_bits != np.info.scale_bits || t.zero_point != np.info.zero_point)
        {
            return Err(GraphError {
                node: Some(o.node as usize),
                op: nodes[o.node as usize].op,
                kind: OutputQuant { index },
            });
        }
        if let Some(first) = outputs[..index].iter().position(|p| p.tensor == o.tensor) {
            return Err(graph_err(DuplicateOutput { first, index }));
        }
        np.last_use = usize::MAX;
    }
    let arena_bytes = place(&mut plan).ok_or(graph_err(NoMemory))?;
    Ok(Plan {
        nodes: plan,
        arena_bytes,
    })
}

fn align_up(x: u64) -> u64 {
    // Sizes are at most MAX_TENSOR_BYTES each and there are at most MAX_NODES of them, so
    // offsets stay far below u64::MAX: the addition cannot overflow.
    (x + ARENA_ALIGN - 1) & !(ARENA_ALIGN - 1)
}

/// First-fit placement in execution order: before node `i` is placed, every buffer whose
/// last reader ran before `i` is freed; node `i` takes the lowest aligned gap among the
/// live buffers that fits. Its inputs are still live (their last use is at least `i`), so
/// a node never writes over what it reads. Returns the arena size.
fn place(plan: &mut [NodePlan]) -> Option<u64> {
    // (offset, size, last_use), sorted by offset.
    let mut live: Vec<(u64, u64, usize)> = Vec::new();
    live.try_reserve_exact(plan.len()).ok()?;
    let mut arena = 0u64;
    for (i, np) in plan.iter_mut().enumerate() {
        live.retain(|&(_, _, end)| end >= i);
        let size = align_up(np.info.bytes);
        let mut cursor = 0u64;
        let mut at = live.len();
        for (k, &(off, sz, _)) in live.iter().enumerate() {
            if off >= cursor && off - cursor >= size {
                at = k;
                break;
            }
            cursor = cursor.max(align_up(off + sz));
        }
        live.insert(at, (cursor, size, np.last_use));
        np.offset = cursor;
        arena = arena.max(cursor + size);
    }
    Some(arena)
}

#[cfg(test)]
mod tests;
