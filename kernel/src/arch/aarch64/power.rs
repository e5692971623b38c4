//! Stopping the CPU and the machine: `halt_forever` (WFI with interrupts masked) and
//! `power_off` through PSCI SYSTEM_OFF, using the conduit (HVC or SMC) the device tree names.
//!
//! PSCI gives QEMU no exit status, so `power_off` cannot report pass or fail: the harness
//! judges a run by its serial lines. This module must never print: the callers have already
//! said everything.

use super::dtb::{self, PsciConduit};

/// PSCI 0.2+ function ID of SYSTEM_OFF (SMC32 calling convention).
const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;

/// Stops this CPU for good: all exceptions masked, waiting for an interrupt that never comes.
pub fn halt_forever() -> ! {
    // SAFETY: masking exceptions only affects this CPU, which is stopping.
    unsafe { core::arch::asm!("msr daifset, #0xf", options(nomem, nostack)) };
    loop {
        aarch64_cpu::asm::wfi();
    }
}

/// Powers the machine off through PSCI. `_success` cannot be passed on (see the module
/// doc). Without PSCI 0.2+ in the device tree, or if the call returns, the CPU halts.
pub fn power_off(_success: bool) -> ! {
    if let Some(psci) = dtb::platform().and_then(|p| p.psci) {
        if psci.system_off {
            // SAFETY: SYSTEM_OFF does not return on success; on failure it returns an error
            // code in x0 and, per the SMC calling convention, may clobber x0-x17, which are
            // declared clobbered. The firmware touches no kernel memory.
            unsafe {
                match psci.conduit {
                    PsciConduit::Hvc => core::arch::asm!(
                        "hvc #0",
                        inout("x0") PSCI_SYSTEM_OFF => _,
                        clobber_abi("C"),
                        options(nostack)
                    ),
                    PsciConduit::Smc => core::arch::asm!(
                        "smc #0",
                        inout("x0") PSCI_SYSTEM_OFF => _,
                        clobber_abi("C"),
                        options(nostack)
                    ),
                }
            }
        }
    }
    halt_forever()
}
