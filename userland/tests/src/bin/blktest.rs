//! `blktest`: the block devices and the buffer cache as programs see them — `blk_info`,
//! raw `blk_read`/`blk_write` with checksums, cache coherence, `sync`, and the errors.
//!
//! Raw writes go only to the harness's scratch disk (`wayos.disk=<dev>` on the kernel
//! command line, `wayos_abi::harness::SCRATCH_DISK_KEY`); typed at the shell without the
//! key, to a device nothing has mounted, and the sectors it touches are read first and
//! written back at the end (so a person's disk is left as it was). Without such a device
//! the raw checks are skipped with a line saying so.
//!
//! Expected values are computed here: written data from [`byte`] with a seed taken from
//! the clock (so stale data from an earlier run cannot pass), digests with SHA-256 over
//! what was written, sizes from the harness's constants, and under the harness the FAT32
//! boot sector that the host's `mkfs.fat` wrote on `blk0`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::errno::{EBUSY, EFAULT, EINVAL, ENODEV, EPERM};
use libway::abi::harness::{DISK_IMAGE_BYTES, SCRATCH_DISK_BYTES, SCRATCH_DISK_KEY};
use libway::blk::{
    self, BlkInfo, FLAG_IRQ, FLAG_MOUNTED, FLAG_READONLY, MAX_DEVICES, MAX_IO, SECTOR_SIZE,
};
use libway::suite::{
    expect_bytes, expect_eq, expect_errno, expect_exit, in_child, Check, Context, Suite,
};
use libway::{caps, process, thread, time, Args};
use sha2::{Digest, Sha256};

libway::entry!(main);

/// First sector of the region the raw checks use (1 MiB in: clear of a partition table
/// or boot sector), and its length: room for every check below.
const BASE: u64 = 2048;
const REGION_SECTORS: u64 = 7 * 1024 * 1024 / SECTOR_SIZE as u64;

/// The byte at offset `i` of data `seed`: varies inside a sector, with the sector and
/// with the seed, so a misplaced sector, a stale block or an old run all show.
fn byte(seed: u32, i: usize) -> u8 {
    let s = (i / SECTOR_SIZE) as u32;
    (i as u8).wrapping_mul(31)
        ^ (s.wrapping_mul(0x9e37_79b9) >> 24) as u8
        ^ (seed as u8)
        ^ ((seed >> 8) as u8).rotate_left(s % 8)
}

fn pattern(seed: u32, len: usize) -> Vec<u8> {
    (0..len).map(|i| byte(seed, i)).collect()
}

fn sha(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The scratch device: the harness's key, else (typed at the shell) the last device that
/// is neither mounted nor read-only. `Err` says why there is none.
fn scratch(harness: bool) -> Result<usize, String> {
    let line = process::cmdline().map_err(|e| format!("cannot read the command line: {e}"))?;
    let key = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix(SCRATCH_DISK_KEY)?.strip_prefix('='));
    if let Some(v) = key {
        let v = v.strip_prefix("blk").unwrap_or(v);
        return v
            .parse()
            .map_err(|_| format!("{SCRATCH_DISK_KEY}={v} is not a device number"));
    }
    if harness {
        return Err(format!("no {SCRATCH_DISK_KEY}= on the kernel command line"));
    }
    blk::devices()
        .iter()
        .enumerate()
        .rev()
        .find(|(_, d)| d.flags & (FLAG_MOUNTED | FLAG_READONLY) == 0)
        .map(|(i, _)| i)
        .ok_or_else(|| String::from("no unmounted disk"))
}

fn read_vec(dev: usize, sector: u64, len: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    let n = blk::read(dev, sector, &mut buf).context(&format!("blk_read {len} at {sector}"))?;
    expect_eq(n, len).context("bytes read")?;
    Ok(buf)
}

fn write_all(dev: usize, sector: u64, data: &[u8]) -> Check {
    let n =
        blk::write(dev, sector, data).context(&format!("blk_write {} at {sector}", data.len()))?;
    expect_eq(n, data.len()).context("bytes written")
}

/// Compares by digest, and names the first differing sector when they differ.
fn expect_same(got: &[u8], want: &[u8], what: &str) -> Check {
    if sha(got) == sha(want) {
        return Ok(());
    }
    let at = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
    Err(format!(
        "{what}: SHA-256 differs; first difference in sector +{}",
        at / SECTOR_SIZE
    ))
}

fn main(_args: Args) -> i32 {
    let mut s = Suite::new("blktest");
    let harness = s.under_harness();
    let devs = blk::devices();
    s.check("devices_described", devices_described(&devs, harness));
    s.check("info_errors", info_errors(devs.len()));
    if harness {
        s.check("blk0_holds_the_fat_image", blk0_is_fat(&devs));
    } else {
        s.skip(
            "blk0_holds_the_fat_image",
            "no harness: blk0 may be any disk",
        );
    }
    s.check("argument_errors", argument_errors(&devs));
    s.check("eperm_without_disk_cap", eperm_without_cap(devs.len()));
    match scratch(harness) {
        Ok(dev) => raw_checks(&mut s, dev, &devs, harness),
        Err(why) => {
            if harness {
                s.check("scratch_disk_found", Err(why));
            } else {
                s.skip("raw write checks", &why);
            }
        }
    }
    match devs.iter().position(|d| d.flags & FLAG_MOUNTED != 0) {
        Some(dev) => s.check(
            "write_to_mounted_is_ebusy",
            mounted_is_busy(dev, &devs[dev]),
        ),
        None => s.skip(
            "write_to_mounted_is_ebusy",
            "no device is mounted: the FAT file system is not mounted at /disk",
        ),
    }
    s.finish()
}

fn devices_described(devs: &[BlkInfo], harness: bool) -> Check {
    if harness && devs.len() < 2 {
        return Err(format!(
            "{} devices; the harness attaches the /disk image and a scratch disk",
            devs.len()
        ));
    }
    for (i, d) in devs.iter().enumerate() {
        let what = format!("blk{i}");
        expect_eq(blk::name(d), what.as_str()).context("name")?;
        if d.sectors == 0 {
            return Err(format!("{what}: no sectors"));
        }
        if !d.sector_size.is_power_of_two() || !(512..=4096).contains(&d.sector_size) {
            return Err(format!("{what}: sector size {}", d.sector_size));
        }
        if d.flags & !(FLAG_IRQ | FLAG_MOUNTED | FLAG_READONLY) != 0 {
            return Err(format!("{what}: unknown flags {:#x}", d.flags));
        }
        // Interrupt-driven on both architectures (MSI-X on x86_64, INTx on aarch64).
        if d.flags & FLAG_IRQ == 0 || d.irq == 0 {
            return Err(format!(
                "{what}: polled (flags {:#x}, irq {})",
                d.flags, d.irq
            ));
        }
    }
    if harness {
        expect_eq(devs[0].sectors, DISK_IMAGE_BYTES / SECTOR_SIZE as u64).context("blk0 size")?;
        let sc = scratch(true)?;
        let d = devs
            .get(sc)
            .ok_or(format!("scratch blk{sc} does not exist"))?;
        expect_eq(d.sectors, SCRATCH_DISK_BYTES / SECTOR_SIZE as u64).context("scratch size")?;
    }
    Ok(())
}

fn info_errors(count: usize) -> Check {
    expect_errno(blk::info(count), ENODEV).context("one past the last")?;
    expect_errno(blk::info(MAX_DEVICES), ENODEV).context("MAX_DEVICES")?;
    expect_errno(blk::info(usize::MAX), ENODEV).context("usize::MAX")?;
    if count > 0 {
        // SAFETY: address 8 is no memory of this program; the kernel must refuse it.
        let r = unsafe { libway::sys::call(libway::abi::sys::BLK_INFO, [0, 8, 0, 0, 0, 0]) };
        expect_errno(r, EFAULT).context("blk_info to address 8")?;
    }
    Ok(())
}

/// The image `cargo xtask` made with the host's `mkfs.fat -F 32`: boot signature and
/// the FAT32 type string.
fn blk0_is_fat(devs: &[BlkInfo]) -> Check {
    if devs.is_empty() {
        return Err(String::from("no blk0"));
    }
    let s0 = read_vec(0, 0, SECTOR_SIZE)?;
    expect_eq((s0[510], s0[511]), (0x55, 0xaa)).context("boot signature")?;
    expect_bytes(&s0[82..90], b"FAT32   ").context("file system type at 82")?;
    // The same sector read as part of a larger request, from another cache path.
    let big = read_vec(0, 0, 64 * 1024)?;
    expect_bytes(&big[..SECTOR_SIZE], &s0).context("sector 0 in a 64 KiB read")
}

fn argument_errors(devs: &[BlkInfo]) -> Check {
    let mut buf = vec![0u8; 4096];
    let n = devs.len();
    expect_errno(blk::read(n, 0, &mut buf), ENODEV).context("read of a missing device")?;
    expect_errno(blk::write(n, 0, &buf), ENODEV).context("write to a missing device")?;
    expect_errno(blk::read(usize::MAX, 0, &mut buf), ENODEV)
        .context("read of device usize::MAX")?;
    let Some(d) = devs.first() else {
        return Ok(());
    };
    let dev = 0;
    let end = d.sectors;
    expect_errno(blk::read(dev, 0, &mut buf[..0]), EINVAL).context("zero length")?;
    expect_errno(blk::read(dev, 0, &mut buf[..100]), EINVAL).context("100 bytes")?;
    expect_errno(blk::read(dev, 0, &mut buf[..513]), EINVAL).context("513 bytes")?;
    expect_errno(blk::write(dev, 0, &buf[..511]), EINVAL).context("write of 511 bytes")?;
    let mut over = vec![0u8; MAX_IO + SECTOR_SIZE];
    expect_errno(blk::read(dev, 0, &mut over), EINVAL).context("MAX_IO + 512")?;
    expect_errno(blk::write(dev, 0, &over), EINVAL).context("write of MAX_IO + 512")?;
    expect_errno(blk::read(dev, end, &mut buf[..512]), EINVAL).context("at the end")?;
    expect_errno(blk::read(dev, end - 1, &mut buf[..1024]), EINVAL).context("across the end")?;
    expect_errno(blk::write(dev, end - 1, &buf[..1024]), EINVAL).context("write across the end")?;
    expect_errno(blk::read(dev, u64::MAX, &mut buf[..512]), EINVAL).context("sector u64::MAX")?;
    expect_errno(blk::read(dev, u64::MAX - 1, &mut buf[..1024]), EINVAL)
        .context("wrapping range")?;
    // The last sector itself is fine.
    blk::read(dev, end - 1, &mut buf[..512]).context("the last sector")?;
    // Bad buffers: null, kernel half, unmapped user memory, read-only memory. Writes go
    // to a device nothing mounts (a mounted one answers EBUSY before looking at the
    // buffer); the read checks use dev 0 as the rest.
    let wdev = devs.iter().position(|d| d.flags & FLAG_MOUNTED == 0);
    for (addr, what) in [
        (0usize, "null"),
        (0xffff_8000_0000_0000, "kernel address"),
        (0x1000, "unmapped page"),
    ] {
        // SAFETY: none of these addresses is memory of this program the kernel could
        // write: null and the kernel half are not ours; 0x1000 is below every mapping.
        let r = unsafe { blk::read_raw(dev, 0, addr, 512) };
        expect_errno(r, EFAULT).context(&format!("read into {what}"))?;
        if let Some(w) = wdev {
            expect_errno(blk::write_raw(w, 0, addr, 512), EFAULT)
                .context(&format!("write from {what} to blk{w}"))?;
        }
    }
    // Read-only memory: this program's code. The kernel must refuse before writing.
    let code = main as fn(Args) -> i32 as usize & !(SECTOR_SIZE - 1);
    let before: [u8; 16] = {
        let mut b = [0u8; 16];
        // SAFETY: reading our own mapped code.
        unsafe { core::ptr::copy_nonoverlapping(code as *const u8, b.as_mut_ptr(), 16) };
        b
    };
    // SAFETY: the kernel must refuse to write read-only code (and the check fails if not).
    let r = unsafe { blk::read_raw(dev, 0, code, SECTOR_SIZE) };
    expect_errno(r, EFAULT).context("read into read-only code")?;
    let mut after = [0u8; 16];
    // SAFETY: as above.
    unsafe { core::ptr::copy_nonoverlapping(code as *const u8, after.as_mut_ptr(), 16) };
    expect_eq(after, before).context("code unchanged")
}

/// A child that dropped `caps::DISK` gets `EPERM` from the raw calls, and `blk_info` and
/// `sync` still work for it.
fn eperm_without_cap(count: usize) -> Check {
    let st = in_child(|| {
        if caps::drop(libway::abi::caps::DISK).is_err() {
            return 10;
        }
        let mut buf = [0u8; 512];
        if blk::read(0, 0, &mut buf).map_err(|e| e.code()) != Err(EPERM) {
            return 11;
        }
        if blk::write(0, 0, &buf).map_err(|e| e.code()) != Err(EPERM) {
            return 12;
        }
        // Even for a missing device: the capability is checked first.
        if blk::read(MAX_DEVICES, 0, &mut buf).map_err(|e| e.code()) != Err(EPERM) {
            return 13;
        }
        if count > 0 && blk::info(0).is_err() {
            return 14;
        }
        if blk::sync().is_err() {
            return 15;
        }
        0
    })?;
    expect_exit(st, 0)
        .context("10: cap_drop, 11: read, 12: write, 13: missing device, 14: blk_info, 15: sync")
}

fn raw_checks(s: &mut Suite, dev: usize, devs: &[BlkInfo], harness: bool) {
    let Some(info) = devs.get(dev).copied() else {
        s.check(
            "scratch_disk_found",
            Err(format!("scratch device blk{dev} does not exist")),
        );
        return;
    };
    if info.flags & (FLAG_MOUNTED | FLAG_READONLY) != 0 {
        s.check(
            "scratch_disk_writable",
            Err(format!("blk{dev}: flags {:#x}", info.flags)),
        );
        return;
    }
    if info.sectors < BASE + REGION_SECTORS {
        s.check(
            "scratch_disk_large_enough",
            Err(format!("blk{dev}: {} sectors", info.sectors)),
        );
        return;
    }
    // What was there, to put back at the end.
    let saved = match read_region(dev) {
        Ok(v) => v,
        Err(e) => {
            s.check("save_region", Err(e));
            return;
        }
    };
    let seed = (time::monotonic_ns().unwrap_or(0x1234_5678) as u32) | 1;
    s.check("sector_write_read", sector_write_read(dev, seed));
    s.check("one_mib_write_read", one_mib(dev, seed ^ 0x5a5a));
    s.check("unaligned_ranges_coherent", unaligned(dev, seed ^ 0x1234));
    s.check(
        "small_write_inside_large_read",
        small_in_large(dev, seed ^ 0x7777),
    );
    s.check(
        "coherent_across_processes_and_sync",
        across_processes(dev, seed ^ 0x4321),
    );
    s.check("concurrent_writers", concurrent(dev, seed ^ 0x2468));
    s.check(
        "last_sectors_of_the_disk",
        last_sectors(dev, &info, seed ^ 0x1357),
    );
    s.check("bad_write_changes_nothing", bad_write_changes_nothing(dev));
    if !harness {
        s.check("region_restored", restore_region(dev, &saved));
    } else {
        // The harness's scratch disk is ours; leave the data for a look afterwards, but
        // still check that a sync succeeds.
        s.check("sync", blk::sync().context("sync"));
    }
}

fn read_region(dev: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut sector = BASE;
    while sector < BASE + REGION_SECTORS {
        out.extend_from_slice(&read_vec(dev, sector, MAX_IO)?);
        sector += (MAX_IO / SECTOR_SIZE) as u64;
    }
    Ok(out)
}

fn restore_region(dev: usize, saved: &[u8]) -> Check {
    for (i, chunk) in saved.chunks(MAX_IO).enumerate() {
        write_all(dev, BASE + (i * MAX_IO / SECTOR_SIZE) as u64, chunk)?;
    }
    blk::sync().context("sync")?;
    let now = read_region(dev)?;
    expect_same(&now, saved, "region after restore")
}

/// Single sectors and one cache block: written, read back, digests equal.
fn sector_write_read(dev: usize, seed: u32) -> Check {
    for (sector, len) in [
        (BASE, 512usize),
        (BASE + 9, 512),
        (BASE + 16, 4096),
        (BASE + 40, 3 * 512),
    ] {
        let data = pattern(seed.wrapping_add(sector as u32), len);
        write_all(dev, sector, &data)?;
        let got = read_vec(dev, sector, len)?;
        expect_same(&got, &data, &format!("{len} bytes at {sector}"))?;
    }
    // The neighbours of a single-sector write are untouched.
    let a = pattern(seed ^ 1, 4096);
    write_all(dev, BASE + 64, &a)?;
    let one = pattern(seed ^ 2, 512);
    write_all(dev, BASE + 66, &one)?;
    let mut want = a.clone();
    want[1024..1536].copy_from_slice(&one);
    expect_same(
        &read_vec(dev, BASE + 64, 4096)?,
        &want,
        "block around a sector write",
    )
}

/// A full `MAX_IO` request each way, then the same data in 4 KiB reads.
fn one_mib(dev: usize, seed: u32) -> Check {
    let sector = BASE + 2048;
    let data = pattern(seed, MAX_IO);
    write_all(dev, sector, &data)?;
    expect_same(&read_vec(dev, sector, MAX_IO)?, &data, "1 MiB read")?;
    let mut pieces = Vec::with_capacity(MAX_IO);
    for i in 0..(MAX_IO / 4096) {
        pieces.extend_from_slice(&read_vec(dev, sector + (i * 8) as u64, 4096)?);
    }
    expect_same(&pieces, &data, "1 MiB read in 4 KiB pieces")
}

/// Writes that start and end inside cache blocks, read back whole and in other pieces.
fn unaligned(dev: usize, seed: u32) -> Check {
    let sector = BASE + 4096 + 3;
    let len = 37 * SECTOR_SIZE;
    let data = pattern(seed, len);
    write_all(dev, sector, &data)?;
    let whole = read_vec(dev, sector, len)?;
    expect_same(&whole, &data, "unaligned read")?;
    // Sector by sector.
    for i in 0..37 {
        let got = read_vec(dev, sector + i, SECTOR_SIZE)?;
        expect_bytes(&got, &data[i as usize * SECTOR_SIZE..][..SECTOR_SIZE])
            .context(&format!("sector +{i}"))?;
    }
    // A wider aligned read sees the write in the middle.
    let wide = read_vec(dev, BASE + 4096, 48 * SECTOR_SIZE)?;
    expect_same(
        &wide[3 * SECTOR_SIZE..][..len],
        &data,
        "aligned read around it",
    )
}

/// A 1 MiB write, then one sector changed in the middle, read back as one 1 MiB read
/// and after `sync`.
fn small_in_large(dev: usize, seed: u32) -> Check {
    let sector = BASE + 6144;
    let mut data = pattern(seed, MAX_IO);
    write_all(dev, sector, &data)?;
    let one = pattern(seed ^ 0xff, SECTOR_SIZE);
    write_all(dev, sector + 1001, &one)?;
    data[1001 * SECTOR_SIZE..][..SECTOR_SIZE].copy_from_slice(&one);
    expect_same(&read_vec(dev, sector, MAX_IO)?, &data, "before sync")?;
    blk::sync().context("sync")?;
    expect_same(&read_vec(dev, sector, MAX_IO)?, &data, "after sync")
}

/// Written in a child, read in the parent (the cache is the kernel's, not a process's),
/// synced in between by a third process.
fn across_processes(dev: usize, seed: u32) -> Check {
    let sector = BASE + 8192;
    let len = 256 * 1024;
    let st = in_child(move || {
        let data = pattern(seed, len);
        match blk::write(dev, sector, &data) {
            Ok(n) if n == len => 0,
            _ => 1,
        }
    })?;
    expect_exit(st, 0).context("writer child")?;
    let st = in_child(|| blk::sync().map_or(1, |()| 0))?;
    expect_exit(st, 0).context("syncing child")?;
    expect_same(
        &read_vec(dev, sector, len)?,
        &pattern(seed, len),
        "read in the parent",
    )
}

/// Two threads write and read back disjoint ranges at once.
fn concurrent(dev: usize, seed: u32) -> Check {
    let worker = move |k: u32| -> Check {
        let sector = BASE + 9216 + u64::from(k) * 1024;
        for round in 0..8u32 {
            let data = pattern(seed ^ (k << 16) ^ round, 128 * 1024);
            write_all(dev, sector + u64::from(round) * 8, &data)?;
            let got = read_vec(dev, sector + u64::from(round) * 8, data.len())?;
            expect_same(&got, &data, &format!("thread {k} round {round}"))?;
        }
        Ok(())
    };
    let t = thread::spawn(move || worker(1)).context("thread")?;
    let mine = worker(0);
    let theirs = t.join().unwrap_or_else(|| Err(String::from("thread died")));
    mine.and(theirs)
}

/// The last sectors of the device (a partial cache block if the size is odd).
fn last_sectors(dev: usize, info: &BlkInfo, seed: u32) -> Check {
    let sector = info.sectors - 3;
    let saved = read_vec(dev, sector, 3 * SECTOR_SIZE)?;
    let data = pattern(seed, 3 * SECTOR_SIZE);
    write_all(dev, sector, &data)?;
    expect_same(
        &read_vec(dev, sector, 3 * SECTOR_SIZE)?,
        &data,
        "last 3 sectors",
    )?;
    write_all(dev, sector, &saved)
}

/// A write from a bad buffer or with a bad length leaves the disk as it was.
fn bad_write_changes_nothing(dev: usize) -> Check {
    let sector = BASE + 12288;
    let before = read_vec(dev, sector, 8192)?;
    expect_errno(blk::write_raw(dev, sector, 0x1000, 8192), EFAULT).context("unmapped source")?;
    expect_errno(blk::write(dev, sector, &before[..1000]), EINVAL).context("1000 bytes")?;
    expect_bytes(&read_vec(dev, sector, 8192)?, &before).context("unchanged")
}

fn mounted_is_busy(dev: usize, info: &BlkInfo) -> Check {
    let s = read_vec(dev, 0, SECTOR_SIZE)?;
    expect_errno(blk::write(dev, 0, &s), EBUSY)
        .context(&format!("blk_write to {}", blk::name(info)))?;
    // Reading a mounted device stays allowed.
    expect_bytes(&read_vec(dev, 0, SECTOR_SIZE)?, &s).context("read after")
}
