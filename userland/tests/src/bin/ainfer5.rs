//! `ainfer5 [<test>|all]`: aid, the AI daemon (`docs/aid.md`) — the seed's Phase AI-4
//! hardening, lifecycle and ownership suite. Each check talks to the running aid through
//! libway's client, with models this suite writes into `/tmp` with `mkmodel`'s writer;
//! results are compared with an f64 reference computed here.
//!
//! Tests: `serve` (load, info, infer against the reference, unload), `bad` (every kind of
//! malformed request gets its errno and aid goes on), `dedup` (two clients loading one
//! file: one copy in aid and in the kernel, two holders), `owner` (another client can
//! neither use nor unload a model until it is shared; forged shares refused), `death` (a
//! killed child's models and its request in flight vanish), `quota` (models, bytes,
//! sessions), `account` (each reply's usage, and aid's per-client sums equal to them;
//! `ainfo aid` shows the client), `rt` (a request in a higher class is answered while a
//! long background request is still running), `classes` (a client without `aiaccel` or
//! `rtprio` cannot reach the high classes through aid), `restart` (aid killed mid-request:
//! the client gets an error, init restarts aid, the client reconnects and succeeds; needs
//! a capability set that may signal aid, so typed at the shell it is skipped), `console`
//! (init's other supervised server: the console server killed, init starts a new one,
//! and this suite moves its stdio onto it; needs `kill`, skipped at the shell).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::ai::{CLASS_BACKGROUND, CLASS_NORMAL, CLASS_RT};
use libway::abi::aid::{
    self as proto, InferReq, Usage, MAX_MODELS_PER_SESSION, MAX_SESSIONS_PER_PID,
};
use libway::abi::errno::{E2BIG, EACCES, EAGAIN, EDQUOT, EINVAL, EMFILE, ENOENT, EPERM};
use libway::abi::ipc::Message;
use libway::abi::signal::SIGKILL;
use libway::abi::zerocopy::IntoBytes;
use libway::aid::{Client, ModelId, USAGE_KERNEL};
use libway::caps;
use libway::grant::{SharedBuf, RIGHT_GRANT, RIGHT_READ, RIGHT_WRITE};
use libway::infer;
use libway::ipc::{ns, MessageExt, Port};
use libway::suite::{expect_eq, expect_errno, run_captured, wait_for, Check, Context, Suite};
use libway::{fs, io, println, process, Args, Errno};
use wayos_kcore::waymodel::{self, Spec};

#[path = "ainfer/tinymodel.rs"]
mod tinymodel;

use tinymodel::{softmax, tiny_logits};

libway::entry!(main);

type Test = (&'static str, fn(&mut Suite));

const TESTS: &[Test] = &[
    ("serve", serve),
    ("bad", bad),
    ("dedup", dedup),
    ("owner", owner),
    ("death", death),
    ("quota", quota),
    ("account", account),
    ("rt", rt),
    ("classes", classes),
    ("restart", restart),
    ("console", console),
];

fn main(args: Args) -> i32 {
    let which = args.get(1).unwrap_or("all");
    let mut s = Suite::new("ainfer5");
    if which == "all" {
        for (_, t) in TESTS {
            t(&mut s);
        }
    } else if let Some((_, t)) = TESTS.iter().find(|(n, _)| *n == which) {
        t(&mut s);
    } else {
        println!("ainfer5: unknown test '{which}'");
        let names: Vec<&str> = TESTS.iter().map(|(n, _)| *n).collect();
        println!("usage: ainfer5 [{}|all]", names.join("|"));
        return 2;
    }
    s.finish()
}

// ---- models ----------------------------------------------------------------------

/// `b` of the tiny model: `[bias, -0.2, 0.3]`, so each `bias` is a different file.
fn tiny_b(bias: f32) -> [f32; 3] {
    [bias, -0.2, 0.3]
}

/// `softmax(x [1, 4] @ w [4, 3] + b)` with `b` from `bias` ([`tiny_b`]).
fn tiny_spec(name: &str, bias: f32) -> Spec {
    tinymodel::tiny_spec(name, &tiny_b(bias))
}

/// What [`tiny_spec`] computes, in f64.
fn tiny_reference(x: &[f32; 4], bias: f32) -> [f64; 3] {
    let p = softmax(&tiny_logits(x, &tiny_b(bias)));
    [p[0], p[1], p[2]]
}

/// Side of the long model's matrices.
const LONG_D: usize = 128;

/// `n` chained matmuls with the identity: keeps an accelerator busy.
fn long_spec(n: usize) -> Spec {
    tinymodel::long_spec("ainfer5-long", LONG_D as u32, n)
}

fn save(path: &str, spec: &Spec) -> Check {
    let bytes = waymodel::write(spec).map_err(|e| format!("waymodel::write: {e:?}"))?;
    let f = fs::File::create(path).context("create")?;
    f.write_all(&bytes).context("write")
}

/// Writes the tiny model with `bias` to `/tmp/ainfer5-<tag>.waymodel`; its path.
fn tiny(tag: &str, bias: f32) -> Result<String, String> {
    let path = format!("/tmp/ainfer5-{tag}.waymodel");
    save(&path, &tiny_spec(&format!("ainfer5-{tag}"), bias))?;
    Ok(path)
}

const X: [f32; 4] = [1.0, -2.0, 0.5, 3.0];

/// Runs the tiny model through aid and compares with the reference.
fn infer_tiny(c: &Client, id: ModelId, bias: f32, class: u32) -> Result<Usage, String> {
    let mut out = [0f32; 3];
    let u = c.infer(id, &X, &mut out, class).context("infer")?;
    let want = tiny_reference(&X, bias);
    for (g, w) in out.iter().zip(want) {
        if (*g as f64 - w).abs() > 1e-5 {
            return Err(format!("output {out:?}, reference {want:?}"));
        }
    }
    Ok(u)
}

fn connect() -> Result<Client, String> {
    Client::connect().context("connect to aid")
}

/// aid's record of model `id`, if it holds it.
fn listed(c: &Client, id: ModelId) -> Result<Option<proto::ListEntry>, String> {
    Ok(c.list().context("list")?.into_iter().find(|e| e.id == id.0))
}

/// Kernel models named `name` (the registry `ainfo models` shows).
fn kernel_copies(name: &str) -> Result<usize, String> {
    Ok(infer::models()
        .context("ai_info(models)")?
        .iter()
        .filter(|m| infer::name_of(&m.name) == name)
        .count())
}

/// Polls `cond` every 20 ms for up to `ms`.
fn eventually(ms: u64, mut cond: impl FnMut() -> Result<bool, String>) -> Check {
    let mut waited = 0;
    loop {
        if cond()? {
            return Ok(());
        }
        if waited >= ms {
            return Err(format!("not so after {ms} ms"));
        }
        let _ = process::sleep_or_yield(20);
        waited += 20;
    }
}

// ---- tests -------------------------------------------------------------------------

fn serve(s: &mut Suite) {
    s.check("serve_load_info_infer_unload", serve_check());
}

fn serve_check() -> Check {
    let path = tiny("serve", 0.1)?;
    let c = connect()?;
    let id = c.load(&path).context("load")?;
    let d = c.info(id).context("info")?;
    expect_eq(
        (
            d.in_floats,
            d.out_floats,
            d.n_inputs,
            d.n_outputs,
            d.holders,
        ),
        (4, 3, 1, 1, 1),
    )
    .context("info")?;
    expect_eq(libway::aid::name_of(&d.name), "ainfer5-serve").context("name")?;
    expect_eq((d.input.rank, d.input.dims), (2, [1, 4, 0, 0])).context("input shape")?;
    expect_eq(d.id, id.0).context("info id")?;
    infer_tiny(&c, id, 0.1, CLASS_NORMAL)?;
    c.unload(id).context("unload")?;
    expect_errno(c.unload(id), ENOENT).context("second unload")?;
    let mut out = [0f32; 3];
    expect_errno(c.infer(id, &X, &mut out, CLASS_NORMAL), ENOENT).context("infer after unload")?;
    expect_eq(listed(&c, id)?.is_none(), true).context("listed after unload")
}

fn bad(s: &mut Suite) {
    s.check("bad_paths_and_files", bad_files());
    s.check("bad_requests_get_errnos", bad_requests());
    s.check("bad_infer_requests", bad_infers());
    s.check("bad_door_requests", bad_door());
}

fn call(c: &Client, label: u64, bytes: &[u8]) -> Result<(), Errno> {
    let mut m = Message::with_bytes(label, bytes)?;
    c.raw_call(&mut m)
}

fn bad_files() -> Check {
    let c = connect()?;
    expect_errno(call(&c, proto::LOAD, b""), EINVAL).context("empty path")?;
    expect_errno(call(&c, proto::LOAD, b"/tmp/a\0b"), EINVAL).context("NUL in path")?;
    expect_errno(call(&c, proto::LOAD, &[0xff, 0xfe, b'/']), EINVAL).context("not UTF-8")?;
    expect_errno(c.load("/tmp/ainfer5-no-such-file"), ENOENT).context("missing file")?;
    expect_errno(c.load(&"/x".repeat(100)), libway::abi::errno::ENAMETOOLONG)
        .context("long path")?;
    fs::write(
        "/tmp/ainfer5-garbage",
        b"this is not a model at all, just bytes",
    )
    .context("write garbage")?;
    if c.load("/tmp/ainfer5-garbage").is_ok() {
        return Err("a garbage file loaded".into());
    }
    if c.load("/tmp").is_ok() {
        return Err("a directory loaded".into());
    }
    // The image's corpus of damaged models: every one refused.
    let names = fs::read("/testdata/waymodel/names").context("corpus names")?;
    let names = String::from_utf8_lossy(&names);
    let mut refused = 0;
    for line in names.lines().take(16) {
        let Some(file) = line.split_whitespace().next() else {
            continue;
        };
        if let Ok(id) = c.load(&format!("/testdata/waymodel/{file}")) {
            let _ = c.unload(id);
            return Err(format!("corpus mutant {line} loaded"));
        }
        refused += 1;
    }
    if refused == 0 {
        return Err("no corpus files found".into());
    }
    // And the valid one loads.
    let id = c
        .load("/testdata/waymodel/valid")
        .context("valid corpus model")?;
    c.unload(id).context("unload valid")?;
    expect_eq(c.list().context("list")?.len(), 0).context("models left")
}

fn bad_requests() -> Check {
    let c = connect()?;
    expect_errno(call(&c, 999, b""), EINVAL).context("unknown label")?;
    expect_errno(call(&c, proto::CONNECT, b""), EINVAL).context("CONNECT on a session")?;
    expect_errno(call(&c, proto::UNLOAD, b"\x01"), EINVAL).context("short UNLOAD")?;
    expect_errno(call(&c, proto::UNLOAD, &[1, 0, 0, 0, 0]), EINVAL).context("long UNLOAD")?;
    expect_errno(c.unload(ModelId(0xdead_beef)), ENOENT).context("unknown id")?;
    expect_errno(c.info(ModelId(0)), ENOENT).context("info of id 0")?;
    expect_errno(call(&c, proto::LIST, b""), EINVAL).context("LIST without index")?;
    expect_errno(call(&c, proto::STATS, &[0; 9]), EINVAL).context("STATS too long")?;
    expect_errno(call(&c, proto::SHARE, &7u32.to_le_bytes()), ENOENT).context("share unknown")?;
    expect_errno(call(&c, proto::ATTACH, b""), EINVAL).context("ATTACH without a handle")?;
    // A port of our own is not a share handle.
    let mine = Port::create(2).context("port")?;
    let theirs = mine
        .dup(libway::ipc::RIGHT_SEND | libway::ipc::RIGHT_GRANT)
        .context("dup")?;
    expect_errno(c.attach(theirs), EINVAL).context("forged share")?;
    // A memory handle where a share handle goes.
    let buf = SharedBuf::new(4096).context("buf")?;
    let mut m = Message::new(proto::ATTACH);
    let _ = buf
        .grant(RIGHT_READ | RIGHT_GRANT)
        .context("grant")?
        .attach(&mut m);
    expect_errno(c.raw_call(&mut m), EINVAL).context("memory handle as share")?;
    // aid still serves.
    c.list().context("list after bad requests")?;
    Ok(())
}

fn infer_msg(req: InferReq, inline: &[f32]) -> Message {
    let mut m = Message::new(proto::INFER);
    let h = core::mem::size_of::<InferReq>();
    m.data[..h].copy_from_slice(req.as_bytes());
    let b = inline.as_bytes();
    let n = b.len().min(m.data.len() - h);
    m.data[h..h + n].copy_from_slice(&b[..n]);
    m.len = (h + n) as u32;
    m
}

fn bad_infers() -> Check {
    let path = tiny("bad", 0.1)?;
    let c = connect()?;
    let id = c.load(&path).context("load")?;
    let ok = InferReq {
        id: id.0,
        class: CLASS_NORMAL,
        n_in: 4,
        n_out: 3,
    };
    let r = |req: InferReq, inline: &[f32]| c.raw_call(&mut infer_msg(req, inline));
    expect_errno(call(&c, proto::INFER, &[0; 8]), EINVAL).context("short header")?;
    expect_errno(r(InferReq { class: 99, ..ok }, &X), EINVAL).context("unknown class")?;
    expect_errno(r(InferReq { n_in: 5, ..ok }, &[0.0; 5]), EINVAL).context("wrong n_in")?;
    expect_errno(r(InferReq { n_out: 2, ..ok }, &X), EINVAL).context("wrong n_out")?;
    expect_errno(r(ok, &X[..3]), EINVAL).context("short inline input")?;
    expect_errno(
        r(
            InferReq {
                n_in: u32::MAX,
                ..ok
            },
            &X,
        ),
        E2BIG,
    )
    .context("absurd n_in")?;
    expect_errno(r(InferReq { id: 0, ..ok }, &X), ENOENT).context("bad id")?;
    // A port where the memory handle goes.
    let p = Port::create(1).context("port")?;
    let mut m = infer_msg(ok, &[]);
    let _ = m.attach(
        p.dup(libway::ipc::RIGHT_SEND | libway::ipc::RIGHT_GRANT)
            .context("dup")?,
    );
    expect_errno(c.raw_call(&mut m), EINVAL).context("port as grant")?;
    // A read-only grant (aid must write the output).
    let buf = SharedBuf::new(4096).context("buf")?;
    let mut m = infer_msg(ok, &[]);
    let _ = buf
        .grant(RIGHT_READ | RIGHT_GRANT)
        .context("grant")?
        .attach(&mut m);
    expect_errno(c.raw_call(&mut m), EACCES).context("read-only grant")?;
    // The same request with a proper grant works, output after the input.
    buf.write_at(0, X.as_bytes()).context("write input")?;
    let mut m = infer_msg(ok, &[]);
    let _ = buf
        .grant(RIGHT_READ | RIGHT_WRITE | RIGHT_GRANT)
        .context("grant")?
        .attach(&mut m);
    c.raw_call(&mut m).context("infer through a grant")?;
    let mut out = [0f32; 3];
    buf.read_at(16, out.as_mut_bytes()).context("read output")?;
    let want = tiny_reference(&X, 0.1);
    for (g, w) in out.iter().zip(want) {
        if (*g as f64 - w).abs() > 1e-5 {
            return Err(format!("grant output {out:?}, reference {want:?}"));
        }
    }
    infer_tiny(&c, id, 0.1, CLASS_NORMAL).context("after bad infers")?;
    c.unload(id).context("unload")
}

fn bad_door() -> Check {
    let door = ns::lookup(proto::NAME).context("lookup aid")?;
    let mut m = Message::new(proto::LOAD);
    door.call(&mut m, libway::ipc::Timeout::ms(5000))
        .context("call door")?;
    expect_eq(m.label, EINVAL as u64).context("LOAD at the door")?;
    let mut m = Message::with_bytes(proto::CONNECT, &7u64.to_le_bytes()).context("msg")?;
    door.call(&mut m, libway::ipc::Timeout::ms(5000))
        .context("call door")?;
    expect_eq(m.label, EINVAL as u64).context("CONNECT without a liveness port")?;
    // A plain send (no reply right) is dropped, and the door still answers.
    door.send(
        &Message::new(proto::CONNECT),
        libway::ipc::Timeout::ms(1000),
    )
    .context("send")?;
    connect()?.list().context("list")?;
    Ok(())
}

fn dedup(s: &mut Suite) {
    s.check("dedup_two_clients_hold_one_copy", dedup_check());
}

fn dedup_check() -> Check {
    let path = tiny("dedup", 0.2)?;
    let copy = "/tmp/ainfer5-dedup-copy.waymodel";
    fs::write(copy, &fs::read(&path).context("read")?).context("copy")?;
    let a = connect()?;
    let b = connect()?;
    let ida = a.load(&path).context("load a")?;
    let idb = b.load(copy).context("load b (same bytes, other path)")?;
    expect_eq(idb, ida).context("one model")?;
    let e = listed(&a, ida)?.ok_or("not listed")?;
    expect_eq(e.holders, 2).context("holders")?;
    expect_eq(b.info(idb).context("info")?.holders, 2).context("info holders")?;
    expect_eq(kernel_copies("ainfer5-dedup")?, 1).context("kernel copies")?;
    a.unload(ida).context("a unloads")?;
    expect_eq(listed(&a, ida)?.map(|e| e.holders), Some(1)).context("after a's unload")?;
    expect_errno(a.info(ida), EACCES).context("a no longer holds it")?;
    infer_tiny(&b, idb, 0.2, CLASS_NORMAL).context("b still infers")?;
    b.unload(idb).context("b unloads")?;
    expect_eq(listed(&a, ida)?.is_none(), true).context("gone")?;
    expect_eq(kernel_copies("ainfer5-dedup")?, 0).context("kernel copies after")
}

fn owner(s: &mut Suite) {
    s.check("owner_others_refused_until_shared", owner_check());
}

fn owner_check() -> Check {
    let path = tiny("owner", 0.3)?;
    let a = connect()?;
    let b = connect()?;
    let id = a.load(&path).context("a loads")?;
    let mut out = [0f32; 3];
    expect_errno(b.infer(id, &X, &mut out, CLASS_NORMAL), EACCES).context("b infers")?;
    expect_errno(b.unload(id), EACCES).context("b unloads")?;
    expect_errno(b.info(id), EACCES).context("b info")?;
    expect_errno(b.share(id), EACCES).context("b shares")?;
    let share = a.share(id).context("a shares")?;
    expect_eq(b.attach(share).context("b attaches")?, id).context("attached id")?;
    infer_tiny(&b, id, 0.3, CLASS_NORMAL).context("b infers once shared")?;
    b.unload(id).context("b drops its hold")?;
    infer_tiny(&a, id, 0.3, CLASS_NORMAL).context("a still infers")?;
    let share = a.share(id).context("share again")?;
    a.unload(id).context("a unloads")?;
    expect_errno(b.attach(share), ENOENT).context("share of an unloaded model")?;
    expect_eq(listed(&a, id)?.is_none(), true).context("gone")
}

fn death(s: &mut Suite) {
    s.check("death_child_models_released", death_idle());
    s.check("death_child_request_in_flight_cancelled", death_in_flight());
}

/// Forks a child that loads `path` (and, with `run`, starts a long background request),
/// reporting its model id on a pipe; returns (child pid, id).
fn child_with_model(path: &str, run: bool) -> Result<(usize, ModelId), String> {
    let (r, w) = io::pipe(true).context("pipe")?;
    let pid = process::fork().context("fork")?;
    if pid == 0 {
        let c = match Client::connect() {
            Ok(c) => c,
            Err(_) => process::exit(3),
        };
        let id = match c.load(path) {
            Ok(id) => id,
            Err(_) => process::exit(4),
        };
        let _ = io::write(w, &id.0.to_le_bytes());
        if run {
            let input = vec![1f32; LONG_D * LONG_D];
            let mut out = vec![0f32; LONG_D * LONG_D];
            let _ = c.infer(id, &input, &mut out, CLASS_BACKGROUND);
        }
        loop {
            let _ = process::sleep_or_yield(1000);
        }
    }
    let _ = io::close(w);
    let mut b = [0u8; 4];
    let n = io::read(r, &mut b).context("read id")?;
    let _ = io::close(r);
    if n != 4 {
        let _ = process::kill(pid, SIGKILL);
        let _ = wait_for(pid, 5000);
        return Err("the child did not load its model".into());
    }
    Ok((pid, ModelId(u32::from_le_bytes(b))))
}

fn death_idle() -> Check {
    let path = tiny("death", 0.4)?;
    let c = connect()?;
    let sessions = c.stats().context("stats")?.len();
    let (pid, id) = child_with_model(&path, false)?;
    expect_eq(listed(&c, id)?.map(|e| e.holders), Some(1)).context("child's model listed")?;
    process::kill(pid, SIGKILL).context("kill")?;
    wait_for(pid, 5000)?;
    eventually(5000, || Ok(listed(&c, id)?.is_none())).context("model released")?;
    eventually(5000, || Ok(c.stats().context("stats")?.len() == sessions))
        .context("session ended")?;
    // aid drops the kernel model just after forgetting the session.
    eventually(5000, || Ok(kernel_copies("ainfer5-death")? == 0)).context("kernel copies")
}

/// Nodes of the long model: enough for about [`LONG_TARGET_MS`] on this machine, found
/// by timing a short chain once through the kernel queue directly (the cost per node
/// differs by a factor of hundreds between soft-float, AVX2 and NEON, and TCG's speed
/// varies with the host's load).
const LONG_TARGET_MS: u64 = 1500;
const LONG_PROBE: usize = 8;

/// Writes the long model (a chain of 128x128 matmuls) sized to keep an accelerator busy
/// for a while; its path.
fn long_model() -> Result<String, String> {
    let path = "/tmp/ainfer5-long.waymodel";
    save(path, &long_spec(LONG_PROBE))?;
    let m = infer::load_model_path(path).context("load the probe")?;
    let t0 = libway::time::monotonic_ns().context("clock")?;
    m.graph.run(CLASS_NORMAL).context("run the probe")?;
    let ns = libway::time::monotonic_ns()
        .context("clock")?
        .saturating_sub(t0)
        .max(1);
    drop(m);
    let n = (LONG_TARGET_MS * 1_000_000 * LONG_PROBE as u64 / ns).clamp(16, 1000) as usize;
    save(path, &long_spec(n))?;
    Ok(path.into())
}

fn death_in_flight() -> Check {
    let path = long_model()?;
    let c = connect()?;
    let jobs = libway::ai::totals().context("totals")?.jobs;
    let (pid, id) = child_with_model(&path, true)?;
    let busy = eventually(10_000, || {
        Ok(c.stats()
            .context("stats")?
            .iter()
            .any(|s| s.pid as usize == pid && s.in_flight == 1))
    });
    process::kill(pid, SIGKILL).context("kill")?;
    wait_for(pid, 5000)?;
    busy.context("the child's request in flight")?;
    eventually(10_000, || Ok(listed(&c, id)?.is_none())).context("model released")?;
    eventually(10_000, || {
        Ok(libway::ai::totals().context("totals")?.jobs == jobs)
    })
    .context("job cancelled")
}

fn quota(s: &mut Suite) {
    s.check("quota_models_per_client", quota_models());
    s.check("quota_bytes_per_client", quota_bytes());
    s.check("quota_sessions_per_pid", quota_sessions());
}

fn quota_models() -> Check {
    let c = connect()?;
    let mut ids = Vec::new();
    for i in 0..MAX_MODELS_PER_SESSION {
        let path = tiny(&format!("q{i}"), 1.0 + i as f32)?;
        ids.push(c.load(&path).context("load")?);
    }
    let path = tiny("qx", 100.0)?;
    let r = expect_errno(c.load(&path), EMFILE).context("one more");
    for id in ids {
        c.unload(id).context("unload")?;
    }
    r?;
    let id = c.load(&path).context("room again")?;
    c.unload(id).context("unload")
}

fn quota_bytes() -> Check {
    let c = connect()?;
    let path = "/tmp/ainfer5-huge";
    fs::write(path, b"").context("create")?;
    fs::truncate(path, proto::MAX_BYTES_PER_SESSION + 1).context("truncate")?;
    let r = expect_errno(c.load(path), EDQUOT);
    let _ = fs::remove_file(path);
    r
}

fn quota_sessions() -> Check {
    let mut clients = Vec::new();
    loop {
        match Client::connect() {
            Ok(c) => clients.push(c),
            Err(e) => {
                expect_errno::<()>(Err(e), EAGAIN).context("refusal")?;
                break;
            }
        }
        if clients.len() > MAX_SESSIONS_PER_PID {
            return Err("more sessions than the quota".into());
        }
    }
    if clients.is_empty() {
        return Err("no session at all".into());
    }
    let n = clients.len();
    drop(clients);
    // The sessions end once aid sees their liveness ports closed.
    eventually(5000, || Ok(Client::connect().is_ok())).context("room again")?;
    println!("  ..   {n} sessions open before EAGAIN");
    Ok(())
}

fn account(s: &mut Suite) {
    s.check("account_usage_per_request_and_sums", account_check());
    s.check("account_ainfo_shows_clients", ainfo_check());
}

fn account_check() -> Check {
    let path = tiny("acct", 0.5)?;
    let c = connect()?;
    let id = c.load(&path).context("load")?;
    let mut sum = Usage::default();
    for _ in 0..3 {
        let u = infer_tiny(&c, id, 0.5, CLASS_NORMAL)?;
        if u.wait_ns == 0 {
            return Err(format!("no wait time in {u:?}"));
        }
        if u.flags & USAGE_KERNEL != 0 {
            expect_eq(u.nodes_run, 3).context("nodes run")?;
            if u.run_ns == 0 {
                return Err(format!("no run time in {u:?}"));
            }
        }
        sum.queued_ns += u.queued_ns;
        sum.run_ns += u.run_ns;
        sum.wait_ns += u.wait_ns;
        sum.aid_ns += u.aid_ns;
    }
    let (me, _) = c.session().ok_or("no session")?;
    let st = c.stats().context("stats")?;
    let e = st
        .iter()
        .find(|e| e.session == me)
        .ok_or("session not listed")?;
    expect_eq(
        (
            e.infers,
            e.queued_ns,
            e.run_ns,
            e.wait_ns,
            e.aid_ns,
            e.models,
        ),
        (3, sum.queued_ns, sum.run_ns, sum.wait_ns, sum.aid_ns, 1),
    )
    .context("sums")?;
    expect_eq(e.pid as usize, process::getpid().context("getpid")?).context("pid")?;
    c.unload(id).context("unload")
}

fn ainfo_check() -> Check {
    let path = tiny("ainfo", 0.6)?;
    let c = connect()?;
    let id = c.load(&path).context("load")?;
    infer_tiny(&c, id, 0.6, CLASS_NORMAL)?;
    let got = run_captured("/bin/ainfo", &["ainfo", "aid"], &[], "ainfer5")?;
    c.unload(id).context("unload")?;
    let me = format!("{}", process::getpid().context("getpid")?);
    if !got.status.exited_with(0)
        || !got.out.contains("ainfer5-ainfo")
        || !got
            .out
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(me.as_str()))
    {
        return Err(format!(
            "ainfo aid ({}) does not show pid {me} and its model:\n{}{}",
            got.status, got.out, got.err
        ));
    }
    Ok(())
}

fn rt(s: &mut Suite) {
    s.check("rt_request_served_during_background", rt_check());
}

fn rt_check() -> Check {
    let long = long_model()?;
    let small = tiny("rt", 0.7)?;
    let bg = connect()?;
    let fg = connect()?;
    let lid = bg.load(&long).context("load long")?;
    let sid = fg.load(&small).context("load small")?;
    let (bg_session, _) = bg.session().ok_or("no session")?;
    // The class above background this suite may use: RT when aid lets it (privileged
    // session), else normal.
    let class = if fg.session().is_some_and(|(_, p)| p) {
        CLASS_RT
    } else {
        CLASS_NORMAL
    };
    let worker = libway::thread::spawn(move || {
        let input = vec![1f32; LONG_D * LONG_D];
        let mut out = vec![0f32; LONG_D * LONG_D];
        let r = bg.infer(lid, &input, &mut out, CLASS_BACKGROUND);
        // The identity chain gives the input back.
        let ok = r.is_ok() && out.iter().all(|&v| v == 1.0);
        let _ = bg.unload(lid);
        (r, ok)
    })
    .context("thread")?;
    eventually(10_000, || {
        Ok(fg
            .stats()
            .context("stats")?
            .iter()
            .any(|s| s.session == bg_session && s.in_flight == 1))
    })
    .context("background request in flight")?;
    let u = infer_tiny(&fg, sid, 0.7, class).context("higher class")?;
    let bg_done = worker.is_finished();
    let (r, ok) = worker.join().ok_or("worker died")?;
    r.context("background infer")?;
    if !ok {
        return Err("background output wrong".into());
    }
    fg.unload(sid).context("unload")?;
    if bg_done {
        return Err(format!(
            "the background request ended before the class {class} one ({u:?}): not concurrent"
        ));
    }
    println!(
        "  ..   class {class} request: wait {} ns (queued {} ns) while the background one ran",
        u.wait_ns, u.queued_ns
    );
    Ok(())
}

fn classes(s: &mut Suite) {
    s.check("classes_unprivileged_client_limited", classes_check());
}

fn classes_check() -> Check {
    let path = tiny("classes", 0.8)?;
    let status = libway::suite::in_child(|| {
        if caps::drop(caps::AI_ACCEL | caps::SET_RT_PRIORITY).is_err() {
            return 10;
        }
        if ns::lookup(proto::NAME_ACCEL).map_err(|e| e.code()) != Err(EACCES) {
            return 11;
        }
        let Ok(c) = Client::connect() else { return 12 };
        if c.session().is_none_or(|(_, p)| p) {
            return 13;
        }
        let Ok(id) = c.load(&path) else { return 14 };
        let mut out = [0f32; 3];
        for class in [CLASS_RT, libway::abi::ai::CLASS_HIGH] {
            if c.infer(id, &X, &mut out, class).map_err(|e| e.code()) != Err(EPERM) {
                return 15;
            }
        }
        if infer_tiny(&c, id, 0.8, CLASS_BACKGROUND).is_err() {
            return 16;
        }
        0
    })?;
    libway::suite::expect_exit(status, 0).map_err(libway::suite::explain_exit(
        status,
        &[
            (10, "cap_drop failed"),
            (11, "privileged door not refused"),
            (12, "connect failed"),
            (13, "session privileged"),
            (14, "load failed"),
            (15, "high class not refused with EPERM"),
            (16, "background infer failed"),
        ],
    ))
}

fn restart(s: &mut Suite) {
    // Signalling aid needs `kill` or a set that includes aid's (`kill` rule).
    let aid_caps = caps::NS_SYSTEM | caps::AI_ACCEL;
    if !caps::has(caps::KILL) && !caps::has(aid_caps) {
        s.skip(
            "restart_after_aid_killed_mid_request",
            "signalling aid needs the kill capability; run under cargo xtask test",
        );
        return;
    }
    s.check("restart_after_aid_killed_mid_request", restart_check());
}

fn aid_pid() -> Result<Option<usize>, String> {
    Ok(process::proc_list()
        .context("proc_list")?
        .iter()
        .find(|p| process::field_str(&p.name).rsplit('/').next() == Some("aid"))
        .map(|p| p.pid as usize))
}

fn restart_check() -> Check {
    let long = long_model()?;
    let small = tiny("restart", 0.9)?;
    let c = connect()?;
    let old = aid_pid()?.ok_or("aid not in the process list")?;
    let lid = c.load(&long).context("load long")?;
    let (me, _) = c.session().ok_or("no session")?;
    let watcher = connect()?;
    let worker = libway::thread::spawn(move || {
        let input = vec![1f32; LONG_D * LONG_D];
        let mut out = vec![0f32; LONG_D * LONG_D];
        let first = c.infer(lid, &input, &mut out, CLASS_BACKGROUND);
        (c, first)
    })
    .context("thread")?;
    eventually(10_000, || {
        Ok(watcher
            .stats()
            .context("stats")?
            .iter()
            .any(|s| s.session == me && s.in_flight == 1))
    })
    .context("request in flight")?;
    process::kill(old, SIGKILL).context("kill aid")?;
    if !worker.wait_timeout(10_000_000_000) {
        return Err("the request did not end within 10 s of aid's death".into());
    }
    let (c, first) = worker.join().ok_or("worker died")?;
    if first.is_ok() {
        return Err("the request succeeded although aid was killed".into());
    }
    // init restarts aid; the next calls reconnect.
    let mut id = None;
    eventually(15_000, || {
        id = c.load(&small).ok();
        Ok(id.is_some())
    })
    .context("reconnect and load")?;
    let id = id.ok_or("no id")?;
    infer_tiny(&c, id, 0.9, CLASS_NORMAL).context("infer after the restart")?;
    c.unload(id).context("unload")?;
    let new = aid_pid()?.ok_or("aid not running after the restart")?;
    if new == old {
        return Err(format!("aid still has pid {old}"));
    }
    let _ = first.map_err(|e| println!("  ..   the request in flight got {e}"));
    Ok(())
}

fn console(s: &mut Suite) {
    // The console server holds `kill`, so signalling it needs `kill` too.
    if !caps::has(caps::KILL) {
        s.skip(
            "console_server_restarted_by_init",
            "signalling the console server needs the kill capability; run under cargo xtask test",
        );
        return;
    }
    let r = console_check();
    s.check("console_server_restarted_by_init", r);
}

fn pid_of(program: &str) -> Result<Option<usize>, String> {
    Ok(process::proc_list()
        .context("proc_list")?
        .iter()
        .find(|p| process::field_str(&p.name) == program)
        .map(|p| p.pid as usize))
}

/// Kills the console server; init must start a new one, which registers `console`
/// again. This suite's stdio went to the dead server, so it moves it onto a stream to
/// the new one before it prints anything (the check's line then reaches the console).
fn console_check() -> Check {
    let old = pid_of("/bin/console")?.ok_or("no console server in the process list")?;
    process::kill(old, SIGKILL).context("kill the console server")?;
    let mut new = None;
    let waited = eventually(15_000, || {
        new = pid_of("/bin/console")?.filter(|&p| p != old);
        Ok(new.is_some() && ns::lookup(libway::abi::console::NAME).is_ok())
    });
    if let Ok(port) = ns::lookup(libway::abi::console::NAME) {
        if let Ok(fd) = io::port_fd(port) {
            for std in [io::STDIN, io::STDOUT, io::STDERR] {
                let _ = io::dup2(fd, std);
            }
            if fd > io::STDERR {
                let _ = io::close(fd);
            }
        }
    }
    waited.context("a new console server")?;
    let n = io::write(
        io::STDOUT,
        b"  ..   writing through the new console server\n",
    )
    .context("write to the new console")?;
    expect_eq(n, 46).context("bytes written")?;
    let new = new.ok_or("no new pid")?;
    println!("  ..   console server pid {old} killed, pid {new} serves now");
    Ok(())
}
