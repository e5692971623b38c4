//! Page grants: `mem_grant` and `mem_map` (see `docs/ipc.md`, "Page grants").
//!
//! Argument checks and the handle lookup happen here, once per syscall; the range and
//! rights rules are `mm::space::grant` on top of `wayos_kcore::grant`. The space lock and
//! the handle-table lock are never held together.

use alloc::sync::Arc;

use crate::error::{Errno, KResult};
use crate::ipc::{handle_errno, KObject};
use crate::mm::space::Prot;
use crate::task::{self, process::Process};
use crate::umem::{UserPtr, WriteOnly};

/// `EACCES` unless a handle with `rights` may be mapped with `prot`.
fn grant_rights(rights: u32, prot: Prot) -> KResult<()> {
    wayos_kcore::grant::check_map(rights, prot).map_err(|e| Errno(e.errno()))
}

fn me() -> KResult<Arc<Process>> {
    task::current_process().ok_or(Errno::ESRCH)
}

/// `mem_grant(addr, len, rights) -> handle` with exactly `rights`.
pub fn sys_mem_grant(addr: usize, len: usize, rights: usize) -> KResult<usize> {
    let p = me()?;
    let rights = u32::try_from(rights).map_err(|_| Errno::EINVAL)?;
    let obj = p.with_space(|s| s.grant(addr, len, rights))?;
    let obj = KObject::Memory(Arc::new(obj));
    let mut table = p.handles.lock();
    if table.room() == 0 {
        // Dropped after the lock: the last reference to pages frees them.
        drop(table);
        drop(obj);
        return Err(Errno::ENOMEM);
    }
    let h = table.insert(obj, rights).map_err(handle_errno)?;
    Ok(h as usize)
}

/// `mem_map(handle, prot, size_out) -> addr`; the object's size goes to `*size_out` (a
/// `u64`) unless it is 0.
pub fn sys_mem_map(h: usize, prot: usize, size_out: usize) -> KResult<usize> {
    let p = me()?;
    let prot = Prot::from_bits(prot).ok_or(Errno::EINVAL)?;
    let h = u32::try_from(h).map_err(|_| Errno::EBADF)?;
    let (obj, rights) = {
        let table = p.handles.lock();
        let rights = table.rights(h).map_err(handle_errno)?;
        match table.get(h, 0).map_err(handle_errno)? {
            KObject::Memory(m) => (m.clone(), rights),
            KObject::Nic(a) => {
                let ring = a.ring();
                drop(table);
                return map_nic_ring(&p, ring, prot, rights, size_out);
            }
            _ => return Err(Errno::EINVAL),
        }
    };
    grant_rights(rights, prot)?;
    if let Some(out) = UserPtr::<u64, WriteOnly>::nullable(size_out)? {
        // Before mapping, so a bad pointer changes nothing; no lock is held.
        out.write(&obj.size())?;
    }
    p.with_space(|s| s.map_object(&obj, prot, rights))
}

/// `mem_map` of a NIC handle: its ring area (`net::ring`), at most read-write.
fn map_nic_ring(
    p: &Process,
    ring: Arc<crate::net::ring::Ring>,
    prot: Prot,
    rights: u32,
    size_out: usize,
) -> KResult<usize> {
    grant_rights(rights, prot)?;
    if let Some(out) = UserPtr::<u64, WriteOnly>::nullable(size_out)? {
        out.write(&(crate::net::ring::PAGES as u64 * wayos_kcore::buddy::PAGE_SIZE))?;
    }
    p.with_space(|s| s.map_run(ring, prot, Prot::READ | Prot::WRITE, "nic-ring"))
}
