//! `.waymodel` files: the parser the kernel's `model_load` runs on a file a user hands it,
//! and the writer `mkmodel` and the tests use (format: `wayos_abi::waymodel`,
//! `docs/waymodel.md`).
//!
//! [`parse`] checks the whole file before anyone creates a tensor from it: magic, version,
//! header size and total length, every count against the ABI limits, every section at its
//! one canonical place (in order, aligned, inside the file, table sections exactly `count *
//! entry size`, padding zero), every string inside the strings section, UTF-8, non-empty
//! where a name is required and at most `MAX_NAME_BYTES`, tensor names and output names
//! unique, every tensor's metadata (dtype, rank, dims, size, tier, quantization), its data
//! inside the weights section, aligned, in table order and exactly `elements * dtype size`
//! bytes, inputs naming distinct data-less tensors, node input references naming a tensor
//! or an earlier node, outputs naming a node, and finally both SHA-256 sums. All offset
//! arithmetic is checked. It never panics, never allocates, and borrows the weights from
//! the input. [`Model::graph`] then runs the graph validator (`aigraph`) over the nodes,
//! with the tensor table and one tensor per output bound, allocating only fallibly and only
//! after the counts were checked.
//!
//! The writer ([`write`]) lays a [`Spec`] out canonically, hashes it and parses the result
//! back, so it can only produce files the parser accepts; [`rehash`] lets tests and the
//! corpus make files whose hashes are right but whose contents are not, to reach the checks
//! behind the hashes.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::mem::size_of;

use sha2::{Digest, Sha256};
use wayos_abi::ai::{self, Node, Output, TensorInfo, REF_NODE};
use wayos_abi::waymodel::{
    Header, OutputEntry, Section, StrSpan, TensorEntry, MAGIC, MAX_FILE_BYTES, MAX_IO, MAX_LABELS,
    MAX_NAME_BYTES, MAX_TENSORS, META_SHA_OFFSET, SECTION_ALIGN, VERSION, WEIGHT_ALIGN,
};
use wayos_abi::zerocopy::{FromBytes, IntoBytes};

use crate::aigraph::{self, GraphError, Plan};

const HEADER_BYTES: usize = size_of::<Header>();

/// Which part of the file an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    File,
    Header,
    /// A section, by name (`tensors`, `nodes`, `inputs`, `outputs`, `labels`, `strings`,
    /// `weights`).
    Section(&'static str),
    ModelName,
    Tensor(usize),
    Node(usize),
    /// Entry `n` of the inputs section.
    Input(usize),
    Output(usize),
    Label(usize),
    Graph,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::File => f.write_str("file"),
            Place::Header => f.write_str("header"),
            Place::Section(s) => write!(f, "{s} section"),
            Place::ModelName => f.write_str("model name"),
            Place::Tensor(i) => write!(f, "tensor {i}"),
            Place::Node(i) => write!(f, "node {i}"),
            Place::Input(i) => write!(f, "input {i}"),
            Place::Output(i) => write!(f, "output {i}"),
            Place::Label(i) => write!(f, "label {i}"),
            Place::Graph => f.write_str("graph"),
        }
    }
}

/// What is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelErrorKind {
    /// The file is shorter than the header.
    TooShort {
        len: usize,
    },
    /// The file is larger than `MAX_FILE_BYTES`.
    TooLarge {
        len: usize,
    },
    BadMagic,
    BadVersion {
        version: u32,
    },
    /// A count above its limit.
    Count {
        n: u32,
        max: u32,
    },
    /// A field holds `value`, which is wrong for the reason given.
    Value {
        why: &'static str,
        value: u64,
    },
    /// Something else wrong, said in words.
    Invalid(&'static str),
    /// A SHA-256 does not match (which one).
    Hash(&'static str),
    /// The graph validator refused the graph.
    Graph(GraphError),
    /// Memory ran out (only [`Model::graph`] allocates).
    NoMemory,
}

/// Why a file is not an acceptable `.waymodel`, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelError {
    pub place: Place,
    pub kind: ModelErrorKind,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ModelErrorKind::*;
        if !matches!(self.kind, Graph(_)) {
            write!(f, "{}: ", self.place)?;
        }
        match self.kind {
            TooShort { len } => write!(
                f,
                "{len} bytes, shorter than the {HEADER_BYTES}-byte header"
            ),
            TooLarge { len } => write!(f, "{len} bytes, more than {MAX_FILE_BYTES}"),
            BadMagic => f.write_str("not a .waymodel file (bad magic)"),
            BadVersion { version } => {
                write!(f, "version {version}, only version {VERSION} is known")
            }
            Count { n, max } => write!(f, "count {n} is above the limit {max}"),
            Value { why, value } => write!(f, "{why} ({value})"),
            Invalid(why) => f.write_str(why),
            Hash(which) => write!(f, "{which} SHA-256 does not match"),
            Graph(e) => write!(f, "graph: {e}"),
            NoMemory => f.write_str("out of memory"),
        }
    }
}

fn err(place: Place, kind: ModelErrorKind) -> ModelError {
    ModelError { place, kind }
}

fn invalid(place: Place, why: &'static str) -> ModelError {
    err(place, ModelErrorKind::Invalid(why))
}

fn value(place: Place, why: &'static str, v: impl Into<u64>) -> ModelError {
    err(
        place,
        ModelErrorKind::Value {
            why,
            value: v.into(),
        },
    )
}

/// One tensor of a parsed model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tensor<'a> {
    pub name: &'a str,
    /// dtype, rank, dims, tier, scale and zero point as the file gives them; `bytes` is
    /// the tensor's size; `rights` 0.
    pub info: TensorInfo,
    /// A model input: no data, the caller fills it at run time.
    pub is_input: bool,
    /// The weights (empty for an input), borrowed from the file.
    pub data: &'a [u8],
}

/// One output of a parsed model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelOutput<'a> {
    pub name: &'a str,
    pub node: usize,
    /// The dtype and shape the file declares (equal to the node's, once
    /// [`Model::graph`] has validated it).
    pub info: TensorInfo,
}

/// A model whose every byte has been checked; accessors read its tables.
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    bytes: &'a [u8],
    header: Header,
}

/// The graph of a model, ready for the kernel's graph builder: `bound` is the tensor table
/// (in order) followed by one tensor per output, `outputs[k]` sends output `k`'s node into
/// bound tensor `n_tensors + k`, and `plan` is the validator's plan.
#[derive(Clone, Debug)]
pub struct ModelGraph {
    pub bound: Vec<TensorInfo>,
    pub nodes: Vec<Node>,
    pub outputs: Vec<Output>,
    pub plan: Plan,
}

fn entry<T: FromBytes>(bytes: &[u8], sec: &Section, i: usize) -> Option<T> {
    let start = usize::try_from(sec.offset)
        .ok()?
        .checked_add(i.checked_mul(size_of::<T>())?)?;
    let end = start.checked_add(size_of::<T>())?;
    T::read_from_bytes(bytes.get(start..end)?).ok()
}

fn info_of(e: &TensorEntry) -> TensorInfo {
    TensorInfo {
        dtype: e.dtype,
        rank: e.rank,
        dims: e.dims,
        tier: e.tier,
        rights: 0,
        scale_bits: e.scale_bits,
        zero_point: e.zero_point,
        bytes: 0,
    }
}

fn output_info(e: &OutputEntry) -> TensorInfo {
    TensorInfo {
        dtype: e.dtype,
        rank: e.rank,
        dims: e.dims,
        ..TensorInfo::default()
    }
}

/// The string `span` points at, checked.
fn string<'a>(
    bytes: &'a [u8],
    strings: &Section,
    span: &StrSpan,
    place: Place,
    required: bool,
) -> Result<&'a str, ModelError> {
    if span.len > MAX_NAME_BYTES {
        return Err(value(place, "name longer than the limit", span.len));
    }
    if required && span.len == 0 {
        return Err(invalid(place, "empty name"));
    }
    let end = u64::from(span.offset) + u64::from(span.len);
    if end > strings.len {
        return Err(invalid(place, "name outside the strings section"));
    }
    // strings lies inside the file (checked first), so these fit.
    let start = (strings.offset + u64::from(span.offset)) as usize;
    let raw = bytes
        .get(start..start + span.len as usize)
        .ok_or(invalid(place, "name outside the file"))?;
    core::str::from_utf8(raw).map_err(|_| invalid(place, "name is not UTF-8"))
}

/// Hashes of a file: (weights section, everything before it with the meta field zeroed).
/// The sections must lie in the file.
fn hashes(bytes: &[u8], weights: &Section) -> ([u8; 32], [u8; 32]) {
    let (w0, w1) = (
        weights.offset as usize,
        (weights.offset + weights.len) as usize,
    );
    let weights_sha: [u8; 32] = Sha256::digest(&bytes[w0..w1]).into();
    let mut meta = Sha256::new();
    meta.update(&bytes[..META_SHA_OFFSET]);
    meta.update([0u8; 32]);
    meta.update(&bytes[META_SHA_OFFSET + 32..w0]);
    (weights_sha, meta.finalize().into())
}

/// Checks `bytes` as a `.waymodel` file (everything the module docs list).
pub fn parse(bytes: &[u8]) -> Result<Model<'_>, ModelError> {
    use ModelErrorKind::*;
    let h = Place::Header;
    if bytes.len() < HEADER_BYTES {
        return Err(err(Place::File, TooShort { len: bytes.len() }));
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(err(Place::File, TooLarge { len: bytes.len() }));
    }
    let header = Header::read_from_bytes(&bytes[..HEADER_BYTES])
        .map_err(|_| err(Place::File, TooShort { len: bytes.len() }))?;
    if header.magic != MAGIC {
        return Err(err(h, BadMagic));
    }
    if header.version != VERSION {
        return Err(err(
            h,
            BadVersion {
                version: header.version,
            },
        ));
    }
    if header.header_bytes as usize != HEADER_BYTES {
        return Err(value(h, "header size is not 232", header.header_bytes));
    }
    if header.total_bytes != bytes.len() as u64 {
        return Err(value(
            h,
            "total length differs from the file's",
            header.total_bytes,
        ));
    }
    let counts = [
        (header.n_tensors, MAX_TENSORS),
        (header.n_nodes, ai::MAX_NODES as u32),
        (header.n_inputs, MAX_IO),
        (header.n_outputs, MAX_IO),
        (header.n_labels, MAX_LABELS),
    ];
    for (n, max) in counts {
        if n > max {
            return Err(err(h, Count { n, max }));
        }
    }
    if header.n_inputs > header.n_tensors {
        return Err(invalid(h, "more inputs than tensors"));
    }
    if header.mode != ai::MODE_FAST && header.mode != ai::MODE_BITEXACT {
        return Err(value(h, "unknown mode", header.mode));
    }

    // Sections: each at the first multiple of its alignment after the previous one, with
    // zero padding between, table sections exactly count * entry size, weights last.
    let tables: [(&'static str, &Section, Option<u64>, u64); 7] = [
        (
            "tensors",
            &header.tensors,
            Some(u64::from(header.n_tensors) * size_of::<TensorEntry>() as u64),
            SECTION_ALIGN,
        ),
        (
            "nodes",
            &header.nodes,
            Some(u64::from(header.n_nodes) * size_of::<Node>() as u64),
            SECTION_ALIGN,
        ),
        (
            "inputs",
            &header.inputs,
            Some(u64::from(header.n_inputs) * 4),
            SECTION_ALIGN,
        ),
        (
            "outputs",
            &header.outputs,
            Some(u64::from(header.n_outputs) * size_of::<OutputEntry>() as u64),
            SECTION_ALIGN,
        ),
        (
            "labels",
            &header.labels,
            Some(u64::from(header.n_labels) * size_of::<StrSpan>() as u64),
            SECTION_ALIGN,
        ),
        ("strings", &header.strings, None, SECTION_ALIGN),
        ("weights", &header.weights, None, WEIGHT_ALIGN),
    ];
    let mut end = HEADER_BYTES as u64;
    for (name, sec, want_len, align) in tables {
        let place = Place::Section(name);
        let expected = end.div_ceil(align) * align;
        if sec.offset != expected {
            return Err(value(
                place,
                "section not where the previous one ends (aligned)",
                sec.offset,
            ));
        }
        if let Some(want) = want_len {
            if sec.len != want {
                return Err(value(
                    place,
                    "length is not count times entry size",
                    sec.len,
                ));
            }
        }
        let sec_end = sec
            .offset
            .checked_add(sec.len)
            .filter(|&e| e <= header.total_bytes)
            .ok_or(value(
                place,
                "section runs past the end of the file",
                sec.len,
            ))?;
        if bytes[end as usize..sec.offset as usize]
            .iter()
            .any(|&b| b != 0)
        {
            return Err(invalid(place, "padding before the section is not zero"));
        }
        end = sec_end;
    }
    if end != header.total_bytes {
        return Err(invalid(
            Place::Section("weights"),
            "the file goes on after the weights",
        ));
    }

    let model = Model { bytes, header };
    string(
        bytes,
        &header.strings,
        &header.name,
        Place::ModelName,
        false,
    )?;

    // Inputs: distinct tensor indices.
    for i in 0..header.n_inputs as usize {
        let t = model.input_index(i);
        if t >= header.n_tensors as usize {
            return Err(value(Place::Input(i), "no such tensor", t as u64));
        }
        if (0..i).any(|j| model.input_index(j) == t) {
            return Err(value(Place::Input(i), "tensor listed twice", t as u64));
        }
    }

    // Tensors.
    let mut data_end = 0u64;
    for i in 0..header.n_tensors as usize {
        let place = Place::Tensor(i);
        let e: TensorEntry =
            entry(bytes, &header.tensors, i).ok_or(invalid(place, "unreadable"))?;
        let name = string(bytes, &header.strings, &e.name, place, true)?;
        if (0..i).any(|j| model.tensor_name(j) == Some(name)) {
            return Err(invalid(place, "name used by an earlier tensor"));
        }
        let size = aigraph::check_info(&info_of(&e)).map_err(|why| invalid(place, why))?;
        if e.tier != ai::TIER_NEAR && e.tier != ai::TIER_FAR {
            return Err(value(place, "unknown tier", e.tier));
        }
        if e._pad != 0 {
            return Err(value(place, "reserved word is not 0", e._pad));
        }
        if e.dtype == ai::DTYPE_I8 {
            let scale = f32::from_bits(e.scale_bits);
            if !(scale.is_finite() && scale > 0.0) {
                return Err(value(
                    place,
                    "i8 scale is not a positive finite f32",
                    e.scale_bits,
                ));
            }
        } else if e.scale_bits != 0 || e.zero_point != 0 {
            return Err(invalid(
                place,
                "scale or zero point set on a tensor that is not i8",
            ));
        }
        let is_input = (0..header.n_inputs as usize).any(|j| model.input_index(j) == i);
        if is_input {
            if e.data_offset != 0 || e.data_len != 0 {
                return Err(invalid(place, "an input has data"));
            }
            continue;
        }
        if e.data_len != size {
            return Err(value(
                place,
                "data length is not elements times dtype size",
                e.data_len,
            ));
        }
        if !e.data_offset.is_multiple_of(WEIGHT_ALIGN) {
            return Err(value(place, "data not 64-byte aligned", e.data_offset));
        }
        if e.data_offset < data_end {
            return Err(value(
                place,
                "data overlaps an earlier tensor's",
                e.data_offset,
            ));
        }
        data_end = e
            .data_offset
            .checked_add(e.data_len)
            .filter(|&x| x <= header.weights.len)
            .ok_or(value(
                place,
                "data runs past the weights section",
                e.data_offset,
            ))?;
    }

    // Nodes: references in range and backwards only; the full check is Model::graph.
    for i in 0..header.n_nodes as usize {
        let place = Place::Node(i);
        let n: Node = entry(bytes, &header.nodes, i).ok_or(invalid(place, "unreadable"))?;
        if n.n_inputs as usize > ai::MAX_NODE_INPUTS {
            return Err(value(place, "more inputs than a node has", n.n_inputs));
        }
        for &r in &n.inputs[..n.n_inputs as usize] {
            if r & REF_NODE != 0 {
                if (r & !REF_NODE) as usize >= i {
                    return Err(value(
                        place,
                        "input names this or a later node",
                        r & !REF_NODE,
                    ));
                }
            } else if r >= header.n_tensors {
                return Err(value(place, "input names no tensor", r));
            }
        }
    }

    // Outputs.
    for i in 0..header.n_outputs as usize {
        let place = Place::Output(i);
        let o: OutputEntry =
            entry(bytes, &header.outputs, i).ok_or(invalid(place, "unreadable"))?;
        let name = string(bytes, &header.strings, &o.name, place, true)?;
        if (0..i).any(|j| model.output(j).map(|p| p.name) == Some(name)) {
            return Err(invalid(place, "name used by an earlier output"));
        }
        if o.node >= header.n_nodes {
            return Err(value(place, "no such node", o.node));
        }
        if o._pad != 0 {
            return Err(value(place, "reserved word is not 0", o._pad));
        }
        aigraph::check_info(&output_info(&o)).map_err(|why| invalid(place, why))?;
    }

    for i in 0..header.n_labels as usize {
        let span: StrSpan =
            entry(bytes, &header.labels, i).ok_or(invalid(Place::Label(i), "unreadable"))?;
        string(bytes, &header.strings, &span, Place::Label(i), true)?;
    }

    let (weights_sha, meta_sha) = hashes(bytes, &header.weights);
    if weights_sha != header.weights_sha256 {
        return Err(err(Place::Section("weights"), Hash("weights")));
    }
    if meta_sha != header.meta_sha256 {
        return Err(err(h, Hash("metadata")));
    }
    Ok(model)
}

impl<'a> Model<'a> {
    /// The header as the file gives it.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
    pub fn name(&self) -> &'a str {
        self.str(&self.header.name)
    }
    /// `ai::MODE_FAST` or `ai::MODE_BITEXACT`.
    pub fn mode(&self) -> u32 {
        self.header.mode
    }
    pub fn n_tensors(&self) -> usize {
        self.header.n_tensors as usize
    }
    pub fn n_nodes(&self) -> usize {
        self.header.n_nodes as usize
    }
    pub fn n_inputs(&self) -> usize {
        self.header.n_inputs as usize
    }
    pub fn n_outputs(&self) -> usize {
        self.header.n_outputs as usize
    }
    pub fn n_labels(&self) -> usize {
        self.header.n_labels as usize
    }
    pub fn weights_sha256(&self) -> [u8; 32] {
        self.header.weights_sha256
    }

    // A string the parser checked; "" if `span` is not one (it always is, but nothing
    // here may panic).
    fn str(&self, span: &StrSpan) -> &'a str {
        string(self.bytes, &self.header.strings, span, Place::File, false).unwrap_or("")
    }

    fn input_index(&self, i: usize) -> usize {
        entry::<u32>(self.bytes, &self.header.inputs, i).map_or(usize::MAX, |t| t as usize)
    }

    fn tensor_name(&self, i: usize) -> Option<&'a str> {
        let e: TensorEntry = entry(self.bytes, &self.header.tensors, i)?;
        Some(self.str(&e.name))
    }

    /// Tensor-table index of model input `i` (`i < n_inputs()`).
    pub fn input(&self, i: usize) -> Option<usize> {
        (i < self.n_inputs()).then(|| self.input_index(i))
    }

    /// Tensor `i` of the tensor table.
    pub fn tensor(&self, i: usize) -> Option<Tensor<'a>> {
        if i >= self.n_tensors() {
            return None;
        }
        let e: TensorEntry = entry(self.bytes, &self.header.tensors, i)?;
        let mut info = info_of(&e);
        info.bytes = aigraph::check_info(&info).ok()?;
        let is_input = (0..self.n_inputs()).any(|j| self.input_index(j) == i);
        let data = if is_input {
            &[][..]
        } else {
            let start = self.header.weights.offset.checked_add(e.data_offset)? as usize;
            self.bytes
                .get(start..start.checked_add(e.data_len as usize)?)?
        };
        Some(Tensor {
            name: self.str(&e.name),
            info,
            is_input,
            data,
        })
    }

    /// Where tensor `i`'s data lies in the weights section: `(offset, length)` as the
    /// tensor table gives them (0, 0 for an input). With [`Model::weights_sha256`] and
    /// the tensors' metadata this identifies a weight's bytes (the kernel's registry
    /// shares weights on it).
    pub fn weight_span(&self, i: usize) -> Option<(u64, u64)> {
        if i >= self.n_tensors() {
            return None;
        }
        let e: TensorEntry = entry(self.bytes, &self.header.tensors, i)?;
        Some((e.data_offset, e.data_len))
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> Option<Node> {
        (i < self.n_nodes())
            .then(|| entry(self.bytes, &self.header.nodes, i))
            .flatten()
    }

    /// Output `i`.
    pub fn output(&self, i: usize) -> Option<ModelOutput<'a>> {
        if i >= self.n_outputs() {
            return None;
        }
        let o: OutputEntry = entry(self.bytes, &self.header.outputs, i)?;
        let mut info = output_info(&o);
        info.bytes = aigraph::check_info(&info).unwrap_or(0);
        Some(ModelOutput {
            name: self.str(&o.name),
            node: o.node as usize,
            info,
        })
    }

    /// Class label `i`.
    pub fn label(&self, i: usize) -> Option<&'a str> {
        if i >= self.n_labels() {
            return None;
        }
        let span: StrSpan = entry(self.bytes, &self.header.labels, i)?;
        Some(self.str(&span))
    }

    /// The tensor-table index of the tensor called `name`.
    pub fn tensor_by_name(&self, name: &str) -> Option<usize> {
        (0..self.n_tensors()).find(|&i| self.tensor_name(i) == Some(name))
    }

    /// Validates the graph (`aigraph::validate`) with the tensor table and one tensor per
    /// output bound, and returns what the kernel builds the graph from.
    pub fn graph(&self) -> Result<ModelGraph, ModelError> {
        let no_mem = || err(Place::Graph, ModelErrorKind::NoMemory);
        let (nt, nn, no) = (self.n_tensors(), self.n_nodes(), self.n_outputs());
        let mut bound = Vec::new();
        bound.try_reserve_exact(nt + no).map_err(|_| no_mem())?;
        let mut nodes = Vec::new();
        nodes.try_reserve_exact(nn).map_err(|_| no_mem())?;
        let mut outputs = Vec::new();
        outputs.try_reserve_exact(no).map_err(|_| no_mem())?;
        let unreadable = |p| invalid(p, "unreadable");
        for i in 0..nt {
            bound.push(self.tensor(i).ok_or(unreadable(Place::Tensor(i)))?.info);
        }
        for i in 0..nn {
            nodes.push(self.node(i).ok_or(unreadable(Place::Node(i)))?);
        }
        for k in 0..no {
            let o = self.output(k).ok_or(unreadable(Place::Output(k)))?;
            bound.push(o.info);
            outputs.push(Output {
                node: o.node as u32,
                tensor: (nt + k) as u32,
            });
        }
        let plan = aigraph::validate(&bound, &nodes, &outputs)
            .map_err(|e| err(Place::Graph, ModelErrorKind::Graph(e)))?;
        Ok(ModelGraph {
            bound,
            nodes,
            outputs,
            plan,
        })
    }
}

/// One tensor to write: `data` `None` makes it a model input.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    /// dtype, rank, dims, tier, scale_bits, zero_point (the rest is ignored).
    pub info: TensorInfo,
    pub data: Option<Vec<u8>>,
}

/// One output to write.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutputSpec {
    pub name: String,
    pub node: u32,
    /// dtype, rank and dims of the node's result.
    pub info: TensorInfo,
}

/// A model to write. Inputs are the tensors without data, in table order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    pub name: String,
    pub mode: u32,
    pub tensors: Vec<TensorSpec>,
    pub nodes: Vec<Node>,
    pub outputs: Vec<OutputSpec>,
    pub labels: Vec<String>,
}

fn align(x: usize, a: u64) -> usize {
    x.div_ceil(a as usize) * a as usize
}

/// Recomputes both hashes of a file in place (for tests and the corpus: a mutant with
/// correct hashes reaches the checks behind them). Does nothing if the header or the
/// weights section does not lie in `bytes`.
pub fn rehash(bytes: &mut [u8]) {
    let Some(head) = bytes.get(..HEADER_BYTES) else {
        return;
    };
    let Ok(mut header) = Header::read_from_bytes(head) else {
        return;
    };
    let w = header.weights;
    let fits = w.offset >= HEADER_BYTES as u64
        && w.offset
            .checked_add(w.len)
            .is_some_and(|e| e <= bytes.len() as u64);
    if !fits {
        return;
    }
    let (weights_sha, _) = hashes(bytes, &w);
    header.weights_sha256 = weights_sha;
    bytes[..HEADER_BYTES].copy_from_slice(header.as_bytes());
    let (_, meta_sha) = hashes(bytes, &w);
    bytes[META_SHA_OFFSET..META_SHA_OFFSET + 32].copy_from_slice(&meta_sha);
}

/// Writes `spec` as a `.waymodel` file, then parses it back and validates its graph, so
/// the result is always a file `model_load` accepts; any error is the parser's or the
/// validator's on what was written.
pub fn write(spec: &Spec) -> Result<Vec<u8>, ModelError> {
    let too_many = |n: usize, max: u32| {
        err(
            Place::Header,
            ModelErrorKind::Count {
                n: u32::try_from(n).unwrap_or(u32::MAX),
                max,
            },
        )
    };
    let limit = |n: usize, max: u32| {
        if n > max as usize {
            Err(too_many(n, max))
        } else {
            Ok(n as u32)
        }
    };
    let n_tensors = limit(spec.tensors.len(), MAX_TENSORS)?;
    let n_nodes = limit(spec.nodes.len(), ai::MAX_NODES as u32)?;
    let n_outputs = limit(spec.outputs.len(), MAX_IO)?;
    let n_labels = limit(spec.labels.len(), MAX_LABELS)?;
    let inputs: Vec<u32> = (0..n_tensors)
        .filter(|&i| spec.tensors[i as usize].data.is_none())
        .collect();
    let n_inputs = limit(inputs.len(), MAX_IO)?;

    let mut strings: Vec<u8> = Vec::new();
    let mut span = |s: &str| {
        if s.is_empty() {
            return StrSpan::default();
        }
        let offset = u32::try_from(strings.len()).unwrap_or(u32::MAX);
        strings.extend_from_slice(s.as_bytes());
        StrSpan {
            offset,
            len: u32::try_from(s.len()).unwrap_or(u32::MAX),
        }
    };
    let mut header = Header {
        magic: MAGIC,
        version: VERSION,
        header_bytes: HEADER_BYTES as u32,
        n_tensors,
        n_nodes,
        n_inputs,
        n_outputs,
        n_labels,
        mode: spec.mode,
        name: span(&spec.name),
        ..Header::default()
    };
    let mut weights: Vec<u8> = Vec::new();
    let mut tensor_table: Vec<u8> = Vec::new();
    for t in &spec.tensors {
        let mut e = TensorEntry {
            name: span(&t.name),
            dtype: t.info.dtype,
            rank: t.info.rank,
            dims: t.info.dims,
            scale_bits: t.info.scale_bits,
            zero_point: t.info.zero_point,
            tier: t.info.tier,
            ..TensorEntry::default()
        };
        if let Some(data) = &t.data {
            weights.resize(align(weights.len(), WEIGHT_ALIGN), 0);
            e.data_offset = weights.len() as u64;
            e.data_len = data.len() as u64;
            weights.extend_from_slice(data);
        }
        tensor_table.extend_from_slice(e.as_bytes());
    }
    let mut output_table: Vec<u8> = Vec::new();
    for o in &spec.outputs {
        let e = OutputEntry {
            node: o.node,
            dtype: o.info.dtype,
            rank: o.info.rank,
            dims: o.info.dims,
            _pad: 0,
            name: span(&o.name),
        };
        output_table.extend_from_slice(e.as_bytes());
    }
    let mut label_table: Vec<u8> = Vec::new();
    for l in &spec.labels {
        label_table.extend_from_slice(span(l).as_bytes());
    }
    let node_table: Vec<u8> = spec
        .nodes
        .iter()
        .flat_map(|n| n.as_bytes().to_vec())
        .collect();
    let input_table: Vec<u8> = inputs.iter().flat_map(|i| i.to_le_bytes()).collect();

    let mut out: Vec<u8> = alloc::vec![0; HEADER_BYTES];
    let mut put = |bytes: &[u8], a: u64| {
        out.resize(align(out.len(), a), 0);
        let sec = Section {
            offset: out.len() as u64,
            len: bytes.len() as u64,
        };
        out.extend_from_slice(bytes);
        sec
    };
    header.tensors = put(&tensor_table, SECTION_ALIGN);
    header.nodes = put(&node_table, SECTION_ALIGN);
    header.inputs = put(&input_table, SECTION_ALIGN);
    header.outputs = put(&output_table, SECTION_ALIGN);
    header.labels = put(&label_table, SECTION_ALIGN);
    header.strings = put(&strings, SECTION_ALIGN);
    header.weights = put(&weights, WEIGHT_ALIGN);
    header.total_bytes = out.len() as u64;
    out[..HEADER_BYTES].copy_from_slice(header.as_bytes());
    rehash(&mut out);
    parse(&out)?.graph()?;
    Ok(out)
}

#[cfg(test)]
mod tests;
