//! Memory tiers (`docs/memory.md`, "Placement"): where a mapping's pages go, the caller's
//! default policy, what each tier holds, and the settings `memtier_set` changes.
//!
//! Policies are `memtier::POLICY_*`. A mapping can name one at `mmap` time
//! ([`map_with_policy`]) or later ([`advise`]); mappings that name none follow the
//! process default ([`set_policy`]), which fork and spawn pass on.

use alloc::vec::Vec;

use wayos_abi::memtier::{
    DaemonInfo, ProcPlacement, TierInfo, INFO_DAEMON, INFO_PROCS, INFO_TIERS, POLICY_QUERY,
};
use wayos_abi::mman::{map_policy, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE};
use wayos_abi::sys;
use wayos_abi::zerocopy::FromZeros;

use crate::errno::Errno;
use crate::sys::{info_one, info_records, InfoCall};

/// A new anonymous read-write mapping whose pages follow tier policy `policy`.
pub fn map_with_policy(len: usize, shared: bool, policy: u32) -> Result<usize, Errno> {
    let kind = if shared { MAP_SHARED } else { MAP_PRIVATE };
    crate::mem::mmap(
        0,
        len,
        PROT_READ | PROT_WRITE,
        kind | MAP_ANONYMOUS | map_policy(policy),
    )
}

/// `mem_advise(addr, len, policy)`: the mapped, page-aligned range takes `policy`.
pub fn advise(addr: usize, len: usize, policy: u32) -> Result<(), Errno> {
    // SAFETY: no pointer is passed; the kernel only changes the range's placement,
    // never its contents or protection.
    unsafe { crate::sys::call(sys::MEM_ADVISE, [addr, len, policy as usize, 0, 0, 0]) }.map(drop)
}

/// `mem_policy(policy) -> old`: sets the caller's default policy.
pub fn set_policy(policy: u32) -> Result<u32, Errno> {
    // SAFETY: no pointer is passed.
    unsafe { crate::sys::call(sys::MEM_POLICY, [policy as usize, 0, 0, 0, 0, 0]) }
        .map(|old| old as u32)
}

/// The caller's default policy.
pub fn policy() -> Result<u32, Errno> {
    set_policy(POLICY_QUERY)
}

/// `memtier_set(param, value) -> old` (`memtier::SET_*`); `EPERM` without the `memtier`
/// capability.
pub fn set(param: u32, value: u32) -> Result<u32, Errno> {
    // SAFETY: no pointer is passed.
    unsafe {
        crate::sys::call(
            sys::MEMTIER_SET,
            [param as usize, value as usize, 0, 0, 0, 0],
        )
    }
    .map(|old| old as u32)
}

/// Every record of kind `what`, growing the buffer until all fit.
fn records<T: wayos_abi::Plain>(what: u32) -> Result<Vec<T>, Errno> {
    info_records(InfoCall::MemtierInfo, what, 8)
}

/// One [`TierInfo`] per tier with memory, near first.
pub fn tiers() -> Result<Vec<TierInfo>, Errno> {
    records(INFO_TIERS)
}

/// One [`ProcPlacement`] per process with resident user pages, lowest pid first.
pub fn procs() -> Result<Vec<ProcPlacement>, Errno> {
    records(INFO_PROCS)
}

/// The placement of process `pid` (all zero when it has no resident page).
pub fn placement_of(pid: u64) -> Result<ProcPlacement, Errno> {
    Ok(procs()?
        .into_iter()
        .find(|p| p.pid == pid)
        .unwrap_or(ProcPlacement {
            pid,
            ..ProcPlacement::new_zeroed()
        }))
}

/// The migration daemon's record.
pub fn daemon() -> Result<DaemonInfo, Errno> {
    info_one(InfoCall::MemtierInfo, INFO_DAEMON)
}
