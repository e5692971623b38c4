//! Long kernel work on a user's behalf stays bounded: `munmap` and `mprotect` of a huge
//! range cost what is mapped in it, not its length, and a sibling thread keeps running
//! meanwhile; `getcwd` of a very deep directory gives `ERANGE`/`ENAMETOOLONG` without
//! building a path of unbounded length first.

use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use libway::abi::errno::{ENAMETOOLONG, ERANGE};
use libway::abi::limits::PATH_MAX;
use libway::abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_NONE, PROT_READ, PROT_WRITE};
use libway::abi::sys;
use libway::suite::{expect_errno, expect_exit, explain_exit, in_child, wait_for, Check, Suite};
use libway::{fs, mem, process, thread, time};

/// The range length the attack used: 112 TiB, most of the user half.
const HUGE: usize = 0x7000_0000_0000;
const PAGE: usize = 4096;
/// How long one huge `munmap` or `mprotect` may take (under QEMU TCG, on a busy host).
const OP_LIMIT_MS: u64 = 10_000;

static SPINS: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicBool = AtomicBool::new(false);

fn now_us() -> u64 {
    time::monotonic_ns().unwrap_or(0) / 1000
}

/// In a child: reserves `HUGE` bytes (PROT_NONE, nothing touched), runs `op` on the whole
/// range while a sibling thread spins, and checks the sibling kept running. Exit codes
/// say what failed.
fn huge_op(what: &'static str, op: fn(usize) -> i32) -> Check {
    let pid = process::fork().map_err(|e| format!("fork: {e}"))?;
    if pid == 0 {
        let sibling = thread::spawn(|| {
            while !STOP.load(Ordering::Relaxed) {
                SPINS.fetch_add(1, Ordering::Relaxed);
                core::hint::spin_loop();
            }
        });
        let Ok(sibling) = sibling else {
            process::exit(2)
        };
        let Ok(addr) = mem::mmap(0, HUGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS) else {
            process::exit(3)
        };
        let before = SPINS.load(Ordering::Relaxed);
        let t0 = now_us();
        let r = op(addr);
        let took = now_us() - t0;
        libway::println!("  note {what} of {HUGE:#x} bytes took {took} us");
        if r != 0 {
            process::exit(r);
        }
        // The sibling ran meanwhile or, at the latest, right after.
        let t1 = now_us();
        while SPINS.load(Ordering::Relaxed) == before {
            if now_us() - t1 > 2_000_000 {
                process::exit(4);
            }
            let _ = process::sched_yield();
        }
        STOP.store(true, Ordering::Relaxed);
        let _ = sibling.join();
        process::exit(0);
    }
    let status = wait_for(pid, OP_LIMIT_MS).map_err(|e| format!("{what} did not return: {e}"))?;
    expect_exit(status, 0).map_err(explain_exit(
        status,
        &[
            (2, "no sibling thread"),
            (3, "the huge mmap failed"),
            (4, "the sibling thread stopped"),
            (5, "the syscall failed"),
            (6, "touched pages lost their contents"),
        ],
    ))
}

/// Pages inside the range that get touched, so the walk has something to find.
fn probes(addr: usize) -> [usize; 3] {
    [addr, addr + HUGE / 2, addr + HUGE - PAGE]
}

fn protect_all(addr: usize) -> i32 {
    // SAFETY: the range is this child's own PROT_NONE reservation; nothing lives there.
    if unsafe { mem::mprotect(addr, HUGE, PROT_READ | PROT_WRITE) }.is_err() {
        return 5;
    }
    for (i, p) in probes(addr).into_iter().enumerate() {
        // SAFETY: now mapped read-write, and nothing else uses it.
        unsafe { (p as *mut u64).write_volatile(i as u64 + 7) };
    }
    // SAFETY: as above; the range is only read from here on.
    if unsafe { mem::mprotect(addr, HUGE, PROT_READ) }.is_err() {
        return 5;
    }
    for (i, p) in probes(addr).into_iter().enumerate() {
        // SAFETY: mapped readable.
        if unsafe { (p as *const u64).read_volatile() } != i as u64 + 7 {
            return 6;
        }
    }
    0
}

fn unmap_all(addr: usize) -> i32 {
    // SAFETY: the child's own reservation.
    if unsafe { mem::mprotect(addr, PAGE, PROT_READ | PROT_WRITE) }.is_err() {
        return 5;
    }
    // SAFETY: just made writable.
    unsafe { (addr as *mut u64).write_volatile(1) };
    // SAFETY: nothing in the range is used after this.
    if unsafe { mem::munmap(addr, HUGE) }.is_err() {
        return 5;
    }
    0
}

fn getcwd_raw(buf: &mut [u8]) -> Result<usize, libway::errno::Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we own.
    unsafe {
        libway::sys::call(
            sys::GETCWD,
            [buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0, 0],
        )
    }
}

/// A working directory deeper than `PATH_MAX`: a small buffer gets `ERANGE`, a big one
/// `ENAMETOOLONG` (the path cannot be used anywhere), and nothing else breaks.
fn deep_getcwd() -> Check {
    let status = in_child(|| {
        let name: String = core::iter::repeat_n('d', 250).collect();
        let root = "/tmp/hardtest-deep";
        if fs::create_dir(root).is_err() || fs::chdir(root).is_err() {
            return 2;
        }
        let depth = PATH_MAX / 251 + 4;
        for _ in 0..depth {
            if fs::create_dir(&name).is_err() || fs::chdir(&name).is_err() {
                return 3;
            }
        }
        let mut small = [0u8; 64];
        if expect_errno(getcwd_raw(&mut small), ERANGE).is_err() {
            return 4;
        }
        let mut big = alloc::vec![0u8; 1 << 16];
        let r = getcwd_raw(&mut big);
        if expect_errno(r, ENAMETOOLONG).is_err() {
            return 5;
        }
        // Clean up from the bottom.
        for _ in 0..depth {
            if fs::chdir("..").is_err() || fs::remove_dir(&name).is_err() {
                return 6;
            }
        }
        if fs::chdir("/").is_err() || fs::remove_dir(root).is_err() {
            return 6;
        }
        0
    })?;
    expect_exit(status, 0).map_err(explain_exit(
        status,
        &[
            (2, "mkdir/chdir of the root failed"),
            (3, "building the tree failed"),
            (4, "small buffer: not ERANGE"),
            (5, "large buffer: not ENAMETOOLONG"),
            (6, "cleanup failed"),
        ],
    ))
}

/// Shared one-page mappings made (and then unmapped) one by one: each is its own shared
/// object and VMA. Checking every object against every VMA on each call made this
/// cubic: about N³/6 steps.
const SHARED_MAPS: usize = 1200;
/// How long the whole run may take.
const SHARED_LIMIT_MS: u64 = 20_000;

/// Many shared mappings cost what each call changes, not objects × VMAs.
fn many_shared_mappings() -> Check {
    let pid = process::fork().map_err(|e| format!("fork: {e}"))?;
    if pid == 0 {
        let mut addrs = alloc::vec::Vec::new();
        let t0 = now_us();
        for _ in 0..SHARED_MAPS {
            match mem::map_anonymous(PAGE, true) {
                Ok(a) => addrs.push(a),
                Err(_) => process::exit(2),
            }
        }
        for a in addrs {
            // SAFETY: the child's own mapping, not used again.
            if unsafe { mem::munmap(a, PAGE) }.is_err() {
                process::exit(3);
            }
        }
        let took = now_us() - t0;
        libway::println!("  note {SHARED_MAPS} shared mmaps and munmaps took {took} us");
        process::exit(0);
    }
    let status = wait_for(pid, SHARED_LIMIT_MS).map_err(|e| format!("too slow: {e}"))?;
    expect_exit(status, 0).map_err(explain_exit(
        status,
        &[(2, "mmap failed"), (3, "munmap failed")],
    ))
}

pub fn run(s: &mut Suite) {
    s.check("deep_getcwd_bounded", deep_getcwd());
    s.check("many_shared_mappings_stay_cheap", many_shared_mappings());
    s.check(
        "mprotect_huge_range_returns",
        huge_op("mprotect", protect_all),
    );
    s.check("munmap_huge_range_returns", huge_op("munmap", unmap_all));
}
