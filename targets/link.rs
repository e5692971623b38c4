// Shared by the build scripts of every bare-metal WayOS binary (`include!`d from their
// `build.rs`): links with the per-architecture linker script from this directory as a
// static, non-PIE executable. Nothing happens for host builds.

/// Links with `<targets>/<stem>-<arch>.ld`. `targets` is this directory relative to the
/// package; `bins_only` keeps the arguments off the library a user crate also builds.
fn link_wayos(targets: &str, stem: &str, bins_only: bool) {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "none" {
        return;
    }
    let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let script = dir.join(targets).join(format!("{stem}-{arch}.ld"));
    let shared = dir.join(targets).join("link.rs");
    let kind = if bins_only { "link-arg-bins" } else { "link-arg" };
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rerun-if-changed={}", shared.display());
    println!("cargo:rustc-{kind}=-T{}", script.display());
    // The target default is a PIE; the loaders (Limine, the raw arm64 Image, the kernel
    // for programs) all want the linked addresses.
    println!("cargo:rustc-{kind}=--no-pie");
    println!("cargo:rustc-{kind}=-zmax-page-size=4096");
}
