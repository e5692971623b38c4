//! `diagtest`: the diagnostics commands and the `stats` syscall, checked for content.
//!
//! `kstats` and `stats(KIND_SYSCALLS)` count exactly the `sched_getaffinity` calls made
//! in between (no other program makes that call); a child blocked in `port_recv` shows in
//! `diagdump`'s thread list with that wait, and its port in the process and handle
//! lists; `free -b` agrees with `stats(KIND_MEM)`, and free memory drops by a touched
//! mapping's size and comes back when it is unmapped; `version`'s arch is `uname`'s;
//! `dmesg` prints the newest kernel log lines; the named kernel locks are listed and
//! counted; interrupt and CPU records move; a bad kind is `EINVAL`, bad buffers
//! `EFAULT`, and a short buffer gets whole records only with the true total. Under the
//! harness, the serial magic key's reports (printed by the kernel itself while this
//! suite, not reading input, waits) are checked on the console.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::console::{MAGIC_DUMP, MAGIC_HELP, MAGIC_KEY, MAGIC_STATS};
use libway::abi::errno::{EFAULT, EINVAL};
use libway::abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE};
use libway::abi::stats::{
    ProcStat, KIND_COUNT, KIND_LOCKS, KIND_PROCS, KIND_SYSCALLS, THREAD_BLOCKED,
};
use libway::abi::sys;
use libway::ipc::{Message, Port, Timeout};
use libway::process;
use libway::stats::{self, text};
use libway::suite::{
    expect_eq, expect_errno, run_captured, wait_for, Captured, Check, Context, Suite,
};
use libway::{smp, Args};

libway::entry!(main);

const ENV: [&str; 2] = ["PATH=/bin", "HOME=/"];

fn main(_args: Args) -> i32 {
    let mut s = Suite::new("diagtest");
    s.check("stats_syscall_count_exact", stats_syscall_count_exact());
    s.check("kstats_syscall_count_exact", kstats_syscall_count_exact());
    s.check("kstats_lists_counters", kstats_lists_counters());
    s.check("blocked_child_in_diagdump", blocked_child_in_diagdump());
    s.check("free_matches_stats_mem", free_matches_stats_mem());
    s.check(
        "free_drops_when_memory_touched",
        free_drops_when_memory_touched(),
    );
    s.check("version_arch_is_uname", version_arch_is_uname());
    s.check("dmesg_prints_newest_klog", dmesg_prints_newest_klog());
    s.check("locks_named_and_counted", locks_named_and_counted());
    s.check("irqs_and_cpus_move", irqs_and_cpus_move());
    s.check("bad_kind_einval", bad_kind_einval());
    s.check("bad_buffer_efault", bad_buffer_efault());
    s.check("short_buffer_whole_records", short_buffer_whole_records());
    s.typed_checks("magic key reports", |s| {
        // The harness types the key while this suite waits without reading input; the
        // kernel's own report must appear on the console.
        let key = |c: u8| [MAGIC_KEY, c];
        s.check(
            "magic_key_dump",
            s.request_typing(
                &key(MAGIC_DUMP),
                Some(b"== diagdump (kernel, magic key) =="),
            ),
        );
        s.check(
            "magic_key_stats",
            s.request_typing(&key(MAGIC_STATS), Some(b"== kstats (kernel, magic key) ==")),
        );
        s.check(
            "magic_key_help",
            s.request_typing(&key(MAGIC_HELP), Some(b"magic key (Ctrl-]) then:")),
        );
        // Give the reports time to print before the result line.
        let _ = libway::time::sleep_ms(1500);
    });
    s.finish()
}

/// Runs `/bin/<prog> args...` with output captured; expects exit 0 and no stderr.
fn run(prog: &str, args: &[&str]) -> Result<String, String> {
    let path = format!("/bin/{prog}");
    let mut argv = vec![prog];
    argv.extend_from_slice(args);
    let r: Captured = run_captured(&path, &argv, &ENV, "diagtest")?;
    if !r.status.exited_with(0) || !r.err.is_empty() {
        return Err(format!("{prog}: {}, stderr {:?}", r.status, r.err));
    }
    Ok(r.out)
}

/// The count `kstats` prints for syscall `name` (0 when it lists no line: never called).
fn kstats_count(out: &str, name: &str) -> Result<u64, String> {
    let mut in_list = false;
    for line in out.lines() {
        if line == "syscalls by number:" {
            in_list = true;
            continue;
        }
        if line.ends_with(':') {
            in_list = false;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if in_list && words.len() == 3 && words[1] == name {
            return words[2]
                .parse()
                .map_err(|_| format!("kstats line {line:?}"));
        }
    }
    if in_list || out.contains("syscalls by number:") {
        Ok(0)
    } else {
        Err(format!("no syscall list in {out:?}"))
    }
}

const CALLS: u64 = 7;

fn affinity_calls() -> Check {
    for _ in 0..CALLS {
        smp::sched_getaffinity(0).context("sched_getaffinity")?;
    }
    Ok(())
}

fn stats_syscall_count_exact() -> Check {
    let before = stats::syscalls().context("stats(KIND_SYSCALLS)")?;
    expect_eq(before.len(), sys::COUNT).context("one count per number")?;
    affinity_calls()?;
    let after = stats::syscalls().context("stats(KIND_SYSCALLS)")?;
    let n = sys::SCHED_GETAFFINITY;
    expect_eq(after[n] - before[n], CALLS).context("sched_getaffinity count")?;
    // The stats calls themselves are counted: at least the one made in between.
    if after[sys::STATS] <= before[sys::STATS] {
        return Err(format!(
            "stats count did not rise: {} -> {}",
            before[sys::STATS],
            after[sys::STATS]
        ));
    }
    let k = stats::kernel().context("stats(KIND_KERNEL)")?;
    let sum: u64 = after.iter().sum();
    if k.syscalls < sum {
        return Err(format!(
            "total {} below the sum {sum} read before it",
            k.syscalls
        ));
    }
    Ok(())
}

fn kstats_syscall_count_exact() -> Check {
    let name = sys::name(sys::SCHED_GETAFFINITY).ok_or("no name")?;
    let a = kstats_count(&run("kstats", &[])?, name)?;
    affinity_calls()?;
    let b = kstats_count(&run("kstats", &[])?, name)?;
    expect_eq(b - a, CALLS).context("kstats' sched_getaffinity count")
}

/// The value after `label` on a `label: value` line of `out`.
fn value_of<'a>(out: &'a str, label: &str) -> Result<&'a str, String> {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .ok_or_else(|| format!("no {label:?} line in {out:?}"))
}

fn number(s: &str) -> Result<u64, String> {
    s.split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("not a number: {s:?}"))
}

fn kstats_lists_counters() -> Check {
    let before = stats::kernel().context("stats(KIND_KERNEL)")?;
    let out = run("kstats", &["-a"])?;
    let after = stats::kernel().context("stats(KIND_KERNEL)")?;
    for (label, lo, hi) in [
        ("syscalls:", before.syscalls, after.syscalls),
        (
            "context switches:",
            before.context_switches,
            after.context_switches,
        ),
        ("ipc messages:", before.ipc_messages, after.ipc_messages),
        ("interrupts:", before.interrupts, after.interrupts),
        ("page faults:", before.page_faults, after.page_faults),
    ] {
        let v = number(value_of(&out, label)?)?;
        if v < lo || v > hi {
            return Err(format!("{label} {v} not within [{lo}, {hi}]"));
        }
    }
    // kstats itself ran: its page faults and syscalls were counted in between.
    if after.page_faults <= before.page_faults || after.syscalls <= before.syscalls {
        return Err("a program ran without page faults or syscalls counted".into());
    }
    expect_eq(number(value_of(&out, "cpus:")?)?, after.cpus).context("cpus")?;
    expect_eq(after.cpus, smp::cpu_count().context("cpu_count")? as u64)
        .context("cpus against smp_info")?;
    // -a names every number the ABI has.
    for &(num, name) in sys::NAMES {
        let want = format!("{num} {name}");
        if !out
            .lines()
            .any(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" ") == want)
        {
            return Err(format!("kstats -a lacks {want:?}"));
        }
    }
    if !out.contains("interrupts by source:") || !out.contains("timer") {
        return Err(format!("no interrupt sources in {out:?}"));
    }
    Ok(())
}

fn blocked_child_in_diagdump() -> Check {
    let pid = match process::fork().context("fork")? {
        0 => {
            let code = match Port::create(4) {
                Ok(port) => {
                    let mut m = Message::new(0);
                    // Blocks until killed: nothing sends here.
                    let _ = port.recv(&mut m, Timeout::Forever);
                    3
                }
                Err(_) => 2,
            };
            process::exit(code);
        }
        pid => pid,
    };
    let result = check_blocked(pid);
    let _ = process::kill(pid, libway::abi::signal::SIGKILL);
    let _ = wait_for(pid, 10_000);
    result
}

fn check_blocked(pid: usize) -> Check {
    // Wait (bounded) until the child's thread has blocked in port_recv.
    let mut seen = false;
    for _ in 0..200 {
        let threads = stats::threads().context("stats(KIND_THREADS)")?;
        seen = threads.iter().any(|t| {
            t.pid as usize == pid && t.state == THREAD_BLOCKED && text(&t.wait) == "port_recv"
        });
        if seen {
            break;
        }
        let _ = libway::time::sleep_ms(10);
    }
    if !seen {
        return Err(format!("child {pid} never showed blocked in port_recv"));
    }
    let procs = stats::procs().context("stats(KIND_PROCS)")?;
    let p: &ProcStat = procs
        .iter()
        .find(|p| p.pid as usize == pid)
        .ok_or("child not in KIND_PROCS")?;
    expect_eq(p.ports, 1).context("child's ports")?;
    expect_eq(p.state, b'S').context("child's state")?;
    expect_eq(p.ppid as usize, process::getpid().context("getpid")?).context("ppid")?;
    let handles = stats::handles().context("stats(KIND_HANDLES)")?;
    if !handles
        .iter()
        .any(|h| h.pid as usize == pid && text(&h.kind) == "port" && h.object != 0)
    {
        return Err("the child's port is not in KIND_HANDLES".into());
    }
    let out = run("diagdump", &[])?;
    for section in [
        "== processes",
        "== threads",
        "== handles",
        "== locks",
        "== run queues",
    ] {
        if !out.lines().any(|l| l == section) {
            return Err(format!("diagdump has no {section:?} section"));
        }
    }
    let pid_s = format!("{pid}");
    let thread_line = out.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.len() == 6 && w[1] == pid_s && w[4] == "S" && w[5] == "port_recv"
    });
    if !thread_line {
        return Err(format!(
            "no thread of {pid} waiting in port_recv in {out:?}"
        ));
    }
    let proc_line = out.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.len() >= 12 && w[0] == pid_s && w[2] == "S" && w[5] == "1"
    });
    if !proc_line {
        return Err(format!(
            "no process line for {pid} with one port in {out:?}"
        ));
    }
    Ok(())
}

/// `free -b`'s Mem: row: total, used, free, shared, buff/cache, available.
fn free_row(out: &str) -> Result<[u64; 6], String> {
    let line = out
        .lines()
        .find(|l| l.starts_with("Mem:"))
        .ok_or_else(|| format!("no Mem: row in {out:?}"))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|w| w.parse().map_err(|_| format!("bad number in {line:?}")))
        .collect::<Result<_, _>>()?;
    v.try_into().map_err(|_| format!("Mem: row {line:?}"))
}

fn free_matches_stats_mem() -> Check {
    let before = stats::mem().context("stats(KIND_MEM)")?;
    let row = free_row(&run("free", &["-b"])?)?;
    let after = stats::mem().context("stats(KIND_MEM)")?;
    let [total, used, free, shared, cache, _avail] = row;
    expect_eq(total, before.total).context("total")?;
    expect_eq(before.total, before.near_total + before.far_total).context("tiers add up")?;
    expect_eq(used + free + cache, total).context("used + free + buff/cache")?;
    // `free` read while it ran (its own pages in use): at most what was free before and
    // after, and not more than a few MiB less.
    let hi = before.free.max(after.free);
    let lo = before.free.min(after.free).saturating_sub(8 << 20);
    if free > hi || free < lo {
        return Err(format!("free {free} outside [{lo}, {hi}]"));
    }
    if shared > after.tmpfs.max(before.tmpfs) || shared < after.tmpfs.min(before.tmpfs) {
        return Err(format!(
            "shared {shared}, tmpfs {} / {}",
            before.tmpfs, after.tmpfs
        ));
    }
    // The other units are the same numbers scaled.
    let k = free_row(&run("free", &["-k"])?)?;
    expect_eq(k[0], total >> 10).context("free -k total")?;
    let m = free_row(&run("free", &["-m"])?)?;
    expect_eq(m[0], total >> 20).context("free -m total")
}

const TOUCH_BYTES: usize = 8 << 20;

fn free_drops_when_memory_touched() -> Check {
    let f0 = stats::mem().context("stats(KIND_MEM)")?.free;
    let cli0 = free_row(&run("free", &["-b"])?)?[2];
    let addr = libway::mem::mmap(
        0,
        TOUCH_BYTES,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
    )
    .context("mmap")?;
    let pages = TOUCH_BYTES / PAGE_SIZE;
    for i in 0..pages {
        // SAFETY: the mapping is ours, read-write, `TOUCH_BYTES` long; each write
        // lands inside it.
        unsafe { core::ptr::write_volatile((addr + i * PAGE_SIZE) as *mut u8, 1) };
    }
    let f1 = stats::mem().context("stats(KIND_MEM)")?.free;
    let cli1 = free_row(&run("free", &["-b"])?)?[2];
    // SAFETY: no reference into the mapping exists.
    unsafe { libway::mem::munmap(addr, TOUCH_BYTES) }.context("munmap")?;
    let f2 = stats::mem().context("stats(KIND_MEM)")?.free;
    let want = TOUCH_BYTES as u64;
    let slack = 2 << 20;
    let drop = f0.saturating_sub(f1);
    if drop < want || drop > want + slack {
        return Err(format!(
            "stats free dropped by {drop}, want {want} (+{slack})"
        ));
    }
    let cli_drop = cli0.saturating_sub(cli1);
    if cli_drop < want - (1 << 20) || cli_drop > want + slack {
        return Err(format!(
            "free -b's free dropped by {cli_drop}, want about {want}"
        ));
    }
    if f2 < f1 + want - (1 << 20) {
        return Err(format!(
            "munmap gave back {} of {want}",
            f2.saturating_sub(f1)
        ));
    }
    Ok(())
}

fn version_arch_is_uname() -> Check {
    let out = run("version", &[])?;
    let u = process::uname().context("uname")?;
    let machine = process::field_str(&u.machine);
    expect_eq(value_of(&out, "arch:")?, machine).context("arch")?;
    let v = stats::version().context("stats(KIND_VERSION)")?;
    expect_eq(value_of(&out, "commit:")?, text(&v.commit)).context("commit")?;
    expect_eq(value_of(&out, "loader:")?, text(&v.loader)).context("loader")?;
    expect_eq(
        value_of(&out, "kernel:")?,
        format!("WayOS {}", process::field_str(&u.release)).as_str(),
    )
    .context("kernel version")?;
    let id = value_of(&out, "build id:")?;
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("build id {id:?} is not 16 hex digits"));
    }
    if text(&v.loader).is_empty() || text(&v.commit).is_empty() {
        return Err("empty loader or commit".into());
    }
    let build = value_of(&out, "build:")?;
    if !(build.starts_with("debug rustc ") || build.starts_with("release rustc ")) {
        return Err(format!("build {build:?}"));
    }
    Ok(())
}

fn dmesg_prints_newest_klog() -> Check {
    let log = libway::klog::read_all().context("klog_read")?;
    let log = String::from_utf8_lossy(&log);
    let newest = log.lines().last().ok_or("empty kernel log")?;
    let out = run("dmesg", &[])?;
    if !out.lines().any(|l| l == newest) {
        return Err(format!("dmesg lacks the newest line {newest:?}"));
    }
    // Whole lines in ring order: dmesg's first line is somewhere in the ring we read, and
    // every line of ours from there on is in dmesg's output, in order.
    let first = out.lines().next().ok_or("dmesg printed nothing")?;
    let from = log
        .lines()
        .position(|l| l == first)
        .ok_or_else(|| format!("dmesg's first line {first:?} is not a klog line"))?;
    let mut dm = out.lines();
    for l in log.lines().skip(from) {
        if !dm.any(|d| d == l) {
            return Err(format!("dmesg lacks {l:?} or has it out of order"));
        }
    }
    Ok(())
}

fn locks_named_and_counted() -> Check {
    let find = |name: &str| -> Result<(u64, u32), String> {
        let locks = stats::locks().context("stats(KIND_LOCKS)")?;
        locks
            .iter()
            .find(|l| text(&l.name) == name)
            .map(|l| (l.acquired, l.holder_cpu))
            .ok_or_else(|| format!("no lock {name:?}"))
    };
    for name in [
        "run queues",
        "process table",
        "vfs",
        "console",
        "port queues",
    ] {
        find(name)?;
    }
    let (vfs0, _) = find("vfs")?;
    libway::fs::stat("/").context("stat /")?;
    let (vfs1, holder) = find("vfs")?;
    if vfs1 <= vfs0 {
        return Err(format!("vfs acquisitions {vfs0} -> {vfs1} after an open"));
    }
    // Nobody holds the VFS lock across a syscall's return.
    expect_eq(holder, u32::MAX).context("vfs holder after the call")?;
    let (p0, _) = find("process table")?;
    run("version", &[])?;
    let (p1, _) = find("process table")?;
    if p1 <= p0 {
        return Err(format!(
            "process table acquisitions {p0} -> {p1} after a spawn"
        ));
    }
    Ok(())
}

fn irqs_and_cpus_move() -> Check {
    let timer = |irqs: &[libway::abi::stats::IrqStat]| {
        irqs.iter()
            .find(|i| text(&i.name) == "timer")
            .map(|i| i.count)
    };
    let a = stats::irqs().context("stats(KIND_IRQS)")?;
    for name in ["timer", "serial", "ipi"] {
        if !a.iter().any(|i| text(&i.name) == name) {
            return Err(format!("no interrupt source {name:?}"));
        }
    }
    let c0 = stats::cpus().context("stats(KIND_CPUS)")?;
    let _ = libway::time::sleep_ms(100);
    let b = stats::irqs().context("stats(KIND_IRQS)")?;
    let c1 = stats::cpus().context("stats(KIND_CPUS)")?;
    let (ta, tb) = (timer(&a).unwrap_or(0), timer(&b).unwrap_or(0));
    // 100 Hz per CPU: at least 5 ticks in 100 ms.
    if tb < ta + 5 {
        return Err(format!("timer interrupts {ta} -> {tb} over 100 ms"));
    }
    expect_eq(c1.len(), smp::cpu_count().context("cpu_count")?).context("CPU records")?;
    let ticks = |c: &[libway::abi::stats::CpuStat]| -> u64 {
        c.iter().map(|c| c.busy_ticks + c.idle_ticks).sum()
    };
    if ticks(&c1) <= ticks(&c0) {
        return Err("CPU ticks did not move".into());
    }
    let me = libway::thread::gettid().context("gettid")?;
    if !c1.iter().any(|c| c.current as usize == me) {
        return Err(format!("no CPU runs this thread ({me})"));
    }
    Ok(())
}

fn bad_kind_einval() -> Check {
    let mut buf = [0u8; 64];
    expect_errno(stats::raw(KIND_COUNT, &mut buf), EINVAL).context("KIND_COUNT")?;
    expect_errno(stats::raw(u32::MAX, &mut buf), EINVAL).context("u32::MAX")?;
    // SAFETY: a `what` above u32 is refused before the buffer is looked at; the buffer
    // is ours anyway.
    let wide = unsafe {
        libway::sys::call(
            sys::STATS,
            [1 << 40, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
        )
    };
    expect_errno(wide, EINVAL).context("what past u32")
}

fn bad_buffer_efault() -> Check {
    for (what, addr) in [
        (KIND_PROCS, 0x10usize),
        (KIND_SYSCALLS, usize::MAX - 8),
        (KIND_LOCKS, 0xffff_8000_0000_0000),
    ] {
        // SAFETY: none of these addresses is memory of this program: the kernel must
        // refuse them (EFAULT) without writing anything of ours.
        let r = unsafe { libway::sys::call(sys::STATS, [what as usize, addr, 4096, 0, 0, 0]) };
        expect_errno(r, EFAULT).context(&format!("kind {what} at {addr:#x}"))?;
    }
    // No room asked for: only the count, the pointer unused.
    // SAFETY: length 0: nothing is written.
    let n = unsafe { libway::sys::call(sys::STATS, [KIND_PROCS as usize, 0x10, 0, 0, 0, 0]) }
        .context("len 0")?;
    if n < 2 {
        return Err(format!("{n} processes"));
    }
    Ok(())
}

fn short_buffer_whole_records() -> Check {
    const SIZE: usize = core::mem::size_of::<ProcStat>();
    let total = stats::raw(KIND_PROCS, &mut []).context("count")?;
    // One and a half records of room: one whole record, the rest untouched.
    let mut buf = [0xa5u8; SIZE + SIZE / 2];
    let n = stats::raw(KIND_PROCS, &mut buf).context("short read")?;
    if n < 2 || n.abs_diff(total) > 2 {
        return Err(format!("total {n}, {total} a moment ago"));
    }
    if buf[SIZE..].iter().any(|&b| b != 0xa5) {
        return Err("bytes past the whole record were written".into());
    }
    let pid = u32::from_ne_bytes(buf[..4].try_into().unwrap_or([0; 4]));
    let procs = stats::procs().context("stats(KIND_PROCS)")?;
    expect_eq(pid, procs[0].pid).context("first record's pid")?;
    // Syscall counts: 10 and a bit of room, COUNT in all, 10 written.
    let mut buf = [0xa5u8; 8 * 10 + 5];
    expect_eq(stats::raw(KIND_SYSCALLS, &mut buf), Ok(sys::COUNT)).context("syscalls")?;
    if buf[80..].iter().any(|&b| b != 0xa5) {
        return Err("a partial syscall count was written".into());
    }
    let exit_calls = u64::from_ne_bytes(buf[..8].try_into().unwrap_or([0; 8]));
    if exit_calls == 0 {
        return Err("no exit counted (many programs have exited)".into());
    }
    Ok(())
}
