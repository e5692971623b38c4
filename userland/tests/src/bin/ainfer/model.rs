//! `ainfer model`: the model registry — a `.waymodel` written here with the same writer
//! `mkmodel` uses (`wayos_kcore::waymodel::write`) loads into tensors and a graph that
//! compute what an f64 reference computes; every kind of damaged file is refused with
//! its errno and leaves nothing behind; `ai_info` lists loaded models until their graph
//! goes; a process killed mid-inference on a loaded model leaves no usage.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::ai::{TensorInfo, DTYPE_F32, REF_NODE};
use libway::abi::errno::{EBADMSG, EINVAL, ENOEXEC};
use libway::abi::signal::SIGKILL;
use libway::ai;
use libway::infer::{self, node, op, CLASS_NORMAL, MODE_FAST};
use libway::suite::{expect_eq, expect_errno, expect_signal, wait_for, Check, Context, Suite};
use libway::{fs, io, process};
use wayos_kcore::waymodel::{self, OutputSpec, Spec, TensorSpec};

use super::graphs::{expect_close, me, totals_return_to};

pub fn group(s: &mut Suite) {
    s.check("model_load_and_run", load_and_run());
    s.check("model_bad_files_refused", bad_files_refused());
    s.check("model_corpus_refused", corpus_refused());
    s.check("model_kill_mid_inference", kill_mid_inference());
}

const DIR: &str = "/tmp";

fn info(dims: &[u32]) -> TensorInfo {
    let mut t = TensorInfo {
        dtype: DTYPE_F32,
        rank: dims.len() as u32,
        ..Default::default()
    };
    t.dims[..dims.len()].copy_from_slice(dims);
    t
}

fn bytes_of(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

const W: [f32; 12] = [
    0.5, -1.0, 0.25, 1.5, 0.0, -0.5, -2.0, 1.0, 0.75, 0.125, 2.0, -1.25,
];
const B: [f32; 3] = [0.1, -0.2, 0.3];

/// `softmax(x [1, 4] @ w [4, 3] + b [3])`, with `argmax` as a second output.
fn tiny_spec(name: &str) -> Spec {
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
                data: Some(bytes_of(&B)),
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
                info: info(&[1, 3]),
            },
            OutputSpec {
                name: "class".into(),
                node: 3,
                info: TensorInfo {
                    dtype: libway::abi::ai::DTYPE_I32,
                    ..info(&[1])
                },
            },
        ],
        labels: vec!["a".into(), "b".into(), "c".into()],
    }
}

/// A model that keeps an accelerator busy: `n` chained 64x64 matmuls.
fn long_spec(n: usize) -> Spec {
    let d = 64usize;
    let mut w = vec![0f32; d * d];
    for i in 0..d {
        w[i * d + i] = 1.0;
    }
    let mut nodes = vec![node(op::MATMUL, &[0, 1], &[])];
    for i in 1..n {
        nodes.push(node(op::MATMUL, &[REF_NODE | (i as u32 - 1), 1], &[]));
    }
    Spec {
        name: "ainfer-long".into(),
        mode: MODE_FAST,
        tensors: vec![
            TensorSpec {
                name: "x".into(),
                info: info(&[64, 64]),
                data: None,
            },
            TensorSpec {
                name: "w".into(),
                info: info(&[64, 64]),
                data: Some(bytes_of(&w)),
            },
        ],
        nodes,
        outputs: vec![OutputSpec {
            name: "y".into(),
            node: n as u32 - 1,
            info: info(&[64, 64]),
        }],
        labels: vec![],
    }
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
    let mut z = [0f64; 3];
    for (j, zj) in z.iter_mut().enumerate() {
        *zj = B[j] as f64
            + (0..4)
                .map(|k| x[k] as f64 * W[k * 3 + j] as f64)
                .sum::<f64>();
    }
    let max = z.iter().cloned().fold(f64::MIN, f64::max);
    let e: Vec<f64> = z.iter().map(|v| libm_exp(v - max)).collect();
    let sum: f64 = e.iter().sum();
    let probs: Vec<f64> = e.iter().map(|v| v / sum).collect();
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

/// exp(x) for x <= 0 by range reduction and a Taylor series (no libm in the guest).
fn libm_exp(x: f64) -> f64 {
    let k = (x / core::f64::consts::LN_2) as i32 - 1;
    let r = x - k as f64 * core::f64::consts::LN_2;
    let mut term = 1.0;
    let mut sum = 1.0;
    for i in 1..30 {
        term *= r / i as f64;
        sum += term;
    }
    // 2^k, built from the exponent bits (k is far inside the normal range here).
    sum * f64::from_bits(((1023 + k as i64) as u64) << 52)
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
    let (r, w) = io::pipe(false).context("pipe")?;
    let pid = match process::fork() {
        Ok(0) => {
            let ok = match load(&path) {
                Ok(m) => match m.graph.submit(CLASS_NORMAL) {
                    Ok(j) => {
                        core::mem::forget(j);
                        core::mem::forget(m);
                        true
                    }
                    Err(_) => false,
                },
                Err(_) => false,
            };
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
    let during = ai::usage_of(pid as u64).context("usage")?;
    let busy = infer::accels()
        .context("accels")?
        .iter()
        .any(|a| a.current_pid == pid as u64);
    process::kill(pid, SIGKILL).context("kill")?;
    let st = wait_for(pid, 60_000)?;
    let _ = fs::remove_file(&path);
    expect_eq((got.ok(), b[0]), (Some(1), b'y')).context("child loaded and submitted")?;
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
