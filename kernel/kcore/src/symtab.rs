//! The kernel symbol table the panic handler uses to name backtrace frames.
//!
//! xtask extracts function symbols from the linked kernel ELF and stores them in the
//! initramfs as `boot/kernel.sym`, so both architectures (the aarch64 raw Image carries no
//! ELF symbols) symbolize the same way and the kernel need not be linked twice.
//!
//! Layout (little endian): magic `WSYM`, u32 count, then `count` records of
//! `{u64 addr, u32 size, u32 name_offset}` sorted by `addr`, then the name bytes, each name
//! ending in NUL. [`SymbolTable::parse`] checks every bound once so lookups cannot fail.

use core::fmt;

pub const MAGIC: &[u8; 4] = b"WSYM";
/// Path of the table inside the initramfs.
pub const INITRAMFS_PATH: &str = "boot/kernel.sym";
const RECORD: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    BadMagic,
    Truncated,
    Unsorted,
    BadName,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::BadMagic => "symbol table: bad magic",
            Error::Truncated => "symbol table: truncated",
            Error::Unsorted => "symbol table: records not sorted",
            Error::BadName => "symbol table: name out of bounds or not NUL-terminated",
        })
    }
}

/// A validated table borrowed from its bytes.
#[derive(Clone, Copy)]
pub struct SymbolTable<'a> {
    records: &'a [u8],
    names: &'a [u8],
    count: usize,
}

/// The symbol containing an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub name: &'a str,
    pub addr: u64,
    pub size: u32,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at + 4)) << 32)
}

impl<'a> SymbolTable<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        if bytes.len() < 8 {
            return Err(Error::Truncated);
        }
        if &bytes[..4] != MAGIC {
            return Err(Error::BadMagic);
        }
        let count = u32_at(bytes, 4) as usize;
        let records_end = count
            .checked_mul(RECORD)
            .and_then(|n| n.checked_add(8))
            .ok_or(Error::Truncated)?;
        if records_end > bytes.len() {
            return Err(Error::Truncated);
        }
        let table = Self {
            records: &bytes[8..records_end],
            names: &bytes[records_end..],
            count,
        };
        let mut prev = 0;
        for i in 0..count {
            let (addr, _, name_off) = table.record(i);
            if addr < prev {
                return Err(Error::Unsorted);
            }
            prev = addr;
            table.name_at(name_off).ok_or(Error::BadName)?;
        }
        Ok(table)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn record(&self, i: usize) -> (u64, u32, u32) {
        let at = i * RECORD;
        (
            u64_at(self.records, at),
            u32_at(self.records, at + 8),
            u32_at(self.records, at + 12),
        )
    }

    fn name_at(&self, off: u32) -> Option<&'a str> {
        let rest = self.names.get(off as usize..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        core::str::from_utf8(&rest[..end]).ok()
    }

    /// The symbol whose `[addr, addr+size)` contains `pc`; a zero-size symbol matches only
    /// its own address.
    pub fn lookup(&self, pc: u64) -> Option<Symbol<'a>> {
        // Last record with addr <= pc.
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.record(mid).0 <= pc {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let i = lo.checked_sub(1)?;
        let (addr, size, name_off) = self.record(i);
        let inside = pc == addr || pc - addr < u64::from(size);
        if !inside {
            return None;
        }
        Some(Symbol {
            name: self.name_at(name_off)?,
            addr,
            size,
        })
    }

    /// Address of the first symbol named exactly `name`.
    pub fn address_of(&self, name: &str) -> Option<u64> {
        (0..self.count)
            .map(|i| self.record(i))
            .find(|&(_, _, off)| self.name_at(off) == Some(name))
            .map(|(addr, _, _)| addr)
    }
}

/// Encodes `(addr, size, name)` triples into the table format (sorting them).
#[cfg(feature = "alloc")]
pub fn build(
    mut symbols: alloc::vec::Vec<(u64, u32, alloc::string::String)>,
) -> alloc::vec::Vec<u8> {
    symbols.sort_by_key(|s| s.0);
    let mut out = alloc::vec::Vec::new();
    let mut names = alloc::vec::Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(symbols.len() as u32).to_le_bytes());
    for (addr, size, name) in &symbols {
        out.extend_from_slice(&addr.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(names.len() as u32).to_le_bytes());
        names.extend_from_slice(name.as_bytes());
        names.push(0);
    }
    out.extend_from_slice(&names);
    out
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec;

    fn table() -> std::vec::Vec<u8> {
        build(vec![
            (0x3000, 0x10, "c".to_string()),
            (0x1000, 0x100, "a".to_string()),
            (0x2000, 0, "b".to_string()),
        ])
    }

    #[test]
    fn lookups() {
        let bytes = table();
        let t = SymbolTable::parse(&bytes).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.lookup(0x1000).unwrap().name, "a");
        assert_eq!(t.lookup(0x10ff).unwrap().name, "a");
        assert_eq!(t.lookup(0x1100), None);
        assert_eq!(t.lookup(0x2000).unwrap().name, "b");
        assert_eq!(t.lookup(0x2001), None);
        assert_eq!(t.lookup(0x300f).unwrap().name, "c");
        assert_eq!(t.lookup(0xfff), None);
        assert_eq!(t.address_of("c"), Some(0x3000));
        assert_eq!(t.address_of("zz"), None);
    }

    #[test]
    fn corrupt_tables_are_rejected() {
        let bytes = table();
        for cut in 0..bytes.len() {
            assert!(SymbolTable::parse(&bytes[..cut]).is_err(), "cut {cut}");
        }
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(SymbolTable::parse(&bad).err(), Some(Error::BadMagic));
        let mut bad = bytes.clone();
        bad[4] = 0xff; // count far beyond the data
        assert_eq!(SymbolTable::parse(&bad).err(), Some(Error::Truncated));
        let mut bad = bytes.clone();
        bad[8..16].copy_from_slice(&0x9000u64.to_le_bytes());
        assert_eq!(SymbolTable::parse(&bad).err(), Some(Error::Unsorted));
    }
}
