//! `bench`: the per-operation figures of `cargo xtask bench`, in guest instructions.
//!
//! Run under QEMU `-icount shift=0` (one guest instruction per virtual nanosecond), the
//! guest counter (rdtsc on x86_64, CNTVCT_EL0 on aarch64) counts instructions, so figures
//! repeat on a noisy host. Prints one JSON line per figure, in the format of
//! `../shared/bench/linux`, then `bench: done`. `bench true` exits at once (the program
//! `spawn_exec_wait` starts).
#![no_std]
#![no_main]

extern crate alloc;

#[path = "bench/blk.rs"]
mod blkfig;
#[path = "bench/memtier.rs"]
mod memtier;
#[path = "bench/net.rs"]
mod netfig;
#[path = "bench/soak.rs"]
mod soak;

use libway::abi::mman;
use libway::ipc::{ns, Message, MessageExt, Port, Timeout};
use libway::process;
use libway::{println, Args};

libway::entry!(main);

/// The guest counter.
fn now() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC is allowed in user mode (CR4.TSD is clear) and touches no memory.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(target_arch = "aarch64")]
    {
        let v: u64;
        // SAFETY: the kernel lets EL0 read the virtual counter (CNTKCTL_EL1.EL0VCTEN).
        unsafe {
            core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack))
        };
        v
    }
}

/// Guest instructions per counter tick: 1 for the TSC, 1e9 / CNTFRQ for the generic timer.
fn instructions_per_tick() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        1
    }
    #[cfg(target_arch = "aarch64")]
    {
        let f: u64;
        // SAFETY: CNTFRQ_EL0 is readable at EL0 whenever the counter is.
        unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) f, options(nomem, nostack)) };
        (1_000_000_000 / f.max(1)).max(1)
    }
}

fn report(name: &str, ticks: u64, ops: u64, unit: &str) {
    let tenths = ticks * instructions_per_tick() * 10 / ops.max(1);
    println!(
        "{{\"system\":\"wayos\",\"bench\":\"{name}\",\"value\":{}.{},\"unit\":\"{unit}\"}}",
        tenths / 10,
        tenths % 10
    );
}

/// The cheapest real syscall, straight through the stub (no wrapper of libway's own).
fn null_syscall() -> usize {
    libway::sys::call0(libway::sys::MemFree::GETPPID).unwrap_or(0)
}

fn main(args: Args) -> i32 {
    if args.get(1) == Some("true") {
        return 0;
    }
    let self_path = "/bin/bench";
    let only = only_groups();
    let wanted = |group: &str| only.as_ref().is_none_or(|g| g.iter().any(|w| w == group));

    if wanted("file") {
        file_throughput();
    }
    if wanted("core") && core_figures(self_path) != 0 {
        return 1;
    }
    if wanted("ipc") {
        ipc_roundtrip();
        ipc_roundtrip_pipe();
    }
    if wanted("ai") {
        tensor_create_destroy();
        ai_figures();
    }
    if wanted("memtier") {
        memtier::figures();
    }
    if wanted("net") {
        netfig::figures();
    }
    if wanted("blk") {
        blkfig::figures();
    }

    println!("bench: done");
    0
}

/// The groups `wayos.benchonly=<group>,...` asks for (`None`: every group).
fn only_groups() -> Option<alloc::vec::Vec<alloc::string::String>> {
    let line = process::cmdline().ok()?;
    let value = line.split_whitespace().find_map(|w| {
        w.strip_prefix(libway::abi::harness::BENCH_ONLY_KEY)?
            .strip_prefix('=')
    })?;
    Some(value.split(',').map(alloc::string::String::from).collect())
}

/// Syscalls, switches, fork and spawn, page faults; non-zero when a figure could not run.
fn core_figures(self_path: &str) -> i32 {
    const N: u64 = 20_000;
    let t0 = now();
    for _ in 0..N {
        core::hint::black_box(null_syscall());
    }
    report("null_syscall", now() - t0, N, "instructions/op");

    // Two processes of the same class hand the CPU back and forth with sched_yield; every
    // round trip of the parent is two switches.
    const R: u64 = 2_000;
    match process::fork() {
        Ok(0) => {
            for _ in 0..R + 50 {
                let _ = process::sched_yield();
            }
            process::exit(0);
        }
        Ok(child) => {
            let _ = process::sched_yield();
            let t0 = now();
            for _ in 0..R {
                let _ = process::sched_yield();
            }
            report("thread_switch", now() - t0, 2 * R, "instructions/switch");
            let _ = process::waitpid(child as isize, 0);
        }
        Err(e) => println!("bench: fork failed: {e}"),
    }

    const F: u64 = 300;
    let t0 = now();
    for _ in 0..F {
        match process::fork() {
            Ok(0) => process::exit(0),
            Ok(pid) => {
                let _ = process::waitpid(pid as isize, 0);
            }
            Err(e) => {
                println!("bench: fork failed: {e}");
                return 1;
            }
        }
    }
    report("fork_exit_wait", now() - t0, F, "instructions/op");

    const E: u64 = 200;
    let t0 = now();
    for _ in 0..E {
        match process::spawn(self_path, &[self_path, "true"], &[]) {
            Ok(pid) => {
                let _ = process::waitpid(pid as isize, 0);
            }
            Err(e) => {
                println!("bench: spawn failed: {e}");
                return 1;
            }
        }
    }
    report("spawn_exec_wait", now() - t0, E, "instructions/op");

    const SZ: usize = 16 << 20;
    let flags = mman::MAP_PRIVATE | mman::MAP_ANONYMOUS;
    match libway::mem::mmap(0, SZ, mman::PROT_READ | mman::PROT_WRITE, flags) {
        Ok(base) => {
            let t0 = now();
            let mut off = 0;
            while off < SZ {
                // SAFETY: inside the fresh private mapping of SZ bytes.
                unsafe { ((base + off) as *mut u8).write_volatile(1) };
                off += mman::PAGE_SIZE;
            }
            report(
                "page_fault_anon",
                now() - t0,
                (SZ / mman::PAGE_SIZE) as u64,
                "instructions/page",
            );
        }
        Err(e) => println!("bench: mmap failed: {e}"),
    }
    0
}

/// KiB moved by each file figure: 16 MiB, as the Linux figures.
const FILE_KIB: u64 = 16 * 1024;
const FILE_PATH: &str = "/tmp/bench.dat";

/// `file_write_4k` then `file_read_4k` on one tmpfs file, which is removed afterwards.
fn file_throughput() {
    use libway::fs::{self, OpenOptions};
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(FILE_PATH);
    match opened {
        Ok(f) => {
            if file_write_4k(&f) {
                file_read_4k(&f);
            }
        }
        Err(e) => println!("bench: open {FILE_PATH}: {e}"),
    }
    let _ = fs::remove_file(FILE_PATH);
}

/// `file_write_4k`: 16 MiB written in 4 KiB calls into a fresh tmpfs file (each call
/// allocates pages), in instructions per KiB.
fn file_write_4k(f: &libway::fs::File) -> bool {
    let buf = [b'x'; 4096];
    let t0 = now();
    for _ in 0..FILE_KIB / 4 {
        if f.write(&buf) != Ok(buf.len()) {
            println!("bench: file_write_4k: a write came up short");
            return false;
        }
    }
    report("file_write_4k", now() - t0, FILE_KIB, "instructions/KiB");
    true
}

/// `file_read_4k`: the same 16 MiB read back in 4 KiB calls, in instructions per KiB.
fn file_read_4k(f: &libway::fs::File) {
    if let Err(e) = f.seek(libway::fs::SeekFrom::Start(0)) {
        println!("bench: file_read_4k: seek: {e}");
        return;
    }
    let mut buf = [0u8; 4096];
    let t0 = now();
    for _ in 0..FILE_KIB / 4 {
        if f.read(&mut buf) != Ok(buf.len()) {
            println!("bench: file_read_4k: a read came up short");
            return;
        }
    }
    report("file_read_4k", now() - t0, FILE_KIB, "instructions/KiB");
}

/// `ipc_roundtrip`: a server child answers one-word calls (adding one); the parent makes
/// `R` calls and counts a call and its reply as one operation. The server answers each
/// call and waits for the next in one `port_reply_recv`, as servers do. It publishes its
/// port by name so the figure does not depend on fork copying handles.
fn ipc_roundtrip() {
    const R: u64 = 2_000;
    const WARMUP: u64 = 50;
    const QUIT: u64 = u64::MAX;
    let name = alloc::format!("bench.ipc.{}", process::getpid().unwrap_or(0));
    let server = match process::fork() {
        Ok(0) => {
            let Ok(port) = Port::create(4) else {
                process::exit(1)
            };
            if ns::register(&name, &port).is_err() {
                process::exit(1);
            }
            let mut msg = Message::new(0);
            if port.recv(&mut msg, Timeout::Forever).is_err() {
                process::exit(1);
            }
            loop {
                let label = msg.label;
                let Some(reply) = msg.take_reply() else {
                    if port.recv(&mut msg, Timeout::Forever).is_err() {
                        process::exit(1);
                    }
                    continue;
                };
                let v = msg.word(0).unwrap_or(0);
                let _ = msg.set_words(&[v.wrapping_add(1)]);
                msg.label = label;
                if label == QUIT {
                    let _ = reply.reply(&msg);
                    break;
                }
                if reply.reply_recv(&port, &mut msg, Timeout::Forever).is_err() {
                    process::exit(1);
                }
            }
            process::exit(0)
        }
        Ok(pid) => pid,
        Err(e) => {
            println!("bench: fork failed: {e}");
            return;
        }
    };
    let mut port = None;
    for _ in 0..5_000 {
        match ns::lookup(&name) {
            Ok(p) => {
                port = Some(p);
                break;
            }
            Err(e) if e.code() != libway::abi::errno::ENOENT => {
                println!("bench: ipc_roundtrip: lookup: {e}");
                break;
            }
            Err(_) => {
                let _ = process::sleep_or_yield(1);
            }
        }
    }
    let Some(port) = port else {
        println!("bench: ipc_roundtrip: the server never registered");
        let _ = process::waitpid(server as isize, 0);
        return;
    };
    let mut ok = true;
    let mut msg = Message::new(0);
    for i in 0..WARMUP {
        let _ = msg.set_words(&[i]);
        ok &= port.call(&mut msg, Timeout::Forever).is_ok();
    }
    let t0 = now();
    for i in 0..R {
        msg.label = 0;
        let _ = msg.set_words(&[i]);
        ok &= port.call(&mut msg, Timeout::Forever).is_ok();
    }
    let ticks = now() - t0;
    ok &= msg.word(0) == Some(R);
    msg.label = QUIT;
    let _ = port.call(&mut msg, Timeout::Forever);
    if ok {
        report("ipc_roundtrip", ticks, R, "instructions/op");
    } else {
        println!("bench: ipc_roundtrip: a call failed");
    }
    let _ = process::waitpid(server as isize, 0);
}

/// `ipc_roundtrip_pipe`: one byte to a child through one pipe and back through another,
/// as `../shared/bench/linux/lbench.c` measures it.
fn ipc_roundtrip_pipe() {
    use libway::io;
    const R: u64 = 5000;
    let (Ok((a_r, a_w)), Ok((b_r, b_w))) = (io::pipe(false), io::pipe(false)) else {
        println!("bench: pipe failed");
        return;
    };
    let child = match process::fork() {
        Ok(0) => {
            let mut c = [0u8; 1];
            for _ in 0..R {
                if io::read(a_r, &mut c) != Ok(1) || io::write(b_w, &c) != Ok(1) {
                    process::exit(1);
                }
            }
            process::exit(0);
        }
        Ok(pid) => pid,
        Err(e) => {
            println!("bench: fork failed: {e}");
            return;
        }
    };
    let mut c = [0u8; 1];
    let t0 = now();
    let mut ok = true;
    for _ in 0..R {
        if io::write(a_w, &c) != Ok(1) || io::read(b_r, &mut c) != Ok(1) {
            ok = false;
            break;
        }
    }
    let ticks = now() - t0;
    for fd in [a_r, a_w, b_r, b_w] {
        let _ = io::close(fd);
    }
    let _ = process::waitpid(child as isize, 0);
    if ok {
        report("ipc_roundtrip_pipe", ticks, R, "instructions/op");
    } else {
        println!("bench: ipc_roundtrip_pipe: a pipe read or write failed");
    }
}

/// `tensor_create_destroy_instr`: `tensor_create` of a 4 KiB f32 tensor `[1024]` then
/// `handle_close` (the tensor is freed: its page back to the PMM, its charge released), in
/// instructions per pair.
fn tensor_create_destroy() {
    use libway::ai::{Tensor, DTYPE_F32, TIER_NEAR};
    const R: u64 = 2000;
    let t0 = now();
    for _ in 0..R {
        match Tensor::create(DTYPE_F32, &[1024], TIER_NEAR) {
            Ok(t) => drop(t),
            Err(e) => {
                println!("bench: tensor_create failed: {e}");
                return;
            }
        }
    }
    report(
        "tensor_create_destroy_instr",
        now() - t0,
        R,
        "instructions/op",
    );
}

/// The AI figures: sgemm through the inference queue, the cost a graph and the queue add
/// around an op, and an empty run's submit-to-wait round trip. One CPU, so the worker
/// thread and this process take turns on it, as a real accelerator client would.
fn ai_figures() {
    use libway::abi::ai::Output;
    use libway::ai::{Tensor, DTYPE_F32, TIER_NEAR};
    use libway::infer::{bound, from_node, node, op, Graph, CLASS_NORMAL, MODE_FAST};

    let tensor = |n: u32, m: u32| Tensor::create(DTYPE_F32, &[n, m], TIER_NEAR);
    // f32 sgemm, C = A x B, n x n: 2n^3 flops per run, first run untimed (warms the
    // arena and caches).
    for n in [64u32, 128, 256] {
        let (Ok(a), Ok(b), Ok(c)) = (tensor(n, n), tensor(n, n), tensor(n, n)) else {
            println!("bench: sgemm {n}: tensor_create failed");
            return;
        };
        let vals: alloc::vec::Vec<f32> = (0..n * n).map(|i| (i % 13) as f32 * 0.25 - 1.5).collect();
        let _ = a.write_f32(0, &vals);
        let _ = b.write_f32(0, &vals);
        let g = match Graph::create(
            &[node(op::MATMUL, &[bound(0), bound(1)], &[])],
            &[a.raw(), b.raw(), c.raw()],
            &[Output { node: 0, tensor: 2 }],
            MODE_FAST,
        ) {
            Ok(g) => g,
            Err(e) => {
                println!("bench: sgemm {n}: graph_create: {e}");
                return;
            }
        };
        let runs: u64 = match n {
            64 => 20,
            128 => 4,
            _ => 1,
        };
        let _ = g.run(CLASS_NORMAL);
        let t0 = now();
        for _ in 0..runs {
            if let Err(e) = g.run(CLASS_NORMAL) {
                println!("bench: sgemm {n}: run: {e}");
                return;
            }
        }
        let instr = (now() - t0) * instructions_per_tick();
        let flops = 2 * (n as u64).pow(3) * runs;
        let milli = flops * 1000 / instr.max(1);
        println!(
            "{{\"system\":\"wayos\",\"bench\":\"sgemm_flops_per_instr_{n}\",\"value\":{}.{:03},\"unit\":\"flops/instruction\"}}",
            milli / 1000,
            milli % 1000
        );
    }

    // Graph overhead: a graph of K identical relu nodes over 4096 floats against one of
    // a single node. The bare op costs the difference per extra node (same kernel, same
    // sizes, data already in cache); what a 1-node run costs beyond that is the graph and
    // queue overhead (submit, wake the worker, plan walk, output copy, wake the caller).
    let (Ok(x), Ok(y)) = (tensor(64, 64), tensor(64, 64)) else {
        println!("bench: graph_overhead: tensor_create failed");
        return;
    };
    const K: u32 = 33;
    let chain = |len: u32| {
        let mut ns = alloc::vec![node(op::RELU, &[bound(0)], &[])];
        for i in 1..len {
            ns.push(node(op::RELU, &[from_node(i - 1)], &[]));
        }
        Graph::create(
            &ns,
            &[x.raw(), y.raw()],
            &[Output {
                node: len - 1,
                tensor: 1,
            }],
            MODE_FAST,
        )
    };
    let (Ok(one), Ok(many)) = (chain(1), chain(K)) else {
        println!("bench: graph_overhead: graph_create failed");
        return;
    };
    let time = |g: &Graph, reps: u64| {
        let _ = g.run(CLASS_NORMAL);
        let t0 = now();
        for _ in 0..reps {
            let _ = g.run(CLASS_NORMAL);
        }
        (now() - t0) * instructions_per_tick() / reps
    };
    let t1 = time(&one, 200);
    let tk = time(&many, 50);
    let per_op = tk.saturating_sub(t1) / (K as u64 - 1);
    println!(
        "{{\"system\":\"wayos\",\"bench\":\"graph_overhead_instr\",\"value\":{},\"unit\":\"instructions/run\"}}",
        t1.saturating_sub(per_op)
    );
    println!(
        "{{\"system\":\"wayos\",\"bench\":\"graph_node_relu4096_instr\",\"value\":{},\"unit\":\"instructions/node\"}}",
        per_op
    );

    // An empty graph through the queue: submit, the worker's run, wait.
    let Ok(empty) = Graph::create(&[], &[], &[], MODE_FAST) else {
        println!("bench: infer_submit_wait: graph_create failed");
        return;
    };
    const S: u64 = 500;
    let _ = empty.run(CLASS_NORMAL);
    let t0 = now();
    for _ in 0..S {
        let _ = empty.run(CLASS_NORMAL);
    }
    report("infer_submit_wait_instr", now() - t0, S, "instructions/op");

    rt_figures();
    aid_figures();
}

/// The digits MLP's shape (`x [1, 64] @ w1 [64, 32] + b1`, relu, `@ w2 [32, 10] + b2`)
/// as a graph over fresh tensors: input, weights (values irrelevant to the cost), output.
struct Mlp {
    x: libway::ai::Tensor,
    out: libway::ai::Tensor,
    graph: libway::infer::Graph,
    _weights: alloc::vec::Vec<libway::ai::Tensor>,
}

fn mlp() -> Option<Mlp> {
    use libway::abi::ai::Output;
    use libway::ai::{Tensor, DTYPE_F32, TIER_NEAR};
    use libway::infer::{bound, from_node, node, op, Graph, MODE_FAST};
    let t = |dims: &[u32]| Tensor::create(DTYPE_F32, dims, TIER_NEAR).ok();
    let (x, w1, b1, w2, b2, out) = (
        t(&[1, 64])?,
        t(&[64, 32])?,
        t(&[32])?,
        t(&[32, 10])?,
        t(&[10])?,
        t(&[1, 10])?,
    );
    let fill = |t: &Tensor, n: usize| {
        let v: alloc::vec::Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 0.125 - 0.375).collect();
        t.write_f32(0, &v).ok()
    };
    fill(&w1, 64 * 32)?;
    fill(&b1, 32)?;
    fill(&w2, 32 * 10)?;
    fill(&b2, 10)?;
    let graph = Graph::create(
        &[
            node(op::MATMUL, &[bound(0), bound(1)], &[]),
            node(op::ADD, &[from_node(0), bound(2)], &[]),
            node(op::RELU, &[from_node(1)], &[]),
            node(op::MATMUL, &[from_node(2), bound(3)], &[]),
            node(op::ADD, &[from_node(3), bound(4)], &[]),
        ],
        &[x.raw(), w1.raw(), b1.raw(), w2.raw(), b2.raw(), out.raw()],
        &[Output { node: 4, tensor: 5 }],
        MODE_FAST,
    )
    .ok()?;
    Some(Mlp {
        x,
        out,
        graph,
        _weights: alloc::vec![w1, b1, w2, b2],
    })
}

/// One inference: the image in, the run, the logits out.
fn infer_once(m: &Mlp, img: &[f32], class: u32) -> bool {
    let mut logits = [0f32; 10];
    m.x.write_f32(0, img).is_ok()
        && m.graph.run(class).is_ok()
        && m.out.read_f32(0, &mut logits).is_ok()
}

/// Latency samples of RT-class inferences.
const RT_SAMPLES: usize = 100;

/// `digits_infer_direct_instr`: one digits-shaped inference through the kernel queue
/// (input write, submit, run, wait, output read). `rt_latency_p50/p99_instr_idle` and
/// `_loaded`: the same inference in the RT class (the highest the bench may use),
/// submit to result, with nothing else queued (`idle`) and while a background graph of
/// 64x64 matmuls — each node about 110 times the whole small graph's multiply-adds, the
/// graph thousands of times — runs while this process sleeps between samples
/// (`loaded`). One CPU, kernel not preemptible: a request is made at a node boundary
/// (the only time a user thread runs), and the worker serves it before the background
/// job's next node; `rt_background_node_instr` (one background node) is what a request
/// arriving mid-node would wait on top.
fn rt_figures() {
    use libway::abi::ai::Output;
    use libway::abi::caps::{AI_ACCEL, SET_RT_PRIORITY};
    use libway::ai::{Tensor, DTYPE_F32, TIER_NEAR};
    use libway::infer::{
        bound, from_node, node, op, Graph, CLASS_BACKGROUND, CLASS_NORMAL, CLASS_RT, MODE_FAST,
    };

    let Some(m) = mlp() else {
        println!("bench: digits mlp: setup failed");
        return;
    };
    let img: alloc::vec::Vec<f32> = (0..64).map(|i| (i % 17) as f32).collect();
    const D: u64 = 200;
    let _ = infer_once(&m, &img, CLASS_NORMAL);
    let t0 = now();
    for _ in 0..D {
        if !infer_once(&m, &img, CLASS_NORMAL) {
            println!("bench: digits_infer_direct: a run failed");
            return;
        }
    }
    report(
        "digits_infer_direct_instr",
        now() - t0,
        D,
        "instructions/inference",
    );

    let rt = if libway::caps::has(AI_ACCEL) || libway::caps::has(SET_RT_PRIORITY) {
        CLASS_RT
    } else {
        println!("bench: no aiaccel/rtprio: the latency figures use the normal class");
        CLASS_NORMAL
    };
    let sample = |m: &Mlp| -> Option<u64> {
        let t0 = now();
        infer_once(m, &img, rt).then(|| (now() - t0) * instructions_per_tick())
    };
    let percentiles = |mut v: alloc::vec::Vec<u64>, what: &str| {
        v.sort_unstable();
        let p = |q: usize| {
            v[(v.len() * q)
                .div_ceil(100)
                .saturating_sub(1)
                .min(v.len() - 1)]
        };
        for (q, name) in [(50, "p50"), (99, "p99")] {
            println!(
                "{{\"system\":\"wayos\",\"bench\":\"rt_latency_{name}_instr_{what}\",\"value\":{},\"unit\":\"instructions\"}}",
                p(q)
            );
        }
    };

    // Each sample starts after a short sleep (woken by the next 100 Hz tick), in both
    // phases: under load the background job runs while this process sleeps, and the
    // request is made when the tick has woken it, at the background job's next node
    // boundary (the kernel is not preemptible, so that is when a user thread runs).
    let mut idle = alloc::vec::Vec::with_capacity(RT_SAMPLES);
    for _ in 0..RT_SAMPLES {
        let _ = libway::time::sleep_ms(1);
        match sample(&m) {
            Some(t) => idle.push(t),
            None => {
                println!("bench: rt_latency idle: a run failed");
                return;
            }
        }
    }
    percentiles(idle, "idle");

    // The background load: a chain of 64x64 matmuls, resubmitted whenever it ends.
    const BG_NODES: u32 = 1000;
    let (Ok(bx), Ok(bw), Ok(by)) = (
        Tensor::create(DTYPE_F32, &[64, 64], TIER_NEAR),
        Tensor::create(DTYPE_F32, &[64, 64], TIER_NEAR),
        Tensor::create(DTYPE_F32, &[64, 64], TIER_NEAR),
    ) else {
        println!("bench: rt_latency: background tensors failed");
        return;
    };
    let mut ns = alloc::vec![node(op::MATMUL, &[bound(0), bound(1)], &[])];
    for i in 1..BG_NODES {
        ns.push(node(op::MATMUL, &[from_node(i - 1), bound(1)], &[]));
    }
    let Ok(bg) = Graph::create(
        &ns,
        &[bx.raw(), bw.raw(), by.raw()],
        &[Output {
            node: BG_NODES - 1,
            tensor: 2,
        }],
        MODE_FAST,
    ) else {
        println!("bench: rt_latency: background graph failed");
        return;
    };
    let Ok(mut job) = bg.submit(CLASS_BACKGROUND) else {
        println!("bench: rt_latency: background submit failed");
        return;
    };
    let mut loaded = alloc::vec::Vec::with_capacity(RT_SAMPLES);
    let (mut preempted, mut bg_nodes, mut bg_ns) = (0u64, 0u64, 0u64);
    for _ in 0..RT_SAMPLES {
        if job.poll() != Err(libway::Errno(libway::abi::errno::EAGAIN)) {
            if let Ok(st) = job.stats() {
                preempted += u64::from(st.preemptions);
                bg_nodes += u64::from(st.nodes_run);
                bg_ns += st.run_ns;
            }
            match bg.submit(CLASS_BACKGROUND) {
                Ok(j) => job = j,
                Err(_) => {
                    println!("bench: rt_latency: background resubmit failed");
                    return;
                }
            }
        }
        let _ = libway::time::sleep_ms(1);
        match sample(&m) {
            Some(t) => loaded.push(t),
            None => {
                println!("bench: rt_latency loaded: a run failed");
                return;
            }
        }
    }
    let _ = job.cancel();
    let _ = job.wait(u64::MAX);
    if let Ok(st) = job.stats() {
        preempted += u64::from(st.preemptions);
        bg_nodes += u64::from(st.nodes_run);
        bg_ns += st.run_ns;
    }
    println!(
        "bench: rt_latency loaded: the background ran {bg_nodes} nodes meanwhile and gave way {preempted} times"
    );
    percentiles(loaded, "loaded");
    // What a request arriving in the middle of a background node waits at most on top
    // of the figure above (from its own infer_stats: time on the worker per node).
    // Under -icount shift=0 a nanosecond is an instruction.
    println!(
        "{{\"system\":\"wayos\",\"bench\":\"rt_background_node_instr\",\"value\":{},\"unit\":\"instructions/node\"}}",
        bg_ns / bg_nodes.max(1)
    );
}

/// `digits_infer_aid_instr`: one inference of the real digits model
/// (`/models/digits.waymodel`) through aid, end to end: the request over IPC, aid writing
/// the input tensor, the kernel queue's run, aid reading the logits, the reply. Set it
/// beside `digits_infer_direct_instr` (the same shapes through the queue in this process):
/// the difference is what the daemon costs.
fn aid_figures() {
    use libway::abi::digits::MODEL_F32;
    use libway::aid::Client;
    use libway::infer::CLASS_NORMAL;

    // init starts aid just before the bench; give it a moment to register its name.
    let mut client = Client::connect();
    for _ in 0..50 {
        if client.is_ok() {
            break;
        }
        let _ = libway::time::sleep_ms(20);
        client = Client::connect();
    }
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            println!("bench: digits_infer_aid: cannot reach aid: {e}");
            return;
        }
    };
    let id = match client.load(MODEL_F32) {
        Ok(id) => id,
        Err(e) => {
            println!("bench: digits_infer_aid: load {MODEL_F32}: {e}");
            return;
        }
    };
    let img: alloc::vec::Vec<f32> = (0..64).map(|i| (i % 17) as f32 / 16.0).collect();
    let mut logits = [0f32; 10];
    const D: u64 = 200;
    if let Err(e) = client.infer(id, &img, &mut logits, CLASS_NORMAL) {
        println!("bench: digits_infer_aid: infer: {e}");
        return;
    }
    let t0 = now();
    for _ in 0..D {
        if client.infer(id, &img, &mut logits, CLASS_NORMAL).is_err() {
            println!("bench: digits_infer_aid: an inference failed");
            return;
        }
    }
    report(
        "digits_infer_aid_instr",
        now() - t0,
        D,
        "instructions/inference",
    );
    let _ = client.unload(id);
}
