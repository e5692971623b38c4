//! The kernel as an IPC client: messages it sends on its own behalf (console input, NIC
//! notifications), and calls it makes for a process's stream fd (`read`, `write`,
//! `fd_call`).
//!
//! Messages sent with [`kernel_send`] (and [`super::port::Port::notice`]) reach their
//! receiver with `reply` set to `FROM_KERNEL`, which no process can forge (the kernel
//! rewrites `reply` on every delivery), so a server can trust them. A [`kernel_call`]
//! looks like any client's call through the stream's handle, badge included.

use alloc::sync::Arc;

use wayos_abi::ipc::{Message, FROM_KERNEL};

use super::port::{DeliverError, Objects, Port, PortRef, ReplyPort, ReplyRef, ReplyState};
use super::{Deadline, KMessage};
use crate::error::{Errno, KResult};

/// Queues `msg` on `port`, waiting for room; `EPIPE` once the port is closed.
pub fn kernel_send(port: &Arc<Port>, mut msg: Message) -> KResult<()> {
    msg.reply = FROM_KERNEL;
    push(
        port,
        KMessage {
            msg,
            objs: Default::default(),
            reply: None,
            badge: 0,
            notice: None,
        },
    )
}

/// Queues `msg` on `port` if it can be done now: `EAGAIN` when the queue is full, `EPIPE`
/// once the port is closed, `ENOMEM` at the kernel reserve. Never blocks, so drivers
/// (the NIC's notifications) can use it from their own threads whatever the receiver does.
pub fn kernel_try_send(port: &Arc<Port>, mut msg: Message) -> KResult<()> {
    msg.reply = FROM_KERNEL;
    let mut km = KMessage::empty();
    km.msg = msg;
    let mut km = Some(km);
    match port.deliver(|slot| *slot = km.take().expect("delivered once")) {
        Ok(woken) => {
            if let Some(t) = woken {
                crate::task::sched::wake(&t);
            }
            Ok(())
        }
        Err(DeliverError::Full) => Err(Errno::EAGAIN),
        Err(DeliverError::Closed) => Err(Errno::EPIPE),
        Err(DeliverError::NoMemory) => Err(Errno::ENOMEM),
    }
}

/// Calls `port` with `msg` for the current process and returns the reply. Handles in the
/// reply are dropped (the stream protocol carries none). Gives up with `EINTR` when the
/// process is signalled or killed meanwhile, so a killed reader does not wait for input
/// forever.
pub fn kernel_call(port: &PortRef, msg: Message) -> KResult<Message> {
    // The reply's handles, if any, are dropped here.
    kernel_call_objs(port, msg).map(|(m, _)| m)
}

/// [`kernel_call`], keeping the objects the reply moves (by their slot in
/// `Message::handles`, whose numbers mean nothing to the kernel) for the caller to
/// install or drop — outside any lock.
pub fn kernel_call_objs(port: &PortRef, msg: Message) -> KResult<(Message, Option<Objects>)> {
    let rp = ReplyPort::new();
    push(
        &port.port,
        KMessage {
            msg,
            objs: Default::default(),
            reply: Some(ReplyRef(rp.clone())),
            badge: port.badge(),
            notice: None,
        },
    )?;
    match rp.wait(Deadline::Never, None, crate::task::signal::interrupted) {
        // Objects left in the reply port's buffer are dropped with it.
        Ok(()) => rp.take_reply().ok_or(Errno::EPIPE),
        Err(ReplyState::Closed) => Err(Errno::EPIPE),
        Err(ReplyState::Waiting) => Err(Errno::EINTR),
    }
}

/// Queues `km` once there is room; `EPIPE` if the port is or becomes closed.
fn push(port: &Arc<Port>, km: KMessage) -> KResult<()> {
    port.push(km)
}
