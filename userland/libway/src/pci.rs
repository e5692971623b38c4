//! PCI: the functions the kernel found at boot (`wayos_abi::sys::PCI_LIST`, records
//! `wayos_abi::net::PciDevice`), and names for their classes.

use alloc::vec::Vec;

use wayos_abi::net::MAX_PCI_DEVICES;
pub use wayos_abi::net::{PciDevice, PCI_BAR_IO, PCI_HEADER_BRIDGE};
use wayos_abi::sys;

use crate::errno::Errno;

/// `pci_list(buf, buf.len())`: fills `buf` with up to `buf.len()` records and returns how
/// many functions there are (which may be more than it filled).
pub fn pci_list_into(buf: &mut [PciDevice]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` records into `buf`, borrowed mutably
    // for the call; `PciDevice` is plain data, any bytes are a valid value.
    unsafe {
        crate::sys::call(
            sys::PCI_LIST,
            [crate::sys::arg_out_slice(buf), buf.len(), 0, 0, 0, 0],
        )
    }
}

/// Every PCI function, in the kernel's (bus walk) order.
pub fn pci_list() -> Result<Vec<PciDevice>, Errno> {
    let mut buf = alloc::vec![PciDevice::default(); MAX_PCI_DEVICES];
    let total = pci_list_into(&mut buf)?;
    buf.truncate(total.min(MAX_PCI_DEVICES));
    Ok(buf)
}

/// The bound driver's name ("" when none).
pub fn driver_name(d: &PciDevice) -> &str {
    let n = d
        .driver
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(d.driver.len());
    core::str::from_utf8(&d.driver[..n]).unwrap_or("?")
}

/// The usual name of a class/subclass pair (as `lspci` prints it), `None` when unknown.
pub fn class_name(class: u8, subclass: u8) -> Option<&'static str> {
    Some(match (class, subclass) {
        (0x00, 0x00) => "Non-VGA unclassified device",
        (0x00, 0x01) => "VGA compatible unclassified device",
        (0x01, 0x00) => "SCSI storage controller",
        (0x01, 0x01) => "IDE interface",
        (0x01, 0x06) => "SATA controller",
        (0x01, 0x08) => "Non-Volatile memory controller",
        (0x01, _) => "Mass storage controller",
        (0x02, 0x00) => "Ethernet controller",
        (0x02, _) => "Network controller",
        (0x03, 0x00) => "VGA compatible controller",
        (0x03, _) => "Display controller",
        (0x04, 0x01) => "Multimedia audio controller",
        (0x04, 0x03) => "Audio device",
        (0x04, _) => "Multimedia controller",
        (0x05, _) => "Memory controller",
        (0x06, 0x00) => "Host bridge",
        (0x06, 0x01) => "ISA bridge",
        (0x06, 0x04) => "PCI bridge",
        (0x06, _) => "Bridge",
        (0x07, 0x00) => "Serial controller",
        (0x07, _) => "Communication controller",
        (0x08, _) => "System peripheral",
        (0x09, _) => "Input device controller",
        (0x0c, 0x03) => "USB controller",
        (0x0c, 0x05) => "SMBus",
        (0x0c, _) => "Serial bus controller",
        (0x0d, _) => "Wireless controller",
        (0xff, _) => "Unassigned class",
        _ => return None,
    })
}

/// The vendor's name for the few vendors QEMU machines show, `None` otherwise.
pub fn vendor_name(vendor: u16) -> Option<&'static str> {
    Some(match vendor {
        0x8086 => "Intel Corporation",
        0x1af4 | 0x1b36 => "Red Hat, Inc.",
        0x1234 => "QEMU",
        _ => return None,
    })
}
