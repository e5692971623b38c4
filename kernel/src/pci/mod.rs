//! PCI: finds every function behind the host bridge the firmware describes, gives each
//! memory BAR an address where no firmware did, routes interrupts, and lists it all.
//!
//! - [`init`] (boot CPU, once, after `arch::init_late` and before any driver) maps the
//!   ECAM window of `arch::pci_host()` ([`ecam`]), walks bus `bus_start` and every bus
//!   behind a PCI-to-PCI bridge ([`enumerate`]), and freezes the result: [`functions`]
//!   is a `'static` slice that never changes after boot.
//! - Drivers pick their function from [`functions`], claim it with [`bind`] (which turns
//!   on memory decoding and bus mastering, and names the driver for `lspci`), reach its
//!   registers through [`with_root`] (a `virtio_drivers` `PciRoot` on our [`Ecam`]) or
//!   [`ecam`], and ask for an interrupt with [`enable_interrupt`]: MSI-X where the
//!   function has it and the arch has a message target (x86_64), else the INTx line
//!   the firmware's interrupt map gives (aarch64), else `ENXIO` (the driver polls).
//! - `pci_list` ([`snapshot`]) reports the functions to user space.
//!
//! Nothing here runs on a user's behalf except [`snapshot`], which only reads. The
//! function table is built once from firmware and hardware data; anything implausible
//! there (a bus outside the window, a BAR that does not fit) is logged and left out,
//! never a panic. Interrupt handlers run in interrupt context and must be short.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use spin::Once;
use virtio_drivers::transport::pci::bus::{Command, DeviceFunction, PciRoot};
use wayos_abi::net::{self, PciDevice, IRQ_INTX, IRQ_MSIX};
use wayos_kcore::pci::{HostBridge, MsixCap, Trigger};

use crate::arch;
use crate::error::{Errno, KResult};
use crate::sync::Mutex;

mod enumerate;
pub mod hal;
mod msix;
pub mod selftest;
mod virtio;

mod ecam;
pub use ecam::Ecam;
pub use virtio::{virtio_msix_route, virtio_transport};

/// PCI capability id of MSI-X.
const CAP_MSIX: u8 = 0x11;
/// Most functions kept (what `pci_list` can report).
pub const MAX_FUNCTIONS: usize = net::MAX_PCI_DEVICES;

/// One PCI function as found at boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    pub bus: u8,
    pub dev: u8,
    pub func: u8,
    pub vendor: u16,
    pub device: u16,
    pub class: u8,
    pub subclass: u8,
    pub prog_if: u8,
    pub revision: u8,
    /// Without the multi-function bit: 0 device, 1 PCI-to-PCI bridge, 2 CardBus bridge.
    pub header_type: u8,
    /// CPU physical address of each BAR as assigned (0: unused or unassigned; a 64-bit
    /// BAR fills its first slot, the second reads 0). An I/O BAR holds its port number
    /// with [`net::PCI_BAR_IO`] set.
    pub bars: [u64; 6],
    /// Size of each BAR in bytes (0: unused).
    pub bar_sizes: [u64; 6],
    /// Bit `i` set: BAR `i` is an I/O-space BAR (assigned or not).
    pub io_bars: u8,
    /// The INTx line the firmware's interrupt map routes this function's pin to (GIC
    /// INTID on aarch64), `None` when it has no pin or the map does not say.
    pub irq: Option<u32>,
    /// Whether that line is level-triggered (PCI INTx always is).
    pub irq_level: bool,
    /// The interrupt pin, 1 = INTA .. 4 = INTD, 0 = none.
    pub pin: u8,
    /// The MSI-X capability: its config-space offset and decoded fields.
    pub msix: Option<(u8, MsixCap)>,
    /// PCI bus address minus CPU address of the window holding the memory BARs (0 on
    /// every machine the kernel knows; `virtio_drivers` assumes it is).
    pub bus_offset: u64,
}

impl Function {
    pub fn device_function(&self) -> DeviceFunction {
        DeviceFunction {
            bus: self.bus,
            device: self.dev,
            function: self.func,
        }
    }

    /// `bus << 8 | dev << 3 | func`, as the ABI writes a PCI address.
    pub fn address(&self) -> u32 {
        u32::from(self.bus) << 8 | u32::from(self.dev) << 3 | u32::from(self.func)
    }

    /// Whether any memory BAR has an address.
    fn has_memory(&self) -> bool {
        self.bars
            .iter()
            .any(|&b| b != 0 && b & net::PCI_BAR_IO == 0)
    }

    fn has_io(&self) -> bool {
        self.bars.iter().any(|&b| b & net::PCI_BAR_IO != 0)
    }
}

/// How [`enable_interrupt`] routed a function's interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqRoute {
    /// [`net::IRQ_MSIX`] or [`net::IRQ_INTX`].
    pub mode: u8,
    /// The line: x86_64 IDT vector (MSI-X), aarch64 GIC INTID (INTx).
    pub line: u32,
    /// The MSI-X table entry programmed (always 0 now): what a virtio driver writes into
    /// its queues' `queue_msix_vector` ([`virtio_msix_route`] does it).
    pub msix_vector_index: Option<u16>,
}

impl IrqRoute {
    /// Re-enables a level-triggered INTx line after its handler ran and the driver made
    /// its device drop the line (for virtio: read the ISR status). The arch masks such a
    /// line before each handler call so that a device which stays asserted cannot storm.
    /// Does nothing for MSI-X (edge-triggered, never masked). Any context.
    pub fn unmask(&self) {
        if self.mode == IRQ_INTX {
            arch::irq_unmask_line(self.line);
        }
    }
}

/// What changes after boot: the driver bound to each function and the interrupt line it
/// got, by index in [`functions`].
struct Binding {
    driver: [u8; 16],
    irq: u32,
}

const UNBOUND: Binding = Binding {
    driver: [0; 16],
    irq: u32::MAX,
};

struct Bus {
    host: HostBridge,
    ecam: Ecam,
    functions: Vec<Function>,
}

static BUS: Once<Bus> = Once::new();
/// Driver names and interrupt lines (small; never held across a user copy).
static BINDINGS: Mutex<[Binding; MAX_FUNCTIONS]> = Mutex::new([UNBOUND; MAX_FUNCTIONS]);
/// Serializes configuration writes that drivers make through [`with_root`] (BAR sizing
/// and capability updates are read-modify-write sequences).
static CONFIG: Mutex<()> = Mutex::new(());
/// Functions found (for the boot log and the self-test).
static FOUND: AtomicU32 = AtomicU32::new(0);

/// Enumerates the PCI bus. Boot CPU, once, after `arch::init_late`, before drivers.
/// Without a host bridge (or with an unusable one) the function table stays empty.
pub fn init() {
    let Some(host) = arch::pci_host() else {
        log::info!("pci: no host bridge described by the firmware");
        return;
    };
    if host.bus_start > host.bus_end {
        log::warn!(
            "pci: bus range {}-{} is empty; PCI left alone",
            host.bus_start,
            host.bus_end
        );
        return;
    }
    let ecam = Ecam::map(&host);
    let functions = enumerate::scan(ecam, &host);
    FOUND.store(functions.len() as u32, Ordering::Relaxed);
    log::info!(
        "pci: ECAM at {:#x}, buses {}-{}: {} function{}{}",
        host.ecam_phys + (u64::from(host.bus_start) << 20),
        host.bus_start,
        host.bus_end,
        functions.len(),
        if functions.len() == 1 { "" } else { "s" },
        if host.assign_bars {
            ", BARs assigned by the kernel"
        } else {
            ""
        }
    );
    for f in &functions {
        log::info!(
            "pci: {:02x}:{:02x}.{} {:04x}:{:04x} class {:02x}{:02x}{}{}",
            f.bus,
            f.dev,
            f.func,
            f.vendor,
            f.device,
            f.class,
            f.subclass,
            f.irq
                .map_or(alloc::string::String::new(), |l| alloc::format!(
                    " INTx pin {} -> line {l}",
                    f.pin
                )),
            if f.msix.is_some() { " MSI-X" } else { "" }
        );
    }
    BUS.call_once(|| Bus {
        host,
        ecam,
        functions,
    });
}

/// Every function found at boot, in bus order (empty before [`init`] or without PCI).
pub fn functions() -> &'static [Function] {
    BUS.get().map_or(&[], |b| b.functions.as_slice())
}

/// The host bridge [`init`] used.
pub fn host() -> Option<&'static HostBridge> {
    BUS.get().map(|b| &b.host)
}

/// The mapped ECAM window, for `virtio_drivers::transport::pci::bus::MmioCam::new(
/// ecam.virt as *mut u8, Cam::Ecam)`. Prefer [`with_root`], which uses the checked
/// [`Ecam`] accessor and serializes configuration writes.
pub fn ecam() -> Option<Ecam> {
    BUS.get().map(|b| b.ecam)
}

/// Runs `f` with a `PciRoot` over the ECAM window, configuration writes serialized with
/// every other user of this function (e.g. `PciTransport::new::<H, _>(root, df)`).
/// `None` without PCI. Not from interrupt context.
pub fn with_root<R>(f: impl FnOnce(&mut PciRoot<Ecam>) -> R) -> Option<R> {
    let ecam = BUS.get()?.ecam;
    let _g = CONFIG.lock();
    Some(f(&mut PciRoot::new(ecam)))
}

fn index_of(bus: u8, dev: u8, func: u8) -> Option<usize> {
    functions()
        .iter()
        .position(|f| (f.bus, f.dev, f.func) == (bus, dev, func))
}

/// Claims `bus:dev.func` for `driver` (shown by `lspci`, at most 15 bytes kept): enables
/// memory decoding (and I/O decoding if it has I/O BARs) and bus mastering, so the device
/// may be driven and may DMA. A function that was not found is logged and ignored.
pub fn bind(bus: u8, dev: u8, func: u8, driver: &'static str) {
    let Some(i) = index_of(bus, dev, func) else {
        log::warn!("pci: bind of absent function {bus:02x}:{dev:02x}.{func} by {driver}");
        return;
    };
    let f = functions()[i];
    set_decoding(&f);
    let mut name = [0u8; 16];
    let n = driver.len().min(15);
    name[..n].copy_from_slice(&driver.as_bytes()[..n]);
    BINDINGS.lock()[i].driver = name;
    log::info!("pci: {bus:02x}:{dev:02x}.{func} bound to {driver}");
}

/// Turns on memory (and I/O) decoding and bus mastering for `f`.
fn set_decoding(f: &Function) {
    with_root(|root| {
        let df = f.device_function();
        let (_, mut cmd) = root.get_status_command(df);
        cmd |= Command::BUS_MASTER;
        if f.has_memory() {
            cmd |= Command::MEMORY_SPACE;
        }
        if f.has_io() {
            cmd |= Command::IO_SPACE;
        }
        root.set_command(df, cmd);
    });
}

/// Routes `f`'s interrupt to `handler` (interrupt context, interrupts off, on the boot
/// CPU; keep it short: wake a thread). MSI-X first (entry 0, INTx disabled), else the
/// INTx line of the firmware's interrupt map. `ENXIO` when neither exists (poll), `EBUSY`
/// when the line already has a handler, `ENOSPC` when the arch has no vector left.
/// For INTx see [`IrqRoute::unmask`].
pub fn enable_interrupt(f: &Function, handler: fn()) -> KResult<IrqRoute> {
    let index = index_of(f.bus, f.dev, f.func).ok_or(Errno::ENXIO)?;
    let f = functions()[index];
    let msi = if f.msix.is_some() {
        arch::msi_alloc(handler)
    } else {
        None
    };
    let route = match (f.msix, msi) {
        (Some((cap_at, cap)), Some((line, msg))) => {
            set_decoding(&f);
            msix::enable(&f, cap_at, &cap, 0, msg)?;
            IrqRoute {
                mode: IRQ_MSIX,
                line,
                msix_vector_index: Some(0),
            }
        }
        _ => {
            let line = f.irq.ok_or(Errno::ENXIO)?;
            let trigger = Trigger {
                level: f.irq_level,
                // Device-tree lines are active high (the GIC has no polarity for SPIs).
                active_low: false,
            };
            arch::irq_enable_line(line, trigger, handler).map_err(|e| {
                log::warn!("pci: cannot enable line {line}: {e}");
                Errno::EBUSY
            })?;
            msix::intx_enable(&f, true);
            IrqRoute {
                mode: IRQ_INTX,
                line,
                msix_vector_index: None,
            }
        }
    };
    let driver = {
        let mut b = BINDINGS.lock();
        b[index].irq = route.line;
        b[index].driver
    };
    // The interrupt counts (`kstats`) name the line after its driver.
    let len = driver.iter().position(|&c| c == 0).unwrap_or(driver.len());
    crate::counters::name_irq(route.line, &driver[..len]);
    log::info!(
        "pci: {:02x}:{:02x}.{} interrupt: {} line {}",
        f.bus,
        f.dev,
        f.func,
        if route.mode == IRQ_MSIX {
            "MSI-X"
        } else {
            "INTx"
        },
        route.line
    );
    Ok(route)
}

/// Every function as `pci_list` reports it (allocation failure: `ENOMEM`).
pub fn snapshot() -> KResult<Vec<PciDevice>> {
    let fs = functions();
    let mut out = Vec::new();
    out.try_reserve_exact(fs.len()).map_err(|_| Errno::ENOMEM)?;
    let bindings = BINDINGS.lock();
    for (f, b) in fs.iter().zip(bindings.iter()) {
        out.push(PciDevice {
            bus: f.bus,
            dev: f.dev,
            func: f.func,
            header_type: f.header_type,
            vendor: f.vendor,
            device: f.device,
            class: f.class,
            subclass: f.subclass,
            prog_if: f.prog_if,
            revision: f.revision,
            irq: if b.irq != u32::MAX {
                b.irq
            } else {
                f.irq.unwrap_or(u32::MAX)
            },
            driver: b.driver,
            bars: f.bars,
        });
    }
    Ok(out)
}
