//! Block devices: every virtio-blk function on the PCI bus (`blk0`, `blk1`, ... in PCI
//! order), driven by interrupt, behind one buffer cache of 4 KiB blocks ([`cache`]).
//!
//! The kernel-internal API (what the FAT file system and the `blk_*` syscalls use):
//! [`count`], [`info`], [`read`], [`write`], [`sync`], [`sync_all`], [`set_mounted`],
//! [`stats`], [`cache_bytes`]. Every call may sleep: never call one with a spin lock held
//! or interrupts masked. Offsets and lengths are bytes; the API takes kernel buffers
//! only (the syscalls copy user memory before or after, never under a lock).
//!
//! Per device, an [`OpLock`] (a sleeping lock) serializes the operations of that device:
//! its holder alone reads, fills, dirties and writes back that device's cached blocks and
//! talks to its hardware, so devices never wait for each other's I/O. The device's
//! registers and queue sit behind an [`IrqMutex`] held only to queue or complete a
//! request; the thread then sleeps on the device's wait queue until the interrupt (the
//! handler only acknowledges and wakes) or a timeout, after which the device is reset
//! and fails every later request with `EIO`.
//!
//! Must never: panic on anything a device answers, hold a spin lock across device I/O,
//! free a buffer the device may still access, or drop dirty data except for a device that
//! stopped working.

mod cache;
mod virtio;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use spin::Once;
use wayos_abi::blk::{BlkInfo, FLAG_IRQ, FLAG_MOUNTED, FLAG_READONLY, MAX_DEVICES, SECTOR_SIZE};
use wayos_abi::stats::BlkStats;

use self::virtio::{Hw, Op};
use crate::error::{Errno, KResult};
use crate::sync::IrqMutex;
use crate::task::wait_queue::WaitQueue;
use crate::{arch, pci};

/// PCI vendor and device ids of virtio-blk (transitional and modern).
const VIRTIO_VENDOR: u16 = 0x1af4;
const VIRTIO_BLK_IDS: [u16; 2] = [0x1001, 0x1042];
/// How long one request may take before the device counts as broken. Long: QEMU's
/// host-side flush of a large image under a loaded host takes seconds, and a guest clock
/// under `-icount` may run ahead of the host while the CPU idles.
const IO_TIMEOUT_NS: u64 = 30_000_000_000;
/// How often a device without an interrupt is polled while a request is in flight.
const POLL_NS: u64 = 1_000_000;

/// A sleeping lock: one operation at a time on a device. Waiting for it ends on a fatal
/// signal (`EINTR`); holding it is bounded by the holder's requests, each bounded by
/// [`IO_TIMEOUT_NS`].
struct OpLock {
    held: AtomicBool,
    wq: WaitQueue,
}

struct OpGuard<'a>(&'a OpLock);

impl OpLock {
    const fn new() -> Self {
        Self {
            held: AtomicBool::new(false),
            wq: WaitQueue::new(),
        }
    }

    fn try_take(&self) -> Option<()> {
        self.held
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| ())
    }

    fn lock(&self) -> KResult<OpGuard<'_>> {
        self.wq.wait_until(|| {
            if self.try_take().is_some() {
                Some(Ok(()))
            } else if crate::task::signal::fatal_pending() {
                Some(Err(Errno::EINTR))
            } else {
                None
            }
        })?;
        Ok(OpGuard(self))
    }
}

impl Drop for OpGuard<'_> {
    fn drop(&mut self) {
        self.0.held.store(false, Ordering::Release);
        self.0.wq.wake_all();
    }
}

/// Counters since boot, as `BlkStats` reports them (the cache's are in [`cache`]).
#[derive(Default)]
struct Counters {
    reads: AtomicU64,
    writes: AtomicU64,
    read_bytes: AtomicU64,
    write_bytes: AtomicU64,
    flushes: AtomicU64,
    errors: AtomicU64,
    interrupts: AtomicU64,
}

/// One block device.
pub struct Disk {
    index: usize,
    pci: u32,
    /// Capacity in 512-byte sectors.
    sectors: u64,
    sector_size: u32,
    readonly: bool,
    flush: bool,
    max_segs: usize,
    hw: IrqMutex<Box<Hw>>,
    /// The device timed out and was reset: every request fails.
    broken: AtomicBool,
    route: Once<pci::IrqRoute>,
    irq: AtomicU32,
    op: OpLock,
    /// Woken by the interrupt handler.
    wq: WaitQueue,
    mounted: AtomicBool,
    /// The last block of the previous read (read-ahead's sequential test; op lock held).
    read_end: AtomicU64,
    counters: Counters,
}

static DISKS: Once<Vec<Arc<Disk>>> = Once::new();
// Device names are `blk` and one digit.
const _: () = assert!(MAX_DEVICES <= 10);

fn disks() -> &'static [Arc<Disk>] {
    DISKS.get().map_or(&[], |v| v.as_slice())
}

fn disk(dev: usize) -> KResult<&'static Arc<Disk>> {
    disks().get(dev).ok_or(Errno::ENODEV)
}

/// Finds and starts every virtio-blk function `pci` enumerated, in PCI order, each with
/// an interrupt where `pci` can route one. Called once at boot, after `pci::init` and
/// `task::init`.
pub fn init() {
    let mut found = Vec::new();
    for f in pci::functions() {
        if f.vendor != VIRTIO_VENDOR || !VIRTIO_BLK_IDS.contains(&f.device) {
            continue;
        }
        if found.len() == MAX_DEVICES {
            log::warn!(
                "blk: more than {MAX_DEVICES} disks; {:02x}:{:02x}.{} ignored",
                f.bus,
                f.dev,
                f.func
            );
            continue;
        }
        match probe(f, found.len()) {
            Ok(d) => found.push((d, f)),
            Err(why) => log::warn!(
                "blk: virtio-blk at {:02x}:{:02x}.{} not started: {why}",
                f.bus,
                f.dev,
                f.func
            ),
        }
    }
    // Routes only once the table is complete: the shared handler walks it.
    DISKS.call_once(|| found.iter().map(|(d, _)| d.clone()).collect());
    for (d, f) in &found {
        route_interrupt(d, f);
        log::info!(
            "blk: blk{} virtio-blk at {:02x}:{:02x}.{}: {} sectors ({} KiB), block {} bytes, {} segments per request{}{}, {}",
            d.index,
            f.bus,
            f.dev,
            f.func,
            d.sectors,
            d.sectors / 2,
            d.sector_size,
            d.max_segs,
            if d.readonly { ", read-only" } else { "" },
            if d.flush { ", write cache" } else { "" },
            match d.route.get() {
                None => alloc::format!("polled every {} ms", POLL_NS / 1_000_000),
                Some(r) if r.mode == wayos_abi::net::IRQ_MSIX => alloc::format!("MSI-X vector {}", r.line),
                Some(r) => alloc::format!("INTx line {}", r.line),
            }
        );
    }
}

fn probe(f: &pci::Function, index: usize) -> Result<Arc<Disk>, &'static str> {
    // Memory decoding alone, reset (firmware may have left the device pointing at memory
    // that is ours now), then bus mastering: `pci::virtio_transport`.
    let transport = pci::virtio_transport(f, "virtio-blk")?;
    let (hw, g) = Hw::new(transport).map_err(|e| {
        log::warn!("blk: virtio-blk: {e}");
        "device initialisation failed"
    })?;
    Ok(Arc::new(Disk {
        index,
        pci: f.address(),
        sectors: g.sectors,
        sector_size: g.sector_size,
        readonly: g.readonly,
        flush: g.flush,
        max_segs: g.max_segs,
        hw: IrqMutex::new(hw),
        broken: AtomicBool::new(false),
        route: Once::new(),
        irq: AtomicU32::new(0),
        op: OpLock::new(),
        wq: WaitQueue::new(),
        mounted: AtomicBool::new(false),
        read_end: AtomicU64::new(u64::MAX),
        counters: Counters::default(),
    }))
}

fn route_interrupt(d: &Disk, f: &pci::Function) {
    let route = match pci::enable_interrupt(f, irq_handler) {
        Ok(r) => r,
        Err(e) => {
            log::info!("blk: blk{}: no interrupt route ({e}); polled", d.index);
            return;
        }
    };
    // Nothing drives the device yet (no request before `init` returns).
    if let Err(e) = pci::virtio_msix_route(f, &route, 1) {
        log::warn!("blk: blk{}: MSI-X vectors refused ({e}); polled", d.index);
        return;
    }
    d.irq.store(route.line, Ordering::Relaxed);
    let route = *d.route.call_once(|| route);
    route.unmask();
}

/// The device interrupt (interrupts off): acknowledge each interrupt-driven disk and wake
/// whoever waits for one that raised it. Shared by every disk (the handler is not told
/// which line fired).
fn irq_handler() {
    for d in disks() {
        let Some(route) = d.route.get() else {
            continue;
        };
        let mine = {
            let mut hw = d.hw.lock();
            // INTx: the ISR status says whether this device raised the line. MSI-X does
            // not set it, so a finished request also counts as this device's.
            hw.ack_interrupt() || hw.done()
        };
        route.unmask();
        if mine {
            d.counters.interrupts.fetch_add(1, Ordering::Relaxed);
            d.wq.wake_all();
        }
    }
}

impl Disk {
    fn bytes(&self) -> u64 {
        self.sectors * SECTOR_SIZE as u64
    }

    fn info(&self) -> BlkInfo {
        // `blk` and one digit: `index < MAX_DEVICES` (8). No allocation on this path.
        let mut name = [0u8; 8];
        name[..3].copy_from_slice(b"blk");
        name[3] = b'0' + (self.index % 10) as u8;
        let mut flags = 0;
        if self.readonly {
            flags |= FLAG_READONLY;
        }
        if self.mounted.load(Ordering::Acquire) {
            flags |= FLAG_MOUNTED;
        }
        if self.route.get().is_some() {
            flags |= FLAG_IRQ;
        }
        BlkInfo {
            sectors: self.sectors,
            sector_size: self.sector_size,
            flags,
            pci: self.pci,
            irq: self.irq.load(Ordering::Relaxed),
            name,
        }
    }

    /// One device request, the caller holding the device's [`OpLock`]: queue it, sleep
    /// until it completes, take it off. `EIO` when the device reports an error, refuses
    /// the request, or does not answer within [`IO_TIMEOUT_NS`] (it is reset then and
    /// stays broken). The wait is bounded and not cut short by signals: the device owns
    /// the buffers until it answers or is reset.
    fn transfer(&self, op: Op, sector: u64, segs: &[(*mut u8, usize)]) -> KResult<()> {
        if self.broken.load(Ordering::Acquire) {
            return Err(Errno::EIO);
        }
        let bytes: usize = segs.iter().map(|s| s.1).sum();
        let c = &self.counters;
        match op {
            Op::Read => {
                c.reads.fetch_add(1, Ordering::Relaxed);
                c.read_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            }
            Op::Write => {
                c.writes.fetch_add(1, Ordering::Relaxed);
                c.write_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            }
            Op::Flush => {
                c.flushes.fetch_add(1, Ordering::Relaxed);
            }
        }
        // SAFETY: the caller keeps every segment alive and untouched until this function
        // returns, and it returns only after `complete` or `reset`.
        let req = unsafe { self.hw.lock().submit(op, sector, segs) };
        let req = match req {
            Ok(r) => r,
            Err(e) => {
                log::warn!("blk: blk{}: request refused: {e:?}", self.index);
                c.errors.fetch_add(1, Ordering::Relaxed);
                return Err(Errno::EIO);
            }
        };
        let deadline = arch::uptime_ns().saturating_add(IO_TIMEOUT_NS);
        let polled = self.route.get().is_none();
        let finished = loop {
            let until = if polled {
                deadline.min(arch::uptime_ns().saturating_add(POLL_NS))
            } else {
                deadline
            };
            let done = self
                .wq
                .wait_until_deadline(until, || self.hw.lock().done().then_some(()));
            if done.is_some() {
                break true;
            }
            if arch::uptime_ns() >= deadline {
                break false;
            }
        };
        let mut hw = self.hw.lock();
        if !finished && !hw.done() {
            log::error!(
                "blk: blk{}: no answer to a {op:?} of sector {sector} in {} s; device reset, it fails from now on",
                self.index,
                IO_TIMEOUT_NS / 1_000_000_000
            );
            hw.reset();
            self.broken.store(true, Ordering::Release);
            drop(hw);
            // The request's header and status may go now: the device was reset.
            drop(req);
            c.errors.fetch_add(1, Ordering::Relaxed);
            return Err(Errno::EIO);
        }
        match hw.complete(req) {
            Ok(true) => Ok(()),
            Ok(false) => {
                drop(hw);
                log::warn!(
                    "blk: blk{}: device error on {op:?} of sector {sector}",
                    self.index
                );
                c.errors.fetch_add(1, Ordering::Relaxed);
                Err(Errno::EIO)
            }
            Err(e) => {
                // The used ring named another request: a device bug. Stop using it.
                hw.reset();
                self.broken.store(true, Ordering::Release);
                drop(hw);
                log::error!(
                    "blk: blk{}: bad completion ({e:?}); device reset",
                    self.index
                );
                c.errors.fetch_add(1, Ordering::Relaxed);
                Err(Errno::EIO)
            }
        }
    }
}

/// Block devices found.
pub fn count() -> usize {
    disks().len()
}

/// Device `dev`'s description; `ENODEV` past the last.
pub fn info(dev: usize) -> KResult<BlkInfo> {
    Ok(disk(dev)?.info())
}

/// Checks that `len` bytes at `offset` lie inside `d`.
fn check_range(d: &Disk, offset: u64, len: usize) -> KResult<()> {
    let end = offset.checked_add(len as u64).ok_or(Errno::EINVAL)?;
    if end > d.bytes() {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// Reads `buf.len()` bytes at byte `offset` of device `dev` through the cache. `ENODEV`,
/// `EINVAL` past the end, `EIO`, `ENOMEM`; `EINTR` when killed while waiting for the
/// device's lock. May sleep.
pub fn read(dev: usize, offset: u64, buf: &mut [u8]) -> KResult<()> {
    let d = disk(dev)?;
    check_range(d, offset, buf.len())?;
    if buf.is_empty() {
        return Ok(());
    }
    let _g = d.op.lock()?;
    cache::read(d, offset, buf)
}

/// Writes `buf` at byte `offset` of device `dev` into the cache (dirty; written back by
/// [`sync`], pressure, or shutdown). As [`read`], plus `EROFS` for a read-only device.
/// Does not check [`set_mounted`]: the file system on the device writes through here.
pub fn write(dev: usize, offset: u64, buf: &[u8]) -> KResult<()> {
    let d = disk(dev)?;
    check_range(d, offset, buf.len())?;
    if d.readonly {
        return Err(Errno::EROFS);
    }
    if buf.is_empty() {
        return Ok(());
    }
    let _g = d.op.lock()?;
    cache::write(d, offset, buf)
}

/// Writes back every dirty cached block of `dev`, then flushes the device's write cache.
pub fn sync(dev: usize) -> KResult<()> {
    let d = disk(dev)?;
    let _g = d.op.lock()?;
    cache::writeback(d)?;
    if d.flush && !d.readonly {
        d.transfer(Op::Flush, 0, &[])?;
    }
    Ok(())
}

/// [`sync`] of every device; the first error, after trying them all.
pub fn sync_all() -> KResult<()> {
    let mut result = Ok(());
    for dev in 0..count() {
        if let Err(e) = sync(dev) {
            result = result.and(Err(e));
        }
    }
    result
}

/// Marks `dev` as holding a mounted file system (raw `blk_write` is then `EBUSY`), or
/// not. `EBUSY` when mounting a device that is mounted already; `ENODEV`.
pub fn set_mounted(dev: usize, mounted: bool) -> KResult<()> {
    let d = disk(dev)?;
    if mounted {
        d.mounted
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(|_| Errno::EBUSY)
    } else {
        d.mounted.store(false, Ordering::Release);
        Ok(())
    }
}

/// Whether `dev` holds a mounted file system (`false` for no such device).
pub fn is_mounted(dev: usize) -> bool {
    disks()
        .get(dev)
        .is_some_and(|d| d.mounted.load(Ordering::Acquire))
}

/// Every device's counters, for `stats(KIND_BLK)`.
pub fn stats() -> Vec<BlkStats> {
    disks()
        .iter()
        .map(|d| {
            let c = &d.counters;
            let k = cache::counters(d.index);
            BlkStats {
                reads: c.reads.load(Ordering::Relaxed),
                writes: c.writes.load(Ordering::Relaxed),
                read_bytes: c.read_bytes.load(Ordering::Relaxed),
                write_bytes: c.write_bytes.load(Ordering::Relaxed),
                flushes: c.flushes.load(Ordering::Relaxed),
                errors: c.errors.load(Ordering::Relaxed),
                interrupts: c.interrupts.load(Ordering::Relaxed),
                cache_hits: k.hits,
                cache_misses: k.misses,
                cache_blocks: k.blocks,
                dirty_blocks: k.dirty,
                writebacks: k.writebacks,
                evictions: k.evictions,
                name: d.info().name,
            }
        })
        .collect()
}

/// Bytes the buffer cache holds, and of them dirty (for `MemStats`).
pub fn cache_bytes() -> (u64, u64) {
    cache::bytes()
}
