//! `contest`: the console as programs see it, end to end over the serial line.
//!
//! Checks that stdin/stdout/stderr are streams to the console server (not the device),
//! the fd and kill calls' errors, and the line discipline: it asks `cargo xtask test` to
//! type on the serial console (`<suite>: type <hex>`, see `wayos_abi::harness`) and
//! compares what its reads get — and the echo the harness sees — with values worked out
//! by hand from the POSIX terminal rules: backspace, Ctrl-U, Ctrl-C discarding a line and
//! interrupting the foreground program (busy or blocked in a read), Ctrl-D as end of
//! input, raw mode. Those typed-input checks run only under the harness; typed at the
//! shell by a person, the suite says it skipped them (`libway::suite::Suite::typed_checks`).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;

use libway::abi::console::NAME;
use libway::abi::errno::{EBADF, EINVAL, ENOTTY, EPERM, ESRCH};
use libway::abi::signal::{SIGCHLD, SIGINT};
use libway::io::{self, STDIN, STDOUT};
use libway::ipc::{ns, Port};
use libway::process;
use libway::suite::{expect_errno, expect_signal, wait_for, Check, Context, Suite};
use libway::{console, Args};

libway::entry!(main);

const SELF: &str = "/bin/contest";
const SPIN_CHILD: &str = "spin-child";
const READ_CHILD: &str = "read-child";
const CHILD_WAIT_MS: u64 = 60_000;

fn main(args: Args) -> i32 {
    match args.get(1) {
        Some(SPIN_CHILD) => loop {
            core::hint::spin_loop();
        },
        Some(READ_CHILD) => {
            let mut buf = [0u8; 16];
            // Only a Ctrl-C should end this; returning at all is a failure.
            let _ = io::read(STDIN, &mut buf);
            return 3;
        }
        _ => {}
    }
    let mut s = Suite::new("contest");
    s.check("stdio_is_not_the_device", stdio_is_not_the_device());
    s.check("console_server_registered", server_registered());
    s.check("write_reaches_console", write_reaches_console());
    s.check("fd_bad_arguments", fd_bad_arguments());
    s.check("dup2_shares_the_stream", dup2_shares_the_stream());
    s.check("kill_bad_arguments", kill_bad_arguments());
    // The line discipline, typed at over the serial line by the harness.
    s.typed_checks("typed-input checks", |s| {
        let c = typed(
            s,
            b"echo hellp\x7fo\r",
            b"echo hello\n",
            Some(b"echo hellp\x08 \x08o"),
        );
        s.check("backspace_edits_the_line", c);
        let c = typed(s, b"abc\x15xyz\r", b"xyz\n", None);
        s.check("ctrl_u_erases_the_line", c);
        let c = typed(s, b"junk\x03ok\r", b"ok\n", Some(b"junk^C"));
        s.check("ctrl_c_discards_the_line", c);
        s.check("ctrl_d_is_end_of_input", typed(s, b"\x04", b"", None));
        s.check(
            "ctrl_d_ends_partial_line",
            typed(s, b"part\x04", b"part", None),
        );
        s.check(
            "ctrl_c_interrupts_busy_foreground",
            interrupt(s, SPIN_CHILD),
        );
        s.check("ctrl_c_interrupts_blocked_reader", interrupt(s, READ_CHILD));
        s.check(
            "input_survives_killed_reader",
            typed(s, b"after\r", b"after\n", None),
        );
        s.check("raw_mode_passes_bytes", raw_mode(s));
    });
    s.finish()
}

/// Binding needs the device itself: a program's stdio must refuse with `ENOTTY`.
/// `console_bind` refuses each stdio fd as not the device. Without the `console`
/// capability (the shell's user set) the call is refused before that (`EPERM`,
/// `docs/security.md`), so then the device number `fstat` reports says it instead.
fn stdio_is_not_the_device() -> Check {
    let port = Port::create(1).context("port_create")?;
    let may_bind = libway::caps::has(libway::caps::CONSOLE_BIND);
    for fd in [STDIN, STDOUT, libway::io::STDERR] {
        let what = format!("bind fd {fd}");
        if may_bind {
            expect_errno(console::bind(fd, &port), ENOTTY).context(&what)?;
        } else {
            expect_errno(console::bind(fd, &port), EPERM).context(&what)?;
            let st = libway::fs::fstat(fd).context(&format!("fstat {fd}"))?;
            if st.rdev == libway::abi::fs::DEV_CONSOLE {
                return Err(format!("fd {fd} is the console device"));
            }
        }
    }
    Ok(())
}

fn server_registered() -> Check {
    ns::lookup(NAME)
        .map(|_| ())
        .map_err(|e| format!("lookup '{NAME}': {e}"))
}

fn write_reaches_console() -> Check {
    let line = b"contest: this line went through the console server\n";
    match io::write(STDOUT, line) {
        Ok(n) if n == line.len() => Ok(()),
        other => Err(format!("write returned {other:?}, expected {}", line.len())),
    }
}

fn fd_bad_arguments() -> Check {
    expect_errno(io::close(200), EBADF).context("close(200)")?;
    expect_errno(io::close(usize::MAX), EBADF).context("close(MAX)")?;
    expect_errno(io::dup2(100, 3), EBADF).context("dup2(100, 3)")?;
    expect_errno(io::dup2(STDOUT, 256), EBADF).context("dup2(1, 256)")?;
    expect_errno(io::dup2(STDOUT, usize::MAX), EBADF).context("dup2(1, MAX)")?;
    expect_errno(io::write(9, b"x"), EBADF).context("write(9)")?;
    let mut b = [0u8; 4];
    expect_errno(io::read(9, &mut b), EBADF).context("read(9)")?;
    expect_errno(io::port_fd(Port::from_raw(0xdead)), EBADF).context("port_fd(bad)")?;
    Ok(())
}

fn dup2_shares_the_stream() -> Check {
    let fd = io::dup2(STDOUT, 7).context("dup2(1, 7)")?;
    if fd != 7 {
        return Err(format!("dup2 returned {fd}"));
    }
    let line = b"contest: written through fd 7\n";
    let w = io::write(7, line);
    let c1 = io::close(7);
    let c2 = io::close(7);
    match (w, c1) {
        (Ok(n), Ok(())) if n == line.len() => expect_errno(c2, EBADF).context("second close(7)"),
        other => Err(format!("write/close through fd 7: {other:?}")),
    }
}

fn kill_bad_arguments() -> Check {
    let me = process::getpid().context("getpid")?;
    expect_errno(process::kill(1, SIGINT), EPERM).context("kill(init)")?;
    expect_errno(process::kill(me, 65), EINVAL).context("kill(self, 65)")?;
    expect_errno(process::kill(me, -1), EINVAL).context("kill(self, -1)")?;
    expect_errno(process::kill(1 << 40, SIGINT), ESRCH).context("kill(no such pid)")?;
    // A group nobody is in (-1 itself would mean every process).
    expect_errno(process::kill((1usize << 40).wrapping_neg(), SIGINT), ESRCH)
        .context("kill(-2^40)")?;
    process::kill(me, 0).context("kill(self, 0)")?;
    // Ignored by default: the suite goes on.
    process::kill(me, SIGCHLD).context("kill(self, SIGCHLD)")
}

/// Has the harness type `input`, then checks that one read returns `want` (a cooked read
/// returns one line, or what Ctrl-D handed over).
fn typed(s: &Suite, input: &[u8], want: &[u8], echo: Option<&[u8]>) -> Check {
    s.request_typing(input, echo)?;
    let mut buf = [0u8; 256];
    let n = io::read(STDIN, &mut buf).context("read")?;
    let got = &buf[..n];
    if got == want {
        Ok(())
    } else {
        Err(format!("read {got:?}, expected {want:?}"))
    }
}

/// Runs a child as the foreground group and has the harness press Ctrl-C.
fn interrupt(s: &Suite, mode: &str) -> Check {
    let pid = process::spawn(SELF, &[SELF, mode], &[]).context("spawn")?;
    // The child leads its own group, which becomes the foreground.
    let fg = libway::signal::setpgid(pid, 0).and_then(|()| console::set_foreground(pid));
    if let Err(e) = fg {
        let _ = process::kill(pid, libway::abi::signal::SIGKILL);
        let _ = wait_for(pid, CHILD_WAIT_MS);
        return Err(format!("set_foreground: {e}"));
    }
    if let Err(e) = s.request_typing(b"\x03", Some(b"^C")) {
        let _ = process::kill(pid, libway::abi::signal::SIGKILL);
        let _ = wait_for(pid, CHILD_WAIT_MS);
        let _ = console::set_foreground(0);
        return Err(e);
    }
    let status = wait_for(pid, CHILD_WAIT_MS);
    let _ = console::set_foreground(0);
    expect_signal(status?, SIGINT)
}

fn raw_mode(s: &Suite) -> Check {
    console::set_raw(true).context("set_raw(true)")?;
    if let Err(e) = s.request_typing(b"r\x03\x7f\r", None) {
        let _ = console::set_raw(false);
        return Err(e);
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 8];
    while got.len() < 4 {
        match io::read(STDIN, &mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => {
                let _ = console::set_raw(false);
                return Err(format!("read: {e}"));
            }
        }
    }
    console::set_raw(false).context("set_raw(false)")?;
    if got == b"r\x03\x7f\r" {
        Ok(())
    } else {
        Err(format!("raw read {got:?}, expected [114, 3, 127, 13]"))
    }
}
