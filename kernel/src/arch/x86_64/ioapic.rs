//! Device interrupt routing: the I/O APICs the MADT lists, and the legacy 8259 pair,
//! which is remapped out of the exception range and fully masked.
//!
//! Every redirection entry starts masked; ISA IRQ 4 (COM1, through its interrupt source
//! override if the MADT has one) is routed, to [`VEC_SERIAL`] on the boot CPU. Device
//! drivers route further GSIs through `irq` ([`route_gsi`], [`set_masked`]); the mapped
//! I/O APICs are kept for that in [`IOAPICS`], written once by [`init`].

use spin::Once;

use super::acpi::{self, IoApicInfo};
use super::port::outb;
use super::trap::{VEC_PIC_BASE, VEC_SERIAL};
use wayos_kcore::paging::PhysAddr;

const IOREGSEL: usize = 0x00;
const IOWIN: usize = 0x10;
const REG_VERSION: u32 = 0x01;
const REG_REDIR: u32 = 0x10;
const REDIR_MASKED: u32 = 1 << 16;
const REDIR_LEVEL: u32 = 1 << 15;
const REDIR_ACTIVE_LOW: u32 = 1 << 13;

/// COM1's ISA IRQ.
const COM1_IRQ: u8 = 4;

#[derive(Clone, Copy)]
struct IoApic {
    base: usize,
    gsi_base: u32,
    entries: u32,
}

impl IoApic {
    fn map(info: &IoApicInfo) -> Self {
        let base = crate::mm::mmio(PhysAddr::new(info.phys), 0x20).as_u64() as usize;
        let mut io = Self {
            base,
            gsi_base: info.gsi_base,
            entries: 0,
        };
        io.entries = ((io.read(REG_VERSION) >> 16) & 0xff) + 1;
        io
    }

    fn read(&self, reg: u32) -> u32 {
        // SAFETY: `base` maps this I/O APIC's register window (IOREGSEL, IOWIN); the
        // boot CPU programs it alone, during `init`.
        unsafe {
            ((self.base + IOREGSEL) as *mut u32).write_volatile(reg);
            ((self.base + IOWIN) as *const u32).read_volatile()
        }
    }

    fn write(&self, reg: u32, value: u32) {
        // SAFETY: as for `read`.
        unsafe {
            ((self.base + IOREGSEL) as *mut u32).write_volatile(reg);
            ((self.base + IOWIN) as *mut u32).write_volatile(value);
        }
    }

    fn set_entry(&self, index: u32, low: u32, dest_apic: u32) {
        // Mask first so the entry is never live half-written.
        self.write(REG_REDIR + 2 * index, REDIR_MASKED);
        self.write(REG_REDIR + 2 * index + 1, dest_apic << 24);
        self.write(REG_REDIR + 2 * index, low);
    }

    fn covers(&self, gsi: u32) -> bool {
        gsi >= self.gsi_base && gsi - self.gsi_base < self.entries
    }
}

/// Most I/O APICs kept for routing after boot (the MADT parser keeps as many).
const MAX_KEPT: usize = 8;
/// The I/O APICs [`init`] mapped, for [`route_gsi`] and [`set_masked`].
static IOAPICS: Once<([Option<IoApic>; MAX_KEPT], spin::Mutex<()>)> = Once::new();

/// The I/O APIC serving `gsi` and the lock serializing its register window (IOREGSEL and
/// IOWIN are a pair: two CPUs interleaving them would write the wrong register).
fn serving(gsi: u32) -> Option<(IoApic, &'static spin::Mutex<()>)> {
    let (table, lock) = IOAPICS.get()?;
    table
        .iter()
        .flatten()
        .find(|io| io.covers(gsi))
        .map(|io| (*io, lock))
}

/// Routes `gsi` to `vector` on the CPU with APIC id `dest`, level- or edge-triggered,
/// active low or high, and leaves it unmasked. Err when no I/O APIC serves `gsi`.
pub fn route_gsi(
    gsi: u32,
    vector: u8,
    level: bool,
    active_low: bool,
    dest: u32,
) -> Result<(), &'static str> {
    let (io, lock) = serving(gsi).ok_or("no I/O APIC serves this GSI")?;
    let mut low = u32::from(vector);
    if level {
        low |= REDIR_LEVEL;
    }
    if active_low {
        low |= REDIR_ACTIVE_LOW;
    }
    let _irq = crate::arch::IrqGuard::new();
    let _g = lock.lock();
    io.set_entry(gsi - io.gsi_base, low, dest);
    Ok(())
}

/// Masks or unmasks `gsi`'s redirection entry (already routed by [`route_gsi`]). Any
/// context: the register lock is only ever taken with interrupts off.
pub fn set_masked(gsi: u32, masked: bool) {
    let Some((io, lock)) = serving(gsi) else {
        return;
    };
    let _irq = crate::arch::IrqGuard::new();
    let _g = lock.lock();
    let reg = REG_REDIR + 2 * (gsi - io.gsi_base);
    let low = io.read(reg);
    io.write(
        reg,
        if masked {
            low | REDIR_MASKED
        } else {
            low & !REDIR_MASKED
        },
    );
}

/// Remaps the 8259 pair to `VEC_PIC_BASE..+16` (so a spurious IRQ 7/15 cannot pose as an
/// exception) and masks all its lines.
fn mask_pic() {
    // SAFETY: ports 0x20/0x21/0xa0/0xa1 are the 8259 pair on every PC platform; the
    // standard ICW1-4 sequence followed by an all-ones mask only stops it interrupting.
    unsafe {
        outb(0x21, 0xff);
        outb(0xa1, 0xff);
        outb(0x20, 0x11); // ICW1: edge, cascade, ICW4 follows
        outb(0xa0, 0x11);
        outb(0x21, VEC_PIC_BASE as u8); // ICW2: vector base
        outb(0xa1, VEC_PIC_BASE as u8 + 8);
        outb(0x21, 0x04); // ICW3: slave on IRQ 2
        outb(0xa1, 0x02);
        outb(0x21, 0x01); // ICW4: 8086 mode
        outb(0xa1, 0x01);
        outb(0x21, 0xff);
        outb(0xa1, 0xff);
    }
}

/// Masks the 8259s and every I/O APIC input, then routes COM1 to `bsp_apic_id`. Returns
/// whether the serial interrupt is routed.
pub fn init(bsp_apic_id: u32) -> bool {
    let platform = acpi::platform();
    if platform.is_none_or(|p| p.has_8259) {
        mask_pic();
    }
    let Some(platform) = platform else {
        log::warn!("ioapic: no MADT; serial input stays polled");
        return false;
    };
    let mut com1 = None;
    let route = platform.isa_route(COM1_IRQ);
    let mut kept = [None; MAX_KEPT];
    for (n, info) in platform.ioapics().iter().enumerate() {
        let io = IoApic::map(info);
        if let Some(slot) = kept.get_mut(n) {
            *slot = Some(io);
        }
        for i in 0..io.entries {
            io.set_entry(i, REDIR_MASKED, 0);
        }
        log::info!(
            "ioapic: id {} at {:#x}, GSIs {}..{}",
            info.id,
            info.phys,
            io.gsi_base,
            io.gsi_base.saturating_add(io.entries)
        );
        if com1.is_none() && io.covers(route.gsi) {
            com1 = Some(io);
        }
    }
    IOAPICS.call_once(|| (kept, spin::Mutex::new(())));
    let Some(io) = com1 else {
        log::warn!(
            "ioapic: no I/O APIC serves GSI {} (COM1); serial input stays polled",
            route.gsi
        );
        return false;
    };
    let mut low = VEC_SERIAL as u32; // fixed delivery, physical destination
    if route.active_low {
        low |= REDIR_ACTIVE_LOW;
    }
    if route.level {
        low |= REDIR_LEVEL;
    }
    io.set_entry(route.gsi - io.gsi_base, low, bsp_apic_id);
    log::info!(
        "ioapic: COM1 (IRQ {COM1_IRQ}) -> GSI {} ({}, {}) -> vector {VEC_SERIAL} on APIC id {bsp_apic_id}",
        route.gsi,
        if route.active_low { "active low" } else { "active high" },
        if route.level { "level" } else { "edge" },
    );
    true
}
