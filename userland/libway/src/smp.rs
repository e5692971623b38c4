//! CPUs: which one the caller runs on, affinity masks, and the kernel's per-CPU counters
//! (`wayos_abi::sys::SCHED_GETCPU`, `SCHED_SETAFFINITY`, `SCHED_GETAFFINITY`,
//! `SMP_INFO`; the record is `wayos_abi::smp::CpuInfo`).
//!
//! A mask has bit `i` set for CPU `i`; thread id 0 means the calling thread.

use alloc::vec::Vec;

use wayos_abi::smp::{CpuInfo, MAX_CPUS};
use wayos_abi::sys;

use crate::errno::Errno;
use crate::sys::MemFree;

/// `sched_getcpu()`: the index of the CPU the caller runs on (it may move at any time
/// unless pinned).
pub fn sched_getcpu() -> Result<usize, Errno> {
    crate::sys::call0(MemFree::SCHED_GETCPU)
}

/// `sched_setaffinity(tid, mask)`: thread `tid` (0: the caller) may run only on the CPUs
/// in `mask`, and moves at once if it is elsewhere.
pub fn sched_setaffinity(tid: usize, mask: u64) -> Result<(), Errno> {
    crate::sys::call2(MemFree::SCHED_SETAFFINITY, tid, mask as usize).map(drop)
}

/// `sched_getaffinity(tid)`: thread `tid`'s (0: the caller's) CPU mask.
pub fn sched_getaffinity(tid: usize) -> Result<u64, Errno> {
    crate::sys::call1(MemFree::SCHED_GETAFFINITY, tid).map(|m| m as u64)
}

/// The mask naming only CPU `cpu` (0 for an index a mask cannot hold).
pub const fn cpu_mask(cpu: usize) -> u64 {
    if cpu < 64 {
        1 << cpu
    } else {
        0
    }
}

/// Pins the calling thread to CPU `cpu`; on return it runs there.
pub fn pin_to(cpu: usize) -> Result<(), Errno> {
    sched_setaffinity(0, cpu_mask(cpu))
}

/// `smp_info(buf, buf.len())`: fills `buf` with up to `buf.len()` CPU records and returns
/// how many CPUs are online (which may be more than it filled).
pub fn smp_info_into(buf: &mut [CpuInfo]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` records into `buf`, borrowed mutably
    // for the call; `CpuInfo` is plain data, any bytes are a valid value.
    unsafe {
        crate::sys::call(
            sys::SMP_INFO,
            [crate::sys::arg_out_slice(buf), buf.len(), 0, 0, 0, 0],
        )
    }
}

/// Every online CPU's record, in index order.
pub fn smp_info() -> Result<Vec<CpuInfo>, Errno> {
    let mut buf = alloc::vec![CpuInfo::default(); MAX_CPUS];
    let online = smp_info_into(&mut buf)?;
    buf.truncate(online.min(MAX_CPUS));
    Ok(buf)
}

/// How many CPUs are online.
pub fn cpu_count() -> Result<usize, Errno> {
    let mut buf = [CpuInfo::default(); MAX_CPUS];
    smp_info_into(&mut buf)
}

/// The mask of every online CPU.
pub fn online_mask() -> Result<u64, Errno> {
    let n = cpu_count()?;
    Ok(if n >= 64 { u64::MAX } else { (1u64 << n) - 1 })
}
