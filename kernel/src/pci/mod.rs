//! TEMPORARY stand-in for the `pci` helper's module (branch h-pci), with the same
//! interface, so the NIC driver can be developed before it lands: x86_64 q35 only, ECAM
//! at QEMU's fixed 0xb000_0000, bus 0 only, no interrupt routing. Replaced wholesale by
//! the real module at merge time.

use alloc::vec::Vec;

use spin::Once;
use virtio_drivers::transport::pci::bus::{Cam, ConfigurationAccess, DeviceFunction, MmioCam};
use wayos_kcore::paging::PhysAddr;

use crate::error::{Errno, KResult};

pub struct Function {
    pub bus: u8,
    pub dev: u8,
    pub func: u8,
    pub vendor: u16,
    pub device: u16,
    pub class: u8,
    pub subclass: u8,
    pub prog_if: u8,
    pub revision: u8,
    pub header_type: u8,
    pub bars: [u64; 6],
    pub irq: Option<u32>,
}

#[derive(Clone, Copy)]
pub struct Ecam {
    pub virt: usize,
    pub bus_start: u8,
    pub bus_end: u8,
}

pub struct IrqRoute {
    pub mode: u8,
    pub line: u32,
    pub msix_vector_index: Option<u16>,
}

static ECAM: Once<Option<Ecam>> = Once::new();
static FUNCTIONS: Once<Vec<Function>> = Once::new();

pub fn init() {
    let ecam = if cfg!(target_arch = "x86_64") {
        let virt = crate::mm::mmio(PhysAddr::new(0xb000_0000), 1 << 20).as_u64() as usize;
        Some(Ecam {
            virt,
            bus_start: 0,
            bus_end: 0,
        })
    } else {
        None
    };
    ECAM.call_once(|| ecam);
    let mut fs = Vec::new();
    if let Some(e) = ecam {
        // SAFETY: temporary: bus 0's 1 MiB of the window is mapped and only bus 0 is read.
        let cam = unsafe { MmioCam::new(e.virt as *mut u8, Cam::Ecam) };
        for dev in 0..32 {
            let df = DeviceFunction {
                bus: 0,
                device: dev,
                function: 0,
            };
            let id = cam.read_word(df, 0);
            if id as u16 == 0xffff {
                continue;
            }
            let class = cam.read_word(df, 8);
            fs.push(Function {
                bus: 0,
                dev,
                func: 0,
                vendor: id as u16,
                device: (id >> 16) as u16,
                class: (class >> 24) as u8,
                subclass: (class >> 16) as u8,
                prog_if: (class >> 8) as u8,
                revision: class as u8,
                header_type: 0,
                bars: [0; 6],
                irq: None,
            });
        }
    }
    FUNCTIONS.call_once(|| fs);
}

pub fn functions() -> &'static [Function] {
    FUNCTIONS.get().map_or(&[], |v| v.as_slice())
}

pub fn ecam() -> Option<Ecam> {
    ECAM.get().copied().flatten()
}

pub fn bind(_bus: u8, _dev: u8, _func: u8, _driver: &'static str) {}

pub fn enable_interrupt(_f: &Function, _handler: fn()) -> KResult<IrqRoute> {
    Err(Errno::ENXIO)
}
