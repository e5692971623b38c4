//! The one place that picks the instruction set.
//!
//! Each arch module implements the same small contract, re-exported here by name (never
//! by glob) so generic code sees exactly this list:
//!
//! - `NAME`: the architecture's name for banners.
//! - `serial_write(bytes)`: polled output on the boot serial port, callable from any
//!   context including the panic path; callers serialize.
//! - `cpu_id()`: the current CPU's index.
//! - `uptime_ns()`: monotonic nanoseconds since boot.
//! - `frame_pointer()`: the caller's frame pointer, for backtraces.
//! - `breakpoint()`: raise a software breakpoint trap that the trap handler returns from.
//! - `halt_forever()`: stop this CPU with interrupts off.
//! - `power_off(success)`: end the machine, giving QEMU a pass/fail verdict when it can.
//!
//! Boot entry lives in each arch's `boot` module; it builds the `BootInfo` and calls
//! `crate::kernel_main`.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "aarch64")]
pub use self::aarch64::{
    breakpoint, cpu_id, frame_pointer, halt_forever, power_off, serial_write, uptime_ns, NAME,
};
#[cfg(target_arch = "x86_64")]
pub use self::x86_64::{
    breakpoint, cpu_id, frame_pointer, halt_forever, power_off, serial_write, uptime_ns, NAME,
};
