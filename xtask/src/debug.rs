//! `cargo xtask debug`: QEMU halted with a GDB stub, and gdb-multiarch attached to it.
//!
//! With GDB the serial console goes to `serial.log` in the output directory (GDB owns the
//! terminal); with `--no-gdb` QEMU runs in the foreground on the terminal and the gdb
//! command to type elsewhere is printed.

use std::process::ExitCode;

use crate::prereq::{self, Need};
use crate::qemu::{self, Machine, Serial};
use crate::{artifacts, gdb, run, DebugOptions, Result};

pub fn run(o: &DebugOptions) -> Result<ExitCode> {
    let c = &o.common;
    let mut built = artifacts::build(c.arch, c.release, c.loader)?;
    built.select_firmware(c.firmware)?;
    let mut needs = run::boot_needs(&built);
    if !o.no_gdb {
        needs.push(Need::Gdb);
    }
    prereq::ensure(&needs)?;
    let (path, is_iso) = qemu::prepare_medium(&built, &c.cmdline, "debug")?;
    let machine = Machine {
        display: o.display.clone(),
        net: o.net.machine_net()?,
        disks: o.disk.images(c.arch)?,
        ..Machine::headless(c.arch, c.smp, &c.memory).with_tiers(c.tiers)
    };
    let gdbinit = built.out_dir.join("gdbinit");
    let programs = crate::userland::elf_paths(c.arch, c.release)?;
    std::fs::write(&gdbinit, gdb::gdbinit(&built.kernel_elf, &programs, o.port))
        .map_err(|e| format!("{}: {e}", gdbinit.display()))?;
    let gdb_cmd = format!("gdb-multiarch -x {}", gdbinit.display());
    let medium = qemu::medium(&path, is_iso, &c.cmdline);

    if o.no_gdb {
        let mut cmd = qemu::command(&built, &machine, medium, Serial::Terminal, Some(o.port))?;
        eprintln!("==> {}", qemu::display(&cmd));
        eprintln!(
            "==> QEMU is halted, waiting for GDB on port {}. In another terminal run:",
            o.port
        );
        eprintln!("      {gdb_cmd}");
        eprintln!("==> serial console follows; Ctrl-A X quits QEMU");
        cmd.status()
            .map_err(|e| format!("cannot start QEMU: {e}"))?;
        return Ok(ExitCode::SUCCESS);
    }

    let log = built.out_dir.join("serial.log");
    let mut cmd = qemu::command(&built, &machine, medium, Serial::File(&log), Some(o.port))?;
    eprintln!("==> {}", qemu::display(&cmd));
    eprintln!(
        "==> serial output goes to {} (tail -f it in another terminal)",
        log.display()
    );
    let mut qemu_child = cmd.spawn().map_err(|e| format!("cannot start QEMU: {e}"))?;
    eprintln!("==> {gdb_cmd}");
    let status = std::process::Command::new("gdb-multiarch")
        .arg("-x")
        .arg(&gdbinit)
        .status();
    let _ = qemu_child.kill();
    let _ = qemu_child.wait();
    status.map_err(|e| format!("cannot start gdb-multiarch: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
