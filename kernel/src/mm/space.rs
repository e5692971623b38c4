//! User address spaces: a page table plus an ordered map of VMAs.
//!
//! The VMA map (`wayos_kcore::vma`) decides what is mapped where with POSIX semantics;
//! this module makes the page table agree, lazily: anonymous memory is demand-zero, fork
//! is copy-on-write, MAP_SHARED memory lives in a shared object both sides fault pages in
//! from. PROT_NONE pages keep their frame but lose user access, so data survives an
//! mprotect round trip. Callers hold the owning process's space lock; nothing here copies
//! to or from user memory.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use wayos_abi::layout::{USER_BASE, USER_END};
use wayos_abi::memtier::POLICY_DEFAULT;
use wayos_abi::mman::PAGE_SIZE;
use wayos_kcore::paging::{PageSize, PageTable, PhysAddr, PteFlags, VirtAddr};
use wayos_kcore::vma::{Placement, Range, VmError, Vma, VmaKind, VmaMap};

use super::physmem::{self, KernelPhysMem};
use super::{direct, placement, tlb};
use crate::arch::{self, PteFormat};
use crate::error::{Errno, KResult};
use crate::sync::Mutex;

pub use wayos_kcore::vma::Prot;

mod grant;
mod migrate;
pub use grant::MemObject;
pub use migrate::{move_shared, Deferred, MoveError, Scan, ScanCounts};

const PAGE: u64 = PAGE_SIZE as u64;

/// Heap bytes one VMA costs (its record and its share of the map's tree nodes).
const VMA_BYTES: usize = 128;

/// Pages of a MAP_SHARED mapping (page index → frame), shared by every address space
/// that maps it and every memory handle granted from it (`grant`).
struct SharedPages {
    pages: Mutex<BTreeMap<u64, PhysAddr>>,
    /// Pieces of granted memory objects that refer to these pages: while any does, the
    /// migration daemon leaves the pages where they are (`migrate`).
    granted: core::sync::atomic::AtomicUsize,
}

impl SharedPages {
    fn new() -> Self {
        SharedPages {
            pages: Mutex::new(BTreeMap::new()),
            granted: core::sync::atomic::AtomicUsize::new(0),
        }
    }
}

impl core::ops::Deref for SharedPages {
    type Target = Mutex<BTreeMap<u64, PhysAddr>>;
    fn deref(&self) -> &Self::Target {
        &self.pages
    }
}

impl Drop for SharedPages {
    fn drop(&mut self) {
        for (_, pa) in core::mem::take(&mut *self.pages.lock()) {
            physmem::release(pa);
        }
    }
}

/// Memory owned outside the VMM that a shared mapping shows (a tensor's pages): a fixed
/// run of frames, each with its own PMM reference count. The object stays alive while
/// any mapping of it does (the mapping holds the `Arc`), and each page-table entry takes
/// its own frame reference, as for any shared page.
pub trait FrameRun: Send + Sync {
    /// Pages in the run.
    fn pages(&self) -> u64;
    /// The frame of page `index` (`None` past the end).
    fn frame(&self, index: u64) -> Option<PhysAddr>;
}

/// Where a shared object's pages come from.
#[derive(Clone)]
enum Backing {
    /// `MAP_SHARED` anonymous memory: demand-zero pages made on first touch.
    Anon(Arc<SharedPages>),
    /// Pages owned by a kernel object ([`FrameRun`]), all present from the start.
    Run(Arc<dyn FrameRun>),
}

impl Backing {
    /// The frame of page `index`, made (zeroed, placed by `policy`) on first touch for
    /// anonymous memory.
    fn frame(&self, index: u64, policy: u32) -> KResult<PhysAddr> {
        match self {
            Backing::Anon(pages) => {
                let mut pages = pages.lock();
                Ok(match pages.get(&index) {
                    Some(&pa) => pa,
                    None => {
                        let pa = placement::alloc_page(policy, index, None).ok_or(Errno::ENOMEM)?;
                        pages.insert(index, pa);
                        pa
                    }
                })
            }
            Backing::Run(run) => run.frame(index).ok_or(Errno::EFAULT),
        }
    }
}

/// A shared object as one address space knows it: its pages, and the most protection its
/// VMAs may get (everything for the space's own `mmap`; a handle's rights for `mem_map`).
struct SharedObject {
    pages: Backing,
    max: Prot,
    /// Where its mapping was made: every VMA that refers to it lies inside (splits,
    /// partial unmaps and fork only shrink or copy it in place), so finding out whether
    /// one is left looks only here.
    span: Range,
}

static NEXT_OBJECT: AtomicU64 = AtomicU64::new(1);

/// What `mmap` was asked for, after argument checks.
pub struct MapRequest {
    pub addr: Option<usize>,
    pub len: usize,
    pub prot: Prot,
    pub shared: bool,
    pub fixed: bool,
    pub no_replace: bool,
    /// Tier policy (`memtier::POLICY_*`, checked by the caller; 0: the process default).
    pub policy: u32,
}

/// How a page fault accessed memory.
#[derive(Clone, Copy, Debug)]
pub struct Access {
    pub write: bool,
    pub exec: bool,
    pub user: bool,
    /// The page was present (a protection fault) rather than unmapped.
    pub present: bool,
}

/// What a page fault came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOutcome {
    /// The page is there now; retry the access.
    Resolved,
    /// The access is not allowed (no VMA, guard page, wrong permission).
    Denied,
    /// Allowed, but no memory was left to back it.
    OutOfMemory,
}

pub struct AddressSpace {
    table: PageTable<PteFormat>,
    vmas: VmaMap,
    objects: BTreeMap<u64, Arc<SharedObject>>,
}

/// W^X: no user page is ever writable and executable at once, so code a program can
/// write is never code it can run without an `mprotect` in between (write, then make it
/// read+exec). `EACCES`, as for any protection the mapping may not have (a read-only grant
/// mapped writable), rather than `EINVAL`: the request is well formed, the policy refuses it.
fn refuse_write_exec(prot: Prot) -> KResult<()> {
    if prot.is_write_exec() {
        return Err(Errno::EACCES);
    }
    Ok(())
}

fn vm_err(e: VmError) -> Errno {
    Errno(e.errno())
}

/// The page-table flags for a page of a VMA with `prot`.
fn flags_for(prot: Prot, shared: bool) -> PteFlags {
    let mut f = PteFlags::empty();
    if !prot.is_none() {
        f.insert(PteFlags::USER);
    }
    if prot.contains(Prot::WRITE) {
        f.insert(PteFlags::WRITE);
    }
    if prot.contains(Prot::EXEC) {
        f.insert(PteFlags::EXEC);
    }
    if shared {
        f.insert(PteFlags::SHARED);
    }
    f
}

/// The root every new address space copies its kernel half from (x86_64), set at boot.
static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);
/// A user root with nothing in the user half, loaded when no process is.
static EMPTY_ROOT: AtomicU64 = AtomicU64::new(0);

/// Records the kernel's page-table root, makes sure later kernel mappings reach every
/// address space, and builds the empty user root.
pub fn init() {
    let root = arch::kernel_root();
    KERNEL_ROOT.store(root.as_u64(), Ordering::Relaxed);
    let mut kernel = PageTable::<PteFormat>::from_root(root);
    if kernel.populate_kernel_half(&mut KernelPhysMem).is_err() {
        panic!("no memory for the kernel page-table half");
    }
    let empty = AddressSpace::new().expect("memory for the empty address space");
    EMPTY_ROOT.store(empty.root().as_u64(), Ordering::Relaxed);
    core::mem::forget(empty);
}

/// Loads a user page-table root.
pub fn activate_root(root: PhysAddr) {
    if arch::current_root() != root {
        super::tlb::note_loaded(root);
        // SAFETY: every user root shares the kernel half (x86_64) or leaves TTBR1 alone
        // (aarch64), so the kernel stays mapped.
        unsafe { arch::activate_page_table(root) };
    }
}

/// Loads the empty user root, for when a process's tables are about to be freed.
pub fn activate_kernel_root() {
    activate_root(PhysAddr::new(EMPTY_ROOT.load(Ordering::Relaxed)));
}

impl AddressSpace {
    pub fn new() -> KResult<Self> {
        let table = PageTable::<PteFormat>::new_with_kernel_half(
            &mut KernelPhysMem,
            PhysAddr::new(KERNEL_ROOT.load(Ordering::Relaxed)),
        )
        .ok_or(Errno::ENOMEM)?;
        Ok(Self {
            table,
            vmas: VmaMap::new(USER_BASE as u64, USER_END as u64),
            objects: BTreeMap::new(),
        })
    }

    pub fn root(&self) -> PhysAddr {
        self.table.root()
    }

    /// Drops every page in `range` from the page table.
    ///
    /// Walks only the page tables that exist (`PageTable::unmap_range`), so the cost is
    /// what is mapped, not the range's length: a program may unmap 100 TiB it never
    /// touched. The frames are released only after every CPU dropped its translations,
    /// in batches (a fixed-size array, so nothing is allocated), so a thread on another
    /// CPU never reaches a frame that was reused.
    fn drop_pages(&mut self, range: Range) {
        let mut batch = tlb::Batch::new(self.root());
        let mut frames = [PhysAddr::new(0); tlb::BATCH_LIMIT];
        let mut n = 0;
        self.table.unmap_range(
            &mut KernelPhysMem,
            VirtAddr::new(range.start),
            VirtAddr::new(range.end),
            |leaf, flush| {
                batch.add(flush);
                frames[n] = leaf.pa;
                n += 1;
                if n == tlb::BATCH_LIMIT {
                    batch.flush();
                    frames.iter().copied().for_each(physmem::release);
                    n = 0;
                }
            },
        );
        batch.flush();
        frames[..n].iter().copied().for_each(physmem::release);
    }

    /// The shared objects that VMAs in `[addr, addr + len)` refer to: the only ones an
    /// unmap or replacement of that range can leave without a VMA. Taken before the
    /// change; `ENOMEM` if the list cannot be allocated (nothing changed yet).
    fn objects_in(&self, addr: usize, len: usize) -> KResult<Vec<u64>> {
        let start = addr as u64 & !(PAGE - 1);
        let end = (addr as u64).saturating_add(len as u64);
        let ids = || {
            self.vmas
                .overlapping(start, end)
                .filter_map(|v| match v.kind {
                    VmaKind::Shared { object, .. } => Some(object),
                    _ => None,
                })
        };
        let mut out = Vec::new();
        out.try_reserve_exact(ids().count())
            .map_err(|_| Errno::ENOMEM)?;
        out.extend(ids());
        Ok(out)
    }

    /// Forgets those of `candidates` that no VMA refers to any more. Looks only inside
    /// each candidate's span, so the cost follows what changed, not every object times
    /// every VMA.
    fn prune_objects(&mut self, candidates: &[u64]) {
        for id in candidates {
            let Some(obj) = self.objects.get(id) else {
                continue;
            };
            let span = obj.span;
            let used = self
                .vmas
                .overlapping(span.start, span.end)
                .any(|v| matches!(v.kind, VmaKind::Shared { object, .. } if object == *id));
            if !used {
                self.objects.remove(id);
            }
        }
    }

    /// `Ok` if an operation that can add up to `more` VMAs may go ahead: the map stays
    /// within `limits::MAX_VMAS` (else `ENOMEM`, as Linux's `max_map_count`) and the
    /// kernel heap may grow for the records without taking the reserve (`ENOMEM`).
    /// Checked before anything changes, for any call that can split or add a mapping.
    pub(super) fn room_for(&self, more: usize) -> KResult<()> {
        if self.vmas.len().saturating_add(more) > wayos_abi::limits::MAX_VMAS {
            return Err(Errno::ENOMEM);
        }
        super::reserve::admit(more.saturating_mul(VMA_BYTES))
    }

    /// `mmap` of anonymous memory.
    pub fn mmap(&mut self, req: MapRequest) -> KResult<usize> {
        refuse_write_exec(req.prot)?;
        // The new mapping, and a fixed one may split an old one in two.
        self.room_for(2)?;
        let placement = match (req.addr, req.fixed, req.no_replace) {
            (Some(a), _, true) => Placement::FixedNoReplace(a as u64),
            (Some(a), true, false) => Placement::Fixed(a as u64),
            (Some(a), false, _) => Placement::Hint(a as u64),
            (None, _, _) => Placement::Anywhere,
        };
        let kind = if req.shared {
            let id = NEXT_OBJECT.fetch_add(1, Ordering::Relaxed);
            VmaKind::Shared {
                object: id,
                offset: 0,
            }
        } else {
            VmaKind::Anonymous { shared: false }
        };
        // Only a fixed mapping replaces what was there.
        let replaced = match placement {
            Placement::Fixed(a) => self.objects_in(a as usize, req.len)?,
            _ => Vec::new(),
        };
        let outcome = self
            .vmas
            .mmap_with_policy(
                placement,
                req.len as u64,
                req.prot,
                kind,
                "mmap",
                req.policy,
            )
            .map_err(vm_err)?;
        for r in &outcome.unmapped {
            self.drop_pages(*r);
        }
        if let VmaKind::Shared { object, .. } = kind {
            self.objects.insert(
                object,
                Arc::new(SharedObject {
                    pages: Backing::Anon(Arc::new(SharedPages::new())),
                    max: Prot::READ | Prot::WRITE | Prot::EXEC,
                    span: outcome.range,
                }),
            );
        }
        self.prune_objects(&replaced);
        Ok(outcome.range.start as usize)
    }

    /// Maps all of `run` shared, with `prot`, at an address the allocator picks, and
    /// returns it. `max` bounds the mapping's protection for good (`mprotect` cannot go
    /// past it); `prot` must lie within it (`EACCES`), and neither may be executable.
    /// `name` labels the mapping (`tensor`, `nic-ring`).
    pub fn map_run(
        &mut self,
        run: Arc<dyn FrameRun>,
        prot: Prot,
        max: Prot,
        name: &'static str,
    ) -> KResult<usize> {
        if prot.contains(Prot::EXEC) || max.contains(Prot::EXEC) || !max.contains(prot) {
            return Err(Errno::EACCES);
        }
        let len = run.pages().checked_mul(PAGE).ok_or(Errno::EINVAL)?;
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        self.room_for(1)?;
        let id = NEXT_OBJECT.fetch_add(1, Ordering::Relaxed);
        let kind = VmaKind::Shared {
            object: id,
            offset: 0,
        };
        let outcome = self
            .vmas
            .mmap(Placement::Anywhere, len, prot, kind, name)
            .map_err(vm_err)?;
        self.objects.insert(
            id,
            Arc::new(SharedObject {
                pages: Backing::Run(run),
                max,
                span: outcome.range,
            }),
        );
        Ok(outcome.range.start as usize)
    }

    /// Maps `[addr, addr+len)` privately at a fixed place (program segments).
    pub fn map_fixed(&mut self, addr: usize, len: usize, prot: Prot) -> KResult<()> {
        refuse_write_exec(prot)?;
        let start = addr as u64 & !(PAGE - 1);
        let end = (addr as u64)
            .checked_add(len as u64)
            .ok_or(Errno::ENOEXEC)?
            .next_multiple_of(PAGE);
        let outcome = self
            .vmas
            .mmap(
                Placement::FixedNoReplace(start),
                end - start,
                prot,
                VmaKind::Anonymous { shared: false },
                "program",
            )
            .map_err(vm_err)?;
        debug_assert!(outcome.unmapped.is_empty());
        Ok(())
    }

    /// The initial stack: `len` bytes at `base`, one guard page below.
    pub fn map_stack(&mut self, base: usize, len: usize) -> KResult<()> {
        self.vmas
            .mmap_stack(
                Placement::FixedNoReplace(base as u64),
                len as u64,
                1,
                Prot::READ | Prot::WRITE,
                "stack",
            )
            .map_err(vm_err)
            .map(|_| ())
    }

    pub fn munmap(&mut self, addr: usize, len: usize) -> KResult<()> {
        // Unmapping the middle of a mapping splits it.
        self.room_for(1)?;
        let candidates = self.objects_in(addr, len)?;
        let removed = self.vmas.munmap(addr as u64, len as u64).map_err(vm_err)?;
        for r in removed {
            self.drop_pages(r);
        }
        self.prune_objects(&candidates);
        Ok(())
    }

    pub fn mprotect(&mut self, addr: usize, len: usize, prot: Prot) -> KResult<()> {
        refuse_write_exec(prot)?;
        // A range inside one mapping splits it in three.
        self.room_for(2)?;
        self.check_protect(addr, len, prot)?;
        let changed = self
            .vmas
            .mprotect(addr as u64, len as u64, prot)
            .map_err(vm_err)?;
        let root = self.root();
        // Only the pages present are visited (`PageTable::protect_range`): the cost is
        // what is mapped, not the range's length.
        for (range, prot) in changed {
            self.table.protect_range(
                &mut KernelPhysMem,
                VirtAddr::new(range.start),
                VirtAddr::new(range.end),
                |leaf| {
                    let mut f = flags_for(prot, leaf.flags.contains(PteFlags::SHARED));
                    if leaf.flags.contains(PteFlags::COW) {
                        f.remove(PteFlags::WRITE);
                        f.insert(PteFlags::COW);
                    }
                    Some(f)
                },
                |flush| tlb::settle(root, flush),
            );
        }
        Ok(())
    }

    /// Resolves a fault at `addr`: demand-zero, shared-object pages, copy-on-write. A new
    /// page is placed by the mapping's policy, else `process_policy` (the process's
    /// default), else the system's.
    pub fn handle_fault(
        &mut self,
        addr: usize,
        access: Access,
        process_policy: u32,
    ) -> FaultOutcome {
        let Some(vma) = self.vmas.lookup(addr as u64).copied() else {
            return FaultOutcome::Denied;
        };
        let allowed = match vma.kind {
            VmaKind::Guard => false,
            _ if access.exec => vma.prot.contains(Prot::EXEC),
            _ if access.write => vma.prot.contains(Prot::WRITE),
            _ => !vma.prot.is_none(),
        };
        if !allowed {
            return FaultOutcome::Denied;
        }
        match self.fault_in(addr, &vma, access.write, process_policy) {
            Ok(_) => FaultOutcome::Resolved,
            Err(Errno::ENOMEM) => FaultOutcome::OutOfMemory,
            Err(_) => FaultOutcome::Denied,
        }
    }

    /// Makes the page at `addr` present (and private-writable when `write`), whatever the
    /// VMA's protection says about user access; used by faults and by kernel loads.
    fn fault_in(
        &mut self,
        addr: usize,
        vma: &Vma,
        write: bool,
        process_policy: u32,
    ) -> KResult<PhysAddr> {
        let (prot, kind) = (vma.prot, vma.kind);
        let policy = placement::effective(vma.policy, process_policy);
        let va = VirtAddr::new(addr as u64 & !(PAGE - 1));
        // Private pages interleave by virtual page number, so the pattern does not
        // shift when the mapping merges with a neighbour.
        let private_index = va.as_u64() / PAGE;
        match self.table.translate(&KernelPhysMem, va) {
            None => {
                let (pa, shared) = match kind {
                    VmaKind::Shared { object, offset } => {
                        let obj = self.objects.get(&object).ok_or(Errno::EFAULT)?.clone();
                        let index = (va.as_u64() - vma.start + offset) / PAGE;
                        let pa = obj.pages.frame(index, policy)?;
                        physmem::retain(pa);
                        (pa, true)
                    }
                    _ => (
                        placement::alloc_page(policy, private_index, None).ok_or(Errno::ENOMEM)?,
                        false,
                    ),
                };
                let flags = flags_for(prot, shared);
                match self
                    .table
                    .map(&mut KernelPhysMem, va, pa, PageSize::Size4K, flags)
                {
                    Ok(flush) => {
                        tlb::settle(self.root(), flush);
                        Ok(pa)
                    }
                    Err(_) => {
                        physmem::release(pa);
                        Err(Errno::ENOMEM)
                    }
                }
            }
            Some((pa, flags, _)) if write && flags.contains(PteFlags::COW) => {
                let pa = pa.align_down(PageSize::Size4K);
                let mut new_flags = flags_for(prot, false);
                new_flags.remove(PteFlags::COW);
                let target = if physmem::refs(pa) == 1 {
                    pa
                } else {
                    let copy = placement::alloc_page(policy, private_index, Some(pa))
                        .ok_or(Errno::ENOMEM)?;
                    physmem::release(pa);
                    copy
                };
                let root = self.root();
                if target != pa {
                    // Break before make: the read-only entry is gone from every TLB
                    // before the copy is mapped.
                    let (_, _, _, flush) = self
                        .table
                        .unmap(&mut KernelPhysMem, va)
                        .map_err(|_| Errno::EFAULT)?;
                    tlb::settle(root, flush);
                    let flush = self
                        .table
                        .map(&mut KernelPhysMem, va, target, PageSize::Size4K, new_flags)
                        .map_err(|_| Errno::ENOMEM)?;
                    tlb::settle(root, flush);
                } else {
                    let flush = self
                        .table
                        .protect(&mut KernelPhysMem, va, new_flags)
                        .map_err(|_| Errno::EFAULT)?;
                    tlb::settle(root, flush);
                }
                Ok(target)
            }
            Some((pa, _, _)) => {
                // An access-flag fault (aarch64: the migration daemon cleared AF to
                // sample the page) is answered by setting it; no TLB holds a faulting
                // entry. Otherwise another path faulted the page in: drop a stale entry.
                if !self.table.mark_accessed(&mut KernelPhysMem, va) {
                    tlb::flush_page(self.root(), va);
                }
                Ok(pa.align_down(PageSize::Size4K))
            }
        }
    }

    /// Writes `data` at user address `addr` of this (possibly inactive) space through the
    /// direct map, faulting pages in regardless of their user protection. For the loader.
    pub fn write_bytes(&mut self, addr: usize, data: &[u8]) -> KResult<()> {
        let mut done = 0;
        while done < data.len() {
            let at = addr.checked_add(done).ok_or(Errno::EFAULT)?;
            let vma = *self.vmas.lookup(at as u64).ok_or(Errno::EFAULT)?;
            let pa = self.fault_in(at, &vma, true, POLICY_DEFAULT)?;
            let offset = at % PAGE_SIZE;
            let n = (PAGE_SIZE - offset).min(data.len() - done);
            // SAFETY: `pa` is a frame this space owns privately (just faulted in for
            // write), reached through the direct map; `offset + n` stays inside the page.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    data[done..].as_ptr(),
                    direct::ptr::<u8>(pa + offset as u64),
                    n,
                )
            };
            done += n;
        }
        Ok(())
    }

    /// Gives `[addr, addr + len)` tier policy `policy` (`mem_advise`): pages faulted in
    /// from now on follow it, and the migration side is asked to move the ones present.
    /// `EINVAL` unaligned or empty, `ENOMEM` for a hole (nothing changes).
    pub fn set_policy(&mut self, addr: usize, len: usize, policy: u32) -> KResult<()> {
        // A range inside one mapping splits it in three.
        self.room_for(2)?;
        let changed = self
            .vmas
            .set_policy(addr as u64, len as u64, policy)
            .map_err(vm_err)?;
        for r in changed {
            placement::request_move(self.root(), r.start, (r.end - r.start) / PAGE, policy);
        }
        Ok(())
    }

    /// Resident user pages by tier, `[near, far]`: a walk of the present entries only
    /// (bounded by physical memory), each frame classified by the tier that owns it.
    /// `(resident bytes, mapped bytes)`: frames mapped now, and the VMAs' extent.
    pub fn usage(&self) -> (u64, u64) {
        let mut rss = 0;
        let mut from = VirtAddr::new(USER_BASE as u64);
        let end = VirtAddr::new(USER_END as u64);
        while let Some(leaf) = self.table.next_leaf(&KernelPhysMem, from, end) {
            from = leaf.end();
            rss += leaf.size.bytes();
        }
        let vsize = self.vmas.iter().map(|v| v.end - v.start).sum();
        (rss, vsize)
    }

    pub fn placement_counts(&self) -> [u64; 2] {
        let mut counts = [0u64; 2];
        let mut from = VirtAddr::new(USER_BASE as u64);
        let end = VirtAddr::new(USER_END as u64);
        while let Some(leaf) = self.table.next_leaf(&KernelPhysMem, from, end) {
            from = leaf.end();
            let tier = placement::tier_index_of(leaf.pa) as usize;
            counts[tier.min(1)] += leaf.size.bytes() / PAGE;
        }
        counts
    }

    /// A copy-on-write duplicate for fork. Pages this space had writable become read-only
    /// here too, flushed from every TLB before this returns (also when it fails halfway).
    pub fn fork(&mut self) -> KResult<AddressSpace> {
        let mut child = AddressSpace::new()?;
        let child_root = child.root();
        let mut batch = tlb::Batch::new(self.root());
        child.vmas = self.vmas.clone_for_fork();
        child.objects = self.objects.clone();
        let mut from = VirtAddr::new(USER_BASE as u64);
        let end = VirtAddr::new(USER_END as u64);
        while let Some(leaf) = self.table.next_leaf(&KernelPhysMem, from, end) {
            from = leaf.end();
            let mut flags = leaf.flags;
            if !flags.contains(PteFlags::SHARED) {
                flags.remove(PteFlags::WRITE);
                flags.insert(PteFlags::COW);
                if flags != leaf.flags {
                    let flush = self
                        .table
                        .protect(&mut KernelPhysMem, leaf.va, flags)
                        .map_err(|_| Errno::ENOMEM)?;
                    batch.add(flush);
                }
            }
            physmem::retain(leaf.pa);
            match child
                .table
                .map(&mut KernelPhysMem, leaf.va, leaf.pa, leaf.size, flags)
            {
                Ok(flush) => tlb::settle(child_root, flush),
                Err(_) => {
                    physmem::release(leaf.pa);
                    return Err(Errno::ENOMEM);
                }
            }
        }
        batch.flush();
        Ok(child)
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        let root = self.table.root();
        let table = PageTable::<PteFormat>::from_root(root);
        table.destroy(&mut KernelPhysMem, |leaf| physmem::release(leaf.pa));
    }
}
