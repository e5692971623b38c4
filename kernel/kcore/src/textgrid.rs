//! The screen console's text: a grid of character cells fed with the bytes the kernel
//! console writes, and what a renderer must redraw to show it ([`Shadow`]).
//!
//! [`Grid`] follows the console's line discipline as a terminal would show it: printable
//! ASCII fills cells (deferred wrap at the right margin), `\n` is a new line (the console
//! writes `\n` for CR LF, as its serial path does), `\r` returns, `\b` moves back one cell
//! (it never erases: the line editor erases with `\b \b`), `\t` goes to the next multiple
//! of 8, the last line scrolls up. A small subset of VT100 control sequences is obeyed:
//! cursor position and moves (`H f A B C D G`), erase in display (`J`, so `clear`'s
//! `ESC[H ESC[2J` empties the screen) and in line (`K`, used by the shell's line
//! editor); every other sequence (SGR colours, `ESC[3J`, private modes, OSC strings) is
//! consumed and skipped. Bytes from 0x80 up (UTF-8) show as one `?` per character.
//!
//! Pure logic, no allocation: a fixed array of at most [`MAX_COLS`] x [`MAX_ROWS`] cells,
//! rows kept in a ring so scrolling costs one row, not the screen. Never panics on any
//! input (every index is bounded by construction; parameters saturate).

/// Largest grid kept; a larger screen uses this much of it (top-left).
pub const MAX_COLS: usize = 256;
pub const MAX_ROWS: usize = 128;
const MAX_CELLS: usize = MAX_COLS * MAX_ROWS;
/// Tab stops every this many columns.
const TAB: usize = 8;
/// Numeric parameters of one control sequence kept; more are ignored.
const MAX_PARAMS: usize = 4;
/// A parameter saturates here (no screen is that large).
const PARAM_MAX: u16 = 9999;
/// What a byte the font cannot show is drawn as.
pub const REPLACEMENT: u8 = b'?';

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Normal,
    /// After ESC.
    Escape,
    /// After ESC and an intermediate byte (0x20..=0x2f): one more byte ends it.
    EscapeIntermediate,
    /// Inside `ESC [`: parameters until a final byte (0x40..=0x7e).
    Csi,
    /// Inside `ESC ]` (an OSC string) until BEL or `ESC \`.
    Osc,
    /// ESC inside an OSC string.
    OscEscape,
}

/// The text on the screen and the cursor.
pub struct Grid {
    cells: [u8; MAX_CELLS],
    cols: usize,
    rows: usize,
    /// Physical row of logical row 0 (rows form a ring of `rows` rows).
    top: usize,
    /// Cursor; `col == cols` is the pending-wrap position after the last column.
    row: usize,
    col: usize,
    state: State,
    params: [u16; MAX_PARAMS],
    nparams: usize,
    /// A private-mode marker (`?`, `>`, `=`, `<`) was seen: the sequence is skipped.
    private: bool,
    /// Lines scrolled off the top since creation (wrapping).
    scrolled: u64,
    /// Bumped by every change of a cell or of the cursor (wrapping).
    generation: u64,
}

impl Grid {
    /// An empty 1x1 grid (a `static` can hold it); [`Grid::resize`] gives it its size.
    pub const fn new() -> Self {
        Self {
            cells: [b' '; MAX_CELLS],
            cols: 1,
            rows: 1,
            top: 0,
            row: 0,
            col: 0,
            state: State::Normal,
            params: [0; MAX_PARAMS],
            nparams: 0,
            private: false,
            scrolled: 0,
            generation: 0,
        }
    }

    /// Makes the grid `cols` x `rows` (clamped to 1..=[`MAX_COLS`] and 1..=[`MAX_ROWS`]),
    /// empty, cursor home.
    pub fn resize(&mut self, cols: usize, rows: usize) {
        self.cols = cols.clamp(1, MAX_COLS);
        self.rows = rows.clamp(1, MAX_ROWS);
        self.cells = [b' '; MAX_CELLS];
        self.top = 0;
        self.row = 0;
        self.col = 0;
        self.state = State::Normal;
        self.generation = self.generation.wrapping_add(1);
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The cursor as (row, column), the column clamped to the last one (a pending wrap
    /// shows at the last column).
    pub fn cursor(&self) -> (usize, usize) {
        (self.row, self.col.min(self.cols - 1))
    }

    pub fn scrolled(&self) -> u64 {
        self.scrolled
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Logical row `r` (0 = top of the screen): `cols` bytes. Empty past the last row.
    pub fn row(&self, r: usize) -> &[u8] {
        if r >= self.rows {
            return &[];
        }
        let p = (self.top + r) % self.rows;
        &self.cells[p * self.cols..(p + 1) * self.cols]
    }

    fn row_mut(&mut self, r: usize) -> &mut [u8] {
        let p = (self.top + r.min(self.rows - 1)) % self.rows;
        &mut self.cells[p * self.cols..(p + 1) * self.cols]
    }

    /// The text of logical row `r` without trailing blanks.
    pub fn row_text(&self, r: usize) -> &[u8] {
        let row = self.row(r);
        let end = row.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
        &row[..end]
    }

    /// Makes this grid a copy of `other`, copying only the cells in use (no temporary:
    /// a grid is too large for a kernel stack).
    pub fn copy_from(&mut self, other: &Grid) {
        let n = other.cols * other.rows;
        self.cells[..n].copy_from_slice(&other.cells[..n]);
        self.cols = other.cols;
        self.rows = other.rows;
        self.top = other.top;
        self.row = other.row;
        self.col = other.col;
        self.state = other.state;
        self.params = other.params;
        self.nparams = other.nparams;
        self.private = other.private;
        self.scrolled = other.scrolled;
        self.generation = other.generation;
    }

    /// Feeds bytes the console wrote.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
        }
        self.generation = self.generation.wrapping_add(1);
    }

    fn byte(&mut self, b: u8) {
        match self.state {
            State::Normal => self.normal(b),
            State::Escape => match b {
                b'[' => {
                    self.state = State::Csi;
                    self.params = [0; MAX_PARAMS];
                    self.nparams = 0;
                    self.private = false;
                }
                b']' => self.state = State::Osc,
                0x20..=0x2f => self.state = State::EscapeIntermediate,
                // A new ESC restarts; anything else ends a two-byte sequence.
                ESC => {}
                _ => self.state = State::Normal,
            },
            State::EscapeIntermediate => self.state = State::Normal,
            State::Csi => self.csi(b),
            State::Osc => match b {
                BEL => self.state = State::Normal,
                ESC => self.state = State::OscEscape,
                _ => {}
            },
            State::OscEscape => {
                self.state = if b == b'\\' {
                    State::Normal
                } else {
                    State::Osc
                }
            }
        }
    }

    fn normal(&mut self, b: u8) {
        match b {
            b'\n' => {
                self.col = 0;
                self.line_feed();
            }
            b'\r' => self.col = 0,
            0x08 => self.col = self.col.min(self.cols - 1).saturating_sub(1),
            b'\t' => {
                let next = (self.col / TAB + 1) * TAB;
                self.col = next.min(self.cols - 1).max(self.col.min(self.cols - 1));
            }
            ESC => self.state = State::Escape,
            0x20..=0x7e => self.put(b),
            // UTF-8 continuation bytes belong to the character already shown.
            0x80..=0xbf => {}
            0xc0..=0xff => self.put(REPLACEMENT),
            // Other control characters (BEL, NUL, DEL, ...) show nothing.
            _ => {}
        }
    }

    fn put(&mut self, c: u8) {
        if self.col >= self.cols {
            self.col = 0;
            self.line_feed();
        }
        let col = self.col;
        self.row_mut(self.row)[col] = c;
        self.col += 1;
    }

    fn line_feed(&mut self) {
        if self.row + 1 < self.rows {
            self.row += 1;
        } else {
            self.top = (self.top + 1) % self.rows;
            let last = self.rows - 1;
            self.row_mut(last).fill(b' ');
            self.scrolled = self.scrolled.wrapping_add(1);
        }
    }

    fn csi(&mut self, b: u8) {
        match b {
            b'0'..=b'9' => {
                if self.nparams == 0 {
                    self.nparams = 1;
                }
                if let Some(p) = self.params.get_mut(self.nparams - 1) {
                    *p = p
                        .saturating_mul(10)
                        .saturating_add(u16::from(b - b'0'))
                        .min(PARAM_MAX);
                }
            }
            b';' => self.nparams = (self.nparams.max(1) + 1).min(MAX_PARAMS + 1),
            b'?' | b'>' | b'=' | b'<' => self.private = true,
            // Intermediate bytes: kept in the sequence, not acted on.
            0x20..=0x2f => {}
            0x40..=0x7e => {
                self.state = State::Normal;
                if !self.private {
                    self.csi_final(b);
                }
            }
            ESC => self.state = State::Escape,
            // A control character inside a sequence aborts it.
            _ => self.state = State::Normal,
        }
    }

    /// Parameter `i`, with 0 or absent read as `default`.
    fn param(&self, i: usize, default: usize) -> usize {
        match self.params.get(i) {
            Some(&p) if i < self.nparams && p != 0 => usize::from(p),
            _ => default,
        }
    }

    fn csi_final(&mut self, f: u8) {
        let n = self.param(0, 1);
        let last_row = self.rows - 1;
        let last_col = self.cols - 1;
        match f {
            b'H' | b'f' => {
                self.row = (self.param(0, 1) - 1).min(last_row);
                self.col = (self.param(1, 1) - 1).min(last_col);
            }
            b'A' => self.row = self.row.saturating_sub(n),
            b'B' => self.row = (self.row + n).min(last_row),
            b'C' => self.col = (self.col.min(last_col) + n).min(last_col),
            b'D' => self.col = self.col.min(last_col).saturating_sub(n),
            b'G' => self.col = (n - 1).min(last_col),
            b'J' => self.erase_display(if self.nparams == 0 { 0 } else { self.params[0] }),
            b'K' => self.erase_line(if self.nparams == 0 { 0 } else { self.params[0] }),
            // SGR and everything else: skipped.
            _ => {}
        }
    }

    fn erase_display(&mut self, mode: u16) {
        let (row, col) = (self.row, self.col.min(self.cols));
        match mode {
            0 => {
                self.row_mut(row)[col..].fill(b' ');
                for r in row + 1..self.rows {
                    self.row_mut(r).fill(b' ');
                }
            }
            1 => {
                for r in 0..row {
                    self.row_mut(r).fill(b' ');
                }
                let end = (col + 1).min(self.cols);
                self.row_mut(row)[..end].fill(b' ');
            }
            2 => {
                for r in 0..self.rows {
                    self.row_mut(r).fill(b' ');
                }
            }
            // 3 (the scrollback) and anything else: the visible screen stays.
            _ => {}
        }
    }

    fn erase_line(&mut self, mode: u16) {
        let (row, col) = (self.row, self.col.min(self.cols));
        let cols = self.cols;
        let line = self.row_mut(row);
        match mode {
            0 => line[col..].fill(b' '),
            1 => line[..(col + 1).min(cols)].fill(b' '),
            2 => line.fill(b' '),
            _ => {}
        }
    }
}

impl Default for Grid {
    fn default() -> Self {
        Self::new()
    }
}

/// A cell "never drawn": differs from every character, so it is redrawn.
const UNKNOWN: u8 = 0;

/// What the renderer last drew, to draw only what changed since.
pub struct Shadow {
    cells: [u8; MAX_CELLS],
    cols: usize,
    rows: usize,
    scrolled: u64,
    cursor: Option<(usize, usize)>,
}

/// One drawing step [`Shadow::update`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Draw {
    /// Move the pixels of text rows `lines..rows` up by `lines` text rows (the bottom
    /// `lines` rows are then redrawn by [`Draw::Cell`] steps).
    ScrollUp { lines: usize },
    /// Draw `ch` at (row, col), inverted for the cursor.
    Cell {
        row: usize,
        col: usize,
        ch: u8,
        inverse: bool,
    },
}

impl Shadow {
    /// Nothing drawn yet: the first update draws every cell.
    pub const fn new() -> Self {
        Self {
            cells: [UNKNOWN; MAX_CELLS],
            cols: 0,
            rows: 0,
            scrolled: 0,
            cursor: None,
        }
    }

    /// Calls `draw` for what must change on screen to show `grid`; returns how many
    /// cells were drawn. Scrolling is a pixel move plus the new rows, not a redraw.
    pub fn update(&mut self, grid: &Grid, mut draw: impl FnMut(Draw)) -> usize {
        let (cols, rows) = (grid.cols(), grid.rows());
        if cols != self.cols || rows != self.rows {
            self.cells = [UNKNOWN; MAX_CELLS];
            self.cols = cols;
            self.rows = rows;
            self.cursor = None;
        } else {
            let lines = grid.scrolled().wrapping_sub(self.scrolled);
            if lines >= rows as u64 {
                self.cells = [UNKNOWN; MAX_CELLS];
                self.cursor = None;
            } else if lines > 0 {
                let lines = lines as usize;
                draw(Draw::ScrollUp { lines });
                self.cells.copy_within(lines * cols..rows * cols, 0);
                self.cells[(rows - lines) * cols..rows * cols].fill(UNKNOWN);
                // The cursor's inverted cell moved up with the pixels.
                self.cursor = self
                    .cursor
                    .and_then(|(r, c)| r.checked_sub(lines).map(|r| (r, c)));
            }
        }
        self.scrolled = grid.scrolled();
        let cursor = grid.cursor();
        let mut drawn = 0;
        if self.cursor != Some(cursor) {
            // The old cursor cell must be drawn plain again.
            if let Some((r, c)) = self.cursor.take() {
                self.cells[r * cols + c] = UNKNOWN;
            }
        }
        for r in 0..rows {
            let text = grid.row(r);
            for (c, &ch) in text.iter().enumerate() {
                let at_cursor = (r, c) == cursor;
                let was = &mut self.cells[r * cols + c];
                if *was != ch || (at_cursor && self.cursor != Some(cursor)) {
                    draw(Draw::Cell {
                        row: r,
                        col: c,
                        ch,
                        inverse: at_cursor,
                    });
                    *was = ch;
                    drawn += 1;
                }
            }
        }
        self.cursor = Some(cursor);
        drawn
    }
}

impl Default for Shadow {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn grid(cols: usize, rows: usize) -> Grid {
        let mut g = Grid::new();
        g.resize(cols, rows);
        g
    }

    fn text(g: &Grid) -> Vec<String> {
        (0..g.rows())
            .map(|r| String::from_utf8_lossy(g.row_text(r)).into_owned())
            .collect()
    }

    #[test]
    fn lines_wrap_and_scroll() {
        let mut g = grid(4, 3);
        g.feed(b"abcdef\nxy\nz");
        assert_eq!(text(&g), ["ef", "xy", "z"]);
        assert_eq!(g.scrolled(), 1);
        g.feed(b"\n\n\n");
        assert_eq!(text(&g), ["", "", ""]);
        assert_eq!(g.scrolled(), 4);
    }

    #[test]
    fn deferred_wrap_at_the_margin() {
        let mut g = grid(4, 3);
        // Exactly four characters and a newline: one line, not a blank one after it.
        g.feed(b"abcd\nx");
        assert_eq!(text(&g), ["abcd", "x", ""]);
        assert_eq!(g.cursor(), (1, 1));
        g.feed(b"\rabcd");
        assert_eq!(g.cursor(), (1, 3));
    }

    #[test]
    fn carriage_return_backspace_and_tab() {
        let mut g = grid(20, 2);
        g.feed(b"hello\rj");
        assert_eq!(text(&g)[0], "jello");
        // The line editor's erase: back, blank, back.
        g.feed(b"\x08 \x08");
        assert_eq!(text(&g)[0], " ello");
        assert_eq!(g.cursor(), (0, 0));
        // Backspace stops at the left margin and never erases by itself.
        g.feed(b"\x08\x08X");
        assert_eq!(text(&g)[0], "Xello");
        g.feed(b"\ra\tb\tc");
        assert_eq!(text(&g)[0], "aello   b       c");
        // A tab never passes the last column.
        g.feed(b"\t\t\tZ");
        assert_eq!(g.row(0)[19], b'Z');
    }

    #[test]
    fn clear_sequence_empties_the_screen() {
        let mut g = grid(10, 4);
        g.feed(b"one\ntwo\nthree");
        g.feed(b"\x1b[H\x1b[2J\x1b[3J");
        assert_eq!(text(&g), ["", "", "", ""]);
        assert_eq!(g.cursor(), (0, 0));
        g.feed(b"$ ");
        assert_eq!(text(&g)[0], "$");
        assert_eq!(g.cursor(), (0, 2));
    }

    #[test]
    fn line_editor_sequences() {
        let mut g = grid(20, 2);
        // What waysh sends to redraw a line and move the cursor.
        g.feed(b"$ abcdef\r$ ab\x1b[K");
        assert_eq!(text(&g)[0], "$ ab");
        g.feed(b"\x1b[2D");
        assert_eq!(g.cursor(), (0, 2));
        g.feed(b"\x1b[3C");
        assert_eq!(g.cursor(), (0, 5));
        g.feed(b"\x1b[1KZ");
        assert_eq!(text(&g)[0], "     Z");
        g.feed(b"\x1b[2;4Hq");
        assert_eq!(text(&g)[1], "   q");
        g.feed(b"\x1b[99;99H");
        assert_eq!(g.cursor(), (1, 19));
        g.feed(b"\x1b[A\x1b[5G");
        assert_eq!(g.cursor(), (0, 4));
    }

    #[test]
    fn other_sequences_are_skipped() {
        let mut g = grid(30, 2);
        g.feed(b"\x1b[1;31mred\x1b[0m \x1b[?25lx\x1b]0;title\x07y\x1b]2;t\x1b\\z\x1b(Bw\x1bcv");
        assert_eq!(text(&g)[0], "red xyzwv");
        // Huge and many parameters saturate instead of overflowing.
        g.feed(b"\r\x1b[99999999999;1;2;3;4;5;6H!");
        assert_eq!(g.cursor(), (1, 1));
    }

    #[test]
    fn non_ascii_shows_one_replacement_per_character() {
        let mut g = grid(10, 1);
        g.feed("é→a".as_bytes());
        assert_eq!(text(&g)[0], "??a");
        g.feed(b"\x00\x07\x7f");
        assert_eq!(text(&g)[0], "??a");
    }

    #[test]
    fn any_bytes_never_panic() {
        let mut g = grid(7, 3);
        let mut x: u32 = 12345;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let b = match x % 4 {
                0 => 0x1b,
                1 => b"[;0123456789HJKABCDfGm?"[(x >> 8) as usize % 23],
                _ => (x >> 16) as u8,
            };
            g.feed(&[b]);
            let (r, c) = g.cursor();
            assert!(r < 3 && c < 7);
        }
        let mut big = grid(10_000, 10_000);
        assert_eq!((big.cols(), big.rows()), (MAX_COLS, MAX_ROWS));
        big.feed(b"\x1b[200;300Hx");
        assert_eq!(big.row(MAX_ROWS - 1)[MAX_COLS - 1], b'x');
    }

    #[test]
    fn copy_from_copies_what_is_shown() {
        let mut g = grid(6, 3);
        g.feed(b"a\nb\nc\nd\x1b[");
        let mut c = Grid::new();
        c.feed(b"junk everywhere");
        c.copy_from(&g);
        assert_eq!(text(&c), text(&g));
        assert_eq!(
            (c.cursor(), c.scrolled(), c.generation()),
            (g.cursor(), g.scrolled(), g.generation())
        );
        // Mid-sequence state comes along: the next byte ends the sequence in both.
        c.feed(b"2Jx");
        g.feed(b"2Jx");
        assert_eq!(text(&c), text(&g));
    }

    /// Applies what the shadow asks for to a model "screen" of characters.
    fn render(shadow: &mut Shadow, g: &Grid, screen: &mut Vec<Vec<(u8, bool)>>) -> usize {
        shadow.update(g, |d| match d {
            Draw::ScrollUp { lines } => {
                screen.drain(..lines);
                for _ in 0..lines {
                    screen.push(std::vec![(UNKNOWN, false); g.cols()]);
                }
            }
            Draw::Cell {
                row,
                col,
                ch,
                inverse,
            } => screen[row][col] = (ch, inverse),
        })
    }

    fn check_screen(g: &Grid, screen: &[Vec<(u8, bool)>]) {
        assert_eq!(screen.len(), g.rows());
        for (r, line) in screen.iter().enumerate() {
            assert_eq!(line.len(), g.cols());
            for (c, &cell) in line.iter().enumerate() {
                let want = (g.row(r)[c], (r, c) == g.cursor());
                assert_eq!(cell, want, "cell {r},{c}");
            }
        }
    }

    #[test]
    fn shadow_draws_what_changed_and_scrolls_pixels() {
        let mut g = grid(5, 3);
        let mut shadow = Shadow::new();
        let mut screen = std::vec![std::vec![(UNKNOWN, false); 5]; 3];
        assert_eq!(
            render(&mut shadow, &g, &mut screen),
            15,
            "first frame draws all"
        );
        check_screen(&g, &screen);
        assert_eq!(render(&mut shadow, &g, &mut screen), 0, "nothing changed");
        g.feed(b"ab");
        // 'a' (also the old cursor cell, now plain), 'b' and the cursor's new cell.
        assert_eq!(render(&mut shadow, &g, &mut screen), 3);
        check_screen(&g, &screen);
        g.feed(b"\n1\n2\n3");
        let n = render(&mut shadow, &g, &mut screen);
        check_screen(&g, &screen);
        assert!(n <= 15, "{n}");
        // More lines than the screen: a full redraw.
        g.feed(b"\n\n\n\nlast");
        render(&mut shadow, &g, &mut screen);
        check_screen(&g, &screen);
        g.feed(b"\x1b[H\x1b[2J");
        render(&mut shadow, &g, &mut screen);
        check_screen(&g, &screen);
    }
}
