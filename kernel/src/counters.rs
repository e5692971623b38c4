//! The kernel's event counters that `stats` reports (`docs/devices.md`, "Diagnostics"):
//! syscalls by number, page faults, IPC messages, and interrupts per named source.
//!
//! Owns only counting. Every counter is a relaxed atomic bumped on the event's own path,
//! per CPU where the path is hot (a syscall costs one `lock add` on a cache line no other
//! CPU writes), so counting never takes a lock, never allocates and works from interrupt
//! context. Readers sum the CPUs; a sum read while events happen is a moment's snapshot,
//! which is all a statistic promises. Must never make a decision from a count.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use wayos_abi::smp::MAX_CPUS;
use wayos_abi::stats::IrqStat;
use wayos_abi::sys;

/// One CPU's counters, alone in their cache lines.
#[repr(align(64))]
struct PerCpu {
    syscalls: [AtomicU64; sys::COUNT],
    page_faults: AtomicU64,
    page_faults_fatal: AtomicU64,
    ipc_messages: AtomicU64,
    /// The fixed interrupt sources ([`Fixed`]) and device interrupts, taken on this CPU.
    fixed_irqs: [AtomicU64; FIXED],
    device_irqs: AtomicU64,
}

impl PerCpu {
    const fn new() -> Self {
        Self {
            syscalls: [const { AtomicU64::new(0) }; sys::COUNT],
            page_faults: AtomicU64::new(0),
            page_faults_fatal: AtomicU64::new(0),
            ipc_messages: AtomicU64::new(0),
            fixed_irqs: [const { AtomicU64::new(0) }; FIXED],
            device_irqs: AtomicU64::new(0),
        }
    }
}

static CPUS: [PerCpu; MAX_CPUS] = [const { PerCpu::new() }; MAX_CPUS];

#[inline(always)]
fn here() -> &'static PerCpu {
    // `cpu_id` is below MAX_CPUS by construction (smp starts at most that many).
    &CPUS[crate::arch::cpu_id() % MAX_CPUS]
}

/// Counts syscall `num` (any value: numbers past the table are not counted) on `cpu`,
/// the running CPU (the dispatcher reads it once for this and the scheduler's note).
#[inline(always)]
pub fn syscall(cpu: usize, num: usize) {
    if let Some(c) = CPUS[cpu % MAX_CPUS].syscalls.get(num) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Calls of `num` made so far, all CPUs.
pub fn syscalls(num: usize) -> u64 {
    CPUS.iter()
        .map(|c| c.syscalls.get(num).map_or(0, |a| a.load(Ordering::Relaxed)))
        .sum()
}

pub fn syscalls_total() -> u64 {
    (0..sys::COUNT).map(syscalls).sum()
}

/// A user page fault was handled; `fatal` when it ended in a signal.
pub fn page_fault(fatal: bool) {
    let c = here();
    c.page_faults.fetch_add(1, Ordering::Relaxed);
    if fatal {
        c.page_faults_fatal.fetch_add(1, Ordering::Relaxed);
    }
}

pub fn page_faults() -> (u64, u64) {
    CPUS.iter().fold((0, 0), |(a, b), c| {
        (
            a + c.page_faults.load(Ordering::Relaxed),
            b + c.page_faults_fatal.load(Ordering::Relaxed),
        )
    })
}

/// A message was queued to (or handed straight to a receiver of) a port or reply port.
#[inline(always)]
pub fn ipc_message() {
    here().ipc_messages.fetch_add(1, Ordering::Relaxed);
}

pub fn ipc_messages() -> u64 {
    CPUS.iter()
        .map(|c| c.ipc_messages.load(Ordering::Relaxed))
        .sum()
}

/// The interrupt sources every machine has, each with its own counter.
#[derive(Clone, Copy)]
pub enum Fixed {
    Timer = 0,
    Serial = 1,
    Ipi = 2,
}

const FIXED: usize = 3;
const FIXED_NAMES: [&str; FIXED] = ["timer", "serial", "ipi"];

/// Counts an interrupt of a fixed source on this CPU.
#[inline(always)]
pub fn fixed_irq(src: Fixed) {
    here().fixed_irqs[src as usize].fetch_add(1, Ordering::Relaxed);
}

/// A device interrupt line: its number, name and count. Slots are claimed once (by the
/// line's first [`name_irq`] or interrupt) and never given back, like the lines.
struct DevLine {
    /// The line, [`FREE`] while unclaimed.
    line: AtomicU32,
    count: AtomicU64,
    /// The name, NUL-padded, as two words (set once, read without a lock).
    name: [AtomicU64; 2],
}

const FREE: u32 = u32::MAX;
/// Device interrupt lines counted one by one; more share the last slot's count.
const DEV_LINES: usize = 24;

static DEV: [DevLine; DEV_LINES] = [const {
    DevLine {
        line: AtomicU32::new(FREE),
        count: AtomicU64::new(0),
        name: [AtomicU64::new(0), AtomicU64::new(0)],
    }
}; DEV_LINES];

/// The slot of `line`, claiming a free one if it has none; `None` when all are taken.
fn dev_slot(line: u32) -> Option<&'static DevLine> {
    // Plain loads first: an interrupt finds its slot without writing any other line.
    if let Some(d) = DEV.iter().find(|d| d.line.load(Ordering::Acquire) == line) {
        return Some(d);
    }
    for d in &DEV {
        match d
            .line
            .compare_exchange(FREE, line, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return Some(d),
            Err(l) if l == line => return Some(d),
            Err(_) => {}
        }
    }
    None
}

/// Names device interrupt `line` (the driver bound to it), so `kstats` shows the name.
pub fn name_irq(line: u32, name: &[u8]) {
    let Some(d) = dev_slot(line) else { return };
    let mut bytes = [0u8; 16];
    let n = name.len().min(15);
    bytes[..n].copy_from_slice(&name[..n]);
    for (i, w) in d.name.iter().enumerate() {
        let word = u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        w.store(word, Ordering::Relaxed);
    }
}

/// Counts an interrupt of device `line` (interrupt context).
pub fn device_irq(line: u32) {
    here().device_irqs.fetch_add(1, Ordering::Relaxed);
    if let Some(d) = dev_slot(line) {
        d.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Interrupts taken on `cpu`, every source.
pub fn cpu_interrupts(cpu: usize) -> u64 {
    let c = &CPUS[cpu % MAX_CPUS];
    c.fixed_irqs
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .sum::<u64>()
        + c.device_irqs.load(Ordering::Relaxed)
}

pub fn interrupts_total() -> u64 {
    (0..MAX_CPUS).map(cpu_interrupts).sum()
}

fn name16(s: &str) -> [u8; 16] {
    let mut f = [0u8; 16];
    let n = s.len().min(15);
    f[..n].copy_from_slice(&s.as_bytes()[..n]);
    f
}

/// Every interrupt source with its count, fixed ones first, into `out`; returns how
/// many sources there are (more than `out` holds when it is short). Never allocates or
/// locks, so the magic-key dump can use it from interrupt context.
pub fn irq_stats(out: &mut [IrqStat]) -> usize {
    let lines = crate::arch::irq_line_numbers();
    let mut n = 0;
    let mut put = |s: IrqStat| {
        if let Some(slot) = out.get_mut(n) {
            *slot = s;
        }
        n += 1;
    };
    for (i, name) in FIXED_NAMES.iter().enumerate() {
        put(IrqStat {
            count: CPUS
                .iter()
                .map(|c| c.fixed_irqs[i].load(Ordering::Relaxed))
                .sum(),
            irq: lines[i],
            _pad: 0,
            name: name16(name),
        });
    }
    for d in &DEV {
        let line = d.line.load(Ordering::Acquire);
        if line == FREE {
            break;
        }
        let mut name = [0u8; 16];
        for (i, w) in d.name.iter().enumerate() {
            name[i * 8..i * 8 + 8].copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        if name[0] == 0 {
            name = name16("device");
        }
        put(IrqStat {
            count: d.count.load(Ordering::Relaxed),
            irq: line,
            _pad: 0,
            name,
        });
    }
    n
}

/// Most interrupt sources there can be.
pub const MAX_IRQ_SOURCES: usize = FIXED + DEV_LINES;
