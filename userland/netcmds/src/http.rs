//! HTTP/1.1 messages as a client and a server meet them: finding and parsing a message
//! head (status line or request line, then headers), framing a response body
//! (`Content-Length`, chunked with trailers, or up to the close), and building requests.
//!
//! Everything here reads bytes that came from the network, so every input is bounded
//! and every error is a value: a head longer than [`MAX_HEAD`] or with more than
//! [`MAX_HEADERS`] fields, a chunk-size line longer than [`MAX_CHUNK_LINE`], a size that
//! overflows `u64`, conflicting lengths, bytes after the end — all are [`HttpError`]s.
//! Nothing here allocates more than the head it was given.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::url::Url;

/// Longest head (start line and headers, with the blank line) taken, in bytes.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header fields in one head (trailers included).
pub const MAX_HEADERS: usize = 100;
/// Longest chunk-size line (size, extensions, CRLF).
pub const MAX_CHUNK_LINE: usize = 1024;

/// What was wrong with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// The head passed [`MAX_HEAD`] bytes without ending.
    HeadTooLong,
    TooManyHeaders,
    /// The status line or request line is malformed.
    StartLine,
    /// A header line without a colon, with a space before it, or with bad bytes.
    Header,
    /// `Content-Length` not a number, or two different ones.
    ContentLength,
    /// A `Transfer-Encoding` other than `chunked` (alone or last).
    TransferEncoding,
    /// A chunk-size line that is not hex, too long, or overflows.
    ChunkSize,
    /// A chunk not followed by CRLF.
    ChunkEnd,
    /// The connection closed before the body was complete.
    Truncated,
    /// The body is bigger than the caller allows.
    TooBig,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpError::HeadTooLong => "response head too long",
            HttpError::TooManyHeaders => "too many header fields",
            HttpError::StartLine => "malformed start line",
            HttpError::Header => "malformed header field",
            HttpError::ContentLength => "bad Content-Length",
            HttpError::TransferEncoding => "unsupported Transfer-Encoding",
            HttpError::ChunkSize => "bad chunk size",
            HttpError::ChunkEnd => "chunk not followed by CRLF",
            HttpError::Truncated => "connection closed before the body was complete",
            HttpError::TooBig => "body too big",
        })
    }
}

/// Where the head ends: the length up to and including the blank line, if `buf` holds a
/// whole head; `Err(HeadTooLong)` once `buf` passes [`MAX_HEAD`] without one. Bare LF
/// line ends are accepted as RFC 9112 allows.
pub fn head_end(buf: &[u8]) -> Result<Option<usize>, HttpError> {
    let limit = buf.len().min(MAX_HEAD);
    let mut i = 0;
    while i < limit {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Ok(Some(i + 2));
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Ok(Some(i + 3));
            }
        }
        i += 1;
    }
    if buf.len() >= MAX_HEAD {
        Err(HttpError::HeadTooLong)
    } else {
        Ok(None)
    }
}

/// Header fields in order, names as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Content-Length`, if present: several fields (or a list) must agree.
    pub fn content_length(&self) -> Result<Option<u64>, HttpError> {
        let mut found: Option<u64> = None;
        for v in self.all("content-length") {
            for part in v.split(',') {
                let n = parse_decimal(part.trim()).ok_or(HttpError::ContentLength)?;
                if found.is_some_and(|f| f != n) {
                    return Err(HttpError::ContentLength);
                }
                found = Some(n);
            }
        }
        Ok(found)
    }

    /// Whether the body is chunked: `chunked` must be the last transfer coding, and the
    /// only one (this client decodes no other).
    pub fn chunked(&self) -> Result<bool, HttpError> {
        let codings: Vec<&str> = self
            .all("transfer-encoding")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        match codings.as_slice() {
            [] => Ok(false),
            [c] if c.eq_ignore_ascii_case("chunked") => Ok(true),
            _ => Err(HttpError::TransferEncoding),
        }
    }
}

/// A decimal `u64` without sign or spaces.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses header lines (each without its line end) into `out`.
fn parse_fields<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
    out: &mut Headers,
) -> Result<(), HttpError> {
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if out.0.len() >= MAX_HEADERS {
            return Err(HttpError::TooManyHeaders);
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(HttpError::Header)?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(HttpError::Header);
        }
        let value = &line[colon + 1..];
        if value.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(HttpError::Header);
        }
        let value = String::from_utf8_lossy(value);
        out.0.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from(value.trim_matches([' ', '\t'])),
        ));
    }
    Ok(())
}

/// A `tchar` of RFC 9110 (header names, methods).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The head's lines without their line ends (the blank line dropped).
fn head_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// A response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// `(1, 1)` for `HTTP/1.1`.
    pub version: (u8, u8),
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
}

impl Response {
    /// Parses a head as [`head_end`] delimited it.
    pub fn parse(head: &[u8]) -> Result<Response, HttpError> {
        if head.len() > MAX_HEAD {
            return Err(HttpError::HeadTooLong);
        }
        let mut lines = head_lines(head);
        let first = lines.next().ok_or(HttpError::StartLine)?;
        // `HTTP/x.y SP 3DIGIT SP reason` (the reason may be empty, its space too).
        let rest = first.strip_prefix(b"HTTP/").ok_or(HttpError::StartLine)?;
        if rest.len() < 7 || rest[1] != b'.' || rest[3] != b' ' {
            return Err(HttpError::StartLine);
        }
        let (maj, min) = (rest[0], rest[2]);
        if !maj.is_ascii_digit() || !min.is_ascii_digit() {
            return Err(HttpError::StartLine);
        }
        let code = &rest[4..7];
        if !code.iter().all(u8::is_ascii_digit) || code[0] == b'0' {
            return Err(HttpError::StartLine);
        }
        if rest.len() > 7 && rest[7] != b' ' {
            return Err(HttpError::StartLine);
        }
        let status = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        let reason = String::from_utf8_lossy(rest.get(8..).unwrap_or(&[])).into_owned();
        let mut headers = Headers::default();
        parse_fields(lines, &mut headers)?;
        Ok(Response {
            version: (maj - b'0', min - b'0'),
            status,
            reason,
            headers,
        })
    }

    /// Whether the status is a redirect this client follows.
    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
    }

    /// How the body is framed, for a response to `method` (RFC 9112 section 6.3).
    pub fn framing(&self, method: &str) -> Result<Framing, HttpError> {
        if method.eq_ignore_ascii_case("HEAD")
            || (100..200).contains(&self.status)
            || self.status == 204
            || self.status == 304
        {
            return Ok(Framing::Length(0));
        }
        if self.headers.chunked()? {
            return Ok(Framing::Chunked);
        }
        Ok(match self.headers.content_length()? {
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        })
    }
}

/// How a body's end is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
    /// The server closes the connection after the body.
    UntilClose,
}

/// The state of a [`Body`] decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Bytes of a `Content-Length` body still to come.
    Length(u64),
    /// Reading a chunk-size line (`line` bytes of it so far).
    Size,
    /// Bytes of the current chunk still to come.
    Data(u64),
    /// The CRLF after a chunk's data: how many of its bytes were seen (a bare LF is
    /// taken too).
    DataEnd(u8),
    /// Trailer lines after the last chunk (`line` bytes of the current one).
    Trailer,
    Done,
    UntilClose,
}

/// Decodes a body as its bytes arrive: `feed` gives it whatever the connection read and
/// hands the payload bytes to a sink; `finish` at the connection's end says whether the
/// body was complete. Bounded: at most [`MAX_CHUNK_LINE`] bytes of a size line, at most
/// [`MAX_HEAD`] bytes of trailers, and at most `limit` payload bytes in all.
#[derive(Clone, Debug)]
pub struct Body {
    state: State,
    /// The size line or trailer line being gathered.
    line: Vec<u8>,
    trailer_bytes: usize,
    /// Trailer fields, parsed.
    pub trailers: Headers,
    /// Payload bytes handed to the sink so far.
    pub received: u64,
    limit: u64,
}

impl Body {
    /// A decoder for `framing`, refusing more than `limit` payload bytes.
    pub fn new(framing: Framing, limit: u64) -> Result<Body, HttpError> {
        let state = match framing {
            Framing::Length(n) if n > limit => return Err(HttpError::TooBig),
            Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Size,
            Framing::UntilClose => State::UntilClose,
        };
        Ok(Body {
            state,
            line: Vec::new(),
            trailer_bytes: 0,
            trailers: Headers::default(),
            received: 0,
            limit,
        })
    }

    /// Whether the whole body has been seen (bytes after it are not the body's).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn payload<E>(
        &mut self,
        bytes: &[u8],
        sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), BodyError<E>> {
        self.received += bytes.len() as u64;
        if self.received > self.limit {
            return Err(BodyError::Http(HttpError::TooBig));
        }
        sink(bytes).map_err(BodyError::Sink)
    }

    /// Decodes `input`, handing payload bytes to `sink`; returns how many input bytes
    /// belonged to the body (less than `input.len()` only once the body is done).
    pub fn feed<E>(
        &mut self,
        input: &[u8],
        sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<usize, BodyError<E>> {
        let mut i = 0;
        while i < input.len() {
            let rest = &input[i..];
            match self.state {
                State::Done => return Ok(i),
                State::UntilClose => {
                    self.payload(rest, sink)?;
                    i = input.len();
                }
                State::Length(left) => {
                    let n = (left.min(rest.len() as u64)) as usize;
                    self.payload(&rest[..n], sink)?;
                    i += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Done
                    } else {
                        State::Length(left)
                    };
                }
                State::Data(left) => {
                    let n = (left.min(rest.len() as u64)) as usize;
                    self.payload(&rest[..n], sink)?;
                    i += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd(0)
                    } else {
                        State::Data(left)
                    };
                }
                State::DataEnd(seen) => {
                    let b = rest[0];
                    i += 1;
                    self.state = match (seen, b) {
                        (0, b'\r') => State::DataEnd(1),
                        (_, b'\n') => State::Size,
                        _ => return Err(BodyError::Http(HttpError::ChunkEnd)),
                    };
                }
                State::Size | State::Trailer => {
                    let nl = rest.iter().position(|&b| b == b'\n');
                    let take = nl.map_or(rest.len(), |p| p + 1);
                    let cap = if self.state == State::Size {
                        MAX_CHUNK_LINE
                    } else {
                        MAX_HEAD
                    };
                    if self.line.len() + take > cap
                        || (self.state == State::Trailer && self.trailer_bytes + take > MAX_HEAD)
                    {
                        return Err(BodyError::Http(if self.state == State::Size {
                            HttpError::ChunkSize
                        } else {
                            HttpError::HeadTooLong
                        }));
                    }
                    self.line.extend_from_slice(&rest[..take]);
                    i += take;
                    if nl.is_none() {
                        continue;
                    }
                    let line = core::mem::take(&mut self.line);
                    let text = line.strip_suffix(b"\n").unwrap_or(&line);
                    let text = text.strip_suffix(b"\r").unwrap_or(text);
                    if self.state == State::Size {
                        let size = chunk_size(text).map_err(BodyError::Http)?;
                        self.state = if size == 0 {
                            State::Trailer
                        } else if self.received.saturating_add(size) > self.limit {
                            return Err(BodyError::Http(HttpError::TooBig));
                        } else {
                            State::Data(size)
                        };
                    } else if text.is_empty() {
                        self.state = State::Done;
                    } else {
                        self.trailer_bytes += line.len();
                        parse_fields(core::iter::once(text), &mut self.trailers)
                            .map_err(BodyError::Http)?;
                    }
                }
            }
        }
        Ok(i)
    }

    /// The connection ended: `Ok` if the body is complete.
    pub fn finish(&mut self) -> Result<(), HttpError> {
        match self.state {
            State::Done => Ok(()),
            State::UntilClose => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(HttpError::Truncated),
        }
    }
}

/// A [`Body::feed`] failure: the message, or the sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError<E> {
    Http(HttpError),
    Sink(E),
}

/// A chunk-size line's size (hex, extensions after `;` ignored).
fn chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let hex = line[..end].trim_ascii();
    if hex.is_empty() || hex.len() > 16 {
        return Err(HttpError::ChunkSize);
    }
    let mut n: u64 = 0;
    for &b in hex {
        let d = (b as char).to_digit(16).ok_or(HttpError::ChunkSize)?;
        n = n.checked_mul(16).ok_or(HttpError::ChunkSize)? | u64::from(d);
    }
    Ok(n)
}

/// The request `fetch` sends.
pub fn get_request(url: &Url, method: &str) -> String {
    format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: wayos-fetch/{}\r\nAccept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        url.path,
        url.host_header(),
        crate::VERSION
    )
}

/// A request head as a server reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target as sent (`/path?query`).
    pub target: String,
    pub version: (u8, u8),
    pub headers: Headers,
}

impl Request {
    /// Parses a head as [`head_end`] delimited it.
    pub fn parse(head: &[u8]) -> Result<Request, HttpError> {
        if head.len() > MAX_HEAD {
            return Err(HttpError::HeadTooLong);
        }
        // Empty lines before the request line are allowed (RFC 9112 section 2.2).
        let mut lines = head_lines(head).skip_while(|l| l.is_empty());
        let first = lines.next().ok_or(HttpError::StartLine)?;
        let mut parts = first.split(|&b| b == b' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(HttpError::StartLine);
        };
        if method.is_empty() || !method.iter().all(|&b| is_token(b)) {
            return Err(HttpError::StartLine);
        }
        if target.is_empty() || target.iter().any(|&b| b <= b' ' || b >= 0x7f) {
            return Err(HttpError::StartLine);
        }
        let v = version.strip_prefix(b"HTTP/").ok_or(HttpError::StartLine)?;
        if v.len() != 3 || v[1] != b'.' || !v[0].is_ascii_digit() || !v[2].is_ascii_digit() {
            return Err(HttpError::StartLine);
        }
        let mut headers = Headers::default();
        parse_fields(lines, &mut headers)?;
        Ok(Request {
            method: String::from_utf8_lossy(method).into_owned(),
            target: String::from_utf8_lossy(target).into_owned(),
            version: (v[0] - b'0', v[2] - b'0'),
            headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn decode(framing: Framing, input: &[&[u8]]) -> Result<(Vec<u8>, Body), HttpError> {
        let mut body = Body::new(framing, 1 << 20)?;
        let mut out = Vec::new();
        for part in input {
            let used = body
                .feed(part, &mut |b: &[u8]| -> Result<(), ()> {
                    out.extend_from_slice(b);
                    Ok(())
                })
                .map_err(|e| match e {
                    BodyError::Http(h) => h,
                    BodyError::Sink(()) => unreachable!(),
                })?;
            if used < part.len() {
                assert!(body.is_done());
            }
        }
        body.finish()?;
        Ok((out, body))
    }

    #[test]
    fn finds_the_head_end() {
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n\r\nbody"), Ok(Some(19)));
        assert_eq!(head_end(b"HTTP/1.1 200 OK\n\nbody"), Ok(Some(17)));
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\nA: b\r\n"), Ok(None));
        assert_eq!(head_end(&[b'a'; MAX_HEAD]), Err(HttpError::HeadTooLong));
        assert_eq!(head_end(b""), Ok(None));
    }

    #[test]
    fn parses_a_status_line_and_headers() {
        let r = Response::parse(
            b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length:  12 \r\nX-Empty:\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.version, (1, 1));
        assert_eq!(r.status, 302);
        assert_eq!(r.reason, "Found");
        assert!(r.is_redirect());
        assert_eq!(r.headers.get("location"), Some("/x"));
        assert_eq!(r.headers.get("x-empty"), Some(""));
        assert_eq!(r.headers.content_length(), Ok(Some(12)));
        assert_eq!(r.framing("GET"), Ok(Framing::Length(12)));
        assert_eq!(r.framing("HEAD"), Ok(Framing::Length(0)));
        let r = Response::parse(b"HTTP/1.0 200\r\n\r\n").unwrap();
        assert_eq!((r.status, r.reason.as_str()), (200, ""));
        assert_eq!(r.framing("GET"), Ok(Framing::UntilClose));
        let r = Response::parse(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        assert_eq!(r.framing("GET"), Ok(Framing::Length(0)));
    }

    #[test]
    fn refuses_bad_heads() {
        for bad in [
            &b"HTTP/1.1 20 OK\r\n\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 099 x\r\n\r\n",
            b"HTTP/1 200 OK\r\n\r\n",
            b"HTTX/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200OK\r\n\r\n",
            b"\r\n\r\n",
            b"",
        ] {
            assert_eq!(Response::parse(bad), Err(HttpError::StartLine), "{bad:?}");
        }
        for bad in [
            &b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\x01c\r\n\r\n",
        ] {
            assert_eq!(Response::parse(bad), Err(HttpError::Header), "{bad:?}");
        }
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("h{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(Response::parse(&many), Err(HttpError::TooManyHeaders));
    }

    #[test]
    fn content_length_rules() {
        let h = |s: &str| Response::parse(format!("HTTP/1.1 200 OK\r\n{s}\r\n").as_bytes());
        let cl = |s: &str| h(s).unwrap().headers.content_length();
        assert_eq!(
            cl("Content-Length: 5\r\nContent-Length: 5\r\n"),
            Ok(Some(5))
        );
        assert_eq!(cl("Content-Length: 5, 5\r\n"), Ok(Some(5)));
        assert_eq!(
            cl("Content-Length: 5\r\ncontent-length: 6\r\n"),
            Err(HttpError::ContentLength)
        );
        assert_eq!(cl("Content-Length: -1\r\n"), Err(HttpError::ContentLength));
        assert_eq!(
            cl("Content-Length: 0x10\r\n"),
            Err(HttpError::ContentLength)
        );
        assert_eq!(
            cl("Content-Length: 99999999999999999999999\r\n"),
            Err(HttpError::ContentLength)
        );
        assert_eq!(cl("Content-Length:\r\n"), Err(HttpError::ContentLength));
        let te = |s: &str| h(s).unwrap().framing("GET");
        assert_eq!(
            te("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            te("Transfer-Encoding: gzip, chunked\r\n"),
            Err(HttpError::TransferEncoding)
        );
        assert_eq!(
            te("Transfer-Encoding: gzip\r\n"),
            Err(HttpError::TransferEncoding)
        );
        assert_eq!(te("Transfer-Encoding: Chunked\r\n"), Ok(Framing::Chunked));
    }

    #[test]
    fn length_bodies() {
        let (out, _) = decode(Framing::Length(5), &[b"he", b"llo"]).unwrap();
        assert_eq!(out, b"hello");
        // Bytes past the body are not taken.
        let mut body = Body::new(Framing::Length(2), 10).unwrap();
        let used = body.feed(b"abcd", &mut |_: &[u8]| -> Result<(), ()> { Ok(()) });
        assert_eq!(used, Ok(2));
        assert!(body.is_done());
        assert_eq!(
            decode(Framing::Length(5), &[b"hel"]).unwrap_err(),
            HttpError::Truncated
        );
        assert_eq!(
            Body::new(Framing::Length(11), 10).unwrap_err(),
            HttpError::TooBig
        );
        let (out, _) = decode(Framing::UntilClose, &[b"ab", b"c"]).unwrap();
        assert_eq!(out, b"abc");
        let (out, _) = decode(Framing::Length(0), &[]).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn chunked_bodies_in_any_split() {
        let wire =
            b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Sum: 7\r\n\r\n";
        let want = b"Wikipedia in\r\n\r\nchunks.";
        for split in 0..=wire.len() {
            let (a, b) = wire.split_at(split);
            let (out, body) = decode(Framing::Chunked, &[a, b]).unwrap();
            assert_eq!(out, want, "split at {split}");
            assert_eq!(body.trailers.get("x-sum"), Some("7"));
        }
        // Byte by byte.
        let parts: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(decode(Framing::Chunked, &parts).unwrap().0, want);
        // Bare LF line ends and upper-case hex.
        let (out, _) = decode(Framing::Chunked, &[b"A\nabcdefghij\n0\n\n"]).unwrap();
        assert_eq!(out, b"abcdefghij");
    }

    #[test]
    fn bad_chunked_bodies() {
        let err = |wire: &[u8]| decode(Framing::Chunked, &[wire]).unwrap_err();
        assert_eq!(err(b"zz\r\n"), HttpError::ChunkSize);
        assert_eq!(err(b"\r\n"), HttpError::ChunkSize);
        assert_eq!(err(b"-1\r\n"), HttpError::ChunkSize);
        assert_eq!(err(b"10000000000000000\r\n"), HttpError::ChunkSize);
        assert_eq!(err(b"3\r\nabcX"), HttpError::ChunkEnd);
        assert_eq!(err(b"3\r\nabc\rX"), HttpError::ChunkEnd);
        assert_eq!(err(b"3\r\nab"), HttpError::Truncated);
        assert_eq!(err(b"3\r\nabc\r\n0\r\n"), HttpError::Truncated);
        assert_eq!(err(b"3\r\nabc\r\n"), HttpError::Truncated);
        assert_eq!(err(b"0\r\nbad trailer\r\n\r\n"), HttpError::Header);
        let long = alloc::vec![b'1'; MAX_CHUNK_LINE + 1];
        assert_eq!(err(&long), HttpError::ChunkSize);
        // A huge declared chunk is refused before any of it arrives.
        assert_eq!(err(b"fffffffffffffff\r\n"), HttpError::TooBig);
        let mut trailers = b"0\r\n".to_vec();
        while trailers.len() <= MAX_HEAD + 10 {
            trailers.extend_from_slice(b"X: yyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n");
        }
        let e = err(&trailers);
        assert!(
            e == HttpError::HeadTooLong || e == HttpError::TooManyHeaders,
            "{e:?}"
        );
    }

    #[test]
    fn body_limit_and_sink_errors() {
        let mut body = Body::new(Framing::UntilClose, 3).unwrap();
        let r = body.feed(b"abcd", &mut |_: &[u8]| -> Result<(), ()> { Ok(()) });
        assert_eq!(r, Err(BodyError::Http(HttpError::TooBig)));
        let mut body = Body::new(Framing::Length(3), 3).unwrap();
        let r = body.feed(b"abc", &mut |_: &[u8]| Err(7));
        assert_eq!(r, Err(BodyError::Sink(7)));
    }

    #[test]
    fn requests() {
        let url = Url::parse("http://h:81/a?b").unwrap();
        let req = get_request(&url, "GET");
        assert!(req.starts_with("GET /a?b HTTP/1.1\r\nHost: h:81\r\n"));
        assert!(req.ends_with("\r\n\r\n"));
        let r = Request::parse(req.as_bytes()).unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/a?b");
        assert_eq!(r.version, (1, 1));
        assert_eq!(r.headers.get("host"), Some("h:81"));
        let r = Request::parse(b"\r\nHEAD / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!((r.method.as_str(), r.version), ("HEAD", (1, 0)));
        for bad in [
            &b"GET /\r\n\r\n"[..],
            b"GET / HTTP/1.1 x\r\n\r\n",
            b"GET  / HTTP/1.1\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/11\r\n\r\n",
            b"GET /\x01 HTTP/1.1\r\n\r\n",
            b"",
        ] {
            assert_eq!(Request::parse(bad), Err(HttpError::StartLine), "{bad:?}");
        }
        assert_eq!(
            Request::parse(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"),
            Err(HttpError::Header)
        );
        assert_eq!(
            HttpError::Truncated.to_string(),
            "connection closed before the body was complete"
        );
    }
}
