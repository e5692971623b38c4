//! What the network programs share on WayOS: error wording with the errno's name
//! (`Connection refused (ECONNREFUSED)`), resolving a host operand, the monotonic clock,
//! and a SIGINT flag for programs that print a summary when interrupted.

use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicBool, Ordering};

use coreutils::errmsg::StrError;
use libway::net::{self, Ipv4Addr};
use libway::Errno;

/// `glibc words (ENAME)`.
pub fn errtext(e: Errno) -> String {
    format!("{} ({})", StrError(e.code()), e.name())
}

/// A failed name lookup's words: `Name or service not known (ENOENT)` as glibc's
/// `gai_strerror` says for a name that does not exist, else [`errtext`].
pub fn resolve_errtext(e: Errno) -> String {
    if e.code() == libway::abi::errno::ENOENT {
        format!("Name or service not known ({})", e.name())
    } else {
        errtext(e)
    }
}

/// `host` as an address: a dotted quad as is, else the first address netd resolves.
pub fn resolve_host(host: &str) -> Result<Ipv4Addr, Errno> {
    if let Some(a) = Ipv4Addr::parse(host) {
        return Ok(a);
    }
    net::resolve(host)?
        .first()
        .copied()
        .ok_or(Errno(libway::abi::errno::ENOENT))
}

/// Nanoseconds since boot (0 if the clock fails, which it does not).
pub fn now_ns() -> u64 {
    libway::time::monotonic_ns().unwrap_or(0)
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_signal: i32) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Catches SIGINT (Ctrl-C) into a flag read by [`interrupted`].
pub fn catch_sigint() {
    let _ = libway::signal::set_handler(
        libway::abi::signal::SIGINT,
        libway::signal::Handler::Catch(on_sigint),
    );
}

/// Whether SIGINT arrived since [`catch_sigint`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
