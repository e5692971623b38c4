//! Block devices: their descriptions (`blk_info`), raw sector reads and writes through
//! the kernel's buffer cache (`blk_read`, `blk_write`, which need `caps::DISK`), and
//! `sync`. See `wayos_abi::sys` and `docs/storage.md`.

use alloc::vec::Vec;

pub use wayos_abi::blk::{
    BlkInfo, CACHE_BLOCK, FLAG_IRQ, FLAG_MOUNTED, FLAG_READONLY, MAX_DEVICES, MAX_IO, SECTOR_SIZE,
};
use wayos_abi::sys;

use crate::errno::Errno;

/// `blk_info(dev)`: device `dev`'s description; `ENODEV` past the last.
pub fn info(dev: usize) -> Result<BlkInfo, Errno> {
    let mut out = BlkInfo::default();
    // SAFETY: the kernel writes one `BlkInfo` into `out`, borrowed mutably for the call.
    unsafe {
        crate::sys::call(
            sys::BLK_INFO,
            [dev, crate::sys::arg_out(&mut out), 0, 0, 0, 0],
        )?;
    }
    Ok(out)
}

/// Every block device, in order (`blk0` first).
pub fn devices() -> Vec<BlkInfo> {
    (0..MAX_DEVICES).map_while(|d| info(d).ok()).collect()
}

/// The device's name (`blk0`, ...).
pub fn name(info: &BlkInfo) -> &str {
    let n = info
        .name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(info.name.len());
    core::str::from_utf8(&info.name[..n]).unwrap_or("?")
}

/// `blk_read(dev, sector, buf)`: fills `buf` (whole sectors, at most [`MAX_IO`]) from
/// `sector` on; returns the bytes read.
pub fn read(dev: usize, sector: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, borrowed mutably.
    unsafe {
        crate::sys::call(
            sys::BLK_READ,
            [
                dev,
                sector as usize,
                buf.as_mut_ptr() as usize,
                buf.len(),
                0,
                0,
            ],
        )
    }
}

/// `blk_write(dev, sector, buf)`: writes `buf` (whole sectors, at most [`MAX_IO`]) from
/// `sector` on into the cache; returns the bytes written. Reaches the disk at [`sync`].
pub fn write(dev: usize, sector: u64, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel only reads `buf.len()` bytes of `buf`.
    unsafe {
        crate::sys::call(
            sys::BLK_WRITE,
            [dev, sector as usize, buf.as_ptr() as usize, buf.len(), 0, 0],
        )
    }
}

/// Raw `blk_read` with any pointer (for tests of the kernel's checks).
///
/// # Safety
/// If `ptr..ptr + len` is memory of this program, the kernel may overwrite it.
pub unsafe fn read_raw(dev: usize, sector: u64, ptr: usize, len: usize) -> Result<usize, Errno> {
    // SAFETY: forwarded to the caller.
    unsafe { crate::sys::call(sys::BLK_READ, [dev, sector as usize, ptr, len, 0, 0]) }
}

/// Raw `blk_write` with any pointer (for tests of the kernel's checks). The kernel only
/// reads the memory, so this is safe.
pub fn write_raw(dev: usize, sector: u64, ptr: usize, len: usize) -> Result<usize, Errno> {
    // SAFETY: the kernel only reads `len` bytes at `ptr`, and only if they are mapped.
    unsafe { crate::sys::call(sys::BLK_WRITE, [dev, sector as usize, ptr, len, 0, 0]) }
}

/// `sync()`: every dirty cached block of every device on disk, device caches flushed.
pub fn sync() -> Result<(), Errno> {
    // SAFETY: no arguments; the call touches no memory of this program.
    unsafe { crate::sys::call(sys::SYNC, [0; 6]) }.map(drop)
}
