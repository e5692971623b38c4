//! Builds what a boot needs: the kernel, its symbol table, the initramfs, and the
//! per-architecture boot image (x86_64 ESP or Limine ISO, aarch64 raw Image).
//!
//! Everything lands in `target/wayos/<arch>/<profile>/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mkramfs::Ramfs;
use wayos_abi::harness::RELEASE_FILE;
use wayos_kcore::symtab;

use crate::{esp, image, limine, symbols, Arch, Firmware, Loader, Result};

/// Workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (relative to the workspace, as
/// cargo reads it), else `target/` in the workspace. Separate directories let two checkouts
/// or two people build and boot at once without sharing images.
pub fn target_root() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root().join(dir),
        _ => root().join("target"),
    }
}

fn profile(release: bool) -> &'static str {
    if release {
        "release"
    } else {
        "debug"
    }
}

/// The products of `build` for one architecture.
#[derive(Clone)]
pub struct Built {
    pub arch: Arch,
    pub out_dir: PathBuf,
    pub kernel_elf: PathBuf,
    pub initramfs: PathBuf,
    /// aarch64 only: the raw Image.
    pub image: Option<PathBuf>,
    /// x86_64 only: the wayboot EFI application, when wayboot is the loader.
    pub wayboot: Option<PathBuf>,
    /// x86_64 only: the Limine release, when genuine Limine is the loader.
    pub limine: Option<limine::Release>,
    /// x86_64 only: why genuine Limine is not the loader, when it is not.
    pub limine_missing: Option<String>,
    /// x86_64: the firmware QEMU boots the medium with (always UEFI for wayboot).
    pub firmware: Firmware,
    /// The SHA-256 of the digits model's bit-exact logits as the host computed them
    /// (`tools/digits`): what `classify` must print on every architecture.
    pub digits_sha256: String,
}

impl Built {
    /// Picks the firmware: `--firmware` if given, else BIOS under Limine (QEMU's default
    /// firmware) and UEFI under wayboot (a UEFI application).
    pub fn select_firmware(&mut self, wanted: Option<Firmware>) -> Result<()> {
        match (self.arch, wanted) {
            (_, None) => Ok(()),
            (Arch::Aarch64, Some(_)) => {
                Err("--firmware is for x86_64; aarch64 boots its Image with -kernel".into())
            }
            (Arch::X86_64, Some(Firmware::Bios)) if self.limine.is_none() => Err(format!(
                "--firmware bios needs genuine Limine, since wayboot is a UEFI application; \
                 Limine is not used here: {}",
                self.limine_missing.as_deref().unwrap_or(limine::NOT_FOUND)
            )),
            (Arch::X86_64, Some(f)) => {
                self.firmware = f;
                Ok(())
            }
        }
    }

    /// Says what boots the kernel, e.g. `Limine 8.2.0 + BIOS` or `wayboot + UEFI`.
    pub fn loader_description(&self) -> String {
        match (self.arch, &self.limine) {
            (Arch::Aarch64, _) => "QEMU -kernel".into(),
            (Arch::X86_64, Some(r)) => format!("Limine {} + {}", r.version, self.firmware.name()),
            (Arch::X86_64, None) => format!("wayboot + {}", self.firmware.name()),
        }
    }
}

/// Runs `$CARGO build` for one package and target.
fn cargo_build(package: &str, target: &str, release: bool) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root())
        .args(["build", "--package", package, "--target", target]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building {package} for {target} failed"));
    }
    Ok(())
}

fn target_file(target: &str, release: bool, name: &str) -> PathBuf {
    target_root().join(target).join(profile(release)).join(name)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Where the malformed-executable sample goes in the initramfs (`hardtest`'s corpus checks
/// and the fuzzer's `execve` paths read it there), and how many mutants it holds.
const ELF_CORPUS_DIR: &str = "testdata/elf";
const ELF_CORPUS_SIZE: usize = 48;
/// The real program the sample is mutated from.
const ELF_CORPUS_SOURCE: &str = "bin/hello";

/// Packs a deterministic sample of ELF mutants of [`ELF_CORPUS_SOURCE`] (`tools/corpus`)
/// as `testdata/elf/<i>`, with `testdata/elf/names` listing `<i> <what was done>`.
fn add_elf_corpus(ramfs: &mut Ramfs, programs: &[(String, Vec<u8>)]) -> Result<()> {
    let Some((_, source)) = programs.iter().find(|(p, _)| p == ELF_CORPUS_SOURCE) else {
        return Err(format!("{ELF_CORPUS_SOURCE} was not built: no ELF corpus"));
    };
    let sample = wayos_corpus::elf_guest_sample(source, 1, ELF_CORPUS_SIZE);
    let mut names = String::new();
    for (i, (what, bytes)) in sample.into_iter().enumerate() {
        ramfs.add_file(&format!("{ELF_CORPUS_DIR}/{i}"), 0o755, bytes)?;
        names.push_str(&format!("{i} {what}\n"));
    }
    ramfs.add_file(
        &format!("{ELF_CORPUS_DIR}/names"),
        0o644,
        names.into_bytes(),
    )
}

/// Where the malformed-model sample goes (`model_load` must refuse each: the `ainfer`
/// suite's corpus check), how many mutants it holds, and the valid model they are made
/// from (`valid`, which must load: the control).
const WAYMODEL_CORPUS_DIR: &str = "testdata/waymodel";
const WAYMODEL_CORPUS_SIZE: usize = 64;

/// Packs `testdata/waymodel/valid` (`tools/corpus`'s sample model), a deterministic
/// sample of its mutants as `testdata/waymodel/<i>`, and `testdata/waymodel/names`
/// listing `<i> <what was done>`.
fn add_waymodel_corpus(ramfs: &mut Ramfs) -> Result<()> {
    let valid = wayos_corpus::waymodel_sample();
    let sample = wayos_corpus::waymodel_guest_sample(&valid, 1, WAYMODEL_CORPUS_SIZE);
    let mut names = String::new();
    for (i, (what, bytes)) in sample.into_iter().enumerate() {
        ramfs.add_file(&format!("{WAYMODEL_CORPUS_DIR}/{i}"), 0o644, bytes)?;
        names.push_str(&format!("{i} {what}\n"));
    }
    ramfs.add_file(&format!("{WAYMODEL_CORPUS_DIR}/valid"), 0o644, valid)?;
    ramfs.add_file(
        &format!("{WAYMODEL_CORPUS_DIR}/names"),
        0o644,
        names.into_bytes(),
    )
}

/// Trains the digits model now (`tools/digits`, deterministic, about a second) and packs
/// its three `.waymodel`s and `/models/README` (with the data's attribution) in `/models`,
/// the test split and the host's expectations in `/testdata/digits` (what `classify`
/// reads). Returns the host's bit-exact logits hash.
fn add_digits(ramfs: &mut Ramfs) -> Result<String> {
    let g = wayos_digits::generate().map_err(|e| format!("tools/digits: {e}"))?;
    for line in g.summary() {
        eprintln!("==> digits: {line}");
    }
    for (path, bytes) in &g.files {
        ramfs.add_file(path.trim_start_matches('/'), 0o644, bytes.clone())?;
    }
    Ok(crate::digits::host_hash(&g))
}

/// Builds the kernel, initramfs and loader pieces for `arch`.
pub fn build(arch: Arch, release: bool, loader: Loader) -> Result<Built> {
    let out_dir = target_root()
        .join("wayos")
        .join(arch.name())
        .join(profile(release));
    fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;

    eprintln!("==> building the {} kernel", arch.name());
    cargo_build("wayos-kernel", arch.kernel_target(), release)?;
    let kernel_src = target_file(arch.kernel_target(), release, "wayos-kernel");
    let kernel = read(&kernel_src)?;
    let kernel_elf = out_dir.join("kernel.elf");
    write(&kernel_elf, &kernel)?;

    let mut ramfs = Ramfs::new();
    ramfs.add_file(symtab::INITRAMFS_PATH, 0o644, symbols::table(&kernel)?)?;
    ramfs.add_file(
        RELEASE_FILE,
        0o644,
        format!("WayOS {}\n", env!("CARGO_PKG_VERSION")).into_bytes(),
    )?;
    let programs = crate::userland::build(arch, release)?;
    for (path, elf) in &programs {
        ramfs.add_file(path, 0o755, elf.clone())?;
    }
    add_elf_corpus(&mut ramfs, &programs)?;
    // The ainfer4 suite's reference vectors, generated now (tools/aivectors).
    ramfs.add_file(
        wayos_aivectors::INITRAMFS_PATH,
        0o644,
        wayos_aivectors::generate(),
    )?;
    add_waymodel_corpus(&mut ramfs)?;
    let digits_sha256 = add_digits(&mut ramfs)?;
    let initramfs = out_dir.join("initramfs.cpio");
    write(&initramfs, &ramfs.to_cpio())?;

    let mut built = Built {
        arch,
        out_dir,
        kernel_elf,
        initramfs,
        image: None,
        wayboot: None,
        limine: None,
        limine_missing: None,
        firmware: Firmware::Uefi,
        digits_sha256,
    };
    match arch {
        Arch::Aarch64 => {
            let path = built.out_dir.join("Image");
            write(&path, &image::raw_image(&kernel)?)?;
            built.image = Some(path);
        }
        Arch::X86_64 => {
            let cache = target_root().join("wayos").join("limine-tool");
            match loader {
                Loader::Wayboot => built.limine_missing = Some("--loader wayboot".into()),
                Loader::Auto => match limine::locate(&cache) {
                    Ok(release) => built.limine = Some(release),
                    Err(why) => {
                        if why != limine::NOT_FOUND {
                            eprintln!("xtask: not using Limine: {why}");
                        }
                        built.limine_missing = Some(why);
                    }
                },
                Loader::Limine => {
                    built.limine = Some(limine::locate(&cache).map_err(|why| {
                        if why == limine::NOT_FOUND {
                            "--loader limine: no Limine release found: set LIMINE_DIR to a \
                             Limine 8.x or newer binary release (docs/boot.md)"
                                .to_string()
                        } else {
                            format!("--loader limine: {why}")
                        }
                    })?)
                }
            }
            if let Some(release) = &built.limine {
                eprintln!(
                    "==> Limine {} from {}",
                    release.version,
                    release.dir.display()
                );
                built.firmware = Firmware::Bios;
            } else {
                eprintln!("==> building wayboot (UEFI loader)");
                cargo_build("wayboot", "x86_64-unknown-uefi", release)?;
                built.wayboot = Some(target_file("x86_64-unknown-uefi", release, "wayboot.efi"));
            }
        }
    }
    Ok(built)
}

/// The bootable medium for x86_64 with `cmdline` baked in: a Limine ISO or a wayboot ESP.
pub fn x86_boot_medium(built: &Built, cmdline: &str, name: &str) -> Result<PathBuf> {
    let kernel = read(&built.kernel_elf)?;
    x86_boot_medium_with_kernel(built, &kernel, cmdline, name)
}

/// As [`x86_boot_medium`], with the kernel bytes given (tests pass a corrupt kernel).
pub fn x86_boot_medium_with_kernel(
    built: &Built,
    kernel: &[u8],
    cmdline: &str,
    name: &str,
) -> Result<PathBuf> {
    let initramfs = read(&built.initramfs)?;
    if let Some(release) = &built.limine {
        let iso = built.out_dir.join(format!("{name}.iso"));
        limine::build_iso(
            release,
            &built.out_dir.join(format!("{name}-iso")),
            kernel,
            &initramfs,
            cmdline,
            &iso,
        )?;
        return Ok(iso);
    }
    let wayboot = built.wayboot.as_ref().ok_or("wayboot was not built")?;
    let efi = read(wayboot)?;
    let path = built.out_dir.join(format!("{name}.img"));
    esp::build_esp(
        &path,
        &[
            ("EFI/BOOT/BOOTX64.EFI", &efi),
            ("wayos/kernel.elf", kernel),
            ("wayos/initramfs.cpio", &initramfs),
            ("wayos/cmdline.txt", cmdline.as_bytes()),
        ],
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
