//! `net_attach` and the `netraw` capability: refused without it; with it, the NIC is
//! lent (its ring maps read-write, `net_info` names the holder, a second attach is
//! `EBUSY`, an ARP request put in the ring from user space gets QEMU's gateway's reply
//! and a `NOTIFY`, and closing the handle frees the NIC) — or, when `netd` already holds
//! it, the attach is `EBUSY` and `net_info` names that holder.

use core::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use core::time::Duration;

use libway::abi::errno::{EBUSY, EINVAL, EIO};
use libway::abi::ipc::{Message, FROM_KERNEL};
use libway::abi::mman::{PROT_READ, PROT_WRITE};
use libway::abi::net::{
    NicInfo, NOTIFY, RING_BYTES, RX_DATA, RX_HEAD, RX_LEN, RX_SLOTS, RX_TAIL, SLOT_BYTES, TX_DATA,
    TX_HEAD, TX_LEN,
};
use libway::abi::sys;
use libway::ipc::{Port, Timeout};
use libway::process;
use libway::sys::{arg_out, call};
use libway::Errno;

/// QEMU user network: the guest and the gateway.
const GUEST_IP: [u8; 4] = libway::abi::usernet::GUEST;
const GATEWAY_IP: [u8; 4] = libway::abi::usernet::GATEWAY;

fn nic_info(nic: usize) -> Result<NicInfo, Errno> {
    let mut info = NicInfo::default();
    // SAFETY: the kernel writes one `NicInfo` into `info`, borrowed for the call.
    unsafe { call(sys::NET_INFO, [nic, arg_out(&mut info), 0, 0, 0, 0]) }?;
    Ok(info)
}

fn attach(port: &Port) -> Result<usize, Errno> {
    let mut info = NicInfo::default();
    // SAFETY: as in `nic_info`; the kernel reads nothing else of ours.
    unsafe {
        call(
            sys::NET_ATTACH,
            [0, port.raw() as usize, arg_out(&mut info), 0, 0, 0],
        )
    }
}

fn kick(h: usize) -> Result<(), Errno> {
    // SAFETY: the kernel writes only the ring, shared memory this process reads with
    // atomics and raw copies, never through a Rust reference to plain data.
    unsafe { call(sys::NET_KICK, [h, 0, 0, 0, 0, 0]) }.map(drop)
}

/// The one operation of the capability checks: attach NIC 0 and, when that works,
/// exercise the ring. `EBUSY` is returned as is (someone else holds the NIC).
pub fn attach_and_use() -> Result<(), Errno> {
    let port = Port::create(8)?;
    let h = attach(&port)?;
    let bad = Errno(EINVAL);
    let me = process::getpid()? as u32;
    if nic_info(0)?.holder != me {
        return Err(bad);
    }
    if attach(&port) != Err(Errno(EBUSY)) {
        return Err(bad);
    }
    let mut size = 0u64;
    // SAFETY: the kernel maps the ring at an address it picks (nothing of ours changes)
    // and writes one `u64` into `size`, borrowed for the call.
    let base = unsafe {
        call(
            sys::MEM_MAP,
            [h, PROT_READ | PROT_WRITE, arg_out(&mut size), 0, 0, 0],
        )
    }?;
    if (size as usize) < RING_BYTES {
        return Err(bad);
    }
    let ring = UserRing { base };
    arp_round_trip(&ring, &port, h, nic_info(0)?.mac)?;
    libway::sys::call1(libway::sys::MemFree::HANDLE_CLOSE, h)?;
    if nic_info(0)?.holder != 0 {
        return Err(Errno(EIO));
    }
    Ok(())
}

/// The mapped ring, as a holder sees it.
struct UserRing {
    base: usize,
}

impl UserRing {
    fn u32_at(&self, off: usize) -> &AtomicU32 {
        // SAFETY: `off` is a 4-aligned counter offset inside the mapped header page,
        // which stays mapped for the life of this process; shared with the kernel, so
        // only ever reached atomically.
        unsafe { &*((self.base + off) as *const AtomicU32) }
    }

    fn u16_at(&self, off: usize) -> &AtomicU16 {
        // SAFETY: as in `u32_at`, for a 2-aligned length entry.
        unsafe { &*((self.base + off) as *const AtomicU16) }
    }

    fn bytes(&self, off: usize, len: usize) -> *mut u8 {
        assert!(off + len <= RING_BYTES);
        (self.base + off) as *mut u8
    }
}

/// Sends an ARP request for the gateway through the ring and waits (2 s) for its reply.
fn arp_round_trip(r: &UserRing, port: &Port, h: usize, mac: [u8; 6]) -> Result<(), Errno> {
    let f = libway::abi::net::arp_request(mac, GUEST_IP, GATEWAY_IP);
    // SAFETY: tx slot 0 lies inside the mapping; nothing else writes it now.
    unsafe { core::ptr::copy_nonoverlapping(f.as_ptr(), r.bytes(TX_DATA, f.len()), f.len()) };
    r.u16_at(TX_LEN).store(f.len() as u16, Ordering::Relaxed);
    r.u32_at(TX_HEAD).store(1, Ordering::Release);
    kick(h)?;
    let mut tail = 0u32;
    for _ in 0..20 {
        let mut m = Message::new(0);
        match port.recv(&mut m, Timeout::After(Duration::from_millis(100))) {
            Ok(()) if m.label != NOTIFY || m.reply != FROM_KERNEL => return Err(Errno(EINVAL)),
            _ => {}
        }
        let head = r.u32_at(RX_HEAD).load(Ordering::Acquire);
        while tail != head {
            let slot = tail as usize % RX_SLOTS;
            let len = usize::from(r.u16_at(RX_LEN + 2 * slot).load(Ordering::Acquire));
            let mut b = [0u8; 42];
            let n = len.min(b.len()).min(SLOT_BYTES);
            // SAFETY: rx slot `slot` lies inside the mapping; the kernel does not write
            // it until `rx_tail` passes it.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    r.bytes(RX_DATA + slot * SLOT_BYTES, n),
                    b.as_mut_ptr(),
                    n,
                )
            };
            tail = tail.wrapping_add(1);
            if n == 42
                && b[12..14] == [0x08, 0x06]
                && b[20..22] == [0, 2]
                && b[28..32] == GATEWAY_IP
            {
                r.u32_at(RX_TAIL).store(tail, Ordering::Release);
                return Ok(());
            }
        }
        r.u32_at(RX_TAIL).store(tail, Ordering::Release);
        kick(h)?;
    }
    Err(Errno(libway::abi::errno::ETIMEDOUT))
}

/// With the NIC held by someone else (netd): `net_info` names a holder.
pub fn held_elsewhere() -> bool {
    nic_info(0).is_ok_and(|i| i.holder != 0)
}
