//! `lsaccel [-h]`: the inference accelerators — the seed's name for `ainfo accel`, which
//! it runs (execve) so the two can never print different tables.
#![no_std]
#![no_main]

use libway::{eprintln, println, process, Args};

libway::entry!(main);

const USAGE: &str = "Usage: lsaccel [-h]\n\
Show the inference accelerators (one worker thread per CPU): worker thread id, the vector\n\
extension its math uses, jobs waiting in the shared queue, jobs done, time spent running\n\
nodes and the job it runs now. The same as 'ainfo accel'.\n\n  \
-h, --help   show this help";

fn main(args: Args) -> i32 {
    match args.get(1) {
        None => {}
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return 0;
        }
        Some(other) => {
            eprintln!("lsaccel: unexpected argument '{other}'");
            eprintln!("Try 'lsaccel -h' for more information.");
            return 2;
        }
    }
    let e = process::execve("/bin/ainfo", &["ainfo", "accel"], &[]);
    eprintln!("lsaccel: /bin/ainfo: {e:?}");
    1
}
