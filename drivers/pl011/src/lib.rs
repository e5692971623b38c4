//! A small polled driver for the ARM PrimeCell PL011 UART (the serial port of QEMU's `virt`
//! machine and of most Arm boards).
//!
//! It owns one thing: the register block at the base address it is given, and it is the only
//! place that names the PL011's registers. It transmits and receives bytes by polling the
//! flag register; receive interrupts are enabled, acknowledged and masked only when the
//! caller asks ([`Pl011::enable_rx_interrupts`] and friends), so a caller that never asks
//! gets a purely polled UART. It never uses DMA and never allocates, so it can be used from
//! any context, including a panic handler.
//! Baud rate programming is left alone: QEMU ignores it and real firmware has already set it.
//!
//! Every register access goes through [`Pl011::read`] and [`Pl011::write`], the only volatile
//! MMIO in the crate. The rest is plain logic, which the host unit tests exercise against a
//! register block in ordinary memory.
#![no_std]

/// Register offsets in bytes from the base (PL011 TRM, table 3-1).
mod reg {
    /// Data register: write to transmit, read to receive (bits 7:0) plus error bits.
    pub const DR: usize = 0x000;
    /// Receive status / error clear.
    pub const RSR_ECR: usize = 0x004;
    /// Flag register.
    pub const FR: usize = 0x018;
    /// Line control.
    pub const LCR_H: usize = 0x02c;
    /// Control.
    pub const CR: usize = 0x030;
    /// Interrupt FIFO level select.
    pub const IFLS: usize = 0x034;
    /// Interrupt mask set/clear.
    pub const IMSC: usize = 0x038;
    /// Interrupt clear.
    pub const ICR: usize = 0x044;
}

/// Flag register bits.
mod fr {
    /// The UART is busy transmitting.
    pub const BUSY: u32 = 1 << 3;
    /// Receive FIFO empty.
    pub const RXFE: u32 = 1 << 4;
    /// Transmit FIFO full.
    pub const TXFF: u32 = 1 << 5;
}

/// Line control bits.
mod lcr {
    /// FIFOs enabled.
    pub const FEN: u32 = 1 << 4;
    /// 8-bit words (WLEN = 0b11); no parity and one stop bit are the zero values.
    pub const WLEN_8: u32 = 0b11 << 5;
}

/// Control register bits.
mod cr {
    pub const UARTEN: u32 = 1 << 0;
    pub const TXE: u32 = 1 << 8;
    pub const RXE: u32 = 1 << 9;
}

/// Interrupt bits, as laid out in IMSC (mask set/clear), RIS/MIS and ICR (clear).
mod int {
    /// Receive: the receive FIFO reached its trigger level.
    pub const RX: u32 = 1 << 4;
    /// Receive timeout: the FIFO holds bytes and the line went idle.
    pub const RT: u32 = 1 << 6;
    /// Every interrupt source (bits 10:0), for clearing all of them.
    pub const ALL: u32 = 0x7ff;
}

/// The two receive interrupts [`Pl011::enable_rx_interrupts`] turns on: together they
/// fire for every byte that arrives, whether or not the FIFO fills to its trigger level.
pub const RX_INTERRUPTS: u32 = int::RX | int::RT;

/// The size of the register block in bytes (one 4 KiB page on every implementation).
pub const REGISTER_BLOCK_SIZE: usize = 0x1000;

/// Line control value written by [`Pl011::init`]: 8 data bits, no parity, one stop bit,
/// FIFOs on.
pub const LINE_8N1_FIFO: u32 = lcr::WLEN_8 | lcr::FEN;
/// Control value written by [`Pl011::init`]: UART, transmitter and receiver on.
pub const CONTROL_ENABLED: u32 = cr::UARTEN | cr::TXE | cr::RXE;

/// Receive errors reported in the data register's bits 11:8 (overrun, break, parity,
/// framing).
const DR_ERRORS: u32 = 0xf00;

/// A PL011 at a fixed address, driven by polling.
///
/// The handle is a plain pointer, so it is cheap to create on every use; it does no locking
/// and callers serialize access.
#[derive(Debug)]
pub struct Pl011 {
    base: *mut u8,
}

// SAFETY: the handle is only an address; the creator of the handle promised (see `new`)
// that the register block is valid from any CPU, and callers serialize their use.
unsafe impl Send for Pl011 {}

impl Pl011 {
    /// Wraps the register block at `base`.
    ///
    /// # Safety
    ///
    /// `base` must point at a PL011 register block (or, in tests, at [`REGISTER_BLOCK_SIZE`]
    /// bytes of 4-byte aligned memory) that stays mapped, with device memory attributes for
    /// real hardware, for as long as the handle is used, and nothing else may access those
    /// registers concurrently.
    pub const unsafe fn new(base: *mut u8) -> Self {
        Self { base }
    }

    /// The base address this handle drives.
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    fn read(&self, offset: usize) -> u32 {
        debug_assert!(offset < REGISTER_BLOCK_SIZE && offset.is_multiple_of(4));
        // SAFETY: `new`'s contract makes `base..base+REGISTER_BLOCK_SIZE` a mapped, 4-byte
        // aligned register block; `offset` is one of the register offsets above, inside it.
        unsafe { self.base.add(offset).cast::<u32>().read_volatile() }
    }

    fn write(&self, offset: usize, value: u32) {
        debug_assert!(offset < REGISTER_BLOCK_SIZE && offset.is_multiple_of(4));
        // SAFETY: as in `read`; a 32-bit store is the access size the PL011 requires.
        unsafe { self.base.add(offset).cast::<u32>().write_volatile(value) }
    }

    /// Puts the UART into a known state: 8N1 with FIFOs, transmitter and receiver enabled,
    /// all interrupts masked and cleared. The baud rate is left as the firmware set it.
    ///
    /// Follows the TRM's order: disable, let the last character leave, flush the transmit
    /// FIFO by clearing FEN, program, enable.
    pub fn init(&mut self) {
        self.write(reg::CR, 0);
        while self.read(reg::FR) & fr::BUSY != 0 {
            core::hint::spin_loop();
        }
        self.write(reg::LCR_H, 0);
        self.write(reg::IMSC, 0);
        self.write(reg::ICR, int::ALL);
        self.write(reg::RSR_ECR, 0);
        self.write(reg::IFLS, 0);
        self.write(reg::LCR_H, LINE_8N1_FIFO);
        self.write(reg::CR, CONTROL_ENABLED);
    }

    /// Whether the receive FIFO is empty.
    pub fn rx_fifo_empty(&self) -> bool {
        self.read(reg::FR) & fr::RXFE != 0
    }

    /// Clears pending receive interrupts, then unmasks them.
    pub fn enable_rx_interrupts(&mut self) {
        self.write(reg::ICR, RX_INTERRUPTS);
        self.write(reg::IMSC, RX_INTERRUPTS);
    }

    /// Unmasks the receive interrupts without clearing them first: a byte that arrived
    /// while they were masked keeps its raised status and interrupts at once.
    pub fn unmask_rx_interrupts(&mut self) {
        self.write(reg::IMSC, RX_INTERRUPTS);
    }

    /// Masks every interrupt (the only ones this driver ever unmasks are the receive ones).
    pub fn mask_interrupts(&mut self) {
        self.write(reg::IMSC, 0);
    }

    /// Clears the receive interrupts' raised status (write-1-to-clear), as a handler does
    /// before draining the FIFO.
    pub fn ack_rx_interrupts(&mut self) {
        self.write(reg::ICR, RX_INTERRUPTS);
    }

    /// Transmits `byte` if the transmit FIFO has room; returns whether it was queued.
    pub fn try_write_byte(&mut self, byte: u8) -> bool {
        if self.read(reg::FR) & fr::TXFF != 0 {
            return false;
        }
        self.write(reg::DR, u32::from(byte));
        true
    }

    /// Transmits `byte`, waiting while the transmit FIFO is full.
    pub fn write_byte(&mut self, byte: u8) {
        while !self.try_write_byte(byte) {
            core::hint::spin_loop();
        }
    }

    /// Transmits every byte of `bytes` as is (no newline translation).
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_byte(b);
        }
    }

    /// Returns a received byte, or `None` if the receive FIFO is empty. A byte received with
    /// an error (overrun, break, parity, framing) is dropped and its error cleared.
    pub fn try_read_byte(&mut self) -> Option<u8> {
        loop {
            if self.read(reg::FR) & fr::RXFE != 0 {
                return None;
            }
            let data = self.read(reg::DR);
            if data & DR_ERRORS == 0 {
                return Some(data as u8);
            }
            self.write(reg::RSR_ECR, 0);
        }
    }

    /// Waits until every queued byte has left the transmitter.
    pub fn flush(&mut self) {
        while self.read(reg::FR) & fr::BUSY != 0 {
            core::hint::spin_loop();
        }
    }
}

impl core::fmt::Write for Pl011 {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::boxed::Box;

    /// A register block in ordinary memory standing in for the device.
    #[repr(C, align(4096))]
    struct Fake([u32; REGISTER_BLOCK_SIZE / 4]);

    impl Fake {
        fn new() -> Box<Self> {
            Box::new(Fake([0; REGISTER_BLOCK_SIZE / 4]))
        }
        fn get(&self, offset: usize) -> u32 {
            // Reading through a raw pointer keeps the compiler from assuming the value did
            // not change behind the driver's volatile writes.
            // SAFETY: `offset` is an in-bounds, aligned register offset of the array.
            unsafe {
                core::ptr::addr_of!(self.0)
                    .cast::<u32>()
                    .add(offset / 4)
                    .read_volatile()
            }
        }
        fn set(&mut self, offset: usize, value: u32) {
            self.0[offset / 4] = value;
        }
        fn uart(&mut self) -> Pl011 {
            // SAFETY: the fake block is REGISTER_BLOCK_SIZE bytes, aligned, and outlives the
            // handle within each test.
            unsafe { Pl011::new(self.0.as_mut_ptr().cast()) }
        }
    }

    #[test]
    fn init_programs_8n1_fifo_and_enables() {
        let mut fake = Fake::new();
        fake.set(reg::IMSC, 0x7ff);
        fake.set(reg::LCR_H, 0xff);
        fake.uart().init();
        assert_eq!(fake.get(reg::LCR_H), LINE_8N1_FIFO);
        assert_eq!(fake.get(reg::CR), cr::UARTEN | cr::TXE | cr::RXE);
        assert_eq!(fake.get(reg::IMSC), 0, "interrupts masked");
        assert_eq!(fake.get(reg::ICR), 0x7ff, "pending interrupts cleared");
    }

    #[test]
    fn write_goes_to_data_register_when_fifo_has_room() {
        let mut fake = Fake::new();
        let mut uart = fake.uart();
        uart.write_byte(b'A');
        assert_eq!(fake.get(reg::DR), u32::from(b'A'));
    }

    #[test]
    fn try_write_refuses_when_fifo_full() {
        let mut fake = Fake::new();
        fake.set(reg::FR, fr::TXFF);
        fake.set(reg::DR, 0x55);
        assert!(!fake.uart().try_write_byte(b'x'));
        assert_eq!(fake.get(reg::DR), 0x55, "data register untouched");
        fake.set(reg::FR, 0);
        assert!(fake.uart().try_write_byte(b'x'));
        assert_eq!(fake.get(reg::DR), u32::from(b'x'));
    }

    #[test]
    fn fmt_write_sends_every_byte() {
        use core::fmt::Write;
        let mut fake = Fake::new();
        write!(fake.uart(), "hi").unwrap();
        // The fake keeps only the last byte written.
        assert_eq!(fake.get(reg::DR), u32::from(b'i'));
    }

    #[test]
    fn read_reports_empty_fifo() {
        let mut fake = Fake::new();
        fake.set(reg::FR, fr::RXFE);
        fake.set(reg::DR, u32::from(b'q'));
        assert_eq!(fake.uart().try_read_byte(), None);
    }

    #[test]
    fn read_returns_received_byte() {
        let mut fake = Fake::new();
        fake.set(reg::DR, u32::from(b'q'));
        assert_eq!(fake.uart().try_read_byte(), Some(b'q'));
    }

    #[test]
    fn rx_interrupts_clear_then_unmask_and_mask_again() {
        let mut regs = Fake::new();
        let mut u = regs.uart();
        u.enable_rx_interrupts();
        assert_eq!(regs.get(reg::ICR), (1 << 4) | (1 << 6));
        assert_eq!(regs.get(reg::IMSC), (1 << 4) | (1 << 6));
        regs.set(reg::ICR, 0);
        let mut u = regs.uart();
        u.mask_interrupts();
        assert_eq!(regs.get(reg::IMSC), 0);
        u.unmask_rx_interrupts();
        assert_eq!(regs.get(reg::IMSC), (1 << 4) | (1 << 6));
        // Unmasking alone must not clear: a byte that arrived while masked still interrupts.
        assert_eq!(regs.get(reg::ICR), 0);
        u.ack_rx_interrupts();
        assert_eq!(regs.get(reg::ICR), (1 << 4) | (1 << 6));
    }

    #[test]
    fn rx_fifo_empty_follows_the_flag_register() {
        let mut regs = Fake::new();
        regs.set(reg::FR, fr::RXFE);
        assert!(regs.uart().rx_fifo_empty());
        regs.set(reg::FR, 0);
        assert!(!regs.uart().rx_fifo_empty());
    }

    #[test]
    fn new_keeps_base() {
        let mut fake = Fake::new();
        let base = fake.0.as_mut_ptr().cast::<u8>();
        assert_eq!(fake.uart().base(), base);
    }
}
