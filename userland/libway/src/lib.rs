//! libway: the runtime every WayOS user program links.
//!
//! - [`entry!`] names the program's `main(args: Args) -> i32`; `_start` ([`arch`]) calls it
//!   through [`rt::start`] and exits with its result.
//! - [`sys`] holds the safe [`sys::call0`]..[`sys::call3`] for the syscalls that take only
//!   numbers ([`sys::MemFree`]) and the `unsafe` raw stubs for the rest
//!   (`syscall0..=syscall6`, [`sys::call`]); the modules [`io`], [`mem`], [`process`] and
//!   [`time`] wrap them in safe functions returning `Result<_, Errno>`.
//! - A global allocator over `mmap` ([`heap`]) makes `alloc` (`Vec`, `String`, `format!`)
//!   work; [`print!`]/[`println!`]/[`eprintln!`] write to the console.
//! - [`ipc`] is the client API for ports, call/reply and the name service; [`grant`]
//!   shares bulk data by granting pages ([`grant::SharedBuf`], [`grant::MemHandle`]).
//! - [`fs`] opens, reads and writes files, lists directories, and changes the tree
//!   (`mkdir`, `rename`, `remove_file`, the working directory).
//! - [`klog`] reads the kernel log ring.
//! - [`net`] is the socket API (TCP, UDP, ICMP echo over `netd`; sockets are fds), name
//!   resolution, netd's interfaces and counters, and the kernel's NIC and PCI lists.
//! - [`aid`] is the client of the AI daemon.
//! - [`ai`] is the client of kernel tensors; [`infer`] of graphs, the inference queue,
//!   models and the accelerators' records.
//! - [`thread`] starts and joins threads; [`sync`] has futexes, a [`sync::Mutex`] and a
//!   [`sync::Barrier`] on them; [`smp`] asks which CPU runs the caller, sets affinity and
//!   reads the per-CPU counters.
//! - [`suite`] is the test kit of the in-guest suites: the check and summary lines the
//!   harness reads, the `expect_*` checks, skipping what needs the harness when a person
//!   runs a suite.
//! - [`env`] gives the arguments and environment; the panic handler ([`rt`]) reports
//!   `panic in <program>: ...` and exits with status 101.
//!
//! Numbers and layouts come from `wayos-abi` (re-exported as [`abi`]), never copied.
//! Unsafe code is confined to the arch stubs, the syscall wrappers that pass memory (each
//! with the reason the call is sound), the entry tables, threads and the allocator.
#![no_std]

extern crate alloc;

pub use wayos_abi as abi;

pub mod ai;
pub mod aid;
pub mod arch;
pub mod blk;
pub mod caps;
pub mod console;
pub mod display;
pub mod env;
pub mod errno;
pub mod fs;
pub mod grant;
pub mod heap;
pub mod infer;
pub mod io;
pub mod ipc;
pub mod klog;
pub mod mem;
pub mod memtier;
pub mod net;
pub mod pci;
pub mod process;
pub mod rt;
pub mod signal;
pub mod smp;
pub mod stats;
pub mod suite;
pub mod sync;
pub mod sys;
pub mod thread;
pub mod time;

pub use env::Args;
pub use errno::Errno;
pub use process::{exit, WaitStatus};
