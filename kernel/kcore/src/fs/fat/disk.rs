//! The byte stream `lamfat` reads a volume through, over a [`Disk`], and the clock it
//! stamps files with.
//!
//! The kernel's disk is a block device behind the buffer cache; the host tests' disk is a
//! vector. Either way every access is bounds-checked here first: an offset past the end
//! of the device is an error (`EIO`), never a short read that `lamfat` might misread.

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

/// A [`Disk`] as the seekable stream `lamfat` wants. A read-only stream refuses every
/// write with `EROFS`, so nothing can change a volume mounted read-only.
pub struct Io<D> {
    disk: D,
    pos: u64,
    writable: bool,
}

impl<D: Disk> Io<D> {
    pub fn new(disk: D, writable: bool) -> Self {
        Self {
            disk,
            pos: 0,
            writable,
        }
    }

    pub fn disk_mut(&mut self) -> &mut D {
        &mut self.disk
    }

    /// The range `pos..pos + len`, if inside the device.
    fn range(&self, len: usize) -> Result<u64, IoErr> {
        let end = self
            .pos
            .checked_add(len as u64)
            .ok_or(IoErr(errno::EIO))?;
        if end > self.disk.size() {
            return Err(IoErr(errno::EIO));
        }
        Ok(end)
    }
}

impl<D> IoBase for Io<D> {
    type Error = IoErr;
}

impl<D: Disk> Read for Io<D> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoErr> {
        // A read that starts at the end is end of file; one that runs past it is cut.
        let left = self.disk.size().saturating_sub(self.pos);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if n == 0 {
            return Ok(0);
        }
        self.disk.read(self.pos, &mut buf[..n]).map_err(IoErr)?;
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
        self.disk.write(self.pos, buf).map_err(IoErr)?;
        self.pos = end;
        Ok(buf.len())
    }

    /// Nothing: the data is in the buffer cache, which `fsync`/`sync` write back. A
    /// `lamfat` flush (it makes one for every directory entry it updates) must not cost a
    /// device flush.
    fn flush(&mut self) -> Result<(), IoErr> {
        Ok(())
    }
}

impl<D: Disk> Seek for Io<D> {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, IoErr> {
        let new = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.disk.size().checked_add_signed(d),
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
            u16::from(d.month), u16::from(d.day)),
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
    d.epoch_seconds()
        .map_or(0, |s| s * 1_000_000_000 + u64::from(t.time.millis) * 1_000_000)
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
