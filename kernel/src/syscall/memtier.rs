//! Memory-tier syscalls: `mem_advise`, `mem_policy`, `memtier_info`, `memtier_set`
//! (`docs/memory.md`, "Placement"). Arguments are checked here, once; placement itself is
//! `mm::placement` and the address space's VMA policies. Records for `memtier_info` are
//! gathered into kernel memory first (each process's space lock held only for its own
//! walk) and copied out with no lock held.
#![deny(unsafe_code)]

use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use wayos_abi::memtier::{
    DaemonInfo, ProcPlacement, TierInfo, INFO_DAEMON, INFO_PROCS, INFO_TIERS, POLICY_QUERY,
    SET_BUDGET_PAGES, SET_DEFAULT_POLICY, SET_ENABLED, SET_PERIOD_MS,
};
use wayos_abi::mman::PAGE_SIZE;
use wayos_kcore::placement::{valid_mapping_policy, valid_system_policy};

use crate::error::{Errno, KResult};
use crate::mm::placement;
use crate::task::{self, process};
use crate::umem::{UserArray, UserPtr, WriteOnly};

/// A policy argument as a `u32` (`EINVAL` if it does not fit).
fn policy_arg(v: usize) -> KResult<u32> {
    u32::try_from(v).map_err(|_| Errno::EINVAL)
}

/// `mem_advise(addr, len, policy)`: see `wayos_abi::sys::MEM_ADVISE`.
pub fn sys_mem_advise(addr: usize, len: usize, policy: usize) -> KResult<usize> {
    let policy = policy_arg(policy)?;
    if !valid_mapping_policy(policy) || !addr.is_multiple_of(PAGE_SIZE) || len == 0 {
        return Err(Errno::EINVAL);
    }
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    p.with_space(|s| s.set_policy(addr, len, policy)).map(|_| 0)
}

/// `mem_policy(policy) -> old`: the caller's default policy; `POLICY_QUERY` only reads.
/// `POLICY_DEFAULT` hands the choice back to the system default.
pub fn sys_mem_policy(policy: usize) -> KResult<usize> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let old = p.mem_policy.load(Ordering::Relaxed);
    if policy == POLICY_QUERY as usize {
        return Ok(old as usize);
    }
    let policy = policy_arg(policy)?;
    if !valid_mapping_policy(policy) {
        return Err(Errno::EINVAL);
    }
    Ok(p.mem_policy.swap(policy, Ordering::Relaxed) as usize)
}

/// Most processes `INFO_PROCS` reports (as `ai_info` bounds its usage list).
const MAX_PROCS: usize = 1024;

/// `memtier_info(what, buf, len) -> records in all`: as many whole records as fit.
pub fn sys_memtier_info(what: usize, buf: usize, len: usize) -> KResult<usize> {
    let what = u32::try_from(what).map_err(|_| Errno::EINVAL)?;
    match what {
        INFO_TIERS => {
            let mut tiers = [TierInfo::default(); 2];
            let n = placement::tier_infos(&mut tiers);
            let room = (len / core::mem::size_of::<TierInfo>()).min(n);
            let out = UserArray::<TierInfo, WriteOnly>::new(buf, room)?;
            for (i, t) in tiers.iter().take(room).enumerate() {
                out.get(i)?.write(t)?;
            }
            Ok(n)
        }
        INFO_PROCS => {
            let room = len / core::mem::size_of::<ProcPlacement>();
            let all = process::all()?;
            let mut recs = Vec::new();
            recs.try_reserve_exact(all.len().min(MAX_PROCS))
                .map_err(|_| Errno::ENOMEM)?;
            for p in all.iter().take(MAX_PROCS) {
                // A process that exited has no space; one whose lock this thread holds
                // cannot be the caller (no lock is held here).
                let counts = p.space.lock().as_ref().map(|s| s.placement_counts());
                let Some([near, far]) = counts else { continue };
                if near == 0 && far == 0 {
                    continue;
                }
                recs.push(ProcPlacement {
                    pid: p.pid,
                    near_pages: near,
                    far_pages: far,
                    policy: p.mem_policy.load(Ordering::Relaxed),
                    _pad: 0,
                });
            }
            drop(all);
            let out = UserArray::<ProcPlacement, WriteOnly>::new(buf, room.min(recs.len()))?;
            for (i, r) in recs.iter().take(out.len()).enumerate() {
                out.get(i)?.write(r)?;
            }
            Ok(recs.len())
        }
        INFO_DAEMON => {
            if len >= core::mem::size_of::<DaemonInfo>() {
                UserPtr::<DaemonInfo, WriteOnly>::new(buf)?.write(&placement::daemon_info())?;
            }
            Ok(1)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// `memtier_set(param, value) -> old`: the capability is checked at the gate
/// (`gate::required_cap`); a value out of range is `EINVAL` and changes nothing.
pub fn sys_memtier_set(param: usize, value: usize) -> KResult<usize> {
    let param = u32::try_from(param).map_err(|_| Errno::EINVAL)?;
    let value = u32::try_from(value).map_err(|_| Errno::EINVAL)?;
    match param {
        SET_ENABLED | SET_PERIOD_MS | SET_BUDGET_PAGES => {
            crate::mm::migrate::set(param, u64::from(value)).map(|old| old as usize)
        }
        SET_DEFAULT_POLICY => {
            if !valid_system_policy(value) {
                return Err(Errno::EINVAL);
            }
            placement::set_system_default(value)
                .map(|old| old as usize)
                .ok_or(Errno::EINVAL)
        }
        _ => Err(Errno::EINVAL),
    }
}
