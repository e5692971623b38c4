//! Host tests of the `.waymodel` parser and writer: a round trip, every truncation and
//! every single-bit flip of a valid file refused, and hand-made bad files (with correct
//! hashes, so the check behind the hashes is what refuses them) each refused with the
//! error that names what is wrong.

use super::*;
use alloc::string::ToString;
use alloc::vec;
use wayos_abi::ai::{op, DTYPE_F32, DTYPE_I32, DTYPE_I8};

fn info(dtype: u32, d: &[u32]) -> TensorInfo {
    let mut t = TensorInfo {
        dtype,
        rank: d.len() as u32,
        ..TensorInfo::default()
    };
    t.dims[..d.len()].copy_from_slice(d);
    t
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn node(code: u32, ins: &[u32], attrs: &[u32]) -> Node {
    let mut n = Node {
        op: code,
        n_inputs: ins.len() as u32,
        ..Node::default()
    };
    n.inputs[..ins.len()].copy_from_slice(ins);
    n.attrs[..attrs.len()].copy_from_slice(attrs);
    n
}

/// x [1, 4] -> matmul w [4, 3] -> add b [3] -> softmax -> probs, argmax -> class; plus an
/// i8 constant nobody reads, to carry quantization through the format.
fn spec() -> Spec {
    let mut q = info(DTYPE_I8, &[2, 2]);
    q.scale_bits = 0.25f32.to_bits();
    q.zero_point = -1;
    q.tier = ai::TIER_FAR;
    Spec {
        name: "tiny".into(),
        mode: ai::MODE_BITEXACT,
        tensors: vec![
            TensorSpec {
                name: "x".into(),
                info: info(DTYPE_F32, &[1, 4]),
                data: None,
            },
            TensorSpec {
                name: "w".into(),
                info: info(DTYPE_F32, &[4, 3]),
                data: Some(f32s(&[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.])),
            },
            TensorSpec {
                name: "b".into(),
                info: info(DTYPE_F32, &[3]),
                data: Some(f32s(&[0.5, -0.5, 0.0])),
            },
            TensorSpec {
                name: "q".into(),
                info: q,
                data: Some(vec![1, 2, 0xff, 0x80]),
            },
        ],
        nodes: vec![
            node(op::MATMUL, &[0, 1], &[]),
            node(op::ADD, &[REF_NODE, 2], &[]),
            node(op::SOFTMAX, &[REF_NODE | 1], &[]),
            node(op::ARGMAX, &[REF_NODE | 2], &[]),
        ],
        outputs: vec![
            OutputSpec {
                name: "probs".into(),
                node: 2,
                info: info(DTYPE_F32, &[1, 3]),
            },
            OutputSpec {
                name: "class".into(),
                node: 3,
                info: info(DTYPE_I32, &[1]),
            },
        ],
        labels: vec!["cat".into(), "dog".into(), "émeu".into()],
    }
}

fn valid() -> Vec<u8> {
    write(&spec()).unwrap_or_else(|e| panic!("{e}"))
}

fn header(bytes: &[u8]) -> Header {
    Header::read_from_bytes(&bytes[..HEADER_BYTES]).unwrap()
}

fn set_header(bytes: &mut [u8], h: &Header) {
    bytes[..HEADER_BYTES].copy_from_slice(h.as_bytes());
}

/// Applies `change` to tensor entry `i`, rehashes, and returns the parse error.
#[track_caller]
fn tensor_err(i: usize, change: impl Fn(&mut TensorEntry)) -> ModelError {
    let mut b = valid();
    let h = header(&b);
    let at = h.tensors.offset as usize + i * 64;
    let mut e = TensorEntry::read_from_bytes(&b[at..at + 64]).unwrap();
    change(&mut e);
    b[at..at + 64].copy_from_slice(e.as_bytes());
    rehash(&mut b);
    match parse(&b) {
        Ok(_) => panic!("accepted a bad tensor"),
        Err(e) => e,
    }
}

#[track_caller]
fn header_err(change: impl Fn(&mut Header)) -> ModelError {
    let mut b = valid();
    let mut h = header(&b);
    change(&mut h);
    set_header(&mut b, &h);
    rehash(&mut b);
    match parse(&b) {
        Ok(_) => panic!("accepted a bad header"),
        Err(e) => e,
    }
}

#[test]
fn round_trip_keeps_everything() {
    let s = spec();
    let bytes = valid();
    let m = parse(&bytes).unwrap();
    assert_eq!(m.name(), "tiny");
    assert_eq!(m.mode(), ai::MODE_BITEXACT);
    assert_eq!(
        (
            m.n_tensors(),
            m.n_nodes(),
            m.n_inputs(),
            m.n_outputs(),
            m.n_labels()
        ),
        (4, 4, 1, 2, 3)
    );
    for (i, ts) in s.tensors.iter().enumerate() {
        let t = m.tensor(i).unwrap();
        assert_eq!(t.name, ts.name);
        assert_eq!(t.is_input, ts.data.is_none());
        assert_eq!(t.data, ts.data.as_deref().unwrap_or(&[]));
        let want = TensorInfo {
            bytes: t.info.bytes,
            ..ts.info
        };
        assert_eq!(t.info, want);
        assert_eq!(m.tensor_by_name(&ts.name), Some(i));
    }
    assert_eq!(m.tensor(1).unwrap().info.bytes, 48);
    assert_eq!(m.tensor(3).unwrap().info.tier, ai::TIER_FAR);
    assert_eq!(m.tensor(4), None);
    assert_eq!((m.input(0), m.input(1)), (Some(0), None));
    for (i, n) in s.nodes.iter().enumerate() {
        assert_eq!(m.node(i).as_ref(), Some(n));
    }
    assert_eq!(m.node(4), None);
    for (i, o) in s.outputs.iter().enumerate() {
        let got = m.output(i).unwrap();
        assert_eq!((got.name, got.node as u32), (o.name.as_str(), o.node));
        assert_eq!(
            (got.info.dtype, got.info.rank, got.info.dims),
            (o.info.dtype, o.info.rank, o.info.dims)
        );
    }
    let labels: Vec<&str> = (0..3).map(|i| m.label(i).unwrap()).collect();
    assert_eq!(labels, ["cat", "dog", "émeu"]);
    // The weights hash is SHA-256 of the weights section, computed here by sha2 directly.
    let h = header(&bytes);
    let w = &bytes[h.weights.offset as usize..(h.weights.offset + h.weights.len) as usize];
    let direct: [u8; 32] = Sha256::digest(w).into();
    assert_eq!(m.weights_sha256(), direct);

    let g = m.graph().unwrap();
    assert_eq!(g.bound.len(), 6);
    assert_eq!(
        g.outputs,
        vec![Output { node: 2, tensor: 4 }, Output { node: 3, tensor: 5 }]
    );
    assert_eq!(g.plan.node(3).info.dtype, DTYPE_I32);
    // Writing what was read gives the same bytes.
    assert_eq!(write(&s).unwrap(), bytes);
}

#[test]
fn every_truncation_is_refused() {
    let bytes = valid();
    for len in 0..bytes.len() {
        let e = parse(&bytes[..len]).expect_err("a truncated file parsed");
        if len < HEADER_BYTES {
            assert_eq!(e.kind, ModelErrorKind::TooShort { len });
        }
    }
    // One byte more is refused too.
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(parse(&longer).is_err());
}

#[test]
fn every_bit_flip_is_refused() {
    let bytes = valid();
    let mut b = bytes.clone();
    for i in 0..b.len() {
        for bit in 0..8 {
            b[i] ^= 1 << bit;
            if parse(&b).is_ok() {
                panic!("flipping bit {bit} of byte {i} went unnoticed");
            }
            b[i] ^= 1 << bit;
        }
    }
}

#[test]
fn hashes_are_checked() {
    let mut b = valid();
    let h = header(&b);
    let w = h.weights.offset as usize;
    b[w] ^= 1;
    assert_eq!(
        parse(&b).unwrap_err().to_string(),
        "weights section: weights SHA-256 does not match"
    );
    b[w] ^= 1;
    // A label renamed "cat" -> "bat": structurally fine, caught by the metadata hash.
    let s = h.strings.offset as usize + b"tinyxwbqprobsclass".len();
    assert_eq!(&b[s..s + 3], b"cat");
    b[s] = b'b';
    assert_eq!(
        parse(&b).unwrap_err().to_string(),
        "header: metadata SHA-256 does not match"
    );
    rehash(&mut b);
    assert_eq!(parse(&b).unwrap().label(0), Some("bat"));
}

#[test]
fn header_fields_are_checked() {
    use ModelErrorKind::*;
    assert_eq!(header_err(|h| h.magic[0] = b'w').kind, BadMagic);
    assert_eq!(
        header_err(|h| h.version = 2).kind,
        BadVersion { version: 2 }
    );
    assert!(matches!(
        header_err(|h| h.header_bytes = 200).kind,
        Value { .. }
    ));
    assert!(matches!(
        header_err(|h| h.total_bytes += 64).kind,
        Value { .. }
    ));
    assert_eq!(
        header_err(|h| h.n_tensors = 10_000).kind,
        Count {
            n: 10_000,
            max: MAX_TENSORS
        }
    );
    assert_eq!(
        header_err(|h| h.n_nodes = u32::MAX).kind,
        Count {
            n: u32::MAX,
            max: 1024
        }
    );
    assert_eq!(header_err(|h| h.n_outputs = 9).kind, Count { n: 9, max: 8 });
    assert_eq!(
        header_err(|h| h.n_labels = 1 << 20).kind,
        Count {
            n: 1 << 20,
            max: MAX_LABELS
        }
    );
    assert!(matches!(
        header_err(|h| h.mode = 7).kind,
        Value { value: 7, .. }
    ));
    // A count that does not match its section's length.
    let e = header_err(|h| h.n_nodes = 3);
    assert_eq!(e.place, Place::Section("nodes"));
    assert_eq!(
        e.kind,
        Value {
            why: "length is not count times entry size",
            value: 224
        }
    );
    let e = header_err(|h| h.n_inputs = 5);
    assert_eq!(e.to_string(), "header: more inputs than tensors");
}

#[test]
fn sections_out_of_place_are_refused() {
    // Overlapping (nodes starting inside the tensor table), past the end, wrapping, and
    // misaligned sections.
    let e = header_err(|h| h.nodes.offset -= 8);
    assert_eq!(e.place, Place::Section("nodes"));
    let e = header_err(|h| h.weights.offset = u64::MAX - 8);
    assert_eq!(e.place, Place::Section("weights"));
    let e = header_err(|h| h.weights.len = u64::MAX);
    assert_eq!(
        e,
        ModelError {
            place: Place::Section("weights"),
            kind: ModelErrorKind::Value {
                why: "section runs past the end of the file",
                value: u64::MAX
            }
        }
    );
    let e = header_err(|h| h.strings.len += 100);
    assert_eq!(e.place, Place::Section("weights"));
    let e = header_err(|h| h.tensors.offset = 0);
    assert_eq!(e.place, Place::Section("tensors"));
    // Non-zero padding before a section.
    let mut b = valid();
    let h = header(&b);
    let pad = (h.strings.offset + h.strings.len) as usize;
    assert!(
        pad < h.weights.offset as usize,
        "this model has padding before the weights"
    );
    b[pad] = 1;
    rehash(&mut b);
    assert_eq!(
        parse(&b).unwrap_err().to_string(),
        "weights section: padding before the section is not zero"
    );
}

#[test]
fn tensors_are_checked() {
    use ModelErrorKind::*;
    let why = |e: ModelError| match e.kind {
        Invalid(w) | Value { why: w, .. } => w,
        k => panic!("{k:?}"),
    };
    assert_eq!(tensor_err(1, |e| e.dtype = 9).place, Place::Tensor(1));
    assert_eq!(why(tensor_err(1, |e| e.dtype = 9)), "unknown dtype");
    assert_eq!(why(tensor_err(1, |e| e.rank = 0)), "rank must be 1 to 4");
    assert_eq!(why(tensor_err(1, |e| e.rank = 200)), "rank must be 1 to 4");
    assert_eq!(
        why(tensor_err(1, |e| e.dims = [u32::MAX, 3, 0, 0])),
        "a dimension is 0 or above the largest allowed"
    );
    assert_eq!(
        why(tensor_err(1, |e| e.dims = [1 << 24, 1 << 24, 0, 0])),
        "larger than the largest tensor"
    );
    assert_eq!(
        why(tensor_err(1, |e| e.dims = [4, 3, 0, 7])),
        "dimensions past the rank are not 0"
    );
    assert_eq!(
        why(tensor_err(1, |e| e.dims = [4, 4, 0, 0])),
        "data length is not elements times dtype size"
    );
    assert_eq!(
        why(tensor_err(1, |e| e.data_len = 0)),
        "data length is not elements times dtype size"
    );
    assert_eq!(
        why(tensor_err(2, |e| e.data_offset = 0)),
        "data overlaps an earlier tensor's"
    );
    assert_eq!(
        why(tensor_err(2, |e| e.data_offset = 32)),
        "data not 64-byte aligned"
    );
    assert_eq!(
        why(tensor_err(3, |e| e.data_offset = 1 << 20)),
        "data runs past the weights section"
    );
    assert_eq!(
        why(tensor_err(3, |e| e.data_offset = u64::MAX - 63)),
        "data runs past the weights section"
    );
    assert_eq!(why(tensor_err(0, |e| e.data_len = 16)), "an input has data");
    assert_eq!(why(tensor_err(3, |e| e.tier = 2)), "unknown tier");
    assert_eq!(why(tensor_err(3, |e| e._pad = 1)), "reserved word is not 0");
    assert_eq!(
        why(tensor_err(3, |e| e.scale_bits = 0)),
        "i8 scale is not a positive finite f32"
    );
    assert_eq!(
        why(tensor_err(3, |e| e.scale_bits = f32::NAN.to_bits())),
        "i8 scale is not a positive finite f32"
    );
    assert_eq!(
        why(tensor_err(1, |e| e.zero_point = 3)),
        "scale or zero point set on a tensor that is not i8"
    );
    // Names: empty, too long, outside the strings section, not UTF-8, repeated.
    assert_eq!(
        why(tensor_err(1, |e| e.name = StrSpan::default())),
        "empty name"
    );
    assert_eq!(
        tensor_err(1, |e| e.name.len = 65).kind,
        Value {
            why: "name longer than the limit",
            value: 65
        }
    );
    assert_eq!(
        why(tensor_err(1, |e| e.name.offset = u32::MAX)),
        "name outside the strings section"
    );
    assert_eq!(
        why(tensor_err(1, |e| e.name = StrSpan { offset: 4, len: 1 })),
        "name used by an earlier tensor"
    );
    // "émeu" is in the strings: its second byte alone is not UTF-8.
    let b = valid();
    let h = header(&b);
    let strings = &b[h.strings.offset as usize..][..h.strings.len as usize];
    let at = strings
        .windows(2)
        .position(|w| w == "é".as_bytes())
        .unwrap() as u32;
    assert_eq!(
        why(tensor_err(1, |e| e.name = StrSpan {
            offset: at + 1,
            len: 1
        })),
        "name is not UTF-8"
    );
}

#[test]
fn inputs_nodes_outputs_labels_are_checked() {
    let mut b = valid();
    let h = header(&b);
    // The input names tensor 7, then tensor 1 (which has data).
    let at = h.inputs.offset as usize;
    b[at..at + 4].copy_from_slice(&7u32.to_le_bytes());
    rehash(&mut b);
    assert_eq!(
        parse(&b).unwrap_err().to_string(),
        "input 0: no such tensor (7)"
    );
    b[at..at + 4].copy_from_slice(&1u32.to_le_bytes());
    rehash(&mut b);
    assert_eq!(
        parse(&b).unwrap_err().to_string(),
        "tensor 0: data length is not elements times dtype size (0)"
    );

    let node_err = |i: usize, change: &dyn Fn(&mut Node)| {
        let mut b = valid();
        let at = h.nodes.offset as usize + i * 56;
        let mut n = Node::read_from_bytes(&b[at..at + 56]).unwrap();
        change(&mut n);
        b[at..at + 56].copy_from_slice(n.as_bytes());
        rehash(&mut b);
        b
    };
    let b = node_err(1, &|n| n.inputs[0] = REF_NODE | 1);
    assert_eq!(
        parse(&b).unwrap_err().to_string(),
        "node 1: input names this or a later node (1)"
    );
    let b = node_err(1, &|n| n.inputs[1] = 4);
    assert_eq!(
        parse(&b).unwrap_err().to_string(),
        "node 1: input names no tensor (4)"
    );
    let b = node_err(0, &|n| n.n_inputs = 1 << 30);
    assert_eq!(parse(&b).unwrap_err().place, Place::Node(0));
    // Structurally fine but semantically wrong: parse accepts, the graph check names it.
    let b = node_err(0, &|n| n.inputs[1] = 2);
    let m = parse(&b).unwrap();
    assert_eq!(
        m.graph().unwrap_err().to_string(),
        "graph: node 0 (matmul): in1 has rank 1, it must be 2"
    );
    let b = node_err(0, &|n| n.op = 99);
    assert_eq!(
        parse(&b).unwrap().graph().unwrap_err().to_string(),
        "graph: node 0 (?): unknown operation 99"
    );

    let out_err = |i: usize, change: &dyn Fn(&mut OutputEntry)| {
        let mut b = valid();
        let at = h.outputs.offset as usize + i * 40;
        let mut o = OutputEntry::read_from_bytes(&b[at..at + 40]).unwrap();
        change(&mut o);
        b[at..at + 40].copy_from_slice(o.as_bytes());
        rehash(&mut b);
        b
    };
    assert_eq!(
        parse(&out_err(0, &|o| o.node = 4)).unwrap_err().to_string(),
        "output 0: no such node (4)"
    );
    assert_eq!(
        parse(&out_err(1, &|o| o.name = StrSpan::default()))
            .unwrap_err()
            .to_string(),
        "output 1: empty name"
    );
    assert_eq!(
        parse(&out_err(1, &|o| o.rank = 9)).unwrap_err().to_string(),
        "output 1: rank must be 1 to 4"
    );
    let b = out_err(1, &|o| o.name = StrSpan { offset: 8, len: 5 });
    let s = header(&b).strings;
    assert_eq!(&b[s.offset as usize + 8..][..5], b"probs");
    assert_eq!(
        parse(&b).unwrap_err().to_string(),
        "output 1: name used by an earlier output"
    );
    let b = out_err(0, &|o| o.dims = [1, 4, 0, 0]);
    assert_eq!(
        parse(&b).unwrap().graph().unwrap_err().to_string(),
        "graph: node 2 (softmax): output 0: the node gives f32 [1, 3] but the tensor is f32 [1, 4]"
    );

    let mut b = valid();
    let at = h.labels.offset as usize + 8;
    b[at + 4..at + 8].copy_from_slice(&0u32.to_le_bytes());
    rehash(&mut b);
    assert_eq!(parse(&b).unwrap_err().to_string(), "label 1: empty name");
}

#[test]
fn writer_refuses_what_the_parser_would() {
    let mut s = spec();
    s.tensors[1].data.as_mut().unwrap().pop();
    assert_eq!(
        write(&s).unwrap_err().to_string(),
        "tensor 1: data length is not elements times dtype size (47)"
    );
    let mut s = spec();
    s.nodes[0].inputs = [0, 2, 0, 0];
    assert!(matches!(
        write(&s).unwrap_err().kind,
        ModelErrorKind::Graph(_)
    ));
    let mut s = spec();
    s.outputs = vec![s.outputs[0].clone(); 9];
    assert_eq!(
        write(&s).unwrap_err().kind,
        ModelErrorKind::Count { n: 9, max: 8 }
    );
    let mut s = spec();
    s.labels.push("x".repeat(65));
    assert_eq!(write(&s).unwrap_err().place, Place::Label(3));
    // An empty model (no tensors, nodes or outputs) is a valid file.
    let empty = write(&Spec::default()).unwrap();
    let m = parse(&empty).unwrap();
    assert_eq!((m.n_tensors(), m.n_nodes(), m.name()), (0, 0, ""));
    assert_eq!(m.graph().unwrap().plan.arena_bytes(), 0);
}

/// A model at every limit at once: 248 tensors, 1024 nodes, 8 inputs, 8 outputs, 4096
/// labels of 64 bytes. It is written, parsed and validated; one more of anything is not.
fn max_spec() -> Spec {
    let n_tensors = MAX_TENSORS as usize;
    let tensors = (0..n_tensors)
        .map(|i| TensorSpec {
            name: alloc::format!("t{i}"),
            info: info(DTYPE_F32, &[2]),
            data: (i >= 8).then(|| f32s(&[i as f32, -(i as f32)])),
        })
        .collect();
    // A chain of adds through every tensor, then relus.
    let nodes = (0..ai::MAX_NODES)
        .map(|i| {
            let prev = if i == 0 { 0 } else { REF_NODE | (i as u32 - 1) };
            if i < n_tensors {
                node(op::ADD, &[prev, i as u32], &[])
            } else {
                node(op::RELU, &[prev], &[])
            }
        })
        .collect();
    let outputs = (0..8)
        .map(|k| OutputSpec {
            name: alloc::format!("o{k}"),
            node: (ai::MAX_NODES - 1 - k) as u32,
            info: info(DTYPE_F32, &[2]),
        })
        .collect();
    let labels = (0..MAX_LABELS).map(|i| alloc::format!("{i:064}")).collect();
    Spec {
        name: "m".repeat(64),
        mode: ai::MODE_FAST,
        tensors,
        nodes,
        outputs,
        labels,
    }
}

#[test]
fn limits_are_reachable_and_enforced() {
    let s = max_spec();
    let bytes = write(&s).unwrap_or_else(|e| panic!("{e}"));
    let m = parse(&bytes).unwrap();
    let g = m.graph().unwrap();
    assert_eq!(
        (g.bound.len(), g.nodes.len(), g.outputs.len()),
        (256, 1024, 8)
    );
    assert_eq!(m.label(4095).map(str::len), Some(64));
    // Node results are 8 bytes, 64 in the arena. Before the outputs, two chain buffers
    // are live at a time (a node and the one it reads); the last 8 nodes are the outputs
    // and all live to the end, so 8 buffers at most.
    assert_eq!(g.plan.arena_bytes(), 8 * 64);

    let mut more = s.clone();
    more.tensors.push(TensorSpec {
        name: "extra".into(),
        info: info(DTYPE_F32, &[2]),
        data: Some(f32s(&[0., 0.])),
    });
    assert_eq!(
        write(&more).unwrap_err().kind,
        ModelErrorKind::Count {
            n: MAX_TENSORS + 1,
            max: MAX_TENSORS
        }
    );
    let mut more = s.clone();
    more.nodes.push(node(op::RELU, &[0], &[]));
    assert_eq!(
        write(&more).unwrap_err().kind,
        ModelErrorKind::Count { n: 1025, max: 1024 }
    );
    let mut more = s.clone();
    more.labels.push("x".into());
    assert_eq!(
        write(&more).unwrap_err().kind,
        ModelErrorKind::Count {
            n: 4097,
            max: MAX_LABELS
        }
    );
    let mut more = s.clone();
    more.tensors[8].data = None;
    assert_eq!(
        write(&more).unwrap_err().kind,
        ModelErrorKind::Count { n: 9, max: 8 }
    );
    let mut more = s;
    more.name.push('m');
    assert_eq!(write(&more).unwrap_err().place, Place::ModelName);
}
