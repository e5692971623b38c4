//! wayboot: a UEFI application that loads the WayOS kernel and starts it through the
//! Limine boot protocol (base revision 2), the way Limine 8.x does, so the kernel cannot
//! tell the two loaders apart.
//!
//! This file is the sequence; each step lives in its own module:
//! [`files`] reads `\wayos\*` from the boot volume, [`loader`] validates and places the
//! kernel ELF, [`requests`] finds the kernel's requests, [`responses`] answers them,
//! [`gop`] and [`acpi`] gather the framebuffer and RSDP, [`paging`] builds the kernel's
//! page tables, [`memmap`] converts the final UEFI memory map, and [`handoff`] jumps.
//! A missing or malformed kernel prints one `wayboot: error: ...` line and powers the
//! machine off.
#![no_std]
#![no_main]

extern crate alloc;

mod acpi;
mod files;
mod gop;
mod handoff;
mod loader;
mod mem;
mod memmap;
mod paging;
mod requests;
mod responses;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use uefi::boot::{self, MemoryType};
use uefi::mem::memory_map::MemoryMap;
use uefi::prelude::*;
use uefi::runtime::ResetType;

use crate::files::Volume;
use crate::mem::PAGE;
use crate::memmap::Entry;
use crate::paging::{Flags, PageTables};
use crate::responses::HHDM;

const GIB: u64 = 1 << 30;
/// Top of the range Limine always maps (identity and HHDM) below base revision 3.
const LOW_4G: u64 = 4 * GIB;

#[entry]
fn main() -> Status {
    if uefi::helpers::init().is_err() {
        return Status::ABORTED;
    }
    match boot_kernel() {
        Ok(never) => match never {},
        Err(msg) => fail(&msg),
    }
}

/// Prints the error and powers off, so a test harness sees QEMU exit.
fn fail(msg: &str) -> ! {
    uefi::println!("wayboot: error: {msg}");
    boot::stall(core::time::Duration::from_millis(100));
    uefi::runtime::reset(ResetType::SHUTDOWN, Status::LOAD_ERROR, None)
}

enum Never {}

fn boot_kernel() -> Result<Never, String> {
    uefi::println!(
        "wayboot {}: Limine protocol loader for WayOS",
        env!("CARGO_PKG_VERSION")
    );
    let cpu = handoff::cpu();
    if cpu.la57_active {
        return Err(String::from(
            "the firmware runs with 5-level paging; wayboot only hands over with 4-level paging",
        ));
    }

    // Files.
    let mut vol = Volume::open()?;
    let kernel_file = vol
        .load(files::KERNEL, mem::RECLAIMABLE)
        .map_err(|e| format!("kernel.elf: {e} ({})", files::KERNEL))?;
    uefi::println!(
        "wayboot: loading {} ({} bytes)",
        files::KERNEL,
        kernel_file.size
    );
    let mut kernel = loader::load(kernel_file.bytes()).map_err(|e| format!("kernel.elf: {e}"))?;
    let initramfs = vol
        .load(files::INITRAMFS, mem::KERNEL_AND_MODULES)
        .map_err(|e| format!("initramfs.cpio: {e} ({})", files::INITRAMFS))?;
    uefi::println!(
        "wayboot: loading {} ({} bytes)",
        files::INITRAMFS,
        initramfs.size
    );
    let cmdline = vol
        .read_optional(files::CMDLINE)
        .map_err(|e| format!("cmdline.txt: {e} ({})", files::CMDLINE))?
        .map(|mut c| {
            while c.last().is_some_and(|b| b.is_ascii_whitespace() || *b == 0) {
                c.pop();
            }
            c
        })
        .unwrap_or_default();
    drop(vol);
    uefi::println!(
        "wayboot: cmdline: \"{}\"",
        String::from_utf8_lossy(&cmdline)
    );

    // Requests.
    let elf = wayos_kcore::elf::Elf::parse(kernel_file.bytes(), wayos_kcore::elf::EM_X86_64)
        .map_err(|e| format!("kernel.elf: {e}"))?;
    let section = elf
        .section_by_name(".limine_requests")
        .ok()
        .flatten()
        .and_then(|s| {
            let start = s.addr.checked_sub(kernel.virt_base)?;
            Some((start as usize, start.checked_add(s.size)? as usize))
        });
    let limit = kernel.size_before_bss as usize;
    let reqs = requests::scan(kernel.image_mut(), limit, section)
        .map_err(|e| format!("kernel.elf: {e}"))?;
    uefi::println!(
        "wayboot: kernel at {:#x} (physical {:#x}), entry {:#x}, base revision {} (asked {}), {} requests",
        kernel.virt_base,
        kernel.phys_base,
        kernel.entry,
        reqs.base_revision,
        reqs.requested_revision,
        reqs.count()
    );

    // Firmware facts.
    let rsdp = acpi::find_rsdp();
    let io_apics = rsdp.map(acpi::io_apics).unwrap_or_default();
    let display = gop::query();
    match &display {
        Some(d) => uefi::println!(
            "wayboot: framebuffer {}x{} {} bpp at {:#x}",
            d.current.width,
            d.current.height,
            d.current.bpp,
            d.address
        ),
        None => uefi::println!("wayboot: no linear framebuffer"),
    }

    // Responses (the memory map one is completed after ExitBootServices).
    let snapshot = memory_snapshot()?;
    let capacity = (snapshot.len() * 2 + 64).max(256);
    let mut arena = mem::Arena::new();
    let inputs = responses::Inputs {
        requests: &reqs,
        kernel_file,
        initramfs,
        cmdline: &cmdline,
        rsdp,
        display: display.as_ref(),
    };
    let answered = responses::answer(&mut arena, &mut kernel, &inputs, capacity)?;
    let oom = |what: &str, s: Status| format!("cannot allocate {what} ({s:?})");
    let stack_top =
        handoff::alloc_stack(mem::align_up(answered.stack_size, PAGE).unwrap_or(u64::MAX))
            .map_err(|s| oom("the kernel stack", s))?;
    let gdtr = handoff::build_gdt(&mut arena).map_err(|s| oom("the GDT", s))?;

    // Page tables.
    let tables = build_page_tables(
        &kernel,
        &snapshot,
        display.as_ref(),
        reqs.base_revision,
        cpu,
    )
    .map_err(|s| oom("page tables", s))?;

    uefi::println!(
        "wayboot: {} responses, stack {} KiB; exiting boot services and starting the kernel",
        answered.answered,
        answered.stack_size / 1024
    );

    let fb_entry = display.as_ref().map(|d| Entry {
        base: d.address,
        length: d.size(),
        typ: memmap::FRAMEBUFFER,
    });
    let jump = handoff::Jump {
        pml4: tables.root(),
        gdtr,
        entry: answered.entry,
        stack_top,
        unmap_lower_half: reqs.base_revision >= 1,
    };
    let image = kernel.image_mut();
    let mut memmap_slot = answered.memmap;
    drop(display);

    // SAFETY: no protocol or pool object is used past this point: the volume and GOP
    // were dropped, and from here on only memory wayboot allocated is touched.
    let final_map = unsafe { boot::exit_boot_services(Some(mem::RECLAIMABLE)) };

    if let Some(slot) = memmap_slot.as_mut() {
        let descriptors = final_map.entries().map(|d| Entry {
            base: d.phys_start,
            length: d.page_count.saturating_mul(PAGE),
            typ: memmap::limine_type(d.ty),
        });
        let n = memmap::build(slot.entries_mut(), descriptors, fb_entry);
        slot.publish(image, n);
    }
    handoff::mask_pics();
    for base in &io_apics {
        // SAFETY: the MADT lists these as I/O APICs; boot services (the only other
        // user) are gone and the firmware page tables still identity-map MMIO.
        unsafe { acpi::mask_io_apic(*base) };
    }
    // SAFETY: boot services are exited; `tables` maps the trampoline (identity), the
    // HHDM (GDT, stack, responses) and the kernel, whose entry `jump.entry` is.
    unsafe { handoff::jump(&jump) }
}

/// The UEFI memory map now, in Limine types (used to size the HHDM and the map).
fn memory_snapshot() -> Result<Vec<Entry>, String> {
    let map = boot::memory_map(MemoryType::LOADER_DATA)
        .map_err(|e| format!("cannot read the memory map ({:?})", e.status()))?;
    Ok(map
        .entries()
        .map(|d| Entry {
            base: d.phys_start,
            length: d.page_count.saturating_mul(PAGE),
            typ: memmap::limine_type(d.ty),
        })
        .collect())
}

/// The kernel's address space, as Limine builds it for base revision 0–2: the kernel
/// segments with their permissions; the first 4 GiB plus every memory map entry above
/// it (reserved and bad memory excepted from revision 1) in the HHDM and, for revision
/// 0, identity-mapped; the framebuffer write-combining; and, for the switch itself, the
/// first 4 GiB and the trampoline identity-mapped (removed again by the trampoline from
/// revision 1).
fn build_page_tables(
    kernel: &loader::Kernel,
    snapshot: &[Entry],
    display: Option<&gop::Display>,
    base_revision: u64,
    cpu: handoff::Cpu,
) -> Result<PageTables, Status> {
    let mut t = PageTables::new(cpu.gib_pages, cpu.nx)?;

    // Kernel: page by page, the union of the permissions of the segments on the page.
    let mut page = kernel.virt_base;
    while page < kernel.virt_base + kernel.size {
        let on_page = kernel
            .segments
            .iter()
            .filter(|s| s.vaddr < page + PAGE && page < s.vaddr + s.memsz);
        let mut any = false;
        let mut f = Flags {
            writable: false,
            executable: false,
            write_combining: false,
        };
        for s in on_page {
            any = true;
            f.writable |= s.writable;
            f.executable |= s.executable;
        }
        if any {
            t.map(page, kernel.phys_base + (page - kernel.virt_base), PAGE, f)?;
        }
        page += PAGE;
    }

    // Direct map (and identity map for revision 0).
    t.map(HHDM, 0, LOW_4G, Flags::RWX)?;
    if base_revision == 0 {
        t.map(PAGE, PAGE, LOW_4G - PAGE, Flags::RWX)?;
    } else {
        t.map(0, 0, LOW_4G, Flags::RWX)?;
    }
    for e in snapshot {
        if base_revision >= 1 && (e.typ == memmap::RESERVED || e.typ == memmap::BAD_MEMORY) {
            continue;
        }
        let base = e.base.max(LOW_4G);
        let end = e.end();
        if base >= end {
            continue;
        }
        let lo = mem::align_down(base, GIB);
        let hi = mem::align_up(end, GIB).unwrap_or(!(GIB - 1));
        t.map(HHDM + lo, lo, hi - lo, Flags::RWX)?;
        if base_revision == 0 {
            t.map(lo, lo, hi - lo, Flags::RWX)?;
        }
    }
    if let Some(d) = display {
        let lo = mem::align_down(d.address, PAGE);
        let hi = mem::align_up(d.address + d.size(), PAGE).unwrap_or(u64::MAX);
        let wc = Flags {
            write_combining: true,
            ..Flags::RWX
        };
        t.map(HHDM + lo, lo, hi - lo, wc)?;
        if base_revision == 0 {
            t.map(lo, lo, hi - lo, wc)?;
        }
    }

    // The trampoline, if the firmware loaded wayboot above the first 4 GiB.
    let tramp = mem::align_down(handoff::trampoline_addr(), PAGE);
    if tramp + 2 * PAGE > LOW_4G {
        t.map(tramp, tramp, 2 * PAGE, Flags::RWX)?;
        t.map(HHDM + tramp, tramp, 2 * PAGE, Flags::RWX)?;
    }
    Ok(t)
}
