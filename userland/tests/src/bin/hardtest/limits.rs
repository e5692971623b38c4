//! Every kernel object a program can make is bounded: making them in a loop ends in the
//! errno of `wayos_abi::limits` at exactly the limit (a fresh child starts at zero), never
//! in a kernel panic, a hang or unbounded kernel heap; and once the child that made them
//! is gone, the system works as before (a program runs, a file reads, IPC and pipes work).
//!
//! Each attack runs in forked children, waited for with a timeout. A child reports what
//! it saw in its exit status (see each check's legend).

use alloc::format;
use alloc::vec::Vec;

use libway::abi::errno::{EMFILE, ENOENT, ENOMEM, ENOSPC};
use libway::abi::ipc::MAX_CAPACITY;
use libway::abi::limits::{
    MAX_HANDLES, MAX_NAMES, MAX_PIPES, MAX_PORTS, MAX_QUEUED_MESSAGES, MAX_VMAS,
};
use libway::abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE};
use libway::errno::Errno;
use libway::io;
use libway::ipc::{ns, Message, MessageExt, Port, Timeout};
use libway::process;
use libway::suite::{
    expect_errno, expect_exit, expect_output, explain_exit, run_captured, wait_for, Check, Context,
    Suite, CHILD_TIMEOUT_MS,
};

/// Child exit codes shared by the checks.
const NEVER_REFUSED: i32 = 2;
const WRONG_ERRNO: i32 = 3;
const WRONG_COUNT: i32 = 4;
const SETUP_FAILED: i32 = 5;
const LEGEND: &[(i32, &str)] = &[
    (NEVER_REFUSED, "never refused"),
    (WRONG_ERRNO, "refused with the wrong errno"),
    (WRONG_COUNT, "refused, but not at the limit"),
    (SETUP_FAILED, "a step before the attack failed"),
];

/// Makes objects with `make` until it fails or `cap` were made; keeps them in `kept`.
/// Returns the exit code for: refused with `errno` after exactly `expect` (0), or why not.
fn until_refused<T>(
    kept: &mut Vec<T>,
    cap: usize,
    expect: usize,
    errno: isize,
    mut make: impl FnMut(usize) -> Result<T, Errno>,
) -> i32 {
    for i in 0..cap {
        match make(i) {
            Ok(t) => kept.push(t),
            Err(e) if e.code() != errno => {
                libway::eprintln!("limits: refused after {i} with {e}");
                return WRONG_ERRNO;
            }
            Err(_) if i != expect => {
                libway::eprintln!("limits: refused after {i}, expected {expect}");
                return WRONG_COUNT;
            }
            Err(_) => return 0,
        }
    }
    NEVER_REFUSED
}

/// Runs `f` in a forked child and waits (with a timeout) for its exit status 0.
fn child(f: impl FnOnce() -> i32) -> Check {
    let status = libway::suite::in_child(f)?;
    expect_exit(status, 0).map_err(explain_exit(status, LEGEND))
}

/// The system still works: a program runs, a file reads, a port carries a message and a
/// pipe carries bytes.
fn healthy() -> Check {
    let out = run_captured("/bin/echo", &["echo", "alive"], &[], "hardtest")?;
    expect_output(&out, "alive\n", "", 0).context("spawning echo")?;
    let release = libway::fs::read("/etc/wayos-release").context("reading a file")?;
    if release.is_empty() {
        return Err("/etc/wayos-release is empty".into());
    }
    let port = Port::create(1).context("port_create")?;
    let m = Message::with_words(7, &[42]).context("message")?;
    port.send(&m, Timeout::NonBlocking).context("port_send")?;
    let mut got = Message::new(0);
    port.recv(&mut got, Timeout::NonBlocking)
        .context("port_recv")?;
    if got.word(0) != Some(42) {
        return Err("a message came back changed".into());
    }
    let (r, w) = io::pipe(true).context("pipe")?;
    let sent = io::write(w, b"ping");
    let mut buf = [0u8; 8];
    let got = io::read(r, &mut buf);
    let _ = io::close(r);
    let _ = io::close(w);
    if sent != Ok(4) || got != Ok(4) || &buf[..4] != b"ping" {
        return Err(format!("pipe round trip: wrote {sent:?}, read {got:?}"));
    }
    Ok(())
}

/// Registers service names until refused: `ENOSPC` after `MAX_NAMES`; once the child is
/// gone its names are too, and the system works.
fn service_names() -> Check {
    let pid = match process::fork().context("fork")? {
        0 => process::exit(names_child()),
        pid => pid,
    };
    let status = wait_for(pid, CHILD_TIMEOUT_MS)?;
    expect_exit(status, 0).map_err(explain_exit(status, LEGEND))?;
    expect_errno(ns::lookup(&name(pid, 0)), ENOENT).context("a dead child's name")?;
    healthy()
}

fn name(pid: usize, i: usize) -> alloc::string::String {
    format!("hardtest-limits-{pid}-{i}")
}

fn names_child() -> i32 {
    let Ok(port) = Port::create(1) else {
        return SETUP_FAILED;
    };
    let me = process::getpid().unwrap_or(0);
    let mut kept = Vec::new();
    until_refused(&mut kept, MAX_NAMES * 4, MAX_NAMES, ENOSPC, |i| {
        ns::register(&name(me, i), &port)
    })
}

/// One-page mappings with alternating protection (so none merge) until refused:
/// `ENOMEM` once the address space holds `MAX_VMAS` mappings; then unmapping one makes
/// room for one more.
fn alternating_maps() -> Check {
    child(|| {
        let mut maps = Vec::new();
        let mut refused = None;
        for i in 0..MAX_VMAS + 256 {
            let prot = if i % 2 == 0 {
                PROT_READ
            } else {
                PROT_READ | PROT_WRITE
            };
            match libway::mem::mmap(0, PAGE_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS) {
                Ok(a) => maps.push(a),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        match refused {
            None => return NEVER_REFUSED,
            Some(e) if e.code() != ENOMEM => return WRONG_ERRNO,
            // The program, its stack and heap hold a few mappings of their own.
            Some(_) if maps.len() + 64 < MAX_VMAS || maps.len() > MAX_VMAS => {
                libway::eprintln!("limits: {} maps before ENOMEM", maps.len());
                return WRONG_COUNT;
            }
            Some(_) => {}
        }
        // The newest mapping sits at an end of the run: unmapping it needs no split, and
        // makes room for a new one.
        let last = maps[maps.len() - 1];
        // SAFETY: this child's own mapping, which nothing references.
        if unsafe { libway::mem::munmap(last, PAGE_SIZE) }.is_err() {
            return SETUP_FAILED;
        }
        match libway::mem::mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS) {
            Ok(_) => 0,
            Err(_) => SETUP_FAILED,
        }
    })?;
    healthy()
}

/// Builds a chain of up to `n` ports, each queued inside the next one's message, holding
/// one handle (the newest port) at a time. Returns how many were made, the error that
/// stopped it (`None`: `n` were made), and the head.
fn build_chain(n: usize) -> Result<(usize, Option<Errno>, Port), Errno> {
    let mut head = Port::create(1)?;
    let mut made = 1;
    while made < n {
        let next = match Port::create(1) {
            Ok(p) => p,
            Err(e) => return Ok((made, Some(e), head)),
        };
        let mut m = Message::new(1);
        let _ = m.attach(head);
        next.send(&m, Timeout::NonBlocking)?;
        head = next;
        made += 1;
    }
    Ok((made, None, head))
}

/// Takes a chain apart from user space, one link at a time, so the kernel never closes a
/// port whose queue holds the rest of the chain (closing a long chain at once is another
/// attack, on teardown, with checks of its own).
fn unwind_chain(mut head: Port) {
    loop {
        let mut m = Message::new(0);
        if head.recv(&mut m, Timeout::NonBlocking).is_err() {
            return;
        }
        match m.take_handle(0) {
            Some(prev) => head = prev,
            None => return,
        }
    }
}

/// A chain of ports, each queued inside the next one's message, holds one handle at a
/// time, so the handle limit never stops it: the per-process port bound must (`EMFILE`
/// after `MAX_PORTS`, well before `MAX_HANDLES`). Taking the chain apart frees them: the
/// same child can make `MAX_PORTS` again.
fn port_chain() -> Check {
    child(|| {
        for round in 0..2 {
            let (made, err, head) = match build_chain(MAX_HANDLES + 64) {
                Ok(r) => r,
                Err(e) => {
                    libway::eprintln!("limits: chain round {round}: {e}");
                    return SETUP_FAILED;
                }
            };
            unwind_chain(head);
            match err {
                None => return NEVER_REFUSED,
                Some(e) if e.code() != EMFILE => return WRONG_ERRNO,
                Some(_) if made != MAX_PORTS => {
                    libway::eprintln!("limits: chain round {round}: {made} ports");
                    return WRONG_COUNT;
                }
                Some(_) => {}
            }
        }
        0
    })?;
    healthy()
}

/// Queue slots are bounded too: ports of the largest capacity until `ENOMEM` after
/// `MAX_QUEUED_MESSAGES / MAX_CAPACITY` of them.
fn queue_slots() -> Check {
    child(|| {
        let mut kept = Vec::new();
        let expect = MAX_QUEUED_MESSAGES / MAX_CAPACITY;
        until_refused(&mut kept, expect * 4, expect, ENOMEM, |_| {
            Port::create(MAX_CAPACITY)
        })
    })?;
    healthy()
}

/// Pipes made and filled by several processes at once: each child fills a pipe (64 KiB),
/// closes its write end and keeps the read end, so a pipe costs it one descriptor and
/// the descriptor table does not stop it first; each must get `EMFILE` after exactly
/// `MAX_PIPES` full pipes, and the system works afterwards.
fn many_pipes() -> Check {
    const CHILDREN: usize = 4;
    let mut pids = Vec::new();
    for _ in 0..CHILDREN {
        match process::fork().context("fork")? {
            0 => process::exit(pipes_child()),
            pid => pids.push(pid),
        }
    }
    let mut first_err = None;
    for pid in pids {
        let r = wait_for(pid, CHILD_TIMEOUT_MS)
            .and_then(|st| expect_exit(st, 0).map_err(explain_exit(st, LEGEND)));
        if let Err(e) = r {
            first_err.get_or_insert(e);
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    healthy()
}

fn pipes_child() -> i32 {
    let fill = [0x5au8; 64 * 1024];
    let mut kept = Vec::new();
    let mut filled = true;
    let code = until_refused(&mut kept, MAX_PIPES * 2, MAX_PIPES, EMFILE, |_| {
        let (r, w) = io::pipe(true)?;
        filled &= io::write_all(w, &fill).is_ok();
        let _ = io::close(w);
        Ok(r)
    });
    if !filled {
        return SETUP_FAILED;
    }
    // Hold them a moment, so the children's pipes are all full at once.
    let _ = process::sleep_or_yield(200);
    code
}

pub fn run(s: &mut Suite) {
    s.check("service_names_bounded", service_names());
    s.check("alternating_maps_bounded", alternating_maps());
    s.check("port_chain_in_messages_bounded", port_chain());
    s.check("port_queue_slots_bounded", queue_slots());
    s.check("pipes_across_processes_bounded", many_pipes());
}
