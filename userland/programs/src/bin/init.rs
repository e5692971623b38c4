//! `init`, PID 1: the first user process.
//!
//! With `wayos.test` on the kernel command line it runs the in-guest suites one after
//! another (spawn, wait, report how each ended), then prints `init: tests done`. Without
//! it there is nothing to start yet (the shell arrives later). Either way it then reaps
//! children forever: PID 1 never exits, and orphans are re-parented to it. Every error is
//! printed and survived.
#![no_std]
#![no_main]

use libway::abi::errno::ECHILD;
use libway::abi::harness::TEST_FLAG;
use libway::process::{self, WaitStatus};
use libway::{eprintln, println, Args};

libway::entry!(main);

/// The in-guest suites, in the order they run.
const TESTS: [&str; 3] = ["/bin/vmtest", "/bin/badsys", "/bin/faulttest"];

/// How long to sleep when there is no child to reap.
const IDLE_SLEEP_MS: u64 = 1000;

fn main(_args: Args) -> i32 {
    match process::getpid() {
        Ok(pid) => println!("init: started (pid {pid})"),
        Err(e) => println!("init: started (getpid failed: {e})"),
    }
    let testing = match process::cmdline() {
        Ok(line) => line.split_whitespace().any(|w| w == TEST_FLAG),
        Err(e) => {
            eprintln!("init: cannot read the kernel command line: {e}");
            false
        }
    };
    if testing {
        run_tests();
        println!("init: tests done");
    } else {
        println!("init: no shell yet; idling");
    }
    reap_forever()
}

/// Spawns each test program and waits for it, printing how it ended.
fn run_tests() {
    let env = ["PATH=/bin"];
    for path in TESTS {
        let name = path.rsplit('/').next().unwrap_or(path);
        let pid = match process::spawn(path, &[path], &env) {
            Ok(pid) => pid,
            Err(e) => {
                println!("init: cannot spawn {path}: {e}");
                continue;
            }
        };
        match wait_for_child(pid) {
            // WaitStatus displays as `exited with status N` / `killed by signal N`.
            Ok(status) => println!("init: {name} {status}"),
            Err(e) => println!("init: waiting for {name} (pid {pid}) failed: {e}"),
        }
    }
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
