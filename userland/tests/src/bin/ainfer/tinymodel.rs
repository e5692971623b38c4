//! The small `.waymodel`s two suites write with `mkmodel`'s writer
//! (`wayos_kcore::waymodel`), and their f64 references: `ainfer` (its `model` group, as
//! `super::tinymodel`) and `ainfer5` (aid's suite) each include this file with `#[path]`.
//! Each suite builds its own files from these specs (names, biases and sizes differ), so
//! nothing here depends on what the other suite wrote.

use alloc::vec;
use alloc::vec::Vec;

use libway::abi::ai::{TensorInfo, DTYPE_F32, REF_NODE};
use libway::infer::{node, op, MODE_FAST};
use wayos_kcore::waymodel::{OutputSpec, Spec, TensorSpec};

/// An f32 tensor of shape `dims`.
pub fn info(dims: &[u32]) -> TensorInfo {
    TensorInfo::with_dims(DTYPE_F32, dims)
}

pub fn bytes_of(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The tiny model's `w [4, 3]`.
pub const W: [f32; 12] = [
    0.5, -1.0, 0.25, 1.5, 0.0, -0.5, -2.0, 1.0, 0.75, 0.125, 2.0, -1.25,
];

/// `softmax(x [1, 4] @ w [4, 3] + b [3])`: tensors `x`, `w` ([`W`]), `b`; nodes matmul,
/// add, softmax; one output, `probs` (node 2).
pub fn tiny_spec(name: &str, b: &[f32; 3]) -> Spec {
    Spec {
        name: name.into(),
        mode: MODE_FAST,
        tensors: vec![
            TensorSpec {
                name: "x".into(),
                info: info(&[1, 4]),
                data: None,
            },
            TensorSpec {
                name: "w".into(),
                info: info(&[4, 3]),
                data: Some(bytes_of(&W)),
            },
            TensorSpec {
                name: "b".into(),
                info: info(&[3]),
                data: Some(bytes_of(b)),
            },
        ],
        nodes: vec![
            node(op::MATMUL, &[0, 1], &[]),
            node(op::ADD, &[REF_NODE, 2], &[]),
            node(op::SOFTMAX, &[REF_NODE | 1], &[]),
        ],
        outputs: vec![OutputSpec {
            name: "probs".into(),
            node: 2,
            info: info(&[1, 3]),
        }],
        labels: vec![],
    }
}

/// What [`tiny_spec`] computes before the softmax, in f64: `x @ W + b`.
pub fn tiny_logits(x: &[f32; 4], b: &[f32; 3]) -> [f64; 3] {
    let mut z = [0f64; 3];
    for (j, zj) in z.iter_mut().enumerate() {
        *zj = b[j] as f64;
        for (i, xi) in x.iter().enumerate() {
            *zj += *xi as f64 * W[i * 3 + j] as f64;
        }
    }
    z
}

/// Softmax of `z` in f64 (the largest subtracted first, as the kernel's op does).
pub fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::MIN, f64::max);
    let e: Vec<f64> = z.iter().map(|v| libm_exp(v - m)).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// exp by its series after range reduction (no libm in the guest): exact to f64's last
/// bits for the small arguments used here.
pub fn libm_exp(x: f64) -> f64 {
    let k = (x / core::f64::consts::LN_2) as i32;
    let r = x - k as f64 * core::f64::consts::LN_2;
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..30 {
        term *= r / n as f64;
        sum += term;
    }
    let mut p = 1.0;
    if k >= 0 {
        for _ in 0..k {
            p *= 2.0;
        }
    } else {
        for _ in 0..(-k) {
            p /= 2.0;
        }
    }
    sum * p
}

/// A model that keeps an accelerator busy: `x [d, d]` multiplied by `w` (the identity)
/// `n` times in a chain; one output, `y`, equal to `x`.
pub fn long_spec(name: &str, d: u32, n: usize) -> Spec {
    let du = d as usize;
    let mut w = vec![0f32; du * du];
    for i in 0..du {
        w[i * du + i] = 1.0;
    }
    let mut nodes = vec![node(op::MATMUL, &[0, 1], &[])];
    for i in 1..n {
        nodes.push(node(op::MATMUL, &[REF_NODE | (i as u32 - 1), 1], &[]));
    }
    Spec {
        name: name.into(),
        mode: MODE_FAST,
        tensors: vec![
            TensorSpec {
                name: "x".into(),
                info: info(&[d, d]),
                data: None,
            },
            TensorSpec {
                name: "w".into(),
                info: info(&[d, d]),
                data: Some(bytes_of(&w)),
            },
        ],
        nodes,
        outputs: vec![OutputSpec {
            name: "y".into(),
            node: n as u32 - 1,
            info: info(&[d, d]),
        }],
        labels: vec![],
    }
}
