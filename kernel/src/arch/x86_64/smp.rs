//! Secondary CPU start-up (INIT-SIPI-SIPI through `trampoline`), the CPU index ↔ APIC id
//! table, and inter-processor interrupts.
//!
//! The boot CPU starts the processors the MADT lists one at a time: it allocates each
//! one's boot stack, double-fault stack and per-CPU tables (`gdt::CpuBlock`), writes the
//! trampoline, sends INIT, waits 10 ms, sends a start-up IPI, waits 200 µs, sends the
//! second one, then waits up to 1 s for the CPU to check in from [`secondary_main`]. A CPU
//! that does not is given up on (logged; it halts should it arrive late) and no further
//! CPU is started, so the trampoline page is never rewritten under a CPU still using it.

use alloc::alloc::{alloc_zeroed, Layout};
use alloc::boxed::Box;
use core::sync::atomic::{fence, AtomicU32, AtomicU8, Ordering};

use wayos_abi::smp::MAX_CPUS;
use x86_64::registers::control::{Cr4, Cr4Flags};

use super::gdt::{self, CpuBlock};
use super::trampoline::{self, Launch};
use super::trap::VEC_IPI;
use super::{acpi, cpu, lapic, mmu, syscall, trap, tsc};

const BOOT_STACK_SIZE: usize = 64 * 1024;
const INIT_DELAY_NS: u64 = 10_000_000;
const SIPI_DELAY_NS: u64 = 200_000;
const CHECK_IN_TIMEOUT_NS: u64 = 1_000_000_000;

/// APIC id of each CPU index; `NO_CPU` where no CPU was started.
const NO_CPU: u32 = u32::MAX;
static APIC_IDS: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(NO_CPU) }; MAX_CPUS];

const WAITING: u8 = 0;
const ARRIVED: u8 = 1;
const ABANDONED: u8 = 2;

/// CR4 bits a secondary CPU copies from the boot CPU (those the firmware or the kernel may
/// have set that are safe to set in long mode before `cpu::init`).
fn inherited_cr4() -> Cr4Flags {
    Cr4::read()
        & (Cr4Flags::TIMESTAMP_DISABLE
            | Cr4Flags::DEBUGGING_EXTENSIONS
            | Cr4Flags::MACHINE_CHECK_EXCEPTION
            | Cr4Flags::PAGE_GLOBAL
            | Cr4Flags::PERFORMANCE_MONITOR_COUNTER
            | Cr4Flags::OSFXSR
            | Cr4Flags::OSXMMEXCPT_ENABLE
            | Cr4Flags::USER_MODE_INSTRUCTION_PREVENTION
            | Cr4Flags::FSGSBASE
            | Cr4Flags::OSXSAVE
            | Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION
            | Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION
            | Cr4Flags::PROTECTION_KEY_USER)
}

/// What the boot CPU hands one secondary CPU (leaked: the CPU may touch it any time).
pub struct ApBoot {
    cpu: usize,
    apic_id: u32,
    block: *mut CpuBlock,
    cr4: Cr4Flags,
    entry: fn() -> !,
    state: AtomicU8,
}

/// The running CPU's dense index, from its per-CPU block (gs:[24]).
#[inline]
pub fn cpu_id() -> usize {
    let id: usize;
    // SAFETY: every CPU points its GS base at its own `gdt::PerCpu` before its first Rust
    // code that could get here runs (`gdt::init_boot_gs`, `CpuBlock::install`), and trap
    // entries from user mode swap the kernel GS base back in.
    unsafe {
        core::arch::asm!(
            "mov {}, gs:[{off}]",
            out(reg) id,
            off = const gdt::PERCPU_CPU_OFFSET,
            options(nostack, preserves_flags, readonly)
        )
    };
    id
}

/// The APIC id of CPU `cpu` (`u32::MAX` as `u64` if there is no such CPU).
pub fn cpu_hw_id(cpu: usize) -> u64 {
    APIC_IDS
        .get(cpu)
        .map_or(u64::from(NO_CPU), |a| u64::from(a.load(Ordering::Acquire)))
}

/// Sends the kernel's IPI to CPU `cpu` (the running one included).
pub fn send_ipi(cpu: usize) {
    let id = cpu_hw_id(cpu);
    if id == u64::from(NO_CPU) {
        log::warn!("smp: IPI to CPU {cpu}, which is not online");
        return;
    }
    lapic::send_fixed(id as u32, VEC_IPI as u8);
}

fn delay_ns(ns: u64) {
    let start = tsc::uptime_ns();
    while tsc::uptime_ns() - start < ns {
        core::hint::spin_loop();
    }
}

/// A leaked, zeroed stack of `size` bytes; its top, or `None` when the heap is exhausted.
fn alloc_stack(size: usize) -> Option<usize> {
    let layout = Layout::from_size_align(size, 16).ok()?;
    // SAFETY: the layout has a non-zero size.
    let base = unsafe { alloc_zeroed(layout) };
    (!base.is_null()).then(|| base as usize + size)
}

/// Starts the processors the MADT lists, at most `max` CPUs in all; see the module docs.
pub fn start_cpus(max: usize, entry: fn() -> !) -> usize {
    let bsp_id = lapic::id();
    APIC_IDS[0].store(bsp_id, Ordering::Release);
    let max = max.min(MAX_CPUS);
    let Some(platform) = acpi::platform() else {
        log::info!("smp: no usable MADT; running on the boot CPU only");
        return 1;
    };
    let ids = platform.cpu_apic_ids();
    if !ids.contains(&bsp_id) {
        log::warn!("smp: the boot CPU's APIC id {bsp_id} is not in the MADT");
    }
    let others = ids.iter().filter(|&&id| id != bsp_id).count();
    if others == 0 || max <= 1 {
        return 1;
    }
    if trampoline::low_base().is_none() {
        log::warn!("smp: no free memory below 1 MiB for the start-up trampoline; one CPU");
        return 1;
    }
    if Cr4::read().contains(Cr4Flags::L5_PAGING) {
        log::warn!("smp: 5-level paging is not supported by the trampoline; one CPU");
        return 1;
    }
    let cr4 = inherited_cr4();
    let mut online = 1;
    for &id in ids.iter().filter(|&&id| id != bsp_id) {
        if online == max {
            log::info!("smp: limit of {max} CPUs reached; {} listed", ids.len());
            break;
        }
        match start_one(online, id, cr4, entry) {
            Ok(()) => {
                log::info!("smp: cpu {online} (APIC id {id}) online");
                online += 1;
            }
            Err(why) => {
                log::warn!("smp: cpu {online} (APIC id {id}): {why}; starting no more CPUs");
                APIC_IDS[online].store(NO_CPU, Ordering::Release);
                break;
            }
        }
    }
    online
}

fn start_one(
    cpu: usize,
    apic_id: u32,
    cr4: Cr4Flags,
    entry: fn() -> !,
) -> Result<(), &'static str> {
    let stack_top = alloc_stack(BOOT_STACK_SIZE).ok_or("no memory for a boot stack")?;
    let df_top = alloc_stack(gdt::IST_STACK_SIZE).ok_or("no memory for a fault stack")?;
    let block: *mut CpuBlock = CpuBlock::new(cpu, df_top);
    let boot: &'static ApBoot = Box::leak(Box::new(ApBoot {
        cpu,
        apic_id,
        block,
        cr4,
        entry,
        state: AtomicU8::new(WAITING),
    }));
    // Known before the CPU runs anything, so it can be sent IPIs as soon as it is online.
    APIC_IDS[cpu].store(apic_id, Ordering::Release);
    let page = trampoline::prepare(&Launch {
        stack_top: stack_top as u64,
        arg: boot as *const ApBoot as u64,
        kernel_root: mmu::kernel_root(),
    })
    .ok_or("no trampoline page")?;
    // The trampoline and the boot record must be in memory before the CPU wakes.
    fence(Ordering::SeqCst);
    if !lapic::send_init(apic_id) {
        return Err("INIT not delivered");
    }
    delay_ns(INIT_DELAY_NS);
    for _ in 0..2 {
        if !lapic::send_startup(apic_id, page) {
            return Err("start-up IPI not delivered");
        }
        delay_ns(SIPI_DELAY_NS);
        if boot.state.load(Ordering::Acquire) == ARRIVED {
            break;
        }
    }
    let start = tsc::uptime_ns();
    while tsc::uptime_ns() - start < CHECK_IN_TIMEOUT_NS {
        if boot.state.load(Ordering::Acquire) == ARRIVED {
            return Ok(());
        }
        core::hint::spin_loop();
    }
    match boot
        .state
        .compare_exchange(WAITING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
    {
        Ok(_) => Err("did not check in within 1 s"),
        Err(_) => Ok(()), // it arrived just now
    }
}

/// A secondary CPU's first Rust code, on its boot stack with the kernel page table loaded
/// and interrupts masked (entered from `trampoline::ap_entry64`).
pub extern "C" fn secondary_main(boot: *const ApBoot) -> ! {
    // SAFETY: `boot` is the leaked record the boot CPU passed through the trampoline.
    let boot = unsafe { &*boot };
    // SAFETY: the block was allocated for this CPU alone and leaked; nothing else uses it.
    unsafe { (*boot.block).install() };
    trap::init();
    // SAFETY: the inherited bits are features the CPU has (the boot CPU runs with them)
    // and that long mode permits changing; the kernel does not depend on them being off.
    unsafe { Cr4::update(|f| f.insert(boot.cr4)) };
    cpu::init();
    syscall::init();
    lapic::init_secondary();
    let id = lapic::id();
    if id != boot.apic_id {
        log::warn!(
            "smp: cpu {} reports APIC id {id}, the MADT said {}",
            boot.cpu,
            boot.apic_id
        );
    }
    if boot
        .state
        .compare_exchange(WAITING, ARRIVED, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // The boot CPU gave up on this one and may reuse its index: stay out of the way.
        super::halt_forever();
    }
    (boot.entry)()
}
