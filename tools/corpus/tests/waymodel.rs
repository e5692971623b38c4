//! Every `.waymodel` mutant through `wayos-kcore`'s parser and graph check, under a
//! counting global allocator: each must be refused (by `waymodel::parse`, or by
//! `Model::graph` for a well-formed file with a wrong graph), nothing may panic, `parse`
//! must not allocate at all, and `graph` no more than its ABI-bounded tables. Also every
//! truncation and every single-bit flip of the sample model.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use wayos_abi::ai;
use wayos_corpus::{waymodel_guest_sample, waymodel_mutants, waymodel_sample};
use wayos_kcore::waymodel;

thread_local! {
    /// Bytes this thread has asked the allocator for since the last reset.
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, counting per thread (tests run on several threads at once).
struct Counting;

// SAFETY: every call is passed to `System` unchanged; the counter is a const-initialised
// thread-local `Cell` without a destructor, so touching it neither allocates nor recurses.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.with(|a| a.set(a.get() + layout.size()));
        // SAFETY: the caller's contract for `alloc` is `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through `alloc`/`realloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.with(|a| a.set(a.get() + new_size));
        // SAFETY: as for `dealloc`, and the caller's contract is `System::realloc`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    ALLOCATED.with(|a| a.set(0));
    let r = f();
    (r, ALLOCATED.with(|a| a.get()))
}

/// What `Model::graph` may allocate at most: the bound infos, the nodes, the outputs, the
/// plan and the planner's live list, each at its ABI limit, with room for Vec rounding.
const GRAPH_BOUND: usize =
    2 * (ai::MAX_BOUND * 48 + ai::MAX_NODES * 56 + ai::MAX_OUTPUTS * 8 + ai::MAX_NODES * 128);

/// Refused, without a panic, parse allocating nothing and graph within its bound.
fn refused(m: &[u8]) -> Result<(), String> {
    let (parsed, bytes) = allocated_by(|| waymodel::parse(m));
    if bytes != 0 {
        return Err(format!("parse allocated {bytes} bytes"));
    }
    let Ok(model) = parsed else {
        return Ok(());
    };
    let (graph, bytes) = allocated_by(|| model.graph().map(|_| ()));
    if bytes > GRAPH_BOUND {
        return Err(format!("graph allocated {bytes} bytes"));
    }
    match graph {
        Err(_) => Ok(()),
        Ok(()) => Err("accepted".into()),
    }
}

fn failures<'a>(corpus: impl Iterator<Item = (String, &'a [u8])>) -> Vec<String> {
    let mut bad = Vec::new();
    for (name, m) in corpus {
        match catch_unwind(AssertUnwindSafe(|| refused(m))) {
            Ok(Ok(())) => {}
            Ok(Err(why)) => bad.push(format!("{name}: {why}")),
            Err(_) => bad.push(format!("{name}: panicked")),
        }
    }
    bad
}

#[test]
fn sample_is_valid() {
    let valid = waymodel_sample();
    let m = waymodel::parse(&valid).expect("the sample parses");
    let g = m.graph().expect("its graph is valid");
    assert_eq!(
        (m.n_tensors(), m.n_nodes(), g.plan.nodes().len()),
        (5, 7, 7)
    );
}

#[test]
fn every_mutant_is_refused() {
    let valid = waymodel_sample();
    let corpus = waymodel_mutants(&valid, 1);
    assert!(corpus.len() > 3000, "only {} mutants", corpus.len());
    assert!(corpus.iter().all(|(_, m)| *m != valid));
    let bad = failures(corpus.iter().map(|(n, m)| (n.clone(), &m[..])));
    assert!(
        bad.is_empty(),
        "{} of {}:\n{}",
        bad.len(),
        corpus.len(),
        bad.join("\n")
    );
    // Same input and seed, same corpus.
    assert_eq!(waymodel_mutants(&valid, 1), corpus);
    let sample = waymodel_guest_sample(&valid, 1, 48);
    assert_eq!(sample.len(), 48);
    assert!(sample.iter().all(|m| corpus.contains(m)));
}

#[test]
fn every_cut_and_every_bit_flip_is_refused() {
    let valid = waymodel_sample();
    let cuts = (0..valid.len()).map(|n| (format!("cut-{n}"), &valid[..n]));
    let bad = failures(cuts);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let mut flips = Vec::new();
    for i in 0..valid.len() {
        for bit in 0..8 {
            let mut m = valid.clone();
            m[i] ^= 1 << bit;
            flips.push((format!("flip-{i}.{bit}"), m));
        }
    }
    let bad = failures(flips.iter().map(|(n, m)| (n.clone(), &m[..])));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_counter_counts() {
    // The check above is only as good as the counter: a graph does allocate.
    let valid = waymodel_sample();
    let m = waymodel::parse(&valid).unwrap();
    let (_, bytes) = allocated_by(|| m.graph().unwrap());
    assert!(bytes >= 7 * 56, "graph() allocated {bytes}");
}

#[test]
fn a_model_at_the_limits_stays_within_the_graph_bound() {
    use wayos_abi::ai::{op, Node, TensorInfo, DTYPE_F32, REF_NODE};
    use wayos_kcore::waymodel::{OutputSpec, Spec, TensorSpec};
    let one = TensorInfo {
        dtype: DTYPE_F32,
        rank: 1,
        dims: [1, 0, 0, 0],
        ..TensorInfo::default()
    };
    let spec = Spec {
        tensors: (0..248)
            .map(|i| TensorSpec {
                name: format!("t{i}"),
                info: one,
                data: (i > 0).then(|| 1.0f32.to_le_bytes().to_vec()),
            })
            .collect(),
        nodes: (0..ai::MAX_NODES as u32)
            .map(|i| Node {
                op: op::RELU,
                n_inputs: 1,
                inputs: [if i == 0 { 0 } else { REF_NODE | (i - 1) }, 0, 0, 0],
                ..Node::default()
            })
            .collect(),
        outputs: (0..8)
            .map(|k| OutputSpec {
                name: format!("o{k}"),
                node: 1016 + k,
                info: one,
            })
            .collect(),
        ..Spec::default()
    };
    let bytes = waymodel::write(&spec).unwrap();
    let (m, parse_bytes) = allocated_by(|| waymodel::parse(&bytes).unwrap());
    assert_eq!(parse_bytes, 0);
    let (g, graph_bytes) = allocated_by(|| m.graph().unwrap());
    assert_eq!(g.nodes.len(), ai::MAX_NODES);
    assert!(graph_bytes <= GRAPH_BOUND, "{graph_bytes} > {GRAPH_BOUND}");
}
