//! Processes: an address space, a parent and children, an exit status.
//!
//! The process table maps pids to processes. A process that exits becomes a zombie holding
//! only its status until its parent waits for it; its children are handed to init (pid 1).
//! The address space is released at exit, not at reaping, so zombies cost almost nothing.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use wayos_abi::filter::{SysFilter, WORDS};

use super::thread::Thread;
use super::wait_queue::WaitQueue;
use crate::descriptor::Fds;
use crate::error::{Errno, KResult};
use crate::mm::space::AddressSpace;
use crate::sync::Mutex;
use wayos_kcore::paging::PhysAddr;

pub type Pid = u64;

/// Pid of init, which adopts orphans.
pub const INIT_PID: Pid = 1;

pub struct Process {
    pub pid: Pid,
    ppid: AtomicU64,
    pub name: Mutex<String>,
    /// `None` once the process has exited. Syscalls reach it through
    /// [`Process::with_space`].
    pub space: Mutex<Option<AddressSpace>>,
    /// The thread in [`Process::with_space`] (0: none), so a page fault taken while
    /// holding the lock is refused instead of deadlocking.
    space_owner: AtomicU64,
    /// Page-table root of `space`, readable without the lock for context switches.
    root: AtomicU64,
    children: Mutex<Vec<Arc<Process>>>,
    /// `Some(wait status)` once the process is a zombie.
    status: Mutex<Option<i32>>,
    /// Where this process waits for its children.
    pub child_exited: WaitQueue,
    /// IPC handles (ports, reply rights); emptied at exit. Not inherited by fork.
    pub handles: Mutex<crate::ipc::Handles>,
    /// The reply port of this process's last `port_call`, reused by the next one.
    pub reply_cache: Mutex<Option<Arc<crate::ipc::port::ReplyPort>>>,
    /// Open file descriptors; inherited by fork and spawn, emptied at exit.
    pub fds: Mutex<Fds>,
    /// Working directory: where relative paths start. Inherited by fork and spawn.
    pub cwd: Mutex<crate::fs::Cwd>,
    /// Signal actions, pending signals and the blocked mask; see `task::signal`.
    pub sig: Mutex<super::signal::SigState>,
    /// Process group (job control, Ctrl-C).
    pgid: AtomicU64,
    /// The kernel objects this process made that count against its limits
    /// (`task::usage`). Not inherited: a child starts at zero.
    pub usage: Arc<super::usage::Usage>,
    /// The process's threads, so a signal can wake them.
    threads: Mutex<Vec<Weak<Thread>>>,
    /// Threads started and not yet ended; the last one to end tears the process down.
    live_threads: AtomicUsize,
    /// Set by the first `exit` (or fatal signal): every thread ends, and the process's
    /// status is `exit_status`.
    exiting: AtomicBool,
    exit_status: AtomicI32,
    /// Capability set (`wayos_abi::caps` bits): the parent's at creation, then only ever
    /// narrowed ([`Process::drop_caps`]); nothing sets a bit once clear.
    caps: AtomicU32,
    /// Syscall filter (`wayos_abi::filter`): the parent's at creation, then only ever
    /// narrowed ([`Process::narrow_filter`]): bits are only cleared, the mode only rises.
    filter_allow: [AtomicU64; WORDS],
    filter_mode: AtomicU32,
    /// Default memory-tier policy (`memtier::POLICY_*`, 0: the system's), for mappings
    /// that name none; the parent's at creation (fork and spawn), set by `mem_policy`.
    pub mem_policy: AtomicU32,
}

static TABLE: Mutex<BTreeMap<Pid, Arc<Process>>> = Mutex::new(BTreeMap::new());
static NEXT_PID: AtomicU64 = AtomicU64::new(INIT_PID);

impl Process {
    /// Registers a new process with `space` under `parent` (in the parent's process
    /// group), with descriptors `fds` and signal state `sig` (the kernel's own children,
    /// given `None`, get the console and default actions).
    pub fn create(
        name: &str,
        space: AddressSpace,
        parent: Option<&Arc<Process>>,
        fds: Option<Fds>,
        sig: Option<super::signal::SigState>,
    ) -> Arc<Self> {
        let pid = NEXT_PID.fetch_add(1, Ordering::Relaxed);
        let p = Self::build(pid, name, space, parent, fds, sig);
        if let Some(parent) = parent {
            parent.children.lock().push(p.clone());
        }
        TABLE.lock().insert(pid, p.clone());
        p
    }

    /// A process that is in no table and has no parent, pid 0, no descriptors: for the
    /// in-kernel checks (`boottest`), which must not use up pid 1 before init.
    pub fn unregistered(name: &str, space: AddressSpace) -> Arc<Self> {
        Self::build(
            0,
            name,
            space,
            None,
            Some(crate::descriptor::empty_table()),
            None,
        )
    }

    fn build(
        pid: Pid,
        name: &str,
        space: AddressSpace,
        parent: Option<&Arc<Process>>,
        fds: Option<Fds>,
        sig: Option<super::signal::SigState>,
    ) -> Arc<Self> {
        let fds = fds.unwrap_or_else(crate::descriptor::console_table);
        let pgid = parent.map_or(pid, |p| p.pgid());
        // init (no parent) holds everything; every other process starts with its
        // parent's privileges and can only lose them.
        let caps = parent.map_or(wayos_abi::caps::ALL, |p| p.caps());
        let filter = parent.map_or(SysFilter::allow_all(), |p| p.filter());
        Arc::new(Self {
            pid,
            ppid: AtomicU64::new(parent.map_or(0, |p| p.pid)),
            name: Mutex::new(String::from(name)),
            root: AtomicU64::new(space.root().as_u64()),
            space: Mutex::new(Some(space)),
            space_owner: AtomicU64::new(0),
            children: Mutex::new(Vec::new()),
            status: Mutex::new(None),
            child_exited: WaitQueue::new(),
            handles: Mutex::new(crate::ipc::new_handle_table()),
            reply_cache: Mutex::new(None),
            fds: Mutex::new(fds),
            cwd: Mutex::new(parent.map_or(crate::fs::root(), |p| p.cwd.lock().clone())),
            sig: Mutex::new(sig.unwrap_or_default()),
            pgid: AtomicU64::new(pgid),
            usage: super::usage::Usage::new(),
            threads: Mutex::new(Vec::new()),
            live_threads: AtomicUsize::new(0),
            exiting: AtomicBool::new(false),
            exit_status: AtomicI32::new(0),
            caps: AtomicU32::new(caps),
            filter_allow: filter.allow.map(AtomicU64::new),
            filter_mode: AtomicU32::new(filter.mode),
            mem_policy: AtomicU32::new(parent.map_or(0, |p| p.mem_policy.load(Ordering::Relaxed))),
        })
    }

    /// The capability set.
    pub fn caps(&self) -> u32 {
        self.caps.load(Ordering::Acquire)
    }

    /// Whether the process holds every capability in `mask`.
    pub fn has_caps(&self, mask: u32) -> bool {
        self.caps() & mask == mask
    }

    /// Removes `mask` from the capability set for good; returns what is left.
    pub fn drop_caps(&self, mask: u32) -> u32 {
        self.caps.fetch_and(!mask, Ordering::AcqRel) & !mask
    }

    /// The syscall filter.
    pub fn filter(&self) -> SysFilter {
        SysFilter {
            allow: core::array::from_fn(|i| self.filter_allow[i].load(Ordering::Acquire)),
            mode: self.filter_mode.load(Ordering::Acquire),
            _pad: 0,
        }
    }

    /// Narrows the filter to its intersection with `f` and the stricter mode; a filter can
    /// never allow a call again, nor go from killing back to refusing.
    pub fn narrow_filter(&self, f: &SysFilter) {
        for (word, allow) in self.filter_allow.iter().zip(f.allow) {
            word.fetch_and(allow, Ordering::AcqRel);
        }
        self.filter_mode.fetch_max(f.mode, Ordering::AcqRel);
    }

    pub fn ppid(&self) -> Pid {
        self.ppid.load(Ordering::Relaxed)
    }

    /// Records a new thread of this process (for signal wake-ups and exit).
    pub fn add_thread(&self, t: &Arc<Thread>) {
        let mut threads = self.threads.lock();
        threads.retain(|w| w.strong_count() > 0);
        threads.push(Arc::downgrade(t));
        self.live_threads.fetch_add(1, Ordering::AcqRel);
    }

    /// Threads started and not yet ended.
    pub fn live_threads(&self) -> usize {
        self.live_threads.load(Ordering::Acquire)
    }

    /// Counts a thread's end; true for the last one, which must call [`Process::exit`].
    pub fn thread_ended(&self) -> bool {
        self.live_threads.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Starts the process's exit with `status` (the first caller's status wins): every
    /// other thread is told to end and woken out of interruptible waits.
    pub fn begin_exit(&self, status: i32, me: &Arc<Thread>) {
        if !self.exiting.swap(true, Ordering::AcqRel) {
            self.exit_status.store(status, Ordering::Release);
        }
        self.stop_other_threads(me);
    }

    /// Tells every thread but `me` to end, and wakes them so they notice.
    pub fn stop_other_threads(&self, me: &Arc<Thread>) {
        for t in self.threads() {
            if !Arc::ptr_eq(&t, me) {
                t.exit_requested.store(true, Ordering::Release);
                super::sched::wake(&t);
            }
        }
    }

    /// The status of an exit in progress, if one is.
    pub fn exit_in_progress(&self) -> Option<i32> {
        self.exiting
            .load(Ordering::Acquire)
            .then(|| self.exit_status.load(Ordering::Acquire))
    }

    /// The process's live threads.
    pub fn threads(&self) -> Vec<Arc<Thread>> {
        self.threads
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    pub fn pgid(&self) -> Pid {
        self.pgid.load(Ordering::Relaxed)
    }

    pub fn set_pgid(&self, pgid: Pid) {
        self.pgid.store(pgid, Ordering::Relaxed);
    }

    /// True once the process has exited (its status waits for the parent).
    pub fn is_zombie(&self) -> bool {
        self.status.lock().is_some()
    }

    /// Runs `f` on the address space under its lock (`ESRCH` once it is gone).
    pub fn with_space<T>(&self, f: impl FnOnce(&mut AddressSpace) -> KResult<T>) -> KResult<T> {
        let tid = super::sched::current().tid;
        let mut guard = self.space.lock();
        self.space_owner.store(tid, Ordering::Relaxed);
        let r = match guard.as_mut() {
            Some(space) => f(space),
            None => Err(Errno::ESRCH),
        };
        self.space_owner.store(0, Ordering::Relaxed);
        r
    }

    /// True when thread `tid` holds the space lock through [`Process::with_space`].
    pub fn space_held_by(&self, tid: u64) -> bool {
        self.space_owner.load(Ordering::Relaxed) == tid
    }

    /// Loads this process's page table on the CPU (called by the scheduler).
    pub fn activate(&self) {
        let root = self.root.load(Ordering::Relaxed);
        if root != 0 {
            crate::mm::space::activate_root(PhysAddr::new(root));
        }
    }

    /// Replaces the address space (execve); the old one is returned to be dropped by the
    /// caller after the switch.
    pub fn replace_space(&self, space: AddressSpace) -> Option<AddressSpace> {
        let root = space.root();
        let old = self.space.lock().replace(space);
        self.root.store(root.as_u64(), Ordering::Relaxed);
        self.activate();
        old
    }

    /// Turns this process into a zombie with `status`: frees its memory, drops its IPC
    /// names and handles, hands its children to init, wakes its parent.
    ///
    /// Never touches the calling CPU's state: the caller may be another process (a parent
    /// whose fork or spawn failed after creating the child) still running on its own page
    /// tables. A thread of this process that ends loads the empty root itself first
    /// (`task::end_thread`), so no CPU has these tables loaded when they are freed here.
    pub fn exit(&self, status: i32) {
        debug_assert!(
            crate::arch::current_root().as_u64() != self.root.load(Ordering::Relaxed),
            "a process's tables freed while loaded on this CPU"
        );
        self.root.store(0, Ordering::Relaxed);
        let space = self.space.lock().take();
        drop(space);
        crate::ipc::process_exit(self);
        crate::ai::process_exit(self.pid);
        let files = self.fds.lock().drain();
        crate::descriptor::drop_files(files);
        let orphans = core::mem::take(&mut *self.children.lock());
        if !orphans.is_empty() {
            if let Some(init) = lookup(INIT_PID) {
                for o in &orphans {
                    o.ppid.store(INIT_PID, Ordering::Relaxed);
                }
                init.children.lock().extend(orphans);
                init.child_exited.wake_all();
            }
        }
        super::signal::forget(self);
        *self.status.lock() = Some(status);
        if let Some(parent) = lookup(self.ppid()) {
            super::signal::send(&parent, wayos_abi::signal::SIGCHLD);
            parent.child_exited.wake_all();
        }
    }

    /// Reaps a zombie child: `pid` -1 for any. `Ok(None)` when children exist but none has
    /// exited yet; `Err(())` when there is no such child.
    pub fn reap_child(&self, pid: i64) -> Result<Option<(Pid, i32)>, ()> {
        let mut children = self.children.lock();
        let mut any = false;
        for (i, c) in children.iter().enumerate() {
            if pid != -1 && c.pid as i64 != pid {
                continue;
            }
            any = true;
            let status = *c.status.lock();
            if let Some(status) = status {
                let c = children.swap_remove(i);
                TABLE.lock().remove(&c.pid);
                return Ok(Some((c.pid, status)));
            }
        }
        if any {
            Ok(None)
        } else {
            Err(())
        }
    }
}

pub fn lookup(pid: Pid) -> Option<Arc<Process>> {
    TABLE.lock().get(&pid).cloned()
}

/// Every process in the table (zombies included), lowest pid first.
pub fn all() -> KResult<Vec<Arc<Process>>> {
    let table = TABLE.lock();
    let mut v = Vec::new();
    // Fallible: a caller (kill, ps) makes this list on a user program's behalf.
    v.try_reserve_exact(table.len())
        .map_err(|_| Errno::ENOMEM)?;
    v.extend(table.values().cloned());
    Ok(v)
}

/// Number of processes in the table (zombies included).
pub fn count() -> usize {
    TABLE.lock().len()
}
