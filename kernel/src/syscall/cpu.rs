//! CPU placement syscalls: `sched_getcpu`, `sched_setaffinity`, `sched_getaffinity` and
//! `smp_info`.
//!
//! Owns argument checking for these calls; the work is in `task::sched` (affinity) and
//! `smp` (per-CPU figures).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use wayos_abi::smp::{CpuInfo, CPU_BUSY, CPU_IDLE, MAX_CPUS};

use crate::arch;
use crate::error::{Errno, KResult};
use crate::task::sched;
use crate::task::thread::Thread;
use crate::umem::{UserArray, WriteOnly};

pub fn sys_sched_getcpu() -> KResult<usize> {
    Ok(arch::cpu_id())
}

/// Thread `tid` of the calling process (0: the caller).
fn thread_of_caller(tid: usize) -> KResult<Arc<Thread>> {
    let me = sched::current();
    if tid == 0 || tid as u64 == me.tid {
        return Ok(me);
    }
    let p = me.process.as_ref().ok_or(Errno::ESRCH)?;
    p.threads()
        .into_iter()
        .find(|t| t.tid == tid as u64)
        .ok_or(Errno::ESRCH)
}

fn online_mask() -> u64 {
    let n = crate::smp::online().min(MAX_CPUS);
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

pub fn sys_sched_setaffinity(tid: usize, mask: usize) -> KResult<usize> {
    let t = thread_of_caller(tid)?;
    let mask = mask as u64 & online_mask();
    if mask == 0 || !sched::set_affinity(&t, mask) {
        return Err(Errno::EINVAL);
    }
    // Moving oneself: switch now, so the caller is on an allowed CPU when this returns.
    if Arc::ptr_eq(&t, &sched::current()) && mask & (1 << arch::cpu_id()) == 0 {
        drop(t);
        sched::schedule();
    }
    Ok(0)
}

pub fn sys_sched_getaffinity(tid: usize) -> KResult<usize> {
    let t = thread_of_caller(tid)?;
    Ok((t.affinity.load(Ordering::Relaxed) & online_mask()) as usize)
}

pub fn sys_smp_info(buf: usize, count: usize) -> KResult<usize> {
    let n = crate::smp::online().min(MAX_CPUS);
    // Only the entries filled must lie in the window: `count` may be larger.
    let take = count.min(n);
    let buf = UserArray::<CpuInfo, WriteOnly>::new(buf, take)?;
    let mut out = Vec::new();
    out.try_reserve_exact(take).map_err(|_| Errno::ENOMEM)?;
    for cpu in 0..take {
        let s = sched::cpu_sched(cpu);
        let st = crate::smp::stats(cpu);
        out.push(CpuInfo {
            id: cpu as u32,
            state: if s.busy { CPU_BUSY } else { CPU_IDLE },
            hw_id: arch::cpu_hw_id(cpu),
            ticks: st.ticks.load(Ordering::Relaxed),
            busy_ticks: st.busy_ticks.load(Ordering::Relaxed),
            switches: s.switches,
            ipis: st.ipis.load(Ordering::Relaxed),
            shootdowns: crate::mm::tlb::served(cpu),
            migrations: s.migrations,
            ready: s.ready as u64,
            current_tid: s.current_tid,
        });
    }
    buf.write_from(&out)?;
    Ok(n)
}
