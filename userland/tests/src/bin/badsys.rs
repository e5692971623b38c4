//! `badsys`: every syscall in `wayos_abi::sys` called with arguments the kernel must
//! refuse — null, kernel, non-canonical, unmapped, read-only and wrapping pointers, huge
//! lengths, bad descriptors, clocks, flags and numbers — each checked for the *specific*
//! errno POSIX (or the ABI) gives. The point: the kernel stays up and answers with an error.
//!
//! Pointer arguments here are invalid on purpose, or point into scratch memory this
//! program maps for the purpose and uses for nothing else; so every call goes through
//! one raw helper, [`raw`]. Calls that would replace the program if wrongly accepted
//! (execve) or end it (exit) run in forked children.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::errno::{self, E2BIG, EBADF, ECHILD, EEXIST, EFAULT, EINVAL, ENAMETOOLONG};
use libway::abi::errno::{ENOENT, ENOEXEC, ENOMEM, ENOSYS, EPERM};
use libway::abi::harness::RELEASE_FILE;
use libway::abi::layout::{USER_BASE, USER_END};
use libway::abi::limits::{ARG_MAX_COUNT, PATH_MAX};
use libway::abi::mman::{
    MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, PAGE_SIZE, PROT_NONE,
    PROT_READ, PROT_WRITE,
};
use libway::abi::{clock, sched, sys, wait, StrRef, Timespec};
use libway::ipc::{Message, INLINE_BYTES};
use libway::suite::{
    expect_errno, expect_exit, in_child, wait_for, Context, Suite, CHILD_TIMEOUT_MS,
};
use libway::{mem, println, process, Args, Errno};

libway::entry!(main);

const PAGE: usize = PAGE_SIZE;
/// Start of the kernel's direct map of physical memory.
const KERNEL_DIRECT: usize = 0xffff_8000_0000_0000;
/// Base of the kernel image.
const KERNEL_TEXT: usize = 0xffff_ffff_8000_0000;
/// The first address past the lower half: non-canonical on x86_64.
const NONCANONICAL: usize = 1 << 47;
/// Two bytes below the end of the user window: any object of 3 bytes or more there
/// crosses it.
const PAST_USER_END: usize = USER_END - 2;
/// Length used with bad pointers: small, so only the pointer is wrong.
const LEN: usize = 16;
/// A program that exists in the initramfs.
const GOOD_PATH: &str = "/bin/hello";
/// Exit status of an execve child whose call returned a non-error value.
const EXEC_RETURNED: i32 = 200;

/// One raw syscall with the arguments as given.
fn raw(n: usize, args: [usize; 6]) -> Result<usize, Errno> {
    // SAFETY: every pointer badsys passes is either one the kernel must refuse (so no
    // memory changes), or points into scratch memory mapped by `Scratch` or owned by the
    // calling check and used for nothing else; calls that could end or replace the
    // program run in forked children.
    unsafe { libway::sys::call(n, args) }
}

/// Memory badsys maps for its checks, kept for the whole run.
struct Scratch {
    /// 16 valid bytes (newlines) that end where `hole` begins.
    tail: usize,
    /// A page that is certainly unmapped: the middle of three mapped pages, made after
    /// every other one-page mapping (see `new`).
    hole: usize,
    /// A read-only page.
    ro: usize,
    /// A PROT_NONE page.
    none: usize,
    /// A read-write page for output parameters.
    rw: usize,
}

impl Scratch {
    fn new() -> Result<Scratch, String> {
        let map = |prot| mem::mmap(0, PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS).context("mmap");
        let (ro, none, rw) = (
            map(PROT_READ)?,
            map(PROT_NONE)?,
            map(PROT_READ | PROT_WRITE)?,
        );
        // The hole comes last: the kernel places mappings top-down in the highest gap
        // that fits, so a one-page mapping made after it would fill it. Later mappings
        // are heap arenas (64 KiB and up), too big for it.
        let three = mem::map_anonymous(3 * PAGE, false).context("mmap")?;
        let tail = three + PAGE - LEN;
        // SAFETY: `tail..tail + LEN` lies in the fresh private mapping above, which
        // nothing else uses.
        unsafe { core::slice::from_raw_parts_mut(tail as *mut u8, LEN) }.fill(b'\n');
        // SAFETY: the middle page of that mapping; nothing points into it.
        unsafe { mem::munmap(three + PAGE, PAGE) }.context("munmap")?;
        Ok(Scratch {
            tail,
            hole: three + PAGE,
            ro,
            none,
            rw,
        })
    }

    /// Pointers no syscall may accept for a `LEN`-byte buffer, by name.
    fn bad_ptrs(&self) -> [(&'static str, usize); 7] {
        [
            ("null", 0),
            ("unmapped", self.hole),
            ("past_user_end", PAST_USER_END),
            ("noncanonical", NONCANONICAL),
            ("kernel_direct_map", KERNEL_DIRECT),
            ("kernel_text", KERNEL_TEXT),
            ("wrapping", usize::MAX - LEN / 2),
        ]
    }

    /// The subset of [`Scratch::bad_ptrs`] a plain range check rejects, for calls that
    /// may legitimately succeed or block without touching the buffer (read at end of file).
    fn out_of_window_ptrs(&self) -> [(&'static str, usize); 5] {
        [
            ("past_user_end", PAST_USER_END),
            ("noncanonical", NONCANONICAL),
            ("kernel_direct_map", KERNEL_DIRECT),
            ("kernel_text", KERNEL_TEXT),
            ("wrapping", usize::MAX - LEN / 2),
        ]
    }

    /// Output pointers that are mapped but not writable.
    fn readonly_ptrs(&self) -> [(&'static str, usize); 3] {
        [
            ("readonly", self.ro),
            ("prot_none", self.none),
            ("text", main as fn(Args) -> i32 as usize),
        ]
    }
}

fn check_write(s: &mut Suite, m: &Scratch) {
    for (name, ptr) in m.bad_ptrs() {
        let r = raw(sys::WRITE, [1, ptr, LEN, 0, 0, 0]);
        s.check(&format!("write_buf_{name}"), expect_errno(r, EFAULT));
    }
    let r = raw(sys::WRITE, [1, m.none, LEN, 0, 0, 0]);
    s.check("write_buf_prot_none", expect_errno(r, EFAULT));
    let r = raw(sys::WRITE, [1, m.tail, USER_END, 0, 0, 0]);
    s.check("write_len_past_user_end", expect_errno(r, EFAULT));
    let r = raw(sys::WRITE, [1, m.tail, usize::MAX, 0, 0, 0]);
    s.check("write_len_wraps", expect_errno(r, EFAULT));
    for fd in [3, 1000, usize::MAX] {
        let r = raw(sys::WRITE, [fd, m.tail, 1, 0, 0, 0]);
        s.check(&format!("write_fd_{}", fd as isize), expect_errno(r, EBADF));
    }
}

fn check_read(s: &mut Suite, m: &Scratch) {
    for (name, ptr) in m.out_of_window_ptrs() {
        let r = raw(sys::READ, [0, ptr, LEN, 0, 0, 0]);
        s.check(&format!("read_buf_{name}"), expect_errno(r, EFAULT));
    }
    let r = raw(sys::READ, [0, m.rw, usize::MAX, 0, 0, 0]);
    s.check("read_len_wraps", expect_errno(r, EFAULT));
    for fd in [3, 1000, usize::MAX] {
        let r = raw(sys::READ, [fd, m.rw, 1, 0, 0, 0]);
        s.check(&format!("read_fd_{}", fd as isize), expect_errno(r, EBADF));
    }
}

fn check_klog_read(s: &mut Suite, m: &Scratch) {
    for (name, ptr) in m.bad_ptrs().into_iter().chain(m.readonly_ptrs()) {
        let r = raw(sys::KLOG_READ, [ptr, LEN, 0, 0, 0, 0]);
        s.check(&format!("klog_read_buf_{name}"), expect_errno(r, EFAULT));
    }
    let r = raw(sys::KLOG_READ, [m.tail, USER_END, 0, 0, 0, 0]);
    s.check("klog_read_len_past_user_end", expect_errno(r, EFAULT));
    let r = raw(sys::KLOG_READ, [m.rw, usize::MAX, 0, 0, 0, 0]);
    s.check("klog_read_len_wraps", expect_errno(r, EFAULT));
    // 16 writable bytes, then the hole: refused before anything is written.
    let r = expect_errno(raw(sys::KLOG_READ, [m.tail, PAGE, 0, 0, 0, 0]), EFAULT).and_then(|()| {
        // SAFETY: `tail..tail + LEN` is scratch memory badsys mapped and filled with
        // newlines; the kernel was told it may write there.
        let tail = unsafe { core::slice::from_raw_parts(m.tail as *const u8, LEN) };
        if tail.iter().all(|&b| b == b'\n') {
            Ok(())
        } else {
            Err(format!("the valid part of the buffer changed: {tail:?}"))
        }
    });
    s.check("klog_read_into_hole_writes_nothing", r);
    let r = match raw(sys::KLOG_READ, [0, 0, 0, 0, 0, 0]) {
        Ok(0) => Ok(()),
        other => Err(format!("got {other:?}, expected 0")),
    };
    s.check("klog_read_len_zero", r);
}

fn check_no_arg_calls(s: &mut Suite) {
    let junk = [usize::MAX, KERNEL_TEXT, 1, 0, usize::MAX, 7];
    let plain = raw(sys::GETPID, [0; 6]);
    let r = match (plain, raw(sys::GETPID, junk)) {
        (Ok(a), Ok(b)) if a == b && a > 0 => Ok(()),
        (a, b) => Err(format!("getpid() = {a:?}, with junk arguments {b:?}")),
    };
    s.check("getpid_ignores_args", r);
    let r = match (raw(sys::GETPPID, [0; 6]), raw(sys::GETPPID, junk)) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        (a, b) => Err(format!("getppid() = {a:?}, with junk arguments {b:?}")),
    };
    s.check("getppid_ignores_args", r);
    let r = match raw(sys::SCHED_YIELD, junk) {
        Ok(0) => Ok(()),
        other => Err(format!("got {other:?}, expected 0")),
    };
    s.check("sched_yield_ignores_args", r);
    let r = match raw(sys::FORK, junk) {
        Ok(0) => process::exit(0),
        Ok(pid) => wait_for(pid, CHILD_TIMEOUT_MS).and_then(|st| expect_exit(st, 0)),
        Err(e) => Err(format!("fork: {e}")),
    };
    s.check("fork_ignores_args", r);
    let r = in_child(|| {
        let _ = raw(sys::EXIT, [usize::MAX, usize::MAX, 0, 0, 0, 0]);
        EXEC_RETURNED
    })
    .and_then(|st| expect_exit(st, 0xff));
    s.check("exit_status_truncated", r);
}

/// One execve/spawn argument set and the errno it must produce.
struct ExecCase {
    name: String,
    args: [usize; 6],
    want: isize,
}

/// The valid and invalid buffers the execve/spawn cases point into; the cases hold raw
/// addresses, so this must outlive them.
struct ExecBuffers {
    good_argv: Vec<StrRef>,
    too_many: Vec<StrRef>,
    bad_entries: Vec<StrRef>,
    long_path: Vec<u8>,
    not_elf: String,
}

impl ExecBuffers {
    fn new(m: &Scratch) -> ExecBuffers {
        let good = StrRef {
            ptr: GOOD_PATH.as_ptr() as usize,
            len: GOOD_PATH.len(),
        };
        ExecBuffers {
            good_argv: alloc::vec![good],
            too_many: alloc::vec![good; ARG_MAX_COUNT + 1],
            bad_entries: alloc::vec![
                StrRef {
                    ptr: KERNEL_TEXT,
                    len: 4
                },
                StrRef {
                    ptr: m.hole,
                    len: 4
                },
            ],
            long_path: alloc::vec![b'a'; PATH_MAX + 1],
            not_elf: format!("/{RELEASE_FILE}"),
        }
    }

    fn cases(&self, m: &Scratch) -> Vec<ExecCase> {
        let (argv, argc) = (self.good_argv.as_ptr() as usize, self.good_argv.len());
        let (gp, gl) = (GOOD_PATH.as_ptr() as usize, GOOD_PATH.len());
        let missing = "/bin/no-such-program";
        let kernel_entry = self.bad_entries.as_ptr() as usize;
        let unmapped_entry = self.bad_entries[1..].as_ptr() as usize;
        let (many, many_len) = (self.too_many.as_ptr() as usize, self.too_many.len());
        let mut cases = Vec::new();
        let mut add =
            |name: String, args: [usize; 6], want| cases.push(ExecCase { name, args, want });

        for (name, ptr) in m.bad_ptrs() {
            add(format!("path_{name}"), [ptr, 10, argv, argc, 0, 0], EFAULT);
        }
        let long = self.long_path.as_ptr() as usize;
        add(
            "path_too_long".into(),
            [long, PATH_MAX + 1, argv, argc, 0, 0],
            ENAMETOOLONG,
        );
        add("path_empty".into(), [gp, 0, argv, argc, 0, 0], ENOENT);
        let (mp, ml) = (missing.as_ptr() as usize, missing.len());
        add("path_missing".into(), [mp, ml, argv, argc, 0, 0], ENOENT);
        let (np, nl) = (self.not_elf.as_ptr() as usize, self.not_elf.len());
        add("path_not_elf".into(), [np, nl, argv, argc, 0, 0], ENOEXEC);
        for (name, ptr) in m.bad_ptrs() {
            add(format!("argv_{name}"), [gp, gl, ptr, 1, 0, 0], EFAULT);
        }
        add(
            "argv_entry_kernel".into(),
            [gp, gl, kernel_entry, 1, 0, 0],
            EFAULT,
        );
        add(
            "argv_entry_unmapped".into(),
            [gp, gl, unmapped_entry, 1, 0, 0],
            EFAULT,
        );
        add(
            "argc_too_many".into(),
            [gp, gl, many, many_len, 0, 0],
            E2BIG,
        );
        add("argc_huge".into(), [gp, gl, argv, usize::MAX, 0, 0], E2BIG);
        add("envp_null".into(), [gp, gl, argv, argc, 0, 1], EFAULT);
        add(
            "envp_kernel_text".into(),
            [gp, gl, argv, argc, KERNEL_TEXT, 1],
            EFAULT,
        );
        add(
            "envp_entry_kernel".into(),
            [gp, gl, argv, argc, kernel_entry, 1],
            EFAULT,
        );
        add(
            "envc_too_many".into(),
            [gp, gl, argv, argc, many, many_len],
            E2BIG,
        );
        cases
    }
}

fn check_spawn_execve(s: &mut Suite, m: &Scratch) {
    let buffers = ExecBuffers::new(m);
    let cases = buffers.cases(m);
    for c in &cases {
        let r = match raw(sys::SPAWN, c.args) {
            Ok(pid) => {
                let st = wait_for(pid, CHILD_TIMEOUT_MS);
                Err(format!(
                    "spawned pid {pid} ({st:?}), expected {}",
                    errno::name(c.want)
                ))
            }
            err => expect_errno(err, c.want),
        };
        s.check(&format!("spawn_{}", c.name), r);
    }
    for c in &cases {
        // In a child, so a wrongly accepted execve replaces the child, not badsys; the
        // child reports the errno as its exit status.
        let r = in_child(|| match raw(sys::EXECVE, c.args) {
            Err(e) => e.code() as i32,
            Ok(_) => EXEC_RETURNED,
        })
        .and_then(|st| match st.exit_code() {
            Some(code) if code as isize == c.want => Ok(()),
            Some(EXEC_RETURNED) => Err("execve returned a value instead of an error".into()),
            Some(code) => Err(format!(
                "child exited with {code} ({}), expected {}",
                errno::name(code as isize),
                errno::name(c.want)
            )),
            None => Err(format!("child {st}")),
        });
        s.check(&format!("execve_{}", c.name), r);
    }
}

fn check_wait(s: &mut Suite, m: &Scratch) {
    let status = m.rw;
    s.check(
        "wait_no_children",
        expect_errno(raw(sys::WAIT, [usize::MAX, status, 0, 0, 0, 0]), ECHILD),
    );
    let r = raw(sys::WAIT, [usize::MAX, status, wait::WNOHANG, 0, 0, 0]);
    s.check("wait_nohang_no_children", expect_errno(r, ECHILD));
    s.check(
        "wait_not_a_child",
        expect_errno(raw(sys::WAIT, [1, status, 0, 0, 0, 0]), ECHILD),
    );
    let r = raw(sys::WAIT, [usize::MAX, status, 0x8000, 0, 0, 0]);
    s.check("wait_bad_options", expect_errno(r, EINVAL));

    // A child that exits at once: bad status pointers must fail without losing its status.
    let pid = match process::fork() {
        Ok(0) => process::exit(7),
        Ok(pid) => pid,
        Err(e) => {
            s.check("wait_fork", Err(format!("fork: {e}")));
            return;
        }
    };
    for (name, ptr) in m.bad_ptrs().into_iter().chain(m.readonly_ptrs()) {
        if ptr == 0 {
            continue; // A null status pointer means "don't report the status".
        }
        let r = raw(sys::WAIT, [pid, ptr, 0, 0, 0, 0]);
        s.check(&format!("wait_status_{name}"), expect_errno(r, EFAULT));
    }
    // Reap it through a misaligned (but valid) status pointer.
    let odd = m.rw + 1;
    let r = match raw(sys::WAIT, [pid, odd, 0, 0, 0, 0]) {
        Ok(got) if got == pid => {
            // SAFETY: `odd..odd + 4` lies in the scratch read-write page the kernel just
            // wrote; an unaligned read is fine.
            let st = unsafe { (odd as *const i32).read_unaligned() };
            if st == wait::exited(7) {
                Ok(())
            } else {
                Err(format!("status {st:#x}, expected {:#x}", wait::exited(7)))
            }
        }
        other => Err(format!("wait({pid}) = {other:?}, expected the child's pid")),
    };
    s.check("wait_status_kept_after_efault", r);
}

fn check_mmap(s: &mut Suite, m: &Scratch) {
    let anon = MAP_PRIVATE | MAP_ANONYMOUS;
    let rw = PROT_READ | PROT_WRITE;
    let none = usize::MAX; // fd -1
    let cases: [(&str, [usize; 6], isize); 16] = [
        ("len_zero", [0, 0, rw, anon, none, 0], EINVAL),
        ("len_huge", [0, usize::MAX, rw, anon, none, 0], ENOMEM),
        ("len_past_window", [0, USER_END, rw, anon, none, 0], ENOMEM),
        (
            "no_share_type",
            [0, PAGE, rw, MAP_ANONYMOUS, none, 0],
            EINVAL,
        ),
        (
            "shared_and_private",
            [0, PAGE, rw, MAP_SHARED | anon, none, 0],
            EINVAL,
        ),
        (
            "unknown_flag",
            [0, PAGE, rw, anon | 0x4000_0000, none, 0],
            EINVAL,
        ),
        ("unknown_prot", [0, PAGE, rw | 0x80, anon, none, 0], EINVAL),
        (
            "file_fd_minus_one",
            [0, PAGE, rw, MAP_PRIVATE, none, 0],
            EBADF,
        ),
        ("file_fd_not_open", [0, PAGE, rw, MAP_PRIVATE, 99, 0], EBADF),
        ("offset_unaligned", [0, PAGE, rw, anon, none, 1], EINVAL),
        (
            "fixed_unaligned",
            [m.rw + 1, PAGE, rw, anon | MAP_FIXED, none, 0],
            EINVAL,
        ),
        (
            "fixed_null",
            [0, PAGE, rw, anon | MAP_FIXED, none, 0],
            ENOMEM,
        ),
        (
            "fixed_kernel_direct_map",
            [KERNEL_DIRECT, PAGE, rw, anon | MAP_FIXED, none, 0],
            ENOMEM,
        ),
        (
            "fixed_kernel_text",
            [KERNEL_TEXT, PAGE, rw, anon | MAP_FIXED, none, 0],
            ENOMEM,
        ),
        (
            "fixed_past_user_end",
            [USER_END - PAGE, 2 * PAGE, rw, anon | MAP_FIXED, none, 0],
            ENOMEM,
        ),
        (
            "fixed_noreplace_taken",
            [m.rw, PAGE, rw, anon | MAP_FIXED_NOREPLACE, none, 0],
            EEXIST,
        ),
    ];
    for (name, args, want) in cases {
        s.check(
            &format!("mmap_{name}"),
            expect_errno(raw(sys::MMAP, args), want),
        );
    }
    let r = match raw(sys::MMAP, [KERNEL_TEXT, PAGE, rw, anon, none, 0]) {
        Ok(addr) if (USER_BASE..USER_END).contains(&addr) && addr.is_multiple_of(PAGE) => {
            // SAFETY: the page was just mapped for this check and nothing uses it.
            unsafe { mem::munmap(addr, PAGE) }.context("munmap")
        }
        Ok(addr) => Err(format!("mapped at {addr:#x}, outside the user window")),
        Err(e) => Err(format!("got {e}, expected a user address")),
    };
    s.check("mmap_kernel_hint_ignored", r);
}

fn check_munmap_mprotect(s: &mut Suite, m: &Scratch) {
    let munmap_cases: [(&str, usize, usize, isize); 5] = [
        ("unaligned", m.rw + 1, PAGE, EINVAL),
        ("len_zero", m.rw, 0, EINVAL),
        ("kernel_direct_map", KERNEL_DIRECT, PAGE, EINVAL),
        ("kernel_text", KERNEL_TEXT, PAGE, EINVAL),
        ("wrapping", m.rw, usize::MAX - PAGE + 1, EINVAL),
    ];
    for (name, addr, len, want) in munmap_cases {
        let r = raw(sys::MUNMAP, [addr, len, 0, 0, 0, 0]);
        s.check(&format!("munmap_{name}"), expect_errno(r, want));
    }
    let r = match raw(sys::MUNMAP, [m.hole, PAGE, 0, 0, 0, 0]) {
        Ok(0) => Ok(()),
        other => Err(format!(
            "got {other:?}, expected success (nothing mapped is fine)"
        )),
    };
    s.check("munmap_nothing_mapped_ok", r);

    let rw = PROT_READ | PROT_WRITE;
    let mprotect_cases: [(&str, usize, usize, usize, isize); 6] = [
        ("unaligned", m.rw + 1, PAGE, rw, EINVAL),
        ("unknown_prot", m.rw, PAGE, rw | 0x80, EINVAL),
        ("unmapped", m.hole, PAGE, rw, ENOMEM),
        ("kernel_direct_map", KERNEL_DIRECT, PAGE, rw, ENOMEM),
        ("kernel_text", KERNEL_TEXT, PAGE, PROT_READ, ENOMEM),
        ("wrapping", m.rw, usize::MAX - PAGE + 1, rw, ENOMEM),
    ];
    for (name, addr, len, prot, want) in mprotect_cases {
        let r = raw(sys::MPROTECT, [addr, len, prot, 0, 0, 0]);
        s.check(&format!("mprotect_{name}"), expect_errno(r, want));
    }
}

/// Writes a `Timespec` at `at` (in the scratch read-write page, any alignment).
fn put_timespec(at: usize, ts: Timespec) {
    // SAFETY: `at..at + 16` lies in the scratch read-write page; unaligned writes are fine.
    unsafe { (at as *mut Timespec).write_unaligned(ts) };
}

fn check_time(s: &mut Suite, m: &Scratch) {
    for (name, ptr) in m.bad_ptrs() {
        let r = raw(sys::NANOSLEEP, [ptr, 0, 0, 0, 0, 0]);
        s.check(&format!("nanosleep_req_{name}"), expect_errno(r, EFAULT));
    }
    for (name, sec, nsec) in [
        ("nsec_too_big", 0, 1_000_000_000),
        ("nsec_negative", 0, -1),
        ("sec_negative", -1, 0),
    ] {
        put_timespec(m.rw, Timespec { sec, nsec });
        let r = raw(sys::NANOSLEEP, [m.rw, 0, 0, 0, 0, 0]);
        s.check(&format!("nanosleep_{name}"), expect_errno(r, EINVAL));
    }
    put_timespec(m.rw + 3, Timespec { sec: 0, nsec: 1000 });
    let r = match raw(sys::NANOSLEEP, [m.rw + 3, 0, 0, 0, 0, 0]) {
        Ok(0) => Ok(()),
        other => Err(format!("got {other:?}, expected 0")),
    };
    s.check("nanosleep_misaligned_req_ok", r);

    for id in [
        9999,
        2,
        usize::MAX,
        (1 << 63) | clock::MONOTONIC,
        (1 << 63) | clock::REALTIME,
    ] {
        let r = raw(sys::CLOCK_GETTIME, [id, m.rw, 0, 0, 0, 0]);
        s.check(
            &format!("clock_gettime_clock_{id:#x}"),
            expect_errno(r, EINVAL),
        );
    }
    for (name, ptr) in m.bad_ptrs().into_iter().chain(m.readonly_ptrs()) {
        let r = raw(sys::CLOCK_GETTIME, [clock::MONOTONIC, ptr, 0, 0, 0, 0]);
        s.check(&format!("clock_gettime_ts_{name}"), expect_errno(r, EFAULT));
        let r = raw(sys::CLOCK_GETTIME, [clock::REALTIME, ptr, 0, 0, 0, 0]);
        s.check(
            &format!("clock_gettime_realtime_ts_{name}"),
            expect_errno(r, EFAULT),
        );
    }
    put_timespec(m.rw + 5, Timespec { sec: -1, nsec: -1 });
    let r = match raw(sys::CLOCK_GETTIME, [clock::MONOTONIC, m.rw + 5, 0, 0, 0, 0]) {
        Ok(0) => {
            // SAFETY: as in `put_timespec`.
            let ts = unsafe { ((m.rw + 5) as *const Timespec).read_unaligned() };
            if ts.sec >= 0 && (0..1_000_000_000).contains(&ts.nsec) {
                Ok(())
            } else {
                Err(format!("implausible time {ts:?}"))
            }
        }
        other => Err(format!("got {other:?}, expected 0")),
    };
    s.check("clock_gettime_misaligned_ts_ok", r);
    // REALTIME is the boot epoch plus the uptime, so never behind MONOTONIC read before it.
    let r = match (
        libway::time::monotonic_ns(),
        libway::time::clock_gettime(clock::REALTIME),
    ) {
        (Ok(mono), Ok(ts)) if (0..1_000_000_000).contains(&ts.nsec) && ts.sec >= 0 => {
            let real = ts.sec as u64 * 1_000_000_000 + ts.nsec as u64;
            if real >= mono {
                Ok(())
            } else {
                Err(format!("realtime {real} ns is behind monotonic {mono} ns"))
            }
        }
        other => Err(format!("got {other:?}")),
    };
    s.check("clock_gettime_realtime_ok", r);
}

/// Page grants: `mem_grant` (address ranges, rights, what kind of memory) and `mem_map`
/// (handles, protection, the size pointer). Every mapping made here is two pages or more,
/// so none can fill the scratch hole.
fn check_grant(s: &mut Suite, m: &Scratch) {
    use libway::abi::ipc::{GRANT_MAX_SEGMENTS, RIGHT_GRANT, RIGHT_READ, RIGHT_SEND, RIGHT_WRITE};
    use libway::abi::mman::PROT_EXEC;

    let shared = |prot| mem::mmap(0, 2 * PAGE, prot, MAP_SHARED | MAP_ANONYMOUS);
    let rw = PROT_READ | PROT_WRITE;
    let (sh, sh_ro, sh_none) = match (shared(rw), shared(PROT_READ), shared(PROT_NONE)) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        other => {
            s.check("mem_grant_setup", Err(format!("mmap shared: {other:?}")));
            return;
        }
    };
    let r = RIGHT_READ as usize;
    let w = RIGHT_WRITE as usize;
    let local = 0u8;
    let stack = &local as *const u8 as usize & !(PAGE - 1);
    let text = main as fn(Args) -> i32 as usize & !(PAGE - 1);
    let cases: [(&str, [usize; 3], isize); 20] = [
        ("rights_unknown", [sh, 2 * PAGE, 1 << 9], EINVAL),
        (
            "rights_port_send",
            [sh, 2 * PAGE, RIGHT_SEND as usize],
            EINVAL,
        ),
        ("rights_above_u32", [sh, 2 * PAGE, (1 << 32) | r], EINVAL),
        ("addr_unaligned", [sh + 1, PAGE, r], EINVAL),
        ("len_zero", [sh, 0, r], EINVAL),
        ("len_unaligned", [sh, PAGE + 1, r], EINVAL),
        ("len_wraps", [sh, usize::MAX - PAGE + 1, r], EINVAL),
        ("null", [0, PAGE, r], EINVAL),
        ("past_user_end", [USER_END - PAGE, 2 * PAGE, r], EINVAL),
        ("noncanonical", [NONCANONICAL, PAGE, r], EINVAL),
        ("kernel_direct_map", [KERNEL_DIRECT, PAGE, r], EINVAL),
        ("kernel_text", [KERNEL_TEXT, PAGE, r], EINVAL),
        ("unmapped", [m.hole, PAGE, r], ENOMEM),
        ("private_then_hole", [m.hole - PAGE, 2 * PAGE, r], ENOMEM),
        ("private", [m.rw, PAGE, r], EINVAL),
        ("stack", [stack, PAGE, r], EINVAL),
        ("text", [text, PAGE, r], EINVAL),
        (
            "write_on_read_only",
            [sh_ro, 2 * PAGE, r | w],
            errno::EACCES,
        ),
        ("write_only_on_read_only", [sh_ro, PAGE, w], errno::EACCES),
        ("read_on_prot_none", [sh_none, 2 * PAGE, r], errno::EACCES),
    ];
    for (name, [addr, len, rights], want) in cases {
        let got = raw(sys::MEM_GRANT, [addr, len, rights, 0, 0, 0]);
        s.check(&format!("mem_grant_{name}"), expect_errno(got, want));
    }

    // More separate shared mappings than one grant may span: 1-page objects side by side
    // over a private reservation.
    let n = GRANT_MAX_SEGMENTS + 1;
    let segments = mem::map_anonymous(n * PAGE, false).and_then(|base| {
        for i in 0..n {
            // SAFETY: the reservation was just made for this check and holds nothing.
            unsafe { mem::mmap_fixed(base + i * PAGE, PAGE, rw, MAP_SHARED | MAP_ANONYMOUS) }?;
        }
        Ok(base)
    });
    let (too_many, most) = match segments {
        Ok(base) => {
            let too_many = expect_errno(raw(sys::MEM_GRANT, [base, n * PAGE, r, 0, 0, 0]), E2BIG);
            let most = match raw(sys::MEM_GRANT, [base, (n - 1) * PAGE, r, 0, 0, 0]) {
                Ok(h) => raw(sys::HANDLE_CLOSE, [h, 0, 0, 0, 0, 0])
                    .map(drop)
                    .context("close"),
                Err(e) => Err(format!("{} mappings: {e}", n - 1)),
            };
            // SAFETY: the reservation is this check's own.
            let _ = unsafe { mem::munmap(base, n * PAGE) };
            (too_many, most)
        }
        Err(e) => (Err(format!("setup: {e}")), Err(format!("setup: {e}"))),
    };
    s.check("mem_grant_too_many_segments", too_many);
    s.check("mem_grant_max_segments_ok", most);

    let grant = |rights: u32| raw(sys::MEM_GRANT, [sh, 2 * PAGE, rights as usize, 0, 0, 0]);
    let handles = (
        grant(RIGHT_READ | RIGHT_GRANT),
        grant(RIGHT_GRANT),
        grant(RIGHT_READ),
        raw(sys::PORT_CREATE, [4, 0, 0, 0, 0, 0]),
    );
    let (ro, blind, closed, port) = match handles {
        (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
        other => {
            s.check("mem_map_setup", Err(format!("handles: {other:?}")));
            return;
        }
    };
    let _ = raw(sys::HANDLE_CLOSE, [closed, 0, 0, 0, 0, 0]);
    let pr = PROT_READ;
    let map_cases: [(&str, [usize; 3], isize); 10] = [
        ("handle_bogus", [0x7fff_fff0, pr, 0], EBADF),
        ("handle_none", [u32::MAX as usize, pr, 0], EBADF),
        ("handle_above_u32", [(1 << 32) | ro, pr, 0], EBADF),
        ("handle_closed", [closed, pr, 0], EBADF),
        ("port_handle", [port, pr, 0], EINVAL),
        ("prot_unknown", [ro, pr | 0x80, 0], EINVAL),
        ("write_without_right", [ro, rw, 0], errno::EACCES),
        ("exec", [ro, pr | PROT_EXEC, 0], errno::EACCES),
        ("read_without_right", [blind, pr, 0], errno::EACCES),
        ("bad_prot_before_bad_handle", [0x7fff_fff0, 0x80, 0], EINVAL),
    ];
    for (name, [h, prot, size], want) in map_cases {
        let got = raw(sys::MEM_MAP, [h, prot, size, 0, 0, 0]);
        s.check(&format!("mem_map_{name}"), expect_errno(got, want));
    }
    for (name, ptr) in m.bad_ptrs().into_iter().chain(m.readonly_ptrs()) {
        if ptr == 0 {
            continue; // A null size pointer means "don't report the size".
        }
        let got = raw(sys::MEM_MAP, [ro, pr, ptr, 0, 0, 0]);
        s.check(&format!("mem_map_size_{name}"), expect_errno(got, EFAULT));
    }
    // The handle still works, with or without a size pointer, at a fresh user address.
    let size_at = m.rw + 3;
    let r = match raw(sys::MEM_MAP, [ro, pr, size_at, 0, 0, 0]) {
        Ok(addr) if (USER_BASE..USER_END).contains(&addr) && addr.is_multiple_of(PAGE) => {
            // SAFETY: `size_at..size_at + 8` lies in the scratch read-write page.
            let size = unsafe { (size_at as *const u64).read_unaligned() };
            // SAFETY: the mapping was just made for this check and nothing uses it.
            let _ = unsafe { mem::munmap(addr, 2 * PAGE) };
            if size == 2 * PAGE as u64 {
                Ok(())
            } else {
                Err(format!("size {size}, expected {}", 2 * PAGE))
            }
        }
        other => Err(format!("got {other:?}, expected a user address")),
    };
    s.check("mem_map_misaligned_size_ok", r);
    let r = match raw(sys::MEM_MAP, [ro, pr, 0, 0, 0, 0]) {
        // SAFETY: as above.
        Ok(addr) => unsafe { mem::munmap(addr, 2 * PAGE) }.context("munmap"),
        Err(e) => Err(format!("got {e}, expected an address")),
    };
    s.check("mem_map_null_size_ok", r);
    for h in [ro, blind, port] {
        let _ = raw(sys::HANDLE_CLOSE, [h, 0, 0, 0, 0, 0]);
    }
    for a in [sh, sh_ro, sh_none] {
        // SAFETY: these mappings were made by this check and nothing refers to them.
        let _ = unsafe { mem::munmap(a, 2 * PAGE) };
    }
}

/// `port_reply_recv` (30): message pointers that cannot be read or written, an
/// oversized message, and bad reply handles, each with its errno and in the documented
/// order (the message first, then the reply handle); nothing is received meanwhile.
fn check_port_reply_recv(s: &mut Suite, m: &Scratch) {
    let port = match raw(sys::PORT_CREATE, [4, 0, 0, 0, 0, 0]) {
        Ok(p) => p,
        Err(e) => {
            s.check("port_reply_recv_setup", Err(format!("port_create: {e}")));
            return;
        }
    };
    let reply_recv =
        |reply: usize, msg: usize| raw(sys::PORT_REPLY_RECV, [reply, port, msg, 0, 0, 0]);
    let bogus = 0x7fff_fff0;
    // The message is read (then written) before any handle is looked at.
    for (name, ptr) in m.bad_ptrs().into_iter().chain(m.readonly_ptrs()) {
        s.check(
            &format!("port_reply_recv_msg_{name}"),
            expect_errno(reply_recv(bogus, ptr), EFAULT),
        );
    }
    // A message whose header runs into the unmapped page.
    s.check(
        "port_reply_recv_msg_into_hole",
        expect_errno(reply_recv(bogus, m.tail), EFAULT),
    );
    let msg = m.rw;
    let mut big = Message::new(0);
    big.len = INLINE_BYTES as u32 + 1;
    // SAFETY: `msg` is the scratch read-write page (page-aligned, so aligned for a
    // `Message`), which this check uses for nothing else meanwhile.
    unsafe { (msg as *mut Message).write(big) };
    s.check(
        "port_reply_recv_len_too_big",
        expect_errno(reply_recv(bogus, msg), EINVAL),
    );
    // SAFETY: as above.
    unsafe { (msg as *mut Message).write(Message::new(0)) };
    let handle_cases: [(&str, usize, isize); 4] = [
        ("reply_bogus", bogus, EBADF),
        ("reply_none", u32::MAX as usize, EBADF),
        ("reply_above_u32", (1 << 32) | port, EBADF),
        ("reply_is_a_port", port, EINVAL),
    ];
    for (name, reply, want) in handle_cases {
        s.check(
            &format!("port_reply_recv_{name}"),
            expect_errno(reply_recv(reply, msg), want),
        );
    }
    // Nothing was sent to or taken from the port.
    let r = raw(sys::PORT_RECV, [port, msg, 0, 0, 0, 0]);
    s.check(
        "port_reply_recv_port_untouched",
        expect_errno(r, errno::EAGAIN),
    );
    let _ = raw(sys::HANDLE_CLOSE, [port, 0, 0, 0, 0, 0]);
}

/// The file syscalls (36..=51): bad path, buffer and output pointers, over-long and
/// empty paths, bad descriptors, flags, whence values and lengths.
fn check_files(s: &mut Suite, m: &Scratch) {
    let good = GOOD_PATH;
    let (gp, gl) = (good.as_ptr() as usize, good.len());
    // Calls taking a path first, with zero or harmless other arguments.
    let path_calls = [
        ("open", sys::OPEN),
        ("stat", sys::STAT),
        ("statfs", sys::STATFS),
        ("mkdir", sys::MKDIR),
        ("rmdir", sys::RMDIR),
        ("unlink", sys::UNLINK),
        ("rename", sys::RENAME),
        ("truncate", sys::TRUNCATE),
        ("chdir", sys::CHDIR),
        ("utimens", sys::UTIMENS),
    ];
    let long = alloc::vec![b'a'; PATH_MAX + 1];
    for (call, n) in path_calls {
        for (name, ptr) in m.bad_ptrs() {
            let r = raw(n, [ptr, LEN, 0, 0, 0, 0]);
            s.check(&format!("{call}_path_{name}"), expect_errno(r, EFAULT));
        }
        let r = raw(n, [long.as_ptr() as usize, long.len(), 0, 0, 0, 0]);
        s.check(
            &format!("{call}_path_too_long"),
            expect_errno(r, ENAMETOOLONG),
        );
        let r = raw(n, [m.tail, usize::MAX, 0, 0, 0, 0]);
        s.check(
            &format!("{call}_path_len_huge"),
            expect_errno(r, ENAMETOOLONG),
        );
        let r = raw(n, [gp, 0, 0, 0, 0, 0]);
        s.check(&format!("{call}_path_empty"), expect_errno(r, ENOENT));
    }
    for (name, ptr) in m.bad_ptrs() {
        let r = raw(sys::RENAME, [gp, gl, ptr, LEN, 0, 0]);
        s.check(&format!("rename_new_{name}"), expect_errno(r, EFAULT));
    }
    // Output structures.
    for (name, ptr) in m.bad_ptrs().into_iter().chain(m.readonly_ptrs()) {
        let r = raw(sys::STAT, [gp, gl, ptr, 0, 0, 0]);
        s.check(&format!("stat_buf_{name}"), expect_errno(r, EFAULT));
        let r = raw(sys::STATFS, [gp, gl, ptr, 0, 0, 0]);
        s.check(&format!("statfs_buf_{name}"), expect_errno(r, EFAULT));
        let r = raw(sys::FSTAT, [0, ptr, 0, 0, 0, 0]);
        s.check(&format!("fstat_buf_{name}"), expect_errno(r, EFAULT));
        let r = raw(sys::GETCWD, [ptr, LEN, 0, 0, 0, 0]);
        s.check(&format!("getcwd_buf_{name}"), expect_errno(r, EFAULT));
    }
    let r = raw(sys::GETCWD, [m.rw, 0, 0, 0, 0, 0]);
    s.check("getcwd_len_zero", expect_errno(r, errno::ERANGE));
    // A null times pointer means "now"; every other bad one is a fault.
    for (name, ptr) in m.bad_ptrs().into_iter().filter(|&(_, p)| p != 0) {
        let r = raw(sys::UTIMENS, [gp, gl, ptr, 0, 0, 0]);
        s.check(&format!("utimens_times_{name}"), expect_errno(r, EFAULT));
    }
    // A times array whose second entry has a bad nsec.
    let times = [
        Timespec { sec: 1, nsec: 0 },
        Timespec {
            sec: 1,
            nsec: 1_000_000_000,
        },
    ];
    let r = raw(sys::UTIMENS, [gp, gl, times.as_ptr() as usize, 0, 0, 0]);
    s.check("utimens_nsec_out_of_range", expect_errno(r, EINVAL));
    // Flags and modes.
    for (name, flags) in [
        ("accmode_3", 3),
        ("unknown_bit", 1 << 30),
        ("creat_directory", 0o100 | 0o200_000),
        ("huge", usize::MAX),
    ] {
        let r = raw(sys::OPEN, [gp, gl, flags, 0, 0, 0]);
        s.check(&format!("open_flags_{name}"), expect_errno(r, EINVAL));
    }
    // Descriptors.
    for fd in [1000, usize::MAX] {
        let fdn = fd as isize;
        let r = raw(sys::LSEEK, [fd, 0, 0, 0, 0, 0]);
        s.check(&format!("lseek_fd_{fdn}"), expect_errno(r, EBADF));
        let r = raw(sys::FSTAT, [fd, m.rw, 0, 0, 0, 0]);
        s.check(&format!("fstat_fd_{fdn}"), expect_errno(r, EBADF));
        let r = raw(sys::GETDENTS, [fd, m.rw, LEN, 0, 0, 0]);
        s.check(&format!("getdents_fd_{fdn}"), expect_errno(r, EBADF));
        let r = raw(sys::FTRUNCATE, [fd, 0, 0, 0, 0, 0]);
        s.check(&format!("ftruncate_fd_{fdn}"), expect_errno(r, EBADF));
        let r = raw(sys::DUP, [fd, 0, 0, 0, 0, 0]);
        s.check(&format!("dup_fd_{fdn}"), expect_errno(r, EBADF));
    }
    let file = match libway::fs::File::open(good) {
        Ok(f) => f,
        Err(e) => {
            s.check("open_good_path", Err(format!("{good}: {e}")));
            return;
        }
    };
    for whence in [3, usize::MAX] {
        let r = raw(sys::LSEEK, [file.fd(), 0, whence, 0, 0, 0]);
        s.check(
            &format!("lseek_whence_{whence:#x}"),
            expect_errno(r, EINVAL),
        );
    }
    let r = raw(sys::LSEEK, [file.fd(), usize::MAX, 0, 0, 0, 0]);
    s.check("lseek_negative", expect_errno(r, EINVAL));
    // Read-only, and a negative length.
    let r = raw(sys::FTRUNCATE, [file.fd(), 0, 0, 0, 0, 0]);
    s.check("ftruncate_read_only", expect_errno(r, EINVAL));
    let r = raw(sys::FTRUNCATE, [file.fd(), usize::MAX, 0, 0, 0, 0]);
    s.check("ftruncate_negative", expect_errno(r, EINVAL));
    let r = raw(sys::TRUNCATE, [gp, gl, usize::MAX, 0, 0, 0]);
    s.check("truncate_negative", expect_errno(r, EINVAL));
    let r = raw(sys::GETDENTS, [file.fd(), m.rw, PAGE, 0, 0, 0]);
    s.check("getdents_not_a_dir", expect_errno(r, errno::ENOTDIR));
    let dir = match libway::fs::File::open("/") {
        Ok(f) => f,
        Err(e) => {
            s.check("open_root", Err(format!("/: {e}")));
            return;
        }
    };
    for (name, ptr) in m.bad_ptrs().into_iter().chain(m.readonly_ptrs()) {
        let r = raw(sys::GETDENTS, [dir.fd(), ptr, LEN + 16, 0, 0, 0]);
        s.check(&format!("getdents_buf_{name}"), expect_errno(r, EFAULT));
    }
    let r = raw(sys::GETDENTS, [dir.fd(), m.rw, usize::MAX, 0, 0, 0]);
    s.check("getdents_len_wraps", expect_errno(r, EFAULT));
    // 16 writable bytes, then the hole: refused, and no entry is consumed.
    let r = expect_errno(
        raw(sys::GETDENTS, [dir.fd(), m.tail, PAGE, 0, 0, 0]),
        EFAULT,
    )
    .and_then(|()| {
        let mut buf = [0u8; 64];
        let n = libway::fs::getdents(dir.fd(), &mut buf).map_err(|e| format!("{e}"))?;
        let first = libway::fs::dirents(&buf[..n])
            .next()
            .map(|e| String::from(e.2));
        match first.as_deref() {
            Some(".") => Ok(()),
            other => Err(format!("first entry after the fault: {other:?}")),
        }
    });
    s.check("getdents_into_hole_consumes_nothing", r);
    let r = raw(sys::GETDENTS, [dir.fd(), m.rw, 8, 0, 0, 0]);
    s.check("getdents_buf_too_small", expect_errno(r, EINVAL));
}

/// The NIC calls (`docs/net.md`): `net_info` and `net_attach` output buffers that cannot
/// take a `NicInfo` are `EFAULT` (and attach nothing); bad handles are `EBADF`, handles of
/// the wrong kind `EINVAL`. Without a NIC (`--net none`) every call is `ENODEV` first.
fn check_net(s: &mut Suite, m: &Scratch) {
    let mut info = libway::abi::net::NicInfo::default();
    let have_nic = raw(sys::NET_INFO, [0, &mut info as *mut _ as usize, 0, 0, 0, 0]).is_ok();
    let fault = if have_nic { EFAULT } else { errno::ENODEV };
    for (name, ptr) in m.bad_ptrs().into_iter().chain(m.readonly_ptrs()) {
        let r = raw(sys::NET_INFO, [0, ptr, 0, 0, 0, 0]);
        s.check(&format!("net_info_buf_{name}"), expect_errno(r, fault));
    }
    let r = raw(
        sys::NET_INFO,
        [usize::MAX, &mut info as *mut _ as usize, 0, 0, 0, 0],
    );
    s.check("net_info_past_last_nic", expect_errno(r, errno::ENODEV));
    let port = match libway::ipc::Port::create(1) {
        Ok(p) => p,
        Err(e) => {
            s.check("net_port", Err(format!("port_create: {e}")));
            return;
        }
    };
    // The capability comes first (typed at the shell, the suite lacks it), then the NIC.
    let netraw = libway::caps::has(libway::abi::caps::NET_RAW);
    let first = |e| {
        if !netraw {
            EPERM
        } else if !have_nic {
            errno::ENODEV
        } else {
            e
        }
    };
    // Not null: with a good port that would attach.
    for (name, ptr) in m.bad_ptrs().into_iter().skip(1).chain(m.readonly_ptrs()) {
        let r = raw(sys::NET_ATTACH, [0, port.raw() as usize, ptr, 0, 0, 0]);
        s.check(
            &format!("net_attach_info_{name}"),
            expect_errno(r, first(EFAULT)),
        );
    }
    let r = raw(sys::NET_ATTACH, [0, 0xdead_beef, 0, 0, 0, 0]);
    s.check("net_attach_bad_port", expect_errno(r, first(EBADF)));
    let r = raw(sys::NET_KICK, [0xdead_beef, 0, 0, 0, 0, 0]);
    s.check("net_kick_bad_handle", expect_errno(r, EBADF));
    let r = raw(sys::NET_KICK, [port.raw() as usize, 0, 0, 0, 0, 0]);
    s.check("net_kick_port_handle", expect_errno(r, EINVAL));
}

/// The memory-tier calls (`docs/memory.md`): output buffers that cannot take a record
/// are `EFAULT`, ranges outside the user window `ENOMEM` (aligned) or `EINVAL`.
fn check_memtier(s: &mut Suite, m: &Scratch) {
    use libway::abi::memtier::{INFO_DAEMON, INFO_PROCS, INFO_TIERS, POLICY_FAR};
    // Room for a few whole records of any kind (the biggest, `DaemonInfo`, is 64 bytes).
    let room = 256;
    for (what, tag) in [
        (INFO_TIERS, "tiers"),
        (INFO_PROCS, "procs"),
        (INFO_DAEMON, "daemon"),
    ] {
        for (name, ptr) in m.bad_ptrs().into_iter().chain(m.readonly_ptrs()) {
            let r = raw(sys::MEMTIER_INFO, [what as usize, ptr, room, 0, 0, 0]);
            s.check(
                &format!("memtier_info_{tag}_buf_{name}"),
                expect_errno(r, EFAULT),
            );
        }
    }
    let page = PAGE_SIZE;
    for (name, addr) in [
        ("past_user_end", USER_END),
        ("kernel_direct_map", KERNEL_DIRECT),
        ("kernel_text", KERNEL_TEXT),
        ("noncanonical", NONCANONICAL),
        ("below_user_base", USER_BASE - page),
    ] {
        let r = raw(sys::MEM_ADVISE, [addr, page, POLICY_FAR as usize, 0, 0, 0]);
        s.check(&format!("mem_advise_{name}"), expect_errno(r, ENOMEM));
    }
    let r = raw(
        sys::MEM_ADVISE,
        [m.rw, usize::MAX, POLICY_FAR as usize, 0, 0, 0],
    );
    s.check("mem_advise_len_wraps", expect_errno(r, ENOMEM));
    let r = raw(
        sys::MEM_ADVISE,
        [m.rw + 1, page, POLICY_FAR as usize, 0, 0, 0],
    );
    s.check("mem_advise_unaligned", expect_errno(r, EINVAL));
    let r = raw(sys::MEM_ADVISE, [m.rw, page, usize::MAX, 0, 0, 0]);
    s.check("mem_advise_policy_max", expect_errno(r, EINVAL));
    let r = raw(sys::MEM_POLICY, [usize::MAX, 0, 0, 0, 0, 0]);
    s.check("mem_policy_max", expect_errno(r, EINVAL));
}

fn check_misc(s: &mut Suite, m: &Scratch) {
    for class in [sched::CLASSES, usize::MAX, (1 << 32) | sched::NORMAL] {
        let r = raw(sys::SET_PRIORITY, [class, 0, 0, 0, 0, 0]);
        s.check(&format!("set_priority_{class:#x}"), expect_errno(r, EINVAL));
    }
    // The kernel copies min(len, line length) bytes, so with an empty command line (a
    // plain `cargo xtask run`) it never touches the buffer and a bad one is not an error.
    match process::cmdline() {
        Ok(line) if line.is_empty() => s.skip(
            "the get_cmdline bad-buffer checks",
            "the kernel command line is empty: nothing is copied",
        ),
        _ => {
            for (name, ptr) in m.bad_ptrs().into_iter().chain(m.readonly_ptrs()) {
                let r = raw(sys::GET_CMDLINE, [ptr, LEN, 0, 0, 0, 0]);
                s.check(&format!("get_cmdline_buf_{name}"), expect_errno(r, EFAULT));
            }
        }
    }
    // Not init: refused. (Success = 0, so a wrongly accepted call ends the run as failed.)
    s.check(
        "shutdown_not_init",
        expect_errno(raw(sys::SHUTDOWN, [0; 6]), EPERM),
    );
    for n in [
        sys::COUNT,
        sys::COUNT + 1,
        9999,
        usize::MAX,
        (1 << 32) | sys::GETPID,
    ] {
        s.check(
            &format!("syscall_{n:#x}"),
            expect_errno(raw(n, [0; 6]), ENOSYS),
        );
    }
}

fn main(_args: Args) -> i32 {
    println!("badsys: calling every syscall with bad arguments");
    let mut s = Suite::new("badsys");
    let m = match Scratch::new() {
        Ok(m) => m,
        Err(e) => {
            s.check("setup", Err(e));
            return s.finish();
        }
    };
    // Wait first, while badsys has no children yet.
    check_wait(&mut s, &m);
    check_write(&mut s, &m);
    check_read(&mut s, &m);
    check_klog_read(&mut s, &m);
    check_no_arg_calls(&mut s);
    check_spawn_execve(&mut s, &m);
    check_mmap(&mut s, &m);
    check_munmap_mprotect(&mut s, &m);
    check_time(&mut s, &m);
    check_grant(&mut s, &m);
    check_port_reply_recv(&mut s, &m);
    check_files(&mut s, &m);
    check_memtier(&mut s, &m);
    check_net(&mut s, &m);
    check_misc(&mut s, &m);
    let r = match process::getpid() {
        Ok(pid) if pid > 0 => Ok(()),
        other => Err(format!("getpid() = {other:?} after all of the above")),
    };
    s.check("kernel_still_answers", r);
    s.finish()
}
