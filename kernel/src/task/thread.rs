//! Threads: a kernel stack, saved registers and FP/SIMD state, and a scheduling class.
//!
//! A thread's context and FP state are touched only by the scheduler on the CPU running
//! or switching it, with interrupts off; everything else about it is atomic or locked.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};

use crate::arch;
use crate::task::process::Process;

pub type Tid = u64;

/// Kernel stack size per thread. Debug builds use deep frames in formatting code.
pub const KERNEL_STACK_SIZE: usize = crate::mm::kstack::STACK_SIZE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    Ready = 0,
    Running = 1,
    Blocked = 2,
    Sleeping = 3,
    Dead = 4,
}

/// A kernel stack with an unmapped guard below it (`mm::kstack`).
pub struct KernelStack {
    base: usize,
}

impl KernelStack {
    fn new() -> Option<Self> {
        crate::mm::kstack::alloc().map(|base| Self { base })
    }

    pub fn top(&self) -> usize {
        self.base + KERNEL_STACK_SIZE
    }

    pub fn bounds(&self) -> (usize, usize) {
        (self.base, self.top())
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        // The thread no longer runs on it (dead threads are freed by the next thread).
        crate::mm::kstack::release(self.base);
    }
}

pub struct Thread {
    pub tid: Tid,
    pub process: Option<Arc<Process>>,
    class: AtomicUsize,
    state: AtomicU8,
    /// Monotonic deadline (ns) while sleeping.
    pub wake_at: AtomicU64,
    /// Ticks this thread has run.
    pub ticks: AtomicU64,
    /// What it waits for when blocked: the number of the syscall it is in (set at every
    /// syscall entry, so a blocked user thread names its wait), or for a kernel thread a
    /// [`KernelWait`] + `sys::COUNT`. Only for diagnostics (`stats(KIND_THREADS)`).
    pub wait: AtomicU32,
    /// The CPU it runs on, or whose run queue holds it, or where it last ran.
    pub cpu: AtomicUsize,
    /// CPUs it may run on (bit i = CPU i).
    pub affinity: AtomicU64,
    /// True from the moment a CPU switches to it until that CPU has saved its context
    /// after switching away; no other CPU may switch to it meanwhile.
    pub on_cpu: AtomicBool,
    /// A wake-up arrived while it was still running (between making itself findable and
    /// blocking): its next block returns at once instead.
    pub wake_pending: AtomicBool,
    /// User address the kernel clears and futex-wakes when this thread ends (0: none).
    pub clear_tid: AtomicUsize,
    /// Set when its process exits or execs: it ends at its next return to user mode, and
    /// interruptible waits give up.
    pub exit_requested: AtomicBool,
    /// Closed ports whose messages this thread is dropping (see `ipc::port::Teardown`).
    pub teardown: crate::ipc::port::Teardown,
    /// The next thread on the scheduler queue this one is on (ready, sleeping or dead):
    /// queues are linked through their threads so queueing never allocates. Touched only
    /// under the scheduler lock.
    pub(super) run_link: crate::sync::Mutex<Option<Arc<Thread>>>,
    /// Contexts interrupted by signal handlers, innermost last (see `task::signal`).
    pub sig_frames: crate::sync::Mutex<alloc::vec::Vec<super::signal::SavedContext>>,
    context: UnsafeCell<arch::Context>,
    fpu: UnsafeCell<Option<arch::FpuState>>,
    stack: Option<KernelStack>,
}

// SAFETY: `context` and `fpu` are accessed only by the scheduler with interrupts disabled
// on the CPU that is switching this thread (see the module docs); the rest is atomic.
unsafe impl Sync for Thread {}
// SAFETY: as above; the stack is owned by the thread.
unsafe impl Send for Thread {}

static NEXT_TID: AtomicU64 = AtomicU64::new(1);

/// [`Thread::wait`] before anything set it.
pub const NO_WAIT: u32 = u32::MAX;

/// What a kernel thread waits for, as [`Thread::wait`] shows it (after the syscalls).
#[derive(Clone, Copy)]
#[repr(u32)]
pub enum KernelWait {
    ConsoleInput = 0,
    Nic = 1,
    Accel = 2,
    Migrate = 3,
    MagicKey = 4,
    Screen = 5,
}

const KERNEL_WAIT_NAMES: [&str; 6] = [
    "console in",
    "nic",
    "accel",
    "memtier",
    "magic key",
    "screen",
];

/// The name of a [`Thread::wait`] value: a syscall's, a kernel wait's, or "".
pub fn wait_name(wait: u32) -> &'static str {
    let w = wait as usize;
    if w < wayos_abi::sys::COUNT {
        return wayos_abi::sys::name(w).unwrap_or("?");
    }
    KERNEL_WAIT_NAMES
        .get(w - wayos_abi::sys::COUNT)
        .copied()
        .unwrap_or("")
}

/// Every kernel thread (they belong to no process), so diagnostics can list them.
static KERNEL_THREADS: crate::sync::Mutex<alloc::vec::Vec<alloc::sync::Weak<Thread>>> =
    crate::sync::Mutex::new(alloc::vec::Vec::new());

/// Runs `f` on every live kernel thread; with `try_only` gives up (false) rather than
/// wait for the list's lock (the magic-key dump takes nothing it could wait on).
pub fn for_each_kernel_thread(try_only: bool, mut f: impl FnMut(&Thread)) -> bool {
    let list = if try_only {
        match KERNEL_THREADS.try_lock() {
            Some(l) => l,
            None => return false,
        }
    } else {
        KERNEL_THREADS.lock()
    };
    for t in list.iter().filter_map(alloc::sync::Weak::upgrade) {
        f(&t);
    }
    true
}

/// The affinity of a new thread: every CPU.
pub const ALL_CPUS: u64 = u64::MAX;

/// Why a thread could not be created.
#[derive(Debug)]
pub struct NoMemory;

impl Thread {
    /// The thread that is already running: the boot CPU's initial context, which becomes
    /// the idle thread. It owns no stack allocation (it runs on the boot stack).
    pub fn adopt_boot_context() -> Arc<Self> {
        Arc::new(Self {
            tid: 0,
            process: None,
            class: AtomicUsize::new(wayos_abi::sched::IDLE),
            state: AtomicU8::new(State::Running as u8),
            wake_at: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            wait: AtomicU32::new(NO_WAIT),
            cpu: AtomicUsize::new(arch::cpu_id()),
            affinity: AtomicU64::new(1 << arch::cpu_id()),
            on_cpu: AtomicBool::new(true),
            wake_pending: AtomicBool::new(false),
            clear_tid: AtomicUsize::new(0),
            exit_requested: AtomicBool::new(false),
            teardown: crate::ipc::port::Teardown::new(),
            run_link: crate::sync::Mutex::new(None),
            sig_frames: crate::sync::Mutex::new(alloc::vec::Vec::new()),
            context: UnsafeCell::new(arch::Context::default()),
            fpu: UnsafeCell::new(arch::FpuState::new()),
            stack: None,
        })
    }

    /// A new thread that will run `entry(arg)` on its own kernel stack. `setup` gets the
    /// stack top, may write into the stack (e.g. a user trap frame at its top), and returns
    /// `(arg, top)`: the argument to pass and the highest stack address left for use.
    pub fn new(
        process: Option<Arc<Process>>,
        class: usize,
        entry: extern "C" fn(usize) -> !,
        setup: impl FnOnce(usize) -> (usize, usize),
        fpu: Option<arch::FpuState>,
    ) -> Result<Arc<Self>, NoMemory> {
        let stack = KernelStack::new().ok_or(NoMemory)?;
        let fpu = match fpu {
            Some(f) => f,
            None => arch::FpuState::new().ok_or(NoMemory)?,
        };
        let top = stack.top();
        let (arg, usable_top) = setup(top);
        let usable_top = usable_top.min(top) & !15;
        let context = arch::Context::new(usable_top, entry, arg);
        Ok(Arc::new(Self {
            tid: NEXT_TID.fetch_add(1, Ordering::Relaxed),
            process,
            class: AtomicUsize::new(class.min(wayos_abi::sched::CLASSES - 1)),
            state: AtomicU8::new(State::Ready as u8),
            wake_at: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            wait: AtomicU32::new(NO_WAIT),
            cpu: AtomicUsize::new(arch::cpu_id()),
            affinity: AtomicU64::new(ALL_CPUS),
            on_cpu: AtomicBool::new(false),
            wake_pending: AtomicBool::new(false),
            clear_tid: AtomicUsize::new(0),
            exit_requested: AtomicBool::new(false),
            teardown: crate::ipc::port::Teardown::new(),
            run_link: crate::sync::Mutex::new(None),
            sig_frames: crate::sync::Mutex::new(alloc::vec::Vec::new()),
            context: UnsafeCell::new(context),
            fpu: UnsafeCell::new(Some(fpu)),
            stack: Some(stack),
        }))
    }

    /// A kernel thread running `f`.
    pub fn kernel(class: usize, f: impl FnOnce() + Send + 'static) -> Result<Arc<Self>, NoMemory> {
        let boxed: Box<Box<dyn FnOnce() + Send>> = Box::new(Box::new(f));
        let raw = Box::into_raw(boxed) as usize;
        let t = Self::new(None, class, kernel_thread_entry, |top| (raw, top), None)?;
        let mut list = KERNEL_THREADS.lock();
        list.retain(|w| w.strong_count() > 0);
        // Listing is for diagnostics only: without room the thread runs unlisted.
        if list.try_reserve(1).is_ok() {
            list.push(Arc::downgrade(&t));
        }
        drop(list);
        Ok(t)
    }

    /// Sets what this (kernel) thread waits for when it blocks.
    pub fn set_kernel_wait(&self, w: KernelWait) {
        self.wait
            .store(wayos_abi::sys::COUNT as u32 + w as u32, Ordering::Relaxed);
    }

    pub fn class(&self) -> usize {
        self.class.load(Ordering::Relaxed)
    }

    pub fn set_class(&self, class: usize) -> usize {
        self.class
            .swap(class.min(wayos_abi::sched::CLASSES - 1), Ordering::Relaxed)
    }

    pub fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            0 => State::Ready,
            1 => State::Running,
            2 => State::Blocked,
            3 => State::Sleeping,
            _ => State::Dead,
        }
    }

    pub fn set_state(&self, s: State) {
        self.state.store(s as u8, Ordering::Release);
    }

    /// Kernel stack bounds, for backtraces and the syscall entry.
    pub fn stack_bounds(&self) -> Option<(usize, usize)> {
        self.stack.as_ref().map(KernelStack::bounds)
    }

    /// # Safety
    /// Only the scheduler, with interrupts off, on the CPU switching this thread.
    pub(super) unsafe fn context_ptr(&self) -> *mut arch::Context {
        self.context.get()
    }

    /// # Safety
    /// As for [`Self::context_ptr`].
    pub(super) unsafe fn fpu_ptr(&self) -> *mut Option<arch::FpuState> {
        self.fpu.get()
    }

    /// A copy of this thread's FP state, for fork. Must be called by the thread itself.
    pub fn fpu_snapshot(&self) -> Option<arch::FpuState> {
        // SAFETY: called on the running thread; nothing else touches its FP area now.
        let fpu = unsafe { &mut *self.fpu.get() };
        let f = fpu.as_mut()?;
        f.save();
        f.duplicate()
    }
}

extern "C" fn kernel_thread_entry(arg: usize) -> ! {
    super::sched::finish_switch();
    // SAFETY: `arg` is the pointer `Thread::kernel` leaked for exactly this call.
    let f = unsafe { Box::from_raw(arg as *mut Box<dyn FnOnce() + Send>) };
    f();
    super::sched::exit_current()
}
