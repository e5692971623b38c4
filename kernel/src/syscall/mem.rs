//! mmap, munmap, mprotect: argument checking here, semantics in `mm::space`. `mmap`'s
//! flags may carry a tier policy (`mman::map_policy`); see `syscall::memtier`.

use wayos_abi::mman::{
    MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_POLICY_MASK, MAP_POLICY_SHIFT, MAP_PRIVATE,
    MAP_SHARED, PAGE_SIZE,
};
use wayos_kcore::placement::valid_mapping_policy;

use crate::error::{Errno, KResult};
use crate::mm::space::{MapRequest, Prot};
use crate::task;

const KNOWN_FLAGS: usize =
    MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_POLICY_MASK;

fn prot(bits: usize) -> KResult<Prot> {
    Prot::from_bits(bits).ok_or(Errno::EINVAL)
}

fn with_space<T>(f: impl FnOnce(&mut crate::mm::space::AddressSpace) -> KResult<T>) -> KResult<T> {
    task::current_process().ok_or(Errno::ESRCH)?.with_space(f)
}

pub fn sys_mmap(
    addr: usize,
    len: usize,
    prot_bits: usize,
    flags: usize,
    offset: usize,
) -> KResult<usize> {
    if flags & !KNOWN_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    // The tier policy bits (`mman::map_policy`): a policy that does not exist is EINVAL.
    let policy = ((flags & MAP_POLICY_MASK) >> MAP_POLICY_SHIFT) as u32;
    if !valid_mapping_policy(policy) {
        return Err(Errno::EINVAL);
    }
    let shared = flags & MAP_SHARED != 0;
    if shared == (flags & MAP_PRIVATE != 0) {
        return Err(Errno::EINVAL);
    }
    if flags & MAP_ANONYMOUS == 0 {
        // File mappings need open files (issue 5); until then no descriptor is valid.
        return Err(Errno::EBADF);
    }
    if len == 0 || !offset.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let prot = prot(prot_bits)?;
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    if fixed && !addr.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let req = MapRequest {
        addr: (addr != 0 || fixed).then_some(addr),
        len,
        prot,
        shared,
        fixed,
        no_replace: flags & MAP_FIXED_NOREPLACE != 0,
        policy,
    };
    with_space(|s| s.mmap(req))
}

pub fn sys_munmap(addr: usize, len: usize) -> KResult<usize> {
    if !addr.is_multiple_of(PAGE_SIZE) || len == 0 {
        return Err(Errno::EINVAL);
    }
    with_space(|s| s.munmap(addr, len)).map(|_| 0)
}

pub fn sys_mprotect(addr: usize, len: usize, prot_bits: usize) -> KResult<usize> {
    if !addr.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let prot = prot(prot_bits)?;
    with_space(|s| s.mprotect(addr, len, prot)).map(|_| 0)
}
