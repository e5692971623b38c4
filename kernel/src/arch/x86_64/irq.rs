//! Device interrupts for drivers: IDT vectors handed out from [`VEC_DEVICE_BASE`] up,
//! each either an MSI/MSI-X message ([`msi_alloc`]) or an I/O APIC line ([`enable_line`]),
//! and the dispatch from the trap handler ([`dispatch`]).
//!
//! Every device interrupt goes to the boot CPU (the APIC id read at allocation), fixed
//! delivery, physical destination. A vector is given out once and never taken back:
//! drivers live as long as the kernel. The handler runs with interrupts off after the
//! LAPIC EOI; for a level-triggered I/O APIC line the entry is masked first and stays
//! masked until the driver calls [`unmask_line`] (having quietened its device), so a
//! line the handler cannot clear at once does not storm. Nothing here allocates or
//! blocks: the tables are fixed arrays of `Once` and atomics.

use core::sync::atomic::{AtomicU32, Ordering};

use spin::Once;
use wayos_kcore::pci::{MsiMessage, Trigger};

use super::{ioapic, lapic};

/// First vector given to devices.
pub const VEC_DEVICE_BASE: u64 = 0x40;
/// One past the last (the remapped 8259 pair starts here).
pub const VEC_DEVICE_END: u64 = super::trap::VEC_PIC_BASE;
const SLOTS: usize = (VEC_DEVICE_END - VEC_DEVICE_BASE) as usize;
/// [`Slot::gsi`] of a vector that is an MSI, not an I/O APIC line.
const NO_GSI: u32 = u32::MAX;
/// The LAPIC's MSI address window (Intel SDM 11.11.1): destination APIC id in bits 19:12.
const MSI_ADDRESS_BASE: u64 = 0xfee0_0000;

struct Slot {
    handler: Once<fn()>,
    /// The I/O APIC line of this vector ([`NO_GSI`] for MSI) and whether it is level
    /// triggered (then masked while its handler's work is pending).
    gsi: AtomicU32,
    level: AtomicU32,
}

#[allow(clippy::declare_interior_mutable_const)] // Only used to initialise the array.
const EMPTY: Slot = Slot {
    handler: Once::new(),
    gsi: AtomicU32::new(NO_GSI),
    level: AtomicU32::new(0),
};
static SLOTS_TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh vector with `handler` installed, or `None` when all are taken.
fn take_vector(handler: fn()) -> Option<(u8, &'static Slot)> {
    let i = NEXT
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            ((n as usize) < SLOTS).then_some(n + 1)
        })
        .ok()? as usize;
    let slot = &SLOTS_TABLE[i];
    slot.handler.call_once(|| handler);
    Some(((VEC_DEVICE_BASE as usize + i) as u8, slot))
}

/// Allocates a vector for an MSI or MSI-X message that runs `handler` on the boot CPU.
/// Returns the vector (the "line" the kernel reports) and the message to program.
pub fn msi_alloc(handler: fn()) -> Option<(u32, MsiMessage)> {
    let (vector, _) = take_vector(handler)?;
    let dest = u64::from(lapic::id() & 0xff);
    Some((
        u32::from(vector),
        MsiMessage {
            // Redirection hint 0, destination mode physical.
            address: MSI_ADDRESS_BASE | dest << 12,
            // Edge, fixed delivery.
            data: u32::from(vector),
        },
    ))
}

/// Routes I/O APIC input `gsi` to a fresh vector that runs `handler` on the boot CPU.
/// Boot CPU's APIC id as destination; Err (with the reason) if no I/O APIC serves it or
/// the vectors ran out. One handler per line.
pub fn enable_line(gsi: u32, trigger: Trigger, handler: fn()) -> Result<(), &'static str> {
    if SLOTS_TABLE
        .iter()
        .any(|s| s.gsi.load(Ordering::Acquire) == gsi)
    {
        return Err("the line already has a handler");
    }
    let (vector, slot) = take_vector(handler).ok_or("no free interrupt vector")?;
    slot.level
        .store(u32::from(trigger.level), Ordering::Relaxed);
    slot.gsi.store(gsi, Ordering::Release);
    ioapic::route_gsi(gsi, vector, trigger.level, trigger.active_low, lapic::id())
}

/// Unmasks I/O APIC line `gsi` after its (level-triggered) handler ran. Any context.
pub fn unmask_line(gsi: u32) {
    ioapic::set_masked(gsi, false);
}

/// Whether `vector` is one this module hands out.
pub fn is_device_vector(vector: u64) -> bool {
    (VEC_DEVICE_BASE..VEC_DEVICE_END).contains(&vector)
}

/// Runs the handler of device `vector` (interrupts off, from the trap handler): masks a
/// level line, EOIs, calls the handler. A vector without one is logged and ignored.
pub fn dispatch(vector: u64) {
    let Some(slot) = SLOTS_TABLE.get((vector - VEC_DEVICE_BASE) as usize) else {
        lapic::eoi();
        return;
    };
    let gsi = slot.gsi.load(Ordering::Acquire);
    if gsi != NO_GSI && slot.level.load(Ordering::Relaxed) != 0 {
        ioapic::set_masked(gsi, true);
    }
    lapic::eoi();
    crate::traps::device_irq(vector as u32);
    match slot.handler.get() {
        Some(handler) => handler(),
        None => log::warn!("irq: vector {vector} has no handler"),
    }
}
