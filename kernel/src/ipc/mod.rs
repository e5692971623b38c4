//! IPC: ports reached through per-process handles with rights, messages that carry
//! inline bytes and move handles, synchronous call/reply with one-shot reply rights, and
//! a kernel name registry. The user-facing contract is `docs/ipc.md`; the syscalls are in
//! `syscall/ipc.rs`; the plain data structures (handle table, queue, registry) are
//! `wayos_kcore::ipc`, tested on the host.
//!
//! Lifetimes: a [`port::Port`] stays open while a handle with the receive right exists
//! (in a table or inside a queued message). When the last one goes — closed, or dropped
//! with its process's table at exit — the port closes: queued messages are dropped (so
//! their reply rights release their callers with `EPIPE`), every blocked sender and
//! receiver wakes with `EPIPE`, and its names are removed. Those messages may carry ports
//! that close in turn, to any depth: they are dropped iteratively through the closing
//! thread's [`port::Teardown`] list, never by recursion (a chain of ports in messages in
//! ports must not exhaust the kernel stack).
//!
//! Waits: every blocking IPC wait gives up when its thread must end or a signal that
//! kills the process is pending; receives and sends also on any handled signal
//! (`EINTR`). A user `port_call` whose request is queued waits through handled signals.
//!
//! Lock order (outermost first): a process's `handles` table, then a port's queue or a
//! reply port's state, then wait queues and the run queue. The name registry lock is a
//! leaf. Kernel objects are never dropped under a port-queue lock (dropping one may close
//! a port), and no lock is held across a user copy.

mod kernel;
pub mod msgbuf;
pub mod port;

pub use kernel::{kernel_call, kernel_call_objs, kernel_send, kernel_try_send};

use alloc::sync::Arc;
use alloc::vec::Vec;

use wayos_abi::ipc::{Message, MAX_HANDLES, NO_HANDLE, RIGHT_GRANT, RIGHT_SEND};
use wayos_kcore::ipc::{HandleError, HandleTable, NameError, NameRegistry};

use self::port::{Port, PortRef, ReplyRef};
use crate::error::Errno;
use crate::sync::Mutex;
use crate::task::process::{Pid, Process};
use crate::task::wait_queue::WaitQueue;

/// Handles one process may hold.
pub const MAX_HANDLES_PER_PROCESS: usize = wayos_abi::limits::MAX_HANDLES;

/// What a handle refers to.
pub enum KObject {
    Port(PortRef),
    /// A one-shot reply right (rights: send only, so it cannot be passed on or copied).
    Reply(ReplyRef),
    /// Granted pages (`mem_grant`, `mem_map`); rights `RIGHT_READ`, `RIGHT_WRITE`,
    /// `RIGHT_GRANT`.
    Memory(Arc<crate::mm::space::MemObject>),
    /// A tensor (`ai::tensor`); rights `ai::RIGHT_READ`, `RIGHT_WRITE`, `RIGHT_GRANT`.
    Tensor(Arc<crate::ai::tensor::Tensor>),
    /// An inference job (`infer_submit`); rights `ai::RIGHT_READ` (wait) and
    /// `ai::RIGHT_WRITE` (cancel), never grant: a job stays with its submitter.
    Job(Arc<crate::ai::queue::Job>),
    /// A compute graph (`graph_create`, `model_load`); rights `ai::RIGHT_READ` and
    /// `ai::RIGHT_WRITE` (run it), never grant.
    Graph(Arc<crate::ai::graph::Graph>),
    /// A NIC lent to its holder (`net_attach`); rights `RIGHT_READ | RIGHT_WRITE` (map the
    /// ring, kick), never grant: the claim stays with the process that made it, and
    /// closing the handle (or the process dying) releases the NIC.
    Nic(Arc<crate::net::Attachment>),
}

impl KObject {
    /// The object for a duplicate with `rights`. Reply rights carry no grant right, so
    /// they never get here.
    pub fn narrowed(&self, rights: u32) -> KObject {
        match self {
            KObject::Port(p) => KObject::Port(p.narrowed(rights)),
            KObject::Memory(m) => KObject::Memory(m.clone()),
            KObject::Tensor(t) => KObject::Tensor(t.clone()),
            KObject::Reply(_) | KObject::Job(_) | KObject::Graph(_) | KObject::Nic(_) => {
                unreachable!("reply, job, graph and NIC handles have no grant right")
            }
        }
    }
}

/// A per-process handle table.
pub type Handles = HandleTable<KObject>;

pub const fn new_handle_table() -> Handles {
    HandleTable::new(MAX_HANDLES_PER_PROCESS)
}

/// A message in flight: the user's `Message` plus the objects its handles moved (`None`
/// when it moves none, the common case), a call's reply right, the badge of the handle
/// it was sent through (0: none; see [`port::Badge`]) and, for a kernel notice queued
/// past the port's capacity, the queue slot it is charged as until received.
pub struct KMessage {
    pub msg: Message,
    pub objs: Option<port::Objects>,
    pub reply: Option<ReplyRef>,
    pub badge: u32,
    pub notice: Option<crate::task::usage::Charge>,
}

pub fn handle_errno(e: HandleError) -> Errno {
    match e {
        HandleError::BadHandle => Errno::EBADF,
        HandleError::MissingRights => Errno::EACCES,
        HandleError::Full => Errno::ENOMEM,
        HandleError::InvalidRights => Errno::EINVAL,
    }
}

pub fn name_errno(e: NameError) -> Errno {
    match e {
        NameError::Invalid => Errno::EINVAL,
        NameError::TooLong => Errno::ENAMETOOLONG,
        NameError::Exists => Errno::EEXIST,
        NameError::NotFound => Errno::ENOENT,
    }
}

/// Checks the handles a message wants to move: each must exist (`EBADF`), carry the grant
/// right (`EACCES`) and appear once (`EINVAL`). Nothing changes.
pub fn check_transfer(table: &Handles, msg: &Message) -> Result<(), Errno> {
    for (i, &h) in msg.handles.iter().enumerate() {
        if h == NO_HANDLE {
            continue;
        }
        table.check(h, RIGHT_GRANT).map_err(handle_errno)?;
        if msg.handles[..i].contains(&h) {
            return Err(Errno::EINVAL);
        }
    }
    Ok(())
}

/// Takes the handles [`check_transfer`] accepted out of the sender's table.
pub fn take_transfer(table: &mut Handles, msg: &Message) -> [Option<(KObject, u32)>; MAX_HANDLES] {
    let mut objs: [Option<(KObject, u32)>; MAX_HANDLES] = Default::default();
    for (slot, &h) in objs.iter_mut().zip(msg.handles.iter()) {
        if h != NO_HANDLE {
            *slot = table.remove(h).ok();
        }
    }
    objs
}

/// Handle slots a received message may need (its handles and a reply right).
pub const DELIVERY_ROOM: usize = MAX_HANDLES + 1;

/// Installs a received message's objects in `table` (which must have room for them:
/// at most [`DELIVERY_ROOM`]) and puts the receiver's handle numbers into its `Message`.
pub fn install(table: &mut Handles, km: &mut KMessage) {
    if let Some(objs) = km.objs.take() {
        for (slot, obj) in km.msg.handles.iter_mut().zip(objs) {
            *slot = match obj {
                Some((o, rights)) => table.insert(o, rights).unwrap_or(NO_HANDLE),
                None => NO_HANDLE,
            };
        }
    }
    if let Some(r) = km.reply.take() {
        km.msg.reply = table
            .insert(KObject::Reply(r), RIGHT_SEND)
            .unwrap_or(NO_HANDLE);
    }
    // Otherwise `reply` stays as delivered: NO_HANDLE, or FROM_KERNEL from `kernel_send`.
}

/// When a blocking operation gives up.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Do not block (`timeout_ns` 0).
    Now,
    /// Monotonic nanoseconds.
    At(u64),
    /// `WAIT_FOREVER`.
    Never,
}

impl Deadline {
    #[inline]
    pub fn from_timeout(timeout_ns: u64) -> Self {
        match timeout_ns {
            0 => Deadline::Now,
            wayos_abi::ipc::WAIT_FOREVER => Deadline::Never,
            t => Deadline::At(crate::arch::uptime_ns().saturating_add(t)),
        }
    }
}

/// Waits on `wq` until `ready` gives a value or the deadline passes (`None`).
pub fn wait_for<T>(
    wq: &WaitQueue,
    deadline: Deadline,
    mut ready: impl FnMut() -> Option<T>,
) -> Option<T> {
    match deadline {
        Deadline::Now => ready(),
        Deadline::Never => Some(wq.wait_until(ready)),
        Deadline::At(t) => wq.wait_until_deadline(t, ready),
    }
}

/// A registered name: the port, the process that registered it, and the capabilities
/// a process must hold to look it up (`ns_require`; 0 at first).
pub struct NsEntry {
    pub port: Arc<Port>,
    pub owner: Pid,
    pub required: core::sync::atomic::AtomicU32,
    /// The name counted against its registrant (`task::usage`) until it is removed.
    pub _charge: Option<crate::task::usage::Charge>,
}

pub static NAMES: Mutex<NameRegistry<NsEntry>> = Mutex::new(NameRegistry::new());

/// Removes every name of a port that closed.
fn ns_forget_port(port: &Arc<Port>) {
    let gone: Vec<NsEntry> = NAMES
        .lock()
        .unregister_where(|e| Arc::ptr_eq(&e.port, port));
    drop(gone);
}

/// Called when `p` exits: its names go, then its handles (closing the ports whose last
/// receive right it held, and releasing callers waiting on its reply rights).
pub fn process_exit(p: &Process) {
    let pid = p.pid;
    let gone: Vec<NsEntry> = NAMES.lock().unregister_where(|e| e.owner == pid);
    drop(gone);
    let objs = p.handles.lock().drain();
    drop(objs);
    let cached = p.reply_cache.lock().take();
    drop(cached);
}
