//! The screen console's font: `font8x8`'s basic Latin glyphs (8x8 pixels) drawn with
//! every row doubled, which fills a cell of `wayos_abi::display::CELL_WIDTH` x
//! `CELL_HEIGHT` (8x16) pixels. The kernel draws with [`glyph`]; the harness decodes a
//! screendump's cells back to text with [`decode`], so both use exactly the same bits.
//!
//! A glyph row is a byte whose bit `x` (least significant first) is pixel column `x`.

use wayos_abi::display::{CELL_HEIGHT, CELL_WIDTH};

/// A cell's rows of pixels.
pub type Glyph = [u8; CELL_HEIGHT as usize];

const _: () = assert!(CELL_WIDTH == 8 && CELL_HEIGHT == 16, "the font is 8x16");

/// The printable ASCII characters the font draws (space to tilde).
pub const PRINTABLE: core::ops::RangeInclusive<u8> = 0x20..=0x7e;

/// The cell pixels of character `ch`; characters outside [`PRINTABLE`] are drawn as
/// [`crate::textgrid::REPLACEMENT`].
pub fn glyph(ch: u8) -> Glyph {
    let ch = if PRINTABLE.contains(&ch) {
        ch
    } else {
        crate::textgrid::REPLACEMENT
    };
    let small = font8x8::legacy::BASIC_LEGACY[usize::from(ch)];
    let mut g = [0u8; CELL_HEIGHT as usize];
    for (y, row) in g.iter_mut().enumerate() {
        *row = small[y / 2];
    }
    g
}

/// The character whose glyph is exactly `cell`, or whose inverse is (the cursor's cell is
/// drawn inverted). `None` when no printable character matches.
pub fn decode(cell: &Glyph) -> Option<u8> {
    let inverted = cell.map(|r| !r);
    PRINTABLE
        .clone()
        .find(|&ch| glyph(ch) == *cell)
        .or_else(|| PRINTABLE.clone().find(|&ch| glyph(ch) == inverted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_printable_glyph_is_distinct_and_decodes() {
        for a in PRINTABLE {
            assert_eq!(decode(&glyph(a)), Some(a), "{:?}", a as char);
            assert_eq!(
                decode(&glyph(a).map(|r| !r)),
                Some(a),
                "inverse {:?}",
                a as char
            );
            if a != b' ' {
                assert_ne!(glyph(a), [0; 16], "{:?} is blank", a as char);
            }
        }
    }

    #[test]
    fn rows_are_doubled_and_unprintables_are_replaced() {
        let a = glyph(b'A');
        for y in 0..8 {
            assert_eq!(a[2 * y], a[2 * y + 1]);
        }
        assert_eq!(glyph(0x01), glyph(b'?'));
        assert_eq!(glyph(0xff), glyph(b'?'));
        let mut odd = glyph(b'A');
        odd[3] ^= 0x10;
        assert_eq!(decode(&odd), None);
    }
}
