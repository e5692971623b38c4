//! Calendar arithmetic for the real-time clock: civil dates (proleptic Gregorian, UTC) ↔
//! days since the Unix epoch, BCD, and the decoding of the PC CMOS clock's registers.
//!
//! The arch RTC drivers read raw hardware values and hand them here; everything that can
//! be wrong about those values (bad BCD digits, a 13th month, February 30th, a date before
//! 1970) comes back as `None`, never a panic, so the kernel can warn and fall back.

use core::fmt;

/// Seconds in a day (UTC has no leap seconds in epoch arithmetic).
pub const SECS_PER_DAY: u64 = 86_400;

/// Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar.
const EPOCH_SHIFT: i64 = 719_468;
/// Days in a 400-year era.
const DAYS_PER_ERA: i64 = 146_097;

/// Whether `year` has a February 29th.
pub fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `month` (1-12) of `year`; 0 for a month that does not exist.
pub fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to `year-month-day` (negative before it). `month` must be 1-12 and
/// `day` 1-31; callers validate first (see [`DateTime::is_valid`]). Exact for years
/// within ±10^14 (Howard Hinnant's `days_from_civil`, on 400-year eras starting in March).
pub fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    // Count years from March, so the leap day is the last day of the year.
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let mp = (m + 9) % 12; // March = 0 ... February = 11
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * DAYS_PER_ERA + doe - EPOCH_SHIFT
}

/// The date `days` after 1970-01-01, as `(year, month, day)`; the inverse of
/// [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + EPOCH_SHIFT;
    let era = z.div_euclid(DAYS_PER_ERA);
    let doe = z.rem_euclid(DAYS_PER_ERA); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A packed BCD byte (`0x59` → 59); `None` if either digit is above 9.
pub fn bcd_decode(value: u8) -> Option<u8> {
    let (hi, lo) = (value >> 4, value & 0x0f);
    (hi <= 9 && lo <= 9).then_some(hi * 10 + lo)
}

/// A UTC calendar date and time of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl DateTime {
    /// Whether every field is in range (month 1-12, a day the month has, 00:00:00-23:59:59).
    pub fn is_valid(&self) -> bool {
        (1..=days_in_month(self.year, self.month)).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
    }

    /// Seconds since 1970-01-01 00:00:00 UTC; `None` if a field is out of range or the time
    /// is before the epoch.
    pub fn epoch_seconds(&self) -> Option<u64> {
        if !self.is_valid() {
            return None;
        }
        let days = u64::try_from(days_from_civil(self.year, self.month, self.day)).ok()?;
        let secs = u64::from(self.hour) * 3600 + u64::from(self.minute) * 60;
        days.checked_mul(SECS_PER_DAY)?
            .checked_add(secs + u64::from(self.second))
    }

    /// The date and time `secs` seconds after the epoch.
    pub fn from_epoch_seconds(secs: u64) -> Self {
        // u64::MAX / 86400 fits an i64 with room to spare.
        let (year, month, day) = civil_from_days((secs / SECS_PER_DAY) as i64);
        let tod = secs % SECS_PER_DAY;
        Self {
            year,
            month,
            day,
            hour: (tod / 3600) as u8,
            minute: (tod / 60 % 60) as u8,
            second: (tod % 60) as u8,
        }
    }
}

/// ISO 8601 style: `2026-11-24 13:45:30`.
impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// CMOS status register B: the date and time registers hold binary, not BCD.
pub const CMOS_B_BINARY: u8 = 1 << 2;
/// CMOS status register B: hours run 0-23 (else 1-12 with [`CMOS_HOUR_PM`]).
pub const CMOS_B_24H: u8 = 1 << 1;
/// In 12-hour mode, the hour register's top bit marks the afternoon.
pub const CMOS_HOUR_PM: u8 = 0x80;

/// The date and time registers of the PC CMOS clock as read, undecoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CmosRegs {
    pub second: u8,
    pub minute: u8,
    pub hour: u8,
    pub day: u8,
    pub month: u8,
    /// Two digits.
    pub year: u8,
    /// The century register, when the ACPI FADT names one.
    pub century: Option<u8>,
}

impl CmosRegs {
    /// Decodes the registers under status register B's format bits. Without a century
    /// register the year is taken as 20xx. `None` on a bad BCD digit, an impossible field
    /// or a time before the epoch.
    pub fn decode(&self, status_b: u8) -> Option<DateTime> {
        let binary = status_b & CMOS_B_BINARY != 0;
        let num = |v: u8| if binary { Some(v) } else { bcd_decode(v) };
        let pm = status_b & CMOS_B_24H == 0 && self.hour & CMOS_HOUR_PM != 0;
        let mut hour = num(if status_b & CMOS_B_24H == 0 {
            self.hour & !CMOS_HOUR_PM
        } else {
            self.hour
        })?;
        if status_b & CMOS_B_24H == 0 {
            // 12-hour clock: 12 AM is 0h, 1-11 PM are 13-23h, 12 PM is 12h.
            if !(1..=12).contains(&hour) {
                return None;
            }
            hour = (hour % 12) + if pm { 12 } else { 0 };
        }
        let year = num(self.year)?;
        let century = match self.century {
            Some(c) => num(c)?,
            None => 20,
        };
        if year > 99 || !(19..=99).contains(&century) {
            return None;
        }
        let dt = DateTime {
            year: i64::from(century) * 100 + i64::from(year),
            month: num(self.month)?,
            day: num(self.day)?,
            hour,
            minute: num(self.minute)?,
            second: num(self.second)?,
        };
        dt.epoch_seconds().map(|_| dt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(year, month, day, hour, minute, second, epoch seconds)`; the epoch values come from
    /// GNU `date -u -d '<date>' +%s`, not from this module.
    const KNOWN: &[(i64, u8, u8, u8, u8, u8, i64)] = &[
        (1970, 1, 1, 0, 0, 0, 0),
        (1969, 12, 31, 0, 0, 0, -86_400),
        (1999, 12, 31, 23, 59, 59, 946_684_799),
        (2000, 2, 29, 0, 0, 0, 951_782_400),
        (2000, 3, 1, 0, 0, 0, 951_868_800),
        (2024, 2, 29, 23, 59, 59, 1_709_251_199),
        (2026, 11, 24, 0, 0, 0, 1_795_478_400),
        (2026, 11, 24, 13, 45, 30, 1_795_527_930),
        (2038, 1, 19, 3, 14, 8, 2_147_483_648),
        (2100, 2, 28, 12, 0, 0, 4_107_499_200),
        (2100, 3, 1, 0, 0, 0, 4_107_542_400),
        (2106, 2, 7, 6, 28, 15, 4_294_967_295),
        (1600, 3, 1, 0, 0, 0, -11_670_912_000),
    ];

    #[test]
    fn known_dates_match_independent_epoch_values() {
        for &(y, mo, d, h, mi, s, want) in KNOWN {
            let days = days_from_civil(y, mo, d);
            let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
            assert_eq!(secs, want, "{y}-{mo}-{d} {h}:{mi}:{s}");
            assert_eq!(civil_from_days(days), (y, mo, d));
            let dt = DateTime {
                year: y,
                month: mo,
                day: d,
                hour: h,
                minute: mi,
                second: s,
            };
            if want >= 0 {
                assert_eq!(dt.epoch_seconds(), Some(want as u64));
                assert_eq!(DateTime::from_epoch_seconds(want as u64), dt);
            } else {
                assert_eq!(dt.epoch_seconds(), None, "before the epoch");
            }
        }
    }

    /// Walks day by day from 1600 to 2400 with a naive calendar and checks both directions
    /// of the conversion on every day.
    #[test]
    fn every_day_for_eight_centuries_round_trips() {
        let mut days = days_from_civil(1600, 1, 1);
        assert_eq!(days, -135_140); // date -u -d 1600-01-01 +%s / 86400
        for year in 1600..2400 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    assert_eq!(days_from_civil(year, month, day), days);
                    assert_eq!(civil_from_days(days), (year, month, day));
                    days += 1;
                }
            }
        }
    }

    #[test]
    fn leap_years() {
        assert!(is_leap(2000) && is_leap(2024) && is_leap(1600));
        assert!(!is_leap(1900) && !is_leap(2100) && !is_leap(2026));
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2026, 13), 0);
        assert_eq!(days_in_month(2026, 0), 0);
    }

    #[test]
    fn invalid_fields_have_no_epoch_value() {
        let ok = DateTime {
            year: 2026,
            month: 11,
            day: 24,
            hour: 13,
            minute: 45,
            second: 30,
        };
        assert!(ok.epoch_seconds().is_some());
        for bad in [
            DateTime { month: 0, ..ok },
            DateTime { month: 13, ..ok },
            DateTime { day: 0, ..ok },
            DateTime { day: 31, ..ok },
            DateTime {
                year: 2100,
                month: 2,
                day: 29,
                ..ok
            },
            DateTime { hour: 24, ..ok },
            DateTime { minute: 60, ..ok },
            DateTime { second: 60, ..ok },
        ] {
            assert_eq!(bad.epoch_seconds(), None, "{bad:?}");
        }
    }

    #[test]
    fn huge_epoch_values_convert_without_overflow() {
        let dt = DateTime::from_epoch_seconds(u64::MAX);
        assert!(dt.is_valid());
        assert_eq!(dt.epoch_seconds(), Some(u64::MAX));
    }

    #[test]
    fn displays_iso_style() {
        let dt = DateTime::from_epoch_seconds(951_782_400 + 3661);
        assert_eq!(std::format!("{dt}"), "2000-02-29 01:01:01");
    }

    #[test]
    fn bcd() {
        assert_eq!(bcd_decode(0x00), Some(0));
        assert_eq!(bcd_decode(0x09), Some(9));
        assert_eq!(bcd_decode(0x10), Some(10));
        assert_eq!(bcd_decode(0x59), Some(59));
        assert_eq!(bcd_decode(0x99), Some(99));
        assert_eq!(bcd_decode(0x1a), None);
        assert_eq!(bcd_decode(0xa0), None);
        assert_eq!(bcd_decode(0xff), None);
    }

    /// 2026-11-24 13:45:30 as a BCD, 24-hour CMOS with a century register (QEMU's format).
    const BCD_24H: CmosRegs = CmosRegs {
        second: 0x30,
        minute: 0x45,
        hour: 0x13,
        day: 0x24,
        month: 0x11,
        year: 0x26,
        century: Some(0x20),
    };

    #[test]
    fn cmos_bcd_24h_with_century() {
        let dt = BCD_24H.decode(CMOS_B_24H).unwrap();
        assert_eq!(dt.epoch_seconds(), Some(1_795_527_930));
    }

    #[test]
    fn cmos_without_century_is_20xx() {
        let regs = CmosRegs {
            century: None,
            ..BCD_24H
        };
        assert_eq!(
            regs.decode(CMOS_B_24H).unwrap().epoch_seconds(),
            Some(1_795_527_930)
        );
        let regs = CmosRegs {
            century: Some(0x19),
            year: 0x99,
            month: 0x12,
            day: 0x31,
            hour: 0x23,
            minute: 0x59,
            second: 0x59,
        };
        assert_eq!(
            regs.decode(CMOS_B_24H).unwrap().epoch_seconds(),
            Some(946_684_799)
        );
    }

    #[test]
    fn cmos_binary_mode() {
        let regs = CmosRegs {
            second: 30,
            minute: 45,
            hour: 13,
            day: 24,
            month: 11,
            year: 26,
            century: Some(20),
        };
        let dt = regs.decode(CMOS_B_BINARY | CMOS_B_24H).unwrap();
        assert_eq!(dt.epoch_seconds(), Some(1_795_527_930));
        // The same bytes read as BCD are garbage: 45 is 0x2d, not a BCD digit pair.
        assert_eq!(regs.decode(CMOS_B_24H), None);
    }

    #[test]
    fn cmos_12_hour_clock() {
        let at = |hour: u8, status_b: u8| {
            CmosRegs { hour, ..BCD_24H }
                .decode(status_b)
                .map(|dt| dt.hour)
        };
        // BCD: 1 PM, 12 PM (noon), 12 AM (midnight), 11 AM.
        assert_eq!(at(0x80 | 0x01, 0), Some(13));
        assert_eq!(at(0x80 | 0x12, 0), Some(12));
        assert_eq!(at(0x12, 0), Some(0));
        assert_eq!(at(0x11, 0), Some(11));
        // Binary 12-hour: 11 PM, on a date whose other fields are valid in binary.
        let binary = CmosRegs {
            second: 30,
            minute: 45,
            hour: 0x80 | 11,
            day: 24,
            month: 11,
            year: 26,
            century: Some(20),
        };
        assert_eq!(binary.decode(CMOS_B_BINARY).map(|dt| dt.hour), Some(23));
        // Hour 0 or 13 does not exist on a 12-hour clock.
        assert_eq!(at(0x00, 0), None);
        assert_eq!(at(0x13, 0), None);
        // In 24-hour mode the top bit is not PM: 0x81 is garbage.
        assert_eq!(at(0x81, CMOS_B_24H), None);
    }

    #[test]
    fn cmos_garbage_is_rejected() {
        // A floating bus reads 0xff everywhere.
        let ff = CmosRegs {
            second: 0xff,
            minute: 0xff,
            hour: 0xff,
            day: 0xff,
            month: 0xff,
            year: 0xff,
            century: Some(0xff),
        };
        assert_eq!(ff.decode(0xff), None);
        assert_eq!(ff.decode(CMOS_B_24H), None);
        for bad in [
            CmosRegs {
                month: 0x13,
                ..BCD_24H
            },
            CmosRegs {
                month: 0x00,
                ..BCD_24H
            },
            CmosRegs {
                day: 0x00,
                ..BCD_24H
            },
            CmosRegs {
                day: 0x31,
                ..BCD_24H
            }, // November 31st
            CmosRegs {
                second: 0x60,
                ..BCD_24H
            },
            CmosRegs {
                minute: 0x5a,
                ..BCD_24H
            },
            CmosRegs {
                hour: 0x24,
                ..BCD_24H
            },
            CmosRegs {
                century: Some(0x00),
                ..BCD_24H
            },
            CmosRegs {
                century: Some(0x2f),
                ..BCD_24H
            },
        ] {
            assert_eq!(bad.decode(CMOS_B_24H), None, "{bad:?}");
        }
        // Binary mode: a 100-year or a 1969 date has no epoch value here.
        let binary = CmosRegs {
            year: 100,
            century: Some(20),
            ..Default::default()
        };
        assert_eq!(binary.decode(CMOS_B_BINARY | CMOS_B_24H), None);
        let pre_epoch = CmosRegs {
            second: 0,
            minute: 0,
            hour: 0,
            day: 31,
            month: 12,
            year: 69,
            century: Some(19),
        };
        assert_eq!(pre_epoch.decode(CMOS_B_BINARY | CMOS_B_24H), None);
    }
}
