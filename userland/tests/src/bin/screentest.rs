//! `screentest`: the screen console (`docs/devices.md`, "Screen").
//!
//! Always: `stats(KIND_DISPLAY)` is sane (whole cells of `abi::display`, virtio-gpu at
//! the mode the kernel asks for, `ENODEV` only when `lspci` shows no virtio-gpu), and
//! the frame count rises when text is written. Under the harness: a line with every
//! printable ASCII character and a command's output are on the screen QEMU shows (the
//! harness's `screendump`, decoded with the kernel's font, `HOST_SCREENDUMP`), every cell
//! of it decodes to a glyph, and after `clear` the screen holds only what came after.
//! By hand the screendump checks are skipped with the reason.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::display::{CELL_HEIGHT, CELL_WIDTH, HEIGHT, WIDTH};
use libway::abi::errno::ENODEV;
use libway::abi::harness::HOST_SCREENDUMP;
use libway::display::{self, DisplayInfo};
use libway::process;
use libway::suite::{expect_exit, wait_for, Check, Suite};
use libway::time::{monotonic_ns, sleep_ms};
use libway::{pci, println, Args};

libway::entry!(main);

/// virtio-gpu's PCI ids.
const VIRTIO_VENDOR: u16 = 0x1af4;
const VIRTIO_GPU: u16 = 0x1050;
/// How long the display may take to catch up (it draws at most 10 frames a second, at
/// low priority, on a slow emulated CPU).
const SETTLE_MS: u64 = 5_000;
/// No new frame for this long after the text was written: the display has drawn it.
const QUIET_MS: u64 = 300;

fn main(_args: Args) -> i32 {
    let mut s = Suite::new("screentest");
    let info = display::info();
    s.check("display_info_is_sane", info_is_sane(&info));
    let Ok(info) = info else {
        s.skip(
            "drawing and screendump checks",
            "no screen: boot with a display device (cargo xtask run attaches virtio-gpu)",
        );
        return s.finish();
    };
    s.check("frames_rise_when_text_is_written", frames_rise());
    if !s.under_harness() {
        s.skip(
            "screendump checks",
            "no harness: run under cargo xtask test, which takes QEMU's screendump",
        );
        return s.finish();
    }
    let token = monotonic_ns().unwrap_or(0);
    s.check(
        "screendump_shows_text_and_command_output",
        shows_text(&s, &info, token),
    );
    s.check("clear_empties_the_screen", clear_empties(&s, &info, token));
    s.finish()
}

fn info_is_sane(info: &Result<DisplayInfo, libway::Errno>) -> Check {
    let gpu_listed = pci::pci_list()
        .map_err(|e| format!("pci_list: {e}"))?
        .iter()
        .any(|d| d.vendor == VIRTIO_VENDOR && d.device == VIRTIO_GPU);
    let i = match info {
        Err(e) if e.0 == ENODEV && !gpu_listed => return Ok(()),
        Err(e) if e.0 == ENODEV => return Err("ENODEV, but lspci lists a virtio-gpu".into()),
        Err(e) => return Err(format!("stats(KIND_DISPLAY): {e}")),
        Ok(i) => i,
    };
    let source = display::source(i);
    if i.cols == 0 || i.rows == 0 {
        return Err(format!("{}x{} cells", i.cols, i.rows));
    }
    if i.cols != i.width / CELL_WIDTH || i.rows != i.height / CELL_HEIGHT {
        return Err(format!(
            "{}x{} pixels but {}x{} cells of {CELL_WIDTH}x{CELL_HEIGHT}",
            i.width, i.height, i.cols, i.rows
        ));
    }
    match source {
        "virtio-gpu" if !gpu_listed => Err("virtio-gpu, but lspci lists none".into()),
        "virtio-gpu" if (i.width, i.height) != (WIDTH, HEIGHT) => Err(format!(
            "virtio-gpu at {}x{}, asked for {WIDTH}x{HEIGHT}",
            i.width, i.height
        )),
        "virtio-gpu" => Ok(()),
        "framebuffer" if gpu_listed => {
            Err("the loader's framebuffer with a virtio-gpu present".into())
        }
        "framebuffer" => Ok(()),
        other => Err(format!("unknown source {other:?}")),
    }
}

fn frames() -> Result<u64, String> {
    display::info()
        .map(|i| i.frames)
        .map_err(|e| format!("stats(KIND_DISPLAY): {e}"))
}

/// Waits until the display has drawn everything written so far: a frame came after
/// `before` and then none for [`QUIET_MS`]. Returns the frame count.
fn settle(before: u64) -> Result<u64, String> {
    let mut waited = 0;
    let mut last = frames()?;
    let mut quiet = 0;
    while waited < SETTLE_MS {
        sleep_ms(50).map_err(|e| format!("sleep: {e}"))?;
        waited += 50;
        let now = frames()?;
        if now == last && now > before {
            quiet += 50;
            if quiet >= QUIET_MS {
                return Ok(now);
            }
        } else {
            quiet = 0;
        }
        last = now;
    }
    Err(format!(
        "the display drew no frame, or never stopped drawing, in {SETTLE_MS} ms ({before} -> {last} frames)"
    ))
}

fn frames_rise() -> Check {
    let before = frames()?;
    println!("screentest: a line for the screen");
    let after = settle(before)?;
    if after <= before {
        return Err(format!("frames {before} -> {after}"));
    }
    Ok(())
}

/// Takes a screendump through the harness; returns the decoded rows (row number, text).
fn screendump(s: &Suite, info: &DisplayInfo) -> Result<Vec<(usize, Vec<u8>)>, String> {
    let max = info.rows as usize;
    let (lines, answer) = match s.host_lines(HOST_SCREENDUMP, "", "screen", max) {
        None => return Err("no harness".into()),
        Some(r) => r?,
    };
    let words: Vec<&str> = answer.split_whitespace().collect();
    let num = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok());
    let (cols, rows, matched) = match (num(0), num(1), num(2)) {
        (Some(c), Some(r), Some(m)) => (c, r, m),
        _ => return Err(format!("screendump answered {answer:?}")),
    };
    if (cols, rows) != (u64::from(info.cols), u64::from(info.rows)) {
        return Err(format!(
            "the screendump is {cols}x{rows} cells, the kernel says {}x{}",
            info.cols, info.rows
        ));
    }
    // Every cell decodes: the screen is the font's glyphs and nothing else.
    if matched != cols * rows {
        return Err(format!(
            "{matched} of {} cells are glyphs of the font",
            cols * rows
        ));
    }
    let mut out = Vec::new();
    for l in lines {
        let mut w = l.split(' ').skip(1);
        let row = w.next().and_then(|r| r.parse::<usize>().ok());
        let text = w.next().and_then(unhex);
        match (row, text) {
            (Some(r), Some(t)) if r < rows as usize => out.push((r, t)),
            _ => return Err(format!("bad screen line {l:?}")),
        }
    }
    Ok(out)
}

fn unhex(h: &str) -> Option<Vec<u8>> {
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `screentest <token> ` and every printable character but space, cut to one row.
fn marker(token: u64, what: &str, cols: usize) -> String {
    let mut m = format!("screentest {what} {token} ");
    m.extend((0x21u8..=0x7e).map(char::from));
    m.truncate(cols);
    m
}

fn run(argv: &[&str]) -> Check {
    let pid = process::spawn(argv[0], argv, &[]).map_err(|e| format!("spawn {}: {e}", argv[0]))?;
    expect_exit(wait_for(pid, 30_000)?, 0)
}

fn shows_text(s: &Suite, info: &DisplayInfo, token: u64) -> Check {
    let line = marker(token, "text", info.cols as usize);
    let echoed = format!("screentest-echo-{token}");
    let before = frames()?;
    println!("{line}");
    run(&["/bin/echo", &echoed])?;
    settle(before)?;
    let rows = screendump(s, info)?;
    let has = |want: &[u8]| rows.iter().any(|(_, t)| t.as_slice() == want);
    if !has(line.as_bytes()) {
        return Err(format!("no row reads {line:?}: {}", shown(&rows)));
    }
    if !has(echoed.as_bytes()) {
        return Err(format!(
            "echo's output {echoed:?} is not on the screen: {}",
            shown(&rows)
        ));
    }
    Ok(())
}

fn clear_empties(s: &Suite, info: &DisplayInfo, token: u64) -> Check {
    let old = marker(token, "before-clear", info.cols as usize);
    let new = marker(token, "after-clear", info.cols as usize);
    println!("{old}");
    let before = frames()?;
    run(&["/bin/clear"])?;
    println!("{new}");
    settle(before)?;
    let rows = screendump(s, info)?;
    if rows.iter().any(|(_, t)| t.as_slice() == old.as_bytes()) {
        return Err(format!(
            "the line before clear is still shown: {}",
            shown(&rows)
        ));
    }
    // The first row is the first line written after the clear.
    match rows.first() {
        Some((0, t)) if t.as_slice() == new.as_bytes() => Ok(()),
        _ => Err(format!("row 0 is not {new:?}: {}", shown(&rows))),
    }
}

/// The decoded rows, for a failure message.
fn shown(rows: &[(usize, Vec<u8>)]) -> String {
    let mut s = String::new();
    for (r, t) in rows.iter().take(8) {
        s.push_str(&format!("[{r}] {:?} ", String::from_utf8_lossy(t)));
    }
    s
}
