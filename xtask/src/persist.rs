//! The persistence check of `cargo xtask test`: files written under `/disk` survive a
//! reboot, the host's `fsck.fat` finds the volume clean, and a boot killed without `sync`
//! leaves a volume `fsck.fat` can repair with the synced files intact.
//!
//! One fresh FAT32 image (`target/wayos/<arch>/persist-disk.img`, made by `mkfs.fat`)
//! goes through three short boots that run only `/bin/persist` (init's
//! `wayos.persist=<mode>`, no suites):
//! 1. `write`: directories and files (a 5 MiB one among them), each file's SHA-256
//!    printed; init powers off cleanly (the kernel unmounts the volume: it is marked clean
//!    and written back). Then on the host: `fsck.fat -n` exits 0, and every file read
//!    with mtools' `mcopy` has the SHA-256 the guest printed.
//! 2. `check`: the guest reads the files back and compares (and prints the same hashes,
//!    compared here with the first boot's); `fsck.fat -n` clean again.
//! 3. `crash`: files written and `sync`ed, more written, and QEMU killed. `fsck.fat -a`
//!    repairs (exit 0 or 1), `fsck.fat -n` is then clean, and `mcopy` reads the synced
//!    files (and the first boot's 5 MiB file) with their hashes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wayos_abi::harness::{DISK_IMAGE_BYTES, PERSIST_KEY, PERSIST_SHA_WORD, PERSIST_SYNCED};

use crate::artifacts::{target_root, Built};
use crate::prereq::{self, Need};
use crate::qemu::{self, Guest, Machine, Serial, Verdict};
use crate::test::{exit_verdict, Tally, BOOT_TIMEOUT, TAIL};
use crate::{Arch, Result, TestOptions};

/// How long one persistence boot may take to finish its program and power off.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// `path -> sha256` from the guest's `persist: sha256 <hex> <path>` lines.
fn hashes(lines: &[String]) -> BTreeMap<String, String> {
    lines
        .iter()
        .filter_map(|l| {
            let rest = l.split(PERSIST_SHA_WORD).nth(1)?.trim();
            let (hex, path) = rest.split_once(' ')?;
            Some((path.to_string(), hex.to_string()))
        })
        .collect()
}

/// Boots with `wayos.persist=<mode>` on `image`.
fn boot(built: &Built, o: &TestOptions, image: &Path, mode: &str) -> Result<Guest> {
    let machine = Machine {
        net: None,
        disks: vec![image.to_path_buf()],
        ..Machine::headless(built.arch, o.smp, &o.memory).with_tiers(o.tiers)
    };
    let cmdline = format!("{PERSIST_KEY}={mode}");
    let (path, is_iso) = qemu::prepare_medium(built, &cmdline, &format!("persist-{mode}"))?;
    let cmd = qemu::command(
        built,
        &machine,
        qemu::medium(&path, is_iso, &cmdline),
        Serial::Pipe,
        None,
    )?;
    if o.verbose {
        println!("    {}", qemu::display(&cmd));
    }
    Guest::spawn(cmd, o.verbose)
}

/// A boot that runs `persist <mode>` to the end: its hashes, once QEMU exited with the
/// passing verdict and the program reported no failure.
fn full_boot(
    built: &Built,
    o: &TestOptions,
    image: &Path,
    mode: &str,
) -> Result<std::result::Result<BTreeMap<String, String>, String>> {
    let mut guest = boot(built, o, image, mode)?;
    let status = guest.wait_exit(RUN_TIMEOUT);
    if status.is_none() {
        guest.kill();
    }
    let expected = match built.arch {
        Arch::X86_64 => Verdict::KernelPassed,
        Arch::Aarch64 => Verdict::PoweredOff,
    };
    let verdict = exit_verdict(status, expected, &guest);
    let seen = guest.seen().to_vec();
    let result = seen
        .iter()
        .find(|l| l.starts_with("persist: ") && l.contains(" passed, "))
        .cloned();
    Ok(match (verdict, result) {
        (Ok(()), Some(r)) if r.ends_with(" 0 failed") => Ok(hashes(&seen)),
        (Ok(()), r) => Err(format!("persist {mode}: {r:?}\n{}", guest.tail(TAIL))),
        (Err(e), _) => Err(format!("persist {mode}: {e}\n{}", guest.tail(TAIL))),
    })
}

/// `fsck.fat <flags> image`: its exit code and output.
fn fsck(image: &Path, flags: &[&str]) -> std::result::Result<(i32, String), String> {
    let out = Command::new("fsck.fat")
        .args(flags)
        .arg(image)
        .output()
        .map_err(|e| format!("cannot run fsck.fat: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.code().unwrap_or(-1), text))
}

/// `fsck.fat -n` exits 0: nothing to fix.
fn fsck_clean(image: &Path) -> std::result::Result<(), String> {
    match fsck(image, &["-n"])? {
        (0, _) => Ok(()),
        (code, text) => Err(format!("fsck.fat -n exited {code}:\n{text}")),
    }
}

/// The SHA-256 of `path` inside `image`, read by mtools.
fn mcopy_sha(image: &Path, path: &str) -> std::result::Result<String, String> {
    let out = Command::new("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-n")
        .arg("-i")
        .arg(image)
        .arg(format!("::{path}"))
        .arg("-")
        .output()
        .map_err(|e| format!("cannot run mcopy: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "mcopy {path}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(Sha256::digest(&out.stdout)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Every file of `want` read with mtools has the hash the guest printed.
fn host_reads(image: &Path, want: &BTreeMap<String, String>) -> std::result::Result<(), String> {
    if want.is_empty() {
        return Err("the guest reported no files".into());
    }
    for (path, hex) in want {
        let got = mcopy_sha(image, path)?;
        if &got != hex {
            return Err(format!(
                "{path}: host reads sha256 {got}, the guest wrote {hex}"
            ));
        }
    }
    Ok(())
}

/// Runs the three boots on `built`'s architecture.
pub fn run(built: &Built, o: &TestOptions) -> Result<Tally> {
    prereq::ensure(&[Need::Dosfstools, Need::Mtools])?;
    let suite = format!("persist-{}", built.arch.name());
    println!("==> running {suite} (three boots on one disk image, fsck.fat and mtools)");
    let started = Instant::now();
    let image = target_root()
        .join("wayos")
        .join(built.arch.name())
        .join("persist-disk.img");
    crate::disk::make_fat_image(&image, DISK_IMAGE_BYTES, "PERSIST")?;
    let mut t = Tally::default();

    // 1. Write, clean shutdown.
    let written = full_boot(built, o, &image, "write")?;
    t.check(
        "write_boot_powers_off_cleanly",
        written.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    let written = written.unwrap_or_default();
    if written.len() < 30 {
        t.check(
            "write_reports_the_files",
            Err(format!("{} files reported", written.len())),
        );
    }
    t.check("fsck_clean_after_shutdown", fsck_clean(&image));
    t.check(
        "host_reads_what_the_guest_wrote",
        host_reads(&image, &written),
    );

    // 2. Read back on the next boot.
    let checked = full_boot(built, o, &image, "check")?;
    t.check(
        "second_boot_reads_them_back",
        match &checked {
            Ok(h) if *h == written => Ok(()),
            Ok(h) => Err(format!("hashes differ: wrote {written:?}, read {h:?}")),
            Err(e) => Err(e.clone()),
        },
    );
    t.check("fsck_clean_after_second_boot", fsck_clean(&image));

    // 3. Sync some files, write more, and kill QEMU.
    let mut guest = boot(built, o, &image, "crash")?;
    let synced = guest.wait_for(BOOT_TIMEOUT.max(RUN_TIMEOUT), |l| {
        l.contains(PERSIST_SYNCED)
    });
    let synced_hashes = hashes(guest.seen());
    guest.kill();
    t.check(
        "crash_boot_syncs_then_is_killed",
        match synced {
            Some(_) if synced_hashes.len() == 2 => Ok(()),
            Some(_) => Err(format!("synced files reported: {synced_hashes:?}")),
            None => Err(format!("no '{PERSIST_SYNCED}' line\n{}", guest.tail(TAIL))),
        },
    );
    let repaired = fsck(&image, &["-a", "-w"]);
    if let Ok((code, text)) = &repaired {
        // Exit 1: it found something to fix (what a kill usually leaves); 0: nothing.
        let first = text.lines().filter(|l| !l.starts_with("fsck.fat ")).take(4);
        println!(
            "    fsck.fat -a after the kill exited {code}: {}",
            first.collect::<Vec<_>>().join(" | ")
        );
    }
    t.check(
        "fsck_repairs_after_kill",
        match repaired {
            Ok((0 | 1, _)) => Ok(()),
            Ok((code, text)) => Err(format!("fsck.fat -a exited {code}:\n{text}")),
            Err(e) => Err(e),
        },
    );
    t.check("fsck_clean_after_repair", fsck_clean(&image));
    t.check(
        "synced_files_survive_the_kill",
        host_reads(&image, &synced_hashes),
    );
    let big: BTreeMap<String, String> = written
        .iter()
        .filter(|(p, _)| p.ends_with("big.bin"))
        .map(|(p, h)| (p.clone(), h.clone()))
        .collect();
    t.check("earlier_files_survive_the_kill", host_reads(&image, &big));

    println!("{suite}: {} passed, {} failed", t.passed, t.failed);
    println!("{suite}: took {:.0?}", started.elapsed());
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_lines() {
        let lines = [
            "persist: sha256 00ff /persist/big.bin".to_string(),
            "noise".to_string(),
            "[ 1.0] persist: sha256 ab /persist/sub/A Long Name.txt".to_string(),
        ];
        let h = hashes(&lines);
        assert_eq!(h.len(), 2);
        assert_eq!(h["/persist/big.bin"], "00ff");
        assert_eq!(h["/persist/sub/A Long Name.txt"], "ab");
    }
}
