//! The disk figures: `blk_read_instr_per_kib_4k` / `_1m` (raw reads of the scratch disk
//! in 4 KiB and 1 MiB requests, every block a cache miss: each region is read once in a
//! fresh boot) and `blk_write_instr_per_kib_4k` / `_1m` (raw writes in those sizes, then
//! `sync`, so every byte reaches the device). Each figure moves [`BYTES`] through its own
//! quarter of the harness's 16 MiB scratch disk (`wayos.disk=` on the kernel command
//! line); the soaker ([`super::soak`]) takes out the time spent waiting for the host.
//! `tools/linuxbench/netbench.c` measures Linux doing the same on `/dev/vdb`.
//!
//! Without the key (typed at the shell) it says so and prints no figure.

use alloc::vec;

use libway::abi::harness::{SCRATCH_DISK_BYTES, SCRATCH_DISK_KEY};
use libway::blk::{self, SECTOR_SIZE};
use libway::{println, process};

use super::soak::{mark, Rate, Soaker};

/// Bytes each figure moves: a quarter of the scratch disk.
const BYTES: usize = (SCRATCH_DISK_BYTES / 4) as usize;

fn scratch() -> Result<usize, &'static str> {
    let line = process::cmdline().map_err(|_| "cannot read the kernel command line")?;
    let v = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix(SCRATCH_DISK_KEY)?.strip_prefix('='))
        .ok_or("no scratch disk (boot with cargo xtask bench)")?;
    v.strip_prefix("blk")
        .unwrap_or(v)
        .parse()
        .map_err(|_| "bad wayos.disk value")
}

pub fn figures() {
    let dev = match scratch() {
        Ok(d) => d,
        Err(why) => {
            println!("bench: disk figures skipped ({why})");
            return;
        }
    };
    match blk::info(dev) {
        Ok(i) if i.sectors * SECTOR_SIZE as u64 >= SCRATCH_DISK_BYTES => {}
        Ok(_) => {
            println!(
                "bench: disk figures skipped (blk{dev} is smaller than {SCRATCH_DISK_BYTES} bytes)"
            );
            return;
        }
        Err(e) => {
            println!("bench: disk figures skipped (blk{dev}: {e})");
            return;
        }
    }
    let soaker = match Soaker::start() {
        Ok(s) => s,
        Err(e) => {
            println!("bench: disk figures skipped ({e})");
            return;
        }
    };
    let kib = (BYTES / 1024) as u64;
    let runs: [(&str, bool, usize); 4] = [
        ("blk_read_instr_per_kib_4k", false, 4096),
        ("blk_read_instr_per_kib_1m", false, 1 << 20),
        ("blk_write_instr_per_kib_4k", true, 4096),
        ("blk_write_instr_per_kib_1m", true, 1 << 20),
    ];
    for (quarter, (name, write, size)) in runs.into_iter().enumerate() {
        let first = (quarter * BYTES / SECTOR_SIZE) as u64;
        match run(dev, first, write, size, &soaker.rate) {
            Ok(ticks) => super::report(name, ticks, kib, "instructions/KiB"),
            Err(e) => println!("bench: {name} failed: {e}"),
        }
    }
    soaker.stop();
}

/// Moves [`BYTES`] from sector `first` on in requests of `size` (writes end with a
/// `sync`): the busy ticks.
fn run(
    dev: usize,
    first: u64,
    write: bool,
    size: usize,
    rate: &Rate,
) -> Result<u64, alloc::string::String> {
    let mut buf = vec![0u8; size];
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let step = (size / SECTOR_SIZE) as u64;
    let a = mark();
    let mut sector = first;
    for _ in 0..BYTES / size {
        let r = if write {
            blk::write(dev, sector, &buf)
        } else {
            blk::read(dev, sector, &mut buf)
        };
        match r {
            Ok(n) if n == size => {}
            Ok(n) => return Err(alloc::format!("{n} bytes at sector {sector}")),
            Err(e) => return Err(alloc::format!("sector {sector}: {e}")),
        }
        sector += step;
    }
    if write {
        blk::sync().map_err(|e| alloc::format!("sync: {e}"))?;
    }
    let b = mark();
    Ok(rate.busy(a, b))
}
