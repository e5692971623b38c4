//! The kernel's statistics (`stats(what, buf, len)`, `docs/devices.md` "Diagnostics"):
//! one function per `wayos_abi::stats::KIND_*`, each returning every record. The source
//! of `kstats`, `diagdump`, `version`, `free`, `df` and `mount`'s listing.

use alloc::vec::Vec;

use wayos_abi::stats::{
    BlkStats, CpuStat, DisplayInfo, HandleStat, IrqStat, KStats, LockStat, MemStats, MountInfo,
    ProcStat, ThreadStat, Version, KIND_BLK, KIND_CPUS, KIND_DISPLAY, KIND_HANDLES, KIND_IRQS,
    KIND_KERNEL, KIND_LOCKS, KIND_MEM, KIND_MOUNTS, KIND_PROCS, KIND_SYSCALLS, KIND_THREADS,
    KIND_VERSION,
};
use wayos_abi::sys;

use crate::errno::Errno;
use crate::sys::{info_one, info_records, InfoCall};

fn records<T: wayos_abi::Plain>(what: u32, room: usize) -> Result<Vec<T>, Errno> {
    info_records(InfoCall::Stats, what, room)
}

/// System-wide counters since boot.
pub fn kernel() -> Result<KStats, Errno> {
    info_one(InfoCall::Stats, KIND_KERNEL)
}

/// Calls made of each syscall number since boot, indexed by number
/// (`wayos_abi::sys::name` names them).
pub fn syscalls() -> Result<Vec<u64>, Errno> {
    records(KIND_SYSCALLS, sys::COUNT)
}

/// Interrupts taken per source.
pub fn irqs() -> Result<Vec<IrqStat>, Errno> {
    records(KIND_IRQS, 16)
}

pub fn mem() -> Result<MemStats, Errno> {
    info_one(InfoCall::Stats, KIND_MEM)
}

pub fn version() -> Result<Version, Errno> {
    info_one(InfoCall::Stats, KIND_VERSION)
}

pub fn procs() -> Result<Vec<ProcStat>, Errno> {
    records(KIND_PROCS, 32)
}

pub fn threads() -> Result<Vec<ThreadStat>, Errno> {
    records(KIND_THREADS, 64)
}

pub fn handles() -> Result<Vec<HandleStat>, Errno> {
    records(KIND_HANDLES, 128)
}

pub fn locks() -> Result<Vec<LockStat>, Errno> {
    records(KIND_LOCKS, 8)
}

pub fn cpus() -> Result<Vec<CpuStat>, Errno> {
    records(KIND_CPUS, 4)
}

pub fn mounts() -> Result<Vec<MountInfo>, Errno> {
    records(KIND_MOUNTS, 8)
}

pub fn blk() -> Result<Vec<BlkStats>, Errno> {
    records(KIND_BLK, 4)
}

/// The screen (`ENODEV` without one).
pub fn display() -> Result<DisplayInfo, Errno> {
    info_one(InfoCall::Stats, KIND_DISPLAY)
}

/// The raw call into `buf`: whole records of kind `what` that fit, and the number of
/// records in all (for checks of the call itself).
pub fn raw(what: u32, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `stats` writes at most `buf.len()` bytes into `buf`, borrowed for the call;
    // any bytes are valid `u8`s.
    unsafe {
        crate::sys::call(
            sys::STATS,
            [what as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
        )
    }
}

/// The text of a NUL-padded name field (the one decoder, `process::field_str`).
pub use crate::process::field_str as text;
