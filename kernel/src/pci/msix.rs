//! MSI-X programming (PCI Local Bus 3.0 section 6.8.2) and the INTx disable bit.
//!
//! [`enable`] writes one table entry with the message the arch layer chose, leaves every
//! other entry masked, and turns MSI-X on; the function then stops using INTx. The vector
//! table lives in one of the function's memory BARs and is mapped uncached for good.
//! Capability updates go through `with_root`, so they are serialized with every other
//! configuration write.

use virtio_drivers::transport::pci::bus::{Command, ConfigurationAccess};
use wayos_abi::net::PCI_BAR_IO;
use wayos_kcore::paging::PhysAddr;
use wayos_kcore::pci::{MsiMessage, MsixCap};

use super::{with_root, Ecam, Function};
use crate::error::{Errno, KResult};

/// Command register bit 10: the function must not assert INTx.
const COMMAND_INTX_DISABLE: u32 = 1 << 10;
const REG_COMMAND: u8 = 0x04;

/// Writes the message-control half of the capability's first dword (the low half, id and
/// next pointer, is read-only).
fn set_control(cam: &mut Ecam, f: &Function, cap_at: u8, control: u16) {
    let df = f.device_function();
    let low = cam.read_word(df, cap_at) & 0xffff;
    cam.write_word(df, cap_at, u32::from(control) << 16 | low);
}

fn control(cam: &Ecam, f: &Function, cap_at: u8) -> u16 {
    (cam.read_word(f.device_function(), cap_at) >> 16) as u16
}

/// Programs MSI-X table entry `entry` of `f` (capability at `cap_at`) with `msg`,
/// unmasked, masks every other entry and enables MSI-X. `EINVAL` when the table's BAR is
/// not an assigned memory BAR or the entry is past the table; `ENXIO` without PCI.
pub fn enable(f: &Function, cap_at: u8, cap: &MsixCap, entry: u16, msg: MsiMessage) -> KResult<()> {
    let bar = f.bars[usize::from(cap.table_bar)];
    let bar_size = f.bar_sizes[usize::from(cap.table_bar)];
    let end = u64::from(cap.table_offset) + u64::from(cap.table_bytes());
    if bar == 0 || bar & PCI_BAR_IO != 0 || end > bar_size || entry >= cap.table_size {
        log::warn!(
            "pci: {:02x}:{:02x}.{} MSI-X table (BAR {} + {:#x}, {} entries) is not usable",
            f.bus,
            f.dev,
            f.func,
            cap.table_bar,
            cap.table_offset,
            cap.table_size
        );
        return Err(Errno::EINVAL);
    }
    let table = crate::mm::mmio(
        PhysAddr::new(bar + u64::from(cap.table_offset)),
        cap.table_bytes() as usize,
    )
    .as_u64() as usize;
    let word = |e: u16, i: usize| {
        (table + usize::from(e) * MsixCap::ENTRY_BYTES as usize + 4 * i) as *mut u32
    };
    with_root(|_| {
        // The root's accessor and this one are the same window; the lock is what matters.
        let mut cam = super::ecam().ok_or(Errno::ENXIO)?;
        // Enabled with the whole function masked while the table is written.
        let ctl = control(&cam, f, cap_at);
        set_control(
            &mut cam,
            f,
            cap_at,
            ctl | MsixCap::ENABLE | MsixCap::FUNCTION_MASK,
        );
        for e in 0..cap.table_size {
            // SAFETY: `table` maps the whole vector table (checked inside the BAR above);
            // entry `e` < table_size and dword 3 is its vector control.
            unsafe { word(e, 3).write_volatile(MsixCap::ENTRY_MASKED) };
        }
        // SAFETY: as above, dwords 0-3 of entry `entry` < table_size.
        unsafe {
            word(entry, 0).write_volatile(msg.address as u32);
            word(entry, 1).write_volatile((msg.address >> 32) as u32);
            word(entry, 2).write_volatile(msg.data);
            word(entry, 3).write_volatile(0);
        }
        let ctl = control(&cam, f, cap_at);
        set_control(
            &mut cam,
            f,
            cap_at,
            (ctl | MsixCap::ENABLE) & !MsixCap::FUNCTION_MASK,
        );
        let df = f.device_function();
        let cmd = cam.read_word(df, REG_COMMAND) & 0xffff;
        cam.write_word(df, REG_COMMAND, cmd | COMMAND_INTX_DISABLE);
        Ok(())
    })
    .ok_or(Errno::ENXIO)?
}

/// Sets or clears `f`'s INTx disable bit (`on` = may assert INTx).
pub fn intx_enable(f: &Function, on: bool) {
    with_root(|root| {
        let df = f.device_function();
        let (_, cmd) = root.get_status_command(df);
        let disable = Command::INTERRUPT_DISABLE;
        root.set_command(df, if on { cmd - disable } else { cmd | disable });
    });
}
