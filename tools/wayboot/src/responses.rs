//! The Limine response structures and how wayboot fills them.
//!
//! Layouts follow the Limine protocol (and `limine.h`) field for field. Every response
//! and everything it points to lives in bootloader-reclaimable memory (the [`Arena`]),
//! and every pointer is reported as an HHDM virtual address, as base revision 2 says.
//! Requests wayboot does not implement keep their null response pointer.

use alloc::string::String;
use core::mem::size_of;

use crate::files::Loaded;
use crate::gop::Display;
use crate::loader::Kernel;
use crate::mem::Arena;
use crate::memmap::Entry;
use crate::requests::{self, read_u64, write_u64, Kind, Requests};

/// Start of the higher half direct map (4-level paging).
pub const HHDM: u64 = 0xffff_8000_0000_0000;
/// Stack given to the kernel unless it asks for more (Limine's default).
pub const DEFAULT_STACK: u64 = 64 * 1024;
/// Value of `firmware_type` for 64-bit UEFI.
const FIRMWARE_UEFI64: u64 = 2;
/// `memory_model` of an RGB framebuffer.
const MEMORY_MODEL_RGB: u8 = 1;

/// Path reported for the kernel file.
pub const KERNEL_PATH: &[u8] = b"/wayos/kernel.elf";
/// Path and string reported for module 0.
pub const INITRAMFS_PATH: &[u8] = b"/wayos/initramfs.cpio";
pub const INITRAMFS_STRING: &[u8] = b"initramfs";

/// The HHDM virtual address of a physical address.
pub fn virt(phys: u64) -> u64 {
    phys + HHDM
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Revision {
    revision: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct BootloaderInfoResponse {
    revision: u64,
    name: u64,
    version: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct ValueResponse {
    revision: u64,
    value: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct ListResponse {
    revision: u64,
    count: u64,
    list: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct ExecutableAddressResponse {
    revision: u64,
    physical_base: u64,
    virtual_base: u64,
}

/// `struct limine_file`.
#[repr(C)]
#[derive(Clone, Copy)]
struct File {
    revision: u64,
    address: u64,
    size: u64,
    path: u64,
    string: u64,
    media_type: u32,
    unused: u32,
    tftp_ip: u32,
    tftp_port: u32,
    partition_index: u32,
    mbr_disk_id: u32,
    gpt_disk_uuid: [u8; 16],
    gpt_part_uuid: [u8; 16],
    part_uuid: [u8; 16],
}

/// `struct limine_framebuffer` (revision 1 layout).
#[repr(C)]
#[derive(Clone, Copy)]
struct Framebuffer {
    address: u64,
    width: u64,
    height: u64,
    pitch: u64,
    bpp: u16,
    memory_model: u8,
    masks: [u8; 6],
    unused: [u8; 7],
    edid_size: u64,
    edid: u64,
    mode_count: u64,
    modes: u64,
}

/// `struct limine_video_mode`.
#[repr(C)]
#[derive(Clone, Copy)]
struct VideoMode {
    pitch: u64,
    width: u64,
    height: u64,
    bpp: u16,
    memory_model: u8,
    masks: [u8; 6],
}

const _: () = {
    assert!(size_of::<File>() == 112);
    assert!(size_of::<Framebuffer>() == 80);
    assert!(size_of::<VideoMode>() == 40);
    assert!(size_of::<Entry>() == 24);
};

/// What the responses are made from.
pub struct Inputs<'a> {
    pub requests: &'a Requests,
    pub kernel_file: Loaded,
    pub initramfs: Loaded,
    pub cmdline: &'a [u8],
    pub rsdp: Option<u64>,
    pub display: Option<&'a Display>,
}

/// Where the memory map response goes once the final map is known.
pub struct MemmapSlot {
    request: usize,
    response: u64,
    entries: u64,
    list: u64,
    capacity: usize,
}

/// Results of answering the requests that shape the hand-off.
pub struct Answered {
    /// Where the kernel starts (ELF entry, or the entry point request's).
    pub entry: u64,
    /// Stack size to give the kernel.
    pub stack_size: u64,
    pub memmap: Option<MemmapSlot>,
    /// How many responses were written (memory map included).
    pub answered: usize,
}

/// Fills every implemented response except the memory map, for which it reserves room
/// for `memmap_capacity` entries (the map is only final after ExitBootServices).
pub fn answer(
    arena: &mut Arena,
    kernel: &mut Kernel,
    inp: &Inputs<'_>,
    memmap_capacity: usize,
) -> Result<Answered, String> {
    let oom = |s: uefi::Status| alloc::format!("out of memory for the Limine responses ({s:?})");
    let r = inp.requests;
    let mut out = Answered {
        entry: kernel.entry,
        stack_size: DEFAULT_STACK,
        memmap: None,
        answered: 0,
    };
    let image = kernel.image_mut();

    if let Some(off) = r.get(Kind::BootloaderInfo) {
        let name = arena.put_cstr(b"wayboot").map_err(oom)?;
        let version = arena
            .put_cstr(env!("CARGO_PKG_VERSION").as_bytes())
            .map_err(oom)?;
        let resp = BootloaderInfoResponse {
            revision: 0,
            name: virt(name),
            version: virt(version),
        };
        respond(image, &mut out.answered, off, arena.put(resp).map_err(oom)?);
    }

    if let Some(off) = r.get(Kind::FirmwareType) {
        let resp = ValueResponse {
            revision: 0,
            value: FIRMWARE_UEFI64,
        };
        respond(image, &mut out.answered, off, arena.put(resp).map_err(oom)?);
    }

    if let Some(off) = r.get(Kind::ExecutableAddress) {
        let resp = ExecutableAddressResponse {
            revision: 0,
            physical_base: kernel.phys_base,
            virtual_base: kernel.virt_base,
        };
        respond(image, &mut out.answered, off, arena.put(resp).map_err(oom)?);
    }

    if let Some(off) = r.get(Kind::Hhdm) {
        let resp = ValueResponse {
            revision: 0,
            value: HHDM,
        };
        respond(image, &mut out.answered, off, arena.put(resp).map_err(oom)?);
    }

    if let Some(off) = r.get(Kind::PagingMode) {
        // Revision 1 adds max_mode and min_mode after mode. wayboot only does 4-level
        // (mode 0); a kernel whose minimum is 5-level cannot be booted.
        let min_mode = if read_u64(image, off + requests::REVISION) >= 1
            && off + requests::EXTRA + 24 <= kernel.size_before_bss as usize
        {
            read_u64(image, off + requests::EXTRA + 16)
        } else {
            0
        };
        if min_mode > 0 {
            return Err(String::from(
                "kernel.elf: the kernel requires 5-level paging, which wayboot does not provide",
            ));
        }
        let resp = ValueResponse {
            revision: 0,
            value: 0,
        };
        respond(image, &mut out.answered, off, arena.put(resp).map_err(oom)?);
    }

    if let Some(off) = r.get(Kind::Rsdp) {
        // Limine leaves the response null when there is no RSDP. Under base revision 2
        // the address is an HHDM virtual address.
        if let Some(rsdp) = inp.rsdp {
            let resp = ValueResponse {
                revision: 0,
                value: virt(rsdp),
            };
            respond(image, &mut out.answered, off, arena.put(resp).map_err(oom)?);
        }
    }

    if let Some(off) = r.get(Kind::StackSize) {
        let asked = read_u64(image, off + requests::EXTRA);
        out.stack_size = out.stack_size.max(asked);
        respond(
            image,
            &mut out.answered,
            off,
            arena.put(Revision { revision: 0 }).map_err(oom)?,
        );
    }
    out.stack_size = crate::mem::align_up(out.stack_size, 16)
        .ok_or_else(|| String::from("kernel.elf: requested stack size overflows"))?;

    if let Some(off) = r.get(Kind::EntryPoint) {
        let entry = read_u64(image, off + requests::EXTRA);
        if kernel.phys_of(entry).is_none() {
            return Err(alloc::format!(
                "kernel.elf: the entry point request names {entry:#x}, outside the kernel image"
            ));
        }
        out.entry = entry;
        respond(
            image,
            &mut out.answered,
            off,
            arena.put(Revision { revision: 0 }).map_err(oom)?,
        );
    }

    if let Some(off) = r.get(Kind::ExecutableFile) {
        let string = arena.put_cstr(inp.cmdline).map_err(oom)?;
        let file = put_file(arena, inp.kernel_file, KERNEL_PATH, string).map_err(oom)?;
        let resp = ValueResponse {
            revision: 0,
            value: virt(file),
        };
        respond(image, &mut out.answered, off, arena.put(resp).map_err(oom)?);
    }

    if let Some(off) = r.get(Kind::Module) {
        // Internal modules (request revision 1) are not supported and are ignored.
        let string = arena.put_cstr(INITRAMFS_STRING).map_err(oom)?;
        let file = put_file(arena, inp.initramfs, INITRAMFS_PATH, string).map_err(oom)?;
        let list = arena.put(virt(file)).map_err(oom)?;
        let resp = ListResponse {
            revision: 1,
            count: 1,
            list: virt(list),
        };
        respond(image, &mut out.answered, off, arena.put(resp).map_err(oom)?);
    }

    if let Some(off) = r.get(Kind::Framebuffer) {
        if let Some(d) = inp.display {
            let modes = arena.alloc((d.modes.len() * 8) as u64).map_err(oom)?;
            for (i, m) in d.modes.iter().enumerate() {
                let mode = VideoMode {
                    pitch: m.pitch,
                    width: m.width,
                    height: m.height,
                    bpp: m.bpp,
                    memory_model: MEMORY_MODEL_RGB,
                    masks: m.masks,
                };
                let at = arena.put(mode).map_err(oom)?;
                // SAFETY: `modes` has room for one pointer per mode, 8-byte aligned.
                unsafe { ((modes + 8 * i as u64) as *mut u64).write(virt(at)) };
            }
            let cur = &d.current;
            let fb = Framebuffer {
                address: virt(d.address),
                width: cur.width,
                height: cur.height,
                pitch: cur.pitch,
                bpp: cur.bpp,
                memory_model: MEMORY_MODEL_RGB,
                masks: cur.masks,
                unused: [0; 7],
                edid_size: 0,
                edid: 0,
                mode_count: d.modes.len() as u64,
                modes: virt(modes),
            };
            let fb = arena.put(fb).map_err(oom)?;
            let list = arena.put(virt(fb)).map_err(oom)?;
            let resp = ListResponse {
                revision: 1,
                count: 1,
                list: virt(list),
            };
            respond(image, &mut out.answered, off, arena.put(resp).map_err(oom)?);
        }
    }

    if let Some(off) = r.get(Kind::MemoryMap) {
        let cap = memmap_capacity as u64;
        let entries = arena.alloc(cap * size_of::<Entry>() as u64).map_err(oom)?;
        let list = arena.alloc(cap * 8).map_err(oom)?;
        let response = arena.alloc(size_of::<ListResponse>() as u64).map_err(oom)?;
        out.memmap = Some(MemmapSlot {
            request: off,
            response,
            entries,
            list,
            capacity: memmap_capacity,
        });
        out.answered += 1;
    }
    Ok(out)
}

/// Points the request at `off` to the response at physical address `phys`.
fn respond(image: &mut [u8], answered: &mut usize, off: usize, phys: u64) {
    write_u64(image, off + requests::RESPONSE, virt(phys));
    *answered += 1;
}

fn put_file(arena: &mut Arena, f: Loaded, path: &[u8], string: u64) -> Result<u64, uefi::Status> {
    let path = arena.put_cstr(path)?;
    arena.put(File {
        revision: 0,
        address: virt(f.addr),
        size: f.size,
        path: virt(path),
        string: virt(string),
        media_type: 0,
        unused: 0,
        tftp_ip: 0,
        tftp_port: 0,
        partition_index: 0,
        mbr_disk_id: 0,
        gpt_disk_uuid: [0; 16],
        gpt_part_uuid: [0; 16],
        part_uuid: [0; 16],
    })
}

impl MemmapSlot {
    /// The reserved entry storage, to build the final map in place.
    pub fn entries_mut(&mut self) -> &'static mut [Entry] {
        // SAFETY: `entries` is a reclaimable arena allocation of `capacity` entries,
        // 8-byte aligned, referenced from nowhere else.
        unsafe { core::slice::from_raw_parts_mut(self.entries as *mut Entry, self.capacity) }
    }

    /// Publishes the first `count` entries: fills the pointer list and the response and
    /// points the request at it. Allocates nothing (runs after ExitBootServices).
    pub fn publish(&self, image: &mut [u8], count: usize) {
        let count = count.min(self.capacity);
        for i in 0..count {
            let entry = self.entries + (i * size_of::<Entry>()) as u64;
            // SAFETY: `list` has room for `capacity` pointers, 8-byte aligned.
            unsafe { ((self.list + 8 * i as u64) as *mut u64).write(virt(entry)) };
        }
        let resp = ListResponse {
            revision: 0,
            count: count as u64,
            list: virt(self.list),
        };
        // SAFETY: `response` is an arena allocation sized for a `ListResponse`.
        unsafe { (self.response as *mut ListResponse).write(resp) };
        write_u64(
            image,
            self.request + requests::RESPONSE,
            virt(self.response),
        );
    }
}
