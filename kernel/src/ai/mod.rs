//! The AI subsystem's kernel objects (`docs/ai.md`): the inference queue and its jobs
//! (`queue`), the accelerator workers that run them (`accel`).
//!
//! Must never: run tensor math outside an accelerator worker (only workers are known to
//! keep their FP/SIMD state, see `accel`), or panic on anything a program passes in.

pub mod accel;
pub mod queue;
pub mod selftest;

/// Starts the accelerators. Boot CPU, after `smp::start`.
pub fn init() {
    accel::start();
}

/// What the math runs on, for logs and `ai_info`.
pub fn isa_name() -> &'static str {
    crate::arch::simd_math().unwrap_or("scalar")
}

/// Called when process `pid` exits: its queued jobs end now, its running ones at their
/// next node boundary; the graphs and tensors they hold go with the last job.
pub fn process_exit(pid: crate::task::process::Pid) {
    queue::cancel_owner(pid);
}
