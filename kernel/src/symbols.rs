//! Kernel symbol names for backtraces, read from `boot/kernel.sym` in the initramfs.
//!
//! Loading is best effort: a missing or malformed table leaves backtraces as bare
//! addresses and logs why, it never stops the boot.

use core::fmt;
use spin::Once;
use wayos_kcore::cpio;
use wayos_kcore::symtab::{self, Symbol, SymbolTable};

static TABLE: Once<SymbolTable<'static>> = Once::new();

pub fn load(initramfs: &'static [u8]) {
    let bytes = match cpio::find(initramfs, symtab::INITRAMFS_PATH) {
        Ok(Some(entry)) => entry.data,
        Ok(None) => {
            log::warn!(
                "no {} in the initramfs: backtraces will show addresses only",
                symtab::INITRAMFS_PATH
            );
            return;
        }
        Err(e) => {
            log::warn!("initramfs unreadable ({e}): backtraces will show addresses only");
            return;
        }
    };
    match SymbolTable::parse(bytes) {
        Ok(table) => {
            log::info!("symbols: {} kernel functions", table.len());
            TABLE.call_once(|| table);
        }
        Err(e) => log::warn!("{}: {e}", symtab::INITRAMFS_PATH),
    }
}

pub fn lookup(addr: usize) -> Option<Symbol<'static>> {
    TABLE.get()?.lookup(addr as u64)
}

pub fn address_of(name: &str) -> Option<usize> {
    TABLE.get()?.address_of(name).map(|a| a as usize)
}

/// Formats `addr` as `name+0xoff` (demangled, without the hash) or `??`.
pub struct Describe(pub usize);

impl fmt::Display for Describe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match lookup(self.0) {
            Some(sym) => write!(
                f,
                "{:#}+{:#x}",
                rustc_demangle::demangle(sym.name),
                self.0 as u64 - sym.addr
            ),
            None => f.write_str("??"),
        }
    }
}
