//! Per-process accounting of the kernel objects a process makes: the one place where the
//! bounds of `wayos_abi::limits` that are not a table's size are counted.
//!
//! Each process has a [`Usage`]. Making a counted object takes a [`Charge`] from the
//! maker's `Usage` (refused with the kind's errno at the limit); the object keeps the
//! charge for as long as it exists, and dropping the object gives it back. Because the
//! charge travels with the object, not with a handle to it, an object whose handles moved
//! elsewhere — into another process's table, or into a message queued on some port —
//! still counts against the process that made it, until it is gone. That is why a port
//! (and the queue slots it holds) is charged to its creator, not to whoever holds or
//! sends it: the creator chose its capacity, and passing handles around cannot make more
//! ports than the creator was allowed. A process's `Usage` outlives it while any of its
//! objects do (they hold an `Arc` to it); a new process, forked or spawned, starts at
//! zero.
//!
//! Counted here: ports and their queue slots, service names, pipes, and the AI
//! subsystem's tensors, tensor bytes, graphs and jobs (`wayos_abi::ai` limits; a
//! tensor's charge follows it into graphs and mappings, see `ai`). Bounded elsewhere by
//! their own tables: descriptors (`descriptor::MAX_FDS`), handles (`ipc`), threads and
//! processes (`task`), mappings (`mm::space`). Kernel heap use as a whole is admitted by
//! `mm::reserve`. Nothing here allocates or locks: a charge is one atomic update.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Errno, KResult};
use wayos_abi::{ai, limits};

/// What a [`Charge`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Ports created (`limits::MAX_PORTS`, `EMFILE`).
    Ports,
    /// Queue slots of the ports created (`limits::MAX_QUEUED_MESSAGES`, `ENOMEM`).
    QueueSlots,
    /// Service names registered (`limits::MAX_NAMES`, `ENOSPC`).
    Names,
    /// Pipes created (`limits::MAX_PIPES`, `EMFILE`).
    Pipes,
    /// Tensors created (`ai::MAX_TENSORS`, `EMFILE`).
    Tensors,
    /// Bytes of tensor memory: tensors and graph arenas
    /// (`ai::MAX_TENSOR_BYTES_PER_PROCESS`, `EDQUOT`).
    TensorBytes,
    /// Graphs created (`ai::MAX_GRAPHS`, `EMFILE`).
    Graphs,
    /// Inference jobs queued or running (`ai::MAX_JOBS`, `EAGAIN`).
    Jobs,
}

const KINDS: usize = 8;

impl Kind {
    const fn index(self) -> usize {
        self as usize
    }

    /// The most a process may hold.
    pub const fn limit(self) -> usize {
        match self {
            Kind::Ports => limits::MAX_PORTS,
            Kind::QueueSlots => limits::MAX_QUEUED_MESSAGES,
            Kind::Names => limits::MAX_NAMES,
            Kind::Pipes => limits::MAX_PIPES,
            Kind::Tensors => ai::MAX_TENSORS,
            Kind::TensorBytes => ai::MAX_TENSOR_BYTES_PER_PROCESS as usize,
            Kind::Graphs => ai::MAX_GRAPHS,
            Kind::Jobs => ai::MAX_JOBS,
        }
    }

    /// The error for going past [`Kind::limit`].
    pub const fn errno(self) -> Errno {
        match self {
            Kind::Ports | Kind::Pipes | Kind::Tensors | Kind::Graphs => Errno::EMFILE,
            Kind::QueueSlots => Errno::ENOMEM,
            Kind::TensorBytes => Errno::EDQUOT,
            Kind::Jobs => Errno::EAGAIN,
            Kind::Names => Errno::ENOSPC,
        }
    }
}

/// One process's counts; see the module docs.
#[derive(Default)]
pub struct Usage {
    counts: [AtomicUsize; KINDS],
}

impl Usage {
    pub fn new() -> Arc<Usage> {
        Arc::new(Usage::default())
    }

    /// Charges `n` of `kind`, or refuses with the kind's errno if that would pass its
    /// limit (and nothing changes).
    pub fn charge(self: &Arc<Self>, kind: Kind, n: usize) -> KResult<Charge> {
        let counter = &self.counts[kind.index()];
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |c| {
                c.checked_add(n).filter(|&t| t <= kind.limit())
            })
            .map_err(|_| kind.errno())?;
        Ok(Charge {
            usage: self.clone(),
            kind,
            n,
        })
    }

    /// What is charged of `kind` now.
    pub fn count(&self, kind: Kind) -> usize {
        self.counts[kind.index()].load(Ordering::Acquire)
    }
}

/// `n` objects of `kind` counted against a process until this is dropped.
pub struct Charge {
    usage: Arc<Usage>,
    kind: Kind,
    n: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.usage.counts[self.kind.index()].fetch_sub(self.n, Ordering::AcqRel);
    }
}
