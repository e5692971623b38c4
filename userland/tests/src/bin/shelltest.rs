//! `shelltest`: the in-guest suite of the shell. Each check runs `/bin/waysh -c SCRIPT`
//! with its standard output and error on pipes, and compares both and the exit status
//! with values worked out by hand: pipelines (through three programs, too), redirections
//! into files that are read back (by the shell and directly), `$?`, `&&`/`||`, `!`,
//! quoting, variables and the environment, `cd`/`pwd`, exit statuses, the message and
//! status 127 of an unknown command and the message and status 2 of a syntax error.
//!
//! Then it runs an interactive `waysh` on the console (its output on a pipe) and has the
//! harness type at it, step by step, over the real serial line: editing keys, history,
//! Tab, a continuation line, Ctrl-C at the prompt and of a running program, Ctrl-D. Each
//! step's screen bytes (prompt redraws and VT100 sequences included) are compared exactly.
//! That session runs only under the harness; typed at the shell by a person, the suite says
//! it skipped it (`libway::suite::Suite::typed_checks`).
//!
//! The pipelines go through this program's own filter modes (`shelltest --cat`,
//! `--count`, `--lines N`, `--yes`), so they test the shell and not the coreutils; the
//! same checks through `wc`, `yes`, `head` and `cat` run when those are installed.
//! Scratch files go to `/tmp/shelltest.*`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
libway::entry!(suite::main);

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("shelltest runs on WayOS");
    std::process::exit(2);
}

#[cfg(target_os = "none")]
mod suite {
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;

    use libway::abi::errno::EINTR;
    use libway::abi::signal::SIGKILL;
    use libway::io;
    use libway::process::{self, WaitStatus};
    use libway::suite::{
        expect_output, read_all, wait_for, Check, Context, Suite, CHILD_TIMEOUT_MS,
    };
    use libway::{println, Args};

    const SHELL: &str = "/bin/waysh";
    const SELF: &str = "/bin/shelltest";
    const ENV: [&str; 2] = ["PATH=/bin", "HOME=/"];
    /// Helper mode: write `y` lines until killed (a program for Ctrl-C to stop).
    const YES: &str = "--yes";
    /// The interactive shell's prompt in `/` with `HOME=/`.
    const PROMPT: &str = "waysh:/$ ";
    /// How long the interactive session may take before a watchdog kills the shell.
    const SESSION_MS: u64 = 120_000;
    /// Most output [`Session::until`] reads looking for its text.
    const UNTIL_MAX: usize = 8 << 20;

    use libway::suite::Captured as Run;

    /// Runs `waysh -c script` (extra arguments become `$0`, `$1`, ...).
    fn sh_args(script: &str, extra: &[&str]) -> Result<Run, String> {
        let mut argv: Vec<&str> = alloc::vec!["waysh", "-c", script];
        argv.extend_from_slice(extra);
        libway::suite::run_captured(SHELL, &argv, &ENV, "shelltest")
    }

    fn sh(script: &str) -> Result<Run, String> {
        sh_args(script, &[])
    }

    /// Runs `script` and expects exactly `out` on stdout, `err` on stderr and `status`.
    fn expect(script: &str, out: &str, err: &str, status: i32) -> Check {
        expect_output(&sh(script)?, out, err, status).map_err(|why| format!("`{script}`: {why}"))
    }

    /// The contents of `path`, read directly (not through the shell).
    fn file_text(path: &str) -> Result<String, String> {
        let data = libway::fs::read(path).context(path)?;
        String::from_utf8(data).map_err(|_| format!("{path}: not UTF-8"))
    }

    /// An interactive shell on the console whose output comes back on a pipe.
    struct Session {
        pid: usize,
        watchdog: usize,
        fd: usize,
    }

    impl Session {
        fn start() -> Result<Session, String> {
            let (r, w) = io::pipe(true).context("pipe")?;
            let pid = match process::fork() {
                Ok(0) => {
                    let _ = io::dup2(w, io::STDOUT);
                    let _ = io::dup2(w, io::STDERR);
                    let e = process::execve(SHELL, &["waysh"], &ENV);
                    process::exit(100 + e.code() as i32);
                }
                Ok(pid) => pid,
                Err(e) => return Err(format!("fork: {e}")),
            };
            let _ = io::close(w);
            // If typed input goes missing the shell waits forever and so would the reads
            // below: the watchdog ends it, which ends the pipe.
            let watchdog = match process::fork() {
                Ok(0) => {
                    let _ = libway::time::sleep_ms(SESSION_MS);
                    let _ = process::kill(pid, SIGKILL);
                    process::exit(0);
                }
                Ok(w) => w,
                Err(e) => {
                    let _ = process::kill(pid, SIGKILL);
                    return Err(format!("fork: {e}"));
                }
            };
            Ok(Session {
                pid,
                watchdog,
                fd: r,
            })
        }

        /// Reads exactly as many bytes as `want` has and compares.
        fn expect(&self, want: &str) -> Check {
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            while got.len() < want.len() {
                let room = (want.len() - got.len()).min(buf.len());
                match io::read(self.fd, &mut buf[..room]) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n.min(room)]),
                    Err(e) if e.code() == EINTR => {}
                    Err(e) => return Err(format!("read: {e}")),
                }
            }
            if got == want.as_bytes() {
                Ok(())
            } else {
                Err(format!(
                    "screen {:?}, expected {want:?}",
                    String::from_utf8_lossy(&got)
                ))
            }
        }

        /// Has the harness type `keys` (checking the console echoed `echo`, if given)
        /// and expects the shell to draw `want` in answer.
        fn step(&self, s: &Suite, keys: &[u8], echo: Option<&[u8]>, want: &str) -> Check {
            s.request_typing(keys, echo)?;
            self.expect(want)
                .map_err(|e| format!("after typing {keys:?}: {e}"))
        }

        /// Reads until the output ends with `suffix` (giving up after [`UNTIL_MAX`]
        /// bytes); returns how many bytes came first.
        fn until(&self, suffix: &str) -> Result<usize, String> {
            let mut tail: Vec<u8> = Vec::new();
            let mut total = 0;
            let mut buf = [0u8; 512];
            loop {
                match io::read(self.fd, &mut buf) {
                    Ok(0) => return Err(format!("end of output before {suffix:?}")),
                    Ok(_) if total > UNTIL_MAX => {
                        return Err(format!("no {suffix:?} in {total} bytes of output"))
                    }
                    Ok(n) => {
                        total += n;
                        tail.extend_from_slice(&buf[..n.min(buf.len())]);
                        if tail.ends_with(suffix.as_bytes()) {
                            return Ok(total - suffix.len());
                        }
                        let keep = tail.len().saturating_sub(suffix.len());
                        tail.drain(..keep);
                    }
                    Err(e) if e.code() == EINTR => {}
                    Err(e) => return Err(format!("read: {e}")),
                }
            }
        }

        /// Waits for the shell to end, stops the watchdog, and checks that nothing more
        /// was written.
        fn finish(self) -> Result<WaitStatus, String> {
            let rest = read_all(self.fd);
            let status = wait_for(self.pid, CHILD_TIMEOUT_MS);
            let _ = process::kill(self.watchdog, SIGKILL);
            let _ = wait_for(self.watchdog, CHILD_TIMEOUT_MS);
            let _ = io::close(self.fd);
            match rest? {
                r if r.is_empty() => status,
                r => Err(format!("more output at the end: {r:?}")),
            }
        }

        /// Ends a session that went wrong. Closing the pipe first ends any program of
        /// the shell's still writing to it (EPIPE).
        fn abort(self) {
            let _ = process::kill(self.pid, SIGKILL);
            let _ = io::close(self.fd);
            let _ = wait_for(self.pid, CHILD_TIMEOUT_MS);
            let _ = process::kill(self.watchdog, SIGKILL);
            let _ = wait_for(self.watchdog, CHILD_TIMEOUT_MS);
        }
    }

    /// The whole interactive session; `Err` names the first step that went wrong.
    fn interactive(s: &Suite) -> Check {
        let session = Session::start()?;
        match session_steps(s, &session) {
            Ok(()) => {
                let status = session.finish()?;
                if status.exited_with(1) {
                    Ok(())
                } else {
                    Err(format!(
                        "shell {status} after Ctrl-D, expected exit status 1"
                    ))
                }
            }
            Err(e) => {
                session.abort();
                Err(e)
            }
        }
    }

    fn session_steps(s: &Suite, t: &Session) -> Check {
        let p = PROMPT;
        t.expect(&format!(
            "waysh: type 'help' for the commands and keys\n{p}"
        ))?;
        // Left, insert in the middle (a redraw), End, Enter.
        t.step(
            s,
            b"echo ab\x1b[DX\x1b[F!\r",
            None,
            &format!("echo ab\x1b[1D\r{p}echo aXb\x1b[K\x1b[1D\x1b[1C!\r\naXb!\n{p}"),
        )?;
        // Home, Delete at the start, End, Backspace at the end.
        t.step(
            s,
            b"xecho hi\x1b[H\x1b[3~\x1b[4~\x7fo\r",
            None,
            &format!("xecho hi\x1b[8D\r{p}echo hi\x1b[K\x1b[7D\x1b[7C\x08 \x08o\r\nho\n{p}"),
        )?;
        // History: Up twice reaches the first line; Enter runs it again.
        t.step(
            s,
            b"\x1b[A\x1b[A\r",
            None,
            &format!("\r{p}echo ho\x1b[K\r{p}echo aXb!\x1b[K\r\naXb!\n{p}"),
        )?;
        // Ctrl-C drops the line; $? is 130.
        t.step(s, b"partial\x03", None, &format!("partial^C\r\n{p}"))?;
        t.step(s, b"echo $?\r", None, &format!("echo $?\r\n130\n{p}"))?;
        // An open quote asks for more.
        t.step(s, b"echo 'a\r", None, "echo 'a\r\n> ")?;
        t.step(s, b"b'\r", None, &format!("b'\r\na\nb\n{p}"))?;
        // Tab completes a unique command name.
        t.step(s, b"ech\t", None, "ech")?;
        t.step(s, b"tab\r", None, &format!("o tab\r\ntab\n{p}"))?;
        // A syntax error is reported and the shell goes on.
        t.step(
            s,
            b"echo a | | b\r",
            None,
            &format!("echo a | | b\r\nwaysh: syntax error: unexpected '|'\n{p}"),
        )?;
        // Ctrl-C stops a running program (the console echoes ^C) and the prompt returns.
        let cmd = format!("{SELF} {YES}\r");
        t.step(s, cmd.as_bytes(), None, &format!("{SELF} {YES}\r\n"))?;
        t.expect(&"y\n".repeat(512))?;
        s.request_typing(b"\x03", Some(b"^C"))?;
        t.until(p)?;
        t.step(s, b"echo $?\r", None, &format!("echo $?\r\n130\n{p}"))?;
        // Ctrl-D on an empty line leaves, with the last status.
        t.step(s, b"false\r", None, &format!("false\r\n{p}"))?;
        t.step(s, b"\x04", None, "\r\nexit\n")
    }

    /// `shelltest --yes`: `y` lines until killed (or the output goes away).
    fn yes() -> i32 {
        let chunk = "y\n".repeat(64);
        while io::write_all(io::STDOUT, chunk.as_bytes()).is_ok() {}
        1
    }

    /// The filter modes: `--cat`, `--count`, `--lines N` (see [`main`]'s pipelines).
    fn filter(mode: &str, arg: Option<&str>) -> i32 {
        let mut lines_left: usize = match (mode, arg.map(str::parse)) {
            ("--lines", Some(Ok(n))) => n,
            ("--lines", _) => return 2,
            _ => usize::MAX,
        };
        if lines_left == 0 {
            return 0;
        }
        let mut count = 0usize;
        let mut buf = [0u8; 512];
        loop {
            let n = match io::read(io::STDIN, &mut buf) {
                Ok(0) => break,
                Ok(n) => n.min(buf.len()),
                Err(e) if e.code() == EINTR => continue,
                Err(_) => return 1,
            };
            count += n;
            let mut chunk = &buf[..n];
            if mode == "--lines" {
                for (i, &b) in chunk.iter().enumerate() {
                    if b == b'\n' {
                        lines_left -= 1;
                        if lines_left == 0 {
                            chunk = &chunk[..=i];
                            break;
                        }
                    }
                }
            }
            if mode != "--count" && io::write_all(io::STDOUT, chunk).is_err() {
                return 1;
            }
            if lines_left == 0 {
                return 0;
            }
        }
        if mode == "--count" {
            println!("{count}");
        }
        0
    }

    pub fn main(args: Args) -> i32 {
        match args.get(1) {
            Some(YES) => return yes(),
            Some(mode @ ("--cat" | "--count" | "--lines")) => return filter(mode, args.get(2)),
            _ => {}
        }
        let mut s = Suite::new("shelltest");

        // Basics and exit statuses.
        s.check(
            "echo_builtin",
            expect("echo hello world", "hello world\n", "", 0),
        );
        s.check("echo_n", expect("echo -n a b", "a b", "", 0));
        s.check(
            "true_false_status",
            expect("true", "", "", 0).and(expect("false", "", "", 1)),
        );
        s.check(
            "exit_status",
            expect("exit 3", "", "", 3).and(expect("exit 300", "", "", 44)),
        );
        s.check(
            "exit_stops_the_script",
            expect("echo a; exit 4; echo b", "a\n", "", 4),
        );
        s.check(
            "status_is_the_last_command",
            expect("false; true", "", "", 0),
        );
        s.check(
            "dollar_question",
            expect("false; echo $?; true; echo $?", "1\n0\n", "", 0),
        );
        s.check(
            "negation",
            expect("! true; echo $?; ! false; echo $?", "1\n0\n", "", 0),
        );

        // Lists.
        s.check(
            "and_or",
            expect(
                "true && echo a || echo b; false && echo c || echo d",
                "a\nd\n",
                "",
                0,
            ),
        );
        s.check(
            "and_or_skips_keep_status",
            expect("false || false && echo x", "", "", 1),
        );
        s.check(
            "semicolons_and_newlines",
            expect("echo 1; echo 2\necho 3", "1\n2\n3\n", "", 0),
        );

        // Unknown commands and syntax errors.
        s.check(
            "unknown_command_127",
            expect(
                "nosuchcmd; echo $?",
                "127\n",
                "waysh: nosuchcmd: command not found\n",
                0,
            ),
        );
        s.check(
            "unknown_path_127",
            expect(
                "/bin/nosuchcmd",
                "",
                "waysh: /bin/nosuchcmd: no such file or directory\n",
                127,
            ),
        );
        s.check(
            "syntax_error_2_runs_nothing",
            expect(
                "echo before; echo a | | wc",
                "",
                "waysh: syntax error: unexpected '|'\n",
                2,
            ),
        );
        s.check(
            "unterminated_quote_is_an_error",
            expect(
                "echo 'abc",
                "",
                "waysh: syntax error: unterminated single quote\n",
                2,
            ),
        );

        // Quoting and variables.
        s.check(
            "quoting",
            expect(
                r#"X=1; echo 'a  $X' "b  $X" c\ \$X '' "" end"#,
                "a  $X b  1 c $X   end\n",
                "",
                0,
            ),
        );
        s.check(
            "variables",
            expect(
                "X=hi; echo $X ${X}there \"[$X]\" [$NOPE]; unset X; echo \"[$X]\"",
                "hi hithere [hi] []\n[]\n",
                "",
                0,
            ),
        );
        s.check(
            "field_splitting",
            expect("X='a   b'; echo [$X] \"[$X]\"", "[a b] [a   b]\n", "", 0),
        );
        s.check(
            "positional_parameters",
            sh_args("echo $0 $1 $# \"$@\"", &["name", "one", "two"])
                .and_then(|r| expect_output(&r, "name one 2 one two\n", "", 0).context("`$0 $1`")),
        );
        s.check(
            "export_reaches_children",
            expect(
                "X=local; export Y=exported; waysh -c 'echo [$X] [$Y]'",
                "[] [exported]\n",
                "",
                0,
            ),
        );
        s.check(
            "prefix_assignment_is_for_the_command_only",
            expect("Z=once waysh -c 'echo $Z'; echo [$Z]", "once\n[]\n", "", 0),
        );

        // Pipelines, through this program's filter modes (so they test the shell, not
        // the coreutils): `--cat` copies, `--count` counts bytes, `--lines N` passes N
        // lines, `--yes` writes `y` lines forever.
        let t = format!("T={SELF};");
        s.check(
            "pipeline_builtin_to_program",
            expect(&format!("{t} echo hello | $T --count"), "6\n", "", 0),
        );
        s.check(
            "pipeline_three_programs",
            expect(
                &format!("{t} echo hello world | $T --cat | $T --cat | $T --count"),
                "12\n",
                "",
                0,
            ),
        );
        s.check(
            "pipeline_five_stages",
            expect(
                &format!("{t} $T --yes | $T --lines 5 | $T --cat | $T --lines 2 | $T --count"),
                "4\n",
                "",
                0,
            ),
        );
        s.check(
            "endless_writer_stops_when_reader_exits",
            expect(&format!("{t} $T --yes | $T --lines 3"), "y\ny\ny\n", "", 0),
        );
        s.check(
            "pipeline_status_is_the_last",
            expect(
                "false | true; echo $?; true | false; echo $?",
                "0\n1\n",
                "",
                0,
            ),
        );
        s.check(
            "pipeline_of_shells",
            expect(
                &format!("{t} waysh -c 'echo a; echo b' | waysh -c \"$T --count\""),
                "4\n",
                "",
                0,
            ),
        );

        // Redirections, read back by the shell and directly.
        let f = "/tmp/shelltest.out";
        s.check(
            "redirect_write_append_read",
            expect(
                &format!("{t} echo abc > {f}; echo def >> {f}; $T --cat < {f}; $T --count <{f}"),
                "abc\ndef\n8\n",
                "",
                0,
            )
            .and_then(|()| match file_text(f)? {
                t if t == "abc\ndef\n" => Ok(()),
                t => Err(format!("{f} holds {t:?}")),
            }),
        );
        s.check(
            "redirect_truncates",
            expect(
                &format!("{t} echo longer-line > {f}; echo x > {f}; $T --cat < {f}"),
                "x\n",
                "",
                0,
            ),
        );
        s.check(
            "redirect_program_output",
            expect(
                &format!("{t} $T --yes | $T --lines 2 > {f}; $T --count < {f}"),
                "4\n",
                "",
                0,
            ),
        );
        let e = "/tmp/shelltest.err";
        s.check(
            "redirect_stderr",
            expect(
                &format!("{t} nosuchcmd 2> {e}; echo $?; $T --cat < {e}"),
                "127\nwaysh: nosuchcmd: command not found\n",
                "",
                0,
            )
            .and_then(|()| match file_text(e)? {
                t if t == "waysh: nosuchcmd: command not found\n" => Ok(()),
                t => Err(format!("{e} holds {t:?}")),
            }),
        );
        s.check(
            "stderr_to_stdout",
            expect(
                &format!("{t} nosuchcmd 2>&1 | $T --count"),
                // "waysh: nosuchcmd: command not found\n" is 36 bytes.
                "36\n",
                "",
                0,
            ),
        );
        s.check(
            "redirect_order_matters",
            expect(
                &format!("{t} nosuchcmd 2>&1 >{f} | $T --count; $T --count < {f}"),
                "36\n0\n",
                "",
                0,
            ),
        );
        s.check(
            "builtin_redirect_is_undone",
            expect(
                &format!("{t} echo to-file > {f}; echo to-stdout; $T --cat < {f}"),
                "to-stdout\nto-file\n",
                "",
                0,
            ),
        );
        s.check(
            "redirect_missing_file",
            expect(
                "cat < /tmp/shelltest.none; echo $?",
                "1\n",
                "waysh: /tmp/shelltest.none: no such file or directory\n",
                0,
            ),
        );
        s.check(
            "script_file",
            expect(
                &format!("echo 'echo script $1 $#; exit 5' > {f}; waysh {f} arg; echo $?"),
                "script arg 1\n5\n",
                "",
                0,
            ),
        );

        // The same through the coreutils, once they are installed.
        for (name, script, out) in [
            ("coreutils_echo_wc", "echo hello | wc -c", "6\n"),
            ("coreutils_yes_head", "yes | head -n 3", "y\ny\ny\n"),
            (
                "coreutils_three_programs",
                "echo hello world | cat | cat | wc -c",
                "12\n",
            ),
        ] {
            let needs = ["wc", "yes", "head", "cat"];
            match needs
                .iter()
                .find(|p| libway::fs::stat(&format!("/bin/{p}")).is_err())
            {
                None => s.check(name, expect(script, out, "", 0)),
                Some(missing) => println!("  skip {name}: /bin/{missing} is not installed"),
            }
        }

        // Directories.
        s.check(
            "cd_pwd",
            expect("cd /bin && pwd; cd /; pwd", "/bin\n/\n", "", 0),
        );
        s.check(
            "cd_relative_and_pwd_var",
            expect(
                "cd /; cd tmp; pwd; echo $PWD $OLDPWD",
                "/tmp\n/tmp /\n",
                "",
                0,
            ),
        );
        s.check(
            "cd_missing",
            expect(
                "cd /nonexistent; echo $?",
                "1\n",
                "waysh: cd: /nonexistent: no such file or directory\n",
                0,
            ),
        );

        // The interactive shell, typed at over the serial line by the harness.
        s.typed_checks("the interactive session", |s| {
            let result = interactive(s);
            s.check("interactive_session", result);
        });
        s.finish()
    }
}
