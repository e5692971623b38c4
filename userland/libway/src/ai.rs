//! The AI subsystem's client: kernel tensors and `ai_info` (see `docs/ai.md`).
//!
//! - [`Tensor`] owns one tensor handle (closed on drop): create it with a dtype, shape and
//!   tier, move bytes in and out with [`Tensor::write`] / [`Tensor::read`] (typed helpers
//!   for `f32`, `i32`, `i8`), narrow it with [`Tensor::dup`], look at it with
//!   [`Tensor::info`].
//! - [`Tensor::map`] maps its pages into this program as a [`TensorMap`] (unmapped on
//!   drop) that sees the same bytes as `read`/`write`, with no copy. The mapping keeps the
//!   tensor alive after its handle is closed.
//! - [`totals`] and [`usage`] read `ai_info`: the system's tensors and each process's
//!   charged usage.
//!
//! A mapped tensor's pages may change under this program (another mapping, a graph run),
//! so [`TensorMap`] hands them out as `AtomicU8`s, like `grant::SharedBuf`.

use alloc::vec::Vec;
use core::sync::atomic::AtomicU8;

use wayos_abi::ai::{AiTotals, AiUsage, TensorInfo, INFO_TOTALS, INFO_USAGE, MAX_RANK};
pub use wayos_abi::ai::{
    DTYPE_F32, DTYPE_I32, DTYPE_I8, RIGHTS_ALL, RIGHT_GRANT, RIGHT_READ, RIGHT_WRITE, TIER_FAR,
    TIER_NEAR,
};
use wayos_abi::errno::EINVAL;
use wayos_abi::mman::{PAGE_SIZE, PROT_READ, PROT_WRITE};
use wayos_abi::sys;
use wayos_abi::zerocopy::{FromZeros, IntoBytes};

use crate::errno::Errno;
use crate::grant::SharedBuf;
use crate::ipc::{close_raw, handle_from};
use crate::sys::{arg_in, arg_out, info_one, info_records, InfoCall, MemFree};

/// One tensor handle of this process, closed when dropped.
#[derive(Debug, PartialEq, Eq)]
pub struct Tensor {
    handle: u32,
}

/// The metadata for a tensor of `dtype` and `dims` on `tier` (no quantization).
pub fn tensor_info(dtype: u32, dims: &[u32], tier: u32) -> Result<TensorInfo, Errno> {
    if dims.len() > MAX_RANK {
        return Err(Errno(EINVAL));
    }
    let mut info = TensorInfo {
        dtype,
        rank: dims.len() as u32,
        tier,
        ..Default::default()
    };
    info.dims[..dims.len()].copy_from_slice(dims);
    Ok(info)
}

impl Tensor {
    /// `tensor_create`: a zeroed tensor of `dtype` (`DTYPE_F32`, `DTYPE_I32`) and shape
    /// `dims` on `tier` (`TIER_NEAR`, or `TIER_FAR` as a hint), with every right. For
    /// `DTYPE_I8` use [`Tensor::create_i8`].
    pub fn create(dtype: u32, dims: &[u32], tier: u32) -> Result<Tensor, Errno> {
        Tensor::create_info(&tensor_info(dtype, dims, tier)?)
    }

    /// An i8 tensor whose values mean `scale * (q - zero_point)`.
    pub fn create_i8(
        dims: &[u32],
        tier: u32,
        scale: f32,
        zero_point: i32,
    ) -> Result<Tensor, Errno> {
        let mut info = tensor_info(DTYPE_I8, dims, tier)?;
        info.scale_bits = scale.to_bits();
        info.zero_point = zero_point;
        Tensor::create_info(&info)
    }

    /// `tensor_create(info)` with the metadata as given (for tests of bad requests).
    pub fn create_info(info: &TensorInfo) -> Result<Tensor, Errno> {
        // SAFETY: the kernel only reads `info`, borrowed for the call.
        let raw = unsafe { crate::sys::call(sys::TENSOR_CREATE, [arg_in(info), 0, 0, 0, 0, 0]) }?;
        Ok(Tensor {
            handle: handle_from(raw)?,
        })
    }

    /// Takes ownership of a raw handle.
    pub const fn from_raw(handle: u32) -> Tensor {
        Tensor { handle }
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

    /// `tensor_write`: `data` into the tensor at byte `offset`. `EINVAL` past the end,
    /// `EACCES` without `RIGHT_WRITE`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<usize, Errno> {
        // SAFETY: the kernel only reads `data`, borrowed for the call.
        unsafe {
            crate::sys::call(
                sys::TENSOR_WRITE,
                [
                    self.handle as usize,
                    offset,
                    data.as_ptr() as usize,
                    data.len(),
                    0,
                    0,
                ],
            )
        }
    }

    /// `tensor_read`: bytes from `offset` into `out`. `EINVAL` past the end, `EACCES`
    /// without `RIGHT_READ`.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<usize, Errno> {
        // SAFETY: the kernel writes at most `out.len()` bytes into `out`, borrowed
        // mutably for the call.
        unsafe {
            crate::sys::call(
                sys::TENSOR_READ,
                [
                    self.handle as usize,
                    offset,
                    out.as_mut_ptr() as usize,
                    out.len(),
                    0,
                    0,
                ],
            )
        }
    }

    /// Writes `data` from element `index` of an f32 tensor.
    pub fn write_f32(&self, index: usize, data: &[f32]) -> Result<(), Errno> {
        self.write(byte_offset(index, 4)?, data.as_bytes())
            .map(drop)
    }

    /// Reads `out.len()` elements from element `index` of an f32 tensor.
    pub fn read_f32(&self, index: usize, out: &mut [f32]) -> Result<(), Errno> {
        self.read(byte_offset(index, 4)?, out.as_mut_bytes())
            .map(drop)
    }

    /// Writes `data` from element `index` of an i32 tensor.
    pub fn write_i32(&self, index: usize, data: &[i32]) -> Result<(), Errno> {
        self.write(byte_offset(index, 4)?, data.as_bytes())
            .map(drop)
    }

    /// Reads `out.len()` elements from element `index` of an i32 tensor.
    pub fn read_i32(&self, index: usize, out: &mut [i32]) -> Result<(), Errno> {
        self.read(byte_offset(index, 4)?, out.as_mut_bytes())
            .map(drop)
    }

    /// Writes `data` from element `index` of an i8 tensor.
    pub fn write_i8(&self, index: usize, data: &[i8]) -> Result<(), Errno> {
        self.write(index, data.as_bytes()).map(drop)
    }

    /// Reads `out.len()` elements from element `index` of an i8 tensor.
    pub fn read_i8(&self, index: usize, out: &mut [i8]) -> Result<(), Errno> {
        self.read(index, out.as_mut_bytes()).map(drop)
    }

    /// All elements of an f32 tensor.
    pub fn to_vec_f32(&self) -> Result<Vec<f32>, Errno> {
        let info = self.info()?;
        let mut v = alloc::vec![0f32; info.bytes as usize / 4];
        self.read_f32(0, &mut v)?;
        Ok(v)
    }

    /// `tensor_info`: dtype, shape, actual tier, size and this handle's rights.
    pub fn info(&self) -> Result<TensorInfo, Errno> {
        let mut info = TensorInfo::new_zeroed();
        // SAFETY: the kernel writes one `TensorInfo` into `info`, borrowed for the call.
        unsafe {
            crate::sys::call(
                sys::TENSOR_INFO,
                [self.handle as usize, arg_out(&mut info), 0, 0, 0, 0],
            )
        }?;
        Ok(info)
    }

    /// `tensor_map`: maps the tensor's pages, readable (`RIGHT_READ`), and writable if
    /// `writable` (also `RIGHT_WRITE`); `EACCES` without them.
    pub fn map(&self, writable: bool) -> Result<TensorMap, Errno> {
        let info = self.info()?;
        let prot = if writable {
            PROT_READ | PROT_WRITE
        } else {
            PROT_READ
        };
        self.map_prot(prot).map(|addr| TensorMap {
            buf: SharedBuf::adopt(
                addr,
                (info.bytes as usize).next_multiple_of(PAGE_SIZE),
                writable,
            ),
            len: info.bytes as usize,
        })
    }

    /// `tensor_map(handle, prot)` with `prot` as given; returns the address. The mapping
    /// is not unmapped by anything (for tests of bad requests).
    pub fn map_prot(&self, prot: usize) -> Result<usize, Errno> {
        // SAFETY: the kernel picks an unused address range: nothing existing changes.
        unsafe { crate::sys::call(sys::TENSOR_MAP, [self.handle as usize, prot, 0, 0, 0, 0]) }
    }

    /// `handle_dup(handle, rights)`: a second handle with a subset of the rights; needs
    /// `RIGHT_GRANT`.
    pub fn dup(&self, rights: u32) -> Result<Tensor, Errno> {
        let raw = crate::sys::call2(MemFree::HANDLE_DUP, self.handle as usize, rights as usize)?;
        Ok(Tensor {
            handle: handle_from(raw)?,
        })
    }

    /// Closes the handle now, reporting the error drop would ignore.
    pub fn close(self) -> Result<(), Errno> {
        close_raw(self.into_raw())
    }
}

impl Drop for Tensor {
    fn drop(&mut self) {
        let _ = close_raw(self.handle);
    }
}

fn byte_offset(index: usize, size: usize) -> Result<usize, Errno> {
    index.checked_mul(size).ok_or(Errno(EINVAL))
}

/// A tensor's pages mapped into this program, unmapped when dropped: a [`SharedBuf`]
/// (whole pages) seen through the tensor's length.
#[derive(Debug)]
pub struct TensorMap {
    buf: SharedBuf,
    /// The tensor's bytes (at most the mapping's).
    len: usize,
}

impl TensorMap {
    pub const fn addr(&self) -> usize {
        self.buf.addr()
    }

    /// The tensor's size in bytes (the mapping is rounded up to whole pages).
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Never true: a tensor has at least one element.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub const fn is_writable(&self) -> bool {
        self.buf.is_writable()
    }

    /// The tensor's bytes, which the kernel or other mappings may change at any time.
    /// Storing through them when the map is not writable faults (`SIGSEGV`).
    pub fn bytes(&self) -> &[AtomicU8] {
        &self.buf.bytes()[..self.len]
    }

    /// `EINVAL` unless `[offset, offset + n)` lies within the tensor.
    fn check(&self, offset: usize, n: usize) -> Result<(), Errno> {
        match offset.checked_add(n) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Errno(EINVAL)),
        }
    }

    /// Copies `out.len()` bytes from `offset`; `EINVAL` past the end.
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> Result<(), Errno> {
        self.check(offset, out.len())?;
        self.buf.read_at(offset, out)
    }

    /// Copies `data` to `offset`; `EINVAL` past the end or when not writable.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), Errno> {
        self.check(offset, data.len())?;
        if !self.is_writable() {
            return Err(Errno(EINVAL));
        }
        self.buf.write_at(offset, data)
    }
}

/// `ai_info(INFO_TOTALS)`: the AI objects alive in the system.
pub fn totals() -> Result<AiTotals, Errno> {
    info_one(InfoCall::AiInfo, INFO_TOTALS)
}

/// `ai_info(INFO_USAGE)`: every process with AI objects charged to it, lowest pid first.
pub fn usage() -> Result<Vec<AiUsage>, Errno> {
    info_records(InfoCall::AiInfo, INFO_USAGE, 16)
}

/// What is charged to process `pid` now (all zero when nothing is).
pub fn usage_of(pid: u64) -> Result<AiUsage, Errno> {
    Ok(usage()?
        .into_iter()
        .find(|u| u.pid == pid)
        .unwrap_or(AiUsage {
            pid,
            ..AiUsage::new_zeroed()
        }))
}
