//! `mkramfs`: pack host directories and files into a WayOS initramfs.
//!
//! Usage: `mkramfs -o OUT.cpio [DIR]... [--file ARCHIVE_PATH=HOST_FILE]...`
//! Each DIR's contents land at the archive root.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use mkramfs::Ramfs;

fn usage() -> ExitCode {
    eprintln!("usage: mkramfs -o OUT.cpio [DIR]... [--file ARCHIVE_PATH=HOST_FILE]...");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut out: Option<PathBuf> = None;
    let mut ramfs = Ramfs::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let result = match arg.as_str() {
            "-o" => match args.next() {
                Some(o) => {
                    out = Some(o.into());
                    Ok(())
                }
                None => return usage(),
            },
            "--file" => {
                let Some(spec) = args.next() else {
                    return usage();
                };
                let Some((inner, host)) = spec.split_once('=') else {
                    return usage();
                };
                std::fs::read(host)
                    .map_err(|e| format!("{host}: {e}"))
                    .and_then(|data| ramfs.add_file(inner, 0o644, data))
            }
            "-h" | "--help" => return usage(),
            dir => ramfs
                .add_tree(dir.as_ref(), "")
                .map_err(|e| format!("{dir}: {e}")),
        };
        if let Err(e) = result {
            eprintln!("mkramfs: {e}");
            return ExitCode::FAILURE;
        }
    }
    let Some(out) = out else { return usage() };
    if let Err(e) = std::fs::write(&out, ramfs.to_cpio()) {
        eprintln!("mkramfs: {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
