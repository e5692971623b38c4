//! ELF64 executables: parsing and validation, shared by every loader in the tree.
//!
//! [`Elf::parse`] checks the whole file before anyone loads a byte of it: the identity
//! bytes, every header field, the program header table and each `PT_LOAD` segment (bounds,
//! sizes, overflow, alignment, overlap), that the entry point lies in an executable
//! segment, and the section header table's bounds. A malformed file yields an [`Error`]
//! whose `Display` says what is wrong; nothing here panics on bad input. `tools/wayboot`
//! uses it for the kernel and the kernel uses it for user programs, so it knows nothing
//! about either: the caller names the machine, then iterates [`Elf::load_segments`] and
//! looks up sections by name (e.g. `.requests`) with [`Elf::section_by_name`].
//!
//! Only static executables (`ET_EXEC`, little endian, 64-bit) are accepted.

use core::fmt;

/// `e_machine` of x86_64.
pub const EM_X86_64: u16 = 62;
/// `e_machine` of aarch64.
pub const EM_AARCH64: u16 = 183;

/// `e_type` of a static executable.
pub const ET_EXEC: u16 = 2;

/// Program header type of a loadable segment.
pub const PT_LOAD: u32 = 1;
/// Segment flag: executable.
pub const PF_X: u32 = 1;
/// Segment flag: writable.
pub const PF_W: u32 = 2;
/// Segment flag: readable.
pub const PF_R: u32 = 4;

/// Section type that occupies no file space (`.bss`).
pub const SHT_NOBITS: u32 = 8;

/// Most program headers a file may have. Real executables have a handful; the cap keeps
/// the pairwise overlap check cheap on hostile input (Linux caps at about the same).
pub const MAX_PHNUM: usize = 1024;
/// Largest segment alignment accepted (1 GiB, the largest page size of either ISA).
pub const MAX_ALIGN: u64 = 1 << 30;

const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
const SHDR_SIZE: usize = 64;

/// Why a file is not an acceptable ELF64 executable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The file is shorter than the 64-byte ELF header.
    TooShort { len: usize },
    /// The file does not start with `\x7fELF`.
    BadMagic,
    /// `EI_CLASS` is not ELFCLASS64.
    NotElf64 { class: u8 },
    /// `EI_DATA` is not little endian.
    NotLittleEndian { data: u8 },
    /// `EI_VERSION` or `e_version` is not 1.
    BadVersion { version: u32 },
    /// `e_machine` is not the one the caller asked for.
    WrongMachine { expected: u16, found: u16 },
    /// `e_type` is not `ET_EXEC`.
    NotExecutable { e_type: u16 },
    /// `e_ehsize` is not 64.
    BadHeaderSize { ehsize: u16 },
    /// `e_phentsize` is not 56.
    BadPhentsize { phentsize: u16 },
    /// `e_phnum` is 0: nothing to load.
    NoProgramHeaders,
    /// `e_phnum` is above [`MAX_PHNUM`].
    TooManyProgramHeaders { phnum: u16 },
    /// The program header table does not lie inside the file.
    ProgramHeadersOutOfBounds {
        phoff: u64,
        phnum: u16,
        file_len: usize,
    },
    /// A segment's file bytes do not lie inside the file.
    SegmentOutOfFile {
        index: usize,
        offset: u64,
        filesz: u64,
        file_len: usize,
    },
    /// A segment has more file bytes than memory bytes.
    FileszExceedsMemsz {
        index: usize,
        filesz: u64,
        memsz: u64,
    },
    /// A segment's address range wraps around the 64-bit address space.
    AddressOverflow { index: usize },
    /// `p_align` is not 0 or a power of two up to [`MAX_ALIGN`].
    BadAlignment { index: usize, align: u64 },
    /// `p_vaddr` and `p_offset` are not congruent modulo `p_align`.
    MisalignedSegment {
        index: usize,
        vaddr: u64,
        offset: u64,
        align: u64,
    },
    /// No `PT_LOAD` segment with a non-zero memory size.
    NoLoadableSegments,
    /// Two `PT_LOAD` segments share virtual addresses.
    SegmentsOverlap { first: usize, second: usize },
    /// The entry point is not inside an executable `PT_LOAD` segment.
    EntryNotExecutable { entry: u64 },
    /// `e_shentsize` is not 64 although there are section headers.
    BadShentsize { shentsize: u16 },
    /// The section header table does not lie inside the file.
    SectionHeadersOutOfBounds {
        shoff: u64,
        shnum: u16,
        file_len: usize,
    },
    /// `e_shstrndx` does not name a section.
    BadShstrndx { shstrndx: u16, shnum: u16 },
    /// A section's bytes do not lie inside the file.
    SectionOutOfFile { index: usize },
    /// A section name is not a NUL-terminated string inside the name table.
    BadSectionName { index: usize },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::TooShort { len } => {
                write!(f, "file is {len} bytes, shorter than an ELF header (64 bytes)")
            }
            Error::BadMagic => write!(f, "not an ELF file (bad magic)"),
            Error::NotElf64 { class } => write!(f, "not a 64-bit ELF file (class {class})"),
            Error::NotLittleEndian { data } => {
                write!(f, "not a little-endian ELF file (data encoding {data})")
            }
            Error::BadVersion { version } => write!(f, "unknown ELF version {version}"),
            Error::WrongMachine { expected, found } => write!(
                f,
                "built for machine {found} ({}), expected {expected} ({})",
                machine_name(found),
                machine_name(expected)
            ),
            Error::NotExecutable { e_type } => write!(
                f,
                "ELF type {e_type} is not a static executable (ET_EXEC); PIE and shared objects are not supported"
            ),
            Error::BadHeaderSize { ehsize } => {
                write!(f, "ELF header size is {ehsize}, expected 64")
            }
            Error::BadPhentsize { phentsize } => {
                write!(f, "program header size is {phentsize}, expected 56")
            }
            Error::NoProgramHeaders => write!(f, "no program headers"),
            Error::TooManyProgramHeaders { phnum } => {
                write!(f, "{phnum} program headers (at most {MAX_PHNUM} supported)")
            }
            Error::ProgramHeadersOutOfBounds { phoff, phnum, file_len } => write!(
                f,
                "program header table ({phnum} entries at offset {phoff:#x}) extends past the end of the file ({file_len} bytes)"
            ),
            Error::SegmentOutOfFile { index, offset, filesz, file_len } => write!(
                f,
                "segment {index} (file bytes {offset:#x}+{filesz:#x}) extends past the end of the file ({file_len} bytes)"
            ),
            Error::FileszExceedsMemsz { index, filesz, memsz } => write!(
                f,
                "segment {index} has file size {filesz:#x} larger than its memory size {memsz:#x}"
            ),
            Error::AddressOverflow { index } => {
                write!(f, "segment {index} address range overflows")
            }
            Error::BadAlignment { index, align } => write!(
                f,
                "segment {index} alignment {align:#x} is not a power of two up to {MAX_ALIGN:#x}"
            ),
            Error::MisalignedSegment { index, vaddr, offset, align } => write!(
                f,
                "segment {index} address {vaddr:#x} and file offset {offset:#x} disagree modulo its alignment {align:#x}"
            ),
            Error::NoLoadableSegments => write!(f, "no loadable (PT_LOAD) segments"),
            Error::SegmentsOverlap { first, second } => {
                write!(f, "segments {first} and {second} overlap in memory")
            }
            Error::EntryNotExecutable { entry } => write!(
                f,
                "entry point {entry:#x} is not inside an executable loadable segment"
            ),
            Error::BadShentsize { shentsize } => {
                write!(f, "section header size is {shentsize}, expected 64")
            }
            Error::SectionHeadersOutOfBounds { shoff, shnum, file_len } => write!(
                f,
                "section header table ({shnum} entries at offset {shoff:#x}) extends past the end of the file ({file_len} bytes)"
            ),
            Error::BadShstrndx { shstrndx, shnum } => write!(
                f,
                "section name table index {shstrndx} is out of range ({shnum} sections)"
            ),
            Error::SectionOutOfFile { index } => {
                write!(f, "section {index} extends past the end of the file")
            }
            Error::BadSectionName { index } => {
                write!(f, "section {index} has a malformed name")
            }
        }
    }
}

fn machine_name(machine: u16) -> &'static str {
    match machine {
        EM_X86_64 => "x86_64",
        EM_AARCH64 => "aarch64",
        3 => "i386",
        40 => "arm",
        243 => "riscv",
        _ => "unknown",
    }
}

/// One program header, as found in the file (after validation for `PT_LOAD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramHeader {
    /// Position in the program header table.
    pub index: usize,
    pub p_type: u32,
    /// `PF_R` / `PF_W` / `PF_X` bits.
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub paddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

impl ProgramHeader {
    pub fn is_load(&self) -> bool {
        self.p_type == PT_LOAD
    }
    pub fn readable(&self) -> bool {
        self.flags & PF_R != 0
    }
    pub fn writable(&self) -> bool {
        self.flags & PF_W != 0
    }
    pub fn executable(&self) -> bool {
        self.flags & PF_X != 0
    }
    /// One past the last virtual address (validated not to overflow for `PT_LOAD`).
    pub fn vaddr_end(&self) -> u64 {
        self.vaddr.wrapping_add(self.memsz)
    }
    /// Whether `addr` lies in `[vaddr, vaddr + memsz)`.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.vaddr && addr - self.vaddr < self.memsz
    }
}

/// One section header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    /// Position in the section header table.
    pub index: usize,
    /// Offset of the name in the section name table.
    pub name: u32,
    pub sh_type: u32,
    pub flags: u64,
    /// Virtual address when loaded (0 if not allocated).
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
}

/// A validated ELF64 executable borrowed from its file bytes.
#[derive(Clone, Copy, Debug)]
pub struct Elf<'a> {
    data: &'a [u8],
    machine: u16,
    entry: u64,
    phoff: usize,
    phnum: usize,
    shoff: usize,
    shnum: usize,
    shstrndx: usize,
}

fn u16_at(d: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([d[off], d[off + 1]])
}

fn u32_at(d: &[u8], off: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&d[off..off + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(d: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[off..off + 8]);
    u64::from_le_bytes(b)
}

/// Whether `[offset, offset + len)` lies inside a file of `file_len` bytes.
fn in_file(offset: u64, len: u64, file_len: usize) -> bool {
    match offset.checked_add(len) {
        Some(end) => end <= file_len as u64,
        None => false,
    }
}

impl<'a> Elf<'a> {
    /// Validates `data` as a static ELF64 little-endian executable for `machine`
    /// (e.g. [`EM_X86_64`]).
    pub fn parse(data: &'a [u8], machine: u16) -> Result<Self, Error> {
        if data.len() < EHDR_SIZE {
            if data.len() >= 4 && &data[..4] != b"\x7fELF" {
                return Err(Error::BadMagic);
            }
            return Err(Error::TooShort { len: data.len() });
        }
        if &data[..4] != b"\x7fELF" {
            return Err(Error::BadMagic);
        }
        if data[4] != 2 {
            return Err(Error::NotElf64 { class: data[4] });
        }
        if data[5] != 1 {
            return Err(Error::NotLittleEndian { data: data[5] });
        }
        if data[6] != 1 {
            return Err(Error::BadVersion {
                version: data[6].into(),
            });
        }
        let e_type = u16_at(data, 16);
        let e_machine = u16_at(data, 18);
        let e_version = u32_at(data, 20);
        let entry = u64_at(data, 24);
        let phoff = u64_at(data, 32);
        let shoff = u64_at(data, 40);
        let ehsize = u16_at(data, 52);
        let phentsize = u16_at(data, 54);
        let phnum = u16_at(data, 56);
        let shentsize = u16_at(data, 58);
        let shnum = u16_at(data, 60);
        let shstrndx = u16_at(data, 62);

        if e_version != 1 {
            return Err(Error::BadVersion { version: e_version });
        }
        if e_machine != machine {
            return Err(Error::WrongMachine {
                expected: machine,
                found: e_machine,
            });
        }
        if e_type != ET_EXEC {
            return Err(Error::NotExecutable { e_type });
        }
        if usize::from(ehsize) != EHDR_SIZE {
            return Err(Error::BadHeaderSize { ehsize });
        }
        if phnum == 0 {
            return Err(Error::NoProgramHeaders);
        }
        if usize::from(phentsize) != PHDR_SIZE {
            return Err(Error::BadPhentsize { phentsize });
        }
        if usize::from(phnum) > MAX_PHNUM {
            return Err(Error::TooManyProgramHeaders { phnum });
        }
        if !in_file(phoff, u64::from(phnum) * PHDR_SIZE as u64, data.len()) {
            return Err(Error::ProgramHeadersOutOfBounds {
                phoff,
                phnum,
                file_len: data.len(),
            });
        }

        let mut elf = Elf {
            data,
            machine,
            entry,
            // Fits in usize: it was just checked against the file length.
            phoff: phoff as usize,
            phnum: phnum.into(),
            shoff: 0,
            shnum: 0,
            shstrndx: 0,
        };
        elf.validate_segments()?;

        // Section headers are optional (shnum 0); when present their table must fit.
        if shnum != 0 {
            if usize::from(shentsize) != SHDR_SIZE {
                return Err(Error::BadShentsize { shentsize });
            }
            if shoff == 0 || !in_file(shoff, u64::from(shnum) * SHDR_SIZE as u64, data.len()) {
                return Err(Error::SectionHeadersOutOfBounds {
                    shoff,
                    shnum,
                    file_len: data.len(),
                });
            }
            if shstrndx >= shnum {
                return Err(Error::BadShstrndx { shstrndx, shnum });
            }
            elf.shoff = shoff as usize;
            elf.shnum = shnum.into();
            elf.shstrndx = shstrndx.into();
        }
        Ok(elf)
    }

    fn validate_segments(&self) -> Result<(), Error> {
        let file_len = self.data.len();
        let mut loadable = 0usize;
        for ph in self.program_headers().filter(ProgramHeader::is_load) {
            let index = ph.index;
            if !in_file(ph.offset, ph.filesz, file_len) {
                return Err(Error::SegmentOutOfFile {
                    index,
                    offset: ph.offset,
                    filesz: ph.filesz,
                    file_len,
                });
            }
            if ph.filesz > ph.memsz {
                return Err(Error::FileszExceedsMemsz {
                    index,
                    filesz: ph.filesz,
                    memsz: ph.memsz,
                });
            }
            if ph.vaddr.checked_add(ph.memsz).is_none() || ph.paddr.checked_add(ph.memsz).is_none()
            {
                return Err(Error::AddressOverflow { index });
            }
            if ph.align != 0 && (!ph.align.is_power_of_two() || ph.align > MAX_ALIGN) {
                return Err(Error::BadAlignment {
                    index,
                    align: ph.align,
                });
            }
            if ph.align > 1 && ph.vaddr % ph.align != ph.offset % ph.align {
                return Err(Error::MisalignedSegment {
                    index,
                    vaddr: ph.vaddr,
                    offset: ph.offset,
                    align: ph.align,
                });
            }
            if ph.memsz > 0 {
                loadable += 1;
            }
        }
        if loadable == 0 {
            return Err(Error::NoLoadableSegments);
        }
        // Pairwise overlap check; phnum is capped, so this stays cheap.
        for a in self.load_segments().filter(|s| s.memsz > 0) {
            for b in self
                .load_segments()
                .filter(|s| s.memsz > 0 && s.index > a.index)
            {
                if a.vaddr < b.vaddr_end() && b.vaddr < a.vaddr_end() {
                    return Err(Error::SegmentsOverlap {
                        first: a.index,
                        second: b.index,
                    });
                }
            }
        }
        if !self
            .load_segments()
            .any(|s| s.executable() && s.contains(self.entry))
        {
            return Err(Error::EntryNotExecutable { entry: self.entry });
        }
        Ok(())
    }

    /// The whole file.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The `e_machine` the file was validated for.
    pub fn machine(&self) -> u16 {
        self.machine
    }

    /// The entry point (inside an executable segment).
    pub fn entry(&self) -> u64 {
        self.entry
    }

    /// Every program header, whatever its type.
    pub fn program_headers(&self) -> impl Iterator<Item = ProgramHeader> + 'a {
        let data = self.data;
        let phoff = self.phoff;
        (0..self.phnum).map(move |index| {
            let p = &data[phoff + index * PHDR_SIZE..phoff + (index + 1) * PHDR_SIZE];
            ProgramHeader {
                index,
                p_type: u32_at(p, 0),
                flags: u32_at(p, 4),
                offset: u64_at(p, 8),
                vaddr: u64_at(p, 16),
                paddr: u64_at(p, 24),
                filesz: u64_at(p, 32),
                memsz: u64_at(p, 40),
                align: u64_at(p, 48),
            }
        })
    }

    /// The validated `PT_LOAD` segments, in table order.
    pub fn load_segments(&self) -> impl Iterator<Item = ProgramHeader> + 'a {
        self.program_headers().filter(ProgramHeader::is_load)
    }

    /// The file bytes of a segment (`filesz` bytes; the rest up to `memsz` is zero).
    pub fn segment_data(&self, segment: &ProgramHeader) -> &'a [u8] {
        let start = segment.offset as usize;
        let end = start + segment.filesz as usize;
        self.data.get(start..end).unwrap_or(&[])
    }

    /// Lowest virtual address and one past the highest of the non-empty `PT_LOAD` segments.
    pub fn load_bounds(&self) -> (u64, u64) {
        let mut lo = u64::MAX;
        let mut hi = 0;
        for s in self.load_segments().filter(|s| s.memsz > 0) {
            lo = lo.min(s.vaddr);
            hi = hi.max(s.vaddr_end());
        }
        (lo, hi)
    }

    /// Largest `p_align` of the `PT_LOAD` segments (at least 1).
    pub fn max_align(&self) -> u64 {
        self.load_segments()
            .map(|s| s.align)
            .max()
            .unwrap_or(1)
            .max(1)
    }

    /// Every section header (none if the file has no section header table).
    pub fn sections(&self) -> impl Iterator<Item = Section> + 'a {
        let data = self.data;
        let shoff = self.shoff;
        (0..self.shnum).map(move |index| {
            let s = &data[shoff + index * SHDR_SIZE..shoff + (index + 1) * SHDR_SIZE];
            Section {
                index,
                name: u32_at(s, 0),
                sh_type: u32_at(s, 4),
                flags: u64_at(s, 8),
                addr: u64_at(s, 16),
                offset: u64_at(s, 24),
                size: u64_at(s, 32),
            }
        })
    }

    /// The file bytes of a section (empty for `SHT_NOBITS`).
    pub fn section_data(&self, section: &Section) -> Result<&'a [u8], Error> {
        if section.sh_type == SHT_NOBITS {
            return Ok(&[]);
        }
        if !in_file(section.offset, section.size, self.data.len()) {
            return Err(Error::SectionOutOfFile {
                index: section.index,
            });
        }
        let start = section.offset as usize;
        Ok(&self.data[start..start + section.size as usize])
    }

    /// The name of a section, from the section name table.
    pub fn section_name(&self, section: &Section) -> Result<&'a [u8], Error> {
        let strtab = self
            .sections()
            .nth(self.shstrndx)
            .ok_or(Error::BadShstrndx {
                shstrndx: self.shstrndx as u16,
                shnum: self.shnum as u16,
            })?;
        let names = self.section_data(&strtab)?;
        let start = section.name as usize;
        let tail = names.get(start..).ok_or(Error::BadSectionName {
            index: section.index,
        })?;
        let len = tail
            .iter()
            .position(|&b| b == 0)
            .ok_or(Error::BadSectionName {
                index: section.index,
            })?;
        Ok(&tail[..len])
    }

    /// Finds a section by its exact name (e.g. `.requests`).
    pub fn section_by_name(&self, name: &str) -> Result<Option<Section>, Error> {
        for section in self.sections() {
            if self.section_name(&section)? == name.as_bytes() {
                return Ok(Some(section));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const BASE: u64 = 0xffff_ffff_8000_0000;

    struct Seg {
        flags: u32,
        offset: u64,
        vaddr: u64,
        filesz: u64,
        memsz: u64,
        align: u64,
    }

    /// Builds an x86_64 executable: ELF header, program headers, segment bytes, then a
    /// section header table with `.text`, `.requests` and the name table.
    fn build(segs: &[Seg], entry: u64) -> Vec<u8> {
        let mut f = vec![0u8; 0x3000];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        put16(&mut f, 16, ET_EXEC);
        put16(&mut f, 18, EM_X86_64);
        put32(&mut f, 20, 1);
        put64(&mut f, 24, entry);
        put64(&mut f, 32, 64);
        put16(&mut f, 52, 64);
        put16(&mut f, 54, 56);
        put16(&mut f, 56, segs.len() as u16);
        for (i, s) in segs.iter().enumerate() {
            let p = 64 + i * 56;
            put32(&mut f, p, PT_LOAD);
            put32(&mut f, p + 4, s.flags);
            put64(&mut f, p + 8, s.offset);
            put64(&mut f, p + 16, s.vaddr);
            put64(&mut f, p + 24, s.vaddr - BASE);
            put64(&mut f, p + 32, s.filesz);
            put64(&mut f, p + 40, s.memsz);
            put64(&mut f, p + 48, s.align);
        }
        // Section name table at 0x2000, section headers at 0x2100.
        let names = b"\0.text\0.requests\0.shstrtab\0";
        f[0x2000..0x2000 + names.len()].copy_from_slice(names);
        let shdrs: [(u32, u32, u64, u64, u64); 4] = [
            (0, 0, 0, 0, 0),
            (1, 1, BASE, 0x1000, 0x100),
            (7, 1, BASE + 0x1000, 0x1800, 0x40),
            (17, 3, 0, 0x2000, names.len() as u64),
        ];
        for (i, (name, ty, addr, off, size)) in shdrs.iter().enumerate() {
            let s = 0x2100 + i * 64;
            put32(&mut f, s, *name);
            put32(&mut f, s + 4, *ty);
            put64(&mut f, s + 16, *addr);
            put64(&mut f, s + 24, *off);
            put64(&mut f, s + 32, *size);
        }
        put64(&mut f, 40, 0x2100);
        put16(&mut f, 58, 64);
        put16(&mut f, 60, 4);
        put16(&mut f, 62, 3);
        f
    }

    fn put16(f: &mut [u8], o: usize, v: u16) {
        f[o..o + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn put32(f: &mut [u8], o: usize, v: u32) {
        f[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn put64(f: &mut [u8], o: usize, v: u64) {
        f[o..o + 8].copy_from_slice(&v.to_le_bytes());
    }

    fn text() -> Seg {
        Seg {
            flags: PF_R | PF_X,
            offset: 0x1000,
            vaddr: BASE,
            filesz: 0x800,
            memsz: 0x800,
            align: 0x1000,
        }
    }
    fn data() -> Seg {
        Seg {
            flags: PF_R | PF_W,
            offset: 0x1800,
            vaddr: BASE + 0x1800,
            filesz: 0x100,
            memsz: 0x4000,
            align: 0x1000,
        }
    }
    fn valid() -> Vec<u8> {
        build(&[text(), data()], BASE + 0x10)
    }
    fn err(f: &[u8]) -> Error {
        Elf::parse(f, EM_X86_64).unwrap_err()
    }

    #[test]
    fn accepts_valid_executable() {
        let f = valid();
        let elf = Elf::parse(&f, EM_X86_64).unwrap();
        assert_eq!(elf.entry(), BASE + 0x10);
        let segs: Vec<_> = elf.load_segments().collect();
        assert_eq!(segs.len(), 2);
        assert!(segs[0].executable() && !segs[0].writable());
        assert!(segs[1].writable() && !segs[1].executable());
        assert_eq!(segs[1].paddr, 0x1800);
        assert_eq!(elf.segment_data(&segs[0]).len(), 0x800);
        assert_eq!(elf.load_bounds(), (BASE, BASE + 0x5800));
        assert_eq!(elf.max_align(), 0x1000);
        let req = elf.section_by_name(".requests").unwrap().unwrap();
        assert_eq!((req.addr, req.size), (BASE + 0x1000, 0x40));
        assert_eq!(elf.section_by_name(".nope").unwrap(), None);
        assert_eq!(elf.sections().count(), 4);
    }

    #[test]
    fn truncated_file() {
        let f = valid();
        assert_eq!(err(&f[..10]), Error::TooShort { len: 10 });
        assert_eq!(err(&[]), Error::TooShort { len: 0 });
        // Header intact but the segments are cut off.
        assert!(matches!(
            err(&f[..0x1200]),
            Error::SegmentOutOfFile { index: 0, .. }
        ));
    }

    #[test]
    fn bad_magic_class_endianness_version() {
        let mut f = valid();
        f[0] = 0;
        assert_eq!(err(&f), Error::BadMagic);
        assert_eq!(err(b"MZ\x90\x00 random bytes"), Error::BadMagic);
        let mut f = valid();
        f[4] = 1;
        assert_eq!(err(&f), Error::NotElf64 { class: 1 });
        let mut f = valid();
        f[5] = 2;
        assert_eq!(err(&f), Error::NotLittleEndian { data: 2 });
        let mut f = valid();
        put32(&mut f, 20, 7);
        assert_eq!(err(&f), Error::BadVersion { version: 7 });
    }

    #[test]
    fn wrong_machine_and_type() {
        let f = valid();
        assert_eq!(
            Elf::parse(&f, EM_AARCH64).unwrap_err(),
            Error::WrongMachine {
                expected: EM_AARCH64,
                found: EM_X86_64
            }
        );
        let mut f = valid();
        put16(&mut f, 16, 3);
        assert_eq!(err(&f), Error::NotExecutable { e_type: 3 });
    }

    #[test]
    fn header_sizes() {
        let mut f = valid();
        put16(&mut f, 52, 52);
        assert_eq!(err(&f), Error::BadHeaderSize { ehsize: 52 });
        let mut f = valid();
        put16(&mut f, 54, 32);
        assert_eq!(err(&f), Error::BadPhentsize { phentsize: 32 });
        let mut f = valid();
        put16(&mut f, 56, 0);
        assert_eq!(err(&f), Error::NoProgramHeaders);
        let mut f = valid();
        put16(&mut f, 56, 2000);
        assert_eq!(err(&f), Error::TooManyProgramHeaders { phnum: 2000 });
    }

    #[test]
    fn phdr_out_of_bounds() {
        let mut f = valid();
        put64(&mut f, 32, 0x2ff0);
        assert!(matches!(
            err(&f),
            Error::ProgramHeadersOutOfBounds { phoff: 0x2ff0, .. }
        ));
        let mut f = valid();
        put64(&mut f, 32, u64::MAX - 8);
        assert!(matches!(err(&f), Error::ProgramHeadersOutOfBounds { .. }));
    }

    #[test]
    fn segment_past_eof() {
        let mut d = data();
        d.offset = 0x2f00;
        d.vaddr = BASE + 0x2f00;
        d.filesz = 0x200;
        let f = build(&[text(), d], BASE);
        assert_eq!(
            err(&f),
            Error::SegmentOutOfFile {
                index: 1,
                offset: 0x2f00,
                filesz: 0x200,
                file_len: 0x3000
            }
        );
    }

    #[test]
    fn filesz_larger_than_memsz() {
        let mut d = data();
        d.memsz = 0x10;
        let f = build(&[text(), d], BASE);
        assert_eq!(
            err(&f),
            Error::FileszExceedsMemsz {
                index: 1,
                filesz: 0x100,
                memsz: 0x10
            }
        );
    }

    #[test]
    fn entry_outside_executable_segments() {
        // In no segment at all.
        assert_eq!(
            err(&build(&[text(), data()], 0x1234)),
            Error::EntryNotExecutable { entry: 0x1234 }
        );
        // In the data segment, which is not executable.
        let e = BASE + 0x1900;
        assert_eq!(
            err(&build(&[text(), data()], e)),
            Error::EntryNotExecutable { entry: e }
        );
        // One past the end of text.
        let e = BASE + 0x800;
        assert_eq!(
            err(&build(&[text()], e)),
            Error::EntryNotExecutable { entry: e }
        );
    }

    #[test]
    fn overflow() {
        let mut d = data();
        d.vaddr = u64::MAX - 0xfff;
        d.offset = 0x1000;
        d.memsz = 0x2000;
        d.filesz = 0;
        assert_eq!(
            err(&build(&[text(), d], BASE)),
            Error::AddressOverflow { index: 1 }
        );
        let mut d = data();
        d.offset = u64::MAX - 0x10;
        assert!(matches!(
            err(&build(&[text(), d], BASE)),
            Error::SegmentOutOfFile { index: 1, .. }
        ));
    }

    #[test]
    fn alignment() {
        let mut d = data();
        d.align = 0x1800;
        assert_eq!(
            err(&build(&[text(), d], BASE)),
            Error::BadAlignment {
                index: 1,
                align: 0x1800
            }
        );
        let mut d = data();
        d.align = 1 << 40;
        assert!(matches!(
            err(&build(&[text(), d], BASE)),
            Error::BadAlignment { .. }
        ));
        let mut d = data();
        d.vaddr += 8;
        assert!(matches!(
            err(&build(&[text(), d], BASE)),
            Error::MisalignedSegment { index: 1, .. }
        ));
    }

    #[test]
    fn overlapping_segments() {
        let mut d = data();
        d.vaddr = BASE + 0x7f0; // the last 16 bytes of text
        d.offset = 0x17f0;
        let f = build(&[text(), d], BASE);
        assert_eq!(
            err(&f),
            Error::SegmentsOverlap {
                first: 0,
                second: 1
            }
        );
    }

    #[test]
    fn no_loadable_segments() {
        let mut t = text();
        t.memsz = 0;
        t.filesz = 0;
        assert_eq!(err(&build(&[t], BASE)), Error::NoLoadableSegments);
    }

    #[test]
    fn section_table_checks() {
        let mut f = valid();
        put64(&mut f, 40, 0x2ff0);
        assert!(matches!(err(&f), Error::SectionHeadersOutOfBounds { .. }));
        let mut f = valid();
        put16(&mut f, 62, 9);
        assert_eq!(
            err(&f),
            Error::BadShstrndx {
                shstrndx: 9,
                shnum: 4
            }
        );
        let mut f = valid();
        put16(&mut f, 58, 40);
        assert_eq!(err(&f), Error::BadShentsize { shentsize: 40 });
        // A name offset past the name table is reported on lookup.
        let mut f = valid();
        put32(&mut f, 0x2100 + 64, 0x9999);
        let elf = Elf::parse(&f, EM_X86_64).unwrap();
        assert_eq!(
            elf.section_by_name(".requests"),
            Err(Error::BadSectionName { index: 1 })
        );
        // No section headers at all is fine.
        let mut f = valid();
        put16(&mut f, 60, 0);
        let elf = Elf::parse(&f, EM_X86_64).unwrap();
        assert_eq!(elf.section_by_name(".requests").unwrap(), None);
    }

    #[test]
    fn random_bytes_never_panic() {
        // Random bytes stand in for fuzzing: any input must give Ok or Err, not panic.
        let mut rng = wayos_testutil::XorShift(0x1234_5678);
        let base = valid();
        for _ in 0..2000 {
            let mut f = base.clone();
            for _ in 0..8 {
                let pos = rng.index(0x200);
                f[pos] = rng.next() as u8;
            }
            if let Ok(elf) = Elf::parse(&f, EM_X86_64) {
                for s in elf.load_segments() {
                    let _ = elf.segment_data(&s);
                }
                let _ = elf.section_by_name(".requests");
            }
        }
    }

    #[test]
    fn messages_are_readable() {
        let e = Error::WrongMachine {
            expected: EM_X86_64,
            found: EM_AARCH64,
        };
        assert_eq!(
            std::format!("{e}"),
            "built for machine 183 (aarch64), expected 62 (x86_64)"
        );
        assert_eq!(
            std::format!("{}", Error::BadMagic),
            "not an ELF file (bad magic)"
        );
    }
}
