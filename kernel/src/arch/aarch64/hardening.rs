//! In-kernel checks of the aarch64 protection model, run by `boottest` through
//! `arch::HARDENING_CHECKS`: PAN on (exception entry sets it, so the kernel faults on
//! EL0-accessible memory outside the LDTR/STTR user copies), execute-never bits as the
//! live page tables hold them (every user page privileged-execute-never, every kernel page
//! user-execute-never), and SPSR sanitizing on the way back to EL0 (a context can never
//! return to EL1 or with interrupts masked).
//!
//! Checks only: nothing here changes the CPU's configuration.

use wayos_kcore::paging::PhysAddr;

use super::trap::{sanitize_user_spsr, TrapFrame};
use crate::mm::space::{AddressSpace, Prot};

/// A named check; `Err` says what is wrong.
pub type Check = (&'static str, fn() -> Result<(), &'static str>);

pub const CHECKS: &[Check] = &[
    ("pan_enabled_and_active", pan_enabled_and_active),
    ("kernel_pages_are_uxn", kernel_pages_are_uxn),
    ("user_pages_are_pxn", user_pages_are_pxn),
    (
        "user_return_spsr_is_sanitized",
        user_return_spsr_is_sanitized,
    ),
];

const DESC_VALID: u64 = 1 << 0;
const DESC_TABLE: u64 = 1 << 1;
const DESC_PXN: u64 = 1 << 53;
const DESC_UXN: u64 = 1 << 54;
const DESC_ADDR: u64 = 0x0000_ffff_ffff_f000;

/// The leaf descriptor (page or block) that translates `va` in the tree at `root`, read
/// straight from the tables as the MMU walks them (4 KiB granule, 4 levels).
fn leaf(root: PhysAddr, va: u64) -> Option<u64> {
    let mut table = root.as_u64();
    for level in 0..4 {
        let index = (va >> (39 - 9 * level)) & 511;
        let p = crate::mm::direct::ptr::<u64>(PhysAddr::new(table + index * 8));
        // SAFETY: `table` is a page-table page of a live tree, reached through the direct
        // map; an aligned 8-byte read of one entry.
        let e = unsafe { p.read_volatile() };
        if e & DESC_VALID == 0 {
            return None;
        }
        if level == 3 || e & DESC_TABLE == 0 {
            return Some(e);
        }
        table = e & DESC_ADDR;
    }
    None
}

fn pan_enabled_and_active() -> Result<(), &'static str> {
    if !super::pan_enabled() {
        return Err("PAN is not implemented or was not turned on");
    }
    let sctlr: u64;
    // SAFETY: reads a system register.
    unsafe { core::arch::asm!("mrs {}, sctlr_el1", out(reg) sctlr, options(nomem, nostack)) };
    if sctlr & super::SCTLR_SPAN != 0 {
        return Err("SCTLR_EL1.SPAN set: exception entry does not set PAN");
    }
    if !super::pan_active() {
        return Err("PSTATE.PAN clear in the kernel");
    }
    Ok(())
}

fn kernel_pages_are_uxn() -> Result<(), &'static str> {
    let root = super::kernel_root();
    let text = kernel_pages_are_uxn as *const () as u64;
    let data = core::ptr::addr_of!(super::PAN) as u64;
    for (va, err) in [
        (text, "kernel text is executable from EL0 (UXN clear)"),
        (data, "kernel data is executable from EL0 (UXN clear)"),
    ] {
        let e = leaf(root, va).ok_or("a kernel address is not mapped in TTBR1")?;
        if e & DESC_UXN == 0 {
            return Err(err);
        }
    }
    Ok(())
}

fn user_pages_are_pxn() -> Result<(), &'static str> {
    const CODE: usize = 0x40_0000;
    const DATA: usize = 0x50_0000;
    let mut space = AddressSpace::new().map_err(|_| "no memory for an address space")?;
    space
        .map_fixed(CODE, 4096, Prot::READ | Prot::EXEC)
        .map_err(|_| "cannot map a user code page")?;
    space
        .map_fixed(DATA, 4096, Prot::READ | Prot::WRITE)
        .map_err(|_| "cannot map a user data page")?;
    // Faults both pages in, as the ELF loader does.
    space
        .write_bytes(CODE, &[0; 4])
        .and_then(|()| space.write_bytes(DATA, &[0; 4]))
        .map_err(|_| "cannot fill the user pages")?;
    let root = space.root();
    let code = leaf(root, CODE as u64).ok_or("the user code page is not mapped")?;
    let data = leaf(root, DATA as u64).ok_or("the user data page is not mapped")?;
    if code & DESC_PXN == 0 || data & DESC_PXN == 0 {
        return Err("a user page is executable at EL1 (PXN clear)");
    }
    if code & DESC_UXN != 0 {
        return Err("user code is not executable at EL0");
    }
    if data & DESC_UXN == 0 {
        return Err("user data is executable at EL0");
    }
    Ok(())
}

/// A frame forged to return to EL1h with DAIF masked, PAN and single-step set leaves for
/// EL0 with only the condition flags.
fn user_return_spsr_is_sanitized() -> Result<(), &'static str> {
    const EL1H: u64 = 0b0101;
    const DAIF: u64 = 0xf << 6;
    const PAN: u64 = 1 << 22;
    const SS: u64 = 1 << 21;
    const NZCV: u64 = 0xf << 28;
    let mut f = TrapFrame::new_user(0x40_0000, 0x7fff_0000, [0; 4]);
    f.spsr = EL1H | DAIF | PAN | SS | NZCV;
    sanitize_user_spsr(&mut f);
    if !f.came_from_user() {
        return Err("a frame kept a return to EL1");
    }
    if f.spsr & (DAIF | PAN | SS) != 0 {
        return Err("a frame kept DAIF, PAN or SS");
    }
    if f.spsr & NZCV != NZCV {
        return Err("a frame lost the condition flags");
    }
    Ok(())
}
