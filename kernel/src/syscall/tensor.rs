//! Tensor syscalls and `ai_info`: `tensor_create`, `tensor_write`, `tensor_read`,
//! `tensor_map`, `tensor_info` (see `docs/ai.md` and `docs/syscalls.md`).
//!
//! Arguments are checked here, once; the objects are `ai::tensor`. Contents move between
//! user memory and a tensor through a bounded kernel bounce buffer, chunk by chunk: the
//! user copy happens with no lock held, the tensor's content lock only around the
//! kernel-to-kernel copy. No call needs a capability: tensors are ordinary memory, bounded
//! by the per-process quota and the kernel reserve.
#![deny(unsafe_code)]

use alloc::vec::Vec;

use wayos_abi::ai::{
    AiTotals, AiUsage, TensorInfo, INFO_ACCELS, INFO_GRAPHS, INFO_MODELS, INFO_TOTALS, INFO_USAGE,
    RIGHTS_ALL,
};
use wayos_abi::ai::{RIGHT_READ, RIGHT_WRITE};
use wayos_abi::mman::{PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE};
use wayos_kcore::tensor::range_ok;

use crate::ai::{stats, tensor};
use crate::error::{Errno, KResult};
use crate::mm::space::Prot;
use crate::task::{self, process, usage::Kind};
use crate::umem::{ReadOnly, UserArray, UserPtr, UserSlice, WriteOnly};

/// Bytes of bounce buffer one read or write uses at most.
const BOUNCE: usize = 64 * 1024;

fn handle(h: usize) -> KResult<u32> {
    u32::try_from(h).map_err(|_| Errno::EBADF)
}

/// `tensor_create(info) -> handle` with every tensor right.
pub fn sys_tensor_create(info: usize) -> KResult<usize> {
    let info = UserPtr::<TensorInfo, ReadOnly>::new(info)?.read()?;
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let t = tensor::Tensor::create(&p, &info)?;
    drop(p);
    tensor::install(t, RIGHTS_ALL).map(|h| h as usize)
}

/// A kernel buffer for moving `len` bytes in chunks (`ENOMEM` if the heap cannot spare
/// it without the reserve).
fn bounce(len: usize) -> KResult<Vec<u8>> {
    let n = len.min(BOUNCE);
    crate::mm::reserve::admit(n)?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Errno::ENOMEM)?;
    v.resize(n, 0);
    Ok(v)
}

/// Checks `[offset, offset + len)` against the tensor (`EINVAL` outside it).
fn range(t: &tensor::Tensor, offset: usize, len: usize) -> KResult<usize> {
    if !range_ok(t.bytes() as u64, offset as u64, len as u64) {
        return Err(Errno::EINVAL);
    }
    Ok(offset)
}

/// `tensor_write(handle, offset, buf, len) -> len`. The whole user buffer is checked
/// readable before the first byte moves, so a bad buffer (`EFAULT`) leaves the tensor as
/// it was.
pub fn sys_tensor_write(h: usize, offset: usize, buf: usize, len: usize) -> KResult<usize> {
    let t = tensor::lookup(handle(h)?, RIGHT_WRITE)?;
    let offset = range(&t, offset, len)?;
    let src = UserSlice::<ReadOnly>::new(buf, len)?;
    if len == 0 {
        return Ok(0);
    }
    // One byte of every page the buffer touches.
    let mut probe = [0u8; 1];
    let mut at = 0;
    while at < len {
        UserSlice::<ReadOnly>::new(buf + at, 1)?.read_into(&mut probe)?;
        at = (at + PAGE_SIZE - (buf + at) % PAGE_SIZE).min(len);
    }
    UserSlice::<ReadOnly>::new(buf + len - 1, 1)?.read_into(&mut probe)?;
    let mut kbuf = bounce(len)?;
    let mut rest = src;
    let mut done = 0;
    while done < len {
        let n = kbuf.len().min(len - done);
        rest.read_into(&mut kbuf[..n])?;
        t.with_bytes_mut(|b| b[offset + done..offset + done + n].copy_from_slice(&kbuf[..n]))?;
        done += n;
        rest = rest.advance(n)?;
    }
    Ok(len)
}

/// `tensor_read(handle, offset, buf, len) -> len`.
pub fn sys_tensor_read(h: usize, offset: usize, buf: usize, len: usize) -> KResult<usize> {
    let t = tensor::lookup(handle(h)?, RIGHT_READ)?;
    let offset = range(&t, offset, len)?;
    let dst = UserSlice::<WriteOnly>::new(buf, len)?;
    if len == 0 {
        return Ok(0);
    }
    let mut kbuf = bounce(len)?;
    let mut rest = dst;
    let mut done = 0;
    while done < len {
        let n = kbuf.len().min(len - done);
        t.with_bytes(|b| kbuf[..n].copy_from_slice(&b[offset + done..offset + done + n]))?;
        rest.write_from(&kbuf[..n])?;
        done += n;
        rest = rest.advance(n)?;
    }
    Ok(len)
}

/// `tensor_map(handle, prot) -> addr`: `prot` is `PROT_READ` or `PROT_READ | PROT_WRITE`
/// (`EINVAL` otherwise, `EACCES` with `PROT_EXEC`); read needs `RIGHT_READ`, write also
/// `RIGHT_WRITE` (`EACCES`), which also bound a later `mprotect`.
pub fn sys_tensor_map(h: usize, prot: usize) -> KResult<usize> {
    let (t, rights) = tensor::lookup_rights(handle(h)?, 0)?;
    if prot & PROT_EXEC != 0 {
        return Err(Errno::EACCES);
    }
    if prot != PROT_READ && prot != PROT_READ | PROT_WRITE {
        return Err(Errno::EINVAL);
    }
    let need = if prot & PROT_WRITE != 0 {
        RIGHT_READ | RIGHT_WRITE
    } else {
        RIGHT_READ
    };
    if rights & need != need {
        return Err(Errno::EACCES);
    }
    let prot = Prot::from_bits(prot).ok_or(Errno::EINVAL)?;
    let mut max = Prot::READ;
    if rights & RIGHT_WRITE != 0 {
        max |= Prot::WRITE;
    }
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    p.with_space(|s| s.map_run(t, prot, max, "tensor"))
}

/// `tensor_info(handle, out) -> 0`: the metadata with the handle's rights.
pub fn sys_tensor_info(h: usize, out: usize) -> KResult<usize> {
    let (t, rights) = tensor::lookup_rights(handle(h)?, 0)?;
    let mut info = t.info();
    drop(t);
    info.rights = rights;
    UserPtr::<TensorInfo, WriteOnly>::new(out)?.write(&info)?;
    Ok(0)
}

/// Most per-process records one `ai_info(INFO_USAGE)` gathers.
const MAX_USAGE: usize = wayos_abi::limits::MAX_PROCESSES;

/// `ai_info(what, buf, len) -> records in all`; fills as many whole records as fit.
pub fn sys_ai_info(what: usize, buf: usize, len: usize) -> KResult<usize> {
    let what = u32::try_from(what).map_err(|_| Errno::EINVAL)?;
    match what {
        INFO_TOTALS => {
            if len >= core::mem::size_of::<AiTotals>() {
                UserPtr::<AiTotals, WriteOnly>::new(buf)?.write(&stats::totals())?;
            }
            Ok(1)
        }
        INFO_USAGE => {
            let room = len / core::mem::size_of::<AiUsage>();
            let mut found = 0;
            let all = process::all()?;
            let out = UserArray::<AiUsage, WriteOnly>::new(buf, room.min(all.len()))?;
            for p in all.iter().take(MAX_USAGE) {
                let u = &p.usage;
                let rec = AiUsage {
                    pid: p.pid,
                    tensors: u.count(Kind::Tensors) as u32,
                    tensor_bytes: u.count(Kind::TensorBytes) as u64,
                    graphs: u.count(Kind::Graphs) as u32,
                    jobs: u.count(Kind::Jobs) as u32,
                    _pad: 0,
                };
                if rec.tensors == 0 && rec.tensor_bytes == 0 && rec.graphs == 0 && rec.jobs == 0 {
                    continue;
                }
                if found < out.len() {
                    out.get(found)?.write(&rec)?;
                }
                found += 1;
            }
            Ok(found)
        }
        INFO_ACCELS | INFO_GRAPHS | INFO_MODELS => super::infer::ai_info_records(what, buf, len),
        _ => Err(Errno::EINVAL),
    }
}
