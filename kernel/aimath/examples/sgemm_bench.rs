//! `sgemm_bench N ISA MODE REPS`: runs `REPS` n x n x n f32 matrix products (ISA
//! `scalar`|`avx2`|`neon`, MODE `fast`|`exact`) for instruction counting under valgrind:
//! the difference of two runs' counts over the difference of their `REPS` is the cost of
//! one product, and `2 n^3` over it the flops per instruction (docs/ai-math.md).
use wayos_aimath::{matmul, Ctx, Isa, Mode};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(256);
    let isa = match args.get(2).map(String::as_str) {
        Some("scalar") => Isa::Scalar,
        Some("avx2") => Isa::Avx2Fma,
        Some("neon") => Isa::Neon,
        _ => Isa::host_best(),
    };
    let mode = match args.get(3).map(String::as_str) {
        Some("exact") => Mode::BitExact,
        _ => Mode::Fast,
    };
    let reps: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    let a: Vec<f32> = (0..n * n)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0)
        .collect();
    let b: Vec<f32> = (0..n * n)
        .map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0)
        .collect();
    let mut c = vec![0.0f32; n * n];
    let ctx = Ctx { mode, isa };
    let t = std::time::Instant::now();
    for _ in 0..reps {
        matmul(&ctx, &a, &b, &mut c, 1, n, n, n, false, false).expect("matmul");
    }
    let dt = t.elapsed().as_secs_f64();
    let flops = 2.0 * (n * n * n * reps) as f64;
    println!(
        "n={n} isa={isa:?} mode={mode:?} reps={reps} checksum={} gflops={:.2}",
        c.iter().map(|&v| v as f64).sum::<f64>(),
        flops / dt / 1e9
    );
}
