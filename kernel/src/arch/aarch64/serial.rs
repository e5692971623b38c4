//! The boot serial port: a PL011 reached through the direct map, driven by the `pl011`
//! crate, which alone names its registers; this module owns where the UART is and the
//! receive-interrupt policy (when to mask, when to unmask).
//!
//! Until the device tree is read the port is assumed at QEMU `virt`'s 0x0900_0000 (in the
//! first GiB, which the boot page tables map as Device memory); `switch_to` moves to the
//! address the device tree gives. This module owns the UART's base address and must never
//! block on anything but the transmit FIFO: the panic path writes through it.
//!
//! Input is interrupt-driven once `init_late` ran [`enable_rx_interrupt`]: the PL011's
//! receive (RXIM) and receive-timeout (RTIM) interrupts, an SPI routed by `gic.rs` to the
//! boot CPU, whose handler calls [`rx_interrupt_ack`], `crate::traps::serial_irq()` (which
//! drains [`serial_read`] into the console ring) and [`rx_interrupt_done`]. The boot CPU's
//! tick keeps polling [`serial_read`] as a fallback.
//!
//! Why no lock and no storm: [`serial_read`] takes no lock (it only touches the flag and
//! data registers, which a concurrent transmit does not use), so the interrupt can always
//! read the FIFO; the readers (`console::input::poll`, from the handler and the tick) are
//! serialized by the console ring's IRQ-masking lock, which the handler, running on the boot
//! CPU with IRQs masked, can never have interrupted. The one way the handler can leave bytes
//! behind is the console ring being full (or `poll`'s per-call cap), which would keep the
//! level-sensitive line asserted forever; so [`rx_interrupt_done`] masks the UART's receive
//! interrupts when the FIFO is still not empty, and the next [`serial_read`] that finds the
//! FIFO empty (the tick's poll once the ring has room) unmasks them.

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use pl011::Pl011;
use wayos_kcore::paging::PhysAddr;

use super::mmu;

/// Physical address of the PL011 on QEMU `virt`, used before the device tree is parsed.
pub const EARLY_UART_PHYS: u64 = 0x0900_0000;

/// Direct-map virtual address of the PL011 in use.
static BASE: AtomicUsize = AtomicUsize::new(0);
/// Its physical address.
static PHYS: AtomicU64 = AtomicU64::new(EARLY_UART_PHYS);

/// Set by [`enable_rx_interrupt`]: the receive interrupts are in use.
static RX_IRQ: AtomicBool = AtomicBool::new(false);
/// Set while [`rx_interrupt_done`] has them masked because the FIFO could not be drained.
static RX_MASKED: AtomicBool = AtomicBool::new(false);
/// How often that happened (logged the first time).
static RX_MASKINGS: AtomicU64 = AtomicU64::new(0);

/// The direct-map address of the registers at `phys`.
fn direct_map(phys: u64) -> usize {
    crate::mm::direct::to_virt(PhysAddr::new(phys)).as_u64() as usize
}

fn base() -> usize {
    let base = BASE.load(Ordering::Relaxed);
    if base == 0 {
        direct_map(EARLY_UART_PHYS)
    } else {
        base
    }
}

fn uart() -> Pl011 {
    let base = base();
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

/// Moves the console to the PL011 at physical `phys` (from the device tree). Before
/// [`enable_rx_interrupt`]: `init` masks the UART's interrupts.
pub fn switch_to(phys: u64) {
    if phys == EARLY_UART_PHYS && BASE.load(Ordering::Relaxed) == 0 {
        return;
    }
    if phys.saturating_add(pl011::REGISTER_BLOCK_SIZE as u64) > mmu::DIRECT_MAP_SIZE {
        log::warn!("PL011 at {phys:#x} is outside the direct map; keeping the early UART");
        return;
    }
    uart().flush();
    BASE.store(direct_map(phys), Ordering::Relaxed);
    PHYS.store(phys, Ordering::Relaxed);
    uart().init();
    log::info!("serial: PL011 at {phys:#x}");
}

/// Whether the console PL011 is the one at physical `phys` (the device tree's, whose
/// interrupt may then be used).
pub fn is_at(phys: u64) -> bool {
    PHYS.load(Ordering::Relaxed) == phys
}

/// Polled output of raw bytes (the console adds the `\r` before each `\n`).
pub fn serial_write(bytes: &[u8]) {
    uart().write_bytes(bytes);
}

/// A byte from the serial port, if one has arrived. Reading the data register does not
/// disturb a transmit in progress, so no lock is needed (and the receive interrupt never
/// waits for one). Finding the FIFO empty re-enables receive interrupts that
/// [`rx_interrupt_done`] masked.
pub fn serial_read() -> Option<u8> {
    let byte = uart().try_read_byte();
    if byte.is_none()
        && RX_MASKED.load(Ordering::Relaxed)
        && RX_MASKED.swap(false, Ordering::AcqRel)
    {
        // Not cleared in ICR first: a byte that arrived since the FIFO read as empty keeps
        // its raised status and interrupts as soon as it is unmasked.
        uart().unmask_rx_interrupts();
    }
    byte
}

/// Unmasks the receive and receive-timeout interrupts (after clearing stale ones). Boot
/// CPU, after [`switch_to`], once the GIC routes the UART's SPI to this CPU.
pub fn enable_rx_interrupt() {
    RX_MASKED.store(false, Ordering::Relaxed);
    RX_IRQ.store(true, Ordering::Relaxed);
    uart().enable_rx_interrupts();
}

/// First step of the receive interrupt's handler: clears RXIC/RTIC before the FIFO is
/// drained, so a byte arriving during the drain is either read by it or raises the
/// interrupt again (never cleared unread).
pub fn rx_interrupt_ack() {
    uart().ack_rx_interrupts();
}

/// Last step of the receive interrupt's handler, after draining and before the EOI: if the
/// FIFO still holds bytes (the console ring was full), masks the receive interrupts so the
/// level-sensitive line cannot fire again and again; the tick's poll reads the rest and the
/// next [`serial_read`] that finds the FIFO empty unmasks them.
pub fn rx_interrupt_done() {
    if !RX_IRQ.load(Ordering::Relaxed) || uart().rx_fifo_empty() {
        return;
    }
    // Mask first, then record it: whoever sees the flag and unmasks does so after this
    // write. (Every caller runs on the boot CPU with IRQs masked anyway.)
    uart().mask_interrupts();
    RX_MASKED.store(true, Ordering::Release);
    if RX_MASKINGS.fetch_add(1, Ordering::Relaxed) == 0 {
        log::debug!("serial: receive FIFO not drained by the interrupt; masked until polled empty");
    }
}
