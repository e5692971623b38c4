//! A process's kernel message buffer while one IPC syscall owns it.
//!
//! Each process has one [`ReplyPort`], cached in `Process::reply_cache`, and its buffer is
//! the kernel-side copy of the message a syscall moves (see the `port` module docs).
//! [`MsgBuf`] is that port taken out of the cache for the length of one syscall. Holding
//! it is what makes touching the buffer sound, so the raw [`ReplyPort::buffer`] pointer is
//! dereferenced only here, and the syscalls (which may not use `unsafe`) get borrows of
//! the buffer tied to the token.
//!
//! Invariants: a `MsgBuf` is made only by taking the port out of the cache (or making a
//! new one), is not `Clone`, and never hands out its `Arc` except as the one-shot reply
//! right of [`MsgBuf::call`]. It must never give out a reference to the buffer while a
//! reply may be written into it.

use alloc::sync::Arc;

use wayos_abi::ipc::Message;

use super::port::{ReplyPort, ReplyRef, ReplyState};
use super::{Deadline, KMessage};
use crate::error::{Errno, KResult};
use crate::task::process::Process;
use crate::task::thread::Thread;

/// Why [`MsgBuf::call`] returned without a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The request was not sent (the error `send` gave).
    Send(Errno),
    /// It was sent, but no reply came: the right was dropped, or the wait gave up.
    NoReply(ReplyState),
}

/// The calling process's reply port and message buffer, owned by one syscall.
pub struct MsgBuf {
    rp: Arc<ReplyPort>,
    /// Taken with [`MsgBuf::take_for_call`]: no reply right to the port was out.
    for_call: bool,
}

impl MsgBuf {
    /// For a receive: the cached port, or a new one. A reply right from an earlier call may
    /// still be out; [`MsgBuf::buffer`] ends that call, so its reply cannot land here.
    pub fn take(p: &Process) -> Self {
        let cached = p.reply_cache.lock().take();
        Self {
            rp: cached.unwrap_or_else(ReplyPort::new),
            for_call: false,
        }
    }

    /// For a call: the cached port only if no reply right to it is out (a late reply to
    /// an earlier call must not land in this one), else a new one.
    pub fn take_for_call(p: &Process) -> Self {
        let cached = p.reply_cache.lock().take();
        let rp = match cached {
            Some(rp) if Arc::strong_count(&rp) == 1 => rp,
            _ => ReplyPort::new(),
        };
        Self { rp, for_call: true }
    }

    /// Puts the port back for the process's next IPC syscall.
    pub fn put_back(self, p: &Process) {
        *p.reply_cache.lock() = Some(self.rp);
    }

    /// The buffer. Ends any call on the port for good first (`finish`), so no reply can
    /// be written into it while the borrow lasts.
    pub fn buffer(&mut self) -> &mut KMessage {
        self.rp.finish();
        // SAFETY: this token owns the port (see the module invariants), and the port is
        // finished, so no replier writes the buffer (delivery needs a waiting port) and
        // no sender does (one writes only into a receiver listed on a port, whose
        // `RecvWaiter` would borrow from this `&mut self`). The borrow is tied to `&mut
        // self`, so no second reference is made here while it lives.
        unsafe { &mut *self.rp.buffer() }
    }

    /// `port_call`'s round trip, with the request already in [`MsgBuf::buffer`]: arms the
    /// port for a reply, gives `send` the request and the one-shot reply right, and waits
    /// until the reply is in the buffer (returned), the right is dropped, or `deadline`
    /// passes or `give_up` says so. While blocking it runs the receiver `send` returned.
    pub fn call(
        &mut self,
        deadline: Deadline,
        give_up: fn() -> bool,
        send: impl FnOnce(&Message, ReplyRef) -> KResult<Option<Arc<Thread>>>,
    ) -> Result<&mut KMessage, CallError> {
        assert!(
            self.for_call && Arc::strong_count(&self.rp) == 1,
            "a call needs a reply port with no reply right out"
        );
        self.rp.reset();
        // SAFETY: no reply right to the port exists until `send` hands one over with the
        // request, and the request is copied (under the destination port's lock) before
        // the right becomes visible to anyone: a reply can only be written after `send`'s
        // last read of `req`, which is not used again.
        let req = unsafe { &(*self.rp.buffer()).msg };
        let receiver = match send(req, ReplyRef(self.rp.clone())) {
            Ok(receiver) => receiver,
            Err(e) => {
                self.rp.finish();
                return Err(CallError::Send(e));
            }
        };
        self.rp
            .wait(deadline, receiver, give_up)
            .map_err(CallError::NoReply)?;
        // The reply is in; `buffer` finishes the port, so it stays put.
        Ok(self.buffer())
    }
}
