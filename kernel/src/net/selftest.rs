//! Boot checks of the NIC driver (run by `boottest`): the NIC QEMU attaches is found with
//! its MAC and link; a frame put in the ring really leaves and the answer comes back
//! through the device, the interrupt (or the poll) and the notification (an ARP request
//! for QEMU's gateway 10.0.2.2, which its user network always answers); the one-holder
//! and device-number rules; hostile ring values are counted and ignored.
//!
//! The checks act as an in-kernel holder (pid 0) with a kernel port, and let go before
//! init starts, so `netd` finds the NIC free. The test builds the ARP bytes and reads the
//! reply's; the driver still never looks inside a frame.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use wayos_abi::net::{IRQ_POLLED, NOTIFY, RX_SLOTS, TX_SLOTS};

use super::ring::{Counter, Ring};
use super::{attach, count, info, kick, poke, Attachment};
use crate::arch;
use crate::error::Errno;
use crate::ipc::port::{Port, RecvWaiter};
use crate::ipc::{Deadline, KMessage};
use crate::task::sched;

type Check = fn() -> Result<(), &'static str>;

pub const CHECKS: &[(&str, Check)] = &[
    (
        "nic_found_with_qemu_mac_and_link",
        nic_found_with_qemu_mac_and_link,
    ),
    (
        "nic_arp_request_gets_gateway_reply",
        nic_arp_request_gets_gateway_reply,
    ),
    (
        "nic_thread_sends_receives_and_notifies",
        nic_thread_sends_receives_and_notifies,
    ),
    ("nic_second_attach_is_busy", nic_second_attach_is_busy),
    ("nic_past_last_is_enodev", nic_past_last_is_enodev),
    (
        "nic_hostile_ring_values_are_ignored",
        nic_hostile_ring_values_are_ignored,
    ),
];

/// QEMU's default MAC for the first NIC.
const QEMU_MAC: [u8; 6] = wayos_abi::usernet::GUEST_MAC;
/// QEMU user network: the guest's address and the gateway.
const GUEST_IP: [u8; 4] = wayos_abi::usernet::GUEST;
const GATEWAY_IP: [u8; 4] = wayos_abi::usernet::GATEWAY;
/// How long the gateway may take to answer under TCG, and how often it is asked.
const REPLY_NS: u64 = 5_000_000_000;
const RESEND_NS: u64 = 500_000_000;
/// [`wait_notify`]'s complaint when none came in time.
const NO_NOTIFY: &str = "no NOTIFY from the kernel";

fn nic_found_with_qemu_mac_and_link() -> Result<(), &'static str> {
    if count() == 0 {
        return Err("no virtio-net NIC found (QEMU attaches one by default)");
    }
    let i = info(0).map_err(|_| "net_info(0) failed")?;
    if i.mac != QEMU_MAC {
        return Err("MAC is not QEMU's 52:54:00:12:34:56");
    }
    if i.link_up != 1 {
        return Err("link is down");
    }
    if i.holder != 0 {
        return Err("NIC held before anyone attached");
    }
    Ok(())
}

fn kernel_port() -> Result<Arc<Port>, &'static str> {
    Port::new(16, None).map_err(|_| "no memory for a port")
}

/// An ARP request from the guest's address for `target`.
fn arp_request(mac: [u8; 6], target: [u8; 4]) -> [u8; wayos_abi::net::ARP_REQUEST_BYTES] {
    wayos_abi::net::arp_request(mac, GUEST_IP, target)
}

/// Whether `f` is an ARP reply from `from` to `mac`.
fn is_arp_reply(f: &[u8], mac: [u8; 6], from: [u8; 4]) -> bool {
    f.len() >= 42
        && f[12..14] == [0x08, 0x06]
        && f[20..22] == [0, 2]
        && f[28..32] == from
        && f[32..38] == mac
}

/// Queues `frame` as the holder would: slot, length, then `tx_head`; and kicks.
fn send(a: &Attachment, ring: &Ring, frame: &[u8]) {
    let head = ring.counter(Counter::TxHead).load(Ordering::Relaxed);
    let slot = head as usize % TX_SLOTS;
    ring.write_tx(slot, frame);
    ring.tx_len(slot)
        .store(frame.len() as u16, Ordering::Relaxed);
    ring.counter(Counter::TxHead)
        .store(head.wrapping_add(1), Ordering::Release);
    kick(a);
}

/// Waits until `ready` or `deadline` (false then).
///
/// The boot tests run on the boot CPU's idle thread, which never blocks (a blocking wait
/// returns at once) and runs with interrupts off — while device interrupts go to the boot
/// CPU. So this waits as the idle loop does: let other threads run, then sleep with
/// interrupts on until the next one (the tick at the latest), and look again.
fn idle_until(deadline: u64, mut ready: impl FnMut() -> bool) -> bool {
    loop {
        if ready() {
            return true;
        }
        if arch::uptime_ns() >= deadline {
            return false;
        }
        let _irq = arch::IrqGuard::new();
        sched::schedule();
        arch::wait_for_interrupt();
        arch::disable_interrupts();
    }
}

/// Waits for a NOTIFY on `port` until `deadline`.
fn wait_notify(port: &Port, deadline: u64) -> Result<(), &'static str> {
    let mut km = KMessage::empty();
    let mut w = RecvWaiter::new(&mut km);
    if !idle_until(deadline, || port.receive(&w, Deadline::Now, None).is_ok()) {
        return Err(NO_NOTIFY);
    }
    let m = &w.message().msg;
    if m.label != NOTIFY
        || m.data[..4] != 0u32.to_le_bytes()
        || m.reply != wayos_abi::ipc::FROM_KERNEL
    {
        return Err("a message that is not NOTIFY for nic0");
    }
    Ok(())
}

fn nic_arp_request_gets_gateway_reply() -> Result<(), &'static str> {
    let port = kernel_port()?;
    let a = attach(0, port.clone(), 0).map_err(|_| "attach failed")?;
    let ring = a.ring();
    let before = info(0).map_err(|_| "net_info failed")?;
    let mac = before.mac;
    let request = arp_request(mac, GATEWAY_IP);
    let start = arch::uptime_ns();
    let deadline = start + REPLY_NS;
    let mut sent = 0u32;
    let mut tail = 0u32;
    let mut notified = false;
    let found = loop {
        // Asked again every RESEND_NS: the gateway's user network may be slow to start.
        if arch::uptime_ns() >= start + u64::from(sent) * RESEND_NS {
            send(&a, &ring, &request);
            sent += 1;
        }
        let wait_until = deadline.min(start + u64::from(sent) * RESEND_NS);
        match wait_notify(&port, wait_until) {
            Ok(()) => notified = true,
            Err(e) if e != NO_NOTIFY => return Err(e),
            Err(_) => {}
        }
        // Consume every frame, as a holder does, then re-arm and look again.
        let head = ring.counter(Counter::RxHead).load(Ordering::Acquire);
        let mut found = false;
        while tail != head {
            let slot = tail as usize % RX_SLOTS;
            let len = usize::from(ring.rx_len(slot).load(Ordering::Acquire));
            let mut buf = [0u8; 64];
            let n = len.min(buf.len());
            ring.read_rx(slot, &mut buf[..n]);
            found |= is_arp_reply(&buf[..n], mac, GATEWAY_IP);
            tail = tail.wrapping_add(1);
        }
        ring.counter(Counter::RxTail).store(tail, Ordering::Release);
        kick(&a);
        if found || arch::uptime_ns() >= deadline {
            break found;
        }
    };
    // The device interrupts for the reply and the sent frame; the handler counts it.
    if before.irq_mode != IRQ_POLLED {
        idle_until(arch::uptime_ns() + RESEND_NS, || {
            info(0).is_ok_and(|i| i.irqs > before.irqs)
        });
    }
    let after = info(0).map_err(|_| "net_info failed")?;
    log::info!(
        "net selftest: ARP: {} sent, reply {} after {} ms, notified {notified}; tx {}->{}, rx {}->{}, rx dropped {}->{}, irqs {}->{}",
        sent,
        if found { "seen" } else { "NOT seen" },
        (arch::uptime_ns() - start) / 1_000_000,
        before.tx_frames,
        after.tx_frames,
        before.rx_frames,
        after.rx_frames,
        before.rx_dropped,
        after.rx_dropped,
        before.irqs,
        after.irqs
    );
    if !found {
        return Err("no ARP reply from 10.0.2.2");
    }
    if !notified {
        return Err("the reply came without a NOTIFY");
    }
    if after.tx_frames < before.tx_frames + u64::from(sent) || after.rx_frames <= before.rx_frames {
        return Err("frame counters did not move");
    }
    if after.irq_mode != IRQ_POLLED && after.irqs <= before.irqs {
        return Err("interrupt-driven, yet no interrupt was taken");
    }
    if after.kicks < before.kicks + 2 {
        return Err("kicks not counted");
    }
    if ring.counter(Counter::TxTail).load(Ordering::Acquire) != sent {
        return Err("tx_tail did not take every queued frame");
    }
    Ok(())
}

/// The NIC's own thread (not a kick) takes a queued frame, collects the answer and
/// notifies: the path every interrupt takes.
fn nic_thread_sends_receives_and_notifies() -> Result<(), &'static str> {
    let port = kernel_port()?;
    let a = attach(0, port.clone(), 0).map_err(|_| "attach failed")?;
    let ring = a.ring();
    let before = info(0).map_err(|_| "net_info failed")?;
    let frame = arp_request(before.mac, GATEWAY_IP);
    ring.write_tx(0, &frame);
    ring.tx_len(0).store(frame.len() as u16, Ordering::Relaxed);
    ring.counter(Counter::TxHead).store(1, Ordering::Release);
    poke(0);
    let deadline = arch::uptime_ns() + REPLY_NS;
    let mut tail = 0u32;
    let mut found = false;
    while !found {
        wait_notify(&port, deadline)?;
        let head = ring.counter(Counter::RxHead).load(Ordering::Acquire);
        while tail != head {
            let slot = tail as usize % RX_SLOTS;
            let len = usize::from(ring.rx_len(slot).load(Ordering::Acquire));
            let mut buf = [0u8; 64];
            let n = len.min(buf.len());
            ring.read_rx(slot, &mut buf[..n]);
            found |= is_arp_reply(&buf[..n], before.mac, GATEWAY_IP);
            tail = tail.wrapping_add(1);
        }
        ring.counter(Counter::RxTail).store(tail, Ordering::Release);
        if !found {
            // Re-arm as a holder would; the next frame must come from the thread again.
            kick(&a);
        }
    }
    let after = info(0).map_err(|_| "net_info failed")?;
    if ring.counter(Counter::TxTail).load(Ordering::Acquire) != 1 {
        return Err("the thread did not take the queued frame");
    }
    if after.tx_frames != before.tx_frames + 1 {
        return Err("tx_frames did not count the frame");
    }
    Ok(())
}

fn nic_second_attach_is_busy() -> Result<(), &'static str> {
    let a = attach(0, kernel_port()?, 0).map_err(|_| "first attach failed")?;
    match attach(0, kernel_port()?, 0) {
        Err(Errno::EBUSY) => {}
        _ => return Err("a second attach was not EBUSY"),
    }
    drop(a);
    let again = attach(0, kernel_port()?, 0).map_err(|_| "attach after release failed")?;
    if again
        .ring()
        .counter(Counter::RxHead)
        .load(Ordering::Relaxed)
        != 0
    {
        return Err("a new attachment's ring is not fresh");
    }
    Ok(())
}

fn nic_past_last_is_enodev() -> Result<(), &'static str> {
    match (attach(count(), kernel_port()?, 0), info(count())) {
        (Err(Errno::ENODEV), Err(Errno::ENODEV)) => Ok(()),
        _ => Err("NIC number past the last was not ENODEV"),
    }
}

fn nic_hostile_ring_values_are_ignored() -> Result<(), &'static str> {
    let a = attach(0, kernel_port()?, 0).map_err(|_| "attach failed")?;
    let ring = a.ring();
    let before = info(0).map_err(|_| "net_info failed")?;
    // tx_head far ahead of tx_tail: ignored (and counted once per kick).
    ring.counter(Counter::TxHead).store(1000, Ordering::Release);
    // rx_tail beyond rx_head: ignored.
    ring.counter(Counter::RxTail)
        .store(0x8000_0000, Ordering::Release);
    kick(&a);
    let mid = info(0).map_err(|_| "net_info failed")?;
    if mid.tx_frames != before.tx_frames || mid.tx_dropped != before.tx_dropped + 1 {
        return Err("a tx_head far ahead was not ignored and counted");
    }
    if ring.counter(Counter::TxTail).load(Ordering::Acquire) != 0 {
        return Err("tx_tail moved for a hostile tx_head");
    }
    // Two frames with bad lengths (0, and past MAX_FRAME), then a good one.
    ring.tx_len(0).store(0, Ordering::Relaxed);
    ring.tx_len(1).store(u16::MAX, Ordering::Relaxed);
    let good = arp_request(before.mac, GATEWAY_IP);
    ring.write_tx(2, &good);
    ring.tx_len(2).store(good.len() as u16, Ordering::Relaxed);
    ring.counter(Counter::TxHead).store(3, Ordering::Release);
    ring.counter(Counter::RxTail).store(0, Ordering::Release);
    kick(&a);
    let after = info(0).map_err(|_| "net_info failed")?;
    if after.tx_dropped != mid.tx_dropped + 2 || after.tx_frames != mid.tx_frames + 1 {
        return Err("bad lengths were not dropped, or the good frame not sent");
    }
    if ring.counter(Counter::TxTail).load(Ordering::Acquire) != 3 {
        return Err("tx_tail did not pass all three frames");
    }
    Ok(())
}
