//! The AI subsystem's kernel objects (`docs/ai.md`): tensors ([`tensor`]), the system-wide
//! counters `ai_info` reports ([`stats`]), compute graphs ([`graph`], run node by node by
//! [`exec`]), the inference queue and its jobs ([`queue`]), the accelerator workers that
//! run them ([`accel`]) and the model registry ([`registry`]). The syscalls are
//! `syscall/tensor.rs` and `syscall/infer.rs`; the numbers and layouts are
//! `wayos_abi::ai`; the shape rules are `wayos_kcore::tensor` and `wayos_kcore::aigraph`
//! (host-tested).
//!
//! Ownership: a tensor is an `Arc<Tensor>` shared by every handle (in any process's
//! table or inside a queued message), every graph that binds it and every mapping of its
//! pages. It is charged to the process that created it (`task::usage`: count and bytes)
//! for as long as it exists, whoever holds it, and freed — pages back to the PMM, charge
//! released, totals lowered — when the last reference goes, process exit included. A
//! graph holds its bound tensors; a queued or running job holds its graph until it ends.
//!
//! Lock order: a process's handle table, then the queue lock, then a graph's arena lock,
//! then a tensor's content lock, then PMM tier locks. The content lock is never held
//! across a user copy (reads and writes go through a kernel bounce buffer) and never
//! while taking a handle table. What must never happen here: a panic or an unbounded
//! allocation on a program's behalf, a tensor's pages freed while anything can still
//! reach them, a charge that outlives its object, or tensor math outside an accelerator
//! worker (only workers are known to keep their FP/SIMD state, see [`accel`]).

pub mod accel;
pub mod exec;
pub mod graph;
pub mod queue;
pub mod registry;
pub mod selftest;
pub mod stats;
pub mod tensor;

/// Starts the accelerators. Boot CPU, after `smp::start`.
pub fn init() {
    accel::start();
}

/// The math kernels graphs run with: the best the CPU has, but only when the arch layer
/// says the kernel keeps that vector state across switches and traps
/// (`arch::simd_math`); else the scalar code.
pub fn math_isa() -> wayos_aimath::Isa {
    match crate::arch::simd_math() {
        Some(_) => wayos_aimath::Isa::detect(),
        None => wayos_aimath::Isa::Scalar,
    }
}

/// What the math runs on, for logs and `ai_info`.
pub fn isa_name() -> &'static str {
    match math_isa() {
        wayos_aimath::Isa::Scalar => "scalar",
        _ => crate::arch::simd_math().unwrap_or("scalar"),
    }
}

/// Called when process `pid` exits: its queued jobs end now, its running ones at their
/// next node boundary; the graphs and tensors they hold go with the last job.
pub fn process_exit(pid: crate::task::process::Pid) {
    queue::cancel_owner(pid);
}
