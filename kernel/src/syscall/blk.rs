//! The block-device syscalls: `blk_info`, `blk_read`, `blk_write`, `sync`
//! (`wayos_abi::sys`, `docs/storage.md`).
//!
//! Arguments are checked here, in the order the errors are documented; the devices and
//! the cache are `crate::blk`. The capability (`DISK` for the raw calls) is checked by
//! the gate. User memory is copied into or out of a kernel buffer before or after the
//! device operation, never while `blk` holds a lock; at most `MAX_IO` bytes per call.
#![deny(unsafe_code)]

use alloc::vec::Vec;

use wayos_abi::blk::{BlkInfo, MAX_IO, SECTOR_SIZE};

use crate::blk;
use crate::error::{Errno, KResult};
use crate::umem::{ReadOnly, UserPtr, UserSlice, WriteOnly};

/// `blk_info(dev, out) -> 0`.
pub fn sys_blk_info(dev: usize, out: usize) -> KResult<usize> {
    let info = blk::info(dev)?;
    UserPtr::<BlkInfo, WriteOnly>::new(out)?.write(&info)?;
    Ok(0)
}

/// The byte offset of `len` bytes at `sector` of `dev`, after the checks both raw calls
/// share: `ENODEV`, then `EINVAL` for a length that is zero, not whole sectors or over
/// `MAX_IO`, or a range past the end.
fn raw_range(dev: usize, sector: usize, len: usize) -> KResult<u64> {
    let info = blk::info(dev)?;
    if len == 0 || !len.is_multiple_of(SECTOR_SIZE) || len > MAX_IO {
        return Err(Errno::EINVAL);
    }
    let end = (sector as u64)
        .checked_add((len / SECTOR_SIZE) as u64)
        .ok_or(Errno::EINVAL)?;
    if end > info.sectors {
        return Err(Errno::EINVAL);
    }
    Ok(sector as u64 * SECTOR_SIZE as u64)
}

/// A zeroed kernel buffer of `len` (at most `MAX_IO`) bytes, or `ENOMEM`.
fn bounce(len: usize) -> KResult<Vec<u8>> {
    crate::mm::reserve::admit(len)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Errno::ENOMEM)?;
    v.resize(len, 0);
    Ok(v)
}

/// `blk_read(dev, sector, buf, len) -> len`.
pub fn sys_blk_read(dev: usize, sector: usize, buf: usize, len: usize) -> KResult<usize> {
    let offset = raw_range(dev, sector, len)?;
    let user = UserSlice::<WriteOnly>::new(buf, len)?;
    // A bad buffer is refused before any device work.
    user.probe_writable()?;
    let mut data = bounce(len)?;
    blk::read(dev, offset, &mut data)?;
    user.write_from(&data)?;
    Ok(len)
}

/// `blk_write(dev, sector, buf, len) -> len`.
pub fn sys_blk_write(dev: usize, sector: usize, buf: usize, len: usize) -> KResult<usize> {
    let offset = raw_range(dev, sector, len)?;
    if blk::is_mounted(dev) {
        return Err(Errno::EBUSY);
    }
    let src = UserSlice::<ReadOnly>::new(buf, len)?;
    crate::mm::reserve::admit(len)?;
    let data = src.read_vec()?;
    // Mounted between the check and now? `blk::write` does not know about mounts, so
    // check again after the copy (the copy may have slept on a page fault).
    if blk::is_mounted(dev) {
        return Err(Errno::EBUSY);
    }
    blk::write(dev, offset, &data)?;
    Ok(len)
}

/// `sync() -> 0`.
pub fn sys_sync() -> KResult<usize> {
    // Open files' directory entries on the FAT mounts first, then every device.
    let files = crate::fs::sync_mounts();
    blk::sync_all()?;
    files?;
    Ok(0)
}
