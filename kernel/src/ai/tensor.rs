//! Tensor objects: a dtype and shape over a run of zeroed, physically contiguous pages on
//! a memory tier, charged to the process that created it.
//!
//! A [`Tensor`] is immutable metadata plus a [`PageRun`]; it is shared as `Arc<Tensor>`
//! by handles (`ipc::KObject::Tensor`), graphs and user mappings (`mm::space::FrameRun`),
//! and freed with the last of them. Its two charges (`usage::Kind::Tensors`, one; and
//! `Kind::TensorBytes`, its pages' bytes) ride inside it, so they are released exactly
//! when its memory is, whoever dropped the last reference.
//!
//! Contents are reached from kernel code only through [`Tensor::with_bytes`] and
//! [`Tensor::with_bytes_mut`] (the run's reader-writer lock; see `mm::run`). Never call
//! one inside the other for the same tensor on one thread, and never make a user copy
//! inside either.

use alloc::sync::Arc;

use wayos_abi::ai::{TensorInfo, TIER_FAR, TIER_NEAR};
use wayos_kcore::paging::PhysAddr;
use wayos_kcore::tensor::{check_create, pages_for, PAGE_BYTES};

use super::stats;
use crate::error::{Errno, KResult};
use crate::ipc::{handle_errno, KObject};
use crate::mm::placement;
use crate::mm::pmm::Tier;
use crate::mm::run::PageRun;
use crate::mm::space::FrameRun;
use crate::task::process::Process;
use crate::task::usage::{Charge, Kind};
use crate::task::{self};

/// A kernel tensor; see the module docs.
pub struct Tensor {
    /// Metadata as `tensor_info` reports it, `rights` 0, `tier` the actual placement.
    info: TensorInfo,
    run: PageRun,
    _count: Charge,
    _bytes: Charge,
}

impl Tensor {
    /// A zeroed tensor as `info` describes it (`bytes` and `rights` ignored; `rights`
    /// must be 0), charged to `owner`. `EINVAL` for a malformed shape, `EMFILE` past
    /// `MAX_TENSORS`, `EDQUOT` past `MAX_TENSOR_BYTES_PER_PROCESS` (both charge the
    /// owner, counting pages), `ENOMEM` when the tier has no run that large above the
    /// kernel reserve in either tier. A far-tier request on a machine without far memory,
    /// or when far memory has no such run, is placed near (and the other way round);
    /// [`Tensor::info`] says where it went.
    pub fn create(owner: &Process, info: &TensorInfo) -> KResult<Arc<Tensor>> {
        let bytes = check_create(info).map_err(|e| Errno(e.errno()))?;
        let pages = pages_for(bytes);
        let count = owner.usage.charge(Kind::Tensors, 1)?;
        let charged = owner
            .usage
            .charge(Kind::TensorBytes, (pages * PAGE_BYTES) as usize)?;
        // The object's own heap record; after `admit` the `Arc` is served without
        // touching the reserve.
        crate::mm::reserve::admit(core::mem::size_of::<Tensor>() + 64)?;
        // The tier hint goes through placement like any user page: the other tier when
        // the wanted one has no run that large (a counted fallback).
        let [want, other] = placement::run_tiers(info.tier == TIER_FAR);
        let (tier, run) = match PageRun::alloc_zeroed(want, pages as usize) {
            Ok(run) => (want, run),
            Err(Errno::ENOMEM) => {
                let run = PageRun::alloc_zeroed(other, pages as usize)?;
                placement::count_fallback(want);
                (other, run)
            }
            Err(e) => return Err(e),
        };
        let mut meta = *info;
        meta.rights = 0;
        meta.bytes = bytes;
        meta.tier = match tier {
            Tier::Near => TIER_NEAR,
            Tier::Far => TIER_FAR,
        };
        let t = Arc::new(Tensor {
            info: meta,
            run,
            _count: count,
            _bytes: charged,
        });
        stats::tensor_made(bytes, pages, tier);
        Ok(t)
    }

    /// The tensor's metadata; `rights` is 0 (the caller fills in a handle's).
    pub fn info(&self) -> TensorInfo {
        self.info
    }

    /// Bytes of the tensor (its shape's size, not rounded to pages).
    pub fn bytes(&self) -> usize {
        self.info.bytes as usize
    }

    /// Runs `f` over the contents (exactly [`Tensor::bytes`] bytes, 4096-aligned), shared
    /// with other kernel readers. Never fails today (a live `Arc` keeps the memory); the
    /// `Result` leaves room for tensors whose memory can go away (migration).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> KResult<R> {
        let n = self.bytes();
        Ok(self.run.read(|b| f(&b[..n])))
    }

    /// Runs `f` over the contents with exclusive kernel access (as [`Tensor::with_bytes`]).
    pub fn with_bytes_mut<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> KResult<R> {
        let n = self.bytes();
        Ok(self.run.write(|b| f(&mut b[..n])))
    }
}

impl Drop for Tensor {
    fn drop(&mut self) {
        stats::tensor_freed(self.info.bytes, self.run.pages() as u64, self.run.tier());
        // The run frees its frames and the charges go back as the fields drop.
    }
}

impl FrameRun for Tensor {
    fn pages(&self) -> u64 {
        self.run.pages() as u64
    }

    fn frame(&self, index: u64) -> Option<PhysAddr> {
        self.run.frame(index)
    }
}

fn me() -> KResult<Arc<Process>> {
    task::current_process().ok_or(Errno::ESRCH)
}

/// The tensor behind handle `h` of the current process and that handle's rights, if it
/// carries every right in `need`. `EBADF` for no such handle, `EINVAL` for a handle to
/// something else, `EACCES` for a missing right (checked in that order).
pub fn lookup_rights(h: u32, need: u32) -> KResult<(Arc<Tensor>, u32)> {
    let p = me()?;
    let table = p.handles.lock();
    let t = match table.get(h, 0).map_err(handle_errno)? {
        KObject::Tensor(t) => t.clone(),
        _ => return Err(Errno::EINVAL),
    };
    let rights = table.rights(h).map_err(handle_errno)?;
    drop(table);
    if rights & need != need {
        return Err(Errno::EACCES);
    }
    Ok((t, rights))
}

/// The tensor behind handle `h` of the current process, if it carries every right in
/// `need` (errors as [`lookup_rights`]).
pub fn lookup(h: u32, need: u32) -> KResult<Arc<Tensor>> {
    lookup_rights(h, need).map(|(t, _)| t)
}

/// Installs a handle for `t` with `rights` (`ai::RIGHT_*` bits) in the current
/// process's table. `ENOMEM` when the table is full; `t` is then dropped, outside the
/// table's lock.
pub fn install(t: Arc<Tensor>, rights: u32) -> KResult<u32> {
    let p = me()?;
    if rights & !wayos_abi::ai::RIGHTS_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let mut table = p.handles.lock();
    if table.room() == 0 {
        drop(table);
        drop(t);
        return Err(Errno::ENOMEM);
    }
    table
        .insert(KObject::Tensor(t), rights)
        .map_err(handle_errno)
}
