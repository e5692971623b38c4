//! Ports and one-shot reply ports: the kernel objects behind IPC handles, and the
//! rendezvous that makes call/reply fast.
//!
//! A receiver that finds its port's queue empty blocks as a [`RecvWaiter`]: a record on
//! its own kernel stack, listed on the port, that points at the message buffer it
//! receives into. A sender that finds the queue empty and a receiver waiting writes its
//! message straight into that buffer ([`Port::deliver`]) and gets the receiver's thread
//! back, to switch to directly if it is about to block itself (a call) or to wake.
//! Likewise a caller blocks on its [`ReplyPort`], the reply is written into the reply
//! port's buffer, and the replier gets the caller's thread back.
//!
//! Each process has one [`ReplyPort`] (cached in `Process::reply_cache`), and its buffer
//! is the process's kernel-side message buffer: a call reads its request into it and the
//! reply lands there; `port_reply_recv` reads the reply into it and receives into it. So
//! a message is copied from user memory into its sender's buffer, once into its
//! receiver's buffer (header and `len` bytes, a few words for a short message) and out to
//! the receiver; nothing is allocated or zero-filled on the way.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

use wayos_abi::ipc::{Message, INLINE_BYTES, MAX_HANDLES, NO_HANDLE};
use wayos_kcore::ipc::{PortQueue, PushError};

use super::{Deadline, KMessage, KObject};
use crate::arch::{self, IrqGuard};
use crate::error::{Errno, KResult};
use crate::sync::{Mutex, Tracked};
use crate::task::thread::Thread;
use crate::task::usage::{Charge, Kind, Usage};
use crate::task::wait_queue::WaitQueue;
use crate::task::{sched, signal};

/// The objects a message moves, by position in `Message::handles`.
pub type Objects = [Option<(KObject, u32)>; MAX_HANDLES];

/// Bytes of a `Message` before its inline data.
pub const HEADER_BYTES: usize = core::mem::size_of::<Message>() - INLINE_BYTES;

/// `Message` as 64-bit words: it is `repr(C)`, 8-byte aligned, integers only and
/// without padding, 160 bytes.
const WORDS: usize = core::mem::size_of::<Message>() / 8;
const _: () = assert!(core::mem::size_of::<Message>() == WORDS * 8);
const _: () = assert!(core::mem::align_of::<Message>() == 8);

/// Words [`copy_message`] copies at least: the header and a short payload.
const FIXED_WORDS: usize = (HEADER_BYTES + SHORT) / 8;

/// Payload bytes that travel with the header in every copy: short messages (the common
/// case) need nothing more.
pub const SHORT: usize = 16;

fn words(m: &Message) -> &[u64; WORDS] {
    // Plain data (`wayos_abi::Plain`) of the same size and alignment: checked at compile
    // time by the macro.
    wayos_abi::zerocopy::transmute_ref!(m)
}

fn words_mut(m: &mut Message) -> &mut [u64; WORDS] {
    wayos_abi::zerocopy::transmute_mut!(m)
}

/// Stores `value` in `word` so that the compiler keeps it a plain store. A run of them
/// is not turned into a `memcpy` call, which for a few words costs several times the
/// copy — on aarch64 (strict alignment) even for a fixed size.
#[inline(always)]
fn store(word: &mut u64, value: u64) {
    // SAFETY: a `&mut u64` is valid, aligned and exclusive for the write.
    unsafe { core::ptr::write_volatile(word, value) };
}

/// Copies `src`'s header and its first `len` data bytes into `dst` (whose other data
/// bytes are unspecified afterwards), a word at a time. Every handle slot becomes
/// `NO_HANDLE`: the receiver's numbers are filled in when the objects are installed.
#[inline(always)]
pub fn copy_message(dst: &mut Message, src: &Message) {
    let len = (src.len as usize).min(INLINE_BYTES);
    let used = (HEADER_BYTES + len).div_ceil(8);
    let (d, s) = (words_mut(dst), words(src));
    for i in 0..FIXED_WORDS {
        store(&mut d[i], s[i]);
    }
    for i in FIXED_WORDS..used {
        store(&mut d[i], s[i]);
    }
    dst.len = len as u32;
    dst.handles = [NO_HANDLE; MAX_HANDLES];
}

impl KMessage {
    /// An empty message (label 0, nothing attached), to be filled in place.
    pub const fn empty() -> Self {
        KMessage {
            msg: Message::new(0),
            objs: None,
            reply: None,
            badge: 0,
            notice: None,
        }
    }

    /// Makes this message a copy of `msg` with `reply`, sent through a handle with
    /// `badge` (0: none). Its objects stay as they are (none, in an empty buffer): the
    /// sender moves them in with `take_transfer` if `msg` carries handles.
    #[inline]
    pub fn fill(&mut self, msg: &Message, reply: Option<ReplyRef>, badge: u32) {
        copy_message(&mut self.msg, msg);
        self.reply = reply;
        self.badge = badge;
    }
}

/// Why [`Port::deliver`] could not take a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliverError {
    /// The queue is full (and nobody is waiting).
    Full,
    /// The queue could not grow: the kernel is down to its memory reserve. `ENOMEM`.
    NoMemory,
    /// The port is closed: `EPIPE`.
    Closed,
}

/// Why [`Port::receive`] returned without a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// Nothing arrived before the deadline (`EAGAIN` for "do not block", else
    /// `ETIMEDOUT`).
    Empty,
    /// The port is closed and empty: `EPIPE`.
    Closed,
    /// A signal is pending or the receiving thread must end: `EINTR`.
    Interrupted,
}

/// A receiver blocked on an empty port: a record on its own kernel stack, pointing at
/// the buffer it receives into.
///
/// While listed on a port (`listed`), a sender may fill the buffer under the port's lock;
/// the owner unlists itself under the same lock before leaving [`Port::receive`], so a
/// listed record and its buffer are always alive, and the owner does not touch the buffer
/// while it is listed (it is blocked).
pub struct RecvWaiter<'a> {
    rec: WaiterRecord,
    _buf: PhantomData<&'a mut KMessage>,
}

struct WaiterRecord {
    thread: Arc<Thread>,
    inner: UnsafeCell<WaiterInner>,
}

struct WaiterInner {
    listed: bool,
    filled: bool,
    buf: NonNull<KMessage>,
}

impl<'a> RecvWaiter<'a> {
    /// A record for the running thread, receiving into `buf`. Objects a previous message
    /// left in `buf` are dropped now (a sender must not drop any under the port's lock).
    pub fn new(buf: &'a mut KMessage) -> Self {
        if buf.objs.is_some() || buf.reply.is_some() || buf.notice.is_some() {
            buf.objs = None;
            buf.reply = None;
            buf.notice = None;
        }
        Self {
            rec: WaiterRecord {
                thread: sched::current(),
                inner: UnsafeCell::new(WaiterInner {
                    listed: false,
                    filled: false,
                    buf: NonNull::from(buf),
                }),
            },
            _buf: PhantomData,
        }
    }

    /// The received message, once [`Port::receive`] returned `Ok`.
    pub fn message(&mut self) -> &mut KMessage {
        let inner = self.rec.inner.get_mut();
        // SAFETY: the buffer is borrowed for 'a by this record, which is unlisted (receive
        // returned), so this is the only way to it.
        unsafe { inner.buf.as_mut() }
    }
}

/// A listed [`RecvWaiter`].
struct WaiterPtr(NonNull<WaiterRecord>);

// SAFETY: the record (and its buffer) is only touched under its port's lock, or by its
// owner once it is unlisted, whichever CPU holds the pointer.
unsafe impl Send for WaiterPtr {}

struct PortState {
    queue: PortQueue<KMessage>,
    /// Receivers blocked on the empty queue, oldest first. Non-empty only while the queue
    /// is empty (a sender hands its message to the first of them instead of queueing).
    waiters: VecDeque<WaiterPtr>,
}

/// A bounded message queue. Alive while any handle or name refers to it; *open* while at
/// least one handle with the receive right exists (in a table or in a queued message).
pub struct Port {
    /// A number naming it in diagnostics (`stats(KIND_HANDLES)`), unique since boot.
    pub id: u64,
    state: Tracked<PortState>,
    /// Handles with the receive right; the port closes when this drops to 0.
    receivers: AtomicUsize,
    /// Senders waiting for room.
    pub send_wq: WaitQueue,
    /// Messages the queue held when it closed, until the closing thread's teardown loop
    /// drops them (see [`Teardown`]).
    leftover: Mutex<Option<VecDeque<KMessage>>>,
    /// The next port on a thread's [`Teardown`] list.
    next_dead: Mutex<Option<Arc<Port>>>,
    /// What this port counts against its creator (`task::usage`): one port and its
    /// queue slots, for as long as it exists. `None` for the kernel's own ports.
    _charges: Option<(Charge, Charge)>,
    /// The creator's counts, which each kernel notice queued here is charged to (one
    /// queue slot) until received: see [`Port::notice`].
    owner: Option<Arc<Usage>>,
}

static NEXT_PORT_ID: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// A thread's list of closed ports whose queued messages still have to be dropped.
///
/// Messages can carry ports whose queues hold messages carrying ports, to any depth (a
/// chain of ports costs its builder two handles). Dropping a closed port's messages
/// closes the ports they carry, so doing it inside [`Port::close`] recursed once per link
/// and a long chain overflowed the kernel stack. Instead, a close that happens while this
/// thread is already dropping a closed port's messages only parks the port here, and the
/// outermost close drops the parked ports' messages one port at a time: the stack depth is
/// constant whatever the nesting, and nothing is allocated (the list runs through the
/// ports themselves). Reply rights and memory objects own no ports except through a
/// reply buffer's one message, which ends in a port close and so in this list too.
pub struct Teardown {
    /// True while the outermost close on this thread drains the list.
    draining: AtomicBool,
    head: Mutex<Option<Arc<Port>>>,
}

impl Default for Teardown {
    fn default() -> Self {
        Self::new()
    }
}

impl Teardown {
    pub const fn new() -> Self {
        Self {
            draining: AtomicBool::new(false),
            head: Mutex::new(None),
        }
    }

    fn push(&self, port: Arc<Port>) {
        let mut head = self.head.lock();
        *port.next_dead.lock() = head.take();
        *head = Some(port);
    }

    fn pop(&self) -> Option<Arc<Port>> {
        let mut head = self.head.lock();
        let port = head.take()?;
        *head = port.next_dead.lock().take();
        Some(port)
    }
}

/// Drops the messages `port` held when it closed, and those of every port that closes
/// as a result, iteratively (see [`Teardown`]). No lock is held while messages drop.
fn tear_down(port: &Arc<Port>, left: VecDeque<KMessage>) {
    if left.is_empty() {
        return;
    }
    let me = sched::current();
    let td = &me.teardown;
    *port.leftover.lock() = Some(left);
    td.push(port.clone());
    if td.draining.swap(true, Ordering::AcqRel) {
        // An outer close on this thread is draining: it will get to this port.
        return;
    }
    while let Some(p) = td.pop() {
        let left = p.leftover.lock().take();
        // May close more ports: they land on the list, not deeper on this stack.
        drop(left);
    }
    td.draining.store(false, Ordering::Release);
}

impl Port {
    /// A port for `capacity` messages (`1..=MAX_CAPACITY`, else `EINVAL`) made by
    /// `creator` (`None`: the kernel), charged one port (`EMFILE` at the limit) and
    /// `capacity` queue slots (`ENOMEM`); `ENOMEM` too when the kernel is down to its
    /// memory reserve.
    pub fn new(capacity: usize, creator: Option<&Arc<Usage>>) -> KResult<Arc<Port>> {
        let queue = PortQueue::new(capacity).ok_or(Errno::EINVAL)?;
        let charges = match creator {
            Some(u) => Some((
                u.charge(Kind::Ports, 1)?,
                u.charge(Kind::QueueSlots, capacity)?,
            )),
            None => None,
        };
        crate::mm::reserve::admit(core::mem::size_of::<Port>() + 64)?;
        Ok(Arc::new(Port {
            id: NEXT_PORT_ID.fetch_add(1, Ordering::Relaxed),
            _charges: charges,
            owner: creator.cloned(),
            state: Tracked::new(
                PortState {
                    queue,
                    waiters: VecDeque::new(),
                },
                &crate::sync::names::PORT_QUEUES,
            ),
            receivers: AtomicUsize::new(0),
            send_wq: WaitQueue::new(),
            leftover: Mutex::new(None),
            next_dead: Mutex::new(None),
        }))
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().queue.is_closed()
    }

    /// Messages waiting in the queue; `None` with `try_only` when its lock is held (the
    /// magic-key dump waits for nothing).
    pub fn queued(&self, try_only: bool) -> Option<usize> {
        let st = if try_only {
            self.state.try_lock()?
        } else {
            self.state.lock()
        };
        Some(st.queue.len())
    }

    /// Whether this reference holds the receive right.
    pub fn is_receiver_ref(r: &PortRef) -> bool {
        r.receiver
    }

    /// True when a send could complete now (room, or closed so that it fails at once).
    fn can_send(&self) -> bool {
        let st = self.state.lock();
        st.queue.is_closed() || !st.queue.is_full()
    }

    /// Delivers a message now, if it can: straight into the oldest waiting receiver when
    /// the queue is empty, else into the queue. `make` fills the (empty) message in place
    /// under the port's lock, once delivery is certain — so it must not drop kernel
    /// objects. Returns the receiver that took it directly, for the caller to switch to
    /// or [`sched::wake`]; `None` if it was queued.
    pub fn deliver(
        &self,
        make: impl FnOnce(&mut KMessage),
    ) -> Result<Option<Arc<Thread>>, DeliverError> {
        let mut st = self.state.lock();
        if st.queue.is_closed() {
            return Err(DeliverError::Closed);
        }
        if let Some(w) = st.waiters.pop_front() {
            // SAFETY: a listed record is alive (see `RecvWaiter`) and we hold the lock
            // that guards it.
            let w = unsafe { w.0.as_ref() };
            // SAFETY: as above; no other reference to the record's inside exists now.
            let inner = unsafe { &mut *w.inner.get() };
            inner.listed = false;
            inner.filled = true;
            // SAFETY: a listed record's buffer is alive and, under this lock, ours alone
            // (its owner is blocked until it is filled).
            make(unsafe { inner.buf.as_mut() });
            crate::counters::ipc_message();
            return Ok(Some(w.thread.clone()));
        }
        if st.queue.is_full() {
            return Err(DeliverError::Full);
        }
        // Room in the queue's memory first, so that `push` cannot fail to allocate.
        if st.queue.reserve_one(crate::mm::reserve::admit).is_err() {
            return Err(DeliverError::NoMemory);
        }
        let mut km = KMessage::empty();
        make(&mut km);
        if st.queue.push(km).is_err() {
            unreachable!("room was checked under the queue lock");
        }
        crate::counters::ipc_message();
        Ok(None)
    }

    /// Queues a one-way message from the kernel (`label`, `reply` = `FROM_KERNEL`, with
    /// `badge`) even when the queue is full: a stream's `CLOSE`, which must not be lost
    /// (a server frees what the stream held when it comes) and whose sender cannot wait.
    /// It is charged as one queue slot to the port's creator until received, so notices
    /// nobody receives are bounded by the creator's `MAX_QUEUED_MESSAGES`; past that (a
    /// process flooding its own port) one is dropped with a warning. Nothing happens on
    /// a closed port. Never blocks; takes only this port's lock.
    pub fn notice(&self, label: u64, badge: u32) {
        let charge = match &self.owner {
            Some(u) => match u.charge(Kind::QueueSlots, 1) {
                Ok(c) => Some(c),
                Err(_) => {
                    log::warn!("ipc: notice {label:#x} (badge {badge}) dropped: owner's queue slots used up");
                    return;
                }
            },
            None => None,
        };
        let mut msg = Message::new(label);
        msg.reply = wayos_abi::ipc::FROM_KERNEL;
        let mut km = Some(KMessage {
            msg,
            objs: None,
            reply: None,
            badge,
            notice: charge,
        });
        let woken = {
            let mut st = self.state.lock();
            if st.queue.is_closed() {
                None
            } else if let Some(w) = st.waiters.pop_front() {
                // SAFETY: a listed record is alive (see `RecvWaiter`) and we hold the
                // lock that guards it.
                let w = unsafe { w.0.as_ref() };
                // SAFETY: as above; no other reference to the record's inside exists now.
                let inner = unsafe { &mut *w.inner.get() };
                inner.listed = false;
                inner.filled = true;
                // SAFETY: a listed record's buffer is alive and, under this lock, ours
                // alone (its owner is blocked until it is filled). `RecvWaiter::new`
                // emptied it, so the assignment drops nothing but plain data.
                *unsafe { inner.buf.as_mut() } = km.take().expect("made above");
                crate::counters::ipc_message();
                Some(w.thread.clone())
            } else {
                match st.queue.push_notice(km.take().expect("made above")) {
                    Ok(()) => {
                        crate::counters::ipc_message();
                        None
                    }
                    Err(PushError::Closed(m)) => {
                        km = Some(m);
                        None
                    }
                    Err(PushError::Full(m)) => {
                        log::warn!("ipc: notice {label:#x} (badge {badge}) dropped: no memory");
                        km = Some(m);
                        None
                    }
                }
            }
        };
        // Outside the lock: a notice that could not be queued releases its charge here.
        drop(km);
        if let Some(t) = woken {
            sched::wake(&t);
        }
    }

    /// Delivers `km` (from the kernel), waiting for room as long as it takes; the
    /// receiver that took it, if any, is woken. `EPIPE` once the port is closed, `EINTR`
    /// when the current thread is signalled or must end meanwhile (a process's stream
    /// call; the kernel's own threads are never interrupted).
    pub fn push(&self, km: KMessage) -> KResult<()> {
        let mut km = Some(km);
        loop {
            let r = self.deliver(|slot| *slot = km.take().expect("delivered once"));
            match r {
                Ok(woken) => {
                    if let Some(t) = woken {
                        sched::wake(&t);
                    }
                    return Ok(());
                }
                Err(DeliverError::Closed) => return Err(Errno::EPIPE),
                Err(DeliverError::NoMemory) => return Err(Errno::ENOMEM),
                Err(DeliverError::Full) => {
                    self.wait_for_room(Deadline::Never);
                    if signal::interrupted() {
                        return Err(Errno::EINTR);
                    }
                }
            };
        }
    }

    /// Blocks until a send could complete, `deadline` passes, or the current thread is
    /// signalled or must end ([`signal::interrupted`]: the caller checks which).
    pub fn wait_for_room(&self, deadline: Deadline) {
        let _ = super::wait_for(&self.send_wq, deadline, || {
            (self.can_send() || signal::interrupted()).then_some(())
        });
    }

    /// Receives into `w`'s buffer: the oldest queued message, or one a sender hands over
    /// while `w` waits. Blocks until `deadline`; while blocking, runs `next` (a thread
    /// the caller just woke, e.g. the caller it replied to) directly if it can. `next` is
    /// woken normally if the receive does not block.
    pub fn receive(
        &self,
        w: &RecvWaiter<'_>,
        deadline: Deadline,
        mut next: Option<Arc<Thread>>,
    ) -> Result<(), RecvError> {
        let me = NonNull::from(&w.rec);
        let mut popped = false;
        // What a popped message replaced in the buffer: dropped (in place) on return,
        // with no lock held.
        let mut _stale = None;
        let r = loop {
            let irq = IrqGuard::new();
            let mut st = self.state.lock();
            // SAFETY: the record is ours and we hold its port's lock.
            let inner = unsafe { &mut *w.rec.inner.get() };
            let r = if inner.filled {
                Some(Ok(()))
            } else {
                if inner.listed {
                    // Woken by a timeout or a signal while still waiting.
                    st.waiters.retain(|p| p.0 != me);
                    inner.listed = false;
                }
                if let Some(km) = st.queue.pop() {
                    // SAFETY: the record is unlisted, so its buffer is ours alone. What
                    // it held (no objects: see `RecvWaiter::new`) is dropped below.
                    _stale = Some(core::mem::replace(unsafe { inner.buf.as_mut() }, km));
                    popped = true;
                    inner.filled = true;
                    Some(Ok(()))
                } else if st.queue.is_closed() {
                    Some(Err(RecvError::Closed))
                } else {
                    None
                }
            };
            let r = match (r, deadline) {
                (Some(r), _) => Some(r),
                (None, Deadline::Now) => Some(Err(RecvError::Empty)),
                (None, Deadline::At(t)) if arch::uptime_ns() >= t => Some(Err(RecvError::Empty)),
                (None, _) if signal::interrupted() => Some(Err(RecvError::Interrupted)),
                (None, _) => None,
            };
            if let Some(r) = r {
                drop(st);
                drop(irq);
                break r;
            }
            inner.listed = true;
            st.waiters.push_back(WaiterPtr(me));
            drop(st);
            let wake_at = match deadline {
                Deadline::At(t) => Some(t),
                _ => None,
            };
            sched::block_and_switch(next.take(), wake_at);
            drop(irq);
        };
        if let Some(t) = next {
            sched::wake(&t);
        }
        if popped {
            // A queued message left: room for a blocked sender.
            self.send_wq.wake_all();
        }
        r
    }

    /// Closes the queue for good: queued messages are dropped (with their handles, by
    /// [`tear_down`]), every waiter wakes and sees `EPIPE`, and the port's names are
    /// removed.
    pub fn close(self: &Arc<Self>) {
        let left = {
            let mut st = self.state.lock();
            let left = st.queue.close();
            while let Some(w) = st.waiters.pop_front() {
                // SAFETY: a listed record is alive and guarded by the lock we hold.
                let w = unsafe { w.0.as_ref() };
                // SAFETY: as above.
                unsafe { (*w.inner.get()).listed = false };
                sched::wake(&w.thread);
            }
            left
        };
        self.send_wq.wake_all();
        super::ns_forget_port(self);
        // Dropped with no lock held: the messages' handles may close other ports.
        tear_down(self, left);
    }
}

/// A badge (`port_badge`): a number the port's receiver stamps on a family of send
/// handles, so that one port can serve many clients or objects and tell them apart
/// without a port each (netd: one badge per socket). Every message sent through a badged
/// handle, or through a stream fd made from one, reaches the receiver with the badge
/// (`port_recv`'s result); a process cannot choose or change the badge of a handle it
/// was given. All handles and stream fds duplicated from one badged handle share this
/// token; when the last of them goes, the kernel queues one [`Port::notice`]
/// `stream::CLOSE` with the badge, so the receiver learns that nobody can reach that
/// object any more.
pub struct Badge {
    value: u32,
    port: Arc<Port>,
}

impl Drop for Badge {
    fn drop(&mut self) {
        self.port.notice(wayos_abi::stream::CLOSE, self.value);
    }
}

/// A handle's reference to a port. One made with the receive right counts as a receiver;
/// the last receiver to go closes the port. A badged reference (send right only) carries
/// its [`Badge`].
pub struct PortRef {
    pub port: Arc<Port>,
    receiver: bool,
    badge: Option<Arc<Badge>>,
}

impl PortRef {
    pub fn new(port: Arc<Port>, rights: u32) -> Self {
        let receiver = rights & wayos_abi::ipc::RIGHT_RECV != 0;
        if receiver {
            port.receivers.fetch_add(1, Ordering::AcqRel);
        }
        Self {
            port,
            receiver,
            badge: None,
        }
    }

    /// A new send reference to `port` with badge `value` (not 0), the first of its
    /// family. `ENOMEM` when the kernel is down to its memory reserve.
    pub fn badged(port: Arc<Port>, value: u32) -> KResult<Self> {
        debug_assert!(value != 0);
        crate::mm::reserve::admit(core::mem::size_of::<Badge>() + 32)?;
        let badge = Arc::new(Badge {
            value,
            port: port.clone(),
        });
        Ok(Self {
            port,
            receiver: false,
            badge: Some(badge),
        })
    }

    /// The badge messages sent through this reference carry (0: none).
    pub fn badge(&self) -> u32 {
        self.badge.as_ref().map_or(0, |b| b.value)
    }

    /// A reference for a handle with `rights` (a subset of this one's), of the same
    /// badge family.
    pub fn narrowed(&self, rights: u32) -> Self {
        let mut r = Self::new(self.port.clone(), if self.receiver { rights } else { 0 });
        r.badge = self.badge.clone();
        r
    }
}

impl Clone for PortRef {
    fn clone(&self) -> Self {
        self.narrowed(if self.receiver {
            wayos_abi::ipc::RIGHT_RECV
        } else {
            0
        })
    }
}

impl Drop for PortRef {
    fn drop(&mut self) {
        if self.receiver && self.port.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.port.close();
        }
    }
}

/// Why a call ended without a reply ([`ReplyPort::wait`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyState {
    /// No reply yet: the caller gave up (deadline, or a signal for the kernel's calls).
    Waiting,
    /// The reply right was dropped unanswered.
    Closed,
}

const WAITING: u8 = 0;
const DONE: u8 = 1;
const CLOSED: u8 = 2;

/// Where a call's reply lands, and its owner's message buffer (see the module docs).
/// Reused by the owner's next call once no reply right refers to it, so a call does not
/// allocate.
///
/// The buffer is written by the owner (the process or kernel thread making calls with
/// it) through [`ReplyPort::buffer`], by a replier through [`ReplyPort::deliver`] — only
/// while the port waits, under the `waiter` lock — and, while the owner is blocked
/// receiving into it, by a sender under that port's lock.
pub struct ReplyPort {
    /// `WAITING` (a reply may be delivered), `DONE` (it was) or `CLOSED`; changed under
    /// the `waiter` lock, and by the owner when no reply right is out. Once it leaves
    /// `WAITING` only the owner changes it, so a reply right's holder may read it
    /// without the lock.
    status: AtomicU8,
    /// The caller blocked for the reply.
    waiter: Mutex<Option<Arc<Thread>>>,
    buf: UnsafeCell<KMessage>,
}

// SAFETY: `buf` is accessed only as described on `ReplyPort`: under the `waiter` lock
// while `WAITING`, by the owner (see `buffer`) otherwise, by a sender under a port lock
// while the owner is blocked receiving; everything else is atomic or locked.
unsafe impl Sync for ReplyPort {}

impl ReplyPort {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            status: AtomicU8::new(WAITING),
            waiter: Mutex::new(None),
            buf: UnsafeCell::new(KMessage::empty()),
        })
    }

    /// Makes the port wait for a new call's reply. Only for its owner, when nothing else
    /// refers to it (no reply right is out).
    pub fn reset(&self) {
        self.status.store(WAITING, Ordering::Relaxed);
    }

    /// Ends the current call for good (a later reply gets `EPIPE`), so that the owner may
    /// use the buffer. Only for the owner.
    pub fn finish(&self) {
        self.status.store(CLOSED, Ordering::Release);
    }

    /// The owner's message buffer.
    ///
    /// The owner (only) may dereference it while the port is not `DONE` (call
    /// [`ReplyPort::finish`] after taking a reply) and no reply can be written meanwhile:
    /// the port is not waiting, or no reply right to it is out yet. The reference must
    /// not outlive that, nor overlap another one made from here.
    pub fn buffer(&self) -> *mut KMessage {
        self.buf.get()
    }

    /// True while a reply can still be delivered.
    pub fn is_waiting(&self) -> bool {
        self.status.load(Ordering::Acquire) == WAITING
    }

    /// Waits until the reply comes (`Ok`: it is in the buffer, and the port stays `DONE`
    /// until the owner [`finish`](ReplyPort::finish)es it), the right is dropped
    /// (`Closed`), or `deadline` passes or `give_up` says so (`Waiting`; the call is then
    /// over: a later reply gets `EPIPE`). While blocking, runs `next` (the receiver the
    /// call was handed to) directly if it can; `next` is woken normally otherwise.
    pub fn wait(
        &self,
        deadline: Deadline,
        mut next: Option<Arc<Thread>>,
        give_up: fn() -> bool,
    ) -> Result<(), ReplyState> {
        let r = loop {
            let irq = IrqGuard::new();
            let mut waiter = self.waiter.lock();
            let status = self.status.load(Ordering::Acquire);
            let stop = status != WAITING
                || match deadline {
                    Deadline::Now => true,
                    Deadline::At(t) => arch::uptime_ns() >= t,
                    Deadline::Never => false,
                }
                || give_up();
            if stop {
                *waiter = None;
                let r = match status {
                    DONE => Ok(()),
                    WAITING => {
                        self.status.store(CLOSED, Ordering::Relaxed);
                        Err(ReplyState::Waiting)
                    }
                    _ => Err(ReplyState::Closed),
                };
                drop(waiter);
                drop(irq);
                break r;
            }
            if waiter.is_none() {
                *waiter = Some(sched::current());
            }
            drop(waiter);
            let wake_at = match deadline {
                Deadline::At(t) => Some(t),
                _ => None,
            };
            sched::block_and_switch(next.take(), wake_at);
            drop(irq);
        };
        if let Some(t) = next {
            sched::wake(&t);
        }
        r
    }

    /// The reply [`ReplyPort::wait`] got, with the objects it carries (`None` if none is
    /// there). Only for the owner.
    pub fn take_reply(&self) -> Option<(Message, Option<Objects>)> {
        let _waiter = self.waiter.lock();
        if self.status.load(Ordering::Acquire) != DONE {
            return None;
        }
        // SAFETY: while `DONE` nobody but the owner (the caller of this) touches the
        // buffer (repliers need `WAITING`), and this is the only reference made now.
        let buf = unsafe { &mut *self.buf.get() };
        Some((buf.msg, buf.objs.take()))
    }

    /// Delivers the reply, made by `make` in the buffer under the port's lock (so it must
    /// not drop kernel objects), if the caller still waits: returns the caller's thread
    /// if it is blocked, to switch to or wake. `Err(())` (and `make` is not called) if
    /// the caller is gone.
    pub fn deliver(&self, make: impl FnOnce(&mut KMessage)) -> Result<Option<Arc<Thread>>, ()> {
        let mut waiter = self.waiter.lock();
        if self.status.load(Ordering::Relaxed) != WAITING {
            return Err(());
        }
        // SAFETY: the port waits and we hold its lock: the owner does not touch the
        // buffer until the reply is in (or the wait ends, under this lock), and a reply
        // right is one-shot.
        make(unsafe { &mut *self.buf.get() });
        crate::counters::ipc_message();
        self.status.store(DONE, Ordering::Release);
        Ok(waiter.take())
    }

    /// Closes the reply right unanswered: the caller wakes and sees `EPIPE`.
    fn close(&self) {
        let waiter = {
            let mut waiter = self.waiter.lock();
            if self.status.load(Ordering::Relaxed) != WAITING {
                return;
            }
            self.status.store(CLOSED, Ordering::Release);
            waiter.take()
        };
        if let Some(t) = waiter {
            sched::wake(&t);
        }
    }
}

/// The one-shot right to answer a call; dropping it unused releases the caller with
/// `EPIPE`.
pub struct ReplyRef(pub Arc<ReplyPort>);

impl Drop for ReplyRef {
    fn drop(&mut self) {
        // A holder of a reply right may trust a status other than WAITING (see
        // `ReplyPort::status`): after a reply this costs no lock.
        if self.0.is_waiting() {
            self.0.close();
        }
    }
}
