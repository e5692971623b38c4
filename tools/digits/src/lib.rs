//! The digits model end to end on the host (`docs/digits.md`): train a 64 -> 32 -> 10 MLP
//! on the UCI handwritten digits, write it as three `.waymodel` files (f32 fast mode,
//! f32 bit-exact mode, int8), and write the test split with what the guest must compute
//! for it: every logit of every variant, each variant's accuracy, the logits' SHA-256.
//!
//! xtask calls [`generate`] at build time and packs [`Generated::files`] into the
//! initramfs (the models in `/models`, the split and expectations in `/testdata/digits`);
//! `cargo run -p wayos-digits -- OUTDIR` writes the same files to a directory.
//!
//! Must never: depend on the host or the run (threads, clocks, the platform's libm, hash
//! map order): the same bytes come out everywhere, so the bit-exact hash the guest
//! prints on either architecture is compared with one value.

pub mod data;
pub mod files;
pub mod infer;
pub mod train;

use wayos_abi::digits::{
    self, CLASSES, FEATURES, MODELS_DIR, MODEL_EXACT, MODEL_F32, MODEL_Q8, VARIANT_EXACT,
    VARIANT_F32, VARIANT_Q8,
};
use wayos_aimath::Ctx;

use files::Expected;
use infer::{Weights, Q8, SCALAR_FAST};

/// What [`generate`] made.
pub struct Generated {
    /// `(guest path, bytes)`: absolute paths.
    pub files: Vec<(String, Vec<u8>)>,
    pub train_samples: usize,
    pub test_samples: usize,
    /// The last epoch's mean training loss.
    pub train_loss: f64,
    /// Per variant, including the int8 one even when its model file is not written
    /// (see [`digits::Q8_OPS`]).
    pub expected: Vec<Expected>,
    /// Whether the int8 model file (and its expectations) were written.
    pub q8_written: bool,
    pub weights: Weights,
    pub q8: Q8,
}

impl Generated {
    /// The expectations of variant `id`.
    pub fn variant(&self, id: u32) -> &Expected {
        self.expected
            .iter()
            .find(|e| e.id == id)
            .expect("every variant is computed")
    }

    /// A one-line summary per variant, e.g. `digits.waymodel: 350/360 correct (97.22%)`.
    pub fn summary(&self) -> Vec<String> {
        self.expected
            .iter()
            .map(|e| {
                let path = digits::variant_path(e.id).unwrap_or("?");
                format!(
                    "{}: {}/{} correct ({:.2}%){}",
                    path.rsplit('/').next().unwrap_or(path),
                    e.correct,
                    self.test_samples,
                    100.0 * f64::from(e.correct) / self.test_samples as f64,
                    if e.id == VARIANT_Q8 && !self.q8_written {
                        " [not written: the kernel ABI lacks QUANTIZE/DEQUANTIZE]"
                    } else {
                        ""
                    }
                )
            })
            .collect()
    }
}

fn models_readme(g: &Generated) -> String {
    let mut s = String::new();
    s.push_str(
        "Models in this directory\n\
         ========================\n\n\
         digits.waymodel        an MLP (64 -> 32 -> 10, ReLU) that reads an 8x8 image of a\n\
         \x20                      handwritten digit (input x [1,64] f32, each pixel 0..16\n\
         \x20                      divided by 16) and outputs 10 logits [1,10] f32; fast mode\n\
         digits-exact.waymodel  the same weights in bit-exact mode (the same output bits on\n\
         \x20                      every architecture)\n\
         digits-q8.waymodel     the int8 version (post-training quantization, per-tensor\n\
         \x20                      scales; QUANTIZE / MATMUL_I8 / DEQUANTIZE)\n\n\
         Run them with `classify` (`classify --q8`, `classify --exact`, `classify --check`).\n\
         Accuracy on the test split (every 5th row of the data set, 360 images):\n\n",
    );
    for line in g.summary() {
        s.push_str("  ");
        s.push_str(&line);
        s.push('\n');
    }
    s.push_str("\nTrained by tools/digits (docs/digits.md) on this data:\n\n");
    s.push_str(data::README);
    s
}

/// Trains, quantizes and writes everything (see the crate docs). Takes a few seconds
/// (the crate is built optimized in every profile).
pub fn generate() -> Result<Generated, String> {
    let all = data::load()?;
    let (train_set, test_set) = data::split(&all);
    let (net, train_loss) = train::train(&train_set);
    let weights = Weights::from_mlp(&net);
    let calib: Vec<[f32; FEATURES]> = train_set.iter().map(|s| s.input()).collect();
    let q8 = Q8::quantize_model(&weights, &calib);

    let run = |f: &dyn Fn(&[f32]) -> [f32; CLASSES]| -> Vec<f32> {
        test_set.iter().flat_map(|s| f(&s.input())).collect()
    };
    let fast = run(&|x| infer::forward_f32(&SCALAR_FAST, &weights, x).1);
    let exact = run(&|x| infer::forward_f32(&Ctx::SCALAR_EXACT, &weights, x).1);
    let quant = run(&|x| q8.forward(x));
    let expected = vec![
        Expected::new(VARIANT_F32, fast, &test_set),
        Expected::new(VARIANT_EXACT, exact, &test_set),
        Expected::new(VARIANT_Q8, quant, &test_set),
    ];

    let q8_written = digits::Q8_OPS;
    let mut files = vec![
        (
            MODEL_F32.to_string(),
            files::f32_model("digits", &weights, wayos_abi::ai::MODE_FAST)?,
        ),
        (
            MODEL_EXACT.to_string(),
            files::f32_model("digits-exact", &weights, wayos_abi::ai::MODE_BITEXACT)?,
        ),
    ];
    if q8_written {
        files.push((MODEL_Q8.to_string(), files::q8_model("digits-q8", &q8)?));
    }
    let written: Vec<Expected> = expected
        .iter()
        .filter(|e| e.id != VARIANT_Q8 || q8_written)
        .cloned()
        .collect();
    files.push((digits::SPLIT_PATH.to_string(), files::split_file(&test_set)));
    files.push((
        digits::EXPECT_PATH.to_string(),
        files::expect_file(test_set.len(), &written),
    ));
    let mut g = Generated {
        files,
        train_samples: train_set.len(),
        test_samples: test_set.len(),
        train_loss,
        expected,
        q8_written,
        weights,
        q8,
    };
    let readme = models_readme(&g);
    g.files
        .push((format!("{MODELS_DIR}/README"), readme.into_bytes()));
    Ok(g)
}

#[cfg(test)]
mod tests;
