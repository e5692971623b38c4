//! The one place that picks the instruction set.
//!
//! Each arch module implements the same contract, re-exported here by name (never by glob)
//! so generic code sees exactly this list. The list is also pinned in code: the
//! `contract` block below names every item with the type it must have, so an arch that
//! lacks one, or gives it another signature, fails to compile (each build checks the arch
//! it selects, so building both targets checks both).
//!
//! Boot and console
//! - `NAME`: the architecture's name for banners.
//! - `serial_write(bytes)`: polled output on the boot serial port, callable from any
//!   context including the panic path; callers serialize.
//! - `serial_read()`: a received byte if one is waiting, never blocking (polled from the
//!   timer tick).
//! - `cpu_id() -> usize`: the running CPU's dense index (0 = boot CPU, then secondaries in
//!   the order `start_cpus` brought them up), read from the per-CPU block (x86_64: GS base;
//!   aarch64: TPIDR_EL1). Valid in every kernel context once the arch boot code ran.
//! - `uptime_ns()`: monotonic nanoseconds since boot.
//! - `rtc_epoch_seconds() -> Option<u64>`: the real-time clock now, in seconds since
//!   1970-01-01 UTC (x86_64: CMOS; aarch64: PL031), `None` (logged) when there is none or
//!   it reads garbage. Callable once `mm::init` has run (it may map MMIO); `time` reads it
//!   at boot.
//! - `frame_pointer()`: the caller's frame pointer, for backtraces.
//! - `breakpoint()`: raise a software breakpoint trap that the trap handler returns from.
//! - `halt_forever()`: stop this CPU with interrupts off.
//! - `power_off(success)`: end the machine, giving QEMU a pass/fail verdict when it can.
//! - `init_late(tick_hz)`: after the heap exists: CPU features (FP/SIMD, SMEP/SMAP or
//!   PAN), the syscall entry, the interrupt controller and the periodic scheduler tick,
//!   which calls `crate::traps::timer_tick()`.
//!
//! Multiprocessor
//! - `start_cpus(max, entry: fn() -> !) -> usize`: on the boot CPU, after `init_late`:
//!   starts the other CPUs the firmware lists (MADT / device tree), at most `max` CPUs in
//!   all. Each one gets its own boot stack and per-CPU state (x86_64: GDT, TSS, GS block,
//!   SYSCALL MSRs, CR0/CR4/XCR0, LAPIC and its timer; aarch64: VBAR, TPIDR_EL1, SCTLR/PAN,
//!   GIC redistributor and CPU interface, timer) and then calls `entry` with interrupts
//!   masked on that stack. Returns, once every started CPU reached `entry` (or gave up,
//!   logged), how many CPUs are online, the boot CPU included.
//! - `cpu_hw_id(cpu) -> u64`: the hardware id of an online CPU (APIC id / MPIDR affinity).
//! - `send_ipi(cpu)`: interrupts CPU `cpu` (any online index, from any context). Its
//!   handler acknowledges the interrupt and calls `crate::traps::ipi()`, interrupts off.
//! - `TLB_FLUSH_IS_BROADCAST`: true when `flush_tlb_page`/`flush_tlb_all` reach every CPU
//!   by themselves (aarch64 `TLBI ...IS`); false when they flush this CPU only (x86_64),
//!   so generic code sends shootdown IPIs.
//! - Every CPU's periodic timer calls `crate::traps::timer_tick()`; device interrupts
//!   (x86_64: COM1 through the I/O APIC) go to the boot CPU, and the serial receive
//!   interrupt calls `crate::traps::serial_irq()`.
//!
//! Interrupts
//! - `interrupts_enabled()`, `enable_interrupts()`, `disable_interrupts()`,
//!   `wait_for_interrupt()` (enable and sleep atomically). Code that needs interrupts off
//!   for a while and then as they were takes an [`IrqGuard`] (defined here, once, on
//!   these primitives) rather than pairing them by hand.
//!
//! Devices
//! - `pci_host() -> Option<HostBridge>`: the PCI host bridge the firmware describes
//!   (`wayos_kcore::pci`), read once at boot. x86_64: the ACPI MCFG's segment 0 window;
//!   the firmware assigned BARs; no INTx map (it is AML `_PRT`, not read). aarch64: the
//!   device tree's `pci-host-ecam-generic` node: ECAM `reg`, `bus-range`, the memory
//!   windows of `ranges` (BARs are the kernel's to assign) and the decoded
//!   `interrupt-map`.
//! - `irq_enable_line(line, Trigger, handler: fn()) -> Result<(), &str>`: routes
//!   interrupt line `line` (x86_64: I/O APIC GSI; aarch64: GIC SPI INTID) to the boot
//!   CPU, unmasked, to run `handler` in interrupt context (interrupts off, after the EOI,
//!   which the arch code does) each time it fires. A level-triggered line is masked
//!   before the handler runs and stays masked until `irq_unmask_line(line)`, so a driver
//!   may quieten its device later, in thread context. One handler per line.
//! - `irq_unmask_line(line)`: any context.
//! - `irq_line_numbers() -> [u32; 3]`: the lines (x86_64: IDT vectors; aarch64: GIC
//!   INTIDs) of the timer, the serial receive interrupt and the kernel IPI, for the
//!   interrupt counts `stats` reports (`u32::MAX`-like values where there is none).
//! - `msi_alloc(handler) -> Option<(u32, MsiMessage)>`: a message-signalled interrupt
//!   for `handler` on the boot CPU: its line number and the address/data a device writes
//!   (x86_64: a LAPIC vector, edge; aarch64: `None`, the GIC's ITS is not driven).
//!
//! Threads
//! - `Context` (`Default`, `new(stack_top, entry, arg)`) and `switch(&mut from, &to)`.
//! - `FpuState` (`new() -> Option`, `save`, `restore`, `duplicate`): FP/SIMD registers.
//! - `set_kernel_stack(top)`: the stack traps from user mode enter on.
//!
//! User mode
//! - `TrapFrame`: saved user registers with `new_user(pc, sp, [a0..a3])`, `came_from_user`,
//!   `syscall_number`, `syscall_args`, `set_syscall_return`; `Clone`.
//! - `enter_user(*const TrapFrame) -> !`: start user mode from a frame at the top of the
//!   current kernel stack.
//! - `user_copy(dst, src, len) -> bool`: copy where one side is user memory (already range
//!   checked); false when a fault could not be resolved. Only `crate::umem` calls it (its
//!   checked `UserRange`s are the contract). Trap code routes page faults to
//!   `crate::mm::fault::handle_page_fault`, other user faults (and unresolved page faults)
//!   to `crate::task::signal::user_fault`, syscalls to `crate::syscall::dispatch`, and
//!   calls `crate::task::user_return(frame)` before every return to user mode.
//! - `enter_signal_handler(frame, handler, sig, restorer) -> bool`: make `frame` call
//!   `handler(sig)` on the user stack below the interrupted one, returning to `restorer`;
//!   false (frame untouched) if the user stack cannot take the return address.
//! - `resume_signal_frame(frame, saved)`: make `frame` resume `saved` exactly, every
//!   register included (the `sigreturn` path).
//!
//! Memory
//! - `PteFormat`: the page-table entry encoding for `wayos_kcore::paging`.
//! - `current_root() -> PhysAddr`, `activate_page_table(root: PhysAddr)`: the user
//!   page-table root.
//! - `kernel_root() -> PhysAddr`: the table holding the kernel half (x86_64: shared into
//!   every root; aarch64: TTBR1), where MMIO mappings go.
//! - `flush_tlb_page(va: VirtAddr)`, `flush_tlb_all()`: this CPU's TLB (or every CPU's,
//!   see `TLB_FLUSH_IS_BROADCAST`); generic code reaches them only through `mm::tlb`,
//!   which consumes the `Flush` tokens page-table changes return.
//!
//! AI math
//! - `simd_math() -> Option<&'static str>`: the name of the vector extension the AI math
//!   kernels may use on this CPU (x86_64: AVX2+FMA with YMM state enabled in XCR0;
//!   aarch64: Advanced SIMD), `None` for the scalar path. Read after `init_late`.
//!
//! Hardening
//! - `HARDENING_CHECKS: &[(&str, fn() -> Result<(), &str>)]`: in-kernel checks of the
//!   arch's protection model (x86_64: SMEP/SMAP/WP/NXE, AC and NT hygiene; aarch64: PAN,
//!   PXN/UXN, SPSR sanitizing), run by `boottest`.
//!
//! Boot entry lives in each arch's `boot` module; it builds the `BootInfo` and calls
//! `crate::kernel_main`.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "aarch64")]
use self::aarch64 as imp;
#[cfg(target_arch = "x86_64")]
use self::x86_64 as imp;

pub use imp::rtc_epoch_seconds;
pub use imp::{
    activate_page_table, breakpoint, cpu_hw_id, cpu_id, current_root, disable_interrupts,
    enable_interrupts, enter_signal_handler, enter_user, flush_tlb_all, flush_tlb_page,
    frame_pointer, halt_forever, init_late, interrupts_enabled, kernel_root, power_off,
    resume_signal_frame, send_ipi, serial_read, serial_write, set_kernel_stack, simd_math,
    start_cpus, switch, uptime_ns, user_copy, wait_for_interrupt, Context, FpuState, PteFormat,
    TrapFrame, HARDENING_CHECKS, NAME, TLB_FLUSH_IS_BROADCAST,
};
pub use imp::{
    boot_stack, irq_enable_line, irq_line_numbers, irq_unmask_line, msi_alloc, pci_host,
};

/// The contract above as types: one line per item, checked against the selected arch at
/// compile time. Changing a signature means changing it here, in both arches and in the
/// prose above, together. Nothing here runs.
#[allow(clippy::type_complexity)]
mod contract {
    use wayos_kcore::paging::{PhysAddr, VirtAddr};
    use wayos_kcore::pci::{HostBridge, MsiMessage, Trigger};

    use super::imp;
    use super::imp::{Context, FpuState, TrapFrame};

    /// Compiles only for types with the contract's trait bounds.
    const fn is_thread_context<T: Default>() {}
    const fn is_trap_frame<T: Clone>() {}
    const fn is_pte_format<T: wayos_kcore::paging::PteFormat>() {}

    // Boot and console.
    const _: &str = imp::NAME;
    const _: fn(&[u8]) = imp::serial_write;
    const _: fn() -> Option<u8> = imp::serial_read;
    const _: fn() -> usize = imp::cpu_id;
    const _: fn() -> u64 = imp::uptime_ns;
    const _: fn() -> Option<u64> = imp::rtc_epoch_seconds;
    const _: fn() -> usize = imp::frame_pointer;
    const _: fn() = imp::breakpoint;
    const _: fn() -> ! = imp::halt_forever;
    const _: fn(bool) -> ! = imp::power_off;
    const _: fn(u32) = imp::init_late;
    const _: fn() -> (usize, usize) = imp::boot_stack;

    // Multiprocessor.
    const _: fn(usize, fn() -> !) -> usize = imp::start_cpus;
    const _: fn(usize) -> u64 = imp::cpu_hw_id;
    const _: fn(usize) = imp::send_ipi;
    const _: bool = imp::TLB_FLUSH_IS_BROADCAST;

    // Interrupts.
    const _: fn() -> bool = imp::interrupts_enabled;
    const _: fn() = imp::enable_interrupts;
    const _: fn() = imp::disable_interrupts;
    const _: fn() = imp::wait_for_interrupt;

    // Devices.
    const _: fn() -> Option<HostBridge> = imp::pci_host;
    const _: fn(u32, Trigger, fn()) -> Result<(), &'static str> = imp::irq_enable_line;
    const _: fn(u32) = imp::irq_unmask_line;
    const _: fn() -> [u32; 3] = imp::irq_line_numbers;
    const _: fn(fn()) -> Option<(u32, MsiMessage)> = imp::msi_alloc;

    // Threads.
    const _: () = is_thread_context::<Context>();
    const _: fn(usize, extern "C" fn(usize) -> !, usize) -> Context = Context::new;
    const _: unsafe fn(&mut Context, &Context) = imp::switch;
    const _: fn() -> Option<FpuState> = FpuState::new;
    const _: fn(&mut FpuState) = FpuState::save;
    const _: fn(&FpuState) = FpuState::restore;
    const _: fn(&FpuState) -> Option<FpuState> = FpuState::duplicate;
    const _: fn(usize) = imp::set_kernel_stack;

    // User mode.
    const _: () = is_trap_frame::<TrapFrame>();
    const _: fn(usize, usize, [usize; 4]) -> TrapFrame = TrapFrame::new_user;
    const _: fn(&TrapFrame) -> bool = TrapFrame::came_from_user;
    const _: fn(&TrapFrame) -> usize = TrapFrame::syscall_number;
    const _: fn(&TrapFrame) -> [usize; 6] = TrapFrame::syscall_args;
    const _: fn(&mut TrapFrame, usize) = TrapFrame::set_syscall_return;
    const _: unsafe fn(*const TrapFrame) -> ! = imp::enter_user;
    const _: unsafe fn(*mut u8, *const u8, usize) -> bool = imp::user_copy;
    const _: fn(&mut TrapFrame, usize, usize, usize) -> bool = imp::enter_signal_handler;
    const _: fn(&mut TrapFrame, TrapFrame) = imp::resume_signal_frame;

    // AI math.
    const _: fn() -> Option<&'static str> = imp::simd_math;

    // Memory.
    const _: () = is_pte_format::<imp::PteFormat>();
    const _: fn() -> PhysAddr = imp::current_root;
    const _: &[(&str, fn() -> Result<(), &'static str>)] = imp::HARDENING_CHECKS;
    const _: unsafe fn(PhysAddr) = imp::activate_page_table;
    const _: fn() -> PhysAddr = imp::kernel_root;
    const _: fn(VirtAddr) = imp::flush_tlb_page;
    const _: fn() = imp::flush_tlb_all;
}

/// Interrupts off on this CPU until dropped; then enabled again if they were enabled when
/// the guard was made, else left off. Nesting works: an inner guard finds them off and
/// leaves them off.
///
/// The guard belongs to the thread that made it, which may be switched out and resume on
/// another CPU while holding it (`sched::schedule`, `block_current`, the IPC waits). That
/// is what the saved state means: the scheduler switches only with interrupts off and
/// every thread resumes with them off, so "interrupts were on" is a property of the
/// thread, and restoring it on the CPU the thread resumes on is exactly what the
/// hand-written save/disable/restore did. What must not happen is handing the guard to
/// another thread, which would restore the first thread's state in the second: the guard
/// is neither `Send` nor `Sync`.
#[must_use = "interrupts are re-enabled as soon as the guard is dropped"]
pub struct IrqGuard {
    were_enabled: bool,
    /// Not `Send`/`Sync`: see the type's documentation.
    _thread_bound: core::marker::PhantomData<*const ()>,
}

impl IrqGuard {
    /// Disables interrupts on this CPU, remembering whether they were enabled.
    #[allow(clippy::new_without_default)] // A `Default` that masks interrupts would hide it.
    #[inline]
    pub fn new() -> Self {
        let were_enabled = imp::interrupts_enabled();
        imp::disable_interrupts();
        IrqGuard {
            were_enabled,
            _thread_bound: core::marker::PhantomData,
        }
    }
}

impl Drop for IrqGuard {
    #[inline]
    fn drop(&mut self) {
        if self.were_enabled {
            imp::enable_interrupts();
        }
    }
}
