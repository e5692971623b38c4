//! One virtio-blk device on the PCI transport of `virtio-drivers`: feature negotiation,
//! the request virtqueue, and requests of many segments.
//!
//! Built on the crate's `VirtQueue` and `Transport` rather than its `VirtIOBlk`: that
//! driver's non-blocking calls take a single data buffer (a large request would need
//! physically contiguous memory and an extra copy into the cache's page frames) and its
//! flush spins until the device answers. Here a request carries up to `max_segs` page
//! frames of the buffer cache as separate descriptors (one 1 MiB read is one device
//! request), and every request, flushes included, completes by interrupt.
//!
//! A [`Request`] owns its header and status byte (heap memory, so in the direct map) and
//! the descriptor slices; the caller keeps the data frames alive and untouched from
//! [`Hw::submit`] until [`Hw::complete`] (or until [`Hw::reset`] stopped the device).
//! Must never: free or move a buffer the device may still access, or complete tokens out
//! of order (one request is in flight per device).

use alloc::boxed::Box;
use alloc::vec::Vec;

use bitflags::bitflags;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::{DeviceStatus, Transport};
use wayos_abi::blk::{CACHE_BLOCK, SECTOR_SIZE};

use crate::pci::hal::KernelHal;

/// Descriptors in the request queue: one request of up to `QUEUE - 2` data segments.
const QUEUE: usize = 128;

bitflags! {
    /// The virtio-blk feature bits this driver knows (virtio 1.2, 5.2.3).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Features: u64 {
        const SIZE_MAX = 1 << 1;
        const SEG_MAX = 1 << 2;
        const RO = 1 << 5;
        const BLK_SIZE = 1 << 6;
        const FLUSH = 1 << 9;
        const VERSION_1 = 1 << 32;
    }
}

/// Offsets in `virtio_blk_config`.
const CFG_CAPACITY: usize = 0;
const CFG_SIZE_MAX: usize = 8;
const CFG_SEG_MAX: usize = 12;
const CFG_BLK_SIZE: usize = 20;

/// Request types.
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;

/// What the device is, as probed.
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    /// Capacity in 512-byte sectors.
    pub sectors: u64,
    /// The device's logical block size.
    pub sector_size: u32,
    pub readonly: bool,
    /// The device has a write cache that `FLUSH` empties.
    pub flush: bool,
    /// Most data segments (cache frames) one request may carry.
    pub max_segs: usize,
}

/// Why [`Hw::new`] failed.
#[derive(Debug)]
pub enum ProbeError {
    Virtio(virtio_drivers::Error),
    /// The device wants requests this driver cannot make (segments or blocks too large).
    Unsupported(&'static str),
}

impl core::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProbeError::Virtio(e) => write!(f, "{e}"),
            ProbeError::Unsupported(what) => write!(f, "unsupported {what}"),
        }
    }
}

/// The device and its queue.
pub struct Hw {
    transport: PciTransport,
    queue: VirtQueue<KernelHal, QUEUE>,
}

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    Flush,
}

/// One request: its header and status (owned, never moved while the device holds them:
/// they live in boxes) and the descriptor lists handed to the queue.
pub struct Request {
    /// Kept (not read) so the memory the device reads stays allocated until completion.
    _header: Box<[u8; 16]>,
    status: Box<[u8; 1]>,
    ins: Vec<&'static [u8]>,
    outs: Vec<&'static mut [u8]>,
    token: u16,
}

// SAFETY: a `Request` is only raw views of memory its creator keeps alive (its own boxes
// and the caller's frames); it moves between threads only with its device's lock held.
unsafe impl Send for Request {}

impl Hw {
    /// Negotiates features, reads the geometry, sets up the queue and sets `DRIVER_OK`.
    /// The device is boxed at once (the queue's shadow descriptors are several KiB).
    pub fn new(mut transport: PciTransport) -> Result<(Box<Hw>, Geometry), ProbeError> {
        let supported = Features::all();
        let f = transport.begin_init(supported);
        let cfg32 = |t: &PciTransport, off: usize| t.read_config_space::<u32>(off);
        let sectors = transport
            .read_consistent(|| {
                let lo = cfg32(&transport, CFG_CAPACITY)?;
                let hi = cfg32(&transport, CFG_CAPACITY + 4)?;
                Ok(u64::from(lo) | u64::from(hi) << 32)
            })
            .map_err(ProbeError::Virtio)?;
        let sector_size = if f.contains(Features::BLK_SIZE) {
            cfg32(&transport, CFG_BLK_SIZE).map_err(ProbeError::Virtio)?
        } else {
            SECTOR_SIZE as u32
        };
        if !sector_size.is_power_of_two()
            || !(SECTOR_SIZE as u32..=CACHE_BLOCK as u32).contains(&sector_size)
        {
            return Err(ProbeError::Unsupported("logical block size"));
        }
        if f.contains(Features::SIZE_MAX)
            && cfg32(&transport, CFG_SIZE_MAX).map_err(ProbeError::Virtio)? < CACHE_BLOCK as u32
        {
            return Err(ProbeError::Unsupported("segments smaller than a page"));
        }
        // Without SEG_MAX the device promises nothing beyond one segment (Linux reads it
        // the same way).
        let seg_max = if f.contains(Features::SEG_MAX) {
            cfg32(&transport, CFG_SEG_MAX).map_err(ProbeError::Virtio)?
        } else {
            1
        };
        let max_segs = (seg_max.max(1) as usize).min(QUEUE - 2);
        let queue = VirtQueue::new(&mut transport, 0, false, false).map_err(ProbeError::Virtio)?;
        transport.finish_init();
        let geometry = Geometry {
            sectors,
            sector_size,
            readonly: f.contains(Features::RO),
            flush: f.contains(Features::FLUSH),
            max_segs,
        };
        Ok((Box::new(Hw { transport, queue }), geometry))
    }

    /// Acknowledges an interrupt (reading the ISR status de-asserts INTx); whether the
    /// ISR status said the device had raised one.
    pub fn ack_interrupt(&mut self) -> bool {
        !self.transport.ack_interrupt().is_empty()
    }

    /// Whether the request in flight has completed.
    pub fn done(&self) -> bool {
        self.queue.can_pop()
    }

    /// Resets the device: it stops using every buffer it was given (virtio 1.2, 2.4.1),
    /// so a request that timed out may be freed. The device is unusable afterwards.
    pub fn reset(&mut self) {
        self.transport.set_status(DeviceStatus::empty());
    }

    /// Queues a request and notifies the device. `segs` are `(address, length)` of
    /// direct-map memory, each length a multiple of 512 (none for a flush).
    ///
    /// # Safety
    /// Every segment must stay allocated, unmoved and untouched by anything else until
    /// [`Hw::complete`] returned for this request or [`Hw::reset`] ran.
    pub unsafe fn submit(
        &mut self,
        op: Op,
        sector: u64,
        segs: &[(*mut u8, usize)],
    ) -> Result<Request, virtio_drivers::Error> {
        let kind = match op {
            Op::Read => T_IN,
            Op::Write => T_OUT,
            Op::Flush => T_FLUSH,
        };
        let mut header = Box::new([0u8; 16]);
        header[..4].copy_from_slice(&kind.to_le_bytes());
        header[8..].copy_from_slice(&sector.to_le_bytes());
        let mut status = Box::new([0xffu8]);
        let mut ins: Vec<&'static [u8]> = Vec::new();
        let mut outs: Vec<&'static mut [u8]> = Vec::new();
        let room = segs.len() + 1;
        ins.try_reserve_exact(room)
            .and_then(|()| outs.try_reserve_exact(room))
            .map_err(|_| virtio_drivers::Error::DmaError)?;
        // SAFETY: the header and status live in boxes the request owns (their heap
        // memory does not move when the box does) and outlive its use by the device;
        // the caller promises the same for `segs`.
        unsafe {
            ins.push(core::slice::from_raw_parts(header.as_ptr(), header.len()));
            for &(p, len) in segs {
                if op == Op::Write {
                    ins.push(core::slice::from_raw_parts(p, len));
                } else {
                    outs.push(core::slice::from_raw_parts_mut(p, len));
                }
            }
            outs.push(core::slice::from_raw_parts_mut(status.as_mut_ptr(), 1));
        }
        // SAFETY: as above: every buffer stays valid until `complete` pops this token.
        let token = unsafe { self.queue.add(&ins, &mut outs)? };
        if self.queue.should_notify() {
            self.transport.notify(0);
        }
        Ok(Request {
            _header: header,
            status,
            ins,
            outs,
            token,
        })
    }

    /// Takes the finished `req` off the queue: `Ok(true)` when the device reports
    /// success, `Ok(false)` when it reports an error. Call only once [`Hw::done`].
    pub fn complete(&mut self, mut req: Request) -> Result<bool, virtio_drivers::Error> {
        let ins: &[&[u8]] = &req.ins;
        let len = req.outs.len();
        // SAFETY: only shortens the element lifetime of a list nothing stores into (the
        // queue reads it to recycle descriptors): same pointer, length and layout.
        let outs: &mut [&mut [u8]] = unsafe {
            &mut *core::ptr::slice_from_raw_parts_mut(
                req.outs.as_mut_ptr().cast::<&mut [u8]>(),
                len,
            )
        };
        // SAFETY: the lists are exactly those `submit` added under this token.
        unsafe { self.queue.pop_used(req.token, ins, outs)? };
        Ok(req.status[0] == 0)
    }
}
