//! Host tests of the description format: a round trip through the file format compared
//! field by field with what the description says, `show`'s exact text, and line-numbered
//! errors for bad descriptions.

use super::*;
use wayos_abi::ai::op;
use wayos_kcore::waymodel::parse;

const DESC: &str = "\
# a two-layer classifier
model demo
mode bitexact
input x f32 1,4
weight w1 f32 4,3 file=w1.f32
weight b1 f32 3 data=0.5,-1,2
weight gain i8 2,2 data=1,-2,3,-128 scale=0.5 zero=-1 tier=far
node h = matmul x w1
node hb = add h b1   # broadcast over the row
node a = relu hb
node p = softmax a
node c = argmax p
output p as probs
output c
labels cat dog
labels bird
";

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn w1() -> Vec<u8> {
    f32s(&(1..=12).map(|i| i as f32 / 4.0).collect::<Vec<_>>())
}

fn loader(path: &str) -> Result<Vec<u8>, String> {
    match path {
        "w1.f32" => Ok(w1()),
        _ => Err("no such file".into()),
    }
}

fn build_ok(desc: &str) -> Vec<u8> {
    build(desc, &mut loader).unwrap_or_else(|e| panic!("{e}"))
}

fn build_err(desc: &str) -> String {
    match build(desc, &mut loader) {
        Ok(_) => panic!("accepted:\n{desc}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn description_round_trips() {
    let bytes = build_ok(DESC);
    let m = parse(&bytes).unwrap();
    assert_eq!((m.name(), m.mode()), ("demo", ai::MODE_BITEXACT));
    let names: Vec<&str> = (0..m.n_tensors())
        .map(|i| m.tensor(i).unwrap().name)
        .collect();
    assert_eq!(names, ["x", "w1", "b1", "gain"]);
    let x = m.tensor(0).unwrap();
    assert!(x.is_input && x.data.is_empty());
    assert_eq!(
        (x.info.dtype, x.info.rank, x.info.dims),
        (DTYPE_F32, 2, [1, 4, 0, 0])
    );
    assert_eq!(m.tensor(1).unwrap().data, &w1()[..]);
    assert_eq!(m.tensor(2).unwrap().data, &f32s(&[0.5, -1.0, 2.0])[..]);
    let g = m.tensor(3).unwrap();
    assert_eq!(g.data, &[1u8, 0xfe, 3, 0x80][..]);
    assert_eq!(
        (g.info.scale_bits, g.info.zero_point, g.info.tier),
        (0.5f32.to_bits(), -1, ai::TIER_FAR)
    );
    let ops: Vec<u32> = (0..m.n_nodes()).map(|i| m.node(i).unwrap().op).collect();
    assert_eq!(
        ops,
        [op::MATMUL, op::ADD, op::RELU, op::SOFTMAX, op::ARGMAX]
    );
    assert_eq!(m.node(0).unwrap().inputs, [0, 1, 0, 0]);
    assert_eq!(m.node(1).unwrap().inputs, [REF_NODE, 2, 0, 0]);
    assert_eq!(m.node(4).unwrap().inputs, [REF_NODE | 3, 0, 0, 0]);
    let p = m.output(0).unwrap();
    assert_eq!(
        (p.name, p.node, p.info.dtype, p.info.dims),
        ("probs", 3, DTYPE_F32, [1, 3, 0, 0])
    );
    let c = m.output(1).unwrap();
    assert_eq!(
        (c.name, c.node, c.info.dtype, c.info.dims),
        ("c", 4, DTYPE_I32, [1, 0, 0, 0])
    );
    let labels: Vec<&str> = (0..m.n_labels()).map(|i| m.label(i).unwrap()).collect();
    assert_eq!(labels, ["cat", "dog", "bird"]);
    assert!(check(&bytes)
        .unwrap()
        .starts_with("ok: model demo, 4 tensors (1 inputs), 5 nodes"));
}

#[test]
fn quantize_and_dequantize_take_scale_and_zero() {
    let desc = "\
input x f32 1,4
weight w i8 4,3 fill=2 scale=0.5 zero=-1
node q = quantize x scale=0.25 zero=-3
node acc = matmul_i8 q w
node y = dequantize acc scale=0.125
output y
";
    let bytes = build_ok(desc);
    let m = parse(&bytes).unwrap();
    assert_eq!(
        m.node(0).unwrap().attrs[..3],
        [0.25f32.to_bits(), (-3i32) as u32, 0]
    );
    assert_eq!(m.node(2).unwrap().attrs[..3], [0.125f32.to_bits(), 0, 0]);
    let out = m.output(0).unwrap();
    assert_eq!((out.info.dtype, out.info.dims), (DTYPE_F32, [1, 3, 0, 0]));
    let mut text = String::new();
    show(&m, &mut text).unwrap();
    assert!(text.contains("= quantize x attrs="), "{text}");
    assert!(text.contains("= dequantize %1 attrs="), "{text}");
    assert_eq!(
        build_err("input x f32 4\nnode q = quantize x\noutput q\n"),
        "line 2: quantize and dequantize need scale=S"
    );
    assert!(
        build_err("input x f32 4\nnode q = quantize x scale=0 zero=1\noutput q\n")
            .contains("the scale must be a positive finite f32")
    );
    assert!(
        build_err("input x f32 4\nnode q = quantize x scale=1 zero=200\noutput q\n")
            .contains("the zero point must be -128 to 127")
    );
}

#[test]
fn attributes_and_fill() {
    let desc = "\
input img f32 1,2,5,5
weight k f32 4,2,3,3 fill=0.25
weight bias f32 4 fill=1
node c = conv2d img k bias stride=2 pad=1
node r = reshape c shape=4,9
node t = transpose r perm=1,0
node m = matmul t t ta=1
node n = layernorm m g b eps=0.001
weight g f32 9 fill=1
";
    // g is used before it is defined: an error on the layernorm line.
    assert_eq!(build_err(desc), "line 8: 'g' is not defined above");
    let desc = desc.replace(
        "node n = layernorm m g b eps=0.001\nweight g f32 9 fill=1\n",
        "output m\n",
    );
    let bytes = build_ok(&desc);
    let m = parse(&bytes).unwrap();
    let k = m.tensor(1).unwrap();
    assert_eq!(k.data.len(), 4 * 2 * 9 * 4);
    assert!(k.data.chunks(4).all(|c| c == 0.25f32.to_le_bytes()));
    assert_eq!(m.node(0).unwrap().attrs[..2], [2, 1]);
    assert_eq!(m.node(1).unwrap().attrs[..3], [2, 4, 9]);
    assert_eq!(m.node(2).unwrap().attrs[..2], [1, 0]);
    assert_eq!(m.node(3).unwrap().attrs[..2], [1, 0]);
    // conv: 5x5, pad 1, stride 2 -> 3x3; reshape [4, 9]; transpose [9, 4]; t^T t = [4, 4].
    assert_eq!(m.output(0).unwrap().info.dims, [4, 4, 0, 0]);
    let with_eps = "input x f32 2,3\nweight g f32 3 fill=1\nweight b f32 3 fill=0\nnode n = layernorm x g b eps=0.001\noutput n\n";
    let bytes = build_ok(with_eps);
    let m = parse(&bytes).unwrap();
    assert_eq!(m.node(0).unwrap().attrs[0], 0.001f32.to_bits());
    let raw = "input x f32 2,3\nnode r = reshape x attrs=2,3,2\noutput r\n";
    assert_eq!(
        parse(&build_ok(raw)).unwrap().output(0).unwrap().info.dims,
        [3, 2, 0, 0]
    );
}

#[test]
fn errors_name_their_line() {
    let cases: &[(&str, &str)] = &[
        ("model a b\n", "line 1: usage: model NAME"),
        (
            "\n\nfrobnicate x\n",
            "line 3: unknown directive 'frobnicate'",
        ),
        ("mode quick\n", "line 1: usage: mode fast|bitexact"),
        (
            "input x f16 2\n",
            "line 1: unknown dtype 'f16' (f32, i32, i8)",
        ),
        (
            "input x f32 2,a\n",
            "line 1: shape '2,a': not a list of numbers like 2,3",
        ),
        (
            "input x f32 1,1,1,1,1\n",
            "line 1: shape '1,1,1,1,1': 1 to 4 dimensions",
        ),
        (
            "input x f32 2,0\nnode y = relu x\noutput y\n",
            "line 1: a dimension is 0 or above the largest allowed",
        ),
        (
            "input x f32 2\ninput x f32 3\n",
            "line 2: 'x' is already defined on line 1",
        ),
        (
            "input x f32 2 colour=red\n",
            "line 1: unknown option 'colour'",
        ),
        ("input x f32 2 tier=mid\n", "line 1: tier=mid: near or far"),
        (
            "weight w f32 2\n",
            "line 1: a weight needs exactly one of file=, data=, fill=",
        ),
        (
            "weight w f32 2 data=1 fill=2\n",
            "line 1: a weight needs exactly one of file=, data=, fill=",
        ),
        (
            "weight w f32 3 data=1,2\n",
            "line 1: 8 bytes of data, but f32 [3] needs 12",
        ),
        (
            "weight w i8 2 data=1,300\n",
            "line 1: data value '300' is not a i8",
        ),
        (
            "input x i8 1048576,65\n",
            "line 1: larger than the largest tensor",
        ),
        (
            "weight w f32 2 file=nope.bin\n",
            "line 1: nope.bin: no such file",
        ),
        (
            "weight w f32 2 fill=x\n",
            "line 1: data value 'x' is not a f32",
        ),
        (
            "input x f32 2\nnode y = frob x\n",
            "line 2: unknown operation 'frob'",
        ),
        (
            "input x f32 2\nnode y relu x\n",
            "line 2: usage: node NAME = OP INPUT... [options]",
        ),
        (
            "input x f32 2\nnode y = relu z\n",
            "line 2: 'z' is not defined above",
        ),
        (
            "input x f32 2\nnode y = reshape x\n",
            "line 2: reshape needs shape=D0,D1,...",
        ),
        (
            "input x f32 2\nnode y = matmul x x ta=yes\n",
            "line 2: ta=yes: not a number of the right kind",
        ),
        (
            "input x f32 2\nnode y = relu x\noutput x\n",
            "line 3: 'x' is a tensor, not a node",
        ),
        (
            "input x f32 2\nnode y = relu x\noutput y as\n",
            "line 3: usage: output NODE [as NAME]",
        ),
        (
            "input x f32 2\nnode y = relu x\noutput y\noutput y\n",
            "line 4: output 'y' is given twice",
        ),
        (
            "input x f32 2\nnode y = relu x\n",
            "no 'output' line: the model would compute nothing anyone reads",
        ),
        (
            "input x f32 2,4\nweight w f32 5,3 fill=0\nnode h = matmul x w\noutput h\n",
            "line 3: node 'h': node 0 (matmul): inner dimensions 4 and 5 differ",
        ),
        (
            "input x f32 2,4\nnode a = relu x\nnode r = reshape a shape=3,3\noutput r\n",
            "line 3: node 'r': node 1 (reshape): reshape of 8 elements to a shape of 9",
        ),
        (
            "input x f32 2\nnode y = relu x\noutput y\nlabels a\nlabels b\n",
            "",
        ),
    ];
    for (desc, want) in cases {
        if want.is_empty() {
            build_ok(desc);
            continue;
        }
        assert_eq!(build_err(desc), *want, "for:\n{desc}");
    }
    // A long label is refused by the writer, and the error names the labels line.
    let long = alloc::format!(
        "input x f32 2\nnode y = relu x\noutput y\nlabels {}\n",
        "z".repeat(65)
    );
    assert_eq!(
        build_err(&long),
        "line 4: label 0: name longer than the limit (65)"
    );
}

#[test]
fn show_prints_everything() {
    let m_bytes = build_ok(DESC);
    let m = parse(&m_bytes).unwrap();
    let mut s = String::new();
    show(&m, &mut s).unwrap();
    let sha = hex(&m.weights_sha256());
    let want = alloc::format!(
        "\
model demo (version 1, {} bytes, mode bitexact)
weights sha256 {sha}
tensors 4:
  0 x f32 1,4 input
  1 w1 f32 4,3 48 bytes
  2 b1 f32 3 12 bytes
  3 gain i8 2,2 scale=0.5 zero=-1 tier=far 4 bytes
nodes 5:
  %0 = matmul x w1 -> f32 1,3
  %1 = add %0 b1 -> f32 1,3
  %2 = relu %1 -> f32 1,3
  %3 = softmax %2 -> f32 1,3
  %4 = argmax %3 -> i32 1
outputs 2:
  probs = %3 f32 1,3
  c = %4 i32 1
labels 3: cat dog bird
arena 128 bytes
",
        m_bytes.len()
    );
    assert_eq!(s, want);
    assert_eq!(sha.len(), 64);
}

#[test]
fn check_reports_the_first_error() {
    let mut bytes = build_ok(DESC);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    assert_eq!(
        check(&bytes).unwrap_err(),
        "weights section: weights SHA-256 does not match"
    );
    assert_eq!(
        check(b"WAYMODEL").unwrap_err(),
        "file: 8 bytes, shorter than the 232-byte header"
    );
}

/// Descriptions cut at every character, and with random words swapped, dropped or
/// replaced by numbers and junk: an error or a model, never a panic. A model that comes
/// out must parse and validate.
#[test]
fn mangled_descriptions_never_panic() {
    extern crate std;
    use wayos_testutil::XorShift;
    let mut inputs: Vec<String> = (0..DESC.len())
        .filter(|&i| DESC.is_char_boundary(i))
        .map(|i| DESC[..i].to_string())
        .collect();
    let words: Vec<&str> = DESC.split_whitespace().collect();
    let junk = [
        "0",
        "-1",
        "4294967295",
        "99999999999",
        "1,2,3,4,5",
        ",",
        "=",
        "==",
        "a=b",
        "shape=",
        "perm=9,9",
        "stride=0",
        "fill=",
        "data=",
        "file=",
        "attrs=1,2,3,4,5,6,7,8,9",
        "é",
        "\u{0}",
        "i8",
        "f32",
        "1e39",
        "NaN",
        "inf",
        "as",
        "output",
        "node",
    ];
    let mut rng = XorShift::new(7);
    for _ in 0..3000 {
        let mut lines: Vec<Vec<&str>> = DESC.lines().map(|l| l.split(' ').collect()).collect();
        for _ in 0..1 + rng.below(4) {
            let l = rng.index(lines.len());
            if lines[l].is_empty() {
                continue;
            }
            let w = rng.index(lines[l].len());
            match rng.below(4) {
                0 => lines[l][w] = junk[rng.index(junk.len())],
                1 => lines[l][w] = words[rng.index(words.len())],
                2 => {
                    lines[l].remove(w);
                }
                _ => {
                    let other = rng.index(lines.len());
                    lines.swap(l, other);
                }
            }
        }
        inputs.push(
            lines
                .iter()
                .map(|l| l.join(" "))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    for desc in &inputs {
        let r = std::panic::catch_unwind(|| build(desc, &mut loader));
        match r {
            Err(_) => panic!("panicked on:\n{desc}"),
            Ok(Ok(bytes)) => {
                let m = parse(&bytes).expect("what build wrote parses");
                m.graph().expect("and validates");
            }
            Ok(Err(e)) => assert!(!e.msg.is_empty()),
        }
    }
}
