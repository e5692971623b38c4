//! The WayOS kernel/user ABI: the single source of every number and layout shared across
//! the kernel boundary.
//!
//! The kernel, `userland/libway` and the host tools depend on this crate; nothing copies
//! its constants. It holds no code that runs, only definitions, and must stay `no_std`
//! with no dependencies. Syscall numbers, error codes and IPC layouts arrive with the
//! issues that introduce them; today it holds the contract between the kernel and the
//! test harness.
#![no_std]
#![forbid(unsafe_code)]

/// How the kernel reports results to `cargo xtask test`.
pub mod harness {
    /// I/O port of QEMU's `isa-debug-exit` device on x86_64; writing `v` there makes QEMU
    /// exit with status `(v << 1) | 1`.
    pub const X86_DEBUG_EXIT_PORT: u16 = 0xf4;
    /// Value written for "every check passed".
    pub const EXIT_SUCCESS: u8 = 0x10;
    /// Value written for "a check failed or the kernel stopped".
    pub const EXIT_FAILURE: u8 = 0x11;

    /// QEMU's process exit status for a debug-exit value.
    pub const fn qemu_status(value: u8) -> i32 {
        ((value as i32) << 1) | 1
    }

    /// Kernel command-line word that runs the in-kernel suites and powers off afterwards.
    pub const TEST_FLAG: &str = "wayos.test";
    /// Kernel command-line key that kills the kernel on purpose after the suites
    /// (`fault` or `panic`), so the harness can check the fatal-error reports.
    pub const CRASH_KEY: &str = "wayos.crash";
    /// Initramfs file holding `WayOS <version>`, checked by the kernel's boot test.
    pub const RELEASE_FILE: &str = "etc/wayos-release";

    #[cfg(test)]
    mod tests {
        #[test]
        fn exit_status_matches_qemu_formula() {
            assert_eq!(super::qemu_status(super::EXIT_SUCCESS), 33);
            assert_eq!(super::qemu_status(super::EXIT_FAILURE), 35);
        }
    }
}
