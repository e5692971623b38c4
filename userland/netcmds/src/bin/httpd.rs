//! `httpd [-p PORT] [-n COUNT] [-c CLIENTS] [DIR]`: a small HTTP/1.1 file server over
//! netd (port 8080 and `/` by default). GET and HEAD serve files from the VFS with a
//! Content-Length and a Content-Type by extension, and directories as HTML listings (a
//! directory asked for without its trailing `/` is a 301 to it); a target climbing out
//! of DIR or malformed is a 400, a missing file a 404, another method a 405. Every
//! response closes its connection. Each connection runs on its own thread, at most
//! CLIENTS (default 8) at once — the rest wait in the listen backlog — and a client that
//! goes quiet for [`REQUEST_TIMEOUT_NS`] or disconnects mid-request only ends its own
//! thread. One log line per request on standard output:
//! `PEER "METHOD TARGET HTTP/x.y" STATUS BYTES`. With `-n COUNT` it exits after COUNT
//! responses (handy in tests).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::format;
    use alloc::string::{String, ToString};
    use alloc::sync::Arc;
    use alloc::vec;
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicU64, Ordering};

    use coreutils::args::Spec;
    use coreutils::err;
    use coreutils::sys;
    use libway::abi::errno::{EACCES, EAGAIN, EINTR, ENOENT, ENOTDIR, ETIMEDOUT};
    use libway::abi::signal::SIGPIPE;
    use libway::fs::{File, StatExt};
    use libway::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
    use libway::thread::JoinHandle;
    use libway::{println, Args, Errno};
    use netcmds::http::{head_end, HttpError, Request};
    use netcmds::serve::{
        content_type, error_page, join_root, listing_html, resolve_target, response_head, Entry,
        TargetError,
    };
    use netcmds::sys::errtext;
    use netcmds::url::parse_port;

    const HELP: &str = "[-p PORT] [-n COUNT] [-c CLIENTS] [DIR]\nServe the files under DIR (default /) over HTTP/1.1 on PORT (default 8080).\n\n  -p PORT     the TCP port\n  -n COUNT    exit after COUNT responses\n  -c CLIENTS  connections served at once (default 8, at most 32)\n";
    const SPEC: Spec = Spec::short("p:n:c:");
    /// How long a client may take to send its request head.
    const REQUEST_TIMEOUT_NS: u64 = 10_000_000_000;
    /// How long the accept loop waits before it looks at the counts again.
    const ACCEPT_SLICE_NS: u64 = 200_000_000;
    const CHUNK: usize = 16 * 1024;
    const MAX_CLIENTS: usize = 32;
    /// Directory entries one listing shows.
    const MAX_LISTING: usize = 4096;

    /// A connection's outcome for the log.
    struct Served {
        request: String,
        status: u16,
        bytes: u64,
    }

    fn send(s: &TcpStream, bytes: &[u8]) -> Result<(), Errno> {
        s.write_all(bytes)
    }

    /// Sends a whole small response.
    fn respond(s: &TcpStream, status: u16, head_only: bool, extra: &[String]) -> Served {
        let page = error_page(status);
        let head = response_head(status, "text/html; charset=utf-8", page.len() as u64, extra);
        let mut bytes = 0;
        if send(s, head.as_bytes()).is_ok() && !head_only && send(s, page.as_bytes()).is_ok() {
            bytes = page.len() as u64;
        }
        Served {
            request: String::new(),
            status,
            bytes,
        }
    }

    /// Reads the request head; `Err(None)` when the client left or went quiet without
    /// sending anything worth an answer.
    fn read_head(s: &TcpStream) -> Result<Vec<u8>, Option<u16>> {
        let mut head = Vec::new();
        let mut buf = vec![0u8; 2048];
        loop {
            match head_end(&head) {
                Ok(Some(end)) => {
                    head.truncate(end);
                    return Ok(head);
                }
                Ok(None) => {}
                Err(_) => return Err(Some(431)),
            }
            match s.read(&mut buf) {
                Ok(0) => return Err(None),
                Ok(n) => head.extend_from_slice(&buf[..n]),
                Err(e) if e.code() == EINTR => {}
                Err(e) if e.code() == EAGAIN || e.code() == ETIMEDOUT => {
                    return Err(if head.is_empty() { None } else { Some(408) })
                }
                Err(_) => return Err(None),
            }
        }
    }

    fn listing(s: &TcpStream, path: &str, target: &str, head_only: bool) -> Served {
        let dir = match libway::fs::read_dir(path) {
            Ok(d) => d,
            Err(e) => return respond(s, status_of(e), head_only, &[]),
        };
        let mut entries = Vec::new();
        for e in dir.take(MAX_LISTING).flatten() {
            let full = format!("{}/{}", path.trim_end_matches('/'), e.name);
            let size = libway::fs::stat(&full).map(|st| st.size).unwrap_or(0);
            entries.push(Entry {
                is_dir: e.is_dir(),
                name: e.name,
                size,
            });
        }
        let url_path = target.split('?').next().unwrap_or("/");
        let page = listing_html(url_path, &entries);
        let head = response_head(200, "text/html; charset=utf-8", page.len() as u64, &[]);
        let mut bytes = 0;
        if send(s, head.as_bytes()).is_ok() && !head_only && send(s, page.as_bytes()).is_ok() {
            bytes = page.len() as u64;
        }
        Served {
            request: String::new(),
            status: 200,
            bytes,
        }
    }

    fn status_of(e: Errno) -> u16 {
        match e.code() {
            ENOENT | ENOTDIR => 404,
            EACCES => 403,
            _ => 500,
        }
    }

    fn file(s: &TcpStream, path: &str, head_only: bool) -> Served {
        let f = match File::open(path) {
            Ok(f) => f,
            Err(e) => return respond(s, status_of(e), head_only, &[]),
        };
        let size = match f.stat() {
            Ok(st) => st.size,
            Err(e) => return respond(s, status_of(e), head_only, &[]),
        };
        let head = response_head(200, content_type(path), size, &[]);
        let mut served = Served {
            request: String::new(),
            status: 200,
            bytes: 0,
        };
        if send(s, head.as_bytes()).is_err() || head_only {
            return served;
        }
        let mut buf = vec![0u8; CHUNK];
        // Exactly the announced length: a file that changes meanwhile cannot make the
        // response lie about its framing.
        while served.bytes < size {
            let want = (size - served.bytes).min(CHUNK as u64) as usize;
            let n = match f.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if send(s, &buf[..n]).is_err() {
                break;
            }
            served.bytes += n as u64;
        }
        served
    }

    /// Serves one connection; `None` if no request came.
    fn serve(s: &TcpStream, root: &str) -> Option<Served> {
        let _ = s.set_read_timeout(Some(REQUEST_TIMEOUT_NS));
        let head = match read_head(s) {
            Ok(h) => h,
            Err(None) => return None,
            Err(Some(code)) => return Some(respond(s, code, false, &[])),
        };
        let req = match Request::parse(&head) {
            Ok(r) => r,
            Err(HttpError::HeadTooLong | HttpError::TooManyHeaders) => {
                return Some(respond(s, 431, false, &[]))
            }
            Err(_) => return Some(respond(s, 400, false, &[])),
        };
        let line = format!(
            "{} {} HTTP/{}.{}",
            req.method, req.target, req.version.0, req.version.1
        );
        let head_only = req.method == "HEAD";
        let mut served = if req.version.0 != 1 {
            respond(s, 505, head_only, &[])
        } else if req.method != "GET" && !head_only {
            respond(s, 405, false, &["Allow: GET, HEAD".to_string()])
        } else {
            match resolve_target(&req.target) {
                Err(TargetError::TooLong) => respond(s, 414, head_only, &[]),
                Err(TargetError::Bad) => respond(s, 400, head_only, &[]),
                Ok((rel, trailing)) => {
                    let path = join_root(root, &rel);
                    match libway::fs::stat(&path) {
                        Err(e) => respond(s, status_of(e), head_only, &[]),
                        Ok(st) if st.is_dir() => {
                            if !trailing && !rel.is_empty() {
                                let base = req.target.split('?').next().unwrap_or("/");
                                respond(s, 301, head_only, &[format!("Location: {base}/")])
                            } else {
                                listing(s, &path, &req.target, head_only)
                            }
                        }
                        Ok(_) => file(s, &path, head_only),
                    }
                }
            }
        };
        served.request = line;
        Some(served)
    }

    fn log(peer: &SocketAddr, served: &Served) {
        println!(
            "{peer} \"{}\" {} {}",
            served.request, served.status, served.bytes
        );
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut port = libway::abi::harness::GUEST_HTTP_PORT;
        if let Some(v) = p.last('p') {
            match parse_port(v) {
                Some(n) => port = n,
                None => return sys::usage_error(format_args!("invalid port '{v}'"), 1),
            }
        }
        let limit = match p.last('n').map(str::parse::<u64>) {
            None => None,
            Some(Ok(n)) if n > 0 => Some(n),
            Some(_) => return sys::usage_error(format_args!("invalid count"), 1),
        };
        let clients = match p.last('c').map(str::parse::<usize>) {
            None => 8,
            Some(Ok(n)) if (1..=MAX_CLIENTS).contains(&n) => n,
            Some(_) => return sys::usage_error(format_args!("invalid client count"), 1),
        };
        if p.operands.len() > 1 {
            return sys::usage_error(format_args!("extra operand '{}'", p.operands[1]), 1);
        }
        let root: String = p.operands.first().copied().unwrap_or("/").to_string();
        match libway::fs::stat(&root) {
            Ok(st) if st.is_dir() => {}
            Ok(_) => {
                err!("{root}: {}", errtext(Errno(ENOTDIR)));
                return 1;
            }
            Err(e) => {
                err!("{root}: {}", errtext(e));
                return 1;
            }
        }
        sys::ignore_signal(SIGPIPE);
        let any = SocketAddr {
            ip: Ipv4Addr([0; 4]),
            port,
        };
        let listener = match TcpListener::bind(any) {
            Ok(l) => l,
            Err(e) => {
                err!("port {port}: {}", errtext(e));
                return 1;
            }
        };
        let _ = listener.set_read_timeout(Some(ACCEPT_SLICE_NS));
        println!("httpd: serving {root} on port {port}");
        let responses = Arc::new(AtomicU64::new(0));
        let root = Arc::new(root);
        let mut active: Vec<JoinHandle<()>> = Vec::new();
        loop {
            if limit.is_some_and(|n| responses.load(Ordering::SeqCst) >= n) {
                break;
            }
            let mut i = 0;
            while i < active.len() {
                if active[i].is_finished() {
                    let _ = active.swap_remove(i).join();
                } else {
                    i += 1;
                }
            }
            if active.len() >= clients {
                let _ = active[0].wait_timeout(ACCEPT_SLICE_NS);
                continue;
            }
            let (stream, peer) = match listener.accept() {
                Ok(c) => c,
                Err(e) if [EAGAIN, ETIMEDOUT, EINTR].contains(&e.code()) => continue,
                Err(e) => {
                    err!("accept: {}", errtext(e));
                    let _ = libway::time::sleep_ms(100);
                    continue;
                }
            };
            let (root2, count) = (root.clone(), responses.clone());
            let work = move || {
                if let Some(served) = serve(&stream, &root2) {
                    count.fetch_add(1, Ordering::SeqCst);
                    log(&peer, &served);
                }
            };
            match libway::thread::spawn(work) {
                Ok(h) => active.push(h),
                Err(e) => {
                    // No thread: the connection (moved into the closure) is dropped,
                    // which closes it; the client sees the close.
                    err!("thread: {}", errtext(e));
                }
            }
        }
        for h in active {
            let _ = h.join();
        }
        0
    }
}
