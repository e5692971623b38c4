//! The blocked matrix-product driver shared by the SIMD ISAs: it packs B into panels of
//! [`NR`] columns by up to [`KC`] rows (zero-padded, so every panel is full width) and
//! walks the output in [`MR`] x [`NR`] tiles, each computed by the ISA's register-blocked
//! micro-kernel. A needs no packing: a tile's six rows are reached through per-row
//! offsets and one step, which covers both plain and transposed A (and batches).
//!
//! The same driver runs conv2d, packing the im2col matrix on the fly ([`conv2d`]).
//!
//! Must never: index outside the slices (the micro-kernels check each tile's extent
//! before touching memory), use more than a few KiB of stack (kernel stacks are 64 KiB),
//! or change the per-element summation order of the crate docs: every output adds its
//! products in increasing `k`, block after block.

use crate::{ConvShape, MathError, MatmulShape};

/// Rows per micro-tile.
pub(crate) const MR: usize = 6;
/// Columns per micro-tile (two AVX2 registers, four NEON registers).
pub(crate) const NR: usize = 16;
/// Rows of B per packed panel: 16 KiB of stack.
pub(crate) const KC: usize = 256;

/// One ISA's micro-kernel.
pub(crate) trait MicroKernel {
    /// Computes an `MR x NR` tile: `c[r*ldc + j] (+)= sum_{p<kc} a[arow[r] + p*cs] *
    /// bp[p*NR + j]`, starting from `c` when `load_c` and from `+0.0` otherwise, in
    /// increasing `p`. Returns `false` (touching nothing) if any index would fall outside
    /// its slice.
    #[allow(clippy::too_many_arguments)]
    fn tile(
        &self,
        kc: usize,
        a: &[f32],
        arow: &[usize; MR],
        cs: usize,
        bp: &[f32],
        c: &mut [f32],
        ldc: usize,
        load_c: bool,
    ) -> bool;
}

/// Packs B's rows `pc..pc+kc`, columns `jc..jc+w` into `bp` (`kc x NR`, zero-padded).
fn pack_b(b: &[f32], s: &MatmulShape, pc: usize, kc: usize, jc: usize, w: usize, bp: &mut [f32]) {
    for (p, dst) in bp.chunks_exact_mut(NR).take(kc).enumerate() {
        let row = pc + p;
        if s.trans_b {
            for (j, d) in dst.iter_mut().enumerate().take(w) {
                *d = b[(jc + j) * s.k + row];
            }
        } else if w == NR {
            let start = row * s.n + jc;
            dst.copy_from_slice(&b[start..start + NR]);
        } else {
            let start = row * s.n + jc;
            dst[..w].copy_from_slice(&b[start..start + w]);
        }
        dst[w..].fill(0.0);
    }
}

/// `out = A x B` for a checked shape, with `kern`'s micro-kernel.
pub(crate) fn matmul(
    kern: &impl MicroKernel,
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    s: &MatmulShape,
) -> Result<(), MathError> {
    gemm(
        kern,
        a,
        s.batch * s.m,
        |row| s.a_row(row),
        s.k,
        s.n,
        |pc, kc, jc, w, bp| pack_b(b, s, pc, kc, jc, w, bp),
        out,
    )
}

/// 3x3 convolution as a product: per image, the weights `[o, 9c]` times the implicit
/// im2col matrix `[9c, ho*wo]` that packing gathers straight from the image (padded
/// taps read as `0.0`: for finite inputs adding a zero product leaves a sum that starts
/// at `+0.0` unchanged, so this gives the scalar kernel's bits), then the bias added
/// last.
pub(crate) fn conv2d(
    kern: &impl MicroKernel,
    x: &[f32],
    wts: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    s: &ConvShape,
) -> Result<(), MathError> {
    let k = 9 * s.c;
    let npix = s.ho * s.wo;
    let image = s.c * s.h * s.w;
    if npix == 0 || s.o == 0 {
        return Ok(());
    }
    for (ni, o_img) in out.chunks_exact_mut(s.o * npix).enumerate().take(s.n) {
        let x_img = &x[ni * image..(ni + 1) * image];
        gemm(
            kern,
            wts,
            s.o,
            |row| (row * k, 1),
            k,
            npix,
            |pc, kc, jc, w, bp| pack_im2col(x_img, s, pc, kc, jc, w, bp),
            o_img,
        )?;
        if let Some(b) = bias {
            for (orow, bv) in o_img.chunks_exact_mut(npix).zip(b) {
                for v in orow {
                    *v += *bv;
                }
            }
        }
    }
    Ok(())
}

/// Packs rows `pc..pc+kc` (tap `(c, ky, kx)` = `c*9 + ky*3 + kx`) and columns
/// `jc..jc+w` (output pixel `oy*wo + ox`) of one image's im2col matrix.
fn pack_im2col(
    x: &[f32],
    s: &ConvShape,
    pc: usize,
    kc: usize,
    jc: usize,
    w: usize,
    bp: &mut [f32],
) {
    for (p, dst) in bp.chunks_exact_mut(NR).take(kc).enumerate() {
        let tap = pc + p;
        let (c, ky, kx) = (tap / 9, tap % 9 / 3, tap % 3);
        let plane = &x[c * s.h * s.w..(c + 1) * s.h * s.w];
        let (mut oy, mut ox) = (jc / s.wo, jc % s.wo);
        for d in dst.iter_mut().take(w) {
            let iy = oy * s.stride + ky;
            let ix = ox * s.stride + kx;
            *d = if iy < s.pad || ix < s.pad || iy - s.pad >= s.h || ix - s.pad >= s.w {
                0.0
            } else {
                plane[(iy - s.pad) * s.w + ix - s.pad]
            };
            ox += 1;
            if ox == s.wo {
                ox = 0;
                oy += 1;
            }
        }
        dst[w..].fill(0.0);
    }
}

/// The blocked product: `out[row][j] = sum_p A(row, p) * B(p, j)` for `rows x n`
/// outputs (row stride `n`), A's row `row` at `a_row(row) = (start, step)`, B packed by
/// `pack(pc, kc, jc, w, panel)`.
#[allow(clippy::too_many_arguments)]
fn gemm(
    kern: &impl MicroKernel,
    a: &[f32],
    rows: usize,
    a_row: impl Fn(usize) -> (usize, usize),
    k: usize,
    n: usize,
    pack: impl Fn(usize, usize, usize, usize, &mut [f32]),
    out: &mut [f32],
) -> Result<(), MathError> {
    if rows == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        out.fill(0.0);
        return Ok(());
    }
    let mut bp = [0.0f32; KC * NR];
    let mut edge = [0.0f32; MR * NR];
    for jc in (0..n).step_by(NR) {
        let w = NR.min(n - jc);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            pack(pc, kc, jc, w, &mut bp);
            let load_c = pc > 0;
            for ic in (0..rows).step_by(MR) {
                let h = MR.min(rows - ic);
                // Rows past the matrix repeat its last row: computed and discarded.
                let mut arow = [0usize; MR];
                let mut cs = 1;
                for (r, slot) in arow.iter_mut().enumerate() {
                    let (start, step) = a_row(ic + r.min(h - 1));
                    *slot = start + pc * step;
                    cs = step;
                }
                let ok = if h == MR && w == NR {
                    kern.tile(kc, a, &arow, cs, &bp, &mut out[ic * n + jc..], n, load_c)
                } else {
                    if load_c {
                        for r in 0..h {
                            let o = (ic + r) * n + jc;
                            edge[r * NR..r * NR + w].copy_from_slice(&out[o..o + w]);
                        }
                    }
                    let ok = kern.tile(kc, a, &arow, cs, &bp, &mut edge, NR, load_c);
                    for r in 0..h {
                        let o = (ic + r) * n + jc;
                        out[o..o + w].copy_from_slice(&edge[r * NR..r * NR + w]);
                    }
                    ok
                };
                if !ok {
                    // The shape was checked, so this is a bug in the blocking above;
                    // refuse rather than read out of bounds.
                    return Err(MathError::Shape);
                }
            }
        }
    }
    Ok(())
}
