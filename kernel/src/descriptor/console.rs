//! The console device: the serial port as a file. Writes go out with the kernel's own
//! lines (`\n` becomes `\r\n`); reads take raw typed bytes until a console server binds
//! the input. Only init starts with it; init hands it to the console server and gives
//! everyone else a stream to that server.

use super::File;
use crate::error::KResult;

pub struct ConsoleDevice;

impl File for ConsoleDevice {
    /// A device: nothing to write back.
    fn fsync(&self) -> KResult<()> {
        Ok(())
    }

    fn read(&self, buf: &mut [u8]) -> KResult<usize> {
        crate::console::input::read(buf)
    }

    fn write(&self, buf: &[u8]) -> KResult<usize> {
        crate::console::write_bytes(buf);
        Ok(buf.len())
    }

    fn is_console_device(&self) -> bool {
        true
    }
}
