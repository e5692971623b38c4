//! Pipes: a bounded byte queue between read ends and write ends.
//!
//! Reads block until bytes arrive and return 0 once every write end is closed. Writes of
//! at most [`PIPE_BUF`] bytes go in whole, never interleaved with another writer's; a
//! write with no read end left fails with `EPIPE` and raises SIGPIPE. Both give up with
//! `EINTR` when a signal arrives before anything moved. A pipe counts against the
//! process that made it until both ends are gone; its buffer grows with what it holds,
//! and a write the kernel's memory reserve cannot take fails with `ENOMEM`.

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use super::File;
use crate::error::{Errno, KResult};
use crate::sync::Mutex;
use crate::task::signal;
use crate::task::usage::{Charge, Kind, Usage};
use crate::task::wait_queue::WaitQueue;

/// Writes up to this size are atomic (POSIX `PIPE_BUF`).
pub const PIPE_BUF: usize = 4096;
/// Bytes a pipe holds before writers wait.
pub const CAPACITY: usize = 64 * 1024;

struct State {
    data: VecDeque<u8>,
    readers: usize,
    writers: usize,
}

struct Pipe {
    state: Mutex<State>,
    /// The pipe counted against the process that made it (`task::usage`).
    _charge: Option<Charge>,
    /// Readers waiting for bytes or the last writer to go.
    readable: WaitQueue,
    /// Writers waiting for room or the last reader to go.
    writable: WaitQueue,
}

/// The read end.
pub struct PipeReader(Arc<Pipe>);
/// The write end.
pub struct PipeWriter(Arc<Pipe>);

/// Heap bytes a pipe's records take besides its buffer (the buffer is admitted as it
/// grows, in `write`).
const RECORD_BYTES: usize = 512;

/// A new pipe's two ends, charged to `maker` (`EMFILE` when it has [`MAX_PIPES`]
/// already), or `ENOMEM` when the kernel is down to its memory reserve.
///
/// [`MAX_PIPES`]: wayos_abi::limits::MAX_PIPES
pub fn pipe(maker: &Arc<Usage>) -> KResult<(PipeReader, PipeWriter)> {
    let charge = maker.charge(Kind::Pipes, 1)?;
    crate::mm::reserve::admit(RECORD_BYTES)?;
    let p = Arc::new(Pipe {
        _charge: Some(charge),
        state: Mutex::new(State {
            data: VecDeque::new(),
            readers: 1,
            writers: 1,
        }),
        readable: WaitQueue::new(),
        writable: WaitQueue::new(),
    });
    Ok((PipeReader(p.clone()), PipeWriter(p)))
}

/// What a wait ended with.
enum Wake<T> {
    Ready(T),
    Interrupted,
}

/// Waits on `wq` until `ready` gives a value, or a signal arrives.
fn wait<T>(wq: &WaitQueue, mut ready: impl FnMut() -> Option<T>) -> Wake<T> {
    wq.wait_until(|| {
        if let Some(v) = ready() {
            return Some(Wake::Ready(v));
        }
        signal::interrupted().then_some(Wake::Interrupted)
    })
}

impl File for PipeReader {
    fn read(&self, buf: &mut [u8]) -> KResult<usize> {
        let p = &self.0;
        let n = wait(&p.readable, || {
            let mut st = p.state.lock();
            if st.data.is_empty() {
                return (st.writers == 0).then_some(0);
            }
            let n = buf.len().min(st.data.len());
            for (slot, b) in buf.iter_mut().zip(st.data.drain(..n)) {
                *slot = b;
            }
            Some(n)
        });
        match n {
            Wake::Ready(n) => {
                if n > 0 {
                    p.writable.wake_all();
                }
                Ok(n)
            }
            Wake::Interrupted => Err(Errno::EINTR),
        }
    }

    fn write(&self, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EBADF)
    }
}

impl File for PipeWriter {
    fn read(&self, _buf: &mut [u8]) -> KResult<usize> {
        Err(Errno::EBADF)
    }

    fn write(&self, buf: &[u8]) -> KResult<usize> {
        let p = &self.0;
        let mut done = 0;
        while done < buf.len() {
            let rest = &buf[done..];
            // A small write waits for room for all of it, so it lands in one piece.
            let need = if buf.len() <= PIPE_BUF { rest.len() } else { 1 };
            let r = wait(&p.writable, || {
                let mut st = p.state.lock();
                if st.readers == 0 {
                    return Some(Err(Errno::EPIPE));
                }
                let room = CAPACITY - st.data.len();
                if room < need {
                    return None;
                }
                let n = room.min(rest.len());
                // The buffer grows only as far as it is filled (at most `CAPACITY`), and
                // only with memory the reserve rule admits.
                let spare = st.data.capacity() - st.data.len();
                if n > spare
                    && (crate::mm::reserve::admit(n - spare).is_err()
                        || st.data.try_reserve(n).is_err())
                {
                    return Some(Err(Errno::ENOMEM));
                }
                st.data.extend(&rest[..n]);
                Some(Ok(n))
            });
            match r {
                Wake::Ready(Ok(n)) => {
                    done += n;
                    p.readable.wake_all();
                }
                Wake::Ready(Err(e)) => {
                    if e == Errno::EPIPE {
                        signal::raise(wayos_abi::signal::SIGPIPE);
                    }
                    return if done == 0 { Err(e) } else { Ok(done) };
                }
                Wake::Interrupted if done == 0 => return Err(Errno::EINTR),
                Wake::Interrupted => return Ok(done),
            }
        }
        Ok(done)
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        self.0.state.lock().readers -= 1;
        self.0.writable.wake_all();
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        self.0.state.lock().writers -= 1;
        self.0.readable.wake_all();
    }
}
