//! Finding the kernel's Limine requests and base revision tag in the loaded image.
//!
//! Where Limine looks, wayboot looks: the loaded image up to the end of its file-backed
//! bytes, 8 bytes at a time. When the kernel has a requests start marker, only requests
//! after it (and before the end marker) count, exactly like Limine's scan, which restarts
//! at each start marker and stops at the end marker. Without markers, a `.limine_requests`
//! section bounds the scan if the kernel has one; otherwise the whole image is scanned.
//! The base revision tag is looked for in the whole image. Two requests with the same id,
//! or two base revision tags, are an error, as in Limine.

use alloc::vec::Vec;
use core::fmt;

/// First two words of every request id.
pub const COMMON_MAGIC: [u64; 2] = [0xc7b1dd30df4c8b88, 0x0a82e883a194f07b];
const START_MARKER: [u64; 4] = [
    0xf6b8f4b39de7d1ae,
    0xfab91a6940fcb9cf,
    0x785c6ed015d3e316,
    0x181e920a7852b9d9,
];
const END_MARKER: [u64; 2] = [0xadc0e0531bb10d03, 0x9572709f31764c62];
const BASE_REVISION_MAGIC: [u64; 2] = [0xf9562b2d5c95a6c8, 0x6a7b384944536bdc];

/// Highest base revision wayboot implements (that of Limine 8.x).
pub const SUPPORTED_BASE_REVISION: u64 = 2;

/// Offset of `revision` in every request.
pub const REVISION: usize = 32;
/// Offset of `response` in every request.
pub const RESPONSE: usize = 40;
/// Offset of the first request-specific field.
pub const EXTRA: usize = 48;

/// The requests wayboot answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    BootloaderInfo,
    FirmwareType,
    StackSize,
    Hhdm,
    Framebuffer,
    PagingMode,
    MemoryMap,
    EntryPoint,
    ExecutableFile,
    Module,
    Rsdp,
    ExecutableAddress,
}

impl Kind {
    /// The last two words of the request id.
    fn id(self) -> [u64; 2] {
        match self {
            Kind::BootloaderInfo => [0xf55038d8e2a1202f, 0x279426fcf5f59740],
            Kind::FirmwareType => [0x8c2f75d90bef28a8, 0x7045a4688eac00c3],
            Kind::StackSize => [0x224ef0460a8e8926, 0xe1cb0fc25f46ea3d],
            Kind::Hhdm => [0x48dcf1cb8ad2b852, 0x63984e959a98244b],
            Kind::Framebuffer => [0x9d5827dcd881dd75, 0xa3148604f6fab11b],
            Kind::PagingMode => [0x95c1a0edab0944cb, 0xa4e5cb3842f7488a],
            Kind::MemoryMap => [0x67cf3d9d378a806f, 0xe304acdfc50c3c62],
            Kind::EntryPoint => [0x13d86c035a1cd3e1, 0x2b0caa89d8f3026a],
            Kind::ExecutableFile => [0xad97e90e83f1ed67, 0x31eb5d1c5ff23b69],
            Kind::Module => [0x3e7e279702be32af, 0xca1c4f3bd1280cee],
            Kind::Rsdp => [0xc5e77b6b397e7b43, 0x27637845accdcf3c],
            Kind::ExecutableAddress => [0x71ba76863cc55f63, 0xb2644a48c516a487],
        }
    }

    /// Bytes of the request structure at revision 0 (what must lie inside the image).
    fn size(self) -> usize {
        match self {
            Kind::StackSize | Kind::EntryPoint | Kind::PagingMode => EXTRA + 8,
            _ => EXTRA,
        }
    }
}

/// Why the requests could not be read.
#[derive(Debug)]
pub enum ScanError {
    DuplicateRequest { id: [u64; 2] },
    DuplicateBaseRevision,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanError::DuplicateRequest { id } => write!(
                f,
                "two Limine requests with the same id ({:#018x} {:#018x})",
                id[0], id[1]
            ),
            ScanError::DuplicateBaseRevision => write!(f, "two Limine base revision tags"),
        }
    }
}

/// The requests of a kernel image, by offset into the loaded image.
pub struct Requests {
    /// Base revision wayboot loads the kernel with.
    pub base_revision: u64,
    /// What the kernel asked for (0 if it has no tag).
    pub requested_revision: u64,
    found: Vec<([u64; 2], usize)>,
    limit: usize,
}

impl Requests {
    /// Offset of the request of this kind, if the kernel has one that fits in the image.
    pub fn get(&self, kind: Kind) -> Option<usize> {
        let id = kind.id();
        let off = self.found.iter().find(|(i, _)| *i == id)?.1;
        (off + kind.size() <= self.limit).then_some(off)
    }

    /// How many request ids were found (including ones wayboot does not answer).
    pub fn count(&self) -> usize {
        self.found.len()
    }
}

/// Reads the little-endian word at `off`.
pub fn read_u64(image: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&image[off..off + 8]);
    u64::from_le_bytes(b)
}

/// Writes the little-endian word at `off`.
pub fn write_u64(image: &mut [u8], off: usize, value: u64) {
    image[off..off + 8].copy_from_slice(&value.to_le_bytes());
}

fn matches(image: &[u8], off: usize, end: usize, words: &[u64]) -> bool {
    off + words.len() * 8 <= end
        && words
            .iter()
            .enumerate()
            .all(|(i, w)| read_u64(image, off + i * 8) == *w)
}

/// Finds the requests and the base revision tag in `image[..limit]` and marks the tag
/// the way Limine does: revision 0 in its third word if supported, and the revision
/// loaded with in its second. `section` is the `.limine_requests` range, if any.
pub fn scan(
    image: &mut [u8],
    limit: usize,
    section: Option<(usize, usize)>,
) -> Result<Requests, ScanError> {
    let limit = limit.min(image.len()) & !7;

    // Base revision tag: anywhere in the image.
    let mut tag = None;
    for off in (0..limit).step_by(8) {
        if matches(image, off, limit, &BASE_REVISION_MAGIC) && off + 24 <= limit {
            if tag.is_some() {
                return Err(ScanError::DuplicateBaseRevision);
            }
            tag = Some(off);
        }
    }

    // Requests: after the last start marker, up to the end marker.
    let has_marker = (0..limit)
        .step_by(8)
        .any(|off| matches(image, off, limit, &START_MARKER));
    let (start, end) = match section {
        Some((s, e)) if !has_marker && s < e && e <= limit => (s & !7, e),
        _ => (0, limit),
    };
    let mut found: Vec<([u64; 2], usize)> = Vec::new();
    for off in (start..end).step_by(8) {
        if matches(image, off, end, &START_MARKER) {
            found.clear();
            continue;
        }
        if matches(image, off, end, &END_MARKER) {
            break;
        }
        if off + 32 <= end && matches(image, off, end, &COMMON_MAGIC) {
            let id = [read_u64(image, off + 16), read_u64(image, off + 24)];
            if found.iter().any(|(i, _)| *i == id) {
                return Err(ScanError::DuplicateRequest { id });
            }
            found.push((id, off));
        }
    }

    let requested_revision = tag.map_or(0, |off| read_u64(image, off + 16));
    let mut base_revision = 0;
    if let Some(off) = tag {
        base_revision = requested_revision.min(SUPPORTED_BASE_REVISION);
        if requested_revision <= SUPPORTED_BASE_REVISION {
            write_u64(image, off + 16, 0);
        }
        write_u64(image, off + 8, base_revision);
    }
    Ok(Requests {
        base_revision,
        requested_revision,
        found,
        limit,
    })
}
