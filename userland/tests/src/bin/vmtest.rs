//! `vmtest`: the seed's seven virtual-memory tests, run in user space against the kernel's
//! VMM: demand paging, copy-on-write after fork, MAP_SHARED across fork, partial munmap,
//! mprotect violations, the stack guard page and fork of a large address space.
//!
//! Every expected value is computed from a page or word index ([`pattern`]), never read
//! back from the memory under test, so a kernel that maps the wrong frame, shares what it
//! should copy or copies what it should share fails. Faults that are the point of a test
//! happen in forked children, and the parent checks the wait status names SIGSEGV.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use core::hint::black_box;

use libway::abi::errno;
use libway::abi::mman::{PAGE_SIZE, PROT_READ, PROT_WRITE};
use libway::abi::signal::SIGSEGV;
use libway::suite::{expect_exit, expect_signal, explain_exit, in_child, Check, Context, Suite};
use libway::{mem, println, Args};

libway::entry!(main);

const PAGE: usize = PAGE_SIZE;
const WORDS_PER_PAGE: usize = PAGE / 8;
/// Size of the big mappings (demand_paging, fork_large).
const BIG: usize = 64 * 1024 * 1024;

/// A value for word `index` of a test: splitmix64 of (seed, index), never zero, so it can
/// be told from demand-zero memory and from any other word's value.
fn pattern(seed: u64, index: usize) -> u64 {
    let mut z = seed.wrapping_add((index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) | 1
}

/// Where in page `i` the one-word-per-page tests put their word: varies with the page so
/// a mix-up between pages or offsets shows.
fn slot(i: usize) -> usize {
    (i * 37 % WORDS_PER_PAGE) * 8
}

/// An anonymous mapping owned by one test, unmapped when dropped.
///
/// Every access is a volatile load or store of one aligned word inside the mapping, so it
/// really reaches memory: the compiler cannot assume a fork, a child or another process
/// left a value unchanged. An access to a page the test unmapped or made read-only faults
/// and kills the process — what the children of this suite do on purpose.
struct Region {
    base: usize,
    len: usize,
}

impl Region {
    fn map(len: usize, shared: bool) -> Result<Region, String> {
        let base = mem::map_anonymous(len, shared).map_err(|e| format!("mmap({len:#x}): {e}"))?;
        if !base.is_multiple_of(PAGE) {
            return Err(format!("mmap returned unaligned address {base:#x}"));
        }
        Ok(Region { base, len })
    }

    fn pages(&self) -> usize {
        self.len / PAGE
    }

    /// The word at byte offset `off`.
    fn word(&self, off: usize) -> *mut u64 {
        assert!(
            off.is_multiple_of(8) && off + 8 <= self.len,
            "offset {off:#x} outside the region"
        );
        (self.base + off) as *mut u64
    }

    fn read(&self, off: usize) -> u64 {
        // SAFETY: an aligned word inside a mapping this test owns (see the type's docs
        // for pages the test unmapped or protected on purpose).
        unsafe { self.word(off).read_volatile() }
    }

    fn write(&self, off: usize, value: u64) {
        // SAFETY: as in `read`; no Rust reference points into the mapping.
        unsafe { self.word(off).write_volatile(value) }
    }

    /// Fills every word with `pattern(seed, word index)`.
    fn fill(&self, seed: u64) {
        for w in 0..self.len / 8 {
            self.write(w * 8, pattern(seed, w));
        }
    }

    /// Checks every word of pages `pages` holds `pattern(seed, word index)`.
    fn verify(&self, seed: u64, pages: impl IntoIterator<Item = usize>) -> Check {
        for p in pages {
            for w in p * WORDS_PER_PAGE..(p + 1) * WORDS_PER_PAGE {
                let (got, want) = (self.read(w * 8), pattern(seed, w));
                if got != want {
                    return Err(format!(
                        "page {p} word {w}: read {got:#x}, expected {want:#x}"
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping belongs to this region alone and no access outlives it.
        let _ = unsafe { mem::munmap(self.base, self.len) };
    }
}

/// (1) 64 MiB of anonymous memory reads as zero and holds a distinct word per page.
fn demand_paging() -> Check {
    const SEED: u64 = 0x0001;
    let r = Region::map(BIG, false)?;
    for i in 0..r.pages() {
        let at = i * PAGE + slot(i);
        let v = r.read(at);
        if v != 0 {
            return Err(format!(
                "page {i} reads {v:#x} before any write, expected 0"
            ));
        }
        r.write(at, pattern(SEED, i));
    }
    for i in 0..r.pages() {
        let (got, want) = (r.read(i * PAGE + slot(i)), pattern(SEED, i));
        if got != want {
            return Err(format!("page {i}: read back {got:#x}, expected {want:#x}"));
        }
        let other = (slot(i) + PAGE / 2) % PAGE;
        let v = r.read(i * PAGE + other);
        if v != 0 {
            return Err(format!(
                "page {i} offset {other:#x} reads {v:#x}, expected 0"
            ));
        }
    }
    Ok(())
}

/// Words of private data in .bss that `cow_isolation` checks across fork.
static STATIC_WORDS: [core::sync::atomic::AtomicU64; 64] =
    [const { core::sync::atomic::AtomicU64::new(0) }; 64];

fn fill_static(seed: u64) {
    for (i, w) in STATIC_WORDS.iter().enumerate() {
        w.store(pattern(seed, i), core::sync::atomic::Ordering::Relaxed);
    }
}

fn static_matches(seed: u64) -> bool {
    STATIC_WORDS
        .iter()
        .enumerate()
        .all(|(i, w)| w.load(core::sync::atomic::Ordering::Relaxed) == pattern(seed, i))
}

fn fill_stack(words: &mut [u64], seed: u64) {
    for (i, w) in words.iter_mut().enumerate() {
        // SAFETY: `w` is a valid, exclusive reference; volatile so the store is not elided.
        unsafe { core::ptr::write_volatile(w, pattern(seed, i)) };
    }
}

fn stack_matches(words: &[u64], seed: u64) -> bool {
    words.iter().enumerate().all(|(i, w)| {
        // SAFETY: `w` is a valid reference; volatile so the load really happens.
        unsafe { core::ptr::read_volatile(w) == pattern(seed, i) }
    })
}

/// (2) After fork, the child's writes to private memory (mmap, .bss, stack) stay its own.
fn cow_isolation() -> Check {
    const PARENT: u64 = 0x0002;
    const CHILD: u64 = 0x0003;
    let r = Region::map(3 * PAGE, false)?;
    r.fill(PARENT);
    fill_static(PARENT);
    let mut stack = [0u64; 64];
    fill_stack(&mut stack, PARENT);
    black_box(&mut stack);
    let status = in_child(|| {
        if r.verify(PARENT, 0..3).is_err() {
            return 1;
        }
        if !static_matches(PARENT) || !stack_matches(&stack, PARENT) {
            return 2;
        }
        r.fill(CHILD);
        fill_static(CHILD);
        fill_stack(&mut stack, CHILD);
        if r.verify(CHILD, 0..3).is_err() || !static_matches(CHILD) || !stack_matches(&stack, CHILD)
        {
            return 3;
        }
        0
    })?;
    r.verify(PARENT, 0..3)
        .context("parent's mapping changed after the child wrote")?;
    if !static_matches(PARENT) {
        return Err("parent's .bss changed after the child wrote".into());
    }
    if !stack_matches(&stack, PARENT) {
        return Err("parent's stack changed after the child wrote".into());
    }
    expect_exit(status, 0).map_err(explain_exit(
        status,
        &[
            (1, "inherited mapping does not hold the parent's data"),
            (2, "inherited .bss or stack does not hold the parent's data"),
            (3, "its own writes did not read back"),
        ],
    ))
}

/// (3) A MAP_SHARED mapping is the same memory on both sides of fork.
fn map_shared_visible() -> Check {
    const BEFORE: u64 = 0x0004;
    const CHILD: u64 = 0x0005;
    let r = Region::map(2 * PAGE, true)?;
    r.write(0, pattern(BEFORE, 0));
    let status = in_child(|| {
        if r.read(0) != pattern(BEFORE, 0) {
            return 1;
        }
        r.fill(CHILD);
        0
    })?;
    expect_exit(status, 0).map_err(explain_exit(
        status,
        &[(1, "does not see the parent's write made before fork")],
    ))?;
    r.verify(CHILD, 0..2)
        .context("parent does not see the child's writes")
}

/// (4) munmap of the middle two of four pages keeps the outer two; the hole faults.
fn partial_munmap() -> Check {
    const SEED: u64 = 0x0006;
    let r = Region::map(4 * PAGE, false)?;
    r.fill(SEED);
    // SAFETY: a misaligned address must be refused; if it were accepted it would only
    // unmap pages of this region, which nothing else uses.
    match unsafe { mem::munmap(r.base + 1, PAGE) } {
        Err(e) if e.code() == errno::EINVAL => {}
        Err(e) => return Err(format!("munmap(unaligned) gave {e}, expected EINVAL")),
        Ok(()) => return Err("munmap(unaligned) succeeded, expected EINVAL".into()),
    }
    r.verify(SEED, 0..4).context("after the refused munmap")?;
    // SAFETY: pages 1 and 2 belong to this region; only children touch them from now on,
    // to check they fault.
    unsafe { mem::munmap(r.base + PAGE, 2 * PAGE) }.context("munmap(middle two pages)")?;
    r.verify(SEED, [0, 3]).context("outer page lost its data")?;
    for (page, off) in [(1, 0), (2, PAGE - 8)] {
        let status = in_child(|| {
            black_box(r.read(page * PAGE + off));
            0
        })?;
        expect_signal(status, SIGSEGV)
            .map_err(|e| format!("touching unmapped page {page}: {e}"))?;
    }
    Ok(())
}

/// (5) Writing a page made read-only kills the writer; the data survives and writes work
/// again after mprotect back to read-write.
fn mprotect_violation() -> Check {
    const SEED: u64 = 0x0007;
    const AFTER: u64 = 0x0008;
    let r = Region::map(PAGE, false)?;
    r.fill(SEED);
    // SAFETY: no reference points into the region; only the child writes it while
    // read-only, to check that faults.
    unsafe { mem::mprotect(r.base, PAGE, PROT_READ) }.context("mprotect(PROT_READ)")?;
    let status = in_child(|| {
        r.write(3 * 8, !pattern(SEED, 3));
        0
    })?;
    expect_signal(status, SIGSEGV).context("write to read-only page")?;
    r.verify(SEED, [0])
        .context("read-only page after the child's attempt")?;
    // SAFETY: as above; the region is only accessed through volatile word accesses.
    unsafe { mem::mprotect(r.base, PAGE, PROT_READ | PROT_WRITE) }
        .context("mprotect(PROT_READ | PROT_WRITE)")?;
    r.write(0, pattern(AFTER, 0));
    let got = r.read(0);
    if got != pattern(AFTER, 0) {
        return Err(format!(
            "write after mprotect back to RW read back {got:#x}"
        ));
    }
    let (got, want) = (r.read(8), pattern(SEED, 1));
    if got != want {
        return Err(format!(
            "word 1 reads {got:#x} after mprotect, expected {want:#x}"
        ));
    }
    Ok(())
}

/// Recurses with a 2 KiB frame it fills completely, so every stack page is touched in
/// order and the guard page below the stack is hit rather than skipped.
#[inline(never)]
fn recurse(depth: usize) -> usize {
    let mut frame = [0u8; 2048];
    frame.fill(depth as u8);
    let frame = black_box(&mut frame);
    if depth == usize::MAX {
        return 0;
    }
    recurse(depth + 1) + frame[depth % frame.len()] as usize
}

/// (6) Unbounded recursion hits the guard page and is killed by SIGSEGV.
fn guard_page() -> Check {
    let status = in_child(|| {
        let n = recurse(0);
        black_box(n);
        0
    })?;
    expect_signal(status, SIGSEGV)
}

/// (7) Fork of a 64 MiB, fully touched address space: the child sees the parent's data
/// and its writes do not reach the parent.
fn fork_large() -> Check {
    const SEED: u64 = 0x0009;
    let r = Region::map(BIG, false)?;
    let pages = r.pages();
    for i in 0..pages {
        r.write(i * PAGE + slot(i), pattern(SEED, i));
    }
    let status = in_child(|| {
        let sample = (0..pages).step_by(17).chain([pages - 1]);
        if sample
            .into_iter()
            .any(|i| r.read(i * PAGE + slot(i)) != pattern(SEED, i))
        {
            return 1;
        }
        for i in (0..pages).step_by(64) {
            r.write(i * PAGE + slot(i), !pattern(SEED, i));
        }
        if (0..pages)
            .step_by(64)
            .any(|i| r.read(i * PAGE + slot(i)) != !pattern(SEED, i))
        {
            return 2;
        }
        0
    })?;
    for i in 0..pages {
        let (got, want) = (r.read(i * PAGE + slot(i)), pattern(SEED, i));
        if got != want {
            return Err(format!(
                "parent's page {i} reads {got:#x} after the child, expected {want:#x}"
            ));
        }
    }
    expect_exit(status, 0).map_err(explain_exit(
        status,
        &[
            (1, "does not see the parent's pages"),
            (2, "its own writes did not read back"),
        ],
    ))
}

/// One test of the suite.
struct Test {
    name: &'static str,
    run: fn() -> Check,
}

/// The suite, in the seed's order.
const TESTS: [Test; 7] = [
    Test {
        name: "demand_paging",
        run: demand_paging,
    },
    Test {
        name: "cow_isolation",
        run: cow_isolation,
    },
    Test {
        name: "map_shared_visible",
        run: map_shared_visible,
    },
    Test {
        name: "partial_munmap",
        run: partial_munmap,
    },
    Test {
        name: "mprotect_violation",
        run: mprotect_violation,
    },
    Test {
        name: "guard_page",
        run: guard_page,
    },
    Test {
        name: "fork_large",
        run: fork_large,
    },
];

fn main(_args: Args) -> i32 {
    println!("vmtest: {} tests", TESTS.len());
    let mut suite = Suite::new("vmtest");
    for test in &TESTS {
        suite.check(test.name, (test.run)());
    }
    suite.finish()
}
