//! The reference-vector file of the `ainfer4` suite: a reader (`no_std`, no allocation)
//! for the cases `tools/aivectors` computes on the host with the f64 reference, and
//! [`compare`], the tolerance check the suite applies to what the kernel computed.
//!
//! # File format (all integers little-endian)
//!
//! ```text
//! header   magic "WAYAIVEC" (8 bytes), version u32 = 1, case count u32
//! case     size u32            bytes of the whole case, this field included
//!          op u32              wayos_abi::ai::op::*
//!          n_inputs u32        1..=MAX_NODE_INPUTS
//!          attrs [u32; 8]      the node's attributes (Node::attrs)
//!          tol_abs u32         f32 bits \ |got - want| <= tol_abs + tol_rel * |want|
//!          tol_rel u32         f32 bits / (both 0: exact, for i32 outputs)
//!          flags u32           bit 0: an exact tensor follows the output
//!          name_len u32, name  UTF-8, zero-padded to a multiple of 4
//!          n_inputs tensors, then the expected output tensor, then (flag 0) the
//!          exact tensor: the bits the host's bit-exact scalar kernels produced, which
//!          a graph in bit-exact mode must reproduce exactly on any ISA
//! tensor   info                wayos_abi::ai::TensorInfo, 48 bytes: dtype, rank,
//!                              dims[4], tier, rights, scale_bits, zero_point (i32),
//!                              bytes (u64) = the data length
//!          data                `bytes` bytes of elements (f32/i32 LE, i8), zero-padded
//!                              to a multiple of 4
//! ```
//!
//! A case's `size` must equal the bytes its fields take; each tensor's `bytes` must equal
//! its element count times its dtype size, with known dtype, rank <= 4, unused dims 0,
//! every dim and the total within `wayos_abi::ai` limits; the exact tensor has the
//! output's dtype and shape; unknown flag bits are refused.
//!
//! Must never: panic, loop without progress, or trust a length before checking it
//! against the bytes left. A malformed case ends the iteration with its error.

use wayos_abi::ai::{self, TensorInfo};

/// The file's first eight bytes.
pub const MAGIC: [u8; 8] = *b"WAYAIVEC";
/// The format version this reader understands.
pub const VERSION: u32 = 1;
/// Header bytes.
pub const HEADER_LEN: usize = 16;
/// Bytes of a [`TensorInfo`] in the file.
pub const INFO_LEN: usize = 48;
/// Most bytes of a case name.
pub const MAX_NAME: usize = 256;
/// Case flag: an exact (bit-exact mode) output follows the expected one.
pub const FLAG_EXACT: u32 = 1;

/// Why the file or a case was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorError {
    /// Not a vector file (magic), or a version this reader does not know.
    BadHeader,
    /// The bytes end inside a field (case index).
    Truncated { case: u32 },
    /// A field's value is impossible (case index and what).
    Invalid { case: u32, what: &'static str },
}

/// One tensor of a case: its metadata and its raw little-endian data.
#[derive(Clone, Copy, Debug)]
pub struct Tensor<'a> {
    pub info: TensorInfo,
    pub data: &'a [u8],
}

impl<'a> Tensor<'a> {
    /// Number of elements (`data.len() / dtype size`).
    pub fn elements(&self) -> usize {
        self.data.len() / ai::dtype_size(self.info.dtype).unwrap_or(1)
    }

    /// The dims in use (`dims[..rank]`).
    pub fn dims(&self) -> &[u32] {
        &self.info.dims[..self.info.rank as usize]
    }

    /// Element `i` as an f32 (f32 tensors), or `None` past the end or for another dtype.
    pub fn f32_at(&self, i: usize) -> Option<f32> {
        if self.info.dtype != ai::DTYPE_F32 {
            return None;
        }
        let b = self.data.get(i * 4..i * 4 + 4)?;
        Some(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Element `i` as an i32 (i32 tensors; i8 tensors widen), or `None`.
    pub fn i32_at(&self, i: usize) -> Option<i32> {
        match self.info.dtype {
            ai::DTYPE_I32 => {
                let b = self.data.get(i * 4..i * 4 + 4)?;
                Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            ai::DTYPE_I8 => self.data.get(i).map(|&b| b as i8 as i32),
            _ => None,
        }
    }
}

/// One reference case: the node to run and the output it must give.
#[derive(Clone, Copy, Debug)]
pub struct Case<'a> {
    pub name: &'a str,
    pub op: u32,
    pub attrs: [u32; ai::NODE_ATTRS],
    pub n_inputs: usize,
    pub inputs: [Option<Tensor<'a>>; ai::MAX_NODE_INPUTS],
    pub output: Tensor<'a>,
    /// What bit-exact mode must produce, bit for bit ([`compare_exact`]).
    pub exact: Option<Tensor<'a>>,
    pub tol_abs: f32,
    pub tol_rel: f32,
}

impl<'a> Case<'a> {
    /// Input `i`, if the case has it.
    pub fn input(&self, i: usize) -> Option<&Tensor<'a>> {
        self.inputs.get(i)?.as_ref()
    }
}

/// The first element outside the tolerance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mismatch {
    pub index: usize,
    /// The values as f64 (i32 outputs convert exactly).
    pub got: f64,
    pub want: f64,
}

/// Checks `got` (raw little-endian bytes of the output's dtype) against the case's
/// expected output: same length, and every element within `tol_abs + tol_rel * |want|`
/// (f32; a NaN or infinity never passes) or equal (i32). A length mismatch is reported
/// at index `usize::MAX`.
pub fn compare(case: &Case<'_>, got: &[u8]) -> Result<(), Mismatch> {
    let want = &case.output;
    if got.len() != want.data.len() {
        return Err(Mismatch {
            index: usize::MAX,
            got: got.len() as f64,
            want: want.data.len() as f64,
        });
    }
    let g = Tensor {
        info: want.info,
        data: got,
    };
    for i in 0..want.elements() {
        if want.info.dtype == ai::DTYPE_F32 {
            let (gv, wv) = (
                g.f32_at(i).unwrap_or(f32::NAN),
                want.f32_at(i).unwrap_or(0.0),
            );
            let diff = (gv as f64 - wv as f64).abs();
            let bound = case.tol_abs as f64 + case.tol_rel as f64 * (wv as f64).abs();
            // A NaN difference compares as nothing and fails.
            if diff.partial_cmp(&bound).is_none_or(|o| o.is_gt()) || !gv.is_finite() {
                return Err(Mismatch {
                    index: i,
                    got: gv as f64,
                    want: wv as f64,
                });
            }
        } else {
            let (gv, wv) = (g.i32_at(i), want.i32_at(i));
            if gv != wv {
                return Err(Mismatch {
                    index: i,
                    got: gv.unwrap_or(0) as f64,
                    want: wv.unwrap_or(0) as f64,
                });
            }
        }
    }
    Ok(())
}

/// Checks `got` against the case's exact tensor byte for byte (`Ok` when the case has
/// none). The mismatch reports the first differing element's values as f64 (f32 or
/// i32 by dtype).
pub fn compare_exact(case: &Case<'_>, got: &[u8]) -> Result<(), Mismatch> {
    let Some(want) = case.exact else {
        return Ok(());
    };
    if got.len() != want.data.len() {
        return Err(Mismatch {
            index: usize::MAX,
            got: got.len() as f64,
            want: want.data.len() as f64,
        });
    }
    let g = Tensor {
        info: want.info,
        data: got,
    };
    for i in 0..want.elements() {
        let size = ai::dtype_size(want.info.dtype).unwrap_or(1);
        if got[i * size..(i + 1) * size] != want.data[i * size..(i + 1) * size] {
            let val = |t: &Tensor<'_>| {
                t.f32_at(i)
                    .map(|v| v as f64)
                    .or(t.i32_at(i).map(|v| v as f64))
                    .unwrap_or(f64::NAN)
            };
            return Err(Mismatch {
                index: i,
                got: val(&g),
                want: val(&want),
            });
        }
    }
    Ok(())
}

/// A bounds-checked little-endian reader over one case.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    case: u32,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], VectorError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(VectorError::Truncated { case: self.case })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, VectorError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, VectorError> {
        let lo = self.u32()? as u64;
        let hi = self.u32()? as u64;
        Ok(lo | hi << 32)
    }

    fn invalid(&self, what: &'static str) -> VectorError {
        VectorError::Invalid {
            case: self.case,
            what,
        }
    }

    /// `len` bytes plus the padding to a multiple of 4 (which must be zero).
    fn padded(&mut self, len: usize) -> Result<&'a [u8], VectorError> {
        let data = self.take(len)?;
        let pad = (4 - len % 4) % 4;
        if self.take(pad)?.iter().any(|&b| b != 0) {
            return Err(self.invalid("nonzero padding"));
        }
        Ok(data)
    }

    fn tensor(&mut self) -> Result<Tensor<'a>, VectorError> {
        let mut info = TensorInfo {
            dtype: self.u32()?,
            rank: self.u32()?,
            ..TensorInfo::default()
        };
        for d in info.dims.iter_mut() {
            *d = self.u32()?;
        }
        info.tier = self.u32()?;
        info.rights = self.u32()?;
        info.scale_bits = self.u32()?;
        info.zero_point = self.u32()? as i32;
        info.bytes = self.u64()?;
        let size = ai::dtype_size(info.dtype).ok_or(self.invalid("unknown dtype"))?;
        let rank = info.rank as usize;
        if rank > ai::MAX_RANK {
            return Err(self.invalid("rank above 4"));
        }
        if info.dims[rank..].iter().any(|&d| d != 0) {
            return Err(self.invalid("dims past the rank"));
        }
        let mut elems: u64 = 1;
        for &d in &info.dims[..rank] {
            if d > ai::MAX_DIM {
                return Err(self.invalid("dimension too large"));
            }
            elems = elems
                .checked_mul(d as u64)
                .ok_or(self.invalid("size overflows"))?;
        }
        let bytes = elems
            .checked_mul(size as u64)
            .filter(|&b| b <= ai::MAX_TENSOR_BYTES)
            .ok_or(self.invalid("tensor too large"))?;
        if bytes != info.bytes {
            return Err(self.invalid("byte count disagrees with the shape"));
        }
        let data = self.padded(bytes as usize)?;
        Ok(Tensor { info, data })
    }

    fn case(&mut self) -> Result<Case<'a>, VectorError> {
        let op = self.u32()?;
        if op == 0 || op >= ai::op::COUNT {
            return Err(self.invalid("unknown op"));
        }
        let n_inputs = self.u32()? as usize;
        if n_inputs == 0 || n_inputs > ai::MAX_NODE_INPUTS {
            return Err(self.invalid("input count"));
        }
        let mut attrs = [0u32; ai::NODE_ATTRS];
        for a in attrs.iter_mut() {
            *a = self.u32()?;
        }
        let tol_abs = f32::from_bits(self.u32()?);
        let tol_rel = f32::from_bits(self.u32()?);
        if !(tol_abs >= 0.0 && tol_rel >= 0.0 && tol_abs.is_finite() && tol_rel.is_finite()) {
            return Err(self.invalid("tolerance"));
        }
        let flags = self.u32()?;
        if flags & !FLAG_EXACT != 0 {
            return Err(self.invalid("unknown flags"));
        }
        let name_len = self.u32()? as usize;
        if name_len > MAX_NAME {
            return Err(self.invalid("name too long"));
        }
        let name = core::str::from_utf8(self.padded(name_len)?)
            .map_err(|_| self.invalid("name is not UTF-8"))?;
        let mut inputs = [None; ai::MAX_NODE_INPUTS];
        for slot in inputs.iter_mut().take(n_inputs) {
            *slot = Some(self.tensor()?);
        }
        let output = self.tensor()?;
        let exact = if flags & FLAG_EXACT != 0 {
            let t = self.tensor()?;
            if t.info.dtype != output.info.dtype
                || t.info.dims != output.info.dims
                || t.info.rank != output.info.rank
            {
                return Err(self.invalid("exact tensor differs in shape from the output"));
            }
            Some(t)
        } else {
            None
        };
        Ok(Case {
            name,
            op,
            attrs,
            n_inputs,
            inputs,
            output,
            exact,
            tol_abs,
            tol_rel,
        })
    }
}

/// The cases of a vector file, in order. After the first error it yields nothing more.
#[derive(Clone, Debug)]
pub struct Cases<'a> {
    rest: &'a [u8],
    next: u32,
    count: u32,
    failed: bool,
}

impl<'a> Cases<'a> {
    /// How many cases the header announces.
    pub fn announced(&self) -> u32 {
        self.count
    }
}

impl<'a> Iterator for Cases<'a> {
    type Item = Result<Case<'a>, VectorError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.next >= self.count {
            return None;
        }
        let case = self.next;
        self.next += 1;
        let result = (|| {
            let mut head = Reader {
                bytes: self.rest,
                pos: 0,
                case,
            };
            let size = head.u32()? as usize;
            if size < 4 || size > self.rest.len() {
                return Err(VectorError::Truncated { case });
            }
            let mut r = Reader {
                bytes: &self.rest[..size],
                pos: 4,
                case,
            };
            let c = r.case()?;
            if r.pos != size {
                return Err(r.invalid("case size disagrees with its fields"));
            }
            self.rest = &self.rest[size..];
            Ok(c)
        })();
        if result.is_err() {
            self.failed = true;
        }
        Some(result)
    }
}

/// Reads a vector file's header; the cases come from the iterator.
pub fn parse(bytes: &[u8]) -> Result<Cases<'_>, VectorError> {
    if bytes.len() < HEADER_LEN || bytes[..8] != MAGIC {
        return Err(VectorError::BadHeader);
    }
    let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    if word(8) != VERSION {
        return Err(VectorError::BadHeader);
    }
    Ok(Cases {
        rest: &bytes[HEADER_LEN..],
        next: 0,
        count: word(12),
        failed: false,
    })
}

/// The writer `tools/aivectors` and the tests use (host only).
#[cfg(any(test, feature = "std"))]
pub mod write {
    use super::{HEADER_LEN, MAGIC, VERSION};
    use std::vec::Vec;
    use wayos_abi::ai::{self, TensorInfo};

    /// A tensor to write: dtype, dims, quantization and little-endian data.
    #[derive(Clone, Debug)]
    pub struct OwnedTensor {
        pub info: TensorInfo,
        pub data: Vec<u8>,
    }

    impl OwnedTensor {
        fn with(dtype: u32, dims: &[usize], data: Vec<u8>) -> OwnedTensor {
            let mut info = TensorInfo {
                dtype,
                rank: dims.len() as u32,
                bytes: data.len() as u64,
                ..TensorInfo::default()
            };
            for (d, &v) in info.dims.iter_mut().zip(dims) {
                *d = v as u32;
            }
            OwnedTensor { info, data }
        }

        pub fn f32(dims: &[usize], v: &[f32]) -> OwnedTensor {
            Self::with(
                ai::DTYPE_F32,
                dims,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        }

        pub fn i32(dims: &[usize], v: &[i32]) -> OwnedTensor {
            Self::with(
                ai::DTYPE_I32,
                dims,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        }

        /// An i8 tensor with its quantization (`real = scale * (q - zero_point)`).
        pub fn i8(dims: &[usize], v: &[i8], scale: f32, zero_point: i32) -> OwnedTensor {
            let mut t = Self::with(ai::DTYPE_I8, dims, v.iter().map(|&x| x as u8).collect());
            t.info.scale_bits = scale.to_bits();
            t.info.zero_point = zero_point;
            t
        }
    }

    /// One case to write.
    #[derive(Clone, Debug)]
    pub struct OwnedCase {
        pub name: std::string::String,
        pub op: u32,
        pub attrs: [u32; ai::NODE_ATTRS],
        pub inputs: Vec<OwnedTensor>,
        pub output: OwnedTensor,
        /// The bit-exact output, if the case has one.
        pub exact: Option<OwnedTensor>,
        pub tol_abs: f32,
        pub tol_rel: f32,
    }

    fn padded(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(bytes);
        out.resize(out.len() + (4 - bytes.len() % 4) % 4, 0);
    }

    fn tensor(out: &mut Vec<u8>, t: &OwnedTensor) {
        let i = &t.info;
        for w in [i.dtype, i.rank].into_iter().chain(i.dims).chain([
            i.tier,
            i.rights,
            i.scale_bits,
            i.zero_point as u32,
        ]) {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&i.bytes.to_le_bytes());
        padded(out, &t.data);
    }

    /// The file holding `cases`, in the format of the module docs.
    pub fn file(cases: &[OwnedCase]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(cases.len() as u32).to_le_bytes());
        for c in cases {
            let mut body = Vec::new();
            for w in [c.op, c.inputs.len() as u32]
                .into_iter()
                .chain(c.attrs)
                .chain([
                    c.tol_abs.to_bits(),
                    c.tol_rel.to_bits(),
                    if c.exact.is_some() {
                        super::FLAG_EXACT
                    } else {
                        0
                    },
                    c.name.len() as u32,
                ])
            {
                body.extend_from_slice(&w.to_le_bytes());
            }
            padded(&mut body, c.name.as_bytes());
            for t in &c.inputs {
                tensor(&mut body, t);
            }
            tensor(&mut body, &c.output);
            if let Some(e) = &c.exact {
                tensor(&mut body, e);
            }
            out.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes());
            out.extend_from_slice(&body);
        }
        out
    }
}
