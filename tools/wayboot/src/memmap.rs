//! The Limine memory map, converted from the UEFI one.
//!
//! UEFI types map to Limine types as Limine does on UEFI: free memory and boot-services
//! memory become usable (boot services are gone at hand-off); loader code and data
//! (wayboot itself) and wayboot's [`RECLAIMABLE`](crate::mem::RECLAIMABLE) allocations
//! become bootloader reclaimable; wayboot's
//! [`KERNEL_AND_MODULES`](crate::mem::KERNEL_AND_MODULES) allocations become executable
//! and modules; ACPI reclaim/NVS and unusable memory keep their meaning; everything else
//! (runtime services, MMIO, reserved, unknown types) is reserved. The framebuffer is
//! carved out as its own entry. The result is sorted, without overlaps, usable and
//! bootloader-reclaimable entries page aligned, and adjacent entries of one type merged.
//! Building it allocates nothing, so it can run after ExitBootServices.

use uefi::boot::MemoryType;

use crate::mem::{self, PAGE};

pub const USABLE: u64 = 0;
pub const RESERVED: u64 = 1;
pub const ACPI_RECLAIMABLE: u64 = 2;
pub const ACPI_NVS: u64 = 3;
pub const BAD_MEMORY: u64 = 4;
pub const BOOTLOADER_RECLAIMABLE: u64 = 5;
pub const EXECUTABLE_AND_MODULES: u64 = 6;
pub const FRAMEBUFFER: u64 = 7;

/// `struct limine_memmap_entry`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub base: u64,
    pub length: u64,
    pub typ: u64,
}

impl Entry {
    pub fn end(&self) -> u64 {
        self.base.saturating_add(self.length)
    }
}

/// The Limine type of a UEFI memory type.
pub fn limine_type(ty: MemoryType) -> u64 {
    match ty {
        MemoryType::CONVENTIONAL
        | MemoryType::BOOT_SERVICES_CODE
        | MemoryType::BOOT_SERVICES_DATA => USABLE,
        MemoryType::LOADER_CODE | MemoryType::LOADER_DATA | mem::RECLAIMABLE => {
            BOOTLOADER_RECLAIMABLE
        }
        mem::KERNEL_AND_MODULES => EXECUTABLE_AND_MODULES,
        MemoryType::ACPI_RECLAIM => ACPI_RECLAIMABLE,
        MemoryType::ACPI_NON_VOLATILE => ACPI_NVS,
        MemoryType::UNUSABLE => BAD_MEMORY,
        _ => RESERVED,
    }
}

/// Builds the map in `out` from `ranges` (any order) plus an optional `overlay` entry
/// that takes precedence over whatever it covers. Returns the number of entries; ranges
/// beyond the capacity of `out` are dropped.
pub fn build(
    out: &mut [Entry],
    ranges: impl Iterator<Item = Entry>,
    overlay: Option<Entry>,
) -> usize {
    // Leave room for the overlay and the one split it can cause.
    let room = out.len().saturating_sub(2);
    let mut n = 0;
    for r in ranges.filter(|r| r.length > 0) {
        if n == room {
            break;
        }
        out[n] = r;
        n += 1;
    }
    out[..n].sort_unstable_by_key(|e| e.base);
    n = remove_overlaps(&mut out[..n]);
    if let Some(ov) = overlay.filter(|o| o.length > 0) {
        n = carve(out, n, ov);
        out[..n].sort_unstable_by_key(|e| e.base);
    }
    for e in out[..n].iter_mut() {
        if e.typ == USABLE || e.typ == BOOTLOADER_RECLAIMABLE {
            let base = mem::align_up(e.base, PAGE).unwrap_or(u64::MAX);
            let end = mem::align_down(e.end(), PAGE);
            e.base = base;
            e.length = end.saturating_sub(base);
        }
    }
    compact(&mut out[..n])
}

/// Trims entries (sorted by base) so none overlaps the one before it.
fn remove_overlaps(list: &mut [Entry]) -> usize {
    let mut end = 0u64;
    for e in list.iter_mut() {
        if e.base < end {
            let new_end = e.end();
            e.base = end.min(new_end);
            e.length = new_end - e.base;
        }
        end = end.max(e.end());
    }
    compact(list)
}

/// Cuts `ov`'s range out of the first `n` entries and appends `ov`.
fn carve(out: &mut [Entry], mut n: usize, ov: Entry) -> usize {
    let (b, e) = (ov.base, ov.end());
    let existing = n;
    for i in 0..existing {
        let cur = out[i];
        if cur.end() <= b || cur.base >= e {
            continue;
        }
        if cur.base < b && cur.end() > e && n < out.len() {
            out[n] = Entry {
                base: e,
                length: cur.end() - e,
                typ: cur.typ,
            };
            n += 1;
        }
        if cur.base < b {
            out[i].length = b - cur.base;
        } else if cur.end() > e {
            out[i] = Entry {
                base: e,
                length: cur.end() - e,
                typ: cur.typ,
            };
        } else {
            out[i].length = 0;
        }
    }
    if n < out.len() {
        out[n] = ov;
        n += 1;
    }
    n
}

/// Drops empty entries and merges touching entries of one type; returns the new count.
fn compact(list: &mut [Entry]) -> usize {
    let mut n = 0;
    for i in 0..list.len() {
        let e = list[i];
        if e.length == 0 {
            continue;
        }
        if n > 0 && list[n - 1].typ == e.typ && list[n - 1].end() == e.base {
            list[n - 1].length += e.length;
            continue;
        }
        list[n] = e;
        n += 1;
    }
    n
}
