//! aarch64 implementation of the arch contract (see `arch/mod.rs`), for QEMU `virt` and
//! other device-tree machines booted with a raw arm64 `Image`.
//!
//! Split by job: `boot` (the Image header, EL2→EL1, boot page tables, entry into Rust),
//! `dtb` (device tree → `BootInfo` and the private [`Platform`] description), `mmu` (the
//! boot page tables' layout and the direct-map refinement), `serial` (PL011), `trap` (EL1
//! vector table, exception reports), `timer` (generic timer clock), `power` (PSCI).
//!
//! Nothing here is visible to generic code except the names `arch/mod.rs` re-exports.

mod boot;
mod dtb;
mod mmu;
mod power;
mod serial;
mod timer;
mod trap;

pub use power::{halt_forever, power_off};
pub use serial::serial_write;
pub use timer::uptime_ns;

pub const NAME: &str = "aarch64";

/// The running CPU's index: MPIDR_EL1 affinity level 0 (the core number on QEMU `virt`).
pub fn cpu_id() -> u32 {
    use aarch64_cpu::registers::{Readable, MPIDR_EL1};
    (MPIDR_EL1.get() & 0xff) as u32
}

/// The caller's frame pointer (x29); the kernel is built with frame pointers.
#[inline(always)]
pub fn frame_pointer() -> usize {
    let fp: usize;
    // SAFETY: copies a register; no memory is touched.
    unsafe {
        core::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags))
    };
    fp
}

/// Raises a BRK exception; the trap handler counts it and resumes after the instruction.
///
/// The handler is Rust code that may use any caller-saved register, FP/SIMD included (the
/// entry stub saves only the general registers), so the asm block declares the C ABI's
/// caller-saved set clobbered.
pub fn breakpoint() {
    // SAFETY: the EL1 synchronous handler returns from BRK to the next instruction with the
    // general registers restored; everything else it might touch is declared clobbered.
    unsafe { core::arch::asm!("brk #0xf000", clobber_abi("C"), options(nostack)) };
}
