//! x86_64 implementation of the arch contract (see `arch/mod.rs`).
//!
//! Split by job: `boot` (Limine hand-off and entry), `serial` (COM1), `gdt` (segments and
//! TSS), `trap` (IDT, exception entry and reports), `tsc` (clock), `acpi` (firmware tables),
//! `power` (QEMU exit), `port` (raw port I/O).

mod acpi;
mod boot;
mod gdt;
mod port;
mod power;
mod serial;
mod trap;
mod tsc;

pub use power::{halt_forever, power_off};
pub use serial::serial_write;
pub use tsc::uptime_ns;

pub const NAME: &str = "x86_64";

/// The initial APIC ID of the running CPU (CPUID leaf 1, EBX[31:24]); 0 on the boot CPU.
pub fn cpu_id() -> u32 {
    // CPUID is available on every x86_64 CPU and has no side effects.
    let leaf = core::arch::x86_64::__cpuid(1);
    leaf.ebx >> 24
}

/// The caller's frame pointer (rbp); the kernel is built with frame pointers.
#[inline(always)]
pub fn frame_pointer() -> usize {
    let fp: usize;
    // SAFETY: reads a register; no memory is touched.
    unsafe {
        core::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags))
    };
    fp
}

/// Raises #BP; the trap handler counts it and returns to the next instruction.
pub fn breakpoint() {
    // SAFETY: the IDT's breakpoint handler returns with all registers restored.
    unsafe { core::arch::asm!("int3", options(nomem, nostack)) };
}
