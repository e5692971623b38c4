//! `sectest`: the privilege model (`docs/security.md`): capabilities, the syscall filter
//! and IPC access control.
//!
//! Every capability gets a check that a process without it is refused (`EPERM`) and one
//! that a process holding it gets past the check. A check runs in a forked child that
//! first drops what it must not hold (`cap_drop`), so the suite itself keeps its set;
//! the child reports the outcome in its exit status (0 for success, else the errno).
//!
//! Under the harness init gives the suite every capability but `shutdown`, so every check
//! runs. Typed at the shell, the suite holds the shell's user set (`spawn klog mount disk`): the
//! refusals and the `spawn`/`klog` checks still run, and each "allowed" check that needs
//! a capability the user set lacks says `sectest: skipped ...` instead (a process cannot
//! gain a capability, by design).
//!
//! Run as `sectest probe-getpid`, it is the program the spawn-inheritance check starts:
//! it exits with 0 if `getpid` is allowed, else the errno.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use libway::abi::errno::{EACCES, EINVAL, EPERM};
use libway::abi::filter::SysFilter;
use libway::abi::signal::{SIGKILL, SIGSYS};
use libway::abi::{sched, sys};
use libway::caps::{self, names};
use libway::ipc::{ns, Port};
use libway::process::{self, proc_list};
use libway::suite::{
    expect_eq, expect_exit, expect_signal, in_child, run_captured, wait_for, Check, Context, Suite,
    CHILD_TIMEOUT_MS,
};
use libway::{Args, Errno};

#[path = "sectest/nic.rs"]
mod nic;

libway::entry!(main);

const SELF: &str = "/bin/sectest";
const PROBE_GETPID: &str = "probe-getpid";
/// What init gives every suite under the harness.
const SUITE_CAPS: u32 = caps::ALL & !caps::SHUTDOWN;
/// Why an "allowed" check does not run by hand.
const NEEDS_HARNESS: &str = "the shell's user set lacks it: run under cargo xtask test";

/// The outcome a child reports: `Ok` or the errno of its one operation.
type Outcome = Result<(), isize>;

/// Runs `op` in a forked child that first drops `drop`, and returns what `op` returned.
///
/// A failed `cap_drop` is not fatal here: `op` then runs with more than the check meant,
/// so an expected refusal shows up as "allowed" and still fails the check.
fn as_child(drop: u32, op: impl FnOnce() -> Result<(), Errno>) -> Result<Outcome, String> {
    let status = in_child(|| {
        let _ = caps::drop(drop);
        match op() {
            Ok(()) => 0,
            Err(e) => e.code().clamp(1, 250) as i32,
        }
    })?;
    match status.exit_code() {
        Some(0) => Ok(Ok(())),
        Some(code) => Ok(Err(code as isize)),
        None => Err(format!("child {status}")),
    }
}

fn refused(got: Outcome, what: &str) -> Check {
    match got {
        Err(EPERM) => Ok(()),
        Ok(()) => Err(format!("{what}: allowed, expected EPERM")),
        Err(e) => Err(format!("{what}: {}, expected EPERM", Errno(e))),
    }
}

/// Got past the capability check: success, or an error that is not `EPERM` where
/// `also_ok` names the one the call's other checks give.
fn allowed(got: Outcome, also_ok: Option<isize>, what: &str) -> Check {
    match got {
        Ok(()) => Ok(()),
        Err(e) if Some(e) == also_ok => Ok(()),
        Err(e) => Err(format!("{what}: {}, expected it allowed", Errno(e))),
    }
}

/// Runs the "allowed" half of a check only when the suite holds `cap`.
fn if_held(s: &mut Suite, cap: u32, name: &str, check: impl FnOnce() -> Check) {
    if caps::has(cap) {
        s.check(name, check());
    } else {
        s.skip(
            &format!("{name} (needs {})", names(cap, " ")),
            NEEDS_HARNESS,
        );
    }
}

fn main(args: Args) -> i32 {
    if args.iter().nth(1) == Some(PROBE_GETPID) {
        return match process::getpid() {
            Ok(_) => 0,
            Err(e) => e.code().clamp(1, 250) as i32,
        };
    }
    let mut s = Suite::new("sectest");
    let harness = s.under_harness();
    s.check("own_set_is_what_init_gave", own_set(harness));
    s.check("cap_drop_is_for_good", cap_drop_is_for_good());
    s.check("cap_drop_refuses_unknown_bits", cap_drop_unknown());
    s.check("fork_inherits_caps", fork_inherits());
    s.check(
        "spawn_inherits_and_narrows_caps",
        spawn_inherits_and_narrows(),
    );
    s.check("spawn_caps_cannot_widen", spawn_cannot_widen());
    s.check("ps_and_caps_show_the_set", ps_and_caps_show_the_set());
    s.check("only_init_holds_shutdown", only_init_holds_shutdown());

    // One pair per capability: refused without, allowed with.
    s.check("spawn_refused_without_cap", spawn_refused());
    s.check("spawn_allowed_with_cap", spawn_allowed());
    s.check("kill_refused_without_cap", kill_refused());
    s.check("kill_own_kind_without_cap", kill_own_kind());
    if_held(&mut s, caps::KILL, "kill_allowed_with_cap", kill_allowed);
    s.check("rt_class_refused_without_cap", rt_refused());
    if_held(
        &mut s,
        caps::SET_RT_PRIORITY,
        "rt_class_allowed_with_cap",
        rt_allowed,
    );
    s.check("shutdown_refused_without_cap", shutdown_refused());
    s.check("console_bind_refused_without_cap", console_bind_refused());
    if_held(
        &mut s,
        caps::CONSOLE_BIND,
        "console_bind_allowed_with_cap",
        console_bind_allowed,
    );
    s.check("system_name_refused_without_cap", system_name_refused());
    if_held(
        &mut s,
        caps::NS_SYSTEM,
        "system_name_allowed_with_cap",
        system_name_allowed,
    );
    s.check("klog_refused_without_cap", klog_refused());
    if_held(
        &mut s,
        caps::KLOG_READ,
        "klog_allowed_with_cap",
        klog_allowed,
    );
    s.check("netraw_refused_without_cap", netraw_refused());
    if_held(
        &mut s,
        caps::NET_RAW,
        "netraw_allowed_with_cap",
        netraw_allowed,
    );
    s.check("disk_refused_without_cap", disk_refused());
    if_held(&mut s, caps::DISK, "disk_allowed_with_cap", disk_allowed);
    let reserved = caps::NET_RAW | caps::AI_ACCEL | caps::MEMTIER | caps::MOUNT | caps::DISK;
    if_held(
        &mut s,
        reserved,
        "reserved_caps_inherited_and_dropped",
        || reserved_caps(reserved),
    );

    // The syscall filter.
    s.check("filter_denies_with_eperm", filter_denies());
    s.check("filter_kill_mode_kills", filter_kills());
    s.check("filter_inherited_by_fork_and_spawn", filter_inherited());
    s.check("filter_is_narrow_only", filter_narrow_only());
    s.check("filter_always_allows_exit", filter_allows_exit());

    // IPC access control.
    s.check("ns_require_limits_lookup", ns_require_limits_lookup());
    s.finish()
}

fn own_set(harness: bool) -> Check {
    let set = caps::get().context("cap_get")?;
    if set & !caps::ALL != 0 {
        return Err(format!("{set:#x} has undefined bits"));
    }
    if harness {
        expect_eq(set, SUITE_CAPS)
    } else if set & caps::SPAWN == 0 {
        Err(format!("{set:#x}: no spawn, yet the shell started this"))
    } else {
        Ok(())
    }
}

fn cap_drop_is_for_good() -> Check {
    let r = as_child(0, || {
        let before = caps::get()?;
        let left = caps::drop(caps::KLOG_READ)?;
        // Nothing gives it back: dropping nothing, or everything again, leaves it gone.
        caps::drop(0)?;
        let now = caps::get()?;
        let ok = left == before & !caps::KLOG_READ && now == left;
        if ok {
            Ok(())
        } else {
            Err(Errno(EINVAL))
        }
    })?;
    expect_eq(r, Ok(()))
}

fn cap_drop_unknown() -> Check {
    let before = caps::get().context("cap_get")?;
    let r = as_child(0, || caps::drop(1 << 31).map(drop));
    expect_eq(r?, Err(EINVAL))?;
    expect_eq(caps::get().context("cap_get")?, before)
}

fn fork_inherits() -> Check {
    let r = as_child(caps::KLOG_READ, || {
        let mine = caps::get()?;
        // A grandchild: exit 0 if it has exactly its parent's set.
        let st = in_child(|| (caps::get() != Ok(mine)) as i32).map_err(|_| Errno(EINVAL))?;
        if st.exited_with(0) && mine & caps::KLOG_READ == 0 {
            Ok(())
        } else {
            Err(Errno(EACCES))
        }
    })?;
    expect_eq(r, Ok(()))
}

/// The capability set `proc_list` shows for `pid`.
fn caps_of(pid: usize) -> Result<u32, String> {
    let list = proc_list().context("proc_list")?;
    list.iter()
        .find(|p| p.pid == pid as u64)
        .map(|p| p.caps)
        .ok_or_else(|| format!("pid {pid} not listed"))
}

/// Spawns `sleep 30` with `set` (or plain `spawn` with `None`), reads its set, kills it.
fn spawned_set(set: Option<u32>) -> Result<u32, String> {
    let argv = ["/bin/sleep", "30"];
    let pid = match set {
        Some(c) => caps::spawn(argv[0], &argv, &[], c),
        None => process::spawn(argv[0], &argv, &[]),
    }
    .context("spawn sleep")?;
    let got = caps_of(pid);
    let _ = process::kill(pid, SIGKILL);
    wait_for(pid, CHILD_TIMEOUT_MS)?;
    got
}

fn spawn_inherits_and_narrows() -> Check {
    let mine = caps::get().context("cap_get")?;
    expect_eq(spawned_set(None)?, mine).context("plain spawn")?;
    expect_eq(spawned_set(Some(caps::SPAWN))?, caps::SPAWN).context("spawn_caps(spawn)")?;
    expect_eq(spawned_set(Some(0))?, 0).context("spawn_caps(none)")
}

fn spawn_cannot_widen() -> Check {
    let r = as_child(caps::KLOG_READ, || {
        let wider = caps::get()? | caps::KLOG_READ;
        caps::spawn("/bin/true", &["/bin/true"], &[], wider).map(drop)
    })?;
    refused(r, "spawn_caps with a dropped capability")?;
    let r = as_child(0, || {
        caps::spawn("/bin/true", &["/bin/true"], &[], 1 << 30).map(drop)
    })?;
    expect_eq(r, Err(EINVAL)).context("spawn_caps with an undefined bit")
}

fn ps_and_caps_show_the_set() -> Check {
    let mine = caps::get().context("cap_get")?;
    let me = process::getpid().context("getpid")?;
    expect_eq(caps_of(me)?, mine).context("proc_list")?;
    let got = run_captured("/bin/caps", &["/bin/caps"], &[], "sectest")?;
    let want = format!("{}\n", names(mine, " "));
    expect_eq(got.out.as_str(), want.as_str()).context("caps")?;
    expect_exit(got.status, 0)
}

fn only_init_holds_shutdown() -> Check {
    let list = proc_list().context("proc_list")?;
    for p in &list {
        let holds = p.caps & caps::SHUTDOWN != 0;
        if holds != (p.pid == 1) && p.state != b'Z' {
            return Err(format!("pid {} has caps {:#x}", p.pid, p.caps));
        }
    }
    Ok(())
}

fn spawn_refused() -> Check {
    refused(as_child(caps::SPAWN, || process::fork().map(drop))?, "fork")?;
    let r = as_child(caps::SPAWN, || {
        process::spawn("/bin/true", &["/bin/true"], &[]).map(drop)
    })?;
    refused(r, "spawn")
}

fn spawn_allowed() -> Check {
    let r = as_child(!caps::SPAWN & caps::ALL, || {
        let pid = process::spawn("/bin/true", &["/bin/true"], &[])?;
        match wait_for(pid, CHILD_TIMEOUT_MS) {
            Ok(st) if st.exited_with(0) => Ok(()),
            _ => Err(Errno(EINVAL)),
        }
    })?;
    allowed(r, None, "spawn holding only spawn")
}

/// A child that lacks `drop` (besides `KLOG_READ`, which the suite holds) signals the
/// suite, which then holds a capability the child lacks.
fn signal_parent(drop: u32) -> Result<Outcome, String> {
    let parent = process::getpid().context("getpid")?;
    as_child(caps::KLOG_READ | drop, move || process::kill(parent, 0))
}

fn kill_refused() -> Check {
    refused(signal_parent(caps::KILL)?, "kill(parent, 0) without kill")
}

fn kill_allowed() -> Check {
    allowed(signal_parent(0)?, None, "kill(parent, 0) with kill")
}

/// Without `kill`, a process still signals its own kind (no capability it lacks).
fn kill_own_kind() -> Check {
    let r = as_child(caps::KILL, || {
        let pid = process::fork()?;
        if pid == 0 {
            let _ = process::sleep_or_yield(30_000);
            process::exit(0);
        }
        process::kill(pid, SIGKILL)?;
        match wait_for(pid, CHILD_TIMEOUT_MS) {
            Ok(st) if st.killed_by(SIGKILL) => Ok(()),
            _ => Err(Errno(EINVAL)),
        }
    })?;
    allowed(r, None, "kill of an equal child without kill")
}

/// Defect 7: without `rtprio`, neither the RT-inference nor the high class; lower ones
/// stay free.
fn rt_refused() -> Check {
    for class in [sched::RT_INFERENCE, sched::HIGH] {
        let r = as_child(caps::SET_RT_PRIORITY, move || {
            process::set_priority(class).map(drop)
        })?;
        refused(r, &format!("set_priority({class})"))?;
    }
    let r = as_child(caps::SET_RT_PRIORITY, || {
        process::set_priority(sched::LOW)?;
        process::set_priority(sched::NORMAL).map(drop)
    })?;
    allowed(r, None, "set_priority(LOW) then back to NORMAL")
}

fn rt_allowed() -> Check {
    let r = as_child(0, || {
        process::set_priority(sched::RT_INFERENCE)?;
        // Leave the top class at once: nothing here should spin in it.
        process::set_priority(sched::NORMAL).map(drop)
    })?;
    allowed(r, None, "set_priority(RT_INFERENCE)")
}

fn shutdown_refused() -> Check {
    // The suite never holds `shutdown`; if it did, this would end the run (as failed).
    let r = as_child(caps::SHUTDOWN, || Err(process::shutdown(false)))?;
    refused(r, "shutdown")
}

/// `console_bind` on a pipe: with the capability it gets as far as the device check
/// (`ENOTTY`), so the real console is never touched.
fn console_bind(without: u32) -> Result<Outcome, String> {
    as_child(without, || {
        let (r, _w) = libway::io::pipe(false)?;
        let port = Port::create(1)?;
        libway::console::bind(r, &port)
    })
}

fn console_bind_refused() -> Check {
    refused(console_bind(caps::CONSOLE_BIND)?, "console_bind")
}

fn console_bind_allowed() -> Check {
    let enotty = libway::abi::errno::ENOTTY;
    allowed(console_bind(0)?, Some(enotty), "console_bind(pipe)")
}

/// Registers `name` in a child without `without`, and looks it up.
fn register(without: u32, name: String) -> Result<Outcome, String> {
    as_child(without, move || {
        let port = Port::create(1)?;
        ns::register(&name, &port)?;
        // Registered: a lookup finds it.
        ns::lookup(&name).map(drop_port)
    })
}

fn drop_port(_: Port) {}

fn system_name_refused() -> Check {
    let pid = process::getpid().context("getpid")?;
    // Defect 11 (first half): a system name is not first come, first served.
    refused(
        register(caps::NS_SYSTEM, format!("sys.sectest.{pid}"))?,
        "register sys.*",
    )?;
    refused(
        register(caps::NS_SYSTEM, String::from("console"))?,
        "register console",
    )?;
    // Other names need nothing.
    allowed(
        register(caps::NS_SYSTEM, format!("sectest.{pid}"))?,
        None,
        "register an ordinary name",
    )
}

fn system_name_allowed() -> Check {
    let pid = process::getpid().context("getpid")?;
    allowed(
        register(0, format!("sys.sectest.{pid}"))?,
        None,
        "register sys.*",
    )
}

fn klog_read(without: u32) -> Result<Outcome, String> {
    as_child(without, || {
        let mut buf = [0u8; 256];
        libway::klog::read(&mut buf).map(drop)
    })
}

fn klog_refused() -> Check {
    refused(klog_read(caps::KLOG_READ)?, "klog_read")
}

fn klog_allowed() -> Check {
    allowed(klog_read(0)?, None, "klog_read")
}

fn netraw_refused() -> Check {
    refused(as_child(caps::NET_RAW, nic::attach_and_use)?, "net_attach")
}

/// A raw read of sector 0 of `blk0` (`ENODEV` when the machine has no disk).
fn read_blk0() -> Result<(), Errno> {
    let mut buf = [0u8; 512];
    libway::blk::read(0, 0, &mut buf).map(drop)
}

/// Without `disk`: `EPERM`, even for a device that does not exist (the gate decides
/// before the arguments are looked at).
fn disk_refused() -> Check {
    refused(as_child(caps::DISK, read_blk0)?, "blk_read")?;
    refused(
        as_child(caps::DISK, || {
            libway::blk::write(libway::blk::MAX_DEVICES, 0, &[0u8; 512]).map(drop)
        })?,
        "blk_write to a missing device",
    )
}

/// With `disk`: the read gets past the gate (`ENODEV` on a machine without disks).
fn disk_allowed() -> Check {
    allowed(
        as_child(0, read_blk0)?,
        Some(libway::abi::errno::ENODEV),
        "blk_read",
    )
}

/// With `netraw`: the NIC is lent and works (`nic`), unless netd holds it: then `EBUSY`,
/// and only then.
fn netraw_allowed() -> Check {
    let held = nic::held_elsewhere();
    let got = as_child(0, nic::attach_and_use)?;
    if held {
        expect_eq(got, Err(libway::abi::errno::EBUSY)).context("net_attach while netd holds nic0")
    } else {
        allowed(got, None, "net_attach and the ring")
    }
}

/// `netraw`, `aiaccel`, `memtier`, `mount`, `disk`: held, inherited and dropped like the rest.
fn reserved_caps(reserved: u32) -> Check {
    for (bit, name) in libway::abi::caps::NAMES {
        if bit & reserved == 0 {
            continue;
        }
        let r = as_child(bit, move || {
            let mine = caps::get()?;
            let st = in_child(|| (caps::get() != Ok(mine)) as i32).map_err(|_| Errno(EINVAL))?;
            if mine & bit == 0 && st.exited_with(0) {
                Ok(())
            } else {
                Err(Errno(EACCES))
            }
        })?;
        expect_eq(r, Ok(())).context(name)?;
    }
    Ok(())
}

fn filter_denies() -> Check {
    let r = as_child(0, || {
        caps::deny_syscalls(&[sys::GETPID], caps::MODE_ERRNO)?;
        // Other calls still work; the denied one is EPERM.
        process::getppid()?;
        process::getpid().map(drop)
    })?;
    refused(r, "getpid after denying it")
}

fn filter_kills() -> Check {
    let st = in_child(|| {
        if caps::deny_syscalls(&[sys::GETPID], caps::MODE_KILL).is_err() {
            return 2;
        }
        let _ = process::getpid();
        1
    })?;
    expect_signal(st, SIGSYS)
}

fn filter_inherited() -> Check {
    let r = as_child(0, || {
        caps::deny_syscalls(&[sys::GETPID], caps::MODE_ERRNO)?;
        let st = in_child(|| process::getpid().is_ok() as i32).map_err(|_| Errno(EINVAL))?;
        if !st.exited_with(0) {
            return Err(Errno(EACCES));
        }
        let pid = process::spawn(SELF, &[SELF, PROBE_GETPID], &[])?;
        match wait_for(pid, CHILD_TIMEOUT_MS).map(|st| st.exit_code()) {
            // 0: the probe's getpid was allowed.
            Ok(Some(0)) => Ok(()),
            Ok(Some(code)) => Err(Errno(code as isize)),
            _ => Err(Errno(EINVAL)),
        }
    })?;
    // The spawned probe reports getpid's errno, which must be EPERM.
    refused(r, "getpid in a program spawned after the filter")
}

fn filter_narrow_only() -> Check {
    let r = as_child(0, || {
        caps::deny_syscalls(&[sys::GETPID], caps::MODE_KILL)?;
        // Asking for everything back, in errno mode, changes nothing.
        caps::narrow_filter(&SysFilter::allow_all())?;
        let f = caps::filter()?;
        if f.allows(sys::GETPID) || f.mode != caps::MODE_KILL || !f.allows(sys::GETPPID) {
            return Err(Errno(EACCES));
        }
        let mut bad = SysFilter::allow_all();
        bad.mode = 7;
        match caps::narrow_filter(&bad) {
            Err(e) if e.code() == EINVAL => Ok(()),
            _ => Err(Errno(EACCES)),
        }
    })?;
    expect_eq(r, Ok(()))
}

fn filter_allows_exit() -> Check {
    let st = in_child(|| {
        let mut none = SysFilter::allow_all();
        none.allow = [0; libway::abi::filter::WORDS];
        if caps::narrow_filter(&none).is_err() {
            return 1;
        }
        // Everything else is refused now; exit still works.
        if process::getpid().is_ok() {
            return 2;
        }
        42
    })?;
    expect_exit(st, 42)
}

fn ns_require_limits_lookup() -> Check {
    let pid = process::getpid().context("getpid")?;
    let name = format!("sectest.req.{pid}");
    let port = Port::create(1).context("port_create")?;
    ns::register(&name, &port).context("register")?;
    ns::require(&name, caps::KLOG_READ).context("ns_require")?;
    let n = name.clone();
    let with = as_child(0, move || ns::lookup(&n).map(drop_port))?;
    allowed(with, None, "lookup holding klog")?;
    let n = name.clone();
    let without = as_child(caps::KLOG_READ, move || ns::lookup(&n).map(drop_port))?;
    expect_eq(without, Err(EACCES)).context("lookup without klog")?;
    // Only the owner sets the rule.
    let n = name.clone();
    let other = as_child(0, move || ns::require(&n, 0))?;
    refused(other, "ns_require by another process")
}
