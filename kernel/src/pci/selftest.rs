//! Boot tests of PCI enumeration, run by `boottest` under the harness (which always
//! attaches a virtio-net-pci NIC, so its absence is a failure there).

use super::{functions, host};
use wayos_abi::net::PCI_BAR_IO;

type Check = fn() -> Result<(), &'static str>;

pub const CHECKS: &[(&str, Check)] = &[
    ("pci_host_bridge_found", pci_host_bridge_found),
    ("pci_virtio_net_found", pci_virtio_net_found),
    ("pci_bars_assigned_in_windows", pci_bars_assigned_in_windows),
    ("pci_bars_do_not_overlap", pci_bars_do_not_overlap),
    ("pci_config_reads_agree", pci_config_reads_agree),
];

/// The firmware describes a host bridge, and function 00:00.0 (or the first one found) is
/// a host bridge (class 06, subclass 00) on both QEMU machines.
fn pci_host_bridge_found() -> Result<(), &'static str> {
    host().ok_or("no PCI host bridge in the firmware tables")?;
    if functions().is_empty() {
        return Err("the host bridge's bus has no functions");
    }
    if !functions()
        .iter()
        .any(|f| f.class == 0x06 && f.subclass == 0x00)
    {
        return Err("no function of class host bridge (06/00)");
    }
    Ok(())
}

fn pci_virtio_net_found() -> Result<(), &'static str> {
    let nic = functions()
        .iter()
        .find(|f| f.vendor == 0x1af4 && (f.device == 0x1000 || f.device == 0x1041))
        .ok_or("no virtio-net function (1af4:1000 or 1af4:1041)")?;
    if nic.class != 0x02 {
        return Err("the virtio-net function is not of class network (02)");
    }
    if !nic.bars.iter().any(|&b| b != 0 && b & PCI_BAR_IO == 0) {
        return Err("the virtio-net function has no assigned memory BAR");
    }
    if nic.msix.is_none() && nic.irq.is_none() {
        return Err("the virtio-net function has neither MSI-X nor a routed INTx pin");
    }
    Ok(())
}

/// Every memory BAR with a size has an address, naturally aligned, and (where the kernel
/// knows the bridge's windows) inside one of them.
fn pci_bars_assigned_in_windows() -> Result<(), &'static str> {
    let host = host().ok_or("no host bridge")?;
    let mut seen = 0;
    for f in functions() {
        for (i, (&bar, &size)) in f.bars.iter().zip(&f.bar_sizes).enumerate() {
            if size == 0 || f.io_bars & (1 << i) != 0 {
                continue;
            }
            if bar == 0 {
                // Where firmware assigned BARs, leaving one off is its choice.
                if host.assign_bars {
                    return Err("a memory BAR was left unassigned");
                }
                continue;
            }
            seen += 1;
            if !bar.is_multiple_of(size) {
                return Err("a memory BAR is not aligned to its size");
            }
            let pci = bar.wrapping_add(f.bus_offset);
            if host.windows.iter().any(Option::is_some) && host.window_of(pci, size).is_none() {
                return Err("a memory BAR lies outside the host bridge's windows");
            }
        }
    }
    if seen == 0 {
        return Err("no memory BAR at all");
    }
    Ok(())
}

fn pci_bars_do_not_overlap() -> Result<(), &'static str> {
    let ranges = || {
        functions().iter().flat_map(|f| {
            f.bars
                .iter()
                .zip(&f.bar_sizes)
                .filter(|(&b, &s)| b != 0 && s != 0 && b & PCI_BAR_IO == 0)
                .map(|(&b, &s)| (b, b.saturating_add(s)))
        })
    };
    for (i, (a0, a1)) in ranges().enumerate() {
        if ranges().skip(i + 1).any(|(b0, b1)| a0 < b1 && b0 < a1) {
            return Err("two memory BARs overlap");
        }
    }
    Ok(())
}

/// What enumeration recorded matches a fresh read of each function's id register, and a
/// device number past the last slot reads as absent.
fn pci_config_reads_agree() -> Result<(), &'static str> {
    use virtio_drivers::transport::pci::bus::ConfigurationAccess;
    let cam = super::ecam().ok_or("no ECAM window")?;
    for f in functions() {
        let id = cam.read_word(f.device_function(), 0);
        if id != u32::from(f.device) << 16 | u32::from(f.vendor) {
            return Err("a function's vendor/device id changed since enumeration");
        }
    }
    let outside = virtio_drivers::transport::pci::bus::DeviceFunction {
        bus: cam.bus_end,
        device: 32,
        function: 0,
    };
    if cam.read_word(outside, 0) != u32::MAX {
        return Err("an invalid device number did not read as absent");
    }
    Ok(())
}
