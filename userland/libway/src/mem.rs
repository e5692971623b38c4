//! Virtual memory: `mmap`, `munmap`, `mprotect` (anonymous memory only, as the kernel
//! offers today).
//!
//! A mapping the kernel places itself (no `MAP_FIXED`) cannot overlap anything the
//! program uses, so [`mmap`] is safe; replacing, unmapping or re-protecting existing
//! memory can pull it out from under live references, so those calls are `unsafe`.

use wayos_abi::mman::{MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE};
use wayos_abi::sys;

use crate::errno::Errno;

/// `mmap(hint, len, prot, flags, -1, 0)` for flags without `MAP_FIXED`; returns the address.
///
/// `MAP_FIXED` is refused with `EINVAL` here (use [`mmap_fixed`]); `MAP_FIXED_NOREPLACE`
/// is fine, it never replaces anything.
pub fn mmap(hint: usize, len: usize, prot: usize, flags: usize) -> Result<usize, Errno> {
    if flags & MAP_FIXED != 0 {
        return Err(Errno(wayos_abi::errno::EINVAL));
    }
    // SAFETY: without MAP_FIXED the kernel only ever hands out unused address space, so
    // no existing object is affected.
    unsafe { crate::sys::call(sys::MMAP, [hint, len, prot, flags, usize::MAX, 0]) }
}

/// A new private (or, with `shared`, `MAP_SHARED`) anonymous read-write mapping.
pub fn map_anonymous(len: usize, shared: bool) -> Result<usize, Errno> {
    let kind = if shared { MAP_SHARED } else { MAP_PRIVATE };
    mmap(0, len, PROT_READ | PROT_WRITE, kind | MAP_ANONYMOUS)
}

/// `mmap(addr, len, prot, flags | MAP_FIXED, -1, 0)`: replaces whatever was at `addr`.
///
/// # Safety
///
/// Nothing the program still uses may live in `[addr, addr + len)`.
pub unsafe fn mmap_fixed(
    addr: usize,
    len: usize,
    prot: usize,
    flags: usize,
) -> Result<usize, Errno> {
    // SAFETY: the caller guarantees the range holds nothing in use.
    unsafe {
        crate::sys::call(
            sys::MMAP,
            [addr, len, prot, flags | MAP_FIXED, usize::MAX, 0],
        )
    }
}

/// `munmap(addr, len)`.
///
/// # Safety
///
/// Nothing the program still uses may live in `[addr, addr + len)`.
pub unsafe fn munmap(addr: usize, len: usize) -> Result<(), Errno> {
    // SAFETY: the caller guarantees the range holds nothing in use.
    unsafe { crate::sys::call(sys::MUNMAP, [addr, len, 0, 0, 0, 0]) }.map(drop)
}

/// `mprotect(addr, len, prot)`.
///
/// # Safety
///
/// No live reference may point into the range in a way the new protection forbids (a
/// `&mut` into memory made read-only, anything into memory made `PROT_NONE`), unless the
/// program means to fault on it.
pub unsafe fn mprotect(addr: usize, len: usize, prot: usize) -> Result<(), Errno> {
    // SAFETY: the caller guarantees the new protection breaks no live reference.
    unsafe { crate::sys::call(sys::MPROTECT, [addr, len, prot, 0, 0, 0]) }.map(drop)
}
