//! `smptest`: multiprocessing as programs see it.
//!
//! Every online CPU is reported with its counters and runs threads, pinned and by the
//! kernel's load balancing; atomics, futexes and the futex mutex stay exact under
//! contention from every CPU; a futex wake reaches a thread sleeping on another CPU
//! (through an IPI the counters show); unmapping, replacing or write-protecting a page
//! reaches the TLB of another CPU that has the translation cached; affinity changes move
//! threads at once; kernel paths (mmap, pipes, getpid) survive threads hammering them
//! from every CPU; bad arguments get their errno; joins, thread exit codes and `exit`
//! from a second thread behave as the ABI says (`wayos_abi::sys::THREAD_CREATE` ..
//! `SMP_INFO`).
//!
//! With one CPU every case still runs, on CPU 0, and a `note` line says which parts that
//! reduces to. The expected CPU count comes from the kernel command line
//! (`wayos_abi::harness::CPUS_KEY`, put there by `cargo xtask test`). Every wait has a
//! timeout, so a kernel without these calls fails the cases instead of hanging.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use libway::abi::errno::{EAGAIN, EFAULT, EINTR, EINVAL, ESRCH, ETIMEDOUT};
use libway::abi::harness::CPUS_KEY;
use libway::abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE};
use libway::abi::signal::{SIGKILL, SIGSEGV, SIGUSR1};
use libway::abi::smp::{CpuInfo, CPU_BUSY, CPU_IDLE, MAX_CPUS};
use libway::process::{self, WaitStatus};
use libway::signal::{self, Handler};
use libway::smp::{self, cpu_mask, pin_to};
use libway::suite::{
    expect_errno, expect_exit, expect_signal, explain_exit, wait_for, Check, Context, Suite,
};
use libway::sync::{futex_wait, futex_wait_addr, futex_wake, wait_until, Mutex};
use libway::thread::{self, JoinHandle};
use libway::{io, mem, println, Args};

libway::entry!(main);

const MS: u64 = 1_000_000;
/// Longest any one wait for threads (or a child) may take before the case fails.
const WAIT_MS: u64 = 30_000;
/// A kernel-half address (the direct map's base on both architectures).
const KERNEL_ADDR: usize = 0xffff_8000_0000_0000;
/// A user address below `layout::USER_BASE`: never mapped.
const LOW_ADDR: usize = 0x1000;

/// What the cases know about the machine.
struct Env {
    /// CPUs online (1 if `smp_info` fails, so the cases still run and fail cleanly).
    n: usize,
}

impl Env {
    fn all_mask(&self) -> u64 {
        if self.n >= 64 {
            u64::MAX
        } else {
            (1u64 << self.n) - 1
        }
    }
}

fn note(msg: &str) {
    println!("  note {msg}");
}

fn main(_args: Args) -> i32 {
    let mut s = Suite::new("smptest");
    let n = match smp::cpu_count() {
        Ok(n) if (1..=MAX_CPUS).contains(&n) => n,
        Ok(n) => {
            note(&format!("smp_info reports {n} CPUs; the cases assume 1"));
            1
        }
        Err(e) => {
            note(&format!("smp_info failed ({e}); the cases assume 1 CPU"));
            1
        }
    };
    let env = Env { n };
    note(&format!("{n} CPU(s) online"));
    if n == 1 {
        note("one CPU: cross-CPU cases run their logic on CPU 0 only");
    }
    // The main thread stays on CPU 0 so "the other CPU" is never its own.
    if let Err(e) = pin_to(0) {
        note(&format!("cannot pin the main thread to CPU 0: {e}"));
    }

    s.check("every_cpu_online", every_cpu_online(&env));
    s.check(
        "smp_info_partial_and_ticking",
        smp_info_partial_and_ticking(&env),
    );
    s.check("threads_pinned_to_every_cpu", threads_pinned(&env));
    s.check("threads_spread_by_load_balancing", threads_spread(&env));
    s.check("atomic_counter_exact", atomic_counter(&env));
    s.check("futex_basics", futex_basics());
    s.check("futex_wake_counts", futex_wake_counts(&env));
    s.check("futex_pingpong_across_cpus", futex_pingpong(&env));
    s.check("futex_wait_interrupted_by_signal", futex_eintr());
    s.check("ipi_delivery", ipi_delivery(&env));
    s.check("tlb_shootdown_munmap", tlb_case(&env, Change::Unmap));
    s.check("tlb_shootdown_remap", tlb_case(&env, Change::Remap));
    s.check("tlb_shootdown_mprotect", tlb_case(&env, Change::Protect));
    s.check("migration_by_setaffinity", migration(&env));
    s.check("migration_of_other_thread", migration_by_tid(&env));
    s.check("mutex_stress", mutex_stress(&env));
    s.check("kernel_lock_stress", kernel_stress(&env));
    s.check("bad_thread_create", bad_thread_create());
    s.check("thread_limit_eagain", thread_limit());
    s.check("bad_futex", bad_futex());
    s.check("bad_affinity", bad_affinity(&env));
    s.check("bad_smp_info", bad_smp_info());
    s.check("join_returns_value_and_tid", join_returns_value());
    s.check("join_blocks_until_end", join_blocks_until_end());
    s.check("spawn_join_many", spawn_join_many());
    s.check("last_thread_exit_code", last_thread_exit_code());
    s.check("exit_from_thread_ends_process", exit_from_thread());
    s.check("fault_in_thread_kills_process", fault_in_thread());
    s.finish()
}

// ---------------------------------------------------------------------------------------
// Helpers

fn now_ns() -> u64 {
    libway::time::monotonic_ns().unwrap_or(0)
}

fn spawn<T, F>(f: F) -> Result<JoinHandle<T>, String>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    thread::spawn(f).context("thread spawn")
}

/// Joins every handle by one shared deadline `WAIT_MS` from now.
fn join_all<T>(handles: Vec<JoinHandle<T>>) -> Result<Vec<T>, String> {
    let deadline = now_ns() + WAIT_MS * MS;
    let mut out = Vec::with_capacity(handles.len());
    let mut late = Vec::new();
    for h in handles {
        let left = deadline.saturating_sub(now_ns()).max(MS);
        if !h.wait_timeout(left) {
            late.push(h.tid());
            continue;
        }
        match h.join() {
            Some(v) => out.push(v),
            None => return Err("a thread ended without returning".into()),
        }
    }
    if late.is_empty() {
        Ok(out)
    } else {
        Err(format!("threads {late:?} still running after {WAIT_MS} ms"))
    }
}

fn join<T>(h: JoinHandle<T>) -> Result<T, String> {
    join_all(vec![h]).map(|mut v| v.remove(0))
}

/// Joins threads that return `Check`s: the first failure wins.
fn join_checks(handles: Vec<JoinHandle<Check>>) -> Check {
    join_all(handles)?.into_iter().collect()
}

/// Spawns `count` threads running `f(i)`, each allowed on every online CPU.
fn spawn_unpinned<F>(env: &Env, count: usize, f: F) -> Result<Vec<JoinHandle<Check>>, String>
where
    F: Fn(usize) -> Check + Send + Sync + 'static,
{
    let f = Arc::new(f);
    let all = env.all_mask();
    let mut hs = Vec::new();
    for i in 0..count {
        let f = f.clone();
        hs.push(spawn(move || {
            smp::sched_setaffinity(0, all).context("setaffinity(all)")?;
            f(i)
        })?);
    }
    Ok(hs)
}

/// Runs `f` in a forked child and returns how it ended; a child still running after
/// `WAIT_MS` is killed (and reaped) so it cannot hold CPUs for later cases.
fn run_child(f: impl FnOnce() -> i32) -> Result<WaitStatus, String> {
    match process::fork() {
        Ok(0) => process::exit(f()),
        Ok(pid) => match wait_for(pid, WAIT_MS) {
            Ok(st) => Ok(st),
            Err(why) => {
                let _ = process::kill(pid, SIGKILL);
                let _ = wait_for(pid, 5_000);
                Err(why)
            }
        },
        Err(err) => Err(format!("fork: {err}")),
    }
}

fn cpu_info(cpu: usize) -> Result<CpuInfo, String> {
    let all = smp::smp_info().context("smp_info")?;
    all.get(cpu)
        .copied()
        .ok_or_else(|| format!("smp_info lists {} CPUs, no CPU {cpu}", all.len()))
}

/// The `wayos.cpus=N` value on the kernel command line, if any.
fn expected_cpus() -> Option<usize> {
    let line = process::cmdline().ok()?;
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(CPUS_KEY)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

// ---------------------------------------------------------------------------------------
// 1. CPUs online

fn every_cpu_online(env: &Env) -> Check {
    let mut buf = [CpuInfo::default(); MAX_CPUS];
    let online = smp::smp_info_into(&mut buf).context("smp_info")?;
    if online == 0 || online > MAX_CPUS {
        return Err(format!("smp_info says {online} CPUs online"));
    }
    match expected_cpus() {
        Some(want) if want != online => {
            return Err(format!("{online} CPUs online, {CPUS_KEY}={want}"));
        }
        Some(_) => {}
        None => note(&format!("no {CPUS_KEY} key: the count is not compared")),
    }
    if online != env.n {
        return Err(format!("{online} CPUs now, {} at start", env.n));
    }
    let me = thread::gettid().context("gettid")?;
    let here = smp::sched_getcpu().context("sched_getcpu")?;
    let cpus = &buf[..online];
    for (i, c) in cpus.iter().enumerate() {
        if c.id as usize != i {
            return Err(format!("entry {i} has id {}", c.id));
        }
        if c.ticks == 0 {
            return Err(format!("CPU {i} has taken no timer ticks"));
        }
        if c.busy_ticks > c.ticks {
            return Err(format!(
                "CPU {i}: {} busy ticks of {} ticks",
                c.busy_ticks, c.ticks
            ));
        }
        if c.state != CPU_BUSY && c.state != CPU_IDLE {
            return Err(format!("CPU {i} in state {}", c.state));
        }
        if let Some(j) = cpus[..i].iter().position(|o| o.hw_id == c.hw_id) {
            return Err(format!("CPUs {j} and {i} share hw id {:#x}", c.hw_id));
        }
    }
    if here != 0 {
        return Err(format!("main thread pinned to CPU 0 runs on CPU {here}"));
    }
    let mine = cpus[here];
    if mine.state != CPU_BUSY || mine.current_tid != me as u64 {
        return Err(format!(
            "CPU {here} (the caller's) shows state {} running tid {}, expected busy running {me}",
            mine.state, mine.current_tid
        ));
    }
    Ok(())
}

/// A short buffer gets only what fits (the count is still every CPU), and every CPU's
/// timer keeps ticking.
fn smp_info_partial_and_ticking(env: &Env) -> Check {
    let sentinel = CpuInfo {
        id: 0xdead,
        ..CpuInfo::default()
    };
    let mut buf = [sentinel; 2];
    let online = smp::smp_info_into(&mut buf[..1]).context("smp_info(count 1)")?;
    if online != env.n {
        return Err(format!("smp_info(count 1) = {online}, expected {}", env.n));
    }
    if buf[0].id != 0 || buf[1] != sentinel {
        return Err("smp_info(count 1) filled the wrong entries".into());
    }
    let online = smp::smp_info_into(&mut buf[..0]).context("smp_info(count 0)")?;
    if online != env.n || buf[0].id != 0 || buf[1] != sentinel {
        return Err(format!("smp_info(count 0) = {online} or wrote entries"));
    }
    let before = smp::smp_info().context("smp_info")?;
    let _ = libway::time::sleep_ms(300);
    let after = smp::smp_info().context("smp_info")?;
    for (b, a) in before.iter().zip(&after) {
        if a.ticks <= b.ticks {
            return Err(format!(
                "CPU {}: ticks {} -> {} over 300 ms",
                a.id, b.ticks, a.ticks
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 2. Threads on every CPU

fn threads_pinned(env: &Env) -> Check {
    let mut hs = Vec::new();
    for cpu in 0..env.n {
        hs.push(spawn(move || -> Check {
            pin_to(cpu).context("setaffinity")?;
            for _ in 0..50 {
                let c = smp::sched_getcpu().context("sched_getcpu")?;
                if c != cpu {
                    return Err(format!("pinned to CPU {cpu}, running on CPU {c}"));
                }
                let _ = process::sched_yield();
            }
            let mask = smp::sched_getaffinity(0).context("getaffinity")?;
            if mask != cpu_mask(cpu) {
                return Err(format!("affinity {mask:#x} after pinning to CPU {cpu}"));
            }
            Ok(())
        })?);
    }
    join_checks(hs)
}

/// 2n busy threads allowed everywhere (created on CPU 0, where main is pinned) must end
/// up seeing every CPU: the kernel's load balancing moves them.
fn threads_spread(env: &Env) -> Check {
    const LIMIT_MS: u64 = 15_000;
    let all = env.all_mask();
    let seen = Arc::new(AtomicU64::new(0));
    let deadline = now_ns() + LIMIT_MS * MS;
    let s = seen.clone();
    let hs = spawn_unpinned(env, 2 * env.n, move |_| loop {
        let c = smp::sched_getcpu().context("sched_getcpu")?;
        s.fetch_or(cpu_mask(c), Ordering::SeqCst);
        if s.load(Ordering::SeqCst) == all || now_ns() > deadline {
            return Ok(());
        }
        for _ in 0..20_000 {
            core::hint::spin_loop();
        }
    })?;
    join_checks(hs)?;
    let got = seen.load(Ordering::SeqCst);
    if got == all {
        Ok(())
    } else {
        Err(format!(
            "{} busy threads ran only on CPUs {got:#b} of {all:#b} in {LIMIT_MS} ms",
            2 * env.n
        ))
    }
}

// ---------------------------------------------------------------------------------------
// 3. Atomics

fn atomic_counter(env: &Env) -> Check {
    const ADDS: u64 = 100_000;
    let counter = Arc::new(AtomicU64::new(0));
    let c = counter.clone();
    let threads = 2 * env.n;
    let hs = spawn_unpinned(env, threads, move |_| {
        for _ in 0..ADDS {
            c.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    })?;
    join_checks(hs)?;
    let got = counter.load(Ordering::SeqCst);
    let want = threads as u64 * ADDS;
    if got == want {
        Ok(())
    } else {
        Err(format!("counter {got}, expected {want}"))
    }
}

// ---------------------------------------------------------------------------------------
// Futex semantics

fn futex_basics() -> Check {
    let word = AtomicU32::new(5);
    expect_errno(futex_wait(&word, 4, 1_000 * MS), EAGAIN).context("futex_wait(5 != 4)")?;
    let t0 = now_ns();
    expect_errno(futex_wait(&word, 5, 50 * MS), ETIMEDOUT).context("futex_wait(50 ms)")?;
    let waited = now_ns() - t0;
    if waited < 50 * MS {
        return Err(format!("50 ms timeout returned after {} us", waited / 1000));
    }
    match futex_wake(&word, 10) {
        Ok(0) => Ok(()),
        other => Err(format!(
            "futex_wake with no waiters: {other:?}, expected Ok(0)"
        )),
    }
}

/// Three sleepers on one word: `futex_wake(1)` never wakes more than one, and every
/// sleeper is woken exactly once (by a wake, not a timeout).
fn futex_wake_counts(env: &Env) -> Check {
    const SLEEPERS: usize = 3;
    let word = Arc::new(AtomicU32::new(0));
    let woke = Arc::new(AtomicU32::new(0));
    let mut hs = Vec::new();
    for i in 0..SLEEPERS {
        let (w, d) = (word.clone(), woke.clone());
        let cpu = i % env.n;
        hs.push(spawn(move || -> Check {
            pin_to(cpu).context("setaffinity")?;
            let r = futex_wait(&w, 0, WAIT_MS * MS);
            d.fetch_add(1, Ordering::SeqCst);
            r.context("futex_wait")
        })?);
    }
    let deadline = now_ns() + WAIT_MS * MS;
    let mut total = 0;
    while woke.load(Ordering::SeqCst) < SLEEPERS as u32 && now_ns() < deadline {
        match futex_wake(&word, 1) {
            Ok(k) if k <= 1 => total += k,
            Ok(k) => return Err(format!("futex_wake(count 1) woke {k}")),
            Err(err) => return Err(format!("futex_wake: {err}")),
        }
        let _ = libway::time::sleep_ms(5);
    }
    join_checks(hs)?;
    if total == SLEEPERS {
        Ok(())
    } else {
        Err(format!("wakes reported {total} woken, {SLEEPERS} slept"))
    }
}

/// Two threads on different CPUs (the first and the last) hand a counter back and forth
/// through one futex word; a lost wake-up shows as a timeout.
fn futex_pingpong(env: &Env) -> Check {
    const ROUNDS: u32 = 500;
    let word = Arc::new(AtomicU32::new(0));
    let deadline = now_ns() + WAIT_MS * MS;
    let mut hs = Vec::new();
    for (side, cpu) in [(0u32, 0usize), (1, env.n - 1)] {
        let w = word.clone();
        hs.push(spawn(move || -> Check {
            pin_to(cpu).context("setaffinity")?;
            for i in 0..ROUNDS {
                let mine = 2 * i + side;
                let left = deadline.saturating_sub(now_ns());
                if !wait_until(&w, left, |v| v == mine) {
                    return Err(format!(
                        "side {side}: waited for {mine}, word stuck at {}",
                        w.load(Ordering::SeqCst)
                    ));
                }
                w.store(mine + 1, Ordering::Release);
                futex_wake(&w, 1).context("futex_wake")?;
            }
            Ok(())
        })?);
    }
    join_checks(hs)?;
    let v = word.load(Ordering::SeqCst);
    if v == 2 * ROUNDS {
        Ok(())
    } else {
        Err(format!("word {v}, expected {}", 2 * ROUNDS))
    }
}

static USR1_HITS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_usr1(_sig: i32) {
    USR1_HITS.fetch_add(1, Ordering::SeqCst);
}

/// A signal from a child ends the main thread's `futex_wait` with `EINTR`.
fn futex_eintr() -> Check {
    USR1_HITS.store(0, Ordering::SeqCst);
    signal::set_handler(SIGUSR1, Handler::Catch(count_usr1)).context("sigaction")?;
    let me = process::getpid().context("getpid")?;
    let child = match process::fork() {
        Ok(0) => {
            let _ = libway::time::sleep_ms(200);
            let _ = process::kill(me, SIGUSR1);
            process::exit(0)
        }
        Ok(pid) => pid,
        Err(err) => {
            let _ = signal::set_handler(SIGUSR1, Handler::Default);
            return Err(format!("fork: {err}"));
        }
    };
    let word = AtomicU32::new(0);
    let r = futex_wait(&word, 0, 10_000 * MS);
    let st = wait_for(child, WAIT_MS);
    signal::set_handler(SIGUSR1, Handler::Default).context("reset")?;
    expect_errno(r, EINTR).context("futex_wait interrupted by SIGUSR1")?;
    expect_exit(st?, 0)?;
    match USR1_HITS.load(Ordering::SeqCst) {
        1 => Ok(()),
        k => Err(format!("handler ran {k} times, expected 1")),
    }
}

// ---------------------------------------------------------------------------------------
// 4. IPIs

fn ipi_delivery(env: &Env) -> Check {
    let targets: Vec<usize> = if env.n > 1 {
        (1..env.n).collect()
    } else {
        vec![0]
    };
    for c in targets {
        ipi_to(env, c).map_err(|why| format!("CPU {c}: {why}"))?;
    }
    Ok(())
}

/// A thread pinned to `c` sleeps in `futex_wait`; the main thread (on CPU 0) wakes it.
fn ipi_to(env: &Env, c: usize) -> Check {
    let word = Arc::new(AtomicU32::new(0));
    let ready = Arc::new(AtomicU32::new(0));
    let (w, r) = (word.clone(), ready.clone());
    let me = thread::gettid().context("gettid")?;
    let h = spawn(move || -> Result<usize, String> {
        pin_to(c).context("setaffinity")?;
        r.store(1, Ordering::SeqCst);
        let _ = futex_wake(&r, 1);
        futex_wait(&w, 0, WAIT_MS * MS).context("futex_wait")?;
        if w.load(Ordering::SeqCst) != 1 {
            return Err("futex_wait returned before the wake".into());
        }
        smp::sched_getcpu().context("sched_getcpu")
    })?;
    let tid = h.tid();
    if !wait_until(&ready, WAIT_MS * MS, |v| v == 1) {
        return Err("the thread never started on its CPU".into());
    }
    // Let it fall asleep: its CPU goes idle (with one CPU: nothing but us runnable).
    let t0 = now_ns();
    let mut info = cpu_info(c)?;
    loop {
        let asleep = if c == 0 {
            info.ready == 0 && info.current_tid == me as u64
        } else {
            info.state == CPU_IDLE && info.current_tid != tid as u64
        };
        if asleep || now_ns() - t0 > 5_000 * MS {
            break;
        }
        let _ = libway::time::sleep_ms(2);
        info = cpu_info(c)?;
    }
    let before = info.ipis;
    word.store(1, Ordering::SeqCst);
    let woken = futex_wake(&word, 1).context("futex_wake");
    let ran_on = join(h)??;
    let after = cpu_info(c)?.ipis;
    match woken? {
        1 => {}
        k => return Err(format!("futex_wake woke {k}, expected the sleeping thread")),
    }
    if ran_on != c {
        return Err(format!(
            "woken thread pinned to CPU {c} ran on CPU {ran_on}"
        ));
    }
    if env.n > 1 && after <= before {
        return Err(format!(
            "CPU {c} ipis {before} -> {after}: the wake-up sent no IPI"
        ));
    }
    if env.n == 1 {
        note("one CPU: ipi_delivery checks the wake-up only (no IPI to oneself)");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 5. TLB shootdown

#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    /// munmap: the reader's next access must fault.
    Unmap,
    /// munmap + MAP_FIXED mmap of a new page: the reader must see the new value.
    Remap,
    /// mprotect(PROT_READ): the reader can still read, its next write must fault.
    Protect,
}

const OLD: u64 = 0x0123_4567_89ab_cdef;
const NEW: u64 = 0xfeed_face_cafe_f00d;

// Exit codes of the TLB child (besides 0 and death by SIGSEGV).
const TLB_SURVIVED: i32 = 4;
const TLB_STALE: i32 = 5;
const TLB_CORRUPT: i32 = 6;
const TLB_TIMEOUT: i32 = 7;
const TLB_SETUP: i32 = 8;
const TLB_THREAD_ONLY: i32 = 9;
const TLB_NO_SHOOTDOWN: i32 = 10;

// Reader commands (main -> reader) and states (reader -> main).
const RUN: u32 = 0;
const STOP: u32 = 1;
const ACCESS: u32 = 2;
const STARTED: u32 = 0;
const WARM: u32 = 1;
const PARKED: u32 = 2;

fn tlb_case(env: &Env, change: Change) -> Check {
    let n = env.n;
    if n == 1 {
        note("one CPU: the TLB cases change a page the reader uses on CPU 0 itself");
    }
    let st = run_child(move || tlb_child(n, change))?;
    match change {
        Change::Unmap | Change::Protect => expect_signal(st, SIGSEGV),
        Change::Remap => expect_exit(st, 0),
    }
    .map_err(explain_exit(
        st,
        &[
            (
                TLB_SURVIVED,
                "the access after the change went through: stale TLB",
            ),
            (TLB_STALE, "the reader saw the old page: stale TLB"),
            (TLB_CORRUPT, "the reader saw a value never written"),
            (TLB_TIMEOUT, "the reader thread did not answer"),
            (TLB_SETUP, "setup failed"),
            (
                TLB_THREAD_ONLY,
                "the fault ended the thread, not the process",
            ),
            (TLB_NO_SHOOTDOWN, "the reader's CPU served no TLB shootdown"),
        ],
    ))
}

/// In a child: a reader thread on CPU 1 (0 with one CPU) uses the page until it has
/// the translation cached, then spins without touching memory or the kernel while the
/// main thread (CPU 0) changes the mapping; then it accesses the page once more.
fn tlb_child(n: usize, change: Change) -> i32 {
    let reader_cpu = if n > 1 { 1 } else { 0 };
    if pin_to(0).is_err() {
        return TLB_SETUP;
    }
    let Ok(page) = mem::map_anonymous(PAGE_SIZE, false) else {
        return TLB_SETUP;
    };
    // SAFETY: `page` is a fresh private read-write mapping of one page.
    unsafe { (page as *mut u64).write_volatile(OLD) };
    let cmd = Arc::new(AtomicU32::new(RUN));
    let state = Arc::new(AtomicU32::new(STARTED));
    let (c, s) = (cmd.clone(), state.clone());
    let reader = thread::spawn(move || -> i32 {
        if pin_to(reader_cpu).is_err() {
            process::exit(TLB_SETUP);
        }
        let p = page as *mut u64;
        let mut uses = 0u32;
        while c.load(Ordering::Acquire) == RUN {
            // SAFETY: the page stays mapped read-write until the main thread is told
            // (through `state`) that this loop is over.
            let v = unsafe { p.read_volatile() };
            if v != OLD {
                process::exit(TLB_CORRUPT);
            }
            if change == Change::Protect {
                // SAFETY: as above; a write also caches a writable (dirty) translation.
                unsafe { p.write_volatile(OLD) };
            }
            uses += 1;
            if uses == 1000 {
                s.store(WARM, Ordering::Release);
                let _ = futex_wake(&s, 1);
            }
        }
        s.store(PARKED, Ordering::Release);
        let _ = futex_wake(&s, 1);
        // Spin in user mode: this CPU keeps whatever translation it has cached.
        while c.load(Ordering::Acquire) == STOP {
            core::hint::spin_loop();
        }
        // SAFETY: deliberately touching the page after the change; the kernel must fault
        // (Unmap, Protect's write) or show the new page (Remap).
        let v = unsafe { p.read_volatile() };
        match change {
            Change::Unmap => process::exit(TLB_SURVIVED),
            Change::Remap if v == NEW => 0,
            Change::Remap if v == OLD => process::exit(TLB_STALE),
            Change::Remap => process::exit(TLB_CORRUPT),
            Change::Protect => {
                if v != OLD {
                    process::exit(TLB_CORRUPT);
                }
                // SAFETY: as above: this write must fault.
                unsafe { p.write_volatile(NEW) };
                process::exit(TLB_SURVIVED)
            }
        }
    });
    let Ok(reader) = reader else {
        return TLB_SETUP;
    };
    if !wait_until(&state, WAIT_MS * MS, |v| v == WARM) {
        return TLB_TIMEOUT;
    }
    cmd.store(STOP, Ordering::Release);
    if !wait_until(&state, WAIT_MS * MS, |v| v == PARKED) {
        return TLB_TIMEOUT;
    }
    let before = cpu_info(reader_cpu).map(|i| i.shootdowns).unwrap_or(0);
    // SAFETY: only the reader uses the page, and it is parked in a loop that touches only
    // `cmd` until told to access the page again, which is the point of the test.
    let changed = unsafe {
        match change {
            Change::Unmap => mem::munmap(page, PAGE_SIZE),
            Change::Remap => mem::munmap(page, PAGE_SIZE).and_then(|()| {
                mem::mmap_fixed(
                    page,
                    PAGE_SIZE,
                    PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS,
                )
                .map(drop)
            }),
            Change::Protect => mem::mprotect(page, PAGE_SIZE, PROT_READ),
        }
    };
    if changed.is_err() {
        return TLB_SETUP;
    }
    if change == Change::Remap {
        // SAFETY: the fresh page at `page` is mapped read-write.
        unsafe { (page as *mut u64).write_volatile(NEW) };
    }
    if n > 1 {
        // A kernel that counts shootdowns (some CPU has served one) must have sent one
        // to the reader's CPU; one that invalidates by a broadcast instruction serves
        // none anywhere, and only the access below can tell.
        let all = smp::smp_info().unwrap_or_default();
        let after = all.get(reader_cpu).map_or(0, |i| i.shootdowns);
        let counted = all.iter().any(|i| i.shootdowns > 0);
        if counted && after <= before {
            return TLB_NO_SHOOTDOWN;
        }
    }
    cmd.store(ACCESS, Ordering::Release);
    if !reader.wait_timeout(WAIT_MS * MS) {
        return TLB_TIMEOUT;
    }
    reader.join().unwrap_or(TLB_THREAD_ONLY)
}

// ---------------------------------------------------------------------------------------
// 6. Migration

fn migration(env: &Env) -> Check {
    let last = env.n - 1;
    if env.n == 1 {
        note("one CPU: migration re-pins CPU 0 to CPU 0 (no migrations counted)");
    }
    let n = env.n;
    let h = spawn(move || -> Check {
        let inherited = smp::sched_getaffinity(0).context("getaffinity")?;
        if inherited != cpu_mask(0) {
            return Err(format!(
                "new thread's affinity {inherited:#x}, creator's is {:#x}",
                cpu_mask(0)
            ));
        }
        pin_to(0).context("setaffinity(CPU 0)")?;
        let c = smp::sched_getcpu().context("sched_getcpu")?;
        if c != 0 {
            return Err(format!("pinned to CPU 0, on CPU {c}"));
        }
        let before = cpu_info(last)?.migrations;
        pin_to(last).context("setaffinity(last CPU)")?;
        let c = smp::sched_getcpu().context("sched_getcpu")?;
        if c != last {
            return Err(format!("re-pinned to CPU {last}, still on CPU {c}"));
        }
        let after = cpu_info(last)?.migrations;
        if n > 1 && after <= before {
            return Err(format!(
                "CPU {last} migrations {before} -> {after} after moving a thread there"
            ));
        }
        for k in 0..20 {
            let to = if k % 2 == 0 { 0 } else { last };
            pin_to(to).context("setaffinity")?;
            let c = smp::sched_getcpu().context("sched_getcpu")?;
            if c != to {
                return Err(format!("bounce {k}: pinned to CPU {to}, on CPU {c}"));
            }
        }
        Ok(())
    })?;
    join(h)?
}

/// The main thread re-pins a busy thread by its tid; the thread notices it moved.
fn migration_by_tid(env: &Env) -> Check {
    let last = env.n - 1;
    let ready = Arc::new(AtomicU32::new(0));
    let r = ready.clone();
    let h = spawn(move || -> Result<usize, String> {
        r.store(1, Ordering::SeqCst);
        let _ = futex_wake(&r, 1);
        let deadline = now_ns() + WAIT_MS * MS;
        loop {
            let c = smp::sched_getcpu().context("sched_getcpu")?;
            if c == last && r.load(Ordering::SeqCst) == 2 {
                return Ok(c);
            }
            if now_ns() > deadline {
                return Err(format!("still on CPU {c} after being moved to {last}"));
            }
        }
    })?;
    if !wait_until(&ready, WAIT_MS * MS, |v| v == 1) {
        return Err("thread did not start".into());
    }
    let tid = h.tid();
    let moved = smp::sched_setaffinity(tid, cpu_mask(last)).context("setaffinity(tid)");
    let mask = smp::sched_getaffinity(tid).context("getaffinity(tid)");
    ready.store(2, Ordering::SeqCst);
    let ran = join(h)?;
    moved?;
    if mask? != cpu_mask(last) {
        return Err("getaffinity(tid) differs from the mask just set".into());
    }
    ran.map(drop)
}

// ---------------------------------------------------------------------------------------
// 7. Lock stress

fn mutex_stress(env: &Env) -> Check {
    const ROUNDS: u64 = 20_000;
    // A plain counter: only the mutex keeps the read-modify-write whole.
    let m = Arc::new(Mutex::new(0u64));
    let mm = m.clone();
    let threads = 2 * env.n;
    let hs = spawn_unpinned(env, threads, move |_| {
        for _ in 0..ROUNDS {
            let mut g = mm.lock();
            let v = *g;
            core::hint::spin_loop();
            *g = v + 1;
        }
        Ok(())
    })?;
    join_checks(hs)?;
    let got = *m.lock();
    let want = threads as u64 * ROUNDS;
    if got == want {
        Ok(())
    } else {
        Err(format!("counter {got}, expected {want}"))
    }
}

/// In a child: 2n threads on every CPU each do 300 rounds of mmap/touch/munmap, getpid
/// and a pipe round trip; all must succeed and the child must live.
fn kernel_stress(env: &Env) -> Check {
    const ROUNDS: usize = 300;
    let threads = 2 * env.n;
    let all = env.all_mask();
    let st = run_child(move || {
        let Ok(pid) = process::getpid() else {
            return 2;
        };
        let f = move |i: usize| -> Check {
            let (rd, wr) = io::pipe(false).context("pipe")?;
            for round in 0..ROUNDS {
                let len = 2 * PAGE_SIZE;
                let a = mem::map_anonymous(len, false).context("mmap")?;
                let tag = ((i as u64) << 32) | round as u64;
                for off in [0, PAGE_SIZE] {
                    // SAFETY: `a` is this thread's fresh two-page read-write mapping.
                    unsafe { ((a + off) as *mut u64).write_volatile(tag ^ off as u64) };
                }
                for off in [0, PAGE_SIZE] {
                    // SAFETY: as above.
                    let v = unsafe { ((a + off) as *const u64).read_volatile() };
                    if v != tag ^ off as u64 {
                        return Err(format!("thread {i} round {round}: page held {v:#x}"));
                    }
                }
                // SAFETY: nothing refers into the mapping any more.
                unsafe { mem::munmap(a, len) }.context("munmap")?;
                let p = process::getpid().context("getpid")?;
                if p != pid {
                    return Err(format!("getpid {p} in a thread, {pid} in main"));
                }
                let msg = tag.to_le_bytes();
                if io::write(wr, &msg).context("write")? != msg.len() {
                    return Err("short pipe write".into());
                }
                let mut back = [0u8; 8];
                if io::read(rd, &mut back).context("read")? != back.len() || back != msg {
                    return Err(format!("thread {i} round {round}: pipe gave {back:?}"));
                }
            }
            io::close(rd).context("close")?;
            io::close(wr).context("close")?;
            Ok(())
        };
        let f = Arc::new(f);
        let mut hs = Vec::new();
        for i in 0..threads {
            let f = f.clone();
            match thread::spawn(move || {
                smp::sched_setaffinity(0, all).context("setaffinity(all)")?;
                f(i)
            }) {
                Ok(h) => hs.push(h),
                Err(err) => {
                    println!("  note kernel_lock_stress: spawn: {err}");
                    return 3;
                }
            }
        }
        match join_checks(hs) {
            Ok(()) => 0,
            Err(why) => {
                println!("  note kernel_lock_stress: {why}");
                1
            }
        }
    })?;
    expect_exit(st, 0)
}

// ---------------------------------------------------------------------------------------
// 8. Bad input

/// Status of a child whose bad `thread_create` succeeded and which then lived on.
const CREATED: i32 = 200;

/// One bad `thread_create` argument.
#[derive(Clone, Copy)]
enum BadCreate {
    KernelStack,
    LowStack,
    MisalignedStack,
    KernelEntry,
    LowEntry,
    KernelTidAddr,
    MisalignedTidAddr,
    /// A stack in the user range with nothing mapped there.
    UnmappedStack,
    /// An entry point in the user range with nothing mapped there.
    UnmappedEntry,
}

/// In a child: one `thread_create` with `bad` (everything else valid). Exits with the
/// call's errno, or [`CREATED`] if it succeeded and the process lived on.
fn bad_create_child(bad: BadCreate) -> i32 {
    const LEN: usize = 16 * PAGE_SIZE;
    let (good_entry, arg) = thread::raw_start(|| {});
    let Ok(stack) = mem::map_anonymous(LEN, false) else {
        return 1;
    };
    // A range that was mapped and is not any more: in the user half, but empty.
    let Ok(hole) = mem::map_anonymous(LEN, false) else {
        return 1;
    };
    // SAFETY: nothing uses the mapping made just now.
    if unsafe { mem::munmap(hole, LEN) }.is_err() {
        return 1;
    }
    let word = AtomicU32::new(1);
    let (mut entry, mut top, mut tid) = (good_entry, stack + LEN, word.as_ptr() as usize);
    match bad {
        BadCreate::KernelStack => top = KERNEL_ADDR + 0x10_0000,
        BadCreate::LowStack => top = LOW_ADDR + PAGE_SIZE,
        BadCreate::MisalignedStack => top -= 8,
        BadCreate::KernelEntry => entry = KERNEL_ADDR + 0x10_0000,
        BadCreate::LowEntry => entry = LOW_ADDR,
        BadCreate::KernelTidAddr => tid = KERNEL_ADDR,
        BadCreate::MisalignedTidAddr => tid += 1,
        BadCreate::UnmappedStack => top = hole + LEN,
        BadCreate::UnmappedEntry => entry = hole,
    }
    // SAFETY: one argument is deliberately bad: the kernel must refuse the call, or the
    // new thread must fault and take this child down; nothing else runs on the stack.
    match unsafe { thread::thread_create(entry, top, arg, tid) } {
        Err(err) => err.code() as i32,
        Ok(_) => {
            let _ = libway::time::sleep_ms(500);
            CREATED
        }
    }
}

/// Arguments outside the user half, below `USER_BASE` or misaligned are refused with
/// `EINVAL`; a stack or entry in the user half with nothing mapped passes the call and
/// the thread's first access kills the process with SIGSEGV.
fn bad_thread_create() -> Check {
    use BadCreate::*;
    let cases = [
        ("kernel-half stack", KernelStack, false),
        ("stack below USER_BASE", LowStack, false),
        ("misaligned stack", MisalignedStack, false),
        ("kernel-half entry", KernelEntry, false),
        ("entry below USER_BASE", LowEntry, false),
        ("kernel-half tid_addr", KernelTidAddr, false),
        ("misaligned tid_addr", MisalignedTidAddr, false),
        ("unmapped stack", UnmappedStack, true),
        ("unmapped entry", UnmappedEntry, true),
    ];
    for (what, bad, faults) in cases {
        let st = run_child(move || bad_create_child(bad)).context(what)?;
        if faults {
            expect_signal(st, SIGSEGV)
        } else {
            expect_exit(st, EINVAL as i32)
        }
        .map_err(|why| format!("{what}: {why} (EINVAL is {EINVAL}, {CREATED}: created)"))?;
    }
    Ok(())
}

/// Threads that sleep until released are created until the kernel says `EAGAIN`; once
/// they end, creating threads works again.
fn thread_limit() -> Check {
    const CAP: usize = 4096;
    let st = run_child(|| {
        let release = Arc::new(AtomicU32::new(0));
        let mut hs = Vec::new();
        let refused = loop {
            if hs.len() == CAP {
                break None;
            }
            let r = release.clone();
            match thread::Builder::new()
                .stack_size(thread::MIN_STACK_SIZE)
                .spawn(move || {
                    wait_until(&r, WAIT_MS * MS, |v| v == 1);
                }) {
                Ok(h) => hs.push(h),
                Err(err) => break Some(err),
            }
        };
        let made = hs.len();
        release.store(1, Ordering::SeqCst);
        let _ = futex_wake(&release, usize::MAX);
        let joined = join_all(hs);
        let again = thread::spawn(|| 5).context("spawn").and_then(join);
        println!("  note thread_limit: {made} threads, then {refused:?}");
        match (refused, joined, again) {
            (Some(err), Ok(_), Ok(5)) if err.code() == EAGAIN && made > 0 => 0,
            (None, ..) => 2,
            (Some(_), Ok(_), Ok(5)) => 3,
            (_, Err(_), _) => 4,
            _ => 5,
        }
    })?;
    expect_exit(st, 0).map_err(explain_exit(
        st,
        &[
            (2, "never refused"),
            (3, "refused with another errno than EAGAIN"),
            (4, "the threads did not end"),
            (5, "no thread could start afterwards"),
        ],
    ))
}

fn bad_futex() -> Check {
    let words = [AtomicU32::new(0), AtomicU32::new(0)];
    let unaligned = words.as_ptr() as usize + 1;
    expect_errno(futex_wait_addr(unaligned, 0, 100 * MS), EINVAL)
        .context("futex_wait(unaligned)")?;
    expect_errno(futex_wait_addr(LOW_ADDR, 0, 100 * MS), EFAULT).context("futex_wait(unmapped)")?;
    expect_errno(futex_wait_addr(KERNEL_ADDR, 0, 100 * MS), EFAULT)
        .context("futex_wait(kernel address)")?;
    Ok(())
}

fn bad_affinity(env: &Env) -> Check {
    let mine = smp::sched_getaffinity(0).context("getaffinity")?;
    expect_errno(smp::sched_setaffinity(0, 0), EINVAL).context("setaffinity(0, 0)")?;
    if env.n < 64 {
        expect_errno(smp::sched_setaffinity(0, 1 << env.n), EINVAL)
            .context("setaffinity(offline CPU only)")?;
    }
    let now = smp::sched_getaffinity(0).context("getaffinity")?;
    if now != mine {
        return Err(format!(
            "refused calls changed the mask {mine:#x} -> {now:#x}"
        ));
    }
    // A thread that has ended.
    let h = spawn(|| thread::gettid().unwrap_or(0))?;
    let gone = join(h)?;
    expect_errno(smp::sched_setaffinity(gone, 1), ESRCH).context("setaffinity(ended thread)")?;
    expect_errno(smp::sched_setaffinity(0x7fff_fff0, 1), ESRCH)
        .context("setaffinity(no such tid)")?;
    // A thread of another process: a child publishes its tid in a shared page.
    let shared = mem::map_anonymous(PAGE_SIZE, true).context("mmap shared")?;
    // SAFETY: `shared` is a fresh shared read-write page; parent and child only use it
    // through this atomic.
    let slot = unsafe { &*(shared as *const AtomicU64) };
    let child = match process::fork() {
        Ok(0) => {
            slot.store(thread::gettid().unwrap_or(0) as u64, Ordering::SeqCst);
            let _ = libway::time::sleep_ms(WAIT_MS);
            process::exit(0)
        }
        Ok(pid) => pid,
        Err(err) => return Err(format!("fork: {err}")),
    };
    let t0 = now_ns();
    while slot.load(Ordering::SeqCst) == 0 && now_ns() - t0 < WAIT_MS * MS {
        let _ = libway::time::sleep_ms(2);
    }
    let tid = slot.load(Ordering::SeqCst) as usize;
    let set = smp::sched_setaffinity(tid, 1);
    let get = smp::sched_getaffinity(tid);
    let _ = process::kill(child, SIGKILL);
    let st = wait_for(child, WAIT_MS);
    // SAFETY: the child is gone and nothing refers to the page any more.
    let _ = unsafe { mem::munmap(shared, PAGE_SIZE) };
    if tid == 0 {
        return Err("the child never published its tid".into());
    }
    expect_errno(set, ESRCH).context("setaffinity(other process's thread)")?;
    expect_errno(get, ESRCH).context("getaffinity(other process's thread)")?;
    expect_signal(st?, SIGKILL)
}

fn bad_smp_info() -> Check {
    for (addr, what) in [(LOW_ADDR, "unmapped"), (KERNEL_ADDR, "kernel-half")] {
        // SAFETY: the kernel must refuse to write to these addresses.
        let r = unsafe { libway::sys::call(libway::abi::sys::SMP_INFO, [addr, 4, 0, 0, 0, 0]) };
        expect_errno(r, EFAULT).context(&format!("smp_info({what} buffer)"))?;
    }
    // A read-only buffer.
    let ro = mem::mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS).context("mmap")?;
    // SAFETY: as above: the kernel must not write through a read-only mapping.
    let r = unsafe { libway::sys::call(libway::abi::sys::SMP_INFO, [ro, 1, 0, 0, 0, 0]) };
    // SAFETY: nothing refers into the mapping.
    let _ = unsafe { mem::munmap(ro, PAGE_SIZE) };
    expect_errno(r, EFAULT).context("smp_info(read-only buffer)")
}

// ---------------------------------------------------------------------------------------
// 9. Joins and exits

fn join_returns_value() -> Check {
    let me = thread::gettid().context("gettid")?;
    let h = spawn(move || (thread::gettid(), 0x00c0_ffee_u64 ^ 0x55))?;
    let tid = h.tid();
    let (got_tid, v) = join(h)?;
    let got_tid = got_tid.context("gettid in thread")?;
    if v != 0x00c0_ffee ^ 0x55 {
        return Err(format!("joined value {v:#x}"));
    }
    if got_tid != tid || tid == me {
        return Err(format!(
            "thread's gettid {got_tid}, thread_create gave {tid}, main is {me}"
        ));
    }
    Ok(())
}

fn join_blocks_until_end() -> Check {
    let t0 = now_ns();
    let h = spawn(|| {
        let _ = libway::time::sleep_ms(200);
        now_ns()
    })?;
    if h.is_finished() {
        return Err("finished at once though it sleeps 200 ms".into());
    }
    let ended = join(h)?;
    let t1 = now_ns();
    if ended < t0 + 200 * MS || t1 < ended {
        return Err(format!(
            "start {t0}, thread end {ended}, join returned {t1} (ns)"
        ));
    }
    Ok(())
}

fn spawn_join_many() -> Check {
    const COUNT: u64 = 64;
    let mut sum = 0;
    for i in 0..COUNT {
        let h = spawn(move || i * i)?;
        sum += join(h)?;
    }
    let want = (0..COUNT).map(|i| i * i).sum::<u64>();
    if sum == want {
        Ok(())
    } else {
        Err(format!("sum {sum}, expected {want}"))
    }
}

/// The main thread leaves with `thread_exit(4)`; the last thread's `thread_exit(9)` is
/// the process's status.
fn last_thread_exit_code() -> Check {
    let st = run_child(|| {
        match thread::spawn(|| {
            let _ = libway::time::sleep_ms(100);
            thread::exit(9)
        }) {
            Ok(h) => core::mem::forget(h),
            Err(_) => return 2,
        }
        thread::exit(4)
    })?;
    expect_exit(st, 9)
}

/// `exit(7)` in a second thread ends the process while main sleeps in a futex.
fn exit_from_thread() -> Check {
    let st = run_child(|| {
        if thread::spawn(|| {
            let _ = libway::time::sleep_ms(50);
            process::exit(7)
        })
        .is_err()
        {
            return 2;
        }
        let word = AtomicU32::new(0);
        let _ = futex_wait(&word, 0, WAIT_MS * MS);
        99
    })?;
    expect_exit(st, 7)
}

/// A second thread's null-page read kills the whole process with SIGSEGV.
fn fault_in_thread() -> Check {
    let st = run_child(|| {
        let h = thread::spawn(|| {
            // SAFETY: deliberately faulting: the page below USER_BASE is never mapped.
            unsafe { (LOW_ADDR as *const u64).read_volatile() }
        });
        let Ok(h) = h else {
            return 2;
        };
        if !h.wait_timeout(WAIT_MS * MS) {
            return 3;
        }
        match h.join() {
            Some(_) => 4,
            None => TLB_THREAD_ONLY,
        }
    })?;
    expect_signal(st, SIGSEGV)
}
