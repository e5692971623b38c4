//! The generic syscall dispatcher: decodes the number, runs `sys_<name>`, stores the
//! result (a value, or a negated errno) in the caller's frame.
//!
//! The arch entry stub saves the user registers into a `TrapFrame` and calls
//! [`dispatch`]: every call first passes `gate::admit` (the caller's syscall filter and
//! the capability the number needs; see `gate` and `docs/security.md`), then a plain
//! `match` hands the raw registers to `sys_<name>`.
//!
//! The rule for every `sys_<name>` (and for new ones): each user address becomes a typed
//! `umem::UserPtr` / `UserArray` / `UserSlice` exactly once, where the call's errno order
//! puts `EFAULT` (after the `EBADF`, `ENAMETOOLONG` or `E2BIG` checks that come first), and
//! with the length it will really touch; from then on only the typed value is passed on.
//! Nothing here can copy through a raw address (the copies are private to `umem`), every
//! length is bounded before the kernel allocates for it, and no lock is held across a
//! copy. So no argument can fault or exhaust the kernel.
//!
//! This module must not contain `unsafe` code: what needs it lives in `umem`, `arch`,
//! `mm` or `ipc`, behind safe functions.
#![deny(unsafe_code)]

use alloc::vec::Vec;

use wayos_abi::limits::{ARG_MAX_BYTES, ARG_MAX_COUNT, PATH_MAX};
use wayos_abi::{clock, sys, StrRef, Timespec};

use crate::arch::{self, TrapFrame};
use crate::error::{Errno, KResult};
use crate::task::{self, sched};
use crate::umem::{ReadOnly, UserArray, UserPtr, UserSlice, WriteOnly};

mod blk;
mod cpu;
mod display;
mod fd;
mod fs;
mod gate;
mod grant;
mod infer;
mod ipc;
mod klog;
mod mem;
mod memtier;
mod net;
mod pci;
mod signal;
mod sysinfo;
mod tensor;
mod thread;

pub fn dispatch(frame: &mut TrapFrame) {
    let num = frame.syscall_number();
    let a = frame.syscall_args();
    // The one gate every call passes: the syscall filter and the capability table.
    if let Err(e) = gate::admit(num) {
        frame.set_syscall_return((-e.0) as usize);
        return;
    }
    let result = match num {
        sys::EXIT => task::exit_current(wayos_abi::wait::exited(a[0] as i32)),
        sys::WRITE => fd::sys_write(a[0], a[1], a[2]),
        sys::GETPID => sys_getpid(),
        sys::GETPPID => sys_getppid(),
        sys::FORK => task::fork(frame).map(|p| p as usize),
        sys::EXECVE => match sys_execve(frame, a) {
            // The frame now enters the new program; its registers must stay as loaded.
            Ok(()) => return,
            Err(e) => Err(e),
        },
        sys::SPAWN => sys_spawn(a),
        sys::WAIT => sys_wait(a[0] as isize, a[1], a[2]),
        sys::MMAP => mem::sys_mmap(a[0], a[1], a[2], a[3], a[5]),
        sys::MUNMAP => mem::sys_munmap(a[0], a[1]),
        sys::MPROTECT => mem::sys_mprotect(a[0], a[1], a[2]),
        sys::NANOSLEEP => sys_nanosleep(a[0], a[1]),
        sys::CLOCK_GETTIME => sys_clock_gettime(a[0], a[1]),
        sys::SCHED_YIELD => {
            sched::yield_now();
            Ok(0)
        }
        sys::READ => fd::sys_read(a[0], a[1], a[2]),
        sys::SET_PRIORITY => sys_set_priority(a[0]),
        sys::GET_CMDLINE => sys_get_cmdline(a[0], a[1]),
        sys::SHUTDOWN => sys_shutdown(a[0]),
        sys::PORT_CREATE => ipc::sys_port_create(a[0]),
        sys::PORT_SEND => ipc::sys_port_send(a[0], a[1], a[2] as u64),
        sys::PORT_RECV => ipc::sys_port_recv(a[0], a[1], a[2] as u64),
        sys::PORT_CALL => ipc::sys_port_call(a[0], a[1], a[2] as u64),
        sys::PORT_REPLY => ipc::sys_port_reply(a[0], a[1]),
        sys::PORT_REPLY_RECV => ipc::sys_port_reply_recv(a[0], a[1], a[2], a[3] as u64),
        sys::HANDLE_CLOSE => ipc::sys_handle_close(a[0]),
        sys::HANDLE_DUP => ipc::sys_handle_dup(a[0], a[1]),
        sys::NS_REGISTER => ipc::sys_ns_register(a[0], a[1], a[2]),
        sys::NS_LOOKUP => ipc::sys_ns_lookup(a[0], a[1]),
        sys::MEM_GRANT => grant::sys_mem_grant(a[0], a[1], a[2]),
        sys::MEM_MAP => grant::sys_mem_map(a[0], a[1], a[2]),
        sys::KLOG_READ => klog::sys_klog_read(a[0], a[1]),
        sys::KILL => signal::sys_kill(a[0], a[1]),
        sys::DUP2 => fd::sys_dup2(a[0], a[1]),
        sys::CLOSE => fd::sys_close(a[0]),
        sys::PORT_FD => fd::sys_port_fd(a[0]),
        sys::CONSOLE_BIND => fd::sys_console_bind(a[0], a[1]),
        sys::OPEN => fs::sys_open(a[0], a[1], a[2], a[3]),
        sys::LSEEK => fs::sys_lseek(a[0], a[1], a[2]),
        sys::STAT => fs::sys_stat(a[0], a[1], a[2]),
        sys::FSTAT => fs::sys_fstat(a[0], a[1]),
        sys::GETDENTS => fs::sys_getdents(a[0], a[1], a[2]),
        sys::MKDIR => fs::sys_mkdir(a[0], a[1], a[2]),
        sys::RMDIR => fs::sys_rmdir(a[0], a[1]),
        sys::UNLINK => fs::sys_unlink(a[0], a[1]),
        sys::RENAME => fs::sys_rename(a[0], a[1], a[2], a[3]),
        sys::FTRUNCATE => fs::sys_ftruncate(a[0], a[1]),
        sys::TRUNCATE => fs::sys_truncate(a[0], a[1], a[2]),
        sys::GETCWD => fs::sys_getcwd(a[0], a[1]),
        sys::CHDIR => fs::sys_chdir(a[0], a[1]),
        sys::UTIMENS => fs::sys_utimens(a[0], a[1], a[2]),
        sys::DUP => fs::sys_dup(a[0]),
        sys::STATFS => fs::sys_statfs(a[0], a[1], a[2]),
        sys::PIPE => fd::sys_pipe(a[0], a[1]),
        sys::FCNTL => fd::sys_fcntl(a[0], a[1], a[2]),
        sys::SIGACTION => signal::sys_sigaction(a[0], a[1], a[2]),
        sys::SIGPROCMASK => signal::sys_sigprocmask(a[0], a[1], a[2]),
        sys::SIGRETURN => {
            // The frame now resumes the interrupted context, registers as saved.
            task::signal::sigreturn(frame);
            return;
        }
        sys::SETPGID => signal::sys_setpgid(a[0], a[1]),
        sys::GETPGID => signal::sys_getpgid(a[0]),
        sys::UNAME => sysinfo::sys_uname(a[0]),
        sys::PROC_LIST => sysinfo::sys_proc_list(a[0], a[1]),
        sys::THREAD_CREATE => thread::sys_thread_create(a[0], a[1], a[2], a[3]),
        sys::THREAD_EXIT => task::thread_exit(a[0] as i32),
        sys::GETTID => thread::sys_gettid(),
        sys::FUTEX_WAIT => thread::sys_futex_wait(a[0], a[1], a[2]),
        sys::FUTEX_WAKE => thread::sys_futex_wake(a[0], a[1]),
        sys::SCHED_GETCPU => cpu::sys_sched_getcpu(),
        sys::SCHED_SETAFFINITY => cpu::sys_sched_setaffinity(a[0], a[1]),
        sys::SCHED_GETAFFINITY => cpu::sys_sched_getaffinity(a[0]),
        sys::SMP_INFO => cpu::sys_smp_info(a[0], a[1]),
        sys::CAP_GET => gate::sys_cap_get(),
        sys::CAP_DROP => gate::sys_cap_drop(a[0]),
        sys::SPAWN_CAPS => sys_spawn_caps(a[0]),
        sys::FILTER_GET => gate::sys_filter_get(a[0]),
        sys::FILTER_SET => gate::sys_filter_set(a[0]),
        sys::NS_REQUIRE => ipc::sys_ns_require(a[0], a[1], a[2]),
        sys::TENSOR_CREATE => tensor::sys_tensor_create(a[0]),
        sys::TENSOR_WRITE => tensor::sys_tensor_write(a[0], a[1], a[2], a[3]),
        sys::TENSOR_READ => tensor::sys_tensor_read(a[0], a[1], a[2], a[3]),
        sys::TENSOR_MAP => tensor::sys_tensor_map(a[0], a[1]),
        sys::TENSOR_INFO => tensor::sys_tensor_info(a[0], a[1]),
        sys::AI_INFO => tensor::sys_ai_info(a[0], a[1], a[2]),
        sys::GRAPH_CREATE => infer::sys_graph_create(a[0]),
        sys::INFER_SUBMIT => infer::sys_infer_submit(a[0], a[1]),
        sys::INFER_WAIT => infer::sys_infer_wait(a[0], a[1]),
        sys::INFER_CANCEL => infer::sys_infer_cancel(a[0]),
        sys::INFER_STATS => infer::sys_infer_stats(a[0], a[1]),
        sys::MODEL_LOAD => infer::sys_model_load(a[0], a[1]),
        sys::MEM_ADVISE => memtier::sys_mem_advise(a[0], a[1], a[2]),
        sys::MEM_POLICY => memtier::sys_mem_policy(a[0]),
        sys::MEMTIER_INFO => memtier::sys_memtier_info(a[0], a[1], a[2]),
        sys::MEMTIER_SET => memtier::sys_memtier_set(a[0], a[1]),
        sys::NET_ATTACH => net::sys_net_attach(a[0], a[1], a[2]),
        sys::NET_KICK => net::sys_net_kick(a[0]),
        sys::NET_INFO => net::sys_net_info(a[0], a[1]),
        sys::PCI_LIST => pci::sys_pci_list(a[0], a[1]),
        sys::FD_CALL => fd::sys_fd_call(a[0], a[1], a[2]),
        sys::PORT_BADGE => ipc::sys_port_badge(a[0], a[1]),
        sys::BLK_INFO => blk::sys_blk_info(a[0], a[1]),
        sys::BLK_READ => blk::sys_blk_read(a[0], a[1], a[2], a[3]),
        sys::BLK_WRITE => blk::sys_blk_write(a[0], a[1], a[2], a[3]),
        sys::SYNC => blk::sys_sync(),
        sys::FSYNC => fs::sys_fsync(a[0]),
        sys::MOUNT => fs::sys_mount(a[0], a[1], a[2], a[3]),
        sys::UMOUNT => fs::sys_umount(a[0], a[1], a[2]),
        // TEMPORARY until helper D's stats syscall: KIND_DISPLAY here, KIND_MOUNTS in fs.
        sys::STATS if a[0] == wayos_abi::stats::KIND_DISPLAY as usize => {
            display::stats_display(a[1], a[2])
        }
        sys::STATS => fs::sys_stats_mounts(a[0], a[1], a[2]),
        _ => Err(Errno::ENOSYS),
    };
    let value = match result {
        Ok(v) => v,
        Err(e) => (-e.0) as usize,
    };
    frame.set_syscall_return(value);
}

fn sys_getpid() -> KResult<usize> {
    task::current_process()
        .map(|p| p.pid as usize)
        .ok_or(Errno::ESRCH)
}

fn sys_getppid() -> KResult<usize> {
    task::current_process()
        .map(|p| p.ppid() as usize)
        .ok_or(Errno::ESRCH)
}

/// A path argument: `ENOENT` if empty, `ENAMETOOLONG` past `PATH_MAX` (both before the
/// pointer is looked at), `EFAULT`, `EINVAL` if not UTF-8.
fn read_path(ptr: usize, len: usize) -> KResult<alloc::string::String> {
    if len == 0 {
        return Err(Errno::ENOENT);
    }
    if len > PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let bytes = UserSlice::<ReadOnly>::new(ptr, len)?.read_vec()?;
    alloc::string::String::from_utf8(bytes).map_err(|_| Errno::EINVAL)
}

/// Reads `count` `StrRef`s at `ptr` and the strings they name, within the ABI limits:
/// `E2BIG` for too many entries (before the pointer is looked at) or too many bytes.
fn read_strings(ptr: usize, count: usize, budget: &mut usize) -> KResult<Vec<Vec<u8>>> {
    if count > ARG_MAX_COUNT {
        return Err(Errno::E2BIG);
    }
    let refs = UserArray::<StrRef, ReadOnly>::new(ptr, count)?;
    let mut out = Vec::new();
    out.try_reserve_exact(count).map_err(|_| Errno::ENOMEM)?;
    for i in 0..refs.len() {
        let s = refs.get(i)?.read()?;
        if s.len > *budget {
            return Err(Errno::E2BIG);
        }
        *budget -= s.len;
        out.push(UserSlice::<ReadOnly>::new(s.ptr, s.len)?.read_vec()?);
    }
    Ok(out)
}

/// A program path with its argument and environment strings, copied in from the caller.
struct ExecArgs {
    path: alloc::string::String,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
}

fn read_exec_args(a: [usize; 6]) -> KResult<ExecArgs> {
    let path = read_path(a[0], a[1])?;
    let mut budget = ARG_MAX_BYTES;
    let argv = read_strings(a[2], a[3], &mut budget)?;
    let envp = read_strings(a[4], a[5], &mut budget)?;
    Ok(ExecArgs { path, argv, envp })
}

fn sys_execve(frame: &mut TrapFrame, a: [usize; 6]) -> KResult<()> {
    let e = read_exec_args(a)?;
    task::exec(frame, &e.path, &e.argv, &e.envp)
}

fn sys_spawn(a: [usize; 6]) -> KResult<usize> {
    let e = read_exec_args(a)?;
    let parent = task::current_process();
    let caps = gate::current_caps();
    task::spawn(&e.path, &e.argv, &e.envp, parent.as_ref(), caps).map(|p| p as usize)
}

/// `spawn` with the child's capability set: `EINVAL` for an undefined bit, `EPERM` for a
/// set wider than the caller's (a capability cannot be created, only passed on).
fn sys_spawn_caps(args: usize) -> KResult<usize> {
    let s = UserPtr::<wayos_abi::caps::SpawnArgs, ReadOnly>::new(args)?.read()?;
    if s.caps & !wayos_abi::caps::ALL != 0 || s._pad != 0 {
        return Err(Errno::EINVAL);
    }
    if s.caps & !gate::current_caps() != 0 {
        return Err(Errno::EPERM);
    }
    let words = [s.path, s.path_len, s.argv, s.argc, s.envp, s.envc].map(|w| w as usize);
    let e = read_exec_args(words)?;
    let parent = task::current_process();
    task::spawn(&e.path, &e.argv, &e.envp, parent.as_ref(), s.caps).map(|p| p as usize)
}

fn sys_wait(pid: isize, status: usize, options: usize) -> KResult<usize> {
    let status = UserPtr::<i32, WriteOnly>::nullable(status)?;
    if let Some(st) = &status {
        // Fail before blocking if the status pointer is bad.
        st.write(&0)?;
    }
    let (pid, code) = task::wait(pid as i64, options)?;
    if let Some(st) = status.filter(|_| pid != 0) {
        st.write(&code)?;
    }
    Ok(pid as usize)
}

fn sys_nanosleep(req: usize, rem: usize) -> KResult<usize> {
    let ts = UserPtr::<Timespec, ReadOnly>::new(req)?.read()?;
    if ts.sec < 0 || !(0..1_000_000_000).contains(&ts.nsec) {
        return Err(Errno::EINVAL);
    }
    let rem = UserPtr::<Timespec, WriteOnly>::nullable(rem)?;
    if let Some(rem) = &rem {
        rem.write(&Timespec::default())?;
    }
    let ns = (ts.sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.nsec as u64);
    let deadline = arch::uptime_ns().saturating_add(ns);
    loop {
        sched::sleep_until(deadline);
        let now = arch::uptime_ns();
        if now >= deadline {
            return Ok(0);
        }
        // Woken early: by a signal (EINTR, with the time left), else sleep on.
        if task::signal::interrupted() {
            if let Some(rem) = &rem {
                rem.write(&timespec(deadline - now))?;
            }
            return Err(Errno::EINTR);
        }
    }
}

/// `ns` nanoseconds as a `Timespec`.
fn timespec(ns: u64) -> Timespec {
    Timespec {
        sec: (ns / 1_000_000_000) as i64,
        nsec: (ns % 1_000_000_000) as i64,
    }
}

fn sys_clock_gettime(clock_id: usize, ts: usize) -> KResult<usize> {
    let ns = match clock_id {
        clock::MONOTONIC => arch::uptime_ns(),
        clock::REALTIME => crate::time::realtime_ns(),
        _ => return Err(Errno::EINVAL),
    };
    UserPtr::<Timespec, WriteOnly>::new(ts)?.write(&timespec(ns))?;
    Ok(0)
}

fn sys_set_priority(class: usize) -> KResult<usize> {
    if class >= wayos_abi::sched::CLASSES {
        return Err(Errno::EINVAL);
    }
    // Defect 7: a class above normal can starve everything else on its CPUs.
    if class < wayos_abi::sched::NORMAL {
        gate::require(wayos_abi::caps::SET_RT_PRIORITY)?;
    }
    Ok(sched::current().set_class(class))
}

fn sys_get_cmdline(buf: usize, len: usize) -> KResult<usize> {
    let line = crate::boot::info().map_or("", |b| b.cmdline()).as_bytes();
    // Only the bytes written must lie in the window: `len` may be larger.
    let n = line.len().min(len);
    UserSlice::<WriteOnly>::new(buf, n)?.write_from(&line[..n])?;
    Ok(line.len())
}

/// Needs `caps::SHUTDOWN` (checked by the gate), which init holds and gives nobody.
/// Writes back every disk's dirty blocks first, so a clean shutdown loses nothing.
fn sys_shutdown(success: usize) -> KResult<usize> {
    // The disk file systems first: their volumes are written back and marked clean.
    crate::fs::unmount_all();
    if let Err(e) = crate::blk::sync_all() {
        log::error!("shutdown: disk write-back failed: {e}");
    }
    crate::shutdown(success == 1)
}
