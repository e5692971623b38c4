//! `init`, PID 1: the first user process.
//!
//! It starts with the console device on fds 0-2. First it starts the console server
//! (`/bin/console`, which inherits the device), waits for it to register, and moves its
//! own stdin, stdout and stderr onto a stream to it, so every later program talks to the
//! console through the server. If the server cannot start, init says so and keeps the
//! device.
//!
//! With `wayos.test` on the kernel command line it runs the user suites of
//! `wayos_abi::harness::SUITES` one after another (spawn, wait, report how each ended),
//! each with `WAYOS_HARNESS=1` in its environment (`harness::HARNESS_ENV`: the harness is
//! on the serial line and types when asked), prints `init: tests done` and shuts the
//! machine down with the verdict (every suite exited 0). With `wayos.fuzz=<calls>,<seed>`
//! as well (`harness::FUZZ_KEY`) it first runs the syscall fuzzer `/bin/fuzz` for that many
//! calls, whose verdict counts too, so the suites then run on the system it leaves. With `wayos.bench` it runs
//! `/bin/bench` and shuts down. Otherwise it runs the shell (`/bin/waysh`) on the console,
//! starting it again whenever it exits. Meanwhile, and forever after, it reaps children:
//! PID 1 never exits, and orphans are re-parented to it. Every error is printed and
//! survived.
//!
//! Privileges (`docs/security.md`): init holds every capability and hands each program
//! only what it needs, with `spawn_caps`: the console server [`CONSOLE_CAPS`], the shell
//! the user set (`caps::USER`, which everything it runs inherits), the suites under
//! `wayos.test` [`SUITE_CAPS`]. Nobody else gets `shutdown`.
#![no_std]
#![no_main]

use libway::abi::console;
use libway::abi::errno::ECHILD;
use libway::abi::harness::{self, FUZZ_KEY, FUZZ_PROGRAM, HARNESS_ENV, SUITES, TEST_FLAG};
use libway::abi::wait::WNOHANG;
use libway::caps;
use libway::io;
use libway::ipc::ns;
use libway::process::{self, WaitStatus};
use libway::{eprintln, println, Args};

extern crate alloc;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

libway::entry!(main);

const CONSOLE: &str = "/bin/console";
/// How long the console server gets to register its name.
const CONSOLE_START_MS: u64 = 5000;

/// Kernel command-line word that runs the benchmarks instead of the tests.
const BENCH_FLAG: &str = "wayos.bench";
const BENCH: &str = "/bin/bench";

/// What the console server gets (`docs/security.md`): the device, its system name, and
/// signalling the foreground group (Ctrl-C) whatever that group holds.
const CONSOLE_CAPS: u32 = caps::CONSOLE_BIND | caps::NS_SYSTEM | caps::KILL;
/// What a test suite (or the benchmark) gets under the harness: everything but powering
/// the machine off (a suite that calls `shutdown`, or a fuzzer that happens to, must not
/// end the run), so each suite can check both sides of every other capability.
const SUITE_CAPS: u32 = caps::ALL & !caps::SHUTDOWN;

/// The interactive shell of a normal boot.
const SHELL: &str = "/bin/waysh";
/// Shortest time between two starts of the shell.
const SHELL_RESTART_MS: u64 = 1000;

/// How long to sleep when there is no child to reap.
const IDLE_SLEEP_MS: u64 = 1000;

fn main(_args: Args) -> i32 {
    start_console();
    match process::getpid() {
        Ok(pid) => println!("init: started (pid {pid})"),
        Err(e) => println!("init: started (getpid failed: {e})"),
    }
    let cmdline = match process::cmdline() {
        Ok(line) => line,
        Err(e) => {
            eprintln!("init: cannot read the kernel command line: {e}");
            String::new()
        }
    };
    let has = |flag: &str| cmdline.split_whitespace().any(|w| w == flag);
    if has(TEST_FLAG) {
        let fuzz = cmdline
            .split_whitespace()
            .find_map(|w| w.strip_prefix(FUZZ_KEY)?.strip_prefix('='));
        let fuzzed = match fuzz.map(|v| (v, harness::parse_fuzz(v))) {
            None => true,
            Some((_, Some((calls, seed)))) => run_fuzz(calls, seed),
            Some((v, None)) => {
                println!("init: bad {FUZZ_KEY}={v} (want <calls>,<seed>)");
                false
            }
        };
        let passed = run_suites() && fuzzed;
        println!("init: tests done");
        let e = process::shutdown(passed);
        eprintln!("init: shutdown failed: {e}");
    } else if has(BENCH_FLAG) {
        let passed = run_programs(&[BENCH], &["PATH=/bin"], SUITE_CAPS);
        let e = process::shutdown(passed);
        eprintln!("init: shutdown failed: {e}");
    } else {
        run_shell();
    }
    reap_forever()
}

/// Runs the interactive shell, starting it again whenever it exits (at most once a
/// second, so a shell that cannot start does not flood the console).
fn run_shell() -> ! {
    let env = ["PATH=/bin", "HOME=/"];
    loop {
        let started = libway::time::monotonic_ns().unwrap_or(0);
        match caps::spawn(SHELL, &[SHELL], &env, caps::USER) {
            Ok(pid) => match wait_for_child(pid) {
                Ok(status) => println!("init: {SHELL} {status}; starting it again"),
                Err(e) => println!("init: waiting for {SHELL} failed: {e}"),
            },
            Err(e) => println!("init: cannot spawn {SHELL}: {e}"),
        }
        let ran_ms = libway::time::monotonic_ns()
            .unwrap_or(0)
            .saturating_sub(started)
            / 1_000_000;
        if ran_ms < SHELL_RESTART_MS {
            let _ = process::sleep_or_yield(SHELL_RESTART_MS - ran_ms);
        }
    }
}

/// Starts the console server and puts fds 0-2 on a stream to it.
fn start_console() {
    let pid = match caps::spawn(CONSOLE, &[CONSOLE], &[], CONSOLE_CAPS) {
        Ok(pid) => pid,
        Err(e) => {
            eprintln!("init: cannot start {CONSOLE}: {e}; keeping the console device");
            return;
        }
    };
    let mut waited = 0;
    let port = loop {
        match ns::lookup(console::NAME) {
            Ok(port) => break port,
            Err(e) if waited >= CONSOLE_START_MS => {
                eprintln!("init: {CONSOLE} (pid {pid}) did not register: {e}");
                return;
            }
            Err(_) => {
                if let Ok((got, status)) = process::waitpid(pid as isize, WNOHANG) {
                    if got == pid {
                        eprintln!("init: {CONSOLE} {status}; keeping the console device");
                        return;
                    }
                }
                let _ = process::sleep_or_yield(1);
                waited += 1;
            }
        }
    };
    let fd = match io::port_fd(port) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("init: cannot open a stream to the console server: {e}");
            return;
        }
    };
    for std in [io::STDIN, io::STDOUT, io::STDERR] {
        if let Err(e) = io::dup2(fd, std) {
            eprintln!("init: dup2({fd}, {std}): {e}");
        }
    }
    if fd > io::STDERR {
        let _ = io::close(fd);
    }
    println!("init: console server running (pid {pid})");
}

/// Runs the user suites, in the harness's order; true when every one exited with status 0.
fn run_suites() -> bool {
    let paths: Vec<String> = SUITES
        .iter()
        .filter(|s| !s.in_kernel)
        .map(|s| format!("/bin/{}", s.name))
        .collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let harness = format!("{HARNESS_ENV}=1");
    run_programs(&paths, &["PATH=/bin", &harness], SUITE_CAPS)
}

/// Runs the syscall fuzzer for `calls` calls from `seed` with the shell's user capability
/// set, so what it finds is what any unprivileged program could do; true when it exited 0.
fn run_fuzz(calls: u64, seed: u64) -> bool {
    let path = format!("/bin/{FUZZ_PROGRAM}");
    let calls = format!("{calls}");
    let seed = format!("{seed}");
    let argv = [path.as_str(), "--calls", &calls, "--seed", &seed];
    let harness = format!("{HARNESS_ENV}=1");
    let pid = match caps::spawn(&path, &argv, &["PATH=/bin", &harness], caps::USER) {
        Ok(pid) => pid,
        Err(e) => {
            println!("init: cannot spawn {path}: {e}");
            return false;
        }
    };
    match wait_for_child(pid) {
        Ok(status) => {
            println!("init: {FUZZ_PROGRAM} {status}");
            status.exited_with(0)
        }
        Err(e) => {
            println!("init: waiting for {FUZZ_PROGRAM} (pid {pid}) failed: {e}");
            false
        }
    }
}

/// Spawns each program with environment `env` and capabilities `caps` and waits for it,
/// printing how it ended; true when all exited 0.
fn run_programs(paths: &[&str], env: &[&str], caps: u32) -> bool {
    let mut all_passed = true;
    for &path in paths {
        let name = path.rsplit('/').next().unwrap_or(path);
        let pid = match caps::spawn(path, &[path], env, caps) {
            Ok(pid) => pid,
            Err(e) => {
                println!("init: cannot spawn {path}: {e}");
                all_passed = false;
                continue;
            }
        };
        match wait_for_child(pid) {
            // WaitStatus displays as `exited with status N` / `killed by signal N`.
            Ok(status) => {
                println!("init: {name} {status}");
                all_passed &= status.exited_with(0);
            }
            Err(e) => {
                println!("init: waiting for {name} (pid {pid}) failed: {e}");
                all_passed = false;
            }
        }
    }
    all_passed
}

/// Waits for `pid`, reaping (and reporting) any other child that ends first.
fn wait_for_child(pid: usize) -> Result<WaitStatus, libway::Errno> {
    loop {
        let (got, status) = process::wait()?;
        if got == pid {
            return Ok(status);
        }
        println!("init: reaped pid {got}: {status}");
    }
}

/// Reaps children forever; sleeps when there are none.
fn reap_forever() -> ! {
    loop {
        match process::wait() {
            Ok((pid, status)) => println!("init: reaped pid {pid}: {status}"),
            Err(e) => {
                if e.code() != ECHILD {
                    eprintln!("init: wait failed: {e}");
                }
                // Nothing to reap (or wait is broken): do not spin.
                let _ = process::sleep_or_yield(IDLE_SLEEP_MS);
            }
        }
    }
}
