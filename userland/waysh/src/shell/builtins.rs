//! The builtins: commands that change the shell itself (`cd`, `exit`, `export`, `unset`)
//! or are cheaper without a process (`echo`, `pwd`, `true`, `false`, ...).
//! `waysh::util::BUILTINS` lists them.

use alloc::string::String;
use alloc::vec::Vec;

use libway::fs::{self, StatExt};
use libway::{eprintln, print, println};
use waysh::messages::{describe_errno, HELP, STATUS_SYNTAX};
use waysh::parse::is_name;
use waysh::util::DEFAULT_PATH;
use waysh::util::{exit_status_arg, is_builtin, logical_path, path_candidates, quote};

use super::Shell;

/// Runs builtin `argv[0]`; returns its status.
pub fn run(sh: &mut Shell, argv: &[String]) -> i32 {
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    match argv[0].as_str() {
        ":" | "true" => 0,
        "false" => 1,
        "cd" => cd(sh, &args),
        "pwd" => pwd(sh),
        "echo" => echo(&args),
        "exit" => exit(sh, &args),
        "export" => export(sh, &args),
        "unset" => unset(sh, &args),
        "set" => {
            for (name, value, _) in sh.vars.iter() {
                println!("{name}={}", quote(value));
            }
            0
        }
        "help" => {
            print!("{HELP}");
            0
        }
        "history" => {
            for (i, line) in sh.editor.history().iter().enumerate() {
                println!("{:5}  {line}", i + 1);
            }
            0
        }
        "type" => type_of(sh, &args),
        other => {
            eprintln!("waysh: {other}: not a builtin");
            STATUS_SYNTAX
        }
    }
}

fn cd(sh: &mut Shell, args: &[&str]) -> i32 {
    let (target, show) = match args {
        [] => (sh.vars.get("HOME").unwrap_or("/").into(), false),
        ["-"] => match sh.vars.get("OLDPWD") {
            Some(old) => (String::from(old), true),
            None => {
                eprintln!("waysh: cd: OLDPWD not set");
                return 1;
            }
        },
        [dir] => (String::from(*dir), false),
        _ => {
            eprintln!("waysh: cd: too many arguments");
            return 1;
        }
    };
    if let Err(e) = fs::chdir(&target) {
        eprintln!("waysh: cd: {target}: {}", describe_errno(e.code()));
        return 1;
    }
    let old = sh.vars.get("PWD").map(String::from);
    let new = fs::getcwd().unwrap_or_else(|_| logical_path(old.as_deref().unwrap_or("/"), &target));
    if let Some(old) = old {
        sh.vars.export("OLDPWD", Some(&old));
    }
    sh.vars.export("PWD", Some(&new));
    if show {
        println!("{new}");
    }
    0
}

fn pwd(sh: &Shell) -> i32 {
    match fs::getcwd() {
        Ok(cwd) => {
            println!("{cwd}");
            0
        }
        Err(e) => match sh.vars.get("PWD") {
            Some(pwd) => {
                println!("{pwd}");
                0
            }
            None => {
                eprintln!("waysh: pwd: {}", describe_errno(e.code()));
                1
            }
        },
    }
}

fn echo(args: &[&str]) -> i32 {
    let (newline, words) = match args {
        ["-n", rest @ ..] => (false, rest),
        _ => (true, args),
    };
    let mut line = words.join(" ");
    if newline {
        line.push('\n');
    }
    match libway::io::write_all(libway::io::STDOUT, line.as_bytes()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("waysh: echo: {}", describe_errno(e.code()));
            1
        }
    }
}

fn exit(sh: &mut Shell, args: &[&str]) -> i32 {
    let status = match args {
        [] => sh.status,
        [n] => match exit_status_arg(n) {
            Some(s) => s,
            None => {
                eprintln!("waysh: exit: {n}: a number is required");
                STATUS_SYNTAX
            }
        },
        _ => {
            eprintln!("waysh: exit: too many arguments");
            return 1;
        }
    };
    sh.exit = Some(status);
    status
}

fn export(sh: &mut Shell, args: &[&str]) -> i32 {
    if args.is_empty() {
        for (name, value, exported) in sh.vars.iter() {
            if exported {
                println!("export {name}={}", quote(value));
            }
        }
        return 0;
    }
    let mut status = 0;
    for arg in args {
        let (name, value) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (*arg, None),
        };
        if is_name(name) {
            sh.vars.export(name, value);
        } else {
            eprintln!("waysh: export: '{arg}': not a valid name");
            status = 1;
        }
    }
    status
}

fn unset(sh: &mut Shell, args: &[&str]) -> i32 {
    let mut status = 0;
    for name in args {
        if is_name(name) {
            sh.vars.unset(name);
        } else {
            eprintln!("waysh: unset: '{name}': not a valid name");
            status = 1;
        }
    }
    status
}

fn type_of(sh: &Shell, args: &[&str]) -> i32 {
    let path = sh.vars.get("PATH").unwrap_or(DEFAULT_PATH);
    let mut status = 0;
    for name in args {
        if is_builtin(name) {
            println!("{name} is a shell builtin");
            continue;
        }
        match path_candidates(name, path)
            .into_iter()
            .find(|c| fs::stat(c).is_ok_and(|st| !st.is_dir()))
        {
            Some(file) => println!("{name} is {file}"),
            None => {
                eprintln!("waysh: type: {name}: not found");
                status = 1;
            }
        }
    }
    status
}
