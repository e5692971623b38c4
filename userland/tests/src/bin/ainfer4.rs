//! `ainfer4 [<case-prefix>|all]`: real math through the kernel's graphs and inference queue,
//! checked against reference values computed on the host (the seed's Phase AI-4 suite).
//!
//! `/testdata/ai/vectors.bin` (written at build time by `tools/aivectors` with an f64
//! reference; format in `wayos_aimath::vectors`) holds cases: an op, its attributes, its
//! input tensors, the expected output with a tolerance, and — for most — the exact bits
//! the host's bit-exact kernels produced. For each case this suite builds a one-node graph
//! over kernel tensors holding the inputs and runs it through the queue twice: in
//! `MODE_FAST`, compared with the expected output within the case's tolerance
//! (`<name>`), and in `MODE_BITEXACT`, compared bit for bit with the recorded bits
//! (`<name>_bitexact`), which proves x86_64 and aarch64 give the same bits.
//!
//! The cases of a batch are all submitted before any is waited for, so they run on every
//! accelerator at once, sharing the CPUs with each other and with this process: a worker
//! whose vector registers were lost across a switch or an interrupt would fail its case.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::ai::{Output, TensorInfo};
use libway::ai::Tensor;
use libway::infer::{bound, Graph, Job, Node, CLASS_NORMAL, MODE_BITEXACT, MODE_FAST};
use libway::suite::{Context, Suite};
use libway::{fs, println, Args};
use wayos_aimath::vectors::{self, Case, Mismatch};

libway::entry!(main);

const VECTORS: &str = "/testdata/ai/vectors.bin";

/// Cases per batch: each takes two graphs and up to six tensors, well inside the
/// per-process limits (`ai::MAX_GRAPHS`, `ai::MAX_TENSORS`).
const BATCH: usize = 16;

fn main(args: Args) -> i32 {
    let which = args.get(1).unwrap_or("all");
    if which == "-h" || which == "--help" {
        println!("usage: ainfer4 [<case-name-prefix>|all]");
        return 0;
    }
    let mut s = Suite::new("ainfer4");
    let bytes = match fs::read(VECTORS) {
        Ok(b) => b,
        Err(e) => {
            s.check("vectors_file", Err(format!("{VECTORS}: {e}")));
            return s.finish();
        }
    };
    let cases = match vectors::parse(&bytes) {
        Ok(c) => c,
        Err(e) => {
            s.check("vectors_file", Err(format!("{VECTORS}: {e:?}")));
            return s.finish();
        }
    };
    let announced = cases.announced() as usize;
    let mut all: Vec<Case<'_>> = Vec::new();
    for c in cases {
        match c {
            Ok(c) => all.push(c),
            Err(e) => {
                s.check("vectors_file", Err(format!("case {}: {e:?}", all.len())));
                return s.finish();
            }
        }
    }
    s.check(
        "vectors_file",
        if all.len() == announced && announced > 0 {
            Ok(())
        } else {
            Err(format!("{} cases read, {announced} announced", all.len()))
        },
    );
    let chosen: Vec<&Case<'_>> = all
        .iter()
        .filter(|c| which == "all" || c.name.starts_with(which))
        .collect();
    if chosen.is_empty() {
        println!("ainfer4: no case named {which}*");
        return 2;
    }
    for batch in chosen.chunks(BATCH) {
        run_batch(&mut s, batch);
    }
    s.finish()
}

/// A tensor holding `t`'s data.
fn tensor_of(t: &vectors::Tensor<'_>) -> Result<Tensor, String> {
    let info = TensorInfo {
        bytes: 0,
        rights: 0,
        ..t.info
    };
    let k = Tensor::create_info(&info).context("tensor_create")?;
    if !t.data.is_empty() {
        k.write(0, t.data).context("tensor_write")?;
    }
    Ok(k)
}

/// One case set up in both modes.
struct Prepared {
    _inputs: Vec<Tensor>,
    fast_out: Tensor,
    exact_out: Tensor,
    fast: Graph,
    exact: Graph,
}

fn prepare(c: &Case<'_>) -> Result<Prepared, String> {
    let mut inputs = Vec::new();
    for i in 0..c.n_inputs {
        let t = c.input(i).ok_or("missing input")?;
        inputs.push(tensor_of(t)?);
    }
    let out_info = TensorInfo {
        bytes: 0,
        rights: 0,
        ..c.output.info
    };
    let fast_out = Tensor::create_info(&out_info).context("output tensor")?;
    let exact_out = Tensor::create_info(&out_info).context("output tensor")?;
    let n = c.n_inputs as u32;
    let mut node = Node {
        op: c.op,
        n_inputs: n,
        attrs: c.attrs,
        ..Default::default()
    };
    for i in 0..n {
        node.inputs[i as usize] = bound(i);
    }
    let graph = |out: &Tensor, mode: u32| {
        let mut hs: Vec<u32> = inputs.iter().map(Tensor::raw).collect();
        hs.push(out.raw());
        Graph::create(&[node], &hs, &[Output { node: 0, tensor: n }], mode)
    };
    let fast = graph(&fast_out, MODE_FAST).context("graph_create (fast)")?;
    let exact = graph(&exact_out, MODE_BITEXACT).context("graph_create (bit-exact)")?;
    Ok(Prepared {
        _inputs: inputs,
        fast_out,
        exact_out,
        fast,
        exact,
    })
}

fn read_all(t: &Tensor, len: usize) -> Result<Vec<u8>, String> {
    let mut v = alloc::vec![0u8; len];
    t.read(0, &mut v).context("tensor_read")?;
    Ok(v)
}

fn explain(m: Mismatch) -> String {
    if m.index == usize::MAX {
        format!("{} bytes, expected {}", m.got, m.want)
    } else {
        format!("element {}: got {}, expected {}", m.index, m.got, m.want)
    }
}

fn run_batch(s: &mut Suite, batch: &[&Case<'_>]) {
    // Build every graph first, then submit every run, then wait: the runs overlap.
    let prepared: Vec<Result<Prepared, String>> = batch.iter().map(|c| prepare(c)).collect();
    let jobs: Vec<Result<(Job, Job), String>> = prepared
        .iter()
        .map(|p| {
            let p = p.as_ref().map_err(Clone::clone)?;
            let f = p.fast.submit(CLASS_NORMAL).context("submit")?;
            let e = p.exact.submit(CLASS_NORMAL).context("submit")?;
            Ok((f, e))
        })
        .collect();
    for ((c, p), j) in batch.iter().zip(&prepared).zip(&jobs) {
        let (fast, exact) = match (p, j) {
            (Ok(p), Ok((jf, je))) => {
                let len = c.output.data.len();
                let fast = jf
                    .wait(u64::MAX)
                    .context("run")
                    .and_then(|()| read_all(&p.fast_out, len))
                    .and_then(|got| vectors::compare(c, &got).map_err(explain));
                let exact = je
                    .wait(u64::MAX)
                    .context("run")
                    .and_then(|()| read_all(&p.exact_out, len))
                    .and_then(|got| vectors::compare_exact(c, &got).map_err(explain));
                (fast, exact)
            }
            (Err(e), _) | (_, Err(e)) => (Err(e.clone()), Err(e.clone())),
        };
        s.check(c.name, fast);
        if c.exact.is_some() {
            s.check(&format!("{}_bitexact", c.name), exact);
        }
    }
}
