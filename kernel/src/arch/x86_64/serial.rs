//! COM1 (the 16550 UART at port 0x3f8) as the boot console, through `uart_16550`.
//!
//! Input arrives through the receive-data interrupt (routed by `ioapic`, handled in `trap`)
//! and is also polled by the boot CPU's timer tick (`console::input`) as a fallback, e.g.
//! when the interrupt found the port lock taken by a writer.

use spin::Mutex;
use uart_16550::backend::PioBackend;
use uart_16550::{Config, Uart16550};

const COM1: u16 = 0x3f8;

static PORT: Mutex<Option<Uart16550<PioBackend>>> = Mutex::new(None);

/// Programs COM1 (115200 8N1, FIFOs on). Output before this is dropped.
pub fn init() {
    // SAFETY: COM1's eight registers at 0x3f8 belong to the UART on every PC platform
    // QEMU emulates, and nothing else in the kernel drives them.
    let Ok(mut uart) = (unsafe { Uart16550::new_port(COM1) }) else {
        return;
    };
    if uart.init(Config::default()).is_ok() {
        *PORT.lock() = Some(uart);
    }
}

/// Enables the receive-data-available interrupt (IER bit 0); the UART's OUT2 gate is
/// already open (`uart_16550` sets it at init).
pub fn enable_rx_interrupt() {
    if let Some(uart) = PORT.lock().as_mut() {
        uart.enable_interrupts(uart_16550::spec::registers::IER::DATA_READY);
    }
}

/// A received byte, if one is waiting. `None` too while another context is writing (the
/// timer tick polls; it must never spin on the port lock it interrupted).
pub fn serial_read() -> Option<u8> {
    PORT.try_lock()?.as_mut()?.try_receive_byte().ok()
}

/// Sends bytes, polling the transmitter.
pub fn serial_write(bytes: &[u8]) {
    if let Some(uart) = PORT.lock().as_mut() {
        uart.send_bytes_exact(bytes);
    }
}
