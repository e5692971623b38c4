//! `fetch [-v] [-I] [-o FILE] [-m MAX] URL`: HTTP/1.1 GET (HEAD with `-I`) through a
//! socket from netd, to standard output or FILE. Sends `Host`, reads a Content-Length,
//! chunked (with trailers) or until-close body straight from the socket descriptor,
//! follows up to MAX (default 5) redirects (301, 302, 303, 307, 308). Exit status 0 only
//! for a 2xx response with a complete body; otherwise 1 with the reason on standard
//! error (network errors with the errno's name). With `-o` the body may not exceed the
//! space the file system has left (`ENOSPC` before a byte is written when the length is
//! announced), and a failed download removes FILE.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::format;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    use coreutils::args::Spec;
    use coreutils::err;
    use coreutils::errmsg::quotef;
    use coreutils::sys;
    use libway::abi::errno::{EINTR, ENOSPC};
    use libway::fs::File;
    use libway::net::{SocketAddr, TcpStream};
    use libway::{Args, Errno};
    use netcmds::http::{self, head_end, Body, BodyError, HttpError, Response};
    use netcmds::sys::{errtext, resolve_errtext, resolve_host};
    use netcmds::url::Url;

    const HELP: &str = "[-v] [-I] [-o FILE] [-m MAX] URL\nFetch URL (http://HOST[:PORT]/PATH) with HTTP/1.1 GET to standard output.\n\n  -o FILE   write the body to FILE\n  -m MAX    follow at most MAX redirects (default 5)\n  -I        send HEAD and print the response head\n  -v        show the request and response heads on standard error\n";
    const SPEC: Spec = Spec::short("o:m:vI");
    /// How long a read may wait for the server.
    const READ_TIMEOUT_NS: u64 = 30_000_000_000;
    const READ_CHUNK: usize = 16 * 1024;

    /// Why a fetch failed.
    enum Failure {
        Net(&'static str, Errno),
        Resolve(Errno),
        Http(HttpError),
        Url(String),
        Status(u16, String),
        Output(Errno),
    }

    /// Where the body goes.
    enum Sink {
        Stdout,
        File(File),
    }

    impl Sink {
        fn write(&mut self, bytes: &[u8]) -> Result<(), Errno> {
            match self {
                Sink::Stdout => {
                    sys::write(bytes);
                    Ok(())
                }
                Sink::File(f) => f.write_all(bytes),
            }
        }
    }

    fn read(sock: &TcpStream, buf: &mut [u8]) -> Result<usize, Errno> {
        loop {
            // The body comes straight from the socket's file descriptor.
            match libway::io::read(sock.fd(), buf) {
                Err(e) if e.code() == EINTR => {}
                r => return r,
            }
        }
    }

    struct Opts {
        verbose: bool,
        head_only: bool,
        max_redirects: u32,
        limit: u64,
    }

    /// One request; `Ok(Some(next))` for a redirect to follow.
    fn once(url: &Url, o: &Opts, sink: &mut Sink) -> Result<Option<Url>, Failure> {
        let ip = resolve_host(&url.host).map_err(Failure::Resolve)?;
        let addr = SocketAddr { ip, port: url.port };
        let sock = TcpStream::connect(addr).map_err(|e| Failure::Net("connect", e))?;
        let _ = sock.set_read_timeout(Some(READ_TIMEOUT_NS));
        let method = if o.head_only { "HEAD" } else { "GET" };
        let req = http::get_request(url, method);
        if o.verbose {
            for l in req.lines().filter(|l| !l.is_empty()) {
                libway::eprintln!("> {l}");
            }
        }
        sock.write_all(req.as_bytes())
            .map_err(|e| Failure::Net("send", e))?;
        let mut buf = vec![0u8; READ_CHUNK];
        let mut head: Vec<u8> = Vec::new();
        let end = loop {
            if let Some(end) = head_end(&head).map_err(Failure::Http)? {
                break end;
            }
            let n = read(&sock, &mut buf).map_err(|e| Failure::Net("receive", e))?;
            if n == 0 {
                return Err(Failure::Http(if head.is_empty() {
                    HttpError::Truncated
                } else {
                    HttpError::StartLine
                }));
            }
            head.extend_from_slice(&buf[..n]);
        };
        let resp = Response::parse(&head[..end]).map_err(Failure::Http)?;
        if o.verbose || o.head_only {
            let text = String::from_utf8_lossy(&head[..end]);
            for l in text.lines().filter(|l| !l.trim().is_empty()) {
                if o.head_only {
                    sys::write_str(&format!("{}\n", l.trim_end()));
                } else {
                    libway::eprintln!("< {}", l.trim_end());
                }
            }
        }
        if resp.is_redirect() {
            let loc = resp
                .headers
                .get("location")
                .ok_or_else(|| Failure::Url("redirect without a Location".into()))?;
            return url
                .join(loc)
                .map(Some)
                .map_err(|e| Failure::Url(format!("redirect to {loc:?}: {e}")));
        }
        if !(200..300).contains(&resp.status) {
            return Err(Failure::Status(resp.status, resp.reason.clone()));
        }
        let framing = resp.framing(method).map_err(Failure::Http)?;
        let mut body = Body::new(framing, o.limit).map_err(|e| match e {
            HttpError::TooBig => Failure::Output(Errno(ENOSPC)),
            e => Failure::Http(e),
        })?;
        let mut write = |b: &[u8]| sink.write(b);
        let feed =
            |body: &mut Body, bytes: &[u8], write: &mut dyn FnMut(&[u8]) -> Result<(), Errno>| {
                body.feed(bytes, &mut |b: &[u8]| write(b))
                    .map_err(|e| match e {
                        BodyError::Http(HttpError::TooBig) if o.limit != u64::MAX => {
                            Failure::Output(Errno(ENOSPC))
                        }
                        BodyError::Http(h) => Failure::Http(h),
                        BodyError::Sink(e) => Failure::Output(e),
                    })
            };
        feed(&mut body, &head[end..], &mut write)?;
        drop(head);
        while !body.is_done() {
            let n = read(&sock, &mut buf).map_err(|e| Failure::Net("receive", e))?;
            if n == 0 {
                break;
            }
            feed(&mut body, &buf[..n], &mut write)?;
        }
        body.finish().map_err(Failure::Http)?;
        Ok(None)
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 2) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut o = Opts {
            verbose: p.has('v'),
            head_only: p.has('I'),
            max_redirects: 5,
            limit: u64::MAX,
        };
        if let Some(m) = p.last('m') {
            match m.parse::<u32>() {
                Ok(n) if n <= 100 => o.max_redirects = n,
                _ => return sys::usage_error(format_args!("invalid redirect count '{m}'"), 2),
            }
        }
        let [text] = p.operands.as_slice() else {
            return sys::usage_error(format_args!("one URL expected"), 2);
        };
        let mut url = match Url::parse(text) {
            Ok(u) => u,
            Err(e) => {
                err!("{text}: {e}");
                return 2;
            }
        };
        let out_path = p.last('o').filter(|&f| f != "-");
        let mut sink = match out_path {
            None => Sink::Stdout,
            Some(path) => match File::create(path) {
                Ok(f) => {
                    // The body may take what the file system has left.
                    if let Ok(fs) = libway::fs::statfs(path) {
                        o.limit = fs.bfree.saturating_mul(fs.bsize).min(fs.max_file_size);
                    }
                    Sink::File(f)
                }
                Err(e) => {
                    err!("{}: {}", quotef(path), errtext(e));
                    return 1;
                }
            },
        };
        let mut hops = 0;
        let result = loop {
            match once(&url, &o, &mut sink) {
                Ok(None) => break Ok(()),
                Ok(Some(next)) if hops < o.max_redirects => {
                    hops += 1;
                    if o.verbose {
                        libway::eprintln!("* redirect {hops} to {next}");
                    }
                    url = next;
                }
                Ok(Some(_)) => {
                    break Err(format!("{url}: more than {} redirects", o.max_redirects))
                }
                Err(f) => {
                    break Err(match f {
                        Failure::Net(what, e) => format!("{url}: {what}: {}", errtext(e)),
                        Failure::Resolve(e) => format!("{}: {}", url.host, resolve_errtext(e)),
                        Failure::Http(h) => format!("{url}: {h}"),
                        Failure::Url(why) => format!("{url}: {why}"),
                        Failure::Status(code, reason) => format!("{url}: {code} {reason}"),
                        Failure::Output(e) => {
                            format!("{}: {}", quotef(out_path.unwrap_or("-")), errtext(e))
                        }
                    })
                }
            }
        };
        drop(sink);
        match result {
            Ok(()) => 0,
            Err(why) => {
                if let Some(path) = out_path {
                    let _ = libway::fs::remove_file(path);
                }
                sys::flush();
                err!("{why}");
                1
            }
        }
    }
}
