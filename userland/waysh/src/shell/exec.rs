//! Running parsed commands: and-or lists, pipelines, redirections, programs.
//!
//! A single builtin (or a command of only assignments and redirections) runs in the shell
//! itself, its redirections undone afterwards. Anything else forks one child per command,
//! joined by pipes; a child sets up its redirections, then runs a builtin or `execve`s the
//! program, trying each `$PATH` directory in turn. When the shell is interactive the
//! children of a pipeline form one process group, which is made the console's foreground
//! so Ctrl-C reaches every one of them and not the shell.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::errno::{EINTR, ENOENT, ENOEXEC};
use libway::abi::fcntl::{O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
use libway::abi::signal::SIGINT;
use libway::io::{self, STDIN, STDOUT};
use libway::process::{self, WaitStatus};
use libway::{eprintln, fs, Errno};
use waysh::ast::{AndOr, Command, Connector, Pipeline, Redir, RedirOp, Script};
use waysh::expand::{expand_joined, expand_single, expand_words};
use waysh::messages::{
    describe_errno, killed_message, signal_status, STATUS_CANNOT_EXEC, STATUS_NOT_FOUND,
};
use waysh::util::{is_builtin, path_candidates, DEFAULT_PATH};

use super::{builtins, Shell};

/// Where the shell keeps copies of the descriptors a builtin's redirections replace.
const SAVE_FD_MIN: usize = 10;
/// Permission bits of a file a redirection creates.
const CREATE_MODE: u32 = 0o644;
/// ENOTDIR: a `$PATH` entry that is not a directory is skipped like a missing one.
const ENOTDIR: isize = 20;

/// A command with its words and assignments expanded.
struct Prepared<'a> {
    argv: Vec<String>,
    assigns: Vec<(String, String)>,
    redirs: &'a [Redir],
}

/// What a redirection replaced, to put back: the fd and its saved copy (`None`: it was
/// closed before).
type Saved = Vec<(usize, Option<usize>)>;

impl Shell {
    pub fn run_script(&mut self, script: &Script) {
        for item in &script.items {
            if self.exit.is_some() || self.interrupted {
                return;
            }
            self.run_and_or(item);
        }
    }

    fn run_and_or(&mut self, ao: &AndOr) {
        self.run_pipeline(&ao.first);
        for (connector, pipeline) in &ao.rest {
            if self.exit.is_some() || self.interrupted {
                return;
            }
            let run = match connector {
                Connector::And => self.status == 0,
                Connector::Or => self.status != 0,
            };
            if run {
                self.run_pipeline(pipeline);
            }
        }
    }

    fn run_pipeline(&mut self, p: &Pipeline) {
        let prepared: Vec<Prepared<'_>> = p.commands.iter().map(|c| self.prepare(c)).collect();
        let status = match prepared.as_slice() {
            [one] if one.argv.first().is_none_or(|name| is_builtin(name)) => self.run_in_shell(one),
            _ => self.run_children(&prepared),
        };
        self.status = if p.negate {
            i32::from(status == 0)
        } else {
            status
        };
    }

    fn prepare<'a>(&self, c: &'a Command) -> Prepared<'a> {
        let ctx = self.context();
        Prepared {
            argv: expand_words(&c.words, &ctx),
            assigns: c
                .assigns
                .iter()
                .map(|a| (a.name.clone(), expand_joined(&a.value, &ctx)))
                .collect(),
            redirs: &c.redirs,
        }
    }

    /// A builtin, or assignments and redirections only, in the shell process.
    fn run_in_shell(&mut self, cmd: &Prepared<'_>) -> i32 {
        let mut saved = Saved::new();
        let status = match self.redirect(cmd.redirs, Some(&mut saved)) {
            Err(status) => status,
            Ok(()) => match cmd.argv.first() {
                None => {
                    for (name, value) in &cmd.assigns {
                        self.vars.set(name, value);
                    }
                    0
                }
                Some(_) => builtins::run(self, &cmd.argv),
            },
        };
        restore(saved);
        status
    }

    /// Forks a child per command, joined by pipes, and waits for all of them. The status is
    /// the last command's.
    fn run_children(&mut self, cmds: &[Prepared<'_>]) -> i32 {
        let mut pids: Vec<usize> = Vec::new();
        let mut pgid = 0;
        let mut prev_read: Option<usize> = None;
        let mut status = 0;
        for (i, cmd) in cmds.iter().enumerate() {
            let pipe = if i + 1 < cmds.len() {
                match io::pipe(true) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        eprintln!("waysh: cannot make a pipe: {}", describe_errno(e.code()));
                        status = 1;
                        break;
                    }
                }
            } else {
                None
            };
            match process::fork() {
                Ok(0) => {
                    if self.interactive {
                        let _ = libway::signal::setpgid(0, pgid);
                    }
                    if let Some(r) = prev_read {
                        move_fd(r, STDIN);
                    }
                    if let Some((r, w)) = pipe {
                        let _ = io::close(r);
                        move_fd(w, STDOUT);
                    }
                    let status = self.child(cmd);
                    process::exit(status);
                }
                Ok(pid) => {
                    if self.interactive {
                        if pgid == 0 {
                            pgid = pid;
                        }
                        // Both sides set the group, so it is right whichever runs first.
                        let _ = libway::signal::setpgid(pid, pgid);
                        if pids.is_empty() {
                            let _ = libway::console::set_foreground(pgid);
                        }
                    }
                    pids.push(pid);
                }
                Err(e) => {
                    eprintln!("waysh: cannot fork: {}", describe_errno(e.code()));
                    status = 1;
                    if let Some((r, w)) = pipe {
                        let _ = io::close(r);
                        let _ = io::close(w);
                    }
                    break;
                }
            }
            if let Some(r) = prev_read.take() {
                let _ = io::close(r);
            }
            if let Some((r, w)) = pipe {
                let _ = io::close(w);
                prev_read = Some(r);
            }
        }
        if let Some(r) = prev_read {
            let _ = io::close(r);
        }
        let complete = pids.len() == cmds.len();
        let last = self.wait_all(&pids);
        if self.interactive && pgid != 0 {
            let _ = libway::console::set_foreground(0);
        }
        match last {
            Some(ws) if complete => self.status_of(ws),
            _ => status.max(1),
        }
    }

    /// Waits for every pid; returns the last one's wait status.
    fn wait_all(&mut self, pids: &[usize]) -> Option<WaitStatus> {
        let mut left: Vec<usize> = pids.to_vec();
        let mut last = None;
        while !left.is_empty() {
            match process::waitpid(-1, 0) {
                Ok((pid, ws)) => {
                    left.retain(|&p| p != pid);
                    if pids.last() == Some(&pid) {
                        last = Some(ws);
                    }
                }
                Err(e) if e.code() == EINTR => {}
                Err(e) => {
                    eprintln!("waysh: wait: {}", describe_errno(e.code()));
                    break;
                }
            }
        }
        last
    }

    /// The shell status of a wait status, saying how a killed program died.
    fn status_of(&mut self, ws: WaitStatus) -> i32 {
        if let Some(code) = ws.exit_code() {
            return code & 0xff;
        }
        let sig = ws.signal().unwrap_or(0);
        if sig == SIGINT {
            self.interrupted = true;
        }
        if let Some(msg) = killed_message(sig) {
            eprintln!("waysh: {msg}");
        }
        signal_status(sig)
    }

    /// In a forked child: redirections, then the builtin or program. Returns the status to
    /// exit with when there is nothing to `execve` or it failed.
    fn child(&mut self, cmd: &Prepared<'_>) -> i32 {
        if let Err(status) = self.redirect(cmd.redirs, None) {
            return status;
        }
        let Some(name) = cmd.argv.first() else {
            return 0;
        };
        if is_builtin(name) {
            return builtins::run(self, &cmd.argv);
        }
        self.exec(&cmd.argv, &cmd.assigns)
    }

    /// `execve`s `argv[0]`, found through `$PATH`. Returns only on failure, with the status
    /// the command gets: 127 not found, 126 found but not runnable.
    fn exec(&mut self, argv: &[String], assigns: &[(String, String)]) -> i32 {
        let name = argv[0].as_str();
        let env = self.vars.environ(assigns);
        let env_refs: Vec<&str> = env.iter().map(String::as_str).collect();
        let argv_refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let path = self.vars.get("PATH").unwrap_or(DEFAULT_PATH).to_owned();
        let mut failure: Option<(String, Errno)> = None;
        for candidate in path_candidates(name, &path) {
            let e = process::execve(&candidate, &argv_refs, &env_refs);
            if e.code() == ENOENT || e.code() == ENOTDIR {
                continue;
            }
            if e.code() == ENOEXEC && is_script(&candidate) {
                return self.run_script_file(&candidate, argv, assigns);
            }
            failure.get_or_insert((candidate, e));
        }
        match failure {
            Some((file, e)) => {
                eprintln!(
                    "waysh: {file}: cannot execute: {}",
                    describe_errno(e.code())
                );
                STATUS_CANNOT_EXEC
            }
            None if name.contains('/') => {
                eprintln!("waysh: {name}: {}", describe_errno(ENOENT));
                STATUS_NOT_FOUND
            }
            None => {
                eprintln!("waysh: {name}: command not found");
                STATUS_NOT_FOUND
            }
        }
    }

    /// Runs a `#!` script in this (child) process, as a fresh non-interactive shell would.
    fn run_script_file(
        &mut self,
        file: &str,
        argv: &[String],
        assigns: &[(String, String)],
    ) -> i32 {
        for (name, value) in assigns {
            self.vars.export(name, Some(value));
        }
        self.interactive = false;
        self.status = 0;
        self.args = core::iter::once(String::from(file))
            .chain(argv[1..].iter().cloned())
            .collect();
        match self.run_file(file) {
            Ok(()) => self.exit.unwrap_or(self.status),
            Err(e) => {
                eprintln!("waysh: {file}: {e}");
                STATUS_CANNOT_EXEC
            }
        }
    }

    /// Applies redirections in order. With `saved`, records what each replaced so
    /// [`restore`] can undo them. On failure says why and returns the status (1).
    fn redirect(&self, redirs: &[Redir], mut saved: Option<&mut Saved>) -> Result<(), i32> {
        for r in redirs {
            let fd = r.fd as usize;
            if let Some(saved) = saved.as_deref_mut() {
                if !saved.iter().any(|&(f, _)| f == fd) {
                    saved.push((fd, io::dup_at_least(fd, SAVE_FD_MIN, true).ok()));
                }
            }
            let (file, flags) = match &r.op {
                RedirOp::Read(w) => (w, O_RDONLY),
                RedirOp::Write(w) => (w, O_WRONLY | O_CREAT | O_TRUNC),
                RedirOp::Append(w) => (w, O_WRONLY | O_CREAT | O_APPEND),
                RedirOp::Dup(src) => {
                    if let Err(e) = io::dup2(*src as usize, fd) {
                        eprintln!("waysh: {src}: {}", describe_errno(e.code()));
                        return Err(1);
                    }
                    continue;
                }
                RedirOp::Close => {
                    let _ = io::close(fd);
                    continue;
                }
            };
            let Some(path) = expand_single(file, &self.context()) else {
                eprintln!("waysh: ambiguous redirect");
                return Err(1);
            };
            match fs::open_raw(&path, flags, CREATE_MODE) {
                Ok(opened) => move_fd(opened, fd),
                Err(e) => {
                    eprintln!("waysh: {path}: {}", describe_errno(e.code()));
                    return Err(1);
                }
            }
        }
        Ok(())
    }
}

/// Undoes redirections recorded by [`Shell::redirect`], last first.
fn restore(saved: Saved) {
    for (fd, copy) in saved.into_iter().rev() {
        match copy {
            Some(copy) => {
                // dup2 clears close-on-exec on `fd`.
                let _ = io::dup2(copy, fd);
                let _ = io::close(copy);
            }
            None => {
                let _ = io::close(fd);
            }
        }
    }
}

/// Makes `to` refer to `from`'s file and closes `from` (unless they are the same).
fn move_fd(from: usize, to: usize) {
    if from != to {
        let _ = io::dup2(from, to);
        let _ = io::close(from);
    } else {
        let _ = io::set_cloexec(to, false);
    }
}

/// True if the file starts with `#!`: a script for this shell.
fn is_script(path: &str) -> bool {
    let Ok(fd) = fs::open_raw(path, O_RDONLY | libway::abi::fcntl::O_CLOEXEC, 0) else {
        return false;
    };
    let mut head = [0u8; 2];
    let n = io::read(fd, &mut head).unwrap_or(0);
    let _ = io::close(fd);
    n == 2 && head == *b"#!"
}
