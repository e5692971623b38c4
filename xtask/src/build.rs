//! `cargo xtask build`: the kernel, the initramfs and the boot image for one architecture.

use std::process::ExitCode;

use crate::artifacts::{self, Built};
use crate::{Arch, Options, Result};

/// Builds everything `run` would boot, and for x86_64 the boot medium too.
pub fn run(o: &Options) -> Result<ExitCode> {
    let mut built = artifacts::build(o.arch, o.release, o.loader)?;
    built.select_firmware(o.firmware)?;
    report(&built, &o.cmdline)?;
    Ok(ExitCode::SUCCESS)
}

fn report(built: &Built, cmdline: &str) -> Result<()> {
    println!("kernel:    {}", built.kernel_elf.display());
    println!("initramfs: {}", built.initramfs.display());
    match built.arch {
        Arch::Aarch64 => {
            if let Some(image) = &built.image {
                println!("image:     {}", image.display());
            }
        }
        Arch::X86_64 => {
            println!("loader:    {}", built.loader_description());
            let medium = artifacts::x86_boot_medium(built, cmdline, "boot")?;
            println!("boot:      {}", medium.display());
        }
    }
    Ok(())
}
