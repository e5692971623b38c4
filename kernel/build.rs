//! Links the kernel with its per-architecture linker script from `targets/`.

include!("../targets/link.rs");

fn main() {
    link_wayos("../targets", "kernel", false);
}
