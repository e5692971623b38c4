//! `ainfo [usage|accel|graphs|models|aid|all] [-h]`: the AI subsystem's state from `ai_info`.
//! `usage` (the default): the system's totals, then one line per process with AI objects
//! charged to it:
//!
//! ```text
//! tensors 3 (12288 bytes; 3 pages near, 0 far; 17 created)  graphs 0  jobs 0  accelerators 0
//!   PID  TENSORS       BYTES  GRAPHS  JOBS
//!    12        3       12288       0     0
//! ```
//!
//! `accel` (also the `lsaccel` command): one line per accelerator — worker thread, the
//! vector extension its math uses, the shared queue's depth, jobs done, time busy, the job
//! it runs now. `graphs`: every graph alive (id, owner, nodes, mode, arena bytes, runs).
//! `models`: one line per copy of loaded weights (name, weights id, holders, owner, weight
//! bytes, newest graph). `aid`: the AI daemon's
//! clients (session, pid, models, requests, summed time) and models (holders, runs),
//! asked of aid itself (`docs/aid.md`). `all`: every table.
//!
//! Exit status 0, 1 if the kernel refused, 2 on a usage error.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use libway::ai;
use libway::infer;
use libway::{eprintln, println, Args};

libway::entry!(main);

const USAGE: &str = "Usage: ainfo [usage|accel|graphs|models|aid|all] [-h]\n\
Show the AI subsystem. usage (the default): tensors alive in the system (their bytes, pages\n\
per memory tier, how many were ever created), graphs, jobs and accelerators, then per\n\
process the tensors, tensor bytes (whole pages), graphs and jobs charged to it.\n\
accel: the accelerators (as lsaccel). graphs: every graph. models: the loaded models.\n\
aid: the AI daemon's clients and models.\n\
all: every table.\n\n  \
-h, --help   show this help";

fn main(args: Args) -> i32 {
    let what = args.get(1).unwrap_or("usage");
    if args.get(2).is_some() {
        eprintln!("ainfo: too many arguments");
        eprintln!("Try 'ainfo -h' for more information.");
        return 2;
    }
    let r = match what {
        "-h" | "--help" => {
            println!("{USAGE}");
            return 0;
        }
        "usage" => return print_usage(),
        "accel" => print_accels(),
        "graphs" => print_graphs(),
        "models" => print_models(),
        "aid" => print_aid(),
        "all" => {
            let u = print_usage();
            if u != 0 {
                return u;
            }
            print_accels()
                .and_then(|()| print_graphs())
                .and_then(|()| print_models())
                .map(|()| {
                    // aid is a server that may be down; the kernel's tables above stand.
                    if let Err(e) = print_aid() {
                        println!("aid: {e}");
                    }
                })
        }
        other => {
            eprintln!("ainfo: unexpected argument '{other}'");
            eprintln!("Try 'ainfo -h' for more information.");
            return 2;
        }
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ainfo: ai_info: {e}");
            1
        }
    }
}

/// `ainfo usage`: the totals and the per-process table.
fn print_usage() -> i32 {
    let t = match ai::totals() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ainfo: ai_info: {e}");
            return 1;
        }
    };
    let usage = match ai::usage() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("ainfo: ai_info: {e}");
            return 1;
        }
    };
    println!(
        "tensors {} ({} bytes; {} pages near, {} far; {} created)  graphs {}  jobs {}  accelerators {}",
        t.tensors,
        t.tensor_bytes,
        t.near_pages,
        t.far_pages,
        t.tensors_created,
        t.graphs,
        t.jobs,
        t.accels
    );
    println!(
        "{:>5} {:>8} {:>11} {:>7} {:>5}",
        "PID", "TENSORS", "BYTES", "GRAPHS", "JOBS"
    );
    for u in &usage {
        println!(
            "{:>5} {:>8} {:>11} {:>7} {:>5}",
            u.pid, u.tensors, u.tensor_bytes, u.graphs, u.jobs
        );
    }
    0
}

/// `ainfo accel`: one line per accelerator (`lsaccel` prints the same).
fn print_accels() -> Result<(), libway::Errno> {
    let accels = infer::accels()?;
    println!(
        "{:>5} {:>5} {:<9} {:>5} {:>10} {:>10}  RUNNING",
        "ACCEL", "TID", "ISA", "QUEUE", "JOBS", "BUSY_MS"
    );
    for a in &accels {
        let running = if a.current_job == 0 {
            String::from("-")
        } else {
            format!("job {} (pid {})", a.current_job, a.current_pid)
        };
        println!(
            "{:>5} {:>5} {:<9} {:>5} {:>10} {:>10}  {}",
            a.index,
            a.tid,
            infer::name_of(&a.isa),
            a.queue_depth,
            a.jobs_done,
            a.busy_ns / 1_000_000,
            running
        );
    }
    Ok(())
}

/// `ainfo graphs`: one line per graph alive.
fn print_graphs() -> Result<(), libway::Errno> {
    let graphs = infer::graphs()?;
    println!(
        "{:>6} {:>5} {:>6} {:<8} {:>11} {:>8}",
        "GRAPH", "PID", "NODES", "MODE", "ARENA", "RUNS"
    );
    for g in &graphs {
        let mode = if g.mode == infer::MODE_BITEXACT {
            "bitexact"
        } else {
            "fast"
        };
        println!(
            "{:>6} {:>5} {:>6} {:<8} {:>11} {:>8}",
            g.id, g.owner, g.nodes, mode, g.arena_bytes, g.runs
        );
    }
    Ok(())
}

/// `ainfo models`: one line per copy of a model's weights: its weights id (the first 8
/// bytes of their SHA-256), how many loads share it, the process whose load made it, the
/// weight bytes held once, and the newest load's graph.
fn print_models() -> Result<(), libway::Errno> {
    let models = infer::models()?;
    println!(
        "{:<24} {:<16} {:>7} {:>5} {:>11} {:>6}",
        "MODEL", "WEIGHTS", "HOLDERS", "PID", "BYTES", "GRAPH"
    );
    for m in &models {
        println!(
            "{:<24} {:016x} {:>7} {:>5} {:>11} {:>6}",
            infer::name_of(&m.name),
            m.weights_id,
            m.holders,
            m.owner,
            m.bytes,
            m.graph
        );
    }
    Ok(())
}

/// `ainfo aid`: aid's clients (one line per session: pid it gave, privileged door or not,
/// models held, requests in flight and answered, inferences and their summed queue, run,
/// wait and aid times in microseconds) and its models (holders, runs). aid answers for
/// itself, so this asks it over IPC (`libway::aid`); this listing's own session shows too.
fn print_aid() -> Result<(), libway::Errno> {
    let c = libway::aid::Client::connect()?;
    let sessions = c.stats()?;
    let models = c.list()?;
    println!("aid: {} clients, {} models", sessions.len(), models.len());
    println!(
        "{:>9} {:>5} {:>4} {:>6} {:>8} {:>8} {:>6} {:>10} {:>10} {:>10} {:>10}",
        "SESSION",
        "PID",
        "PRIV",
        "MODELS",
        "INFLIGHT",
        "REQUESTS",
        "INFERS",
        "QUEUED_US",
        "RUN_US",
        "WAIT_US",
        "AID_US"
    );
    for e in &sessions {
        println!(
            "{:>9} {:>5} {:>4} {:>6} {:>8} {:>8} {:>6} {:>10} {:>10} {:>10} {:>10}",
            e.session,
            e.pid,
            if e.privileged != 0 { "yes" } else { "no" },
            e.models,
            e.in_flight,
            e.requests,
            e.infers,
            e.queued_ns / 1000,
            e.run_ns / 1000,
            e.wait_ns / 1000,
            e.aid_ns / 1000
        );
    }
    println!(
        "{:>9} {:<32} {:>9} {:>7} {:>6}  SESSIONS",
        "MODEL", "NAME", "BYTES", "HOLDERS", "RUNS"
    );
    for m in &models {
        let held: alloc::vec::Vec<String> = m
            .holder_ids
            .iter()
            .filter(|&&h| h != 0)
            .map(|h| format!("{h}"))
            .collect();
        println!(
            "{:>9} {:<32} {:>9} {:>7} {:>6}  {}",
            m.id,
            libway::aid::name_of(&m.name),
            m.bytes,
            m.holders,
            m.runs,
            held.join(",")
        );
    }
    Ok(())
}
