//! `aid`: the AI daemon. It loads `.waymodel` files for its clients, owns the models'
//! lifecycle and runs inference for them on the kernel's queue (`docs/aid.md`; protocol
//! `wayos_abi::aid`).
//!
//! **Doors and sessions.** aid registers a public door (`aid`) and two privileged ones
//! (`sys.aid.accel`, `sys.aid.rtprio`, which the kernel lets only holders of `aiaccel` /
//! `rtprio` look up: `ns_require`). A client calls a door with `CONNECT`, giving a send
//! handle to a *liveness port* it keeps the receive right of; aid answers with a session
//! port of its own. Each session is served by its own thread, so a slow request of one
//! client never delays another's (an RT request is answered while a background one runs);
//! within a session requests are served in order.
//!
//! **Lifecycle.** A model stays while some session holds it: loading an identical file
//! (same SHA-256 of its metadata, which covers the weights' hash) adds a holder instead
//! of a copy; the last holder's unload, or its end, drops it. A session ends when its
//! liveness port closes — the kernel closes it when the client exits or is killed — which
//! aid sees within `LIVENESS_POLL_MS` (a non-blocking send answers `EPIPE`); a request in
//! flight for a dead client is cancelled at the same check.
//!
//! **Ownership.** A session may use and unload only the models it holds. It holds a model
//! it loaded, or one another session shared with it: `SHARE` gives the sharer a *share
//! handle* (a send handle to a port aid made and keeps the receive side of), and
//! `ATTACH` with that handle makes the presenter a holder. aid recognises the port by
//! sending a nonce through the presented handle and finding it in one of its share ports,
//! so a share cannot be forged or guessed.
//!
//! **Classes.** Sessions from the public door may use normal and background; from a
//! privileged door also high and RT (aid itself holds `aiaccel`, which the kernel needs
//! for those). aid never lets a client reach a class the client could not use itself.
//!
//! **Never trusts a client.** Every length, id, class, handle and path is checked; a bad
//! request gets an errno and changes nothing; every handle a message brings that the
//! request does not use is closed; every per-session object is bounded (`wayos_abi::aid`
//! quotas). aid must never panic or block forever on a client: its waits have timeouts
//! or end when the client goes.
//!
//! Privileges: init starts it with `nssys` (its names) and `aiaccel` (the high classes);
//! after registering it keeps only `aiaccel` and filters out the calls it never makes.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::ai::{
    CLASS_BACKGROUND, CLASS_HIGH, CLASS_NORMAL, CLASS_RT, DTYPE_F32, DTYPE_I32, DTYPE_I8,
};
use libway::abi::aid::{
    Connect, Connected, Index, InferReq, ListEntry, Loaded, ModelDesc, ModelRef, Shape, StatsEntry,
    Usage, ATTACH, CONNECT, INFER, INFO, INLINE_IN, INLINE_OUT, LIST, LOAD, MAX_BYTES_PER_SESSION,
    MAX_IO_FLOATS, MAX_MODELS, MAX_MODELS_PER_SESSION, MAX_SESSIONS, MAX_SESSIONS_PER_PID,
    MAX_SHARES_PER_SESSION, NAME, NAME_ACCEL, NAME_RTPRIO, PATH_MAX, SESSION_QUEUE, SHARE, STATS,
    UNLOAD, USAGE_KERNEL,
};
use libway::abi::errno::{
    E2BIG, EACCES, EAGAIN, ECANCELED, EDQUOT, EINVAL, EIO, EMFILE, ENOENT, ENOEXEC, ENOSPC, EPERM,
    EPIPE, ETIMEDOUT,
};
use libway::abi::ipc::{Message, NO_HANDLE};
use libway::abi::waymodel::Header;
use libway::abi::zerocopy::{FromBytes, IntoBytes};
use libway::abi::Plain;
use libway::caps;
use libway::fs::{File, SeekFrom};
use libway::grant::MemHandle;
use libway::infer::{self, Model};
use libway::ipc::{self, ns, MessageExt, Port, ReplyHandle, Timeout, RIGHT_GRANT, RIGHT_SEND};
use libway::sync::Mutex;
use libway::{eprintln, println, Args, Errno};

libway::entry!(main);

/// Calls a door's queue holds while aid answers the one before.
const DOOR_QUEUE: usize = 16;
/// How often an idle session checks that its client is still there, and how often a
/// request in flight does.
const LIVENESS_POLL_MS: u64 = 200;
/// Each session thread's stack (requests keep their buffers on the heap).
const SESSION_STACK: usize = 64 * 1024;
/// Messages a share port holds (only aid's own nonce is expected; more is a client
/// filling it, which `ATTACH` drains first).
const SHARE_QUEUE: usize = 2;

/// One model aid holds.
struct Entry {
    id: u32,
    /// SHA-256 of the file's metadata (covering the weights' SHA-256): identical files
    /// share one entry.
    key: [u8; 32],
    name: [u8; 32],
    bytes: u64,
    /// Sessions holding it, in the order they came.
    holders: Vec<u32>,
    runs: u32,
    io: Arc<Io>,
    /// The kernel model: one run at a time (its bound input and output tensors are one
    /// set), so requests on one model take turns; other models run alongside.
    model: Arc<Mutex<Model>>,
}

/// A model's inputs and outputs as aid serves them.
struct Io {
    /// Each input's element count (all f32: checked at infer).
    inputs: Vec<(u32, usize)>,
    /// Each output's dtype and element count.
    outputs: Vec<(u32, usize)>,
    in_floats: usize,
    out_floats: usize,
    desc: ModelDesc,
}

struct SessionInfo {
    id: u32,
    pid: u32,
    privileged: bool,
    in_flight: u32,
    requests: u64,
    infers: u64,
    queued_ns: u64,
    run_ns: u64,
    wait_ns: u64,
    aid_ns: u64,
}

/// An outstanding share handle: whoever presents a send handle to `port` may hold
/// `model`.
struct Share {
    owner: u32,
    model: u32,
    port: Port,
}

struct State {
    models: Vec<Entry>,
    sessions: Vec<SessionInfo>,
    shares: Vec<Share>,
    next_model: u32,
    next_session: u32,
    nonce: u64,
}

static STATE: Mutex<State> = Mutex::new(State {
    models: Vec::new(),
    sessions: Vec::new(),
    shares: Vec::new(),
    next_model: 1,
    next_session: 1,
    nonce: 1,
});

type Res<T> = Result<T, isize>;

fn err(e: Errno) -> isize {
    e.code()
}

fn now_ns() -> u64 {
    libway::time::monotonic_ns().unwrap_or(0)
}

fn main(_args: Args) -> i32 {
    // Model ids differ from one run of aid to the next, so a client still holding an id
    // from an aid that died gets ENOENT rather than some new model.
    STATE.lock().next_model = ((now_ns() >> 10) as u32 & 0x7fff) << 16 | 1;
    let public = match open_door(NAME, 0) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("aid: cannot register '{NAME}': {e}");
            return 1;
        }
    };
    let mut privileged = Vec::new();
    for (name, cap) in [
        (NAME_ACCEL, caps::AI_ACCEL),
        (NAME_RTPRIO, caps::SET_RT_PRIORITY),
    ] {
        match open_door(name, cap) {
            Ok(p) => privileged.push(p),
            Err(e) => eprintln!("aid: no privileged door '{name}': {e}"),
        }
    }
    drop_privileges();
    for door in privileged {
        let started = libway::thread::Builder::new()
            .stack_size(SESSION_STACK)
            .spawn(move || serve_door(&door, true));
        if let Err(e) = started {
            eprintln!("aid: cannot start a door thread: {e}");
        }
    }
    println!(
        "aid: serving (pid {})",
        libway::process::getpid().unwrap_or(0)
    );
    serve_door(&public, false);
    0
}

/// A door port registered as `name`; with `cap`, only holders of `cap` may look it up
/// (if that cannot be set, the door is not opened: it would hand out privilege).
fn open_door(name: &str, cap: u32) -> Result<Port, Errno> {
    let port = Port::create(DOOR_QUEUE)?;
    ns::register(name, &port)?;
    if cap != 0 {
        ns::require(name, cap)?;
    }
    Ok(port)
}

/// Gives up what only the start needed: `aiaccel` stays (the kernel checks it for the
/// high classes aid submits for privileged sessions).
fn drop_privileges() {
    caps::narrow_server("aid", caps::AI_ACCEL);
}

/// Closes every handle a received message brought (those a request does not take).
fn close_handles(msg: &mut Message) {
    for i in 0..msg.handles.len() {
        if msg.handles[i] != NO_HANDLE {
            // A handle of any kind: closing goes through one table.
            drop(MemHandle::take(msg, i));
        }
    }
}

/// The request's record, which must be exactly the payload.
fn exact<T: Plain>(msg: &Message) -> Res<T> {
    T::read_from_bytes(msg.bytes()).map_err(|_| EINVAL)
}

fn answer(reply: ReplyHandle, result: Res<Message>) {
    let msg = match result {
        Ok(m) => m,
        Err(e) => Message::new(e as u64),
    };
    // The caller may have gone (EPIPE): nothing to do then.
    let _ = ipc::reply(reply, &msg);
}

fn ok_with<T: Plain>(rec: &T) -> Res<Message> {
    Message::with_bytes(0, rec.as_bytes()).map_err(err)
}

fn serve_door(door: &Port, privileged: bool) {
    loop {
        let mut msg = Message::new(0);
        match door.recv(&mut msg, Timeout::Forever) {
            Ok(()) => {}
            Err(e) if e.code() == EPIPE => return,
            Err(_) => continue,
        }
        let Some(reply) = msg.take_reply() else {
            close_handles(&mut msg);
            continue;
        };
        let r = if msg.label == CONNECT {
            connect(&mut msg, privileged)
        } else {
            Err(EINVAL)
        };
        close_handles(&mut msg);
        answer(reply, r);
    }
}

/// Whether the client behind a liveness port is still there.
fn alive(live: &Port) -> bool {
    match live.send(&Message::new(0), Timeout::NonBlocking) {
        Ok(()) => true,
        Err(e) => e.code() == ENOSPC,
    }
}

fn connect(msg: &mut Message, privileged: bool) -> Res<Message> {
    let req: Connect = exact(msg)?;
    let live = msg.take_handle(0).ok_or(EINVAL)?;
    match live.send(&Message::new(0), Timeout::NonBlocking) {
        Ok(()) => {}
        Err(e) if e.code() == ENOSPC => {}
        Err(e) if e.code() == EPIPE => return Err(EPIPE),
        Err(_) => return Err(EINVAL),
    }
    let pid = u32::try_from(req.pid).map_err(|_| EINVAL)?;
    let port = Port::create(SESSION_QUEUE).map_err(err)?;
    let theirs = port.dup(RIGHT_SEND | RIGHT_GRANT).map_err(err)?;
    let id = {
        let mut st = STATE.lock();
        if st.sessions.len() >= MAX_SESSIONS
            || st.sessions.iter().filter(|s| s.pid == pid).count() >= MAX_SESSIONS_PER_PID
        {
            return Err(EAGAIN);
        }
        let id = st.next_session;
        st.next_session = st.next_session.wrapping_add(1).max(1);
        st.sessions.push(SessionInfo {
            id,
            pid,
            privileged,
            in_flight: 0,
            requests: 0,
            infers: 0,
            queued_ns: 0,
            run_ns: 0,
            wait_ns: 0,
            aid_ns: 0,
        });
        id
    };
    let started = libway::thread::Builder::new()
        .stack_size(SESSION_STACK)
        .spawn(move || serve_session(id, privileged, port, live));
    if let Err(e) = started {
        end_session(id);
        return Err(err(e));
    }
    let mut out = ok_with(&Connected {
        session: id,
        privileged: privileged as u32,
    })?;
    if out.attach(theirs).is_err() {
        return Err(EIO);
    }
    Ok(out)
}

fn serve_session(id: u32, privileged: bool, port: Port, live: Port) {
    let sess = Session {
        id,
        privileged,
        live,
    };
    loop {
        let mut msg = Message::new(0);
        match port.recv(&mut msg, Timeout::ms(LIVENESS_POLL_MS)) {
            Ok(()) => {
                if let Some(reply) = msg.take_reply() {
                    let r = sess.handle(&mut msg);
                    close_handles(&mut msg);
                    answer(reply, r);
                    if let Some(s) = STATE.lock().sessions.iter_mut().find(|s| s.id == id) {
                        s.requests += 1;
                    }
                } else {
                    close_handles(&mut msg);
                }
                if !sess.alive() {
                    break;
                }
            }
            Err(e) if e.code() == ETIMEDOUT || e.code() == libway::abi::errno::EINTR => {
                if !sess.alive() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    end_session(id);
}

/// Forgets a session: its holds (models nobody else holds go), its shares, its record.
fn end_session(id: u32) {
    // Models leave the lock before they are dropped (a drop is syscalls).
    let mut gone: Vec<Entry> = Vec::new();
    {
        let mut st = STATE.lock();
        st.sessions.retain(|s| s.id != id);
        st.shares.retain(|s| s.owner != id);
        let mut i = 0;
        while i < st.models.len() {
            st.models[i].holders.retain(|&h| h != id);
            if st.models[i].holders.is_empty() {
                gone.push(st.models.remove(i));
            } else {
                i += 1;
            }
        }
        let models: Vec<u32> = st.models.iter().map(|m| m.id).collect();
        st.shares.retain(|s| models.contains(&s.model));
    }
    drop(gone);
}

struct Session {
    id: u32,
    privileged: bool,
    live: Port,
}

impl Session {
    fn alive(&self) -> bool {
        alive(&self.live)
    }

    fn handle(&self, msg: &mut Message) -> Res<Message> {
        match msg.label {
            LOAD => self.load(msg),
            UNLOAD => self.unload(exact::<ModelRef>(msg)?.id),
            LIST => list(exact::<Index>(msg)?.index),
            INFO => self.info(exact::<ModelRef>(msg)?.id),
            INFER => self.infer(msg),
            STATS => stats(exact::<Index>(msg)?.index),
            SHARE => self.share(exact::<ModelRef>(msg)?.id),
            ATTACH => self.attach(msg),
            _ => Err(EINVAL),
        }
    }

    /// Checks that a session may take one more model of `bytes` bytes.
    fn room_for(&self, st: &State, bytes: u64) -> Res<()> {
        let mine = st.models.iter().filter(|m| m.holders.contains(&self.id));
        let (count, held) = mine.fold((0usize, 0u64), |(c, b), m| (c + 1, b + m.bytes));
        if count >= MAX_MODELS_PER_SESSION {
            return Err(EMFILE);
        }
        if held.saturating_add(bytes) > MAX_BYTES_PER_SESSION {
            return Err(EDQUOT);
        }
        Ok(())
    }

    fn load(&self, msg: &Message) -> Res<Message> {
        let raw = msg.bytes();
        if raw.is_empty() || raw.len() > PATH_MAX || raw.contains(&0) {
            return Err(EINVAL);
        }
        let path = core::str::from_utf8(raw).map_err(|_| EINVAL)?;
        let file = File::open(path).map_err(err)?;
        let size = file.stat().map_err(err)?.size;
        self.room_for(&STATE.lock(), size)?;
        let model = infer::load_model(file.fd()).map_err(err)?;
        // The kernel read the file whole and checked it against its hashes; the
        // metadata hash it checked is the identity of the file.
        let (key, name) = identity(&file).map_err(|_| ENOEXEC)?;
        let io = describe(&model, &name, size)?;
        let mut st = STATE.lock();
        let already = st
            .models
            .iter()
            .any(|m| m.key == key && m.holders.contains(&self.id));
        if !already {
            self.room_for(&st, size)?;
        }
        if let Some(m) = st.models.iter_mut().find(|m| m.key == key) {
            if !m.holders.contains(&self.id) {
                m.holders.push(self.id);
            }
            let done = Loaded {
                id: m.id,
                holders: m.holders.len() as u32,
            };
            drop(st);
            drop(model);
            return ok_with(&done);
        }
        if st.models.len() >= MAX_MODELS {
            return Err(ENOSPC);
        }
        let id = st.next_model;
        st.next_model = st.next_model.wrapping_add(1).max(1);
        let mut io = io;
        io.desc.id = id;
        st.models.push(Entry {
            id,
            key,
            name,
            bytes: size,
            holders: vec![self.id],
            runs: 0,
            io: Arc::new(io),
            model: Arc::new(Mutex::new(model)),
        });
        ok_with(&Loaded { id, holders: 1 })
    }

    fn unload(&self, id: u32) -> Res<Message> {
        let gone = {
            let mut st = STATE.lock();
            let i = st.models.iter().position(|m| m.id == id).ok_or(ENOENT)?;
            let m = &mut st.models[i];
            if !m.holders.contains(&self.id) {
                return Err(EACCES);
            }
            m.holders.retain(|&h| h != self.id);
            if m.holders.is_empty() {
                st.shares.retain(|s| s.model != id);
                Some(st.models.remove(i))
            } else {
                st.shares.retain(|s| !(s.model == id && s.owner == self.id));
                None
            }
        };
        drop(gone);
        Ok(Message::new(0))
    }

    /// The model `id` if this session holds it (`ENOENT`: no such model; `EACCES`: not
    /// this session's).
    fn held(&self, st: &State, id: u32) -> Res<usize> {
        let i = st.models.iter().position(|m| m.id == id).ok_or(ENOENT)?;
        if st.models[i].holders.contains(&self.id) {
            Ok(i)
        } else {
            Err(EACCES)
        }
    }

    fn info(&self, id: u32) -> Res<Message> {
        let st = STATE.lock();
        let m = &st.models[self.held(&st, id)?];
        let mut d = m.io.desc;
        d.holders = m.holders.len() as u32;
        ok_with(&d)
    }

    fn infer(&self, msg: &mut Message) -> Res<Message> {
        let t0 = now_ns();
        let (req, _) = InferReq::read_from_prefix(msg.bytes()).map_err(|_| EINVAL)?;
        match req.class {
            CLASS_NORMAL | CLASS_BACKGROUND => {}
            CLASS_HIGH | CLASS_RT if self.privileged => {}
            CLASS_HIGH | CLASS_RT => return Err(EPERM),
            _ => return Err(EINVAL),
        }
        let (n_in, n_out) = (req.n_in as usize, req.n_out as usize);
        if n_in > MAX_IO_FLOATS || n_out > MAX_IO_FLOATS {
            return Err(E2BIG);
        }
        let (io, model) = {
            let st = STATE.lock();
            let m = &st.models[self.held(&st, req.id)?];
            (m.io.clone(), m.model.clone())
        };
        if n_in != io.in_floats || n_out != io.out_floats {
            return Err(EINVAL);
        }
        // Where the input comes from and the output goes.
        let head = core::mem::size_of::<InferReq>();
        let grant = match MemHandle::take(msg, 0) {
            Some(h) => {
                let buf = h.map(true).map_err(err)?;
                let need = (n_in + n_out).checked_mul(4).ok_or(E2BIG)?;
                if buf.len() < need {
                    return Err(EINVAL);
                }
                if msg.bytes().len() != head {
                    return Err(EINVAL);
                }
                Some(buf)
            }
            None => {
                if n_in > INLINE_IN || n_out > INLINE_OUT || msg.bytes().len() != head + n_in * 4 {
                    return Err(EINVAL);
                }
                None
            }
        };
        let mut input = Vec::new();
        input
            .try_reserve_exact(n_in * 4)
            .map_err(|_| libway::abi::errno::ENOMEM)?;
        input.resize(n_in * 4, 0);
        match &grant {
            Some(buf) => buf.read_at(0, &mut input).map_err(err)?,
            None => input.copy_from_slice(&msg.bytes()[head..]),
        }
        self.set_in_flight(1);
        let r = self.run(&model, &io, &input, req.class);
        self.set_in_flight(0);
        let (mut usage, out) = r?;
        // Output: inline after the usage, or into the grant after the input.
        let mut reply = Message::new(0);
        let ub = core::mem::size_of::<Usage>();
        match &grant {
            Some(buf) => buf.write_at(n_in * 4, out.as_bytes()).map_err(err)?,
            None => {
                let ob = out.as_bytes();
                reply.data[ub..ub + ob.len()].copy_from_slice(ob);
                reply.len = (ub + ob.len()) as u32;
            }
        }
        usage.aid_ns = now_ns().saturating_sub(t0).saturating_sub(usage.wait_ns);
        reply.data[..ub].copy_from_slice(usage.as_bytes());
        reply.len = reply.len.max(ub as u32);
        let mut st = STATE.lock();
        if let Some(s) = st.sessions.iter_mut().find(|s| s.id == self.id) {
            s.infers += 1;
            s.queued_ns += usage.queued_ns;
            s.run_ns += usage.run_ns;
            s.wait_ns += usage.wait_ns;
            s.aid_ns += usage.aid_ns;
        }
        if let Some(m) = st.models.iter_mut().find(|m| m.id == req.id) {
            m.runs = m.runs.wrapping_add(1);
        }
        Ok(reply)
    }

    fn set_in_flight(&self, n: u32) {
        if let Some(s) = STATE.lock().sessions.iter_mut().find(|s| s.id == self.id) {
            s.in_flight = n;
        }
    }

    /// One run of `model` on `input` (bytes of f32, every input in order): the model's
    /// lock held from writing its inputs to reading its outputs.
    fn run(
        &self,
        model: &Mutex<Model>,
        io: &Io,
        input: &[u8],
        class: u32,
    ) -> Res<(Usage, Vec<f32>)> {
        let m = model.lock();
        let mut at = 0;
        for (t, &(dtype, n)) in m.inputs.iter().zip(&io.inputs) {
            if dtype != DTYPE_F32 {
                return Err(EINVAL);
            }
            t.write(0, &input[at..at + n * 4]).map_err(err)?;
            at += n * 4;
        }
        let job = m.graph.submit(class).map_err(err)?;
        let submitted = now_ns();
        let mut usage = Usage::default();
        loop {
            match job.wait(LIVENESS_POLL_MS * 1_000_000) {
                Ok(()) => break,
                Err(e) if e.code() == ETIMEDOUT || e.code() == libway::abi::errno::EINTR => {
                    if !self.alive() {
                        let _ = job.cancel();
                        return Err(ECANCELED);
                    }
                }
                Err(e) => return Err(err(e)),
            }
        }
        usage.wait_ns = now_ns().saturating_sub(submitted);
        // The kernel's own accounting of the job when it has it (infer_stats);
        // without it (ENOSYS) only aid's times are filled in.
        if let Ok(st) = job.stats() {
            usage.queued_ns = st.queued_ns;
            usage.run_ns = st.run_ns;
            usage.nodes_run = st.nodes_run;
            usage.preemptions = st.preemptions;
            usage.flags |= USAGE_KERNEL;
        }
        let mut out = Vec::new();
        out.try_reserve_exact(io.out_floats)
            .map_err(|_| libway::abi::errno::ENOMEM)?;
        for (t, &(dtype, n)) in m.outputs.iter().zip(&io.outputs) {
            let mut raw = vec![0u8; n * libway::abi::ai::dtype_size(dtype).unwrap_or(4)];
            t.read(0, &mut raw).map_err(err)?;
            match dtype {
                DTYPE_F32 => out.extend(
                    raw.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                ),
                DTYPE_I32 => out.extend(
                    raw.chunks_exact(4)
                        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32),
                ),
                DTYPE_I8 => out.extend(raw.iter().map(|&b| b as i8 as f32)),
                _ => return Err(EIO),
            }
        }
        Ok((usage, out))
    }

    fn share(&self, id: u32) -> Res<Message> {
        let port = Port::create(SHARE_QUEUE).map_err(err)?;
        let theirs = port.dup(RIGHT_SEND | RIGHT_GRANT).map_err(err)?;
        {
            let mut st = STATE.lock();
            self.held(&st, id)?;
            if st.shares.iter().filter(|s| s.owner == self.id).count() >= MAX_SHARES_PER_SESSION {
                return Err(EMFILE);
            }
            st.shares.push(Share {
                owner: self.id,
                model: id,
                port,
            });
        }
        let mut out = Message::new(0);
        if out.attach(theirs).is_err() {
            return Err(EIO);
        }
        Ok(out)
    }

    fn attach(&self, msg: &mut Message) -> Res<Message> {
        let presented = msg.take_handle(0).ok_or(EINVAL)?;
        if !msg.bytes().is_empty() {
            return Err(EINVAL);
        }
        let mut st = STATE.lock();
        // Empty every share port, so the nonce is the one message found.
        for s in &st.shares {
            let mut junk = Message::new(0);
            while s.port.recv(&mut junk, Timeout::NonBlocking).is_ok() {
                close_handles(&mut junk);
            }
        }
        st.nonce = st.nonce.wrapping_add(1);
        let nonce = st.nonce;
        match presented.send(&Message::new(nonce), Timeout::NonBlocking) {
            Ok(()) => {}
            // A share port whose share was withdrawn is closed.
            Err(e) if e.code() == EPIPE => return Err(ENOENT),
            Err(_) => return Err(EINVAL),
        }
        let mut found = None;
        for s in &st.shares {
            let mut got = Message::new(0);
            if s.port.recv(&mut got, Timeout::NonBlocking).is_ok() {
                close_handles(&mut got);
                if got.label == nonce && got.reply == NO_HANDLE {
                    found = Some(s.model);
                }
            }
        }
        let model = found.ok_or(EINVAL)?;
        let i = st.models.iter().position(|m| m.id == model).ok_or(ENOENT)?;
        if !st.models[i].holders.contains(&self.id) {
            let bytes = st.models[i].bytes;
            self.room_for(&st, bytes)?;
            st.models[i].holders.push(self.id);
        }
        let m = &st.models[i];
        ok_with(&Loaded {
            id: m.id,
            holders: m.holders.len() as u32,
        })
    }
}

fn list(index: u32) -> Res<Message> {
    let st = STATE.lock();
    let mut e = ListEntry {
        total: st.models.len() as u32,
        ..Default::default()
    };
    if let Some(m) = st.models.get(index as usize) {
        e.id = m.id;
        e.name = m.name;
        e.bytes = m.bytes;
        e.holders = m.holders.len() as u32;
        for (d, s) in e.holder_ids.iter_mut().zip(&m.holders) {
            *d = *s;
        }
        e.runs = m.runs;
    }
    ok_with(&e)
}

fn stats(index: u32) -> Res<Message> {
    let st = STATE.lock();
    let mut e = StatsEntry {
        total: st.sessions.len() as u32,
        ..Default::default()
    };
    if let Some(s) = st.sessions.get(index as usize) {
        e.session = s.id;
        e.pid = s.pid;
        e.privileged = s.privileged as u32;
        e.models = st
            .models
            .iter()
            .filter(|m| m.holders.contains(&s.id))
            .count() as u32;
        e.in_flight = s.in_flight;
        e.requests = s.requests;
        e.infers = s.infers;
        e.queued_ns = s.queued_ns;
        e.run_ns = s.run_ns;
        e.wait_ns = s.wait_ns;
        e.aid_ns = s.aid_ns;
    }
    ok_with(&e)
}

/// The file's identity (its metadata SHA-256) and name, read back through the fd the
/// kernel loaded from.
fn identity(file: &File) -> Result<([u8; 32], [u8; 32]), Errno> {
    file.seek(SeekFrom::Start(0))?;
    let mut raw = [0u8; core::mem::size_of::<Header>()];
    read_exact(file, &mut raw)?;
    let h = Header::read_from_bytes(&raw).map_err(|_| Errno(ENOEXEC))?;
    let mut name = [0u8; 32];
    let len = (h.name.len as usize).min(name.len());
    let at = h
        .strings
        .offset
        .checked_add(h.name.offset as u64)
        .ok_or(Errno(ENOEXEC))?;
    if len > 0 {
        file.seek(SeekFrom::Start(at))?;
        read_exact(file, &mut name[..len])?;
    }
    Ok((h.meta_sha256, name))
}

fn read_exact(file: &File, mut buf: &mut [u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        let n = file.read(buf)?;
        if n == 0 {
            return Err(Errno(ENOEXEC));
        }
        buf = &mut buf[n..];
    }
    Ok(())
}

fn shape(info: &libway::abi::ai::TensorInfo) -> Shape {
    Shape {
        dtype: info.dtype,
        rank: info.rank,
        dims: info.dims,
    }
}

/// What a model takes and gives, from its tensors.
fn describe(model: &Model, name: &[u8; 32], bytes: u64) -> Res<Io> {
    let mut io = Io {
        inputs: Vec::new(),
        outputs: Vec::new(),
        in_floats: 0,
        out_floats: 0,
        desc: ModelDesc {
            name: *name,
            n_inputs: model.inputs.len() as u32,
            n_outputs: model.outputs.len() as u32,
            bytes,
            ..Default::default()
        },
    };
    for (i, t) in model.inputs.iter().enumerate() {
        let info = t.info().map_err(err)?;
        let n = elements(&info);
        if i == 0 {
            io.desc.input = shape(&info);
        }
        io.in_floats = io.in_floats.saturating_add(n);
        io.inputs.push((info.dtype, n));
    }
    for (i, t) in model.outputs.iter().enumerate() {
        let info = t.info().map_err(err)?;
        let n = elements(&info);
        if i == 0 {
            io.desc.output = shape(&info);
        }
        io.out_floats = io.out_floats.saturating_add(n);
        io.outputs.push((info.dtype, n));
    }
    io.desc.in_floats = io.in_floats.min(u32::MAX as usize) as u32;
    io.desc.out_floats = io.out_floats.min(u32::MAX as usize) as u32;
    Ok(io)
}

fn elements(info: &libway::abi::ai::TensorInfo) -> usize {
    let rank = (info.rank as usize).min(info.dims.len());
    info.dims[..rank]
        .iter()
        .fold(1usize, |a, &d| a.saturating_mul(d as usize))
}
