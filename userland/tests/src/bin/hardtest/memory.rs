//! Kernel memory is out of a user program's reach: reading or writing the direct map or the
//! kernel image from user mode kills the program with SIGSEGV and nothing else.

use core::hint::black_box;

use libway::abi::signal::SIGSEGV;
use libway::suite::{expect_signal, in_child, Check, Suite};

/// Exit status of a child whose access did not fault.
const SURVIVED: i32 = 77;

/// The start of the direct map of all physical memory (both architectures; see
/// `docs/memory.md`): physical page 0, always mapped for the kernel.
const DIRECT_MAP: usize = 0xffff_8000_0000_0000;
/// The kernel image's base in the top 2 GiB.
const KERNEL_IMAGE: usize = 0xffff_ffff_8000_0000;

fn access(addr: usize, write: bool) -> Check {
    let status = in_child(|| {
        let p = black_box(addr as *mut u64);
        if write {
            // SAFETY: deliberately invalid: this child exists to be killed by the fault.
            unsafe { p.write_volatile(0x5a5a_5a5a) };
        } else {
            // SAFETY: as above.
            black_box(unsafe { p.read_volatile() });
        }
        SURVIVED
    })?;
    expect_signal(status, SIGSEGV)
}

pub fn run(s: &mut Suite) {
    s.check("read_direct_map_faults", access(DIRECT_MAP + 0x1000, false));
    s.check("write_direct_map_faults", access(DIRECT_MAP + 0x1000, true));
    s.check("read_kernel_image_faults", access(KERNEL_IMAGE, false));
    s.check("write_kernel_image_faults", access(KERNEL_IMAGE, true));
}
