//! PCI configuration space through ECAM: the window is mapped once, uncached, and read
//! and written a dword at a time through the `virtio-drivers` crate's
//! `ConfigurationAccess` trait, so the crate's `PciRoot` (enumeration, BAR sizing,
//! capabilities) and its `PciTransport` work on it.
//!
//! An [`Ecam`] is a plain address plus the bus range; every access is checked against
//! that range (a bus outside reads as all ones, like an absent device, and writes go
//! nowhere), so no caller can reach past the mapping.

use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction};
use wayos_kcore::paging::PhysAddr;
use wayos_kcore::pci::HostBridge;

/// A mapped ECAM window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ecam {
    /// Virtual address of bus 0's configuration space (the mapping itself starts at
    /// `bus_start`; addresses below it are never touched). This is what
    /// `virtio_drivers`' `MmioCam::new(virt, Cam::Ecam)` expects.
    pub virt: usize,
    pub bus_start: u8,
    pub bus_end: u8,
}

impl Ecam {
    /// Maps `host`'s ECAM window for its bus range.
    pub fn map(host: &HostBridge) -> Self {
        let first = host.ecam_phys + (u64::from(host.bus_start) << 20);
        let len = (usize::from(host.bus_end - host.bus_start) + 1) << 20;
        let va = crate::mm::mmio(PhysAddr::new(first), len).as_u64() as usize;
        Self {
            virt: va - (usize::from(host.bus_start) << 20),
            bus_start: host.bus_start,
            bus_end: host.bus_end,
        }
    }

    /// The virtual address of the dword at `offset` of `df`'s space, if inside the window.
    fn addr(&self, df: DeviceFunction, offset: u8) -> Option<*mut u32> {
        let ok = (self.bus_start..=self.bus_end).contains(&df.bus)
            && df.device < 32
            && df.function < 8
            && offset & 3 == 0;
        ok.then(|| {
            let bdf =
                usize::from(df.bus) << 8 | usize::from(df.device) << 3 | usize::from(df.function);
            (self.virt + (bdf << 12) + usize::from(offset)) as *mut u32
        })
    }
}

impl ConfigurationAccess for Ecam {
    fn read_word(&self, df: DeviceFunction, offset: u8) -> u32 {
        match self.addr(df, offset) {
            // SAFETY: `addr` checked the bus against the mapped range and the offset's
            // alignment; the window is device memory mapped for the kernel's life.
            Some(p) => unsafe { p.read_volatile() },
            None => u32::MAX,
        }
    }

    fn write_word(&mut self, df: DeviceFunction, offset: u8, data: u32) {
        if let Some(p) = self.addr(df, offset) {
            // SAFETY: as for `read_word`.
            unsafe { p.write_volatile(data) }
        }
    }

    unsafe fn unsafe_clone(&self) -> Self {
        *self
    }
}
