//! `mount`, `umount` and `df`'s pure logic: device names, `df`'s columns and rounding
//! (GNU's), the `mount` listing line.

use alloc::format;
use alloc::string::String;

use crate::num::human_size;

/// The block device a `mount` operand names: `blk0`, `/dev/blk0`, or a bare number.
pub fn parse_device(s: &str) -> Option<usize> {
    let s = s.strip_prefix("/dev/").unwrap_or(s);
    let n = s.strip_prefix("blk").unwrap_or(s);
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// One line of `mount`'s listing, as GNU's: `blk0 on /disk type vfat (rw)`.
pub fn mount_line(source: &str, path: &str, fstype: &str, readonly: bool) -> String {
    let mode = if readonly { "ro" } else { "rw" };
    format!("{source} on {path} type {fstype} ({mode})")
}

/// `df`'s Use%: used / (used + available), rounded up, as GNU's; `-` when both are 0.
pub fn use_percent(used: u64, avail: u64) -> String {
    let total = used as u128 + avail as u128;
    if total == 0 {
        return String::from("-");
    }
    let pct = (used as u128 * 100).div_ceil(total);
    format!("{pct}%")
}

/// The sizes of one `df` row from `statfs` numbers: (size, used, available) in bytes.
pub fn df_bytes(bsize: u64, blocks: u64, bfree: u64) -> (u64, u64, u64) {
    let size = blocks.saturating_mul(bsize);
    let avail = bfree.min(blocks).saturating_mul(bsize);
    (size, size - avail, avail)
}

/// A size column: 1K-blocks rounded up (GNU), or `-h`'s human form.
pub fn df_size(bytes: u64, human: bool) -> String {
    if human {
        human_size(bytes)
    } else {
        format!("{}", bytes.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices() {
        assert_eq!(parse_device("blk0"), Some(0));
        assert_eq!(parse_device("/dev/blk12"), Some(12));
        assert_eq!(parse_device("3"), Some(3));
        assert_eq!(parse_device("blk"), None);
        assert_eq!(parse_device("sda"), None);
        assert_eq!(parse_device("blk-1"), None);
    }

    #[test]
    fn lines_and_columns() {
        assert_eq!(
            mount_line("blk0", "/disk", "vfat", false),
            "blk0 on /disk type vfat (rw)"
        );
        assert_eq!(
            mount_line("tmpfs", "/", "tmpfs", true),
            "tmpfs on / type tmpfs (ro)"
        );
        assert_eq!(use_percent(0, 0), "-");
        assert_eq!(use_percent(1, 999), "1%");
        assert_eq!(use_percent(50, 50), "50%");
        assert_eq!(use_percent(10, 0), "100%");
        assert_eq!(df_bytes(512, 100, 30), (51200, 35840, 15360));
        assert_eq!(df_size(1025, false), "2");
        assert_eq!(df_size(64 << 20, true), "64M");
    }
}
