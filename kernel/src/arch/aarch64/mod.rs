//! aarch64 implementation of the arch contract (see `arch/mod.rs`), for QEMU `virt` and
//! other device-tree machines booted with a raw arm64 `Image`.
//!
//! Split by job: `boot` (the Image header, EL2→EL1, boot page tables, entry into Rust),
//! `dtb` (device tree → `BootInfo` and the private [`Platform`](dtb::Platform)
//! description), `mmu` (page-table roots, TLB maintenance, the boot tables' layout), `trap`
//! (EL1 vector table, trap entry/exit, exception dispatch, SVC), `context` (thread switch,
//! FP state), `uaccess` (fault-tolerant user copies), `gic` (interrupt controller and
//! tick, IPIs), `timer` (generic timer clock and tick), `power` (PSCI), `serial` (PL011),
//! `rtc` (PL031 real-time clock), `percpu` (per-CPU blocks behind TPIDR_EL1, `cpu_id`),
//! `smp` (starting the secondary CPUs), `hardening` (in-kernel checks of PAN, PXN/UXN and
//! SPSR sanitizing, for `boottest`). This file keeps the per-CPU control-register set-up
//! every CPU runs ([`init_cpu_controls`]) and the interrupt-mask primitives.
//!
//! Nothing here is visible to generic code except the names `arch/mod.rs` re-exports.

mod boot;
mod context;
mod dtb;
mod gic;
mod hardening;
mod mmu;
mod percpu;
mod power;
mod rtc;
mod serial;
mod smp;
mod timer;
mod trap;
mod uaccess;

use core::sync::atomic::{AtomicBool, Ordering};

pub use boot::boot_stack;
pub use context::{switch, Context, FpuState};
pub use gic::fixed_lines as irq_line_numbers;
pub use gic::unmask_spi as irq_unmask_line;
pub use hardening::CHECKS as HARDENING_CHECKS;
pub use mmu::kernel_root;
pub use mmu::{activate as activate_page_table, current_root, flush_all as flush_tlb_all};
pub use mmu::{flush_page as flush_tlb_page, PteFormat};
pub use power::{halt_forever, power_off};
pub use rtc::rtc_epoch_seconds;
pub use serial::{serial_read, serial_write};
pub use timer::uptime_ns;
pub use trap::{
    enter_signal_handler, enter_user, resume_signal_frame, set_kernel_stack, TrapFrame,
};
pub use uaccess::copy as user_copy;

pub const NAME: &str = "aarch64";

/// The PCIe host bridge from the device tree.
pub fn pci_host() -> Option<wayos_kcore::pci::HostBridge> {
    dtb::platform().and_then(|p| p.pci)
}

/// Routes GIC SPI `line` (a PCI INTx line from the host bridge's `interrupt-map`) to
/// `handler` on the boot CPU. The GIC has no polarity setting for SPIs: an active-low
/// line is refused.
pub fn irq_enable_line(
    line: u32,
    trigger: wayos_kcore::pci::Trigger,
    handler: fn(),
) -> Result<(), &'static str> {
    if trigger.active_low {
        return Err("the GIC cannot take an active-low line");
    }
    gic::enable_device_spi(line, trigger.level, handler)
}

/// No message-signalled interrupts: the GICv3 ITS (or GICv2m) is not driven, so PCI
/// devices use their INTx line.
pub fn msi_alloc(_handler: fn()) -> Option<(u32, wayos_kcore::pci::MsiMessage)> {
    None
}

/// True once [`init_late`] turned PAN on (the CPU implements it).
static PAN: AtomicBool = AtomicBool::new(false);

/// Whether PSTATE.PAN should be set in the kernel: exception entry sets it once
/// [`init_late`] cleared SCTLR_EL1.SPAN.
fn pan_enabled() -> bool {
    PAN.load(Ordering::Relaxed)
}

/// PSTATE.PAN now (false on CPUs without PAN, whose register does not exist).
fn pan_active() -> bool {
    if !pan_enabled() {
        return false;
    }
    let v: u64;
    // SAFETY: reads the PAN register, which exists (PAN was enabled).
    unsafe { core::arch::asm!("mrs {}, S3_0_C4_C2_3", out(reg) v, options(nomem, nostack)) };
    v & PSTATE_PAN != 0
}

/// SCTLR_EL1 bits set by [`init_late`]: EL0 may read CTR_EL0 (UCT), use DC ZVA (DZE) and
/// cache maintenance to the point of unification (UCI), and run WFI/WFE without trapping
/// (nTWI, nTWE) — what user runtimes (memset, JITs, spin loops) expect.
const SCTLR_EL0_ALLOW: u64 = (1 << 14) | (1 << 15) | (1 << 16) | (1 << 18) | (1 << 26);
/// SCTLR_EL1.SPAN: when clear, taking an exception to EL1 sets PSTATE.PAN.
const SCTLR_SPAN: u64 = 1 << 23;
/// The PAN bit as the PAN system register (S3_0_C4_C2_3) holds it.
const PSTATE_PAN: u64 = 1 << 22;
/// CNTKCTL_EL1.EL0VCTEN: EL0 may read the virtual counter (CNTVCT_EL0, CNTFRQ_EL0).
const CNTKCTL_EL0VCTEN: u64 = 1 << 1;

/// The vector extension the AI math kernels use, if this CPU has it: Advanced SIMD
/// (NEON; ID_AA64PFR0_EL1.AdvSIMD is 0xf when it is absent). FP/SIMD is on at EL1 from
/// boot, and the trap path saves q0-q31 for traps from EL1 too.
pub fn simd_math() -> Option<&'static str> {
    use aarch64_cpu::registers::{Readable, ID_AA64PFR0_EL1};
    let adv_simd = (ID_AA64PFR0_EL1.get() >> 20) & 0xf;
    (adv_simd != 0xf).then_some("neon")
}

/// Set-up that needs the heap and the kernel's page tables: user-access controls (PAN,
/// EL0 counter and cache-maintenance access), TTBR0 walks for user address spaces, the
/// GIC and the scheduler tick at `tick_hz`, and the UART's receive interrupt routed to
/// this (boot) CPU (interrupts stay masked; the caller unmasks).
/// FP/SIMD was enabled at EL1 and EL0 by the boot code (CPACR_EL1.FPEN) and stays on.
/// Boot CPU only; secondaries run their part in `smp.rs`.
pub fn init_late(tick_hz: u32) {
    use aarch64_cpu::registers::{Readable, ID_AA64MMFR1_EL1};
    let pan = (ID_AA64MMFR1_EL1.get() >> 20) & 0xf != 0;
    PAN.store(pan, Ordering::Relaxed);
    init_cpu_controls();
    log::info!(
        "cpu: PAN {}, FP/SIMD on, EL0 reads the virtual counter",
        if pan { "on" } else { "not implemented" }
    );
    mmu::init_late();
    gic::init(tick_hz);
    init_serial_irq();
}

/// Interrupt-driven serial input: the device tree's PL011 interrupt through the GIC to the
/// boot CPU, then the UART's receive interrupts on. Without one (logged) input stays
/// polled by the boot CPU's tick, which also polls as a fallback when it is on.
fn init_serial_irq() {
    let Some(platform) = dtb::platform() else {
        return;
    };
    let (Some(phys), Some(spi)) = (platform.uart, platform.uart_irq) else {
        log::info!("serial: no usable UART interrupt; input is polled by the tick");
        return;
    };
    if !serial::is_at(phys) {
        log::warn!("serial: the console is not the PL011 at {phys:#x}; input is polled");
        return;
    }
    if gic::enable_uart_irq(spi) {
        serial::enable_rx_interrupt();
    }
}

/// This CPU's EL0/PAN controls ([`SCTLR_EL0_ALLOW`], PAN as [`init_late`] decided for the
/// boot CPU, CNTKCTL_EL1.EL0VCTEN): run by every CPU, the boot CPU first.
fn init_cpu_controls() {
    let pan = pan_enabled();
    let mut sctlr: u64;
    // SAFETY: reads a system register.
    unsafe { core::arch::asm!("mrs {}, sctlr_el1", out(reg) sctlr, options(nomem, nostack)) };
    sctlr |= SCTLR_EL0_ALLOW;
    if pan {
        sctlr &= !SCTLR_SPAN;
    }
    // SAFETY: the bits changed only grant EL0 harmless instructions and make exception
    // entry set PAN; PAN itself blocks privileged access to EL0-accessible memory, which the
    // kernel touches only with LDTR/STTR (uaccess.rs), unaffected by PAN.
    unsafe {
        core::arch::asm!("msr sctlr_el1, {}", "isb", in(reg) sctlr, options(nostack));
        if pan {
            core::arch::asm!("msr S3_0_C4_C2_3, {}", "isb", in(reg) PSTATE_PAN, options(nostack));
        }
        let cntkctl: u64;
        core::arch::asm!("mrs {}, cntkctl_el1", out(reg) cntkctl, options(nomem, nostack));
        core::arch::asm!(
            "msr cntkctl_el1, {}",
            "isb",
            in(reg) cntkctl | CNTKCTL_EL0VCTEN,
            options(nostack)
        );
    }
}

/// True when IRQs are unmasked (PSTATE.I clear).
pub fn interrupts_enabled() -> bool {
    let daif: u64;
    // SAFETY: reads PSTATE.DAIF.
    unsafe {
        core::arch::asm!("mrs {}, daif", out(reg) daif, options(nomem, nostack, preserves_flags))
    };
    daif & (1 << 7) == 0
}

/// Unmasks IRQs. Not `nomem`: memory accesses must not move across it.
pub fn enable_interrupts() {
    // SAFETY: unmasking IRQs; the vectors are installed and handle them.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nostack, preserves_flags)) };
}

/// Masks IRQs. Not `nomem`: memory accesses must not move across it.
pub fn disable_interrupts() {
    // SAFETY: masking IRQs only affects this CPU.
    unsafe { core::arch::asm!("msr daifset, #2", options(nostack, preserves_flags)) };
}

/// Sleeps until an interrupt arrives, then unmasks IRQs so it is taken. WFI wakes on a
/// pending IRQ even while PSTATE.I masks it, so no wake-up is lost between deciding to
/// sleep (with IRQs masked) and sleeping.
pub fn wait_for_interrupt() {
    // SAFETY: WFI only waits; unmasking IRQs as in `enable_interrupts`.
    unsafe {
        core::arch::asm!(
            "dsb sy",
            "wfi",
            "msr daifclr, #2",
            options(nostack, preserves_flags)
        )
    };
}

/// The running CPU's dense index, from its per-CPU block (TPIDR_EL1); 0 before the block
/// is set up (only the boot CPU runs then).
pub fn cpu_id() -> usize {
    percpu::cpu_id()
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
/// The trap path saves and restores every general and FP/SIMD register, so nothing needs
/// declaring clobbered.
pub fn breakpoint() {
    // SAFETY: the EL1 synchronous handler returns from BRK to the next instruction with all
    // registers restored.
    unsafe { core::arch::asm!("brk #0xf000", options(nostack)) };
}

/// Starts the secondary CPUs (see `smp.rs`); returns how many CPUs are online.
pub fn start_cpus(max: usize, entry: fn() -> !) -> usize {
    smp::start_cpus(max, entry)
}

/// The MPIDR_EL1 affinity bits (Aff3..Aff0) of online CPU `cpu`.
pub fn cpu_hw_id(cpu: usize) -> u64 {
    percpu::of(cpu.min(wayos_abi::smp::MAX_CPUS - 1))
        .mpidr
        .load(Ordering::Relaxed)
}

/// Interrupts CPU `cpu` with the IPI SGI (`gic::IPI_INTID`); its handler calls
/// `crate::traps::ipi()`. Ignored for a CPU that is not online.
pub fn send_ipi(cpu: usize) {
    if cpu < wayos_abi::smp::MAX_CPUS && percpu::of(cpu).online.load(Ordering::Acquire) {
        gic::send_ipi(cpu);
    }
}

/// See the arch contract.
pub const TLB_FLUSH_IS_BROADCAST: bool = true;
