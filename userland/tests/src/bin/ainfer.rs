//! `ainfer [<group>|all]`: the AI subsystem as programs see it (the seed's Phase-3 suite).
//!
//! Groups (each can be run alone; `all`, the default, runs every one):
//! - `tensor`: kernel tensors — create / write / read round trips, contents zeroed on
//!   creation, metadata, every bad argument and its errno, the per-process count and byte
//!   quotas (and that another process is unaffected), rights on duplicated handles,
//!   mappings that see the same bytes as read/write and outlive the handle, a child that
//!   dies holding tensors leaving no usage behind (seen through `ai_info`), and tier
//!   placement.
//! - `graph`: compute graphs — small graphs run through the queue against f64 and
//!   hand-computed values (float, i32 and int8 paths), every kind of bad graph refused with
//!   `EINVAL` and the kernel log naming the node, bad descriptors, handles and rights, a
//!   run that fails on an embedding index (`ERANGE`, outputs untouched), `MAX_GRAPHS`.
//! - `queue`: poll, wait with and without a deadline, cancel, a higher class overtaking
//!   long background jobs at node boundaries, who may use RT and high, `MAX_JOBS`, a
//!   killed submitter leaving no job, graph or tensor behind; `infer_stats` of a done, a
//!   cancelled and a preempted job, and its bad arguments.
//! - `model`: a `.waymodel` written here with `mkmodel`'s writer loads and computes what
//!   an f64 reference does; damaged files refused with their errnos; the registry's list;
//!   a process killed mid-inference on a loaded model leaving nothing behind.
//!
//! Expected values are computed here (patterns from a formula, sizes from the shape and
//! `wayos_abi::ai`'s limits), never read back from the kernel first.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::ai::{
    TensorInfo, MAX_DIM, MAX_TENSORS, MAX_TENSOR_BYTES, MAX_TENSOR_BYTES_PER_PROCESS,
};
use libway::abi::errno::{EACCES, EBADF, EDQUOT, EFAULT, EINVAL, EMFILE};
use libway::abi::ipc::{Message, NO_HANDLE};
use libway::abi::mman::{PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE};
use libway::abi::signal::{SIGKILL, SIGSEGV};
use libway::abi::sys;
use libway::ai::{
    self, tensor_info, Tensor, DTYPE_F32, DTYPE_I32, DTYPE_I8, RIGHTS_ALL, RIGHT_GRANT, RIGHT_READ,
    RIGHT_WRITE, TIER_FAR, TIER_NEAR,
};
use libway::ipc::{Port, Timeout};
use libway::suite::{
    expect_bytes, expect_eq, expect_errno, expect_exit, expect_signal, in_child, wait_for, Check,
    Context, Suite,
};
use libway::{mem, println, process, Args, Errno};

#[path = "ainfer/graphs.rs"]
mod graphs;
#[path = "ainfer/model.rs"]
mod model;
#[path = "ainfer/queue.rs"]
mod queue;
#[path = "ainfer/tinymodel.rs"]
mod tinymodel;

libway::entry!(main);

/// A group of checks: its name on the command line and what it runs.
type Group = (&'static str, fn(&mut Suite));

/// The groups, in the order `all` runs them.
const GROUPS: &[Group] = &[
    ("tensor", tensor_group),
    ("graph", graphs::group),
    ("queue", queue::group),
    ("model", model::group),
];

fn main(args: Args) -> i32 {
    let which = args.get(1).unwrap_or("all");
    let mut s = Suite::new("ainfer");
    if which == "all" {
        for (_, g) in GROUPS {
            g(&mut s);
        }
    } else if let Some((_, g)) = GROUPS.iter().find(|(n, _)| *n == which) {
        g(&mut s);
    } else {
        let names: Vec<&str> = GROUPS.iter().map(|(n, _)| *n).collect();
        println!("usage: ainfer <{}>|all", names.join("|"));
        return 2;
    }
    s.finish()
}

fn tensor_group(s: &mut Suite) {
    s.check("tensor_round_trip_f32", round_trip_f32());
    s.check("tensor_round_trip_i32_i8", round_trip_i32_i8());
    s.check("tensor_zeroed_on_creation", zeroed_on_creation());
    s.check("tensor_bad_create", bad_create());
    s.check("tensor_bad_read_write", bad_read_write());
    s.check("tensor_fault_changes_nothing", fault_changes_nothing());
    s.check("tensor_bad_map_info", bad_map_info());
    s.check("tensor_rights", rights());
    s.check("tensor_handle_in_message", handle_in_message());
    s.check("tensor_map_sees_same_bytes", map_sees_same_bytes());
    s.check("tensor_map_read_only_faults", map_read_only_faults());
    s.check("tensor_map_outlives_handle", map_outlives_handle());
    s.check("tensor_usage_charged", usage_charged());
    s.check("tensor_quota_count", quota_count());
    s.check("tensor_quota_bytes", quota_bytes());
    s.check("tensor_child_exit_frees", child_exit_frees());
    s.check("tensor_child_kill_frees", child_kill_frees());
    s.check("tensor_tier_placement", tier_placement());
}

/// A pattern of `n` f32 values no other test uses.
fn pattern_f32(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| (i as f32) * 0.25 - (seed as f32) + 1.0 / ((i % 7) as f32 + 1.0))
        .collect()
}

fn pattern_bytes(n: usize, seed: u32) -> Vec<u8> {
    (0..n)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

fn me() -> u64 {
    process::getpid().unwrap_or(0) as u64
}

fn round_trip_f32() -> Check {
    let t = Tensor::create(DTYPE_F32, &[3, 5], TIER_NEAR).context("create")?;
    let info = t.info().context("info")?;
    let mut want = tensor_info(DTYPE_F32, &[3, 5], TIER_NEAR).context("info")?;
    want.rights = RIGHTS_ALL;
    want.bytes = 3 * 5 * 4;
    expect_eq(info, want).context("metadata")?;
    let mut got = vec![1.0f32; 15];
    t.read_f32(0, &mut got).context("read fresh")?;
    expect_eq(got.clone(), vec![0.0f32; 15]).context("fresh contents")?;
    let data = pattern_f32(15, 3);
    t.write_f32(0, &data).context("write")?;
    t.read_f32(0, &mut got).context("read back")?;
    expect_eq(got.clone(), data.clone()).context("round trip")?;
    // A partial write lands where it says and nowhere else.
    t.write_f32(6, &[-1.5, 2.5]).context("partial write")?;
    let mut expect = data;
    expect[6] = -1.5;
    expect[7] = 2.5;
    expect_eq(t.to_vec_f32().context("read all")?, expect.clone()).context("after partial")?;
    let mut two = [0f32; 2];
    t.read_f32(13, &mut two).context("read the tail")?;
    expect_eq(two.to_vec(), expect[13..].to_vec()).context("tail")?;
    expect_eq(t.write(60, &[]), Ok(0)).context("empty write at the end")?;
    t.close().context("close")
}

fn round_trip_i32_i8() -> Check {
    let t = Tensor::create(DTYPE_I32, &[2, 2, 2], TIER_NEAR).context("create i32")?;
    let data: Vec<i32> = (0..8).map(|i| i * i * 1000 - 7777).collect();
    t.write_i32(0, &data).context("write i32")?;
    let mut got = vec![0i32; 8];
    t.read_i32(0, &mut got).context("read i32")?;
    expect_eq(got, data).context("i32 round trip")?;
    let q = Tensor::create_i8(&[5, 7], TIER_NEAR, 0.125, -3).context("create i8")?;
    let info = q.info().context("info i8")?;
    expect_eq(
        (
            info.dtype,
            info.bytes,
            f32::from_bits(info.scale_bits),
            info.zero_point,
        ),
        (DTYPE_I8, 35, 0.125, -3),
    )
    .context("i8 metadata")?;
    let data: Vec<i8> = (0..35).map(|i| (i * 11 - 128) as i8).collect();
    q.write_i8(0, &data).context("write i8")?;
    let mut got = vec![0i8; 35];
    q.read_i8(0, &mut got).context("read i8")?;
    expect_eq(got, data).context("i8 round trip")
}

/// Big enough that the kernel moves it in several bounce-buffer chunks and reuses the
/// frames of the tensor freed before.
fn zeroed_on_creation() -> Check {
    const N: u32 = 1 << 20;
    let data = pattern_bytes(N as usize, 9);
    {
        let t = Tensor::create(DTYPE_I8, &[N], TIER_NEAR);
        let t = match t {
            Err(e) if e.code() == EINVAL => {
                // i8 needs a scale: this is the expected refusal; make it properly.
                Tensor::create_i8(&[N], TIER_NEAR, 1.0, 0).context("create i8")?
            }
            other => return Err(format!("i8 without a scale: {other:?}, expected EINVAL")),
        };
        t.write(0, &data).context("write 1 MiB")?;
        let mut back = vec![0u8; N as usize];
        t.read(0, &mut back).context("read 1 MiB")?;
        expect_bytes(&back, &data).context("1 MiB round trip")?;
    }
    for round in 0..3 {
        let t = Tensor::create_i8(&[N], TIER_NEAR, 1.0, 0).context("create again")?;
        let mut back = vec![0xAAu8; N as usize];
        t.read(0, &mut back).context("read fresh")?;
        if let Some(i) = back.iter().position(|&b| b != 0) {
            return Err(format!(
                "round {round}: byte {i} of a new tensor is {:#x}",
                back[i]
            ));
        }
        t.write(0, &data).context("dirty it")?;
    }
    Ok(())
}

fn bad_create() -> Check {
    let good = tensor_info(DTYPE_F32, &[2, 3], TIER_NEAR).context("info")?;
    let cases: Vec<(&str, TensorInfo)> = vec![
        ("unknown dtype", TensorInfo { dtype: 3, ..good }),
        ("rank 0", TensorInfo { rank: 0, ..good }),
        ("rank 5", TensorInfo { rank: 5, ..good }),
        (
            "zero dim",
            TensorInfo {
                dims: [2, 0, 0, 0],
                ..good
            },
        ),
        (
            "dim past MAX_DIM",
            TensorInfo {
                dims: [MAX_DIM + 1, 3, 0, 0],
                ..good
            },
        ),
        (
            "stray dim past rank",
            TensorInfo {
                dims: [2, 3, 0, 9],
                ..good
            },
        ),
        ("unknown tier", TensorInfo { tier: 7, ..good }),
        ("rights on create", TensorInfo { rights: 1, ..good }),
        (
            "scale on f32",
            TensorInfo {
                scale_bits: 1.0f32.to_bits(),
                ..good
            },
        ),
        (
            "i8 without scale",
            TensorInfo {
                dtype: DTYPE_I8,
                ..good
            },
        ),
        (
            "i8 zero point 200",
            TensorInfo {
                dtype: DTYPE_I8,
                scale_bits: 1.0f32.to_bits(),
                zero_point: 200,
                ..good
            },
        ),
        (
            "one element past MAX_TENSOR_BYTES",
            TensorInfo {
                rank: 2,
                dims: [(MAX_TENSOR_BYTES / 4 / 1024) as u32 + 1, 1024, 0, 0],
                ..good
            },
        ),
        (
            "4 x MAX_DIM",
            TensorInfo {
                rank: 4,
                dims: [MAX_DIM; 4],
                ..good
            },
        ),
    ];
    let before = ai::usage_of(me()).context("usage")?;
    for (what, info) in &cases {
        expect_errno(Tensor::create_info(info), EINVAL).context(what)?;
    }
    // SAFETY: the kernel only reads at the pointer (and must refuse these).
    let raw = |p: usize| unsafe { libway::sys::call(sys::TENSOR_CREATE, [p, 0, 0, 0, 0, 0]) };
    expect_errno(raw(0), EFAULT).context("null info")?;
    expect_errno(raw(0xffff_8000_0000_0000), EFAULT).context("kernel address")?;
    expect_errno(raw(usize::MAX - 8), EFAULT).context("wrapping address")?;
    expect_eq(ai::usage_of(me()).context("usage")?, before).context("nothing charged")
}

fn bad_read_write() -> Check {
    let t = Tensor::create(DTYPE_F32, &[4], TIER_NEAR).context("create")?;
    let mut buf = [0u8; 32];
    expect_errno(t.write(1, &buf[..16]), EINVAL).context("write past the end")?;
    expect_errno(t.read(16, &mut buf[..1]), EINVAL).context("read past the end")?;
    expect_errno(t.read(usize::MAX, &mut buf[..2]), EINVAL).context("offset wraps")?;
    expect_errno(t.write(17, &[]), EINVAL).context("empty write past the end")?;
    // SAFETY: the kernel must refuse these without touching memory.
    let raw = |n: usize, h: usize, off: usize, p: usize, len: usize| unsafe {
        libway::sys::call(n, [h, off, p, len, 0, 0])
    };
    for n in [sys::TENSOR_WRITE, sys::TENSOR_READ] {
        let name = if n == sys::TENSOR_WRITE {
            "write"
        } else {
            "read"
        };
        expect_errno(raw(n, t.raw() as usize, 0, 0, 4), EFAULT).context(name)?;
        expect_errno(raw(n, t.raw() as usize, 4, usize::MAX - 2, 4), EFAULT).context(name)?;
        expect_errno(
            raw(n, t.raw() as usize, 0, 0xffff_8000_0000_0000, 4),
            EFAULT,
        )
        .context(name)?;
        expect_errno(raw(n, t.raw() as usize, 0, 0, usize::MAX), EINVAL).context(name)?;
        expect_errno(raw(n, 0x7fff_fff0, 0, buf.as_ptr() as usize, 4), EBADF).context(name)?;
        expect_errno(raw(n, 1 << 40, 0, buf.as_ptr() as usize, 4), EBADF).context(name)?;
    }
    // A handle to something else.
    let port = Port::create(1).context("port")?;
    expect_errno(
        raw(
            sys::TENSOR_READ,
            port.raw() as usize,
            0,
            buf.as_mut_ptr() as usize,
            4,
        ),
        EINVAL,
    )
    .context("port handle")?;
    // A closed handle.
    let h = t.raw();
    t.close().context("close")?;
    expect_errno(
        raw(
            sys::TENSOR_READ,
            h as usize,
            0,
            buf.as_mut_ptr() as usize,
            4,
        ),
        EBADF,
    )
    .context("closed handle")?;
    Ok(())
}

/// A write whose buffer runs into an unmapped page fails with `EFAULT` before any byte
/// of the tensor changes.
fn fault_changes_nothing() -> Check {
    let t = Tensor::create(DTYPE_I32, &[4096], TIER_NEAR).context("create")?;
    let base = mem::map_anonymous(2 * PAGE_SIZE, false).context("mmap")?;
    // SAFETY: the second page is ours and unused.
    unsafe { mem::munmap(base + PAGE_SIZE, PAGE_SIZE) }.context("munmap")?;
    // SAFETY: the kernel reads the buffer (and must stop at the hole).
    let r = unsafe {
        libway::sys::call(
            sys::TENSOR_WRITE,
            [t.raw() as usize, 0, base, 2 * PAGE_SIZE, 0, 0],
        )
    };
    expect_errno(r, EFAULT).context("write across a hole")?;
    let mut back = vec![0xffu8; 16384];
    t.read(0, &mut back).context("read")?;
    if back.iter().any(|&b| b != 0) {
        return Err("a failed write changed the tensor".into());
    }
    // SAFETY: the first page is ours and nothing refers to it.
    unsafe { mem::munmap(base, PAGE_SIZE) }.context("munmap")
}

fn bad_map_info() -> Check {
    let t = Tensor::create(DTYPE_F32, &[1024], TIER_NEAR).context("create")?;
    expect_errno(t.map_prot(0), EINVAL).context("PROT_NONE")?;
    expect_errno(t.map_prot(PROT_WRITE), EINVAL).context("write without read")?;
    expect_errno(t.map_prot(PROT_READ | PROT_EXEC), EACCES).context("exec")?;
    expect_errno(t.map_prot(PROT_READ | 0x100), EINVAL).context("unknown bit")?;
    // SAFETY: the kernel must refuse these without touching memory.
    let raw = |n: usize, a: usize, b: usize| unsafe { libway::sys::call(n, [a, b, 0, 0, 0, 0]) };
    expect_errno(raw(sys::TENSOR_MAP, 0x7fff_fff0, PROT_READ), EBADF).context("map bad handle")?;
    expect_errno(raw(sys::TENSOR_INFO, t.raw() as usize, 0), EFAULT).context("info to null")?;
    expect_errno(
        raw(sys::TENSOR_INFO, t.raw() as usize, 0xffff_8000_0000_0000),
        EFAULT,
    )
    .context("info to kernel")?;
    expect_errno(raw(sys::TENSOR_INFO, 0x7fff_fff0, 0), EBADF).context("info bad handle")?;
    // SAFETY: as above.
    let info = |what: usize, p: usize, len: usize| unsafe {
        libway::sys::call(sys::AI_INFO, [what, p, len, 0, 0, 0])
    };
    expect_errno(info(99, 0, 0), EINVAL).context("unknown selector")?;
    expect_errno(info(0, 0, 64), EFAULT).context("totals to null")?;
    expect_eq(info(0, 0, 0), Ok(1)).context("totals with no room")?;
    expect_errno(info(1, 0xffff_8000_0000_0000, 4096), EFAULT).context("usage to kernel")?;
    Ok(())
}

fn rights() -> Check {
    let t = Tensor::create(DTYPE_F32, &[8], TIER_NEAR).context("create")?;
    t.write_f32(0, &[5.0; 8]).context("write")?;
    let ro = t.dup(RIGHT_READ).context("dup read-only")?;
    expect_eq(ro.info().context("info")?.rights, RIGHT_READ).context("rights reported")?;
    expect_errno(ro.write_f32(0, &[1.0]), EACCES).context("write through read-only")?;
    expect_errno(ro.map(true), EACCES).context("map writable through read-only")?;
    let mut v = [0f32; 8];
    ro.read_f32(0, &mut v).context("read through read-only")?;
    expect_eq(v, [5.0; 8]).context("read-only sees the data")?;
    {
        let m = ro.map(false).context("map read-only")?;
        let mut b = [0u8; 4];
        m.read_at(0, &mut b).context("read the map")?;
        expect_eq(f32::from_le_bytes(b), 5.0).context("mapped value")?;
        // mprotect cannot widen a read-only tensor mapping.
        // SAFETY: no reference into the mapping is writable either way.
        let r = unsafe { mem::mprotect(m.addr(), PAGE_SIZE, PROT_READ | PROT_WRITE) };
        expect_errno(r, EACCES).context("mprotect to writable")?;
    }
    expect_errno(ro.dup(RIGHT_READ), EACCES).context("dup without grant")?;
    let wo = t.dup(RIGHT_WRITE | RIGHT_GRANT).context("dup write-only")?;
    expect_errno(wo.read_f32(0, &mut v), EACCES).context("read through write-only")?;
    expect_errno(wo.map(false), EACCES).context("map through write-only")?;
    expect_errno(wo.dup(RIGHT_READ), EACCES).context("dup widening")?;
    wo.write_f32(1, &[7.0])
        .context("write through write-only")?;
    t.read_f32(0, &mut v).context("read")?;
    expect_eq(v[..2].to_vec(), vec![5.0, 7.0]).context("write-only wrote")
}

fn map_sees_same_bytes() -> Check {
    // Not a whole number of pages: the map shows exactly the tensor's bytes.
    let t = Tensor::create(DTYPE_F32, &[3, 1500], TIER_NEAR).context("create")?;
    let n = 3 * 1500 * 4;
    let data = pattern_bytes(n, 77);
    t.write(0, &data).context("write")?;
    let m = t.map(true).context("map")?;
    expect_eq(m.len(), n).context("map length")?;
    let mut got = vec![0u8; n];
    m.read_at(0, &mut got).context("read map")?;
    expect_bytes(&got, &data).context("map sees write")?;
    let other = pattern_bytes(n, 78);
    m.write_at(0, &other).context("write map")?;
    t.read(0, &mut got).context("read")?;
    expect_bytes(&got, &other).context("read sees map write")?;
    // A second, read-only map shows the same pages.
    let m2 = t.map(false).context("second map")?;
    if m2.addr() == m.addr() {
        return Err("two maps at one address".into());
    }
    m2.read_at(0, &mut got).context("read second map")?;
    expect_bytes(&got, &other).context("second map")
}

fn map_read_only_faults() -> Check {
    let st = in_child(|| {
        let Ok(t) = Tensor::create(DTYPE_I32, &[16], TIER_NEAR) else {
            return 2;
        };
        let Ok(m) = t.map(false) else {
            return 3;
        };
        // Not through `write_at` (which refuses): a raw store the MMU must stop.
        // SAFETY: deliberately storing to a read-only page; the process dies of SIGSEGV.
        unsafe { core::ptr::write_volatile(m.addr() as *mut u32, 1) };
        4
    })?;
    expect_signal(st, SIGSEGV)
}

fn map_outlives_handle() -> Check {
    let before = ai::totals().context("totals")?;
    let t = Tensor::create(DTYPE_F32, &[256], TIER_NEAR).context("create")?;
    let data = pattern_f32(256, 5);
    t.write_f32(0, &data).context("write")?;
    let m = t.map(false).context("map")?;
    t.close().context("close handle")?;
    expect_eq(ai::totals().context("totals")?.tensors, before.tensors + 1)
        .context("alive while mapped")?;
    let mut b = vec![0u8; 1024];
    m.read_at(0, &mut b).context("read map")?;
    let got: Vec<f32> = b
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    expect_eq(got, data).context("contents after close")?;
    drop(m);
    let after = ai::totals().context("totals")?;
    expect_eq(
        (after.tensors, after.tensor_bytes),
        (before.tensors, before.tensor_bytes),
    )
    .context("freed with the mapping")
}

fn usage_charged() -> Check {
    let before = ai::usage_of(me()).context("usage")?;
    let t = Tensor::create(DTYPE_I32, &[1250], TIER_NEAR).context("create")?;
    let u = ai::usage_of(me()).context("usage")?;
    // 5000 bytes take two pages.
    expect_eq(
        (u.tensors, u.tensor_bytes),
        (before.tensors + 1, before.tensor_bytes + 8192),
    )
    .context("charged")?;
    // A duplicate handle is the same tensor: no second charge.
    let d = t.dup(RIGHT_READ).context("dup")?;
    expect_eq(ai::usage_of(me()).context("usage")?, u).context("dup not charged")?;
    drop(t);
    expect_eq(ai::usage_of(me()).context("usage")?, u).context("alive through the dup")?;
    drop(d);
    expect_eq(ai::usage_of(me()).context("usage")?, before).context("released")
}

fn quota_count() -> Check {
    let base = ai::usage_of(me()).context("usage")?.tensors as usize;
    let mut held = Vec::new();
    for i in base..MAX_TENSORS {
        held.push(Tensor::create(DTYPE_F32, &[1], TIER_NEAR).context(&format!("tensor {i}"))?);
    }
    expect_errno(Tensor::create(DTYPE_F32, &[1], TIER_NEAR), EMFILE).context("one too many")?;
    // Another process has its own count.
    let st = in_child(|| match Tensor::create(DTYPE_F32, &[1], TIER_NEAR) {
        Ok(_) => 0,
        Err(_) => 1,
    })?;
    expect_exit(st, 0).context("child unaffected")?;
    held.pop();
    let again = Tensor::create(DTYPE_F32, &[1], TIER_NEAR).context("after freeing one")?;
    drop(again);
    drop(held);
    expect_eq(ai::usage_of(me()).context("usage")?.tensors as usize, base).context("all released")
}

fn quota_bytes() -> Check {
    const CHUNK: u32 = 16 << 20;
    let base = ai::usage_of(me()).context("usage")?.tensor_bytes;
    let room = MAX_TENSOR_BYTES_PER_PROCESS - base;
    let mut held = Vec::new();
    for i in 0..room / u64::from(CHUNK) {
        held.push(Tensor::create_i8(&[CHUNK], TIER_NEAR, 1.0, 0).context(&format!("16 MiB #{i}"))?);
    }
    let left = room % u64::from(CHUNK);
    if left > 0 {
        held.push(Tensor::create_i8(&[left as u32], TIER_NEAR, 1.0, 0).context("the rest")?);
    }
    expect_errno(Tensor::create_i8(&[1], TIER_NEAR, 1.0, 0), EDQUOT).context("one page more")?;
    let st = in_child(|| match Tensor::create_i8(&[CHUNK], TIER_NEAR, 1.0, 0) {
        Ok(_) => 0,
        Err(_) => 1,
    })?;
    expect_exit(st, 0).context("child unaffected")?;
    held.remove(0);
    Tensor::create_i8(&[4096], TIER_NEAR, 1.0, 0).context("after freeing one")?;
    drop(held);
    expect_eq(ai::usage_of(me()).context("usage")?.tensor_bytes, base).context("all released")
}

/// Makes tensors (one mapped, one duplicated) and returns without closing anything.
fn hold_tensors() -> Result<(), Errno> {
    for i in 0..5u32 {
        let t = Tensor::create(DTYPE_F32, &[64, i + 1], TIER_NEAR)?;
        if i == 0 {
            core::mem::forget(t.map(true)?);
        }
        if i == 1 {
            core::mem::forget(t.dup(RIGHT_READ)?);
        }
        core::mem::forget(t);
    }
    Ok(())
}

fn child_exit_frees() -> Check {
    let before = ai::totals().context("totals")?;
    let pid = match process::fork() {
        Ok(0) => process::exit(if hold_tensors().is_ok() { 0 } else { 1 }),
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    let st = wait_for(pid, 60_000)?;
    expect_exit(st, 0).context("child")?;
    expect_eq(ai::usage_of(pid as u64).context("usage")?.tensors, 0).context("child usage")?;
    let after = ai::totals().context("totals")?;
    expect_eq(
        (after.tensors, after.tensor_bytes),
        (before.tensors, before.tensor_bytes),
    )
    .context("totals back")
}

fn child_kill_frees() -> Check {
    let before = ai::totals().context("totals")?;
    let (r, w) = libway::io::pipe(false).context("pipe")?;
    let pid = match process::fork() {
        Ok(0) => {
            let ok = hold_tensors().is_ok();
            let _ = libway::io::write(w, if ok { b"y" } else { b"n" });
            loop {
                let _ = process::sleep_or_yield(1000);
            }
        }
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    let _ = libway::io::close(w);
    let mut b = [0u8; 1];
    let got = libway::io::read(r, &mut b);
    let _ = libway::io::close(r);
    let during = ai::usage_of(pid as u64).context("usage")?;
    process::kill(pid, SIGKILL).context("kill")?;
    let st = wait_for(pid, 60_000)?;
    expect_eq((got.ok(), b[0]), (Some(1), b'y')).context("child made its tensors")?;
    expect_eq(during.tensors, 5).context("child charged while alive")?;
    expect_signal(st, SIGKILL).context("child")?;
    expect_eq(ai::usage_of(pid as u64).context("usage")?.tensors, 0).context("child usage")?;
    let after = ai::totals().context("totals")?;
    expect_eq(
        (after.tensors, after.tensor_bytes),
        (before.tensors, before.tensor_bytes),
    )
    .context("totals back")
}

/// A far-tier request lands on tier 1 when the machine has it, else on tier 0; either
/// way `tensor_info` names the tier the pages came from, as the per-tier totals show.
fn tier_placement() -> Check {
    let pages = 16u64;
    for (asked, name) in [(TIER_NEAR, "near"), (TIER_FAR, "far")] {
        let before = ai::totals().context("totals")?;
        let t = Tensor::create(DTYPE_F32, &[pages as u32 * 1024], asked).context(name)?;
        let got = t.info().context("info")?.tier;
        let after = ai::totals().context("totals")?;
        let (near, far) = (
            after.near_pages - before.near_pages,
            after.far_pages - before.far_pages,
        );
        let want = if got == TIER_FAR {
            (0, pages)
        } else {
            (pages, 0)
        };
        expect_eq((near, far), want).context(&format!("{name}: pages per tier"))?;
        if asked == TIER_NEAR {
            expect_eq(got, TIER_NEAR).context("near stays near")?;
        }
        if got == TIER_FAR {
            println!("ainfer: far tensor placed on tier 1");
        } else if asked == TIER_FAR {
            println!("ainfer: no far memory on this machine; far tensor placed on tier 0");
        }
    }
    Ok(())
}

/// A tensor handle travels in a message like a port handle: it needs `RIGHT_GRANT`, keeps
/// its rights, and the receiver reaches the same tensor.
fn handle_in_message() -> Check {
    let port = Port::create(2).context("port")?;
    let t = Tensor::create(DTYPE_I32, &[4], TIER_NEAR).context("create")?;
    t.write_i32(0, &[11, 22, 33, 44]).context("write")?;
    let ro = t.dup(RIGHT_READ | RIGHT_GRANT).context("dup")?;
    let mut msg = Message::new(1);
    msg.handles[0] = ro.into_raw();
    port.send(&msg, Timeout::NonBlocking).context("send")?;
    let mut got = Message::new(0);
    port.recv(&mut got, Timeout::NonBlocking).context("recv")?;
    if got.handles[0] == NO_HANDLE {
        return Err("no handle arrived".into());
    }
    let r = Tensor::from_raw(got.handles[0]);
    expect_eq(r.info().context("info")?.rights, RIGHT_READ | RIGHT_GRANT).context("rights")?;
    let mut v = [0i32; 4];
    r.read_i32(0, &mut v).context("read received")?;
    expect_eq(v, [11, 22, 33, 44]).context("same tensor")?;
    expect_errno(r.write_i32(0, &[1]), EACCES).context("still read-only")?;
    // Without the grant right it cannot leave.
    let nog = t.dup(RIGHT_READ).context("dup without grant")?;
    let mut msg = Message::new(1);
    msg.handles[0] = nog.raw();
    expect_errno(port.send(&msg, Timeout::NonBlocking), EACCES).context("send without grant")?;
    nog.info().context("still ours after the refusal")?;
    Ok(())
}
