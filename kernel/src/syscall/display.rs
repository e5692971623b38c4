//! `stats(KIND_DISPLAY, ...)`: the screen console's one record (`crate::display::info`).
//!
//! The screen helper's stand-in for the `stats` family's display arm: the merge wires
//! `KIND_DISPLAY` of the full `stats` syscall to [`stats_display`] (or to
//! `crate::display::info` directly) and drops the dispatch arm that calls it here.
#![deny(unsafe_code)]

use wayos_abi::stats::DisplayInfo;

use crate::error::KResult;
use crate::umem::{UserArray, WriteOnly};

/// Writes the [`DisplayInfo`] if `len` bytes hold one; returns the number of records
/// there are (1). `ENODEV` without a screen.
pub fn stats_display(buf: usize, len: usize) -> KResult<usize> {
    let info = crate::display::info()?;
    let take = (len / core::mem::size_of::<DisplayInfo>()).min(1);
    // Only the record written must lie in the caller's memory.
    let out = UserArray::<DisplayInfo, WriteOnly>::new(buf, take)?;
    out.write_from(&[info][..take])?;
    Ok(1)
}
