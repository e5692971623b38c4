//! Entry from a Limine-protocol loader (genuine Limine 8.x or `tools/wayboot`) and the
//! translation of its responses into the arch-neutral `BootInfo`.
//!
//! Nothing outside this file knows the Limine protocol. The kernel asks for base revision 2,
//! which Limine 8.x supports; under revision 2 response pointers (including the RSDP) are
//! direct-map virtual addresses.

use core::arch::global_asm;

use limine::memory_map::EntryType;
use limine::request::{
    BootloaderInfoRequest, ExecutableAddressRequest, ExecutableFileRequest, FramebufferRequest,
    HhdmRequest, MemoryMapRequest, ModuleRequest, RequestsEndMarker, RequestsStartMarker,
    RsdpRequest, StackSizeRequest,
};
use limine::BaseRevision;
use wayos_kcore::boot_info::{
    BootInfo, FirmwareTables, Framebuffer, LoaderName, MemoryKind, MemoryRegion,
};

use super::{acpi, gdt, mmu, serial, trampoline, trap, tsc};
use crate::mm::direct;
use wayos_kcore::paging::VirtAddr;

const BOOT_STACK_SIZE: usize = 256 * 1024;

#[used]
#[link_section = ".requests_start_marker"]
static REQUESTS_START: RequestsStartMarker = RequestsStartMarker::new();

#[used]
#[link_section = ".requests"]
static BASE_REVISION: BaseRevision = BaseRevision::with_revision(2);

#[used]
#[link_section = ".requests"]
static LOADER_INFO: BootloaderInfoRequest = BootloaderInfoRequest::new();

/// The loader's stack is only used until `_start` switches to `BOOT_STACK`, but Limine
/// requires the request to size it; 64 KiB is its default.
#[used]
#[link_section = ".requests"]
static STACK_SIZE: StackSizeRequest = StackSizeRequest::new().with_size(64 * 1024);

#[used]
#[link_section = ".requests"]
static HHDM: HhdmRequest = HhdmRequest::new();

#[used]
#[link_section = ".requests"]
static MEMORY_MAP: MemoryMapRequest = MemoryMapRequest::new();

#[used]
#[link_section = ".requests"]
static MODULES: ModuleRequest = ModuleRequest::new();

#[used]
#[link_section = ".requests"]
static RSDP: RsdpRequest = RsdpRequest::new();

#[used]
#[link_section = ".requests"]
static EXECUTABLE_ADDRESS: ExecutableAddressRequest = ExecutableAddressRequest::new();

#[used]
#[link_section = ".requests"]
static EXECUTABLE_FILE: ExecutableFileRequest = ExecutableFileRequest::new();

#[used]
#[link_section = ".requests"]
static FRAMEBUFFER: FramebufferRequest = FramebufferRequest::new();

#[used]
#[link_section = ".requests_end_marker"]
static REQUESTS_END: RequestsEndMarker = RequestsEndMarker::new();

#[repr(C, align(16))]
struct BootStack([u8; BOOT_STACK_SIZE]);

static mut BOOT_STACK: BootStack = BootStack([0; BOOT_STACK_SIZE]);

/// The boot stack's lowest address and size: `boottest` checks how deep it has been used
/// (it has no guard page, and an overflow would silently corrupt the `.bss` below it).
pub fn boot_stack() -> (usize, usize) {
    (core::ptr::addr_of!(BOOT_STACK) as usize, BOOT_STACK_SIZE)
}

// The loader jumps here with interrupts off on its own stack. Move to a stack inside the
// kernel image (so backtraces can bound their reads), end the frame chain, enter Rust.
global_asm!(
    r#"
.section .text._start, "ax"
.global _start
.type _start, @function
_start:
    lea rsp, [rip + {stack} + {size}]
    xor ebp, ebp
    call {entry}
    ud2
.size _start, . - _start
"#,
    stack = sym BOOT_STACK,
    size = const BOOT_STACK_SIZE,
    entry = sym x86_entry,
);

extern "C" fn x86_entry() -> ! {
    // First: `cpu_id` (which every log line reads) needs the GS base.
    gdt::init_boot_gs();
    serial::init();
    crate::klog::init();
    gdt::init();
    trap::init();
    log::info!("x86_64: entered at {:#x}", x86_entry as *const () as usize);
    if !BASE_REVISION.is_supported() {
        panic!(
            "the boot loader does not support Limine base revision 2 (need Limine 8.x or newer)"
        );
    }
    tsc::calibrate();
    mmu::record_kernel_root();
    let info = boot_info();
    crate::kernel_main(info)
}

fn loader_name() -> LoaderName {
    match LOADER_INFO.get_response() {
        Some(r) => LoaderName::new(r.name(), r.version()),
        None => LoaderName::new("unknown Limine-protocol loader", ""),
    }
}

fn memory_kind(t: EntryType) -> MemoryKind {
    match t {
        EntryType::USABLE => MemoryKind::Usable,
        EntryType::BOOTLOADER_RECLAIMABLE => MemoryKind::BootloaderReclaimable,
        EntryType::EXECUTABLE_AND_MODULES => MemoryKind::KernelAndModules,
        EntryType::ACPI_RECLAIMABLE => MemoryKind::AcpiReclaimable,
        EntryType::ACPI_NVS => MemoryKind::AcpiNvs,
        EntryType::BAD_MEMORY => MemoryKind::BadMemory,
        EntryType::FRAMEBUFFER => MemoryKind::Framebuffer,
        _ => MemoryKind::Reserved,
    }
}

fn boot_info() -> BootInfo {
    let mut info = BootInfo::new(loader_name());
    let hhdm = HHDM
        .get_response()
        .expect("the loader gave no HHDM response")
        .offset();
    info.hhdm_offset = hhdm;
    // Before anything below reads memory through the direct map (ACPI tables).
    crate::mm::direct::set_offset(hhdm);

    let map = MEMORY_MAP
        .get_response()
        .expect("the loader gave no memory map");
    for e in map.entries() {
        info.memory_map.push(MemoryRegion {
            base: e.base,
            len: e.length,
            kind: memory_kind(e.entry_type),
            tier: 0,
        });
    }

    // Low pages for the secondary CPUs' start-up code, before anything allocates.
    trampoline::reserve(&mut info.memory_map);

    if let Some(addr) = EXECUTABLE_ADDRESS.get_response() {
        info.kernel_phys_base = addr.physical_base();
        info.kernel_virt_base = addr.virtual_base();
    }

    if let Some(file) = EXECUTABLE_FILE.get_response() {
        info.set_cmdline(file.file().string().to_bytes());
    }

    match MODULES.get_response().map(|m| m.modules()) {
        Some([first, rest @ ..]) => {
            // SAFETY: the loader placed the module at `addr` (a direct-map address) with
            // `size` bytes, in memory typed executable-and-modules that nothing reuses.
            info.initramfs =
                unsafe { core::slice::from_raw_parts(first.addr(), first.size() as usize) };
            if !rest.is_empty() {
                log::warn!("{} extra boot modules ignored", rest.len());
            }
        }
        _ => log::warn!("no initramfs module: the loader was given none"),
    }

    if let Some(rsdp) = RSDP.get_response() {
        // Revision 2 hands the RSDP as a direct-map pointer; keep physical addresses only.
        let addr = rsdp.address() as u64;
        let phys = direct::to_phys(VirtAddr::new(addr)).map_or(addr, |pa| pa.as_u64());
        info.firmware = FirmwareTables::Acpi { rsdp_phys: phys };
        info.cpu_count = acpi::init(phys);
        acpi::memory_topology(phys, &mut info);
    }

    if let Some(fb) = FRAMEBUFFER
        .get_response()
        .and_then(|r| r.framebuffers().next())
    {
        info.framebuffer = Some(Framebuffer {
            phys: direct::to_phys(VirtAddr::new(fb.addr() as u64)).map_or(0, |pa| pa.as_u64()),
            width: fb.width() as u32,
            height: fb.height() as u32,
            pitch: fb.pitch() as u32,
            bpp: fb.bpp(),
        });
    }
    info
}
