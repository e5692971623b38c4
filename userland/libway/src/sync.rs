//! Futexes and what is built on them: a blocking [`Mutex`] and a [`Barrier`].
//!
//! [`futex_wait`] sleeps while an aligned `u32` holds an expected value, [`futex_wake`]
//! wakes sleepers on it (`wayos_abi::sys::FUTEX_WAIT`, `FUTEX_WAKE`). The kernel only
//! reads the word, so the calls are safe even on an address the program does not own
//! (it answers `EFAULT`/`EINVAL`).
//!
//! The mutex is the classic three-state futex lock (0 free, 1 held, 2 held with possible
//! waiters): an uncontended lock and unlock are one atomic operation each and never enter
//! the kernel. If the kernel refuses futexes altogether the lock degrades to yielding
//! while it spins, so it still works, only slower.

use core::cell::UnsafeCell;
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};

use wayos_abi::errno::{EAGAIN, EINTR, ETIMEDOUT};
use wayos_abi::sys;

use crate::errno::Errno;
use crate::sys::MemFree;

/// `futex_wait`'s "no timeout".
pub const FOREVER: u64 = u64::MAX;

/// `futex_wait(addr, expected, timeout_ns)` on a raw address: `Ok` when woken (or
/// spuriously), `EAGAIN` if the word was not `expected`, `ETIMEDOUT`, `EINTR`.
/// `timeout_ns` [`FOREVER`] waits without a limit.
pub fn futex_wait_addr(addr: usize, expected: u32, timeout_ns: u64) -> Result<(), Errno> {
    // SAFETY: the kernel only reads the u32 at `addr` (answering EFAULT for a bad one);
    // sleeping changes no memory.
    unsafe {
        crate::sys::call(
            sys::FUTEX_WAIT,
            [addr, expected as usize, timeout_ns as usize, 0, 0, 0],
        )
    }
    .map(drop)
}

/// `futex_wake(addr, count)` on a raw address: returns how many sleepers it woke.
pub fn futex_wake_addr(addr: usize, count: usize) -> Result<usize, Errno> {
    crate::sys::call2(MemFree::FUTEX_WAKE, addr, count)
}

/// Sleeps while `word` holds `expected` (see [`futex_wait_addr`]).
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout_ns: u64) -> Result<(), Errno> {
    futex_wait_addr(word.as_ptr() as usize, expected, timeout_ns)
}

/// Wakes at most `count` sleepers on `word`; returns how many it woke.
pub fn futex_wake(word: &AtomicU32, count: usize) -> Result<usize, Errno> {
    futex_wake_addr(word.as_ptr() as usize, count)
}

/// Nanoseconds on the monotonic clock, or 0 if the clock fails (then deadlines only
/// expire through the futex timeouts themselves).
fn now_ns() -> u64 {
    crate::time::monotonic_ns().unwrap_or(0)
}

/// Waits until `done(word's value)` holds or `timeout_ns` passes; returns whether it held.
///
/// Sleeps on the word between checks, so whoever changes it must `futex_wake` it. If the
/// kernel refuses futexes the wait yields and polls instead. `timeout_ns` [`FOREVER`]
/// waits without a limit.
pub fn wait_until(word: &AtomicU32, timeout_ns: u64, done: impl Fn(u32) -> bool) -> bool {
    let start = now_ns();
    // Time spent polling without futexes, so a clock that does not move still ends it.
    let mut polled_ns: u64 = 0;
    loop {
        let v = word.load(Ordering::Acquire);
        if done(v) {
            return true;
        }
        let left = if timeout_ns == FOREVER {
            FOREVER
        } else {
            let spent = now_ns().saturating_sub(start).max(polled_ns);
            if spent >= timeout_ns {
                return false;
            }
            timeout_ns - spent
        };
        match futex_wait(word, v, left) {
            Ok(()) => {}
            Err(e) if e.code() == EAGAIN || e.code() == EINTR || e.code() == ETIMEDOUT => {}
            Err(_) => {
                // No futexes: poll once a millisecond.
                let _ = crate::process::sleep_or_yield(1);
                polled_ns = polled_ns.saturating_add(1_000_000);
            }
        }
    }
}

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// A mutual-exclusion lock over a `T`, sleeping in the kernel while another thread holds
/// it. Not re-entrant: locking it twice from one thread deadlocks.
pub struct Mutex<T: ?Sized> {
    state: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time, so sharing the
// mutex only ever moves `T` between threads, which `T: Send` allows.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: owning the mutex is owning the `T`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Self {
        Self {
            state: AtomicU32::new(UNLOCKED),
            value: UnsafeCell::new(value),
        }
    }

    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Takes the lock, sleeping while another thread holds it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        MutexGuard { mutex: self }
    }

    #[cold]
    fn lock_contended(&self) {
        // Mark the lock contended so the holder's unlock wakes someone; whoever finds
        // it free on the swap owns it (still marked contended: a harmless extra wake).
        while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            match futex_wait(&self.state, CONTENDED, FOREVER) {
                Ok(()) => {}
                Err(e) if e.code() == EAGAIN || e.code() == EINTR => {}
                Err(_) => {
                    let _ = crate::process::sched_yield();
                }
            }
        }
    }

    /// Takes the lock if it is free.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| MutexGuard { mutex: self })
    }

    /// The value, through exclusive access to the mutex (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn unlock(&self) {
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            let _ = futex_wake(&self.state, 1);
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.state.load(Ordering::Relaxed) != UNLOCKED;
        f.debug_struct("Mutex").field("held", &held).finish()
    }
}

/// Access to a [`Mutex`]'s value; unlocks when dropped.
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

// SAFETY: a guard shared between threads only gives out `&T`, which needs `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this thread holds the lock, and `&mut self`
        // makes this the only reference through it.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

/// The [`Barrier::wait_timeout`] deadline passed before every party arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedOut;

/// Lets `n` threads wait until all of them have arrived, then releases them together.
/// Reusable: the next round starts as soon as a round releases.
pub struct Barrier {
    parties: u32,
    arrived: AtomicU32,
    /// Bumped once per completed round; waiters sleep on it.
    generation: AtomicU32,
}

impl Barrier {
    /// A barrier for `parties` threads (0 behaves as 1).
    pub const fn new(parties: u32) -> Self {
        Self {
            parties: if parties == 0 { 1 } else { parties },
            arrived: AtomicU32::new(0),
            generation: AtomicU32::new(0),
        }
    }

    /// Waits for the other parties; true in exactly one thread per round (the last to
    /// arrive).
    pub fn wait(&self) -> bool {
        self.wait_timeout(FOREVER).unwrap_or(false)
    }

    /// As [`Barrier::wait`], giving up after `timeout_ns`. After a timeout the barrier is
    /// broken (this party counted as arrived) and should not be used again.
    pub fn wait_timeout(&self, timeout_ns: u64) -> Result<bool, TimedOut> {
        let gen = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.parties {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            let _ = futex_wake(&self.generation, usize::MAX);
            return Ok(true);
        }
        if wait_until(&self.generation, timeout_ns, |g| g != gen) {
            Ok(false)
        } else {
            Err(TimedOut)
        }
    }
}
