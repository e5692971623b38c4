//! Diagnostics: the records `stats(what, buf, len)` returns (`wayos_abi::stats`), built
//! from the counters and the kernel's tables, and the magic-key report ([`dump`]).
//!
//! Owns turning kernel state into records; it changes nothing it reads. Every builder
//! takes `try_only`: the syscall (`false`) may wait for the locks it reads under, like
//! any syscall; the magic-key report (`true`) only try-locks, and shows what it could not
//! read as busy, so it works while a lock holder is stuck. Nothing here holds a lock
//! across a user copy: the syscall gathers records into kernel memory first.

pub mod dump;

use core::sync::atomic::Ordering;

use wayos_abi::stats::{
    CpuStat, HandleStat, KStats, LockStat, MemStats, ProcStat, ThreadStat, Version, THREAD_BLOCKED,
    THREAD_DEAD, THREAD_READY, THREAD_RUNNING,
};

use crate::ipc::KObject;
use crate::mm::pmm::{self, Tier};
use crate::task::process::Process;
use crate::task::thread::{State, Thread};

/// Copies `s` into a NUL-padded field, cut to leave at least one NUL.
pub fn field<const N: usize>(s: &str) -> [u8; N] {
    let mut f = [0u8; N];
    let n = s.len().min(N - 1);
    f[..n].copy_from_slice(&s.as_bytes()[..n]);
    f
}

/// The text of a NUL-padded field.
pub fn text(f: &[u8]) -> &str {
    let n = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    core::str::from_utf8(&f[..n]).unwrap_or("?")
}

/// Physical memory `(total, free)` of `tier` in bytes, `None` without it (or, with
/// `try_only`, while its lock is held).
fn tier_bytes(tier: Tier, try_only: bool) -> Option<(u64, u64)> {
    let s = if try_only {
        pmm::try_stats(tier)?
    } else {
        pmm::stats(tier)?
    };
    let page = wayos_abi::mman::PAGE_SIZE as u64;
    Some((
        s.managed_pages() as u64 * page,
        s.free_pages() as u64 * page,
    ))
}

/// `(heap size, heap used)` in bytes (`(0, 0)` when busy with `try_only`).
fn heap(try_only: bool) -> (u64, u64) {
    let h = if try_only {
        crate::mm::heap::try_stats()
    } else {
        Some(crate::mm::heap::stats())
    };
    h.map_or((0, 0), |h| (h.size as u64, h.used as u64))
}

/// Threads of every process plus the kernel's own (0 for a table that was busy).
fn thread_count(try_only: bool) -> u64 {
    let mut n = 0u64;
    each_process(try_only, |p| n += p.live_threads() as u64);
    crate::task::thread::for_each_kernel_thread(try_only, |_| n += 1);
    n
}

/// Runs `f` on every process (the table's lock is only tried with `try_only`); false
/// when it could not be read.
pub fn each_process(try_only: bool, mut f: impl FnMut(&Process)) -> bool {
    if try_only {
        crate::task::process::try_for_each(|p| f(p))
    } else {
        match crate::task::process::all() {
            Ok(all) => {
                for p in &all {
                    f(p);
                }
                true
            }
            Err(_) => false,
        }
    }
}

pub fn kstats(try_only: bool) -> KStats {
    let (page_faults, page_faults_fatal) = crate::counters::page_faults();
    let (heap_size, heap_used) = heap(try_only);
    let (mut mem_total, mut mem_free) = (0, 0);
    for t in Tier::ALL {
        if let Some((total, free)) = tier_bytes(t, try_only) {
            mem_total += total;
            mem_free += free;
        }
    }
    let mut processes = 0;
    each_process(try_only, |_| processes += 1);
    KStats {
        uptime_ns: crate::arch::uptime_ns(),
        syscalls: crate::counters::syscalls_total(),
        page_faults,
        page_faults_fatal,
        context_switches: crate::task::sched::switches(),
        ipc_messages: crate::counters::ipc_messages(),
        interrupts: crate::counters::interrupts_total(),
        processes,
        threads: thread_count(try_only),
        heap_used,
        heap_size,
        mem_total,
        mem_free,
        cpus: crate::smp::online() as u64,
    }
}

/// Bytes of file data the memory file systems hold (tmpfs at `/`).
fn tmpfs_bytes() -> u64 {
    crate::fs::at_path(
        "/",
        |v, cwd, p, _| v.resolve(cwd, p).and_then(|l| v.statfs(l)),
        |_, vol, _, _| vol.statfs(),
    )
    .map_or(0, |s| s.blocks.saturating_sub(s.bfree) * s.bsize)
}

pub fn mem() -> MemStats {
    let near = tier_bytes(Tier::Near, false).unwrap_or((0, 0));
    let far = tier_bytes(Tier::Far, false).unwrap_or((0, 0));
    let (heap_size, heap_used) = heap(false);
    let mut user = 0;
    each_process(false, |p| {
        if let Some(s) = p.space.lock().as_ref() {
            user += s.usage().0;
        }
    });
    let (cache, cache_dirty) = crate::blk::cache_bytes();
    MemStats {
        total: near.0 + far.0,
        free: near.1 + far.1,
        near_total: near.0,
        near_free: near.1,
        far_total: far.0,
        far_free: far.1,
        heap_size,
        heap_used,
        cache,
        cache_dirty,
        tmpfs: tmpfs_bytes(),
        user,
    }
}

pub fn version() -> Version {
    let loader = crate::boot::info().map_or("unknown", |b| b.loader.as_str());
    Version {
        version: field(env!("CARGO_PKG_VERSION")),
        build_id: field(env!("WAYOS_BUILD_ID")),
        commit: field(env!("WAYOS_COMMIT")),
        arch: field(crate::arch::NAME),
        loader: field(loader),
        build: field(env!("WAYOS_BUILD")),
    }
}

/// `ps`'s state letter of a process: zombie, running (a thread runs or is ready) or
/// sleeping; `?` when busy with `try_only`.
fn proc_state(p: &Process, try_only: bool) -> u8 {
    let zombie = if try_only {
        p.try_is_zombie()
    } else {
        Some(p.is_zombie())
    };
    match zombie {
        Some(true) => b'Z',
        None => b'?',
        Some(false) => {
            let mut running = false;
            let read = if try_only {
                p.try_for_each_thread(|t| {
                    running |= matches!(t.state(), State::Running | State::Ready)
                })
            } else {
                running = p
                    .threads()
                    .iter()
                    .any(|t| matches!(t.state(), State::Running | State::Ready));
                true
            };
            match (read, running) {
                (false, _) => b'?',
                (true, true) => b'R',
                (true, false) => b'S',
            }
        }
    }
}

pub fn proc_stat(p: &Process, try_only: bool) -> ProcStat {
    let mut s = ProcStat {
        pid: p.pid as u32,
        ppid: p.ppid() as u32,
        threads: p.live_threads() as u32,
        state: proc_state(p, try_only),
        caps: p.caps(),
        ..ProcStat::default()
    };
    let handles = if try_only {
        p.handles.try_lock()
    } else {
        Some(p.handles.lock())
    };
    if let Some(h) = handles {
        s.handles = h.len() as u32;
        for (_, obj, _) in h.iter() {
            if let KObject::Port(r) = obj {
                if crate::ipc::port::Port::is_receiver_ref(r) {
                    s.ports += 1;
                    s.queued += r.port.queued(try_only).unwrap_or(0) as u32;
                }
            }
        }
    }
    let fds = if try_only {
        p.fds.try_lock()
    } else {
        Some(p.fds.lock())
    };
    if let Some(f) = fds {
        s.fds = f.open_count() as u32;
    }
    let space = if try_only {
        p.space.try_lock()
    } else {
        Some(p.space.lock())
    };
    if let Some((rss, vsize)) = space.and_then(|g| g.as_ref().map(|sp| sp.usage())) {
        s.rss = rss;
        s.vsize = vsize;
    }
    let name = if try_only {
        p.name.try_lock()
    } else {
        Some(p.name.lock())
    };
    s.name = name.map_or(field("?"), |n| field(n.as_str()));
    s
}

pub fn thread_stat(t: &Thread) -> ThreadStat {
    let state = t.state();
    let blocked = matches!(state, State::Blocked | State::Sleeping);
    ThreadStat {
        tid: t.tid as u32,
        pid: t.process.as_ref().map_or(0, |p| p.pid as u32),
        cpu: t.cpu.load(Ordering::Relaxed) as u32,
        class: t.class() as u8,
        state: match state {
            State::Running => THREAD_RUNNING,
            State::Ready => THREAD_READY,
            State::Blocked | State::Sleeping => THREAD_BLOCKED,
            State::Dead => THREAD_DEAD,
        },
        _pad: [0; 2],
        ticks: t.ticks.load(Ordering::Relaxed),
        wait: if blocked {
            field(crate::task::thread::wait_name(
                t.wait.load(Ordering::Relaxed),
            ))
        } else {
            [0; 16]
        },
    }
}

/// Runs `f` on every thread: each process's, then the kernel's own; false when some
/// list could not be read (`try_only`).
pub fn each_thread(try_only: bool, mut f: impl FnMut(&Thread)) -> bool {
    let mut complete = true;
    let read = each_process(try_only, |p| {
        if try_only {
            complete &= p.try_for_each_thread(&mut f);
        } else {
            for t in p.threads() {
                f(&t);
            }
        }
    });
    read & complete & crate::task::thread::for_each_kernel_thread(try_only, f)
}

/// Every handle of `p`, to `f`; false when its table was busy (`try_only`).
pub fn each_handle(p: &Process, try_only: bool, mut f: impl FnMut(HandleStat)) -> bool {
    let handles = if try_only {
        match p.handles.try_lock() {
            Some(h) => h,
            None => return false,
        }
    } else {
        p.handles.lock()
    };
    for (handle, obj, rights) in handles.iter() {
        let (kind, object) = match obj {
            KObject::Port(r) => ("port", r.port.id),
            KObject::Reply(_) => ("reply", 0),
            KObject::Memory(_) => ("memory", 0),
            KObject::Tensor(_) => ("tensor", 0),
            KObject::Job(_) => ("job", 0),
            KObject::Graph(_) => ("graph", 0),
            KObject::Nic(_) => ("nic", 0),
        };
        f(HandleStat {
            pid: p.pid as u32,
            handle,
            rights,
            _pad: 0,
            object,
            kind: field(kind),
        });
    }
    true
}

pub fn lock_stats(out: &mut impl FnMut(LockStat)) {
    for l in crate::sync::names::ALL {
        let (cpu, acquired, contended) = l.snapshot();
        out(LockStat {
            holder_cpu: cpu.unwrap_or(u32::MAX),
            holder_tid: cpu.map_or(0, |c| crate::task::sched::running_tid(c as usize) as u32),
            acquired,
            contended,
            name: field(l.name),
        });
    }
}

/// CPU `cpu`'s record; the run-queue part (current thread, ready count) is 0 when the
/// scheduler lock is busy and `try_only`.
pub fn cpu_stat(cpu: usize, try_only: bool) -> CpuStat {
    let sched = if try_only {
        crate::task::sched::try_cpu_sched(cpu)
    } else {
        Some(crate::task::sched::cpu_sched(cpu))
    };
    let st = crate::smp::stats(cpu);
    let ticks = st.ticks.load(Ordering::Relaxed);
    let busy = st.busy_ticks.load(Ordering::Relaxed);
    CpuStat {
        cpu: cpu as u32,
        current: sched.as_ref().map_or(0, |s| s.current_tid as u32),
        ready: sched.as_ref().map_or(0, |s| s.ready as u32),
        _pad: 0,
        switches: sched.as_ref().map_or(0, |s| s.switches),
        interrupts: crate::counters::cpu_interrupts(cpu),
        idle_ticks: ticks.saturating_sub(busy),
        busy_ticks: busy,
    }
}
