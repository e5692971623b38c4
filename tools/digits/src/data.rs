//! The UCI digits (`data/digits.csv`, compiled in) and the fixed train/test split.
//!
//! The split is by position: row `i` (counting from 0 in the file's order) is a test
//! sample when `i % 5 == 0`, a training sample otherwise, so 360 test and 1,437 training
//! samples. No randomness, so it is the same wherever it is computed.

use wayos_abi::digits::{CLASSES, FEATURES};

/// The data set as shipped.
pub const CSV: &str = include_str!("../data/digits.csv");
/// Its attribution (CC BY 4.0: it travels with every copy).
pub const README: &str = include_str!("../data/README.md");
/// Every `TEST_EVERY`-th row is a test sample.
pub const TEST_EVERY: usize = 5;

/// One image: pixels 0..=16 and its label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub pixels: [u8; FEATURES],
    pub label: u8,
}

impl Sample {
    /// The model's input: each pixel / 16, exact in `f32`.
    pub fn input(&self) -> [f32; FEATURES] {
        self.pixels.map(|p| f32::from(p) / 16.0)
    }
}

/// Parses the CSV: 65 comma-separated integers a row, pixels 0..=16, label 0..=9.
pub fn parse(csv: &str) -> Result<Vec<Sample>, String> {
    let mut out = Vec::new();
    for (n, line) in csv
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let row = n + 1;
        let vals: Vec<u8> = line
            .trim()
            .split(',')
            .map(|v| v.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("digits.csv line {row}: {e}"))?;
        if vals.len() != FEATURES + 1 {
            return Err(format!(
                "digits.csv line {row}: {} values, want {}",
                vals.len(),
                FEATURES + 1
            ));
        }
        let mut pixels = [0u8; FEATURES];
        pixels.copy_from_slice(&vals[..FEATURES]);
        let label = vals[FEATURES];
        if pixels.iter().any(|&p| p > 16) || usize::from(label) >= CLASSES {
            return Err(format!("digits.csv line {row}: a value out of range"));
        }
        out.push(Sample { pixels, label });
    }
    Ok(out)
}

/// The shipped data set.
pub fn load() -> Result<Vec<Sample>, String> {
    parse(CSV)
}

/// `(train, test)`: see the module docs.
pub fn split(all: &[Sample]) -> (Vec<Sample>, Vec<Sample>) {
    let (test, train): (Vec<_>, Vec<_>) = all
        .iter()
        .enumerate()
        .partition(|(i, _)| i % TEST_EVERY == 0);
    (
        train.into_iter().map(|(_, s)| *s).collect(),
        test.into_iter().map(|(_, s)| *s).collect(),
    )
}
