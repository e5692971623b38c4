//! The NIC syscalls: `net_attach`, `net_kick`, `net_info` (`wayos_abi::sys`, `docs/net.md`).
//!
//! Argument checks and handle lookups happen here; the NIC itself is `crate::net`. The
//! capability (`NET_RAW` for `net_attach`) is checked by the gate. No lock is held across
//! a user copy: `NicInfo` is built first and written after.
#![deny(unsafe_code)]

use alloc::sync::Arc;

use wayos_abi::ipc::{RIGHT_READ, RIGHT_SEND, RIGHT_WRITE};
use wayos_abi::net::NicInfo;

use crate::error::{Errno, KResult};
use crate::ipc::{handle_errno, KObject};
use crate::net;
use crate::task::{self, process::Process};
use crate::umem::{UserPtr, WriteOnly};

/// The rights of a NIC handle: map the ring (read, write) and kick; never grant.
const NIC_RIGHTS: u32 = RIGHT_READ | RIGHT_WRITE;

fn me() -> KResult<Arc<Process>> {
    task::current_process().ok_or(Errno::ESRCH)
}

/// `net_attach(nic, notify_port, info_out) -> handle`.
pub fn sys_net_attach(nic: usize, notify: usize, info_out: usize) -> KResult<usize> {
    let p = me()?;
    // No such NIC first, then the arguments: nothing changes on any error.
    let before = net::info(nic)?;
    let out = UserPtr::<NicInfo, WriteOnly>::nullable(info_out)?;
    let notify = u32::try_from(notify).map_err(|_| Errno::EBADF)?;
    let port = {
        let table = p.handles.lock();
        match table.get(notify, RIGHT_SEND).map_err(handle_errno)? {
            KObject::Port(r) => r.port.clone(),
            _ => return Err(Errno::EINVAL),
        }
    };
    if let Some(out) = &out {
        out.write(&before)?;
    }
    if p.handles.lock().room() == 0 {
        return Err(Errno::ENOMEM);
    }
    let pid = u32::try_from(p.pid).unwrap_or(u32::MAX);
    let attachment = Arc::new(net::attach(nic, port, pid)?);
    let h = {
        let mut table = p.handles.lock();
        table.insert(KObject::Nic(attachment), NIC_RIGHTS)
    };
    // Room was checked above, so this fails only if another thread of the caller filled
    // the table meanwhile: `insert` then dropped the attachment (releasing the NIC) under
    // the table lock, which the lock order allows (handle table, then the NIC lock).
    let h = h.map_err(handle_errno)?;
    if let Some(out) = &out {
        // Checked writable above; a program that unmapped it meanwhile only loses the copy.
        let _ = out.write(&net::info(nic)?);
    }
    Ok(h as usize)
}

/// `net_kick(handle) -> 0`.
pub fn sys_net_kick(h: usize) -> KResult<usize> {
    let p = me()?;
    let h = u32::try_from(h).map_err(|_| Errno::EBADF)?;
    let a = {
        let table = p.handles.lock();
        // The kind first (`EINVAL` for a port), then the right (`EACCES`).
        match table.get(h, 0).map_err(handle_errno)? {
            KObject::Nic(a) => {
                table.get(h, RIGHT_WRITE).map_err(handle_errno)?;
                a.clone()
            }
            _ => return Err(Errno::EINVAL),
        }
    };
    net::kick(&a);
    Ok(0)
}

/// `net_info(nic, out) -> 0`.
pub fn sys_net_info(nic: usize, out: usize) -> KResult<usize> {
    let info = net::info(nic)?;
    UserPtr::<NicInfo, WriteOnly>::new(out)?.write(&info)?;
    Ok(0)
}
