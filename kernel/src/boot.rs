//! Keeps the [`BootInfo`] for the life of the kernel and logs what it says.

use spin::Once;
use wayos_kcore::boot_info::{BootInfo, FirmwareTables};

static BOOT_INFO: Once<BootInfo> = Once::new();

/// Stores the hand-off record; called once, from `kernel_main`.
pub fn install(info: BootInfo) -> &'static BootInfo {
    BOOT_INFO.call_once(|| info)
}

/// The hand-off record, once installed.
pub fn info() -> Option<&'static BootInfo> {
    BOOT_INFO.get()
}

pub fn log_summary(info: &BootInfo) {
    log::info!("loader: {}", info.loader.as_str());
    log::info!("command line: \"{}\"", info.cmdline());
    for r in info.memory_map.regions() {
        log::debug!(
            "  mem {:#014x}-{:#014x} {:>8} KiB {} tier{}",
            r.base,
            r.end(),
            r.len >> 10,
            r.kind.name(),
            r.tier
        );
    }
    if info.memory_map.dropped > 0 {
        log::warn!(
            "memory map: {} entries did not fit",
            info.memory_map.dropped
        );
    }
    log::info!(
        "memory: {} regions, {} MiB usable; direct map at {:#x}",
        info.memory_map.regions().len(),
        info.usable_memory() >> 20,
        info.hhdm_offset
    );
    log::info!(
        "kernel: phys {:#x} virt {:#x}; initramfs {} bytes",
        info.kernel_phys_base,
        info.kernel_virt_base,
        info.initramfs.len()
    );
    match info.firmware {
        FirmwareTables::Acpi { rsdp_phys } => log::info!("firmware: ACPI, RSDP at {rsdp_phys:#x}"),
        FirmwareTables::DeviceTree { dtb_phys } => {
            log::info!("firmware: device tree at {dtb_phys:#x}")
        }
        FirmwareTables::None => log::warn!("firmware: no ACPI or device tree"),
    }
    if let Some(fb) = info.framebuffer {
        log::info!(
            "framebuffer: {}x{} {}bpp at {:#x}",
            fb.width,
            fb.height,
            fb.bpp,
            fb.phys
        );
    }
}
