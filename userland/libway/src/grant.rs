//! Bulk data by granting pages: no copy, bounded by the granter's rights.
//!
//! - [`SharedBuf`] is a page-aligned `MAP_SHARED` mapping owned by this program (unmapped
//!   on drop): either fresh anonymous memory ([`SharedBuf::new`]) or a received memory
//!   object mapped with [`MemHandle::map`].
//! - [`SharedBuf::grant`] (`mem_grant`) makes a [`MemHandle`] for its pages with a subset
//!   of `RIGHT_READ | RIGHT_WRITE | RIGHT_GRANT` (write only where the buffer is writable).
//!   The handle travels in a message like a port handle ([`MemHandle::attach`],
//!   [`MemHandle::take`]; sending it needs `RIGHT_GRANT`) and narrows with
//!   [`MemHandle::dup`].
//! - The receiver's [`MemHandle::map`] (`mem_map`) maps the same physical pages: each side
//!   sees the other's writes. The pages live while any handle or mapping refers to them, so
//!   the granter may unmap its buffer once the handle is sent.
//!
//! Both sides can change the pages at any time, so the safe accessors treat the memory as
//! shared: [`SharedBuf::bytes`] is a slice of `AtomicU8`, and [`SharedBuf::read_at`] /
//! [`SharedBuf::write_at`] copy through it. [`SharedBuf::as_slice`] and
//! [`SharedBuf::as_mut_slice`] give plain slices, `unsafe` because only the protocol can
//! promise that no other process writes the pages while the slice lives (for example: the
//! client is blocked in a call while the server works on the buffer).
//!
//! Semantics and errors: `docs/ipc.md`, "Page grants".

use core::sync::atomic::{AtomicU8, Ordering};

use wayos_abi::errno::{EACCES, EINVAL};
use wayos_abi::ipc::{Message, NO_HANDLE};
pub use wayos_abi::ipc::{MEM_RIGHTS_ALL, RIGHT_GRANT, RIGHT_READ, RIGHT_WRITE};
use wayos_abi::mman::{MAP_ANONYMOUS, MAP_SHARED, PAGE_SIZE, PROT_READ, PROT_WRITE};
use wayos_abi::sys;

use crate::errno::Errno;
use crate::ipc::{close_raw, handle_from};
use crate::sys::MemFree;

/// A page-aligned `MAP_SHARED` mapping of this program, unmapped when dropped.
#[derive(Debug)]
pub struct SharedBuf {
    addr: usize,
    len: usize,
    writable: bool,
}

impl SharedBuf {
    /// A new zero-filled, read-write, shared anonymous mapping of `len` bytes rounded up to
    /// whole pages. `EINVAL` for 0.
    pub fn new(len: usize) -> Result<SharedBuf, Errno> {
        if len == 0 {
            return Err(Errno(EINVAL));
        }
        let len = len
            .checked_next_multiple_of(PAGE_SIZE)
            .ok_or(Errno(EINVAL))?;
        let addr = crate::mem::mmap(0, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS)?;
        Ok(SharedBuf {
            addr,
            len,
            writable: true,
        })
    }

    /// Takes over a `MAP_SHARED` mapping another libway call made (`tensor_map`): `len`
    /// bytes, whole pages, at `addr`, unmapped when the buffer is dropped.
    pub(crate) const fn adopt(addr: usize, len: usize, writable: bool) -> SharedBuf {
        SharedBuf {
            addr,
            len,
            writable,
        }
    }

    /// The first address.
    pub const fn addr(&self) -> usize {
        self.addr
    }

    /// Bytes mapped (a whole number of pages).
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Never true: a mapping has at least one page.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether this side may write (a fresh buffer, or a grant mapped writable).
    pub const fn is_writable(&self) -> bool {
        self.writable
    }

    /// The memory as bytes that other processes may change at any time. Storing through
    /// it when the buffer is not [writable](SharedBuf::is_writable) faults (`SIGSEGV`).
    pub fn bytes(&self) -> &[AtomicU8] {
        // SAFETY: `[addr, addr + len)` is mapped readable for the life of `self` (only
        // `drop` unmaps it); `AtomicU8` has the layout of `u8`, and atomics are the one way
        // Rust allows memory to change under a shared reference.
        unsafe { core::slice::from_raw_parts(self.addr as *const AtomicU8, self.len) }
    }

    /// Copies `out.len()` bytes from `offset` into `out`; `EINVAL` if that passes the end.
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> Result<(), Errno> {
        let src = self.range(offset, out.len())?;
        for (o, b) in out.iter_mut().zip(src) {
            *o = b.load(Ordering::Relaxed);
        }
        Ok(())
    }

    /// Copies `data` to `offset`; `EINVAL` if that passes the end, `EACCES` if the buffer
    /// is not writable.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), Errno> {
        if !self.writable {
            return Err(Errno(EACCES));
        }
        let dst = self.range(offset, data.len())?;
        for (d, &b) in dst.iter().zip(data) {
            d.store(b, Ordering::Relaxed);
        }
        Ok(())
    }

    fn range(&self, offset: usize, len: usize) -> Result<&[AtomicU8], Errno> {
        let end = offset.checked_add(len).ok_or(Errno(EINVAL))?;
        self.bytes().get(offset..end).ok_or(Errno(EINVAL))
    }

    /// The memory as a plain byte slice.
    ///
    /// # Safety
    ///
    /// No other process (or thread) may write these pages while the slice lives.
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: mapped readable for the life of `self`; the caller rules out writers.
        unsafe { core::slice::from_raw_parts(self.addr as *const u8, self.len) }
    }

    /// The memory as a plain mutable byte slice; `None` if the buffer is not writable.
    ///
    /// # Safety
    ///
    /// No other process (or thread) may read or write these pages while the slice lives.
    pub unsafe fn as_mut_slice(&mut self) -> Option<&mut [u8]> {
        if !self.writable {
            return None;
        }
        // SAFETY: mapped read-write for the life of `self`, borrowed mutably; the caller
        // rules out other accessors.
        Some(unsafe { core::slice::from_raw_parts_mut(self.addr as *mut u8, self.len) })
    }

    /// `mem_grant` of the whole buffer with `rights`; see [`SharedBuf::grant_range`].
    pub fn grant(&self, rights: u32) -> Result<MemHandle, Errno> {
        self.grant_range(0, self.len, rights)
    }

    /// `mem_grant(addr + offset, len, rights)`: a handle to those pages (`offset` and `len`
    /// page aligned). Errors: `EINVAL` for bad rights or a range outside the buffer,
    /// `EACCES` for `RIGHT_WRITE` on a read-only buffer (`RIGHT_READ` on a `PROT_NONE` one).
    pub fn grant_range(&self, offset: usize, len: usize, rights: u32) -> Result<MemHandle, Errno> {
        let end = offset.checked_add(len).ok_or(Errno(EINVAL))?;
        if end > self.len {
            return Err(Errno(EINVAL));
        }
        // SAFETY: no memory is read or written; the range is this buffer's.
        let raw = unsafe {
            crate::sys::call(
                sys::MEM_GRANT,
                [self.addr + offset, len, rights as usize, 0, 0, 0],
            )
        }?;
        Ok(MemHandle {
            handle: handle_from(raw)?,
        })
    }
}

impl Drop for SharedBuf {
    fn drop(&mut self) {
        // SAFETY: the mapping is this buffer's own, and every borrow of it has ended.
        let _ = unsafe { crate::mem::munmap(self.addr, self.len) };
    }
}

/// One memory-object handle of this process (from [`SharedBuf::grant`] or a message).
/// Closed when dropped; mappings made from it stay.
#[derive(Debug, PartialEq, Eq)]
pub struct MemHandle {
    handle: u32,
}

impl MemHandle {
    /// Takes ownership of a raw handle.
    pub const fn from_raw(handle: u32) -> MemHandle {
        MemHandle { handle }
    }

    /// The handle number, still owned by `self`.
    pub const fn raw(&self) -> u32 {
        self.handle
    }

    /// Gives up ownership without closing.
    pub fn into_raw(self) -> u32 {
        let h = self.handle;
        core::mem::forget(self);
        h
    }

    /// `mem_map(handle, prot)`: maps the whole object, readable, and writable if
    /// `writable`. `EACCES` when the handle lacks `RIGHT_READ` (or `RIGHT_WRITE`), `EINVAL`
    /// when it is not a memory handle, `ENOMEM` when there is no room.
    pub fn map(&self, writable: bool) -> Result<SharedBuf, Errno> {
        let prot = if writable {
            PROT_READ | PROT_WRITE
        } else {
            PROT_READ
        };
        let mut size = 0u64;
        // SAFETY: the kernel picks an unused address range (nothing existing changes) and
        // writes one `u64` into `size`, borrowed for the call.
        let addr = unsafe {
            crate::sys::call(
                sys::MEM_MAP,
                [
                    self.handle as usize,
                    prot,
                    crate::sys::arg_out(&mut size),
                    0,
                    0,
                    0,
                ],
            )
        }?;
        Ok(SharedBuf {
            addr,
            len: size as usize,
            writable,
        })
    }

    /// `handle_dup(handle, rights)`: a second handle with a subset of the rights; needs
    /// `RIGHT_GRANT`.
    pub fn dup(&self, rights: u32) -> Result<MemHandle, Errno> {
        let raw = crate::sys::call2(MemFree::HANDLE_DUP, self.handle as usize, rights as usize)?;
        Ok(MemHandle {
            handle: handle_from(raw)?,
        })
    }

    /// Puts the handle into the first free slot of `msg` (it leaves this process when the
    /// message is sent); gives it back if every slot is taken.
    pub fn attach(self, msg: &mut Message) -> Result<usize, MemHandle> {
        match msg.handles.iter().position(|&h| h == NO_HANDLE) {
            Some(i) => {
                msg.handles[i] = self.into_raw();
                Ok(i)
            }
            None => Err(self),
        }
    }

    /// Takes the handle in slot `i` of a received message (leaving `NO_HANDLE`).
    pub fn take(msg: &mut Message, i: usize) -> Option<MemHandle> {
        let slot = msg.handles.get_mut(i)?;
        let h = core::mem::replace(slot, NO_HANDLE);
        (h != NO_HANDLE).then_some(MemHandle::from_raw(h))
    }

    /// Closes the handle now, reporting the error drop would ignore.
    pub fn close(self) -> Result<(), Errno> {
        close_raw(self.into_raw())
    }
}

impl Drop for MemHandle {
    fn drop(&mut self) {
        let _ = close_raw(self.handle);
    }
}
