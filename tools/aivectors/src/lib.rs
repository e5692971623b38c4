//! The `ainfer4` reference vectors: one or more cases per `wayos_abi::ai::op`, each with
//! random inputs from a fixed seed, the expected output from the f64 reference
//! (`wayos_aimath::reference`, rounded to f32) with the tolerance the guest compares
//! with, and the exact bits of the host's bit-exact scalar kernels (which bit-exact mode
//! must reproduce on either architecture). The file format is documented in
//! `wayos_aimath::vectors`; xtask packs [`generate`]'s bytes into the initramfs as
//! `/testdata/ai/vectors.bin`.
//!
//! Must never: depend on the host (the same bytes on every machine and every run).

use wayos_abi::ai::op;
use wayos_aimath::reference as r;
use wayos_aimath::vectors::write::{file, OwnedCase, OwnedTensor};
use wayos_aimath::{vectors, Ctx, MathError};
use wayos_testutil::XorShift;

/// Where the file goes in the initramfs.
pub const INITRAMFS_PATH: &str = "testdata/ai/vectors.bin";

fn rand(rng: &mut XorShift, len: usize, scale: f32) -> Vec<f32> {
    (0..len)
        .map(|_| ((rng.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale)
        .collect()
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// A case under construction.
struct Builder {
    name: String,
    op: u32,
    attrs: [u32; 8],
    inputs: Vec<OwnedTensor>,
    tol: (f32, f32),
}

impl Builder {
    fn new(name: &str, op: u32) -> Builder {
        Builder {
            name: name.into(),
            op,
            attrs: [0; 8],
            inputs: Vec::new(),
            tol: (0.0, 0.0),
        }
    }

    fn attr(mut self, i: usize, v: u32) -> Builder {
        self.attrs[i] = v;
        self
    }

    fn input(mut self, t: OwnedTensor) -> Builder {
        self.inputs.push(t);
        self
    }

    fn tol(mut self, abs: f32, rel: f32) -> Builder {
        self.tol = (abs, rel);
        self
    }

    /// An f32 case: expected from the reference, exact from the bit-exact kernels.
    fn f32_out(self, dims: &[usize], want: &[f64], exact: &[f32]) -> OwnedCase {
        OwnedCase {
            name: self.name,
            op: self.op,
            attrs: self.attrs,
            inputs: self.inputs,
            output: OwnedTensor::f32(dims, &f32s(want)),
            exact: Some(OwnedTensor::f32(dims, exact)),
            tol_abs: self.tol.0,
            tol_rel: self.tol.1,
        }
    }

    /// An i8 case (with the scale and zero point the result carries), compared exactly.
    fn i8_out(self, dims: &[usize], want: &[i8], scale: f32, zp: i32) -> OwnedCase {
        OwnedCase {
            name: self.name,
            op: self.op,
            attrs: self.attrs,
            inputs: self.inputs,
            output: OwnedTensor::i8(dims, want, scale, zp),
            exact: None,
            tol_abs: 0.0,
            tol_rel: 0.0,
        }
    }

    /// An i32 case, compared exactly.
    fn i32_out(self, dims: &[usize], want: &[i32]) -> OwnedCase {
        OwnedCase {
            name: self.name,
            op: self.op,
            attrs: self.attrs,
            inputs: self.inputs,
            output: OwnedTensor::i32(dims, want),
            exact: None,
            tol_abs: 0.0,
            tol_rel: 0.0,
        }
    }
}

const X: Ctx = Ctx::SCALAR_EXACT;

/// Rounding of a length-`k` dot product of values in [-s, s] x [-t, t]: `4 k u k s t`
/// (unit roundoff u = 2^-24, a factor 4 of slack), as an absolute tolerance.
fn dot_tol(k: usize, s: f32, t: f32) -> f32 {
    4.0 * (k * k) as f32 * s * t * 5.96e-8 + 1e-7
}

#[allow(clippy::too_many_arguments)]
fn matmul_case(
    rng: &mut XorShift,
    name: &str,
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
) -> OwnedCase {
    let a = rand(rng, batch * m * k, 1.0);
    let b = rand(rng, k * n, 1.0);
    let want = r::matmul(&a, &b, batch, m, k, n, ta, tb);
    let mut exact = vec![0.0f32; batch * m * n];
    wayos_aimath::matmul(&X, &a, &b, &mut exact, batch, m, k, n, ta, tb).expect("matmul");
    let adims: Vec<usize> = match (batch > 1, ta) {
        (true, false) => vec![batch, m, k],
        (true, true) => vec![batch, k, m],
        (false, false) => vec![m, k],
        (false, true) => vec![k, m],
    };
    let bdims = if tb { [n, k] } else { [k, n] };
    let odims: Vec<usize> = if batch > 1 {
        vec![batch, m, n]
    } else {
        vec![m, n]
    };
    Builder::new(name, op::MATMUL)
        .attr(0, ta as u32)
        .attr(1, tb as u32)
        .input(OwnedTensor::f32(&adims, &a))
        .input(OwnedTensor::f32(&bdims, &b))
        .tol(dot_tol(k, 1.0, 1.0), 1e-6)
        .f32_out(&odims, &want, &exact)
}

type Binary = fn(&Ctx, &[f32], &[f32], &mut [f32]) -> Result<(), wayos_aimath::MathError>;
type RefBinary = fn(&[f32], &[f32]) -> Vec<f64>;
type RefUnary = fn(&[f32]) -> Vec<f64>;
/// Name, op, kernel, reference, (absolute, relative) tolerance.
type Activation = (&'static str, u32, Unary, RefUnary, (f32, f32));
type Unary = fn(&Ctx, &[f32], &mut [f32]) -> Result<(), wayos_aimath::MathError>;

/// Every case, in file order.
pub fn cases() -> Vec<OwnedCase> {
    let mut rng = XorShift::new(0x4149_5645_4353); // "AIVECS"
    let mut out = vec![
        matmul_case(&mut rng, "matmul 5x7 x 7x9", 1, 5, 7, 9, false, false),
        matmul_case(
            &mut rng,
            "matmul 33x40 x 40x17",
            1,
            33,
            40,
            17,
            false,
            false,
        ),
        matmul_case(&mut rng, "matmul batch 2 trans_a", 2, 3, 4, 5, true, false),
        matmul_case(&mut rng, "matmul trans_b", 1, 6, 8, 10, false, true),
        matmul_case(&mut rng, "matmul 1x1 k=1", 1, 1, 1, 1, false, false),
        matmul_case(&mut rng, "matmul 64x64x64", 1, 64, 64, 64, false, false),
    ];

    // add / mul, broadcasting a [5] over [3, 5].
    let binaries: [(&str, u32, Binary, RefBinary); 2] = [
        ("add broadcast", op::ADD, wayos_aimath::add, r::add),
        ("mul broadcast", op::MUL, wayos_aimath::mul, r::mul),
    ];
    for (name, opc, f, reff) in binaries {
        let a = rand(&mut rng, 15, 10.0);
        let b = rand(&mut rng, 5, 10.0);
        let mut exact = vec![0.0f32; 15];
        f(&X, &a, &b, &mut exact).expect("binary");
        out.push(
            Builder::new(name, opc)
                .input(OwnedTensor::f32(&[3, 5], &a))
                .input(OwnedTensor::f32(&[5], &b))
                .tol(0.0, 1.2e-7)
                .f32_out(&[3, 5], &reff(&a, &b), &exact),
        );
    }

    // Activations on [4, 9] (36 values: vector body and tail), range +-6.
    let acts: [Activation; 4] = [
        ("relu", op::RELU, wayos_aimath::relu, r::relu, (0.0, 0.0)),
        ("gelu", op::GELU, wayos_aimath::gelu, r::gelu, (1e-6, 2e-6)),
        (
            "sigmoid",
            op::SIGMOID,
            wayos_aimath::sigmoid,
            r::sigmoid,
            (1e-7, 1e-6),
        ),
        ("tanh", op::TANH, wayos_aimath::tanh, r::tanh, (1e-7, 2e-6)),
    ];
    for (name, opc, f, reff, (abs, rel)) in acts {
        let x = rand(&mut rng, 36, 6.0);
        let mut exact = vec![0.0f32; 36];
        f(&X, &x, &mut exact).expect("unary");
        out.push(
            Builder::new(name, opc)
                .input(OwnedTensor::f32(&[4, 9], &x))
                .tol(abs, rel)
                .f32_out(&[4, 9], &reff(&x), &exact),
        );
    }

    // softmax: ordinary rows, and rows of huge magnitude (max subtracted, no inf/NaN).
    for (name, rows, d, scale) in [
        ("softmax", 3usize, 10usize, 4.0f32),
        ("softmax large values", 2, 5, 1e4),
    ] {
        let mut x = rand(&mut rng, rows * d, scale);
        if scale > 1e3 {
            x[0] = 3e38;
            x[1] = -3e38;
            x[5] = 1e30;
            x[6] = 1e30;
        }
        let mut exact = vec![0.0f32; rows * d];
        wayos_aimath::softmax(&X, &x, &mut exact, d).expect("softmax");
        out.push(
            Builder::new(name, op::SOFTMAX)
                .input(OwnedTensor::f32(&[rows, d], &x))
                .tol(1e-7, 1e-5)
                .f32_out(&[rows, d], &r::softmax(&x, d), &exact),
        );
    }

    // layernorm [4, 16] with gamma and beta; epsilon given in the attribute.
    {
        let (rows, d) = (4, 16);
        let x = rand(&mut rng, rows * d, 3.0);
        let g = rand(&mut rng, d, 2.0);
        let b = rand(&mut rng, d, 1.0);
        let eps = 1e-5f32;
        let mut exact = vec![0.0f32; rows * d];
        wayos_aimath::layernorm(&X, &x, &g, &b, eps, &mut exact, d).expect("layernorm");
        out.push(
            Builder::new("layernorm", op::LAYERNORM)
                .attr(0, eps.to_bits())
                .input(OwnedTensor::f32(&[rows, d], &x))
                .input(OwnedTensor::f32(&[d], &g))
                .input(OwnedTensor::f32(&[d], &b))
                .tol(2e-5, 2e-5)
                .f32_out(&[rows, d], &r::layernorm(&x, &g, &b, eps, d), &exact),
        );
    }

    // argmax over [3, 7] -> [3], and rank 1 [7] -> [1]; a tie in row 0.
    {
        let mut x = rand(&mut rng, 21, 5.0);
        x[2] = 9.0;
        x[4] = 9.0;
        out.push(
            Builder::new("argmax", op::ARGMAX)
                .input(OwnedTensor::f32(&[3, 7], &x))
                .i32_out(&[3], &r::argmax(&x, 7)),
        );
        let x1 = rand(&mut rng, 7, 5.0);
        out.push(
            Builder::new("argmax rank 1", op::ARGMAX)
                .input(OwnedTensor::f32(&[7], &x1))
                .i32_out(&[1], &r::argmax(&x1, 7)),
        );
    }

    // reshape [2, 6] -> [3, 4]: the same elements.
    {
        let x = rand(&mut rng, 12, 1.0);
        let want: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        out.push(
            Builder::new("reshape", op::RESHAPE)
                .attr(0, 2)
                .attr(1, 3)
                .attr(2, 4)
                .input(OwnedTensor::f32(&[2, 6], &x))
                .f32_out(&[3, 4], &want, &x),
        );
    }

    // transpose [2, 3, 4] by [2, 0, 1] -> [4, 2, 3].
    {
        let x = rand(&mut rng, 24, 1.0);
        let t = r::transpose(&x, &[2, 3, 4], &[2, 0, 1]);
        let want: Vec<f64> = t.iter().map(|&v| v as f64).collect();
        out.push(
            Builder::new("transpose", op::TRANSPOSE)
                .attr(0, 2)
                .attr(1, 0)
                .attr(2, 1)
                .input(OwnedTensor::f32(&[2, 3, 4], &x))
                .f32_out(&[4, 2, 3], &want, &t),
        );
    }

    // embedding: table [6, 4], indices [5] -> [5, 4].
    {
        let table = rand(&mut rng, 24, 1.0);
        let idx = [5, 0, 3, 3, 1];
        let e = r::embedding(&table, 4, &idx);
        let want: Vec<f64> = e.iter().map(|&v| v as f64).collect();
        out.push(
            Builder::new("embedding", op::EMBEDDING)
                .input(OwnedTensor::f32(&[6, 4], &table))
                .input(OwnedTensor::i32(&[5], &idx))
                .f32_out(&[5, 4], &want, &e),
        );
    }

    // conv2d: stride 1 pad 1 with bias, stride 2 pad 1 with bias, stride 2 pad 0 without.
    for (name, stride, pad, with_bias) in [
        ("conv2d stride 1 pad 1", 1usize, 1usize, true),
        ("conv2d stride 2 pad 1", 2, 1, true),
        ("conv2d stride 2 pad 0", 2, 0, false),
    ] {
        let (n, c, h, w, o) = (1, 2, 5, 6, 3);
        let x = rand(&mut rng, n * c * h * w, 2.0);
        let wts = rand(&mut rng, o * c * 9, 1.0);
        let bias = rand(&mut rng, o, 1.0);
        let b = with_bias.then_some(bias.as_slice());
        let (want, ho, wo) = r::conv2d(&x, n, c, h, w, &wts, o, b, stride, pad);
        let mut exact = vec![0.0f32; n * o * ho * wo];
        wayos_aimath::conv2d(&X, &x, n, c, h, w, &wts, o, b, stride, pad, &mut exact)
            .expect("conv2d");
        let mut case = Builder::new(name, op::CONV2D)
            .attr(0, stride as u32)
            .attr(1, pad as u32)
            .input(OwnedTensor::f32(&[n, c, h, w], &x))
            .input(OwnedTensor::f32(&[o, c, 3, 3], &wts));
        if let Some(b) = b {
            case = case.input(OwnedTensor::f32(&[o], b));
        }
        out.push(case.tol(dot_tol(9 * c + 1, 2.0, 1.0), 1e-6).f32_out(
            &[n, o, ho, wo],
            &want,
            &exact,
        ));
    }

    // int8 matmul [4, 6] x [6, 5] with zero points 3 and -2 -> i32 [4, 5].
    {
        let (m, k, n) = (4, 6, 5);
        let a: Vec<i8> = (0..m * k).map(|_| rng.next() as i8).collect();
        let b: Vec<i8> = (0..k * n).map(|_| rng.next() as i8).collect();
        let want: Vec<i32> = r::matmul_i8(&a, 3, &b, -2, m, k, n)
            .into_iter()
            .map(|v| v as i32)
            .collect();
        out.push(
            Builder::new("matmul_i8", op::MATMUL_I8)
                .input(OwnedTensor::i8(&[m, k], &a, 0.05, 3))
                .input(OwnedTensor::i8(&[k, n], &b, 0.02, -2))
                .i32_out(&[m, n], &want),
        );
    }
    // quantize: ties (scale 0.5 makes x / scale = 2x exact), saturation, NaN, -0, a
    // negative zero point; then random values with an odd scale and zero point.
    {
        let mut cases: Vec<(&str, Vec<f32>, f32, i32)> = vec![(
            "quantize ties saturation nan",
            vec![
                0.25,
                0.75,
                1.25,
                -0.25,
                -0.75,
                -1.25,
                100.0,
                -100.0,
                f32::NAN,
                -0.0,
                63.75,
                -64.25,
            ],
            0.5,
            -2,
        )];
        cases.push(("quantize random", rand(&mut rng, 21, 4.0), 0.031, 7));
        for (name, x, scale, zp) in cases {
            let n = x.len();
            let want = r::quantize(&x, scale, zp);
            let mut exact = vec![0i8; n];
            wayos_aimath::quantize(&X, &x, scale, zp, &mut exact).expect("quantize");
            out.push(OwnedCase {
                exact: Some(OwnedTensor::i8(&[n / 3, 3], &exact, scale, zp)),
                ..Builder::new(name, op::QUANTIZE)
                    .attr(0, scale.to_bits())
                    .attr(1, zp as u32)
                    .input(OwnedTensor::f32(&[n / 3, 3], &x))
                    .i8_out(&[n / 3, 3], &want, scale, zp)
            });
        }
    }

    // dequantize: an i8 tensor (its own scale/zero point differ from the attributes,
    // which win) and an i32 accumulator with values too large for exact f32.
    {
        let q8: Vec<i8> = (0..20).map(|_| rng.next() as i8).collect();
        let mut q32: Vec<i32> = (0..12).map(|_| rng.next() as i32).collect();
        q32[0] = 16_777_217;
        q32[1] = i32::MIN;
        for (name, input, q, scale, zp) in [
            (
                "dequantize i8",
                OwnedTensor::i8(&[4, 5], &q8, 0.5, 1),
                q8.iter().map(|&v| v as i64).collect::<Vec<_>>(),
                0.05f32,
                3i32,
            ),
            (
                "dequantize i32",
                OwnedTensor::i32(&[3, 4], &q32),
                q32.iter().map(|&v| v as i64).collect(),
                1.5e-3,
                -11,
            ),
        ] {
            let dims: Vec<usize> = input.info.dims[..input.info.rank as usize]
                .iter()
                .map(|&d| d as usize)
                .collect();
            let want = r::dequantize(&q, scale, zp);
            let mut exact = vec![0.0f32; q.len()];
            match input.info.dtype {
                wayos_abi::ai::DTYPE_I8 => {
                    wayos_aimath::dequantize_i8(&X, &q8, scale, zp, &mut exact)
                }
                _ => wayos_aimath::dequantize_i32(&X, &q32, scale, zp, &mut exact),
            }
            .expect("dequantize");
            let want64: Vec<f64> = want.iter().map(|&v| v as f64).collect();
            out.push(
                Builder::new(name, op::DEQUANTIZE)
                    .attr(0, scale.to_bits())
                    .attr(1, zp as u32)
                    .input(input)
                    .f32_out(&dims, &want64, &exact),
            );
        }
    }
    out
}

fn floats(t: &vectors::Tensor<'_>) -> Vec<f32> {
    (0..t.elements()).filter_map(|i| t.f32_at(i)).collect()
}

fn dims(t: &vectors::Tensor<'_>) -> Vec<usize> {
    t.dims().iter().map(|&d| d as usize).collect()
}

/// Runs one case's node with `ctx` and returns the output's bytes: the mapping from
/// `wayos_abi::ai::op` codes, shapes and attributes to this crate's calls that a graph
/// executor makes (host tests run the SIMD kernels through it against the file).
pub fn run(ctx: &Ctx, c: &vectors::Case<'_>) -> Result<Vec<u8>, MathError> {
    let input = |i: usize| c.input(i).ok_or(MathError::Shape);
    let x = input(0)?;
    let xd = dims(x);
    let last = *xd.last().unwrap_or(&1);
    let n_out = c.output.elements();
    let mut out = vec![0.0f32; n_out];
    match c.op {
        op::MATMUL => {
            let (a, b) = (floats(x), floats(input(1)?));
            let bd = dims(input(1)?);
            if xd.len() < 2 || bd.len() != 2 {
                return Err(MathError::Shape);
            }
            let (ta, tb) = (c.attrs[0] != 0, c.attrs[1] != 0);
            let r = xd.len();
            let (m, k) = if ta {
                (xd[r - 1], xd[r - 2])
            } else {
                (xd[r - 2], xd[r - 1])
            };
            let n = if tb { bd[0] } else { bd[1] };
            let batch = xd[..r - 2].iter().product();
            wayos_aimath::matmul(ctx, &a, &b, &mut out, batch, m, k, n, ta, tb)?;
        }
        op::ADD => wayos_aimath::add(ctx, &floats(x), &floats(input(1)?), &mut out)?,
        op::MUL => wayos_aimath::mul(ctx, &floats(x), &floats(input(1)?), &mut out)?,
        op::RELU => wayos_aimath::relu(ctx, &floats(x), &mut out)?,
        op::GELU => wayos_aimath::gelu(ctx, &floats(x), &mut out)?,
        op::SIGMOID => wayos_aimath::sigmoid(ctx, &floats(x), &mut out)?,
        op::TANH => wayos_aimath::tanh(ctx, &floats(x), &mut out)?,
        op::SOFTMAX => wayos_aimath::softmax(ctx, &floats(x), &mut out, last)?,
        op::LAYERNORM => {
            let eps = match c.attrs[0] {
                0 => 1e-5,
                bits => f32::from_bits(bits),
            };
            let (g, b) = (floats(input(1)?), floats(input(2)?));
            wayos_aimath::layernorm(ctx, &floats(x), &g, &b, eps, &mut out, last)?
        }
        op::ARGMAX => {
            let mut idx = vec![0i32; n_out];
            wayos_aimath::argmax(&floats(x), &mut idx, last)?;
            return Ok(idx.iter().flat_map(|v| v.to_le_bytes()).collect());
        }
        op::RESHAPE => out = floats(x),
        op::TRANSPOSE => {
            let perm: Vec<usize> = c.attrs[..xd.len()].iter().map(|&p| p as usize).collect();
            wayos_aimath::transpose(&floats(x), &xd, &perm, &mut out)?
        }
        op::EMBEDDING => {
            let ids = input(1)?;
            let idx: Vec<i32> = (0..ids.elements()).filter_map(|i| ids.i32_at(i)).collect();
            wayos_aimath::embedding(&floats(x), xd[0], xd[1], &idx, &mut out)?
        }
        op::CONV2D => {
            let w = input(1)?;
            let bias = c.input(2).map(floats);
            wayos_aimath::conv2d(
                ctx,
                &floats(x),
                xd[0],
                xd[1],
                xd[2],
                xd[3],
                &floats(w),
                dims(w)[0],
                bias.as_deref(),
                c.attrs[0] as usize,
                c.attrs[1] as usize,
                &mut out,
            )?
        }
        op::MATMUL_I8 => {
            let (a, b) = (x, input(1)?);
            let q =
                |t: &vectors::Tensor<'_>| -> Vec<i8> { t.data.iter().map(|&v| v as i8).collect() };
            let bd = dims(b);
            let mut acc = vec![0i32; n_out];
            wayos_aimath::matmul_i8(
                ctx,
                &q(a),
                a.info.zero_point,
                &q(b),
                b.info.zero_point,
                &mut acc,
                xd[0],
                xd[1],
                bd[1],
            )?;
            return Ok(acc.iter().flat_map(|v| v.to_le_bytes()).collect());
        }
        op::QUANTIZE => {
            let mut q = vec![0i8; n_out];
            let (scale, zp) = (f32::from_bits(c.attrs[0]), c.attrs[1] as i32);
            wayos_aimath::quantize(ctx, &floats(x), scale, zp, &mut q)?;
            return Ok(q.iter().map(|&v| v as u8).collect());
        }
        op::DEQUANTIZE => {
            let (scale, zp) = (f32::from_bits(c.attrs[0]), c.attrs[1] as i32);
            if x.info.dtype == wayos_abi::ai::DTYPE_I8 {
                let q: Vec<i8> = x.data.iter().map(|&v| v as i8).collect();
                wayos_aimath::dequantize_i8(ctx, &q, scale, zp, &mut out)?
            } else {
                let q: Vec<i32> = (0..x.elements()).filter_map(|i| x.i32_at(i)).collect();
                wayos_aimath::dequantize_i32(ctx, &q, scale, zp, &mut out)?
            }
        }
        _ => return Err(MathError::Unsupported),
    }
    Ok(out.iter().flat_map(|v| v.to_le_bytes()).collect())
}

/// The vector file's bytes.
pub fn generate() -> Vec<u8> {
    file(&cases())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wayos_aimath::{Isa, Mode};

    /// The file parses with the guest's reader, covers every op, and each case's exact
    /// (bit-exact kernel) output passes its own tolerance against the f64 expectation.
    #[test]
    fn every_op_present_and_within_tolerance() {
        let bytes = generate();
        let cases = vectors::parse(&bytes).expect("header");
        assert_eq!(cases.announced() as usize, super::cases().len());
        let mut seen = [false; op::COUNT as usize];
        let mut n = 0;
        for c in cases {
            let c = c.expect("case parses");
            seen[c.op as usize] = true;
            n += 1;
            match c.exact {
                Some(e) => {
                    vectors::compare(&c, e.data).unwrap_or_else(|m| {
                        panic!("{}: exact output outside tolerance: {m:?}", c.name)
                    });
                    vectors::compare_exact(&c, e.data).unwrap();
                }
                None => assert_ne!(c.output.info.dtype, wayos_abi::ai::DTYPE_F32),
            }
        }
        assert_eq!(n, super::cases().len());
        for opc in 1..op::COUNT {
            assert!(seen[opc as usize], "op {opc} has no case");
        }
    }

    /// Every case through every kernel set: within tolerance of the f64 expectation, and
    /// in bit-exact mode (scalar or the host's SIMD) the file's exact bits.
    #[test]
    fn every_case_runs_on_every_isa() {
        let bytes = generate();
        let mut isas = vec![Isa::Scalar];
        if Isa::host_best() != Isa::Scalar {
            isas.push(Isa::host_best());
        }
        for c in vectors::parse(&bytes).unwrap() {
            let c = c.unwrap();
            for &isa in &isas {
                for mode in [Mode::Fast, Mode::BitExact] {
                    let got = run(&Ctx { mode, isa }, &c).expect(c.name);
                    vectors::compare(&c, &got)
                        .unwrap_or_else(|m| panic!("{} {isa:?} {mode:?}: {m:?}", c.name));
                    if mode == Mode::BitExact {
                        vectors::compare_exact(&c, &got)
                            .unwrap_or_else(|m| panic!("{} {isa:?} exact: {m:?}", c.name));
                    }
                }
            }
        }
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(generate(), generate());
    }

    /// The expected outputs are the reference, not the code under test: a perturbed
    /// result fails the comparison.
    #[test]
    fn a_wrong_result_is_caught() {
        let bytes = generate();
        for c in vectors::parse(&bytes).unwrap() {
            let c = c.unwrap();
            let mut got = c.output.data.to_vec();
            if got.is_empty() {
                continue;
            }
            // Flip a high mantissa/exponent bit of the first element.
            got[2] ^= 0x40;
            assert!(vectors::compare(&c, &got).is_err(), "{}", c.name);
        }
    }
}
