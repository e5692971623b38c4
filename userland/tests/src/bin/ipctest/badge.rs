//! `ipctest` checks of badges, stream `CLOSE` notices and `fd_call` (`docs/ipc.md`,
//! "Badges", "Stream close" and "fd_call"): one port tells its senders apart by the badge
//! their handle was minted with; the last handle or fd of a badge, or the last fd of an
//! unbadged stream, brings exactly one kernel `CLOSE` even past a full queue; `fd_call`
//! passes a server request on a stream fd and turns a port in the reply into a new fd.
//!
//! Expected badges, labels and payloads are chosen here; the kernel's answers are compared
//! with them, never with one another.

use alloc::format;
use alloc::string::String;

use libway::abi::errno::{EACCES, EADDRINUSE, EINVAL, ENOTSOCK};
use libway::abi::ipc::FROM_KERNEL;
use libway::abi::stream::{CALL_BASE, CLOSE};
use libway::io;
use libway::ipc::{ns, Message, MessageExt, Port, Timeout, RIGHT_GRANT, RIGHT_SEND};
use libway::net::fd_call;
use libway::process;
use libway::suite::{expect_eq, expect_errno, Check, Context};
use libway::thread;

use super::{join, unique, PEER_MS};

/// How long a check waits for a notice that must not come.
const QUIET_MS: u64 = 100;

/// The next message on `port` and its badge.
fn next(port: &Port, ms: u64) -> Result<(Message, u32), String> {
    let mut m = Message::new(0);
    let badge = port.recv_badged(&mut m, Timeout::ms(ms)).context("recv")?;
    Ok((m, badge))
}

/// Expects a kernel `CLOSE` with `badge` next on `port`.
fn expect_close(port: &Port, badge: u32) -> Check {
    let (m, b) = next(port, PEER_MS)?;
    expect_eq(m.label, CLOSE).context("label of the notice")?;
    expect_eq(m.reply, FROM_KERNEL).context("the notice comes from the kernel")?;
    expect_eq(b, badge).context("badge of the notice")
}

/// Expects nothing on `port` for a while.
fn expect_quiet(port: &Port) -> Check {
    let mut m = Message::new(0);
    match port.recv(&mut m, Timeout::ms(QUIET_MS)) {
        Err(_) => Ok(()),
        Ok(()) => Err(format!("unexpected message, label {:#x}", m.label)),
    }
}

/// Messages through two badged handles and an unbadged one arrive with 7, 9 and 0.
pub fn badge_stamps_messages() -> Check {
    let p = Port::create(8).context("create")?;
    let a = p.badge(7).context("badge 7")?;
    let b = p.badge(9).context("badge 9")?;
    let plain = p.dup(RIGHT_SEND).context("dup")?;
    for (h, label) in [(&a, 1u64), (&b, 2), (&plain, 3), (&a, 4)] {
        h.send(&Message::new(label), Timeout::NonBlocking)
            .context("send")?;
    }
    for (label, badge) in [(1u64, 7u32), (2, 9), (3, 0), (4, 7)] {
        let (m, got) = next(&p, PEER_MS)?;
        expect_eq(m.label, label).context("order")?;
        expect_eq(got, badge).map_err(|e| format!("message {label}: {e}"))?;
    }
    // A duplicate of a badged handle is of the same family.
    let a2 = a.dup(RIGHT_SEND).context("dup of a badged handle")?;
    a2.send(&Message::new(5), Timeout::NonBlocking)
        .context("send")?;
    let (_, got) = next(&p, PEER_MS)?;
    expect_eq(got, 7).context("badge through a duplicate")
}

/// Only a receiver mints; badge 0 and numbers past u32 are refused; a badged handle
/// cannot name a service (a name is the port's own door).
pub fn badge_rules() -> Check {
    let p = Port::create(2).context("create")?;
    let send_only = p.dup(RIGHT_SEND).context("dup")?;
    expect_errno(send_only.badge(3), EACCES).context("badge from a send-only handle")?;
    expect_errno(p.badge(0), EINVAL).context("badge 0")?;
    let raw = libway::sys::call2(libway::sys::MemFree::PORT_BADGE, p.raw() as usize, 1 << 33);
    expect_errno(raw, EINVAL).context("badge past u32")?;
    let b = p.badge(5).context("badge 5")?;
    expect_errno(b.badge(6), EACCES).context("badge from a badged handle")?;
    expect_errno(ns::register(&unique("badged"), &b), EINVAL).context("register a badged handle")
}

/// Three handles of one badge: one `CLOSE` when the last goes, even into a full queue,
/// and none before.
pub fn badge_close_once() -> Check {
    let p = Port::create(1).context("create")?;
    let b = p.badge(0xbad9e).context("badge")?;
    let d1 = b.dup(RIGHT_SEND | RIGHT_GRANT).context("dup 1")?;
    let d2 = d1.dup(RIGHT_SEND).context("dup 2")?;
    drop(b);
    drop(d1);
    expect_quiet(&p).context("after two of three closed")?;
    // Fill the queue: the notice must still get in.
    let filler = p.dup(RIGHT_SEND).context("dup")?;
    filler
        .send(&Message::new(0x77), Timeout::NonBlocking)
        .context("fill")?;
    drop(d2);
    let (m, _) = next(&p, PEER_MS)?;
    expect_eq(m.label, 0x77).context("the queued message first")?;
    expect_close(&p, 0xbad9e)?;
    expect_quiet(&p).context("after the notice")
}

/// An unbadged stream fd: `CLOSE` (badge 0) when its last fd closes, not before.
pub fn stream_close_notice() -> Check {
    let p = Port::create(4).context("create")?;
    let fd = io::port_fd(p.dup(RIGHT_SEND).context("dup")?).context("port_fd")?;
    let fd2 = io::dup(fd).context("dup fd")?;
    io::close(fd).context("close")?;
    expect_quiet(&p).context("after the first of two fds closed")?;
    io::close(fd2).context("close")?;
    expect_close(&p, 0)?;
    expect_quiet(&p).context("after the notice")
}

/// A client that dies holding a badged handle it never made an fd: `CLOSE` all the
/// same, so a server never leaks what it made for it.
pub fn badge_close_on_death() -> Check {
    let name = unique("badgedeath");
    let p = Port::create(4).context("create")?;
    ns::register(&name, &p).context("register")?;
    let pid = match process::fork() {
        Ok(0) => {
            let code = (|| {
                let Ok(s) = super::lookup_wait(&name) else {
                    return 2;
                };
                let mut m = Message::new(1);
                if s.call(&mut m, Timeout::ms(PEER_MS)).is_err() {
                    return 3;
                }
                if m.handles[0] == libway::abi::ipc::NO_HANDLE {
                    return 4;
                }
                // Exit with the badged handle still open.
                0
            })();
            process::exit(code)
        }
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    let result = (|| {
        let (mut m, _) = next(&p, PEER_MS)?;
        let reply = m.take_reply().ok_or("a call without a reply right")?;
        let mut answer = Message::new(0);
        let _ = answer.attach(p.badge(4242).context("badge")?);
        reply
            .reply(&answer)
            .map_err(|e| format!("reply: {}", e.errno))?;
        expect_close(&p, 4242)
    })();
    join(pid, result, "client: 2 lookup, 3 call, 4 no handle")
}

/// `fd_call` on a stream fd: the request reaches the server with the fd's badge, the
/// reply comes back, a port handle in it becomes a new fd (whose calls carry its own
/// badge and whose close is noticed), errors pass through; other fds are `ENOTSOCK`,
/// kernel labels `EINVAL`.
pub fn fd_call_on_streams() -> Check {
    let p = Port::create(8).context("create")?;
    let fd = io::port_fd(p.badge(11).context("badge")?).context("port_fd")?;
    let server = thread::spawn(move || -> Check {
        // 1: answer with bytes; 2: answer with a new badged stream; 3: with an errno.
        for step in 1..=4u32 {
            let (mut m, badge) = next(&p, PEER_MS)?;
            let reply = m.take_reply().ok_or("no reply right")?;
            let want_badge = if step == 4 { 12 } else { 11 };
            expect_eq(badge, want_badge).map_err(|e| format!("step {step}: {e}"))?;
            expect_eq(m.label, CALL_BASE + step as u64).map_err(|e| format!("step {step}: {e}"))?;
            let mut answer = Message::new(0);
            match step {
                1 => {
                    let echoed: String = m.bytes().iter().rev().map(|&b| b as char).collect();
                    answer.set_bytes(echoed.as_bytes()).context("set")?;
                }
                2 => {
                    let _ = answer.attach(p.badge(12).context("badge 12")?);
                    answer.set_bytes(b"new").context("set")?;
                }
                3 => answer.label = EADDRINUSE as u64,
                _ => {}
            }
            reply
                .reply(&answer)
                .map_err(|e| format!("reply {step}: {}", e.errno))?;
        }
        expect_close(&p, 12).context("closing the new fd")?;
        expect_close(&p, 11).context("closing the first fd")
    })
    .map_err(|e| format!("thread: {e}"))?;
    let client = (|| -> Check {
        let req = Message::with_bytes(CALL_BASE + 1, b"abc").context("msg")?;
        let (n, reply) = fd_call(fd, &req).context("fd_call 1")?;
        expect_eq(n, 0).context("no fd from a plain reply")?;
        expect_eq(reply.bytes(), &b"cba"[..]).context("reply bytes")?;
        let (nfd, reply) = fd_call(fd, &Message::new(CALL_BASE + 2)).context("fd_call 2")?;
        if nfd <= io::STDERR {
            return Err(format!("fd_call gave fd {nfd}"));
        }
        expect_eq(reply.bytes(), &b"new"[..]).context("reply bytes")?;
        expect_eq(reply.handles[0], libway::abi::ipc::NO_HANDLE).context("slot of the new fd")?;
        expect_errno(fd_call(fd, &Message::new(CALL_BASE + 3)), EADDRINUSE)
            .context("an errno reply")?;
        fd_call(nfd, &Message::new(CALL_BASE + 4)).context("fd_call on the new fd")?;
        io::close(nfd).context("close new fd")?;
        expect_errno(
            fd_call(fd, &Message::new(libway::abi::stream::READ)),
            EINVAL,
        )
        .context("a kernel label")?;
        let (r, w) = io::pipe(false).context("pipe")?;
        expect_errno(fd_call(r, &Message::new(CALL_BASE)), ENOTSOCK).context("a pipe")?;
        let _ = io::close(r);
        let _ = io::close(w);
        io::close(fd).context("close")
    })();
    let served = server.join().unwrap_or(Err("server thread died".into()));
    client?;
    served.context("server")
}
