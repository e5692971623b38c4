//! The page-fault entry point the arch trap code calls.

pub use super::space::Access;
use super::space::FaultOutcome;

/// Tries to resolve a fault at `addr` in the current process's address space. Returns
/// false when the access is not allowed or there is no user process (the trap code then
/// kills the process, or for a kernel fault applies a user-copy fixup or panics). A user
/// fault that is allowed but finds no memory left kills the process with SIGKILL here:
/// user memory never takes the kernel's reserve, so the kernel itself keeps running.
pub fn handle_page_fault(addr: usize, access: Access) -> bool {
    if addr >= wayos_abi::layout::USER_END {
        return false;
    }
    let Some(p) = crate::task::current_process() else {
        return false;
    };
    // Another thread of the process may hold the space lock on another CPU: wait for it.
    // A fault while this thread holds it (never done across user copies) would deadlock:
    // that bug becomes a SIGSEGV/EFAULT instead.
    let outcome = {
        if p.space_held_by(crate::task::sched::current().tid) {
            log::error!("page fault at {addr:#x} while this thread held its address space");
            return false;
        }
        let policy = p.mem_policy.load(core::sync::atomic::Ordering::Relaxed);
        let mut guard = p.space.lock();
        match guard.as_mut() {
            Some(space) => space.handle_fault(addr, access, policy),
            None => FaultOutcome::Denied,
        }
    };
    // A fault a user program took, or a kernel copy took on its memory: counted for
    // `stats` (`fatal` when the program gets a signal for it).
    crate::counters::page_fault(!matches!(outcome, FaultOutcome::Resolved) && access.user);
    match outcome {
        FaultOutcome::Resolved => true,
        FaultOutcome::Denied => {
            log::debug!(
                "page fault at {addr:#x} denied ({} fault)",
                if access.present {
                    "protection"
                } else {
                    "translation"
                }
            );
            false
        }
        FaultOutcome::OutOfMemory if access.user => crate::task::kill_current(
            wayos_abi::signal::SIGKILL,
            format_args!("out of memory at {addr:#x}"),
        ),
        FaultOutcome::OutOfMemory => false,
    }
}
