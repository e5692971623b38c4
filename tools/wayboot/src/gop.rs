//! The framebuffer, from the UEFI Graphics Output Protocol.
//!
//! wayboot keeps the mode the firmware set and describes it (address, size, pitch, bits
//! per pixel, channel masks), together with the list of the GOP's other linear modes,
//! for the Limine framebuffer response. No GOP, or a blit-only mode, means no
//! framebuffer.

use alloc::vec::Vec;
use uefi::boot::{self, OpenProtocolAttributes, OpenProtocolParams};
use uefi::proto::console::gop::{GraphicsOutput, ModeInfo, PixelFormat};

/// One video mode, in Limine terms.
#[derive(Clone, Copy, Debug)]
pub struct ModeDesc {
    pub width: u64,
    pub height: u64,
    /// Bytes per scan line.
    pub pitch: u64,
    pub bpp: u16,
    /// Red, green, blue mask sizes and shifts: `[r_size, r_shift, g_size, g_shift,
    /// b_size, b_shift]`.
    pub masks: [u8; 6],
}

/// The display wayboot hands over.
pub struct Display {
    /// Physical address of the framebuffer.
    pub address: u64,
    pub current: ModeDesc,
    pub modes: Vec<ModeDesc>,
}

impl Display {
    /// Bytes of framebuffer memory in use (`pitch * height`).
    pub fn size(&self) -> u64 {
        self.current.pitch * self.current.height
    }
}

fn mask(m: u32) -> (u8, u8) {
    if m == 0 {
        (0, 0)
    } else {
        (m.count_ones() as u8, m.trailing_zeros() as u8)
    }
}

fn describe(info: &ModeInfo) -> Option<ModeDesc> {
    let (w, h) = info.resolution();
    let (bpp, masks) = match info.pixel_format() {
        PixelFormat::Rgb => (32u16, [8, 0, 8, 8, 8, 16]),
        PixelFormat::Bgr => (32u16, [8, 16, 8, 8, 8, 0]),
        PixelFormat::Bitmask => {
            let bm = info.pixel_bitmask()?;
            let all = bm.red | bm.green | bm.blue | bm.reserved;
            let bits = 32 - all.leading_zeros();
            let (rs, rsh) = mask(bm.red);
            let (gs, gsh) = mask(bm.green);
            let (bs, bsh) = mask(bm.blue);
            ((bits.div_ceil(8) * 8) as u16, [rs, rsh, gs, gsh, bs, bsh])
        }
        PixelFormat::BltOnly => return None,
    };
    if bpp == 0 {
        return None;
    }
    Some(ModeDesc {
        width: w as u64,
        height: h as u64,
        pitch: info.stride() as u64 * u64::from(bpp / 8),
        bpp,
        masks,
    })
}

/// The current GOP mode and framebuffer, if there is a linear one.
pub fn query() -> Option<Display> {
    let handle = boot::get_handle_for_protocol::<GraphicsOutput>().ok()?;
    // SAFETY: opened non-exclusively (the console keeps drawing through it); wayboot
    // only reads mode information and the framebuffer address, and drops the protocol
    // before ExitBootServices.
    let mut gop = unsafe {
        boot::open_protocol::<GraphicsOutput>(
            OpenProtocolParams {
                handle,
                agent: boot::image_handle(),
                controller: None,
            },
            OpenProtocolAttributes::GetProtocol,
        )
    }
    .ok()?;
    let current = describe(&gop.current_mode_info())?;
    let modes = gop.modes().filter_map(|m| describe(m.info())).collect();
    let address = gop.frame_buffer().as_mut_ptr() as u64;
    Some(Display {
        address,
        current,
        modes,
    })
}
