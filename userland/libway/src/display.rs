//! The screen console's size and frame count: `stats(KIND_DISPLAY)`
//! (`wayos_abi::sys::STATS`, one `wayos_abi::stats::DisplayInfo`).

pub use wayos_abi::stats::DisplayInfo;
use wayos_abi::stats::KIND_DISPLAY;
use wayos_abi::sys;

use crate::errno::Errno;

/// The screen's geometry, source and frames drawn so far; `ENODEV` without a screen.
pub fn info() -> Result<DisplayInfo, Errno> {
    let mut rec = [DisplayInfo::default()];
    // SAFETY: the kernel writes at most one whole record (the length given) into `rec`,
    // borrowed mutably for the call; `DisplayInfo` is plain data.
    let total = unsafe {
        crate::sys::call(
            sys::STATS,
            [
                KIND_DISPLAY as usize,
                crate::sys::arg_out_slice(&mut rec),
                core::mem::size_of_val(&rec),
                0,
                0,
                0,
            ],
        )
    }?;
    if total == 0 {
        return Err(Errno(wayos_abi::errno::ENODEV));
    }
    Ok(rec[0])
}

/// The `source` field as text (`virtio-gpu` or `framebuffer`).
pub fn source(d: &DisplayInfo) -> &str {
    let n = d
        .source
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(d.source.len());
    core::str::from_utf8(&d.source[..n]).unwrap_or("?")
}
