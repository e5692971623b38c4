//! Host tests of the graph validator and planner: every operation's shapes against
//! hand-computed results, each kind of refusal, and the arena plan on random graphs.

use super::*;
use alloc::format;
use alloc::string::ToString;
use alloc::vec;
use wayos_testutil::XorShift;

fn t(dtype: u32, d: &[u32]) -> TensorInfo {
    let mut info = TensorInfo {
        dtype,
        rank: d.len() as u32,
        ..TensorInfo::default()
    };
    info.dims[..d.len()].copy_from_slice(d);
    info
}

fn f(d: &[u32]) -> TensorInfo {
    t(DTYPE_F32, d)
}

fn n(op: u32, ins: &[u32], attrs: &[u32]) -> Node {
    let mut node = Node {
        op,
        n_inputs: ins.len() as u32,
        ..Node::default()
    };
    node.inputs[..ins.len()].copy_from_slice(ins);
    node.attrs[..attrs.len()].copy_from_slice(attrs);
    node
}

const fn r(node: u32) -> u32 {
    REF_NODE | node
}

/// The result of a one-node graph, or its error.
fn one(bound: &[TensorInfo], node: Node) -> Result<TensorInfo, GraphError> {
    validate(bound, &[node], &[]).map(|p| p.node(0).info)
}

fn shape_of(info: &TensorInfo) -> (u32, Vec<u32>) {
    (info.dtype, info.dims[..info.rank as usize].to_vec())
}

fn ok(bound: &[TensorInfo], node: Node) -> (u32, Vec<u32>) {
    let info = one(bound, node).unwrap_or_else(|e| panic!("refused: {e}"));
    // `bytes` is element count times dtype size, computed here independently.
    let count: u64 = info.dims[..info.rank as usize]
        .iter()
        .map(|&d| d as u64)
        .product();
    let esize = if info.dtype == DTYPE_I8 { 1 } else { 4 };
    assert_eq!(info.bytes, count * esize);
    shape_of(&info)
}

fn err(bound: &[TensorInfo], node: Node) -> GraphErrorKind {
    match one(bound, node) {
        Ok(info) => panic!("accepted: {info:?}"),
        Err(e) => {
            assert_eq!(e.node, Some(0));
            e.kind
        }
    }
}

#[test]
fn op_names_round_trip() {
    for code in 1..op::COUNT {
        let name = op_name(code).expect("every op has a name");
        assert_eq!(op_by_name(name), Some(code));
    }
    assert_eq!(op_name(0), None);
    assert_eq!(op_name(op::COUNT), None);
    assert_eq!(op_by_name("conv3d"), None);
}

#[test]
fn matmul_shapes() {
    let b = [
        f(&[2, 3]),
        f(&[3, 4]),
        f(&[5, 2, 3]),
        f(&[3, 2]),
        f(&[4, 3]),
    ];
    assert_eq!(ok(&b, n(op::MATMUL, &[0, 1], &[])), (DTYPE_F32, vec![2, 4]));
    assert_eq!(
        ok(&b, n(op::MATMUL, &[2, 1], &[])),
        (DTYPE_F32, vec![5, 2, 4])
    );
    // in0 [3, 2] transposed is [2, 3].
    assert_eq!(
        ok(&b, n(op::MATMUL, &[3, 1], &[1, 0])),
        (DTYPE_F32, vec![2, 4])
    );
    // in1 [4, 3] transposed is [3, 4].
    assert_eq!(
        ok(&b, n(op::MATMUL, &[0, 4], &[0, 1])),
        (DTYPE_F32, vec![2, 4])
    );
    // Both: [3, 2]^T x [4, 3]^T = [2, 3] x [3, 4].
    assert_eq!(
        ok(&b, n(op::MATMUL, &[3, 4], &[1, 1])),
        (DTYPE_F32, vec![2, 4])
    );
}

#[test]
fn matmul_refusals() {
    let b = [
        f(&[2, 5]),
        f(&[7, 4]),
        f(&[4]),
        t(DTYPE_I32, &[5, 7]),
        f(&[2, 5, 7]),
    ];
    let e = one(&b, n(op::MATMUL, &[0, 1], &[])).unwrap_err();
    assert_eq!(e.kind, GraphErrorKind::InnerDims { left: 5, right: 7 });
    assert_eq!(
        e.to_string(),
        "node 0 (matmul): inner dimensions 5 and 7 differ"
    );
    assert_eq!(
        err(&b, n(op::MATMUL, &[2, 1], &[])),
        GraphErrorKind::Rank {
            slot: 0,
            got: 1,
            want: "2 to 4"
        }
    );
    assert_eq!(
        err(&b, n(op::MATMUL, &[0, 4], &[])),
        GraphErrorKind::Rank {
            slot: 1,
            got: 3,
            want: "2"
        }
    );
    assert_eq!(
        err(&b, n(op::MATMUL, &[0, 3], &[])),
        GraphErrorKind::Dtype {
            slot: 1,
            got: DTYPE_I32,
            want: DTYPE_F32
        }
    );
    assert_eq!(
        err(&b, n(op::MATMUL, &[0, 1], &[2])),
        GraphErrorKind::BadAttr {
            index: 0,
            value: 2,
            why: "a transpose flag is 0 or 1"
        }
    );
    assert_eq!(
        err(&b, n(op::MATMUL, &[0, 1], &[0, 0, 9])),
        GraphErrorKind::UnusedAttr { index: 2 }
    );
    assert_eq!(
        err(&b, n(op::MATMUL, &[0], &[])),
        GraphErrorKind::InputCount { got: 1, want: "2" }
    );
}

#[test]
fn elementwise_broadcast() {
    let b = [
        f(&[4, 2, 3]),
        f(&[2, 3]),
        f(&[3]),
        f(&[2]),
        f(&[4, 2, 3]),
        f(&[1, 4, 2, 3]),
    ];
    for code in [op::ADD, op::MUL] {
        assert_eq!(ok(&b, n(code, &[0, 1], &[])), (DTYPE_F32, vec![4, 2, 3]));
        assert_eq!(ok(&b, n(code, &[0, 2], &[])), (DTYPE_F32, vec![4, 2, 3]));
        assert_eq!(ok(&b, n(code, &[0, 4], &[])), (DTYPE_F32, vec![4, 2, 3]));
        // [2] is not a suffix of [4, 2, 3]; nor is in1 longer than in0.
        for bad in [3, 5] {
            assert!(matches!(
                err(&b, n(code, &[0, bad], &[])),
                GraphErrorKind::Broadcast { .. }
            ));
        }
    }
    let e = one(&b, n(op::ADD, &[0, 3], &[])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "node 0 (add): in1 [2] does not broadcast over in0 [4, 2, 3] (it must be a suffix of it)"
    );
}

#[test]
fn unary_ops_keep_the_shape() {
    let b = [f(&[2, 3, 4, 5]), t(DTYPE_I8, &[3])];
    for code in [op::RELU, op::GELU, op::SIGMOID, op::TANH, op::SOFTMAX] {
        assert_eq!(ok(&b, n(code, &[0], &[])), (DTYPE_F32, vec![2, 3, 4, 5]));
        assert_eq!(
            err(&b, n(code, &[1], &[])),
            GraphErrorKind::Dtype {
                slot: 0,
                got: DTYPE_I8,
                want: DTYPE_F32
            }
        );
        assert_eq!(
            err(&b, n(code, &[0], &[0, 1])),
            GraphErrorKind::UnusedAttr { index: 1 }
        );
    }
}

#[test]
fn layernorm_shapes() {
    let b = [f(&[2, 8]), f(&[8]), f(&[8]), f(&[7]), f(&[1, 8])];
    let eps = 1e-6f32.to_bits();
    assert_eq!(
        ok(&b, n(op::LAYERNORM, &[0, 1, 2], &[])),
        (DTYPE_F32, vec![2, 8])
    );
    assert_eq!(
        ok(&b, n(op::LAYERNORM, &[0, 1, 2], &[eps])),
        (DTYPE_F32, vec![2, 8])
    );
    assert_eq!(
        err(&b, n(op::LAYERNORM, &[0, 3, 2], &[])),
        GraphErrorKind::Dim {
            slot: 1,
            dim: 0,
            got: 7,
            want: 8
        }
    );
    assert_eq!(
        err(&b, n(op::LAYERNORM, &[0, 1, 4], &[])),
        GraphErrorKind::Rank {
            slot: 2,
            got: 2,
            want: "1"
        }
    );
    for bad in [
        (-1.0f32).to_bits(),
        f32::NAN.to_bits(),
        f32::INFINITY.to_bits(),
    ] {
        assert!(matches!(
            err(&b, n(op::LAYERNORM, &[0, 1, 2], &[bad])),
            GraphErrorKind::BadAttr { index: 0, .. }
        ));
    }
    assert_eq!(
        err(&b, n(op::LAYERNORM, &[0, 1], &[])),
        GraphErrorKind::InputCount { got: 2, want: "3" }
    );
}

#[test]
fn argmax_drops_the_last_dim() {
    let b = [f(&[2, 5]), f(&[5]), f(&[3, 4, 6])];
    assert_eq!(ok(&b, n(op::ARGMAX, &[0], &[])), (DTYPE_I32, vec![2]));
    assert_eq!(ok(&b, n(op::ARGMAX, &[1], &[])), (DTYPE_I32, vec![1]));
    assert_eq!(ok(&b, n(op::ARGMAX, &[2], &[])), (DTYPE_I32, vec![3, 4]));
}

#[test]
fn reshape_keeps_the_element_count() {
    let mut q = t(DTYPE_I8, &[2, 6]);
    q.scale_bits = 0.5f32.to_bits();
    q.zero_point = -3;
    let b = [f(&[2, 6]), q];
    assert_eq!(
        ok(&b, n(op::RESHAPE, &[0], &[2, 3, 4])),
        (DTYPE_F32, vec![3, 4])
    );
    assert_eq!(
        ok(&b, n(op::RESHAPE, &[0], &[4, 1, 2, 3, 2])),
        (DTYPE_F32, vec![1, 2, 3, 2])
    );
    assert_eq!(
        ok(&b, n(op::RESHAPE, &[0], &[1, 12])),
        (DTYPE_F32, vec![12])
    );
    let out = one(&b, n(op::RESHAPE, &[1], &[1, 12])).unwrap();
    assert_eq!(
        (out.dtype, out.scale_bits, out.zero_point),
        (DTYPE_I8, q.scale_bits, -3)
    );
    assert_eq!(
        err(&b, n(op::RESHAPE, &[0], &[2, 5, 2])),
        GraphErrorKind::ReshapeCount { from: 12, to: 10 }
    );
    assert!(matches!(
        err(&b, n(op::RESHAPE, &[0], &[0])),
        GraphErrorKind::BadAttr { index: 0, .. }
    ));
    assert!(matches!(
        err(&b, n(op::RESHAPE, &[0], &[5, 1, 1, 1, 1, 12])),
        GraphErrorKind::BadAttr { index: 0, .. }
    ));
    assert!(matches!(
        err(&b, n(op::RESHAPE, &[0], &[2, 12, 0])),
        GraphErrorKind::BadAttr { index: 2, .. }
    ));
    assert_eq!(
        err(&b, n(op::RESHAPE, &[0], &[2, 3, 4, 7])),
        GraphErrorKind::UnusedAttr { index: 3 }
    );
    // Element counts that overflow u64 when multiplied are just unequal, not a panic.
    let big = ai::MAX_DIM;
    assert!(matches!(
        err(&b, n(op::RESHAPE, &[0], &[4, big, big, big, big])),
        GraphErrorKind::ReshapeCount { from: 12, .. }
    ));
}

#[test]
fn transpose_permutes() {
    let b = [f(&[2, 3, 4]), f(&[5, 7])];
    assert_eq!(
        ok(&b, n(op::TRANSPOSE, &[0], &[2, 0, 1])),
        (DTYPE_F32, vec![4, 2, 3])
    );
    assert_eq!(
        ok(&b, n(op::TRANSPOSE, &[0], &[0, 1, 2])),
        (DTYPE_F32, vec![2, 3, 4])
    );
    assert_eq!(
        ok(&b, n(op::TRANSPOSE, &[1], &[1, 0])),
        (DTYPE_F32, vec![7, 5])
    );
    // A repeated axis, an axis past the rank, and a word past the rank.
    assert!(matches!(
        err(&b, n(op::TRANSPOSE, &[0], &[1, 1, 0])),
        GraphErrorKind::BadAttr {
            index: 1,
            value: 1,
            ..
        }
    ));
    assert!(matches!(
        err(&b, n(op::TRANSPOSE, &[0], &[0, 3, 1])),
        GraphErrorKind::BadAttr {
            index: 1,
            value: 3,
            ..
        }
    ));
    assert_eq!(
        err(&b, n(op::TRANSPOSE, &[1], &[1, 0, 2])),
        GraphErrorKind::UnusedAttr { index: 2 }
    );
}

#[test]
fn embedding_dtypes_and_shape() {
    let b = [
        f(&[10, 4]),
        t(DTYPE_I32, &[2, 3]),
        f(&[2, 3]),
        t(DTYPE_I32, &[1, 2, 3]),
        f(&[10]),
    ];
    assert_eq!(
        ok(&b, n(op::EMBEDDING, &[0, 1], &[])),
        (DTYPE_F32, vec![2, 3, 4])
    );
    assert_eq!(
        ok(&b, n(op::EMBEDDING, &[0, 3], &[])),
        (DTYPE_F32, vec![1, 2, 3, 4])
    );
    assert_eq!(
        err(&b, n(op::EMBEDDING, &[0, 2], &[])),
        GraphErrorKind::Dtype {
            slot: 1,
            got: DTYPE_F32,
            want: DTYPE_I32
        }
    );
    assert_eq!(
        err(&b, n(op::EMBEDDING, &[4, 1], &[])),
        GraphErrorKind::Rank {
            slot: 0,
            got: 1,
            want: "2"
        }
    );
    let b2 = [f(&[10, 4]), t(DTYPE_I32, &[1, 1, 2, 3])];
    assert_eq!(
        err(&b2, n(op::EMBEDDING, &[0, 1], &[])),
        GraphErrorKind::Rank {
            slot: 1,
            got: 4,
            want: "1 to 3"
        }
    );
}

#[test]
fn conv2d_output_size() {
    let b = [
        f(&[1, 3, 8, 8]),
        f(&[16, 3, 3, 3]),
        f(&[16]),
        f(&[2, 3, 7, 5]),
        f(&[15]),
    ];
    // (H + 2p - 3) / s + 1 by hand: 8+2-3=7 -> 8; 8-3=5, /2 -> 3; 8+2-3=7, /2 -> 4.
    assert_eq!(
        ok(&b, n(op::CONV2D, &[0, 1], &[1, 1])),
        (DTYPE_F32, vec![1, 16, 8, 8])
    );
    assert_eq!(
        ok(&b, n(op::CONV2D, &[0, 1], &[1, 0])),
        (DTYPE_F32, vec![1, 16, 6, 6])
    );
    assert_eq!(
        ok(&b, n(op::CONV2D, &[0, 1], &[2, 0])),
        (DTYPE_F32, vec![1, 16, 3, 3])
    );
    assert_eq!(
        ok(&b, n(op::CONV2D, &[0, 1, 2], &[2, 1])),
        (DTYPE_F32, vec![1, 16, 4, 4])
    );
    // 7x5, stride 2, pad 1: (9-3)/2+1 = 4, (7-3)/2+1 = 3.
    assert_eq!(
        ok(&b, n(op::CONV2D, &[3, 1], &[2, 1])),
        (DTYPE_F32, vec![2, 16, 4, 3])
    );
    assert_eq!(
        err(&b, n(op::CONV2D, &[0, 1, 4], &[1, 0])),
        GraphErrorKind::Dim {
            slot: 2,
            dim: 0,
            got: 15,
            want: 16
        }
    );
    assert!(matches!(
        err(&b, n(op::CONV2D, &[0, 1], &[3, 0])),
        GraphErrorKind::BadAttr {
            index: 0,
            value: 3,
            ..
        }
    ));
    assert!(matches!(
        err(&b, n(op::CONV2D, &[0, 1], &[0, 0])),
        GraphErrorKind::BadAttr {
            index: 0,
            value: 0,
            ..
        }
    ));
    assert!(matches!(
        err(&b, n(op::CONV2D, &[0, 1], &[1, 2])),
        GraphErrorKind::BadAttr {
            index: 1,
            value: 2,
            ..
        }
    ));
    let small = [
        f(&[1, 1, 2, 9]),
        f(&[1, 1, 3, 3]),
        f(&[1, 2, 3, 3]),
        f(&[1, 1, 3, 2]),
    ];
    assert_eq!(
        err(&small, n(op::CONV2D, &[0, 1], &[1, 0])),
        GraphErrorKind::ConvTooSmall { h: 2, w: 9 }
    );
    // With padding 1 a 2x9 input is large enough: (2+2-3)+1 = 2, (9+2-3)+1 = 9.
    assert_eq!(
        ok(&small, n(op::CONV2D, &[0, 1], &[1, 1])),
        (DTYPE_F32, vec![1, 1, 2, 9])
    );
    assert_eq!(
        err(&small, n(op::CONV2D, &[0, 2], &[1, 1])),
        GraphErrorKind::Dim {
            slot: 1,
            dim: 1,
            got: 2,
            want: 1
        }
    );
    assert_eq!(
        err(&small, n(op::CONV2D, &[0, 3], &[1, 1])),
        GraphErrorKind::Dim {
            slot: 1,
            dim: 3,
            got: 2,
            want: 3
        }
    );
}

#[test]
fn matmul_i8_accumulates_to_i32() {
    let b = [
        t(DTYPE_I8, &[2, 3]),
        t(DTYPE_I8, &[3, 4]),
        f(&[3, 4]),
        t(DTYPE_I8, &[4, 4]),
    ];
    assert_eq!(
        ok(&b, n(op::MATMUL_I8, &[0, 1], &[])),
        (DTYPE_I32, vec![2, 4])
    );
    assert_eq!(
        err(&b, n(op::MATMUL_I8, &[0, 2], &[])),
        GraphErrorKind::Dtype {
            slot: 1,
            got: DTYPE_F32,
            want: DTYPE_I8
        }
    );
    assert_eq!(
        err(&b, n(op::MATMUL_I8, &[0, 3], &[])),
        GraphErrorKind::InnerDims { left: 3, right: 4 }
    );
}

fn q8(d: &[u32], scale: f32, zp: i32) -> TensorInfo {
    TensorInfo {
        scale_bits: scale.to_bits(),
        zero_point: zp,
        ..t(DTYPE_I8, d)
    }
}

#[test]
fn quantize_gives_i8_with_its_scale_and_zero_point() {
    let b = [f(&[2, 3]), t(DTYPE_I32, &[2, 3]), q8(&[3, 4], 0.25, 1)];
    let s = 0.05f32.to_bits();
    let info = one(&b, n(op::QUANTIZE, &[0], &[s, (-7i32) as u32])).unwrap();
    assert_eq!(shape_of(&info), (DTYPE_I8, vec![2, 3]));
    assert_eq!((info.scale_bits, info.zero_point, info.bytes), (s, -7, 6));
    // A following int8 matmul reads it as an i8 tensor with those parameters.
    let nodes = [
        n(op::QUANTIZE, &[0], &[s, 3]),
        n(op::MATMUL_I8, &[r(0), 2], &[]),
        n(op::DEQUANTIZE, &[r(1)], &[0.0125f32.to_bits(), 0]),
    ];
    let plan = validate(&b, &nodes, &[]).unwrap();
    assert_eq!(shape_of(&plan.node(1).info), (DTYPE_I32, vec![2, 4]));
    assert_eq!(shape_of(&plan.node(2).info), (DTYPE_F32, vec![2, 4]));
    // Refusals: the scale (zero, negative, NaN, infinite), the zero point, the dtype,
    // unused attributes.
    for bad in [
        0u32,
        (-1.0f32).to_bits(),
        f32::NAN.to_bits(),
        f32::INFINITY.to_bits(),
    ] {
        assert!(matches!(
            err(&b, n(op::QUANTIZE, &[0], &[bad, 0])),
            GraphErrorKind::BadAttr { index: 0, .. }
        ));
        assert!(matches!(
            err(&b, n(op::DEQUANTIZE, &[1], &[bad, 0])),
            GraphErrorKind::BadAttr { index: 0, .. }
        ));
    }
    for zp in [128i32, -129, i32::MIN] {
        assert!(matches!(
            err(&b, n(op::QUANTIZE, &[0], &[s, zp as u32])),
            GraphErrorKind::BadAttr { index: 1, .. }
        ));
    }
    assert_eq!(
        err(&b, n(op::QUANTIZE, &[1], &[s, 0])),
        GraphErrorKind::Dtype {
            slot: 0,
            got: DTYPE_I32,
            want: DTYPE_F32
        }
    );
    assert_eq!(
        err(&b, n(op::QUANTIZE, &[0], &[s, 0, 1])),
        GraphErrorKind::UnusedAttr { index: 2 }
    );
    assert_eq!(
        err(&b, n(op::QUANTIZE, &[0, 0], &[s, 0])),
        GraphErrorKind::InputCount { got: 2, want: "1" }
    );
}

#[test]
fn dequantize_takes_i8_or_i32_and_gives_f32() {
    let b = [q8(&[4], 0.5, -3), t(DTYPE_I32, &[2, 2, 2]), f(&[4])];
    let s = 0.5f32.to_bits();
    assert_eq!(
        ok(&b, n(op::DEQUANTIZE, &[0], &[s, (-3i32) as u32])),
        (DTYPE_F32, vec![4])
    );
    // Any i32 zero point (the difference is taken in i64).
    assert_eq!(
        ok(&b, n(op::DEQUANTIZE, &[1], &[s, i32::MIN as u32])),
        (DTYPE_F32, vec![2, 2, 2])
    );
    assert!(matches!(
        err(&b, n(op::DEQUANTIZE, &[2], &[s, 0])),
        GraphErrorKind::Dtype {
            slot: 0,
            got: DTYPE_F32,
            ..
        }
    ));
    assert_eq!(
        err(&b, n(op::DEQUANTIZE, &[0], &[s, 0, 0, 9])),
        GraphErrorKind::UnusedAttr { index: 3 }
    );
}

#[test]
fn an_i8_output_must_agree_on_quantization() {
    let b = [
        f(&[4]),
        q8(&[4], 0.5, 2),
        q8(&[4], 0.5, 3),
        q8(&[4], 0.25, 2),
    ];
    let nodes = [n(op::QUANTIZE, &[0], &[0.5f32.to_bits(), 2])];
    assert!(validate(&b, &nodes, &[Output { node: 0, tensor: 1 }]).is_ok());
    for tensor in [2, 3] {
        let e = validate(&b, &nodes, &[Output { node: 0, tensor }]).unwrap_err();
        assert_eq!(e.kind, GraphErrorKind::OutputQuant { index: 0 });
        assert_eq!(e.node, Some(0));
    }
}

#[test]
fn references_and_counts() {
    let b = [f(&[2, 2])];
    // A node naming itself, a later node, and a bound tensor that does not exist.
    let e = validate(&b, &[n(op::RELU, &[r(0)], &[])], &[]).unwrap_err();
    assert_eq!(
        e.kind,
        GraphErrorKind::ForwardReference { slot: 0, target: 0 }
    );
    assert_eq!(
        e.to_string(),
        "node 0 (relu): in0 names node 0: inputs may name only earlier nodes"
    );
    let e = validate(
        &b,
        &[n(op::RELU, &[0], &[]), n(op::ADD, &[r(0), r(2)], &[])],
        &[],
    );
    assert_eq!(
        e.unwrap_err(),
        GraphError {
            node: Some(1),
            op: op::ADD,
            kind: GraphErrorKind::ForwardReference { slot: 1, target: 2 }
        }
    );
    let e = validate(&b, &[n(op::RELU, &[1], &[])], &[]).unwrap_err();
    assert_eq!(
        e.kind,
        GraphErrorKind::NoSuchBound {
            slot: 0,
            index: 1,
            n_bound: 1
        }
    );
    // REF_NODE | huge is a forward reference, not an index overflow.
    let e = validate(&b, &[n(op::RELU, &[u32::MAX], &[])], &[]).unwrap_err();
    assert_eq!(
        e.kind,
        GraphErrorKind::ForwardReference {
            slot: 0,
            target: u32::MAX >> 1
        }
    );
    let mut junk = n(op::RELU, &[0], &[]);
    junk.inputs[2] = 5;
    assert_eq!(err(&b, junk), GraphErrorKind::UnusedInput { slot: 2 });
    let mut many = n(op::RELU, &[0], &[]);
    many.n_inputs = u32::MAX;
    assert_eq!(
        err(&b, many),
        GraphErrorKind::InputCount {
            got: u32::MAX,
            want: "1"
        }
    );
    for code in [0, op::COUNT, u32::MAX] {
        let e = validate(&b, &[n(code, &[0], &[])], &[]).unwrap_err();
        assert_eq!(e.kind, GraphErrorKind::UnknownOp);
        assert_eq!(
            e.to_string(),
            format!("node 0 (?): unknown operation {code}")
        );
    }
    let nodes = vec![n(op::RELU, &[0], &[]); ai::MAX_NODES + 1];
    assert_eq!(
        validate(&b, &nodes, &[]).unwrap_err().kind,
        GraphErrorKind::TooManyNodes {
            n: ai::MAX_NODES + 1
        }
    );
    assert!(validate(&b, &nodes[..ai::MAX_NODES], &[]).is_ok());
    let bound = vec![f(&[1]); ai::MAX_BOUND + 1];
    assert_eq!(
        validate(&bound, &[], &[]).unwrap_err().kind,
        GraphErrorKind::TooManyBound {
            n: ai::MAX_BOUND + 1
        }
    );
    let outs = vec![Output { node: 0, tensor: 0 }; ai::MAX_OUTPUTS + 1];
    assert_eq!(
        validate(&b, &nodes[..1], &outs).unwrap_err().kind,
        GraphErrorKind::TooManyOutputs {
            n: ai::MAX_OUTPUTS + 1
        }
    );
    // An empty graph is valid (the queue's overhead is measured with one).
    let p = validate(&[], &[], &[]).unwrap();
    assert_eq!((p.nodes().len(), p.arena_bytes()), (0, 0));
}

#[test]
fn bound_tensors_are_checked() {
    let cases: [(TensorInfo, &str); 6] = [
        (t(7, &[2]), "unknown dtype"),
        (t(DTYPE_F32, &[]), "rank must be 1 to 4"),
        (
            TensorInfo {
                rank: 5,
                ..f(&[1, 1, 1, 1])
            },
            "rank must be 1 to 4",
        ),
        (f(&[2, 0]), "a dimension is 0 or above the largest allowed"),
        (
            TensorInfo {
                dims: [2, 3, 0, 9],
                ..f(&[2, 3])
            },
            "dimensions past the rank are not 0",
        ),
        (f(&[1 << 14, 1 << 14]), "larger than the largest tensor"),
    ];
    for (info, why) in cases {
        let e = validate(&[f(&[1]), info], &[], &[]).unwrap_err();
        assert_eq!(e.kind, GraphErrorKind::BadBound { index: 1, why });
        assert_eq!(e.to_string(), format!("bound tensor 1: {why}"));
    }
    // Exactly MAX_TENSOR_BYTES is allowed: 4096 x 4096 f32 = 64 MiB.
    assert_eq!(check_info(&f(&[4096, 4096])), Ok(64 << 20));
    assert!(check_info(&f(&[4096, 4097])).is_err());
}

#[test]
fn results_larger_than_the_limit_are_refused() {
    // [4096, 1] x [1, 4097] would be 4096 * 4097 * 4 bytes: one row over 64 MiB.
    let b = [f(&[4096, 1]), f(&[1, 4097]), f(&[1, 4096])];
    assert_eq!(
        err(&b, n(op::MATMUL, &[0, 1], &[])),
        GraphErrorKind::TooLarge
    );
    assert_eq!(
        ok(&b, n(op::MATMUL, &[0, 2], &[])),
        (DTYPE_F32, vec![4096, 4096])
    );
    // Embedding rows from a small index tensor into a big result.
    let b = [f(&[2, 1 << 20]), t(DTYPE_I32, &[17])];
    assert_eq!(
        err(&b, n(op::EMBEDDING, &[0, 1], &[])),
        GraphErrorKind::TooLarge
    );
}

#[test]
fn outputs_are_checked() {
    let b = [f(&[2, 3]), f(&[2, 3]), t(DTYPE_I32, &[2, 3]), f(&[3, 2])];
    let nodes = [n(op::RELU, &[0], &[])];
    let good = [Output { node: 0, tensor: 1 }];
    assert!(validate(&b, &nodes, &good).is_ok());
    let e = validate(&b, &nodes, &[Output { node: 1, tensor: 1 }]).unwrap_err();
    assert_eq!(e.kind, GraphErrorKind::OutputNode { index: 0, node: 1 });
    let e = validate(&b, &nodes, &[Output { node: 0, tensor: 4 }]).unwrap_err();
    assert_eq!(
        e.kind,
        GraphErrorKind::OutputTensor {
            index: 0,
            tensor: 4
        }
    );
    for tensor in [2, 3] {
        let e = validate(&b, &nodes, &[Output { node: 0, tensor }]).unwrap_err();
        assert!(matches!(
            e.kind,
            GraphErrorKind::OutputMismatch { index: 0, .. }
        ));
    }
    let e = validate(&b, &nodes, &[Output { node: 0, tensor: 3 }]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "node 0 (relu): output 0: the node gives f32 [2, 3] but the tensor is f32 [3, 2]"
    );
    let e = validate(&b, &nodes, &[good[0], Output { node: 0, tensor: 1 }]).unwrap_err();
    assert_eq!(
        e.kind,
        GraphErrorKind::DuplicateOutput { first: 0, index: 1 }
    );
}

#[test]
fn plan_resolves_inputs_and_reuses_dead_buffers() {
    // x -> relu -> relu -> relu -> relu: only two buffers are ever live at once.
    let b = [f(&[16])];
    let nodes = [
        n(op::RELU, &[0], &[]),
        n(op::RELU, &[r(0)], &[]),
        n(op::RELU, &[r(1)], &[]),
        n(op::ADD, &[r(2), 0], &[]),
    ];
    let p = validate(&b, &nodes, &[]).unwrap();
    assert_eq!(p.inputs(0), &[Source::Bound(0)]);
    assert_eq!(p.inputs(3), &[Source::Node(2), Source::Bound(0)]);
    let offsets: Vec<u64> = p.nodes().iter().map(|np| np.offset).collect();
    assert_eq!(offsets, vec![0, 64, 0, 64]);
    assert_eq!(p.arena_bytes(), 128);
    // Marked as an output, node 0's buffer lives to the end and is never reused.
    let b2 = [f(&[16]), f(&[16])];
    let p = validate(&b2, &nodes, &[Output { node: 0, tensor: 1 }]).unwrap();
    let offsets: Vec<u64> = p.nodes().iter().map(|np| np.offset).collect();
    assert_eq!(offsets, vec![0, 64, 128, 64]);
    assert_eq!(p.arena_bytes(), 192);
}

/// Random graphs of elementwise and shape-changing nodes: in every plan, no two results
/// whose lifetimes overlap share a byte of the arena, offsets are aligned, and the arena
/// holds every buffer. Lifetimes are computed here from the nodes, not read from the plan.
#[test]
fn live_buffers_never_overlap() {
    for seed in 1..=300u64 {
        let mut rng = XorShift::new(seed);
        let sizes = [1u32, 3, 16, 17, 64, 100];
        let bound: Vec<TensorInfo> = sizes.iter().map(|&s| f(&[s])).collect();
        let count = 1 + rng.index(40);
        let mut nodes: Vec<Node> = Vec::new();
        let mut sizes_of: Vec<u32> = Vec::new();
        for i in 0..count {
            // Pick an input: a bound tensor or an earlier node.
            let pick = |rng: &mut XorShift| -> (u32, u32) {
                if i > 0 && rng.below(3) != 0 {
                    let j = rng.index(i);
                    (r(j as u32), sizes_of[j])
                } else {
                    let j = rng.index(bound.len());
                    (j as u32, sizes[j])
                }
            };
            let (a, sa) = pick(&mut rng);
            let node = match rng.below(3) {
                0 => n(op::RELU, &[a], &[]),
                1 => {
                    // Add a second input of the same size when one exists.
                    let cands: Vec<u32> = (0..i)
                        .filter(|&j| sizes_of[j] == sa)
                        .map(|j| r(j as u32))
                        .collect();
                    let b = if cands.is_empty() {
                        a
                    } else {
                        cands[rng.index(cands.len())]
                    };
                    n(op::ADD, &[a, b], &[])
                }
                _ => n(op::SOFTMAX, &[a], &[]),
            };
            nodes.push(node);
            sizes_of.push(sa);
        }
        let n_out = rng.index(3).min(count);
        let mut bound_out = bound.clone();
        let mut outputs = Vec::new();
        for k in 0..n_out {
            let node = (count - 1 - k) as u32;
            bound_out.push(f(&[sizes_of[node as usize]]));
            outputs.push(Output {
                node,
                tensor: (bound_out.len() - 1) as u32,
            });
        }
        let p = validate(&bound_out, &nodes, &outputs)
            .unwrap_or_else(|e| panic!("seed {seed}: refused: {e}"));
        // Lifetimes [i, last] from the nodes themselves.
        let mut last: Vec<usize> = (0..count).collect();
        for (i, node) in nodes.iter().enumerate() {
            for &inp in &node.inputs[..node.n_inputs as usize] {
                if inp & REF_NODE != 0 {
                    last[(inp & !REF_NODE) as usize] = i;
                }
            }
        }
        for o in &outputs {
            last[o.node as usize] = count;
        }
        for i in 0..count {
            let (oi, bi) = (p.node(i).offset, sizes_of[i] as u64 * 4);
            assert_eq!(oi % ARENA_ALIGN, 0, "seed {seed}");
            assert!(oi + bi <= p.arena_bytes(), "seed {seed}");
            for (j, &sj) in sizes_of.iter().enumerate().skip(i + 1) {
                let lives_together = j <= last[i];
                if !lives_together {
                    continue;
                }
                let (oj, bj) = (p.node(j).offset, sj as u64 * 4);
                assert!(
                    oi + bi <= oj || oj + bj <= oi,
                    "seed {seed}: nodes {i} [{oi}, +{bi}) and {j} [{oj}, +{bj}) overlap"
                );
            }
        }
    }
}
