//! The kernel's memory reserve: the one rule every allocation a user program causes
//! follows.
//!
//! The last [`KERNEL_RESERVE_PAGES`] free frames belong to the kernel itself: the heap
//! growth that teardown of an exiting process, a kernel thread or the fault path may
//! need, and their page tables and stacks. Nothing a program asks for may take them:
//!
//! - user pages and user page tables ([`user_page_available`], used by `mm::physmem`);
//! - new processes and threads ([`pages_available`] with the pages a kernel stack and
//!   first tables need, `EAGAIN` at the call site);
//! - kernel heap memory a syscall allocates for a program ([`admit`], `ENOMEM`): port,
//!   name, pipe and mapping records, pipe buffers. The heap grows in 2 MiB chunks from
//!   the PMM, so a request is admitted when the heap already has room for it, or when a
//!   whole chunk can still be taken without reaching the reserve.
//!
//! The per-process bounds (`task::usage`, `wayos_abi::limits`) keep any one process from
//! owning much; this rule keeps all of them together from starving the kernel. What must
//! never happen: a user-driven path allocating without asking here first, so that the
//! heap's last chunks go to a program and a later infallible kernel allocation ends in
//! `handle_alloc_error`.

use super::{heap, pmm};
use crate::error::{Errno, KResult};

/// Free frames user memory and user-driven kernel memory may never take.
pub const KERNEL_RESERVE_PAGES: usize = wayos_abi::limits::KERNEL_RESERVE_PAGES;

/// Frames one heap growth takes (a 2 MiB chunk).
const HEAP_CHUNK_PAGES: usize = 512;

/// Free heap bytes beyond a request under which it counts as needing a growth: the
/// heap's free space is scattered in holes, so a request that merely fits the total
/// might still not find a hole.
const HEAP_SLACK: usize = 64 * 1024;

/// True when `pages` more frames can be taken for a program (a new process's or thread's
/// kernel stack and tables) and the reserve stays whole.
pub fn pages_available(pages: usize) -> bool {
    pmm::free_pages() > KERNEL_RESERVE_PAGES.saturating_add(pages)
}

/// True when a frame for user memory or a user page table may be taken.
pub fn user_page_available() -> bool {
    pages_available(0)
}

/// Admits a kernel heap allocation of about `bytes` made on a program's behalf: `Ok` when
/// the heap holds it already or may grow for it without touching the reserve, else
/// `ENOMEM`. Call it before allocating; after `Ok` the allocation itself (fallible or
/// not) is served without the reserve.
pub fn admit(bytes: usize) -> KResult<()> {
    let h = heap::stats();
    let free = h.size.saturating_sub(h.used);
    if free >= bytes.saturating_add(HEAP_SLACK) {
        return Ok(());
    }
    let pages = bytes.div_ceil(4096).max(HEAP_CHUNK_PAGES);
    if pages_available(pages) {
        Ok(())
    } else {
        Err(Errno::ENOMEM)
    }
}
