//! The line editor: a state machine that takes typed bytes (the console in raw mode) and
//! produces the bytes that redraw the line on a VT100 terminal, plus what happened.
//!
//! | keys | effect |
//! |---|---|
//! | printable, UTF-8 | insert at the cursor |
//! | Enter (CR, LF, CR LF) | the line is done ([`Event::Line`]); it goes into the history |
//! | Backspace (DEL, BS), Delete (`ESC [ 3 ~`) | delete before / at the cursor |
//! | Left, Right (`ESC [ D/C`, Ctrl-B/F), Alt-B/F | move a character / a word |
//! | Home, End (`ESC [ H/F`, `ESC [ 1~/4~`, `7~/8~`, `ESC O H/F`, Ctrl-A/E) | line start / end |
//! | Up, Down (`ESC [ A/B`, Ctrl-P/N) | older / newer history line |
//! | Ctrl-U, Ctrl-K, Ctrl-W | cut to the start / to the end / the word before the cursor |
//! | Ctrl-L | clear the screen and redraw |
//! | Ctrl-C | drop the line ([`Event::Interrupt`]) |
//! | Ctrl-D | on an empty line, end of input ([`Event::Eof`]); else Delete |
//! | Tab | complete a command name; a second Tab lists the choices |
//!
//! Redrawing is one sequence: carriage return, prompt, line, erase to end of line, cursor
//! back to its column. Typing at the end of the line only echoes the character. Lines are
//! assumed to fit on one terminal row; a longer line still edits correctly but may leave
//! stale rows on screen. Every character counts as one column.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

/// History lines kept; the oldest go first.
pub const HISTORY_MAX: usize = 200;
/// Longest line, in characters; typing beyond it rings the bell.
pub const LINE_MAX: usize = 4096;
/// Longest escape sequence parameter run we collect before giving up on the sequence.
const CSI_MAX: usize = 16;

const BELL: u8 = 0x07;

/// What a byte did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Still editing.
    None,
    /// Enter: the finished line (without the newline).
    Line(String),
    /// Ctrl-C: the line was dropped.
    Interrupt,
    /// Ctrl-D on an empty line.
    Eof,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Esc {
    Ground,
    /// After ESC.
    Started,
    /// After `ESC [`, with the parameter bytes so far.
    Csi(Vec<u8>),
    /// After `ESC O`.
    Ss3,
}

/// A key, after escape sequences are decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Char(char),
    Enter,
    Backspace,
    Delete,
    Left,
    Right,
    WordLeft,
    WordRight,
    Home,
    End,
    Up,
    Down,
    CutToStart,
    CutToEnd,
    CutWord,
    Clear,
    Interrupt,
    EofOrDelete,
    Tab,
    Ignore,
}

/// Suggests completions: given the word typed so far, every command name it could be.
/// The editor filters, sorts and de-duplicates what comes back.
pub type Completer<'a> = dyn FnMut(&str) -> Vec<String> + 'a;

pub struct Editor {
    prompt: String,
    buf: Vec<char>,
    cur: usize,
    history: Vec<String>,
    /// The history line being shown, while browsing.
    browse: Option<usize>,
    /// The line being typed before browsing began.
    draft: Vec<char>,
    esc: Esc,
    /// Bytes of an incomplete UTF-8 character, and how many it needs.
    utf8: Vec<u8>,
    utf8_need: usize,
    /// The previous byte was CR (so a following LF is the same Enter).
    after_cr: bool,
    /// The previous key was Tab.
    after_tab: bool,
}

impl Default for Editor {
    fn default() -> Self {
        Self::new()
    }
}

impl Editor {
    pub fn new() -> Self {
        Editor {
            prompt: String::new(),
            buf: Vec::new(),
            cur: 0,
            history: Vec::new(),
            browse: None,
            draft: Vec::new(),
            esc: Esc::Ground,
            utf8: Vec::new(),
            utf8_need: 0,
            after_cr: false,
            after_tab: false,
        }
    }

    /// Starts a new line: shows `prompt` and empties the buffer.
    pub fn begin(&mut self, prompt: &str, out: &mut Vec<u8>) {
        prompt.clone_into(&mut self.prompt);
        self.buf.clear();
        self.cur = 0;
        self.browse = None;
        self.esc = Esc::Ground;
        self.utf8.clear();
        self.utf8_need = 0;
        self.after_tab = false;
        out.extend_from_slice(prompt.as_bytes());
    }

    /// The line as typed so far.
    pub fn line(&self) -> String {
        self.buf.iter().collect()
    }

    /// The cursor's position, in characters from the start of the line.
    pub fn cursor(&self) -> usize {
        self.cur
    }

    /// Earlier lines, oldest first.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Adds a line to the history (not blank, not a repeat of the newest entry).
    pub fn add_history(&mut self, line: &str) {
        if line.trim().is_empty() || self.history.last().is_some_and(|l| l == line) {
            return;
        }
        if self.history.len() == HISTORY_MAX {
            self.history.remove(0);
        }
        self.history.push(line.into());
    }

    /// Feeds one typed byte.
    pub fn feed(&mut self, byte: u8, out: &mut Vec<u8>, complete: &mut Completer<'_>) -> Event {
        let after_cr = core::mem::replace(&mut self.after_cr, false);
        let Some(key) = self.decode(byte, after_cr) else {
            return Event::None;
        };
        let after_tab = core::mem::replace(&mut self.after_tab, key == Key::Tab);
        self.apply(key, out, complete, after_tab)
    }

    /// Feeds several bytes; returns the events other than [`Event::None`].
    pub fn feed_all(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<u8>,
        complete: &mut Completer<'_>,
    ) -> Vec<Event> {
        bytes
            .iter()
            .map(|&b| self.feed(b, out, complete))
            .filter(|e| *e != Event::None)
            .collect()
    }

    /// Turns bytes into keys; `None` while a sequence or character is incomplete.
    fn decode(&mut self, byte: u8, after_cr: bool) -> Option<Key> {
        match core::mem::replace(&mut self.esc, Esc::Ground) {
            Esc::Ground => {}
            Esc::Started => {
                return match byte {
                    b'[' => {
                        self.esc = Esc::Csi(Vec::new());
                        None
                    }
                    b'O' => {
                        self.esc = Esc::Ss3;
                        None
                    }
                    b'b' => Some(Key::WordLeft),
                    b'f' => Some(Key::WordRight),
                    0x7f | 0x08 => Some(Key::CutWord),
                    _ => Some(Key::Ignore),
                };
            }
            Esc::Ss3 => {
                return Some(match byte {
                    b'A' => Key::Up,
                    b'B' => Key::Down,
                    b'C' => Key::Right,
                    b'D' => Key::Left,
                    b'H' => Key::Home,
                    b'F' => Key::End,
                    _ => Key::Ignore,
                });
            }
            Esc::Csi(mut params) => {
                return match byte {
                    0x30..=0x3f if params.len() < CSI_MAX => {
                        params.push(byte);
                        self.esc = Esc::Csi(params);
                        None
                    }
                    0x40..=0x7e => Some(csi_key(&params, byte)),
                    // Too long or malformed: drop the sequence.
                    _ => Some(Key::Ignore),
                };
            }
        }
        if self.utf8_need > 0 {
            if (0x80..=0xbf).contains(&byte) {
                self.utf8.push(byte);
                if self.utf8.len() < self.utf8_need {
                    return None;
                }
                let c = core::str::from_utf8(&self.utf8)
                    .ok()
                    .and_then(|s| s.chars().next());
                self.utf8.clear();
                self.utf8_need = 0;
                return Some(c.map_or(Key::Ignore, Key::Char));
            }
            // Not a continuation byte: drop the partial character, take this byte afresh.
            self.utf8.clear();
            self.utf8_need = 0;
        }
        Some(match byte {
            0x1b => {
                self.esc = Esc::Started;
                return None;
            }
            b'\r' => {
                self.after_cr = true;
                Key::Enter
            }
            b'\n' if after_cr => Key::Ignore,
            b'\n' => Key::Enter,
            0x7f | 0x08 => Key::Backspace,
            0x01 => Key::Home,
            0x02 => Key::Left,
            0x03 => Key::Interrupt,
            0x04 => Key::EofOrDelete,
            0x05 => Key::End,
            0x06 => Key::Right,
            b'\t' => Key::Tab,
            0x0b => Key::CutToEnd,
            0x0c => Key::Clear,
            0x0e => Key::Down,
            0x10 => Key::Up,
            0x15 => Key::CutToStart,
            0x17 => Key::CutWord,
            0x20..=0x7e => Key::Char(byte as char),
            0xc2..=0xf4 => {
                self.utf8.push(byte);
                self.utf8_need = match byte {
                    0xc2..=0xdf => 2,
                    0xe0..=0xef => 3,
                    _ => 4,
                };
                return None;
            }
            _ => Key::Ignore,
        })
    }

    fn apply(
        &mut self,
        key: Key,
        out: &mut Vec<u8>,
        complete: &mut Completer<'_>,
        after_tab: bool,
    ) -> Event {
        match key {
            Key::Char(c) => self.insert(&[c], out),
            Key::Enter => {
                out.extend_from_slice(b"\r\n");
                let line = self.take_line();
                self.add_history(&line);
                return Event::Line(line);
            }
            Key::Interrupt => {
                out.extend_from_slice(b"^C\r\n");
                self.take_line();
                return Event::Interrupt;
            }
            Key::EofOrDelete if self.buf.is_empty() => {
                out.extend_from_slice(b"\r\n");
                return Event::Eof;
            }
            Key::EofOrDelete | Key::Delete => {
                if self.cur < self.buf.len() {
                    self.buf.remove(self.cur);
                    self.refresh(out);
                } else {
                    out.push(BELL);
                }
            }
            Key::Backspace => {
                if self.cur == 0 {
                    out.push(BELL);
                } else if self.cur == self.buf.len() {
                    self.buf.pop();
                    self.cur -= 1;
                    out.extend_from_slice(b"\x08 \x08");
                } else {
                    self.cur -= 1;
                    self.buf.remove(self.cur);
                    self.refresh(out);
                }
            }
            Key::Left => self.move_to(self.cur.checked_sub(1), out),
            Key::Right => self.move_to((self.cur < self.buf.len()).then_some(self.cur + 1), out),
            Key::WordLeft => self.move_to(Some(self.word_start()), out),
            Key::WordRight => {
                let mut i = self.cur;
                while i < self.buf.len() && self.buf[i] == ' ' {
                    i += 1;
                }
                while i < self.buf.len() && self.buf[i] != ' ' {
                    i += 1;
                }
                self.move_to(Some(i), out);
            }
            Key::Home => self.move_to(Some(0), out),
            Key::End => self.move_to(Some(self.buf.len()), out),
            Key::Up => self.history_step(true, out),
            Key::Down => self.history_step(false, out),
            Key::CutToStart => {
                self.buf.drain(..self.cur);
                self.cur = 0;
                self.refresh(out);
            }
            Key::CutToEnd => {
                self.buf.truncate(self.cur);
                self.refresh(out);
            }
            Key::CutWord => {
                let start = self.word_start();
                self.buf.drain(start..self.cur);
                self.cur = start;
                self.refresh(out);
            }
            Key::Clear => {
                out.extend_from_slice(b"\x1b[H\x1b[2J");
                self.refresh(out);
            }
            Key::Tab => self.complete(out, complete, after_tab),
            Key::Ignore => {}
        }
        Event::None
    }

    /// Empties the line and returns what it held.
    fn take_line(&mut self) -> String {
        let line = self.line();
        self.buf.clear();
        self.cur = 0;
        self.browse = None;
        self.draft.clear();
        line
    }

    fn insert(&mut self, chars: &[char], out: &mut Vec<u8>) {
        if self.buf.len() + chars.len() > LINE_MAX {
            out.push(BELL);
            return;
        }
        let at_end = self.cur == self.buf.len();
        for (i, &c) in chars.iter().enumerate() {
            self.buf.insert(self.cur + i, c);
        }
        self.cur += chars.len();
        if at_end {
            let mut tmp = [0u8; 4];
            for &c in chars {
                out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            }
        } else {
            self.refresh(out);
        }
    }

    /// Moves the cursor to `to` (bell if `None`).
    fn move_to(&mut self, to: Option<usize>, out: &mut Vec<u8>) {
        match to {
            Some(to) if to <= self.buf.len() => {
                if to < self.cur {
                    cursor_left(out, self.cur - to);
                } else if to > self.cur {
                    cursor_right(out, to - self.cur);
                }
                self.cur = to;
            }
            _ => out.push(BELL),
        }
    }

    /// Start of the word before the cursor (skipping blanks first).
    fn word_start(&self) -> usize {
        let mut i = self.cur;
        while i > 0 && self.buf[i - 1] == ' ' {
            i -= 1;
        }
        while i > 0 && self.buf[i - 1] != ' ' {
            i -= 1;
        }
        i
    }

    /// Redraws the whole line and puts the cursor back.
    pub fn refresh(&self, out: &mut Vec<u8>) {
        out.push(b'\r');
        out.extend_from_slice(self.prompt.as_bytes());
        let mut tmp = [0u8; 4];
        for &c in &self.buf {
            out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
        }
        out.extend_from_slice(b"\x1b[K");
        cursor_left(out, self.buf.len() - self.cur);
    }

    fn history_step(&mut self, older: bool, out: &mut Vec<u8>) {
        let n = self.history.len();
        let next = match (self.browse, older) {
            (None, true) if n > 0 => Some(n - 1),
            (Some(i), true) if i > 0 => Some(i - 1),
            (Some(i), false) if i + 1 < n => Some(i + 1),
            (Some(_), false) => None,
            _ => {
                out.push(BELL);
                return;
            }
        };
        if self.browse.is_none() {
            self.draft = core::mem::take(&mut self.buf);
        }
        self.buf = match next {
            Some(i) => self.history[i].chars().collect(),
            None => core::mem::take(&mut self.draft),
        };
        self.browse = next;
        self.cur = self.buf.len();
        self.refresh(out);
    }

    fn complete(&mut self, out: &mut Vec<u8>, complete: &mut Completer<'_>, after_tab: bool) {
        let is_break = |c: char| matches!(c, ' ' | '\t' | '|' | ';' | '&' | '<' | '>' | '(');
        let start = self.buf[..self.cur]
            .iter()
            .rposition(|&c| is_break(c))
            .map_or(0, |i| i + 1);
        let word: String = self.buf[start..self.cur].iter().collect();
        let before: String = self.buf[..start].iter().collect();
        let before = before.trim_end();
        let command_position =
            before.is_empty() || before.ends_with(['|', ';', '&', '(']) || before.ends_with('!');
        if !command_position || word.contains(['/', '\'', '"', '\\', '$', '=']) {
            out.push(BELL);
            return;
        }
        let mut names: Vec<String> = complete(&word)
            .into_iter()
            .filter(|n| n.starts_with(word.as_str()))
            .collect();
        names.sort();
        names.dedup();
        match names.as_slice() {
            [] => out.push(BELL),
            [only] => {
                let mut rest: Vec<char> = only[word.len()..].chars().collect();
                rest.push(' ');
                self.insert(&rest, out);
            }
            _ => {
                let common = common_prefix(&names);
                if common.len() > word.len() {
                    let rest: Vec<char> = common[word.len()..].chars().collect();
                    self.insert(&rest, out);
                } else if after_tab {
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(columns(&names, 80).as_bytes());
                    self.refresh(out);
                } else {
                    out.push(BELL);
                }
            }
        }
    }
}

fn csi_key(params: &[u8], fin: u8) -> Key {
    match fin {
        b'A' => Key::Up,
        b'B' => Key::Down,
        b'C' => Key::Right,
        b'D' => Key::Left,
        b'H' => Key::Home,
        b'F' => Key::End,
        b'~' => match params {
            b"1" | b"7" => Key::Home,
            b"4" | b"8" => Key::End,
            b"3" => Key::Delete,
            _ => Key::Ignore,
        },
        _ => Key::Ignore,
    }
}

fn cursor_left(out: &mut Vec<u8>, n: usize) {
    if n > 0 {
        out.extend_from_slice(alloc::format!("\x1b[{n}D").as_bytes());
    }
}

fn cursor_right(out: &mut Vec<u8>, n: usize) {
    if n > 0 {
        out.extend_from_slice(alloc::format!("\x1b[{n}C").as_bytes());
    }
}

/// The longest prefix (on a character boundary) every name shares.
fn common_prefix(names: &[String]) -> &str {
    let Some(first) = names.first() else {
        return "";
    };
    let mut len = first.len();
    for n in &names[1..] {
        len = first
            .char_indices()
            .zip(n.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8())
            .min(len);
    }
    &first[..len]
}

/// Names laid out in columns that fit `width`, each row ending in CR LF.
pub fn columns(names: &[String], width: usize) -> String {
    let col = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) + 2;
    let per_row = (width / col.max(1)).max(1);
    let mut s = String::new();
    for row in names.chunks(per_row) {
        for (i, n) in row.iter().enumerate() {
            s.push_str(n);
            if i + 1 < row.len() {
                for _ in n.chars().count()..col {
                    s.push(' ');
                }
            }
        }
        s.push_str("\r\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const NAMES: [&str; 6] = ["cat", "cd", "echo", "export", "exit", "head"];

    fn names(prefix: &str) -> Vec<String> {
        // Unsorted, with a duplicate and a non-match: the editor sorts and filters.
        let mut v: Vec<String> = NAMES.iter().rev().map(|s| String::from(*s)).collect();
        v.push("cat".into());
        v.push(alloc::format!("x{prefix}"));
        v
    }

    /// An editor after typing `keys` at prompt `$ `; the events and screen bytes.
    fn run(ed: &mut Editor, keys: &[u8]) -> (Vec<Event>, Vec<u8>) {
        let mut out = Vec::new();
        let ev = ed.feed_all(keys, &mut out, &mut names);
        (ev, out)
    }

    fn fresh() -> Editor {
        let mut ed = Editor::new();
        ed.begin("$ ", &mut Vec::new());
        ed
    }

    /// The line Enter produces after `keys`.
    fn line_after(keys: &[u8]) -> String {
        let mut ed = fresh();
        let mut k = keys.to_vec();
        k.push(b'\r');
        match run(&mut ed, &k).0.last() {
            Some(Event::Line(l)) => l.clone(),
            other => panic!("no line: {other:?}"),
        }
    }

    #[test]
    fn typing_echoes_and_enter_finishes() {
        let mut ed = Editor::new();
        let mut out = Vec::new();
        ed.begin("$ ", &mut out);
        assert_eq!(out, b"$ ");
        let (ev, out) = run(&mut ed, b"ls -l\r");
        assert_eq!(ev, vec![Event::Line("ls -l".into())]);
        assert_eq!(out, b"ls -l\r\n");
        assert_eq!(ed.line(), "");
    }

    #[test]
    fn cr_lf_is_one_enter_and_lf_alone_works() {
        let mut ed = fresh();
        let (ev, _) = run(&mut ed, b"a\r\nb\n\n");
        assert_eq!(
            ev,
            vec![
                Event::Line("a".into()),
                Event::Line("b".into()),
                Event::Line("".into())
            ]
        );
    }

    #[test]
    fn backspace_at_end_and_in_the_middle() {
        let mut ed = fresh();
        let (_, out) = run(&mut ed, b"abc\x7f");
        assert_eq!(out, b"abc\x08 \x08");
        assert_eq!(ed.line(), "ab");
        // BS (0x08) too; then Left, Backspace deletes before the cursor and redraws.
        let (_, out) = run(&mut ed, b"x\x08\x1b[D\x7f");
        assert_eq!(ed.line(), "b");
        assert_eq!(ed.cursor(), 0);
        assert!(out.ends_with(b"\r$ b\x1b[K\x1b[1D"), "{out:?}");
        // Backspace at the start rings the bell and changes nothing.
        let (_, out) = run(&mut ed, b"\x7f");
        assert_eq!(out, [BELL]);
        assert_eq!(ed.line(), "b");
    }

    #[test]
    fn arrows_home_end_and_insert_in_the_middle() {
        assert_eq!(line_after(b"ac\x1b[Db"), "abc");
        assert_eq!(line_after(b"bc\x1b[Ha"), "abc");
        assert_eq!(line_after(b"bc\x01a\x05d"), "abcd");
        assert_eq!(line_after(b"bc\x1b[1~a\x1b[4~d"), "abcd");
        assert_eq!(line_after(b"bc\x1b[7~a\x1b[8~d"), "abcd");
        assert_eq!(line_after(b"bc\x1bOHa\x1bOFd"), "abcd");
        assert_eq!(line_after(b"ac\x02b\x06d"), "abcd");
        assert_eq!(
            line_after(b"ab\x1b[D\x1b[D\x1b[D\x1b[C\x1b[C\x1b[Cc"),
            "abc"
        );
        // Modified arrows (Ctrl-Left sends ESC [ 1 ; 5 D) still move.
        assert_eq!(line_after(b"ac\x1b[1;5Db"), "abc");
    }

    #[test]
    fn cursor_moves_produce_vt100_sequences() {
        let mut ed = fresh();
        run(&mut ed, b"abcd");
        let (_, out) = run(&mut ed, b"\x1b[D");
        assert_eq!(out, b"\x1b[1D");
        let (_, out) = run(&mut ed, b"\x01");
        assert_eq!(out, b"\x1b[3D");
        let (_, out) = run(&mut ed, b"\x1b[F");
        assert_eq!(out, b"\x1b[4C");
        // Right at the end: bell.
        let (_, out) = run(&mut ed, b"\x1b[C");
        assert_eq!(out, [BELL]);
        // Insert in the middle redraws: CR, prompt, line, erase, back to the column.
        let (_, out) = run(&mut ed, b"\x01X");
        assert_eq!(out, b"\x1b[4D\r$ Xabcd\x1b[K\x1b[4D");
    }

    #[test]
    fn delete_and_ctrl_d() {
        assert_eq!(line_after(b"abc\x01\x1b[3~"), "bc");
        assert_eq!(line_after(b"abc\x01\x04"), "bc");
        // Ctrl-D at the end of a non-empty line: bell, nothing else.
        let mut ed = fresh();
        let (ev, out) = run(&mut ed, b"ab\x04");
        assert!(ev.is_empty());
        assert!(out.ends_with(&[BELL]));
        // On an empty line: end of input.
        let mut ed = fresh();
        assert_eq!(run(&mut ed, b"\x04").0, vec![Event::Eof]);
    }

    #[test]
    fn ctrl_c_drops_the_line() {
        let mut ed = fresh();
        let (ev, out) = run(&mut ed, b"yes\x03");
        assert_eq!(ev, vec![Event::Interrupt]);
        assert_eq!(out, b"yes^C\r\n");
        assert_eq!(ed.line(), "");
        assert!(ed.history().is_empty());
    }

    #[test]
    fn cutting() {
        assert_eq!(line_after(b"abc def\x1b[D\x1b[D\x15"), "ef");
        assert_eq!(line_after(b"abc def\x1b[D\x1b[D\x0b"), "abc d");
        assert_eq!(line_after(b"abc def  \x17"), "abc ");
        assert_eq!(line_after(b"abc def\x17\x17"), "");
        assert_eq!(line_after(b"abc def\x1b\x7f"), "abc ");
    }

    #[test]
    fn word_moves() {
        assert_eq!(line_after(b"ab cd\x1bbX"), "ab Xcd");
        assert_eq!(line_after(b"ab cd\x01\x1bfX"), "abX cd");
    }

    #[test]
    fn ctrl_l_clears_and_redraws() {
        let mut ed = fresh();
        run(&mut ed, b"ab");
        let (_, out) = run(&mut ed, b"\x0c");
        assert_eq!(out, b"\x1b[H\x1b[2J\r$ ab\x1b[K");
    }

    #[test]
    fn history_up_down_keeps_the_draft() {
        let mut ed = fresh();
        run(&mut ed, b"one\rtwo\r\rtwo\r  \rthree\r");
        assert_eq!(ed.history(), ["one", "two", "three"]);
        run(&mut ed, b"dra");
        run(&mut ed, b"\x1b[A");
        assert_eq!(ed.line(), "three");
        run(&mut ed, b"\x1b[A\x1b[A");
        assert_eq!(ed.line(), "one");
        // Past the oldest: bell, stays.
        let (_, out) = run(&mut ed, b"\x1b[A");
        assert_eq!(out, [BELL]);
        assert_eq!(ed.line(), "one");
        run(&mut ed, b"\x1b[B");
        assert_eq!(ed.line(), "two");
        run(&mut ed, b"\x0e\x0e");
        assert_eq!(ed.line(), "dra");
        // Down with nothing newer: bell.
        let (_, out) = run(&mut ed, b"\x1b[B");
        assert_eq!(out, [BELL]);
        // Ctrl-P recalls, the recalled line can be edited and entered.
        let (ev, _) = run(&mut ed, b"\x15\x10\x10!\r");
        assert_eq!(ev, vec![Event::Line("two!".into())]);
        assert_eq!(ed.history().last().unwrap(), "two!");
        // A recalled line shows as a redraw with the cursor at its end.
        let (_, out) = run(&mut ed, b"\x1b[A");
        assert_eq!(out, b"\r$ two!\x1b[K");
    }

    #[test]
    fn history_is_bounded() {
        let mut ed = fresh();
        for i in 0..HISTORY_MAX + 10 {
            ed.add_history(&alloc::format!("cmd {i}"));
        }
        assert_eq!(ed.history().len(), HISTORY_MAX);
        assert_eq!(ed.history()[0], "cmd 10");
    }

    #[test]
    fn utf8_input() {
        let mut ed = fresh();
        let (_, out) = run(&mut ed, "héllo 日本".as_bytes());
        assert_eq!(out, "héllo 日本".as_bytes());
        assert_eq!(ed.line(), "héllo 日本");
        // Backspace removes a whole character.
        run(&mut ed, b"\x7f");
        assert_eq!(ed.line(), "héllo 日");
        // A broken sequence is dropped; the byte after it still counts.
        assert_eq!(line_after(b"a\xc3b\xff\xe6\x97c"), "abc");
    }

    #[test]
    fn unknown_escapes_and_controls_are_ignored() {
        assert_eq!(line_after(b"a\x1b[99~b\x1b[Zc\x1bxd\x00\x1f\x12e"), "abcde");
        // An overlong parameter run abandons the sequence.
        assert_eq!(
            line_after(b"a\x1b[11111111111111111111111111b"),
            "a111111111b"
        );
    }

    #[test]
    fn long_lines_are_bounded() {
        let mut ed = fresh();
        let keys = vec![b'x'; LINE_MAX + 5];
        let (_, out) = run(&mut ed, &keys);
        assert_eq!(ed.line().len(), LINE_MAX);
        assert_eq!(out.iter().filter(|&&b| b == BELL).count(), 5);
    }

    #[test]
    fn tab_completes_a_unique_command() {
        let mut ed = fresh();
        let (_, out) = run(&mut ed, b"he\t");
        assert_eq!(ed.line(), "head ");
        assert_eq!(out, b"head ");
        // After a pipe, `;`, `&&`, `||` it is a command position again.
        assert_eq!(line_after(b"echo x | he\t"), "echo x | head ");
        assert_eq!(line_after(b"a;ca\t"), "a;cat ");
        assert_eq!(line_after(b"a && ca\t"), "a && cat ");
        // Mid-line completion inserts at the cursor.
        assert_eq!(line_after(b"he x\x01\x1b[C\x1b[C\t"), "head  x");
    }

    #[test]
    fn tab_extends_a_common_prefix_then_lists() {
        let mut ed = fresh();
        let (_, out) = run(&mut ed, b"e\t");
        assert_eq!(ed.line(), "e");
        assert_eq!(out, [b'e', BELL]);
        let (_, out) = run(&mut ed, b"\t");
        assert_eq!(out, b"\r\necho    exit    export\r\n\r$ e\x1b[K");
        let (_, _) = run(&mut ed, b"x\t");
        assert_eq!(ed.line(), "ex");
        let mut ed = fresh();
        run(&mut ed, b"c\t");
        assert_eq!(ed.line(), "c");
        run(&mut ed, b"a\t");
        assert_eq!(ed.line(), "cat ");
    }

    #[test]
    fn tab_outside_command_position_rings() {
        for keys in [&b"cat he\t"[..], b"./he\t", b"X=he\t", b"zz\t"] {
            let mut ed = fresh();
            let before = keys.len() - 1;
            let (_, out) = run(&mut ed, keys);
            assert_eq!(out[before..], [BELL], "{keys:?}");
        }
    }

    #[test]
    fn columns_layout() {
        let n: Vec<String> = ["a", "bbb", "cc"]
            .iter()
            .map(|s| String::from(*s))
            .collect();
        assert_eq!(columns(&n, 80), "a    bbb  cc\r\n");
        assert_eq!(columns(&n, 10), "a    bbb\r\ncc\r\n");
        assert_eq!(columns(&n, 1), "a\r\nbbb\r\ncc\r\n");
        assert_eq!(common_prefix(&n), "");
        let n: Vec<String> = ["日本a", "日本b"]
            .iter()
            .map(|s| String::from(*s))
            .collect();
        assert_eq!(common_prefix(&n), "日本");
    }

    #[test]
    fn random_keys_never_panic() {
        use wayos_testutil::XorShift;
        // Bytes that matter to the editor, and arbitrary ones.
        const KEYS: [&[u8]; 22] = [
            b"a",
            b" ",
            b"\r",
            b"\n",
            b"\x7f",
            b"\x08",
            b"\x1b[A",
            b"\x1b[B",
            b"\x1b[C",
            b"\x1b[D",
            b"\x1b[H",
            b"\x1b[F",
            b"\x1b[3~",
            b"\x01",
            b"\x05",
            b"\x03",
            b"\x04",
            b"\x15",
            b"\x0b",
            b"\x17",
            b"\t",
            "é".as_bytes(),
        ];
        let mut rng = XorShift::new(7);
        let mut ed = fresh();
        let mut out = Vec::new();
        for _ in 0..200_000 {
            let key: &[u8] = if rng.index(8) == 0 {
                &[rng.next() as u8]
            } else {
                KEYS[rng.index(KEYS.len())]
            };
            for &b in key {
                ed.feed(b, &mut out, &mut names);
                assert!(ed.cursor() <= ed.line().chars().count());
            }
            out.clear();
        }
    }
}
