//! Console I/O: `read`/`write` on file descriptors and the `print!` family.
//!
//! Formatted output goes through a small stack buffer that is flushed before each macro
//! call returns, so nothing stays buffered across calls: a `fork` never duplicates pending
//! output and a panic or `exit` never loses it. Output errors are ignored by the macros
//! (there is nowhere to report them); use [`write_all`] to see them.

use core::fmt;

use wayos_abi::sys;

use crate::errno::Errno;
use crate::sys::MemFree;

/// Standard input, output and error.
pub const STDIN: usize = 0;
pub const STDOUT: usize = 1;
pub const STDERR: usize = 2;

/// `write(fd, buf)`: how many bytes the kernel took.
pub fn write(fd: usize, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel only reads `buf`, which is valid for `buf.len()` bytes.
    unsafe { crate::sys::call(sys::WRITE, [fd, buf.as_ptr() as usize, buf.len(), 0, 0, 0]) }
}

/// `read(fd, buf)`: how many bytes arrived (0 at end of file).
pub fn read(fd: usize, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we borrow
    // mutably, so no other reference observes the change.
    unsafe {
        crate::sys::call(
            sys::READ,
            [fd, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
        )
    }
}

/// `close(fd)`.
pub fn close(fd: usize) -> Result<(), Errno> {
    crate::sys::call1(MemFree::CLOSE, fd).map(|_| ())
}

/// `dup2(old, new)`: makes `new` refer to `old`'s file (closing what `new` had).
pub fn dup2(old: usize, new: usize) -> Result<usize, Errno> {
    crate::sys::call2(MemFree::DUP2, old, new)
}

/// `dup(fd)`: the lowest free descriptor, sharing `fd`'s open file (and position).
pub fn dup(fd: usize) -> Result<usize, Errno> {
    crate::sys::call1(MemFree::DUP, fd)
}

/// `port_fd(port)`: a stream fd whose reads and writes are calls to `port` (the
/// `wayos_abi::stream` protocol). The handle moves into the fd; the port's receive right,
/// if the handle had it, is given up.
pub fn port_fd(port: crate::ipc::Port) -> Result<usize, Errno> {
    let h = port.into_raw();
    let r = crate::sys::call1(MemFree::PORT_FD, h as usize);
    if r.is_err() {
        // The kernel moves the handle only on success; do not leak it.
        drop(crate::ipc::Port::from_raw(h));
    }
    r
}

/// `pipe()`: a new pipe's (read end, write end). With `cloexec` both ends close on
/// `execve` and are not passed to `spawn`ed programs.
pub fn pipe(cloexec: bool) -> Result<(usize, usize), Errno> {
    let mut fds = [0u32; 2];
    let flags = if cloexec {
        wayos_abi::fcntl::O_CLOEXEC
    } else {
        0
    };
    // SAFETY: the kernel writes two u32s into `fds`, which we own for the call.
    unsafe {
        crate::sys::call(
            sys::PIPE,
            [crate::sys::arg_out(&mut fds), flags, 0, 0, 0, 0],
        )
    }?;
    Ok((fds[0] as usize, fds[1] as usize))
}

/// Sets or clears `fd`'s close-on-exec flag.
pub fn set_cloexec(fd: usize, on: bool) -> Result<(), Errno> {
    let arg = if on { wayos_abi::fcntl::FD_CLOEXEC } else { 0 };
    crate::sys::call3(MemFree::FCNTL, fd, wayos_abi::fcntl::F_SETFD, arg).map(|_| ())
}

/// `fd`'s close-on-exec flag.
pub fn cloexec(fd: usize) -> Result<bool, Errno> {
    let r = crate::sys::call2(MemFree::FCNTL, fd, wayos_abi::fcntl::F_GETFD)?;
    Ok(r & wayos_abi::fcntl::FD_CLOEXEC != 0)
}

/// `fcntl(fd, F_DUPFD[_CLOEXEC], min)`: a copy of `fd` at the lowest free number ≥ `min`.
pub fn dup_at_least(fd: usize, min: usize, cloexec: bool) -> Result<usize, Errno> {
    let cmd = if cloexec {
        wayos_abi::fcntl::F_DUPFD_CLOEXEC
    } else {
        wayos_abi::fcntl::F_DUPFD
    };
    crate::sys::call3(MemFree::FCNTL, fd, cmd, min)
}

/// Writes all of `buf`, retrying short writes. A write that makes no progress is `EIO`.
pub fn write_all(fd: usize, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        match write(fd, buf)? {
            0 => return Err(Errno(wayos_abi::errno::EIO)),
            n => buf = &buf[n.min(buf.len())..],
        }
    }
    Ok(())
}

/// Bytes of formatted output gathered before a `write`.
const BUF_LEN: usize = 256;

/// A `fmt::Write` sink that batches output for `fd` in a stack buffer.
///
/// Call [`FdWriter::flush`] (or drop it) to write out the rest.
pub struct FdWriter {
    fd: usize,
    len: usize,
    buf: [u8; BUF_LEN],
}

impl FdWriter {
    pub const fn new(fd: usize) -> Self {
        Self {
            fd,
            len: 0,
            buf: [0; BUF_LEN],
        }
    }

    /// Writes out whatever is buffered; errors are dropped (see the module docs).
    pub fn flush(&mut self) {
        let _ = write_all(self.fd, &self.buf[..self.len]);
        self.len = 0;
    }
}

impl fmt::Write for FdWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut bytes = s.as_bytes();
        while !bytes.is_empty() {
            if self.len == BUF_LEN {
                self.flush();
            }
            let n = bytes.len().min(BUF_LEN - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }
}

impl Drop for FdWriter {
    fn drop(&mut self) {
        self.flush();
    }
}

/// What the `print!` family expands to.
#[doc(hidden)]
pub fn _print(fd: usize, args: fmt::Arguments<'_>) {
    let mut w = FdWriter::new(fd);
    let _ = fmt::Write::write_fmt(&mut w, args);
    w.flush();
}

/// Prints to standard output.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::io::_print($crate::io::STDOUT, format_args!($($arg)*))
    };
}

/// Prints to standard output, with a newline.
#[macro_export]
macro_rules! println {
    () => {
        $crate::io::_print($crate::io::STDOUT, format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::io::_print($crate::io::STDOUT, format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints to standard error.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => {
        $crate::io::_print($crate::io::STDERR, format_args!($($arg)*))
    };
}

/// Prints to standard error, with a newline.
#[macro_export]
macro_rules! eprintln {
    () => {
        $crate::io::_print($crate::io::STDERR, format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::io::_print($crate::io::STDERR, format_args!("{}\n", format_args!($($arg)*)))
    };
}
