//! Mount-time validation of a FAT volume: the boot sector's geometry and the whole
//! allocation table, before `lamfat` is trusted with the image.
//!
//! `lamfat` follows cluster chains without a bound and believes the boot sector, so a
//! crafted image could make it loop forever or read and write outside the volume. Here
//! every number it will use is checked against the device, and every FAT entry is
//! checked to be free, bad, end-of-chain, or a link to an allocated cluster inside the
//! volume, with at most one link into each cluster (no cross-links) and every chain
//! starting at a cluster nothing links to (no loops). After that, a chain walk always
//! ends within the volume's cluster count. What is left (a directory entry naming a
//! wrong cluster, a size past its chain) gives errors on access, not hangs.
//!
//! The table is read once into memory ([`MAX_CLUSTERS`] bounds that: 16 MiB); nothing
//! here panics or allocates infallibly on anything an image holds.

use alloc::vec::Vec;

use super::disk::Disk;

/// The most clusters a volume may have to be mounted (a 4-byte word each while checked:
/// 16 MiB; 2 TiB of 512 KiB clusters, 2 GiB of 512-byte ones).
pub const MAX_CLUSTERS: u32 = 1 << 22;

/// Which FAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FatKind {
    Fat12,
    Fat16,
    Fat32,
}

/// A volume's layout, as checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub kind: FatKind,
    pub bytes_per_sector: u32,
    pub cluster_bytes: u32,
    /// Data clusters (numbered from 2).
    pub clusters: u32,
    /// Bytes from the start of the device to the FAT the volume uses.
    pub fat_offset: u64,
    pub fat_bytes: u64,
    /// Clusters in use (allocated or bad) when checked.
    pub used_clusters: u32,
}

/// Why a volume was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// The device failed (errno).
    Io(isize),
    /// Not a FAT volume, or a corrupt one: what is wrong.
    Bad(&'static str),
}

fn le16(b: &[u8], at: usize) -> u32 {
    u32::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads and checks the boot sector.
pub fn geometry<D: Disk>(disk: &mut D) -> Result<Geometry, CheckError> {
    use CheckError::Bad;
    let mut bs = [0u8; 512];
    if disk.size() < bs.len() as u64 {
        return Err(Bad("the device is smaller than a boot sector"));
    }
    disk.read(0, &mut bs).map_err(CheckError::Io)?;
    if bs[510] != 0x55 || bs[511] != 0xaa {
        return Err(Bad("no boot sector signature"));
    }
    let bps = le16(&bs, 0x0b);
    let spc = u32::from(bs[0x0d]);
    let reserved = le16(&bs, 0x0e);
    let fats = u32::from(bs[0x10]);
    let root_entries = le16(&bs, 0x11);
    let total16 = le16(&bs, 0x13);
    let fat16_sectors = le16(&bs, 0x16);
    let total32 = le32(&bs, 0x20);
    if !matches!(bps, 512 | 1024 | 2048 | 4096) {
        return Err(Bad("bad sector size"));
    }
    if spc == 0 || !spc.is_power_of_two() || spc * bps > 64 * 1024 {
        return Err(Bad("bad cluster size"));
    }
    if reserved == 0 || !(1..=2).contains(&fats) {
        return Err(Bad("bad reserved sector or FAT count"));
    }
    let total = if total16 != 0 { total16 } else { total32 };
    let (fat_sectors, ext_flags, root_cluster) = if fat16_sectors != 0 {
        (fat16_sectors, 0, 0)
    } else {
        (le32(&bs, 0x24), le16(&bs, 0x28), le32(&bs, 0x2c))
    };
    if total == 0 || fat_sectors == 0 {
        return Err(Bad("zero sectors or FAT size"));
    }
    if u64::from(total) * u64::from(bps) > disk.size() {
        return Err(Bad("the volume is larger than the device"));
    }
    let root_dir_sectors = (root_entries * 32).div_ceil(bps);
    let first_data = u64::from(reserved)
        + u64::from(fats) * u64::from(fat_sectors)
        + u64::from(root_dir_sectors);
    if first_data >= u64::from(total) {
        return Err(Bad("no data area"));
    }
    let clusters = (u64::from(total) - first_data) / u64::from(spc);
    let clusters = u32::try_from(clusters).map_err(|_| Bad("too many clusters"))?;
    if clusters == 0 {
        return Err(Bad("no data clusters"));
    }
    if clusters > MAX_CLUSTERS {
        return Err(Bad("too many clusters to check"));
    }
    let kind = if clusters < 4085 {
        FatKind::Fat12
    } else if clusters < 65525 {
        FatKind::Fat16
    } else {
        FatKind::Fat32
    };
    match kind {
        FatKind::Fat32 if fat16_sectors != 0 || root_entries != 0 => {
            return Err(Bad("FAT32 geometry with a FAT16 root directory"));
        }
        FatKind::Fat32 if root_cluster < 2 || root_cluster - 2 >= clusters => {
            return Err(Bad("the root directory cluster is outside the volume"));
        }
        FatKind::Fat12 | FatKind::Fat16 if root_entries == 0 || fat16_sectors == 0 => {
            return Err(Bad("FAT12/16 geometry without a root directory"));
        }
        _ => {}
    }
    let entries = u64::from(clusters) + 2;
    let need = match kind {
        FatKind::Fat12 => (entries * 3).div_ceil(2),
        FatKind::Fat16 => entries * 2,
        FatKind::Fat32 => entries * 4,
    };
    let fat_bytes = u64::from(fat_sectors) * u64::from(bps);
    if fat_bytes < need {
        return Err(Bad("the FAT is too small for the volume"));
    }
    // FAT32 may use one FAT only (mirroring off): the one the flags name.
    let active = if ext_flags & 0x80 != 0 {
        ext_flags & 0x0f
    } else {
        0
    };
    if active >= fats {
        return Err(Bad("the active FAT does not exist"));
    }
    Ok(Geometry {
        kind,
        bytes_per_sector: bps,
        cluster_bytes: spc * bps,
        clusters,
        fat_offset: (u64::from(reserved) + u64::from(active) * u64::from(fat_sectors))
            * u64::from(bps),
        fat_bytes: need,
        used_clusters: 0,
    })
}

/// The table's entries `0..clusters + 2`, as numbers (FAT32's top 4 bits dropped).
fn read_table<D: Disk>(disk: &mut D, g: &Geometry) -> Result<Vec<u32>, CheckError> {
    let n = g.clusters as usize + 2;
    let mut raw: Vec<u8> = Vec::new();
    let bytes = usize::try_from(g.fat_bytes).map_err(|_| CheckError::Bad("FAT too large"))?;
    raw.try_reserve_exact(bytes)
        .map_err(|_| CheckError::Bad("no memory to check the FAT"))?;
    raw.resize(bytes, 0);
    for (i, chunk) in raw.chunks_mut(64 * 1024).enumerate() {
        disk.read(g.fat_offset + (i * 64 * 1024) as u64, chunk)
            .map_err(CheckError::Io)?;
    }
    let mut fat: Vec<u32> = Vec::new();
    fat.try_reserve_exact(n)
        .map_err(|_| CheckError::Bad("no memory to check the FAT"))?;
    for c in 0..n {
        fat.push(match g.kind {
            FatKind::Fat12 => {
                let at = c + c / 2;
                let v = le16(&raw, at);
                if c % 2 == 0 {
                    v & 0xfff
                } else {
                    v >> 4
                }
            }
            FatKind::Fat16 => le16(&raw, c * 2),
            FatKind::Fat32 => le32(&raw, c * 4) & 0x0fff_ffff,
        });
    }
    Ok(fat)
}

/// A set of cluster numbers.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Result<Self, CheckError> {
        let mut v = Vec::new();
        v.try_reserve_exact(n.div_ceil(64))
            .map_err(|_| CheckError::Bad("no memory to check the FAT"))?;
        v.resize(n.div_ceil(64), 0);
        Ok(Self(v))
    }
    /// Sets bit `i`; whether it was set before.
    fn set(&mut self, i: usize) -> bool {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        let was = self.0[w] & b != 0;
        self.0[w] |= b;
        was
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

/// Checks the boot sector and the allocation table; the geometry if the volume may be
/// mounted.
pub fn check<D: Disk>(disk: &mut D) -> Result<Geometry, CheckError> {
    use CheckError::Bad;
    let mut g = geometry(disk)?;
    let fat = read_table(disk, &g)?;
    let n = fat.len();
    let (bad, eoc) = match g.kind {
        FatKind::Fat12 => (0xff7, 0xff8),
        FatKind::Fat16 => (0xfff7, 0xfff8),
        FatKind::Fat32 => (0x0fff_fff7, 0x0fff_fff8),
    };
    let allocated = |v: u32| v != 0 && v != bad;
    let mut linked = Bits::new(n)?;
    let mut used = 0u32;
    let mut chained = 0usize;
    for &v in &fat[2..] {
        if v == 0 {
            continue;
        }
        used += 1;
        if v == bad {
            continue;
        }
        chained += 1;
        if v >= eoc {
            continue;
        }
        let next = v as usize;
        if !(2..n).contains(&next) {
            return Err(Bad("a FAT entry points outside the volume"));
        }
        if !allocated(fat[next]) {
            return Err(Bad("a cluster chain runs into a free or bad cluster"));
        }
        if linked.set(next) {
            return Err(Bad("cross-linked cluster chains"));
        }
    }
    // Every chain starts at a cluster nothing links to and, with at most one link into
    // each cluster, cannot meet another. A cluster not reached from such a start lies on
    // a loop.
    let mut reached = 0usize;
    for head in 2..n {
        if !allocated(fat[head]) || linked.get(head) {
            continue;
        }
        let mut c = head;
        // At most `n` steps: no cluster is entered twice.
        for _ in 0..n {
            reached += 1;
            let v = fat[c];
            if v >= eoc {
                break;
            }
            c = v as usize;
        }
    }
    if reached != chained {
        return Err(Bad("a loop in the FAT"));
    }
    if g.kind == FatKind::Fat32 {
        let root = {
            let mut bs = [0u8; 512];
            disk.read(0, &mut bs).map_err(CheckError::Io)?;
            le32(&bs, 0x2c) as usize
        };
        if !allocated(fat[root]) || linked.get(root) {
            return Err(Bad("the root directory's chain is broken"));
        }
    }
    g.used_clusters = used;
    Ok(g)
}
