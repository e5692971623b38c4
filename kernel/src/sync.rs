//! Locks for state shared with interrupt handlers.
//!
//! [`IrqMutex`] disables interrupts on this CPU while held, so an interrupt handler that
//! takes the same lock can never spin on a holder it interrupted. Lock order (outermost
//! first) is written down in `docs/scheduler.md`.

use core::ops::{Deref, DerefMut};

use spin::{Mutex, MutexGuard};

use crate::arch;

pub struct IrqMutex<T> {
    inner: Mutex<T>,
}

pub struct IrqMutexGuard<'a, T> {
    guard: Option<MutexGuard<'a, T>>,
    were_enabled: bool,
}

impl<T> IrqMutex<T> {
    pub const fn new(value: T) -> Self {
        Self {
            inner: Mutex::new(value),
        }
    }

    pub fn lock(&self) -> IrqMutexGuard<'_, T> {
        let were_enabled = arch::interrupts_enabled();
        arch::disable_interrupts();
        IrqMutexGuard {
            guard: Some(self.inner.lock()),
            were_enabled,
        }
    }
}

impl<T> Deref for IrqMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("guard present until drop")
    }
}

impl<T> DerefMut for IrqMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("guard present until drop")
    }
}

impl<T> Drop for IrqMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.guard.take();
        if self.were_enabled {
            arch::enable_interrupts();
        }
    }
}
