//! W^X and NX: no user page is ever both writable and executable. `mmap` and `mprotect`
//! asking for `PROT_WRITE | PROT_EXEC` get `EACCES`, the ELF loader refuses a segment
//! that is both, and data (the main stack, thread stacks, anonymous memory) cannot be
//! run: jumping there is SIGSEGV. Writing code and then `mprotect`ing it to read+exec
//! still works (what a JIT does).

use core::hint::black_box;

use alloc::format;
use alloc::string::String;

use libway::abi::errno::EACCES;
use libway::abi::mman::{
    MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE,
};
use libway::abi::signal::SIGSEGV;
use libway::suite::{expect_errno, expect_exit, expect_signal, in_child, Check, Context, Suite};
use libway::{fs, mem, process, thread};

/// Exit status of a child whose jump into data did not fault.
const SURVIVED: i32 = 77;

/// One instruction that returns to the caller.
#[cfg(target_arch = "x86_64")]
const RET: [u8; 4] = [0xc3, 0xc3, 0xc3, 0xc3];
#[cfg(target_arch = "aarch64")]
const RET: [u8; 4] = 0xd65f_03c0u32.to_le_bytes();

/// Calls the code at `addr` as `extern "C" fn()`.
fn call_at(addr: usize) {
    // SAFETY: deliberately calls into memory the test chose; the callers either expect
    // the call to fault (and run in a child) or placed a lone `ret` there.
    let f: extern "C" fn() = unsafe { core::mem::transmute::<usize, extern "C" fn()>(addr) };
    black_box(f)();
}

fn mmap_write_exec_refused() -> Check {
    for (what, flags) in [("private", MAP_PRIVATE), ("shared", MAP_SHARED)] {
        let got = mem::mmap(
            0,
            PAGE_SIZE,
            PROT_READ | PROT_WRITE | PROT_EXEC,
            flags | MAP_ANONYMOUS,
        );
        expect_errno(got, EACCES).context(what)?;
        let got = mem::mmap(0, PAGE_SIZE, PROT_WRITE | PROT_EXEC, flags | MAP_ANONYMOUS);
        expect_errno(got, EACCES).context(&format!("{what}, without PROT_READ"))?;
    }
    Ok(())
}

fn mprotect_write_exec_refused() -> Check {
    let addr = mem::map_anonymous(2 * PAGE_SIZE, false).context("mmap")?;
    // SAFETY: the mapping is this check's own; nothing references it.
    let got = unsafe { mem::mprotect(addr, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC) };
    let r = expect_errno(got, EACCES).context("rw -> rwx");
    // And an executable mapping cannot be made writable while staying executable.
    // SAFETY: as above.
    let rx = unsafe { mem::mprotect(addr, PAGE_SIZE, PROT_READ | PROT_EXEC) };
    let r2 = match rx {
        Ok(()) => {
            // SAFETY: as above.
            let got = unsafe { mem::mprotect(addr, PAGE_SIZE, PROT_WRITE | PROT_EXEC) };
            expect_errno(got, EACCES).context("rx -> wx")
        }
        Err(e) => Err(format!("rw -> rx refused: {e}")),
    };
    // SAFETY: as above.
    let _ = unsafe { mem::munmap(addr, 2 * PAGE_SIZE) };
    r.and(r2)
}

/// Write code, then make it read+exec: allowed, and it runs.
fn write_then_protect_exec_runs() -> Check {
    let addr = mem::map_anonymous(PAGE_SIZE, false).context("mmap")?;
    // SAFETY: a fresh private page of this check's own, PAGE_SIZE long.
    unsafe { core::ptr::copy_nonoverlapping(RET.as_ptr(), addr as *mut u8, RET.len()) };
    // SAFETY: nothing references the page as writable any more.
    let r = unsafe { mem::mprotect(addr, PAGE_SIZE, PROT_READ | PROT_EXEC) };
    let status = match r {
        Ok(()) => in_child(|| {
            #[cfg(target_arch = "aarch64")]
            // SAFETY: a barrier only.
            unsafe {
                core::arch::asm!("isb")
            };
            call_at(addr);
            0
        }),
        Err(e) => Err(format!("mprotect rw -> rx: {e}")),
    };
    // SAFETY: the child that ran it is gone.
    let _ = unsafe { mem::munmap(addr, PAGE_SIZE) };
    expect_exit(status?, 0)
}

/// A copy of a real program (`/bin/true`) whose code segment also says writable.
fn elf_write_exec_segment_refused() -> Check {
    const PATH: &str = "/tmp/hardtest-wx-elf";
    const PF_W: u32 = 2;
    const PF_X: u32 = 1;
    const PT_LOAD: u32 = 1;
    let mut image = fs::read("/bin/true").context("read /bin/true")?;
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]));
    if image.len() < 64 {
        return Err("/bin/true is too short for an ELF header".into());
    }
    let phoff = u32_at(&image, 0x20) as usize;
    let (phentsize, phnum) = (u16_at(&image, 0x36), u16_at(&image, 0x38));
    let mut patched = false;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if ph + 8 > image.len() {
            break;
        }
        if u32_at(&image, ph) == PT_LOAD && u32_at(&image, ph + 4) & PF_X != 0 {
            let flags = u32_at(&image, ph + 4) | PF_W;
            image[ph + 4..ph + 8].copy_from_slice(&flags.to_le_bytes());
            patched = true;
            break;
        }
    }
    if !patched {
        return Err("/bin/true has no executable PT_LOAD segment".into());
    }
    fs::write(PATH, &image).context("write the patched copy")?;
    let status = in_child(|| {
        let e = process::execve(PATH, &["hardtest-wx-elf"], &[]);
        // The errno as exit status; 0 would be "it ran".
        (e.code() as i32).clamp(1, 255)
    });
    let _ = fs::remove_file(PATH);
    expect_exit(status?, EACCES as i32).context("execve of a W+X segment (exit = errno)")
}

/// Copies a `ret` into `buf` and calls it: must fault on a non-executable page.
fn run_from(buf: &mut [u8; 16]) {
    buf[..RET.len()].copy_from_slice(&RET);
    call_at(black_box(buf.as_ptr() as usize));
}

fn main_stack_not_executable() -> Check {
    let status = in_child(|| {
        let mut buf = [0u8; 16];
        run_from(&mut buf);
        SURVIVED
    })?;
    expect_signal(status, SIGSEGV)
}

fn thread_stack_not_executable() -> Check {
    let status = in_child(|| {
        let t = thread::spawn(|| {
            let mut buf = [0u8; 16];
            run_from(&mut buf);
        });
        match t {
            Ok(t) => {
                let _ = t.join();
                SURVIVED
            }
            Err(_) => 3,
        }
    })?;
    expect_signal(status, SIGSEGV).map_err(|e| {
        let mut s = String::from(&e);
        if e.contains("exited with 3") {
            s.push_str(" (thread spawn failed)");
        }
        s
    })
}

fn anonymous_memory_not_executable() -> Check {
    let status = in_child(|| {
        let Ok(addr) = mem::map_anonymous(PAGE_SIZE, false) else {
            return 3;
        };
        // SAFETY: a fresh private page of this child's own.
        unsafe { core::ptr::copy_nonoverlapping(RET.as_ptr(), addr as *mut u8, RET.len()) };
        call_at(addr);
        SURVIVED
    })?;
    expect_signal(status, SIGSEGV)
}

pub fn run(s: &mut Suite) {
    s.check("mmap_write_exec_refused", mmap_write_exec_refused());
    s.check("mprotect_write_exec_refused", mprotect_write_exec_refused());
    s.check(
        "write_then_protect_exec_runs",
        write_then_protect_exec_runs(),
    );
    s.check(
        "elf_write_exec_segment_refused",
        elf_write_exec_segment_refused(),
    );
    s.check("main_stack_not_executable", main_stack_not_executable());
    s.check("thread_stack_not_executable", thread_stack_not_executable());
    s.check(
        "anonymous_memory_not_executable",
        anonymous_memory_not_executable(),
    );
}
