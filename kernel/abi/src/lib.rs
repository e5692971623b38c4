//! The WayOS kernel/user ABI: the single source of every number and layout shared across
//! the kernel boundary.
//!
//! The kernel, `userland/libway` and the host tools depend on this crate; nothing copies
//! its constants. It holds no code that runs, only definitions, and must stay `no_std`.
//! Its one dependency is `zerocopy`, for the plain-data checks below.
//!
//! # What it holds
//!
//! | module | what |
//! |---|---|
//! | [`sys`] | syscall numbers and the calling convention of both architectures |
//! | [`errno`] | error numbers (Linux/POSIX values) |
//! | [`ipc`], [`stream`], [`console`], [`aid`] | IPC messages and rights, the stream-fd protocol, the console server's and the AI daemon's protocols |
//! | [`fcntl`], [`fs`] | descriptor flags, file types, `Stat`/`StatFs`, directory records |
//! | [`memtier`] | tier policies, `TierInfo`/`ProcPlacement`/`DaemonInfo`, `memtier_set` parameters |
//! | [`mman`], [`wait`], [`signal`], [`clock`], [`sched`], [`smp`] | memory-map flags, wait statuses, signals and `SigAction`, clocks, priority classes, `CpuInfo` |
//! | [`ai`] | tensor metadata, graph nodes and operations, rights, classes and limits of the AI subsystem |
//! | [`waymodel`] | the `.waymodel` model file format: header, tensor table, graph, metadata, hashes |
//! | [`digits`] | the digits model's test split and the host's expected results (`classify`) |
//! | [`caps`], [`filter`] | capability bits and names, system service names, `SpawnArgs`; the syscall filter |
//! | [`limits`], [`layout`] | what `execve`/`spawn` accept; the user address-space layout and the initial stack |
//! | [`harness`] | the contract with `cargo xtask test`: exit values, command-line words, result-line formats, and [`harness::SUITES`], the one list of test suites |
//! | crate root | [`Plain`], [`Timespec`], [`StrRef`], [`Utsname`], [`ProcInfo`] |
//!
//! # Plain data
//!
//! Every structure that crosses the user/kernel line as bytes — [`ipc::Message`],
//! [`Timespec`], [`StrRef`], [`fs::Stat`], [`fs::StatFs`], [`fs::DirentHeader`],
//! [`signal::SigAction`], [`Utsname`], [`ProcInfo`], [`smp::CpuInfo`],
//! [`caps::SpawnArgs`], [`filter::SysFilter`], and the `.waymodel` records
//! ([`waymodel::Header`], [`waymodel::TensorEntry`], [`waymodel::OutputEntry`], ...) — is [`Plain`]:
//! `#[repr(C)]` (or `repr(C, packed)`), built only of integers and arrays of them, with no
//! padding and no invalid bit patterns. The `zerocopy` derives each of them carries
//! (`FromBytes`, `IntoBytes`, `Immutable`, `KnownLayout`) prove that at compile time: a
//! field that leaves a hole, or a `bool`, an enum or a reference, does not compile. Each
//! also has a `const` size assertion, since its size is part of the ABI.
//!
//! So both sides move these structures as bytes without `unsafe` and without hand-written
//! (de)serialisers: `value.as_bytes()`, `T::read_from_bytes(bytes)`,
//! `T::read_from_prefix(bytes)`. The kernel's typed user pointers (`UserPtr<T, _>` in
//! `kernel/src/umem.rs`) read and write exactly the `Plain` types; libway passes them to
//! syscalls the same way. Byte order is the machine's (both architectures are little
//! endian). A new ABI structure derives the four traits, asserts its size, makes any
//! padding an explicit `_pad` field, and is then `Plain` by the blanket impl.
#![no_std]
#![forbid(unsafe_code)]

pub use zerocopy;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Plain data: a type whose every bit pattern is a valid value and whose every byte is
/// initialised (no padding), so it may be copied to and from untrusted bytes — user
/// memory, a message payload — as it is. Implemented for everything the `zerocopy` derives
/// accept; see the crate docs.
pub trait Plain: FromBytes + IntoBytes + Immutable + KnownLayout + Copy + 'static {}

impl<T: FromBytes + IntoBytes + Immutable + KnownLayout + Copy + 'static> Plain for T {}

/// Asserts at compile time that `$t` is `$size` bytes: an ABI structure's size is part of
/// the contract, and the derives already rule out padding.
macro_rules! abi_size {
    ($t:ty, $size:expr) => {
        const _: () = assert!(core::mem::size_of::<$t>() == $size);
    };
}

/// The contract between the guest and `cargo xtask test`: exit values, command-line
/// words, the line formats suites print, and the list of suites itself.
pub mod harness {
    /// I/O port of QEMU's `isa-debug-exit` device on x86_64; writing `v` there makes QEMU
    /// exit with status `(v << 1) | 1`.
    pub const X86_DEBUG_EXIT_PORT: u16 = 0xf4;
    /// Value written for "every check passed".
    pub const EXIT_SUCCESS: u8 = 0x10;
    /// Value written for "a check failed or the kernel stopped".
    pub const EXIT_FAILURE: u8 = 0x11;

    /// QEMU's process exit status for a debug-exit value.
    pub const fn qemu_status(value: u8) -> i32 {
        ((value as i32) << 1) | 1
    }

    /// Kernel command-line word for a test boot: the kernel runs its suites, init runs
    /// the user suites of [`SUITES`] (with [`HARNESS_ENV`] set) and powers off.
    pub const TEST_FLAG: &str = "wayos.test";
    /// Kernel command-line key that kills the kernel on purpose after the suites
    /// (`fault` or `panic`), so the harness can check the fatal-error reports.
    pub const CRASH_KEY: &str = "wayos.crash";
    /// Kernel command-line key carrying the host's clock at boot, in seconds since the Unix
    /// epoch (`wayos.hosttime=<secs>`): the boot test checks the guest's RTC against it.
    pub const HOSTTIME_KEY: &str = "wayos.hosttime";
    /// Kernel command-line key carrying the CPU count the harness gave QEMU (`-smp`), as
    /// `wayos.cpus=<n>`: `smptest` checks that exactly that many CPUs are online.
    pub const CPUS_KEY: &str = "wayos.cpus";
    /// Kernel command-line key `wayos.fuzz=<calls>,<seed>`: with [`TEST_FLAG`], init runs
    /// the syscall fuzzer `/bin/`[`FUZZ_PROGRAM`]` --calls <calls> --seed <seed>` before the
    /// suites (so the suites check the system the fuzzer leaves). It reports like a suite,
    /// `fuzz: N passed, M failed`. See [`parse_fuzz`].
    pub const FUZZ_KEY: &str = "wayos.fuzz";
    /// The fuzzer's program name and result-line name (not a suite of [`SUITES`]).
    pub const FUZZ_PROGRAM: &str = "fuzz";

    /// Kernel command-line key `wayos.tiers=<near MiB>,<far MiB>`: the memory of the two
    /// NUMA nodes the harness gave QEMU (far 0: `--tiers 1`, one node). `umemtest`
    /// compares the tiers the kernel found with it. See [`parse_tiers`].
    pub const TIERS_KEY: &str = "wayos.tiers";
    /// What xtask tells the firmware each node costs: ACPI HMAT read latency (ns) and
    /// bandwidth (MB/s) on x86_64, device-tree distances on aarch64 (10 = local).
    pub const NEAR_LATENCY_NS: u32 = 100;
    pub const FAR_LATENCY_NS: u32 = 300;
    pub const NEAR_BANDWIDTH_MBPS: u32 = 20_000;
    pub const FAR_BANDWIDTH_MBPS: u32 = 5_000;
    pub const NEAR_DISTANCE: u32 = 10;
    pub const FAR_DISTANCE: u32 = 30;

    /// The `(near MiB, far MiB)` of a [`TIERS_KEY`] value.
    pub fn parse_tiers(value: &str) -> Option<(u64, u64)> {
        let (near, far) = value.split_once(',')?;
        Some((near.parse().ok()?, far.parse().ok()?))
    }

    /// The `(calls, seed)` of a [`FUZZ_KEY`] value `<calls>,<seed>`.
    pub fn parse_fuzz(value: &str) -> Option<(u64, u64)> {
        let (calls, seed) = value.split_once(',')?;
        Some((calls.parse().ok()?, seed.parse().ok()?))
    }

    /// An interactive suite asks the harness to type on the serial console by printing
    /// `<suite>: type <hex bytes>` (optionally followed by ` echo <hex bytes>`: what the
    /// console must show in answer, which the harness checks).
    pub const TYPE_WORD: &str = "type";
    pub const ECHO_WORD: &str = "echo";

    /// A suite asks the harness to act on the host by printing
    /// `<suite>: host <verb> [args...]` (one of the `HOST_*` verbs below); the harness does
    /// it and types one answer line on the serial console, `ok [words...]` or
    /// `err <message>`, which the suite reads from its standard input. Only under
    /// [`HARNESS_ENV`]; by hand a suite skips those checks. See `docs/testing.md`.
    pub const HOST_WORD: &str = "host";
    /// `http-info` -> `ok <host port> <size> <sha256 hex>`: the HTTP server the harness
    /// runs on the host's loopback (reached from the guest as `10.0.2.2:<host port>`).
    /// It serves [`HTTP_BLOB_PATH`] (`<size>` bytes with that SHA-256) with a
    /// Content-Length, [`HTTP_CHUNKED_PATH`] (the same bytes, chunked), and
    /// [`HTTP_REDIRECT_PATH`] (a 302 to the blob); anything else is a 404.
    pub const HOST_HTTP_INFO: &str = "http-info";
    pub const HTTP_BLOB_PATH: &str = "/blob.bin";
    pub const HTTP_CHUNKED_PATH: &str = "/chunked.bin";
    pub const HTTP_REDIRECT_PATH: &str = "/redirect";
    /// `http-get <path> <parallel> <sha256 hex>` -> `ok <requests> <bytes each>`: the
    /// harness fetches `http://127.0.0.1:<fwd>/<path>` with the host's own HTTP client
    /// (curl, else Python) `<parallel>` times at once, through the host port it forwards
    /// to the guest's [`GUEST_HTTP_PORT`], and checks every body's SHA-256.
    pub const HOST_HTTP_GET: &str = "http-get";
    /// The guest port the harness forwards a host TCP port to (the suite runs `httpd`
    /// there).
    pub const GUEST_HTTP_PORT: u16 = 8080;
    /// `udp-echo-info` -> `ok <host port>`: a UDP echo server on the host's loopback,
    /// reached from the guest as `10.0.2.2:<host port>`.
    pub const HOST_UDP_ECHO_INFO: &str = "udp-echo-info";
    /// `udp-send <count>` -> `ok <echoed>`: the harness sends `<count>` datagrams to the
    /// host port it forwards to the guest's [`GUEST_UDP_PORT`] and counts the echoes (the
    /// suite runs a UDP echo server there first).
    pub const HOST_UDP_SEND: &str = "udp-send";
    pub const GUEST_UDP_PORT: u16 = 7777;
    /// `inject <kind> <count>` -> `ok <frames sent>`: the harness writes `<count>` hostile
    /// frames of `<kind>` (one of [`INJECT_KINDS`]) straight onto the guest's Ethernet
    /// segment (QEMU hub + socket netdev), addressed to the guest's MAC and 10.0.2.15.
    pub const HOST_INJECT: &str = "inject";
    pub const INJECT_KINDS: &[&str] = &[
        "runt",        // shorter than an Ethernet header
        "badlen",      // IPv4 total length larger than the frame
        "trunc-ip",    // IPv4 header cut short (IHL past the end)
        "bad-ipcsum",  // IPv4 header checksum wrong
        "bad-tcpcsum", // TCP checksum wrong
        "bad-udpcsum", // UDP checksum wrong
        "frag-flood",  // IPv4 fragments that never complete
        "syn-flood",   // TCP SYNs from many spoofed sources to GUEST_HTTP_PORT
        "garbage",     // random bytes with the guest's MAC
    ];
    /// `screendump` -> `ok <cols> <rows> <text cells matched>`: the harness takes a QEMU
    /// `screendump` of the guest's display and decodes its glyph cells against the font
    /// ([`super::display`]); the guest's suite then compares the text it drew. Lines of
    /// the decoded screen follow as `screen <row> <hex of the row's text>` before the `ok`
    /// line is typed (see `docs/devices.md`).
    pub const HOST_SCREENDUMP: &str = "screendump";
    /// `tcp-connect-flood <count>` -> `ok <connections>`: the harness opens `<count>` TCP
    /// connections from the host to the forwarded [`GUEST_HTTP_PORT`] and drops them
    /// without a request (a SYN/connection flood through QEMU's user network).
    pub const HOST_CONNECT_FLOOD: &str = "tcp-connect-flood";

    /// Kernel command-line key `wayos.benchnet=<source>,<sink>,<echo>` of a `cargo xtask
    /// bench` boot with a network: host loopback ports (reached from the guest at
    /// 10.0.2.2) of the harness's bulk TCP source (sends [`BENCH_NET_BYTES`] on each
    /// connection, then closes), bulk TCP sink (reads to the end, answers the byte count
    /// as 8 little-endian bytes, closes) and UDP echo server. `bench`'s network figures
    /// (`tcp_rx_instr_per_kib`, `tcp_tx_instr_per_kib`, `udp_rtt_instr`) use them. See
    /// [`parse_bench_net`].
    pub const BENCH_NET_KEY: &str = "wayos.benchnet";
    /// Bytes each bulk TCP figure moves: 4 MiB.
    pub const BENCH_NET_BYTES: u64 = 4 << 20;
    /// Round trips `udp_rtt_instr` times, and the payload of each.
    pub const BENCH_UDP_ROUNDS: u32 = 200;
    pub const BENCH_UDP_PAYLOAD: usize = 64;

    /// Kernel command-line key `wayos.benchonly=<group>[,<group>...]`: `bench` measures
    /// only those groups of [`BENCH_GROUPS`] (all of them without the key).
    pub const BENCH_ONLY_KEY: &str = "wayos.benchonly";
    /// `bench`'s groups of figures: syscalls, switches, fork/spawn and page faults; tmpfs
    /// throughput; IPC; tensors and inference; the memory tiers; the network.
    pub const BENCH_GROUPS: &[&str] = &["core", "file", "ipc", "ai", "memtier", "net", "blk"];

    /// Kernel command-line key `wayos.disk=<dev>` of a test or bench boot: block device
    /// `<dev>` is the harness's scratch disk (raw writes allowed: nothing mounts it).
    /// `blktest` and `bench`'s `blk` group write only there.
    pub const SCRATCH_DISK_KEY: &str = "wayos.disk";
    /// Size of the harness's scratch disk.
    pub const SCRATCH_DISK_BYTES: u64 = 16 << 20;
    /// Size of the disk image xtask makes for `/disk` on first use (FAT32).
    pub const DISK_IMAGE_BYTES: u64 = 64 << 20;

    /// Bytes `bench`'s `file_write_disk_instr_per_kib` writes to a new file on `/disk`
    /// (4 KiB calls, then `fsync`); the Linux reference writes the same to its vfat mount.
    pub const BENCH_DISK_FILE_BYTES: u64 = 8 << 20;

    /// Kernel command-line key of a persistence boot (`cargo xtask test`): init mounts
    /// `/disk`, runs [`PERSIST_PROGRAM`] with the value as its one argument and powers
    /// off (`write`: make the files; `check`: read them back; `crash`: make files, `sync`,
    /// make more, print [`PERSIST_SYNCED`] and wait to be killed).
    pub const PERSIST_KEY: &str = "wayos.persist";
    /// The program a persistence boot runs (in `/bin`).
    pub const PERSIST_PROGRAM: &str = "persist";
    /// How [`PERSIST_PROGRAM`] reports each file: `persist: sha256 <hex> <path>`.
    pub const PERSIST_SHA_WORD: &str = "persist: sha256";
    /// What `persist crash` prints once its first files are synced.
    pub const PERSIST_SYNCED: &str = "persist: synced, waiting to be killed";

    /// The `(source, sink, echo)` ports of a [`BENCH_NET_KEY`] value.
    pub fn parse_bench_net(value: &str) -> Option<(u16, u16, u16)> {
        let mut it = value
            .split(',')
            .map(|p| p.parse::<u16>().ok().filter(|p| *p != 0));
        let ports = (it.next()??, it.next()??, it.next()??);
        it.next().is_none().then_some(ports)
    }

    /// Initramfs file holding `WayOS <version>`, checked by the kernel's boot test.
    pub const RELEASE_FILE: &str = "etc/wayos-release";

    /// Environment variable init sets (to `1`) for every suite it runs under
    /// [`TEST_FLAG`]: the harness is on the serial line, so a suite may ask it to type
    /// ([`TYPE_WORD`]). Without it (a person typed the suite's name at the shell) nobody
    /// would answer, so a suite skips its typed-input checks instead of waiting forever.
    pub const HARNESS_ENV: &str = "WAYOS_HARNESS";
    /// A suite that leaves out a group of checks says so in one line,
    /// `<suite>: skipped <what> (<why>)`. Under the harness nothing may be skipped: the
    /// harness fails a suite that prints it.
    pub const SKIP_WORD: &str = "skipped";

    /// One in-guest test suite. Every suite ends with exactly one line
    /// `<name>: N passed, M failed`; N + M > 0.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Suite {
        /// The suite's name: the `<name>:` of its lines and, for a user suite, the program
        /// `/bin/<name>`.
        pub name: &'static str,
        /// Runs inside the kernel during boot (before init) rather than as a program.
        pub in_kernel: bool,
        /// Has checks that need the harness to type on the serial console; run by hand it
        /// skips them (see [`HARNESS_ENV`]).
        pub typed: bool,
    }

    impl Suite {
        const fn kernel(name: &'static str) -> Self {
            Self {
                name,
                in_kernel: true,
                typed: false,
            }
        }

        const fn user(name: &'static str) -> Self {
            Self {
                name,
                in_kernel: false,
                typed: false,
            }
        }

        const fn typed(name: &'static str) -> Self {
            Self {
                name,
                in_kernel: false,
                typed: true,
            }
        }
    }

    /// Every in-guest suite, in the order a test boot runs them: the kernel's first, then
    /// init's user programs one after another. init runs the user suites from this list,
    /// `cargo xtask test` requires a result line from each, and `docs/testing.md` must
    /// name each (a host test checks). A new suite is one line here plus its program.
    pub const SUITES: &[Suite] = &[
        Suite::kernel("boottest"),
        Suite::user("vmtest"),
        Suite::user("badsys"),
        Suite::user("faulttest"),
        Suite::user("proctest"),
        Suite::user("ipctest"),
        // netd's sockets over lo (needs no NIC and no host; `nettest` has the rest).
        Suite::user("socktest"),
        Suite::user("sigtest"),
        Suite::user("pipetest"),
        Suite::user("fstest"),
        Suite::user("blktest"),
        Suite::typed("contest"),
        Suite::typed("shelltest"),
        Suite::user("utiltest"),
        Suite::user("smptest"),
        Suite::user("hardtest"),
        Suite::user("sectest"),
        Suite::user("ainfer"),
        Suite::user("ainfer4"),
        Suite::user("ainfer5"),
        // `classify --check` (init runs it without arguments: under the harness that is
        // the check); the digits model against the host's results.
        Suite::user("classify"),
        Suite::user("umemtest"),
        // Typed: its `host` group asks the harness (`HOST_WORD`) and reads the answers.
        Suite::typed("nettest"),
        // Typed: the harness types the serial magic key and checks the kernel's reports.
        Suite::typed("diagtest"),
        // Typed: asks the harness for a screendump (`HOST_SCREENDUMP`).
        Suite::typed("screentest"),
    ];

    /// The suite called `name`, if [`SUITES`] lists one.
    pub fn suite(name: &str) -> Option<&'static Suite> {
        SUITES.iter().find(|s| s.name == name)
    }

    #[cfg(test)]
    mod tests {
        extern crate std;

        use super::*;

        #[test]
        fn exit_status_matches_qemu_formula() {
            assert_eq!(qemu_status(EXIT_SUCCESS), 33);
            assert_eq!(qemu_status(EXIT_FAILURE), 35);
        }

        #[test]
        fn bench_net_key_values() {
            assert_eq!(parse_bench_net("1,2,3"), Some((1, 2, 3)));
            assert_eq!(parse_bench_net("1,2"), None);
            assert_eq!(parse_bench_net("1,2,3,4"), None);
            assert_eq!(parse_bench_net("1,0,3"), None);
            assert_eq!(parse_bench_net("1,x,3"), None);
            assert_eq!(parse_bench_net("70000,2,3"), None);
        }

        #[test]
        fn fuzz_key_values() {
            assert_eq!(parse_fuzz("20000,7"), Some((20000, 7)));
            assert_eq!(parse_fuzz("20000"), None);
            assert_eq!(parse_fuzz("x,1"), None);
            assert_eq!(parse_fuzz("1,-1"), None);
            assert!(suite(FUZZ_PROGRAM).is_none(), "the fuzzer is not a suite");
        }

        #[test]
        fn suite_names_are_unique_and_plain() {
            for (i, s) in SUITES.iter().enumerate() {
                assert!(
                    !s.name.is_empty() && s.name.bytes().all(|b| b.is_ascii_alphanumeric()),
                    "{s:?}: a suite name is one word (it starts its result line)"
                );
                assert!(
                    SUITES[..i].iter().all(|o| o.name != s.name),
                    "{} is listed twice",
                    s.name
                );
                assert!(
                    !(s.in_kernel && s.typed),
                    "{}: the kernel cannot be typed at",
                    s.name
                );
                assert_eq!(suite(s.name), Some(s));
            }
            assert_eq!(suite("nosuchtest"), None);
        }

        /// Whether `text` names `word` in backticks, as the docs write program names.
        fn names(text: &str, word: &str) -> bool {
            text.match_indices(word)
                .any(|(i, _)| text[..i].ends_with('`') && text[i + word.len()..].starts_with('`'))
        }

        #[test]
        fn testing_doc_names_every_suite() {
            let doc = include_str!("../../../docs/testing.md");
            for s in SUITES {
                assert!(
                    names(doc, s.name),
                    "docs/testing.md does not describe `{}`",
                    s.name
                );
            }
        }

        #[test]
        fn readme_lists_every_suite() {
            let readme = include_str!("../../../README.md");
            for s in SUITES {
                assert!(
                    names(readme, s.name),
                    "README.md does not list `{}`",
                    s.name
                );
            }
        }
    }
}

/// Syscall numbers and the calling convention.
///
/// x86_64: `syscall` with the number in `rax`, arguments in `rdi, rsi, rdx, r10, r8, r9`,
/// result in `rax`; `rcx` and `r11` are clobbered. aarch64: `svc #0` with the number in
/// `x8`, arguments in `x0..x5`, result in `x0`. A result in `-4095..=-1` is a negated
/// [`errno`] value; anything else is success.
pub mod sys {
    /// `exit(status: i32) -> !`
    pub const EXIT: usize = 0;
    /// `write(fd, buf: *const u8, len) -> bytes written`; fds 1 and 2 are the console.
    pub const WRITE: usize = 1;
    /// `getpid() -> pid`
    pub const GETPID: usize = 2;
    /// `getppid() -> pid`
    pub const GETPPID: usize = 3;
    /// `fork() -> child pid in the parent, 0 in the child`
    pub const FORK: usize = 4;
    /// `execve(path: *const u8, path_len, argv: *const StrRef, argc, envp: *const StrRef, envc)`;
    /// returns only on error.
    pub const EXECVE: usize = 5;
    /// `spawn(path, path_len, argv, argc, envp, envc) -> child pid`: a new process running
    /// the program, without copying the caller.
    pub const SPAWN: usize = 6;
    /// `wait(pid: isize, status: *mut i32, options) -> pid`; `pid == -1` waits for any child.
    pub const WAIT: usize = 7;
    /// `mmap(addr, len, prot, flags, fd, offset) -> addr`; anonymous memory only (`fd` -1).
    pub const MMAP: usize = 8;
    /// `munmap(addr, len) -> 0`
    pub const MUNMAP: usize = 9;
    /// `mprotect(addr, len, prot) -> 0`
    pub const MPROTECT: usize = 10;
    /// `nanosleep(req: *const Timespec, rem: *mut Timespec) -> 0`
    pub const NANOSLEEP: usize = 11;
    /// `clock_gettime(clock, ts: *mut Timespec) -> 0`
    pub const CLOCK_GETTIME: usize = 12;
    /// `sched_yield() -> 0`
    pub const SCHED_YIELD: usize = 13;
    /// `read(fd, buf: *mut u8, len) -> bytes read`; fd 0 is the console.
    pub const READ: usize = 14;
    /// `set_priority(class) -> previous class`; see [`super::sched`]. A class above
    /// `NORMAL` needs [`super::caps::SET_RT_PRIORITY`].
    pub const SET_PRIORITY: usize = 15;
    /// `get_cmdline(buf: *mut u8, len) -> length`: the kernel command line (for init).
    pub const GET_CMDLINE: usize = 16;
    /// `shutdown(success: usize) -> !`: power the machine off; needs [`super::caps::SHUTDOWN`]
    /// (only init holds it).
    /// Under `wayos.test` this ends the test run, with `success` as the verdict.
    pub const SHUTDOWN: usize = 17;
    /// `port_create(capacity) -> handle` with send, receive and grant rights.
    pub const PORT_CREATE: usize = 18;
    /// `port_send(handle, msg: *const Message, timeout_ns) -> 0`; see [`super::ipc`].
    pub const PORT_SEND: usize = 19;
    /// `port_recv(handle, msg: *mut Message, timeout_ns) -> badge`: the badge of the
    /// handle the message was sent through ([`PORT_BADGE`]; 0 for an unbadged handle or
    /// the kernel's own messages other than a badge's [`super::stream::CLOSE`]).
    pub const PORT_RECV: usize = 20;
    /// `port_call(handle, msg: *mut Message, timeout_ns) -> 0`: send, then wait for the
    /// reply into the same buffer.
    pub const PORT_CALL: usize = 21;
    /// `port_reply(reply_handle, msg: *const Message) -> 0`; consumes the one-shot right.
    pub const PORT_REPLY: usize = 22;
    /// `handle_close(handle) -> 0`.
    pub const HANDLE_CLOSE: usize = 23;
    /// `handle_dup(handle, rights) -> new handle` with a subset of the rights.
    pub const HANDLE_DUP: usize = 24;
    /// `ns_register(name, name_len, handle) -> 0`.
    pub const NS_REGISTER: usize = 25;
    /// `ns_lookup(name, name_len) -> handle` with send rights.
    pub const NS_LOOKUP: usize = 26;
    /// `klog_read(buf: *mut u8, len) -> bytes copied`: the newest whole lines of the
    /// kernel log ring that fit in `len`, oldest line first (0 if not even the newest
    /// line fits, or `len` is 0). Reading consumes nothing. `EFAULT` (nothing written)
    /// unless the first `min(len, limits::KLOG_BYTES)` bytes at `buf` are writable.
    pub const KLOG_READ: usize = 27;
    /// `mem_grant(addr, len, rights) -> handle`: a memory object for the pages of a
    /// shared mapping, to pass in a message (bulk data without copying).
    pub const MEM_GRANT: usize = 28;
    /// `mem_map(handle, prot, size: *mut u64) -> addr`: maps a granted memory object
    /// where the kernel chooses; its size in bytes goes to `*size` unless `size` is null.
    pub const MEM_MAP: usize = 29;
    /// `port_reply_recv(reply_handle, port, msg: *mut Message, timeout_ns) -> badge << 1 |
    /// discarded`: answer a call, then wait for the next message on `port`, in one trap
    /// (bit 0 is `ipc::REPLY_DISCARDED` when the caller had gone and the reply was dropped;
    /// the bits above are the next message's badge, as [`PORT_RECV`] returns it).
    pub const PORT_REPLY_RECV: usize = 30;
    /// `kill(pid, signal) -> 0`.
    pub const KILL: usize = 31;
    /// `dup2(old_fd, new_fd) -> new_fd`.
    pub const DUP2: usize = 32;
    /// `close(fd) -> 0`.
    pub const CLOSE: usize = 33;
    /// `port_fd(handle) -> fd`: a stream fd whose reads and writes are calls to the port
    /// (the [`super::stream`] protocol); the handle moves into the fd.
    pub const PORT_FD: usize = 34;
    /// `console_bind(fd, port) -> 0`: `fd` must be the console device; from now on its
    /// input arrives at `port` as [`super::console::INPUT`] messages from the kernel.
    pub const CONSOLE_BIND: usize = 35;
    // 36..=59: files and directories (VFS, tmpfs, /dev); see `docs/fs.md`. Paths are
    // (pointer, length) pairs, relative ones resolved against the working directory.
    /// `open(path, path_len, flags, mode) -> fd`: [`super::fcntl`] `O_*` flags; `mode`
    /// (permission bits) for a file `O_CREAT` makes.
    pub const OPEN: usize = 36;
    /// `lseek(fd, offset: i64, whence) -> new offset` (`fcntl::SEEK_*`).
    pub const LSEEK: usize = 37;
    /// `stat(path, path_len, buf: *mut fs::Stat) -> 0`.
    pub const STAT: usize = 38;
    /// `fstat(fd, buf: *mut fs::Stat) -> 0`.
    pub const FSTAT: usize = 39;
    /// `getdents(fd, buf, len) -> bytes`: directory records (the [`super::fs`] `DIRENT_*`
    /// layout), 0 at the end.
    pub const GETDENTS: usize = 40;
    /// `mkdir(path, path_len, mode) -> 0`.
    pub const MKDIR: usize = 41;
    /// `rmdir(path, path_len) -> 0`.
    pub const RMDIR: usize = 42;
    /// `unlink(path, path_len) -> 0`.
    pub const UNLINK: usize = 43;
    /// `rename(old, old_len, new, new_len) -> 0`.
    pub const RENAME: usize = 44;
    /// `ftruncate(fd, length) -> 0`.
    pub const FTRUNCATE: usize = 45;
    /// `truncate(path, path_len, length) -> 0`.
    pub const TRUNCATE: usize = 46;
    /// `getcwd(buf, len) -> path length` (no NUL is written).
    pub const GETCWD: usize = 47;
    /// `chdir(path, path_len) -> 0`.
    pub const CHDIR: usize = 48;
    /// `utimens(path, path_len, times: *const [Timespec; 2]) -> 0`: access and
    /// modification times; a null `times` means both now (`fs::UTIME_NOW`, `UTIME_OMIT`).
    pub const UTIMENS: usize = 49;
    /// `dup(fd) -> new fd`: the lowest free number, sharing `fd`'s open file.
    pub const DUP: usize = 50;
    /// `statfs(path, path_len, buf: *mut fs::StatFs) -> 0`: the file system's size and use.
    pub const STATFS: usize = 51;
    // 60..=79: pipes, fcntl, signals, process groups, system information.
    /// `pipe(fds: *mut [u32; 2], flags) -> 0`: `fds[0]` reads, `fds[1]` writes; `flags`
    /// may hold `fcntl::O_CLOEXEC`.
    pub const PIPE: usize = 60;
    /// `fcntl(fd, cmd, arg)`: `F_DUPFD`, `F_DUPFD_CLOEXEC`, `F_GETFD`, `F_SETFD`.
    pub const FCNTL: usize = 61;
    /// `sigaction(signal, act: *const SigAction, old: *mut SigAction) -> 0`; either
    /// pointer may be 0.
    pub const SIGACTION: usize = 62;
    /// `sigprocmask(how, set: *const u64, old: *mut u64) -> 0`; either pointer may be 0.
    pub const SIGPROCMASK: usize = 63;
    /// `sigreturn()`: ends a signal handler, resuming what it interrupted (the restorer
    /// libway installs calls it).
    pub const SIGRETURN: usize = 64;
    /// `setpgid(pid, pgid) -> 0`: 0 means the caller / a group named after `pid`.
    pub const SETPGID: usize = 65;
    /// `getpgid(pid) -> pgid`; 0 means the caller.
    pub const GETPGID: usize = 66;
    /// `uname(buf: *mut Utsname) -> 0`.
    pub const UNAME: usize = 67;
    /// `proc_list(buf: *mut ProcInfo, count) -> processes in the system` (fills at most
    /// `count` entries, lowest pid first).
    pub const PROC_LIST: usize = 68;
    /// `thread_create(entry, stack_top, arg, tid_addr) -> tid`: a new thread in the
    /// caller's process starts in user mode at `entry` with `arg` as its first argument
    /// and `stack_top` (16-byte aligned) as its stack pointer, in the caller's class and
    /// affinity. When it ends, if `tid_addr` is not 0 the kernel stores the `u32` 0 there
    /// and wakes one `futex_wait` on it (a join).
    pub const THREAD_CREATE: usize = 69;
    /// `thread_exit(code) -> !`: ends the calling thread; the last thread's code becomes
    /// the process's exit status (`exit` ends every thread at once).
    pub const THREAD_EXIT: usize = 70;
    /// `gettid() -> tid`.
    pub const GETTID: usize = 71;
    /// `futex_wait(addr, expected: u32, timeout_ns) -> 0`: sleeps while the aligned `u32`
    /// at `addr` equals `expected`, until `futex_wake` on it (`EAGAIN` if it differs,
    /// `ETIMEDOUT` after `timeout_ns` unless that is `u64::MAX`, `EINTR` on a signal).
    pub const FUTEX_WAIT: usize = 72;
    /// `futex_wake(addr, count) -> woken`: wakes at most `count` waiters on `addr`.
    pub const FUTEX_WAKE: usize = 73;
    /// `sched_getcpu() -> cpu`: the CPU index the caller runs on.
    pub const SCHED_GETCPU: usize = 74;
    /// `sched_setaffinity(tid, mask) -> 0`: the CPUs (bit i = CPU i) thread `tid` (0: the
    /// caller, else a thread of the caller's process) may run on; it moves at once if it
    /// is not on one of them. `EINVAL` if `mask` names no online CPU.
    pub const SCHED_SETAFFINITY: usize = 75;
    /// `sched_getaffinity(tid) -> mask`.
    pub const SCHED_GETAFFINITY: usize = 76;
    /// `smp_info(buf: *mut CpuInfo, count) -> CPUs online` (fills at most `count`).
    pub const SMP_INFO: usize = 77;
    // 80..=89: the privilege model ([`super::caps`], [`super::filter`]); see
    // `docs/security.md`.
    /// `cap_get() -> caps`: the caller's capability set ([`super::caps`] bits).
    pub const CAP_GET: usize = 80;
    /// `cap_drop(mask) -> caps left`: removes the bits of `mask` from the caller's set,
    /// for good (`EINVAL` for a bit [`super::caps::ALL`] does not define).
    pub const CAP_DROP: usize = 81;
    /// `spawn_caps(args: *const caps::SpawnArgs) -> child pid`: `spawn`, with the child's
    /// capability set given (`EPERM` unless it is a subset of the caller's).
    pub const SPAWN_CAPS: usize = 82;
    /// `filter_set(f: *const filter::SysFilter) -> 0`: narrows the caller's syscall
    /// filter to its intersection with `f` (and the stricter of the two modes).
    pub const FILTER_SET: usize = 83;
    /// `filter_get(f: *mut filter::SysFilter) -> 0`: the caller's syscall filter.
    pub const FILTER_GET: usize = 84;
    /// `ns_require(name, name_len, caps) -> 0`: only processes holding every bit of
    /// `caps` may look up the name from now on; only the name's owner may set it.
    pub const NS_REQUIRE: usize = 85;
    /// `tensor_create(info: *const ai::TensorInfo) -> handle`: a zeroed tensor of that
    /// dtype and shape on `info.tier`; the handle has every tensor right.
    pub const TENSOR_CREATE: usize = 90;
    /// `tensor_write(handle, offset, buf, len) -> len`: bytes into the tensor (`RIGHT_WRITE`).
    pub const TENSOR_WRITE: usize = 91;
    /// `tensor_read(handle, offset, buf, len) -> len`: bytes out of the tensor (`RIGHT_READ`).
    pub const TENSOR_READ: usize = 92;
    /// `tensor_map(handle, prot) -> addr`: maps the tensor's pages into the caller
    /// (`PROT_READ` needs `RIGHT_READ`, `PROT_WRITE` also `RIGHT_WRITE`); `munmap` undoes it.
    pub const TENSOR_MAP: usize = 93;
    /// `tensor_info(handle, out: *mut ai::TensorInfo)`.
    pub const TENSOR_INFO: usize = 94;
    /// `graph_create(desc: *const ai::GraphDesc) -> handle`: validates and builds a graph.
    pub const GRAPH_CREATE: usize = 95;
    /// `infer_submit(graph, class) -> job handle`: queues one run of the graph.
    pub const INFER_SUBMIT: usize = 96;
    /// `infer_wait(job, timeout_ns) -> 0 or -errno`: waits for the job (`ETIMEDOUT`,
    /// `EINTR`); `timeout_ns == 0` only polls (`EAGAIN` while it is queued or running).
    pub const INFER_WAIT: usize = 97;
    /// `infer_cancel(job)`.
    pub const INFER_CANCEL: usize = 98;
    /// `model_load(fd, out: *mut ai::ModelHandles) -> 0`: a `.waymodel` file into tensors
    /// and a graph.
    pub const MODEL_LOAD: usize = 99;
    /// `ai_info(what, buf, len) -> bytes or count`: the AI subsystem's state for `ainfo`.
    pub const AI_INFO: usize = 100;
    /// `infer_stats(job, out: *mut ai::JobStats) -> 0`: what the job has used so far
    /// (time queued, time on a worker, nodes run, preemptions); final once it ended.
    pub const INFER_STATS: usize = 101;
    // 102..=105: memory tiers ([`super::memtier`]; `docs/memory.md`).
    /// `mem_advise(addr, len, policy) -> 0`: the page-aligned range `addr..addr+len`,
    /// which must be mapped, takes tier policy `policy` (`memtier::POLICY_*`): pages
    /// faulted in from now on follow it, and pages already there move to the tier it
    /// names (near, far) within the migration budget. `EINVAL` for a bad policy or an
    /// unaligned range, `ENOMEM` for a hole.
    pub const MEM_ADVISE: usize = 102;
    /// `mem_policy(policy) -> old policy`: the caller's default tier policy, used by
    /// mappings that name none (inherited across fork and spawn). `memtier::POLICY_QUERY`
    /// only reads it.
    pub const MEM_POLICY: usize = 103;
    /// `memtier_info(what, buf, len) -> records in all`: like `ai_info`, as many whole
    /// records of the kind `what` selects (`memtier::INFO_*`) as fit in `len` bytes.
    pub const MEMTIER_INFO: usize = 104;
    /// `memtier_set(param, value) -> old value`: the migration daemon's settings and the
    /// system default policy (`memtier::SET_*`); needs [`super::caps::MEMTIER`] (`EPERM`).
    pub const MEMTIER_SET: usize = 105;
    // 106..=111: devices and networking; see `docs/net.md`.
    /// `pci_list(buf: *mut net::PciDevice, cap) -> total`: the PCI functions the kernel
    /// found, at most `cap` written (`total` may be larger: call again with more room).
    pub const PCI_LIST: usize = 106;
    /// `net_attach(nic, notify_port, info_out: *mut net::NicInfo) -> handle`: takes NIC
    /// number `nic` for raw frames. Needs [`super::caps::NET_RAW`] (`EPERM`); one holder
    /// at a time (`EBUSY`), freed when the handle closes or the holder dies; `ENODEV` for
    /// no such NIC. `notify_port` is a send handle (the kernel keeps its own reference) to
    /// which the kernel sends [`super::net::NOTIFY`]. `mem_map(handle, READ|WRITE, ..)`
    /// maps the NIC's ring area ([`super::net::RING_BYTES`], layout in [`super::net`]).
    pub const NET_ATTACH: usize = 107;
    /// `net_kick(handle) -> 0`: the holder filled tx slots and/or freed rx slots; the kernel
    /// sends and reposts, and re-arms notification (see [`super::net`]).
    pub const NET_KICK: usize = 108;
    /// `net_info(nic, out: *mut net::NicInfo) -> 0`: any process; `ENODEV` past the last.
    pub const NET_INFO: usize = 109;
    /// `fd_call(fd, req: *const ipc::Message, reply: *mut ipc::Message) -> fd or 0`: one
    /// `port_call` on a stream fd's port (`ENOTSOCK` for any other fd; `EINVAL` for a
    /// label below [`super::stream::CALL_BASE`]). Handles in the request are ignored. A
    /// reply carrying a port handle in `handles[0]` makes it a new stream fd in the caller
    /// (returned; its slot in `*reply` reads `NO_HANDLE`), else the result is 0. A reply
    /// label that is not 0 is returned as that errno.
    pub const FD_CALL: usize = 110;
    /// `port_badge(handle, badge) -> new handle`: a send handle (send and grant rights) to
    /// the port behind `handle`, which needs the receive right, stamped with `badge`
    /// (`1..=u32::MAX`, else `EINVAL`). Every message sent through it or a duplicate of it
    /// (or a stream fd made from one) arrives with that badge ([`PORT_RECV`]'s result), so
    /// one port serves many objects; when the last handle and fd of the badge go, the
    /// kernel queues one [`super::stream::CLOSE`] with it. See `docs/ipc.md`, "Badges".
    pub const PORT_BADGE: usize = 111;
    // 112..=119: storage, mounts and system statistics; see `docs/storage.md` and
    // `docs/devices.md`.
    /// `blk_info(dev, out: *mut blk::BlkInfo) -> 0`: block device number `dev` (`blk0`,
    /// `blk1`, ...); any process; `ENODEV` past the last.
    pub const BLK_INFO: usize = 112;
    /// `blk_read(dev, sector: u64, buf: *mut u8, len) -> len`: raw sectors through the
    /// buffer cache. Needs [`super::caps::DISK`] (`EPERM`). `len` a non-zero multiple of
    /// [`super::blk::SECTOR_SIZE`] up to [`super::blk::MAX_IO`], the range inside the disk
    /// (`EINVAL`); `EIO` when the device reports an error. Nothing is written to `buf` on
    /// an error.
    pub const BLK_READ: usize = 113;
    /// `blk_write(dev, sector: u64, buf: *const u8, len) -> len`: raw sectors into the
    /// buffer cache (written back by `sync`, `fsync`, memory pressure, or at shutdown).
    /// As [`BLK_READ`], plus `EBUSY` while a file system is mounted from `dev` and `EROFS`
    /// for a read-only device.
    pub const BLK_WRITE: usize = 114;
    /// `sync() -> 0`: every dirty cached block of every device is written back and every
    /// device's write cache flushed before it returns (`EIO` if any write failed).
    pub const SYNC: usize = 115;
    /// `fsync(fd) -> 0`: the file's data and its directory entry reach the disk (for a
    /// file on a disk mount: its device's dirty blocks, then a device flush). `0` for
    /// files of memory file systems and devices; `EINVAL` for pipes and sockets.
    pub const FSYNC: usize = 116;
    /// `mount(dev, path, path_len, flags) -> 0`: the file system on block device `dev`
    /// (FAT12/16/32, found by probing) on the existing directory `path`. Needs
    /// [`super::caps::MOUNT`]. `flags`: [`super::fs::MS_RDONLY`]. `EINVAL`: not a file
    /// system this kernel reads, or its structures are corrupt (nothing is mounted);
    /// `EBUSY`: `dev` is mounted already or `path` is a mount point; `ENODEV`: no `dev`.
    pub const MOUNT: usize = 117;
    /// `umount(path, path_len, flags) -> 0`: writes back everything dirty, then removes
    /// the mount at `path`. Needs [`super::caps::MOUNT`]. `EBUSY` while a file or a
    /// working directory is open on it; `EINVAL` if `path` is not a mount point or `flags`
    /// is not 0.
    pub const UMOUNT: usize = 118;
    /// `stats(what, buf, len) -> records in all`: the kernel's statistics and state of kind
    /// `what` ([`super::stats`] `KIND_*`), as many whole records as fit in `len` bytes
    /// (like `memtier_info`). Any process. The one source of `kstats`, `diagdump`,
    /// `version`, `free`, `df`, `mount` (listing) and `blktest`'s counters.
    pub const STATS: usize = 119;
    /// One past the highest syscall number.
    pub const COUNT: usize = 120;

    /// Every syscall's name (its constant in lower case), in number order: what `kstats`
    /// and `diagdump` print. The host test `names_match_the_constants` checks it against
    /// this module's text, so a new number without its name fails the build's tests.
    pub const NAMES: &[(usize, &str)] = &[
        (EXIT, "exit"),
        (WRITE, "write"),
        (GETPID, "getpid"),
        (GETPPID, "getppid"),
        (FORK, "fork"),
        (EXECVE, "execve"),
        (SPAWN, "spawn"),
        (WAIT, "wait"),
        (MMAP, "mmap"),
        (MUNMAP, "munmap"),
        (MPROTECT, "mprotect"),
        (NANOSLEEP, "nanosleep"),
        (CLOCK_GETTIME, "clock_gettime"),
        (SCHED_YIELD, "sched_yield"),
        (READ, "read"),
        (SET_PRIORITY, "set_priority"),
        (GET_CMDLINE, "get_cmdline"),
        (SHUTDOWN, "shutdown"),
        (PORT_CREATE, "port_create"),
        (PORT_SEND, "port_send"),
        (PORT_RECV, "port_recv"),
        (PORT_CALL, "port_call"),
        (PORT_REPLY, "port_reply"),
        (HANDLE_CLOSE, "handle_close"),
        (HANDLE_DUP, "handle_dup"),
        (NS_REGISTER, "ns_register"),
        (NS_LOOKUP, "ns_lookup"),
        (KLOG_READ, "klog_read"),
        (MEM_GRANT, "mem_grant"),
        (MEM_MAP, "mem_map"),
        (PORT_REPLY_RECV, "port_reply_recv"),
        (KILL, "kill"),
        (DUP2, "dup2"),
        (CLOSE, "close"),
        (PORT_FD, "port_fd"),
        (CONSOLE_BIND, "console_bind"),
        (OPEN, "open"),
        (LSEEK, "lseek"),
        (STAT, "stat"),
        (FSTAT, "fstat"),
        (GETDENTS, "getdents"),
        (MKDIR, "mkdir"),
        (RMDIR, "rmdir"),
        (UNLINK, "unlink"),
        (RENAME, "rename"),
        (FTRUNCATE, "ftruncate"),
        (TRUNCATE, "truncate"),
        (GETCWD, "getcwd"),
        (CHDIR, "chdir"),
        (UTIMENS, "utimens"),
        (DUP, "dup"),
        (STATFS, "statfs"),
        (PIPE, "pipe"),
        (FCNTL, "fcntl"),
        (SIGACTION, "sigaction"),
        (SIGPROCMASK, "sigprocmask"),
        (SIGRETURN, "sigreturn"),
        (SETPGID, "setpgid"),
        (GETPGID, "getpgid"),
        (UNAME, "uname"),
        (PROC_LIST, "proc_list"),
        (THREAD_CREATE, "thread_create"),
        (THREAD_EXIT, "thread_exit"),
        (GETTID, "gettid"),
        (FUTEX_WAIT, "futex_wait"),
        (FUTEX_WAKE, "futex_wake"),
        (SCHED_GETCPU, "sched_getcpu"),
        (SCHED_SETAFFINITY, "sched_setaffinity"),
        (SCHED_GETAFFINITY, "sched_getaffinity"),
        (SMP_INFO, "smp_info"),
        (CAP_GET, "cap_get"),
        (CAP_DROP, "cap_drop"),
        (SPAWN_CAPS, "spawn_caps"),
        (FILTER_SET, "filter_set"),
        (FILTER_GET, "filter_get"),
        (NS_REQUIRE, "ns_require"),
        (TENSOR_CREATE, "tensor_create"),
        (TENSOR_WRITE, "tensor_write"),
        (TENSOR_READ, "tensor_read"),
        (TENSOR_MAP, "tensor_map"),
        (TENSOR_INFO, "tensor_info"),
        (GRAPH_CREATE, "graph_create"),
        (INFER_SUBMIT, "infer_submit"),
        (INFER_WAIT, "infer_wait"),
        (INFER_CANCEL, "infer_cancel"),
        (MODEL_LOAD, "model_load"),
        (AI_INFO, "ai_info"),
        (INFER_STATS, "infer_stats"),
        (MEM_ADVISE, "mem_advise"),
        (MEM_POLICY, "mem_policy"),
        (MEMTIER_INFO, "memtier_info"),
        (MEMTIER_SET, "memtier_set"),
        (PCI_LIST, "pci_list"),
        (NET_ATTACH, "net_attach"),
        (NET_KICK, "net_kick"),
        (NET_INFO, "net_info"),
        (FD_CALL, "fd_call"),
        (PORT_BADGE, "port_badge"),
        (BLK_INFO, "blk_info"),
        (BLK_READ, "blk_read"),
        (BLK_WRITE, "blk_write"),
        (SYNC, "sync"),
        (FSYNC, "fsync"),
        (MOUNT, "mount"),
        (UMOUNT, "umount"),
        (STATS, "stats"),
    ];

    /// The name of syscall `num`, `None` for a number nothing answers.
    pub fn name(num: usize) -> Option<&'static str> {
        NAMES
            .binary_search_by_key(&num, |&(n, _)| n)
            .ok()
            .map(|i| NAMES[i].1)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn names_match_the_constants() {
            let src = include_str!("lib.rs");
            let start = src.find("pub mod sys {").unwrap();
            let end = start + src[start..].find("pub const COUNT").unwrap();
            let mut found = 0;
            for line in src[start..end].lines() {
                let Some(rest) = line.trim().strip_prefix("pub const ") else {
                    continue;
                };
                let (ident, value) = rest.split_once(": usize = ").unwrap();
                let num: usize = value.trim_end_matches(';').parse().unwrap();
                assert_eq!(name(num), Some(ident.to_lowercase().as_str()), "{ident}");
                found += 1;
            }
            assert_eq!(found, NAMES.len(), "NAMES has entries no constant has");
            assert!(NAMES.windows(2).all(|w| w[0].0 < w[1].0), "NAMES in order");
            assert!(NAMES.iter().all(|&(n, _)| n < COUNT));
        }
    }
}

/// IPC: ports, messages, rights. See `docs/ipc.md`.
pub mod ipc {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// Right to send to a port (and call it).
    pub const RIGHT_SEND: u32 = 1 << 0;
    /// Right to receive from a port.
    pub const RIGHT_RECV: u32 = 1 << 1;
    /// Right to pass the handle on (in a message or by duplicating it).
    pub const RIGHT_GRANT: u32 = 1 << 2;
    /// All rights of a freshly created port.
    pub const RIGHTS_ALL: u32 = RIGHT_SEND | RIGHT_RECV | RIGHT_GRANT;
    /// Right to map a memory object (`mem_map`) readable.
    pub const RIGHT_READ: u32 = 1 << 3;
    /// Right to map a memory object writable (with [`RIGHT_READ`]: pages cannot be
    /// write-only).
    pub const RIGHT_WRITE: u32 = 1 << 4;
    /// Every right a memory object handle can have (`mem_grant`).
    pub const MEM_RIGHTS_ALL: u32 = RIGHT_READ | RIGHT_WRITE | RIGHT_GRANT;
    /// Every right bit that means something; `handle_dup` refuses others with `EINVAL`.
    pub const RIGHTS_DEFINED: u32 = RIGHTS_ALL | MEM_RIGHTS_ALL;
    /// Most separate mappings (shared objects, or non-adjacent pieces of one) a single
    /// `mem_grant` range may span.
    pub const GRANT_MAX_SEGMENTS: usize = 16;

    /// Bytes of inline payload per message.
    pub const INLINE_BYTES: usize = 128;
    /// Handles one message may carry.
    pub const MAX_HANDLES: usize = 4;
    /// Largest queue a port may have.
    pub const MAX_CAPACITY: usize = 256;
    /// Longest service name.
    pub const NAME_MAX: usize = 64;
    /// `timeout_ns` meaning "never give up"; 0 means "do not block".
    pub const WAIT_FOREVER: u64 = u64::MAX;
    /// In a received message's `reply`: the kernel itself sent it (no process can).
    pub const FROM_KERNEL: u32 = u32::MAX - 1;
    /// Marks an unused handle slot in [`Message::handles`].
    pub const NO_HANDLE: u32 = u32::MAX;
    /// `port_reply_recv` result bit when the caller had gone: the reply was discarded (its
    /// handles closed) and the next message was still received. Clear means it was
    /// delivered. The bits above it are the next message's badge.
    pub const REPLY_DISCARDED: usize = 1;

    /// A message: a label the protocol defines, inline bytes, and handles to transfer.
    /// On receive of a call, `reply` holds the one-shot reply handle (else `NO_HANDLE`).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct Message {
        pub label: u64,
        pub len: u32,
        pub reply: u32,
        pub handles: [u32; MAX_HANDLES],
        pub data: [u8; INLINE_BYTES],
    }

    abi_size!(Message, 8 + 4 + 4 + 4 * MAX_HANDLES + INLINE_BYTES);

    impl Message {
        pub const fn new(label: u64) -> Self {
            Self {
                label,
                len: 0,
                reply: NO_HANDLE,
                handles: [NO_HANDLE; MAX_HANDLES],
                data: [0; INLINE_BYTES],
            }
        }
    }
}

/// The stream protocol: what a [`sys::PORT_FD`] file descriptor sends to its port.
///
/// Each `read` or `write` on such an fd is one call. A reply's `label` is 0 on success or
/// a positive errno value.
pub mod stream {
    /// Request: `data[..4]` is the most bytes wanted (u32, little endian). Reply: the
    /// bytes in `data[..len]`; `len` 0 means end of file.
    pub const READ: u64 = 1;
    /// Request: the bytes to write in `data[..len]`. Reply: `data[..4]` is how many were
    /// taken (u32, little endian).
    pub const WRITE: u64 = 2;
    /// Most bytes one read or write call carries.
    pub const CHUNK: usize = super::ipc::INLINE_BYTES;
    /// One-way, from the kernel (`reply` is [`super::ipc::FROM_KERNEL`]): the last fd on
    /// this stream closed. Sent once per `port_fd` stream, even when the port's queue is
    /// full (a close is never lost), so a server can free what the stream held. Servers
    /// ignore it if they keep nothing per stream. For a badged handle
    /// ([`super::sys::PORT_BADGE`]) it is sent once per badge, with the badge, when the
    /// last handle or fd carrying it goes (so also when a client dies before it made the
    /// handle an fd).
    pub const CLOSE: u64 = 3;
    /// Labels at or above this are the server's own requests, which `fd_call` passes on;
    /// below it only the kernel speaks.
    pub const CALL_BASE: u64 = 0x100;
}

/// The console server's protocol: the [`stream`] labels plus these.
pub mod console {
    /// The name the console server registers.
    pub const NAME: &str = "console";
    /// From the kernel (`reply` is [`super::ipc::FROM_KERNEL`]): raw input bytes in
    /// `data[..len]`.
    pub const INPUT: u64 = 0x100;
    /// Request: `data[..8]` is the process group (u64, little endian) Ctrl-C interrupts,
    /// 0 for none. Reply label 0.
    pub const SET_FOREGROUND: u64 = 0x101;
    /// Request: `data[0]` is [`MODE_COOKED`] or [`MODE_RAW`]. Reply label 0.
    pub const SET_MODE: u64 = 0x102;
    /// Line editing, echo, Ctrl-C and Ctrl-D handled by the server (the default).
    pub const MODE_COOKED: u8 = 0;
    /// Bytes pass through as typed, without echo.
    pub const MODE_RAW: u8 = 1;

    /// The serial line's magic key (Ctrl-]): the kernel's input path (before any server
    /// sees the byte) takes the next byte as a command, so it works while the shell, the
    /// console server or a lock-holding program is stuck. [`MAGIC_DUMP`] prints the
    /// `diagdump` report on the serial line from the kernel itself (taking no lock it
    /// could wait on), [`MAGIC_STATS`] the `kstats` summary, [`MAGIC_HELP`] a list of the
    /// commands; a second [`MAGIC_KEY`] passes one through, anything else is dropped.
    pub const MAGIC_KEY: u8 = 0x1d;
    pub const MAGIC_DUMP: u8 = b'd';
    pub const MAGIC_STATS: u8 = b's';
    pub const MAGIC_HELP: u8 = b'?';
}

/// The kernel's NIC and PCI interface (`docs/net.md`): what `pci_list`, `net_attach`,
/// `net_kick` and `net_info` exchange, and the layout of a NIC's ring area.
///
/// **Ring area** (`mem_map` of a NIC handle, [`RING_BYTES`]): a header page, then
/// [`RX_SLOTS`] receive slots, then [`TX_SLOTS`] transmit slots, [`SLOT_BYTES`] each.
/// Four free-running `u32` counters in the header (each alone in its 64-byte line) say
/// who owns which slot; slot `i % N` belongs to counter value `i`:
/// - `rx_head` (kernel writes): frames the kernel has put in rx slots;
/// - `rx_tail` (holder writes): frames the holder has consumed (their slots are free);
/// - `tx_head` (holder writes): frames the holder has put in tx slots;
/// - `tx_tail` (kernel writes): frames the kernel has taken (sent or dropped).
///
/// A slot's frame length (Ethernet header onward, no FCS) is in `rx_len[i % RX_SLOTS]` /
/// `tx_len[i % TX_SLOTS]` (`u16`). Counters and lengths are read and written as atomics
/// (release after filling a slot, acquire before reading one). The kernel treats every
/// holder-written value as hostile: a `tx_head` more than [`TX_SLOTS`] ahead of `tx_tail`,
/// or an `rx_tail` outside `rx_head - RX_SLOTS ..= rx_head`, is ignored until sane; a
/// length outside [`MIN_FRAME`]`..=`[`MAX_FRAME`] drops that frame (`tx_dropped`).
///
/// **Notification:** when rx frames arrive (or tx slots free up) and none is pending, the
/// kernel sends one [`NOTIFY`] to the holder's notify port and marks it pending;
/// `net_kick` clears the mark. So after a kick the holder re-reads `rx_head` before it
/// sleeps: a frame that arrived in between is then either seen or notified.
pub mod net {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// One-way, from the kernel (`reply` is [`super::ipc::FROM_KERNEL`]): the NIC's ring
    /// has news. `data[..4]` is the NIC number (u32, little endian).
    pub const NOTIFY: u64 = 0x4e00;
    /// Receive slots.
    pub const RX_SLOTS: usize = 128;
    /// Transmit slots.
    pub const TX_SLOTS: usize = 64;
    /// Bytes per slot.
    pub const SLOT_BYTES: usize = 2048;
    /// Largest frame (1500-byte MTU plus the 14-byte Ethernet header; no FCS).
    pub const MAX_FRAME: usize = 1514;
    /// Smallest frame: an Ethernet header.
    pub const MIN_FRAME: usize = 14;
    /// The header page.
    pub const HEADER_BYTES: usize = 4096;
    /// Byte offsets in the header page.
    pub const RX_HEAD: usize = 0;
    pub const RX_TAIL: usize = 64;
    pub const TX_HEAD: usize = 128;
    pub const TX_TAIL: usize = 192;
    /// `[u16; RX_SLOTS]`.
    pub const RX_LEN: usize = 256;
    /// `[u16; TX_SLOTS]`.
    pub const TX_LEN: usize = RX_LEN + 2 * RX_SLOTS;
    /// First rx slot; slot `s` is at `RX_DATA + s * SLOT_BYTES`.
    pub const RX_DATA: usize = HEADER_BYTES;
    /// First tx slot.
    pub const TX_DATA: usize = RX_DATA + RX_SLOTS * SLOT_BYTES;
    /// The whole ring area.
    pub const RING_BYTES: usize = TX_DATA + TX_SLOTS * SLOT_BYTES;
    const _: () = assert!(TX_LEN + 2 * TX_SLOTS <= HEADER_BYTES);
    const _: () = assert!(MAX_FRAME <= SLOT_BYTES);

    /// Bytes of an Ethernet ARP request for IPv4.
    pub const ARP_REQUEST_BYTES: usize = 42;

    /// An Ethernet broadcast ARP request from `mac`/`sender` asking for `target`: the frame
    /// the NIC checks (boot test, `sectest`) send through the ring to see a reply come back.
    pub fn arp_request(mac: [u8; 6], sender: [u8; 4], target: [u8; 4]) -> [u8; ARP_REQUEST_BYTES] {
        let mut f = [0u8; ARP_REQUEST_BYTES];
        f[..6].copy_from_slice(&[0xff; 6]);
        f[6..12].copy_from_slice(&mac);
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        // Ethernet, IPv4, 6-byte and 4-byte addresses, request.
        f[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
        f[22..28].copy_from_slice(&mac);
        f[28..32].copy_from_slice(&sender);
        f[38..42].copy_from_slice(&target);
        f
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn arp_request_layout() {
            let f = super::arp_request([2, 0, 0, 0, 0, 1], [10, 0, 2, 15], [10, 0, 2, 2]);
            // htype 1, ptype 0x0800, hlen 6, plen 4, oper 1 (RFC 826), zero target MAC.
            assert_eq!(&f[12..14], &[0x08, 0x06]);
            assert_eq!(&f[14..22], &[0, 1, 8, 0, 6, 4, 0, 1]);
            assert_eq!(&f[32..38], &[0; 6]);
            assert_eq!(
                (&f[28..32], &f[38..42]),
                (&[10, 0, 2, 15][..], &[10, 0, 2, 2][..])
            );
        }
    }

    /// [`NicInfo::irq_mode`]: the device is polled from the timer tick.
    pub const IRQ_POLLED: u8 = 0;
    /// Legacy INTx through the I/O APIC (x86_64) or a GIC SPI (aarch64).
    pub const IRQ_INTX: u8 = 1;
    /// MSI-X.
    pub const IRQ_MSIX: u8 = 2;

    /// A NIC as `net_attach` and `net_info` describe it. Counters count since boot.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct NicInfo {
        pub mac: [u8; 6],
        /// 1 when the link is up.
        pub link_up: u8,
        /// [`IRQ_POLLED`], [`IRQ_INTX`] or [`IRQ_MSIX`].
        pub irq_mode: u8,
        /// IP MTU (1500).
        pub mtu: u32,
        /// The interrupt line (GSI on x86_64, INTID on aarch64); `u32::MAX` when polled.
        pub irq: u32,
        /// The attached holder's pid, 0 when free.
        pub holder: u32,
        /// PCI address: `bus << 8 | dev << 3 | func`.
        pub pci: u32,
        /// Frames and bytes received from the wire and put in the ring.
        pub rx_frames: u64,
        pub rx_bytes: u64,
        /// Frames sent to the wire.
        pub tx_frames: u64,
        pub tx_bytes: u64,
        /// Frames that arrived while the ring was full (or no holder was attached).
        pub rx_dropped: u64,
        /// Tx slots refused (bad length) or lost to a device error.
        pub tx_dropped: u64,
        /// Interrupts taken.
        pub irqs: u64,
        /// `net_kick` calls.
        pub kicks: u64,
    }
    abi_size!(NicInfo, 24 + 8 * 8);

    /// One PCI function as `pci_list` reports it.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct PciDevice {
        pub bus: u8,
        pub dev: u8,
        pub func: u8,
        pub header_type: u8,
        pub vendor: u16,
        pub device: u16,
        pub class: u8,
        pub subclass: u8,
        pub prog_if: u8,
        pub revision: u8,
        /// The interrupt it is routed to, `u32::MAX` for none: once a driver enabled it,
        /// the line it got (x86_64: the IDT vector of its MSI-X message; aarch64: the GIC
        /// INTID of its INTx pin), before that the INTx line the firmware's map gives.
        pub irq: u32,
        /// The bound driver's name, NUL-padded; empty when none.
        pub driver: [u8; 16],
        /// BAR addresses as assigned, CPU physical (0 for unused; a 64-bit BAR fills its
        /// first slot). An I/O-space BAR holds its port number with [`PCI_BAR_IO`] set.
        pub bars: [u64; 6],
    }
    abi_size!(PciDevice, 32 + 48);

    /// Marks an I/O-space BAR in [`PciDevice::bars`] (port numbers are 4-byte aligned, so
    /// bit 0 is free).
    pub const PCI_BAR_IO: u64 = 1;
    /// [`PciDevice::header_type`]: a PCI-to-PCI bridge.
    pub const PCI_HEADER_BRIDGE: u8 = 1;

    /// Most devices `pci_list` reports.
    pub const MAX_PCI_DEVICES: usize = 64;
}

/// QEMU's user network (slirp), every boot's default network: the addresses it hands out
/// and answers on, and the MAC xtask gives the guest's NIC. netd's static fallback, the
/// harness's frames and the tests all use these.
pub mod usernet {
    /// What DHCP gives the guest.
    pub const GUEST: [u8; 4] = [10, 0, 2, 15];
    pub const PREFIX_LEN: u8 = 24;
    /// The gateway, which is also the host's loopback seen from the guest.
    pub const GATEWAY: [u8; 4] = [10, 0, 2, 2];
    /// QEMU's DNS forwarder.
    pub const DNS: [u8; 4] = [10, 0, 2, 3];
    /// The guest NIC's MAC (`-device virtio-net-pci,mac=...`).
    pub const GUEST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
}

/// The network server's protocol (`netd`, `docs/net.md`). Every request is a call; a
/// reply's `label` is 0 or an errno, its payload the record named below, native-endian
/// at `data[0..]`.
///
/// A client calls the server's port ([`NAME`]) with [`SOCKET`] and gets a *socket port*,
/// which it turns into a file descriptor at once (`port_fd`): `read`/`write` on the fd are
/// the [`super::stream`] protocol (TCP bytes; for UDP one datagram per read/write with
/// the connected peer), and the socket's own requests ([`BIND`] ..) go through `fd_call`.
/// The server frees a socket when [`super::stream::CLOSE`] says its last fd closed.
pub mod netd {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// The name netd registers.
    pub const NAME: &str = "netd";

    // Server port requests.
    /// `data` = [`SocketReq`]. Reply: `handles[0]` = a send handle to the socket port.
    pub const SOCKET: u64 = 1;
    /// `data` = a host name, 1..=[`HOST_MAX`] bytes (a dotted quad answers at once).
    /// Reply: [`Resolved`]. `ENOENT` for no such name, `ETIMEDOUT`, `ENETDOWN`.
    pub const RESOLVE: u64 = 2;
    /// `data` = [`Index`]. Reply: [`IfInfo`] (`total` interfaces; an index past the end
    /// gives `total` and a zeroed record).
    pub const IFINFO: u64 = 3;
    /// `data` = [`Index`]. Reply: [`SockInfo`] (same paging as [`IFINFO`]).
    pub const SOCKLIST: u64 = 4;
    /// Reply: [`Stats`].
    pub const STATS: u64 = 5;

    // Socket port requests (`fd_call`; labels at or above `stream::CALL_BASE`).
    /// `data` = [`SockAddr`] (addr 0.0.0.0 = any; port 0 = an ephemeral one).
    /// `EADDRINUSE`, `EADDRNOTAVAIL`, `EINVAL` if already bound.
    pub const BIND: u64 = 0x200;
    /// `data[..4]` = backlog (u32, clamped to 1..=[`MAX_BACKLOG`]). TCP only.
    pub const LISTEN: u64 = 0x201;
    /// `data` = [`SockAddr`]. TCP: waits for the handshake (up to the send timeout;
    /// `EINPROGRESS` when non-blocking; `ECONNREFUSED`, `ETIMEDOUT`, `EHOSTUNREACH`,
    /// `ENETUNREACH`, `EISCONN`). UDP: sets the peer.
    pub const CONNECT: u64 = 0x202;
    /// Reply: `handles[0]` = the new connection's socket port (`fd_call` makes it an fd),
    /// `data` = [`SockAddr`] of the peer. Waits unless non-blocking (`EAGAIN`).
    pub const ACCEPT: u64 = 0x203;
    /// `data` = [`SockAddr`] then the datagram (at most [`DGRAM_INLINE`] bytes). Reply:
    /// `data[..4]` bytes sent (u32). UDP and ICMP (an ICMP payload is a whole ICMP
    /// message; port is ignored).
    pub const SENDTO: u64 = 0x204;
    /// `data[..4]` = most bytes wanted (u32). Reply: [`SockAddr`] of the sender, then the
    /// datagram (truncated to what fits). Waits like a read.
    pub const RECVFROM: u64 = 0x205;
    /// `data[..4]` = [`SHUT_RD`], [`SHUT_WR`] or [`SHUT_RDWR`].
    pub const SHUTDOWN: u64 = 0x206;
    /// `data` = [`SockOpt`].
    pub const SETOPT: u64 = 0x207;
    /// Reply: [`Names`].
    pub const GETNAME: u64 = 0x208;
    /// `data` = [`PollReq`]. Reply: `data[..4]` = the ready events (u32), 0 on timeout.
    pub const POLL: u64 = 0x209;
    /// UDP/ICMP, for datagrams bigger than [`DGRAM_INLINE`]: `data` = the next bytes of a
    /// datagram being built (up to [`DGRAM_MAX`] in all, `EMSGSIZE` beyond); the next
    /// [`SENDTO`] sends them in front of its own payload as one datagram. Reply: empty.
    pub const DGRAM_PART: u64 = 0x20a;
    /// UDP/ICMP: after a [`RECVFROM`] that asked for more than [`DGRAM_INLINE`] bytes and
    /// got a datagram that did not fit, the next at most `data[..4]` (u32) bytes of it.
    /// A reply shorter than asked (possibly empty) ends the datagram; the rest of one
    /// not read before the next `RECVFROM` or read is dropped.
    pub const RECV_MORE: u64 = 0x20b;

    /// [`SocketReq::kind`].
    pub const KIND_TCP: u32 = 1;
    pub const KIND_UDP: u32 = 2;
    /// ICMP echo ("ping socket"): datagrams are whole ICMP messages.
    pub const KIND_ICMP: u32 = 3;

    /// [`SockOpt::opt`]: `value` 1 = non-blocking (`EAGAIN` instead of waiting).
    pub const OPT_NONBLOCK: u32 = 1;
    /// Receive timeout in ns (0 = wait forever); a read past it gets `EAGAIN`.
    pub const OPT_RCVTIMEO: u32 = 2;
    /// Send/connect timeout in ns (0 = the default: connect gives up after
    /// [`CONNECT_TIMEOUT_NS`], sends wait forever).
    pub const OPT_SNDTIMEO: u32 = 3;
    /// `value` 1 = no Nagle delay.
    pub const OPT_NODELAY: u32 = 4;

    pub const SHUT_RD: u32 = 0;
    pub const SHUT_WR: u32 = 1;
    pub const SHUT_RDWR: u32 = 2;

    /// [`PollReq::events`] and the reply (Linux values).
    pub const POLLIN: u32 = 0x1;
    pub const POLLOUT: u32 = 0x4;
    pub const POLLERR: u32 = 0x8;
    pub const POLLHUP: u32 = 0x10;

    /// Limits. Sockets netd holds in all (`ENOBUFS` beyond).
    pub const MAX_SOCKETS: usize = 256;
    /// Sockets one (claimed) pid holds (`EMFILE` beyond).
    pub const MAX_SOCKETS_PER_PID: usize = 64;
    /// Pending connections one listener queues.
    pub const MAX_BACKLOG: u32 = 32;
    /// TCP receive and send buffers, bytes each.
    pub const TCP_BUFFER: usize = 64 << 10;
    /// Datagrams queued per UDP/ICMP socket, each way.
    pub const DGRAM_QUEUE: usize = 32;
    /// Largest datagram a socket takes (`EMSGSIZE` beyond).
    pub const DGRAM_MAX: usize = 1472;
    /// Datagram bytes that fit in a [`SENDTO`] request or [`RECVFROM`] reply.
    pub const DGRAM_INLINE: usize = super::ipc::INLINE_BYTES - core::mem::size_of::<SockAddr>();
    /// Longest host name [`RESOLVE`] takes.
    pub const HOST_MAX: usize = super::ipc::INLINE_BYTES;
    /// Addresses one [`Resolved`] carries.
    pub const RESOLVE_MAX: usize = 8;
    /// How long a blocking connect waits by default.
    pub const CONNECT_TIMEOUT_NS: u64 = 10_000_000_000;

    /// An IPv4 address and port.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct SockAddr {
        pub addr: [u8; 4],
        pub port: u16,
        pub _pad: u16,
    }
    abi_size!(SockAddr, 8);

    /// [`SOCKET`]'s request.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct SocketReq {
        /// [`KIND_TCP`], [`KIND_UDP`] or [`KIND_ICMP`] (`EPROTONOSUPPORT` else).
        pub kind: u32,
        /// The client's pid, as it says (for `netstat` and [`MAX_SOCKETS_PER_PID`]).
        pub pid: u32,
    }
    abi_size!(SocketReq, 8);

    /// [`SETOPT`]'s request.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct SockOpt {
        pub opt: u32,
        pub _pad: u32,
        pub value: u64,
    }
    abi_size!(SockOpt, 16);

    /// [`POLL`]'s request.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct PollReq {
        pub events: u32,
        pub _pad: u32,
        /// 0 = answer at once; `u64::MAX` = wait forever.
        pub timeout_ns: u64,
    }
    abi_size!(PollReq, 16);

    /// [`GETNAME`]'s reply (a zero peer when not connected).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Names {
        pub local: SockAddr,
        pub peer: SockAddr,
    }
    abi_size!(Names, 16);

    /// [`RESOLVE`]'s reply.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Resolved {
        pub count: u32,
        pub addrs: [[u8; 4]; RESOLVE_MAX],
    }
    abi_size!(Resolved, 4 + 4 * RESOLVE_MAX);

    /// A record index for the paged requests.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Index {
        pub index: u32,
    }
    abi_size!(Index, 4);

    /// [`IfInfo::flags`].
    pub const IF_UP: u16 = 1;
    pub const IF_LOOPBACK: u16 = 2;
    /// The address came from DHCP (else static or the fallback).
    pub const IF_DHCP: u16 = 4;
    /// The link is up and the interface has an address.
    pub const IF_RUNNING: u16 = 8;

    /// [`IFINFO`]'s reply.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct IfInfo {
        pub total: u32,
        pub mtu: u32,
        /// `lo`, `eth0`, ... NUL-padded.
        pub name: [u8; 8],
        pub mac: [u8; 6],
        pub flags: u16,
        pub addr: [u8; 4],
        pub prefix_len: u8,
        pub _pad: [u8; 3],
        pub gateway: [u8; 4],
        pub dns: [[u8; 4]; 2],
        pub _pad2: u32,
        pub rx_packets: u64,
        pub rx_bytes: u64,
        pub tx_packets: u64,
        pub tx_bytes: u64,
        /// Frames netd dropped before the stack (malformed; see [`Stats`]).
        pub rx_dropped: u64,
    }
    abi_size!(IfInfo, 48 + 5 * 8);

    /// TCP states ([`SockInfo::state`]), as `netstat` names them ([`STATE_NAMES`]).
    pub const STATE_NAMES: [&str; 11] = [
        "CLOSED",
        "LISTEN",
        "SYN_SENT",
        "SYN_RECV",
        "ESTABLISHED",
        "FIN_WAIT1",
        "FIN_WAIT2",
        "CLOSE_WAIT",
        "CLOSING",
        "LAST_ACK",
        "TIME_WAIT",
    ];

    /// [`SOCKLIST`]'s reply.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct SockInfo {
        pub total: u32,
        /// [`KIND_TCP`], ...
        pub kind: u32,
        /// TCP: an index into [`STATE_NAMES`]; UDP/ICMP: 0 unbound, 1 bound.
        pub state: u32,
        pub pid: u32,
        pub local: SockAddr,
        pub peer: SockAddr,
        /// Bytes (TCP) or datagrams (UDP/ICMP) waiting each way.
        pub rx_queued: u32,
        pub tx_queued: u32,
    }
    abi_size!(SockInfo, 16 + 16 + 8);

    /// [`Stats::counters`] indices and names (`netstat -s`).
    pub const STAT_NAMES: [&str; 16] = [
        "frames_in",
        "frames_out",
        "malformed_dropped",
        "bad_checksum_dropped",
        "fragments_dropped",
        "not_for_us_dropped",
        "arp_in",
        "icmp_echo_in",
        "tcp_segments_in",
        "udp_datagrams_in",
        "syn_dropped",
        "dhcp_leases",
        "dns_queries",
        "sockets_open",
        "sockets_refused",
        "tx_ring_full",
    ];

    /// [`STATS`]'s reply: counters since netd started, indexed as [`STAT_NAMES`].
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Stats {
        pub counters: [u64; 16],
    }
    abi_size!(Stats, 128);
}

/// The AI daemon's protocol (`aid`, `docs/aid.md` byte by byte). Every request is a
/// `port_call`; a reply's `label` is 0 or an errno (read it with
/// [`errno::from_reply_label`](super::errno::from_reply_label)), its payload the record
/// named below. Records are [`Plain`](super::Plain), native-endian, at `data[0..]`.
///
/// A client first calls a *door* ([`NAME`], or a privileged one: [`NAME_ACCEL`],
/// [`NAME_RTPRIO`]) with [`CONNECT`], and gets back a *session* port; every other request
/// goes to its session port. A session is one client: its models, quotas, accounting.
pub mod aid {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// The public door: any process may look it up. Sessions opened here may use
    /// [`super::ai::CLASS_NORMAL`] and [`super::ai::CLASS_BACKGROUND`].
    pub const NAME: &str = "aid";
    /// Privileged doors (system names, registered with `ns_require`): only a process holding
    /// `caps::AI_ACCEL` (resp. `caps::SET_RT_PRIORITY`) can look them up, and a session
    /// opened through one may also use [`super::ai::CLASS_HIGH`] and
    /// [`super::ai::CLASS_RT`] — the rule `infer_submit` applies to the client itself.
    pub const NAME_ACCEL: &str = "sys.aid.accel";
    pub const NAME_RTPRIO: &str = "sys.aid.rtprio";

    /// Door request. `data` = [`Connect`]; `handles[0]` = a send handle (with grant) to a
    /// port the client created and keeps the receive right of (its *liveness port*: aid
    /// ends the session when that port closes, i.e. when the client is gone). Reply:
    /// [`Connected`], `handles[0]` = a send handle to the new session port.
    pub const CONNECT: u64 = 1;
    /// `data` = the path, 1..=128 bytes of UTF-8, no NUL. Reply: [`Loaded`].
    pub const LOAD: u64 = 2;
    /// `data` = [`ModelRef`]. Drops this session's hold; the model goes with its last
    /// holder. Reply: empty.
    pub const UNLOAD: u64 = 3;
    /// `data` = [`Index`]. Reply: [`ListEntry`] (`total` models; `EINVAL`-free: an index
    /// at or past `total` answers with `total` and a zeroed record).
    pub const LIST: u64 = 4;
    /// `data` = [`ModelRef`] (a model this session holds). Reply: [`ModelDesc`].
    pub const INFO: u64 = 5;
    /// `data` = [`InferReq`], then the input inline when there is no memory handle.
    /// `handles[0]`: none, or a memory handle (read and write) holding the input as f32 at
    /// offset 0 and receiving the output as f32 right after it (`n_in * 4`). Reply:
    /// [`Usage`], then the output inline (when no handle was sent).
    pub const INFER: u64 = 6;
    /// `data` = [`Index`]. Reply: [`StatsEntry`] (`total` sessions alive).
    pub const STATS: u64 = 7;
    /// `data` = [`ModelRef`] (a model this session holds). Reply: `handles[0]` = a *share
    /// handle* (a send handle to a port aid made for this grant); whoever presents it with
    /// [`ATTACH`] becomes a holder. Unforgeable: only a process given the handle has it.
    pub const SHARE: u64 = 8;
    /// `handles[0]` = a share handle. Reply: [`Loaded`] (the shared model, now also held
    /// by this session).
    pub const ATTACH: u64 = 9;

    /// Longest path [`LOAD`] takes (the inline payload).
    pub const PATH_MAX: usize = super::ipc::INLINE_BYTES;
    /// Floats of input that travel inline in an [`INFER`] request.
    pub const INLINE_IN: usize = (super::ipc::INLINE_BYTES - core::mem::size_of::<InferReq>()) / 4;
    /// Floats of output that travel inline in an [`INFER`] reply.
    pub const INLINE_OUT: usize = (super::ipc::INLINE_BYTES - core::mem::size_of::<Usage>()) / 4;

    /// Quotas. Sessions alive in aid (`EAGAIN` beyond).
    pub const MAX_SESSIONS: usize = 32;
    /// Sessions per (claimed) pid (`EAGAIN` beyond).
    pub const MAX_SESSIONS_PER_PID: usize = 8;
    /// Models one session holds (`EMFILE` beyond).
    pub const MAX_MODELS_PER_SESSION: usize = 8;
    /// Bytes of model files one session holds (`EDQUOT` beyond). A shared model counts
    /// for every holder.
    pub const MAX_BYTES_PER_SESSION: u64 = 16 << 20;
    /// Distinct models aid holds (`ENOSPC` beyond).
    pub const MAX_MODELS: usize = 32;
    /// Share handles one session has outstanding (`EMFILE` beyond).
    pub const MAX_SHARES_PER_SESSION: usize = 4;
    /// Largest input or output of one request, in floats (`E2BIG` beyond).
    pub const MAX_IO_FLOATS: usize = 1 << 22;
    /// Requests queued on a session port while one is served (a client's further calls
    /// wait for room); a session serves one request at a time.
    pub const SESSION_QUEUE: usize = 4;

    /// [`CONNECT`]'s request: the client's pid, as it says (shown by `ainfo`, used for
    /// [`MAX_SESSIONS_PER_PID`]; never for access decisions).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Connect {
        pub pid: u64,
    }
    abi_size!(Connect, 8);

    /// [`CONNECT`]'s reply.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Connected {
        /// The session's number (as `ainfo` and [`StatsEntry`] show it).
        pub session: u32,
        /// 1 if opened through a privileged door (high and RT classes allowed).
        pub privileged: u32,
    }
    abi_size!(Connected, 8);

    /// A model id (as [`Loaded`] gave it).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct ModelRef {
        pub id: u32,
    }
    abi_size!(ModelRef, 4);

    /// [`LOAD`] / [`ATTACH`] reply.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Loaded {
        pub id: u32,
        /// Sessions holding the model now (more than 1: an identical file was already
        /// loaded, and this load shares it).
        pub holders: u32,
    }
    abi_size!(Loaded, 8);

    /// [`LIST`] / [`STATS`] request: which record.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Index {
        pub index: u32,
    }
    abi_size!(Index, 4);

    /// Sessions [`ListEntry::holder_ids`] names.
    pub const LIST_HOLDERS: usize = 4;

    /// [`LIST`] reply: one model aid holds.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct ListEntry {
        /// Models in all.
        pub total: u32,
        pub id: u32,
        /// NUL-padded model name (cut at 32 bytes).
        pub name: [u8; 32],
        /// File bytes.
        pub bytes: u64,
        /// Sessions holding it, and the first [`LIST_HOLDERS`] of them (0: unused).
        pub holders: u32,
        pub holder_ids: [u32; LIST_HOLDERS],
        /// Requests it served.
        pub runs: u32,
    }
    abi_size!(ListEntry, 72);

    /// A tensor's dtype and shape (`dims[rank..]` are 0).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Shape {
        pub dtype: u32,
        pub rank: u32,
        pub dims: [u32; super::ai::MAX_RANK],
    }
    abi_size!(Shape, 24);

    /// [`INFO`] reply.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct ModelDesc {
        pub name: [u8; 32],
        pub id: u32,
        pub holders: u32,
        pub n_inputs: u32,
        pub n_outputs: u32,
        /// Floats an [`INFER`] takes (every input, in order) and gives back (every output,
        /// in order; i32 and i8 outputs converted to f32 exactly).
        pub in_floats: u32,
        pub out_floats: u32,
        /// The first input and the first output.
        pub input: Shape,
        pub output: Shape,
        pub bytes: u64,
    }
    abi_size!(ModelDesc, 112);

    /// [`INFER`] request header.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct InferReq {
        pub id: u32,
        /// The job class ([`super::ai::CLASS_RT`] .. [`super::ai::CLASS_BACKGROUND`]).
        pub class: u32,
        /// Floats of input and of output ([`ModelDesc::in_floats`], `out_floats`).
        pub n_in: u32,
        pub n_out: u32,
    }
    abi_size!(InferReq, 16);

    /// [`Usage::flags`]: the kernel's [`super::ai::JobStats`] fields are filled in
    /// (`infer_stats` answered); without it only aid's own times are.
    pub const USAGE_KERNEL: u32 = 1;

    /// What one [`INFER`] used (its reply's first bytes).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Usage {
        /// The kernel job's `JobStats`: queued, running, nodes, preemptions.
        pub queued_ns: u64,
        pub run_ns: u64,
        pub nodes_run: u32,
        pub preemptions: u32,
        /// aid's wait from submit to the job's end (measured by aid).
        pub wait_ns: u64,
        /// aid's own time on the request, wait excluded (copies, submit, reply).
        pub aid_ns: u64,
        pub flags: u32,
        pub _pad: u32,
    }
    abi_size!(Usage, 48);

    /// [`STATS`] reply: one session.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct StatsEntry {
        /// Sessions in all.
        pub total: u32,
        pub session: u32,
        /// The pid the client gave at [`CONNECT`].
        pub pid: u32,
        pub privileged: u32,
        /// Models it holds, requests being served (0 or 1), requests answered.
        pub models: u32,
        pub in_flight: u32,
        pub requests: u64,
        /// Sums over its [`INFER`]s of [`Usage`]'s fields.
        pub queued_ns: u64,
        pub run_ns: u64,
        pub wait_ns: u64,
        pub aid_ns: u64,
        pub infers: u64,
    }
    abi_size!(StatsEntry, 72);

    const _: () = assert!(core::mem::size_of::<ModelDesc>() <= super::ipc::INLINE_BYTES);
    const _: () = assert!(core::mem::size_of::<StatsEntry>() <= super::ipc::INLINE_BYTES);
    const _: () = assert!(core::mem::size_of::<ListEntry>() <= super::ipc::INLINE_BYTES);

    #[cfg(test)]
    mod tests {
        use super::*;
        use core::mem::offset_of;

        /// The offsets `docs/aid.md` gives, byte by byte.
        #[test]
        fn records_are_laid_out_as_documented() {
            assert_eq!(
                [
                    offset_of!(ListEntry, id),
                    offset_of!(ListEntry, name),
                    offset_of!(ListEntry, bytes),
                    offset_of!(ListEntry, holders),
                    offset_of!(ListEntry, holder_ids),
                    offset_of!(ListEntry, runs),
                ],
                [4, 8, 40, 48, 52, 68]
            );
            assert_eq!(
                [
                    offset_of!(ModelDesc, id),
                    offset_of!(ModelDesc, holders),
                    offset_of!(ModelDesc, n_inputs),
                    offset_of!(ModelDesc, n_outputs),
                    offset_of!(ModelDesc, in_floats),
                    offset_of!(ModelDesc, out_floats),
                    offset_of!(ModelDesc, input),
                    offset_of!(ModelDesc, output),
                    offset_of!(ModelDesc, bytes),
                ],
                [32, 36, 40, 44, 48, 52, 56, 80, 104]
            );
            assert_eq!(
                [
                    offset_of!(Usage, run_ns),
                    offset_of!(Usage, nodes_run),
                    offset_of!(Usage, preemptions),
                    offset_of!(Usage, wait_ns),
                    offset_of!(Usage, aid_ns),
                    offset_of!(Usage, flags),
                ],
                [8, 16, 20, 24, 32, 40]
            );
            assert_eq!(
                [
                    offset_of!(StatsEntry, requests),
                    offset_of!(StatsEntry, queued_ns),
                    offset_of!(StatsEntry, run_ns),
                    offset_of!(StatsEntry, wait_ns),
                    offset_of!(StatsEntry, aid_ns),
                    offset_of!(StatsEntry, infers),
                ],
                [24, 32, 40, 48, 56, 64]
            );
            assert_eq!((INLINE_IN, INLINE_OUT), (28, 20));
        }

        #[test]
        fn labels_are_distinct_and_names_are_system_names() {
            let labels = [
                CONNECT, LOAD, UNLOAD, LIST, INFO, INFER, STATS, SHARE, ATTACH,
            ];
            for (i, l) in labels.iter().enumerate() {
                assert!(!labels[..i].contains(l));
            }
            for n in [NAME, NAME_ACCEL, NAME_RTPRIO] {
                assert!(super::super::caps::is_system_name(n.as_bytes()), "{n}");
            }
        }

        /// aid's own ports (doors, one per session, one per share handle) fit the
        /// kernel's per-process port bound with room to spare.
        #[test]
        fn quotas_fit_the_kernel_bounds() {
            const {
                let ports = 3 + MAX_SESSIONS * (1 + MAX_SHARES_PER_SESSION);
                assert!(ports * 3 / 2 <= super::super::limits::MAX_PORTS);
                assert!(MAX_SESSIONS_PER_PID <= MAX_SESSIONS);
                assert!(MAX_BYTES_PER_SESSION <= super::super::waymodel::MAX_FILE_BYTES);
            }
        }
    }
}

/// `fcntl` commands and descriptor flags (Linux values).
pub mod fcntl {
    /// Close the descriptor in `execve` (and do not pass it to `spawn`ed programs).
    pub const O_CLOEXEC: usize = 0o2_000_000;
    /// `open` access modes (the low two bits of the flags).
    pub const O_RDONLY: usize = 0;
    pub const O_WRONLY: usize = 1;
    pub const O_RDWR: usize = 2;
    pub const O_ACCMODE: usize = 3;
    /// Create the file if it does not exist (with the `mode` argument's permissions).
    pub const O_CREAT: usize = 0o100;
    /// With `O_CREAT`: fail with `EEXIST` if the file exists.
    pub const O_EXCL: usize = 0o200;
    /// Accepted and ignored (there are no controlling terminals to acquire).
    pub const O_NOCTTY: usize = 0o400;
    /// Truncate a regular file to length 0.
    pub const O_TRUNC: usize = 0o1000;
    /// Every write goes to the end of the file.
    pub const O_APPEND: usize = 0o2000;
    /// Accepted; files and devices here never block on open.
    pub const O_NONBLOCK: usize = 0o4000;
    /// Fail with `ENOTDIR` unless the path names a directory. (The asm-generic value,
    /// used on both architectures.)
    pub const O_DIRECTORY: usize = 0o200_000;
    /// Accepted and ignored (there are no symbolic links).
    pub const O_NOFOLLOW: usize = 0o400_000;
    /// Every flag `open` knows; others are `EINVAL`.
    pub const O_VALID: usize = O_ACCMODE
        | O_CREAT
        | O_EXCL
        | O_NOCTTY
        | O_TRUNC
        | O_APPEND
        | O_NONBLOCK
        | O_DIRECTORY
        | O_NOFOLLOW
        | O_CLOEXEC;
    /// `lseek` whence.
    pub const SEEK_SET: usize = 0;
    pub const SEEK_CUR: usize = 1;
    pub const SEEK_END: usize = 2;
    pub const F_DUPFD: usize = 0;
    pub const F_GETFD: usize = 1;
    pub const F_SETFD: usize = 2;
    pub const F_DUPFD_CLOEXEC: usize = 1030;
    /// The descriptor flag `F_GETFD`/`F_SETFD` read and write.
    pub const FD_CLOEXEC: usize = 1;
}

/// File types, status and directory records: what `stat`, `fstat`, `getdents` and
/// `statfs` return. Linux values and layouts; see `docs/fs.md`.
pub mod fs {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    use super::Timespec;

    /// File type bits of [`Stat::mode`].
    pub const S_IFMT: u32 = 0o170_000;
    pub const S_IFREG: u32 = 0o100_000;
    pub const S_IFDIR: u32 = 0o040_000;
    pub const S_IFCHR: u32 = 0o020_000;
    pub const S_IFIFO: u32 = 0o010_000;
    /// Types WayOS does not create yet, named so tools decode every `S_IFMT` value.
    pub const S_IFBLK: u32 = 0o060_000;
    pub const S_IFLNK: u32 = 0o120_000;
    pub const S_IFSOCK: u32 = 0o140_000;
    /// Permission bits: read, write, execute for owner, group and others, plus the
    /// set-user-id, set-group-id and sticky bits. Recorded and reported; with a single
    /// user they are not enforced.
    pub const S_IPERM: u32 = 0o7777;

    /// `struct stat` as `stat` and `fstat` fill it (112 bytes, no padding). Times are
    /// real time (`realtime_ns`: time since boot until a clock is read).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Stat {
        /// Which mounted file system (its mount number).
        pub dev: u64,
        /// Inode number, unique within `dev` and never reused while the system runs.
        pub ino: u64,
        /// `S_IF*` type bits and permission bits.
        pub mode: u32,
        /// Names (hard links) of the file; a directory counts `.` and its subdirectories'
        /// `..` too.
        pub nlink: u32,
        pub uid: u32,
        pub gid: u32,
        /// The device a character device node stands for ([`makedev`]).
        pub rdev: u64,
        /// Bytes (regular files) or entries (directories).
        pub size: u64,
        /// Preferred I/O size.
        pub blksize: u64,
        /// 512-byte units of memory the data occupies (holes take none).
        pub blocks: u64,
        pub atime: Timespec,
        pub mtime: Timespec,
        pub ctime: Timespec,
    }

    /// The fixed start of a `getdents` record (Linux `struct linux_dirent64`): the name
    /// and a NUL follow from [`DIRENT_NAME`], and the record is padded to a multiple of 8
    /// bytes ([`dirent_reclen`]). Packed, because the name starts at byte 19; records are
    /// read from and written into byte buffers with `read_from_prefix` and `as_bytes`.
    #[repr(C, packed)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct DirentHeader {
        pub ino: u64,
        /// The directory offset that resumes after this entry.
        pub off: u64,
        /// Bytes of the whole record, name and padding included.
        pub reclen: u16,
        /// [`DT_REG`], [`DT_DIR`], ...
        pub kind: u8,
    }

    /// Offsets of the [`DirentHeader`] fields in a record, and of the name.
    pub const DIRENT_INO: usize = core::mem::offset_of!(DirentHeader, ino);
    pub const DIRENT_OFF: usize = core::mem::offset_of!(DirentHeader, off);
    pub const DIRENT_RECLEN: usize = core::mem::offset_of!(DirentHeader, reclen);
    pub const DIRENT_TYPE: usize = core::mem::offset_of!(DirentHeader, kind);
    pub const DIRENT_NAME: usize = core::mem::size_of::<DirentHeader>();

    abi_size!(Stat, 112);
    abi_size!(StatFs, 56);
    abi_size!(DirentHeader, 19);

    /// Length of the record for a name of `name_len` bytes.
    pub const fn dirent_reclen(name_len: usize) -> usize {
        (DIRENT_NAME + name_len + 1 + 7) & !7
    }

    /// `d_type` values.
    pub const DT_UNKNOWN: u8 = 0;
    pub const DT_FIFO: u8 = 1;
    pub const DT_CHR: u8 = 2;
    pub const DT_DIR: u8 = 4;
    pub const DT_REG: u8 = 8;

    /// In a `utimens` timestamp's `nsec`: use the current time / leave this time alone.
    pub const UTIME_NOW: i64 = (1 << 30) - 1;
    pub const UTIME_OMIT: i64 = (1 << 30) - 2;

    /// What `statfs` fills: sizes in `bsize` blocks, inode counts, limits.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct StatFs {
        /// Block size (a page).
        pub bsize: u64,
        /// Blocks the file system may use in all.
        pub blocks: u64,
        /// Blocks still free.
        pub bfree: u64,
        /// Inodes the file system may have.
        pub files: u64,
        /// Inodes still free.
        pub ffree: u64,
        /// Longest file name.
        pub namelen: u64,
        /// Largest size of one file, in bytes.
        pub max_file_size: u64,
    }

    /// `mount` flag: mount read-only (writes are `EROFS`).
    pub const MS_RDONLY: u32 = 1;

    /// A device number (Linux encoding).
    pub const fn makedev(major: u32, minor: u32) -> u64 {
        let (ma, mi) = (major as u64, minor as u64);
        (mi & 0xff) | ((ma & 0xfff) << 8) | ((mi & !0xff) << 12) | ((ma & !0xfff) << 32)
    }
    pub const fn major(dev: u64) -> u32 {
        (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)) as u32
    }
    pub const fn minor(dev: u64) -> u32 {
        ((dev & 0xff) | ((dev >> 12) & !0xff)) as u32
    }

    /// The devices `/dev` holds (Linux numbers).
    pub const DEV_NULL: u64 = makedev(1, 3);
    pub const DEV_ZERO: u64 = makedev(1, 5);
    pub const DEV_CONSOLE: u64 = makedev(5, 1);

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn stat_has_no_padding() {
            assert_eq!(core::mem::size_of::<Stat>(), 112);
            assert_eq!(core::mem::offset_of!(Stat, rdev), 32);
            assert_eq!(core::mem::offset_of!(Stat, atime), 64);
            assert_eq!(core::mem::size_of::<StatFs>(), 56);
        }

        #[test]
        fn device_numbers_match_linux() {
            // Linux: /dev/null is 0x103, /dev/console 0x501 (major << 8 | minor here).
            assert_eq!(DEV_NULL, 0x103);
            assert_eq!(DEV_CONSOLE, 0x501);
            let big = makedev(0x1234, 0x56789);
            assert_eq!((major(big), minor(big)), (0x1234, 0x56789));
        }

        #[test]
        fn stat_bytes_follow_the_struct_layout() {
            use zerocopy::IntoBytes;
            let s = Stat {
                dev: 1,
                ino: 2,
                mode: 3,
                nlink: 4,
                uid: 5,
                gid: 6,
                rdev: 7,
                size: 8,
                blksize: 9,
                blocks: 10,
                atime: Timespec { sec: 11, nsec: 12 },
                mtime: Timespec { sec: 13, nsec: 14 },
                ctime: Timespec { sec: 15, nsec: 16 },
            };
            let b = s.as_bytes();
            let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
            let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
            assert_eq!(u64_at(core::mem::offset_of!(Stat, ino)), 2);
            assert_eq!(u32_at(core::mem::offset_of!(Stat, mode)), 3);
            assert_eq!(u32_at(core::mem::offset_of!(Stat, gid)), 6);
            assert_eq!(u64_at(core::mem::offset_of!(Stat, rdev)), 7);
            assert_eq!(u64_at(core::mem::offset_of!(Stat, blocks)), 10);
            assert_eq!(u64_at(core::mem::offset_of!(Stat, mtime)), 13);
            assert_eq!(u64_at(core::mem::offset_of!(Stat, ctime) + 8), 16);
        }

        #[test]
        fn statfs_bytes_follow_the_struct_layout() {
            use zerocopy::IntoBytes;
            let s = StatFs {
                bsize: 4096,
                blocks: 2,
                bfree: 3,
                files: 4,
                ffree: 5,
                namelen: 255,
                max_file_size: 7,
            };
            let b = s.as_bytes();
            let at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
            assert_eq!(at(core::mem::offset_of!(StatFs, ffree)), 5);
            assert_eq!(at(core::mem::offset_of!(StatFs, max_file_size)), 7);
        }

        #[test]
        fn dirent_header_matches_linux_dirent64() {
            assert_eq!(
                (
                    DIRENT_INO,
                    DIRENT_OFF,
                    DIRENT_RECLEN,
                    DIRENT_TYPE,
                    DIRENT_NAME
                ),
                (0, 8, 16, 18, 19)
            );
        }

        #[test]
        fn dirent_records_are_8_aligned_with_a_nul() {
            assert_eq!(dirent_reclen(1), 24);
            assert_eq!(dirent_reclen(4), 24);
            assert_eq!(dirent_reclen(5), 32);
            assert_eq!(dirent_reclen(255), 280);
        }
    }
}

/// Error numbers, the Linux/POSIX values so tools and tests read naturally.
pub mod errno {
    pub const EPERM: isize = 1;
    pub const ENOENT: isize = 2;
    pub const ESRCH: isize = 3;
    pub const EINTR: isize = 4;
    pub const EIO: isize = 5;
    /// A device node whose device does not exist.
    pub const ENXIO: isize = 6;
    pub const E2BIG: isize = 7;
    pub const ENOEXEC: isize = 8;
    pub const EBADF: isize = 9;
    pub const ECHILD: isize = 10;
    pub const EAGAIN: isize = 11;
    pub const ENOMEM: isize = 12;
    pub const EACCES: isize = 13;
    pub const EFAULT: isize = 14;
    /// The resource is held by someone else.
    pub const EBUSY: isize = 16;
    pub const EEXIST: isize = 17;
    /// The operation would move a file between mounted file systems.
    pub const EXDEV: isize = 18;
    pub const ENOTDIR: isize = 20;
    pub const EISDIR: isize = 21;
    /// The file would grow past the largest size the file system allows.
    pub const EFBIG: isize = 27;
    /// The descriptor is a stream or device: it has no position to seek.
    pub const ESPIPE: isize = 29;
    /// A read-only file system (the fixed names of `/dev`).
    pub const EROFS: isize = 30;
    /// The result does not fit the buffer given (`getcwd`).
    pub const ERANGE: isize = 34;
    pub const ENOTEMPTY: isize = 39;
    /// The fd is not the device the call needs.
    pub const ENOTTY: isize = 25;
    /// Every file-descriptor number is taken.
    pub const EMFILE: isize = 24;
    pub const EINVAL: isize = 22;
    pub const ENAMETOOLONG: isize = 36;
    pub const ENOSYS: isize = 38;
    /// A port's other side is gone (all receivers closed, or the server died).
    pub const EPIPE: isize = 32;
    /// The port queue is full (non-blocking send).
    pub const ENOSPC: isize = 28;
    /// Data failed its integrity check (a `.waymodel` whose SHA-256 does not match).
    pub const EBADMSG: isize = 74;
    /// The wait timed out.
    pub const ETIMEDOUT: isize = 110;
    /// Over a per-process byte quota (tensor memory).
    pub const EDQUOT: isize = 122;
    /// The operation was cancelled (an inference job).
    pub const ECANCELED: isize = 125;
    /// No such device (a NIC number past the last).
    pub const ENODEV: isize = 19;
    /// The fd is not a socket (not a stream fd, for `fd_call`).
    pub const ENOTSOCK: isize = 88;
    /// A datagram socket with no peer was written to.
    pub const EDESTADDRREQ: isize = 89;
    /// A datagram is larger than the socket takes.
    pub const EMSGSIZE: isize = 90;
    /// No such socket kind.
    pub const EPROTONOSUPPORT: isize = 93;
    /// The socket kind does not do that (e.g. `listen` on UDP).
    pub const EOPNOTSUPP: isize = 95;
    /// The local address and port are taken.
    pub const EADDRINUSE: isize = 98;
    /// No interface has that local address.
    pub const EADDRNOTAVAIL: isize = 99;
    /// The interface is down (no NIC, or no address yet).
    pub const ENETDOWN: isize = 100;
    /// No route to that network.
    pub const ENETUNREACH: isize = 101;
    /// The connection was aborted before `accept` took it.
    pub const ECONNABORTED: isize = 103;
    /// The peer reset the connection.
    pub const ECONNRESET: isize = 104;
    /// The network server's buffers or socket quota are exhausted.
    pub const ENOBUFS: isize = 105;
    /// The socket is already connected.
    pub const EISCONN: isize = 106;
    /// The socket is not connected.
    pub const ENOTCONN: isize = 107;
    /// The peer refused the connection (RST to SYN, or ICMP port unreachable).
    pub const ECONNREFUSED: isize = 111;
    /// The host did not answer ARP, or is unreachable.
    pub const EHOSTUNREACH: isize = 113;
    /// A connect is already in progress.
    pub const EALREADY: isize = 114;
    /// A non-blocking connect has started.
    pub const EINPROGRESS: isize = 115;

    /// Largest errno value; results in `-MAX_ERRNO..=-1` are errors.
    pub const MAX_ERRNO: isize = 4095;

    /// The errno a server's non-zero reply label stands for: the label itself when it is
    /// one (`1..=MAX_ERRNO`), else `EIO`. A client never trusts a server to keep its
    /// labels in the error range: a bogus label passed on as an "errno" would become a
    /// syscall result outside it, which user code would read as a success.
    pub const fn from_reply_label(label: u64) -> isize {
        if label >= 1 && label <= MAX_ERRNO as u64 {
            label as isize
        } else {
            EIO
        }
    }

    /// A short name for messages.
    pub const fn name(e: isize) -> &'static str {
        match e {
            EPERM => "EPERM",
            ENOENT => "ENOENT",
            ESRCH => "ESRCH",
            EINTR => "EINTR",
            EIO => "EIO",
            ENXIO => "ENXIO",
            E2BIG => "E2BIG",
            ENOEXEC => "ENOEXEC",
            EBADF => "EBADF",
            ECHILD => "ECHILD",
            EAGAIN => "EAGAIN",
            ENOMEM => "ENOMEM",
            EACCES => "EACCES",
            EFAULT => "EFAULT",
            EBUSY => "EBUSY",
            EEXIST => "EEXIST",
            EXDEV => "EXDEV",
            ENOTDIR => "ENOTDIR",
            EISDIR => "EISDIR",
            EFBIG => "EFBIG",
            ESPIPE => "ESPIPE",
            EROFS => "EROFS",
            ERANGE => "ERANGE",
            ENOTEMPTY => "ENOTEMPTY",
            ENOTTY => "ENOTTY",
            EMFILE => "EMFILE",
            EINVAL => "EINVAL",
            ENAMETOOLONG => "ENAMETOOLONG",
            ENOSYS => "ENOSYS",
            EPIPE => "EPIPE",
            ENOSPC => "ENOSPC",
            EBADMSG => "EBADMSG",
            ETIMEDOUT => "ETIMEDOUT",
            EDQUOT => "EDQUOT",
            ECANCELED => "ECANCELED",
            ENODEV => "ENODEV",
            ENOTSOCK => "ENOTSOCK",
            EDESTADDRREQ => "EDESTADDRREQ",
            EMSGSIZE => "EMSGSIZE",
            EPROTONOSUPPORT => "EPROTONOSUPPORT",
            EOPNOTSUPP => "EOPNOTSUPP",
            EADDRINUSE => "EADDRINUSE",
            EADDRNOTAVAIL => "EADDRNOTAVAIL",
            ENETDOWN => "ENETDOWN",
            ENETUNREACH => "ENETUNREACH",
            ECONNABORTED => "ECONNABORTED",
            ECONNRESET => "ECONNRESET",
            ENOBUFS => "ENOBUFS",
            EISCONN => "EISCONN",
            ENOTCONN => "ENOTCONN",
            ECONNREFUSED => "ECONNREFUSED",
            EHOSTUNREACH => "EHOSTUNREACH",
            EALREADY => "EALREADY",
            EINPROGRESS => "EINPROGRESS",
            _ => "E?",
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reply_labels_outside_the_error_range_are_eio() {
            assert_eq!(from_reply_label(ENOSPC as u64), ENOSPC);
            assert_eq!(from_reply_label(MAX_ERRNO as u64), MAX_ERRNO);
            for bogus in [0, MAX_ERRNO as u64 + 1, 1 << 40, u64::MAX] {
                assert_eq!(from_reply_label(bogus), EIO, "label {bogus:#x}");
            }
        }
    }
}

/// `mmap`/`mprotect` protection bits and `mmap` flags (Linux values).
pub mod mman {
    pub const PROT_NONE: usize = 0;
    pub const PROT_READ: usize = 1;
    pub const PROT_WRITE: usize = 2;
    pub const PROT_EXEC: usize = 4;

    pub const MAP_SHARED: usize = 0x01;
    pub const MAP_PRIVATE: usize = 0x02;
    pub const MAP_FIXED: usize = 0x10;
    pub const MAP_ANONYMOUS: usize = 0x20;
    pub const MAP_FIXED_NOREPLACE: usize = 0x10_0000;
    /// Bits 32..36 of `mmap`'s flags: the mapping's tier policy (`memtier::POLICY_*`,
    /// 0 = the process default), WayOS's own, above every Linux flag. Build them with
    /// [`map_policy`].
    pub const MAP_POLICY_SHIFT: u32 = 32;
    pub const MAP_POLICY_MASK: usize = 0xF << MAP_POLICY_SHIFT;
    /// The `mmap` flag bits that select tier policy `policy`.
    pub const fn map_policy(policy: u32) -> usize {
        ((policy as usize) << MAP_POLICY_SHIFT) & MAP_POLICY_MASK
    }

    pub const PAGE_SIZE: usize = 4096;
}

/// Memory tiers (`docs/memory.md`): tier policies, the records `memtier_info` returns and
/// the settings `memtier_set` changes.
pub mod memtier {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// Tier 0: near memory (DDR). Tier 1: far memory (the seed's "VRAM-sim").
    pub const TIER_NEAR: u32 = 0;
    pub const TIER_FAR: u32 = 1;
    /// Most tiers the kernel manages.
    pub const MAX_TIERS: usize = 2;

    /// Tier policies (`mmap` flag bits via `mman::map_policy`, `mem_advise`,
    /// `mem_policy`). Default: the process's default policy (for a process default:
    /// the system default, itself near-first unless `memtier set` changed it).
    pub const POLICY_DEFAULT: u32 = 0;
    /// Near tier; the far tier when near is full (counted as a fallback).
    pub const POLICY_NEAR: u32 = 1;
    /// Far tier; the near tier when far is full (counted as a fallback).
    pub const POLICY_FAR: u32 = 2;
    /// Alternate tiers page by page (by page index within the mapping).
    pub const POLICY_INTERLEAVE: u32 = 3;
    /// Near while near has room, then far; the migration daemon moves pages by hotness.
    pub const POLICY_AUTO: u32 = 4;
    /// One past the highest policy.
    pub const POLICY_COUNT: u32 = 5;
    /// `mem_policy` argument that only reads the current default.
    pub const POLICY_QUERY: u32 = u32::MAX;

    /// A policy's name, as the `memtier` command and logs spell it (`?` for no policy).
    pub const fn policy_name(policy: u32) -> &'static str {
        match policy {
            POLICY_DEFAULT => "default",
            POLICY_NEAR => "near",
            POLICY_FAR => "far",
            POLICY_INTERLEAVE => "interleave",
            POLICY_AUTO => "auto",
            _ => "?",
        }
    }

    /// The policy [`policy_name`] calls `name`.
    pub fn policy_by_name(name: &str) -> Option<u32> {
        (0..POLICY_COUNT).find(|&p| policy_name(p).as_bytes() == name.as_bytes())
    }

    /// `memtier_info` selectors. One [`TierInfo`] per tier.
    pub const INFO_TIERS: u32 = 0;
    /// One [`ProcPlacement`] per process with any resident user page, lowest pid first.
    pub const INFO_PROCS: u32 = 1;
    /// One [`DaemonInfo`].
    pub const INFO_DAEMON: u32 = 2;

    /// A device-tree distance has no unit (10 = local): a tier's nominal read latency
    /// from `distance-map` is the distance times this (10 -> 100 ns).
    pub const NS_PER_DISTANCE: u32 = 10;

    /// Where a tier's description came from ([`TierInfo::source`]).
    pub const SOURCE_NONE: u32 = 0;
    pub const SOURCE_ACPI: u32 = 1;
    pub const SOURCE_DEVICE_TREE: u32 = 2;

    /// One tier (`memtier_info(INFO_TIERS)`).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct TierInfo {
        /// [`TIER_NEAR`] or [`TIER_FAR`].
        pub tier: u32,
        /// The firmware's node (ACPI proximity domain, device-tree `numa-node-id`).
        pub node: u32,
        pub total_pages: u64,
        pub free_pages: u64,
        /// From ACPI HMAT or the device-tree distance map (0: not given).
        pub read_latency_ns: u32,
        pub bandwidth_mbps: u32,
        /// Allocations that wanted this tier and got the other one because this was full.
        pub fallbacks: u64,
        /// [`SOURCE_NONE`], [`SOURCE_ACPI`] or [`SOURCE_DEVICE_TREE`].
        pub source: u32,
        /// Simulated cost of one access to a page of this tier, in nanoseconds (0 near).
        pub access_cost_ns: u32,
    }
    abi_size!(TierInfo, 48);

    /// One process's placement (`memtier_info(INFO_PROCS)`).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct ProcPlacement {
        pub pid: u64,
        pub near_pages: u64,
        pub far_pages: u64,
        /// Its default policy.
        pub policy: u32,
        pub _pad: u32,
    }
    abi_size!(ProcPlacement, 32);

    /// The migration daemon (`memtier_info(INFO_DAEMON)`).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct DaemonInfo {
        /// 1 when it runs.
        pub enabled: u32,
        /// Time between scans.
        pub period_ms: u32,
        /// Most pages it moves per scan.
        pub budget_pages: u32,
        /// The system default policy.
        pub default_policy: u32,
        pub scans: u64,
        /// Pages moved far -> near and near -> far.
        pub promoted: u64,
        pub demoted: u64,
        /// Pages it left where they were because they were pinned (a grant, a DMA or
        /// tensor mapping, an in-progress user copy).
        pub skipped_pinned: u64,
        /// Simulated far accesses charged so far (the cost model's events).
        pub far_accesses: u64,
        /// Guest time the daemon itself has spent, in nanoseconds.
        pub busy_ns: u64,
    }
    abi_size!(DaemonInfo, 64);

    /// `memtier_set` parameters. 0 stops the daemon, 1 starts it.
    pub const SET_ENABLED: u32 = 0;
    /// Milliseconds between scans (10..=60000).
    pub const SET_PERIOD_MS: u32 = 1;
    /// Pages moved per scan at most (1..=65536).
    pub const SET_BUDGET_PAGES: u32 = 2;
    /// The system default policy (`POLICY_NEAR`..`POLICY_AUTO`).
    pub const SET_DEFAULT_POLICY: u32 = 3;
}

/// `wait` options and status encoding (POSIX layout: `exit code << 8`, or the signal).
pub mod wait {
    /// Return 0 at once instead of blocking when no child has exited.
    pub const WNOHANG: usize = 1;

    /// Status of a process that called `exit(code)`.
    pub const fn exited(code: i32) -> i32 {
        (code & 0xff) << 8
    }
    /// Status of a process the kernel killed with `signal`.
    pub const fn killed(signal: i32) -> i32 {
        signal & 0x7f
    }
    pub const fn if_exited(status: i32) -> bool {
        status & 0x7f == 0
    }
    pub const fn exit_status(status: i32) -> i32 {
        (status >> 8) & 0xff
    }
    pub const fn term_signal(status: i32) -> i32 {
        status & 0x7f
    }
}

/// Signal numbers (Linux values) used in wait statuses.
pub mod signal {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// Interrupt from the keyboard (Ctrl-C on the console).
    pub const SIGINT: i32 = 2;
    pub const SIGQUIT: i32 = 3;
    pub const SIGILL: i32 = 4;
    pub const SIGTRAP: i32 = 5;
    pub const SIGBUS: i32 = 7;
    pub const SIGFPE: i32 = 8;
    pub const SIGKILL: i32 = 9;
    pub const SIGSEGV: i32 = 11;
    pub const SIGPIPE: i32 = 13;
    pub const SIGTERM: i32 = 15;
    pub const SIGCHLD: i32 = 17;
    /// Highest signal number `kill` accepts.
    pub const MAX: i32 = 64;
    pub const SIGHUP: i32 = 1;
    pub const SIGABRT: i32 = 6;
    pub const SIGUSR1: i32 = 10;
    pub const SIGUSR2: i32 = 12;
    pub const SIGALRM: i32 = 14;
    pub const SIGCONT: i32 = 18;
    pub const SIGSTOP: i32 = 19;
    pub const SIGTSTP: i32 = 20;
    pub const SIGTTIN: i32 = 21;
    pub const SIGTTOU: i32 = 22;
    pub const SIGURG: i32 = 23;
    pub const SIGWINCH: i32 = 28;
    /// Bad system call: what a syscall filter in [`super::filter::MODE_KILL`] kills with.
    pub const SIGSYS: i32 = 31;

    /// `SigAction::handler` values besides a function address.
    pub const SIG_DFL: usize = 0;
    pub const SIG_IGN: usize = 1;
    /// `SigAction::flags`: do not block the signal while its handler runs.
    pub const SA_NODEFER: u64 = 0x4000_0000;
    /// `SigAction::flags`: reset to `SIG_DFL` once delivered.
    pub const SA_RESETHAND: u64 = 0x8000_0000;

    /// `sigprocmask` `how`.
    pub const SIG_BLOCK: usize = 0;
    pub const SIG_UNBLOCK: usize = 1;
    pub const SIG_SETMASK: usize = 2;

    /// A signal's bit in a mask (`sig` in `1..=MAX`).
    pub const fn bit(sig: i32) -> u64 {
        1 << (sig - 1)
    }

    /// What a signal does when it arrives. A handler is called as `handler(sig)` and
    /// returns to `restorer`, which must call `sigreturn` (libway provides one).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct SigAction {
        pub handler: usize,
        pub flags: u64,
        pub restorer: usize,
        /// Signals blocked while the handler runs (besides the signal itself).
        pub mask: u64,
    }

    abi_size!(SigAction, 32);
}

/// What `uname` reports; each field a NUL-padded string.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Utsname {
    pub sysname: [u8; 65],
    pub nodename: [u8; 65],
    pub release: [u8; 65],
    pub version: [u8; 65],
    pub machine: [u8; 65],
}

abi_size!(Utsname, 5 * 65);

/// One process as `proc_list` reports it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct ProcInfo {
    pub pid: u64,
    pub ppid: u64,
    pub pgid: u64,
    /// `b'R'` running or ready, `b'S'` sleeping or blocked, `b'Z'` zombie.
    pub state: u8,
    /// Scheduler class (see [`sched`]).
    pub class: u8,
    _pad: [u8; 2],
    /// The process's capability set ([`caps`] bits). It took 4 of the 6 padding bytes
    /// that followed `class`, so no other field moved and the size is unchanged.
    pub caps: u32,
    /// Timer ticks the process has run.
    pub ticks: u64,
    /// The program path, NUL-padded.
    pub name: [u8; 64],
}

abi_size!(ProcInfo, 8 * 4 + 8 + 64);

impl ProcInfo {
    pub const fn zeroed() -> Self {
        Self {
            pid: 0,
            ppid: 0,
            pgid: 0,
            state: 0,
            class: 0,
            _pad: [0; 2],
            caps: 0,
            ticks: 0,
            name: [0; 64],
        }
    }
}

/// Capabilities: what a process may do beyond the ordinary. See `docs/security.md`.
///
/// A process's set is a `u32` of these bits. init starts with [`ALL`]; every other
/// process gets its parent's set at `fork`/`spawn` (or a subset, with `spawn_caps`), and
/// a process can only ever narrow its own (`cap_drop`). Nothing widens a set.
pub mod caps {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// Create processes: `fork`, `spawn`, `spawn_caps`. (Threads need nothing.)
    pub const SPAWN: u32 = 1 << 0;
    /// Signal a process holding a capability the caller lacks. Without it, `kill` reaches
    /// only processes whose set is a subset of the caller's (never init).
    pub const KILL: u32 = 1 << 1;
    /// Take a scheduling class above normal (`sched::HIGH`, `sched::RT_INFERENCE`).
    pub const SET_RT_PRIORITY: u32 = 1 << 2;
    /// Power the machine off (`shutdown`).
    pub const SHUTDOWN: u32 = 1 << 3;
    /// Take the console device's input (`console_bind`).
    pub const CONSOLE_BIND: u32 = 1 << 4;
    /// Register a system service name ([`is_system_name`]) with `ns_register`.
    pub const NS_SYSTEM: u32 = 1 << 5;
    /// Read the kernel log (`klog_read`).
    pub const KLOG_READ: u32 = 1 << 6;
    /// Raw network frames: `net_attach` (held by `netd`).
    pub const NET_RAW: u32 = 1 << 7;
    /// The inference accelerators (reserved for `aid`; no call checks it yet).
    pub const AI_ACCEL: u32 = 1 << 8;
    /// Place memory in a chosen tier (reserved; no call checks it yet).
    pub const MEMTIER: u32 = 1 << 9;
    /// Mount and unmount file systems (`mount`, `umount`). In the user set: with one user
    /// and no file owners, mounting a disk gives nothing its files do not (like a desktop
    /// mounting removable media); servers drop it.
    pub const MOUNT: u32 = 1 << 10;
    /// Raw block devices: `blk_read`, `blk_write`. In the user set for the same reason
    /// (a mounted device refuses raw writes, so raw access cannot corrupt a mounted file
    /// system); servers drop it.
    pub const DISK: u32 = 1 << 11;
    /// Every capability: init's set.
    pub const ALL: u32 = (1 << 12) - 1;
    /// The user set: what the shell and the programs it runs hold.
    pub const USER: u32 = SPAWN | KLOG_READ | MOUNT | DISK;

    /// Each capability's bit and the name `ps` and `caps` print, in bit order.
    pub const NAMES: [(u32, &str); 12] = [
        (SPAWN, "spawn"),
        (KILL, "kill"),
        (SET_RT_PRIORITY, "rtprio"),
        (SHUTDOWN, "shutdown"),
        (CONSOLE_BIND, "console"),
        (NS_SYSTEM, "nssys"),
        (KLOG_READ, "klog"),
        (NET_RAW, "netraw"),
        (AI_ACCEL, "aiaccel"),
        (MEMTIER, "memtier"),
        (MOUNT, "mount"),
        (DISK, "disk"),
    ];

    /// The capability called `name` (as in [`NAMES`]).
    pub fn by_name(name: &str) -> Option<u32> {
        NAMES.iter().find(|(_, n)| *n == name).map(|(b, _)| *b)
    }

    /// Service names only a holder of [`NS_SYSTEM`] may register.
    pub const SYSTEM_NAMES: &[&str] = &["console", "aid", "netd", "init"];
    /// So are all names starting with this.
    pub const SYSTEM_PREFIX: &str = "sys.";

    /// Whether `name` is a system service name.
    pub fn is_system_name(name: &[u8]) -> bool {
        name.starts_with(SYSTEM_PREFIX.as_bytes())
            || SYSTEM_NAMES.iter().any(|n| n.as_bytes() == name)
    }

    /// What `spawn_caps` reads: `spawn`'s six arguments and the child's capability set.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct SpawnArgs {
        pub path: u64,
        pub path_len: u64,
        /// `*const StrRef` and count, as `spawn` takes them.
        pub argv: u64,
        pub argc: u64,
        pub envp: u64,
        pub envc: u64,
        /// The child's set: a subset of the caller's.
        pub caps: u32,
        pub _pad: u32,
    }

    abi_size!(SpawnArgs, 7 * 8);

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn names_cover_every_bit_once() {
            let mut seen = 0;
            for (i, (bit, name)) in NAMES.iter().enumerate() {
                assert_eq!(*bit, 1 << i, "{name}: NAMES is in bit order");
                assert_eq!(by_name(name), Some(*bit));
                seen |= bit;
            }
            assert_eq!(seen, ALL);
            assert_eq!(USER & !ALL, 0);
        }

        #[test]
        fn system_names() {
            assert!(is_system_name(b"console"));
            assert!(is_system_name(b"sys.anything"));
            assert!(!is_system_name(b"consolex"));
            assert!(!is_system_name(b"ipctest.1"));
        }
    }
}

/// The syscall filter: a per-process allow-bitmask over syscall numbers (seccomp-like).
/// See `docs/security.md`.
pub mod filter {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// 64-bit words in the mask (bit `n % 64` of word `n / 64` is syscall `n`).
    pub const WORDS: usize = 2;
    const _: () = assert!(super::sys::COUNT <= WORDS * 64);
    /// A denied call returns `EPERM`.
    pub const MODE_ERRNO: u32 = 0;
    /// A denied call kills the process with `SIGSYS`.
    pub const MODE_KILL: u32 = 1;
    /// Calls no filter can deny: without them a process could not even end.
    pub const ALWAYS_ALLOWED: [usize; 3] = [
        super::sys::EXIT,
        super::sys::THREAD_EXIT,
        super::sys::SIGRETURN,
    ];

    /// A filter: which syscall numbers are allowed, and what a denied call does.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct SysFilter {
        pub allow: [u64; WORDS],
        /// [`MODE_ERRNO`] or [`MODE_KILL`].
        pub mode: u32,
        pub _pad: u32,
    }

    abi_size!(SysFilter, WORDS * 8 + 8);

    impl SysFilter {
        /// Everything allowed (every process's filter until it narrows it).
        pub const fn allow_all() -> Self {
            Self {
                allow: [u64::MAX; WORDS],
                mode: MODE_ERRNO,
                _pad: 0,
            }
        }

        /// Whether syscall `n` is allowed. Numbers past the mask name no syscall (the
        /// assertion above keeps every real one inside it), so they pass the filter and
        /// get `ENOSYS` like anyone's.
        pub const fn allows(&self, n: usize) -> bool {
            let mut i = 0;
            while i < ALWAYS_ALLOWED.len() {
                if ALWAYS_ALLOWED[i] == n {
                    return true;
                }
                i += 1;
            }
            if n >= WORDS * 64 {
                return true;
            }
            self.allow[n / 64] & (1 << (n % 64)) != 0
        }

        /// Denies syscall `n`.
        pub fn deny(&mut self, n: usize) -> &mut Self {
            if n < WORDS * 64 {
                self.allow[n / 64] &= !(1 << (n % 64));
            }
            self
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn deny_and_always_allowed() {
            let mut f = SysFilter::allow_all();
            assert!(f.allows(super::super::sys::GETPID));
            f.deny(super::super::sys::GETPID)
                .deny(super::super::sys::EXIT);
            assert!(!f.allows(super::super::sys::GETPID));
            assert!(f.allows(super::super::sys::EXIT));
            assert!(f.allows(9999), "no syscall there: ENOSYS, not the filter");
            assert!(!SysFilter {
                allow: [0; WORDS],
                ..f
            }
            .allows(super::super::sys::FORK));
        }
    }
}

/// Clocks for `clock_gettime`.
pub mod clock {
    /// Wall-clock time: nanoseconds since 1970-01-01 00:00:00 UTC, from the real-time
    /// clock read at boot plus the time since (time since boot if no RTC answered).
    pub const REALTIME: usize = 0;
    /// Time since boot, never going backwards.
    pub const MONOTONIC: usize = 1;
}

/// Scheduler priority classes, highest first.
pub mod sched {
    pub const RT_INFERENCE: usize = 0;
    pub const HIGH: usize = 1;
    pub const NORMAL: usize = 2;
    pub const LOW: usize = 3;
    pub const BACKGROUND: usize = 4;
    pub const IDLE: usize = 5;
    pub const CLASSES: usize = 6;
}

/// Multiprocessor limits and what `smp_info` reports.
pub mod smp {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// Most CPUs the kernel runs on (affinity masks are `u64`).
    pub const MAX_CPUS: usize = 16;
    /// [`CpuInfo::state`]: running a thread.
    pub const CPU_BUSY: u32 = 1;
    /// [`CpuInfo::state`]: online and idle.
    pub const CPU_IDLE: u32 = 2;

    /// One CPU as `smp_info` reports it.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct CpuInfo {
        /// The kernel's CPU index (0 is the boot CPU).
        pub id: u32,
        /// [`CPU_BUSY`] or [`CPU_IDLE`].
        pub state: u32,
        /// The hardware id: the local APIC id (x86_64) or MPIDR_EL1 affinity (aarch64).
        pub hw_id: u64,
        /// Timer ticks this CPU has taken.
        pub ticks: u64,
        /// Of those, ticks that found a thread other than the idle thread running.
        pub busy_ticks: u64,
        /// Context switches on this CPU.
        pub switches: u64,
        /// Inter-processor interrupts this CPU has received.
        pub ipis: u64,
        /// TLB shootdown requests this CPU has served.
        pub shootdowns: u64,
        /// Threads that moved to this CPU from another one's queue.
        pub migrations: u64,
        /// Threads waiting in this CPU's run queue.
        pub ready: u64,
        /// The running thread's id (0: idle).
        pub current_tid: u64,
    }

    abi_size!(CpuInfo, 4 + 4 + 9 * 8);
}

/// Seconds and nanoseconds, as `struct timespec`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

abi_size!(Timespec, 16);

/// A (pointer, length) string reference, how argv/envp entries cross the boundary.
#[repr(C)]
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct StrRef {
    pub ptr: usize,
    pub len: usize,
}

abi_size!(StrRef, 2 * core::mem::size_of::<usize>());

/// The AI subsystem's ABI: tensor dtypes and metadata, graph nodes and their operations,
/// handle rights, inference classes, per-process limits and `ai_info` records
/// (`docs/ai.md`). The `.waymodel` file format (module `waymodel`) stores graphs as the
/// same [`ai::Node`] records `graph_create` takes.
pub mod ai {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// 32-bit IEEE float.
    pub const DTYPE_F32: u32 = 0;
    /// 32-bit signed integer (indices, int8 matmul accumulators, argmax results).
    pub const DTYPE_I32: u32 = 1;
    /// 8-bit signed quantized: real = `scale * (q - zero_point)`.
    pub const DTYPE_I8: u32 = 2;
    /// Bytes per element of `dtype`, or `None` for an unknown dtype.
    pub const fn dtype_size(dtype: u32) -> Option<usize> {
        match dtype {
            DTYPE_F32 | DTYPE_I32 => Some(4),
            DTYPE_I8 => Some(1),
            _ => None,
        }
    }
    /// The name `ainfo` prints for `dtype`.
    pub const fn dtype_name(dtype: u32) -> &'static str {
        match dtype {
            DTYPE_F32 => "f32",
            DTYPE_I32 => "i32",
            DTYPE_I8 => "i8",
            _ => "?",
        }
    }

    /// Most dimensions a tensor has.
    pub const MAX_RANK: usize = 4;
    /// Largest single dimension.
    pub const MAX_DIM: u32 = 1 << 24;
    /// Largest tensor, in bytes.
    pub const MAX_TENSOR_BYTES: u64 = 64 << 20;

    /// Near memory (tier 0, DDR): the default placement.
    pub const TIER_NEAR: u32 = 0;
    /// Far memory (tier 1, the seed's "VRAM-sim"): a placement hint.
    pub const TIER_FAR: u32 = 1;

    /// Rights a tensor handle carries (`handle_dup` can narrow them).
    /// Read the contents (`tensor_read`, `tensor_map` with `PROT_READ`, graph input).
    pub const RIGHT_READ: u32 = 1 << 0;
    /// Change the contents (`tensor_write`, writable map, graph output).
    pub const RIGHT_WRITE: u32 = 1 << 1;
    /// Pass the handle on (IPC transfer, `handle_dup`).
    pub const RIGHT_GRANT: u32 = 1 << 2;
    /// Every tensor right.
    pub const RIGHTS_ALL: u32 = RIGHT_READ | RIGHT_WRITE | RIGHT_GRANT;

    /// A tensor's metadata: what `tensor_create` takes and `tensor_info` returns.
    /// `dims[rank..]` must be 0 (create) and are 0 (info). Row-major; strides follow
    /// from the shape. `scale_bits`/`zero_point` matter only for [`DTYPE_I8`]
    /// (`scale_bits` is an `f32`'s bits). `bytes` is ignored by create and filled in by
    /// info.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct TensorInfo {
        pub dtype: u32,
        pub rank: u32,
        pub dims: [u32; MAX_RANK],
        /// [`TIER_NEAR`] or [`TIER_FAR`].
        pub tier: u32,
        /// The handle's rights (info); 0 on create.
        pub rights: u32,
        pub scale_bits: u32,
        pub zero_point: i32,
        pub bytes: u64,
    }
    abi_size!(TensorInfo, 48);

    impl TensorInfo {
        /// The metadata for a tensor of `dtype` and shape `dims`, everything else zero
        /// (near tier, no rights, no quantization). Panics when `dims` has more than
        /// [`MAX_RANK`] entries; callers with untrusted shapes check the rank first.
        pub fn with_dims(dtype: u32, dims: &[u32]) -> TensorInfo {
            let mut t = TensorInfo {
                dtype,
                rank: dims.len() as u32,
                ..TensorInfo::default()
            };
            t.dims[..dims.len()].copy_from_slice(dims);
            t
        }
    }

    /// Graph operations ([`Node::op`]). Inputs are listed as `in0, in1, ...`; shapes use
    /// the last dimensions, leading dimensions broadcast where said.
    pub mod op {
        /// `in0 [.., M, K] x in1 [K, N] -> [.., M, N]` f32. `attrs[0]` != 0 transposes in0's
        /// last two dims, `attrs[1]` != 0 transposes in1 (then `[N, K]`).
        pub const MATMUL: u32 = 1;
        /// Elementwise `in0 + in1`; in1 broadcasts over in0's leading dims (its shape is a
        /// suffix of in0's).
        pub const ADD: u32 = 2;
        /// Elementwise `in0 * in1`, broadcasting as [`ADD`].
        pub const MUL: u32 = 3;
        pub const RELU: u32 = 4;
        /// tanh approximation of GELU.
        pub const GELU: u32 = 5;
        pub const SIGMOID: u32 = 6;
        pub const TANH: u32 = 7;
        /// Over the last dimension, numerically stable (max subtracted).
        pub const SOFTMAX: u32 = 8;
        /// Over the last dimension: `in0`, gamma `in1 [D]`, beta `in2 [D]`;
        /// `attrs[0]` = epsilon as `f32` bits (0 means 1e-5).
        pub const LAYERNORM: u32 = 9;
        /// Index of the largest element over the last dimension -> i32, shape without it
        /// (rank 1 input -> shape `[1]`). Ties take the lowest index.
        pub const ARGMAX: u32 = 10;
        /// Same elements, new shape: `attrs[0]` = rank, `attrs[1..=rank]` = dims.
        pub const RESHAPE: u32 = 11;
        /// Permutes dimensions: `attrs[0..rank]` = the permutation.
        pub const TRANSPOSE: u32 = 12;
        /// Rows of table `in0 [V, D]` f32 picked by indices `in1 [..]` i32 -> `[.., D]`;
        /// an index outside `0..V` is a run-time error.
        pub const EMBEDDING: u32 = 13;
        /// 3x3 convolution: `in0 [N, C, H, W]`, weights `in1 [O, C, 3, 3]`, optional bias
        /// `in2 [O]`; `attrs[0]` = stride (1 or 2), `attrs[1]` = zero padding (0 or 1).
        pub const CONV2D: u32 = 14;
        /// `in0 [M, K] i8 x in1 [K, N] i8 -> [M, N] i32`, accumulating
        /// `(a - za) * (b - zb)` in i32 with each input's zero point.
        pub const MATMUL_I8: u32 = 15;
        /// `in0 [..] f32 -> [..] i8` (same shape): `q = clamp(round_half_even(x / scale)
        /// + zero_point, -128, 127)`, with `x / scale` one IEEE division; NaN gives
        /// `zero_point`. `attrs[0]` = scale as `f32` bits (finite, > 0), `attrs[1]` =
        /// zero point as `i32` bits (-128..=127). The output tensor carries that scale and
        /// zero point (what [`MATMUL_I8`] uses).
        pub const QUANTIZE: u32 = 16;
        /// `in0 [..] i32 or i8 -> [..] f32` (same shape): `scale * (q - zero_point)`, with
        /// `q - zero_point` exact in i64 and then rounded once to `f32`, then one IEEE
        /// multiplication. `attrs[0]` = scale as `f32` bits (finite, > 0), `attrs[1]` = zero
        /// point as `i32` bits.
        pub const DEQUANTIZE: u32 = 17;
        /// One past the highest operation number.
        pub const COUNT: u32 = 18;
    }

    /// Most inputs a node takes.
    pub const MAX_NODE_INPUTS: usize = 4;
    /// Attribute words per node.
    pub const NODE_ATTRS: usize = 8;
    /// Set in an input reference: the low bits are a node index (its output); clear: an
    /// index into the graph's bound tensors.
    pub const REF_NODE: u32 = 1 << 31;

    /// One node of a graph: `op` applied to `inputs[..n_inputs]`. Nodes may refer only to
    /// earlier nodes' outputs, so a graph is acyclic by construction and the node order is
    /// an execution order; validation rejects a reference to the node itself or a later
    /// one.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Node {
        pub op: u32,
        pub n_inputs: u32,
        pub inputs: [u32; MAX_NODE_INPUTS],
        pub attrs: [u32; NODE_ATTRS],
    }
    abi_size!(Node, 56);

    /// Fast mode: the best kernels this CPU has (SIMD, FMA); results may differ in the
    /// last bits between machines.
    pub const MODE_FAST: u32 = 0;
    /// Bit-exact mode: a fixed reduction order and no fused multiply-add, so x86_64 and
    /// aarch64 produce the same bits for the same graph and inputs.
    pub const MODE_BITEXACT: u32 = 1;

    /// Most nodes per graph.
    pub const MAX_NODES: usize = 1024;
    /// Most tensors bound to one graph.
    pub const MAX_BOUND: usize = 256;
    /// Most outputs per graph.
    pub const MAX_OUTPUTS: usize = 8;

    /// Where a node's result goes after a run: node `node`'s output is copied into the
    /// tensor behind `tensor` (an index into the bound tensors; shapes and dtypes must
    /// match, and the handle must carry `RIGHT_WRITE`).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Output {
        pub node: u32,
        pub tensor: u32,
    }
    abi_size!(Output, 8);

    /// What `graph_create` takes: `n_nodes` [`Node`]s at `nodes`, `n_bound` tensor
    /// handles (`u32` each) at `bound`, `n_outputs` [`Output`]s at `outputs`, and a mode.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct GraphDesc {
        pub nodes: u64,
        pub n_nodes: u32,
        pub n_bound: u32,
        pub bound: u64,
        pub outputs: u64,
        pub n_outputs: u32,
        /// [`MODE_FAST`] or [`MODE_BITEXACT`].
        pub mode: u32,
    }
    abi_size!(GraphDesc, 40);

    /// What `model_load` returns: the graph handle and the handles of its input and
    /// output tensors (made by the load; the caller writes inputs and reads outputs).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct ModelHandles {
        pub graph: u32,
        pub n_inputs: u32,
        pub inputs: [u32; MAX_OUTPUTS],
        pub n_outputs: u32,
        pub outputs: [u32; MAX_OUTPUTS],
        pub _pad: u32,
    }
    abi_size!(ModelHandles, 80);

    /// Inference job classes (`infer_submit`), the scheduler's classes of the same names.
    pub const CLASS_RT: u32 = super::sched::RT_INFERENCE as u32;
    pub const CLASS_HIGH: u32 = super::sched::HIGH as u32;
    pub const CLASS_NORMAL: u32 = super::sched::NORMAL as u32;
    pub const CLASS_BACKGROUND: u32 = super::sched::BACKGROUND as u32;

    /// One accelerator (`ai_info(INFO_ACCELS)`): a worker thread pinned to a CPU.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct AccelInfo {
        /// Its index (= the CPU it is pinned to).
        pub index: u32,
        /// Jobs waiting in the shared queue (every accelerator takes from it).
        pub queue_depth: u32,
        /// The worker thread's id.
        pub tid: u64,
        /// Jobs it finished (done, failed or cancelled while it held them).
        pub jobs_done: u64,
        /// Nanoseconds it spent running nodes.
        pub busy_ns: u64,
        /// The job it runs now (0: idle) and that job's owner.
        pub current_job: u64,
        pub current_pid: u64,
        /// The vector extension its math uses: NUL-padded (`"avx2+fma"`, `"neon"`,
        /// `"scalar"`).
        pub isa: [u8; 16],
    }
    abi_size!(AccelInfo, 64);

    /// One graph (`ai_info(INFO_GRAPHS)`).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct GraphInfo {
        pub id: u64,
        pub owner: u64,
        pub nodes: u32,
        /// [`MODE_FAST`] or [`MODE_BITEXACT`].
        pub mode: u32,
        pub arena_bytes: u64,
        /// Runs finished.
        pub runs: u64,
    }
    abi_size!(GraphInfo, 40);

    /// Longest model name `ai_info(INFO_MODELS)` reports (longer ones are cut).
    pub const MODEL_NAME_BYTES: usize = 32;

    /// One loaded model (`ai_info(INFO_MODELS)`).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct ModelInfo {
        /// NUL-padded.
        pub name: [u8; MODEL_NAME_BYTES],
        /// The process whose load made this copy of the weights.
        pub owner: u64,
        /// Bytes of the weight tensors, held once however many loads share them.
        pub bytes: u64,
        /// The graph id of the newest live load.
        pub graph: u64,
        /// The weights' identity: the first 8 bytes of their SHA-256, big-endian.
        pub weights_id: u64,
        /// Live loads (graphs) sharing this one copy of the weights.
        pub holders: u32,
        pub _pad: u32,
    }
    abi_size!(ModelInfo, 72);

    /// What a job has used (`infer_stats`). Under `-icount shift=0` a nanosecond is one
    /// guest instruction, so these are also instruction counts there.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct JobStats {
        /// From submit to the first node starting on a worker (0 while still queued).
        pub queued_ns: u64,
        /// Time on a worker running its nodes, summed over every stretch it ran.
        pub run_ns: u64,
        /// Nodes run so far.
        pub nodes_run: u32,
        /// Times it went back to the queue at a node boundary for a higher class.
        pub preemptions: u32,
        /// 0 while queued or running, else its end: 1 done, 2 failed, 3 cancelled.
        pub state: u32,
        pub _pad: u32,
    }
    abi_size!(JobStats, 32);
    /// [`JobStats::state`] values.
    pub const JOB_PENDING: u32 = 0;
    pub const JOB_DONE: u32 = 1;
    pub const JOB_FAILED: u32 = 2;
    pub const JOB_CANCELLED: u32 = 3;

    /// Per-process bounds (each over-limit call fails and changes nothing).
    /// Live tensors a process owns: `EMFILE` beyond.
    pub const MAX_TENSORS: usize = 256;
    /// Bytes of tensor memory a process owns (its tensors and its graphs' arenas):
    /// `EDQUOT` beyond.
    pub const MAX_TENSOR_BYTES_PER_PROCESS: u64 = 128 << 20;
    /// Live graphs per process: `EMFILE` beyond.
    pub const MAX_GRAPHS: usize = 64;
    /// Queued or running jobs per process: `EAGAIN` beyond.
    pub const MAX_JOBS: usize = 64;

    /// `ai_info` selectors (its `what` argument). Each fills `buf` (`len` bytes) with
    /// records of one type, as many whole records as fit, and returns how many records
    /// there are in all (so a caller whose buffer was short can ask again).
    /// One [`AiTotals`] (returns 1).
    pub const INFO_TOTALS: u32 = 0;
    /// [`AiUsage`] for every process that has any AI object charged to it, lowest pid
    /// first.
    pub const INFO_USAGE: u32 = 1;
    /// The accelerators (records defined with the inference queue).
    pub const INFO_ACCELS: u32 = 2;
    /// The graphs (records defined with the graph objects).
    pub const INFO_GRAPHS: u32 = 3;
    /// The registered models (records defined with the model registry).
    pub const INFO_MODELS: u32 = 4;

    /// What `ai_info(INFO_TOTALS)` returns: the AI objects alive in the whole system,
    /// whoever owns them (including those that outlived their owner inside a mapping).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct AiTotals {
        /// Tensors alive.
        pub tensors: u64,
        /// Bytes of those tensors (their shapes' sizes).
        pub tensor_bytes: u64,
        /// Pages backing them on tier 0 and on tier 1.
        pub near_pages: u64,
        pub far_pages: u64,
        /// Tensors ever created.
        pub tensors_created: u64,
        /// Graphs alive and jobs queued or running.
        pub graphs: u64,
        pub jobs: u64,
        /// Accelerator workers.
        pub accels: u64,
    }
    abi_size!(AiTotals, 64);

    /// One process's AI usage (`ai_info(INFO_USAGE)`): what is charged against its
    /// quota now.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct AiUsage {
        pub pid: u64,
        /// Tensor bytes (tensors and graph arenas, whole pages).
        pub tensor_bytes: u64,
        pub tensors: u32,
        pub graphs: u32,
        pub jobs: u32,
        pub _pad: u32,
    }
    abi_size!(AiUsage, 32);
}

/// The `.waymodel` file format (`docs/waymodel.md` documents it byte by byte): a model's
/// tensors, weights, graph and metadata in one little-endian file that `model_load` turns
/// into tensors and a graph. The graph is stored as the same [`ai::Node`] records
/// `graph_create` takes, so loading a model is validating it once, not translating it.
///
/// Layout: a [`Header`] at offset 0, then the sections it names, in this order and each
/// starting on an 8-byte boundary at or after the previous one's end: the tensor table
/// ([`TensorEntry`]s), the graph ([`ai::Node`]s), the inputs (`u32` tensor-table
/// indices), the outputs ([`OutputEntry`]s), the labels ([`StrSpan`]s), the strings (UTF-8
/// bytes that every [`StrSpan`] points into) and last the weights (each tensor's data,
/// [`WEIGHT_ALIGN`]-aligned), which end the file. Table sections are exactly `count *
/// entry size` bytes. [`Header::weights_sha256`] covers the weights section;
/// [`Header::meta_sha256`] covers every byte before it (with that field read as zeros),
/// so a change to any byte of a file is detected.
pub mod waymodel {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// The first eight bytes of every `.waymodel` file.
    pub const MAGIC: [u8; 8] = *b"WAYMODEL";
    /// The format version this ABI describes; a parser refuses any other.
    pub const VERSION: u32 = 1;
    /// Sections start on multiples of this.
    pub const SECTION_ALIGN: u64 = 8;
    /// The weights section and each tensor's data in it start on multiples of this (a
    /// cache line: SIMD kernels read weights from their natural alignment).
    pub const WEIGHT_ALIGN: u64 = 64;
    /// Largest file accepted: the most tensor memory one process may own.
    pub const MAX_FILE_BYTES: u64 = super::ai::MAX_TENSOR_BYTES_PER_PROCESS;
    /// Longest name (model, tensor, output, label), in bytes of UTF-8.
    pub const MAX_NAME_BYTES: u32 = 64;
    /// Most class labels.
    pub const MAX_LABELS: u32 = 4096;
    /// Most tensors in the tensor table: the graph also binds one tensor per output.
    pub const MAX_TENSORS: u32 = (super::ai::MAX_BOUND - super::ai::MAX_OUTPUTS) as u32;
    /// Most model inputs and outputs (the slots of [`super::ai::ModelHandles`]).
    pub const MAX_IO: u32 = super::ai::MAX_OUTPUTS as u32;

    /// A string: `len` bytes of UTF-8 at `offset` within the strings section. An empty
    /// string is `{0, 0}`.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct StrSpan {
        pub offset: u32,
        pub len: u32,
    }
    abi_size!(StrSpan, 8);

    /// Where a section lies: `len` bytes at `offset` from the start of the file.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Section {
        pub offset: u64,
        pub len: u64,
    }
    abi_size!(Section, 16);

    /// The file header, at offset 0.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Header {
        /// [`MAGIC`].
        pub magic: [u8; 8],
        /// [`VERSION`].
        pub version: u32,
        /// `size_of::<Header>()`.
        pub header_bytes: u32,
        /// The whole file, in bytes (equal to the weights section's end).
        pub total_bytes: u64,
        pub n_tensors: u32,
        pub n_nodes: u32,
        pub n_inputs: u32,
        pub n_outputs: u32,
        pub n_labels: u32,
        /// The graph's mode: [`super::ai::MODE_FAST`] or [`super::ai::MODE_BITEXACT`].
        pub mode: u32,
        /// The model's name.
        pub name: StrSpan,
        pub tensors: Section,
        pub nodes: Section,
        pub inputs: Section,
        pub outputs: Section,
        pub labels: Section,
        pub strings: Section,
        pub weights: Section,
        /// SHA-256 of the weights section's bytes.
        pub weights_sha256: [u8; 32],
        /// SHA-256 of the bytes `0..weights.offset`, this field counted as 32 zero bytes.
        pub meta_sha256: [u8; 32],
    }
    abi_size!(Header, 232);

    /// Byte offset of [`Header::meta_sha256`] in the file.
    pub const META_SHA_OFFSET: usize = 200;
    const _: () = assert!(core::mem::offset_of!(Header, meta_sha256) == META_SHA_OFFSET);

    /// One tensor of the model. A tensor listed in the inputs section has no data
    /// (`data_len` 0: the caller fills it at run time); every other tensor is a weight or
    /// constant whose `data_len` bytes (row-major, little endian) lie at `data_offset`
    /// within the weights section. Data ranges appear in table order and do not overlap.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct TensorEntry {
        pub name: StrSpan,
        /// An [`super::ai`] `DTYPE_*`.
        pub dtype: u32,
        pub rank: u32,
        /// `dims[rank..]` are 0.
        pub dims: [u32; super::ai::MAX_RANK],
        /// [`super::ai::DTYPE_I8`] only (else 0): an `f32`'s bits, and the zero point.
        pub scale_bits: u32,
        pub zero_point: i32,
        /// Placement hint: [`super::ai::TIER_NEAR`] or [`super::ai::TIER_FAR`].
        pub tier: u32,
        pub _pad: u32,
        /// Relative to the weights section; a multiple of [`WEIGHT_ALIGN`]. 0 for inputs.
        pub data_offset: u64,
        /// Element count times the dtype's size; 0 for inputs.
        pub data_len: u64,
    }
    abi_size!(TensorEntry, 64);

    /// One model output: node `node`'s result, of the stated dtype and shape (which the
    /// graph validator checks against what the node computes), called `name`.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct OutputEntry {
        pub node: u32,
        pub dtype: u32,
        pub rank: u32,
        pub dims: [u32; super::ai::MAX_RANK],
        pub _pad: u32,
        pub name: StrSpan,
    }
    abi_size!(OutputEntry, 40);

    /// The byte offsets `docs/waymodel.md` documents, field by field.
    #[cfg(test)]
    mod tests {
        use super::*;
        use core::mem::offset_of;

        #[test]
        fn offsets_match_the_documentation() {
            let header = [
                (offset_of!(Header, magic), 0),
                (offset_of!(Header, version), 8),
                (offset_of!(Header, header_bytes), 12),
                (offset_of!(Header, total_bytes), 16),
                (offset_of!(Header, n_tensors), 24),
                (offset_of!(Header, n_nodes), 28),
                (offset_of!(Header, n_inputs), 32),
                (offset_of!(Header, n_outputs), 36),
                (offset_of!(Header, n_labels), 40),
                (offset_of!(Header, mode), 44),
                (offset_of!(Header, name), 48),
                (offset_of!(Header, tensors), 56),
                (offset_of!(Header, nodes), 72),
                (offset_of!(Header, inputs), 88),
                (offset_of!(Header, outputs), 104),
                (offset_of!(Header, labels), 120),
                (offset_of!(Header, strings), 136),
                (offset_of!(Header, weights), 152),
                (offset_of!(Header, weights_sha256), 168),
                (offset_of!(Header, meta_sha256), 200),
            ];
            let tensor = [
                (offset_of!(TensorEntry, name), 0),
                (offset_of!(TensorEntry, dtype), 8),
                (offset_of!(TensorEntry, rank), 12),
                (offset_of!(TensorEntry, dims), 16),
                (offset_of!(TensorEntry, scale_bits), 32),
                (offset_of!(TensorEntry, zero_point), 36),
                (offset_of!(TensorEntry, tier), 40),
                (offset_of!(TensorEntry, _pad), 44),
                (offset_of!(TensorEntry, data_offset), 48),
                (offset_of!(TensorEntry, data_len), 56),
            ];
            let output = [
                (offset_of!(OutputEntry, node), 0),
                (offset_of!(OutputEntry, dtype), 4),
                (offset_of!(OutputEntry, rank), 8),
                (offset_of!(OutputEntry, dims), 12),
                (offset_of!(OutputEntry, _pad), 28),
                (offset_of!(OutputEntry, name), 32),
            ];
            for (got, want) in header.into_iter().chain(tensor).chain(output) {
                assert_eq!(got, want);
            }
            assert_eq!(MAX_TENSORS, 248);
            assert_eq!(MAGIC, *b"WAYMODEL");
        }
    }
}

/// The digits model's test data and the host's expectations (`docs/digits.md`): what
/// `tools/digits` writes at build time and the guest's `classify` reads. Both files are
/// little endian: a header, then arrays of plain numbers.
///
/// `split.bin` ([`SPLIT_PATH`]): a [`SplitHeader`], then `samples * features` `f32`
/// inputs (sample after sample, each pixel / 16), then `samples` `u8` labels (0..=9).
///
/// `expect.bin` ([`EXPECT_PATH`]): an [`ExpectHeader`], then `variants` [`Variant`]
/// records, then for each record in that order `samples * classes` `f32` logits (sample
/// after sample): what the host computed for that model file.
pub mod digits {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// Inputs per sample: an 8x8 image.
    pub const FEATURES: usize = 64;
    /// Classes (the digits 0 to 9).
    pub const CLASSES: usize = 10;

    /// Where the models are in the guest (where a user looks for them).
    pub const MODELS_DIR: &str = "/models";
    /// The f32 model in fast mode.
    pub const MODEL_F32: &str = "/models/digits.waymodel";
    /// The same weights in bit-exact mode.
    pub const MODEL_EXACT: &str = "/models/digits-exact.waymodel";
    /// The int8 (post-training quantized) model.
    pub const MODEL_Q8: &str = "/models/digits-q8.waymodel";
    /// The test split.
    pub const SPLIT_PATH: &str = "/testdata/digits/split.bin";
    /// The host's expectations.
    pub const EXPECT_PATH: &str = "/testdata/digits/expect.bin";

    /// [`Variant::id`]: which model file a record describes.
    pub const VARIANT_F32: u32 = 0;
    pub const VARIANT_EXACT: u32 = 1;
    pub const VARIANT_Q8: u32 = 2;
    /// The model file of variant `id`.
    pub const fn variant_path(id: u32) -> Option<&'static str> {
        match id {
            VARIANT_F32 => Some(MODEL_F32),
            VARIANT_EXACT => Some(MODEL_EXACT),
            VARIANT_Q8 => Some(MODEL_Q8),
            _ => None,
        }
    }

    /// Whether the kernel's graphs can run the int8 model: it needs
    /// [`super::ai::op::QUANTIZE`] and [`super::ai::op::DEQUANTIZE`], which the graph
    /// validator accepts once `op::COUNT` passes them. Until then the int8 model is
    /// neither written nor checked.
    pub const Q8_OPS: bool = super::ai::op::COUNT > super::ai::op::DEQUANTIZE;

    pub const SPLIT_MAGIC: [u8; 8] = *b"WAYDSPLT";
    pub const EXPECT_MAGIC: [u8; 8] = *b"WAYDEXPT";
    pub const VERSION: u32 = 1;

    /// The head of `split.bin`.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct SplitHeader {
        /// [`SPLIT_MAGIC`].
        pub magic: [u8; 8],
        /// [`VERSION`].
        pub version: u32,
        pub samples: u32,
        /// [`FEATURES`].
        pub features: u32,
        /// [`CLASSES`].
        pub classes: u32,
    }
    abi_size!(SplitHeader, 24);

    /// The head of `expect.bin`.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct ExpectHeader {
        /// [`EXPECT_MAGIC`].
        pub magic: [u8; 8],
        /// [`VERSION`].
        pub version: u32,
        /// As in the split.
        pub samples: u32,
        pub classes: u32,
        /// [`Variant`] records that follow.
        pub variants: u32,
    }
    abi_size!(ExpectHeader, 24);

    /// What the host computed for one model file over the whole split.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Variant {
        /// [`VARIANT_F32`], [`VARIANT_EXACT`] or [`VARIANT_Q8`].
        pub id: u32,
        /// Test samples whose largest logit (lowest index on a tie) is the label.
        pub correct: u32,
        /// SHA-256 of all the logits as stored below (`samples * classes` `f32`s, little
        /// endian): for the bit-exact and int8 variants, what every architecture must
        /// reproduce.
        pub logits_sha256: [u8; 32],
    }
    abi_size!(Variant, 40);
}

/// Limits: what a process can pass to execve/spawn, and how many kernel objects one
/// process may own at once (`docs/syscalls.md`, "Limits"). Each per-process bound is
/// charged when the object is made and released when it goes; reaching it is an error,
/// never a kernel panic. They are set far above what real programs use and low enough that
/// a test reaches them in seconds under emulation.
/// Block devices (`docs/storage.md`): what `blk_info` reports and the limits of raw I/O.
pub mod blk {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// The unit of `blk_read`/`blk_write` addresses and lengths.
    pub const SECTOR_SIZE: usize = 512;
    /// Largest raw request.
    pub const MAX_IO: usize = 1 << 20;
    /// The buffer cache's block: a page.
    pub const CACHE_BLOCK: usize = 4096;
    /// Most block devices the kernel drives.
    pub const MAX_DEVICES: usize = 8;
    /// Where init mounts the first block device that holds a FAT file system.
    pub const DISK_MOUNT: &str = "/disk";

    /// [`BlkInfo::flags`]: the device refuses writes.
    pub const FLAG_READONLY: u32 = 1;
    /// A file system is mounted from it (raw writes are `EBUSY`).
    pub const FLAG_MOUNTED: u32 = 2;
    /// Requests complete by interrupt (else the driver polls).
    pub const FLAG_IRQ: u32 = 4;

    /// One block device, as `blk_info` fills it.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct BlkInfo {
        /// Capacity in [`SECTOR_SIZE`] sectors.
        pub sectors: u64,
        /// The device's own sector size in bytes (its logical block).
        pub sector_size: u32,
        /// `FLAG_*` bits.
        pub flags: u32,
        /// PCI address `bus << 8 | device << 3 | function`.
        pub pci: u32,
        /// The interrupt (MSI-X vector or GIC INTID), 0 when polled.
        pub irq: u32,
        /// `blk0`, `blk1`, ... (NUL-padded).
        pub name: [u8; 8],
    }
    const _: () = assert!(core::mem::size_of::<BlkInfo>() == 32);
}

/// The stats syscall family (`stats(what, buf, len)`, `docs/devices.md`): one kind of
/// record per `KIND_*`; every record is `Plain`, strings are NUL-padded. Kinds with one
/// record answer 1; the others the number of records in all (call again with more room
/// when it is larger than what fit).
pub mod stats {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// One [`KStats`].
    pub const KIND_KERNEL: u32 = 0;
    /// One `u64` per syscall number (`sys::COUNT` of them): calls made since boot.
    pub const KIND_SYSCALLS: u32 = 1;
    /// [`IrqStat`] per interrupt source.
    pub const KIND_IRQS: u32 = 2;
    /// One [`MemStats`].
    pub const KIND_MEM: u32 = 3;
    /// One [`Version`].
    pub const KIND_VERSION: u32 = 4;
    /// [`ProcStat`] per process.
    pub const KIND_PROCS: u32 = 5;
    /// [`ThreadStat`] per thread.
    pub const KIND_THREADS: u32 = 6;
    /// [`HandleStat`] per open handle of every process.
    pub const KIND_HANDLES: u32 = 7;
    /// [`LockStat`] per named kernel lock.
    pub const KIND_LOCKS: u32 = 8;
    /// [`CpuStat`] per online CPU (its run queue).
    pub const KIND_CPUS: u32 = 9;
    /// [`MountInfo`] per mounted file system.
    pub const KIND_MOUNTS: u32 = 10;
    /// [`BlkStats`] per block device.
    pub const KIND_BLK: u32 = 11;
    /// One [`DisplayInfo`] (`ENODEV` without a display).
    pub const KIND_DISPLAY: u32 = 12;
    /// One past the highest kind.
    pub const KIND_COUNT: u32 = 13;

    /// System-wide counters since boot.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct KStats {
        pub uptime_ns: u64,
        /// Syscalls made (the sum of [`KIND_SYSCALLS`]).
        pub syscalls: u64,
        /// User page faults handled (demand-zero, copy-on-write, tier faults), and those
        /// that ended in a signal.
        pub page_faults: u64,
        pub page_faults_fatal: u64,
        /// Switches from one thread to another, all CPUs.
        pub context_switches: u64,
        /// IPC messages queued to ports (sends, calls, replies, kernel notices).
        pub ipc_messages: u64,
        /// Interrupts taken, all sources and CPUs (the sum of [`KIND_IRQS`]).
        pub interrupts: u64,
        pub processes: u64,
        pub threads: u64,
        /// Kernel heap bytes in use and its current size.
        pub heap_used: u64,
        pub heap_size: u64,
        /// Physical memory, all tiers, in bytes.
        pub mem_total: u64,
        pub mem_free: u64,
        pub cpus: u64,
    }
    const _: () = assert!(core::mem::size_of::<KStats>() == 14 * 8);

    /// One interrupt source.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct IrqStat {
        /// Interrupts taken from it, all CPUs.
        pub count: u64,
        /// The vector (x86_64) or INTID (aarch64).
        pub irq: u32,
        pub _pad: u32,
        /// `timer`, `serial`, `ipi`, `nic0`, `blk0`, `gpu0`, ...
        pub name: [u8; 16],
    }
    const _: () = assert!(core::mem::size_of::<IrqStat>() == 32);

    /// Memory, as `free` shows it (bytes).
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct MemStats {
        pub total: u64,
        pub free: u64,
        /// Per tier (`memtier::TIER_*`): total and free.
        pub near_total: u64,
        pub near_free: u64,
        pub far_total: u64,
        pub far_free: u64,
        pub heap_size: u64,
        pub heap_used: u64,
        /// The buffer cache: bytes held, and of them dirty (not yet on disk).
        pub cache: u64,
        pub cache_dirty: u64,
        /// tmpfs file data in frames of its own.
        pub tmpfs: u64,
        /// Bytes of frames mapped into user address spaces (a frame shared by fork or
        /// a grant is counted in each process that maps it).
        pub user: u64,
    }
    const _: () = assert!(core::mem::size_of::<MemStats>() == 12 * 8);

    /// What `version` prints.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct Version {
        /// `CARGO_PKG_VERSION` of the kernel.
        pub version: [u8; 16],
        /// A hash of the kernel's build inputs (hex), unique per build.
        pub build_id: [u8; 24],
        /// `git describe --always --dirty` of the tree it was built from (`unknown`
        /// outside a checkout).
        pub commit: [u8; 24],
        /// `x86_64` or `aarch64`.
        pub arch: [u8; 16],
        /// The loader that started it (`Limine 8.2.0`, `wayboot 0.1.0`, `QEMU -kernel`).
        pub loader: [u8; 32],
        /// Build profile (`debug`, `release`) and rustc version.
        pub build: [u8; 32],
    }
    const _: () = assert!(core::mem::size_of::<Version>() == 144);

    /// One process, for `diagdump`.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct ProcStat {
        pub pid: u32,
        pub ppid: u32,
        pub threads: u32,
        pub handles: u32,
        /// Ports it created that still exist, and messages waiting in them.
        pub ports: u32,
        pub queued: u32,
        /// Open file descriptors.
        pub fds: u32,
        /// `R`, `S`, `Z` as `ps`.
        pub state: u8,
        pub _pad: [u8; 3],
        /// Resident bytes (frames mapped) and mapped bytes (VMAs).
        pub rss: u64,
        pub vsize: u64,
        pub caps: u32,
        pub _pad2: u32,
        pub name: [u8; 16],
    }
    const _: () = assert!(core::mem::size_of::<ProcStat>() == 72);

    /// [`ThreadStat::state`] values.
    pub const THREAD_RUNNING: u8 = b'R';
    pub const THREAD_READY: u8 = b'r';
    pub const THREAD_BLOCKED: u8 = b'S';
    pub const THREAD_DEAD: u8 = b'Z';

    /// One thread, for `diagdump`.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct ThreadStat {
        pub tid: u32,
        pub pid: u32,
        /// The CPU it runs on or last ran on.
        pub cpu: u32,
        /// `sched` class.
        pub class: u8,
        /// `THREAD_*`.
        pub state: u8,
        pub _pad: [u8; 2],
        pub ticks: u64,
        /// What a blocked thread waits for (`port_recv`, `futex`, `sleep`, `wait`,
        /// `blk io`, ...), empty otherwise.
        pub wait: [u8; 16],
    }
    const _: () = assert!(core::mem::size_of::<ThreadStat>() == 40);

    /// One open handle, for `diagdump`.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct HandleStat {
        pub pid: u32,
        pub handle: u32,
        /// The object's rights bits.
        pub rights: u32,
        pub _pad: u32,
        /// An object identity (a port's id, a NIC's number, ...), 0 when none.
        pub object: u64,
        /// `port`, `memory`, `tensor`, `graph`, `job`, `nic`, ...
        pub kind: [u8; 16],
    }
    const _: () = assert!(core::mem::size_of::<HandleStat>() == 40);

    /// One named kernel lock.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct LockStat {
        /// The CPU holding it, `u32::MAX` when free.
        pub holder_cpu: u32,
        /// The thread running on the holding CPU (a kernel spin lock is never held
        /// across a switch, so that is the holder; for a lock an interrupt handler
        /// holds, the thread it interrupted), 0 when free or the CPU is idle.
        pub holder_tid: u32,
        pub acquired: u64,
        /// Acquisitions that found it held and had to wait.
        pub contended: u64,
        pub name: [u8; 24],
    }
    const _: () = assert!(core::mem::size_of::<LockStat>() == 48);

    /// One CPU and its run queue.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct CpuStat {
        pub cpu: u32,
        /// The thread running now (0: idle).
        pub current: u32,
        /// Threads ready to run on its queue.
        pub ready: u32,
        pub _pad: u32,
        pub switches: u64,
        pub interrupts: u64,
        pub idle_ticks: u64,
        pub busy_ticks: u64,
    }
    const _: () = assert!(core::mem::size_of::<CpuStat>() == 48);

    /// One mounted file system (`mount`, `df`). (No `Default`: use `new_zeroed`.)
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    pub struct MountInfo {
        /// Its mount number (`Stat::dev`).
        pub id: u32,
        /// `fs::MS_RDONLY`.
        pub flags: u32,
        /// `tmpfs`, `devfs`, `vfat`.
        pub fstype: [u8; 8],
        /// `tmpfs`, `blk0`, ...
        pub source: [u8; 16],
        /// Where it is mounted (cut at 95 bytes).
        pub path: [u8; 96],
    }
    const _: () = assert!(core::mem::size_of::<MountInfo>() == 128);

    /// One block device's counters and its share of the buffer cache.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct BlkStats {
        /// Requests sent to the device, and their bytes.
        pub reads: u64,
        pub writes: u64,
        pub read_bytes: u64,
        pub write_bytes: u64,
        /// Device cache flushes.
        pub flushes: u64,
        /// Requests the device failed (or that timed out).
        pub errors: u64,
        pub interrupts: u64,
        /// Buffer cache lookups that found the block, and that had to read it.
        pub cache_hits: u64,
        pub cache_misses: u64,
        /// Cached blocks of this device now, and of them dirty.
        pub cache_blocks: u64,
        pub dirty_blocks: u64,
        /// Dirty blocks written back, and clean blocks evicted.
        pub writebacks: u64,
        pub evictions: u64,
        pub name: [u8; 8],
    }
    const _: () = assert!(core::mem::size_of::<BlkStats>() == 14 * 8);

    /// The screen console.
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    pub struct DisplayInfo {
        /// Pixels.
        pub width: u32,
        pub height: u32,
        /// Text cells.
        pub cols: u32,
        pub rows: u32,
        /// Times the screen was redrawn and pushed to the device.
        pub frames: u64,
        /// `virtio-gpu` or `framebuffer` (the loader's GOP/Limine framebuffer).
        pub source: [u8; 16],
    }
    const _: () = assert!(core::mem::size_of::<DisplayInfo>() == 40);
}

/// The screen console's geometry (`docs/devices.md`): shared by the kernel, which draws
/// text with the font at this size, and the harness, which decodes screendumps with it.
pub mod display {
    /// A text cell in pixels.
    pub const CELL_WIDTH: u32 = 8;
    pub const CELL_HEIGHT: u32 = 16;
    /// The mode the kernel asks virtio-gpu for (the device may answer with another).
    pub const WIDTH: u32 = 1024;
    pub const HEIGHT: u32 = 768;
    /// Foreground and background colours (0x00RRGGBB).
    pub const FG: u32 = 0x00c0_c0c0;
    pub const BG: u32 = 0x0000_0000;
}

pub mod limits {
    /// Open file descriptors per process (`EMFILE` beyond).
    pub const MAX_FDS: usize = 256;
    /// IPC handles per process (`ENOMEM` beyond, as for a full handle table).
    pub const MAX_HANDLES: usize = 1024;
    /// Ports one process has created and that still exist, wherever their handles are
    /// (in its table, another's, or inside queued messages): `EMFILE` beyond.
    pub const MAX_PORTS: usize = 256;
    /// Queue slots (the sum of the capacities) of the ports one process has created and
    /// that still exist: `ENOMEM` beyond. Bounds the messages (and the handles inside
    /// them) that can wait in that process's ports.
    pub const MAX_QUEUED_MESSAGES: usize = 4096;
    /// Service names one process has registered: `ENOSPC` beyond.
    pub const MAX_NAMES: usize = 64;
    /// Memory mappings (VMAs) per address space: `mmap`, `mprotect` and `munmap` that
    /// could split one more fail with `ENOMEM` (Linux's `vm.max_map_count`).
    pub const MAX_VMAS: usize = 4096;
    /// Pipes one process has created and that still exist (anywhere: ends inherited by
    /// children, or one end closed with bytes still in it): `EMFILE` beyond. Above the
    /// 126 pairs the descriptor table allows, so it only bites on pipes kept alive
    /// elsewhere or half-closed.
    pub const MAX_PIPES: usize = 128;
    /// Threads per process (`EAGAIN` beyond).
    pub const MAX_THREADS: usize = 256;
    /// Processes in the system, zombies included (`EAGAIN` from fork and spawn beyond).
    pub const MAX_PROCESSES: usize = 4096;
    /// Pages of free memory kept for the kernel itself (page faults of kernel data,
    /// teardown of exiting processes): user pages, fork, threads and every kernel
    /// allocation a program asks for are refused (`ENOMEM`/`EAGAIN`) before memory
    /// falls below it.
    pub const KERNEL_RESERVE_PAGES: usize = 2048;

    /// Longest path accepted.
    pub const PATH_MAX: usize = 4096;
    /// Longest file name (one path component), in bytes.
    pub const NAME_MAX: usize = 255;
    /// Most argv + envp entries.
    pub const ARG_MAX_COUNT: usize = 256;
    /// Most bytes of argv + envp strings together.
    pub const ARG_MAX_BYTES: usize = 64 * 1024;
    /// Size of the kernel log ring: the most one `klog_read` can return.
    pub const KLOG_BYTES: usize = 64 * 1024;
}

/// The user address space layout shared by the kernel, the user linker script and libway.
///
/// Process entry: the kernel starts a program at its ELF entry point with the stack pointer
/// 16-byte aligned and four arguments in the first argument registers (x86_64 `rdi, rsi,
/// rdx, rcx`; aarch64 `x0..x3`): `argc`, `argv: *const StrRef`, `envc`,
/// `envp: *const StrRef`. The arrays and the strings they point to sit on the initial stack.
pub mod layout {
    /// Lowest address a user mapping may use (the first 4 MiB stay unmapped so null and
    /// small-offset dereferences fault).
    pub const USER_BASE: usize = 0x40_0000;
    /// One past the highest user address.
    pub const USER_END: usize = 0x7fff_ffff_f000;
    /// Where user programs are linked.
    pub const PROGRAM_BASE: usize = 0x40_0000;
    /// Top of the initial user stack (grows down).
    pub const STACK_TOP: usize = 0x7fff_ffff_0000;
    /// Size of the initial user stack; one unmapped guard page sits below it.
    pub const STACK_SIZE: usize = 256 * 1024;
}
