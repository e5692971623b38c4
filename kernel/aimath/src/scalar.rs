//! The scalar kernels: plain safe Rust, the fallback on any CPU and the definition of the
//! bit-exact order (crate docs) that the SIMD kernels reproduce lane by lane.
//!
//! Callers in this crate have already checked every length against the dims, so index
//! arithmetic here cannot overflow and slicing cannot fail; the functions still use
//! checked slicing (never `get_unchecked`), so a broken caller panics in a test instead
//! of reading out of bounds.

use crate::fmath;
use crate::{Binary, ConvShape, MatmulShape, Unary};

/// Matrix product in the bit-exact order: each output starts at `+0.0` and adds
/// `a(i,p) * b(p,j)` for `p = 0, 1, ...`, each product rounded.
pub(crate) fn matmul(a: &[f32], b: &[f32], out: &mut [f32], s: &MatmulShape) {
    let n = s.n;
    for row in 0..s.batch * s.m {
        let (a0, cs) = s.a_row(row);
        let orow = &mut out[row * n..(row + 1) * n];
        orow.fill(0.0);
        for p in 0..s.k {
            let av = a[a0 + p * cs];
            if s.trans_b {
                for (j, o) in orow.iter_mut().enumerate() {
                    *o += av * b[j * s.k + p];
                }
            } else {
                let brow = &b[p * n..(p + 1) * n];
                for (o, bv) in orow.iter_mut().zip(brow) {
                    *o += av * *bv;
                }
            }
        }
    }
}

#[inline]
pub(crate) fn binary_one(op: Binary, a: f32, b: f32) -> f32 {
    match op {
        Binary::Add => a + b,
        Binary::Mul => a * b,
    }
}

pub(crate) fn binary(op: Binary, a: &[f32], b: &[f32], out: &mut [f32]) {
    for (ac, oc) in a.chunks(b.len()).zip(out.chunks_mut(b.len())) {
        for ((o, av), bv) in oc.iter_mut().zip(ac).zip(b) {
            *o = binary_one(op, *av, *bv);
        }
    }
}

#[inline]
pub(crate) fn unary_one(op: Unary, x: f32) -> f32 {
    match op {
        Unary::Relu => fmath::max_sel(x, 0.0),
        Unary::Gelu => fmath::gelu(x),
        Unary::Sigmoid => fmath::sigmoid(x),
        Unary::Tanh => fmath::tanh(x),
    }
}

pub(crate) fn unary(op: Unary, x: &[f32], out: &mut [f32]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o = unary_one(op, *v);
    }
}

/// Combines eight lane sums in the fixed tree of the crate docs.
#[inline]
pub(crate) fn combine_sum(l: &[f32; 8]) -> f32 {
    let t = [l[0] + l[4], l[1] + l[5], l[2] + l[6], l[3] + l[7]];
    (t[0] + t[2]) + (t[1] + t[3])
}

/// Combines eight lane maxima in the same tree.
#[inline]
pub(crate) fn combine_max(l: &[f32; 8]) -> f32 {
    let m = fmath::max_sel;
    let t = [m(l[0], l[4]), m(l[1], l[5]), m(l[2], l[6]), m(l[3], l[7])];
    m(m(t[0], t[2]), m(t[1], t[3]))
}

/// Sum of `f(x[i])` in the bit-exact order: element `i` into lane `i % 8`.
#[inline]
pub(crate) fn lane_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut l = [0.0f32; 8];
    for (i, v) in x.iter().enumerate() {
        l[i % 8] += f(*v);
    }
    combine_sum(&l)
}

/// Maximum of a non-empty row in the bit-exact order (lanes start at the first
/// element, which is neutral for `max`).
#[inline]
pub(crate) fn lane_max(x: &[f32]) -> f32 {
    let mut l = [x[0]; 8];
    for (i, v) in x.iter().enumerate() {
        l[i % 8] = fmath::max_sel(*v, l[i % 8]);
    }
    combine_max(&l)
}

pub(crate) fn softmax(x: &[f32], out: &mut [f32], d: usize) {
    for (xr, or) in x.chunks(d).zip(out.chunks_mut(d)) {
        let m = lane_max(xr);
        for (o, v) in or.iter_mut().zip(xr) {
            *o = fmath::exp(*v - m);
        }
        let s = lane_sum(or, |e| e);
        for o in or.iter_mut() {
            *o /= s;
        }
    }
}

/// Mean and `1 / sqrt(var + eps)` of one row, in the bit-exact order (the SIMD kernels
/// compute the two lane sums themselves and finish with [`finish_stats`]).
pub(crate) fn finish_stats(sum_sq: f32, d: usize, eps: f32) -> f32 {
    let var = sum_sq / d as f32;
    1.0 / fmath::sqrt(var + eps)
}

pub(crate) fn layernorm(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    out: &mut [f32],
    d: usize,
) {
    for (xr, or) in x.chunks(d).zip(out.chunks_mut(d)) {
        let mean = lane_sum(xr, |v| v) / d as f32;
        let sq = lane_sum(xr, |v| {
            let c = v - mean;
            c * c
        });
        let rstd = finish_stats(sq, d, eps);
        for (((o, v), g), b) in or.iter_mut().zip(xr).zip(gamma).zip(beta) {
            *o = ((*v - mean) * rstd) * *g + *b;
        }
    }
}

pub(crate) fn argmax(x: &[f32], out: &mut [i32], d: usize) {
    for (xr, o) in x.chunks(d).zip(out.iter_mut()) {
        let mut best = 0usize;
        for (i, v) in xr.iter().enumerate() {
            if *v > xr[best] {
                best = i;
            }
        }
        // d <= i32::MAX was checked.
        *o = best as i32;
    }
}

/// Permutation of up to four dimensions; shorter ranks are padded with leading 1s.
pub(crate) fn transpose<T: Copy>(x: &[T], dims: &[usize], perm: &[usize], out: &mut [T]) {
    const R: usize = wayos_abi::ai::MAX_RANK;
    let rank = dims.len();
    let pad = R - rank;
    // Input dims and strides, padded to rank 4.
    let mut idims = [1usize; R];
    idims[pad..].copy_from_slice(dims);
    let mut istride = [0usize; R];
    let mut acc = 1;
    for i in (0..R).rev() {
        istride[i] = acc;
        acc *= idims[i];
    }
    // Output dimension i walks input dimension perm[i].
    let mut odims = [1usize; R];
    let mut ostep = [0usize; R];
    for i in 0..R {
        let src = if i < pad { i } else { perm[i - pad] + pad };
        odims[i] = idims[src];
        ostep[i] = istride[src];
    }
    let mut o = 0;
    for i0 in 0..odims[0] {
        for i1 in 0..odims[1] {
            for i2 in 0..odims[2] {
                let base = i0 * ostep[0] + i1 * ostep[1] + i2 * ostep[2];
                for i3 in 0..odims[3] {
                    out[o] = x[base + i3 * ostep[3]];
                    o += 1;
                }
            }
        }
    }
}

pub(crate) fn embedding(table: &[f32], d: usize, idx: &[i32], out: &mut [f32]) {
    for (i, orow) in idx.iter().zip(out.chunks_mut(d.max(1))) {
        let r = *i as usize;
        orow.copy_from_slice(&table[r * d..(r + 1) * d]);
    }
}

/// Direct 3x3 convolution in the bit-exact order: for each output, `+0.0` plus each
/// in-range tap's product for channel `c`, then kernel row, then kernel column; the bias
/// last.
pub(crate) fn conv2d(x: &[f32], wts: &[f32], bias: Option<&[f32]>, out: &mut [f32], s: &ConvShape) {
    let plane = s.h * s.w;
    let oplane = s.ho * s.wo;
    for ni in 0..s.n {
        for oc in 0..s.o {
            let obase = (ni * s.o + oc) * oplane;
            for oy in 0..s.ho {
                for ox in 0..s.wo {
                    let mut acc = 0.0f32;
                    for ci in 0..s.c {
                        let xbase = (ni * s.c + ci) * plane;
                        let wbase = (oc * s.c + ci) * 9;
                        for ky in 0..3 {
                            // Input row oy*stride + ky - pad, skipped when in the padding.
                            let iy = oy * s.stride + ky;
                            if iy < s.pad || iy - s.pad >= s.h {
                                continue;
                            }
                            let iy = iy - s.pad;
                            for kx in 0..3 {
                                let ix = ox * s.stride + kx;
                                if ix < s.pad || ix - s.pad >= s.w {
                                    continue;
                                }
                                let ix = ix - s.pad;
                                acc += x[xbase + iy * s.w + ix] * wts[wbase + ky * 3 + kx];
                            }
                        }
                    }
                    if let Some(b) = bias {
                        acc += b[oc];
                    }
                    out[obase + oy * s.wo + ox] = acc;
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_i8(
    a: &[i8],
    za: i32,
    b: &[i8],
    zb: i32,
    out: &mut [i32],
    m: usize,
    k: usize,
    n: usize,
) {
    for i in 0..m {
        let orow = &mut out[i * n..(i + 1) * n];
        orow.fill(0);
        for p in 0..k {
            let av = (a[i * k + p] as i32).wrapping_sub(za);
            for (o, bv) in orow.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                *o = o.wrapping_add(av.wrapping_mul((*bv as i32).wrapping_sub(zb)));
            }
        }
    }
}

/// `round_half_even(y)` as an integer, saturated to `i32` (callers clamp further). Plain
/// comparisons and one exact subtraction, so it is the same on every ISA and in
/// soft-float: below 2^23 in magnitude, `y - trunc(y)` is exact (both share `y`'s
/// exponent range), and from 2^23 on every f32 is already an integer.
pub(crate) fn round_half_even(y: f32) -> i32 {
    const TWO23: f32 = 8_388_608.0;
    if y.abs() >= TWO23 {
        // Already integral (or infinite); `as` saturates. (NaN fails both this test and
        // the rounding below harmlessly: `as` gives 0; callers handle NaN first.)
        return y as i32;
    }
    let t = y as i32; // truncates toward zero; exact in range
    let frac = y - t as f32;
    let half = 0.5f32;
    if frac > half || (frac == half && t & 1 != 0) {
        t + 1
    } else if frac < -half || (frac == -half && t & 1 != 0) {
        t - 1
    } else {
        t
    }
}

/// One element of `op::QUANTIZE`: `clamp(round_half_even(x / scale) + zp, -128, 127)`,
/// NaN to `zp`.
#[inline]
pub(crate) fn quantize_one(x: f32, scale: f32, zp: i32) -> i8 {
    let y = x / scale;
    if y.is_nan() {
        return zp.clamp(-128, 127) as i8;
    }
    (i64::from(round_half_even(y)) + i64::from(zp)).clamp(-128, 127) as i8
}

pub(crate) fn quantize(x: &[f32], scale: f32, zp: i32, out: &mut [i8]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = quantize_one(v, scale, zp);
    }
}

/// One element of `op::DEQUANTIZE`: `scale * (q - zp)`, the difference exact in i64 and
/// rounded once to f32 (`as` rounds to nearest even), then one multiplication.
#[inline]
pub(crate) fn dequantize_one(q: i32, scale: f32, zp: i32) -> f32 {
    scale * (i64::from(q) - i64::from(zp)) as f32
}
