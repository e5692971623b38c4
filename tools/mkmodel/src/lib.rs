//! `mkmodel`'s library: the text description of a model (`docs/waymodel.md`, "The
//! description format") turned into a `.waymodel` file, and a model printed back as text.
//! `no_std` + `alloc`, so the host tool (`tools/mkmodel`) and the in-guest `/bin/mkmodel`
//! are the same code; the caller supplies file access (the `load` callback) and output.
//!
//! It owns the description syntax only. Encoding, every check of the file and of the
//! graph belong to `wayos_kcore::waymodel` and `wayos_kcore::aigraph`: [`build`] parses the
//! description into a `waymodel::Spec`, asks the graph validator for the result shapes
//! (so `output` lines need no shapes), and calls `waymodel::write`, which parses what it
//! wrote. Errors carry the 1-based line they are about (0 for the description as a whole).
//! It must never panic on any description.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::{self, Write};

use wayos_abi::ai::{self, Node, TensorInfo, DTYPE_F32, DTYPE_I32, DTYPE_I8, REF_NODE};
use wayos_kcore::aigraph::{self, op_by_name, op_name};
use wayos_kcore::waymodel::{self, Model, ModelErrorKind, OutputSpec, Place, Spec, TensorSpec};

/// A description error: the line (1-based; 0 when it is about the whole description) and
/// what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescError {
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for DescError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.msg)
        } else {
            write!(f, "line {}: {}", self.line, self.msg)
        }
    }
}

fn fail<T>(line: usize, msg: impl Into<String>) -> Result<T, DescError> {
    Err(DescError {
        line,
        msg: msg.into(),
    })
}

/// The dtype spelled `s` (`f32`, `i32`, `i8`).
pub fn dtype_by_name(s: &str) -> Option<u32> {
    [DTYPE_F32, DTYPE_I32, DTYPE_I8]
        .into_iter()
        .find(|&d| ai::dtype_name(d) == s)
}

fn parse_dims(line: usize, s: &str) -> Result<Vec<u32>, DescError> {
    let dims: Result<Vec<u32>, _> = s.split(',').map(|d| d.trim().parse::<u32>()).collect();
    match dims {
        Ok(d) if !d.is_empty() && d.len() <= ai::MAX_RANK => Ok(d),
        Ok(_) => fail(
            line,
            format!("shape '{s}': 1 to {} dimensions", ai::MAX_RANK),
        ),
        Err(_) => fail(line, format!("shape '{s}': not a list of numbers like 2,3")),
    }
}

fn info(dtype: u32, dims: &[u32]) -> TensorInfo {
    TensorInfo::with_dims(dtype, dims)
}

/// `key=value` options after the positional words of a line.
struct Opts<'a> {
    line: usize,
    pairs: Vec<(&'a str, &'a str)>,
    used: Vec<bool>,
}

impl<'a> Opts<'a> {
    fn new(line: usize, words: &[&'a str]) -> Result<Self, DescError> {
        let mut pairs = Vec::new();
        for w in words {
            match w.split_once('=') {
                Some((k, v)) if !k.is_empty() => pairs.push((k, v)),
                _ => return fail(line, format!("'{w}': expected key=value")),
            }
        }
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(k2, _)| k2 == k) {
                return fail(line, format!("'{k}' given twice"));
            }
        }
        let used = alloc::vec![false; pairs.len()];
        Ok(Opts { line, pairs, used })
    }

    fn get(&mut self, key: &str) -> Option<&'a str> {
        let i = self.pairs.iter().position(|(k, _)| *k == key)?;
        self.used[i] = true;
        Some(self.pairs[i].1)
    }

    fn num<T: core::str::FromStr>(&mut self, key: &str) -> Result<Option<T>, DescError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.parse() {
                Ok(x) => Ok(Some(x)),
                Err(_) => fail(
                    self.line,
                    format!("{key}={v}: not a number of the right kind"),
                ),
            },
        }
    }

    fn done(&self) -> Result<(), DescError> {
        match self.used.iter().position(|u| !u) {
            Some(i) => fail(self.line, format!("unknown option '{}'", self.pairs[i].0)),
            None => Ok(()),
        }
    }
}

/// Parses `n` values of `dtype` from `data=1,2,3`.
fn parse_values(line: usize, dtype: u32, s: &str) -> Result<Vec<u8>, DescError> {
    let mut out = Vec::new();
    for v in s.split(',') {
        let v = v.trim();
        let ok = match dtype {
            DTYPE_F32 => v
                .parse::<f32>()
                .map(|x| out.extend(x.to_le_bytes()))
                .is_ok(),
            DTYPE_I32 => v
                .parse::<i32>()
                .map(|x| out.extend(x.to_le_bytes()))
                .is_ok(),
            _ => v.parse::<i8>().map(|x| out.extend(x.to_le_bytes())).is_ok(),
        };
        if !ok {
            return fail(
                line,
                format!("data value '{v}' is not a {}", ai::dtype_name(dtype)),
            );
        }
    }
    Ok(out)
}

/// What a name in a node line refers to.
#[derive(Clone, Copy)]
enum Named {
    Tensor(u32),
    Node(u32),
}

/// Builds a `.waymodel` file from a description. `load(path)` returns the bytes of a
/// `file=PATH` weight (raw little endian) or a message saying why it cannot.
pub fn build(
    desc: &str,
    load: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, DescError> {
    let mut spec = Spec::default();
    let mut names: Vec<(String, Named, usize)> = Vec::new();
    let mut tensor_lines = Vec::new();
    let mut node_lines = Vec::new();
    let mut node_names: Vec<String> = Vec::new();
    let mut outputs: Vec<(usize, u32, Option<String>)> = Vec::new();
    let mut label_line = 0;
    let mut saw_model = false;
    for (i, raw) in desc.lines().enumerate() {
        let line = i + 1;
        let text = raw.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let lookup = |names: &[(String, Named, usize)], n: &str| {
            names.iter().find(|(m, _, _)| m == n).map(|(_, k, _)| *k)
        };
        let new_name = |names: &[(String, Named, usize)], n: &str| -> Result<(), DescError> {
            if let Some((_, _, at)) = names.iter().find(|(m, _, _)| m == n) {
                return fail(line, format!("'{n}' is already defined on line {at}"));
            }
            if n.is_empty() || n.len() > waymodel_name_max() || n.contains('=') {
                return fail(line, format!("'{n}' is not a usable name"));
            }
            Ok(())
        };
        match words[0] {
            "model" => {
                if words.len() != 2 {
                    return fail(line, "usage: model NAME");
                }
                if saw_model {
                    return fail(line, "a second 'model' line");
                }
                if words[1].len() > waymodel_name_max() {
                    return fail(line, "model name too long");
                }
                saw_model = true;
                spec.name = words[1].to_string();
            }
            "mode" => {
                spec.mode = match words.get(1..) {
                    Some(["fast"]) => ai::MODE_FAST,
                    Some(["bitexact"]) => ai::MODE_BITEXACT,
                    _ => return fail(line, "usage: mode fast|bitexact"),
                };
            }
            "input" | "weight" => {
                let is_input = words[0] == "input";
                if words.len() < 4 {
                    return fail(
                        line,
                        format!("usage: {} NAME DTYPE DIMS [options]", words[0]),
                    );
                }
                new_name(&names, words[1])?;
                let Some(dtype) = dtype_by_name(words[2]) else {
                    return fail(line, format!("unknown dtype '{}' (f32, i32, i8)", words[2]));
                };
                let dims = parse_dims(line, words[3])?;
                let mut t = info(dtype, &dims);
                let mut opts = Opts::new(line, &words[4..])?;
                if let Some(s) = opts.num::<f32>("scale")? {
                    t.scale_bits = s.to_bits();
                }
                if let Some(z) = opts.num::<i32>("zero")? {
                    t.zero_point = z;
                }
                if dtype == DTYPE_I8 && t.scale_bits == 0 {
                    t.scale_bits = 1.0f32.to_bits();
                }
                match opts.get("tier") {
                    None | Some("near") => {}
                    Some("far") => t.tier = ai::TIER_FAR,
                    Some(x) => return fail(line, format!("tier={x}: near or far")),
                }
                if let Err(why) = aigraph::check_info(&t) {
                    return fail(line, why);
                }
                let data = if is_input {
                    None
                } else {
                    let sources = [opts.get("file"), opts.get("data"), opts.get("fill")];
                    let bytes = match sources {
                        [Some(path), None, None] => {
                            load(path).or_else(|why| fail(line, format!("{path}: {why}")))?
                        }
                        [None, Some(values), None] => parse_values(line, dtype, values)?,
                        [None, None, Some(v)] => {
                            let one = parse_values(line, dtype, v)?;
                            let count = aigraph::check_info(&t).map_err(|why| DescError {
                                line,
                                msg: why.to_string(),
                            })? / one.len() as u64;
                            one.repeat(count as usize)
                        }
                        _ => {
                            return fail(line, "a weight needs exactly one of file=, data=, fill=")
                        }
                    };
                    let want = aigraph::check_info(&t).map_err(|why| DescError {
                        line,
                        msg: why.to_string(),
                    })?;
                    if bytes.len() as u64 != want {
                        return fail(
                            line,
                            format!(
                                "{} bytes of data, but {} {:?} needs {want}",
                                bytes.len(),
                                words[2],
                                dims
                            ),
                        );
                    }
                    Some(bytes)
                };
                opts.done()?;
                names.push((
                    words[1].to_string(),
                    Named::Tensor(spec.tensors.len() as u32),
                    line,
                ));
                tensor_lines.push(line);
                spec.tensors.push(TensorSpec {
                    name: words[1].to_string(),
                    info: t,
                    data,
                });
            }
            "node" => {
                if words.len() < 4 || words[2] != "=" {
                    return fail(line, "usage: node NAME = OP INPUT... [options]");
                }
                new_name(&names, words[1])?;
                let Some(code) = op_by_name(words[3]) else {
                    return fail(line, format!("unknown operation '{}'", words[3]));
                };
                let split = words[4..]
                    .iter()
                    .position(|w| w.contains('='))
                    .map_or(words.len(), |p| p + 4);
                let args = &words[4..split];
                if args.len() > ai::MAX_NODE_INPUTS {
                    return fail(line, format!("more than {} inputs", ai::MAX_NODE_INPUTS));
                }
                let mut node = Node {
                    op: code,
                    n_inputs: args.len() as u32,
                    ..Node::default()
                };
                for (slot, a) in args.iter().enumerate() {
                    node.inputs[slot] = match lookup(&names, a) {
                        Some(Named::Tensor(t)) => t,
                        Some(Named::Node(n)) => REF_NODE | n,
                        None => return fail(line, format!("'{a}' is not defined above")),
                    };
                }
                let mut opts = Opts::new(line, &words[split..])?;
                node_attrs(line, code, &mut node, &mut opts)?;
                opts.done()?;
                names.push((
                    words[1].to_string(),
                    Named::Node(spec.nodes.len() as u32),
                    line,
                ));
                node_names.push(words[1].to_string());
                node_lines.push(line);
                spec.nodes.push(node);
            }
            "output" => {
                let name = match words.len() {
                    2 => None,
                    4 if words[2] == "as" => Some(words[3].to_string()),
                    _ => return fail(line, "usage: output NODE [as NAME]"),
                };
                match lookup(&names, words[1]) {
                    Some(Named::Node(n)) => outputs.push((line, n, name)),
                    Some(Named::Tensor(_)) => {
                        return fail(line, format!("'{}' is a tensor, not a node", words[1]))
                    }
                    None => return fail(line, format!("'{}' is not defined above", words[1])),
                }
            }
            "labels" => {
                label_line = line;
                spec.labels.extend(words[1..].iter().map(|w| w.to_string()));
            }
            w => return fail(line, format!("unknown directive '{w}'")),
        }
    }

    // Shapes of the node results, for the outputs; a graph error names its node's line.
    let bound: Vec<TensorInfo> = spec.tensors.iter().map(|t| t.info).collect();
    let plan = aigraph::validate(&bound, &spec.nodes, &[]).map_err(|e| DescError {
        line: e.node.and_then(|n| node_lines.get(n).copied()).unwrap_or(0),
        msg: graph_msg(&e, &node_names),
    })?;
    for (line, node, name) in &outputs {
        let r = plan.node(*node as usize).info;
        let name = name
            .clone()
            .unwrap_or_else(|| node_names[*node as usize].clone());
        if spec.outputs.iter().any(|o| o.name == name) {
            return fail(*line, format!("output '{name}' is given twice"));
        }
        spec.outputs.push(OutputSpec {
            name,
            node: *node,
            info: info(r.dtype, &r.dims[..r.rank as usize]),
        });
    }
    if spec.outputs.is_empty() && !spec.nodes.is_empty() {
        return fail(
            0,
            "no 'output' line: the model would compute nothing anyone reads",
        );
    }
    let output_lines: Vec<usize> = outputs.iter().map(|o| o.0).collect();
    waymodel::write(&spec).map_err(|e| {
        let line = match e.place {
            Place::Tensor(i) => tensor_lines.get(i).copied(),
            Place::Node(i) => node_lines.get(i).copied(),
            Place::Output(i) => output_lines.get(i).copied(),
            Place::Label(_) => Some(label_line),
            _ => None,
        };
        let msg = match e.kind {
            ModelErrorKind::Graph(g) => graph_msg(&g, &node_names),
            _ => e.to_string(),
        };
        DescError {
            line: line.unwrap_or(0),
            msg,
        }
    })
}

fn waymodel_name_max() -> usize {
    wayos_abi::waymodel::MAX_NAME_BYTES as usize
}

/// A graph error with the node's name from the description.
fn graph_msg(e: &aigraph::GraphError, names: &[String]) -> String {
    match e.node.and_then(|n| names.get(n)) {
        Some(name) => format!("node '{name}': {e}"),
        None => e.to_string(),
    }
}

/// Attribute words of a node from its `key=value` options.
fn node_attrs(line: usize, code: u32, node: &mut Node, opts: &mut Opts) -> Result<(), DescError> {
    use wayos_abi::ai::op;
    let list = |line: usize, key: &str, v: &str| -> Result<Vec<u32>, DescError> {
        v.split(',')
            .map(|x| x.trim().parse::<u32>())
            .collect::<Result<Vec<u32>, _>>()
            .or_else(|_| fail(line, format!("{key}={v}: not a list of numbers")))
    };
    let flag = |x: Option<u32>| x.unwrap_or(0);
    if let Some(raw) = opts.get("attrs") {
        let words = list(line, "attrs", raw)?;
        if words.len() > ai::NODE_ATTRS {
            return fail(
                line,
                format!("more than {} attribute words", ai::NODE_ATTRS),
            );
        }
        node.attrs[..words.len()].copy_from_slice(&words);
        return Ok(());
    }
    match code {
        op::MATMUL => {
            node.attrs[0] = flag(opts.num("ta")?);
            node.attrs[1] = flag(opts.num("tb")?);
        }
        op::LAYERNORM => {
            if let Some(eps) = opts.num::<f32>("eps")? {
                node.attrs[0] = eps.to_bits();
            }
        }
        op::RESHAPE => {
            let Some(v) = opts.get("shape") else {
                return fail(line, "reshape needs shape=D0,D1,...");
            };
            let dims = parse_dims(line, v)?;
            node.attrs[0] = dims.len() as u32;
            node.attrs[1..=dims.len()].copy_from_slice(&dims);
        }
        op::TRANSPOSE => {
            let Some(v) = opts.get("perm") else {
                return fail(line, "transpose needs perm=P0,P1,...");
            };
            let perm = list(line, "perm", v)?;
            if perm.len() > ai::MAX_RANK {
                return fail(line, format!("perm={v}: at most {} axes", ai::MAX_RANK));
            }
            node.attrs[..perm.len()].copy_from_slice(&perm);
        }
        op::CONV2D => {
            node.attrs[0] = opts.num("stride")?.unwrap_or(1);
            node.attrs[1] = flag(opts.num("pad")?);
        }
        op::QUANTIZE | op::DEQUANTIZE => {
            let Some(scale) = opts.num::<f32>("scale")? else {
                return fail(line, "quantize and dequantize need scale=S");
            };
            node.attrs[0] = scale.to_bits();
            node.attrs[1] = opts.num::<i32>("zero")?.unwrap_or(0) as u32;
        }
        _ => {}
    }
    Ok(())
}

fn shape(t: &TensorInfo) -> String {
    let dims: Vec<String> = t.dims[..(t.rank as usize).min(ai::MAX_RANK)]
        .iter()
        .map(|d| d.to_string())
        .collect();
    format!("{} {}", ai::dtype_name(t.dtype), dims.join(","))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Prints a parsed model: header, tensors, nodes (with result shapes when the graph is
/// valid), outputs, labels. Node inputs are printed by name (`%N` for an unnamed node).
pub fn show(m: &Model, out: &mut dyn Write) -> fmt::Result {
    let h = m.header();
    let mode = if m.mode() == ai::MODE_BITEXACT {
        "bitexact"
    } else {
        "fast"
    };
    writeln!(
        out,
        "model {} (version {}, {} bytes, mode {mode})",
        if m.name().is_empty() { "-" } else { m.name() },
        h.version,
        h.total_bytes
    )?;
    writeln!(out, "weights sha256 {}", hex(&m.weights_sha256()))?;
    writeln!(out, "tensors {}:", m.n_tensors())?;
    for i in 0..m.n_tensors() {
        let Some(t) = m.tensor(i) else { continue };
        write!(out, "  {i} {} {}", t.name, shape(&t.info))?;
        if t.info.dtype == DTYPE_I8 {
            let scale = f32::from_bits(t.info.scale_bits);
            write!(out, " scale={scale} zero={}", t.info.zero_point)?;
        }
        if t.info.tier == ai::TIER_FAR {
            write!(out, " tier=far")?;
        }
        if t.is_input {
            writeln!(out, " input")?;
        } else {
            writeln!(out, " {} bytes", t.data.len())?;
        }
    }
    let graph = m.graph();
    writeln!(out, "nodes {}:", m.n_nodes())?;
    for i in 0..m.n_nodes() {
        let Some(n) = m.node(i) else { continue };
        write!(out, "  %{i} = {}", op_name(n.op).unwrap_or("?"))?;
        for &r in n
            .inputs
            .iter()
            .take((n.n_inputs as usize).min(ai::MAX_NODE_INPUTS))
        {
            if r & REF_NODE != 0 {
                write!(out, " %{}", r & !REF_NODE)?;
            } else {
                write!(out, " {}", m.tensor(r as usize).map_or("?", |t| t.name))?;
            }
        }
        let used = n.attrs.iter().rposition(|&a| a != 0).map_or(0, |p| p + 1);
        if used > 0 {
            let words: Vec<String> = n.attrs[..used].iter().map(|a| a.to_string()).collect();
            write!(out, " attrs={}", words.join(","))?;
        }
        match &graph {
            Ok(g) => writeln!(out, " -> {}", shape(&g.plan.node(i).info))?,
            Err(_) => writeln!(out)?,
        }
    }
    writeln!(out, "outputs {}:", m.n_outputs())?;
    for i in 0..m.n_outputs() {
        let Some(o) = m.output(i) else { continue };
        writeln!(out, "  {} = %{} {}", o.name, o.node, shape(&o.info))?;
    }
    if m.n_labels() > 0 {
        write!(out, "labels {}:", m.n_labels())?;
        for i in 0..m.n_labels() {
            write!(out, " {}", m.label(i).unwrap_or("?"))?;
        }
        writeln!(out)?;
    }
    match &graph {
        Ok(g) => writeln!(out, "arena {} bytes", g.plan.arena_bytes()),
        Err(e) => writeln!(out, "invalid: {e}"),
    }
}

/// Parses and validates a file (`mkmodel check`): a one-line summary, or the first error.
pub fn check(bytes: &[u8]) -> Result<String, String> {
    let m = waymodel::parse(bytes).map_err(|e| e.to_string())?;
    let g = m.graph().map_err(|e| e.to_string())?;
    Ok(format!(
        "ok: model {}, {} tensors ({} inputs), {} nodes, {} outputs, {} labels, arena {} bytes",
        if m.name().is_empty() { "-" } else { m.name() },
        m.n_tensors(),
        m.n_inputs(),
        m.n_nodes(),
        m.n_outputs(),
        m.n_labels(),
        g.plan.arena_bytes()
    ))
}

#[cfg(test)]
mod tests;
