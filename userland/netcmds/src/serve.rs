//! What `httpd` decides without touching the system: which file a request target names
//! (percent-decoded, dot segments resolved, never above the served directory), the
//! `Content-Type` for a name, status reasons, response heads, and the HTML of a
//! directory listing (names escaped). Never panics on any target.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Longest request target taken (`414` beyond).
pub const MAX_TARGET: usize = 2048;

/// Why a target names no file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// Not an origin-form path, a bad `%` escape, a NUL, or `..` above the root: 400.
    Bad,
    /// Longer than [`MAX_TARGET`]: 414.
    TooLong,
}

/// The served path for a request target, relative to the served directory: `""` for
/// the directory itself, else segments joined by `/` without a leading one. The query is
/// dropped; `%XX` escapes are decoded; `.` segments vanish; `..` removes the segment
/// before it and is an error when there is none (it would climb out). A trailing `/` is
/// reported in the second value.
pub fn resolve_target(target: &str) -> Result<(String, bool), TargetError> {
    if target.len() > MAX_TARGET {
        return Err(TargetError::TooLong);
    }
    let path = target.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') {
        return Err(TargetError::Bad);
    }
    let decoded = percent_decode(path).ok_or(TargetError::Bad)?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return Err(TargetError::Bad);
    }
    let mut segments: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(TargetError::Bad);
                }
            }
            s => segments.push(s),
        }
    }
    let trailing = decoded.ends_with('/');
    Ok((segments.join("/"), trailing))
}

/// `%XX` decoding; `None` for a bad escape or bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `%XX`-escapes what a path segment in a link cannot hold as is.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes text for HTML.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The `Content-Type` for a file name, by extension.
pub fn content_type(name: &str) -> &'static str {
    let ext = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.contains('/') => ext,
        _ => "",
    };
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" | "md" | "rs" | "toml" | "c" | "h" | "log" | "conf" | "desc" => {
            "text/plain; charset=utf-8"
        }
        "css" => "text/css",
        "js" => "text/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "zip" => "application/zip",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// The reason phrase of the statuses `httpd` sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A response head: status line, `Server`, `Content-Type`, `Content-Length`,
/// `Connection: close`, then `extra` header lines (each `Name: value`), then the blank
/// line.
pub fn response_head(status: u16, content_type: &str, length: u64, extra: &[String]) -> String {
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\nServer: wayos-httpd/{}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n",
        reason(status),
        crate::VERSION
    );
    for line in extra {
        h.push_str(line);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    h
}

/// A small HTML page for an error status.
pub fn error_page(status: u16) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><title>{status} {r}</title></head><body><h1>{status} {r}</h1></body></html>\n",
        r = reason(status)
    )
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
}

/// The listing page of the directory at URL path `url_path` (shown as is, escaped):
/// a parent link unless at the root, then the entries sorted by name, directories with a
/// trailing `/`.
pub fn listing_html(url_path: &str, entries: &[Entry]) -> String {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let title = html_escape(url_path);
    let mut page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\n<body><h1>Index of {title}</h1>\n<ul>\n"
    );
    if url_path != "/" {
        page.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for e in sorted {
        let slash = if e.is_dir { "/" } else { "" };
        let size = if e.is_dir {
            String::new()
        } else {
            format!(" ({} bytes)", e.size)
        };
        page.push_str(&format!(
            "<li><a href=\"{}{slash}\">{}{slash}</a>{size}</li>\n",
            html_escape(&percent_encode(&e.name)),
            html_escape(&e.name)
        ));
    }
    page.push_str("</ul>\n</body></html>\n");
    page
}

/// The file system path for a served path under `root`.
pub fn join_root(root: &str, rel: &str) -> String {
    let root = root.trim_end_matches('/');
    if rel.is_empty() {
        if root.is_empty() {
            "/".to_string()
        } else {
            root.to_string()
        }
    } else {
        format!("{root}/{rel}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_stay_inside_the_root() {
        let ok = |t: &str| resolve_target(t).unwrap();
        assert_eq!(ok("/"), ("".into(), true));
        assert_eq!(ok("/a/b.txt?x=1"), ("a/b.txt".into(), false));
        assert_eq!(ok("/a/./b/"), ("a/b".into(), true));
        assert_eq!(ok("/a/../b"), ("b".into(), false));
        assert_eq!(ok("//a//b"), ("a/b".into(), false));
        assert_eq!(ok("/a%20b"), ("a b".into(), false));
        assert_eq!(ok("/%2e/x"), ("x".into(), false));
        for bad in [
            "/..",
            "/../etc",
            "/a/../../b",
            "/%2e%2e/x",
            "/a/%2E%2E/%2e%2e/",
            "x",
            "",
            "*",
            "http://h/",
            "/%",
            "/%4",
            "/%zz",
            "/%00",
            "/%ff",
            "/a\\..\\b",
        ] {
            assert_eq!(resolve_target(bad), Err(TargetError::Bad), "{bad:?}");
        }
        let long = format!("/{}", "a".repeat(MAX_TARGET));
        assert_eq!(resolve_target(&long), Err(TargetError::TooLong));
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("A.TXT"), "text/plain; charset=utf-8");
        assert_eq!(content_type("x.bin"), "application/octet-stream");
        assert_eq!(content_type(".profile"), "application/octet-stream");
        assert_eq!(content_type("noext"), "application/octet-stream");
        assert_eq!(content_type("p.png"), "image/png");
    }

    #[test]
    fn heads() {
        let h = response_head(404, "text/html", 12, &["Allow: GET, HEAD".into()]);
        assert!(h.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(h.contains("\r\nContent-Length: 12\r\n"));
        assert!(h.contains("\r\nAllow: GET, HEAD\r\n"));
        assert!(h.ends_with("\r\n\r\n"));
        // The client parser reads what the server writes.
        let r = crate::http::Response::parse(h.as_bytes()).unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.headers.content_length(), Ok(Some(12)));
        assert!(error_page(405).contains("405 Method Not Allowed"));
    }

    #[test]
    fn listings_escape_names() {
        let entries = [
            Entry {
                name: "b.txt".into(),
                is_dir: false,
                size: 3,
            },
            Entry {
                name: "<a>&\"".into(),
                is_dir: true,
                size: 0,
            },
            Entry {
                name: "sp ace".into(),
                is_dir: false,
                size: 0,
            },
        ];
        let page = listing_html("/d/<x>/", &entries);
        assert!(page.contains("<title>Index of /d/&lt;x&gt;/</title>"));
        assert!(page.contains("<a href=\"../\">"));
        assert!(page.contains("<li><a href=\"%3Ca%3E&amp;%22/\">&lt;a&gt;&amp;&quot;/</a></li>"));
        assert!(page.contains("<a href=\"b.txt\">b.txt</a> (3 bytes)"));
        assert!(page.contains("href=\"sp%20ace\""));
        // Sorted by name: `<a>` before `b.txt` before `sp ace`.
        let a = page.find("&lt;a&gt;").unwrap();
        let b = page.find("b.txt").unwrap();
        let s = page.find("sp ace").unwrap();
        assert!(a < b && b < s);
        assert!(!listing_html("/", &[]).contains("../"));
    }

    #[test]
    fn roots() {
        assert_eq!(join_root("/", ""), "/");
        assert_eq!(join_root("/", "a/b"), "/a/b");
        assert_eq!(join_root("/srv/", "a"), "/srv/a");
        assert_eq!(join_root("/srv", ""), "/srv");
        assert_eq!(percent_decode("a%41%c3%a9"), Some("aAé".into()));
    }
}
