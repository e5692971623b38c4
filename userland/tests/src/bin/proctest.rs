//! `proctest`: processes and scheduling as user programs see them.
//!
//! Checks zombies and reaping, WNOHANG, orphans re-parented to init, execve passing argv
//! and envp, nanosleep really sleeping, timer preemption of a busy process, priority
//! classes, FP/SIMD registers surviving context switches, a memory hog being killed
//! without harm to the kernel, and the kernel log ring (`klog_read`) naming a killed
//! child and returning only whole lines. Expected values are computed here, independently
//! of the kernel (patterns, exit codes, elapsed-time bounds, pids, line splits).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;

use libway::abi::{mman, sched, wait::WNOHANG};
use libway::process;
use libway::suite::{expect_exit, in_child, wait_for, Check, Context, Suite, CHILD_TIMEOUT_MS};
use libway::time::{monotonic_ns, sleep_ms};
use libway::Args;

libway::entry!(main);

const SELF: &str = "/bin/proctest";
const EXEC_CHILD: &str = "exec-child";
const FAULT_CHILD: &str = "fault-child";
/// Where the fault child reads: below `USER_BASE`, so never mapped.
const FAULT_ADDR: usize = 0x1230;

fn main(args: Args) -> i32 {
    if args.get(1) == Some(EXEC_CHILD) {
        return exec_child(&args);
    }
    if args.get(1) == Some(FAULT_CHILD) {
        return fault_child();
    }
    let mut s = Suite::new("proctest");
    s.check("zombie_is_reaped_once", zombie_is_reaped_once());
    s.check("wnohang_does_not_block", wnohang_does_not_block());
    s.check("orphans_go_to_init", orphans_go_to_init());
    s.check("execve_passes_args_and_env", execve_passes_args_and_env());
    s.check("nanosleep_sleeps", nanosleep_sleeps());
    s.check("busy_process_is_preempted", busy_process_is_preempted());
    s.check("priority_classes", priority_classes());
    // Classes above normal need the `rtprio` capability (docs/security.md), which the
    // shell's user set lacks.
    if libway::caps::has(libway::caps::SET_RT_PRIORITY) {
        s.check("high_class_runs_first", high_class_runs_first());
    } else {
        s.skip(
            "high_class_runs_first (needs rtprio)",
            "the shell's user set lacks it: run under cargo xtask test",
        );
    }
    s.check(
        "fp_registers_survive_switches",
        fp_registers_survive_switches(),
    );
    s.check("memory_hog_is_killed", memory_hog_is_killed());
    s.check("klog_names_killed_child", klog_names_killed_child());
    s.check(
        "klog_small_buffer_whole_lines",
        klog_small_buffer_whole_lines(),
    );
    s.finish()
}

fn zombie_is_reaped_once() -> Check {
    let pid = match process::fork() {
        Ok(0) => process::exit(7),
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    // Let it become a zombie before anyone waits.
    let _ = sleep_ms(30);
    let (got, status) = process::waitpid(pid as isize, 0).context("wait")?;
    if got != pid {
        return Err(format!("wait returned {got}, expected {pid}"));
    }
    expect_exit(status, 7)?;
    match process::waitpid(pid as isize, 0) {
        Err(e) if e.code() == libway::abi::errno::ECHILD => Ok(()),
        other => Err(format!("second wait: {other:?}, expected ECHILD")),
    }
}

fn wnohang_does_not_block() -> Check {
    let pid = match process::fork() {
        Ok(0) => {
            let _ = sleep_ms(100);
            process::exit(3)
        }
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    match process::waitpid(pid as isize, WNOHANG) {
        Ok((0, _)) => {}
        other => return Err(format!("WNOHANG on a running child gave {other:?}")),
    }
    expect_exit(wait_for(pid, CHILD_TIMEOUT_MS)?, 3)
}

/// A fresh MAP_SHARED page, for children to report through.
fn shared_page() -> Result<usize, alloc::string::String> {
    let flags = mman::MAP_SHARED | mman::MAP_ANONYMOUS;
    libway::mem::mmap(
        0,
        mman::PAGE_SIZE,
        mman::PROT_READ | mman::PROT_WRITE,
        flags,
    )
    .context("mmap")
}

/// A child forks a grandchild and exits; the grandchild must see init (pid 1) as its
/// parent and reports that through a shared page.
fn orphans_go_to_init() -> Check {
    let page = shared_page()?;
    let slot = page as *mut usize;
    // SAFETY: `page` is a fresh shared RW page of this process.
    unsafe { slot.write_volatile(usize::MAX) };
    let status = in_child(|| match process::fork() {
        Ok(0) => {
            for _ in 0..500 {
                if process::getppid() == Ok(1) {
                    break;
                }
                let _ = sleep_ms(2);
            }
            let ppid = process::getppid().unwrap_or(0);
            // SAFETY: the shared page is inherited across fork.
            unsafe { slot.write_volatile(ppid) };
            process::exit(0)
        }
        Ok(_) => 0,
        Err(_) => 1,
    })?;
    expect_exit(status, 0)?;
    for _ in 0..1000 {
        // SAFETY: as above.
        let v = unsafe { slot.read_volatile() };
        if v != usize::MAX {
            return if v == 1 {
                Ok(())
            } else {
                Err(format!("the orphan's parent is {v}, expected init (1)"))
            };
        }
        let _ = sleep_ms(2);
    }
    Err("the grandchild never reported".into())
}

fn exec_child(args: &Args) -> i32 {
    let ok = args.len() == 3
        && args.get(2) == Some("two words é")
        && libway::env::var("WAYOS_T") == Some("1=2");
    if ok {
        42
    } else {
        1
    }
}

fn execve_passes_args_and_env() -> Check {
    let status = in_child(|| {
        let e = process::execve(SELF, &[SELF, EXEC_CHILD, "two words é"], &["WAYOS_T=1=2"]);
        libway::eprintln!("proctest: execve failed: {e}");
        2
    })?;
    expect_exit(status, 42)
}

fn nanosleep_sleeps() -> Check {
    let t0 = monotonic_ns().context("clock")?;
    sleep_ms(50).context("sleep")?;
    let dt = monotonic_ns().context("clock")? - t0;
    if (50_000_000..5_000_000_000).contains(&dt) {
        Ok(())
    } else {
        Err(format!("a 50 ms sleep took {dt} ns"))
    }
}

/// A child spins for a long time without yielding; the parent's short sleep must still
/// end long before the child's spin does, which only timer preemption allows.
fn busy_process_is_preempted() -> Check {
    const SPIN_NS: u64 = 2_000_000_000;
    let pid = match process::fork() {
        Ok(0) => {
            let t0 = monotonic_ns().unwrap_or(0);
            while monotonic_ns().unwrap_or(u64::MAX) - t0 < SPIN_NS {
                core::hint::spin_loop();
            }
            process::exit(0)
        }
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    let t0 = monotonic_ns().context("clock")?;
    let _ = sleep_ms(20);
    let dt = monotonic_ns().context("clock")? - t0;
    let child_done = process::waitpid(pid as isize, WNOHANG).map(|(p, _)| p == pid);
    expect_exit(wait_for(pid, CHILD_TIMEOUT_MS)?, 0)?;
    if child_done == Ok(true) {
        return Err("the busy child finished before the sleeper ran again".into());
    }
    if dt < SPIN_NS / 2 {
        Ok(())
    } else {
        Err(format!("a 20 ms sleep took {dt} ns next to a busy process"))
    }
}

/// set_priority returns the previous class.
fn priority_classes() -> Check {
    let prev = process::set_priority(sched::LOW).context("set LOW")?;
    let back = process::set_priority(prev).context("restore")?;
    if prev != sched::NORMAL || back != sched::LOW {
        return Err(format!("classes reported {prev} then {back}"));
    }
    Ok(())
}

/// A HIGH child runs to completion before its NORMAL parent gets the CPU back, so its
/// shared-page stamp is written first.
fn high_class_runs_first() -> Check {
    // Classes order the threads of one CPU; on several CPUs the two would simply run
    // side by side. Pin this process (the child inherits it) to one CPU for the check.
    let mask = libway::smp::sched_getaffinity(0).context("getaffinity")?;
    libway::smp::pin_to(0).context("pin to CPU 0")?;
    let r = priority_order();
    libway::smp::sched_setaffinity(0, mask).context("restore affinity")?;
    r
}

/// A HIGH child writes before its NORMAL parent, both on one CPU.
fn priority_order() -> Check {
    let page = shared_page()?;
    let order = page as *mut u32;
    // SAFETY: a fresh shared RW page.
    unsafe { order.write_volatile(0) };
    let pid = match process::fork() {
        Ok(0) => {
            let _ = process::set_priority(sched::HIGH);
            // Give the parent every chance to run if classes were ignored.
            for _ in 0..20 {
                let _ = process::sched_yield();
            }
            // SAFETY: shared page inherited across fork.
            unsafe { order.write_volatile(order.read_volatile() * 10 + 1) };
            process::exit(0)
        }
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    for _ in 0..20 {
        let _ = process::sched_yield();
    }
    // SAFETY: as above.
    unsafe { order.write_volatile(order.read_volatile() * 10 + 2) };
    expect_exit(wait_for(pid, CHILD_TIMEOUT_MS)?, 0)?;
    // SAFETY: as above.
    match unsafe { order.read_volatile() } {
        12 => Ok(()),
        v => Err(format!(
            "write order {v}, expected the HIGH child first (12)"
        )),
    }
}

/// Fills the FP/SIMD registers with a pattern derived from `seed`, yields many times (so
/// other processes with other patterns run in between), and checks the registers.
fn fp_roundtrip(seed: u64) -> bool {
    let mut out = [0u64; 2];
    for round in 0..50u64 {
        let v = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ round;
        set_fp(v);
        let _ = process::sched_yield();
        get_fp(&mut out);
        if out != [v, !v] {
            return false;
        }
    }
    true
}

#[cfg(target_arch = "x86_64")]
fn set_fp(v: u64) {
    let pair = [v, !v];
    // SAFETY: loads 16 bytes from a local array into xmm8 and xmm15, which nothing else in
    // this program uses (it is compiled soft-float), so only a context switch can change them.
    unsafe {
        core::arch::asm!("movdqu xmm8, [{p}]", "movdqu xmm15, [{p}]", p = in(reg) pair.as_ptr(), out("xmm8") _, out("xmm15") _);
    }
}

#[cfg(target_arch = "x86_64")]
fn get_fp(out: &mut [u64; 2]) {
    let mut a = [0u64; 2];
    let mut b = [0u64; 2];
    // SAFETY: stores xmm8/xmm15 into local arrays.
    unsafe {
        core::arch::asm!("movdqu [{a}], xmm8", "movdqu [{b}], xmm15", a = in(reg) a.as_mut_ptr(), b = in(reg) b.as_mut_ptr());
    }
    *out = if a == b { a } else { [0, 0] };
}

#[cfg(target_arch = "aarch64")]
fn set_fp(v: u64) {
    // SAFETY: writes v8..v31's low lanes through general registers; nothing but the
    // context switch may change them until get_fp reads them back.
    unsafe {
        core::arch::asm!(
            "fmov d20, {lo}", "mov v20.d[1], {hi}", "fmov d31, {lo}", "mov v31.d[1], {hi}",
            lo = in(reg) v, hi = in(reg) !v, out("v20") _, out("v31") _,
        );
    }
}

#[cfg(target_arch = "aarch64")]
fn get_fp(out: &mut [u64; 2]) {
    let (lo, hi, lo2, hi2): (u64, u64, u64, u64);
    // SAFETY: reads v20/v31 into general registers.
    unsafe {
        core::arch::asm!(
            "fmov {lo}, d20", "mov {hi}, v20.d[1]", "fmov {lo2}, d31", "mov {hi2}, v31.d[1]",
            lo = out(reg) lo, hi = out(reg) hi, lo2 = out(reg) lo2, hi2 = out(reg) hi2,
        );
    }
    *out = if (lo, hi) == (lo2, hi2) {
        [lo, hi]
    } else {
        [0, 0]
    };
}

fn fp_registers_survive_switches() -> Check {
    let pid = match process::fork() {
        Ok(0) => process::exit(if fp_roundtrip(0xc0ffee) { 0 } else { 1 }),
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    let mine = fp_roundtrip(0xdecaf);
    let theirs = wait_for(pid, CHILD_TIMEOUT_MS)?;
    if !mine {
        return Err("the parent's FP registers changed across a switch".into());
    }
    expect_exit(theirs, 0).context("child")
}

/// A child that touches more memory than the machine has is killed (SIGKILL, out of
/// memory) instead of taking the kernel down; afterwards the memory is back and the
/// system still forks.
fn memory_hog_is_killed() -> Check {
    const HOG: usize = 4 << 30;
    let status = in_child(|| {
        let flags = mman::MAP_PRIVATE | mman::MAP_ANONYMOUS;
        let Ok(base) = libway::mem::mmap(0, HOG, mman::PROT_READ | mman::PROT_WRITE, flags) else {
            return 3;
        };
        let mut off = 0;
        while off < HOG {
            // SAFETY: inside the private mapping just made.
            unsafe { ((base + off) as *mut u8).write_volatile(1) };
            off += mman::PAGE_SIZE;
        }
        4
    })?;
    if !status.killed_by(libway::abi::signal::SIGKILL) {
        return Err(format!("the hog {status}, expected killed by SIGKILL"));
    }
    expect_exit(in_child(|| 0)?, 0).context("after the hog")
}

/// Reads [`FAULT_ADDR`]; the kernel must kill this process with SIGSEGV.
fn fault_child() -> i32 {
    let p = core::hint::black_box(FAULT_ADDR as *const u8);
    // SAFETY: deliberately invalid: this process exists to be killed by the fault.
    let v = unsafe { p.read_volatile() };
    core::hint::black_box(v);
    77
}

/// A spawned child faults; the kernel log must then hold the kill line naming its pid (as
/// spawn returned it), this program and the faulting address, in the logger's format.
fn klog_names_killed_child() -> Check {
    let pid = process::spawn(SELF, &[SELF, FAULT_CHILD], &[]).context("spawn")?;
    let status = wait_for(pid, CHILD_TIMEOUT_MS)?;
    if !status.killed_by(libway::abi::signal::SIGSEGV) {
        return Err(format!(
            "the fault child {status}, expected killed by SIGSEGV"
        ));
    }
    let log = libway::klog::read_all().context("klog_read")?;
    if log.last() != Some(&b'\n') {
        return Err(format!("{} bytes not ending in a newline", log.len()));
    }
    let log = core::str::from_utf8(&log).context("log is not UTF-8")?;
    let who = format!(" pid {pid} ({SELF}, thread ");
    let what = format!(") killed by SIGSEGV: page fault at {FAULT_ADDR:#x} (unmapped, ");
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains(&who))
        .ok_or_else(|| format!("no line contains {who:?}"))?;
    let formatted = line.starts_with('[') && line.contains("] WARN  cpu");
    if formatted && line.contains(&what) {
        Ok(())
    } else {
        Err(format!(
            "kill line {line:?}, expected \"[..] WARN  cpuN ..{who}..{what}..\""
        ))
    }
}

/// The newest whole lines of `log` that fit in `len` bytes: what `klog_read` must return
/// for a `len`-byte buffer.
fn newest_lines(log: &[u8], len: usize) -> Vec<u8> {
    let lines: Vec<&[u8]> = log.split_inclusive(|&b| b == b'\n').collect();
    let mut size = 0;
    let mut first = lines.len();
    while first > 0 && size + lines[first - 1].len() <= len {
        size += lines[first - 1].len();
        first -= 1;
    }
    lines[first..].concat()
}

/// A buffer that ends in the middle of the second-newest line gets just the newest line;
/// one too small for any line gets nothing; len 0 is 0. Compared against the full log,
/// read before and after (retried if a new line arrived in between).
fn klog_small_buffer_whole_lines() -> Check {
    let read = |len: usize| -> Result<Vec<u8>, alloc::string::String> {
        let mut buf = alloc::vec![0u8; len];
        let n = libway::klog::read(&mut buf).map_err(|e| format!("klog_read({len}): {e}"))?;
        if n > len {
            return Err(format!("klog_read({len}) returned {n}"));
        }
        buf.truncate(n);
        Ok(buf)
    };
    for _ in 0..10 {
        let before = libway::klog::read_all().context("klog_read")?;
        let lines: Vec<&[u8]> = before.split_inclusive(|&b| b == b'\n').collect();
        let [.., prev, last] = lines[..] else {
            return Err(format!("only {} line(s) in the log", lines.len()));
        };
        let small = last.len() + prev.len() - 1;
        let got = [read(small)?, read(1)?, read(0)?];
        let after = libway::klog::read_all().context("klog_read")?;
        if before != after {
            continue;
        }
        let want = [newest_lines(&before, small), Vec::new(), Vec::new()];
        return if got == want {
            Ok(())
        } else {
            Err(format!(
                "{small}-, 1- and 0-byte reads gave {:?}, expected {:?}",
                got.map(|g| alloc::string::String::from_utf8_lossy(&g).into_owned()),
                want.map(|w| alloc::string::String::from_utf8_lossy(&w).into_owned()),
            ))
        };
    }
    Err("the log changed during every attempt".into())
}
