//! Page grants as pure bookkeeping: which pieces of which shared objects a `mem_grant`
//! range covers, what a memory handle's rights let `mem_map` and `mprotect` do, and how a
//! granted object is laid out when it is mapped. The kernel (`kernel/src/mm/space/grant.rs`)
//! turns object ids into page sets and applies the result; see `docs/ipc.md`, "Page grants".
//!
//! A grant never copies: it names the pages of the caller's `MAP_SHARED` mappings
//! ([`VmaKind::Shared`]), so only those can be granted. The rights asked for are bounded by
//! the protection those mappings have now, and a mapping made from a handle can never be
//! given more protection than the handle's rights ([`max_prot`]): not by `mem_map`, not by a
//! later `mprotect`.

use alloc::vec::Vec;

use wayos_abi::errno;
use wayos_abi::ipc::{GRANT_MAX_SEGMENTS, MEM_RIGHTS_ALL, RIGHT_READ, RIGHT_WRITE};

use crate::vma::{Placement, Prot, Range, VmError, VmaKind, VmaMap, PAGE_SIZE};

/// A contiguous piece of one shared object: `len` bytes from byte `offset` of object
/// `object` (both page aligned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub object: u64,
    pub offset: u64,
    pub len: u64,
}

/// Why a grant or a mapping of one was refused. Nothing changed when one is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantError {
    /// Rights with bits that are not memory rights. `EINVAL`.
    InvalidRights,
    /// Zero length, an unaligned address or length, a range that wraps or leaves the
    /// user window. `EINVAL`.
    BadRange,
    /// A page of the range is not mapped (or is a stack guard). `ENOMEM`, as `mprotect`.
    NotMapped,
    /// A page of the range is private memory: only `MAP_SHARED` pages can be granted.
    /// `EINVAL`.
    NotShared,
    /// The range spans more than `GRANT_MAX_SEGMENTS` pieces. `E2BIG`.
    TooManySegments,
    /// More access than the mapping's protection (grant) or the handle's rights (map,
    /// mprotect) allow. `EACCES`.
    Denied,
}

impl GrantError {
    /// The errno (`wayos_abi::errno`) a syscall returns for this error.
    pub const fn errno(self) -> isize {
        match self {
            GrantError::InvalidRights | GrantError::BadRange | GrantError::NotShared => {
                errno::EINVAL
            }
            GrantError::NotMapped => errno::ENOMEM,
            GrantError::TooManySegments => errno::E2BIG,
            GrantError::Denied => errno::EACCES,
        }
    }
}

/// The protection a mapping needs to grant `rights`: read for `RIGHT_READ`, write for
/// `RIGHT_WRITE`.
const fn needed_prot(rights: u32) -> Prot {
    let mut bits = 0;
    if rights & RIGHT_READ != 0 {
        bits |= wayos_abi::mman::PROT_READ;
    }
    if rights & RIGHT_WRITE != 0 {
        bits |= wayos_abi::mman::PROT_WRITE;
    }
    match Prot::from_bits(bits) {
        Some(p) => p,
        None => Prot::NONE,
    }
}

/// The most protection a mapping made from a handle with `rights` may ever have: read
/// with `RIGHT_READ`, write with `RIGHT_READ | RIGHT_WRITE` (pages cannot be write-only),
/// never execute.
pub const fn max_prot(rights: u32) -> Prot {
    if rights & RIGHT_READ == 0 {
        Prot::NONE
    } else if rights & RIGHT_WRITE == 0 {
        Prot::READ
    } else {
        Prot::READ.union(Prot::WRITE)
    }
}

/// Whether `mem_map` with `prot` is allowed on a handle with `rights`.
pub const fn check_map(rights: u32, prot: Prot) -> Result<(), GrantError> {
    if max_prot(rights).contains(prot) {
        Ok(())
    } else {
        Err(GrantError::Denied)
    }
}

/// The pieces of shared objects that `[addr, addr + len)` of `vmas` covers, for a grant
/// with `rights`. Adjacent VMAs of one object at contiguous offsets (a mapping split by
/// `mprotect`) make one segment.
///
/// Checks, in order (the first failure is returned): `rights` ⊆ `MEM_RIGHTS_ALL`
/// (`InvalidRights`); `addr` and `len` page aligned, `len > 0`, the range inside the user
/// window (`BadRange`); every page mapped and not a guard (`NotMapped`); every page in a
/// shared-object VMA (`NotShared`); every VMA's protection allows `rights` (`Denied`); at
/// most `GRANT_MAX_SEGMENTS` segments (`TooManySegments`).
pub fn segments(
    vmas: &VmaMap,
    addr: u64,
    len: u64,
    rights: u32,
) -> Result<Vec<Segment>, GrantError> {
    if rights & !MEM_RIGHTS_ALL != 0 {
        return Err(GrantError::InvalidRights);
    }
    if len == 0 || !addr.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) {
        return Err(GrantError::BadRange);
    }
    let end = addr.checked_add(len).ok_or(GrantError::BadRange)?;
    let window = vmas.window();
    if addr < window.start || end > window.end {
        return Err(GrantError::BadRange);
    }
    // Coverage first: a hole or a guard anywhere is `NotMapped`, whatever else is wrong.
    let mut at = addr;
    for v in vmas.overlapping(addr, end) {
        if v.start > at || v.kind == VmaKind::Guard {
            return Err(GrantError::NotMapped);
        }
        at = v.end;
    }
    if at < end {
        return Err(GrantError::NotMapped);
    }
    let mut out: Vec<Segment> = Vec::new();
    let mut denied = false;
    for v in vmas.overlapping(addr, end) {
        let VmaKind::Shared { object, offset } = v.kind else {
            return Err(GrantError::NotShared);
        };
        denied |= !v.prot.contains(needed_prot(rights));
        let from = v.start.max(addr);
        let to = v.end.min(end);
        let piece = Segment {
            object,
            offset: offset + (from - v.start),
            len: to - from,
        };
        match out.last_mut() {
            Some(last)
                if last.object == piece.object
                    && last.offset.checked_add(last.len) == Some(piece.offset) =>
            {
                last.len += piece.len;
            }
            _ => out.push(piece),
        }
    }
    if denied {
        return Err(GrantError::Denied);
    }
    if out.len() > GRANT_MAX_SEGMENTS {
        return Err(GrantError::TooManySegments);
    }
    Ok(out)
}

/// Total bytes of a grant's segments.
pub fn total_len(segments: &[Segment]) -> u64 {
    segments.iter().map(|s| s.len).sum()
}

/// Maps `segments` (each with the id the mapping address space knows its object by) one
/// after the other at an address the allocator picks (top-down, as `mmap` without a
/// hint), all with `prot`; returns the whole range. On error nothing is mapped.
///
/// Ranges replaced while laying the pieces out were created by this call and never
/// faulted in, so the caller has no pages to drop.
pub fn map_segments(
    vmas: &mut VmaMap,
    segments: &[Segment],
    prot: Prot,
    tag: &'static str,
) -> Result<Range, VmError> {
    let Some(first) = segments.first() else {
        return Err(VmError::ZeroLength);
    };
    let total = segments
        .iter()
        .try_fold(0u64, |acc, s| acc.checked_add(s.len))
        .ok_or(VmError::NoSpace)?;
    // Reserve the whole range with the first piece's object, then lay the others over it.
    let kind = |s: &Segment| VmaKind::Shared {
        object: s.object,
        offset: s.offset,
    };
    // Nothing is replaced by an `Anywhere` mapping, so there is nothing to drop.
    let range = vmas
        .mmap(Placement::Anywhere, total, prot, kind(first), tag)?
        .range;
    let mut at = range.start;
    for s in segments {
        if at != range.start {
            if let Err(e) = vmas.mmap(Placement::Fixed(at), s.len, prot, kind(s), tag) {
                let _ = vmas.munmap(range.start, total);
                return Err(e);
            }
        }
        at += s.len;
    }
    Ok(range)
}

/// Whether `mprotect(addr, len, prot)` keeps every shared-object VMA of the range within
/// the most protection its object allows there (`max_of(object)`). Ranges the VMA map will
/// refuse anyway (unaligned, wrapping, unmapped) pass here and fail there.
pub fn protect_allowed(
    vmas: &VmaMap,
    addr: u64,
    len: u64,
    prot: Prot,
    max_of: impl Fn(u64) -> Prot,
) -> bool {
    let end = addr.saturating_add(len);
    vmas.overlapping(addr, end).all(|v| match v.kind {
        VmaKind::Shared { object, .. } => max_of(object).contains(prot),
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use wayos_abi::ipc::{RIGHTS_ALL, RIGHT_GRANT, RIGHT_RECV, RIGHT_SEND};

    const P: u64 = PAGE_SIZE;
    const BASE: u64 = 0x40_0000;
    const END: u64 = 0x7fff_ffff_f000;
    const RW: Prot = Prot::READ.union(Prot::WRITE);

    fn shm(object: u64, offset: u64) -> VmaKind {
        VmaKind::Shared { object, offset }
    }

    /// A map with `pages` pages of `kind` at `at`.
    fn map_at(m: &mut VmaMap, at: u64, pages: u64, prot: Prot, kind: VmaKind) {
        let o = m
            .mmap(Placement::FixedNoReplace(at), pages * P, prot, kind, "t")
            .unwrap();
        assert_eq!(o.range.start, at);
    }

    fn seg(object: u64, offset: u64, pages: u64) -> Segment {
        Segment {
            object,
            offset,
            len: pages * P,
        }
    }

    #[test]
    fn whole_and_partial_single_object() {
        let mut m = VmaMap::new(BASE, END);
        let a = 0x1000_0000;
        map_at(&mut m, a, 64, RW, shm(7, 0));
        let rw = RIGHT_READ | RIGHT_WRITE;
        assert_eq!(segments(&m, a, 64 * P, rw), Ok(vec![seg(7, 0, 64)]));
        assert_eq!(
            segments(&m, a + 3 * P, 5 * P, RIGHT_READ),
            Ok(vec![seg(7, 3 * P, 5)])
        );
        assert_eq!(
            segments(&m, a + 63 * P, P, RIGHT_GRANT),
            Ok(vec![seg(7, 63 * P, 1)])
        );
        assert_eq!(segments(&m, a, 0, rw), Err(GrantError::BadRange));
    }

    #[test]
    fn split_object_is_one_segment_and_neighbours_are_two() {
        let mut m = VmaMap::new(BASE, END);
        let a = 0x2000_0000;
        map_at(&mut m, a, 8, RW, shm(1, 0));
        // Different protection in the middle splits the VMA; the object stays contiguous.
        let changed = m.mprotect(a + 2 * P, 2 * P, Prot::READ).unwrap();
        assert_eq!(changed.len(), 1);
        assert_eq!(m.len(), 3);
        assert_eq!(segments(&m, a, 8 * P, RIGHT_READ), Ok(vec![seg(1, 0, 8)]));
        // Write is refused because of the read-only middle, wherever the range starts.
        assert_eq!(
            segments(&m, a + P, 2 * P, RIGHT_READ | RIGHT_WRITE),
            Err(GrantError::Denied)
        );
        assert_eq!(
            segments(&m, a + 4 * P, 4 * P, RIGHT_READ | RIGHT_WRITE),
            Ok(vec![seg(1, 4 * P, 4)])
        );
        // A second object right after the first: two segments.
        map_at(&mut m, a + 8 * P, 4, RW, shm(2, 0));
        assert_eq!(
            segments(&m, a + 6 * P, 4 * P, RIGHT_READ),
            Ok(vec![seg(1, 6 * P, 2), seg(2, 0, 2)])
        );
        // The same object mapped twice, not at contiguous offsets: two segments.
        map_at(&mut m, a + 12 * P, 2, RW, shm(1, 0));
        assert_eq!(
            segments(&m, a + 6 * P, 8 * P, RIGHT_READ),
            Ok(vec![seg(1, 6 * P, 2), seg(2, 0, 4), seg(1, 0, 2)])
        );
    }

    #[test]
    fn refusals_in_order() {
        let mut m = VmaMap::new(BASE, END);
        let a = 0x3000_0000;
        map_at(&mut m, a, 4, Prot::READ, shm(3, 0));
        map_at(
            &mut m,
            a + 4 * P,
            4,
            RW,
            VmaKind::Anonymous { shared: false },
        );
        // Rights: port rights and unknown bits are not memory rights.
        for bad in [RIGHT_SEND, RIGHT_RECV, RIGHTS_ALL, 1 << 9, u32::MAX] {
            assert_eq!(segments(&m, a, P, bad), Err(GrantError::InvalidRights));
        }
        // Range shape.
        assert_eq!(
            segments(&m, a + 1, P, RIGHT_READ),
            Err(GrantError::BadRange)
        );
        assert_eq!(
            segments(&m, a, P + 1, RIGHT_READ),
            Err(GrantError::BadRange)
        );
        assert_eq!(segments(&m, a, 0, RIGHT_READ), Err(GrantError::BadRange));
        assert_eq!(
            segments(&m, a, u64::MAX - P + 1, RIGHT_READ),
            Err(GrantError::BadRange)
        );
        assert_eq!(segments(&m, 0, P, RIGHT_READ), Err(GrantError::BadRange));
        assert_eq!(segments(&m, END, P, RIGHT_READ), Err(GrantError::BadRange));
        assert_eq!(
            segments(&m, END - P, 2 * P, RIGHT_READ),
            Err(GrantError::BadRange)
        );
        assert_eq!(
            segments(&m, 0xffff_8000_0000_0000, P, RIGHT_READ),
            Err(GrantError::BadRange)
        );
        // Unmapped before, after, or in the middle; the hole wins over private memory.
        assert_eq!(
            segments(&m, a - P, 2 * P, RIGHT_READ),
            Err(GrantError::NotMapped)
        );
        assert_eq!(
            segments(&m, a + 6 * P, 4 * P, RIGHT_READ),
            Err(GrantError::NotMapped)
        );
        assert_eq!(
            segments(&m, a + 0x10_0000, P, RIGHT_READ),
            Err(GrantError::NotMapped)
        );
        // Private memory, alone or after shared pages.
        assert_eq!(
            segments(&m, a + 4 * P, P, RIGHT_READ),
            Err(GrantError::NotShared)
        );
        assert_eq!(
            segments(&m, a, 8 * P, RIGHT_READ),
            Err(GrantError::NotShared)
        );
        // Protection bounds the rights: write on read-only memory.
        assert_eq!(
            segments(&m, a, 4 * P, RIGHT_READ | RIGHT_WRITE),
            Err(GrantError::Denied)
        );
        assert_eq!(segments(&m, a, 4 * P, RIGHT_WRITE), Err(GrantError::Denied));
        assert_eq!(
            segments(&m, a, 4 * P, RIGHT_READ | RIGHT_GRANT),
            Ok(vec![seg(3, 0, 4)])
        );
        // PROT_NONE shared memory can be granted with no access right only.
        map_at(&mut m, a + 0x20_0000, 2, Prot::NONE, shm(4, 0));
        assert_eq!(
            segments(&m, a + 0x20_0000, 2 * P, RIGHT_READ),
            Err(GrantError::Denied)
        );
        assert_eq!(
            segments(&m, a + 0x20_0000, 2 * P, RIGHT_GRANT),
            Ok(vec![seg(4, 0, 2)])
        );
    }

    #[test]
    fn guard_pages_are_not_mapped() {
        let mut m = VmaMap::new(BASE, END);
        let stack = 0x5000_0000;
        let o = m
            .mmap_stack(Placement::FixedNoReplace(stack), 4 * P, 1, RW, "stack")
            .unwrap();
        assert!(o.unmapped.is_empty());
        assert_eq!(
            segments(&m, stack - P, P, RIGHT_READ),
            Err(GrantError::NotMapped)
        );
        assert_eq!(
            segments(&m, stack, P, RIGHT_READ),
            Err(GrantError::NotShared)
        );
    }

    #[test]
    fn segment_limit() {
        let mut m = VmaMap::new(BASE, END);
        let a = 0x4000_0000;
        let n = GRANT_MAX_SEGMENTS as u64;
        for i in 0..=n {
            map_at(&mut m, a + i * P, 1, RW, shm(100 + i, 0));
        }
        let got = segments(&m, a, n * P, RIGHT_READ).unwrap();
        assert_eq!(got.len(), GRANT_MAX_SEGMENTS);
        assert_eq!(got[5], seg(105, 0, 1));
        assert_eq!(total_len(&got), n * P);
        assert_eq!(
            segments(&m, a, (n + 1) * P, RIGHT_READ),
            Err(GrantError::TooManySegments)
        );
        // Access is checked before the count.
        assert_eq!(
            segments(&m, a, (n + 1) * P, 1 << 9),
            Err(GrantError::InvalidRights)
        );
    }

    #[test]
    fn map_rights() {
        let r = RIGHT_READ;
        let rw = RIGHT_READ | RIGHT_WRITE;
        assert_eq!(max_prot(0), Prot::NONE);
        assert_eq!(max_prot(RIGHT_GRANT), Prot::NONE);
        assert_eq!(max_prot(RIGHT_WRITE), Prot::NONE);
        assert_eq!(max_prot(r | RIGHT_GRANT), Prot::READ);
        assert_eq!(max_prot(rw | RIGHT_GRANT), RW);
        assert_eq!(check_map(r, Prot::READ), Ok(()));
        assert_eq!(check_map(r, Prot::NONE), Ok(()));
        assert_eq!(check_map(0, Prot::NONE), Ok(()));
        assert_eq!(check_map(r, RW), Err(GrantError::Denied));
        assert_eq!(check_map(r, Prot::WRITE), Err(GrantError::Denied));
        assert_eq!(check_map(RIGHT_WRITE, Prot::WRITE), Err(GrantError::Denied));
        assert_eq!(check_map(rw, RW), Ok(()));
        assert_eq!(check_map(rw, Prot::EXEC), Err(GrantError::Denied));
        assert_eq!(check_map(rw, RW | Prot::EXEC), Err(GrantError::Denied));
        assert_eq!(check_map(RIGHT_GRANT, Prot::READ), Err(GrantError::Denied));
    }

    /// Memory handles narrow with `dup` like port handles; only undefined bits are
    /// invalid.
    #[test]
    fn memory_rights_dup() {
        use crate::ipc::{HandleError, HandleTable};
        let mut t = HandleTable::new(8);
        let h = t.insert(1u8, MEM_RIGHTS_ALL).unwrap();
        let r = t.dup(h, RIGHT_READ | RIGHT_GRANT).unwrap();
        assert_eq!(t.rights(r), Ok(RIGHT_READ | RIGHT_GRANT));
        assert_eq!(
            t.dup(r, RIGHT_READ | RIGHT_WRITE),
            Err(HandleError::MissingRights)
        );
        let ro = t.dup(r, RIGHT_READ).unwrap();
        assert_eq!(t.dup(ro, RIGHT_READ), Err(HandleError::MissingRights));
        assert_eq!(t.dup(h, RIGHT_SEND), Err(HandleError::MissingRights));
        assert_eq!(t.dup(h, 1 << 5), Err(HandleError::InvalidRights));
    }

    #[test]
    fn errnos() {
        assert_eq!(GrantError::InvalidRights.errno(), errno::EINVAL);
        assert_eq!(GrantError::BadRange.errno(), errno::EINVAL);
        assert_eq!(GrantError::NotShared.errno(), errno::EINVAL);
        assert_eq!(GrantError::NotMapped.errno(), errno::ENOMEM);
        assert_eq!(GrantError::TooManySegments.errno(), errno::E2BIG);
        assert_eq!(GrantError::Denied.errno(), errno::EACCES);
    }

    /// A grant taken from one map and laid out in another reproduces each piece, in
    /// order, with the receiver's object ids.
    #[test]
    fn map_segments_lays_out_pieces() {
        let mut from = VmaMap::new(BASE, END);
        let a = 0x6000_0000;
        map_at(&mut from, a, 3, RW, shm(1, 0));
        map_at(&mut from, a + 3 * P, 5, RW, shm(2, 0));
        let segs = segments(&from, a + P, 6 * P, RIGHT_READ).unwrap();
        assert_eq!(segs, vec![seg(1, P, 2), seg(2, 0, 4)]);

        let mut to = VmaMap::new(BASE, END);
        map_at(
            &mut to,
            END - 16 * P,
            16,
            RW,
            VmaKind::Anonymous { shared: false },
        );
        // The receiver knows the objects by its own ids.
        let views: Vec<Segment> = segs
            .iter()
            .zip([50, 51])
            .map(|(s, id)| Segment { object: id, ..*s })
            .collect();
        let r = map_segments(&mut to, &views, Prot::READ, "grant").unwrap();
        to.check_invariants();
        // Top-down: right below the existing mapping.
        assert_eq!(r, Range::new(END - 22 * P, END - 16 * P));
        let got: Vec<(u64, u64, VmaKind, Prot)> = to
            .overlapping(r.start, r.end)
            .map(|v| (v.start, v.end, v.kind, v.prot))
            .collect();
        assert_eq!(
            got,
            vec![
                (r.start, r.start + 2 * P, shm(50, P), Prot::READ),
                (r.start + 2 * P, r.end, shm(51, 0), Prot::READ),
            ]
        );
        assert_eq!(
            map_segments(&mut to, &[], Prot::READ, "grant"),
            Err(VmError::ZeroLength)
        );
    }

    #[test]
    fn map_segments_failure_maps_nothing() {
        // A window with room for 4 pages only.
        let mut to = VmaMap::new(BASE, BASE + 4 * P);
        let before = to.clone();
        assert_eq!(
            map_segments(&mut to, &[seg(1, 0, 3), seg(2, 0, 2)], RW, "grant"),
            Err(VmError::NoSpace)
        );
        assert_eq!(to, before);
        let r = map_segments(&mut to, &[seg(1, 0, 2), seg(2, 0, 2)], RW, "grant").unwrap();
        assert_eq!(r, Range::new(BASE, BASE + 4 * P));
        assert_eq!(to.len(), 2);
    }

    #[test]
    fn protect_bounded_by_object_max() {
        let mut m = VmaMap::new(BASE, END);
        let a = 0x7000_0000;
        map_at(&mut m, a, 2, Prot::READ, shm(9, 0));
        map_at(
            &mut m,
            a + 2 * P,
            2,
            RW,
            VmaKind::Anonymous { shared: false },
        );
        map_at(&mut m, a + 4 * P, 2, RW, shm(10, 0));
        let max = |o: u64| if o == 9 { Prot::READ } else { RW | Prot::EXEC };
        assert!(protect_allowed(&m, a, 2 * P, Prot::READ, max));
        assert!(protect_allowed(&m, a, 2 * P, Prot::NONE, max));
        assert!(!protect_allowed(&m, a, 2 * P, RW, max));
        assert!(!protect_allowed(&m, a + P, P, Prot::EXEC, max));
        // The read-only view anywhere in the range refuses write for all of it.
        assert!(!protect_allowed(&m, a, 6 * P, RW, max));
        assert!(protect_allowed(&m, a + 2 * P, 4 * P, RW | Prot::EXEC, max));
        // Private memory and holes are not this check's business.
        assert!(protect_allowed(&m, a + 0x100_0000, P, RW, max));
        assert!(protect_allowed(&m, a, u64::MAX, Prot::READ, max));
    }
}
