//! `ipctest` page-grant checks (`docs/ipc.md`, "Page grants"): bulk data crosses processes
//! as granted pages, never copied, and only with rights the granter had.
//!
//! Data patterns and checksums are computed here from formulas, independently of the
//! memory under test; a side never trusts what it reads back from the kernel.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use libway::abi::errno::{EACCES, EBADF, EINVAL};
use libway::abi::mman::{MAP_ANONYMOUS, MAP_SHARED, PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE};
use libway::abi::sys;
use libway::grant::{MemHandle, SharedBuf, RIGHT_GRANT, RIGHT_READ, RIGHT_WRITE};
use libway::ipc::{Message, MessageExt, Port, Timeout};
use libway::suite::{expect_errno, Check, Context};
use libway::{mem, Errno};

use super::{fork_server, join, lookup_wait, unique, PEER_MS};

const PAGE: usize = PAGE_SIZE;
/// Bytes the round trip grants.
const BULK: usize = 256 * 1024;

/// Byte `i` of the data a client grants (`seed` tells buffers apart).
fn client_byte(seed: usize, i: usize) -> u8 {
    let x = (i.wrapping_add(seed) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x >> 56) as u8 ^ i as u8
}

/// Byte `i` a server writes back.
fn server_byte(i: usize) -> u8 {
    (i / PAGE) as u8 ^ (i as u8).wrapping_mul(3) ^ 0x5c
}

/// 64-bit FNV-1a.
fn fnv(bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// FNV-1a of a mapping as this side sees it now.
fn checksum(buf: &SharedBuf) -> u64 {
    fnv(buf.bytes().iter().map(|b| b.load(Ordering::Relaxed)))
}

/// A fresh shared buffer of `len` bytes filled with `client_byte(seed, _)`.
fn filled(len: usize, seed: usize) -> Result<SharedBuf, String> {
    let mut buf = SharedBuf::new(len).context("shared buffer")?;
    if buf.len() != len {
        return Err(format!("buffer of {} bytes, asked for {len}", buf.len()));
    }
    // SAFETY: no handle to these pages exists yet, so nothing else can touch them.
    let bytes = unsafe { buf.as_mut_slice() }.ok_or("fresh buffer not writable")?;
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = client_byte(seed, i);
    }
    Ok(buf)
}

/// The first index where `buf` differs from `want(i)`, as an error.
fn compare(what: &str, buf: &SharedBuf, want: impl Fn(usize) -> u8) -> Check {
    for (i, b) in buf.bytes().iter().enumerate() {
        let (got, want) = (b.load(Ordering::Relaxed), want(i));
        if got != want {
            return Err(format!(
                "{what}: byte {i:#x} is {got:#x}, expected {want:#x}"
            ));
        }
    }
    Ok(())
}

/// `mem_grant` with raw arguments.
fn raw_grant(addr: usize, len: usize, rights: u32) -> Result<MemHandle, Errno> {
    // SAFETY: mem_grant reads and writes no memory; only a handle is made.
    let h = unsafe { libway::sys::call(sys::MEM_GRANT, [addr, len, rights as usize, 0, 0, 0]) }?;
    Ok(MemHandle::from_raw(h as u32))
}

/// `mem_map` with raw arguments (no size wanted).
fn raw_map(handle: u32, prot: usize) -> Result<usize, Errno> {
    // SAFETY: the kernel only adds a mapping at a free address; nothing existing changes.
    unsafe { libway::sys::call(sys::MEM_MAP, [handle as usize, prot, 0, 0, 0, 0]) }
}

/// A client grants 256 KiB read-write to a server process. The server maps it, checks the
/// length and the checksum the client computed from the pattern formula, writes its own
/// pattern over the second half and replies with the checksum it now sees. The client
/// then finds the server's bytes in its own buffer — the pages are shared, not copied —
/// and the handle number it sent is no longer its own.
pub fn grant_bulk_no_copy() -> Check {
    const SEED: usize = 1;
    let name = unique("grant");
    let pid = fork_server(&name, |port| {
        let mut msg = Message::new(0);
        if port.recv(&mut msg, Timeout::ms(PEER_MS)).is_err() {
            return 2;
        }
        let (Some(reply), Some(h)) = (msg.take_reply(), MemHandle::take(&mut msg, 0)) else {
            return 3;
        };
        let Ok(buf) = h.map(true) else {
            return 4;
        };
        let (Some(len), Some(sum)) = (msg.word(0), msg.word(1)) else {
            return 5;
        };
        if buf.len() as u64 != len || checksum(&buf) != sum {
            return 6;
        }
        let half = buf.len() / 2;
        let mine: Vec<u8> = (half..buf.len()).map(server_byte).collect();
        if buf.write_at(half, &mine).is_err() {
            return 7;
        }
        let Ok(answer) = Message::with_words(msg.label + 1, &[checksum(&buf)]) else {
            return 8;
        };
        match reply.reply(&answer) {
            Ok(()) => 0,
            Err(_) => 8,
        }
    })?;
    let result = (|| -> Check {
        let server = lookup_wait(&name)?;
        let buf = filled(BULK, SEED)?;
        let sent = fnv((0..BULK).map(|i| client_byte(SEED, i)));
        let h = buf
            .grant(RIGHT_READ | RIGHT_WRITE | RIGHT_GRANT)
            .context("grant")?;
        let raw = h.raw();
        let mut msg = Message::with_words(40, &[BULK as u64, sent]).context("message")?;
        h.attach(&mut msg)
            .map_err(|_| String::from("no free handle slot"))?;
        server
            .call(&mut msg, Timeout::ms(PEER_MS))
            .context("call")?;
        if msg.label != 41 {
            return Err(format!("reply label {}, expected 41", msg.label));
        }
        let half = BULK / 2;
        let want = |i| {
            if i < half {
                client_byte(SEED, i)
            } else {
                server_byte(i)
            }
        };
        compare("client buffer after the server's writes", &buf, want)?;
        let after = fnv((0..BULK).map(want));
        if msg.word(0) != Some(after) {
            return Err(format!(
                "server saw checksum {:?}, expected {after:#x}",
                msg.word(0)
            ));
        }
        // The handle moved with the message.
        let gone = MemHandle::from_raw(raw);
        let r = gone.map(false).map(drop);
        core::mem::forget(gone);
        expect_errno(r, EBADF).context("map through the handle that was sent")
    })();
    join(
        pid,
        result,
        "server (2 recv, 3 no reply/handle, 4 map, 5 words, 6 length/checksum, 7 write, 8 reply)",
    )
}

/// A read-only grant maps read-only and sees the granter's later writes, but neither
/// `mem_map` nor `mprotect` nor a further grant can make it writable or executable; a
/// grant without `RIGHT_READ` cannot be mapped at all.
pub fn grant_read_only_stays_read_only() -> Check {
    let buf = filled(4 * PAGE, 2)?;
    let ro = buf.grant(RIGHT_READ | RIGHT_GRANT).context("grant")?;
    expect_errno(ro.map(true), EACCES).context("map a read-only grant writable")?;
    expect_errno(raw_map(ro.raw(), PROT_READ | PROT_EXEC), EACCES)
        .context("map a read-only grant executable")?;
    let view = ro.map(false).context("map read-only")?;
    if view.len() != 4 * PAGE || view.is_writable() || view.addr() == buf.addr() {
        return Err(format!(
            "view at {:#x} of {} bytes (buffer at {:#x})",
            view.addr(),
            view.len(),
            buf.addr()
        ));
    }
    compare("read-only view", &view, |i| client_byte(2, i))?;
    buf.write_at(2 * PAGE + 5, &[0xab, 0xcd])
        .context("granter write")?;
    let mut two = [0u8; 2];
    view.read_at(2 * PAGE + 5, &mut two).context("view read")?;
    if two != [0xab, 0xcd] {
        return Err(format!(
            "view sees {two:02x?} after the granter wrote ab cd"
        ));
    }
    expect_errno(view.write_at(0, &[1]), EACCES).context("write_at on a read-only view")?;
    // SAFETY: the call must fail; if it succeeded, no reference would be affected (the
    // view is only read through atomics).
    let r = unsafe { mem::mprotect(view.addr(), view.len(), PROT_READ | PROT_WRITE) };
    expect_errno(r, EACCES).context("mprotect a read-only view writable")?;
    // SAFETY: as above.
    let r = unsafe { mem::mprotect(view.addr(), PAGE, PROT_READ | PROT_EXEC) };
    expect_errno(r, EACCES).context("mprotect a read-only view executable")?;
    expect_errno(view.grant(RIGHT_READ | RIGHT_WRITE), EACCES)
        .context("grant write from a read-only view")?;
    let again = view
        .grant(RIGHT_READ)
        .context("re-grant read from the view")?;
    let second = again.map(false).context("map the re-grant")?;
    compare("view of the view", &second, |i| match i {
        x if x == 2 * PAGE + 5 => 0xab,
        x if x == 2 * PAGE + 6 => 0xcd,
        _ => client_byte(2, i),
    })?;
    let blind = buf.grant(RIGHT_GRANT).context("grant without read")?;
    expect_errno(blind.map(false), EACCES).context("map a grant without RIGHT_READ")
}

/// `len` bytes of fresh private memory to lay mappings over.
fn reserve(len: usize) -> Result<usize, String> {
    mem::map_anonymous(len, false).context("mmap reservation")
}

/// A new shared read-write mapping of `len` bytes exactly at `addr`, replacing part of a
/// reservation.
///
/// # Safety
///
/// Nothing the program uses may live in `[addr, addr + len)`.
unsafe fn shared_at(addr: usize, len: usize) -> Result<(), String> {
    let flags = MAP_SHARED | MAP_ANONYMOUS;
    // SAFETY: forwarded to the caller.
    let r = unsafe { mem::mmap_fixed(addr, len, PROT_READ | PROT_WRITE, flags) };
    match r {
        Ok(a) if a == addr => Ok(()),
        other => Err(format!("mmap shared at {addr:#x}: {other:?}")),
    }
}

/// Only the pages of `MAP_SHARED` mappings can be granted, and only with the access
/// their protection gives.
pub fn grant_needs_shared_memory() -> Check {
    let base = reserve(4 * PAGE)?;
    let result = (|| -> Check {
        let r = raw_grant(base, 2 * PAGE, RIGHT_READ);
        expect_errno(r.map(drop), EINVAL).context("grant private memory")?;
        // SAFETY: the upper half of the reservation holds nothing.
        unsafe { shared_at(base + 2 * PAGE, 2 * PAGE) }?;
        let r = raw_grant(base, 4 * PAGE, RIGHT_READ);
        expect_errno(r.map(drop), EINVAL).context("grant private + shared pages")?;
        let r = raw_grant(base + 2 * PAGE, 2 * PAGE, RIGHT_READ);
        r.context("grant the shared half").map(drop)
    })();
    // SAFETY: the reservation was made here and nothing refers to it.
    let _ = unsafe { mem::munmap(base, 4 * PAGE) };
    result?;
    let local = 0u8;
    let stack = &local as *const u8 as usize & !(PAGE - 1);
    let r = raw_grant(stack, PAGE, RIGHT_READ);
    expect_errno(r.map(drop), EINVAL).context("grant the stack")?;
    let text = grant_needs_shared_memory as fn() -> Check as usize & !(PAGE - 1);
    let r = raw_grant(text, PAGE, RIGHT_READ);
    expect_errno(r.map(drop), EINVAL).context("grant program text")?;
    // A read-only shared mapping grants read, not write.
    let ro = mem::mmap(0, 2 * PAGE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS)
        .context("mmap shared read-only")?;
    let r = raw_grant(ro, 2 * PAGE, RIGHT_READ | RIGHT_WRITE);
    let result = expect_errno(r.map(drop), EACCES)
        .context("grant write on a read-only mapping")
        .and_then(|()| {
            raw_grant(ro, 2 * PAGE, RIGHT_READ)
                .context("grant read on it")
                .map(drop)
        });
    // SAFETY: made here, nothing refers to it.
    let _ = unsafe { mem::munmap(ro, 2 * PAGE) };
    result
}

/// A grant may span several shared mappings: the receiver's mapping shows them one after
/// the other, and its writes land in the right one.
pub fn grant_spans_mappings() -> Check {
    const LEN: usize = 5 * PAGE;
    let base = reserve(LEN)?;
    let result = (|| -> Check {
        // SAFETY: the reservation holds nothing yet.
        unsafe { shared_at(base, 3 * PAGE) }?;
        // SAFETY: as above.
        unsafe { shared_at(base + 3 * PAGE, 2 * PAGE) }?;
        let expected = |i: usize| {
            if i < 3 * PAGE {
                client_byte(3, i)
            } else {
                server_byte(i - 3 * PAGE)
            }
        };
        // SAFETY: both mappings are fresh, read-write, and only this code uses them; the
        // slice ends before any grant exists.
        let bytes = unsafe { core::slice::from_raw_parts_mut(base as *mut u8, LEN) };
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = expected(i);
        }
        // From the second page of the first mapping through the end of the second.
        let h =
            raw_grant(base + PAGE, 4 * PAGE, RIGHT_READ | RIGHT_WRITE).context("grant across")?;
        let view = h.map(true).context("map")?;
        if view.len() != 4 * PAGE {
            return Err(format!(
                "mapped {} bytes, expected {}",
                view.len(),
                4 * PAGE
            ));
        }
        compare("view across two mappings", &view, |i| expected(PAGE + i))?;
        view.write_at(3 * PAGE + 9, &[0x42])
            .context("write via the view")?;
        // SAFETY: a one-byte read of the second mapping, which is still mapped.
        let seen = unsafe { ((base + 4 * PAGE + 9) as *const u8).read_volatile() };
        if seen != 0x42 {
            return Err(format!(
                "second mapping shows {seen:#x} after the view wrote 0x42"
            ));
        }
        Ok(())
    })();
    // SAFETY: the mappings were made here and nothing refers to them any more.
    let _ = unsafe { mem::munmap(base, LEN) };
    result
}

/// The granted pages outlive the granter's mapping: a server maps a read-only grant and
/// closes the handle; the client unmaps its buffer and reuses memory; the server's
/// checksum is still the one of the original data.
pub fn grant_survives_sender_munmap() -> Check {
    const SEED: usize = 4;
    const LEN: usize = 64 * PAGE;
    let name = unique("keep");
    let pid = fork_server(&name, |port| {
        let mut msg = Message::new(0);
        if port.recv(&mut msg, Timeout::ms(PEER_MS)).is_err() {
            return 2;
        }
        let (Some(reply), Some(h)) = (msg.take_reply(), MemHandle::take(&mut msg, 0)) else {
            return 3;
        };
        let Ok(view) = h.map(false) else {
            return 4;
        };
        // From here on only the mapping keeps the pages.
        if h.close().is_err() {
            return 5;
        }
        if reply.reply(&Message::new(1)).is_err() {
            return 6;
        }
        if port.recv(&mut msg, Timeout::ms(PEER_MS)).is_err() {
            return 7;
        }
        let Some(reply) = msg.take_reply() else {
            return 3;
        };
        let Ok(answer) = Message::with_words(2, &[view.len() as u64, checksum(&view)]) else {
            return 6;
        };
        match reply.reply(&answer) {
            Ok(()) => 0,
            Err(_) => 6,
        }
    })?;
    let result = (|| -> Check {
        let server = lookup_wait(&name)?;
        let buf = filled(LEN, SEED)?;
        let h = buf.grant(RIGHT_READ | RIGHT_GRANT).context("grant")?;
        let mut msg = Message::new(1);
        h.attach(&mut msg)
            .map_err(|_| String::from("no free handle slot"))?;
        server
            .call(&mut msg, Timeout::ms(PEER_MS))
            .context("first call")?;
        drop(buf);
        // Reuse memory, so frames freed too early would now hold other data.
        let mut churn = SharedBuf::new(2 * LEN).context("churn buffer")?;
        // SAFETY: a fresh buffer nobody else has a handle to.
        if let Some(bytes) = unsafe { churn.as_mut_slice() } {
            bytes.fill(0xee);
        }
        let mut msg = Message::new(2);
        server
            .call(&mut msg, Timeout::ms(PEER_MS))
            .context("second call")?;
        let want = fnv((0..LEN).map(|i| client_byte(SEED, i)));
        if msg.word(0) != Some(LEN as u64) || msg.word(1) != Some(want) {
            return Err(format!(
                "server sees {:?} bytes with checksum {:?}, expected {LEN} with {want:#x}",
                msg.word(0),
                msg.word(1)
            ));
        }
        Ok(())
    })();
    join(
        pid,
        result,
        "server (2 recv, 3 no reply/handle, 4 map, 5 close, 6 reply, 7 second recv)",
    )
}

/// A memory handle travels only with `RIGHT_GRANT` (without it: `EACCES`, and the handle
/// stays, still usable); it arrives with the same rights; `dup` narrows but cannot add;
/// and it is no port.
pub fn grant_handle_passing_needs_grant() -> Check {
    let port = Port::create(4).context("create")?;
    let buf = filled(2 * PAGE, 5)?;
    let no_grant = buf.grant(RIGHT_READ).context("grant read only")?;
    let mut msg = Message::new(1);
    no_grant
        .attach(&mut msg)
        .map_err(|_| String::from("no free handle slot"))?;
    expect_errno(port.send(&msg, Timeout::NonBlocking), EACCES)
        .context("send a memory handle without RIGHT_GRANT")?;
    let kept = MemHandle::take(&mut msg, 0).ok_or("handle slot emptied")?;
    expect_errno(kept.dup(RIGHT_READ), EACCES).context("dup without RIGHT_GRANT")?;
    let view = kept.map(false).context("map the kept handle")?;
    compare("kept handle's view", &view, |i| client_byte(5, i))?;

    let full = buf.grant(RIGHT_READ | RIGHT_GRANT).context("grant")?;
    expect_errno(full.dup(RIGHT_READ | RIGHT_WRITE), EACCES).context("dup adding RIGHT_WRITE")?;
    let narrowed = full.dup(RIGHT_READ).context("dup to read only")?;
    narrowed.map(false).context("map the narrowed handle")?;
    let mut msg = Message::new(2);
    full.attach(&mut msg)
        .map_err(|_| String::from("no free handle slot"))?;
    port.send(&msg, Timeout::NonBlocking)
        .context("send with RIGHT_GRANT")?;
    let mut got = Message::new(0);
    port.recv(&mut got, Timeout::NonBlocking).context("recv")?;
    let arrived = MemHandle::take(&mut got, 0).ok_or("no handle arrived")?;
    expect_errno(arrived.map(true), EACCES).context("map the arrived handle writable")?;
    let view = arrived.map(false).context("map the arrived handle")?;
    compare("arrived handle's view", &view, |i| client_byte(5, i))?;
    arrived
        .dup(RIGHT_READ | RIGHT_GRANT)
        .context("the arrived handle still grants")?;
    // Not a port: no send right; and a port is no memory object.
    let as_port = Port::from_raw(arrived.raw());
    let r = as_port.send(&Message::new(3), Timeout::NonBlocking);
    core::mem::forget(as_port);
    expect_errno(r, EACCES).context("port_send on a memory handle")?;
    expect_errno(raw_map(port.raw(), PROT_READ), EINVAL).context("mem_map on a port handle")
}
