//! `faulttest`: a user program that dereferences null, writes to its own read-only code
//! or jumps into the kernel is killed by SIGSEGV, and the system keeps running.
//!
//! Each fault happens in a forked child; the parent checks the wait status. A child that
//! survives its fault exits with [`SURVIVED`], so the check says so instead of passing.
#![no_std]
#![no_main]

use core::hint::black_box;

use libway::abi::signal::SIGSEGV;
use libway::suite::{expect_signal, in_child, Check, Suite};
use libway::{println, Args};

libway::entry!(main);

/// Exit status of a child whose fault did not kill it.
const SURVIVED: i32 = 77;

/// A kernel text address (the base of the kernel image on x86_64; on aarch64 also a
/// TTBR1 address no user access may reach).
const KERNEL_ADDR: usize = 0xffff_ffff_8000_0000;

/// Runs `fault` in a child and checks the child dies of SIGSEGV.
fn expect_segv(fault: fn()) -> Check {
    let status = in_child(|| {
        fault();
        SURVIVED
    })?;
    expect_signal(status, SIGSEGV)
}

fn read_null() {
    let p: *const u64 = black_box(core::ptr::null());
    // SAFETY: deliberately invalid: this child exists to be killed by the fault.
    let v = unsafe { p.read_volatile() };
    black_box(v);
}

/// A function whose code the write test targets.
#[inline(never)]
fn victim() -> u32 {
    black_box(0x5a5a)
}

fn write_text() {
    let p = black_box(victim as fn() -> u32 as usize as *mut u8);
    // SAFETY: deliberately invalid (the text is mapped read+execute): this child exists to
    // be killed by the fault.
    unsafe { p.write_volatile(0xcc) };
    // Only reached if the write went through: make sure it is not optimized away.
    black_box(victim());
}

fn jump_to_kernel() {
    let addr = black_box(KERNEL_ADDR);
    // SAFETY: deliberately invalid: a user-mode jump to kernel memory must fault, and this
    // child exists to be killed by it. (Transmuting an address to a fn pointer is the
    // only way to express the jump.)
    let f: extern "C" fn() = unsafe { core::mem::transmute::<usize, extern "C" fn()>(addr) };
    f();
}

fn main(_args: Args) -> i32 {
    let tests: [(&str, fn()); 3] = [
        ("null_dereference", read_null),
        ("write_to_text", write_text),
        ("jump_to_kernel", jump_to_kernel),
    ];
    println!("faulttest: {} tests", tests.len());
    let mut suite = Suite::new("faulttest");
    for (name, fault) in tests {
        suite.check(name, expect_segv(fault));
    }
    // The parent is still here after three faulting children: the system kept running.
    suite.finish()
}
