//! Malformed executables: a sample of ELF mutants of a real program (`/bin/hello`),
//! generated on the host by `tools/corpus` and packed by `cargo xtask` under
//! `/testdata/elf/` (`/testdata/elf/names` lists `<index> <what was done>`), each passed to
//! `execve` in a child. The kernel must refuse each with an errno, or start it and let it
//! end (exit or signal) — and a mutant that runs forever must still die on `SIGKILL`. After
//! all of them, the system still starts programs.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libway::abi::signal::SIGKILL;
use libway::abi::wait::WNOHANG;
use libway::suite::{in_child, Check, Suite};
use libway::{fs, io, process};

/// Where `cargo xtask` packs the corpus sample.
const DIR: &str = "/testdata/elf";
/// Exit status of a child whose `execve` returned (the mutant was refused).
const REFUSED: i32 = 100;
/// How long a started mutant may run before it is killed.
const RUN_MS: u64 = 3_000;
/// How long a killed mutant may take to be reaped.
const REAP_MS: u64 = 10_000;
const POLL_MS: u64 = 10;

/// How one mutant ended.
enum Outcome {
    Refused,
    Ended,
    /// Ran past [`RUN_MS`] and died on `SIGKILL`.
    Killed,
}

/// Runs mutant `path`; Err if the child could not be made or did not die on `SIGKILL`.
fn exec_one(path: &str) -> Result<Outcome, String> {
    let pid = match process::fork() {
        Ok(0) => {
            // The mutant's output, if it runs, goes nowhere.
            if let Ok(null) = fs::open_raw("/dev/null", libway::abi::fcntl::O_RDWR, 0) {
                let _ = io::dup2(null, io::STDOUT);
                let _ = io::dup2(null, io::STDERR);
            }
            let _ = process::execve(path, &[path], &[]);
            process::exit(REFUSED)
        }
        Ok(pid) => pid,
        Err(e) => return Err(format!("fork: {e}")),
    };
    let mut waited = 0;
    let mut killed_at = None;
    loop {
        match process::waitpid(pid as isize, WNOHANG) {
            Ok((0, _)) => {}
            Ok((_, status)) => {
                return Ok(match (status.exited_with(REFUSED), killed_at) {
                    (true, _) => Outcome::Refused,
                    (false, None) => Outcome::Ended,
                    (false, Some(_)) => Outcome::Killed,
                })
            }
            Err(e) => return Err(format!("wait: {e}")),
        }
        match killed_at {
            None if waited >= RUN_MS => {
                let _ = process::kill(pid, SIGKILL);
                killed_at = Some(waited);
            }
            Some(at) if waited - at >= REAP_MS => {
                return Err(format!("not reaped {REAP_MS} ms after SIGKILL"));
            }
            _ => {}
        }
        let _ = process::sleep_or_yield(POLL_MS);
        waited += POLL_MS;
    }
}

/// The corpus index: `(path, what was done)` per mutant.
fn corpus() -> Result<Vec<(String, String)>, String> {
    let names = fs::read(&format!("{DIR}/names")).map_err(|e| format!("{DIR}/names: {e}"))?;
    let text = String::from_utf8(names).map_err(|_| format!("{DIR}/names is not UTF-8"))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(i, what)| (format!("{DIR}/{i}"), String::from(what)))
        .collect())
}

fn run_corpus() -> Check {
    let list = corpus()?;
    if list.is_empty() {
        return Err(format!("{DIR}/names lists no mutants"));
    }
    let (mut refused, mut ended, mut killed) = (0, 0, 0);
    let mut bad = Vec::new();
    for (path, what) in &list {
        match exec_one(path) {
            Ok(Outcome::Refused) => refused += 1,
            Ok(Outcome::Ended) => ended += 1,
            Ok(Outcome::Killed) => killed += 1,
            Err(e) => bad.push(format!("{path} ({what}): {e}")),
        }
    }
    libway::println!(
        "  elf corpus: {} mutants: {refused} refused, {ended} ran and ended, {killed} killed",
        list.len()
    );
    if !bad.is_empty() {
        return Err(bad.join("; "));
    }
    // A corpus of valid files would prove nothing.
    if refused == 0 {
        return Err(String::from(
            "no mutant was refused: is the corpus malformed at all?",
        ));
    }
    Ok(())
}

fn still_runs_programs() -> Check {
    let status = in_child(|| {
        if let Ok(null) = fs::open_raw("/dev/null", libway::abi::fcntl::O_RDWR, 0) {
            let _ = io::dup2(null, io::STDOUT);
        }
        let _ = process::execve("/bin/hello", &["/bin/hello"], &[]);
        REFUSED
    })?;
    if status.exited_with(0) {
        Ok(())
    } else {
        Err(format!("/bin/hello {status}"))
    }
}

pub fn run(s: &mut Suite) {
    s.check("elf_mutants_refused_or_contained", run_corpus());
    s.check("programs_still_run_after_elf_corpus", still_runs_programs());
}
