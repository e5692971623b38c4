//! The boot serial port: a PL011 reached through the direct map, driven by the `pl011`
//! crate.
//!
//! Until the device tree is read the port is assumed at QEMU `virt`'s 0x0900_0000 (in the
//! first GiB, which the boot page tables map as Device memory); `switch_to` moves to the
//! address the device tree gives. This module owns the UART's base address and must never
//! block on anything but the transmit FIFO: the panic path writes through it.

use core::sync::atomic::{AtomicUsize, Ordering};

use pl011::Pl011;

use super::mmu;

/// Physical address of the PL011 on QEMU `virt`, used before the device tree is parsed.
pub const EARLY_UART_PHYS: u64 = 0x0900_0000;

/// Direct-map virtual address of the PL011 in use.
static BASE: AtomicUsize = AtomicUsize::new(0);

fn uart() -> Pl011 {
    let mut base = BASE.load(Ordering::Relaxed);
    if base == 0 {
        base = mmu::phys_to_virt(EARLY_UART_PHYS);
    }
    // SAFETY: `base` is the direct-map address of a PL011 register block: QEMU virt's
    // before the device tree is read, the device tree's after; the direct map covers it
    // for the life of the kernel with Device attributes (it holds no RAM). Callers of
    // `serial_write` serialize (console lock, or the lock-free panic path by design).
    unsafe { Pl011::new(base as *mut u8) }
}

/// Puts the early UART into a known state (8N1, FIFOs, TX and RX on).
pub fn init_early() {
    uart().init();
}

/// Moves the console to the PL011 at physical `phys` (from the device tree).
pub fn switch_to(phys: u64) {
    if phys == EARLY_UART_PHYS && BASE.load(Ordering::Relaxed) == 0 {
        return;
    }
    if phys.saturating_add(pl011::REGISTER_BLOCK_SIZE as u64) > mmu::DIRECT_MAP_SIZE {
        log::warn!("PL011 at {phys:#x} is outside the direct map; keeping the early UART");
        return;
    }
    uart().flush();
    BASE.store(mmu::phys_to_virt(phys), Ordering::Relaxed);
    uart().init();
    log::info!("serial: PL011 at {phys:#x}");
}

/// Polled output of raw bytes (the console adds the `\r` before each `\n`).
pub fn serial_write(bytes: &[u8]) {
    uart().write_bytes(bytes);
}

/// A byte from the serial port, if one has arrived. Reading the data register does not
/// disturb a transmit in progress, so no lock is needed.
pub fn serial_read() -> Option<u8> {
    uart().try_read_byte()
}
