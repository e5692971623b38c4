//! IPC bookkeeping without hardware: handle tables with rights and generations, bounded
//! port queues, and the name registry. The kernel wraps these in locks and wait queues
//! (`kernel/src/ipc/`); see `docs/ipc.md`.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use wayos_abi::ipc::{MAX_CAPACITY, NAME_MAX, NO_HANDLE, RIGHTS_DEFINED, RIGHT_GRANT};

/// Why a handle operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleError {
    /// No such handle: never issued, closed, or a stale number from a reused slot.
    BadHandle,
    /// The handle exists but lacks a needed right (or `dup` asked for more rights).
    MissingRights,
    /// The table is at its capacity.
    Full,
    /// `dup` was asked for rights that are not rights at all.
    InvalidRights,
}

/// Bits of a handle number holding the slot index.
const INDEX_BITS: u32 = 16;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
/// Generations use 15 bits, so a handle is below `0x8000_0000` and never `NO_HANDLE`.
const GEN_MASK: u32 = 0x7fff;
/// Most slots a table may have (the index must fit its bits).
pub const MAX_TABLE_CAPACITY: usize = 1 << INDEX_BITS;

struct Slot<T> {
    generation: u32,
    entry: Option<(T, u32)>,
}

/// A process's handles: each is an object with a set of rights. Handle numbers carry a
/// generation, so a closed handle's number stays invalid when its slot is reused (until
/// the 15-bit generation wraps).
pub struct HandleTable<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
    capacity: usize,
}

impl<T> HandleTable<T> {
    /// An empty table holding at most `capacity` handles (clamped to
    /// [`MAX_TABLE_CAPACITY`]).
    pub const fn new(capacity: usize) -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            capacity: if capacity > MAX_TABLE_CAPACITY {
                MAX_TABLE_CAPACITY
            } else {
                capacity
            },
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every handle with its object and rights, lowest index first (for diagnostics).
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T, u32)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let (obj, rights) = s.entry.as_ref()?;
            Some((Self::handle(i as u32, s.generation), obj, *rights))
        })
    }

    /// Handles that can still be inserted.
    pub fn room(&self) -> usize {
        self.capacity - self.len
    }

    fn handle(index: u32, generation: u32) -> u32 {
        (generation << INDEX_BITS) | index
    }

    fn slot(&self, h: u32) -> Result<&(T, u32), HandleError> {
        if h == NO_HANDLE {
            return Err(HandleError::BadHandle);
        }
        let s = self
            .slots
            .get((h & INDEX_MASK) as usize)
            .ok_or(HandleError::BadHandle)?;
        if s.generation != h >> INDEX_BITS {
            return Err(HandleError::BadHandle);
        }
        s.entry.as_ref().ok_or(HandleError::BadHandle)
    }

    /// Adds `obj` with `rights`; returns its handle.
    pub fn insert(&mut self, obj: T, rights: u32) -> Result<u32, HandleError> {
        if self.len >= self.capacity {
            return Err(HandleError::Full);
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 1,
                    entry: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.entry = Some((obj, rights));
        self.len += 1;
        Ok(Self::handle(index, slot.generation))
    }

    /// The object behind `h`, if the handle has every right in `needed`.
    pub fn get(&self, h: u32, needed: u32) -> Result<&T, HandleError> {
        let (obj, rights) = self.slot(h)?;
        if rights & needed != needed {
            return Err(HandleError::MissingRights);
        }
        Ok(obj)
    }

    /// The rights of `h`.
    pub fn rights(&self, h: u32) -> Result<u32, HandleError> {
        self.slot(h).map(|&(_, r)| r)
    }

    /// Checks that `h` exists and has `needed` (what [`HandleTable::take`] would check).
    pub fn check(&self, h: u32, needed: u32) -> Result<(), HandleError> {
        self.get(h, needed).map(drop)
    }

    /// A new handle to the object of `h` with `rights`, made by `make` from the original.
    /// Needs the grant right on `h`, and `rights` must be a subset of its rights.
    pub fn dup_with(
        &mut self,
        h: u32,
        rights: u32,
        make: impl FnOnce(&T, u32) -> T,
    ) -> Result<u32, HandleError> {
        if rights & !RIGHTS_DEFINED != 0 {
            return Err(HandleError::InvalidRights);
        }
        let (obj, have) = self.slot(h)?;
        if have & RIGHT_GRANT == 0 || rights & !have != 0 {
            return Err(HandleError::MissingRights);
        }
        if self.len >= self.capacity {
            return Err(HandleError::Full);
        }
        let copy = make(obj, rights);
        self.insert(copy, rights)
    }

    /// Removes `h`, returning its object and rights.
    pub fn remove(&mut self, h: u32) -> Result<(T, u32), HandleError> {
        self.slot(h)?;
        let index = h & INDEX_MASK;
        let slot = &mut self.slots[index as usize];
        let entry = slot.entry.take().ok_or(HandleError::BadHandle)?;
        slot.generation = (slot.generation + 1) & GEN_MASK;
        if slot.generation == 0 {
            slot.generation = 1;
        }
        self.free.push(index);
        self.len -= 1;
        Ok(entry)
    }

    /// Removes `h` if it has every right in `needed`; otherwise leaves it in place.
    pub fn take(&mut self, h: u32, needed: u32) -> Result<(T, u32), HandleError> {
        self.check(h, needed)?;
        self.remove(h)
    }

    /// Removes every handle, returning the objects (so the caller can drop them after
    /// releasing its lock).
    pub fn drain(&mut self) -> Vec<(T, u32)> {
        let mut out = Vec::with_capacity(self.len);
        for (i, s) in self.slots.iter_mut().enumerate() {
            if let Some(e) = s.entry.take() {
                s.generation = (s.generation + 1) & GEN_MASK;
                if s.generation == 0 {
                    s.generation = 1;
                }
                self.free.push(i as u32);
                out.push(e);
            }
        }
        self.len = 0;
        out
    }
}

impl<T: Clone> HandleTable<T> {
    /// A new handle to the object of `h` with `rights` (a clone of the object). Needs the
    /// grant right on `h`; `rights` must be a subset of its rights.
    pub fn dup(&mut self, h: u32, rights: u32) -> Result<u32, HandleError> {
        self.dup_with(h, rights, |o, _| o.clone())
    }
}

/// Why a message was refused; the message comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError<M> {
    Full(M),
    Closed(M),
}

/// A bounded FIFO of messages that can be closed once for good.
pub struct PortQueue<M> {
    items: VecDeque<M>,
    capacity: usize,
    closed: bool,
}

impl<M> PortQueue<M> {
    /// A queue for `capacity` messages; `None` unless `1..=MAX_CAPACITY`.
    pub fn new(capacity: usize) -> Option<Self> {
        if capacity == 0 || capacity > MAX_CAPACITY {
            return None;
        }
        Some(Self {
            items: VecDeque::new(),
            capacity,
            closed: false,
        })
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.items.len() >= self.capacity
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Appends `m`, or gives it back when the queue is closed or full.
    pub fn push(&mut self, m: M) -> Result<(), PushError<M>> {
        if self.closed {
            return Err(PushError::Closed(m));
        }
        if self.is_full() {
            return Err(PushError::Full(m));
        }
        self.items.push_back(m);
        Ok(())
    }

    /// Makes sure the next [`PortQueue::push`] does not allocate: `Ok` when there is
    /// spare room already or it could be had, `Err` (nothing changes) when memory ran out.
    /// `admit` is asked, with the bytes the growth takes, before anything is allocated.
    pub fn reserve_one<E>(
        &mut self,
        admit: impl FnOnce(usize) -> Result<(), E>,
    ) -> Result<(), Option<E>> {
        if self.items.len() < self.items.capacity() {
            return Ok(());
        }
        let grow = self.items.capacity().max(4) * core::mem::size_of::<M>();
        admit(grow).map_err(Some)?;
        self.items.try_reserve(1).map_err(|_| None)
    }

    /// Appends `m` even when the queue is full: for the kernel's one-off notices (a
    /// stream's `CLOSE`), which must not be lost to a full queue and whose number the
    /// caller bounds itself. Gives `m` back only when the queue is closed, or (as
    /// `Full`) when its memory could not grow.
    pub fn push_notice(&mut self, m: M) -> Result<(), PushError<M>> {
        if self.closed {
            return Err(PushError::Closed(m));
        }
        if self.items.try_reserve(1).is_err() {
            return Err(PushError::Full(m));
        }
        self.items.push_back(m);
        Ok(())
    }

    /// The oldest message.
    pub fn pop(&mut self) -> Option<M> {
        self.items.pop_front()
    }

    /// Closes the queue for good and returns what was still queued (for the caller to
    /// drop outside its lock).
    pub fn close(&mut self) -> VecDeque<M> {
        self.closed = true;
        core::mem::take(&mut self.items)
    }
}

/// Why a name operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    /// Empty name.
    Invalid,
    /// Longer than `NAME_MAX` bytes.
    TooLong,
    /// Register: the name is taken.
    Exists,
    /// Lookup: no such name.
    NotFound,
}

/// Service names mapped to objects.
pub struct NameRegistry<T> {
    names: BTreeMap<Vec<u8>, T>,
}

impl<T> Default for NameRegistry<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Accepts `1..=NAME_MAX` bytes.
pub fn check_name(name: &[u8]) -> Result<(), NameError> {
    if name.is_empty() {
        Err(NameError::Invalid)
    } else if name.len() > NAME_MAX {
        Err(NameError::TooLong)
    } else {
        Ok(())
    }
}

impl<T> NameRegistry<T> {
    pub const fn new() -> Self {
        Self {
            names: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Binds `name` to `value`; a taken name is [`NameError::Exists`] and nothing changes
    /// (the value comes back in the error path via drop).
    pub fn register(&mut self, name: &[u8], value: T) -> Result<(), NameError> {
        check_name(name)?;
        if self.names.contains_key(name) {
            return Err(NameError::Exists);
        }
        self.names.insert(name.to_vec(), value);
        Ok(())
    }

    pub fn lookup(&self, name: &[u8]) -> Result<&T, NameError> {
        check_name(name)?;
        self.names.get(name).ok_or(NameError::NotFound)
    }

    /// Removes `name`.
    pub fn unregister(&mut self, name: &[u8]) -> Result<T, NameError> {
        check_name(name)?;
        self.names.remove(name).ok_or(NameError::NotFound)
    }

    /// Removes every entry whose value matches `dead` (e.g. the ports of a server that
    /// died) and returns them.
    pub fn unregister_where(&mut self, mut dead: impl FnMut(&T) -> bool) -> Vec<T> {
        let keys: Vec<Vec<u8>> = self
            .names
            .iter()
            .filter(|(_, v)| dead(v))
            .map(|(k, _)| k.clone())
            .collect();
        keys.iter()
            .filter_map(|k| self.names.remove(k.as_slice()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::vec;
    use wayos_abi::ipc::{RIGHTS_ALL, RIGHT_RECV, RIGHT_SEND};
    use wayos_testutil::XorShift;

    #[test]
    fn handle_basics() {
        let mut t = HandleTable::new(4);
        let h = t.insert(10u32, RIGHT_SEND).unwrap();
        assert_ne!(h, NO_HANDLE);
        assert_eq!(t.get(h, RIGHT_SEND), Ok(&10));
        assert_eq!(t.get(h, RIGHT_RECV), Err(HandleError::MissingRights));
        assert_eq!(t.get(h, 0), Ok(&10));
        assert_eq!(t.get(NO_HANDLE, 0), Err(HandleError::BadHandle));
        assert_eq!(t.get(0x7fff_fff0, 0), Err(HandleError::BadHandle));
        assert_eq!(t.remove(h), Ok((10, RIGHT_SEND)));
        assert_eq!(t.get(h, 0), Err(HandleError::BadHandle));
        assert_eq!(t.remove(h), Err(HandleError::BadHandle));
        // The slot is reused with a new generation: the old number stays dead.
        let h2 = t.insert(11, RIGHT_SEND).unwrap();
        assert_ne!(h, h2);
        assert_eq!(t.get(h, 0), Err(HandleError::BadHandle));
        assert_eq!(t.get(h2, 0), Ok(&11));
    }

    #[test]
    fn iter_lists_live_handles_with_their_numbers() {
        let mut t = HandleTable::new(8);
        let a = t.insert(1u32, RIGHT_SEND).unwrap();
        let b = t.insert(2, RIGHTS_ALL).unwrap();
        let c = t.insert(3, RIGHT_RECV).unwrap();
        t.remove(b).unwrap();
        let d = t.insert(4, RIGHT_SEND).unwrap();
        let mut got: std::vec::Vec<(u32, u32, u32)> =
            t.iter().map(|(h, &v, r)| (h, v, r)).collect();
        got.sort();
        let mut want = std::vec![(a, 1, RIGHT_SEND), (c, 3, RIGHT_RECV), (d, 4, RIGHT_SEND)];
        want.sort();
        assert_eq!(got, want);
        // Every number listed is one `get` accepts.
        for (h, v, _) in got {
            assert_eq!(t.get(h, 0), Ok(&v));
        }
        assert_eq!(t.iter().count(), t.len());
    }

    #[test]
    fn handle_capacity_and_dup() {
        let mut t = HandleTable::new(2);
        let a = t.insert(1u8, RIGHTS_ALL).unwrap();
        let b = t.dup(a, RIGHT_SEND).unwrap();
        assert_eq!(t.insert(2, 0), Err(HandleError::Full));
        assert_eq!(t.dup(a, RIGHT_SEND), Err(HandleError::Full));
        t.remove(a).unwrap();
        // No grant right on b.
        assert_eq!(t.dup(b, RIGHT_SEND), Err(HandleError::MissingRights));
        let c = t.insert(3, RIGHT_SEND | RIGHT_GRANT).unwrap();
        t.remove(b).unwrap();
        assert_eq!(t.dup(c, RIGHT_RECV), Err(HandleError::MissingRights));
        assert_eq!(t.dup(c, 1 << 9), Err(HandleError::InvalidRights));
        let d = t.dup(c, RIGHT_GRANT).unwrap();
        assert_eq!(t.rights(d), Ok(RIGHT_GRANT));
        assert_eq!(t.take(d, RIGHT_SEND), Err(HandleError::MissingRights));
        assert_eq!(t.get(d, 0), Ok(&3));
        assert_eq!(t.drain().len(), 2);
        assert!(t.is_empty());
        assert_eq!(t.get(c, 0), Err(HandleError::BadHandle));
    }

    #[test]
    fn generation_wraps_without_no_handle() {
        let mut t = HandleTable::new(1);
        let mut seen = std::collections::HashSet::new();
        for i in 0..(GEN_MASK as usize + 10) {
            let h = t.insert(i, 0).unwrap();
            assert_ne!(h, NO_HANDLE);
            assert!(h < 0x8000_0000);
            if i < GEN_MASK as usize - 1 {
                assert!(seen.insert(h), "handle reused before wrap");
            }
            t.remove(h).unwrap();
        }
    }

    #[test]
    fn handle_table_matches_model() {
        let mut rng = XorShift(0x1234_5678);
        for _ in 0..50 {
            let cap = 1 + rng.below(20) as usize;
            let mut t = HandleTable::new(cap);
            let mut model: BTreeMap<u32, (u64, u32)> = BTreeMap::new();
            let mut dead: Vec<u32> = Vec::new();
            for step in 0..500u64 {
                let live: Vec<u32> = model.keys().copied().collect();
                let pick = |rng: &mut XorShift| -> u32 {
                    match rng.below(3) {
                        0 if !live.is_empty() => live[rng.below(live.len() as u64) as usize],
                        1 if !dead.is_empty() => dead[rng.below(dead.len() as u64) as usize],
                        _ => rng.next() as u32,
                    }
                };
                let rights = rng.below(8) as u32;
                match rng.below(5) {
                    0 => {
                        let r = t.insert(step, rights);
                        if model.len() >= cap {
                            assert_eq!(r, Err(HandleError::Full));
                        } else {
                            let h = r.unwrap();
                            assert!(!model.contains_key(&h));
                            model.insert(h, (step, rights));
                        }
                    }
                    1 => {
                        let h = pick(&mut rng);
                        let r = t.get(h, rights);
                        match model.get(&h) {
                            None => assert_eq!(r, Err(HandleError::BadHandle)),
                            Some(&(v, have)) if have & rights == rights => {
                                assert_eq!(r, Ok(&v))
                            }
                            Some(_) => assert_eq!(r, Err(HandleError::MissingRights)),
                        }
                    }
                    2 => {
                        let h = pick(&mut rng);
                        let r = t.dup(h, rights);
                        match model.get(&h).copied() {
                            None => assert_eq!(r, Err(HandleError::BadHandle)),
                            Some((_, have)) if have & RIGHT_GRANT == 0 || rights & !have != 0 => {
                                assert_eq!(r, Err(HandleError::MissingRights))
                            }
                            Some(_) if model.len() >= cap => {
                                assert_eq!(r, Err(HandleError::Full))
                            }
                            Some((v, _)) => {
                                model.insert(r.unwrap(), (v, rights));
                            }
                        }
                    }
                    _ => {
                        let h = pick(&mut rng);
                        let r = t.remove(h);
                        match model.remove(&h) {
                            None => assert_eq!(r, Err(HandleError::BadHandle)),
                            Some(e) => {
                                assert_eq!(r, Ok(e));
                                dead.push(h);
                            }
                        }
                    }
                }
                assert_eq!(t.len(), model.len());
            }
        }
    }

    #[test]
    fn notices_pass_a_full_queue_but_not_a_closed_one() {
        let mut q = PortQueue::<u64>::new(2).unwrap();
        assert!(q.push(1).is_ok());
        assert!(q.push(2).is_ok());
        assert!(matches!(q.push(3), Err(PushError::Full(3))));
        assert!(q.push_notice(4).is_ok());
        assert_eq!(q.len(), 3);
        assert!(q.is_full());
        // Still full after one pop: the notice took a place beyond the capacity.
        assert_eq!(q.pop(), Some(1));
        assert!(q.is_full());
        assert!(matches!(q.push(5), Err(PushError::Full(5))));
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), Some(4));
        assert!(q.push(6).is_ok());
        let left = q.close();
        assert_eq!(left.len(), 1);
        assert!(matches!(q.push_notice(7), Err(PushError::Closed(7))));
    }

    #[test]
    fn queue_limits_and_close() {
        assert!(PortQueue::<u8>::new(0).is_none());
        assert!(PortQueue::<u8>::new(MAX_CAPACITY + 1).is_none());
        // Growth asks first, and a refusal leaves the queue as it was.
        let mut q = PortQueue::<u64>::new(4).unwrap();
        assert_eq!(q.reserve_one(|_| Err("no")), Err(Some("no")));
        let mut asked = 0;
        assert_eq!(
            q.reserve_one(|n| {
                asked = n;
                Ok::<(), ()>(())
            }),
            Ok(())
        );
        assert!(asked >= 8);
        assert!(q.push(1).is_ok());
        assert_eq!(
            q.reserve_one(|_| Err("unused")),
            Ok(()),
            "spare room needs no growth"
        );
        let mut q = PortQueue::new(MAX_CAPACITY).unwrap();
        for i in 0..MAX_CAPACITY {
            q.push(i).unwrap();
        }
        assert_eq!(q.push(999), Err(PushError::Full(999)));
        assert_eq!(q.pop(), Some(0));
        q.push(1000).unwrap();
        let left = q.close();
        assert_eq!(left.len(), MAX_CAPACITY);
        assert_eq!(left.back(), Some(&1000));
        assert!(q.is_closed());
        assert_eq!(q.pop(), None);
        assert_eq!(q.push(1), Err(PushError::Closed(1)));
    }

    #[test]
    fn queue_matches_model() {
        let mut rng = XorShift(0xdead_beef);
        for _ in 0..100 {
            let cap = 1 + rng.below(MAX_CAPACITY as u64) as usize;
            let mut q = PortQueue::new(cap).unwrap();
            let mut model: std::collections::VecDeque<u64> = Default::default();
            let mut closed = false;
            for _ in 0..1000 {
                match rng.below(20) {
                    0 if rng.below(10) == 0 => {
                        let left: Vec<u64> = q.close().into_iter().collect();
                        let want: Vec<u64> = model.drain(..).collect();
                        assert_eq!(left, want);
                        closed = true;
                    }
                    0..=9 => {
                        let v = rng.next();
                        let r = q.push(v);
                        if closed {
                            assert_eq!(r, Err(PushError::Closed(v)));
                        } else if model.len() >= cap {
                            assert_eq!(r, Err(PushError::Full(v)));
                        } else {
                            assert_eq!(r, Ok(()));
                            model.push_back(v);
                        }
                    }
                    _ => assert_eq!(q.pop(), model.pop_front()),
                }
                assert_eq!(q.len(), model.len());
                assert!(q.len() <= cap);
            }
        }
    }

    #[test]
    fn names() {
        let mut r = NameRegistry::new();
        assert_eq!(r.register(b"", 1), Err(NameError::Invalid));
        assert_eq!(
            r.register(&[b'a'; NAME_MAX + 1], 1),
            Err(NameError::TooLong)
        );
        assert_eq!(r.lookup(&[b'a'; NAME_MAX + 1]), Err(NameError::TooLong));
        r.register(&[b'a'; NAME_MAX], 7).unwrap();
        assert_eq!(r.lookup(&[b'a'; NAME_MAX]), Ok(&7));
        r.register(b"console", 1).unwrap();
        assert_eq!(r.register(b"console", 2), Err(NameError::Exists));
        assert_eq!(r.lookup(b"console"), Ok(&1));
        assert_eq!(r.lookup(b"missing"), Err(NameError::NotFound));
        r.register(b"net", 2).unwrap();
        r.register(b"net2", 2).unwrap();
        let mut gone = r.unregister_where(|&v| v == 2);
        gone.sort();
        assert_eq!(gone, vec![2, 2]);
        assert_eq!(r.lookup(b"net"), Err(NameError::NotFound));
        assert_eq!(r.unregister(b"console"), Ok(1));
        assert_eq!(r.unregister(b"console"), Err(NameError::NotFound));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn names_match_model() {
        let mut rng = XorShift(42);
        let mut r = NameRegistry::new();
        let mut model: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for _ in 0..3000 {
            let name = vec![b'a' + rng.below(4) as u8; 1 + rng.below(3) as usize];
            match rng.below(4) {
                0 => {
                    let v = rng.below(5);
                    let res = r.register(&name, v);
                    match model.entry(name) {
                        std::collections::btree_map::Entry::Occupied(_) => {
                            assert_eq!(res, Err(NameError::Exists))
                        }
                        std::collections::btree_map::Entry::Vacant(e) => {
                            assert_eq!(res, Ok(()));
                            e.insert(v);
                        }
                    }
                }
                1 => assert_eq!(r.lookup(&name).ok(), model.get(&name)),
                2 => assert_eq!(r.unregister(&name).ok(), model.remove(&name)),
                _ => {
                    let v = rng.below(5);
                    let n = r.unregister_where(|&x| x == v).len();
                    let before = model.len();
                    model.retain(|_, x| *x != v);
                    assert_eq!(n, before - model.len());
                }
            }
            assert_eq!(r.len(), model.len());
        }
    }
}
