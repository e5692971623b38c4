//! The only way the kernel touches user memory: checked copies.
//!
//! A user range is accepted only if it lies entirely below `USER_END` without overflow;
//! the copy itself runs in the arch's fault-tolerant routine, so an unmapped or protected
//! page (that the VM cannot fault in) becomes `EFAULT`, never a kernel fault. Never hold an
//! address-space lock across these calls: a copy may fault and the fault handler takes it.

use alloc::vec::Vec;

use wayos_abi::layout::USER_END;

use crate::arch;
use crate::error::{Errno, KResult};

/// Accepts `[addr, addr+len)` only if it lies in the user window without overflow.
pub fn check_range(addr: usize, len: usize) -> KResult<()> {
    match addr.checked_add(len) {
        Some(end) if end <= USER_END => Ok(()),
        _ => Err(Errno::EFAULT),
    }
}

/// Copies `dst.len()` bytes from user address `src`.
pub fn copy_from_user(dst: &mut [u8], src: usize) -> KResult<()> {
    check_range(src, dst.len())?;
    if dst.is_empty() {
        return Ok(());
    }
    // SAFETY: `dst` is a valid kernel buffer; the user range was checked to lie in the
    // user window, and faults there are fixed up by the arch routine.
    if unsafe { arch::user_copy(dst.as_mut_ptr(), src as *const u8, dst.len()) } {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// Copies `src` to user address `dst`.
pub fn copy_to_user(dst: usize, src: &[u8]) -> KResult<()> {
    check_range(dst, src.len())?;
    if src.is_empty() {
        return Ok(());
    }
    // SAFETY: as above, with the roles swapped.
    if unsafe { arch::user_copy(dst as *mut u8, src.as_ptr(), src.len()) } {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// Reads `len` user bytes into a new buffer, refusing lengths over `max` with `err`.
pub fn read_vec(src: usize, len: usize, max: usize, err: Errno) -> KResult<Vec<u8>> {
    if len > max {
        return Err(err);
    }
    check_range(src, len)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Errno::ENOMEM)?;
    v.resize(len, 0);
    copy_from_user(&mut v, src)?;
    Ok(v)
}

/// Reads a plain-data value (`Timespec`, `StrRef`) from user memory.
pub fn read_u64_pair(src: usize) -> KResult<(u64, u64)> {
    let mut b = [0u8; 16];
    copy_from_user(&mut b, src)?;
    let lo = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
    let hi = u64::from_le_bytes(b[8..].try_into().expect("8 bytes"));
    Ok((lo, hi))
}

/// Writes two little-endian words (a `Timespec`) to user memory.
pub fn write_u64_pair(dst: usize, a: u64, b: u64) -> KResult<()> {
    let mut buf = [0u8; 16];
    buf[..8].copy_from_slice(&a.to_le_bytes());
    buf[8..].copy_from_slice(&b.to_le_bytes());
    copy_to_user(dst, &buf)
}
