//! The screen console: everything the kernel console writes, also drawn as text on a
//! screen — a virtio-gpu device (PCI, both arches), else on x86_64 the framebuffer the
//! loader left (UEFI GOP through wayboot or Limine). The user-facing description is
//! `docs/devices.md`, "Screen".
//!
//! Two halves, so the serial line (the primary console) is never slowed:
//! - [`feed`] (called by `console` under its lock, possibly in an interrupt handler)
//!   only updates a grid of character cells (`wayos_kcore::textgrid::Grid`: a few
//!   hundred nanoseconds per line, no drawing, no device access, no allocation, no
//!   wake-up of any thread);
//! - a kernel thread of low priority wakes at most [`FPS`] times a second, and only when
//!   the grid changed copies it (a short hold of the grid lock), draws the cells that
//!   differ from what it drew last (`textgrid::Shadow`; a scroll is a pixel move), and
//!   pushes the frame to the device (virtio-gpu `TRANSFER_TO_HOST_2D` + `RESOURCE_FLUSH`).
//!
//! Must never: take a lock that could already be held on the panic path ([`feed_panic`]
//! and [`panic_flush`] only try), draw in interrupt context, or panic on what a device
//! answers (a failed probe or flush is logged and the screen is given up).

pub mod selftest;
mod surface;
mod virtio;

use alloc::boxed::Box;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use spin::Once;
use wayos_abi::display::{CELL_HEIGHT, CELL_WIDTH};
use wayos_abi::stats::DisplayInfo;
use wayos_kcore::paging::PhysAddr;
use wayos_kcore::textgrid::{Grid, Shadow};

use self::surface::{Format, Surface};
use crate::error::{Errno, KResult};
use crate::sync::{IrqMutex, Mutex};
use crate::{arch, pci};

/// Most frames drawn and pushed per second. Each virtio-gpu frame is two synchronous
/// device requests the vCPU spins on while QEMU copies the whole 3 MiB frame, and a
/// scroll moves every pixel: under TCG on a busy host that is the screen's whole cost,
/// so it is held to 10 frames a second, plenty for a text console.
pub const FPS: u64 = 10;
const FRAME_NS: u64 = 1_000_000_000 / FPS;

/// What the console wrote, as text cells. Held only for a [`Grid::feed`] or a snapshot
/// copy; interrupts are off while held, so an interrupt handler's log line never spins
/// on a holder it interrupted.
static GRID: IrqMutex<Grid> = IrqMutex::new(Grid::new());
/// [`Grid::generation`] of the last feed, readable without the lock.
static CHANGED: AtomicU64 = AtomicU64::new(0);
/// Set once a screen was found and the grid sized: before that, [`feed`] does nothing
/// (boot messages before `init` are on the serial line and in the kernel log).
static LIVE: AtomicBool = AtomicBool::new(false);
/// Frames drawn and pushed.
static FRAMES: AtomicU64 = AtomicU64::new(0);
/// The grid generation the display thread drew last (the boot checks wait for it).
static DRAWN: AtomicU64 = AtomicU64::new(0);

/// Where frames go.
enum Sink {
    VirtioGpu(Box<virtio::Gpu>),
    /// The loader's framebuffer: drawn into directly, nothing to push.
    Framebuffer,
}

/// The screen: its pixels and where frames go.
struct Screen {
    surface: Surface,
    sink: Sink,
}

/// Everything the display thread draws with. A plain (not interrupt-masking) lock: only
/// the display thread takes it, and the panic path tries. The grids are large (tens of
/// KiB), so they live here rather than on a kernel stack.
struct Drawer {
    screen: Option<Screen>,
    /// What was drawn last.
    shadow: Shadow,
    /// The copy of [`GRID`] being drawn.
    snap: Grid,
}

static DRAWER: Mutex<Drawer> = Mutex::new(Drawer {
    screen: None,
    shadow: Shadow::new(),
    snap: Grid::new(),
});

/// What `info` reports; fixed once the screen is up.
struct Geometry {
    width: u32,
    height: u32,
    cols: u32,
    rows: u32,
    source: &'static str,
}

static GEOMETRY: Once<Geometry> = Once::new();

/// Mirrors `bytes` (console output, `\n` meaning a new line) on the screen, later.
/// Called under the console lock; never draws.
pub fn feed(bytes: &[u8]) {
    if !LIVE.load(Ordering::Acquire) {
        return;
    }
    let mut grid = GRID.lock();
    grid.feed(bytes);
    CHANGED.store(grid.generation(), Ordering::Release);
}

/// [`feed`] for the panic and fatal-trap paths: skipped when the grid is busy (the code
/// that crashed may hold it).
pub fn feed_panic(bytes: &[u8]) {
    if !LIVE.load(Ordering::Acquire) {
        return;
    }
    if let Some(mut grid) = GRID.try_lock() {
        grid.feed(bytes);
        CHANGED.store(grid.generation(), Ordering::Release);
    }
}

/// Draws and pushes what is pending now, from the panic path (the display thread will
/// not run again). Skipped when the screen or the grid is busy.
pub fn panic_flush() {
    if !LIVE.load(Ordering::Acquire) {
        return;
    }
    let Some(mut drawer) = DRAWER.try_lock() else {
        return;
    };
    let Some(grid) = GRID.try_lock() else {
        return;
    };
    let Drawer { screen, shadow, .. } = &mut *drawer;
    if let Some(screen) = screen.as_mut() {
        let _ = redraw(screen, shadow, &grid);
    }
}

/// The screen's size and frames so far (`stats(KIND_DISPLAY)`); `ENODEV` without one.
pub fn info() -> KResult<DisplayInfo> {
    let g = GEOMETRY.get().ok_or(Errno::ENODEV)?;
    let mut source = [0u8; 16];
    let n = g.source.len().min(source.len());
    source[..n].copy_from_slice(&g.source.as_bytes()[..n]);
    Ok(DisplayInfo {
        width: g.width,
        height: g.height,
        cols: g.cols,
        rows: g.rows,
        frames: FRAMES.load(Ordering::Relaxed),
        source,
    })
}

/// Finds a screen (virtio-gpu first, then on x86_64 the loader's framebuffer) and
/// starts the display thread. Called once at boot after `pci::init` and `task::init`.
pub fn init() {
    let found = find_virtio_gpu().or_else(loader_framebuffer);
    let Some((mut surface, sink, source)) = found else {
        log::info!("display: no screen (no virtio-gpu, no loader framebuffer)");
        return;
    };
    let (cols, rows) = surface.cells();
    if cols == 0 || rows == 0 {
        log::warn!("display: {source} is smaller than one text cell; not used");
        return;
    }
    surface.clear();
    // Sized before any feed (`LIVE` is set after); a huge screen uses the grid's most.
    let (cols, rows) = {
        let mut grid = GRID.lock();
        grid.resize(cols, rows);
        (grid.cols() as u32, grid.rows() as u32)
    };
    let geometry = GEOMETRY.call_once(|| Geometry {
        width: cols * CELL_WIDTH,
        height: rows * CELL_HEIGHT,
        cols,
        rows,
        source,
    });
    DRAWER.lock().screen = Some(Screen { surface, sink });
    match crate::task::thread::Thread::kernel(wayos_abi::sched::LOW, run) {
        Ok(t) => crate::task::sched::make_ready(t),
        Err(_) => {
            log::error!("display: no memory for its thread; the screen stays blank");
            return;
        }
    }
    LIVE.store(true, Ordering::Release);
    log::info!(
        "display: {source} {}x{}, text {cols}x{rows} cells of {CELL_WIDTH}x{CELL_HEIGHT}, \
         at most {FPS} frames/s",
        geometry.width,
        geometry.height
    );
}

/// The display thread: redraws when the grid changed, at most [`FPS`] times a second.
fn run() {
    crate::task::sched::current().set_kernel_wait(crate::task::thread::KernelWait::Screen);
    let mut drawn = None;
    loop {
        crate::task::sched::sleep_until(arch::uptime_ns().saturating_add(FRAME_NS));
        let want = CHANGED.load(Ordering::Acquire);
        if drawn == Some(want) {
            continue;
        }
        let mut drawer = DRAWER.lock();
        let Drawer {
            screen,
            shadow,
            snap,
        } = &mut *drawer;
        snap.copy_from(&GRID.lock());
        drawn = Some(snap.generation());
        let Some(s) = screen.as_mut() else {
            return;
        };
        if let Err(why) = redraw(s, shadow, snap) {
            log::error!("display: {why}; the screen is given up");
            LIVE.store(false, Ordering::Release);
            *screen = None;
            return;
        }
        DRAWN.store(snap.generation(), Ordering::Release);
    }
}

/// Draws what changed since `shadow` and pushes the frame.
fn redraw(s: &mut Screen, shadow: &mut Shadow, grid: &Grid) -> Result<(), &'static str> {
    let Screen { surface, sink } = s;
    if shadow.update(grid, |d| surface.draw(d)) == 0 {
        return Ok(());
    }
    if let Sink::VirtioGpu(gpu) = sink {
        gpu.flush()?;
    }
    FRAMES.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// The first virtio-gpu function that comes up, with its surface.
fn find_virtio_gpu() -> Option<(Surface, Sink, &'static str)> {
    for f in pci::functions() {
        if !virtio::is_gpu(f) {
            continue;
        }
        match virtio::Gpu::probe(f) {
            Ok((gpu, surface)) => return Some((surface, Sink::VirtioGpu(gpu), "virtio-gpu")),
            Err(why) => log::warn!(
                "display: virtio-gpu at {:02x}:{:02x}.{} not started: {why}",
                f.bus,
                f.dev,
                f.func
            ),
        }
    }
    None
}

/// The loader's framebuffer (x86_64 under UEFI GOP or Limine), 32 bits per pixel.
fn loader_framebuffer() -> Option<(Surface, Sink, &'static str)> {
    let fb = crate::boot::info()?.framebuffer?;
    if fb.bpp != 32 || fb.phys == 0 || fb.width == 0 || fb.height == 0 {
        log::info!(
            "display: loader framebuffer {}x{} {}bpp not usable (32 bpp only)",
            fb.width,
            fb.height,
            fb.bpp
        );
        return None;
    }
    let stride = fb.pitch as usize / 4;
    if stride < fb.width as usize {
        return None;
    }
    let bytes = fb.pitch as usize * fb.height as usize;
    let va = crate::mm::mmio(PhysAddr::new(fb.phys), bytes);
    let base = NonNull::new(va.as_u64() as usize as *mut u32)?;
    // SAFETY: `mm::mmio` mapped the `pitch * height` bytes the loader described as its
    // framebuffer, for the life of the kernel; nothing else in the kernel draws there.
    let surface = unsafe {
        Surface::new(
            base,
            fb.width as usize,
            fb.height as usize,
            stride,
            // The loader does not hand the channel order on; both colours of
            // `abi::display` are greys, which look the same in either order.
            Format::XRGB,
        )
    };
    Some((surface, Sink::Framebuffer, "framebuffer"))
}
