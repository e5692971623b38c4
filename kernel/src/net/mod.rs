//! NICs: the virtio-net devices on the PCI bus, each driven by the kernel and lent to one
//! holder (a process with `caps::NET_RAW`, normally `netd`) as a ring area of raw Ethernet
//! frames. The user-facing contract is `wayos_abi::net` and `docs/net.md`.
//!
//! Per NIC, one [`IrqMutex`] guards the device and the attachment together; the work on
//! them is [`service`]: collect finished transmissions, move the holder's queued tx
//! frames to the device, move received frames into the holder's rx slots (dropped and
//! counted when the ring is full or nobody holds the NIC), and decide whether the holder
//! is owed a [`NOTIFY`]. It runs on the NIC's kernel thread, woken by the device
//! interrupt (or, when no interrupt is routed, every poll period), and on `net_kick` in
//! the caller's thread.
//!
//! Must never: parse a frame (the kernel moves bytes and checks lengths, nothing else),
//! block the driver on the holder (a full notify port postpones the notification, it
//! never waits), drop a kernel object under the NIC lock (a port's last reference is let
//! go after it), or trust what the holder wrote in the ring (`ring`).
//!
//! Lock order: a process's handle table, then a NIC's lock, then a port's queue lock
//! (only through `ipc::kernel_try_send`, after the NIC lock is released) and wait queues.

pub mod ring;
pub mod selftest;
mod virtio;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

use spin::Once;
use wayos_abi::ipc::{Message, INLINE_BYTES};
use wayos_abi::net::{
    NicInfo, IRQ_MSIX, IRQ_POLLED, MAX_FRAME, MIN_FRAME, NOTIFY, RX_SLOTS, SLOT_BYTES, TX_SLOTS,
};

use self::ring::{Counter, Ring};
use self::virtio::Device;
use crate::error::{Errno, KResult};
use crate::ipc::port::Port;
use crate::sync::IrqMutex;
use crate::task::wait_queue::WaitQueue;
use crate::{arch, pci};

/// PCI vendor and device ids of virtio-net (transitional and modern).
const VIRTIO_VENDOR: u16 = 0x1af4;
const VIRTIO_NET_IDS: [u16; 2] = [0x1000, 0x1041];
/// IP MTU reported to holders.
const MTU: u32 = 1500;
/// How often a NIC without an interrupt is polled.
const POLL_NS: u64 = 2_000_000;
/// Most frames moved per direction in one pass of [`service`] (bounds the time the NIC
/// lock is held with interrupts off); the thread loops while there is more.
const BUDGET: usize = 32;
/// Most NICs driven.
pub const MAX_NICS: usize = 8;

/// Counters since boot, as `NicInfo` reports them.
#[derive(Default)]
struct Stats {
    rx_frames: AtomicU64,
    rx_bytes: AtomicU64,
    tx_frames: AtomicU64,
    tx_bytes: AtomicU64,
    rx_dropped: AtomicU64,
    tx_dropped: AtomicU64,
    irqs: AtomicU64,
    kicks: AtomicU64,
}

/// The current holder and the kernel's side of its ring.
struct Holder {
    /// Which attachment this is (a stale handle's release must not free a newer one).
    generation: u64,
    ring: Arc<Ring>,
    port: Arc<Port>,
    /// The kernel's own copies of the counters it writes, and the last sane values of
    /// those the holder writes: what the ring says is only ever an input.
    rx_head: u32,
    rx_tail: u32,
    tx_tail: u32,
    /// A NOTIFY was sent and no `net_kick` has come since.
    notify_pending: bool,
    /// A NOTIFY is owed but could not be queued (port full): retried by the thread.
    notify_owed: bool,
}

/// What the NIC lock guards.
struct State {
    dev: Box<Device>,
    holder: Option<Holder>,
    next_generation: u64,
}

/// One NIC.
pub struct Nic {
    index: u32,
    pci: u32,
    mac: [u8; 6],
    link_up: bool,
    irq_mode: AtomicU8,
    irq: AtomicU32,
    /// The interrupt `pci` routed, once it did (never, when polled).
    route: Once<pci::IrqRoute>,
    state: IrqMutex<State>,
    stats: Stats,
    holder_pid: AtomicU32,
    /// Set by the interrupt handler (and by anyone who wants the thread to look again).
    work: AtomicBool,
    wq: WaitQueue,
}

static NICS: Once<Vec<Arc<Nic>>> = Once::new();

fn nics() -> &'static [Arc<Nic>] {
    NICS.get().map_or(&[], |v| v.as_slice())
}

/// Finds and starts every virtio-net function `pci` enumerated, in PCI order; each gets a
/// kernel thread and, where `pci` can route one, an interrupt. Called once at boot, after
/// `pci::init` and `task::init`.
pub fn init() {
    let mut found = Vec::new();
    for f in pci::functions() {
        if f.vendor != VIRTIO_VENDOR || !VIRTIO_NET_IDS.contains(&f.device) {
            continue;
        }
        if found.len() == MAX_NICS {
            log::warn!(
                "net: more than {MAX_NICS} NICs; {:02x}:{:02x}.{} ignored",
                f.bus,
                f.dev,
                f.func
            );
            continue;
        }
        match probe(f, found.len() as u32) {
            Ok(nic) => found.push((nic, f)),
            Err(why) => log::warn!(
                "net: virtio-net at {:02x}:{:02x}.{} not started: {why}",
                f.bus,
                f.dev,
                f.func
            ),
        }
    }
    // Routes only once the table is complete: the shared handler walks it.
    let nics = NICS.call_once(|| found.iter().map(|(n, _)| n.clone()).collect());
    for (nic, f) in &found {
        route_interrupt(nic, f);
    }
    for nic in nics {
        let worker = nic.clone();
        match crate::task::thread::Thread::kernel(wayos_abi::sched::HIGH, move || run(&worker)) {
            Ok(t) => crate::task::sched::make_ready(t),
            Err(_) => log::error!(
                "net: nic{}: no memory for its thread; the NIC stays idle",
                nic.index
            ),
        }
        let m = nic.mac;
        log::info!(
            "net: nic{} virtio-net at {:02x}:{:02x}.{}, MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, link {}, {}",
            nic.index,
            nic.pci >> 8,
            (nic.pci >> 3) & 31,
            nic.pci & 7,
            m[0], m[1], m[2], m[3], m[4], m[5],
            if nic.link_up { "up" } else { "down" },
            match nic.irq_mode.load(Ordering::Relaxed) {
                IRQ_POLLED => alloc::format!("polled every {} ms", POLL_NS / 1_000_000),
                IRQ_MSIX => alloc::format!("MSI-X vector {}", nic.irq.load(Ordering::Relaxed)),
                _ => alloc::format!("INTx line {}", nic.irq.load(Ordering::Relaxed)),
            }
        );
    }
}

/// Asks `pci` for an interrupt for `nic` (function `f`) and points the device's queues
/// at it; without one the NIC stays polled.
fn route_interrupt(nic: &Nic, f: &pci::Function) {
    let route = match pci::enable_interrupt(f, irq_handler) {
        Ok(r) => r,
        Err(e) => {
            log::info!("net: nic{}: no interrupt route ({e}); polled", nic.index);
            return;
        }
    };
    // The queues were set up by `probe`; nothing else drives the device yet.
    if let Err(e) = pci::virtio_msix_route(f, &route, 2) {
        log::warn!("net: nic{}: MSI-X vectors refused ({e}); polled", nic.index);
        return;
    }
    nic.irq.store(route.line, Ordering::Relaxed);
    let route = *nic.route.call_once(|| route);
    nic.irq_mode.store(route.mode, Ordering::Release);
    // Anything that arrived before the route existed is collected now.
    nic.work.store(true, Ordering::Release);
    route.unmask();
}

/// Brings up the device of PCI function `f` as NIC number `index`.
fn probe(f: &pci::Function, index: u32) -> Result<Arc<Nic>, &'static str> {
    let transport = pci::virtio_transport(f, "virtio-net")?;
    let (dev, link_up) = Device::new(transport).map_err(|e| match e {
        virtio::ProbeError::NoMemory => "no memory for its buffers",
        virtio::ProbeError::Virtio(e) => {
            log::warn!("net: virtio-net: {e}");
            "device initialisation failed"
        }
    })?;
    crate::mm::reserve::admit(core::mem::size_of::<Nic>()).map_err(|_| "no memory")?;
    Ok(Arc::new(Nic {
        index,
        pci: f.address(),
        mac: dev.mac(),
        link_up,
        irq_mode: AtomicU8::new(IRQ_POLLED),
        irq: AtomicU32::new(u32::MAX),
        route: Once::new(),
        state: IrqMutex::new(State {
            dev,
            holder: None,
            next_generation: 1,
        }),
        stats: Stats::default(),
        holder_pid: AtomicU32::new(0),
        // The thread's first pass collects what came before it ran.
        work: AtomicBool::new(true),
        wq: WaitQueue::new(),
    }))
}

/// The device interrupt (interrupts off): acknowledge each interrupt-driven NIC and wake
/// its thread. Shared by every NIC (the handler is not told which line fired).
fn irq_handler() {
    for nic in nics() {
        let Some(route) = nic.route.get() else {
            continue;
        };
        // Reading the ISR status makes an INTx device drop its line, which the arch
        // masked for this handler: then it may fire again.
        nic.state.lock().dev.ack_interrupt();
        route.unmask();
        nic.stats.irqs.fetch_add(1, Ordering::Relaxed);
        nic.work.store(true, Ordering::Release);
        nic.wq.wake_all();
    }
}

/// Makes NIC `index`'s thread run a pass, as its interrupt does (the boot checks use it
/// to exercise the thread's path without a kick).
pub(crate) fn poke(index: usize) {
    if let Some(nic) = nics().get(index) {
        nic.work.store(true, Ordering::Release);
        nic.wq.wake_all();
    }
}

/// A NIC's kernel thread: services the device whenever there is news (or every poll
/// period without an interrupt, or while a notification is owed).
fn run(nic: &Nic) {
    crate::task::sched::current().set_kernel_wait(crate::task::thread::KernelWait::Nic);
    loop {
        let polled = nic.irq_mode.load(Ordering::Relaxed) == IRQ_POLLED;
        let owed = nic
            .state
            .lock()
            .holder
            .as_ref()
            .is_some_and(|h| h.notify_owed);
        let ready = || nic.work.swap(false, Ordering::AcqRel).then_some(());
        if polled || owed {
            let _ = nic
                .wq
                .wait_until_deadline(arch::uptime_ns().saturating_add(POLL_NS), ready);
        } else {
            nic.wq.wait_until(ready);
        }
        loop {
            let (notify, more) = {
                let mut st = nic.state.lock();
                service(nic, &mut st, false)
            };
            send_notify(nic, notify);
            if !more {
                break;
            }
        }
    }
}

/// One pass over the device and the ring (see the module docs). `kick`: called by the
/// holder's `net_kick` (which already knows what it queued: freed tx slots then need no
/// notification). Returns the port to notify, if any, and whether work was left over.
fn service(nic: &Nic, st: &mut State, kick: bool) -> (Option<Arc<Port>>, bool) {
    let State { dev, holder, .. } = st;
    let s = &nic.stats;
    let mut more = false;
    let freed = dev.reclaim_tx();
    let mut news = false;

    if let Some(h) = holder.as_mut() {
        // Transmit what the holder queued.
        let ring = &h.ring;
        let head = ring.counter(Counter::TxHead).load(Ordering::Acquire);
        let queued = head.wrapping_sub(h.tx_tail);
        if queued as usize > TX_SLOTS {
            // Hostile or broken: ignored until sane.
            if kick {
                s.tx_dropped.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            let before = h.tx_tail;
            for _ in 0..queued.min(BUDGET as u32) {
                if !dev.can_send() {
                    break;
                }
                let slot = h.tx_tail as usize % TX_SLOTS;
                let len = usize::from(ring.tx_len(slot).load(Ordering::Acquire));
                h.tx_tail = h.tx_tail.wrapping_add(1);
                if !(MIN_FRAME..=MAX_FRAME).contains(&len)
                    || dev.send(len, |buf| ring.read_tx(slot, buf)).is_err()
                {
                    s.tx_dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                s.tx_frames.fetch_add(1, Ordering::Relaxed);
                s.tx_bytes.fetch_add(len as u64, Ordering::Relaxed);
            }
            if h.tx_tail != before {
                ring.counter(Counter::TxTail)
                    .store(h.tx_tail, Ordering::Release);
                news |= !kick && freed > 0;
            }
            more |= h.tx_tail != head && dev.can_send();
        }
    }

    // Receive: into the ring while it has room, else dropped.
    let mut taken = 0;
    while taken < BUDGET {
        let slot = holder.as_mut().and_then(|h| {
            let tail = h.ring.counter(Counter::RxTail).load(Ordering::Acquire);
            if h.rx_head.wrapping_sub(tail) as usize <= RX_SLOTS {
                h.rx_tail = tail;
            }
            ((h.rx_head.wrapping_sub(h.rx_tail) as usize) < RX_SLOTS).then_some(h)
        });
        let got = dev.pop_rx(|frame| match (frame, slot) {
            (Ok(f), Some(h)) if (MIN_FRAME..=SLOT_BYTES.min(MAX_FRAME)).contains(&f.len()) => {
                let i = h.rx_head as usize % RX_SLOTS;
                h.ring.write_rx(i, f);
                h.ring.rx_len(i).store(f.len() as u16, Ordering::Release);
                h.rx_head = h.rx_head.wrapping_add(1);
                h.ring
                    .counter(Counter::RxHead)
                    .store(h.rx_head, Ordering::Release);
                s.rx_frames.fetch_add(1, Ordering::Relaxed);
                s.rx_bytes.fetch_add(f.len() as u64, Ordering::Relaxed);
                news = true;
            }
            _ => {
                s.rx_dropped.fetch_add(1, Ordering::Relaxed);
            }
        });
        if got.is_none() {
            break;
        }
        taken += 1;
    }
    more |= taken == BUDGET;

    let mut notify = None;
    if let Some(h) = holder.as_mut() {
        if (news || h.notify_owed) && !h.notify_pending {
            h.notify_pending = true;
            h.notify_owed = false;
            notify = Some(h.port.clone());
        }
    }
    (notify, more)
}

/// Sends NOTIFY to `port` without waiting; a full port leaves the notification owed (the
/// thread retries every poll period until it goes through or the holder kicks).
fn send_notify(nic: &Nic, port: Option<Arc<Port>>) {
    let Some(port) = port else { return };
    let mut msg = Message::new(NOTIFY);
    msg.len = 4;
    msg.data[..4].copy_from_slice(&nic.index.to_le_bytes());
    const _: () = assert!(INLINE_BYTES >= 4);
    if crate::ipc::kernel_try_send(&port, msg) == Err(Errno::EAGAIN) {
        if let Some(h) = nic.state.lock().holder.as_mut() {
            if Arc::ptr_eq(&h.port, &port) {
                h.notify_pending = false;
                h.notify_owed = true;
            }
        }
        nic.work.store(true, Ordering::Release);
    }
    // The last reference to a port may go here, with no lock held.
    drop(port);
}

/// A holder's claim on a NIC: what a NIC handle (`KObject::Nic`) refers to. Dropping it
/// (the handle closed, or its process died) releases the NIC.
pub struct Attachment {
    nic: Arc<Nic>,
    generation: u64,
    ring: Arc<Ring>,
}

impl Attachment {
    /// The ring area, for `mem_map`.
    pub fn ring(&self) -> Arc<Ring> {
        self.ring.clone()
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let gone = {
            let mut st = self.nic.state.lock();
            if st
                .holder
                .as_ref()
                .is_some_and(|h| h.generation == self.generation)
            {
                self.nic.holder_pid.store(0, Ordering::Relaxed);
                st.holder.take()
            } else {
                None
            }
        };
        if gone.is_some() {
            log::info!("net: nic{} released", self.nic.index);
        }
        // The port reference goes here, after the NIC lock.
        drop(gone);
    }
}

/// `net_attach` minus the handle: makes `pid` (0: the kernel itself, the boot tests) the
/// holder of NIC `index` with a fresh ring, notifying `port`. `ENODEV` past the last NIC,
/// `EBUSY` while another holds it, `ENOMEM`.
pub fn attach(index: usize, port: Arc<Port>, pid: u32) -> KResult<Attachment> {
    let nic = nics().get(index).ok_or(Errno::ENODEV)?.clone();
    if nic.state.lock().holder.is_some() {
        return Err(Errno::EBUSY);
    }
    crate::mm::reserve::admit(core::mem::size_of::<Ring>() + 64)?;
    let ring = Arc::new(Ring::new()?);
    let generation = {
        let mut st = nic.state.lock();
        if st.holder.is_some() {
            return Err(Errno::EBUSY);
        }
        let generation = st.next_generation;
        st.next_generation += 1;
        st.holder = Some(Holder {
            generation,
            ring: ring.clone(),
            port,
            rx_head: 0,
            rx_tail: 0,
            tx_tail: 0,
            notify_pending: false,
            notify_owed: false,
        });
        nic.holder_pid.store(pid, Ordering::Relaxed);
        generation
    };
    log::info!("net: nic{index} attached by pid {pid}");
    Ok(Attachment {
        nic,
        generation,
        ring,
    })
}

/// `net_kick`: send what the holder queued, take back the rx slots it freed, re-arm
/// notification.
pub fn kick(a: &Attachment) {
    let nic = &a.nic;
    nic.stats.kicks.fetch_add(1, Ordering::Relaxed);
    let (notify, more) = {
        let mut st = nic.state.lock();
        match st.holder.as_mut() {
            Some(h) if h.generation == a.generation => h.notify_pending = false,
            _ => return,
        }
        service(nic, &mut st, true)
    };
    send_notify(nic, notify);
    if more {
        // The rest in the NIC's thread, not on the caller's time.
        nic.work.store(true, Ordering::Release);
        nic.wq.wake_all();
    }
}

/// NICs found.
pub fn count() -> usize {
    nics().len()
}

/// `net_info`: NIC `index` as `NicInfo` describes it; `ENODEV` past the last.
pub fn info(index: usize) -> KResult<NicInfo> {
    let nic = nics().get(index).ok_or(Errno::ENODEV)?;
    let s = &nic.stats;
    let mode = nic.irq_mode.load(Ordering::Relaxed);
    Ok(NicInfo {
        mac: nic.mac,
        link_up: u8::from(nic.link_up),
        irq_mode: mode,
        mtu: MTU,
        irq: if mode == IRQ_POLLED {
            u32::MAX
        } else {
            nic.irq.load(Ordering::Relaxed)
        },
        holder: nic.holder_pid.load(Ordering::Relaxed),
        pci: nic.pci,
        rx_frames: s.rx_frames.load(Ordering::Relaxed),
        rx_bytes: s.rx_bytes.load(Ordering::Relaxed),
        tx_frames: s.tx_frames.load(Ordering::Relaxed),
        tx_bytes: s.tx_bytes.load(Ordering::Relaxed),
        rx_dropped: s.rx_dropped.load(Ordering::Relaxed),
        tx_dropped: s.tx_dropped.load(Ordering::Relaxed),
        irqs: s.irqs.load(Ordering::Relaxed),
        kicks: s.kicks.load(Ordering::Relaxed),
    })
}
