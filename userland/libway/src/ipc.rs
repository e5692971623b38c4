//! IPC client API: ports, messages, call/reply and the name service.
//!
//! - [`Port`] owns one handle (closed on drop). [`Port::create`] makes a port with every
//!   right; [`Port::dup`] makes a second handle with a subset of the rights.
//! - [`Port::send`], [`Port::recv`] and [`Port::call`] take a [`Timeout`]:
//!   [`Timeout::NonBlocking`] never waits, [`Timeout::After`] gives up with `ETIMEDOUT`,
//!   [`Timeout::Forever`] waits until the operation can complete (or the other side is
//!   gone: `EPIPE`).
//! - A received call carries a one-shot reply right: [`MessageExt::take_reply`] turns it
//!   into a [`ReplyHandle`], which [`reply`] consumes — or [`reply_recv`], which also
//!   waits for the next message (a server's loop, in one syscall per call). Dropping it
//!   unanswered closes it, so the caller is released with an error instead of waiting
//!   forever.
//! - [`MessageExt`] puts bytes, words and handles into a [`Message`] and reads them back.
//! - [`ns`] registers and looks up ports by name.
//!
//! Handles are not inherited by `fork` (a child looks its server up by name); a handle
//! put into a message moves to the receiver when the send succeeds. Layouts, rights,
//! limits and errno values are `wayos_abi::ipc` / `wayos_abi::errno`, the semantics are
//! `docs/ipc.md`; the kernel checks every argument, this module only wraps the calls.

use core::time::Duration;

use wayos_abi::errno::EINVAL;
use wayos_abi::ipc::WAIT_FOREVER;
pub use wayos_abi::ipc::{
    Message, INLINE_BYTES, MAX_CAPACITY, MAX_HANDLES, NAME_MAX, NO_HANDLE, RIGHTS_ALL, RIGHT_GRANT,
    RIGHT_RECV, RIGHT_SEND,
};
use wayos_abi::sys;
use wayos_abi::zerocopy::{FromBytes, IntoBytes};

use crate::errno::Errno;
use crate::sys::MemFree;

/// How long a send, receive or call may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// Do not wait: fail at once if the operation cannot complete now.
    NonBlocking,
    /// Wait at most this long, then fail with `ETIMEDOUT`. A zero duration is
    /// [`Timeout::NonBlocking`].
    After(Duration),
    /// Wait as long as it takes.
    Forever,
}

impl Timeout {
    /// [`Timeout::After`] `ms` milliseconds.
    pub const fn ms(ms: u64) -> Self {
        Timeout::After(Duration::from_millis(ms))
    }

    /// [`Timeout::After`] `ns` nanoseconds.
    pub const fn ns(ns: u64) -> Self {
        Timeout::After(Duration::from_nanos(ns))
    }

    /// The `timeout_ns` syscall argument: 0 for no wait, `WAIT_FOREVER` for no limit;
    /// finite durations stop just short of `WAIT_FOREVER`.
    pub const fn as_ns(self) -> u64 {
        match self {
            Timeout::NonBlocking => 0,
            Timeout::Forever => WAIT_FOREVER,
            Timeout::After(d) => {
                let ns = d.as_nanos();
                if ns >= WAIT_FOREVER as u128 {
                    WAIT_FOREVER - 1
                } else {
                    ns as u64
                }
            }
        }
    }
}

/// `handle_close(handle)`: any handle of this process (port, memory object, tensor,
/// graph, job) — one handle table, so the handle wrappers of `grant`, `ai` and `infer`
/// close through here too.
pub(crate) fn close_raw(handle: u32) -> Result<(), Errno> {
    crate::sys::call1(MemFree::HANDLE_CLOSE, handle as usize).map(drop)
}

/// A handle number from a syscall result (handles are 32-bit in messages); `EIO` for an
/// answer no handle can be.
pub(crate) fn handle_from(raw: usize) -> Result<u32, Errno> {
    u32::try_from(raw)
        .ok()
        .filter(|&h| h != NO_HANDLE)
        .ok_or(Errno(wayos_abi::errno::EIO))
}

/// One port handle of this process, with the rights it was created or duplicated with.
/// Closed when dropped.
#[derive(Debug, PartialEq, Eq)]
pub struct Port {
    handle: u32,
}

impl Port {
    /// `port_create(capacity)`: a new port whose queue holds `capacity` messages (at most
    /// `MAX_CAPACITY`), with send, receive and grant rights.
    pub fn create(capacity: usize) -> Result<Port, Errno> {
        let raw = crate::sys::call1(MemFree::PORT_CREATE, capacity)?;
        Ok(Port {
            handle: handle_from(raw)?,
        })
    }

    /// Takes ownership of a raw handle (for example one received in a message): the
    /// returned `Port` closes it when dropped.
    pub const fn from_raw(handle: u32) -> Port {
        Port { handle }
    }

    /// The handle number, still owned by `self`.
    pub const fn raw(&self) -> u32 {
        self.handle
    }

    /// Gives up ownership: returns the handle number without closing it.
    pub fn into_raw(self) -> u32 {
        let h = self.handle;
        core::mem::forget(self);
        h
    }

    /// `port_send(handle, msg, timeout)`. Needs the send right. Handles in `msg.handles`
    /// (other than `NO_HANDLE`) travel with the message and need the grant right.
    ///
    /// Errors: `ENOSPC` when the queue is full and `timeout` is non-blocking, `ETIMEDOUT`
    /// when it stayed full for the whole timeout, `EPIPE` when nobody can receive any more.
    pub fn send(&self, msg: &Message, timeout: Timeout) -> Result<(), Errno> {
        // SAFETY: the kernel only reads one `Message` from `msg`, borrowed for the call.
        unsafe { self.message_call(sys::PORT_SEND, crate::sys::arg_in(msg), timeout) }
    }

    /// One of the message syscalls (send, recv, call) on this port.
    ///
    /// # Safety
    ///
    /// `msg` must point to a `Message` the kernel may read (send) or read and write
    /// (recv, call) for the duration of the call.
    unsafe fn message_call(&self, n: usize, msg: usize, timeout: Timeout) -> Result<(), Errno> {
        // SAFETY: forwarded contract; the other arguments are plain integers.
        unsafe {
            crate::sys::call(
                n,
                [self.handle as usize, msg, timeout.as_ns() as usize, 0, 0, 0],
            )
        }
        .map(drop)
    }

    /// `port_recv(handle, msg, timeout)`: the oldest queued message into `msg`. Needs the
    /// receive right. Received handles (and a call's reply right) now belong to this
    /// process; take them with [`MessageExt::take_handle`] / [`MessageExt::take_reply`].
    ///
    /// Errors: `EAGAIN` when the queue is empty and `timeout` is non-blocking,
    /// `ETIMEDOUT` when it stayed empty for the whole timeout, `EPIPE` when the port is
    /// closed and empty. On any error nothing was dequeued.
    pub fn recv(&self, msg: &mut Message, timeout: Timeout) -> Result<(), Errno> {
        self.recv_badged(msg, timeout).map(drop)
    }

    /// [`Port::recv`], returning the badge of the handle the message came through (0: an
    /// unbadged handle, or the kernel; see [`Port::badge`]).
    pub fn recv_badged(&self, msg: &mut Message, timeout: Timeout) -> Result<u32, Errno> {
        let args = [
            self.handle as usize,
            crate::sys::arg_out(msg),
            timeout.as_ns() as usize,
            0,
            0,
            0,
        ];
        // SAFETY: the kernel writes one `Message` into `msg`, borrowed mutably; every bit
        // pattern is a valid `Message` (integers only).
        let r = unsafe { crate::sys::call(sys::PORT_RECV, args) }?;
        Ok(r as u32)
    }

    /// `port_badge(handle, badge)`: a new send handle (send and grant rights) to this
    /// port, which this handle must be able to receive from, stamped with `badge`
    /// (`1..=u32::MAX`). Messages through it, its duplicates and stream fds made from them
    /// arrive with `badge` ([`Port::recv_badged`]); when the last of them goes, this port
    /// receives one `stream::CLOSE` from the kernel with the badge.
    pub fn badge(&self, badge: u32) -> Result<Port, Errno> {
        let raw = crate::sys::call2(MemFree::PORT_BADGE, self.handle as usize, badge as usize)?;
        Ok(Port {
            handle: handle_from(raw)?,
        })
    }

    /// `port_call(handle, msg, timeout)`: sends `msg` with a one-shot reply right and
    /// waits for the reply, which replaces `msg`. `EPIPE` when the server is gone or
    /// dropped the reply right unanswered; `ETIMEDOUT` when no reply came in time. One
    /// deadline covers both halves, so [`Timeout::NonBlocking`] always ends in
    /// `ETIMEDOUT`: give calls a positive timeout or [`Timeout::Forever`].
    pub fn call(&self, msg: &mut Message, timeout: Timeout) -> Result<(), Errno> {
        // SAFETY: the kernel reads the request from and writes the reply into `msg`,
        // borrowed mutably; every bit pattern is a valid `Message`.
        unsafe { self.message_call(sys::PORT_CALL, crate::sys::arg_out(msg), timeout) }
    }

    /// `handle_dup(handle, rights)`: a new handle to the same port with `rights`, which
    /// must be a subset of this handle's rights; duplicating needs the grant right.
    pub fn dup(&self, rights: u32) -> Result<Port, Errno> {
        let raw = crate::sys::call2(MemFree::HANDLE_DUP, self.handle as usize, rights as usize)?;
        Ok(Port {
            handle: handle_from(raw)?,
        })
    }

    /// Closes the handle now, reporting the error that drop would ignore.
    pub fn close(self) -> Result<(), Errno> {
        close_raw(self.into_raw())
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        // Nothing to do about a failure here; `close` reports it.
        let _ = close_raw(self.handle);
    }
}

/// The one-shot right to answer a call. Consumed by [`reply`]; closed (releasing the
/// caller with `EPIPE`) if dropped unanswered.
#[derive(Debug, PartialEq, Eq)]
pub struct ReplyHandle {
    handle: u32,
}

impl ReplyHandle {
    /// Takes ownership of a raw reply handle.
    pub const fn from_raw(handle: u32) -> ReplyHandle {
        ReplyHandle { handle }
    }

    /// The handle number, still owned by `self`.
    pub const fn raw(&self) -> u32 {
        self.handle
    }

    /// `port_reply(reply, msg)`; see [`reply`].
    pub fn reply(self, msg: &Message) -> Result<(), ReplyError> {
        reply(self, msg)
    }

    /// `port_reply_recv(reply, port, msg, timeout)`; see [`reply_recv`].
    pub fn reply_recv(
        self,
        port: &Port,
        msg: &mut Message,
        timeout: Timeout,
    ) -> Result<Replied, ReplyError> {
        reply_recv(self, port, msg, timeout)
    }

    /// [`ReplyHandle::reply_recv`], also returning the next message's badge.
    pub fn reply_recv_badged(
        self,
        port: &Port,
        msg: &mut Message,
        timeout: Timeout,
    ) -> Result<(Replied, u32), ReplyError> {
        reply_recv_badged(self, port, msg, timeout)
    }
}

impl Drop for ReplyHandle {
    fn drop(&mut self) {
        let _ = close_raw(self.handle);
    }
}

/// A failed [`reply`]: the error and, unless the kernel consumed it anyway, the right to
/// try again.
#[derive(Debug)]
pub struct ReplyError {
    pub errno: Errno,
    pub handle: Option<ReplyHandle>,
}

/// `port_reply(reply, msg)`: answers the call `reply` came with. On success the right is
/// used up. On `EPIPE` (the caller is gone) it is gone too; on any other error it comes
/// back in the error, to retry with a corrected message or to drop.
pub fn reply(reply: ReplyHandle, msg: &Message) -> Result<(), ReplyError> {
    let handle = reply.handle;
    // SAFETY: the kernel only reads one `Message` from `msg`.
    let r = unsafe {
        crate::sys::call(
            sys::PORT_REPLY,
            [handle as usize, crate::sys::arg_in(msg), 0, 0, 0, 0],
        )
    };
    match r {
        Ok(_) => {
            core::mem::forget(reply);
            Ok(())
        }
        Err(errno) if errno.code() == wayos_abi::errno::EPIPE => {
            // The caller is gone; the kernel has dropped the right.
            core::mem::forget(reply);
            Err(ReplyError {
                errno,
                handle: None,
            })
        }
        Err(errno) => Err(ReplyError {
            errno,
            handle: Some(reply),
        }),
    }
}

/// What became of the reply of a successful [`reply_recv`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replied {
    /// The caller got it.
    Delivered,
    /// The caller had gone (it timed out, or exited): the reply was dropped and the
    /// handles it carried were closed.
    Discarded,
}

/// `port_reply_recv(reply, port, msg, timeout)`: answers the call `reply` came with
/// using `msg`, then receives the next message on `port` into `msg`, as [`reply`] and
/// [`Port::recv`] would in turn, but in one syscall — the usual server loop, and the fast
/// path of a call: while this waits, the CPU goes straight to the caller it answered.
/// `timeout` bounds only the receive. `port` needs the receive right.
///
/// A caller that has gone does not stop the receive: the reply is discarded and the
/// result is [`Replied::Discarded`].
///
/// Errors come in two kinds, told apart by [`ReplyError::handle`]:
/// - `Some`: nothing happened (bad message, bad handle or missing right, a reply handle
///   given as `port` or the other way round, `ENOMEM` when the handle table could not
///   take the next message's handles). `msg` is unchanged; the right comes back.
/// - `None`: the reply was handled (delivered or discarded), then the receive failed:
///   `EAGAIN` / `ETIMEDOUT` (nothing came) or `EPIPE` (the port closed). `msg` still holds
///   the reply.
pub fn reply_recv(
    reply: ReplyHandle,
    port: &Port,
    msg: &mut Message,
    timeout: Timeout,
) -> Result<Replied, ReplyError> {
    reply_recv_badged(reply, port, msg, timeout).map(|(r, _)| r)
}

/// [`reply_recv`], also returning the badge the next message came with (see
/// [`Port::recv_badged`]).
pub fn reply_recv_badged(
    reply: ReplyHandle,
    port: &Port,
    msg: &mut Message,
    timeout: Timeout,
) -> Result<(Replied, u32), ReplyError> {
    let args = [
        reply.handle as usize,
        port.raw() as usize,
        crate::sys::arg_out(msg),
        timeout.as_ns() as usize,
        0,
        0,
    ];
    // SAFETY: the kernel reads the reply from and writes the next message into `msg`,
    // borrowed mutably; every bit pattern is a valid `Message`.
    let r = unsafe { crate::sys::call(sys::PORT_REPLY_RECV, args) };
    match r {
        Ok(n) => {
            core::mem::forget(reply);
            let replied = if n & wayos_abi::ipc::REPLY_DISCARDED != 0 {
                Replied::Discarded
            } else {
                Replied::Delivered
            };
            Ok((replied, (n >> 1) as u32))
        }
        Err(errno)
            if matches!(
                errno.code(),
                wayos_abi::errno::EAGAIN | wayos_abi::errno::ETIMEDOUT | wayos_abi::errno::EPIPE
            ) =>
        {
            // Only the receive failed; the kernel used the right up.
            core::mem::forget(reply);
            Err(ReplyError {
                errno,
                handle: None,
            })
        }
        // Argument errors. (An `EFAULT` after the reply went out — another thread unmapped
        // the buffer meanwhile — also lands here; the handle number is then stale, and
        // closing it is harmless.)
        Err(errno) => Err(ReplyError {
            errno,
            handle: Some(reply),
        }),
    }
}

/// Filling and reading [`Message`]s.
pub trait MessageExt {
    /// A message with `label` and `bytes` as inline payload; `EINVAL` if longer than
    /// `INLINE_BYTES`.
    fn with_bytes(label: u64, bytes: &[u8]) -> Result<Message, Errno>;
    /// A message with `label` and `words` (native-endian u64s) as inline payload.
    fn with_words(label: u64, words: &[u64]) -> Result<Message, Errno>;
    /// Replaces the payload with `bytes`; `EINVAL` (message unchanged) if too long.
    fn set_bytes(&mut self, bytes: &[u8]) -> Result<(), Errno>;
    /// Replaces the payload with `words`.
    fn set_words(&mut self, words: &[u64]) -> Result<(), Errno>;
    /// The payload (`len` bytes, clamped to `INLINE_BYTES`).
    fn bytes(&self) -> &[u8];
    /// Payload word `i`, if the payload holds it.
    fn word(&self, i: usize) -> Option<u64>;
    /// Puts a handle into the first free slot; gives it back if every slot is taken.
    /// After a successful send the handle has left this process.
    fn attach(&mut self, port: Port) -> Result<usize, Port>;
    /// Takes the handle in slot `i` (leaving `NO_HANDLE`): received handles belong to
    /// the receiver.
    fn take_handle(&mut self, i: usize) -> Option<Port>;
    /// Takes the one-shot reply right of a received call (leaving `NO_HANDLE`).
    fn take_reply(&mut self) -> Option<ReplyHandle>;
}

impl MessageExt for Message {
    fn with_bytes(label: u64, bytes: &[u8]) -> Result<Message, Errno> {
        let mut m = Message::new(label);
        m.set_bytes(bytes)?;
        Ok(m)
    }

    fn with_words(label: u64, words: &[u64]) -> Result<Message, Errno> {
        let mut m = Message::new(label);
        m.set_words(words)?;
        Ok(m)
    }

    fn set_bytes(&mut self, bytes: &[u8]) -> Result<(), Errno> {
        if bytes.len() > INLINE_BYTES {
            return Err(Errno(EINVAL));
        }
        self.data[..bytes.len()].copy_from_slice(bytes);
        self.len = bytes.len() as u32;
        Ok(())
    }

    fn set_words(&mut self, words: &[u64]) -> Result<(), Errno> {
        self.set_bytes(words.as_bytes())
    }

    fn bytes(&self) -> &[u8] {
        let len = (self.len as usize).min(INLINE_BYTES);
        &self.data[..len]
    }

    fn word(&self, i: usize) -> Option<u64> {
        u64::read_from_bytes(self.bytes().get(i * 8..i * 8 + 8)?).ok()
    }

    fn attach(&mut self, port: Port) -> Result<usize, Port> {
        match self.handles.iter().position(|&h| h == NO_HANDLE) {
            Some(i) => {
                self.handles[i] = port.into_raw();
                Ok(i)
            }
            None => Err(port),
        }
    }

    fn take_handle(&mut self, i: usize) -> Option<Port> {
        let slot = self.handles.get_mut(i)?;
        let h = core::mem::replace(slot, NO_HANDLE);
        (h != NO_HANDLE).then_some(Port::from_raw(h))
    }

    fn take_reply(&mut self) -> Option<ReplyHandle> {
        let h = core::mem::replace(&mut self.reply, NO_HANDLE);
        // FROM_KERNEL marks a message the kernel sent; it is not a handle.
        (h != NO_HANDLE && h != wayos_abi::ipc::FROM_KERNEL).then_some(ReplyHandle::from_raw(h))
    }
}

/// The name service: servers register a port under a name, clients look it up.
pub mod ns {
    use wayos_abi::sys;

    use super::{handle_from, Port};
    use crate::errno::Errno;

    /// `ns_register(name, port)`: needs the send and grant rights; `EEXIST` if the name
    /// is taken, `ENAMETOOLONG` beyond `NAME_MAX` bytes. The name goes away when the port
    /// closes or this process exits.
    pub fn register(name: &str, port: &Port) -> Result<(), Errno> {
        // SAFETY: the kernel only reads `name`, borrowed for the call.
        unsafe {
            crate::sys::call(
                sys::NS_REGISTER,
                [
                    name.as_ptr() as usize,
                    name.len(),
                    port.raw() as usize,
                    0,
                    0,
                    0,
                ],
            )
        }
        .map(drop)
    }

    /// `ns_lookup(name)`: a send handle to the port registered as `name`; `ENOENT` if
    /// there is none.
    pub fn lookup(name: &str) -> Result<Port, Errno> {
        // SAFETY: the kernel only reads `name`, borrowed for the call.
        let raw = unsafe {
            crate::sys::call(
                sys::NS_LOOKUP,
                [name.as_ptr() as usize, name.len(), 0, 0, 0, 0],
            )
        }?;
        Ok(Port::from_raw(handle_from(raw)?))
    }

    /// `ns_require(name, caps)`: from now on only processes holding every capability in
    /// `caps` may look `name` up (others get `EACCES`). Only the process that registered
    /// the name may set this (`EPERM`).
    pub fn require(name: &str, caps: u32) -> Result<(), Errno> {
        // SAFETY: the kernel only reads `name`, borrowed for the call.
        unsafe {
            crate::sys::call(
                sys::NS_REQUIRE,
                [name.as_ptr() as usize, name.len(), caps as usize, 0, 0, 0],
            )
        }
        .map(|_| ())
    }
}
