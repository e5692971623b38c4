//! Processes and threads: creation (spawn, fork, exec), exit, wait, and the hooks the
//! arch trap code calls on the way back to user mode.

pub mod futex;
pub mod loader;
pub mod process;
pub mod sched;
pub mod signal;
pub mod thread;
pub mod usage;
pub mod wait_queue;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use wayos_abi::{sched::NORMAL, signal as sig, wait};

use self::process::{Pid, Process};
use self::thread::Thread;
use crate::arch::{self, TrapFrame};
use crate::error::{Errno, KResult};
use crate::umem::{UserPtr, WriteOnly};

pub fn init() {
    sched::init_cpu();
}

/// Runs `/bin/init` as pid 1 with the kernel command line words as its arguments.
pub fn start_init(cmdline: &str) -> KResult<Pid> {
    let mut argv: Vec<Vec<u8>> = Vec::new();
    argv.push(b"/bin/init".to_vec());
    argv.extend(
        cmdline
            .split_ascii_whitespace()
            .map(|w| w.as_bytes().to_vec()),
    );
    spawn("/bin/init", &argv, &[], None, wayos_abi::caps::ALL)
}

/// The process the running thread belongs to, if it is a user thread.
pub fn current_process() -> Option<Arc<Process>> {
    sched::current().process.clone()
}

extern "C" fn user_thread_entry(frame: usize) -> ! {
    sched::finish_switch();
    arch::disable_interrupts();
    // SAFETY: `frame` is the trap frame `start_user_thread` placed at the top of this
    // thread's kernel stack.
    unsafe { arch::enter_user(frame as *const TrapFrame) }
}

/// Starts a thread in `process` that enters user mode with `frame`, in scheduling
/// `class`, with the caller's affinity when the caller is a user thread (inherited, as
/// fork inherits it); `clear_tid` is its join word (0: none).
fn start_user_thread(
    process: Arc<Process>,
    frame: TrapFrame,
    fpu: Option<arch::FpuState>,
    class: usize,
    clear_tid: usize,
) -> KResult<Arc<Thread>> {
    use core::sync::atomic::Ordering::Relaxed;
    let t = Thread::new(
        Some(process),
        class,
        user_thread_entry,
        |top| {
            let at = (top - core::mem::size_of::<TrapFrame>()) & !15;
            // SAFETY: `at..top` lies in the new thread's own, unused kernel stack.
            unsafe { (at as *mut TrapFrame).write(frame) };
            (at, at)
        },
        fpu,
    )
    .map_err(|_| Errno::ENOMEM)?;
    let me = sched::current();
    if me.process.is_some() {
        t.affinity.store(me.affinity.load(Relaxed), Relaxed);
    }
    t.clear_tid.store(clear_tid, Relaxed);
    if let Some(p) = &t.process {
        p.add_thread(&t);
    }
    sched::make_ready(t.clone());
    Ok(t)
}

/// Most threads one process may have at once.
pub const MAX_THREADS: usize = wayos_abi::limits::MAX_THREADS;

/// Frames a new thread needs beyond its heap records (its kernel stack), so that
/// thread and process creation stop before the kernel's reserve.
const NEW_THREAD_PAGES: usize = 16;

/// `thread_create`: a new thread of the calling process entering user mode at `entry`
/// with stack pointer `stack_top` and first argument `arg`; `clear_tid` (0 or a user
/// `u32`) is cleared and futex-woken when it ends.
pub fn create_thread(entry: usize, stack_top: usize, arg: usize, clear_tid: usize) -> KResult<u64> {
    use wayos_abi::layout::{USER_BASE, USER_END};
    let user = |a: usize| (USER_BASE..USER_END).contains(&a);
    if !user(entry) || !user(stack_top.wrapping_sub(1)) || !stack_top.is_multiple_of(16) {
        return Err(Errno::EINVAL);
    }
    if clear_tid != 0 && (!clear_tid.is_multiple_of(4) || !user(clear_tid) || !user(clear_tid + 3))
    {
        return Err(Errno::EINVAL);
    }
    let p = current_process().ok_or(Errno::EPERM)?;
    if p.exit_in_progress().is_some() {
        return Err(Errno::ESRCH);
    }
    // Like fork and spawn: refuse when memory is down to the kernel's reserve, so a
    // thread bomb gets EAGAIN instead of starving the kernel heap.
    if p.live_threads() >= MAX_THREADS || !crate::mm::reserve::pages_available(NEW_THREAD_PAGES) {
        return Err(Errno::EAGAIN);
    }
    let frame = TrapFrame::new_user(entry, stack_top, [arg, 0, 0, 0]);
    let class = sched::current().class();
    Ok(start_user_thread(p, frame, None, class, clear_tid)?.tid)
}

/// Ends the calling thread with `code`; the last thread's code is the process's status
/// (unless an `exit` is in progress, whose status wins).
pub fn thread_exit(code: i32) -> ! {
    end_thread(wait::exited(code))
}

/// Ends the calling thread: clears and wakes its join word, and if it is the last thread
/// of its process, turns the process into a zombie with `status` (or the status of the
/// exit in progress).
fn end_thread(status: i32) -> ! {
    let me = sched::current();
    if let Some(p) = me.process.clone() {
        let clear = me.clear_tid.swap(0, core::sync::atomic::Ordering::Relaxed);
        // Checked (aligned, in the window) by `create_thread`. The join word may be gone
        // (unmapped): nobody is waiting then.
        if let Ok(Some(word)) = UserPtr::<u32, WriteOnly>::nullable(clear) {
            if word.write(&0).is_ok() {
                futex::wake(p.pid, &word, 1);
            }
        }
        // Off the process's page tables before counting this thread out: once it is
        // counted, the last thread may free them while this CPU is still switching away.
        crate::mm::space::activate_kernel_root();
        if p.thread_ended() {
            if p.pid == process::INIT_PID {
                log::error!("init exited with status {status:#x}");
            }
            p.exit(p.exit_in_progress().unwrap_or(status));
        }
    }
    drop(me);
    sched::exit_current()
}

/// Most processes (zombies included) at once; beyond it fork and spawn fail with EAGAIN.
pub const MAX_PROCESSES: usize = wayos_abi::limits::MAX_PROCESSES;

/// Refuses a new process when the table is full or memory is down to the kernel's
/// reserve, so a fork bomb gets EAGAIN instead of starving the kernel heap.
fn admit_new_process() -> KResult<()> {
    if process::count() >= MAX_PROCESSES || !crate::mm::reserve::pages_available(NEW_THREAD_PAGES) {
        return Err(Errno::EAGAIN);
    }
    Ok(())
}

/// A new process running the program at `path`, with capability set `caps` (the caller
/// has checked that it is a subset of the parent's).
pub fn spawn(
    path: &str,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    parent: Option<&Arc<Process>>,
    caps: u32,
) -> KResult<Pid> {
    admit_new_process()?;
    let image = crate::fs::read_file(path)?;
    let loaded = loader::load(&image, argv, envp)?;
    // A new program gets the parent's descriptors except the close-on-exec ones.
    let fds = parent.map(|p| p.fds.lock().inherited());
    let sig = parent.map(|p| p.sig.lock().for_new_program());
    let p = Process::create(path, loaded.space, parent, fds, sig);
    // Narrowed before its first instruction runs.
    p.drop_caps(!caps);
    if let Err(e) = start_user_thread(p.clone(), loaded.frame, None, NORMAL, 0).map(drop) {
        p.exit(wait::killed(sig::SIGKILL));
        return Err(e);
    }
    Ok(p.pid)
}

/// Duplicates the calling process; the child resumes from `frame` with result 0.
pub fn fork(frame: &TrapFrame) -> KResult<Pid> {
    admit_new_process()?;
    let me = sched::current();
    let parent = me.process.clone().ok_or(Errno::EPERM)?;
    // `fork` also drops the parent's now stale writable translations from every TLB.
    let space = parent.with_space(|s| s.fork())?;
    let fds = parent.fds.lock().clone();
    let sig = parent.sig.lock().for_fork();
    let child = Process::create(
        &parent.name.lock().clone(),
        space,
        Some(&parent),
        Some(fds),
        Some(sig),
    );
    let mut child_frame = frame.clone();
    child_frame.set_syscall_return(0);
    let fpu = me.fpu_snapshot();
    if let Err(e) = start_user_thread(child.clone(), child_frame, fpu, NORMAL, 0).map(drop) {
        child.exit(wait::killed(sig::SIGKILL));
        return Err(e);
    }
    Ok(child.pid)
}

/// Replaces the calling process's program; on success `frame` enters the new one.
pub fn exec(frame: &mut TrapFrame, path: &str, argv: &[Vec<u8>], envp: &[Vec<u8>]) -> KResult<()> {
    let p = current_process().ok_or(Errno::EPERM)?;
    let image = crate::fs::read_file(path)?;
    let loaded = loader::load(&image, argv, envp)?;
    // The old program's other threads end first: nothing may run in the old space
    // once it is freed.
    if p.live_threads() > 1 {
        let me = sched::current();
        p.stop_other_threads(&me);
        while p.live_threads() > 1 {
            if signal::interrupted() {
                return Err(Errno::EINTR);
            }
            sched::sleep_until(arch::uptime_ns() + 1_000_000);
        }
    }
    *p.name.lock() = String::from(path);
    let old = p.replace_space(loaded.space);
    drop(old);
    let closed = p.fds.lock().close_on_exec();
    crate::descriptor::drop_files(closed);
    p.sig.lock().reset_handlers();
    // Handlers interrupted by this execve never return.
    sched::current().sig_frames.lock().clear();
    *frame = loaded.frame;
    Ok(())
}

/// Waits for a child (`pid` -1 for any) to exit; returns its pid and wait status, or
/// `(0, 0)` under `WNOHANG` when none has exited yet.
pub fn wait(pid: i64, options: usize) -> KResult<(Pid, i32)> {
    let p = current_process().ok_or(Errno::ECHILD)?;
    if options & !wait::WNOHANG != 0 || pid == 0 || pid < -1 {
        return Err(Errno::EINVAL);
    }
    if options & wait::WNOHANG != 0 {
        return match p.reap_child(pid) {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Ok((0, 0)),
            Err(()) => Err(Errno::ECHILD),
        };
    }
    p.child_exited.wait_until(|| match p.reap_child(pid) {
        Ok(Some(r)) => Some(Ok(r)),
        Ok(None) if signal::interrupted() => Some(Err(Errno::EINTR)),
        Ok(None) => None,
        Err(()) => Some(Err(Errno::ECHILD)),
    })
}

/// Ends the calling process with `status` (a wait status): every thread ends, the last
/// one makes the process a zombie.
pub fn exit_current(status: i32) -> ! {
    let me = sched::current();
    if let Some(p) = &me.process {
        p.begin_exit(status, &me);
    }
    drop(me);
    end_thread(status)
}

/// Kills the calling process for a fault it caused, saying why on the console.
pub fn kill_current(sig: i32, why: fmt::Arguments<'_>) -> ! {
    if let Some(p) = current_process() {
        log::warn!(
            "pid {} ({}, thread {}) killed by {}: {}",
            p.pid,
            p.name.lock().as_str(),
            sched::current().tid,
            signal_name(sig),
            why
        );
    }
    exit_current(wait::killed(sig))
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        sig::SIGSEGV => "SIGSEGV",
        sig::SIGILL => "SIGILL",
        sig::SIGFPE => "SIGFPE",
        sig::SIGBUS => "SIGBUS",
        sig::SIGTRAP => "SIGTRAP",
        sig::SIGKILL => "SIGKILL",
        sig::SIGINT => "SIGINT",
        sig::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// Called with interrupts off just before returning to user mode through `frame`:
/// switch if a tick or a wake-up asked for it, then act on pending signals (which may
/// end the process or redirect `frame` into a handler).
pub fn user_return(frame: &mut TrapFrame) {
    let (resched, mut exit) = sched::user_return_work();
    if resched {
        sched::schedule();
        exit = sched::current_exit_requested();
    }
    if exit {
        end_thread(wait::killed(sig::SIGKILL));
    }
    signal::deliver(frame);
}
