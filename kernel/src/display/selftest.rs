//! Boot checks of the screen console (run by `boottest`): the display came up exactly
//! when the machine has a screen (PCI lists a virtio-gpu, or on x86_64 the loader left a
//! 32-bit framebuffer), its geometry is whole cells of `abi::display`, and a line the
//! console writes reaches the pixels: the display thread draws it within a few frames,
//! and every cell on the screen reads back (through the font, `font::decode`) as the
//! character the grid holds.

use core::sync::atomic::Ordering;

use wayos_abi::display::{CELL_HEIGHT, CELL_WIDTH, HEIGHT, WIDTH};
use wayos_kcore::font;

use alloc::format;

use super::{info, virtio, Drawer, CHANGED, DRAWER, DRAWN, GEOMETRY};
use crate::error::Errno;
use crate::{arch, pci, println};

type Check = fn() -> Result<(), &'static str>;

pub const CHECKS: &[(&str, Check)] = &[
    (
        "display_up_exactly_when_a_screen_is_present",
        display_up_exactly_when_a_screen_is_present,
    ),
    (
        "display_geometry_is_whole_cells",
        display_geometry_is_whole_cells,
    ),
    (
        "display_draws_console_text_in_the_font",
        display_draws_console_text_in_the_font,
    ),
];

/// Which screen the display should have found, from PCI and the boot info alone.
fn expected_source() -> Option<&'static str> {
    if pci::functions().iter().any(virtio::is_gpu) {
        return Some("virtio-gpu");
    }
    let fb = crate::boot::info()?.framebuffer?;
    (fb.bpp == 32 && fb.phys != 0 && fb.width >= CELL_WIDTH && fb.height >= CELL_HEIGHT)
        .then_some("framebuffer")
}

fn display_up_exactly_when_a_screen_is_present() -> Result<(), &'static str> {
    match (expected_source(), info()) {
        (None, Err(Errno::ENODEV)) => Ok(()),
        (None, _) => Err("a display without a screen device"),
        (Some(_), Err(_)) => Err("a screen device is present but the display is not up"),
        (Some(want), Ok(i)) if i.source.starts_with(want.as_bytes()) => Ok(()),
        (Some(_), Ok(_)) => Err("the display drives another screen than the one expected"),
    }
}

fn display_geometry_is_whole_cells() -> Result<(), &'static str> {
    let Ok(i) = info() else {
        return Ok(()); // No screen: the check above decides.
    };
    if i.cols == 0 || i.rows == 0 {
        return Err("no text cells");
    }
    if i.width != i.cols * CELL_WIDTH || i.height != i.rows * CELL_HEIGHT {
        return Err("pixel size is not cols x rows cells");
    }
    if i.source.starts_with(b"virtio-gpu") && (i.width, i.height) != (WIDTH, HEIGHT) {
        return Err("virtio-gpu mode is not abi::display::WIDTH x HEIGHT");
    }
    Ok(())
}

fn display_draws_console_text_in_the_font() -> Result<(), &'static str> {
    let Some(g) = GEOMETRY.get() else {
        return Ok(()); // No screen.
    };
    let frames = info().map_or(0, |i| i.frames);
    // A line no other output has (the uptime), with every printable character that fits
    // in one row (a wrapped line would not be one grid row).
    let mut mark = format!("selftest {} ", arch::uptime_ns());
    mark.extend(font::PRINTABLE.filter(|&b| b != b' ').map(char::from));
    mark.truncate(g.cols as usize);
    println!("{mark}");
    let want = CHANGED.load(Ordering::Acquire);
    // The thread draws within a frame or two; allow a slow TCG second or three.
    let deadline = arch::uptime_ns() + 3_000_000_000;
    while DRAWN.load(Ordering::Acquire) < want {
        if arch::uptime_ns() > deadline {
            return Err("the display thread did not draw within 3 s");
        }
        crate::task::sched::sleep_until(arch::uptime_ns() + 10_000_000);
    }
    if info().map_or(0, |i| i.frames) <= frames {
        return Err("no frame was counted for the new line");
    }
    let mut drawer = DRAWER.lock();
    let Drawer { screen, snap, .. } = &mut *drawer;
    let screen = screen.as_mut().ok_or("the screen was given up")?;
    let mut found = false;
    for r in 0..snap.rows() {
        found |= snap.row_text(r) == mark.as_bytes();
        for c in 0..snap.cols() {
            let cell = screen
                .surface
                .read_cell(r, c)
                .ok_or("a pixel is neither colour")?;
            if font::decode(&cell) != Some(snap.row(r)[c]) {
                return Err("a cell on the screen is not the grid's character");
            }
        }
    }
    if !found {
        return Err("the line written is not in the drawn grid");
    }
    Ok(())
}
