//! One virtio-gpu device through `virtio-drivers` (`VirtIOGpu` over the PCI transport):
//! a 2D resource of `abi::display::WIDTH` x `HEIGHT` pixels (B8G8R8A8) on scanout 0,
//! backed by DMA memory the kernel draws into, pushed to the host with each
//! [`Gpu::flush`].
//!
//! The crate's requests are synchronous (it polls the control queue for the answer), so
//! no interrupt is routed: only the display thread calls [`Gpu::flush`], at most
//! `display::FPS` times a second. Must never: touch the backing memory except through
//! the one [`Surface`] made here, or drop the device while that surface is in use (the
//! display keeps both for the life of the kernel).

use alloc::boxed::Box;
use core::ptr::NonNull;

use virtio_drivers::device::gpu::VirtIOGpu;
use virtio_drivers::transport::pci::PciTransport;
use wayos_abi::display::{HEIGHT, WIDTH};

use super::surface::{Format, Surface};
use crate::pci::{self, hal::KernelHal};

/// PCI vendor and device ids of virtio-gpu (modern only: there is no transitional one).
const VIRTIO_VENDOR: u16 = 0x1af4;
const VIRTIO_GPU_ID: u16 = 0x1050;

/// Whether PCI function `f` is a virtio-gpu.
pub fn is_gpu(f: &pci::Function) -> bool {
    f.vendor == VIRTIO_VENDOR && f.device == VIRTIO_GPU_ID
}

/// A driven virtio-gpu.
pub struct Gpu {
    dev: VirtIOGpu<KernelHal, PciTransport>,
}

impl Gpu {
    /// Takes over function `f` (reset first: UEFI's GOP driver may have driven it), sets
    /// up the framebuffer resource and returns the device with a surface on its memory.
    pub fn probe(f: &pci::Function) -> Result<(Box<Gpu>, Surface), &'static str> {
        let transport = pci::virtio_transport(f, "virtio-gpu")?;
        let mut gpu = Box::new(Gpu {
            dev: VirtIOGpu::new(transport).map_err(|e| {
                log::warn!("display: virtio-gpu: {e}");
                "device initialisation failed"
            })?,
        });
        let fb = gpu.dev.change_resolution(WIDTH, HEIGHT).map_err(|e| {
            log::warn!("display: virtio-gpu: {e}");
            "no framebuffer resource (device refused, or no memory)"
        })?;
        let pixels = (WIDTH * HEIGHT) as usize;
        if fb.len() < pixels * 4 || fb.as_ptr().align_offset(4) != 0 {
            return Err("framebuffer resource smaller than asked");
        }
        let base = NonNull::new(fb.as_mut_ptr().cast::<u32>()).ok_or("null framebuffer")?;
        // SAFETY: `change_resolution` returned the resource's backing memory, at least
        // `WIDTH * HEIGHT` 4-byte aligned pixels (checked above). It stays allocated while
        // the device lives (the crate frees it only on another `change_resolution` or
        // drop, and the display never does either), and only the surface writes it: the
        // slice `fb` is not used past this point.
        let surface = unsafe {
            Surface::new(
                base,
                WIDTH as usize,
                HEIGHT as usize,
                WIDTH as usize,
                Format::ARGB,
            )
        };
        Ok((gpu, surface))
    }

    /// Copies the whole frame to the host resource and shows it.
    pub fn flush(&mut self) -> Result<(), &'static str> {
        self.dev.flush().map_err(|e| {
            log::warn!("display: virtio-gpu flush: {e}");
            "the device refused a flush"
        })
    }
}
