//! The inference queue's ordering, as plain data: jobs wait in a fixed number of priority
//! classes (rank 0 is the highest), FIFO within a class. The kernel's `ai::queue` wraps one
//! of these in its lock; this module is where the order is defined and host-tested.
//!
//! - [`ClassQueue::take`] gives the oldest job of the highest non-empty class.
//! - [`ClassQueue::has_above`] tells a worker at a node boundary whether a job of a
//!   strictly higher class than its own waits; it then puts its job back with
//!   [`ClassQueue::push_front`], so the preempted job is the next of its class to run.
//! - [`ClassQueue::remove`] (cancellation of one job) and [`ClassQueue::drain_where`]
//!   (every job of a process that exits) keep the order of what stays.
//!
//! Every insertion is fallible (`try_reserve`): a full heap refuses a job instead of
//! aborting the kernel. Never panics on any rank: an out-of-range rank is an error.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Why a job could not be queued (it is handed back).
#[derive(Debug, PartialEq, Eq)]
pub enum QueueError<T> {
    /// The rank is not below the number of classes.
    BadRank(T),
    /// No memory for one more entry.
    NoMemory(T),
}

/// Jobs in `N` priority classes; see the module docs.
pub struct ClassQueue<T, const N: usize> {
    classes: [VecDeque<T>; N],
}

impl<T, const N: usize> Default for ClassQueue<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> ClassQueue<T, N> {
    pub const fn new() -> Self {
        Self {
            classes: [const { VecDeque::new() }; N],
        }
    }

    fn insert(&mut self, rank: usize, job: T, front: bool) -> Result<(), QueueError<T>> {
        let Some(c) = self.classes.get_mut(rank) else {
            return Err(QueueError::BadRank(job));
        };
        if c.try_reserve(1).is_err() {
            return Err(QueueError::NoMemory(job));
        }
        if front {
            c.push_front(job);
        } else {
            c.push_back(job);
        }
        Ok(())
    }

    /// Queues `job` last in class `rank`.
    pub fn push(&mut self, rank: usize, job: T) -> Result<(), QueueError<T>> {
        self.insert(rank, job, false)
    }

    /// Queues `job` first in class `rank` (a preempted job that resumes next).
    pub fn push_front(&mut self, rank: usize, job: T) -> Result<(), QueueError<T>> {
        self.insert(rank, job, true)
    }

    /// The oldest job of the highest class that has one, with its rank.
    pub fn take(&mut self) -> Option<(usize, T)> {
        self.classes
            .iter_mut()
            .enumerate()
            .find_map(|(r, c)| c.pop_front().map(|j| (r, j)))
    }

    /// True when a job of a class strictly higher than `rank` waits.
    pub fn has_above(&self, rank: usize) -> bool {
        self.classes[..rank.min(N)].iter().any(|c| !c.is_empty())
    }

    /// Takes out the first job of class `rank` that `is` matches.
    pub fn remove(&mut self, rank: usize, is: impl Fn(&T) -> bool) -> Option<T> {
        let c = self.classes.get_mut(rank)?;
        let i = c.iter().position(is)?;
        c.remove(i)
    }

    /// How many jobs `is` matches, in every class.
    pub fn count_where(&self, is: impl Fn(&T) -> bool) -> usize {
        self.classes
            .iter()
            .map(|c| c.iter().filter(|j| is(j)).count())
            .sum()
    }

    /// Moves every job `is` matches into `out`, highest class first and in order; the
    /// rest keep their order. `out` must have room for them ([`Self::count_where`]):
    /// otherwise nothing moves and `false` is returned.
    pub fn drain_where(&mut self, is: impl Fn(&T) -> bool, out: &mut Vec<T>) -> bool {
        let n = self.count_where(&is);
        if out.capacity() - out.len() < n {
            return false;
        }
        for c in self.classes.iter_mut() {
            let mut i = 0;
            while i < c.len() {
                if is(&c[i]) {
                    if let Some(j) = c.remove(i) {
                        out.push(j);
                    }
                } else {
                    i += 1;
                }
            }
        }
        true
    }

    /// Calls `f` on every queued job, highest class first.
    pub fn for_each(&self, mut f: impl FnMut(&T)) {
        for c in &self.classes {
            c.iter().for_each(&mut f);
        }
    }

    /// Jobs queued in all classes.
    pub fn len(&self) -> usize {
        self.classes.iter().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Jobs queued in class `rank` (0 for a rank out of range).
    pub fn len_of(&self, rank: usize) -> usize {
        self.classes.get(rank).map_or(0, VecDeque::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use wayos_testutil::XorShift;

    type Q = ClassQueue<(usize, u32), 4>;

    fn drain(q: &mut Q) -> Vec<(usize, u32)> {
        let mut v = Vec::new();
        while let Some((r, j)) = q.take() {
            assert_eq!(r, j.0, "a job came out of another class");
            v.push(j);
        }
        v
    }

    #[test]
    fn higher_classes_first_fifo_within() {
        let mut q = Q::new();
        for (r, id) in [(3, 1), (2, 2), (3, 3), (0, 4), (2, 5), (1, 6), (0, 7)] {
            q.push(r, (r, id)).unwrap();
        }
        let ids: Vec<u32> = drain(&mut q).iter().map(|j| j.1).collect();
        assert_eq!(ids, vec![4, 7, 6, 2, 5, 1, 3]);
        assert!(q.is_empty());
    }

    #[test]
    fn preempted_job_resumes_before_its_class() {
        let mut q = Q::new();
        q.push(3, (3, 1)).unwrap();
        q.push(3, (3, 2)).unwrap();
        // Job 1 runs; an RT job arrives; at the node boundary job 1 sees it and yields.
        let (r, running) = q.take().unwrap();
        assert_eq!((r, running.1), (3, 1));
        assert!(!q.has_above(3));
        q.push(0, (0, 9)).unwrap();
        assert!(q.has_above(3));
        assert!(!q.has_above(0), "nothing is above the highest class");
        q.push_front(3, running).unwrap();
        let ids: Vec<u32> = drain(&mut q).iter().map(|j| j.1).collect();
        assert_eq!(ids, vec![9, 1, 2]);
    }

    #[test]
    fn has_above_is_strict() {
        let mut q = Q::new();
        q.push(2, (2, 1)).unwrap();
        assert!(!q.has_above(2), "same class does not preempt");
        assert!(q.has_above(3));
        assert!(!q.has_above(1));
        assert!(
            q.has_above(usize::MAX),
            "an absurd rank is below every class"
        );
    }

    #[test]
    fn bad_rank_is_refused_and_handed_back() {
        let mut q = Q::new();
        assert_eq!(q.push(4, (4, 1)), Err(QueueError::BadRank((4, 1))));
        assert_eq!(
            q.push_front(usize::MAX, (0, 2)),
            Err(QueueError::BadRank((0, 2)))
        );
        assert!(q.is_empty());
        assert_eq!(q.remove(7, |_| true), None);
        assert_eq!(q.len_of(9), 0);
    }

    #[test]
    fn remove_and_drain_keep_the_order_of_the_rest() {
        let mut q = Q::new();
        for id in 0..12u32 {
            let r = (id % 4) as usize;
            q.push(r, (r, id)).unwrap();
        }
        assert_eq!(q.remove(1, |j| j.1 == 5), Some((1, 5)));
        assert_eq!(q.remove(1, |j| j.1 == 5), None, "removed once");
        let mut out = Vec::new();
        // No room: nothing moves.
        assert!(!q.drain_where(|j| j.1 % 3 == 0, &mut out));
        assert_eq!(q.len(), 11);
        out.reserve_exact(q.count_where(|j| j.1 % 3 == 0));
        assert!(q.drain_where(|j| j.1 % 3 == 0, &mut out));
        let gone: Vec<u32> = out.iter().map(|j| j.1).collect();
        assert_eq!(gone, vec![0, 9, 6, 3]);
        let ids: Vec<u32> = drain(&mut q).iter().map(|j| j.1).collect();
        assert_eq!(ids, vec![4, 8, 1, 2, 10, 7, 11]);
    }

    /// Against a simple model: a list of (rank, seq) where take picks the minimum
    /// (rank, position) — random pushes, front pushes, takes and removals.
    #[test]
    fn random_operations_match_a_model() {
        let mut rng = XorShift::new(0x5eed_1234);
        for _ in 0..200 {
            let mut q = Q::new();
            let mut model: Vec<Vec<(usize, u32)>> = vec![Vec::new(); 4];
            let mut next = 0u32;
            for _ in 0..100 {
                match rng.next() % 5 {
                    0 | 1 => {
                        let r = (rng.next() % 4) as usize;
                        q.push(r, (r, next)).unwrap();
                        model[r].push((r, next));
                        next += 1;
                    }
                    2 => {
                        let r = (rng.next() % 4) as usize;
                        q.push_front(r, (r, next)).unwrap();
                        model[r].insert(0, (r, next));
                        next += 1;
                    }
                    3 => {
                        let want = model
                            .iter_mut()
                            .enumerate()
                            .find(|(_, c)| !c.is_empty())
                            .map(|(r, c)| (r, c.remove(0)));
                        assert_eq!(q.take(), want);
                    }
                    _ => {
                        let r = (rng.next() % 4) as usize;
                        if let Some(&(_, id)) = model[r].first() {
                            model[r].remove(0);
                            assert_eq!(q.remove(r, |j| j.1 == id), Some((r, id)));
                        }
                    }
                }
                for r in 0..5 {
                    assert_eq!(
                        q.has_above(r),
                        model[..r.min(4)].iter().any(|c| !c.is_empty())
                    );
                }
                assert_eq!(q.len(), model.iter().map(Vec::len).sum::<usize>());
            }
        }
    }
}
