//! Signals: generation (`kill`, faults, children exiting, broken pipes, Ctrl-C through
//! the console server), per-process actions and masks, and delivery on the way back to
//! user mode.
//!
//! A generated signal becomes a pending bit unless its action ignores it (then it is
//! discarded at once, as POSIX says). On every return to user mode, [`deliver`] takes the
//! lowest pending, unblocked signal: the default action ends the process (or does nothing
//! for the signals ignored by default); a handler is entered with the interrupted user
//! context saved in the kernel, not on the user stack, so a handler can neither read nor
//! forge it; `sigreturn` restores it. Waits that can be interrupted give up with `EINTR`
//! while a deliverable signal is pending ([`interrupted`]).
//!
//! This module owns the signal state; it must never run user code or block.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use wayos_abi::caps;
use wayos_abi::signal::{
    self as sig, bit, SigAction, SA_NODEFER, SA_RESETHAND, SIG_BLOCK, SIG_DFL, SIG_IGN,
    SIG_SETMASK, SIG_UNBLOCK,
};
use wayos_abi::wait;

use super::process::{self, Pid, Process, INIT_PID};
use super::sched;
use crate::arch::{self, FpuState, TrapFrame};
use crate::error::{Errno, KResult};

/// Handlers that may be running inside one another in a thread; one more is refused
/// (the signal's default action happens instead) so a signal storm cannot exhaust the
/// kernel heap.
pub const MAX_NESTED_HANDLERS: usize = 32;

/// Signals that can be neither caught, ignored nor blocked.
const UNCATCHABLE: u64 = bit(sig::SIGKILL) | bit(sig::SIGSTOP);

/// Processes with any pending signal, so the return-to-user path costs one load when
/// there are none.
static PENDING: AtomicUsize = AtomicUsize::new(0);

/// A process's signal actions, pending set and blocked mask.
#[derive(Clone)]
pub struct SigState {
    actions: [SigAction; sig::MAX as usize],
    pending: u64,
    blocked: u64,
}

impl Default for SigState {
    fn default() -> Self {
        Self::new()
    }
}

impl SigState {
    pub const fn new() -> Self {
        Self {
            actions: [SigAction {
                handler: SIG_DFL,
                flags: 0,
                restorer: 0,
                mask: 0,
            }; sig::MAX as usize],
            pending: 0,
            blocked: 0,
        }
    }

    /// The state a forked child starts with: same actions and mask, nothing pending.
    pub fn for_fork(&self) -> Self {
        Self {
            pending: 0,
            ..self.clone()
        }
    }

    /// The state of a new program (spawn): handlers reset to the default, ignored
    /// signals stay ignored, the mask is kept, nothing pending.
    pub fn for_new_program(&self) -> Self {
        let mut s = self.for_fork();
        s.reset_handlers();
        s
    }

    /// `execve`: handlers reset (the code they pointed to is gone).
    pub fn reset_handlers(&mut self) {
        for a in &mut self.actions {
            if a.handler != SIG_IGN {
                *a = SigAction::default();
            }
        }
    }

    fn action(&self, s: i32) -> SigAction {
        self.actions[(s - 1) as usize]
    }

    /// True when `s` would be thrown away on arrival.
    fn discards(&self, s: i32) -> bool {
        if bit(s) & UNCATCHABLE != 0 {
            return false;
        }
        match self.action(s).handler {
            SIG_IGN => true,
            SIG_DFL => ignored_by_default(s),
            _ => false,
        }
    }

    fn set_pending(&mut self, mask: u64) {
        if self.pending == 0 && mask != 0 {
            PENDING.fetch_add(1, Ordering::AcqRel);
        }
        self.pending |= mask;
    }

    fn clear_pending(&mut self, mask: u64) {
        let before = self.pending;
        self.pending &= !mask;
        if before != 0 && self.pending == 0 {
            PENDING.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn deliverable(&self) -> u64 {
        self.pending & !self.blocked
    }
}

/// One handler's interrupted context, kept by the kernel until `sigreturn`.
pub struct SavedContext {
    frame: TrapFrame,
    fpu: Option<FpuState>,
    blocked: u64,
}

/// Signals whose default action is to do nothing. Stop and continue signals are treated
/// as ignored until job control exists.
fn ignored_by_default(s: i32) -> bool {
    matches!(
        s,
        sig::SIGCHLD
            | sig::SIGURG
            | sig::SIGWINCH
            | sig::SIGCONT
            | sig::SIGTSTP
            | sig::SIGTTIN
            | sig::SIGTTOU
    )
}

fn valid(s: i32) -> bool {
    (1..=sig::MAX).contains(&s)
}

/// Generates `s` (valid, not 0) for `target`: pending unless discarded; wakes the
/// target's threads when it can be delivered.
pub fn send(target: &Process, s: i32) {
    if target.is_zombie() {
        return;
    }
    let wake = {
        let mut st = target.sig.lock();
        if st.discards(s) {
            return;
        }
        st.set_pending(bit(s));
        st.blocked & bit(s) == 0 || bit(s) & UNCATCHABLE != 0
    };
    if wake {
        for t in target.threads() {
            sched::wake(&t);
        }
    }
}

/// `kill(pid, sig)`: `pid` > 0 one process, 0 the caller's group, -1 every process but
/// init and the caller, < -1 the group `-pid`. `sig` 0 only checks. init cannot be
/// signalled (`EPERM` when named, skipped in groups).
pub fn kill(pid: isize, s: i32) -> KResult<()> {
    if !(0..=sig::MAX).contains(&s) {
        return Err(Errno::EINVAL);
    }
    let me = super::current_process().ok_or(Errno::ESRCH)?;
    // Every list here is made without an infallible allocation (`process::all` reserves
    // or fails with `ENOMEM`; the filters work in place).
    let targets: Vec<_> = match pid {
        p if p > 0 => {
            let t = process::lookup(p as Pid).ok_or(Errno::ESRCH)?;
            if t.pid == INIT_PID && s != 0 {
                return Err(Errno::EPERM);
            }
            let mut one = Vec::new();
            one.try_reserve_exact(1).map_err(|_| Errno::ENOMEM)?;
            one.push(t);
            one
        }
        -1 => {
            let mut all = process::all()?;
            all.retain(|p| p.pid != INIT_PID && p.pid != me.pid && !p.is_zombie());
            all
        }
        p => {
            let group = if p == 0 {
                me.pgid()
            } else {
                p.unsigned_abs() as Pid
            };
            let mut members = process::all()?;
            members.retain(|p| p.pgid() == group && !p.is_zombie());
            if members.is_empty() {
                return Err(Errno::ESRCH);
            }
            members.retain(|p| p.pid != INIT_PID);
            members
        }
    };
    // Without `caps::KILL` a process reaches only processes holding no capability it
    // lacks (its own kind), so an unprivileged program cannot kill a server. A group or
    // -1 skips the others; naming only such processes is `EPERM`.
    let allowed = |t: &&Arc<Process>| me.has_caps(caps::KILL) || t.caps() & !me.caps() == 0;
    if !targets.is_empty() && !targets.iter().any(|t| allowed(&t)) {
        return Err(Errno::EPERM);
    }
    if s != 0 {
        for t in targets.iter().filter(allowed) {
            send(t, s);
        }
    }
    Ok(())
}

/// Sends `s` to the calling process (a broken pipe's SIGPIPE).
pub fn raise(s: i32) {
    if let Some(p) = super::current_process() {
        send(&p, s);
    }
}

/// Called when `p` exits: its pending signals are dropped.
pub fn forget(p: &Process) {
    p.sig.lock().clear_pending(u64::MAX);
}

/// True when the current process has a signal it can take now, or the current thread
/// must end: interruptible waits give up with `EINTR`.
pub fn interrupted() -> bool {
    if sched::current_exit_requested() {
        return true;
    }
    if PENDING.load(Ordering::Acquire) == 0 {
        return false;
    }
    super::current_process().is_some_and(|p| p.sig.lock().deliverable() != 0)
}

/// True when the current thread must end, or its process has a deliverable signal whose
/// action ends it (SIGKILL, or a default action that terminates): waits that are not
/// interrupted by handled signals (a user `port_call`) still give up on these.
pub fn fatal_pending() -> bool {
    if sched::current_exit_requested() {
        return true;
    }
    if PENDING.load(Ordering::Acquire) == 0 {
        return false;
    }
    super::current_process().is_some_and(|p| {
        let st = p.sig.lock();
        let ready = st.deliverable();
        (1..=sig::MAX).any(|s| {
            ready & bit(s) != 0 && st.action(s).handler == SIG_DFL && !ignored_by_default(s)
        })
    })
}

/// `sigaction(sig, act, old)`.
pub fn sigaction(s: i32, act: Option<SigAction>) -> KResult<SigAction> {
    if !valid(s) || (act.is_some() && bit(s) & UNCATCHABLE != 0) {
        return Err(Errno::EINVAL);
    }
    let p = super::current_process().ok_or(Errno::ESRCH)?;
    let mut st = p.sig.lock();
    let old = st.action(s);
    if let Some(mut a) = act {
        a.mask &= !UNCATCHABLE;
        st.actions[(s - 1) as usize] = a;
        // Setting a signal to be ignored discards it if pending (POSIX).
        if st.discards(s) {
            st.clear_pending(bit(s));
        }
    }
    Ok(old)
}

/// `sigprocmask(how, set, old)`: returns the mask before.
pub fn sigprocmask(how: usize, set: Option<u64>) -> KResult<u64> {
    let p = super::current_process().ok_or(Errno::ESRCH)?;
    let mut st = p.sig.lock();
    let old = st.blocked;
    if let Some(set) = set {
        st.blocked = match how {
            SIG_BLOCK => old | set,
            SIG_UNBLOCK => old & !set,
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        } & !UNCATCHABLE;
    } else if how > SIG_SETMASK {
        return Err(Errno::EINVAL);
    }
    Ok(old)
}

/// On the way back to user mode (interrupts off): acts on the lowest deliverable signal.
/// Ends the process for a fatal default action; redirects `frame` into a handler.
pub fn deliver(frame: &mut TrapFrame) {
    if PENDING.load(Ordering::Relaxed) == 0 {
        return;
    }
    let Some(p) = super::current_process() else {
        return;
    };
    loop {
        let (s, action) = {
            let mut st = p.sig.lock();
            let ready = st.deliverable();
            if ready == 0 {
                return;
            }
            let s = ready.trailing_zeros() as i32 + 1;
            st.clear_pending(bit(s));
            (s, st.action(s))
        };
        match action.handler {
            SIG_IGN if bit(s) & UNCATCHABLE == 0 => continue,
            SIG_DFL if ignored_by_default(s) => continue,
            SIG_DFL | SIG_IGN => {
                drop(p);
                super::exit_current(wait::killed(s));
            }
            handler => {
                if enter_handler(&p, frame, s, handler, action).is_err() {
                    // No room to run the handler (bad stack, too deeply nested): the
                    // process cannot go on correctly.
                    drop(p);
                    super::kill_current(
                        sig::SIGSEGV,
                        format_args!("cannot deliver signal {s} to its handler"),
                    );
                }
                return;
            }
        }
    }
}

fn enter_handler(
    p: &Process,
    frame: &mut TrapFrame,
    s: i32,
    handler: usize,
    action: SigAction,
) -> Result<(), ()> {
    let me = sched::current();
    let mut saved = me.sig_frames.lock();
    if saved.len() >= MAX_NESTED_HANDLERS {
        return Err(());
    }
    let fpu = FpuState::new().map(|mut f| {
        f.save();
        f
    });
    let interrupted = frame.clone();
    if !arch::enter_signal_handler(frame, handler, s as usize, action.restorer) {
        return Err(());
    }
    let mut st = p.sig.lock();
    let blocked = st.blocked;
    let extra = if action.flags & SA_NODEFER != 0 {
        0
    } else {
        bit(s)
    };
    st.blocked |= (action.mask | extra) & !UNCATCHABLE;
    if action.flags & SA_RESETHAND != 0 {
        st.actions[(s - 1) as usize] = SigAction::default();
    }
    saved.push(SavedContext {
        frame: interrupted,
        fpu,
        blocked,
    });
    Ok(())
}

/// `sigreturn`: resumes the context the innermost handler interrupted. Without one the
/// call is a protocol violation and the process is killed.
pub fn sigreturn(frame: &mut TrapFrame) {
    let me = sched::current();
    let Some(ctx) = me.sig_frames.lock().pop() else {
        drop(me);
        super::kill_current(
            sig::SIGSEGV,
            format_args!("sigreturn outside a signal handler"),
        );
    };
    if let Some(p) = &me.process {
        p.sig.lock().blocked = ctx.blocked;
    }
    if let Some(f) = &ctx.fpu {
        f.restore();
    }
    arch::resume_signal_frame(frame, ctx.frame);
}

/// A fault in user mode (`sig` is SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGTRAP): delivered
/// to a handler if the process has one and does not block the signal; otherwise the
/// process is killed with a console line saying why.
pub fn user_fault(s: i32, why: core::fmt::Arguments<'_>) {
    if let Some(p) = super::current_process() {
        let mut st = p.sig.lock();
        let a = st.action(s);
        let catchable = a.handler != SIG_DFL && a.handler != SIG_IGN;
        if catchable && st.blocked & bit(s) == 0 {
            st.set_pending(bit(s));
            return;
        }
    }
    super::kill_current(s, why)
}
