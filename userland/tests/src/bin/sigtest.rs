//! `sigtest`: signals and process groups as programs see them.
//!
//! Handlers run and return to the interrupted code with its registers intact; masks hold
//! signals pending until unblocked; default actions end or ignore; SIGCHLD, SIGSEGV and
//! SIGPIPE are generated where POSIX says; a signal interrupts a blocked read with EINTR;
//! groups receive `kill(-pgid)`; bad arguments get their errno. Expected values are
//! worked out here (counters the handlers bump, statuses, masks).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use core::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use libway::abi::errno::{EFAULT, EINTR, EINVAL, EPERM, ESRCH};
use libway::abi::signal::{
    SigAction, SIGCHLD, SIGINT, SIGKILL, SIGPIPE, SIGSEGV, SIGSTOP, SIGTERM, SIGUSR1, SIGUSR2,
};
use libway::io;
use libway::process;
use libway::signal::{self, bit, Handler};
use libway::suite::{
    expect_errno, expect_exit, expect_signal, in_child, wait_for, Check, Context, Suite,
};
use libway::time::sleep_ms;
use libway::Args;

libway::entry!(main);

const SELF: &str = "/bin/sigtest";
const GROUP_CHILD: &str = "group-child";
const CHILD_WAIT_MS: u64 = 30_000;

static HITS: AtomicUsize = AtomicUsize::new(0);
static LAST: AtomicI32 = AtomicI32::new(0);

extern "C" fn count(sig: i32) {
    HITS.fetch_add(1, Ordering::SeqCst);
    LAST.store(sig, Ordering::SeqCst);
}

extern "C" fn segv_exit(_sig: i32) {
    process::exit(42);
}

fn main(args: Args) -> i32 {
    if args.get(1) == Some(GROUP_CHILD) {
        loop {
            let _ = sleep_ms(1000);
        }
    }
    let mut s = Suite::new("sigtest");
    s.check("handler_runs_and_returns", handler_runs_and_returns());
    s.check("registers_survive_handler", registers_survive_handler());
    s.check("blocked_signal_waits", blocked_signal_waits());
    s.check("ignored_signal_is_discarded", ignored_signal_is_discarded());
    s.check("default_term_kills", default_term_kills());
    s.check("sigkill_cannot_be_caught", sigkill_cannot_be_caught());
    s.check("sigchld_on_child_exit", sigchld_on_child_exit());
    s.check("sigsegv_handler_on_fault", sigsegv_handler_on_fault());
    s.check("sigpipe_kills_by_default", sigpipe_kills_by_default());
    s.check("sigpipe_ignored_gives_epipe", sigpipe_ignored_gives_epipe());
    s.check("signal_interrupts_read", signal_interrupts_read());
    s.check("handler_reset_by_exec", handler_reset_by_exec());
    s.check("kill_group_reaches_members", kill_group_reaches_members());
    s.check("pgid_calls_and_errors", pgid_calls_and_errors());
    s.check("bad_arguments", bad_arguments());
    s.check("sigreturn_outside_handler", sigreturn_outside_handler());
    s.finish()
}

fn handler_runs_and_returns() -> Check {
    HITS.store(0, Ordering::SeqCst);
    signal::set_handler(SIGUSR1, Handler::Catch(count)).context("sigaction")?;
    signal::raise(SIGUSR1).context("raise")?;
    signal::raise(SIGUSR1).context("raise")?;
    let hits = HITS.load(Ordering::SeqCst);
    signal::set_handler(SIGUSR1, Handler::Default).context("reset")?;
    if hits == 2 && LAST.load(Ordering::SeqCst) == SIGUSR1 {
        Ok(())
    } else {
        Err(format!("handler ran {hits} times, expected 2"))
    }
}

/// A busy loop keeps values in registers while the timer tick delivers signals sent by
/// a child: the sums must come out as computed without interruption.
fn registers_survive_handler() -> Check {
    HITS.store(0, Ordering::SeqCst);
    signal::set_handler(SIGUSR2, Handler::Catch(count)).context("sigaction")?;
    let me = process::getpid().context("getpid")?;
    let child = process::fork().context("fork")?;
    if child == 0 {
        for _ in 0..20 {
            let _ = process::kill(me, SIGUSR2);
            let _ = sleep_ms(2);
        }
        process::exit(0);
    }
    let mut acc: u64 = 0;
    let mut f: f64 = 0.0;
    let mut i: u64 = 0;
    while HITS.load(Ordering::SeqCst) < 5 && i < 200_000_000 {
        acc = acc.wrapping_mul(6364136223846793005).wrapping_add(i);
        f += 0.5;
        i += 1;
    }
    let mut want_acc: u64 = 0;
    for j in 0..i {
        want_acc = want_acc.wrapping_mul(6364136223846793005).wrapping_add(j);
    }
    let st = wait_for(child, CHILD_WAIT_MS)?;
    signal::set_handler(SIGUSR2, Handler::Default).context("reset")?;
    expect_exit(st, 0)?;
    let hits = HITS.load(Ordering::SeqCst);
    if hits == 0 {
        return Err("no signal arrived during the loop".into());
    }
    if acc != want_acc || f != 0.5 * i as f64 {
        return Err(format!("registers changed across {hits} handlers"));
    }
    Ok(())
}

fn blocked_signal_waits() -> Check {
    HITS.store(0, Ordering::SeqCst);
    signal::set_handler(SIGUSR1, Handler::Catch(count)).context("sigaction")?;
    let before = signal::block(bit(SIGUSR1)).context("block")?;
    signal::raise(SIGUSR1).context("raise")?;
    let while_blocked = HITS.load(Ordering::SeqCst);
    let mask = signal::mask().context("mask")?;
    signal::set_mask(before).context("unblock")?;
    let after = HITS.load(Ordering::SeqCst);
    signal::set_handler(SIGUSR1, Handler::Default).context("reset")?;
    match (while_blocked, after, mask & bit(SIGUSR1) != 0) {
        (0, 1, true) => Ok(()),
        other => Err(format!("(while blocked, after, masked) = {other:?}")),
    }
}

fn ignored_signal_is_discarded() -> Check {
    signal::set_handler(SIGTERM, Handler::Ignore).context("ignore")?;
    signal::raise(SIGTERM).context("raise")?;
    // Still alive; and restoring the default later does not resurrect it.
    signal::set_handler(SIGTERM, Handler::Default).context("reset")?;
    Ok(())
}

fn default_term_kills() -> Check {
    let st = in_child(|| {
        let _ = signal::raise(SIGTERM);
        0
    })?;
    expect_signal(st, SIGTERM)
}

fn sigkill_cannot_be_caught() -> Check {
    let act = SigAction {
        handler: count as *const () as usize,
        restorer: count as *const () as usize,
        ..SigAction::default()
    };
    expect_errno(signal::sigaction(SIGKILL, Some(&act)), EINVAL).context("sigaction(SIGKILL)")?;
    expect_errno(signal::sigaction(SIGSTOP, Some(&act)), EINVAL).context("sigaction(SIGSTOP)")?;
    let st = in_child(|| {
        let _ = signal::block(u64::MAX);
        let _ = signal::raise(SIGKILL);
        0
    })?;
    expect_signal(st, SIGKILL)
}

fn sigchld_on_child_exit() -> Check {
    HITS.store(0, Ordering::SeqCst);
    signal::set_handler(SIGCHLD, Handler::Catch(count)).context("sigaction")?;
    let st = in_child(|| 7);
    let hits = HITS.load(Ordering::SeqCst);
    signal::set_handler(SIGCHLD, Handler::Default).context("reset")?;
    expect_exit(st?, 7)?;
    if hits >= 1 && LAST.load(Ordering::SeqCst) == SIGCHLD {
        Ok(())
    } else {
        Err(format!("SIGCHLD handler ran {hits} times"))
    }
}

fn sigsegv_handler_on_fault() -> Check {
    let st = in_child(|| {
        if signal::set_handler(SIGSEGV, Handler::Catch(segv_exit)).is_err() {
            return 1;
        }
        // SAFETY: deliberately reads an address below USER_BASE, which is never mapped,
        // to raise SIGSEGV; the handler exits before the load could complete.
        let v = unsafe { core::ptr::read_volatile(0x1000 as *const u64) };
        v as i32
    })?;
    expect_exit(st, 42)
}

fn sigpipe_kills_by_default() -> Check {
    let st = in_child(|| {
        let Ok((r, w)) = io::pipe(false) else {
            return 1;
        };
        let _ = io::close(r);
        let _ = io::write(w, b"x");
        2
    })?;
    expect_signal(st, SIGPIPE)
}

fn sigpipe_ignored_gives_epipe() -> Check {
    let st = in_child(|| {
        if signal::set_handler(SIGPIPE, Handler::Ignore).is_err() {
            return 1;
        }
        let Ok((r, w)) = io::pipe(false) else {
            return 2;
        };
        let _ = io::close(r);
        match io::write(w, b"x") {
            Err(e) if e.code() == libway::abi::errno::EPIPE => 0,
            _ => 3,
        }
    })?;
    expect_exit(st, 0)
}

fn signal_interrupts_read() -> Check {
    HITS.store(0, Ordering::SeqCst);
    signal::set_handler(SIGUSR1, Handler::Catch(count)).context("sigaction")?;
    let (r, w) = io::pipe(true).context("pipe")?;
    let me = process::getpid().context("getpid")?;
    let child = process::fork().context("fork")?;
    if child == 0 {
        let _ = sleep_ms(50);
        let _ = process::kill(me, SIGUSR1);
        process::exit(0);
    }
    let mut buf = [0u8; 4];
    let got = io::read(r, &mut buf);
    let _ = io::close(r);
    let _ = io::close(w);
    let st = wait_for(child, CHILD_WAIT_MS);
    signal::set_handler(SIGUSR1, Handler::Default).context("reset")?;
    expect_exit(st?, 0)?;
    expect_errno(got, EINTR).context("read interrupted by a handled signal")?;
    if HITS.load(Ordering::SeqCst) == 1 {
        Ok(())
    } else {
        Err("the handler did not run once".into())
    }
}

fn handler_reset_by_exec() -> Check {
    // The child catches SIGTERM, then execs a program that waits; SIGTERM must kill it
    // (handlers point into the old program, so exec resets them).
    let st = in_child(|| {
        if signal::set_handler(SIGTERM, Handler::Catch(count)).is_err() {
            return 1;
        }
        let me = process::getpid().unwrap_or(0);
        match process::fork() {
            Ok(0) => {
                let _ = sleep_ms(100);
                let _ = process::kill(me, SIGTERM);
                process::exit(0);
            }
            Ok(_) => {}
            Err(_) => return 2,
        }
        let e = process::execve(SELF, &[SELF, GROUP_CHILD], &[]);
        let _ = e;
        3
    })?;
    expect_signal(st, SIGTERM)
}

fn kill_group_reaches_members() -> Check {
    let a = process::spawn(SELF, &[SELF, GROUP_CHILD], &[]).context("spawn a")?;
    let b = process::spawn(SELF, &[SELF, GROUP_CHILD], &[]).context("spawn b")?;
    let r1 = signal::setpgid(a, 0);
    let r2 = signal::setpgid(b, a);
    let pg = (signal::getpgid(a), signal::getpgid(b));
    let killed = signal::kill_group(a, SIGINT);
    let sa = wait_for(a, CHILD_WAIT_MS);
    let sb = wait_for(b, CHILD_WAIT_MS);
    r1.context("setpgid(a, 0)")?;
    r2.context("setpgid(b, a)")?;
    if pg != (Ok(a), Ok(a)) {
        return Err(format!("groups {pg:?}, expected both {a}"));
    }
    killed.context("kill(-a)")?;
    expect_signal(sa?, SIGINT)?;
    expect_signal(sb?, SIGINT)
}

fn pgid_calls_and_errors() -> Check {
    let me = process::getpid().context("getpid")?;
    let mine = signal::getpgid(0).context("getpgid(0)")?;
    if signal::getpgid(me) != Ok(mine) {
        return Err("getpgid(self) differs from getpgid(0)".into());
    }
    expect_errno(signal::getpgid(1 << 40), ESRCH).context("getpgid(no such pid)")?;
    // init is not our child.
    expect_errno(signal::setpgid(1, 0), ESRCH).context("setpgid(init)")?;
    // A group nobody is in.
    expect_errno(signal::setpgid(0, 1 << 30), EPERM).context("setpgid(0, empty group)")?;
    expect_errno(signal::setpgid(usize::MAX, 0), EINVAL).context("setpgid(-1)")?;
    expect_errno(signal::kill_group(1 << 30, SIGINT), ESRCH).context("kill(-empty group)")?;
    expect_errno(signal::kill_group(1, SIGINT), EINVAL).context("kill_group(1)")?;
    Ok(())
}

fn bad_arguments() -> Check {
    expect_errno(signal::sigaction(0, None), EINVAL).context("sigaction(0)")?;
    expect_errno(signal::sigaction(65, None), EINVAL).context("sigaction(65)")?;
    let bad_handler = SigAction {
        handler: 0xffff_8000_0000_0000,
        restorer: 0x40_1000,
        ..SigAction::default()
    };
    expect_errno(signal::sigaction(SIGUSR1, Some(&bad_handler)), EINVAL)
        .context("kernel handler")?;
    let bad_restorer = SigAction {
        handler: count as *const () as usize,
        restorer: 0,
        ..SigAction::default()
    };
    expect_errno(signal::sigaction(SIGUSR1, Some(&bad_restorer)), EINVAL)
        .context("null restorer")?;
    // Raw calls with bad pointers.
    // SAFETY: the kernel must reject these pointers without touching memory.
    let r = unsafe {
        libway::sys::call(
            libway::abi::sys::SIGACTION,
            [SIGUSR1 as usize, 0x10, 0, 0, 0, 0],
        )
    };
    expect_errno(r, EFAULT).context("sigaction(act = 0x10)")?;
    // SAFETY: as above.
    let r = unsafe {
        libway::sys::call(
            libway::abi::sys::SIGPROCMASK,
            [0, 0xffff_8000_0000_0000, 0, 0, 0, 0],
        )
    };
    expect_errno(r, EFAULT).context("sigprocmask(set = kernel)")?;
    // SAFETY: no memory arguments.
    let r = unsafe { libway::sys::call(libway::abi::sys::SIGPROCMASK, [7, 0, 0, 0, 0, 0]) };
    expect_errno(r, EINVAL).context("sigprocmask(how = 7)")?;
    // The state is unchanged by all of that.
    let a = signal::sigaction(SIGUSR1, None).context("sigaction query")?;
    if a.handler != libway::abi::signal::SIG_DFL {
        return Err("a rejected sigaction changed the action".into());
    }
    Ok(())
}

fn sigreturn_outside_handler() -> Check {
    let st = in_child(|| {
        // SAFETY: sigreturn without a handler running: the kernel must kill us.
        let _ = unsafe { libway::sys::call(libway::abi::sys::SIGRETURN, [0; 6]) };
        0
    })?;
    expect_signal(st, SIGSEGV)
}
