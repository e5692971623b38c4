//! `clear`: clears the terminal with VT100 sequences: cursor home, erase the screen, and
//! (unless `-x`) erase the scrollback, as ncurses `clear` does for xterm.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

coreutils::program!(imp::main);

#[cfg(target_os = "none")]
mod imp {
    use coreutils::args::Spec;
    use coreutils::sys;
    use libway::Args;

    const HELP: &str = "[-x]\nClear the screen.\n\n  -x  do not try to clear the scrollback\n";

    pub fn main(args: Args) -> i32 {
        let p = match sys::parse_args(&args, &Spec::short("x"), HELP, 1) {
            Ok(p) => p,
            Err(status) => return status,
        };
        if let Some(extra) = p.operands.first() {
            return sys::usage_error(
                format_args!("extra operand {}", coreutils::errmsg::quote(extra)),
                1,
            );
        }
        sys::write(b"\x1b[H\x1b[2J");
        if !p.has('x') {
            sys::write(b"\x1b[3J");
        }
        0
    }
}
