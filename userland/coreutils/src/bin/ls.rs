//! `ls [-aAdlCFhinprRStU1] [FILE]...`: lists directories and files, sorted by name in
//! byte order (the C locale). `-l` long format, `-a`/`-A` hidden entries, `-d`
//! directories themselves, `-R` recursively, `-r -t -S -U` order, `-h -i -n` size, inode
//! and numeric ids in `-l`, `-F`/`-p` type indicators, `-C` columns (width `$COLUMNS` or
//! 80), `-1` one per line. Without `-C` the output is one name per line: WayOS cannot
//! tell a terminal from a pipe, and GNU prints one per line to a pipe.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use alloc::string::String;
    use alloc::vec::Vec;

    use coreutils::args::Spec;
    use coreutils::date::Time;
    use coreutils::errmsg::quote;
    use coreutils::ls::{self, Entry, Indicator, LongOpts, SortBy};
    use coreutils::path::join;
    use coreutils::{err, outln, sys};
    use libway::fs::{self, Stat};
    use libway::Args;

    const HELP: &str = "[OPTION]... [FILE]...\nList information about the FILEs (the current directory by default).\nSort entries alphabetically unless -t, -S or -U is given.\n\n  -a, --all             do not ignore entries starting with .\n  -A, --almost-all      do not list implied . and ..\n  -C                    list entries by columns\n  -d, --directory       list directories themselves, not their contents\n  -F, --classify        append indicator (one of */=|) to entries\n  -h, --human-readable  with -l, print sizes like 1K 234M 2G\n  -i, --inode           print the index number of each file\n  -l                    use a long listing format\n  -n, --numeric-uid-gid like -l, but list numeric user and group IDs\n  -p                    append / indicator to directories\n  -r, --reverse         reverse order while sorting\n  -R, --recursive       list subdirectories recursively\n  -S                    sort by file size, largest first\n  -t                    sort by time, newest first\n  -U                    do not sort; list entries in directory order\n  -1                    list one file per line\n";
    const SPEC: Spec = Spec {
        short: "aACdFhilnprRStU1",
        long: &[
            ("all", 'a', false),
            ("almost-all", 'A', false),
            ("directory", 'd', false),
            ("classify", 'F', false),
            ("human-readable", 'h', false),
            ("inode", 'i', false),
            ("numeric-uid-gid", 'n', false),
            ("reverse", 'r', false),
            ("recursive", 'R', false),
        ],
        permute: true,
        numbers: false,
    };

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Format {
        Long,
        Columns,
        OnePerLine,
    }

    struct Ls {
        all: bool,
        almost: bool,
        directory: bool,
        recursive: bool,
        format: Format,
        sort: SortBy,
        reverse: bool,
        long: LongOpts,
        width: usize,
        now: Time,
        status: i32,
        printed: bool,
    }

    fn entry(name: String, st: &Stat) -> Entry {
        Entry {
            name,
            ino: st.ino,
            mode: st.mode,
            nlink: st.nlink as u64,
            uid: st.uid,
            gid: st.gid,
            size: st.size,
            rdev: st.rdev,
            blocks: st.blocks,
            mtime: sys::time_of(st.mtime),
        }
    }

    impl Ls {
        /// Prints one group of entries.
        fn print(&mut self, entries: &[Entry]) {
            match self.format {
                Format::Long => {
                    for l in ls::long_lines(entries, self.now, &self.long) {
                        outln!("{l}");
                    }
                }
                Format::OnePerLine | Format::Columns => {
                    let names: Vec<String> = entries
                        .iter()
                        .map(|e| {
                            let mut s = String::new();
                            if self.long.inode {
                                s.push_str(&alloc::format!("{} ", e.ino));
                            }
                            s.push_str(&e.name);
                            s.push_str(ls::indicator(e, self.long.indicator));
                            s
                        })
                        .collect();
                    if self.format == Format::Columns {
                        sys::write_str(&ls::columns(&names, self.width));
                    } else {
                        for n in names {
                            outln!("{n}");
                        }
                    }
                }
            }
        }

        /// Lists directory `path`; returns its subdirectories for `-R`.
        fn list_dir(&mut self, path: &str, top: bool) -> Vec<String> {
            let names = match coreutils::fsops::list(path) {
                Ok(n) => n,
                Err(e) => {
                    err!("cannot open directory {}: {}", quote(path), sys::errno(e));
                    self.status = if top { 2 } else { self.status.max(1) };
                    return Vec::new();
                }
            };
            let mut all: Vec<String> = Vec::new();
            if self.all {
                all.push(String::from("."));
                all.push(String::from(".."));
            }
            for n in names {
                if n.starts_with('.') && !(self.all || self.almost) {
                    continue;
                }
                all.push(n);
            }
            let mut entries = Vec::new();
            for n in all {
                let full = join(path, &n);
                match fs::stat(&full) {
                    Ok(st) => entries.push(entry(n, &st)),
                    Err(e) => {
                        err!("cannot access {}: {}", quote(&full), sys::errno(e));
                        self.status = self.status.max(1);
                    }
                }
            }
            ls::sort(&mut entries, self.sort, self.reverse);
            if self.format == Format::Long {
                outln!("total {}", ls::total_kib(&entries));
            }
            self.print(&entries);
            if !self.recursive {
                return Vec::new();
            }
            entries
                .iter()
                .filter(|e| e.is_dir() && e.name != "." && e.name != "..")
                .map(|e| join(path, &e.name))
                .collect()
        }
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 2) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut ls = Ls {
            all: false,
            almost: false,
            directory: false,
            recursive: false,
            format: Format::OnePerLine,
            sort: SortBy::Name,
            reverse: false,
            long: LongOpts::default(),
            width: libway::env::var("COLUMNS")
                .and_then(|c| c.parse::<usize>().ok())
                .filter(|&w| w > 0)
                .unwrap_or(80),
            now: sys::now(),
            status: 0,
            printed: false,
        };
        for (c, _) in &p.opts {
            match c {
                'a' => {
                    ls.all = true;
                    ls.almost = false;
                }
                'A' => {
                    ls.almost = true;
                    ls.all = false;
                }
                'C' => ls.format = Format::Columns,
                'd' => ls.directory = true,
                'F' => ls.long.indicator = Indicator::Classify,
                'p' => ls.long.indicator = Indicator::Slash,
                'h' => ls.long.human = true,
                'i' => ls.long.inode = true,
                'l' => ls.format = Format::Long,
                'n' => {
                    ls.format = Format::Long;
                    ls.long.numeric = true;
                }
                'r' => ls.reverse = true,
                'R' => ls.recursive = true,
                'S' => ls.sort = SortBy::Size,
                't' => ls.sort = SortBy::Time,
                'U' => ls.sort = SortBy::None,
                '1' => ls.format = Format::OnePerLine,
                _ => {}
            }
        }
        let operands: Vec<&str> = if p.operands.is_empty() {
            alloc::vec!["."]
        } else {
            p.operands.clone()
        };
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        for op in &operands {
            match fs::stat(op) {
                Ok(st) => {
                    let e = entry(String::from(*op), &st);
                    if e.is_dir() && !ls.directory {
                        dirs.push(e);
                    } else {
                        files.push(e);
                    }
                }
                Err(e) => {
                    err!("cannot access {}: {}", quote(op), sys::errno(e));
                    ls.status = 2;
                }
            }
        }
        ls::sort(&mut files, ls.sort, ls.reverse);
        ls::sort(&mut dirs, ls.sort, ls.reverse);
        if !files.is_empty() {
            ls.print(&files);
            ls.printed = true;
        }
        let headers = operands.len() > 1 || ls.recursive;
        // Depth first, each directory's subdirectories in order, as GNU `ls -R` lists.
        let mut stack: Vec<(String, bool)> =
            dirs.into_iter().rev().map(|d| (d.name, true)).collect();
        while let Some((dir, top)) = stack.pop() {
            if ls.printed {
                outln!();
            }
            if headers {
                outln!("{dir}:");
            }
            ls.printed = true;
            let subs = ls.list_dir(&dir, top);
            for s in subs.into_iter().rev() {
                stack.push((s, false));
            }
        }
        ls.status
    }
}
