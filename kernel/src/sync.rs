//! The kernel's locks.
//!
//! [`Mutex`] is a spin lock whose waiters, while they spin, serve TLB shootdown requests
//! other CPUs sent this one ([`crate::mm::tlb::serve`]): a CPU spinning with interrupts
//! off cannot take the shootdown IPI, and the CPU waiting for its answer may hold the
//! very lock it spins on. Every kernel lock is one of these.
//!
//! [`IrqMutex`] disables interrupts on this CPU while held, so an interrupt handler that
//! takes the same lock can never spin on a holder it interrupted. Lock order (outermost
//! first) is written down in `docs/scheduler.md`.
//!
//! The locks a person looking at a hang wants to see are *named* ([`Tracked`], or an
//! [`IrqMutex::tracked`]): each has a [`LockStats`] in [`names`] with its holder (the
//! CPU, hence the thread running there) and how often it was taken and found held, which `stats(KIND_LOCKS)` and
//! the magic-key dump read without taking anything. Many locks may share one name (every
//! port's queue lock is `port queues`): then the holder is the last one to take any.

use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use spin::MutexGuard;

use crate::arch::IrqGuard;

/// How kernel lock waiters spin: serve shootdowns, then a CPU spin hint.
pub struct Relax;

impl spin::RelaxStrategy for Relax {
    #[inline(always)]
    fn relax() {
        crate::mm::tlb::serve();
        core::hint::spin_loop();
    }
}

/// The kernel's spin lock (see the module docs).
pub type Mutex<T> = spin::mutex::Mutex<T, Relax>;

/// A named lock's holder and counters (see the module docs). Only relaxed atomics:
/// reading them never waits, and they never order anything. The holder is a CPU: a spin
/// lock is never held across a switch, so the holding thread is the one running there
/// (`sched::running_tid`), which keeps the cost off the lock path.
pub struct LockStats {
    pub name: &'static str,
    /// Holding CPU + 1, 0 when free.
    holder_cpu: AtomicU32,
    acquired: AtomicU64,
    contended: AtomicU64,
}

impl LockStats {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            holder_cpu: AtomicU32::new(0),
            acquired: AtomicU64::new(0),
            contended: AtomicU64::new(0),
        }
    }

    /// Counts an acquisition and marks this CPU the holder; returns the mark for
    /// [`Self::note_released`].
    #[inline]
    fn note_acquired(&self, contended: bool) -> u32 {
        if contended {
            self.contended.fetch_add(1, Ordering::Relaxed);
        }
        self.acquired.fetch_add(1, Ordering::Relaxed);
        let mark = crate::arch::cpu_id() as u32 + 1;
        self.holder_cpu.store(mark, Ordering::Relaxed);
        mark
    }

    #[inline]
    fn note_released(&self, mark: u32) {
        // Only our own mark: under a shared name another CPU may hold its lock now.
        let _ = self
            .holder_cpu
            .compare_exchange(mark, 0, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// `(holder CPU, acquisitions, contended acquisitions)`; the CPU is `None` while
    /// the lock is free.
    pub fn snapshot(&self) -> (Option<u32>, u64, u64) {
        (
            self.holder_cpu.load(Ordering::Relaxed).checked_sub(1),
            self.acquired.load(Ordering::Relaxed),
            self.contended.load(Ordering::Relaxed),
        )
    }
}

/// The named locks, in the order `stats(KIND_LOCKS)` lists them.
pub mod names {
    use super::LockStats;

    pub static SCHED: LockStats = LockStats::new("run queues");
    pub static PROCESS_TABLE: LockStats = LockStats::new("process table");
    pub static VFS: LockStats = LockStats::new("vfs");
    pub static CONSOLE: LockStats = LockStats::new("console");
    pub static PORT_QUEUES: LockStats = LockStats::new("port queues");

    pub static ALL: [&LockStats; 5] = [&SCHED, &PROCESS_TABLE, &VFS, &CONSOLE, &PORT_QUEUES];
}

/// A kernel [`Mutex`] with a name and counters (see the module docs).
pub struct Tracked<T> {
    inner: Mutex<T>,
    stats: &'static LockStats,
}

pub struct TrackedGuard<'a, T> {
    guard: MutexGuard<'a, T>,
    stats: &'static LockStats,
    mark: u32,
}

impl<T> Tracked<T> {
    pub const fn new(value: T, stats: &'static LockStats) -> Self {
        Self {
            inner: Mutex::new(value),
            stats,
        }
    }

    #[inline]
    pub fn lock(&self) -> TrackedGuard<'_, T> {
        let (guard, contended) = match self.inner.try_lock() {
            Some(g) => (g, false),
            None => (self.inner.lock(), true),
        };
        let mark = self.stats.note_acquired(contended);
        TrackedGuard {
            guard,
            stats: self.stats,
            mark,
        }
    }

    /// The lock if it is free now (the diagnostics dump takes nothing it could wait on).
    pub fn try_lock(&self) -> Option<TrackedGuard<'_, T>> {
        let guard = self.inner.try_lock()?;
        let mark = self.stats.note_acquired(false);
        Some(TrackedGuard {
            guard,
            stats: self.stats,
            mark,
        })
    }
}

impl<T> Drop for TrackedGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Runs before `guard` drops: the mark goes while the lock is still ours.
        self.stats.note_released(self.mark);
    }
}

impl<T> Deref for TrackedGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for TrackedGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

pub struct IrqMutex<T> {
    inner: Mutex<T>,
    stats: Option<&'static LockStats>,
}

/// The lock held with interrupts off. Fields drop in order: the lock is released before
/// interrupts come back, so a handler never finds this CPU holding it.
pub struct IrqMutexGuard<'a, T> {
    guard: MutexGuard<'a, T>,
    /// The named lock's counters and this holder's mark, for a tracked one.
    stats: Option<(&'static LockStats, u32)>,
    _irq: IrqGuard,
}

impl<T> IrqMutex<T> {
    pub const fn new(value: T) -> Self {
        Self {
            inner: Mutex::new(value),
            stats: None,
        }
    }

    /// A named one (see the module docs).
    pub const fn tracked(value: T, stats: &'static LockStats) -> Self {
        Self {
            inner: Mutex::new(value),
            stats: Some(stats),
        }
    }

    pub fn lock(&self) -> IrqMutexGuard<'_, T> {
        let irq = IrqGuard::new();
        let (guard, stats) = match self.stats {
            None => (self.inner.lock(), None),
            Some(st) => {
                let (g, contended) = match self.inner.try_lock() {
                    Some(g) => (g, false),
                    None => (self.inner.lock(), true),
                };
                (g, Some((st, st.note_acquired(contended))))
            }
        };
        IrqMutexGuard {
            guard,
            stats,
            _irq: irq,
        }
    }

    /// The lock if it is free now, else `None` at once.
    pub fn try_lock(&self) -> Option<IrqMutexGuard<'_, T>> {
        let irq = IrqGuard::new();
        let guard = self.inner.try_lock()?;
        let stats = self.stats.map(|st| (st, st.note_acquired(false)));
        Some(IrqMutexGuard {
            guard,
            stats,
            _irq: irq,
        })
    }
}

impl<T> Drop for IrqMutexGuard<'_, T> {
    fn drop(&mut self) {
        if let Some((st, mark)) = self.stats {
            st.note_released(mark);
        }
    }
}

impl<T> Deref for IrqMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for IrqMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}
