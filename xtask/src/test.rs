//! `cargo xtask test`: host unit tests, then one boot per architecture that runs every
//! in-guest check, then a plain total line `N passed, M failed`.
//!
//! Each boot starts QEMU halted under a batch GDB session that must stop at `kernel_main`
//! and detach; the kernel then boots with `wayos.test`, prints its suites' result lines,
//! and is made to crash on purpose at the end so the fault and panic reports are checked
//! too. A boot passes only on what the guest printed and a decoded exit status, never on
//! QEMU merely exiting; every wait has a timeout that shows the last serial lines.
//!
//! The suites a boot must report are `wayos_abi::harness::SUITES`. A suite fails when its
//! result line is missing, when it reports `0 passed, 0 failed` (it checked nothing), when
//! it skips a group of checks (under the harness everything can run), and when a suite
//! the list does not mark as typed asks the harness to type.

use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wayos_abi::harness::{
    self, CPUS_KEY, CRASH_KEY, ECHO_WORD, FUZZ_KEY, FUZZ_PROGRAM, HOSTTIME_KEY, SKIP_WORD, SUITES,
    TEST_FLAG, TYPE_WORD,
};

use crate::artifacts::{self, Built};
use crate::prereq::{self, Need};
use crate::qemu::{self, memory_mib, Guest, Machine, Serial, Verdict};
use crate::{gdb, limine, nethost, run, Arch, Firmware, Loader, Result, TestOptions};

/// Generous: TCG on a loaded two-core machine, OVMF alone takes seconds.
pub(crate) const BOOT_TIMEOUT: Duration = Duration::from_secs(240);
const GDB_TIMEOUT: Duration = Duration::from_secs(180);
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);
pub(crate) const TAIL: usize = 40;
/// Calls of the short fuzz run in every test boot (`harness::FUZZ_KEY`), and its seed: a
/// fixed one, so a failure in CI replays exactly (`cargo xtask fuzz` explores others).
const CI_FUZZ_CALLS: u64 = 20_000;
const CI_FUZZ_SEED: u64 = 1;
/// What init prints after the last suite.
const INIT_DONE: &str = "init: tests done";

/// Pass/fail counts, printed as `<suite>: N passed, M failed`.
#[derive(Default, Clone, Copy)]
pub(crate) struct Tally {
    pub(crate) passed: u32,
    pub(crate) failed: u32,
}

impl Tally {
    pub(crate) fn add(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
    }

    pub(crate) fn check(&mut self, name: &str, result: std::result::Result<(), String>) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("  ok   {name}");
            }
            Err(why) => {
                self.failed += 1;
                println!("  FAIL {name}: {why}");
            }
        }
    }
}

/// A suite's request to type on the serial console: `<suite>: type <hex>[ echo <hex>]`
/// (`wayos_abi::harness::TYPE_WORD`). Returns the suite, the bytes and the echo expected.
fn parse_type_request(line: &str) -> Option<(String, Vec<u8>, Option<Vec<u8>>)> {
    let (suite, rest) = line.trim().split_once(": ")?;
    if suite.is_empty() || suite.contains(' ') {
        return None;
    }
    let mut words = rest.split(' ');
    if words.next()? != TYPE_WORD {
        return None;
    }
    let input = decode_hex(words.next()?)?;
    let echo = match (words.next(), words.next()) {
        (None, _) => None,
        (Some(w), Some(hex)) if w == ECHO_WORD => Some(decode_hex(hex)?),
        _ => return None,
    };
    if words.next().is_some() || input.is_empty() {
        return None;
    }
    Some((suite.to_string(), input, echo))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A line of the fuzzer's that is not its result line: progress, a hung or unkillable
/// child, the totals.
fn is_fuzz_report(line: &str) -> bool {
    line.trim()
        .strip_prefix(FUZZ_PROGRAM)
        .and_then(|r| r.strip_prefix(": "))
        .is_some_and(|r| parse_result_line(line).is_none() && !r.is_empty())
}

/// Parses a `<suite>: N passed, M failed` line.
fn parse_result_line(line: &str) -> Option<(String, Tally)> {
    let (suite, rest) = line.trim().split_once(": ")?;
    if suite.is_empty() || suite.contains(' ') {
        return None;
    }
    let (p, f) = rest.split_once(", ")?;
    let passed = p.strip_suffix(" passed")?.parse().ok()?;
    let failed = f.strip_suffix(" failed")?.parse().ok()?;
    Some((suite.to_string(), Tally { passed, failed }))
}

/// A suite's `<suite>: skipped <what> (<why>)` line: returns the suite and the rest.
fn parse_skip_line(line: &str) -> Option<(String, String)> {
    let (suite, rest) = line.trim().split_once(": ")?;
    let what = rest.strip_prefix(SKIP_WORD)?.strip_prefix(' ')?;
    if suite.is_empty() || suite.contains(' ') || what.is_empty() {
        return None;
    }
    Some((suite.to_string(), what.to_string()))
}

/// What a suite's result line says about it: a suite passes on checks that ran, so one
/// that reports none (it ran nothing, or stopped before its first check) fails.
fn judge_result(suite: &str, r: Tally) -> std::result::Result<(), String> {
    if r.passed + r.failed == 0 {
        Err(format!(
            "'{suite}: 0 passed, 0 failed': the suite ran no checks"
        ))
    } else {
        Ok(())
    }
}

/// Reads `usable memory N MiB, C CPU(s)` from the ready line.
fn parse_ready(line: &str) -> Option<(u64, u32)> {
    let rest = line.split("usable memory ").nth(1)?;
    let (mib, rest) = rest.split_once(" MiB, ")?;
    let cpus = rest.split_whitespace().next()?;
    Some((mib.parse().ok()?, cpus.parse().ok()?))
}

pub fn run(o: &TestOptions) -> Result<ExitCode> {
    let arches = match o.arch {
        Some(a) => vec![a],
        None => vec![Arch::X86_64, Arch::Aarch64],
    };
    let mut total = Tally::default();
    if !o.no_host {
        total.add(host_tests()?);
    }
    // Each boot's `classify: bitexact sha256` hash, and the host's (tools/digits).
    let mut digits_seen = Vec::new();
    let mut digits_host = String::new();
    for &arch in &arches {
        let mut built = artifacts::build(arch, o.release, o.loader)?;
        if arch == Arch::X86_64 {
            built.select_firmware(o.firmware)?;
        }
        let mut needs = run::boot_needs(&built);
        needs.push(Need::Gdb);
        if o.net.net == crate::NetMode::User {
            needs.push(Need::HttpClient);
        }
        prereq::ensure(&needs)?;
        if o.persist_only {
            total.add(crate::persist::run(&built, o)?);
            continue;
        }
        total.add(boot_suites(&built, o, &mut digits_seen)?);
        total.add(crate::persist::run(&built, o)?);
        digits_host = built.digits_sha256.clone();
        if arch == Arch::X86_64 && built.limine.is_none() && o.loader != Loader::Limine {
            total.add(wayboot_rejects_bad_kernel(&built, o)?);
        }
        if arch == Arch::X86_64 {
            total.add(limine_other_firmware(&built, o)?);
        }
    }
    if !o.persist_only {
        total.add(crate::digits::compare(&digits_host, &digits_seen));
    }
    println!("{} passed, {} failed", total.passed, total.failed);
    Ok(if total.failed == 0 && total.passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `cargo test` for every crate that runs on the host.
fn host_tests() -> Result<Tally> {
    println!("==> running host unit tests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(artifacts::root())
        .args([
            "test",
            "--workspace",
            "--exclude",
            "wayos-kernel",
            "--exclude",
            "wayboot",
            // No host tests, and no_std programs that would get `wayos-aimath/std` by
            // feature unification with the host tools (see `lint`).
            "--exclude",
            "wayos-tests",
        ])
        .args(["--features", "wayos-kcore/alloc"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut tally = Tally::default();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("test result: ") {
            let num = |label: &str| -> u32 {
                rest.split(';')
                    .find_map(|part| part.trim().strip_suffix(label))
                    .and_then(|n| n.trim().rsplit(' ').next()?.parse().ok())
                    .unwrap_or(0)
            };
            tally.passed += num(" passed");
            tally.failed += num(" failed");
        }
        if line.contains("FAILED") || line.contains("panicked") {
            println!("  {line}");
        }
    }
    if !out.status.success() && tally.failed == 0 {
        print!("{}", String::from_utf8_lossy(&out.stderr));
        tally.failed += 1;
        println!("  FAIL cargo test exited with {}", out.status);
    }
    println!("host: {} passed, {} failed", tally.passed, tally.failed);
    Ok(tally)
}

/// One boot: GDB check, ready line, kernel suites, the deliberate crash, the exit verdict.
fn boot_suites(
    built: &Built,
    o: &TestOptions,
    digits_seen: &mut Vec<(Arch, Option<String>)>,
) -> Result<Tally> {
    let arch = built.arch;
    // Until the suites report, this boot has printed no digits hash.
    digits_seen.push((arch, None));
    let suite = format!("boot-{}", arch.name());
    println!(
        "==> running {suite} ({}; QEMU {} CPUs, {} memory)",
        built.loader_description(),
        o.smp,
        o.memory
    );
    let started = Instant::now();
    // The host's clock, for the kernel's check of the RTC (QEMU starts it at host UTC).
    let host_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // The test boot enters aarch64 at EL2 so the kernel's drop to EL1 runs every time;
    // `run` covers the plain EL1 entry.
    // The host side of the network checks (servers, forwards, the injection hub), unless
    // the boot has no network.
    let host = match o.net.machine_net()? {
        Some(net) => Some(nethost::HostNet::start().map(|h| (h, net.forward))?),
        None => None,
    };
    let machine = Machine {
        el2: arch == Arch::Aarch64,
        net: match &host {
            Some((h, extra)) => Some(h.net(extra)?),
            None => None,
        },
        // A QMP socket for the screen checks' screendumps.
        qmp: Some(crate::screen::qmp_path(arch.name())),
        screen: o.screen,
        ..Machine::headless(arch, o.smp, &o.memory).with_tiers(o.tiers)
    };
    let host = host.map(|(h, _)| h);
    // A fresh formatted disk (blk0, init mounts it at /disk) and a raw scratch disk.
    let (disks, scratch) = crate::disk::harness_disks(arch, "test")?;
    let machine = Machine { disks, ..machine };
    // What QEMU's NUMA nodes hold, for umemtest to compare with what the kernel found.
    let tiers = machine.tiers_key().unwrap_or_default();
    let cmdline = format!(
        "{TEST_FLAG} {CRASH_KEY}=fault {HOSTTIME_KEY}={host_secs} {CPUS_KEY}={} \
         {FUZZ_KEY}={CI_FUZZ_CALLS},{CI_FUZZ_SEED} {tiers} {scratch}",
        o.smp
    );
    let (path, is_iso) = qemu::prepare_medium(built, &cmdline, "test")?;
    let port = qemu::free_port()?;
    let cmd = qemu::command(
        built,
        &machine,
        qemu::medium(&path, is_iso, &cmdline),
        Serial::Pipe,
        Some(port),
    )?;
    if o.verbose {
        println!("    {}", qemu::display(&cmd));
    }
    let mut guest = Guest::spawn(cmd, o.verbose)?;
    let mut t = Tally::default();

    // GDB first: QEMU is halted until it continues.
    let gdb_result = run_gdb(built, port, &mut guest);
    let gdb_ok = gdb_result.is_ok();
    if !gdb_ok {
        let _ = guest.wait_for(Duration::from_secs(1), |_| false);
        println!("{}", guest.tail(TAIL));
    }
    t.check("gdb_breaks_at_kernel_main", gdb_result);
    if !gdb_ok {
        guest.kill();
        println!("{suite}: {} passed, {} failed", t.passed, t.failed);
        return Ok(t);
    }

    let ready = guest.wait_for(BOOT_TIMEOUT, |l| l.contains(") ready: usable memory"));
    let Some(ready) = ready else {
        t.check(
            "boots_to_ready_banner",
            Err(format!("no ready banner\n{}", guest.tail(TAIL))),
        );
        guest.kill();
        println!("{suite}: {} passed, {} failed", t.passed, t.failed);
        return Ok(t);
    };
    let version = env!("CARGO_PKG_VERSION");
    t.check(
        "boots_to_ready_banner",
        if ready.contains(&format!("WayOS {version} ({})", arch.name())) {
            Ok(())
        } else {
            Err(format!(
                "banner lacks 'WayOS {version} ({})': {ready}",
                arch.name()
            ))
        },
    );
    if machine.el2 {
        t.check(
            "entered_at_el2_dropped_to_el1",
            if guest
                .seen()
                .iter()
                .any(|l| l.contains("entered at EL2 (dropped to EL1)"))
            {
                Ok(())
            } else {
                Err("no 'entered at EL2 (dropped to EL1)' line in the boot log".into())
            },
        );
    }
    if let Some(want) = loader_log_line(built) {
        t.check(
            "boot_log_names_the_loader",
            if guest.seen().iter().any(|l| l.contains(&want)) {
                Ok(())
            } else {
                Err(format!("no '{want}' line in the boot log"))
            },
        );
    }
    let counts = parse_ready(&ready);
    let expect_mib = memory_mib(&o.memory).unwrap_or(0);
    t.check(
        "usable_memory_matches_qemu",
        match counts {
            // Firmware, loader and kernel take some; most of -m must be usable, never more.
            Some((mib, _)) if mib <= expect_mib && mib * 4 >= expect_mib * 3 => Ok(()),
            Some((mib, _)) => Err(format!("{mib} MiB usable for -m {}", o.memory)),
            None => Err(format!("cannot parse: {ready}")),
        },
    );
    t.check(
        "cpu_count_matches_qemu",
        match counts {
            Some((_, cpus)) if cpus == o.smp => Ok(()),
            Some((_, cpus)) => Err(format!("{cpus} CPUs reported for -smp {}", o.smp)),
            None => Err(format!("cannot parse: {ready}")),
        },
    );

    collect_suites(&mut guest, &mut t, true, host.as_ref());
    if let Some(h) = &host {
        network_summary(h, &mut t);
    }
    if let Some(last) = digits_seen.last_mut() {
        last.1 = guest
            .seen()
            .iter()
            .find_map(|l| crate::digits::parse_hash(l));
    }

    // The deliberate fault: a report naming the fault and address, then the panic.
    let panic = guest.wait_for(BOOT_TIMEOUT, |l| l.contains("KERNEL PANIC"));
    let fault_lines: Vec<String> = guest.seen().iter().rev().take(60).rev().cloned().collect();
    let fault_text = fault_lines.join("\n");
    let fault_word = match arch {
        Arch::X86_64 => "page fault",
        Arch::Aarch64 => "data abort",
    };
    t.check(
        "fault_report_names_fault_and_address",
        if fault_text.to_lowercase().contains(fault_word) && fault_text.contains("dead0000") {
            Ok(())
        } else {
            Err(format!(
                "no '{fault_word}' report for 0xdead0000\n{}",
                guest.tail(TAIL)
            ))
        },
    );
    let _ = guest.wait_for(Duration::from_secs(20), |l| l.contains("kernel stopped"));
    let all = guest.seen().join("\n");
    t.check(
        "panic_prints_symbolized_backtrace",
        if panic.is_some()
            && all.contains("backtrace:")
            && all.contains("crash_by_fault")
            && all.contains("syscall::dispatch")
        {
            Ok(())
        } else {
            Err(format!(
                "panic report without a symbolized backtrace\n{}",
                guest.tail(TAIL)
            ))
        },
    );
    let status = guest.wait_exit(EXIT_TIMEOUT);
    let expected = match arch {
        Arch::X86_64 => Verdict::KernelFailed,
        Arch::Aarch64 => Verdict::PoweredOff,
    };
    t.check(
        "qemu_exits_with_kernel_verdict",
        exit_verdict(status, expected, &guest),
    );
    println!("{suite}: {} passed, {} failed", t.passed, t.failed);
    println!("{suite}: took {:.0?}", started.elapsed());
    Ok(t)
}

/// Reads the suites' result lines until init says it is done (or the kernel panics, or
/// nothing comes for [`BOOT_TIMEOUT`]), typing for the typed suites and checking their
/// echoes, and answering their host requests through `host` (`None`: the boot has no
/// network, and every request gets an `err`); fails each suite of [`SUITES`] that did
/// not report, and, when `fuzz` is set, the fuzzer's report too. Returns the names that
/// reported.
pub(crate) fn collect_suites(
    guest: &mut Guest,
    t: &mut Tally,
    fuzz: bool,
    host: Option<&nethost::HostNet>,
) -> Vec<String> {
    // Suites, in the kernel (boottest) and in user space (run by init), each print
    // `<suite>: N passed, M failed`; init ends the run with `init: tests done`.
    let mut seen_suites: Vec<String> = Vec::new();
    // Echoes interactive suites asked for: (check name, expected text, first line index).
    let mut echoes: Vec<(String, String, usize)> = Vec::new();
    // Where the current suite's output starts: a failed suite's FAIL lines are shown
    // even without `-v`, so a long run (a fuzz boot) says which check failed.
    let mut suite_from = guest.seen().len();
    loop {
        let line = guest.wait_for(BOOT_TIMEOUT, |l| {
            parse_result_line(l).is_some()
                || parse_type_request(l).is_some()
                || nethost::parse_request(l).is_some()
                || parse_skip_line(l).is_some()
                || l.contains(INIT_DONE)
                || l.contains("KERNEL PANIC")
                || is_fuzz_report(l)
        });
        match line.as_deref() {
            Some(l) if l.contains(INIT_DONE) => break,
            Some(l) if l.contains("KERNEL PANIC") => {
                t.check(
                    "no_kernel_panic",
                    Err(format!("the kernel panicked\n{}", guest.tail(TAIL))),
                );
                break;
            }
            // The fuzzer's progress and findings: shown, and they prove it is alive.
            Some(l) if is_fuzz_report(l) => println!("    {}", l.trim()),
            Some(l) if parse_skip_line(l).is_some() => {
                // Under the harness every check can run; a skip means the suite thinks
                // otherwise (say, it missed `HARNESS_ENV`) and its checks went untested.
                let (name, what) = parse_skip_line(l).expect("matched");
                t.check(
                    &format!("{name}_skips_nothing"),
                    Err(format!("under the harness it {SKIP_WORD} {what}")),
                );
            }
            Some(l) if nethost::parse_request(l).is_some() => {
                let (name, verb, args) = nethost::parse_request(l).expect("matched");
                if !harness::suite(&name).is_some_and(|s| s.typed) {
                    t.check(
                        &format!("{name}_host_requests"),
                        Err(format!(
                            "asked the host ({verb}), but harness::SUITES does not list \
                             {name} as typed (the answer is typed on its stdin)"
                        )),
                    );
                }
                let started = Instant::now();
                // The screen's verb is answered from QEMU (QMP), not the host network;
                // its answer is the decoded rows, then the `ok`/`err` line.
                let lines = if verb == harness::HOST_SCREENDUMP {
                    let dump = guest.qmp().map(|q| q.with_extension("ppm"));
                    crate::screen::answer(
                        guest.qmp(),
                        dump.as_deref()
                            .unwrap_or(std::path::Path::new("/nonexistent")),
                    )
                } else {
                    vec![match host {
                        Some(h) => h.answer(&verb, &args),
                        None => nethost::answer_without_network(&verb),
                    }]
                };
                let answer = lines.last().cloned().unwrap_or_default();
                println!(
                    "    {name}: host {verb} {} -> {answer} ({:.1?})",
                    args.join(" "),
                    started.elapsed()
                );
                let typed: String = lines.iter().map(|l| format!("{l}\r")).collect();
                if let Err(e) = guest.type_bytes(typed.as_bytes()) {
                    t.check(&format!("{name}_host_answer"), Err(e));
                }
            }
            Some(l) if parse_type_request(l).is_some() => {
                let (name, input, echo) = parse_type_request(l).expect("matched");
                if !harness::suite(&name).is_some_and(|s| s.typed) {
                    t.check(
                        &format!("{name}_typing"),
                        Err(format!(
                            "asked to type, but harness::SUITES does not list {name} as typed"
                        )),
                    );
                }
                if let Some(echo) = echo {
                    let check = format!("{name}_echo_{}", echoes.len() + 1);
                    // The line reader drops carriage returns.
                    let text = String::from_utf8_lossy(&echo).replace('\r', "");
                    echoes.push((check, text, guest.seen().len()));
                }
                if let Err(e) = guest.type_bytes(&input) {
                    t.check(&format!("{name}_typing"), Err(e));
                }
            }
            Some(l) => {
                if let Some((name, r)) = parse_result_line(l) {
                    println!("{name}: {} passed, {} failed", r.passed, r.failed);
                    if r.failed > 0 {
                        for l in guest.seen()[suite_from..]
                            .iter()
                            .filter(|l| l.contains("FAIL "))
                        {
                            println!("    {}", l.trim());
                        }
                    }
                    suite_from = guest.seen().len();
                    t.add(r);
                    if let Err(why) = judge_result(&name, r) {
                        t.check(&format!("suite_{name}_ran_checks"), Err(why));
                    }
                    seen_suites.push(name);
                }
            }
            None => {
                t.check(
                    "suites_finish",
                    Err(format!(
                        "timed out waiting for suites\n{}",
                        guest.tail(TAIL)
                    )),
                );
                break;
            }
        }
    }
    for (check, text, from) in echoes {
        let shown = guest.seen()[from..].iter().any(|l| l.contains(&text));
        t.check(
            &check,
            if shown {
                Ok(())
            } else {
                Err(format!(
                    "the console never showed {text:?}\n{}",
                    guest.tail(TAIL)
                ))
            },
        );
    }
    for suite in SUITES.iter().map(|s| s.name) {
        if !seen_suites.iter().any(|s| s == suite) {
            t.check(
                &format!("suite_{suite}_reported"),
                Err(format!(
                    "no '{suite}: N passed, M failed' line: the suite is missing from the output\n{}",
                    guest.tail(TAIL)
                )),
            );
        }
    }
    if fuzz && !seen_suites.iter().any(|s| s == FUZZ_PROGRAM) {
        t.check(
            "fuzz_reported",
            Err(format!(
                "no '{FUZZ_PROGRAM}: N passed, M failed' line\n{}",
                guest.tail(TAIL)
            )),
        );
    }
    seen_suites
}

/// What the harness saw of the guest's network, checked once the suites asked for host
/// network actions (before the guest has a network stack nobody asks): the guest's own
/// frames reached the user network (through the harness's relay), and the host's HTTP
/// server answered requests.
pub(crate) fn network_summary(h: &nethost::HostNet, t: &mut Tally) {
    println!(
        "network: {} host requests answered, {} frames relayed from the guest, {} \
         HTTP requests served by the host",
        h.requests(),
        h.frames_from_guest(),
        h.http_served()
    );
    if h.requests() == 0 {
        return;
    }
    t.check(
        "guest_frames_reach_the_user_network",
        if h.frames_from_guest() > 0 {
            Ok(())
        } else {
            Err("the relay carried no frame from the guest's NIC".into())
        },
    );
}

/// Runs the scripted GDB session against a halted QEMU; Ok when it stopped at the entry.
/// A loader that stops (Limine's panic waits for a key) never reaches the breakpoint: the
/// guest's output is watched meanwhile so that fails at once instead of at the timeout.
fn run_gdb(built: &Built, port: u16, guest: &mut Guest) -> std::result::Result<(), String> {
    let mut cmd = gdb::batch_command(&built.kernel_elf, port);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start gdb-multiarch: {e}"))?;
    let (tx, rx) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let deadline = Instant::now() + GDB_TIMEOUT;
    let out = loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(Ok(out)) => break out,
            Ok(Err(e)) => return Err(format!("gdb failed: {e}")),
            Err(mpsc::RecvTimeoutError::Timeout)
                if !guest.loader_stopped() && Instant::now() < deadline => {}
            Err(_) => {
                let _ = Command::new("kill").arg(pid.to_string()).status();
                return Err(if guest.loader_stopped() {
                    "the loader stopped before starting the kernel".into()
                } else {
                    format!("gdb did not finish in {GDB_TIMEOUT:?}")
                });
            }
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if gdb::hit_entry(&text) {
        Ok(())
    } else {
        Err(format!(
            "gdb did not stop at {}:\n{text}",
            gdb::ENTRY_SYMBOL
        ))
    }
}

/// wayboot given a truncated kernel must say so on the console and power off, not hang.
fn wayboot_rejects_bad_kernel(built: &Built, o: &TestOptions) -> Result<Tally> {
    let suite = "wayboot";
    println!("==> running {suite} (malformed kernel)");
    let kernel = std::fs::read(&built.kernel_elf).map_err(|e| e.to_string())?;
    let truncated = &kernel[..kernel.len() / 3];
    let esp = artifacts::x86_boot_medium_with_kernel(built, truncated, "", "bad-kernel")?;
    let machine = Machine::headless(Arch::X86_64, 1, &o.memory).with_tiers(o.tiers);
    let cmd = qemu::command(built, &machine, qemu::Medium::Esp(&esp), Serial::Pipe, None)?;
    let mut guest = Guest::spawn(cmd, o.verbose)?;
    let mut t = Tally::default();
    let line = guest.wait_for_any(BOOT_TIMEOUT, |l| l.contains("wayboot: error: kernel.elf"));
    t.check(
        "malformed_kernel_is_reported",
        found(&line, "no error line", &guest),
    );
    let status = guest.wait_exit(EXIT_TIMEOUT);
    t.check(
        "malformed_kernel_powers_off",
        match status {
            Some(_) if !guest.seen().iter().any(|l| l.contains(") ready:")) => Ok(()),
            Some(_) => Err("the kernel booted anyway".into()),
            None => Err(format!(
                "QEMU still running after the error\n{}",
                guest.tail(TAIL)
            )),
        },
    );
    println!("{suite}: {} passed, {} failed", t.passed, t.failed);
    Ok(t)
}

/// What the kernel's boot log says about the loader of `built` (`loader: ...`), where the
/// harness knows it: Limine's bootloader-info response carries its version.
fn loader_log_line(built: &Built) -> Option<String> {
    match (built.arch, &built.limine) {
        (Arch::X86_64, Some(release)) => Some(format!("loader: Limine {}", release.version)),
        (Arch::X86_64, None) => Some("loader: wayboot".into()),
        (Arch::Aarch64, _) => None,
    }
}

/// What the shell prints when it starts (`userland/waysh`).
const SHELL_BANNER: &str = "waysh: type 'help'";

/// Genuine Limine under the firmware the full suite did not use: the full boot above ran
/// under `--firmware` (default BIOS); this boots the same hybrid ISO under the other one far
/// enough to show that the kernel comes up, init starts the shell, and `klog` names Limine.
/// A short boot keeps the second firmware cheap. Without a release (CI) it prints one skip
/// line and adds nothing to the counts.
fn limine_other_firmware(built: &Built, o: &TestOptions) -> Result<Tally> {
    let Some(release) = &built.limine else {
        println!(
            "limine: skipped: {}",
            built.limine_missing.as_deref().unwrap_or(limine::NOT_FOUND)
        );
        return Ok(Tally::default());
    };
    let mut other = built.clone();
    other.firmware = match built.firmware {
        Firmware::Bios => Firmware::Uefi,
        Firmware::Uefi => Firmware::Bios,
    };
    prereq::ensure(&run::boot_needs(&other))?;
    let suite = format!("limine-{}", other.firmware.arg());
    println!(
        "==> running {suite} ({} to the shell; QEMU {} CPUs, {} memory)",
        other.loader_description(),
        o.smp,
        o.memory
    );
    let started = Instant::now();
    let (path, is_iso) = qemu::prepare_medium(&other, "", &suite)?;
    let machine = Machine::headless(Arch::X86_64, o.smp, &o.memory).with_tiers(o.tiers);
    let cmd = qemu::command(
        &other,
        &machine,
        qemu::medium(&path, is_iso, ""),
        Serial::Pipe,
        None,
    )?;
    if o.verbose {
        println!("    {}", qemu::display(&cmd));
    }
    let mut guest = Guest::spawn(cmd, o.verbose)?;
    let mut t = Tally::default();
    let want = format!("loader: Limine {}", release.version);
    let ready = guest.wait_for(BOOT_TIMEOUT, |l| l.contains(") ready: usable memory"));
    t.check(
        "boots_to_ready_banner",
        found(&ready, "no ready banner", &guest),
    );
    if ready.is_some() {
        t.check(
            "boot_log_names_the_loader",
            if guest.seen().iter().any(|l| l.contains(&want)) {
                Ok(())
            } else {
                Err(format!("no '{want}' line in the boot log"))
            },
        );
        let shell = guest.wait_for(BOOT_TIMEOUT, |l| l.contains(SHELL_BANNER));
        t.check(
            "init_starts_the_shell",
            found(&shell, &format!("no '{SHELL_BANNER}' line"), &guest),
        );
        if shell.is_some() {
            // Only lines printed after typing count: the boot log above has the same line.
            let klog = guest
                .type_bytes(b"klog\r")
                .map(|()| guest.wait_for(BOOT_TIMEOUT, |l| l.contains(&want)));
            t.check(
                "klog_names_limine",
                match klog {
                    Ok(Some(_)) => Ok(()),
                    Ok(None) => Err(format!(
                        "`klog` printed no '{want}' line\n{}",
                        guest.tail(TAIL)
                    )),
                    Err(e) => Err(e),
                },
            );
        }
    }
    guest.kill();
    println!("{suite}: {} passed, {} failed", t.passed, t.failed);
    println!("{suite}: took {:.0?}", started.elapsed());
    Ok(t)
}

/// A check's verdict on how QEMU exited: `expected`, else what it was (or that it never
/// exited, with the serial tail).
pub fn exit_verdict(status: Option<ExitStatus>, expected: Verdict, guest: &Guest) -> Result<()> {
    match status.map(qemu::decode_exit) {
        Some(v) if v == expected => Ok(()),
        Some(v) => Err(format!("exit {v:?}, expected {expected:?}")),
        None => Err(format!("QEMU did not exit\n{}", guest.tail(TAIL))),
    }
}

/// A check's verdict on a line the guest was waited for: `missing` and the last lines of
/// serial output when it never came.
fn found(line: &Option<String>, missing: &str, guest: &Guest) -> Result<()> {
    match line {
        Some(_) => Ok(()),
        None => Err(format!("{missing}\n{}", guest.tail(TAIL))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines() {
        let (s, t) = parse_result_line("boottest: 9 passed, 0 failed").unwrap();
        assert_eq!((s.as_str(), t.passed, t.failed), ("boottest", 9, 0));
        assert!(parse_result_line("[ 0.1] INFO cpu0 x: 1 passed, 0 failed").is_none());
        assert!(parse_result_line("boottest: many passed, 0 failed").is_none());
    }

    #[test]
    fn fuzz_reports() {
        assert!(is_fuzz_report("fuzz: progress 1000 calls"));
        assert!(is_fuzz_report(
            "fuzz: 20000 calls, 10 children, 0 hung, 3 signalled"
        ));
        assert!(!is_fuzz_report("fuzz: 3 passed, 0 failed"));
        assert!(!is_fuzz_report("fuzzy: progress"));
        assert!(!is_fuzz_report("vmtest: progress"));
    }

    #[test]
    fn type_requests() {
        assert_eq!(
            parse_type_request("contest: type 610d echo 61"),
            Some(("contest".into(), vec![b'a', b'\r'], Some(vec![b'a'])))
        );
        assert_eq!(
            parse_type_request("contest: type 03"),
            Some(("contest".into(), vec![3], None))
        );
        assert!(parse_type_request("contest: type").is_none());
        assert!(parse_type_request("contest: type 6").is_none());
        assert!(parse_type_request("contest: type zz").is_none());
        assert!(parse_type_request("contest: type 61 echo").is_none());
        assert!(parse_type_request("contest: type 61 wrong 61").is_none());
        assert!(parse_type_request("  ok   type 61").is_none());
    }

    /// The whole host-request path with a stand-in guest (bash on pipes, as QEMU's serial
    /// console is): it asks, the harness answers on its stdin, it shows what it read.
    #[test]
    fn host_requests_are_answered_on_the_console() {
        let host = nethost::HostNet::start().unwrap();
        // A typed suite may ask; the answer ends with CR (Enter on the serial console).
        let script = "echo '[    0.000001] INFO  cpu0 fake: up'; \
                      echo 'contest: host http-info'; read -r -d $'\\r' a; echo \"got: $a\"; \
                      echo 'contest: host nonsense 1'; read -r -d $'\\r' b; echo \"got: $b\"; \
                      echo 'vmtest: host udp-echo-info'; read -r -d $'\\r' c; echo \"got: $c\"; \
                      echo 'init: tests done'";
        let mut cmd = Command::new("bash");
        cmd.args(["-c", script]);
        let mut guest = Guest::spawn(cmd, false).unwrap();
        let mut t = Tally::default();
        collect_suites(&mut guest, &mut t, false, Some(&host));
        let seen = guest.seen().join("\n");
        let info = host.answer(harness::HOST_HTTP_INFO, &[]);
        assert!(seen.contains(&format!("got: {info}")), "{seen}");
        assert!(seen.contains("got: err unknown verb nonsense"), "{seen}");
        // vmtest is not a typed suite: answered, but a failed check.
        assert!(seen.contains("got: ok "), "{seen}");
        assert_eq!(host.requests(), 4, "three from the guest, one here");
        // Every suite is missing (none printed a result line) and vmtest's request fails.
        assert_eq!(t.passed, 0);
        assert_eq!(t.failed as usize, SUITES.len() + 1);
    }

    #[test]
    fn skip_lines() {
        assert_eq!(
            parse_skip_line("contest: skipped typed-input checks (no harness)"),
            Some(("contest".into(), "typed-input checks (no harness)".into()))
        );
        assert!(parse_skip_line("contest: skipped").is_none());
        assert!(parse_skip_line("  skip coreutils_echo_wc: /bin/wc is not installed").is_none());
        assert!(parse_skip_line("contest: 3 passed, 0 failed").is_none());
    }

    #[test]
    fn a_suite_without_checks_fails() {
        let (name, r) = parse_result_line("vmtest: 0 passed, 0 failed").unwrap();
        let why = judge_result(&name, r).unwrap_err();
        assert!(why.contains("ran no checks"), "{why}");
        let (name, r) = parse_result_line("vmtest: 0 passed, 1 failed").unwrap();
        assert!(judge_result(&name, r).is_ok());
        let (name, r) = parse_result_line("vmtest: 7 passed, 0 failed").unwrap();
        assert!(judge_result(&name, r).is_ok());
    }

    /// Every user suite the harness expects is a program init can start (most are in
    /// `userland/tests`; `classify` is a tool that is also a suite).
    #[test]
    fn every_user_suite_is_built() {
        let names = crate::userland::all_bin_names(&artifacts::root()).unwrap();
        for s in SUITES.iter().filter(|s| !s.in_kernel) {
            assert!(
                names.iter().any(|n| n == s.name),
                "no package of userland::PACKAGES builds a program {}",
                s.name
            );
        }
    }

    #[test]
    fn ready_line() {
        let l = "[    0.5] INFO  cpu0 wayos_kernel: WayOS 0.1.0 (x86_64) ready: usable memory 480 MiB, 2 CPUs";
        assert_eq!(parse_ready(l), Some((480, 2)));
        assert_eq!(
            parse_ready("ready: usable memory 1 MiB, 1 CPU"),
            Some((1, 1))
        );
    }

    #[test]
    fn memory_spec() {
        assert_eq!(memory_mib("512M"), Some(512));
        assert_eq!(memory_mib("2G"), Some(2048));
        assert_eq!(memory_mib("300"), Some(300));
        assert_eq!(memory_mib("x"), None);
    }
}
