//! The processor state a user program controls cannot hurt the kernel or another program.
//!
//! x86_64: RFLAGS.NT set before a syscall that returns through `iretq` (execve, signal
//! delivery, sigreturn) used to make that `iretq` raise #GP in ring 0 after `swapgs` and
//! take the machine down; AC set in user mode must neither break the kernel's user copies
//! nor reach another program. aarch64: EL0 cannot mask interrupts (DAIF) or set PAN.
//! Both: the condition flags the program had at a syscall survive a signal handler and
//! its `sigreturn` (the saved context is the kernel's, restored exactly, sanitized).
//!
//! Checks that could take the kernel down run in a forked child, timed by `wait_for`.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use libway::abi::signal::SIGUSR1;
use libway::abi::sys;
use libway::signal::{self, Handler};
use libway::suite::{expect_exit, explain_exit, in_child, Check, Suite};

/// Times the handler ran, and what it saw (arch-specific flags word).
static RAN: AtomicUsize = AtomicUsize::new(0);
static SEEN: AtomicU64 = AtomicU64::new(0);

#[cfg(target_arch = "x86_64")]
mod flags {
    use core::arch::asm;

    pub const CF: u64 = 1 << 0;
    pub const PF: u64 = 1 << 2;
    pub const ZF: u64 = 1 << 6;
    pub const SF: u64 = 1 << 7;
    pub const OF: u64 = 1 << 11;
    pub const NT: u64 = 1 << 14;
    pub const AC: u64 = 1 << 18;
    /// Condition flags a program may set freely.
    pub const CONDITIONS: u64 = CF | PF | ZF | SF | OF;

    pub fn read() -> u64 {
        let f: u64;
        // SAFETY: reads RFLAGS through the stack; changes nothing.
        unsafe { asm!("pushfq", "pop {}", out(reg) f) };
        f
    }

    pub fn set(bits: u64) {
        // SAFETY: sets user-modifiable RFLAGS bits (NT, AC, conditions); the compiler
        // relies on none of them across this statement.
        unsafe { asm!("pushfq", "or qword ptr [rsp], {b}", "popfq", b = in(reg) bits) };
    }

    pub fn clear(bits: u64) {
        // SAFETY: as for `set`.
        unsafe { asm!("pushfq", "and qword ptr [rsp], {b}", "popfq", b = in(reg) !bits) };
    }

    /// Makes syscall `nr` with `bits` set in RFLAGS at the `syscall` instruction and no
    /// Rust code in between; returns the raw result and RFLAGS right after the return
    /// (then clears `bits` again).
    pub fn syscall_with(nr: usize, a: [usize; 3], bits: u64) -> (usize, u64) {
        let ret: usize;
        let after: u64;
        // SAFETY: the syscall ABI (`libway::arch`): rcx and r11 are clobbered, the result
        // is in rax; the arguments are valid for the call the caller names.
        unsafe {
            asm!(
                "pushfq",
                "or qword ptr [rsp], {b}",
                "popfq",
                "syscall",
                "pushfq",
                "pop {f}",
                "pushfq",
                "and qword ptr [rsp], {nb}",
                "popfq",
                b = in(reg) bits,
                nb = in(reg) !bits,
                f = out(reg) after,
                inlateout("rax") nr => ret,
                in("rdi") a[0],
                in("rsi") a[1],
                in("rdx") a[2],
                out("rcx") _,
                out("r11") _,
            )
        };
        (ret, after)
    }
}

#[cfg(target_arch = "aarch64")]
mod flags {
    use core::arch::asm;

    /// N, Z, C, V.
    pub const CONDITIONS: u64 = 0xf << 28;

    pub fn read() -> u64 {
        let f: u64;
        // SAFETY: reads NZCV; changes nothing.
        unsafe { asm!("mrs {}, nzcv", out(reg) f) };
        f
    }

    /// Makes syscall `nr` with NZCV = `bits` at the `svc` and no Rust code in between;
    /// returns the raw result and NZCV right after the return.
    pub fn syscall_with(nr: usize, a: [usize; 3], bits: u64) -> (usize, u64) {
        let ret: usize;
        let after: u64;
        // SAFETY: the syscall ABI (`libway::arch`): only x0 changes; the arguments are
        // valid for the call the caller names.
        unsafe {
            asm!(
                "msr nzcv, {b}",
                "svc #0",
                "mrs {f}, nzcv",
                b = in(reg) bits,
                f = lateout(reg) after,
                inlateout("x0") a[0] => ret,
                in("x1") a[1],
                in("x2") a[2],
                in("x8") nr,
            )
        };
        (ret, after)
    }
}

extern "C" fn record_flags(_: i32) {
    SEEN.store(flags::read(), Ordering::SeqCst);
    RAN.fetch_add(1, Ordering::SeqCst);
}

/// The condition flags a program had at a syscall come back after a signal handler ran
/// in between (with flags of its own) and returned through `sigreturn`.
fn flags_survive_signal_and_sigreturn() -> Check {
    let status = in_child(|| {
        if signal::set_handler(SIGUSR1, Handler::Catch(record_flags)).is_err() {
            return 2;
        }
        let Ok(pid) = libway::process::getpid() else {
            return 2;
        };
        let (ret, after) =
            flags::syscall_with(sys::KILL, [pid, SIGUSR1 as usize, 0], flags::CONDITIONS);
        if ret != 0 || RAN.load(Ordering::SeqCst) != 1 {
            return 3;
        }
        if after & flags::CONDITIONS != flags::CONDITIONS {
            return 4;
        }
        0
    })?;
    expect_exit(status, 0).map_err(explain_exit(
        status,
        &[
            (2, "setup failed"),
            (3, "kill failed or the handler did not run once"),
            (4, "condition flags lost across the handler"),
        ],
    ))
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use libway::{io, process, smp};

    /// NT set, then `execve` (whose first return to user mode is an `iretq`): the new
    /// program runs (`/bin/true` exits 0) and the kernel stays up.
    pub fn nt_then_execve() -> Check {
        let status = in_child(|| {
            flags::set(flags::NT);
            let e = process::execve("/bin/true", &["true"], &[]);
            (e.code() as i32).clamp(1, 255)
        })?;
        expect_exit(status, 0)
    }

    /// NT set, then a signal delivered on the syscall's return (through `iretq`): the
    /// handler runs, starts with NT clear, and the program goes on.
    pub fn nt_then_signal() -> Check {
        let status = in_child(|| {
            if signal::set_handler(SIGUSR1, Handler::Catch(record_flags)).is_err() {
                return 2;
            }
            flags::set(flags::NT);
            let r = signal::raise(SIGUSR1);
            flags::clear(flags::NT);
            if r.is_err() || RAN.load(Ordering::SeqCst) != 1 {
                return 3;
            }
            if SEEN.load(Ordering::SeqCst) & flags::NT != 0 {
                return 4;
            }
            0
        })?;
        expect_exit(status, 0).map_err(explain_exit(
            status,
            &[
                (2, "sigaction failed"),
                (3, "the handler did not run once"),
                (4, "the handler started with NT set"),
            ],
        ))
    }

    extern "C" fn set_nt(_: i32) {
        RAN.fetch_add(1, Ordering::SeqCst);
        // Left set for the restorer's `sigreturn` syscall.
        flags::set(flags::NT);
    }

    /// NT set by the handler, then `sigreturn` (which leaves through `iretq`): the
    /// interrupted code resumes, with NT clear.
    pub fn nt_then_sigreturn() -> Check {
        let status = in_child(|| {
            if signal::set_handler(SIGUSR1, Handler::Catch(set_nt)).is_err() {
                return 2;
            }
            let r = signal::raise(SIGUSR1);
            let nt = flags::read() & flags::NT;
            flags::clear(flags::NT);
            if r.is_err() || RAN.load(Ordering::SeqCst) != 1 {
                return 3;
            }
            if nt != 0 {
                return 4;
            }
            0
        })?;
        expect_exit(status, 0).map_err(explain_exit(
            status,
            &[
                (2, "sigaction failed"),
                (3, "the handler did not run once"),
                (4, "NT still set after sigreturn"),
            ],
        ))
    }

    /// AC set in user mode across syscalls that copy user memory both ways: the copies
    /// are right and the program's own AC is still set afterwards.
    pub fn ac_then_user_copies() -> Check {
        let (r, w) = io::pipe(true).map_err(|e| alloc::format!("pipe: {e}"))?;
        let data: [u8; 64] = core::array::from_fn(|i| i as u8 ^ 0xa5);
        let mut back = [0u8; 64];
        let (wrote, f1) =
            flags::syscall_with(sys::WRITE, [w, data.as_ptr() as usize, 64], flags::AC);
        let (read, f2) = if wrote == 64 {
            flags::syscall_with(sys::READ, [r, back.as_mut_ptr() as usize, 64], flags::AC)
        } else {
            (0, 0)
        };
        let _ = io::close(r);
        let _ = io::close(w);
        if wrote != 64 || read != 64 {
            return Err(alloc::format!("write returned {wrote:#x}, read {read:#x}"));
        }
        if back != data {
            return Err("the bytes read back differ from those written".into());
        }
        if f1 & flags::AC == 0 || f2 & flags::AC == 0 {
            return Err("the program's own AC was cleared by the syscall".into());
        }
        Ok(())
    }

    /// Spins in user mode with AC set (interrupts and preemption land there) for about
    /// `rounds` yields; true if AC was still set at the end.
    fn spin_with_ac(rounds: usize) -> bool {
        let after: u64;
        // SAFETY: only registers and RFLAGS; the syscall ABI clobbers rcx and r11.
        unsafe {
            core::arch::asm!(
                "pushfq",
                "or qword ptr [rsp], {ac}",
                "popfq",
                "2:",
                "mov {n}, 20000",
                "3:",
                "dec {n}",
                "jnz 3b",
                "mov eax, {yield_nr}",
                "syscall",
                "dec {rounds}",
                "jnz 2b",
                "pushfq",
                "pop {f}",
                "pushfq",
                "and qword ptr [rsp], {nac}",
                "popfq",
                ac = in(reg) flags::AC,
                nac = in(reg) !flags::AC,
                n = out(reg) _,
                rounds = inout(reg) rounds => _,
                f = out(reg) after,
                yield_nr = const sys::SCHED_YIELD,
                out("rax") _,
                out("rcx") _,
                out("r11") _,
            )
        };
        after & flags::AC != 0
    }

    /// One program runs with AC set on the same CPU as another: the other never sees
    /// AC in its own flags, and the first keeps its AC through every preemption.
    pub fn ac_stays_with_its_program() -> Check {
        let spinner = match process::fork() {
            Ok(0) => {
                let _ = smp::pin_to(0);
                process::exit(if spin_with_ac(400) { 0 } else { 2 })
            }
            Ok(pid) => pid,
            Err(e) => return Err(alloc::format!("fork: {e}")),
        };
        let watcher = in_child(|| {
            let _ = smp::pin_to(0);
            for _ in 0..400 {
                if flags::read() & flags::AC != 0 {
                    return 3;
                }
                let _ = process::sched_yield();
            }
            0
        });
        let spun = libway::suite::wait_for(spinner, libway::suite::CHILD_TIMEOUT_MS);
        let watcher = watcher?;
        expect_exit(watcher, 0).map_err(explain_exit(
            watcher,
            &[(3, "AC of another program leaked in")],
        ))?;
        let spun = spun?;
        expect_exit(spun, 0).map_err(explain_exit(spun, &[(2, "its own AC was lost")]))
    }
}

#[cfg(target_arch = "aarch64")]
mod a64 {
    use super::*;
    use libway::abi::signal::SIGILL;
    use libway::suite::expect_signal;

    const SURVIVED: i32 = 77;

    /// EL0 cannot mask interrupts (SCTLR_EL1.UMA clear): `msr daifset` is undefined there.
    pub fn el0_cannot_mask_interrupts() -> Check {
        let status = in_child(|| {
            // SAFETY: deliberately privileged: this child exists to be killed for it.
            unsafe { core::arch::asm!("msr daifset, #2") };
            SURVIVED
        })?;
        expect_signal(status, SIGILL)
    }

    /// EL0 cannot read DAIF either.
    pub fn el0_cannot_read_daif() -> Check {
        let status = in_child(|| {
            let v: u64;
            // SAFETY: as above.
            unsafe { core::arch::asm!("mrs {}, daif", out(reg) v) };
            core::hint::black_box(v);
            SURVIVED
        })?;
        expect_signal(status, SIGILL)
    }

    /// `msr pan, #1` (encoded by hand: the assembler wants the PAN feature) is undefined
    /// at EL0.
    pub fn el0_cannot_set_pan() -> Check {
        let status = in_child(|| {
            // SAFETY: as above.
            unsafe { core::arch::asm!(".inst 0xd500419f") };
            SURVIVED
        })?;
        expect_signal(status, SIGILL)
    }
}

pub fn run(s: &mut Suite) {
    #[cfg(target_arch = "x86_64")]
    {
        s.check("nt_then_execve", x86::nt_then_execve());
        s.check("nt_then_signal", x86::nt_then_signal());
        s.check("nt_then_sigreturn", x86::nt_then_sigreturn());
        s.check("ac_then_user_copies", x86::ac_then_user_copies());
        s.check(
            "ac_stays_with_its_program",
            x86::ac_stays_with_its_program(),
        );
    }
    #[cfg(target_arch = "aarch64")]
    {
        s.check(
            "el0_cannot_mask_interrupts",
            a64::el0_cannot_mask_interrupts(),
        );
        s.check("el0_cannot_read_daif", a64::el0_cannot_read_daif());
        s.check("el0_cannot_set_pan", a64::el0_cannot_set_pan());
    }
    s.check(
        "flags_survive_signal_and_sigreturn",
        flags_survive_signal_and_sigreturn(),
    );
}
