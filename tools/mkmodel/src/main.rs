//! `mkmodel`, the host tool: `mkmodel build DESC OUT` writes a `.waymodel` file from a
//! text description (`docs/waymodel.md`), `mkmodel show FILE` prints one, `mkmodel check
//! FILE` validates one. `file=PATH` weights are read relative to the description's
//! directory. Exit status 0 on success, 1 on any error (with a message on stderr), 2 on
//! bad usage.

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: mkmodel build DESC OUT | show FILE | check FILE";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&argv) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err((code, msg)) => {
            eprintln!("mkmodel: {msg}");
            ExitCode::from(code)
        }
    }
}

fn read(path: &str) -> Result<Vec<u8>, (u8, String)> {
    std::fs::read(path).map_err(|e| (1, format!("{path}: {e}")))
}

fn run(argv: &[&str]) -> Result<String, (u8, String)> {
    match argv {
        ["build", desc, out] => {
            let text = String::from_utf8(read(desc)?)
                .map_err(|_| (1, format!("{desc}: not UTF-8 text")))?;
            let dir = Path::new(desc)
                .parent()
                .unwrap_or(Path::new("."))
                .to_path_buf();
            let mut load = |p: &str| std::fs::read(dir.join(p)).map_err(|e| e.to_string());
            let bytes =
                mkmodel::build(&text, &mut load).map_err(|e| (1, format!("{desc}: {e}")))?;
            std::fs::write(out, &bytes).map_err(|e| (1, format!("{out}: {e}")))?;
            Ok(format!("{out}: {} bytes\n", bytes.len()))
        }
        ["show", file] => {
            let bytes = read(file)?;
            let m =
                wayos_kcore::waymodel::parse(&bytes).map_err(|e| (1, format!("{file}: {e}")))?;
            let mut s = String::new();
            mkmodel::show(&m, &mut s).map_err(|_| (1, "formatting failed".to_string()))?;
            Ok(s)
        }
        ["check", file] => {
            let bytes = read(file)?;
            mkmodel::check(&bytes)
                .map(|s| format!("{file}: {s}\n"))
                .map_err(|e| (1, format!("{file}: {e}")))
        }
        _ => Err((2, USAGE.to_string())),
    }
}
