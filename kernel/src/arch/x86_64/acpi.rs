//! ACPI tables through the `acpi` crate, read via the direct map.
//!
//! Used: the MADT's processor count (a malformed table is logged and the kernel carries on
//! with one CPU) and the FADT's CMOS clock fields for `rtc`.

use core::ptr::NonNull;

use acpi::fadt::Fadt;
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

/// What the FADT says about the CMOS real-time clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CmosRtcInfo {
    /// CMOS RAM index of the century register (FADT `CENTURY`; 0 there means none).
    pub century_register: Option<u8>,
    /// IAPC_BOOT_ARCH "CMOS RTC not present": the clock is not at ports 0x70/0x71.
    pub not_present: bool,
}

/// The FADT's CMOS clock fields; `None` (logged) if the tables or the FADT are unreadable.
pub fn cmos_rtc_info(rsdp_phys: u64, hhdm: u64) -> Option<CmosRtcInfo> {
    // SAFETY: `rsdp_phys` is the RSDP address the loader found in the firmware tables.
    let tables =
        match unsafe { AcpiTables::from_rsdp(DirectMap { offset: hhdm }, rsdp_phys as usize) } {
            Ok(t) => t,
            Err(e) => {
                log::warn!("acpi: cannot read tables ({e:?}) for the RTC's century register");
                return None;
            }
        };
    let fadt = match tables.find_table::<Fadt>() {
        Ok(f) => f,
        Err(e) => {
            log::warn!("acpi: no FADT ({e:?}); RTC century assumed 20xx");
            return None;
        }
    };
    // Copies out of the packed table (no references into it).
    let century = fadt.century;
    let boot_arch = fadt.iapc_boot_arch;
    Some(CmosRtcInfo {
        century_register: (century != 0).then_some(century),
        not_present: boot_arch.use_time_and_alarm_namespace_for_rtc(),
    })
}
