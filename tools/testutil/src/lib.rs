//! What the host unit tests of every WayOS crate share: today, [`XorShift`], the one
//! random generator randomized tests draw from.
//!
//! A crate takes it as a `[dev-dependencies]` entry, so nothing here reaches the kernel
//! or a user program. It is `no_std` so `no_std` crates' tests can use it unchanged.
//!
//! Randomized tests must repeat exactly: a failure names its seed, and the same seed
//! replays the same run on any machine. So the algorithm never changes (tests may depend
//! on the exact values it produces), and nothing here reads a clock or the OS.
#![no_std]
#![forbid(unsafe_code)]

/// Marsaglia's xorshift64 generator (shifts 13, 7, 17): small, fast, and good enough to
/// pick test operations, sizes and bytes. Not for anything that must be unpredictable.
///
/// `XorShift(seed)` starts from `seed` as it is; a zero state never leaves zero, so use
/// [`XorShift::new`] for a seed that may be 0.
#[derive(Clone, Debug)]
pub struct XorShift(pub u64);

impl XorShift {
    /// A generator from any seed: the low bit is set, so the state is never zero.
    pub const fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next 64 random bits.
    // An endless stream has no `None` to give, so it is not an `Iterator`; the name is the
    // one every randomized test already calls.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n`; `n` must not be 0. (The modulo bias is irrelevant for tests.)
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An index in `0..len` (a random element of a slice of `len` items); `len` must not
    /// be 0.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::XorShift;

    /// The first values from seed 1 (computed independently from the definition):
    /// tests elsewhere may depend on them, so they must never change.
    #[test]
    fn sequence_is_fixed() {
        let mut r = XorShift(1);
        assert_eq!(r.next(), 0x4082_2041);
        assert_eq!(r.next(), 0x1000_4106_0c01_1441);
        let mut a = XorShift::new(42);
        let mut b = XorShift(43);
        for _ in 0..100 {
            assert_eq!(a.next(), b.next());
        }
    }

    #[test]
    fn zero_seed_is_usable_through_new() {
        let mut r = XorShift::new(0);
        assert_ne!(r.next(), 0);
        assert_ne!(r.next(), r.next());
    }

    #[test]
    fn bounded_values_stay_in_range() {
        let mut r = XorShift::new(7);
        for n in 1..200u64 {
            assert!(r.below(n) < n);
            assert!(r.index(n as usize) < n as usize);
        }
    }
}
