//! `pipetest`: pipes and descriptor flags as programs see them.
//!
//! Bytes come out in order; a reader blocks until a writer writes and sees end of file
//! once every write end is closed (including copies held by children); a writer blocks
//! when the pipe is full and wakes when a reader drains it; small writes from several
//! writers never interleave; close-on-exec keeps descriptors from `spawn`ed programs;
//! `fcntl` duplicates at or above a number; bad arguments get their errno. Expected
//! values are computed here (patterns, counts, checksums).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::errno::{EBADF, EFAULT, EINVAL, EMFILE};
use libway::io;
use libway::process;
use libway::suite::{expect_errno, expect_exit, wait_for, Check, Context, Suite};
use libway::time::sleep_ms;
use libway::{Args, Errno};

libway::entry!(main);

const SELF: &str = "/bin/pipetest";
/// Child mode: exits 0 if fd `arg2` is closed, 1 if open (asked with `F_GETFD`, which
/// never blocks).
const FD_PROBE: &str = "fd-probe";
const CHILD_WAIT_MS: u64 = 60_000;
/// Bytes a pipe holds (the kernel's capacity, from docs/syscalls.md).
const CAPACITY: usize = 64 * 1024;

fn main(args: Args) -> i32 {
    if args.get(1) == Some(FD_PROBE) {
        let fd: usize = args
            .get(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(usize::MAX);
        return match io::cloexec(fd) {
            Err(e) if e.code() == EBADF => 0,
            _ => 1,
        };
    }
    let mut s = Suite::new("pipetest");
    s.check("bytes_in_order", bytes_in_order());
    s.check("eof_after_all_writers_close", eof_after_all_writers_close());
    s.check("reader_blocks_until_write", reader_blocks_until_write());
    s.check("full_pipe_blocks_writer", full_pipe_blocks_writer());
    s.check(
        "small_writes_do_not_interleave",
        small_writes_do_not_interleave(),
    );
    s.check("big_transfer_checksum", big_transfer_checksum());
    s.check(
        "cloexec_not_inherited_by_spawn",
        cloexec_not_inherited_by_spawn(),
    );
    s.check("plain_fd_inherited_by_spawn", plain_fd_inherited_by_spawn());
    s.check("fcntl_dup_and_flags", fcntl_dup_and_flags());
    s.check("wrong_end_is_ebadf", wrong_end_is_ebadf());
    s.check("bad_arguments", bad_arguments());
    s.check("fd_table_limit", fd_table_limit());
    s.finish()
}

fn close_all(fds: &[usize]) {
    for &fd in fds {
        let _ = io::close(fd);
    }
}

fn read_exact(fd: usize, n: usize) -> Result<Vec<u8>, Errno> {
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match io::read(fd, &mut out[got..])? {
            0 => break,
            k => got += k,
        }
    }
    out.truncate(got);
    Ok(out)
}

fn bytes_in_order() -> Check {
    let (r, w) = io::pipe(true).context("pipe")?;
    let wrote = io::write_all(w, b"hello, ").and_then(|()| io::write_all(w, b"pipe"));
    let got = read_exact(r, 11);
    close_all(&[r, w]);
    wrote.context("write")?;
    match got {
        Ok(v) if v == b"hello, pipe" => Ok(()),
        other => Err(format!("read {other:?}")),
    }
}

fn eof_after_all_writers_close() -> Check {
    let (r, w) = io::pipe(true).context("pipe")?;
    // A forked child holds a copy of the write end for a while.
    let child = process::fork().context("fork")?;
    if child == 0 {
        let _ = io::close(r);
        let _ = sleep_ms(30);
        let _ = io::write_all(w, b"bye");
        process::exit(0);
    }
    let _ = io::close(w);
    let got = read_exact(r, 16);
    let _ = io::close(r);
    expect_exit(wait_for(child, CHILD_WAIT_MS)?, 0)?;
    match got {
        Ok(v) if v == b"bye" => Ok(()),
        other => Err(format!("read until EOF gave {other:?}, expected b\"bye\"")),
    }
}

fn reader_blocks_until_write() -> Check {
    let (r, w) = io::pipe(true).context("pipe")?;
    let child = process::fork().context("fork")?;
    if child == 0 {
        let _ = io::close(r);
        let _ = sleep_ms(50);
        let _ = io::write_all(w, b"!");
        process::exit(0);
    }
    let t0 = libway::time::monotonic_ns().context("clock")?;
    let mut b = [0u8; 1];
    let n = io::read(r, &mut b);
    let waited_ms = libway::time::monotonic_ns().map_or(0, |t| t.saturating_sub(t0)) / 1_000_000;
    close_all(&[r, w]);
    expect_exit(wait_for(child, CHILD_WAIT_MS)?, 0)?;
    match n {
        // The writer slept 50 ms first; the read must have waited for it (with slack for
        // the clock's tick granularity).
        Ok(1) if b[0] == b'!' && waited_ms >= 30 => Ok(()),
        other => Err(format!("read {other:?} after {waited_ms} ms")),
    }
}

fn full_pipe_blocks_writer() -> Check {
    let (r, w) = io::pipe(true).context("pipe")?;
    let child = process::fork().context("fork")?;
    if child == 0 {
        let _ = io::close(r);
        // One byte more than fits: the write blocks until the parent drains.
        let data = vec![7u8; CAPACITY + 1];
        let code = match io::write_all(w, &data) {
            Ok(()) => 0,
            Err(_) => 1,
        };
        process::exit(code);
    }
    let _ = io::close(w);
    let _ = sleep_ms(50);
    // The child must still be blocked.
    let early = process::waitpid(child as isize, libway::abi::wait::WNOHANG);
    let got = read_exact(r, CAPACITY + 1);
    let _ = io::close(r);
    let st = wait_for(child, CHILD_WAIT_MS)?;
    expect_exit(st, 0)?;
    if !matches!(early, Ok((0, _))) {
        return Err(format!(
            "writer finished before the reader drained: {early:?}"
        ));
    }
    match got {
        Ok(v) if v.len() == CAPACITY + 1 && v.iter().all(|&b| b == 7) => Ok(()),
        Ok(v) => Err(format!("read {} bytes", v.len())),
        Err(err) => Err(format!("read: {err}")),
    }
}

fn small_writes_do_not_interleave() -> Check {
    const WRITERS: usize = 3;
    const RECORDS: usize = 40;
    const LEN: usize = 4000;
    let (r, w) = io::pipe(true).context("pipe")?;
    let mut kids = Vec::new();
    for k in 0..WRITERS {
        let pid = process::fork().context("fork")?;
        if pid == 0 {
            let _ = io::close(r);
            let rec = vec![b'a' + k as u8; LEN];
            for _ in 0..RECORDS {
                if io::write(w, &rec) != Ok(LEN) {
                    process::exit(1);
                }
            }
            process::exit(0);
        }
        kids.push(pid);
    }
    let _ = io::close(w);
    let all = read_exact(r, WRITERS * RECORDS * LEN + 1);
    let _ = io::close(r);
    for pid in kids {
        expect_exit(wait_for(pid, CHILD_WAIT_MS)?, 0)?;
    }
    let all = all.context("read")?;
    if all.len() != WRITERS * RECORDS * LEN {
        return Err(format!("read {} bytes", all.len()));
    }
    for (i, rec) in all.chunks(LEN).enumerate() {
        if rec.iter().any(|&b| b != rec[0]) {
            return Err(format!("record {i} mixes writers"));
        }
    }
    Ok(())
}

fn big_transfer_checksum() -> Check {
    const TOTAL: usize = 1 << 20;
    let pattern = |i: usize| (i.wrapping_mul(2654435761) >> 7) as u8;
    let (r, w) = io::pipe(true).context("pipe")?;
    let child = process::fork().context("fork")?;
    if child == 0 {
        let _ = io::close(r);
        let mut buf = vec![0u8; 10_000];
        let mut sent = 0;
        while sent < TOTAL {
            let n = buf.len().min(TOTAL - sent);
            for (j, b) in buf[..n].iter_mut().enumerate() {
                *b = pattern(sent + j);
            }
            if io::write_all(w, &buf[..n]).is_err() {
                process::exit(1);
            }
            sent += n;
        }
        process::exit(0);
    }
    let _ = io::close(w);
    let mut buf = vec![0u8; 7_000];
    let mut got = 0usize;
    let mut bad = None;
    loop {
        match io::read(r, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if bad.is_none() {
                    bad = buf[..n]
                        .iter()
                        .enumerate()
                        .find(|&(j, &b)| b != pattern(got + j))
                        .map(|(j, _)| got + j);
                }
                got += n;
            }
            Err(err) => {
                let _ = io::close(r);
                return Err(format!("read: {err}"));
            }
        }
    }
    let _ = io::close(r);
    expect_exit(wait_for(child, CHILD_WAIT_MS)?, 0)?;
    match (got, bad) {
        (TOTAL, None) => Ok(()),
        (n, b) => Err(format!("{n} bytes, first wrong byte at {b:?}")),
    }
}

/// Spawns the fd probe for `fd`; true if the child found it closed.
fn probe_closed_in_child(fd: usize) -> Result<bool, alloc::string::String> {
    let arg = format!("{fd}");
    let pid = process::spawn(SELF, &[SELF, FD_PROBE, &arg], &[]).context("spawn")?;
    let st = wait_for(pid, CHILD_WAIT_MS)?;
    match st.exit_code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(format!("probe {st}")),
    }
}

fn cloexec_not_inherited_by_spawn() -> Check {
    let (r, w) = io::pipe(true).context("pipe")?;
    let flag = io::cloexec(r);
    let closed = probe_closed_in_child(r);
    close_all(&[r, w]);
    if flag != Ok(true) {
        return Err(format!("F_GETFD gave {flag:?}"));
    }
    match closed? {
        true => Ok(()),
        false => Err("a close-on-exec descriptor reached the spawned program".into()),
    }
}

fn plain_fd_inherited_by_spawn() -> Check {
    let (r, w) = io::pipe(false).context("pipe")?;
    let closed = probe_closed_in_child(r);
    // Clearing and setting the flag round-trips.
    let round = io::set_cloexec(r, true).and_then(|()| io::cloexec(r));
    close_all(&[r, w]);
    if round != Ok(true) {
        return Err(format!("F_SETFD/F_GETFD gave {round:?}"));
    }
    match closed? {
        false => Ok(()),
        true => Err("a plain descriptor did not reach the spawned program".into()),
    }
}

fn fcntl_dup_and_flags() -> Check {
    let (r, w) = io::pipe(true).context("pipe")?;
    let d = io::dup_at_least(w, 40, false);
    let d2 = io::dup_at_least(w, 40, true);
    let flags = (d.and_then(io::cloexec), d2.and_then(io::cloexec));
    let wrote = d.and_then(|fd| io::write(fd, b"via dup"));
    let got = read_exact(r, 7);
    close_all(&[r, w]);
    if let Ok(fd) = d {
        let _ = io::close(fd);
    }
    if let Ok(fd) = d2 {
        let _ = io::close(fd);
    }
    match (d, d2, flags, wrote, got) {
        (Ok(40), Ok(41), (Ok(false), Ok(true)), Ok(7), Ok(v)) if v == b"via dup" => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

fn wrong_end_is_ebadf() -> Check {
    let (r, w) = io::pipe(true).context("pipe")?;
    let mut b = [0u8; 1];
    let a = io::write(r, b"x");
    let c = io::read(w, &mut b);
    close_all(&[r, w]);
    expect_errno(a, EBADF).context("write to the read end")?;
    expect_errno(c, EBADF).context("read from the write end")
}

fn bad_arguments() -> Check {
    // SAFETY: the kernel must reject these pointers and flags without writing anywhere.
    let r = unsafe { libway::sys::call(libway::abi::sys::PIPE, [0x10, 0, 0, 0, 0, 0]) };
    expect_errno(r, EFAULT).context("pipe(0x10)")?;
    let mut fds = [0u32; 2];
    // SAFETY: `fds` is writable; the flags are invalid so nothing is created.
    let r = unsafe {
        libway::sys::call(
            libway::abi::sys::PIPE,
            [fds.as_mut_ptr() as usize, 0x1, 0, 0, 0, 0],
        )
    };
    expect_errno(r, EINVAL).context("pipe(flags = 1)")?;
    expect_errno(io::set_cloexec(300, true), EBADF).context("F_SETFD on 300")?;
    expect_errno(io::dup_at_least(300, 0, false), EBADF).context("F_DUPFD of 300")?;
    expect_errno(io::dup_at_least(1, 256, false), EINVAL).context("F_DUPFD at 256")?;
    let r = libway::sys::call2(libway::sys::MemFree::FCNTL, 1, 999);
    expect_errno(r, EINVAL).context("fcntl(cmd = 999)")
}

fn fd_table_limit() -> Check {
    let mut opened = Vec::new();
    let result = loop {
        match io::pipe(true) {
            Ok((r, w)) => {
                opened.push(r);
                opened.push(w);
                if opened.len() > 600 {
                    break Err("more than 600 descriptors open".into());
                }
            }
            Err(err) if err.code() == EMFILE => break Ok(()),
            Err(err) => break Err(format!("pipe: {err}")),
        }
    };
    let n = opened.len();
    close_all(&opened);
    result?;
    // 3 stdio descriptors plus pairs up to the 256 limit (one may be left over).
    if !(252..=254).contains(&n) {
        return Err(format!("{n} descriptors before EMFILE"));
    }
    // Everything works again once closed.
    let (r, w) = io::pipe(true).context("pipe after EMFILE")?;
    close_all(&[r, w]);
    Ok(())
}
