//! The 4-level page tables the kernel starts on.
//!
//! Built while boot services still identity-map memory, from bootloader-reclaimable
//! pages. [`PageTables::map`] uses 1 GiB and 2 MiB pages where alignment allows (1 GiB
//! only if the CPU has them) and splits a large page when a finer mapping lands inside
//! it, so mappings can be layered: direct map first, framebuffer (write-combining)
//! after. Leaf flags carry the permissions; intermediate entries are present+writable.
//!
//! The entry bits are the kernel's own: leaves come from `wayos_kcore::paging`'s
//! [`X86_64Format`] (host-tested against the Intel SDM), the few bits the builder reads
//! back from `paging::x86_64::bits`. This file owns only the building: where tables go
//! and which page size fits; it must never define an entry bit of its own.

use uefi::Status;
use wayos_kcore::paging::x86_64::bits::{
    ADDR as ADDR_MASK, NX as NO_EXECUTE, P as PRESENT, PAT_4K, PAT_LARGE, PS as HUGE,
    RW as WRITABLE,
};
use wayos_kcore::paging::{PageSize, PhysAddr, PteFlags, PteFormat, X86_64Format};

use crate::mem::{self, PAGE};

const GIB: u64 = 1 << 30;
const MIB2: u64 = 1 << 21;

/// How a range is mapped.
#[derive(Clone, Copy, Debug)]
pub struct Flags {
    pub writable: bool,
    pub executable: bool,
    /// Write-combining (PAT entry 5, which the hand-off programs as WC, as Limine
    /// does); mapped with 4 KiB pages.
    pub write_combining: bool,
}

impl Flags {
    /// Read-write-execute, write-back: the direct map.
    pub const RWX: Flags = Flags {
        writable: true,
        executable: true,
        write_combining: false,
    };
}

/// A set of page tables under construction.
pub struct PageTables {
    pml4: u64,
    gib_pages: bool,
    nx: bool,
    pool: u64,
    pool_end: u64,
}

impl PageTables {
    /// Empty tables. `gib_pages`: the CPU has 1 GiB pages; `nx`: it has no-execute.
    pub fn new(gib_pages: bool, nx: bool) -> Result<Self, Status> {
        let mut t = PageTables {
            pml4: 0,
            gib_pages,
            nx,
            pool: 0,
            pool_end: 0,
        };
        t.pml4 = t.new_table()?;
        Ok(t)
    }

    /// Physical address of the top-level table (the value for CR3).
    pub fn root(&self) -> u64 {
        self.pml4
    }

    fn new_table(&mut self) -> Result<u64, Status> {
        if self.pool == self.pool_end {
            const BATCH: u64 = 64 * PAGE;
            self.pool = mem::alloc_zeroed(mem::RECLAIMABLE, BATCH, PAGE)?;
            self.pool_end = self.pool + BATCH;
        }
        let t = self.pool;
        self.pool += PAGE;
        Ok(t)
    }

    fn entry(table: u64, index: u64) -> *mut u64 {
        (table + index * 8) as *mut u64
    }

    fn read(table: u64, index: u64) -> u64 {
        // SAFETY: `table` is a page-table page allocated by `new_table` (identity-mapped
        // while boot services run) and `index < 512`.
        unsafe { Self::entry(table, index).read() }
    }

    fn write(table: u64, index: u64, value: u64) {
        // SAFETY: as in `read`; only this builder writes these tables.
        unsafe { Self::entry(table, index).write(value) }
    }

    /// The leaf entry mapping `phys` as one page of `size`: kcore's encoding of `f`
    /// (never user, never global), without XD when the CPU has no no-execute.
    fn leaf(&self, phys: u64, f: Flags, size: PageSize) -> u64 {
        let mut flags = PteFlags::empty();
        flags.set(PteFlags::WRITE, f.writable);
        flags.set(PteFlags::EXEC, f.executable);
        // PAT entry 5, write-combining in the PAT the hand-off programs.
        flags.set(PteFlags::NOCACHE, f.write_combining);
        let entry = X86_64Format::leaf(PhysAddr::new(phys), flags, size);
        if self.nx {
            entry
        } else {
            // XD is reserved without EFER.NXE: setting it would fault every access.
            entry & !NO_EXECUTE
        }
    }

    /// The next-level table under `table[index]`, created (or split out of a large
    /// page of `size` bytes) if needed.
    fn next(&mut self, table: u64, index: u64, size: u64) -> Result<u64, Status> {
        let e = Self::read(table, index);
        if e & PRESENT != 0 && e & HUGE == 0 {
            return Ok(e & ADDR_MASK);
        }
        let t = self.new_table()?;
        if e & PRESENT != 0 {
            // Split the large page into 512 pages of the next size, same attributes.
            let child = size / 512;
            let base = e & ADDR_MASK & !PAT_LARGE;
            let mut attrs = (e & !ADDR_MASK) | (e & PAT_LARGE);
            if child == PAGE {
                attrs &= !HUGE;
                if attrs & PAT_LARGE != 0 {
                    attrs = (attrs & !PAT_LARGE) | PAT_4K;
                }
            }
            for i in 0..512 {
                Self::write(t, i, (base + i * child) | attrs);
            }
        }
        Self::write(table, index, t | PRESENT | WRITABLE);
        Ok(t)
    }

    /// Maps `[virt, virt + len)` to `[phys, phys + len)`; all three page aligned.
    pub fn map(&mut self, mut virt: u64, mut phys: u64, len: u64, f: Flags) -> Result<(), Status> {
        let end = virt.checked_add(len).ok_or(Status::INVALID_PARAMETER)?;
        while virt < end {
            let size = self.map_step(virt, phys, end - virt, f)?;
            virt += size;
            phys += size;
        }
        Ok(())
    }

    /// Maps the largest page that fits at `virt` (at most `left` bytes) without
    /// replacing a finer table already there; returns its size.
    fn map_step(&mut self, virt: u64, phys: u64, left: u64, f: Flags) -> Result<u64, Status> {
        let idx = |shift: u32| (virt >> shift) & 511;
        let is_table = |e: u64| e & PRESENT != 0 && e & HUGE == 0;
        let both = virt | phys;
        let large_ok = !f.write_combining;

        let pdpt = self.next(self.pml4, idx(39), 512 * GIB)?;
        if large_ok
            && self.gib_pages
            && both.is_multiple_of(GIB)
            && left >= GIB
            && !is_table(Self::read(pdpt, idx(30)))
        {
            Self::write(pdpt, idx(30), self.leaf(phys, f, PageSize::Size1G));
            return Ok(GIB);
        }
        let pd = self.next(pdpt, idx(30), GIB)?;
        if large_ok
            && both.is_multiple_of(MIB2)
            && left >= MIB2
            && !is_table(Self::read(pd, idx(21)))
        {
            Self::write(pd, idx(21), self.leaf(phys, f, PageSize::Size2M));
            return Ok(MIB2);
        }
        let pt = self.next(pd, idx(21), MIB2)?;
        Self::write(pt, idx(12), self.leaf(phys, f, PageSize::Size4K));
        Ok(PAGE)
    }
}
