//! The WayOS network commands — `ping`, `ifinfo`, `netstat`, `fetch`, `httpd`, `nc` —
//! as separate programs in `/bin` (`src/bin/`), and this library holding their logic.
//!
//! Everything here is plain `no_std + alloc` code tested on the host with
//! `cargo test -p netcmds`: [`url`] parses and joins `http://` URLs, [`http`] parses
//! response and request heads and decodes bodies (Content-Length, chunked with trailers,
//! up to the close) with every size bounded, [`serve`] is what `httpd` decides (target to
//! path without climbing out, content types, listings), [`report`] is what `ifinfo`,
//! `netstat` and `ping` print. Bytes from the network never make this code panic or
//! allocate without a bound: bad input is an error value.
//!
//! The programs run on libway (`libway::net` for sockets) and share the coreutils'
//! runtime (`coreutils::sys`: buffered output, GNU-style messages, option parsing).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod http;
pub mod num;
pub mod report;
pub mod serve;
pub mod url;

#[cfg(target_os = "none")]
pub mod sys;

/// The version the programs report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
