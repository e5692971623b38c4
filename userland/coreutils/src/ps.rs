//! `ps`: the table of processes.
//!
//! ```text
//!   PID  PPID  PGID STAT     TIME CAPS CMD
//!     1     0     1 S    00:00:00 07ff /bin/init
//! ```
//!
//! PID, parent, process group, state (`R` running or ready, `S` sleeping or blocked, `Z`
//! zombie), CPU time in `[DD-]HH:MM:SS` (timer ticks at 100 Hz), the capability set as a
//! hex mask (`wayos_abi::caps` bits; `caps PID` prints the names), and the program path
//! (WayOS keeps no argument list per process). `-l` adds the scheduler class (`CLS`)
//! before the time.

use alloc::format;
use alloc::string::{String, ToString};

/// Scheduler ticks per second (the kernel's `TICK_HZ`).
pub const TICK_HZ: u64 = 100;

/// One process, as `proc_list` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proc {
    pub pid: u64,
    pub ppid: u64,
    pub pgid: u64,
    pub state: char,
    pub class: u8,
    pub ticks: u64,
    /// Capability set (`wayos_abi::caps` bits).
    pub caps: u32,
    pub cmd: String,
}

/// The scheduler class names of `wayos_abi::sched`.
pub fn class_name(c: u8) -> &'static str {
    match c {
        0 => "RT",
        1 => "HI",
        2 => "NORM",
        3 => "LOW",
        4 => "BG",
        5 => "IDLE",
        _ => "?",
    }
}

/// GNU `ps`'s TIME: `HH:MM:SS`, with `DD-` in front past a day.
pub fn cpu_time(ticks: u64) -> String {
    let s = ticks / TICK_HZ;
    let (d, h, m, sec) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{sec:02}")
    } else {
        format!("{h:02}:{m:02}:{sec:02}")
    }
}

/// The width of the id columns: 5, or wider when an id needs it, so the columns stay
/// aligned after the pids pass 99999 (as GNU `ps` widens them).
pub fn id_width<'a>(procs: impl IntoIterator<Item = &'a Proc>) -> usize {
    procs
        .into_iter()
        .flat_map(|p| [p.pid, p.ppid, p.pgid])
        .map(|id| id.to_string().len())
        .max()
        .unwrap_or(0)
        .max(5)
}

/// The header line, for id columns `w` wide ([`id_width`]).
pub fn header(long: bool, w: usize) -> String {
    let cls = if long { " CLS " } else { "" };
    format!(
        "{:>w$} {:>w$} {:>w$} STAT{cls}     TIME CAPS CMD",
        "PID", "PPID", "PGID"
    )
}

/// One row, for id columns `w` wide.
pub fn row(p: &Proc, long: bool, w: usize) -> String {
    let cls = if long {
        format!(" {:<4}", class_name(p.class))
    } else {
        String::new()
    };
    format!(
        "{:>w$} {:>w$} {:>w$} {:<4}{} {:>8} {:04x} {}",
        p.pid,
        p.ppid,
        p.pgid,
        p.state,
        cls,
        cpu_time(p.ticks),
        p.caps,
        p.cmd
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows() {
        let p = Proc {
            pid: 1,
            ppid: 0,
            pgid: 1,
            state: 'S',
            class: 2,
            ticks: 250,
            caps: 0x7ff,
            cmd: "/bin/init".into(),
        };
        assert_eq!(id_width([&p]), 5);
        assert_eq!(header(false, 5), "  PID  PPID  PGID STAT     TIME CAPS CMD");
        assert_eq!(
            row(&p, false, 5),
            "    1     0     1 S    00:00:02 07ff /bin/init"
        );
        assert_eq!(
            header(true, 5),
            "  PID  PPID  PGID STAT CLS      TIME CAPS CMD"
        );
        assert_eq!(
            row(&p, true, 5),
            "    1     0     1 S    NORM 00:00:02 07ff /bin/init"
        );
        // Past 99999 every id column widens together and the columns stay aligned.
        let big = Proc {
            pid: 157643,
            ppid: 157642,
            ..p.clone()
        };
        assert_eq!(id_width([&p, &big]), 6);
        assert_eq!(
            header(false, 6),
            "   PID   PPID   PGID STAT     TIME CAPS CMD"
        );
        assert_eq!(
            row(&big, false, 6),
            "157643 157642      1 S    00:00:02 07ff /bin/init"
        );
        assert_eq!(cpu_time(0), "00:00:00");
        assert_eq!(cpu_time(100 * 3661), "01:01:01");
        assert_eq!(cpu_time(100 * (86400 + 1)), "1-00:00:01");
        assert_eq!(class_name(9), "?");
    }
}
