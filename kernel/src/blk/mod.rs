//! TEMPORARY (helper B, issue 18): a RAM disk behind helper A's block API so the FAT
//! mount can be tried in QEMU before `crate::blk` lands. Replaced by A's module at merge.

use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use spin::Once;
use wayos_abi::blk::BlkInfo;
use wayos_kcore::fs::fat::disk::{Disk, Io};

use crate::error::{Errno, KResult};
use crate::sync::Mutex;

const BYTES: usize = 4 << 20;
static RAM: Once<Mutex<Vec<u8>>> = Once::new();
static MOUNTED: AtomicBool = AtomicBool::new(false);

struct Mem<'a>(&'a mut [u8]);
impl Disk for Mem<'_> {
    fn read(&mut self, o: u64, b: &mut [u8]) -> Result<(), isize> {
        b.copy_from_slice(&self.0[o as usize..o as usize + b.len()]);
        Ok(())
    }
    fn write(&mut self, o: u64, b: &[u8]) -> Result<(), isize> {
        self.0[o as usize..o as usize + b.len()].copy_from_slice(b);
        Ok(())
    }
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
}

pub fn init() {
    let mut v = vec![0u8; BYTES];
    let opts = wayos_kcore::fs::fat::lamfat::FormatVolumeOptions::new()
        .fat_type(wayos_kcore::fs::fat::lamfat::FatType::Fat16)
        .bytes_per_cluster(512);
    if let Err(e) = wayos_kcore::fs::fat::lamfat::format_volume(&mut Io::new(Mem(&mut v), true), opts) {
        log::warn!("ramdisk: format failed: {e:?}");
    }
    RAM.call_once(|| Mutex::new(v));
}

pub fn count() -> usize {
    1
}

fn check(dev: usize, offset: u64, len: usize) -> KResult<usize> {
    if dev != 0 || RAM.get().is_none() {
        return Err(Errno::ENODEV);
    }
    let end = offset.checked_add(len as u64).ok_or(Errno::EINVAL)?;
    if end > BYTES as u64 {
        return Err(Errno::EINVAL);
    }
    Ok(offset as usize)
}

pub fn info(dev: usize) -> KResult<BlkInfo> {
    check(dev, 0, 0)?;
    let mut name = [0u8; 8];
    name[..4].copy_from_slice(b"blk0");
    Ok(BlkInfo {
        sectors: (BYTES / 512) as u64,
        sector_size: 512,
        flags: 0,
        pci: 0,
        irq: 0,
        name,
    })
}

pub fn read(dev: usize, offset: u64, buf: &mut [u8]) -> KResult<()> {
    let o = check(dev, offset, buf.len())?;
    let ram = RAM.get().ok_or(Errno::ENODEV)?.lock();
    buf.copy_from_slice(&ram[o..o + buf.len()]);
    Ok(())
}

pub fn write(dev: usize, offset: u64, buf: &[u8]) -> KResult<()> {
    let o = check(dev, offset, buf.len())?;
    let mut ram = RAM.get().ok_or(Errno::ENODEV)?.lock();
    ram[o..o + buf.len()].copy_from_slice(buf);
    Ok(())
}

pub fn sync(dev: usize) -> KResult<()> {
    check(dev, 0, 0).map(|_| ())
}

pub fn sync_all() -> KResult<()> {
    Ok(())
}

pub fn set_mounted(dev: usize, mounted: bool) -> KResult<()> {
    check(dev, 0, 0)?;
    if mounted && MOUNTED.swap(true, Ordering::AcqRel) {
        return Err(Errno::EBUSY);
    }
    if !mounted {
        MOUNTED.store(false, Ordering::Release);
    }
    Ok(())
}
