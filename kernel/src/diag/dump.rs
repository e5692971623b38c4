//! The serial magic key's reports (`abi::console::MAGIC_KEY`, then `d`, `s` or `?`):
//! what `diagdump` and `kstats` show, printed by the kernel itself so they work when the
//! shell, the console server or a lock-holding program is stuck.
//!
//! The input path ([`request`], interrupt context) only records the command and wakes
//! [`worker`], a kernel thread of the highest class: a report is long, and formatting it
//! in an interrupt handler would hold interrupts off on that CPU for the whole serial
//! write. The worker needs one CPU that is not stuck, and takes no lock it could wait
//! on: every table is try-locked ([`super`]'s `try_only` builders) and a busy one is
//! printed as `(busy)`; the console lock is tried a while, then bypassed. Must never
//! block on anything but its own wake-up.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU8, Ordering};

use wayos_abi::console::{MAGIC_DUMP, MAGIC_HELP, MAGIC_STATS};
use wayos_abi::stats::{IrqStat, THREAD_BLOCKED};

use super::{field, text};
use crate::task::wait_queue::WaitQueue;

/// The reports asked for and not yet printed, one bit each ([`COMMANDS`] order), so
/// keys typed faster than the reports print are not lost.
static PENDING: AtomicU8 = AtomicU8::new(0);
static WOKEN: WaitQueue = WaitQueue::new();
const COMMANDS: [u8; 3] = [MAGIC_DUMP, MAGIC_STATS, MAGIC_HELP];

/// Input path (interrupts off): asks the worker for report `cmd` (`MAGIC_*`).
pub fn request(cmd: u8) {
    if let Some(i) = COMMANDS.iter().position(|&c| c == cmd) {
        PENDING.fetch_or(1 << i, Ordering::Release);
        WOKEN.wake_all();
    }
}

/// Starts the worker; called once at boot, after the scheduler exists.
pub fn start() {
    match crate::task::thread::Thread::kernel(wayos_abi::sched::RT_INFERENCE, worker) {
        Ok(t) => crate::task::sched::make_ready(t),
        Err(_) => log::error!("diag: no memory for the magic-key thread"),
    }
}

fn worker() {
    crate::task::sched::current().set_kernel_wait(crate::task::thread::KernelWait::MagicKey);
    loop {
        let asked = WOKEN.wait_until(|| match PENDING.swap(0, Ordering::AcqRel) {
            0 => None,
            bits => Some(bits),
        });
        for (i, &cmd) in COMMANDS.iter().enumerate() {
            if asked & (1 << i) != 0 {
                report(cmd, &mut Serial);
            }
        }
    }
}

/// Writes to the serial line under the console lock if it comes free soon, else without
/// it (a holder that is stuck must not silence the report).
struct Serial;

impl Write for Serial {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        crate::console::write_str_trying(s);
        Ok(())
    }
}

/// Writes report `cmd` (`MAGIC_DUMP`, `MAGIC_STATS`, `MAGIC_HELP`) to `out`, reading
/// everything with try-locks only.
pub fn report(cmd: u8, out: &mut impl Write) {
    let _ = match cmd {
        MAGIC_DUMP => dump(out),
        MAGIC_STATS => stats(out),
        MAGIC_HELP => help(out),
        _ => Ok(()),
    };
}

fn help(out: &mut impl Write) -> fmt::Result {
    writeln!(out, "\nmagic key (Ctrl-]) then:")?;
    writeln!(out, "  d  diagdump: processes, threads, locks, run queues")?;
    writeln!(out, "  s  kstats: counters since boot")?;
    writeln!(out, "  ?  this help; Ctrl-] again types a Ctrl-]")
}

fn stats(out: &mut impl Write) -> fmt::Result {
    let k = super::kstats(true);
    writeln!(out, "\n== kstats (kernel, magic key) ==")?;
    writeln!(
        out,
        "uptime {}.{:03} s, {} cpus, {} processes, {} threads",
        k.uptime_ns / 1_000_000_000,
        k.uptime_ns / 1_000_000 % 1000,
        k.cpus,
        k.processes,
        k.threads
    )?;
    writeln!(
        out,
        "syscalls {}  page faults {} ({} fatal)  switches {}  ipc messages {}  interrupts {}",
        k.syscalls,
        k.page_faults,
        k.page_faults_fatal,
        k.context_switches,
        k.ipc_messages,
        k.interrupts
    )?;
    writeln!(
        out,
        "memory {} KiB total, {} KiB free; heap {} KiB used of {} KiB",
        k.mem_total >> 10,
        k.mem_free >> 10,
        k.heap_used >> 10,
        k.heap_size >> 10
    )?;
    irqs(out)?;
    writeln!(out, "== end ==")
}

fn irqs(out: &mut impl Write) -> fmt::Result {
    let mut irqs = [IrqStat::default(); crate::counters::MAX_IRQ_SOURCES];
    let n = crate::counters::irq_stats(&mut irqs).min(irqs.len());
    write!(out, "interrupts:")?;
    for i in &irqs[..n] {
        write!(out, " {} {}", text(&i.name), i.count)?;
    }
    writeln!(out)
}

fn dump(out: &mut impl Write) -> fmt::Result {
    writeln!(out, "\n== diagdump (kernel, magic key) ==")?;
    writeln!(out, "-- processes")?;
    writeln!(out, "  PID  PPID S THR HND PORTS QUEUED FDS    RSS_KB NAME")?;
    let mut res = Ok(());
    let read = super::each_process(true, |p| {
        let s = super::proc_stat(p, true);
        res = res.and(writeln!(
            out,
            "{:>5} {:>5} {} {:>3} {:>3} {:>5} {:>6} {:>3} {:>9} {}",
            s.pid,
            s.ppid,
            s.state as char,
            s.threads,
            s.handles,
            s.ports,
            s.queued,
            s.fds,
            s.rss >> 10,
            text(&s.name)
        ));
    });
    res?;
    if !read {
        writeln!(out, "  (busy: the process table is locked)")?;
    }
    writeln!(out, "-- threads")?;
    writeln!(out, "  TID   PID CPU CL S WAIT")?;
    let mut res = Ok(());
    let complete = super::each_thread(true, |t| {
        let s = super::thread_stat(t);
        let wait = if s.state == THREAD_BLOCKED {
            text(&s.wait)
        } else {
            ""
        };
        res = res.and(writeln!(
            out,
            "{:>5} {:>5} {:>3} {:>2} {} {}",
            s.tid, s.pid, s.cpu, s.class, s.state as char, wait
        ));
    });
    res?;
    if !complete {
        writeln!(out, "  (busy: some thread lists are locked)")?;
    }
    writeln!(out, "-- locks")?;
    let mut res = Ok(());
    super::lock_stats(&mut |l| {
        let holder = if l.holder_cpu == u32::MAX {
            field::<24>("free")
        } else {
            let mut f = [0u8; 24];
            let mut w = FieldWriter(&mut f, 0);
            let _ = write!(w, "cpu{} tid {}", l.holder_cpu, l.holder_tid);
            f
        };
        res = res.and(writeln!(
            out,
            "  {:<14} {:<16} acquired {} contended {}",
            text(&l.name),
            text(&holder),
            l.acquired,
            l.contended
        ));
    });
    res?;
    writeln!(out, "-- run queues")?;
    for cpu in 0..crate::smp::online() {
        let c = super::cpu_stat(cpu, true);
        writeln!(
            out,
            "  cpu{}: running tid {} ready {} switches {} interrupts {}",
            c.cpu, c.current, c.ready, c.switches, c.interrupts
        )?;
    }
    irqs(out)?;
    writeln!(out, "== end ==")
}

/// Formats into a fixed field, cutting what does not fit (keeps a NUL at the end).
struct FieldWriter<'a>(&'a mut [u8], usize);

impl Write for FieldWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.0.len().saturating_sub(1 + self.1);
        let n = s.len().min(room);
        self.0[self.1..self.1 + n].copy_from_slice(&s.as_bytes()[..n]);
        self.1 += n;
        Ok(())
    }
}
