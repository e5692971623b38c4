//! Small pure helpers of the executor: where to look for a program, quoting a value so it
//! reads back, builtin names, the argument of `exit`, and the prompt.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The shell's builtins, sorted (completion offers them with the programs in `$PATH`).
pub const BUILTINS: [&str; 13] = [
    ":", "cd", "echo", "exit", "export", "false", "help", "history", "pwd", "set", "true", "type",
    "unset",
];

/// True if `name` is a builtin.
pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// The search path used when `$PATH` is unset.
pub const DEFAULT_PATH: &str = "/bin";

/// The files to try, in order, for command `name` under search path `path`: `name`
/// itself if it contains a `/`, else `dir/name` for each `:`-separated directory (an empty
/// entry is the current directory).
pub fn path_candidates(name: &str, path: &str) -> Vec<String> {
    if name.contains('/') {
        return alloc::vec![name.into()];
    }
    if name.is_empty() {
        return Vec::new();
    }
    path.split(':')
        .map(|dir| match dir {
            "" => format!("./{name}"),
            d if d.ends_with('/') => format!("{d}{name}"),
            d => format!("{d}/{name}"),
        })
        .collect()
}

/// `s` as a shell word that reads back as `s`: unchanged when it is made only of safe
/// characters, else in single quotes (a `'` inside becomes `'\''`).
pub fn quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        return s.into();
    }
    let mut q = String::from("'");
    for c in s.chars() {
        if c == '\'' {
            q.push_str("'\\''");
        } else {
            q.push(c);
        }
    }
    q.push('\'');
    q
}

/// The status `exit ARG` leaves with: a decimal number (sign allowed) taken modulo 256.
pub fn exit_status_arg(arg: &str) -> Option<i32> {
    let (neg, digits) = match arg.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, arg.strip_prefix('+').unwrap_or(arg)),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let n = if neg { -n } else { n };
    Some(n.rem_euclid(256) as i32)
}

/// The prompt: `$PS1` if set, else `waysh:<dir>$ ` with the home directory shown as `~`.
pub fn prompt(ps1: Option<&str>, cwd: &str, home: Option<&str>) -> String {
    if let Some(p) = ps1 {
        return p.into();
    }
    let shown = match home {
        Some(h) if h != "/" && !h.is_empty() && cwd == h => String::from("~"),
        Some(h)
            if h != "/"
                && !h.is_empty()
                && cwd.starts_with(h)
                && cwd[h.len()..].starts_with('/') =>
        {
            format!("~{}", &cwd[h.len()..])
        }
        _ => cwd.into(),
    };
    format!("waysh:{shown}$ ")
}

/// `path` made absolute against `cwd` and cleaned of `.`, `..` and repeated slashes,
/// without looking at the file system (what `$PWD` shows after `cd`).
pub fn logical_path(cwd: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let base = if path.starts_with('/') { "" } else { cwd };
    for piece in base.split('/').chain(path.split('/')) {
        match piece {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = String::new();
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_known() {
        for b in ["cd", "pwd", "exit", "help", "export", "unset", "echo", ":"] {
            assert!(is_builtin(b), "{b}");
        }
        for not in ["ls", "[[", "]]", "", "CD"] {
            assert!(!is_builtin(not), "{not}");
        }
    }

    #[test]
    fn candidates_follow_path() {
        assert_eq!(
            path_candidates("ls", "/bin:/usr/bin/"),
            ["/bin/ls", "/usr/bin/ls"]
        );
        assert_eq!(path_candidates("ls", ":/bin"), ["./ls", "/bin/ls"]);
        assert_eq!(path_candidates("ls", ""), ["./ls"]);
        assert_eq!(path_candidates("./x", "/bin"), ["./x"]);
        assert_eq!(path_candidates("/bin/ls", "/nope"), ["/bin/ls"]);
        assert!(path_candidates("", "/bin").is_empty());
    }

    #[test]
    fn quoting_reads_back() {
        assert_eq!(quote("/bin"), "/bin");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("$X"), "'$X'");
        // What `quote` makes parses back to the original.
        for s in ["a b", "it's", "$X \"y\" \\z", "", "tab\there", "日本"] {
            let line = format!("echo {}", quote(s));
            let script = crate::parse::parse(&line).unwrap();
            let vars = crate::vars::Vars::new();
            let ctx = crate::expand::Context {
                vars: &vars,
                status: 0,
                pid: 1,
                args: &[],
            };
            let argv = crate::expand::expand_words(&script.items[0].first.commands[0].words, &ctx);
            assert_eq!(argv, ["echo", s], "{line}");
        }
    }

    #[test]
    fn exit_arguments() {
        assert_eq!(exit_status_arg("0"), Some(0));
        assert_eq!(exit_status_arg("3"), Some(3));
        assert_eq!(exit_status_arg("256"), Some(0));
        assert_eq!(exit_status_arg("257"), Some(1));
        assert_eq!(exit_status_arg("-1"), Some(255));
        assert_eq!(exit_status_arg("+7"), Some(7));
        for bad in ["", "-", "x", "1x", "99999999999999999999", " 1"] {
            assert_eq!(exit_status_arg(bad), None, "{bad}");
        }
    }

    #[test]
    fn prompts() {
        assert_eq!(prompt(None, "/", Some("/")), "waysh:/$ ");
        assert_eq!(prompt(None, "/bin", None), "waysh:/bin$ ");
        assert_eq!(prompt(None, "/home/u", Some("/home/u")), "waysh:~$ ");
        assert_eq!(prompt(None, "/home/u/x", Some("/home/u")), "waysh:~/x$ ");
        assert_eq!(
            prompt(None, "/home/ux", Some("/home/u")),
            "waysh:/home/ux$ "
        );
        assert_eq!(prompt(Some("> "), "/", None), "> ");
    }

    #[test]
    fn logical_paths() {
        assert_eq!(logical_path("/", "bin"), "/bin");
        assert_eq!(logical_path("/a/b", "../c"), "/a/c");
        assert_eq!(logical_path("/a/b", "/x//y/./z/.."), "/x/y");
        assert_eq!(logical_path("/a", "../../.."), "/");
        assert_eq!(logical_path("/a", "."), "/a");
        assert_eq!(logical_path("", ""), "/");
    }
}
