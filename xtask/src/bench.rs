//! `cargo xtask bench`: per-operation figures in guest instructions.
//!
//! Boots one CPU with `-icount shift=0,sleep=off,align=off`, so the guest's counter (rdtsc,
//! cntvct) advances with guest instructions and figures repeat on a noisy host. The kernel
//! runs with `wayos.bench`; init starts `/bin/bench`, which prints one JSON line per figure
//! (`{"system":"wayos","bench":NAME,"value":N,"unit":"instructions/op"}`) and init powers
//! off. Those lines are printed here unchanged, ready to set beside
//! `../shared/bench/linux`'s.

use std::process::ExitCode;
use std::time::Duration;

use crate::prereq;
use crate::qemu::{self, Guest, Machine, Serial};
use crate::{artifacts, nethost, run, BenchOptions, Result};

const TIMEOUT: Duration = Duration::from_secs(900);

/// OpenBLAS's sgemm in a Linux guest under the same emulator settings, in flops per guest
/// instruction for n = 64, 128, 256 (`../shared/bench/linux/run-sgemm-x86_64.sh`, x86_64
/// only; a plain triple loop gives 0.25). Printed beside WayOS's `sgemm_flops_per_instr_*`
/// as the yardstick.
const OPENBLAS_SGEMM_X86_64: [(u32, &str); 3] = [(64, "2.03"), (128, "2.27"), (256, "2.39")];

pub fn run(o: &BenchOptions) -> Result<ExitCode> {
    if o.linux {
        return crate::linuxbench::run(o);
    }
    let built = artifacts::build(o.arch, !o.debug, o.loader)?;
    prereq::ensure(&run::boot_needs(&built))?;
    let net = o.net.machine_net()?;
    // The host end of the network figures, when the guest has a network.
    let bulk = match &net {
        Some(_) => Some(
            nethost::bulk::Bulk::start()
                .map_err(|e| format!("bench network servers on 127.0.0.1: {e}"))?,
        ),
        None => None,
    };
    let mut cmdline = String::from("wayos.bench log=warn");
    if !o.only.is_empty() {
        cmdline.push_str(&format!(
            " {}={}",
            wayos_abi::harness::BENCH_ONLY_KEY,
            o.only.join(",")
        ));
    }
    if let Some(b) = &bulk {
        cmdline.push(' ');
        cmdline.push_str(&b.cmdline_word());
    }
    let (disks, scratch) = crate::disk::harness_disks(o.arch, "bench")?;
    cmdline.push(' ');
    cmdline.push_str(&scratch);
    let (path, is_iso) = qemu::prepare_medium(&built, &cmdline, "bench")?;
    let machine = Machine {
        net,
        disks,
        // No display device: the figures stay comparable with boots before the screen
        // console (its thread and frame pushes would run beside the measured code).
        screen: qemu::Screen::None,
        ..Machine::headless(o.arch, 1, &o.memory).with_tiers(o.tiers)
    };
    let mut cmd = qemu::command(
        &built,
        &machine,
        qemu::medium(&path, is_iso, &cmdline),
        Serial::Pipe,
        None,
    )?;
    cmd.args(["-icount", "shift=0,sleep=off,align=off"]);
    eprintln!("==> {}", qemu::display(&cmd));
    let mut guest = Guest::spawn(cmd, o.verbose)?;
    let mut figures = 0;
    loop {
        let line = guest.wait_for(TIMEOUT, |l| {
            l.starts_with("{\"system\":\"wayos\"")
                || l.starts_with("bench: ")
                || l.contains("KERNEL PANIC")
        });
        match line {
            Some(l) if l.starts_with('{') => {
                println!("{l}");
                figures += 1;
            }
            Some(l) if l.contains("bench: done") => break,
            // What the program says about a figure it could not measure.
            Some(l) if l.starts_with("bench: ") => eprintln!("{l}"),
            _ => {
                eprintln!("bench: the run did not finish\n{}", guest.tail(40));
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    guest.wait_exit(Duration::from_secs(30));
    if o.arch == crate::Arch::X86_64 && (o.only.is_empty() || o.only.iter().any(|g| g == "ai")) {
        for (n, v) in OPENBLAS_SGEMM_X86_64 {
            println!(
                "{{\"system\":\"linux-openblas\",\"bench\":\"sgemm_flops_per_instr_{n}\",\"value\":{v},\"unit\":\"flops/instruction\"}}"
            );
        }
    }
    eprintln!("bench: {figures} figures");
    Ok(if figures > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
