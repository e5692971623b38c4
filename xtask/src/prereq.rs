//! Host prerequisites: finds the tools a command needs and, as root on Debian/Ubuntu,
//! installs what is missing; elsewhere it names the packages and stops.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Arch, Result};

/// Something a command needs from the host, and the Debian package that provides it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Qemu(Arch),
    Ovmf,
    Gdb,
    Xorriso,
    /// An HTTP client for the network checks (`curl`, or Python's urllib).
    HttpClient,
    /// A C compiler with a static libc (the Linux reference benchmark).
    CcStatic,
    /// `mkfs.fat` and `fsck.fat`: making disk images and checking what the guest wrote.
    Dosfstools,
    /// `mcopy`: reading files out of a FAT image on the host (the persistence check).
    Mtools,
}

impl Need {
    fn package(self) -> &'static str {
        match self {
            Need::Qemu(Arch::X86_64) => "qemu-system-x86",
            Need::Qemu(Arch::Aarch64) => "qemu-system-arm",
            Need::Ovmf => "ovmf",
            Need::Gdb => "gdb-multiarch",
            Need::Xorriso => "xorriso",
            Need::HttpClient => "curl",
            Need::CcStatic => "gcc libc6-dev",
            Need::Dosfstools => "dosfstools",
            Need::Mtools => "mtools",
        }
    }

    fn present(self) -> bool {
        match self {
            Need::Qemu(arch) => on_path(qemu_binary(arch)),
            Need::Ovmf => ovmf().is_some(),
            Need::Gdb => on_path("gdb-multiarch"),
            Need::Xorriso => on_path("xorriso"),
            Need::HttpClient => on_path("curl") || on_path("python3"),
            Need::Dosfstools => on_path("mkfs.fat") && on_path("fsck.fat"),
            Need::Mtools => on_path("mcopy"),
            Need::CcStatic => {
                on_path("gcc") && Path::new("/usr/lib/x86_64-linux-gnu/libc.a").is_file()
            }
        }
    }
}

pub fn qemu_binary(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "qemu-system-x86_64",
        Arch::Aarch64 => "qemu-system-aarch64",
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// OVMF firmware: `(code, vars template)`. `OVMF_CODE`/`OVMF_VARS` override the search.
pub fn ovmf() -> Option<(PathBuf, PathBuf)> {
    if let (Some(code), Some(vars)) = (std::env::var_os("OVMF_CODE"), std::env::var_os("OVMF_VARS"))
    {
        return Some((code.into(), vars.into()));
    }
    let pairs = [
        (
            "/usr/share/OVMF/OVMF_CODE_4M.fd",
            "/usr/share/OVMF/OVMF_VARS_4M.fd",
        ),
        (
            "/usr/share/OVMF/OVMF_CODE.fd",
            "/usr/share/OVMF/OVMF_VARS.fd",
        ),
        (
            "/usr/share/edk2/x64/OVMF_CODE.4m.fd",
            "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
        ),
        (
            "/usr/share/edk2/ovmf/OVMF_CODE.fd",
            "/usr/share/edk2/ovmf/OVMF_VARS.fd",
        ),
    ];
    pairs
        .iter()
        .map(|(c, v)| (PathBuf::from(c), PathBuf::from(v)))
        .find(|(c, v)| c.is_file() && v.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Makes sure every need is met, installing with apt-get when that is possible.
pub fn ensure(needs: &[Need]) -> Result<()> {
    let mut missing: Vec<&str> = needs
        .iter()
        .filter(|n| !n.present())
        .map(|n| n.package())
        .collect();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    let install = format!(
        "apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if is_root() && Path::new("/usr/bin/apt-get").exists() {
        eprintln!(
            "xtask: installing missing host packages: {}",
            missing.join(" ")
        );
        let ok = |cmd: &str| {
            Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        if !ok("apt-get update -qq") || !ok(&install) {
            return Err(format!("installing host packages failed; run: {install}"));
        }
        if let Some(n) = needs.iter().find(|n| !n.present()) {
            return Err(format!(
                "{} is still missing after installing it",
                n.package()
            ));
        }
        return Ok(());
    }
    Err(format!(
        "missing host packages: {}\n  On Debian/Ubuntu run: sudo {install}\n  \
         (xtask installs them itself when run as root)",
        missing.join(" ")
    ))
}
