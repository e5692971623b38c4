//! Genuine Limine: finds a binary release, reads which version it is, writes the
//! `limine.conf` that version understands, and builds a hybrid BIOS/UEFI ISO with it.
//!
//! A Limine binary release holds `limine-bios.sys`, `limine-bios-cd.bin`,
//! `limine-uefi-cd.bin`, `BOOTX64.EFI` and the `limine` host tool, or only its source
//! `limine.c` (the `v8.x-binary` branch ships no Linux binary), which is compiled here with
//! `cc`. The version comes from the tool (`limine --version`) and is checked against the
//! version string inside the loader files, because `bios-install` writes the tool's own
//! stage 1 and a tool from another release makes an ISO that does not boot from a disk.
//!
//! Config key names changed between releases: Limine 8.x reads `kernel_path` and
//! `module_cmdline`; Limine 9.0 renamed them `path` and `module_string` (10.x still accepts
//! the old names as aliases, 9.x does not promise to). Releases before 8.x use another
//! config format (`limine.cfg`) and do not know base revision 2, so they are refused.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Result;

const NEEDED: [&str; 4] = [
    "limine-bios.sys",
    "limine-bios-cd.bin",
    "limine-uefi-cd.bin",
    "BOOTX64.EFI",
];

/// The oldest major release whose config format and protocol revision the kernel needs.
const OLDEST_MAJOR: u32 = 8;

/// Where xtask looks when `LIMINE_DIR` is not set.
const PREFIXES: [&str; 4] = [
    "/usr/share/limine",
    "/usr/local/share/limine",
    "/usr/lib/limine",
    "/opt/limine",
];

/// Said when no release is found; `cargo xtask test` prints it in its skip line.
pub const NOT_FOUND: &str = "no Limine release found (set LIMINE_DIR)";

/// A Limine release version, `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    /// Reads `8.2.0`, `v8.2.0`, `Limine 8.2.0` or `Limine 9.0.0-rc1 (x86-64, UEFI)`: the
    /// first dotted number in `text`. A missing patch number reads as 0.
    pub fn parse(text: &str) -> Option<Version> {
        let start = text.find(|c: char| c.is_ascii_digit())?;
        let mut parts = text[start..]
            .split(|c: char| !c.is_ascii_digit() && c != '.')
            .next()?
            .split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        Some(Version {
            major,
            minor,
            patch,
        })
    }

    /// The version a loader binary names in its banner (`Limine 8.2.0 (x86-64, UEFI)`).
    fn in_binary(bytes: &[u8]) -> Option<Version> {
        const MARK: &[u8] = b"Limine ";
        bytes
            .windows(MARK.len() + 1)
            .enumerate()
            .find_map(|(at, w)| {
                if &w[..MARK.len()] != MARK || !w[MARK.len()].is_ascii_digit() {
                    return None;
                }
                let tail = &bytes[at + MARK.len()..];
                let len = tail
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || **b == b'.')
                    .count();
                Version::parse(std::str::from_utf8(&tail[..len]).ok()?)
            })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A usable release: its files, its host tool and its version.
#[derive(Clone, Debug)]
pub struct Release {
    pub dir: PathBuf,
    pub version: Version,
    tool: PathBuf,
}

fn is_release(dir: &Path) -> bool {
    NEEDED.iter().all(|f| dir.join(f).is_file())
}

/// `LIMINE_DIR`, else the usual install prefixes.
fn find_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LIMINE_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if is_release(&dir) {
            return Some(dir);
        }
        eprintln!(
            "xtask: LIMINE_DIR={} lacks one of {}; looking in {}",
            dir.display(),
            NEEDED.join(", "),
            PREFIXES.join(", ")
        );
    }
    PREFIXES.iter().map(PathBuf::from).find(|d| is_release(d))
}

/// Finds a release and checks it can be used; `Err` says why not (or [`NOT_FOUND`]).
/// `cache` is where a tool compiled from `limine.c` is kept between runs.
pub fn locate(cache: &Path) -> Result<Release> {
    let dir = find_dir().ok_or(NOT_FOUND)?;
    open(&dir, cache)
}

/// Reads the release in `dir`: its host tool, its version, and whether it is new enough.
pub fn open(dir: &Path, cache: &Path) -> Result<Release> {
    let tool = host_tool(dir, cache)?;
    let out = Command::new(&tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run the Limine host tool {}: {e}", tool.display()))?;
    let said = String::from_utf8_lossy(&out.stdout);
    let version = said.lines().next().and_then(Version::parse).ok_or(format!(
        "`{} --version` printed no version: {:?}",
        tool.display(),
        said.trim()
    ))?;
    for file in ["limine-bios.sys", "BOOTX64.EFI"] {
        let path = dir.join(file);
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        match Version::in_binary(&bytes) {
            Some(v) if v != version => {
                return Err(format!(
                    "the Limine host tool {} is {version} but {} is {v}: use the tool of the \
                     same release (or its limine.c)",
                    tool.display(),
                    path.display()
                ))
            }
            _ => {}
        }
    }
    supported(version).map_err(|why| format!("{why} ({})", dir.display()))?;
    Ok(Release {
        dir: dir.to_path_buf(),
        version,
        tool,
    })
}

/// Refuses releases older than [`OLDEST_MAJOR`].
fn supported(version: Version) -> Result<()> {
    if version.major < OLDEST_MAJOR {
        return Err(format!(
            "Limine {version} is too old: WayOS needs Limine {OLDEST_MAJOR}.x or newer \
             (limine.conf and base revision 2); get one with `git clone --branch=v8.x-binary \
             --depth=1 https://github.com/limine-bootloader/limine.git`"
        ));
    }
    Ok(())
}

/// The config that `version` reads from `/boot/limine/limine.conf`.
///
/// `serial` and `verbose` put the loader's progress and any error on the serial console
/// (the harness's only view), where it would otherwise go only to the screen, which runs
/// without a display. The BIOS port defaults to 9600 baud before 10.x; the kernel runs
/// COM1 at 115200, so both use that.
pub fn config(version: Version, cmdline: &str) -> Result<String> {
    supported(version)?;
    let (kernel_key, module_string_key) = if version.major == 8 {
        ("kernel_path", "module_cmdline")
    } else {
        ("path", "module_string")
    };
    Ok(format!(
        "timeout: 0\nserial: yes\nserial_baudrate: 115200\nverbose: yes\n\n\
         /WayOS\n    protocol: limine\n    {kernel_key}: boot():/boot/wayos-kernel\n    \
         cmdline: {cmdline}\n    module_path: boot():/boot/initramfs.cpio\n    \
         {module_string_key}: initramfs\n"
    ))
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("copy {} -> {}: {e}", from.display(), to.display()))
}

/// Runs a tool quietly; its output is shown only when it fails.
fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{:?} failed ({}):\n{}{}",
        cmd.get_program(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// The `limine` host tool: prebuilt in the release, compiled from the release's
/// `limine.c` (kept in `cache` under a name derived from the source, so a changed release
/// is recompiled), or the one on PATH (distribution packages put it in /usr/bin).
fn host_tool(release: &Path, cache: &Path) -> Result<PathBuf> {
    let prebuilt = release.join("limine");
    if prebuilt.is_file() {
        return Ok(prebuilt);
    }
    let source_path = release.join("limine.c");
    if let Ok(source) = fs::read(&source_path) {
        let mut hasher = DefaultHasher::new();
        source.hash(&mut hasher);
        let out = cache.join(format!("limine-{:016x}", hasher.finish()));
        if out.is_file() {
            return Ok(out);
        }
        fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
        // Compile beside the final name and rename, so a concurrent run never sees half a
        // binary.
        let partial = out.with_extension(format!("{}.partial", std::process::id()));
        run(Command::new("cc")
            .args(["-O2", "-pipe", "-std=c99", "-o"])
            .arg(&partial)
            .arg(&source_path))
        .map_err(|e| {
            format!(
                "compiling {} (needs a C compiler: apt-get install gcc): {e}",
                source_path.display()
            )
        })?;
        fs::rename(&partial, &out).map_err(|e| format!("{}: {e}", out.display()))?;
        return Ok(out);
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("limine"))
                .find(|p| p.is_file())
        })
        .ok_or(format!(
            "{} has neither the `limine` host tool nor its `limine.c`, and no `limine` is on \
             PATH",
            release.display()
        ))?;
    Ok(on_path)
}

/// Builds a hybrid ISO at `iso` from `release`, laid out in `scratch`.
pub fn build_iso(
    release: &Release,
    scratch: &Path,
    kernel: &[u8],
    initramfs: &[u8],
    cmdline: &str,
    iso: &Path,
) -> Result<()> {
    let root = scratch.join("root");
    let _ = fs::remove_dir_all(&root);
    let limine_dir = root.join("boot/limine");
    let efi_dir = root.join("EFI/BOOT");
    for d in [&limine_dir, &efi_dir] {
        fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let write =
        |p: PathBuf, b: &[u8]| fs::write(&p, b).map_err(|e| format!("{}: {e}", p.display()));
    write(root.join("boot/wayos-kernel"), kernel)?;
    write(root.join("boot/initramfs.cpio"), initramfs)?;
    write(
        limine_dir.join("limine.conf"),
        config(release.version, cmdline)?.as_bytes(),
    )?;
    for f in [
        "limine-bios.sys",
        "limine-bios-cd.bin",
        "limine-uefi-cd.bin",
    ] {
        copy(&release.dir.join(f), &limine_dir.join(f))?;
    }
    copy(
        &release.dir.join("BOOTX64.EFI"),
        &efi_dir.join("BOOTX64.EFI"),
    )?;
    let _ = fs::remove_file(iso);
    run(Command::new("xorriso")
        .args([
            "-as",
            "mkisofs",
            "-R",
            "-r",
            "-J",
            "-b",
            "boot/limine/limine-bios-cd.bin",
        ])
        .args([
            "-no-emul-boot",
            "-boot-load-size",
            "4",
            "-boot-info-table",
            "-hfsplus",
        ])
        .args([
            "-apm-block-size",
            "2048",
            "--efi-boot",
            "boot/limine/limine-uefi-cd.bin",
        ])
        .args([
            "-efi-boot-part",
            "--efi-boot-image",
            "--protective-msdos-label",
        ])
        .arg(&root)
        .arg("-o")
        .arg(iso))?;
    // CD boots (QEMU's -cdrom) go through El Torito and do not need this; it makes the
    // same image boot under BIOS when written to a disk or USB stick.
    run(Command::new(&release.tool).arg("bios-install").arg(iso))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u32, minor: u32, patch: u32) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    #[test]
    fn versions_parse_from_tool_and_tags() {
        assert_eq!(Version::parse("Limine 8.2.0"), Some(v(8, 2, 0)));
        assert_eq!(Version::parse("8.2.0\n"), Some(v(8, 2, 0)));
        assert_eq!(Version::parse("v9.3.4"), Some(v(9, 3, 4)));
        assert_eq!(Version::parse("Limine 10.0.0-rc1"), Some(v(10, 0, 0)));
        assert_eq!(Version::parse("Limine 9.1"), Some(v(9, 1, 0)));
        assert_eq!(
            Version::parse("Limine 8.2.0 (x86-64, UEFI)"),
            Some(v(8, 2, 0))
        );
        assert_eq!(Version::parse("Limine"), None);
        assert_eq!(Version::parse("Limine 8"), None);
        assert_eq!(Version::parse("Limine 8.x"), None);
        assert!(v(10, 0, 0) > v(9, 9, 9));
        assert_eq!(v(8, 2, 0).to_string(), "8.2.0");
    }

    #[test]
    fn version_is_found_inside_a_loader_binary() {
        let mut bytes = b"\0\x7fELF junk Limine is here\0pxe too old\0".to_vec();
        bytes.extend_from_slice(b"Limine 8.2.0 (x86-64, BIOS)\0more");
        assert_eq!(Version::in_binary(&bytes), Some(v(8, 2, 0)));
        assert_eq!(Version::in_binary(b"no banner at all"), None);
        assert_eq!(Version::in_binary(b"ends in Limine 9"), None);
    }

    /// The entry's lines, without indentation.
    fn entry(c: &str) -> Vec<&str> {
        let (_, entry) = c.split_once("/WayOS\n").expect("an entry");
        entry.lines().map(str::trim).collect()
    }

    #[test]
    fn limine8_config_uses_kernel_path() {
        let c = config(v(8, 2, 0), "wayos.test log=debug").unwrap();
        assert!(c.starts_with("timeout: 0\n"), "{c}");
        assert!(c.contains("\nserial: yes\n"), "{c}");
        assert!(c.contains("\nverbose: yes\n"), "{c}");
        assert_eq!(
            entry(&c),
            [
                "protocol: limine",
                "kernel_path: boot():/boot/wayos-kernel",
                "cmdline: wayos.test log=debug",
                "module_path: boot():/boot/initramfs.cpio",
                "module_cmdline: initramfs",
            ]
        );
        assert!(!c.contains("\n    path:"), "{c}");
    }

    #[test]
    fn limine9_and_later_config_uses_path() {
        for version in [v(9, 0, 0), v(9, 6, 1), v(10, 3, 0)] {
            let c = config(version, "").unwrap();
            assert!(c.contains("\nserial: yes\n"), "{c}");
            assert_eq!(
                entry(&c),
                [
                    "protocol: limine",
                    "path: boot():/boot/wayos-kernel",
                    "cmdline:",
                    "module_path: boot():/boot/initramfs.cpio",
                    "module_string: initramfs",
                ],
                "{version}"
            );
            assert!(!c.contains("kernel_path"), "{c}");
        }
    }

    #[test]
    fn releases_before_8_are_refused() {
        let err = config(v(7, 13, 3), "").unwrap_err();
        assert!(err.contains("Limine 7.13.3 is too old"), "{err}");
        assert!(err.contains("8.x or newer"), "{err}");
        assert!(supported(v(8, 0, 0)).is_ok());
    }

    #[test]
    fn a_release_needs_its_four_loader_files() {
        let dir = std::env::temp_dir().join(format!("xtask-limine-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        for f in &NEEDED[..3] {
            fs::write(dir.join(f), b"x").unwrap();
        }
        assert!(!is_release(&dir));
        fs::write(dir.join(NEEDED[3]), b"x").unwrap();
        assert!(is_release(&dir));
        let _ = fs::remove_dir_all(&dir);
    }
}
