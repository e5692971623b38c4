//! `digits OUTDIR`: trains the digits model and writes the files xtask packs into the
//! initramfs (`models/...`, `testdata/digits/...`) under `OUTDIR`, then prints the
//! accuracies and the bit-exact logits' SHA-256.
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: digits OUTDIR");
        return ExitCode::from(2);
    };
    let g = match wayos_digits::generate() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("digits: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (path, bytes) in &g.files {
        let to = std::path::Path::new(&dir).join(path.trim_start_matches('/'));
        let written = to
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&to, bytes));
        if let Err(e) = written {
            eprintln!("digits: {}: {e}", to.display());
            return ExitCode::FAILURE;
        }
        println!("digits: wrote {} ({} bytes)", to.display(), bytes.len());
    }
    println!(
        "digits: trained on {} samples (last epoch's loss {:.4}), tested on {}",
        g.train_samples, g.train_loss, g.test_samples
    );
    for line in g.summary() {
        println!("digits: {line}");
    }
    let exact = g.variant(wayos_abi::digits::VARIANT_EXACT);
    println!(
        "digits: bitexact sha256 {}",
        wayos_digits::files::hex(&exact.sha256())
    );
    ExitCode::SUCCESS
}
