//! The GDT, TSS and per-CPU block of the boot CPU.
//!
//! Segment order is fixed by SYSCALL/SYSRET (see `syscall.rs`): kernel code, kernel data,
//! user data, user code, then the TSS. The TSS gives the double-fault handler its own stack
//! (IST 1) and holds `rsp0`, the kernel stack the CPU switches to on a trap from user mode;
//! the scheduler updates it on every switch through [`set_kernel_stack`].

use core::ptr::addr_of_mut;

use spin::Once;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

/// IST slot (1-based in the IDT, 0-based in the TSS array) for double faults.
pub const DOUBLE_FAULT_IST: u16 = 1;
const IST_STACK_SIZE: usize = 16 * 1024;

pub const KERNEL_CS: u16 = 0x08;
pub const KERNEL_SS: u16 = 0x10;
pub const USER_SS: u16 = 0x18 | 3;
pub const USER_CS: u16 = 0x20 | 3;

/// `u128` elements give the 16-byte alignment the ABI wants for a stack top.
static mut DOUBLE_FAULT_STACK: [u128; IST_STACK_SIZE / 16] = [0; IST_STACK_SIZE / 16];

/// Mutable after load only through `set_kernel_stack` (rsp0), on the CPU that owns it.
static mut TSS: TaskStateSegment = TaskStateSegment::new();
static GDT: Once<GlobalDescriptorTable> = Once::new();

/// Per-CPU block reached through the GS base in kernel mode. The syscall entry stub reads
/// fixed offsets: keep the layout in sync with `syscall.rs`.
#[repr(C)]
pub struct PerCpu {
    /// Address of this block (gs:[0]).
    pub self_ptr: usize,
    /// Scratch slot for the user stack pointer during syscall entry (gs:[8]).
    pub user_rsp: usize,
    /// Top of the running thread's kernel stack (gs:[16]).
    pub kernel_rsp: usize,
    /// CPU index (gs:[24]).
    pub cpu: usize,
}

static mut PERCPU: PerCpu = PerCpu {
    self_ptr: 0,
    user_rsp: 0,
    kernel_rsp: 0,
    cpu: 0,
};

pub fn init() {
    // SAFETY: runs once on the boot CPU before anything else uses the TSS.
    let tss: &'static TaskStateSegment = unsafe {
        let tss = &mut *addr_of_mut!(TSS);
        let top = core::ptr::addr_of!(DOUBLE_FAULT_STACK) as u64 + IST_STACK_SIZE as u64;
        tss.interrupt_stack_table[usize::from(DOUBLE_FAULT_IST - 1)] = VirtAddr::new(top);
        tss
    };
    let gdt = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let sel: [SegmentSelector; 4] = [
            gdt.append(Descriptor::kernel_code_segment()),
            gdt.append(Descriptor::kernel_data_segment()),
            gdt.append(Descriptor::user_data_segment()),
            gdt.append(Descriptor::user_code_segment()),
        ];
        debug_assert_eq!(sel.map(|s| s.0), [KERNEL_CS, KERNEL_SS, USER_SS, USER_CS]);
        gdt.append(Descriptor::tss_segment(tss));
        gdt
    });
    gdt.load();
    // SAFETY: the selectors index the GDT just loaded, which lives for the kernel's life;
    // the code segment is 64-bit and the data segment writable, as the kernel needs.
    unsafe {
        CS::set_reg(SegmentSelector(KERNEL_CS));
        DS::set_reg(SegmentSelector(KERNEL_SS));
        ES::set_reg(SegmentSelector(KERNEL_SS));
        SS::set_reg(SegmentSelector(KERNEL_SS));
        load_tss(SegmentSelector(0x28));
    }
    // SAFETY: PERCPU is only written here, before interrupts are enabled; afterwards the
    // CPU reaches it through GS and `set_kernel_stack` writes one field.
    let percpu = unsafe { &mut *addr_of_mut!(PERCPU) };
    percpu.self_ptr = percpu as *mut PerCpu as usize;
    x86_64::registers::model_specific::GsBase::write(VirtAddr::new(percpu.self_ptr as u64));
    x86_64::registers::model_specific::KernelGsBase::write(VirtAddr::new(0));
}

/// Makes `top` the stack the CPU enters the kernel on from user mode (traps and syscalls).
pub fn set_kernel_stack(top: usize) {
    // SAFETY: single-writer per CPU: only the scheduler on this CPU, with interrupts off,
    // changes rsp0 and the per-CPU copy; the CPU reads them only on the next user trap.
    unsafe {
        (*addr_of_mut!(TSS)).privilege_stack_table[0] = VirtAddr::new(top as u64);
        (*addr_of_mut!(PERCPU)).kernel_rsp = top;
    }
}
