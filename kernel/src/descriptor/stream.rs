//! Stream fds: each `read` or `write` is one call to a server's port in the
//! `wayos_abi::stream` protocol (the console server and netd speak it), and `fd_call`
//! passes the server's own requests (`syscall/fd.rs`). The fd holds a send right to the
//! port (with its badge, if the handle had one); when the server dies, reads and writes
//! fail with `EPIPE`.
//!
//! When the last descriptor of a stream closes, the server hears `stream::CLOSE` once: for
//! a badged handle from the badge's last reference ([`crate::ipc::port::Badge`], which
//! counts handle duplicates too), else from this stream's drop. Either way it is a kernel
//! notice that no full queue can lose and nothing here waits for.

use wayos_abi::ipc::Message;
use wayos_abi::stream::{CHUNK, CLOSE, READ, WRITE};

use super::File;
use crate::error::{Errno, KResult};
use crate::ipc::port::PortRef;

pub struct PortStream {
    port: PortRef,
}

impl PortStream {
    pub fn new(port: PortRef) -> Self {
        Self { port }
    }

    /// The port reference (for `fd_call`).
    pub fn port(&self) -> &PortRef {
        &self.port
    }

    fn call(&self, msg: Message) -> KResult<Message> {
        let reply = crate::ipc::kernel_call(&self.port, msg)?;
        match reply.label {
            0 => Ok(reply),
            e => Err(Errno(wayos_abi::errno::from_reply_label(e))),
        }
    }
}

impl Drop for PortStream {
    fn drop(&mut self) {
        // A badged stream's close comes from its badge (see the module docs).
        if self.port.badge() == 0 {
            self.port.port.notice(CLOSE, 0);
        }
    }
}

/// The reply's `data[..4]` as a count, bounded by `max`.
fn count(reply: &Message, max: usize) -> KResult<usize> {
    let bytes: [u8; 4] = reply.data[..4].try_into().expect("4 bytes");
    let n = u32::from_le_bytes(bytes) as usize;
    // A server claiming more than it was given is broken; do not trust it.
    if n > max {
        return Err(Errno::EIO);
    }
    Ok(n)
}

impl File for PortStream {
    fn as_port_stream(&self) -> Option<&PortStream> {
        Some(self)
    }

    fn read(&self, buf: &mut [u8]) -> KResult<usize> {
        let want = buf.len().min(CHUNK);
        let mut msg = Message::new(READ);
        msg.data[..4].copy_from_slice(&(want as u32).to_le_bytes());
        msg.len = 4;
        let reply = self.call(msg)?;
        let n = (reply.len as usize).min(want);
        if reply.len as usize > want {
            return Err(Errno::EIO);
        }
        buf[..n].copy_from_slice(&reply.data[..n]);
        Ok(n)
    }

    fn write(&self, buf: &[u8]) -> KResult<usize> {
        let mut done = 0;
        for chunk in buf.chunks(CHUNK) {
            let mut msg = Message::new(WRITE);
            msg.data[..chunk.len()].copy_from_slice(chunk);
            msg.len = chunk.len() as u32;
            let reply = match self.call(msg) {
                Ok(r) => r,
                Err(e) if done == 0 => return Err(e),
                Err(_) => return Ok(done),
            };
            let n = count(&reply, chunk.len())?;
            done += n;
            if n < chunk.len() {
                break;
            }
        }
        Ok(done)
    }
}
