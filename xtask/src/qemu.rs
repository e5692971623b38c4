//! QEMU command lines, serial capture with timeouts, and exit-status decoding.
//!
//! Always TCG unless KVM is asked for (the build machines' /dev/kvm does not work), always
//! `-no-reboot` so a triple fault ends the run instead of looping.
//!
//! The serial line carries firmware and loader output (OVMF, Limine with `serial: yes`,
//! wayboot) before the kernel's. [`Guest`] keeps the two apart: everything before the
//! kernel's first log line is loader output, which the harness's waits never match and
//! failure reports show separately, with a hint when the kernel never spoke at all.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use wayos_abi::harness::{
    qemu_status, EXIT_FAILURE, EXIT_SUCCESS, FAR_BANDWIDTH_MBPS, FAR_DISTANCE, FAR_LATENCY_NS,
    NEAR_BANDWIDTH_MBPS, NEAR_LATENCY_NS, TIERS_KEY, X86_DEBUG_EXIT_PORT,
};

use crate::artifacts::Built;
use crate::prereq::{self, qemu_binary};
use crate::{Arch, Firmware, Result};

/// The emulated machine.
pub struct Machine {
    pub arch: Arch,
    pub smp: u32,
    pub memory: String,
    pub kvm: bool,
    /// aarch64: enter the kernel at EL2 (`virtualization=on`), so its EL2-to-EL1 drop runs.
    pub el2: bool,
    /// A QEMU `-display` value to show the guest's screen (`default`: QEMU's window, or VNC
    /// when it was built without a GUI); `None` runs headless (`-display none`).
    pub display: Option<String>,
    /// Memory tiers: 2 (the default) presents two NUMA nodes, 3/4 of `memory` near with
    /// the CPUs and 1/4 far, memory only ([`numa_split`]); 1 a flat machine.
    pub tiers: u32,
    /// The network: `None` attaches no NIC (`--net none`); otherwise one virtio-net-pci
    /// on QEMU's user network (guest 10.0.2.15, host 10.0.2.2, DNS 10.0.2.3).
    pub net: Option<Net>,
    /// Disk images attached as virtio-blk-pci devices, blk0 first ([`crate::disk`]).
    pub disks: Vec<PathBuf>,
    /// The display device the kernel draws its screen console on.
    pub screen: Screen,
    /// A QMP socket (a Unix socket path, so only this machine's users reach it) for the
    /// harness's `screendump` ([`crate::screen`]).
    pub qmp: Option<PathBuf>,
}

/// The guest's display device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Screen {
    /// virtio-gpu-pci at `wayos_abi::display::WIDTH` x `HEIGHT` (x86_64 without the
    /// standard VGA, so the screendump shows the kernel's screen).
    Virtio,
    /// x86_64: QEMU's standard VGA only, which UEFI (GOP) and Limine set up as a linear
    /// framebuffer the kernel draws on.
    Vga,
    /// No display device (x86_64: `-vga none`).
    None,
}

impl Screen {
    /// The QEMU arguments for this display device on `arch`.
    pub fn args(self, arch: Arch) -> Result<Vec<String>> {
        let gpu = format!(
            "virtio-gpu-pci,xres={},yres={}",
            wayos_abi::display::WIDTH,
            wayos_abi::display::HEIGHT
        );
        Ok(match (self, arch) {
            (Screen::Virtio, Arch::X86_64) => {
                vec!["-vga".into(), "none".into(), "-device".into(), gpu]
            }
            (Screen::Virtio, Arch::Aarch64) => vec!["-device".into(), gpu],
            (Screen::Vga, Arch::X86_64) => vec!["-vga".into(), "std".into()],
            (Screen::Vga, Arch::Aarch64) => {
                return Err("--screen vga is x86_64 only (aarch64 has virtio or none)".into())
            }
            (Screen::None, Arch::X86_64) => vec!["-vga".into(), "none".into()],
            (Screen::None, Arch::Aarch64) => Vec::new(),
        })
    }
}

/// The guest's MAC address: set explicitly so frames the harness injects can be addressed
/// to it whatever else is on QEMU's command line.
pub const GUEST_MAC: [u8; 6] = wayos_abi::usernet::GUEST_MAC;

/// A forward's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// A host port forwarded to a guest port through QEMU's user network; the host side is
/// bound on 127.0.0.1 only (nothing outside this machine can reach the guest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    pub proto: Proto,
    pub host: u16,
    pub guest: u16,
}

impl Forward {
    pub fn tcp(host: u16, guest: u16) -> Self {
        Self {
            proto: Proto::Tcp,
            host,
            guest,
        }
    }

    pub fn udp(host: u16, guest: u16) -> Self {
        Self {
            proto: Proto::Udp,
            host,
            guest,
        }
    }

    /// `HOST:GUEST` (TCP), `tcp:HOST:GUEST` or `udp:HOST:GUEST`; ports 1-65535.
    pub fn parse(s: &str) -> Result<Self> {
        let (proto, rest) = match s.split_once(':') {
            Some(("udp", rest)) => (Proto::Udp, rest),
            Some(("tcp", rest)) => (Proto::Tcp, rest),
            _ => (Proto::Tcp, s),
        };
        let port = |p: &str| -> Result<u16> {
            match p.parse::<u16>() {
                Ok(0) | Err(_) => Err(format!(
                    "'{s}': ports are 1-65535 (want [udp:]HOST:GUEST, e.g. 8080:80)"
                )),
                Ok(n) => Ok(n),
            }
        };
        let (host, guest) = rest
            .split_once(':')
            .ok_or_else(|| format!("'{s}': want [udp:]HOST:GUEST, e.g. 8080:80"))?;
        Ok(Self {
            proto,
            host: port(host)?,
            guest: port(guest)?,
        })
    }

    /// The `hostfwd=` value of QEMU's user network.
    fn hostfwd(&self) -> String {
        format!(
            "hostfwd={}:127.0.0.1:{}-:{}",
            self.proto.name(),
            self.host,
            self.guest
        )
    }
}

/// The guest's user-network NIC, the host ports forwarded to it, and optionally the
/// harness's relay between them.
#[derive(Clone, Debug, Default)]
pub struct Net {
    /// Host ports forwarded to the guest (TCP and UDP), bound on 127.0.0.1.
    pub forward: Vec<Forward>,
    /// Test boots: the harness sits on the wire between the NIC and the user network, so
    /// it can put frames on the guest's segment that the user network never sees.
    pub relay: Option<Relay>,
}

/// The UDP ports (all on 127.0.0.1) of the harness's relay. The NIC's backend is a UDP
/// socket netdev talking to the harness; the user network joins a QEMU hub with a second
/// socket netdev talking to the harness; the harness copies every frame from one to the
/// other (`nethost`) and writes its hostile frames toward the NIC only. (With the NIC
/// on the hub too, slirp would take the hostile frames as the guest's own: it connects
/// on the host to 127.0.0.1 for every spoofed SYN to 10.0.2.x.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relay {
    /// `(harness, qemu)` ports of the NIC's socket netdev.
    pub nic: (u16, u16),
    /// `(harness, qemu)` ports of the user network's socket netdev.
    pub user: (u16, u16),
}

impl Net {
    /// The QEMU arguments: a user-network backend and a virtio-net-pci device on it,
    /// directly or (with a relay) through the harness.
    pub fn args(&self) -> Vec<String> {
        let mut user = String::from("user,id=net0");
        for f in &self.forward {
            user.push(',');
            user.push_str(&f.hostfwd());
        }
        let m = GUEST_MAC;
        let mac = format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        );
        let Some(r) = self.relay else {
            return vec![
                "-netdev".into(),
                user,
                "-device".into(),
                format!("virtio-net-pci,netdev=net0,mac={mac}"),
            ];
        };
        let socket = |id: &str, (harness, qemu): (u16, u16)| {
            format!("socket,id={id},udp=127.0.0.1:{harness},localaddr=127.0.0.1:{qemu}")
        };
        vec![
            "-netdev".into(),
            user,
            "-netdev".into(),
            socket("uplink", r.user),
            "-netdev".into(),
            "hubport,id=hub-user,hubid=0,netdev=net0".into(),
            "-netdev".into(),
            "hubport,id=hub-uplink,hubid=0,netdev=uplink".into(),
            "-netdev".into(),
            socket("wire", r.nic),
            "-device".into(),
            format!("virtio-net-pci,netdev=wire,mac={mac}"),
        ]
    }
}

impl Machine {
    /// A headless TCG machine entering the kernel the default way: what every boot is
    /// unless it asks for KVM, EL2 entry or a screen.
    pub fn headless(arch: Arch, smp: u32, memory: &str) -> Self {
        Self {
            arch,
            smp,
            memory: memory.to_string(),
            kvm: false,
            el2: false,
            display: None,
            tiers: 2,
            net: Some(Net::default()),
            disks: Vec::new(),
            screen: Screen::Virtio,
            qmp: None,
        }
    }

    /// A headless machine with `tiers` memory tiers.
    pub fn with_tiers(self, tiers: u32) -> Self {
        Self { tiers, ..self }
    }

    /// The `wayos.tiers=<near>,<far>` value the kernel command line carries for this
    /// machine (`wayos_abi::harness::TIERS_KEY`), if its memory size can be read.
    pub fn tiers_key(&self) -> Option<String> {
        let mib = memory_mib(&self.memory)?;
        let (near, far) = if self.tiers >= 2 {
            numa_split(mib)?
        } else {
            (mib, 0)
        };
        Some(format!("{TIERS_KEY}={near},{far}"))
    }
}

/// A QEMU memory size (`512M`, `2G`, `1024`: MiB without a suffix) in MiB.
pub fn memory_mib(spec: &str) -> Option<u64> {
    let s = spec.trim();
    let (num, mul) = match s.char_indices().last()? {
        (i, 'M' | 'm') => (&s[..i], 1),
        (i, 'G' | 'g') => (&s[..i], 1024),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// The near and far node sizes in MiB for `mib` of memory: 3/4 near (rounded down to
/// 2 MiB, which both machines' memory maps accept), the rest far. `None` when either
/// would be smaller than 16 MiB.
pub fn numa_split(mib: u64) -> Option<(u64, u64)> {
    let near = (mib * 3 / 4) & !1;
    let far = mib - near;
    (near >= 16 && far >= 16).then_some((near, far))
}

/// The `-object`/`-numa` arguments for two nodes: node 0 near with every CPU, node 1 far
/// with memory only; on x86_64 HMAT figures (`-machine hmat=on`, added by the caller),
/// on aarch64 a distance map.
fn numa_args(m: &Machine, near: u64, far: u64) -> Vec<String> {
    let cpus = if m.smp > 1 {
        format!("0-{}", m.smp - 1)
    } else {
        "0".to_string()
    };
    let mut a: Vec<String> = [
        "-object".to_string(),
        format!("memory-backend-ram,id=near,size={near}M"),
        "-object".to_string(),
        format!("memory-backend-ram,id=far,size={far}M"),
        "-numa".to_string(),
        format!("node,nodeid=0,cpus={cpus},memdev=near"),
        "-numa".to_string(),
        // HMAT wants every node's initiator; QEMU refuses the key without HMAT (aarch64).
        if m.arch == Arch::X86_64 {
            "node,nodeid=1,memdev=far,initiator=0".to_string()
        } else {
            "node,nodeid=1,memdev=far".to_string()
        },
    ]
    .into();
    match m.arch {
        Arch::X86_64 => {
            for (target, lat, bw) in [
                (0, NEAR_LATENCY_NS, NEAR_BANDWIDTH_MBPS),
                (1, FAR_LATENCY_NS, FAR_BANDWIDTH_MBPS),
            ] {
                a.push("-numa".into());
                a.push(format!(
                    "hmat-lb,initiator=0,target={target},hierarchy=memory,data-type=access-latency,latency={lat}"
                ));
                a.push("-numa".into());
                a.push(format!(
                    "hmat-lb,initiator=0,target={target},hierarchy=memory,data-type=access-bandwidth,bandwidth={bw}M"
                ));
            }
        }
        Arch::Aarch64 => {
            a.push("-numa".into());
            a.push(format!("dist,src=0,dst=1,val={FAR_DISTANCE}"));
        }
    }
    a
}

/// Where the boot medium is.
pub enum Medium<'a> {
    /// x86_64: a FAT ESP image booted by OVMF.
    Esp(&'a Path),
    /// x86_64: a hybrid ISO, booted by the firmware in `Built::firmware`.
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
    let numa = match memory_mib(&m.memory) {
        Some(mib) if m.tiers >= 2 => Some(
            numa_split(mib).ok_or(format!("--memory {} is too small for two tiers", m.memory))?,
        ),
        _ => None,
    };
    match m.arch {
        Arch::X86_64 => {
            let machine = if numa.is_some() { "q35,hmat=on" } else { "q35" };
            cmd.args(["-machine", machine, "-cpu", "max"]);
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
    if let Some((near, far)) = numa {
        cmd.args(numa_args(m, near, far));
    }
    match &m.net {
        Some(net) => {
            cmd.args(net.args());
        }
        None => {
            cmd.args(["-nic", "none"]);
        }
    }
    cmd.args(crate::disk::qemu_args(&m.disks));
    cmd.args(m.screen.args(m.arch)?);
    if let Some(path) = &m.qmp {
        cmd.arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", path.display()));
    }
    cmd.arg("-no-reboot");
    cmd.arg("-display")
        .arg(m.display.as_deref().unwrap_or("none"));
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
            ovmf(&mut cmd, built, esp)?;
            cmd.arg("-drive")
                .arg(format!("format=raw,file={}", esp.display()));
        }
        Medium::Iso(iso) => {
            if built.firmware == Firmware::Uefi {
                ovmf(&mut cmd, built, iso)?;
            }
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

/// OVMF as pflash for booting `medium`: the firmware read-only, and a fresh copy of the
/// variable store named after the medium, so boot entries from one boot never steer the
/// next and two guests of one run (a test boot and `run`) never share a store.
fn ovmf(cmd: &mut Command, built: &Built, medium: &Path) -> Result<()> {
    let (code, vars_template) = prereq::ovmf().ok_or("OVMF firmware not found")?;
    let name = medium.file_stem().unwrap_or_default().to_string_lossy();
    let vars = built.out_dir.join(format!("OVMF_VARS-{name}.fd"));
    std::fs::copy(&vars_template, &vars)
        .map_err(|e| format!("{}: {e}", vars_template.display()))?;
    cmd.arg("-drive").arg(format!(
        "if=pflash,format=raw,readonly=on,file={}",
        code.display()
    ));
    cmd.arg("-drive")
        .arg(format!("if=pflash,format=raw,file={}", vars.display()));
    Ok(())
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

/// One line of serial output, sorted by who printed it.
enum Output {
    /// Firmware or loader, before the kernel's first line; terminal escapes decoded.
    Loader(String),
    /// The kernel and its programs, as printed (carriage returns dropped).
    Kernel(String),
}

/// Where the kernel's first output starts in `line`: its first log line
/// (`[    0.000000] INFO  cpu0 ...`) or a panic report.
fn kernel_start(line: &str) -> Option<usize> {
    let log = line.match_indices('[').map(|(at, _)| at).find(|&at| {
        let rest = line[at + 1..].trim_start_matches(' ');
        let secs = rest.bytes().take_while(u8::is_ascii_digit).count();
        let Some(frac) = rest[secs..].strip_prefix('.') else {
            return false;
        };
        let micros = frac.bytes().take_while(u8::is_ascii_digit).count();
        secs > 0 && micros == 6 && frac[micros..].starts_with("] ")
    });
    let panic = line.find("KERNEL PANIC");
    match (log, panic) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Splits the serial byte stream into loader and kernel lines.
///
/// Loaders draw on a terminal rather than print lines: Limine on UEFI (through OVMF's
/// console) places every character with a cursor-position escape and never sends a
/// newline, so its whole output and the kernel's first line would arrive as one line, and
/// a loader that stopped would show nothing until QEMU exits. Until the kernel speaks,
/// escapes are therefore decoded: a move to another row or a screen clear ends a line,
/// other escapes are dropped. From the kernel's first line on, bytes pass through as they
/// are (the console suites compare echoes that contain escapes).
#[derive(Default)]
struct Splitter {
    kernel: bool,
    line: Vec<u8>,
    escape: Option<Vec<u8>>,
    row: Option<u32>,
}

impl Splitter {
    fn push(&mut self, byte: u8, out: &mut Vec<Output>) {
        if self.kernel {
            match byte {
                b'\n' => {
                    let line = String::from_utf8_lossy(&self.line).into_owned();
                    self.line.clear();
                    out.push(Output::Kernel(line));
                }
                b'\r' => {}
                _ => self.line.push(byte),
            }
            return;
        }
        if let Some(seq) = &mut self.escape {
            seq.push(byte);
            let done = match seq.as_slice() {
                [b'['] => false,
                [b'[', .., last] => (0x40..=0x7e).contains(last) || seq.len() > 32,
                // A two-byte escape (ESC c, ESC 7, ...): nothing to keep.
                _ => true,
            };
            if done {
                let seq = self.escape.take().unwrap_or_default();
                if let [b'[', rest @ ..] = seq.as_slice() {
                    self.control_sequence(rest, out);
                }
            }
            return;
        }
        match byte {
            0x1b => self.escape = Some(Vec::new()),
            b'\n' => self.end_line(true, out),
            b'\t' => self.line.push(byte),
            0..=0x1f | 0x7f => {}
            _ => self.line.push(byte),
        }
    }

    /// A CSI sequence `ESC [ <params> <final>`; `seq` is `<params> <final>`.
    fn control_sequence(&mut self, seq: &[u8], out: &mut Vec<Output>) {
        let Some((&last, params)) = seq.split_last() else {
            return;
        };
        match last {
            b'H' | b'f' => {
                let row = std::str::from_utf8(params)
                    .ok()
                    .and_then(|p| p.split(';').next())
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(1);
                if self.row.is_some_and(|r| r != row) {
                    self.end_line(false, out);
                }
                self.row = Some(row);
            }
            b'J' => self.end_line(false, out),
            _ => {}
        }
    }

    /// Ends the current loader line. If the kernel's first output starts in it, what
    /// precedes is the loader's and the rest is the kernel's (its whole first line when
    /// `newline`, else the start of it).
    fn end_line(&mut self, newline: bool, out: &mut Vec<Output>) {
        let text = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        let (loader, kernel) = match kernel_start(&text) {
            Some(at) => (&text[..at], Some(&text[at..])),
            None => (text.as_str(), None),
        };
        let loader = loader.trim_end();
        if !loader.trim().is_empty() {
            out.push(Output::Loader(loader.to_string()));
        }
        if let Some(kernel) = kernel {
            self.kernel = true;
            if newline {
                out.push(Output::Kernel(kernel.to_string()));
            } else {
                self.line.extend_from_slice(kernel.as_bytes());
            }
        }
    }

    /// At the end of the output: whatever is left is a last, unterminated line.
    fn finish(&mut self, out: &mut Vec<Output>) {
        if self.line.is_empty() {
            return;
        }
        if self.kernel {
            self.push(b'\n', out);
        } else {
            self.end_line(true, out);
        }
    }
}

/// Limine's panic (`PANIC: limine: ...`), after which it waits for a key forever.
fn is_loader_panic(line: &str) -> bool {
    line.trim_start().starts_with("PANIC")
}

/// How to watch the screen of the boot `args` describes (QEMU's arguments), for a boot
/// whose kernel never printed.
fn screen_hint(args: &[String]) -> String {
    if args.iter().any(|a| a == "-kernel") {
        return "nothing runs between QEMU and the kernel here (-kernel), so the kernel \
                stopped before its first log line (see docs/boot.md, aarch64)"
            .into();
    }
    let uefi = args.iter().any(|a| a.contains("if=pflash"));
    let flags = if args.iter().any(|a| a == "-cdrom") {
        format!(
            "--loader limine --firmware {}",
            if uefi { "uefi" } else { "bios" }
        )
    } else {
        "--loader wayboot".to_string()
    };
    format!(
        "no kernel output at all: the loader may have stopped (in its menu, or on an error \
         shown on its screen). See its screen with `cargo xtask run --arch x86_64 {flags} \
         --display` (a window, or VNC on 127.0.0.1:5900 when QEMU has no GUI)"
    )
}

/// A running guest whose serial output is read line by line.
pub struct Guest {
    child: Child,
    /// The serial console's input (QEMU's stdin).
    input: Option<ChildStdin>,
    lines: Receiver<Output>,
    /// Output taken from `lines` by [`Guest::loader_stopped`] and not yet waited through.
    pending: VecDeque<Output>,
    /// Kernel lines so far.
    seen: Vec<String>,
    /// Firmware and loader lines, before the kernel's first.
    loader: Vec<String>,
    kernel_spoke: bool,
    /// The loader's panic line, once it has given up.
    loader_stopped: Option<String>,
    /// What to tell the user when the kernel never spoke.
    hint: String,
    verbose: bool,
    /// The QMP socket QEMU listens on (`Machine::qmp`), for screendumps.
    qmp: Option<PathBuf>,
}

impl Guest {
    /// Starts QEMU with the serial console on pipes.
    pub fn spawn(mut cmd: Command, verbose: bool) -> Result<Self> {
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
        let mut stdout = child.stdout.take().ok_or("no QEMU stdout")?;
        let input = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut splitter = Splitter::default();
            let mut buf = [0u8; 4096];
            let mut out = Vec::new();
            loop {
                let n = match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => 0,
                    Ok(n) => n,
                };
                if n == 0 {
                    splitter.finish(&mut out);
                } else {
                    for &b in &buf[..n] {
                        splitter.push(b, &mut out);
                    }
                }
                for o in out.drain(..) {
                    if tx.send(o).is_err() {
                        return;
                    }
                }
                if n == 0 {
                    return;
                }
            }
        });
        Ok(Self {
            child,
            input,
            lines: rx,
            pending: VecDeque::new(),
            seen: Vec::new(),
            loader: Vec::new(),
            kernel_spoke: false,
            loader_stopped: None,
            hint: screen_hint(&args),
            verbose,
            qmp: qmp_socket(&args),
        })
    }

    /// The QMP socket of this QEMU, if it was given one.
    pub fn qmp(&self) -> Option<&Path> {
        self.qmp.as_deref()
    }

    /// Waits until a kernel line satisfies `want`, returning it; `None` on timeout, at the
    /// end of the output, or once the loader has panicked. Loader lines never match.
    pub fn wait_for(&mut self, timeout: Duration, want: impl Fn(&str) -> bool) -> Option<String> {
        self.wait(timeout, false, want)
    }

    /// As [`Guest::wait_for`], but loader lines (wayboot's or Limine's own) can match too.
    pub fn wait_for_any(
        &mut self,
        timeout: Duration,
        want: impl Fn(&str) -> bool,
    ) -> Option<String> {
        self.wait(timeout, true, want)
    }

    fn wait(
        &mut self,
        timeout: Duration,
        loader_too: bool,
        want: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let next = match self.pending.pop_front() {
                Some(next) => next,
                None if self.loader_stopped.is_some() => return None,
                None => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match self.lines.recv_timeout(left) {
                        Ok(next) => next,
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                            return None
                        }
                    }
                }
            };
            match next {
                Output::Kernel(line) => {
                    if self.verbose {
                        println!("    | {line}");
                    }
                    self.kernel_spoke = true;
                    self.seen.push(line.clone());
                    if want(&line) {
                        return Some(line);
                    }
                }
                Output::Loader(line) => {
                    if self.verbose {
                        println!("    loader| {line}");
                    }
                    if is_loader_panic(&line) {
                        self.loader_stopped = Some(line.clone());
                    }
                    self.loader.push(line.clone());
                    if loader_too && want(&line) {
                        return Some(line);
                    }
                }
            }
        }
    }

    /// Whether the loader has given up, from the output so far, without waiting and
    /// without consuming lines a later wait should see.
    pub fn loader_stopped(&mut self) -> bool {
        while let Ok(next) = self.lines.try_recv() {
            if let Output::Loader(line) = &next {
                if is_loader_panic(line) {
                    self.loader_stopped = Some(line.clone());
                }
            }
            self.pending.push_back(next);
        }
        self.loader_stopped.is_some()
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

    /// Every kernel line seen so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// The last `n` lines, indented, for failure reports: the loader's too when the kernel
    /// printed fewer, and what to do when the kernel printed nothing.
    pub fn tail(&self, n: usize) -> String {
        let mut s = String::new();
        let loader_n = n.saturating_sub(self.seen.len()).min(self.loader.len());
        if loader_n > 0 {
            s.push_str(&format!("last {loader_n} firmware/loader serial lines:\n"));
            for l in &self.loader[self.loader.len() - loader_n..] {
                s.push_str("    loader| ");
                s.push_str(l);
                s.push('\n');
            }
        }
        let start = self.seen.len().saturating_sub(n);
        s.push_str(&format!(
            "last {} kernel serial lines:\n",
            self.seen.len() - start
        ));
        for l in &self.seen[start..] {
            s.push_str("    | ");
            s.push_str(l);
            s.push('\n');
        }
        if let Some(panic) = &self.loader_stopped {
            s.push_str(&format!("the loader stopped: {panic}\n"));
        }
        if !self.kernel_spoke {
            s.push_str(&self.hint);
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
        if let Some(q) = &self.qmp {
            let _ = std::fs::remove_file(q);
        }
    }
}

/// The Unix socket path of a `-qmp unix:<path>,...` argument.
fn qmp_socket(args: &[String]) -> Option<PathBuf> {
    let i = args.iter().position(|a| a == "-qmp")?;
    let spec = args.get(i + 1)?.strip_prefix("unix:")?;
    Some(PathBuf::from(spec.split(',').next()?))
}

/// A free local TCP port for a GDB stub.
pub fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free TCP port: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` through a splitter, then ends the output.
    fn split(bytes: &[u8]) -> Vec<(bool, String)> {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        for &b in bytes {
            s.push(b, &mut out);
        }
        s.finish(&mut out);
        out.into_iter()
            .map(|o| match o {
                Output::Loader(l) => (false, l),
                Output::Kernel(l) => (true, l),
            })
            .collect()
    }

    fn loader(l: &str) -> (bool, String) {
        (false, l.to_string())
    }

    fn kernel(l: &str) -> (bool, String) {
        (true, l.to_string())
    }

    const FIRST: &str = "[    0.000000] INFO  cpu0 arch::x86_64::boot: x86_64: entered at 0xffff";

    #[test]
    fn kernel_output_starts_at_its_first_log_line() {
        assert_eq!(kernel_start(FIRST), Some(0));
        assert_eq!(kernel_start(&format!("junk{FIRST}")), Some(4));
        assert_eq!(kernel_start("[12345.123456] WARN  cpu1 x"), Some(0));
        assert_eq!(kernel_start("x\nKERNEL PANIC on cpu0: y"), Some(2));
        assert_eq!(
            kernel_start("limine: Loading kernel `boot():/boot/wayos-kernel`..."),
            None
        );
        assert_eq!(kernel_start("[    0.12] too short"), None);
        assert_eq!(kernel_start("[ ok ] [  .123456] "), None);
        assert_eq!(kernel_start("BdsDxe: loading Boot0001 [x]"), None);
    }

    #[test]
    fn limine_bios_lines_then_the_kernel() {
        let stream = format!(
            "limine: Loading kernel `boot():/boot/wayos-kernel`...\r\n\
             paging: 1GiB pages are supported!\r\n{FIRST}\r\ninit: started (pid 1)\r\n"
        );
        assert_eq!(
            split(stream.as_bytes()),
            [
                loader("limine: Loading kernel `boot():/boot/wayos-kernel`..."),
                loader("paging: 1GiB pages are supported!"),
                kernel(FIRST),
                kernel("init: started (pid 1)"),
            ]
        );
    }

    #[test]
    fn limine_uefi_cursor_drawing_becomes_lines() {
        // Limine under OVMF: every character placed with a cursor move, no newlines, and
        // the kernel's first line glued to the end.
        let mut stream =
            b"\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01HBdsDxe: starting\r\n".to_vec();
        for (row, text) in [(1, "limine: Loading"), (2, "acpi: Found RSDP")] {
            for (col, c) in text.chars().enumerate() {
                stream.extend_from_slice(format!("\x1b[{row:02};{:02}H{c}", col + 1).as_bytes());
            }
        }
        stream.extend_from_slice(format!("\x1b[03;01H{FIRST}\r\nwaysh:/$ \x1b[K").as_bytes());
        assert_eq!(
            split(&stream),
            [
                loader("BdsDxe: starting"),
                loader("limine: Loading"),
                loader("acpi: Found RSDP"),
                kernel(FIRST),
                kernel("waysh:/$ \x1b[K"),
            ]
        );
    }

    #[test]
    fn a_loader_panic_is_a_loader_line() {
        let stream = b"\x1b[31mPANIC\x1b[37;1m\x1b[0m: limine: KERNEL_PATH not specified\r\n\
                       Stacktrace:\r\nEnd of trace. Press a key to return to menu.";
        assert_eq!(
            split(stream),
            [
                loader("PANIC: limine: KERNEL_PATH not specified"),
                loader("Stacktrace:"),
                loader("End of trace. Press a key to return to menu."),
            ]
        );
    }

    #[test]
    fn kernel_bytes_pass_through_unchanged() {
        let stream = format!("{FIRST}\n\x1b[2J\x1b[01;01Hsh\x08 \x08\r\n");
        assert_eq!(
            split(stream.as_bytes()),
            [kernel(FIRST), kernel("\x1b[2J\x1b[01;01Hsh\x08 \x08")]
        );
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn two_tiers_split_three_quarters_near() {
        assert_eq!(numa_split(512), Some((384, 128)));
        assert_eq!(numa_split(1000), Some((750, 250)));
        assert_eq!(
            numa_split(100),
            Some((74, 26)),
            "near rounded down to 2 MiB"
        );
        assert_eq!(numa_split(40), None);
        let m = Machine::headless(Arch::X86_64, 2, "1G");
        assert_eq!(m.tiers_key().as_deref(), Some("wayos.tiers=768,256"));
        assert_eq!(
            m.with_tiers(1).tiers_key().as_deref(),
            Some("wayos.tiers=1024,0")
        );
        let m = Machine::headless(Arch::Aarch64, 1, "512M");
        let a = numa_args(&m, 384, 128).join(" ");
        assert!(a.contains("node,nodeid=0,cpus=0,memdev=near"), "{a}");
        assert!(a.contains("dist,src=0,dst=1,val=30"), "{a}");
        assert!(!a.contains("initiator"), "no HMAT keys without HMAT: {a}");
        let m = Machine::headless(Arch::X86_64, 4, "512M");
        let a = numa_args(&m, 384, 128).join(" ");
        assert!(a.contains("cpus=0-3"), "{a}");
        assert!(
            a.contains("target=1,hierarchy=memory,data-type=access-latency,latency=300"),
            "{a}"
        );
    }

    #[test]
    fn forwards_parse() {
        assert_eq!(Forward::parse("8080:80"), Ok(Forward::tcp(8080, 80)));
        assert_eq!(Forward::parse("tcp:1:2"), Ok(Forward::tcp(1, 2)));
        assert_eq!(Forward::parse("udp:7777:7"), Ok(Forward::udp(7777, 7)));
        for bad in [
            "8080", "0:80", "80:0", "65536:1", "udp:1", "sctp:1:2", "a:b", ":",
        ] {
            assert!(Forward::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn network_arguments() {
        let plain = Net {
            forward: vec![Forward::tcp(5555, 8080), Forward::udp(6666, 7777)],
            relay: None,
        }
        .args()
        .join(" ");
        assert_eq!(
            plain,
            "-netdev user,id=net0,hostfwd=tcp:127.0.0.1:5555-:8080,\
             hostfwd=udp:127.0.0.1:6666-:7777 \
             -device virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56"
        );
        let relay = Net {
            forward: vec![],
            relay: Some(Relay {
                nic: (4000, 4001),
                user: (4002, 4003),
            }),
        }
        .args()
        .join(" ");
        assert_eq!(
            relay,
            "-netdev user,id=net0 \
             -netdev socket,id=uplink,udp=127.0.0.1:4002,localaddr=127.0.0.1:4003 \
             -netdev hubport,id=hub-user,hubid=0,netdev=net0 \
             -netdev hubport,id=hub-uplink,hubid=0,netdev=uplink \
             -netdev socket,id=wire,udp=127.0.0.1:4000,localaddr=127.0.0.1:4001 \
             -device virtio-net-pci,netdev=wire,mac=52:54:00:12:34:56"
        );
    }

    #[test]
    fn the_screen_hint_names_the_same_boot() {
        let bios = screen_hint(&args(&["-machine", "q35", "-cdrom", "x.iso"]));
        assert!(
            bios.contains("--loader limine --firmware bios --display"),
            "{bios}"
        );
        let uefi = screen_hint(&args(&[
            "-drive",
            "if=pflash,format=raw,readonly=on,file=OVMF_CODE_4M.fd",
            "-cdrom",
            "x.iso",
        ]));
        assert!(
            uefi.contains("--loader limine --firmware uefi --display"),
            "{uefi}"
        );
        let wayboot = screen_hint(&args(&["-drive", "if=pflash,x", "-drive", "file=esp.img"]));
        assert!(wayboot.contains("--loader wayboot --display"), "{wayboot}");
        let direct = screen_hint(&args(&["-kernel", "Image"]));
        assert!(direct.contains("before its first log line"), "{direct}");
    }
}
