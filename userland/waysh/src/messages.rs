//! Words for people: error descriptions, signal names, how a status reads, and the help.

use alloc::format;
use alloc::string::String;

use wayos_abi::{errno, signal};

/// Status of a command that was not found.
pub const STATUS_NOT_FOUND: i32 = 127;
/// Status of a command that was found but could not be run.
pub const STATUS_CANNOT_EXEC: i32 = 126;
/// Status of a syntax error (or a builtin used wrongly).
pub const STATUS_SYNTAX: i32 = 2;

/// A short description of an error number, as `strerror` would give it.
pub fn describe_errno(e: isize) -> String {
    let s = match e {
        errno::EPERM => "operation not permitted",
        errno::ENOENT => "no such file or directory",
        errno::ESRCH => "no such process",
        errno::EINTR => "interrupted",
        errno::EIO => "input/output error",
        errno::E2BIG => "argument list too long",
        errno::ENOEXEC => "not an executable for this machine",
        errno::EBADF => "bad file descriptor",
        errno::ECHILD => "no child processes",
        errno::EAGAIN => "resource temporarily unavailable",
        errno::ENOMEM => "out of memory",
        errno::EACCES => "permission denied",
        errno::EFAULT => "bad address",
        errno::EBUSY => "device or resource busy",
        errno::EEXIST => "file exists",
        errno::ENOTTY => "not a terminal",
        errno::EMFILE => "too many open files",
        errno::EINVAL => "invalid argument",
        errno::ENAMETOOLONG => "file name too long",
        errno::ENOSYS => "not supported by this kernel",
        errno::EPIPE => "broken pipe",
        errno::ENOSPC => "no space left",
        errno::ETIMEDOUT => "timed out",
        20 => "not a directory",
        21 => "is a directory",
        39 => "directory not empty",
        _ => return format!("error {e}"),
    };
    s.into()
}

/// The name of a signal (`SIGINT`), or `signal N`.
pub fn signal_name(sig: i32) -> String {
    let s = match sig {
        signal::SIGHUP => "SIGHUP",
        signal::SIGINT => "SIGINT",
        signal::SIGQUIT => "SIGQUIT",
        signal::SIGILL => "SIGILL",
        signal::SIGTRAP => "SIGTRAP",
        signal::SIGABRT => "SIGABRT",
        signal::SIGBUS => "SIGBUS",
        signal::SIGFPE => "SIGFPE",
        signal::SIGKILL => "SIGKILL",
        signal::SIGUSR1 => "SIGUSR1",
        signal::SIGSEGV => "SIGSEGV",
        signal::SIGUSR2 => "SIGUSR2",
        signal::SIGPIPE => "SIGPIPE",
        signal::SIGALRM => "SIGALRM",
        signal::SIGTERM => "SIGTERM",
        _ => return format!("signal {sig}"),
    };
    s.into()
}

/// The shell status of a program killed by `sig`: 128 + the signal number.
pub const fn signal_status(sig: i32) -> i32 {
    128 + sig
}

/// What the shell says when a foreground program was killed by `sig`, if anything:
/// nothing for SIGINT (the console already echoed `^C`) and SIGPIPE (the normal end of a
/// writer whose reader left, as in `yes | head`).
pub fn killed_message(sig: i32) -> Option<String> {
    match sig {
        signal::SIGINT | signal::SIGPIPE => None,
        signal::SIGSEGV => Some("segmentation fault (SIGSEGV)".into()),
        signal::SIGKILL => Some("killed (SIGKILL)".into()),
        _ => Some(format!("killed by {}", signal_name(sig))),
    }
}

/// The `help` builtin's text.
pub const HELP: &str = "\
waysh, the WayOS shell

  cmd args...        run a program found through $PATH (or a path with /)
  a | b | c          pipeline: each output feeds the next input
  a ; b              run a, then b
  a && b    a || b   run b only if a succeeded / only if a failed
  ! a                invert a's status
  < f  > f  >> f     read f / write f / append to f
  2> f  2>&1  N>&-   redirect errors / errors to output / close fd N
  'text'  \"text\"    quote literally / quote but expand $ (\\c quotes one char)
  $X ${X} $? $$      variable / variable / last status / shell pid
  $# $0..$9 $@ ~     argument count / arguments / all arguments / $HOME
  NAME=value [cmd]   set a shell variable (or an environment one for cmd only)

builtins:
  cd [dir]           change directory (default $HOME)
  pwd                print the current directory
  export [NAME[=value]...]   export variables (no names: list them)
  unset NAME...      remove variables            set       list all variables
  echo [-n] args     print the arguments         true, false, :
  exit [n]           leave the shell             history   earlier lines
  type NAME...       what a name runs            help      this text

line editing: Left/Right, Home/End or Ctrl-A/E, Up/Down history, Backspace,
  Delete, Ctrl-U/K cut to start/end, Ctrl-W cut a word, Ctrl-L clear screen,
  Tab completes a command name, Ctrl-C drops the line or stops the program,
  Ctrl-D on an empty line leaves the shell.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_and_signal_words() {
        assert_eq!(describe_errno(errno::ENOENT), "no such file or directory");
        assert_eq!(describe_errno(9999), "error 9999");
        assert_eq!(signal_name(2), "SIGINT");
        assert_eq!(signal_name(63), "signal 63");
        assert_eq!(signal_status(2), 130);
        assert_eq!(killed_message(signal::SIGINT), None);
        assert_eq!(killed_message(signal::SIGPIPE), None);
        assert_eq!(
            killed_message(signal::SIGSEGV).as_deref(),
            Some("segmentation fault (SIGSEGV)")
        );
        assert_eq!(
            killed_message(signal::SIGTERM).as_deref(),
            Some("killed by SIGTERM")
        );
    }

    #[test]
    fn help_fits_an_80_column_terminal() {
        for line in HELP.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
    }
}
