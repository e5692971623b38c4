//! The AI subsystem's kernel objects: tensors ([`tensor`]) and the system-wide counters
//! `ai_info` reports ([`stats`]). Graphs, accelerator workers, the inference queue and the
//! model registry build on these. The user-facing contract is `docs/ai.md`; the syscalls
//! are `syscall/tensor.rs`; the numbers and layouts are `wayos_abi::ai`; the shape rules
//! are `wayos_kcore::tensor` (host-tested).
//!
//! Ownership: a tensor is an `Arc<Tensor>` shared by every handle (in any process's
//! table or inside a queued message), every graph that binds it and every mapping of its
//! pages. It is charged to the process that created it (`task::usage`: count and bytes)
//! for as long as it exists, whoever holds it, and freed — pages back to the PMM, charge
//! released, totals lowered — when the last reference goes, process exit included.
//!
//! Lock order: a process's handle table, then a tensor's content lock, then PMM tier
//! locks. The content lock is never held across a user copy (reads and writes go through
//! a kernel bounce buffer) and never while taking a handle table. What must never happen
//! here: a panic or an unbounded allocation on a program's behalf, a tensor's pages freed
//! while anything can still reach them, or a charge that outlives its object.

pub mod stats;
pub mod tensor;
