//! The buffer cache's policy: which blocks of which devices are cached, which of them are
//! dirty, their least-recently-used order, which block to evict, and how many blocks the
//! cache may hold given the memory that is free.
//!
//! Generic over the block buffer `V` (the kernel keeps reference-counted page frames), so
//! the rules are tested on the host. This module never touches block contents and never
//! does I/O: it says what to write back and what to evict; the kernel does it.
//!
//! Rules:
//! - Only clean blocks are evicted ([`Cache::victim`]); a dirty block leaves the cache only
//!   after it was written back ([`Cache::mark_clean`]) and then chosen as a victim.
//! - Each device may have at most [`dirty_limit`] dirty blocks; the writer that would pass
//!   it writes its device's dirty blocks back first (the kernel's "pressure" path). So at
//!   most half the cache is ever dirty and a victim exists whenever the cache is full.
//! - The cache holds at most [`budget`] blocks, a share of the memory it holds plus the
//!   memory that is free, so it shrinks when the rest of the system needs memory.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use wayos_abi::blk::MAX_DEVICES;

/// A cached block: device number and block number (in cache blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub dev: usize,
    pub block: u64,
}

struct Entry<V> {
    value: V,
    dirty: bool,
    stamp: u64,
}

/// Counters of one device, as `BlkStats` reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevCounters {
    pub hits: u64,
    pub misses: u64,
    pub blocks: u64,
    pub dirty: u64,
    pub writebacks: u64,
    pub evictions: u64,
}

/// The index of cached blocks.
pub struct Cache<V> {
    map: BTreeMap<Key, Entry<V>>,
    /// Recency order of the clean blocks (the evictable ones): stamp -> key, oldest
    /// first. Dirty blocks are not in it, so finding a victim is one step.
    lru: BTreeMap<u64, Key>,
    /// Dirty blocks per device, in block order (write-back goes in disk order).
    dirty: [BTreeSet<u64>; MAX_DEVICES],
    counters: [DevCounters; MAX_DEVICES],
    next_stamp: u64,
}

impl<V: Clone> Default for Cache<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Clone> Cache<V> {
    pub const fn new() -> Self {
        Self {
            map: BTreeMap::new(),
            lru: BTreeMap::new(),
            dirty: [const { BTreeSet::new() }; MAX_DEVICES],
            counters: [DevCounters {
                hits: 0,
                misses: 0,
                blocks: 0,
                dirty: 0,
                writebacks: 0,
                evictions: 0,
            }; MAX_DEVICES],
            next_stamp: 0,
        }
    }

    /// Blocks cached, all devices.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Dirty blocks, all devices.
    pub fn dirty_len(&self) -> usize {
        self.dirty.iter().map(BTreeSet::len).sum()
    }

    /// Dirty blocks of `dev` (0 for a device number out of range).
    pub fn dirty_of(&self, dev: usize) -> usize {
        self.dirty.get(dev).map_or(0, BTreeSet::len)
    }

    /// The counters of `dev` (zero for a device number out of range).
    pub fn counters(&self, dev: usize) -> DevCounters {
        self.counters.get(dev).copied().unwrap_or_default()
    }

    fn stamp(&mut self) -> u64 {
        self.next_stamp += 1;
        self.next_stamp
    }

    fn touch(&mut self, key: Key) {
        let stamp = self.stamp();
        if let Some(e) = self.map.get_mut(&key) {
            if !e.dirty {
                self.lru.remove(&e.stamp);
                self.lru.insert(stamp, key);
            }
            e.stamp = stamp;
        }
    }

    /// Looks `key` up for a read or a write: a hit makes it the most recently used.
    /// Counts a hit or a miss for the device.
    pub fn lookup(&mut self, key: Key) -> Option<V> {
        let found = self.map.get(&key).map(|e| e.value.clone());
        if let Some(c) = self.counters.get_mut(key.dev) {
            if found.is_some() {
                c.hits += 1;
            } else {
                c.misses += 1;
            }
        }
        if found.is_some() {
            self.touch(key);
        }
        found
    }

    /// Whether `key` is cached (no recency or counter change).
    pub fn contains(&self, key: Key) -> bool {
        self.map.contains_key(&key)
    }

    /// Whether `key` is cached and dirty.
    pub fn is_dirty(&self, key: Key) -> bool {
        self.map.get(&key).is_some_and(|e| e.dirty)
    }

    /// Caches `value` as `key` (most recently used), dirty or clean. A block already
    /// cached under `key` is replaced and handed back (its dirty state is taken over only
    /// if `dirty`). `Err(value)` for a device number out of range.
    pub fn insert(&mut self, key: Key, value: V, dirty: bool) -> Result<Option<V>, V> {
        if key.dev >= MAX_DEVICES {
            return Err(value);
        }
        let old = self.remove_entry(key);
        let stamp = self.stamp();
        if !dirty {
            self.lru.insert(stamp, key);
        }
        self.map.insert(
            key,
            Entry {
                value,
                dirty,
                stamp,
            },
        );
        let c = &mut self.counters[key.dev];
        c.blocks += 1;
        if dirty {
            self.dirty[key.dev].insert(key.block);
            c.dirty += 1;
        }
        Ok(old)
    }

    /// Marks a cached block dirty (and most recently used). False when it is not cached.
    pub fn mark_dirty(&mut self, key: Key) -> bool {
        let Some(e) = self.map.get_mut(&key) else {
            return false;
        };
        if !e.dirty {
            e.dirty = true;
            self.lru.remove(&e.stamp);
            self.dirty[key.dev].insert(key.block);
            self.counters[key.dev].dirty += 1;
        }
        self.touch(key);
        true
    }

    /// Records that a dirty block was written back: it is clean now (and evictable).
    /// False when it was not cached and dirty.
    pub fn mark_clean(&mut self, key: Key) -> bool {
        let Some(e) = self.map.get_mut(&key) else {
            return false;
        };
        if !e.dirty {
            return false;
        }
        e.dirty = false;
        // Clean again: evictable, as recently used as its write-back.
        let stamp = self.next_stamp + 1;
        self.next_stamp = stamp;
        e.stamp = stamp;
        self.lru.insert(stamp, key);
        self.dirty[key.dev].remove(&key.block);
        let c = &mut self.counters[key.dev];
        c.dirty -= 1;
        c.writebacks += 1;
        true
    }

    /// The dirty blocks of `dev` in block order, at most `max` of them, with their
    /// buffers: what a write-back writes.
    pub fn dirty_blocks(&self, dev: usize, max: usize) -> Vec<(u64, V)> {
        let Some(set) = self.dirty.get(dev) else {
            return Vec::new();
        };
        set.iter()
            .take(max)
            .filter_map(|&b| {
                let e = self.map.get(&Key { dev, block: b })?;
                Some((b, e.value.clone()))
            })
            .collect()
    }

    /// The least recently used clean block: what to evict to make room.
    pub fn victim(&self) -> Option<Key> {
        self.lru.values().next().copied()
    }

    /// Evicts the clean block `key`, handing its buffer back. `None` (and nothing changes)
    /// when it is not cached or dirty: dirty data is never dropped.
    pub fn evict(&mut self, key: Key) -> Option<V> {
        if self.map.get(&key).is_none_or(|e| e.dirty) {
            return None;
        }
        let v = self.remove_entry(key)?;
        self.counters[key.dev].evictions += 1;
        Some(v)
    }

    fn remove_entry(&mut self, key: Key) -> Option<V> {
        let e = self.map.remove(&key)?;
        if !e.dirty {
            self.lru.remove(&e.stamp);
        }
        let c = &mut self.counters[key.dev];
        c.blocks -= 1;
        if e.dirty {
            self.dirty[key.dev].remove(&key.block);
            c.dirty -= 1;
        }
        Some(e.value)
    }

    /// Drops every block of `dev`, dirty ones included (the device is gone), handing the
    /// buffers back.
    pub fn forget_device(&mut self, dev: usize) -> Vec<V> {
        let keys: Vec<Key> = self
            .map
            .range(
                Key { dev, block: 0 }..=Key {
                    dev,
                    block: u64::MAX,
                },
            )
            .map(|(k, _)| *k)
            .collect();
        keys.into_iter()
            .filter_map(|k| self.remove_entry(k))
            .collect()
    }
}

/// Most blocks the cache may hold: a quarter of what it holds plus what is free beyond
/// the kernel's reserve (all in pages), capped at `cap`, and never under `floor` (enough
/// for one largest request, so the cache always works).
pub fn budget(
    cached: usize,
    free_pages: usize,
    reserve_pages: usize,
    floor: usize,
    cap: usize,
) -> usize {
    let usable = cached.saturating_add(free_pages.saturating_sub(reserve_pages));
    (usable / 4).clamp(floor.min(cap), cap)
}

/// Most dirty blocks one device may have: half the budget, shared by the devices.
pub fn dirty_limit(budget: usize, devices: usize) -> usize {
    (budget / 2 / devices.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(dev: usize, block: u64) -> Key {
        Key { dev, block }
    }

    #[test]
    fn lookup_counts_hits_and_misses() {
        let mut c: Cache<u32> = Cache::new();
        assert_eq!(c.lookup(k(0, 1)), None);
        c.insert(k(0, 1), 11, false).unwrap();
        assert_eq!(c.lookup(k(0, 1)), Some(11));
        assert_eq!(c.lookup(k(1, 1)), None);
        let c0 = c.counters(0);
        assert_eq!((c0.hits, c0.misses, c0.blocks), (1, 1, 1));
        assert_eq!(c.counters(1).misses, 1);
    }

    #[test]
    fn victim_is_the_least_recently_used_clean_block() {
        let mut c: Cache<u32> = Cache::new();
        for b in 0..4 {
            c.insert(k(0, b), b as u32, false).unwrap();
        }
        assert_eq!(c.victim(), Some(k(0, 0)));
        c.lookup(k(0, 0));
        assert_eq!(c.victim(), Some(k(0, 1)));
        assert!(c.mark_dirty(k(0, 1)));
        // 1 is dirty now (and was touched); 2 is the oldest clean one.
        assert_eq!(c.victim(), Some(k(0, 2)));
        assert_eq!(c.evict(k(0, 2)), Some(2));
        assert_eq!(c.victim(), Some(k(0, 3)));
        assert_eq!(c.counters(0).evictions, 1);
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn dirty_blocks_are_never_evicted() {
        let mut c: Cache<u32> = Cache::new();
        c.insert(k(0, 5), 5, true).unwrap();
        c.insert(k(0, 6), 6, true).unwrap();
        assert_eq!(c.victim(), None);
        assert_eq!(c.evict(k(0, 5)), None);
        assert_eq!(c.len(), 2);
        assert!(c.mark_clean(k(0, 5)));
        assert!(!c.mark_clean(k(0, 5)), "already clean");
        assert_eq!(c.victim(), Some(k(0, 5)));
        assert_eq!(c.evict(k(0, 5)), Some(5));
        let c0 = c.counters(0);
        assert_eq!((c0.dirty, c0.writebacks, c0.blocks), (1, 1, 1));
    }

    #[test]
    fn dirty_blocks_come_in_block_order_per_device() {
        let mut c: Cache<u32> = Cache::new();
        for b in [9u64, 3, 7, 1] {
            c.insert(k(2, b), b as u32, true).unwrap();
        }
        c.insert(k(1, 4), 4, true).unwrap();
        c.insert(k(2, 5), 5, false).unwrap();
        let d: Vec<u64> = c.dirty_blocks(2, 10).iter().map(|x| x.0).collect();
        assert_eq!(d, [1, 3, 7, 9]);
        assert_eq!(c.dirty_blocks(2, 2).len(), 2);
        assert_eq!(c.dirty_of(2), 4);
        assert_eq!(c.dirty_of(1), 1);
        assert_eq!(c.dirty_len(), 5);
        assert!(c.dirty_blocks(MAX_DEVICES, 10).is_empty());
    }

    #[test]
    fn insert_replaces_and_keeps_counts_right() {
        let mut c: Cache<u32> = Cache::new();
        assert_eq!(c.insert(k(0, 1), 1, true), Ok(None));
        assert_eq!(c.insert(k(0, 1), 2, false), Ok(Some(1)));
        let c0 = c.counters(0);
        assert_eq!((c0.blocks, c0.dirty), (1, 0));
        assert!(!c.is_dirty(k(0, 1)));
        assert_eq!(c.insert(k(MAX_DEVICES, 0), 3, false), Err(3));
        assert!(!c.mark_dirty(k(0, 2)));
    }

    #[test]
    fn forget_device_drops_only_that_device() {
        let mut c: Cache<u32> = Cache::new();
        c.insert(k(0, 1), 1, true).unwrap();
        c.insert(k(1, 1), 2, true).unwrap();
        c.insert(k(1, 2), 3, false).unwrap();
        let mut gone = c.forget_device(1);
        gone.sort();
        assert_eq!(gone, [2, 3]);
        assert_eq!(c.len(), 1);
        assert_eq!(c.dirty_len(), 1);
        assert_eq!(c.counters(1).blocks, 0);
        assert_eq!(c.victim(), None);
    }

    #[test]
    fn lru_survives_many_touches() {
        let mut c: Cache<u64> = Cache::new();
        for b in 0..100 {
            c.insert(k(0, b), b, false).unwrap();
        }
        for b in (0..100).rev() {
            c.lookup(k(0, b));
        }
        // Touched in reverse order: 99 is now the oldest.
        assert_eq!(c.victim(), Some(k(0, 99)));
        for b in (50..100).rev() {
            assert_eq!(c.evict(c.victim().unwrap()), Some(b));
        }
        assert_eq!(c.len(), 50);
    }

    #[test]
    fn budget_follows_free_memory() {
        // 1000 free pages, 100 reserved, 0 cached: a quarter of 900.
        assert_eq!(budget(0, 1000, 100, 16, 10_000), 225);
        // What the cache holds counts as usable.
        assert_eq!(budget(400, 1000, 100, 16, 10_000), 325);
        // Capped, and never below the floor.
        assert_eq!(budget(0, 1_000_000, 100, 16, 8192), 8192);
        assert_eq!(budget(0, 50, 100, 16, 8192), 16);
        assert_eq!(budget(0, 50, 100, 16, 8), 8);
    }

    #[test]
    fn dirty_limit_keeps_half_the_cache_clean() {
        assert_eq!(dirty_limit(1000, 1), 500);
        assert_eq!(dirty_limit(1000, 4), 125);
        assert_eq!(dirty_limit(1, 8), 1);
        assert_eq!(dirty_limit(1000, 0), 500);
        // All devices at their limit together: half the budget at most.
        assert!(dirty_limit(999, 3) * 3 <= 999 / 2);
    }
}
