//! Ports and one-shot reply ports: the kernel objects behind IPC handles.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Mutex;
use wayos_kcore::ipc::PortQueue;

use super::KMessage;
use crate::error::{Errno, KResult};
use crate::task::wait_queue::WaitQueue;

/// A bounded message queue. Alive while any handle or name refers to it; *open* while at
/// least one handle with the receive right exists (in a table or in a queued message).
pub struct Port {
    queue: Mutex<PortQueue<KMessage>>,
    /// Handles with the receive right; the port closes when this drops to 0.
    receivers: AtomicUsize,
    /// Receivers waiting for a message.
    pub recv_wq: WaitQueue,
    /// Senders waiting for room.
    pub send_wq: WaitQueue,
}

impl Port {
    /// A port for `capacity` messages (`1..=MAX_CAPACITY`), else `EINVAL`.
    pub fn new(capacity: usize) -> KResult<Arc<Port>> {
        let queue = PortQueue::new(capacity).ok_or(Errno::EINVAL)?;
        Ok(Arc::new(Port {
            queue: Mutex::new(queue),
            receivers: AtomicUsize::new(0),
            recv_wq: WaitQueue::new(),
            send_wq: WaitQueue::new(),
        }))
    }

    pub fn is_closed(&self) -> bool {
        self.queue.lock().is_closed()
    }

    /// Locks the queue (lock order: after the handle table, before wait queues).
    pub fn queue(&self) -> spin::MutexGuard<'_, PortQueue<KMessage>> {
        self.queue.lock()
    }

    /// Closes the queue for good: queued messages are dropped (with their handles),
    /// every waiter wakes and sees `EPIPE`, and the port's names are removed.
    pub fn close(self: &Arc<Self>) {
        let left = self.queue.lock().close();
        self.recv_wq.wake_all();
        self.send_wq.wake_all();
        super::ns_forget_port(self);
        // Dropped here, with no lock held: the messages' handles may close other ports.
        drop(left);
    }
}

/// A handle's reference to a port. One made with the receive right counts as a receiver;
/// the last receiver to go closes the port.
pub struct PortRef {
    pub port: Arc<Port>,
    receiver: bool,
}

impl PortRef {
    pub fn new(port: Arc<Port>, rights: u32) -> Self {
        let receiver = rights & wayos_abi::ipc::RIGHT_RECV != 0;
        if receiver {
            port.receivers.fetch_add(1, Ordering::AcqRel);
        }
        Self { port, receiver }
    }

    /// A reference for a handle with `rights` (a subset of this one's).
    pub fn narrowed(&self, rights: u32) -> Self {
        Self::new(self.port.clone(), if self.receiver { rights } else { 0 })
    }
}

impl Clone for PortRef {
    fn clone(&self) -> Self {
        Self::new(
            self.port.clone(),
            if self.receiver {
                wayos_abi::ipc::RIGHT_RECV
            } else {
                0
            },
        )
    }
}

impl Drop for PortRef {
    fn drop(&mut self) {
        if self.receiver && self.port.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.port.close();
        }
    }
}

/// Where a call's reply lands. The message is stored inline so that a reused reply port
/// makes a call allocation-free.
#[allow(clippy::large_enum_variant)]
pub enum ReplyState {
    Waiting,
    Done(KMessage),
    /// The reply right was dropped unanswered, or the caller gave up.
    Closed,
}

pub struct ReplyPort {
    pub state: Mutex<ReplyState>,
    pub wq: WaitQueue,
}

impl ReplyPort {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(ReplyState::Waiting),
            wq: WaitQueue::new(),
        })
    }

    /// A reply port for a new call: `cached` when nothing else refers to it any more (no
    /// reply right is outstanding), reset to waiting; else a new one.
    pub fn reuse(cached: Option<Arc<Self>>) -> Arc<Self> {
        match cached {
            Some(rp) if Arc::strong_count(&rp) == 1 => {
                *rp.state.lock() = ReplyState::Waiting;
                rp
            }
            _ => Self::new(),
        }
    }

    /// Ends the wait: a later reply gets `EPIPE`. Returns the state before.
    pub fn finish(&self) -> ReplyState {
        core::mem::replace(&mut *self.state.lock(), ReplyState::Closed)
    }

    /// True while a reply can still be delivered.
    pub fn is_waiting(&self) -> bool {
        matches!(*self.state.lock(), ReplyState::Waiting)
    }

    /// Delivers the reply; `EPIPE` (message given back for dropping) if the caller is gone.
    #[allow(clippy::result_large_err)]
    pub fn deliver(&self, m: KMessage) -> Result<(), KMessage> {
        {
            let mut s = self.state.lock();
            if !matches!(*s, ReplyState::Waiting) {
                return Err(m);
            }
            *s = ReplyState::Done(m);
        }
        self.wq.wake_all();
        Ok(())
    }
}

/// The one-shot right to answer a call; dropping it unused releases the caller with
/// `EPIPE`.
pub struct ReplyRef(pub Arc<ReplyPort>);

impl Drop for ReplyRef {
    fn drop(&mut self) {
        let closed = {
            let mut s = self.0.state.lock();
            if matches!(*s, ReplyState::Waiting) {
                *s = ReplyState::Closed;
                true
            } else {
                false
            }
        };
        if closed {
            self.0.wq.wake_all();
        }
    }
}
