//! x86_64 implementation of the arch contract (see `arch/mod.rs`).
//!
//! Split by job: `boot` (Limine hand-off and entry), `serial` (COM1), `gdt` (each CPU's
//! segments, TSS and per-CPU block), `trap` (IDT, trap entry/exit, exception and interrupt
//! dispatch), `syscall` (SYSCALL entry), `context` (thread switch), `cpu` (features, FP
//! state), `lapic` (local APIC: timer, EOI, IPIs), `ioapic` (device interrupt routing, 8259
//! masking), `irq` (device interrupt vectors: MSI-X messages, I/O APIC lines), `smp` (secondary CPU start-up, CPU ids, IPIs), `trampoline` (real-mode
//! start-up code and its low memory), `mmu` (CR3, TLB), `uaccess` (fault-tolerant user
//! copies), `tsc` (clock), `rtc` (CMOS real-time clock), `acpi` (firmware tables), `power`
//! (QEMU exit), `port` (raw port I/O), `hardening` (in-kernel checks of the protection
//! bits and flag hygiene, for `boottest`).

mod acpi;
mod boot;
mod context;
mod cpu;
mod gdt;
mod hardening;
mod ioapic;
mod irq;
mod lapic;
mod mmu;
mod port;
mod power;
mod rtc;
mod serial;
mod smp;
mod syscall;
mod trampoline;
mod trap;
mod tsc;
mod uaccess;

pub use acpi::pci_host;
pub use boot::boot_stack;
pub use context::{switch, Context};
pub use cpu::{simd_math, FpuState};
pub use gdt::set_kernel_stack;
pub use hardening::CHECKS as HARDENING_CHECKS;
pub use irq::{enable_line as irq_enable_line, msi_alloc, unmask_line as irq_unmask_line};
pub use mmu::{
    activate as activate_page_table, current_root, flush_all as flush_tlb_all, kernel_root,
};
pub use mmu::{flush_page as flush_tlb_page, PteFormat};
pub use power::{halt_forever, power_off};
pub use rtc::rtc_epoch_seconds;
pub use serial::{serial_read, serial_write};
pub use smp::{cpu_hw_id, cpu_id, send_ipi, start_cpus};
pub use trap::{enter_signal_handler, enter_user, resume_signal_frame, TrapFrame};
pub use tsc::uptime_ns;
pub use uaccess::copy as user_copy;

/// Set-up that needs the heap and the kernel's own page tables: CPU features, the
/// SYSCALL entry, the scheduler tick at `tick_hz`, and device interrupt routing (COM1's
/// receive interrupt to this, the boot, CPU).
/// The timer, COM1 receive and kernel IPI vectors (see the contract in `arch`).
pub fn irq_line_numbers() -> [u32; 3] {
    [trap::VEC_TIMER, trap::VEC_SERIAL, trap::VEC_IPI].map(|v| v as u32)
}

pub fn init_late(tick_hz: u32) {
    cpu::init();
    syscall::init();
    lapic::init(tick_hz);
    if ioapic::init(lapic::id()) {
        serial::enable_rx_interrupt();
    }
}

pub fn interrupts_enabled() -> bool {
    x86_64::instructions::interrupts::are_enabled()
}

pub fn enable_interrupts() {
    x86_64::instructions::interrupts::enable();
}

pub fn disable_interrupts() {
    x86_64::instructions::interrupts::disable();
}

/// Enables interrupts and halts until one arrives, atomically (no wake-up lost between).
pub fn wait_for_interrupt() {
    x86_64::instructions::interrupts::enable_and_hlt();
}

pub const NAME: &str = "x86_64";

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

/// See the arch contract.
pub const TLB_FLUSH_IS_BROADCAST: bool = false;
