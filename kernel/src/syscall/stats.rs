//! `stats(what, buf, len) -> records in all` (`wayos_abi::sys::STATS`, `docs/devices.md`
//! "Diagnostics"): checks the arguments, has `diag` build the records of kind `what` in
//! kernel memory (fallibly, bounded), then copies as many whole records as fit in `len`
//! bytes out with no lock held. Any process may call it; it reveals counts and names,
//! never contents.
#![deny(unsafe_code)]

use alloc::vec::Vec;

use wayos_abi::stats::{
    CpuStat, HandleStat, IrqStat, LockStat, ProcStat, ThreadStat, KIND_BLK, KIND_CPUS,
    KIND_DISPLAY, KIND_HANDLES, KIND_IRQS, KIND_KERNEL, KIND_LOCKS, KIND_MEM, KIND_MOUNTS,
    KIND_PROCS, KIND_SYSCALLS, KIND_THREADS, KIND_VERSION,
};
use wayos_abi::sys;

use crate::diag;
use crate::error::{Errno, KResult};
use crate::umem::{UserArray, WriteOnly};
use wayos_abi::Plain;

/// Most records of one kind a call gathers (processes, threads or handles): bounds the
/// kernel memory one call can make the kernel allocate. The total returned still counts
/// every record.
const MAX_RECORDS: usize = 8192;

/// Copies the first records of `recs` that fit in `len` bytes to `buf`; returns `total`.
fn copy_out<T: Plain>(recs: &[T], total: usize, buf: usize, len: usize) -> KResult<usize> {
    let room = (len / core::mem::size_of::<T>()).min(recs.len());
    let out = UserArray::<T, WriteOnly>::new(buf, room)?;
    out.write_from(&recs[..room])?;
    Ok(total)
}

/// One record.
fn copy_one<T: Plain>(rec: &T, buf: usize, len: usize) -> KResult<usize> {
    copy_out(core::slice::from_ref(rec), 1, buf, len)
}

/// A bounded list: pushes up to [`MAX_RECORDS`], counts all; `ENOMEM` if the room for
/// them cannot be had.
struct Records<T> {
    recs: Vec<T>,
    total: usize,
    failed: bool,
}

impl<T> Records<T> {
    fn new() -> Self {
        Self {
            recs: Vec::new(),
            total: 0,
            failed: false,
        }
    }

    fn push(&mut self, r: T) {
        self.total += 1;
        if self.recs.len() >= MAX_RECORDS {
            return;
        }
        if self.recs.try_reserve(1).is_err() {
            self.failed = true;
            return;
        }
        self.recs.push(r);
    }

    fn finish(self) -> KResult<(Vec<T>, usize)> {
        if self.failed {
            return Err(Errno::ENOMEM);
        }
        Ok((self.recs, self.total))
    }
}

pub fn sys_stats(what: usize, buf: usize, len: usize) -> KResult<usize> {
    let what = u32::try_from(what).map_err(|_| Errno::EINVAL)?;
    match what {
        KIND_KERNEL => copy_one(&diag::kstats(false), buf, len),
        KIND_SYSCALLS => {
            let mut counts = [0u64; sys::COUNT];
            for (n, c) in counts.iter_mut().enumerate() {
                *c = crate::counters::syscalls(n);
            }
            copy_out(&counts, sys::COUNT, buf, len)
        }
        KIND_IRQS => {
            let mut irqs = [IrqStat::default(); crate::counters::MAX_IRQ_SOURCES];
            let n = crate::counters::irq_stats(&mut irqs).min(irqs.len());
            copy_out(&irqs[..n], n, buf, len)
        }
        KIND_MEM => copy_one(&diag::mem(), buf, len),
        KIND_VERSION => copy_one(&diag::version(), buf, len),
        KIND_PROCS => {
            let mut r = Records::<ProcStat>::new();
            diag::each_process(false, |p| r.push(diag::proc_stat(p, false)));
            let (recs, total) = r.finish()?;
            copy_out(&recs, total, buf, len)
        }
        KIND_THREADS => {
            let mut r = Records::<ThreadStat>::new();
            diag::each_thread(false, |t| r.push(diag::thread_stat(t)));
            let (recs, total) = r.finish()?;
            copy_out(&recs, total, buf, len)
        }
        KIND_HANDLES => {
            let mut r = Records::<HandleStat>::new();
            diag::each_process(false, |p| {
                diag::each_handle(p, false, |h| r.push(h));
            });
            let (recs, total) = r.finish()?;
            copy_out(&recs, total, buf, len)
        }
        KIND_LOCKS => {
            let mut r = Records::<LockStat>::new();
            diag::lock_stats(&mut |l| r.push(l));
            let (recs, total) = r.finish()?;
            copy_out(&recs, total, buf, len)
        }
        KIND_CPUS => {
            let mut r = Records::<CpuStat>::new();
            for cpu in 0..crate::smp::online() {
                r.push(diag::cpu_stat(cpu, false));
            }
            let (recs, total) = r.finish()?;
            copy_out(&recs, total, buf, len)
        }
        KIND_MOUNTS => {
            let mounts = crate::fs::mounts();
            copy_out(&mounts, mounts.len(), buf, len)
        }
        KIND_BLK => {
            let devs = crate::blk::stats();
            copy_out(&devs, devs.len(), buf, len)
        }
        KIND_DISPLAY => {
            let info = [crate::display::info()?];
            copy_out(&info, 1, buf, len)
        }
        _ => Err(Errno::EINVAL),
    }
}
