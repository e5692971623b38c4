//! Calendar arithmetic (UTC, proleptic Gregorian), `strftime` as GNU `date` does it in
//! the C locale, the date strings `date -d`/`touch -d` read, and `uptime`'s wording.

use alloc::format;
use alloc::string::String;

/// A moment: seconds since 1970-01-01 00:00:00 UTC and nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Time {
    pub sec: i64,
    pub nsec: u32,
}

/// A broken-down UTC time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tm {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    /// 0 = Sunday.
    pub wday: u32,
    /// 0-based day of the year.
    pub yday: u32,
}

const DAY: i64 = 86400;

/// Year, month, day of day number `z` (days since 1970-01-01); Howard Hinnant's
/// `civil_from_days`.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a date (`days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// The UTC broken-down time of `sec`.
pub fn gmtime(sec: i64) -> Tm {
    let days = sec.div_euclid(DAY);
    let rem = sec.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    let yday = (days - days_from_civil(year, 1, 1)) as u32;
    Tm {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        min: (rem % 3600 / 60) as u32,
        sec: (rem % 60) as u32,
        wday: (days + 4).rem_euclid(7) as u32,
        yday,
    }
}

const WDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The three-letter English month name (1..=12).
pub fn month_abbr(m: u32) -> &'static str {
    MONTHS
        .get(m.wrapping_sub(1) as usize)
        .map_or("???", |s| &s[..3])
}

/// ISO 8601 week-based year and week number.
fn iso_week(tm: &Tm) -> (i64, u32) {
    let weeks_in = |y: i64| {
        let p =
            |y: i64| (y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400)).rem_euclid(7);
        if p(y) == 4 || p(y - 1) == 3 {
            53
        } else {
            52
        }
    };
    let wd = (tm.wday + 6) % 7 + 1; // Monday 1 .. Sunday 7
    let week = (tm.yday as i64 + 1 - wd as i64 + 10).div_euclid(7);
    if week < 1 {
        (tm.year - 1, weeks_in(tm.year - 1))
    } else if week > weeks_in(tm.year) as i64 {
        (tm.year + 1, 1)
    } else {
        (tm.year, week as u32)
    }
}

/// How a conversion pads: GNU's `-` (none), `_` (spaces), `0` (zeros), or the default.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pad {
    Default,
    None,
    Space,
    Zero,
}

fn num(v: i64, width: usize, default_pad: char, pad: Pad, min_width: Option<usize>) -> String {
    let width = min_width.unwrap_or(width);
    let fill = match pad {
        Pad::None => return format!("{v}"),
        Pad::Space => ' ',
        Pad::Zero => '0',
        Pad::Default => default_pad,
    };
    let digits = format!("{}", v.unsigned_abs());
    let sign = if v < 0 { "-" } else { "" };
    let len = digits.len() + sign.len();
    let mut s = String::new();
    if fill == '0' {
        s.push_str(sign);
        for _ in len..width {
            s.push('0');
        }
    } else {
        for _ in len..width {
            s.push(' ');
        }
        s.push_str(sign);
    }
    s.push_str(&digits);
    s
}

fn text(s: &str, pad: Pad, upper: bool, min_width: Option<usize>) -> String {
    let mut out = String::new();
    let body = if upper {
        s.to_ascii_uppercase()
    } else {
        String::from(s)
    };
    if let Some(w) = min_width {
        let fill = if pad == Pad::Zero { '0' } else { ' ' };
        for _ in body.chars().count()..w {
            out.push(fill);
        }
    }
    out.push_str(&body);
    out
}

/// `strftime` in the C locale for UTC: `%a %A %b %B %c %C %d %D %e %F %g %G %h %H %I %j
/// %k %l %m %M %n %N %p %P %r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y %z %:z %Z %%`,
/// with GNU's flags `-` `_` `0` `^` and a field width (`%-d`, `%_H`, `%10s`, `%3N`). An
/// unknown conversion is printed as written.
pub fn strftime(fmt: &str, t: Time) -> String {
    let tm = gmtime(t.sec);
    let mut out = String::new();
    let mut it = fmt.char_indices().peekable();
    while let Some((start, c)) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut pad = Pad::Default;
        let mut upper = false;
        while let Some(&(_, f)) = it.peek() {
            match f {
                '-' => pad = Pad::None,
                '_' => pad = Pad::Space,
                '0' => pad = Pad::Zero,
                '^' => upper = true,
                '#' => {}
                _ => break,
            }
            it.next();
        }
        let mut width: Option<usize> = None;
        while let Some(&(_, d)) = it.peek() {
            match d.to_digit(10) {
                Some(v) => {
                    width = Some(
                        width
                            .unwrap_or(0)
                            .saturating_mul(10)
                            .saturating_add(v as usize)
                            .min(1024),
                    );
                    it.next();
                }
                None => break,
            }
        }
        let mut colons = 0;
        while let Some(&(_, ':')) = it.peek() {
            colons += 1;
            it.next();
        }
        let Some((end, conv)) = it.next() else {
            out.push_str(&fmt[start..]);
            break;
        };
        let n = |v: i64, w: usize| num(v, w, '0', pad, width);
        let sp = |v: i64, w: usize| num(v, w, ' ', pad, width);
        let hour12 = if tm.hour.is_multiple_of(12) {
            12
        } else {
            tm.hour % 12
        } as i64;
        let piece = match conv {
            'a' => text(&WDAYS[tm.wday as usize][..3], pad, upper, width),
            'A' => text(WDAYS[tm.wday as usize], pad, upper, width),
            'b' | 'h' => text(month_abbr(tm.month), pad, upper, width),
            'B' => text(MONTHS[(tm.month - 1) as usize], pad, upper, width),
            'c' => text(&strftime("%a %b %e %H:%M:%S %Y", t), pad, upper, width),
            'C' => n(tm.year.div_euclid(100), 2),
            'd' => n(tm.day as i64, 2),
            'D' | 'x' => text(&strftime("%m/%d/%y", t), pad, upper, width),
            'e' => sp(tm.day as i64, 2),
            'F' => text(&strftime("%Y-%m-%d", t), pad, upper, width),
            'g' => n(iso_week(&tm).0.rem_euclid(100), 2),
            'G' => n(iso_week(&tm).0, 1),
            'H' => n(tm.hour as i64, 2),
            'I' => n(hour12, 2),
            'j' => n(tm.yday as i64 + 1, 3),
            'k' => sp(tm.hour as i64, 2),
            'l' => sp(hour12, 2),
            'm' => n(tm.month as i64, 2),
            'M' => n(tm.min as i64, 2),
            'n' => String::from("\n"),
            'N' => {
                let digits = format!("{:09}", t.nsec);
                let w = width.unwrap_or(9);
                if w <= 9 {
                    String::from(&digits[..w])
                } else {
                    let mut s = digits;
                    while s.len() < w {
                        s.push('0');
                    }
                    s
                }
            }
            'p' => text(if tm.hour < 12 { "AM" } else { "PM" }, pad, upper, width),
            'P' => text(if tm.hour < 12 { "am" } else { "pm" }, pad, upper, width),
            'r' => text(&strftime("%I:%M:%S %p", t), pad, upper, width),
            'R' => text(&strftime("%H:%M", t), pad, upper, width),
            's' => n(t.sec, 1),
            'S' => n(tm.sec as i64, 2),
            't' => String::from("\t"),
            'T' | 'X' => text(&strftime("%H:%M:%S", t), pad, upper, width),
            'u' => n(((tm.wday + 6) % 7 + 1) as i64, 1),
            'U' => n(((tm.yday + 7 - tm.wday) / 7) as i64, 2),
            'V' => n(iso_week(&tm).1 as i64, 2),
            'w' => n(tm.wday as i64, 1),
            'W' => n(((tm.yday + 7 - (tm.wday + 6) % 7) / 7) as i64, 2),
            'y' => n(tm.year.rem_euclid(100), 2),
            'Y' => n(tm.year, 1),
            'z' => match colons {
                0 => String::from("+0000"),
                1 => String::from("+00:00"),
                _ => String::from("+00:00:00"),
            },
            'Z' => text("UTC", pad, upper, width),
            '%' => String::from("%"),
            _ => String::from(&fmt[start..end + conv.len_utf8()]),
        };
        out.push_str(&piece);
    }
    out
}

/// GNU `date`'s default output format (C locale).
pub const DEFAULT_FORMAT: &str = "%a %b %e %H:%M:%S %Z %Y";

/// The date strings `date -d` and `touch -d` accept: `@SECONDS[.FRACTION]`, `now`,
/// `YYYY-MM-DD`, and `YYYY-MM-DD HH:MM[:SS[.FRACTION]]` (also with `T`), all UTC. `now`
/// is what `now` stands for.
pub fn parse_date(s: &str, now: Time) -> Option<Time> {
    let s = s.trim();
    if s.is_empty() || s == "now" {
        return Some(now);
    }
    if let Some(rest) = s.strip_prefix('@') {
        let (neg, body) = match rest.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, rest.strip_prefix('+').unwrap_or(rest)),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let sec: i64 = int.parse().ok()?;
        let mut nsec: u32 = 0;
        for (i, b) in frac.bytes().take(9).enumerate() {
            nsec += (b - b'0') as u32 * 10u32.pow(8 - i as u32);
        }
        return Some(if neg {
            if nsec == 0 {
                Time { sec: -sec, nsec: 0 }
            } else {
                Time {
                    sec: -sec - 1,
                    nsec: 1_000_000_000 - nsec,
                }
            }
        } else {
            Time { sec, nsec }
        });
    }
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let mut parts = date.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || !(0..=9999).contains(&y) {
        return None;
    }
    let (mut hh, mut mm, mut ss, mut nsec) = (0u32, 0u32, 0u32, 0u32);
    if let Some(t) = time {
        let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
        let mut f = hms.split(':');
        hh = f.next()?.parse().ok()?;
        mm = f.next()?.parse().ok()?;
        if let Some(x) = f.next() {
            ss = x.parse().ok()?;
        }
        if f.next().is_some()
            || hh > 23
            || mm > 59
            || ss > 60
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        for (i, b) in frac.bytes().take(9).enumerate() {
            nsec += (b - b'0') as u32 * 10u32.pow(8 - i as u32);
        }
    }
    let sec = days_from_civil(y, m, d) * DAY + hh as i64 * 3600 + mm as i64 * 60 + ss as i64;
    Some(Time { sec, nsec })
}

/// `ls -l`'s time column: `Mon dd HH:MM` for times in the six months up to `now`,
/// `Mon dd  YYYY` otherwise.
pub fn ls_time(t: Time, now: Time) -> String {
    const HALF_YEAR: i64 = 31_556_952 / 2;
    let tm = gmtime(t.sec);
    let recent = t.sec > now.sec - HALF_YEAR && (t.sec, t.nsec) <= (now.sec, now.nsec);
    if recent {
        format!(
            "{} {:>2} {:02}:{:02}",
            month_abbr(tm.month),
            tm.day,
            tm.hour,
            tm.min
        )
    } else {
        format!("{} {:>2}  {}", month_abbr(tm.month), tm.day, tm.year)
    }
}

/// `stat`'s times: `YYYY-MM-DD HH:MM:SS.NNNNNNNNN +0000`.
pub fn stat_time(t: Time) -> String {
    let tm = gmtime(t.sec);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:09} +0000",
        tm.year, tm.month, tm.day, tm.hour, tm.min, tm.sec, t.nsec
    )
}

/// procps `uptime`'s "up" part: `5 min`, ` 1:05`, `2 days,  3:04`.
pub fn uptime_short(secs: u64) -> String {
    let days = secs / 86400;
    let hours = secs / 3600 % 24;
    let mins = secs / 60 % 60;
    let mut s = String::new();
    if days > 0 {
        s.push_str(&format!("{days} day{}, ", if days == 1 { "" } else { "s" }));
    }
    if hours > 0 {
        s.push_str(&format!("{hours:2}:{mins:02}"));
    } else {
        s.push_str(&format!("{mins} min"));
    }
    s
}

/// `uptime -p`: `up 1 hour, 5 minutes`.
pub fn uptime_pretty(secs: u64) -> String {
    let parts = [
        (secs / (86400 * 7), "week"),
        (secs / 86400 % 7, "day"),
        (secs / 3600 % 24, "hour"),
        (secs / 60 % 60, "minute"),
    ];
    let mut s = String::from("up ");
    let mut any = false;
    for (n, unit) in parts {
        if n > 0 {
            if any {
                s.push_str(", ");
            }
            s.push_str(&format!("{n} {unit}{}", if n == 1 { "" } else { "s" }));
            any = true;
        }
    }
    if !any {
        s.push_str("0 minutes");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(sec: i64) -> Time {
        Time { sec, nsec: 0 }
    }

    #[test]
    fn calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11016), (2000, 2, 29));
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
        for z in [-800_000, -1, 0, 59, 365, 10_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        let tm = gmtime(312);
        assert_eq!(
            (tm.year, tm.month, tm.day, tm.hour, tm.min, tm.sec, tm.wday, tm.yday),
            (1970, 1, 1, 0, 5, 12, 4, 0)
        );
        // 2024-12-31 is a Tuesday and day 366.
        let tm = gmtime(days_from_civil(2024, 12, 31) * 86400);
        assert_eq!((tm.wday, tm.yday), (2, 365));
    }

    #[test]
    fn strftime_like_gnu_date_u() {
        let t = at(312);
        assert_eq!(strftime(DEFAULT_FORMAT, t), "Thu Jan  1 00:05:12 UTC 1970");
        assert_eq!(
            strftime("%Y-%m-%d %H:%M:%S %s", t),
            "1970-01-01 00:05:12 312"
        );
        // 2009-02-13 23:31:30 UTC, a Friday.
        let t = Time {
            sec: 1_234_567_890,
            nsec: 123_456_789,
        };
        assert_eq!(
            strftime("%a %A %b %B %d %e %j %u %w", t),
            "Fri Friday Feb February 13 13 044 5 5"
        );
        assert_eq!(
            strftime("%I %l %p %P %r %R %T", t),
            "11 11 PM pm 11:31:30 PM 23:31 23:31:30"
        );
        assert_eq!(
            strftime("%D %x %X %F %y %C %h", t),
            "02/13/09 02/13/09 23:31:30 2009-02-13 09 20 Feb"
        );
        assert_eq!(strftime("%c", t), "Fri Feb 13 23:31:30 2009");
        assert_eq!(
            strftime("%N %3N %z %:z %Z %%", t),
            "123456789 123 +0000 +00:00 UTC %"
        );
        assert_eq!(strftime("%U %W %V %G %g", t), "06 06 07 2009 09");
        assert_eq!(
            strftime("%-d %_m %-j %^a %^B %10Y %05e", t),
            "13  2 44 FRI FEBRUARY 0000002009 00013"
        );
        assert_eq!(strftime("%Q %", t), "%Q %");
        assert_eq!(strftime("a%nb%tc", t), "a\nb\tc");
        // ISO weeks at a year boundary: 2021-01-01 is in week 53 of 2020.
        let t = at(days_from_civil(2021, 1, 1) * 86400);
        assert_eq!(strftime("%G-W%V-%u", t), "2020-W53-5");
        let t = at(days_from_civil(2024, 12, 30) * 86400);
        assert_eq!(strftime("%G-W%V-%u", t), "2025-W01-1");
    }

    #[test]
    fn date_strings() {
        let now = at(1000);
        assert_eq!(parse_date("now", now), Some(now));
        assert_eq!(parse_date("@0", now), Some(at(0)));
        assert_eq!(parse_date("@1234567890", now), Some(at(1_234_567_890)));
        assert_eq!(
            parse_date("@1.5", now),
            Some(Time {
                sec: 1,
                nsec: 500_000_000
            })
        );
        assert_eq!(
            parse_date("@-1.5", now),
            Some(Time {
                sec: -2,
                nsec: 500_000_000
            })
        );
        assert_eq!(parse_date("1970-01-02", now), Some(at(86400)));
        assert_eq!(
            parse_date("2009-02-13 23:31:30", now),
            Some(at(1_234_567_890))
        );
        assert_eq!(parse_date("2009-02-13T23:31", now), Some(at(1_234_567_860)));
        assert_eq!(parse_date("2001-02-29", now), None);
        assert_eq!(parse_date("yesterday", now), None);
        assert_eq!(parse_date("@x", now), None);
        assert_eq!(parse_date("2009-02-13 25:00", now), None);
    }

    #[test]
    fn ls_and_stat_times() {
        let now = at(3600);
        assert_eq!(ls_time(at(300), now), "Jan  1 00:05");
        // In the future: with the year.
        assert_eq!(ls_time(at(7200), now), "Jan  1  1970");
        // More than six months old.
        let now = at(400 * 86400);
        assert_eq!(ls_time(at(300), now), "Jan  1  1970");
        assert_eq!(
            stat_time(Time { sec: 300, nsec: 5 }),
            "1970-01-01 00:05:00.000000005 +0000"
        );
    }

    #[test]
    fn uptime_words() {
        assert_eq!(uptime_short(0), "0 min");
        assert_eq!(uptime_short(312), "5 min");
        assert_eq!(uptime_short(3900), " 1:05");
        assert_eq!(uptime_short(2 * 86400 + 3 * 3600 + 4 * 60), "2 days,  3:04");
        assert_eq!(uptime_short(86400 + 60), "1 day, 1 min");
        assert_eq!(uptime_pretty(30), "up 0 minutes");
        assert_eq!(uptime_pretty(3900), "up 1 hour, 5 minutes");
        assert_eq!(
            uptime_pretty(8 * 86400 + 120),
            "up 1 week, 1 day, 2 minutes"
        );
    }
}
