//! Malformed-input corpora: deterministic mutants of valid files, for the parsers that
//! read what a user (or a disk) hands the system — ELF executables (`execve`), the newc
//! initramfs, shell lines, `.waymodel` files (`model_load`).
//!
//! Each generator takes a valid input and returns `(name, bytes)` pairs: truncations at
//! every interesting offset (each header field's boundaries, each table entry, each
//! segment's start and end), bit flips (every bit of the headers, then seeded random ones
//! elsewhere), and fields set to values that overlap or overflow (offsets and sizes past
//! the end, counts of 0 and 0xffff, addresses that wrap, non-hex digits). The name says
//! what was done, so a failing mutant can be rebuilt by reading it. Everything is a pure
//! function of the input and the seed (the [`XorShift`] all tests share): the same input
//! gives the same corpus on any machine.
//!
//! Used by the host tests beside it (every mutant through `wayos-kcore`'s `elf` and `cpio`
//! and waysh's parser: an error or a bounded result, never a panic) and by `cargo xtask`,
//! which packs a sample of ELF mutants into the initramfs for `hardtest`'s `execve` checks.
//! It never writes files or reads the clock.
#![forbid(unsafe_code)]

use wayos_testutil::XorShift;

mod waymodel;
pub use waymodel::{waymodel_guest_sample, waymodel_mutants, waymodel_sample};

/// A named mutant.
pub type Mutant = (String, Vec<u8>);

const EHDR: usize = 64;
const PHDR: usize = 56;

fn get_u16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn get_u64(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(at..at + 8)?.try_into().ok()?))
}

fn with_field(d: &[u8], at: usize, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut v = d.to_vec();
    v.get_mut(at..at.checked_add(bytes.len())?)?
        .copy_from_slice(bytes);
    Some(v)
}

/// Offsets a truncation is interesting at in an ELF64 file: inside and at the end of the
/// header, at and inside each program header, at each segment's start, middle and end.
fn elf_cut_points(d: &[u8]) -> Vec<usize> {
    let mut cuts = vec![0, 1, 3, 4, 5, 16, 18, 24, 32, 40, 52, 54, 56, 58, 63, EHDR];
    let phoff = get_u64(d, 32).unwrap_or(0) as usize;
    let phnum = get_u16(d, 56).unwrap_or(0) as usize;
    for i in 0..phnum.min(64) {
        let at = phoff.saturating_add(i * PHDR);
        cuts.extend([0, 1, 8, 32, PHDR - 1].map(|o| at.saturating_add(o)));
        let off = get_u64(d, at.saturating_add(8)).unwrap_or(0) as usize;
        let filesz = get_u64(d, at.saturating_add(32)).unwrap_or(0) as usize;
        let end = off.saturating_add(filesz);
        cuts.extend([
            off,
            off.saturating_add(1),
            off.saturating_add(filesz / 2),
            end.saturating_sub(1),
        ]);
    }
    cuts.push(d.len().saturating_sub(1));
    cuts.sort_unstable();
    cuts.dedup();
    cuts.retain(|&c| c < d.len());
    cuts
}

/// Mutants of a valid ELF64 little-endian executable `valid`.
pub fn elf_mutants(valid: &[u8], seed: u64) -> Vec<Mutant> {
    let mut out: Vec<Mutant> = Vec::new();
    for cut in elf_cut_points(valid) {
        out.push((format!("truncated-at-{cut}"), valid[..cut].to_vec()));
    }
    // Header fields set to edge values: (offset, width, name).
    let fields: &[(usize, usize, &str)] = &[
        (4, 1, "class"),
        (5, 1, "data"),
        (6, 1, "version"),
        (16, 2, "type"),
        (18, 2, "machine"),
        (24, 8, "entry"),
        (32, 8, "phoff"),
        (40, 8, "shoff"),
        (52, 2, "ehsize"),
        (54, 2, "phentsize"),
        (56, 2, "phnum"),
        (58, 2, "shentsize"),
        (60, 2, "shnum"),
        (62, 2, "shstrndx"),
    ];
    let len = valid.len() as u64;
    let edges = |width: usize| -> Vec<u64> {
        let max = if width == 8 {
            u64::MAX
        } else {
            (1u64 << (width * 8)) - 1
        };
        let mut v = vec![
            0,
            1,
            max,
            max - 1,
            max / 2 + 1,
            len & max,
            len.wrapping_sub(1) & max,
        ];
        v.extend([(len + 1) & max, 0xffff_8000_0000_0000 & max]);
        v.sort_unstable();
        v.dedup();
        v
    };
    for &(at, width, name) in fields {
        for v in edges(width) {
            let bytes = &v.to_le_bytes()[..width];
            if let Some(m) = with_field(valid, at, bytes) {
                if m != valid {
                    out.push((format!("ehdr-{name}={v:#x}"), m));
                }
            }
        }
    }
    // Program header fields: offset, vaddr, filesz, memsz, align, type, flags.
    let phoff = get_u64(valid, 32).unwrap_or(0) as usize;
    let phnum = get_u16(valid, 56).unwrap_or(0) as usize;
    let phfields: &[(usize, usize, &str)] = &[
        (0, 4, "type"),
        (4, 4, "flags"),
        (8, 8, "offset"),
        (16, 8, "vaddr"),
        (32, 8, "filesz"),
        (40, 8, "memsz"),
        (48, 8, "align"),
    ];
    for i in 0..phnum.min(16) {
        let base = phoff + i * PHDR;
        for &(off, width, name) in phfields {
            let mut vals = edges(width);
            if name == "vaddr" {
                // Segments that wrap, reach the kernel half, or overlap the first one.
                vals.extend([u64::MAX - 0xfff, 0x7fff_ffff_f000, 0xffff_ffff_8000_0000, 0]);
                if let Some(first) = get_u64(valid, phoff + 16) {
                    vals.push(first);
                }
            }
            if name == "align" {
                vals.extend([3, 0x1000, 1 << 40]);
            }
            if name == "flags" {
                vals.extend([7, 6, 0]);
            }
            vals.sort_unstable();
            vals.dedup();
            for v in vals {
                let bytes = &v.to_le_bytes()[..width];
                if let Some(m) = with_field(valid, base + off, bytes) {
                    if m != valid {
                        out.push((format!("phdr{i}-{name}={v:#x}"), m));
                    }
                }
            }
        }
        // filesz greater than memsz.
        if let (Some(filesz), Some(_)) = (get_u64(valid, base + 32), get_u64(valid, base + 40)) {
            if let Some(m) = with_field(valid, base + 40, &filesz.saturating_sub(1).to_le_bytes()) {
                out.push((format!("phdr{i}-memsz-below-filesz"), m));
            }
        }
    }
    // Every bit of the header and the first program headers, then random flips anywhere.
    let head = (phoff + phnum.min(4) * PHDR)
        .min(valid.len())
        .max(EHDR.min(valid.len()));
    for byte in 0..head {
        for bit in 0..8 {
            let mut m = valid.to_vec();
            m[byte] ^= 1 << bit;
            out.push((format!("flip-{byte}.{bit}"), m));
        }
    }
    out.extend(random_flips(valid, seed, 64));
    out
}

/// `count` mutants of `valid` with 1 to 8 random bits flipped each.
pub fn random_flips(valid: &[u8], seed: u64, count: usize) -> Vec<Mutant> {
    let mut rng = XorShift::new(seed);
    let mut out = Vec::new();
    if valid.is_empty() {
        return out;
    }
    for n in 0..count {
        let mut m = valid.to_vec();
        let flips = 1 + rng.below(8);
        for _ in 0..flips {
            let at = rng.below(m.len() as u64) as usize;
            m[at] ^= 1 << rng.below(8);
        }
        out.push((format!("random-{seed}-{n}"), m));
    }
    out
}

/// newc header fields, in order, as `(name, offset)`; each is 8 hex digits after the
/// 6-byte magic.
const CPIO_FIELDS: &[&str] = &[
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];
const CPIO_HEADER: usize = 110;

/// The offsets of the headers in a valid newc archive (up to `limit`).
fn cpio_headers(d: &[u8], limit: usize) -> Vec<usize> {
    let mut at = 0;
    let mut out = Vec::new();
    let field = |h: usize, i: usize| -> Option<usize> {
        let s = std::str::from_utf8(d.get(h + 6 + i * 8..h + 14 + i * 8)?).ok()?;
        usize::from_str_radix(s, 16).ok()
    };
    while out.len() < limit && d.get(at..at + 6) == Some(b"070701") {
        out.push(at);
        let (Some(namesize), Some(filesize)) = (field(at, 11), field(at, 6)) else {
            break;
        };
        let name_end = (at + CPIO_HEADER + namesize + 3) & !3;
        at = (name_end + filesize + 3) & !3;
    }
    out
}

/// The first `entries` members of a valid newc archive followed by its trailer: a small
/// archive made of real headers, so mutating a multi-megabyte initramfs stays cheap.
pub fn cpio_head(valid: &[u8], entries: usize) -> Vec<u8> {
    let all = cpio_headers(valid, usize::MAX);
    match (all.get(entries), all.last()) {
        (Some(&cut), Some(&trailer)) if cut < trailer => {
            let mut v = valid[..cut].to_vec();
            v.extend_from_slice(&valid[trailer..]);
            v
        }
        _ => valid.to_vec(),
    }
}

/// Mutants of a valid newc archive `valid`: its first headers' fields set to overflowing,
/// empty and non-hex values, bad magic, truncations at each header's boundaries, random
/// bit flips.
pub fn cpio_mutants(valid: &[u8], seed: u64) -> Vec<Mutant> {
    let mut out = Vec::new();
    let headers = cpio_headers(valid, 8);
    for &h in &headers {
        for cut in [
            h,
            h + 1,
            h + 6,
            h + 60,
            h + CPIO_HEADER - 1,
            h + CPIO_HEADER,
            h + CPIO_HEADER + 1,
        ] {
            if cut < valid.len() {
                out.push((format!("truncated-at-{cut}"), valid[..cut].to_vec()));
            }
        }
        if let Some(m) = with_field(valid, h, b"070702") {
            out.push((format!("h{h}-magic-070702"), m));
        }
        if let Some(m) = with_field(valid, h, b"\0\0\0\0\0\0") {
            out.push((format!("h{h}-magic-zero"), m));
        }
        for (i, name) in CPIO_FIELDS.iter().enumerate() {
            for v in [
                "00000000", "ffffffff", "7fffffff", "80000000", "0000000g", "-0000001", "        ",
                "00100000",
            ] {
                if let Some(m) = with_field(valid, h + 6 + i * 8, v.as_bytes()) {
                    if m != valid {
                        out.push((format!("h{h}-{name}={v}"), m));
                    }
                }
            }
        }
        // A name without its NUL: overwrite the terminator.
        let namesize = std::str::from_utf8(&valid[h + 94..h + 102])
            .ok()
            .and_then(|s| usize::from_str_radix(s, 16).ok());
        if let Some(n) = namesize.filter(|&n| n > 0) {
            if let Some(m) = with_field(valid, h + CPIO_HEADER + n - 1, b"X") {
                out.push((format!("h{h}-name-without-nul"), m));
            }
            if let Some(m) = with_field(valid, h + CPIO_HEADER, &[0xff]) {
                out.push((format!("h{h}-name-not-utf8"), m));
            }
        }
    }
    // No trailer: cut just before the last header.
    if let Some(&last) = cpio_headers(valid, usize::MAX).last() {
        out.push(("no-trailer".into(), valid[..last].to_vec()));
    }
    out.extend(random_flips(valid, seed, 64));
    out
}

/// Mutants of valid shell lines: each line truncated at every character, with quotes
/// unbalanced, control bytes and NULs inserted, words made huge, and constructs nested
/// deeply; plus a few lines that are hostile on their own.
pub fn shell_mutants(lines: &[&str], seed: u64) -> Vec<Mutant> {
    let mut out: Vec<Mutant> = Vec::new();
    let mut push = |name: String, s: String| out.push((name, s.into_bytes()));
    for (li, line) in lines.iter().enumerate() {
        for (ci, _) in line.char_indices() {
            push(format!("line{li}-cut-{ci}"), line[..ci].to_string());
        }
        for q in [
            "'", "\"", "\\", "`", "$(", "${", "$", "|", "&&", "||", ";", ">", "<", "2>", "&",
        ] {
            push(format!("line{li}-append-{q}"), format!("{line}{q}"));
            push(format!("line{li}-prepend-{q}"), format!("{q}{line}"));
        }
        for c in [0u8, 1, 3, 4, 8, 0x1b, 0x7f] {
            let mid = line
                .char_indices()
                .nth(line.chars().count() / 2)
                .map_or(0, |(i, _)| i);
            push(
                format!("line{li}-control-{c}"),
                format!("{}{}{}", &line[..mid], c as char, &line[mid..]),
            );
        }
        push(
            format!("line{li}-huge-word"),
            format!("{line} {}", "w".repeat(100_000)),
        );
        push(
            format!("line{li}-many-words"),
            format!("{line}{}", " w".repeat(20_000)),
        );
        push(format!("line{li}-repeated"), [*line; 200].join(" ; "));
    }
    for depth in [10, 1000, 10_000] {
        push(format!("nested-dollar-{depth}"), "$(".repeat(depth));
        push(
            format!("nested-brace-{depth}"),
            "${".repeat(depth) + &"}".repeat(depth),
        );
        push(
            format!("nested-paren-{depth}"),
            "(".repeat(depth) + &")".repeat(depth),
        );
        push(format!("nested-quotes-{depth}"), "\"'".repeat(depth));
        push(format!("pipes-{depth}"), vec!["a"; depth].join(" | "));
        push(format!("ands-{depth}"), vec!["a"; depth].join(" && "));
        push(
            format!("redirs-{depth}"),
            "a".to_string() + &" >f".repeat(depth),
        );
        push(format!("backslashes-{depth}"), "\\".repeat(depth));
    }
    push("fd-huge".into(), "echo 99999999999999999999>x".into());
    push("fd-max".into(), "echo 4294967296>x 256>y 255>z".into());
    push("var-huge-name".into(), format!("${}", "A".repeat(50_000)));
    push("assign-only".into(), "A=1 B=2 C=".into());
    push("empty".into(), String::new());
    push("only-newlines".into(), "\n\n\n".into());
    push("comment-only".into(), "# x 'y".into());
    let mut rng = XorShift::new(seed);
    let alphabet: Vec<char> = " \t\n'\"\\$|&;<>(){}#=*?~`!aZ09-_/".chars().collect();
    for n in 0..256 {
        let len = rng.below(64) as usize;
        let s: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
            .collect();
        push(format!("random-{seed}-{n}"), s);
    }
    out
}

/// The ELF mutants worth running in the guest (`execve` each): a spread over the kinds —
/// header fields, program header fields, truncations, flips — at most `max`, evenly
/// spaced so the sample is the same for the same input.
pub fn elf_guest_sample(valid: &[u8], seed: u64, max: usize) -> Vec<Mutant> {
    let all = elf_mutants(valid, seed);
    if all.len() <= max || max == 0 {
        return all.into_iter().take(max).collect();
    }
    let step = all.len() as f64 / max as f64;
    (0..max)
        .map(|i| all[(i as f64 * step) as usize].clone())
        .collect()
}

/// A minimal valid ELF64 little-endian executable for `machine` (62 x86_64, 183 aarch64):
/// one `R+X` `PT_LOAD` segment of one page at 0x40_0000 holding `code`, entry at its
/// start. The corpora start from it when no built program is at hand.
pub fn minimal_elf(machine: u16, code: &[u8]) -> Vec<u8> {
    let vaddr: u64 = 0x40_0000;
    let off = 0x1000u64;
    let mut d = vec![0u8; off as usize];
    d[..4].copy_from_slice(b"\x7fELF");
    d[4] = 2; // ELFCLASS64
    d[5] = 1; // little endian
    d[6] = 1; // EV_CURRENT
    d[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    d[18..20].copy_from_slice(&machine.to_le_bytes());
    d[20..24].copy_from_slice(&1u32.to_le_bytes());
    d[24..32].copy_from_slice(&vaddr.to_le_bytes());
    d[32..40].copy_from_slice(&(EHDR as u64).to_le_bytes());
    d[52..54].copy_from_slice(&(EHDR as u16).to_le_bytes());
    d[54..56].copy_from_slice(&(PHDR as u16).to_le_bytes());
    d[56..58].copy_from_slice(&1u16.to_le_bytes());
    d[58..60].copy_from_slice(&64u16.to_le_bytes());
    let p = EHDR;
    d[p..p + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    d[p + 4..p + 8].copy_from_slice(&5u32.to_le_bytes()); // R+X
    d[p + 8..p + 16].copy_from_slice(&off.to_le_bytes());
    d[p + 16..p + 24].copy_from_slice(&vaddr.to_le_bytes());
    d[p + 24..p + 32].copy_from_slice(&vaddr.to_le_bytes());
    d[p + 32..p + 40].copy_from_slice(&(code.len() as u64).to_le_bytes());
    d[p + 40..p + 48].copy_from_slice(&0x1000u64.to_le_bytes());
    d[p + 48..p + 56].copy_from_slice(&0x1000u64.to_le_bytes());
    d.extend_from_slice(code);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpora_are_deterministic_and_named_uniquely() {
        let elf = minimal_elf(62, &[0xf4; 16]);
        let a = elf_mutants(&elf, 7);
        assert_eq!(a, elf_mutants(&elf, 7));
        assert_ne!(a, elf_mutants(&elf, 8));
        let mut names: Vec<&String> = a.iter().map(|(n, _)| n).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "mutant names repeat");
        assert!(
            a.iter().all(|(_, m)| *m != elf),
            "a mutant equals the input"
        );
        assert!(a.len() > 500, "only {} ELF mutants", a.len());
    }

    #[test]
    fn sample_is_spread_and_bounded() {
        let elf = minimal_elf(183, &[0; 8]);
        let s = elf_guest_sample(&elf, 1, 40);
        assert_eq!(s.len(), 40);
        assert!(s.iter().any(|(n, _)| n.starts_with("truncated")));
        assert!(s.iter().any(|(n, _)| n.starts_with("phdr")));
        assert!(s.iter().any(|(n, _)| n.starts_with("flip")));
    }
}
