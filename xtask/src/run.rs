//! `cargo xtask run`: boot with the serial console on this terminal.

use std::process::ExitCode;

use crate::prereq::{self, Need};
use crate::qemu::{self, Machine, Serial};
use crate::{artifacts, Arch, Result, RunOptions};

/// Host tools a boot of `arch` needs.
pub fn boot_needs(arch: Arch, iso: bool) -> Vec<Need> {
    let mut needs = vec![Need::Qemu(arch)];
    if arch == Arch::X86_64 {
        needs.push(if iso { Need::Xorriso } else { Need::Ovmf });
    }
    needs
}

pub fn run(o: &RunOptions) -> Result<ExitCode> {
    let c = &o.common;
    let built = artifacts::build(c.arch, c.release, c.loader)?;
    prereq::ensure(&boot_needs(c.arch, built.limine.is_some()))?;
    let (path, is_iso) = qemu::prepare_medium(&built, &c.cmdline, "run")?;
    let machine = Machine {
        arch: c.arch,
        smp: c.smp,
        memory: c.memory.clone(),
        kvm: o.kvm,
        el2: false,
    };
    let mut cmd = qemu::command(
        &built,
        &machine,
        qemu::medium(&path, is_iso, &c.cmdline),
        Serial::Terminal,
        None,
    )?;
    eprintln!("==> {}", qemu::display(&cmd));
    eprintln!("==> serial console follows; Ctrl-A X quits QEMU, Ctrl-A C opens its monitor");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
    eprintln!("==> QEMU exited: {:?}", qemu::decode_exit(status));
    Ok(ExitCode::SUCCESS)
}
