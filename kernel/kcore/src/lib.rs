//! Kernel logic that does not touch hardware, so it builds and is unit-tested on the host.
//!
//! The kernel, `tools/wayboot`, the host tools and the console server (for [`ldisc`]) link
//! this crate. Nothing here may use
//! `unsafe` (`forbid`, so no module can opt back in) to reach hardware, allocate, or name
//! an instruction set: arch code turns firmware data into the plain types defined here and
//! hands them over.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(test)]
extern crate std;

#[cfg(feature = "alloc")]
pub mod aigraph;
#[cfg(feature = "alloc")]
pub mod bcache;
pub mod boot_info;
pub mod buddy;
pub mod cmdline;
pub mod cpio;
pub mod date;
pub mod elf;
#[cfg(feature = "alloc")]
pub mod fdtable;
pub mod font;
#[cfg(feature = "alloc")]
pub mod fs;
#[cfg(feature = "alloc")]
pub mod grant;
#[cfg(feature = "alloc")]
pub mod ipc;
#[cfg(feature = "alloc")]
pub mod jobqueue;
#[cfg(feature = "alloc")]
pub mod ldisc;
pub mod logring;
pub mod memtier;
pub mod memtopo;
pub mod paging;
pub mod pci;
pub mod placement;
pub mod symtab;
pub mod tensor;
pub mod textgrid;
pub mod umem;
#[cfg(feature = "alloc")]
pub mod vma;
#[cfg(feature = "alloc")]
pub mod waymodel;
