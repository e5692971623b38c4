//! Bad arguments to `mmap`'s policy bits, `mem_advise`, `mem_policy`, `memtier_info` and
//! `memtier_set`: each gets its errno and changes nothing. `memtier_set` needs the
//! `memtier` capability: with it (under the harness, init's set) the values are checked
//! and a change is seen and undone; without it (the shell's set), and in a child that
//! dropped it, every call is `EPERM` and nothing changes.

use alloc::format;

use libway::abi::caps::MEMTIER;
use libway::abi::errno::{EFAULT, EINVAL, ENOMEM, EPERM};
use libway::abi::memtier::{
    DaemonInfo, TierInfo, INFO_TIERS, POLICY_AUTO, POLICY_COUNT, POLICY_DEFAULT, POLICY_FAR,
    SET_BUDGET_PAGES, SET_DEFAULT_POLICY, SET_ENABLED, SET_PERIOD_MS,
};
use libway::abi::mman::{map_policy, MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE};
use libway::abi::sys;
use libway::errno::Errno;
use libway::suite::{expect_eq, expect_errno, expect_exit, in_child, Check, Context, Suite};
use libway::{caps, mem, memtier};

use super::Machine;

pub fn run(s: &mut Suite, _m: &Machine) {
    s.check("bad_mmap_policy_bits", bad_mmap());
    s.check("bad_mem_advise", bad_advise());
    s.check("bad_mem_policy", bad_policy());
    s.check("bad_memtier_info", bad_info());
    s.check("memtier_info_partial_buffer", partial_info());
    if caps::has(MEMTIER) {
        s.check("memtier_set_checks_values", set_values());
        s.check("memtier_set_default_policy_takes_effect", set_default());
    }
    s.check("memtier_set_needs_capability", set_needs_cap());
}

/// A raw syscall, for arguments the typed wrappers cannot express.
fn raw(n: usize, args: [usize; 6]) -> Result<usize, Errno> {
    // SAFETY: the calls made here pass no pointer the kernel may write through, or a
    // pointer the test says the kernel must refuse (unmapped, kernel half).
    unsafe { libway::sys::call(n, args) }
}

fn bad_mmap() -> Check {
    let flags = MAP_PRIVATE | MAP_ANONYMOUS;
    for p in [POLICY_COUNT, 7, 15] {
        expect_errno(
            mem::mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, flags | map_policy(p)),
            EINVAL,
        )
        .context(&format!("policy {p}"))?;
    }
    // Bits above the policy field are still unknown flags.
    expect_errno(
        mem::mmap(0, PAGE_SIZE, PROT_READ, flags | (1 << 40)),
        EINVAL,
    )
    .context("bit 40")
}

fn bad_advise() -> Check {
    let len = 4 * PAGE_SIZE;
    let addr = mem::map_anonymous(len, false).context("mmap")?;
    let r = (|| {
        expect_errno(memtier::advise(addr + 1, PAGE_SIZE, POLICY_FAR), EINVAL)
            .context("unaligned")?;
        expect_errno(memtier::advise(addr, 0, POLICY_FAR), EINVAL).context("zero length")?;
        expect_errno(memtier::advise(addr, len, POLICY_COUNT), EINVAL).context("policy 5")?;
        expect_errno(
            raw(sys::MEM_ADVISE, [addr, len, 1 << 32 | 1, 0, 0, 0]),
            EINVAL,
        )
        .context("policy past u32")?;
        expect_errno(memtier::advise(addr, len + PAGE_SIZE, POLICY_FAR), ENOMEM)
            .context("past the mapping")?;
        expect_errno(memtier::advise(0x1000, PAGE_SIZE, POLICY_FAR), ENOMEM).context("unmapped")?;
        expect_errno(
            memtier::advise(0xffff_8000_0000_0000, PAGE_SIZE, POLICY_FAR),
            ENOMEM,
        )
        .context("kernel half")?;
        expect_errno(
            memtier::advise(usize::MAX & !(PAGE_SIZE - 1), 2 * PAGE_SIZE, POLICY_FAR),
            ENOMEM,
        )
        .context("wrapping range")?;
        // A refused call left the mapping's policy alone: its pages still go near.
        expect_eq(memtier::advise(addr, len, POLICY_DEFAULT), Ok(())).context("reset")
    })();
    // SAFETY: the mapping was made above and nothing else refers to it.
    unsafe { mem::munmap(addr, len) }.context("munmap")?;
    r
}

fn bad_policy() -> Check {
    let before = memtier::policy().context("query")?;
    for p in [POLICY_COUNT, 1000, u32::MAX - 1] {
        expect_errno(memtier::set_policy(p), EINVAL).context(&format!("policy {p}"))?;
    }
    expect_errno(raw(sys::MEM_POLICY, [1 << 33, 0, 0, 0, 0, 0]), EINVAL).context("past u32")?;
    expect_eq(memtier::policy(), Ok(before)).context("unchanged")
}

fn bad_info() -> Check {
    let len = core::mem::size_of::<TierInfo>() * 2;
    expect_errno(raw(sys::MEMTIER_INFO, [3, 0, 0, 0, 0, 0]), EINVAL).context("selector 3")?;
    expect_errno(raw(sys::MEMTIER_INFO, [1 << 32, 0, 0, 0, 0, 0]), EINVAL)
        .context("selector past u32")?;
    expect_errno(
        raw(
            sys::MEMTIER_INFO,
            [INFO_TIERS as usize, 0x1000, len, 0, 0, 0],
        ),
        EFAULT,
    )
    .context("unmapped buffer")?;
    expect_errno(
        raw(
            sys::MEMTIER_INFO,
            [INFO_TIERS as usize, 0xffff_8000_0000_0000, len, 0, 0, 0],
        ),
        EFAULT,
    )
    .context("kernel buffer")?;
    // Room for nothing: the count, nothing written (a null buffer is never touched).
    let n = raw(sys::MEMTIER_INFO, [INFO_TIERS as usize, 0, 0, 0, 0, 0]).context("len 0")?;
    expect_eq(n, memtier::tiers().context("tiers")?.len()).context("count with len 0")
}

fn partial_info() -> Check {
    let all = memtier::tiers().context("tiers")?;
    let mut buf = [TierInfo {
        tier: 0xdead,
        ..TierInfo::default()
    }; 2];
    let one = core::mem::size_of::<TierInfo>();
    // Room for one and a half records: one is written, the count is all of them.
    let n = raw(
        sys::MEMTIER_INFO,
        [
            INFO_TIERS as usize,
            buf.as_mut_ptr() as usize,
            one + one / 2,
            0,
            0,
            0,
        ],
    )
    .context("memtier_info")?;
    expect_eq(n, all.len()).context("count")?;
    expect_eq(buf[0].tier, all[0].tier).context("first record")?;
    expect_eq(buf[1].tier, 0xdead).context("second record untouched")?;
    // The daemon record does not fit in fewer bytes than it has.
    let mut d = DaemonInfo {
        period_ms: 0xdead,
        ..DaemonInfo::default()
    };
    let n = raw(
        sys::MEMTIER_INFO,
        [
            2,
            &mut d as *mut DaemonInfo as usize,
            core::mem::size_of::<DaemonInfo>() - 1,
            0,
            0,
            0,
        ],
    )
    .context("daemon info")?;
    expect_eq((n, d.period_ms), (1, 0xdead)).context("short daemon buffer")
}

fn set_values() -> Check {
    let d = memtier::daemon().context("daemon")?;
    for (param, bad) in [
        (SET_ENABLED, 2u32),
        (SET_PERIOD_MS, 9),
        (SET_PERIOD_MS, 60_001),
        (SET_BUDGET_PAGES, 0),
        (SET_BUDGET_PAGES, 65_537),
        (SET_DEFAULT_POLICY, POLICY_DEFAULT),
        (SET_DEFAULT_POLICY, POLICY_COUNT),
        (4, 1),
    ] {
        expect_errno(memtier::set(param, bad), EINVAL).context(&format!("set({param}, {bad})"))?;
    }
    expect_errno(
        raw(
            sys::MEMTIER_SET,
            [SET_PERIOD_MS as usize, 1 << 32 | 100, 0, 0, 0, 0],
        ),
        EINVAL,
    )
    .context("value past u32")?;
    expect_eq(memtier::daemon().context("daemon")?, d).context("nothing changed")?;
    // A good value round-trips and comes back.
    let old = memtier::set(SET_PERIOD_MS, 250).context("set period")?;
    expect_eq(old, d.period_ms).context("old period")?;
    expect_eq(memtier::daemon().context("daemon")?.period_ms, 250).context("new period")?;
    expect_eq(memtier::set(SET_PERIOD_MS, old), Ok(250)).context("restore")
}

/// The system default applies to a process whose own default is `POLICY_DEFAULT`.
fn set_default() -> Check {
    let old = memtier::set(SET_DEFAULT_POLICY, POLICY_AUTO).context("set")?;
    let seen = memtier::daemon().map(|d| d.default_policy);
    let back = memtier::set(SET_DEFAULT_POLICY, old);
    expect_eq(seen, Ok(POLICY_AUTO)).context("daemon record")?;
    expect_eq(back, Ok(POLICY_AUTO)).context("restore")?;
    // A process whose own default is `default` now follows the system's: a child that
    // resets its default maps far pages while the system default is far.
    let old = memtier::set(SET_DEFAULT_POLICY, POLICY_FAR).context("set far")?;
    let status = in_child(|| {
        let ok =
            memtier::set_policy(POLICY_DEFAULT).is_ok() && memtier::policy() == Ok(POLICY_DEFAULT);
        let Ok(pid) = libway::process::getpid() else {
            return 3;
        };
        let len = 8 * PAGE_SIZE;
        let Ok(addr) = mem::map_anonymous(len, false) else {
            return 3;
        };
        let b = super::resident(pid as u64);
        super::touch(addr, 8);
        let a = super::resident(pid as u64);
        let two = memtier::tiers().is_ok_and(|t| t.len() == 2);
        match (b, a) {
            (Ok(b), Ok(a)) if ok && (!two || a[1] >= b[1] + 8) => 0,
            _ => 4,
        }
    });
    let back = memtier::set(SET_DEFAULT_POLICY, old);
    expect_exit(status?, 0).context("child following the system default")?;
    expect_eq(back, Ok(POLICY_FAR)).context("restore")?;
    Ok(())
}

fn set_needs_cap() -> Check {
    let before = memtier::daemon().context("daemon")?;
    let status = in_child(|| {
        if caps::drop(MEMTIER).is_err() {
            return 3;
        }
        let r = [
            memtier::set(SET_DEFAULT_POLICY, POLICY_FAR),
            memtier::set(SET_ENABLED, 1),
            memtier::set(SET_PERIOD_MS, 100),
            memtier::set(99, 0),
        ];
        if r.iter().all(|r| *r == Err(Errno(EPERM))) {
            0
        } else {
            4
        }
    })?;
    expect_exit(status, 0).context("child without the capability")?;
    if !caps::has(MEMTIER) {
        expect_errno(memtier::set(SET_DEFAULT_POLICY, POLICY_FAR), EPERM)
            .context("this process")?;
    }
    expect_eq(memtier::daemon().context("daemon")?, before).context("nothing changed")
}
