//! Tensor metadata rules: what a `tensor_create` request must look like and how many
//! bytes and pages it needs. Plain arithmetic, host-tested; the kernel objects are in the
//! kernel's `ai` module.
//!
//! Every size is computed with checked arithmetic in `u64` and bounded by
//! `ai::MAX_DIM` and `ai::MAX_TENSOR_BYTES` before anything is allocated, so no shape a
//! program sends can overflow or ask for an absurd amount of memory.

use wayos_abi::ai::{
    dtype_size, TensorInfo, DTYPE_I8, MAX_DIM, MAX_RANK, MAX_TENSOR_BYTES, TIER_FAR, TIER_NEAR,
};
use wayos_abi::errno;

/// Bytes per page of tensor memory.
pub const PAGE_BYTES: u64 = 4096;

/// Why a [`TensorInfo`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapeError {
    /// Unknown dtype.
    Dtype,
    /// Rank outside `1..=MAX_RANK`.
    Rank,
    /// A used dimension is 0 or above `MAX_DIM`, or an unused one is not 0.
    Dim { index: usize },
    /// More than `MAX_TENSOR_BYTES` in all.
    TooLarge,
    /// Tier neither near nor far.
    Tier,
    /// `rights` set on create.
    Rights,
    /// i8 with a scale that is not a finite positive number, or a zero point outside the
    /// i8 range; or quantization fields set on a dtype that has none.
    Quant,
}

impl ShapeError {
    /// The errno (`wayos_abi::errno`) a syscall returns for this error: every one is a
    /// malformed request.
    pub const fn errno(self) -> isize {
        errno::EINVAL
    }
}

/// The tensor `info` describes, checked: its size in bytes (the product of the used
/// dimensions times the element size). `bytes` is ignored.
pub fn check_create(info: &TensorInfo) -> Result<u64, ShapeError> {
    let elem = dtype_size(info.dtype).ok_or(ShapeError::Dtype)? as u64;
    let rank = info.rank as usize;
    if !(1..=MAX_RANK).contains(&rank) {
        return Err(ShapeError::Rank);
    }
    let mut bytes = elem;
    for (i, &d) in info.dims.iter().enumerate() {
        if i < rank {
            if d == 0 || d > MAX_DIM {
                return Err(ShapeError::Dim { index: i });
            }
            bytes = bytes
                .checked_mul(u64::from(d))
                .filter(|&b| b <= MAX_TENSOR_BYTES)
                .ok_or(ShapeError::TooLarge)?;
        } else if d != 0 {
            return Err(ShapeError::Dim { index: i });
        }
    }
    if info.tier != TIER_NEAR && info.tier != TIER_FAR {
        return Err(ShapeError::Tier);
    }
    if info.rights != 0 {
        return Err(ShapeError::Rights);
    }
    if info.dtype == DTYPE_I8 {
        let scale = f32::from_bits(info.scale_bits);
        if !scale.is_finite() || scale <= 0.0 || !(-128..=127).contains(&info.zero_point) {
            return Err(ShapeError::Quant);
        }
    } else if info.scale_bits != 0 || info.zero_point != 0 {
        return Err(ShapeError::Quant);
    }
    Ok(bytes)
}

/// Pages holding `bytes` (at least one).
pub const fn pages_for(bytes: u64) -> u64 {
    let p = bytes.div_ceil(PAGE_BYTES);
    if p == 0 {
        1
    } else {
        p
    }
}

/// Whether `[offset, offset + len)` lies inside a tensor of `bytes` (no overflow for any
/// inputs).
pub fn range_ok(bytes: u64, offset: u64, len: u64) -> bool {
    offset.checked_add(len).is_some_and(|end| end <= bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wayos_abi::ai::{DTYPE_F32, DTYPE_I32};

    fn info(dtype: u32, dims: &[u32]) -> TensorInfo {
        let mut i = TensorInfo {
            dtype,
            rank: dims.len() as u32,
            ..Default::default()
        };
        i.dims[..dims.len()].copy_from_slice(dims);
        if dtype == DTYPE_I8 {
            i.scale_bits = 0.5f32.to_bits();
        }
        i
    }

    #[test]
    fn sizes_are_the_product_of_the_shape() {
        assert_eq!(check_create(&info(DTYPE_F32, &[3])), Ok(12));
        assert_eq!(check_create(&info(DTYPE_I32, &[2, 3, 4])), Ok(96));
        assert_eq!(check_create(&info(DTYPE_I8, &[5, 7])), Ok(35));
        assert_eq!(check_create(&info(DTYPE_F32, &[1, 1, 1, 1])), Ok(4));
        // Exactly the largest tensor.
        assert_eq!(
            check_create(&info(DTYPE_F32, &[4096, 4096])),
            Ok(MAX_TENSOR_BYTES)
        );
    }

    #[test]
    fn malformed_requests_are_refused() {
        assert_eq!(check_create(&info(9, &[3])), Err(ShapeError::Dtype));
        assert_eq!(check_create(&info(DTYPE_F32, &[])), Err(ShapeError::Rank));
        let mut five = info(DTYPE_F32, &[1, 1, 1, 1]);
        five.rank = 5;
        assert_eq!(check_create(&five), Err(ShapeError::Rank));
        assert_eq!(
            check_create(&info(DTYPE_F32, &[2, 0])),
            Err(ShapeError::Dim { index: 1 })
        );
        assert_eq!(
            check_create(&info(DTYPE_F32, &[MAX_DIM + 1])),
            Err(ShapeError::Dim { index: 0 })
        );
        let mut stray = info(DTYPE_F32, &[2]);
        stray.dims[3] = 1;
        assert_eq!(check_create(&stray), Err(ShapeError::Dim { index: 3 }));
        let mut tier = info(DTYPE_F32, &[2]);
        tier.tier = 2;
        assert_eq!(check_create(&tier), Err(ShapeError::Tier));
        let mut rights = info(DTYPE_F32, &[2]);
        rights.rights = 1;
        assert_eq!(check_create(&rights), Err(ShapeError::Rights));
        let mut q = info(DTYPE_F32, &[2]);
        q.zero_point = 1;
        assert_eq!(check_create(&q), Err(ShapeError::Quant));
        for bad in [0.0f32, -1.0, f32::NAN, f32::INFINITY] {
            let mut q = info(DTYPE_I8, &[2]);
            q.scale_bits = bad.to_bits();
            assert_eq!(check_create(&q), Err(ShapeError::Quant), "{bad}");
        }
        let mut zp = info(DTYPE_I8, &[2]);
        zp.zero_point = 128;
        assert_eq!(check_create(&zp), Err(ShapeError::Quant));
        zp.zero_point = -128;
        assert_eq!(check_create(&zp), Ok(2));
        assert_eq!(ShapeError::TooLarge.errno(), errno::EINVAL);
    }

    #[test]
    fn sizes_never_overflow() {
        // Each dimension at its maximum: 2^96 bytes in exact arithmetic.
        assert_eq!(
            check_create(&info(DTYPE_F32, &[MAX_DIM; 4])),
            Err(ShapeError::TooLarge)
        );
        // One byte past the largest tensor.
        assert_eq!(
            check_create(&info(DTYPE_I8, &[(MAX_TENSOR_BYTES / 2) as u32 + 1, 2])),
            Err(ShapeError::Dim { index: 0 })
        );
        assert_eq!(
            check_create(&info(DTYPE_I8, &[1 << 13, 1 << 13, 2])),
            Err(ShapeError::TooLarge)
        );
        // Agrees with a u128 reference on a sweep of shapes.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let rank = (x % 4 + 1) as usize;
            let dims: std::vec::Vec<u32> = (0..rank)
                .map(|i| ((x >> (8 * i + 4)) as u32 % (1 << ((x >> 60) as u32 % 24 + 1))) + 1)
                .collect();
            let exact: u128 = dims.iter().map(|&d| d as u128).product::<u128>() * 4;
            let got = check_create(&info(DTYPE_F32, &dims));
            if exact <= MAX_TENSOR_BYTES as u128 {
                assert_eq!(got, Ok(exact as u64));
            } else {
                assert_eq!(got, Err(ShapeError::TooLarge));
            }
        }
    }

    #[test]
    fn ranges_and_pages() {
        assert!(range_ok(100, 0, 100));
        assert!(range_ok(100, 100, 0));
        assert!(!range_ok(100, 1, 100));
        assert!(!range_ok(100, u64::MAX, 2));
        assert!(!range_ok(100, 2, u64::MAX));
        assert_eq!(pages_for(1), 1);
        assert_eq!(pages_for(4096), 1);
        assert_eq!(pages_for(4097), 2);
        assert_eq!(pages_for(MAX_TENSOR_BYTES), MAX_TENSOR_BYTES / 4096);
    }
}
