//! Per-CPU blocks: one [`PerCpu`] per possible CPU in a static array, and TPIDR_EL1 on
//! each CPU pointing at its own.
//!
//! Owns the dense CPU index (`cpu_id`, 0 = boot CPU, then secondaries in the order
//! `smp::start_cpus` brought them up) and every piece of aarch64 state that differs between
//! CPUs: the hardware id (MPIDR affinity), the current kernel stack top
//! (`trap::set_kernel_stack`), the GICv3 redistributor, the GICv2 CPU-interface target bit.
//! Nothing else in `arch/aarch64` may keep such state in a plain global.
//!
//! TPIDR_EL1 is the EL1-only software thread register: user code cannot read or change it
//! and the trap path does not touch it, so it stays valid in every kernel context. Until
//! [`init_boot`] sets it on the boot CPU (first thing in Rust), it may hold 0 (or whatever
//! the loader left); [`this`] treats anything that is not one of the blocks as CPU 0, which
//! is right because only the boot CPU runs then.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use wayos_abi::smp::MAX_CPUS;

/// One CPU's private state. Fields other than `index` are atomics so a block can be filled
/// in by the boot CPU for a secondary, and read by any CPU (`cpu_hw_id`, `send_ipi`).
#[repr(C, align(64))]
pub struct PerCpu {
    /// The dense CPU index; constant.
    index: usize,
    /// MPIDR_EL1 affinity bits (Aff3..Aff0, other bits clear); set before the CPU starts.
    pub mpidr: AtomicU64,
    /// Top of this CPU's emergency stack, which the EL1 exception entry switches to when
    /// the running kernel stack overflowed into its guard (`trap.rs`).
    pub emergency_stack_top: AtomicUsize,
    /// Top of the kernel stack of the thread running here (0: none yet).
    pub kernel_stack_top: AtomicUsize,
    /// GICv3: virtual address of this CPU's redistributor (RD_base); 0 before `gic` set it.
    pub gicr: AtomicUsize,
    /// GICv2: this CPU's bit in GICD_ITARGETSR/GICD_SGIR target lists.
    pub gicv2_target: AtomicU32,
    /// Set once the CPU has finished its arch set-up and takes IPIs.
    pub online: AtomicBool,
}

static BLOCKS: [PerCpu; MAX_CPUS] = {
    let mut blocks = [const {
        PerCpu {
            index: 0,
            mpidr: AtomicU64::new(0),
            emergency_stack_top: AtomicUsize::new(0),
            kernel_stack_top: AtomicUsize::new(0),
            gicr: AtomicUsize::new(0),
            gicv2_target: AtomicU32::new(0),
            online: AtomicBool::new(false),
        }
    }; MAX_CPUS];
    let mut i = 0;
    while i < MAX_CPUS {
        blocks[i].index = i;
        i += 1;
    }
    blocks
};

/// MPIDR_EL1 bits that identify a CPU: Aff3 (39:32) and Aff2..Aff0 (23:0).
pub const MPIDR_AFFINITY: u64 = 0xff_00ff_ffff;

/// This CPU's MPIDR_EL1 affinity.
pub fn read_mpidr() -> u64 {
    use aarch64_cpu::registers::{Readable, MPIDR_EL1};
    MPIDR_EL1.get() & MPIDR_AFFINITY
}

/// Makes this (the boot) CPU's TPIDR_EL1 point at block 0 and records its MPIDR. Called
/// first thing in Rust, before anything can ask for `cpu_id`.
pub fn init_boot() {
    BLOCKS[0].mpidr.store(read_mpidr(), Ordering::Relaxed);
    BLOCKS[0].online.store(true, Ordering::Release);
    install(0);
}

/// Bytes of each CPU's emergency stack: enough to report a kernel stack overflow and
/// panic (formatting and a backtrace in a debug build).
const EMERGENCY_STACK_SIZE: usize = 16 * 1024;

/// The emergency stacks, one per CPU; only the exception entry's overflow path uses them.
#[repr(C, align(16))]
struct EmergencyStacks(core::cell::UnsafeCell<[[u8; EMERGENCY_STACK_SIZE]; MAX_CPUS]>);
// SAFETY: never accessed from Rust; each CPU's exception entry uses its own as a stack.
unsafe impl Sync for EmergencyStacks {}
static EMERGENCY_STACKS: EmergencyStacks = EmergencyStacks(core::cell::UnsafeCell::new(
    [[0; EMERGENCY_STACK_SIZE]; MAX_CPUS],
));

/// Points this CPU's TPIDR_EL1 at block `index` (< MAX_CPUS), with its emergency stack.
pub fn install(index: usize) {
    let stacks = EMERGENCY_STACKS.0.get() as usize;
    BLOCKS[index].emergency_stack_top.store(
        stacks + (index + 1) * EMERGENCY_STACK_SIZE,
        Ordering::Relaxed,
    );
    let block: *const PerCpu = &BLOCKS[index];
    // SAFETY: TPIDR_EL1 is a software register only this module interprets; the block is a
    // static that lives for the life of the kernel.
    unsafe {
        core::arch::asm!("msr tpidr_el1, {}", in(reg) block, options(nostack, preserves_flags))
    };
}

/// The running CPU's block.
#[inline]
pub fn this() -> &'static PerCpu {
    let raw: usize;
    // SAFETY: reads a system register.
    unsafe {
        core::arch::asm!("mrs {}, tpidr_el1", out(reg) raw, options(nomem, nostack, preserves_flags))
    };
    if raw == 0 {
        // Not set yet (early boot on the boot CPU: the entry code zeroes TPIDR_EL1).
        return &BLOCKS[0];
    }
    // SAFETY: a non-zero TPIDR_EL1 was written only by `install`, with the address of one
    // of the static `BLOCKS`.
    unsafe { &*(raw as *const PerCpu) }
}

/// The running CPU's dense index.
#[inline]
pub fn cpu_id() -> usize {
    this().index
}

/// CPU `cpu`'s block (`cpu` < MAX_CPUS).
pub fn of(cpu: usize) -> &'static PerCpu {
    &BLOCKS[cpu]
}
