//! `cargo xtask run`: boot with the serial console on this terminal.

use std::process::ExitCode;

use crate::artifacts::Built;
use crate::prereq::{self, Need};
use crate::qemu::{self, Machine, Serial};
use crate::{artifacts, Arch, Firmware, Result, RunOptions};

/// Host tools a boot of `built` needs.
pub fn boot_needs(built: &Built) -> Vec<Need> {
    let mut needs = vec![Need::Qemu(built.arch)];
    if built.arch == Arch::X86_64 {
        if built.limine.is_some() {
            needs.push(Need::Xorriso);
        }
        if built.firmware == Firmware::Uefi {
            needs.push(Need::Ovmf);
        }
    }
    needs
}

pub fn run(o: &RunOptions) -> Result<ExitCode> {
    let c = &o.common;
    let mut built = artifacts::build(c.arch, c.release, c.loader)?;
    built.select_firmware(c.firmware)?;
    prereq::ensure(&boot_needs(&built))?;
    let (path, is_iso) = qemu::prepare_medium(&built, &c.cmdline, "run")?;
    let machine = Machine {
        kvm: o.kvm,
        display: o.display.clone(),
        screen: o.screen,
        net: o.net.machine_net()?,
        disks: o.disk.images(c.arch)?,
        ..Machine::headless(c.arch, c.smp, &c.memory).with_tiers(c.tiers)
    };
    let mut cmd = qemu::command(
        &built,
        &machine,
        qemu::medium(&path, is_iso, &c.cmdline),
        Serial::Terminal,
        None,
    )?;
    eprintln!("==> booting through {}", built.loader_description());
    eprintln!("==> {}", qemu::display(&cmd));
    match &machine.net {
        Some(net) => {
            eprintln!("==> network: QEMU user network (guest 10.0.2.15, host loopback 10.0.2.2)");
            for f in &net.forward {
                eprintln!(
                    "==> forward: {} 127.0.0.1:{} -> guest port {}",
                    f.proto.name(),
                    f.host,
                    f.guest
                );
            }
        }
        None => eprintln!("==> network: none"),
    }
    match machine.disks.first() {
        Some(img) => eprintln!("==> disk: {} (blk0, mounted at /disk)", img.display()),
        None => eprintln!("==> disk: none"),
    }
    eprintln!("==> serial console follows; Ctrl-A X quits QEMU, Ctrl-A C opens its monitor");
    if c.arch == Arch::X86_64 && o.display.is_none() {
        eprintln!(
            "==> if no kernel line appears, the loader may have stopped: add --display to see \
             its screen"
        );
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
    eprintln!("==> QEMU exited: {:?}", qemu::decode_exit(status));
    Ok(ExitCode::SUCCESS)
}
