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

use core::ops::{Deref, DerefMut};

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

pub struct IrqMutex<T> {
    inner: Mutex<T>,
}

/// The lock held with interrupts off. Fields drop in order: the lock is released before
/// interrupts come back, so a handler never finds this CPU holding it.
pub struct IrqMutexGuard<'a, T> {
    guard: MutexGuard<'a, T>,
    _irq: IrqGuard,
}

impl<T> IrqMutex<T> {
    pub const fn new(value: T) -> Self {
        Self {
            inner: Mutex::new(value),
        }
    }

    pub fn lock(&self) -> IrqMutexGuard<'_, T> {
        let irq = IrqGuard::new();
        IrqMutexGuard {
            guard: self.inner.lock(),
            _irq: irq,
        }
    }

    /// The lock if it is free now, else `None` (for paths that must never wait: the
    /// panic path, a console write racing a redraw).
    pub fn try_lock(&self) -> Option<IrqMutexGuard<'_, T>> {
        let irq = IrqGuard::new();
        let guard = self.inner.try_lock()?;
        Some(IrqMutexGuard { guard, _irq: irq })
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
