//! GDB set-up shared by `debug` and the scripted check in `test`.
//!
//! Breakpoints are hardware ones (`hbreak`): the kernel is not in memory when GDB attaches
//! (the loader puts it there later), and a software breakpoint written early would be
//! overwritten by the load.

use std::path::Path;
use std::process::Command;

/// The function every boot reaches; `#[no_mangle]` in the kernel keeps this name.
pub const ENTRY_SYMBOL: &str = "kernel_main";

/// Commands that load the kernel's symbols and attach to QEMU's stub.
pub fn attach_commands(kernel_elf: &Path, port: u16) -> Vec<String> {
    vec![
        "set confirm off".into(),
        "set pagination off".into(),
        format!("file {}", kernel_elf.display()),
        format!("target remote 127.0.0.1:{port}"),
    ]
}

/// A gdbinit for interactive debugging: kernel symbols, then every user program's (they
/// all link at the same base, so where programs overlap GDB names the first one loaded;
/// `remove-symbol-file` and `add-symbol-file` switch between them).
pub fn gdbinit(kernel_elf: &Path, programs: &[std::path::PathBuf], port: u16) -> String {
    let mut s = String::from("# Written by cargo xtask debug.\n");
    for c in attach_commands(kernel_elf, port) {
        s.push_str(&c);
        s.push('\n');
    }
    for p in programs.iter().filter(|p| p.is_file()) {
        s.push_str(&format!("add-symbol-file {}\n", p.display()));
    }
    s.push_str(&format!("hbreak {ENTRY_SYMBOL}\n"));
    s.push_str("echo QEMU is halted; 'continue' boots to kernel_main.\\n\n");
    s
}

/// A batch session that breaks on the entry function, shows where it stopped, detaches.
pub fn batch_command(kernel_elf: &Path, port: u16) -> Command {
    let mut cmd = Command::new("gdb-multiarch");
    cmd.args(["-nx", "-q", "-batch"]);
    for c in attach_commands(kernel_elf, port) {
        cmd.arg("-ex").arg(c);
    }
    for c in [
        format!("hbreak {ENTRY_SYMBOL}"),
        "continue".into(),
        "info symbol $pc".into(),
        "delete".into(),
        "detach".into(),
    ] {
        cmd.arg("-ex").arg(c);
    }
    cmd
}

/// True when a batch session's output shows the breakpoint hit at the entry function.
pub fn hit_entry(output: &str) -> bool {
    // The "hit Breakpoint 1," line names the innermost (possibly inlined) frame, so in
    // optimized builds it may be a callee; `info symbol $pc` names the real function.
    let stopped = output.lines().any(|l| l.contains("Breakpoint 1,"));
    // `info symbol $pc` prints `kernel_main + 40 in section .text` (past the prologue).
    let at_symbol = output.lines().any(|l| {
        l.strip_prefix(ENTRY_SYMBOL)
            .is_some_and(|rest| rest.starts_with(" in section") || rest.starts_with(" + "))
    });
    stopped && at_symbol
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_a_hit() {
        let out = "Hardware assisted breakpoint 1 at 0xffffffff80012340: file kernel/src/main.rs, line 33.\n\n\
                   Thread 1 hit Breakpoint 1, wayos_kernel::kernel_main (info=...) at kernel/src/main.rs:33\n\
                   33\t    let info = boot::install(info);\n\
                   kernel_main + 40 in section .text\n";
        assert!(hit_entry(out));
        assert!(!hit_entry("Remote connection closed\n"));
        assert!(!hit_entry(
            "Thread 1 hit Breakpoint 1, other_fn () at x.rs:1\nother_fn in section .text\n"
        ));
        assert!(!hit_entry(
            "Thread 1 hit Breakpoint 1, kernel_main () at x.rs:1\nkernel_main_2 in section .text\n"
        ));
    }
}
