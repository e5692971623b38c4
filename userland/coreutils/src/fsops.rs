//! Copying and removing files and whole trees for `cp`, `mv` and `rm` (WayOS only).
//!
//! Trees are walked with an explicit stack, never by recursion, so a deep tree cannot
//! overflow the program's stack. Failures are handed to a `report` callback already
//! worded as GNU words them (`cannot remove 'x': Directory not empty`), and the walk goes
//! on with the rest; the functions return whether everything worked.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use libway::abi::Timespec;
use libway::fs::{self, OpenOptions, Stat, StatExt};
use libway::Errno;

use crate::errmsg::quote;
use crate::path::join;
use crate::sys::errno;

/// How `cp` (and `mv` across file systems) copies.
#[derive(Clone, Copy, Debug, Default)]
pub struct CopyOpts {
    /// `-r`: copy directories and what they hold.
    pub recursive: bool,
    /// `-n`: never overwrite an existing file.
    pub no_clobber: bool,
    /// `-p`: keep permission bits exactly and access/modification times.
    pub preserve: bool,
    /// `-v`: print `'src' -> 'dst'` for each file.
    pub verbose: bool,
}

fn times_of(st: &Stat) -> [Timespec; 2] {
    [st.atime, st.mtime]
}

/// The permissions a copy gets: the source's, less the group and other write bits
/// (GNU's default umask 022) unless `-p`.
fn copy_mode(st: &Stat, o: &CopyOpts) -> u32 {
    if o.preserve {
        st.perm()
    } else {
        st.perm() & !0o022
    }
}

/// Copies the regular file (or device contents) `src`, whose status is `st`, to `dst`.
pub fn copy_file(src: &str, st: &Stat, dst: &str, o: &CopyOpts) -> Result<(), String> {
    if fs::stat(dst).is_ok_and(|d| d.is_dir()) {
        return Err(format!(
            "cannot overwrite directory {} with non-directory",
            quote(dst)
        ));
    }
    let input = fs::File::open(src)
        .map_err(|e| format!("cannot open {} for reading: {}", quote(src), errno(e)))?;
    let output = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(copy_mode(st, o))
        .open(dst)
        .map_err(|e| format!("cannot create regular file {}: {}", quote(dst), errno(e)))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| format!("error reading {}: {}", quote(src), errno(e)))?;
        if n == 0 {
            break;
        }
        output
            .write_all(&buf[..n.min(buf.len())])
            .map_err(|e| format!("error writing {}: {}", quote(dst), errno(e)))?;
    }
    drop(output);
    if o.preserve {
        fs::utimens(dst, Some(&times_of(st)))
            .map_err(|e| format!("preserving times for {}: {}", quote(dst), errno(e)))?;
    }
    if o.verbose {
        crate::outln!("{} -> {}", quote(src), quote(dst));
    }
    Ok(())
}

enum Job {
    Copy(String, String),
    /// A directory's contents are copied: set its times (`-p`).
    DirDone(String, Stat),
}

/// Copies `src` to `dst` (a file, or with `recursive` a whole directory).
pub fn copy_tree(src: &str, dst: &str, o: &CopyOpts, report: &mut dyn FnMut(String)) -> bool {
    let mut ok = true;
    let mut stack = vec![Job::Copy(String::from(src), String::from(dst))];
    while let Some(job) = stack.pop() {
        let (s, d) = match job {
            Job::DirDone(d, st) => {
                if o.preserve {
                    if let Err(e) = fs::utimens(&d, Some(&times_of(&st))) {
                        report(format!("preserving times for {}: {}", quote(&d), errno(e)));
                        ok = false;
                    }
                }
                continue;
            }
            Job::Copy(s, d) => (s, d),
        };
        let st = match fs::stat(&s) {
            Ok(st) => st,
            Err(e) => {
                report(format!("cannot stat {}: {}", quote(&s), errno(e)));
                ok = false;
                continue;
            }
        };
        if !st.is_dir() {
            if o.no_clobber && fs::stat(&d).is_ok() {
                continue;
            }
            if let Err(m) = copy_file(&s, &st, &d, o) {
                report(m);
                ok = false;
            }
            continue;
        }
        if !o.recursive {
            report(format!(
                "-r not specified; omitting directory {}",
                quote(&s)
            ));
            ok = false;
            continue;
        }
        match fs::stat(&d) {
            Ok(dst) if dst.is_dir() => {}
            Ok(_) => {
                report(format!(
                    "cannot overwrite non-directory {} with directory {}",
                    quote(&d),
                    quote(&s)
                ));
                ok = false;
                continue;
            }
            Err(_) => {
                if let Err(e) = fs::mkdir(&d, copy_mode(&st, o) | 0o700) {
                    report(format!(
                        "cannot create directory {}: {}",
                        quote(&d),
                        errno(e)
                    ));
                    ok = false;
                    continue;
                }
                if o.verbose {
                    crate::outln!("{} -> {}", quote(&s), quote(&d));
                }
            }
        }
        let names = match list(&s) {
            Ok(n) => n,
            Err(e) => {
                report(format!("cannot access {}: {}", quote(&s), errno(e)));
                ok = false;
                continue;
            }
        };
        stack.push(Job::DirDone(d.clone(), st));
        for name in names.iter().rev() {
            stack.push(Job::Copy(join(&s, name), join(&d, name)));
        }
    }
    ok
}

/// The names in directory `path` (without `.` and `..`), in directory order.
pub fn list(path: &str) -> Result<Vec<String>, Errno> {
    let mut names = Vec::new();
    for entry in fs::read_dir(path)? {
        names.push(entry?.name);
    }
    Ok(names)
}

/// Removes `path` and, if it is a directory, everything in it (`rm -r`). With `verbose`
/// each removal is printed as GNU `rm -v` does.
pub fn remove_tree(path: &str, verbose: bool, report: &mut dyn FnMut(String)) -> bool {
    let mut ok = true;
    // (path, its contents are gone)
    let mut stack = vec![(String::from(path), false)];
    while let Some((p, emptied)) = stack.pop() {
        if emptied {
            match fs::remove_dir(&p) {
                Ok(()) => {
                    if verbose {
                        crate::outln!("removed directory {}", quote(&p));
                    }
                }
                Err(e) => {
                    report(format!("cannot remove {}: {}", quote(&p), errno(e)));
                    ok = false;
                }
            }
            continue;
        }
        let is_dir = match fs::stat(&p) {
            Ok(st) => st.is_dir(),
            Err(e) => {
                report(format!("cannot remove {}: {}", quote(&p), errno(e)));
                ok = false;
                continue;
            }
        };
        if !is_dir {
            match fs::remove_file(&p) {
                Ok(()) => {
                    if verbose {
                        crate::outln!("removed {}", quote(&p));
                    }
                }
                Err(e) => {
                    report(format!("cannot remove {}: {}", quote(&p), errno(e)));
                    ok = false;
                }
            }
            continue;
        }
        match list(&p) {
            Ok(names) => {
                stack.push((p.clone(), true));
                for name in names.iter().rev() {
                    stack.push((join(&p, name), false));
                }
            }
            Err(e) => {
                report(format!("cannot remove {}: {}", quote(&p), errno(e)));
                ok = false;
            }
        }
    }
    ok
}

/// `path` made absolute (from the working directory) with `.`, `..` and repeated
/// slashes resolved as text, for "is this inside that" tests.
pub fn absolute(path: &str) -> String {
    let mut full = String::new();
    if !path.starts_with('/') {
        full.push_str(&fs::getcwd().unwrap_or_default());
        full.push('/');
    }
    full.push_str(path);
    let mut parts: Vec<&str> = Vec::new();
    for c in full.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = String::new();
    for p in parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Is `inner` the directory `outer` or below it?
pub fn is_within(inner: &str, outer: &str) -> bool {
    let (i, o) = (absolute(inner), absolute(outer));
    i == o
        || o == "/"
        || i.strip_prefix(o.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The `SOURCE... DEST` operands of `cp` and `mv`: each source with the path it goes to
/// (inside DEST when DEST is a directory). `Err` is the exit status, after the message
/// GNU gives for missing operands or several sources into a non-directory.
pub fn source_targets<'a>(ops: &[&'a str]) -> Result<Vec<(&'a str, String)>, i32> {
    let (sources, dest) = match ops {
        [] => {
            return Err(crate::sys::usage_error(
                format_args!("missing file operand"),
                1,
            ))
        }
        [only] => {
            return Err(crate::sys::usage_error(
                format_args!("missing destination file operand after {}", quote(only)),
                1,
            ))
        }
        [sources @ .., dest] => (sources, *dest),
    };
    let dest_is_dir = fs::stat(dest).is_ok_and(|s| s.is_dir());
    if sources.len() > 1 && !dest_is_dir {
        crate::sys::error(format_args!("target {} is not a directory", quote(dest)));
        return Err(1);
    }
    Ok(sources
        .iter()
        .map(|&src| {
            let target = if dest_is_dir {
                join(dest, crate::path::basename(src))
            } else {
                String::from(dest)
            };
            (src, target)
        })
        .collect())
}
