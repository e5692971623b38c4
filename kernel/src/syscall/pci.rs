//! `pci_list`: the PCI functions the kernel found, for `lspci`. Any process may call it
//! (it reveals nothing a process could misuse: ids, classes, addresses, driver names).
//!
//! Owns argument checking only; the table is `pci::snapshot`'s.
#![deny(unsafe_code)]

use wayos_abi::net::PciDevice;

use crate::error::KResult;
use crate::umem::{UserArray, WriteOnly};

/// `pci_list(buf, cap) -> total`: at most `cap` records written to `buf`; `total` may be
/// larger (call again with more room). The snapshot is taken before the copy, so no lock
/// is held across it.
pub fn sys_pci_list(buf: usize, cap: usize) -> KResult<usize> {
    let all = crate::pci::snapshot()?;
    let take = cap.min(all.len());
    // Only the records written must lie in the caller's memory: `cap` may be larger.
    let out = UserArray::<PciDevice, WriteOnly>::new(buf, take)?;
    out.write_from(&all[..take])?;
    Ok(all.len())
}
