//! Builds a fresh address space from a static ELF executable and its arguments.
//!
//! Every header and segment is validated by `wayos_kcore::elf` before anything is mapped;
//! segments must lie in the user window. Segment pages are filled at load time (there is no
//! file-backed paging yet); the stack gets a guard page below it. The initial stack holds
//! the argument and environment strings and their `StrRef` arrays (`wayos_abi::layout`).

use alloc::vec::Vec;

use wayos_abi::layout::{STACK_SIZE, STACK_TOP, USER_BASE, USER_END};
use wayos_abi::limits::{ARG_MAX_BYTES, ARG_MAX_COUNT};
use wayos_abi::zerocopy::IntoBytes;
use wayos_abi::StrRef;
use wayos_kcore::elf::Elf;

use crate::arch;
use crate::error::{Errno, KResult};
use crate::mm::space::{AddressSpace, Prot};

/// The machine this kernel runs programs for.
#[cfg(target_arch = "x86_64")]
const MACHINE: u16 = wayos_kcore::elf::EM_X86_64;
#[cfg(target_arch = "aarch64")]
const MACHINE: u16 = wayos_kcore::elf::EM_AARCH64;

/// An address space ready to run, and the register state to enter it with.
pub struct Loaded {
    pub space: AddressSpace,
    pub frame: arch::TrapFrame,
}

/// Loads `image` with `argv` and `envp`.
pub fn load(image: &[u8], argv: &[Vec<u8>], envp: &[Vec<u8>]) -> KResult<Loaded> {
    if argv.len() + envp.len() > ARG_MAX_COUNT {
        return Err(Errno::E2BIG);
    }
    let bytes: usize = argv.iter().chain(envp).map(|a| a.len()).sum();
    if bytes > ARG_MAX_BYTES {
        return Err(Errno::E2BIG);
    }
    let elf = Elf::parse(image, MACHINE).map_err(|e| {
        log::debug!("exec: {e}");
        Errno::ENOEXEC
    })?;
    let mut space = AddressSpace::new()?;
    for seg in elf.load_segments() {
        let end = seg.vaddr.checked_add(seg.memsz).ok_or(Errno::ENOEXEC)?;
        if seg.vaddr < USER_BASE as u64 || end > USER_END as u64 {
            log::debug!(
                "exec: segment {:#x}-{end:#x} outside the user window",
                seg.vaddr
            );
            return Err(Errno::ENOEXEC);
        }
        let mut prot = Prot::NONE;
        for (on, bit) in [
            (seg.readable(), Prot::READ),
            (seg.writable(), Prot::WRITE),
            (seg.executable(), Prot::EXEC),
        ] {
            if on {
                prot |= bit;
            }
        }
        // W^X: a segment both writable and executable is refused (EACCES, see
        // `mm::space`); linkers put code and data in separate segments.
        if let Err(e) = space.map_fixed(seg.vaddr as usize, seg.memsz as usize, prot) {
            log::debug!("exec: segment at {:#x}: {e:?}", seg.vaddr);
            return Err(e);
        }
        space.write_bytes(seg.vaddr as usize, elf.segment_data(&seg))?;
    }

    let stack_base = STACK_TOP - STACK_SIZE;
    space.map_stack(stack_base, STACK_SIZE)?;

    // Strings from the top down, then the StrRef arrays, then align.
    let mut sp = STACK_TOP;
    let mut place = |space: &mut AddressSpace, bytes: &[u8]| -> KResult<StrRef> {
        sp -= bytes.len();
        space.write_bytes(sp, bytes)?;
        Ok(StrRef {
            ptr: sp,
            len: bytes.len(),
        })
    };
    let mut argv_refs = Vec::with_capacity(argv.len());
    for a in argv {
        argv_refs.push(place(&mut space, a)?);
    }
    let mut envp_refs = Vec::with_capacity(envp.len());
    for e in envp {
        envp_refs.push(place(&mut space, e)?);
    }
    sp &= !15;
    let ref_size = core::mem::size_of::<StrRef>();
    let envp_at = (sp - envp_refs.len() * ref_size) & !15;
    write_refs(&mut space, envp_at, &envp_refs)?;
    let argv_at = (envp_at - argv_refs.len() * ref_size) & !15;
    write_refs(&mut space, argv_at, &argv_refs)?;
    let sp = argv_at - 16;

    let frame = arch::TrapFrame::new_user(
        elf.entry() as usize,
        sp,
        [argv_refs.len(), argv_at, envp_refs.len(), envp_at],
    );
    Ok(Loaded { space, frame })
}

/// Writes the `StrRef` array as its bytes (`StrRef` is `Plain`).
fn write_refs(space: &mut AddressSpace, at: usize, refs: &[StrRef]) -> KResult<()> {
    space.write_bytes(at, refs.as_bytes())
}
