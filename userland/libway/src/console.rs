//! The console server's client side: binding the device (for the server itself), and the
//! controls a shell uses (which program Ctrl-C interrupts, cooked or raw input).
//!
//! Reading and writing the console needs nothing from here: stdin, stdout and stderr are
//! stream fds to the server (init sets them up), so `io::read`/`io::write` reach it.

use wayos_abi::console::{MODE_COOKED, MODE_RAW, NAME, SET_FOREGROUND, SET_MODE};

use crate::errno::Errno;
use crate::ipc::{ns, MessageExt, Port, Timeout};
use crate::sys::MemFree;

/// `console_bind(fd, port)`: the console device's input goes to `port` as
/// `console::INPUT` messages. `fd` must be the console device (`ENOTTY`).
pub fn bind(fd: usize, port: &Port) -> Result<(), Errno> {
    crate::sys::call2(MemFree::CONSOLE_BIND, fd, port.raw() as usize).map(|_| ())
}

/// Calls the console server with `label` and `payload`; its reply label is 0 or an errno.
fn control(label: u64, payload: &[u8]) -> Result<(), Errno> {
    let port = ns::lookup(NAME)?;
    let mut msg = wayos_abi::ipc::Message::with_bytes(label, payload)?;
    port.call(&mut msg, Timeout::Forever)?;
    match msg.label {
        0 => Ok(()),
        e => Err(Errno(wayos_abi::errno::from_reply_label(e))),
    }
}

/// Makes process group `pgid` the one Ctrl-C interrupts (0: none).
pub fn set_foreground(pgid: usize) -> Result<(), Errno> {
    control(SET_FOREGROUND, &(pgid as u64).to_le_bytes())
}

/// Raw input (bytes as typed, no echo) or cooked (line editing by the server).
pub fn set_raw(raw: bool) -> Result<(), Errno> {
    control(SET_MODE, &[if raw { MODE_RAW } else { MODE_COOKED }])
}
