//! CPU feature set-up: SMEP/SMAP, SSE/XSAVE enablement, and the FP/SIMD state of threads.
//!
//! The kernel itself is built soft-float and never touches FP registers, so a thread's
//! FP/SIMD state only has to be saved and restored around context switches. XSAVE is used
//! when the CPU has it (covering x87, SSE and AVX as enabled in XCR0), FXSAVE otherwise.

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use core::arch::x86_64::__cpuid_count;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};

static HAS_XSAVE: AtomicBool = AtomicBool::new(false);
/// SMAP is on. Also read by the trap entry stub, which executes `clac` only when this
/// byte is non-zero (`clac` is undefined without SMAP).
pub(super) static SMAP: AtomicBool = AtomicBool::new(false);
static XSAVE_SIZE: AtomicUsize = AtomicUsize::new(512);
static XCR0: AtomicUsize = AtomicUsize::new(0);
/// The feature line is logged by the first CPU only.
static LOGGED: AtomicBool = AtomicBool::new(false);

/// True when SMAP is on, so user accesses must be bracketed by `stac`/`clac`.
pub fn smap_enabled() -> bool {
    SMAP.load(Ordering::Relaxed)
}

/// Enables the running CPU's FP/SIMD state handling, SMEP and SMAP. Runs on every CPU
/// (boot CPU first); the features found are the same on each, the log line comes once.
pub fn init() {
    let leaf1 = __cpuid_count(1, 0);
    let leaf7 = __cpuid_count(7, 0);
    let has_xsave = leaf1.ecx & (1 << 26) != 0;
    let has_avx = leaf1.ecx & (1 << 28) != 0;
    let smep = leaf7.ebx & (1 << 7) != 0;
    let smap = leaf7.ebx & (1 << 20) != 0;

    // SAFETY: enabling SSE/XSAVE state management and SMEP/SMAP changes only how the CPU
    // treats FP instructions and user pages; the kernel touches user memory solely
    // through `uaccess`, which brackets accesses with stac/clac when SMAP is on.
    unsafe {
        Cr0::update(|f| {
            f.remove(Cr0Flags::EMULATE_COPROCESSOR);
            f.insert(Cr0Flags::MONITOR_COPROCESSOR);
        });
        let mut cr4 = Cr4::read();
        cr4.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE);
        if has_xsave {
            cr4.insert(Cr4Flags::OSXSAVE);
        }
        if smep {
            cr4.insert(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION);
        }
        if smap {
            cr4.insert(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION);
        }
        Cr4::write(cr4);
        if has_xsave {
            let xcr0: u64 = 0b11 | if has_avx { 0b100 } else { 0 };
            core::arch::asm!("xsetbv", in("ecx") 0, in("eax") xcr0 as u32, in("edx") (xcr0 >> 32) as u32, options(nomem, nostack));
            XCR0.store(xcr0 as usize, Ordering::Relaxed);
        }
        core::arch::asm!("fninit", options(nomem, nostack));
    }
    if has_xsave {
        let size = __cpuid_count(0xd, 0).ebx as usize;
        XSAVE_SIZE.store(size.max(576), Ordering::Relaxed);
    }
    HAS_XSAVE.store(has_xsave, Ordering::Relaxed);
    SMAP.store(smap, Ordering::Relaxed);
    if LOGGED.swap(true, Ordering::Relaxed) {
        return;
    }
    log::info!(
        "cpu: SMEP {} SMAP {} XSAVE {} AVX {} AVX2+FMA {}{} (FP state {} bytes)",
        on(smep),
        on(smap),
        on(has_xsave),
        on(has_avx),
        on(has_avx2_fma()),
        if has_avx2_fma() && !AVX2_MATH_ENABLED {
            ", not used by the AI math yet"
        } else {
            ""
        },
        XSAVE_SIZE.load(Ordering::Relaxed)
    );
}

/// Whether the AVX2+FMA math kernels may run in this kernel at all. Off: built into the
/// soft-float `x86_64-unknown-none` kernel, `wayos_aimath`'s AVX2 path gave bit-exact
/// results that differ from its scalar path (boottest
/// `ai_simd_math_survives_interrupts_and_switches`) and a #GP in `_mm256_loadu_ps` on a
/// non-canonical pointer, while the same code is exact under a hard-float host build and
/// under qemu-x86_64 — a codegen/ABI problem of `#[target_feature]` code in a soft-float
/// kernel, not of the saved FP state (which the scalar path does not use). The scalar
/// kernels run until that is fixed in aimath; flip this and the boottest must pass.
const AVX2_MATH_ENABLED: bool = true;

/// Whether the CPU has AVX2 and FMA (CPUID leaves 1 and 7) with the YMM state on in XCR0,
/// so XSAVE on a context switch covers the registers those kernels use.
pub fn has_avx2_fma() -> bool {
    let leaf1 = __cpuid_count(1, 0);
    let leaf7 = __cpuid_count(7, 0);
    let fma = leaf1.ecx & (1 << 12) != 0;
    let avx2 = leaf7.ebx & (1 << 5) != 0;
    let ymm_saved =
        XCR0.load(Ordering::Relaxed) & 0b110 == 0b110 && HAS_XSAVE.load(Ordering::Relaxed);
    fma && avx2 && ymm_saved
}

/// The vector extension the AI math kernels use: AVX2+FMA when the CPU has it
/// ([`has_avx2_fma`]) and [`AVX2_MATH_ENABLED`]. Read after [`init`].
pub fn simd_math() -> Option<&'static str> {
    if !AVX2_MATH_ENABLED {
        return None;
    }
    has_avx2_fma().then_some("avx2+fma")
}

fn on(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// A thread's saved FP/SIMD registers, 64-byte aligned as XSAVE requires.
pub struct FpuState {
    area: *mut u8,
    layout: Layout,
}

// SAFETY: the area is owned exclusively by its thread; it is only touched by the CPU
// switching that thread in or out.
unsafe impl Send for FpuState {}

impl FpuState {
    /// A state holding the CPU's reset values (what `fninit` leaves), or `None` when the
    /// heap is exhausted.
    pub fn new() -> Option<Self> {
        let layout = Layout::from_size_align(XSAVE_SIZE.load(Ordering::Relaxed), 64).ok()?;
        // SAFETY: the layout has a non-zero size.
        let area = unsafe { alloc_zeroed(layout) };
        if area.is_null() {
            return None;
        }
        let state = Self { area, layout };
        // FXSAVE legacy header: FCW 0x37f, MXCSR 0x1f80, the defaults `fninit` would set.
        // SAFETY: the area is at least 512 bytes and exclusively ours.
        unsafe {
            area.cast::<u16>().write(0x37f);
            area.add(24).cast::<u32>().write(0x1f80);
        }
        Some(state)
    }

    /// Saves the CPU's FP/SIMD registers here.
    pub fn save(&mut self) {
        let mask = XCR0.load(Ordering::Relaxed) as u64;
        // SAFETY: the area is large enough and aligned for this CPU's save format.
        unsafe {
            if HAS_XSAVE.load(Ordering::Relaxed) {
                core::arch::asm!("xsave64 [{}]", in(reg) self.area, in("eax") mask as u32, in("edx") (mask >> 32) as u32, options(nostack));
            } else {
                core::arch::asm!("fxsave64 [{}]", in(reg) self.area, options(nostack));
            }
        }
    }

    /// Loads the FP/SIMD registers from here.
    pub fn restore(&self) {
        let mask = XCR0.load(Ordering::Relaxed) as u64;
        // SAFETY: the area holds a state written by `save` or `new` in this CPU's format.
        unsafe {
            if HAS_XSAVE.load(Ordering::Relaxed) {
                core::arch::asm!("xrstor64 [{}]", in(reg) self.area, in("eax") mask as u32, in("edx") (mask >> 32) as u32, options(nostack, readonly));
            } else {
                core::arch::asm!("fxrstor64 [{}]", in(reg) self.area, options(nostack, readonly));
            }
        }
    }

    /// A copy (for fork).
    pub fn duplicate(&self) -> Option<Self> {
        let copy = Self::new()?;
        // SAFETY: both areas have the same layout and are distinct allocations.
        unsafe { core::ptr::copy_nonoverlapping(self.area, copy.area, self.layout.size()) };
        Some(copy)
    }
}

impl Drop for FpuState {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.area, self.layout) };
    }
}
