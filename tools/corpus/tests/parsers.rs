//! Every mutant of every corpus through the host-testable parsers that read untrusted
//! input: `wayos-kcore`'s `elf` (what `execve` loads) and `cpio` (the initramfs), and
//! waysh's parser. Each must be refused with an error or parsed into something that stays
//! inside its input; a panic fails the test and names the mutant.
//!
//! The valid inputs are built here (a minimal ELF per architecture, an archive packed with
//! `mkramfs`, typical shell lines) and, when a build left them under `target/`, the real
//! user programs and the real initramfs too.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use wayos_corpus::{cpio_head, cpio_mutants, elf_mutants, minimal_elf, shell_mutants, Mutant};
use wayos_kcore::{cpio, elf};

fn target() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

/// Runs `check` on every mutant, collecting the names of those that panicked or failed.
fn each(corpus: &[Mutant], check: impl Fn(&[u8]) -> Result<(), String>) -> Vec<String> {
    let mut bad = Vec::new();
    for (name, m) in corpus {
        match catch_unwind(AssertUnwindSafe(|| check(m))) {
            Ok(Ok(())) => {}
            Ok(Err(why)) => bad.push(format!("{name}: {why}")),
            Err(_) => bad.push(format!("{name}: panicked")),
        }
    }
    bad
}

/// Where `inner` starts in `outer`, if it lies wholly inside it.
fn within(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

fn check_elf(data: &[u8], machine: u16) -> Result<(), String> {
    let Ok(e) = elf::Elf::parse(data, machine) else {
        return Ok(());
    };
    let _ = (e.entry(), e.max_align(), e.load_bounds());
    for seg in e.load_segments() {
        seg.vaddr
            .checked_add(seg.memsz)
            .ok_or_else(|| format!("segment {} wraps", seg.index))?;
        if seg.filesz > seg.memsz {
            return Err(format!("segment {} filesz > memsz accepted", seg.index));
        }
        let bytes = e.segment_data(&seg);
        if bytes.len() as u64 != seg.filesz || !within(data, bytes) {
            return Err(format!("segment {} data outside the file", seg.index));
        }
    }
    for s in e.sections() {
        if let Ok(d) = e.section_data(&s) {
            if !within(data, d) {
                return Err("section data outside the file".into());
            }
        }
        let _ = e.section_name(&s);
    }
    let _ = e.section_by_name(".symtab");
    Ok(())
}

/// Valid ELFs: minimal ones, and the built user programs if there are any.
fn valid_elves() -> Vec<(String, Vec<u8>, u16)> {
    let mut v = vec![
        (
            "minimal-x86_64".into(),
            minimal_elf(elf::EM_X86_64, &[0xf4; 32]),
            elf::EM_X86_64,
        ),
        (
            "minimal-aarch64".into(),
            minimal_elf(elf::EM_AARCH64, &[0; 32]),
            elf::EM_AARCH64,
        ),
    ];
    for (triple, machine) in [
        ("x86_64-unknown-none", elf::EM_X86_64),
        ("aarch64-unknown-none", elf::EM_AARCH64),
    ] {
        let p = target().join(triple).join("debug/stripped/hello");
        if let Ok(bytes) = std::fs::read(&p) {
            v.push((p.display().to_string(), bytes, machine));
        }
    }
    v
}

#[test]
fn valid_inputs_parse() {
    for (name, d, machine) in valid_elves() {
        assert!(
            elf::Elf::parse(&d, machine).is_ok(),
            "{name} does not parse"
        );
    }
}

#[test]
fn elf_mutants_are_refused_or_bounded() {
    for (name, valid, machine) in valid_elves() {
        let corpus = elf_mutants(&valid, 1);
        let bad = each(&corpus, |m| check_elf(m, machine));
        assert!(
            bad.is_empty(),
            "{name}: {} bad of {}:\n{}",
            bad.len(),
            corpus.len(),
            bad.join("\n")
        );
        // The other machine's parser sees the same bytes as a wrong-machine file.
        let other = if machine == elf::EM_X86_64 {
            elf::EM_AARCH64
        } else {
            elf::EM_X86_64
        };
        assert!(
            elf::Elf::parse(&valid, other).is_err(),
            "{name} parsed for the wrong machine"
        );
    }
}

fn check_cpio(archive: &[u8]) -> Result<(), String> {
    // Each entry consumes at least a header, so more than this many is a loop.
    let limit = archive.len() / 110 + 2;
    let mut n = 0;
    for entry in cpio::entries(archive) {
        n += 1;
        if n > limit {
            return Err(format!("more than {limit} entries: the reader loops"));
        }
        let Ok(e) = entry else { break };
        if !within(archive, e.data) || !within(archive, e.name.as_bytes()) {
            return Err(format!("entry {:?} outside the archive", e.name));
        }
    }
    let _ = cpio::find(archive, "bin/init");
    let _ = cpio::find(archive, "/etc/../bin/x");
    Ok(())
}

fn valid_archives() -> Vec<(String, Vec<u8>)> {
    let mut r = mkramfs::Ramfs::new();
    r.add_dir("etc").unwrap();
    r.add_file("etc/wayos-release", 0o644, b"WayOS 0.1.0\n".to_vec())
        .unwrap();
    r.add_file("bin/a", 0o755, vec![7; 1000]).unwrap();
    r.add_file("bin/empty", 0o755, Vec::new()).unwrap();
    let mut v = vec![("packed".to_string(), r.to_cpio())];
    for arch in ["x86_64", "aarch64"] {
        let p = target()
            .join("wayos")
            .join(arch)
            .join("debug/initramfs.cpio");
        if let Ok(bytes) = std::fs::read(&p) {
            // Its first entries and trailer: real headers, without copying megabytes
            // for every mutant.
            v.push((p.display().to_string(), cpio_head(&bytes, 6)));
        }
    }
    v
}

#[test]
fn cpio_mutants_are_refused_or_bounded() {
    for (name, valid) in valid_archives() {
        assert!(check_cpio(&valid).is_ok());
        assert!(
            cpio::entries(&valid).all(|e| e.is_ok()),
            "{name} does not read"
        );
        let corpus = cpio_mutants(&valid, 1);
        assert!(corpus.len() > 100, "{name}: only {} mutants", corpus.len());
        let bad = each(&corpus, check_cpio);
        assert!(
            bad.is_empty(),
            "{name}: {} bad of {}:\n{}",
            bad.len(),
            corpus.len(),
            bad.join("\n")
        );
    }
}

/// Lines the shell sees every day.
const SHELL_LINES: &[&str] = &[
    "echo hello world",
    "ls -l /bin | wc -l > /tmp/n",
    "A=1 B='two words' env | grep A && echo \"$A ${B}\" || echo no",
    "cat < /etc/wayos-release 2>/dev/null; exit 3",
    "cd /tmp && echo 'it''s' \"q\\\"uote\" \\$HOME # comment",
];

#[test]
fn shell_mutants_are_refused_or_bounded() {
    let corpus = shell_mutants(SHELL_LINES, 1);
    assert!(corpus.len() > 500);
    let bad = each(&corpus, |m| {
        let line = String::from_utf8_lossy(m);
        let _ = waysh::parse::parse(&line);
        Ok(())
    });
    assert!(
        bad.is_empty(),
        "{} bad of {}:\n{}",
        bad.len(),
        corpus.len(),
        bad.join("\n")
    );
}
