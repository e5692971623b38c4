//! Links the kernel with its per-architecture linker script from `targets/`.

use std::path::PathBuf;

fn main() {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "none" {
        return;
    }
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let script = dir.join("../targets").join(format!("kernel-{arch}.ld"));
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg=-T{}", script.display());
    // A fixed-address kernel: the target default is a PIE, which neither Limine's fixed
    // higher-half load nor the raw aarch64 Image wants.
    println!("cargo:rustc-link-arg=--no-pie");
    println!("cargo:rustc-link-arg=-zmax-page-size=4096");
}
