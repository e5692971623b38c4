//! The interactive loop: prompt, line editing in raw mode, continuation lines, running
//! each line in cooked mode, and Ctrl-D to leave.
//!
//! While a line is edited the console is raw and the shell draws everything itself
//! ([`waysh::edit::Editor`]); while a command runs it is cooked, so the program gets the
//! console's line discipline and Ctrl-C interrupts it. Bytes typed ahead while a command
//! ran are kept for the next line.
//!
//! When standard input is a file or a pipe (or no console server answers), the shell
//! reads it to the end and runs it as a script instead.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::errno::EINTR;
use libway::abi::fs::{S_IFIFO, S_IFMT, S_IFREG};
use libway::fs;
use libway::io::{self, STDIN, STDOUT};
use libway::{eprintln, println};
use waysh::edit::Event;
use waysh::messages::{describe_errno, STATUS_SYNTAX};
use waysh::parse::{parse, ParseError};
use waysh::util::{prompt, BUILTINS, DEFAULT_PATH};
use waysh::vars::Vars;

use super::Shell;

/// Prompt of a continuation line (after an open quote or a trailing `|`).
const PS2: &str = "> ";
/// Status after Ctrl-C drops a line (128 + SIGINT, as in other shells).
const STATUS_INTERRUPTED: i32 = 130;

pub fn run(sh: &mut Shell) {
    let from_file = fs::fstat(STDIN).is_ok_and(|st| {
        let kind = st.mode & S_IFMT;
        kind == S_IFIFO || kind == S_IFREG
    });
    if from_file || libway::console::set_raw(true).is_err() {
        run_stdin_script(sh);
        return;
    }
    sh.interactive = true;
    println!("waysh: type 'help' for the commands and keys");
    let mut typed: VecDeque<u8> = VecDeque::new();
    let mut pending = String::new();
    while sh.exit.is_none() {
        let _ = libway::console::set_raw(true);
        let ps = if pending.is_empty() {
            let cwd = sh.vars.get("PWD").unwrap_or("/");
            prompt(sh.vars.get("PS1"), cwd, sh.vars.get("HOME"))
        } else {
            String::from(PS2)
        };
        match read_line(sh, &ps, &mut typed) {
            Event::Line(line) => {
                if !pending.is_empty() {
                    pending.push('\n');
                }
                pending.push_str(&line);
                match parse(&pending) {
                    Ok(script) => {
                        pending.clear();
                        let _ = libway::console::set_raw(false);
                        sh.interrupted = false;
                        sh.run_script(&script);
                    }
                    Err(ParseError::Incomplete(_)) => {}
                    Err(e) => {
                        pending.clear();
                        eprintln!("waysh: {e}");
                        sh.status = STATUS_SYNTAX;
                    }
                }
            }
            Event::Interrupt => {
                pending.clear();
                sh.status = STATUS_INTERRUPTED;
            }
            Event::Eof | Event::None => {
                println!("exit");
                break;
            }
        }
    }
    let _ = libway::console::set_raw(false);
}

/// Edits one line: reads keys (first any typed ahead) until the editor reports something.
fn read_line(sh: &mut Shell, ps: &str, typed: &mut VecDeque<u8>) -> Event {
    let mut out = Vec::new();
    sh.editor.begin(ps, &mut out);
    let mut buf = [0u8; 128];
    loop {
        if typed.is_empty() {
            flush(&mut out);
            match io::read(STDIN, &mut buf) {
                Ok(0) => return Event::Eof,
                Ok(n) => typed.extend(&buf[..n.min(buf.len())]),
                Err(e) if e.code() == EINTR => continue,
                Err(e) => {
                    eprintln!(
                        "waysh: cannot read the console: {}",
                        describe_errno(e.code())
                    );
                    return Event::Eof;
                }
            }
        }
        while let Some(b) = typed.pop_front() {
            let vars = &sh.vars;
            let event = sh
                .editor
                .feed(b, &mut out, &mut |word| command_names(vars, word));
            if event != Event::None {
                flush(&mut out);
                return event;
            }
        }
    }
}

fn flush(out: &mut Vec<u8>) {
    if !out.is_empty() {
        let _ = io::write_all(STDOUT, out);
        out.clear();
    }
}

/// Completion candidates for a command name: builtins and the programs in `$PATH`.
fn command_names(vars: &Vars, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = BUILTINS
        .iter()
        .filter(|b| b.starts_with(prefix))
        .map(|b| String::from(*b))
        .collect();
    for dir in vars.get("PATH").unwrap_or(DEFAULT_PATH).split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        if let Ok(entries) = fs::read_dir(dir) {
            names.extend(
                entries
                    .filter_map(Result::ok)
                    .filter(|e| !e.is_dir() && e.name.starts_with(prefix))
                    .map(|e| e.name),
            );
        }
    }
    names
}

/// Reads all of standard input and runs it.
fn run_stdin_script(sh: &mut Shell) {
    let mut data = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match io::read(STDIN, &mut buf) {
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&buf[..n.min(buf.len())]),
            Err(e) if e.code() == EINTR => {}
            Err(e) => {
                eprintln!("waysh: cannot read input: {}", describe_errno(e.code()));
                sh.status = 1;
                return;
            }
        }
    }
    sh.run_text(&String::from_utf8_lossy(&data));
}
