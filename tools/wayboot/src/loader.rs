//! Loading the kernel ELF: validation, physical placement and segment copy.
//!
//! The file is validated by `wayos_kcore::elf` for x86_64 before anything is allocated.
//! Like Limine, wayboot then places the whole image (lowest to highest `PT_LOAD` address)
//! in one physically contiguous block, aligned to the largest segment alignment, so that
//! `physical = physical_base + (virtual - virtual_base)` holds for every segment.

use alloc::vec::Vec;
use core::fmt;
use uefi::Status;
use wayos_kcore::elf::{self, Elf};

use crate::mem::{self, PAGE};

/// Lowest address the Limine protocol allows a kernel to be linked at.
pub const KERNEL_FLOOR: u64 = 0xffff_ffff_8000_0000;
/// Largest physical alignment honoured (larger `p_align` values are clamped).
const MAX_PHYS_ALIGN: u64 = 2 * 1024 * 1024;

/// Why the kernel could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    Elf(elf::Error),
    LowerHalf {
        index: usize,
        vaddr: u64,
    },
    /// A segment reaches into the last page of the address space.
    TopOfMemory {
        index: usize,
    },
    OutOfMemory {
        bytes: u64,
        status: Status,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Elf(e) => write!(f, "{e}"),
            LoadError::LowerHalf { index, vaddr } => write!(
                f,
                "segment {index} is linked at {vaddr:#x}, below {KERNEL_FLOOR:#x} (the Limine protocol needs a higher-half kernel)"
            ),
            LoadError::TopOfMemory { index } => {
                write!(f, "segment {index} reaches the last page of the address space")
            }
            LoadError::OutOfMemory { bytes, status } => {
                write!(f, "cannot allocate {bytes} bytes for the image ({status:?})")
            }
        }
    }
}

/// One loaded segment, page-granular in virtual memory.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub writable: bool,
    pub executable: bool,
}

/// The kernel as placed in memory.
pub struct Kernel {
    /// Physical address of `virt_base`.
    pub phys_base: u64,
    /// Lowest loaded virtual address, page aligned.
    pub virt_base: u64,
    /// Bytes from `virt_base` to the end of the highest segment, page aligned.
    pub size: u64,
    /// Bytes from `virt_base` to the end of the last file-backed byte (where requests
    /// can be; `.bss` is all zero).
    pub size_before_bss: u64,
    pub entry: u64,
    pub segments: Vec<Segment>,
}

impl Kernel {
    /// The loaded image, writable (requests get their response pointers here).
    pub fn image_mut(&mut self) -> &'static mut [u8] {
        // SAFETY: `phys_base..phys_base + size` is the allocation made by `load`, owned
        // by the kernel image; wayboot holds no other reference into it.
        unsafe { mem::bytes_mut(self.phys_base, self.size as usize) }
    }

    /// Physical address of a kernel virtual address inside the image.
    pub fn phys_of(&self, vaddr: u64) -> Option<u64> {
        let off = vaddr.checked_sub(self.virt_base)?;
        (off < self.size).then_some(self.phys_base + off)
    }
}

/// Validates `file` and loads it.
pub fn load(file: &[u8]) -> Result<Kernel, LoadError> {
    let elf = Elf::parse(file, elf::EM_X86_64).map_err(LoadError::Elf)?;
    check(&elf)?;
    let (lo, hi) = elf.load_bounds();
    let virt_base = mem::align_down(lo, PAGE);
    // `check` keeps `hi` below the last page, so rounding up cannot overflow.
    let end = mem::align_up(hi, PAGE).unwrap_or(!(PAGE - 1));
    let size = end - virt_base;
    let align = elf.max_align().clamp(PAGE, MAX_PHYS_ALIGN);
    let phys_base = mem::alloc_zeroed(mem::KERNEL_AND_MODULES, size, align).map_err(|status| {
        LoadError::OutOfMemory {
            bytes: size,
            status,
        }
    })?;

    let mut kernel = Kernel {
        phys_base,
        virt_base,
        size,
        size_before_bss: 0,
        entry: elf.entry(),
        segments: Vec::new(),
    };
    let image = kernel.image_mut();
    let mut before_bss = 0;
    for seg in elf.load_segments().filter(|s| s.memsz > 0) {
        let off = (seg.vaddr - virt_base) as usize;
        let data = elf.segment_data(&seg);
        image[off..off + data.len()].copy_from_slice(data);
        before_bss = before_bss.max(seg.vaddr - virt_base + seg.filesz);
        kernel.segments.push(Segment {
            vaddr: seg.vaddr,
            memsz: seg.memsz,
            writable: seg.writable(),
            executable: seg.executable(),
        });
    }
    kernel.size_before_bss = before_bss;
    Ok(kernel)
}

/// Loader-specific checks on top of the generic validation.
fn check(elf: &Elf<'_>) -> Result<(), LoadError> {
    for seg in elf.load_segments().filter(|s| s.memsz > 0) {
        if seg.vaddr < KERNEL_FLOOR {
            return Err(LoadError::LowerHalf {
                index: seg.index,
                vaddr: seg.vaddr,
            });
        }
        if seg.vaddr_end() > u64::MAX - PAGE {
            return Err(LoadError::TopOfMemory { index: seg.index });
        }
    }
    Ok(())
}
