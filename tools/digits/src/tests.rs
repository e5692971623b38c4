//! Host tests: the data and split, the deterministic training, the accuracy (recounted
//! from an independent `f64` forward pass), how far fast mode may move a logit, the int8
//! arithmetic against hand-worked cases of `ai::op`'s definitions, and the files.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use wayos_abi::ai::{DTYPE_F32, DTYPE_I8, MODE_BITEXACT, MODE_FAST};
use wayos_abi::digits::{ExpectHeader, SplitHeader, Variant, EXPECT_MAGIC, SPLIT_MAGIC};
use wayos_abi::zerocopy::FromBytes;
use wayos_aimath::{Isa, Mode};
use wayos_kcore::waymodel;

use super::*;
use crate::infer::{dequantize, quantize};
use crate::train::HIDDEN;

fn generated() -> &'static Generated {
    static G: OnceLock<Generated> = OnceLock::new();
    G.get_or_init(|| generate().expect("generate"))
}

fn test_set() -> Vec<data::Sample> {
    data::split(&data::load().unwrap()).1
}

fn file(path: &str) -> &'static [u8] {
    &generated()
        .files
        .iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} not generated"))
        .1
}

#[test]
fn data_is_the_uci_set_and_the_split_is_every_fifth_row() {
    let all = data::load().unwrap();
    assert_eq!(all.len(), 1797);
    for c in 0..10u8 {
        let n = all.iter().filter(|s| s.label == c).count();
        assert!((170..=190).contains(&n), "class {c}: {n} samples");
    }
    let (train, test) = data::split(&all);
    assert_eq!((train.len(), test.len()), (1437, 360));
    for (k, s) in test.iter().enumerate() {
        assert_eq!(*s, all[k * 5]);
    }
    assert_eq!(train[0], all[1]);
    assert_eq!(train[4], all[6]);
    // The first row of the file, by hand: 0,0,5,13,9,1,0,0,... label 0.
    assert_eq!(&all[0].pixels[..8], &[0, 0, 5, 13, 9, 1, 0, 0]);
    assert_eq!(all[0].label, 0);
    assert!(data::parse("1,2,3\n").is_err());
    assert!(data::parse(&format!("{}17\n", "0,".repeat(64))).is_err());
    assert!(data::parse(&format!("{}10\n", "0,".repeat(64))).is_err());
    assert!(data::README.contains("CC BY 4.0"));
}

#[test]
fn exp_and_ln_agree_with_libm() {
    let mut x = -60.0;
    while x < 60.0 {
        let (a, b) = (train::exp(x), x.exp());
        assert!(
            (a - b).abs() <= 4.0 * f64::EPSILON * b,
            "exp({x}) = {a}, libm {b}"
        );
        let y = x.abs() + 1e-3;
        assert!((train::ln(y) - y.ln()).abs() < 1e-14 * (1.0 + y.ln().abs()));
        x += 0.173;
    }
    assert_eq!(train::exp(-800.0), 0.0);
    assert_eq!(train::exp(0.0), 1.0);
}

#[test]
fn generation_is_reproducible_bit_for_bit() {
    let again = generate().unwrap();
    assert_eq!(again.files, generated().files);
    let mut r1 = train::Rng::new(1);
    let mut r2 = train::Rng::new(1);
    assert_eq!(r1.next_u64(), r2.next_u64());
    // splitmix64's published first output for seed 0.
    assert_eq!(train::Rng::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
}

/// The logits of the exported f32 weights in f64, written out here without aimath.
fn f64_logits(w: &Weights, x: &[f32]) -> [f64; 10] {
    let mut h = [0f64; HIDDEN];
    for (j, hj) in h.iter_mut().enumerate() {
        let s: f64 = (0..64)
            .map(|i| f64::from(x[i]) * f64::from(w.w1[i * HIDDEN + j]))
            .sum();
        *hj = (s + f64::from(w.b1[j])).max(0.0);
    }
    let mut z = [0f64; 10];
    for (c, zc) in z.iter_mut().enumerate() {
        *zc = (0..HIDDEN)
            .map(|j| h[j] * f64::from(w.w2[j * 10 + c]))
            .sum::<f64>()
            + f64::from(w.b2[c]);
    }
    z
}

#[test]
fn f32_model_is_accurate_and_its_expectations_are_right() {
    let g = generated();
    let test = test_set();
    let mut correct = 0;
    for (k, s) in test.iter().enumerate() {
        let z = f64_logits(&g.weights, &s.input());
        let best = (0..10).fold(0, |b, c| if z[c] > z[b] { c } else { b });
        correct += u32::from(best == usize::from(s.label));
        for id in [VARIANT_F32, VARIANT_EXACT] {
            let got = &g.variant(id).logits[k * 10..k * 10 + 10];
            for c in 0..10 {
                assert!(
                    (f64::from(got[c]) - z[c]).abs() < 1e-4,
                    "variant {id} sample {k} class {c}: {} vs f64 {}",
                    got[c],
                    z[c]
                );
            }
        }
    }
    assert_eq!(g.variant(VARIANT_F32).correct, correct);
    assert_eq!(g.variant(VARIANT_EXACT).correct, correct);
    assert!(
        f64::from(correct) / test.len() as f64 > 0.95,
        "test accuracy {correct}/360"
    );
}

/// The guest compares fast-mode logits within 1e-5 and requires the same accuracy: its
/// SIMD kernels fuse multiply-adds. Here the host's own fused kernels must stay well
/// inside that, and no sample may be so close to a tie that the class could change.
#[test]
fn fast_mode_moves_no_logit_past_the_tolerance_and_no_class() {
    let g = generated();
    let fused = Ctx {
        mode: Mode::Fast,
        isa: Isa::host_best(),
    };
    let want = &g.variant(VARIANT_F32).logits;
    let mut min_margin = f32::MAX;
    for (k, s) in test_set().iter().enumerate() {
        let z = infer::forward_f32(&fused, &g.weights, &s.input()).1;
        for c in 0..10 {
            let d = (z[c] - want[k * 10 + c]).abs();
            assert!(d <= 4e-6, "sample {k} class {c}: fused differs by {d}");
        }
        let mut v = want[k * 10..k * 10 + 10].to_vec();
        v.sort_by(|a, b| b.total_cmp(a));
        min_margin = min_margin.min(v[0] - v[1]);
    }
    assert!(
        min_margin > 1e-3,
        "a test sample is {min_margin} from a tie"
    );
}

#[test]
fn quantize_follows_the_abi_definition() {
    // round half to even after one division, then the zero point, then the clamp
    assert_eq!(quantize(0.5, 1.0, 0), 0);
    assert_eq!(quantize(1.5, 1.0, 0), 2);
    assert_eq!(quantize(2.5, 1.0, 0), 2);
    assert_eq!(quantize(-2.5, 1.0, 0), -2);
    assert_eq!(quantize(-3.5, 1.0, 0), -4);
    assert_eq!(quantize(1.0, 0.5, -128), -126);
    assert_eq!(quantize(0.0, 0.1, -128), -128);
    assert_eq!(quantize(300.0, 1.0, 0), 127);
    assert_eq!(quantize(-300.0, 1.0, 0), -128);
    assert_eq!(quantize(100.0, 1.0, 100), 127);
    assert_eq!(quantize(f32::INFINITY, 1.0, 0), 127);
    assert_eq!(quantize(f32::NEG_INFINITY, 1.0, 5), -128);
    assert_eq!(quantize(f32::NAN, 1.0, 7), 7);
    // one f32 division: 0.35f32 / 0.1f32 is 3.4999999 exactly, which rounds to the f32
    // 3.5, and half-to-even makes that 4 (an f64 quotient would give 3)
    assert_eq!(quantize(0.35, 0.1, 0), 4);
    // the input is exact at scale 1/16
    for p in 0..=16u8 {
        assert_eq!(quantize(f32::from(p) / 16.0, 1.0 / 16.0, 0), p as i8);
    }
    assert_eq!(dequantize(5, 0.5, 1), 2.0);
    assert_eq!(dequantize(-128, 0.25, -128), 0.0);
    // q - zero_point exact in i64, then one rounding to f32 (2^24 + 1 -> 2^24)
    assert_eq!(dequantize(16_777_217, 1.0, 0), 16_777_216.0);
    assert_eq!(dequantize(i64::from(i32::MIN), 1.0, 127), -2_147_483_648.0);
}

#[test]
fn int8_model_stays_close_to_the_f32_one() {
    let g = generated();
    let q8 = g.variant(VARIANT_Q8);
    let f = g.variant(VARIANT_F32);
    assert!(
        q8.correct + 7 >= f.correct,
        "int8 {} vs f32 {}",
        q8.correct,
        f.correct
    );
    for (a, b) in q8.logits.iter().zip(&f.logits) {
        assert!((a - b).abs() < 1.5, "int8 logit {a} vs f32 {b}");
    }
    // Weights use the whole symmetric range, activations the whole asymmetric one.
    assert!(g.q8.w1.iter().any(|&q| q.abs() == 127));
    assert!(g.q8.w2.iter().any(|&q| q.abs() == 127));
    assert_eq!(g.q8.h_zero, -128);
}

#[test]
fn model_files_hold_the_weights_in_the_graph_shape() {
    let g = generated();
    let fast = waymodel::parse(file(wayos_abi::digits::MODEL_F32)).unwrap();
    let exact = waymodel::parse(file(wayos_abi::digits::MODEL_EXACT)).unwrap();
    assert_eq!(fast.mode(), MODE_FAST);
    assert_eq!(exact.mode(), MODE_BITEXACT);
    assert_eq!(fast.weights_sha256(), exact.weights_sha256());
    for m in [&fast, &exact] {
        let graph = m.graph().unwrap();
        assert_eq!(graph.nodes.len(), 5);
        assert_eq!((m.n_inputs(), m.n_outputs(), m.n_labels()), (1, 1, 10));
        let x = m.tensor(m.input(0).unwrap()).unwrap();
        assert_eq!((x.info.dtype, &x.info.dims), (DTYPE_F32, &[1, 64, 0, 0]));
        let out = m.output(0).unwrap();
        assert_eq!(&out.info.dims, &[1, 10, 0, 0]);
        let w1 = m.tensor(m.tensor_by_name("w1").unwrap()).unwrap();
        let bytes: Vec<u8> = g.weights.w1.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(w1.data, &bytes[..]);
        assert_eq!(m.label(3), Some("3"));
    }
    let q8 = files::q8_model("digits-q8", &g.q8);
    if wayos_abi::digits::Q8_OPS {
        let bytes = q8.unwrap();
        let m = waymodel::parse(&bytes).unwrap();
        assert_eq!(m.graph().unwrap().nodes.len(), 9);
        let w1 = m.tensor(m.tensor_by_name("w1").unwrap()).unwrap();
        assert_eq!(w1.info.dtype, DTYPE_I8);
        assert_eq!(f32::from_bits(w1.info.scale_bits), g.q8.w1_scale);
        assert!(
            file(wayos_abi::digits::MODEL_Q8) == &bytes[..],
            "the written int8 file differs"
        );
    } else {
        // The gate is truthful: the validator refuses the int8 graph's operations.
        let e = q8.unwrap_err();
        assert!(e.contains("node 0"), "{e}");
        assert!(!g
            .files
            .iter()
            .any(|(p, _)| p == wayos_abi::digits::MODEL_Q8));
    }
}

#[test]
fn split_and_expectation_files_read_back() {
    let g = generated();
    let test = test_set();
    let split = file(wayos_abi::digits::SPLIT_PATH);
    let (h, rest) = SplitHeader::read_from_prefix(split).unwrap();
    assert_eq!(
        (h.magic, h.samples, h.features, h.classes),
        (SPLIT_MAGIC, 360, 64, 10)
    );
    assert_eq!(rest.len(), 360 * 64 * 4 + 360);
    for (k, s) in test.iter().enumerate() {
        for i in 0..64 {
            let at = (k * 64 + i) * 4;
            let v = f32::from_le_bytes(rest[at..at + 4].try_into().unwrap());
            assert_eq!(v * 16.0, f32::from(s.pixels[i]));
        }
        assert_eq!(rest[360 * 256 + k], s.label);
    }

    let expect = file(wayos_abi::digits::EXPECT_PATH);
    let (h, mut rest) = ExpectHeader::read_from_prefix(expect).unwrap();
    assert_eq!((h.magic, h.samples, h.classes), (EXPECT_MAGIC, 360, 10));
    let n = if g.q8_written { 3 } else { 2 };
    assert_eq!(h.variants, n);
    let mut recs = Vec::new();
    for _ in 0..n {
        let (v, r) = Variant::read_from_prefix(rest).unwrap();
        recs.push(v);
        rest = r;
    }
    assert_eq!(rest.len(), n as usize * 3600 * 4);
    for (i, v) in recs.iter().enumerate() {
        let logits = &rest[i * 14400..(i + 1) * 14400];
        let digest: [u8; 32] = Sha256::digest(logits).into();
        assert_eq!(v.logits_sha256, digest);
        let e = g.variant(v.id);
        assert_eq!(v.correct, e.correct);
        let back: Vec<f32> = logits
            .chunks(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(back, e.logits);
    }
    assert_eq!(recs[1].id, VARIANT_EXACT);
    let readme = String::from_utf8(file("/models/README").to_vec()).unwrap();
    assert!(readme.contains("CC BY 4.0") && readme.contains("digits-q8.waymodel"));
}
