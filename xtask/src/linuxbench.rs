//! `cargo xtask bench --linux`: the Linux reference for the network and disk figures, measured by
//! Linux 6.1 (Debian's cloud kernel) under exactly the QEMU settings of WayOS's bench
//! (x86_64 q35, `-cpu max`, one CPU, `-icount shift=0,sleep=off,align=off`, the same
//! virtio-net-pci NIC on QEMU's user network, the same two virtio-blk-pci disks with the
//! scratch disk second) against the same host servers ([`crate::nethost::bulk`]). The guest is `tools/linuxbench/netbench.c`, built here as
//! a static `/init`, in an initramfs with the NIC's modules from the kernel package.
//!
//! Owns: fetching the kernel package (`apt-get download`, cached under the target
//! directory; `WAYOS_LINUX_DIR` points at an unpacked one instead), building the
//! initramfs, the boot, and printing the guest's JSON lines unchanged.
//! Never: commit or ship the kernel or the binary (they live in the target directory).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use mkramfs::Ramfs;
use wayos_abi::harness::{
    BENCH_NET_BYTES, BENCH_UDP_PAYLOAD, BENCH_UDP_ROUNDS, SCRATCH_DISK_BYTES,
};

use crate::nethost::bulk::Bulk;
use crate::prereq::{self, Need};
use crate::qemu::{Guest, Net};
use crate::{artifacts, Arch, BenchOptions, Result};

const TIMEOUT: Duration = Duration::from_secs(900);
/// The metapackage whose dependency is the kernel image.
const META: &str = "linux-image-cloud-amd64";
/// The NIC's and the disks' modules (netbench.c loads them in dependency order).
const MODULES: [&str; 9] = [
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "net/core/failover.ko",
    "drivers/net/net_failover.ko",
    "drivers/net/virtio_net.ko",
    "drivers/block/virtio_blk.ko",
];
/// Figures netbench prints: three network, four disk.
const FIGURES: usize = 7;

pub fn run(o: &BenchOptions) -> Result<ExitCode> {
    if o.arch != Arch::X86_64 {
        return Err("--linux: only x86_64 (Debian's amd64 cloud kernel) is set up".into());
    }
    prereq::ensure(&[Need::Qemu(Arch::X86_64), Need::CcStatic])?;
    let work = artifacts::target_root().join("linuxbench");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let root = kernel_tree(&work)?;
    let (vmlinuz, modules) = kernel_files(&root)?;
    let init = work.join("netbench");
    let src = artifacts::root().join("tools/linuxbench/netbench.c");
    let ok = Command::new("gcc")
        .args(["-O2", "-static", "-pthread", "-Wall", "-o"])
        .arg(&init)
        .arg(&src)
        .status()
        .map_err(|e| format!("cannot run gcc: {e}"))?;
    if !ok.success() {
        return Err(format!("gcc {} failed", src.display()));
    }
    let mut ramfs = Ramfs::new();
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    ramfs.add_file("init", 0o755, read(&init)?)?;
    for m in MODULES {
        let name = Path::new(m)
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        ramfs.add_file(&format!("mod/{name}"), 0o644, read(&modules.join(m))?)?;
    }
    let initrd = work.join("initrd.cpio");
    std::fs::write(&initrd, ramfs.to_cpio()).map_err(|e| format!("{}: {e}", initrd.display()))?;

    let bulk = Bulk::start().map_err(|e| format!("bench network servers: {e}"))?;
    let (disks, scratch) = crate::disk::harness_disks(Arch::X86_64, "linuxbench")?;
    let append = format!(
        "console=ttyS0 quiet panic=-1 {} wayos.netbytes={BENCH_NET_BYTES} \
         wayos.udprounds={BENCH_UDP_ROUNDS} wayos.udppayload={BENCH_UDP_PAYLOAD} \
         {scratch} wayos.diskbytes={SCRATCH_DISK_BYTES}",
        bulk.cmdline_word()
    );
    let mut cmd = Command::new(prereq::qemu_binary(Arch::X86_64));
    cmd.args([
        "-accel", "tcg", "-machine", "q35", "-cpu", "max", "-smp", "1",
    ])
    .args(["-m", &o.memory])
    .args(["-icount", "shift=0,sleep=off,align=off"])
    .args(Net::default().args())
    .args(crate::disk::qemu_args(&disks))
    .args([
        "-no-reboot",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-monitor",
        "none",
    ])
    .arg("-kernel")
    .arg(&vmlinuz)
    .arg("-initrd")
    .arg(&initrd)
    .arg("-append")
    .arg(&append);
    eprintln!("==> {}", crate::qemu::display(&cmd));
    let mut guest = Guest::spawn(cmd, o.verbose)?;
    let mut figures = 0;
    loop {
        // Linux prints little before /init with `quiet`; its lines count as "loader" lines
        // for the splitter, so match both.
        match guest.wait_for_any(TIMEOUT, |l| l.contains("netbench: ") || l.starts_with('{')) {
            Some(l) if l.starts_with('{') => {
                println!("{l}");
                figures += 1;
            }
            Some(l) if l.contains("netbench: done") => break,
            Some(l) => eprintln!("{l}"),
            None => {
                eprintln!("linux bench: the run did not finish\n{}", guest.tail(40));
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    guest.wait_exit(Duration::from_secs(30));
    eprintln!("linux bench: {figures} figures");
    Ok(if figures == FIGURES {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// An unpacked kernel package: `WAYOS_LINUX_DIR`, else one downloaded into `work`.
fn kernel_tree(work: &Path) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("WAYOS_LINUX_DIR") {
        return Ok(dir.into());
    }
    let root = work.join("root");
    if root.join("boot").is_dir() {
        return Ok(root);
    }
    let depends = Command::new("apt-cache")
        .args(["depends", META])
        .output()
        .map_err(|e| format!("apt-cache (needed to find {META}): {e}"))?;
    let text = String::from_utf8_lossy(&depends.stdout);
    let pkg = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .ok_or_else(|| format!("apt-cache depends {META} names no kernel (apt-get update?)"))?
        .to_string();
    eprintln!("==> downloading {pkg}");
    let ok = Command::new("apt-get")
        .args(["download", &pkg])
        .current_dir(work)
        .status()
        .map_err(|e| format!("apt-get download {pkg}: {e}"))?;
    if !ok.success() {
        return Err(format!("apt-get download {pkg} failed"));
    }
    let deb = std::fs::read_dir(work)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.starts_with(&pkg) && n.ends_with(".deb")
        })
        .ok_or("the downloaded .deb is not there")?;
    let ok = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&root)
        .status()
        .map_err(|e| format!("dpkg-deb: {e}"))?;
    if !ok.success() {
        return Err(format!("dpkg-deb -x {} failed", deb.display()));
    }
    Ok(root)
}

/// The kernel image and the module directory (`lib/modules/<version>/kernel`) of an
/// unpacked package.
fn kernel_files(root: &Path) -> Result<(PathBuf, PathBuf)> {
    let boot = root.join("boot");
    let vmlinuz = std::fs::read_dir(&boot)
        .map_err(|e| format!("{}: {e}", boot.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .ok_or_else(|| format!("no vmlinuz-* in {}", boot.display()))?;
    let version = vmlinuz
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .trim_start_matches("vmlinuz-")
        .to_string();
    let modules = root.join("lib/modules").join(version).join("kernel");
    if !modules.is_dir() {
        return Err(format!("no {}", modules.display()));
    }
    Ok((vmlinuz, modules))
}
