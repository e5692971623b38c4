//! The devices `/dev` names: `null`, `zero` and `console`.
//!
//! Opening `/dev/console` gives a stream to the console server when one is registered
//! (so the program gets the same line discipline as everyone else), and the console
//! device itself before that.

use alloc::sync::Arc;

use wayos_abi::fs::{DEV_CONSOLE, DEV_NULL, DEV_ZERO};
use wayos_abi::ipc::RIGHT_SEND;

use crate::descriptor::{ConsoleDevice, File, FileRef, PortStream};
use crate::error::{Errno, KResult};
use crate::ipc::port::PortRef;

/// `/dev/null`: reads are at end of file, writes vanish.
struct Null;

impl File for Null {
    fn read(&self, _buf: &mut [u8]) -> KResult<usize> {
        Ok(0)
    }
    fn write(&self, buf: &[u8]) -> KResult<usize> {
        Ok(buf.len())
    }
    fn is_stream(&self) -> bool {
        false
    }
}

/// `/dev/zero`: reads fill the buffer with zeros, writes vanish.
struct Zero;

impl File for Zero {
    fn read(&self, buf: &mut [u8]) -> KResult<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write(&self, buf: &[u8]) -> KResult<usize> {
        Ok(buf.len())
    }
    fn is_stream(&self) -> bool {
        false
    }
}

/// The device behind device number `rdev`; `ENXIO` for one with no driver.
pub fn open(rdev: u64) -> KResult<FileRef> {
    match rdev {
        DEV_NULL => Ok(Arc::new(Null)),
        DEV_ZERO => Ok(Arc::new(Zero)),
        DEV_CONSOLE => Ok(console()),
        _ => Err(Errno::ENXIO),
    }
}

fn console() -> FileRef {
    let port = crate::ipc::NAMES
        .lock()
        .lookup(wayos_abi::console::NAME.as_bytes())
        .ok()
        .map(|e| e.port.clone());
    match port {
        Some(p) if !p.is_closed() => Arc::new(PortStream::new(PortRef::new(p, RIGHT_SEND))),
        _ => Arc::new(ConsoleDevice),
    }
}
