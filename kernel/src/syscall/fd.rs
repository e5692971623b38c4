//! File-descriptor syscalls: read, write, close, dup2, stream fds from ports, binding the
//! console's input.
//!
//! Data moves through a kernel bounce buffer, so no lock is held across a user copy and
//! a bad buffer is `EFAULT` before anything is consumed (reads) or after what was already
//! written (writes, which report the partial count like POSIX).

use alloc::sync::Arc;

use wayos_abi::ipc::RIGHT_SEND;

use crate::error::{Errno, KResult};
use crate::file::{fd_errno, FileRef, PortStream};
use crate::ipc::{handle_errno, KObject};
use crate::task;
use crate::usercopy::{check_range, copy_from_user, copy_to_user};

/// Bytes moved per step through the bounce buffer.
const CHUNK: usize = 512;

fn file(fd: usize) -> KResult<FileRef> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let f = p.fds.lock().get(fd).map_err(fd_errno)?.clone();
    Ok(f)
}

pub fn sys_write(fd: usize, buf: usize, len: usize) -> KResult<usize> {
    let f = file(fd)?;
    check_range(buf, len)?;
    let mut chunk = [0u8; CHUNK];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(CHUNK);
        let r = copy_from_user(&mut chunk[..n], buf + done).and_then(|()| f.write(&chunk[..n]));
        match r {
            Ok(w) => {
                done += w;
                if w < n {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// One read call on the file (a stream may return less than asked, like a pipe).
pub fn sys_read(fd: usize, buf: usize, len: usize) -> KResult<usize> {
    let f = file(fd)?;
    check_range(buf, len)?;
    if len == 0 {
        return Ok(0);
    }
    // Fail before consuming input if the buffer is not writable.
    let mut probe = [0u8; 1];
    copy_from_user(&mut probe, buf)?;
    copy_to_user(buf, &probe)?;
    let mut chunk = [0u8; CHUNK];
    let n = f.read(&mut chunk[..len.min(CHUNK)])?;
    copy_to_user(buf, &chunk[..n])?;
    Ok(n)
}

pub fn sys_close(fd: usize) -> KResult<usize> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let f = p.fds.lock().close(fd).map_err(fd_errno)?;
    drop(f);
    Ok(0)
}

pub fn sys_dup2(old: usize, new: usize) -> KResult<usize> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let replaced = p.fds.lock().dup2(old, new).map_err(fd_errno)?;
    drop(replaced);
    Ok(new)
}

/// Moves a port send handle into a new stream fd (lowest free number).
pub fn sys_port_fd(h: usize) -> KResult<usize> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let h = u32::try_from(h).map_err(|_| Errno::EBADF)?;
    // Lock order: handles, then fds (nothing takes them the other way round).
    let mut handles = p.handles.lock();
    match handles.get(h, RIGHT_SEND).map_err(handle_errno)? {
        KObject::Port(_) => {}
        _ => return Err(Errno::EINVAL),
    }
    let mut fds = p.fds.lock();
    if fds.open_count() >= crate::file::MAX_FDS {
        return Err(Errno::EMFILE);
    }
    let (obj, _) = handles.remove(h).map_err(handle_errno)?;
    let KObject::Port(port) = &obj else {
        unreachable!("checked above")
    };
    // The stream only sends: a receive right the handle had goes with the handle.
    let stream: FileRef = Arc::new(PortStream::new(port.narrowed(RIGHT_SEND)));
    let fd = fds.insert(stream).map_err(fd_errno);
    drop(fds);
    drop(handles);
    // Outside the locks: dropping the last receive right closes the port.
    drop(obj);
    fd
}

/// Sends the console's input to a port; `fd` must be the console device.
pub fn sys_console_bind(fd: usize, h: usize) -> KResult<usize> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    if !file(fd)?.is_console_device() {
        return Err(Errno::ENOTTY);
    }
    let h = u32::try_from(h).map_err(|_| Errno::EBADF)?;
    let port = match p.handles.lock().get(h, RIGHT_SEND).map_err(handle_errno)? {
        KObject::Port(r) => r.port.clone(),
        _ => return Err(Errno::EINVAL),
    };
    if port.is_closed() {
        return Err(Errno::EPIPE);
    }
    crate::console::input::bind(port)?;
    Ok(0)
}
