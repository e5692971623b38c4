//! Threads: [`spawn`] a closure on a fresh stack, [`JoinHandle::join`] it, plus the raw
//! calls (`wayos_abi::sys::THREAD_CREATE`, `THREAD_EXIT`, `GETTID`).
//!
//! Each thread's stack is an anonymous mapping of its own: an inaccessible guard page at
//! the bottom (an overflow faults instead of corrupting memory), the stack, and at the
//! very top a small control block whose `u32` the kernel sets to 0 and futex-wakes when
//! the thread ends (`thread_create`'s `tid_addr`). Joining waits on that word; once it is
//! 0 the thread will never run again, so the joiner unmaps the stack. A handle dropped
//! before its thread ended parks the stack on a list that later spawns sweep.
//!
//! The kernel enters a new thread at the arch trampoline (`crate::arch::thread_entry`),
//! which calls [`thread_main`] with the address of the boxed closure.
//!
//! A panic in any thread ends the whole process (status `rt::PANIC_STATUS`), as does
//! `process::exit` from any thread; [`exit`] ends only the calling thread.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{fence, AtomicU32, Ordering};

use spin::Mutex as SpinMutex;
use wayos_abi::mman::{PAGE_SIZE, PROT_NONE};
use wayos_abi::sys;

use crate::errno::Errno;
use crate::mem;
use crate::sync::{self, FOREVER};
use crate::sys::MemFree;

/// Stack size [`spawn`] gives a thread (the guard page comes on top).
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;
/// Smallest stack [`Builder::stack_size`] accepts (smaller requests are raised to it).
pub const MIN_STACK_SIZE: usize = 4 * PAGE_SIZE;
/// Bytes at the top of the stack mapping reserved for the control block.
const CONTROL_SIZE: usize = 64;
/// The control word's value while the thread may still run (the kernel stores 0).
const ALIVE: u32 = 1;

/// `gettid()`: the calling thread's id.
pub fn gettid() -> Result<usize, Errno> {
    crate::sys::call0(MemFree::GETTID)
}

/// `thread_exit(code)`: ends the calling thread. If it is the process's last thread,
/// `code` becomes the exit status. Never returns.
///
/// A thread made by [`spawn`] that calls this skips the rest of its closure: its
/// [`JoinHandle::join`] then gives `None`, and whatever the closure owned is leaked.
pub fn exit(code: i32) -> ! {
    // SAFETY: the thread ends; nothing of it runs afterwards. Its stack stays mapped
    // until a joiner (or the sweep) sees the kernel's 0 in the control word.
    let _ = unsafe { crate::sys::syscall1(sys::THREAD_EXIT, code as usize) };
    // The kernel refused (an old kernel without threads): nothing sane is left but to
    // end the whole process.
    crate::process::exit(code)
}

/// `thread_create(entry, stack_top, arg, tid_addr)`: a new thread of this process starts
/// at `entry` with `arg` in the first argument register and the stack pointer at
/// `stack_top`. Returns its id.
///
/// # Safety
///
/// `entry` must be code that can run on that stack with that argument and never return;
/// the stack must stay mapped and unused by anything else until the thread ends; if
/// `tid_addr` is not 0 the kernel writes a `u32` 0 there when the thread ends, so it must
/// stay valid (and that write harmless) for as long.
pub unsafe fn thread_create(
    entry: usize,
    stack_top: usize,
    arg: usize,
    tid_addr: usize,
) -> Result<usize, Errno> {
    // SAFETY: forwarded to the caller.
    unsafe { crate::sys::call(sys::THREAD_CREATE, [entry, stack_top, arg, tid_addr, 0, 0]) }
}

/// What the boxed closure behind a new thread's start argument is.
type Start = Box<dyn FnOnce() + Send>;

/// Where every thread made by [`spawn`] begins (called by the arch trampoline).
pub(crate) extern "C" fn thread_main(start: usize) -> ! {
    // SAFETY: `start` is the `Box<Start>` that `Builder::spawn` leaked into a raw pointer
    // for exactly this thread, which takes it back once.
    let f = unsafe { Box::from_raw(start as *mut Start) };
    f();
    // Make the closure's result visible before the kernel's store of 0 announces the end.
    fence(Ordering::Release);
    exit(0)
}

/// The entry address and argument for a raw [`thread_create`] whose thread runs `f` and
/// then ends with `thread_exit(0)`. The argument owns `f`: give it to at most one
/// successful `thread_create`; if no thread takes it, `f` is leaked.
pub fn raw_start<F: FnOnce() + Send + 'static>(f: F) -> (usize, usize) {
    let start: Box<Start> = Box::new(Box::new(f));
    (
        crate::arch::thread_entry as *const () as usize,
        Box::into_raw(start) as usize,
    )
}

/// One thread's stack mapping (guard page, stack, control block).
struct Stack {
    base: usize,
    len: usize,
}

impl Stack {
    fn new(size: usize) -> Result<Self, Errno> {
        let size = size
            .max(MIN_STACK_SIZE)
            .checked_add(PAGE_SIZE - 1)
            .ok_or(Errno(wayos_abi::errno::ENOMEM))?
            / PAGE_SIZE
            * PAGE_SIZE;
        let len = size + PAGE_SIZE;
        let base = mem::map_anonymous(len, false)?;
        let stack = Stack { base, len };
        // SAFETY: the guard page is part of the mapping made just now, which nothing uses.
        if let Err(e) = unsafe { mem::mprotect(base, PAGE_SIZE, PROT_NONE) } {
            drop(stack);
            return Err(e);
        }
        stack.control().store(ALIVE, Ordering::Relaxed);
        Ok(stack)
    }

    /// The control word, in the top `CONTROL_SIZE` bytes of the mapping.
    fn control(&self) -> &AtomicU32 {
        // SAFETY: the address is inside the mapping (page aligned, so aligned for a u32),
        // which lives as long as `self`; only atomics touch it, ours and the kernel's.
        unsafe { &*((self.base + self.len - CONTROL_SIZE) as *const AtomicU32) }
    }

    /// The initial stack pointer: right below the control block, 16-byte aligned.
    fn top(&self) -> usize {
        self.base + self.len - CONTROL_SIZE
    }

    fn finished(&self) -> bool {
        self.control().load(Ordering::Acquire) == 0
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: a stack is dropped only when no thread runs on it: never started, or
        // its control word is 0 (the kernel ended the thread).
        let _ = unsafe { mem::munmap(self.base, self.len) };
    }
}

/// Stacks of threads whose handles were dropped while they ran.
static DETACHED: SpinMutex<Vec<Stack>> = SpinMutex::new(Vec::new());

/// Unmaps the parked stacks whose threads have ended.
fn sweep_detached() {
    DETACHED.lock().retain(|s| !s.finished());
}

/// The slot a thread's result travels through.
struct Packet<T> {
    value: UnsafeCell<Option<T>>,
}

// SAFETY: the thread writes `value` once before it ends; the joiner reads it only after
// seeing the end (the kernel's 0, after the thread's release fence), so the two never
// touch it at the same time. That moves a `T` between threads: `T: Send`.
unsafe impl<T: Send> Sync for Packet<T> {}

/// Settings for a new thread.
#[derive(Clone, Copy, Debug)]
pub struct Builder {
    stack_size: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    pub const fn new() -> Self {
        Self {
            stack_size: DEFAULT_STACK_SIZE,
        }
    }

    /// The stack size in bytes (rounded up to pages, at least [`MIN_STACK_SIZE`]).
    pub const fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Starts a thread running `f` (in the caller's priority class and affinity).
    pub fn spawn<F, T>(self, f: F) -> Result<JoinHandle<T>, Errno>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        sweep_detached();
        let stack = Stack::new(self.stack_size)?;
        let packet = Arc::new(Packet {
            value: UnsafeCell::new(None),
        });
        let theirs = packet.clone();
        let start: Box<Start> = Box::new(Box::new(move || {
            let v = f();
            // SAFETY: only this thread writes the slot, once; the joiner reads it only
            // after the thread ended (see `Packet`).
            unsafe { *theirs.value.get() = Some(v) };
            drop(theirs);
        }));
        let arg = Box::into_raw(start);
        let control = stack.control() as *const AtomicU32 as usize;
        // SAFETY: the trampoline runs `thread_main` with `arg`, which never returns; the
        // stack is the fresh mapping `stack`, kept until the control word reads 0 (the
        // join, or the detached sweep); the control word lives in that same mapping.
        let created = unsafe {
            thread_create(
                crate::arch::thread_entry as *const () as usize,
                stack.top(),
                arg as usize,
                control,
            )
        };
        match created {
            Ok(tid) => Ok(JoinHandle {
                tid,
                stack: Some(stack),
                packet,
            }),
            Err(e) => {
                // SAFETY: no thread was made, so the start block is still ours alone.
                drop(unsafe { Box::from_raw(arg) });
                Err(e)
            }
        }
    }
}

/// Starts a thread running `f` with the default stack size; see [`Builder::spawn`].
pub fn spawn<F, T>(f: F) -> Result<JoinHandle<T>, Errno>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f)
}

/// Owns a running thread: wait for it and collect its result.
pub struct JoinHandle<T> {
    tid: usize,
    /// `None` only after `join` took it.
    stack: Option<Stack>,
    packet: Arc<Packet<T>>,
}

impl<T> JoinHandle<T> {
    /// The thread's id (for `sched_setaffinity` and the like).
    pub fn tid(&self) -> usize {
        self.tid
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.stack.as_ref().is_none_or(Stack::finished)
    }

    /// Waits up to `timeout_ns` ([`crate::sync::FOREVER`]: no limit) for the thread to
    /// end; returns whether it did.
    pub fn wait_timeout(&self, timeout_ns: u64) -> bool {
        match &self.stack {
            Some(s) => sync::wait_until(s.control(), timeout_ns, |v| v == 0),
            None => true,
        }
    }

    /// Waits for the thread to end and returns its closure's result (`None` if it left
    /// through [`exit`] instead of returning).
    pub fn join(mut self) -> Option<T> {
        self.wait_timeout(FOREVER);
        fence(Ordering::Acquire);
        // The thread is gone: its stack can go.
        drop(self.stack.take());
        // SAFETY: the thread ended, so nothing else touches the slot any more.
        unsafe { (*self.packet.value.get()).take() }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(stack) = self.stack.take() {
            if !stack.finished() {
                // Still running: park the stack until the thread ends.
                DETACHED.lock().push(stack);
            }
        }
    }
}
