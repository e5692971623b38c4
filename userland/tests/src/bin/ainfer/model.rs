//! `ainfer model`: the model registry — a `.waymodel` written here with the same writer
//! `mkmodel` uses (`wayos_kcore::waymodel::write`) loads into tensors and a graph that
//! compute what an f64 reference computes; every kind of damaged file is refused with
//! its errno and leaves nothing behind; `ai_info` lists loaded models until their graph
//! goes; a process killed mid-inference on a loaded model leaves no usage; byte-identical
//! weights held once however many loads (in one process or several) bind them, and a
//! shared copy surviving its first loader.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::ai::{TensorInfo, REF_NODE};
use libway::abi::errno::{EBADMSG, EINVAL, ENOEXEC};
use libway::abi::signal::SIGKILL;
use libway::ai;
use libway::infer::{self, node, op, CLASS_NORMAL};
use libway::suite::{expect_eq, expect_errno, expect_signal, wait_for, Check, Context, Suite};
use libway::{fs, io, process};
use wayos_kcore::waymodel::{self, OutputSpec, Spec};

use super::graphs::{expect_close, fork_holder, me, totals_return_to};
use super::tinymodel::{self, bytes_of, info, softmax, tiny_logits, W};

pub fn group(s: &mut Suite) {
    s.check("model_load_and_run", load_and_run());
    s.check("model_bad_files_refused", bad_files_refused());
    s.check("model_corpus_refused", corpus_refused());
    s.check("model_kill_mid_inference", kill_mid_inference());
    s.check("model_weights_shared", weights_shared());
    s.check(
        "model_weights_shared_between_processes",
        weights_shared_between_processes(),
    );
    s.check(
        "model_shared_weights_outlive_first_loader",
        shared_outlive_first_loader(),
    );
}

const DIR: &str = "/tmp";

const B: [f32; 3] = [0.1, -0.2, 0.3];

/// `softmax(x [1, 4] @ w [4, 3] + b [3])`, with `argmax` as a second output.
fn tiny_spec(name: &str) -> Spec {
    let mut spec = tinymodel::tiny_spec(name, &B);
    spec.nodes.push(node(op::ARGMAX, &[REF_NODE | 2], &[]));
    spec.outputs.push(OutputSpec {
        name: "class".into(),
        node: 3,
        info: TensorInfo {
            dtype: libway::abi::ai::DTYPE_I32,
            ..info(&[1])
        },
    });
    spec.labels = vec!["a".into(), "b".into(), "c".into()];
    spec
}

/// A model that keeps an accelerator busy: `n` chained 64x64 matmuls.
fn long_spec(n: usize) -> Spec {
    tinymodel::long_spec("ainfer-long", 64, n)
}

fn save(path: &str, bytes: &[u8]) -> Check {
    let f = fs::File::create(path).context("create")?;
    f.write_all(bytes).context("write")
}

fn load(path: &str) -> Result<infer::Model, libway::Errno> {
    infer::load_model_path(path)
}

fn load_and_run() -> Check {
    let file = waymodel::write(&tiny_spec("ainfer-tiny")).map_err(|e| format!("write: {e}"))?;
    let path = format!("{DIR}/ainfer-tiny.waymodel");
    save(&path, &file)?;
    let m = load(&path).context("model_load")?;
    expect_eq((m.inputs.len(), m.outputs.len()), (1, 2)).context("handles")?;
    let x = [1.0f32, -2.0, 0.5, 3.0];
    m.inputs[0].write_f32(0, &x).context("write input")?;
    m.graph.run(CLASS_NORMAL).context("run")?;
    // f64 reference.
    let z = tiny_logits(&x, &B);
    let probs = softmax(&z);
    expect_close(&m.outputs[0].to_vec_f32().context("read")?, &probs, 1e-5).context("probs")?;
    let best = (0..3).fold(0, |b, i| if z[i] > z[b] { i } else { b });
    let mut class = [0i32; 1];
    m.outputs[1].read_i32(0, &mut class).context("read")?;
    expect_eq(class[0] as usize, best).context("argmax")?;
    let listed = infer::models()
        .context("ai_info models")?
        .iter()
        .any(|r| infer::name_of(&r.name) == "ainfer-tiny" && r.owner == me());
    expect_eq(listed, true).context("listed while loaded")?;
    drop(m);
    let listed = infer::models()
        .context("ai_info models")?
        .iter()
        .any(|r| infer::name_of(&r.name) == "ainfer-tiny" && r.owner == me());
    let _ = fs::remove_file(&path);
    expect_eq(listed, false).context("gone with its graph")
}

/// Damaged files: each refused with its errno, none leaving a tensor or graph behind.
fn bad_files_refused() -> Check {
    let before = ai::usage_of(me()).context("usage")?;
    let good = waymodel::write(&tiny_spec("bad")).map_err(|e| format!("write: {e}"))?;
    let mut cases: Vec<(&str, Vec<u8>, isize)> = Vec::new();
    cases.push(("empty", Vec::new(), ENOEXEC));
    cases.push(("truncated", good[..good.len() / 2].to_vec(), ENOEXEC));
    let mut magic = good.clone();
    magic[0] ^= 0xff;
    cases.push(("bad magic", magic, ENOEXEC));
    // One byte of w's data flipped: the weights hash no longer matches.
    let mut weights = good.clone();
    let w_bytes = bytes_of(&W);
    let at = weights
        .windows(w_bytes.len())
        .position(|win| win == w_bytes.as_slice())
        .ok_or("w's data not found in the file")?;
    weights[at + 5] ^= 0x01;
    cases.push(("weights changed", weights, EBADMSG));
    // A metadata byte changed and the hashes recomputed: the parser's own checks refuse
    // it (the version field).
    let mut version = good.clone();
    version[8] ^= 0x40;
    waymodel::rehash(&mut version);
    cases.push(("bad version, rehashed", version, ENOEXEC));
    let mut extra = good.clone();
    extra.extend_from_slice(&[0; 64]);
    cases.push(("trailing bytes", extra, ENOEXEC));
    for (what, bytes, errno) in &cases {
        let path = format!("{DIR}/ainfer-bad.waymodel");
        save(&path, bytes)?;
        let r = load(&path).map(drop);
        let _ = fs::remove_file(&path);
        expect_errno(r, *errno).context(what)?;
    }
    // A directory is not a model file.
    let fd = fs::open_raw("/tmp", libway::abi::fcntl::O_RDONLY, 0).context("open /tmp")?;
    let r = infer::load_model(fd).map(drop);
    let _ = io::close(fd);
    expect_errno(r, EINVAL).context("directory")?;
    let after = ai::usage_of(me()).context("usage")?;
    expect_eq(
        (after.tensors, after.tensor_bytes, after.graphs),
        (before.tensors, before.tensor_bytes, before.graphs),
    )
    .context("nothing left behind")
}

/// A child loads a long model, starts a run and is killed during it: no usage, no
/// model, no graph or tensor left.
fn kill_mid_inference() -> Check {
    let file = waymodel::write(&long_spec(400)).map_err(|e| format!("write: {e}"))?;
    let path = format!("{DIR}/ainfer-long.waymodel");
    save(&path, &file)?;
    let before = ai::totals().context("totals")?;
    let (pid, report) = fork_holder(|| match load(&path) {
        Ok(m) => match m.graph.submit(CLASS_NORMAL) {
            Ok(j) => {
                core::mem::forget(j);
                core::mem::forget(m);
                true
            }
            Err(_) => false,
        },
        Err(_) => false,
    })?;
    let during = ai::usage_of(pid as u64).context("usage")?;
    let busy = infer::accels()
        .context("accels")?
        .iter()
        .any(|a| a.current_pid == pid as u64);
    process::kill(pid, SIGKILL).context("kill")?;
    let st = wait_for(pid, 60_000)?;
    let _ = fs::remove_file(&path);
    expect_eq(report, (Some(1), b'y')).context("child loaded and submitted")?;
    expect_eq((during.graphs, during.jobs), (1, 1)).context("child charged")?;
    let _ = busy;
    expect_signal(st, SIGKILL).context("child")?;
    totals_return_to(&before)?;
    let listed = infer::models()
        .context("ai_info models")?
        .iter()
        .any(|r| r.owner == pid as u64);
    expect_eq(listed, false).context("model gone")
}

/// The image's `.waymodel` corpus (`/testdata/waymodel`, packed by xtask from
/// `tools/corpus`): `valid` loads, and every mutant listed in `names` is refused, with
/// nothing left behind.
fn corpus_refused() -> Check {
    const DIR: &str = "/testdata/waymodel";
    let before = ai::usage_of(me()).context("usage")?;
    let valid = load(&format!("{DIR}/valid")).context("valid")?;
    drop(valid);
    let names = fs::read(&format!("{DIR}/names")).context("names")?;
    let names = core::str::from_utf8(&names).map_err(|_| "names is not UTF-8")?;
    let mut n = 0;
    for line in names.lines() {
        let Some((i, what)) = line.split_once(' ') else {
            continue;
        };
        if load(&format!("{DIR}/{i}")).is_ok() {
            return Err(format!("mutant {i} ({what}) was accepted"));
        }
        n += 1;
    }
    if n == 0 {
        return Err("no mutants listed".into());
    }
    let after = ai::usage_of(me()).context("usage")?;
    expect_eq(
        (after.tensors, after.tensor_bytes, after.graphs),
        (before.tensors, before.tensor_bytes, before.graphs),
    )
    .context("nothing left behind")
}

/// Weights of the sharing checks: `W` and `B` scaled by `k`, so no other model (of this
/// suite or anyone's) has the same bytes.
fn share_spec(name: &str, k: f32) -> Spec {
    let mut spec = tiny_spec(name);
    let w: Vec<f32> = W.iter().map(|v| v * k).collect();
    let b: Vec<f32> = B.iter().map(|v| v * k).collect();
    spec.tensors[1].data = Some(bytes_of(&w));
    spec.tensors[2].data = Some(bytes_of(&b));
    spec
}

/// Bytes of the tiny model's weights (w [4, 3] and b [3] f32) and of its input and two
/// outputs (x [1, 4], probs [1, 3] f32, class [1] i32).
const SHARE_WEIGHT_BYTES: u64 = (12 + 3) * 4;
const SHARE_IO_BYTES: u64 = (4 + 3 + 1) * 4;

/// Writes `spec` to `/tmp/<file>` and returns the path and the weights id `ai_info`
/// must give it: the first 8 bytes of the file's weights SHA-256, big-endian, read here
/// by the parser from the file (not from the kernel).
fn share_file(
    file: &str,
    spec: &Spec,
) -> Result<(alloc::string::String, u64), alloc::string::String> {
    let bytes = waymodel::write(spec).map_err(|e| format!("write: {e}"))?;
    let sha = waymodel::parse(&bytes)
        .map_err(|e| format!("parse: {e}"))?
        .weights_sha256();
    let mut id = [0u8; 8];
    id.copy_from_slice(&sha[..8]);
    let path = format!("{DIR}/{file}");
    save(&path, &bytes)?;
    Ok((path, u64::from_be_bytes(id)))
}

/// The registry's records of the weights with id `id`.
fn copies(id: u64) -> Result<Vec<libway::abi::ai::ModelInfo>, alloc::string::String> {
    Ok(infer::models()
        .context("ai_info models")?
        .into_iter()
        .filter(|r| r.weights_id == id)
        .collect())
}

/// `(records, holders of the first, its bytes)` for `id`.
fn copy_state(id: u64) -> Result<(usize, u32, u64), alloc::string::String> {
    let c = copies(id)?;
    Ok((
        c.len(),
        c.first().map_or(0, |r| r.holders),
        c.first().map_or(0, |r| r.bytes),
    ))
}

fn tensor_bytes() -> Result<u64, alloc::string::String> {
    Ok(ai::totals().context("totals")?.tensor_bytes)
}

/// Runs the tiny model on `x` and returns its probabilities.
fn run_tiny(m: &infer::Model, x: &[f32; 4]) -> Result<Vec<f32>, alloc::string::String> {
    m.inputs[0].write_f32(0, x).context("write input")?;
    m.graph.run(CLASS_NORMAL).context("run")?;
    m.outputs[0].to_vec_f32().context("read")
}

/// One process loads the same file twice, then a file with the same weights and another
/// graph, then one with other weights: the first three share one copy (one record, the
/// system's tensor bytes growing by one copy of the weights, not more), the last does
/// not; each load computes on its own inputs; unloading counts the holders down to none.
fn weights_shared() -> Check {
    let (path, id) = share_file("ainfer-share.waymodel", &share_spec("ainfer-share", 3.0))?;
    // Same tensors, another graph: relu instead of softmax, one output.
    let mut other = share_spec("ainfer-share-relu", 3.0);
    other.nodes[2] = node(op::RELU, &[REF_NODE | 1], &[]);
    other.nodes.truncate(3);
    other.outputs.truncate(1);
    let (path_g, id_g) = share_file("ainfer-share-relu.waymodel", &other)?;
    let (path_w, id_w) = share_file("ainfer-share-w.waymodel", &share_spec("ainfer-share", 5.0))?;
    let r = (|| {
        expect_eq(id_g, id).context("same weights, same id")?;
        if id_w == id {
            return Err("different weights, same id".into());
        }
        let t0 = tensor_bytes()?;
        let m1 = load(&path).context("load 1")?;
        let t1 = tensor_bytes()?;
        expect_eq(t1 - t0, SHARE_WEIGHT_BYTES + SHARE_IO_BYTES).context("first load")?;
        expect_eq(copy_state(id)?, (1, 1, SHARE_WEIGHT_BYTES)).context("one load")?;
        let owner = copies(id)?.first().map_or(0, |r| r.owner);
        expect_eq(owner, me()).context("owner")?;
        let m2 = load(&path).context("load 2")?;
        let t2 = tensor_bytes()?;
        expect_eq(t2 - t1, SHARE_IO_BYTES).context("second load adds no weights")?;
        expect_eq(copy_state(id)?, (1, 2, SHARE_WEIGHT_BYTES)).context("two loads")?;
        // Each load has its own inputs and outputs.
        let (xa, xb) = ([1.0f32, -2.0, 0.5, 3.0], [-1.0f32, 0.25, 2.0, 0.0]);
        let pa = run_tiny(&m1, &xa)?;
        let pb = run_tiny(&m2, &xb)?;
        expect_eq(run_tiny(&m1, &xb)?, pb.clone()).context("same weights, same result")?;
        expect_eq(m2.outputs[0].to_vec_f32().context("read")?, pb).context("m2 untouched")?;
        if pa == run_tiny(&m2, &xb)? {
            return Err("two inputs gave one result".into());
        }
        let m3 = load(&path_g).context("load other graph")?;
        let t3 = tensor_bytes()?;
        expect_eq(t3 - t2, (4 + 3) * 4).context("other graph adds only x and y")?;
        expect_eq(copy_state(id)?, (1, 3, SHARE_WEIGHT_BYTES)).context("three loads")?;
        let m4 = load(&path_w).context("load other weights")?;
        let t4 = tensor_bytes()?;
        expect_eq(t4 - t3, SHARE_WEIGHT_BYTES + SHARE_IO_BYTES).context("other weights")?;
        expect_eq(copy_state(id_w)?, (1, 1, SHARE_WEIGHT_BYTES)).context("its own copy")?;
        expect_eq(copy_state(id)?.1, 3).context("first copy unchanged")?;
        drop(m1);
        expect_eq(copy_state(id)?, (1, 2, SHARE_WEIGHT_BYTES)).context("after unload 1")?;
        // The copy outlives the load that made it.
        expect_eq(run_tiny(&m2, &xa)?, pa).context("m2 after m1 went")?;
        drop(m3);
        expect_eq(copy_state(id)?.1, 1).context("after unload 3")?;
        drop(m2);
        expect_eq(copy_state(id)?.0, 0).context("gone with the last load")?;
        drop(m4);
        expect_eq(copy_state(id_w)?.0, 0).context("other weights gone")?;
        expect_eq(tensor_bytes()?, t0).context("totals back")
    })();
    for p in [&path, &path_g, &path_w] {
        let _ = fs::remove_file(p);
    }
    r
}

/// A child loads the file while this process holds a load of it: one record, two
/// holders, seen by both; the child's load goes with it.
fn weights_shared_between_processes() -> Check {
    let (path, id) = share_file("ainfer-share2.waymodel", &share_spec("ainfer-share2", 7.0))?;
    let r = (|| {
        let before = ai::usage_of(me()).context("usage")?;
        let m = load(&path).context("load")?;
        let mine = ai::usage_of(me()).context("usage")?.tensor_bytes - before.tensor_bytes;
        let t1 = tensor_bytes()?;
        let parent = me();
        let st = libway::suite::in_child(|| {
            let Ok(m2) = load(&path) else { return 10 };
            match copy_state(id) {
                Ok((1, 2, SHARE_WEIGHT_BYTES)) => {}
                _ => return 11,
            }
            if copies(id).ok().and_then(|c| c.first().map(|r| r.owner)) != Some(parent) {
                return 12;
            }
            match tensor_bytes() {
                Ok(t) if t - t1 == SHARE_IO_BYTES => {}
                _ => return 13,
            }
            // The sharer pays for the weights as if it had its own copy.
            match ai::usage_of(me()) {
                Ok(u) if u.tensor_bytes == mine => {}
                _ => return 14,
            }
            match run_tiny(&m2, &[1.0, 1.0, 1.0, 1.0]) {
                Ok(p) if p.len() == 3 => 0,
                _ => 15,
            }
        })?;
        libway::suite::expect_exit(st, 0).context("child")?;
        expect_eq(copy_state(id)?, (1, 1, SHARE_WEIGHT_BYTES)).context("after the child")?;
        drop(m);
        expect_eq(copy_state(id)?.0, 0).context("gone")
    })();
    let _ = fs::remove_file(&path);
    r
}

/// The first loader is killed while another process shares its copy: the copy stays,
/// correct, with one holder, until that one unloads; then nothing is left.
fn shared_outlive_first_loader() -> Check {
    let (path, id) = share_file("ainfer-share3.waymodel", &share_spec("ainfer-share3", -2.0))?;
    let r = (|| {
        let before = ai::totals().context("totals")?;
        let (pid, report) = fork_holder(|| load(&path).map(core::mem::forget).is_ok())?;
        let m = load(&path);
        let during = copies(id);
        process::kill(pid, SIGKILL).context("kill")?;
        let st = wait_for(pid, 60_000)?;
        expect_signal(st, SIGKILL).context("child")?;
        expect_eq(report, (Some(1), b'y')).context("child loaded")?;
        let m = m.context("load")?;
        let during = during?;
        expect_eq(
            (during.len(), during.first().map(|r| (r.holders, r.owner))),
            (1, Some((2, pid as u64))),
        )
        .context("shared with the child")?;
        expect_eq(copy_state(id)?, (1, 1, SHARE_WEIGHT_BYTES)).context("after the kill")?;
        // Still the right weights: compute the first row by hand (x = e0 picks w's row 0).
        let p = run_tiny(&m, &[1.0, 0.0, 0.0, 0.0])?;
        let z: Vec<f64> = (0..3).map(|j| (W[j] as f64 + B[j] as f64) * -2.0).collect();
        let want = softmax(&z);
        expect_close(&p, &want, 1e-5).context("result")?;
        drop(m);
        expect_eq(copy_state(id)?.0, 0).context("gone")?;
        totals_return_to(&before)
    })();
    let _ = fs::remove_file(&path);
    r
}
