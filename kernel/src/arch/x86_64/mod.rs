//! x86_64 implementation of the arch contract (see `arch/mod.rs`).
//!
//! Split by job: `boot` (Limine hand-off and entry), `serial` (COM1), `gdt` (segments, TSS,
//! per-CPU block), `trap` (IDT, trap entry/exit, exception dispatch), `syscall` (SYSCALL
//! entry), `context` (thread switch), `cpu` (features, FP state), `lapic` (timer), `mmu`
//! (CR3, TLB), `uaccess` (fault-tolerant user copies), `tsc` (clock), `rtc` (CMOS
//! real-time clock), `acpi` (firmware tables), `power` (QEMU exit), `port` (raw port I/O).

mod acpi;
mod boot;
mod context;
mod cpu;
mod gdt;
mod lapic;
mod mmu;
mod port;
mod power;
mod rtc;
mod serial;
mod syscall;
mod trap;
mod tsc;
mod uaccess;

pub use context::{switch, Context};
pub use cpu::FpuState;
pub use gdt::set_kernel_stack;
pub use mmu::{
    activate as activate_page_table, current_root, flush_all as flush_tlb_all, kernel_root,
};
pub use mmu::{flush_page as flush_tlb_page, PteFormat};
pub use power::{halt_forever, power_off};
pub use rtc::rtc_epoch_seconds;
pub use serial::{serial_read, serial_write};
pub use trap::{enter_signal_handler, enter_user, resume_signal_frame, TrapFrame};
pub use tsc::uptime_ns;
pub use uaccess::copy as user_copy;

/// Set-up that needs the heap and the kernel's own page tables: CPU features, the
/// SYSCALL entry, and the scheduler tick at `tick_hz`.
pub fn init_late(tick_hz: u32) {
    cpu::init();
    syscall::init();
    lapic::init(tick_hz);
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

/// The running CPU's index (stub until SMP: the boot CPU).
pub fn cpu_id() -> usize {
    0
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

/// Not yet: only the boot CPU runs (the SMP bring-up replaces this).
pub fn start_cpus(_max: usize, _entry: fn() -> !) -> usize {
    1
}

/// The hardware id of CPU `cpu` (stub: the boot CPU's).
pub fn cpu_hw_id(_cpu: usize) -> u64 {
    0
}

/// Interrupts CPU `cpu` (stub: there is no other CPU yet).
pub fn send_ipi(_cpu: usize) {}

/// See the arch contract.
pub const TLB_FLUSH_IS_BROADCAST: bool = false;
