//! Typed user memory: the only way the kernel reads or writes a user address.
//!
//! A syscall turns each address register into one of these types once, at the point its
//! errno order puts `EFAULT`, and passes only the typed value on:
//!
//! - [`UserPtr<T, A>`]: one `T` ([`Plain`]: an ABI structure or integer) at a user address;
//! - [`UserArray<T, A>`]: `count` of them back to back;
//! - [`UserSlice<A>`]: a byte buffer (`ptr`, `len`).
//!
//! `A` is the access the syscall's contract gives the kernel: [`ReadOnly`] (an input),
//! [`WriteOnly`] (an output) or [`ReadWrite`] (a buffer a call reads, then answers in).
//! Reads exist only for readable modes and writes only for writable ones, so an input
//! cannot be scribbled on by mistake.
//!
//! Construction checks the range once (`wayos_kcore::umem::UserRange`: inside the user
//! window `[0, USER_END)`, no overflow, and for [`UserPtr::aligned`] the element's
//! alignment). Every way to narrow a checked value (`split_at`, `advance`, `prefix`,
//! [`UserArray::get`], a part of a structure) is checked arithmetic that cannot leave it,
//! so no syscall adds a length to a user address by hand. Whether the pages are mapped is
//! found out by the copy itself: it runs in the arch's fault-tolerant routine, and an
//! unmapped or protected page (that the VM cannot fault in) is `EFAULT`, never a kernel
//! fault.
//!
//! The copy primitives are private to this module: code elsewhere has no way to hand a raw
//! `usize` to a copy, so a new syscall that forgets the check does not compile.
//!
//! Never hold a lock across a read or write here: a copy may fault, and the fault handler
//! takes the address-space lock (and may allocate).

use alloc::vec::Vec;
use core::marker::PhantomData;
use core::ops::Range;

use wayos_abi::mman::PAGE_SIZE;
use wayos_abi::zerocopy::IntoBytes;
use wayos_abi::Plain;
use wayos_kcore::umem::{RangeError, UserRange};

use crate::arch;
use crate::error::{Errno, KResult};

/// What the kernel may do with a user range; see the module docs. Sealed: the three
/// modes below are all there are.
pub trait Access: sealed::Sealed {}
/// Modes the kernel may read through.
pub trait CanRead: Access {}
/// Modes the kernel may write through.
pub trait CanWrite: Access {}

/// An input: the kernel only reads it.
pub enum ReadOnly {}
/// An output: the kernel only writes it (and may probe it by rewriting bytes unchanged).
pub enum WriteOnly {}
/// A buffer the kernel reads, then writes its answer into (`port_call`'s message).
pub enum ReadWrite {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::ReadOnly {}
    impl Sealed for super::WriteOnly {}
    impl Sealed for super::ReadWrite {}
}

impl Access for ReadOnly {}
impl Access for WriteOnly {}
impl Access for ReadWrite {}
impl CanRead for ReadOnly {}
impl CanRead for ReadWrite {}
impl CanWrite for WriteOnly {}
impl CanWrite for ReadWrite {}

fn errno(e: RangeError) -> Errno {
    match e {
        RangeError::OutOfWindow => Errno::EFAULT,
        RangeError::Misaligned => Errno::EINVAL,
    }
}

/// Copies the user range `src` into `dst` (the same length).
fn copy_in(dst: &mut [u8], src: UserRange) -> KResult<()> {
    if dst.len() != src.len() {
        return Err(Errno::EFAULT);
    }
    if dst.is_empty() {
        return Ok(());
    }
    // SAFETY: `dst` is a kernel buffer valid for `dst.len()` writes; `src` is a
    // `UserRange`, so it lies entirely in the user window, and a fault there is fixed up
    // by the arch routine (it returns false) instead of crashing the kernel.
    if unsafe { arch::user_copy(dst.as_mut_ptr(), src.start() as *const u8, dst.len()) } {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// Copies `src` to the user range `dst` (the same length).
fn copy_out(dst: UserRange, src: &[u8]) -> KResult<()> {
    if dst.len() != src.len() {
        return Err(Errno::EFAULT);
    }
    if src.is_empty() {
        return Ok(());
    }
    // SAFETY: as in `copy_in`, with the roles swapped: `src` is a valid kernel buffer,
    // `dst` lies in the user window and faults there are fixed up.
    if unsafe { arch::user_copy(dst.start() as *mut u8, src.as_ptr(), src.len()) } {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// Fails with `EFAULT` unless every page of `range` can be read and written, without
/// changing its contents: one byte per page is read and written back. This faults the
/// pages in (and breaks copy-on-write sharing) as the real copy would, so a call can
/// refuse a bad output buffer before it consumes anything.
fn probe(range: UserRange) -> KResult<()> {
    for at in range.page_probes(PAGE_SIZE) {
        let byte = UserRange::new(at, 1).map_err(errno)?;
        let mut b = [0u8; 1];
        copy_in(&mut b, byte)?;
        copy_out(byte, &b)?;
    }
    Ok(())
}

/// One `T` at a user address, with access `A`.
pub struct UserPtr<T: Plain, A: Access> {
    range: UserRange,
    _marker: PhantomData<(fn() -> T, A)>,
}

impl<T: Plain, A: Access> Clone for UserPtr<T, A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Plain, A: Access> Copy for UserPtr<T, A> {}

impl<T: Plain, A: Access> UserPtr<T, A> {
    const SIZE: usize = core::mem::size_of::<T>();

    fn from_range(range: UserRange) -> Self {
        Self {
            range,
            _marker: PhantomData,
        }
    }

    /// The `T` at `addr`: `EFAULT` unless all its bytes lie in the user window. Any
    /// alignment is accepted (the copy is bytewise), as the ABI always has.
    pub fn new(addr: usize) -> KResult<Self> {
        UserRange::new(addr, Self::SIZE)
            .map(Self::from_range)
            .map_err(errno)
    }

    /// As [`UserPtr::new`], with 0 (null) meaning "no pointer": for optional arguments.
    pub fn nullable(addr: usize) -> KResult<Option<Self>> {
        if addr == 0 {
            return Ok(None);
        }
        Self::new(addr).map(Some)
    }

    /// As [`UserPtr::new`], and `addr` must be aligned for `T` (`EINVAL`, checked first):
    /// for words the kernel uses as keys or that user code accesses atomically (futexes).
    pub fn aligned(addr: usize) -> KResult<Self> {
        UserRange::aligned(addr, Self::SIZE, core::mem::align_of::<T>())
            .map(Self::from_range)
            .map_err(errno)
    }

    /// The address, for use as a key (futex queues) — never for a copy.
    pub fn addr(&self) -> usize {
        self.range.start()
    }

    /// The bytes `bytes` of the `T` as a user range; `EFAULT` if they are not inside it.
    fn part(&self, bytes: &Range<usize>) -> KResult<UserRange> {
        self.range.sub(bytes.start, bytes.end).ok_or(Errno::EFAULT)
    }
}

impl<T: Plain, A: CanRead> UserPtr<T, A> {
    /// Copies the `T` in.
    pub fn read(&self) -> KResult<T> {
        let mut v = T::new_zeroed();
        copy_in(v.as_mut_bytes(), self.range)?;
        Ok(v)
    }

    /// Copies only bytes `bytes` of the `T` into the same bytes of `into`: for structures
    /// whose used length is in a header (a message's `len`).
    pub fn read_part(&self, into: &mut T, bytes: Range<usize>) -> KResult<()> {
        let src = self.part(&bytes)?;
        let dst = into.as_mut_bytes().get_mut(bytes).ok_or(Errno::EFAULT)?;
        copy_in(dst, src)
    }
}

impl<T: Plain, A: CanWrite> UserPtr<T, A> {
    /// Copies `v` out.
    pub fn write(&self, v: &T) -> KResult<()> {
        copy_out(self.range, v.as_bytes())
    }

    /// Copies only bytes `bytes` of `from` to the same bytes of the user's `T`, leaving the
    /// rest of it as it was.
    pub fn write_part(&self, from: &T, bytes: Range<usize>) -> KResult<()> {
        let dst = self.part(&bytes)?;
        let src = from.as_bytes().get(bytes).ok_or(Errno::EFAULT)?;
        copy_out(dst, src)
    }

    /// `EFAULT` unless the whole `T` can be written, leaving its bytes unchanged: for a
    /// call that must refuse a bad output before it changes anything.
    pub fn probe_writable(&self) -> KResult<()> {
        probe(self.range)
    }
}

impl<T: Plain> UserPtr<T, ReadWrite> {
    /// [`UserPtr::probe_writable`] for a `T` just read from here into `read`: its first
    /// byte is written back from `read` instead of being read again (one copy less on the
    /// IPC fast path).
    pub fn probe_writable_as(&self, read: &T) -> KResult<()> {
        let mut pages = self.range.page_probes(PAGE_SIZE);
        if let Some(first) = pages.next() {
            let byte = UserRange::new(first, 1).map_err(errno)?;
            copy_out(byte, read.as_bytes().get(..1).ok_or(Errno::EFAULT)?)?;
        }
        for at in pages {
            probe(UserRange::new(at, 1).map_err(errno)?)?;
        }
        Ok(())
    }
}

/// `count` `T`s back to back at a user address, with access `A`.
pub struct UserArray<T: Plain, A: Access> {
    range: UserRange,
    count: usize,
    _marker: PhantomData<(fn() -> T, A)>,
}

impl<T: Plain, A: Access> UserArray<T, A> {
    const SIZE: usize = core::mem::size_of::<T>();

    /// `count` elements at `addr`: `EFAULT` unless all of them lie in the user window
    /// (the byte count must not overflow either).
    pub fn new(addr: usize, count: usize) -> KResult<Self> {
        let range = UserRange::array(addr, Self::SIZE, count).map_err(errno)?;
        Ok(Self {
            range,
            count,
            _marker: PhantomData,
        })
    }

    pub fn len(&self) -> usize {
        self.count
    }

    /// Element `i`; `EFAULT` past the end.
    pub fn get(&self, i: usize) -> KResult<UserPtr<T, A>> {
        if i >= self.count {
            return Err(Errno::EFAULT);
        }
        self.range
            .element(i, Self::SIZE)
            .map(UserPtr::from_range)
            .ok_or(Errno::EFAULT)
    }
}

impl<T: Plain, A: CanWrite> UserArray<T, A> {
    /// Copies `items` to the first `items.len()` elements; `EFAULT` if there are fewer.
    pub fn write_from(&self, items: &[T]) -> KResult<()> {
        if items.len() > self.count {
            return Err(Errno::EFAULT);
        }
        let bytes = items.as_bytes();
        copy_out(self.range.prefix(bytes.len()), bytes)
    }
}

/// A user byte buffer (`ptr`, `len`), with access `A`.
pub struct UserSlice<A: Access> {
    range: UserRange,
    _marker: PhantomData<A>,
}

impl<A: Access> UserSlice<A> {
    fn from_range(range: UserRange) -> Self {
        Self {
            range,
            _marker: PhantomData,
        }
    }

    /// `len` bytes at `addr`: `EFAULT` unless they lie in the user window.
    pub fn new(addr: usize, len: usize) -> KResult<Self> {
        UserRange::new(addr, len)
            .map(Self::from_range)
            .map_err(errno)
    }

    pub fn len(&self) -> usize {
        self.range.len()
    }

    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }

    /// The first `mid` bytes and the rest; `EFAULT` if `mid > len`.
    pub fn split_at(self, mid: usize) -> KResult<(Self, Self)> {
        let (head, tail) = self.range.split_at(mid).ok_or(Errno::EFAULT)?;
        Ok((Self::from_range(head), Self::from_range(tail)))
    }

    /// The buffer without its first `n` bytes; `EFAULT` if `n > len`.
    pub fn advance(self, n: usize) -> KResult<Self> {
        self.range
            .advance(n)
            .map(Self::from_range)
            .ok_or(Errno::EFAULT)
    }

    /// The first `min(n, len)` bytes.
    pub fn prefix(&self, n: usize) -> Self {
        Self::from_range(self.range.prefix(n))
    }
}

impl<A: CanRead> UserSlice<A> {
    /// Fills `dst` from the start of the buffer; `EFAULT` if the buffer is shorter.
    pub fn read_into(&self, dst: &mut [u8]) -> KResult<()> {
        let src = self.range.split_at(dst.len()).ok_or(Errno::EFAULT)?.0;
        copy_in(dst, src)
    }

    /// The whole buffer in a new kernel vector (`ENOMEM` if that cannot be had). Bound
    /// `len` before building the slice: the vector is as long as the user says.
    pub fn read_vec(&self) -> KResult<Vec<u8>> {
        let mut v = Vec::new();
        v.try_reserve_exact(self.len()).map_err(|_| Errno::ENOMEM)?;
        v.resize(self.len(), 0);
        copy_in(&mut v, self.range)?;
        Ok(v)
    }
}

impl<A: CanWrite> UserSlice<A> {
    /// Copies `src` to the start of the buffer; `EFAULT` if the buffer is shorter.
    pub fn write_from(&self, src: &[u8]) -> KResult<()> {
        let dst = self.range.split_at(src.len()).ok_or(Errno::EFAULT)?.0;
        copy_out(dst, src)
    }

    /// `EFAULT` unless every page of the buffer can be written, leaving its bytes
    /// unchanged (one byte per page is read and written back); see `probe`.
    pub fn probe_writable(&self) -> KResult<()> {
        probe(self.range)
    }
}
