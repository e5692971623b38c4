//! The ESP files wayboot reads, from the volume it was itself loaded from.
//!
//! The volume is found through the LoadedImage protocol's device and its
//! SimpleFileSystem. Files are read straight into pages of the memory type the Limine
//! memory map needs for them (see [`crate::mem`]).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use uefi::boot::{self, MemoryType, ScopedProtocol};
use uefi::proto::media::file::{Directory, File, FileAttribute, FileInfo, FileMode};
use uefi::proto::media::fs::SimpleFileSystem;
use uefi::{CStr16, Status};

use crate::mem;

/// The kernel executable.
pub const KERNEL: &CStr16 = uefi::cstr16!("\\wayos\\kernel.elf");
/// The initramfs, handed over as module 0.
pub const INITRAMFS: &CStr16 = uefi::cstr16!("\\wayos\\initramfs.cpio");
/// The optional kernel command line.
pub const CMDLINE: &CStr16 = uefi::cstr16!("\\wayos\\cmdline.txt");

/// Why a file could not be read.
#[derive(Debug)]
pub enum FileError {
    NotFound,
    NotAFile,
    Open(Status),
    Info(Status),
    Read(Status),
    /// The file ended before its recorded size.
    Short {
        got: u64,
        want: u64,
    },
    TooLarge(u64),
    OutOfMemory(Status),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::NotFound => write!(f, "file not found"),
            FileError::NotAFile => write!(f, "is a directory, not a file"),
            FileError::Open(s) => write!(f, "cannot open ({s:?})"),
            FileError::Info(s) => write!(f, "cannot read file size ({s:?})"),
            FileError::Read(s) => write!(f, "read error ({s:?})"),
            FileError::Short { got, want } => {
                write!(f, "short read ({got} of {want} bytes)")
            }
            FileError::TooLarge(n) => write!(f, "file too large ({n} bytes)"),
            FileError::OutOfMemory(s) => write!(f, "not enough memory to load it ({s:?})"),
        }
    }
}

/// A file loaded into physical memory.
#[derive(Clone, Copy, Debug)]
pub struct Loaded {
    /// Physical address (page aligned).
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
}

impl Loaded {
    /// The file's bytes.
    pub fn bytes(&self) -> &'static [u8] {
        // SAFETY: `addr..addr + size` is a page allocation made by `Volume::load` that
        // holds the file; wayboot never writes to it again.
        unsafe { core::slice::from_raw_parts(self.addr as *const u8, self.size as usize) }
    }
}

/// The boot volume's root directory.
pub struct Volume {
    root: Directory,
    // Keeps the protocol open while the directory is used.
    _fs: ScopedProtocol<SimpleFileSystem>,
}

impl Volume {
    /// Opens the file system wayboot was loaded from.
    pub fn open() -> Result<Self, String> {
        let mut fs = boot::get_image_file_system(boot::image_handle())
            .map_err(|e| alloc::format!("cannot open the boot volume ({:?})", e.status()))?;
        let root = fs
            .open_volume()
            .map_err(|e| alloc::format!("cannot open the boot volume's root ({:?})", e.status()))?;
        Ok(Volume { root, _fs: fs })
    }

    fn open_file(
        &mut self,
        path: &CStr16,
    ) -> Result<uefi::proto::media::file::RegularFile, FileError> {
        let handle = self
            .root
            .open(path, FileMode::Read, FileAttribute::empty())
            .map_err(|e| match e.status() {
                Status::NOT_FOUND => FileError::NotFound,
                s => FileError::Open(s),
            })?;
        handle.into_regular_file().ok_or(FileError::NotAFile)
    }

    /// Reads a whole file into fresh zeroed pages of type `ty` (at least one page, so
    /// even an empty file has an address).
    pub fn load(&mut self, path: &CStr16, ty: MemoryType) -> Result<Loaded, FileError> {
        let mut file = self.open_file(path)?;
        let info = file
            .get_boxed_info::<FileInfo>()
            .map_err(|e| FileError::Info(e.status()))?;
        let size = info.file_size();
        let len = usize::try_from(size).map_err(|_| FileError::TooLarge(size))?;
        let addr = mem::alloc_zeroed(ty, size, mem::PAGE).map_err(FileError::OutOfMemory)?;
        // SAFETY: `addr` is a fresh allocation of at least `len` bytes.
        let buf = unsafe { mem::bytes_mut(addr, len) };
        read_all(&mut file, buf)?;
        Ok(Loaded { addr, size })
    }

    /// Reads a small file into the heap; `Ok(None)` if it does not exist.
    pub fn read_optional(&mut self, path: &CStr16) -> Result<Option<Vec<u8>>, FileError> {
        let mut file = match self.open_file(path) {
            Ok(f) => f,
            Err(FileError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let info = file
            .get_boxed_info::<FileInfo>()
            .map_err(|e| FileError::Info(e.status()))?;
        let size = info.file_size();
        if size > 64 * 1024 {
            return Err(FileError::TooLarge(size));
        }
        let mut buf = vec![0u8; size as usize];
        read_all(&mut file, &mut buf)?;
        Ok(Some(buf))
    }
}

fn read_all(
    file: &mut uefi::proto::media::file::RegularFile,
    buf: &mut [u8],
) -> Result<(), FileError> {
    let want = buf.len();
    let mut done = 0;
    while done < want {
        // Read in bounded pieces: some firmware file systems mishandle huge reads.
        let end = want.min(done + 16 * 1024 * 1024);
        let n = file
            .read(&mut buf[done..end])
            .map_err(|e| FileError::Read(e.status()))?;
        if n == 0 {
            return Err(FileError::Short {
                got: done as u64,
                want: want as u64,
            });
        }
        done += n;
    }
    Ok(())
}
