//! `fuzz --calls N --seed S [--children K] [--batch B]`: a syscall fuzzer. Forked children
//! make random syscalls — every number in `wayos_abi::sys` plus unknown ones — with
//! arguments biased to the values a kernel gets wrong: 0, -1, `usize::MAX`, small ints,
//! kernel and non-canonical addresses, unmapped user pages, buffers that run off the end of
//! a mapping, huge lengths, random and recently returned handles and fds, and valid
//! pointers to scratch memory holding plausible structures (paths, argv arrays, messages,
//! timespecs, tensor metadata).
//!
//! The point is the kernel: it must answer each call with a result or an errno, or kill
//! only the caller, and never panic or hang. So the parent only forks, watches, kills and
//! waits; it never makes a fuzzed call itself. Each child runs one *batch* of calls seeded
//! from (seed, batch number), so a run repeats exactly for a seed; the parent restarts a
//! child that exits, dies of a signal, or makes no progress for [`HANG_MS`] (it is then
//! killed with `SIGKILL` and counted as hung). A child that `SIGKILL` does not reap within
//! [`REAP_MS`] is a kernel bug (a wait that does not end on a fatal signal): it fails the run
//! and is reported with its batch seed and last call.
//!
//! Masked, because they would end the test rather than find a bug: signals to anything but
//! the child itself and its own children (so never the parent, init or `kill(-1)`), moving
//! into another process group, `console_bind` and paths outside the child's own scratch
//! directory (so the console and the installed programs survive), grandchildren from
//! `fork` (they exit at once: no fork bombs). Programs a child spawns share its process
//! group, which the parent kills when the child ends or hangs. The fuzzer first drops to
//! the shell's user capability set (`caps::USER`), so it attacks as any unprivileged
//! program would: classes above normal (which would let a spinning child starve the
//! watch), `shutdown`, `console_bind` and the rest are refused by the kernel, not masked
//! here. IPC waits of any length and `munmap`/`mprotect` of any length are fuzzed as they
//! come: every wait ends on `SIGKILL` and huge ranges are walked sparsely.
//!
//! Output: a line per finding, `fuzz: N calls, K children, H hung, S signalled`, then the
//! verdict checks and `fuzz: P passed, F failed`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::ai::TensorInfo;
use libway::abi::ipc::{Message, WAIT_FOREVER};
use libway::abi::layout::{PROGRAM_BASE, USER_END};
use libway::abi::limits::PATH_MAX;
use libway::abi::mman::{PAGE_SIZE, PROT_NONE, PROT_READ};
use libway::abi::signal::{SIGCHLD, SIGCONT, SIGKILL, SIGURG};
use libway::abi::wait::WNOHANG;
use libway::abi::{sys, StrRef};
use libway::suite::Suite;
use libway::{mem, println, process, Args};

libway::entry!(main);

const PAGE: usize = PAGE_SIZE;
/// A child whose call counter has not moved for this long is hung: it is killed.
const HANG_MS: u64 = 1000;
/// How long a killed child may take to be reaped before that counts as a kernel bug.
const REAP_MS: u64 = 30_000;
/// How often the parent prints a progress line (the host's sign of life).
const PROGRESS_MS: u64 = 10_000;
/// How often the parent looks at its children.
const POLL_MS: u64 = 5;
const DEFAULT_CHILDREN: usize = 4;
const DEFAULT_BATCH: u64 = 2000;
/// Most children the parent runs at once (slots in the shared counter page).
const MAX_CHILDREN: usize = 32;

/// Start of the kernel's direct map (x86_64) / a kernel half address (aarch64).
const KERNEL_DIRECT: usize = 0xffff_8000_0000_0000;
/// Base of the kernel image.
const KERNEL_TEXT: usize = 0xffff_ffff_8000_0000;
/// The first address past the lower half: non-canonical on x86_64.
const NONCANONICAL: usize = 1 << 47;

/// One child's slot in the page shared with the parent: written by the child only.
#[repr(C)]
struct Slot {
    /// Calls made so far in this batch (incremented before each call).
    calls: u64,
    /// The call under way: number and arguments.
    last: [u64; 7],
}

/// splitmix64: the next value of a stream seeded by `state`.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of batch `batch` of a run seeded `seed`.
fn batch_seed(seed: u64, batch: u64) -> u64 {
    let mut s = seed ^ batch.wrapping_mul(0xd6e8_feb8_6659_fd93);
    splitmix(&mut s)
}

struct Options {
    calls: u64,
    seed: u64,
    children: usize,
    batch: u64,
    /// Run one batch with this seed in the foreground (replaying a finding).
    replay: Option<u64>,
}

fn parse(args: &Args) -> Result<Options, String> {
    let mut o = Options {
        calls: 10_000,
        seed: 1,
        children: DEFAULT_CHILDREN,
        batch: DEFAULT_BATCH,
        replay: None,
    };
    let mut it = args.iter().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .parse::<u64>()
            .map_err(|_| format!("{flag}: not a number"))?;
        match flag {
            "--calls" => o.calls = value,
            "--seed" => o.seed = value,
            "--children" => o.children = value as usize,
            "--batch" => o.batch = value.max(1),
            "--replay" => o.replay = Some(value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if o.children == 0 || o.children > MAX_CHILDREN {
        return Err(format!("--children must be 1..={MAX_CHILDREN}"));
    }
    Ok(o)
}

fn main(args: Args) -> i32 {
    // Attack as an unprivileged program: whoever started us, keep only the user set.
    if let Err(e) = libway::caps::keep_only(libway::abi::caps::USER) {
        println!("fuzz: cannot drop to the user capability set: {e}");
        return 2;
    }
    let o = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            println!("fuzz: {e}");
            println!("usage: fuzz --calls N --seed S [--children K] [--batch B] [--replay SEED]");
            return 2;
        }
    };
    let slots = match mem::map_anonymous(PAGE, true) {
        Ok(a) => a as *mut Slot,
        Err(e) => {
            println!("fuzz: cannot map the counter page: {e}");
            return 1;
        }
    };
    if let Some(seed) = o.replay {
        println!("fuzz: replaying batch seed {seed:#x}");
        // SAFETY: `slots` is a fresh page this program maps for the counters only.
        child_main(seed, o.batch, unsafe { &mut *slots }, 0)
    }
    run(&o, slots)
}

/// A running child.
#[derive(Clone, Copy)]
struct Running {
    pid: usize,
    seed: u64,
    /// The counter value when it last moved, and when.
    seen: u64,
    since_ms: u64,
    /// When it was sent `SIGKILL`, if it was.
    killed_ms: Option<u64>,
}

fn now_ms() -> u64 {
    libway::time::monotonic_ns().unwrap_or(0) / 1_000_000
}

fn read_slot(slots: *mut Slot, i: usize) -> (u64, [u64; 7]) {
    // SAFETY: slot `i` (< MAX_CHILDREN, which fits in the page) lies in the shared page;
    // volatile, because the child writes it behind the compiler's back.
    unsafe {
        let s = slots.add(i);
        (
            core::ptr::read_volatile(&(*s).calls),
            core::ptr::read_volatile(&(*s).last),
        )
    }
}

/// The parent: keeps `o.children` children busy until `o.calls` calls were made.
fn run(o: &Options, slots: *mut Slot) -> i32 {
    const _: () = assert!(MAX_CHILDREN * core::mem::size_of::<Slot>() <= PAGE);
    let started = now_ms();
    let mut running: [Option<Running>; MAX_CHILDREN] = [None; MAX_CHILDREN];
    let mut made: u64 = 0;
    let mut batches: u64 = 0;
    let mut hung = 0u64;
    let mut signalled = 0u64;
    let mut unkillable: Vec<String> = Vec::new();
    let mut fork_errors = 0u64;
    let mut wait_errors: Vec<String> = Vec::new();
    let mut last_progress = started;
    loop {
        // Start children while calls are still wanted.
        let in_flight: u64 = (0..o.children)
            .filter_map(|i| running[i].map(|_| read_slot(slots, i).0))
            .sum();
        for (i, slot) in running.iter_mut().enumerate().take(o.children) {
            if slot.is_some() || made + in_flight >= o.calls {
                continue;
            }
            let seed = batch_seed(o.seed, batches);
            // SAFETY: slot `i` is in the shared page and no child uses it now.
            unsafe { core::ptr::write_volatile(&mut (*slots.add(i)).calls, 0) };
            match process::fork() {
                // SAFETY: as above; from here on only this child writes slot `i`.
                Ok(0) => child_main(seed, o.batch, unsafe { &mut *slots.add(i) }, i),
                Ok(pid) => {
                    batches += 1;
                    *slot = Some(Running {
                        pid,
                        seed,
                        seen: 0,
                        since_ms: now_ms(),
                        killed_ms: None,
                    });
                }
                Err(e) => {
                    fork_errors += 1;
                    if fork_errors > 100 {
                        println!("fuzz: fork keeps failing: {e}");
                        break;
                    }
                }
            }
        }
        // Reap what ended.
        loop {
            match process::waitpid(-1, WNOHANG) {
                Ok((0, _)) => break,
                Ok((pid, status)) => {
                    let Some(i) = running[..o.children]
                        .iter()
                        .position(|r| r.is_some_and(|r| r.pid == pid))
                    else {
                        continue;
                    };
                    let r = running[i].take().expect("found");
                    made += read_slot(slots, i).0;
                    // Its descendants (programs it spawned) share its process group and
                    // must not outlive the batch: a spinning one would slow the rest.
                    let _ = libway::signal::kill_group(r.pid, SIGKILL);
                    if r.killed_ms.is_none() && status.signal().is_some() {
                        signalled += 1;
                    }
                }
                Err(e) => {
                    if running.iter().any(Option::is_some) {
                        wait_errors.push(format!("{e}"));
                    }
                    break;
                }
            }
        }
        // Kill the hung, give up on the unkillable.
        let now = now_ms();
        for (i, slot) in running.iter_mut().enumerate().take(o.children) {
            let Some(r) = slot else { continue };
            let (calls, last) = read_slot(slots, i);
            if let Some(at) = r.killed_ms {
                if now.saturating_sub(at) > REAP_MS {
                    let what = format!(
                        "pid {} (batch seed {:#x}) not reaped {REAP_MS} ms after SIGKILL; \
                         last call {} args {:x?}",
                        r.pid,
                        r.seed,
                        last[0],
                        &last[1..]
                    );
                    println!("fuzz: UNKILLABLE {what}");
                    unkillable.push(what);
                    made += calls;
                    *slot = None;
                }
            } else if calls != r.seen {
                r.seen = calls;
                r.since_ms = now;
            } else if now.saturating_sub(r.since_ms) > HANG_MS {
                hung += 1;
                println!(
                    "fuzz: hung: pid {} batch seed {:#x} call {} args {:x?}",
                    r.pid,
                    r.seed,
                    last[0],
                    &last[1..]
                );
                let _ = libway::signal::kill_group(r.pid, SIGKILL);
                let _ = process::kill(r.pid, SIGKILL);
                r.killed_ms = Some(now);
            }
        }
        if now.saturating_sub(last_progress) >= PROGRESS_MS {
            last_progress = now;
            let secs = (now - started).max(1) as f64 / 1000.0;
            println!(
                "fuzz: progress {} calls ({:.0} calls/s)",
                made + in_flight,
                (made + in_flight) as f64 / secs
            );
        }
        let busy = running.iter().any(Option::is_some);
        if !busy && (made >= o.calls || fork_errors > 100 || !wait_errors.is_empty()) {
            break;
        }
        let _ = process::sleep_or_yield(POLL_MS);
    }
    let secs = (now_ms() - started).max(1) as f64 / 1000.0;
    println!(
        "fuzz: {made} calls, {batches} children, {hung} hung, {signalled} signalled ({:.0} calls/s)",
        made as f64 / secs
    );
    let mut suite = Suite::new("fuzz");
    suite.check(
        "calls_made",
        if made >= o.calls {
            Ok(())
        } else {
            Err(format!("{made} calls made, {} requested", o.calls))
        },
    );
    suite.check(
        "every_child_reaped",
        if unkillable.is_empty() && wait_errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "unkillable: {unkillable:?}; wait errors: {wait_errors:?}"
            ))
        },
    );
    suite.check("system_still_forks", still_forks());
    suite.check("no_descendant_left", kill_leftovers());
    suite.check("own_files_removed", remove_own_files(o.children));
    suite.finish()
}

/// Kills what the children left running. A child's own children share its process group
/// and die with it, but a grandchild that made itself a new group (`setpgid`) escapes
/// that kill and, if it then blocks forever, outlives the run: over ten million calls
/// hundreds pile up, holding process slots and pids the later suites rely on (utiltest's
/// `kill 99999` found one alive). They are orphans by now, so they are found by what they
/// run: started after this program, running the fuzzer or a program its children exec.
fn kill_leftovers() -> Result<(), String> {
    let me = process::getpid().map_err(|e| format!("getpid: {e}"))? as u64;
    let ours = |p: &libway::abi::ProcInfo| {
        let name = process::field_str(&p.name);
        p.pid > me
            && p.state != b'Z'
            && (name == "/bin/fuzz"
                || name.starts_with("/testdata/")
                || FOREIGN_PATHS.contains(&name))
    };
    let mut killed: Vec<u64> = Vec::new();
    for _ in 0..50 {
        let list = process::proc_list().map_err(|e| format!("proc_list: {e}"))?;
        let left: Vec<u64> = list.iter().filter(|p| ours(p)).map(|p| p.pid).collect();
        if left.is_empty() {
            if !killed.is_empty() {
                println!("fuzz: killed {} leftover descendant(s)", killed.len());
            }
            return Ok(());
        }
        for pid in left {
            if process::kill(pid as usize, SIGKILL).is_ok() && !killed.contains(&pid) {
                killed.push(pid);
            }
        }
        let _ = process::sleep_or_yield(100);
    }
    Err(format!(
        "descendants still alive 5 s after SIGKILL: {killed:?}"
    ))
}

/// Removes everything the children made: their directories and the two names outside
/// them their paths can reach (`{dir}/d/../../x`, and `relative` after a `chdir` to
/// `{dir}/..`). A long run would otherwise leave the later suites a full `/tmp`. `rm -rf`
/// does the walk; the check is that the names are gone and `/tmp` has room again.
fn remove_own_files(children: usize) -> Result<(), String> {
    let mut paths: Vec<String> = (0..children).map(|i| format!("/tmp/fuzz{i}")).collect();
    paths.push(String::from("/tmp/x"));
    paths.push(String::from("/tmp/relative"));
    let before = libway::fs::statfs("/tmp").map(|s| s.bfree).unwrap_or(0);
    let mut argv: Vec<&str> = alloc::vec!["rm", "-rf"];
    argv.extend(paths.iter().map(String::as_str));
    let pid = process::spawn("/bin/rm", &argv, &[]).map_err(|e| format!("spawn rm: {e}"))?;
    let (_, status) = process::waitpid(pid as isize, 0).map_err(|e| format!("wait rm: {e}"))?;
    if !status.exited_with(0) {
        return Err(format!("rm -rf {status}"));
    }
    if let Some(left) = paths.iter().find(|p| libway::fs::stat(p).is_ok()) {
        return Err(format!("{left} is still there"));
    }
    let after = libway::fs::statfs("/tmp").map(|s| s.bfree).unwrap_or(0);
    println!(
        "fuzz: removed the children's files ({} pages freed)",
        after.saturating_sub(before)
    );
    Ok(())
}

/// After the run: a plain child still starts and exits with its status.
fn still_forks() -> Result<(), String> {
    match libway::suite::in_child(|| 7)? {
        s if s.exited_with(7) => Ok(()),
        s => Err(format!("child {s}")),
    }
}

// ---- the child -------------------------------------------------------------------------

/// What an argument means, for biasing its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Any number.
    Int,
    Fd,
    Handle,
    /// A path; the next argument is its length.
    Path,
    /// A buffer; the next argument is its length.
    Buf,
    Len,
    Pid,
    Signal,
    Flags,
    /// Timeout in ns.
    Timeout,
    /// A `StrRef` array; the next argument is its count.
    Argv,
    /// A `Message` the kernel reads or writes.
    Msg,
    /// A user address to map, unmap or protect at.
    Addr,
    /// An `ai::TensorInfo` the kernel reads: mostly plausible (small shapes, the real
    /// dtypes and tiers), sometimes off by one field, sometimes random.
    Tensor,
}

use Kind::*;

/// Argument kinds per syscall number; unknown numbers get `Int`s.
fn kinds(n: usize) -> [Kind; 6] {
    let k = |a: &[Kind]| {
        let mut out = [Int; 6];
        out[..a.len()].copy_from_slice(a);
        out
    };
    match n {
        sys::WRITE | sys::READ => k(&[Fd, Buf, Len]),
        sys::EXECVE | sys::SPAWN => k(&[Path, Len, Argv, Len, Argv, Len]),
        sys::WAIT => k(&[Pid, Buf, Flags]),
        sys::MMAP => k(&[Addr, Len, Flags, Flags, Fd, Int]),
        sys::MUNMAP => k(&[Addr, Len]),
        sys::MPROTECT => k(&[Addr, Len, Flags]),
        sys::NANOSLEEP | sys::CLOCK_GETTIME => k(&[Buf, Buf]),
        sys::GET_CMDLINE | sys::KLOG_READ | sys::GETCWD => k(&[Buf, Len]),
        sys::PORT_CREATE => k(&[Len]),
        sys::PORT_SEND | sys::PORT_RECV | sys::PORT_CALL => k(&[Handle, Msg, Timeout]),
        sys::PORT_REPLY => k(&[Handle, Msg]),
        sys::PORT_REPLY_RECV => k(&[Handle, Handle, Msg, Timeout]),
        sys::HANDLE_CLOSE | sys::PORT_FD => k(&[Handle]),
        sys::HANDLE_DUP => k(&[Handle, Flags]),
        sys::NS_REGISTER => k(&[Path, Len, Handle]),
        sys::NS_LOOKUP => k(&[Path, Len]),
        sys::MEM_GRANT => k(&[Addr, Len, Flags]),
        sys::MEM_MAP => k(&[Handle, Flags, Buf]),
        sys::KILL => k(&[Pid, Signal]),
        sys::DUP2 => k(&[Fd, Fd]),
        sys::CLOSE | sys::DUP | sys::FSTAT => k(&[Fd, Buf]),
        sys::CONSOLE_BIND => k(&[Fd, Handle]),
        sys::OPEN => k(&[Path, Len, Flags, Flags]),
        sys::LSEEK => k(&[Fd, Int, Int]),
        sys::STAT | sys::STATFS | sys::UTIMENS => k(&[Path, Len, Buf]),
        sys::GETDENTS => k(&[Fd, Buf, Len]),
        sys::MKDIR | sys::TRUNCATE => k(&[Path, Len, Int]),
        sys::RMDIR | sys::UNLINK | sys::CHDIR => k(&[Path, Len]),
        sys::RENAME => k(&[Path, Len, Path, Len]),
        sys::FTRUNCATE => k(&[Fd, Int]),
        sys::PIPE => k(&[Buf, Flags]),
        sys::FCNTL => k(&[Fd, Int, Int]),
        sys::SIGACTION => k(&[Signal, Buf, Buf]),
        sys::SIGPROCMASK => k(&[Int, Buf, Buf]),
        sys::SETPGID | sys::GETPGID => k(&[Pid, Pid]),
        sys::UNAME => k(&[Buf]),
        sys::PROC_LIST | sys::SMP_INFO => k(&[Buf, Len]),
        sys::THREAD_CREATE => k(&[Addr, Addr, Int, Buf]),
        sys::FUTEX_WAIT => k(&[Buf, Int, Timeout]),
        sys::FUTEX_WAKE => k(&[Buf, Int]),
        sys::SCHED_SETAFFINITY | sys::SCHED_GETAFFINITY => k(&[Pid, Int]),
        sys::TENSOR_CREATE => k(&[Tensor]),
        sys::TENSOR_WRITE | sys::TENSOR_READ => k(&[Handle, Int, Buf, Len]),
        sys::TENSOR_MAP => k(&[Handle, Flags]),
        sys::TENSOR_INFO => k(&[Handle, Buf]),
        sys::AI_INFO | sys::MEMTIER_INFO => k(&[Int, Buf, Len]),
        sys::INFER_STATS => k(&[Handle, Buf]),
        sys::MEM_ADVISE => k(&[Addr, Len, Int]),
        sys::MEM_POLICY => k(&[Int]),
        sys::MEMTIER_SET => k(&[Int, Int]),
        sys::NET_ATTACH => k(&[Int, Handle, Buf]),
        sys::NET_KICK => k(&[Handle]),
        sys::NET_INFO => k(&[Int, Buf]),
        // The fuzzer's labels are all below `stream::CALL_BASE`: a stream's server (the
        // console) never sees its requests, only the checks before them run.
        sys::FD_CALL => k(&[Fd, Msg, Msg]),
        sys::PORT_BADGE => k(&[Handle, Int]),
        _ => k(&[]),
    }
}

/// Scratch memory layout: `SCRATCH_PAGES` mapped read-write pages, then a read-only page,
/// a `PROT_NONE` page and an unmapped hole.
const SCRATCH_PAGES: usize = 4;
/// Offsets in the scratch pages: random bytes, then structures.
const OFF_RANDOM: usize = 0;
const OFF_SMALL: usize = PAGE;
const OFF_ARGV: usize = 2 * PAGE;
const OFF_MSG: usize = 2 * PAGE + 1024;
const OFF_PATHS: usize = 3 * PAGE;
/// After the message, before the paths.
const OFF_TENSOR: usize = 3 * PAGE - 64;

struct Child {
    rng: u64,
    scratch: usize,
    /// Paths (offset into scratch, length) written at `OFF_PATHS`; the first `own` are in
    /// the child's directory.
    paths: Vec<(usize, usize)>,
    own: usize,
    fds: [usize; 8],
    handles: [usize; 8],
    pids: [usize; 4],
    me: usize,
}

/// The paths a child names: first those in its own directory `dir` (any call may use
/// them), then [`FOREIGN_PATHS`], which only non-mutating calls get (see [`mutates`]), so
/// the devices and installed programs the later suites need survive.
fn path_pool(dir: &str) -> (Vec<String>, usize) {
    let mut v: Vec<String> = [
        "",
        "a",
        "b",
        "d",
        "d/e",
        "a/../b",
        "d/../../x",
        ".",
        "..",
        "d/",
        "fifo",
    ]
    .iter()
    .map(|p| format!("{dir}/{p}"))
    .collect();
    v.push(String::from("relative"));
    v.push(String::from(""));
    v.push("a".repeat(PATH_MAX + 1));
    v.push(format!("{dir}/{}", "n".repeat(300)));
    v.push(format!("{dir}/\u{1}\u{7f}\u{ff}"));
    let own = v.len();
    v.extend(FOREIGN_PATHS.iter().map(|p| String::from(*p)));
    (v, own)
}

/// Paths outside the child's directory, for calls that only read or execute.
const FOREIGN_PATHS: &[&str] = &[
    "/nonexistent/x",
    "/dev/null",
    "/dev/zero",
    "/bin/hello",
    "/bin/fuzz-none",
    "/testdata/elf/0",
    "/testdata/elf/1",
    "/testdata/elf/2",
    "/testdata/elf/3",
    "/testdata/elf/5",
    "/testdata/elf/8",
    "/testdata/elf/13",
    "/testdata/elf/21",
];

/// Whether syscall `n` changes the file system at the path it is given (so it gets only
/// the child's own paths). `open` is such a call unless its flags are read-only.
fn mutates(n: usize, a: &[usize; 6]) -> bool {
    use libway::abi::fcntl::{O_ACCMODE, O_CREAT, O_TRUNC};
    match n {
        sys::MKDIR
        | sys::RMDIR
        | sys::UNLINK
        | sys::RENAME
        | sys::TRUNCATE
        | sys::UTIMENS
        | sys::CHDIR
        | sys::NS_REGISTER => true,
        sys::OPEN => a[2] & (O_ACCMODE | O_CREAT | O_TRUNC) != 0,
        _ => false,
    }
}

impl Child {
    fn next(&mut self) -> u64 {
        splitmix(&mut self.rng)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, of: &[T]) -> T {
        of[self.below(of.len() as u64) as usize]
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    fn path(&mut self) -> (usize, usize) {
        let i = self.below(self.paths.len() as u64) as usize;
        self.paths[i]
    }

    fn own_path(&mut self) -> (usize, usize) {
        let i = self.below(self.own as u64) as usize;
        self.paths[i]
    }

    fn edge_int(&mut self) -> usize {
        match self.below(16) {
            0 => 0,
            1 => usize::MAX,
            2 => usize::MAX >> 1,
            3 => i32::MAX as usize,
            4 => i32::MIN as isize as usize,
            5 => u32::MAX as usize,
            6 => 1 << 32,
            7 => 1 << 63,
            8 => PAGE,
            9 => PAGE - 1,
            10 => self.next() as usize,
            _ => self.below(64) as usize,
        }
    }

    /// A bad or good pointer.
    fn pointer(&mut self, good: usize) -> usize {
        let s = self.scratch;
        match self.below(20) {
            0 => 0,
            1 => KERNEL_DIRECT + self.below(1 << 20) as usize * 8,
            2 => KERNEL_TEXT + self.below(1 << 16) as usize * 8,
            3 => NONCANONICAL,
            4 => USER_END - 2,
            5 => usize::MAX - 7,
            // The unmapped hole, the read-only and the PROT_NONE page.
            6 => s + (SCRATCH_PAGES + 2) * PAGE,
            7 => s + SCRATCH_PAGES * PAGE,
            8 => s + (SCRATCH_PAGES + 1) * PAGE,
            // Straddling the end of the read-write pages / of the read-only page.
            9 => s + SCRATCH_PAGES * PAGE - 1 - self.below(64) as usize,
            10 => s + (SCRATCH_PAGES + 1) * PAGE - 1 - self.below(16) as usize,
            11 => PROGRAM_BASE,
            12 => 1 + self.below(PAGE as u64) as usize,
            13 => s + OFF_RANDOM + self.below(PAGE as u64) as usize,
            _ => good,
        }
    }

    fn length(&mut self, good: usize) -> usize {
        match self.below(8) {
            0..=3 => good,
            4 => self.below(PAGE as u64 * 2) as usize,
            _ => self.edge_int(),
        }
    }

    fn fd(&mut self) -> usize {
        match self.below(6) {
            0 | 1 => self.pick(&{ self.fds }),
            2 => self.below(8) as usize,
            3 => self.below(300) as usize,
            _ => {
                if self.chance(2) {
                    self.fds[0]
                } else {
                    self.edge_int()
                }
            }
        }
    }

    fn handle(&mut self) -> usize {
        match self.below(5) {
            0..=2 => self.pick(&{ self.handles }),
            3 => self.below(16) as usize,
            _ => self.edge_int(),
        }
    }

    /// Refreshes the structures in scratch (the call before may have scribbled on them).
    /// Writes only the read-write scratch pages; if a fuzzed call unmapped or protected
    /// them, this faults and the child dies, which the parent counts and restarts.
    fn refresh(&mut self) {
        let s = self.scratch;
        // SAFETY: every write below lands in [s, s + SCRATCH_PAGES * PAGE), the child's
        // own scratch mapping, used for nothing else; at worst a fuzzed call removed it and
        // the write kills this disposable child.
        unsafe {
            let r = (s + OFF_RANDOM) as *mut u64;
            for _ in 0..8 {
                let at = self.below(PAGE as u64 / 8) as usize;
                core::ptr::write_volatile(r.add(at), self.next());
            }
            // Small values: valid timespecs (0 s, < 1 ms), small counts and masks.
            let small = (s + OFF_SMALL) as *mut u64;
            for i in 0..16 {
                let v = if i % 2 == 0 { 0 } else { self.below(1_000_000) };
                core::ptr::write_volatile(small.add(i), v);
            }
            // argv: StrRefs to pool paths, some broken.
            let argv = (s + OFF_ARGV) as *mut StrRef;
            for i in 0..8 {
                let (off, len) = self.path();
                let mut r = StrRef { ptr: s + off, len };
                if self.chance(8) {
                    r.ptr = self.pointer(r.ptr);
                }
                if self.chance(8) {
                    r.len = self.edge_int();
                }
                core::ptr::write_volatile(argv.add(i), r);
            }
            let mut msg = Message::new(self.below(8));
            msg.len = match self.below(4) {
                0 => self.next() as u32,
                _ => self.below(140) as u32,
            };
            if self.chance(3) {
                msg.handles[0] = self.handle() as u32;
            }
            if self.chance(6) {
                msg.reply = self.handle() as u32;
            }
            core::ptr::write_volatile((s + OFF_MSG) as *mut Message, msg);
            let rank = self.below(5) as u32;
            let mut info = TensorInfo {
                dtype: self.below(4) as u32,
                rank,
                tier: self.below(3) as u32,
                scale_bits: if self.chance(2) { 0.5f32.to_bits() } else { 0 },
                ..TensorInfo::default()
            };
            for d in info.dims.iter_mut().take(rank as usize) {
                *d = match self.below(8) {
                    0 => self.next() as u32,
                    1 => 0,
                    _ => self.below(64) as u32 + 1,
                };
            }
            if self.chance(8) {
                info.dims[self.below(4) as usize] = self.next() as u32;
            }
            core::ptr::write_volatile((s + OFF_TENSOR) as *mut TensorInfo, info);
        }
    }

    /// Arguments for syscall `n`, masked where the module doc says.
    fn args(&mut self, n: usize) -> [usize; 6] {
        let k = kinds(n);
        let s = self.scratch;
        let mut a = [0usize; 6];
        let mut i = 0;
        while i < 6 {
            a[i] = match k[i] {
                Int => self.edge_int(),
                Fd => self.fd(),
                Handle => self.handle(),
                Tensor => {
                    let good = s + OFF_TENSOR;
                    self.pointer(good)
                }
                Path | Buf | Argv | Msg => {
                    let (good, len) = match k[i] {
                        Path => {
                            let (off, len) = self.path();
                            (s + off, len)
                        }
                        Argv => (s + OFF_ARGV, self.below(9) as usize),
                        Msg => (s + OFF_MSG, core::mem::size_of::<Message>()),
                        _ => {
                            let off = self.pick(&[OFF_RANDOM, OFF_SMALL, OFF_SMALL, OFF_MSG]);
                            (s + off, self.below(PAGE as u64) as usize)
                        }
                    };
                    if i + 1 < 6 && k[i + 1] == Len {
                        a[i + 1] = self.length(len);
                        a[i] = self.pointer(good);
                        i += 2;
                        continue;
                    }
                    self.pointer(good)
                }
                Len => {
                    let good = self.below(PAGE as u64) as usize;
                    self.length(good)
                }
                Pid => match self.below(6) {
                    0 => 0,
                    1 => self.me,
                    2 => self.pick(&{ self.pids }),
                    3 => 1,
                    4 => self.edge_int(),
                    _ => 100_000 + self.below(100) as usize,
                },
                Signal => self.below(66) as usize,
                Flags => match self.below(4) {
                    0 => self.edge_int(),
                    1 => self.next() as usize,
                    _ => self.below(64) as usize,
                },
                Timeout => match self.below(16) {
                    0 => WAIT_FOREVER as usize,
                    1 => self.edge_int(),
                    _ => self.below(1_000_000) as usize,
                },
                Addr => match self.below(6) {
                    0 => 0,
                    1 => s + PAGE * self.below(SCRATCH_PAGES as u64 + 3) as usize,
                    2 => self.pointer(s),
                    3 => 0x1000_0000_0000 + PAGE * self.below(1 << 20) as usize,
                    _ => self.edge_int() & !(PAGE - 1),
                },
            };
            i += 1;
        }
        self.mask(n, &mut a);
        a
    }

    /// The masks of the module doc.
    fn mask(&mut self, n: usize, a: &mut [usize; 6]) {
        if mutates(n, a) {
            let s = self.scratch;
            let path_args: &[usize] = if n == sys::RENAME { &[0, 2] } else { &[0] };
            for &i in path_args {
                let p = a[i];
                let foreign = p >= s + OFF_PATHS
                    && p < s + SCRATCH_PAGES * PAGE
                    && !self.paths[..self.own].iter().any(|&(off, _)| s + off == p);
                if foreign {
                    let (off, len) = self.own_path();
                    a[i] = s + off;
                    a[i + 1] = len;
                }
            }
        }
        match n {
            sys::KILL => {
                let pid = a[0] as isize;
                if pid != self.me as isize && !self.pids.contains(&a[0]) {
                    a[0] = if pid < 0 {
                        -(self.me as isize) as usize
                    } else {
                        self.me
                    };
                }
                // Most signals end the child by default; mostly send ones that do not, so
                // a batch lives long enough to be worth its fork.
                if !self.chance(4) {
                    a[1] = self.pick(&[0, SIGCHLD as usize, SIGURG as usize, SIGCONT as usize]);
                }
            }
            sys::SETPGID => {
                a[0] = 0;
                if a[1] != self.me {
                    a[1] = 0;
                }
            }
            sys::CONSOLE_BIND => a[0] = usize::MAX,
            _ => {}
        }
    }

    fn number(&mut self) -> usize {
        let n = match self.below(40) {
            0 => self.pick(&[
                sys::COUNT,
                sys::COUNT + 1,
                52,
                59,
                79,
                200,
                1 << 32,
                usize::MAX,
            ]),
            _ => self.below(sys::COUNT as u64) as usize,
        };
        // Calls that end or replace the child are rarer, so a batch runs long enough.
        if matches!(
            n,
            sys::EXIT | sys::THREAD_EXIT | sys::EXECVE | sys::SIGRETURN
        ) && !self.chance(10)
        {
            return sys::GETPID;
        }
        n
    }

    /// Notes fds, handles and pids calls return, for later calls to use.
    fn remember(&mut self, n: usize, r: usize) {
        let slot = self.below(8) as usize;
        match n {
            sys::OPEN | sys::DUP | sys::DUP2 | sys::FCNTL | sys::PORT_FD | sys::FD_CALL => {
                self.fds[slot] = r
            }
            sys::PORT_CREATE
            | sys::PORT_BADGE
            | sys::HANDLE_DUP
            | sys::NS_LOOKUP
            | sys::MEM_GRANT
            | sys::TENSOR_CREATE => self.handles[slot] = r,
            sys::FORK | sys::SPAWN => self.pids[slot % 4] = r,
            _ => {}
        }
    }
}

/// What a child keeps: the user set without `klog`, which the parent keeps (see
/// [`child_main`]), and without `disk` and `mount`: a random `blk_write` that happened to
/// be well-formed would overwrite sectors of the harness's disks (the persistence image
/// among them when it is not mounted), and a random `umount` would take `/disk` away
/// from the suites that follow. Refusals of those calls are checked by `sectest`.
const CHILD_CAPS: u32 = libway::abi::caps::USER
    & !(libway::abi::caps::KLOG_READ | libway::abi::caps::DISK | libway::abi::caps::MOUNT);

/// One batch of `calls` random calls; never returns.
fn child_main(seed: u64, calls: u64, slot: &mut Slot, index: usize) -> ! {
    let me = process::getpid().unwrap_or(0);
    // One capability fewer than the parent, so a random `kill(-1, SIGKILL)` (every process
    // of the caller's kind) cannot reach the parent and end the run early: a process may
    // signal only those holding no capability it lacks (`docs/security.md`).
    if libway::caps::keep_only(CHILD_CAPS).is_err() {
        process::exit(3);
    }
    // Its own process group (so kill(-me) reaches only it and its children), its own
    // directory, and /dev/null on fds 0-2 so random writes do not reach the console.
    let _ = libway::signal::setpgid(0, 0);
    let dir = format!("/tmp/fuzz{index}");
    let _ = libway::fs::mkdir(&dir, 0o755);
    let _ = libway::fs::chdir(&dir);
    if let Ok(null) = libway::fs::open_raw("/dev/null", libway::abi::fcntl::O_RDWR, 0) {
        for fd in 0..3 {
            let _ = libway::io::dup2(null, fd);
        }
        if null > 2 {
            let _ = libway::io::close(null);
        }
    }
    let scratch = match scratch() {
        Ok(s) => s,
        Err(_) => process::exit(3),
    };
    let mut c = Child {
        rng: seed,
        scratch,
        paths: Vec::new(),
        own: 0,
        fds: [0, 1, 2, 3, 4, 5, 6, 7],
        handles: [0, 1, 2, 3, 4, 5, 6, 7],
        pids: [me; 4],
        me,
    };
    // The path strings live in the last scratch page.
    let mut off = OFF_PATHS;
    let (pool, own) = path_pool(&dir);
    c.own = own;
    for p in pool {
        let take = p.len().min(SCRATCH_PAGES * PAGE - off);
        // SAFETY: [off, off + take) lies in the child's read-write scratch pages.
        unsafe {
            core::ptr::copy_nonoverlapping(p.as_ptr(), (scratch + off) as *mut u8, take);
        }
        c.paths.push((off, take));
        off += take;
    }
    let mut made = 0u64;
    while made < calls {
        c.refresh();
        let n = c.number();
        let a = c.args(n);
        made += 1;
        // SAFETY: the shared counter page; volatile, the parent reads it concurrently.
        unsafe {
            core::ptr::write_volatile(
                &mut slot.last,
                [
                    n as u64,
                    a[0] as u64,
                    a[1] as u64,
                    a[2] as u64,
                    a[3] as u64,
                    a[4] as u64,
                    a[5] as u64,
                ],
            );
            core::ptr::write_volatile(&mut slot.calls, made);
        }
        // SAFETY: this child is disposable: any call may scribble on or unmap its memory;
        // the worst outcome is that it dies, which the parent counts and restarts. Its own
        // state it does not need again after such a call (everything is re-derived from
        // the seed and re-written into scratch before each call).
        let r = unsafe { libway::sys::call(n, a) };
        match (n, r) {
            // A grandchild ends at once: no fork bombs.
            (sys::FORK, Ok(0)) => process::exit(0),
            // Reaped at once, so they neither pile up nor end up reaped by init.
            (sys::FORK | sys::SPAWN, Ok(pid)) => {
                let _ = process::waitpid(pid as isize, 0);
            }
            // The two new fds, if the kernel wrote them into scratch.
            (sys::PIPE, Ok(_)) if a[0] >= scratch && a[0] + 8 <= scratch + SCRATCH_PAGES * PAGE => {
                // SAFETY: in the child's read-write scratch pages (checked just above).
                let fds = unsafe { core::ptr::read_volatile(a[0] as *const [u32; 2]) };
                c.remember(sys::OPEN, fds[0] as usize);
                c.remember(sys::OPEN, fds[1] as usize);
            }
            (_, Ok(v)) => c.remember(n, v),
            _ => {}
        }
    }
    process::exit(0)
}

/// Maps the scratch area: read-write pages, a read-only page, a `PROT_NONE` page, and a
/// hole that stays unmapped (mapped then unmapped, so nothing else is there).
fn scratch() -> Result<usize, libway::Errno> {
    let total = (SCRATCH_PAGES + 3) * PAGE;
    let s = mem::map_anonymous(total, false)?;
    // SAFETY: the pages are this function's fresh mapping; nothing references them yet.
    unsafe {
        mem::mprotect(s + SCRATCH_PAGES * PAGE, PAGE, PROT_READ)?;
        mem::mprotect(s + (SCRATCH_PAGES + 1) * PAGE, PAGE, PROT_NONE)?;
        mem::munmap(s + (SCRATCH_PAGES + 2) * PAGE, PAGE)?;
    }
    Ok(s)
}
