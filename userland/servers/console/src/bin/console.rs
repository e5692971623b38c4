//! `console`: the console server. It owns the serial console and serves reads and writes
//! over IPC with a line discipline.
//!
//! init starts it with the console device on fds 0 and 1, then gives every other program
//! a stream fd to it (`port_fd`) as stdin, stdout and stderr. It binds the device's input
//! to its port (typed bytes arrive as `console::INPUT` messages from the kernel), registers
//! as `console`, and answers the `stream` protocol (`READ`, `WRITE`) plus the console
//! controls (`SET_FOREGROUND`, `SET_MODE`). The line discipline (`wayos_kcore::ldisc`)
//! decides echo and what readers get; Ctrl-C sends SIGINT to the foreground process
//! group.
//!
//! A read that cannot be answered yet waits in a queue with its reply right; a reader that
//! went away meanwhile (killed) makes its reply fail, and its bytes go back to the next
//! reader. Bad requests get `EINVAL`; nothing a client sends stops the server.
//!
//! Privileges (`docs/security.md`): init starts it with `console-bind` and `nssys` (to
//! take the device and the system name `console`) and `kill` (Ctrl-C signals programs
//! holding capabilities the server does not). Once bound and registered it keeps only
//! `kill` and filters out the calls it never makes again, so a compromised server cannot
//! rebind the device, register names or start programs.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use libway::abi::console::{INPUT, MODE_COOKED, MODE_RAW, NAME, SET_FOREGROUND, SET_MODE};
use libway::abi::errno::EINVAL;
use libway::abi::ipc::{Message, FROM_KERNEL};
use libway::abi::signal::SIGINT;
use libway::abi::stream::{CHUNK, CLOSE, READ, WRITE};
use libway::caps;
use libway::io::{self, STDIN, STDOUT};
use libway::ipc::{ns, MessageExt, Port, ReplyHandle, Timeout};
use libway::{eprintln, Args};
use wayos_kcore::ldisc::{Event, LineDiscipline, Mode};

libway::entry!(main);

/// Requests that may wait in the port's queue.
const QUEUE: usize = 64;

struct Server {
    ld: LineDiscipline,
    /// Reads waiting for input: the reply right and the most bytes wanted.
    reads: VecDeque<(ReplyHandle, usize)>,
    /// The process group Ctrl-C interrupts (0: none).
    foreground: usize,
    echo: Vec<u8>,
}

/// Gives up what only the start needed (see the module doc). A failure is reported, not
/// fatal: the console matters more than the narrowing.
fn drop_privileges() {
    caps::narrow_server("console", caps::KILL);
}

fn main(_args: Args) -> i32 {
    let port = match Port::create(QUEUE) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("console: cannot create a port: {e}");
            return 1;
        }
    };
    if let Err(e) = libway::console::bind(STDIN, &port) {
        eprintln!("console: cannot bind the console device: {e}");
        return 1;
    }
    if let Err(e) = ns::register(NAME, &port) {
        eprintln!("console: cannot register '{NAME}': {e}");
        return 1;
    }
    drop_privileges();
    let mut server = Server {
        ld: LineDiscipline::new(),
        reads: VecDeque::new(),
        foreground: 0,
        echo: Vec::new(),
    };
    loop {
        let mut msg = Message::new(0);
        if let Err(e) = port.recv(&mut msg, Timeout::Forever) {
            eprintln!("console: receive failed: {e}");
            continue;
        }
        server.handle(msg);
    }
}

impl Server {
    fn handle(&mut self, mut msg: Message) {
        if msg.label == INPUT && msg.reply == FROM_KERNEL {
            self.input(msg.bytes());
            return;
        }
        if msg.label == CLOSE && msg.reply == FROM_KERNEL {
            // A stream to the console closed: nothing is kept per stream.
            return;
        }
        let Some(reply) = msg.take_reply() else {
            // Only calls are served; a plain send (or forged input) is dropped.
            return;
        };
        match msg.label {
            READ => match read_size(&msg) {
                Some(0) => answer(reply, 0, &[]),
                Some(max) => {
                    self.reads.push_back((reply, max));
                    self.serve_reads();
                }
                None => answer(reply, EINVAL as u64, &[]),
            },
            WRITE => {
                let data = msg.bytes();
                let status = match io::write_all(STDOUT, data) {
                    Ok(()) => 0,
                    Err(e) => e.code() as u64,
                };
                answer(reply, status, &(data.len() as u32).to_le_bytes());
            }
            SET_FOREGROUND => match msg.bytes().try_into() {
                Ok(pid) => {
                    self.foreground = u64::from_le_bytes(pid) as usize;
                    answer(reply, 0, &[]);
                }
                Err(_) => answer(reply, EINVAL as u64, &[]),
            },
            SET_MODE => match msg.bytes() {
                [MODE_COOKED] => self.set_mode(reply, Mode::Cooked),
                [MODE_RAW] => self.set_mode(reply, Mode::Raw),
                _ => answer(reply, EINVAL as u64, &[]),
            },
            _ => answer(reply, EINVAL as u64, &[]),
        }
    }

    fn set_mode(&mut self, reply: ReplyHandle, mode: Mode) {
        self.ld.set_mode(mode);
        answer(reply, 0, &[]);
        self.serve_reads();
    }

    /// Typed bytes: echo, interrupts, then answer whatever reads can be answered.
    fn input(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.ld.feed(b, &mut self.echo) == Event::Interrupt {
                self.interrupt();
            }
        }
        if !self.echo.is_empty() {
            let _ = io::write_all(STDOUT, &self.echo);
            self.echo.clear();
        }
        self.serve_reads();
    }

    fn interrupt(&mut self) {
        if self.foreground == 0 {
            return;
        }
        if libway::signal::kill_group(self.foreground, SIGINT).is_err() {
            // The group is gone (or was never valid): nothing to interrupt any more.
            self.foreground = 0;
        }
    }

    fn serve_reads(&mut self) {
        while self.ld.readable() {
            let Some((reply, max)) = self.reads.pop_front() else {
                return;
            };
            let data = self.ld.read(max).expect("readable");
            let mut msg = Message::new(0);
            // `max` is at most CHUNK, which one message carries.
            if msg.set_bytes(&data).is_err() || reply.reply(&msg).is_err() {
                // The reader is gone (killed while waiting): the next one gets the bytes.
                self.ld.unread(data);
            }
        }
    }
}

/// The size a `READ` asks for, bounded by what one reply carries.
fn read_size(msg: &Message) -> Option<usize> {
    let bytes: [u8; 4] = msg.bytes().try_into().ok()?;
    Some((u32::from_le_bytes(bytes) as usize).min(CHUNK))
}

/// Replies with `status` (0 or an errno) and `payload`; a caller that is gone is fine.
fn answer(reply: ReplyHandle, status: u64, payload: &[u8]) {
    let mut msg = Message::new(status);
    if msg.set_bytes(payload).is_err() {
        msg.label = EINVAL as u64;
    }
    let _ = reply.reply(&msg);
}
