//! `df [-h] [FILE]...`: size, use and free space of every mounted file system
//! (`stats(KIND_MOUNTS)` for the list, `statfs` for the numbers), or of the ones holding
//! each FILE. Columns as GNU's: 1K-blocks rounded up, Use% rounded up.
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
    use coreutils::errmsg::quote;
    use coreutils::mounts::{df_bytes, df_size, use_percent};
    use coreutils::sys;
    use coreutils::{err, outln};
    use libway::fs;
    use libway::Args;

    const HELP: &str = "[OPTION]... [FILE]...\nShow the size, use and free space of each mounted file system, or of the\nfile systems holding each FILE.\n\n  -h, --human-readable  print sizes in powers of 1024 (e.g., 64M)\n";
    const SPEC: Spec = Spec {
        short: "h",
        long: &[("human-readable", 'h', false)],
        permute: true,
        numbers: false,
    };

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let human = p.has('h');
        let mounts = match fs::mounts() {
            Ok(m) => m,
            Err(e) => {
                err!("cannot list mounts: {}", sys::errno(e));
                return 1;
            }
        };
        let mut status = 0;
        // Which mounts to show: all, or the ones holding the operands (by `st_dev`).
        let mut show: Vec<u32> = Vec::new();
        if p.operands.is_empty() {
            show.extend(mounts.iter().map(|m| m.id));
        } else {
            for f in &p.operands {
                match fs::stat(f) {
                    Ok(st) => show.push(st.dev as u32),
                    Err(e) => {
                        err!("{}: {}", quote(f), sys::errno(e));
                        status = 1;
                    }
                }
            }
        }
        let size_head = if human { "Size" } else { "1K-blocks" };
        let mut rows: Vec<[String; 6]> = Vec::new();
        rows.push([
            "Filesystem".into(),
            size_head.into(),
            "Used".into(),
            "Available".into(),
            "Use%".into(),
            "Mounted on".into(),
        ]);
        for id in show {
            let Some(m) = mounts.iter().find(|m| m.id == id) else {
                continue;
            };
            let path = fs::field_str(&m.path);
            let st = match fs::statfs(path) {
                Ok(st) => st,
                Err(e) => {
                    err!("{}: {}", quote(path), sys::errno(e));
                    status = 1;
                    continue;
                }
            };
            let (size, used, avail) = df_bytes(st.bsize, st.blocks, st.bfree);
            rows.push([
                fs::field_str(&m.source).into(),
                df_size(size, human),
                df_size(used, human),
                df_size(avail, human),
                use_percent(used, avail),
                path.into(),
            ]);
        }
        let mut width = [0usize; 6];
        for r in &rows {
            for (w, c) in width.iter_mut().zip(r.iter()) {
                *w = (*w).max(c.len());
            }
        }
        for r in &rows {
            // The name left-aligned, the numbers right-aligned, the mount point last.
            outln!(
                "{:<w0$} {:>w1$} {:>w2$} {:>w3$} {:>w4$} {}",
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                w0 = width[0],
                w1 = width[1],
                w2 = width[2],
                w3 = width[3],
                w4 = width[4]
            );
        }
        sys::finish(status)
    }
}
