//! Extracts the kernel's function symbols into the table format of
//! `wayos_kcore::symtab`, which the kernel reads from its initramfs for backtraces.

use object::{Object, ObjectSymbol, SymbolKind};

use crate::Result;

/// The encoded symbol table of a linked kernel ELF.
pub fn table(kernel_elf: &[u8]) -> Result<Vec<u8>> {
    let file = object::File::parse(kernel_elf).map_err(|e| format!("kernel ELF: {e}"))?;
    let symbols: Vec<(u64, u32, String)> = file
        .symbols()
        .filter(|s| s.kind() == SymbolKind::Text && s.address() != 0)
        .filter_map(|s| {
            let name = s.name().ok()?;
            Some((
                s.address(),
                s.size().min(u64::from(u32::MAX)) as u32,
                name.to_string(),
            ))
        })
        .collect();
    if symbols.is_empty() {
        return Err("kernel ELF has no function symbols (was it stripped?)".into());
    }
    Ok(wayos_kcore::symtab::build(symbols))
}
