//! IPC syscalls: ports, call/reply, handles and the name service (see `docs/ipc.md`).
//!
//! Each syscall reads its user arguments first (a bad pointer is `EFAULT` and changes
//! nothing), then checks the handle and its rights in one place under the caller's handle
//! table lock, then acts. No lock is held across a user copy.

use alloc::sync::Arc;

use wayos_abi::ipc::{
    Message, INLINE_BYTES, MAX_HANDLES, NAME_MAX, RIGHTS_ALL, RIGHT_GRANT, RIGHT_RECV, RIGHT_SEND,
};

use crate::error::{Errno, KResult};
use crate::ipc::port::{Port, PortRef, ReplyPort, ReplyRef, ReplyState};
use crate::ipc::{
    check_transfer, handle_errno, install, name_errno, take_transfer, wait_for, Deadline, KMessage,
    KObject, NsEntry, DELIVERY_ROOM, NAMES,
};
use crate::task::{self, process::Process};
use crate::usercopy::{copy_from_user, copy_to_user, read_vec};

const MSG_SIZE: usize = core::mem::size_of::<Message>();
const _: () = assert!(MSG_SIZE == 8 + 4 + 4 + 4 * MAX_HANDLES + INLINE_BYTES);

fn word<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b[at..at + N].try_into().expect("in bounds")
}

fn decode(b: &[u8; MSG_SIZE]) -> Message {
    let mut m = Message::new(u64::from_ne_bytes(word(b, 0)));
    m.len = u32::from_ne_bytes(word(b, 8));
    m.reply = u32::from_ne_bytes(word(b, 12));
    for (i, h) in m.handles.iter_mut().enumerate() {
        *h = u32::from_ne_bytes(word(b, 16 + 4 * i));
    }
    let data = 16 + 4 * MAX_HANDLES;
    m.data.copy_from_slice(&b[data..data + INLINE_BYTES]);
    m
}

fn encode(m: &Message) -> [u8; MSG_SIZE] {
    let mut b = [0u8; MSG_SIZE];
    b[0..8].copy_from_slice(&m.label.to_ne_bytes());
    b[8..12].copy_from_slice(&m.len.to_ne_bytes());
    b[12..16].copy_from_slice(&m.reply.to_ne_bytes());
    for (i, h) in m.handles.iter().enumerate() {
        b[16 + 4 * i..20 + 4 * i].copy_from_slice(&h.to_ne_bytes());
    }
    let data = 16 + 4 * MAX_HANDLES;
    b[data..].copy_from_slice(&m.data);
    b
}

/// Reads a `Message` to send: `EFAULT` for a bad pointer, `EINVAL` if `len` is too big.
fn read_message(ptr: usize) -> KResult<Message> {
    let mut b = [0u8; MSG_SIZE];
    copy_from_user(&mut b, ptr)?;
    let mut m = decode(&b);
    if m.len as usize > INLINE_BYTES {
        return Err(Errno::EINVAL);
    }
    // The kernel decides `reply` on delivery; a sender cannot pose as the kernel.
    m.reply = wayos_abi::ipc::NO_HANDLE;
    Ok(m)
}

/// Fails with `EFAULT` unless a `Message` can be read and written at `ptr` (its bytes are
/// written back unchanged).
fn probe_writable(ptr: usize) -> KResult<()> {
    let mut b = [0u8; MSG_SIZE];
    copy_from_user(&mut b, ptr)?;
    copy_to_user(ptr, &b)
}

fn me() -> KResult<Arc<Process>> {
    task::current_process().ok_or(Errno::ESRCH)
}

fn handle_arg(h: usize) -> KResult<u32> {
    u32::try_from(h).map_err(|_| Errno::EBADF)
}

/// The port behind `h` if the handle has `needed`: `EBADF`, `EACCES`, or `EINVAL` for a
/// reply handle. The one rights check of the port syscalls.
fn port_of(p: &Process, h: usize, needed: u32) -> KResult<Arc<Port>> {
    let h = handle_arg(h)?;
    match p.handles.lock().get(h, needed).map_err(handle_errno)? {
        KObject::Port(r) => Ok(r.port.clone()),
        KObject::Reply(_) => Err(Errno::EINVAL),
        KObject::Memory(_) => Err(Errno::EINVAL),
    }
}

pub fn sys_port_create(capacity: usize) -> KResult<usize> {
    let p = me()?;
    let port = Port::new(capacity)?;
    let obj = KObject::Port(PortRef::new(port, RIGHTS_ALL));
    let h = p
        .handles
        .lock()
        .insert(obj, RIGHTS_ALL)
        .map_err(handle_errno)?;
    Ok(h as usize)
}

/// Queues `msg` (moving its handles out of `p`'s table) once there is room.
fn send(
    p: &Process,
    port: &Port,
    msg: Message,
    mut reply: Option<ReplyRef>,
    deadline: Deadline,
) -> KResult<()> {
    let r = wait_for(&port.send_wq, deadline, || {
        let mut table = p.handles.lock();
        if let Err(e) = check_transfer(&table, &msg) {
            return Some(Err(e));
        }
        let mut q = port.queue();
        if q.is_closed() {
            return Some(Err(Errno::EPIPE));
        }
        if q.is_full() {
            return None;
        }
        let km = KMessage {
            msg,
            objs: take_transfer(&mut table, &msg),
            reply: reply.take(),
        };
        if q.push(km).is_err() {
            unreachable!("room was checked under the queue lock");
        }
        Some(Ok(()))
    });
    match r {
        Some(Ok(())) => {
            port.recv_wq.wake_all();
            Ok(())
        }
        Some(Err(e)) => Err(e),
        None if deadline == Deadline::Now => Err(Errno::ENOSPC),
        None => Err(Errno::ETIMEDOUT),
    }
}

pub fn sys_port_send(h: usize, ptr: usize, timeout_ns: u64) -> KResult<usize> {
    let p = me()?;
    let msg = read_message(ptr)?;
    let port = port_of(&p, h, RIGHT_SEND)?;
    check_transfer(&p.handles.lock(), &msg)?;
    send(&p, &port, msg, None, Deadline::from_timeout(timeout_ns))?;
    Ok(0)
}

pub fn sys_port_recv(h: usize, ptr: usize, timeout_ns: u64) -> KResult<usize> {
    let p = me()?;
    probe_writable(ptr)?;
    let port = port_of(&p, h, RIGHT_RECV)?;
    let deadline = Deadline::from_timeout(timeout_ns);
    let r = wait_for(&port.recv_wq, deadline, || {
        let mut table = p.handles.lock();
        let mut q = port.queue();
        if q.is_empty() {
            return q.is_closed().then_some(Err(Errno::EPIPE));
        }
        if table.room() < DELIVERY_ROOM {
            return Some(Err(Errno::ENOMEM));
        }
        let km = q.pop().expect("queue not empty");
        drop(q);
        Some(Ok(install(&mut table, km)))
    });
    let msg = match r {
        Some(r) => r?,
        None if deadline == Deadline::Now => return Err(Errno::EAGAIN),
        None => return Err(Errno::ETIMEDOUT),
    };
    port.send_wq.wake_all();
    if copy_to_user(ptr, &encode(&msg)).is_err() {
        // Checked writable above; only a concurrent unmap gets here. The handles stay in
        // the table.
        log::warn!("port_recv: message buffer vanished; message lost");
        return Err(Errno::EFAULT);
    }
    Ok(0)
}

pub fn sys_port_call(h: usize, ptr: usize, timeout_ns: u64) -> KResult<usize> {
    let p = me()?;
    let msg = read_message(ptr)?;
    probe_writable(ptr)?;
    let port = port_of(&p, h, RIGHT_SEND)?;
    check_transfer(&p.handles.lock(), &msg)?;
    let deadline = Deadline::from_timeout(timeout_ns);
    let rp = ReplyPort::reuse(p.reply_cache.lock().take());
    let sent = send(&p, &port, msg, Some(ReplyRef(rp.clone())), deadline);
    if sent.is_ok() {
        let _ = wait_for(&rp.wq, deadline, || (!rp.is_waiting()).then_some(()));
    }
    let state = rp.finish();
    *p.reply_cache.lock() = Some(rp);
    sent?;
    let km = match state {
        ReplyState::Done(km) => km,
        ReplyState::Closed => return Err(Errno::EPIPE),
        ReplyState::Waiting => return Err(Errno::ETIMEDOUT),
    };
    let reply = {
        let mut table = p.handles.lock();
        if table.room() < DELIVERY_ROOM {
            drop(table);
            drop(km);
            return Err(Errno::ENOMEM);
        }
        install(&mut table, km)
    };
    copy_to_user(ptr, &encode(&reply))?;
    Ok(0)
}

pub fn sys_port_reply(h: usize, ptr: usize) -> KResult<usize> {
    let p = me()?;
    let msg = read_message(ptr)?;
    let h = handle_arg(h)?;
    let (obj, km) = {
        let mut table = p.handles.lock();
        let rp = match table.get(h, RIGHT_SEND).map_err(handle_errno)? {
            KObject::Reply(r) => r.0.clone(),
            KObject::Port(_) => return Err(Errno::EINVAL),
            KObject::Memory(_) => return Err(Errno::EINVAL),
        };
        if !rp.is_waiting() {
            // The caller gave up or is gone: the right is used up, nothing else moves.
            let gone = table.remove(h);
            drop(table);
            drop(gone);
            return Err(Errno::EPIPE);
        }
        check_transfer(&table, &msg)?;
        let obj = table.remove(h).map_err(handle_errno)?;
        let objs = take_transfer(&mut table, &msg);
        (
            obj,
            KMessage {
                msg,
                objs,
                reply: None,
            },
        )
    };
    let (KObject::Reply(r), _) = &obj else {
        unreachable!("checked above")
    };
    let result = r.0.deliver(km);
    drop(obj);
    match result {
        Ok(()) => Ok(0),
        Err(km) => {
            drop(km);
            Err(Errno::EPIPE)
        }
    }
}

pub fn sys_handle_close(h: usize) -> KResult<usize> {
    let p = me()?;
    let h = handle_arg(h)?;
    let obj = p.handles.lock().remove(h).map_err(handle_errno)?;
    drop(obj);
    Ok(0)
}

pub fn sys_handle_dup(h: usize, rights: usize) -> KResult<usize> {
    let p = me()?;
    let h = handle_arg(h)?;
    let rights = u32::try_from(rights).map_err(|_| Errno::EINVAL)?;
    let new = p
        .handles
        .lock()
        .dup_with(h, rights, KObject::narrowed)
        .map_err(handle_errno)?;
    Ok(new as usize)
}

/// Reads a service name: `ENAMETOOLONG` past `NAME_MAX`, `EINVAL` if empty, `EFAULT`.
fn read_name(ptr: usize, len: usize) -> KResult<alloc::vec::Vec<u8>> {
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    read_vec(ptr, len, NAME_MAX, Errno::ENAMETOOLONG)
}

pub fn sys_ns_register(name: usize, len: usize, h: usize) -> KResult<usize> {
    let p = me()?;
    let name = read_name(name, len)?;
    let port = port_of(&p, h, RIGHT_SEND | RIGHT_GRANT)?;
    if port.is_closed() {
        return Err(Errno::EPIPE);
    }
    let entry = NsEntry { port, owner: p.pid };
    let r = NAMES.lock().register(&name, entry).map_err(name_errno);
    r.map(|()| 0)
}

pub fn sys_ns_lookup(name: usize, len: usize) -> KResult<usize> {
    let p = me()?;
    let name = read_name(name, len)?;
    let port = NAMES
        .lock()
        .lookup(&name)
        .map(|e| e.port.clone())
        .map_err(name_errno)?;
    if port.is_closed() {
        return Err(Errno::ENOENT);
    }
    let obj = KObject::Port(PortRef::new(port, RIGHT_SEND));
    let h = p
        .handles
        .lock()
        .insert(obj, RIGHT_SEND)
        .map_err(handle_errno)?;
    Ok(h as usize)
}
