//! `cargo xtask fuzz --arch A --calls N [--seed S]`: one boot that runs the in-guest
//! syscall fuzzer (`/bin/fuzz`, through init and `harness::FUZZ_KEY`) for `N` calls and
//! then every suite of `harness::SUITES` on the system it leaves, and reports the calls
//! made, their rate, every hung child, any kernel panic and the suites' verdicts.
//!
//! It fails (non-zero exit) on a kernel panic, on a hang (no line the harness waits for
//! within its timeout: the fuzzer prints progress every ten seconds), on a failed fuzz
//! check (say, a child `SIGKILL` did not reap) and on a failed suite. It never passes on
//! QEMU merely exiting.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use wayos_abi::harness::{CPUS_KEY, FUZZ_KEY, FUZZ_PROGRAM, HOSTTIME_KEY, TEST_FLAG};

use crate::artifacts;
use crate::prereq;
use crate::qemu::{self, Guest, Machine, Serial, Verdict};
use crate::test::{collect_suites, exit_verdict, Tally, BOOT_TIMEOUT, TAIL};
use crate::{run, Arch, FuzzOptions, Result};

const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The `N calls, K children, H hung, S signalled` numbers of the fuzzer's totals line
/// (what tells it from the fuzzer's other lines).
fn parse_totals(line: &str) -> Option<(u64, u64, u64, u64)> {
    let rest = line.trim().strip_prefix(FUZZ_PROGRAM)?.strip_prefix(": ")?;
    let mut nums = rest.split(", ").map(|part| {
        let (n, word) = part.split_once(' ')?;
        Some((n.parse::<u64>().ok()?, word))
    });
    let (calls, w1) = nums.next()??;
    let (children, w2) = nums.next()??;
    let (hung, w3) = nums.next()??;
    let (signalled, w4) = nums.next()??;
    (w1 == "calls" && w2 == "children" && w3 == "hung" && w4.starts_with("signalled"))
        .then_some((calls, children, hung, signalled))
}

pub fn run(o: &FuzzOptions) -> Result<ExitCode> {
    let arch = o.arch;
    let mut built = artifacts::build(arch, o.release, o.loader)?;
    if arch == Arch::X86_64 {
        built.select_firmware(None)?;
    }
    let mut needs = run::boot_needs(&built);
    // The suites' network checks run the host's HTTP client.
    needs.push(prereq::Need::HttpClient);
    prereq::ensure(&needs)?;
    let host_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let seed = o.seed.unwrap_or(host_secs);
    let cmdline = format!(
        "{TEST_FLAG} {HOSTTIME_KEY}={host_secs} {CPUS_KEY}={} {FUZZ_KEY}={},{seed}",
        o.smp, o.calls
    );
    println!(
        "==> fuzzing {} with {} calls, seed {seed} (QEMU {} CPUs, {} memory)",
        arch.name(),
        o.calls,
        o.smp,
        o.memory
    );
    let (disks, scratch) = crate::disk::harness_disks(arch, "fuzz")?;
    let cmdline = format!("{cmdline} {scratch}");
    let (path, is_iso) = qemu::prepare_medium(&built, &cmdline, "fuzz")?;
    // Every suite runs after the fuzzer, the network checks too: the same host side as
    // a test boot.
    let host = crate::nethost::HostNet::start()?;
    let machine = Machine {
        net: Some(host.net(&[])?),
        disks,
        qmp: Some(crate::screen::qmp_path("fuzz")),
        ..Machine::headless(arch, o.smp, &o.memory).with_tiers(o.tiers)
    };
    let cmd = qemu::command(
        &built,
        &machine,
        qemu::medium(&path, is_iso, &cmdline),
        Serial::Pipe,
        None,
    )?;
    let started = Instant::now();
    let mut guest = Guest::spawn(cmd, o.verbose)?;
    let mut t = Tally::default();
    if guest
        .wait_for(BOOT_TIMEOUT, |l| l.contains(") ready: usable memory"))
        .is_none()
    {
        t.check(
            "boots_to_ready_banner",
            Err(format!("no ready banner\n{}", guest.tail(TAIL))),
        );
    } else {
        collect_suites(&mut guest, &mut t, true, Some(&host));
        crate::test::network_summary(&host, &mut t);
    }
    let status = guest.wait_exit(EXIT_TIMEOUT);
    let seen: Vec<String> = guest.seen().to_vec();
    let panics = seen.iter().filter(|l| l.contains("KERNEL PANIC")).count();
    let totals = seen
        .iter()
        .rev()
        .find_map(|l| parse_totals(l).map(|t| (l.clone(), t)));
    let hung: Vec<&String> = seen
        .iter()
        .filter(|l| l.contains("fuzz: hung") || l.contains("fuzz: UNKILLABLE"))
        .collect();
    // With `wayos.test` init powers off with the verdict: x86_64 reports it through the
    // debug-exit device, aarch64 powers off (PSCI), so only the printed results count there.
    let expected = match arch {
        Arch::X86_64 => Verdict::KernelPassed,
        Arch::Aarch64 => Verdict::PoweredOff,
    };
    t.check(
        "qemu_exits_with_passing_verdict",
        exit_verdict(status, expected, &guest),
    );
    if status.is_none() {
        guest.kill();
    }
    let secs = started.elapsed().as_secs_f64();
    println!("fuzz-{}: seed {seed}", arch.name());
    match totals {
        Some((line, _)) => println!(
            "fuzz-{}: {} (the whole boot took {secs:.0} s)",
            arch.name(),
            line.trim().trim_start_matches("fuzz: ")
        ),
        None => println!("fuzz-{}: the fuzzer printed no totals", arch.name()),
    }
    for l in &hung {
        println!("  {}", l.trim());
    }
    println!("fuzz-{}: {panics} kernel panic(s)", arch.name());
    if panics > 0 {
        t.failed += 1;
        println!("{}", guest.tail(TAIL));
    }
    println!("{} passed, {} failed", t.passed, t.failed);
    Ok(if t.failed == 0 && t.passed > 0 && panics == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_line() {
        assert_eq!(
            parse_totals("fuzz: 20000 calls, 12 children, 1 hung, 3 signalled (900 calls/s)"),
            Some((20000, 12, 1, 3))
        );
        assert_eq!(parse_totals("fuzz: 3 passed, 0 failed"), None);
        assert_eq!(parse_totals("fuzz: progress 100 calls (9 calls/s)"), None);
    }
}
