//! `waysh`, the WayOS shell (`/bin/waysh`).
//!
//! `waysh` alone is interactive on the console; `waysh -c 'COMMANDS' [NAME [ARG...]]`
//! runs a command line; `waysh FILE [ARG...]` runs a script. The parser, expansion and
//! line editor live in the `waysh` library (host-tested); this binary is the executor on
//! libway, so it exists only for the WayOS targets. On the host it is a stub that keeps
//! `cargo build`/`clippy` of the workspace working.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod shell;

#[cfg(target_os = "none")]
libway::entry!(shell::main);

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("waysh runs on WayOS; on the host, `cargo test -p waysh` tests its parser");
    std::process::exit(2);
}
