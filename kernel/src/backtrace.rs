//! Frame-pointer stack walking (the kernel is built with `force-frame-pointers`).
//!
//! On both architectures a frame record is two words, `[previous fp, return address]`, and
//! the frame pointer register points at it. The walker reads only memory inside the kernel
//! image (boot and exception stacks) or the running thread's kernel stack, and requires
//! frames to move strictly up the stack, so a corrupt chain ends the walk instead of
//! faulting inside the panic handler.

use core::sync::atomic::{AtomicUsize, Ordering};

use wayos_abi::smp::MAX_CPUS;

use crate::{console, symbols};

const MAX_FRAMES: usize = 32;

extern "C" {
    static __kernel_start: u8;
    static __kernel_end: u8;
}

/// Bounds of each CPU's running thread's kernel stack (heap memory, outside the image),
/// updated by the scheduler on every switch; lock-free so the panic path can read it.
static STACK_LO: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];
static STACK_HI: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];

/// Records the stack this CPU is about to run on.
pub fn set_stack_bounds(lo: usize, hi: usize) {
    let cpu = crate::arch::cpu_id() % MAX_CPUS;
    STACK_LO[cpu].store(lo, Ordering::Relaxed);
    STACK_HI[cpu].store(hi, Ordering::Relaxed);
}

fn readable(fp: usize) -> bool {
    let Some(end) = fp.checked_add(16) else {
        return false;
    };
    let (lo, hi) = kernel_image();
    let cpu = crate::arch::cpu_id() % MAX_CPUS;
    let (slo, shi) = (
        STACK_LO[cpu].load(Ordering::Relaxed),
        STACK_HI[cpu].load(Ordering::Relaxed),
    );
    (fp >= lo && end <= hi) || (fp >= slo && end <= shi)
}

fn kernel_image() -> (usize, usize) {
    // Only the addresses of the linker symbols are taken, never their contents.
    (
        core::ptr::addr_of!(__kernel_start) as usize,
        core::ptr::addr_of!(__kernel_end) as usize,
    )
}

/// Return addresses of the frames above `fp`, newest first, into `out`.
pub fn collect(mut fp: usize, out: &mut [usize]) -> usize {
    let mut n = 0;
    while n < out.len() {
        if !fp.is_multiple_of(8) || !readable(fp) {
            break;
        }
        // SAFETY: `fp..fp+16` lies inside the kernel image or the running thread's kernel
        // stack, both mapped while this code runs, and is 8-byte aligned; reading two
        // words there cannot fault.
        let (next, ret) = unsafe {
            let p = fp as *const usize;
            (p.read_volatile(), p.add(1).read_volatile())
        };
        if ret == 0 {
            break;
        }
        out[n] = ret;
        n += 1;
        if next <= fp {
            break;
        }
        fp = next;
    }
    n
}

/// Prints a symbolized backtrace starting at frame pointer `fp`, lock-free for the panic path.
pub fn print(fp: usize) {
    let mut frames = [0usize; MAX_FRAMES];
    let n = collect(fp, &mut frames);
    console::write_unlocked(format_args!("backtrace:\n"));
    for (i, &ret) in frames[..n].iter().enumerate() {
        // The return address points after the call; name the call itself.
        let pc = ret.saturating_sub(1);
        console::write_unlocked(format_args!(
            "  {i:2}: {ret:#018x} {}\n",
            symbols::Describe(pc)
        ));
    }
    if n == 0 {
        console::write_unlocked(format_args!(
            "  (no frames: fp {fp:#x}, stack {:#x}-{:#x})\n",
            STACK_LO[crate::arch::cpu_id() % MAX_CPUS].load(Ordering::Relaxed),
            STACK_HI[crate::arch::cpu_id() % MAX_CPUS].load(Ordering::Relaxed)
        ));
    }
}
