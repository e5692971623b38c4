//! `mount [-r] [-t vfat] [-o ro|rw] [DEVICE DIR]`: without operands lists the mounted file
//! systems (`stats(KIND_MOUNTS)`); with them mounts the FAT volume on block device DEVICE
//! (`blk0`, `/dev/blk0` or `0`) on the directory DIR.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::errmsg::quote;
    use coreutils::mounts::{mount_line, parse_device};
    use coreutils::sys;
    use coreutils::{err, outln};
    use libway::abi::fs::MS_RDONLY;
    use libway::fs;
    use libway::Args;

    const HELP: &str = "[OPTION]... [DEVICE DIR]\nWithout operands, list the mounted file systems. With them, mount the FAT\nfile system on block device DEVICE (blk0, /dev/blk0 or 0) on directory DIR.\n\n  -r, --read-only   mount read-only (same as -o ro)\n  -w, --rw          mount read-write (the default)\n  -o, --options=OPT ro or rw\n  -t, --types=TYPE  vfat (the only type a disk can hold)\n";
    const SPEC: Spec = Spec {
        short: "rwo:t:",
        long: &[
            ("read-only", 'r', false),
            ("rw", 'w', false),
            ("options", 'o', true),
            ("types", 't', true),
        ],
        permute: true,
        numbers: false,
    };

    fn list() -> i32 {
        match fs::mounts() {
            Ok(list) => {
                for m in list {
                    outln!(
                        "{}",
                        mount_line(
                            fs::field_str(&m.source),
                            fs::field_str(&m.path),
                            fs::field_str(&m.fstype),
                            m.flags & MS_RDONLY != 0,
                        )
                    );
                }
                0
            }
            Err(e) => {
                err!("cannot list mounts: {}", sys::errno(e));
                1
            }
        }
    }

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &SPEC, HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        if let Some(t) = p.last('t') {
            if t != "vfat" && t != "fat" && t != "msdos" {
                err!("unknown filesystem type {}", quote(t));
                return 32;
            }
        }
        let mut rdonly = false;
        for (o, v) in &p.opts {
            match (o, v) {
                ('r', _) => rdonly = true,
                ('w', _) => rdonly = false,
                ('o', Some(opts)) => {
                    for opt in opts.split(',') {
                        match opt {
                            "ro" => rdonly = true,
                            "rw" | "defaults" => rdonly = false,
                            _ => {
                                err!("unsupported option {}", quote(opt));
                                return 1;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        match p.operands.as_slice() {
            [] => sys::finish(list()),
            [dev, dir] => {
                let Some(n) = parse_device(dev) else {
                    err!("{}: not a block device (want blkN)", quote(dev));
                    return 32;
                };
                match fs::mount(n, dir, if rdonly { MS_RDONLY } else { 0 }) {
                    Ok(()) => 0,
                    Err(e) => {
                        err!(
                            "{}: cannot mount {} on {}: {}",
                            quote(dir),
                            dev,
                            dir,
                            sys::errno(e)
                        );
                        32
                    }
                }
            }
            _ => sys::usage_error(format_args!("need both DEVICE and DIR, or neither"), 1),
        }
    }
}
