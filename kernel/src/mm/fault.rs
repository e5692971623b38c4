//! The page-fault entry point the arch trap code calls.

pub use super::space::Access;
use super::space::FaultOutcome;

/// Tries to resolve a fault at `addr` in the current process's address space. Returns
/// false when the access is not allowed or there is no user process (the trap code then
/// kills the process, or for a kernel fault applies a user-copy fixup or panics). A user
/// fault that is allowed but finds no memory left kills the process with SIGKILL here:
/// user memory never takes the kernel's reserve, so the kernel itself keeps running.
/// How long a fault waits for its address space's lock (held by another CPU, briefly)
/// before it gives up; generous, because a vCPU of an emulator can stall for a while.
const SPACE_LOCK_WAIT_NS: u64 = 2_000_000_000;

pub fn handle_page_fault(addr: usize, access: Access) -> bool {
    if addr >= wayos_abi::layout::USER_END {
        return false;
    }
    let Some(p) = crate::task::current_process() else {
        return false;
    };
    // Another thread of the process may hold the space lock on another CPU: wait for it.
    // But a fault while this thread holds it (never done across user copies) would
    // deadlock; the bounded wait turns that bug into a SIGSEGV/EFAULT instead.
    let outcome = {
        let give_up = crate::arch::uptime_ns().saturating_add(SPACE_LOCK_WAIT_NS);
        let mut guard = loop {
            if let Some(g) = p.space.try_lock() {
                break g;
            }
            if crate::arch::uptime_ns() > give_up {
                log::error!("page fault at {addr:#x}: the address space stayed locked");
                return false;
            }
            crate::mm::tlb::serve();
            core::hint::spin_loop();
        };
        match guard.as_mut() {
            Some(space) => space.handle_fault(addr, access),
            None => FaultOutcome::Denied,
        }
    };
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
