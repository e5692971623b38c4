//! `ainfer graph`: compute graphs built from user memory, validated once (each kind of
//! bad graph refused with its errno, the kernel log naming the node), and run through
//! the inference queue with results checked against values computed here in f64 and by
//! hand. Also the builders the `queue` and `model` groups share.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::ai::{GraphDesc, Output, MAX_GRAPHS, MAX_NODES};
use libway::abi::errno::{EACCES, EBADF, EFAULT, EINVAL, EMFILE, ERANGE};
use libway::ai::{self, Tensor, DTYPE_F32, DTYPE_I32, RIGHT_READ, RIGHT_WRITE, TIER_NEAR};
use libway::infer::{bound, from_node, node, op, Graph, CLASS_NORMAL, MODE_FAST};
use libway::suite::{expect_eq, expect_errno, Check, Context, Suite};
use libway::sys::{self, MemFree};
use libway::{io, klog, process};

pub fn group(s: &mut Suite) {
    s.check("graph_matmul_add_relu", matmul_add_relu());
    s.check("graph_int_paths", int_paths());
    s.check("graph_empty_runs", empty_runs());
    s.check("graph_validation_errors", validation_errors());
    s.check("graph_bad_arguments", bad_arguments());
    s.check(
        "graph_embedding_index_fails_run",
        embedding_index_fails_run(),
    );
    s.check("graph_limit", graph_limit());
}

pub fn me() -> u64 {
    process::getpid().unwrap_or(0) as u64
}

pub fn f32_tensor(dims: &[u32], data: &[f32]) -> Result<Tensor, alloc::string::String> {
    let t = Tensor::create(DTYPE_F32, dims, TIER_NEAR).context("create")?;
    if !data.is_empty() {
        t.write_f32(0, data).context("write")?;
    }
    Ok(t)
}

/// Forks a child that runs `setup`, tells this process through a pipe whether it
/// succeeded (`y` or `n`) and then sleeps until it is killed. Returns once the child has
/// answered (or the pipe broke): the child's pid and what the pipe gave, `(bytes read,
/// the byte)`, which is `(Some(1), b'y')` when the setup succeeded. The caller kills and
/// reaps the child.
pub fn fork_holder(
    setup: impl FnOnce() -> bool,
) -> Result<(usize, (Option<usize>, u8)), alloc::string::String> {
    let (r, w) = io::pipe(false).context("pipe")?;
    let pid = match process::fork() {
        Ok(0) => {
            let ok = setup();
            let _ = io::write(w, if ok { b"y" } else { b"n" });
            loop {
                let _ = process::sleep_or_yield(1000);
            }
        }
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    let _ = io::close(w);
    let mut b = [0u8; 1];
    let got = io::read(r, &mut b);
    let _ = io::close(r);
    Ok((pid, (got.ok(), b[0])))
}

/// `|a - b| <= tol` for every element.
pub fn expect_close(got: &[f32], want: &[f64], tol: f64) -> Check {
    if got.len() != want.len() {
        return Err(format!("{} values, expected {}", got.len(), want.len()));
    }
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if !((g as f64) - w).abs().le(&tol) {
            return Err(format!(
                "element {i}: got {g}, expected {w} (tolerance {tol})"
            ));
        }
    }
    Ok(())
}

/// A graph that keeps an accelerator busy for a long time: `x [64, 64]` multiplied by
/// `w` (the identity) `nodes` times, the last result into `out`. The graph holds `x` and
/// `w` (their handles are closed here); the result equals `x`.
pub struct Long {
    pub out: Tensor,
    pub graph: Graph,
}

pub const LONG_DIM: u32 = 64;

pub fn long_graph(nodes: usize) -> Result<Long, alloc::string::String> {
    let d = LONG_DIM as usize;
    let xs: Vec<f32> = (0..d * d).map(|i| (i % 17) as f32 - 8.0).collect();
    let mut ws = vec![0f32; d * d];
    for i in 0..d {
        ws[i * d + i] = 1.0;
    }
    let x = f32_tensor(&[LONG_DIM, LONG_DIM], &xs)?;
    let w = f32_tensor(&[LONG_DIM, LONG_DIM], &ws)?;
    let out = f32_tensor(&[LONG_DIM, LONG_DIM], &[])?;
    let mut ns = Vec::new();
    ns.push(node(op::MATMUL, &[bound(0), bound(1)], &[]));
    for i in 1..nodes {
        ns.push(node(op::MATMUL, &[from_node(i as u32 - 1), bound(1)], &[]));
    }
    let outputs = [Output {
        node: nodes as u32 - 1,
        tensor: 2,
    }];
    let graph = Graph::create(&ns, &[x.raw(), w.raw(), out.raw()], &outputs, MODE_FAST)
        .context("graph_create")?;
    Ok(Long { out, graph })
}

/// `relu(x @ w + b)` with a second output for `x @ w + b`, on values small enough to
/// check by hand: x @ w = [[-5, 4.5], [-8, 9]], + b = [[1, -0.5], [-2, 4]].
fn matmul_add_relu() -> Check {
    let xv = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let wv = [1.0, -1.0, 0.0, 2.0, -2.0, 0.5];
    let bv = [6.0, -5.0];
    let x = f32_tensor(&[2, 3], &xv)?;
    let w = f32_tensor(&[3, 2], &wv)?;
    let b = f32_tensor(&[2], &bv)?;
    let out = f32_tensor(&[2, 2], &[])?;
    let pre = f32_tensor(&[2, 2], &[])?;
    let nodes = [
        node(op::MATMUL, &[bound(0), bound(1)], &[]),
        node(op::ADD, &[from_node(0), bound(2)], &[]),
        node(op::RELU, &[from_node(1)], &[]),
    ];
    let outputs = [Output { node: 2, tensor: 3 }, Output { node: 1, tensor: 4 }];
    let g = Graph::create(
        &nodes,
        &[x.raw(), w.raw(), b.raw(), out.raw(), pre.raw()],
        &outputs,
        MODE_FAST,
    )
    .context("graph_create")?;
    g.run(CLASS_NORMAL).context("run")?;
    // The f64 reference, computed independently of the literal below.
    let mut want = [0f64; 4];
    for i in 0..2 {
        for j in 0..2 {
            let mut acc = 0f64;
            for k in 0..3 {
                acc += xv[i * 3 + k] as f64 * wv[k * 2 + j] as f64;
            }
            want[i * 2 + j] = acc + bv[j] as f64;
        }
    }
    expect_eq(want, [1.0, -0.5, -2.0, 4.0]).context("hand-computed reference")?;
    expect_close(&pre.to_vec_f32().context("read")?, &want, 1e-6).context("x @ w + b")?;
    let relu: Vec<f64> = want.iter().map(|&v| v.max(0.0)).collect();
    expect_close(&out.to_vec_f32().context("read")?, &relu, 0.0).context("relu")?;
    // A second run with new input gives the new result (the arena is reused).
    x.write_f32(0, &[0.0; 6]).context("write")?;
    g.run(CLASS_NORMAL).context("second run")?;
    expect_close(
        &pre.to_vec_f32().context("read")?,
        &[6.0, -5.0, 6.0, -5.0],
        0.0,
    )
    .context("second run")
}

/// argmax (ties take the lowest index) into an i32 tensor, and int8 matmul with zero
/// points: (a - 1) @ (b + 1) = [[0, 1], [2, 3]] @ [[6, 7], [8, 9]] = [[8, 9], [36, 41]].
fn int_paths() -> Check {
    let x = f32_tensor(&[2, 3], &[1.0, 5.0, 2.0, 7.0, 0.0, 7.0])?;
    let am = Tensor::create(DTYPE_I32, &[2], TIER_NEAR).context("create")?;
    let g = Graph::create(
        &[node(op::ARGMAX, &[bound(0)], &[])],
        &[x.raw(), am.raw()],
        &[Output { node: 0, tensor: 1 }],
        MODE_FAST,
    )
    .context("argmax graph")?;
    g.run(CLASS_NORMAL).context("argmax run")?;
    let mut got = [0i32; 2];
    am.read_i32(0, &mut got).context("read")?;
    expect_eq(got, [1, 0]).context("argmax")?;

    let a = Tensor::create_i8(&[2, 2], TIER_NEAR, 0.5, 1).context("create a")?;
    let b = Tensor::create_i8(&[2, 2], TIER_NEAR, 0.25, -1).context("create b")?;
    a.write_i8(0, &[1, 2, 3, 4]).context("write a")?;
    b.write_i8(0, &[5, 6, 7, 8]).context("write b")?;
    let c = Tensor::create(DTYPE_I32, &[2, 2], TIER_NEAR).context("create c")?;
    let g = Graph::create(
        &[node(op::MATMUL_I8, &[bound(0), bound(1)], &[])],
        &[a.raw(), b.raw(), c.raw()],
        &[Output { node: 0, tensor: 2 }],
        MODE_FAST,
    )
    .context("i8 graph")?;
    g.run(CLASS_NORMAL).context("i8 run")?;
    let mut got = [0i32; 4];
    c.read_i32(0, &mut got).context("read")?;
    expect_eq(got, [8, 9, 36, 41]).context("int8 matmul")
}

fn empty_runs() -> Check {
    let g = Graph::create(&[], &[], &[], MODE_FAST).context("graph_create")?;
    g.run(CLASS_NORMAL).context("run")?;
    g.run(CLASS_NORMAL).context("second run")
}

/// The kernel log mentions `what` in a line written since `mark` bytes.
fn klog_says(mark: usize, what: &str) -> Check {
    let log = klog::read_all().context("klog_read")?;
    let tail = log.get(mark.min(log.len())..).unwrap_or(&[]);
    let text = core::str::from_utf8(tail).unwrap_or("");
    if text.contains(what) {
        Ok(())
    } else {
        Err(format!("the kernel log does not say {what:?}"))
    }
}

fn klog_mark() -> usize {
    klog::read_all().map_or(0, |l| l.len())
}

/// Every kind of bad graph is refused with `EINVAL`, nothing is left behind, and the
/// kernel log names the node and says what is wrong.
fn validation_errors() -> Check {
    let before = ai::usage_of(me()).context("usage")?;
    let x = f32_tensor(&[2, 3], &[])?;
    let w = f32_tensor(&[4, 2], &[])?;
    let i = Tensor::create(DTYPE_I32, &[2, 3], TIER_NEAR).context("create")?;
    let out = f32_tensor(&[2, 2], &[])?;
    let b = [x.raw(), w.raw(), i.raw(), out.raw()];
    let o = |n: u32| [Output { node: n, tensor: 3 }];
    let cases: Vec<(&str, Vec<libway::infer::Node>, [Output; 1])> = vec![
        ("unknown op", vec![node(99, &[bound(0)], &[])], o(0)),
        (
            "forward reference",
            vec![node(op::RELU, &[from_node(0)], &[])],
            o(0),
        ),
        (
            "dtype",
            vec![node(op::MATMUL, &[bound(2), bound(1)], &[])],
            o(0),
        ),
        (
            "inner dimensions",
            vec![
                node(op::RELU, &[bound(0)], &[]),
                node(op::MATMUL, &[from_node(0), bound(1)], &[]),
            ],
            o(1),
        ),
        ("input count", vec![node(op::ADD, &[bound(0)], &[])], o(0)),
        (
            "unused attribute",
            vec![node(op::SOFTMAX, &[bound(0)], &[0, 3])],
            o(0),
        ),
        (
            "no such bound tensor",
            vec![node(op::RELU, &[bound(9)], &[])],
            o(0),
        ),
        ("output shape", vec![node(op::RELU, &[bound(0)], &[])], o(0)),
        ("output node", vec![node(op::RELU, &[bound(0)], &[])], o(5)),
    ];
    for (what, nodes, outs) in &cases {
        let mark = klog_mark();
        expect_errno(Graph::create(nodes, &b, outs, MODE_FAST), EINVAL).context(what)?;
        if *what == "inner dimensions" {
            klog_says(mark, "node 1 (matmul): inner dimensions 3 and 4 differ").context(what)?;
        }
    }
    let after = ai::usage_of(me()).context("usage")?;
    expect_eq(
        (after.graphs, after.tensor_bytes),
        (before.graphs, before.tensor_bytes + 4 * 4096),
    )
    .context("nothing left behind")
}

/// Bad descriptors, pointers, handles, rights and modes.
fn bad_arguments() -> Check {
    let x = f32_tensor(&[2, 2], &[])?;
    let out = f32_tensor(&[2, 2], &[])?;
    let relu = [node(op::RELU, &[bound(0)], &[])];
    let outs = [Output { node: 0, tensor: 1 }];
    expect_errno(
        Graph::create(&relu, &[x.raw(), out.raw()], &outs, 7),
        EINVAL,
    )
    .context("mode")?;
    expect_errno(
        Graph::create(&relu, &[x.raw(), 0x7fff_ffff], &outs, MODE_FAST),
        EBADF,
    )
    .context("bad handle")?;
    let write_only = x.dup(RIGHT_WRITE).context("dup")?;
    expect_errno(
        Graph::create(&relu, &[write_only.raw(), out.raw()], &outs, MODE_FAST),
        EACCES,
    )
    .context("input without read")?;
    let read_only = out.dup(RIGHT_READ).context("dup")?;
    expect_errno(
        Graph::create(&relu, &[x.raw(), read_only.raw()], &outs, MODE_FAST),
        EACCES,
    )
    .context("output without write")?;
    let hs = [x.raw(), out.raw()];
    let desc = |nodes: u64, n_nodes: u32| GraphDesc {
        nodes,
        n_nodes,
        n_bound: 2,
        bound: hs.as_ptr() as u64,
        outputs: outs.as_ptr() as u64,
        n_outputs: 1,
        mode: MODE_FAST,
    };
    expect_errno(Graph::create_desc(&desc(8, 1)), EFAULT).context("nodes pointer")?;
    expect_errno(
        Graph::create_desc(&desc(relu.as_ptr() as u64, MAX_NODES as u32 + 1)),
        EINVAL,
    )
    .context("too many nodes")?;
    expect_errno(
        Graph::create_desc(&GraphDesc {
            n_bound: 100_000,
            ..desc(relu.as_ptr() as u64, 1)
        }),
        EINVAL,
    )
    .context("too many bound")?;
    // A job handle is not a graph, a graph handle is not a job.
    let g = Graph::create(&relu, &hs, &outs, MODE_FAST).context("good graph")?;
    let job = g.submit(CLASS_NORMAL).context("submit")?;
    job.wait(u64::MAX).context("wait")?;
    expect_errno(
        sys::call2(
            MemFree::INFER_SUBMIT,
            job.raw() as usize,
            CLASS_NORMAL as usize,
        ),
        EINVAL,
    )
    .context("submit a job handle")?;
    expect_errno(sys::call2(MemFree::INFER_WAIT, g.raw() as usize, 0), EINVAL)
        .context("wait on a graph handle")?;
    expect_errno(sys::call1(MemFree::INFER_CANCEL, x.raw() as usize), EINVAL)
        .context("cancel a tensor handle")?;
    expect_errno(sys::call2(MemFree::INFER_WAIT, 0x7fff_ffff, 0), EBADF)
        .context("wait on no handle")?;
    Ok(())
}

/// An index outside the embedding table ends the run with `ERANGE` and a log line
/// naming the node; the output tensor keeps its old contents.
fn embedding_index_fails_run() -> Check {
    let table = f32_tensor(&[4, 2], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])?;
    let idx = Tensor::create(DTYPE_I32, &[2], TIER_NEAR).context("create")?;
    let out = f32_tensor(&[2, 2], &[9.0, 9.0, 9.0, 9.0])?;
    let g = Graph::create(
        &[node(op::EMBEDDING, &[bound(0), bound(1)], &[])],
        &[table.raw(), idx.raw(), out.raw()],
        &[Output { node: 0, tensor: 2 }],
        MODE_FAST,
    )
    .context("graph_create")?;
    idx.write_i32(0, &[3, 1]).context("write")?;
    g.run(CLASS_NORMAL).context("good run")?;
    expect_close(
        &out.to_vec_f32().context("read")?,
        &[6.0, 7.0, 2.0, 3.0],
        0.0,
    )
    .context("rows 3 and 1")?;
    idx.write_i32(0, &[1, 4]).context("write")?;
    let mark = klog_mark();
    expect_errno(g.run(CLASS_NORMAL), ERANGE).context("index 4 of 4 rows")?;
    klog_says(mark, "node 0 (embedding)").context("log")?;
    expect_close(
        &out.to_vec_f32().context("read")?,
        &[6.0, 7.0, 2.0, 3.0],
        0.0,
    )
    .context("output untouched")
}

/// `ai::MAX_GRAPHS` per process, then `EMFILE`; closing them gives the count back.
fn graph_limit() -> Check {
    let before = ai::usage_of(me()).context("usage")?.graphs as usize;
    let mut gs = Vec::new();
    let err = loop {
        match Graph::create(&[], &[], &[], MODE_FAST) {
            Ok(g) => gs.push(g),
            Err(e) => break e,
        }
        if gs.len() > MAX_GRAPHS {
            break libway::Errno(0);
        }
    };
    expect_eq((gs.len(), err.0), (MAX_GRAPHS - before, EMFILE)).context("limit")?;
    drop(gs);
    expect_eq(ai::usage_of(me()).context("usage")?.graphs as usize, before).context("released")
}

/// Waits (up to 2 s) for the system totals to come back to `before` after a process
/// holding tensors, graphs or jobs died: a running job stops only at its next node, so
/// the workers may need a moment to drop it.
pub fn totals_return_to(before: &libway::abi::ai::AiTotals) -> Check {
    let mut t = libway::ai::totals().context("totals")?;
    for _ in 0..200 {
        if (t.tensors, t.graphs, t.jobs) == (before.tensors, before.graphs, before.jobs) {
            break;
        }
        let _ = libway::process::sleep_or_yield(10);
        t = libway::ai::totals().context("totals")?;
    }
    expect_eq(
        (t.tensors, t.tensor_bytes, t.graphs, t.jobs),
        (
            before.tensors,
            before.tensor_bytes,
            before.graphs,
            before.jobs,
        ),
    )
    .context("totals back")
}
