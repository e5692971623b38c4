//! FAT12/16/32 volumes on a disk, through the `lamfat` crate: validation at mount
//! ([`check`]), the byte stream and clock `lamfat` uses ([`disk`]), and the POSIX-shaped
//! operations and open-file table of a mounted volume ([`vol`]).
//!
//! Nothing here sleeps or locks: the kernel runs a volume under its own sleeping lock
//! (block I/O waits for interrupts), outside the VFS lock. Everything is tested on the
//! host with images in memory, including corrupted ones (`tests`).

pub mod check;
pub mod disk;
pub mod vol;

#[cfg(test)]
mod tests;

pub use check::{CheckError, FatKind, Geometry};
pub use disk::{Clock, Disk, IoErr, IoHandle};
pub use vol::{mount, DirRecord, Fs, NodeId, Opened, Volume};

/// The crate underneath, for the kernel's uses beyond this module (none outside tests
/// and bring-up).
pub use lamfat;
