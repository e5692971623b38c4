//! The files `tools/digits` writes: the three `.waymodel`s (through
//! `wayos_kcore::waymodel::write`, which parses and validates what it wrote), the test
//! split and the expectations (layouts in `wayos_abi::digits`), and `/models/README`.

use sha2::{Digest, Sha256};
use wayos_abi::ai::{
    op, Node, TensorInfo, DTYPE_F32, DTYPE_I8, MODE_BITEXACT, MODE_FAST, REF_NODE,
};
use wayos_abi::digits::{
    ExpectHeader, SplitHeader, Variant, CLASSES, EXPECT_MAGIC, FEATURES, SPLIT_MAGIC, VERSION,
};
use wayos_abi::zerocopy::IntoBytes;
use wayos_kcore::waymodel::{self, OutputSpec, Spec, TensorSpec};

use crate::data::Sample;
use crate::infer::{Weights, Q8};
use crate::train::HIDDEN;

fn info(dtype: u32, dims: &[u32]) -> TensorInfo {
    TensorInfo::with_dims(dtype, dims)
}

fn i8_info(dims: &[u32], scale: f32, zero_point: i32) -> TensorInfo {
    TensorInfo {
        scale_bits: scale.to_bits(),
        zero_point,
        ..info(DTYPE_I8, dims)
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn tensor(name: &str, info: TensorInfo, data: Option<Vec<u8>>) -> TensorSpec {
    TensorSpec {
        name: name.into(),
        info,
        data,
    }
}

fn node(op: u32, inputs: &[u32], attrs: &[u32]) -> Node {
    let mut n = Node {
        op,
        n_inputs: inputs.len() as u32,
        ..Node::default()
    };
    n.inputs[..inputs.len()].copy_from_slice(inputs);
    n.attrs[..attrs.len()].copy_from_slice(attrs);
    n
}

const fn nref(i: u32) -> u32 {
    REF_NODE | i
}

fn labels() -> Vec<String> {
    (0..CLASSES).map(|c| c.to_string()).collect()
}

fn logits_output(node: u32) -> Vec<OutputSpec> {
    vec![OutputSpec {
        name: "logits".into(),
        node,
        info: info(DTYPE_F32, &[1, CLASSES as u32]),
    }]
}

const F: u32 = FEATURES as u32;
const H: u32 = HIDDEN as u32;
const C: u32 = CLASSES as u32;

/// The f32 model: `x [1,64]`, `logits = relu(x w1 + b1) w2 + b2`, in `mode`.
pub fn f32_model(name: &str, w: &Weights, mode: u32) -> Result<Vec<u8>, String> {
    debug_assert!(mode == MODE_FAST || mode == MODE_BITEXACT);
    let spec = Spec {
        name: name.into(),
        mode,
        tensors: vec![
            tensor("x", info(DTYPE_F32, &[1, F]), None),
            tensor("w1", info(DTYPE_F32, &[F, H]), Some(f32_bytes(&w.w1))),
            tensor("b1", info(DTYPE_F32, &[H]), Some(f32_bytes(&w.b1))),
            tensor("w2", info(DTYPE_F32, &[H, C]), Some(f32_bytes(&w.w2))),
            tensor("b2", info(DTYPE_F32, &[C]), Some(f32_bytes(&w.b2))),
        ],
        nodes: vec![
            node(op::MATMUL, &[0, 1], &[]),
            node(op::ADD, &[nref(0), 2], &[]),
            node(op::RELU, &[nref(1)], &[]),
            node(op::MATMUL, &[nref(2), 3], &[]),
            node(op::ADD, &[nref(3), 4], &[]),
        ],
        outputs: logits_output(4),
        labels: labels(),
    };
    waymodel::write(&spec).map_err(|e| format!("{name}: {e}"))
}

/// The int8 model: QUANTIZE the input, MATMUL_I8 with w1, DEQUANTIZE, ADD b1, RELU,
/// QUANTIZE, MATMUL_I8 with w2, DEQUANTIZE, ADD b2 (fast mode: every step but the f32
/// additions is exact integer or single-rounding arithmetic, the same on every machine).
pub fn q8_model(name: &str, q: &Q8) -> Result<Vec<u8>, String> {
    let bytes = |v: &[i8]| v.iter().map(|&b| b as u8).collect::<Vec<u8>>();
    let qattrs = |scale: f32, zero: i32| [scale.to_bits(), zero as u32];
    let spec = Spec {
        name: name.into(),
        mode: MODE_FAST,
        tensors: vec![
            tensor("x", info(DTYPE_F32, &[1, F]), None),
            tensor("w1", i8_info(&[F, H], q.w1_scale, 0), Some(bytes(&q.w1))),
            tensor("b1", info(DTYPE_F32, &[H]), Some(f32_bytes(&q.b1))),
            tensor("w2", i8_info(&[H, C], q.w2_scale, 0), Some(bytes(&q.w2))),
            tensor("b2", info(DTYPE_F32, &[C]), Some(f32_bytes(&q.b2))),
        ],
        nodes: vec![
            node(op::QUANTIZE, &[0], &qattrs(q.x_scale, q.x_zero)),
            node(op::MATMUL_I8, &[nref(0), 1], &[]),
            node(op::DEQUANTIZE, &[nref(1)], &qattrs(q.d1_scale(), 0)),
            node(op::ADD, &[nref(2), 2], &[]),
            node(op::RELU, &[nref(3)], &[]),
            node(op::QUANTIZE, &[nref(4)], &qattrs(q.h_scale, q.h_zero)),
            node(op::MATMUL_I8, &[nref(5), 3], &[]),
            node(op::DEQUANTIZE, &[nref(6)], &qattrs(q.d2_scale(), 0)),
            node(op::ADD, &[nref(7), 4], &[]),
        ],
        outputs: logits_output(8),
        labels: labels(),
    };
    waymodel::write(&spec).map_err(|e| format!("{name}: {e}"))
}

/// `split.bin`: header, inputs, labels.
pub fn split_file(test: &[Sample]) -> Vec<u8> {
    let header = SplitHeader {
        magic: SPLIT_MAGIC,
        version: VERSION,
        samples: test.len() as u32,
        features: F,
        classes: C,
    };
    let mut out = header.as_bytes().to_vec();
    for s in test {
        out.extend(f32_bytes(&s.input()));
    }
    out.extend(test.iter().map(|s| s.label));
    out
}

/// One variant's expected results over the split.
#[derive(Clone, Debug, PartialEq)]
pub struct Expected {
    pub id: u32,
    /// `samples * CLASSES` logits, sample after sample.
    pub logits: Vec<f32>,
    pub correct: u32,
}

impl Expected {
    pub fn new(id: u32, logits: Vec<f32>, test: &[Sample]) -> Self {
        let correct = logits
            .chunks(CLASSES)
            .zip(test)
            .filter(|(z, s)| crate::infer::argmax(z) == usize::from(s.label))
            .count() as u32;
        Expected {
            id,
            logits,
            correct,
        }
    }

    /// SHA-256 of the logits as little-endian `f32`s.
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(f32_bytes(&self.logits)).into()
    }
}

/// `expect.bin`: header, one record per variant, each variant's logits.
pub fn expect_file(samples: usize, variants: &[Expected]) -> Vec<u8> {
    let header = ExpectHeader {
        magic: EXPECT_MAGIC,
        version: VERSION,
        samples: samples as u32,
        classes: C,
        variants: variants.len() as u32,
    };
    let mut out = header.as_bytes().to_vec();
    for v in variants {
        let rec = Variant {
            id: v.id,
            correct: v.correct,
            logits_sha256: v.sha256(),
        };
        out.extend_from_slice(rec.as_bytes());
    }
    for v in variants {
        out.extend(f32_bytes(&v.logits));
    }
    out
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
