//! The harness's view of the guest's screen: a QEMU `screendump` over QMP, decoded back
//! to text with the kernel's own font (`wayos_kcore::font`), for the `screendump` host
//! verb (`wayos_abi::harness::HOST_SCREENDUMP`, whose doc is the spec).
//!
//! The QMP socket is a Unix socket in the host's temporary directory (only this
//! machine's users reach it), made per boot ([`qmp_path`]). Never: wait on QEMU without
//! a deadline, or answer with anything but `screen <row> <hex>` lines and one final
//! `ok`/`err` line.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use wayos_abi::display::{BG, CELL_HEIGHT, CELL_WIDTH, FG};
use wayos_kcore::font;

use crate::Result;

/// How long QEMU may take to connect, answer and write the dump.
const QMP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the harness lets the guest draw before the dump: the suite's request line
/// itself is drawn (and the screen scrolled) within a frame or two, and on a loader
/// framebuffer QEMU would otherwise catch that drawing half done.
const DRAW_WAIT: Duration = Duration::from_millis(600);
/// What a cell that matches no glyph decodes to in the answer (SUB).
pub const UNKNOWN_CELL: u8 = 0x1a;

/// A fresh QMP socket path for one boot.
pub fn qmp_path(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "wayos-qmp-{}-{name}-{}.sock",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The decoded screen.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    pub cols: usize,
    pub rows: usize,
    /// Each row's cells: the character, or [`UNKNOWN_CELL`].
    pub text: Vec<Vec<u8>>,
    /// Cells that matched a glyph.
    pub matched: usize,
}

impl Decoded {
    /// The answer lines: `screen <row> <hex>` for each row with text (trailing blanks
    /// left out), then `ok <cols> <rows> <matched>`.
    pub fn answer_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (r, row) in self.text.iter().enumerate() {
            let end = row.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
            if end == 0 {
                continue;
            }
            let hex: String = row[..end].iter().map(|b| format!("{b:02x}")).collect();
            lines.push(format!("screen {r} {hex}"));
        }
        lines.push(format!("ok {} {} {}", self.cols, self.rows, self.matched));
        lines
    }
}

/// The `screendump` answer: the lines to type (the last is `ok ...` or `err ...`).
pub fn answer(qmp: Option<&Path>, dump: &Path) -> Vec<String> {
    std::thread::sleep(DRAW_WAIT);
    let result = qmp
        .ok_or_else(|| "this boot has no QMP socket".to_string())
        .and_then(|q| screendump(q, dump))
        .and_then(|()| std::fs::read(dump).map_err(|e| format!("{}: {e}", dump.display())))
        .and_then(|ppm| decode_ppm(&ppm));
    let _ = std::fs::remove_file(dump);
    match result {
        Ok(d) => d.answer_lines(),
        Err(why) => vec![format!("err {}", why.replace(['\n', '\r'], " "))],
    }
}

/// Asks QEMU (over QMP at `socket`) to write the screen to `file` as a PPM.
pub fn screendump(socket: &Path, file: &Path) -> Result<()> {
    let deadline = Instant::now() + QMP_TIMEOUT;
    let e = |what: &str| {
        let what = what.to_string();
        move |err: std::io::Error| format!("QMP {what}: {err}")
    };
    let stream = UnixStream::connect(socket).map_err(e("connect"))?;
    stream
        .set_read_timeout(Some(QMP_TIMEOUT))
        .map_err(e("timeout"))?;
    let mut writer = stream.try_clone().map_err(e("socket"))?;
    let mut reader = BufReader::new(stream);
    // The greeting, then capabilities negotiation, then the command.
    read_reply(&mut reader, deadline, true)?;
    writer
        .write_all(b"{\"execute\":\"qmp_capabilities\"}\n")
        .map_err(e("write"))?;
    read_reply(&mut reader, deadline, false)?;
    let path = file
        .to_str()
        .filter(|p| !p.contains(['"', '\\']))
        .ok_or("screendump path is not plain UTF-8")?;
    writer
        .write_all(
            format!("{{\"execute\":\"screendump\",\"arguments\":{{\"filename\":\"{path}\"}}}}\n")
                .as_bytes(),
        )
        .map_err(e("write"))?;
    read_reply(&mut reader, deadline, false)
}

/// Reads QMP lines until the greeting (`greeting`) or a command's `return`; events are
/// skipped; an `error` is the error.
fn read_reply(r: &mut impl BufRead, deadline: Instant, greeting: bool) -> Result<()> {
    loop {
        if Instant::now() > deadline {
            return Err("QMP: no answer in time".into());
        }
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) => return Err("QMP: QEMU closed the socket".into()),
            Ok(_) => {}
            Err(err) => return Err(format!("QMP read: {err}")),
        }
        if line.contains("\"error\"") {
            return Err(format!("QMP: {}", line.trim()));
        }
        if (greeting && line.contains("\"QMP\"")) || (!greeting && line.contains("\"return\"")) {
            return Ok(());
        }
    }
}

/// Decodes a binary PPM (P6, maxval 255) into text cells with the kernel's font: a pixel
/// is foreground or background when it has exactly that colour of `abi::display`;
/// a cell with any other pixel, or whose bits are no glyph, is [`UNKNOWN_CELL`].
pub fn decode_ppm(ppm: &[u8]) -> Result<Decoded> {
    let (width, height, pixels) = parse_ppm(ppm)?;
    let (cw, ch) = (CELL_WIDTH as usize, CELL_HEIGHT as usize);
    let (cols, rows) = (width / cw, height / ch);
    let rgb = |c: u32| [(c >> 16) as u8, (c >> 8) as u8, c as u8];
    let (fg, bg) = (rgb(FG), rgb(BG));
    let mut text = Vec::with_capacity(rows);
    let mut matched = 0;
    for r in 0..rows {
        let mut row = Vec::with_capacity(cols);
        for c in 0..cols {
            let mut glyph: font::Glyph = [0; CELL_HEIGHT as usize];
            let mut clean = true;
            for (y, bits) in glyph.iter_mut().enumerate() {
                for x in 0..cw {
                    let at = ((r * ch + y) * width + c * cw + x) * 3;
                    let p = &pixels[at..at + 3];
                    if p == fg {
                        *bits |= 1 << x;
                    } else if p != bg {
                        clean = false;
                    }
                }
            }
            match font::decode(&glyph).filter(|_| clean) {
                Some(b) => {
                    matched += 1;
                    row.push(b);
                }
                None => row.push(UNKNOWN_CELL),
            }
        }
        text.push(row);
    }
    Ok(Decoded {
        cols,
        rows,
        text,
        matched,
    })
}

/// Width, height and the RGB bytes of a P6 PPM with maxval 255.
fn parse_ppm(ppm: &[u8]) -> Result<(usize, usize, &[u8])> {
    // Header: "P6", width, height, maxval, separated by whitespace (comments allowed),
    // then one whitespace byte before the pixels.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while i < ppm.len() && (ppm[i].is_ascii_whitespace() || ppm[i] == b'#') {
            if ppm[i] == b'#' {
                while i < ppm.len() && ppm[i] != b'\n' {
                    i += 1;
                }
            } else {
                i += 1;
            }
        }
        let start = i;
        while i < ppm.len() && !ppm[i].is_ascii_whitespace() {
            i += 1;
        }
        if start == i {
            return Err("screendump: truncated PPM header".into());
        }
        fields.push(String::from_utf8_lossy(&ppm[start..i]).into_owned());
    }
    if fields[0] != "P6" || fields[3] != "255" {
        return Err(format!(
            "screendump: not an 8-bit binary PPM ({} maxval {})",
            fields[0], fields[3]
        ));
    }
    let num = |s: &str| -> Result<usize> {
        s.parse::<usize>()
            .ok()
            .filter(|&n| n > 0 && n <= 16384)
            .ok_or_else(|| format!("screendump: bad PPM size {s}"))
    };
    let (w, h) = (num(&fields[1])?, num(&fields[2])?);
    let pixels = ppm.get(i + 1..).unwrap_or(&[]);
    if pixels.len() < w * h * 3 {
        return Err(format!(
            "screendump: {} pixel bytes for {w}x{h}",
            pixels.len()
        ));
    }
    Ok((w, h, &pixels[..w * h * 3]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PPM of `text` drawn the way the kernel draws it (the cursor inverted at `cursor`).
    fn draw(text: &[&str], cols: usize, rows: usize, cursor: Option<(usize, usize)>) -> Vec<u8> {
        let (cw, ch) = (CELL_WIDTH as usize, CELL_HEIGHT as usize);
        let (w, h) = (cols * cw, rows * ch);
        let mut ppm = format!("P6\n# made by a test\n{w} {h}\n255\n").into_bytes();
        let rgb = |c: u32| [(c >> 16) as u8, (c >> 8) as u8, c as u8];
        for y in 0..h {
            for x in 0..w {
                let (r, c) = (y / ch, x / cw);
                let b = text
                    .get(r)
                    .and_then(|l| l.as_bytes().get(c).copied())
                    .unwrap_or(b' ');
                let mut on = font::glyph(b)[y % ch] & (1 << (x % cw)) != 0;
                if cursor == Some((r, c)) {
                    on = !on;
                }
                ppm.extend_from_slice(&rgb(if on { FG } else { BG }));
            }
        }
        ppm
    }

    #[test]
    fn decodes_what_the_kernel_draws() {
        let all: String = (0x20u8..=0x7e).map(char::from).collect();
        let ppm = draw(&["hello", "", &all[..90]], 100, 4, Some((0, 5)));
        let d = decode_ppm(&ppm).unwrap();
        assert_eq!((d.cols, d.rows, d.matched), (100, 4, 400));
        assert_eq!(&d.text[0][..6], b"hello ");
        assert_eq!(&d.text[2][..90], &all.as_bytes()[..90]);
        let lines = d.answer_lines();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0], "screen 0 68656c6c6f");
        assert!(lines[1].starts_with("screen 2 2021"));
        assert_eq!(lines[2], "ok 100 4 400");
    }

    #[test]
    fn foreign_pixels_are_unknown_cells() {
        let mut ppm = draw(&["ab"], 4, 1, None);
        let header = ppm.len() - 32 * 16 * 3;
        // One pixel of cell 1 in another colour.
        let at = header + (3 * 32 + 9) * 3;
        ppm[at] = 0x12;
        let d = decode_ppm(&ppm).unwrap();
        assert_eq!(d.text[0], [b'a', UNKNOWN_CELL, b' ', b' ']);
        assert_eq!(d.matched, 3);
    }

    #[test]
    fn bad_ppms_are_errors() {
        assert!(decode_ppm(b"P3\n1 1\n255\n000").is_err());
        assert!(decode_ppm(b"P6\n8 16\n255\n\0\0\0").is_err());
        assert!(decode_ppm(b"P6\n8").is_err());
        assert!(decode_ppm(b"").is_err());
    }

    #[test]
    fn no_socket_is_an_error_line() {
        let lines = answer(None, Path::new("/nonexistent/dump.ppm"));
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("err "), "{lines:?}");
        let lines = answer(
            Some(Path::new("/nonexistent/qmp.sock")),
            Path::new("/nonexistent/dump.ppm"),
        );
        assert!(lines[0].starts_with("err QMP connect"), "{lines:?}");
    }
}
