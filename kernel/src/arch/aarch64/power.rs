//! PSCI and stopping: `halt_forever` (WFI with interrupts masked), `power_off` through PSCI
//! SYSTEM_OFF and [`cpu_on`] (PSCI CPU_ON, for `smp.rs`), using the conduit (HVC or SMC)
//! the device tree names.
//!
//! PSCI gives QEMU no exit status, so `power_off` cannot report pass or fail: the harness
//! judges a run by its serial lines. This module must never print: the callers have already
//! said everything (and [`cpu_on`]'s caller logs its error codes).

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

/// PSCI 0.2+ function ID of CPU_ON (SMC64 calling convention).
const PSCI_CPU_ON_64: u64 = 0xc400_0003;

/// Makes a PSCI call with up to three arguments through the device tree's conduit and
/// returns x0 (a PSCI status for most functions; negative on error).
fn psci_call(conduit: PsciConduit, function: u64, a1: u64, a2: u64, a3: u64) -> i64 {
    let ret: u64;
    // SAFETY: a PSCI call per the SMC calling convention: x0-x3 carry the arguments, x0
    // the result, and the firmware may clobber x0-x17, which are declared clobbered. PSCI
    // touches no kernel memory; the functions used here (CPU_ON, SYSTEM_OFF) change no
    // state of the calling CPU.
    unsafe {
        match conduit {
            PsciConduit::Hvc => core::arch::asm!(
                "hvc #0",
                inout("x0") function => ret,
                inout("x1") a1 => _,
                inout("x2") a2 => _,
                inout("x3") a3 => _,
                clobber_abi("C"),
                options(nostack)
            ),
            PsciConduit::Smc => core::arch::asm!(
                "smc #0",
                inout("x0") function => ret,
                inout("x1") a1 => _,
                inout("x2") a2 => _,
                inout("x3") a3 => _,
                clobber_abi("C"),
                options(nostack)
            ),
        }
    }
    ret as i64
}

/// A PSCI status code's name.
pub fn psci_error_name(code: i64) -> &'static str {
    match code {
        0 => "SUCCESS",
        -1 => "NOT_SUPPORTED",
        -2 => "INVALID_PARAMETERS",
        -3 => "DENIED",
        -4 => "ALREADY_ON",
        -5 => "ON_PENDING",
        -6 => "INTERNAL_FAILURE",
        -7 => "NOT_PRESENT",
        -8 => "DISABLED",
        -9 => "INVALID_ADDRESS",
        _ => "unknown PSCI status",
    }
}

/// Starts the CPU whose MPIDR affinity is `mpidr` at physical address `entry`, MMU off,
/// with x0 = `context_id`. `Err` holds the PSCI status (or -1 NOT_SUPPORTED without
/// PSCI 0.2+ in the device tree).
pub fn cpu_on(mpidr: u64, entry: u64, context_id: u64) -> Result<(), i64> {
    let Some(psci) = dtb::platform()
        .and_then(|p| p.psci)
        .filter(|p| p.system_off)
    else {
        return Err(-1);
    };
    match psci_call(psci.conduit, PSCI_CPU_ON_64, mpidr, entry, context_id) {
        0 => Ok(()),
        e => Err(e),
    }
}

/// Powers the machine off through PSCI. `_success` cannot be passed on (see the module
/// doc). Without PSCI 0.2+ in the device tree, or if the call returns, the CPU halts.
pub fn power_off(_success: bool) -> ! {
    if let Some(psci) = dtb::platform().and_then(|p| p.psci) {
        if psci.system_off {
            psci_call(psci.conduit, PSCI_SYSTEM_OFF, 0, 0, 0);
        }
    }
    halt_forever()
}
