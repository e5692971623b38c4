//! `true`: does nothing, successfully (exit status 0). Arguments are ignored.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    pub fn main(_args: libway::Args) -> i32 {
        0
    }
}
