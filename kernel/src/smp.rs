//! Bringing up the other CPUs and the per-CPU counters `smp_info` reports.
//!
//! Owns: the set of online CPUs, the generic entry every secondary CPU runs after its arch
//! set-up, and per-CPU statistics. Must never touch hardware directly: starting CPUs and
//! sending IPIs go through the arch contract (`arch::start_cpus`, `arch::send_ipi`).

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use wayos_abi::smp::MAX_CPUS;

use crate::arch;

/// CPUs online, the boot CPU included; grows while `start` runs, then stays.
static ONLINE: AtomicUsize = AtomicUsize::new(1);

/// Per-CPU statistics, indexed by `arch::cpu_id()`.
pub struct CpuStats {
    pub ticks: AtomicU64,
    pub busy_ticks: AtomicU64,
    pub ipis: AtomicU64,
}

impl CpuStats {
    const fn new() -> Self {
        Self {
            ticks: AtomicU64::new(0),
            busy_ticks: AtomicU64::new(0),
            ipis: AtomicU64::new(0),
        }
    }
}

static STATS: [CpuStats; MAX_CPUS] = [const { CpuStats::new() }; MAX_CPUS];

/// The running CPU's statistics.
pub fn stats(cpu: usize) -> &'static CpuStats {
    &STATS[cpu.min(MAX_CPUS - 1)]
}

/// How many CPUs are online.
pub fn online() -> usize {
    ONLINE.load(Ordering::Acquire)
}

/// Starts the secondary CPUs (boot CPU, after the scheduler exists on it).
pub fn start() {
    let n = arch::start_cpus(MAX_CPUS, secondary_entry);
    ONLINE.store(n.clamp(1, MAX_CPUS), Ordering::Release);
    log::info!("smp: {} CPU{} online", n, if n == 1 { "" } else { "s" });
}

/// Where every secondary CPU lands after its arch set-up (interrupts masked, on its own
/// boot stack).
fn secondary_entry() -> ! {
    crate::task::sched::init_cpu();
    log::debug!("smp: cpu {} up", arch::cpu_id());
    crate::task::sched::idle_loop()
}
