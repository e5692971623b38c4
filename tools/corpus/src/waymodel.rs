//! `.waymodel` mutants: what `model_load` must refuse. Built from a valid model (one made
//! by [`waymodel_sample`], or any file the writer made) by cutting it, flipping bits, and
//! setting header, tensor, node and output fields to values that are out of range,
//! overlapping, absurd or inconsistent. Field mutants are re-hashed (`waymodel::rehash`)
//! so they reach the check behind the hashes instead of stopping at the hash; cuts and
//! flips are not (the hashes are part of what they test). Every mutant differs from the
//! valid file and must be refused by `waymodel::parse` or, for a graph that is well formed
//! but wrong, by `Model::graph`.

use wayos_abi::ai::{self, op, Node, TensorInfo, DTYPE_F32, DTYPE_I32, REF_NODE};
use wayos_abi::waymodel::Header;
use wayos_abi::zerocopy::FromBytes;
use wayos_kcore::waymodel::{self, OutputSpec, Spec, TensorSpec};
use wayos_testutil::XorShift;

use crate::{random_flips, Mutant};

fn info(dtype: u32, d: &[u32]) -> TensorInfo {
    let mut t = TensorInfo {
        dtype,
        rank: d.len() as u32,
        ..TensorInfo::default()
    };
    t.dims[..d.len()].copy_from_slice(d);
    t
}

fn node(code: u32, ins: &[u32]) -> Node {
    let mut n = Node {
        op: code,
        n_inputs: ins.len() as u32,
        ..Node::default()
    };
    n.inputs[..ins.len()].copy_from_slice(ins);
    n
}

/// A small valid model: `x [1, 4] -> matmul w1 [4, 8] -> add b1 -> relu -> matmul w2
/// [8, 3] -> add b2 -> softmax (probs) -> argmax (class)`, weights from a fixed sequence,
/// three labels. The corpus's starting point and the control `/testdata/waymodel/valid`.
pub fn waymodel_sample() -> Vec<u8> {
    let mut rng = XorShift::new(14);
    let mut weights = |n: usize| -> Option<Vec<u8>> {
        Some(
            (0..n)
                .flat_map(|_| ((rng.below(2001) as f32 - 1000.0) / 1000.0).to_le_bytes())
                .collect(),
        )
    };
    let spec = Spec {
        name: "corpus-mlp".into(),
        mode: ai::MODE_FAST,
        tensors: vec![
            TensorSpec {
                name: "x".into(),
                info: info(DTYPE_F32, &[1, 4]),
                data: None,
            },
            TensorSpec {
                name: "w1".into(),
                info: info(DTYPE_F32, &[4, 8]),
                data: weights(32),
            },
            TensorSpec {
                name: "b1".into(),
                info: info(DTYPE_F32, &[8]),
                data: weights(8),
            },
            TensorSpec {
                name: "w2".into(),
                info: info(DTYPE_F32, &[8, 3]),
                data: weights(24),
            },
            TensorSpec {
                name: "b2".into(),
                info: info(DTYPE_F32, &[3]),
                data: weights(3),
            },
        ],
        nodes: vec![
            node(op::MATMUL, &[0, 1]),
            node(op::ADD, &[REF_NODE, 2]),
            node(op::RELU, &[REF_NODE | 1]),
            node(op::MATMUL, &[REF_NODE | 2, 3]),
            node(op::ADD, &[REF_NODE | 3, 4]),
            node(op::SOFTMAX, &[REF_NODE | 4]),
            node(op::ARGMAX, &[REF_NODE | 5]),
        ],
        outputs: vec![
            OutputSpec {
                name: "probs".into(),
                node: 5,
                info: info(DTYPE_F32, &[1, 3]),
            },
            OutputSpec {
                name: "class".into(),
                node: 6,
                info: info(DTYPE_I32, &[1]),
            },
        ],
        labels: vec!["red".into(), "green".into(), "blue".into()],
    };
    waymodel::write(&spec).expect("the sample model is valid")
}

/// Which values a field mutant tries.
#[derive(Clone, Copy)]
enum Kind {
    /// Every value of [`values`]: no neighbour of the current value is valid.
    All,
    /// Only values far outside anything valid: the field (a name span, an operation, a
    /// node input, a tier or mode) has valid neighbours (another name, `add` for `mul`,
    /// another earlier node), which would make a different valid model, not a mutant.
    Absurd,
}

/// A field: (name, offset, width in bytes, kind).
type Field = (&'static str, usize, usize, Kind);

use Kind::{Absurd, All};

/// Header field offsets.
const HEADER_FIELDS: &[Field] = &[
    ("version", 8, 4, All),
    ("header_bytes", 12, 4, All),
    ("total_bytes", 16, 8, All),
    ("n_tensors", 24, 4, All),
    ("n_nodes", 28, 4, All),
    ("n_inputs", 32, 4, All),
    ("n_outputs", 36, 4, All),
    ("n_labels", 40, 4, All),
    ("mode", 44, 4, Absurd),
    ("name.offset", 48, 4, Absurd),
    ("name.len", 52, 4, Absurd),
    ("tensors.offset", 56, 8, All),
    ("tensors.len", 64, 8, All),
    ("nodes.offset", 72, 8, All),
    ("nodes.len", 80, 8, All),
    ("inputs.offset", 88, 8, All),
    ("inputs.len", 96, 8, All),
    ("outputs.offset", 104, 8, All),
    ("outputs.len", 112, 8, All),
    ("labels.offset", 120, 8, All),
    ("labels.len", 128, 8, All),
    ("strings.offset", 136, 8, All),
    ("strings.len", 144, 8, Absurd),
    ("weights.offset", 152, 8, All),
    ("weights.len", 160, 8, All),
];

/// Tensor entry fields (offsets within the entry).
const TENSOR_FIELDS: &[Field] = &[
    ("name.offset", 0, 4, Absurd),
    ("name.len", 4, 4, Absurd),
    ("dtype", 8, 4, All),
    ("rank", 12, 4, All),
    ("dims0", 16, 4, All),
    ("dims1", 20, 4, All),
    ("dims3", 28, 4, All),
    ("scale", 32, 4, All),
    ("zero_point", 36, 4, All),
    ("tier", 40, 4, Absurd),
    ("pad", 44, 4, All),
    ("data_offset", 48, 8, All),
    ("data_len", 56, 8, All),
];

/// Node fields (offsets within the node).
const NODE_FIELDS: &[Field] = &[
    ("op", 0, 4, Absurd),
    ("n_inputs", 4, 4, All),
    ("in0", 8, 4, Absurd),
    ("in1", 12, 4, Absurd),
    ("in3", 20, 4, Absurd),
    ("attr0", 24, 4, All),
    ("attr7", 52, 4, All),
];

/// Output entry fields (offsets within the entry).
const OUTPUT_FIELDS: &[Field] = &[
    ("node", 0, 4, Absurd),
    ("dtype", 4, 4, All),
    ("rank", 8, 4, All),
    ("dims0", 12, 4, All),
    ("dims2", 20, 4, All),
    ("pad", 28, 4, All),
    ("name.offset", 32, 4, Absurd),
    ("name.len", 36, 4, Absurd),
];

fn get(d: &[u8], at: usize, width: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(s) = d.get(at..at + width) {
        b[..width].copy_from_slice(s);
    }
    u64::from_le_bytes(b)
}

/// Values worth putting in a field of `width` bytes whose current value is `cur`, in a
/// file of `len` bytes.
fn values(width: usize, cur: u64, len: u64, kind: Kind) -> Vec<(&'static str, u64)> {
    let max = if width == 4 {
        u32::MAX as u64
    } else {
        u64::MAX
    };
    if let Kind::Absurd = kind {
        return vec![
            ("max", max),
            ("2^24+1", (1 << 24) + 1),
            ("len+64", (len + 64) & max),
        ];
    }
    let mut v = vec![
        ("0", 0),
        ("1", 1),
        ("max", max),
        ("max/2+1", max / 2 + 1),
        ("cur+1", cur.wrapping_add(1) & max),
        ("cur-1", cur.wrapping_sub(1) & max),
        ("cur+8", cur.wrapping_add(8) & max),
        ("cur-8", cur.wrapping_sub(8) & max),
        ("len", len & max),
        ("len+64", (len + 64) & max),
        ("2^24+1", (1 << 24) + 1),
        ("2^31|1", (1 << 31) | 1),
    ];
    if width == 8 {
        v.push(("max-63", u64::MAX - 63));
    }
    v
}

/// Every field mutant of one table: `base` is where entry 0 starts.
fn field_mutants(
    valid: &[u8],
    out: &mut Vec<Mutant>,
    what: &str,
    base: usize,
    entry: usize,
    count: usize,
    fields: &[Field],
) {
    for i in 0..count {
        for &(field, off, width, kind) in fields {
            let at = base + i * entry + off;
            let cur = get(valid, at, width);
            for (vname, val) in values(width, cur, valid.len() as u64, kind) {
                let mut m = valid.to_vec();
                m[at..at + width].copy_from_slice(&val.to_le_bytes()[..width]);
                waymodel::rehash(&mut m);
                if m != valid {
                    out.push((format!("{what}{i}.{field}={vname}"), m));
                }
            }
        }
    }
}

/// Mutants of a valid `.waymodel` file (see the module docs). Deterministic for the same
/// input and seed.
pub fn waymodel_mutants(valid: &[u8], seed: u64) -> Vec<Mutant> {
    let mut out: Vec<Mutant> = Vec::new();
    let Ok(h) = Header::read_from_bytes(valid.get(..232).unwrap_or(&[])) else {
        return out;
    };
    // Cuts: inside the header, at every section's start and end (and one byte either
    // side), one byte short.
    let mut cuts: Vec<usize> = vec![0, 1, 7, 8, 12, 16, 24, 56, 168, 200, 231, 232];
    for s in [
        h.tensors, h.nodes, h.inputs, h.outputs, h.labels, h.strings, h.weights,
    ] {
        for at in [s.offset, s.offset + s.len / 2, s.offset + s.len] {
            cuts.extend([at.saturating_sub(1), at, at + 1].map(|x| x as usize));
        }
    }
    cuts.push(valid.len() - 1);
    cuts.sort_unstable();
    cuts.dedup();
    for c in cuts.into_iter().filter(|&c| c < valid.len()) {
        out.push((format!("cut-{c}"), valid[..c].to_vec()));
    }
    // One byte more, and a page of zeros more.
    let mut longer = valid.to_vec();
    longer.push(0);
    out.push(("extra-byte".into(), longer));
    let mut longer = valid.to_vec();
    longer.resize(valid.len() + 4096, 0);
    waymodel::rehash(&mut longer);
    out.push(("extra-page-rehashed".into(), longer));

    let mut m = valid.to_vec();
    m[0] = b'w';
    out.push(("magic".into(), m));
    field_mutants(valid, &mut out, "header", 0, 0, 1, HEADER_FIELDS);
    // Sections moved onto each other (overlap) and past the end, with the lengths kept.
    let secs = [
        ("tensors", 56),
        ("nodes", 72),
        ("inputs", 88),
        ("outputs", 104),
        ("labels", 120),
        ("strings", 136),
        ("weights", 152),
    ];
    for (i, &(name, at)) in secs.iter().enumerate() {
        for (j, &(other, other_at)) in secs.iter().enumerate() {
            if i == j {
                continue;
            }
            let mut m = valid.to_vec();
            let to = get(valid, other_at, 8);
            m[at..at + 8].copy_from_slice(&to.to_le_bytes());
            waymodel::rehash(&mut m);
            if m != valid {
                out.push((format!("{name}-at-{other}"), m));
            }
        }
    }
    let t = h.tensors.offset as usize;
    field_mutants(
        valid,
        &mut out,
        "tensor",
        t,
        64,
        h.n_tensors as usize,
        TENSOR_FIELDS,
    );
    let n = h.nodes.offset as usize;
    field_mutants(
        valid,
        &mut out,
        "node",
        n,
        56,
        h.n_nodes as usize,
        NODE_FIELDS,
    );
    let o = h.outputs.offset as usize;
    field_mutants(
        valid,
        &mut out,
        "output",
        o,
        40,
        h.n_outputs as usize,
        OUTPUT_FIELDS,
    );
    let i = h.inputs.offset as usize;
    field_mutants(
        valid,
        &mut out,
        "input",
        i,
        4,
        h.n_inputs as usize,
        &[("tensor", 0, 4, Kind::All)],
    );
    let l = h.labels.offset as usize;
    field_mutants(
        valid,
        &mut out,
        "label",
        l,
        8,
        h.n_labels as usize,
        &[("offset", 0, 4, Kind::Absurd), ("len", 4, 4, Kind::Absurd)],
    );
    // A name that is not UTF-8 (0xff in the strings).
    let mut m = valid.to_vec();
    m[h.strings.offset as usize] = 0xff;
    waymodel::rehash(&mut m);
    out.push(("strings0=ff".into(), m));
    // Every bit of the header flipped, without rehashing.
    for byte in 0..232 {
        for bit in 0..8 {
            let mut m = valid.to_vec();
            m[byte] ^= 1 << bit;
            out.push((format!("flip-{byte}.{bit}"), m));
        }
    }
    out.extend(
        random_flips(valid, seed, 256)
            .into_iter()
            .filter(|(_, m)| m != valid),
    );
    out
}

/// The `.waymodel` mutants worth loading in the guest: at most `max`, evenly spaced over
/// [`waymodel_mutants`] so every kind is represented and the sample is repeatable.
pub fn waymodel_guest_sample(valid: &[u8], seed: u64, max: usize) -> Vec<Mutant> {
    let all = waymodel_mutants(valid, seed);
    if all.len() <= max || max == 0 {
        return all.into_iter().take(max).collect();
    }
    let step = all.len() as f64 / max as f64;
    (0..max)
        .map(|i| all[(i as f64 * step) as usize].clone())
        .collect()
}
