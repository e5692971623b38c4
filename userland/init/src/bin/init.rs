//! `init`, PID 1: the first user process.
//!
//! It starts with the console device on fds 0-2. First it starts the console server
//! (`/bin/console`, which inherits the device), waits for it to register, and moves its
//! own stdin, stdout and stderr onto a stream to it, so every later program talks to the
//! console through the server. If the server cannot start, init says so and keeps the
//! device.
//!
//! Then it starts the AI daemon (`/bin/aid`, `docs/aid.md`) and the network server
//! (`/bin/netd`, `docs/net.md`). All three servers are
//! **supervised**: whenever init reaps one of them (while waiting for the shell, a suite,
//! or anything else) it starts it again, after a pause that doubles with each death
//! within [`QUICK_DEATH_MS`] of its start (from [`BACKOFF_MIN_MS`] up to
//! [`BACKOFF_MAX_MS`]), so a server that crashes at once does not make init spin. A new
//! console server gets the console device again (init keeps a close-on-exec copy of it)
//! and init moves its own fds 0-2 onto a stream to the new server; programs still holding
//! streams to the dead one get `EPIPE` from them (the shell takes that as the end of its
//! input and exits, and init starts a new shell on the new console).
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
//! the user set (`caps::USER`, which everything it runs inherits), aid [`AID_CAPS`], netd
//! [`NETD_CAPS`], the
//! suites under `wayos.test` [`SUITE_CAPS`]. Nobody else gets `shutdown`.
#![no_std]
#![no_main]

use libway::abi::console;
use libway::abi::errno::ECHILD;
use libway::abi::harness::{self, FUZZ_KEY, FUZZ_PROGRAM, HARNESS_ENV, SUITES, TEST_FLAG};
use libway::abi::wait::WNOHANG;
use libway::caps;
use libway::fs;
use libway::io;
use libway::ipc::ns;
use libway::process::{self, WaitStatus};
use libway::sync::Mutex;
use libway::{eprintln, println, Args};

extern crate alloc;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

libway::entry!(main);

const CONSOLE: &str = "/bin/console";
/// The AI daemon.
const AID: &str = "/bin/aid";
/// What aid gets (`docs/security.md`): its system names (`aid`, `sys.aid.*`), and the
/// accelerator capability the kernel asks for the high and RT job classes, which aid
/// uses only for clients that could use them themselves (`docs/aid.md`).
const AID_CAPS: u32 = caps::NS_SYSTEM | caps::AI_ACCEL;
/// The network server.
const NETD: &str = "/bin/netd";
/// What netd gets (`docs/security.md`): the NIC (`net_attach`) and its system name; it
/// drops both once it has used them.
const NETD_CAPS: u32 = caps::NET_RAW | caps::NS_SYSTEM;

/// A supervised server that lived less than this counts as a quick death: its restart
/// waits, twice as long for each quick death in a row.
const QUICK_DEATH_MS: u64 = 5000;
const BACKOFF_MIN_MS: u64 = 100;
const BACKOFF_MAX_MS: u64 = 5000;
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

/// The servers init restarts when they die.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Server {
    Console,
    Aid,
    Netd,
}

struct Supervised {
    server: Server,
    pid: usize,
    started_ns: u64,
    quick_deaths: u32,
}

/// init's supervision state (init is single-threaded; the lock only satisfies `static`).
static SUPERVISED: Mutex<Vec<Supervised>> = Mutex::new(Vec::new());
/// A close-on-exec copy of the console device, for restarting the console server.
static CONSOLE_DEVICE: Mutex<Option<usize>> = Mutex::new(None);

fn now_ns() -> u64 {
    libway::time::monotonic_ns().unwrap_or(0)
}

/// Starts `server` and records it for supervision.
fn start(server: Server) {
    let pid = match server {
        Server::Console => start_console(),
        Server::Aid => start_aid(),
        Server::Netd => start_server(NETD, NETD_CAPS),
    };
    let Some(pid) = pid else { return };
    let mut sup = SUPERVISED.lock();
    let quick = sup
        .iter()
        .find(|s| s.server == server)
        .map_or(0, |s| s.quick_deaths);
    sup.retain(|s| s.server != server);
    sup.push(Supervised {
        server,
        pid,
        started_ns: now_ns(),
        quick_deaths: quick,
    });
}

/// Called for every child init reaps: restarts it if it was a supervised server (after
/// its backoff). Returns whether it was one.
fn supervise(pid: usize, status: WaitStatus) -> bool {
    let (server, delay_ms) = {
        let mut sup = SUPERVISED.lock();
        let Some(s) = sup.iter_mut().find(|s| s.pid == pid) else {
            return false;
        };
        let lived_ms = now_ns().saturating_sub(s.started_ns) / 1_000_000;
        if lived_ms < QUICK_DEATH_MS {
            s.quick_deaths = s.quick_deaths.saturating_add(1);
        } else {
            s.quick_deaths = 0;
        }
        let delay = match s.quick_deaths {
            0 => 0,
            n => (BACKOFF_MIN_MS << (n - 1).min(16)).min(BACKOFF_MAX_MS),
        };
        s.pid = 0;
        (s.server, delay)
    };
    let name = match server {
        Server::Console => CONSOLE,
        Server::Aid => AID,
        Server::Netd => NETD,
    };
    if server == Server::Console {
        // Until the new server runs, init's own messages go to the device.
        if let Some(dev) = *CONSOLE_DEVICE.lock() {
            for std in [io::STDIN, io::STDOUT, io::STDERR] {
                let _ = io::dup2(dev, std);
            }
        }
    }
    println!("init: {name} (pid {pid}) {status}; restarting it in {delay_ms} ms");
    if delay_ms > 0 {
        let _ = process::sleep_or_yield(delay_ms);
    }
    start(server);
    true
}

fn main(_args: Args) -> i32 {
    match io::dup_at_least(io::STDIN, 10, true) {
        Ok(fd) => *CONSOLE_DEVICE.lock() = Some(fd),
        Err(e) => eprintln!("init: cannot keep a copy of the console device: {e}"),
    }
    start(Server::Console);
    start(Server::Aid);
    start(Server::Netd);
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
    mount_disk(&cmdline);
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
    } else if let Some(mode) = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix(harness::PERSIST_KEY)?.strip_prefix('='))
    {
        let path = format!("/bin/{}", harness::PERSIST_PROGRAM);
        let harness = format!("{HARNESS_ENV}=1");
        let passed = run_program(&path, &[&path, mode], &["PATH=/bin", &harness], SUITE_CAPS);
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

/// Mounts the first block device that holds a FAT volume on `/disk`, skipping the
/// harness's scratch disk (`wayos.disk=<dev>`: raw test writes go there).
fn mount_disk(cmdline: &str) {
    use libway::abi::blk::{DISK_MOUNT, MAX_DEVICES};
    use libway::abi::errno::{EEXIST, ENODEV};
    let scratch = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix(harness::SCRATCH_DISK_KEY)?.strip_prefix('='))
        .and_then(|v| v.parse::<usize>().ok());
    if let Err(e) = fs::mkdir(DISK_MOUNT, 0o755) {
        if e.code() != EEXIST {
            eprintln!("init: cannot make {DISK_MOUNT}: {e}");
            return;
        }
    }
    for dev in (0..MAX_DEVICES).filter(|&d| Some(d) != scratch) {
        match fs::mount(dev, DISK_MOUNT, 0) {
            Ok(()) => {
                println!("init: mounted blk{dev} (vfat) on {DISK_MOUNT}");
                return;
            }
            Err(e) if e.code() == ENODEV => break,
            Err(e) => println!("init: blk{dev}: not mounted: {e}"),
        }
    }
    println!("init: no FAT disk to mount on {DISK_MOUNT}");
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

/// Starts aid; its pid.
fn start_aid() -> Option<usize> {
    start_server(AID, AID_CAPS)
}

/// Starts the server at `path` with capability set `caps`; its pid.
fn start_server(path: &str, caps: u32) -> Option<usize> {
    match caps::spawn(path, &[path], &[], caps) {
        Ok(pid) => {
            println!("init: {path} started (pid {pid})");
            Some(pid)
        }
        Err(e) => {
            eprintln!("init: cannot start {path}: {e}");
            None
        }
    }
}

/// Starts the console server and puts fds 0-2 on a stream to it; its pid.
fn start_console() -> Option<usize> {
    let pid = match caps::spawn(CONSOLE, &[CONSOLE], &[], CONSOLE_CAPS) {
        Ok(pid) => pid,
        Err(e) => {
            eprintln!("init: cannot start {CONSOLE}: {e}; keeping the console device");
            return None;
        }
    };
    start_console_stream(pid).then_some(pid)
}

/// Waits for the console server `pid` to register and moves fds 0-2 onto a stream to it;
/// false if it died first (it was reaped here).
fn start_console_stream(pid: usize) -> bool {
    let mut waited = 0;
    let port = loop {
        match ns::lookup(console::NAME) {
            Ok(port) => break port,
            Err(e) if waited >= CONSOLE_START_MS => {
                eprintln!("init: {CONSOLE} (pid {pid}) did not register: {e}");
                return true;
            }
            Err(_) => {
                if let Ok((got, status)) = process::waitpid(pid as isize, WNOHANG) {
                    if got == pid {
                        // Died before it served: not restarted (it would only die again).
                        eprintln!("init: {CONSOLE} {status}; keeping the console device");
                        return false;
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
            return true;
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
    true
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
    run_program(&path, &argv, &["PATH=/bin", &harness], caps::USER)
}

/// Spawns each program with environment `env` and capabilities `caps` and waits for it,
/// printing how it ended; true when all exited 0.
fn run_programs(paths: &[&str], env: &[&str], caps: u32) -> bool {
    let mut all_passed = true;
    for &path in paths {
        all_passed &= run_program(path, &[path], env, caps);
    }
    all_passed
}

/// Spawns one program with `argv`, waits for it and prints how it ended; true when it
/// exited 0.
fn run_program(path: &str, argv: &[&str], env: &[&str], caps: u32) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let pid = match caps::spawn(path, argv, env, caps) {
        Ok(pid) => pid,
        Err(e) => {
            println!("init: cannot spawn {path}: {e}");
            return false;
        }
    };
    match wait_for_child(pid) {
        // WaitStatus displays as `exited with status N` / `killed by signal N`.
        Ok(status) => {
            println!("init: {name} {status}");
            status.exited_with(0)
        }
        Err(e) => {
            println!("init: waiting for {name} (pid {pid}) failed: {e}");
            false
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
        if !supervise(got, status) {
            println!("init: reaped pid {got}: {status}");
        }
    }
}

/// Reaps children forever; sleeps when there are none.
fn reap_forever() -> ! {
    loop {
        match process::wait() {
            Ok((pid, status)) => {
                if !supervise(pid, status) {
                    println!("init: reaped pid {pid}: {status}");
                }
            }
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
