//! WayOS tensor math: the operations of `wayos_abi::ai::op` as pure computation over
//! slices. Callers (the kernel's accelerator workers, host tools) pass input slices and
//! output buffers; nothing here allocates, locks, blocks or touches anything but the
//! slices it is given.
//!
//! # What it owns
//!
//! - The numerics of every op: a scalar implementation in plain safe Rust (`scalar`,
//!   [`fmath`]), and SIMD kernels for the hot paths (matmul and conv2d, the elementwise
//!   ops, softmax, layernorm): AVX2+FMA on x86_64 (`x86`), NEON on aarch64 (`neon`). [`Ctx::isa`] picks
//!   one; an ISA the CPU does not have gives [`MathError::Unsupported`], never an illegal
//!   instruction.
//! - Argument checking: every function checks each slice's length against the dims it is
//!   given with overflow-safe arithmetic and returns [`MathError`] instead of panicking.
//!   Validation happens before the first write, so an error leaves `out` untouched.
//! - The reader of the `ainfer4` reference vectors ([`vectors`]).
//!
//! # What it must never do
//!
//! Panic, allocate, or read or write outside the given slices on any input. `unsafe` is
//! confined to the two SIMD modules, where every block says why it is sound; the rest of
//! the crate denies it.
//!
//! # Modes and the bit-exact order
//!
//! [`Mode::BitExact`] gives the same output bits on x86_64 (scalar or AVX2) and aarch64
//! (scalar or NEON). It rests on three rules, which every kernel follows:
//!
//! 1. Only IEEE-754 single-precision `+ - * /` (round to nearest even) and comparisons,
//!    each rounded separately: never a fused multiply-add. `sqrt` is computed by
//!    [`fmath::sqrt`], an integer algorithm that is correctly rounded; `exp` is
//!    [`fmath::exp`], built from `+ - * /` alone. No approximate reciprocal instructions.
//! 2. A fixed evaluation order:
//!    - matmul and conv2d: each output starts at `+0.0` and adds one rounded product at a
//!      time in increasing `k` (conv2d: channel, then kernel row, then kernel column;
//!      padded taps are skipped; the bias is added last). SIMD kernels vectorize across
//!      output columns, so each lane still runs this sequence.
//!    - row reductions (softmax's max and sum, layernorm's mean and variance) use eight
//!      partial results: element `i` of the row goes to lane `i % 8` in increasing `i`,
//!      then the lanes combine as `t_j = l_j + l_{j+4}` (j < 4), `u_0 = t_0 + t_2`,
//!      `u_1 = t_1 + t_3`, `s = u_0 + u_1` (the same shape for max). This is one AVX2
//!      register or two NEON registers, and the scalar code keeps an array of eight.
//! 3. Subnormals are IEEE (the reset state: MXCSR.FTZ/DAZ and FPCR.FZ clear). The caller
//!    must not run these kernels with flush-to-zero enabled.
//!
//! [`Mode::Fast`] differs only in that the SIMD matmul and conv2d kernels use fused
//! multiply-add;
//! everything else computes the bit-exact sequence in both modes.
//!
//! Comparisons (clamps, selects, row maxima, relu) are decided by the sign bit of a
//! difference ([`fmath::lt`]), the same in scalar and vector code. The guarantee covers
//! finite inputs; a NaN or infinity gives some output without panicking, possibly
//! different between ISAs.
#![no_std]
#![deny(unsafe_code)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod fmath;
mod gemm;
mod scalar;
pub mod vectors;

#[cfg(target_arch = "aarch64")]
#[allow(unsafe_code)]
mod neon;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86;

#[cfg(any(test, feature = "std"))]
pub mod reference;

#[cfg(test)]
mod tests;

/// How results may vary between machines (`wayos_abi::ai::MODE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The fastest kernels this ISA has (fused multiply-add in matmul).
    Fast,
    /// Identical output bits on every ISA and architecture (see the crate docs).
    BitExact,
}

/// Which kernels run. The caller picks one it has checked ([`Isa::supported`],
/// [`Isa::detect`]) and whose registers it saves; an ISA this CPU lacks, or one of the
/// other architecture, gives [`MathError::Unsupported`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Plain Rust. On x86_64-unknown-none this is soft-float: slow but IEEE-exact.
    Scalar,
    /// x86_64 AVX2 with FMA (256-bit, eight f32 lanes).
    Avx2Fma,
    /// aarch64 Advanced SIMD (128-bit, four f32 lanes).
    Neon,
}

impl Isa {
    /// Whether this CPU can run the kernels of `self` (on x86_64: CPUID's AVX2, FMA and
    /// OSXSAVE bits, XCR0 enabling the SSE and AVX state, and a bit-for-bit self-test of
    /// the AVX2 kernels against the scalar ones; the answer is cached).
    ///
    /// The first call on x86_64 executes AVX instructions (the self-test): make it where
    /// clobbering the vector registers is allowed, as for any other call here.
    pub fn supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => x86::Avx2::new().is_some(),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => neon::Neon::new().is_some(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The best ISA this CPU supports ([`Isa::supported`]); no `std` needed.
    pub fn detect() -> Isa {
        if Isa::Avx2Fma.supported() {
            Isa::Avx2Fma
        } else if Isa::Neon.supported() {
            Isa::Neon
        } else {
            Isa::Scalar
        }
    }

    /// The best ISA of the host, by the standard library's feature detection (host tests
    /// and benches).
    #[cfg(any(test, feature = "std"))]
    pub fn host_best() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Isa::Avx2Fma;
        }
        #[cfg(target_arch = "aarch64")]
        return Isa::Neon;
        #[allow(unreachable_code)]
        Isa::Scalar
    }
}

/// What every op is run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctx {
    pub mode: Mode,
    pub isa: Isa,
}

impl Ctx {
    /// Plain scalar code, bit-exact: what host tools use when they need portable bits.
    pub const SCALAR_EXACT: Ctx = Ctx {
        mode: Mode::BitExact,
        isa: Isa::Scalar,
    };
}

/// Why an op refused to run. Nothing was written to `out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MathError {
    /// A slice's length disagrees with the dims given, a size overflows, or an attribute
    /// (permutation, stride, padding) is invalid.
    Shape,
    /// An embedding index outside `0..v` (the first bad one).
    Index { index: i32 },
    /// The ISA is not available on this CPU, or the operation's rank is beyond what is
    /// supported.
    Unsupported,
}

/// `a * b`, or `Shape` on overflow.
fn mul2(a: usize, b: usize) -> Result<usize, MathError> {
    a.checked_mul(b).ok_or(MathError::Shape)
}

/// `a * b * c`, or `Shape` on overflow.
fn mul3(a: usize, b: usize, c: usize) -> Result<usize, MathError> {
    mul2(mul2(a, b)?, c)
}

fn expect_len(len: usize, want: usize) -> Result<(), MathError> {
    if len == want {
        Ok(())
    } else {
        Err(MathError::Shape)
    }
}

/// The ISA's kernels, checked to be runnable here.
enum Kernels {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2(x86::Avx2),
    #[cfg(target_arch = "aarch64")]
    Neon(neon::Neon),
}

fn kernels(isa: Isa) -> Result<Kernels, MathError> {
    match isa {
        Isa::Scalar => Ok(Kernels::Scalar),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => x86::Avx2::new()
            .map(Kernels::Avx2)
            .ok_or(MathError::Unsupported),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => neon::Neon::new()
            .map(Kernels::Neon)
            .ok_or(MathError::Unsupported),
        #[allow(unreachable_patterns)]
        _ => Err(MathError::Unsupported),
    }
}

/// The shape of a (batched) matrix product, checked against the slices.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MatmulShape {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub trans_a: bool,
    pub trans_b: bool,
}

impl MatmulShape {
    /// Where element `(row, p)` of A is, for a global row `row` in `0..batch*m`: the
    /// row's start and the step between consecutive `p`.
    #[inline]
    pub fn a_row(&self, row: usize) -> (usize, usize) {
        if self.trans_a {
            let (b, i) = (row / self.m, row % self.m);
            (b * self.k * self.m + i, self.m)
        } else {
            (row * self.k, 1)
        }
    }
}

/// Matrix product. `a` holds `batch` matrices of `m x k` (`k x m` if `trans_a`), `b` one
/// `k x n` matrix (`n x k` if `trans_b`) shared by every batch, `out` `batch` matrices
/// of `m x n`.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    ctx: &Ctx,
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    trans_a: bool,
    trans_b: bool,
) -> Result<(), MathError> {
    expect_len(a.len(), mul3(batch, m, k)?)?;
    expect_len(b.len(), mul2(k, n)?)?;
    expect_len(out.len(), mul3(batch, m, n)?)?;
    let shape = MatmulShape {
        batch,
        m,
        k,
        n,
        trans_a,
        trans_b,
    };
    match kernels(ctx.isa)? {
        Kernels::Scalar => {
            scalar::matmul(a, b, out, &shape);
            Ok(())
        }
        #[cfg(target_arch = "x86_64")]
        Kernels::Avx2(t) => gemm::matmul(&t.gemm(ctx.mode), a, b, out, &shape),
        #[cfg(target_arch = "aarch64")]
        Kernels::Neon(t) => gemm::matmul(&t.gemm(ctx.mode), a, b, out, &shape),
    }
}

/// Checks a broadcasting binary op: `b` repeats over `a`'s leading dims.
fn check_broadcast(a: &[f32], b: &[f32], out: &[f32]) -> Result<(), MathError> {
    expect_len(out.len(), a.len())?;
    if a.is_empty() {
        return Ok(());
    }
    if b.is_empty() || !a.len().is_multiple_of(b.len()) {
        return Err(MathError::Shape);
    }
    Ok(())
}

/// Elementwise binary operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Mul,
}

fn binary(ctx: &Ctx, op: Binary, a: &[f32], b: &[f32], out: &mut [f32]) -> Result<(), MathError> {
    check_broadcast(a, b, out)?;
    if a.is_empty() {
        return Ok(());
    }
    match kernels(ctx.isa)? {
        Kernels::Scalar => scalar::binary(op, a, b, out),
        #[cfg(target_arch = "x86_64")]
        Kernels::Avx2(t) => t.binary(op, a, b, out),
        #[cfg(target_arch = "aarch64")]
        Kernels::Neon(t) => t.binary(op, a, b, out),
    }
    Ok(())
}

/// `out = a + b`; `b.len()` divides `a.len()` and `b` repeats over `a`'s leading dims.
pub fn add(ctx: &Ctx, a: &[f32], b: &[f32], out: &mut [f32]) -> Result<(), MathError> {
    binary(ctx, Binary::Add, a, b, out)
}

/// `out = a * b`, broadcasting as [`add`].
pub fn mul(ctx: &Ctx, a: &[f32], b: &[f32], out: &mut [f32]) -> Result<(), MathError> {
    binary(ctx, Binary::Mul, a, b, out)
}

/// Elementwise unary operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unary {
    Relu,
    Gelu,
    Sigmoid,
    Tanh,
}

fn unary(ctx: &Ctx, op: Unary, x: &[f32], out: &mut [f32]) -> Result<(), MathError> {
    expect_len(out.len(), x.len())?;
    match kernels(ctx.isa)? {
        Kernels::Scalar => scalar::unary(op, x, out),
        #[cfg(target_arch = "x86_64")]
        Kernels::Avx2(t) => t.unary(op, x, out),
        #[cfg(target_arch = "aarch64")]
        Kernels::Neon(t) => t.unary(op, x, out),
    }
    Ok(())
}

/// `out = x > 0 ? x : 0`.
pub fn relu(ctx: &Ctx, x: &[f32], out: &mut [f32]) -> Result<(), MathError> {
    unary(ctx, Unary::Relu, x, out)
}

/// GELU, tanh approximation: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, computed
/// as the identical `x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))`.
pub fn gelu(ctx: &Ctx, x: &[f32], out: &mut [f32]) -> Result<(), MathError> {
    unary(ctx, Unary::Gelu, x, out)
}

/// `1 / (1 + exp(-x))`.
pub fn sigmoid(ctx: &Ctx, x: &[f32], out: &mut [f32]) -> Result<(), MathError> {
    unary(ctx, Unary::Sigmoid, x, out)
}

/// Hyperbolic tangent.
pub fn tanh(ctx: &Ctx, x: &[f32], out: &mut [f32]) -> Result<(), MathError> {
    unary(ctx, Unary::Tanh, x, out)
}

/// Checks a row-wise op over rows of length `d`; returns the number of rows.
fn rows_of(len: usize, d: usize) -> Result<usize, MathError> {
    if len == 0 {
        return Ok(0);
    }
    if d == 0 || !len.is_multiple_of(d) {
        return Err(MathError::Shape);
    }
    Ok(len / d)
}

/// Softmax over rows of length `d`, the row's maximum subtracted first so no row
/// overflows.
pub fn softmax(ctx: &Ctx, x: &[f32], out: &mut [f32], d: usize) -> Result<(), MathError> {
    expect_len(out.len(), x.len())?;
    if rows_of(x.len(), d)? == 0 {
        return Ok(());
    }
    match kernels(ctx.isa)? {
        Kernels::Scalar => scalar::softmax(x, out, d),
        #[cfg(target_arch = "x86_64")]
        Kernels::Avx2(t) => t.softmax(x, out, d),
        #[cfg(target_arch = "aarch64")]
        Kernels::Neon(t) => t.softmax(x, out, d),
    }
    Ok(())
}

/// Layer normalization over rows of length `d`:
/// `(x - mean) / sqrt(var + eps) * gamma + beta`, `var` the biased variance.
#[allow(clippy::too_many_arguments)]
pub fn layernorm(
    ctx: &Ctx,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    out: &mut [f32],
    d: usize,
) -> Result<(), MathError> {
    expect_len(out.len(), x.len())?;
    expect_len(gamma.len(), d)?;
    expect_len(beta.len(), d)?;
    if rows_of(x.len(), d)? == 0 {
        return Ok(());
    }
    match kernels(ctx.isa)? {
        Kernels::Scalar => scalar::layernorm(x, gamma, beta, eps, out, d),
        #[cfg(target_arch = "x86_64")]
        Kernels::Avx2(t) => t.layernorm(x, gamma, beta, eps, out, d),
        #[cfg(target_arch = "aarch64")]
        Kernels::Neon(t) => t.layernorm(x, gamma, beta, eps, out, d),
    }
    Ok(())
}

/// Index of the largest element of each row of length `d` (ties: the lowest index;
/// NaN never compares larger). `out` has one entry per row.
pub fn argmax(x: &[f32], out: &mut [i32], d: usize) -> Result<(), MathError> {
    let rows = rows_of(x.len(), d)?;
    expect_len(out.len(), rows)?;
    if d > i32::MAX as usize {
        return Err(MathError::Shape);
    }
    scalar::argmax(x, out, d);
    Ok(())
}

/// Permutes the dimensions of `x` (shape `dims`, rank <= 4): output dimension `i` is
/// input dimension `perm[i]`, as numpy's `transpose(x, perm)`.
pub fn transpose<T: Copy>(
    x: &[T],
    dims: &[usize],
    perm: &[usize],
    out: &mut [T],
) -> Result<(), MathError> {
    let rank = dims.len();
    if rank > wayos_abi::ai::MAX_RANK {
        return Err(MathError::Unsupported);
    }
    if perm.len() != rank {
        return Err(MathError::Shape);
    }
    let mut seen = [false; wayos_abi::ai::MAX_RANK];
    for &p in perm {
        if p >= rank || seen[p] {
            return Err(MathError::Shape);
        }
        seen[p] = true;
    }
    let mut total = 1usize;
    for &d in dims {
        total = mul2(total, d)?;
    }
    expect_len(x.len(), total)?;
    expect_len(out.len(), total)?;
    scalar::transpose(x, dims, perm, out);
    Ok(())
}

/// Rows of `table` (`v x d`) picked by `idx`: `out` is `idx.len() x d`. An index outside
/// `0..v` is [`MathError::Index`] naming the first such index, and nothing is written.
pub fn embedding(
    table: &[f32],
    v: usize,
    d: usize,
    idx: &[i32],
    out: &mut [f32],
) -> Result<(), MathError> {
    expect_len(table.len(), mul2(v, d)?)?;
    expect_len(out.len(), mul2(idx.len(), d)?)?;
    if let Some(&bad) = idx.iter().find(|&&i| i < 0 || i as usize >= v) {
        return Err(MathError::Index { index: bad });
    }
    scalar::embedding(table, d, idx, out);
    Ok(())
}

/// The shape of a 3x3 convolution, checked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub stride: usize,
    pub pad: usize,
    pub ho: usize,
    pub wo: usize,
}

/// The output size of a 3-tap window over `len` with `pad` zeros on each side, or
/// `Shape` when not even one window fits.
fn conv_out(len: usize, pad: usize, stride: usize) -> Result<usize, MathError> {
    let padded = len.checked_add(2 * pad).ok_or(MathError::Shape)?;
    if padded < 3 {
        return Err(MathError::Shape);
    }
    Ok((padded - 3) / stride + 1)
}

/// 3x3 convolution, NCHW: `x` is `[n, c, h, w]`, `wts` `[o, c, 3, 3]`, `bias` `[o]` if
/// given, `out` `[n, o, ho, wo]` with `ho = (h + 2 pad - 3) / stride + 1` (and `wo`
/// alike). `stride` is 1 or 2, `pad` 0 or 1 (`wayos_abi::ai::op::CONV2D`).
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    ctx: &Ctx,
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
    out: &mut [f32],
) -> Result<(), MathError> {
    if !(stride == 1 || stride == 2) || pad > 1 {
        return Err(MathError::Shape);
    }
    let ho = conv_out(h, pad, stride)?;
    let wo = conv_out(w, pad, stride)?;
    expect_len(x.len(), mul2(mul2(n, c)?, mul2(h, w)?)?)?;
    expect_len(wts.len(), mul3(o, c, 9)?)?;
    if let Some(bias) = bias {
        expect_len(bias.len(), o)?;
    }
    expect_len(out.len(), mul2(mul2(n, o)?, mul2(ho, wo)?)?)?;
    let shape = ConvShape {
        n,
        c,
        h,
        w,
        o,
        stride,
        pad,
        ho,
        wo,
    };
    match kernels(ctx.isa)? {
        Kernels::Scalar => {
            scalar::conv2d(x, wts, bias, out, &shape);
            Ok(())
        }
        #[cfg(target_arch = "x86_64")]
        Kernels::Avx2(t) => gemm::conv2d(&t.gemm(ctx.mode), x, wts, bias, out, &shape),
        #[cfg(target_arch = "aarch64")]
        Kernels::Neon(t) => gemm::conv2d(&t.gemm(ctx.mode), x, wts, bias, out, &shape),
    }
}

/// Quantized matrix product: `out[i][j] = sum_p (a[i][p] - za) * (b[p][j] - zb)` with
/// `a` `m x k`, `b` `k x n`, `out` `m x n`. The arithmetic wraps modulo 2^32 (only
/// possible with zero points far outside the i8 range), which keeps it independent of
/// the summation order.
#[allow(clippy::too_many_arguments)]
pub fn matmul_i8(
    ctx: &Ctx,
    a: &[i8],
    za: i32,
    b: &[i8],
    zb: i32,
    out: &mut [i32],
    m: usize,
    k: usize,
    n: usize,
) -> Result<(), MathError> {
    expect_len(a.len(), mul2(m, k)?)?;
    expect_len(b.len(), mul2(k, n)?)?;
    expect_len(out.len(), mul2(m, n)?)?;
    kernels(ctx.isa)?;
    scalar::matmul_i8(a, za, b, zb, out, m, k, n);
    Ok(())
}

/// Checks a quantization attribute pair: `scale` finite and > 0 (`Shape` otherwise).
fn check_scale(scale: f32) -> Result<(), MathError> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(MathError::Shape)
    }
}

/// `wayos_abi::ai::op::QUANTIZE`: `out[i] = clamp(round_half_even(x[i] / scale) +
/// zero_point, -128, 127)`, `x[i] / scale` one IEEE division, a NaN giving `zero_point`.
/// `scale` must be finite and positive and `zero_point` in -128..=127 (`Shape`
/// otherwise). Single IEEE operations and integer steps only, so the bits are the same on
/// every ISA and in both modes (the scalar code runs for every `Ctx`).
pub fn quantize(
    ctx: &Ctx,
    x: &[f32],
    scale: f32,
    zero_point: i32,
    out: &mut [i8],
) -> Result<(), MathError> {
    check_scale(scale)?;
    if !(-128..=127).contains(&zero_point) {
        return Err(MathError::Shape);
    }
    expect_len(out.len(), x.len())?;
    kernels(ctx.isa)?;
    scalar::quantize(x, scale, zero_point, out);
    Ok(())
}

/// `wayos_abi::ai::op::DEQUANTIZE` of an i8 tensor: `out[i] = scale * (q[i] -
/// zero_point)`, the difference exact in i64, rounded once to f32, then one IEEE
/// multiplication. `scale` must be finite and positive; any `zero_point` is allowed.
pub fn dequantize_i8(
    ctx: &Ctx,
    q: &[i8],
    scale: f32,
    zero_point: i32,
    out: &mut [f32],
) -> Result<(), MathError> {
    dequantize(ctx, q, scale, zero_point, out)
}

/// [`dequantize_i8`] of an i32 tensor (what [`matmul_i8`] accumulates).
pub fn dequantize_i32(
    ctx: &Ctx,
    q: &[i32],
    scale: f32,
    zero_point: i32,
    out: &mut [f32],
) -> Result<(), MathError> {
    dequantize(ctx, q, scale, zero_point, out)
}

/// The body of [`dequantize_i8`] and [`dequantize_i32`]: every element widened to i32
/// (exactly) and dequantized alike.
fn dequantize<Q: Copy + Into<i32>>(
    ctx: &Ctx,
    q: &[Q],
    scale: f32,
    zero_point: i32,
    out: &mut [f32],
) -> Result<(), MathError> {
    check_scale(scale)?;
    expect_len(out.len(), q.len())?;
    kernels(ctx.isa)?;
    for (o, &v) in out.iter_mut().zip(q) {
        *o = scalar::dequantize_one(v.into(), scale, zero_point);
    }
    Ok(())
}
