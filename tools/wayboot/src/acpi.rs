//! ACPI: the RSDP for the kernel, and the I/O APICs wayboot masks before hand-off.
//!
//! The RSDP comes from the UEFI configuration table, the ACPI 2.0 entry preferred over
//! the ACPI 1.0 one, each accepted only with a valid checksum (as Limine does). The I/O
//! APIC addresses come from the MADT, found through the XSDT (or RSDT); every table is
//! bounds- and signature-checked before it is read. Firmware tables are read through the
//! identity mapping boot services provide.

use alloc::vec::Vec;
use uefi::table::cfg::ConfigTableEntry;

/// Reads `len` bytes of firmware memory at a physical address.
///
/// # Safety
///
/// `addr..addr + len` must be readable, identity-mapped memory (firmware tables while
/// boot services or their page tables are in place).
unsafe fn phys_bytes(addr: u64, len: usize) -> &'static [u8] {
    // SAFETY: guaranteed by the caller.
    unsafe { core::slice::from_raw_parts(addr as *const u8, len) }
}

fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b)) == 0
}

fn rsdp_valid(addr: u64, len: usize) -> bool {
    if addr == 0 {
        return false;
    }
    // SAFETY: configuration table entries point to firmware memory that stays mapped
    // while boot services run; the RSDP is at least `len` bytes (20 or 36).
    let bytes = unsafe { phys_bytes(addr, len) };
    &bytes[..8] == b"RSD PTR " && checksum_ok(bytes)
}

/// Physical address of the RSDP (ACPI 2.0 preferred), if the firmware has one.
pub fn find_rsdp() -> Option<u64> {
    uefi::system::with_config_table(|entries| {
        let mut found = None;
        for e in entries {
            let addr = e.address as u64;
            if e.guid == ConfigTableEntry::ACPI2_GUID && rsdp_valid(addr, 36) {
                return Some(addr);
            }
            if e.guid == ConfigTableEntry::ACPI_GUID && rsdp_valid(addr, 20) {
                found = Some(addr);
            }
        }
        found
    })
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from(u32_at(b, off)) | (u64::from(u32_at(b, off + 4)) << 32)
}

/// An SDT at `addr` with a plausible length and valid checksum.
fn table(addr: u64) -> Option<&'static [u8]> {
    if addr == 0 {
        return None;
    }
    // SAFETY: `addr` comes from the RSDP/XSDT chain, which points at firmware tables
    // in mapped memory; the header is 36 bytes.
    let header = unsafe { phys_bytes(addr, 36) };
    let len = u32_at(header, 4) as usize;
    if !(36..=1 << 20).contains(&len) {
        return None;
    }
    // SAFETY: as above, for the length the table declares (bounded to 1 MiB).
    let bytes = unsafe { phys_bytes(addr, len) };
    checksum_ok(bytes).then_some(bytes)
}

/// Physical addresses of the I/O APICs listed in the MADT.
pub fn io_apics(rsdp: u64) -> Vec<u64> {
    let mut out = Vec::new();
    // SAFETY: `rsdp` was validated by `find_rsdp` (at least 20 bytes; 36 if revision 2).
    let r = unsafe { phys_bytes(rsdp, 20) };
    let (root, entry_size) = if r[15] >= 2 {
        // SAFETY: revision 2 RSDPs are 36 bytes.
        let r2 = unsafe { phys_bytes(rsdp, 36) };
        (u64_at(r2, 24), 8)
    } else {
        (u64::from(u32_at(r, 16)), 4)
    };
    let Some(root) = table(root) else { return out };
    for i in 0..(root.len() - 36) / entry_size {
        let off = 36 + i * entry_size;
        let addr = if entry_size == 8 {
            u64_at(root, off)
        } else {
            u64::from(u32_at(root, off))
        };
        let Some(t) = table(addr) else { continue };
        if &t[..4] != b"APIC" || t.len() < 44 {
            continue;
        }
        let mut off = 44;
        while off + 2 <= t.len() {
            let (kind, len) = (t[off], t[off + 1] as usize);
            if len < 2 || off + len > t.len() {
                break;
            }
            if kind == 1 && len >= 12 {
                out.push(u64::from(u32_at(t, off + 4)));
            }
            off += len;
        }
        break;
    }
    out
}

/// Masks every redirection entry of the I/O APIC at `base`, as Limine does.
///
/// # Safety
///
/// `base` must be the identity-mapped MMIO address of an I/O APIC and nothing else may
/// be programming it.
pub unsafe fn mask_io_apic(base: u64) {
    let sel = base as *mut u32;
    let win = (base + 0x10) as *mut u32;
    let read = |reg: u32| {
        // SAFETY: IOREGSEL/IOWIN of the I/O APIC the caller vouched for.
        unsafe {
            sel.write_volatile(reg);
            win.read_volatile()
        }
    };
    let write = |reg: u32, v: u32| {
        // SAFETY: as above.
        unsafe {
            sel.write_volatile(reg);
            win.write_volatile(v);
        }
    };
    let entries = ((read(1) >> 16) & 0xff) + 1;
    for i in 0..entries {
        write(0x10 + 2 * i, 1 << 16);
        write(0x11 + 2 * i, 0);
    }
}
