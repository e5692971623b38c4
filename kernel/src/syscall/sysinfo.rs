//! System information: `uname` and the process list `ps` reads.

use alloc::vec::Vec;

use wayos_abi::{ProcInfo, Utsname};

use crate::error::{Errno, KResult};
use crate::task::process;
use crate::task::thread::State;
use crate::usercopy::copy_to_user;

/// Copies `s` into a NUL-padded field, cut to leave at least one NUL.
fn field<const N: usize>(s: &str) -> [u8; N] {
    let mut f = [0u8; N];
    let n = s.len().min(N - 1);
    f[..n].copy_from_slice(&s.as_bytes()[..n]);
    f
}

/// The bytes of a plain-old-data ABI struct (`repr(C)`, integers and byte arrays only,
/// padding made explicit), for copying out.
fn utsname_bytes(u: &Utsname) -> Vec<u8> {
    [
        &u.sysname[..],
        &u.nodename[..],
        &u.release[..],
        &u.version[..],
        &u.machine[..],
    ]
    .concat()
}

pub fn sys_uname(buf: usize) -> KResult<usize> {
    let u = Utsname {
        sysname: field("WayOS"),
        nodename: field("wayos"),
        release: field(env!("CARGO_PKG_VERSION")),
        version: field("WayOS microkernel"),
        machine: field(crate::arch::NAME),
    };
    const _: () = assert!(core::mem::size_of::<Utsname>() == 5 * 65);
    copy_to_user(buf, &utsname_bytes(&u))?;
    Ok(0)
}

const INFO_SIZE: usize = core::mem::size_of::<ProcInfo>();
const _: () = assert!(INFO_SIZE == 8 * 4 + 8 + 64);

fn info_bytes(i: &ProcInfo) -> [u8; INFO_SIZE] {
    let mut b = [0u8; INFO_SIZE];
    b[0..8].copy_from_slice(&i.pid.to_ne_bytes());
    b[8..16].copy_from_slice(&i.ppid.to_ne_bytes());
    b[16..24].copy_from_slice(&i.pgid.to_ne_bytes());
    b[24] = i.state;
    b[25] = i.class;
    b[32..40].copy_from_slice(&i.ticks.to_ne_bytes());
    b[40..].copy_from_slice(&i.name);
    b
}

/// Most entries one call fills.
const MAX_ENTRIES: usize = 4096;

pub fn sys_proc_list(buf: usize, count: usize) -> KResult<usize> {
    let all = process::all();
    let want = count.min(all.len()).min(MAX_ENTRIES);
    let bytes = want.checked_mul(INFO_SIZE).ok_or(Errno::EINVAL)?;
    crate::usercopy::check_range(buf, bytes)?;
    for (i, p) in all.iter().take(want).enumerate() {
        let mut info = ProcInfo::zeroed();
        info.pid = p.pid;
        info.ppid = p.ppid();
        info.pgid = p.pgid();
        let threads = p.threads();
        info.state = if p.is_zombie() {
            b'Z'
        } else if threads
            .iter()
            .any(|t| matches!(t.state(), State::Running | State::Ready))
        {
            b'R'
        } else {
            b'S'
        };
        info.class = threads.first().map_or(0, |t| t.class() as u8);
        info.ticks = threads
            .iter()
            .map(|t| t.ticks.load(core::sync::atomic::Ordering::Relaxed))
            .sum();
        info.name = field(p.name.lock().as_str());
        copy_to_user(buf + i * INFO_SIZE, &info_bytes(&info))?;
    }
    Ok(all.len())
}
