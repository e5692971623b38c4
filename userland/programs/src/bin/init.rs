//! `init`, PID 1: the first user process.
//!
//! With `wayos.test` on the kernel command line it runs the in-guest suites one after
//! another (spawn, wait, report how each ended), prints `init: tests done` and shuts the
//! machine down with the verdict (every suite exited 0). With `wayos.bench` it runs
//! `/bin/bench` and shuts down. Otherwise there is nothing to start yet (the shell arrives
//! later). In every case it then reaps children forever: PID 1 never exits, and orphans
//! are re-parented to it. Every error is printed and survived.
#![no_std]
#![no_main]

use libway::abi::errno::ECHILD;
use libway::abi::harness::TEST_FLAG;
use libway::process::{self, WaitStatus};
use libway::{eprintln, println, Args};

extern crate alloc;
use alloc::string::String;

libway::entry!(main);

/// The in-guest suites, in the order they run.
const TESTS: [&str; 5] = [
    "/bin/vmtest",
    "/bin/badsys",
    "/bin/faulttest",
    "/bin/proctest",
    "/bin/ipctest",
];

/// Kernel command-line word that runs the benchmarks instead of the tests.
const BENCH_FLAG: &str = "wayos.bench";
const BENCH: &str = "/bin/bench";

/// How long to sleep when there is no child to reap.
const IDLE_SLEEP_MS: u64 = 1000;

fn main(_args: Args) -> i32 {
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
        let passed = run_tests();
        println!("init: tests done");
        let e = process::shutdown(passed);
        eprintln!("init: shutdown failed: {e}");
    } else if has(BENCH_FLAG) {
        let passed = run_programs(&[BENCH]);
        let e = process::shutdown(passed);
        eprintln!("init: shutdown failed: {e}");
    } else {
        println!("init: no shell yet; idling");
    }
    reap_forever()
}

/// Runs the test suites; true when every one exited with status 0.
fn run_tests() -> bool {
    run_programs(&TESTS)
}

/// Spawns each program and waits for it, printing how it ended; true when all exited 0.
fn run_programs(paths: &[&str]) -> bool {
    let env = ["PATH=/bin"];
    let mut all_passed = true;
    for &path in paths {
        let name = path.rsplit('/').next().unwrap_or(path);
        let pid = match process::spawn(path, &[path], &env) {
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
