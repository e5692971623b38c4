//! Placement hints honoured: `mmap` policy bits, shared mappings, `mem_advise` (whole and
//! part of a mapping), the process default (`mem_policy`), interleave, and copy-on-write
//! copies following their mapping's policy; fork and spawn pass the default on.
//!
//! Far counts are exact (nothing else in this process goes far); near counts are at
//! least what was asked, since the heap and stack may grow near meanwhile. On a machine
//! with one tier every page goes near and no far page may appear.

use alloc::format;

use libway::abi::memtier::{POLICY_AUTO, POLICY_FAR, POLICY_INTERLEAVE, POLICY_NEAR};
use libway::abi::mman::PAGE_SIZE;
use libway::memtier;
use libway::process;
use libway::suite::{expect_eq, expect_exit, in_child, wait_for, Check, Context, Suite};

use super::{growth, resident, touch, Machine};

/// Pages each case maps (even, so interleave splits it exactly in two).
const PAGES: usize = 64;
/// Exit code a child uses for "my check failed" (its reason is printed first).
const CHILD_FAILED: i32 = 3;

pub fn run(s: &mut Suite, m: &Machine) {
    s.check(
        "mmap_near_policy",
        mapped(m, POLICY_NEAR, false, [PAGES, 0]),
    );
    s.check("mmap_far_policy", mapped(m, POLICY_FAR, false, [0, PAGES]));
    s.check(
        "mmap_interleave_policy",
        mapped(m, POLICY_INTERLEAVE, false, [PAGES / 2, PAGES / 2]),
    );
    s.check(
        "mmap_auto_policy_starts_near",
        mapped(m, POLICY_AUTO, false, [PAGES, 0]),
    );
    s.check(
        "shared_mapping_far_policy",
        mapped(m, POLICY_FAR, true, [0, PAGES]),
    );
    s.check("mem_advise_before_touch", advised(m));
    s.check("mem_advise_part_of_a_mapping", advised_half(m));
    s.check("mem_policy_default_far", process_default(m));
    s.check(
        "mapping_policy_beats_process_default",
        mapping_beats_default(m),
    );
    s.check("fork_inherits_default_policy", fork_inherits(m));
    s.check("spawn_inherits_default_policy", spawn_inherits());
    s.check("cow_copy_follows_mapping_policy", cow_copy(m));
}

/// What `[near, far]` pages a request comes to on this machine: with one tier, far
/// pages are near ones.
fn on_machine(m: &Machine, want: [usize; 2]) -> [u64; 2] {
    if m.two_tiers() {
        [want[0] as u64, want[1] as u64]
    } else {
        [(want[0] + want[1]) as u64, 0]
    }
}

/// Near grew by at least `want[0]`, far by exactly `want[1]`.
fn expect_growth(got: [u64; 2], want: [u64; 2]) -> Check {
    if got[1] != want[1] || got[0] < want[0] || got[0] > want[0] + 16 {
        return Err(format!(
            "resident pages grew by near {} far {}, want near {}(+16) far {}",
            got[0], got[1], want[0], want[1]
        ));
    }
    Ok(())
}

/// Maps, touches and unmaps `PAGES` pages; returns the growth while they were there.
fn map_touch(m: &Machine, policy: u32, shared: bool) -> Result<[u64; 2], alloc::string::String> {
    let len = PAGES * PAGE_SIZE;
    let addr = memtier::map_with_policy(len, shared, policy).context("mmap")?;
    let got = growth(m.pid, || {
        touch(addr, PAGES);
        Ok(())
    });
    // SAFETY: the mapping was made above and nothing else refers to it.
    unsafe { libway::mem::munmap(addr, len) }.context("munmap")?;
    got
}

fn mapped(m: &Machine, policy: u32, shared: bool, want: [usize; 2]) -> Check {
    expect_growth(map_touch(m, policy, shared)?, on_machine(m, want))
}

fn advised(m: &Machine) -> Check {
    let len = PAGES * PAGE_SIZE;
    let addr = libway::mem::map_anonymous(len, false).context("mmap")?;
    let r = memtier::advise(addr, len, POLICY_FAR)
        .context("mem_advise")
        .and_then(|_| {
            growth(m.pid, || {
                touch(addr, PAGES);
                Ok(())
            })
        });
    // SAFETY: the mapping was made above and nothing else refers to it.
    unsafe { libway::mem::munmap(addr, len) }.context("munmap")?;
    expect_growth(r?, on_machine(m, [0, PAGES]))
}

/// The second half of a mapping advised far: the mapping splits, and each half keeps its
/// own policy.
fn advised_half(m: &Machine) -> Check {
    let len = PAGES * PAGE_SIZE;
    let addr = libway::mem::map_anonymous(len, false).context("mmap")?;
    let half = len / 2;
    let r = memtier::advise(addr + half, half, POLICY_FAR)
        .context("mem_advise")
        .and_then(|_| {
            growth(m.pid, || {
                touch(addr, PAGES);
                Ok(())
            })
        });
    // SAFETY: the mapping was made above and nothing else refers to it.
    unsafe { libway::mem::munmap(addr, len) }.context("munmap")?;
    expect_growth(r?, on_machine(m, [PAGES / 2, PAGES / 2]))
}

/// Runs `f` with the process default set to `policy`, then puts near back.
fn with_default<T>(policy: u32, f: impl FnOnce() -> T) -> Result<T, alloc::string::String> {
    let old = memtier::set_policy(policy).context("mem_policy")?;
    let r = f();
    let back = memtier::set_policy(old).context("mem_policy back")?;
    expect_eq(back, policy).context("mem_policy returns the old default")?;
    Ok(r)
}

fn process_default(m: &Machine) -> Check {
    let got = with_default(POLICY_FAR, || {
        expect_eq(memtier::policy(), Ok(POLICY_FAR)).context("query")?;
        let len = PAGES * PAGE_SIZE;
        // Mapped now (policy 0), touched while the default is far.
        let addr = libway::mem::map_anonymous(len, false).context("mmap")?;
        let r = growth(m.pid, || {
            touch(addr, PAGES);
            Ok(())
        });
        // SAFETY: the mapping was made above and nothing else refers to it.
        unsafe { libway::mem::munmap(addr, len) }.context("munmap")?;
        r
    })??;
    // The heap may have grown while the default was far: allow those few pages.
    let want = on_machine(m, [0, PAGES]);
    if got[1] < want[1] || got[1] > want[1] + 16 || (want[1] == 0 && got[0] < PAGES as u64) {
        return Err(format!(
            "grew near {} far {}, want far {}",
            got[0], got[1], want[1]
        ));
    }
    expect_eq(memtier::policy(), Ok(POLICY_NEAR)).context("default restored")
}

fn mapping_beats_default(m: &Machine) -> Check {
    let got = with_default(POLICY_FAR, || map_touch(m, POLICY_NEAR, false))??;
    expect_growth(got, on_machine(m, [PAGES, 0]))
}

fn fork_inherits(m: &Machine) -> Check {
    let two = m.two_tiers();
    let status = with_default(POLICY_FAR, || {
        in_child(|| {
            let Ok(pid) = process::getpid() else {
                return CHILD_FAILED;
            };
            let policy_ok = memtier::policy() == Ok(POLICY_FAR);
            let len = 16 * PAGE_SIZE;
            let Ok(addr) = libway::mem::map_anonymous(len, false) else {
                return CHILD_FAILED;
            };
            let before = resident(pid as u64);
            touch(addr, 16);
            let after = resident(pid as u64);
            let far_ok = match (before, after) {
                (Ok(b), Ok(a)) if two => a[1] >= b[1] + 16,
                (Ok(b), Ok(a)) => a[1] == 0 && b[1] == 0,
                _ => false,
            };
            if policy_ok && far_ok {
                0
            } else {
                libway::println!("  note child: policy far {policy_ok}, pages far {far_ok}");
                CHILD_FAILED
            }
        })
    })?;
    expect_exit(status?, 0).context("child with the far default")
}

/// A spawned program starts with its parent's default: `umemtest --policy-exit` exits
/// with the default it finds.
fn spawn_inherits() -> Check {
    let status = with_default(POLICY_INTERLEAVE, || {
        let pid = process::spawn("/bin/umemtest", &["umemtest", "--policy-exit"], &[])
            .context("spawn")?;
        wait_for(pid, 30_000)
    })??;
    expect_exit(status, POLICY_INTERLEAVE as i32).context("spawned child's default")
}

/// A far mapping shared copy-on-write with a child: the child advises it near and
/// writes every page, so its copies come from near memory while the parent's stay far.
fn cow_copy(m: &Machine) -> Check {
    let len = 16 * PAGE_SIZE;
    let addr = memtier::map_with_policy(len, false, POLICY_FAR).context("mmap")?;
    touch(addr, 16);
    let two = m.two_tiers();
    let status = in_child(|| {
        let Ok(pid) = process::getpid() else {
            return CHILD_FAILED;
        };
        if memtier::advise(addr, len, POLICY_NEAR).is_err() {
            return CHILD_FAILED;
        }
        let (Ok(b), Ok(a)) = (resident(pid as u64), {
            touch(addr, 16);
            resident(pid as u64)
        }) else {
            return CHILD_FAILED;
        };
        // Before: the 16 shared far frames; after: 16 near copies instead.
        let ok = if two {
            b[1] >= 16 && a[1] + 16 == b[1] && a[0] >= b[0] + 16
        } else {
            a[1] == 0 && a[0] >= b[0]
        };
        if ok {
            0
        } else {
            libway::println!("  note child: before {b:?}, after {a:?}");
            CHILD_FAILED
        }
    });
    let parent = resident(m.pid);
    // SAFETY: the mapping was made above and nothing else refers to it.
    unsafe { libway::mem::munmap(addr, len) }.context("munmap")?;
    expect_exit(status?, 0).context("child's copies")?;
    let parent = parent?;
    if two && parent[1] < 16 {
        return Err(format!("parent kept {} far pages, want 16", parent[1]));
    }
    Ok(())
}
