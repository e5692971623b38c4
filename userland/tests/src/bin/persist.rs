//! `persist write|check|crash`: the guest side of `cargo xtask test`'s persistence check
//! (two boots on one disk image, then the host's `fsck.fat` and mtools; see
//! `xtask/src/persist.rs` and `docs/storage.md`).
//!
//! - `write` makes directories and files under `/disk/persist` (a 5 MiB one among them)
//!   and prints each file's SHA-256 (`persist: sha256 <hex> <path>`); init then shuts
//!   down cleanly.
//! - `check` (the next boot) computes the same contents again, reads the files back and
//!   compares; it prints the same lines, which the harness compares with the first boot's.
//! - `crash` makes files under `/disk/crash`, `sync`s, prints their hashes and
//!   [`PERSIST_SYNCED`], writes more without syncing and waits to be killed.
//!
//! Contents are computed from each file's name ([`content`]), so both boots (and the
//! host, through the printed hashes) agree without storing anything else.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::blk::DISK_MOUNT;
use libway::abi::errno::EEXIST;
use libway::abi::harness::{PERSIST_SHA_WORD, PERSIST_SYNCED};
use libway::fs::{self, OpenOptions};
use libway::suite::{expect_eq, Check, Context, Suite};
use libway::{println, Args};
use sha2::{Digest, Sha256};

libway::entry!(main);

/// The files `write` makes and `check` reads, with their sizes.
const FILES: &[(&str, usize)] = &[
    ("persist/big.bin", 5 << 20),
    ("persist/sub/A Long Mixed-Case Name.txt", 3000),
    ("persist/sub/deeper/small.dat", 1000),
    ("persist/empty", 0),
];
/// Directories (made before the files, in this order).
const DIRS: &[&str] = &[
    "persist",
    "persist/sub",
    "persist/sub/deeper",
    "persist/many",
];
/// `persist/many/file-NN.txt`, each a few bytes.
const MANY: usize = 30;

/// Files `crash` syncs, then the one it writes without syncing.
const SYNCED: &[(&str, usize)] = &[("crash/synced-1.bin", 1 << 20), ("crash/synced-2.txt", 700)];
const UNSYNCED: (&str, usize) = ("crash/unsynced.bin", 2 << 20);

/// The contents of the file `name`: bytes from a generator seeded by the name, so every
/// file differs and a misplaced cluster shows.
fn content(name: &str, len: usize) -> Vec<u8> {
    let mut x: u32 = name.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn many() -> Vec<(String, usize)> {
    (0..MANY)
        .map(|i| (format!("persist/many/file-{i:02}.txt"), 10 + i))
        .collect()
}

fn path(name: &str) -> String {
    format!("{DISK_MOUNT}/{name}")
}

fn hex(data: &[u8]) -> String {
    let mut s = String::new();
    for b in Sha256::digest(data) {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn report(name: &str, data: &[u8]) {
    println!("{PERSIST_SHA_WORD} {} /{name}", hex(data));
}

/// Writes `data` to `name` in 64 KiB pieces.
fn put(name: &str, data: &[u8]) -> Check {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path(name))
        .context(name)?;
    for chunk in data.chunks(64 * 1024) {
        expect_eq(f.write(chunk).context("write")?, chunk.len()).context(name)?;
    }
    Ok(())
}

fn mkdirs(dirs: &[&str]) -> Check {
    for d in dirs {
        match fs::mkdir(&path(d), 0o755) {
            Ok(()) => {}
            Err(e) if e.code() == EEXIST => {}
            Err(e) => return Err(format!("mkdir {d}: {e}")),
        }
    }
    Ok(())
}

fn all_files() -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = FILES.iter().map(|&(n, l)| (String::from(n), l)).collect();
    v.extend(many());
    v
}

fn write(s: &mut Suite) {
    s.check("make_directories", mkdirs(DIRS));
    for (name, len) in all_files() {
        let data = content(&name, len);
        s.check(&name, put(&name, &data));
        report(&name, &data);
    }
}

fn check(s: &mut Suite) {
    for (name, len) in all_files() {
        let want = content(&name, len);
        let r = fs::read(&path(&name)).context(&name).and_then(|got| {
            expect_eq(got.len(), len).context("size")?;
            report(&name, &got);
            expect_eq(hex(&got), hex(&want)).context("sha256")
        });
        s.check(&name, r);
    }
    let listed = fs::read_dir(&path("persist/many"))
        .context("read_dir")
        .map(|d| d.count());
    s.check(
        "directory_listing",
        listed.and_then(|n| expect_eq(n, MANY).context("entries in persist/many")),
    );
    s.check(
        "directories",
        DIRS.iter().try_for_each(|d| {
            let st = fs::stat(&path(d)).context(d)?;
            expect_eq(st.is_dir(), true).context(d)
        }),
    );
}

fn crash(s: &mut Suite) -> ! {
    s.check("make_directories", mkdirs(&["crash"]));
    for &(name, len) in SYNCED {
        let data = content(name, len);
        s.check(name, put(name, &data));
        report(name, &data);
    }
    s.check("sync", libway::blk::sync().context("sync"));
    println!("{PERSIST_SYNCED}");
    let (name, len) = UNSYNCED;
    let _ = put(name, &content(name, len));
    loop {
        let _ = libway::time::sleep_ms(1000);
    }
}

use libway::fs::StatExt;

fn main(args: Args) -> i32 {
    let mut s = Suite::new("persist");
    match args.get(1) {
        Some("write") => write(&mut s),
        Some("check") => check(&mut s),
        Some("crash") => crash(&mut s),
        _ => {
            println!("usage: persist write|check|crash (run by cargo xtask test on a disk)");
            return 2;
        }
    }
    s.finish()
}
