//! The client of `aid`, the AI daemon (`docs/aid.md`; protocol `wayos_abi::aid`).
//!
//! [`Client::connect`] opens a session with aid (through a privileged door when this
//! process holds `aiaccel` or `rtprio`, so that its requests may use the classes it could
//! use itself); [`Client::load`], [`Client::unload`], [`Client::list`], [`Client::info`],
//! [`Client::infer`], [`Client::stats`], [`Client::share`] and [`Client::attach`] are one
//! call each. Inputs and outputs up to [`INLINE_IN`] / [`INLINE_OUT`] floats travel in the
//! message; larger ones in one page grant ([`crate::grant::SharedBuf`]) that aid maps,
//! never in chunks.
//!
//! When aid dies, a call in progress returns its error (`EPIPE`: the reply right died
//! with it, so there is never a second answer) and the session is forgotten; the next
//! call looks `aid` up again and opens a new session (models of the old one are gone with
//! the old aid: their ids answer `ENOENT`). A client is one session: two threads wanting
//! to run requests side by side use two clients.
//!
//! This module only builds and reads messages; aid checks everything it receives.

use alloc::vec::Vec;
use core::cell::RefCell;

use wayos_abi::aid::{
    Connect, Connected, Index, InferReq, Loaded, ModelRef, ATTACH, CONNECT, INFER, INFO, LIST,
    LOAD, NAME, NAME_ACCEL, NAME_RTPRIO, PATH_MAX, SHARE, STATS, UNLOAD,
};
pub use wayos_abi::aid::{
    ListEntry, ModelDesc, StatsEntry, Usage, INLINE_IN, INLINE_OUT, USAGE_KERNEL,
};
use wayos_abi::errno::{from_reply_label, EBADF, EINVAL, EIO, ENAMETOOLONG, EPIPE};
use wayos_abi::ipc::Message;
use wayos_abi::zerocopy::IntoBytes;
use wayos_abi::Plain;

use crate::errno::Errno;
use crate::grant::{SharedBuf, RIGHT_GRANT as MEM_GRANT, RIGHT_READ, RIGHT_WRITE};
use crate::ipc::{ns, MessageExt, Port, Timeout, RIGHT_GRANT, RIGHT_SEND};

/// A model as aid numbers it for this session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelId(pub u32);

/// How long opening a session may take (aid answers a door at once; this only bounds a
/// stuck aid).
const CONNECT_TIMEOUT_MS: u64 = 10_000;

struct Session {
    port: Port,
    /// The liveness port: aid ends the session once this (our receive right) is gone.
    _alive: Port,
    info: Connected,
}

/// One session with aid; reconnects on the next call after aid went away.
pub struct Client {
    session: RefCell<Option<Session>>,
}

/// The door this process may use: a privileged one when it holds a capability that
/// allows the high classes (the kernel's `ns_require` decides), else the public one.
fn door() -> Result<Port, Errno> {
    for (cap, name) in [
        (wayos_abi::caps::AI_ACCEL, NAME_ACCEL),
        (wayos_abi::caps::SET_RT_PRIORITY, NAME_RTPRIO),
    ] {
        if crate::caps::has(cap) {
            if let Ok(p) = ns::lookup(name) {
                return Ok(p);
            }
        }
    }
    ns::lookup(NAME)
}

fn open_session() -> Result<Session, Errno> {
    let door = door()?;
    let alive = Port::create(1)?;
    let theirs = alive.dup(RIGHT_SEND | RIGHT_GRANT)?;
    let pid = crate::process::getpid()? as u64;
    let mut msg = Message::with_bytes(CONNECT, Connect { pid }.as_bytes())?;
    if let Err(p) = msg.attach(theirs) {
        drop(p);
        return Err(Errno(EIO));
    }
    door.call(&mut msg, Timeout::ms(CONNECT_TIMEOUT_MS))?;
    status(&msg)?;
    let info: Connected = record(&msg)?;
    let port = msg.take_handle(0).ok_or(Errno(EIO))?;
    Ok(Session {
        port,
        _alive: alive,
        info,
    })
}

/// The reply label as a result.
fn status(msg: &Message) -> Result<(), Errno> {
    match msg.label {
        0 => Ok(()),
        l => Err(Errno(from_reply_label(l))),
    }
}

/// The record at the start of a reply; `EIO` when the reply is too short for it.
fn record<T: Plain>(msg: &Message) -> Result<T, Errno> {
    T::read_from_prefix(msg.bytes())
        .map(|(v, _)| v)
        .map_err(|_| Errno(EIO))
}

impl Client {
    /// Opens a session with aid (`ENOENT` while aid is not running).
    pub fn connect() -> Result<Client, Errno> {
        Ok(Client {
            session: RefCell::new(Some(open_session()?)),
        })
    }

    /// The session's number and whether it may use the high and RT classes; `None`
    /// after aid went away, until the next call reconnects.
    pub fn session(&self) -> Option<(u32, bool)> {
        self.session
            .borrow()
            .as_ref()
            .map(|s| (s.info.session, s.info.privileged != 0))
    }

    /// One call on the session (opened first if there is none); the reply's label is
    /// turned into the result. A dead session is forgotten.
    fn call(&self, msg: &mut Message) -> Result<(), Errno> {
        let mut slot = self.session.borrow_mut();
        if slot.is_none() {
            *slot = Some(open_session()?);
        }
        let r = match slot.as_ref() {
            Some(s) => s.port.call(msg, Timeout::Forever),
            None => Err(Errno(EIO)),
        };
        if let Err(e) = r {
            if matches!(e.code(), EPIPE | EBADF) {
                *slot = None;
            }
            return Err(e);
        }
        status(msg)
    }

    /// Loads the `.waymodel` file at `path` (or shares an identical one aid already
    /// holds). `ENAMETOOLONG` past 128 bytes.
    pub fn load(&self, path: &str) -> Result<ModelId, Errno> {
        if path.len() > PATH_MAX {
            return Err(Errno(ENAMETOOLONG));
        }
        let mut msg = Message::with_bytes(LOAD, path.as_bytes())?;
        self.call(&mut msg)?;
        let l: Loaded = record(&msg)?;
        Ok(ModelId(l.id))
    }

    /// Drops this session's hold on `id`.
    pub fn unload(&self, id: ModelId) -> Result<(), Errno> {
        let mut msg = Message::with_bytes(UNLOAD, ModelRef { id: id.0 }.as_bytes())?;
        self.call(&mut msg)
    }

    /// Every model aid holds.
    pub fn list(&self) -> Result<Vec<ListEntry>, Errno> {
        self.records(LIST, |e: &ListEntry| e.total)
    }

    /// A model this session holds: name, inputs and outputs, holders.
    pub fn info(&self, id: ModelId) -> Result<ModelDesc, Errno> {
        let mut msg = Message::with_bytes(INFO, ModelRef { id: id.0 }.as_bytes())?;
        self.call(&mut msg)?;
        record(&msg)
    }

    /// Every session aid serves, with its accounting.
    pub fn stats(&self) -> Result<Vec<StatsEntry>, Errno> {
        self.records(STATS, |e: &StatsEntry| e.total)
    }

    fn records<T: Plain>(&self, label: u64, total: impl Fn(&T) -> u32) -> Result<Vec<T>, Errno> {
        let mut out = Vec::new();
        let mut index = 0u32;
        loop {
            let mut msg = Message::with_bytes(label, Index { index }.as_bytes())?;
            self.call(&mut msg)?;
            let rec: T = record(&msg)?;
            if index >= total(&rec) {
                return Ok(out);
            }
            out.push(rec);
            index += 1;
        }
    }

    /// Runs model `id` once on `input` in job class `class`, writing `output` (its
    /// lengths must be the model's [`ModelDesc::in_floats`] and `out_floats`: `EINVAL`
    /// otherwise). Returns what the request used.
    pub fn infer(
        &self,
        id: ModelId,
        input: &[f32],
        output: &mut [f32],
        class: u32,
    ) -> Result<Usage, Errno> {
        let req = InferReq {
            id: id.0,
            class,
            n_in: u32::try_from(input.len()).map_err(|_| Errno(EINVAL))?,
            n_out: u32::try_from(output.len()).map_err(|_| Errno(EINVAL))?,
        };
        let mut msg = Message::new(INFER);
        let head = core::mem::size_of::<InferReq>();
        if input.len() <= INLINE_IN && output.len() <= INLINE_OUT {
            msg.data[..head].copy_from_slice(req.as_bytes());
            let body = input.as_bytes();
            msg.data[head..head + body.len()].copy_from_slice(body);
            msg.len = (head + body.len()) as u32;
            self.call(&mut msg)?;
            let usage: Usage = record(&msg)?;
            let got = msg
                .bytes()
                .get(core::mem::size_of::<Usage>()..)
                .ok_or(Errno(EIO))?;
            let want = output.as_mut_bytes();
            let src = got.get(..want.len()).ok_or(Errno(EIO))?;
            want.copy_from_slice(src);
            return Ok(usage);
        }
        let in_bytes = input.len().checked_mul(4).ok_or(Errno(EINVAL))?;
        let total = output
            .len()
            .checked_mul(4)
            .and_then(|o| o.checked_add(in_bytes))
            .ok_or(Errno(EINVAL))?;
        let buf = SharedBuf::new(total)?;
        buf.write_at(0, input.as_bytes())?;
        let handle = buf.grant(RIGHT_READ | RIGHT_WRITE | MEM_GRANT)?;
        msg.set_bytes(req.as_bytes())?;
        if handle.attach(&mut msg).is_err() {
            return Err(Errno(EIO));
        }
        self.call(&mut msg)?;
        let usage: Usage = record(&msg)?;
        buf.read_at(in_bytes, output.as_mut_bytes())?;
        Ok(usage)
    }

    /// A share handle for model `id`: give it to another process (in a message), whose
    /// [`Client::attach`] then holds the model too.
    pub fn share(&self, id: ModelId) -> Result<Port, Errno> {
        let mut msg = Message::with_bytes(SHARE, ModelRef { id: id.0 }.as_bytes())?;
        self.call(&mut msg)?;
        msg.take_handle(0).ok_or(Errno(EIO))
    }

    /// Holds the model behind a share handle (from [`Client::share`]).
    pub fn attach(&self, share: Port) -> Result<ModelId, Errno> {
        let mut msg = Message::new(ATTACH);
        if msg.attach(share).is_err() {
            return Err(Errno(EIO));
        }
        self.call(&mut msg)?;
        let l: Loaded = record(&msg)?;
        Ok(ModelId(l.id))
    }

    /// Sends `msg` as it is on the session and returns the raw reply (for tests of bad
    /// requests: the label is the errno).
    pub fn raw_call(&self, msg: &mut Message) -> Result<(), Errno> {
        self.call(msg)
    }
}

impl Drop for Client {
    /// Ends the session at once: the liveness port closes first, then a plain message
    /// wakes the session's thread in aid, which finds its client gone.
    fn drop(&mut self) {
        if let Some(s) = self.session.get_mut().take() {
            let Session { port, _alive, .. } = s;
            drop(_alive);
            let _ = port.send(&Message::new(0), Timeout::NonBlocking);
        }
    }
}

/// A model name field as text.
pub fn name_of(field: &[u8]) -> &str {
    crate::infer::name_of(field)
}
