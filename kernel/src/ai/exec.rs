//! Graph execution: one node of a validated graph per call, on an accelerator worker.
//!
//! A node reads its inputs — bound tensors through `Tensor::with_bytes`, earlier results
//! from the graph's arena — and writes its result into its own slot of the arena (the
//! plan's offset; slots that are alive at the same time never overlap, so an input slot
//! and the output slot are disjoint slices of one `&mut` borrow). After the last node a
//! final step copies each output node's result into its output tensor. The math is
//! `wayos_aimath`, with the graph's mode and the ISA the CPU has (`ai::math_isa`).
//!
//! Bytes become typed slices only through zerocopy's checked casts (the arena and tensor
//! memory are page aligned and every slot 64-byte aligned, so the casts cannot fail on
//! alignment; a failed cast is still an error, not a panic). Every failure — a tensor
//! destroyed mid-run, an embedding index out of range, a math error — ends the run with
//! an errno; the queue logs it with the node's name. Must never: panic, allocate, or take
//! a tensor's content lock twice (a tensor bound in two slots is read once).

use alloc::sync::Arc;

use wayos_abi::ai::{self, op, Node, TensorInfo, MAX_NODE_INPUTS, MAX_RANK};
use wayos_abi::zerocopy::FromBytes;
use wayos_aimath::{self as math, Ctx, MathError};
use wayos_kcore::aigraph::NodePlan;

use super::tensor::Tensor;
use crate::error::{Errno, KResult};

/// The errno a math error ends a run with.
pub fn math_errno(e: MathError) -> Errno {
    match e {
        // A data-dependent fault: an index the table does not have.
        MathError::Index { .. } => Errno::ERANGE,
        MathError::Shape | MathError::Unsupported => Errno::EINVAL,
    }
}

fn f32s(b: &[u8]) -> KResult<&[f32]> {
    <[f32]>::ref_from_bytes(b).map_err(|_| Errno::EINVAL)
}

fn f32s_mut(b: &mut [u8]) -> KResult<&mut [f32]> {
    <[f32]>::mut_from_bytes(b).map_err(|_| Errno::EINVAL)
}

fn dims_of(info: &TensorInfo) -> &[u32] {
    &info.dims[..(info.rank as usize).min(MAX_RANK)]
}

fn last_dim(info: &TensorInfo) -> usize {
    dims_of(info).last().copied().unwrap_or(1) as usize
}

/// Runs `f` with the contents of every tensor in `ts` (each read once, in order),
/// nesting one content lock per distinct tensor.
pub fn with_tensors<R>(
    ts: &[Option<&Arc<Tensor>>],
    f: &mut dyn FnMut(&[&[u8]]) -> KResult<R>,
) -> KResult<R> {
    fn rec<R>(
        ts: &[Option<&Arc<Tensor>>],
        got: &[&[u8]],
        f: &mut dyn FnMut(&[&[u8]]) -> KResult<R>,
    ) -> KResult<R> {
        let Some((first, rest)) = ts.split_first() else {
            return f(got);
        };
        let first = first.ok_or(Errno::EINVAL)?;
        first.with_bytes(|b| {
            let mut next: [&[u8]; MAX_NODE_INPUTS] = [&[]; MAX_NODE_INPUTS];
            next[..got.len()].copy_from_slice(got);
            next[got.len()] = b;
            rec(rest, &next[..=got.len()], f)
        })?
    }
    if ts.len() > MAX_NODE_INPUTS {
        return Err(Errno::EINVAL);
    }
    rec(ts, &[], f)
}

/// Computes node `node` (planned as `plan`) from `ins` (its inputs' bytes and metadata,
/// in slot order) into `out` (exactly the result's bytes).
pub fn compute(
    ctx: &Ctx,
    node: &Node,
    plan: &NodePlan,
    ins: &[(&[u8], TensorInfo)],
    out: &mut [u8],
) -> KResult<()> {
    let m = math_errno;
    let a = ins.first().ok_or(Errno::EINVAL)?;
    let input = |i: usize| ins.get(i).ok_or(Errno::EINVAL);
    match node.op {
        op::MATMUL => {
            let b = input(1)?;
            let da = dims_of(&a.1);
            let ra = da.len();
            if ra < 2 || b.1.rank != 2 {
                return Err(Errno::EINVAL);
            }
            let (ta, tb) = (node.attrs[0] != 0, node.attrs[1] != 0);
            let (mm, k) = if ta {
                (da[ra - 1], da[ra - 2])
            } else {
                (da[ra - 2], da[ra - 1])
            };
            let n = if tb { b.1.dims[0] } else { b.1.dims[1] };
            let batch = da[..ra - 2].iter().map(|&d| d as usize).product();
            math::matmul(
                ctx,
                f32s(a.0)?,
                f32s(b.0)?,
                f32s_mut(out)?,
                batch,
                mm as usize,
                k as usize,
                n as usize,
                ta,
                tb,
            )
            .map_err(m)
        }
        op::ADD => math::add(ctx, f32s(a.0)?, f32s(input(1)?.0)?, f32s_mut(out)?).map_err(m),
        op::MUL => math::mul(ctx, f32s(a.0)?, f32s(input(1)?.0)?, f32s_mut(out)?).map_err(m),
        op::RELU => math::relu(ctx, f32s(a.0)?, f32s_mut(out)?).map_err(m),
        op::GELU => math::gelu(ctx, f32s(a.0)?, f32s_mut(out)?).map_err(m),
        op::SIGMOID => math::sigmoid(ctx, f32s(a.0)?, f32s_mut(out)?).map_err(m),
        op::TANH => math::tanh(ctx, f32s(a.0)?, f32s_mut(out)?).map_err(m),
        op::SOFTMAX => math::softmax(ctx, f32s(a.0)?, f32s_mut(out)?, last_dim(&a.1)).map_err(m),
        op::LAYERNORM => {
            let eps = match node.attrs[0] {
                0 => 1e-5,
                bits => f32::from_bits(bits),
            };
            math::layernorm(
                ctx,
                f32s(a.0)?,
                f32s(input(1)?.0)?,
                f32s(input(2)?.0)?,
                eps,
                f32s_mut(out)?,
                last_dim(&a.1),
            )
            .map_err(m)
        }
        op::ARGMAX => {
            let o = <[i32]>::mut_from_bytes(out).map_err(|_| Errno::EINVAL)?;
            math::argmax(f32s(a.0)?, o, last_dim(&a.1)).map_err(m)
        }
        op::RESHAPE => {
            if a.0.len() != out.len() {
                return Err(Errno::EINVAL);
            }
            out.copy_from_slice(a.0);
            Ok(())
        }
        op::TRANSPOSE => {
            let d = dims_of(&a.1);
            let mut dims = [0usize; MAX_RANK];
            let mut perm = [0usize; MAX_RANK];
            for (i, &x) in d.iter().enumerate() {
                dims[i] = x as usize;
                perm[i] = node.attrs[i] as usize;
            }
            let (dims, perm) = (&dims[..d.len()], &perm[..d.len()]);
            match wayos_abi::ai::dtype_size(a.1.dtype) {
                Some(4) => {
                    let x = <[u32]>::ref_from_bytes(a.0).map_err(|_| Errno::EINVAL)?;
                    let o = <[u32]>::mut_from_bytes(out).map_err(|_| Errno::EINVAL)?;
                    math::transpose(x, dims, perm, o).map_err(m)
                }
                Some(1) => math::transpose(a.0, dims, perm, out).map_err(m),
                _ => Err(Errno::EINVAL),
            }
        }
        op::EMBEDDING => {
            let idx = <[i32]>::ref_from_bytes(input(1)?.0).map_err(|_| Errno::EINVAL)?;
            let (v, d) = (a.1.dims[0] as usize, a.1.dims[1] as usize);
            math::embedding(f32s(a.0)?, v, d, idx, f32s_mut(out)?).map_err(m)
        }
        op::CONV2D => {
            let w = input(1)?;
            let bias = match ins.get(2) {
                Some(b) => Some(f32s(b.0)?),
                None => None,
            };
            let [n, c, h, wd] = a.1.dims;
            math::conv2d(
                ctx,
                f32s(a.0)?,
                n as usize,
                c as usize,
                h as usize,
                wd as usize,
                f32s(w.0)?,
                w.1.dims[0] as usize,
                bias,
                node.attrs[0] as usize,
                node.attrs[1] as usize,
                f32s_mut(out)?,
            )
            .map_err(m)
        }
        op::MATMUL_I8 => {
            let b = input(1)?;
            let ai8 = <[i8]>::ref_from_bytes(a.0).map_err(|_| Errno::EINVAL)?;
            let bi8 = <[i8]>::ref_from_bytes(b.0).map_err(|_| Errno::EINVAL)?;
            let o = <[i32]>::mut_from_bytes(out).map_err(|_| Errno::EINVAL)?;
            math::matmul_i8(
                ctx,
                ai8,
                a.1.zero_point,
                bi8,
                b.1.zero_point,
                o,
                a.1.dims[0] as usize,
                a.1.dims[1] as usize,
                b.1.dims[1] as usize,
            )
            .map_err(m)
        }
        op::QUANTIZE => {
            let o = <[i8]>::mut_from_bytes(out).map_err(|_| Errno::EINVAL)?;
            let (scale, zp) = (f32::from_bits(node.attrs[0]), node.attrs[1] as i32);
            math::quantize(ctx, f32s(a.0)?, scale, zp, o).map_err(m)
        }
        op::DEQUANTIZE => {
            let (scale, zp) = (f32::from_bits(node.attrs[0]), node.attrs[1] as i32);
            match a.1.dtype {
                ai::DTYPE_I8 => {
                    let q = <[i8]>::ref_from_bytes(a.0).map_err(|_| Errno::EINVAL)?;
                    math::dequantize_i8(ctx, q, scale, zp, f32s_mut(out)?).map_err(m)
                }
                ai::DTYPE_I32 => {
                    let q = <[i32]>::ref_from_bytes(a.0).map_err(|_| Errno::EINVAL)?;
                    math::dequantize_i32(ctx, q, scale, zp, f32s_mut(out)?).map_err(m)
                }
                _ => Err(Errno::EINVAL),
            }
        }
        _ => {
            let _ = plan;
            Err(Errno::EINVAL)
        }
    }
}

/// The inputs' view of an arena split around one node's output slot: the bytes before
/// it and the bytes after it (which start at `after_start`).
pub struct Split<'a> {
    before: &'a [u8],
    after: &'a [u8],
    after_start: usize,
}

impl<'a> Split<'a> {
    /// Splits `arena` around `off..off + len` (`EINVAL` if that is not inside it): the
    /// output slot, and the rest for reading inputs.
    pub fn new(arena: &'a mut [u8], off: usize, len: usize) -> KResult<(&'a mut [u8], Self)> {
        let end = off.checked_add(len).ok_or(Errno::EINVAL)?;
        if end > arena.len() {
            return Err(Errno::EINVAL);
        }
        let (before, rest) = arena.split_at_mut(off);
        let (out, after) = rest.split_at_mut(len);
        Ok((
            out,
            Split {
                before,
                after,
                after_start: end,
            },
        ))
    }

    /// The bytes of arena range `start..start + len`, which must lie wholly before or
    /// after the output slot (slots alive together never overlap; anything else is a
    /// planning bug, reported as `EINVAL`).
    pub fn input(&self, start: usize, len: usize) -> KResult<&[u8]> {
        let end = start.checked_add(len).ok_or(Errno::EINVAL)?;
        if end <= self.before.len() {
            Ok(&self.before[start..end])
        } else if start >= self.after_start {
            self.after
                .get(start - self.after_start..end - self.after_start)
                .ok_or(Errno::EINVAL)
        } else {
            Err(Errno::EINVAL)
        }
    }
}
