//! In-kernel checks of the x86_64 protection model, run by `boottest` through
//! `arch::HARDENING_CHECKS`: the control bits that make user memory and user code out of
//! the kernel's reach (CR4.SMEP/SMAP, CR0.WP, EFER.NXE), and the flag hygiene that keeps a
//! user's (or a `stac` window's) RFLAGS from reaching other code: trap entry clears AC,
//! RFLAGS is switched per thread, and a frame returning to user mode carries only flags a
//! user may own.
//!
//! Checks only: nothing here changes the CPU's configuration.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{Efer, EferFlags};

use super::gdt::{KERNEL_CS, KERNEL_SS, USER_CS, USER_SS};
use super::trap::{sanitize_user_frame, TrapFrame, AC_IN_LAST_BREAKPOINT, RFLAGS_AC};

/// A named check; `Err` says what is wrong.
pub type Check = (&'static str, fn() -> Result<(), &'static str>);

pub const CHECKS: &[Check] = &[
    ("cr4_smep_smap_and_cr0_wp_set", smep_smap_wp_set),
    ("efer_nxe_set", nxe_set),
    ("trap_entry_clears_ac", trap_entry_clears_ac),
    (
        "context_switch_keeps_rflags_per_thread",
        context_switch_keeps_rflags_per_thread,
    ),
    (
        "user_return_frame_is_sanitized",
        user_return_frame_is_sanitized,
    ),
];

fn smep_smap_wp_set() -> Result<(), &'static str> {
    let cr4 = Cr4::read();
    if !cr4.contains(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION) {
        return Err("CR4.SMEP clear: the kernel could run user pages");
    }
    if !cr4.contains(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION) {
        return Err("CR4.SMAP clear: the kernel could touch user pages outside stac/clac");
    }
    if !Cr0::read().contains(Cr0Flags::WRITE_PROTECT) {
        return Err("CR0.WP clear: the kernel could write read-only pages");
    }
    Ok(())
}

fn nxe_set() -> Result<(), &'static str> {
    if Efer::read().contains(EferFlags::NO_EXECUTE_ENABLE) {
        Ok(())
    } else {
        Err("EFER.NXE clear: no page is non-executable")
    }
}

fn rflags() -> u64 {
    x86_64::registers::rflags::read_raw()
}

/// Sets RFLAGS.AC (`stac`), as the user-copy routines do.
fn stac() {
    // SAFETY: only lifts SMAP for this CPU until `clac`; the checks touch no user memory.
    unsafe { core::arch::asm!("stac", options(nomem, nostack)) };
}

fn clac() {
    // SAFETY: restores SMAP.
    unsafe { core::arch::asm!("clac", options(nomem, nostack)) };
}

/// A breakpoint trap taken inside a `stac` window runs its handler with AC clear.
fn trap_entry_clears_ac() -> Result<(), &'static str> {
    if !super::cpu::smap_enabled() {
        return Err("the CPU has no SMAP");
    }
    AC_IN_LAST_BREAKPOINT.store(true, Ordering::Relaxed);
    stac();
    super::breakpoint();
    clac();
    if AC_IN_LAST_BREAKPOINT.load(Ordering::Relaxed) {
        Err("the trap handler ran with RFLAGS.AC set (SMAP off)")
    } else {
        Ok(())
    }
}

/// A thread switched to while this one has AC set starts with AC clear, and this one gets
/// its AC back when it runs again.
fn context_switch_keeps_rflags_per_thread() -> Result<(), &'static str> {
    use crate::task::{sched, thread::Thread};

    if !super::cpu::smap_enabled() {
        return Err("the CPU has no SMAP");
    }
    let seen = Arc::new(AtomicU64::new(u64::MAX));
    let done = Arc::new(AtomicBool::new(false));
    let t = {
        let (seen, done) = (seen.clone(), done.clone());
        Thread::kernel(wayos_abi::sched::NORMAL, move || {
            seen.store(rflags(), Ordering::SeqCst);
            done.store(true, Ordering::SeqCst);
        })
        .map_err(|_| "no memory for a kernel thread")?
    };
    t.affinity.store(1 << super::cpu_id(), Ordering::Relaxed);
    sched::make_ready(t);
    stac();
    for _ in 0..10_000 {
        if done.load(Ordering::SeqCst) {
            break;
        }
        sched::yield_now();
    }
    let mine = rflags();
    clac();
    if !done.load(Ordering::SeqCst) {
        return Err("the other thread did not run");
    }
    if seen.load(Ordering::SeqCst) & RFLAGS_AC != 0 {
        return Err("a new thread inherited the switching thread's RFLAGS.AC");
    }
    if mine & RFLAGS_AC == 0 {
        return Err("the thread's own RFLAGS.AC was lost across a switch");
    }
    Ok(())
}

/// A frame forged to return to ring 0 with NT, IOPL 3 and VM set leaves for user mode
/// with only user flags and IF.
fn user_return_frame_is_sanitized() -> Result<(), &'static str> {
    const NT: u64 = 1 << 14;
    const IOPL: u64 = 3 << 12;
    const VM: u64 = 1 << 17;
    const IF: u64 = 1 << 9;
    const CF: u64 = 1;
    let mut f = TrapFrame::new_user(0x40_0000, 0x7fff_0000, [0; 4]);
    f.cs = u64::from(KERNEL_CS);
    f.ss = u64::from(KERNEL_SS);
    f.rflags = NT | IOPL | VM | RFLAGS_AC | CF;
    sanitize_user_frame(&mut f);
    if f.cs != u64::from(USER_CS) || f.ss != u64::from(USER_SS) {
        return Err("a frame kept kernel segments");
    }
    if f.rflags & (NT | IOPL | VM) != 0 {
        return Err("a frame kept NT, IOPL or VM");
    }
    if f.rflags & (IF | RFLAGS_AC | CF) != IF | RFLAGS_AC | CF {
        return Err("a frame lost IF or a flag the user owns");
    }
    Ok(())
}
