//! A linear 32-bit pixel buffer and the text drawing on it: one glyph cell, and moving
//! text rows up. The buffer is either virtio-gpu's backing memory (RAM the device copies
//! from on a flush) or the loader's framebuffer (device memory, shown as written).
//!
//! Must never: touch memory outside `height` rows of `stride` pixels from `base` (every
//! draw is clipped to the whole cells that fit).

use core::ptr::NonNull;

use wayos_abi::display::{BG, CELL_HEIGHT, CELL_WIDTH, FG};
use wayos_kcore::font;
use wayos_kcore::textgrid::Draw;

const CW: usize = CELL_WIDTH as usize;
const CH: usize = CELL_HEIGHT as usize;

/// How a pixel's colour is stored in its 32 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    pub red_shift: u8,
    pub green_shift: u8,
    pub blue_shift: u8,
    /// Bits always set (an alpha channel that must be opaque).
    pub opaque: u32,
}

impl Format {
    /// `0x00RRGGBB` in a little-endian word: the usual GOP mode.
    pub const XRGB: Format = Format {
        red_shift: 16,
        green_shift: 8,
        blue_shift: 0,
        opaque: 0,
    };
    /// `0xffRRGGBB`: virtio-gpu's B8G8R8A8 (the format `virtio-drivers` creates), opaque.
    pub const ARGB: Format = Format {
        opaque: 0xff00_0000,
        ..Format::XRGB
    };

    /// The stored value of colour `rgb` (`0x00RRGGBB`).
    fn pixel(&self, rgb: u32) -> u32 {
        let (r, g, b) = ((rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff);
        (r << self.red_shift) | (g << self.green_shift) | (b << self.blue_shift) | self.opaque
    }
}

/// A pixel buffer the display owns.
pub struct Surface {
    base: NonNull<u32>,
    /// Pixels.
    width: usize,
    height: usize,
    /// Pixels from one row's start to the next's.
    stride: usize,
    fg: u32,
    bg: u32,
}

// SAFETY: the buffer belongs to the display alone (see `Surface::new`'s contract) and
// is reached only through `&mut Surface`, so moving the owner between threads is sound.
unsafe impl Send for Surface {}

impl Surface {
    /// # Safety
    /// `base` points to `stride * height` pixels of memory that stays mapped, writable
    /// and used by nothing else for as long as the surface lives; `width <= stride`.
    pub unsafe fn new(
        base: NonNull<u32>,
        width: usize,
        height: usize,
        stride: usize,
        format: Format,
    ) -> Self {
        Self {
            base,
            width: width.min(stride),
            height,
            stride,
            fg: format.pixel(FG),
            bg: format.pixel(BG),
        }
    }

    /// Text columns and rows that fit.
    pub fn cells(&self) -> (usize, usize) {
        (self.width / CW, self.height / CH)
    }

    fn pixels(&mut self) -> &mut [u32] {
        // SAFETY: `new`'s contract: `stride * height` pixels at `base`, ours alone while
        // `self` lives; `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.base.as_ptr(), self.stride * self.height) }
    }

    /// Paints the whole buffer the background colour.
    pub fn clear(&mut self) {
        let bg = self.bg;
        self.pixels().fill(bg);
    }

    /// Carries out one step of `textgrid::Shadow::update`.
    pub fn draw(&mut self, d: Draw) {
        let (cols, rows) = self.cells();
        match d {
            Draw::ScrollUp { lines } if lines < rows => {
                let (stride, text_px) = (self.stride, rows * CH);
                let from = lines * CH * stride;
                self.pixels().copy_within(from..text_px * stride, 0);
            }
            Draw::ScrollUp { .. } => {}
            Draw::Cell {
                row,
                col,
                ch,
                inverse,
            } if row < rows && col < cols => {
                let (fg, bg) = if inverse {
                    (self.bg, self.fg)
                } else {
                    (self.fg, self.bg)
                };
                let stride = self.stride;
                let glyph = font::glyph(ch);
                let px = self.pixels();
                for (y, bits) in glyph.iter().enumerate() {
                    let at = (row * CH + y) * stride + col * CW;
                    for (x, p) in px[at..at + CW].iter_mut().enumerate() {
                        *p = if bits & (1 << x) != 0 { fg } else { bg };
                    }
                }
            }
            Draw::Cell { .. } => {}
        }
    }

    /// Reads cell (row, col) back as glyph bits (1 = foreground); `None` when a pixel is
    /// neither colour or the cell is off the screen. For the boot checks.
    pub fn read_cell(&mut self, row: usize, col: usize) -> Option<font::Glyph> {
        let (cols, rows) = self.cells();
        if row >= rows || col >= cols {
            return None;
        }
        let (fg, bg, stride) = (self.fg, self.bg, self.stride);
        let px = self.pixels();
        let mut g = [0u8; CH];
        for (y, bits) in g.iter_mut().enumerate() {
            let at = (row * CH + y) * stride + col * CW;
            for (x, &p) in px[at..at + CW].iter().enumerate() {
                match p {
                    _ if p == fg => *bits |= 1 << x,
                    _ if p == bg => {}
                    _ => return None,
                }
            }
        }
        Some(g)
    }
}
