//! Each CPU's GDT, TSS and per-CPU block (reached through the GS base).
//!
//! Segment order is fixed by SYSCALL/SYSRET (see `syscall.rs`): kernel code, kernel data,
//! user data, user code, then the TSS. Every CPU has its own GDT and TSS: the TSS gives the
//! double-fault handler its own stack (IST 1) and holds `rsp0`, the kernel stack the CPU
//! switches to on a trap from user mode; the scheduler updates it on every switch through
//! [`set_kernel_stack`], which writes the running CPU's TSS.
//!
//! The boot CPU's tables are statics (its GS base is set before the first log line, see
//! [`init_boot_gs`]); a secondary CPU's are allocated by the boot CPU ([`CpuBlock::new`])
//! and installed by the secondary itself ([`CpuBlock::install`]).

use alloc::boxed::Box;
use core::ptr::{addr_of, addr_of_mut};

use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::registers::model_specific::{GsBase, KernelGsBase};
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

/// IST slot (1-based in the IDT, 0-based in the TSS array) for double faults.
pub const DOUBLE_FAULT_IST: u16 = 1;
pub const IST_STACK_SIZE: usize = 16 * 1024;

pub const KERNEL_CS: u16 = 0x08;
pub const KERNEL_SS: u16 = 0x10;
pub const USER_SS: u16 = 0x18 | 3;
pub const USER_CS: u16 = 0x20 | 3;
const TSS_SEL: u16 = 0x28;

/// Per-CPU block reached through the GS base in kernel mode. The syscall entry stub and
/// `cpu_id` read fixed offsets: keep the first four fields in sync with `syscall.rs`.
#[repr(C)]
pub struct PerCpu {
    /// Address of this block (gs:[0]).
    pub self_ptr: usize,
    /// Scratch slot for the user stack pointer during syscall entry (gs:[8]).
    pub user_rsp: usize,
    /// Top of the running thread's kernel stack (gs:[16]).
    pub kernel_rsp: usize,
    /// Dense CPU index (gs:[24]).
    pub cpu: usize,
    /// This CPU's TSS (rsp0 follows the running thread).
    pub tss: *mut TaskStateSegment,
}

/// Byte offset of [`PerCpu::cpu`], for `cpu_id`.
pub const PERCPU_CPU_OFFSET: usize = core::mem::offset_of!(PerCpu, cpu);
const _: () = assert!(PERCPU_CPU_OFFSET == 24);
const _: () = assert!(core::mem::offset_of!(PerCpu, user_rsp) == 8);
const _: () = assert!(core::mem::offset_of!(PerCpu, kernel_rsp) == 16);

/// `u128` elements give the 16-byte alignment the ABI wants for a stack top.
static mut BOOT_DOUBLE_FAULT_STACK: [u128; IST_STACK_SIZE / 16] = [0; IST_STACK_SIZE / 16];
/// The boot CPU's TSS; mutable after load only through `set_kernel_stack` (rsp0).
static mut BOOT_TSS: TaskStateSegment = TaskStateSegment::new();
static mut BOOT_GDT: GlobalDescriptorTable = GlobalDescriptorTable::new();
static mut BOOT_PERCPU: PerCpu = PerCpu {
    self_ptr: 0,
    user_rsp: 0,
    kernel_rsp: 0,
    cpu: 0,
    tss: core::ptr::null_mut(),
};

/// Points the boot CPU's GS base at its per-CPU block, so `cpu_id` works from the very
/// first instruction of Rust code on. Touches no memory but that block and two MSRs.
pub fn init_boot_gs() {
    // SAFETY: runs first thing on the boot CPU, single-threaded, before anything reads
    // the block through GS.
    unsafe {
        let percpu = addr_of_mut!(BOOT_PERCPU);
        (*percpu).self_ptr = percpu as usize;
        (*percpu).tss = addr_of_mut!(BOOT_TSS);
        set_gs(percpu);
    }
}

fn set_gs(percpu: *mut PerCpu) {
    GsBase::write(VirtAddr::new(percpu as u64));
    // The "other" GS base is the user's while in the kernel; user programs start with 0.
    KernelGsBase::write(VirtAddr::new(0));
}

/// A GDT with the fixed segment layout and `tss` as its TSS.
///
/// # Safety
/// `tss` must stay valid (never moved or freed) for as long as the GDT can be loaded.
unsafe fn build_gdt(tss: *const TaskStateSegment) -> GlobalDescriptorTable {
    let mut gdt = GlobalDescriptorTable::new();
    let sel: [SegmentSelector; 4] = [
        gdt.append(Descriptor::kernel_code_segment()),
        gdt.append(Descriptor::kernel_data_segment()),
        gdt.append(Descriptor::user_data_segment()),
        gdt.append(Descriptor::user_code_segment()),
    ];
    debug_assert_eq!(sel.map(|s| s.0), [KERNEL_CS, KERNEL_SS, USER_SS, USER_CS]);
    // SAFETY: per the contract, the TSS outlives every use of this GDT.
    let tss_sel = gdt.append(unsafe { Descriptor::tss_segment_unchecked(tss) });
    debug_assert_eq!(tss_sel.0, TSS_SEL);
    gdt
}

/// Loads `gdt`, reloads every segment register from it and loads its TSS.
fn load(gdt: &'static GlobalDescriptorTable) {
    gdt.load();
    // SAFETY: the selectors index the GDT just loaded, which lives for the kernel's life;
    // the code segment is 64-bit and the data segment writable, as the kernel needs; the
    // TSS descriptor is unused (not busy) because this GDT was never loaded before.
    unsafe {
        CS::set_reg(SegmentSelector(KERNEL_CS));
        DS::set_reg(SegmentSelector(KERNEL_SS));
        ES::set_reg(SegmentSelector(KERNEL_SS));
        SS::set_reg(SegmentSelector(KERNEL_SS));
        load_tss(SegmentSelector(TSS_SEL));
    }
}

/// The boot CPU's GDT and TSS (after [`init_boot_gs`]).
pub fn init() {
    // SAFETY: runs once on the boot CPU before anything else uses the TSS or the GDT;
    // both are statics, so they never move.
    let gdt: &'static GlobalDescriptorTable = unsafe {
        let tss = addr_of_mut!(BOOT_TSS);
        let top = addr_of!(BOOT_DOUBLE_FAULT_STACK) as u64 + IST_STACK_SIZE as u64;
        (*tss).interrupt_stack_table[usize::from(DOUBLE_FAULT_IST - 1)] = VirtAddr::new(top);
        *addr_of_mut!(BOOT_GDT) = build_gdt(tss);
        &*addr_of!(BOOT_GDT)
    };
    load(gdt);
}

/// A secondary CPU's GDT, TSS and per-CPU block, allocated by the boot CPU and never
/// freed (the CPU uses them until the machine stops).
pub struct CpuBlock {
    percpu: PerCpu,
    tss: TaskStateSegment,
    gdt: GlobalDescriptorTable,
}

impl CpuBlock {
    /// Allocates the tables for CPU index `cpu`, with `double_fault_top` as its IST stack.
    pub fn new(cpu: usize, double_fault_top: usize) -> &'static mut CpuBlock {
        let block = Box::into_raw(Box::new(CpuBlock {
            percpu: PerCpu {
                self_ptr: 0,
                user_rsp: 0,
                kernel_rsp: 0,
                cpu,
                tss: core::ptr::null_mut(),
            },
            tss: TaskStateSegment::new(),
            gdt: GlobalDescriptorTable::new(),
        }));
        // SAFETY: `block` is a fresh, leaked (never freed, never moved) allocation that
        // nothing else references yet, so the TSS address stays valid for the GDT.
        unsafe {
            let tss = addr_of_mut!((*block).tss);
            (*tss).interrupt_stack_table[usize::from(DOUBLE_FAULT_IST - 1)] =
                VirtAddr::new(double_fault_top as u64);
            (*block).gdt = build_gdt(tss);
            (*block).percpu.self_ptr = addr_of_mut!((*block).percpu) as usize;
            (*block).percpu.tss = tss;
            &mut *block
        }
    }

    /// Loads these tables on the running (secondary) CPU and points its GS base here.
    pub fn install(&'static mut self) {
        let block: *mut CpuBlock = self;
        // SAFETY: the block is leaked and only this CPU uses it from now on; the GDT is
        // not written again after this shared borrow.
        let gdt: &'static GlobalDescriptorTable = unsafe { &*addr_of!((*block).gdt) };
        load(gdt);
        // SAFETY: as above; the per-CPU block is reached only through GS from now on.
        set_gs(unsafe { addr_of_mut!((*block).percpu) });
    }
}

/// The running CPU's per-CPU block.
fn this_cpu() -> *mut PerCpu {
    let p: usize;
    // SAFETY: gs:[0] holds the block's own address on every CPU from its first Rust code
    // on (kernel GS is active in every kernel context: trap entries swap it in).
    unsafe {
        core::arch::asm!("mov {}, gs:[0]", out(reg) p, options(nostack, preserves_flags, readonly))
    };
    p as *mut PerCpu
}

/// Makes `top` the stack the running CPU enters the kernel on from user mode (traps and
/// syscalls).
pub fn set_kernel_stack(top: usize) {
    let percpu = this_cpu();
    // SAFETY: single writer per CPU: only the scheduler on this CPU, with interrupts off,
    // changes rsp0 and the per-CPU copy; the CPU reads them only on the next user trap.
    unsafe {
        (*(*percpu).tss).privilege_stack_table[0] = VirtAddr::new(top as u64);
        (*percpu).kernel_rsp = top;
    }
}
