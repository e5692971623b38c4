//! Links like every WayOS program: static, non-PIE, at `layout::PROGRAM_BASE`, with the
//! per-architecture user linker script from `targets/`. Nothing on the host.
#![forbid(unsafe_code)]

include!("../../targets/link.rs");

fn main() {
    link_wayos("../../targets", "user", true);
}
