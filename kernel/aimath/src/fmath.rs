//! Deterministic scalar float functions built only from IEEE `+ - * /`, comparisons and
//! bit manipulation, so the SIMD kernels can repeat them lane by lane and get the same
//! bits. Each function is written in the "select" style of vector code: both sides of a
//! branch are computed from clamped, finite values and one is chosen, exactly as the
//! AVX2 and NEON versions do with masks.
//!
//! Must never: call a libm or platform function, use fused multiply-add, or depend on
//! anything but its argument.

/// `a < b` as every kernel decides it: the sign bit of `a - b`. For numbers this is the
/// ordinary comparison (IEEE subtraction gives `+0` only for equal operands, and the
/// sign of anything else exactly); vector code tests a sign bit with one blend, where
/// float comparisons and `minps`/`maxps` do not compile for the soft-float x86_64
/// target. NaN and `inf - inf` fall outside the bit-exact guarantee.
#[inline]
pub fn lt(a: f32, b: f32) -> bool {
    (a - b).is_sign_negative()
}

/// `if a < b { a } else { b }` in the sense of [`lt`].
#[inline]
pub fn min_sel(a: f32, b: f32) -> f32 {
    if lt(a, b) {
        a
    } else {
        b
    }
}

/// `if a > b { a } else { b }` in the sense of [`lt`].
#[inline]
pub fn max_sel(a: f32, b: f32) -> f32 {
    if lt(b, a) {
        a
    } else {
        b
    }
}

/// `|x|` by clearing the sign bit.
#[inline]
pub fn abs(x: f32) -> f32 {
    f32::from_bits(x.to_bits() & 0x7fff_ffff)
}

pub(crate) const EXP_HI: f32 = 87.0;
pub(crate) const EXP_CLAMP_LO: f32 = -88.0;
pub(crate) const EXP_ZERO_BELOW: f32 = -87.0;
pub(crate) const LOG2E: f32 = core::f32::consts::LOG2_E;
/// 1.5 * 2^23: adding and subtracting it rounds a float below 2^22 to the nearest
/// integer (ties to even), with two plain IEEE additions.
pub(crate) const ROUND_MAGIC: f32 = 12_582_912.0;
/// ln 2 split in two: `LN2_HI` has few significant bits, so `n * LN2_HI` is exact for
/// the `|n| <= 127` that occur.
pub(crate) const LN2_HI: f32 = 0.693_359_4;
pub(crate) const LN2_LO: f32 = -2.121_944_4e-4;
/// Taylor coefficients 1/7! .. 1/2! of exp (then 1, 1): degree 7 on |r| <= ln2/2
/// leaves a truncation error below 1e-8, under the f32 rounding of the evaluation.
pub(crate) const EXP_C: [f32; 6] = [
    1.0 / 5040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
];

/// `e^x`, relative error a few ulp; exactly `0.0` for `x < -87` and `e^87` for
/// `x >= 87` (so no result is subnormal or infinite).
pub fn exp(x: f32) -> f32 {
    let xc = max_sel(min_sel(x, EXP_HI), EXP_CLAMP_LO);
    let t = xc * LOG2E;
    let nf = (t + ROUND_MAGIC) - ROUND_MAGIC;
    let r = (xc - nf * LN2_HI) - nf * LN2_LO;
    let mut p = EXP_C[0];
    for c in &EXP_C[1..] {
        p = p * r + *c;
    }
    p = p * r + 1.0;
    p = p * r + 1.0;
    // nf is an integer in [-127, 126]: 127 + nf is a valid biased exponent (0 gives +0.0,
    // which is only reached below -87 and replaced by the zero below).
    let scale = f32::from_bits(((nf as i32 + 127) as u32) << 23);
    let y = p * scale;
    if lt(x, EXP_ZERO_BELOW) {
        0.0
    } else {
        y
    }
}

/// The logistic function, `1 / (1 + e^-x)`, computed from `e = e^-|x|` as `1 / (1 + e)`
/// or `e / (1 + e)` so neither side loses relative accuracy.
pub fn sigmoid(x: f32) -> f32 {
    let e = exp(-abs(x));
    let d = 1.0 + e;
    // By the sign bit: -0.0 takes `e / d`, the same 0.5.
    if x.is_sign_negative() {
        e / d
    } else {
        1.0 / d
    }
}

/// Below this `|x|`, tanh is its odd Taylor polynomial (the exp form would cancel).
pub(crate) const TANH_SMALL: f32 = 0.125;
pub(crate) const TANH_C: [f32; 3] = [-17.0 / 315.0, 2.0 / 15.0, -1.0 / 3.0];
pub(crate) const SIGN: u32 = 0x8000_0000;

/// Hyperbolic tangent: `sign(x) (1 - e) / (1 + e)` with `e = e^(-2|x|)`, or the Taylor
/// polynomial `x + x^3 (c3 + x^2 (c5 + x^2 c7))` for `|x| < 0.125`.
pub fn tanh(x: f32) -> f32 {
    let a = abs(x);
    let e = exp(-(a + a));
    let big = (1.0 - e) / (1.0 + e);
    let big = f32::from_bits(big.to_bits() | (x.to_bits() & SIGN));
    let x2 = x * x;
    let mut p = TANH_C[0];
    p = p * x2 + TANH_C[1];
    p = p * x2 + TANH_C[2];
    let small = x + (x * x2) * p;
    if lt(a, TANH_SMALL) {
        small
    } else {
        big
    }
}

/// sqrt(2/pi) and the cubic coefficient of the GELU approximation, with the factor 2
/// of `0.5 (1 + tanh z) = sigmoid(2 z)` folded in.
pub(crate) const GELU_2C: f32 = 2.0 * 0.797_884_6;
pub(crate) const GELU_K: f32 = 0.044_715;

/// GELU (tanh approximation) as `x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))`.
pub fn gelu(x: f32) -> f32 {
    let x3 = (x * x) * x;
    let z = GELU_2C * (x + GELU_K * x3);
    x * sigmoid(z)
}

/// Correctly rounded square root (round to nearest even), by integer arithmetic: the
/// same bits as IEEE `sqrtss`/`fsqrt` on every machine. Negative inputs give NaN,
/// `sqrt(-0.0) = -0.0`, `sqrt(inf) = inf`.
pub fn sqrt(x: f32) -> f32 {
    let bits = x.to_bits();
    if x.is_nan() || x == 0.0 || bits == 0x7f80_0000 {
        return x;
    }
    if bits & SIGN != 0 {
        return f32::NAN;
    }
    // x = m * 2^e with 2^23 <= m < 2^24.
    let biased = ((bits >> 23) & 0xff) as i32;
    let (m, e) = if biased == 0 {
        let mut m = bits & 0x007f_ffff;
        let mut e = -149;
        while m & 0x0080_0000 == 0 {
            m <<= 1;
            e -= 1;
        }
        (m, e)
    } else {
        ((bits & 0x007f_ffff) | 0x0080_0000, biased - 150)
    };
    // Scale m so the exponent left over is even and the integer root has exactly 24
    // bits: v in [2^47, 2^48) or [2^46, 2^47), root in [2^23, 2^24).
    let (v, q) = if e & 1 == 0 {
        ((m as u64) << 24, (e - 24) / 2)
    } else {
        ((m as u64) << 23, (e - 23) / 2)
    };
    // Digit-by-digit integer square root: root = floor(sqrt(v)), rem = v - root^2.
    let mut root: u64 = 0;
    let mut rem: u64 = 0;
    for i in (0..24).rev() {
        rem = (rem << 2) | ((v >> (2 * i)) & 3);
        let trial = (root << 2) | 1;
        root <<= 1;
        if rem >= trial {
            rem -= trial;
            root |= 1;
        }
    }
    // sqrt(v) = root + f with f in [0, 1); f > 1/2 iff v > root^2 + root + 1/4 iff
    // rem > root (f = 1/2 exactly is impossible), so this is round to nearest.
    let (mut r, mut q) = (root as u32, q);
    if rem > root {
        r += 1;
        if r == 1 << 24 {
            r >>= 1;
            q += 1;
        }
    }
    // value = r * 2^q with r = 1.f * 2^23: biased exponent q + 23 + 127, in range for
    // every finite positive input.
    let biased = (q + 150) as u32;
    f32::from_bits((biased << 23) | (r & 0x007f_ffff))
}
