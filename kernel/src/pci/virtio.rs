//! Taking over a virtio function from whatever drove it before ([`virtio_transport`]),
//! and the one virtio-specific piece of interrupt routing: with MSI-X on, a virtio device
//! signals a queue only through the table entry named in that queue's
//! `queue_msix_vector` (and configuration changes through `msix_config`), which reset
//! to "no vector". `virtio_drivers` 0.13's `PciTransport` never writes them, so a driver
//! that got an MSI-X route calls [`virtio_msix_route`] once its queues are set up.
//!
//! The common configuration structure is found through the function's virtio vendor
//! capability (virtio 1.x, 4.1.4.3) and mapped uncached. `queue_select` is shared with
//! the transport: call this while no other code drives the device (at driver init).

use virtio_drivers::transport::pci::bus::{Command, ConfigurationAccess};
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::{DeviceStatus, Transport};
use wayos_abi::net::{IRQ_MSIX, PCI_BAR_IO};
use wayos_kcore::paging::PhysAddr;

use super::{with_root, Function, IrqRoute};
use crate::arch;
use crate::error::{Errno, KResult};

/// How long a device may take to acknowledge a reset.
const RESET_NS: u64 = 100_000_000;

/// The transport of virtio function `f`, reset and claimed for driver `name` (the name
/// `lspci` shows), ready for the driver's `new` (feature negotiation and queues).
///
/// The firmware may have driven the device (a network boot attempt, UEFI's GOP on a
/// virtio-gpu) and left its queues pointing at memory that is ours now, with only bus
/// mastering turned off. So: memory decoding alone, reset the device, and only then let
/// it master the bus.
pub fn virtio_transport(f: &Function, name: &'static str) -> Result<PciTransport, &'static str> {
    let mut transport = with_root(|root| {
        let df = f.device_function();
        let (_, cmd) = root.get_status_command(df);
        root.set_command(df, (cmd | Command::MEMORY_SPACE) - Command::BUS_MASTER);
        PciTransport::new::<super::hal::KernelHal, _>(root, df)
    })
    .ok_or("no PCI root")?
    .map_err(|_| "not a virtio PCI device")?;
    transport.set_status(DeviceStatus::empty());
    let reset_by = arch::uptime_ns().saturating_add(RESET_NS);
    while transport.get_status() != DeviceStatus::empty() {
        if arch::uptime_ns() > reset_by {
            return Err("the device does not reset");
        }
        core::hint::spin_loop();
    }
    // Now bus mastering (and the name `lspci` shows).
    super::bind(f.bus, f.dev, f.func, name);
    Ok(transport)
}

/// PCI capability id of vendor-specific capabilities (virtio's).
const CAP_VENDOR: u8 = 0x09;
/// `cfg_type` of the common configuration.
const VIRTIO_PCI_CAP_COMMON_CFG: u8 = 1;
/// Offsets in `virtio_pci_common_cfg`.
const MSIX_CONFIG: usize = 0x10;
const QUEUE_SELECT: usize = 0x16;
const QUEUE_MSIX_VECTOR: usize = 0x1a;
const COMMON_CFG_BYTES: u32 = 0x38;

/// Points configuration-change interrupts and queues `0..queues` of virtio function `f`
/// at `route`'s MSI-X table entry. Nothing to do (Ok) for an INTx route. `ENODEV` when
/// `f` has no virtio common configuration, `EIO` when the device refuses the vector
/// (reads back "no vector").
pub fn virtio_msix_route(f: &Function, route: &IrqRoute, queues: u16) -> KResult<()> {
    let Some(entry) = route.msix_vector_index.filter(|_| route.mode == IRQ_MSIX) else {
        return Ok(());
    };
    let (bar, offset) = with_root(|root| {
        let df = f.device_function();
        let cap = root.capabilities(df).find(|c| {
            c.id == CAP_VENDOR && (c.private_header >> 8) as u8 == VIRTIO_PCI_CAP_COMMON_CFG
        })?;
        let cam = super::ecam()?;
        let bar = cam.read_word(df, cap.offset.checked_add(4)?) as u8;
        let offset = cam.read_word(df, cap.offset.checked_add(8)?);
        Some((bar, offset))
    })
    .flatten()
    .ok_or(Errno::ENODEV)?;
    let base = *f.bars.get(usize::from(bar)).ok_or(Errno::ENODEV)?;
    let size = f.bar_sizes[usize::from(bar)];
    if base == 0 || base & PCI_BAR_IO != 0 || u64::from(offset) + u64::from(COMMON_CFG_BYTES) > size
    {
        return Err(Errno::ENODEV);
    }
    let cfg = crate::mm::mmio(
        PhysAddr::new(base + u64::from(offset)),
        COMMON_CFG_BYTES as usize,
    )
    .as_u64() as usize;
    let reg = |off: usize| (cfg + off) as *mut u16;
    // SAFETY: `cfg` maps the common configuration (inside the BAR, checked above); the
    // offsets are those of 16-bit fields of `virtio_pci_common_cfg`.
    let set = |off: usize, v: u16| unsafe { reg(off).write_volatile(v) };
    // SAFETY: as for `set`.
    let get = |off: usize| unsafe { reg(off).read_volatile() };
    set(MSIX_CONFIG, entry);
    if get(MSIX_CONFIG) != entry {
        return Err(Errno::EIO);
    }
    for q in 0..queues {
        set(QUEUE_SELECT, q);
        set(QUEUE_MSIX_VECTOR, entry);
        if get(QUEUE_MSIX_VECTOR) != entry {
            log::warn!("pci: virtio queue {q} refused MSI-X entry {entry}");
            return Err(Errno::EIO);
        }
    }
    Ok(())
}
