//! Turning the linked aarch64 kernel ELF into a raw arm64 `Image`, the format QEMU's
//! `-kernel` (and U-Boot's `booti`) loads: the kernel's memory image from its first byte,
//! starting with the 64-byte arm64 Image header (docs/boot.md, "aarch64").
//!
//! This module only converts and checks bytes; it never runs tools or touches files.

use object::elf::{EM_AARCH64, PT_LOAD};
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::Endianness;

/// Where the arm64 Image header keeps its fields.
const HEADER_LEN: usize = 64;
const TEXT_OFFSET_AT: usize = 0x08;
const IMAGE_SIZE_AT: usize = 0x10;
const MAGIC_AT: usize = 0x38;
const MAGIC: &[u8; 4] = b"ARM\x64";
/// No sane kernel Image is this large; a bigger span means a stray segment.
const MAX_IMAGE: u64 = 1 << 30;

/// Lays the ELF's `PT_LOAD` segments out flat, each at `vaddr - lowest vaddr`, file bytes
/// only (`.bss` is not stored: the header's image_size tells the loader how much memory to
/// keep free), and checks that the result is a valid arm64 Image that covers every segment.
pub fn raw_image(elf: &[u8]) -> Result<Vec<u8>, String> {
    let file = ElfFile64::<Endianness>::parse(elf)
        .map_err(|e| format!("kernel is not a 64-bit ELF: {e}"))?;
    let endian = file.endian();
    let header = file.elf_header();
    let machine = header.e_machine(endian);
    if machine != EM_AARCH64 {
        return Err(format!(
            "kernel ELF is for machine {machine}, not aarch64 ({EM_AARCH64})"
        ));
    }
    let loads: Vec<_> = file
        .elf_program_headers()
        .iter()
        .filter(|ph| ph.p_type(endian) == PT_LOAD && ph.p_memsz(endian) > 0)
        .collect();
    let base = loads
        .iter()
        .map(|ph| ph.p_vaddr(endian))
        .min()
        .ok_or("kernel ELF has no PT_LOAD segments")?;
    let file_end = loads
        .iter()
        .map(|ph| ph.p_vaddr(endian) + ph.p_filesz(endian))
        .max()
        .unwrap_or(base);
    let mem_end = loads
        .iter()
        .map(|ph| ph.p_vaddr(endian) + ph.p_memsz(endian))
        .max()
        .unwrap_or(base);
    if mem_end - base > MAX_IMAGE {
        return Err(format!(
            "kernel segments span {:#x} bytes from {base:#x}; expected one image under 1 GiB",
            mem_end - base
        ));
    }
    let entry = header.e_entry(endian);
    if entry != base {
        return Err(format!(
            "kernel entry {entry:#x} is not its first byte {base:#x}: the Image header \
             (section .text.head) must come first"
        ));
    }

    let mut out = vec![0u8; (file_end - base) as usize];
    for ph in &loads {
        let data = ph
            .data(endian, elf)
            .map_err(|_| format!("PT_LOAD at {:#x} lies outside the file", ph.p_vaddr(endian)))?;
        let at = (ph.p_vaddr(endian) - base) as usize;
        out[at..at + data.len()].copy_from_slice(data);
    }

    check_header(&out, mem_end - base)?;
    Ok(out)
}

fn le64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Checks the arm64 header at the start of `image`, whose segments need `mem_span` bytes.
fn check_header(image: &[u8], mem_span: u64) -> Result<(), String> {
    if image.len() < HEADER_LEN {
        return Err(format!(
            "kernel image is {} bytes, shorter than the 64-byte arm64 Image header",
            image.len()
        ));
    }
    if &image[MAGIC_AT..MAGIC_AT + 4] != MAGIC {
        return Err(format!(
            "kernel image has no arm64 Image header: bytes at {MAGIC_AT:#x} are {:02x?}, want \
             \"ARM\\x64\" (is `_start` in .text.head, first in the linker script?)",
            &image[MAGIC_AT..MAGIC_AT + 4]
        ));
    }
    let image_size = le64(image, IMAGE_SIZE_AT);
    if image_size < mem_span {
        return Err(format!(
            "arm64 header image_size {image_size:#x} does not cover the kernel's {mem_span:#x} \
             bytes of memory (including .bss)"
        ));
    }
    let text_offset = le64(image, TEXT_OFFSET_AT);
    if !text_offset.is_multiple_of(4096) || text_offset >= 2 << 20 {
        return Err(format!(
            "arm64 header text_offset {text_offset:#x} is not a page offset within 2 MiB"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 0xffff_ffff_8008_0000;

    /// An arm64 header whose image_size is `image_size`.
    fn header(image_size: u64) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&0x1400_0010u32.to_le_bytes()); // b +0x40
        h[TEXT_OFFSET_AT..TEXT_OFFSET_AT + 8].copy_from_slice(&0x8_0000u64.to_le_bytes());
        h[IMAGE_SIZE_AT..IMAGE_SIZE_AT + 8].copy_from_slice(&image_size.to_le_bytes());
        h[0x18..0x20].copy_from_slice(&0xau64.to_le_bytes());
        h[MAGIC_AT..MAGIC_AT + 4].copy_from_slice(MAGIC);
        h
    }

    /// A minimal little-endian ELF64 with one PT_LOAD per `(vaddr, bytes, memsz)`.
    fn elf(machine: u16, entry: u64, segments: &[(u64, Vec<u8>, u64)]) -> Vec<u8> {
        let phoff = 64u64;
        let mut data_off = phoff + 56 * segments.len() as u64;
        let mut out = Vec::new();
        out.extend_from_slice(b"\x7fELF");
        out.extend_from_slice(&[2, 1, 1, 0]); // 64-bit, little endian, version 1, SysV
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        out.extend_from_slice(&machine.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&entry.to_le_bytes());
        out.extend_from_slice(&phoff.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // shoff
        out.extend_from_slice(&0u32.to_le_bytes()); // flags
        out.extend_from_slice(&64u16.to_le_bytes()); // ehsize
        out.extend_from_slice(&56u16.to_le_bytes()); // phentsize
        out.extend_from_slice(&(segments.len() as u16).to_le_bytes());
        out.extend_from_slice(&64u16.to_le_bytes()); // shentsize
        out.extend_from_slice(&0u16.to_le_bytes()); // shnum
        out.extend_from_slice(&0u16.to_le_bytes()); // shstrndx
        assert_eq!(out.len(), 64);
        for (vaddr, bytes, memsz) in segments {
            out.extend_from_slice(&PT_LOAD.to_le_bytes());
            out.extend_from_slice(&5u32.to_le_bytes());
            out.extend_from_slice(&data_off.to_le_bytes());
            out.extend_from_slice(&vaddr.to_le_bytes());
            out.extend_from_slice(&vaddr.to_le_bytes());
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(&memsz.to_le_bytes());
            out.extend_from_slice(&4096u64.to_le_bytes());
            data_off += bytes.len() as u64;
        }
        for (_, bytes, _) in segments {
            out.extend_from_slice(bytes);
        }
        out
    }

    #[test]
    fn segments_are_laid_out_flat_without_bss() {
        let mut text = header(0x3000);
        text.extend_from_slice(&[0xaa; 16]);
        let data = vec![0xbb; 8];
        let image = raw_image(&elf(
            EM_AARCH64,
            BASE,
            &[
                (BASE, text.clone(), text.len() as u64),
                (BASE + 0x2000, data, 0x1000),
            ],
        ))
        .unwrap();
        assert_eq!(
            image.len(),
            0x2008,
            "ends at the last file byte, not at .bss's end"
        );
        assert_eq!(&image[..text.len()], &text[..]);
        assert!(
            image[text.len()..0x2000].iter().all(|&b| b == 0),
            "gap is zero-filled"
        );
        assert_eq!(&image[0x2000..], &[0xbb; 8]);
    }

    #[test]
    fn missing_magic_is_reported() {
        let mut text = header(0x1000);
        text[MAGIC_AT] = b'X';
        let len = text.len() as u64;
        let err = raw_image(&elf(EM_AARCH64, BASE, &[(BASE, text, len)])).unwrap_err();
        assert!(err.contains("no arm64 Image header"), "{err}");
    }

    #[test]
    fn image_size_must_cover_bss() {
        let text = header(0x1000);
        let err = raw_image(&elf(EM_AARCH64, BASE, &[(BASE, text, 0x4000)])).unwrap_err();
        assert!(err.contains("image_size"), "{err}");
    }

    #[test]
    fn entry_must_be_the_first_byte() {
        let text = header(0x1000);
        let len = text.len() as u64;
        let err = raw_image(&elf(EM_AARCH64, BASE + 0x40, &[(BASE, text, len)])).unwrap_err();
        assert!(err.contains("first byte"), "{err}");
    }

    #[test]
    fn other_machines_and_non_elf_are_refused() {
        let text = header(0x1000);
        let len = text.len() as u64;
        let err = raw_image(&elf(62, BASE, &[(BASE, text, len)])).unwrap_err();
        assert!(err.contains("not aarch64"), "{err}");
        let err = raw_image(b"MZ not an elf at all, just some bytes....").unwrap_err();
        assert!(err.contains("not a 64-bit ELF"), "{err}");
    }

    #[test]
    fn no_load_segments_is_an_error() {
        let err = raw_image(&elf(EM_AARCH64, BASE, &[])).unwrap_err();
        assert!(err.contains("no PT_LOAD"), "{err}");
    }
}
