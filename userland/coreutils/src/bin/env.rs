//! `env [-i] [-u NAME]... [-C DIR] [-0] [NAME=VALUE]... [COMMAND [ARG]...]`: runs COMMAND
//! (found through `$PATH` of the new environment) with the environment changed, or prints
//! the environment. Exit status 127 if COMMAND cannot be found, 126 if it cannot run.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::string::String;
    use alloc::vec::Vec;

    use coreutils::args::Spec;
    use coreutils::errmsg::quote;
    use coreutils::{err, sys};
    use libway::abi::errno::ENOENT;
    use libway::Args;

    const HELP: &str = "[OPTION]... [-] [NAME=VALUE]... [COMMAND [ARG]...]\nSet each NAME to VALUE in the environment and run COMMAND.\n\n  -i, --ignore-environment  start with an empty environment\n  -0, --null           end each output line with NUL, not newline\n  -u, --unset=NAME     remove variable from the environment\n  -C, --chdir=DIR      change working directory to DIR\n\nA mere - implies -i.  If no COMMAND, print the resulting environment.\n";
    const SPEC: Spec = Spec {
        short: "i0u:C:",
        long: &[
            ("ignore-environment", 'i', false),
            ("null", '0', false),
            ("unset", 'u', true),
            ("chdir", 'C', true),
        ],
        permute: false,
        numbers: false,
    };

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 125) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut operands = p.operands.as_slice();
        let mut clear = p.has('i');
        if operands.first() == Some(&"-") {
            clear = true;
            operands = &operands[1..];
        }
        let mut env: Vec<String> = if clear {
            Vec::new()
        } else {
            libway::env::vars().iter().map(String::from).collect()
        };
        for (c, v) in &p.opts {
            if let ('u', Some(name)) = (c, v) {
                if name.is_empty() || name.contains('=') {
                    err!("cannot unset {}: Invalid argument", quote(name));
                    return 125;
                }
                env.retain(|e| e.split('=').next() != Some(name));
            }
        }
        while let Some(a) = operands.first() {
            let Some((name, _)) = a.split_once('=') else {
                break;
            };
            env.retain(|e| e.split_once('=').map(|(n, _)| n) != Some(name));
            env.push(String::from(*a));
            operands = &operands[1..];
        }
        if let Some(dir) = p.last('C') {
            if operands.is_empty() {
                err!("must specify command with --chdir (-C)");
                sys::try_help();
                return 125;
            }
            if let Err(e) = libway::fs::chdir(dir) {
                err!(
                    "cannot change directory to {}: {}",
                    quote(dir),
                    sys::errno(e)
                );
                return 125;
            }
        }
        let Some((cmd, _)) = operands.split_first() else {
            let end: &[u8] = if p.has('0') { b"\0" } else { b"\n" };
            for e in &env {
                sys::write_str(e);
                sys::write(end);
            }
            return 0;
        };
        if p.has('0') {
            err!("cannot specify --null (-0) with command");
            sys::try_help();
            return 125;
        }
        sys::flush();
        let envp: Vec<&str> = env.iter().map(String::as_str).collect();
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .map(String::from)
            .unwrap_or_else(|| String::from("/bin"));
        let candidates: Vec<String> = if cmd.contains('/') {
            alloc::vec![String::from(*cmd)]
        } else {
            path.split(':')
                .map(|d| coreutils::path::join(if d.is_empty() { "." } else { d }, cmd))
                .collect()
        };
        let mut last = libway::Errno(ENOENT);
        for c in &candidates {
            let e = libway::process::execve(c, operands, &envp);
            if e.code() != ENOENT || last.code() == ENOENT {
                last = e;
            }
        }
        err!("{}: {}", quote(cmd), sys::errno(last));
        if last.code() == ENOENT {
            127
        } else {
            126
        }
    }
}
