//! `klog_read`: the kernel log ring, read by user programs (the `klog` program).

use alloc::vec::Vec;

use wayos_abi::limits::KLOG_BYTES;

use crate::error::{Errno, KResult};
use crate::usercopy::{check_range, copy_from_user, copy_to_user};

/// Bytes per page, for probing the destination one page at a time.
const PAGE: usize = wayos_abi::mman::PAGE_SIZE;

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
    check_range(buf, len)?;
    let want = len.min(KLOG_BYTES);
    probe_writable(buf, want)?;
    let mut snapshot = Vec::new();
    snapshot
        .try_reserve_exact(want)
        .map_err(|_| Errno::ENOMEM)?;
    snapshot.resize(want, 0);
    let n = crate::klog::copy_newest(&mut snapshot);
    copy_to_user(buf, &snapshot[..n])?;
    Ok(n)
}

/// Fails with `EFAULT` unless every page of `[addr, addr + len)` (inside the user window,
/// `len > 0`) can be read and written, without changing its contents: one byte per page is
/// read and written back. This faults the pages in (and breaks copy-on-write sharing) as
/// the real copy would.
fn probe_writable(addr: usize, len: usize) -> KResult<()> {
    let last = addr + (len - 1);
    let mut at = addr;
    loop {
        let mut byte = [0u8; 1];
        copy_from_user(&mut byte, at)?;
        copy_to_user(at, &byte)?;
        let next_page = (at | (PAGE - 1)) + 1;
        if next_page > last {
            return Ok(());
        }
        at = next_page;
    }
}
