//! The harness's HTTP/1.1 server on the host's loopback, and the host HTTP client it
//! points at the guest's `httpd` through a port forward.
//!
//! Owns: the test blob (deterministic pseudo-random bytes, [`BLOB_LEN`] of them, and their
//! SHA-256), the server's four answers (`wayos_abi::harness::HTTP_*_PATH`: the blob with a
//! Content-Length, the same bytes chunked with a trailer, a 302 to the blob, 404 for the
//! rest), and running the host's own client (`curl`, else Python's urllib) several times
//! at once.
//!
//! Never: listen anywhere but 127.0.0.1; read an unbounded request (the head is capped at
//! [`HEAD_MAX`]); let one slow client hold another up (a thread per connection, capped at
//! [`MAX_CONNECTIONS`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wayos_abi::harness::{HTTP_BLOB_PATH, HTTP_CHUNKED_PATH, HTTP_REDIRECT_PATH};

/// 300 KiB and 17 bytes: several TCP windows, not a multiple of any buffer size.
pub const BLOB_LEN: usize = 300 * 1024 + 17;
/// The most a request head may take.
const HEAD_MAX: usize = 8 * 1024;
/// Connections served at once; more are answered 503 and closed.
const MAX_CONNECTIONS: usize = 64;
/// How long a connection may sit idle (reading its request or taking its body).
const IO_TIMEOUT: Duration = Duration::from_secs(120);
/// The chunk sizes of the chunked answer, in turn: tiny, odd, one byte, a page, large.
const CHUNK_SIZES: [usize; 6] = [1, 100, 4096, 8191, 65536, 17];

/// The blob: xorshift64* output from a fixed seed, so every run serves the same bytes.
pub fn blob() -> Vec<u8> {
    let mut x: u64 = 0x5741_594f_535f_3137; // "WAYOS_17"
    let mut out = Vec::with_capacity(BLOB_LEN + 8);
    while out.len() < BLOB_LEN {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(BLOB_LEN);
    out
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The server: a listener on 127.0.0.1 and its accept thread.
pub struct Server {
    pub port: u16,
    pub sha256: String,
    stop: Arc<AtomicBool>,
    /// Requests answered so far (any status).
    pub served: Arc<AtomicUsize>,
}

impl Server {
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let blob: Arc<[u8]> = blob().into();
        let sha256 = sha256_hex(&blob);
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let live = Arc::new(AtomicUsize::new(0));
        let (stop2, served2) = (stop.clone(), served.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        if live.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                            live.fetch_sub(1, Ordering::SeqCst);
                            let _ = respond(&stream, "503 Service Unavailable", &[], b"busy\n");
                            continue;
                        }
                        let (blob, served, live) = (blob.clone(), served2.clone(), live.clone());
                        std::thread::spawn(move || {
                            if serve(stream, &blob) {
                                served.fetch_add(1, Ordering::Relaxed);
                            }
                            live.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(Self {
            port,
            sha256,
            stop,
            served,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What the server answers for a request line's method and target.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Blob { head_only: bool },
    Chunked { head_only: bool },
    Redirect,
    NotFound,
    BadMethod,
    BadRequest,
}

/// Decides the answer from a request line (`GET /blob.bin HTTP/1.1`).
pub fn route(request_line: &str) -> Answer {
    let mut words = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Answer::BadRequest;
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Answer::BadRequest;
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Answer::BadMethod,
    };
    // The query string does not pick the file.
    let path = target.split('?').next().unwrap_or(target);
    match path {
        p if p == HTTP_BLOB_PATH => Answer::Blob { head_only },
        p if p == HTTP_CHUNKED_PATH => Answer::Chunked { head_only },
        p if p == HTTP_REDIRECT_PATH => Answer::Redirect,
        _ => Answer::NotFound,
    }
}

/// Serves one request on `stream` and closes it (`Connection: close`: one request per
/// connection keeps the server simple and every client must cope with it). True when a
/// request was answered.
pub(super) fn serve(stream: TcpStream, blob: &[u8]) -> bool {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let Some(line) = read_head(&stream) else {
        let _ = respond(&stream, "400 Bad Request", &[], b"bad request\n");
        return false;
    };
    let ok = match route(&line) {
        Answer::Blob { head_only } => {
            let len = blob.len().to_string();
            let body = if head_only { &[][..] } else { blob };
            respond_len(
                &stream,
                "200 OK",
                &[("Content-Type", "application/octet-stream")],
                &len,
                body,
            )
        }
        Answer::Chunked { head_only } => chunked(&stream, blob, head_only),
        Answer::Redirect => respond(
            &stream,
            "302 Found",
            &[("Location", HTTP_BLOB_PATH)],
            b"moved\n",
        ),
        Answer::NotFound => respond(&stream, "404 Not Found", &[], b"not found\n"),
        Answer::BadMethod => respond(
            &stream,
            "405 Method Not Allowed",
            &[("Allow", "GET, HEAD")],
            b"GET or HEAD\n",
        ),
        Answer::BadRequest => respond(&stream, "400 Bad Request", &[], b"bad request\n"),
    };
    let _ = stream.shutdown(Shutdown::Write);
    // Let the client read the end before the socket goes (a close with unread input
    // would reset the connection and could lose the answer's tail).
    let _ = std::io::copy(&mut (&stream).take(64 * 1024), &mut std::io::sink());
    ok.is_ok()
}

/// Reads the request head and returns its first line; `None` when it is missing, not
/// text, or longer than [`HEAD_MAX`].
fn read_head(stream: &TcpStream) -> Option<String> {
    let mut r = BufReader::new(stream.take(HEAD_MAX as u64));
    let mut first = String::new();
    r.read_line(&mut first).ok()?;
    loop {
        let mut l = String::new();
        match r.read_line(&mut l) {
            Ok(0) | Err(_) => return None,
            Ok(_) if l == "\r\n" || l == "\n" => break,
            Ok(_) => {}
        }
    }
    Some(first.trim_end().to_string())
}

fn respond(
    stream: &TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut h = headers.to_vec();
    h.push(("Content-Type", "text/plain"));
    respond_len(stream, status, &h, &body.len().to_string(), body)
}

fn respond_len(
    mut stream: &TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    len: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nServer: wayos-xtask\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {len}\r\n\r\n"));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// The chunked encoding of `blob`: chunks of [`CHUNK_SIZES`] in turn, the last chunk, a
/// trailer field carrying the SHA-256, the final blank line.
pub fn chunked_body(blob: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(blob.len() + 4096);
    let mut at = 0;
    for size in CHUNK_SIZES.iter().cycle() {
        if at == blob.len() {
            break;
        }
        let n = (*size).min(blob.len() - at);
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend_from_slice(&blob[at..at + n]);
        out.extend_from_slice(b"\r\n");
        at += n;
    }
    out.extend_from_slice(format!("0\r\nX-Blob-Sha256: {}\r\n\r\n", sha256_hex(blob)).as_bytes());
    out
}

fn chunked(mut stream: &TcpStream, blob: &[u8], head_only: bool) -> std::io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nServer: wayos-xtask\r\nConnection: close\r\n\
          Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\
          Trailer: X-Blob-Sha256\r\n\r\n",
    )?;
    if !head_only {
        stream.write_all(&chunked_body(blob))?;
    }
    stream.flush()
}

/// Fetches `url` `parallel` times at once with the host's own HTTP client and returns each
/// body's length and SHA-256 (or why it failed), in order.
pub fn get_parallel(
    url: &str,
    parallel: usize,
    timeout: Duration,
) -> Vec<Result<(usize, String), String>> {
    let client = client();
    let handles: Vec<_> = (0..parallel)
        .map(|_| {
            let (url, client) = (url.to_string(), client.clone());
            std::thread::spawn(move || get_one(&client, &url, timeout))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| Err("client thread panicked".into()))
        })
        .collect()
}

/// The host's HTTP client: `curl` when it runs, else Python.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Client {
    Curl,
    Python,
    None,
}

impl Client {
    pub fn name(&self) -> &'static str {
        match self {
            Client::Curl => "curl",
            Client::Python => "python3",
            Client::None => "none",
        }
    }
}

pub fn client() -> Client {
    let runs = |prog: &str, arg: &str| {
        Command::new(prog)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if runs("curl", "--version") {
        Client::Curl
    } else if runs("python3", "--version") {
        Client::Python
    } else {
        Client::None
    }
}

/// Python's urllib as a fallback client: the body to stdout, non-2xx or any error exits 1.
const PY_GET: &str = "import sys,urllib.request\n\
sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])).read())";

fn get_one(client: &Client, url: &str, timeout: Duration) -> Result<(usize, String), String> {
    let secs = timeout.as_secs().max(1).to_string();
    let mut cmd = match client {
        Client::Curl => {
            let mut c = Command::new("curl");
            // -f: an HTTP error status is a failure, not a body.
            c.args(["-sS", "-f", "--max-time", &secs, "-o", "-", url]);
            c
        }
        Client::Python => {
            let mut c = Command::new("python3");
            c.args(["-c", PY_GET, url, &secs]);
            c
        }
        Client::None => return Err("no host HTTP client (install curl or python3)".into()),
    };
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", client.name()))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.lines().last().unwrap_or("").trim();
        return Err(format!(
            "{} exited with {}: {why}",
            client.name(),
            out.status
        ));
    }
    Ok((out.stdout.len(), sha256_hex(&out.stdout)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_is_fixed() {
        let b = blob();
        assert_eq!(b.len(), BLOB_LEN);
        assert_eq!(b, blob());
        // Not constant, not periodic at small scales.
        assert_ne!(b[..4096], b[4096..8192]);
        assert_eq!(sha256_hex(b"abc").len(), 64);
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn routes() {
        assert_eq!(
            route("GET /blob.bin HTTP/1.1"),
            Answer::Blob { head_only: false }
        );
        assert_eq!(
            route("HEAD /chunked.bin HTTP/1.0"),
            Answer::Chunked { head_only: true }
        );
        assert_eq!(route("GET /redirect HTTP/1.1"), Answer::Redirect);
        assert_eq!(
            route("GET /blob.bin?x=1 HTTP/1.1"),
            Answer::Blob { head_only: false }
        );
        assert_eq!(route("GET /other HTTP/1.1"), Answer::NotFound);
        assert_eq!(route("GET / HTTP/1.1"), Answer::NotFound);
        assert_eq!(route("POST /blob.bin HTTP/1.1"), Answer::BadMethod);
        assert_eq!(route("GET /blob.bin"), Answer::BadRequest);
        assert_eq!(route("GET blob.bin HTTP/1.1"), Answer::BadRequest);
        assert_eq!(route("GET /a HTTP/1.1 x"), Answer::BadRequest);
        assert_eq!(route(""), Answer::BadRequest);
    }

    /// Decodes a chunked body the plain way, checking every CRLF.
    fn dechunk(mut b: &[u8]) -> (Vec<u8>, Vec<String>) {
        let mut out = Vec::new();
        loop {
            let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap(), 16).unwrap();
            b = &b[eol + 2..];
            if n == 0 {
                break;
            }
            out.extend_from_slice(&b[..n]);
            assert_eq!(&b[n..n + 2], b"\r\n");
            b = &b[n + 2..];
        }
        let text = std::str::from_utf8(b).unwrap();
        assert!(text.ends_with("\r\n\r\n"), "{text:?}");
        let trailers = text.trim_end().lines().map(str::to_string).collect();
        (out, trailers)
    }

    #[test]
    fn chunked_body_decodes_to_the_blob() {
        let b = blob();
        let (decoded, trailers) = dechunk(&chunked_body(&b));
        assert_eq!(decoded, b);
        assert_eq!(trailers, [format!("X-Blob-Sha256: {}", sha256_hex(&b))]);
        let (small, _) = dechunk(&chunked_body(b"x"));
        assert_eq!(small, b"x");
    }

    /// The real server on loopback, spoken to with a plain std socket.
    fn get(port: u16, request: &str) -> Vec<u8> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        out
    }

    fn split(resp: &[u8]) -> (String, Vec<u8>) {
        let at = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        (
            String::from_utf8(resp[..at].to_vec()).unwrap(),
            resp[at + 4..].to_vec(),
        )
    }

    #[test]
    fn server_answers_every_path() {
        let srv = Server::start().unwrap();
        let (head, body) = split(&get(srv.port, "GET /blob.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        assert!(
            head.contains(&format!("Content-Length: {BLOB_LEN}")),
            "{head}"
        );
        assert_eq!(sha256_hex(&body), srv.sha256);
        let (head, body) = split(&get(srv.port, "GET /chunked.bin HTTP/1.1\r\n\r\n"));
        assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
        assert_eq!(sha256_hex(&dechunk(&body).0), srv.sha256);
        let (head, _) = split(&get(srv.port, "GET /redirect HTTP/1.1\r\n\r\n"));
        assert!(head.starts_with("HTTP/1.1 302"), "{head}");
        assert!(head.contains("Location: /blob.bin"), "{head}");
        let (head, _) = split(&get(srv.port, "GET /nope HTTP/1.1\r\n\r\n"));
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        let (head, body) = split(&get(srv.port, "HEAD /blob.bin HTTP/1.1\r\n\r\n"));
        assert!(
            head.contains(&format!("Content-Length: {BLOB_LEN}")),
            "{head}"
        );
        assert!(body.is_empty());
        let (head, _) = split(&get(srv.port, "nonsense\r\n\r\n"));
        assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    }

    #[test]
    fn host_client_fetches_in_parallel() {
        let srv = Server::start().unwrap();
        if client() == Client::None {
            eprintln!("no curl or python3 on this host: the client half is not checked");
            return;
        }
        let url_blob = format!("http://127.0.0.1:{}{HTTP_BLOB_PATH}", srv.port);
        let got = get_parallel(&url_blob, 4, Duration::from_secs(30));
        assert_eq!(got.len(), 4);
        for g in got {
            assert_eq!(g, Ok((BLOB_LEN, srv.sha256.clone())));
        }
        let missing = format!("http://127.0.0.1:{}/missing", srv.port);
        assert!(get_parallel(&missing, 1, Duration::from_secs(30))[0].is_err());
    }
}
