//! QEMU command lines, serial capture with timeouts, and exit-status decoding.
//!
//! Always TCG unless KVM is asked for (the build machines' /dev/kvm does not work), always
//! `-no-reboot` so a triple fault ends the run instead of looping.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use wayos_abi::harness::{qemu_status, EXIT_FAILURE, EXIT_SUCCESS, X86_DEBUG_EXIT_PORT};

use crate::artifacts::Built;
use crate::prereq::{self, qemu_binary};
use crate::{Arch, Result};

/// The emulated machine.
pub struct Machine {
    pub arch: Arch,
    pub smp: u32,
    pub memory: String,
    pub kvm: bool,
    /// aarch64: enter the kernel at EL2 (`virtualization=on`), so its EL2-to-EL1 drop runs.
    pub el2: bool,
}

/// Where the boot medium is.
pub enum Medium<'a> {
    /// x86_64: a FAT ESP image booted by OVMF.
    Esp(&'a Path),
    /// x86_64: a hybrid ISO (booted by SeaBIOS).
    Iso(&'a Path),
    /// aarch64: `-kernel Image -initrd initramfs -append cmdline`.
    Kernel { cmdline: &'a str },
}

/// Where the serial console goes.
pub enum Serial<'a> {
    /// The terminal, multiplexed with the QEMU monitor (Ctrl-A X quits, Ctrl-A C monitor).
    Terminal,
    /// A pipe the harness reads.
    Pipe,
    /// A file (when GDB owns the terminal).
    File(&'a Path),
}

/// Builds the QEMU command. `gdb_port` adds a GDB stub and starts the CPU halted.
pub fn command(
    built: &Built,
    m: &Machine,
    medium: Medium<'_>,
    serial: Serial<'_>,
    gdb_port: Option<u16>,
) -> Result<Command> {
    let mut cmd = Command::new(qemu_binary(m.arch));
    cmd.args(["-accel", if m.kvm { "kvm" } else { "tcg" }]);
    match m.arch {
        Arch::X86_64 => {
            cmd.args(["-machine", "q35", "-cpu", "max"]);
            cmd.arg("-device").arg(format!(
                "isa-debug-exit,iobase={X86_DEBUG_EXIT_PORT:#x},iosize=0x04"
            ));
        }
        Arch::Aarch64 => {
            let machine = if m.el2 {
                "virt,gic-version=3,virtualization=on"
            } else {
                "virt,gic-version=3"
            };
            cmd.args(["-machine", machine, "-cpu", "max"]);
        }
    }
    cmd.arg("-smp").arg(m.smp.to_string());
    cmd.arg("-m").arg(&m.memory);
    cmd.args(["-no-reboot", "-display", "none"]);
    match serial {
        Serial::Terminal => {
            cmd.args(["-serial", "mon:stdio"]);
        }
        Serial::Pipe => {
            cmd.args(["-serial", "stdio", "-monitor", "none"]);
        }
        Serial::File(path) => {
            cmd.arg("-serial").arg(format!("file:{}", path.display()));
            cmd.args(["-monitor", "none"]);
        }
    }
    match medium {
        Medium::Esp(esp) => {
            let (code, vars_template) = prereq::ovmf().ok_or("OVMF firmware not found")?;
            let vars = built.out_dir.join("OVMF_VARS.fd");
            std::fs::copy(&vars_template, &vars)
                .map_err(|e| format!("{}: {e}", vars_template.display()))?;
            cmd.arg("-drive").arg(format!(
                "if=pflash,format=raw,readonly=on,file={}",
                code.display()
            ));
            cmd.arg("-drive")
                .arg(format!("if=pflash,format=raw,file={}", vars.display()));
            cmd.arg("-drive")
                .arg(format!("format=raw,file={}", esp.display()));
        }
        Medium::Iso(iso) => {
            cmd.arg("-cdrom").arg(iso);
        }
        Medium::Kernel { cmdline } => {
            let image = built.image.as_ref().ok_or("no aarch64 Image was built")?;
            cmd.arg("-kernel").arg(image);
            cmd.arg("-initrd").arg(&built.initramfs);
            cmd.arg("-append").arg(cmdline);
        }
    }
    if let Some(port) = gdb_port {
        cmd.arg("-gdb").arg(format!("tcp:127.0.0.1:{port}"));
        cmd.arg("-S");
    }
    Ok(cmd)
}

/// The boot medium for `built` with `cmdline` (x86_64 media carry it inside).
pub fn prepare_medium(built: &Built, cmdline: &str, name: &str) -> Result<(Option<PathBuf>, bool)> {
    match built.arch {
        Arch::Aarch64 => Ok((None, false)),
        Arch::X86_64 => {
            let path = crate::artifacts::x86_boot_medium(built, cmdline, name)?;
            Ok((Some(path), built.limine.is_some()))
        }
    }
}

/// Picks the medium variant for a prepared path.
pub fn medium<'a>(path: &'a Option<PathBuf>, is_iso: bool, cmdline: &'a str) -> Medium<'a> {
    match path {
        Some(p) if is_iso => Medium::Iso(p),
        Some(p) => Medium::Esp(p),
        None => Medium::Kernel { cmdline },
    }
}

/// Shows a command the way a user would type it.
pub fn display(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.contains(' ') || a.is_empty() {
            s.push_str(&format!(" '{a}'"));
        } else {
            s.push(' ');
            s.push_str(&a);
        }
    }
    s
}

/// What QEMU's exit status means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The kernel reported success through the debug-exit device.
    KernelPassed,
    /// The kernel reported failure (or stopped after a fatal error).
    KernelFailed,
    /// QEMU exited normally without a verdict (PSCI or ACPI power-off).
    PoweredOff,
    /// Anything else: a QEMU error, a signal.
    Other(Option<i32>),
}

/// The one place QEMU exit statuses are decoded.
pub fn decode_exit(status: ExitStatus) -> Verdict {
    match status.code() {
        Some(c) if c == qemu_status(EXIT_SUCCESS) => Verdict::KernelPassed,
        Some(c) if c == qemu_status(EXIT_FAILURE) => Verdict::KernelFailed,
        Some(0) => Verdict::PoweredOff,
        other => Verdict::Other(other),
    }
}

/// A running guest whose serial output is read line by line.
pub struct Guest {
    child: Child,
    /// The serial console's input (QEMU's stdin).
    input: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    verbose: bool,
}

impl Guest {
    /// Starts QEMU with the serial console on pipes.
    pub fn spawn(mut cmd: Command, verbose: bool) -> Result<Self> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
        let stdout = child.stdout.take().ok_or("no QEMU stdout")?;
        let input = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        let line = line.trim_end_matches(['\n', '\r']).replace('\r', "");
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok(Self {
            child,
            input,
            lines: rx,
            seen: Vec::new(),
            verbose,
        })
    }

    /// Waits until a line satisfies `want`, returning it; `None` on timeout or end of output.
    pub fn wait_for(&mut self, timeout: Duration, want: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if self.verbose {
                        println!("    | {line}");
                    }
                    self.seen.push(line.clone());
                    if want(&line) {
                        return Some(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None
                }
            }
        }
    }

    /// Types `bytes` on the serial console.
    pub fn type_bytes(&mut self, bytes: &[u8]) -> std::result::Result<(), String> {
        let input = self.input.as_mut().ok_or("serial input closed")?;
        input
            .write_all(bytes)
            .and_then(|()| input.flush())
            .map_err(|e| format!("typing on the serial console: {e}"))
    }

    /// Reads the rest of the output and waits for QEMU to exit; kills it on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let _ = self.wait_for(timeout, |_| false);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        None
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Every line seen so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// The last `n` lines, indented, for failure reports.
    pub fn tail(&self, n: usize) -> String {
        let start = self.seen.len().saturating_sub(n);
        let mut s = format!("last {} serial lines:\n", self.seen.len() - start);
        for l in &self.seen[start..] {
            s.push_str("    | ");
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// A free local TCP port for a GDB stub.
pub fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free TCP port: {e}"))
}
