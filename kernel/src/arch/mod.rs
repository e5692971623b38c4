//! The one place that picks the instruction set.
//!
//! Each arch module implements the same contract, re-exported here by name (never by glob)
//! so generic code sees exactly this list:
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
//!   `wait_for_interrupt()` (enable and sleep atomically).
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
//! - `current_root()`, `activate_page_table(root)`: the user page-table root.
//! - `kernel_root()`: the table holding the kernel half (x86_64: shared into every root;
//!   aarch64: TTBR1), where MMIO mappings go.
//! - `flush_tlb_page(va)`, `flush_tlb_all()`.
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
    resume_signal_frame, send_ipi, serial_read, serial_write, set_kernel_stack, start_cpus, switch,
    uptime_ns, user_copy, wait_for_interrupt, Context, FpuState, PteFormat, TrapFrame, NAME,
    TLB_FLUSH_IS_BROADCAST,
};
