//! The file-on-disk figure: `file_write_disk_instr_per_kib`, [`BENCH_DISK_FILE_BYTES`]
//! written to a new file on the FAT volume at `/disk` in 4 KiB `write` calls, then
//! `fsync` (so every byte and the FAT reach the device), in instructions per KiB. The
//! soaker ([`super::soak`]) takes out the time spent waiting for the host, as for the raw
//! disk figures. `tools/linuxbench/netbench.c` measures Linux doing the same on a vfat
//! mount of the same kind of image.
//!
//! Without a FAT volume on `/disk` it says so and prints no figure.

use libway::abi::blk::DISK_MOUNT;
use libway::abi::harness::BENCH_DISK_FILE_BYTES;
use libway::fs::{self, OpenOptions};
use libway::println;

use super::soak::{mark, Soaker};

const PATH: &str = "/disk/bench.dat";

/// Whether `/disk` is a FAT mount.
fn fat_on_disk() -> bool {
    fs::mounts().is_ok_and(|list| {
        list.iter()
            .any(|m| fs::field_str(&m.path) == DISK_MOUNT && fs::field_str(&m.fstype) == "vfat")
    })
}

pub fn figures() {
    if !fat_on_disk() {
        println!("bench: file_write_disk skipped (no FAT volume on {DISK_MOUNT})");
        return;
    }
    let soaker = match Soaker::start() {
        Ok(s) => s,
        Err(e) => {
            println!("bench: file_write_disk skipped ({e})");
            return;
        }
    };
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(PATH);
    match f {
        Ok(f) => {
            let buf = [b'd'; 4096];
            let a = mark();
            let mut ok = true;
            for _ in 0..BENCH_DISK_FILE_BYTES / 4096 {
                if f.write(&buf) != Ok(buf.len()) {
                    println!("bench: file_write_disk: a write came up short");
                    ok = false;
                    break;
                }
            }
            if let Err(e) = f.sync_all() {
                println!("bench: file_write_disk: fsync: {e}");
                ok = false;
            }
            let b = mark();
            if ok {
                let kib = BENCH_DISK_FILE_BYTES / 1024;
                super::report(
                    "file_write_disk_instr_per_kib",
                    soaker.rate.busy(a, b),
                    kib,
                    "instructions/KiB",
                );
            }
        }
        Err(e) => println!("bench: open {PATH}: {e}"),
    }
    let _ = fs::remove_file(PATH);
    soaker.stop();
}
