//! The host's inference for the three model files, computing what the guest must get.
//!
//! The f32 variants run `wayos_aimath`'s ops in the graph's order (matmul, add, relu,
//! matmul, add), as the kernel's graph executor calls them: bit-exact with
//! [`Ctx::SCALAR_EXACT`] (the bits every architecture must reproduce), fast mode with the
//! scalar kernels (the guest's SIMD kernels may fuse multiply-adds, so the guest is
//! compared within a tolerance there).
//!
//! The int8 variant is computed here from the definitions of `wayos_abi::ai::op`'s
//! QUANTIZE, MATMUL_I8 and DEQUANTIZE, written independently of the kernel's code, so
//! the guest's result checks the kernel against the documented semantics.

use wayos_abi::digits::{CLASSES, FEATURES};
use wayos_aimath::{self as math, Ctx, Isa, Mode};

use crate::train::{Mlp, HIDDEN};

/// The exported `f32` weights (row-major `[in][out]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub w1: Vec<f32>,
    pub b1: Vec<f32>,
    pub w2: Vec<f32>,
    pub b2: Vec<f32>,
}

impl Weights {
    /// Each `f64` rounded to the nearest `f32`.
    pub fn from_mlp(m: &Mlp) -> Self {
        let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect();
        Weights {
            w1: f(&m.w1),
            b1: f(&m.b1),
            w2: f(&m.w2),
            b2: f(&m.b2),
        }
    }
}

/// Fast mode on the host: the scalar kernels (no fused multiply-add).
pub const SCALAR_FAST: Ctx = Ctx {
    mode: Mode::Fast,
    isa: Isa::Scalar,
};

/// The hidden layer after ReLU, then the logits, through the graph's ops.
pub fn forward_f32(ctx: &Ctx, w: &Weights, x: &[f32]) -> ([f32; HIDDEN], [f32; CLASSES]) {
    let mut t = [0f32; HIDDEN];
    let mut h = [0f32; HIDDEN];
    let mut u = [0f32; CLASSES];
    let mut z = [0f32; CLASSES];
    let ok = math::matmul(ctx, x, &w.w1, &mut t, 1, 1, FEATURES, HIDDEN, false, false)
        .and_then(|()| math::add(ctx, &t, &w.b1, &mut h))
        .and_then(|()| math::relu(ctx, &h.clone(), &mut h))
        .and_then(|()| math::matmul(ctx, &h, &w.w2, &mut u, 1, 1, HIDDEN, CLASSES, false, false))
        .and_then(|()| math::add(ctx, &u, &w.b2, &mut z));
    ok.expect("the shapes are fixed and valid");
    (h, z)
}

/// `QUANTIZE` of one value as `ai::op::QUANTIZE` defines it:
/// `clamp(round_half_even(x / scale) + zero_point, -128, 127)`, `x / scale` one `f32`
/// division, NaN giving the zero point.
pub fn quantize(x: f32, scale: f32, zero_point: i32) -> i8 {
    let v = x / scale;
    if v.is_nan() {
        return zero_point.clamp(-128, 127) as i8;
    }
    // `as i64` saturates (infinities too); the sum cannot overflow from there.
    let q = (v.round_ties_even() as i64).saturating_add(i64::from(zero_point));
    q.clamp(-128, 127) as i8
}

/// `DEQUANTIZE` of one value: `q - zero_point` exact in `i64`, rounded once to `f32`,
/// then one `f32` multiplication by `scale`.
pub fn dequantize(q: i64, scale: f32, zero_point: i32) -> f32 {
    ((q - i64::from(zero_point)) as f32) * scale
}

/// `MATMUL_I8` for a `1 x k` row: `sum (a - za)(b - zb)`, wrapping `i32`.
fn matmul_i8_row(a: &[i8], za: i32, b: &[i8], zb: i32, n: usize) -> Vec<i32> {
    (0..n)
        .map(|j| {
            a.iter().enumerate().fold(0i32, |acc, (p, &av)| {
                let bv = b[p * n + j];
                acc.wrapping_add((i32::from(av) - za).wrapping_mul(i32::from(bv) - zb))
            })
        })
        .collect()
}

/// The int8 model: per-tensor scales, symmetric weights (zero point 0), the input and
/// the hidden activations asymmetric.
#[derive(Clone, Debug, PartialEq)]
pub struct Q8 {
    /// The input's quantization: pixel / 16 is exact at scale 1/16, zero point 0.
    pub x_scale: f32,
    pub x_zero: i32,
    pub w1: Vec<i8>,
    pub w1_scale: f32,
    pub b1: Vec<f32>,
    /// The ReLU output's quantization: `[0, max]` over the training set onto -128..=127.
    pub h_scale: f32,
    pub h_zero: i32,
    pub w2: Vec<i8>,
    pub w2_scale: f32,
    pub b2: Vec<f32>,
}

/// The symmetric per-tensor scale of `w`: its largest magnitude onto 127.
fn symmetric_scale(w: &[f32]) -> f32 {
    let m = w.iter().fold(0f32, |m, &v| m.max(v.abs()));
    if m > 0.0 {
        m / 127.0
    } else {
        1.0
    }
}

impl Q8 {
    /// The scale DEQUANTIZE uses after the first int8 matmul (one `f32` product).
    pub fn d1_scale(&self) -> f32 {
        self.x_scale * self.w1_scale
    }

    /// The scale DEQUANTIZE uses after the second.
    pub fn d2_scale(&self) -> f32 {
        self.h_scale * self.w2_scale
    }

    /// Post-training quantization of `w`, calibrating the hidden activations on `calib`
    /// (the training inputs).
    pub fn quantize_model(w: &Weights, calib: &[[f32; FEATURES]]) -> Q8 {
        let w1_scale = symmetric_scale(&w.w1);
        let w2_scale = symmetric_scale(&w.w2);
        let mut q = Q8 {
            x_scale: 1.0 / 16.0,
            x_zero: 0,
            w1: w.w1.iter().map(|&v| quantize(v, w1_scale, 0)).collect(),
            w1_scale,
            b1: w.b1.clone(),
            h_scale: 1.0,
            h_zero: -128,
            w2: w.w2.iter().map(|&v| quantize(v, w2_scale, 0)).collect(),
            w2_scale,
            b2: w.b2.clone(),
        };
        // The largest hidden activation the quantized first layer produces on the
        // training set; 255 steps above the zero point reach it.
        let max_h = calib.iter().flat_map(|x| q.hidden(x)).fold(0f32, f32::max);
        q.h_scale = if max_h > 0.0 { max_h / 255.0 } else { 1.0 };
        q
    }

    /// QUANTIZE, MATMUL_I8, DEQUANTIZE, ADD, RELU: the hidden layer in `f32`.
    fn hidden(&self, x: &[f32]) -> [f32; HIDDEN] {
        let xq: Vec<i8> = x
            .iter()
            .map(|&v| quantize(v, self.x_scale, self.x_zero))
            .collect();
        let acc = matmul_i8_row(&xq, self.x_zero, &self.w1, 0, HIDDEN);
        let mut h = [0f32; HIDDEN];
        for j in 0..HIDDEN {
            let v = dequantize(i64::from(acc[j]), self.d1_scale(), 0) + self.b1[j];
            h[j] = if v > 0.0 { v } else { 0.0 };
        }
        h
    }

    /// The logits: the hidden layer, then QUANTIZE, MATMUL_I8, DEQUANTIZE, ADD.
    pub fn forward(&self, x: &[f32]) -> [f32; CLASSES] {
        let h = self.hidden(x);
        let hq: Vec<i8> = h
            .iter()
            .map(|&v| quantize(v, self.h_scale, self.h_zero))
            .collect();
        let acc = matmul_i8_row(&hq, self.h_zero, &self.w2, 0, CLASSES);
        let mut z = [0f32; CLASSES];
        for c in 0..CLASSES {
            z[c] = dequantize(i64::from(acc[c]), self.d2_scale(), 0) + self.b2[c];
        }
        z
    }
}

/// The predicted class: the largest logit, the lowest index on a tie (as `ai::op::ARGMAX`).
pub fn argmax(z: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in z.iter().enumerate() {
        if v > z[best] {
            best = i;
        }
    }
    best
}
