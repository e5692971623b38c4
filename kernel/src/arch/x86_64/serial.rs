//! COM1 (the 16550 UART at port 0x3f8) as the boot console, through `uart_16550`.
//!
//! Input is polled by the timer tick (`console::input`); the serial interrupt needs the
//! I/O APIC (SMP issue).

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
