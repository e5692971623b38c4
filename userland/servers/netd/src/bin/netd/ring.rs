//! The NIC ring as a smoltcp device: frames go straight between smoltcp and the slots the
//! kernel shares with netd (`wayos_abi::net`, "Ring area"), no copy on either side.
//!
//! Owns the mapping of the ring area and the holder's two counters (`rx_tail`, `tx_head`);
//! the kernel owns `rx_head`, `tx_tail` and every slot outside the holder's window. A slot
//! is read (rx) or written (tx) only while the counters give it to netd, and handed back
//! with a release store of the counter after the access, as the ABI says. Every frame is
//! checked ([`super::check`]) before smoltcp sees it, so what smoltcp would drop silently
//! is counted. Nothing here blocks; `kick` tells the kernel after a batch.
//!
//! The only `unsafe` of netd is here: views of the shared mapping as atomics and slots.

use core::cell::{Cell, RefCell};
use core::sync::atomic::{AtomicU16, AtomicU32, Ordering};

use libway::abi::net::{
    MAX_FRAME, MIN_FRAME, RING_BYTES, RX_DATA, RX_HEAD, RX_LEN, RX_SLOTS, RX_TAIL, SLOT_BYTES,
    TX_DATA, TX_HEAD, TX_LEN, TX_SLOTS, TX_TAIL,
};
use libway::grant::SharedBuf;
use libway::Errno;
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use super::check::{self, Counters};

/// The mapped ring area and netd's view of its counters.
pub struct RingDev {
    map: SharedBuf,
    /// The NIC handle (`net_kick`).
    nic: u32,
    pub mac: [u8; 6],
    rx_tail: Cell<u32>,
    tx_head: Cell<u32>,
    /// Something changed for the kernel since the last kick (slots freed or filled).
    dirty: Cell<bool>,
    pub counters: Counters,
    /// Ports whose listeners have a full backlog: SYNs to them are dropped here.
    pub syn_blocked: RefCell<alloc::vec::Vec<u16>>,
    /// Where a frame smoltcp builds goes when no tx slot is free (then dropped).
    scratch: RefCell<[u8; SLOT_BYTES]>,
    pub rx_packets: Cell<u64>,
    pub rx_bytes: Cell<u64>,
    pub tx_packets: Cell<u64>,
    pub tx_bytes: Cell<u64>,
    pub rx_dropped: Cell<u64>,
}

impl RingDev {
    /// The device over ring area `map` (at least `RING_BYTES`) of NIC handle `nic`.
    pub fn new(map: SharedBuf, nic: u32, mac: [u8; 6]) -> Result<RingDev, Errno> {
        if map.len() < RING_BYTES || !map.addr().is_multiple_of(4096) {
            return Err(Errno(libway::abi::errno::EINVAL));
        }
        let dev = RingDev {
            map,
            nic,
            mac,
            rx_tail: Cell::new(0),
            tx_head: Cell::new(0),
            dirty: Cell::new(true),
            counters: Counters::default(),
            syn_blocked: RefCell::new(alloc::vec::Vec::new()),
            scratch: RefCell::new([0; SLOT_BYTES]),
            rx_packets: Cell::new(0),
            rx_bytes: Cell::new(0),
            tx_packets: Cell::new(0),
            tx_bytes: Cell::new(0),
            rx_dropped: Cell::new(0),
        };
        // Start where the kernel is (a previous holder may have left counters behind).
        dev.rx_tail
            .set(dev.counter(RX_TAIL).load(Ordering::Acquire));
        dev.tx_head
            .set(dev.counter(TX_HEAD).load(Ordering::Acquire));
        Ok(dev)
    }

    /// The `u32` counter at byte `off` of the header page.
    fn counter(&self, off: usize) -> &AtomicU32 {
        debug_assert!(off.is_multiple_of(4) && off + 4 <= RX_DATA);
        // SAFETY: the mapping is at least `RING_BYTES` long and page aligned (checked in
        // `new`) and lives as long as `self`; `off` is one of the ABI's 64-byte aligned
        // header offsets; the kernel accesses these words only atomically too.
        unsafe { &*((self.map.addr() + off) as *const AtomicU32) }
    }

    /// Length word `i` of the `u16` array at `base` in the header page.
    fn len_word(&self, base: usize, i: usize) -> &AtomicU16 {
        debug_assert!(base + 2 * i + 2 <= RX_DATA);
        // SAFETY: as `counter`: inside the header page, 2-byte aligned (`RX_LEN` and
        // `TX_LEN` are even), accessed atomically by both sides.
        unsafe { &*((self.map.addr() + base + 2 * i) as *const AtomicU16) }
    }

    /// Frames waiting in the rx ring.
    pub fn rx_pending(&self) -> bool {
        self.counter(RX_HEAD).load(Ordering::Acquire) != self.rx_tail.get()
    }

    /// A `NOTIFY` came: the kernel will not send another until netd kicks, so the next
    /// [`RingDev::kick`] must happen even if no slot changed hands.
    pub fn notified(&self) {
        self.dirty.set(true);
    }

    /// `net_kick` if anything changed since the last one (and re-arms notification).
    pub fn kick(&self) {
        if self.dirty.replace(false) {
            let _ = libway::net::nic_kick(self.nic);
        }
    }

    /// Frees rx slot `tail` for the kernel.
    fn release_rx(&self) {
        let t = self.rx_tail.get().wrapping_add(1);
        self.rx_tail.set(t);
        self.counter(RX_TAIL).store(t, Ordering::Release);
        self.dirty.set(true);
    }

    /// The frame in the oldest rx slot, if one is there and sane.
    fn rx_frame(&self) -> Option<&[u8]> {
        let tail = self.rx_tail.get();
        let head = self.counter(RX_HEAD).load(Ordering::Acquire);
        // More than a ring's worth ahead would be a broken kernel: treat as empty.
        if head == tail || head.wrapping_sub(tail) as usize > RX_SLOTS {
            return None;
        }
        let slot = tail as usize % RX_SLOTS;
        let len = self.len_word(RX_LEN, slot).load(Ordering::Acquire) as usize;
        let len = len.min(SLOT_BYTES);
        // SAFETY: slot `tail % RX_SLOTS` lies inside the mapping (`RX_DATA + RX_SLOTS *
        // SLOT_BYTES <= RING_BYTES`) and belongs to netd from the acquire load of `rx_head`
        // until `release_rx` stores `rx_tail` past it: the kernel does not write it
        // meanwhile. The slice is dropped before `release_rx` (see `RxTok::consume`).
        Some(unsafe {
            core::slice::from_raw_parts(
                (self.map.addr() + RX_DATA + slot * SLOT_BYTES) as *const u8,
                len,
            )
        })
    }
}

impl Device for RingDev {
    type RxToken<'a> = RxTok<'a>;
    type TxToken<'a> = TxTok<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxTok<'_>, TxTok<'_>)> {
        loop {
            let frame = self.rx_frame()?;
            let blocked = self.syn_blocked.borrow();
            let ok = frame.len() >= MIN_FRAME
                && frame.len() <= MAX_FRAME
                && check::frame(frame, &self.mac, &blocked, &self.counters);
            drop(blocked);
            if ok {
                self.rx_packets.set(self.rx_packets.get() + 1);
                self.rx_bytes.set(self.rx_bytes.get() + frame.len() as u64);
                return Some((RxTok { dev: self }, TxTok { dev: self }));
            }
            if frame.len() < MIN_FRAME || frame.len() > MAX_FRAME {
                self.counters.bump(check::FRAMES_IN);
                self.counters.bump(check::MALFORMED);
            }
            self.rx_dropped.set(self.rx_dropped.get() + 1);
            self.release_rx();
        }
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxTok<'_>> {
        Some(TxTok { dev: self })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        caps.max_burst_size = Some(TX_SLOTS / 2);
        caps
    }
}

pub struct RxTok<'a> {
    dev: &'a RingDev,
}

impl phy::RxToken for RxTok<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let r = match self.dev.rx_frame() {
            Some(frame) => f(frame),
            None => f(&[]),
        };
        self.dev.release_rx();
        r
    }
}

pub struct TxTok<'a> {
    dev: &'a RingDev,
}

impl phy::TxToken for TxTok<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let dev = self.dev;
        let head = dev.tx_head.get();
        let tail = dev.counter(TX_TAIL).load(Ordering::Acquire);
        let room = (head.wrapping_sub(tail) as usize) < TX_SLOTS;
        if !room || !(MIN_FRAME..=MAX_FRAME).contains(&len) {
            // No slot (or a frame the ring cannot carry): smoltcp builds it into the
            // scratch buffer and it is dropped, as a full NIC queue would; TCP resends.
            dev.counters.bump(check::TX_RING_FULL);
            let mut scratch = dev.scratch.borrow_mut();
            return f(&mut scratch[..len.min(SLOT_BYTES)]);
        }
        let slot = head as usize % TX_SLOTS;
        // SAFETY: slot `head % TX_SLOTS` lies inside the mapping and belongs to netd while
        // `tx_head - tx_tail < TX_SLOTS` (checked above, `tx_tail` only grows): the kernel
        // takes it only after the release store of `tx_head` below, after the slice is
        // gone. `len <= MAX_FRAME <= SLOT_BYTES`.
        let buf = unsafe {
            core::slice::from_raw_parts_mut(
                (dev.map.addr() + TX_DATA + slot * SLOT_BYTES) as *mut u8,
                len,
            )
        };
        let r = f(buf);
        dev.len_word(TX_LEN, slot)
            .store(len as u16, Ordering::Release);
        let next = head.wrapping_add(1);
        dev.tx_head.set(next);
        dev.counter(TX_HEAD).store(next, Ordering::Release);
        dev.dirty.set(true);
        dev.counters.bump(check::FRAMES_OUT);
        dev.tx_packets.set(dev.tx_packets.get() + 1);
        dev.tx_bytes.set(dev.tx_bytes.get() + len as u64);
        r
    }
}
