//! The console line discipline: turns typed bytes into what readers get and what the
//! terminal shows, like a POSIX terminal in canonical mode (`ICANON ECHO ECHOE ECHOCTL
//! ISIG ICRNL`) or raw mode.
//!
//! Pure logic for the console server, tested on the host: it owns the line being edited
//! and the input ready for readers, never the device or the readers themselves.
//!
//! Cooked mode: Enter (CR or LF) ends a line (readers get it with `\n`); Backspace (DEL or
//! BS) erases the last character; Ctrl-U erases the line; Ctrl-C discards the line and
//! reports an interrupt; Ctrl-D ends input when the line is empty (a read returns 0) and
//! otherwise hands over the line so far without a newline. Other control characters are
//! kept and echoed as `^X`. Raw mode: every byte goes to readers as typed, without echo.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Longest line being edited; further characters are refused with a bell.
pub const LINE_MAX: usize = 4096;
/// Most bytes waiting for readers; input beyond it is dropped (with a bell when echoing).
pub const READY_MAX: usize = 16 * 1024;

const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const BS: u8 = 0x08;
const LF: u8 = b'\n';
const CR: u8 = b'\r';
const CTRL_U: u8 = 0x15;
const DEL: u8 = 0x7f;
const BELL: u8 = 0x07;
const ERASE: &[u8] = b"\x08 \x08";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Cooked,
    Raw,
}

/// What a typed byte asks of the server beyond echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    None,
    /// Ctrl-C in cooked mode: interrupt the foreground program.
    Interrupt,
}

pub struct LineDiscipline {
    mode: Mode,
    /// The line being edited (cooked mode).
    line: Vec<u8>,
    /// Input readers may take: each entry is one read's worth at most; an empty entry is
    /// an end of input (Ctrl-D on an empty line).
    ready: VecDeque<Vec<u8>>,
    ready_bytes: usize,
}

impl Default for LineDiscipline {
    fn default() -> Self {
        Self::new()
    }
}

impl LineDiscipline {
    pub const fn new() -> Self {
        Self {
            mode: Mode::Cooked,
            line: Vec::new(),
            ready: VecDeque::new(),
            ready_bytes: 0,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Switches mode. Going raw hands over the partial line as typed so nothing is lost.
    pub fn set_mode(&mut self, mode: Mode) {
        if mode == Mode::Raw && !self.line.is_empty() {
            let line = core::mem::take(&mut self.line);
            self.push_ready(line);
        }
        self.mode = mode;
    }

    /// Takes one typed byte; appends what the terminal should show to `echo`.
    pub fn feed(&mut self, b: u8, echo: &mut Vec<u8>) -> Event {
        if self.mode == Mode::Raw {
            self.push_raw(b);
            return Event::None;
        }
        match b {
            CR | LF => {
                let mut line = core::mem::take(&mut self.line);
                line.push(LF);
                if self.push_ready(line) {
                    echo.push(LF);
                } else {
                    echo.push(BELL);
                }
            }
            DEL | BS => {
                if let Some(width) = self.erase_char() {
                    for _ in 0..width {
                        echo.extend_from_slice(ERASE);
                    }
                }
            }
            CTRL_U => {
                while let Some(width) = self.erase_char() {
                    for _ in 0..width {
                        echo.extend_from_slice(ERASE);
                    }
                }
            }
            CTRL_C => {
                self.line.clear();
                echo.extend_from_slice(b"^C\n");
                return Event::Interrupt;
            }
            CTRL_D => {
                let line = core::mem::take(&mut self.line);
                // An empty entry is the end-of-input mark.
                self.push_ready(line);
            }
            _ if self.line.len() >= LINE_MAX => echo.push(BELL),
            _ => {
                self.line.push(b);
                if is_control(b) {
                    echo.extend_from_slice(&[b'^', b ^ 0x40]);
                } else {
                    echo.push(b);
                }
            }
        }
        Event::None
    }

    /// True when a read can be answered now (data, or an end of input).
    pub fn readable(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Answers one read of at most `max` bytes (`max` > 0): the bytes, empty for end of
    /// input, or `None` when nothing is ready. A cooked read never crosses a line end.
    pub fn read(&mut self, max: usize) -> Option<Vec<u8>> {
        let front = self.ready.front_mut()?;
        let out = if front.len() <= max {
            self.ready.pop_front().expect("front exists")
        } else {
            let rest = front.split_off(max);
            core::mem::replace(front, rest)
        };
        self.ready_bytes -= out.len();
        Some(out)
    }

    /// Puts back bytes a reader could not take (it went away before the reply reached
    /// it), so the next read gets them first. An empty `bytes` puts back an end of input.
    pub fn unread(&mut self, bytes: Vec<u8>) {
        self.ready_bytes += bytes.len();
        self.ready.push_front(bytes);
    }

    /// Bytes waiting for readers.
    pub fn ready_bytes(&self) -> usize {
        self.ready_bytes
    }

    /// Removes the last character of the line; returns the columns it took on screen.
    fn erase_char(&mut self) -> Option<usize> {
        let last = self.line.pop()?;
        if is_control(last) {
            return Some(2);
        }
        // A UTF-8 character: drop its continuation bytes' lead too.
        if last & 0xc0 == 0x80 {
            while let Some(&b) = self.line.last() {
                self.line.pop();
                if b & 0xc0 != 0x80 {
                    break;
                }
            }
        }
        Some(1)
    }

    fn push_ready(&mut self, bytes: Vec<u8>) -> bool {
        if self.ready_bytes + bytes.len() > READY_MAX {
            return false;
        }
        self.ready_bytes += bytes.len();
        self.ready.push_back(bytes);
        true
    }

    fn push_raw(&mut self, b: u8) {
        if self.ready_bytes >= READY_MAX {
            return;
        }
        match self.ready.back_mut() {
            Some(last) if !last.is_empty() && last.len() < LINE_MAX => last.push(b),
            _ => self.ready.push_back(alloc::vec![b]),
        }
        self.ready_bytes += 1;
    }
}

/// Control characters other than tab (which terminals show as spaces).
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == DEL
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Feeds `input`, returning the echo and every event in order.
    fn type_in(ld: &mut LineDiscipline, input: &[u8]) -> (Vec<u8>, Vec<Event>) {
        let mut echo = Vec::new();
        let events = input.iter().map(|&b| ld.feed(b, &mut echo)).collect();
        (echo, events)
    }

    fn read_all(ld: &mut LineDiscipline, max: usize) -> Vec<Vec<u8>> {
        core::iter::from_fn(|| ld.read(max)).collect()
    }

    #[test]
    fn line_is_ready_only_after_enter() {
        let mut ld = LineDiscipline::new();
        let (echo, _) = type_in(&mut ld, b"ls -l");
        assert_eq!(echo, b"ls -l");
        assert!(!ld.readable());
        let (echo, _) = type_in(&mut ld, b"\r");
        assert_eq!(echo, b"\n");
        assert_eq!(ld.read(100), Some(b"ls -l\n".to_vec()));
        assert_eq!(ld.read(100), None);
    }

    #[test]
    fn backspace_erases_and_echoes_erase() {
        let mut ld = LineDiscipline::new();
        let (echo, _) = type_in(&mut ld, b"cat\x7f\x7fp\x08x\n");
        assert_eq!(echo, b"cat\x08 \x08\x08 \x08p\x08 \x08x\n");
        assert_eq!(ld.read(100), Some(b"cx\n".to_vec()));
    }

    #[test]
    fn backspace_on_empty_line_shows_nothing() {
        let mut ld = LineDiscipline::new();
        let (echo, _) = type_in(&mut ld, b"\x7f\x7fa\n");
        assert_eq!(echo, b"a\n");
        assert_eq!(ld.read(100), Some(b"a\n".to_vec()));
    }

    #[test]
    fn backspace_erases_whole_utf8_character() {
        let mut ld = LineDiscipline::new();
        // "é" is 0xc3 0xa9.
        let (echo, _) = type_in(&mut ld, "aé\x7f\n".as_bytes());
        assert_eq!(echo, "aé\x08 \x08\n".as_bytes());
        assert_eq!(ld.read(100), Some(b"a\n".to_vec()));
    }

    #[test]
    fn control_characters_echo_as_caret_and_erase_two_columns() {
        let mut ld = LineDiscipline::new();
        let (echo, _) = type_in(&mut ld, b"a\x1b\x7f\n");
        assert_eq!(echo, b"a^[\x08 \x08\x08 \x08\n");
        assert_eq!(ld.read(100), Some(b"a\n".to_vec()));
    }

    #[test]
    fn ctrl_u_erases_the_line() {
        let mut ld = LineDiscipline::new();
        let (echo, _) = type_in(&mut ld, b"abc\x15d\n");
        assert_eq!(echo, b"abc\x08 \x08\x08 \x08\x08 \x08d\n");
        assert_eq!(ld.read(100), Some(b"d\n".to_vec()));
    }

    #[test]
    fn ctrl_c_discards_line_and_interrupts() {
        let mut ld = LineDiscipline::new();
        let (echo, events) = type_in(&mut ld, b"rm x\x03");
        assert_eq!(echo, b"rm x^C\n");
        assert_eq!(events.last(), Some(&Event::Interrupt));
        assert_eq!(events.iter().filter(|e| **e == Event::Interrupt).count(), 1);
        assert!(!ld.readable());
        type_in(&mut ld, b"ok\n");
        assert_eq!(ld.read(100), Some(b"ok\n".to_vec()));
    }

    #[test]
    fn ctrl_d_on_empty_line_is_end_of_input() {
        let mut ld = LineDiscipline::new();
        let (echo, _) = type_in(&mut ld, b"\x04");
        assert!(echo.is_empty());
        assert_eq!(ld.read(100), Some(Vec::new()));
        assert_eq!(ld.read(100), None);
    }

    #[test]
    fn ctrl_d_after_text_hands_over_partial_line() {
        let mut ld = LineDiscipline::new();
        type_in(&mut ld, b"abc\x04\x04");
        assert_eq!(read_all(&mut ld, 100), [b"abc".to_vec(), Vec::new()]);
    }

    #[test]
    fn reads_never_cross_a_line_and_split_long_lines() {
        let mut ld = LineDiscipline::new();
        type_in(&mut ld, b"hello\nworld\n");
        assert_eq!(
            read_all(&mut ld, 4),
            [
                b"hell".to_vec(),
                b"o\n".to_vec(),
                b"worl".to_vec(),
                b"d\n".to_vec()
            ]
        );
        assert_eq!(ld.ready_bytes(), 0);
    }

    #[test]
    fn unread_puts_bytes_back_first() {
        let mut ld = LineDiscipline::new();
        type_in(&mut ld, b"one\ntwo\n");
        let first = ld.read(100).unwrap();
        ld.unread(first);
        assert_eq!(ld.read(100), Some(b"one\n".to_vec()));
        assert_eq!(ld.read(100), Some(b"two\n".to_vec()));
    }

    #[test]
    fn raw_mode_passes_bytes_without_echo() {
        let mut ld = LineDiscipline::new();
        ld.set_mode(Mode::Raw);
        let (echo, events) = type_in(&mut ld, b"a\x03\x7f\x1b[A\r");
        assert!(echo.is_empty());
        assert!(events.iter().all(|e| *e == Event::None));
        assert_eq!(ld.read(100), Some(b"a\x03\x7f\x1b[A\r".to_vec()));
    }

    #[test]
    fn going_raw_keeps_the_partial_line() {
        let mut ld = LineDiscipline::new();
        type_in(&mut ld, b"par");
        ld.set_mode(Mode::Raw);
        type_in(&mut ld, b"x");
        assert_eq!(read_all(&mut ld, 100), [b"parx".to_vec()]);
        ld.set_mode(Mode::Cooked);
        assert_eq!(ld.mode(), Mode::Cooked);
    }

    #[test]
    fn overlong_line_rings_the_bell() {
        let mut ld = LineDiscipline::new();
        let long = std::vec![b'x'; LINE_MAX];
        let (echo, _) = type_in(&mut ld, &long);
        assert_eq!(echo.len(), LINE_MAX);
        let (echo, _) = type_in(&mut ld, b"y");
        assert_eq!(echo, [BELL]);
        type_in(&mut ld, b"\n");
        let line = ld.read(usize::MAX).unwrap();
        assert_eq!(line.len(), LINE_MAX + 1);
        assert!(!line.contains(&b'y'));
    }

    #[test]
    fn ready_input_is_bounded() {
        let mut ld = LineDiscipline::new();
        let line = std::vec![b'z'; 1000];
        let mut refused = 0;
        for _ in 0..(READY_MAX / 1000 + 5) {
            let (echo, _) = type_in(&mut ld, &line);
            let (end, _) = type_in(&mut ld, b"\n");
            assert_eq!(echo.len(), 1000);
            if end == [BELL] {
                refused += 1;
            }
        }
        assert!(refused > 0);
        assert!(ld.ready_bytes() <= READY_MAX);
    }
}
