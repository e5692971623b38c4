//! `ipctest` checks of `port_reply_recv` (`docs/ipc.md`, "Reply and receive"): a server
//! answers a call and takes the next message in one syscall; every refused call leaves
//! the reply right, the message and the port as they were; a timeout or an empty port
//! ends only the receive half; a caller that gave up does not stop the receive.
//!
//! In each check this process is the server and forked children are its callers, so the
//! server side can report exactly what went wrong. Expected replies are computed here
//! from the requests (`super::transform`), never read back from the kernel.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::errno::{self, EACCES, EAGAIN, EBADF, EFAULT, EINVAL, EPIPE, ETIMEDOUT};
use libway::abi::sys;
use libway::ipc::{
    ns, Message, MessageExt, Port, Replied, ReplyError, ReplyHandle, Timeout, INLINE_BYTES,
    RIGHT_SEND,
};
use libway::process;
use libway::suite::{expect_errno, expect_exit, wait_for, Check, Context, CHILD_TIMEOUT_MS};
use libway::time::sleep_ms;
use libway::Errno;

use super::{bad_addresses, lookup_wait, request, timed, transform, unique, PEER_MS};

/// Label of the server's answer in the single-call checks.
const ANSWER: u64 = 0xa115;
/// Label of a message the server queues for itself, or a caller sends after giving up.
const MARK: u64 = 0x3a4c;
/// A handle number no process has.
const BOGUS: u32 = 0x7fff_fff0;

/// A port registered under a fresh name, for callers to look up.
fn server_port(what: &str) -> Result<(Port, String), String> {
    let name = unique(what);
    let port = Port::create(8).context("create")?;
    ns::register(&name, &port).context("register")?;
    Ok((port, name))
}

/// Forks a caller running `f` (its exit status is its result).
fn fork_caller(f: impl FnOnce() -> i32) -> Result<usize, String> {
    match process::fork() {
        Ok(0) => process::exit(f()),
        Ok(pid) => Ok(pid),
        Err(e) => Err(format!("fork: {e}")),
    }
}

/// Waits for caller `pid`; the server's `result` is reported first, then the caller's
/// exit status, explained by `legend`.
fn join_caller(pid: usize, result: Check, legend: &str) -> Check {
    let status = wait_for(pid, CHILD_TIMEOUT_MS);
    result?;
    expect_exit(status?, 0).map_err(|e| format!("caller ({legend}): {e}"))
}

/// A caller that makes one call with `req` and expects `ANSWER` with `b"answer"`.
/// Exit: 0 ok, 2 lookup, 3 call failed, 4 wrong reply.
fn answered_caller(name: &str, req: Message) -> impl FnOnce() -> i32 + '_ {
    move || {
        let Ok(server) = lookup_wait(name) else {
            return 2;
        };
        let mut msg = req;
        if server.call(&mut msg, Timeout::ms(PEER_MS)).is_err() {
            return 3;
        }
        if msg.label != ANSWER || msg.bytes() != b"answer" {
            return 4;
        }
        0
    }
}

const ANSWERED_LEGEND: &str = "2 lookup, 3 call, 4 wrong reply";

/// The answer of the single-call checks.
fn answer() -> Message {
    Message::with_bytes(ANSWER, b"answer").unwrap_or(Message::new(ANSWER))
}

/// `port_reply_recv` with raw arguments (bad pointers, handle numbers no `Port` owns).
fn raw_reply_recv(reply: u32, port: u32, ptr: usize, timeout: u64) -> Result<usize, Errno> {
    let args = [reply as usize, port as usize, ptr, timeout as usize, 0, 0];
    // SAFETY: `ptr` is unmapped, kernel or read-only memory, or a `Message` the caller
    // owns; the kernel reads and writes at most one `Message` there.
    unsafe { libway::sys::call(sys::PORT_REPLY_RECV, args) }
}

/// Receives the first call of a check: its message and reply right.
fn first_call(port: &Port) -> Result<(Message, ReplyHandle), String> {
    let mut msg = Message::new(0);
    port.recv(&mut msg, Timeout::ms(PEER_MS))
        .context("server recv")?;
    let reply = msg
        .take_reply()
        .ok_or_else(|| String::from("a call came without a reply right"))?;
    Ok((msg, reply))
}

/// Three callers make 20 calls each, with payloads of 0 to 128 bytes, to a server that
/// answers each call and waits for the next in one `reply_recv`: callers get their own
/// answers (label + 1000, payload transformed), each in order, and every `reply_recv`
/// reports the reply delivered. A used reply right is gone (`EBADF`).
pub fn reply_recv_serves_many_clients() -> Check {
    const CLIENTS: u64 = 3;
    const CALLS: u64 = 20;
    let (port, name) = server_port("rrmany")?;
    let len_of = |c: u64, seq: u64| ((seq * 13 + c * 29) % (INLINE_BYTES as u64 + 1)) as usize;
    let mut pids = Vec::new();
    for c in 0..CLIENTS {
        let name = name.as_str();
        let pid = fork_caller(move || {
            let Ok(server) = lookup_wait(name) else {
                return 2;
            };
            for seq in 0..CALLS {
                let req = request(c * 100 + seq, len_of(c, seq));
                let mut msg = req;
                if server.call(&mut msg, Timeout::ms(PEER_MS)).is_err() {
                    return 3;
                }
                if msg.label != req.label + 1000 || msg.bytes() != transform(req.bytes()) {
                    return 4;
                }
            }
            0
        });
        match pid {
            Ok(pid) => pids.push(pid),
            Err(e) => {
                pids.iter()
                    .for_each(|&p| drop(wait_for(p, CHILD_TIMEOUT_MS)));
                return Err(e);
            }
        }
    }
    let serve = (|| -> Check {
        let mut next = [0u64; CLIENTS as usize];
        let (mut msg, mut reply) = first_call(&port)?;
        for i in 0..CLIENTS * CALLS {
            let (c, seq) = (msg.label / 100, msg.label % 100);
            if c >= CLIENTS || seq != next[c as usize] {
                return Err(format!("request {i}: label {}", msg.label));
            }
            next[c as usize] += 1;
            if msg.bytes() != request(msg.label, len_of(c, seq)).bytes() {
                return Err(format!(
                    "request {}: payload of {} bytes",
                    msg.label, msg.len
                ));
            }
            let used = reply.raw();
            msg =
                Message::with_bytes(msg.label + 1000, &transform(msg.bytes())).context("answer")?;
            if i + 1 == CLIENTS * CALLS {
                return reply
                    .reply(&msg)
                    .map_err(|e| format!("last reply: {}", e.errno));
            }
            match reply.reply_recv(&port, &mut msg, Timeout::ms(PEER_MS)) {
                Ok(Replied::Delivered) => {}
                Ok(Replied::Discarded) => return Err(format!("reply {i}: caller gone")),
                Err(e) => return Err(format!("reply_recv {i}: {}", e.errno)),
            }
            if i == 0 {
                let again = libway::ipc::reply(ReplyHandle::from_raw(used), &msg);
                match again {
                    Err(ReplyError { errno, handle }) if errno.code() == EBADF => {
                        core::mem::forget(handle);
                    }
                    other => return Err(format!("reply right reused: {:?}", other.map(drop))),
                }
            }
            reply = msg
                .take_reply()
                .ok_or_else(|| format!("request {} without a reply right", msg.label))?;
        }
        Ok(())
    })();
    let mut result = serve;
    for (c, &pid) in pids.iter().enumerate() {
        let r = wait_for(pid, CHILD_TIMEOUT_MS).and_then(|st| {
            expect_exit(st, 0)
                .map_err(|e| format!("client {c} (2 lookup, 3 call, 4 wrong reply): {e}"))
        });
        if result.is_ok() {
            result = r;
        }
    }
    result
}

/// `reply_recv` that must be refused with `want`: the right comes back, `msg` is as it
/// was.
fn refused(
    what: &str,
    reply: ReplyHandle,
    port: &Port,
    msg: &mut Message,
    want: isize,
) -> Result<ReplyHandle, String> {
    let before = *msg;
    match reply.reply_recv(port, msg, Timeout::NonBlocking) {
        Err(ReplyError {
            errno,
            handle: Some(h),
        }) if errno.code() == want && *msg == before => Ok(h),
        Err(e) => Err(format!(
            "{what}: {} (right back: {}, message kept: {}), expected {}",
            e.errno,
            e.handle.is_some(),
            *msg == before,
            errno::name(want)
        )),
        Ok(r) => Err(format!("{what}: {r:?}, expected {}", errno::name(want))),
    }
}

/// Refused calls change nothing: with a caller waiting and a message queued, a bogus
/// reply handle (`EBADF`), a port handle as the reply (`EINVAL`), a port handle without
/// the receive right or a reply handle as the port (`EACCES`), a bogus port (`EBADF`),
/// bad message pointers (`EFAULT`) and an oversized message (`EINVAL`) each leave the
/// reply right, the caller and the queue alone. The real call then delivers the reply
/// and receives the queued message; the caller gets the answer.
pub fn reply_recv_refusals_change_nothing() -> Check {
    let (port, name) = server_port("rrargs")?;
    let pid = fork_caller(answered_caller(&name, request(1, 8)))?;
    let serve = (|| -> Check {
        let (_, mut reply) = first_call(&port)?;
        port.send(&Message::new(MARK), Timeout::NonBlocking)
            .context("queue a message")?;
        let send_only = port.dup(RIGHT_SEND).context("dup")?;
        let mut msg = answer();
        let bogus = refused(
            "bogus reply handle",
            ReplyHandle::from_raw(BOGUS),
            &port,
            &mut msg,
            EBADF,
        )?;
        core::mem::forget(bogus);
        // The port's own number as the reply: the error must not close the port.
        let as_reply = refused(
            "port handle as the reply",
            ReplyHandle::from_raw(port.raw()),
            &port,
            &mut msg,
            EINVAL,
        )?;
        core::mem::forget(as_reply);
        reply = refused("send-only port", reply, &send_only, &mut msg, EACCES)?;
        let raw_cases: [(&str, u32, isize); 2] = [
            ("reply handle as the port", reply.raw(), EACCES),
            ("bogus port", BOGUS, EBADF),
        ];
        for (what, p, want) in raw_cases {
            let m = &mut msg as *mut Message as usize;
            expect_errno(raw_reply_recv(reply.raw(), p, m, 0), want).context(what)?;
        }
        let read_only = super::main as fn(libway::Args) -> i32 as usize;
        for addr in bad_addresses()?.into_iter().chain([read_only]) {
            let r = raw_reply_recv(reply.raw(), port.raw(), addr, 0);
            expect_errno(r, EFAULT).context(&format!("message at {addr:#x}"))?;
        }
        let mut big = answer();
        big.len = INLINE_BYTES as u32 + 1;
        let m = &mut big as *mut Message as usize;
        expect_errno(raw_reply_recv(reply.raw(), port.raw(), m, 0), EINVAL)
            .context("oversized message")?;
        // Nothing moved: the reply goes out and the queued message comes in.
        match reply.reply_recv(&port, &mut msg, Timeout::NonBlocking) {
            Ok(Replied::Delivered) if msg.label == MARK => {}
            Ok(r) => return Err(format!("final reply_recv: {r:?}, label {:#x}", msg.label)),
            Err(e) => return Err(format!("final reply_recv: {}", e.errno)),
        }
        expect_errno(port.recv(&mut msg, Timeout::NonBlocking), EAGAIN)
            .context("recv after the queued message")
    })();
    join_caller(pid, serve, ANSWERED_LEGEND)
}

/// The receive half times out on its own: a 50 ms `reply_recv` on an empty port delivers
/// the reply at once (the caller gets it) and then fails with `ETIMEDOUT` after at least
/// 50 ms, with the right used up and the message buffer untouched.
pub fn reply_recv_receive_times_out() -> Check {
    const MS: u64 = 50;
    let (port, name) = server_port("rrtime")?;
    let pid = fork_caller(answered_caller(&name, request(2, 8)))?;
    let serve = (|| -> Check {
        let (_, reply) = first_call(&port)?;
        let mut msg = answer();
        let (r, dt) = timed(|| reply.reply_recv(&port, &mut msg, Timeout::ms(MS)))?;
        match r {
            Err(ReplyError {
                errno,
                handle: None,
            }) if errno.code() == ETIMEDOUT => {}
            Err(e) => {
                return Err(format!(
                    "reply_recv on an empty port: {} (right back: {})",
                    e.errno,
                    e.handle.is_some()
                ))
            }
            Ok(r) => return Err(format!("reply_recv on an empty port: {r:?}")),
        }
        if dt < MS * 1_000_000 {
            return Err(format!("gave up after {dt} ns, before the {MS} ms timeout"));
        }
        if msg != answer() {
            return Err(String::from("the timed-out receive wrote the message"));
        }
        Ok(())
    })();
    join_caller(pid, serve, ANSWERED_LEGEND)
}

/// A caller that gave up does not stop the receive: the caller's 50 ms call times out
/// and it then sends a follow-up message; the server's late `reply_recv` reports the
/// reply discarded, closes the handle the reply carried (a port whose only receive
/// right it was: sending there is then `EPIPE`), and receives the follow-up.
pub fn reply_recv_caller_gone_still_receives() -> Check {
    const MS: u64 = 50;
    let (port, name) = server_port("rrgone")?;
    let caller_name = name.clone();
    let pid = fork_caller(move || {
        let Ok(server) = lookup_wait(&caller_name) else {
            return 2;
        };
        let mut msg = request(3, 8);
        match server.call(&mut msg, Timeout::ms(MS)) {
            Err(e) if e.code() == ETIMEDOUT => {}
            _ => return 3,
        }
        if server
            .send(&Message::new(MARK), Timeout::ms(PEER_MS))
            .is_err()
        {
            return 4;
        }
        0
    })?;
    let serve = (|| -> Check {
        let (_, reply) = first_call(&port)?;
        sleep_ms(4 * MS).context("sleep")?;
        let attached = Port::create(1).context("create")?;
        let kept = attached.dup(RIGHT_SEND).context("dup")?;
        let attached_raw = attached.raw();
        let mut msg = answer();
        msg.attach(attached)
            .map_err(|_| String::from("no free handle slot"))?;
        match reply.reply_recv(&port, &mut msg, Timeout::ms(PEER_MS)) {
            Ok(Replied::Discarded) if msg.label == MARK => {}
            Ok(r) => return Err(format!("late reply_recv: {r:?}, label {:#x}", msg.label)),
            Err(e) => return Err(format!("late reply_recv: {}", e.errno)),
        }
        expect_errno(kept.send(&Message::new(0), Timeout::NonBlocking), EPIPE)
            .context("send to the port the discarded reply carried")?;
        // The carried handle left this process with the reply.
        let r = libway::sys::call1(libway::sys::MemFree::HANDLE_CLOSE, attached_raw as usize);
        expect_errno(r, EBADF).context("close the carried handle")
    })();
    join_caller(pid, serve, "2 lookup, 3 call did not time out, 4 send")
}
