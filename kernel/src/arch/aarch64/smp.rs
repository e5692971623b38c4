//! Starting the secondary CPUs: PSCI CPU_ON for each CPU the device tree lists, and each
//! secondary's way from the firmware to the generic `entry`.
//!
//! Owns the secondary CPUs' boot stacks (in `.bss`, inside the kernel image, so backtraces
//! can walk them), the boot slots through which the boot CPU and a starting CPU agree on
//! its dense index, and the MMU parameters a secondary loads with its MMU off.
//!
//! The path of one secondary:
//! 1. `start_cpus` (boot CPU) picks the next dense index and a fresh boot slot (stack,
//!    state `WAITING`), cleans the MMU parameters to the point of coherency and calls
//!    PSCI CPU_ON with entry = physical address of `secondary_start`, context id = slot.
//! 2. `secondary_start` (assembly, physical addresses, MMU off, EL2 or EL1): from EL2,
//!    `el2_drop_to_el1` (boot.rs, shared with the boot CPU) comes back at `secondary_el1`.
//!    There it masks DAIF, selects SP_EL1, turns FP/SIMD on (CPACR), loads MAIR/TCR/TTBR1
//!    as the boot CPU has them and TTBR0 = a small identity map of this code
//!    (`mmu::secondary_identity_root`), turns the MMU on, and jumps to its link address.
//! 3. `secondary_high` loads TTBR0 with the empty user root, switches to the slot's stack,
//!    installs the vector table and calls [`secondary_main`].
//! 4. `secondary_main` claims the slot (`WAITING` → `ARRIVED`), points TPIDR_EL1 at its
//!    per-CPU block, applies the EL0/PAN controls (`init_cpu_controls`), sets up its GIC
//!    side (redistributor or banked registers, CPU interface, timer PPI and IPI), starts its
//!    timer, and then (`ARRIVED` → `ONLINE`) calls `entry` with IRQs masked.
//!
//! The boot CPU waits up to a second for each step (arrival, then set-up). If one times
//! out it marks the slot `ABANDONED`; a CPU that shows up later finds that and halts before
//! using the index, so the next CPU can take the same dense index with a new slot.

use core::arch::global_asm;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use spin::Once;
use wayos_abi::smp::MAX_CPUS;
use wayos_kcore::paging::PhysAddr;

use super::{boot, dtb, gic, mmu, percpu, power, timer};

/// Bytes of each secondary CPU's boot stack (the boot CPU has the same).
const STACK_SIZE: usize = 128 * 1024;
/// Boot slots: one per CPU_ON attempt, never reused.
const SLOTS: usize = MAX_CPUS - 1;
/// How long each step of a secondary's start may take.
const TIMEOUT_NS: u64 = 1_000_000_000;

/// Slot states.
const WAITING: u32 = 0;
const ARRIVED: u32 = 1;
const ONLINE: u32 = 2;
const ABANDONED: u32 = 3;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

/// The secondaries' boot stacks, one per slot.
static mut STACKS: [Stack; SLOTS] = [const { Stack([0; STACK_SIZE]) }; SLOTS];

/// Top of each slot's stack (read by `secondary_high`).
static STACK_TOPS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
/// Each slot's state (see the module docs).
static STATES: [AtomicU32; SLOTS] = [const { AtomicU32::new(WAITING) }; SLOTS];
/// The dense CPU index each slot's CPU takes.
static INDICES: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

/// What a secondary loads before its MMU is on, read with the MMU off (so non-cacheable:
/// the boot CPU cleans it to the point of coherency). Offsets are used by the assembly.
#[repr(C, align(64))]
struct MmuParams {
    mair: AtomicU64,
    tcr: AtomicU64,
    /// The identity map of `secondary_start`.
    ttbr0_identity: AtomicU64,
    ttbr1: AtomicU64,
    /// The empty user root, loaded once running at the link address.
    ttbr0_empty: AtomicU64,
}

static MMU_PARAMS: MmuParams = MmuParams {
    mair: AtomicU64::new(0),
    tcr: AtomicU64::new(0),
    ttbr0_identity: AtomicU64::new(0),
    ttbr1: AtomicU64::new(0),
    ttbr0_empty: AtomicU64::new(0),
};

/// The generic entry every secondary calls.
static ENTRY: Once<fn() -> !> = Once::new();
/// CPUs online, the boot CPU included.
static ONLINE_COUNT: AtomicUsize = AtomicUsize::new(1);

global_asm!(
    r#"
.section .text.smp_entry, "ax"
.global secondary_start
.type secondary_start, %function
/* PSCI CPU_ON lands here: physical address, MMU off, EL2 or EL1, x0 = boot slot. */
secondary_start:
    mov     x19, x0
    cmp     x19, #{slots}
    b.hs    secondary_dead
    mrs     x1, CurrentEL
    ubfx    x1, x1, #2, #2
    cmp     x1, #2
    b.ne    1f
    adr     x9, secondary_el1
    b       el2_drop_to_el1
1:  cmp     x1, #1
    b.ne    secondary_dead

secondary_el1:
    msr     daifset, #0xf
    msr     spsel, #1
    ldr     x0, ={sctlr_off}
    msr     sctlr_el1, x0
    ldr     x0, ={cpacr_fpen}
    msr     cpacr_el1, x0
    msr     tpidr_el1, xzr
    isb
    /* The boot CPU's translation regime, with TTBR0 = the identity map of this code. */
    adrp    x1, {params}
    add     x1, x1, :lo12:{params}
    ldp     x2, x3, [x1, #0]
    ldp     x4, x5, [x1, #16]
    msr     mair_el1, x2
    msr     tcr_el1, x3
    msr     ttbr0_el1, x4
    msr     ttbr1_el1, x5
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    ldr     x0, ={sctlr_on}
    msr     sctlr_el1, x0
    isb
    ic      iallu
    dsb     nsh
    isb
    /* Through the identity map: jump to the link address. */
    ldr     x0, =secondary_high
    br      x0
secondary_dead:
    wfe
    b       secondary_dead
    .balign 8
    .ltorg
.global secondary_start_end
secondary_start_end:
.size secondary_start, . - secondary_start

.section .text.smp_high, "ax"
.type secondary_high, %function
secondary_high:
    /* Drop the identity map: TTBR0 = the empty user root. */
    ldr     x1, ={params}
    ldr     x4, [x1, #32]
    msr     ttbr0_el1, x4
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    ldr     x1, ={stack_tops}
    ldr     x0, [x1, x19, lsl #3]
    mov     sp, x0
    ldr     x0, =exception_vectors
    msr     vbar_el1, x0
    isb
    /* End of the frame chain for backtraces. */
    mov     x29, xzr
    mov     x30, xzr
    mov     x0, x19
    bl      {main}
2:  wfe
    b       2b
    .balign 8
    .ltorg
.size secondary_high, . - secondary_high
"#,
    slots = const SLOTS,
    sctlr_off = const boot::SCTLR_EL1_MMU_OFF,
    sctlr_on = const boot::SCTLR_EL1_MMU_ON,
    cpacr_fpen = const boot::CPACR_EL1_FPEN,
    params = sym MMU_PARAMS,
    stack_tops = sym STACK_TOPS,
    main = sym secondary_main,
);

extern "C" {
    fn secondary_start();
    static secondary_start_end: u8;
}

/// How many CPUs are online, the boot CPU included.
pub fn online() -> usize {
    ONLINE_COUNT.load(Ordering::Acquire)
}

/// Cleans `len` bytes at `addr` from the data cache to the point of coherency, so code
/// running with its MMU off (non-cacheable accesses) sees them.
fn clean_to_poc(addr: usize, len: usize) {
    let ctr: u64;
    // SAFETY: reads CTR_EL0 (cache geometry).
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    // CTR_EL0.DminLine: log2 of the smallest data cache line, in words.
    let line = 4usize << ((ctr >> 16) & 0xf);
    let mut p = addr & !(line - 1);
    while p < addr + len {
        // SAFETY: cache maintenance on memory the kernel maps; it changes no contents.
        unsafe { core::arch::asm!("dc cvac, {}", in(reg) p, options(nostack, preserves_flags)) };
        p += line;
    }
    // SAFETY: a barrier only.
    unsafe { core::arch::asm!("dsb sy", options(nostack, preserves_flags)) };
}

/// Fills [`MMU_PARAMS`] from the boot CPU's registers; false (logged) if no identity map
/// can be made for the secondary entry code.
fn prepare_mmu_params() -> bool {
    let start = boot::image_virt_to_phys(secondary_start as *const () as usize);
    let end = boot::image_virt_to_phys(core::ptr::addr_of!(secondary_start_end) as usize);
    let Some(identity) = mmu::secondary_identity_root(PhysAddr::new(start), PhysAddr::new(end))
    else {
        log::error!("smp: cannot identity-map the secondary entry at {start:#x}");
        return false;
    };
    let (mair, tcr, ttbr1): (u64, u64, u64);
    // SAFETY: reads system registers.
    unsafe {
        core::arch::asm!(
            "mrs {m}, mair_el1",
            "mrs {t}, tcr_el1",
            "mrs {b}, ttbr1_el1",
            m = out(reg) mair,
            t = out(reg) tcr,
            b = out(reg) ttbr1,
            options(nomem, nostack, preserves_flags)
        )
    };
    MMU_PARAMS.mair.store(mair, Ordering::Relaxed);
    MMU_PARAMS.tcr.store(tcr, Ordering::Relaxed);
    MMU_PARAMS
        .ttbr0_identity
        .store(identity.as_u64(), Ordering::Relaxed);
    MMU_PARAMS.ttbr1.store(ttbr1, Ordering::Relaxed);
    MMU_PARAMS
        .ttbr0_empty
        .store(mmu::empty_user_root().as_u64(), Ordering::Relaxed);
    clean_to_poc(
        core::ptr::addr_of!(MMU_PARAMS) as usize,
        size_of::<MmuParams>(),
    );
    true
}

/// Starts the CPUs the device tree lists (at most `max` in all, the boot CPU included) and
/// returns how many are online. See the module docs.
pub fn start_cpus(max: usize, entry: fn() -> !) -> usize {
    let max = max.clamp(1, MAX_CPUS);
    let boot_mpidr = percpu::read_mpidr();
    let Some(platform) = dtb::platform() else {
        return online();
    };
    let listed = platform.cpus.iter().flatten().count();
    let mut others = platform
        .cpus
        .iter()
        .flatten()
        .filter(|c| c.mpidr != boot_mpidr)
        .peekable();
    if max == 1 || others.peek().is_none() {
        log::info!("smp: {listed} CPU(s) in the device tree, limit {max}: no secondary to start");
        return online();
    }
    if !platform.psci.is_some_and(|p| p.system_off) {
        log::warn!("smp: no PSCI 0.2+ in the device tree; secondary CPUs stay off");
        return online();
    }
    ENTRY.call_once(|| entry);
    if !prepare_mmu_params() {
        return online();
    }
    let entry_phys = boot::image_virt_to_phys(secondary_start as *const () as usize);
    let mut slot = 0;
    for cpu in others {
        let index = online();
        if index == max {
            break;
        }
        if !cpu.psci {
            log::warn!(
                "smp: CPU with MPIDR {:#x} is not started by PSCI; left off",
                cpu.mpidr
            );
            continue;
        }
        if slot == SLOTS {
            log::warn!("smp: out of boot slots; remaining CPUs left off");
            break;
        }
        percpu::of(index).mpidr.store(cpu.mpidr, Ordering::Relaxed);
        // SAFETY: only the address of the slot's stack is taken; the stack is used by
        // nothing but the CPU started with this slot.
        let stack = unsafe { core::ptr::addr_of_mut!(STACKS[slot]) } as usize;
        STACK_TOPS[slot].store(stack + STACK_SIZE, Ordering::Relaxed);
        INDICES[slot].store(index, Ordering::Relaxed);
        STATES[slot].store(WAITING, Ordering::Release);
        // The slot is never used again, whatever happens now.
        let this_slot = slot;
        slot += 1;
        if let Err(e) = power::cpu_on(cpu.mpidr, entry_phys, this_slot as u64) {
            log::error!(
                "smp: PSCI CPU_ON for MPIDR {:#x} failed: {} ({e})",
                cpu.mpidr,
                power::psci_error_name(e)
            );
            STATES[this_slot].store(ABANDONED, Ordering::Release);
            continue;
        }
        if wait_online(this_slot, cpu.mpidr) {
            // The CPU sets this too, but IPIs may be sent to it as soon as it is counted.
            percpu::of(index).online.store(true, Ordering::Release);
            ONLINE_COUNT.store(index + 1, Ordering::Release);
            log::debug!("smp: cpu {index} (MPIDR {:#x}) online", cpu.mpidr);
        }
    }
    online()
}

/// Waits for the CPU started with `slot` to arrive, then to finish its set-up, a second
/// each; on a timeout marks the slot abandoned (logged) and returns false.
fn wait_online(slot: usize, mpidr: u64) -> bool {
    let state = &STATES[slot];
    let mut deadline = timer::uptime_ns() + TIMEOUT_NS;
    let mut arrived = false;
    loop {
        match state.load(Ordering::Acquire) {
            ONLINE => return true,
            ARRIVED if !arrived => {
                arrived = true;
                deadline = timer::uptime_ns() + TIMEOUT_NS;
            }
            _ => {}
        }
        if timer::uptime_ns() > deadline {
            let seen = if arrived { ARRIVED } else { WAITING };
            if state
                .compare_exchange(seen, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                log::error!(
                    "smp: CPU with MPIDR {mpidr:#x} {} within 1 s; giving up on it",
                    if arrived {
                        "did not finish its set-up"
                    } else {
                        "did not reach the kernel"
                    }
                );
                return false;
            }
        }
        core::hint::spin_loop();
    }
}

/// The first Rust code on a secondary CPU: on its boot stack, MMU on, vectors installed,
/// all of DAIF masked.
extern "C" fn secondary_main(slot: usize) -> ! {
    let state = &STATES[slot];
    if state
        .compare_exchange(WAITING, ARRIVED, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // Abandoned: the index went to another CPU.
        power::halt_forever();
    }
    let index = INDICES[slot].load(Ordering::Relaxed);
    percpu::install(index);
    super::init_cpu_controls();
    if let Err(e) = gic::init_cpu() {
        log::error!("smp: cpu {index}: {e}; halting it");
        power::halt_forever();
    }
    timer::start_tick_here();
    if state
        .compare_exchange(ARRIVED, ONLINE, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        power::halt_forever();
    }
    percpu::this().online.store(true, Ordering::Release);
    let Some(entry) = ENTRY.get() else {
        power::halt_forever();
    };
    entry()
}
