//! File-descriptor syscalls: read, write, close, dup2, stream fds from ports and the
//! calls on them (`fd_call`), binding the console's input.
//!
//! Data moves through a kernel bounce buffer, so no lock is held across a user copy and
//! a bad buffer is `EFAULT` before anything is consumed (reads) or after what was already
//! written (writes, which report the partial count like POSIX).

use alloc::sync::Arc;

use wayos_abi::ipc::{Message, INLINE_BYTES, MAX_HANDLES, NO_HANDLE, RIGHT_SEND};

use crate::descriptor::{fd_errno, FileRef, PortStream};
use crate::error::{Errno, KResult};
use crate::ipc::{handle_errno, KObject};
use crate::task;
use crate::umem::{ReadOnly, UserPtr, UserSlice, WriteOnly};
use wayos_abi::fcntl::{FD_CLOEXEC, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, O_CLOEXEC};

/// Bytes moved per step through the bounce buffer (on the 64 KiB kernel stack).
const CHUNK: usize = 4096;

fn file(fd: usize) -> KResult<FileRef> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let f = p.fds.lock().get(fd).map_err(fd_errno)?.clone();
    Ok(f)
}

pub fn sys_write(fd: usize, buf: usize, len: usize) -> KResult<usize> {
    let f = file(fd)?;
    let mut rest = UserSlice::<ReadOnly>::new(buf, len)?;
    let mut chunk = [0u8; CHUNK];
    let mut done = 0;
    while !rest.is_empty() {
        let n = rest.len().min(CHUNK);
        let (head, tail) = rest.split_at(n)?;
        rest = tail;
        let r = head
            .read_into(&mut chunk[..n])
            .and_then(|()| f.write(&chunk[..n]));
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

/// Reads into `buf`: one call for a stream (which may return less than asked, like a
/// pipe), as many as fit for a regular file.
pub fn sys_read(fd: usize, buf: usize, len: usize) -> KResult<usize> {
    let f = file(fd)?;
    let mut rest = UserSlice::<WriteOnly>::new(buf, len)?;
    if rest.is_empty() {
        return Ok(0);
    }
    // Fail before consuming input if the buffer is not writable.
    rest.prefix(1).probe_writable()?;
    let mut chunk = [0u8; CHUNK];
    let mut done = 0;
    while !rest.is_empty() {
        let want = rest.len().min(CHUNK);
        let n = match f.read(&mut chunk[..want]) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if let Err(e) = rest.write_from(&chunk[..n]) {
            // Bytes were consumed; report what arrived, or the fault if nothing did.
            return if done == 0 { Err(e) } else { Ok(done) };
        }
        rest = rest.advance(n)?;
        done += n;
        if n < want || f.is_stream() {
            break;
        }
    }
    Ok(done)
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
    if fds.open_count() >= crate::descriptor::MAX_FDS {
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

/// `fd_call(fd, req, reply)`: one call with `*req` on the port behind stream fd `fd`, its
/// answer written to `*reply` (see `wayos_abi::sys::FD_CALL`). The request's handles are
/// ignored and its label must be a server request (`stream::CALL_BASE` and up), so a
/// process cannot fake the kernel's `READ`/`WRITE`/`CLOSE`. A port handle in the reply's
/// first slot becomes a new stream fd here, returned; any other handle the reply brings is
/// closed. Waits like a stream read: as long as the server takes, until a signal
/// (`EINTR`). No lock is held across the call or a user copy.
///
/// Nothing leaks on an error: a new stream that cannot be installed (`EMFILE`: the table
/// filled up during the call) or written about (`EFAULT`) is dropped, which tells the
/// server (`stream::CLOSE`) so it frees what it made for it.
pub fn sys_fd_call(fd: usize, req: usize, reply: usize) -> KResult<usize> {
    let f = file(fd)?;
    let Some(stream) = f.as_port_stream() else {
        return Err(Errno::ENOTSOCK);
    };
    let mut msg = UserPtr::<Message, ReadOnly>::new(req)?.read()?;
    let out = UserPtr::<Message, WriteOnly>::new(reply)?;
    out.probe_writable()?;
    if msg.len as usize > INLINE_BYTES || msg.label < wayos_abi::stream::CALL_BASE {
        return Err(Errno::EINVAL);
    }
    msg.handles = [NO_HANDLE; MAX_HANDLES];
    msg.reply = NO_HANDLE;
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    // The kernel cannot tell which requests bring a stream, so room for one is checked
    // when it comes (below), not before the call.
    let (mut answer, objs) = crate::ipc::kernel_call_objs(stream.port(), msg)?;
    let mut new_stream = None;
    if let Some(mut objs) = objs {
        if let Some((KObject::Port(port), rights)) = objs[0].take() {
            if rights & RIGHT_SEND != 0 {
                new_stream = Some(PortStream::new(port.narrowed(RIGHT_SEND)));
            }
            // A receive right the handle had goes with it (as for `port_fd`).
            drop(port);
        }
        // Anything else the reply moved is closed here, outside any lock.
        drop(objs);
    }
    if answer.label != 0 {
        drop(new_stream);
        return Err(Errno(wayos_abi::errno::from_reply_label(answer.label)));
    }
    answer.handles = [NO_HANDLE; MAX_HANDLES];
    answer.reply = NO_HANDLE;
    answer.len = answer.len.min(INLINE_BYTES as u32);
    let Some(s) = new_stream else {
        out.write(&answer)?;
        return Ok(0);
    };
    let file: FileRef = Arc::new(s);
    let new_fd = {
        let mut fds = p.fds.lock();
        if fds.open_count() >= crate::descriptor::MAX_FDS {
            None
        } else {
            fds.insert(file.clone()).ok()
        }
    };
    let Some(new_fd) = new_fd else {
        // Outside the lock: the stream's close reaches the server.
        drop(file);
        return Err(Errno::EMFILE);
    };
    drop(file);
    if let Err(e) = out.write(&answer) {
        // Only a concurrent unmap gets here; do not leave a descriptor nobody knows.
        let gone = p.fds.lock().close(new_fd);
        drop(gone);
        return Err(e);
    }
    Ok(new_fd)
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

/// `pipe(fds, flags)`: two new descriptors, read end first.
pub fn sys_pipe(fds_ptr: usize, flags: usize) -> KResult<usize> {
    if flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let cloexec = flags & O_CLOEXEC != 0;
    // Fail on a bad pointer before anything is created.
    let out = UserPtr::<[u32; 2], WriteOnly>::new(fds_ptr)?;
    out.probe_writable()?;
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let (r, w) = crate::descriptor::pipe(&p.usage)?;
    let (r, w): (FileRef, FileRef) = (Arc::new(r), Arc::new(w));
    let (rfd, wfd) = {
        let mut fds = p.fds.lock();
        let rfd = fds.insert_from(0, r, cloexec).map_err(fd_errno)?;
        match fds.insert_from(0, w, cloexec) {
            Ok(wfd) => (rfd, wfd),
            Err(e) => {
                let r = fds.close(rfd);
                drop(fds);
                drop(r);
                return Err(fd_errno(e));
            }
        }
    };
    if let Err(e) = out.write(&[rfd as u32, wfd as u32]) {
        // Only a concurrent unmap gets here; do not leave descriptors nobody knows.
        let mut fds = p.fds.lock();
        let a = fds.close(rfd);
        let b = fds.close(wfd);
        drop(fds);
        drop((a, b));
        return Err(e);
    }
    Ok(0)
}

/// `fcntl(fd, cmd, arg)`: duplicating at or above `arg`, and the close-on-exec flag.
pub fn sys_fcntl(fd: usize, cmd: usize, arg: usize) -> KResult<usize> {
    let p = task::current_process().ok_or(Errno::ESRCH)?;
    let mut fds = p.fds.lock();
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let f = fds.get(fd).map_err(fd_errno)?.clone();
            if arg >= crate::descriptor::MAX_FDS {
                return Err(Errno::EINVAL);
            }
            fds.insert_from(arg, f, cmd == F_DUPFD_CLOEXEC)
                .map_err(fd_errno)
        }
        F_GETFD => Ok(if fds.cloexec(fd).map_err(fd_errno)? {
            FD_CLOEXEC
        } else {
            0
        }),
        F_SETFD => {
            fds.set_cloexec(fd, arg & FD_CLOEXEC != 0)
                .map_err(fd_errno)?;
            Ok(0)
        }
        _ => {
            fds.get(fd).map_err(fd_errno)?;
            Err(Errno::EINVAL)
        }
    }
}
