//! Stopping the CPU and ending the machine.
//!
//! Under test, QEMU runs with `-device isa-debug-exit,iobase=0xf4,iosize=4`: writing `v`
//! there exits QEMU with a status xtask decodes (values in `wayos_abi::harness`).
//! Without that device the write is ignored and the ACPI PM block of QEMU's q35 chipset
//! powers off instead.

use super::port::{outb, outw};

use wayos_abi::harness::{EXIT_FAILURE, EXIT_SUCCESS, X86_DEBUG_EXIT_PORT};

/// ICH9 PM1a control (PMBASE 0x600 + 4) and SLP_EN with sleep type S5 on QEMU q35.
const Q35_PM1A_CNT: u16 = 0x604;
const Q35_S5: u16 = 0x2000;

pub fn halt_forever() -> ! {
    loop {
        // SAFETY: masking interrupts and halting only stops this CPU.
        unsafe { core::arch::asm!("cli; hlt", options(nomem, nostack)) };
    }
}

pub fn power_off(success: bool) -> ! {
    // SAFETY: port 0xf4 is QEMU's debug-exit device or unassigned (writes ignored), and
    // 0x604 is the q35 PM1a control register; neither write touches memory.
    unsafe {
        outb(
            X86_DEBUG_EXIT_PORT,
            if success { EXIT_SUCCESS } else { EXIT_FAILURE },
        );
        outw(Q35_PM1A_CNT, Q35_S5);
    }
    halt_forever()
}
