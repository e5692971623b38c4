//! The kernel log: `klog_read`, the newest kernel log lines (`[secs.micros] LEVEL cpuN
//! target: message`), oldest first.

use alloc::vec;
use alloc::vec::Vec;

use wayos_abi::limits::KLOG_BYTES;
use wayos_abi::sys;

use crate::errno::Errno;

/// `klog_read(buf)`: fills `buf` with the newest whole lines that fit, oldest first, and
/// returns how many bytes it wrote (0 if not even the newest line fits).
pub fn read(buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we borrow
    // mutably, so no other reference observes the change.
    unsafe {
        crate::sys::call(
            sys::KLOG_READ,
            [buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0, 0],
        )
    }
}

/// The whole kernel log ring as it is now.
pub fn read_all() -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; KLOG_BYTES];
    let n = read(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// The `klog` program (also installed as `dmesg`): writes the whole ring to standard
/// output; 0, or 1 with a message naming `prog` on standard error if a call fails.
pub fn print_all(prog: &str) -> i32 {
    let log = match read_all() {
        Ok(log) => log,
        Err(e) => {
            crate::eprintln!("{prog}: klog_read: {e}");
            return 1;
        }
    };
    match crate::io::write_all(crate::io::STDOUT, &log) {
        Ok(()) => 0,
        Err(e) => {
            crate::eprintln!("{prog}: write: {e}");
            1
        }
    }
}
