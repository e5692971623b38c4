//! IPC syscalls: ports, call/reply, handles and the name service (see `docs/ipc.md`).
//!
//! Each syscall reads its user arguments first (a bad pointer is `EFAULT` and changes
//! nothing), then checks the handles and their rights in one place under the caller's
//! handle table lock, then acts. No lock is held across a user copy.
//!
//! Messages cross the boundary as their header and `len` data bytes: read into the
//! sender's buffer (its reply port's for `port_call` and `port_reply_recv`, the syscall's
//! stack for `port_send` and `port_reply`), written once into the receiver's buffer (its
//! reply port's) or a queue slot, and copied out from there (`ipc::port`).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Errno, KResult};
use crate::ipc::msgbuf::{CallError, MsgBuf};
use crate::ipc::port::{
    DeliverError, Objects, Port, PortRef, RecvError, RecvWaiter, ReplyPort, ReplyRef, ReplyState,
    HEADER_BYTES, SHORT,
};
use crate::ipc::{
    check_transfer, handle_errno, install, name_errno, take_transfer, Deadline, Handles, KObject,
    NsEntry, DELIVERY_ROOM, NAMES,
};
use crate::task::thread::Thread;
use crate::task::usage::Kind;
use crate::task::{self, process::Process, sched};
use crate::umem::{CanRead, CanWrite, ReadOnly, ReadWrite, UserPtr, UserSlice, WriteOnly};
use wayos_abi::ipc::{
    Message, INLINE_BYTES, MAX_HANDLES, NAME_MAX, NO_HANDLE, REPLY_DISCARDED, RIGHTS_ALL,
    RIGHT_GRANT, RIGHT_RECV, RIGHT_SEND,
};

const _: () = assert!(HEADER_BYTES == 8 + 4 + 4 + 4 * MAX_HANDLES);

/// Bytes of a message read in one go: the header and a short payload.
const FIRST_READ: usize = HEADER_BYTES + SHORT;

/// Reads the header and short payload of the message at `ptr` into `m`.
#[inline]
fn read_head<A: CanRead>(ptr: &UserPtr<Message, A>, m: &mut Message) -> KResult<()> {
    ptr.read_part(m, 0..FIRST_READ)
}

/// Reads the rest of the payload the header read into `m` announces: `EINVAL` if `len`
/// is too big. `reply` is the kernel's to set, so it becomes `NO_HANDLE`.
#[inline]
fn read_rest<A: CanRead>(ptr: &UserPtr<Message, A>, m: &mut Message) -> KResult<()> {
    let len = m.len as usize;
    if len > INLINE_BYTES {
        return Err(Errno::EINVAL);
    }
    if len > SHORT {
        ptr.read_part(m, FIRST_READ..HEADER_BYTES + len)?;
    }
    m.reply = NO_HANDLE;
    Ok(())
}

/// Reads a message to send from `ptr` into `m`: its header and its `len` data bytes (the
/// rest of the user's buffer is not read; a short payload comes with the header in one
/// copy). `EFAULT` for a bad pointer, then `EINVAL` if `len` is too big.
#[inline]
fn read_message(ptr: &UserPtr<Message, ReadOnly>, m: &mut Message) -> KResult<()> {
    read_head(ptr, m)?;
    read_rest(ptr, m)
}

/// [`read_message`] for a buffer the answer comes back in (the reply, or the next
/// message): also `EFAULT`, before `EINVAL`, unless the whole `Message` can be written.
#[inline]
fn read_message_rw(ptr: &UserPtr<Message, ReadWrite>, m: &mut Message) -> KResult<()> {
    read_head(ptr, m)?;
    ptr.probe_writable_as(m)?;
    read_rest(ptr, m)
}

/// Writes a received message to `ptr`: its header and `len` data bytes; the rest of the
/// user's buffer keeps its bytes.
fn write_message<A: CanWrite>(ptr: &UserPtr<Message, A>, m: &Message) -> KResult<()> {
    let len = (m.len as usize).min(INLINE_BYTES);
    ptr.write_part(m, 0..HEADER_BYTES + len)
}

fn me() -> KResult<Arc<Process>> {
    task::current_process().ok_or(Errno::ESRCH)
}

fn handle_arg(h: usize) -> KResult<u32> {
    u32::try_from(h).map_err(|_| Errno::EBADF)
}

/// The port behind `h` in `table` if the handle has `needed`: `EBADF`, `EACCES`, or
/// `EINVAL` for a reply or memory handle. The one rights check of the port syscalls.
fn port_in(table: &Handles, h: usize, needed: u32) -> KResult<Arc<Port>> {
    let h = handle_arg(h)?;
    match table.get(h, needed).map_err(handle_errno)? {
        KObject::Port(r) => Ok(r.port.clone()),
        KObject::Reply(_) => Err(Errno::EINVAL),
        KObject::Memory(_)
        | KObject::Tensor(_)
        | KObject::Job(_)
        | KObject::Graph(_)
        | KObject::Nic(_) => Err(Errno::EINVAL),
    }
}

/// [`port_in`] the caller's table, with the badge messages sent through `h` carry (0:
/// none).
fn badged_port_of(p: &Process, h: usize, needed: u32) -> KResult<(Arc<Port>, u32)> {
    let h = handle_arg(h)?;
    match p.handles.lock().get(h, needed).map_err(handle_errno)? {
        KObject::Port(r) => Ok((r.port.clone(), r.badge())),
        // Replies, memory, tensors, jobs, graphs, NICs: not a port.
        _ => Err(Errno::EINVAL),
    }
}

/// The reply port behind reply handle `h`: `EBADF`, `EACCES` (no send right), `EINVAL`
/// (not a reply handle).
fn reply_in(table: &Handles, h: u32) -> KResult<&Arc<ReplyPort>> {
    match table.get(h, RIGHT_SEND).map_err(handle_errno)? {
        KObject::Reply(r) => Ok(&r.0),
        KObject::Port(_) => Err(Errno::EINVAL),
        KObject::Memory(_)
        | KObject::Tensor(_)
        | KObject::Job(_)
        | KObject::Graph(_)
        | KObject::Nic(_) => Err(Errno::EINVAL),
    }
}

/// Handles `msg` asks to move.
fn carried(msg: &Message) -> usize {
    msg.handles.iter().filter(|&&h| h != NO_HANDLE).count()
}

pub fn sys_port_create(capacity: usize) -> KResult<usize> {
    let p = me()?;
    let port = Port::new(capacity, Some(&p.usage))?;
    let obj = KObject::Port(PortRef::new(port, RIGHTS_ALL));
    let h = p
        .handles
        .lock()
        .insert(obj, RIGHTS_ALL)
        .map_err(handle_errno)?;
    Ok(h as usize)
}

/// Sends `msg` (moving its handles out of `p`'s table, with `reply` for a call): straight
/// to a waiting receiver, whose thread is returned to be run, or into the queue, waiting
/// for room until `deadline`. The carried handles are checked first.
fn send(
    p: &Process,
    (port, badge): (&Port, u32),
    msg: &Message,
    mut reply: Option<ReplyRef>,
    deadline: Deadline,
) -> KResult<Option<Arc<Thread>>> {
    let moves = carried(msg) > 0;
    loop {
        let r = if moves {
            let mut table = p.handles.lock();
            check_transfer(&table, msg)?;
            port.deliver(|km| {
                km.fill(msg, reply.take(), badge);
                km.objs = Some(take_transfer(&mut table, msg));
            })
        } else {
            port.deliver(|km| km.fill(msg, reply.take(), badge))
        };
        match r {
            Ok(receiver) => return Ok(receiver),
            Err(DeliverError::Closed) => return Err(Errno::EPIPE),
            Err(DeliverError::NoMemory) => return Err(Errno::ENOMEM),
            Err(DeliverError::Full) => {}
        }
        match deadline {
            Deadline::Now => return Err(Errno::ENOSPC),
            Deadline::At(t) if crate::arch::uptime_ns() >= t => return Err(Errno::ETIMEDOUT),
            _ => {
                port.wait_for_room(deadline);
                if task::signal::interrupted() {
                    return Err(Errno::EINTR);
                }
            }
        }
    }
}

pub fn sys_port_send(h: usize, ptr: usize, timeout_ns: u64) -> KResult<usize> {
    let p = me()?;
    let mut msg = Message::new(0);
    read_message(&UserPtr::new(ptr)?, &mut msg)?;
    let (port, badge) = badged_port_of(&p, h, RIGHT_SEND)?;
    let deadline = Deadline::from_timeout(timeout_ns);
    if let Some(receiver) = send(&p, (&port, badge), &msg, None, deadline)? {
        sched::wake(&receiver);
    }
    Ok(0)
}

/// Receives on `port` into `w` (running `next` if it blocks, else waking it), installs
/// the message's handles in `p`'s table (which has room: checked before) and writes the
/// message to `ptr`. Returns the badge it was sent with (0: none).
fn receive<A: CanWrite>(
    p: &Process,
    port: &Port,
    w: &mut RecvWaiter<'_>,
    ptr: &UserPtr<Message, A>,
    deadline: Deadline,
    next: Option<Arc<Thread>>,
) -> KResult<u32> {
    match port.receive(w, deadline, next) {
        Ok(()) => {}
        Err(RecvError::Closed) => return Err(Errno::EPIPE),
        Err(RecvError::Empty) if deadline == Deadline::Now => return Err(Errno::EAGAIN),
        Err(RecvError::Empty) => return Err(Errno::ETIMEDOUT),
        Err(RecvError::Interrupted) => return Err(Errno::EINTR),
    }
    let km = w.message();
    // A notice's queue slot is free once it is received.
    drop(km.notice.take());
    if km.objs.is_some() {
        install(&mut p.handles.lock(), km);
    } else if let Some(r) = km.reply.take() {
        // A plain call: just the reply right.
        let h = p.handles.lock().insert(KObject::Reply(r), RIGHT_SEND);
        km.msg.reply = h.unwrap_or(NO_HANDLE);
    }
    if write_message(ptr, &km.msg).is_err() {
        // Checked writable before; only a concurrent unmap gets here. The handles stay
        // in the table.
        log::warn!("port_recv: message buffer vanished; message lost");
        return Err(Errno::EFAULT);
    }
    Ok(km.badge)
}

pub fn sys_port_recv(h: usize, ptr: usize, timeout_ns: u64) -> KResult<usize> {
    let p = me()?;
    let ptr = UserPtr::<Message, WriteOnly>::new(ptr)?;
    ptr.probe_writable()?;
    let port = {
        let table = p.handles.lock();
        let port = port_in(&table, h, RIGHT_RECV)?;
        if table.room() < DELIVERY_ROOM {
            return Err(Errno::ENOMEM);
        }
        port
    };
    let mut own = MsgBuf::take(&p);
    let mut w = RecvWaiter::new(own.buffer());
    let r = receive(
        &p,
        &port,
        &mut w,
        &ptr,
        Deadline::from_timeout(timeout_ns),
        None,
    );
    drop(w);
    own.put_back(&p);
    r.map(|badge| badge as usize)
}

pub fn sys_port_call(h: usize, ptr: usize, timeout_ns: u64) -> KResult<usize> {
    let p = me()?;
    let ptr = UserPtr::<Message, ReadWrite>::new(ptr)?;
    let mut own = MsgBuf::take_for_call(&p);
    let r = call(&p, &mut own, h, &ptr, timeout_ns);
    own.put_back(&p);
    r.map(|()| 0)
}

/// `port_call` with the process's message buffer `own`, which holds the request and then
/// the reply.
fn call(
    p: &Process,
    own: &mut MsgBuf,
    h: usize,
    ptr: &UserPtr<Message, ReadWrite>,
    timeout_ns: u64,
) -> KResult<()> {
    read_message_rw(ptr, &mut own.buffer().msg)?;
    let (port, badge) = badged_port_of(p, h, RIGHT_SEND)?;
    let deadline = Deadline::from_timeout(timeout_ns);
    // User calls are not interrupted by handled signals (callers do not expect EINTR
    // from a call whose request may already be served); a signal that ends the process
    // (SIGKILL, a terminating default action) or the end of the calling thread gives up
    // the wait, with EINTR that the caller never sees. Waiting for queue room is
    // interrupted like a send.
    let reply = own
        .call(deadline, task::signal::fatal_pending, |req, right| {
            send(p, (&port, badge), req, Some(right), deadline)
        })
        .map_err(|e| match e {
            CallError::Send(e) => e,
            CallError::NoReply(ReplyState::Closed) => Errno::EPIPE,
            CallError::NoReply(ReplyState::Waiting) if task::signal::fatal_pending() => {
                Errno::EINTR
            }
            CallError::NoReply(ReplyState::Waiting) => Errno::ETIMEDOUT,
        })?;
    // (Checked first: taking a `None` would still move the whole array.)
    if let Some(mut objs) = reply.objs.is_some().then(|| reply.objs.take()).flatten() {
        let mut table = p.handles.lock();
        if table.room() < objs.iter().filter(|o| o.is_some()).count() {
            drop(table);
            drop(objs);
            return Err(Errno::ENOMEM);
        }
        for (slot, obj) in reply.msg.handles.iter_mut().zip(objs.iter_mut()) {
            if let Some((o, rights)) = obj.take() {
                *slot = table.insert(o, rights).unwrap_or(NO_HANDLE);
            }
        }
    }
    write_message(ptr, &reply.msg)
}

pub fn sys_port_reply(h: usize, ptr: usize) -> KResult<usize> {
    let p = me()?;
    let mut msg = Message::new(0);
    read_message(&UserPtr::new(ptr)?, &mut msg)?;
    let h = handle_arg(h)?;
    let (obj, result) = {
        let mut table = p.handles.lock();
        let rp = reply_in(&table, h)?.clone();
        if !rp.is_waiting() {
            // The caller gave up or is gone: the right is used up, nothing else moves.
            let gone = table.remove(h);
            drop(table);
            drop(gone);
            return Err(Errno::EPIPE);
        }
        let moves = carried(&msg) > 0;
        if moves {
            check_transfer(&table, &msg)?;
        }
        // If the caller gives up meanwhile (another CPU), `make` does not run and the
        // handles stay here.
        let result = rp.deliver(|km| {
            km.fill(&msg, None, 0);
            if moves {
                km.objs = Some(take_transfer(&mut table, &msg));
            }
        });
        (table.remove(h), result)
    };
    drop(obj);
    match result {
        Ok(caller) => {
            if let Some(t) = caller {
                sched::wake(&t);
            }
            Ok(0)
        }
        Err(()) => Err(Errno::EPIPE),
    }
}

/// `port_reply_recv(reply, port, msg, timeout)`: `port_reply(reply, msg)`, then
/// `port_recv(port, msg, timeout)`, in one trap. Every argument is checked before the
/// reply goes out; if the caller is gone the reply is discarded (its handles closed) and
/// the receive still happens, with `REPLY_DISCARDED` set in the result (whose other bits
/// are the next message's badge, shifted left by one). While waiting
/// for the next message the CPU goes straight to the caller that was answered.
pub fn sys_port_reply_recv(rh: usize, ph: usize, ptr: usize, timeout_ns: u64) -> KResult<usize> {
    let p = me()?;
    let ptr = UserPtr::<Message, ReadWrite>::new(ptr)?;
    let mut own = MsgBuf::take(&p);
    let r = reply_recv(&p, &mut own, rh, ph, &ptr, timeout_ns);
    own.put_back(&p);
    r
}

/// `port_reply_recv` with the process's message buffer `own`: the reply is read into it,
/// and the next message arrives there.
fn reply_recv(
    p: &Process,
    own: &mut MsgBuf,
    rh: usize,
    ph: usize,
    ptr: &UserPtr<Message, ReadWrite>,
    timeout_ns: u64,
) -> KResult<usize> {
    let buf = own.buffer();
    read_message_rw(ptr, &mut buf.msg)?;
    let rh = handle_arg(rh)?;
    let deadline = Deadline::from_timeout(timeout_ns);
    let msg = &buf.msg;
    let moves = carried(msg);
    let (port, reply_right, result) = {
        let mut table = p.handles.lock();
        let rp = reply_in(&table, rh)?;
        let port = port_in(&table, ph, RIGHT_RECV)?;
        if moves > 0 {
            check_transfer(&table, msg)?;
        }
        // Room for what the next message may bring, once the reply handle and the
        // reply's handles have left.
        if table.room() + 1 + moves < DELIVERY_ROOM {
            return Err(Errno::ENOMEM);
        }
        if moves == 0 {
            let result = rp.deliver(|km| km.fill(msg, None, 0));
            (port, table.remove(rh), result)
        } else {
            let rp = rp.clone();
            let mut objs: Option<Objects> = Some(take_transfer(&mut table, msg));
            let result = rp.deliver(|km| {
                km.fill(msg, None, 0);
                km.objs = objs.take();
            });
            let removed = table.remove(rh);
            drop(table);
            // Still here if the caller is gone: the reply's handles close, unlocked.
            drop(objs);
            (port, removed, result)
        }
    };
    drop(reply_right);
    let (caller, status) = match result {
        Ok(caller) => (caller, 0),
        Err(()) => (None, REPLY_DISCARDED),
    };
    let mut w = RecvWaiter::new(buf);
    let badge = receive(p, &port, &mut w, ptr, deadline, caller)?;
    Ok((badge as usize) << 1 | status)
}

/// `port_badge(handle, badge)`: a new send handle (send and grant rights) to the port
/// behind `handle`, which needs the receive right (only a receiver names its clients),
/// stamped with `badge` (`1..=u32::MAX`, else `EINVAL`). `ENOMEM` when the table is full.
pub fn sys_port_badge(h: usize, badge: usize) -> KResult<usize> {
    let p = me()?;
    let badge = u32::try_from(badge)
        .ok()
        .filter(|&b| b != 0)
        .ok_or(Errno::EINVAL)?;
    let mut table = p.handles.lock();
    let port = port_in(&table, h, RIGHT_RECV)?;
    // Room first, so that a refused handle never has to drop (and notify) under the lock.
    if table.room() == 0 {
        return Err(Errno::ENOMEM);
    }
    let obj = KObject::Port(PortRef::badged(port, badge)?);
    let h = table
        .insert(obj, RIGHT_SEND | RIGHT_GRANT)
        .map_err(handle_errno)?;
    Ok(h as usize)
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

/// Reads a service name: `EINVAL` if empty, `ENAMETOOLONG` past `NAME_MAX` (both before
/// the pointer is looked at), `EFAULT`.
fn read_name(ptr: usize, len: usize) -> KResult<alloc::vec::Vec<u8>> {
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    if len > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    UserSlice::<ReadOnly>::new(ptr, len)?.read_vec()
}

/// Heap bytes a registered name costs besides its text: the entry and its share of the
/// registry's tree nodes.
const NS_ENTRY_BYTES: usize = 128;

pub fn sys_ns_register(name: usize, len: usize, h: usize) -> KResult<usize> {
    let p = me()?;
    let name = read_name(name, len)?;
    // Defect 11: a system name (`console`, ...) is not for whoever registers it first.
    if wayos_abi::caps::is_system_name(&name) {
        super::gate::require(wayos_abi::caps::NS_SYSTEM)?;
    }
    let (port, badge) = badged_port_of(&p, h, RIGHT_SEND | RIGHT_GRANT)?;
    // A name is for the port's own door; a badge names one of its objects.
    if badge != 0 {
        return Err(Errno::EINVAL);
    }
    if port.is_closed() {
        return Err(Errno::EPIPE);
    }
    let charge = p.usage.charge(Kind::Names, 1)?;
    crate::mm::reserve::admit(name.len() + NS_ENTRY_BYTES)?;
    let entry = NsEntry {
        port,
        owner: p.pid,
        required: AtomicU32::new(0),
        _charge: Some(charge),
    };
    let r = NAMES.lock().register(&name, entry).map_err(name_errno);
    r.map(|()| 0)
}

pub fn sys_ns_lookup(name: usize, len: usize) -> KResult<usize> {
    let p = me()?;
    let name = read_name(name, len)?;
    let (port, required) = NAMES
        .lock()
        .lookup(&name)
        .map(|e| (e.port.clone(), e.required.load(Ordering::Acquire)))
        .map_err(name_errno)?;
    if port.is_closed() {
        return Err(Errno::ENOENT);
    }
    // The server's access rule: without a send handle a process cannot reach the port
    // (it could only be handed one by a process that may).
    if !p.has_caps(required) {
        return Err(Errno::EACCES);
    }
    let obj = KObject::Port(PortRef::new(port, RIGHT_SEND));
    let h = p
        .handles
        .lock()
        .insert(obj, RIGHT_SEND)
        .map_err(handle_errno)?;
    Ok(h as usize)
}

/// `ns_require(name, len, caps)`: from now on only processes holding `caps` may look the
/// name up. `EPERM` unless the caller registered it; `EINVAL` for an undefined bit.
pub fn sys_ns_require(name: usize, len: usize, caps: usize) -> KResult<usize> {
    let p = me()?;
    let caps = u32::try_from(caps)
        .ok()
        .filter(|c| c & !wayos_abi::caps::ALL == 0)
        .ok_or(Errno::EINVAL)?;
    let name = read_name(name, len)?;
    let names = NAMES.lock();
    let entry = names.lookup(&name).map_err(name_errno)?;
    if entry.owner != p.pid {
        return Err(Errno::EPERM);
    }
    entry.required.store(caps, Ordering::Release);
    Ok(0)
}
