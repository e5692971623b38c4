//! Files. Until the VFS arrives (issue 5) programs and data are read straight from the
//! initramfs, which stays mapped for the life of the kernel.

use spin::Once;
use wayos_kcore::cpio;

use crate::error::{Errno, KResult};

static INITRAMFS: Once<&'static [u8]> = Once::new();

pub fn init(initramfs: &'static [u8]) {
    INITRAMFS.call_once(|| initramfs);
}

/// The contents of the regular file at `path` (absolute, e.g. `/bin/init`).
pub fn read_file(path: &str) -> KResult<&'static [u8]> {
    let archive = INITRAMFS.get().copied().unwrap_or(&[]);
    match cpio::find(archive, path) {
        Ok(Some(entry)) => Ok(entry.data),
        Ok(None) => Err(Errno::ENOENT),
        Err(e) => {
            log::warn!("initramfs: {e}");
            Err(Errno::EIO)
        }
    }
}
