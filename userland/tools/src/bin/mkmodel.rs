//! `mkmodel`, in the guest: the host tool's commands on files in the guest's file system,
//! for small models typed at the shell (`docs/waymodel.md`).
//!
//! `mkmodel build DESC OUT` writes a `.waymodel` file from a text description (weights
//! given with `data=`/`fill=`, or `file=PATH` read relative to the description's
//! directory) and prints `OUT: N bytes`; `mkmodel show FILE` prints a model; `mkmodel
//! check FILE` parses and validates one and prints a summary. Exit status 0, 1 with a
//! message on standard error on any error (nothing is written then), 2 on bad usage. The
//! work is the `mkmodel` library's, shared with the host tool.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use libway::io::{write_all, STDOUT};
use libway::{eprintln, fs, Args};

libway::entry!(main);

const USAGE: &str = "usage: mkmodel build DESC OUT | show FILE | check FILE";

fn read(path: &str) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("{path}: {e}"))
}

/// The directory part of `path` with its trailing slash, or "" for a bare name.
fn dir_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..=i])
}

fn run(argv: &[&str]) -> Result<String, (i32, String)> {
    match argv {
        ["build", desc, out] => {
            let bytes = read(desc).map_err(|e| (1, e))?;
            let text =
                core::str::from_utf8(&bytes).map_err(|_| (1, format!("{desc}: not UTF-8 text")))?;
            let dir = dir_of(desc);
            let mut load = |p: &str| {
                let full = if p.starts_with('/') {
                    p.to_string()
                } else {
                    format!("{dir}{p}")
                };
                fs::read(&full).map_err(|e| e.to_string())
            };
            let model = mkmodel::build(text, &mut load).map_err(|e| (1, format!("{desc}: {e}")))?;
            fs::write(out, &model).map_err(|e| (1, format!("{out}: {e}")))?;
            Ok(format!("{out}: {} bytes\n", model.len()))
        }
        ["show", file] => {
            let bytes = read(file).map_err(|e| (1, e))?;
            let m =
                wayos_kcore::waymodel::parse(&bytes).map_err(|e| (1, format!("{file}: {e}")))?;
            let mut s = String::new();
            mkmodel::show(&m, &mut s).map_err(|_| (1, "formatting failed".to_string()))?;
            Ok(s)
        }
        ["check", file] => {
            let bytes = read(file).map_err(|e| (1, e))?;
            mkmodel::check(&bytes)
                .map(|s| format!("{file}: {s}\n"))
                .map_err(|e| (1, format!("{file}: {e}")))
        }
        _ => Err((2, USAGE.to_string())),
    }
}

fn main(args: Args) -> i32 {
    let argv: Vec<&str> = args.iter().skip(1).collect();
    match run(&argv) {
        Ok(text) => match write_all(STDOUT, text.as_bytes()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("mkmodel: write: {e}");
                1
            }
        },
        Err((code, msg)) => {
            eprintln!("mkmodel: {msg}");
            code
        }
    }
}
