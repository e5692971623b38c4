//! ACPI tables through the `acpi` crate, read via the direct map.
//!
//! For now only the MADT's processor count is used; a malformed table is logged and the
//! kernel carries on with one CPU.

use core::ptr::NonNull;

use acpi::madt::{Madt, MadtEntry};
use acpi::{AcpiHandler, AcpiTables, PhysicalMapping};

/// Maps physical ranges by offsetting into the direct map, which covers all ACPI memory.
#[derive(Clone, Copy)]
struct DirectMap {
    offset: u64,
}

impl AcpiHandler for DirectMap {
    unsafe fn map_physical_region<T>(&self, phys: usize, size: usize) -> PhysicalMapping<Self, T> {
        let virt = (phys as u64 + self.offset) as *mut T;
        // SAFETY: the direct map covers every ACPI region the loader reported, so the range
        // is mapped for the kernel's life; `virt` is non-null because the offset is not 0.
        unsafe { PhysicalMapping::new(phys, NonNull::new_unchecked(virt), size, size, *self) }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// Enabled (or online-capable) processors in the MADT, at least 1.
pub fn count_cpus(rsdp_phys: u64, hhdm: u64) -> usize {
    // SAFETY: `rsdp_phys` is the RSDP address the loader found in the firmware tables.
    let tables =
        match unsafe { AcpiTables::from_rsdp(DirectMap { offset: hhdm }, rsdp_phys as usize) } {
            Ok(t) => t,
            Err(e) => {
                log::warn!("acpi: cannot read tables ({e:?}); assuming one CPU");
                return 1;
            }
        };
    let madt = match tables.find_table::<Madt>() {
        Ok(m) => m,
        Err(e) => {
            log::warn!("acpi: no MADT ({e:?}); assuming one CPU");
            return 1;
        }
    };
    let usable = |flags: u32| flags & 0b11 != 0; // enabled or online-capable
    let count = madt
        .get()
        .entries()
        .filter(|e| match e {
            MadtEntry::LocalApic(l) => usable(l.flags),
            MadtEntry::LocalX2Apic(l) => usable(l.flags),
            _ => false,
        })
        .count();
    count.max(1)
}
