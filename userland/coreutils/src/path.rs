//! Path strings: the last component, joining, and the "is this inside that" test `mv`
//! and `cp -r` need.

use alloc::string::String;

/// The last component (`basename`): `/a/b/` gives `b`, `/` gives `/`.
pub fn basename(p: &str) -> &str {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { "" } else { "/" };
    }
    t.rsplit('/').next().unwrap_or(t)
}

/// Everything before the last component (`dirname`): `a/b` gives `a`, `b` gives `.`.
pub fn dirname(p: &str) -> &str {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.starts_with('/') { "/" } else { "." };
    }
    match t.rfind('/') {
        None => ".",
        Some(i) => {
            let d = t[..i].trim_end_matches('/');
            if d.is_empty() {
                "/"
            } else {
                d
            }
        }
    }
}

/// `dir/name`, without doubling a slash.
pub fn join(dir: &str, name: &str) -> String {
    let mut s = String::from(dir);
    if !s.ends_with('/') {
        s.push('/');
    }
    s.push_str(name);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components() {
        assert_eq!(basename("/a/b"), "b");
        assert_eq!(basename("/a/b/"), "b");
        assert_eq!(basename("b"), "b");
        assert_eq!(basename("/"), "/");
        assert_eq!(basename("//"), "/");
        assert_eq!(basename(""), "");
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("a/b/"), "a");
        assert_eq!(dirname("b"), ".");
        assert_eq!(dirname("/b"), "/");
        assert_eq!(dirname("/"), "/");
        assert_eq!(dirname("a//b"), "a");
        assert_eq!(join("/tmp", "x"), "/tmp/x");
        assert_eq!(join("/tmp/", "x"), "/tmp/x");
        assert_eq!(join("/", "x"), "/x");
    }
}
