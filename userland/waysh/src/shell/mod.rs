//! The shell proper: its state, how it starts (`waysh`, `waysh -c`, `waysh FILE`), and
//! the modules that run commands ([`exec`]), the builtins ([`builtins`]), the interactive
//! loop ([`interactive`]).

mod builtins;
mod exec;
mod interactive;

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use libway::{eprintln, fs, println};
use waysh::edit::Editor;
use waysh::expand::Context;
use waysh::messages::{describe_errno, STATUS_SYNTAX};
use waysh::parse::parse;
use waysh::util::DEFAULT_PATH;
use waysh::vars::Vars;

const USAGE: &str = "usage: waysh [-c COMMANDS [NAME [ARG...]] | FILE [ARG...]]";

pub struct Shell {
    pub vars: Vars,
    /// `$?`.
    pub status: i32,
    /// `$0`, `$1`, ...
    pub args: Vec<String>,
    /// `$$`.
    pub pid: usize,
    /// Reading commands from the console: job control, prompts, line editing.
    pub interactive: bool,
    /// `exit` ran (with this status).
    pub exit: Option<i32>,
    /// The last pipeline was stopped by Ctrl-C: the rest of the line is dropped.
    pub interrupted: bool,
    /// The line editor and its history (interactive only).
    pub editor: Editor,
}

impl Shell {
    fn new(args: Vec<String>) -> Self {
        let mut vars = Vars::from_env(libway::env::vars().iter());
        if vars.get("PATH").is_none() {
            vars.export("PATH", Some(DEFAULT_PATH));
        }
        if vars.get("HOME").is_none() {
            vars.export("HOME", Some("/"));
        }
        if let Ok(cwd) = fs::getcwd() {
            vars.export("PWD", Some(&cwd));
        }
        Shell {
            vars,
            status: 0,
            args,
            pid: libway::process::getpid().unwrap_or(0),
            interactive: false,
            exit: None,
            interrupted: false,
            editor: Editor::new(),
        }
    }

    /// What expansion reads.
    pub fn context(&self) -> Context<'_> {
        Context {
            vars: &self.vars,
            status: self.status,
            pid: self.pid,
            args: &self.args,
        }
    }

    /// Parses and runs `text`; a syntax error runs nothing and sets status 2.
    pub fn run_text(&mut self, text: &str) {
        match parse(text) {
            Ok(script) => {
                self.interrupted = false;
                self.run_script(&script);
            }
            Err(e) => {
                eprintln!("waysh: {e}");
                self.status = STATUS_SYNTAX;
            }
        }
    }

    /// Runs the script in file `path`.
    pub fn run_file(&mut self, path: &str) -> Result<(), String> {
        let data = fs::read(path).map_err(|e| describe_errno(e.code()))?;
        let text = String::from_utf8(data).map_err(|_| "not a text file".to_string())?;
        self.run_text(&text);
        Ok(())
    }

    /// The status the shell leaves with.
    fn final_status(&self) -> i32 {
        self.exit.unwrap_or(self.status)
    }
}

/// `waysh`'s `main`.
pub fn main(args: libway::Args) -> i32 {
    let argv: Vec<String> = args.iter().map(String::from).collect();
    let name = String::from("waysh");
    match argv.get(1).map(String::as_str) {
        None => {
            let mut sh = Shell::new(alloc::vec![name]);
            interactive::run(&mut sh);
            sh.final_status()
        }
        Some("-c") => {
            let Some(text) = argv.get(2) else {
                eprintln!("waysh: -c needs an argument\n{USAGE}");
                return STATUS_SYNTAX;
            };
            let mut positional: Vec<String> = argv[3..].to_vec();
            if positional.is_empty() {
                positional.push(name);
            }
            let mut sh = Shell::new(positional);
            sh.run_text(text);
            sh.final_status()
        }
        Some("-h" | "--help") => {
            println!("{USAGE}");
            0
        }
        Some(opt) if opt.starts_with('-') => {
            eprintln!("waysh: unknown option {opt}\n{USAGE}");
            STATUS_SYNTAX
        }
        Some(file) => {
            let file = String::from(file);
            let mut sh = Shell::new(argv[1..].to_vec());
            match sh.run_file(&file) {
                Ok(()) => sh.final_status(),
                Err(e) => {
                    eprintln!("waysh: {file}: {e}");
                    waysh::messages::STATUS_NOT_FOUND
                }
            }
        }
    }
}
