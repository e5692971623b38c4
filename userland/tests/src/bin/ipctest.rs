//! `ipctest`: IPC ports as user programs see them.
//!
//! Checks call/reply and its one-shot reply right, timeouts (blocking with a limit and
//! non-blocking), handle passing, many clients against one server, a server's death seen
//! by its clients as `EPIPE`, rights (a handle without a right gets `EACCES` and the port
//! is untouched; `dup` cannot add rights), a full queue (`ENOSPC`, then FIFO draining),
//! the name service (`EEXIST`, `ENOENT`, `ENAMETOOLONG`) and bad pointers (`EFAULT`,
//! nothing changes), and page grants (`grant`: bulk data shared without copying, bounded
//! by the granter's rights), badges (one port telling its senders apart), the kernel's
//! stream `CLOSE` notices and `fd_call` (`badge`). Servers run in forked children and publish their port by
//! name, so no check depends on whether fork copies handles. Expected values are computed here,
//! independently of the kernel (sequence numbers, byte patterns, elapsed-time bounds).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::errno::{
    EACCES, EAGAIN, EBADF, EEXIST, EFAULT, EINVAL, ENAMETOOLONG, ENOENT, ENOSPC, EPIPE, ETIMEDOUT,
};
use libway::abi::{mman, sys};
use libway::ipc::{
    ns, Message, MessageExt, Port, Timeout, INLINE_BYTES, MAX_CAPACITY, NAME_MAX, RIGHT_GRANT,
    RIGHT_RECV, RIGHT_SEND,
};
use libway::process;
use libway::suite::{expect_errno, expect_exit, wait_for, Check, Context, Suite, CHILD_TIMEOUT_MS};
use libway::time::{monotonic_ns, sleep_ms};
use libway::{Args, Errno};

libway::entry!(main);

/// Badges, stream `CLOSE` notices and `fd_call`.
#[path = "ipctest/badge.rs"]
mod badge;
/// Page grants: bulk data without copying.
#[path = "ipctest/grant.rs"]
mod grant;
/// `port_reply_recv`: answer a call and take the next message in one trap.
#[path = "ipctest/reply_recv.rs"]
mod reply_recv;

/// How long a server or client waits for its peer before giving up (a peer that never
/// shows up is a failure, not a hang).
const PEER_MS: u64 = 20_000;
/// Label a client sends to tell a server loop to end.
const QUIT: u64 = u64::MAX;

fn main(_args: Args) -> i32 {
    let mut s = Suite::new("ipctest");
    let (call_reply, one_shot) = call_reply();
    s.check("call_reply", call_reply);
    s.check("reply_right_is_one_shot", one_shot);
    s.check("recv_times_out", recv_times_out());
    s.check(
        "nonblocking_recv_does_not_wait",
        nonblocking_recv_does_not_wait(),
    );
    s.check(
        "send_to_full_queue_times_out",
        send_to_full_queue_times_out(),
    );
    s.check("handle_passing", handle_passing());
    s.check("many_clients_one_server", many_clients_one_server());
    s.check("call_times_out", call_times_out());
    s.check("server_death_during_call", server_death_during_call());
    s.check("send_after_receiver_closed", send_after_receiver_closed());
    s.check("close_wakes_blocked_caller", close_wakes_blocked_caller());
    s.check("send_only_cannot_recv", send_only_cannot_recv());
    s.check("recv_only_cannot_send", recv_only_cannot_send());
    s.check("dup_cannot_add_rights", dup_cannot_add_rights());
    s.check("handle_without_grant_stays", handle_without_grant_stays());
    s.check("queue_full_then_fifo", queue_full_then_fifo());
    s.check("capacity_limits", capacity_limits());
    s.check("oversized_message_rejected", oversized_message_rejected());
    s.check("bad_handle_is_ebadf", bad_handle_is_ebadf());
    s.check("ns_register_lookup", ns_register_lookup());
    s.check("ns_duplicate_is_eexist", ns_duplicate_is_eexist());
    s.check("ns_register_needs_grant", ns_register_needs_grant());
    s.check("ns_missing_is_enoent", ns_missing_is_enoent());
    s.check("ns_long_name_rejected", ns_long_name_rejected());
    s.check("bad_pointer_send", bad_pointer_send());
    s.check(
        "bad_pointer_recv_keeps_message",
        bad_pointer_recv_keeps_message(),
    );
    s.check("bad_pointer_call", bad_pointer_call());
    s.check("bad_pointer_ns", bad_pointer_ns());
    s.check(
        "reply_recv_serves_many_clients",
        reply_recv::reply_recv_serves_many_clients(),
    );
    s.check(
        "reply_recv_refusals_change_nothing",
        reply_recv::reply_recv_refusals_change_nothing(),
    );
    s.check(
        "reply_recv_receive_times_out",
        reply_recv::reply_recv_receive_times_out(),
    );
    s.check(
        "reply_recv_caller_gone_still_receives",
        reply_recv::reply_recv_caller_gone_still_receives(),
    );
    s.check("grant_bulk_no_copy", grant::grant_bulk_no_copy());
    s.check(
        "grant_read_only_stays_read_only",
        grant::grant_read_only_stays_read_only(),
    );
    s.check(
        "grant_needs_shared_memory",
        grant::grant_needs_shared_memory(),
    );
    s.check("grant_spans_mappings", grant::grant_spans_mappings());
    s.check(
        "grant_survives_sender_munmap",
        grant::grant_survives_sender_munmap(),
    );
    s.check(
        "grant_handle_passing_needs_grant",
        grant::grant_handle_passing_needs_grant(),
    );
    s.check("badge_stamps_messages", badge::badge_stamps_messages());
    s.check("badge_rules", badge::badge_rules());
    s.check("badge_close_once", badge::badge_close_once());
    s.check("stream_close_notice", badge::stream_close_notice());
    s.check("badge_close_on_death", badge::badge_close_on_death());
    s.check("fd_call_on_streams", badge::fd_call_on_streams());
    s.finish()
}

// ---- helpers ----------------------------------------------------------------------

/// A name unique to this process and purpose.
fn unique(what: &str) -> String {
    format!("ipctest.{what}.{}", process::getpid().unwrap_or(0))
}

/// Byte `i` of the payload pattern for sequence number `seq`.
fn pattern(seq: u64, i: usize) -> u8 {
    (seq.wrapping_mul(31).wrapping_add(i as u64 * 7) ^ 0xa5) as u8
}

/// A request: label `seq`, `len` pattern bytes.
fn request(seq: u64, len: usize) -> Message {
    let bytes: Vec<u8> = (0..len).map(|i| pattern(seq, i)).collect();
    Message::with_bytes(seq, &bytes).unwrap_or(Message::new(seq))
}

/// Waits for a server to register `name`.
fn lookup_wait(name: &str) -> Result<Port, String> {
    let mut waited = 0;
    loop {
        match ns::lookup(name) {
            Ok(p) => return Ok(p),
            Err(e) if e.code() == ENOENT && waited < PEER_MS => {}
            Err(e) => return Err(format!("lookup {name}: {e}")),
        }
        let _ = sleep_ms(2);
        waited += 2;
    }
}

/// Forks a server: the child creates a port, registers it as `name` and runs `serve`,
/// exiting with its result (1 if the port could not be set up). Returns the child's pid.
/// Waits for the forked helper `pid`, then reports this side's `result` first and the
/// helper's exit status second; `legend` explains the helper's exit codes.
fn join(pid: usize, result: Check, legend: &str) -> Check {
    let status = wait_for(pid, CHILD_TIMEOUT_MS)?;
    result?;
    expect_exit(status, 0).context(legend)
}

fn fork_server(name: &str, serve: impl FnOnce(Port) -> i32) -> Result<usize, String> {
    match process::fork() {
        Ok(0) => {
            let code = match Port::create(8) {
                Ok(port) => match ns::register(name, &port) {
                    Ok(()) => serve(port),
                    Err(_) => 1,
                },
                Err(_) => 1,
            };
            process::exit(code)
        }
        Ok(pid) => Ok(pid),
        Err(e) => Err(format!("fork: {e}")),
    }
}

/// The bytes a server answers `req` with: the request reversed, each byte xor 0x5a.
fn transform(req: &[u8]) -> Vec<u8> {
    req.iter().rev().map(|b| b ^ 0x5a).collect()
}

/// Elapsed nanoseconds of `f`, with its result.
fn timed<T>(f: impl FnOnce() -> T) -> Result<(T, u64), String> {
    let t0 = monotonic_ns().context("clock")?;
    let r = f();
    let t1 = monotonic_ns().context("clock")?;
    Ok((r, t1.saturating_sub(t0)))
}

// ---- call / reply -----------------------------------------------------------------

/// A server child answers 16 calls of varying length with `transform` and label + 1000;
/// the client checks every reply. On QUIT the server replies, then tries the same reply
/// right again, which must be `EBADF`.
fn call_reply() -> (Check, Check) {
    const CALLS: u64 = 16;
    let name = unique("call");
    let pid = match fork_server(&name, |port| {
        let mut msg = Message::new(0);
        loop {
            if port.recv(&mut msg, Timeout::ms(PEER_MS)).is_err() {
                return 2;
            }
            let label = msg.label;
            let Some(reply) = msg.take_reply() else {
                return 3;
            };
            let raw = reply.raw();
            let answer = Message::with_bytes(label.wrapping_add(1000), &transform(msg.bytes()))
                .unwrap_or(Message::new(0));
            if reply.reply(&answer).is_err() {
                return 4;
            }
            if label == QUIT {
                // The right was consumed: a second reply through the same number fails.
                let again = libway::ipc::reply(libway::ipc::ReplyHandle::from_raw(raw), &answer);
                return match again {
                    Err(e) if e.errno.code() == EBADF => 0,
                    _ => 5,
                };
            }
        }
    }) {
        Ok(pid) => pid,
        Err(e) => return (Err(e.clone()), Err(e)),
    };
    let client = (|| -> Check {
        let port = lookup_wait(&name)?;
        for seq in 0..CALLS {
            let len = (seq as usize * 9) % (INLINE_BYTES + 1);
            let req = request(seq, len);
            let mut msg = req;
            port.call(&mut msg, Timeout::ms(PEER_MS)).context("call")?;
            if msg.label != seq + 1000 {
                return Err(format!("call {seq}: reply label {}", msg.label));
            }
            if msg.bytes() != transform(req.bytes()).as_slice() {
                return Err(format!(
                    "call {seq}: wrong reply payload ({} bytes)",
                    msg.len
                ));
            }
        }
        let mut quit = Message::new(QUIT);
        port.call(&mut quit, Timeout::ms(PEER_MS))
            .context("quit call")?;
        Ok(())
    })();
    let server = wait_for(pid, CHILD_TIMEOUT_MS).and_then(|st| {
        expect_exit(st, 0).context("server (2 recv, 3 no reply right, 4 reply, 5 reused)")
    });
    (client, server)
}

// ---- timeouts ---------------------------------------------------------------------

fn recv_times_out() -> Check {
    const MS: u64 = 50;
    let port = Port::create(4).context("create")?;
    let mut msg = Message::new(0);
    let (r, dt) = timed(|| port.recv(&mut msg, Timeout::ms(MS)))?;
    expect_errno(r, ETIMEDOUT).context("recv on an empty port")?;
    if dt < MS * 1_000_000 {
        return Err(format!("gave up after {dt} ns, before the {MS} ms timeout"));
    }
    if dt > 5_000_000_000 {
        return Err(format!("a {MS} ms timeout took {dt} ns"));
    }
    Ok(())
}

fn nonblocking_recv_does_not_wait() -> Check {
    let port = Port::create(4).context("create")?;
    let mut msg = Message::new(0);
    let (r, dt) = timed(|| port.recv(&mut msg, Timeout::NonBlocking))?;
    expect_errno(r, EAGAIN).context("non-blocking recv on an empty port")?;
    if dt > 25_000_000 {
        return Err(format!("non-blocking recv took {dt} ns"));
    }
    Ok(())
}

fn send_to_full_queue_times_out() -> Check {
    const MS: u64 = 30;
    let port = Port::create(1).context("create")?;
    port.send(&Message::new(1), Timeout::NonBlocking)
        .context("first send")?;
    let (r, dt) = timed(|| port.send(&Message::new(2), Timeout::ms(MS)))?;
    expect_errno(r, ETIMEDOUT).context("send to a full queue")?;
    if dt < MS * 1_000_000 {
        return Err(format!("gave up after {dt} ns, before the {MS} ms timeout"));
    }
    let mut msg = Message::new(0);
    port.recv(&mut msg, Timeout::NonBlocking).context("recv")?;
    if msg.label != 1 {
        return Err(format!("queued label {}, expected 1", msg.label));
    }
    expect_errno(port.recv(&mut msg, Timeout::NonBlocking), EAGAIN).context("recv after draining")
}

// ---- handle passing ---------------------------------------------------------------

/// The parent sends a send+grant handle to its own port to a server child; the child
/// sends three pattern messages through it, and checks the handle carries no receive
/// right (EACCES). The parent receives the three in order.
fn handle_passing() -> Check {
    const N: u64 = 3;
    let name = unique("pass");
    let pid = fork_server(&name, |port| {
        let mut msg = Message::new(0);
        if port.recv(&mut msg, Timeout::ms(PEER_MS)).is_err() {
            return 2;
        }
        let Some(back) = msg.take_handle(0) else {
            return 3;
        };
        let mut scratch = Message::new(0);
        match back.recv(&mut scratch, Timeout::NonBlocking) {
            Err(e) if e.code() == EACCES => {}
            _ => return 4,
        }
        for seq in 0..N {
            if back
                .send(&request(100 + seq, 40), Timeout::ms(PEER_MS))
                .is_err()
            {
                return 5;
            }
        }
        0
    })?;
    let result = (|| -> Check {
        let server = lookup_wait(&name)?;
        let mine = Port::create(8).context("create")?;
        let mut msg = Message::new(7);
        let given = mine.dup(RIGHT_SEND | RIGHT_GRANT).context("dup")?;
        msg.attach(given)
            .map_err(|_| String::from("no free handle slot"))?;
        server
            .send(&msg, Timeout::ms(PEER_MS))
            .context("send with handle")?;
        // The handle moved with the message: its number is no longer ours.
        let moved = Port::from_raw(msg.handles[0]);
        expect_errno(moved.send(&Message::new(8), Timeout::NonBlocking), EBADF)
            .context("send through a handle that was sent away")?;
        core::mem::forget(moved);
        for seq in 0..N {
            let mut got = Message::new(0);
            mine.recv(&mut got, Timeout::ms(PEER_MS)).context("recv")?;
            let want = request(100 + seq, 40);
            if got.label != want.label || got.bytes() != want.bytes() {
                return Err(format!(
                    "message {seq}: label {} / payload differs",
                    got.label
                ));
            }
        }
        Ok(())
    })();
    join(
        pid,
        result,
        "child (2 recv, 3 no handle, 4 recv right, 5 send)",
    )
}

// ---- many clients -----------------------------------------------------------------

/// The parent serves; four children make 25 calls each with words [child, seq, k] and
/// expect [child, seq, k * 3 + 1] and label + 1 back. The server checks each client's
/// sequence numbers arrive in order.
fn many_clients_one_server() -> Check {
    const CLIENTS: u64 = 4;
    const CALLS: u64 = 25;
    let name = unique("many");
    let port = Port::create(8).context("create")?;
    ns::register(&name, &port).context("register")?;
    let mut pids = Vec::new();
    for c in 0..CLIENTS {
        match process::fork() {
            Ok(0) => {
                let code = (|| {
                    let Ok(server) = lookup_wait(&name) else {
                        return 2;
                    };
                    for seq in 0..CALLS {
                        let k = c * 1000 + seq * 7;
                        let label = (c << 32) | seq;
                        let Ok(mut msg) = Message::with_words(label, &[c, seq, k]) else {
                            return 3;
                        };
                        if server.call(&mut msg, Timeout::ms(PEER_MS)).is_err() {
                            return 4;
                        }
                        let ok = msg.label == label + 1
                            && msg.word(0) == Some(c)
                            && msg.word(1) == Some(seq)
                            && msg.word(2) == Some(k * 3 + 1);
                        if !ok {
                            return 5;
                        }
                    }
                    0
                })();
                process::exit(code)
            }
            Ok(pid) => pids.push(pid),
            Err(e) => return Err(format!("fork: {e}")),
        }
    }
    let serve = (|| -> Check {
        let mut next = [0u64; CLIENTS as usize];
        for _ in 0..CLIENTS * CALLS {
            let mut msg = Message::new(0);
            port.recv(&mut msg, Timeout::ms(PEER_MS))
                .context("server recv")?;
            let (Some(c), Some(seq), Some(k)) = (msg.word(0), msg.word(1), msg.word(2)) else {
                return Err(format!("request with {} bytes", msg.len));
            };
            if c >= CLIENTS || msg.label != (c << 32) | seq {
                return Err(format!("request label {:#x} words {c} {seq}", msg.label));
            }
            if seq != next[c as usize] {
                return Err(format!(
                    "client {c}: seq {seq}, expected {}",
                    next[c as usize]
                ));
            }
            next[c as usize] += 1;
            let reply = msg
                .take_reply()
                .ok_or_else(|| String::from("call without reply right"))?;
            let answer =
                Message::with_words(msg.label + 1, &[c, seq, k * 3 + 1]).context("reply msg")?;
            reply
                .reply(&answer)
                .map_err(|e| format!("reply: {}", e.errno))?;
        }
        Ok(())
    })();
    let mut result = serve;
    for (c, &pid) in pids.iter().enumerate() {
        let r = wait_for(pid, CHILD_TIMEOUT_MS).and_then(|st| {
            expect_exit(st, 0)
                .map_err(|e| format!("client {c} (2 lookup, 3 msg, 4 call, 5 wrong reply): {e}"))
        });
        if result.is_ok() {
            result = r;
        }
    }
    result
}

// ---- server death and closed ports ------------------------------------------------

/// A server takes a call and answers only after 200 ms; a call with a 50 ms timeout
/// ends with ETIMEDOUT after at least 50 ms, and the late reply gets EPIPE (server exit 0).
fn call_times_out() -> Check {
    const MS: u64 = 50;
    let name = unique("slow");
    let pid = fork_server(&name, |port| {
        let mut msg = Message::new(0);
        if port.recv(&mut msg, Timeout::ms(PEER_MS)).is_err() {
            return 2;
        }
        let Some(reply) = msg.take_reply() else {
            return 3;
        };
        let _ = sleep_ms(4 * MS);
        match reply.reply(&Message::new(1)) {
            Err(e) if e.errno.code() == EPIPE => 0,
            _ => 4,
        }
    })?;
    let result = (|| -> Check {
        let server = lookup_wait(&name)?;
        let mut msg = request(1, 8);
        let (r, dt) = timed(|| server.call(&mut msg, Timeout::ms(MS)))?;
        expect_errno(r, ETIMEDOUT).context("call to a slow server")?;
        if dt < MS * 1_000_000 {
            return Err(format!("gave up after {dt} ns, before the {MS} ms timeout"));
        }
        Ok(())
    })();
    join(
        pid,
        result,
        "server (2 recv, 3 no reply right, 4 late reply not EPIPE)",
    )
}

/// A server takes one call and exits without replying: the blocked call ends with
/// EPIPE, and a later call and send to the dead server are EPIPE too.
fn server_death_during_call() -> Check {
    let name = unique("death");
    let pid = fork_server(&name, |port| {
        let mut msg = Message::new(0);
        match port.recv(&mut msg, Timeout::ms(PEER_MS)) {
            // Exit holding the reply right: the kernel must release the caller.
            Ok(()) => {
                let reply = msg.take_reply();
                core::mem::forget(reply);
                process::exit(0)
            }
            Err(_) => 2,
        }
    })?;
    let result = (|| -> Check {
        let server = lookup_wait(&name)?;
        let mut msg = request(1, 8);
        expect_errno(server.call(&mut msg, Timeout::ms(PEER_MS)), EPIPE)
            .context("call to a server that exits")?;
        expect_exit(wait_for(pid, CHILD_TIMEOUT_MS)?, 0)?;
        let mut msg = request(2, 8);
        expect_errno(server.call(&mut msg, Timeout::ms(PEER_MS)), EPIPE)
            .context("call to a dead server")?;
        expect_errno(server.send(&request(3, 8), Timeout::NonBlocking), EPIPE)
            .context("send to a dead server")
    })();
    if result.is_err() {
        let _ = wait_for(pid, CHILD_TIMEOUT_MS);
    }
    result
}

fn send_after_receiver_closed() -> Check {
    let port = Port::create(4).context("create")?;
    let sender = port.dup(RIGHT_SEND).context("dup")?;
    port.close().context("close")?;
    expect_errno(sender.send(&Message::new(1), Timeout::NonBlocking), EPIPE)
        .context("send after the only receiver closed")
}

/// A child calls the parent's port and blocks; the parent closes the port without
/// receiving: the child's call ends with EPIPE (exit 0) instead of hanging.
fn close_wakes_blocked_caller() -> Check {
    let name = unique("close");
    let port = Port::create(4).context("create")?;
    ns::register(&name, &port).context("register")?;
    let pid = match process::fork() {
        Ok(0) => {
            // If fork copied the handle, this copy must not keep the port alive.
            drop(port);
            let code = match lookup_wait(&name) {
                Ok(server) => {
                    let mut msg = Message::new(9);
                    match server.call(&mut msg, Timeout::ms(PEER_MS)) {
                        Err(e) if e.code() == EPIPE => 0,
                        Err(e) if e.code() == ETIMEDOUT => 3,
                        _ => 4,
                    }
                }
                Err(_) => 2,
            };
            process::exit(code)
        }
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    // Let the child block in its call, then close the only receiver.
    let _ = sleep_ms(100);
    port.close().context("close")?;
    expect_exit(wait_for(pid, CHILD_TIMEOUT_MS)?, 0)
        .context("caller (2 lookup, 3 ETIMEDOUT, 4 other)")
}

// ---- rights -----------------------------------------------------------------------

fn send_only_cannot_recv() -> Check {
    let port = Port::create(4).context("create")?;
    let sender = port.dup(RIGHT_SEND).context("dup")?;
    let want = request(42, 16);
    sender
        .send(&want, Timeout::NonBlocking)
        .context("send through the send-only handle")?;
    let mut msg = Message::new(0);
    expect_errno(sender.recv(&mut msg, Timeout::NonBlocking), EACCES)
        .context("recv through a send-only handle")?;
    port.recv(&mut msg, Timeout::NonBlocking)
        .context("owner recv")?;
    if msg.label != want.label || msg.bytes() != want.bytes() {
        return Err(format!("owner got label {}, expected 42", msg.label));
    }
    Ok(())
}

fn recv_only_cannot_send() -> Check {
    let port = Port::create(4).context("create")?;
    let receiver = port.dup(RIGHT_RECV).context("dup")?;
    expect_errno(
        receiver.send(&Message::new(1), Timeout::NonBlocking),
        EACCES,
    )
    .context("send through a recv-only handle")?;
    let mut msg = Message::new(0);
    expect_errno(port.recv(&mut msg, Timeout::NonBlocking), EAGAIN)
        .context("queue after the refused send")?;
    port.send(&request(5, 3), Timeout::NonBlocking)
        .context("owner send")?;
    receiver
        .recv(&mut msg, Timeout::NonBlocking)
        .context("recv-only recv")?;
    if msg.label != 5 {
        return Err(format!(
            "recv-only handle got label {}, expected 5",
            msg.label
        ));
    }
    Ok(())
}

fn dup_cannot_add_rights() -> Check {
    let port = Port::create(4).context("create")?;
    let granting = port
        .dup(RIGHT_SEND | RIGHT_GRANT)
        .context("dup send+grant")?;
    expect_errno(granting.dup(RIGHT_SEND | RIGHT_RECV), EACCES).context("dup adding recv")?;
    let narrower = granting.dup(RIGHT_SEND).context("dup to send only")?;
    expect_errno(narrower.dup(RIGHT_SEND), EACCES).context("dup without the grant right")?;
    narrower
        .send(&Message::new(3), Timeout::NonBlocking)
        .context("narrowed handle still sends")?;
    let mut msg = Message::new(0);
    port.recv(&mut msg, Timeout::NonBlocking)
        .context("owner recv")?;
    if msg.label != 3 {
        return Err(format!("owner got label {}, expected 3", msg.label));
    }
    Ok(())
}

/// A handle lacking the grant right cannot travel in a message: EACCES, nothing queued,
/// and the sender still holds a working handle.
fn handle_without_grant_stays() -> Check {
    let port = Port::create(4).context("create")?;
    let other = Port::create(4).context("create")?;
    let no_grant = other.dup(RIGHT_SEND).context("dup")?;
    let mut msg = Message::new(11);
    msg.attach(no_grant)
        .map_err(|_| String::from("no free handle slot"))?;
    expect_errno(port.send(&msg, Timeout::NonBlocking), EACCES)
        .context("sending a handle without the grant right")?;
    let kept = msg.take_handle(0).ok_or("handle slot emptied")?;
    let mut got = Message::new(0);
    expect_errno(port.recv(&mut got, Timeout::NonBlocking), EAGAIN)
        .context("queue after the refused send")?;
    kept.send(&Message::new(12), Timeout::NonBlocking)
        .context("the kept handle sends")?;
    other.recv(&mut got, Timeout::NonBlocking).context("recv")?;
    if got.label != 12 {
        return Err(format!("got label {}, expected 12", got.label));
    }
    Ok(())
}

// ---- queue ------------------------------------------------------------------------

fn queue_full_then_fifo() -> Check {
    const CAP: u64 = 8;
    let port = Port::create(CAP as usize).context("create")?;
    for seq in 0..CAP {
        port.send(&request(seq, seq as usize * 5), Timeout::NonBlocking)
            .context(&format!("send {seq}"))?;
    }
    expect_errno(port.send(&request(CAP, 1), Timeout::NonBlocking), ENOSPC)
        .context("send to a full queue")?;
    for seq in 0..CAP {
        let mut msg = Message::new(0);
        port.recv(&mut msg, Timeout::NonBlocking)
            .context(&format!("recv {seq}"))?;
        let want = request(seq, seq as usize * 5);
        if msg.label != seq || msg.bytes() != want.bytes() {
            return Err(format!(
                "message {seq}: got label {} ({} bytes)",
                msg.label, msg.len
            ));
        }
    }
    let mut msg = Message::new(0);
    expect_errno(port.recv(&mut msg, Timeout::NonBlocking), EAGAIN).context("recv after draining")
}

fn capacity_limits() -> Check {
    expect_errno(Port::create(0), EINVAL).context("create(0)")?;
    expect_errno(Port::create(MAX_CAPACITY + 1), EINVAL).context("create(MAX_CAPACITY + 1)")?;
    Port::create(MAX_CAPACITY)
        .context("create(MAX_CAPACITY)")
        .map(drop)
}

fn oversized_message_rejected() -> Check {
    let port = Port::create(4).context("create")?;
    let mut msg = Message::new(1);
    msg.len = INLINE_BYTES as u32 + 1;
    expect_errno(port.send(&msg, Timeout::NonBlocking), EINVAL)
        .context("send with len > INLINE_BYTES")?;
    let mut got = Message::new(0);
    expect_errno(port.recv(&mut got, Timeout::NonBlocking), EAGAIN)
        .context("queue after the refused send")
}

fn bad_handle_is_ebadf() -> Check {
    let port = Port::create(4).context("create")?;
    let raw = port.raw();
    port.close().context("close")?;
    let stale = Port::from_raw(raw);
    expect_errno(stale.send(&Message::new(1), Timeout::NonBlocking), EBADF)
        .context("send on a closed handle")?;
    expect_errno(stale.close(), EBADF).context("close a closed handle")?;
    let port = Port::create(4).context("create")?;
    let mut msg = Message::new(1);
    msg.handles[0] = 0x7fff_fff0;
    expect_errno(port.send(&msg, Timeout::NonBlocking), EBADF)
        .context("send carrying a bogus handle")?;
    let mut got = Message::new(0);
    expect_errno(port.recv(&mut got, Timeout::NonBlocking), EAGAIN)
        .context("queue after the refused send")
}

// ---- name service -----------------------------------------------------------------

fn ns_register_lookup() -> Check {
    let name = unique("ns");
    let port = Port::create(4).context("create")?;
    ns::register(&name, &port).context("register")?;
    let found = ns::lookup(&name).context("lookup")?;
    found
        .send(&request(77, 20), Timeout::NonBlocking)
        .context("send through the looked-up handle")?;
    let mut msg = Message::new(0);
    port.recv(&mut msg, Timeout::NonBlocking).context("recv")?;
    if msg.label != 77 || msg.bytes() != request(77, 20).bytes() {
        return Err(format!(
            "got label {} ({} bytes), expected 77 with its pattern",
            msg.label, msg.len
        ));
    }
    expect_errno(found.recv(&mut msg, Timeout::NonBlocking), EACCES)
        .context("recv through a looked-up handle")
}

fn ns_duplicate_is_eexist() -> Check {
    let name = unique("dup");
    let first = Port::create(4).context("create")?;
    let second = Port::create(4).context("create")?;
    ns::register(&name, &first).context("register")?;
    expect_errno(ns::register(&name, &second), EEXIST).context("register a taken name")?;
    // The name still leads to the first port.
    let found = ns::lookup(&name).context("lookup")?;
    found
        .send(&Message::new(5), Timeout::NonBlocking)
        .context("send")?;
    let mut msg = Message::new(0);
    first
        .recv(&mut msg, Timeout::NonBlocking)
        .context("first port recv")?;
    expect_errno(second.recv(&mut msg, Timeout::NonBlocking), EAGAIN).context("second port recv")
}

/// Registering needs send and grant: a send-only handle gets EACCES and no name.
fn ns_register_needs_grant() -> Check {
    let name = unique("nogrant");
    let port = Port::create(4).context("create")?;
    let send_only = port.dup(RIGHT_SEND).context("dup")?;
    expect_errno(ns::register(&name, &send_only), EACCES)
        .context("register a handle without the grant right")?;
    expect_errno(ns::lookup(&name), ENOENT).context("lookup after the refused register")
}

fn ns_missing_is_enoent() -> Check {
    expect_errno(ns::lookup(&unique("missing")), ENOENT).context("lookup of a missing name")
}

fn ns_long_name_rejected() -> Check {
    let port = Port::create(4).context("create")?;
    let long: String = core::iter::repeat_n('n', NAME_MAX + 1).collect();
    expect_errno(ns::register(&long, &port), ENAMETOOLONG).context("register a long name")?;
    expect_errno(ns::lookup(&long), ENAMETOOLONG).context("lookup a long name")?;
    let longest: String = unique("x")
        .chars()
        .chain(core::iter::repeat('m'))
        .take(NAME_MAX)
        .collect();
    ns::register(&longest, &port).context("register a NAME_MAX name")?;
    ns::lookup(&longest)
        .context("lookup a NAME_MAX name")
        .map(drop)
}

// ---- bad pointers -----------------------------------------------------------------

/// Addresses no user message may come from or go to: null, unmapped user memory, the
/// kernel half, and (for writes) a read-only page.
fn bad_addresses() -> Result<[usize; 3], String> {
    let flags = mman::MAP_PRIVATE | mman::MAP_ANONYMOUS;
    let page = libway::mem::mmap(
        0,
        mman::PAGE_SIZE,
        mman::PROT_READ | mman::PROT_WRITE,
        flags,
    )
    .context("mmap")?;
    // SAFETY: the page was just mapped here and nothing refers to it.
    unsafe { libway::mem::munmap(page, mman::PAGE_SIZE) }.context("munmap")?;
    Ok([0, page, 0xffff_8000_0000_0000])
}

/// A raw IPC syscall with a message pointer.
fn raw_msg_call(n: usize, handle: u32, ptr: usize, timeout: u64) -> Result<usize, Errno> {
    // SAFETY: every address passed is unmapped, kernel or read-only memory (or a buffer
    // of ours); the kernel must refuse it with EFAULT without touching any Rust object.
    unsafe { libway::sys::call(n, [handle as usize, ptr, timeout as usize, 0, 0, 0]) }
}

/// Syscall `n` (send or call) with each bad message address gives EFAULT and queues
/// nothing.
fn bad_message_pointer_refused(n: usize, verb: &str) -> Check {
    let port = Port::create(4).context("create")?;
    for addr in bad_addresses()? {
        expect_errno(raw_msg_call(n, port.raw(), addr, 0), EFAULT)
            .context(&format!("{verb} with {addr:#x}"))?;
    }
    let mut msg = Message::new(0);
    expect_errno(port.recv(&mut msg, Timeout::NonBlocking), EAGAIN)
        .context(&format!("queue after the refused {verb}s"))
}

fn bad_pointer_send() -> Check {
    bad_message_pointer_refused(sys::PORT_SEND, "send")
}

fn bad_pointer_recv_keeps_message() -> Check {
    let port = Port::create(4).context("create")?;
    let want = request(9, 33);
    port.send(&want, Timeout::NonBlocking).context("send")?;
    let read_only = main as *const () as usize;
    let mut addrs = Vec::from(bad_addresses()?);
    addrs.push(read_only);
    for addr in addrs {
        expect_errno(raw_msg_call(sys::PORT_RECV, port.raw(), addr, 0), EFAULT)
            .context(&format!("recv into {addr:#x}"))?;
    }
    let mut msg = Message::new(0);
    port.recv(&mut msg, Timeout::NonBlocking)
        .context("recv after the refused ones")?;
    if msg.label != want.label || msg.bytes() != want.bytes() {
        return Err(format!("the queued message changed (label {})", msg.label));
    }
    Ok(())
}

fn bad_pointer_call() -> Check {
    bad_message_pointer_refused(sys::PORT_CALL, "call")
}

fn bad_pointer_ns() -> Check {
    let port = Port::create(4).context("create")?;
    for addr in bad_addresses()? {
        // SAFETY: the kernel must refuse the unreadable name with EFAULT.
        let r =
            unsafe { libway::sys::call(sys::NS_REGISTER, [addr, 8, port.raw() as usize, 0, 0, 0]) };
        expect_errno(r, EFAULT).context(&format!("register name at {addr:#x}"))?;
        // SAFETY: as above.
        let r = unsafe { libway::sys::call(sys::NS_LOOKUP, [addr, 8, 0, 0, 0, 0]) };
        expect_errno(r, EFAULT).context(&format!("lookup name at {addr:#x}"))?;
    }
    // The port is still free to register.
    ns::register(&unique("afterbad"), &port).context("register afterwards")
}
