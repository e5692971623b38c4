//! `klog_read`: the kernel log ring, read by user programs (the `klog` program).

use alloc::vec::Vec;

use wayos_abi::limits::KLOG_BYTES;

use crate::error::{Errno, KResult};
use crate::umem::{UserSlice, WriteOnly};

/// `klog_read(buf, len) -> bytes copied`: the newest whole lines of the ring that fit in
/// `len`, oldest line first.
///
/// The first `min(len, KLOG_BYTES)` bytes of the buffer (all the call can ever write) must
/// be writable, or the call fails with `EFAULT` before writing anything, whatever the ring
/// holds. The ring is copied into a kernel snapshot under its lock and copied out after the
/// lock is released.
pub fn sys_klog_read(buf: usize, len: usize) -> KResult<usize> {
    if len == 0 {
        return Ok(0);
    }
    let buf = UserSlice::<WriteOnly>::new(buf, len)?.prefix(KLOG_BYTES);
    buf.probe_writable()?;
    let mut snapshot = Vec::new();
    snapshot
        .try_reserve_exact(buf.len())
        .map_err(|_| Errno::ENOMEM)?;
    snapshot.resize(buf.len(), 0);
    let n = crate::klog::copy_newest(&mut snapshot);
    buf.write_from(&snapshot[..n])?;
    Ok(n)
}
