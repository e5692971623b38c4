//! Builds WayOS initramfs images: standard cpio (newc) archives that `cpio -t` lists.
//!
//! Parents are emitted before their children and entries are sorted, so the same inputs
//! always give the same bytes. The on-disk format itself is defined once, in
//! `wayos_kcore::cpio`, which the kernel uses to read the archive back.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use wayos_kcore::cpio::Writer;

/// An initramfs under construction: archive path → (permissions, contents or directory).
#[derive(Default)]
pub struct Ramfs {
    entries: BTreeMap<String, Node>,
}

enum Node {
    Dir,
    File { perm: u32, data: Vec<u8> },
}

/// Normalizes a path inside the archive: no leading `/` or `./`, no empty, `.` or `..` parts.
fn clean(path: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("{path}: '..' is not allowed in archive paths")),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(format!("'{path}': empty archive path"));
    }
    Ok(parts.join("/"))
}

impl Ramfs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file (and its parent directories) at `path`.
    pub fn add_file(&mut self, path: &str, perm: u32, data: Vec<u8>) -> Result<(), String> {
        let path = clean(path)?;
        self.add_parents(&path)?;
        if let Some(Node::Dir) = self.entries.get(&path) {
            return Err(format!("{path}: already a directory"));
        }
        self.entries.insert(path, Node::File { perm, data });
        Ok(())
    }

    /// Adds a directory (and its parents).
    pub fn add_dir(&mut self, path: &str) -> Result<(), String> {
        let path = clean(path)?;
        self.add_parents(&path)?;
        match self.entries.get(&path) {
            Some(Node::File { .. }) => Err(format!("{path}: already a file")),
            _ => {
                self.entries.insert(path, Node::Dir);
                Ok(())
            }
        }
    }

    fn add_parents(&mut self, path: &str) -> Result<(), String> {
        let mut at = 0;
        while let Some(i) = path[at..].find('/') {
            let parent = &path[..at + i];
            if let Some(Node::File { .. }) = self.entries.get(parent) {
                return Err(format!("{parent}: is a file, cannot hold {path}"));
            }
            self.entries.insert(parent.to_string(), Node::Dir);
            at += i + 1;
        }
        Ok(())
    }

    /// Adds every file under `dir` on the host, at `prefix` inside the archive.
    pub fn add_tree(&mut self, dir: &Path, prefix: &str) -> io::Result<()> {
        let mut names: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        names.sort_by_key(|e| e.file_name());
        for entry in names {
            let name = entry.file_name().to_string_lossy().into_owned();
            let inner = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let ty = entry.file_type()?;
            if ty.is_dir() {
                self.add_dir(&inner).map_err(io::Error::other)?;
                self.add_tree(&entry.path(), &inner)?;
            } else if ty.is_file() {
                let data = fs::read(entry.path())?;
                let perm = file_perm(&entry.metadata()?);
                self.add_file(&inner, perm, data)
                    .map_err(io::Error::other)?;
            }
        }
        Ok(())
    }

    /// The archive bytes.
    pub fn to_cpio(&self) -> Vec<u8> {
        let mut w = Writer::new();
        for (path, node) in &self.entries {
            match node {
                Node::Dir => w.dir(path, 0o755),
                Node::File { perm, data } => w.file(path, *perm, data),
            }
        }
        w.finish()
    }
}

#[cfg(unix)]
fn file_perm(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn file_perm(_: &fs::Metadata) -> u32 {
    0o644
}

#[cfg(test)]
mod tests {
    use super::*;
    use wayos_kcore::cpio;

    #[test]
    fn parents_come_first_and_read_back() {
        let mut r = Ramfs::new();
        r.add_file("/bin/init", 0o755, b"ELF".to_vec()).unwrap();
        r.add_file("etc/motd", 0o644, b"hi\n".to_vec()).unwrap();
        let a = r.to_cpio();
        let names: Vec<_> = cpio::entries(&a).map(|e| e.unwrap().name).collect();
        assert_eq!(names, ["bin", "bin/init", "etc", "etc/motd"]);
        assert_eq!(cpio::find(&a, "/bin/init").unwrap().unwrap().data, b"ELF");
    }

    #[test]
    fn bad_paths_are_refused() {
        let mut r = Ramfs::new();
        assert!(r.add_file("../x", 0o644, vec![]).is_err());
        assert!(r.add_file("/", 0o644, vec![]).is_err());
        r.add_file("a", 0o644, vec![]).unwrap();
        assert!(
            r.add_file("a/b", 0o644, vec![]).is_err(),
            "a file cannot be a parent"
        );
        assert!(r.add_dir("a").is_err());
    }

    #[test]
    fn gnu_cpio_lists_the_archive() {
        // Cross-check against GNU cpio when the host has it (CI installs it).
        let Ok(out) = std::process::Command::new("cpio").arg("--version").output() else {
            eprintln!("cpio not installed; skipping the cross-check");
            return;
        };
        assert!(out.status.success());
        let mut r = Ramfs::new();
        r.add_file("boot/kernel.sym", 0o644, vec![7; 1000]).unwrap();
        r.add_file("etc/wayos-release", 0o644, b"WayOS 0\n".to_vec())
            .unwrap();
        let dir = std::env::temp_dir().join(format!("mkramfs-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("t.cpio");
        fs::write(&file, r.to_cpio()).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("cpio -t --quiet < {}", file.display()))
            .output()
            .unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listed = String::from_utf8(out.stdout).unwrap();
        let listed: Vec<_> = listed.lines().collect();
        assert_eq!(
            listed,
            ["boot", "boot/kernel.sym", "etc", "etc/wayos-release"]
        );
    }
}
