//! System information: `uname` and the process list `ps` reads.

use wayos_abi::{ProcInfo, Utsname};

use crate::error::KResult;
use crate::task::process;
use crate::task::thread::State;
use crate::umem::{UserArray, UserPtr, WriteOnly};

/// Copies `s` into a NUL-padded field, cut to leave at least one NUL.
fn field<const N: usize>(s: &str) -> [u8; N] {
    let mut f = [0u8; N];
    let n = s.len().min(N - 1);
    f[..n].copy_from_slice(&s.as_bytes()[..n]);
    f
}

pub fn sys_uname(buf: usize) -> KResult<usize> {
    let u = Utsname {
        sysname: field("WayOS"),
        nodename: field("wayos"),
        release: field(env!("CARGO_PKG_VERSION")),
        version: field("WayOS microkernel"),
        machine: field(crate::arch::NAME),
    };
    UserPtr::<Utsname, WriteOnly>::new(buf)?.write(&u)?;
    Ok(0)
}

/// Most entries one call fills.
const MAX_ENTRIES: usize = 4096;

pub fn sys_proc_list(buf: usize, count: usize) -> KResult<usize> {
    let all = process::all()?;
    // Only the entries filled must lie in the window: `count` may be larger.
    let want = count.min(all.len()).min(MAX_ENTRIES);
    let out = UserArray::<ProcInfo, WriteOnly>::new(buf, want)?;
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
        info.caps = p.caps();
        info.name = field(p.name.lock().as_str());
        out.get(i)?.write(&info)?;
    }
    Ok(all.len())
}
