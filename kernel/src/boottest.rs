//! `boottest`: in-kernel checks of the boot path, run when the command line has `wayos.test`.
//!
//! Each check compares what the kernel sees against something known independently (the
//! initramfs the host packed, the symbol table the host extracted, a trap taken on purpose).
//! The suite ends with the harness's line format, `boottest: N passed, M failed`.
//! `wayos.crash=fault|panic` then kills the kernel on purpose so the harness can check the
//! fatal-error reports.

use wayos_kcore::boot_info::{BootInfo, MemoryKind};
use wayos_kcore::{cmdline, cpio};

use alloc::vec::Vec;
use wayos_kcore::buddy::FreeError;
use wayos_kcore::paging::PhysAddr;

use crate::mm::heap;
use crate::mm::pmm::{self, Frame, Tier};
use crate::{arch, backtrace, println, symbols, traps};

type Check = fn(&BootInfo) -> Result<(), &'static str>;

const CHECKS: &[(&str, Check)] = &[
    (
        "memory_map_sorted_and_disjoint",
        memory_map_sorted_and_disjoint,
    ),
    ("usable_memory_present", usable_memory_present),
    ("initramfs_is_valid_cpio", initramfs_is_valid_cpio),
    ("release_file_matches_host", release_file_matches_host),
    ("symbols_name_kernel_main", symbols_name_kernel_main),
    ("backtrace_walks_callers", backtrace_walks_callers),
    ("breakpoint_trap_returns", breakpoint_trap_returns),
    ("clock_is_monotonic", clock_is_monotonic),
    ("rtc_agrees_with_host", rtc_agrees_with_host),
    ("cmdline_has_test_flag", cmdline_has_test_flag),
    ("pmm_alloc_free_roundtrip", pmm_alloc_free_roundtrip),
    ("pmm_exhaustion_is_an_error", pmm_exhaustion_is_an_error),
    (
        "heap_grows_beyond_first_chunk",
        heap_grows_beyond_first_chunk,
    ),
    (
        "heap_huge_request_fails_cleanly",
        heap_huge_request_fails_cleanly,
    ),
    ("kernel_threads_interleave", kernel_threads_interleave),
    (
        "waking_many_sleepers_allocates_nothing_in_interrupts",
        waking_many_sleepers_allocates_nothing_in_interrupts,
    ),
    (
        "kernel_stack_has_unmapped_guard",
        kernel_stack_has_unmapped_guard,
    ),
    (
        "pmm_free_counter_matches_stats",
        pmm_free_counter_matches_stats,
    ),
    (
        "exit_of_unstarted_process_keeps_cpu_root",
        exit_of_unstarted_process_keeps_cpu_root,
    ),
    ("every_cpu_online", every_cpu_online),
    ("ipi_reaches_every_cpu", ipi_reaches_every_cpu),
    (
        "kernel_threads_run_on_every_cpu",
        kernel_threads_run_on_every_cpu,
    ),
    (
        "magic_key_report_runs_with_locks_held",
        magic_key_report_runs_with_locks_held,
    ),
];

/// The magic-key reports (`diag::dump`) print every section while the process table is
/// held (by this thread: a waiting report would never return), name the table busy and
/// show its holder.
fn magic_key_report_runs_with_locks_held(_: &BootInfo) -> Result<(), &'static str> {
    use wayos_abi::console::{MAGIC_DUMP, MAGIC_HELP, MAGIC_STATS};
    let mut dump = alloc::string::String::new();
    let me = crate::task::sched::current_tid();
    let cpu = arch::cpu_id();
    crate::task::process::with_table_locked(|| {
        crate::diag::dump::report(MAGIC_DUMP, &mut dump);
    });
    for section in [
        "== diagdump (kernel, magic key) ==",
        "-- processes",
        "-- threads",
        "-- locks",
        "-- run queues",
        "interrupts: timer ",
        "== end ==",
    ] {
        if !dump.contains(section) {
            return Err("a section of the dump is missing");
        }
    }
    if !dump.contains("(busy: the process table is locked)") {
        return Err("the held process table was not reported busy");
    }
    let holder = alloc::format!("cpu{cpu} tid {me}");
    if !dump
        .lines()
        .any(|l| l.trim_start().starts_with("process table") && l.contains(&holder))
    {
        return Err("the process table's holder is not shown");
    }
    let mut stats = alloc::string::String::new();
    crate::task::process::with_table_locked(|| {
        crate::diag::dump::report(MAGIC_STATS, &mut stats);
        crate::diag::dump::report(MAGIC_HELP, &mut stats);
    });
    if !stats.contains("== kstats (kernel, magic key) ==") || !stats.contains("syscalls ") {
        return Err("the stats report is incomplete");
    }
    if !stats.contains("magic key (Ctrl-]) then:") {
        return Err("no help");
    }
    Ok(())
}

/// Runs every check, prints one line per check and the summary; returns the failure count.
pub fn run(info: &BootInfo) -> usize {
    println!("running boottest");
    let mut failed = 0;
    let mut report = |name: &str, result: Result<(), &str>| match result {
        Ok(()) => println!("  ok   {name}"),
        Err(why) => {
            failed += 1;
            println!("  FAIL {name}: {why}");
        }
    };
    for (name, check) in CHECKS {
        report(name, check(info));
    }
    // The protection bits and flag hygiene of this ISA (`arch/*/hardening.rs`).
    for (name, check) in arch::HARDENING_CHECKS {
        report(name, check());
    }
    // The inference queue and its accelerators (`ai::selftest`).
    for (name, check) in crate::ai::selftest::CHECKS {
        report(name, check());
    }
    // Page migration between memory tiers (`mm::migrate::selftest`).
    for (name, check) in crate::mm::migrate::selftest::CHECKS {
        report(name, check());
    }
    // PCI enumeration (`pci::selftest`).
    for (name, check) in crate::pci::selftest::CHECKS {
        report(name, check());
    }
    // The NIC driver and its ring (`net::selftest`).
    for (name, check) in crate::net::selftest::CHECKS {
        report(name, check());
    }
    // The screen console (`display::selftest`).
    for (name, check) in crate::display::selftest::CHECKS {
        report(name, check());
    }
    // Last, after everything above has run on this stack.
    report("boot_stack_has_headroom", boot_stack_has_headroom());
    let total = 1
        + CHECKS.len()
        + crate::pci::selftest::CHECKS.len()
        + arch::HARDENING_CHECKS.len()
        + crate::ai::selftest::CHECKS.len()
        + crate::mm::migrate::selftest::CHECKS.len()
        + crate::net::selftest::CHECKS.len()
        + crate::display::selftest::CHECKS.len();
    println!("boottest: {} passed, {} failed", total - failed, failed);
    failed
}

/// Bytes of the boot stack that must never have been touched by the end of the boot test.
const BOOT_STACK_HEADROOM: usize = 64 * 1024;

/// The boot stack has no guard page: an overflow writes over the `.bss` below it and shows
/// up far away (it once stopped the clock). It starts zeroed, so the lowest non-zero byte is
/// the deepest it has been used; this fails well before it is full.
fn boot_stack_has_headroom() -> Result<(), &'static str> {
    let (bottom, size) = arch::boot_stack();
    let untouched = (0..size)
        // SAFETY: `bottom..bottom + size` is the boot stack, a static in the kernel image;
        // the bytes read lie below the live frames (we are near its top), and a volatile
        // byte read has no alignment requirement.
        .take_while(|&i| unsafe { core::ptr::read_volatile((bottom + i) as *const u8) } == 0)
        .count();
    println!(
        "  boot stack: {} KiB of {} KiB used",
        (size - untouched).div_ceil(1024),
        size / 1024
    );
    if untouched >= BOOT_STACK_HEADROOM {
        Ok(())
    } else {
        Err("the boot stack came within 64 KiB of its end")
    }
}

fn memory_map_sorted_and_disjoint(info: &BootInfo) -> Result<(), &'static str> {
    let regions = info.memory_map.regions();
    if regions.windows(2).all(|w| w[0].end() <= w[1].base) {
        Ok(())
    } else {
        Err("regions overlap or are out of order")
    }
}

fn usable_memory_present(info: &BootInfo) -> Result<(), &'static str> {
    let usable = info
        .memory_map
        .regions()
        .iter()
        .filter(|r| r.kind == MemoryKind::Usable);
    if usable
        .clone()
        .any(|r| r.base % 4096 != 0 || r.len % 4096 != 0)
    {
        return Err("a usable region is not page aligned");
    }
    if info.usable_memory() < 16 << 20 {
        return Err("less than 16 MiB usable");
    }
    Ok(())
}

fn initramfs_is_valid_cpio(info: &BootInfo) -> Result<(), &'static str> {
    let mut count = 0;
    for entry in cpio::entries(info.initramfs) {
        entry.map_err(|_| "malformed cpio entry")?;
        count += 1;
    }
    if count == 0 {
        return Err("initramfs is empty");
    }
    Ok(())
}

/// xtask packs `etc/wayos-release` containing `WayOS <version>`; the kernel's own version
/// must match, proving the initramfs bytes arrived intact from the host.
fn release_file_matches_host(info: &BootInfo) -> Result<(), &'static str> {
    let entry = cpio::find(info.initramfs, wayos_abi::harness::RELEASE_FILE)
        .map_err(|_| "initramfs unreadable")?
        .ok_or("etc/wayos-release missing")?;
    let text = core::str::from_utf8(entry.data).map_err(|_| "not UTF-8")?;
    let version = text
        .trim()
        .strip_prefix("WayOS ")
        .ok_or("no 'WayOS ' prefix")?;
    if version == crate::VERSION {
        Ok(())
    } else {
        Err("version differs from the kernel's")
    }
}

fn symbols_name_kernel_main(_: &BootInfo) -> Result<(), &'static str> {
    let addr = crate::kernel_main as *const () as usize;
    let sym = symbols::lookup(addr).ok_or("no symbol covers kernel_main")?;
    if sym.name != "kernel_main" || sym.addr as usize != addr {
        return Err("kernel_main resolves to another symbol");
    }
    if symbols::address_of("kernel_main") != Some(addr) {
        return Err("name lookup disagrees with address lookup");
    }
    Ok(())
}

#[inline(never)]
fn backtrace_walks_callers(_: &BootInfo) -> Result<(), &'static str> {
    // black_box keeps these calls from becoming tail calls, which would drop the caller's
    // frame from the chain in release builds.
    core::hint::black_box(backtrace_level_one())
}

#[inline(never)]
fn backtrace_level_one() -> Result<(), &'static str> {
    core::hint::black_box(backtrace_level_two())
}

#[inline(never)]
fn backtrace_level_two() -> Result<(), &'static str> {
    let mut frames = [0usize; 8];
    let n = backtrace::collect(arch::frame_pointer(), &mut frames);
    let want = ["backtrace_level_one", "backtrace_walks_callers"];
    let mut found = 0;
    for &ret in &frames[..n] {
        let Some(sym) = symbols::lookup(ret - 1) else {
            continue;
        };
        let name = rustc_demangle::demangle(sym.name);
        let mut buf = NameBuf::default();
        let _ = core::fmt::write(&mut buf, format_args!("{name:#}"));
        if found < want.len() && buf.as_str().ends_with(want[found]) {
            found += 1;
        }
    }
    if found == want.len() {
        Ok(())
    } else {
        Err("callers missing from the frame chain")
    }
}

/// A small stack buffer for formatting a demangled name.
struct NameBuf {
    buf: [u8; 160],
    len: usize,
}

impl Default for NameBuf {
    fn default() -> Self {
        Self {
            buf: [0; 160],
            len: 0,
        }
    }
}

impl NameBuf {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl core::fmt::Write for NameBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

fn breakpoint_trap_returns(_: &BootInfo) -> Result<(), &'static str> {
    let before = traps::breakpoints_seen();
    arch::breakpoint();
    arch::breakpoint();
    if traps::breakpoints_seen() == before + 2 {
        Ok(())
    } else {
        Err("breakpoint handler did not run exactly twice")
    }
}

fn clock_is_monotonic(_: &BootInfo) -> Result<(), &'static str> {
    let mut last = arch::uptime_ns();
    let first = last;
    for _ in 0..10_000 {
        let now = arch::uptime_ns();
        if now < last {
            return Err("uptime went backwards");
        }
        last = now;
    }
    if last > first {
        Ok(())
    } else {
        Err("uptime did not advance")
    }
}

/// The RTC answered at boot, agrees with the host's clock (`wayos.hosttime`, which xtask
/// passes; QEMU's RTC starts at the host's UTC time) to within a day, and `realtime_ns`
/// agrees with the RTC read now to within two seconds (the RTC counts whole seconds).
fn rtc_agrees_with_host(info: &BootInfo) -> Result<(), &'static str> {
    const DAY: u64 = 86_400;
    let host: u64 = cmdline::get(info.cmdline(), wayos_abi::harness::HOSTTIME_KEY)
        .ok_or("wayos.hosttime missing from the command line")?
        .parse()
        .map_err(|_| "wayos.hosttime is not a number of seconds")?;
    if !crate::time::from_rtc() {
        return Err("no RTC answered at boot");
    }
    let rtc = arch::rtc_epoch_seconds().ok_or("the RTC stopped answering")?;
    let real = crate::time::realtime_ns() / 1_000_000_000;
    println!(
        "  ..   rtc {} UTC, host {} s, rtc - host {} s",
        wayos_kcore::date::DateTime::from_epoch_seconds(rtc),
        host,
        rtc as i64 - host as i64
    );
    if rtc.abs_diff(host) >= DAY {
        return Err("RTC and host clock differ by a day or more");
    }
    if real.abs_diff(rtc) > 2 {
        return Err("realtime_ns disagrees with the RTC");
    }
    Ok(())
}

fn cmdline_has_test_flag(info: &BootInfo) -> Result<(), &'static str> {
    if cmdline::flag(info.cmdline(), wayos_abi::harness::TEST_FLAG) {
        Ok(())
    } else {
        Err("wayos.test missing from the parsed command line")
    }
}

/// Kills the kernel on purpose: `fault` reads an unmapped address, `panic` panics.
pub fn crash(what: &str) {
    match what {
        "fault" => {
            println!(
                "boottest: reading unmapped address {:#x} on purpose",
                CRASH_ADDR
            );
            crash_by_fault();
        }
        "panic" => crash_by_panic(),
        "stack" => {
            println!("boottest: overflowing this thread's kernel stack on purpose");
            core::hint::black_box(crash_by_stack_overflow(0));
        }
        other => println!("wayos.crash={other}: unknown (want fault, panic or stack)"),
    }
}

/// Below the user/kernel split and never mapped by any loader.
const CRASH_ADDR: usize = 0xdead_0000;

#[inline(never)]
fn crash_by_fault() {
    // SAFETY: deliberately unsound: the address is unmapped and the read must trap, so the
    // harness can check the fault report. Nothing runs after it.
    let v = unsafe { (CRASH_ADDR as *const u64).read_volatile() };
    core::hint::black_box(v);
}

/// Recurses with 512 bytes of locals per call until the stack runs into its guard, which
/// must end in the "kernel stack overflow in thread N" panic. Runs on the calling user
/// thread's kernel stack (init's `shutdown`), which lives in the guarded window; checked by
/// hand on both ISAs (the harness checks the fault and panic reports only).
#[inline(never)]
fn crash_by_stack_overflow(depth: u64) -> u64 {
    let locals = core::hint::black_box([depth; 64]);
    if depth == u64::MAX {
        return 0;
    }
    crash_by_stack_overflow(depth + 1).wrapping_add(locals[(depth % 64) as usize])
}

#[inline(never)]
fn crash_by_panic() {
    panic!("deliberate panic requested by wayos.crash=panic");
}

// ---------------------------------------------------------------------------------------
// Physical memory and heap
// ---------------------------------------------------------------------------------------

/// The word written at physical address `pa` by the pattern checks: the address itself,
/// tagged, so a block that overlaps another (or aliases it) reads back a wrong value.
fn pattern_word(pa: u64, tag: u64) -> u64 {
    pa ^ (0x5a5a_0000_0000_0000 | tag)
}

/// Writes the pattern over a whole block through the direct map.
fn fill_pattern(frame: Frame, order: u8, tag: u64) {
    let words = (pmm::block_bytes(order) / 8) as usize;
    let base = frame.as_ptr().cast::<u64>();
    let pa = frame.start().as_u64();
    for i in 0..words {
        // SAFETY: the block is allocated to this check, `block_bytes(order)` long and
        // mapped by the direct map; `i` stays inside it.
        unsafe {
            base.add(i)
                .write_volatile(pattern_word(pa + 8 * i as u64, tag))
        };
    }
}

/// Whether the block still holds the pattern `fill_pattern` wrote.
fn pattern_intact(frame: Frame, order: u8, tag: u64) -> bool {
    let words = (pmm::block_bytes(order) / 8) as usize;
    let base = frame.as_ptr().cast::<u64>();
    let pa = frame.start().as_u64();
    (0..words).all(|i| {
        // SAFETY: as in `fill_pattern`.
        let v = unsafe { base.add(i).read_volatile() };
        v == pattern_word(pa + 8 * i as u64, tag)
    })
}

/// Allocates blocks of several orders in each tier, writes a distinct pattern into each,
/// checks they are aligned, disjoint and intact, frees them and checks the counters are
/// back where they were; also that a double free is refused and the frame refcounts the
/// VMM uses count up and down.
fn pmm_alloc_free_roundtrip(_: &BootInfo) -> Result<(), &'static str> {
    const ORDERS: [u8; 6] = [0, 1, 3, 0, 5, 9];
    let mut tiers = 0;
    for tier in Tier::ALL {
        let Some(before) = pmm::stats(tier) else {
            continue;
        };
        tiers += 1;
        let mut blocks = [(Frame::containing(PhysAddr::new(0)), 0u8); ORDERS.len()];
        for (slot, &order) in blocks.iter_mut().zip(&ORDERS) {
            let frame =
                pmm::alloc_frames(tier, order).map_err(|_| "allocation failed with memory free")?;
            if frame.start().as_u64() % pmm::block_bytes(order) != 0 {
                return Err("block not aligned to its size");
            }
            *slot = (frame, order);
        }
        for (i, a) in blocks.iter().enumerate() {
            for b in &blocks[i + 1..] {
                let (a0, b0) = (a.0.start().as_u64(), b.0.start().as_u64());
                if a0 < b0 + pmm::block_bytes(b.1) && b0 < a0 + pmm::block_bytes(a.1) {
                    return Err("two allocated blocks overlap");
                }
            }
        }
        for (tag, &(frame, order)) in blocks.iter().enumerate() {
            fill_pattern(frame, order, tag as u64);
        }
        if !blocks
            .iter()
            .enumerate()
            .all(|(tag, &(f, o))| pattern_intact(f, o, tag as u64))
        {
            return Err("pattern read back differs from what was written");
        }
        let during = pmm::stats(tier).ok_or("tier vanished")?;
        let taken: usize = ORDERS.iter().map(|&o| 1usize << o).sum();
        if during.used_pages() != before.used_pages() + taken
            || during.free_pages() + taken != before.free_pages()
        {
            return Err("counters do not reflect the allocations");
        }
        for &(frame, order) in &blocks {
            pmm::free_frames(frame, order).map_err(|_| "free of an allocated block failed")?;
        }
        let (frame, order) = blocks[2];
        if !matches!(
            pmm::free_frames(frame, order),
            Err(FreeError::DoubleFree { .. })
        ) {
            return Err("double free was not refused");
        }
        // The blocks just freed hold patterns; a zeroed allocation must not show them.
        let zeroed = pmm::alloc_frames_zeroed(tier, 3).map_err(|_| "zeroed allocation failed")?;
        let words = (pmm::block_bytes(3) / 8) as usize;
        let base = zeroed.as_ptr().cast::<u64>();
        // SAFETY: the block is allocated to this check and direct-mapped; `i < words`.
        let all_zero = (0..words).all(|i| unsafe { base.add(i).read_volatile() } == 0);
        pmm::free_frames(zeroed, 3).map_err(|_| "free of the zeroed block failed")?;
        if !all_zero {
            return Err("zeroed allocation holds old data");
        }
        if pmm::stats(tier) != Some(before) {
            return Err("free counts did not return to their starting values");
        }
    }
    if tiers == 0 {
        return Err("no tier has memory");
    }

    let before = pmm::stats(Tier::Near);
    let pa = pmm::alloc_page().ok_or("no page for the refcount check")?;
    let counts = [
        pmm::ref_count(pa),
        pmm::ref_inc(pa),
        pmm::ref_count(pa),
        pmm::ref_dec(pa),
        pmm::ref_dec(pa),
    ];
    pmm::free_page(pa);
    if counts != [1, 2, 2, 1, 0] {
        return Err("frame refcounts did not count 1, 2, 2, 1, 0");
    }
    if pmm::stats(Tier::Near) != before {
        return Err("refcount check leaked its page");
    }
    Ok(())
}

/// Takes every free frame of each tier one at a time until the PMM says out of memory,
/// then gives them all back. The frames are chained through their own first word, so the
/// check needs no heap while memory is exhausted.
fn pmm_exhaustion_is_an_error(_: &BootInfo) -> Result<(), &'static str> {
    const END: u64 = u64::MAX;
    let mut tiers = 0;
    for tier in Tier::ALL {
        let Some(before) = pmm::stats(tier) else {
            continue;
        };
        tiers += 1;
        let mut head = END;
        let mut taken = 0usize;
        while let Ok(frame) = pmm::alloc_frames(tier, 0) {
            // SAFETY: a frame just allocated to this check, mapped by the direct map.
            unsafe { frame.as_ptr().cast::<u64>().write_volatile(head) };
            head = frame.start().as_u64();
            taken += 1;
        }
        let exhausted = pmm::stats(tier).ok_or("tier vanished")?;
        let larger_fails = pmm::alloc_frames(tier, 2).is_err();
        let mut freed = 0usize;
        while head != END {
            let frame = Frame::containing(PhysAddr::new(head));
            // SAFETY: `frame` is one of the frames chained above, still allocated to us.
            head = unsafe { frame.as_ptr().cast::<u64>().read_volatile() };
            pmm::free_frames(frame, 0).map_err(|_| "freeing a chained frame failed")?;
            freed += 1;
        }
        println!(
            "  ..   {}: {} frames until out of memory, all freed",
            tier.name(),
            taken
        );
        if taken != before.free_pages() {
            return Err("frames handed out differ from the free count");
        }
        if exhausted.free_pages() != 0 || !larger_fails {
            return Err("allocator still had memory after saying out of memory");
        }
        if freed != taken {
            return Err("the frame chain lost frames");
        }
        if pmm::stats(tier) != Some(before) {
            return Err("counts not restored after freeing everything");
        }
    }
    if tiers == 0 {
        return Err("no tier has memory");
    }
    Ok(())
}

/// Allocates vectors totalling more than the heap has free (and more than its first
/// chunk), so it must grow, checks their contents and that dropping them returns the
/// heap's usage to where it was.
fn heap_grows_beyond_first_chunk(_: &BootInfo) -> Result<(), &'static str> {
    const WORDS: usize = 512 * 1024 / 8;
    let before = heap::stats();
    let free = before.size - before.used;
    let count = (free / (WORDS * 8) + 3).clamp(5, 64);
    let mut vecs: Vec<Vec<u64>> = Vec::new();
    vecs.try_reserve_exact(count)
        .map_err(|_| "no room for the vector list")?;
    for i in 0..count {
        let mut v = Vec::new();
        v.try_reserve_exact(WORDS)
            .map_err(|_| "heap could not grow")?;
        v.extend((0..WORDS).map(|j| (i * WORDS + j) as u64 ^ 0xa5a5_a5a5));
        vecs.push(v);
    }
    let during = heap::stats();
    let intact = vecs.iter().enumerate().all(|(i, v)| {
        v.len() == WORDS
            && v.iter()
                .enumerate()
                .all(|(j, &w)| w == (i * WORDS + j) as u64 ^ 0xa5a5_a5a5)
    });
    drop(vecs);
    let after = heap::stats();
    if !intact {
        return Err("vector contents differ from what was written");
    }
    if during.size <= before.size || during.grows <= before.grows {
        return Err("the heap did not grow");
    }
    if during.size < count * WORDS * 8 {
        return Err("heap smaller than the live allocations");
    }
    if after.used != before.used {
        return Err("heap usage not restored after dropping everything");
    }
    Ok(())
}

/// Asks for more than the machine has: the allocation must fail with an error, take no
/// frames, and leave the heap working.
fn heap_huge_request_fails_cleanly(_: &BootInfo) -> Result<(), &'static str> {
    let free_pages = || {
        Tier::ALL
            .iter()
            .filter_map(|&t| pmm::stats(t))
            .map(|s| s.free_pages())
            .sum::<usize>()
    };
    let pmm_before = free_pages();
    let heap_before = heap::stats();
    if Vec::<u8>::new().try_reserve_exact(1 << 40).is_ok() {
        return Err("a 1 TiB allocation succeeded");
    }
    // Just more than all free memory: within the buddy's largest order on small guests.
    let too_big = pmm_before * 4096 + (4 << 20);
    if Vec::<u8>::new().try_reserve_exact(too_big).is_ok() {
        return Err("an allocation larger than free memory succeeded");
    }
    if free_pages() != pmm_before || heap::stats() != heap_before {
        return Err("a failed allocation changed the PMM or the heap");
    }
    let mut v: Vec<u32> = Vec::new();
    v.try_reserve(1000)
        .map_err(|_| "small allocation failed after the huge one")?;
    v.extend(0..1000);
    if v.iter().sum::<u32>() != 999 * 1000 / 2 {
        return Err("small vector has the wrong contents");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Threads and the scheduler
// ---------------------------------------------------------------------------------------

/// Two kernel threads take turns appending their id to a shared log, yielding after each
/// step; the boot thread yields until both have exited. Interleaving proves the context
/// switch saves and restores each thread, and the exits prove dead threads are reaped.
fn kernel_threads_interleave(_: &BootInfo) -> Result<(), &'static str> {
    use crate::sync::Mutex;
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicUsize, Ordering};

    use crate::task::{sched, thread::Thread};

    const STEPS: usize = 20;
    let log: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicUsize::new(0));
    for id in [b'a', b'b'] {
        let (log, done) = (log.clone(), done.clone());
        let t = Thread::kernel(wayos_abi::sched::NORMAL, move || {
            for _ in 0..STEPS {
                log.lock().push(id);
                sched::yield_now();
            }
            done.fetch_add(1, Ordering::SeqCst);
        })
        .map_err(|_| "no memory for a kernel thread")?;
        // Both on this CPU: on two CPUs they would run side by side, not take turns.
        t.affinity
            .store(1 << crate::arch::cpu_id(), Ordering::Relaxed);
        sched::make_ready(t);
    }
    for _ in 0..10_000 {
        if done.load(Ordering::SeqCst) == 2 {
            break;
        }
        sched::yield_now();
    }
    if done.load(Ordering::SeqCst) != 2 {
        return Err("the threads did not both finish");
    }
    let log = log.lock();
    if log.len() != 2 * STEPS {
        return Err("steps were lost");
    }
    // Round robin: after the first step the two ids strictly alternate.
    if log.windows(2).any(|w| w[0] == w[1]) {
        return Err("the threads did not alternate");
    }
    Ok(())
}

/// Many threads sleeping until the same tick on this CPU: the timer interrupt wakes them
/// all into one ready queue, longer than any before, and must not allocate doing so (an
/// interrupt handler never allocates: the heap's lock, and the PMM lock behind its growth,
/// may be held by the code it interrupted). Interrupt handlers made no allocation at all
/// since boot, this included.
fn waking_many_sleepers_allocates_nothing_in_interrupts(_: &BootInfo) -> Result<(), &'static str> {
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use crate::task::sched;
    use crate::task::thread::{State, Thread};

    const THREADS: usize = 128;
    // Far enough that only the deadline set below wakes them.
    let far = arch::uptime_ns() + 600_000_000_000;
    let go = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    threads
        .try_reserve_exact(THREADS)
        .map_err(|_| "no memory for the thread list")?;
    // One at a time, each put to sleep before the next starts: no queue ever holds many of
    // them outside the interrupt, so the wake-up is the first time one does.
    for _ in 0..THREADS {
        let (go, done) = (go.clone(), done.clone());
        let t = Thread::kernel(wayos_abi::sched::NORMAL, move || {
            while !go.load(Ordering::SeqCst) {
                sched::sleep_until(far);
            }
            done.fetch_add(1, Ordering::SeqCst);
        })
        .map_err(|_| "no memory for a kernel thread")?;
        t.affinity.store(1 << arch::cpu_id(), Ordering::Relaxed);
        sched::make_ready(t.clone());
        for _ in 0..1000 {
            if t.state() == State::Sleeping {
                break;
            }
            sched::yield_now();
        }
        threads.push(t);
    }
    // All due at the same tick.
    go.store(true, Ordering::SeqCst);
    let soon = arch::uptime_ns() + 20_000_000;
    for t in &threads {
        sched::set_deadline(t, soon);
    }
    drop(threads);
    // The boot thread runs with interrupts off; on a single CPU nothing else would take
    // the tick that wakes them.
    let was_enabled = arch::interrupts_enabled();
    arch::enable_interrupts();
    let give_up = soon + 10_000_000_000;
    let mut woke = true;
    while done.load(Ordering::SeqCst) != THREADS {
        if arch::uptime_ns() > give_up {
            woke = false;
            break;
        }
        sched::yield_now();
    }
    if !was_enabled {
        arch::disable_interrupts();
    }
    if !woke {
        return Err("the sleeping threads did not all wake within 10 s");
    }
    match traps::allocations_in_interrupts() {
        0 => Ok(()),
        _ => Err("an interrupt handler allocated from the heap"),
    }
}

/// A thread's kernel stack is mapped, and the page right below it (and the whole guard
/// down to the slot below) is not: an overflow faults instead of overwriting memory. The
/// trap code turns that fault into a "kernel stack overflow in thread N" panic.
fn kernel_stack_has_unmapped_guard(_: &BootInfo) -> Result<(), &'static str> {
    use crate::mm::kstack;
    use crate::task::thread::Thread;
    use wayos_kcore::paging::{PageTable, VirtAddr};

    let t = Thread::kernel(wayos_abi::sched::NORMAL, || {})
        .map_err(|_| "no memory for a kernel thread")?;
    let (lo, top) = t.stack_bounds().ok_or("the thread has no kernel stack")?;
    let table = PageTable::<arch::PteFormat>::from_root(arch::kernel_root());
    let mapped = |va: usize| {
        table
            .translate(&crate::mm::physmem::KernelPhysMem, VirtAddr::new(va as u64))
            .is_some()
    };
    let result = if !mapped(lo) || !mapped(top - 8) {
        Err("the kernel stack itself is not mapped")
    } else if mapped(lo - 8) || mapped(lo - kstack::STACK_SIZE) {
        Err("memory right below a kernel stack is mapped: an overflow would corrupt it")
    } else if !kstack::is_guard(lo as u64 - 8) || kstack::is_guard(lo as u64) {
        Err("the trap code would not recognize an overflow into the guard")
    } else {
        Ok(())
    };
    // It runs (and ends) like any thread, so its stack and closure are freed as usual.
    crate::task::sched::make_ready(t);
    result
}

/// The fast free-page counter (used by the page-fault path) agrees with the allocators'
/// own statistics after everything the earlier checks allocated and freed.
fn pmm_free_counter_matches_stats(_: &BootInfo) -> Result<(), &'static str> {
    let from_stats: usize = Tier::ALL
        .iter()
        .filter_map(|&t| pmm::stats(t))
        .map(|s| s.free_pages())
        .sum();
    if pmm::free_pages() == from_stats {
        Ok(())
    } else {
        Err("free-page counter and tier statistics disagree")
    }
}

/// A fork or spawn whose child's first thread cannot be created tears the child down on
/// the parent's CPU. That must leave the CPU on the parent's page tables: tearing down a
/// process that never ran (here: one in no table, on a fresh address space) while another
/// address space is loaded keeps that one loaded.
fn exit_of_unstarted_process_keeps_cpu_root(_: &BootInfo) -> Result<(), &'static str> {
    use crate::mm::space::{activate_kernel_root, activate_root, AddressSpace};
    use crate::task::process::Process;

    let parent = AddressSpace::new().map_err(|_| "no memory for an address space")?;
    let child = AddressSpace::new().map_err(|_| "no memory for an address space")?;
    let _irq = arch::IrqGuard::new();
    activate_root(parent.root());
    let p = Process::unregistered("boottest-unstarted", child);
    p.exit(wayos_abi::wait::killed(wayos_abi::signal::SIGKILL));
    let kept = arch::current_root() == parent.root();
    activate_kernel_root();
    drop(p);
    drop(parent);
    if kept {
        Ok(())
    } else {
        Err("tearing down a process that never ran switched this CPU's page tables")
    }
}

// ---------------------------------------------------------------------------------------
// Multiprocessor

/// Every CPU the firmware lists (MADT / device tree; xtask checks that count against
/// QEMU's `-smp`) came online.
fn every_cpu_online(info: &BootInfo) -> Result<(), &'static str> {
    if crate::smp::online() != info.cpu_count.min(wayos_abi::smp::MAX_CPUS) {
        return Err("fewer CPUs online than the firmware lists");
    }
    Ok(())
}

/// An IPI to each other CPU runs its handler there: that CPU's IPI count grows.
fn ipi_reaches_every_cpu(_: &BootInfo) -> Result<(), &'static str> {
    use core::sync::atomic::Ordering;
    let me = crate::arch::cpu_id();
    for cpu in (0..crate::smp::online()).filter(|&c| c != me) {
        let count = || crate::smp::stats(cpu).ipis.load(Ordering::SeqCst);
        let before = count();
        crate::arch::send_ipi(cpu);
        let deadline = crate::arch::uptime_ns() + 2_000_000_000;
        while count() == before {
            if crate::arch::uptime_ns() > deadline {
                return Err("a CPU did not take its IPI within 2 s");
            }
            core::hint::spin_loop();
        }
    }
    Ok(())
}

/// A kernel thread pinned to each CPU runs there (it reads its own CPU index), and they
/// all finish.
fn kernel_threads_run_on_every_cpu(_: &BootInfo) -> Result<(), &'static str> {
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use crate::task::{sched, thread::Thread};

    let n = crate::smp::online();
    let seen = Arc::new(AtomicU64::new(0));
    let wrong = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    for cpu in 0..n {
        let (seen, wrong, done) = (seen.clone(), wrong.clone(), done.clone());
        let t = Thread::kernel(wayos_abi::sched::NORMAL, move || {
            let here = crate::arch::cpu_id();
            if here != cpu {
                wrong.fetch_add(1, Ordering::SeqCst);
            }
            seen.fetch_or(1 << here, Ordering::SeqCst);
            done.fetch_add(1, Ordering::SeqCst);
        })
        .map_err(|_| "no memory for a kernel thread")?;
        t.affinity.store(1 << cpu, Ordering::Relaxed);
        sched::make_ready(t);
    }
    let deadline = crate::arch::uptime_ns() + 5_000_000_000;
    while done.load(Ordering::SeqCst) != n {
        if crate::arch::uptime_ns() > deadline {
            return Err("the pinned threads did not all run within 5 s");
        }
        // The boot thread is this CPU's idle thread, which never blocks: yield instead.
        sched::yield_now();
    }
    if wrong.load(Ordering::SeqCst) != 0 {
        return Err("a pinned thread ran on another CPU");
    }
    if seen.load(Ordering::SeqCst) != (1u64 << n) - 1 {
        return Err("not every CPU ran its thread");
    }
    Ok(())
}
