//! `cargo xtask`: builds WayOS, boots it under QEMU, drives GDB and runs the tests.
//!
//! One module per command (`build`, `run`, `test`, `debug`), plus the pieces they share:
//! `lint`, `bench`, `nethost` (the host side of network checks: HTTP/UDP servers, frame
//! injection), `screen` (screendumps decoded with the kernel's font), `prereq` (host tools), `artifacts` (kernel, initramfs, boot images), `qemu` (command
//! lines and serial capture), `symbols`, `esp`, `image`, `limine`. Everything it runs goes
//! through `$CARGO`, so the toolchain pinned in rust-toolchain.toml applies.
#![forbid(unsafe_code)]

mod artifacts;
mod bench;
mod build;
mod debug;
mod digits;
mod disk;
mod esp;
mod fuzz;
mod gdb;
mod image;
mod limine;
mod lint;
mod linuxbench;
mod nethost;
mod persist;
mod prereq;
mod qemu;
mod run;
mod screen;
mod symbols;
mod test;
mod userland;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, run, debug and test WayOS")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the kernel, the initramfs and the boot image.
    Build(Options),
    /// Boot WayOS in QEMU with the serial console on this terminal (Ctrl-A X quits).
    Run(RunOptions),
    /// Run host unit tests, then boot each architecture and run every in-guest suite.
    Test(TestOptions),
    /// Boot QEMU halted with a GDB stub and attach gdb-multiarch to the kernel.
    Debug(DebugOptions),
    /// rustfmt and clippy (-D warnings) on every crate and target.
    Lint,
    /// Per-operation figures in guest instructions (QEMU -icount, one CPU).
    Bench(BenchOptions),
    /// Boot one architecture, run the in-guest syscall fuzzer, then every suite.
    Fuzz(FuzzOptions),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Arch {
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "aarch64")]
    Aarch64,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The Rust target the kernel is built for.
    pub fn kernel_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-none",
            Arch::Aarch64 => "aarch64-unknown-none",
        }
    }
}

/// How to boot x86_64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Loader {
    /// Genuine Limine if a release is found (LIMINE_DIR or the usual prefixes), else wayboot.
    Auto,
    /// A hybrid BIOS/UEFI ISO with genuine Limine (requires a Limine binary release).
    Limine,
    /// The FAT ESP with tools/wayboot under OVMF.
    Wayboot,
}

/// The x86_64 firmware QEMU starts. A Limine ISO boots under either; wayboot is a UEFI
/// application and always boots under UEFI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Firmware {
    /// SeaBIOS, QEMU's default firmware (the ISO boots through El Torito).
    Bios,
    /// OVMF (the ISO's EFI system partition).
    Uefi,
}

impl Firmware {
    pub fn name(self) -> &'static str {
        match self {
            Firmware::Bios => "BIOS",
            Firmware::Uefi => "UEFI",
        }
    }

    /// The firmware `--firmware` takes as a word.
    pub fn arg(self) -> &'static str {
        match self {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
        }
    }
}

/// Options every command takes.
#[derive(Args, Clone, Debug)]
pub struct Options {
    /// Target architecture.
    #[arg(long, value_enum, default_value = "x86_64")]
    pub arch: Arch,
    /// Build with optimizations.
    #[arg(long)]
    pub release: bool,
    /// Number of CPUs QEMU emulates.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub smp: u32,
    /// Guest memory, in QEMU's syntax (512M, 2G).
    #[arg(long, default_value = "512M")]
    pub memory: String,
    /// Memory tiers QEMU presents: 2 = two NUMA nodes (3/4 of the memory near with the
    /// CPUs, 1/4 far; HMAT latency/bandwidth on x86_64, a distance map on aarch64), 1 = flat.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=2))]
    pub tiers: u32,
    /// x86_64 boot loader.
    #[arg(long, value_enum, default_value = "auto")]
    pub loader: Loader,
    /// x86_64 firmware for a Limine ISO (default bios); wayboot always boots under uefi.
    #[arg(long, value_enum)]
    pub firmware: Option<Firmware>,
    /// Extra kernel command-line words (e.g. "log=debug").
    #[arg(long, default_value = "")]
    pub cmdline: String,
}

/// The guest's network, for every command that boots (`run`, `test`, `bench`, `debug`).
#[derive(Args, Clone, Debug)]
pub struct NetOptions {
    /// `user`: a virtio-net-pci NIC on QEMU's user network (guest 10.0.2.15, the host's
    /// loopback reached as 10.0.2.2, DNS 10.0.2.3); `none`: no NIC at all.
    #[arg(long, value_enum, default_value = "user")]
    pub net: NetMode,
    /// Forward a host port to the guest: `HOST:GUEST` (TCP) or `udp:HOST:GUEST`; the host
    /// side listens on 127.0.0.1 only. Repeatable.
    #[arg(long, value_name = "[udp:]HOST:GUEST", value_parser = parse_forward)]
    pub forward: Vec<qemu::Forward>,
}

impl NetOptions {
    /// The QEMU network these options ask for (`None` for `--net none`); forwards with
    /// `--net none` are refused.
    pub fn machine_net(&self) -> Result<Option<qemu::Net>> {
        match self.net {
            NetMode::None if !self.forward.is_empty() => {
                Err("--forward needs a network: drop --net none".into())
            }
            NetMode::None => Ok(None),
            NetMode::User => Ok(Some(qemu::Net {
                forward: self.forward.clone(),
                ..qemu::Net::default()
            })),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NetMode {
    /// QEMU's user network (slirp) behind a virtio-net-pci NIC.
    User,
    /// No NIC (`-nic none`).
    None,
}

fn parse_forward(s: &str) -> Result<qemu::Forward> {
    qemu::Forward::parse(s)
}

#[derive(Args, Clone, Debug)]
pub struct RunOptions {
    #[command(flatten)]
    pub common: Options,
    #[command(flatten)]
    pub net: NetOptions,
    #[command(flatten)]
    pub disk: disk::DiskOptions,
    /// Use KVM instead of TCG (it does not work on the project's build machines).
    #[arg(long)]
    pub kvm: bool,
    /// Show the guest's screen (the loader's menu, then the kernel's screen console):
    /// QEMU's default window, or VNC on 127.0.0.1:5900 when QEMU has no GUI; or a QEMU
    /// -display value (vnc=:1, gtk).
    #[arg(long, num_args = 0..=1, default_missing_value = "default", value_name = "QEMU_DISPLAY")]
    pub display: Option<String>,
    /// The display device: virtio-gpu, QEMU's standard VGA (x86_64: the loader's
    /// framebuffer), or none.
    #[arg(long, value_enum, default_value = "virtio")]
    pub screen: qemu::Screen,
}

#[derive(Args, Clone, Debug)]
pub struct TestOptions {
    /// CPUs per guest.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub smp: u32,
    /// Guest memory.
    #[arg(long, default_value = "512M")]
    pub memory: String,
    /// Memory tiers QEMU presents: 2 = two NUMA nodes (3/4 of the memory near with the
    /// CPUs, 1/4 far; HMAT latency/bandwidth on x86_64, a distance map on aarch64), 1 = flat.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=2))]
    pub tiers: u32,
    /// Build with optimizations.
    #[arg(long)]
    pub release: bool,
    /// Only this architecture (default: both).
    #[arg(long, value_enum)]
    pub arch: Option<Arch>,
    /// x86_64 boot loader.
    #[arg(long, value_enum, default_value = "auto")]
    pub loader: Loader,
    /// Firmware for the full x86_64 suite under Limine (default bios); the other one gets
    /// a short boot to the shell.
    #[arg(long, value_enum)]
    pub firmware: Option<Firmware>,
    /// Skip the host unit tests.
    #[arg(long)]
    pub no_host: bool,
    /// Echo the guest's serial output while it runs.
    #[arg(long, short)]
    pub verbose: bool,
    /// Only the persistence boots (`/disk` across reboots, fsck.fat, mtools), no suites.
    #[arg(long)]
    pub persist_only: bool,
    /// The display device of the test boots (`screentest` needs one; `vga` checks the
    /// x86_64 loader-framebuffer path).
    #[arg(long, value_enum, default_value = "virtio")]
    pub screen: qemu::Screen,
    #[command(flatten)]
    pub net: NetOptions,
}

#[derive(Args, Clone, Debug)]
pub struct BenchOptions {
    /// Target architecture.
    #[arg(long, value_enum, default_value = "x86_64")]
    pub arch: Arch,
    /// Measure a debug build instead of the release build.
    #[arg(long)]
    pub debug: bool,
    /// Guest memory.
    #[arg(long, default_value = "512M")]
    pub memory: String,
    /// Memory tiers QEMU presents: 2 = two NUMA nodes (3/4 of the memory near with the
    /// CPUs, 1/4 far; HMAT latency/bandwidth on x86_64, a distance map on aarch64), 1 = flat.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=2))]
    pub tiers: u32,
    /// x86_64 boot loader.
    #[arg(long, value_enum, default_value = "auto")]
    pub loader: Loader,
    /// Echo the guest's serial output.
    #[arg(long, short)]
    pub verbose: bool,
    #[command(flatten)]
    pub net: NetOptions,
    /// Only these groups of figures (repeatable): core, file, ipc, ai, memtier, net.
    #[arg(long, value_name = "GROUP", value_parser = clap::builder::PossibleValuesParser::new(
        wayos_abi::harness::BENCH_GROUPS.iter().copied(),
    ))]
    pub only: Vec<String>,
    /// Instead of WayOS, measure the Linux reference for the network figures (x86_64:
    /// Debian's cloud kernel, downloaded with apt-get into the target directory).
    #[arg(long)]
    pub linux: bool,
}

#[derive(Args, Clone, Debug)]
pub struct FuzzOptions {
    /// Target architecture.
    #[arg(long, value_enum, default_value = "x86_64")]
    pub arch: Arch,
    /// Syscalls to make.
    #[arg(long, default_value_t = 1_000_000)]
    pub calls: u64,
    /// The run's seed (default: the host's clock, printed so the run can be replayed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// CPUs per guest.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub smp: u32,
    /// Guest memory.
    #[arg(long, default_value = "512M")]
    pub memory: String,
    /// Memory tiers QEMU presents: 2 = two NUMA nodes (3/4 of the memory near with the
    /// CPUs, 1/4 far; HMAT latency/bandwidth on x86_64, a distance map on aarch64), 1 = flat.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=2))]
    pub tiers: u32,
    /// Build with optimizations.
    #[arg(long)]
    pub release: bool,
    /// x86_64 boot loader.
    #[arg(long, value_enum, default_value = "auto")]
    pub loader: Loader,
    /// Echo the guest's serial output while it runs.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Args, Clone, Debug)]
pub struct DebugOptions {
    #[command(flatten)]
    pub common: Options,
    #[command(flatten)]
    pub net: NetOptions,
    #[command(flatten)]
    pub disk: disk::DiskOptions,
    /// Print the gdb command instead of starting gdb; QEMU then runs in the foreground.
    #[arg(long)]
    pub no_gdb: bool,
    /// TCP port of QEMU's GDB stub.
    #[arg(long, default_value_t = 1234)]
    pub port: u16,
    /// Show the guest's screen, as for `run`.
    #[arg(long, num_args = 0..=1, default_missing_value = "default", value_name = "QEMU_DISPLAY")]
    pub display: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(o) => build::run(&o),
        Command::Run(o) => run::run(&o),
        Command::Test(o) => test::run(&o),
        Command::Debug(o) => debug::run(&o),
        Command::Lint => lint::run(),
        Command::Bench(o) => bench::run(&o),
        Command::Fuzz(o) => fuzz::run(&o),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Errors are plain messages for the user.
pub type Result<T> = std::result::Result<T, String>;
