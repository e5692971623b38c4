//! Host tests: every op against the f64 reference on random inputs (tolerances stated
//! at each check) and against small cases worked out by hand; the SIMD path against the
//! scalar one; bit-exact mode bit for bit across ISAs; argument errors; the vector file.

use std::vec;
use std::vec::Vec;

use wayos_testutil::XorShift;

use crate::{fmath, reference as r, vectors, Ctx, Isa, MathError, Mode};

/// Unit roundoff of f32 (2^-24).
const U: f64 = 5.960_464_5e-8;

fn rand_f32(rng: &mut XorShift, len: usize, scale: f32) -> Vec<f32> {
    (0..len)
        .map(|_| ((rng.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale)
        .collect()
}

/// Every context the host can run: scalar and the host's SIMD, each in both modes.
fn ctxs() -> Vec<Ctx> {
    let mut v = vec![
        Ctx {
            mode: Mode::Fast,
            isa: Isa::Scalar,
        },
        Ctx::SCALAR_EXACT,
    ];
    let best = Isa::host_best();
    if best != Isa::Scalar {
        v.push(Ctx {
            mode: Mode::Fast,
            isa: best,
        });
        v.push(Ctx {
            mode: Mode::BitExact,
            isa: best,
        });
    }
    v
}

fn simd_exact() -> Option<Ctx> {
    let best = Isa::host_best();
    (best != Isa::Scalar).then_some(Ctx {
        mode: Mode::BitExact,
        isa: best,
    })
}

/// Asserts `|got - want| <= abs + rel * |want|` elementwise.
#[track_caller]
fn assert_close(what: &str, got: &[f32], want: &[f64], abs: f64, rel: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let bound = abs + rel * w.abs();
        assert!(
            (g as f64 - w).abs() <= bound && g.is_finite(),
            "{what}: element {i}: got {g}, want {w} (bound {bound})"
        );
    }
}

#[track_caller]
fn assert_bits(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "{what}: element {i}: {x} vs {y}");
    }
}

// ---------------------------------------------------------------- fmath

#[test]
fn sqrt_is_correctly_rounded() {
    // The host's sqrtss is correctly rounded: compare bit for bit on random patterns
    // (normals, subnormals, every exponent) and on the edges.
    let mut rng = XorShift::new(11);
    for _ in 0..200_000 {
        let x = f32::from_bits((rng.next() as u32) & 0x7fff_ffff);
        if x.is_nan() {
            continue;
        }
        assert_eq!(fmath::sqrt(x).to_bits(), x.sqrt().to_bits(), "sqrt({x:e})");
    }
    for x in [
        0.0f32,
        -0.0,
        1.0,
        4.0,
        2.0,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
        f32::MAX,
        f32::INFINITY,
        0.25,
        1e-5,
    ] {
        assert_eq!(fmath::sqrt(x).to_bits(), x.sqrt().to_bits(), "sqrt({x:e})");
    }
    assert!(fmath::sqrt(-1.0).is_nan());
    assert_eq!(fmath::sqrt(9.0), 3.0);
    assert_eq!(fmath::sqrt(6.25), 2.5);
}

#[test]
fn exp_is_accurate_and_bounded() {
    let mut x = -90.0f32;
    while x < 90.0 {
        let got = fmath::exp(x) as f64;
        let want = (x as f64).exp();
        if x < -87.0 {
            assert_eq!(got, 0.0, "exp({x}) below the cut-off");
        } else if x >= 87.0 {
            assert_eq!(got, fmath::exp(87.0) as f64, "exp({x}) clamps");
        } else {
            // Relative error: 4 ulp.
            assert!(
                ((got - want) / want).abs() < 4.0 * 2.0 * U,
                "exp({x}) = {got}, want {want}"
            );
            assert!(got >= f32::MIN_POSITIVE as f64, "exp({x}) is not subnormal");
        }
        x += 0.0137;
    }
    assert!(((fmath::exp(87.0) as f64 - 87f64.exp()) / 87f64.exp()).abs() < 8.0 * U);
    // Worked by hand: e^0 = 1 exactly, e^1, e^-1 to f32.
    assert_eq!(fmath::exp(0.0), 1.0);
    assert!((fmath::exp(1.0) - 2.718_281_7).abs() < 3e-7);
    assert!((fmath::exp(-1.0) - 0.367_879_45).abs() < 6e-8);
    assert_eq!(fmath::exp(f32::NEG_INFINITY), 0.0);
    assert!(fmath::exp(f32::INFINITY).is_finite());
}

// ---------------------------------------------------------------- matmul

/// The classical forward error bound of a length-k dot product, `k u sum|a b|`, with
/// a factor 4 of slack, plus a tiny absolute floor.
fn matmul_bound(a: &[f32], b: &[f32], s: (usize, usize, usize, usize, bool, bool)) -> Vec<f64> {
    let abs_a: Vec<f32> = a.iter().map(|v| v.abs()).collect();
    let abs_b: Vec<f32> = b.iter().map(|v| v.abs()).collect();
    let (batch, m, k, n, ta, tb) = s;
    r::matmul(&abs_a, &abs_b, batch, m, k, n, ta, tb)
        .into_iter()
        .map(|v| 4.0 * k as f64 * U * v + 1e-30)
        .collect()
}

fn check_matmul(ctx: &Ctx, rng: &mut XorShift, s: (usize, usize, usize, usize, bool, bool)) {
    let (batch, m, k, n, ta, tb) = s;
    let a = rand_f32(rng, batch * m * k, 2.0);
    let b = rand_f32(rng, k * n, 2.0);
    let mut out = vec![f32::NAN; batch * m * n];
    crate::matmul(ctx, &a, &b, &mut out, batch, m, k, n, ta, tb).unwrap();
    let want = r::matmul(&a, &b, batch, m, k, n, ta, tb);
    let bound = matmul_bound(&a, &b, s);
    for i in 0..out.len() {
        assert!(
            (out[i] as f64 - want[i]).abs() <= bound[i],
            "{ctx:?} {s:?}: element {i}: got {}, want {}",
            out[i],
            want[i]
        );
    }
}

#[test]
fn matmul_matches_reference() {
    let mut rng = XorShift::new(1);
    let shapes = [
        (1, 1, 1, 1),
        (1, 1, 5, 1),
        (1, 3, 1, 4),
        (1, 6, 7, 16),
        (2, 7, 9, 17),
        (1, 13, 33, 29),
        (3, 5, 300, 20),
        (1, 40, 3, 70),
        (1, 64, 64, 64),
    ];
    for ctx in ctxs() {
        for &(batch, m, k, n) in &shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                check_matmul(&ctx, &mut rng, (batch, m, k, n, ta, tb));
            }
        }
    }
}

#[test]
fn matmul_by_hand() {
    // [1 2; 3 4] x [5 6; 7 8] = [19 22; 43 50]; with A transposed: [1 3; 2 4] x B =
    // [26 30; 38 44]; with B transposed: A x [5 7; 6 8] = [17 23; 39 53].
    let a = [1.0, 2.0, 3.0, 4.0];
    let b = [5.0, 6.0, 7.0, 8.0];
    for ctx in ctxs() {
        let mut out = [0.0f32; 4];
        crate::matmul(&ctx, &a, &b, &mut out, 1, 2, 2, 2, false, false).unwrap();
        assert_eq!(out, [19.0, 22.0, 43.0, 50.0]);
        crate::matmul(&ctx, &a, &b, &mut out, 1, 2, 2, 2, true, false).unwrap();
        assert_eq!(out, [26.0, 30.0, 38.0, 44.0]);
        crate::matmul(&ctx, &a, &b, &mut out, 1, 2, 2, 2, false, true).unwrap();
        assert_eq!(out, [17.0, 23.0, 39.0, 53.0]);
        // Two batches share B: [1 0] and [0 2] times [[1 2 3],[4 5 6]].
        let mut out = [0.0f32; 6];
        crate::matmul(
            &ctx,
            &[1.0, 0.0, 0.0, 2.0],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            &mut out,
            2,
            1,
            2,
            3,
            false,
            false,
        )
        .unwrap();
        assert_eq!(out, [1.0, 2.0, 3.0, 8.0, 10.0, 12.0]);
        // k = 0: the empty sum.
        let mut out = [7.0f32; 6];
        crate::matmul(&ctx, &[], &[], &mut out, 1, 2, 0, 3, false, false).unwrap();
        assert_eq!(out, [0.0; 6]);
        // Zero-size m and n.
        crate::matmul(&ctx, &[], &[1.0; 3], &mut [], 1, 0, 1, 3, false, false).unwrap();
        crate::matmul(&ctx, &[1.0; 2], &[], &mut [], 1, 2, 1, 0, false, false).unwrap();
    }
}

#[test]
fn matmul_rejects_bad_lengths() {
    for ctx in ctxs() {
        let mut out = [0.0f32; 4];
        let e = Err(MathError::Shape);
        assert_eq!(
            crate::matmul(&ctx, &[0.0; 3], &[0.0; 4], &mut out, 1, 2, 2, 2, false, false),
            e
        );
        assert_eq!(
            crate::matmul(&ctx, &[0.0; 4], &[0.0; 5], &mut out, 1, 2, 2, 2, false, false),
            e
        );
        assert_eq!(
            crate::matmul(
                &ctx,
                &[0.0; 4],
                &[0.0; 4],
                &mut out[..3],
                1,
                2,
                2,
                2,
                false,
                false
            ),
            e
        );
        assert_eq!(
            crate::matmul(&ctx, &[], &[], &mut [], usize::MAX, 2, 2, 2, false, false),
            e,
            "overflowing batch*m*k"
        );
        assert_eq!(
            crate::matmul(
                &ctx,
                &[],
                &[],
                &mut [],
                1,
                usize::MAX,
                usize::MAX,
                0,
                false,
                false
            ),
            e
        );
        // Untouched on error.
        let mut out = [9.0f32; 4];
        let _ = crate::matmul(
            &ctx, &[0.0; 4], &[0.0; 3], &mut out, 1, 2, 2, 2, false, false,
        );
        assert_eq!(out, [9.0; 4]);
    }
}

// ---------------------------------------------------------------- elementwise

#[test]
fn add_and_mul_match_reference_and_broadcast() {
    let mut rng = XorShift::new(2);
    for ctx in ctxs() {
        for (len, blen) in [
            (1, 1),
            (7, 1),
            (8, 8),
            (24, 8),
            (35, 7),
            (100, 20),
            (1000, 1000),
            (96, 3),
        ] {
            let a = rand_f32(&mut rng, len, 100.0);
            let b = rand_f32(&mut rng, blen, 100.0);
            let mut out = vec![0.0f32; len];
            crate::add(&ctx, &a, &b, &mut out).unwrap();
            // One rounding: half an ulp.
            assert_close("add", &out, &r::add(&a, &b), 0.0, U);
            crate::mul(&ctx, &a, &b, &mut out).unwrap();
            assert_close("mul", &out, &r::mul(&a, &b), 0.0, U);
        }
        // By hand: [1 2 3 4 5 6] + [10 20 30] and * [10 20 30].
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut out = [0.0f32; 6];
        crate::add(&ctx, &a, &[10.0, 20.0, 30.0], &mut out).unwrap();
        assert_eq!(out, [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        crate::mul(&ctx, &a, &[10.0, 20.0, 30.0], &mut out).unwrap();
        assert_eq!(out, [10.0, 40.0, 90.0, 40.0, 100.0, 180.0]);
        // Errors: b does not divide a, empty b, out length.
        assert_eq!(
            crate::add(&ctx, &a, &[1.0; 4], &mut out),
            Err(MathError::Shape)
        );
        assert_eq!(crate::add(&ctx, &a, &[], &mut out), Err(MathError::Shape));
        assert_eq!(
            crate::mul(&ctx, &a, &[1.0], &mut out[..5]),
            Err(MathError::Shape)
        );
        crate::add(&ctx, &[], &[], &mut []).unwrap();
    }
}

#[test]
fn activations_match_reference() {
    let mut rng = XorShift::new(3);
    for ctx in ctxs() {
        for len in [1, 7, 8, 9, 61, 1000] {
            for scale in [0.2f32, 3.0, 30.0] {
                let x = rand_f32(&mut rng, len, scale);
                let mut out = vec![0.0f32; len];
                crate::relu(&ctx, &x, &mut out).unwrap();
                assert_close("relu", &out, &r::relu(&x), 0.0, 0.0);
                // exp-based: a few ulp relative, plus 1e-7 absolute where the result
                // is near zero or cancels (tanh near 0.125, gelu's negative tail).
                crate::sigmoid(&ctx, &x, &mut out).unwrap();
                assert_close("sigmoid", &out, &r::sigmoid(&x), 1e-7, 1e-6);
                crate::tanh(&ctx, &x, &mut out).unwrap();
                assert_close("tanh", &out, &r::tanh(&x), 1e-7, 2e-6);
                crate::gelu(&ctx, &x, &mut out).unwrap();
                assert_close("gelu", &out, &r::gelu(&x), 1e-6, 2e-6);
            }
        }
    }
}

#[test]
fn activations_by_hand() {
    for ctx in ctxs() {
        let x = [
            -2.0f32, -0.5, 0.0, 0.5, 2.0, -0.0, 100.0, -100.0, 1e30, -1e30,
        ];
        let mut out = [0.0f32; 10];
        crate::relu(&ctx, &x, &mut out).unwrap();
        assert_eq!(out, [0.0, 0.0, 0.0, 0.5, 2.0, 0.0, 100.0, 0.0, 1e30, 0.0]);
        // sigmoid(0) = 1/2, sigmoid(+-2) = 0.880797.., 0.119202.., saturating at 1 and
        // tiny at -100; tanh(+-0.5) = +-0.462117.., tanh(2) = 0.964027..
        crate::sigmoid(&ctx, &x, &mut out).unwrap();
        assert_eq!(out[2], 0.5);
        assert!((out[4] - 0.880_797_1).abs() < 2e-7 && (out[0] - 0.119_202_92).abs() < 2e-7);
        assert_eq!(out[6], 1.0);
        assert!(out[7] >= 0.0 && out[7] < 1e-37);
        assert_eq!((out[8], out[9]), (1.0, 0.0));
        crate::tanh(&ctx, &x, &mut out).unwrap();
        assert_eq!(out[2], 0.0);
        assert!((out[3] - 0.462_117_16).abs() < 2e-7 && (out[1] + 0.462_117_16).abs() < 2e-7);
        assert!((out[4] - 0.964_027_6).abs() < 2e-7);
        assert_eq!((out[6], out[7], out[8], out[9]), (1.0, -1.0, 1.0, -1.0));
        // gelu(0) = 0, gelu(2) = 1.954597.. (tanh form), gelu(-100) ~ -0, gelu(1e30) =
        // 1e30.
        crate::gelu(&ctx, &x, &mut out).unwrap();
        assert_eq!(out[2], 0.0);
        assert!((out[4] - 1.954_597_7).abs() < 5e-7, "{}", out[4]);
        assert!(out[7].abs() < 1e-30 && out[9] == 0.0);
        assert_eq!(out[8], 1e30);
        assert_eq!(crate::relu(&ctx, &x, &mut out[..3]), Err(MathError::Shape));
    }
}

// ---------------------------------------------------------------- rows

#[test]
fn softmax_matches_reference() {
    let mut rng = XorShift::new(4);
    for ctx in ctxs() {
        for (rows, d) in [(1, 1), (3, 7), (2, 8), (5, 17), (1, 1000), (4, 64)] {
            for scale in [1.0f32, 20.0, 1e4] {
                let x = rand_f32(&mut rng, rows * d, scale);
                let mut out = vec![0.0f32; rows * d];
                crate::softmax(&ctx, &x, &mut out, d).unwrap();
                // exp's few ulp plus the division and the sum: 1e-5 relative; 1e-7
                // absolute for tiny probabilities.
                assert_close("softmax", &out, &r::softmax(&x, d), 1e-7, 1e-5);
            }
        }
    }
}

#[test]
fn softmax_by_hand_and_large_values() {
    for ctx in ctxs() {
        let mut out = [0.0f32; 3];
        // Equal inputs: exactly 1/3 each ... after division by 3.
        crate::softmax(&ctx, &[5.0, 5.0, 5.0], &mut out, 3).unwrap();
        assert_eq!(out, [1.0 / 3.0; 3]);
        // [0, ln 3]: 1/4 and 3/4.
        let mut out2 = [0.0f32; 2];
        crate::softmax(&ctx, &[0.0, 3.0f32.ln()], &mut out2, 2).unwrap();
        assert!((out2[0] - 0.25).abs() < 1e-7 && (out2[1] - 0.75).abs() < 1e-7);
        // Huge magnitudes stay finite: max subtracted.
        crate::softmax(&ctx, &[1e30, 1e30, -1e30], &mut out, 3).unwrap();
        assert_eq!(out, [0.5, 0.5, 0.0]);
        crate::softmax(&ctx, &[3e38, -3e38, 0.0], &mut out, 3).unwrap();
        assert_eq!(out, [1.0, 0.0, 0.0]);
        crate::softmax(&ctx, &[1000.0, 1001.0], &mut out2, 2).unwrap();
        assert!(out2.iter().all(|v| v.is_finite()));
        assert!((out2[1] - 0.731_058_6).abs() < 1e-6);
        // Errors and empty input.
        assert_eq!(
            crate::softmax(&ctx, &[1.0; 4], &mut [0.0; 4], 3),
            Err(MathError::Shape)
        );
        assert_eq!(
            crate::softmax(&ctx, &[1.0; 4], &mut [0.0; 4], 0),
            Err(MathError::Shape)
        );
        assert_eq!(
            crate::softmax(&ctx, &[1.0; 4], &mut [0.0; 3], 4),
            Err(MathError::Shape)
        );
        crate::softmax(&ctx, &[], &mut [], 0).unwrap();
        crate::softmax(&ctx, &[], &mut [], 5).unwrap();
    }
}

#[test]
fn layernorm_matches_reference_and_by_hand() {
    let mut rng = XorShift::new(5);
    for ctx in ctxs() {
        for (rows, d) in [(1, 1), (2, 7), (3, 8), (2, 33), (1, 768)] {
            let x = rand_f32(&mut rng, rows * d, 4.0);
            let g = rand_f32(&mut rng, d, 2.0);
            let b = rand_f32(&mut rng, d, 1.0);
            let mut out = vec![0.0f32; rows * d];
            crate::layernorm(&ctx, &x, &g, &b, 1e-5, &mut out, d).unwrap();
            // Normalized values are O(1): 2e-5 absolute and relative.
            assert_close(
                "layernorm",
                &out,
                &r::layernorm(&x, &g, &b, 1e-5, d),
                2e-5,
                2e-5,
            );
        }
        // By hand: [1 2 3 4] has mean 2.5, variance 1.25; with eps 0 the normalized row
        // is [-3 -1 1 3] / sqrt(5); gamma 2, beta 1 gives 1 + 2 * that.
        let mut out = [0.0f32; 4];
        crate::layernorm(
            &ctx,
            &[1.0, 2.0, 3.0, 4.0],
            &[2.0; 4],
            &[1.0; 4],
            0.0,
            &mut out,
            4,
        )
        .unwrap();
        let s5 = 5.0f64.sqrt();
        let want = [
            1.0 - 6.0 / s5,
            1.0 - 2.0 / s5,
            1.0 + 2.0 / s5,
            1.0 + 6.0 / s5,
        ];
        assert_close("layernorm by hand", &out, &want, 1e-6, 1e-6);
        // A constant row normalizes to beta (eps keeps it finite).
        crate::layernorm(&ctx, &[7.0; 4], &[3.0; 4], &[0.5; 4], 1e-5, &mut out, 4).unwrap();
        assert_eq!(out, [0.5; 4]);
        assert_eq!(
            crate::layernorm(&ctx, &[1.0; 4], &[1.0; 3], &[1.0; 4], 0.0, &mut out, 4),
            Err(MathError::Shape)
        );
        assert_eq!(
            crate::layernorm(&ctx, &[1.0; 4], &[1.0; 3], &[1.0; 3], 0.0, &mut out, 3),
            Err(MathError::Shape)
        );
    }
}

#[test]
fn argmax_by_hand_and_reference() {
    let mut out = [0i32; 3];
    crate::argmax(
        &[1.0, 3.0, 2.0, 5.0, 5.0, 0.0, -1.0, -1.0, -2.0],
        &mut out,
        3,
    )
    .unwrap();
    assert_eq!(out, [1, 0, 0], "ties take the lowest index");
    let mut one = [9i32];
    crate::argmax(&[4.0], &mut one, 1).unwrap();
    assert_eq!(one, [0]);
    let mut rng = XorShift::new(6);
    for (rows, d) in [(5, 13), (2, 100)] {
        let x = rand_f32(&mut rng, rows * d, 10.0);
        let mut out = vec![0i32; rows];
        crate::argmax(&x, &mut out, d).unwrap();
        assert_eq!(out, r::argmax(&x, d));
    }
    assert_eq!(
        crate::argmax(&[1.0; 6], &mut [0; 3], 3),
        Err(MathError::Shape)
    );
    assert_eq!(
        crate::argmax(&[1.0; 6], &mut [0; 2], 0),
        Err(MathError::Shape)
    );
    crate::argmax(&[], &mut [], 4).unwrap();
}

// ---------------------------------------------------------------- data movement

#[test]
fn transpose_by_hand_and_reference() {
    // [[1 2 3], [4 5 6]] transposed is [[1 4], [2 5], [3 6]].
    let mut out = [0i32; 6];
    crate::transpose(&[1, 2, 3, 4, 5, 6], &[2, 3], &[1, 0], &mut out).unwrap();
    assert_eq!(out, [1, 4, 2, 5, 3, 6]);
    crate::transpose(&[1, 2, 3, 4, 5, 6], &[2, 3], &[0, 1], &mut out).unwrap();
    assert_eq!(out, [1, 2, 3, 4, 5, 6]);
    let mut rng = XorShift::new(7);
    let perms4: [[usize; 4]; 4] = [[3, 2, 1, 0], [0, 2, 1, 3], [1, 3, 0, 2], [2, 0, 3, 1]];
    let dims = [2, 3, 4, 5];
    let x = rand_f32(&mut rng, 120, 1.0);
    for p in perms4 {
        let mut out = vec![0.0f32; 120];
        crate::transpose(&x, &dims, &p, &mut out).unwrap();
        assert_eq!(out, r::transpose(&x, &dims, &p));
    }
    let mut out = vec![0.0f32; 24];
    crate::transpose(&x[..24], &[2, 3, 4], &[2, 0, 1], &mut out).unwrap();
    assert_eq!(out, r::transpose(&x[..24], &[2, 3, 4], &[2, 0, 1]));
    crate::transpose(&x[..1], &[], &[], &mut out[..1]).unwrap();
    // Errors: not a permutation, wrong lengths, rank 5, zero-size dims.
    let e = Err(MathError::Shape);
    assert_eq!(crate::transpose(&[1, 2], &[2, 1], &[0, 0], &mut [0; 2]), e);
    assert_eq!(crate::transpose(&[1, 2], &[2, 1], &[0, 2], &mut [0; 2]), e);
    assert_eq!(crate::transpose(&[1, 2], &[2, 1], &[0], &mut [0; 2]), e);
    assert_eq!(crate::transpose(&[1, 2], &[3, 1], &[1, 0], &mut [0; 2]), e);
    assert_eq!(crate::transpose(&[1, 2], &[2, 1], &[1, 0], &mut [0; 3]), e);
    assert_eq!(
        crate::transpose(&[1], &[1; 5], &[0, 1, 2, 3, 4], &mut [0]),
        Err(MathError::Unsupported)
    );
    assert_eq!(
        crate::transpose(&[0u8; 0], &[usize::MAX, 2], &[1, 0], &mut []),
        e
    );
    crate::transpose(&[0u8; 0], &[3, 0], &[1, 0], &mut []).unwrap();
}

#[test]
fn embedding_by_hand_and_errors() {
    let table = [0.0, 1.0, 10.0, 11.0, 20.0, 21.0];
    let mut out = [0.0f32; 6];
    crate::embedding(&table, 3, 2, &[2, 0, 2], &mut out).unwrap();
    assert_eq!(out, [20.0, 21.0, 0.0, 1.0, 20.0, 21.0]);
    assert_eq!(r::embedding(&table, 2, &[2, 0, 2]), out);
    let mut out = [5.0f32; 6];
    assert_eq!(
        crate::embedding(&table, 3, 2, &[1, 3, -1], &mut out),
        Err(MathError::Index { index: 3 })
    );
    assert_eq!(
        out, [5.0; 6],
        "nothing written before the bad index was found"
    );
    assert_eq!(
        crate::embedding(&table, 3, 2, &[-7, 1, 1], &mut out),
        Err(MathError::Index { index: -7 })
    );
    assert_eq!(
        crate::embedding(&table, 2, 2, &[0], &mut out[..2]),
        Err(MathError::Shape)
    );
    assert_eq!(
        crate::embedding(&table, 3, 2, &[0], &mut out[..3]),
        Err(MathError::Shape)
    );
    crate::embedding(&[], 0, 0, &[], &mut []).unwrap();
    // Zero-width rows: any valid index, nothing to copy.
    crate::embedding(&[], 4, 0, &[3, 1], &mut []).unwrap();
    assert_eq!(
        crate::embedding(&[], 0, 0, &[0], &mut []),
        Err(MathError::Index { index: 0 })
    );
}

// ---------------------------------------------------------------- conv2d, int8

#[test]
fn conv2d_by_hand() {
    let ctx = Ctx::SCALAR_EXACT;
    // A 3x3 input 1..9 with an all-ones kernel: no padding gives the sum 45; padding 1
    // gives each output the sum of its 3x3 neighbourhood.
    let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
    let mut out = [0.0f32; 1];
    crate::conv2d(&ctx, &x, 1, 1, 3, 3, &[1.0; 9], 1, None, 1, 0, &mut out).unwrap();
    assert_eq!(out, [45.0]);
    let mut out = [0.0f32; 9];
    crate::conv2d(
        &ctx,
        &x,
        1,
        1,
        3,
        3,
        &[1.0; 9],
        1,
        Some(&[0.5]),
        1,
        1,
        &mut out,
    )
    .unwrap();
    assert_eq!(out, [12.5, 21.5, 16.5, 27.5, 45.5, 33.5, 24.5, 39.5, 28.5]);
    // Stride 2 with padding on 3x3: outputs at the four corners.
    let mut out = [0.0f32; 4];
    crate::conv2d(&ctx, &x, 1, 1, 3, 3, &[1.0; 9], 1, None, 2, 1, &mut out).unwrap();
    assert_eq!(out, [12.0, 16.0, 24.0, 28.0]);
    // The centre tap alone copies the input.
    let mut centre = [0.0f32; 9];
    centre[4] = 1.0;
    let mut out = [0.0f32; 9];
    crate::conv2d(&ctx, &x, 1, 1, 3, 3, &centre, 1, None, 1, 1, &mut out).unwrap();
    assert_eq!(out.as_slice(), x.as_slice());
}

#[test]
fn conv2d_matches_reference() {
    let mut rng = XorShift::new(8);
    for ctx in ctxs() {
        for (n, c, h, w, o) in [
            (1, 1, 3, 3, 1),
            (2, 3, 7, 5, 4),
            (1, 4, 8, 9, 2),
            (1, 2, 1, 1, 3),
        ] {
            for (stride, pad) in [(1, 0), (1, 1), (2, 0), (2, 1)] {
                if h + 2 * pad < 3 || w + 2 * pad < 3 {
                    continue;
                }
                let x = rand_f32(&mut rng, n * c * h * w, 2.0);
                let wts = rand_f32(&mut rng, o * c * 9, 1.0);
                let bias = rand_f32(&mut rng, o, 1.0);
                let (want, ho, wo) = r::conv2d(&x, n, c, h, w, &wts, o, Some(&bias), stride, pad);
                let mut out = vec![0.0f32; n * o * ho * wo];
                crate::conv2d(
                    &ctx,
                    &x,
                    n,
                    c,
                    h,
                    w,
                    &wts,
                    o,
                    Some(&bias),
                    stride,
                    pad,
                    &mut out,
                )
                .unwrap();
                // 9c+1 terms of magnitude <= 2: (9c+1) u * 2 * 4 slack.
                let bound = (9 * c + 1) as f64 * U * 8.0;
                assert_close("conv2d", &out, &want, bound, 0.0);
            }
        }
        let e = Err(MathError::Shape);
        let x = [0.0f32; 9];
        let mut out = [0.0f32; 1];
        assert_eq!(
            crate::conv2d(&ctx, &x, 1, 1, 3, 3, &[0.0; 9], 1, None, 3, 0, &mut out),
            e
        );
        assert_eq!(
            crate::conv2d(&ctx, &x, 1, 1, 3, 3, &[0.0; 9], 1, None, 1, 2, &mut out),
            e
        );
        assert_eq!(
            crate::conv2d(&ctx, &x, 1, 1, 3, 3, &[0.0; 8], 1, None, 1, 0, &mut out),
            e
        );
        assert_eq!(
            crate::conv2d(
                &ctx,
                &x,
                1,
                1,
                3,
                3,
                &[0.0; 9],
                1,
                Some(&[]),
                1,
                0,
                &mut out
            ),
            e
        );
        assert_eq!(
            crate::conv2d(
                &ctx,
                &x[..4],
                1,
                1,
                2,
                2,
                &[0.0; 9],
                1,
                None,
                1,
                0,
                &mut out
            ),
            e
        );
        assert_eq!(
            crate::conv2d(&ctx, &x, 1, 1, 3, 3, &[0.0; 9], 1, None, 1, 1, &mut out),
            e
        );
        crate::conv2d(&ctx, &[], 0, 1, 3, 3, &[0.0; 9], 1, None, 1, 0, &mut []).unwrap();
    }
}

#[test]
fn matmul_i8_by_hand_and_reference() {
    let ctx = Ctx::SCALAR_EXACT;
    // (a - 1) = [[0 1], [2 3]], (b + 2) = [[3 4], [5 6]]: product [[5 6], [21 26]].
    let mut out = [0i32; 4];
    crate::matmul_i8(&ctx, &[1, 2, 3, 4], 1, &[1, 2, 3, 4], -2, &mut out, 2, 2, 2).unwrap();
    assert_eq!(out, [5, 6, 21, 26]);
    let mut rng = XorShift::new(9);
    for (m, k, n) in [(1, 1, 1), (5, 17, 9), (16, 64, 33)] {
        let a: Vec<i8> = (0..m * k).map(|_| rng.next() as i8).collect();
        let b: Vec<i8> = (0..k * n).map(|_| rng.next() as i8).collect();
        let mut out = vec![0i32; m * n];
        crate::matmul_i8(&ctx, &a, -3, &b, 7, &mut out, m, k, n).unwrap();
        let want = r::matmul_i8(&a, -3, &b, 7, m, k, n);
        assert_eq!(out.iter().map(|&v| v as i64).collect::<Vec<_>>(), want);
    }
    // Extreme zero points wrap instead of panicking.
    crate::matmul_i8(
        &ctx,
        &[127],
        i32::MIN,
        &[-128],
        i32::MAX,
        &mut out[..1],
        1,
        1,
        1,
    )
    .unwrap();
    assert_eq!(
        crate::matmul_i8(&ctx, &[1; 4], 0, &[1; 3], 0, &mut out, 2, 2, 2),
        Err(MathError::Shape)
    );
}

// ---------------------------------------------------------------- quantize / dequantize

#[test]
fn round_half_even_matches_std_everywhere() {
    let mut rng = XorShift::new(0x5155);
    let mut xs: Vec<f32> = vec![
        0.0,
        -0.0,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        0.49999997,
        -0.49999997,
        4194303.5,
        -4194303.5,
        4194304.5,
        8388607.0,
        8388608.0,
        -8388608.0,
        8388609.0,
        1e10,
        -1e10,
        3e38,
        -3e38,
    ];
    for _ in 0..20000 {
        let bits = rng.next() as u32;
        let v = f32::from_bits(bits);
        if v.is_finite() {
            xs.push(v);
        }
        // Halves and near-halves in the interesting range.
        let k = (rng.next() % 2_000_000) as i32 - 1_000_000;
        xs.push(k as f32 + 0.5);
    }
    for x in xs {
        let want = (x as f64)
            .round_ties_even()
            .clamp(i32::MIN as f64, i32::MAX as f64) as i32;
        assert_eq!(crate::scalar::round_half_even(x), want, "round({x})");
    }
}

#[test]
fn quantize_by_hand() {
    let ctx = Ctx::SCALAR_EXACT;
    // scale 0.5: x / 0.5 = 2x. Ties go to the even integer, away from zero or not.
    let x = [
        0.25f32, 0.75, 1.25, -0.25, -0.75, -1.25, 0.3, -0.3, 0.0, -0.0,
    ];
    let mut out = [0i8; 10];
    crate::quantize(&ctx, &x, 0.5, 0, &mut out).unwrap();
    assert_eq!(out, [0, 2, 2, 0, -2, -2, 1, -1, 0, 0]);
    // Saturation at both ends, infinities, NaN giving the zero point.
    let x = [
        100.0f32,
        -100.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        63.5,
        63.75,
    ];
    let mut out = [0i8; 7];
    crate::quantize(&ctx, &x, 0.5, 0, &mut out).unwrap();
    assert_eq!(out, [127, -128, 127, -128, 0, 127, 127]);
    // A negative zero point shifts after rounding; saturation applies to the sum.
    let x = [1.0f32, -1.0, 0.0, f32::NAN, 130.0, -130.0, -122.5, 2.5];
    let mut out = [0i8; 8];
    crate::quantize(&ctx, &x, 1.0, -5, &mut out).unwrap();
    assert_eq!(out, [-4, -6, -5, -5, 125, -128, -127, -3]);
    // A positive zero point: 127 + anything positive saturates.
    let mut out = [0i8; 3];
    crate::quantize(&ctx, &[0.0, 1.0, -300.0], 0.1, 127, &mut out).unwrap();
    assert_eq!(out, [127, 127, -128]);
    // The quotient is one f32 division: 0.3f32 / 0.1f32 is exactly 3.0 and 0.35f32 /
    // 0.1f32 exactly 3.5 (a tie: to even, 4), though neither is so in real numbers.
    let mut out = [0i8; 2];
    crate::quantize(&ctx, &[0.3, 0.35], 0.1, 0, &mut out).unwrap();
    assert_eq!(out, [3, 4]);
}

#[test]
fn quantize_matches_reference_on_every_ctx() {
    let mut rng = XorShift::new(0x5154);
    for &(scale, zp) in &[
        (0.05f32, 0i32),
        (0.013, -17),
        (1.0, 100),
        (3.7e-3, -128),
        (0.5, 127),
    ] {
        let mut x = rand_f32(&mut rng, 997, 4.0);
        x[0] = f32::NAN;
        x[1] = -0.0;
        x[2] = f32::INFINITY;
        let want = r::quantize(&x, scale, zp);
        for ctx in ctxs() {
            let mut out = vec![0i8; x.len()];
            crate::quantize(&ctx, &x, scale, zp, &mut out).unwrap();
            assert_eq!(out, want, "{ctx:?} scale {scale} zp {zp}");
        }
    }
}

#[test]
fn dequantize_by_hand() {
    let ctx = Ctx::SCALAR_EXACT;
    let mut out = [0.0f32; 4];
    crate::dequantize_i8(&ctx, &[-128, 127, 0, 3], 0.5, 127, &mut out).unwrap();
    assert_eq!(out, [-127.5, 0.0, -63.5, -62.0]);
    crate::dequantize_i8(&ctx, &[-128, 127, 0, 3], 0.25, -3, &mut out).unwrap();
    assert_eq!(out, [-31.25, 32.5, 0.75, 1.5]);
    // i32: the difference is exact in i64 and rounded once to f32 (16777217 is a tie
    // between 16777216 and 16777218: to even), then one multiplication.
    crate::dequantize_i32(
        &ctx,
        &[16_777_217, i32::MAX, i32::MIN, -7],
        1.0,
        0,
        &mut out,
    )
    .unwrap();
    assert_eq!(out, [16_777_216.0, 2_147_483_648.0, -2_147_483_648.0, -7.0]);
    crate::dequantize_i32(&ctx, &[i32::MIN, 5, 0, 16_777_219], 2.0, i32::MAX, &mut out).unwrap();
    // i32::MIN - i32::MAX = -4294967295 -> -4294967296 in f32; 5 - MAX = -2147483642 ->
    // -2147483648; 16777219 - MAX = -2130706428 -> -2130706432 (to nearest).
    assert_eq!(
        out,
        [
            -8_589_934_592.0,
            -4_294_967_296.0,
            -4_294_967_296.0,
            -4_261_412_864.0
        ]
    );
    // The product rounds once: 3 * 0.1 in f32.
    crate::dequantize_i32(&ctx, &[3, 0, 0, 0], 0.1, 0, &mut out).unwrap();
    assert_eq!(out[0].to_bits(), (3.0f32 * 0.1f32).to_bits());
}

#[test]
fn dequantize_matches_reference_on_every_ctx() {
    let mut rng = XorShift::new(0x4451);
    for &(scale, zp) in &[(0.05f32, 0i32), (0.0123, -17), (7.5, 100), (1e-6, i32::MIN)] {
        let q8: Vec<i8> = (0..301).map(|_| rng.next() as i8).collect();
        let q32: Vec<i32> = (0..301).map(|_| rng.next() as i32).collect();
        let want8 = r::dequantize(&q8.iter().map(|&v| v as i64).collect::<Vec<_>>(), scale, zp);
        let want32 = r::dequantize(
            &q32.iter().map(|&v| v as i64).collect::<Vec<_>>(),
            scale,
            zp,
        );
        for ctx in ctxs() {
            let mut out = vec![0.0f32; 301];
            crate::dequantize_i8(&ctx, &q8, scale, zp, &mut out).unwrap();
            assert_bits("dequantize i8", &out, &want8);
            crate::dequantize_i32(&ctx, &q32, scale, zp, &mut out).unwrap();
            assert_bits("dequantize i32", &out, &want32);
        }
    }
}

#[test]
fn quantize_and_dequantize_refuse_bad_attributes() {
    let ctx = Ctx::SCALAR_EXACT;
    let mut q = [0i8; 2];
    let mut f = [0.0f32; 2];
    for scale in [0.0f32, -1.0, f32::NAN, f32::INFINITY, -0.0] {
        assert_eq!(
            crate::quantize(&ctx, &[1.0, 2.0], scale, 0, &mut q),
            Err(MathError::Shape)
        );
        assert_eq!(
            crate::dequantize_i8(&ctx, &[1, 2], scale, 0, &mut f),
            Err(MathError::Shape)
        );
        assert_eq!(
            crate::dequantize_i32(&ctx, &[1, 2], scale, 0, &mut f),
            Err(MathError::Shape)
        );
    }
    for zp in [128, -129, i32::MAX] {
        assert_eq!(
            crate::quantize(&ctx, &[1.0, 2.0], 1.0, zp, &mut q),
            Err(MathError::Shape)
        );
    }
    assert_eq!(q, [0, 0], "nothing written on error");
    assert_eq!(
        crate::quantize(&ctx, &[1.0], 1.0, 0, &mut q),
        Err(MathError::Shape)
    );
    assert_eq!(
        crate::dequantize_i32(&ctx, &[1], 1.0, 0, &mut f),
        Err(MathError::Shape)
    );
    assert_eq!(f, [0.0, 0.0]);
}

// ---------------------------------------------------------------- ISA and modes

#[test]
fn unsupported_isa_is_an_error() {
    #[cfg(target_arch = "x86_64")]
    let other = Isa::Neon;
    #[cfg(target_arch = "aarch64")]
    let other = Isa::Avx2Fma;
    assert!(!other.supported());
    let ctx = Ctx {
        mode: Mode::Fast,
        isa: other,
    };
    let mut out = [0.0f32; 1];
    assert_eq!(
        crate::relu(&ctx, &[1.0], &mut out),
        Err(MathError::Unsupported)
    );
    assert_eq!(
        crate::matmul(&ctx, &[1.0], &[1.0], &mut out, 1, 1, 1, 1, false, false),
        Err(MathError::Unsupported)
    );
    assert_eq!(
        Isa::detect(),
        Isa::host_best(),
        "CPUID detection agrees with std's"
    );
}

/// Bit-exact mode: the host's SIMD kernels give the scalar kernels' bits, for every op.
#[test]
fn bitexact_simd_equals_scalar_bit_for_bit() {
    let Some(simd) = simd_exact() else {
        return;
    };
    let scalar = Ctx::SCALAR_EXACT;
    let mut rng = XorShift::new(10);
    for round in 0..6 {
        let scale = [0.5f32, 4.0, 50.0][round % 3];
        let (m, k, n) = (5 + round * 7, 1 + round * 61, 3 + round * 11);
        for (ta, tb) in [(false, false), (true, true)] {
            let a = rand_f32(&mut rng, 2 * m * k, scale);
            let b = rand_f32(&mut rng, k * n, scale);
            let mut o1 = vec![0.0f32; 2 * m * n];
            let mut o2 = o1.clone();
            crate::matmul(&scalar, &a, &b, &mut o1, 2, m, k, n, ta, tb).unwrap();
            crate::matmul(&simd, &a, &b, &mut o2, 2, m, k, n, ta, tb).unwrap();
            assert_bits("matmul", &o1, &o2);
        }
        let len = 1 + round * 97;
        let x = rand_f32(&mut rng, len, scale);
        let y = rand_f32(&mut rng, len, scale);
        let mut o1 = vec![0.0f32; len];
        let mut o2 = o1.clone();
        type Un = fn(&Ctx, &[f32], &mut [f32]) -> Result<(), MathError>;
        let unary: [(&str, Un); 4] = [
            ("relu", crate::relu),
            ("gelu", crate::gelu),
            ("sigmoid", crate::sigmoid),
            ("tanh", crate::tanh),
        ];
        for (name, f) in unary {
            f(&scalar, &x, &mut o1).unwrap();
            f(&simd, &x, &mut o2).unwrap();
            assert_bits(name, &o1, &o2);
        }
        crate::add(&scalar, &x, &y, &mut o1).unwrap();
        crate::add(&simd, &x, &y, &mut o2).unwrap();
        assert_bits("add", &o1, &o2);
        crate::mul(&scalar, &x, &y[..1], &mut o1).unwrap();
        crate::mul(&simd, &x, &y[..1], &mut o2).unwrap();
        assert_bits("mul", &o1, &o2);
        for d in [1, len] {
            crate::softmax(&scalar, &x, &mut o1, d).unwrap();
            crate::softmax(&simd, &x, &mut o2, d).unwrap();
            assert_bits("softmax", &o1, &o2);
            let g = rand_f32(&mut rng, d, 2.0);
            let b = rand_f32(&mut rng, d, 2.0);
            crate::layernorm(&scalar, &x, &g, &b, 1e-5, &mut o1, d).unwrap();
            crate::layernorm(&simd, &x, &g, &b, 1e-5, &mut o2, d).unwrap();
            assert_bits("layernorm", &o1, &o2);
        }
        // conv2d through the packed-im2col product: every stride and padding, a bias,
        // two images, and (round 5) 9c = 270 taps, more than one K block.
        let c = if round == 5 { 30 } else { 1 + round };
        let (n, h, w, o) = (2, 5 + round, 4 + round, 3 + round);
        let xi = rand_f32(&mut rng, n * c * h * w, scale);
        let wts = rand_f32(&mut rng, o * c * 9, 1.0);
        let bias = rand_f32(&mut rng, o, 1.0);
        for (stride, pad) in [(1, 0), (1, 1), (2, 0), (2, 1)] {
            let ho = (h + 2 * pad - 3) / stride + 1;
            let wo = (w + 2 * pad - 3) / stride + 1;
            let mut c1 = vec![0.0f32; n * o * ho * wo];
            let mut c2 = c1.clone();
            let b = (stride == pad + 1).then_some(bias.as_slice());
            crate::conv2d(&scalar, &xi, n, c, h, w, &wts, o, b, stride, pad, &mut c1).unwrap();
            crate::conv2d(&simd, &xi, n, c, h, w, &wts, o, b, stride, pad, &mut c2).unwrap();
            assert_bits("conv2d", &c1, &c2);
        }
    }
}

/// Fast mode on SIMD (FMA) stays within the dot-product rounding bound of scalar (it
/// need not be bit-identical).
#[test]
fn fast_simd_is_close_to_scalar() {
    let best = Isa::host_best();
    if best == Isa::Scalar {
        return;
    }
    let fast = Ctx {
        mode: Mode::Fast,
        isa: best,
    };
    let mut rng = XorShift::new(14);
    for (m, k, n) in [(7, 300, 19), (64, 64, 64), (1, 1000, 3)] {
        let a = rand_f32(&mut rng, m * k, 1.0);
        let b = rand_f32(&mut rng, k * n, 1.0);
        let mut o1 = vec![0.0f32; m * n];
        let mut o2 = o1.clone();
        crate::matmul(
            &Ctx::SCALAR_EXACT,
            &a,
            &b,
            &mut o1,
            1,
            m,
            k,
            n,
            false,
            false,
        )
        .unwrap();
        crate::matmul(&fast, &a, &b, &mut o2, 1, m, k, n, false, false).unwrap();
        // Both within k u sum|ab| of the truth (sum|ab| <= k here): 2 k^2 u apart.
        let bound = 2.0 * (k * k) as f64 * U;
        for (x, y) in o1.iter().zip(&o2) {
            assert!(((x - y) as f64).abs() <= bound, "{x} vs {y}");
        }
    }
}

/// Bit-exact mode must not be affected by blocking (k beyond one panel).
#[test]
fn bitexact_survives_k_blocking() {
    let Some(simd) = simd_exact() else {
        return;
    };
    let mut rng = XorShift::new(12);
    let (m, k, n) = (7, 600, 19);
    let a = rand_f32(&mut rng, m * k, 1.0);
    let b = rand_f32(&mut rng, k * n, 1.0);
    let mut o1 = vec![0.0f32; m * n];
    let mut o2 = o1.clone();
    crate::matmul(
        &Ctx::SCALAR_EXACT,
        &a,
        &b,
        &mut o1,
        1,
        m,
        k,
        n,
        false,
        false,
    )
    .unwrap();
    crate::matmul(&simd, &a, &b, &mut o2, 1, m, k, n, false, false).unwrap();
    assert_bits("matmul k=600", &o1, &o2);
}

// ---------------------------------------------------------------- vectors

fn sample_file() -> Vec<u8> {
    use vectors::write::{file, OwnedCase, OwnedTensor};
    let mut attrs = [0u32; 8];
    attrs[0] = 1;
    file(&[
        OwnedCase {
            name: "relu small".into(),
            op: wayos_abi::ai::op::RELU,
            attrs: [0; 8],
            inputs: vec![OwnedTensor::f32(&[3], &[-1.0, 0.5, 2.0])],
            output: OwnedTensor::f32(&[3], &[0.0, 0.5, 2.0]),
            exact: Some(OwnedTensor::f32(&[3], &[0.0, 0.5, 2.0])),
            tol_abs: 0.0,
            tol_rel: 0.0,
        },
        OwnedCase {
            name: "int8".into(),
            op: wayos_abi::ai::op::MATMUL_I8,
            attrs,
            inputs: vec![
                OwnedTensor::i8(&[1, 3], &[1, 2, 3], 0.5, 1),
                OwnedTensor::i8(&[3, 1], &[-1, 0, 1], 0.25, 0),
            ],
            output: OwnedTensor::i32(&[1, 1], &[2]),
            exact: None,
            tol_abs: 0.0,
            tol_rel: 0.0,
        },
    ])
}

#[test]
fn vectors_round_trip_and_compare() {
    let bytes = sample_file();
    let cases = vectors::parse(&bytes).unwrap();
    assert_eq!(cases.announced(), 2);
    let all: Vec<_> = cases.map(Result::unwrap).collect();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].name, "relu small");
    assert_eq!(all[0].op, wayos_abi::ai::op::RELU);
    assert_eq!(all[0].input(0).unwrap().f32_at(1), Some(0.5));
    assert_eq!(all[0].input(0).unwrap().dims(), &[3]);
    assert!(all[0].input(1).is_none());
    let i8in = all[1].input(0).unwrap();
    assert_eq!(
        (i8in.info.zero_point, f32::from_bits(i8in.info.scale_bits)),
        (1, 0.5)
    );
    assert_eq!(i8in.i32_at(2), Some(3));
    assert_eq!(all[1].attrs[0], 1);
    assert_eq!(all[1].output.i32_at(0), Some(2));
    let good: Vec<u8> = [0.0f32, 0.5, 2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_eq!(vectors::compare(&all[0], &good), Ok(()));
    let bad: Vec<u8> = [0.0f32, 0.5, 2.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_eq!(vectors::compare(&all[0], &bad).unwrap_err().index, 2);
    let nan: Vec<u8> = [f32::NAN, 0.5, 2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_eq!(vectors::compare(&all[0], &nan).unwrap_err().index, 0);
    assert_eq!(
        vectors::compare(&all[0], &good[..8]).unwrap_err().index,
        usize::MAX
    );
    assert_eq!(vectors::compare(&all[1], &2i32.to_le_bytes()), Ok(()));
    assert_eq!(vectors::compare_exact(&all[0], &good), Ok(()));
    assert_eq!(
        vectors::compare_exact(&all[1], &[0; 4]),
        Ok(()),
        "no exact tensor"
    );
    // -0.0 is within any tolerance of 0.0 but not the same bits.
    let negz: Vec<u8> = [-0.0f32, 0.5, 2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_eq!(vectors::compare(&all[0], &negz), Ok(()));
    assert_eq!(vectors::compare_exact(&all[0], &negz).unwrap_err().index, 0);
    assert!(vectors::compare(&all[1], &3i32.to_le_bytes()).is_err());
}

#[test]
fn vectors_refuse_truncations_and_survive_bit_flips() {
    let bytes = sample_file();
    // Every truncation is an error somewhere (header or a case), never a panic.
    for len in 0..bytes.len() {
        let cut = &bytes[..len];
        match vectors::parse(cut) {
            Err(e) => assert_eq!(e, vectors::VectorError::BadHeader),
            Ok(cases) => {
                let results: Vec<_> = cases.collect();
                assert!(
                    results.iter().any(Result::is_err),
                    "truncation at {len} accepted"
                );
            }
        }
    }
    // Every single-bit flip parses or fails cleanly, and a parsed case's tensors are
    // consistent with their shapes.
    for bit in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        if let Ok(cases) = vectors::parse(&b) {
            for c in cases.take(10).flatten() {
                let out = c.output;
                assert_eq!(
                    out.data.len(),
                    out.elements() * wayos_abi::ai::dtype_size(out.info.dtype).unwrap()
                );
                assert!(c.n_inputs >= 1 && c.n_inputs <= 4);
            }
        }
    }
    // Random garbage after a valid header.
    let mut rng = XorShift::new(13);
    for _ in 0..2000 {
        let mut b = bytes[..16].to_vec();
        b.extend((0..rng.below(300)).map(|_| rng.next() as u8));
        if let Ok(cases) = vectors::parse(&b) {
            for _ in cases.take(100) {}
        }
    }
    // A header claiming more cases than there are ends with an error.
    let mut b = bytes.clone();
    b[12] = 3;
    let results: Vec<_> = vectors::parse(&b).unwrap().collect();
    assert!(results[2].is_err());
}

/// Each field check of the reader, by corrupting one known offset of the sample file
/// (header 16 bytes; case 0: size @16, op @20, n_inputs @24, attrs @28, tol_abs @60,
/// tol_rel @64, flags @68, name_len @72, "relu small" + 2 bytes padding @76, first
/// tensor: dtype @88, rank @92, dims @96, bytes @128).
#[test]
fn vectors_name_each_bad_field() {
    let bytes = sample_file();
    let first = |patch: &dyn Fn(&mut Vec<u8>)| {
        let mut b = bytes.clone();
        patch(&mut b);
        match vectors::parse(&b) {
            Err(e) => Err(e),
            Ok(mut cases) => cases.next().unwrap().map(|_| ()),
        }
    };
    let put = |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let invalid = |what| Err(vectors::VectorError::Invalid { case: 0, what });
    assert_eq!(first(&|_| {}), Ok(()));
    assert_eq!(
        first(&|b| b[0] = b'X'),
        Err(vectors::VectorError::BadHeader)
    );
    assert_eq!(
        first(&|b| put(b, 8, 2)),
        Err(vectors::VectorError::BadHeader)
    );
    assert_eq!(first(&|b| put(b, 20, 99)), invalid("unknown op"));
    assert_eq!(first(&|b| put(b, 20, 0)), invalid("unknown op"));
    assert_eq!(first(&|b| put(b, 24, 0)), invalid("input count"));
    assert_eq!(first(&|b| put(b, 24, 5)), invalid("input count"));
    assert_eq!(
        first(&|b| put(b, 60, f32::NAN.to_bits())),
        invalid("tolerance")
    );
    assert_eq!(
        first(&|b| put(b, 64, (-1.0f32).to_bits())),
        invalid("tolerance")
    );
    assert_eq!(first(&|b| put(b, 68, 2)), invalid("unknown flags"));
    assert_eq!(first(&|b| put(b, 72, 1000)), invalid("name too long"));
    assert_eq!(first(&|b| b[76] = 0xff), invalid("name is not UTF-8"));
    assert_eq!(first(&|b| b[87] = 1), invalid("nonzero padding"));
    assert_eq!(first(&|b| put(b, 88, 7)), invalid("unknown dtype"));
    assert_eq!(first(&|b| put(b, 92, 5)), invalid("rank above 4"));
    assert_eq!(first(&|b| put(b, 100, 1)), invalid("dims past the rank"));
    assert_eq!(
        first(&|b| put(b, 96, 1 << 25)),
        invalid("dimension too large")
    );
    assert_eq!(
        first(&|b| put(b, 128, 16)),
        invalid("byte count disagrees with the shape")
    );
    assert_eq!(
        first(&|b| put(b, 16, 2000)),
        Err(vectors::VectorError::Truncated { case: 0 })
    );
    // A case size larger than its fields (but inside the file) is refused too.
    assert_eq!(
        first(&|b| put(b, 16, u32::from_le_bytes([b[16], b[17], b[18], b[19]]) + 4)),
        invalid("case size disagrees with its fields")
    );
}
