//! IPC and blocking waits: teardown of ports nested in messages in ports does not recurse
//! once per link, every blocking wait ends when its process is killed, a handled signal
//! interrupts port waits with `EINTR`, and a hostile stream server cannot make a client's
//! `read` return something that is not an errno.

use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicU32, Ordering};

use libway::abi::errno::{EINTR, EIO, ENOSPC};
use libway::abi::ipc::Message;
use libway::abi::signal::{SIGKILL, SIGUSR1};
use libway::ipc::{ns, MessageExt, Port, Timeout};
use libway::process::{self, WaitStatus};
use libway::signal::{self, Handler};
use libway::suite::{
    expect_errno, expect_exit, expect_signal, in_child, wait_for, Check, Context, Suite,
};
use libway::{io, sync, thread, time};

/// Ports in a chain: past the depth (about 10,000 on a 64 KiB kernel stack) at which a
/// recursive teardown overflowed the kernel stack.
const CHAIN: usize = 20_000;

/// How long a killed child may take to be reaped.
const REAP_MS: u64 = 5_000;

/// Ports one helper process makes for a chain: under `limits::MAX_PORTS`, which counts a
/// creator's ports for as long as they exist, wherever their handles went.
const PORTS_PER_HELPER: usize = 200;

/// The name a chain builder receives its helpers' ports under.
const BUILDER_NAME: &str = "hardtest.chain";

/// Builds a chain of `n` ports, each one's queue holding a message that carries the
/// previous port (with its receive right), and returns the last. Only two handles are
/// ever in the builder's table: the rest live inside messages, which is what lets a chain
/// outgrow the handle limit. The ports themselves come from short-lived helper processes
/// (forked children that make [`PORTS_PER_HELPER`] each and send them here), since no one
/// process may have made more than `MAX_PORTS` that still exist.
fn chain(n: usize) -> Result<Port, String> {
    let inbox = Port::create(16).map_err(|e| format!("inbox: {e}"))?;
    ns::register(BUILDER_NAME, &inbox).map_err(|e| format!("register: {e}"))?;
    let built = build_chain(&inbox, n);
    let _ = inbox.close();
    built
}

fn build_chain(inbox: &Port, n: usize) -> Result<Port, String> {
    let mut prev: Option<Port> = None;
    let mut made = 0;
    while made < n {
        let batch = PORTS_PER_HELPER.min(n - made);
        let helper = process::fork().map_err(|e| format!("fork helper: {e}"))?;
        if helper == 0 {
            process::exit(make_ports(batch));
        }
        for i in 0..batch {
            let mut msg = Message::new(0);
            inbox
                .recv(
                    &mut msg,
                    Timeout::After(core::time::Duration::from_secs(10)),
                )
                .map_err(|e| format!("port {} from helper: {e}", made + i))?;
            let next = msg
                .take_handle(0)
                .ok_or_else(|| format!("helper message {} carried no port", made + i))?;
            if let Some(p) = prev.take() {
                let mut link = Message::new((made + i) as u64);
                if link.attach(p).is_err() {
                    return Err("no handle slot in a message".into());
                }
                next.send(&link, Timeout::NonBlocking)
                    .map_err(|e| format!("send link {}: {e}", made + i))?;
            }
            prev = Some(next);
        }
        let status = wait_for(helper, REAP_MS)?;
        expect_exit(status, 0).context("helper")?;
        made += batch;
    }
    prev.ok_or_else(|| "empty chain".into())
}

/// A helper's work: makes `count` ports and sends each, receive right and all, to the
/// builder. Its exit status says how far it got (0: all of them).
fn make_ports(count: usize) -> i32 {
    let Ok(builder) = ns::lookup(BUILDER_NAME) else {
        return 10;
    };
    for _ in 0..count {
        let Ok(port) = Port::create(1) else {
            return 11;
        };
        let mut msg = Message::new(0);
        if msg.attach(port).is_err() {
            return 12;
        }
        if builder.send(&msg, Timeout::Forever).is_err() {
            return 13;
        }
    }
    0
}

/// Closing the head of a 20,000-port chain tears it down without exhausting the kernel
/// stack, and everything comes back: a second chain as long can be built and closed.
fn chain_teardown() -> Check {
    let status = in_child(|| {
        for round in 0..2 {
            let head = match chain(CHAIN) {
                Ok(p) => p,
                Err(e) => {
                    libway::println!("  note port_chain_teardown round {round}: {e}");
                    return 1 + round;
                }
            };
            if head.close().is_err() {
                return 3;
            }
        }
        0
    })?;
    expect_exit(status, 0)
}

/// Forks a child that runs `block` (which should never return), lets it block, kills it
/// with SIGKILL and checks it is reaped within [`REAP_MS`].
fn killed_while(block: fn() -> i32) -> Check {
    let pid = process::fork().map_err(|e| format!("fork: {e}"))?;
    if pid == 0 {
        let r = block();
        // Only gets here if the wait ended by itself: report how.
        process::exit(100 + r);
    }
    let _ = time::sleep_ms(200);
    process::kill(pid, SIGKILL).map_err(|e| format!("kill: {e}"))?;
    let status =
        wait_for(pid, REAP_MS).map_err(|e| format!("SIGKILL did not end the wait: {e}"))?;
    expect_signal(status, SIGKILL)
}

fn code(r: Result<impl Sized, libway::errno::Errno>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.code() as i32,
    }
}

fn block_recv() -> i32 {
    let Ok(p) = Port::create(1) else { return 90 };
    let mut m = Message::new(0);
    code(p.recv(&mut m, Timeout::Forever))
}

fn block_send() -> i32 {
    let Ok(p) = Port::create(1) else { return 90 };
    if p.send(&Message::new(1), Timeout::NonBlocking).is_err() {
        return 91;
    }
    code(p.send(&Message::new(2), Timeout::Forever))
}

fn block_call() -> i32 {
    // Nobody receives on this port: the call waits for a reply that never comes.
    let Ok(p) = Port::create(1) else { return 90 };
    let mut m = Message::new(1);
    code(p.call(&mut m, Timeout::Forever))
}

fn block_futex() -> i32 {
    let word = AtomicU32::new(0);
    code(sync::futex_wait(&word, 0, sync::FOREVER))
}

fn block_pipe_read() -> i32 {
    let Ok((r, _w)) = io::pipe(false) else {
        return 90;
    };
    let mut b = [0u8; 1];
    code(io::read(r, &mut b))
}

fn block_pipe_write() -> i32 {
    let Ok((_r, w)) = io::pipe(false) else {
        return 90;
    };
    let chunk = [0u8; 4096];
    loop {
        if let Err(e) = io::write(w, &chunk) {
            return e.code() as i32;
        }
    }
}

fn block_wait() -> i32 {
    match process::fork() {
        Ok(0) => {
            let _ = time::sleep_ms(3_000);
            process::exit(0)
        }
        Ok(_) => code(process::wait()),
        Err(_) => 90,
    }
}

fn block_sleep() -> i32 {
    code(time::sleep_ms(600_000))
}

/// A stream read whose server never answers: the kernel's call on the caller's behalf.
fn block_stream_read() -> i32 {
    let Ok(p) = Port::create(1) else { return 90 };
    let Ok(s) = p.dup(libway::abi::ipc::RIGHT_SEND) else {
        return 91;
    };
    let Ok(fd) = io::port_fd(s) else { return 92 };
    let mut b = [0u8; 8];
    code(io::read(fd, &mut b))
}

/// A stream write to a server whose queue is full: the kernel waits for room.
fn block_stream_full() -> i32 {
    let Ok(p) = Port::create(1) else { return 90 };
    if p.send(&Message::new(1), Timeout::NonBlocking).is_err() {
        return 91;
    }
    let Ok(s) = p.dup(libway::abi::ipc::RIGHT_SEND) else {
        return 92;
    };
    let Ok(fd) = io::port_fd(s) else { return 93 };
    code(io::write(fd, b"x"))
}

/// A thread joining a thread that waits forever.
fn block_join() -> i32 {
    let Ok(t) = thread::spawn(block_futex) else {
        return 90;
    };
    t.join().unwrap_or(91)
}

static HANDLED: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_usr1(_: i32) {
    HANDLED.fetch_add(1, Ordering::Relaxed);
}

/// A child that blocks in `wait` with a SIGUSR1 handler installed must come back from
/// it with `EINTR` (exit 0). The parent keeps signalling until the child ends, so a
/// signal that lands before the child blocks does not make the check hang or flake.
fn interrupted(wait: fn() -> Result<(), libway::errno::Errno>) -> Check {
    // Installed before the fork, so the child has it from its first instruction: a
    // signal that comes early runs the handler instead of killing the child.
    signal::set_handler(SIGUSR1, Handler::Catch(on_usr1)).map_err(|e| format!("sigaction: {e}"))?;
    let pid = process::fork();
    if pid != Ok(0) {
        let _ = signal::set_handler(SIGUSR1, Handler::Default);
    }
    let pid = pid.map_err(|e| format!("fork: {e}"))?;
    if pid == 0 {
        let r = wait();
        let ok = expect_errno(r, EINTR).is_ok() && HANDLED.load(Ordering::Relaxed) > 0;
        process::exit(if ok { 0 } else { 1 });
    }
    let mut waited = 0;
    let status: WaitStatus = loop {
        let _ = process::kill(pid, SIGUSR1);
        let _ = time::sleep_ms(50);
        match process::waitpid(pid as isize, libway::abi::wait::WNOHANG) {
            Ok((0, _)) => {}
            Ok((_, st)) => break st,
            Err(e) => return Err(format!("wait: {e}")),
        }
        waited += 50;
        if waited >= REAP_MS {
            let _ = process::kill(pid, SIGKILL);
            let _ = wait_for(pid, REAP_MS);
            return Err("the signal did not interrupt the wait".into());
        }
    };
    expect_exit(status, 0)
}

fn recv_forever() -> Result<(), libway::errno::Errno> {
    let p = Port::create(1)?;
    let mut m = Message::new(0);
    p.recv(&mut m, Timeout::Forever)
}

fn send_forever() -> Result<(), libway::errno::Errno> {
    let p = Port::create(1)?;
    p.send(&Message::new(1), Timeout::NonBlocking)?;
    p.send(&Message::new(2), Timeout::Forever)
}

/// A stream server that answers every request with `label`; returns what the client's
/// `read` got.
fn stream_reply(label: u64) -> Result<Result<usize, libway::errno::Errno>, String> {
    let p = Port::create(4).map_err(|e| format!("port_create: {e}"))?;
    let s = p
        .dup(libway::abi::ipc::RIGHT_SEND)
        .map_err(|e| format!("dup: {e}"))?;
    let fd = io::port_fd(s).map_err(|e| format!("port_fd: {e}"))?;
    let server = thread::spawn(move || {
        let mut m = Message::new(0);
        if p.recv(&mut m, Timeout::ms(5_000)).is_err() {
            return false;
        }
        let Some(r) = m.take_reply() else {
            return false;
        };
        r.reply(&Message::new(label)).is_ok()
    })
    .map_err(|e| format!("thread: {e}"))?;
    let mut b = [0u8; 8];
    let got = io::read(fd, &mut b);
    let _ = io::close(fd);
    if server.join() != Some(true) {
        return Err("the fake server did not get to reply".into());
    }
    Ok(got)
}

/// A reply label that is no errno becomes `EIO`; one that is passes through.
fn bogus_stream_label() -> Check {
    for label in [0x1_0000u64, 1 << 40, u64::MAX - 3] {
        expect_errno(stream_reply(label)?, EIO).map_err(|e| format!("label {label:#x}: {e}"))?;
    }
    expect_errno(stream_reply(ENOSPC as u64)?, ENOSPC).map_err(|e| format!("label ENOSPC: {e}"))
}

pub fn run(s: &mut Suite) {
    s.check("killed_in_port_recv", killed_while(block_recv));
    s.check("killed_in_port_send", killed_while(block_send));
    s.check("killed_in_port_call", killed_while(block_call));
    s.check("killed_in_futex_wait", killed_while(block_futex));
    s.check("killed_in_pipe_read", killed_while(block_pipe_read));
    s.check("killed_in_pipe_write", killed_while(block_pipe_write));
    s.check("killed_in_wait", killed_while(block_wait));
    s.check("killed_in_nanosleep", killed_while(block_sleep));
    s.check("killed_in_stream_read", killed_while(block_stream_read));
    s.check("killed_in_stream_full", killed_while(block_stream_full));
    s.check("killed_in_thread_join", killed_while(block_join));
    s.check("signal_interrupts_port_recv", interrupted(recv_forever));
    s.check("signal_interrupts_port_send", interrupted(send_forever));
    s.check(
        "bogus_stream_label_is_eio",
        in_child_check(bogus_stream_label),
    );
    s.check("port_chain_teardown", chain_teardown());
}

/// Runs a check in a child (so a hang is killed after the kit's timeout).
fn in_child_check(f: fn() -> Check) -> Check {
    let status = in_child(|| match f() {
        Ok(()) => 0,
        Err(e) => {
            libway::println!("  note {e}");
            1
        }
    })?;
    expect_exit(status, 0)
}
