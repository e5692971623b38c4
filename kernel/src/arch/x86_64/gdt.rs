//! The GDT and TSS of the boot CPU.
//!
//! Loaded once at boot, replacing the loader's GDT. The TSS gives the double-fault handler
//! its own stack (IST 1) so a kernel stack overflow is reported instead of triple-faulting.

use spin::Once;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

/// IST slot (1-based in the IDT, 0-based in the TSS array) for double faults.
pub const DOUBLE_FAULT_IST: u16 = 1;
const IST_STACK_SIZE: usize = 16 * 1024;

/// `u128` elements give the 16-byte alignment the ABI wants for a stack top.
static mut DOUBLE_FAULT_STACK: [u128; IST_STACK_SIZE / 16] = [0; IST_STACK_SIZE / 16];

static TSS: Once<TaskStateSegment> = Once::new();
static GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

struct Selectors {
    code: SegmentSelector,
    data: SegmentSelector,
    tss: SegmentSelector,
}

pub fn init() {
    let tss = TSS.call_once(|| {
        let mut tss = TaskStateSegment::new();
        let top = core::ptr::addr_of!(DOUBLE_FAULT_STACK) as u64 + IST_STACK_SIZE as u64;
        tss.interrupt_stack_table[usize::from(DOUBLE_FAULT_IST - 1)] = VirtAddr::new(top);
        tss
    });
    let (gdt, sel) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss = gdt.append(Descriptor::tss_segment(tss));
        (gdt, Selectors { code, data, tss })
    });
    gdt.load();
    // SAFETY: the selectors index the GDT just loaded, which lives for the kernel's life;
    // the code segment is 64-bit and the data segment writable, as the kernel needs.
    unsafe {
        CS::set_reg(sel.code);
        DS::set_reg(sel.data);
        ES::set_reg(sel.data);
        SS::set_reg(sel.data);
        load_tss(sel.tss);
    }
}
