//! The WayOS coreutils: `ls`, `cat`, `grep`, `sort`, ... as separate programs in `/bin`
//! (`src/bin/`), and this library holding what they share.
//!
//! Everything that does not need the operating system is plain `no_std + alloc` code,
//! tested on the host with `cargo test -p coreutils`: option parsing ([`args`]), GNU's
//! error wording ([`errmsg`]), numbers ([`num`]), line arithmetic and `cat`/`echo`
//! escapes ([`text`]), [`wc`], the [`regex`] engine of `grep`, [`sort`] and [`uniq`]
//! comparison, [`hexdump`] and [`seq`] formatting, dates ([`date`]), `ls -l` and columns
//! ([`ls`]), `stat` formats ([`statfmt`]), `sha256sum` lines ([`sum`]), signal names
//! ([`signals`]), [`ps`] rows and [`path`] helpers. Nothing here panics on any input.
//!
//! [`sys`] (WayOS only) is the runtime the programs share on libway: buffered standard
//! output flushed at exit, a buffered reader over a descriptor, error messages in GNU's
//! form (`prog: FILE: No such file or directory`), and the exit conventions; [`fsops`]
//! (WayOS only) copies and removes trees for `cp`, `mv` and `rm`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod args;
pub mod date;
pub mod errmsg;
pub mod hexdump;
pub mod ls;
pub mod mounts;
pub mod num;
pub mod path;
pub mod ps;
pub mod regex;
pub mod seq;
pub mod signals;
pub mod sort;
pub mod statfmt;
pub mod sum;
pub mod text;
pub mod uniq;
pub mod wc;

#[cfg(target_os = "none")]
pub mod fsops;
#[cfg(target_os = "none")]
pub mod headtail;
#[cfg(target_os = "none")]
pub mod sys;

/// Defines the program's entry: `coreutils::program!(imp::main)` with
/// `fn main(args: libway::Args) -> i32`; standard output is flushed before the exit. On
/// the host it defines a stub `main` instead.
#[macro_export]
macro_rules! program {
    ($main:path) => {
        #[cfg(target_os = "none")]
        libway::entry!(__coreutils_main);

        #[cfg(target_os = "none")]
        fn __coreutils_main(args: libway::Args) -> i32 {
            let status = $main(args);
            $crate::sys::finish(status)
        }

        #[cfg(not(target_os = "none"))]
        fn main() {
            eprintln!("{} runs on WayOS", env!("CARGO_BIN_NAME"));
            std::process::exit(2);
        }
    };
}

/// The version every program reports for `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
