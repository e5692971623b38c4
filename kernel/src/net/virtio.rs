//! One virtio-net device through `virtio-drivers` (`VirtIONetRaw` over the PCI transport):
//! its receive and transmit buffers and the bookkeeping of which buffer the device holds.
//!
//! The device gets kernel buffers ([`BUF_BYTES`] each, heap memory in the direct map), not
//! the holder's ring slots: received frames are copied once into an rx slot, and frames
//! to send once out of a tx slot (`net::service`). That copy is what keeps a program from
//! changing a frame after the kernel checked its length, and from reusing a slot the
//! device still reads; it also keeps the virtio-net header (which the crate puts in front
//! of every frame) out of the ring layout.
//!
//! Every receive buffer is posted to the device at all times except between its
//! completion and its re-post in [`Device::pop_rx`]. Must never: touch a buffer the device
//! holds, or complete tokens out of the order the used ring gives them.

use alloc::boxed::Box;
use alloc::vec::Vec;

use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::Transport;

use crate::pci::hal::KernelHal;

/// Descriptors per virtqueue (and buffers per direction).
pub const QUEUE: usize = 64;
/// Bytes per device buffer: the virtio-net header plus the largest frame, rounded up.
pub const BUF_BYTES: usize = 2048;

/// The virtio-net config-space `status` word, and its link-up bit.
const CONFIG_STATUS: usize = 6;
const STATUS_LINK_UP: u16 = 1;

type Raw = VirtIONetRaw<KernelHal, PciTransport, QUEUE>;

/// A driven virtio-net device.
pub struct Device {
    raw: Raw,
    rx_bufs: Vec<[u8; BUF_BYTES]>,
    /// The token of the receive request holding each rx buffer.
    rx_token: [Option<u16>; QUEUE],
    tx_bufs: Vec<[u8; BUF_BYTES]>,
    /// The token and length (header included) of the request holding each tx buffer.
    tx_token: [Option<(u16, usize)>; QUEUE],
    /// Free tx buffers.
    tx_free: usize,
}

/// Why [`Device::new`] failed.
#[derive(Debug)]
pub enum ProbeError {
    Virtio(virtio_drivers::Error),
    NoMemory,
}

impl Device {
    /// Brings the device up (feature negotiation, queues, `DRIVER_OK`), posts every
    /// receive buffer, and returns it with its link state from the config space.
    ///
    /// The device is boxed at once: the driver's state is several KiB (the crate keeps a
    /// shadow of each queue's descriptors), and `net::init` runs on the boot stack, which
    /// unoptimized builds would otherwise fill with copies of it.
    pub fn new(transport: PciTransport) -> Result<(Box<Device>, bool), ProbeError> {
        let link_up = transport
            .read_config_space::<u16>(CONFIG_STATUS)
            .map_or(true, |s| s & STATUS_LINK_UP != 0);
        let raw = Raw::new(transport).map_err(ProbeError::Virtio)?;
        let mut rx_bufs = Vec::new();
        let mut tx_bufs = Vec::new();
        rx_bufs
            .try_reserve_exact(QUEUE)
            .map_err(|_| ProbeError::NoMemory)?;
        tx_bufs
            .try_reserve_exact(QUEUE)
            .map_err(|_| ProbeError::NoMemory)?;
        rx_bufs.resize(QUEUE, [0; BUF_BYTES]);
        tx_bufs.resize(QUEUE, [0; BUF_BYTES]);
        let mut dev = Box::new(Device {
            raw,
            rx_bufs,
            rx_token: [None; QUEUE],
            tx_bufs,
            tx_token: [None; QUEUE],
            tx_free: QUEUE,
        });
        for i in 0..QUEUE {
            dev.post_rx(i).map_err(ProbeError::Virtio)?;
        }
        Ok((dev, link_up))
    }

    pub fn mac(&self) -> [u8; 6] {
        self.raw.mac_address()
    }

    /// Acknowledges the device's interrupt (reading the ISR status de-asserts INTx).
    pub fn ack_interrupt(&mut self) {
        let _ = self.raw.ack_interrupt();
    }

    fn post_rx(&mut self, i: usize) -> virtio_drivers::Result<()> {
        // SAFETY: buffer `i` is not posted (its token slot is empty) and stays untouched
        // until `pop_rx` completes its token; the `Vec` never reallocates (its length is
        // fixed at `QUEUE` once made), so the memory stays where the device writes it.
        let token = unsafe { self.raw.receive_begin(&mut self.rx_bufs[i])? };
        self.rx_token[i] = Some(token);
        Ok(())
    }

    /// Takes the next received frame, if any, shows it to `take`, and posts its buffer
    /// again. `None` when the device has delivered nothing more.
    pub fn pop_rx(&mut self, take: impl FnOnce(Result<&[u8], ()>)) -> Option<()> {
        let token = self.raw.poll_receive()?;
        let Some(i) = self.rx_token.iter().position(|t| *t == Some(token)) else {
            // A token we never posted: a device bug. Nothing can be completed safely.
            log::error!("virtio-net: unknown rx token {token}");
            return None;
        };
        self.rx_token[i] = None;
        // SAFETY: buffer `i` is the one posted with `token` (same slice: same address and
        // length).
        let done = unsafe { self.raw.receive_complete(token, &mut self.rx_bufs[i]) };
        match done {
            Ok((hdr, len)) if hdr + len <= BUF_BYTES => take(Ok(&self.rx_bufs[i][hdr..hdr + len])),
            _ => take(Err(())),
        }
        if let Err(e) = self.post_rx(i) {
            log::error!("virtio-net: cannot re-post rx buffer {i}: {e:?}");
        }
        Some(())
    }

    /// Whether a frame can be queued for sending now.
    pub fn can_send(&self) -> bool {
        self.tx_free > 0 && self.raw.can_send()
    }

    /// Queues a frame of `len` bytes that `fill` writes into the buffer it is given.
    /// `Err` when no buffer is free or the device refuses the request (the frame is lost).
    pub fn send(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) -> Result<(), ()> {
        let i = self.tx_token.iter().position(Option::is_none).ok_or(())?;
        let hdr = self
            .raw
            .fill_buffer_header(&mut self.tx_bufs[i])
            .map_err(|_| ())?;
        let total = hdr.checked_add(len).filter(|&t| t <= BUF_BYTES).ok_or(())?;
        fill(&mut self.tx_bufs[i][hdr..total]);
        // SAFETY: buffer `i` is free (no token) and stays untouched until `reclaim_tx`
        // completes the token; the `Vec` never reallocates.
        let token =
            unsafe { self.raw.transmit_begin(&self.tx_bufs[i][..total]) }.map_err(|_| ())?;
        self.tx_token[i] = Some((token, total));
        self.tx_free -= 1;
        Ok(())
    }

    /// Completes every transmission the device finished; returns how many.
    pub fn reclaim_tx(&mut self) -> usize {
        let mut n = 0;
        while let Some(token) = self.raw.poll_transmit() {
            let Some(i) = self
                .tx_token
                .iter()
                .position(|t| t.is_some_and(|(tok, _)| tok == token))
            else {
                log::error!("virtio-net: unknown tx token {token}");
                break;
            };
            let Some((_, total)) = self.tx_token[i].take() else {
                break;
            };
            // SAFETY: buffer `i` with length `total` is exactly what `send` passed to
            // `transmit_begin` for `token`.
            if let Err(e) = unsafe { self.raw.transmit_complete(token, &self.tx_bufs[i][..total]) }
            {
                log::warn!("virtio-net: tx completion: {e:?}");
            }
            self.tx_free += 1;
            n += 1;
        }
        n
    }
}
