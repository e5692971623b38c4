#![allow(unused)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Fast,
    BitExact,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    Avx2Fma,
    Neon,
}
impl Isa {
    pub fn detect() -> Isa {
        Isa::Scalar
    }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctx {
    pub mode: Mode,
    pub isa: Isa,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MathError {
    Shape,
    Index { index: i32 },
    Unsupported,
}
type R = Result<(), MathError>;
pub fn matmul(
    ctx: &Ctx,
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
) -> R {
    Err(MathError::Unsupported)
}
pub fn add(ctx: &Ctx, a: &[f32], b: &[f32], out: &mut [f32]) -> R {
    Err(MathError::Unsupported)
}
pub fn mul(ctx: &Ctx, a: &[f32], b: &[f32], out: &mut [f32]) -> R {
    Err(MathError::Unsupported)
}
pub fn relu(ctx: &Ctx, x: &[f32], out: &mut [f32]) -> R {
    Err(MathError::Unsupported)
}
pub fn gelu(ctx: &Ctx, x: &[f32], out: &mut [f32]) -> R {
    Err(MathError::Unsupported)
}
pub fn sigmoid(ctx: &Ctx, x: &[f32], out: &mut [f32]) -> R {
    Err(MathError::Unsupported)
}
pub fn tanh(ctx: &Ctx, x: &[f32], out: &mut [f32]) -> R {
    Err(MathError::Unsupported)
}
pub fn softmax(ctx: &Ctx, x: &[f32], out: &mut [f32], d: usize) -> R {
    Err(MathError::Unsupported)
}
pub fn layernorm(
    ctx: &Ctx,
    x: &[f32],
    g: &[f32],
    b: &[f32],
    eps: f32,
    out: &mut [f32],
    d: usize,
) -> R {
    Err(MathError::Unsupported)
}
pub fn argmax(x: &[f32], out: &mut [i32], d: usize) -> R {
    Err(MathError::Unsupported)
}
pub fn transpose<T: Copy>(x: &[T], dims: &[usize], perm: &[usize], out: &mut [T]) -> R {
    Err(MathError::Unsupported)
}
pub fn embedding(t: &[f32], v: usize, d: usize, idx: &[i32], out: &mut [f32]) -> R {
    Err(MathError::Unsupported)
}
pub fn conv2d(
    ctx: &Ctx,
    x: &[f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    wts: &[f32],
    o: usize,
    bias: Option<&[f32]>,
    stride: usize,
    pad: usize,
    out: &mut [f32],
) -> R {
    Err(MathError::Unsupported)
}
pub fn matmul_i8(
    ctx: &Ctx,
    a: &[i8],
    za: i32,
    b: &[i8],
    zb: i32,
    out: &mut [i32],
    m: usize,
    k: usize,
    n: usize,
) -> R {
    Err(MathError::Unsupported)
}
