//! The byte stream `lamfat` reads a volume through, over a [`Disk`], with a few blocks
//! cached, and the clock it stamps files with.
//!
//! The kernel's disk is a block device behind the buffer cache; the host tests' disk is a
//! vector. Either way every access is bounds-checked here first: an offset past the end
//! of the device is an error (`EIO`), never a short read that `lamfat` might misread.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use lamfat::{Date, DateTime, IoBase, IoError, Read, Seek, SeekFrom, Time, TimeProvider, Write};
use wayos_abi::errno;

use crate::date;

/// A device holding a volume, addressed in bytes. Errors are errno values.
pub trait Disk {
    /// Fills `buf` from `offset` (the range is inside the device).
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), isize>;
    /// Writes `buf` at `offset` (the range is inside the device).
    fn write(&mut self, offset: u64, buf: &[u8]) -> Result<(), isize>;
    /// The device's size in bytes.
    fn size(&self) -> u64;
}

/// An I/O error: the errno the disk gave, or `EIO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoErr(pub isize);

impl IoError for IoErr {
    fn is_interrupted(&self) -> bool {
        false
    }
    fn new_unexpected_eof_error() -> Self {
        IoErr(errno::EIO)
    }
    fn new_write_zero_error() -> Self {
        IoErr(errno::EIO)
    }
}

/// Bytes in one block of [`Io`]'s cache.
pub const BLOCK: usize = 4096;
/// Blocks [`Io`] keeps.
const BLOCKS: usize = 8;

struct Cached {
    /// Block-aligned offset.
    at: u64,
    data: Box<[u8; BLOCK]>,
    dirty: bool,
    /// For LRU.
    used: u64,
}

/// The disk and a few blocks of it. `lamfat` reads and writes FAT entries 4 bytes at a
/// time and data a cluster (512 bytes here) at a time; each such access would be one
/// call into the block layer. Accesses smaller than a block go through these blocks
/// instead (writes are combined and written back when a block is evicted or on
/// [`IoHandle::flush`]); larger ones go straight to the disk, after writing back what
/// they overlap.
struct Inner<D> {
    disk: D,
    cache: Vec<Cached>,
    clock: u64,
}

impl<D: Disk> Inner<D> {
    fn block(&mut self, at: u64) -> Result<usize, isize> {
        self.clock += 1;
        if let Some(i) = self.cache.iter().position(|c| c.at == at) {
            self.cache[i].used = self.clock;
            return Ok(i);
        }
        let size = self.disk.size();
        if at + BLOCK as u64 > size {
            return Err(errno::EINVAL);
        }
        let i = if self.cache.len() < BLOCKS {
            self.cache.try_reserve(1).map_err(|_| errno::ENOMEM)?;
            let data: Box<[u8; BLOCK]> = Box::new([0; BLOCK]);
            self.cache.push(Cached {
                at: u64::MAX,
                data,
                dirty: false,
                used: 0,
            });
            self.cache.len() - 1
        } else {
            let i = (0..self.cache.len())
                .min_by_key(|&i| self.cache[i].used)
                .unwrap_or(0);
            self.write_back(i)?;
            i
        };
        let c = &mut self.cache[i];
        c.at = u64::MAX;
        self.disk.read(at, &mut c.data[..])?;
        c.at = at;
        c.dirty = false;
        c.used = self.clock;
        Ok(i)
    }

    fn write_back(&mut self, i: usize) -> Result<(), isize> {
        let c = &mut self.cache[i];
        if c.dirty {
            self.disk.write(c.at, &c.data[..])?;
            c.dirty = false;
        }
        Ok(())
    }

    /// Writes back and (if `drop`) forgets the blocks overlapping `at..end`.
    fn settle(&mut self, at: u64, end: u64, drop: bool) -> Result<(), isize> {
        for i in 0..self.cache.len() {
            let c = &self.cache[i];
            if c.at != u64::MAX && c.at < end && at < c.at + BLOCK as u64 {
                self.write_back(i)?;
                if drop {
                    self.cache[i].at = u64::MAX;
                }
            }
        }
        Ok(())
    }

    /// The block holding `at..at + len`, if it lies in one and is not the whole block.
    fn small(&self, at: u64, len: usize) -> Option<(u64, usize)> {
        let base = at - at % BLOCK as u64;
        let off = (at - base) as usize;
        (len < BLOCK && off + len <= BLOCK && base + BLOCK as u64 <= self.disk.size())
            .then_some((base, off))
    }

    fn read(&mut self, at: u64, buf: &mut [u8]) -> Result<(), isize> {
        if let Some((base, off)) = self.small(at, buf.len()) {
            let i = self.block(base)?;
            buf.copy_from_slice(&self.cache[i].data[off..off + buf.len()]);
            return Ok(());
        }
        self.settle(at, at + buf.len() as u64, false)?;
        self.disk.read(at, buf)
    }

    fn write(&mut self, at: u64, buf: &[u8]) -> Result<(), isize> {
        if let Some((base, off)) = self.small(at, buf.len()) {
            let i = self.block(base)?;
            let c = &mut self.cache[i];
            c.data[off..off + buf.len()].copy_from_slice(buf);
            c.dirty = true;
            return Ok(());
        }
        self.settle(at, at + buf.len() as u64, true)?;
        self.disk.write(at, buf)
    }

    fn flush(&mut self) -> Result<(), isize> {
        let mut r = Ok(());
        for i in 0..self.cache.len() {
            if let Err(e) = self.write_back(i) {
                r = Err(e);
            }
        }
        r
    }
}

/// A [`Disk`] as the seekable stream `lamfat` wants. A read-only stream refuses every
/// write with `EROFS`, so nothing can change a volume mounted read-only. Small accesses
/// go through a few cached blocks (see `Inner`); [`IoHandle::flush`] writes them back,
/// and so does dropping the stream (after `lamfat`'s unmount).
pub struct Io<D: Disk> {
    inner: Rc<RefCell<Inner<D>>>,
    pos: u64,
    writable: bool,
}

/// A second handle on an [`Io`]'s blocks, kept by whoever must write them back
/// (`fsync`, `sync`) while `lamfat` owns the stream.
pub struct IoHandle<D: Disk>(Rc<RefCell<Inner<D>>>);

impl<D: Disk> IoHandle<D> {
    /// Writes back every cached block changed since the last flush.
    pub fn flush(&self) -> Result<(), isize> {
        self.0.borrow_mut().flush()
    }
}

impl<D: Disk> Io<D> {
    pub fn new(disk: D, writable: bool) -> Self {
        Self {
            inner: Rc::new(RefCell::new(Inner {
                disk,
                cache: Vec::new(),
                clock: 0,
            })),
            pos: 0,
            writable,
        }
    }

    pub fn handle(&self) -> IoHandle<D> {
        IoHandle(self.inner.clone())
    }

    /// The range `pos..pos + len`, if inside the device.
    fn range(&self, len: usize) -> Result<u64, IoErr> {
        let end = self.pos.checked_add(len as u64).ok_or(IoErr(errno::EIO))?;
        if end > self.inner.borrow().disk.size() {
            return Err(IoErr(errno::EIO));
        }
        Ok(end)
    }
}

impl<D: Disk> Drop for Io<D> {
    fn drop(&mut self) {
        let _ = self.inner.borrow_mut().flush();
    }
}

impl<D: Disk> IoBase for Io<D> {
    type Error = IoErr;
}

impl<D: Disk> Read for Io<D> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoErr> {
        // A read that starts at the end is end of file; one that runs past it is cut.
        let size = self.inner.borrow().disk.size();
        let left = size.saturating_sub(self.pos);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if n == 0 {
            return Ok(0);
        }
        self.inner
            .borrow_mut()
            .read(self.pos, &mut buf[..n])
            .map_err(IoErr)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<D: Disk> Write for Io<D> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, IoErr> {
        if !self.writable {
            return Err(IoErr(errno::EROFS));
        }
        let end = self.range(buf.len())?;
        self.inner
            .borrow_mut()
            .write(self.pos, buf)
            .map_err(IoErr)?;
        self.pos = end;
        Ok(buf.len())
    }

    /// Writes the cached blocks back (to the buffer cache: `fsync`/`sync` then write
    /// that to the device). `lamfat` flushes when a file's directory entry is written.
    fn flush(&mut self) -> Result<(), IoErr> {
        self.inner.borrow_mut().flush().map_err(IoErr)
    }
}

impl<D: Disk> Seek for Io<D> {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, IoErr> {
        let size = self.inner.borrow().disk.size();
        let new = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => size.checked_add_signed(d),
        };
        self.pos = new.ok_or(IoErr(errno::EIO))?;
        Ok(self.pos)
    }
}

/// Where the time comes from: nanoseconds since 1970 (UTC). FAT stores local time with
/// 2-second resolution from 1980 to 2107; WayOS has no time zones, so it stores UTC.
#[derive(Clone, Copy)]
pub struct Clock(pub fn() -> u64);

impl core::fmt::Debug for Clock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Clock")
    }
}

/// The earliest and latest moments FAT can store, in seconds since 1970.
const FAT_FIRST: u64 = 315_532_800; // 1980-01-01
const FAT_LAST: u64 = 4_354_819_199; // 2107-12-31 23:59:59

/// `ns` (since 1970) as a FAT date and time, clamped to what FAT can store (`lamfat`
/// panics on a year outside 1980..=2107).
pub fn fat_time(ns: u64) -> DateTime {
    let secs = (ns / 1_000_000_000).clamp(FAT_FIRST, FAT_LAST);
    let d = date::DateTime::from_epoch_seconds(secs);
    DateTime::new(
        Date::new(
            u16::try_from(d.year).unwrap_or(1980),
            u16::from(d.month),
            u16::from(d.day),
        ),
        Time::new(
            u16::from(d.hour),
            u16::from(d.minute),
            u16::from(d.second),
            0,
        ),
    )
}

/// A FAT date and time as nanoseconds since 1970 (0 if it is not a real date: an image
/// may hold anything there).
pub fn unix_ns(t: DateTime) -> u64 {
    let (Ok(month), Ok(day), Ok(hour), Ok(minute), Ok(second)) = (
        u8::try_from(t.date.month),
        u8::try_from(t.date.day),
        u8::try_from(t.time.hour),
        u8::try_from(t.time.min),
        u8::try_from(t.time.sec),
    ) else {
        return 0;
    };
    let d = date::DateTime {
        year: i64::from(t.date.year),
        month,
        day,
        hour,
        minute,
        second,
    };
    d.epoch_seconds().map_or(0, |s| {
        s * 1_000_000_000 + u64::from(t.time.millis) * 1_000_000
    })
}

impl TimeProvider for Clock {
    fn get_current_date(&self) -> Date {
        fat_time((self.0)()).date
    }
    fn get_current_date_time(&self) -> DateTime {
        fat_time((self.0)())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_clamp() {
        let ns = 1_700_000_000u64 * 1_000_000_000;
        assert_eq!(unix_ns(fat_time(ns)), ns);
        // Before 1980 and after 2107: the ends of FAT's range, no panic.
        assert_eq!(unix_ns(fat_time(0)), FAT_FIRST * 1_000_000_000);
        assert_eq!(unix_ns(fat_time(u64::MAX)), FAT_LAST * 1_000_000_000);
    }
}
