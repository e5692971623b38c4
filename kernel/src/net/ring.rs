//! A NIC's ring area: the pages the holder maps (`mem_map` of its NIC handle) and the
//! kernel reads and writes through the direct map. Layout and rules: `wayos_abi::net`.
//!
//! One [`Ring`] is made per attachment, so a new holder never sees what an old one left
//! (and an old holder that kept its mapping after letting go only sees a ring the kernel
//! no longer touches).
//!
//! Everything in here is shared with a program that may write any value at any time.
//! The kernel reads counters and lengths once, as atomics, and validates the value it
//! read; frame bytes are copied out of (or into) a slot in one go, so what the device
//! sends is the kernel's own copy. A program scribbling on a slot while the kernel copies
//! it only garbles its own frame. Must never: trust a value read from here without a
//! check, form a Rust reference to slot bytes (they change under it), or hold a lock while
//! touching user memory other than these kernel-owned frames.

use core::sync::atomic::{AtomicU16, AtomicU32};

use wayos_abi::net::{
    HEADER_BYTES, RING_BYTES, RX_DATA, RX_HEAD, RX_LEN, RX_SLOTS, RX_TAIL, SLOT_BYTES, TX_DATA,
    TX_HEAD, TX_LEN, TX_SLOTS, TX_TAIL,
};
use wayos_kcore::buddy::PAGE_SIZE;
use wayos_kcore::paging::PhysAddr;

use crate::error::KResult;
use crate::mm::direct;
use crate::mm::pmm::Tier;
use crate::mm::run::PageRun;
use crate::mm::space::FrameRun;

/// Pages in a ring area.
pub const PAGES: usize = RING_BYTES.div_ceil(PAGE_SIZE as usize);

const _: () = assert!(HEADER_BYTES.is_multiple_of(PAGE_SIZE as usize));
const _: () = assert!(RX_HEAD.is_multiple_of(4) && RX_TAIL.is_multiple_of(4));
const _: () = assert!(TX_HEAD.is_multiple_of(4) && TX_TAIL.is_multiple_of(4));
const _: () = assert!(RX_LEN.is_multiple_of(2) && TX_LEN.is_multiple_of(2));

/// The four counters.
#[derive(Clone, Copy)]
pub enum Counter {
    RxHead,
    RxTail,
    TxHead,
    TxTail,
}

impl Counter {
    const fn offset(self) -> usize {
        match self {
            Counter::RxHead => RX_HEAD,
            Counter::RxTail => RX_TAIL,
            Counter::TxHead => TX_HEAD,
            Counter::TxTail => TX_TAIL,
        }
    }
}

/// A ring area (see the module docs).
pub struct Ring {
    run: PageRun,
}

impl Ring {
    /// A zeroed ring (all counters 0: every rx slot free, no tx frame queued). `ENOMEM`
    /// when no contiguous run of [`PAGES`] frames is free.
    pub fn new() -> KResult<Ring> {
        Ok(Ring {
            run: PageRun::alloc_zeroed(Tier::Near, PAGES)?,
        })
    }

    /// The byte at `offset` through the direct map.
    fn at(&self, offset: usize) -> *mut u8 {
        debug_assert!(offset < RING_BYTES);
        let base = self.run.frame(0).expect("a ring has pages");
        direct::ptr::<u8>(base).wrapping_add(offset)
    }

    /// One of the header counters.
    pub fn counter(&self, c: Counter) -> &AtomicU32 {
        // SAFETY: the offset is inside the header page of a live run (the run lives as
        // long as `self`), 4-byte aligned (checked above); an `AtomicU32` may alias
        // memory a program writes concurrently, since every access is atomic.
        unsafe { &*(self.at(c.offset()) as *const AtomicU32) }
    }

    /// `rx_len[slot]` (`slot < RX_SLOTS`).
    pub fn rx_len(&self, slot: usize) -> &AtomicU16 {
        assert!(slot < RX_SLOTS);
        // SAFETY: as in `counter`; `RX_LEN + 2 * slot` is inside the header, 2-aligned.
        unsafe { &*(self.at(RX_LEN + 2 * slot) as *const AtomicU16) }
    }

    /// `tx_len[slot]` (`slot < TX_SLOTS`).
    pub fn tx_len(&self, slot: usize) -> &AtomicU16 {
        assert!(slot < TX_SLOTS);
        // SAFETY: as in `counter`; `TX_LEN + 2 * slot` is inside the header, 2-aligned.
        unsafe { &*(self.at(TX_LEN + 2 * slot) as *const AtomicU16) }
    }

    /// Copies `frame` (at most [`SLOT_BYTES`]) into rx slot `slot`.
    pub fn write_rx(&self, slot: usize, frame: &[u8]) {
        assert!(slot < RX_SLOTS && frame.len() <= SLOT_BYTES);
        // SAFETY: the slot lies inside the run (`RX_DATA + RX_SLOTS * SLOT_BYTES <=
        // RING_BYTES`); the frames are the kernel's, so the write cannot fault. A program
        // writing the same bytes meanwhile only garbles its own frame (module docs).
        unsafe {
            core::ptr::copy_nonoverlapping(
                frame.as_ptr(),
                self.at(RX_DATA + slot * SLOT_BYTES),
                frame.len(),
            );
        }
    }

    /// Copies the first `out.len()` bytes (at most [`SLOT_BYTES`]) of tx slot `slot`.
    pub fn read_tx(&self, slot: usize, out: &mut [u8]) {
        assert!(slot < TX_SLOTS && out.len() <= SLOT_BYTES);
        // SAFETY: as in `write_rx`, for the tx slot; `out` is the kernel's own buffer.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.at(TX_DATA + slot * SLOT_BYTES),
                out.as_mut_ptr(),
                out.len(),
            );
        }
    }

    /// Writes `frame` into tx slot `slot`, as a holder does (the boot tests, which act as
    /// an in-kernel holder).
    pub fn write_tx(&self, slot: usize, frame: &[u8]) {
        assert!(slot < TX_SLOTS && frame.len() <= SLOT_BYTES);
        // SAFETY: as in `write_rx`, for the tx slot.
        unsafe {
            core::ptr::copy_nonoverlapping(
                frame.as_ptr(),
                self.at(TX_DATA + slot * SLOT_BYTES),
                frame.len(),
            );
        }
    }

    /// Copies rx slot `slot` into `out`, as a holder does (the boot tests).
    pub fn read_rx(&self, slot: usize, out: &mut [u8]) {
        assert!(slot < RX_SLOTS && out.len() <= SLOT_BYTES);
        // SAFETY: as in `read_tx`, for the rx slot.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.at(RX_DATA + slot * SLOT_BYTES),
                out.as_mut_ptr(),
                out.len(),
            );
        }
    }
}

impl FrameRun for Ring {
    fn pages(&self) -> u64 {
        self.run.pages() as u64
    }

    fn frame(&self, index: u64) -> Option<PhysAddr> {
        self.run.frame(index)
    }
}
