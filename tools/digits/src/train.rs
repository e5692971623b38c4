//! Training: a 64 -> 32 -> 10 MLP (ReLU, softmax cross-entropy) by minibatch SGD with
//! momentum and weight decay, in `f64`.
//!
//! Deterministic by construction: one thread, the PRNG below with a fixed seed (weight
//! initialisation and each epoch's shuffle), a fixed number of epochs, every sum taken in
//! a fixed loop order, and only `+ - * /`, `floor` and `sqrt` (all correctly rounded
//! IEEE operations) — `exp` is computed here rather than by the platform's libm, whose
//! last bits may differ between hosts. So every host trains the same weights bit for bit.

use wayos_abi::digits::{CLASSES, FEATURES};

use crate::data::Sample;

/// Hidden units.
pub const HIDDEN: usize = 32;
/// The PRNG's seed.
pub const SEED: u64 = 0x5741_594f_535f_3135; // "WAYOS_15"
pub const EPOCHS: usize = 60;
pub const BATCH: usize = 16;
pub const LEARNING_RATE: f64 = 0.05;
pub const MOMENTUM: f64 = 0.9;
pub const WEIGHT_DECAY: f64 = 1e-3;

/// splitmix64 (Steele, Lea, Flood 2014): small, fast, and its sequence is fixed forever.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n` > 0; the modulo bias is below 2^-50 for our sizes).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// `e^x` from `+ - * /` and `floor` alone: `x = k ln2 + r` with `|r| <= ln2 / 2`, a
/// degree-13 Taylor polynomial for `e^r` (error below 1e-16 relative), and `2^k` built in
/// the exponent bits. 0 below -700 (no subnormals), `e^700` above 700.
pub fn exp(x: f64) -> f64 {
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    // ln 2 split so that `k * LN2_HI` is exact for |k| < 2^11.
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    if x.is_nan() {
        return x;
    }
    if x < -700.0 {
        return 0.0;
    }
    let x = x.min(700.0);
    let k = (x * LOG2_E + 0.5).floor();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = 1.0;
    for i in (1..=13).rev() {
        p = 1.0 + p * r / f64::from(i);
    }
    p * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

/// The trained network in `f64`; weights row-major `[in][out]` (what a graph's matmul
/// takes as its right operand).
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    pub w1: Vec<f64>,
    pub b1: Vec<f64>,
    pub w2: Vec<f64>,
    pub b2: Vec<f64>,
}

impl Mlp {
    /// Glorot-uniform weights from `rng`, zero biases.
    pub fn init(rng: &mut Rng) -> Self {
        let mut layer = |fan_in: usize, fan_out: usize| -> Vec<f64> {
            let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
            (0..fan_in * fan_out)
                .map(|_| (rng.unit() * 2.0 - 1.0) * a)
                .collect()
        };
        let w1 = layer(FEATURES, HIDDEN);
        let w2 = layer(HIDDEN, CLASSES);
        Mlp {
            w1,
            b1: vec![0.0; HIDDEN],
            w2,
            b2: vec![0.0; CLASSES],
        }
    }

    /// Hidden activations (after ReLU) and logits for input `x`.
    pub fn forward(&self, x: &[f64]) -> ([f64; HIDDEN], [f64; CLASSES]) {
        let mut h = [0.0; HIDDEN];
        for (j, hj) in h.iter_mut().enumerate() {
            let mut s = 0.0;
            for (i, &xi) in x.iter().enumerate() {
                s += xi * self.w1[i * HIDDEN + j];
            }
            *hj = (s + self.b1[j]).max(0.0);
        }
        let mut z = [0.0; CLASSES];
        for (c, zc) in z.iter_mut().enumerate() {
            let mut s = 0.0;
            for (j, &hj) in h.iter().enumerate() {
                s += hj * self.w2[j * CLASSES + c];
            }
            *zc = s + self.b2[c];
        }
        (h, z)
    }
}

/// Softmax of `z` (maximum subtracted first).
pub fn softmax(z: &[f64; CLASSES]) -> [f64; CLASSES] {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e = z.map(|v| exp(v - m));
    let sum: f64 = e.iter().sum();
    e.map(|v| v / sum)
}

/// Trains on `train` (see the module docs for the schedule). Returns the network and the
/// mean training loss of the last epoch.
// The backward pass indexes several arrays by the same unit number, as the formulas do.
#[allow(clippy::needless_range_loop)]
pub fn train(train: &[Sample]) -> (Mlp, f64) {
    let mut rng = Rng::new(SEED);
    let mut net = Mlp::init(&mut rng);
    let inputs: Vec<[f64; FEATURES]> = train
        .iter()
        .map(|s| s.pixels.map(|p| f64::from(p) / 16.0))
        .collect();
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut vel = Mlp {
        w1: vec![0.0; net.w1.len()],
        b1: vec![0.0; HIDDEN],
        w2: vec![0.0; net.w2.len()],
        b2: vec![0.0; CLASSES],
    };
    let mut last_loss = 0.0;
    for _epoch in 0..EPOCHS {
        // Fisher-Yates with the one generator: the order depends only on the seed.
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let mut loss = 0.0;
        for batch in order.chunks(BATCH) {
            let mut g = Mlp {
                w1: vec![0.0; net.w1.len()],
                b1: vec![0.0; HIDDEN],
                w2: vec![0.0; net.w2.len()],
                b2: vec![0.0; CLASSES],
            };
            for &n in batch {
                let x = &inputs[n];
                let (h, z) = net.forward(x);
                let mut dz = softmax(&z);
                let label = usize::from(train[n].label);
                loss -= dz[label].max(1e-300).ln_approx();
                dz[label] -= 1.0;
                let mut dh = [0.0; HIDDEN];
                for j in 0..HIDDEN {
                    let mut s = 0.0;
                    for c in 0..CLASSES {
                        g.w2[j * CLASSES + c] += h[j] * dz[c];
                        s += net.w2[j * CLASSES + c] * dz[c];
                    }
                    dh[j] = if h[j] > 0.0 { s } else { 0.0 };
                }
                for c in 0..CLASSES {
                    g.b2[c] += dz[c];
                }
                for i in 0..FEATURES {
                    if x[i] != 0.0 {
                        for j in 0..HIDDEN {
                            g.w1[i * HIDDEN + j] += x[i] * dh[j];
                        }
                    }
                }
                for j in 0..HIDDEN {
                    g.b1[j] += dh[j];
                }
            }
            let scale = 1.0 / batch.len() as f64;
            let step = |w: &mut [f64], v: &mut [f64], g: &[f64], decay: f64| {
                for ((w, v), g) in w.iter_mut().zip(v.iter_mut()).zip(g) {
                    *v = MOMENTUM * *v - LEARNING_RATE * (g * scale + decay * *w);
                    *w += *v;
                }
            };
            step(&mut net.w1, &mut vel.w1, &g.w1, WEIGHT_DECAY);
            step(&mut net.b1, &mut vel.b1, &g.b1, 0.0);
            step(&mut net.w2, &mut vel.w2, &g.w2, WEIGHT_DECAY);
            step(&mut net.b2, &mut vel.b2, &g.b2, 0.0);
        }
        last_loss = loss / train.len() as f64;
    }
    (net, last_loss)
}

/// A natural logarithm from `+ - * /` (for the loss figure only, which nothing depends
/// on but a log line; kept off libm for the same reason as [`exp`]).
trait LnApprox {
    fn ln_approx(self) -> f64;
}

impl LnApprox for f64 {
    fn ln_approx(self) -> f64 {
        // x = m 2^e with m in [1, 2); ln m = 2 atanh((m - 1) / (m + 1)).
        let bits = self.to_bits();
        let e = ((bits >> 52) & 0x7ff) as i64 - 1023;
        let m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
        let t = (m - 1.0) / (m + 1.0);
        let t2 = t * t;
        let mut s = 0.0;
        for k in (0..20).rev() {
            s = 1.0 / f64::from(2 * k + 1) + t2 * s;
        }
        2.0 * t * s + e as f64 * std::f64::consts::LN_2
    }
}

#[cfg(test)]
pub(crate) fn ln(x: f64) -> f64 {
    x.ln_approx()
}
