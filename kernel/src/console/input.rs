//! Console input: bytes typed on the serial port.
//!
//! The timer tick polls the UART into a ring ([`poll`]; the serial interrupt arrives with
//! the I/O APIC work). Until a console server binds, the console device's `read` takes
//! bytes from the ring ([`read`]); once one has ([`bind`]), a kernel thread forwards every
//! byte to its port as `console::INPUT` messages and direct reads wait. This module owns
//! the ring and the binding; it never interprets the bytes (the line discipline lives in
//! the console server) except the serial magic key (`abi::console::MAGIC_KEY`), whose
//! command byte goes to `diag::dump` instead of any reader.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

use wayos_abi::console::{INPUT, MAGIC_DUMP, MAGIC_HELP, MAGIC_KEY, MAGIC_STATS};
use wayos_abi::ipc::{Message, INLINE_BYTES};

use crate::arch;
use crate::error::{Errno, KResult};
use crate::ipc::port::Port;
use crate::sync::IrqMutex;
use crate::sync::Mutex;
use crate::task::wait_queue::WaitQueue;

/// Bytes buffered between the UART and their reader. When full, polling stops and the
/// UART's own FIFO (and QEMU's flow control) holds the rest.
const RING_SIZE: usize = 4096;
/// Most bytes taken from the UART per tick.
const POLL_MAX: usize = 256;

struct Ring {
    buf: [u8; RING_SIZE],
    head: usize,
    len: usize,
}

impl Ring {
    const fn new() -> Self {
        Self {
            buf: [0; RING_SIZE],
            head: 0,
            len: 0,
        }
    }

    fn push(&mut self, b: u8) {
        self.buf[(self.head + self.len) % RING_SIZE] = b;
        self.len += 1;
    }

    fn take(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        for slot in &mut out[..n] {
            *slot = self.buf[self.head];
            self.head = (self.head + 1) % RING_SIZE;
        }
        self.len -= n;
        n
    }
}

static RING: IrqMutex<Ring> = IrqMutex::new(Ring::new());
/// Woken when bytes arrive or the binding changes.
static ARRIVED: WaitQueue = WaitQueue::new();
/// The console server's port, once bound.
static BOUND: Mutex<Option<Arc<Port>>> = Mutex::new(None);
static PUMP_STARTED: AtomicBool = AtomicBool::new(false);

/// Set after a [`MAGIC_KEY`]: the next byte is a command, not input.
static MAGIC_ARMED: AtomicBool = AtomicBool::new(false);

/// What a received byte is, given the magic-key state (updated here): `Some(byte)` to
/// pass on as input, `None` when the magic key took it.
fn filter_magic(b: u8) -> Option<u8> {
    if MAGIC_ARMED.swap(false, Ordering::Relaxed) {
        match b {
            MAGIC_KEY => return Some(MAGIC_KEY),
            MAGIC_DUMP | MAGIC_STATS | MAGIC_HELP => crate::diag::dump::request(b),
            _ => {}
        }
        return None;
    }
    if b == MAGIC_KEY {
        MAGIC_ARMED.store(true, Ordering::Relaxed);
        return None;
    }
    Some(b)
}

/// Timer tick or serial interrupt (interrupts off): moves waiting UART bytes into the
/// ring. The magic key and its command are taken out here, before any reader sees them.
pub fn poll() {
    let mut got = false;
    {
        let mut ring = RING.lock();
        for _ in 0..POLL_MAX {
            if ring.len == RING_SIZE {
                break;
            }
            let Some(b) = arch::serial_read() else { break };
            if let Some(b) = filter_magic(b) {
                ring.push(b);
                got = true;
            }
        }
    }
    if got {
        ARRIVED.wake_all();
    }
}

fn is_bound() -> bool {
    BOUND.lock().is_some()
}

/// Reads at least one byte into `out` (blocking), while no console server is bound;
/// `EINTR` when a signal arrives or the thread must end first.
pub fn read(out: &mut [u8]) -> KResult<usize> {
    if out.is_empty() {
        return Ok(0);
    }
    ARRIVED.wait_until(|| {
        if !is_bound() {
            let n = RING.lock().take(out);
            if n > 0 {
                return Some(Ok(n));
            }
        }
        crate::task::signal::interrupted().then_some(Err(Errno::EINTR))
    })
}

/// Sends all further input to `port`. `EBUSY` while another live server holds the
/// binding (a dead one's is taken over).
pub fn bind(port: Arc<Port>) -> KResult<()> {
    {
        let mut bound = BOUND.lock();
        if let Some(old) = bound.as_ref() {
            if !old.is_closed() {
                return Err(Errno::EBUSY);
            }
        }
        *bound = Some(port);
    }
    if !PUMP_STARTED.swap(true, Ordering::AcqRel) {
        let t = crate::task::thread::Thread::kernel(wayos_abi::sched::HIGH, pump)
            .map_err(|_| Errno::ENOMEM)?;
        crate::task::sched::make_ready(t);
    }
    ARRIVED.wake_all();
    Ok(())
}

/// The forwarding thread: waits for input while bound, sends it as messages. When the
/// server's port closes, the binding goes and input returns to direct readers.
fn pump() {
    crate::task::sched::current().set_kernel_wait(crate::task::thread::KernelWait::ConsoleInput);
    loop {
        let mut msg = Message::new(INPUT);
        let port = ARRIVED.wait_until(|| {
            let port = BOUND.lock().clone()?;
            let n = RING.lock().take(&mut msg.data[..INLINE_BYTES]);
            (n > 0).then(|| {
                msg.len = n as u32;
                port
            })
        });
        if crate::ipc::kernel_send(&port, msg).is_err() {
            log::warn!("console: server port closed; input goes to direct readers");
            let mut bound = BOUND.lock();
            if bound.as_ref().is_some_and(|b| Arc::ptr_eq(b, &port)) {
                *bound = None;
            }
            drop(bound);
            ARRIVED.wake_all();
        }
    }
}
