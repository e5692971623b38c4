//! `aivectors OUT`: writes the `ainfer4` reference vectors to `OUT` (xtask packs the same
//! bytes into the initramfs as `/testdata/ai/vectors.bin` itself).
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: aivectors OUT");
        return ExitCode::FAILURE;
    };
    let bytes = wayos_aivectors::generate();
    if let Err(e) = std::fs::write(&path, &bytes) {
        eprintln!("aivectors: {path}: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "aivectors: {} cases, {} bytes -> {path}",
        wayos_aivectors::cases().len(),
        bytes.len()
    );
    ExitCode::SUCCESS
}
