//! `http://host[:port]/path` URLs: parsing what a person types, and resolving a redirect's
//! `Location` against the URL that answered.
//!
//! Only `http` is known (there is no TLS): any other scheme is [`UrlError::Scheme`]. The
//! host is kept as typed (a name or a dotted quad; resolving it is the caller's job); the
//! path keeps its query and loses its fragment, as a client sends it. Never panics; the
//! lengths are bounded by [`MAX_URL`].

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;

/// The longest URL (or `Location`) taken, in bytes.
pub const MAX_URL: usize = 2048;
/// HTTP's default port.
pub const DEFAULT_PORT: u16 = 80;

/// A parsed `http` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    /// Starts with `/`; includes the query, never a fragment.
    pub path: String,
}

/// Why a URL was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlError {
    Empty,
    TooLong,
    /// Not `http://` (`https`, `ftp`, ...).
    Scheme,
    /// No host, or a host with characters a host name cannot have.
    Host,
    /// A port that is not 1..=65535.
    Port,
    /// Control characters or spaces in the path.
    Path,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::Empty => "empty URL",
            UrlError::TooLong => "URL too long",
            UrlError::Scheme => "only http:// URLs are supported",
            UrlError::Host => "bad host in URL",
            UrlError::Port => "bad port in URL",
            UrlError::Path => "bad characters in URL path",
        })
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.port == DEFAULT_PORT {
            write!(f, "http://{}{}", self.host, self.path)
        } else {
            write!(f, "http://{}:{}{}", self.host, self.port, self.path)
        }
    }
}

impl Url {
    /// Parses `http://host[:port][/path]`; the scheme may be left out (`host/path`).
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(UrlError::Empty);
        }
        if text.len() > MAX_URL {
            return Err(UrlError::TooLong);
        }
        let rest = match text.find("://") {
            Some(i) => {
                if !text[..i].eq_ignore_ascii_case("http") {
                    return Err(UrlError::Scheme);
                }
                &text[i + 3..]
            }
            None => text,
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = split_authority(authority)?;
        Ok(Url {
            host,
            port,
            path: clean_path(path)?,
        })
    }

    /// The URL a redirect's `Location` points to, read relative to `self` (RFC 3986
    /// reference resolution for the forms servers send: absolute `http://...`,
    /// scheme-relative `//host/...`, absolute path `/...`, and relative `a/b`, `../x`,
    /// `?q`).
    pub fn join(&self, location: &str) -> Result<Url, UrlError> {
        let loc = location.trim();
        if loc.is_empty() {
            return Err(UrlError::Empty);
        }
        if loc.len() > MAX_URL {
            return Err(UrlError::TooLong);
        }
        if let Some(i) = loc.find("://") {
            // A scheme is letters before `://` with no `/` in front.
            if !loc[..i].contains(['/', '?', '#']) {
                return Url::parse(loc);
            }
        }
        if let Some(rest) = loc.strip_prefix("//") {
            return Url::parse(&format!("http://{rest}"));
        }
        let path = if loc.starts_with('/') {
            loc.to_string()
        } else if loc.starts_with('?') {
            let base = self.path.split('?').next().unwrap_or("/");
            format!("{base}{loc}")
        } else if loc.starts_with('#') {
            self.path.clone()
        } else {
            let base = self.path.split('?').next().unwrap_or("/");
            let dir = match base.rfind('/') {
                Some(i) => &base[..=i],
                None => "/",
            };
            format!("{dir}{loc}")
        };
        Ok(Url {
            host: self.host.clone(),
            port: self.port,
            path: remove_dots(&clean_path(&path)?),
        })
    }

    /// The `Host` header's value: the port only when it is not 80.
    pub fn host_header(&self) -> String {
        if self.port == DEFAULT_PORT {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `host[:port]` with an optional `user@` in front (dropped).
fn split_authority(authority: &str) -> Result<(String, u16), UrlError> {
    let authority = match authority.rfind('@') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    let (host, port) = match authority.rfind(':') {
        Some(i) => {
            let digits = &authority[i + 1..];
            let port = if digits.is_empty() {
                DEFAULT_PORT
            } else {
                parse_port(digits).ok_or(UrlError::Port)?
            };
            (&authority[..i], port)
        }
        None => (authority, DEFAULT_PORT),
    };
    if host.is_empty()
        || host.len() > 253
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return Err(UrlError::Host);
    }
    Ok((host.to_ascii_lowercase(), port))
}

/// A decimal port 1..=65535.
pub fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = s.parse().ok()?;
    if (1..=65535).contains(&n) {
        Some(n as u16)
    } else {
        None
    }
}

/// The path as sent: starts with `/`, no fragment, no spaces or control characters.
fn clean_path(path: &str) -> Result<String, UrlError> {
    let path = path.split('#').next().unwrap_or("");
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(UrlError::Path);
    }
    Ok(if path.is_empty() {
        "/".to_string()
    } else if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    })
}

/// RFC 3986's remove_dot_segments on the path part (the query is kept as it is).
fn remove_dots(path: &str) -> String {
    let (p, query) = match path.find('?') {
        Some(i) => (&path[..i], &path[i..]),
        None => (path, ""),
    };
    let mut out: alloc::vec::Vec<&str> = alloc::vec::Vec::new();
    let segments: alloc::vec::Vec<&str> = p.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing = false;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => trailing = i == last,
            ".." => {
                out.pop();
                trailing = i == last;
            }
            s => {
                out.push(s);
                trailing = false;
            }
        }
    }
    let mut s = String::new();
    for seg in &out {
        s.push('/');
        s.push_str(seg);
    }
    if trailing || s.is_empty() {
        s.push('/');
    }
    s.push_str(query);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, port: u16, path: &str) -> Url {
        Url {
            host: host.into(),
            port,
            path: path.into(),
        }
    }

    #[test]
    fn parses_the_usual_forms() {
        assert_eq!(
            Url::parse("http://10.0.2.2:8000/blob.bin"),
            Ok(url("10.0.2.2", 8000, "/blob.bin"))
        );
        assert_eq!(
            Url::parse("http://Example.ORG"),
            Ok(url("example.org", 80, "/"))
        );
        assert_eq!(
            Url::parse("HTTP://h/a?b=c#frag"),
            Ok(url("h", 80, "/a?b=c"))
        );
        assert_eq!(Url::parse("h:8080"), Ok(url("h", 8080, "/")));
        assert_eq!(Url::parse("h?x"), Ok(url("h", 80, "/?x")));
        assert_eq!(Url::parse("http://user@h:81/"), Ok(url("h", 81, "/")));
        assert_eq!(Url::parse("http://h:/x"), Ok(url("h", 80, "/x")));
    }

    #[test]
    fn refuses_bad_urls() {
        assert_eq!(Url::parse(""), Err(UrlError::Empty));
        assert_eq!(Url::parse("https://h/"), Err(UrlError::Scheme));
        assert_eq!(Url::parse("ftp://h/"), Err(UrlError::Scheme));
        assert_eq!(Url::parse("http:///x"), Err(UrlError::Host));
        assert_eq!(Url::parse("http://h:0/"), Err(UrlError::Port));
        assert_eq!(Url::parse("http://h:65536/"), Err(UrlError::Port));
        assert_eq!(Url::parse("http://h:8x/"), Err(UrlError::Port));
        assert_eq!(Url::parse("http://h:123456/"), Err(UrlError::Port));
        assert_eq!(Url::parse("http://h o/"), Err(UrlError::Host));
        assert_eq!(Url::parse("http://h/a b"), Err(UrlError::Path));
        assert_eq!(Url::parse("http://h/a\x01"), Err(UrlError::Path));
        let long = format!("http://h/{}", "a".repeat(MAX_URL));
        assert_eq!(Url::parse(&long), Err(UrlError::TooLong));
    }

    #[test]
    fn displays_back() {
        assert_eq!(url("h", 80, "/x").to_string(), "http://h/x");
        assert_eq!(url("h", 81, "/x").to_string(), "http://h:81/x");
        assert_eq!(url("h", 81, "/").host_header(), "h:81");
        assert_eq!(url("h", 80, "/").host_header(), "h");
    }

    #[test]
    fn joins_locations_like_rfc3986() {
        let base = url("a", 8000, "/b/c/d?q");
        assert_eq!(base.join("http://x:9/y"), Ok(url("x", 9, "/y")));
        assert_eq!(base.join("//x/y"), Ok(url("x", 80, "/y")));
        assert_eq!(base.join("/g"), Ok(url("a", 8000, "/g")));
        assert_eq!(base.join("g"), Ok(url("a", 8000, "/b/c/g")));
        assert_eq!(base.join("./g"), Ok(url("a", 8000, "/b/c/g")));
        assert_eq!(base.join("g/"), Ok(url("a", 8000, "/b/c/g/")));
        assert_eq!(base.join("../g"), Ok(url("a", 8000, "/b/g")));
        assert_eq!(base.join("../.."), Ok(url("a", 8000, "/")));
        assert_eq!(base.join("../../../../g"), Ok(url("a", 8000, "/g")));
        assert_eq!(base.join("."), Ok(url("a", 8000, "/b/c/")));
        assert_eq!(base.join("?y"), Ok(url("a", 8000, "/b/c/d?y")));
        assert_eq!(base.join("g?y/../x"), Ok(url("a", 8000, "/b/c/g?y/../x")));
        assert_eq!(base.join("#s"), Ok(url("a", 8000, "/b/c/d?q")));
        assert_eq!(base.join("https://x/"), Err(UrlError::Scheme));
        assert_eq!(base.join(""), Err(UrlError::Empty));
        assert_eq!(base.join("a b"), Err(UrlError::Path));
        // A colon in a relative path is not a scheme.
        assert_eq!(base.join("x/y://z"), Ok(url("a", 8000, "/b/c/x/y://z")));
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("1"), Some(1));
        assert_eq!(parse_port("65535"), Some(65535));
        assert_eq!(parse_port("0"), None);
        assert_eq!(parse_port("+1"), None);
        assert_eq!(parse_port(""), None);
    }
}
