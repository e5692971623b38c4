//! Page grants: memory objects made of the pages of `MAP_SHARED` mappings (`mem_grant`),
//! mapped into another address space without copying (`mem_map`).
//!
//! A [`MemObject`] holds references to the page sets ([`SharedPages`]) of the mappings it
//! was granted from, so its pages live while any handle or mapping refers to them: the
//! granter may unmap its side and the receiver still sees the data. Each `mem_map` gives
//! the mapping space a fresh object id per piece, remembering the handle's rights as the
//! most protection those VMAs may ever get, so `mprotect` cannot widen a read-only grant.
//! The range checks and layout are `wayos_kcore::grant` (host-tested); see `docs/ipc.md`.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use wayos_kcore::grant::{self, GrantError, Segment};

use super::{vm_err, AddressSpace, Backing, Prot, SharedObject, NEXT_OBJECT};
use crate::error::{Errno, KResult};

/// A contiguous piece of a granted object.
struct Piece {
    pages: Backing,
    /// Byte offset into `pages` (page aligned).
    offset: u64,
    len: u64,
}

impl Piece {
    fn new(pages: Backing, offset: u64, len: u64) -> Self {
        if let Backing::Anon(p) = &pages {
            p.granted.fetch_add(1, Ordering::AcqRel);
        }
        Piece { pages, offset, len }
    }
}

impl Drop for Piece {
    fn drop(&mut self) {
        if let Backing::Anon(p) = &self.pages {
            p.granted.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// What a memory handle refers to: pieces of shared page sets, in order. Immutable once
/// made; handles with fewer rights share it.
pub struct MemObject {
    pieces: Vec<Piece>,
}

impl MemObject {
    /// Bytes of the object: a whole number of pages, at least one.
    pub fn size(&self) -> u64 {
        self.pieces.iter().map(|p| p.len).sum()
    }
}

fn grant_errno(e: GrantError) -> Errno {
    Errno(e.errno())
}

impl AddressSpace {
    /// `mem_grant`: a memory object for `[addr, addr + len)`, which must lie in shared
    /// mappings whose protection allows `rights` (see `wayos_kcore::grant::segments`).
    pub fn grant(&self, addr: usize, len: usize, rights: u32) -> KResult<MemObject> {
        let segments =
            grant::segments(&self.vmas, addr as u64, len as u64, rights).map_err(grant_errno)?;
        let mut pieces = Vec::new();
        pieces
            .try_reserve_exact(segments.len())
            .map_err(|_| Errno::ENOMEM)?;
        for s in &segments {
            // Every shared VMA's object is in `objects` (pruned only when no VMA names it).
            let obj = self.objects.get(&s.object).ok_or(Errno::EINVAL)?;
            pieces.push(Piece::new(obj.pages.clone(), s.offset, s.len));
        }
        Ok(MemObject { pieces })
    }

    /// `mem_map`: maps all of `obj` with `prot` at an address the allocator picks and
    /// returns it. `prot` must be within what `rights` allow (`EACCES`), which also bound
    /// any later `mprotect` of the mapping.
    pub fn map_object(&mut self, obj: &MemObject, prot: Prot, rights: u32) -> KResult<usize> {
        grant::check_map(rights, prot).map_err(grant_errno)?;
        let max = grant::max_prot(rights);
        self.room_for(obj.pieces.len().saturating_add(1))?;
        let mut views = Vec::new();
        views
            .try_reserve_exact(obj.pieces.len())
            .map_err(|_| Errno::ENOMEM)?;
        for p in &obj.pieces {
            views.push(Segment {
                object: NEXT_OBJECT.fetch_add(1, Ordering::Relaxed),
                offset: p.offset,
                len: p.len,
            });
        }
        let range = grant::map_segments(&mut self.vmas, &views, prot, "grant").map_err(vm_err)?;
        for (v, p) in views.iter().zip(&obj.pieces) {
            let view = SharedObject {
                pages: p.pages.clone(),
                max,
                span: range,
            };
            self.objects.insert(v.object, Arc::new(view));
        }
        Ok(range.start as usize)
    }

    /// `EACCES` if `mprotect(addr, len, prot)` would give a mapped grant more than its
    /// handle's rights allowed.
    pub(super) fn check_protect(&self, addr: usize, len: usize, prot: Prot) -> KResult<()> {
        let max_of = |id| self.objects.get(&id).map_or(Prot::NONE, |o| o.max);
        if grant::protect_allowed(&self.vmas, addr as u64, len as u64, prot, max_of) {
            Ok(())
        } else {
            Err(Errno::EACCES)
        }
    }
}
