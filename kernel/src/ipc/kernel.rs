//! The kernel as an IPC client: messages it sends on its own behalf (console input), and
//! calls it makes for a process's stream fd.
//!
//! Messages sent with [`kernel_send`] reach their receiver with `reply` set to
//! `FROM_KERNEL`, which no process can forge (the kernel rewrites `reply` on every
//! delivery), so a server can trust them. A [`kernel_call`] looks like any client's call.

use alloc::sync::Arc;

use wayos_abi::ipc::{Message, FROM_KERNEL};

use super::port::{DeliverError, Port, ReplyPort, ReplyRef, ReplyState};
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
/// process is killed meanwhile, so a killed reader does not wait for input forever.
pub fn kernel_call(port: &Arc<Port>, msg: Message) -> KResult<Message> {
    let rp = ReplyPort::new();
    push(
        port,
        KMessage {
            msg,
            objs: Default::default(),
            reply: Some(ReplyRef(rp.clone())),
        },
    )?;
    match rp.wait(Deadline::Never, None, crate::task::signal::interrupted) {
        // The reply's handles, if any, are dropped with the reply port.
        Ok(()) => rp.reply_message().ok_or(Errno::EPIPE),
        Err(ReplyState::Closed) => Err(Errno::EPIPE),
        Err(ReplyState::Waiting) => Err(Errno::EINTR),
    }
}

/// Queues `km` once there is room; `EPIPE` if the port is or becomes closed.
fn push(port: &Arc<Port>, km: KMessage) -> KResult<()> {
    port.push(km)
}
