//! NEON kernels (aarch64): the matmul micro-kernel and the vectorized elementwise and
//! row ops, the same operations as the scalar code lane by lane, as in `x86`. NEON is
//! part of the aarch64-unknown-none target, so it is always available; the caller must
//! still treat the FP/SIMD registers as clobbered (save them around a call made in a
//! context that does not own them). Vector loads and stores go through [`ld1`] and
//! [`st1`] (one instruction of `asm!` each), because on the strict-alignment
//! aarch64-unknown-none target LLVM splits the intrinsics into byte accesses.
//!
//! Must never: use a fused multiply-add outside the `FMA = true` matmul kernel, use
//! `vmaxq`/`vminq` or float compares (their NaN and signed-zero rules differ from the
//! scalar [`fmath::lt`] select; the sign of a difference decides instead), or read or
//! write past a slice (the loops run over `as_chunks`, the micro-kernel checks its
//! extent first).

use core::arch::aarch64::*;

use crate::gemm::{MicroKernel, MR, NR};
use crate::{fmath, scalar, Binary, Mode, Unary};

/// NEON is always there on aarch64; the token keeps the entry points alike.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Neon(());

impl Neon {
    /// `Some` on every aarch64 target with NEON (all the ones WayOS builds for).
    pub(crate) fn new() -> Option<Neon> {
        cfg!(target_feature = "neon").then_some(Neon(()))
    }

    pub(crate) fn gemm(self, mode: Mode) -> Gemm {
        Gemm {
            fma: mode == Mode::Fast,
        }
    }

    pub(crate) fn binary(self, op: Binary, a: &[f32], b: &[f32], out: &mut [f32]) {
        // SAFETY: the token exists only where NEON is enabled.
        unsafe { binary(op, a, b, out) }
    }

    pub(crate) fn unary(self, op: Unary, x: &[f32], out: &mut [f32]) {
        // SAFETY: the token exists only where NEON is enabled.
        unsafe { unary(op, x, out) }
    }

    pub(crate) fn softmax(self, x: &[f32], out: &mut [f32], d: usize) {
        // SAFETY: the token exists only where NEON is enabled.
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
        // SAFETY: the token exists only where NEON is enabled.
        unsafe { layernorm(x, gamma, beta, eps, out, d) }
    }
}

/// `ld1 {v.4s}, [p]`: four f32s from `p`. Why assembly: aarch64-unknown-none is a
/// strict-alignment target, so LLVM splits `vld1q_f32` (4-byte aligned) into sixteen byte
/// loads and shifts, which made the NEON matmul ~5x slower in the guest than on a host.
/// `ld1` needs only element alignment, and the kernel leaves SCTLR_EL1.A clear anyway.
///
/// # Safety
///
/// `p` points to four readable f32s.
#[inline(always)]
unsafe fn ld1(p: *const f32) -> float32x4_t {
    let v: float32x4_t;
    // SAFETY: the caller's contract: 16 readable bytes at `p`; the instruction touches
    // nothing else.
    unsafe {
        core::arch::asm!(
            "ld1 {{{v:v}.4s}}, [{p}]",
            v = lateout(vreg) v,
            p = in(reg) p,
            options(nostack, readonly, preserves_flags),
        )
    };
    v
}

/// `st1 {v.4s}, [p]`, for the same reason as [`ld1`].
///
/// # Safety
///
/// `p` points to four writable f32s.
#[inline(always)]
unsafe fn st1(p: *mut f32, v: float32x4_t) {
    // SAFETY: the caller's contract: 16 writable bytes at `p`; nothing else is touched.
    unsafe {
        core::arch::asm!(
            "st1 {{{v:v}.4s}}, [{p}]",
            v = in(vreg) v,
            p = in(reg) p,
            options(nostack, preserves_flags),
        )
    };
}

#[inline]
#[target_feature(enable = "neon")]
fn load(c: &[f32; 4]) -> float32x4_t {
    // SAFETY: `c` is four readable f32s; `ld1` has no alignment requirement.
    unsafe { ld1(c.as_ptr()) }
}

#[inline]
#[target_feature(enable = "neon")]
fn store(c: &mut [f32; 4], v: float32x4_t) {
    // SAFETY: `c` is four writable f32s; `st1` has no alignment requirement.
    unsafe { st1(c.as_mut_ptr(), v) }
}

/// Loads elements 0-3 and 4-7 of an eight-element chunk.
#[inline]
#[target_feature(enable = "neon")]
fn load8(c: &[f32; 8]) -> (float32x4_t, float32x4_t) {
    // SAFETY: `c` is eight readable f32s.
    unsafe { (ld1(c.as_ptr()), ld1(c.as_ptr().add(4))) }
}

#[inline]
#[target_feature(enable = "neon")]
fn lanes(lo: float32x4_t, hi: float32x4_t) -> [f32; 8] {
    let mut l = [0.0; 8];
    // SAFETY: `l` has eight writable f32s.
    unsafe {
        st1(l.as_mut_ptr(), lo);
        st1(l.as_mut_ptr().add(4), hi);
    }
    l
}

#[inline]
#[target_feature(enable = "neon")]
fn splat(x: f32) -> float32x4_t {
    vdupq_n_f32(x)
}

/// `if a < b { x } else { y }` per lane, by the sign of `a - b` ([`fmath::lt`]).
#[inline]
#[target_feature(enable = "neon")]
fn sel_lt(a: float32x4_t, b: float32x4_t, x: float32x4_t, y: float32x4_t) -> float32x4_t {
    sel_sign(vsubq_f32(a, b), x, y)
}

/// `x` where `s`'s sign bit is set, else `y`.
#[inline]
#[target_feature(enable = "neon")]
fn sel_sign(s: float32x4_t, x: float32x4_t, y: float32x4_t) -> float32x4_t {
    let mask = vreinterpretq_u32_s32(vshrq_n_s32::<31>(vreinterpretq_s32_f32(s)));
    vbslq_f32(mask, x, y)
}

#[inline]
#[target_feature(enable = "neon")]
fn min4(a: float32x4_t, b: float32x4_t) -> float32x4_t {
    sel_lt(a, b, a, b)
}

#[inline]
#[target_feature(enable = "neon")]
fn max4(a: float32x4_t, b: float32x4_t) -> float32x4_t {
    sel_lt(b, a, a, b)
}

#[inline]
#[target_feature(enable = "neon")]
fn sign() -> uint32x4_t {
    vdupq_n_u32(fmath::SIGN)
}

/// [`fmath::exp`], four lanes, the same operations.
#[inline]
#[target_feature(enable = "neon")]
fn exp4(x: float32x4_t) -> float32x4_t {
    let xc = max4(min4(x, splat(fmath::EXP_HI)), splat(fmath::EXP_CLAMP_LO));
    let t = vmulq_f32(xc, splat(fmath::LOG2E));
    let tm = vaddq_f32(t, splat(fmath::ROUND_MAGIC));
    let nf = vsubq_f32(tm, splat(fmath::ROUND_MAGIC));
    let r = vsubq_f32(
        vsubq_f32(xc, vmulq_f32(nf, splat(fmath::LN2_HI))),
        vmulq_f32(nf, splat(fmath::LN2_LO)),
    );
    let mut p = splat(fmath::EXP_C[0]);
    for c in &fmath::EXP_C[1..] {
        p = vaddq_f32(vmulq_f32(p, r), splat(*c));
    }
    p = vaddq_f32(vmulq_f32(p, r), splat(1.0));
    p = vaddq_f32(vmulq_f32(p, r), splat(1.0));
    // n = nf as an integer: the low bits of `tm` (the magic constant has ulp 1).
    let n = vsubq_s32(
        vreinterpretq_s32_f32(tm),
        vdupq_n_s32(fmath::ROUND_MAGIC.to_bits() as i32),
    );
    let scale = vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(n, vdupq_n_s32(127))));
    let y = vmulq_f32(p, scale);
    sel_lt(x, splat(fmath::EXP_ZERO_BELOW), splat(0.0), y)
}

#[inline]
#[target_feature(enable = "neon")]
fn sigmoid4(x: float32x4_t) -> float32x4_t {
    let neg_abs = vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(x), sign()));
    let e = exp4(neg_abs);
    let d = vaddq_f32(splat(1.0), e);
    let pos = vdivq_f32(splat(1.0), d);
    let neg = vdivq_f32(e, d);
    sel_sign(x, neg, pos)
}

#[inline]
#[target_feature(enable = "neon")]
fn tanh4(x: float32x4_t) -> float32x4_t {
    let xb = vreinterpretq_u32_f32(x);
    let a = vreinterpretq_f32_u32(vbicq_u32(xb, sign()));
    let e = exp4(vreinterpretq_f32_u32(veorq_u32(
        vreinterpretq_u32_f32(vaddq_f32(a, a)),
        sign(),
    )));
    let big = vdivq_f32(vsubq_f32(splat(1.0), e), vaddq_f32(splat(1.0), e));
    let big = vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(big), vandq_u32(xb, sign())));
    let x2 = vmulq_f32(x, x);
    let mut p = splat(fmath::TANH_C[0]);
    p = vaddq_f32(vmulq_f32(p, x2), splat(fmath::TANH_C[1]));
    p = vaddq_f32(vmulq_f32(p, x2), splat(fmath::TANH_C[2]));
    let small = vaddq_f32(x, vmulq_f32(vmulq_f32(x, x2), p));
    sel_lt(a, splat(fmath::TANH_SMALL), small, big)
}

#[inline]
#[target_feature(enable = "neon")]
fn gelu4(x: float32x4_t) -> float32x4_t {
    let x3 = vmulq_f32(vmulq_f32(x, x), x);
    let z = vmulq_f32(
        splat(fmath::GELU_2C),
        vaddq_f32(x, vmulq_f32(splat(fmath::GELU_K), x3)),
    );
    vmulq_f32(x, sigmoid4(z))
}

#[target_feature(enable = "neon")]
fn unary(op: Unary, x: &[f32], out: &mut [f32]) {
    let (xc, xt) = x.as_chunks::<4>();
    let (oc, ot) = out.as_chunks_mut::<4>();
    for (o, v) in oc.iter_mut().zip(xc) {
        let v = load(v);
        let y = match op {
            Unary::Relu => max4(v, splat(0.0)),
            Unary::Gelu => gelu4(v),
            Unary::Sigmoid => sigmoid4(v),
            Unary::Tanh => tanh4(v),
        };
        store(o, y);
    }
    scalar::unary(op, xt, ot);
}

#[inline]
#[target_feature(enable = "neon")]
fn binary4(op: Binary, a: float32x4_t, b: float32x4_t) -> float32x4_t {
    match op {
        Binary::Add => vaddq_f32(a, b),
        Binary::Mul => vmulq_f32(a, b),
    }
}

#[target_feature(enable = "neon")]
fn binary(op: Binary, a: &[f32], b: &[f32], out: &mut [f32]) {
    if b.len() == 1 {
        let bv = splat(b[0]);
        let (ac, at) = a.as_chunks::<4>();
        let (oc, ot) = out.as_chunks_mut::<4>();
        for (o, v) in oc.iter_mut().zip(ac) {
            store(o, binary4(op, load(v), bv));
        }
        for (o, v) in ot.iter_mut().zip(at) {
            *o = scalar::binary_one(op, *v, b[0]);
        }
        return;
    }
    for (ar, or) in a.chunks(b.len()).zip(out.chunks_mut(b.len())) {
        let (ac, at) = ar.as_chunks::<4>();
        let (bc, bt) = b.as_chunks::<4>();
        let (oc, ot) = or.as_chunks_mut::<4>();
        for ((o, v), w) in oc.iter_mut().zip(ac).zip(bc) {
            store(o, binary4(op, load(v), load(w)));
        }
        for ((o, v), w) in ot.iter_mut().zip(at).zip(bt) {
            *o = scalar::binary_one(op, *v, *w);
        }
    }
}

/// The eight lane maxima of a non-empty row (element `i` into lane `i % 8`: two
/// registers).
#[target_feature(enable = "neon")]
fn row_max(x: &[f32]) -> f32 {
    let (xc, xt) = x.as_chunks::<8>();
    let (mut lo, mut hi) = (splat(x[0]), splat(x[0]));
    for v in xc {
        let (a, b) = load8(v);
        lo = max4(a, lo);
        hi = max4(b, hi);
    }
    let mut l = lanes(lo, hi);
    for (i, v) in xt.iter().enumerate() {
        l[i] = fmath::max_sel(*v, l[i]);
    }
    scalar::combine_max(&l)
}

/// The lane sum of a row, or with `mean` of `(x - mean)^2` (element `i` into lane
/// `i % 8`).
#[target_feature(enable = "neon")]
fn row_sum(x: &[f32], mean: Option<f32>) -> f32 {
    let (xc, xt) = x.as_chunks::<8>();
    let (mut lo, mut hi) = (splat(0.0), splat(0.0));
    match mean {
        None => {
            for v in xc {
                let (a, b) = load8(v);
                lo = vaddq_f32(lo, a);
                hi = vaddq_f32(hi, b);
            }
        }
        Some(m) => {
            let mv = splat(m);
            for v in xc {
                let (a, b) = load8(v);
                let (ca, cb) = (vsubq_f32(a, mv), vsubq_f32(b, mv));
                lo = vaddq_f32(lo, vmulq_f32(ca, ca));
                hi = vaddq_f32(hi, vmulq_f32(cb, cb));
            }
        }
    }
    let mut l = lanes(lo, hi);
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

#[target_feature(enable = "neon")]
fn softmax(x: &[f32], out: &mut [f32], d: usize) {
    for (xr, or) in x.chunks(d).zip(out.chunks_mut(d)) {
        let m = row_max(xr);
        let mv = splat(m);
        {
            let (xc, xt) = xr.as_chunks::<4>();
            let (oc, ot) = or.as_chunks_mut::<4>();
            for (o, v) in oc.iter_mut().zip(xc) {
                store(o, exp4(vsubq_f32(load(v), mv)));
            }
            for (o, v) in ot.iter_mut().zip(xt) {
                *o = fmath::exp(*v - m);
            }
        }
        let s = row_sum(or, None);
        let sv = splat(s);
        let (oc, ot) = or.as_chunks_mut::<4>();
        for o in oc.iter_mut() {
            let v = vdivq_f32(load(o), sv);
            store(o, v);
        }
        for o in ot.iter_mut() {
            *o /= s;
        }
    }
}

#[target_feature(enable = "neon")]
fn layernorm(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, out: &mut [f32], d: usize) {
    for (xr, or) in x.chunks(d).zip(out.chunks_mut(d)) {
        let mean = row_sum(xr, None) / d as f32;
        let mv = splat(mean);
        let sq = row_sum(xr, Some(mean));
        let rstd = scalar::finish_stats(sq, d, eps);
        let rv = splat(rstd);
        let (xc, xt) = xr.as_chunks::<4>();
        let (gc, gt) = gamma.as_chunks::<4>();
        let (bc, bt) = beta.as_chunks::<4>();
        let (oc, ot) = or.as_chunks_mut::<4>();
        for (((o, v), g), b) in oc.iter_mut().zip(xc).zip(gc).zip(bc) {
            let y = vmulq_f32(vsubq_f32(load(v), mv), rv);
            store(o, vaddq_f32(vmulq_f32(y, load(g)), load(b)));
        }
        for (((o, v), g), b) in ot.iter_mut().zip(xt).zip(gt).zip(bt) {
            *o = ((*v - mean) * rstd) * *g + *b;
        }
    }
}

/// The NEON matmul micro-kernel, with or without FMA.
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
        // `r*ldc + j` for r < MR, j < NR. A `Gemm` comes only from the NEON token.
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

/// `c (+)= A-rows x packed B` for one 6x16 tile. With FMA: 24 accumulators, one
/// four-register B load and six broadcasts per step of `p`. Without (bit-exact), each
/// product needs a register of its own before the add, and 24 accumulators spill; the
/// tile is done as two 6x8 halves instead (12 accumulators each).
///
/// # Safety
///
/// The CPU has NEON; `a + arow[r] + p*cs` is readable for every `r < MR`, `p < kc`;
/// `bp` has `kc * NR` readable values; `c + r*ldc + j` is writable for every `r < MR`,
/// `j < NR`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "neon")]
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
    if !FMA {
        for half in 0..2 {
            // SAFETY: the contract's bounds cover both halves (columns 8*half..+8).
            unsafe {
                half_tile(
                    kc,
                    a,
                    arow,
                    cs,
                    bp.add(8 * half),
                    c.add(8 * half),
                    ldc,
                    load_c,
                )
            };
        }
        return;
    }
    let mut acc = [[vdupq_n_f32(0.0); 4]; MR];
    if load_c {
        for (r, row) in acc.iter_mut().enumerate() {
            for (q, v) in row.iter_mut().enumerate() {
                // SAFETY: row r's 16 values are in C by the contract.
                *v = unsafe { ld1(c.add(r * ldc + 4 * q)) };
            }
        }
    }
    // SAFETY: the offsets stay inside A by the contract.
    let rows: [*const f32; MR] = core::array::from_fn(|r| unsafe { a.add(arow[r]) });
    let mut off = 0usize;
    let mut b = bp;
    for _ in 0..kc {
        // SAFETY: step p of the panel is within its kc*NR values; A's element (r, p) is
        // `rows[r] + p*cs`, in bounds by the contract.
        unsafe {
            let bq = [ld1(b), ld1(b.add(4)), ld1(b.add(8)), ld1(b.add(12))];
            for r in 0..MR {
                let av = vld1q_dup_f32(rows[r].add(off));
                for q in 0..4 {
                    acc[r][q] = vfmaq_f32(acc[r][q], av, bq[q]);
                }
            }
            b = b.add(NR);
        }
        off += cs;
    }
    for (r, row) in acc.iter().enumerate() {
        for (q, v) in row.iter().enumerate() {
            // SAFETY: row r's 16 values are in C by the contract.
            unsafe { st1(c.add(r * ldc + 4 * q), *v) };
        }
    }
}

/// Eight columns of the bit-exact tile: `c[r*ldc + j] (+)= sum_p a(r, p) * bp[p*NR + j]`
/// for `j < 8`, product rounded, then added.
///
/// # Safety
///
/// As [`tile`], for the eight columns at `bp` and `c`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "neon")]
unsafe fn half_tile(
    kc: usize,
    a: *const f32,
    arow: &[usize; MR],
    cs: usize,
    bp: *const f32,
    c: *mut f32,
    ldc: usize,
    load_c: bool,
) {
    let mut acc = [[vdupq_n_f32(0.0); 2]; MR];
    if load_c {
        for (r, row) in acc.iter_mut().enumerate() {
            for (q, v) in row.iter_mut().enumerate() {
                // SAFETY: row r's eight values are in C by the contract.
                *v = unsafe { ld1(c.add(r * ldc + 4 * q)) };
            }
        }
    }
    // SAFETY: the offsets stay inside A by the contract.
    let rows: [*const f32; MR] = core::array::from_fn(|r| unsafe { a.add(arow[r]) });
    let mut off = 0usize;
    let mut b = bp;
    for _ in 0..kc {
        // SAFETY: as in `tile`: the panel's step p and A's element (r, p) are in bounds.
        unsafe {
            let b0 = ld1(b);
            let b1 = ld1(b.add(4));
            for r in 0..MR {
                let av = vld1q_dup_f32(rows[r].add(off));
                acc[r][0] = vaddq_f32(acc[r][0], vmulq_f32(av, b0));
                acc[r][1] = vaddq_f32(acc[r][1], vmulq_f32(av, b1));
            }
            b = b.add(NR);
        }
        off += cs;
    }
    for (r, row) in acc.iter().enumerate() {
        for (q, v) in row.iter().enumerate() {
            // SAFETY: row r's eight values are in C by the contract.
            unsafe { st1(c.add(r * ldc + 4 * q), *v) };
        }
    }
}
