//! `classify [--model PATH] [--q8] [--exact] [--direct] [--check]`: the digits model on
//! the test split (`docs/digits.md`).
//!
//! Runs every image of `/testdata/digits/split.bin` through a model (default
//! `/models/digits.waymodel`; `--exact` the bit-exact one, `--q8` the int8 one) and
//! prints the accuracy, next to the host's figure for that file. `--check` is the
//! `classify` suite: each model the host wrote expectations for (`expect.bin`) must give
//! the host's accuracy exactly and every logit within 1e-5 of the host's, and the
//! bit-exact and int8 logits must hash to the host's SHA-256 (the bit-exact one is
//! printed as `classify: bitexact sha256 <hex>`: `cargo xtask test` compares it across
//! architectures). Under the harness (`WAYOS_HARNESS=1`, how init runs the suites) with no
//! arguments, it runs `--check`.
//!
//! Inference goes through [`Backend`] (load a path, infer, unload): aid's client by
//! default (the model is loaded and run by `aid`, `docs/aid.md`), or with `--direct` the
//! kernel path in this process (`model_load`, write the input tensor, run the graph,
//! read the output). [`connect`] chooses.
//!
//! Must never: trust the data files' sizes (every length is checked before anything is
//! allocated or indexed), or wait for a job without a deadline.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::ai::CLASS_NORMAL;
use libway::abi::digits::{
    self, ExpectHeader, SplitHeader, Variant, CLASSES, EXPECT_MAGIC, EXPECT_PATH, FEATURES,
    MODEL_EXACT, MODEL_F32, MODEL_Q8, SPLIT_MAGIC, SPLIT_PATH, VARIANT_EXACT, VARIANT_F32,
    VARIANT_Q8, VERSION,
};
use libway::abi::errno;
use libway::abi::harness::HARNESS_ENV;
use libway::abi::zerocopy::FromBytes;
use libway::errno::Errno;
use libway::suite::{Check, Suite};
use libway::{aid, env, eprintln, fs, infer, println, time, Args};
use sha2::{Digest, Sha256};

libway::entry!(main);

const USAGE: &str = "Usage: classify [--model PATH | --exact | --q8] [--direct] [--check]\n\
Run the digits model over its test split (/testdata/digits) and print the accuracy.\n\n  \
--model PATH  the .waymodel to run (default /models/digits.waymodel)\n  \
--exact       /models/digits-exact.waymodel (bit-exact mode)\n  \
--q8          /models/digits-q8.waymodel (int8)\n  \
--direct      run through the kernel's queue directly, not through aid\n  \
--check       run every model and compare with the host's results (a test suite)\n  \
-h, --help    show this help";

/// How long one inference may take before it counts as hung (TCG on a busy host).
const INFER_TIMEOUT_NS: u64 = 60_000_000_000;
/// How far a logit may be from the host's (the guest's fast-mode kernels may fuse).
const LOGIT_TOLERANCE: f32 = 1e-5;
/// More samples than any split file may claim (bounds the allocations a bad file causes).
const MAX_SAMPLES: usize = 100_000;

/// What one inference used, as aid's replies carry it (from `infer_stats` when the
/// kernel has it).
#[derive(Clone, Copy, Default)]
struct Usage {
    run_ns: u64,
    queued_ns: u64,
}

/// A loaded model, as aid names it.
#[derive(Clone, Copy)]
struct ModelId(usize);

/// The operations `classify` needs, shaped like `libway::aid::Client` (load a path,
/// infer with a class, unload), so aid's client slots in for the kernel path.
trait Backend {
    fn load(&mut self, path: &str) -> Result<ModelId, Errno>;
    fn infer(
        &mut self,
        id: ModelId,
        input: &[f32],
        output: &mut [f32],
        class: u32,
    ) -> Result<Usage, Errno>;
    fn unload(&mut self, id: ModelId);
}

/// A model loaded on the kernel path, with its input and output sizes in floats.
struct Loaded {
    model: infer::Model,
    in_floats: usize,
    out_floats: usize,
}

/// The kernel path: `model_load` and the inference queue, in this process.
#[derive(Default)]
struct Direct {
    models: Vec<Option<Loaded>>,
}

/// The number of `f32`s in `t`, or `EINVAL` if it is not an `f32` tensor.
fn f32_floats(t: &libway::ai::Tensor) -> Result<usize, Errno> {
    let i = t.info()?;
    if i.dtype != libway::abi::ai::DTYPE_F32 {
        return Err(Errno(errno::EINVAL));
    }
    usize::try_from(i.bytes / 4).map_err(|_| Errno(errno::EINVAL))
}

impl Backend for Direct {
    fn load(&mut self, path: &str) -> Result<ModelId, Errno> {
        let model = infer::load_model_path(path)?;
        if model.inputs.len() != 1 || model.outputs.len() != 1 {
            return Err(Errno(errno::EINVAL));
        }
        let in_floats = f32_floats(&model.inputs[0])?;
        let out_floats = f32_floats(&model.outputs[0])?;
        self.models.push(Some(Loaded {
            model,
            in_floats,
            out_floats,
        }));
        Ok(ModelId(self.models.len() - 1))
    }

    fn infer(
        &mut self,
        id: ModelId,
        input: &[f32],
        output: &mut [f32],
        class: u32,
    ) -> Result<Usage, Errno> {
        let l = self
            .models
            .get(id.0)
            .and_then(Option::as_ref)
            .ok_or(Errno(errno::EBADF))?;
        // As aid does: the buffers must be exactly the model's input and output.
        if input.len() != l.in_floats || output.len() != l.out_floats {
            return Err(Errno(errno::EINVAL));
        }
        let m = &l.model;
        m.inputs[0].write_f32(0, input)?;
        let job = m.graph.submit(class)?;
        job.wait(INFER_TIMEOUT_NS)?;
        // infer_stats is newer than model_load: without it the figures are just absent.
        let usage = job
            .stats()
            .map(|s| Usage {
                run_ns: s.run_ns,
                queued_ns: s.queued_ns,
            })
            .unwrap_or_default();
        m.outputs[0].read_f32(0, output)?;
        Ok(usage)
    }

    fn unload(&mut self, id: ModelId) {
        if let Some(slot) = self.models.get_mut(id.0) {
            *slot = None;
        }
    }
}

/// aid's client: the model is loaded and run by aid, the figures come from its reply.
struct Aid(aid::Client);

impl Backend for Aid {
    fn load(&mut self, path: &str) -> Result<ModelId, Errno> {
        self.0.load(path).map(|m| ModelId(m.0 as usize))
    }

    fn infer(
        &mut self,
        id: ModelId,
        input: &[f32],
        output: &mut [f32],
        class: u32,
    ) -> Result<Usage, Errno> {
        let m = aid::ModelId(u32::try_from(id.0).map_err(|_| Errno(errno::EINVAL))?);
        let u = self.0.infer(m, input, output, class)?;
        Ok(Usage {
            run_ns: u.run_ns,
            queued_ns: u.queued_ns,
        })
    }

    fn unload(&mut self, id: ModelId) {
        if let Ok(m) = u32::try_from(id.0) {
            let _ = self.0.unload(aid::ModelId(m));
        }
    }
}

/// The backend: aid, or with `direct` the kernel's queue in this process.
fn connect(direct: bool) -> Result<Box<dyn Backend>, Errno> {
    if direct {
        Ok(Box::new(Direct::default()))
    } else {
        Ok(Box::new(Aid(aid::Client::connect()?)))
    }
}

/// The test split: inputs and labels.
struct Split {
    inputs: Vec<f32>,
    labels: Vec<u8>,
}

impl Split {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn input(&self, k: usize) -> &[f32] {
        &self.inputs[k * FEATURES..(k + 1) * FEATURES]
    }
}

fn read_file(path: &str) -> Result<Vec<u8>, String> {
    fs::File::open(path)
        .and_then(|f| f.read_to_end())
        .map_err(|e| format!("{path}: {e}"))
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// `n` items of `size` bytes, or an error naming the file.
fn sized(path: &str, n: usize, size: usize) -> Result<usize, String> {
    n.checked_mul(size)
        .ok_or_else(|| format!("{path}: sizes overflow"))
}

fn load_split() -> Result<Split, String> {
    let bytes = read_file(SPLIT_PATH)?;
    let (h, rest) = SplitHeader::read_from_prefix(&bytes)
        .map_err(|_| format!("{SPLIT_PATH}: shorter than its header"))?;
    let n = h.samples as usize;
    if h.magic != SPLIT_MAGIC
        || h.version != VERSION
        || h.features as usize != FEATURES
        || h.classes as usize != CLASSES
        || n == 0
        || n > MAX_SAMPLES
    {
        return Err(format!(
            "{SPLIT_PATH}: not a digits split this program reads"
        ));
    }
    let inputs = sized(SPLIT_PATH, n, FEATURES * 4)?;
    if rest.len() != inputs + n {
        return Err(format!(
            "{SPLIT_PATH}: {} bytes after the header, want {}",
            rest.len(),
            inputs + n
        ));
    }
    let labels = rest[inputs..].to_vec();
    if labels.iter().any(|&l| usize::from(l) >= CLASSES) {
        return Err(format!("{SPLIT_PATH}: a label out of range"));
    }
    Ok(Split {
        inputs: f32s(&rest[..inputs]),
        labels,
    })
}

/// The host's expectations for one model file.
struct Expected {
    rec: Variant,
    logits: Vec<f32>,
}

fn load_expected(samples: usize) -> Result<Vec<Expected>, String> {
    let bytes = read_file(EXPECT_PATH)?;
    let (h, mut rest) = ExpectHeader::read_from_prefix(&bytes)
        .map_err(|_| format!("{EXPECT_PATH}: shorter than its header"))?;
    if h.magic != EXPECT_MAGIC
        || h.version != VERSION
        || h.samples as usize != samples
        || h.classes as usize != CLASSES
        || h.variants > 8
    {
        return Err(format!("{EXPECT_PATH}: does not match the split"));
    }
    let mut recs = Vec::new();
    for _ in 0..h.variants {
        let (v, r) = Variant::read_from_prefix(rest)
            .map_err(|_| format!("{EXPECT_PATH}: truncated records"))?;
        if digits::variant_path(v.id).is_none() {
            return Err(format!("{EXPECT_PATH}: unknown variant {}", v.id));
        }
        recs.push(v);
        rest = r;
    }
    let each = sized(EXPECT_PATH, samples, CLASSES * 4)?;
    if Some(rest.len()) != each.checked_mul(recs.len()) {
        return Err(format!("{EXPECT_PATH}: {} bytes of logits", rest.len()));
    }
    Ok(recs
        .into_iter()
        .zip(rest.chunks_exact(each.max(1)))
        .map(|(rec, b)| Expected {
            rec,
            logits: f32s(b),
        })
        .collect())
}

/// The largest logit, the lowest index on a tie (as the host and `ai::op::ARGMAX`).
fn argmax(z: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in z.iter().enumerate() {
        if v > z[best] {
            best = i;
        }
    }
    best
}

/// One model over the whole split.
struct Run {
    logits: Vec<f32>,
    correct: usize,
    /// Wall-clock time of all the inferences.
    ns: u64,
    /// Summed over the jobs (0 when the kernel has no `infer_stats`).
    usage: Usage,
}

fn run_model(b: &mut dyn Backend, path: &str, split: &Split) -> Result<Run, String> {
    let id = b.load(path).map_err(|e| {
        let why = if e.code() == errno::EINVAL {
            " (not a model with one f32 input and one f32 output)"
        } else {
            ""
        };
        format!("{path}: {e}{why}")
    })?;
    let mut logits = Vec::new();
    logits
        .try_reserve_exact(split.len() * CLASSES)
        .map_err(|_| String::from("out of memory"))?;
    let mut usage = Usage::default();
    let mut correct = 0;
    let start = time::monotonic_ns().unwrap_or(0);
    for k in 0..split.len() {
        let mut z = [0f32; CLASSES];
        let u = match b.infer(id, split.input(k), &mut z, CLASS_NORMAL) {
            Ok(u) => u,
            Err(e) => {
                b.unload(id);
                let why = if e.code() == errno::EINVAL && k == 0 {
                    " (a digits model takes 64 f32 inputs and gives 10 f32 logits)"
                } else {
                    ""
                };
                return Err(format!("{path}: sample {k}: {e}{why}"));
            }
        };
        usage.run_ns += u.run_ns;
        usage.queued_ns += u.queued_ns;
        correct += usize::from(argmax(&z) == usize::from(split.labels[k]));
        logits.extend_from_slice(&z);
    }
    let ns = time::monotonic_ns().unwrap_or(0).saturating_sub(start);
    b.unload(id);
    Ok(Run {
        logits,
        correct,
        ns,
        usage,
    })
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn percent(correct: usize, n: usize) -> String {
    // Two decimals without floating-point formatting: round(10000 c / n).
    let bp = (correct * 10_000 + n / 2) / n.max(1);
    format!("{}.{:02}%", bp / 100, bp % 100)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn logits_sha256(logits: &[f32]) -> [u8; 32] {
    let mut h = Sha256::new();
    for v in logits {
        h.update(v.to_le_bytes());
    }
    h.finalize().into()
}

/// `classify [--model PATH]`: one model, its accuracy.
fn classify(path: &str, direct: bool) -> i32 {
    let split = match load_split() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("classify: {e}");
            return 1;
        }
    };
    let mut b = match connect(direct) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("classify: cannot reach aid: {e} (try --direct)");
            return 1;
        }
    };
    let run = match run_model(b.as_mut(), path, &split) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("classify: {e}");
            return 1;
        }
    };
    let n = split.len();
    println!(
        "classify: {}: {}/{n} correct, accuracy {}",
        file_name(path),
        run.correct,
        percent(run.correct, n)
    );
    // The host's figure for the same file, when it is one of the shipped models.
    if let Ok(exp) = load_expected(n) {
        if let Some(e) = exp
            .iter()
            .find(|e| digits::variant_path(e.rec.id) == Some(path))
        {
            println!(
                "classify: the host computed {}/{n} for {}",
                e.rec.correct,
                file_name(path)
            );
        }
    }
    println!(
        "classify: {n} inferences in {} us ({} ns each, submit to result)",
        run.ns / 1000,
        run.ns / n as u64
    );
    if run.usage.run_ns > 0 {
        println!(
            "classify: on the accelerators {} ns each, queued {} ns each (infer_stats; \
             instructions under cargo xtask bench's -icount)",
            run.usage.run_ns / n as u64,
            run.usage.queued_ns / n as u64
        );
    }
    0
}

fn variant_name(id: u32) -> &'static str {
    match id {
        VARIANT_F32 => "f32",
        VARIANT_EXACT => "exact",
        VARIANT_Q8 => "q8",
        _ => "unknown",
    }
}

/// Checks one model file against the host's expectations.
fn check_variant(s: &mut Suite, b: &mut dyn Backend, split: &Split, e: &Expected) {
    let name = variant_name(e.rec.id);
    let path = digits::variant_path(e.rec.id).unwrap_or(MODEL_F32);
    let run = match run_model(b, path, split) {
        Ok(r) => r,
        Err(why) => {
            s.check(&format!("{name}_model_runs"), Err(why));
            return;
        }
    };
    s.check(&format!("{name}_model_runs"), Ok(()));
    println!(
        "classify: {}: {}/{} correct, accuracy {}, {} ns per inference",
        file_name(path),
        run.correct,
        split.len(),
        percent(run.correct, split.len()),
        run.ns / split.len() as u64
    );
    s.check(
        &format!("{name}_accuracy_equals_host"),
        if run.correct == e.rec.correct as usize {
            Ok(())
        } else {
            Err(format!(
                "{} correct here, {} on the host",
                run.correct, e.rec.correct
            ))
        },
    );
    s.check(&format!("{name}_logits_within_1e-5_of_host"), {
        let worst = run
            .logits
            .iter()
            .zip(&e.logits)
            .enumerate()
            .map(|(i, (a, b))| (i, (a - b).abs(), *a, *b))
            .fold((0, 0f32, 0f32, 0f32), |w, x| {
                if x.1 > w.1 || x.1.is_nan() {
                    x
                } else {
                    w
                }
            });
        let (i, d, got, want) = worst;
        if run.logits.len() == e.logits.len() && d <= LOGIT_TOLERANCE && !d.is_nan() {
            Ok(())
        } else {
            Err(format!(
                "sample {} logit {}: {got} here, {want} on the host",
                i / CLASSES,
                i % CLASSES
            ))
        }
    });
    // The bit-exact model is the same everywhere by design, the int8 one because all
    // its arithmetic is integer or singly rounded: both must match the host's bits.
    if e.rec.id == VARIANT_EXACT || e.rec.id == VARIANT_Q8 {
        let got = logits_sha256(&run.logits);
        if e.rec.id == VARIANT_EXACT {
            println!("classify: bitexact sha256 {}", hex(&got));
        }
        s.check(
            &format!("{name}_logits_sha256_equals_host"),
            if got == e.rec.logits_sha256 {
                Ok(())
            } else {
                Err(format!(
                    "{} here, {} on the host",
                    hex(&got),
                    hex(&e.rec.logits_sha256)
                ))
            },
        );
    }
}

/// `classify --check`: the suite.
fn check(direct: bool) -> i32 {
    let mut s = Suite::new("classify");
    let loaded = load_split().and_then(|sp| {
        let e = load_expected(sp.len())?;
        Ok((sp, e))
    });
    let (split, expected) = match loaded {
        Ok(x) => x,
        Err(why) => {
            s.check("testdata_reads", Err(why));
            return s.finish();
        }
    };
    let want: &[u32] = if digits::Q8_OPS {
        &[VARIANT_F32, VARIANT_EXACT, VARIANT_Q8]
    } else {
        &[VARIANT_F32, VARIANT_EXACT]
    };
    let ids: Vec<u32> = expected.iter().map(|e| e.rec.id).collect();
    s.check(
        "testdata_reads",
        if ids == want {
            Ok(())
        } else {
            Err(format!("{EXPECT_PATH} has variants {ids:?}, want {want:?}"))
        },
    );
    if !digits::Q8_OPS {
        // Not a skip: there is no int8 model to check until the kernel's graphs take
        // QUANTIZE/DEQUANTIZE (then the host writes it and this checks it).
        println!(
            "classify: no int8 model in this build (the ABI's op::COUNT stops before QUANTIZE)"
        );
    }
    let mut b = match connect(direct) {
        Ok(b) => b,
        Err(e) => {
            s.check("backend_connects", Err(format!("{e}")));
            return s.finish();
        }
    };
    for e in &expected {
        check_variant(&mut s, b.as_mut(), &split, e);
    }
    s.check("checked_the_models", check_models_listed(&expected));
    s.finish()
}

/// Every shipped model file has expectations (so none goes unchecked).
fn check_models_listed(expected: &[Expected]) -> Check {
    for path in [MODEL_F32, MODEL_EXACT, MODEL_Q8] {
        let present = fs::File::open(path).is_ok();
        let listed = expected
            .iter()
            .any(|e| digits::variant_path(e.rec.id) == Some(path));
        if present != listed {
            return Err(format!(
                "{path}: present {present}, host expectations {listed}"
            ));
        }
    }
    Ok(())
}

fn main(args: Args) -> i32 {
    let mut path = MODEL_F32;
    let mut direct = false;
    let mut check_mode = false;
    let mut i = 1;
    while let Some(a) = args.get(i) {
        match a {
            "-h" | "--help" => {
                println!("{USAGE}");
                return 0;
            }
            "--model" => {
                let Some(p) = args.get(i + 1) else {
                    eprintln!("classify: --model needs a path");
                    return 2;
                };
                path = p;
                i += 1;
            }
            "--q8" => path = MODEL_Q8,
            "--exact" => path = MODEL_EXACT,
            "--direct" => direct = true,
            "--check" => check_mode = true,
            other => {
                eprintln!("classify: unexpected argument '{other}'");
                eprintln!("Try 'classify -h' for more information.");
                return 2;
            }
        }
        i += 1;
    }
    let harness_default = args.len() <= 1 && env::var(HARNESS_ENV) == Some("1");
    if check_mode || harness_default {
        check(direct)
    } else {
        classify(path, direct)
    }
}
