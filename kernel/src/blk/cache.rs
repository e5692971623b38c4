//! The buffer cache: 4 KiB blocks of every device in page frames, indexed by the policy
//! of `wayos_kcore::bcache` (LRU of clean blocks, dirty sets, the budget tied to free
//! memory). Reads fill missing runs with one device request each (up to the device's
//! segment limit: a 1 MiB read is one or two requests), a sequential read also the next
//! 128 KiB; writes dirty blocks in the cache;
//! write-back sends runs of consecutive dirty blocks the same way.
//!
//! Locking: [`CACHE`] (a spin lock) guards the index only and is never held across I/O
//! or a large copy. A block's bytes are read and written only by the holder of its
//! device's `OpLock` (and by the device during that holder's request), so no other lock
//! is needed for them; another device's thread may evict a clean block meanwhile, which
//! only drops the index's reference (the holder keeps its own). A block is marked dirty
//! *before* its bytes change, so it cannot be evicted with the change lost.
//!
//! Must never: evict a dirty block, hold [`CACHE`] across a device request, or touch a
//! block of a device whose `OpLock` the caller does not hold.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use wayos_abi::blk::{CACHE_BLOCK, MAX_IO, SECTOR_SIZE};
use wayos_kcore::bcache::{self, Cache, DevCounters, Key};

use super::virtio::Op;
use super::{count, Disk};
use crate::error::{Errno, KResult};
use crate::mm::pmm::{self, Frame, Tier};
use crate::mm::reserve;
use crate::sync::Mutex;

/// Sectors per cache block.
const SECTORS_PER_BLOCK: u64 = (CACHE_BLOCK / SECTOR_SIZE) as u64;
/// Most blocks cached whatever the free memory: 64 MiB.
const CAP_BLOCKS: usize = (64 << 20) / CACHE_BLOCK;
/// Blocks always allowed: one largest request.
const FLOOR_BLOCKS: usize = MAX_IO / CACHE_BLOCK;
/// Blocks a sequential read fetches beyond its end, in the same request (128 KiB, as
/// Linux's default `read_ahead_kb`).
const READAHEAD_BLOCKS: usize = 32;
/// Dirty blocks taken per write-back round (bounds the list made under the lock).
const WRITEBACK_BATCH: usize = 1024;

/// One cached block: a page frame, freed when the last reference goes.
pub struct Buf {
    frame: Frame,
}

impl Buf {
    /// A fresh frame (contents undefined). `ENOMEM` when only the kernel's reserve is
    /// left: the cache grows on programs' behalf.
    fn new() -> KResult<Arc<Buf>> {
        if !reserve::pages_available(1) {
            return Err(Errno::ENOMEM);
        }
        reserve::admit(core::mem::size_of::<Buf>() + 32)?;
        let frame = pmm::alloc_frames(Tier::Near, 0)
            .or_else(|_| pmm::alloc_frames(Tier::Far, 0))
            .map_err(|_| Errno::ENOMEM)?;
        Ok(Arc::new(Buf { frame }))
    }

    fn ptr(&self) -> *mut u8 {
        self.frame.as_ptr()
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if let Err(e) = pmm::free_frames(self.frame, 0) {
            log::error!("blk: cache frame free failed: {e:?}");
        }
    }
}

static CACHE: Mutex<Cache<Arc<Buf>>> = Mutex::new(Cache::new());

fn key(d: &Disk, block: u64) -> Key {
    Key {
        dev: d.index,
        block,
    }
}

/// Bytes of `block` inside the device (a whole block except, perhaps, the last).
fn block_len(d: &Disk, block: u64) -> usize {
    let start = block * CACHE_BLOCK as u64;
    (d.bytes().saturating_sub(start)).min(CACHE_BLOCK as u64) as usize
}

fn budget(c: &Cache<Arc<Buf>>) -> usize {
    bcache::budget(
        c.len(),
        pmm::free_pages(),
        reserve::KERNEL_RESERVE_PAGES,
        FLOOR_BLOCKS,
        CAP_BLOCKS,
    )
}

/// Evicts clean blocks until `n` more fit the budget (or no clean block is left: the
/// frames then come from free memory, still never from the reserve).
fn make_room(n: usize) {
    let mut c = CACHE.lock();
    let budget = budget(&c);
    while c.len() + n > budget {
        let Some(k) = c.victim() else { break };
        // Dropping the buffer frees its frame (cache lock, then a PMM lock).
        drop(c.evict(k));
    }
}

fn try_vec<T>(n: usize) -> KResult<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Errno::ENOMEM)?;
    Ok(v)
}

/// Reads blocks `first..first + n` from the device into fresh buffers (one request;
/// `n` within the device's segment limit). Nothing is cached here.
fn load(d: &Disk, first: u64, n: usize) -> KResult<Vec<Arc<Buf>>> {
    make_room(n);
    let mut bufs = try_vec(n)?;
    let mut segs = try_vec(n)?;
    for i in 0..n {
        let b = Buf::new()?;
        let len = block_len(d, first + i as u64);
        if len < CACHE_BLOCK {
            // The tail past the device's end reads as zeros, never as old memory.
            // SAFETY: a fresh frame of CACHE_BLOCK bytes, ours alone.
            unsafe { core::ptr::write_bytes(b.ptr().add(len), 0, CACHE_BLOCK - len) };
        }
        segs.push((b.ptr(), len));
        bufs.push(b);
    }
    // The buffers stay alive (in `bufs`) and untouched until `transfer` returns.
    d.transfer(Op::Read, first * SECTORS_PER_BLOCK, &segs)?;
    Ok(bufs)
}

/// How many blocks from `from` on to read ahead, at most `room`: those up to
/// [`READAHEAD_BLOCKS`] that exist on the device and are not cached, stopping at the first
/// cached one.
fn readahead(d: &Disk, from: u64, room: usize) -> usize {
    let blocks = d.bytes().div_ceil(CACHE_BLOCK as u64);
    let max = (READAHEAD_BLOCKS.min(room) as u64).min(blocks.saturating_sub(from)) as usize;
    let c = CACHE.lock();
    (0..max)
        .take_while(|&k| !c.contains(key(d, from + k as u64)))
        .count()
}

/// The part of block `block` that the request `[offset, offset + len)` covers, as
/// (offset in the block, offset in the request, bytes).
fn overlap(block: u64, offset: u64, len: usize) -> (usize, usize, usize) {
    let start = block * CACHE_BLOCK as u64;
    let lo = offset.max(start);
    let hi = (offset + len as u64).min(start + CACHE_BLOCK as u64);
    (
        (lo - start) as usize,
        (lo - offset) as usize,
        (hi - lo) as usize,
    )
}

/// `blk::read`, with `d`'s op lock held and the range checked.
pub fn read(d: &Disk, offset: u64, buf: &mut [u8]) -> KResult<()> {
    let first = offset / CACHE_BLOCK as u64;
    let last = (offset + buf.len() as u64 - 1) / CACHE_BLOCK as u64;
    // Sequential: this read starts in the block where the previous one ended, or right
    // after it.
    let prev_end = d.read_end.swap(last, Ordering::Relaxed);
    let sequential = first == prev_end || first == prev_end.wrapping_add(1);
    let mut block = first;
    while block <= last {
        let n = (d.max_segs as u64).min(last - block + 1) as usize;
        let mut slots: Vec<Option<Arc<Buf>>> = try_vec(n)?;
        {
            let mut c = CACHE.lock();
            for i in 0..n {
                slots.push(c.lookup(key(d, block + i as u64)));
            }
        }
        // Fill each run of misses with one request.
        let mut i = 0;
        while i < n {
            if slots[i].is_some() {
                i += 1;
                continue;
            }
            let j = (i..n).find(|&j| slots[j].is_some()).unwrap_or(n);
            // A sequential read that misses at its end reads ahead in the same request.
            let ahead = if sequential && j == n && block + n as u64 - 1 == last {
                readahead(d, last + 1, d.max_segs - (j - i))
            } else {
                0
            };
            let bufs = load(d, block + i as u64, j - i + ahead)?;
            let mut c = CACHE.lock();
            for (k, b) in bufs.into_iter().enumerate() {
                // Only this device's op-lock holder inserts its blocks: nothing to replace.
                let _ = c.insert(key(d, block + (i + k) as u64), b.clone(), false);
                if i + k < j {
                    slots[i + k] = Some(b);
                }
            }
            drop(c);
            i = j;
        }
        for (i, b) in slots.iter().enumerate() {
            let Some(b) = b else { continue };
            let (in_block, in_req, len) = overlap(block + i as u64, offset, buf.len());
            // SAFETY: the caller holds the device's op lock, so nothing else writes the
            // block's bytes; `in_block + len <= CACHE_BLOCK`.
            let src = unsafe { core::slice::from_raw_parts(b.ptr().add(in_block), len) };
            buf[in_req..in_req + len].copy_from_slice(src);
        }
        block += n as u64;
    }
    Ok(())
}

/// `blk::write`, with `d`'s op lock held, the range checked and the device writable.
pub fn write(d: &Disk, offset: u64, data: &[u8]) -> KResult<()> {
    let first = offset / CACHE_BLOCK as u64;
    let last = (offset + data.len() as u64 - 1) / CACHE_BLOCK as u64;
    let mut block = first;
    while block <= last {
        let limit = {
            let c = CACHE.lock();
            bcache::dirty_limit(budget(&c), count())
        };
        let n = (d.max_segs as u64).min(limit as u64).min(last - block + 1) as usize;
        // Pressure: this device's dirty blocks go out before it may dirty more.
        if CACHE.lock().dirty_of(d.index) + n > limit {
            writeback(d)?;
        }
        let mut slots: Vec<Option<Arc<Buf>>> = try_vec(n)?;
        {
            let mut c = CACHE.lock();
            for i in 0..n {
                let k = key(d, block + i as u64);
                let hit = c.lookup(k);
                if hit.is_some() {
                    // Dirty before the bytes change: no longer evictable.
                    c.mark_dirty(k);
                }
                slots.push(hit);
            }
        }
        // Every miss gets its buffer before any byte changes: an error leaves the data
        // of this round as it was.
        let mut fresh: Vec<usize> = try_vec(n)?;
        let misses = slots.iter().filter(|s| s.is_none()).count();
        make_room(misses);
        for (i, slot) in slots.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            let b = block + i as u64;
            let (_, _, len) = overlap(b, offset, data.len());
            let buf = if len == block_len(d, b) {
                let buf = Buf::new()?;
                if len < CACHE_BLOCK {
                    // SAFETY: a fresh frame, ours alone.
                    unsafe { core::ptr::write_bytes(buf.ptr().add(len), 0, CACHE_BLOCK - len) };
                }
                buf
            } else {
                // Partly overwritten: the rest comes from the disk.
                load(d, b, 1)?.pop().ok_or(Errno::EIO)?
            };
            *slot = Some(buf);
            fresh.push(i);
        }
        for (i, b) in slots.iter().enumerate() {
            let Some(b) = b else { continue };
            let (in_block, in_req, len) = overlap(block + i as u64, offset, data.len());
            // SAFETY: as in `read`: the op lock holder alone touches the bytes, and a
            // cached block among them is dirty (not evictable) already.
            let dst = unsafe { core::slice::from_raw_parts_mut(b.ptr().add(in_block), len) };
            dst.copy_from_slice(&data[in_req..in_req + len]);
        }
        let mut c = CACHE.lock();
        for &i in &fresh {
            if let Some(b) = &slots[i] {
                let _ = c.insert(key(d, block + i as u64), b.clone(), true);
            }
        }
        drop(c);
        block += n as u64;
    }
    Ok(())
}

/// Writes every dirty block of `d` back (runs of consecutive blocks, one request each),
/// `d`'s op lock held. A device that stopped working loses its dirty blocks (`EIO`).
pub fn writeback(d: &Disk) -> KResult<()> {
    loop {
        let batch = CACHE.lock().dirty_blocks(d.index, WRITEBACK_BATCH);
        if batch.is_empty() {
            return Ok(());
        }
        let mut i = 0;
        while i < batch.len() {
            let mut j = i + 1;
            while j < batch.len() && j - i < d.max_segs && batch[j].0 == batch[j - 1].0 + 1 {
                j += 1;
            }
            let run = &batch[i..j];
            let mut segs = try_vec(run.len())?;
            for (b, buf) in run {
                segs.push((buf.ptr(), block_len(d, *b)));
            }
            // Dirty blocks are not evicted, and `batch` holds references anyway.
            if let Err(e) = d.transfer(Op::Write, run[0].0 * SECTORS_PER_BLOCK, &segs) {
                if d.broken.load(Ordering::Acquire) {
                    let gone = CACHE.lock().forget_device(d.index);
                    log::error!(
                        "blk: blk{}: {} dirty blocks lost with the device",
                        d.index,
                        gone.len()
                    );
                }
                return Err(e);
            }
            let mut c = CACHE.lock();
            for (b, _) in run {
                c.mark_clean(key(d, *b));
            }
            drop(c);
            i = j;
        }
    }
}

/// The cache counters of device `dev`.
#[allow(dead_code)] // Through `blk::stats`, wired at merge.
pub fn counters(dev: usize) -> DevCounters {
    CACHE.lock().counters(dev)
}

/// (cached, dirty) bytes.
#[allow(dead_code)] // Through `blk::cache_bytes`, wired at merge.
pub fn bytes() -> (u64, u64) {
    let c = CACHE.lock();
    (
        (c.len() * CACHE_BLOCK) as u64,
        (c.dirty_len() * CACHE_BLOCK) as u64,
    )
}
