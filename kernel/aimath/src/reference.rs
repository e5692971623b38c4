//! The f64 reference: every op written the obvious way in double precision with the
//! standard library's `exp`, `tanh` and `sqrt`, independent of the kernels it checks (no
//! shared code, no fixed order, no approximation but GELU's own). Host-only: the tests
//! compare against it and `tools/aivectors` computes the expected outputs with it.
//!
//! Must never: be used by the kernel (it needs `std`), or share code with the kernels.

use std::vec;
use std::vec::Vec;

/// A `batch x m x n` product of `a` (`m x k`, or `k x m` when `ta`) and `b` (`k x n`, or
/// `n x k` when `tb`).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    a: &[f32],
    b: &[f32],
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
) -> Vec<f64> {
    let mut out = vec![0.0; batch * m * n];
    for bi in 0..batch {
        let ab = &a[bi * m * k..(bi + 1) * m * k];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    let av = if ta { ab[p * m + i] } else { ab[i * k + p] };
                    let bv = if tb { b[j * k + p] } else { b[p * n + j] };
                    s += av as f64 * bv as f64;
                }
                out[(bi * m + i) * n + j] = s;
            }
        }
    }
    out
}

pub fn add(a: &[f32], b: &[f32]) -> Vec<f64> {
    (0..a.len())
        .map(|i| a[i] as f64 + b[i % b.len()] as f64)
        .collect()
}

pub fn mul(a: &[f32], b: &[f32]) -> Vec<f64> {
    (0..a.len())
        .map(|i| a[i] as f64 * b[i % b.len()] as f64)
        .collect()
}

pub fn relu(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| (v as f64).max(0.0)).collect()
}

/// The tanh form of the GELU approximation, as the op defines it.
pub fn gelu(x: &[f32]) -> Vec<f64> {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    x.iter()
        .map(|&v| {
            let v = v as f64;
            0.5 * v * (1.0 + (c * (v + 0.044715 * v * v * v)).tanh())
        })
        .collect()
}

pub fn sigmoid(x: &[f32]) -> Vec<f64> {
    x.iter()
        .map(|&v| 1.0 / (1.0 + (-(v as f64)).exp()))
        .collect()
}

pub fn tanh(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| (v as f64).tanh()).collect()
}

pub fn softmax(x: &[f32], d: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks(d) {
        let m = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let e: Vec<f64> = row.iter().map(|&v| (v as f64 - m).exp()).collect();
        let s: f64 = e.iter().sum();
        out.extend(e.iter().map(|v| v / s));
    }
    out
}

pub fn layernorm(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, d: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks(d) {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
        let var = row
            .iter()
            .map(|&v| (v as f64 - mean) * (v as f64 - mean))
            .sum::<f64>()
            / d as f64;
        let rstd = 1.0 / (var + eps as f64).sqrt();
        for (i, &v) in row.iter().enumerate() {
            out.push((v as f64 - mean) * rstd * gamma[i] as f64 + beta[i] as f64);
        }
    }
    out
}

pub fn argmax(x: &[f32], d: usize) -> Vec<i32> {
    x.chunks(d)
        .map(|row| {
            let mut best = 0;
            for i in 1..row.len() {
                if row[i] > row[best] {
                    best = i;
                }
            }
            best as i32
        })
        .collect()
}

/// numpy's `transpose(x, perm)` by explicit multi-indices.
pub fn transpose<T: Copy>(x: &[T], dims: &[usize], perm: &[usize]) -> Vec<T> {
    let rank = dims.len();
    let odims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    let total: usize = dims.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut oidx = vec![0usize; rank];
    for _ in 0..total {
        // Input index: input dim perm[i] takes output index i.
        let mut iidx = vec![0usize; rank];
        for i in 0..rank {
            iidx[perm[i]] = oidx[i];
        }
        let mut flat = 0;
        for i in 0..rank {
            flat = flat * dims[i] + iidx[i];
        }
        out.push(x[flat]);
        for i in (0..rank).rev() {
            oidx[i] += 1;
            if oidx[i] < odims[i] {
                break;
            }
            oidx[i] = 0;
        }
    }
    out
}

pub fn embedding(table: &[f32], d: usize, idx: &[i32]) -> Vec<f32> {
    idx.iter()
        .flat_map(|&i| table[i as usize * d..(i as usize + 1) * d].iter().copied())
        .collect()
}

/// NCHW 3x3 convolution with zero padding, by the definition.
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    x: &[f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    wts: &[f32],
    o: usize,
    bias: Option<&[f32]>,
    stride: usize,
    pad: usize,
) -> (Vec<f64>, usize, usize) {
    let ho = (h + 2 * pad - 3) / stride + 1;
    let wo = (w + 2 * pad - 3) / stride + 1;
    let mut out = vec![0.0; n * o * ho * wo];
    for ni in 0..n {
        for oc in 0..o {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut s = bias.map_or(0.0, |b| b[oc] as f64);
                    for ci in 0..c {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let iy = (oy * stride + ky) as isize - pad as isize;
                                let ix = (ox * stride + kx) as isize - pad as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let xv = x[((ni * c + ci) * h + iy as usize) * w + ix as usize];
                                let wv = wts[((oc * c + ci) * 3 + ky) * 3 + kx];
                                s += xv as f64 * wv as f64;
                            }
                        }
                    }
                    out[((ni * o + oc) * ho + oy) * wo + ox] = s;
                }
            }
        }
    }
    (out, ho, wo)
}

/// Int8 product with zero points, in i64 (no wrap for realistic inputs).
#[allow(clippy::too_many_arguments)]
pub fn matmul_i8(a: &[i8], za: i32, b: &[i8], zb: i32, m: usize, k: usize, n: usize) -> Vec<i64> {
    let mut out = vec![0i64; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k)
                .map(|p| (a[i * k + p] as i64 - za as i64) * (b[p * n + j] as i64 - zb as i64))
                .sum();
        }
    }
    out
}

/// QUANTIZE in f64: the f32 quotient is the f64 one rounded to f32 (a double-precision
/// quotient rounded to single is the correctly rounded single quotient), rounded half
/// to even by the standard library, then shifted and clamped in i64.
pub fn quantize(x: &[f32], scale: f32, zero_point: i32) -> Vec<i8> {
    x.iter()
        .map(|&v| {
            let y = (v as f64 / scale as f64) as f32;
            if y.is_nan() {
                return zero_point as i8;
            }
            let r = (y as f64).round_ties_even();
            let r = r.clamp(-1e12, 1e12) as i64 + zero_point as i64;
            r.clamp(-128, 127) as i8
        })
        .collect()
}

/// DEQUANTIZE in f64: the difference rounded to f32, then the product of two f32s,
/// exact in f64, rounded once to f32 (= the IEEE single product).
pub fn dequantize(q: &[i64], scale: f32, zero_point: i32) -> Vec<f32> {
    q.iter()
        .map(|&v| {
            let d = (v - zero_point as i64) as f32;
            (d as f64 * scale as f64) as f32
        })
        .collect()
}
