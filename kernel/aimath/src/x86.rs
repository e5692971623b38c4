//! AVX2+FMA kernels (x86_64): the matmul micro-kernel (in `asm!`) and the vectorized
//! elementwise and row ops (intrinsics, used on hosted targets only: see [`SOFT_FLOAT`]).
//! Every function that uses vector instructions carries
//! `#[target_feature(enable = "avx2,fma")]`, so the crate builds for the soft-float
//! x86_64-unknown-none target and only these functions touch YMM registers; the caller
//! must have saved the FPU/AVX state of whatever it interrupted.
//!
//! Soundness rests on [`Avx2`]: a token that only [`Avx2::new`] makes, after CPUID and
//! XCR0 showed that the CPU and the OS support AVX2 and FMA. Every safe entry point takes
//! it. Each row op repeats the scalar code's operations lane by lane (same constants,
//! same order, mul and add separate), which is what makes the bit-exact mode hold here.
//!
//! Must never: use FMA outside the `FMA = true` matmul kernel, read or write past a
//! slice (the loops run over `as_chunks::<8>()` of the slices, the micro-kernel checks
//! its extent first), or run on a CPU without the token.

use core::arch::x86_64::*;
use core::sync::atomic::{AtomicU8, Ordering};

use crate::gemm::{MicroKernel, MR, NR};
use crate::{fmath, scalar, Binary, Mode, Unary};

/// Proof that this CPU runs AVX2 and FMA code with the OS saving YMM state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

/// True on the bare-metal target (kernel and user programs): it is soft-float, so LLVM
/// turns each vector float intrinsic into one library call per lane and the intrinsic
/// row ops below run slower than the scalar ones. There the row ops take the scalar
/// path (same operations in the same order, so the same bits) and only the matmul
/// micro-kernel, written in `asm!`, uses the vector unit. On a hosted target the
/// intrinsics compile to vector code and the host tests compare them with scalar.
const SOFT_FLOAT: bool = cfg!(target_os = "none");

/// 0 unknown, 1 absent, 2 present.
static DETECTED: AtomicU8 = AtomicU8::new(0);

#[target_feature(enable = "xsave")]
fn xcr0() -> u64 {
    // SAFETY: only called when CPUID says OSXSAVE, i.e. the OS set CR4.OSXSAVE, which
    // makes xgetbv(0) legal.
    unsafe { _xgetbv(0) }
}

fn detect() -> bool {
    let max = __cpuid(0).eax;
    if max < 7 {
        return false;
    }
    let l1 = __cpuid(1);
    let fma = l1.ecx & (1 << 12) != 0;
    let osxsave = l1.ecx & (1 << 27) != 0;
    let avx = l1.ecx & (1 << 28) != 0;
    let avx2 = __cpuid_count(7, 0).ebx & (1 << 5) != 0;
    if !(fma && osxsave && avx && avx2) {
        return false;
    }
    // SAFETY: OSXSAVE is set (checked above), so the xsave feature's xgetbv is usable.
    let xcr0 = unsafe { xcr0() };
    // XCR0 bit 1: SSE state, bit 2: AVX (upper YMM) state.
    xcr0 & 0b110 == 0b110 && self_test()
}

/// Runs a small matmul and tanh through the AVX2 kernels and compares the bits with the
/// scalar ones. On the soft-float x86_64-unknown-none target, code built without
/// optimization (or with debug assertions) passes vectors to non-inlined helpers
/// compiled without AVX and computes garbage, so the workspace builds this crate
/// optimized and without debug assertions even in dev profiles (Cargo.toml); this check
/// turns a build that lost that setting into "no AVX2" instead of wrong answers.
fn self_test() -> bool {
    use crate::gemm;
    let a: [f32; 4 * 9] = core::array::from_fn(|i| (i as f32 - 17.0) * 0.37);
    let b: [f32; 9 * 19] = core::array::from_fn(|i| (i as f32 - 80.0) * 0.011);
    let shape = crate::MatmulShape {
        batch: 1,
        m: 4,
        k: 9,
        n: 19,
        trans_a: false,
        trans_b: false,
    };
    let (mut want, mut got) = ([0.0f32; 4 * 19], [0.0f32; 4 * 19]);
    scalar::matmul(&a, &b, &mut want, &shape);
    if gemm::matmul(&Gemm { fma: false }, &a, &b, &mut got, &shape).is_err() {
        return false;
    }
    let same = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
    if SOFT_FLOAT {
        // The row ops below are not used on this target (see `SOFT_FLOAT`).
        return same(&want, &got);
    }
    let (mut tw, mut tg) = ([0.0f32; 36], [0.0f32; 36]);
    scalar::unary(Unary::Tanh, &a, &mut tw);
    // SAFETY: CPUID and XCR0 showed AVX2 and FMA above.
    unsafe { unary(Unary::Tanh, &a, &mut tg) };
    same(&want, &got) && same(&tw, &tg)
}

impl Avx2 {
    pub(crate) fn new() -> Option<Avx2> {
        let state = match DETECTED.load(Ordering::Relaxed) {
            0 => {
                let s = if detect() { 2 } else { 1 };
                DETECTED.store(s, Ordering::Relaxed);
                s
            }
            s => s,
        };
        (state == 2).then_some(Avx2(()))
    }

    pub(crate) fn gemm(self, mode: Mode) -> Gemm {
        Gemm {
            fma: mode == Mode::Fast,
        }
    }

    pub(crate) fn binary(self, op: Binary, a: &[f32], b: &[f32], out: &mut [f32]) {
        if SOFT_FLOAT {
            return scalar::binary(op, a, b, out);
        }
        // SAFETY: the token proves AVX2 and FMA.
        unsafe { binary(op, a, b, out) }
    }

    pub(crate) fn unary(self, op: Unary, x: &[f32], out: &mut [f32]) {
        if SOFT_FLOAT {
            return scalar::unary(op, x, out);
        }
        // SAFETY: the token proves AVX2 and FMA.
        unsafe { unary(op, x, out) }
    }

    pub(crate) fn softmax(self, x: &[f32], out: &mut [f32], d: usize) {
        if SOFT_FLOAT {
            return scalar::softmax(x, out, d);
        }
        // SAFETY: the token proves AVX2 and FMA.
        unsafe { softmax(x, out, d) }
    }

    pub(crate) fn layernorm(
        self,
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        eps: f32,
        out: &mut [f32],
        d: usize,
    ) {
        if SOFT_FLOAT {
            return scalar::layernorm(x, gamma, beta, eps, out, d);
        }
        // SAFETY: the token proves AVX2 and FMA.
        unsafe { layernorm(x, gamma, beta, eps, out, d) }
    }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn load(c: &[f32; 8]) -> __m256 {
    // SAFETY: `c` is eight readable f32s; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_ps(c.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn store(c: &mut [f32; 8], v: __m256) {
    // SAFETY: `c` is eight writable f32s; `storeu` has no alignment requirement.
    unsafe { _mm256_storeu_ps(c.as_mut_ptr(), v) }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn lanes(v: __m256) -> [f32; 8] {
    let mut l = [0.0; 8];
    store(&mut l, v);
    l
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn splat(x: f32) -> __m256 {
    _mm256_set1_ps(x)
}

/// `if a < b { x } else { y }` per lane, in the sense of [`fmath::lt`] (the sign of
/// `a - b` drives the blend). `cmpps`, `minps` and `maxps` crash LLVM on the soft-float
/// target; `blendv` does not.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn sel_lt(a: __m256, b: __m256, x: __m256, y: __m256) -> __m256 {
    _mm256_blendv_ps(y, x, _mm256_sub_ps(a, b))
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn min8(a: __m256, b: __m256) -> __m256 {
    sel_lt(a, b, a, b)
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn max8(a: __m256, b: __m256) -> __m256 {
    sel_lt(b, a, a, b)
}

/// [`fmath::exp`], eight lanes, the same operations.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn exp8(x: __m256) -> __m256 {
    let xc = max8(min8(x, splat(fmath::EXP_HI)), splat(fmath::EXP_CLAMP_LO));
    let t = _mm256_mul_ps(xc, splat(fmath::LOG2E));
    let tm = _mm256_add_ps(t, splat(fmath::ROUND_MAGIC));
    let nf = _mm256_sub_ps(tm, splat(fmath::ROUND_MAGIC));
    let r = _mm256_sub_ps(
        _mm256_sub_ps(xc, _mm256_mul_ps(nf, splat(fmath::LN2_HI))),
        _mm256_mul_ps(nf, splat(fmath::LN2_LO)),
    );
    let mut p = splat(fmath::EXP_C[0]);
    for c in &fmath::EXP_C[1..] {
        p = _mm256_add_ps(_mm256_mul_ps(p, r), splat(*c));
    }
    p = _mm256_add_ps(_mm256_mul_ps(p, r), splat(1.0));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), splat(1.0));
    // n = nf as an integer: the low bits of `tm` (the magic constant has ulp 1). Not
    // `cvttps2dq`, whose lowering crashes LLVM on the soft-float target.
    let n = _mm256_sub_epi32(
        _mm256_castps_si256(tm),
        _mm256_set1_epi32(fmath::ROUND_MAGIC.to_bits() as i32),
    );
    let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
        n,
        _mm256_set1_epi32(127),
    )));
    let y = _mm256_mul_ps(p, scale);
    sel_lt(x, splat(fmath::EXP_ZERO_BELOW), _mm256_setzero_ps(), y)
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn sign_mask() -> __m256 {
    _mm256_castsi256_ps(_mm256_set1_epi32(fmath::SIGN as i32))
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn sigmoid8(x: __m256) -> __m256 {
    let neg_abs = _mm256_or_ps(x, sign_mask());
    let e = exp8(neg_abs);
    let d = _mm256_add_ps(splat(1.0), e);
    let pos = _mm256_div_ps(splat(1.0), d);
    let neg = _mm256_div_ps(e, d);
    _mm256_blendv_ps(pos, neg, x)
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn tanh8(x: __m256) -> __m256 {
    let a = _mm256_andnot_ps(sign_mask(), x);
    let e = exp8(_mm256_xor_ps(_mm256_add_ps(a, a), sign_mask()));
    let big = _mm256_div_ps(_mm256_sub_ps(splat(1.0), e), _mm256_add_ps(splat(1.0), e));
    let big = _mm256_or_ps(big, _mm256_and_ps(x, sign_mask()));
    let x2 = _mm256_mul_ps(x, x);
    let mut p = splat(fmath::TANH_C[0]);
    p = _mm256_add_ps(_mm256_mul_ps(p, x2), splat(fmath::TANH_C[1]));
    p = _mm256_add_ps(_mm256_mul_ps(p, x2), splat(fmath::TANH_C[2]));
    let small = _mm256_add_ps(x, _mm256_mul_ps(_mm256_mul_ps(x, x2), p));
    sel_lt(a, splat(fmath::TANH_SMALL), small, big)
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn gelu8(x: __m256) -> __m256 {
    let x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    let z = _mm256_mul_ps(
        splat(fmath::GELU_2C),
        _mm256_add_ps(x, _mm256_mul_ps(splat(fmath::GELU_K), x3)),
    );
    _mm256_mul_ps(x, sigmoid8(z))
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn relu8(x: __m256) -> __m256 {
    max8(x, _mm256_setzero_ps())
}

#[target_feature(enable = "avx2,fma")]
fn unary(op: Unary, x: &[f32], out: &mut [f32]) {
    let (xc, xt) = x.as_chunks::<8>();
    let (oc, ot) = out.as_chunks_mut::<8>();
    for (o, v) in oc.iter_mut().zip(xc) {
        let v = load(v);
        let y = match op {
            Unary::Relu => relu8(v),
            Unary::Gelu => gelu8(v),
            Unary::Sigmoid => sigmoid8(v),
            Unary::Tanh => tanh8(v),
        };
        store(o, y);
    }
    scalar::unary(op, xt, ot);
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn binary8(op: Binary, a: __m256, b: __m256) -> __m256 {
    match op {
        Binary::Add => _mm256_add_ps(a, b),
        Binary::Mul => _mm256_mul_ps(a, b),
    }
}

#[target_feature(enable = "avx2,fma")]
fn binary(op: Binary, a: &[f32], b: &[f32], out: &mut [f32]) {
    if b.len() == 1 {
        let bv = splat(b[0]);
        let (ac, at) = a.as_chunks::<8>();
        let (oc, ot) = out.as_chunks_mut::<8>();
        for (o, v) in oc.iter_mut().zip(ac) {
            store(o, binary8(op, load(v), bv));
        }
        for (o, v) in ot.iter_mut().zip(at) {
            *o = scalar::binary_one(op, *v, b[0]);
        }
        return;
    }
    for (ar, or) in a.chunks(b.len()).zip(out.chunks_mut(b.len())) {
        let (ac, at) = ar.as_chunks::<8>();
        let (bc, bt) = b.as_chunks::<8>();
        let (oc, ot) = or.as_chunks_mut::<8>();
        for ((o, v), w) in oc.iter_mut().zip(ac).zip(bc) {
            store(o, binary8(op, load(v), load(w)));
        }
        for ((o, v), w) in ot.iter_mut().zip(at).zip(bt) {
            *o = scalar::binary_one(op, *v, *w);
        }
    }
}

/// The eight lane maxima of a non-empty row (element `i` into lane `i % 8`).
#[target_feature(enable = "avx2,fma")]
fn row_max(x: &[f32]) -> f32 {
    let (xc, xt) = x.as_chunks::<8>();
    let mut acc = splat(x[0]);
    for v in xc {
        acc = max8(load(v), acc);
    }
    let mut l = lanes(acc);
    for (i, v) in xt.iter().enumerate() {
        l[i] = fmath::max_sel(*v, l[i]);
    }
    scalar::combine_max(&l)
}

/// The lane sum of a row (element `i` into lane `i % 8`), or with `mean`, the lane sum
/// of `(x - mean)^2`. (No closures: a closure would not inherit the target features.)
#[inline]
#[target_feature(enable = "avx2,fma")]
fn row_sum(x: &[f32], mean: Option<f32>) -> f32 {
    let (xc, xt) = x.as_chunks::<8>();
    let mut acc = _mm256_setzero_ps();
    match mean {
        None => {
            for v in xc {
                acc = _mm256_add_ps(acc, load(v));
            }
        }
        Some(m) => {
            let mv = splat(m);
            for v in xc {
                let c = _mm256_sub_ps(load(v), mv);
                acc = _mm256_add_ps(acc, _mm256_mul_ps(c, c));
            }
        }
    }
    let mut l = lanes(acc);
    for (i, v) in xt.iter().enumerate() {
        let t = match mean {
            None => *v,
            Some(m) => {
                let c = *v - m;
                c * c
            }
        };
        l[i] += t;
    }
    scalar::combine_sum(&l)
}

#[target_feature(enable = "avx2,fma")]
fn softmax(x: &[f32], out: &mut [f32], d: usize) {
    for (xr, or) in x.chunks(d).zip(out.chunks_mut(d)) {
        let m = row_max(xr);
        let mv = splat(m);
        {
            let (xc, xt) = xr.as_chunks::<8>();
            let (oc, ot) = or.as_chunks_mut::<8>();
            for (o, v) in oc.iter_mut().zip(xc) {
                store(o, exp8(_mm256_sub_ps(load(v), mv)));
            }
            for (o, v) in ot.iter_mut().zip(xt) {
                *o = fmath::exp(*v - m);
            }
        }
        let s = row_sum(or, None);
        let sv = splat(s);
        let (oc, ot) = or.as_chunks_mut::<8>();
        for o in oc.iter_mut() {
            let v = _mm256_div_ps(load(o), sv);
            store(o, v);
        }
        for o in ot.iter_mut() {
            *o /= s;
        }
    }
}

#[target_feature(enable = "avx2,fma")]
fn layernorm(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, out: &mut [f32], d: usize) {
    for (xr, or) in x.chunks(d).zip(out.chunks_mut(d)) {
        let mean = row_sum(xr, None) / d as f32;
        let mv = splat(mean);
        let sq = row_sum(xr, Some(mean));
        let rstd = scalar::finish_stats(sq, d, eps);
        let rv = splat(rstd);
        let (xc, xt) = xr.as_chunks::<8>();
        let (gc, gt) = gamma.as_chunks::<8>();
        let (bc, bt) = beta.as_chunks::<8>();
        let (oc, ot) = or.as_chunks_mut::<8>();
        for (((o, v), g), b) in oc.iter_mut().zip(xc).zip(gc).zip(bc) {
            let y = _mm256_mul_ps(_mm256_sub_ps(load(v), mv), rv);
            store(o, _mm256_add_ps(_mm256_mul_ps(y, load(g)), load(b)));
        }
        for (((o, v), g), b) in ot.iter_mut().zip(xt).zip(gt).zip(bt) {
            *o = ((*v - mean) * rstd) * *g + *b;
        }
    }
}

/// The AVX2 matmul micro-kernel, with or without FMA.
pub(crate) struct Gemm {
    fma: bool,
}

impl MicroKernel for Gemm {
    fn tile(
        &self,
        kc: usize,
        a: &[f32],
        arow: &[usize; MR],
        cs: usize,
        bp: &[f32],
        c: &mut [f32],
        ldc: usize,
        load_c: bool,
    ) -> bool {
        if kc == 0 || bp.len() < kc * NR || ldc < NR {
            return false;
        }
        let Some(c_end) = (MR - 1).checked_mul(ldc).and_then(|v| v.checked_add(NR)) else {
            return false;
        };
        if c_end > c.len() {
            return false;
        }
        for &r in arow {
            match (kc - 1).checked_mul(cs).and_then(|v| v.checked_add(r)) {
                Some(last) if last < a.len() => {}
                _ => return false,
            }
        }
        // SAFETY: the checks above put every index the kernel touches in bounds: A's
        // `arow[r] + p*cs` for p < kc, the packed panel's `kc*NR` values, and C's
        // `r*ldc + j` for r < MR, j < NR. The token behind this `Gemm` proved AVX2+FMA.
        unsafe {
            if self.fma {
                tile::<true>(
                    kc,
                    a.as_ptr(),
                    arow,
                    cs,
                    bp.as_ptr(),
                    c.as_mut_ptr(),
                    ldc,
                    load_c,
                )
            } else {
                tile::<false>(
                    kc,
                    a.as_ptr(),
                    arow,
                    cs,
                    bp.as_ptr(),
                    c.as_mut_ptr(),
                    ldc,
                    load_c,
                )
            }
        }
        true
    }
}

/// One step of `p` for row `r` of the tile: broadcast `A[r, p]` and accumulate it times
/// the two B vectors into the row's two accumulators (`ymm{2r}`, `ymm{2r+1}`), fused.
macro_rules! step_fma {
    ($row:literal, $lo:literal, $hi:literal) => {
        concat!(
            "vbroadcastss ymm14, dword ptr [{",
            $row,
            "} + {x}]\n",
            "vfmadd231ps ymm",
            $lo,
            ", ymm14, ymm12\n",
            "vfmadd231ps ymm",
            $hi,
            ", ymm14, ymm13\n",
        )
    };
}

/// As [`step_fma`], with the product rounded before the add (bit-exact mode).
macro_rules! step_mul_add {
    ($row:literal, $lo:literal, $hi:literal) => {
        concat!(
            "vbroadcastss ymm14, dword ptr [{",
            $row,
            "} + {x}]\n",
            "vmulps ymm15, ymm14, ymm12\n",
            "vaddps ymm",
            $lo,
            ", ymm",
            $lo,
            ", ymm15\n",
            "vmulps ymm15, ymm14, ymm13\n",
            "vaddps ymm",
            $hi,
            ", ymm",
            $hi,
            ", ymm15\n",
        )
    };
}

/// The whole 6x16 tile as one `asm!` block, with `$step` the per-row step macro.
///
/// Why assembly and not intrinsics: x86_64-unknown-none is a soft-float target, and LLVM
/// lowers every vector float operation there (`_mm256_fmadd_ps` included) to one
/// compiler-builtins call per lane, so intrinsics run slower than scalar code. Inside
/// `asm!` the instructions are the ones written. Every value lives in registers or in
/// the caller's slices, so no vector value ever crosses the compiler's soft-float ABI.
///
/// The block saves all sixteen YMM registers below the stack pointer on entry and
/// restores them on exit instead of declaring them clobbered: on a soft-float target LLVM
/// cannot allocate vector registers at all, not even as clobbers ("couldn't allocate
/// output register for constraint '{xmm0}'"), so it assumes they survive. (It never
/// keeps float values there, but it may keep integer vectors from a memcpy.) The 32
/// extra moves are ~1% of a tile at `kc` = 256.
///
/// Registers: `ymm0..=ymm11` the accumulators (row r: `ymm{2r}`, `ymm{2r+1}`), `ymm12`
/// and `ymm13` the two B vectors of a step, `ymm14` the broadcast A value, `ymm15` a
/// product. `{x}` is first the load-C flag, then a C row pointer, then the byte offset
/// of column p in A.
macro_rules! tile_asm {
    ($step:ident, $kc:expr, $rows:expr, $cs:expr, $bp:expr, $c:expr, $ldc:expr, $load:expr) => {
        core::arch::asm!(
            "sub rsp, 512",
            "vmovdqu ymmword ptr [rsp + 0], ymm0",
            "vmovdqu ymmword ptr [rsp + 32], ymm1",
            "vmovdqu ymmword ptr [rsp + 64], ymm2",
            "vmovdqu ymmword ptr [rsp + 96], ymm3",
            "vmovdqu ymmword ptr [rsp + 128], ymm4",
            "vmovdqu ymmword ptr [rsp + 160], ymm5",
            "vmovdqu ymmword ptr [rsp + 192], ymm6",
            "vmovdqu ymmword ptr [rsp + 224], ymm7",
            "vmovdqu ymmword ptr [rsp + 256], ymm8",
            "vmovdqu ymmword ptr [rsp + 288], ymm9",
            "vmovdqu ymmword ptr [rsp + 320], ymm10",
            "vmovdqu ymmword ptr [rsp + 352], ymm11",
            "vmovdqu ymmword ptr [rsp + 384], ymm12",
            "vmovdqu ymmword ptr [rsp + 416], ymm13",
            "vmovdqu ymmword ptr [rsp + 448], ymm14",
            "vmovdqu ymmword ptr [rsp + 480], ymm15",
            "test {x}, {x}",
            "jz 2f",
            "mov {x}, {c}",
            "vmovups ymm0, ymmword ptr [{x}]",
            "vmovups ymm1, ymmword ptr [{x} + 32]",
            "add {x}, {ldc}",
            "vmovups ymm2, ymmword ptr [{x}]",
            "vmovups ymm3, ymmword ptr [{x} + 32]",
            "add {x}, {ldc}",
            "vmovups ymm4, ymmword ptr [{x}]",
            "vmovups ymm5, ymmword ptr [{x} + 32]",
            "add {x}, {ldc}",
            "vmovups ymm6, ymmword ptr [{x}]",
            "vmovups ymm7, ymmword ptr [{x} + 32]",
            "add {x}, {ldc}",
            "vmovups ymm8, ymmword ptr [{x}]",
            "vmovups ymm9, ymmword ptr [{x} + 32]",
            "add {x}, {ldc}",
            "vmovups ymm10, ymmword ptr [{x}]",
            "vmovups ymm11, ymmword ptr [{x} + 32]",
            "jmp 3f",
            "2:",
            "vxorps ymm0, ymm0, ymm0",
            "vxorps ymm1, ymm1, ymm1",
            "vxorps ymm2, ymm2, ymm2",
            "vxorps ymm3, ymm3, ymm3",
            "vxorps ymm4, ymm4, ymm4",
            "vxorps ymm5, ymm5, ymm5",
            "vxorps ymm6, ymm6, ymm6",
            "vxorps ymm7, ymm7, ymm7",
            "vxorps ymm8, ymm8, ymm8",
            "vxorps ymm9, ymm9, ymm9",
            "vxorps ymm10, ymm10, ymm10",
            "vxorps ymm11, ymm11, ymm11",
            "3:",
            "xor {x}, {x}",
            "4:",
            "vmovups ymm12, ymmword ptr [{b}]",
            "vmovups ymm13, ymmword ptr [{b} + 32]",
            $step!("r0", "0", "1"),
            $step!("r1", "2", "3"),
            $step!("r2", "4", "5"),
            $step!("r3", "6", "7"),
            $step!("r4", "8", "9"),
            $step!("r5", "10", "11"),
            "add {b}, 64",
            "add {x}, {cs}",
            "dec {k}",
            "jnz 4b",
            "mov {x}, {c}",
            "vmovups ymmword ptr [{x}], ymm0",
            "vmovups ymmword ptr [{x} + 32], ymm1",
            "add {x}, {ldc}",
            "vmovups ymmword ptr [{x}], ymm2",
            "vmovups ymmword ptr [{x} + 32], ymm3",
            "add {x}, {ldc}",
            "vmovups ymmword ptr [{x}], ymm4",
            "vmovups ymmword ptr [{x} + 32], ymm5",
            "add {x}, {ldc}",
            "vmovups ymmword ptr [{x}], ymm6",
            "vmovups ymmword ptr [{x} + 32], ymm7",
            "add {x}, {ldc}",
            "vmovups ymmword ptr [{x}], ymm8",
            "vmovups ymmword ptr [{x} + 32], ymm9",
            "add {x}, {ldc}",
            "vmovups ymmword ptr [{x}], ymm10",
            "vmovups ymmword ptr [{x} + 32], ymm11",
            "vmovdqu ymm0, ymmword ptr [rsp + 0]",
            "vmovdqu ymm1, ymmword ptr [rsp + 32]",
            "vmovdqu ymm2, ymmword ptr [rsp + 64]",
            "vmovdqu ymm3, ymmword ptr [rsp + 96]",
            "vmovdqu ymm4, ymmword ptr [rsp + 128]",
            "vmovdqu ymm5, ymmword ptr [rsp + 160]",
            "vmovdqu ymm6, ymmword ptr [rsp + 192]",
            "vmovdqu ymm7, ymmword ptr [rsp + 224]",
            "vmovdqu ymm8, ymmword ptr [rsp + 256]",
            "vmovdqu ymm9, ymmword ptr [rsp + 288]",
            "vmovdqu ymm10, ymmword ptr [rsp + 320]",
            "vmovdqu ymm11, ymmword ptr [rsp + 352]",
            "vmovdqu ymm12, ymmword ptr [rsp + 384]",
            "vmovdqu ymm13, ymmword ptr [rsp + 416]",
            "vmovdqu ymm14, ymmword ptr [rsp + 448]",
            "vmovdqu ymm15, ymmword ptr [rsp + 480]",
            "add rsp, 512",
            x = inout(reg) usize::from($load) => _,
            c = in(reg) $c,
            ldc = in(reg) $ldc,
            b = inout(reg) $bp => _,
            cs = in(reg) $cs,
            k = inout(reg) $kc => _,
            r0 = in(reg) $rows[0],
            r1 = in(reg) $rows[1],
            r2 = in(reg) $rows[2],
            r3 = in(reg) $rows[3],
            r4 = in(reg) $rows[4],
            r5 = in(reg) $rows[5],
        )
    };
}

/// `c (+)= A-rows x packed B` for one 6x16 tile: 12 accumulators, two B loads and six
/// broadcasts per step of `p`, in increasing `p` (fused multiply-add with `FMA`, else a
/// rounded product then an add, which is the scalar kernels' order and rounding).
///
/// # Safety
///
/// The CPU supports AVX2 and FMA; `kc >= 1`; `a + arow[r] + p*cs` is readable for every
/// `r < MR`, `p < kc`; `bp` has `kc * NR` readable values; `c + r*ldc + j` is writable for
/// every `r < MR`, `j < NR`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile<const FMA: bool>(
    kc: usize,
    a: *const f32,
    arow: &[usize; MR],
    cs: usize,
    bp: *const f32,
    c: *mut f32,
    ldc: usize,
    load_c: bool,
) {
    const _: () = assert!(
        MR == 6 && NR == 16,
        "the assembly is written for 6x16 tiles"
    );
    // SAFETY: each row's start is inside A by the contract.
    let rows: [*const f32; MR] = core::array::from_fn(|r| unsafe { a.add(arow[r]) });
    // Byte strides; cannot overflow: `(kc-1)*cs` and `(MR-1)*ldc + NR` index the slices
    // the caller checked, whose byte lengths fit in an isize.
    let (cs_bytes, ldc_bytes) = (cs * 4, ldc * 4);
    // SAFETY: the contract puts every address the block reads (A at `rows[r] + p*cs`, B's
    // `kc*NR` values) or writes (C's six rows of 16) in bounds; besides those it touches
    // only 512 bytes below the stack pointer, which it gives back (this is a leaf, and
    // every stack it runs on has far more than that left); it restores every YMM
    // register it used, declares its GPR operands clobbered, and runs only on a CPU
    // with AVX2 and FMA (the caller's token).
    unsafe {
        if FMA {
            tile_asm!(step_fma, kc, rows, cs_bytes, bp, c, ldc_bytes, load_c);
        } else {
            tile_asm!(step_mul_add, kc, rows, cs_bytes, bp, c, ldc_bytes, load_c);
        }
    }
}
